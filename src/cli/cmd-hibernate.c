/* vmkeep hibernate | wake
 *
 * Hibernate frees a VM's RAM by saving it; wake brings it back exactly as
 * it was. Managed mode uses libvirt's managed save (so `virsh start`
 * resumes it too) plus a sidecar in the store; image mode writes a
 * self-contained image: state.sav in libvirt's format, the sidecar, and the
 * disks frozen at save time. Wake refuses when the device identity the
 * guest knows no longer matches what it would wake into. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "attach.h"
#include "ops-image.h"
#include "commands.h"
#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "output.h"
#include "save-hash.h"
#include "save-header.h"
#include "sidecar.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

typedef struct {
  const char *image;        /* --image NAME */
  gboolean copy;
  gboolean bypass_cache;
  gboolean progress;        /* show progress lines */
  const char *format;       /* --format: libvirt's save image format, NULL: host's */
  int parallel;             /* --parallel N: channels (sparse), 0: none */
} HibOpts;

typedef struct {
  char *name;
  int code;
  char *message;
  const char *mode;
  guint64 state_bytes;
  double seconds;
} Result;

static void
result_clear (Result *r)
{
  g_free (r->name);
  g_free (r->message);
}

/* One line per VM to syslog (journal), for cron runs. */
static void
log_result (const char *verb, const Result *r)
{
  openlog ("vmkeep", LOG_PID, LOG_USER);
  if (r->code == 0)
    syslog (LOG_INFO, "%s %s: ok (%s, %" G_GUINT64_FORMAT " MiB, %.1f s)", verb, r->name,
            r->mode ? r->mode : "-", r->state_bytes >> 20, r->seconds);
  else
    syslog (LOG_ERR, "%s %s: failed (exit %d): %s", verb, r->name, r->code,
            r->message ? r->message : "");
  closelog ();
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

/* Run `func` while showing libvirt's job progress for `dom` on stderr.
 * The wait ends as soon as the job does (not at the next progress tick):
 * a fixed poll interval would add up to its length to every save. */
static gboolean
run_with_progress (VkDomain *dom, const char *label, gboolean show, JobFunc func,
                   gpointer data, GError **error)
{
  if (!show)
    return func (data, error);
  Job j = { func, data, NULL, FALSE, FALSE };
  g_mutex_init (&j.lock);
  g_cond_init (&j.cond);
  GThread *t = g_thread_new ("vmkeep-job", job_thread, &j);
  VkProgress pr;
  vk_progress_init (&pr, TRUE, label, 0);
  g_mutex_lock (&j.lock);
  while (!j.done)
    {
      gint64 until = g_get_monotonic_time () + 200 * G_TIME_SPAN_MILLISECOND;
      while (!j.done && g_cond_wait_until (&j.cond, &j.lock, until))
        ;
      if (j.done)
        break;
      g_mutex_unlock (&j.lock);
      guint64 done = 0, total = 0, bps = 0;
      if (vk_domain_job_progress (dom, &done, &total, &bps) && total > 0)
        vk_progress_update (&pr, done, total);
      g_mutex_lock (&j.lock);
    }
  g_mutex_unlock (&j.lock);
  g_thread_join (t);
  g_mutex_clear (&j.lock);
  g_cond_clear (&j.cond);
  vk_progress_end (&pr, j.ok);
  if (!j.ok)
    g_propagate_error (error, j.error);
  return j.ok;
}

/* How long the libvirt call at the heart of an operation took, for
 * G_MESSAGES_DEBUG=vmkeep: the rest of the wall time is vmkeep's own
 * (bench/hibernate.sh reports it). */
static void
debug_libvirt_time (const char *what, const char *name, gint64 since)
{
  g_debug ("%s %s: libvirt took %.3f s", what, name,
           (g_get_monotonic_time () - since) / (double) G_TIME_SPAN_SECOND);
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

/* Fill in what the sidecar says about the host and the domain. */
static VkSidecar *
sidecar_for (VkConn *conn, VkDomain *dom, xmlDocPtr doc, const char *xml,
             VkSidecarMode mode, GError **error)
{
  g_autoptr(VkSidecar) sc = vk_sidecar_new ();
  sc->mode = mode;
  sc->domain_name = g_strdup (vk_domain_get_name (dom));
  sc->domain_uuid = vk_domain_get_uuid (dom);
  sc->created = g_date_time_new_now_utc ();
  sc->host = vk_conn_hostname (conn);
  sc->libvirt_version = vk_conn_libvirt_version (conn);
  sc->qemu_version = vk_conn_hv_version (conn);
  sc->identity = vk_identity_from_domain (doc, error);
  if (sc->identity == NULL)
    return NULL;
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (doc), "os");
  g_autofree char *nvram = vk_xml_child_text (os, "nvram");
  if (nvram != NULL && *nvram)
    {
      sc->nvram_path = g_strdup (nvram);
      vk_file_sha256 (nvram, &sc->nvram_sha256, NULL, NULL);
    }
  sc->tpm = vk_xml_child (vk_domain_devices (doc), "tpm") != NULL;
  sc->domain_xml = g_strdup (xml);
  return g_steal_pointer (&sc);
}

/* ---- managed mode -------------------------------------------------------- */

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

static gboolean
hibernate_managed (VkCli *cli, VkConn *conn, VkDomain *dom, xmlDocPtr doc,
                   const char *xml, const HibOpts *o, Result *r, GError **error)
{
  const char *store = cli->cfg->store_dir;
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autofree char *mdir = vk_store_managed_dir (store);
  g_autofree char *path = vk_store_managed_sidecar (store, uuid);
  if (!check_writable (store, mdir, error))
    return FALSE;
  g_autofree char *save_dir = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_SAVE);
  if (g_file_test (save_dir, G_FILE_TEST_IS_DIR) &&
      !check_space (save_dir, vk_domain_memory_kib (dom) * 1024, r->name, error))
    return FALSE;

  g_autoptr(VkSidecar) sc = sidecar_for (conn, dom, doc, xml, VK_SIDECAR_MANAGED, error);
  if (sc == NULL)
    return FALSE;
  g_autofree char *text = vk_sidecar_to_xml (sc, error);
  if (text == NULL)
    return FALSE;
  int fd = -1;
  g_autofree char *tmp = vk_tmp_file_new (path, 0600, &fd, error);
  if (tmp == NULL)
    return FALSE;
  if (!vk_write_full (fd, text, strlen (text), -1, NULL))
    {
      int e = errno;
      vk_tmp_file_abort (fd, tmp);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write sidecar %s: %s"),
                   path, g_strerror (e));
      return FALSE;
    }

  SaveJob j = { dom, o->bypass_cache, NULL, NULL, conn, NULL, 0 };
  gint64 t0 = g_get_monotonic_time ();
  if (!run_with_progress (dom, r->name, o->progress, do_managed_save, &j, error))
    {
      vk_tmp_file_abort (fd, tmp);
      return FALSE;
    }
  debug_libvirt_time ("hibernate", r->name, t0);
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
  char *staged;      /* where it sits before commit (link case) */
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

