/* vmkeep — checks about this host. See ops-host.h. */
#include "config.h"

#include <glib/gi18n.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/types.h>

#include "fileutil.h"
#include "ops-host.h"
#include "vk-error.h"

gboolean
vk_ops_uri_is_local (const char *uri)
{
  if (uri == NULL)
    return TRUE;
  const char *sep = strstr (uri, "://");
  if (sep == NULL)
    return TRUE;
  const char *plus = memchr (uri, '+', sep - uri);
  if (plus && !g_str_has_prefix (plus, "+unix://"))
    return FALSE;
  return sep[3] == '/' || sep[3] == '\0';
}

gboolean
vk_ops_check_qemu_reaches (VkOps *ops, const char *dir, GError **error)
{
  VkConn *conn = ops->conn;
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
