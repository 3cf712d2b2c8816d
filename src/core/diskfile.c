#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskfile.h"
#include "vk-error.h"

#define QCOW2_MAGIC 0x514649fbu

static gboolean
read_at (int fd, void *buf, gsize len, off_t off)
{
  gsize done = 0;
  while (done < len)
    {
      ssize_t n = pread (fd, (char *) buf + done, len - done, off + done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += n;
    }
  return TRUE;
}

char *
vk_disk_probe_format (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open disk image %s: %s"), path, g_strerror (e));
      return NULL;
    }
  guint32 magic = 0;
  gboolean ok = read_at (fd, &magic, sizeof magic, 0);
  close (fd);
  return g_strdup (ok && GUINT32_FROM_BE (magic) == QCOW2_MAGIC ? "qcow2" : "raw");
}

gboolean
vk_qcow2_backing_file (const char *path, char **backing, GError **error)
{
  *backing = NULL;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open disk image %s: %s"), path, g_strerror (e));
      return FALSE;
    }
  guint8 hdr[20];
  if (!read_at (fd, hdr, sizeof hdr, 0))
    {
      close (fd);
      return TRUE; /* too short to be qcow2: a raw file without backing */
    }
  guint32 magic, size;
  guint64 off;
  memcpy (&magic, hdr, 4);
  memcpy (&off, hdr + 8, 8);
  memcpy (&size, hdr + 16, 4);
  magic = GUINT32_FROM_BE (magic);
  off = GUINT64_FROM_BE (off);
  size = GUINT32_FROM_BE (size);
  if (magic != QCOW2_MAGIC || off == 0 || size == 0)
    {
      close (fd);
      return TRUE;
    }
  if (size > 4096)
    {
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("%s: qcow2 backing file name of %u bytes is not plausible; the "
                     "image may be damaged"), path, size);
      return FALSE;
    }
  g_autofree char *name = g_malloc0 (size + 1);
  gboolean ok = read_at (fd, name, size, off);
  close (fd);
  if (!ok)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("%s: cannot read the qcow2 backing file name; the image may be "
                     "truncated"), path);
      return FALSE;
    }
  *backing = g_steal_pointer (&name);
  return TRUE;
}

gboolean
vk_file_clone (const char *src, const char *dst, guint mode, GError **error)
{
  int in = open (src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open %s: %s"), src, g_strerror (e));
      return FALSE;
    }
  int out = open (dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (out < 0)
    {
      int e = errno;
      close (in);
      g_set_error (error, VK_ERROR, e == EEXIST ? VK_ERROR_REFUSED : VK_ERROR_FAILED,
                   e == EEXIST ? _("%s already exists; vmkeep never overwrites a file: "
                                   "remove it or choose another target")
                               : _("cannot create %s: %s"), dst, g_strerror (e));
      return FALSE;
    }
  fchmod (out, mode);
  gboolean ok = ioctl (out, FICLONE, in) == 0;
  if (!ok)
    {
      struct stat st;
      ok = fstat (in, &st) == 0;
      off_t left = ok ? st.st_size : 0;
      gboolean use_cfr = TRUE;
      while (ok && left > 0)
        {
          ssize_t n = -1;
          if (use_cfr)
            {
              n = copy_file_range (in, NULL, out, NULL, MIN (left, (off_t) 1 << 30), 0);
              if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                            errno == EINVAL))
                {
                  use_cfr = FALSE;
                  continue;
                }
            }
          else
            {
              static char buf[1 << 20];
              ssize_t r = read (in, buf, sizeof buf);
              if (r > 0)
                {
                  ssize_t w = 0;
                  while (w < r)
                    {
                      ssize_t k = write (out, buf + w, r - w);
                      if (k < 0 && errno == EINTR)
                        continue;
                      if (k < 0)
                        break;
                      w += k;
                    }
                  n = w == r ? r : -1;
                }
              else
                n = r;
            }
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              ok = FALSE;
              break;
            }
          left -= n;
        }
    }
  int e = errno;
  if (ok && fsync (out) < 0)
    {
      e = errno;
      ok = FALSE;
    }
  close (in);
  if (close (out) < 0 && ok)
    {
      e = errno;
      ok = FALSE;
    }
  if (!ok)
    {
      unlink (dst);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("copying %s to %s failed: %s%s"),
                   src, dst, g_strerror (e),
                   e == ENOSPC ? _(" (free space on the target filesystem, or copy elsewhere)") : "");
      return FALSE;
    }
  return TRUE;
}
