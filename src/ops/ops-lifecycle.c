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

/* ACPI shutdown, waiting up to `timeout` s for shut off, then destroy when
 * `force`. A stop request (Ctrl-C, a service stop) ends the wait: the guest
 * was asked and may still shut down, which nothing can take back. */
static gboolean
stop_domain (VkOps *ops, VkDomain *dom, guint timeout, gboolean force, GError **error)
{
  const char *name = vk_domain_get_name (dom);
  if (vk_domain_state (dom, NULL) == VK_STATE_SHUTOFF)
    return TRUE;
  g_autoptr(GError) local = NULL;
  if (timeout > 0 && !vk_domain_shutdown (dom, &local) && !force)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout * G_USEC_PER_SEC;
  while (timeout > 0 && g_get_monotonic_time () < deadline)
    {
      if (vk_domain_state (dom, NULL) == VK_STATE_SHUTOFF)
        return TRUE;
      if (g_cancellable_is_cancelled (ops->cancel))
        return vk_fail (error, VK_ERROR_FAILED,
                        _("interrupted while waiting for '%s' to shut down; the guest "
                          "was asked to and may still do so"), name);
      g_usleep (200 * 1000);
    }
  if (vk_domain_state (dom, NULL) == VK_STATE_SHUTOFF)
    return TRUE;
  if (!force)
    return vk_fail (error, VK_ERROR_FAILED,
                    _("domain '%s' did not shut down within %u s; the guest may "
                      "ignore ACPI: retry with a longer --timeout or use --force"),
                    name, timeout);
  return vk_domain_destroy (dom, error);
}

gboolean
vk_ops_stop (VkOps *ops, const char *name, guint timeout, gboolean force, GError **error)
{
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(VkDomain) dom = lookup_locked (ops, name, &lock, error);
  return dom && stop_domain (ops, dom, timeout, force, error);
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
