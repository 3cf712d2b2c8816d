/* vmkeep image list | inspect | verify | rm | export | import */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops-export.h"
#include "ops-image.h"
#include "commands.h"
#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "output.h"
#include "save-header.h"
#include "sha256.h"
#include "sidecar.h"
#include "manifest.h"
#include "store.h"
#include "trust.h"
#include "tar.h"
#include "validate.h"
#include "vk-error.h"

static char *
format_time (GDateTime *t)
{
  return t ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("-");
}

static gboolean
image_list (VkCli *cli, GError **error)
{
  if (!vk_store_check_root (cli->cfg->store_dir, error))
    return FALSE;
  g_autoptr(GPtrArray) names = vk_store_list_images (cli->cfg->store_dir, error);
  if (names == NULL)
    return FALSE;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  g_autoptr(VkTable) t = vk_table_new (_("IMAGE"), _("DOMAIN"), _("CREATED"), _("STATE MiB"),
                                       _("MACHINE"), _("NICS"), _("DISKS"), NULL);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autoptr(GError) local = NULL;
      g_autoptr(VkSidecar) sc = vk_ops_image_load (cli->ops, name, NULL, &local);
      if (sc == NULL)
        {
          g_printerr ("vmkeep: warning: image %s: %s\n", name, local->message);
          continue;
        }
      g_autofree char *created = format_time (sc->created);
      if (cli->json)
        {
          json_builder_begin_object (b);
          vk_json_str (b, "name", name);
          vk_json_str (b, "domain", sc->domain_name);
          vk_json_str (b, "uuid", sc->domain_uuid);
          vk_json_str (b, "created", created);
          vk_json_int (b, "state_bytes", sc->state_size);
          vk_json_str (b, "machine", sc->identity->machine ? sc->identity->machine : "");
          vk_json_int (b, "nics", sc->identity->nics->len);
          vk_json_int (b, "frozen_disks", sc->frozen_disks->len);
          json_builder_end_object (b);
        }
      else
        {
          g_autofree char *mib = g_strdup_printf ("%" G_GUINT64_FORMAT, sc->state_size >> 20);
          g_autofree char *nics = g_strdup_printf ("%u", sc->identity->nics->len);
          g_autofree char *disks = g_strdup_printf ("%u", sc->frozen_disks->len);
          vk_table_add (t, name, sc->domain_name, created, mib, sc->identity->machine, nics,
                        disks);
        }
    }
  json_builder_end_array (b);
  if (cli->json)
    vk_json_print_builder (b);
  else
    vk_table_print (t, stdout);
  return TRUE;
}

static gboolean
image_inspect (VkCli *cli, const char *name, GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(VkSidecar) sc = vk_ops_image_load (cli->ops, name, &dir, error);
  if (sc == NULL)
    return FALSE;
  if (cli->json)
    {
      /* The sidecar is the authoritative record; JSON mirrors its fields. */
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *created = format_time (sc->created);
      json_builder_begin_object (b);
      vk_json_str (b, "name", name);
      vk_json_str (b, "directory", dir);
      vk_json_str (b, "mode", vk_sidecar_mode_to_string (sc->mode));
      vk_json_str (b, "domain", sc->domain_name);
      vk_json_str (b, "uuid", sc->domain_uuid);
      vk_json_str (b, "created", created);
      vk_json_str (b, "host", sc->host);
      vk_json_str (b, "libvirt_version", sc->libvirt_version);
      vk_json_str (b, "qemu_version", sc->qemu_version);
      vk_json_str (b, "machine", sc->identity->machine);
      vk_json_str (b, "state_file", sc->state_file);
      vk_json_int (b, "state_bytes", sc->state_size);
      vk_json_str (b, "state_sha256", sc->state_sha256);
      vk_json_str (b, "state_format", sc->state_format >= 0 ? vk_save_format_name (sc->state_format) : NULL);
      vk_json_int (b, "state_channels", sc->state_channels);
      vk_json_str (b, "nvram", sc->nvram_path);
      vk_json_str (b, "nvram_sha256", sc->nvram_sha256);
      vk_json_bool (b, "tpm", sc->tpm);
      json_builder_set_member_name (b, "nics");
      json_builder_begin_array (b);
      for (guint i = 0; i < sc->identity->nics->len; i++)
        {
          VkIdentityNic *n = sc->identity->nics->pdata[i];
          json_builder_begin_object (b);
          vk_json_str (b, "mac", n->mac);
          vk_json_str (b, "model", n->model);
          vk_json_int (b, "queues", n->queues ? n->queues : 1);
          vk_json_str (b, "address", n->address);
          vk_json_int (b, "acpi_index", n->acpi_index);
          vk_json_str (b, "tap", n->tap);
          vk_json_str (b, "source_type", n->source_type);
          vk_json_str (b, "source", n->source);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "disks");
      json_builder_begin_array (b);
      for (guint i = 0; i < sc->frozen_disks->len; i++)
        {
          VkFrozenDisk *d = sc->frozen_disks->pdata[i];
          json_builder_begin_object (b);
          vk_json_str (b, "target", d->target);
          vk_json_str (b, "original", d->original);
          vk_json_str (b, "frozen", d->frozen);
          vk_json_str (b, "format", d->format);
          vk_json_int (b, "size", d->size);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      vk_json_print_builder (b);
      return TRUE;
    }
  g_autofree char *created = format_time (sc->created);
  printf (_("Image:     %s (%s)\n"), name, dir);
  printf (_("Domain:    %s (%s)\n"), sc->domain_name, sc->domain_uuid);
  printf (_("Created:   %s on %s (libvirt %s, QEMU %s)\n"), created, sc->host,
          sc->libvirt_version, sc->qemu_version);
  printf (_("Machine:   %s\n"), sc->identity->machine ? sc->identity->machine : "-");
  printf (_("State:     %s, %" PRIu64 " bytes, sha256 %s\n"), sc->state_file,
          sc->state_size, sc->state_sha256 ? sc->state_sha256 : "-");
  if (sc->state_format >= 0)
    {
      if (sc->state_channels > 1)
        printf (_("Format:    %s, written with %u parallel channels\n"),
                vk_save_format_name (sc->state_format), sc->state_channels);
      else
        printf (_("Format:    %s\n"), vk_save_format_name (sc->state_format));
    }
  if (sc->nvram_path)
    printf (_("NVRAM:     %s (sha256 %s)\n"), sc->nvram_path,
            sc->nvram_sha256 ? sc->nvram_sha256 : "-");
  printf (_("TPM:       %s\n"), sc->tpm ? _("yes") : _("no"));
  printf ("\n");
  g_autoptr(VkTable) t = vk_table_new (_("NIC MAC"), _("MODEL"), _("QUEUES"), _("ADDRESS"),
                                       _("ACPI"), _("HOST SIDE"), NULL);
  for (guint i = 0; i < sc->identity->nics->len; i++)
    {
      VkIdentityNic *n = sc->identity->nics->pdata[i];
      g_autofree char *q = g_strdup_printf ("%u", n->queues ? n->queues : 1);
      g_autofree char *a = n->acpi_index >= 0 ? g_strdup_printf ("%d", n->acpi_index) : NULL;
      g_autofree char *host = g_strdup_printf ("%s %s", n->source_type ? n->source_type : "",
                                               n->source ? n->source : "");
      vk_table_add (t, n->mac, n->model, q, n->address, a, host);
    }
  vk_table_print (t, stdout);
  printf ("\n");
  g_autoptr(VkTable) d = vk_table_new (_("DISK"), _("FORMAT"), _("SIZE"), _("FROZEN AT"),
                                       _("ORIGINAL"), NULL);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_autofree char *size = g_format_size_full (f->size, G_FORMAT_SIZE_IEC_UNITS);
      vk_table_add (d, f->target, f->format, size, f->frozen, f->original);
    }
  vk_table_print (d, stdout);
  return TRUE;
}


