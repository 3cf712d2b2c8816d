/* vmkeep — the blobs of an OCI image layout. See oci-blob.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "fileutil.h"
#include "oci.h"
#include "oci-blob.h"
#include "sha256.h"
#include "vk-error.h"

#define BLOCK ((gsize) 1 << 20)
#define SAMPLES 16

void
vk_blob_info_clear (VkBlobInfo *b)
{
  g_clear_pointer (&b->digest, g_free);
  g_clear_pointer (&b->content_sha256, g_free);
}

/* A failed read or write: `fmt` (a literal) names the file and errno `e`. */
#define io_fail(error, fmt, path, e) vk_fail (error, VK_ERROR_FAILED, fmt, path, g_strerror (e))

static gboolean
is_zero (const guint8 *p, gsize len)
{
  return len == 0 || (p[0] == 0 && memcmp (p, p + 1, len - 1) == 0);
}

/* Holes are made of zero runs of this size (a qcow2 cluster). */
#define HOLE ((gsize) 64 << 10)

/* pwrite `len` bytes at `off`, leaving each 64 KiB of zeros unwritten (a
 * hole once the file is truncated to its length). errno set on failure. */
static gboolean
write_sparse (int fd, const guint8 *data, gsize len, guint64 off)
{
  gsize start = 0;
  while (start < len)
    {
      while (start < len && is_zero (data + start, MIN (HOLE, len - start)))
        start += MIN (HOLE, len - start);
      gsize end = start;
      while (end < len && !is_zero (data + end, MIN (HOLE, len - end)))
        end += MIN (HOLE, len - end);
      if (end > start && !vk_write_full (fd, data + start, end - start,
                                         (gint64) (off + start), NULL))
        return FALSE;
      start = end;
    }
  return TRUE;
}

gboolean
vk_blob_zstd_ratio (const char *path, double *ratio, GError **error)
{
  *ratio = 1.0;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      return io_fail (error, _("cannot read %s: %s"), path, e);
    }
  g_autofree guint8 *buf = g_malloc (BLOCK);
  gsize cap = ZSTD_compressBound (BLOCK);
  g_autofree guint8 *out = g_malloc (cap);
  guint64 raw = 0, packed = 0;
  guint64 size = (guint64) st.st_size;
  guint n = size <= (guint64) SAMPLES * BLOCK ? (guint) ((size + BLOCK - 1) / BLOCK) : SAMPLES;
  for (guint i = 0; i < n; i++)
    {
      guint64 at = n <= 1 ? 0 : (size - MIN (size, BLOCK)) / (n - 1) * i;
      gssize got = vk_read_full (fd, buf, BLOCK, (gint64) at, NULL);
      if (got < 0)
        {
          int e = errno;
          close (fd);
          return io_fail (error, _("cannot read %s: %s"), path, e);
        }
      size_t c = ZSTD_compress (out, cap, buf, (size_t) got, VK_BLOB_ZSTD_LEVEL);
      if (ZSTD_isError (c))
        c = (size_t) got;
      raw += (guint64) got;
      packed += c;
    }
  close (fd);
  if (raw > 0)
    *ratio = (double) packed / (double) raw;
  return TRUE;
}

/* ---- writing ------------------------------------------------------------- */

typedef struct {
  const char *blobdir;
  char *tmp;
  int fd;
  VkSha256 *sha;         /* of the stored bytes */
  guint64 size;          /* stored bytes, also the write offset */
  gboolean sparse;       /* runs of zeros may stay holes */
} Put;

static gboolean
put_begin (Put *p, const char *blobdir, gboolean sparse, GError **error)
{
  *p = (Put) { blobdir, NULL, -1, vk_sha256_new (), 0, sparse };
  p->tmp = g_build_filename (blobdir, ".tmp-XXXXXX", NULL);
  p->fd = g_mkstemp_full (p->tmp, O_WRONLY | O_CLOEXEC, 0600);
  if (p->fd < 0)
    {
      int e = errno;
      return io_fail (error, _("cannot create a file in %s: %s"), blobdir, e);
    }
  return TRUE;
}

