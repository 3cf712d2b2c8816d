/* vmkeep pin | define | layout */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "domain-xml.h"
#include "output.h"
#include "pin.h"
#include "spec.h"
#include "validate.h"
#include "vk-error.h"

/* Read FILE, or stdin for "-". */
static char *
read_input (const char *path, gsize *len, GError **error)
{
  char *text = NULL;
  g_autoptr(GError) local = NULL;
  if (g_str_equal (path, "-"))
    {
      g_autoptr(GIOChannel) ch = g_io_channel_unix_new (STDIN_FILENO);
      if (g_io_channel_read_to_end (ch, &text, len, &local) != G_IO_STATUS_NORMAL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot read the domain XML from standard input: %s"),
                       local ? local->message : "?");
          return NULL;
        }
      return text;
    }
  if (!g_file_get_contents (path, &text, len, &local))
    {
      g_set_error (error, VK_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot read %s: %s"), path, local->message);
      return NULL;
    }
  return text;
}

static xmlDocPtr
load_and_pin (VkCli *cli, const char *path, gboolean relayout, GError **error)
{
  gsize len = 0;
  g_autofree char *text = read_input (path, &len, error);
  if (text == NULL)
    return NULL;
  g_autoptr(xmlDoc) doc = vk_xml_parse (text, len,
                                        g_str_equal (path, "-") ? "<stdin>" : path, error);
  if (doc == NULL)
    return NULL;
  VkPinOptions opts = { .policy = cli->cfg->policy, .relayout = relayout };
  if (!vk_pin (doc, &opts, error))
    return NULL;
  return g_steal_pointer (&doc);
}

static struct {
  gboolean relayout;
} pin_opt;

/* pin and define share their option */
const GOptionEntry vk_pin_options[] = {
  { "relayout", 0, 0, G_OPTION_ARG_NONE, &pin_opt.relayout,
    N_("Move devices placed against the policy instead of failing"), NULL },
  G_OPTION_ENTRY_NULL
};

/* The front pin and define share: the one FILE argument, read and pinned. */
static xmlDocPtr
pin_file_argument (VkCli *cli, const char *cmd, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin (cmd, &argc, &argv, 1, 1, _("FILE (or - for standard input)"), error))
    return NULL;
  return load_and_pin (cli, argv[1], pin_opt.relayout, error);
}

gboolean
vk_cmd_pin (VkCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(xmlDoc) doc = pin_file_argument (cli, "pin", argc, argv, error);
  if (doc == NULL)
    return FALSE;
  g_autofree char *xml = vk_xml_format (doc);
  fputs (xml, stdout);
  return TRUE;
}

gboolean
vk_cmd_define (VkCli *cli, int argc, char **argv, GError **error)
{
  g_autoptr(xmlDoc) doc = pin_file_argument (cli, "define", argc, argv, error);
  if (doc == NULL)
    return FALSE;
  g_autofree char *name = vk_domain_name (doc);
  if (!vk_validate_name ("domain name", name, error))
    return FALSE;
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  /* redefining a domain changes it: under its lock */
  g_autoptr(VkDomain) old = vk_domain_try_lookup (conn, name);
  g_autofree char *old_uuid = old ? vk_domain_get_uuid (old) : NULL;
  g_autoptr(VkLock) lock = old ? vk_ops_lock_domain (cli->ops, old_uuid, name, error) : NULL;
  if (old && lock == NULL)
    return FALSE;
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_cli_define_verified (cli, conn, doc, &dom, error))
    return FALSE;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      g_autofree char *u = vk_domain_get_uuid (dom);
      vk_json_str (b, "name", name);
      vk_json_str (b, "uuid", u);
      vk_json_object_print (b);
    }
  else
    vk_cli_info (cli, _("Domain '%s' defined, layout verified"), name);
  return TRUE;
}

/* Firmware and TPM are not PCI devices, but they are part of what a guest
 * (Windows 11 above all) checks on resume, so the layout names them. */
typedef struct {
  char *firmware;     /* "efi", "bios" */
  gboolean secure_boot;
  char *loader;
  char *nvram;
  char *tpm;          /* "tpm-crb emulator 2.0" or NULL */
} FwInfo;

