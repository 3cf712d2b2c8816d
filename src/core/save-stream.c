#include "config.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskfile.h"
#include "fileutil.h"
#include "save-stream.h"
#include "sha256.h"
#include "vk-error.h"

#define CHUNK (4u << 20)

/* A reader that closed its end (EPIPE) is reported in G_IO_ERROR: the FIFO
 * server below tells "libvirt read what it wanted and closed" apart from
 * real failures by it. */
static void
set_write_error (GError **error, int e, const char *what)
{
  if (e == EPIPE)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                 _("libvirt stopped reading the %s (the restore failed)"), what);
  else
    g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write the %s: %s"), what,
                 g_strerror (e));
}

/* The FIFO's write end is non-blocking (vk_fifo_open_writer): a reader
 * that stops reading without closing (a QEMU waiting for a libvirtd that
 * died) must not block the feeder for ever. Wait for room in slices, so a
 * cancellation (the restore returned) is seen within 100 ms.
 *
 * For a write(2) or splice(2) into `fd` that returned `n`: 1 when the call
 * is to be repeated (it was interrupted, or the pipe was full and there
 * was a wait for room), 0 when `n` is its result (errno untouched), -1
 * with `error` set when the clone was cancelled. */
static int
retry_write (ssize_t n, int fd, GCancellable *cancel, GError **error)
{
  if (n < 0 && errno == EINTR)
    return 1;
  if (n < 0 && errno == EAGAIN)
    {
      if (g_cancellable_is_cancelled (cancel))
        {
          vk_fail (error, VK_ERROR_FAILED, _("the clone was cancelled"));
          return -1;
        }
      struct pollfd pfd = { fd, POLLOUT, 0 };
      (void) poll (&pfd, 1, 100);
      return 1;
    }
  return 0;
}

static gboolean
write_all (int fd, const guint8 *p, gsize len, const char *what, GCancellable *cancel,
           GError **error)
{
  gsize done = 0;
  while (done < len)
    {
      ssize_t n = write (fd, p + done, len - done);
      int again = retry_write (n, fd, cancel, error);
      if (again < 0)
        return FALSE;
      if (again > 0)
        continue;
      if (n <= 0)
        {
          set_write_error (error, n < 0 ? errno : EIO, what);
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

static gssize
read_full (int fd, guint8 *buf, gsize len)
{
  return vk_read_full (fd, buf, len, -1, NULL);
}

int
vk_fifo_open_writer (const char *path, GCancellable *cancel, GError **error)
{
  for (;;)
    {
      /* stays non-blocking: the feed waits for room itself (write_all) */
      int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0)
        return fd;
      if (errno != ENXIO)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot open FIFO %s: %s"), path,
                       g_strerror (errno));
          return -1;
        }
      if (g_cancellable_is_cancelled (cancel))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("libvirt never opened the state FIFO %s"), path);
          return -1;
        }
      /* libvirt blocks in its open until this one: poll often */
      g_usleep (1000);
    }
}

/* How many times libvirt opens a save file to restore it is libvirt's
 * business: 9.0 opens it once and hands that descriptor to QEMU; 11.x
 * opens it once to read the header and the XML, closes it, and opens it
 * again for QEMU. A plain FIFO fails the second way: the second open
 * attaches to the same pipe and reads whatever the first reader left in it
 * ("image magic is incorrect").
 *
 * So every open gets a pipe of its own, served from the start: as soon as
 * a reader has opened the FIFO, the path is replaced by a fresh FIFO
 * (before a single byte is written, so no reader can get to its next open
 * before the swap), and the pipe it opened is fed from the beginning. A
 * reader that closes early ends its pipe with EPIPE, which is expected
 * here. Serving goes on until the caller's restore returned and set
 * `cancel`, so no open of libvirt's can ever block on a FIFO nobody
 * serves. */
