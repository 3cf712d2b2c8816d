/* vmkeep — image export as an OCI image layout. See ops-oci.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "diskfile.h"
#include "fileutil.h"
#include "journal.h"
#include "oci.h"
#include "oci-blob.h"
#include "ops-image.h"
#include "ops-oci.h"
#include "oci-private.h"
#include "save-header.h"
#include "store.h"
#include "vk-error.h"

/* DESIGN.md: a chain of at most 24 files per disk. */
#define CHAIN_MAX 24

void
vk_oci_layer_free (VkOciLayer *l)
{
  g_free (l->title);
  g_free (l->media_type);
  g_free (l->digest);
  g_free (l);
}

void
vk_oci_result_free (VkOciResult *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->layers);
  g_free (r->manifest_digest);
  g_free (r->reference);
  g_free (r);
}

/* One layout being written. */
typedef struct {
  VkOps *ops;
  const char *name;
  VkSidecar *sc;
  const char *imgdir;
  const char *layout;
  char *blobdir;
  VkJournal *j;
  VkOciResult *r;
  GHashTable *digests;     /* blobs written once */
  VkOpsStream stream;
  guint64 base;            /* bytes of the files before the current one */
} Layout;

static void
layout_progress (guint64 done, gpointer data)
{
  Layout *l = data;
  vk_ops_stream_at (l->base + done, &l->stream);
}

static void
layout_add (Layout *l, const char *title, const char *media, VkBlobInfo *b)
{
  VkOciLayer *y = g_new0 (VkOciLayer, 1);
  y->title = g_strdup (title);
  y->media_type = b->zstd ? g_strconcat (media, VK_OCI_ZSTD_SUFFIX, NULL) : g_strdup (media);
  y->digest = g_strdup (b->digest);
  y->size = b->size;
  y->content_size = b->content_size;
  g_ptr_array_add (l->r->layers, y);
  l->r->content_bytes += b->content_size;
  if (g_hash_table_add (l->digests, g_strdup (b->digest)))
    l->r->bytes += b->size;
}

/* The file `path` as a layer, compressed where that pays. */
static gboolean
layout_file (Layout *l, const char *title, const char *media, const char *path,
             gboolean may_compress, VkBlobInfo *b, GError **error)
{
  double ratio = 1.0;
  if (may_compress && !vk_blob_zstd_ratio (path, &ratio, error))
    return FALSE;
  gboolean zstd = may_compress && ratio < VK_BLOB_ZSTD_PAYS;
  if (may_compress)
    g_debug ("oci: %s: sampled zstd ratio %.3f, %s", title, ratio, zstd ? "compressed" : "raw");
  if (!vk_blob_put_file (l->blobdir, path, zstd, l->ops->cancel, layout_progress, l, b, error))
    return FALSE;
  l->base += b->content_size;
  layout_add (l, title, media, b);
  return TRUE;
}

/* The state, checked against the sidecar on the way: a damaged image
 * must not leave as a healthy-looking layout. */
