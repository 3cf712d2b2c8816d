/* vmkeep — fork of a domain (shut off or running) or of an image. See
 * ops-clone.h. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clone-private.h"
#include "clone-xml.h"
#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "ops-domain.h"
#include "ops-host.h"
#include "ops-image.h"
#include "ops-sidecar.h"
#include "save-stream.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

#define phase vk_clone_phase

/* A working directory tmp/fork-XXXXXX in the store, removed by the
 * journal; `xml` (may be NULL) is saved in it as source.xml, for the
 * journal to define the source again from (`*xml_file`). */
static char *
fork_tmp_dir (VkOps *ops, VkJournal *j, const char *xml, int *lock_fd, char **xml_file,
              GError **error)
{
  g_autofree char *dir = vk_store_tmp_dir_new (ops->cfg->store_dir, "fork", lock_fd, error);
  if (dir == NULL)
    return NULL;
  if (!vk_journal_push (j, VK_UNDO_RMTREE, error, dir, NULL))
    {
      vk_store_tmp_dir_done (dir, *lock_fd);
      *lock_fd = -1;
      return NULL;
    }
  if (xml)
    {
      *xml_file = g_build_filename (dir, "source.xml", NULL);
      if (!vk_file_write_atomic (*xml_file, xml, strlen (xml), 0600, error))
        {
          vk_store_tmp_dir_done (dir, *lock_fd);
          *lock_fd = -1;
          return NULL;
        }
    }
  return g_steal_pointer (&dir);
}

/* ---- fork of a shut-off domain ------------------------------------------

   Its disks become shared read-only bases (renamed beside themselves,
   O(1)), the source continues on fresh overlays, the fork gets overlays
   of its own and a definition. */

typedef struct {
  GHashTable *paths;     /* target -> the fork's overlay */
  GHashTable *formats;
  GPtrArray *plan;       /* GStrv: { file, base, format, fork's overlay } */
  char *uuid;
  char *src_nv;          /* the source's NVRAM file, or NULL */
  char *nvram;           /* the fork's copy, or NULL */
  xmlDocPtr fork_doc;
  xmlDocPtr src_new;     /* the source's definition on its overlays */
} ShutoffPlan;

static void
shutoff_plan_clear (ShutoffPlan *p)
{
  g_clear_pointer (&p->paths, g_hash_table_unref);
  g_clear_pointer (&p->formats, g_hash_table_unref);
  g_clear_pointer (&p->plan, g_ptr_array_unref);
  g_clear_pointer (&p->uuid, g_free);
  g_clear_pointer (&p->src_nv, g_free);
  g_clear_pointer (&p->nvram, g_free);
  g_clear_pointer (&p->fork_doc, xmlFreeDoc);
  g_clear_pointer (&p->src_new, xmlFreeDoc);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ShutoffPlan, shutoff_plan_clear)

static gboolean
shutoff_plan_disks (ShutoffPlan *p, xmlDocPtr doc, const char *sname, const VkCloneOpts *o,
                    GError **error)
{
  p->paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p->formats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p->plan = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autoptr(GPtrArray) disks = vk_domain_freezable_disks (doc, sname, _("a fork"), FALSE, NULL,
                                                          error);
  if (disks == NULL)
    return FALSE;
  for (guint i = 0; i < disks->len; i++)
    {
      VkFreezableDisk *d = disks->pdata[i];
      char *target = d->target, *file = d->path, *fmt = d->format;
      g_autofree char *ddir = o->disk_dir ? g_strdup (o->disk_dir) : g_path_get_dirname (file);
      g_autofree char *nf = g_strdup_printf ("%s-%s.qcow2", o->name, target);
      char *np = g_build_filename (ddir, nf, NULL);
      g_autofree char *base = g_strdup_printf ("%s.vmkeep-fork-%s.base", file, o->name);
      if (g_file_test (np, G_FILE_TEST_EXISTS) || g_file_test (base, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s already exists; vmkeep never overwrites a disk"),
                       g_file_test (np, G_FILE_TEST_EXISTS) ? np : base);
          g_free (np);
          return FALSE;
        }
      g_hash_table_insert (p->paths, g_strdup (target), np);
      g_hash_table_insert (p->formats, g_strdup (target), g_strdup ("qcow2"));
      char *row[] = { file, base, fmt, np, NULL };
      g_ptr_array_add (p->plan, g_strdupv (row));
    }
  return TRUE;
}