static gboolean
put_write (Put *p, const void *data, gsize len, GError **error)
{
  vk_sha256_update (p->sha, data, len);
  if (!(p->sparse ? write_sparse (p->fd, data, len, p->size)
                  : vk_write_full (p->fd, data, len, (gint64) p->size, NULL)))
    {
      int e = errno;
      return io_fail (error, _("cannot write %s: %s"), p->tmp, e);
    }
  p->size += len;
  return TRUE;
}

/* The temporary file synced and renamed to its digest; `out` filled. */
static gboolean
put_finish (Put *p, VkBlobInfo *out, GError **error)
{
  g_autofree char *hex = vk_sha256_hex (p->sha);
  g_autofree char *path = g_build_filename (p->blobdir, hex, NULL);
  if (ftruncate (p->fd, (off_t) p->size) < 0 || fsync (p->fd) < 0)
    {
      int e = errno;
      return io_fail (error, _("cannot write %s: %s"), p->tmp, e);
    }
  close (p->fd);
  p->fd = -1;
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_unlink (p->tmp);   /* the same bytes are there: a base shared by two disks */
  else if (rename (p->tmp, path) < 0)
    {
      int e = errno;
      return io_fail (error, _("cannot rename a blob to %s: %s"), path, e);
    }
  g_clear_pointer (&p->tmp, g_free);
  out->digest = g_strconcat ("sha256:", hex, NULL);
  out->size = p->size;
  return vk_fsync_parent (path, error);
}

static void
put_clear (Put *p)
{
  if (p->fd >= 0)
    close (p->fd);
  if (p->tmp)
    g_unlink (p->tmp);
  g_free (p->tmp);
  vk_sha256_free (p->sha);
}

gboolean
vk_blob_put_data (const char *blobdir, const void *data, gsize len, VkBlobInfo *out,
                  GError **error)
{
  Put p;
  gboolean ok = put_begin (&p, blobdir, FALSE, error) && put_write (&p, data, len, error) &&
                put_finish (&p, out, error);
  put_clear (&p);
  if (ok)
    {
      out->content_sha256 = g_strdup (out->digest + strlen ("sha256:"));
      out->content_size = len;
    }
  return ok;
}

/* Feed `len` bytes of content through the compressor into the blob
 * (`end`: the last of them). */
static gboolean
put_zstd (Put *p, ZSTD_CCtx *cc, guint8 *out, gsize cap, const guint8 *data, gsize len,
          gboolean end, GError **error)
{
  ZSTD_inBuffer in = { data, len, 0 };
  for (;;)
    {
      ZSTD_outBuffer o = { out, cap, 0 };
      size_t left = ZSTD_compressStream2 (cc, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError (left))
        return vk_fail (error, VK_ERROR_FAILED, _("zstd cannot compress into %s: %s"), p->tmp,
                        ZSTD_getErrorName (left));
      if (o.pos > 0 && !put_write (p, out, o.pos, error))
        return FALSE;
      if (end ? left == 0 : in.pos == in.size)
        return TRUE;
    }
}

