/* vmkeep — the hibernate workflows. See ops-hibernate.h. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "journal.h"
#include "ops-domain.h"
#include "ops-hibernate.h"
#include "ops-host.h"
#include "ops-sidecar.h"
#include "save-hash.h"
#include "save-header.h"
#include "sidecar.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

void
vk_ops_save_result_clear (VkOpsSaveResult *r)
{
  g_clear_pointer (&r->domain, g_free);
}

void
vk_ops_debug_libvirt_time (const char *what, const char *name, gint64 since)
{
  g_debug ("%s %s: libvirt took %.3f s", what, name,
           (g_get_monotonic_time () - since) / (double) G_TIME_SPAN_SECOND);
}

/* Past the save the memory exists only in the store: the workflow must
 * finish, so from there on a step answers to the fault hook (tests) but
 * not to the cancellable. */
static gboolean
finish_step (VkOps *ops, const char *point, GError **error)
{
  return ops->fault == NULL || ops->fault (point, ops->fault_data, error);
}

/* ---- progress ------------------------------------------------------------ */

typedef gboolean (*JobFunc) (gpointer data, GError **error);

typedef struct {
  JobFunc func;
  gpointer data;
  GError *error;
  gboolean ok;
  gboolean done;            /* under lock */
  GMutex lock;
  GCond cond;
} Job;

static gpointer
job_thread (gpointer p)
{
  Job *j = p;
  j->ok = j->func (j->data, &j->error);
  g_mutex_lock (&j->lock);
  j->done = TRUE;
  g_cond_signal (&j->cond);
  g_mutex_unlock (&j->lock);
  return NULL;
}

/* Run `func` while reporting libvirt's job progress for `dom` (when the
 * caller wants progress), and abort the job once `ops` is cancelled. The wait
 * ends as soon as the job does (not at the next progress tick): a fixed
 * poll interval would add up to its length to every save. */
static gboolean
run_with_progress (VkOps *ops, VkDomain *dom, const char *name, const char *what,
                   JobFunc func, gpointer data, GError **error)
{
  VkOpsProgress p = { .subject = name, .what = what };
  vk_ops_report (ops, &p);
  gboolean aborted = FALSE;
  Job j = { func, data, NULL, FALSE, FALSE };
  g_mutex_init (&j.lock);
  g_cond_init (&j.cond);
  GThread *t = g_thread_new ("vmkeep-job", job_thread, &j);
  g_mutex_lock (&j.lock);
  while (!j.done)
    {
      gint64 until = g_get_monotonic_time () + 200 * G_TIME_SPAN_MILLISECOND;
      while (!j.done && g_cond_wait_until (&j.cond, &j.lock, until))
        ;
      if (j.done)
        break;
      g_mutex_unlock (&j.lock);
      /* A stop request (SIGTERM from systemd, Ctrl-C) aborts the job:
       * libvirt lets the VM run on, and the save fails like any other
       * error. A save that completes first is finished, not undone. */
      if (!aborted && g_cancellable_is_cancelled (ops->cancel))
        {
          (void) vk_domain_abort_job (dom, NULL);
          aborted = TRUE;
        }
      guint64 done = 0, total = 0, bps = 0;
      if (ops->progress && vk_domain_job_progress (dom, &done, &total, &bps) && total > 0)
        {
          p.done = done;
          p.total = total;
          p.bytes_per_s = bps;
          vk_ops_report (ops, &p);
        }
      g_mutex_lock (&j.lock);
    }
  g_mutex_unlock (&j.lock);
  g_thread_join (t);
  g_mutex_clear (&j.lock);
  g_cond_clear (&j.cond);
  p.finished = TRUE;
  p.failed = !j.ok;
  vk_ops_report (ops, &p);
  if (!j.ok)
    g_propagate_error (error, j.error);
  return j.ok;
}

typedef struct {
  VkDomain *dom;
  gboolean bypass;
  const char *path;
  const char *dxml;
  VkConn *conn;
  const char *format;
  int channels;
} SaveJob;

static gboolean
do_managed_save (gpointer p, GError **error)
{
  SaveJob *j = p;
  return vk_domain_managed_save (j->dom, j->bypass, error);
}

static gboolean
do_save_to (gpointer p, GError **error)
{
  SaveJob *j = p;
  return vk_domain_save_params (j->dom, j->conn, j->path, j->dxml, j->format, j->channels,
                                j->bypass, error);
}