/* A UEFI source's firmware variables (boot entries, Secure Boot keys)
 * come along: the fork gets its own copy, never a fresh template. */
static void
shutoff_plan_nvram (ShutoffPlan *p, VkConn *conn, xmlDocPtr doc, const char *sname,
                    const VkCloneOpts *o)
{
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (doc), "os");
  g_autofree char *firmware = vk_xml_prop (os, "firmware");
  p->src_nv = vk_xml_child_text (os, "nvram");
  if ((p->src_nv == NULL || *p->src_nv == '\0') && g_strcmp0 (firmware, "efi") == 0)
    {
      /* libvirt's own name for a VARS file it created */
      g_autofree char *nvdir = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_NVRAM);
      g_autofree char *leaf = g_strdup_printf ("%s_VARS.fd", sname);
      g_free (p->src_nv);
      p->src_nv = g_build_filename (nvdir, leaf, NULL);
    }
  if (p->src_nv && *p->src_nv && g_file_test (p->src_nv, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *nvdir = g_path_get_dirname (p->src_nv);
      g_autofree char *nvfile = g_strdup_printf ("%s_VARS.fd", o->name);
      p->nvram = g_build_filename (nvdir, nvfile, NULL);
    }
}

/* The fork's definition (proven to differ only where allowed) and the
 * source's, which follows its disks onto qcow2 overlays. */
static gboolean
shutoff_plan_xml (ShutoffPlan *p, xmlDocPtr doc, const char *sname, const VkCloneOpts *o,
                  GError **error)
{
  p->uuid = g_uuid_string_random ();
  p->fork_doc = xmlCopyDoc (doc, 1);
  VkCloneRewrite rw = { o->name, p->uuid, p->paths, p->formats, o->taps,
                        o->bridge, o->network, p->nvram };
  if (!vk_clone_rewrite (p->fork_doc, sname, &rw, error))
    return FALSE;
  if (p->nvram != NULL)
    {
      xmlNodePtr fos = vk_xml_child (xmlDocGetRootElement (p->fork_doc), "os");
      if (vk_xml_child (fos, "nvram") == NULL)
        xmlNewTextChild (fos, NULL, BAD_CAST "nvram", BAD_CAST p->nvram);
    }
  g_autoptr(GPtrArray) ident = NULL;
  if (!vk_domain_xml_diff (doc, p->fork_doc, NULL, &ident, error))
    return FALSE;
  if (ident->len > 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("internal error: the fork would differ from its source in %s"),
                   ((VkXmlDifference *) ident->pdata[0])->text);
      return FALSE;
    }
  p->src_new = xmlCopyDoc (doc, 1);
  xmlNodePtr sdevs = vk_domain_devices (p->src_new);
  for (xmlNodePtr n = sdevs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "disk"))
      {
        g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
        xmlNodePtr drv = vk_xml_child (n, "driver");
        if (target && drv && g_hash_table_contains (p->paths, target))
          xmlSetProp (drv, BAD_CAST "type", BAD_CAST "qcow2");
      }
  return TRUE;
}

/* Freeze each disk (renamed to its base) under two new overlays: the
 * source's in its place, the fork's. Each step is recorded first. */
static gboolean
shutoff_freeze_disks (VkJournal *j, ShutoffPlan *p, VkCloneResult *res, GError **error)
{
  for (guint i = 0; i < p->plan->len; i++)
    {
      char **row = p->plan->pdata[i];
      /* moving the base back replaces the source's overlay */
      if (!vk_journal_push (j, VK_UNDO_RENAME, error, row[1], row[0], NULL))
        return FALSE;
      if (rename (row[0], row[1]) != 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot freeze %s: %s"), row[0],
                       g_strerror (errno));
          return FALSE;
        }
      if (!vk_journal_push (j, VK_UNDO_UNLINK, error, row[3], NULL) ||
          !vk_disk_create_overlay (row[0], row[1], row[2], error) ||
          !vk_disk_create_overlay (row[3], row[1], row[2], error) ||
          !vk_fsync_parent (row[0], error) || !vk_fsync_parent (row[3], error))
        return FALSE;
      g_ptr_array_add (res->disks, g_strdup_printf ("%s", row[3]));
    }
  return TRUE;
}