/* Undo what freeze_disks did, newest first. */
static void
unfreeze (GPtrArray *freezes)
{
  for (guint i = freezes->len; i > 0; i--)
    {
      Freeze *f = freezes->pdata[i - 1];
      if (f->renamed && f->frozen)
        rename (f->frozen, f->path);
      if (f->staged)
        g_unlink (f->staged);
      f->renamed = FALSE;
      g_clear_pointer (&f->staged, g_free);
    }
}

static gboolean
freeze_disks (GPtrArray *freezes, const char *partial, const char *final_dir,
              const char *image, gboolean copy, GError **error)
{
  g_autofree char *pdisks = g_build_filename (partial, "disks", NULL);
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
      if (copy)
        {
          if (!vk_file_clone (f->path, staged, 0600, error))
            return FALSE;
          f->staged = g_steal_pointer (&staged);
          f->copied = TRUE;
          f->frozen = g_build_filename (final_dir, "disks", file, NULL);
          continue;
        }
      if (link (f->path, staged) == 0)
        {
          f->staged = g_steal_pointer (&staged);
          f->frozen = g_build_filename (final_dir, "disks", file, NULL);
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
      g_autofree char *beside = g_strdup_printf ("%s.vmkeep-%s.base", f->path, image);
      if (g_file_test (beside, G_FILE_TEST_EXISTS) || rename (f->path, beside) < 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot freeze disk %s: %s exists or cannot be created (%s)"),
                       f->target, beside, g_strerror (errno));
          return FALSE;
        }
      f->renamed = TRUE;
      f->frozen = g_steal_pointer (&beside);
    }
  return TRUE;
}

