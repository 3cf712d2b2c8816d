/* vmkeep — attaching and detaching devices. See ops-attach.h. */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "domain-xml.h"
#include "ops-attach.h"
#include "ops-domain.h"
#include "vk-error.h"

/* What a failed change left, for the message. */
static const char *
presence (gboolean asked, xmlDocPtr now, gboolean found, const char *yes, const char *no)
{
  if (!asked)
    return _("not asked for");
  if (now == NULL)
    return _("unknown (cannot read it back)");
  return found ? yes : no;
}

gboolean
vk_ops_attach_scope (VkDomain *dom, const char *name, gboolean *live, gboolean *config,
                     GError **error)
{
  gboolean running = vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF;
  if (!*live && !*config)
    {
      if (!running)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("domain '%s' is not running, so there is nothing to attach to "
                         "live; use --config to add the device to its persistent "
                         "definition"), name);
          return FALSE;
        }
      *live = TRUE;
    }
  return vk_ops_check_scope (dom, name, *live, *config, _("hot-plug"), error);
}

/* A detach takes the device away wherever it is unless told otherwise. */
static gboolean
detach_scope (VkDomain *dom, const char *name, gboolean *live, gboolean *config,
              xmlNodePtr in_live, xmlNodePtr in_cfg, GError **error)
{
  gboolean running = vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF;
  if (!*live && !*config)
    {
      *live = running && in_live != NULL;
      *config = in_cfg != NULL;
      return TRUE;
    }
  return vk_ops_check_scope (dom, name, *live, *config, _("unplug"), error);
}

/* libvirt reported a failed attach: in place anyway (its reply was lost)
 * is a notice; otherwise say where the device is now. */
static gboolean
attach_failed (VkOps *ops, VkDomain *dom, const char *name, gboolean live, gboolean config,
               const VkOpsDevice *dev, const char *hint, GError *cause, GError **error)
{
  g_autoptr(GError) e_live = NULL, e_cfg = NULL;
  g_autoptr(xmlDoc) now_live = live ? vk_ops_domain_doc (dom, FALSE, &e_live) : NULL;
  g_autoptr(xmlDoc) now_cfg = config ? vk_ops_domain_doc (dom, TRUE, &e_cfg) : NULL;
  gboolean in_live = dev->find (now_live, dev->key) != NULL;
  gboolean in_cfg = dev->find (now_cfg, dev->key) != NULL;
  if ((!live || in_live) && (!config || in_cfg))
    {
      vk_ops_notice (ops, _("libvirt reported a failure, but the %s is attached to '%s' as "
                            "asked (%s); nothing to redo"), dev->what, name, cause->message);
      return TRUE;
    }
  gboolean denied = strstr (cause->message, "Permission denied") != NULL;
  g_set_error (error, VK_ERROR, vk_error_exit_code (cause),
               _("%s (after the failure the %s is %s in the running VM and "
                 "%s in the persistent definition)%s"),
               cause->message, dev->what,
               presence (live, now_live, in_live, _("present"), _("absent")),
               presence (config, now_cfg, in_cfg, _("present"), _("absent")),
               hint && denied ? hint : "");
  return FALSE;
}

gboolean
vk_ops_attach_device (VkOps *ops, VkDomain *dom, const char *name, xmlNodePtr node,
                      VkDevicePlacement *pl, xmlDocPtr cfg_doc, gboolean live, gboolean config,
                      const VkOpsDevice *dev, const char *hint, char **addr_out, GError **error)
{
  vk_xml_set_pci_address (node, pl->bus, pl->slot, 0);
  g_autofree char *addr = vk_xml_pci_address_text (node);

  if (!vk_ops_step (ops, "attach", error))
    return FALSE;
  if (!live && pl->port != NULL)
    {
      /* Config-only on q35 with no empty device port: the new root port
       * and the device go into the persistent definition together. */
      xmlNodePtr devs = vk_domain_devices (cfg_doc);
      xmlAddChild (devs, g_steal_pointer (&pl->port));
      xmlAddChild (devs, xmlDocCopyNode (node, cfg_doc, 1));
      g_autoptr(VkDomain) redefined = NULL;
      g_autoptr(GPtrArray) violations = NULL;
      if (!vk_ops_define_verified (ops, cfg_doc, &redefined, &violations, error))
        return FALSE;
    }
  else
    {
      g_autofree char *xml = vk_xml_node_format (node);
      g_autoptr(GError) local = NULL;
      if (!vk_domain_attach (dom, xml, live, config, &local) &&
          !attach_failed (ops, dom, name, live, config, dev, hint, local, error))
        return FALSE;
      g_clear_pointer (&pl->port, xmlFreeNode);
    }

  /* Prove it: the device is where we put it. */
  g_autoptr(xmlDoc) check = vk_ops_domain_doc (dom, !live, error);
  if (check == NULL)
    return FALSE;
  g_autofree char *got = vk_xml_pci_address_text (dev->find (check, dev->key));
  if (g_strcmp0 (got, addr) != 0)
    {
      if (dev->undo != NULL)
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                     _("libvirt put the %s of '%s' at %s instead of %s; remove it with '%s'"),
                     dev->what, name, got ? got : _("no address"), addr, dev->undo);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                     _("libvirt put the %s of '%s' at %s instead of %s; detach it again"),
                     dev->what, name, got ? got : _("no address"), addr);
      return FALSE;
    }
  *addr_out = g_steal_pointer (&addr);
  return TRUE;
}