static gboolean
layout_state (Layout *l, GError **error)
{
  VkSidecar *sc = l->sc;
  g_autofree char *state = g_build_filename (l->imgdir, sc->state_file, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (!vk_save_header_read (state, &hdr, error))
    return FALSE;
  g_auto(VkBlobInfo) b = { 0 };
  if (!layout_file (l, VK_STORE_STATE, VK_OCI_MEDIA_STATE, state, TRUE, &b, error))
    return FALSE;
  return vk_ops_export_state_matches (l->name, sc, state, b.content_size, b.content_sha256,
                                      error);
}

/* The backing file of the qcow2 `path` with its format, resolved as QEMU
 * does (relative to the file's directory); NULL and no error at the end
 * of the chain; `flatten` set when the chain cannot travel file by file
 * (no recorded backing format, an external data file, another format). */
static char *
chain_next (const char *path, char **fmt_out, gboolean *flatten, GError **error)
{
  g_autofree char *backing = NULL;
  g_autofree char *data_file = NULL;
  if (!vk_qcow2_data_file (path, &data_file, error) ||
      !vk_qcow2_backing_file (path, &backing, error))
    return NULL;
  if (data_file != NULL)
    {
      *flatten = TRUE;
      return NULL;
    }
  if (backing == NULL)
    return NULL;
  g_autofree char *fmt = NULL;
  if (!vk_qcow2_backing_format (path, &fmt, error))
    return NULL;
  if (fmt == NULL || (!g_str_equal (fmt, "qcow2") && !g_str_equal (fmt, "raw")))
    {
      *flatten = TRUE;
      return NULL;
    }
  g_autofree char *dir = g_path_get_dirname (path);
  char *full = g_path_is_absolute (backing) ? g_strdup (backing)
                                            : g_build_filename (dir, backing, NULL);
  if (!g_file_test (full, G_FILE_TEST_IS_REGULAR))
    {
      vk_fail (error, VK_ERROR_NOT_FOUND,
               _("%s is backed by %s, which is missing or not a regular file"), path, full);
      g_free (full);
      return NULL;
    }
  *fmt_out = g_steal_pointer (&fmt);
  return full;
}

/* A disk whose chain cannot travel file by file, flattened into one
 * standalone qcow2 in the layout's own directory first. */
static gboolean
layout_flat_disk (Layout *l, VkFrozenDisk *f, GError **error)
{
  /* beside blobs/, removed once stored (and with the layout's directory
   * when anything stops the export) */
  g_autofree char *flat = g_build_filename (l->layout, "flat.qcow2", NULL);
  vk_ops_notice (l->ops, _("Flattening disk %s (%s) into a standalone qcow2...\n"), f->target,
                 f->frozen);
  g_unlink (flat);
  if (!vk_disk_flatten (f->frozen, f->format, flat, error))
    return FALSE;
  g_autofree char *title = g_strdup_printf ("disks/%s.qcow2", f->target);
  g_auto(VkBlobInfo) b = { 0 };
  gboolean ok = layout_file (l, title, VK_OCI_MEDIA_QCOW2, flat, TRUE, &b, error);
  g_unlink (flat);
  return ok;
}

/* Frozen disk `f` and each file of its backing chain, one layer each. */
static gboolean
layout_disk (Layout *l, VkFrozenDisk *f, GError **error)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) fmts = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (files, g_strdup (f->frozen));
  g_ptr_array_add (fmts, g_strdup (g_str_equal (f->format, "raw") ? "raw" : "qcow2"));
  gboolean flatten = !g_str_equal (f->format, "raw") && !g_str_equal (f->format, "qcow2");
  while (!flatten && g_str_equal (fmts->pdata[fmts->len - 1], "qcow2"))
    {
      g_autoptr(GError) local = NULL;
      char *fmt = NULL;
      char *next = chain_next (files->pdata[files->len - 1], &fmt, &flatten, &local);
      if (local)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (next == NULL)
        break;
      g_ptr_array_add (files, next);
      g_ptr_array_add (fmts, fmt);
      if (files->len > CHAIN_MAX)
        return vk_fail (error, VK_ERROR_REFUSED,
                        _("disk %s of image '%s' has a backing chain of more than %d files; "
                          "nothing was exported"), f->target, l->name, CHAIN_MAX);
    }
  if (flatten)
    return layout_flat_disk (l, f, error);
  for (guint i = 0; i < files->len; i++)
    {
      const char *fmt = fmts->pdata[i];
      g_autofree char *title = i == 0 ? g_strdup_printf ("disks/%s.%s", f->target, fmt)
                                      : g_strdup_printf ("disks/%s.%u.%s", f->target, i, fmt);
      g_auto(VkBlobInfo) b = { 0 };
      if (!layout_file (l, title, g_str_equal (fmt, "raw") ? VK_OCI_MEDIA_RAW : VK_OCI_MEDIA_QCOW2,
                        files->pdata[i], TRUE, &b, error))
        return FALSE;
    }
  return TRUE;
}