static gboolean
hibernate_image (VkCli *cli, VkConn *conn, VkDomain *dom, xmlDocPtr doc, const char *xml,
                 const HibOpts *o, Result *r, GError **error)
{
  const char *store = cli->cfg->store_dir;
  const char *image = o->image;
  g_autofree char *images = vk_store_images_dir (store);
  g_autofree char *final_dir = vk_store_image_dir (store, image);
  if (!check_writable (store, images, error))
    return FALSE;
  /* QEMU (not root) opens the frozen disks through this path. */
  g_chmod (images, 0711);
  if (!vk_cli_check_qemu_reaches (cli, conn, images, error))
    return FALSE;
  if (g_file_test (final_dir, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' already exists; pick another --image name or remove it "
                     "with 'vmkeep image rm %s'"), image, image);
      return FALSE;
    }
  if (!check_space (images, vk_domain_memory_kib (dom) * 1024, r->name, error))
    return FALSE;
  g_autoptr(GPtrArray) freezes = disks_to_freeze (doc, r->name, error);
  if (freezes == NULL)
    return FALSE;
  for (guint i = 0; i < freezes->len; i++)
    {
      Freeze *f = freezes->pdata[i];
      if (!g_file_test (f->path, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                       _("disk %s of '%s' (%s) is not a regular file"), f->target, r->name,
                       f->path);
          return FALSE;
        }
    }

  g_autoptr(VkSidecar) sc = sidecar_for (conn, dom, doc, xml, VK_SIDECAR_IMAGE, error);
  if (sc == NULL)
    return FALSE;
  g_autoptr(GError) xml_error = NULL;
  /* restore_xml: what a rollback restores with (NULL: the saved XML) */
  g_autofree char *restore_xml = NULL;
  g_autofree char *saved_xml = saved_xml_for (dom, freezes, o->copy, &restore_xml,
                                              &xml_error);
  if (xml_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&xml_error));
      return FALSE;
    }

  int lock_fd = -1;
  g_autofree char *partial = vk_store_partial_new (store, image, &lock_fd, error);
  if (partial == NULL)
    return FALSE;
  g_chmod (partial, 0711);
  g_autofree char *state = g_build_filename (partial, VK_STORE_STATE, NULL);

  SaveJob j = { dom, o->bypass_cache, state, saved_xml, conn, o->format, o->parallel };
  /* A stream format is appended front to back and can be hashed while
   * libvirt writes it; sparse (mapped-ram) pages land at their offsets in
   * any order, so that state is hashed once it is complete. */
  gboolean sparse = g_strcmp0 (o->format, "sparse") == 0;
  VkSaveHasher *th = sparse ? NULL : vk_save_hasher_start (state);
  gint64 t0 = g_get_monotonic_time ();
  gboolean saved = run_with_progress (dom, r->name, o->progress, do_save_to, &j, error);
  if (saved)
    debug_libvirt_time ("hibernate", r->name, t0);
  guint64 hashed_size = 0;
  g_autofree char *hashed_sha = th ? vk_save_hasher_finish (th, saved, &hashed_size) : NULL;
  if (!saved)
    {
      vk_store_partial_abort (partial, lock_fd);
      return FALSE;
    }
  g_chmod (state, 0600);

  /* From here the VM is off and its state is in `partial`: any failure
   * must bring it back before returning. */
  GError *local = NULL;
  gboolean ok = freeze_disks (freezes, partial, final_dir, image, o->copy, &local);
  if (ok && sc->nvram_path != NULL && g_file_test (sc->nvram_path, G_FILE_TEST_IS_REGULAR))
    {
      /* Clones start from the firmware variables as they were at save
       * time, not from whatever the source writes later. */
      g_autofree char *nv = g_build_filename (partial, "nvram.fd", NULL);
      g_clear_pointer (&sc->nvram_sha256, g_free);
      ok = vk_file_clone (sc->nvram_path, nv, 0600, &local) &&
           vk_file_sha256 (nv, &sc->nvram_sha256, NULL, &local);
    }
  if (ok)
    {
      sc->state_file = g_strdup (VK_STORE_STATE);
      sc->has_state_size = TRUE;
      if (hashed_sha != NULL)
        {
          sc->state_sha256 = g_steal_pointer (&hashed_sha);
          sc->state_size = hashed_size;
        }
      else
        ok = vk_file_sha256 (state, &sc->state_sha256, &sc->state_size, &local);
    }
  if (ok)
    {
      /* The sidecar records the XML libvirt stored, which wake compares. */
      g_autoptr(VkSaveHeader) hdr = NULL;
      g_autoptr(xmlDoc) hdoc = NULL;
      ok = vk_save_header_read (state, &hdr, &local) &&
           (hdoc = vk_xml_parse (hdr->xml, -1, state, &local)) != NULL;
      if (ok)
        {
          vk_identity_free (sc->identity);
          sc->identity = vk_identity_from_domain (hdoc, &local);
          ok = sc->identity != NULL;
          g_free (sc->domain_xml);
          sc->domain_xml = g_strdup (hdr->xml);
          sc->state_format = (int) hdr->format;
          if (hdr->format == VK_SAVE_FORMAT_SPARSE && !sparse)
            {
              /* written at offsets: the hash taken behind the end is void */
              g_clear_pointer (&sc->state_sha256, g_free);
              ok = vk_file_sha256 (state, &sc->state_sha256, &sc->state_size, &local);
            }
          sc->state_channels = hdr->format == VK_SAVE_FORMAT_SPARSE && o->parallel > 0
                                 ? (guint) o->parallel : 0;
        }
    }
  if (ok)
    ok = vk_store_partial_commit (store, partial, image, lock_fd, &local);
  if (!ok)
    {
      /* Not committed: undo the freeze, resume the VM from the partial
       * state. */
      unfreeze (freezes);
      g_autoptr(GError) undo = NULL;
      if (vk_conn_restore (conn, state, restore_xml, FALSE, FALSE, &undo))
        vk_store_partial_abort (partial, lock_fd);
      else
        g_prefix_error (&local, _("'%s' stays saved in %s (restore it with 'virsh restore "
                                  "%s'; %s): "), r->name, state, state, undo->message);
      g_propagate_error (error, local);
      return FALSE;
    }
  g_chmod (final_dir, 0711);

  /* The source continues on a fresh overlay over the frozen base, so the
   * base stays exactly what the saved memory expects. The sidecar comes
   * last: until it exists the image is not listed. */
  for (guint i = 0; ok && i < freezes->len; i++)
    {
      Freeze *f = freezes->pdata[i];
      VkFrozenDisk *fd = g_new0 (VkFrozenDisk, 1);
      struct stat st;
      fd->target = g_strdup (f->target);
      fd->original = g_strdup (f->path);
      fd->frozen = g_strdup (f->frozen);
      fd->format = g_strdup (f->format);
      fd->size = stat (f->frozen, &st) == 0 ? (guint64) st.st_size : 0;
      g_ptr_array_add (sc->frozen_disks, fd);
      ok = vk_disk_digest (f->frozen, f->format, &fd->meta_sha256, &local);
      if (!ok || f->copied)
        continue;
      ok = f->renamed ? vk_disk_create_overlay (f->path, f->frozen, f->format, &local)
                      : vk_disk_replace_with_overlay (f->path, f->frozen, f->format, &local);
      if (ok)
        ok = vk_file_sha256 (f->path, &fd->overlay_sha256, NULL, &local);
    }
  if (ok)
    {
      g_autofree char *sidecar = g_build_filename (final_dir, VK_STORE_SIDECAR, NULL);
      ok = vk_sidecar_save (sc, sidecar, &local);
    }
  if (ok)
    {
      vk_store_image_finish (final_dir, lock_fd);
      r->mode = "image";
      r->state_bytes = sc->state_size;
      return TRUE;
    }

  /* Roll the whole image back and resume the VM from it. */
  g_autoptr(GError) undo = NULL;
  g_autofree char *committed_state = g_build_filename (final_dir, VK_STORE_STATE, NULL);
  for (guint i = 0; i < freezes->len; i++)
    {
      Freeze *f = freezes->pdata[i];
      if (f->copied)
        continue;
      g_unlink (f->path);
      if (f->renamed)
        rename (f->frozen, f->path);
      else if (link (f->frozen, f->path) < 0)
        g_prefix_error (&local, _("cannot put %s back from %s: "), f->path, f->frozen);
    }
  if (vk_conn_restore (conn, committed_state, restore_xml, FALSE, FALSE, &undo))
    {
      vk_rm_rf (final_dir, NULL);
      close (lock_fd);
    }
  else
    g_prefix_error (&local, _("'%s' stays saved in %s (restore it with 'virsh restore %s'; "
                              "%s): "), r->name, committed_state, committed_state,
                    undo->message);
  g_propagate_error (error, local);
  return FALSE;
}

