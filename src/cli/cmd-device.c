/* vmkeep device attach | device detach | devices, and the front the
 * attach and detach commands share (cli-attach.h)
 *
 * virtiofs filesystems (cmd-fs.c) and VFIO PCI devices attached at runtime. Both are
 * placed like every other non-NIC device: the next free slot of the device
 * range (pc) or the next empty device-range root port (q35), so attaching
 * one never moves a NIC or shifts the guest's names. They are live only
 * unless --config, and libvirt cannot save a VM that has them: hibernate
 * refuses while they are attached.
 *
 * Adds and removes are not retried: one that happened but whose reply was
 * lost would turn into a duplicate error. After a failure the domain is
 * read again and the outcome reported as it is. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attach.h"
#include "cli-attach.h"
#include "commands.h"
#include "ops-host.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "nodedev.h"
#include "output.h"
#include "pin.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

/* Host paths (sockets, directories, sysfs) are only ours to check when
 * libvirt runs on this host. */
gboolean
vk_cli_conn_is_local (VkConn *conn)
{
  return vk_ops_uri_is_local (vk_conn_uri (conn));
}

/* Serialise with other vmkeep processes on this VM: hibernate checks that
 * nothing unsaveable is attached under the same lock. */
static VkLock *
lock_domain (VkCli *cli, VkDomain *dom, const char *name, GError **error)
{
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  return vk_ops_lock_domain (cli->ops, uuid, name, error);
}

const char *
vk_cli_scope_text (gboolean live, gboolean config)
{
  return live && config ? _("live and persistent") : live ? _("live only")
                                                          : _("persistent only");
}

/* Where the device goes; live and persistent definitions must agree, or
 * the next cold boot would move it. */
gboolean
vk_cli_place (VkCli *cli, const char *name, xmlDocPtr live_doc, xmlDocPtr cfg_doc,
       VkDevicePlacement *out, GError **error)
{
  const VkLayoutPolicy *policy = &cli->cfg->policy;
  VkDevicePlacement pl_live = { 0 }, pl_cfg = { 0 };
  /* virtiofs and VFIO functions are PCI Express endpoints: q35 hot-plugs
   * them into a root port */
  if (live_doc && !vk_place_new_device (live_doc, policy, TRUE, FALSE, &pl_live, error))
    return FALSE;
  if (cfg_doc && !vk_place_new_device (cfg_doc, policy, TRUE, live_doc == NULL, &pl_cfg, error))
    return FALSE;
  if (live_doc && cfg_doc && (pl_live.bus != pl_cfg.bus || pl_live.slot != pl_cfg.slot))
    {
      g_clear_pointer (&pl_cfg.port, xmlFreeNode);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("the running and the persistent definition of '%s' disagree on the "
                     "next free device slot (live 0000:%02x:%02x.0, persistent "
                     "0000:%02x:%02x.0); attach with --config and restart the VM, or "
                     "make the definitions agree first"),
                   name, pl_live.bus, pl_live.slot, pl_cfg.bus, pl_cfg.slot);
      return FALSE;
    }
  *out = live_doc ? pl_live : pl_cfg;
  if (live_doc)
    g_clear_pointer (&pl_cfg.port, xmlFreeNode);
  return TRUE;
}

gboolean
vk_cli_attach_element (VkCli *cli, VkDomain *dom, const char *name, const VkAttachTarget *t,
                       xmlNodePtr element, gboolean live, gboolean config,
                       const VkOpsDevice *dev, const char *hint, char **addr_out,
                       GError **error)
{
  g_autoptr(xmlDoc) holder = xmlNewDoc (BAD_CAST "1.0");
  VkDevicePlacement pl = { 0 };
  VkOps *ops;
  gboolean ok;

  xmlDocSetRootElement (holder, element);
  if (!vk_cli_place (cli, name, t->live_doc, t->cfg_doc, &pl, error))
    return FALSE;
  ops = vk_cli_ops (cli, error);
  ok = ops != NULL &&
       vk_ops_attach_device (ops, dom, name, element, &pl, t->cfg_doc, live, config, dev, hint,
                             addr_out, error);
  g_clear_pointer (&pl.port, xmlFreeNode);
  return ok;
}

JsonBuilder *
vk_cli_device_json_begin (const char *domain, const char *action, const char *kind)
{
  JsonBuilder *b = vk_json_object_new ();

  vk_json_str (b, "domain", domain);
  vk_json_str (b, "action", action);
  vk_json_str (b, "kind", kind);
  return b;
}

