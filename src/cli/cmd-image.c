/* vmkeep image list | inspect | verify | rm */
#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli-image.h"
#include "commands.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "output.h"
#include "save-header.h"
#include "sidecar.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

VkSidecar *
vk_cli_load_image (VkCli *cli, const char *name, char **dir_out, GError **error)
{
  if (!vk_validate_name ("image name", name, error))
    return NULL;
  g_autofree char *dir = vk_store_image_dir (cli->cfg->store_dir, name);
  g_autofree char *sidecar = g_build_filename (dir, VK_STORE_SIDECAR, NULL);
  if (!g_file_test (sidecar, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("no image '%s' in %s; 'vmkeep image list' shows the images"), name,
                   cli->cfg->store_dir);
      return NULL;
    }
  VkSidecar *sc = vk_sidecar_load (sidecar, error);
  if (sc && dir_out)
    *dir_out = g_steal_pointer (&dir);
  return sc;
}

static char *
format_time (GDateTime *t)
{
  return t ? g_date_time_format (t, "%Y-%m-%d %H:%M:%S UTC") : g_strdup ("-");
}

static gboolean
image_list (VkCli *cli, GError **error)
{
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
      g_autoptr(VkSidecar) sc = vk_cli_load_image (cli, name, NULL, &local);
      if (sc == NULL)
        {
          g_printerr ("vmkeep: warning: image %s: %s\n", name, local->message);
          continue;
        }
      g_autofree char *created = format_time (sc->created);
      if (cli->json)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, name);
          json_builder_set_member_name (b, "domain");
          json_builder_add_string_value (b, sc->domain_name);
          json_builder_set_member_name (b, "uuid");
          json_builder_add_string_value (b, sc->domain_uuid);
          json_builder_set_member_name (b, "created");
          json_builder_add_string_value (b, created);
          json_builder_set_member_name (b, "state_bytes");
          json_builder_add_int_value (b, sc->state_size);
          json_builder_set_member_name (b, "machine");
          json_builder_add_string_value (b, sc->identity->machine ? sc->identity->machine : "");
          json_builder_set_member_name (b, "nics");
          json_builder_add_int_value (b, sc->identity->nics->len);
          json_builder_set_member_name (b, "frozen_disks");
          json_builder_add_int_value (b, sc->frozen_disks->len);
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
  g_autoptr(VkSidecar) sc = vk_cli_load_image (cli, name, &dir, error);
  if (sc == NULL)
    return FALSE;
  if (cli->json)
    {
      /* The sidecar is the authoritative record; JSON mirrors its fields. */
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autofree char *created = format_time (sc->created);
      json_builder_begin_object (b);
#define S(k, v) do { json_builder_set_member_name (b, k); \
                     if (v) json_builder_add_string_value (b, v); \
                     else json_builder_add_null_value (b); } while (0)
      S ("name", name);
      S ("directory", dir);
      S ("mode", vk_sidecar_mode_to_string (sc->mode));
      S ("domain", sc->domain_name);
      S ("uuid", sc->domain_uuid);
      S ("created", created);
      S ("host", sc->host);
      S ("libvirt_version", sc->libvirt_version);
      S ("qemu_version", sc->qemu_version);
      S ("machine", sc->identity->machine);
      S ("state_file", sc->state_file);
      json_builder_set_member_name (b, "state_bytes");
      json_builder_add_int_value (b, sc->state_size);
      S ("state_sha256", sc->state_sha256);
      S ("nvram", sc->nvram_path);
      S ("nvram_sha256", sc->nvram_sha256);
      json_builder_set_member_name (b, "tpm");
      json_builder_add_boolean_value (b, sc->tpm);
      json_builder_set_member_name (b, "nics");
      json_builder_begin_array (b);
      for (guint i = 0; i < sc->identity->nics->len; i++)
        {
          VkIdentityNic *n = sc->identity->nics->pdata[i];
          json_builder_begin_object (b);
          S ("mac", n->mac);
          S ("model", n->model);
          json_builder_set_member_name (b, "queues");
          json_builder_add_int_value (b, n->queues ? n->queues : 1);
          S ("address", n->address);
          json_builder_set_member_name (b, "acpi_index");
          json_builder_add_int_value (b, n->acpi_index);
          S ("tap", n->tap);
          S ("source_type", n->source_type);
          S ("source", n->source);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "disks");
      json_builder_begin_array (b);
      for (guint i = 0; i < sc->frozen_disks->len; i++)
        {
          VkFrozenDisk *d = sc->frozen_disks->pdata[i];
          json_builder_begin_object (b);
          S ("target", d->target);
          S ("original", d->original);
          S ("frozen", d->frozen);
          S ("format", d->format);
          json_builder_set_member_name (b, "size");
          json_builder_add_int_value (b, d->size);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
#undef S
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

/* Everything verify checks, as problem lines (empty: the image is sound). */
GPtrArray *
vk_cli_verify_image (VkSidecar *sc, const char *dir, gboolean checksum)
{
  GPtrArray *problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *state = g_build_filename (dir, sc->state_file ? sc->state_file : "", NULL);
  g_autoptr(GError) local = NULL;
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (sc->state_file == NULL)
    g_ptr_array_add (problems, g_strdup (_("the sidecar names no state file")));
  else if (!vk_save_header_read (state, &hdr, &local))
    g_ptr_array_add (problems, g_strdup (local->message));
  else
    {
      struct stat st;
      if (stat (state, &st) < 0 || (guint64) st.st_size != sc->state_size)
        g_ptr_array_add (problems,
                         g_strdup_printf (_("%s has %" PRIu64 " bytes, the sidecar "
                                            "says %" PRIu64), state,
                                          (guint64) st.st_size, sc->state_size));
      else if (checksum && sc->state_sha256)
        {
          g_autofree char *sum = NULL;
          g_clear_error (&local);
          if (!vk_file_sha256 (state, &sum, NULL, &local))
            g_ptr_array_add (problems, g_strdup (local->message));
          else if (g_ascii_strcasecmp (sum, sc->state_sha256) != 0)
            g_ptr_array_add (problems,
                             g_strdup_printf (_("%s has SHA-256 %s, the sidecar says %s: the "
                                                "state was modified or damaged"),
                                              state, sum, sc->state_sha256));
        }
      g_autoptr(xmlDoc) hdoc = vk_xml_parse (hdr->xml, -1, state, NULL);
      g_autoptr(VkIdentity) hid = hdoc ? vk_identity_from_domain (hdoc, NULL) : NULL;
      if (hid == NULL)
        g_ptr_array_add (problems, g_strdup_printf (_("%s carries no readable domain XML"), state));
      else
        {
          g_autoptr(GPtrArray) d = vk_identity_compare (sc->identity, hid);
          for (guint i = 0; i < d->len; i++)
            g_ptr_array_add (problems, g_strdup_printf (_("state.sav vs sidecar: %s"),
                                                        (const char *) d->pdata[i]));
        }
    }
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      struct stat st;
      if (stat (f->frozen, &st) < 0)
        g_ptr_array_add (problems, g_strdup_printf (_("frozen disk %s (%s) is missing"),
                                                    f->target, f->frozen));
      else if ((guint64) st.st_size != f->size)
        g_ptr_array_add (problems,
                         g_strdup_printf (_("frozen disk %s (%s) has %" PRIu64
                                            " bytes, the sidecar says %" PRIu64
                                            ": it was written to"),
                                          f->target, f->frozen, (guint64) st.st_size, f->size));
    }
  return problems;
}