static gboolean
image_verify (VkCli *cli, const char *name, GError **error)
{
  g_autoptr(GPtrArray) problems = vk_ops_image_verify_named (cli->ops, name, error);
  if (problems == NULL)
    return FALSE;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      vk_json_str (b, "image", name);
      vk_json_bool (b, "ok", problems->len == 0);
      json_builder_set_member_name (b, "problems");
      json_builder_begin_array (b);
      for (guint i = 0; i < problems->len; i++)
        json_builder_add_string_value (b, problems->pdata[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
      vk_json_print_builder (b);
    }
  else
    for (guint i = 0; i < problems->len; i++)
      printf ("%s: %s\n", name, (const char *) problems->pdata[i]);
  if (problems->len > 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   g_dngettext (GETTEXT_PACKAGE, "image '%s' failed verification (%u problem)",
                                "image '%s' failed verification (%u problems)", problems->len),
                   name, problems->len);
      return FALSE;
    }
  vk_cli_info (cli, _("Image '%s' verified: state SHA-256, header, identity and frozen disks "
                      "match the sidecar"), name);
  return TRUE;
}

static gboolean
image_rm (VkCli *cli, const char *name, gboolean force, GError **error)
{
  /* the dependents include the domains' disks */
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL || !vk_ops_image_rm (ops, name, force, error))
    return FALSE;
  vk_cli_info (cli, _("Image '%s' removed"), name);
  return TRUE;
}

/* ---- export / import ------------------------------------------------------ */

/* Export and import progress: the tar code's byte offsets. */
static void
progress_cb (guint64 offset, gpointer data)
{
  vk_progress_update (data, offset, 0);
}

#define EXPORT_MANIFEST VK_EXPORT_MANIFEST
#define EXPORT_NVRAM VK_EXPORT_NVRAM
/* The sidecar embeds a domain XML: small, but allow generous ones. */
#define EXPORT_SIDECAR_MAX (16u << 20)
#define EXPORT_MANIFEST_MAX (1u << 20)

typedef VkExportMember Member;
#define member_free vk_export_member_free

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

/* A workflow of export or import under way: its progress on the one
 * progress display, its notices (a disk being flattened) as plain lines,
 * and the signals cancelling it. */
typedef struct {
  VkCli *cli;
  gboolean on;
  const char *what;
  gboolean started;
  VkProgress pr;
  VkOpsNoticeFunc notice;
  gpointer notice_data;
  VkSigGuard guard;
} ImageJob;

static void
image_job_progress (const VkOpsProgress *p, gpointer data)
{
  ImageJob *job = data;
  if (!job->started)
    {
      vk_progress_init (&job->pr, job->on, job->what, p->total);
      job->started = TRUE;
      if (!p->finished)
        return;
    }
  if (p->finished)
    vk_progress_end (&job->pr, !p->failed);
  else
    vk_progress_update (&job->pr, p->done, p->total);
}

