#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diskfile.h"
#include "fileutil.h"
#include "sha256.h"
#include "vk-error.h"

#define QCOW2_MAGIC 0x514649fbu

static gboolean
read_at (int fd, void *buf, gsize len, off_t off)
{
  return vk_read_full (fd, buf, len, off, NULL) == (gssize) len;
}

static guint64
be64_at (const guint8 *p)
{
  guint64 v;
  memcpy (&v, p, 8);
  return GUINT64_FROM_BE (v);
}

static guint32
be32_at (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, 4);
  return GUINT32_FROM_BE (v);
}

/* The first `len` (at least 4) bytes of the image open at `fd` into
 * `hdr`; FALSE when it is shorter or does not start with the qcow2 magic. */
static gboolean
read_qcow2_header (int fd, guint8 *hdr, gsize len)
{
  return read_at (fd, hdr, len, 0) && be32_at (hdr) == QCOW2_MAGIC;
}

/* Open a disk image for reading; the error names it. Only a regular file
 * or a block device: the path may come from a sidecar, and opening a FIFO
 * there would wait for a writer forever (O_NONBLOCK lets the open return
 * to find out). */
static int
open_image (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open disk image %s: %s"), path, g_strerror (e));
      return -1;
    }
  struct stat st;
  if (fstat (fd, &st) < 0 || !(S_ISREG (st.st_mode) || S_ISBLK (st.st_mode)))
    {
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("disk image %s is neither a regular file nor a block device"), path);
      return -1;
    }
  return fd;
}

char *
vk_disk_probe_format (const char *path, GError **error)
{
  int fd = open_image (path, error);
  if (fd < 0)
    return NULL;
  guint8 hdr[4];
  gboolean qcow2 = read_qcow2_header (fd, hdr, sizeof hdr);
  close (fd);
  return g_strdup (qcow2 ? "qcow2" : "raw");
}

gboolean
vk_qcow2_backing_file (const char *path, char **backing, GError **error)
{
  *backing = NULL;
  int fd = open_image (path, error);
  if (fd < 0)
    return FALSE;
  guint8 hdr[20];
  /* too short to be qcow2, or not qcow2: a raw file without backing */
  if (!read_qcow2_header (fd, hdr, sizeof hdr))
    {
      close (fd);
      return TRUE;
    }
  guint64 off = be64_at (hdr + 8);
  guint32 size = be32_at (hdr + 16);
  if (off == 0 || size == 0)
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
    return vk_fail (error, VK_ERROR_FAILED,
                    _("%s: cannot read the qcow2 backing file name; the image may be "
                      "truncated"), path);
  *backing = g_steal_pointer (&name);
  return TRUE;
}

#define QCOW2_INCOMPAT_DATA_FILE (G_GUINT64_CONSTANT (1) << 2)
#define QCOW2_EXT_DATA_FILE 0x44415441u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau

/* The header extension `type` of the qcow2 image open at `fd`, whose
 * header (at least 104 bytes of it) is `hdr`: its data, or NULL when the
 * image has none. Extensions follow the header (72 bytes in version 2,
 * header_length in version 3) and end with type 0, within the first
 * cluster. */
static char *
qcow2_header_ext (int fd, const guint8 *hdr, guint32 type)
{
  guint64 off = be32_at (hdr + 4) >= 3 ? be32_at (hdr + 100) : 72;
  for (int i = 0; i < 64 && off + 8 <= 65536; i++)
    {
      guint32 ext[2];
      if (!read_at (fd, ext, sizeof ext, (off_t) off))
        return NULL;
      guint32 t = GUINT32_FROM_BE (ext[0]), len = GUINT32_FROM_BE (ext[1]);
      if (t == 0 || len > 4096)
        return NULL;
      if (t == type)
        {
          g_autofree char *data = g_malloc0 (len + 1);
          return read_at (fd, data, len, (off_t) off + 8) ? g_steal_pointer (&data) : NULL;
        }
      off += 8 + ((len + 7) & ~7u);
    }
  return NULL;
}

