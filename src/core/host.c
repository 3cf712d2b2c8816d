/* vmkeep — host requirements of a VM. See host.h. */
#include "config.h"

#include <json-glib/json-glib.h>

#include "host.h"

const char *
vk_host_firmware_dir (void)
{
  const char *dir = g_getenv ("VMKEEP_FIRMWARE_DIR");
  return dir && *dir ? dir : "/usr/share/qemu/firmware";
}

static gboolean
array_has_string (JsonObject *o, const char *member, const char *value)
{
  JsonNode *n = json_object_get_member (o, member);
  JsonArray *a = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  for (guint i = 0; a && i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING &&
          g_strcmp0 (json_node_get_string (e), value) == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
targets_arch (JsonObject *o, const char *arch)
{
  JsonNode *n = json_object_get_member (o, "targets");
  JsonArray *a = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  for (guint i = 0; a && i < json_array_get_length (a); i++)
    {
      JsonNode *t = json_array_get_element (a, i);
      if (JSON_NODE_HOLDS_OBJECT (t) &&
          g_strcmp0 (json_object_get_string_member_with_default (json_node_get_object (t),
                                                                  "architecture", NULL),
                     arch) == 0)
        return TRUE;
    }
  return FALSE;
}

void
vk_host_firmware_scan (const char *dir, gboolean *uefi, gboolean *secure_boot)
{
  *uefi = *secure_boot = FALSE;
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (n, ".json"))
        continue;
      g_autofree char *path = g_build_filename (dir, n, NULL);
      g_autoptr(JsonParser) p = json_parser_new ();
      if (!json_parser_load_from_file (p, path, NULL))
        continue;
      JsonNode *root = json_parser_get_root (p);
      JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
      if (o == NULL || !array_has_string (o, "interface-types", "uefi") ||
          !targets_arch (o, "x86_64"))
        continue;
      *uefi = TRUE;
      if (array_has_string (o, "features", "secure-boot"))
        *secure_boot = TRUE;
    }
}

const char *
vk_host_swtpm_missing (void)
{
  static const char *const programs[] = { "swtpm", "swtpm_setup" };
  for (gsize i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree char *path = g_find_program_in_path (programs[i]);
      if (path == NULL)
        return programs[i];
    }
  return NULL;
}
