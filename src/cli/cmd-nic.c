/* vmkeep nic add | nic remove
 *
 * A NIC is placed by the same policy as at create time: pc takes the lowest
 * free slot of the NIC range, q35 the next empty NIC root port, so a
 * hot-added NIC is named sequentially in the guest (ens5 after ens4, eno3
 * after eno2) instead of landing behind the other devices. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "cli-attach.h"
#include "commands.h"
#include "ops-host.h"
#include "domain-xml.h"
#include "identity.h"
#include "output.h"
#include "pin.h"
#include "spec.h"
#include "validate.h"
#include "vk-error.h"

/* Every MAC of the NICs in a domain document (lower case, as its identity
 * records them); nothing for a NULL document. */
static gboolean
collect_macs (xmlDocPtr doc, GPtrArray *out, GError **error)
{
  if (doc == NULL)
    return TRUE;
  g_autoptr(VkIdentity) id = vk_identity_from_domain (doc, error);
  if (id == NULL)
    return FALSE;
  for (guint i = 0; i < id->nics->len; i++)
    {
      const VkIdentityNic *nic = id->nics->pdata[i];
      if (nic->mac)
        g_ptr_array_add (out, g_strdup (nic->mac));
    }
  return TRUE;
}

static gboolean
is_nic_with_key (xmlNodePtr n, gconstpointer data)
{
  const char *key = data;
  if (!xmlStrEqual (n->name, BAD_CAST "interface"))
    return FALSE;
  g_autofree char *mac = vk_xml_child_prop (n, "mac", "address");
  g_autofree char *alias = vk_xml_child_prop (n, "alias", "name");
  return (mac && g_ascii_strcasecmp (mac, key) == 0) || g_strcmp0 (alias, key) == 0;
}

/* The <interface> whose MAC (in any case) or alias is `key`. */
static xmlNodePtr
find_nic (xmlDocPtr doc, const char *key)
{
  return doc ? vk_xml_find_child (vk_domain_devices (doc), is_nic_with_key, key) : NULL;
}

/* Live and persistent definitions must agree on where the NIC goes, or the
 * next cold boot would move it. */
static gboolean
agree (VkNicPlacement *a, VkNicPlacement *b, const char *name, GError **error)
{
  if (a->bus == b->bus && a->slot == b->slot)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("the running and the persistent definition of '%s' disagree on the "
                 "next free NIC slot (live 0000:%02x:%02x.0, persistent "
                 "0000:%02x:%02x.0); add the NIC with --config and restart the VM, "
                 "or make the definitions agree first"),
               name, a->bus, a->slot, b->bus, b->slot);
  return FALSE;
}

static void
print_nic_json (const char *domain, const char *mac, const char *addr, guint acpi,
                gboolean live, gboolean config, const char *action)
{
  g_autoptr(JsonBuilder) b = vk_json_object_new ();
  vk_json_str (b, "domain", domain);
  vk_json_str (b, "action", action);
  vk_json_str (b, "mac", mac);
  vk_json_str (b, "address", addr);
  if (acpi > 0)
    {
      vk_json_int (b, "acpi_index", acpi);
    }
  vk_json_bool (b, "live", live);
  vk_json_bool (b, "config", config);
  vk_json_object_print (b);
}

static struct {
  char *bridge;
  char *network;
  char *tap;
  char *mac_arg;
  char *model;
  char *target;
  int queues;
  gboolean live;
  gboolean config;
} nic_add_opt;

const GOptionEntry vk_nic_add_options[] = {
  { "bridge", 0, 0, G_OPTION_ARG_STRING, &nic_add_opt.bridge, N_("Connect to this host bridge"), N_("BRIDGE") },
  { "network", 0, 0, G_OPTION_ARG_STRING, &nic_add_opt.network, N_("Connect to this libvirt network"), N_("NETWORK") },
  { "tap", 0, 0, G_OPTION_ARG_STRING, &nic_add_opt.tap, N_("Use this existing TAP device (type ethernet)"), N_("TAP") },
  { "target", 0, 0, G_OPTION_ARG_STRING, &nic_add_opt.target, N_("Name of the TAP libvirt creates for a bridge/network NIC"), N_("TAP") },
  { "mac", 0, 0, G_OPTION_ARG_STRING, &nic_add_opt.mac_arg, N_("MAC address (default: generated)"), N_("MAC") },
  { "model", 0, 0, G_OPTION_ARG_STRING, &nic_add_opt.model, N_("virtio (default), e1000e, e1000 or rtl8139"), N_("MODEL") },
  { "queues", 0, 0, G_OPTION_ARG_INT, &nic_add_opt.queues, N_("virtio-net queue pairs"), N_("Q") },
  { "live", 0, 0, G_OPTION_ARG_NONE, &nic_add_opt.live, N_("Hot-plug into the running VM"), NULL },
  { "config", 0, 0, G_OPTION_ARG_NONE, &nic_add_opt.config, N_("Add to the persistent definition"), NULL },
  G_OPTION_ENTRY_NULL
};

