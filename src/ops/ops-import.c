/* vmkeep — image import: an export stream (ops-export.h) read into a
 * partial image directory, checked against its manifest, passed through
 * the trust boundary (trust.h) and published as a new image. Everything is
 * checked before anything becomes visible; the undo journal removes the
 * partial directory whatever stops the import. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "journal.h"
#include "oci.h"
#include "oci-blob.h"
#include "ops-export.h"
#include "ops-host.h"
#include "ops-image.h"
#include "ops-oci.h"
#include "save-header.h"
#include "sidecar.h"
#include "store.h"
#include "tar.h"
#include "trust.h"
#include "validate.h"
#include "vk-error.h"

/* The sidecar embeds a domain XML: small, but allow generous ones. */
#define EXPORT_SIDECAR_MAX (16u << 20)
#define EXPORT_MANIFEST_MAX (1u << 20)

/* One import under way. */
typedef struct {
  VkOps *ops;
  const char *source;
  const char *name_opt;
  GHashTable *got;          /* member name -> VkExportMember* */
  GBytes *sidecar;
  GBytes *manifest;
  VkSidecar *early;         /* the sidecar, parsed when it arrived (first) */
  char *partial;
  int lock_fd;
  VkJournal *j;
  VkSidecar *sc;            /* the sidecar, checked */
  char *image;
  char *final;
  gboolean oci;             /* from an OCI image layout: no manifest.json, disks
                               may come as chains (ops-oci.h) */
} Import;

static void
import_clear (Import *im)
{
  g_clear_pointer (&im->got, g_hash_table_unref);
  g_clear_pointer (&im->sidecar, g_bytes_unref);
  g_clear_pointer (&im->manifest, g_bytes_unref);
  g_clear_pointer (&im->early, vk_sidecar_free);
  g_clear_pointer (&im->sc, vk_sidecar_free);
  g_clear_pointer (&im->partial, g_free);
  g_clear_pointer (&im->image, g_free);
  g_clear_pointer (&im->final, g_free);
  g_clear_pointer (&im->j, vk_journal_free);
}

void
vk_import_result_free (VkImportResult *r)
{
  if (r == NULL)
    return;
  g_free (r->image);
  g_free (r->directory);
  g_free (r->domain);
  g_free (r->uuid);
  g_free (r);
}

gboolean
vk_ops_import_name_free (VkOps *ops, const char *name, GError **error)
{
  if (!vk_validate_name ("image name", name, error))
    return FALSE;
  g_autofree char *final = vk_store_image_dir (ops->cfg->store_dir, name);
  if (g_file_test (final, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' already exists in %s; import under another --name or "
                     "remove it with 'vmkeep image rm %s'"), name, ops->cfg->store_dir, name);
      return FALSE;
    }
  return TRUE;
}

/* ---- reading the stream --------------------------------------------------- */

/* "disks/vda.qcow2" -> target "vda", format "qcow2"; FALSE for any other
 * shape (the names an export uses are fixed, so anything else is foreign). */
static gboolean
disk_member_parse (const char *name, char **target, char **format)
{
  if (!g_str_has_prefix (name, "disks/"))
    return FALSE;
  const char *file = name + strlen ("disks/");
  const char *dot = strrchr (file, '.');
  if (dot == NULL || dot == file || dot - file > 32)
    return FALSE;
  if (!g_str_equal (dot + 1, "qcow2") && !g_str_equal (dot + 1, "raw"))
    return FALSE;
  for (const char *p = file; p < dot; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p))
      return FALSE;
  *target = g_strndup (file, dot - file);
  *format = g_strdup (dot + 1);
  return TRUE;
}

/* Copy the current member into `path` (a new file, 0600). */
static gboolean
import_file (VkTarReader *r, const char *path, gboolean sparse, char **sha, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create %s: %s"), path,
                   g_strerror (e));
      return FALSE;
    }
  gboolean ok = vk_tar_reader_copy (r, fd, path, sparse, sha, error);
  if (ok && fsync (fd) < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write %s: %s"), path,
                   g_strerror (e));
      ok = FALSE;
    }
  close (fd);
  return ok;
}

/* An export carries its sidecar first: every larger member is held to the
 * size the sidecar gives it before a byte is copied (a sparse member could
 * claim any size with next to no data). */
static gboolean
import_claim_limit (Import *im, const char *name, guint64 *limit_out, GError **error)
{
  guint64 limit = 0;
  if (im->early == NULL)
    return vk_refuse (error, im->source,
                      _("member '%s' comes before %s; an export carries its sidecar "
                        "first"), name, VK_STORE_SIDECAR);
  if (g_str_equal (name, VK_STORE_STATE))
    limit = im->early->state_size;
  else if (g_str_equal (name, VK_EXPORT_NVRAM))
    limit = 64u << 20;
  else
    {
      for (guint i = 0; i < im->early->frozen_disks->len; i++)
        limit = MAX (limit, ((VkFrozenDisk *) im->early->frozen_disks->pdata[i])->size);
      /* A disk whose frozen file had a backing chain on the exporting host
       * comes flattened (or its bases come as files of their own): larger
       * than the frozen file the sidecar records, and the sidecar comes
       * first. Such a member is held to what the store can take instead
       * (an import that does not fit fails anyway; the manifest at the
       * end, or the layer's digest, then checks it). */
      guint64 room = 0;
      if (im->partial && vk_statvfs_free_bytes (im->partial, &room, NULL))
        limit = MAX (limit, room);
    }
  *limit_out = limit;
  return TRUE;
}