/* The manifest, the index naming it and oci-layout. */
static gboolean
layout_documents (Layout *l, const char *layout, GError **error)
{
  g_autoptr(VkOciManifest) m = vk_oci_manifest_new ();
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  m->created = g_date_time_format_iso8601 (now);
  m->title = g_strdup (l->name);
  for (guint i = 0; i < l->r->layers->len; i++)
    {
      VkOciLayer *y = l->r->layers->pdata[i];
      g_ptr_array_add (m->layers, vk_oci_descriptor_new (y->media_type, y->digest, y->size,
                                                         y->title));
    }
  g_autofree char *text = vk_oci_manifest_text (m);
  g_auto(VkBlobInfo) mb = { 0 };
  g_auto(VkBlobInfo) eb = { 0 };
  if (!vk_blob_put_data (l->blobdir, text, strlen (text), &mb, error) ||
      !vk_blob_put_data (l->blobdir, VK_OCI_EMPTY_DATA, strlen (VK_OCI_EMPTY_DATA), &eb, error))
    return FALSE;
  l->r->manifest_digest = g_strdup (mb.digest);
  l->r->bytes += mb.size + eb.size;
  g_autoptr(VkOciDescriptor) md = vk_oci_descriptor_new (VK_OCI_MEDIA_MANIFEST, mb.digest,
                                                         mb.size, NULL);
  g_autofree char *index = vk_oci_index_text (md, VK_OCI_ARTIFACT_TYPE, l->name);
  g_autofree char *ipath = g_build_filename (layout, VK_OCI_INDEX_FILE, NULL);
  g_autofree char *lpath = g_build_filename (layout, VK_OCI_LAYOUT_FILE, NULL);
  return vk_file_write_atomic (lpath, VK_OCI_LAYOUT_TEXT, strlen (VK_OCI_LAYOUT_TEXT), 0644,
                               error) &&
         vk_file_write_atomic (ipath, index, strlen (index), 0644, error);
}

static gboolean
layout_write (Layout *l, const char *layout, GError **error)
{
  VkSidecar *sc = l->sc;
  l->blobdir = g_build_filename (layout, "blobs", "sha256", NULL);
  if (g_mkdir_with_parents (l->blobdir, 0755) < 0)
    return vk_fail (error, VK_ERROR_FAILED, _("cannot create %s: %s"), l->blobdir,
                    g_strerror (errno));
  g_autofree char *scpath = g_build_filename (l->imgdir, VK_STORE_SIDECAR, NULL);
  g_auto(VkBlobInfo) sb = { 0 };
  if (!layout_file (l, VK_STORE_SIDECAR, VK_OCI_MEDIA_SIDECAR, scpath, FALSE, &sb, error) ||
      !layout_state (l, error))
    return FALSE;
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    if (!layout_disk (l, sc->frozen_disks->pdata[i], error))
      return FALSE;
  g_autofree char *nvram = g_build_filename (l->imgdir, VK_EXPORT_NVRAM, NULL);
  g_auto(VkBlobInfo) nb = { 0 };
  if (g_file_test (nvram, G_FILE_TEST_IS_REGULAR) &&
      !layout_file (l, VK_EXPORT_NVRAM, VK_OCI_MEDIA_NVRAM, nvram, FALSE, &nb, error))
    return FALSE;
  return vk_ops_check_cancel (l->ops, error) && layout_documents (l, layout, error);
}

/* Write the layout of image `name` (open, `sc` in `imgdir`) into the new
 * empty directory `layout`, with progress. */
VkOciResult *
vk_ops_oci_write (VkOps *ops, const char *name, VkSidecar *sc, const char *imgdir, const char *layout,
           GError **error)
{
  g_autoptr(VkOciResult) r = g_new0 (VkOciResult, 1);
  r->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_oci_layer_free);
  r->tpm_note = sc->tpm ? _(vk_export_tpm_portability) : NULL;
  Layout l = { ops, name, sc, imgdir, layout, NULL, NULL, r, NULL, { 0 }, 0 };
  l.digests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint64 total = sc->state_size;
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    total += ((VkFrozenDisk *) sc->frozen_disks->pdata[i])->size;
  gint64 t0 = g_get_monotonic_time ();
  vk_ops_stream_begin (&l.stream, ops, name, "export", total);
  gboolean ok = layout_write (&l, layout, error);
  vk_ops_stream_end (&l.stream, l.base, ok);
  g_free (l.blobdir);
  g_hash_table_unref (l.digests);
  if (!ok)
    return NULL;
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  return g_steal_pointer (&r);
}