static void
image_job_notice (const char *message, gpointer data)
{
  ImageJob *job = data;
  if (job->cli->quiet || job->cli->json)
    return;
  g_printerr ("%s%s", message, g_str_has_suffix (message, "\n") ? "" : "\n");
}

static void
image_job_begin (VkCli *cli, ImageJob *job, gboolean progress, const char *what)
{
  memset (job, 0, sizeof *job);
  job->cli = cli;
  job->on = vk_cli_progress_wanted (cli, progress);
  job->what = what;
  job->notice = cli->ops->notice;
  job->notice_data = cli->ops->notice_data;
  cli->ops->progress = image_job_progress;
  cli->ops->progress_data = job;
  cli->ops->notice = image_job_notice;
  cli->ops->notice_data = job;
  vk_cli_sig_guard_begin (cli, &job->guard);
}

static void
image_job_end (ImageJob *job)
{
  vk_cli_sig_guard_end (&job->guard);
  if (job->started && job->pr.what)
    vk_progress_end (&job->pr, FALSE);
  job->cli->ops->progress = NULL;
  job->cli->ops->progress_data = NULL;
  job->cli->ops->notice = job->notice;
  job->cli->ops->notice_data = job->notice_data;
}

/* What an export of a TPM VM carries and what it cannot. */
static const char *const tpm_portability =
  N_("note: this VM has a TPM 2.0. Its state as of the save (permanent and volatile) "
     "travels inside state.sav, so a clone or wake of the imported image resumes with it. "
     "The swtpm state directory of this host is not exported: a cold boot of the VM on "
     "another host starts with a new, empty TPM, and keys sealed to the old one (e.g. "
     "BitLocker) then need their recovery keys.");

static void
export_json (const char *name, const char *output, VkExportResult *r)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  vk_json_str (b, "image", name);
  vk_json_str (b, "file", output);
  vk_json_int (b, "bytes", (gint64) r->bytes);
  vk_json_double (b, "seconds", r->seconds);
  json_builder_set_member_name (b, "members");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->members->len; i++)
    vk_export_member_json (b, r->members->pdata[i], FALSE);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "tpm_portability");
  if (r->tpm)
    json_builder_add_string_value (b, _(tpm_portability));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  vk_json_print_builder (b);
}

static gboolean
image_export (VkCli *cli, const char *name, const char *output, gboolean force,
              gboolean progress, GError **error)
{
  gboolean to_stdout = g_str_equal (output, "-");
  if (to_stdout && cli->json)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep image export: --json and -o - both want stdout; write the export "
                     "to a file with -o FILE, or drop --json"));
      return FALSE;
    }
  if (to_stdout && isatty (STDOUT_FILENO))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep image export: refusing to write an image to a terminal; redirect "
                     "stdout (-o - | ssh HOST vmkeep image import -) or give -o FILE"));
      return FALSE;
    }
  g_autofree char *what = g_strdup_printf (_("Exporting '%s'"), name);
  ImageJob job;
  image_job_begin (cli, &job, progress, what);
  g_autoptr(VkExportResult) r = vk_ops_image_export (cli->ops, name, to_stdout ? NULL : output,
                                                     force, error);
  image_job_end (&job);
  if (r == NULL)
    return FALSE;
  if (cli->json)
    {
      export_json (name, output, r);
      return TRUE;
    }
  if (r->tpm && !cli->quiet)
    g_printerr ("%s\n", _(tpm_portability));
  if (cli->quiet)
    return TRUE;
  g_autofree char *sz = g_format_size_full (r->bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *msg = g_strdup_printf (_("Image '%s' exported to %s (%u members, %s, "
                                            "%.1f s)"), name, to_stdout ? _("stdout") : output,
                                          r->members->len + 1, sz, r->seconds);
  /* stdout carries the archive: the summary goes to stderr then */
  if (to_stdout)
    g_printerr ("%s\n", msg);
  else
    vk_cli_info (cli, "%s", msg);
  return TRUE;
}

/* What an import collected before it checks anything. */
typedef struct {
  const char *source;
  GHashTable *got;          /* member name -> Member* */
  GBytes *sidecar;
  GBytes *manifest;
  VkSidecar *early;   /* the sidecar, parsed when it arrived (first) */
} Received;