static void
fw_info (xmlDocPtr doc, FwInfo *fw)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr os = vk_xml_child (root, "os");
  fw->firmware = vk_xml_prop (os, "firmware");
  fw->loader = vk_xml_child_text (os, "loader");
  fw->nvram = vk_xml_child_text (os, "nvram");
  g_autofree char *secure = vk_xml_child_prop (os, "loader", "secure");
  fw->secure_boot = g_strcmp0 (secure, "yes") == 0;
  for (xmlNodePtr f = vk_xml_child (vk_xml_child (os, "firmware"), "feature"); f; f = f->next)
    {
      g_autofree char *name = vk_xml_prop (f, "name");
      g_autofree char *en = vk_xml_prop (f, "enabled");
      if (f->type == XML_ELEMENT_NODE && g_strcmp0 (name, "secure-boot") == 0)
        fw->secure_boot = g_strcmp0 (en, "yes") == 0;
    }
  if (fw->firmware == NULL)
    fw->firmware = g_strdup (fw->loader ? "efi" : "bios");
  xmlNodePtr tpm = vk_xml_child (vk_domain_devices (doc), "tpm");
  if (tpm)
    {
      g_autofree char *model = vk_xml_prop (tpm, "model");
      g_autofree char *be = vk_xml_child_prop (tpm, "backend", "type");
      g_autofree char *ver = vk_xml_child_prop (tpm, "backend", "version");
      fw->tpm = g_strdup_printf ("%s %s %s", model ? model : "tpm-tis", be ? be : "",
                                 ver ? ver : "");
    }
}

static void
fw_clear (FwInfo *fw)
{
  g_free (fw->firmware);
  g_free (fw->loader);
  g_free (fw->nvram);
  g_free (fw->tpm);
}

static void
row_strings (const VkLayoutRow *r, char **slot, char **addr, char **acpi)
{
  *slot = r->root_slot <= 0x1f ? g_strdup_printf ("0x%02x", r->root_slot) : g_strdup ("?");
  *addr = r->bus <= 0xff && r->slot <= 0x1f
            ? g_strdup_printf ("0000:%02x:%02x.%x", r->bus, r->slot, r->function)
            : g_strdup (_("(none)"));
  *acpi = r->acpi_index >= 0 ? g_strdup_printf ("%d", r->acpi_index) : NULL;
}

static struct {
  gboolean check;
  gboolean all;
  gboolean inactive;
} layout_opt;

const GOptionEntry vk_layout_options[] = {
  { "check", 0, 0, G_OPTION_ARG_NONE, &layout_opt.check,
    N_("Audit against the policy; exit 5 listing every violation"), NULL },
  { "all", 0, 0, G_OPTION_ARG_NONE, &layout_opt.all, N_("Every defined domain"), NULL },
  { "inactive", 0, 0, G_OPTION_ARG_NONE, &layout_opt.inactive,
    N_("Use the persistent definition even when the domain runs"), NULL },
  G_OPTION_ENTRY_NULL
};

/* A row of the slot table, in `layout --json`. */
static void
json_row (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkLayoutRow *r = item;
  g_autofree char *slot = NULL, *addr = NULL, *acpi = NULL;
  row_strings (r, &slot, &addr, &acpi);
  vk_json_str (b, "slot", slot);
  vk_json_str (b, "address", addr);
  vk_json_int (b, "bus", r->bus);
  vk_json_str (b, "kind", r->kind);
  vk_json_str (b, "device", r->device);
  vk_json_str (b, "alias", r->alias);
  vk_json_str (b, "mac", r->mac);
  vk_json_int_or_null (b, "acpi_index", r->acpi_index);
  vk_json_bool (b, "ok", r->ok);
}

static void
json_violation (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkViolation *v = item;
  vk_json_str (b, "device", v->device);
  vk_json_str (b, "address", v->address);
  vk_json_str (b, "message", v->message);
}

/* One domain's object of `layout --json`. */
static void
layout_json_one (JsonBuilder *b, const char *name, xmlDocPtr doc, GPtrArray *rows,
                 GPtrArray *viol)
{
  json_builder_begin_object (b);
  vk_json_str (b, "domain", name);
  vk_json_bool (b, "compliant", viol->len == 0);
  vk_json_objects (b, "devices", rows, json_row, NULL);
  vk_json_objects (b, "violations", viol, json_violation, NULL);
  FwInfo fw = { 0 };
  fw_info (doc, &fw);
  json_builder_set_member_name (b, "firmware");
  json_builder_begin_object (b);
  vk_json_str (b, "type", fw.firmware);
  vk_json_bool (b, "secure_boot", fw.secure_boot);
  vk_json_str (b, "loader", fw.loader);
  vk_json_str (b, "nvram", fw.nvram);
  json_builder_end_object (b);
  vk_json_str (b, "tpm", fw.tpm);
  fw_clear (&fw);
  json_builder_end_object (b);
}