static gboolean
image_verify (VkCli *cli, const char *name, GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(VkSidecar) sc = vk_cli_load_image (cli, name, &dir, error);
  if (sc == NULL)
    return FALSE;
  g_autoptr(GPtrArray) problems = vk_cli_verify_image (sc, dir, TRUE);
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "image");
      json_builder_add_string_value (b, name);
      json_builder_set_member_name (b, "ok");
      json_builder_add_boolean_value (b, problems->len == 0);
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

/* A frozen base belongs to this image when it lives in the image's
 * directory or beside its disk under the name this image gave it; a clone
 * kept as an image (clone --no-start) shares its parent's bases, which
 * stay the parent's. */
static gboolean
owns_frozen (const char *dir, const char *name, const VkFrozenDisk *f)
{
  g_autofree char *prefix = g_strconcat (dir, G_DIR_SEPARATOR_S, NULL);
  g_autofree char *beside = g_strdup_printf ("%s.vmkeep-%s.base", f->original, name);
  return g_str_has_prefix (f->frozen, prefix) || g_str_equal (f->frozen, beside);
}

/* Domains whose disks still read from one of the image's frozen bases. */
GPtrArray *
vk_cli_image_dependents (VkCli *cli, VkSidecar *sc, const char *dir, const char *name,
                         GError **error)
{
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return NULL;
  g_autoptr(GPtrArray) infos = vk_conn_list_domains (conn, TRUE, error);
  if (infos == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < infos->len; i++)
    {
      VkDomainInfo *info = infos->pdata[i];
      g_autoptr(VkDomain) dom = vk_domain_try_lookup (conn, info->name);
      if (dom == NULL)
        continue;
      g_autoptr(xmlDoc) doc = vk_cli_domain_doc (dom, vk_domain_is_persistent (dom), NULL);
      if (doc == NULL)
        continue;
      xmlNodePtr devs = vk_domain_devices (doc);
      for (xmlNodePtr n = devs->children; n; n = n->next)
        {
          if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "disk"))
            continue;
          g_autofree char *path = vk_xml_child_prop (n, "source", "file");
          /* follow the chain a few links: overlay -> overlay -> base */
          for (int depth = 0; path && depth < 8; depth++)
            {
              gboolean hit = FALSE;
              for (guint k = 0; k < sc->frozen_disks->len; k++)
                {
                  VkFrozenDisk *f = sc->frozen_disks->pdata[k];
                  if (depth > 0 && g_str_equal (f->frozen, path) && owns_frozen (dir, name, f))
                    hit = TRUE;
                }
              if (hit)
                {
                  g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
                  g_ptr_array_add (out, g_strdup_printf ("%s (disk %s)", info->name, target));
                  break;
                }
              char *next = NULL;
              if (!vk_qcow2_backing_file (path, &next, NULL) || next == NULL)
                break;
              g_free (path);
              path = next;
            }
        }
    }
  return out;
}