static gboolean
import_check_claim (Import *im, const char *name, guint64 size, GError **error)
{
  if (g_str_equal (name, VK_STORE_SIDECAR) || g_str_equal (name, VK_EXPORT_MANIFEST))
    return TRUE;
  guint64 limit = 0;
  if (!import_claim_limit (im, name, &limit, error))
    return FALSE;
  if (size > limit)
    return vk_refuse (error, im->source,
                      _("member '%s' claims %" PRIu64 " bytes, more than the sidecar "
                        "records (%" PRIu64 "); the export is damaged"), name,
                      size, limit);
  return TRUE;
}

static gboolean import_parse_early (Import *im, GError **error);

/* The sidecar, kept in memory and parsed at once (it bounds the rest). */
static gboolean
import_read_sidecar (Import *im, VkTarReader *r, char **sha, GError **error)
{
  im->sidecar = vk_tar_reader_read (r, EXPORT_SIDECAR_MAX, sha, error);
  return im->sidecar != NULL && import_parse_early (im, error);
}

/* The sidecar that arrived (first), parsed at once: it bounds the rest. */
static gboolean
import_parse_early (Import *im, GError **error)
{
  gsize len = 0;
  const char *text = g_bytes_get_data (im->sidecar, &len);
  g_autofree char *scname = g_strdup_printf ("%s:%s", im->source, VK_STORE_SIDECAR);
  g_autoptr(GError) local = NULL;
  im->early = vk_sidecar_parse (text, (gssize) len, scname, &local);
  if (im->early == NULL)
    return vk_refuse (error, im->source, _("its sidecar does not parse: %s"),
                      local->message);
  return TRUE;
}

/* A frozen disk, into disks/ of the partial directory. */
static gboolean
import_disk_dir (Import *im, GError **error)
{
  g_autofree char *ddir = g_build_filename (im->partial, "disks", NULL);
  if (!g_file_test (ddir, G_FILE_TEST_IS_DIR) && g_mkdir (ddir, 0711) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create %s: %s"), ddir,
                   g_strerror (errno));
      return FALSE;
    }
  g_chmod (ddir, 0711);
  return TRUE;
}

static gboolean
import_read_disk (Import *im, VkTarReader *r, const char *name, char **sha, GError **error)
{
  if (!import_disk_dir (im, error))
    return FALSE;
  g_autofree char *path = g_build_filename (im->partial, name, NULL);
  return import_file (r, path, TRUE, sha, error);
}

/* The current member, where it belongs; `sha` gets its SHA-256. */
static gboolean
import_member (Import *im, VkTarReader *r, VkTarEntry *e, char **sha, char **target,
               char **format, GError **error)
{
  if (g_str_equal (e->name, VK_STORE_SIDECAR))
    return import_read_sidecar (im, r, sha, error);
  if (g_str_equal (e->name, VK_EXPORT_MANIFEST))
    return (im->manifest = vk_tar_reader_read (r, EXPORT_MANIFEST_MAX, sha, error)) != NULL;
  if (g_str_equal (e->name, VK_STORE_STATE))
    {
      g_autofree char *path = g_build_filename (im->partial, "." VK_STORE_STATE ".import",
                                                NULL);
      /* a sparse state keeps its holes */
      return import_file (r, path, TRUE, sha, error);
    }
  if (g_str_equal (e->name, VK_EXPORT_NVRAM))
    {
      g_autofree char *path = g_build_filename (im->partial, VK_EXPORT_NVRAM, NULL);
      return import_file (r, path, FALSE, sha, error);
    }
  if (disk_member_parse (e->name, target, format))
    return import_read_disk (im, r, e->name, sha, error);
  g_autofree char *shown = g_strescape (e->name, NULL);
  return vk_refuse (error, im->source,
                    _("unknown member '%s'; an image export holds %s, %s, "
                      "disks/TARGET.qcow2|raw, %s and %s only (is it an export of "
                      "a newer vmkeep?)"), shown, VK_STORE_SIDECAR, VK_STORE_STATE,
                    VK_EXPORT_NVRAM, VK_EXPORT_MANIFEST);
}

/* Read the whole stream into the partial directory, members under their
 * final names except the state, kept as a dot-file until everything
 * checked out (a complete state.sav in a partial directory means
 * "interrupted hibernate" to the store's cleanup). */