gboolean
vk_fifo_serve (const char *path, VkFifoFeedFunc feed, gpointer data, GCancellable *cancel,
               guint *served, guint *completed, GError **error)
{
  guint n_served = 0, n_done = 0;
  GError *last = NULL;
  gboolean ok = TRUE;

  for (;;)
    {
      g_autoptr(GError) e = NULL;
      int fd = vk_fifo_open_writer (path, cancel, &e);
      if (fd < 0)
        {
          if (g_cancellable_is_cancelled (cancel) && n_served > 0)
            break;
          g_propagate_error (&last, g_steal_pointer (&e));
          ok = FALSE;
          break;
        }
      if (unlink (path) < 0 || mkfifo (path, 0600) < 0)
        {
          int saved = errno;
          close (fd);
          g_clear_error (&last);
          g_set_error (&last, VK_ERROR, VK_ERROR_FAILED, _("cannot renew FIFO %s: %s"), path,
                       g_strerror (saved));
          ok = FALSE;
          break;
        }
      n_served++;
      gboolean fed = feed (fd, data, &e);
      close (fd);
      if (fed)
        {
          n_done++;
          g_clear_error (&last);
          continue;
        }
      if (g_error_matches (e, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        {
          /* the reader took what it wanted; keep the message in case no
           * other reader ever completes */
          g_clear_error (&last);
          last = g_steal_pointer (&e);
          continue;
        }
      g_clear_error (&last);
      last = g_steal_pointer (&e);
      ok = FALSE;
      break;
    }
  if (served)
    *served = n_served;
  if (completed)
    *completed = n_done;
  if (ok && n_done == 0)
    {
      if (last == NULL)
        g_set_error (&last, VK_ERROR, VK_ERROR_FAILED,
                     _("libvirt never read the whole state from FIFO %s"), path);
      ok = FALSE;
    }
  if (!ok)
    {
      if (last && last->domain == G_IO_ERROR)
        {
          /* callers map VK_ERROR codes to exit codes */
          GError *v = g_error_new_literal (VK_ERROR, VK_ERROR_FAILED, last->message);
          g_error_free (last);
          last = v;
        }
      g_propagate_error (error, last);
      return FALSE;
    }
  g_clear_error (&last);
  return TRUE;
}

/* ---- FIFO path: zero-copy stream, hash in parallel ---------------------
 *
 * Copying the stream through user space and hashing it inline left QEMU
 * waiting on an empty pipe most of the time: a clone took about twice as
 * long as a plain restore of the same state. Here the stream goes from the
 * page cache into the pipe with splice(2), the pipe is as large as the
 * host allows, and a second thread hashes the file meanwhile. The last
 * HOLD bytes are sent only once the hash matched, so a damaged or
 * tampered state still never reaches its end and the restore fails.
 *
 * The hash is taken over the file as it is in the page cache, concurrently
 * with the splice, not over the very bytes copied: a state file changed
 * *during* a clone (only root can write the store) is not caught. What it
 * guards against, damage and tampering at rest, it still catches. */

#define HOLD (1u << 20)

typedef struct {
  int in;
  guint64 size;
  GCancellable *cancel;   /* the caller's; may be NULL */
  gint stop;         /* the writer gave up */
  VkSha256 *sum;
  gboolean ok;       /* read the whole file */
  int err;           /* errno of a failed read */
} Hasher;

/* The saved state file `src_path`, open for reading; -1 and an error
 * (NOT_FOUND when it is not there) when it cannot be opened. */
static int
open_state_file (const char *src_path, GError **error)
{
  int in = open (src_path, O_RDONLY | O_CLOEXEC);

  if (in < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open state file %s: %s"), src_path, g_strerror (e));
    }
  return in;
}

/* The state stream read from `src_path` has the SHA-256 its sidecar
 * recorded; else a REFUSED error. */
static gboolean
stream_sum_matches (VkSha256 *sum, const char *src_path, const char *expected_sha256,
                    GError **error)
{
  g_autofree char *hex = vk_sha256_hex (sum);

  if (g_ascii_strcasecmp (hex, expected_sha256) == 0)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("state file %s does not match its sidecar (SHA-256 %s, expected %s): "
                 "it was modified or damaged; the clone was not resumed"),
               src_path, hex, expected_sha256);
  return FALSE;
}

static gpointer
hasher_thread (gpointer p)
{
  Hasher *h = p;
  g_autofree guint8 *buf = g_malloc (CHUNK);
  guint64 off = 0;
  while (off < h->size)
    {
      if (g_atomic_int_get (&h->stop) || g_cancellable_is_cancelled (h->cancel))
        return NULL;
      ssize_t n = pread (h->in, buf, MIN (h->size - off, CHUNK), off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          h->err = n < 0 ? errno : 0;
          return NULL;
        }
      vk_sha256_update (h->sum, buf, n);
      off += n;
    }
  h->ok = TRUE;
  return NULL;
}

/* Grow the pipe behind `fd` to the host's limit: fewer wake-ups of QEMU,
 * which reads the other end. */
static void
grow_pipe (int fd)
{
  /* root (CAP_SYS_RESOURCE) may go past pipe-max-size; others get the
   * host's limit */
  int want = 16 << 20;
  g_autofree char *max = NULL;
  if (fcntl (fd, F_SETPIPE_SZ, want) >= 0)
    return;
  want = 1 << 20;
  if (g_file_get_contents ("/proc/sys/fs/pipe-max-size", &max, NULL, NULL))
    want = MAX (want, (int) MIN (g_ascii_strtoll (max, NULL, 10), 64 << 20));
  if (fcntl (fd, F_SETPIPE_SZ, want) < 0 && want > (1 << 20))
    (void) fcntl (fd, F_SETPIPE_SZ, 1 << 20);
}

/* splice [*off, end) of `in` into the pipe `fd`. */
static gboolean
splice_range (int in, guint64 *off, guint64 end, int fd, GCancellable *cancel,
              const char *src_path,
              GError **error)
{
  while (*off < end)
    {
      if (g_cancellable_is_cancelled (cancel))
        return vk_fail (error, VK_ERROR_FAILED, _("the clone was cancelled"));
      loff_t o = *off;
      ssize_t n = splice (in, &o, fd, NULL, MIN (end - *off, CHUNK), SPLICE_F_MOVE | SPLICE_F_MORE);
      int again = retry_write (n, fd, cancel, error);
      if (again < 0)
        return FALSE;
      if (again > 0)
        continue;
      if (n <= 0)
        {
          int e = errno;
          if (n == 0)
            g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                         _("state file %s ended early: it is truncated"), src_path);
          else
            set_write_error (error, e, _("clone's state stream"));
          return FALSE;
        }
      *off += n;
    }
  return TRUE;
}