static gboolean
fork_shutoff_steps (VkOps *ops, VkJournal *j, ShutoffPlan *p, const char *xml,
                    const VkCloneOpts *o, VkCloneResult *res, GError **error)
{
  int tmp_lock = -1;
  g_autofree char *xml_file = NULL;
  g_autofree char *sdir = fork_tmp_dir (ops, j, xml, &tmp_lock, &xml_file, error);
  if (sdir == NULL)
    return vk_clone_journal_end (ops, j, FALSE, error);
  gboolean ok = TRUE;
  if (p->nvram != NULL)
    ok = vk_journal_push (j, VK_UNDO_UNLINK, error, p->nvram, NULL) &&
         vk_file_clone (p->src_nv, p->nvram, 0600, error);
  ok = ok && shutoff_freeze_disks (j, p, res, error) &&
       vk_ops_step (ops, "fork-after-disks", error);
  g_autofree char *src_xml = vk_xml_format (p->src_new);
  g_autofree char *fork_xml = vk_xml_format (p->fork_doc);
  g_autoptr(VkDomain) redefined = NULL;
  g_autoptr(VkDomain) forked = NULL;
  ok = ok && vk_journal_push (j, VK_UNDO_DEFINE, error, xml_file, NULL) &&
       vk_domain_define (ops->conn, src_xml, &redefined, error) &&
       vk_journal_push (j, VK_UNDO_UNDEFINE, error, p->uuid, NULL) &&
       vk_domain_define (ops->conn, fork_xml, &forked, error) &&
       vk_ops_step (ops, "fork-after-clone", error);
  if (ok)
    {
      res->name = g_strdup (o->name);
      res->uuid = g_strdup (p->uuid);
    }
  /* the source's definition is read back from source.xml by a rollback */
  ok = vk_clone_journal_end (ops, j, ok, error);
  vk_store_tmp_dir_done (sdir, tmp_lock);
  return ok;
}

static gboolean
fork_shutoff (VkOps *ops, VkDomain *src, const VkCloneOpts *o, VkCloneResult *res,
              GError **error)
{
  const char *sname = vk_domain_get_name (src);
  g_autofree char *xml = vk_domain_xml (src, TRUE, error);
  if (xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, sname, error);
  if (doc == NULL)
    return FALSE;
  g_auto(ShutoffPlan) p = { 0 };
  if (!shutoff_plan_disks (&p, doc, sname, o, error))
    return FALSE;
  shutoff_plan_nvram (&p, ops->conn, doc, sname, o);
  if (!shutoff_plan_xml (&p, doc, sname, o, error))
    return FALSE;
  g_autoptr(VkJournal) j = vk_journal_begin (ops, "fork", o->name, error);
  g_autofree char *suuid = vk_domain_get_uuid (src);
  if (j == NULL || !vk_journal_set (j, "lock-domain", suuid, error))
    return FALSE;
  return fork_shutoff_steps (ops, j, &p, xml, o, res, error);
}

/* ---- fork of a running VM ------------------------------------------------

   The source never stops: vmkeep pauses it, lets libvirt put each writable
   disk on a new qcow2 overlay (the old file becomes the frozen base that
   the fork's overlays share), and takes an external memory snapshot into
   the image `fork-SOURCE-NEW` while the source stays paused; the source
   resumes the moment that snapshot is complete. The fork restores from the
   snapshot *while libvirt writes it* (the re-emitted header, then the
   stream as it grows), so a fork costs about one save, not a save and two
   restores. On any failure the journal removes the fork, merges each
   overlay back into its base (block commit + pivot), puts the source's
   definition back, resumes it and removes the image: nothing is left
   behind. */

typedef struct {
  char *target;
  char *base;      /* the disk's file, frozen from now on */
  char *format;
  char *overlay;   /* where the source continues */
} ForkDisk;

