/* vmkeep tag DOMAIN add|remove|list [TAG...]
 *
 * Tags live in the domain's own metadata (vmkeep namespace), so they travel
 * with the definition and cron jobs can select VMs with --tag. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "commands.h"
#include "output.h"
#include "validate.h"
#include "vk-error.h"

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
  g_autoptr(GPtrArray) tags = NULL;
  const char *const *given = (const char *const *) argv + 3;
  if (!add && !remove)
    tags = vk_ops_domain_tags (dom);
  else if (!vk_ops_domain_tags_change (cli->ops, dom, add ? given : NULL, remove ? given : NULL,
                                       &tags, error))
    return FALSE;
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