static gboolean
feed_pipe (int fd, int in, guint64 size, GBytes *header, const char *src_path,
           guint64 stream_offset, const char *expected_sha256, GCancellable *cancel,
           GError **error)
{
  if (size < stream_offset)
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("state file %s is truncated inside its header"), src_path);
  grow_pipe (fd);
  Hasher h = { in, size, cancel, 0, NULL, FALSE, 0 };
  GThread *t = NULL;
  if (expected_sha256)
    {
      h.sum = vk_sha256_new ();
      t = g_thread_new ("vmkeep-hash", hasher_thread, &h);
    }
  gsize hlen = 0;
  const guint8 *hdata = g_bytes_get_data (header, &hlen);
  guint64 off = stream_offset;
  guint64 hold = expected_sha256 ? MIN (size - stream_offset, HOLD) : 0;
  gboolean ok = write_all (fd, hdata, hlen, _("clone's state header"), cancel, error) &&
                splice_range (in, &off, size - hold, fd, cancel, src_path, error);
  if (t)
    {
      if (!ok)
        g_atomic_int_set (&h.stop, 1);
      g_thread_join (t);
      if (ok && !h.ok)
        {
          if (h.err)
            g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), src_path,
                         g_strerror (h.err));
          else if (g_cancellable_is_cancelled (cancel))
            g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("the clone was cancelled"));
          else
            g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                         _("state file %s ended early: it is truncated"), src_path);
          ok = FALSE;
        }
      if (ok)
        ok = stream_sum_matches (h.sum, src_path, expected_sha256, error);
      vk_sha256_free (h.sum);
    }
  if (ok)
    ok = splice_range (in, &off, size, fd, cancel, src_path, error);
  return ok;
}