static gboolean
import_read (Import *im, VkTarReader *r, GError **error)
{
  for (;;)
    {
      g_autoptr(VkTarEntry) e = NULL;
      if (!vk_tar_reader_next (r, &e, error))
        return FALSE;
      if (e == NULL)
        return TRUE;
      if (e->type == VK_TAR_DIR)
        {
          if (g_str_equal (e->name, "disks"))
            continue;
          return vk_refuse (error, im->source,
                            _("unknown directory '%s' in the stream; an image export holds "
                              "%s, %s, disks/, %s and %s only"), e->name, VK_STORE_SIDECAR,
                            VK_STORE_STATE, VK_EXPORT_NVRAM, VK_EXPORT_MANIFEST);
        }
      if (g_hash_table_contains (im->got, e->name))
        return vk_refuse (error, im->source, _("member '%s' appears twice"), e->name);
      char *sha = NULL;
      g_autofree char *target = NULL;
      g_autofree char *format = NULL;
      if (!import_check_claim (im, e->name, e->size, error) ||
          !import_member (im, r, e, &sha, &target, &format, error))
        {
          g_free (sha);
          return FALSE;
        }
      VkExportMember *m = g_new0 (VkExportMember, 1);
      m->name = g_strdup (e->name);
      m->size = e->size;
      m->sha256 = sha;
      m->target = g_steal_pointer (&target);
      m->format = g_steal_pointer (&format);
      g_hash_table_insert (im->got, m->name, m);
    }
}

/* The stream from `in`, with progress (the file's size as the total when
 * it is one) and cancellation. */
static gboolean
import_receive (Import *im, int in, GError **error)
{
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in, im->source);
  struct stat ist;
  VkOpsStream s;
  vk_ops_stream_begin (&s, im->ops, im->source, "import",
                       fstat (in, &ist) == 0 && S_ISREG (ist.st_mode) ? (guint64) ist.st_size : 0);
  vk_tar_reader_set_progress (r, vk_ops_stream_at, &s);
  vk_tar_reader_set_cancel (r, im->ops->cancel);
  gboolean ok = import_read (im, r, error);
  vk_ops_stream_end (&s, 0, ok);
  return ok;
}

/* ---- reading an OCI image layout (ops-oci.h) ------------------------------ */

/* A document of the layout, read whole (at most VK_OCI_DOC_MAX bytes). */
static GBytes *
oci_read_doc (Import *im, const char *layout, const char *file, GError **error)
{
  g_autofree char *path = g_build_filename (layout, file, NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  struct stat st;
  if (lstat (path, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > VK_OCI_DOC_MAX ||
      !g_file_get_contents (path, &text, &len, &local))
    {
      vk_refuse (error, im->source, _("%s is missing, too large or unreadable; it is not "
                                      "an OCI image layout"), file);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&text), len);
}

/* One layer, checked against its digest and size while it is copied to
 * where its file belongs (the sidecar: into memory, first). */
static gboolean
oci_read_layer (Import *im, const char *layout, const VkOciDescriptor *d, guint i,
                VkOpsStream *s, GError **error)
{
  gboolean zstd = FALSE;
  VkOciLayerKind kind;
  if (!vk_oci_layer_kind (d, im->source, &kind, &zstd, error) ||
      !vk_ops_check_cancel (im->ops, error))
    return FALSE;
  g_autofree char *blob = vk_oci_blob_path (layout, d->digest);
  gboolean sidecar = kind == VK_OCI_LAYER_SIDECAR;
  if (sidecar != (i == 0))
    return vk_refuse (error, im->source,
                      _("layer %u is '%s'; a vmkeep image carries its sidecar (%s) first"),
                      i + 1, d->title, VK_STORE_SIDECAR);
  char *sha = NULL;
  guint64 size = 0;
  if (sidecar)
    {
      im->sidecar = vk_blob_get_data (blob, d->digest, d->size, EXPORT_SIDECAR_MAX,
                                      im->source, error);
      if (im->sidecar == NULL || !import_parse_early (im, error))
        return FALSE;
      sha = g_strdup (d->digest + strlen ("sha256:"));
      size = d->size;
    }
  else
    {
      if ((kind == VK_OCI_LAYER_DISK || kind == VK_OCI_LAYER_BASE) &&
          !import_disk_dir (im, error))
        return FALSE;
      g_autofree char *dst = g_build_filename (im->partial, kind == VK_OCI_LAYER_STATE
                                               ? "." VK_STORE_STATE ".import" : d->title, NULL);
      guint64 limit = G_MAXUINT64;
      if (!import_claim_limit (im, d->title, &limit, error) ||
          !vk_blob_get_file (blob, d->digest, d->size, zstd, dst, limit, im->source,
                             im->ops->cancel, vk_ops_stream_at, s, &sha, &size, error))
        return FALSE;
    }
  VkExportMember *m = g_new0 (VkExportMember, 1);
  m->name = g_strdup (d->title);
  m->size = size;
  m->sha256 = sha;
  g_hash_table_insert (im->got, m->name, m);
  return TRUE;
}

/* The layout's image: oci-layout, the index, the manifest it names (its
 * digest checked), then every layer. */
static gboolean
import_receive_oci (Import *im, const char *layout, const char *ref, GError **error)
{
  g_autoptr(GBytes) lo = oci_read_doc (im, layout, VK_OCI_LAYOUT_FILE, error);
  g_autoptr(GBytes) ix = lo ? oci_read_doc (im, layout, VK_OCI_INDEX_FILE, error) : NULL;
  gsize len = 0;
  const char *text = lo ? g_bytes_get_data (lo, &len) : NULL;
  if (ix == NULL || !vk_oci_layout_parse (text, len, im->source, error))
    return FALSE;
  text = g_bytes_get_data (ix, &len);
  g_autoptr(VkOciDescriptor) md = vk_oci_index_find (text, len, ref, im->source, error);
  if (md == NULL)
    return FALSE;
  g_autofree char *mpath = vk_oci_blob_path (layout, md->digest);
  g_autoptr(GBytes) mb = vk_blob_get_data (mpath, md->digest, md->size, VK_OCI_DOC_MAX,
                                           im->source, error);
  if (mb == NULL)
    return FALSE;
  text = g_bytes_get_data (mb, &len);
  g_autoptr(VkOciManifest) m = vk_oci_manifest_parse (text, len, im->source, error);
  if (m == NULL)
    return FALSE;
  im->image = g_strdup (m->title);
  guint64 total = 0;
  for (guint i = 0; i < m->layers->len; i++)
    total += ((VkOciDescriptor *) m->layers->pdata[i])->size;
  VkOpsStream s;
  vk_ops_stream_begin (&s, im->ops, im->source, "import", total);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < m->layers->len; i++)
    ok = oci_read_layer (im, layout, m->layers->pdata[i], i, &s, error);
  vk_ops_stream_end (&s, 0, ok);
  return ok;
}