static void
fork_disk_free (ForkDisk *d)
{
  g_free (d->target);
  g_free (d->base);
  g_free (d->format);
  g_free (d->overlay);
  g_free (d);
}

typedef struct {
  VkDomain *src;
  const char *file;
  const char *const *targets;
  gboolean keep_paused;  /* the source was paused before the fork */
  gint writer;       /* VkWriterState */
  gboolean resumed;
  GError *error;
} MemSnap;

static gpointer
memory_snapshot_thread (gpointer p)
{
  MemSnap *m = p;
  phase ("fork: memory snapshot started");
  gboolean ok = vk_domain_snapshot_memory (m->src, m->file, m->targets, &m->error);
  phase ("fork: memory snapshot written");
  /* the source runs again at once; the fork is still loading */
  if (ok)
    m->resumed = m->keep_paused || vk_domain_resume (m->src, NULL);
  g_atomic_int_set (&m->writer, ok ? VK_WRITER_DONE : VK_WRITER_FAILED);
  return NULL;
}

/* The file-backed writable disks the fork freezes; refuses what cannot be
 * frozen. Every disk target goes to `all` (the snapshots name each). */
static GPtrArray *
fork_disks (xmlDocPtr doc, const char *sname, const char *new_name, GPtrArray *all,
            GError **error)
{
  g_autoptr(GPtrArray) disks = vk_domain_freezable_disks (doc, sname, _("a fork"), TRUE, all,
                                                          error);
  if (disks == NULL)
    return NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) fork_disk_free);
  for (guint i = 0; i < disks->len; i++)
    {
      VkFreezableDisk *fd = disks->pdata[i];
      /* src.qcow2 continues as src.fork-NEW.qcow2 */
      g_autofree char *dirname = g_path_get_dirname (fd->path);
      g_autofree char *base = g_path_get_basename (fd->path);
      char *dot = strrchr (base, '.');
      if (dot && dot != base)
        *dot = '\0';
      /* a source forked before continues under its first name */
      char *prev = strstr (base, ".fork-");
      if (prev && prev != base)
        *prev = '\0';
      g_autofree char *leaf = g_strdup_printf ("%s.fork-%s.qcow2", base, new_name);
      ForkDisk *d = g_new0 (ForkDisk, 1);
      d->target = g_steal_pointer (&fd->target);
      d->base = g_steal_pointer (&fd->path);
      d->format = g_steal_pointer (&fd->format);
      d->overlay = g_build_filename (dirname, leaf, NULL);
      g_ptr_array_add (out, d);
      if (g_file_test (d->overlay, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s already exists; vmkeep never overwrites a disk: remove it or "
                         "pick another --name"), d->overlay);
          return NULL;
        }
    }
  return g_steal_pointer (&out);
}

/* Everything a fork of a running VM works with, from its plan to its
 * end. */
typedef struct {
  VkOps *ops;
  VkJournal *j;
  VkDomain *src;
  const char *source;
  char *suuid;
  char *image;             /* fork-SOURCE-NEW */
  char *idir;              /* its directory once complete */
  xmlDocPtr doc;           /* the source's live definition */
  char *inactive_xml;      /* its persistent one, or NULL */
  GPtrArray *all;          /* every disk target, NULL-terminated */
  GPtrArray *disks;        /* ForkDisk* */
  char *partial;           /* the image while it is made */
  int lock_fd;
  char *sdir;              /* tmp/fork-XXXXXX: the memory snapshot, source.xml */
  int tmp_lock;
  char *xml_file;          /* sdir/source.xml */
  char *state;             /* sdir/state.sav, written by libvirt */
  VkSidecar *sc;
  gboolean was_paused;
  MemSnap m;
} Fork;