/* One domain's slot table and verdict, as text (`several`: one of more). */
static void
layout_print_one (VkCli *cli, const char *name, xmlDocPtr doc, GPtrArray *rows, GPtrArray *viol,
                  gboolean several)
{
  if (!layout_opt.check || several)
    {
      if (several)
        printf ("%s:\n", name);
      g_autoptr(VkTable) t = vk_table_new (_("SLOT"), _("ADDRESS"), _("DEVICE"),
                                           _("ALIAS"), _("MAC"), _("ACPI"),
                                           _("POLICY"), NULL);
      for (guint i = 0; i < rows->len; i++)
        {
          VkLayoutRow *r = rows->pdata[i];
          g_autofree char *slot = NULL, *addr = NULL, *acpi = NULL;
          row_strings (r, &slot, &addr, &acpi);
          vk_table_add (t, slot, addr, r->device, r->alias, r->mac, acpi,
                        r->ok ? _("ok") : _("VIOLATION"));
        }
      if (!layout_opt.check || !cli->quiet)
        {
          vk_table_print (t, stdout);
          FwInfo fw = { 0 };
          fw_info (doc, &fw);
          printf (_("Firmware: %s%s%s%s\n"), fw.firmware,
                  fw.secure_boot ? _(", Secure Boot") : "",
                  fw.nvram ? _(", NVRAM ") : "", fw.nvram ? fw.nvram : "");
          if (fw.tpm)
            printf (_("TPM:      %s (not a PCI device)\n"), fw.tpm);
          fw_clear (&fw);
        }
    }
  if (layout_opt.check || viol->len > 0)
    {
      for (guint i = 0; i < viol->len; i++)
        {
          VkViolation *v = viol->pdata[i];
          printf (_("%s: violation: %s%s%s %s\n"), name, v->device,
                  v->address ? " at " : "", v->address ? v->address : "", v->message);
        }
      if (viol->len == 0 && !cli->quiet)
        printf (_("%s: layout complies with the slot policy\n"), name);
    }
  if (several)
    printf ("\n");
}

gboolean
vk_cmd_layout (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_parse (vk_command_named ("layout"), &argc, &argv, error))
    return FALSE;
  if (!layout_opt.all && !vk_cli_expect_args ("layout", argc, 1, -1, _("a DOMAIN (or --all)"), error))
    return FALSE;
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;

  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (layout_opt.all)
    {
      g_autoptr(GPtrArray) infos = vk_conn_list_domains (conn, TRUE, error);
      if (infos == NULL)
        return FALSE;
      for (guint i = 0; i < infos->len; i++)
        g_ptr_array_add (names, g_strdup (((VkDomainInfo *) infos->pdata[i])->name));
    }
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (names, g_strdup (argv[i]));

  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  int worst = 0;
  guint total_violations = 0;
  g_autofree char *last_error = NULL;

  for (guint n = 0; n < names->len; n++)
    {
      const char *name = names->pdata[n];
      g_autoptr(GError) local = NULL;
      g_autoptr(VkDomain) dom = NULL;
      g_autofree char *xml = NULL;
      g_autoptr(xmlDoc) doc = NULL;
      g_autoptr(GPtrArray) rows = NULL;
      g_autoptr(GPtrArray) viol = NULL;

      if (!vk_domain_lookup (conn, name, &dom, &local) ||
          (xml = vk_domain_xml (dom, layout_opt.inactive || vk_domain_state (dom, NULL) != VK_STATE_RUNNING,
                                &local)) == NULL ||
          (doc = vk_xml_parse (xml, -1, name, &local)) == NULL ||
          (rows = vk_layout_table (doc, &cli->cfg->policy, &local)) == NULL ||
          (viol = vk_layout_check (doc, &cli->cfg->policy, &local)) == NULL)
        {
          if (names->len > 1)
            g_printerr ("vmkeep: error: %s: %s\n", name, local->message);
          worst = MAX (worst, vk_error_exit_code (local));
          g_free (last_error);
          last_error = g_strdup (local->message);
          continue;
        }
      total_violations += viol->len;
      if (viol->len > 0)
        worst = MAX (worst, VK_ERROR_REFUSED);

      if (cli->json)
        layout_json_one (b, name, doc, rows, viol);
      else
        layout_print_one (cli, name, doc, rows, viol, names->len > 1);
    }
  json_builder_end_array (b);
  if (cli->json)
    {
      g_autoptr(JsonNode) root = json_builder_get_root (b);
      if (names->len == 1 && !layout_opt.all)
        {
          JsonArray *arr = json_node_get_array (root);
          if (json_array_get_length (arr) == 1)
            {
              g_autoptr(JsonNode) one = json_node_copy (json_array_get_element (arr, 0));
              vk_json_print (one);
            }
          else
            vk_json_print (root);
        }
      else
        vk_json_print (root);
    }

  if (worst == VK_ERROR_REFUSED && layout_opt.check)
    return vk_fail (error, VK_ERROR_REFUSED,
                    g_dngettext (GETTEXT_PACKAGE,
                                 "%u violation of the slot policy found; 'vmkeep pin "
                                 "--relayout' on the domain XML moves the devices",
                                 "%u violations of the slot policy found; 'vmkeep pin "
                                 "--relayout' on the domain XML moves the devices",
                                 total_violations), total_violations);
  if (worst != 0 && worst != VK_ERROR_REFUSED)
    return vk_fail (error, worst, "%s", last_error);
  return TRUE;
}