static gboolean
import_refuse (GError **error, const char *source, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
import_refuse (GError **error, const char *source, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED, "%s: %s", source, msg);
  return FALSE;
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

/* Read the whole stream into `partial`, members under their final names
 * except the state, kept as a dot-file until everything checked out (a
 * complete state.sav in a partial directory means "interrupted hibernate"
 * to the store's cleanup). */
static gboolean
import_read (VkTarReader *r, const char *partial, Received *rx, GError **error)
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
          return import_refuse (error, rx->source,
                                _("unknown directory '%s' in the stream; an image export holds "
                                  "%s, %s, disks/, %s and %s only"), e->name, VK_STORE_SIDECAR,
                                VK_STORE_STATE, EXPORT_NVRAM, EXPORT_MANIFEST);
        }
      if (g_hash_table_contains (rx->got, e->name))
        return import_refuse (error, rx->source, _("member '%s' appears twice"), e->name);
      char *sha = NULL;
      g_autofree char *target = NULL;
      g_autofree char *format = NULL;
      /* An export carries its sidecar first: every larger member is held
       * to the size the sidecar gives it before a byte is copied (a sparse
       * member could claim any size with next to no data). */
      if (!g_str_equal (e->name, VK_STORE_SIDECAR) && !g_str_equal (e->name, EXPORT_MANIFEST))
        {
          guint64 limit = 0;
          if (rx->early == NULL)
            return import_refuse (error, rx->source,
                                  _("member '%s' comes before %s; an export carries its sidecar "
                                    "first"), e->name, VK_STORE_SIDECAR);
          if (g_str_equal (e->name, VK_STORE_STATE))
            limit = rx->early->state_size;
          else if (g_str_equal (e->name, EXPORT_NVRAM))
            limit = 64u << 20;
          else
            for (guint i = 0; i < rx->early->frozen_disks->len; i++)
              limit = MAX (limit, ((VkFrozenDisk *) rx->early->frozen_disks->pdata[i])->size);
          if (e->size > limit)
            return import_refuse (error, rx->source,
                                  _("member '%s' claims %" PRIu64 " bytes, more than the sidecar "
                                    "records (%" PRIu64 "); the export is damaged"), e->name,
                                  e->size, limit);
        }
      if (g_str_equal (e->name, VK_STORE_SIDECAR))
        {
          rx->sidecar = vk_tar_reader_read (r, EXPORT_SIDECAR_MAX, &sha, error);
          if (rx->sidecar == NULL)
            return FALSE;
          gsize len = 0;
          const char *text = g_bytes_get_data (rx->sidecar, &len);
          g_autofree char *scname = g_strdup_printf ("%s:%s", rx->source, VK_STORE_SIDECAR);
          g_autoptr(GError) local = NULL;
          rx->early = vk_sidecar_parse (text, (gssize) len, scname, &local);
          if (rx->early == NULL)
            return import_refuse (error, rx->source, _("its sidecar does not parse: %s"),
                                  local->message);
        }
      else if (g_str_equal (e->name, EXPORT_MANIFEST))
        {
          rx->manifest = vk_tar_reader_read (r, EXPORT_MANIFEST_MAX, &sha, error);
          if (rx->manifest == NULL)
            return FALSE;
        }
      else if (g_str_equal (e->name, VK_STORE_STATE))
        {
          g_autofree char *path = g_build_filename (partial, "." VK_STORE_STATE ".import", NULL);
          /* a sparse state keeps its holes */
          if (!import_file (r, path, TRUE, &sha, error))
            return FALSE;
        }
      else if (g_str_equal (e->name, EXPORT_NVRAM))
        {
          g_autofree char *path = g_build_filename (partial, EXPORT_NVRAM, NULL);
          if (!import_file (r, path, FALSE, &sha, error))
            return FALSE;
        }
      else if (disk_member_parse (e->name, &target, &format))
        {
          g_autofree char *ddir = g_build_filename (partial, "disks", NULL);
          if (!g_file_test (ddir, G_FILE_TEST_IS_DIR) && g_mkdir (ddir, 0711) < 0)
            {
              g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create %s: %s"), ddir,
                           g_strerror (errno));
              return FALSE;
            }
          g_chmod (ddir, 0711);
          g_autofree char *path = g_build_filename (partial, e->name, NULL);
          if (!import_file (r, path, TRUE, &sha, error))
            return FALSE;
        }
      else
        {
          g_autofree char *shown = g_strescape (e->name, NULL);
          return import_refuse (error, rx->source,
                                _("unknown member '%s'; an image export holds %s, %s, "
                                  "disks/TARGET.qcow2|raw, %s and %s only (is it an export of "
                                  "a newer vmkeep?)"), shown, VK_STORE_SIDECAR, VK_STORE_STATE,
                                EXPORT_NVRAM, EXPORT_MANIFEST);
        }
      Member *m = g_new0 (Member, 1);
      m->name = g_strdup (e->name);
      m->size = e->size;
      m->sha256 = sha;
      m->target = g_steal_pointer (&target);
      m->format = g_steal_pointer (&format);
      g_hash_table_insert (rx->got, m->name, m);
    }
}

/* Every member against the manifest, and the manifest against the stream:
 * same names, sizes and SHA-256. Returns the image name it records. */
static gboolean
import_check_manifest (Received *rx, char **image_out, GError **error)
{
  gsize len = 0;
  const char *text = g_bytes_get_data (rx->manifest, &len);
  g_autoptr(VkManifest) man = vk_manifest_parse (text, len, rx->source, error);
  if (man == NULL)
    return FALSE;
  g_autoptr(GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < man->members->len; i++)
    {
      VkManifestMember *mm = man->members->pdata[i];
      Member *got = g_hash_table_lookup (rx->got, mm->name);
      if (got == NULL)
        return import_refuse (error, rx->source,
                              _("member '%s' is listed in %s but missing from the stream: the "
                                "export is incomplete"), mm->name, EXPORT_MANIFEST);
      if (got->size != mm->size)
        return import_refuse (error, rx->source,
                              _("member '%s' has %" PRIu64 " bytes, the manifest says %"
                                PRIu64 ": the export is damaged"), mm->name, got->size,
                              mm->size);
      if (g_ascii_strcasecmp (got->sha256, mm->sha256) != 0)
        return import_refuse (error, rx->source,
                              _("checksum mismatch for member '%s' (SHA-256 %s, the manifest "
                                "says %s): the export is damaged, copy it again"), mm->name,
                              got->sha256, mm->sha256);
      g_hash_table_add (listed, (gpointer) got->name);
    }
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, rx->got);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_str_equal (key, EXPORT_MANIFEST) && !g_hash_table_contains (listed, key))
      return import_refuse (error, rx->source,
                            _("member '%s' is not listed in %s; refusing unknown content"),
                            (const char *) key, EXPORT_MANIFEST);
  *image_out = g_strdup (man->image);
  return TRUE;
}