static void
fork_clear (Fork *f)
{
  g_clear_pointer (&f->suuid, g_free);
  g_clear_pointer (&f->image, g_free);
  g_clear_pointer (&f->idir, g_free);
  g_clear_pointer (&f->doc, xmlFreeDoc);
  g_clear_pointer (&f->inactive_xml, g_free);
  g_clear_pointer (&f->all, g_ptr_array_unref);
  g_clear_pointer (&f->disks, g_ptr_array_unref);
  g_clear_pointer (&f->partial, g_free);
  g_clear_pointer (&f->sdir, g_free);
  g_clear_pointer (&f->xml_file, g_free);
  g_clear_pointer (&f->state, g_free);
  g_clear_pointer (&f->sc, vk_sidecar_free);
  g_clear_error (&f->m.error);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Fork, fork_clear)

/* The image's name and the source's definitions and disks; nothing is
 * changed yet. */
static gboolean
fork_plan (Fork *f, const VkCloneOpts *o, GError **error)
{
  f->image = g_strdup_printf ("fork-%s-%s", f->source, o->name);
  if (strlen (f->image) > 64)
    {
      g_autofree char *h = g_compute_checksum_for_string (G_CHECKSUM_SHA256, f->image, -1);
      g_free (f->image);
      f->image = g_strdup_printf ("fork-%.16s", h);
    }
  f->idir = vk_store_image_dir (f->ops->cfg->store_dir, f->image);
  if (g_file_test (f->idir, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' exists already; remove it or pick another --name"), f->image);
      return FALSE;
    }
  f->doc = vk_ops_domain_doc (f->src, FALSE, error);
  if (f->doc == NULL)
    return FALSE;
  if (vk_domain_is_persistent (f->src) &&
      (f->inactive_xml = vk_domain_xml (f->src, TRUE, error)) == NULL)
    return FALSE;
  f->all = g_ptr_array_new_with_free_func (g_free);
  f->disks = fork_disks (f->doc, f->source, o->name, f->all, error);
  if (f->disks == NULL)
    return FALSE;
  g_ptr_array_add (f->all, NULL);
  return TRUE;
}

/* The image's partial directory and the working directory, each
 * recorded for removal. */
static gboolean
fork_dirs (Fork *f, GError **error)
{
  f->partial = vk_ops_image_partial_new (f->ops, f->j, f->image, &f->lock_fd, error);
  if (f->partial == NULL)
    return FALSE;
  g_autofree char *images = vk_store_images_dir (f->ops->cfg->store_dir);
  if (!vk_ops_check_qemu_reaches (f->ops->conn, images, error))
    return FALSE;
  f->sdir = fork_tmp_dir (f->ops, f->j, f->inactive_xml, &f->tmp_lock, &f->xml_file, error);
  if (f->sdir == NULL)
    return FALSE;
  f->state = g_build_filename (f->sdir, VK_STORE_STATE, NULL);
  return TRUE;
}

/* The image's sidecar as far as it is known before the snapshot. */
static void
fork_sidecar (Fork *f)
{
  g_autofree char *uuid = vk_domain_get_uuid (f->src);
  VkSidecar *sc = f->sc = vk_ops_sidecar_new (f->ops, VK_SIDECAR_IMAGE, f->source, uuid);
  sc->tpm = vk_xml_child (vk_domain_devices (f->doc), "tpm") != NULL;
  sc->state_file = g_strdup (VK_STORE_STATE);
  sc->has_state_size = TRUE;
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (f->doc), "os");
  g_autofree char *nv = vk_xml_child_text (os, "nvram");
  if (nv && *nv)
    sc->nvram_path = g_strdup (nv);
}

/* Pause the source and put each disk on its overlay. The rollback merges
 * the overlays back, defines the source as it was and resumes it. */