/* ---- checking what arrived ------------------------------------------------ */

/* Every member against the manifest, and the manifest against the stream:
 * same names, sizes and SHA-256. Returns the image name it records. */
static gboolean
import_check_manifest (Import *im, GError **error)
{
  gsize len = 0;
  const char *text = g_bytes_get_data (im->manifest, &len);
  g_autoptr(VkManifest) man = vk_manifest_parse (text, len, im->source, error);
  if (man == NULL)
    return FALSE;
  g_autoptr(GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < man->members->len; i++)
    {
      VkManifestMember *mm = man->members->pdata[i];
      VkExportMember *got = g_hash_table_lookup (im->got, mm->name);
      if (got == NULL)
        return vk_refuse (error, im->source,
                          _("member '%s' is listed in %s but missing from the stream: the "
                            "export is incomplete"), mm->name, VK_EXPORT_MANIFEST);
      if (got->size != mm->size)
        return vk_refuse (error, im->source,
                          _("member '%s' has %" PRIu64 " bytes, the manifest says %"
                            PRIu64 ": the export is damaged"), mm->name, got->size,
                          mm->size);
      if (g_ascii_strcasecmp (got->sha256, mm->sha256) != 0)
        return vk_refuse (error, im->source,
                          _("checksum mismatch for member '%s' (SHA-256 %s, the manifest "
                            "says %s): the export is damaged, copy it again"), mm->name,
                          got->sha256, mm->sha256);
      g_hash_table_add (listed, (gpointer) got->name);
    }
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, im->got);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_str_equal (key, VK_EXPORT_MANIFEST) && !g_hash_table_contains (listed, key))
      return vk_refuse (error, im->source,
                        _("member '%s' is not listed in %s; refusing unknown content"),
                        (const char *) key, VK_EXPORT_MANIFEST);
  im->image = g_strdup (man->image);
  return TRUE;
}

/* A complete export whose manifest holds, with a hibernate image's
 * sidecar. */
static gboolean
import_check_complete (Import *im, GError **error)
{
  if (im->sidecar == NULL || (im->manifest == NULL && !im->oci) ||
      !g_hash_table_contains (im->got, VK_STORE_STATE))
    return vk_refuse (error, im->source,
                      _("the stream lacks %s; it is not a complete vmkeep image export"),
                      im->manifest == NULL && !im->oci ? VK_EXPORT_MANIFEST
                      : im->sidecar == NULL ? VK_STORE_SIDECAR : VK_STORE_STATE);
  /* a layout's blobs were checked against their digests as they were read */
  if (!im->oci && !import_check_manifest (im, error))
    return FALSE;
  g_autofree char *scname = g_strdup_printf ("%s:%s", im->source, VK_STORE_SIDECAR);
  gsize len = 0;
  const char *text = g_bytes_get_data (im->sidecar, &len);
  g_autoptr(GError) local = NULL;
  im->sc = vk_sidecar_parse (text, (gssize) len, scname, &local);
  if (im->sc == NULL)
    return vk_refuse (error, im->source, _("its sidecar does not parse: %s"),
                      local->message);
  if (im->sc->mode != VK_SIDECAR_IMAGE)
    return vk_refuse (error, im->source,
                      _("its sidecar is not a hibernate image's (mode %s)"),
                      vk_sidecar_mode_to_string (im->sc->mode));
  return TRUE;
}

/* What the VM needs from this host to ever run again, and its state as
 * the sidecar records it. */