/* ---- per-VM driver --------------------------------------------------------- */

typedef struct {
  VkCli *cli;
  VkConn *conn;
  const HibOpts *opts;
  Result *result;
} HibTask;

static gboolean
hibernate_one (VkCli *cli, VkConn *conn, const HibOpts *o, Result *r, GError **error)
{
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_domain_lookup (conn, r->name, &dom, error))
    return FALSE;
  VkDomainState st = vk_domain_state (dom, NULL);
  if (st != VK_STATE_RUNNING && st != VK_STATE_PAUSED)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   vk_domain_has_managed_save (dom)
                     ? _("'%s' is already hibernated (managed save); wake it with 'vmkeep wake %s'")
                     : _("'%s' is not running, so there is nothing to hibernate; "
                         "start it first ('vmkeep start %s')"), r->name, r->name);
      return FALSE;
    }
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (cli->ops, uuid, r->name, error);
  if (lock == NULL)
    return FALSE;
  /* The lock is ours: now nothing else changes the VM under us. */
  g_autofree char *xml = vk_domain_xml (dom, FALSE, error);
  if (xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, r->name, error);
  if (doc == NULL || !check_saveable (doc, r->name, error))
    return FALSE;
  if (o->image)
    return hibernate_image (cli, conn, dom, doc, xml, o, r, error);
  return hibernate_managed (cli, conn, dom, doc, xml, o, r, error);
}

static void
hibernate_task (gpointer data, gpointer user)
{
  HibTask *t = data;
  g_autoptr(GError) e = NULL;
  gint64 t0 = g_get_monotonic_time ();
  if (!hibernate_one (t->cli, t->conn, t->opts, t->result, &e))
    {
      t->result->code = vk_error_exit_code (e);
      t->result->message = g_strdup (e->message);
    }
  t->result->seconds = (g_get_monotonic_time () - t0) / 1e6;
  log_result ("hibernate", t->result);
}

