/* vmkeep — the one lock policy of the workflows (see ops.h): a domain's
 * lock for every change to it, an image's lock for every use of it. */
#include "config.h"

#include <glib/gi18n.h>

#include "ops.h"
#include "store.h"
#include "vk-error.h"

VkLock *
vk_ops_lock_image (VkOps *ops, const char *image, gboolean shared, GError **error)
{
  if (!vk_store_ensure_root (ops->cfg->store_dir, error))
    return NULL;
  g_autofree char *locks = vk_store_locks_dir (ops->cfg->store_dir);
  g_autofree char *key = g_strdup_printf ("image-%s", image);
  VkLock *lock = shared ? vk_lock_acquire_shared (locks, key, error)
                        : vk_lock_acquire (locks, key, error);
  if (lock == NULL && error && *error && (*error)->code == VK_ERROR_BUSY)
    {
      g_clear_error (error);
      g_set_error (error, VK_ERROR, VK_ERROR_BUSY,
                   shared ? _("image '%s' is being removed or replaced by another vmkeep; try "
                              "again when it finishes")
                          : _("image '%s' is in use by another vmkeep (a clone, wake, export or "
                              "verify); try again when it finishes"), image);
    }
  return lock;
}

VkLock *
vk_ops_lock_domain (VkOps *ops, const char *key, const char *what, GError **error)
{
  if (!vk_store_ensure_root (ops->cfg->store_dir, error))
    return NULL;
  g_autofree char *locks = vk_store_locks_dir (ops->cfg->store_dir);
  VkLock *lock = vk_lock_acquire (locks, key, error);
  if (lock == NULL && what && error && *error && (*error)->code == VK_ERROR_BUSY)
    g_prefix_error (error, "%s: ", what);
  return lock;
}