gboolean
vk_blob_put_file (const char *blobdir, const char *src, gboolean compress, GCancellable *cancel,
                  VkBlobProgress cb, gpointer cb_data, VkBlobInfo *out, GError **error)
{
  int in = open (src, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      int e = errno;
      return vk_fail (error, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                      _("cannot read %s: %s"), src, g_strerror (e));
    }
  posix_fadvise (in, 0, 0, POSIX_FADV_SEQUENTIAL);
  Put p;
  g_autoptr(VkSha256) content = vk_sha256_new ();
  g_autofree guint8 *buf = g_malloc (BLOCK);
  gsize cap = ZSTD_CStreamOutSize ();
  g_autofree guint8 *zbuf = compress ? g_malloc (cap) : NULL;
  ZSTD_CCtx *cc = compress ? ZSTD_createCCtx () : NULL;
  if (cc)
    {
      ZSTD_CCtx_setParameter (cc, ZSTD_c_compressionLevel, VK_BLOB_ZSTD_LEVEL);
      /* ignored by a libzstd built without threads */
      ZSTD_CCtx_setParameter (cc, ZSTD_c_nbWorkers, (int) MIN (g_get_num_processors (), 4));
    }
  gboolean ok = put_begin (&p, blobdir, !compress, error);
  guint64 done = 0;
  while (ok)
    {
      gssize got = vk_read_full (in, buf, BLOCK, -1, cancel);
      if (got < 0)
        {
          int e = errno;
          ok = io_fail (error, _("cannot read %s: %s"), src, e);
          break;
        }
      vk_sha256_update (content, buf, (gsize) got);
      done += (guint64) got;
      ok = compress ? put_zstd (&p, cc, zbuf, cap, buf, (gsize) got, got == 0, error)
                    : put_write (&p, buf, (gsize) got, error);
      if (cb && got > 0)
        cb (done, cb_data);
      if (ok && g_cancellable_set_error_if_cancelled (cancel, error))
        ok = FALSE;
      if (got == 0)
        break;
    }
  close (in);
  if (cc)
    ZSTD_freeCCtx (cc);
  ok = ok && put_finish (&p, out, error);
  put_clear (&p);
  if (!ok)
    return FALSE;
  out->content_sha256 = vk_sha256_hex (content);
  out->content_size = done;
  out->zstd = compress;
  return TRUE;
}

/* ---- reading ------------------------------------------------------------- */

/* The blob open for reading, of exactly `size` bytes. */
static int
get_open (const char *path, const char *digest, guint64 size, const char *source,
          GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      int e = fd < 0 ? errno : 0;
      if (fd >= 0)
        close (fd);
      vk_refuse (error, source, _("blob %s is missing or not a regular file (%s)"), digest,
                 e ? g_strerror (e) : _("not a regular file"));
      return -1;
    }
  if ((guint64) st.st_size != size)
    {
      close (fd);
      vk_refuse (error, source, _("blob %s has %" PRIu64 " bytes, the manifest "
                                  "says %" PRIu64 ": it is truncated or was "
                                  "altered"), digest, (guint64) st.st_size, size);
      return -1;
    }
  return fd;
}

static gboolean
get_check_digest (VkSha256 *sha, const char *digest, const char *source, GError **error)
{
  g_autofree char *hex = vk_sha256_hex (sha);
  if (g_ascii_strcasecmp (hex, digest + strlen ("sha256:")) != 0)
    return vk_refuse (error, source, _("blob %s has the SHA-256 %s: it was altered or "
                                       "damaged; pull or copy it again"), digest, hex);
  return TRUE;
}

GBytes *
vk_blob_get_data (const char *path, const char *digest, guint64 size, guint64 limit,
                  const char *source, GError **error)
{
  if (size > limit)
    {
      vk_refuse (error, source, _("blob %s claims %" PRIu64 " bytes, more than "
                                  "%" PRIu64 " for this kind of file"), digest,
                 size, limit);
      return NULL;
    }
  int fd = get_open (path, digest, size, source, error);
  if (fd < 0)
    return NULL;
  guint8 *data = g_malloc (size + 1);
  gssize got = vk_read_full (fd, data, size, 0, NULL);
  close (fd);
  data[size] = 0;
  g_autoptr(VkSha256) sha = vk_sha256_new ();
  vk_sha256_update (sha, data, got > 0 ? (gsize) got : 0);
  if (got != (gssize) size || !get_check_digest (sha, digest, source, error))
    {
      if (got != (gssize) size)
        vk_refuse (error, source, _("cannot read blob %s"), digest);
      g_free (data);
      return NULL;
    }
  return g_bytes_new_take (data, size);
}

typedef struct {
  int out;
  const char *dst;
  guint64 size;          /* content so far */
  guint64 limit;
  VkSha256 *sha;         /* of the content */
  const char *digest;
  const char *source;
} Get;

static gboolean
get_write (Get *g, const guint8 *data, gsize len, GError **error)
{
  if (g->size + len > g->limit)
    return vk_refuse (error, g->source, _("blob %s holds more than the %" PRIu64
                                          " bytes this file may have"), g->digest, g->limit);
  vk_sha256_update (g->sha, data, len);
  if (!write_sparse (g->out, data, len, g->size))
    {
      int e = errno;
      return io_fail (error, _("cannot write %s: %s"), g->dst, e);
    }
  g->size += len;
  return TRUE;
}

