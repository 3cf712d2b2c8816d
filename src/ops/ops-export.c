/* vmkeep — image export: the image's files streamed as one tar archive
 * (ops-export.h describes its members), hashed on the way, with the
 * manifest last. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk.h"
#include "diskfile.h"
#include "json-build.h"
#include "fileutil.h"
#include "journal.h"
#include "ops-export.h"
#include "ops-image.h"
#include "save-header.h"
#include "sha256.h"
#include "sidecar.h"
#include "store.h"
#include "tar.h"
#include "vk-error.h"

void
vk_export_member_free (VkExportMember *m)
{
  g_free (m->name);
  g_free (m->sha256);
  g_free (m->target);
  g_free (m->format);
  g_free (m);
}

static VkExportMember *
member_add (GPtrArray *members, const char *name, guint64 size, char *sha256)
{
  VkExportMember *m = g_new0 (VkExportMember, 1);
  m->name = g_strdup (name);
  m->size = size;
  m->sha256 = sha256;
  g_ptr_array_add (members, m);
  return m;
}

void
vk_export_member_json (JsonBuilder *b, const VkExportMember *m, gboolean full)
{
  json_builder_begin_object (b);
  vk_json_str (b, "name", m->name);
  vk_json_int (b, "size", (gint64) m->size);
  vk_json_str (b, "sha256", m->sha256);
  if (m->target && full)
    {
      vk_json_str (b, "target", m->target);
      vk_json_str (b, "format", m->format);
    }
  if (m->target)
    vk_json_bool (b, "flattened", m->flattened);
  json_builder_end_object (b);
}

/* What an export of a TPM VM carries and what it cannot. */
const char *const vk_export_tpm_portability =
  N_("note: this VM has a TPM 2.0. Its state as of the save (permanent and volatile) "
     "travels inside state.sav, so a clone or wake of the imported image resumes with it. "
     "The swtpm state directory of this host is not exported: a cold boot of the VM on "
     "another host starts with a new, empty TPM, and keys sealed to the old one (e.g. "
     "BitLocker) then need their recovery keys.");

void
vk_export_result_free (VkExportResult *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->members);
  g_free (r);
}

static char *
manifest_json (const char *image, VkSidecar *sc, GPtrArray *members)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created = g_date_time_format_iso8601 (now);
  json_builder_begin_object (b);
  vk_json_str (b, "format", VK_MANIFEST_FORMAT);
  vk_json_int (b, "version", VK_MANIFEST_VERSION);
  vk_json_str (b, "image", image);
  vk_json_str (b, "domain", sc->domain_name);
  vk_json_str (b, "uuid", sc->domain_uuid);
  vk_json_str (b, "exported", created);
  vk_json_str (b, "exported_by", PACKAGE_STRING);
  vk_json_str (b, "host", g_get_host_name ());
  json_builder_set_member_name (b, "members");
  json_builder_begin_array (b);
  for (guint i = 0; i < members->len; i++)
    vk_export_member_json (b, members->pdata[i], TRUE);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return vk_json_builder_text (b);
}

/* One export under way. */
typedef struct {
  VkOps *ops;
  const char *name;
  VkSidecar *sc;
  const char *dir;
  VkTarWriter *w;
  GPtrArray *members;
  VkJournal *j;
  gint64 mtime;
  guint64 bytes;     /* written */
} Export;

/* Stream the file at `path` as member `name`; `sha256_out` gets its hash. */
static gboolean
export_file (VkTarWriter *w, const char *name, const char *path, guint64 *size_out,
             char **sha256_out, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot read %s: %s"), path, g_strerror (e));
      return FALSE;
    }
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  gboolean ok = vk_tar_writer_add_fd (w, name, fd, path, (guint64) st.st_size, 0600,
                                      (gint64) st.st_mtime, sha256_out, error);
  close (fd);
  *size_out = (guint64) st.st_size;
  return ok;
}

/* 1. the sidecar, as the store has it */
static gboolean
export_sidecar (Export *x, GError **error)
{
  g_autofree char *sidecar = g_build_filename (x->dir, VK_STORE_SIDECAR, NULL);
  g_autofree char *sctext = NULL;
  gsize sclen = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (sidecar, &sctext, &sclen, &local))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), sidecar,
                   local->message);
      return FALSE;
    }
  g_autoptr(VkSha256) scsha = vk_sha256_new ();
  vk_sha256_update (scsha, sctext, sclen);
  if (!vk_tar_writer_add_data (x->w, VK_STORE_SIDECAR, sctext, sclen, 0600, x->mtime, error))
    return FALSE;
  member_add (x->members, VK_STORE_SIDECAR, sclen, vk_sha256_hex (scsha));
  return TRUE;
}