static gboolean
import_check_needs (Import *im, GError **error)
{
  VkSidecar *sc = im->sc;
  const char *missing = sc->tpm ? vk_ops_swtpm_missing () : NULL;
  if (missing)
    return vk_refuse (error, im->source,
                      _("the VM has a TPM 2.0 and this host cannot emulate one (%s not "
                        "found); install Debian's 'swtpm' and 'swtpm-tools' packages"),
                      missing);
  if (sc->nvram_path != NULL || g_hash_table_contains (im->got, VK_EXPORT_NVRAM))
    {
      const char *fwdir = vk_ops_firmware_dir ();
      gboolean uefi, secure;
      vk_ops_firmware_scan (fwdir, &uefi, &secure);
      if (!uefi)
        return vk_refuse (error, im->source,
                          _("the VM boots with UEFI and this host has no UEFI firmware "
                            "for x86_64 in %s; install Debian's 'ovmf' package"), fwdir);
    }
  VkExportMember *st = g_hash_table_lookup (im->got, VK_STORE_STATE);
  if (sc->state_sha256 == NULL || st->size != sc->state_size ||
      g_ascii_strcasecmp (st->sha256, sc->state_sha256) != 0)
    return vk_refuse (error, im->source,
                      _("%s has %" PRIu64 " bytes and SHA-256 %s, the sidecar says %"
                        PRIu64 " bytes and %s: the state is damaged or was replaced"),
                      VK_STORE_STATE, st->size, st->sha256, sc->state_size,
                      sc->state_sha256 ? sc->state_sha256 : "-");
  return TRUE;
}

/* The new image's name: --name, else the one the export records. */
static gboolean
import_pick_name (Import *im, GError **error)
{
  const char *store = im->ops->cfg->store_dir;
  if (im->name_opt)
    {
      g_free (im->image);
      im->image = g_strdup (im->name_opt);
    }
  if (im->image == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("the export does not name its image; give --name NAME"));
      return FALSE;
    }
  if (!im->name_opt && !vk_validate_name ("image name", im->image, NULL))
    return vk_refuse (error, im->source,
                      _("the image name '%s' it records is not valid here; give --name "
                        "NAME"), im->image);
  im->final = vk_store_image_dir (store, im->image);
  if (!im->name_opt && g_file_test (im->final, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' already exists in %s; import under another --name; nothing "
                     "was imported"), im->image, store);
      return FALSE;
    }
  return TRUE;
}

/* The file `mname` of a disk, arrived as `path`: a qcow2 (when `fmt` says
 * so) without an external data file, with a backing file exactly when
 * `based` (an export stream carries standalone disks only). */
static gboolean
import_check_file (Import *im, const char *mname, const char *path, const char *fmt,
                   gboolean based, GError **error)
{
  if (!g_str_equal (fmt, "qcow2"))
    return TRUE;
  g_autofree char *probed = NULL;
  g_autofree char *backing = NULL;
  g_autofree char *data_file = NULL;
  g_autoptr(GError) local = NULL;
  if (!(probed = vk_disk_probe_format (path, &local)) || !g_str_equal (probed, "qcow2") ||
      !vk_qcow2_backing_file (path, &backing, &local))
    return vk_refuse (error, im->source, _("disk %s is not a readable qcow2 image%s"),
                      mname, local ? local->message : "");
  if (backing != NULL && !based)
    return vk_refuse (error, im->source,
                      im->oci ? _("disk %s is a qcow2 overlay on %s, but the image carries "
                                  "no base for it")
                              : _("disk %s is a qcow2 overlay on %s; an export carries "
                                  "standalone disks only"), mname, backing);
  if (backing == NULL && based)
    return vk_refuse (error, im->source,
                      _("disk %s has no backing file, but the image carries a base for "
                        "it"), mname);
  /* QEMU would read and write the guest's disk in that host file */
  if (!vk_qcow2_data_file (path, &data_file, &local) || data_file != NULL)
    return vk_refuse (error, im->source,
                      data_file ? _("disk %s keeps its data in the host file “%s” (a qcow2 "
                                    "external data file); an image carries disks with "
                                    "their data only")
                                : _("disk %s is not a readable qcow2 image%s"),
                      mname, data_file ? data_file : local ? local->message : "");
  return TRUE;
}

/* The base N (1, 2, ...) of disk `target` that arrived from a layout:
 * its member name and format, or NULL. */
static VkExportMember *
import_base (Import *im, const char *target, guint n, const char **fmt)
{
  static const char *const fmts[] = { "qcow2", "raw" };
  for (guint i = 0; im->oci && i < G_N_ELEMENTS (fmts); i++)
    {
      g_autofree char *mname = g_strdup_printf ("disks/%s.%u.%s", target, n, fmts[i]);
      VkExportMember *m = g_hash_table_lookup (im->got, mname);
      if (m)
        {
          *fmt = fmts[i];
          return m;
        }
    }
  return NULL;
}

/* Frozen disk `f` arrived: standalone, or (from a layout) with the files
 * of its backing chain, each pointed at the next by a relative name (the
 * directory is renamed when the image is published). The sidecar is
 * pointed at it, its digest taken anew; `known` gets the members used. */