/* The trust boundary (trust.h): every host path the image carries, in its
 * sidecar and in the XML inside state.sav, becomes one of this host's
 * places, and whatever would make this host run or read something of the
 * image's choosing is refused. The state's header is rewritten in place
 * (the stream offset does not move) and the state hashed again. */
static gboolean
import_trust (VkCli *cli, VkSidecar *sc, const char *image, const char *partial,
              const char *source, GError **error)
{
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  g_autoptr(xmlDoc) doc = vk_xml_parse (sc->domain_xml, -1, source, error);
  if (doc == NULL)
    return FALSE;
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr os = vk_xml_child (root, "os");
  xmlNodePtr type = os ? vk_xml_child (os, "type") : NULL;
  g_autofree char *arch = type ? vk_xml_prop (type, "arch") : NULL;
  g_autofree char *machine = type ? vk_xml_prop (type, "machine") : NULL;
  g_autofree char *virt = vk_xml_prop (root, "type");
  g_auto(GStrv) emulators = vk_conn_emulators (conn, arch ? arch : "x86_64", error);
  if (emulators == NULL)
    return FALSE;
  g_auto(GStrv) loaders = vk_conn_firmware_files (conn, arch ? arch : "x86_64", machine, virt,
                                                  error);
  if (loaders == NULL)
    return FALSE;
  g_autoptr(GHashTable) disks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_autofree char *leaf = g_strdup_printf ("%s-%s.qcow2", image, f->target);
      g_hash_table_insert (disks, g_strdup (f->target),
                           g_build_filename (cli->cfg->disk_dir, leaf, NULL));
    }
  g_autofree char *nvfile = g_strdup_printf ("%s_VARS.fd", sc->domain_name);
  g_autofree char *nvram = g_build_filename (cli->cfg->nvram_dir, nvfile, NULL);
  VkTrustPolicy policy = { disks, nvram, cli->cfg->log_dir, (const char *const *) emulators,
                           (const char *const *) loaders,
                           (const char *const *) cli->cfg->kernel_dirs };
  if (!vk_trust_domain_xml (doc, &policy, source, error))
    return FALSE;
  g_autoptr(VkIdentity) id = vk_identity_from_domain (doc, error);
  if (id == NULL)
    return FALSE;
  g_autoptr(GPtrArray) drift = vk_identity_compare (sc->identity, id);
  if (drift->len > 0)
    return import_refuse (error, source, _("the trusted rewrite changed the identity (%s)"),
                          (const char *) drift->pdata[0]);
  vk_identity_free (sc->identity);
  sc->identity = g_steal_pointer (&id);
  g_free (sc->domain_xml);
  sc->domain_xml = vk_xml_format (doc);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_free (f->original);
      f->original = g_strdup (g_hash_table_lookup (disks, f->target));
    }
  if (sc->nvram_path)
    {
      g_free (sc->nvram_path);
      sc->nvram_path = g_strdup (nvram);
    }

  /* the same rewrite of the XML inside state.sav */
  g_autofree char *state = g_build_filename (partial, VK_STORE_STATE, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (!vk_save_header_read (state, &hdr, error))
    return FALSE;
  g_autofree char *hsource = g_strdup_printf ("%s:%s", source, VK_STORE_STATE);
  g_autoptr(xmlDoc) hdoc = vk_xml_parse (hdr->xml, -1, hsource, error);
  if (hdoc == NULL || !vk_trust_domain_xml (hdoc, &policy, hsource, error))
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

static gboolean
image_import (VkCli *cli, const char *input, const char *name_opt, gboolean progress,
              GError **error)
{
  const char *store = cli->cfg->store_dir;
  gboolean from_stdin = g_str_equal (input, "-");
  if (name_opt)
    {
      if (!vk_validate_name ("image name", name_opt, error))
        return FALSE;
      g_autofree char *final = vk_store_image_dir (store, name_opt);
      if (g_file_test (final, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("image '%s' already exists in %s; import under another --name or "
                         "remove it with 'vmkeep image rm %s'"), name_opt, store, name_opt);
          return FALSE;
        }
    }
  if (from_stdin && isatty (STDIN_FILENO))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep image import: stdin is a terminal; pipe an export in "
                     "(... | vmkeep image import -) or name the FILE"));
      return FALSE;
    }
  int in = STDIN_FILENO;
  if (!from_stdin)
    {
      in = open (input, O_RDONLY | O_CLOEXEC);
      if (in < 0)
        {
          int e = errno;
          g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                       _("cannot open %s: %s"), input, g_strerror (e));
          return FALSE;
        }
      posix_fadvise (in, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
  const char *source = from_stdin ? _("the export on stdin") : input;

  /* QEMU (not root) opens the frozen disks through these directories. */
  g_autofree char *images = vk_store_images_dir (store);
  if (!vk_store_ensure_root (store, error) || !vk_dir_ensure_private (images, error))
    {
      if (!from_stdin)
        close (in);
      return FALSE;
    }
  g_chmod (images, 0711);
  int lock_fd = -1;
  g_autofree char *partial = vk_store_partial_new (store, name_opt ? name_opt : "import",
                                                   &lock_fd, error);
  if (partial == NULL)
    {
      if (!from_stdin)
        close (in);
      return FALSE;
    }
  g_chmod (partial, 0711);

  gint64 t0 = g_get_monotonic_time ();
  Received rx = { source, g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                 (GDestroyNotify) member_free), NULL, NULL, NULL };
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in, source);
  struct stat ist;
  guint64 total = fstat (in, &ist) == 0 && S_ISREG (ist.st_mode) ? (guint64) ist.st_size : 0;
  g_autofree char *what = g_strdup_printf (_("Importing %s"), source);
  VkProgress pr;
  vk_progress_init (&pr, vk_cli_progress_wanted (cli, progress), what, total);
  vk_tar_reader_set_progress (r, progress_cb, &pr);
  vk_tar_reader_set_cancel (r, cli->ops->cancel);
  VkSigGuard guard;
  vk_cli_sig_guard_begin (cli, &guard);
  g_autoptr(VkSidecar) sc = NULL;
  g_autofree char *image = NULL;
  g_autofree char *final = NULL;
  gboolean ok = import_read (r, partial, &rx, error);
  vk_progress_end (&pr, ok);
  vk_cli_sig_guard_end (&guard);
  if (!ok && vk_cli_interrupted)
    {
      g_clear_error (error);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("import from %s interrupted"), source);
    }
  guint64 bytes = 0;
  if (!from_stdin)
    close (in);

  /* Everything is checked before anything becomes visible. */
  if (ok && (rx.sidecar == NULL || rx.manifest == NULL ||
             !g_hash_table_contains (rx.got, VK_STORE_STATE)))
    ok = import_refuse (error, source,
                        _("the stream lacks %s; it is not a complete vmkeep image export"),
                        rx.manifest == NULL ? EXPORT_MANIFEST
                        : rx.sidecar == NULL ? VK_STORE_SIDECAR : VK_STORE_STATE);
  if (ok)
    ok = import_check_manifest (&rx, &image, error);
  if (ok)
    {
      g_autofree char *scname = g_strdup_printf ("%s:%s", source, VK_STORE_SIDECAR);
      gsize len = 0;
      const char *text = g_bytes_get_data (rx.sidecar, &len);
      g_autoptr(GError) local = NULL;
      sc = vk_sidecar_parse (text, (gssize) len, scname, &local);
      if (sc == NULL)
        ok = import_refuse (error, source, _("its sidecar does not parse: %s"), local->message);
      else if (sc->mode != VK_SIDECAR_IMAGE)
        ok = import_refuse (error, source, _("its sidecar is not a hibernate image's (mode %s)"),
                            vk_sidecar_mode_to_string (sc->mode));
    }
  /* What the VM needs from this host to ever run again. */
  if (ok && sc->tpm)
    {
      g_autofree char *swtpm = g_find_program_in_path ("swtpm");
      g_autofree char *setup = g_find_program_in_path ("swtpm_setup");
      if (swtpm == NULL || setup == NULL)
        ok = import_refuse (error, source,
                            _("the VM has a TPM 2.0 and this host cannot emulate one (%s not "
                              "found); install Debian's 'swtpm' and 'swtpm-tools' packages"),
                            swtpm == NULL ? "swtpm" : "swtpm_setup");
    }
  if (ok && (sc->nvram_path != NULL || g_hash_table_contains (rx.got, EXPORT_NVRAM)))
    {
      const char *fwdir = g_getenv ("VMKEEP_FIRMWARE_DIR");
      if (fwdir == NULL || *fwdir == '\0')
        fwdir = "/usr/share/qemu/firmware";
      g_autoptr(GDir) d = g_dir_open (fwdir, 0, NULL);
      if (d == NULL || g_dir_read_name (d) == NULL)
        ok = import_refuse (error, source,
                            _("the VM boots with UEFI and this host has no UEFI firmware (%s is "
                              "empty); install Debian's 'ovmf' package"), fwdir);
    }
  if (ok)
    {
      Member *st = g_hash_table_lookup (rx.got, VK_STORE_STATE);
      if (sc->state_sha256 == NULL || st->size != sc->state_size ||
          g_ascii_strcasecmp (st->sha256, sc->state_sha256) != 0)
        ok = import_refuse (error, source,
                            _("%s has %" PRIu64 " bytes and SHA-256 %s, the sidecar says %"
                              PRIu64 " bytes and %s: the state is damaged or was replaced"),
                            VK_STORE_STATE, st->size, st->sha256, sc->state_size,
                            sc->state_sha256 ? sc->state_sha256 : "-");
    }
  if (ok)
    {
      if (name_opt)
        {
          g_free (image);
          image = g_strdup (name_opt);
        }
      if (image == NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                       _("the export does not name its image; give --name NAME"));
          ok = FALSE;
        }
      else if (!name_opt && !vk_validate_name ("image name", image, NULL))
        ok = import_refuse (error, source,
                            _("the image name '%s' it records is not valid here; give --name "
                              "NAME"), image);
      else
        final = vk_store_image_dir (store, image);
    }
  if (ok && !name_opt && g_file_test (final, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' already exists in %s; import under another --name; nothing "
                     "was imported"), image, store);
      ok = FALSE;
    }
  /* Each frozen disk arrived, standalone, and nothing else did. */
  for (guint i = 0; ok && i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      const char *fmt = g_str_equal (f->format, "raw") ? "raw" : "qcow2";
      g_autofree char *mname = g_strdup_printf ("disks/%s.%s", f->target, fmt);
      Member *m = g_hash_table_lookup (rx.got, mname);
      if (m == NULL)
        {
          ok = import_refuse (error, source, _("frozen disk %s (%s) is missing from the stream"),
                              f->target, mname);
          break;
        }
      g_autofree char *path = g_build_filename (partial, mname, NULL);
      g_autofree char *probed = NULL;
      g_autofree char *backing = NULL;
      g_autofree char *data_file = NULL;
      g_autoptr(GError) local = NULL;
      if (g_str_equal (fmt, "qcow2") &&
          (!(probed = vk_disk_probe_format (path, &local)) || !g_str_equal (probed, "qcow2") ||
           !vk_qcow2_backing_file (path, &backing, &local) || backing != NULL))
        {
          ok = import_refuse (error, source,
                              backing ? _("disk %s is a qcow2 overlay on %s; an export carries "
                                          "standalone disks only")
                                      : _("disk %s is not a readable qcow2 image%s"),
                              mname, backing ? backing : local ? local->message : "");
          break;
        }
      /* QEMU would read and write the guest's disk in that host file */
      if (g_str_equal (fmt, "qcow2") &&
          (!vk_qcow2_data_file (path, &data_file, &local) || data_file != NULL))
        {
          ok = import_refuse (error, source,
                              data_file ? _("disk %s keeps its data in the host file “%s” (a qcow2 "
                                            "external data file); an export carries standalone "
                                            "disks only")
                                        : _("disk %s is not a readable qcow2 image%s"),
                              mname, data_file ? data_file : local ? local->message : "");
          break;
        }
      g_free (f->frozen);
      f->frozen = g_steal_pointer (&path);   /* checked below, then moved */
      f->size = m->size;
      f->format = (g_free (f->format), g_strdup (fmt));
      /* the content was checked against the manifest: its digest is
       * taken anew here (the file's mtime is this import's) */
      g_clear_pointer (&f->meta_sha256, g_free);
      if (!vk_disk_digest (f->frozen, f->format, &f->meta_sha256, &local))
        {
          ok = import_refuse (error, source, "%s", local->message);
          break;
        }
    }
  if (ok)
    {
      GHashTableIter it;
      gpointer key, value;
      g_hash_table_iter_init (&it, rx.got);
      while (ok && g_hash_table_iter_next (&it, &key, &value))
        {
          Member *m = value;
          if (!g_str_has_prefix (m->name, "disks/"))
            continue;
          gboolean known = FALSE;
          for (guint i = 0; i < sc->frozen_disks->len; i++)
            {
              VkFrozenDisk *f = sc->frozen_disks->pdata[i];
              g_autofree char *mname = g_strdup_printf ("disks/%s.%s", f->target, f->format);
              known = known || g_str_equal (mname, m->name);
            }
          if (!known)
            ok = import_refuse (error, source,
                                _("member '%s' is not one of the image's frozen disks"),
                                m->name);
        }
    }
  if (ok)
    {
      g_autofree char *tmpstate = g_build_filename (partial, "." VK_STORE_STATE ".import", NULL);
      g_autofree char *state = g_build_filename (partial, VK_STORE_STATE, NULL);
      if (rename (tmpstate, state) < 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot rename %s to %s: %s"),
                       tmpstate, state, g_strerror (errno));
          ok = FALSE;
        }
    }
  if (ok)
    {
      /* An image from another libvirt/QEMU generation that this host could
       * never resume is refused here rather than by every later wake,
       * and before the trust boundary asks libvirt about its machine. */
      g_autofree char *state = g_build_filename (partial, VK_STORE_STATE, NULL);
      g_autoptr(VkSaveHeader) hdr = NULL;
      g_autoptr(xmlDoc) hdoc = NULL;
      VkConn *conn = vk_cli_connect (cli, error);
      ok = conn != NULL && vk_save_header_read (state, &hdr, error) &&
           (hdoc = vk_xml_parse (hdr->xml, -1, state, error)) != NULL &&
           vk_ops_image_check_host (conn, sc, hdr, hdoc, image, error);
    }
  if (ok)
    ok = import_trust (cli, sc, image, partial, source, error);
  if (ok)
    {
      /* The same checks as 'image verify' (the checksums are done),
       * against the files where they are now. */
      g_free (sc->state_file);
      sc->state_file = g_strdup (VK_STORE_STATE);
      g_autoptr(GPtrArray) problems = vk_ops_image_verify (sc, partial, FALSE);
      if (problems->len > 0)
        ok = import_refuse (error, source, "%s", (const char *) problems->pdata[0]);
    }
  if (!ok)
    {
      vk_store_partial_abort (partial, lock_fd);
      if (error && *error)
        {
          /* translators: appended to why an import failed */
          char *m = g_strconcat ((*error)->message, _("; nothing was imported"), NULL);
          g_free ((*error)->message);
          (*error)->message = m;
        }
      g_hash_table_unref (rx.got);
      g_clear_pointer (&rx.sidecar, g_bytes_unref);
      g_clear_pointer (&rx.manifest, g_bytes_unref);
      g_clear_pointer (&rx.early, vk_sidecar_free);
      return FALSE;
    }

  /* Point the sidecar at the disks' final place, publish the directory,
   * and write the sidecar last: until it exists the image is not listed. */
  guint nmembers = g_hash_table_size (rx.got);
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, rx.got);
  while (g_hash_table_iter_next (&it, NULL, &value))
    bytes += ((Member *) value)->size;
  g_hash_table_unref (rx.got);
  g_clear_pointer (&rx.sidecar, g_bytes_unref);
  g_clear_pointer (&rx.manifest, g_bytes_unref);
  g_clear_pointer (&rx.early, vk_sidecar_free);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_autofree char *file = g_strdup_printf ("%s.%s", f->target, f->format);
      g_free (f->frozen);
      f->frozen = g_build_filename (final, "disks", file, NULL);
    }
  if (!vk_store_partial_commit (store, partial, image, lock_fd, error))
    {
      vk_rm_rf (partial, NULL);
      return FALSE;
    }
  g_chmod (final, 0711);
  g_autofree char *sidecar = g_build_filename (final, VK_STORE_SIDECAR, NULL);
  if (!vk_sidecar_save (sc, sidecar, error))
    {
      vk_rm_rf (final, NULL);
      close (lock_fd);
      return FALSE;
    }
  vk_store_image_finish (final, lock_fd);
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      vk_json_str (b, "image", image);
      vk_json_str (b, "directory", final);
      vk_json_str (b, "domain", sc->domain_name);
      vk_json_str (b, "uuid", sc->domain_uuid);
      vk_json_int (b, "members", nmembers);
      vk_json_int (b, "bytes", (gint64) bytes);
      vk_json_double (b, "seconds", secs);
      json_builder_end_object (b);
      vk_json_print_builder (b);
      return TRUE;
    }
  g_autofree char *sz = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
  vk_cli_info (cli, _("Image '%s' imported from %s (domain %s, %u members, %s, %.1f s); clone it "
                      "with 'vmkeep clone %s --name NEW'"), image, source, sc->domain_name,
               nmembers, sz, secs, image);
  return TRUE;
}