void
vk_cli_device_json_end (JsonBuilder *b, const char *addr, gboolean live, gboolean config)
{
  vk_json_str (b, "address", addr);
  vk_json_bool (b, "live", live);
  vk_json_bool (b, "config", config);
  vk_json_object_print (b);
}

/* ------------------------------------------------------------ fs attach */

void
vk_attach_target_clear (VkAttachTarget *t)
{
  g_clear_pointer (&t->cfg_doc, xmlFreeDoc);
  g_clear_pointer (&t->live_doc, xmlFreeDoc);
  g_clear_pointer (&t->lock, vk_lock_release);
}
gboolean
vk_cli_domain_docs (VkDomain *dom, gboolean live, gboolean config, xmlDocPtr *live_doc,
                    xmlDocPtr *cfg_doc, GError **error)
{
  if (live && (*live_doc = vk_cli_domain_doc (dom, FALSE, error)) == NULL)
    return FALSE;
  if (config && (*cfg_doc = vk_cli_domain_doc (dom, TRUE, error)) == NULL)
    return FALSE;
  return TRUE;
}

gboolean
vk_cli_attach_begin (VkCli *cli, VkDomain *dom, const char *name, gboolean *live, gboolean *config,
                     VkAttachTarget *t, GError **error)
{
  if (!vk_ops_attach_scope (dom, name, live, config, error) ||
      (t->lock = lock_domain (cli, dom, name, error)) == NULL)
    return FALSE;
  return vk_cli_domain_docs (dom, *live, *config, &t->live_doc, &t->cfg_doc, error);
}

static struct {
  gboolean live, config;
  int timeout;
} detach_opt = { .timeout = 20 };

/* fs detach, device detach and nic remove share their options */
const GOptionEntry vk_detach_options[] = {
  { "live", 0, 0, G_OPTION_ARG_NONE, &detach_opt.live, N_("Only unplug from the running VM"), NULL },
  { "config", 0, 0, G_OPTION_ARG_NONE, &detach_opt.config, N_("Only remove from the persistent definition"), NULL },
  { "timeout", 0, 0, G_OPTION_ARG_INT, &detach_opt.timeout, N_("Seconds to wait for the guest to release the device (default 20)"), N_("S") },
  G_OPTION_ENTRY_NULL
};

gboolean
vk_cli_detach_begin (VkCli *cli, const char *group, const char *verb, const char *key_what,
                     VkKeyCheck check_key, int argc, char **argv, VkDetachArgs *out,
                     GError **error)
{
  g_autofree char *full = g_strdup_printf ("%s %s", group, verb);
  if (!vk_cli_begin (full, &argc, &argv, 2, 2, key_what, error))
    return FALSE;
  *out = (VkDetachArgs) { detach_opt.live, detach_opt.config, detach_opt.timeout, NULL, NULL,
                          NULL, NULL };
  out->name = argv[1];
  out->key = argv[2];
  if (check_key != NULL && !check_key (out->key, error))
    return FALSE;
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL || !vk_domain_lookup (ops->conn, out->name, &out->dom, error))
    return FALSE;
  out->lock = lock_domain (cli, out->dom, out->name, error);
  return out->lock != NULL;
}

gboolean
vk_cli_detach_device (VkCli *cli, VkDetachArgs *a, const VkOpsDevice *dev, const char *list_cmd,
                      char **addr_out, VkBdf *bdf_out, GError **error)
{
  g_autofree char *list = g_strdup_printf ("vmkeep %s %s", list_cmd, a->name);
  return vk_ops_detach_device (cli->ops, a->dom, a->name, &a->live, &a->config, a->timeout, dev,
                               list, addr_out, bdf_out, error);
}

void
vk_detach_args_clear (VkDetachArgs *a)
{
  g_clear_pointer (&a->lock, vk_lock_release);
  g_clear_pointer (&a->dom, vk_domain_free);
}

static void
print_hostdev_json (const char *domain, const char *action, const char *bdf, const char *id,
                    const char *addr, gboolean live, gboolean config)
{
  g_autoptr(JsonBuilder) b = vk_cli_device_json_begin (domain, action, "hostdev");
  vk_json_str (b, "bdf", bdf);
  vk_json_str (b, "id", id);
  vk_cli_device_json_end (b, addr, live, config);
}