static gboolean
import_check_disk (Import *im, VkFrozenDisk *f, GHashTable *known, GError **error)
{
  const char *fmt = g_str_equal (f->format, "raw") ? "raw" : "qcow2";
  g_autofree char *mname = g_strdup_printf ("disks/%s.%s", f->target, fmt);
  VkExportMember *m = g_hash_table_lookup (im->got, mname);
  if (m == NULL)
    return vk_refuse (error, im->source, _("frozen disk %s (%s) is missing from the stream"),
                      f->target, mname);
  g_hash_table_add (known, m->name);
  g_autofree char *path = g_build_filename (im->partial, mname, NULL);
  const char *cur_name = m->name;
  g_autofree char *cur = g_strdup (path);
  const char *cur_fmt = fmt;
  for (guint n = 1;; n++)
    {
      const char *bfmt = NULL;
      VkExportMember *b = g_str_equal (cur_fmt, "qcow2") ? import_base (im, f->target, n, &bfmt)
                                                        : NULL;
      if (!import_check_file (im, cur_name, cur, cur_fmt, b != NULL, error))
        return FALSE;
      if (b == NULL)
        break;
      g_hash_table_add (known, b->name);
      g_autofree char *leaf = g_path_get_basename (b->name);
      if (!vk_disk_rebase_unsafe (cur, leaf, bfmt, error))
        return FALSE;
      g_free (cur);
      cur = g_build_filename (im->partial, b->name, NULL);
      cur_name = b->name;
      cur_fmt = bfmt;
    }
  struct stat st;
  if (stat (path, &st) < 0)
    return vk_refuse (error, im->source, _("cannot read %s: %s"), path, g_strerror (errno));
  g_free (f->frozen);
  f->frozen = g_steal_pointer (&path);   /* checked below, then moved */
  f->size = (guint64) st.st_size;
  f->format = (g_free (f->format), g_strdup (fmt));
  /* the content was checked against the manifest: its digest is taken
   * anew here (the file's mtime is this import's) */
  g_autoptr(GError) local = NULL;
  g_clear_pointer (&f->meta_sha256, g_free);
  if (!vk_disk_digest (f->frozen, f->format, &f->meta_sha256, &local))
    return vk_refuse (error, im->source, "%s", local->message);
  return TRUE;
}

/* Each frozen disk arrived, and nothing else did. */
static gboolean
import_check_disks (Import *im, GError **error)
{
  VkSidecar *sc = im->sc;
  g_autoptr(GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    if (!import_check_disk (im, sc->frozen_disks->pdata[i], known, error))
      return FALSE;
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, im->got);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      VkExportMember *m = value;
      if (g_str_has_prefix (m->name, "disks/") && !g_hash_table_contains (known, m->name))
        return vk_refuse (error, im->source,
                          _("member '%s' is not one of the image's frozen disks"), m->name);
    }
  return TRUE;
}

/* The state under its name, then refused here rather than by every later
 * wake when this host could never resume it (another libvirt/QEMU
 * generation), and before the trust boundary asks libvirt about its
 * machine. */
static gboolean
import_check_state (Import *im, GError **error)
{
  g_autofree char *tmpstate = g_build_filename (im->partial, "." VK_STORE_STATE ".import", NULL);
  g_autofree char *state = g_build_filename (im->partial, VK_STORE_STATE, NULL);
  if (rename (tmpstate, state) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot rename %s to %s: %s"),
                   tmpstate, state, g_strerror (errno));
      return FALSE;
    }
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_autoptr(xmlDoc) hdoc = NULL;
  return vk_save_header_read (state, &hdr, error) &&
         (hdoc = vk_xml_parse (hdr->xml, -1, state, error)) != NULL &&
         vk_ops_image_check_host (im->ops->conn, im->sc, hdr, hdoc, im->image, error);
}

/* ---- the trust boundary --------------------------------------------------- */

/* The places of this host the image's paths become. */
typedef struct {
  GHashTable *disks;        /* target -> this host's path */
  char *nvram;
  char **emulators;
  char **loaders;
  VkTrustPolicy policy;
} Trust;

static void
trust_clear (Trust *t)
{
  g_clear_pointer (&t->disks, g_hash_table_unref);
  g_clear_pointer (&t->nvram, g_free);
  g_clear_pointer (&t->emulators, g_strfreev);
  g_clear_pointer (&t->loaders, g_strfreev);
}

static gboolean
trust_policy (Import *im, xmlDocPtr doc, Trust *t, GError **error)
{
  VkConfig *cfg = im->ops->cfg;
  VkSidecar *sc = im->sc;
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr os = vk_xml_child (root, "os");
  xmlNodePtr type = os ? vk_xml_child (os, "type") : NULL;
  g_autofree char *arch = type ? vk_xml_prop (type, "arch") : NULL;
  g_autofree char *machine = type ? vk_xml_prop (type, "machine") : NULL;
  g_autofree char *virt = vk_xml_prop (root, "type");
  t->emulators = vk_conn_emulators (im->ops->conn, arch ? arch : "x86_64", error);
  if (t->emulators == NULL)
    return FALSE;
  t->loaders = vk_conn_firmware_files (im->ops->conn, arch ? arch : "x86_64", machine, virt,
                                       error);
  if (t->loaders == NULL)
    return FALSE;
  t->disks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_autofree char *leaf = g_strdup_printf ("%s-%s.qcow2", im->image, f->target);
      g_hash_table_insert (t->disks, g_strdup (f->target),
                           g_build_filename (cfg->disk_dir, leaf, NULL));
    }
  g_autofree char *nvfile = g_strdup_printf ("%s_VARS.fd", sc->domain_name);
  t->nvram = g_build_filename (cfg->nvram_dir, nvfile, NULL);
  VkTrustPolicy policy = { t->disks, t->nvram, cfg->log_dir,
                           (const char *const *) t->emulators,
                           (const char *const *) t->loaders,
                           (const char *const *) cfg->kernel_dirs };
  t->policy = policy;
  return TRUE;
}

