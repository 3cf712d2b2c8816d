/* vmkeep tag DOMAIN add|remove|list [TAG...]
 *
 * Tags live in the domain's own metadata (vmkeep namespace), so they travel
 * with the definition and cron jobs can select VMs with --tag. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "commands.h"
#include "domain-xml.h"
#include "output.h"
#include "validate.h"
#include "vk-error.h"

#define VK_META_NS "https://vmkeep.org/ns/domain/1"
#define VK_META_KEY "vmkeep"

GPtrArray *
vk_cli_domain_tags (VkDomain *dom, GError **error)
{
  GPtrArray *tags = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *xml = vk_domain_get_metadata (dom, VK_META_NS, error);
  if (xml == NULL)
    return tags;
  g_autoptr(GError) local = NULL;
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, "metadata", &local);
  if (doc == NULL)
    return tags;
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr list = xmlStrEqual (root->name, BAD_CAST "tags") ? root : vk_xml_child (root, "tags");
  for (xmlNodePtr n = list ? list->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "tag"))
      {
        xmlChar *t = xmlNodeGetContent (n);
        if (t && *t)
          g_ptr_array_add (tags, g_strdup ((const char *) t));
        xmlFree (t);
      }
  return tags;
}

/* g_ptr_array_sort hands over pointers to the elements */
static gint
cmp_tag (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
store_tags (VkDomain *dom, GPtrArray *tags, GError **error)
{
  if (tags->len == 0)
    return vk_domain_set_metadata (dom, NULL, NULL, VK_META_NS, error);
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr root = xmlNewNode (NULL, BAD_CAST "tags");
  xmlDocSetRootElement (doc, root);
  for (guint i = 0; i < tags->len; i++)
    xmlNewTextChild (root, NULL, BAD_CAST "tag", BAD_CAST tags->pdata[i]);
  g_autofree char *xml = vk_xml_node_format (root);
  return vk_domain_set_metadata (dom, xml, VK_META_KEY, VK_META_NS, error);
}

gboolean
vk_cmd_tag (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("tag", &argc, &argv, 2, -1, _("DOMAIN and add|remove|list"), error))
    return FALSE;
  const char *name = argv[1], *verb = argv[2];
  gboolean add = g_str_equal (verb, "add"), remove = g_str_equal (verb, "remove");
  if (!add && !remove && !g_str_equal (verb, "list"))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep tag: '%s' is not add, remove or list"), verb);
  if ((add || remove) && argc < 4)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep tag %s %s: name at least one TAG"), name, verb);
  for (int i = 3; i < argc; i++)
    if (!vk_validate_name ("tag", argv[i], error))
      return FALSE;

  g_autoptr(VkDomain) dom = vk_cli_lookup (cli, name, error);
  if (dom == NULL)
    return FALSE;
  /* a change to the domain: under its lock, read and written together */
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) lock = add || remove ? vk_ops_lock_domain (cli->ops, uuid, name, error) : NULL;
  if ((add || remove) && lock == NULL)
    return FALSE;
  g_autoptr(GPtrArray) tags = vk_cli_domain_tags (dom, error);
  if (add || remove)
    {
      for (int i = 3; i < argc; i++)
        {
          guint at;
          gboolean has = g_ptr_array_find_with_equal_func (tags, argv[i], g_str_equal, &at);
          if (add && !has)
            g_ptr_array_add (tags, g_strdup (argv[i]));
          else if (remove && has)
            g_ptr_array_remove_index (tags, at);
        }
      g_ptr_array_sort (tags, cmp_tag);
      if (!store_tags (dom, tags, error))
        return FALSE;
    }
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "domain", name);
      vk_json_str_array (b, "tags", tags);
      vk_json_object_print (b);
    }
  else if (!add && !remove)
    for (guint i = 0; i < tags->len; i++)
      printf ("%s\n", (const char *) tags->pdata[i]);
  else
    {
      g_autoptr(GString) all = g_string_new (NULL);
      for (guint i = 0; i < tags->len; i++)
        g_string_append_printf (all, "%s%s", i ? " " : "", (const char *) tags->pdata[i]);
      vk_cli_info (cli, _("Tags of '%s': %s"), name, tags->len ? all->str : _("(none)"));
    }
  return TRUE;
}
