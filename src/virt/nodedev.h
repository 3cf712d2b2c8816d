/* vmkeep — host devices as libvirt's node device API sees them (read-only;
 * vmkeep never detaches or reattaches a host device). */
#pragma once

#include <glib.h>

#include "virt.h"

G_BEGIN_DECLS

/* Does the host behind `conn` have PCI device `bdf` ("0000:01:00.0"), and
 * which driver is it bound to (`*driver`, NULL when none)? Works for remote
 * URIs, where the local /sys is the wrong host. FALSE only when libvirt
 * cannot answer. */
gboolean vk_conn_pci_device_driver (VkConn *conn, const char *bdf,
                                    gboolean *exists, char **driver,
                                    GError **error);

G_END_DECLS