/* The sidecar: its domain XML rewritten, the identity unchanged by it,
 * the disks and NVRAM at this host's places. */
static gboolean
trust_sidecar (Import *im, xmlDocPtr doc, Trust *t, GError **error)
{
  VkSidecar *sc = im->sc;
  if (!vk_trust_domain_xml (doc, &t->policy, im->source, error))
    return FALSE;
  g_autoptr(VkIdentity) id = vk_identity_from_domain (doc, error);
  if (id == NULL)
    return FALSE;
  g_autoptr(GPtrArray) drift = vk_identity_compare (sc->identity, id);
  if (drift->len > 0)
    return vk_refuse (error, im->source, _("the trusted rewrite changed the identity (%s)"),
                      (const char *) drift->pdata[0]);
  vk_identity_free (sc->identity);
  sc->identity = g_steal_pointer (&id);
  g_free (sc->domain_xml);
  sc->domain_xml = vk_xml_format (doc);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_free (f->original);
      f->original = g_strdup (g_hash_table_lookup (t->disks, f->target));
    }
  if (sc->nvram_path)
    {
      g_free (sc->nvram_path);
      sc->nvram_path = g_strdup (t->nvram);
    }
  return TRUE;
}

/* The same rewrite of the XML inside state.sav: its header is rewritten in
 * place (the stream offset does not move) and the state hashed again. */
static gboolean
trust_state (Import *im, Trust *t, GError **error)
{
  VkSidecar *sc = im->sc;
  g_autofree char *state = g_build_filename (im->partial, VK_STORE_STATE, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (!vk_save_header_read (state, &hdr, error))
    return FALSE;
  g_autofree char *hsource = g_strdup_printf ("%s:%s", im->source, VK_STORE_STATE);
  g_autoptr(xmlDoc) hdoc = vk_xml_parse (hdr->xml, -1, hsource, error);
  if (hdoc == NULL || !vk_trust_domain_xml (hdoc, &t->policy, hsource, error))
    return FALSE;
  g_autofree char *hxml = vk_xml_format (hdoc);
  g_autoptr(GBytes) head = vk_save_header_emit (hdr, hxml, -1, error);
  if (head == NULL)
    return FALSE;
  int fd = open (state, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  gsize hlen = 0;
  const guint8 *hdata = g_bytes_get_data (head, &hlen);
  gboolean ok = fd >= 0 && pwrite (fd, hdata, hlen, 0) == (ssize_t) hlen && fsync (fd) == 0;
  int e = errno;
  if (fd >= 0)
    close (fd);
  if (!ok)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot rewrite the header of %s: %s"),
                   state, g_strerror (e));
      return FALSE;
    }
  g_clear_pointer (&sc->state_sha256, g_free);
  gint64 t0 = g_get_monotonic_time ();
  if (!vk_file_sha256 (state, &sc->state_sha256, &sc->state_size, error))
    return FALSE;
  g_debug ("import: state re-hashed after the header rewrite in %.3f s",
           (g_get_monotonic_time () - t0) / 1e6);
  return TRUE;
}

/* The trust boundary (trust.h): every host path the image carries, in its
 * sidecar and in the XML inside state.sav, becomes one of this host's
 * places, and whatever would make this host run or read something of the
 * image's choosing is refused. */
static gboolean
import_trust (Import *im, GError **error)
{
  g_autoptr(xmlDoc) doc = vk_xml_parse (im->sc->domain_xml, -1, im->source, error);
  if (doc == NULL)
    return FALSE;
  Trust t = { 0 };
  gboolean ok = trust_policy (im, doc, &t, error) && trust_sidecar (im, doc, &t, error) &&
                trust_state (im, &t, error);
  trust_clear (&t);
  return ok;
}

/* The same checks as 'image verify' (the checksums are done), against the
 * files where they are now. */
static gboolean
import_verify (Import *im, GError **error)
{
  g_free (im->sc->state_file);
  im->sc->state_file = g_strdup (VK_STORE_STATE);
  g_autoptr(GPtrArray) problems = vk_ops_image_verify (im->sc, im->partial, FALSE);
  if (problems->len > 0)
    return vk_refuse (error, im->source, "%s", (const char *) problems->pdata[0]);
  return TRUE;
}

/* ---- publishing ----------------------------------------------------------- */

/* Point the sidecar at the disks' final place, publish the directory under
 * the image's exclusive lock, and write the sidecar last: until it exists
 * the image is not listed. */
static gboolean
import_commit (Import *im, GError **error)
{
  for (guint i = 0; i < im->sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = im->sc->frozen_disks->pdata[i];
      g_autofree char *file = g_strdup_printf ("%s.%s", f->target, f->format);
      g_free (f->frozen);
      f->frozen = g_build_filename (im->final, "disks", file, NULL);
    }
  g_autoptr(VkLock) lock = vk_ops_lock_image (im->ops, im->image, FALSE, error);
  if (lock == NULL)
    return FALSE;
  int lock_fd = im->lock_fd;
  im->lock_fd = -1;   /* commit closes it on failure */
  if (!vk_store_partial_commit (im->ops->cfg->store_dir, im->partial, im->image, lock_fd, error))
    return FALSE;
  /* the journal removes the published directory now, not the partial one */
  vk_journal_pop (im->j);
  if (!vk_journal_push (im->j, VK_UNDO_RMTREE, error, im->final, NULL) ||
      !vk_ops_step (im->ops, "import-sidecar", error))
    {
      vk_rm_rf (im->final, NULL);
      close (lock_fd);
      return FALSE;
    }
  g_chmod (im->final, 0711);
  g_autofree char *sidecar = g_build_filename (im->final, VK_STORE_SIDECAR, NULL);
  if (!vk_sidecar_save (im->sc, sidecar, error))
    {
      close (lock_fd);
      return FALSE;
    }
  vk_store_image_finish (im->final, lock_fd);
  return TRUE;
}

