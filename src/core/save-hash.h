/* vmkeep — the SHA-256 of a save image, computed while libvirt writes it
 * (pure: a thread reading the file; see save-hash.c for how libvirt
 * writes one and why this is safe). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VkSaveHasher VkSaveHasher;

/* Start hashing `path` (which may not exist yet) as libvirt writes it. */
VkSaveHasher *vk_save_hasher_start (const char *path);

/* Stop the hasher and free it: the save has returned (`want`: and
 * succeeded). With `want`, returns the SHA-256 (hex) and the size of the
 * complete file, the magic as in a finished image, when what was hashed
 * is still the file (same file, size and first 256 KiB); NULL when it
 * must be hashed again. */
char *vk_save_hasher_finish (VkSaveHasher *hasher, gboolean want, guint64 *size_out);

G_END_DECLS
