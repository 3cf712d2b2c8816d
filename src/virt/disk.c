/* vmkeep — host-side disk plumbing that needs QEMU's tools (qemu-img). */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "disk.h"
#include "diskfile.h"
#include "fileutil.h"
#include "vk-error.h"

gboolean
vk_disk_create_overlay (const char *overlay, const char *base, const char *base_fmt,
                        GError **error)
{
  /* written directly: spawning qemu-img cost a clone ~10 ms */
  return vk_qcow2_create_overlay (overlay, base, base_fmt, error);
}

gboolean
vk_disk_replace_with_overlay (const char *path, const char *base, const char *base_fmt,
                              GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *bn = g_path_get_basename (path);
  g_autofree char *tmp = g_strdup_printf ("%s/.%s.vk-new-%d", dir, bn, (int) getpid ());
  g_unlink (tmp);
  if (!vk_disk_create_overlay (tmp, base, base_fmt, error))
    return FALSE;
  if (rename (tmp, path) < 0)
    {
      int e = errno;
      g_unlink (tmp);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot put overlay in place of %s: %s"),
                   path, g_strerror (e));
      return FALSE;
    }
  /* the overlay was synced by its writer; the rename is made durable
   * before libvirt is told to use it */
  return vk_fsync_parent (path, error);
}

/* Run qemu-img with `argv`. FALSE when it could not be started (`ran`
 * FALSE; `err` says why) or failed (`err` its messages). */
static gboolean
qemu_img (const char *const *argv, gboolean *ran, char **err)
{
  int status = 0;
  g_autoptr(GError) local = NULL;
  *ran = g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                       NULL, NULL, NULL, err, &status, &local);
  if (!*ran)
    {
      *err = g_strdup (local->message);
      return FALSE;
    }
  if (*err)
    g_strstrip (*err);
  return g_spawn_check_wait_status (status, NULL);
}

gboolean
vk_disk_flatten (const char *src, const char *src_fmt, const char *dst, GError **error)
{
  if (g_file_test (dst, G_FILE_TEST_EXISTS))
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("%s already exists; vmkeep never overwrites a disk"), dst);
  const char *argv[] = { "qemu-img", "convert", "-q", "-f", src_fmt, "-O", "qcow2",
                         src, dst, NULL };
  gboolean ran = FALSE;
  g_autofree char *err = NULL;
  if (!qemu_img (argv, &ran, &err))
    {
      g_unlink (dst);
      return ran ? vk_fail (error, VK_ERROR_FAILED, _("qemu-img could not flatten %s into %s: %s"),
                            src, dst, err ? err : "")
                 : vk_fail (error, VK_ERROR_FAILED,
                            _("cannot run qemu-img to flatten %s: %s (install qemu-utils)"), src,
                            err);
    }
  chmod (dst, 0600);
  return TRUE;
}

gboolean
vk_disk_rebase_unsafe (const char *path, const char *backing, const char *backing_fmt,
                       GError **error)
{
  /* -u: only the header changes; qemu-img neither reads nor compares
   * the old backing file (which may name another host's path) */
  const char *argv[] = { "qemu-img", "rebase", "-q", "-u", "-f", "qcow2", "-F", backing_fmt,
                         "-b", backing, path, NULL };
  gboolean ran = FALSE;
  g_autofree char *err = NULL;
  if (!qemu_img (argv, &ran, &err))
    return ran ? vk_fail (error, VK_ERROR_FAILED, _("qemu-img could not point %s at %s: %s"),
                          path, backing, err ? err : "")
               : vk_fail (error, VK_ERROR_FAILED,
                          _("cannot run qemu-img to rebase %s: %s (install qemu-utils)"), path,
                          err);
  return TRUE;
}
