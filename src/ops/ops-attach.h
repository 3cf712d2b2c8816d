/* vmkeep — attaching and detaching devices (NICs, virtiofs, host PCI
 * devices) at the slot vmkeep chose, and proving where they ended up.
 * See ops.h for the layer's rules. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "ops.h"
#include "attach.h"
#include "pin.h"
#include "validate.h"
#include "virt.h"

G_BEGIN_DECLS

/* Finds a device in a definition by its key (MAC, tag, BDF or ID); NULL
 * when `doc` is NULL or has none. */
typedef xmlNodePtr (*VkFindFunc) (xmlDocPtr doc, const char *key);

/* What an attach or detach is about. `what` names it in messages
 * ("filesystem with tag 'data'"); `find`/`key` locate it. */
typedef struct {
  VkFindFunc find;
  const char *key;
  const char *what;
  const char *undo;   /* the command that takes it away again, or NULL */
} VkOpsDevice;

/* Which definitions an attach changes: live only unless `*config`; a
 * shut-off domain needs --config. */
gboolean vk_ops_attach_scope (VkDomain *dom, const char *name, gboolean *live,
                              gboolean *config, GError **error);

/* Put `node` (the root of its own document) at `pl` and attach it to the
 * definitions asked for; with --config only and a new root port in `pl`
 * (q35 without an empty device port), both go into the persistent
 * definition through vk_ops_define_verified (`cfg_doc` is that
 * definition). `hint` is added to a libvirt error saying QEMU was denied
 * access. When libvirt reports a failure, the definitions are read again:
 * a device that is in place anyway is a notice, not an error; otherwise
 * the error says where it is now. The guest PCI address is returned in
 * `*addr_out`, after reading it back. */
gboolean vk_ops_attach_device (VkOps *ops, VkDomain *dom, const char *name, xmlNodePtr node,
                               VkDevicePlacement *pl, xmlDocPtr cfg_doc, gboolean live,
                               gboolean config, const VkOpsDevice *dev, const char *hint,
                               char **addr_out, GError **error);

/* Detach the device from the running VM and/or the persistent definition
 * (`*live_io` and `*config_io` as given, else wherever it is; set to what was
 * done), and wait up to `timeout` s for the guest to release it.
 * `list_cmd` is the command that lists such devices, for the not-found
 * message. `*addr_out` gets its PCI address; `bdf_out` (may be NULL) a
 * host device's host address. */
gboolean vk_ops_detach_device (VkOps *ops, VkDomain *dom, const char *name, gboolean *live_io,
                               gboolean *config_io, int timeout, const VkOpsDevice *dev,
                               const char *list_cmd, char **addr_out, VkBdf *bdf_out,
                               GError **error);

G_END_DECLS
