/* vmkeep image list | inspect | verify | rm | export | import */
#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "ops-export.h"
#include "ops-image.h"
#include "output.h"
#include "save-header.h"
#include "sidecar.h"
#include "store.h"
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

/* A NIC of the image's identity, in `image inspect --json`. */
static void
json_nic (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkIdentityNic *n = item;
  vk_json_str (b, "mac", n->mac);
  vk_json_str (b, "model", n->model);
  vk_json_int (b, "queues", n->queues ? n->queues : 1);
  vk_json_str (b, "address", n->address);
  vk_json_int (b, "acpi_index", n->acpi_index);
  vk_json_str (b, "tap", n->tap);
  vk_json_str (b, "source_type", n->source_type);
  vk_json_str (b, "source", n->source);
}

/* A disk frozen for the image, in `image inspect --json`. */
static void
json_frozen_disk (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkFrozenDisk *d = item;
  vk_json_str (b, "target", d->target);
  vk_json_str (b, "original", d->original);
  vk_json_str (b, "frozen", d->frozen);
  vk_json_str (b, "format", d->format);
  vk_json_int (b, "size", d->size);
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
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      g_autofree char *created = format_time (sc->created);
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
      vk_json_objects (b, "nics", sc->identity->nics, json_nic, NULL);
      vk_json_objects (b, "disks", sc->frozen_disks, json_frozen_disk, NULL);
      vk_json_object_print (b);
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
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "image", name);
      vk_json_bool (b, "ok", problems->len == 0);
      vk_json_str_array (b, "problems", problems);
      vk_json_object_print (b);
    }
  else
    for (guint i = 0; i < problems->len; i++)
      printf ("%s: %s\n", name, (const char *) problems->pdata[i]);
  if (problems->len > 0)
    return vk_fail (error, VK_ERROR_REFUSED,
                    g_dngettext (GETTEXT_PACKAGE, "image '%s' failed verification (%u problem)",
                                 "image '%s' failed verification (%u problems)", problems->len),
                    name, problems->len);
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

/* An export or import under way: its progress on the one progress display
 * and its notices (the signals cancelling it: run.c). */
typedef struct {
  VkCli *cli;
  gboolean on;
  const char *what;
  gboolean started;
  VkProgress pr;
  VkOpsNoticeFunc notice;
  gpointer notice_data;
} ImageJob;

static void
image_job_progress (const VkOpsProgress *p, gpointer data)
{
  ImageJob *job = data;
  if (!job->started)
    {
      vk_progress_init (&job->pr, job->on, job->what, p->total);
      job->started = TRUE;
    }
  if (p->finished)
    vk_progress_end (&job->pr, !p->failed);
  else if (p->done > 0)
    vk_progress_update (&job->pr, p->done, p->total);
}

/* A notice that is a whole line (a disk being flattened) is narration,
 * shown as it is; any other is a warning. */
static void
image_job_notice (const char *message, gpointer data)
{
  ImageJob *job = data;
  if (!g_str_has_suffix (message, "\n"))
    job->notice (message, job->notice_data);
  else if (!job->cli->quiet && !job->cli->json)
    g_printerr ("%s", message);
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
}

static void
image_job_end (ImageJob *job)
{
  if (job->pr.what)
    vk_progress_end (&job->pr, FALSE);
  job->cli->ops->progress = NULL;
  job->cli->ops->progress_data = NULL;
  job->cli->ops->notice = job->notice;
  job->cli->ops->notice_data = job->notice_data;
}

static gboolean
image_export (VkCli *cli, const char *name, const char *output, gboolean force,
              gboolean progress, GError **error)
{
  gboolean to_stdout = g_str_equal (output, "-");
  if (to_stdout && cli->json)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image export: --json and -o - both want stdout; write the export "
                      "to a file with -o FILE, or drop --json"));
  if (to_stdout && isatty (STDOUT_FILENO))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image export: refusing to write an image to a terminal; redirect "
                      "stdout (-o - | ssh HOST vmkeep image import -) or give -o FILE"));
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
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "image", name);
      vk_json_str (b, "file", output);
      vk_json_int (b, "bytes", (gint64) r->bytes);
      vk_json_double (b, "seconds", r->seconds);
      json_builder_set_member_name (b, "members");
      json_builder_begin_array (b);
      for (guint i = 0; i < r->members->len; i++)
        vk_export_member_json (b, r->members->pdata[i], FALSE);
      json_builder_end_array (b);
      vk_json_str (b, "tpm_portability", r->tpm_note);
      vk_json_object_print (b);
      return TRUE;
    }
  if (r->tpm_note && !cli->quiet)
    g_printerr ("%s\n", r->tpm_note);
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