gboolean
vk_ops_export_state_matches (const char *name, VkSidecar *sc, const char *state, guint64 size,
                             const char *sha256, GError **error)
{
  if (size == sc->state_size &&
      (sc->state_sha256 == NULL || g_ascii_strcasecmp (sha256, sc->state_sha256) == 0))
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("%s does not match its sidecar (%" PRIu64 " bytes, SHA-256 %s; the "
                 "sidecar says %" PRIu64 " bytes, %s): image '%s' is damaged, see "
                 "'vmkeep image verify %s'; nothing was exported"),
               state, size, sha256, sc->state_size,
               sc->state_sha256 ? sc->state_sha256 : "-", name, name);
  return FALSE;
}

/* 2. the state, checked against the sidecar on the way: a damaged image
 * must not leave as a healthy-looking export */
static gboolean
export_state (Export *x, GError **error)
{
  VkSidecar *sc = x->sc;
  g_autofree char *state = g_build_filename (x->dir, sc->state_file, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (!vk_save_header_read (state, &hdr, error))
    return FALSE;
  guint64 size = 0;
  char *sha = NULL;
  if (!export_file (x->w, VK_STORE_STATE, state, &size, &sha, error))
    return FALSE;
  member_add (x->members, VK_STORE_STATE, size, sha);
  return vk_ops_export_state_matches (x->name, sc, state, size, sha, error);
}

/* The base is itself an overlay: its chain would not exist on the
 * importing host. Flatten it into a working directory of the store's
 * (private, on the store's filesystem, which has room for images; its
 * lock, `lock_out`, tells the store cleanup that this vmkeep still uses
 * it, so one killed at any moment leaves nothing the next run keeps);
 * `tmpdir_out` is the directory to remove afterwards. */
static char *
export_flatten (Export *x, VkFrozenDisk *f, const char *backing, char **tmpdir_out,
                int *lock_out, GError **error)
{
  int lock = -1;
  g_autofree char *tmpdir = vk_store_tmp_dir_new (x->ops->cfg->store_dir, "export", &lock,
                                                  error);
  if (tmpdir == NULL)
    return NULL;
  if (!vk_journal_push (x->j, VK_UNDO_RMTREE, error, tmpdir, NULL))
    {
      vk_store_tmp_dir_done (tmpdir, lock);
      return NULL;
    }
  *tmpdir_out = g_strdup (tmpdir);
  *lock_out = lock;
  g_autofree char *file = g_strdup_printf ("%s.qcow2", f->target);
  g_autofree char *flat = g_build_filename (tmpdir, file, NULL);
  vk_ops_notice (x->ops, _("Flattening disk %s (%s, %s%s) into a standalone qcow2...\n"),
                 f->target, f->frozen, backing ? _("backed by ") : f->format,
                 backing ? backing : "");
  if (!vk_disk_flatten (f->frozen, f->format, flat, error))
    return NULL;
  return g_steal_pointer (&flat);
}

/* 3. one frozen disk, standalone */
static gboolean
export_disk (Export *x, VkFrozenDisk *f, GError **error)
{
  g_autofree char *backing = NULL;
  if (!g_file_test (f->frozen, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("frozen disk %s of image '%s' is missing (%s); the image cannot be "
                     "exported"), f->target, x->name, f->frozen);
      return FALSE;
    }
  if (g_str_equal (f->format, "qcow2") && !vk_qcow2_backing_file (f->frozen, &backing, error))
    return FALSE;
  gboolean standalone = backing == NULL && (g_str_equal (f->format, "qcow2") ||
                                            g_str_equal (f->format, "raw"));
  const char *fmt = standalone && g_str_equal (f->format, "raw") ? "raw" : "qcow2";
  g_autofree char *mname = g_strdup_printf ("disks/%s.%s", f->target, fmt);
  g_autofree char *tmpdir = NULL;
  g_autofree char *flat = NULL;
  int lock = -1;
  if (!standalone && (flat = export_flatten (x, f, backing, &tmpdir, &lock, error)) == NULL)
    {
      if (lock >= 0)
        close (lock);
      return FALSE;   /* the journal removes tmpdir */
    }
  guint64 size = 0;
  char *sha = NULL;
  gboolean ok = export_file (x->w, mname, flat ? flat : f->frozen, &size, &sha, error);
  if (tmpdir)
    {
      vk_store_tmp_dir_done (tmpdir, lock);
      if (!g_file_test (tmpdir, G_FILE_TEST_EXISTS))
        vk_journal_pop (x->j);
    }
  if (!ok)
    return FALSE;
  VkExportMember *m = member_add (x->members, mname, size, sha);
  m->target = g_strdup (f->target);
  m->format = g_strdup (fmt);
  m->flattened = !standalone;
  return TRUE;
}

static gboolean
export_members (Export *x, GError **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  x->mtime = g_date_time_to_unix (now);
  if (!export_sidecar (x, error) || !export_state (x, error))
    return FALSE;
  for (guint i = 0; i < x->sc->frozen_disks->len; i++)
    if (!export_disk (x, x->sc->frozen_disks->pdata[i], error))
      return FALSE;

  /* 4. the NVRAM copy */
  g_autofree char *nvram = g_build_filename (x->dir, VK_EXPORT_NVRAM, NULL);
  if (g_file_test (nvram, G_FILE_TEST_IS_REGULAR))
    {
      guint64 size = 0;
      char *sha = NULL;
      if (!export_file (x->w, VK_EXPORT_NVRAM, nvram, &size, &sha, error))
        return FALSE;
      member_add (x->members, VK_EXPORT_NVRAM, size, sha);
    }

  /* 5. the manifest, then the end of the archive */
  g_autofree char *manifest = manifest_json (x->name, x->sc, x->members);
  return vk_ops_check_cancel (x->ops, error) &&
         vk_tar_writer_add_data (x->w, VK_EXPORT_MANIFEST, manifest, strlen (manifest), 0600,
                                 x->mtime, error) &&
         vk_tar_writer_finish (x->w, error);
}

/* Only the image's own files leave: a sidecar naming any other file
 * (/etc/shadow, say) must not have it copied into the export. */
gboolean
vk_ops_export_check_disks (const char *name, VkSidecar *sc, const char *dir, GError **error)
{
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      if (!g_file_test (f->frozen, G_FILE_TEST_EXISTS))
        continue;   /* missing: exit status 4 later, as documented */
      g_autofree char *problem = vk_ops_image_disk_problem (f, dir);
      if (problem)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("image '%s': %s; nothing was exported ('vmkeep image verify %s')"),
                       name, problem, name);
          return FALSE;
        }
    }
  return TRUE;
}