gboolean
vk_qcow2_data_file (const char *path, char **data_file, GError **error)
{
  *data_file = NULL;
  int fd = open_image (path, error);
  if (fd < 0)
    return FALSE;
  guint8 hdr[104];
  if (!read_qcow2_header (fd, hdr, sizeof hdr) || be32_at (hdr + 4) < 3)
    {
      close (fd);
      return TRUE;   /* not qcow2, or v2 (which has no data files) */
    }
  if (!(be64_at (hdr + 72) & QCOW2_INCOMPAT_DATA_FILE))
    {
      close (fd);
      return TRUE;
    }
  *data_file = qcow2_header_ext (fd, hdr, QCOW2_EXT_DATA_FILE);
  close (fd);
  if (*data_file == NULL)
    *data_file = g_strdup ("");
  return TRUE;
}

gboolean
vk_qcow2_backing_format (const char *path, char **format, GError **error)
{
  *format = NULL;
  int fd = open_image (path, error);
  if (fd < 0)
    return FALSE;
  guint8 hdr[104];
  if (read_qcow2_header (fd, hdr, sizeof hdr))
    *format = qcow2_header_ext (fd, hdr, QCOW2_EXT_BACKING_FORMAT);
  close (fd);
  return TRUE;
}

/* ---- metadata digest of a frozen disk -------------------------------------

   Hashing a whole disk would cost seconds per GiB at hibernate time, where
   freezing is O(1). What is hashed instead (version 1, documented in
   vmkeep(1)): the file size and mtime, and for qcow2 every metadata
   structure that says where the data is — the header cluster (with the
   backing file name), the L1 table, every L2 table it points to and the
   refcount table; for raw, the first and last MiB and 64 KiB every
   256 MiB. Any other file, a resized or rewritten one (mtime), or a qcow2
   whose allocation changed is detected; a raw disk rewritten in place
   with its mtime set back, outside the sampled ranges, is not. */

#define DIGEST_TAG "vmkeep-disk-digest-1"
/* More qcow2 metadata than this is not a plausible image. */
#define DIGEST_META_MAX ((guint64) 512 << 20)

static gboolean
hash_range (VkSha256 *sum, int fd, guint64 off, guint64 len, guint64 *budget,
            const char *path, GError **error)
{
  if (len > *budget)
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("%s: its qcow2 metadata is larger than plausible; the disk is damaged "
                      "or not what vmkeep froze"), path);
  *budget -= len;
  g_autofree guint8 *buf = g_malloc (MIN (len, (guint64) 1 << 20) + 1);
  while (len > 0)
    {
      gsize n = (gsize) MIN (len, (guint64) 1 << 20);
      ssize_t r = pread (fd, buf, n, (off_t) off);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          /* past the end: the file is shorter than its metadata says */
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: its qcow2 metadata points past the end of the file; the disk "
                         "is truncated or damaged"), path);
          return FALSE;
        }
      vk_sha256_update (sum, buf, (gsize) r);
      off += (guint64) r;
      len -= (guint64) r;
    }
  return TRUE;
}