/* The blob's bytes in `buf` (`len`) through the decompressor. */
static gboolean
get_unzstd (Get *g, ZSTD_DCtx *dc, guint8 *out, gsize cap, const guint8 *buf, gsize len,
            size_t *left, GError **error)
{
  ZSTD_inBuffer in = { buf, len, 0 };
  while (in.pos < in.size)
    {
      ZSTD_outBuffer o = { out, cap, 0 };
      *left = ZSTD_decompressStream (dc, &o, &in);
      if (ZSTD_isError (*left))
        return vk_refuse (error, g->source, _("blob %s does not decompress (%s): it was "
                                              "altered or damaged"), g->digest,
                          ZSTD_getErrorName (*left));
      if (o.pos > 0 && !get_write (g, out, o.pos, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
get_copy (Get *g, int in, guint64 size, gboolean zstd, GCancellable *cancel, VkBlobProgress cb,
          gpointer cb_data, GError **error)
{
  g_autoptr(VkSha256) stored = vk_sha256_new ();
  g_autofree guint8 *buf = g_malloc (BLOCK);
  gsize cap = ZSTD_DStreamOutSize ();
  g_autofree guint8 *zbuf = zstd ? g_malloc (cap) : NULL;
  ZSTD_DCtx *dc = zstd ? ZSTD_createDCtx () : NULL;
  size_t left = 0;
  guint64 done = 0;
  gboolean ok = TRUE;
  while (ok && done < size)
    {
      gssize got = vk_read_full (in, buf, MIN (BLOCK, size - done), -1, cancel);
      if (got <= 0)
        {
          int e = got < 0 ? errno : EIO;
          ok = vk_refuse (error, g->source, _("cannot read blob %s: %s"), g->digest,
                          g_strerror (e));
          break;
        }
      vk_sha256_update (stored, buf, (gsize) got);
      done += (guint64) got;
      ok = zstd ? get_unzstd (g, dc, zbuf, cap, buf, (gsize) got, &left, error)
                : get_write (g, buf, (gsize) got, error);
      if (cb)
        cb (done, cb_data);
      if (ok && g_cancellable_set_error_if_cancelled (cancel, error))
        ok = FALSE;
    }
  if (dc)
    ZSTD_freeDCtx (dc);
  /* the digest first: a truncated or altered blob is named as such */
  if (ok && !get_check_digest (stored, g->digest, g->source, error))
    return FALSE;
  if (ok && zstd && left != 0)
    return vk_refuse (error, g->source, _("blob %s ends inside a zstd frame"), g->digest);
  return ok;
}

gboolean
vk_blob_get_file (const char *path, const char *digest, guint64 size, gboolean zstd,
                  const char *dst, guint64 limit, const char *source, GCancellable *cancel,
                  VkBlobProgress cb, gpointer cb_data, char **content_sha256,
                  guint64 *content_size, GError **error)
{
  if (!zstd && size > limit)
    return vk_refuse (error, source, _("blob %s claims %" PRIu64 " bytes, more "
                                       "than the %" PRIu64 " this file may have"),
                      digest, size, limit);
  int in = get_open (path, digest, size, source, error);
  if (in < 0)
    return FALSE;
  posix_fadvise (in, 0, 0, POSIX_FADV_SEQUENTIAL);
  int out = open (dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0)
    {
      int e = errno;
      close (in);
      return io_fail (error, _("cannot create %s: %s"), dst, e);
    }
  g_autoptr(VkSha256) sha = vk_sha256_new ();
  Get g = { out, dst, 0, limit, sha, digest, source };
  gboolean ok = get_copy (&g, in, size, zstd, cancel, cb, cb_data, error);
  close (in);
  if (ok && (ftruncate (out, (off_t) g.size) < 0 || fsync (out) < 0))
    ok = io_fail (error, _("cannot write %s: %s"), dst, errno);
  close (out);
  if (!ok)
    {
      g_unlink (dst);
      return FALSE;
    }
  *content_sha256 = vk_sha256_hex (sha);
  *content_size = g.size;
  return TRUE;
}
