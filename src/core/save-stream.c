#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "save-stream.h"
#include "sha256.h"
#include "vk-error.h"

#define CHUNK (4u << 20)

static gboolean
write_all (int fd, const guint8 *p, gsize len, const char *what, GError **error)
{
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       e == EPIPE ? _("libvirt stopped reading the %s (the restore failed)")
                                  : _("cannot write the %s: %s"), what, g_strerror (e));
          return FALSE;
        }
      p += n;
      len -= n;
    }
  return TRUE;
}

static gssize
read_full (int fd, guint8 *buf, gsize len)
{
  gsize got = 0;
  while (got < len)
    {
      ssize_t n = read (fd, buf + got, len - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      got += n;
    }
  return got;
}

int
vk_fifo_open_writer (const char *path, gint *cancel, GError **error)
{
  for (;;)
    {
      int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0)
        {
          int fl = fcntl (fd, F_GETFL);
          fcntl (fd, F_SETFL, fl & ~O_NONBLOCK);
          return fd;
        }
      if (errno != ENXIO)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot open FIFO %s: %s"), path,
                       g_strerror (errno));
          return -1;
        }
      if (cancel && g_atomic_int_get (cancel))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("libvirt never opened the state FIFO %s"), path);
          return -1;
        }
      g_usleep (20 * 1000);
    }
}

gboolean
vk_save_stream_feed (int fd, GBytes *header, const char *src_path, guint64 stream_offset,
                     const char *expected_sha256, gint *cancel, GError **error)
{
  int in = open (src_path, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open state file %s: %s"), src_path, g_strerror (e));
      return FALSE;
    }
  (void) posix_fadvise (in, 0, 0, POSIX_FADV_SEQUENTIAL);
  g_autoptr(VkSha256) sum = expected_sha256 ? vk_sha256_new () : NULL;
  g_autofree guint8 *a = g_malloc (CHUNK);
  g_autofree guint8 *b = g_malloc (CHUNK);
  gboolean ok = TRUE;

  /* The original header is hashed, not sent: the clone gets its own. */
  if (sum)
    {
      guint64 left = stream_offset;
      while (ok && left > 0)
        {
          gssize n = read_full (in, a, MIN (left, CHUNK));
          if (n <= 0)
            {
              g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                           _("state file %s is truncated inside its header"), src_path);
              ok = FALSE;
              break;
            }
          vk_sha256_update (sum, a, n);
          left -= n;
        }
    }
  else if (lseek (in, stream_offset, SEEK_SET) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot seek in %s: %s"), src_path,
                   g_strerror (errno));
      ok = FALSE;
    }
  gsize hlen = 0;
  const guint8 *hdata = g_bytes_get_data (header, &hlen);
  if (ok)
    ok = write_all (fd, hdata, hlen, _("clone's state header"), error);

  /* Hold back one chunk so that a mismatch at the end never lets the
   * restore complete. */
  guint8 *held = a, *next = b;
  gssize held_len = 0;
  while (ok)
    {
      if (cancel && g_atomic_int_get (cancel))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("the clone was cancelled"));
          ok = FALSE;
          break;
        }
      gssize n = read_full (in, next, CHUNK);
      if (n < 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), src_path,
                       g_strerror (errno));
          ok = FALSE;
          break;
        }
      if (n == 0)
        break;
      if (sum)
        vk_sha256_update (sum, next, n);
      if (held_len > 0)
        ok = write_all (fd, held, held_len, _("clone's state stream"), error);
      guint8 *t = held;
      held = next;
      next = t;
      held_len = n;
    }
  if (ok && sum)
    {
      g_autofree char *hex = vk_sha256_hex (sum);
      if (g_ascii_strcasecmp (hex, expected_sha256) != 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("state file %s does not match its sidecar (SHA-256 %s, expected %s): "
                         "it was modified or damaged; the clone was not resumed"),
                       src_path, hex, expected_sha256);
          ok = FALSE;
        }
    }
  if (ok && held_len > 0)
    ok = write_all (fd, held, held_len, _("clone's state stream"), error);
  close (in);
  return ok;
}

gboolean
vk_save_file_write (const char *dst, GBytes *header, const char *src_path,
                    guint64 stream_offset, GError **error)
{
  int in = open (src_path, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open state file %s: %s"), src_path, g_strerror (e));
      return FALSE;
    }
  int out = open (dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0)
    {
      int e = errno;
      close (in);
      g_set_error (error, VK_ERROR, e == EEXIST ? VK_ERROR_REFUSED : VK_ERROR_FAILED,
                   e == EEXIST ? _("%s already exists; vmkeep never overwrites a state file")
                               : _("cannot create %s: %s"), dst, g_strerror (e));
      return FALSE;
    }
  struct stat st;
  gboolean ok = fstat (in, &st) == 0;
  gsize hlen = 0;
  const guint8 *hdata = g_bytes_get_data (header, &hlen);
  ok = ok && hlen == stream_offset && write_all (out, hdata, hlen, _("clone's state header"), error);
  guint64 len = ok ? (guint64) st.st_size - stream_offset : 0;
  if (ok)
    {
      /* Whole-extent sharing only works on block-aligned ranges; the
       * stream offset is the same in both files, so try it, then fall back
       * to an in-kernel copy. */
      struct file_clone_range r = { .src_fd = in, .src_offset = stream_offset,
                                    .src_length = len, .dest_offset = stream_offset };
      if (ioctl (out, FICLONERANGE, &r) != 0)
        {
          loff_t off_in = stream_offset, off_out = stream_offset;
          guint64 left = len;
          while (ok && left > 0)
            {
              ssize_t n = copy_file_range (in, &off_in, out, &off_out, MIN (left, 1ULL << 30), 0);
              if (n < 0 && errno == EINTR)
                continue;
              if (n <= 0)
                {
                  /* e.g. EXDEV on old kernels: plain copy */
                  g_autofree guint8 *buf = g_malloc (CHUNK);
                  while (left > 0)
                    {
                      ssize_t r2 = pread (in, buf, MIN (left, CHUNK), off_in);
                      if (r2 <= 0 || pwrite (out, buf, r2, off_out) != r2)
                        {
                          ok = FALSE;
                          break;
                        }
                      off_in += r2;
                      off_out += r2;
                      left -= r2;
                    }
                  break;
                }
              left -= n;
            }
        }
    }
  int e = errno;
  if (ok && fsync (out) < 0)
    {
      e = errno;
      ok = FALSE;
    }
  close (in);
  close (out);
  if (!ok)
    {
      unlink (dst);
      if (error && *error == NULL)
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write clone state %s: %s"), dst,
                     g_strerror (e));
      return FALSE;
    }
  return TRUE;
}