static struct {
  char *pci;
  char *id;
  gboolean live;
  gboolean config;
} device_attach_opt;

const GOptionEntry vk_device_attach_options[] = {
  { "pci", 0, 0, G_OPTION_ARG_STRING, &device_attach_opt.pci, N_("Host PCI device: BB:SS.F, DDDD:BB:SS.F or /sys/bus/pci/devices/DDDD:BB:SS.F"), N_("BDF") },
  { "id", 0, 0, G_OPTION_ARG_STRING, &device_attach_opt.id, N_("Name to detach it by (stored as libvirt alias ua-ID)"), N_("ID") },
  { "live", 0, 0, G_OPTION_ARG_NONE, &device_attach_opt.live, N_("Hot-plug into the running VM (the default)"), NULL },
  { "config", 0, 0, G_OPTION_ARG_NONE, &device_attach_opt.config, N_("Add to the persistent definition (with --live: both)"), NULL },
  G_OPTION_ENTRY_NULL
};

gboolean
vk_cmd_device_attach (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("device attach", &argc, &argv, 1, 1, _("the DOMAIN"), error))
    return FALSE;
  const char *name = argv[1];
  if (device_attach_opt.pci == NULL)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep device attach: --pci is required (see 'vmkeep help device "
                      "attach')"));
  /* Nothing unvalidated ever reaches libvirt. */
  VkBdf bdf;
  if (!vk_bdf_parse (device_attach_opt.pci, &bdf, error) || (device_attach_opt.id != NULL && !vk_validate_device_id (device_attach_opt.id, error)))
    return FALSE;
  g_autofree char *bdf_text = vk_bdf_format (&bdf);

  g_autoptr(VkDomain) dom = vk_cli_lookup (cli, name, error);
  if (dom == NULL)
    return FALSE;
  VkConn *conn = cli->conn;
  if (vk_cli_conn_is_local (conn))
    {
      if (!vk_pci_host_check_vfio ("/sys", &bdf, error))
        return FALSE;
    }
  else
    {
      gboolean exists = FALSE;
      g_autofree char *driver = NULL;
      if (!vk_conn_pci_device_driver (conn, bdf_text, &exists, &driver, error) ||
          !vk_pci_host_verdict (&bdf, exists, driver, error))
        return FALSE;
    }
  g_auto(VkAttachTarget) t = { 0 };
  if (!vk_cli_attach_begin (cli, dom, name, &device_attach_opt.live, &device_attach_opt.config, &t, error))
    return FALSE;
  if ((device_attach_opt.live && !vk_check_hostdev_unique (t.live_doc, name, _("running VM"), &bdf, device_attach_opt.id, error)) ||
      (device_attach_opt.config && !vk_check_hostdev_unique (t.cfg_doc, name, _("persistent definition"), &bdf,
                                           device_attach_opt.id, error)))
    return FALSE;

  g_autofree char *what = g_strdup_printf (_("host PCI device %s"), bdf_text);
  g_autofree char *addr = NULL;
  VkOpsDevice dev = { vk_domain_find_hostdev_by_key, bdf_text, what };
  if (!vk_cli_attach_element (cli, dom, name, &t, vk_hostdev_element_new (&bdf, device_attach_opt.id),
                              device_attach_opt.live, device_attach_opt.config, &dev, NULL, &addr,
                              error))
    return FALSE;
  if (cli->json)
    print_hostdev_json (name, "attached", bdf_text, device_attach_opt.id, addr, device_attach_opt.live, device_attach_opt.config);
  else
    vk_cli_info (cli, _("Host PCI device %s attached to '%s' at %s (%s)%s%s"), bdf_text, name,
                 addr, vk_cli_scope_text (device_attach_opt.live, device_attach_opt.config), device_attach_opt.id ? _("; ID ") : "", device_attach_opt.id ? device_attach_opt.id : "");
  return TRUE;
}

/* a BDF or an ID, nothing else */
static gboolean
check_device_key (const char *key, GError **error)
{
  g_autoptr(GError) bdf_error = NULL;
  VkBdf bdf;
  if (vk_bdf_parse (key, &bdf, &bdf_error) || vk_validate_device_id (key, NULL))
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("vmkeep device detach: '%s' is neither a PCI address (%s) nor a "
                 "device ID (A-Z a-z 0-9 _ -)"), key, bdf_error->message);
  return FALSE;
}