/* ---- checks before anything changes ------------------------------------ */

/* libvirt cannot save VFIO hostdevs or virtiofs; name each one and how to
 * detach it, before any state changes. */
static gboolean
check_saveable (xmlDocPtr doc, const char *name, GError **error)
{
  g_autoptr(GString) what = g_string_new (NULL);
  xmlNodePtr devs = vk_domain_devices (doc);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      g_autofree char *type = vk_xml_prop (n, "type");
      if (xmlStrEqual (n->name, BAD_CAST "hostdev") ||
          (xmlStrEqual (n->name, BAD_CAST "interface") && g_strcmp0 (type, "hostdev") == 0))
        {
          VkBdf host;
          g_autofree char *bdf = vk_hostdev_source_bdf (n, &host) ? vk_bdf_format (&host)
                                                                   : g_strdup ("?");
          g_string_append_printf (what, _("\n  hostdev %s (detach: vmkeep device detach %s %s)"),
                                  bdf, name, bdf);
        }
      else if (xmlStrEqual (n->name, BAD_CAST "filesystem"))
        {
          g_autofree char *tag = vk_xml_child_prop (n, "target", "dir");
          g_string_append_printf (what, _("\n  filesystem %s (detach: vmkeep fs detach %s %s)"),
                                  tag ? tag : "?", name, tag ? tag : "TAG");
        }
    }
  if (what->len == 0)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("'%s' has devices libvirt cannot save; detach them first, nothing was "
                 "changed:%s"), name, what->str);
  return FALSE;
}