static gboolean
fork_freeze_source (Fork *f, GError **error)
{
  phase ("fork: pausing the source");
  if (!f->was_paused &&
      (!vk_journal_push (f->j, VK_UNDO_RESUME, error, f->suuid, NULL) ||
       !vk_ops_check_cancel (f->ops, error) || !vk_domain_suspend (f->src, error)))
    return FALSE;
  if (f->xml_file && !vk_journal_push (f->j, VK_UNDO_DEFINE, error, f->xml_file, NULL))
    return FALSE;
  if (f->disks->len > 0)
    {
      g_autoptr(GPtrArray) t = g_ptr_array_new ();
      g_autoptr(GPtrArray) o = g_ptr_array_new ();
      for (guint i = 0; i < f->disks->len; i++)
        {
          ForkDisk *d = f->disks->pdata[i];
          g_ptr_array_add (t, d->target);
          g_ptr_array_add (o, d->overlay);
        }
      g_ptr_array_add (t, NULL);
      g_ptr_array_add (o, NULL);
      /* recorded before libvirt's snapshot, which libvirtd completes even
       * when this vmkeep dies in the middle; the undo merges a disk back
       * only where its overlay is on top (so never a disk that got none
       * into its own backing file) */
      for (guint i = 0; i < f->disks->len; i++)
        {
          ForkDisk *d = f->disks->pdata[i];
          if (!vk_journal_push (f->j, VK_UNDO_COMMIT_OVERLAY, error, f->suuid, d->target,
                                d->overlay, NULL))
            return FALSE;
        }
      if (!vk_domain_snapshot_disks (f->src, (const char *const *) t->pdata,
                                     (const char *const *) o->pdata,
                                     (const char *const *) f->all->pdata, error))
        return FALSE;
    }
  phase ("fork: disks frozen");
  return vk_ops_step (f->ops, "fork-after-disks", error);
}

/* The image keeps each base alive by a hard link where it can; on
 * another filesystem the base stays where it is. */
static gboolean
fork_stage_disk (Fork *f, ForkDisk *d, const char *pdisks, GError **error)
{
  VkFrozenDisk *fd = g_new0 (VkFrozenDisk, 1);
  g_ptr_array_add (f->sc->frozen_disks, fd);
  fd->target = g_strdup (d->target);
  fd->original = g_strdup (d->overlay);
  fd->format = g_strdup (d->format);
  struct stat st;
  fd->size = stat (d->base, &st) == 0 ? (guint64) st.st_size : 0;
  g_autofree char *leaf = g_strdup_printf ("%s.%s", d->target, d->format);
  g_autofree char *staged = g_build_filename (pdisks, leaf, NULL);
  if (link (d->base, staged) == 0)
    fd->frozen = g_build_filename (f->idir, "disks", leaf, NULL);
  else if (errno == EXDEV)
    fd->frozen = g_strdup (d->base);
  else
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot link %s into %s: %s"),
                   d->base, pdisks, g_strerror (errno));
      return FALSE;
    }
  /* wake --image refuses once the source wrote to its overlay */
  return vk_file_sha256 (d->overlay, &fd->overlay_sha256, NULL, error) &&
         vk_disk_digest (d->base, d->format, &fd->meta_sha256, error);
}

/* The frozen disks and the NVRAM copy into the partial image, which then
 * becomes image fork-SOURCE-NEW (still without its state). */
static gboolean
fork_stage_image (Fork *f, GError **error)
{
  g_autofree char *pdisks = g_build_filename (f->partial, "disks", NULL);
  if (f->disks->len > 0 && g_mkdir (pdisks, 0711) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create %s: %s"), pdisks,
                   g_strerror (errno));
      return FALSE;
    }
  for (guint i = 0; i < f->disks->len; i++)
    if (!fork_stage_disk (f, f->disks->pdata[i], pdisks, error))
      return FALSE;
  VkSidecar *sc = f->sc;
  if (sc->nvram_path && g_file_test (sc->nvram_path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *nv = g_build_filename (f->partial, "nvram.fd", NULL);
      if (!vk_file_clone (sc->nvram_path, nv, 0600, error) ||
          !vk_file_sha256 (nv, &sc->nvram_sha256, NULL, error))
        return FALSE;
    }
  if (!vk_journal_push (f->j, VK_UNDO_RMTREE, error, f->idir, NULL))
    return FALSE;
  if (!vk_store_partial_commit (f->ops->cfg->store_dir, f->partial, f->image, f->lock_fd,
                                error))
    {
      f->lock_fd = -1;   /* closed by the failed commit */
      return FALSE;
    }
  g_chmod (f->idir, 0711);
  return TRUE;
}