static gboolean
digest_qcow2 (VkSha256 *sum, int fd, guint64 size, const char *path, GError **error)
{
  guint8 h[104];
  if (!read_at (fd, h, sizeof h, 0))
    return vk_fail (error, VK_ERROR_REFUSED, _("%s: truncated qcow2 header"), path);
  guint32 cluster_bits = be32_at (h + 20);
  guint32 l1_size = be32_at (h + 36);
  guint64 l1_off = be64_at (h + 40);
  guint64 rt_off = be64_at (h + 48);
  guint32 rt_clusters = be32_at (h + 56);
  if (cluster_bits < 9 || cluster_bits > 21)
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("%s: qcow2 cluster size 2^%u is not valid; the disk is damaged"), path,
                    cluster_bits);
  guint64 cluster = (guint64) 1 << cluster_bits;
  guint64 budget = DIGEST_META_MAX;
  if (!hash_range (sum, fd, 0, MIN (cluster, size), &budget, path, error) ||
      !hash_range (sum, fd, rt_off, (guint64) rt_clusters * cluster, &budget, path, error))
    return FALSE;
  guint64 l1_bytes = (guint64) l1_size * 8;
  if (l1_bytes > budget)
    return hash_range (sum, fd, l1_off, l1_bytes, &budget, path, error);
  g_autofree guint8 *l1 = g_malloc (l1_bytes + 1);
  if (l1_bytes > 0 && !read_at (fd, l1, l1_bytes, l1_off))
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("%s: its qcow2 L1 table lies past the end of the file"), path);
  vk_sha256_update (sum, l1, l1_bytes);
  budget -= l1_bytes;
  for (guint32 i = 0; i < l1_size; i++)
    {
      /* bits 9-55: the L2 table's offset */
      guint64 l2 = be64_at (l1 + (gsize) i * 8) & 0x00fffffffffffe00ULL;
      if (l2 != 0 && !hash_range (sum, fd, l2, cluster, &budget, path, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
digest_raw (VkSha256 *sum, int fd, guint64 size, const char *path, GError **error)
{
  guint64 budget = G_MAXUINT64;
  const guint64 mib = 1 << 20, step = (guint64) 256 << 20, sample = 64 << 10;
  if (!hash_range (sum, fd, 0, MIN (mib, size), &budget, path, error))
    return FALSE;
  for (guint64 off = step; off + sample <= size; off += step)
    if (!hash_range (sum, fd, off, sample, &budget, path, error))
      return FALSE;
  if (size > mib)
    return hash_range (sum, fd, size - mib, mib, &budget, path, error);
  return TRUE;
}

gboolean
vk_disk_digest (const char *path, const char *format, char **hex_out, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   e == ELOOP ? _("disk %s is a symbolic link, not the file vmkeep froze")
                              : _("cannot open disk %s: %s"), path, g_strerror (e));
      return FALSE;
    }
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED, _("disk %s is not a regular file"), path);
      return FALSE;
    }
  g_autoptr(VkSha256) sum = vk_sha256_new ();
  g_autofree char *head = g_strdup_printf ("%s\n%s\n%" G_GUINT64_FORMAT "\n%" G_GINT64_FORMAT
                                           ".%09ld\n", DIGEST_TAG, format,
                                           (guint64) st.st_size, (gint64) st.st_mtim.tv_sec,
                                           st.st_mtim.tv_nsec);
  vk_sha256_update (sum, head, strlen (head));
  gboolean ok = g_str_equal (format, "qcow2")
                  ? digest_qcow2 (sum, fd, (guint64) st.st_size, path, error)
                  : digest_raw (sum, fd, (guint64) st.st_size, path, error);
  close (fd);
  if (ok)
    *hex_out = vk_sha256_hex (sum);
  return ok;
}

gboolean
vk_copy_range (int in, guint64 off_in, int out, guint64 off_out, guint64 len)
{
  gboolean use_cfr = TRUE;
  g_autofree guint8 *buf = NULL;
  while (len > 0)
    {
      ssize_t n;
      if (use_cfr)
        {
          loff_t a = (loff_t) off_in, b = (loff_t) off_out;
          n = copy_file_range (in, &a, out, &b, MIN (len, (guint64) 1 << 30), 0);
          if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                        errno == EINVAL))
            {
              use_cfr = FALSE;
              continue;
            }
        }
      else
        {
          if (buf == NULL)
            buf = g_malloc (1 << 20);
          n = pread (in, buf, MIN (len, (guint64) 1 << 20), (off_t) off_in);
          if (n > 0 && !vk_write_full (out, buf, (gsize) n, (gint64) off_out, NULL))
            n = -1;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          if (n == 0)
            errno = EIO; /* the source ended before `len` bytes */
          return FALSE;
        }
      off_in += (guint64) n;
      off_out += (guint64) n;
      len -= (guint64) n;
    }
  return TRUE;
}

