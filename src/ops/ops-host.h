/* vmkeep — what the workflows check about this host before they change
 * anything. */
#pragma once

#include "ops.h"

G_BEGIN_DECLS

/* Whether a libvirt URI names this host (no remote transport). */
gboolean vk_ops_uri_is_local (const char *uri);

/* QEMU (as the user libvirt runs it as) can traverse every directory
 * down to `dir`, so it can open the disks vmkeep puts there; always TRUE
 * for a remote connection or a QEMU that runs as root. VK_ERROR_REFUSED
 * naming the blocking directory otherwise. */
gboolean vk_ops_check_qemu_reaches (VkOps *ops, const char *dir, GError **error);

G_END_DECLS