/* The image open under its shared lock, checked as an export checks it. */
VkSidecar *
vk_ops_oci_open (VkOps *ops, const char *name, char **dir, VkLock **lock, GError **error)
{
  g_autoptr(VkSidecar) sc = vk_ops_image_open (ops, name, TRUE, dir, lock, error);
  if (sc == NULL)
    return NULL;
  if (sc->state_file == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' names no state file in its sidecar; it cannot be exported"),
                   name);
      return NULL;
    }
  if (!vk_ops_export_check_disks (name, sc, *dir, error))
    return NULL;
  return g_steal_pointer (&sc);
}

/* Put the finished layout `tmp` in place of `dir`. An existing layout
 * (only with `force`) is swapped with it in one step (renameat2
 * RENAME_EXCHANGE): the old one is then at `tmp`, which the journal
 * removes. Killed at any moment, `dir` is the old layout or the new one
 * and the next vmkeep removes whatever is at `tmp`. */
static gboolean
oci_commit (VkOps *ops, const char *tmp, const char *dir, gboolean force, GError **error)
{
  if (!vk_ops_step (ops, "export-commit", error) || !vk_ops_check_cancel (ops, error))
    return FALSE;
  gboolean swap = force && g_file_test (dir, G_FILE_TEST_EXISTS);
  if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, dir, swap ? RENAME_EXCHANGE : RENAME_NOREPLACE) < 0)
    {
      int e = errno;
      return vk_fail (error, e == EEXIST ? VK_ERROR_REFUSED : VK_ERROR_FAILED,
                      e == EINVAL ? _("cannot put the layout in place of %s: its file system "
                                      "cannot swap two directories (%s); remove it first")
                                  : _("cannot put the layout in place of %s: %s"),
                      dir, g_strerror (e));
    }
  return vk_fsync_parent (dir, error);
}

/* With --force, only a layout is replaced: a DIR that is anything else
 * (a home directory given by mistake) is never swapped out and removed. */
static gboolean
oci_check_target (const char *dir, gboolean force, GError **error)
{
  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!force)
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("%s already exists; remove it, pick another -o DIR, or pass --force to "
                      "replace it"), dir);
  g_autofree char *marker = g_build_filename (dir, VK_OCI_LAYOUT_FILE, NULL);
  struct stat st;
  if (lstat (dir, &st) < 0 || !S_ISDIR (st.st_mode) || lstat (marker, &st) < 0 ||
      !S_ISREG (st.st_mode))
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("%s exists and is not an OCI image layout (no %s in it); --force replaces "
                      "only a layout: remove it yourself or pick another -o DIR"), dir,
                    VK_OCI_LAYOUT_FILE);
  return TRUE;
}

VkOciResult *
vk_ops_image_export_oci (VkOps *ops, const char *name, const char *dir, gboolean force,
                         GError **error)
{
  if (!oci_check_target (dir, force, error))
    return NULL;
  g_autofree char *imgdir = NULL;
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(VkSidecar) sc = vk_ops_oci_open (ops, name, &imgdir, &lock, error);
  if (sc == NULL)
    return NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (ops, "export", name, error);
  if (j == NULL)
    return NULL;
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *base = g_path_get_basename (dir);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s.vmkeep-XXXXXX", parent, base);
  if (g_mkdtemp_full (tmp, 0755) == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create a directory beside %s: %s"),
                   dir, g_strerror (errno));
      vk_journal_commit (j);
      return NULL;
    }
  g_autoptr(VkOciResult) r = NULL;
  if (!vk_journal_push (j, VK_UNDO_RMTREE, error, tmp, NULL) ||
      (r = vk_ops_oci_write (ops, name, sc, imgdir, tmp, error)) == NULL ||
      !oci_commit (ops, tmp, dir, force, error))
    {
      vk_journal_rollback (j, NULL);
      if (g_file_test (tmp, G_FILE_TEST_EXISTS))
        vk_rm_rf (tmp, NULL);
      if (g_cancellable_is_cancelled (ops->cancel))
        {
          g_clear_error (error);
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("export of image '%s' interrupted; %s was not written"), name, dir);
        }
      return NULL;
    }
  /* the old layout (--force), swapped to `tmp`; left to recovery, with its
   * journal, when it cannot be removed now */
  if (!g_file_test (tmp, G_FILE_TEST_EXISTS) || vk_rm_rf (tmp, NULL))
    vk_journal_commit (j);
  return g_steal_pointer (&r);
}