/* The NIC `nic add` describes, from its options, checked. */
static VkNicSpec *
nic_spec_from_options (GError **error)
{
  int given = (nic_add_opt.bridge != NULL) + (nic_add_opt.network != NULL) + (nic_add_opt.tap != NULL);
  if (given != 1)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep nic add: give exactly one of --bridge, --network or --tap"));
      return NULL;
    }
  /* Reuse the --nic parser so both commands accept the same values. */
  g_autoptr(GString) spec_text = g_string_new (NULL);
  g_string_append_printf (spec_text, "%s=%s", nic_add_opt.bridge ? "bridge" : nic_add_opt.network ? "network" : "tap",
                          nic_add_opt.bridge ? nic_add_opt.bridge : nic_add_opt.network ? nic_add_opt.network : nic_add_opt.tap);
  if (nic_add_opt.mac_arg)
    g_string_append_printf (spec_text, ",mac=%s", nic_add_opt.mac_arg);
  if (nic_add_opt.model)
    g_string_append_printf (spec_text, ",model=%s", nic_add_opt.model);
  if (nic_add_opt.queues != 0)
    g_string_append_printf (spec_text, ",queues=%d", nic_add_opt.queues);
  if (nic_add_opt.target)
    g_string_append_printf (spec_text, ",tap=%s", nic_add_opt.target);
  if (nic_add_opt.queues < 0 || (nic_add_opt.mac_arg && strchr (nic_add_opt.mac_arg, ',')) || (nic_add_opt.target && strchr (nic_add_opt.target, ',')))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep nic add: --queues must be positive and names may not contain ','"));
      return NULL;
    }
  g_autoptr(VkNicSpec) nic = NULL;
  if (!vk_nic_spec_parse (spec_text->str, &nic, error))
    return NULL;
  return g_steal_pointer (&nic);
}

