/* vmkeep — what the attach commands (fs, device; nic for part) share:
 * the scope, the lock and the definitions they change, the slot they
 * place a device at. */
#pragma once

#include <json-glib/json-glib.h>
#include <libxml/tree.h>

#include "commands.h"
#include "pin.h"

G_BEGIN_DECLS

/* Host paths (sockets, directories, sysfs) are only ours to check when
 * libvirt runs on this host. */
gboolean vk_cli_conn_is_local (VkConn *conn);

/* "live and persistent", "live only" or "persistent only". */
const char *vk_cli_scope_text (gboolean live, gboolean config);

/* Where a new device goes; live and persistent definitions must agree, or
 * the next cold boot would move it. */
gboolean vk_cli_place (VkCli *cli, const char *name, xmlDocPtr live_doc, xmlDocPtr cfg_doc,
                       VkDevicePlacement *out, GError **error);

/* The running VM's definition when `live`, the persistent one when
 * `config`, as documents; the ones not asked for stay NULL. */
gboolean vk_cli_domain_docs (VkDomain *dom, gboolean live, gboolean config,
                             xmlDocPtr *live_doc, xmlDocPtr *cfg_doc, GError **error);

/* What an attach holds while it works: the domain's lock and the
 * definitions it changes (live and/or persistent, as settled by
 * vk_ops_attach_scope, which vk_cli_attach_begin calls). */
typedef struct {
  VkLock *lock;
  xmlDocPtr live_doc, cfg_doc;
} VkAttachTarget;
void vk_attach_target_clear (VkAttachTarget *t);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VkAttachTarget, vk_attach_target_clear)
gboolean vk_cli_attach_begin (VkCli *cli, VkDomain *dom, const char *name, gboolean *live,
                              gboolean *config, VkAttachTarget *t, GError **error);

/* Place `element` (the new device's XML, taken) in the definitions `t`
 * holds (vk_cli_place) and attach it there (vk_ops_attach_device);
 * `*addr_out` gets its guest PCI address. */
gboolean vk_cli_attach_element (VkCli *cli, VkDomain *dom, const char *name,
                                const VkAttachTarget *t, xmlNodePtr element, gboolean live,
                                gboolean config, const VkOpsDevice *dev, const char *hint,
                                char **addr_out, GError **error);

/* The JSON document `fs` and `device` attach and detach print: the object
 * starts with "domain", "action" and "kind"; the caller adds what names the
 * device; the end adds "address", "live" and "config" and prints it. */
JsonBuilder *vk_cli_device_json_begin (const char *domain, const char *action,
                                       const char *kind);
void vk_cli_device_json_end (JsonBuilder *b, const char *addr, gboolean live,
                             gboolean config);

G_END_DECLS
