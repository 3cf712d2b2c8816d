/* vmkeep image list | inspect | verify | rm | export | import */
#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-image.h"
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
static void
image_job_progress (const VkOpsProgress *p, gpointer data)
{
  VkImageJob *job = data;
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
  VkImageJob *job = data;
  if (!g_str_has_suffix (message, "\n"))
    job->notice (message, job->notice_data);
  else if (!job->cli->quiet && !job->cli->json)
    g_printerr ("%s", message);
}

void
vk_image_job_begin (VkCli *cli, VkImageJob *job, gboolean progress, const char *what)
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

void
vk_image_job_end (VkImageJob *job)
{
  if (job->pr.what)
    vk_progress_end (&job->pr, FALSE);
  job->cli->ops->progress = NULL;
  job->cli->ops->progress_data = NULL;
  job->cli->ops->notice = job->notice;
  job->cli->ops->notice_data = job->notice_data;
}

static struct {
  gboolean force;
  gboolean progress;
  char *output;
  char *new_name;
  char *format;
  char *authfile;
  char *creds;
  int tls_verify;   /* 0: not given, 1: true, 2: false */
} image_opt;

static gboolean
parse_tls_verify (const char *option, const char *value, gpointer data, GError **error)
{
  (void) data;
  if (value == NULL || g_str_equal (value, "true"))
    image_opt.tls_verify = 1;
  else if (g_str_equal (value, "false"))
    image_opt.tls_verify = 2;
  else
    return vk_fail (error, VK_ERROR_USAGE, _("%s takes true or false, not '%s'"), option, value);
  return TRUE;
}

const GOptionEntry vk_image_options[] = {
  { "force", 'f', 0, G_OPTION_ARG_NONE, &image_opt.force,
    N_("rm: remove even while disks still use the image as their base; export: replace "
       "an existing FILE or DIR"), NULL },
  { "output", 'o', 0, G_OPTION_ARG_FILENAME, &image_opt.output,
    N_("export: write the export to FILE (- for stdout), or with --format oci to the new "
       "directory DIR"), N_("FILE|DIR") },
  { "format", 0, 0, G_OPTION_ARG_STRING, &image_opt.format,
    N_("export: tar (the default: one verified stream) or oci (an OCI image layout)"),
    N_("tar|oci") },
  { "name", 'n', 0, G_OPTION_ARG_STRING, &image_opt.new_name,
    N_("import, pull: name of the new image (default: the name it was exported under)"),
    N_("NAME") },
  { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &image_opt.authfile,
    N_("push, pull: the registry credentials file (skopeo's --authfile, "
       "containers-auth.json(5))"), N_("FILE") },
  { "creds", 0, 0, G_OPTION_ARG_STRING, &image_opt.creds,
    N_("push, pull: the registry credentials (skopeo's --creds)"), N_("USER[:PASSWORD]") },
  { "tls-verify", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, parse_tls_verify,
    N_("push, pull: require HTTPS with verified certificates (the default); "
       "--tls-verify=false for a plain-HTTP registry"), N_("true|false") },
  { "progress", 0, 0, G_OPTION_ARG_NONE, &image_opt.progress,
    N_("export, import, push, pull: show progress on stderr even when it is not a terminal"),
    NULL },
  G_OPTION_ENTRY_NULL
};

/* Options that belong to other actions than `verb`. */
static gboolean
image_check_options (const char *verb, GError **error)
{
  static const struct {
    const char *option;
    const char *verbs;
  } owners[] = {
    { "-o/--output", " export " }, { "--format", " export " }, { "--name", " import pull " },
    { "--authfile", " push pull " }, { "--creds", " push pull " },
    { "--tls-verify", " push pull " },
  };
  gboolean given[] = { image_opt.output != NULL, image_opt.format != NULL,
                       image_opt.new_name != NULL, image_opt.authfile != NULL,
                       image_opt.creds != NULL, image_opt.tls_verify != 0 };
  g_autofree char *padded = g_strdup_printf (" %s ", verb);
  for (guint i = 0; i < G_N_ELEMENTS (owners); i++)
    if (given[i] && strstr (owners[i].verbs, padded) == NULL)
      return vk_fail (error, VK_ERROR_USAGE, _("vmkeep image %s: %s belongs to 'image%s'"),
                      verb, owners[i].option, owners[i].verbs);
  if (image_opt.format && !g_str_equal (image_opt.format, "tar") &&
      !g_str_equal (image_opt.format, "oci"))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image export: --format takes tar or oci, not '%s'"),
                    image_opt.format);
  return TRUE;
}