static gboolean
check_space (const char *dir, guint64 need, const char *name, GError **error)
{
  guint64 free_bytes = 0;
  if (!vk_statvfs_free_bytes (dir, &free_bytes, error))
    return FALSE;
  if (free_bytes < need)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("not enough free space in %s to hibernate '%s': %" PRIu64
                     " MiB free, the guest has %" PRIu64 " MiB of memory; free "
                     "space or point store= in vmkeep.conf elsewhere"),
                   dir, name, free_bytes >> 20, need >> 20);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_writable (const char *store, const char *dir, GError **error)
{
  if (!vk_store_ensure_root (store, error) || !vk_dir_ensure_private (dir, error))
    return FALSE;
  if (access (dir, W_OK) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("the store %s is not writable (%s); fix its permissions or point "
                     "store= in vmkeep.conf elsewhere"), dir, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* The sidecar written to a temp file beside `path`, for vk_file_commit to
 * sync and put in place once the state it describes is safe (`*fd` stays
 * open for that). */
static char *
sidecar_write_tmp (VkSidecar *sc, const char *path, int *fd, GError **error)
{
  g_autofree char *text = vk_sidecar_to_xml (sc, error);
  if (text == NULL)
    return NULL;
  g_autofree char *tmp = vk_tmp_file_new (path, 0600, fd, error);
  if (tmp == NULL)
    return NULL;
  if (!vk_write_full (*fd, text, strlen (text), -1, NULL))
    {
      int e = errno;
      vk_tmp_file_abort (*fd, tmp);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write sidecar %s: %s"),
                   path, g_strerror (e));
      return NULL;
    }
  return g_steal_pointer (&tmp);
}

/* ---- managed mode -------------------------------------------------------- */

static gboolean
hibernate_managed (VkOps *ops, VkDomain *dom, const char *name, xmlDocPtr doc,
                   const char *xml, const VkHibernateOpts *o, VkOpsSaveResult *r,
                   GError **error)
{
  const char *store = ops->cfg->store_dir;
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autofree char *mdir = vk_store_managed_dir (store);
  g_autofree char *path = vk_store_managed_sidecar (store, uuid);
  if (!check_writable (store, mdir, error))
    return FALSE;
  g_autofree char *save_dir = vk_conn_libvirt_dir (ops->conn, VK_LIBVIRT_DIR_SAVE);
  if (g_file_test (save_dir, G_FILE_TEST_IS_DIR) &&
      !check_space (save_dir, vk_domain_memory_kib (dom) * 1024, name, error))
    return FALSE;

  g_autoptr(VkSidecar) sc = vk_ops_sidecar_for_domain (ops, dom, doc, xml, VK_SIDECAR_MANAGED,
                                                       error);
  if (sc == NULL)
    return FALSE;
  int fd = -1;
  g_autofree char *tmp = sidecar_write_tmp (sc, path, &fd, error);
  if (tmp == NULL)
    return FALSE;

  SaveJob j = { dom, o->bypass_cache, NULL, NULL, ops->conn, NULL, 0 };
  gint64 t0 = g_get_monotonic_time ();
  if (!vk_ops_step (ops, "hibernate-managed", error))
    {
      vk_tmp_file_abort (fd, tmp);
      return FALSE;
    }
  if (!run_with_progress (ops, dom, name, "save", do_managed_save, &j, error))
    {
      /* libvirtd may have saved the VM and gone before it answered */
      gboolean alive = vk_conn_is_alive (ops->conn);
      if (!alive || vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF ||
          !vk_domain_has_managed_save (dom))
        {
          vk_tmp_file_abort (fd, tmp);
          if (alive && vk_domain_state (dom, NULL) == VK_STATE_RUNNING)
            g_prefix_error (error, _("'%s' keeps running: "), name);
          return FALSE;
        }
      vk_ops_notice (ops, _("'%s': libvirt saved it all the same (%s)"), name,
                     (*error)->message);
      g_clear_error (error);
    }
  vk_ops_debug_libvirt_time ("hibernate", name, t0);
  if (!vk_file_commit (fd, tmp, path, error))
    {
      /* The state is saved but we could not record its identity: keep the
       * guest consistent by waking it again rather than leaving a save
       * vmkeep cannot vouch for. */
      g_autoptr(GError) undo = NULL;
      vk_domain_start (dom, FALSE, &undo);
      return FALSE;
    }
  r->mode = "managed";
  r->state_bytes = vk_domain_memory_kib (dom) * 1024;
  return TRUE;
}

/* ---- image mode ---------------------------------------------------------- */

typedef struct {
  char *target;
  char *path;        /* P: the domain's disk */
  char *format;
  char *frozen;      /* final frozen path */
  char *staged;      /* where it sits before commit (link or copy case) */
  gboolean renamed;  /* EXDEV case: P was renamed next to itself */
  gboolean copied;
} Freeze;

static void
freeze_free (Freeze *f)
{
  g_free (f->target);
  g_free (f->path);
  g_free (f->format);
  g_free (f->frozen);
  g_free (f->staged);
  g_free (f);
}

/* One image hibernate, from the checks to the finished image. */
typedef struct {
  VkOps *ops;
  VkDomain *dom;
  const char *name;
  const VkHibernateOpts *o;
  GPtrArray *freezes;       /* Freeze* */
  VkSidecar *sc;
  char *saved_xml;          /* the XML state.sav carries; NULL: libvirt's own */
  char *restore_xml;        /* what a rollback restores with; NULL: the saved XML */
  char *final_dir;
  char *partial;
  int lock_fd;              /* the partial directory's lock */
  char *dir;                /* where the image is: partial, then final_dir */
  VkJournal *journal;
  guint undo_steps;         /* records of ours in the journal */
  gboolean save_started;    /* libvirt was asked to save the VM */
  gboolean saved;           /* libvirt saved the VM: from here, finish */
  gboolean resumable;       /* the journal holds how to resume the VM */
  char *hashed_sha;         /* the state's digest, taken while libvirt wrote it */
  guint64 hashed_size;
} ImageRun;

static void
image_run_clear (ImageRun *run)
{
  if (run->freezes)
    g_ptr_array_unref (run->freezes);
  vk_sidecar_free (run->sc);
  g_free (run->saved_xml);
  g_free (run->restore_xml);
  g_free (run->final_dir);
  g_free (run->partial);
  g_free (run->hashed_sha);
  vk_journal_free (run->journal);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ImageRun, image_run_clear)

static gboolean
undo_push (ImageRun *run, VkUndoKind kind, const char *a, const char *b, const char *c,
           GError **error)
{
  if (!vk_journal_push (run->journal, kind, error, a, b, c, NULL))
    return FALSE;
  run->undo_steps++;
  return TRUE;
}

static void
undo_forget (ImageRun *run)
{
  for (; run->undo_steps > 0; run->undo_steps--)
    vk_journal_pop (run->journal);
}

/* File-backed writable disks that the image must freeze. */
static GPtrArray *
disks_to_freeze (xmlDocPtr doc, const char *name, GError **error)
{
  g_autoptr(GPtrArray) disks = vk_domain_freezable_disks (doc, name, _("an image"), TRUE, NULL,
                                                          error);
  if (disks == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) freeze_free);
  for (guint i = 0; i < disks->len; i++)
    {
      VkFreezableDisk *d = disks->pdata[i];
      Freeze *f = g_new0 (Freeze, 1);
      f->target = g_steal_pointer (&d->target);
      f->path = g_steal_pointer (&d->path);
      f->format = g_steal_pointer (&d->format);
      g_ptr_array_add (out, f);
    }
  return out;
}