gboolean
vk_cmd_image (VkCli *cli, int argc, char **argv, GError **error)
{
  gboolean force = FALSE, progress = FALSE;
  g_autofree char *output = NULL;
  g_autofree char *new_name = NULL;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      N_("rm: remove even while disks still use the image as their base; export: replace "
         "an existing FILE"), NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      N_("export: write the export to FILE (- for stdout)"), N_("FILE") },
    { "name", 'n', 0, G_OPTION_ARG_STRING, &new_name,
      N_("import: name of the new image (default: the name it was exported under)"),
      N_("NAME") },
    { "progress", 0, 0, G_OPTION_ARG_NONE, &progress,
      N_("export, import: show progress on stderr even when it is not a terminal"), NULL },
    { NULL },
  };
  const VkCommand *cmd = vk_command_named ("image");
  if (!vk_cli_parse (cmd, entries, &argc, &argv, error))
    return FALSE;
  if (argc < 2)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep image: say list, inspect NAME, verify NAME, rm NAME, export NAME "
                     "or import FILE (see 'vmkeep help image')"));
      return FALSE;
    }
  const char *verb = argv[1];
  if (output && !g_str_equal (verb, "export"))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep image %s: -o/--output belongs to 'image export'"), verb);
      return FALSE;
    }
  if (new_name && !g_str_equal (verb, "import"))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep image %s: --name belongs to 'image import'"), verb);
      return FALSE;
    }
  if (g_str_equal (verb, "list"))
    return vk_cli_expect_args ("image list", argc - 1, 0, 0, _("no arguments"), error) &&
           image_list (cli, error);
  if (g_str_equal (verb, "inspect") || g_str_equal (verb, "verify") || g_str_equal (verb, "rm"))
    {
      g_autofree char *sub = g_strdup_printf ("image %s", verb);
      if (!vk_cli_expect_args (sub, argc - 1, 1, 1, _("the image NAME"), error))
        return FALSE;
      if (g_str_equal (verb, "inspect"))
        return image_inspect (cli, argv[2], error);
      if (g_str_equal (verb, "verify"))
        return image_verify (cli, argv[2], error);
      return image_rm (cli, argv[2], force, error);
    }
  if (g_str_equal (verb, "export"))
    {
      if (!vk_cli_expect_args ("image export", argc - 1, 1, 1, _("the image NAME"), error))
        return FALSE;
      if (output == NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                       _("vmkeep image export: say where to: -o FILE, or -o - for stdout "
                         "(see 'vmkeep help image')"));
          return FALSE;
        }
      return image_export (cli, argv[2], output, force, progress, error);
    }
  if (g_str_equal (verb, "import"))
    return vk_cli_expect_args ("image import", argc - 1, 1, 1,
                               _("the export FILE (or - for stdin)"), error) &&
           image_import (cli, argv[2], new_name, progress, error);
  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("vmkeep image: unknown action '%s'; use list, inspect, verify, rm, export or "
                 "import"), verb);
  return FALSE;
}