gboolean
vk_copy_range_sparse (int in, guint64 off, int out, guint64 len)
{
  guint64 end = off + len;
  while (off < end)
    {
      off_t data = lseek (in, (off_t) off, SEEK_DATA);
      if (data < 0 && errno == ENXIO)
        break;   /* only a hole up to the end */
      if (data < 0)
        return vk_copy_range (in, off, out, off, end - off);   /* no SEEK_DATA here */
      if ((guint64) data >= end)
        break;
      off_t hole = lseek (in, data, SEEK_HOLE);
      guint64 stop = hole < 0 ? end : MIN ((guint64) hole, end);
      if (!vk_copy_range (in, (guint64) data, out, (guint64) data, stop - (guint64) data))
        return FALSE;
      off = stop;
    }
  /* the holes at the end: the size, not the blocks */
  struct stat st;
  if (fstat (out, &st) < 0)
    return FALSE;
  if ((guint64) st.st_size < end && ftruncate (out, (off_t) end) < 0)
    return FALSE;
  return TRUE;
}

gboolean
vk_copy_finish (int in, int out, const char *dst, gboolean ok, int *err)
{
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
    unlink (dst);
  *err = e;
  return ok;
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
      ok = fstat (in, &st) == 0 && vk_copy_range (in, 0, out, 0, (guint64) st.st_size);
    }
  int e;
  if (!vk_copy_finish (in, out, dst, ok, &e))
    return vk_fail (error, VK_ERROR_FAILED, _("copying %s to %s failed: %s%s"),
                    src, dst, g_strerror (e),
                    e == ENOSPC ? _(" (free space on the target filesystem, or copy elsewhere)") : "");
  return TRUE;
}

/* ---- qcow2 overlay ---------------------------------------------------------

   Layout (as qemu-img lays out an empty overlay): cluster 0 the header, its
   extensions (backing format, end) and the backing file name; cluster 1 the
   refcount table, one entry pointing at cluster 2, the refcount block
   (16-bit refcounts: clusters 0 .. 3 + L1 clusters - 1 are in use); cluster
   3 on the L1 table, all zero (nothing allocated: every read falls through
   to the backing file). */

#define QCOW2_CLUSTER_BITS 16
#define QCOW2_CLUSTER ((guint64) 1 << QCOW2_CLUSTER_BITS)
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_HEADER_LEN 112

static void
put_be32 (guint8 *p, guint32 v)
{
  v = GUINT32_TO_BE (v);
  memcpy (p, &v, 4);
}

static void
put_be64 (guint8 *p, guint64 v)
{
  v = GUINT64_TO_BE (v);
  memcpy (p, &v, 8);
}

/* Virtual size of a disk image: a qcow2 header's size, or a raw file's. */
static gboolean
virtual_size (const char *path, const char *fmt, guint64 *size, GError **error)
{
  int fd = open_image (path, error);
  if (fd < 0)
    return FALSE;
  gboolean ok = TRUE;
  if (g_str_equal (fmt, "qcow2"))
    {
      guint8 hdr[32];
      ok = read_qcow2_header (fd, hdr, sizeof hdr);
      if (ok)
        *size = be64_at (hdr + 24);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                     _("%s is not a qcow2 image (its definition says it is)"), path);
    }
  else
    {
      struct stat st;
      ok = fstat (fd, &st) == 0;
      if (ok)
        *size = (guint64) st.st_size;
      else
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read disk image %s: %s"),
                     path, g_strerror (errno));
    }
  close (fd);
  return ok;
}