static gboolean
image_rm (VkCli *cli, const char *name, gboolean force, GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(VkSidecar) sc = vk_cli_load_image (cli, name, &dir, error);
  if (sc == NULL)
    return FALSE;
  g_autoptr(GPtrArray) deps = vk_cli_image_dependents (cli, sc, dir, name, error);
  if (deps == NULL)
    return FALSE;
  if (deps->len > 0 && !force)
    {
      g_autoptr(GString) s = g_string_new (NULL);
      for (guint i = 0; i < deps->len; i++)
        g_string_append_printf (s, "\n  %s", (const char *) deps->pdata[i]);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' is still the base of these disks; removing it would break "
                     "them (remove those domains first, or use --force):%s"), name, s->str);
      return FALSE;
    }
  g_autofree char *locks = vk_store_locks_dir (cli->cfg->store_dir);
  g_autofree char *lockname = g_strdup_printf ("image-%s", name);
  g_autoptr(VkLock) lock = vk_lock_acquire (locks, lockname, error);
  if (lock == NULL)
    return FALSE;
  /* Frozen bases kept beside their disk (store on another filesystem) go
   * with the image. */
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_autofree char *beside = g_strdup_printf ("%s.vmkeep-%s.base", f->original, name);
      if (g_str_equal (f->frozen, beside))
        g_unlink (f->frozen);
    }
  if (!vk_rm_rf (dir, error))
    return FALSE;
  vk_cli_info (cli, _("Image '%s' removed"), name);
  return TRUE;
}

gboolean
vk_cmd_image (VkCli *cli, int argc, char **argv, GError **error)
{
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
      N_("rm: remove even while disks still use the image as their base"), NULL },
    { NULL },
  };
  const VkCommand *cmd = vk_command_find (1, (char *[]) { "image", NULL }, &(int) { 0 });
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
  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("vmkeep image: unknown action '%s'; use list, inspect, verify or rm"), verb);
  return FALSE;
}
