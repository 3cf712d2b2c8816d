/* vmkeep — host checks of the workflows. See ops-host.h. */
#include "config.h"

#include <json-glib/json-glib.h>

#include <grp.h>
#include <pwd.h>
#include <string.h>

#include <glib/gi18n.h>

#include "fileutil.h"
#include "ops-host.h"
#include "spec.h"
#include "uri.h"
#include "vk-error.h"

gboolean
vk_ops_uri_is_local (const char *uri)
{
  /* NULL: libvirt's default, a local driver unless libvirt.conf says
   * otherwise; the CLI checks what libvirt connected to (vk_cli_connect) */
  return uri == NULL || vk_uri_is_this_host (uri);
}

VkHostIface
vk_ops_host_interface (VkConn *conn, const char *name)
{
  VkHostIface found = vk_conn_host_interface (conn, name);
  const char *uri = vk_conn_uri (conn);
  if (found != VK_HOST_IFACE_UNKNOWN || uri == NULL ||
      !(g_str_has_prefix (uri, "qemu:///") || g_str_has_prefix (uri, "qemu+unix:///")))
    return found;
  /* libvirt without its interface driver, on this host: the kernel's own
   * view (sysfs, its stable ABI for net devices) answers the same */
  g_autofree char *dev = g_build_filename ("/sys/class/net", name, NULL);
  g_autofree char *bridge = g_build_filename (dev, "bridge", NULL);
  if (!g_file_test (dev, G_FILE_TEST_EXISTS))
    return VK_HOST_IFACE_ABSENT;
  return g_file_test (bridge, G_FILE_TEST_IS_DIR) ? VK_HOST_IFACE_BRIDGE : VK_HOST_IFACE_OTHER;
}

gboolean
vk_ops_check_nic_source (VkConn *conn, int kind, const char *name, GError **error)
{
  if (kind == VK_NET_NETWORK)
    {
      if (!vk_conn_network_exists (conn, name, NULL, NULL))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                       _("libvirt network '%s' not found; 'virsh net-list --all' "
                         "shows the networks"), name);
          return FALSE;
        }
      return TRUE;
    }
  VkHostIface found = kind == VK_NET_BRIDGE ? vk_ops_host_interface (conn, name)
                                            : VK_HOST_IFACE_UNKNOWN;
  if (found == VK_HOST_IFACE_ABSENT || found == VK_HOST_IFACE_OTHER)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("bridge '%s' not found on this host; create it (ip link add "
                     "%s type bridge) or pick another bridge"), name, name);
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_ops_check_qemu_reaches (VkConn *conn, const char *dir, GError **error)
{
  if (!vk_ops_uri_is_local (vk_conn_uri (conn)))
    return TRUE;
  guint uid = 0, gid = 0;
  gboolean known = FALSE;
  if (!vk_conn_qemu_user (conn, &uid, &gid, &known, error))
    return FALSE;
  if (!known || uid == 0)
    return TRUE;
  gid_t groups[64];
  int n = G_N_ELEMENTS (groups);
  struct passwd *pw = getpwuid (uid);
  if (pw == NULL || getgrouplist (pw->pw_name, gid, groups, &n) < 0)
    {
      groups[0] = gid;
      n = 1;
    }
  guint mode = 0;
  g_autofree char *blocked = vk_path_untraversable (dir, uid, groups, n, &mode);
  if (blocked == NULL)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("QEMU runs as %s (uid %u) and cannot pass through %s (mode %04o) to reach %s, "
                 "so it could not open the disks there; nothing was changed: make it "
                 "traversable (chmod o+x %s) or set store= in vmkeep.conf to a directory QEMU "
                 "can reach"),
               pw ? pw->pw_name : "?", uid, blocked, mode, dir, blocked);
  return FALSE;
}

/* ---- what a VM needs from this host besides libvirt ---------------------- */

const char *
vk_ops_firmware_dir (void)
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
vk_ops_firmware_scan (const char *dir, gboolean *uefi, gboolean *secure_boot)
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
vk_ops_swtpm_missing (void)
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
