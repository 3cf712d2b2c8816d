/* vmkeep — the store: where hibernate state and sidecars live.
 *
 *   STORE/managed/<uuid>.xml          sidecar of a libvirt managed save
 *   STORE/images/NAME/state.sav       libvirt save image (virsh restore-able)
 *   STORE/images/NAME/image.xml       sidecar
 *   STORE/images/NAME/disks/TARGET.*  disks frozen at save time
 *   STORE/images/.NAME.partial-XXXXXX image being written (never listed)
 *   STORE/locks/<uuid>.lock           per-VM lock
 *
 * An image becomes visible only by the final rename of its partial
 * directory, so a crash never leaves a half-written image listed. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VK_STORE_STATE "state.sav"
#define VK_STORE_SIDECAR "image.xml"
#define VK_STORE_PARTIAL ".partial-"
/* In a store vmkeep created (its mode is vmkeep's to keep). */
#define VK_STORE_MARK ".vmkeep-store"
/* In each working and partial directory vmkeep made (cleanup removes only
 * those). */
#define VK_STORE_OWNED ".vmkeep-owned"

/* The store path is usable: absolute, plain, not "/" or a system
 * directory (VK_ERROR_USAGE saying what to set). */
gboolean vk_store_check_path (const char *root, GError **error);
/* ... and, when it exists, a real directory (not a symlink) that not
 * every user may write; when missing it is created (parents 0755, itself
 * 0711) and marked as vmkeep's. An existing store's mode is never
 * changed. */
gboolean vk_store_ensure_root (const char *root, GError **error);
/* The checks of vk_store_ensure_root without creating anything, for
 * commands that only read the store (a missing store passes). */
gboolean vk_store_check_root (const char *root, GError **error);

char *vk_store_managed_dir (const char *root);
char *vk_store_managed_sidecar (const char *root, const char *uuid);
char *vk_store_images_dir (const char *root);
char *vk_store_image_dir (const char *root, const char *name);
char *vk_store_locks_dir (const char *root);

/* Names of complete images, sorted. A missing store is an empty list. */
GPtrArray *vk_store_list_images (const char *root, GError **error);

/* A new private partial directory for image NAME (0700) holding a lock
 * file, so cleanup in another process leaves it alone while we work.
 * `*lock_fd` stays open until commit/abort. */
char *vk_store_partial_new (const char *root, const char *name, int *lock_fd,
                            GError **error);
/* Rename the partial directory to images/NAME; fails (VK_ERROR_REFUSED)
 * when NAME exists, never replacing it (lock_fd is then closed). The image
 * is listed only once its sidecar exists; vk_store_image_finish drops the
 * lock after that. */
gboolean vk_store_partial_commit (const char *root, const char *partial,
                                  const char *name, int lock_fd, GError **error);
void vk_store_image_finish (const char *dir, int lock_fd);
/* Remove a partial directory and everything in it; closes lock_fd. */
void vk_store_partial_abort (const char *partial, int lock_fd);

/* A private working directory tmp/PREFIX-XXXXXX (0700) holding a locked
 * .lock file, like a partial image; _done removes it and drops the lock. */
char *vk_store_tmp_dir_new (const char *root, const char *prefix, int *lock_fd,
                            GError **error);
void vk_store_tmp_dir_done (const char *dir, int lock_fd);

/* Remove what interrupted runs left: unlocked partial image directories,
 * unlocked working directories in tmp/, stale temp files in managed/,
 * images/ and journal/, and journal locks whose journal was never written. While any journal is left in journal/ (a run under
 * way, or one recovery could not finish yet), partial images and working
 * directories stay: its undo may still need them (a fork's saved source
 * definition, a state to resume). Names removed go to `removed`. */
gboolean vk_store_cleanup (const char *root, GPtrArray *removed, GError **error);

/* rm -rf for a directory vmkeep owns (does not follow symlinks). A FIFO in
 * it whose reader is blocked in open(2) (libvirtd restoring from a clone's
 * FIFO whose vmkeep died) gets end of file first. */
gboolean vk_rm_rf (const char *path, GError **error);

G_END_DECLS