/* Names for --all / --match / --tag: running domains only. */
static GPtrArray *
select_domains (VkCli *cli, VkConn *conn, int argc, char **argv, gboolean all,
                const char *match, const char *tag, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (all || match || tag)
    {
      if (argc > 1)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                       _("give domain names or one of --all, --match, --tag, not both"));
          return NULL;
        }
      g_autoptr(GPtrArray) infos = vk_conn_list_domains (conn, FALSE, error);
      if (infos == NULL)
        return NULL;
      for (guint i = 0; i < infos->len; i++)
        {
          VkDomainInfo *d = infos->pdata[i];
          if (match && !g_pattern_match_simple (match, d->name))
            continue;
          if (tag)
            {
              g_autoptr(VkDomain) dom = vk_domain_try_lookup (conn, d->name);
              g_autoptr(GPtrArray) tags = dom ? vk_cli_domain_tags (dom, NULL) : NULL;
              if (!tags || !g_ptr_array_find_with_equal_func (tags, tag, g_str_equal, NULL))
                continue;
            }
          g_ptr_array_add (names, g_strdup (d->name));
        }
    }
  else
    for (int i = 1; i < argc; i++)
      g_ptr_array_add (names, g_strdup (argv[i]));
  return g_steal_pointer (&names);
}

static gboolean
report (VkCli *cli, const char *verb, GArray *results, GError **error)
{
  int worst = 0;
  guint failed = 0;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < results->len; i++)
        {
          Result *r = &g_array_index (results, Result, i);
          json_builder_begin_object (b);
          vk_json_str (b, "domain", r->name);
          vk_json_bool (b, "ok", r->code == 0);
          vk_json_int (b, "exit_code", r->code);
          vk_json_str (b, "mode", r->mode);
          vk_json_int (b, "state_bytes", r->state_bytes);
          vk_json_double (b, "seconds", r->seconds);
          vk_json_str (b, "error", r->message);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      vk_json_print_builder (b);
    }
  for (guint i = 0; i < results->len; i++)
    {
      Result *r = &g_array_index (results, Result, i);
      if (r->code != 0)
        {
          failed++;
          worst = MAX (worst, r->code);
          if (results->len > 1 || cli->json)
            {
              /* a domain name from the command line can hold terminal
               * control bytes: shown, never obeyed (as main does) */
              g_autofree char *shown = vk_str_printable (r->message);
              g_printerr ("vmkeep: error: %s\n", shown);
            }
        }
    }
  if (!cli->json && !cli->quiet && results->len > 0)
    {
      if (results->len > 1 || failed == 0)
        {
          g_autoptr(VkTable) t = vk_table_new (_("DOMAIN"), _("RESULT"), _("MODE"),
                                               _("STATE MiB"), _("SECONDS"), NULL);
          for (guint i = 0; i < results->len; i++)
            {
              Result *r = &g_array_index (results, Result, i);
              g_autofree char *mib = r->state_bytes ? g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                                       r->state_bytes >> 20)
                                                    : NULL;
              g_autofree char *secs = g_strdup_printf ("%.1f", r->seconds);
              g_autofree char *res = r->code == 0 ? g_strdup (_("ok"))
                                                  : g_strdup_printf (_("failed (exit %d)"), r->code);
              vk_table_add (t, r->name, res, r->mode, mib, secs);
            }
          vk_table_print (t, stdout);
        }
    }
  if (failed == 0)
    return TRUE;
  if (results->len == 1 && !cli->json)
    g_set_error (error, VK_ERROR, worst, "%s",
                 g_array_index (results, Result, 0).message);
  else
    g_set_error (error, VK_ERROR, worst, _("%s failed for %u of %u domains (listed above)"),
                 verb, failed, results->len);
  return FALSE;
}