gboolean
vk_save_stream_feed (int fd, GBytes *header, const char *src_path, guint64 stream_offset,
                     const char *expected_sha256, GCancellable *cancel, GError **error)
{
  int in = open_state_file (src_path, error);
  if (in < 0)
    return FALSE;
  (void) posix_fadvise (in, 0, 0, POSIX_FADV_SEQUENTIAL);
  struct stat ist, ost;
  if (fstat (fd, &ost) == 0 && S_ISFIFO (ost.st_mode) && fstat (in, &ist) == 0 &&
      S_ISREG (ist.st_mode))
    {
      gboolean ok = feed_pipe (fd, in, ist.st_size, header, src_path, stream_offset,
                               expected_sha256, cancel, error);
      close (in);
      return ok;
    }
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
    ok = write_all (fd, hdata, hlen, _("clone's state header"), cancel, error);

  /* Hold back one chunk so that a mismatch at the end never lets the
   * restore complete. */
  guint8 *held = a, *next = b;
  gssize held_len = 0;
  while (ok)
    {
      if (g_cancellable_is_cancelled (cancel))
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
        ok = write_all (fd, held, held_len, _("clone's state stream"), cancel, error);
      guint8 *t = held;
      held = next;
      next = t;
      held_len = n;
    }
  if (ok && sum)
    ok = stream_sum_matches (sum, src_path, expected_sha256, error);
  if (ok && held_len > 0)
    ok = write_all (fd, held, held_len, _("clone's state stream"), cancel, error);
  close (in);
  return ok;
}

gboolean
vk_save_file_write (const char *dst, GBytes *header, const char *src_path,
                    guint64 stream_offset, const char **how, GError **error)
{
  int in = open_state_file (src_path, error);
  if (in < 0)
    return FALSE;
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
  gsize hlen = 0;
  const guint8 *hdata = g_bytes_get_data (header, &hlen);
  gboolean ok = fstat (in, &st) == 0 && hlen == stream_offset &&
                (guint64) st.st_size >= stream_offset;
  const char *method = NULL;
  if (ok && ioctl (out, FICLONE, in) == 0)
    {
      /* The whole file shares the source's extents (O(1)); the new header
       * then replaces the first bytes in place, which unshares only the
       * blocks it covers. The stream offset is the same in both headers,
       * so the stream itself stays shared. */
      method = "reflink";
      ok = vk_write_full (out, hdata, hlen, 0, NULL);
    }
  else if (ok)
    {
      method = "copy";
      ok = write_all (out, hdata, hlen, _("clone's state header"), NULL, error) &&
           vk_copy_range_sparse (in, stream_offset, out, (guint64) st.st_size - stream_offset);
    }
  int e;
  if (!vk_copy_finish (in, out, dst, ok, &e))
    {
      if (error && *error == NULL)
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write clone state %s: %s%s"),
                     dst, g_strerror (e),
                     e == ENOSPC ? _(" (the store's file system is full)") : "");
      return FALSE;
    }
  if (how)
    *how = method;
  return TRUE;
}

/* ---- a save file that libvirt is still writing ------------------------- */

#define GROW_MARGIN (1u << 20)
#define GROW_CHUNK (1u << 20)
#define GROW_POLL_US 1000

static gboolean
writer_check (const gint *writer, GCancellable *cancel, const char *path, GError **error)
{
  if (g_cancellable_is_cancelled (cancel))
    return vk_fail (error, VK_ERROR_FAILED, _("the clone was cancelled"));
  if (g_atomic_int_get (writer) == VK_WRITER_FAILED)
    return vk_fail (error, VK_ERROR_FAILED,
                    _("libvirt stopped writing the memory snapshot %s"), path);
  return TRUE;
}

gboolean
vk_save_header_wait (const char *path, const gint *writer, GCancellable *cancel,
                     VkSaveHeader **out,
                     GError **error)
{
  int fd = -1;
  gboolean ok = FALSE;
  for (;;)
    {
      gint w = g_atomic_int_get (writer);
      if (!writer_check (writer, cancel, path, error))
        break;
      if (fd < 0)
        fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
      struct stat st;
      guint32 data_len = 0;
      if (fd >= 0 && fstat (fd, &st) == 0 && st.st_size >= VK_SAVE_FIXED_HEADER_LEN &&
          pread (fd, &data_len, sizeof data_len, VK_SAVE_MAGIC_LEN + 4) == sizeof data_len)
        {
          /* libvirt writes its native byte order; a foreign one is
           * rejected by the parser below once the file is complete */
          guint64 need = (guint64) VK_SAVE_FIXED_HEADER_LEN + data_len;
          if (data_len > 0 && data_len < (64u << 20) && (guint64) st.st_size > need)
            {
              g_autofree guint8 *buf = g_malloc (need);
              if (pread (fd, buf, need, 0) == (ssize_t) need)
                {
                  if (memcmp (buf, VK_SAVE_MAGIC_PARTIAL, VK_SAVE_MAGIC_LEN) == 0)
                    memcpy (buf, VK_SAVE_MAGIC, VK_SAVE_MAGIC_LEN);
                  ok = vk_save_header_parse (buf, need, path, out, error);
                  break;
                }
            }
        }
      if (w == VK_WRITER_DONE)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("memory snapshot %s ended inside its header"), path);
          break;
        }
      g_usleep (GROW_POLL_US);
    }
  if (fd >= 0)
    close (fd);
  return ok;
}