/* The XML to save into state.sav, or NULL to let libvirt store its own.
 * A frozen disk continues as a qcow2 overlay over the frozen base, so the
 * restored QEMU must open it as qcow2 (for a raw disk) and must not be told
 * the old backing chain: libvirt's live XML carries it as <backingStore>
 * (an empty one for a disk without backing file), and restoring with that
 * makes QEMU open the overlay with "backing": null, so the guest would read
 * zeros wherever it had not written since the save. Without the element
 * libvirt probes the chain from the image headers. Both are host-side
 * changes libvirt's ABI check allows. */
static char *
saved_xml_for (VkDomain *dom, GPtrArray *freezes, gboolean copy, char **original,
               GError **error)
{
  if (copy || freezes->len == 0)
    return NULL;
  g_autofree char *xml = vk_domain_xml_migratable (dom, error);
  if (xml == NULL)
    return NULL;
  *original = g_strdup (xml);
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, vk_domain_get_name (dom), error);
  if (doc == NULL)
    return NULL;
  xmlNodePtr devs = vk_domain_devices (doc);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "disk"))
        continue;
      g_autofree char *src = vk_xml_child_prop (n, "source", "file");
      for (guint i = 0; src && i < freezes->len; i++)
        {
          Freeze *f = freezes->pdata[i];
          if (!g_str_equal (f->path, src))
            continue;
          xmlNodePtr drv = vk_xml_child (n, "driver");
          if (drv)
            xmlSetProp (drv, BAD_CAST "type", BAD_CAST "qcow2");
          xmlNodePtr bs;
          while ((bs = vk_xml_child (n, "backingStore")) != NULL)
            {
              xmlUnlinkNode (bs);
              xmlFreeNode (bs);
            }
        }
    }
  return vk_xml_format (doc);
}

/* Everything that can refuse the image, checked before anything changes:
 * the store, the name, the space, the disks; then the sidecar and the XML
 * to save, taken from the running domain. */
static gboolean
image_prepare (ImageRun *run, xmlDocPtr doc, const char *xml, GError **error)
{
  VkOps *ops = run->ops;
  const char *store = ops->cfg->store_dir;
  const char *image = run->o->image;
  g_autofree char *images = vk_store_images_dir (store);
  run->final_dir = vk_store_image_dir (store, image);
  if (!check_writable (store, images, error))
    return FALSE;
  /* QEMU (not root) opens the frozen disks through this path. */
  g_chmod (images, 0711);
  if (!vk_ops_check_qemu_reaches (ops->conn, images, error))
    return FALSE;
  if (g_file_test (run->final_dir, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' already exists; pick another --image name or remove it "
                     "with 'vmkeep image rm %s'"), image, image);
      return FALSE;
    }
  if (!check_space (images, vk_domain_memory_kib (run->dom) * 1024, run->name, error))
    return FALSE;
  run->freezes = disks_to_freeze (doc, run->name, error);
  if (run->freezes == NULL)
    return FALSE;
  for (guint i = 0; i < run->freezes->len; i++)
    {
      Freeze *f = run->freezes->pdata[i];
      if (!g_file_test (f->path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                       _("disk %s of '%s' (%s) is not a regular file"), f->target, run->name,
                       f->path);
          return FALSE;
        }
    }
  run->sc = vk_ops_sidecar_for_domain (ops, run->dom, doc, xml, VK_SIDECAR_IMAGE, error);
  if (run->sc == NULL)
    return FALSE;
  g_autoptr(GError) xml_error = NULL;
  run->saved_xml = saved_xml_for (run->dom, run->freezes, run->o->copy, &run->restore_xml,
                                  &xml_error);
  if (xml_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&xml_error));
      return FALSE;
    }
  return TRUE;
}

/* What undoes the save into the image where it is now (`run->dir`):
 * the VM comes back from the state (resumed if libvirt had not stopped
 * it yet, restored if it had), then the directory goes. Recorded before
 * the save starts, so a vmkeep killed while libvirtd writes the state
 * leaves a journal that the next vmkeep completes: the VM runs again. */