gboolean
vk_cmd_hibernate (VkCli *cli, int argc, char **argv, GError **error)
{
  gboolean all = FALSE, copy = FALSE, bypass = FALSE, progress = FALSE;
  g_autofree char *match = NULL, *tag = NULL, *image = NULL, *format = NULL;
  int jobs = 0, parallel = 0;
  const GOptionEntry entries[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, N_("Every running domain"), NULL },
    { "match", 0, 0, G_OPTION_ARG_STRING, &match, N_("Running domains whose name matches GLOB"), N_("GLOB") },
    { "tag", 0, 0, G_OPTION_ARG_STRING, &tag, N_("Running domains tagged TAG"), N_("TAG") },
    { "image", 0, 0, G_OPTION_ARG_STRING, &image, N_("Write a portable image NAME to the store instead of a managed save"), N_("NAME") },
    { "copy", 0, 0, G_OPTION_ARG_NONE, &copy, N_("Image mode: copy the disks instead of freezing them in place"), NULL },
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs, N_("Hibernate N domains at once (default: jobs= in vmkeep.conf)"), N_("N") },
    { "bypass-cache", 0, 0, G_OPTION_ARG_NONE, &bypass, N_("Write the state with O_DIRECT, bypassing the page cache"), NULL },
    { "progress", 0, 0, G_OPTION_ARG_NONE, &progress, N_("Show progress even when not on a terminal"), NULL },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, N_("Image mode: libvirt's save image format (raw, gzip, bzip2, xz, lzop, zstd, sparse; libvirt 11.2+)"), N_("FORMAT") },
    { "parallel", 0, 0, G_OPTION_ARG_INT, &parallel, N_("Image mode: write with N parallel channels in the sparse format (libvirt 11.2+)"), N_("N") },
    { NULL },
  };
  const VkCommand *cmd = vk_command_named ("hibernate");
  if (!vk_cli_parse_entries (cmd, entries, &argc, &argv, error))
    return FALSE;
  if (argc < 2 && !all && !match && !tag)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep hibernate: name the domains, or use --all, --match GLOB or "
                     "--tag TAG (see 'vmkeep help hibernate')"));
      return FALSE;
    }
  if (image && !vk_validate_name ("image name", image, error))
    return FALSE;
  /* a tag is a name like a domain name (vmkeep tag): one that could never
   * be set must not quietly select nothing */
  if (tag && !vk_validate_name ("tag", tag, error))
    return FALSE;
  if (copy && !image)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE, _("--copy only applies with --image NAME"));
      return FALSE;
    }
  if (jobs < 0 || jobs > 64)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE, _("--jobs %d is out of range (1 to 64)"), jobs);
      return FALSE;
    }
  if ((format || parallel) && !image)
    {
      /* libvirt's managed save takes neither: qemu.conf's save_image_format
       * decides there */
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--format and --parallel apply to --image NAME only (a managed save uses "
                     "save_image_format from libvirt's qemu.conf)"));
      return FALSE;
    }
  if (format && vk_save_format_from_name (format) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--format '%s' is not a libvirt save image format (raw, gzip, bzip2, xz, "
                     "lzop, zstd, sparse)"), format);
      return FALSE;
    }
  if (parallel < 0 || parallel > 64)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--parallel %d is out of range (1 to 64)"), parallel);
      return FALSE;
    }
  if (parallel > 0 && format && !g_str_equal (format, "sparse"))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--parallel writes the sparse format; it cannot be combined with --format %s"),
                   format);
      return FALSE;
    }
  if (parallel > 0 && format == NULL)
    format = g_strdup ("sparse");
  if (jobs == 0)
    jobs = cli->cfg->jobs;
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  g_autofree char *why = NULL;
  gboolean choosable = vk_conn_has_save_params (conn, &why);
  if (format && !choosable)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED, "%s: %s; nothing was changed",
                   parallel ? "--parallel" : "--format", why);
      return FALSE;
    }
  /* Where libvirt takes a format per call, vmkeep always names one, so a
   * host's save_image_format (which may be sparse) never surprises it.
   * raw is the default by measurement (README, bench/RESULTS-formats-11.3.md):
   * sparse saves faster on libvirt 11, but its state can only be hashed
   * once complete, which costs more than it saves. */
  if (image && format == NULL && choosable)
    format = g_strdup ("raw");
  /* Before anything changes, the store included (the VM's lock would
   * create it): QEMU must be able to reach the frozen disks there. */
  if (image)
    {
      g_autofree char *images = vk_store_images_dir (cli->cfg->store_dir);
      if (!vk_cli_check_qemu_reaches (cli, conn, images, error))
        return FALSE;
    }
  g_autoptr(GPtrArray) names = select_domains (cli, conn, argc, argv, all, match, tag, error);
  if (names == NULL)
    return FALSE;
  if (image && names->len != 1)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--image NAME writes one image: hibernate exactly one domain with it"));
      return FALSE;
    }

  /* Leftovers of interrupted runs go first, so they never pile up. */
  vk_cli_store_cleanup (cli);

  HibOpts o = { image, copy, bypass, FALSE, format, parallel };
  o.progress = vk_cli_progress_wanted (cli, progress) && names->len == 1;

  g_autoptr(GArray) results = g_array_new (FALSE, TRUE, sizeof (Result));
  g_array_set_clear_func (results, (GDestroyNotify) result_clear);
  g_array_set_size (results, names->len);
  g_autofree HibTask *tasks = g_new0 (HibTask, names->len);
  GThreadPool *pool = g_thread_pool_new (hibernate_task, NULL, MAX (jobs, 1), TRUE, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      Result *r = &g_array_index (results, Result, i);
      r->name = g_strdup (names->pdata[i]);
      tasks[i] = (HibTask) { cli, conn, &o, r };
      g_thread_pool_push (pool, &tasks[i], NULL);
    }
  g_thread_pool_free (pool, FALSE, TRUE);
  if (names->len == 0)
    vk_cli_info (cli, _("No domain matched; nothing to hibernate"));
  return report (cli, _("hibernate"), results, error);
}

/* ---- wake ------------------------------------------------------------------ */

static gboolean
refuse_drift (const char *name, const char *against, GPtrArray *diff, GError **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  for (guint i = 0; i < diff->len; i++)
    g_string_append_printf (text, "\n  %s", (const char *) diff->pdata[i]);
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("'%s' was not woken: its device identity changed since it was hibernated "
                 "(%s vs the sidecar):%s\nThe guest would resume with hardware it does not "
                 "know. Undo the change, or use --force to wake it anyway; the saved state "
                 "is kept."), name, against, text->str);
  return FALSE;
}

