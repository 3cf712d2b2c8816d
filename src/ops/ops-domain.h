/* vmkeep — workflows on one domain's definition: read it, define it and
 * prove libvirt kept the slot policy, check which definitions a change
 * may touch. See ops.h for the layer's rules. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "ops.h"
#include "virt.h"

G_BEGIN_DECLS

/* The running (`inactive` FALSE) or persistent definition, parsed. */
xmlDocPtr vk_ops_domain_doc (VkDomain *dom, gboolean inactive, GError **error);

/* Define `doc`, then read the definition back: libvirt may have added
 * devices of its own or moved ours. Any slot-policy violation undoes the
 * define (the previous definition is restored, or a new domain removed)
 * and fails with VK_ERROR_REFUSED; the violations (VkViolation) are then
 * handed out in `*violations_out` (may be NULL) for the caller to show. */
gboolean vk_ops_define_verified (VkOps *ops, xmlDocPtr doc, VkDomain **out,
                                 GPtrArray **violations_out, GError **error);

/* --live needs a running domain and --config a persistent one;
 * `live_verb` says what --live would do ("hot-plug", "unplug"). */
gboolean vk_ops_check_scope (VkDomain *dom, const char *name, gboolean live, gboolean config,
                             const char *live_verb, GError **error);

/* The disks of defined domains (running and persistent definitions,
 * every file of each disk's backing chain) that use a file inside `dir`,
 * as "DOMAIN (disk vda)"; empty when none. A directory vmkeep removes
 * while undoing or cleaning up is checked with this first: nothing a
 * disk chain uses is ever removed. The domain `skip_uuid` (may be NULL)
 * is left out. */
/* libvirt 10.1 and later read QEMU's replies with json-c, whose nesting
 * limit a qcow2 chain of more than 24 files exceeds: a domain on such a
 * chain no longer starts or restores ("failed to parse JSON: nesting too
 * deep"; measured with libvirt 11.3 and QEMU 10.0: a chain of 25 files
 * saves and restores, one of 27 does not even start; vmkeep stays at 24). Refuses (VK_ERROR_REFUSED, nothing changed) when a
 * disk of `dom` would be longer than that after `adds` more files on top,
 * naming the disk and how to shorten its chain. */
#define VK_OPS_CHAIN_MAX 24
gboolean vk_ops_check_chain_room (VkOps *ops, VkDomain *dom, guint adds, GError **error);

GPtrArray *vk_ops_dir_users (VkOps *ops, const char *dir, const char *skip_uuid,
                             GError **error);

/* A domain's vmkeep tags (its metadata in vmkeep's namespace), in the
 * order stored (sorted); empty when it has none or they cannot be read. */
GPtrArray *vk_ops_domain_tags (VkDomain *dom);
/* Add the tags `add` and remove the tags `remove` (NULL-terminated, may be
 * NULL), under the domain's lock; `tags_out` (optional) gets the result.
 * The tags are not validated here (vk_validate_name "tag"). */
gboolean vk_ops_domain_tags_change (VkOps *ops, VkDomain *dom, const char *const *add,
                                    const char *const *remove, GPtrArray **tags_out,
                                    GError **error);

G_END_DECLS
