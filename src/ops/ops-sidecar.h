/* vmkeep — the sidecar of a running domain: what hibernate records and
 * what clone and fork will record for the same reasons. */
#pragma once

#include <libxml/tree.h>

#include "ops.h"
#include "sidecar.h"
#include "virt.h"

G_BEGIN_DECLS

/* A sidecar of `mode` for domain `name` (`uuid`) with what every sidecar
 * records: the time, this host, its libvirt and QEMU versions. */
VkSidecar *vk_ops_sidecar_new (VkOps *ops, VkSidecarMode mode, const char *name,
                               const char *uuid);
/* A sidecar of `mode` for `dom` (on the connection of `ops`): the host,
 * libvirt and QEMU versions, the time, the device identity of `doc` (the
 * parsed `xml`), the NVRAM file and its digest, whether it has a TPM, the
 * IP addresses libvirt knows for its NICs (vk_domain_addresses: only the
 * NICs' MACs, at most VK_SIDECAR_ADDRESSES_MAX; the guest agent is asked
 * while the domain runs, which costs up to libvirt's 5 s guest-sync
 * timeout when the guest's agent does not answer), and `xml` itself. */
VkSidecar *vk_ops_sidecar_for_domain (VkOps *ops, VkDomain *dom, xmlDocPtr doc,
                                      const char *xml, VkSidecarMode mode, GError **error);

G_END_DECLS
