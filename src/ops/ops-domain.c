/* vmkeep — workflows on one domain's definition. See ops-domain.h. */
#include "config.h"

#include <glib/gi18n.h>

#include "domain-xml.h"
#include "ops-domain.h"
#include "pin.h"
#include "vk-error.h"

xmlDocPtr
vk_ops_domain_doc (VkDomain *dom, gboolean inactive, GError **error)
{
  g_autofree char *xml = vk_domain_xml (dom, inactive, error);
  if (xml == NULL)
    return NULL;
  return vk_xml_parse (xml, -1, vk_domain_get_name (dom), error);
}

gboolean
vk_ops_define_verified (VkOps *ops, xmlDocPtr doc, VkDomain **out, GPtrArray **violations_out,
                        GError **error)
{
  g_autofree char *name = vk_domain_name (doc);
  g_autofree char *xml = vk_xml_format (doc);
  g_autoptr(VkDomain) old = vk_domain_try_lookup (ops->conn, name);
  g_autofree char *old_xml = NULL;
  if (old != NULL)
    {
      if (!vk_domain_is_persistent (old))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("domain '%s' exists as a transient domain; stop it or pick "
                         "another name"), name);
          return FALSE;
        }
      old_xml = vk_domain_xml (old, TRUE, error);
      if (old_xml == NULL)
        return FALSE;
    }

  g_autoptr(VkDomain) dom = NULL;
  if (!vk_ops_step (ops, "define", error) || !vk_domain_define (ops->conn, xml, &dom, error))
    return FALSE;

  g_autoptr(GError) local = NULL;
  g_autoptr(xmlDoc) back_doc = vk_ops_domain_doc (dom, TRUE, &local);
  g_autoptr(GPtrArray) v = back_doc ? vk_layout_check (back_doc, &ops->cfg->policy, &local)
                                    : NULL;
  if (v != NULL && v->len == 0 && vk_ops_step (ops, "define-verified", &local))
    {
      *out = g_steal_pointer (&dom);
      return TRUE;
    }

  /* Undo: put back what was there, or remove what we defined. */
  g_autoptr(GError) undo = NULL;
  if (old_xml != NULL)
    {
      g_autoptr(VkDomain) again = NULL;
      vk_domain_define (ops->conn, old_xml, &again, &undo);
    }
  else
    vk_domain_undefine (dom, FALSE, &undo);

  if (v == NULL || v->len == 0)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               g_dngettext (GETTEXT_PACKAGE,
                            "libvirt placed %u device of '%s' against the slot policy "
                            "(listed above); the definition was %s",
                            "libvirt placed %u devices of '%s' against the slot policy "
                            "(listed above); the definition was %s", v->len),
               v->len, name,
               undo ? _("NOT rolled back: fix it by hand")
                    : old_xml ? _("restored to what it was") : _("removed again"));
  if (violations_out != NULL)
    *violations_out = g_steal_pointer (&v);
  return FALSE;
}

gboolean
vk_ops_check_scope (VkDomain *dom, const char *name, gboolean live, gboolean config,
                    const char *live_verb, GError **error)
{
  if (live && vk_domain_state (dom, NULL) == VK_STATE_SHUTOFF)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("domain '%s' is not running, so --live cannot %s; use --config"), name,
                   live_verb);
      return FALSE;
    }
  if (config && !vk_domain_is_persistent (dom))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("domain '%s' is transient, so --config has nothing to change; use --live"),
                   name);
      return FALSE;
    }
  return TRUE;
}