/* The stream to the temp file beside `output` (or stdout), the temp file
 * renamed to `output` at the end; every failure undone by the journal. */
static gboolean
export_stream (Export *x, const char *output, GError **error)
{
  int fd = STDOUT_FILENO;
  g_autofree char *tmp = NULL;
  if (output)
    {
      tmp = vk_tmp_file_new (output, 0600, &fd, error);
      if (tmp == NULL)
        return FALSE;
      if (!vk_journal_push (x->j, VK_UNDO_UNLINK, error, tmp, NULL))
        {
          vk_tmp_file_abort (fd, tmp);
          return FALSE;
        }
    }
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (fd, output ? output : _("stdout"));
  x->w = w;
  /* the size to expect, for the progress display (a flattened disk may
   * come out smaller or larger than its overlay) */
  guint64 total = x->sc->state_size;
  for (guint i = 0; i < x->sc->frozen_disks->len; i++)
    total += ((VkFrozenDisk *) x->sc->frozen_disks->pdata[i])->size;
  VkOpsStream s;
  vk_ops_stream_begin (&s, x->ops, x->name, "export", total);
  vk_tar_writer_set_progress (w, vk_ops_stream_at, &s);
  vk_tar_writer_set_cancel (w, x->ops->cancel);
  gboolean ok = export_members (x, error);
  if (output)
    {
      /* vk_file_commit closes fd either way; the journal removes tmp */
      gboolean ready = ok && vk_ops_step (x->ops, "export-commit", error) &&
                       vk_ops_check_cancel (x->ops, error);
      if (ready)
        ok = vk_file_commit (fd, tmp, output, error);
      else
        {
          close (fd);
          ok = FALSE;
        }
    }
  x->bytes = vk_tar_writer_offset (w);
  vk_ops_stream_end (&s, x->bytes, ok);
  return ok;
}

VkExportResult *
vk_ops_image_export (VkOps *ops, const char *name, const char *output, gboolean force,
                     GError **error)
{
  if (output && !force && g_file_test (output, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s already exists; remove it, pick another -o FILE, or pass --force to "
                     "replace it"), output);
      return NULL;
    }
  g_autofree char *dir = NULL;
  g_autoptr(VkLock) lock = NULL;
  /* Shared with other readers; image rm waits: the image must not vanish
   * mid-stream. */
  g_autoptr(VkSidecar) sc = vk_ops_image_open (ops, name, TRUE, &dir, &lock, error);
  if (sc == NULL)
    return NULL;
  if (sc->state_file == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' names no state file in its sidecar; it cannot be exported"),
                   name);
      return NULL;
    }
  if (!vk_ops_export_check_disks (name, sc, dir, error))
    return NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (ops, "export", name, error);
  if (j == NULL)
    return NULL;
  g_autoptr(VkExportResult) r = g_new0 (VkExportResult, 1);
  r->members = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_export_member_free);
  r->tpm_note = sc->tpm ? _(vk_export_tpm_portability) : NULL;
  Export x = { ops, name, sc, dir, NULL, r->members, j, 0, 0 };
  gint64 t0 = g_get_monotonic_time ();
  if (!export_stream (&x, output, error))
    {
      vk_journal_rollback (j, NULL);
      if (g_cancellable_is_cancelled (ops->cancel))
        {
          g_clear_error (error);
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       output ? _("export of image '%s' interrupted; %s was not written")
                              : _("export of image '%s' interrupted; the stream on stdout "
                                  "is incomplete (an import refuses it)"),
                       name, output);
        }
      return NULL;
    }
  vk_journal_commit (j);
  r->bytes = x.bytes;
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  return g_steal_pointer (&r);
}