gboolean
vk_qcow2_create_overlay (const char *path, const char *backing, const char *backing_fmt,
                         GError **error)
{
  gsize blen = strlen (backing);
  gsize flen = strlen (backing_fmt);
  if (blen == 0 || blen > 1023)
    return vk_fail (error, VK_ERROR_FAILED,
                    _("backing file name %s is too long for a qcow2 header (at most 1023 "
                      "bytes)"), backing);
  if (!g_str_equal (backing_fmt, "qcow2") && !g_str_equal (backing_fmt, "raw"))
    return vk_fail (error, VK_ERROR_FAILED,
                    _("cannot put an overlay on %s: format %s is neither qcow2 nor raw"),
                    backing, backing_fmt);
  guint64 size = 0;
  if (!virtual_size (backing, backing_fmt, &size, error))
    return FALSE;

  const guint64 per_l1 = QCOW2_CLUSTER * (QCOW2_CLUSTER / 8);
  guint64 l1_size = (size + per_l1 - 1) / per_l1;
  guint64 l1_clusters = MAX ((l1_size * 8 + QCOW2_CLUSTER - 1) / QCOW2_CLUSTER, 1);
  guint64 used = 3 + l1_clusters;

  /* cluster 0: header, extensions, backing file name */
  g_autofree guint8 *c0 = g_malloc0 (QCOW2_CLUSTER);
  gsize ext = QCOW2_HEADER_LEN;
  put_be32 (c0 + ext, QCOW2_EXT_BACKING_FORMAT);
  put_be32 (c0 + ext + 4, (guint32) flen);
  memcpy (c0 + ext + 8, backing_fmt, flen);
  ext += 8 + ((flen + 7) & ~(gsize) 7);
  ext += 8; /* end of extensions: type 0, length 0 */
  gsize name_off = ext;
  memcpy (c0 + name_off, backing, blen);
  put_be32 (c0 + 0, QCOW2_MAGIC);
  put_be32 (c0 + 4, 3);
  put_be64 (c0 + 8, name_off);
  put_be32 (c0 + 16, (guint32) blen);
  put_be32 (c0 + 20, QCOW2_CLUSTER_BITS);
  put_be64 (c0 + 24, size);
  put_be32 (c0 + 36, (guint32) l1_size);
  put_be64 (c0 + 40, 3 * QCOW2_CLUSTER);
  put_be64 (c0 + 48, 1 * QCOW2_CLUSTER);
  put_be32 (c0 + 56, 1);
  put_be32 (c0 + 96, 4);
  put_be32 (c0 + 100, QCOW2_HEADER_LEN);
  gsize c0_len = name_off + blen;

  /* cluster 1: refcount table; cluster 2: refcount block */
  guint8 rt[8];
  put_be64 (rt, 2 * QCOW2_CLUSTER);
  g_autofree guint8 *rb = g_malloc0 (used * 2);
  for (guint64 i = 0; i < used; i++)
    {
      guint16 one = GUINT16_TO_BE (1);
      memcpy (rb + i * 2, &one, 2);
    }

  /* Written beside `path` and put in place only when complete and synced,
   * never over an existing file: an interruption leaves no half overlay
   * at the VM's disk path. */
  if (g_file_test (path, G_FILE_TEST_EXISTS | G_FILE_TEST_IS_SYMLINK))
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("%s already exists; vmkeep never overwrites a disk"), path);
  int fd = -1;
  g_autofree char *tmp = vk_tmp_file_new (path, 0600, &fd, error);
  if (tmp == NULL)
    return FALSE;
  gboolean ok = pwrite (fd, c0, c0_len, 0) == (ssize_t) c0_len &&
                pwrite (fd, rt, sizeof rt, QCOW2_CLUSTER) == (ssize_t) sizeof rt &&
                pwrite (fd, rb, used * 2, 2 * QCOW2_CLUSTER) == (ssize_t) (used * 2) &&
                ftruncate (fd, (off_t) (used * QCOW2_CLUSTER)) == 0;
  if (!ok)
    {
      int e = errno;
      vk_tmp_file_abort (fd, tmp);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write overlay %s: %s"), path,
                   g_strerror (e));
      return FALSE;
    }
  return vk_file_commit_new (fd, tmp, path, error);
}