/* Wait until the guest let go of a live device (unplug needs its help). */
static gboolean
wait_released (VkOps *ops, VkDomain *dom, const char *name, int timeout,
               const VkOpsDevice *dev, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) MAX (timeout, 0) * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(xmlDoc) now = vk_ops_domain_doc (dom, FALSE, error);
      if (now == NULL)
        return FALSE;
      if (dev->find (now, dev->key) == NULL)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("the guest of '%s' has not released the %s within %d s; it is "
                         "still plugged in (the guest may not handle hot-unplug: retry "
                         "later, or detach it with --config and restart)"),
                       name, dev->what, timeout);
          return FALSE;
        }
      if (!vk_ops_check_cancel (ops, error))
        return FALSE;
      g_usleep (250 * 1000);
    }
}

gboolean
vk_ops_detach_device (VkOps *ops, VkDomain *dom, const char *name, gboolean *live_io,
                      gboolean *config_io, int timeout, const VkOpsDevice *dev,
                      const char *list_cmd, char **addr_out, VkBdf *bdf_out, GError **error)
{
  gboolean running = vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF;
  gboolean persistent = vk_domain_is_persistent (dom);
  g_autoptr(xmlDoc) live_doc = running ? vk_ops_domain_doc (dom, FALSE, error) : NULL;
  if (running && live_doc == NULL)
    return FALSE;
  g_autoptr(xmlDoc) cfg_doc = persistent ? vk_ops_domain_doc (dom, TRUE, error) : NULL;
  if (persistent && cfg_doc == NULL)
    return FALSE;
  xmlNodePtr in_live = dev->find (live_doc, dev->key);
  xmlNodePtr in_cfg = dev->find (cfg_doc, dev->key);
  if (!detach_scope (dom, name, live_io, config_io, in_live, in_cfg, error))
    return FALSE;
  gboolean live = *live_io, config = *config_io;
  if ((!live && !config) || (live && !in_live) || (config && !in_cfg))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("'%s' has no %s%s; '%s' lists what is attached"), name, dev->what,
                   live && !in_live && in_cfg ? _(" in the running VM")
                   : config && !in_cfg && in_live ? _(" in its persistent definition") : "",
                   list_cmd);
      return FALSE;
    }
  xmlNodePtr node = in_live ? in_live : in_cfg;
  g_autofree char *addr = vk_xml_pci_address_text (node);
  if (bdf_out != NULL)
    vk_hostdev_source_bdf (node, bdf_out);
  g_autofree char *xml = vk_xml_node_format (node);

  g_autoptr(GError) local = NULL;
  if (!vk_ops_step (ops, "detach", error))
    return FALSE;
  if (!vk_domain_detach (dom, xml, live, config, &local))
    {
      /* Gone anyway (its reply was lost)? Then it worked. */
      g_autoptr(GError) e_live = NULL, e_cfg = NULL;
      g_autoptr(xmlDoc) now_live = live ? vk_ops_domain_doc (dom, FALSE, &e_live) : NULL;
      g_autoptr(xmlDoc) now_cfg = config ? vk_ops_domain_doc (dom, TRUE, &e_cfg) : NULL;
      /* a definition that cannot be read proves nothing: count it as still there */
      gboolean still_live = now_live == NULL || dev->find (now_live, dev->key) != NULL;
      gboolean still_cfg = now_cfg == NULL || dev->find (now_cfg, dev->key) != NULL;
      if ((live && still_live) || (config && still_cfg))
        {
          g_set_error (error, VK_ERROR, vk_error_exit_code (local),
                       _("%s (after the failure the %s is %s in the running VM and %s in "
                         "the persistent definition)"),
                       local->message, dev->what,
                       presence (live, now_live, still_live, _("still present"), _("gone")),
                       presence (config, now_cfg, still_cfg, _("still present"), _("gone")));
          return FALSE;
        }
      vk_ops_notice (ops, _("libvirt reported a failure, but the %s is gone from '%s' as "
                            "asked (%s)"), dev->what, name, local->message);
    }
  if (live && !wait_released (ops, dom, name, timeout, dev, error))
    return FALSE;
  *addr_out = g_steal_pointer (&addr);
  return TRUE;
}
