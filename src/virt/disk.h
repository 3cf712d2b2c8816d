/* vmkeep — host-side disk plumbing (qemu-img). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* New qcow2 `overlay` backed by `base` (format `base_fmt`); never replaces
 * an existing file (VK_ERROR_REFUSED). */
gboolean vk_disk_create_overlay (const char *overlay, const char *base,
                                 const char *base_fmt, GError **error);
/* Atomically replace `path` by a fresh overlay backed by `base`. */
gboolean vk_disk_replace_with_overlay (const char *path, const char *base,
                                       const char *base_fmt, GError **error);

/* A standalone qcow2 copy of `src` (format `src_fmt`) with its whole
 * backing chain merged in (qemu-img convert), written to `dst`, which must
 * not exist; on failure `dst` is removed. */
gboolean vk_disk_flatten (const char *src, const char *src_fmt, const char *dst,
                          GError **error);

/* Point the qcow2 image `path` at `backing` (format `backing_fmt`; a
 * relative name is relative to `path`'s directory), rewriting its header
 * only (qemu-img rebase -u): for a chain whose files were just put side by
 * side. */
gboolean vk_disk_rebase_unsafe (const char *path, const char *backing, const char *backing_fmt,
                                GError **error);

G_END_DECLS