static gboolean
record_saved (ImageRun *run, GError **error)
{
  g_autofree char *uuid = vk_domain_get_uuid (run->dom);
  g_autofree char *state = g_build_filename (run->dir, VK_STORE_STATE, NULL);
  g_autofree char *rxml = run->restore_xml ? g_build_filename (run->dir, ".restore.xml", NULL)
                                           : g_strdup ("");
  return undo_push (run, VK_UNDO_RMTREE, run->dir, NULL, NULL, error) &&
         undo_push (run, VK_UNDO_RESUME_SAVED, uuid, state, rxml, error);
}

/* What undoes the image once libvirt has saved the VM. The save itself
 * was recorded before it started (record_saved); once the partial
 * directory became images/NAME (`committed`), the same is recorded again
 * for the image where it is now, with each frozen disk but a copy going
 * back over its overlay (done first, so recorded last). The records of
 * the partial directory stay below: undone after these they find nothing
 * left to do, and no instant is without a complete record. */
static gboolean
record_resume (ImageRun *run, gboolean committed, GError **error)
{
  if (committed && !record_saved (run, error))
    return FALSE;
  for (guint i = 0; committed && i < run->freezes->len; i++)
    {
      Freeze *f = run->freezes->pdata[i];
      if (!f->copied && !undo_push (run, VK_UNDO_RENAME, f->frozen, f->path, NULL, error))
        return FALSE;
    }
  run->resumable = TRUE;
  return TRUE;
}

/* The partial directory, then libvirt's save into it: from the moment
 * the save succeeded the VM is off and its memory is in the partial
 * image. */
static gboolean
image_save (ImageRun *run, GError **error)
{
  VkOps *ops = run->ops;
  const VkHibernateOpts *o = run->o;
  run->partial = vk_store_partial_new (ops->cfg->store_dir, o->image, &run->lock_fd, error);
  if (run->partial == NULL)
    return FALSE;
  run->dir = run->partial;
  g_chmod (run->partial, 0711);
  g_autofree char *state = g_build_filename (run->partial, VK_STORE_STATE, NULL);
  g_autofree char *rxml = g_build_filename (run->partial, ".restore.xml", NULL);
  gboolean ready = (run->restore_xml == NULL ||
                    vk_file_write_atomic (rxml, run->restore_xml, strlen (run->restore_xml),
                                          0600, error)) &&
                   record_saved (run, error) &&
                   vk_ops_step (ops, "hibernate-image-partial", error);
  if (!ready)
    return FALSE;

  SaveJob j = { run->dom, o->bypass_cache, state, run->saved_xml, ops->conn, o->format,
                o->parallel };
  /* A stream format is appended front to back and can be hashed while
   * libvirt writes it; sparse (mapped-ram) pages land at their offsets in
   * any order, so that state is hashed once it is complete. */
  gboolean sparse = g_strcmp0 (o->format, "sparse") == 0;
  VkSaveHasher *th = sparse ? NULL : vk_save_hasher_start (state);
  gint64 t0 = g_get_monotonic_time ();
  run->save_started = TRUE;
  gboolean saved = run_with_progress (ops, run->dom, run->name, "save", do_save_to, &j, error);
  if (saved)
    vk_ops_debug_libvirt_time ("hibernate", run->name, t0);
  run->hashed_sha = th ? vk_save_hasher_finish (th, saved, &run->hashed_size) : NULL;
  if (!saved)
    return FALSE;
  run->saved = TRUE;
  g_chmod (state, 0600);
  return TRUE;
}