static gboolean
wake_managed (VkCli *cli, VkConn *conn, Result *r, gboolean force, GError **error)
{
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_domain_lookup (conn, r->name, &dom, error))
    return FALSE;
  VkDomainState st = vk_domain_state (dom, NULL);
  if (st == VK_STATE_RUNNING || st == VK_STATE_PAUSED)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("'%s' is already running; there is nothing to wake"), r->name);
      return FALSE;
    }
  if (!vk_domain_has_managed_save (dom))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("'%s' has no managed save to wake from; 'vmkeep image list' shows "
                     "images ('vmkeep wake --image NAME'), or start it with 'vmkeep start'"),
                   r->name);
      return FALSE;
    }
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (cli->ops, uuid, r->name, error);
  if (lock == NULL)
    return FALSE;

  g_autofree char *path = vk_store_managed_sidecar (cli->cfg->store_dir, uuid);
  g_autoptr(GError) local = NULL;
  g_autoptr(VkSidecar) sc = vk_sidecar_load (path, &local);
  g_autofree char *saved_xml = vk_domain_managed_save_xml (dom, error);
  if (saved_xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) saved_doc = vk_xml_parse (saved_xml, -1, r->name, error);
  if (saved_doc == NULL)
    return FALSE;
  g_autoptr(VkIdentity) saved_id = vk_identity_from_domain (saved_doc, error);
  if (saved_id == NULL)
    return FALSE;
  VkIdentity *expected = saved_id;
  if (sc == NULL)
    {
      if (!g_error_matches (local, VK_ERROR, VK_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      /* Saved by plain 'virsh managedsave': the save image's own XML is
       * the identity the guest knows. */
    }
  else
    {
      expected = sc->identity;
      g_autoptr(GPtrArray) d = vk_identity_compare (sc->identity, saved_id);
      if (d->len > 0 && !force)
        return refuse_drift (r->name, _("libvirt's managed save image"), d, error);
    }
  g_autoptr(xmlDoc) cfg = vk_cli_domain_doc (dom, TRUE, error);
  if (cfg == NULL)
    return FALSE;
  g_autoptr(VkIdentity) cfg_id = vk_identity_from_domain (cfg, error);
  if (cfg_id == NULL)
    return FALSE;
  g_autoptr(GPtrArray) diff = vk_identity_compare (expected, cfg_id);
  if (diff->len > 0 && !force)
    return refuse_drift (r->name, _("its persistent definition"), diff, error);

  gint64 t0 = g_get_monotonic_time ();
  if (!vk_domain_start (dom, FALSE, error))
    return FALSE;
  debug_libvirt_time ("wake", r->name, t0);
  if (sc != NULL)
    g_unlink (path);
  r->mode = "managed";
  return TRUE;
}

/* The source's disk must still be the untouched overlay over the frozen
 * base, or the restored memory would meet a disk that moved on. */
static gboolean
check_overlays (VkSidecar *sc, const char *image, gboolean force, GError **error)
{
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      if (!g_file_test (f->frozen, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                       _("frozen disk %s of image '%s' is missing (%s); the image cannot be "
                         "woken"), f->target, image, f->frozen);
          return FALSE;
        }
      if (g_str_equal (f->original, f->frozen))
        continue;
      g_autofree char *backing = NULL;
      gboolean exists = g_file_test (f->original, G_FILE_TEST_EXISTS);
      gboolean fresh = FALSE;
      if (exists && vk_qcow2_backing_file (f->original, &backing, NULL) &&
          g_strcmp0 (backing, f->frozen) == 0)
        {
          g_autofree char *sum = NULL;
          fresh = f->overlay_sha256 != NULL &&
                  vk_file_sha256 (f->original, &sum, NULL, NULL) &&
                  g_ascii_strcasecmp (sum, f->overlay_sha256) == 0;
        }
      if (exists && !fresh && !force && f->overlay_sha256 == NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("image '%s' holds a copy of disk %s, and vmkeep cannot tell whether "
                         "%s changed since; --force resumes on a fresh overlay over the "
                         "image's copy (discarding the disk's changes since the image)"),
                       image, f->target, f->original);
          return FALSE;
        }
      if (exists && !fresh && !force)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("disk %s (%s) changed since image '%s' was taken (the VM ran "
                         "after it); waking would resume old memory on a newer disk. Use "
                         "--force to discard the disk's changes since the image"),
                       f->target, f->original, image);
          return FALSE;
        }
      if (!exists || !fresh)
        {
          if (!vk_disk_replace_with_overlay (f->original, f->frozen, f->format, error))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
wake_image (VkCli *cli, VkConn *conn, const char *image, gboolean force, Result *r,
            GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(VkSidecar) sc = vk_ops_image_load (cli->ops, image, &dir, error);
  if (sc == NULL)
    return FALSE;
  g_autoptr(VkLock) ilock = vk_ops_lock_image (cli->ops, image, TRUE, error);
  if (ilock == NULL)
    return FALSE;
  g_free (r->name);
  r->name = g_strdup (sc->domain_name);
  g_autofree char *state = g_build_filename (dir, sc->state_file, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (!vk_ops_image_check (sc, dir, image, conn, &hdr, NULL, error))
    return FALSE;

  g_autoptr(VkDomain) existing = vk_domain_try_lookup (conn, sc->domain_uuid);
  if (existing == NULL)
    existing = vk_domain_try_lookup (conn, sc->domain_name);
  if (existing != NULL && vk_domain_state (existing, NULL) != VK_STATE_SHUTOFF)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("'%s' is running; stop it before waking it from image '%s' (or clone "
                     "the image under another name)"), sc->domain_name, image);
      return FALSE;
    }
  g_autoptr(VkLock) lock = vk_ops_lock_domain (cli->ops, sc->domain_uuid, sc->domain_name, error);
  if (lock == NULL)
    return FALSE;
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      g_autofree char *fdir = g_path_get_dirname (((VkFrozenDisk *) sc->frozen_disks->pdata[i])->frozen);
      if (!vk_cli_check_qemu_reaches (cli, conn, fdir, error))
        return FALSE;
    }
  /* Only the domain's own disks, or places of this host's, are created or
   * replaced here: an imported image's paths were rewritten to those. */
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      if (!g_str_equal (f->original, f->frozen) &&
          !vk_ops_image_path_is_own (cli->ops, conn, sc, f->target, f->original, cli->cfg->disk_dir))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("image '%s' would put disk %s at %s, which is neither that disk of "
                         "'%s' here nor below disk-dir (%s); nothing was changed: use 'vmkeep "
                         "clone %s --name NEW --disk-dir DIR' instead"),
                       image, f->target, f->original, sc->domain_name, cli->cfg->disk_dir,
                       image);
          return FALSE;
        }
    }
  g_autofree char *saved_nv = g_build_filename (dir, "nvram.fd", NULL);
  gboolean place_nvram = sc->nvram_path && !g_file_test (sc->nvram_path, G_FILE_TEST_EXISTS) &&
                         g_file_test (saved_nv, G_FILE_TEST_IS_REGULAR);
  if (place_nvram &&
      !vk_ops_image_path_is_own (cli->ops, conn, sc, "nvram", sc->nvram_path, cli->cfg->nvram_dir))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' would put its UEFI variables at %s, which is neither the NVRAM "
                     "file of '%s' here nor below nvram-dir (%s); nothing was changed: use "
                     "'vmkeep clone' instead"),
                   image, sc->nvram_path, sc->domain_name, cli->cfg->nvram_dir);
      return FALSE;
    }
  if (!check_overlays (sc, image, force, error))
    return FALSE;
  /* an imported image brings the variables the guest had at save time */
  if (place_nvram && !vk_file_clone (saved_nv, sc->nvram_path, 0600, error))
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  /* a sparse state is read back with as many channels as wrote it; the
   * guest runs only once the state proved to be the one the sidecar
   * recorded (hashed while QEMU loads it) */
  int channels = hdr->format == VK_SAVE_FORMAT_SPARSE ? (int) sc->state_channels : 0;
  if (!vk_ops_restore_checked (conn, sc->domain_name, state, state, sc->state_sha256, channels,
                               FALSE, error))
    return FALSE;
  debug_libvirt_time ("wake", sc->domain_name, t0);
  r->mode = "image";
  r->state_bytes = sc->state_size;
  return TRUE;
}