/* Clone the fork from the memory snapshot while libvirt writes it. */
static gboolean
fork_clone (Fork *f, const VkCloneOpts *o, VkStateSource *ss, VkCloneResult *res,
            GError **error)
{
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_autoptr(xmlDoc) src_doc = NULL;
  gboolean ok = vk_save_header_wait (f->state, &f->m.writer, NULL, &hdr, error) &&
                (src_doc = vk_xml_parse (hdr->xml, -1, f->state, error)) != NULL;
  phase ("fork: snapshot header read");
  if (!ok)
    return FALSE;
  f->sc->domain_xml = g_strdup (hdr->xml);
  f->sc->identity = vk_identity_from_domain (src_doc, error);
  if (f->sc->identity == NULL)
    return FALSE;
  /* (The clone's own MAC check would wait for the snapshot: it reads every
   * running domain's XML. vk_ops_fork did it before, source included.) */
  return vk_clone_from (f->ops, f->j, f->sc, f->idir, hdr, src_doc, ss, o, TRUE, res, error) &&
         vk_ops_step (f->ops, "fork-after-clone", error);
}

/* The snapshot is complete: into the image with the sidecar. */
static gboolean
fork_finish_image (Fork *f, VkStateSource *ss, GError **error)
{
  if (g_atomic_int_get (&f->m.writer) != VK_WRITER_DONE)
    {
      g_propagate_error (error, g_steal_pointer (&f->m.error));
      return FALSE;
    }
  f->sc->state_sha256 = g_steal_pointer (&ss->sha_out);
  f->sc->state_size = ss->size_out;
  g_autofree char *final_state = g_build_filename (f->idir, VK_STORE_STATE, NULL);
  g_autofree char *sidecar = g_build_filename (f->idir, VK_STORE_SIDECAR, NULL);
  if (rename (f->state, final_state) != 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot move %s to %s: %s"), f->state,
                   final_state, g_strerror (errno));
      return FALSE;
    }
  return vk_fsync_parent (final_state, error) && vk_sidecar_save (f->sc, sidecar, error);
}

/* From the pause to the complete image; the caller rolls back on failure. */
static gboolean
fork_running_steps (Fork *f, const VkCloneOpts *o, VkCloneResult *res, GError **error)
{
  MemSnap m0 = { f->src, f->state, (const char *const *) f->all->pdata, f->was_paused,
                 VK_WRITER_RUNNING, FALSE, NULL };
  f->m = m0;
  VkStateSource ss = { f->state, NULL, &f->m.writer, NULL, 0 };
  GError *local = NULL;
  gboolean ok = fork_freeze_source (f, &local) && fork_stage_image (f, &local);
  GThread *mt = NULL;
  if (ok)
    {
      mt = g_thread_new ("vmkeep-memsnap", memory_snapshot_thread, &f->m);
      ok = fork_clone (f, o, &ss, res, &local);
      g_thread_join (mt);
    }
  phase ("fork: clone running");
  if (mt && g_atomic_int_get (&f->m.writer) == VK_WRITER_FAILED && f->m.error)
    {
      /* libvirt's own error says why; what failed after it is the echo */
      g_clear_error (&local);
      local = g_steal_pointer (&f->m.error);
      ok = FALSE;
    }
  ok = ok && fork_finish_image (f, &ss, &local);
  g_free (ss.sha_out);
  if (!ok)
    g_propagate_error (error, local);
  return ok;
}