static gboolean
freeze_disks (ImageRun *run, GError **error)
{
  GPtrArray *freezes = run->freezes;
  g_autofree char *pdisks = g_build_filename (run->partial, "disks", NULL);
  if (freezes->len > 0 && g_mkdir (pdisks, 0711) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create %s: %s"), pdisks,
                   g_strerror (errno));
      return FALSE;
    }
  for (guint i = 0; i < freezes->len; i++)
    {
      Freeze *f = freezes->pdata[i];
      g_autofree char *file = g_strdup_printf ("%s.%s", f->target, f->format);
      g_autofree char *staged = g_build_filename (pdisks, file, NULL);
      if (run->o->copy)
        {
          if (!vk_file_clone (f->path, staged, 0600, error))
            return FALSE;
          f->staged = g_steal_pointer (&staged);
          f->copied = TRUE;
          f->frozen = g_build_filename (run->final_dir, "disks", file, NULL);
          continue;
        }
      if (link (f->path, staged) == 0)
        {
          f->staged = g_steal_pointer (&staged);
          f->frozen = g_build_filename (run->final_dir, "disks", file, NULL);
          continue;
        }
      if (errno != EXDEV)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot freeze disk %s (%s) into the image: %s"), f->target, f->path,
                       g_strerror (errno));
          return FALSE;
        }
      /* Store and disk on different filesystems: the base stays next to
       * the disk, renamed, which is just as O(1). */
      g_autofree char *beside = g_strdup_printf ("%s.vmkeep-%s.base", f->path, run->o->image);
      if (g_file_test (beside, G_FILE_TEST_EXISTS))
        errno = EEXIST;
      else if (undo_push (run, VK_UNDO_RENAME, beside, f->path, NULL, error) &&
               rename (f->path, beside) == 0)
        {
          f->renamed = TRUE;
          f->frozen = g_steal_pointer (&beside);
          continue;
        }
      else if (error && *error)
        return FALSE;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot freeze disk %s: %s exists or cannot be created (%s)"),
                   f->target, beside, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* The sidecar's record of the saved state: the firmware variables at
 * save time, the state's size and digest, and the XML libvirt stored,
 * which wake compares. */
static gboolean
describe_state (ImageRun *run, GError **error)
{
  VkSidecar *sc = run->sc;
  g_autofree char *state = g_build_filename (run->partial, VK_STORE_STATE, NULL);
  gboolean sparse = g_strcmp0 (run->o->format, "sparse") == 0;
  if (sc->nvram_path != NULL && g_file_test (sc->nvram_path, G_FILE_TEST_IS_REGULAR))
    {
      /* Clones start from the firmware variables as they were at save
       * time, not from whatever the source writes later. */
      g_autofree char *nv = g_build_filename (run->partial, "nvram.fd", NULL);
      g_clear_pointer (&sc->nvram_sha256, g_free);
      if (!vk_file_clone (sc->nvram_path, nv, 0600, error) ||
          !vk_file_sha256 (nv, &sc->nvram_sha256, NULL, error))
        return FALSE;
    }
  sc->state_file = g_strdup (VK_STORE_STATE);
  sc->has_state_size = TRUE;
  if (run->hashed_sha != NULL)
    {
      sc->state_sha256 = g_steal_pointer (&run->hashed_sha);
      sc->state_size = run->hashed_size;
    }
  else if (!vk_file_sha256 (state, &sc->state_sha256, &sc->state_size, error))
    return FALSE;
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_autoptr(xmlDoc) hdoc = NULL;
  if (!vk_save_header_read (state, &hdr, error) ||
      (hdoc = vk_xml_parse (hdr->xml, -1, state, error)) == NULL)
    return FALSE;
  vk_identity_free (sc->identity);
  sc->identity = vk_identity_from_domain (hdoc, error);
  if (sc->identity == NULL)
    return FALSE;
  g_free (sc->domain_xml);
  sc->domain_xml = g_strdup (hdr->xml);
  sc->state_format = (int) hdr->format;
  sc->state_channels = hdr->format == VK_SAVE_FORMAT_SPARSE && run->o->parallel > 0
                         ? (guint) run->o->parallel : 0;
  if (hdr->format == VK_SAVE_FORMAT_SPARSE && !sparse)
    {
      /* written at offsets: the hash taken behind the end is void */
      g_clear_pointer (&sc->state_sha256, g_free);
      return vk_file_sha256 (state, &sc->state_sha256, &sc->state_size, error);
    }
  return TRUE;
}

/* The partial directory becomes images/NAME (still unlisted: no sidecar
 * yet). The undo records for the image there are written first, so no
 * instant lacks one; nothing else makes images/NAME meanwhile (this run
 * holds the image's exclusive lock), and should the rename fail after
 * all, those records are dropped again before anything is undone. */
static gboolean
image_commit (ImageRun *run, GError **error)
{
  run->dir = run->final_dir;
  run->undo_steps = 0;
  if (!record_resume (run, TRUE, error))
    {
      run->dir = run->partial;
      return FALSE;
    }
  if (!vk_store_partial_commit (run->ops->cfg->store_dir, run->partial, run->o->image,
                                run->lock_fd, error))
    {
      undo_forget (run);
      run->dir = run->partial;
      run->lock_fd = -1;   /* closed by the failed commit */
      return FALSE;
    }
  g_chmod (run->final_dir, 0711);
  return TRUE;
}