gboolean
vk_cmd_wake (VkCli *cli, int argc, char **argv, GError **error)
{
  gboolean force = FALSE;
  g_autofree char *image = NULL;
  const GOptionEntry entries[] = {
    { "image", 0, 0, G_OPTION_ARG_STRING, &image, N_("Wake the VM saved in image NAME"), N_("NAME") },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, N_("Wake even though the device identity changed"), NULL },
    { NULL },
  };
  const VkCommand *cmd = vk_command_named ("wake");
  if (!vk_cli_parse_entries (cmd, entries, &argc, &argv, error))
    return FALSE;
  if (image ? argc != 1 : argc < 2)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep wake: name the domains, or give --image NAME alone "
                     "(see 'vmkeep help wake')"));
      return FALSE;
    }
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  g_autoptr(GArray) results = g_array_new (FALSE, TRUE, sizeof (Result));
  g_array_set_clear_func (results, (GDestroyNotify) result_clear);
  guint n = image ? 1 : (guint) argc - 1;
  g_array_set_size (results, n);
  for (guint i = 0; i < n; i++)
    {
      Result *r = &g_array_index (results, Result, i);
      r->name = g_strdup (image ? image : argv[i + 1]);
      g_autoptr(GError) e = NULL;
      gint64 t0 = g_get_monotonic_time ();
      gboolean ok = image ? wake_image (cli, conn, image, force, r, &e)
                          : wake_managed (cli, conn, r, force, &e);
      r->seconds = (g_get_monotonic_time () - t0) / 1e6;
      if (!ok)
        {
          r->code = vk_error_exit_code (e);
          r->message = g_strdup (e->message);
        }
      log_result ("wake", r);
    }
  return report (cli, _("wake"), results, error);
}