gboolean
vk_save_stream_feed_growing (int fd, GBytes *header, const char *src_path,
                             guint64 stream_offset, const gint *writer, GCancellable *cancel,
                             char **sha256_out, guint64 *size_out, GError **error)
{
  int in = open (src_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (in < 0)
    return vk_fail (error, VK_ERROR_FAILED, _("cannot open state file %s: %s"),
                    src_path, g_strerror (errno));
  struct stat ost;
  if (fstat (fd, &ost) == 0 && S_ISFIFO (ost.st_mode))
    grow_pipe (fd);
  g_autoptr(VkSha256) sum = vk_sha256_new ();
  g_autofree guint8 *head = g_malloc (stream_offset);
  g_autofree guint8 *buf = g_malloc (GROW_CHUNK);
  gsize hlen = 0;
  const guint8 *hdata = g_bytes_get_data (header, &hlen);
  gboolean ok = pread (in, head, stream_offset, 0) == (ssize_t) stream_offset;
  if (!ok)
    g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read the header of %s"),
                 src_path);
  if (ok)
    {
      memcpy (head, VK_SAVE_MAGIC, VK_SAVE_MAGIC_LEN);
      vk_sha256_update (sum, head, stream_offset);
      ok = write_all (fd, hdata, hlen, _("clone's state header"), cancel, error);
    }
  guint64 off = stream_offset;
  gboolean sealed = FALSE;
  while (ok)
    {
      gint w = g_atomic_int_get (writer);
      if (!writer_check (writer, cancel, src_path, error))
        {
          ok = FALSE;
          break;
        }
      if (w == VK_WRITER_DONE)
        sealed = TRUE;
      struct stat st;
      if (fstat (in, &st) < 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), src_path,
                       g_strerror (errno));
          ok = FALSE;
          break;
        }
      guint64 size = (guint64) st.st_size;
      guint64 limit = sealed ? size : (size > GROW_MARGIN ? size - GROW_MARGIN : 0);
      if (off < limit)
        {
          ssize_t n = pread (in, buf, MIN (limit - off, GROW_CHUNK), off);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), src_path,
                           n < 0 ? g_strerror (errno) : _("end of file"));
              ok = FALSE;
              break;
            }
          vk_sha256_update (sum, buf, n);
          ok = write_all (fd, buf, n, _("clone's state stream"), cancel, error);
          off += n;
          continue;
        }
      if (sealed)
        break;
      /* libvirt writes the final magic last, once the whole state is in
       * the file (qemuSaveImageCreate, 9.0 and 11.x): from then on the end
       * is the end, whether the writer's call has returned or not. So the
       * reader of the last MiB (the clone's QEMU) never waits for what the
       * call does after the file, in libvirtd beside the clone's own start:
       * the rest of the snapshot and the source's resume. The next round
       * reads the final size. */
      guint8 magic[VK_SAVE_MAGIC_LEN];
      if (pread (in, magic, sizeof magic, 0) == (ssize_t) sizeof magic &&
          memcmp (magic, VK_SAVE_MAGIC, VK_SAVE_MAGIC_LEN) == 0)
        {
          sealed = TRUE;
          continue;
        }
      g_usleep (GROW_POLL_US);
    }
  if (ok)
    {
      /* What was hashed must be the file as libvirt left it. */
      g_autofree guint8 *now = g_malloc (stream_offset);
      struct stat st;
      if (pread (in, now, stream_offset, 0) != (ssize_t) stream_offset ||
          memcmp (now, head, stream_offset) != 0 || fstat (in, &st) < 0 ||
          (guint64) st.st_size != off)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("memory snapshot %s changed while it was read (or its save did not "
                         "complete)"), src_path);
          ok = FALSE;
        }
    }
  close (in);
  if (ok)
    {
      *sha256_out = vk_sha256_hex (sum);
      *size_out = off;
    }
  return ok;
}