gboolean
vk_cmd_nic_add (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("nic add", &argc, &argv, 1, 1, _("the DOMAIN"), error))
    return FALSE;
  const char *name = argv[1];

  g_autoptr(VkNicSpec) nic = nic_spec_from_options (error);
  if (nic == NULL)
    return FALSE;

  g_autoptr(VkDomain) dom = NULL;
  if (!vk_cli_open_for_change (cli, name, &nic_add_opt.live, &nic_add_opt.config, &dom, error))
    return FALSE;
  /* a hibernate of the VM meanwhile would record a NIC set that wake
   * then finds changed */
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (cli->ops, uuid, name, error);
  if (lock == NULL)
    return FALSE;
  VkConn *conn = cli->conn;
  if (nic->kind != VK_NET_TAP && !vk_ops_check_nic_source (conn, nic->kind, nic->source, error))
    return FALSE;

  g_autoptr(xmlDoc) live_doc = NULL;
  g_autoptr(xmlDoc) cfg_doc = NULL;
  if (!vk_cli_domain_docs (dom, nic_add_opt.live, nic_add_opt.config, &live_doc, &cfg_doc, error))
    return FALSE;

  g_autoptr(GPtrArray) macs = g_ptr_array_new_with_free_func (g_free);
  if (!collect_macs (live_doc, macs, error) || !collect_macs (cfg_doc, macs, error))
    return FALSE;
  if (nic->mac && g_ptr_array_find_with_equal_func (macs, nic->mac, g_str_equal, NULL))
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("MAC %s is already used by a NIC of '%s'; every NIC needs its own "
                      "MAC: pick another --mac or leave it out to generate one"),
                    nic->mac, name);
  g_ptr_array_add (macs, NULL);

  const VkLayoutPolicy *policy = &cli->cfg->policy;
  VkNicPlacement pl_live = { 0 }, pl_cfg = { 0 }, *pl;
  if (nic_add_opt.live && !vk_place_new_nic (live_doc, policy, FALSE, &pl_live, error))
    return FALSE;
  if (nic_add_opt.config && !vk_place_new_nic (cfg_doc, policy, !nic_add_opt.live, &pl_cfg, error))
    return FALSE;
  if (nic_add_opt.live && nic_add_opt.config && !agree (&pl_live, &pl_cfg, name, error))
    return FALSE;
  pl = nic_add_opt.live ? &pl_live : &pl_cfg;
  guint acpi = MAX (nic_add_opt.live ? pl_live.acpi_index : 0, nic_add_opt.config ? pl_cfg.acpi_index : 0);

  g_autoptr(GError) local = NULL;
  xmlNodePtr iface = vk_nic_spec_to_xml (nic, (const char *const *) macs->pdata, error);
  if (iface == NULL)
    return FALSE;
  g_autoptr(xmlDoc) holder = xmlNewDoc (BAD_CAST "1.0");
  xmlDocSetRootElement (holder, iface);
  vk_xml_set_pci_address (iface, pl->bus, pl->slot, 0);
  {
    char buf[16];
    g_snprintf (buf, sizeof buf, "%u", acpi);
    xmlNodePtr a = xmlNewChild (iface, NULL, BAD_CAST "acpi", NULL);
    xmlSetProp (a, BAD_CAST "index", BAD_CAST buf);
  }
  g_autofree char *mac = vk_xml_child_prop (iface, "mac", "address");
  g_autofree char *what = g_strdup_printf (_("NIC %s"), mac);
  g_autofree char *undo = g_strdup_printf ("vmkeep nic remove %s %s", name, mac);
  VkOpsDevice dev = { find_nic, mac, what, undo };
  VkDevicePlacement dpl = { pl->bus, pl->slot, 0, pl == &pl_cfg ? g_steal_pointer (&pl_cfg.port)
                                                                : NULL };
  g_clear_pointer (&pl_cfg.port, xmlFreeNode);
  g_autofree char *addr = NULL;
  gboolean ok = vk_ops_attach_device (cli->ops, dom, name, iface, &dpl, cfg_doc, nic_add_opt.live, nic_add_opt.config,
                                      &dev, NULL, &addr, error);
  g_clear_pointer (&dpl.port, xmlFreeNode);
  if (!ok)
    return FALSE;

  if (cli->json)
    print_nic_json (name, mac, addr, acpi, nic_add_opt.live, nic_add_opt.config, "added");
  else
    vk_cli_info (cli, _("NIC %s added to '%s' at %s (ACPI index %u; %s)"), mac, name, addr,
                 acpi, vk_cli_scope_text (nic_add_opt.live, nic_add_opt.config));
  return TRUE;
}

gboolean
vk_cmd_nic_remove (VkCli *cli, int argc, char **argv, GError **error)
{
  g_auto (VkDetachArgs) a = { 0 };
  if (!vk_cli_detach_begin (cli, "nic", "remove", _("DOMAIN and the NIC's MAC or alias"), NULL,
                            argc, argv, &a, error))
    return FALSE;
  /* The MAC, for messages, when the NIC was named by its alias. */
  g_autoptr(xmlDoc) doc = vk_cli_domain_doc (a.dom,
                                             vk_domain_state (a.dom, NULL) == VK_STATE_SHUTOFF,
                                             error);
  if (doc == NULL)
    return FALSE;
  xmlNodePtr nic = find_nic (doc, a.key);
  g_autofree char *mac = nic ? vk_xml_child_prop (nic, "mac", "address") : g_strdup (a.key);
  g_autofree char *what = g_strdup_printf (_("NIC %s"), mac);
  g_autofree char *addr = NULL;
  VkOpsDevice dev = { find_nic, a.key, what };
  if (!vk_cli_detach_device (cli, &a, &dev, "layout", &addr, NULL, error))
    return FALSE;
  if (cli->json)
    print_nic_json (a.name, mac, addr, 0, a.live, a.config, "removed");
  else
    vk_cli_info (cli, _("NIC %s removed from '%s' (slot %s is free again)"), mac, a.name,
                 addr ? addr : "-");
  return TRUE;
}