/* The journal, then the partial directory it removes. */
static gboolean
import_begin (Import *im, GError **error)
{
  im->j = vk_journal_begin (im->ops, "import", im->name_opt ? im->name_opt : "import", error);
  if (im->j == NULL)
    return FALSE;
  im->partial = vk_ops_image_partial_new (im->ops, im->j, im->name_opt ? im->name_opt : "import",
                                          &im->lock_fd, error);
  if (im->partial == NULL)
    {
      vk_journal_commit (im->j);   /* nothing to undo */
      return FALSE;
    }
  return TRUE;
}

/* Everything is checked before anything becomes visible. */
static gboolean
import_check (Import *im, GError **error)
{
  if (!vk_ops_step (im->ops, "import-received", error) ||
      !import_check_complete (im, error) || !import_check_needs (im, error) ||
      !import_pick_name (im, error) || !import_check_disks (im, error) ||
      !import_check_state (im, error) || !import_trust (im, error) ||
      !import_verify (im, error) || !vk_ops_step (im->ops, "import-checked", error))
    return FALSE;
  if (g_cancellable_is_cancelled (im->ops->cancel))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("import from %s interrupted"),
                   im->source);
      return FALSE;
    }
  return TRUE;
}

/* Undo the partial directory; the error says nothing was imported. */
static void
import_abort (Import *im, GError **error)
{
  vk_store_partial_abort (im->partial, im->lock_fd);
  im->lock_fd = -1;
  vk_journal_rollback (im->j, NULL);
  if (error && *error)
    {
      /* translators: appended to why an import failed */
      char *m = g_strconcat ((*error)->message, _("; nothing was imported"), NULL);
      g_free ((*error)->message);
      (*error)->message = m;
    }
}

/* An import from the stream `in`, or (`layout` not NULL) from an OCI
 * image layout. */
static VkImportResult *
import_run (VkOps *ops, int in, const char *layout, const char *ref, const char *source,
            const char *name, GError **error)
{
  Import im = { ops, source, name, NULL, NULL, NULL, NULL, NULL, -1, NULL, NULL, NULL, NULL,
                layout != NULL };
  im.got = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                  (GDestroyNotify) vk_export_member_free);
  gint64 t0 = g_get_monotonic_time ();
  if (!import_begin (&im, error))
    {
      import_clear (&im);
      return NULL;
    }
  gboolean received = layout ? import_receive_oci (&im, layout, ref, error)
                              : import_receive (&im, in, error);
  if (!received && g_cancellable_is_cancelled (ops->cancel))
    {
      g_clear_error (error);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("import from %s interrupted"), source);
    }
  if (!received || !import_check (&im, error))
    {
      import_abort (&im, error);
      import_clear (&im);
      return NULL;
    }
  VkImportResult *r = g_new0 (VkImportResult, 1);
  r->members = g_hash_table_size (im.got);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, im.got);
  while (g_hash_table_iter_next (&it, NULL, &value))
    r->bytes += ((VkExportMember *) value)->size;
  if (!import_commit (&im, error))
    {
      if (im.lock_fd >= 0)   /* refused before the partial directory moved */
        vk_store_partial_abort (im.partial, im.lock_fd);
      vk_journal_rollback (im.j, NULL);
      import_clear (&im);
      vk_import_result_free (r);
      return NULL;
    }
  vk_journal_commit (im.j);
  r->image = g_strdup (im.image);
  r->directory = g_strdup (im.final);
  r->domain = g_strdup (im.sc->domain_name);
  r->uuid = g_strdup (im.sc->domain_uuid);
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  import_clear (&im);
  return r;
}

/* The input: the file, or stdin. */
static int
import_open (const char *input, GError **error)
{
  if (input == NULL)
    return STDIN_FILENO;
  int in = open (input, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open %s: %s"), input, g_strerror (e));
      return -1;
    }
  posix_fadvise (in, 0, 0, POSIX_FADV_SEQUENTIAL);
  return in;
}

VkImportResult *
vk_ops_image_import (VkOps *ops, const char *input, const char *source, const char *name,
                     GError **error)
{
  int in = import_open (input, error);
  if (in < 0)
    return NULL;
  VkImportResult *r = import_run (ops, in, NULL, NULL, source, name, error);
  if (input)
    close (in);
  return r;
}

VkImportResult *
vk_ops_image_import_oci (VkOps *ops, const char *layout, const char *ref, const char *source,
                         const char *name, GError **error)
{
  return import_run (ops, -1, layout, ref, source, name, error);
}