static gboolean
image_export_cmd (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_expect_args ("image export", argc - 1, 1, 1, _("the image NAME"), error))
    return FALSE;
  gboolean oci = g_strcmp0 (image_opt.format, "oci") == 0;
  if (image_opt.output == NULL)
    return vk_fail (error, VK_ERROR_USAGE,
                    oci ? _("vmkeep image export --format oci: say where to: -o DIR (a new "
                            "directory)")
                        : _("vmkeep image export: say where to: -o FILE, or -o - for stdout "
                            "(see 'vmkeep help image')"));
  if (oci && g_str_equal (image_opt.output, "-"))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image export --format oci writes a directory, not a stream; give "
                      "-o DIR, or use --format tar for -o -"));
  if (oci)
    return vk_image_export_oci (cli, argv[2], image_opt.output, image_opt.force,
                                image_opt.progress, error);
  return vk_image_export (cli, argv[2], image_opt.output, image_opt.force, image_opt.progress,
                       error);
}

/* push NAME REF, pull REF */
static gboolean
image_registry_cmd (VkCli *cli, const char *verb, int argc, char **argv, GError **error)
{
  gboolean push = g_str_equal (verb, "push");
  VkRegistryOptions ro = { image_opt.authfile, image_opt.creds,
                           image_opt.tls_verify == 0 ? -1 : image_opt.tls_verify == 1, FALSE };
  if (push)
    return vk_cli_expect_args ("image push", argc - 1, 2, 2,
                               _("the image NAME and the registry REFERENCE"), error) &&
           vk_image_push (cli, argv[2], argv[3], &ro, image_opt.progress, error);
  return vk_cli_expect_args ("image pull", argc - 1, 1, 1, _("the registry REFERENCE"), error) &&
         vk_image_pull (cli, argv[2], image_opt.new_name, &ro, image_opt.progress, error);
}

static gboolean
image_import_cmd (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_expect_args ("image import", argc - 1, 1, 1,
                           _("the export FILE (or - for stdin) or an OCI layout DIR"), error))
    return FALSE;
  if (g_file_test (argv[2], G_FILE_TEST_IS_DIR))
    return vk_image_import_oci (cli, argv[2], image_opt.new_name, image_opt.progress, error);
  return vk_image_import (cli, argv[2], image_opt.new_name, image_opt.progress, error);
}

gboolean
vk_cmd_image (VkCli *cli, int argc, char **argv, GError **error)
{
  const VkCommand *cmd = vk_command_named ("image");
  if (!vk_cli_parse (cmd, &argc, &argv, error))
    return FALSE;
  if (argc < 2)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image: say list, inspect NAME, verify NAME, rm NAME, export NAME, "
                      "import FILE|DIR, push NAME REF or pull REF (see 'vmkeep help image')"));
  const char *verb = argv[1];
  if (!image_check_options (verb, error))
    return FALSE;
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
    return image_export_cmd (cli, argc, argv, error);
  if (g_str_equal (verb, "import"))
    return image_import_cmd (cli, argc, argv, error);
  if (g_str_equal (verb, "push") || g_str_equal (verb, "pull"))
    return image_registry_cmd (cli, verb, argc, argv, error);
  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("vmkeep image: unknown action '%s'; use list, inspect, verify, rm, export, "
                 "import, push or pull"), verb);
  return FALSE;
}
