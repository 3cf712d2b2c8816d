/* vmkeep — a domain's lifecycle under its lock. See ops-lifecycle.h. */
#include "config.h"

#include <glib/gi18n.h>

#include "ops-lifecycle.h"
#include "vk-error.h"

/* The domain and its lock. */
static VkDomain *
lookup_locked (VkOps *ops, const char *name, VkLock **lock, GError **error)
{
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_domain_lookup (ops->conn, name, &dom, error))
    return NULL;
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  *lock = vk_ops_lock_domain (ops, uuid, name, error);
  return *lock ? g_steal_pointer (&dom) : NULL;
}

gboolean
vk_ops_start (VkOps *ops, const char *name, gboolean paused, gboolean *already, GError **error)
{
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(VkDomain) dom = lookup_locked (ops, name, &lock, error);
  if (dom == NULL)
    return FALSE;
  *already = vk_domain_state (dom, NULL) == VK_STATE_RUNNING;
  return *already || vk_domain_start (dom, paused, error);
}

gboolean
vk_ops_stop (VkOps *ops, const char *name, guint timeout, gboolean force, GError **error)
{
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(VkDomain) dom = lookup_locked (ops, name, &lock, error);
  return dom && vk_domain_stop (dom, timeout, force, error);
}

gboolean
vk_ops_undefine (VkOps *ops, const char *name, gboolean force, gboolean keep_nvram,
                 GError **error)
{
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(VkDomain) dom = lookup_locked (ops, name, &lock, error);
  if (dom == NULL)
    return FALSE;
  if (vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF)
    {
      if (!force)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("domain '%s' is running; stop it first ('vmkeep stop %s') "
                         "or pass --force to force it off"), name, name);
          return FALSE;
        }
      if (!vk_domain_destroy (dom, error))
        return FALSE;
    }
  return vk_domain_undefine (dom, !keep_nvram, error);
}