static gboolean
fork_running (VkOps *ops, VkDomain *src, const char *source, const VkCloneOpts *o,
              VkCloneResult *res, GError **error)
{
  g_auto(Fork) f = { ops, NULL, src, source };
  f.lock_fd = f.tmp_lock = -1;
  f.suuid = vk_domain_get_uuid (src);
  f.was_paused = vk_domain_state (src, NULL) == VK_STATE_PAUSED;
  if (!fork_plan (&f, o, error))
    return FALSE;
  g_autoptr(VkJournal) j = f.j = vk_journal_begin (ops, "fork", o->name, error);
  if (j == NULL || !vk_journal_set (j, "lock-domain", f.suuid, error))
    return FALSE;
  fork_sidecar (&f);
  GError *local = NULL;
  gboolean ok = fork_dirs (&f, &local) && fork_running_steps (&f, o, res, &local);
  if (ok)
    {
      vk_journal_commit (j);
      vk_store_image_finish (f.idir, f.lock_fd);
      vk_store_tmp_dir_done (f.sdir, f.tmp_lock);
      if (!f.m.resumed)
        {
          /* the fork itself is complete: keep it */
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("fork '%s' runs, but '%s' stays paused: resume it with 'virsh resume "
                         "%s'"), o->name, source, source);
          return FALSE;
        }
      res->image = g_strdup (f.image);
      return TRUE;
    }
  /* Roll back: the fork first (its QEMU reads the bases), then the source. */
  g_autoptr(GError) rb = NULL;
  vk_journal_rollback (j, &rb);
  if (f.lock_fd >= 0)
    close (f.lock_fd);
  if (f.tmp_lock >= 0)
    close (f.tmp_lock);
  if (rb)
    g_prefix_error (&local, _("(and '%s' could not be put back entirely: %s) "), source,
                    rb->message);
  g_propagate_error (error, local);
  return FALSE;
}

/* A fork of a running VM keeps its MACs: the source runs again after the
 * fork, so a MAC clash with it or with any other running VM must be
 * refused before the source is saved, and so must a bridge or network
 * that does not exist. */
static gboolean
fork_running_checks (VkOps *ops, VkDomain *src, const char *source, const VkCloneOpts *o,
                     GError **error)
{
  if (!o->bridge && !o->network && !o->allow_dup_mac)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("the fork keeps the MACs of '%s', which keeps running: put the fork on "
                     "another segment with --bridge or --network (or pass "
                     "--allow-duplicate-mac)"), source);
      return FALSE;
    }
  if (o->bridge && !vk_ops_check_nic_source (ops->conn, 0, o->bridge, error))
    return FALSE;
  if (o->network && !vk_ops_check_nic_source (ops->conn, 1, o->network, error))
    return FALSE;
  if (o->allow_dup_mac)
    return TRUE;
  g_autoptr(xmlDoc) fdoc = vk_ops_domain_doc (src, FALSE, error);
  if (fdoc == NULL)
    return FALSE;
  xmlNodePtr fdevs = vk_domain_devices (fdoc);
  for (xmlNodePtr n = fdevs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "interface"))
      vk_clone_nic_host (n, o->bridge, o->network);
  return vk_clone_check_duplicate_macs (ops->conn, fdoc, o->name, error);
}

gboolean
vk_ops_fork (VkOps *ops, const char *source, const VkCloneOpts *o, VkCloneResult *res,
             GError **error)
{
  if (!vk_clone_check_new_name (ops->conn, "fork name", o->name, error))
    return FALSE;
  g_autoptr(VkDomain) src = vk_domain_try_lookup (ops->conn, source);
  if (src == NULL)
    {
      /* Not a domain: a hibernate image forks like a clone. */
      g_autofree char *idir = vk_store_image_dir (ops->cfg->store_dir, source);
      if (vk_validate_name ("image name", source, NULL) && g_file_test (idir, G_FILE_TEST_IS_DIR))
        return vk_clone_image (ops, source, o, "fork-after-clone", res, error);
      g_autofree char *shown = g_strescape (source, NULL);
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("'%s' is neither a domain nor an image; 'vmkeep list --all' and "
                     "'vmkeep image list' show what can be forked"), shown);
      return FALSE;
    }
  /* Serialise with other vmkeep processes on the source (a hibernate from
   * cron must not land in the middle of a fork). */
  g_autofree char *suuid = vk_domain_get_uuid (src);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (ops, suuid, source, error);
  if (lock == NULL || !vk_ops_check_chain_room (ops, src, 1, error))
    return FALSE;
  if (vk_domain_state (src, NULL) == VK_STATE_SHUTOFF)
    {
      if (vk_domain_has_managed_save (src))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("'%s' is hibernated with a managed save, which cannot be forked; "
                         "wake it first, or hibernate it with --image NAME and fork the image"),
                       source);
          return FALSE;
        }
      return fork_shutoff (ops, src, o, res, error);
    }
  return fork_running_checks (ops, src, source, o, error) &&
         fork_running (ops, src, source, o, res, error);
}