/* The source continues on a fresh overlay over the frozen base, so the
 * base stays exactly what the saved memory expects. */
static gboolean
image_overlays (ImageRun *run, GError **error)
{
  for (guint i = 0; i < run->freezes->len; i++)
    {
      Freeze *f = run->freezes->pdata[i];
      VkFrozenDisk *fd = g_new0 (VkFrozenDisk, 1);
      struct stat st;
      fd->target = g_strdup (f->target);
      fd->original = g_strdup (f->path);
      fd->frozen = g_strdup (f->frozen);
      fd->format = g_strdup (f->format);
      fd->size = stat (f->frozen, &st) == 0 ? (guint64) st.st_size : 0;
      g_ptr_array_add (run->sc->frozen_disks, fd);
      if (!vk_disk_digest (f->frozen, f->format, &fd->meta_sha256, error))
        return FALSE;
      if (f->copied)
        continue;
      if (!(f->renamed ? vk_disk_create_overlay (f->path, f->frozen, f->format, error) &&
                           vk_fsync_parent (f->path, error)
                       : vk_disk_replace_with_overlay (f->path, f->frozen, f->format, error)) ||
          !vk_file_sha256 (f->path, &fd->overlay_sha256, NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* After a failure past the save: the disks go back and the VM resumes
 * from the state it saved; only then does the image go. When that fails
 * too, the state stays, and the journal with it. */
/* The same undo, when the journal could not record it (a full store):
 * the disks back, then the restore. */
static gboolean
undo_by_hand (ImageRun *run, const char *state, GError **error)
{
  for (guint i = run->freezes->len; i > 0; i--)
    {
      Freeze *f = run->freezes->pdata[i - 1];
      if (f->frozen && !f->copied && (f->renamed || run->dir == run->final_dir) &&
          (rename (f->frozen, f->path) < 0 || !vk_fsync_parent (f->path, NULL)))
        return vk_fail (error, VK_ERROR_FAILED,
                        _("cannot move the frozen disk %s back to %s: %s; move it back by "
                          "hand before anything uses %s"), f->frozen, f->path,
                        g_strerror (errno), f->path);
    }
  if (!vk_conn_restore (run->ops->conn, state, run->restore_xml, FALSE, FALSE, error))
    return FALSE;
  vk_journal_commit (run->journal);
  return TRUE;
}

static void
image_undo (ImageRun *run, GError **error)
{
  g_autoptr(GError) undo = NULL;
  g_autofree char *state = g_build_filename (run->dir, VK_STORE_STATE, NULL);
  if (run->resumable ? vk_journal_rollback (run->journal, &undo)
                     : undo_by_hand (run, state, &undo))
    {
      if (run->dir == run->partial)
        vk_store_partial_abort (run->partial, run->lock_fd);
      else
        {
          vk_rm_rf (run->final_dir, NULL);
          if (run->lock_fd >= 0)
            close (run->lock_fd);
        }
    }
  else
    {
      g_prefix_error (error, _("'%s' stays saved in %s (restore it with 'virsh restore "
                               "%s'; %s): "), run->name, state, state, undo->message);
      if (run->lock_fd >= 0)
        close (run->lock_fd);
    }
  run->lock_fd = -1;
}

/* The sidecar comes last: until it exists the image is not listed. Its
 * rename makes the image whole, and a whole image must never be undone,
 * so the journal goes just before it; should the rename itself fail, the
 * undo is done by hand. */
static gboolean
image_finish (ImageRun *run, GError **error)
{
  g_autofree char *sidecar = g_build_filename (run->final_dir, VK_STORE_SIDECAR, NULL);
  int fd = -1;
  g_autofree char *tmp = sidecar_write_tmp (run->sc, sidecar, &fd, error);
  if (tmp == NULL)
    return FALSE;
  /* once the sidecar is in place the image is whole and must never be
   * undone: recovery then only drops the journal */
  if (!vk_journal_set (run->journal, "done-if", sidecar, error))
    {
      vk_tmp_file_abort (fd, tmp);
      return FALSE;
    }
  if (!vk_file_commit (fd, tmp, sidecar, error))
    return FALSE;
  run->resumable = FALSE;
  vk_journal_commit (run->journal);
  g_autofree char *rxml = g_build_filename (run->final_dir, ".restore.xml", NULL);
  g_unlink (rxml);
  vk_store_image_finish (run->final_dir, run->lock_fd);
  run->lock_fd = -1;
  return TRUE;
}

/* libvirt's save failed, or seemed to: an error, a stop request that
 * aborted it, or libvirtd gone before it answered, when the save may have
 * completed all the same. Once the save was asked for, the journal's
 * records decide (record_saved): the VM runs on, resumed or restored from
 * a state that turned out complete, and the partial image goes; what
 * cannot be done now stays in the journal for the next vmkeep. */
static void
save_failed (ImageRun *run, GError **error)
{
  if (!run->save_started)
    {
      if (run->partial)
        vk_store_partial_abort (run->partial, run->lock_fd);
      run->lock_fd = -1;
      vk_journal_commit (run->journal);
      return;
    }
  g_autoptr(GError) undo = NULL;
  gboolean undone = vk_journal_rollback (run->journal, &undo);
  if (run->lock_fd >= 0)
    close (run->lock_fd);
  run->lock_fd = -1;
  if (!undone)
    g_prefix_error (error, _("'%s' is not running again yet (%s; the next vmkeep command or "
                             "'vmkeep recover --apply' brings it back): "), run->name,
                    undo->message);
  else if (vk_domain_state (run->dom, NULL) == VK_STATE_RUNNING)
    g_prefix_error (error, _("'%s' keeps running: "), run->name);
}

static gboolean
hibernate_image (VkOps *ops, VkDomain *dom, const char *name, xmlDocPtr doc, const char *xml,
                 const VkHibernateOpts *o, VkOpsSaveResult *r, GError **error)
{
  g_auto(ImageRun) run = { ops, dom, name, o, .lock_fd = -1 };
  /* images/NAME is made by this run alone */
  g_autoptr(VkLock) ilock = vk_ops_lock_image (ops, o->image, FALSE, error);
  if (ilock == NULL || !image_prepare (&run, doc, xml, error))
    return FALSE;
  run.journal = vk_journal_begin (ops, "hibernate", o->image, error);
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  if (run.journal == NULL || !vk_journal_set (run.journal, "lock-domain", uuid, error) ||
      !vk_journal_set (run.journal, "lock-image", o->image, error))
    return FALSE;
  if (!image_save (&run, error))
    {
      save_failed (&run, error);
      return FALSE;
    }
  /* From here the VM is off and its state is in the image: any failure
   * must bring it back before returning, and nothing cancels. */
  gboolean ok = record_resume (&run, FALSE, error) &&
                finish_step (ops, "hibernate-image-saved", error) &&
                freeze_disks (&run, error) &&
                finish_step (ops, "hibernate-image-frozen", error) &&
                describe_state (&run, error) &&
                image_commit (&run, error) &&
                finish_step (ops, "hibernate-image-committed", error) &&
                image_overlays (&run, error) &&
                image_finish (&run, error);
  if (!ok)
    {
      image_undo (&run, error);
      return FALSE;
    }
  r->mode = "image";
  r->state_bytes = run.sc->state_size;
  return TRUE;
}

/* ---- the workflow ---------------------------------------------------------- */

gboolean
vk_ops_hibernate (VkOps *ops, const char *name, const VkHibernateOpts *o, VkOpsSaveResult *r,
                  GError **error)
{
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_ops_check_cancel (ops, error) || !vk_domain_lookup (ops->conn, name, &dom, error))
    return FALSE;
  VkDomainState st = vk_domain_state (dom, NULL);
  if (st != VK_STATE_RUNNING && st != VK_STATE_PAUSED)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   vk_domain_has_managed_save (dom)
                     ? _("'%s' is already hibernated (managed save); wake it with 'vmkeep wake %s'")
                     : _("'%s' is not running, so there is nothing to hibernate; "
                         "start it first ('vmkeep start %s')"), name, name);
      return FALSE;
    }
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (ops, uuid, name, error);
  if (lock == NULL)
    return FALSE;
  /* The lock is ours: now nothing else changes the VM under us. */
  g_autofree char *xml = vk_domain_xml (dom, FALSE, error);
  if (xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, name, error);
  if (doc == NULL || !check_saveable (doc, name, error))
    return FALSE;
  if (o->image)
    return vk_ops_check_chain_room (ops, dom, 1, error) &&
           hibernate_image (ops, dom, name, doc, xml, o, r, error);
  return hibernate_managed (ops, dom, name, doc, xml, o, r, error);
}