static gboolean
image_import (VkCli *cli, const char *input, const char *name_opt, gboolean progress,
              GError **error)
{
  gboolean from_stdin = g_str_equal (input, "-");
  if (name_opt && !vk_ops_import_name_free (cli->ops, name_opt, error))
    return FALSE;
  if (from_stdin && isatty (STDIN_FILENO))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image import: stdin is a terminal; pipe an export in "
                      "(... | vmkeep image import -) or name the FILE"));
  const char *source = from_stdin ? _("the export on stdin") : input;
  /* the trust boundary asks this host's libvirt */
  VkOps *ops = vk_cli_ops (cli, error);
  g_autofree char *what = g_strdup_printf (_("Importing %s"), source);
  ImageJob job;
  image_job_begin (cli, &job, progress, what);
  g_autoptr(VkImportResult) r = ops ? vk_ops_image_import (ops, from_stdin ? NULL : input,
                                                          source, name_opt, error)
                                    : NULL;
  image_job_end (&job);
  if (r == NULL)
    return FALSE;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "image", r->image);
      vk_json_str (b, "directory", r->directory);
      vk_json_str (b, "domain", r->domain);
      vk_json_str (b, "uuid", r->uuid);
      vk_json_int (b, "members", r->members);
      vk_json_int (b, "bytes", (gint64) r->bytes);
      vk_json_double (b, "seconds", r->seconds);
      vk_json_object_print (b);
      return TRUE;
    }
  g_autofree char *sz = g_format_size_full (r->bytes, G_FORMAT_SIZE_IEC_UNITS);
  vk_cli_info (cli, _("Image '%s' imported from %s (domain %s, %u members, %s, %.1f s); clone it "
                      "with 'vmkeep clone %s --name NEW'"), r->image, source, r->domain,
               r->members, sz, r->seconds, r->image);
  return TRUE;
}

static struct {
  gboolean force;
  gboolean progress;
  char *output;
  char *new_name;
} image_opt;

const GOptionEntry vk_image_options[] = {
  { "force", 'f', 0, G_OPTION_ARG_NONE, &image_opt.force,
    N_("rm: remove even while disks still use the image as their base; export: replace "
       "an existing FILE"), NULL },
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &image_opt.output,
    N_("export: write the export to FILE (- for stdout)"), N_("FILE") },
  { "name", 'n', 0, G_OPTION_ARG_STRING, &image_opt.new_name,
    N_("import: name of the new image (default: the name it was exported under)"),
    N_("NAME") },
  { "progress", 0, 0, G_OPTION_ARG_NONE, &image_opt.progress,
    N_("export, import: show progress on stderr even when it is not a terminal"), NULL },
  G_OPTION_ENTRY_NULL
};

gboolean
vk_cmd_image (VkCli *cli, int argc, char **argv, GError **error)
{
  const VkCommand *cmd = vk_command_named ("image");
  if (!vk_cli_parse (cmd, &argc, &argv, error))
    return FALSE;
  if (argc < 2)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image: say list, inspect NAME, verify NAME, rm NAME, export NAME "
                      "or import FILE (see 'vmkeep help image')"));
  const char *verb = argv[1];
  if (image_opt.output && !g_str_equal (verb, "export"))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image %s: -o/--output belongs to 'image export'"), verb);
  if (image_opt.new_name && !g_str_equal (verb, "import"))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image %s: --name belongs to 'image import'"), verb);
  /* list, inspect and verify change nothing: a signal ends them at once */
  if (g_str_equal (verb, "list") || g_str_equal (verb, "inspect") || g_str_equal (verb, "verify"))
    vk_cli_sig_release ();
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
      return image_rm (cli, argv[2], image_opt.force, error);
    }
  if (g_str_equal (verb, "export"))
    {
      if (!vk_cli_expect_args ("image export", argc - 1, 1, 1, _("the image NAME"), error))
        return FALSE;
      if (image_opt.output == NULL)
        return vk_fail (error, VK_ERROR_USAGE,
                        _("vmkeep image export: say where to: -o FILE, or -o - for stdout "
                          "(see 'vmkeep help image')"));
      return image_export (cli, argv[2], image_opt.output, image_opt.force, image_opt.progress, error);
    }
  if (g_str_equal (verb, "import"))
    return vk_cli_expect_args ("image import", argc - 1, 1, 1,
                               _("the export FILE (or - for stdin)"), error) &&
           image_import (cli, argv[2], image_opt.new_name, image_opt.progress, error);
  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("vmkeep image: unknown action '%s'; use list, inspect, verify, rm, export or "
                 "import"), verb);
  return FALSE;
}