gboolean
vk_cmd_device_detach (VkCli *cli, int argc, char **argv, GError **error)
{
  g_auto (VkDetachArgs) a = { 0 };
  if (!vk_cli_detach_begin (cli, "device", "detach", _("DOMAIN and the device's BDF or ID"),
                            check_device_key, argc, argv, &a, error))
    return FALSE;
  VkBdf bdf = { 0, 0, 0, 0 };
  g_autofree char *bdf_text = vk_bdf_parse (a.key, &bdf, NULL) ? vk_bdf_format (&bdf) : NULL;
  const char *k = bdf_text ? bdf_text : a.key;
  g_autofree char *what = bdf_text ? g_strdup_printf (_("host PCI device %s"), bdf_text)
                                   : g_strdup_printf (_("device with ID '%s'"), a.key);
  g_autofree char *addr = NULL;
  VkBdf gone = bdf;
  VkOpsDevice dev = { vk_domain_find_hostdev_by_key, k, what };
  if (!vk_cli_detach_device (cli, &a, &dev, "devices", &addr, &gone, error))
    return FALSE;
  g_autofree char *gone_text = vk_bdf_format (&gone);
  if (cli->json)
    print_hostdev_json (a.name, "detached", gone_text, bdf_text ? NULL : a.key, addr, a.live,
                        a.config);
  else
    vk_cli_info (cli, _("Host PCI device %s detached from '%s' (slot %s is free again)"),
                 gone_text, a.name, addr ? addr : "-");
  return TRUE;
}

/* -------------------------------------------------------------- devices */

static struct {
  gboolean inactive;
} devices_opt;

const GOptionEntry vk_devices_options[] = {
  { "inactive", 0, 0, G_OPTION_ARG_NONE, &devices_opt.inactive, N_("Only the persistent definition"), NULL },
  G_OPTION_ENTRY_NULL
};

/* A filesystem or host device, in `devices --json`. */
static void
json_attached_device (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkAttachedDevice *r = item;
  gboolean fs = g_str_equal (r->kind, "filesystem");
  vk_json_str (b, "kind", r->kind);
  vk_json_str (b, fs ? "tag" : "bdf", r->name);
  const struct { const char *key; const char *value; } opt[] = {
    { "id", r->id }, { "alias", r->alias }, { "source_type", r->source_type },
    { "source", r->source }, { "address", r->address },
  };
  for (guint j = 0; j < G_N_ELEMENTS (opt); j++)
    {
      vk_json_str (b, opt[j].key, opt[j].value);
    }
  vk_json_bool (b, "live", r->live);
  vk_json_bool (b, "config", r->config);
}

gboolean
vk_cmd_devices (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("devices", &argc, &argv, 1, 1, _("the DOMAIN"), error))
    return FALSE;
  const char *name = argv[1];
  g_autoptr(VkDomain) dom = vk_cli_lookup (cli, name, error);
  if (dom == NULL)
    return FALSE;
  gboolean running = vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF;
  g_autoptr(xmlDoc) live_doc = NULL;
  g_autoptr(xmlDoc) cfg_doc = NULL;
  if (!vk_cli_domain_docs (dom, running && !devices_opt.inactive, vk_domain_is_persistent (dom),
                           &live_doc, &cfg_doc, error))
    return FALSE;
  g_autoptr(GPtrArray) rows = vk_attached_devices (live_doc, cfg_doc);

  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "domain", vk_domain_get_name (dom));
      vk_json_bool (b, "running", running);
      vk_json_objects (b, "devices", rows, json_attached_device, NULL);
      vk_json_object_print (b);
      return TRUE;
    }
  if (rows->len == 0)
    {
      vk_cli_info (cli, _("'%s' has no virtiofs filesystems or PCI host devices"), name);
      return TRUE;
    }
  g_autoptr(VkTable) t = vk_table_new (_("KIND"), _("TAG/BDF"), _("ID"), _("SOURCE"),
                                       _("ADDRESS"), _("ATTACHED"), NULL);
  for (guint i = 0; i < rows->len; i++)
    {
      VkAttachedDevice *r = rows->pdata[i];
      vk_table_add (t, r->kind, r->name, r->id, r->source, r->address,
                    r->live && r->config ? _("live+config") : r->live ? _("live")
                                                                      : _("config"));
    }
  vk_table_print (t, stdout);
  return TRUE;
}
