/* vmkeep — the streaming tar writer and reader of tar.h, on libarchive.
 *
 * libarchive reads and writes the format (headers, pax records, GNU
 * variants, sparse maps); what stays here is vmkeep's policy on top of it:
 * streaming to and from the callers' file descriptors (libarchive never
 * touches the disk), SHA-256 on the way, cancellation, the member names,
 * types and sizes an export may hold, and the difference between a stream
 * that was cut short and one that is damaged. */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "sha256.h"
#include "validate.h"
#include "tar.h"
#include "vk-error.h"

/* Large enough that a multi-GiB state streams at disk speed. */
#define CHUNK (1024 * 1024)
/* The reader makes holes per page: finer gains nothing on any filesystem. */
#define HOLE 4096
/* The writer keeps a hole only from this size on: shorter ones travel as
 * zeros, which bounds the sparse map (one entry per 64 KiB at worst) and
 * costs nothing on import, where zero pages become holes again. */
#define MIN_HOLE (64 * 1024)
/* The reader's last input chunks, kept for header_typeflag(): the header
 * libarchive just parsed lies in the last two, in the last three when it
 * looked one block further (a ustar hard link with data). Few, as each
 * more costs cache misses on a multi-GiB import. */
#define RING 3
#define NAME_MAX_LEN 4096
/* No export holds a member of an exbibyte; a size beyond is damage, and
 * refusing it keeps every offset far from int64 overflow. */
#define MEMBER_MAX (G_GUINT64_CONSTANT (1) << 60)

typedef struct archive_entry VkArchiveEntry;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkArchiveEntry, archive_entry_free)

/* Not const: in .bss, not 1 MiB of the binary. Never written. */
static guint8 zeros[CHUNK];

/* libarchive's message for a failed call. Messages must be UTF-8 (--json
 * prints them); libarchive's are English, but may carry strerror(). */
static char *
archive_why (struct archive *a)
{
  const char *s = archive_error_string (a);
  return g_utf8_make_valid (s ? s : "?", -1);
}

/* A name from the stream as messages show it: bytes that are not UTF-8
 * and control characters as \xNN, so that a message stays UTF-8 (--json
 * prints it) whatever bytes an image's names hold. */
static char *
shown_name (const char *name)
{
  /* vk_str_printable keeps backslashes, newlines and tabs, which a name
   * shown in one line must not: those first, then the rest */
  GString *plain = g_string_sized_new (strlen (name));
  for (const char *c = name; *c; c++)
    if (*c == '\\')
      g_string_append (plain, "\\\\");
    else if (*c == '\n')
      g_string_append (plain, "\\n");
    else if (*c == '\t')
      g_string_append (plain, "\\t");
    else
      g_string_append_c (plain, *c);
  g_autofree char *escaped = g_string_free (plain, FALSE);
  return vk_str_printable (escaped);
}

static gboolean
is_cancelled (GCancellable *cancel)
{
  return g_cancellable_is_cancelled (cancel);
}

static gboolean
write_all (int fd, const void *data, gsize len, const char *dest, GCancellable *cancel,
           GError **error)
{
  if (vk_write_full (fd, data, len, -1, cancel))
    return TRUE;
  int e = errno;
  if (e == ECANCELED)
    g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("interrupted"));
  else
    g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                 e == EPIPE ? _("cannot write to %s: the reading end was closed (%s)")
                            : _("cannot write to %s: %s"), dest, g_strerror (e));
  return FALSE;
}

/* -1 with errno set on error; errno EINTR means cancelled. `at` < 0:
 * read(2) from the current offset, else pread(2) at `at`. */
static gssize
read_full (int fd, guint8 *buf, gsize len, gint64 at, GCancellable *cancel)
{
  gssize n = vk_read_full (fd, buf, len, at, cancel);
  if (n < 0 && errno == ECANCELED)
    errno = EINTR;
  return n;
}

static gboolean
is_zero (const guint8 *p, gsize len)
{
  return len == 0 || (p[0] == 0 && memcmp (p, p + 1, len - 1) == 0);
}

gboolean
vk_tar_name_is_safe (const char *name)
{
  if (name == NULL || *name == '\0' || *name == '/' || strlen (name) > NAME_MAX_LEN)
    return FALSE;
  for (const char *p = name; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f || *p == '\\')
      return FALSE;
  g_auto(GStrv) parts = g_strsplit (name, "/", -1);
  for (gsize i = 0; parts[i]; i++)
    if (*parts[i] == '\0' || g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      return FALSE;
  return TRUE;
}

/* ---- writer ------------------------------------------------------------ */

struct _VkTarWriter {
  struct archive *a;
  int fd;
  char *dest;
  guint64 offset;
  VkTarProgress progress;
  gpointer progress_data;
  GCancellable *cancel;
  int write_errno;       /* of the write(2) that failed */
  gboolean interrupted;
  gboolean finished;
  /* A call failed, or the writer is freed unfinished: from then on
   * nothing reaches fd. libarchive would otherwise pad a half-written
   * member with zeros and close the archive properly on free, and a
   * cut-short export would look whole. */
  gboolean abandoned;
};

void
vk_tar_writer_set_progress (VkTarWriter *w, VkTarProgress cb, gpointer data)
{
  w->progress = cb;
  w->progress_data = data;
}

void
vk_tar_writer_set_cancel (VkTarWriter *w, GCancellable *cancel)
{
  w->cancel = cancel;
}

guint64
vk_tar_writer_offset (const VkTarWriter *w)
{
  return w->offset;
}

static la_ssize_t
writer_write (struct archive *a, void *data, const void *buf, size_t len)
{
  VkTarWriter *w = data;
  const guint8 *p = buf;
  gsize left = len;

  if (w->abandoned)
    {
      archive_set_error (a, ECANCELED, "the archive was abandoned");
      return -1;
    }
  while (left > 0)
    {
      ssize_t n = write (w->fd, p, left);
      if (n < 0 && errno == EINTR)
        {
          if (is_cancelled (w->cancel))
            {
              w->interrupted = TRUE;
              archive_set_error (a, EINTR, "interrupted");
              return -1;
            }
          continue;
        }
      if (n < 0)
        {
          w->write_errno = errno;
          archive_set_error (a, errno, "write error");
          return -1;
        }
      p += n;
      left -= (gsize) n;
    }
  w->offset += len;
  return (la_ssize_t) len;
}

VkTarWriter *
vk_tar_writer_new (int fd, const char *dest)
{
  VkTarWriter *w = g_new0 (VkTarWriter, 1);
  w->fd = fd;
  w->dest = g_strdup (dest);
  w->a = archive_write_new ();
  if (w->a == NULL)
    g_error ("out of memory");
  /* "restricted" pax: plain ustar headers, a pax header only for what
   * ustar cannot say, which every tar reader understands. No blocking:
   * libarchive would copy all member data into its block buffer (the
   * headers put the data off the block boundaries); unblocked, each chunk
   * goes from the caller's buffer to fd, and finish pads the last record. */
  if (archive_write_set_format_pax_restricted (w->a) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block (w->a, 0) != ARCHIVE_OK ||
      archive_write_open (w->a, w, NULL, writer_write, NULL) != ARCHIVE_OK)
    w->abandoned = TRUE;   /* reported by the first call */
  return w;
}

void
vk_tar_writer_free (VkTarWriter *w)
{
  if (w == NULL)
    return;
  if (!w->finished)
    w->abandoned = TRUE;
  archive_write_free (w->a);
  g_free (w->dest);
  g_free (w);
}

/* The error of the libarchive call that just failed. */
static gboolean
writer_fail (VkTarWriter *w, GError **error)
{
  w->abandoned = TRUE;
  if (w->interrupted)
    g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("interrupted"));
  else if (w->write_errno != 0)
    g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                 w->write_errno == EPIPE ? _("cannot write to %s: the reading end was closed (%s)")
                                         : _("cannot write to %s: %s"),
                 w->dest, g_strerror (w->write_errno));
  else
    {
      g_autofree char *why = archive_why (w->a);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write the archive to %s: %s"),
                   w->dest, why);
    }
  return FALSE;
}

static gboolean
writer_usable (VkTarWriter *w, GError **error)
{
  if (!w->abandoned && !w->finished)
    return TRUE;
  g_autofree char *why = archive_why (w->a);
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
               _("internal error: the archive for %s cannot take more members after an error "
                 "or its end (%s)"), w->dest, why);
  return FALSE;
}

static gboolean
writer_cancelled (VkTarWriter *w, GError **error)
{
  if (!is_cancelled (w->cancel))
    return FALSE;
  w->abandoned = TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("interrupted"));
  return TRUE;
}

typedef struct {
  guint64 offset;
  guint64 length;
} Extent;

static gboolean
write_header (VkTarWriter *w, const char *name, guint64 size, guint mode, gint64 mtime,
              const GArray *extents, GError **error)
{
  if (!writer_usable (w, error))
    return FALSE;
  if (!vk_tar_name_is_safe (name))
    return vk_fail (error, VK_ERROR_FAILED,
                    _("internal error: '%s' is not a valid archive member name"), name);
  g_autoptr(VkArchiveEntry) e = archive_entry_new2 (w->a);
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, mode & 07777);
  archive_entry_set_uid (e, 0);
  archive_entry_set_gid (e, 0);
  archive_entry_set_mtime (e, MAX (mtime, 0), 0);
  archive_entry_set_size (e, (la_int64_t) size);
  if (extents)
    {
      for (guint i = 0; i < extents->len; i++)
        {
          const Extent *x = &g_array_index (extents, Extent, i);
          archive_entry_sparse_add_entry (e, (la_int64_t) x->offset, (la_int64_t) x->length);
        }
      /* all hole: an empty extent at the end says so, as GNU tar writes it */
      if (extents->len == 0)
        archive_entry_sparse_add_entry (e, (la_int64_t) size, 0);
    }
  /* ARCHIVE_WARN too: a name libarchive could not store as given */
  if (archive_write_header (w->a, e) != ARCHIVE_OK)
    return writer_fail (w, error);
  return TRUE;
}

static gboolean
writer_data (VkTarWriter *w, const void *data, gsize len, GError **error)
{
  const guint8 *p = data;
  while (len > 0)
    {
      la_ssize_t n = archive_write_data (w->a, p, len);
      if (n < 0)
        return writer_fail (w, error);
      if (n == 0)
        {
          w->abandoned = TRUE;
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("internal error: the archive for %s took less data than announced"),
                       w->dest);
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  if (w->progress)
    w->progress (w->offset, w->progress_data);
  return TRUE;
}

gboolean
vk_tar_writer_add_data (VkTarWriter *w, const char *name, const void *data, gsize len,
                        guint mode, gint64 mtime, GError **error)
{
  const guint8 *p = data;
  if (!write_header (w, name, len, mode, mtime, NULL, error))
    return FALSE;
  for (gsize done = 0; done < len;)
    {
      gsize n = MIN (len - done, (gsize) CHUNK);
      if (writer_cancelled (w, error) || !writer_data (w, p + done, n, error))
        return FALSE;
      done += n;
    }
  return TRUE;
}

static gboolean
source_ended (const char *src, guint64 got, guint64 size, GError **error)
{
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
               _("%s ended after %" PRIu64 " of %" PRIu64 " bytes: it changed while "
                 "being exported; make sure nothing writes it and retry"), src, got, size);
  return FALSE;
}

/* Where the `size` bytes of `fd` from offset `start` hold data, when they
 * hold holes worth keeping too; NULL when they do not, or when fd cannot
 * say (a pipe, a file system without SEEK_HOLE): the member is then read
 * sequentially, as a plain one. */
static gboolean
source_extents (int fd, const char *src, guint64 size, gint64 *start_out, GArray **out,
                GError **error)
{
  struct stat st;
  *out = NULL;
  *start_out = -1;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return TRUE;
  off_t start = lseek (fd, 0, SEEK_CUR);
  if (start < 0)
    return TRUE;
  /* SEEK_HOLE calls everything after the end a hole: a file shorter than
   * its member must fail here, not travel padded with zeros */
  if ((guint64) st.st_size < (guint64) start + size)
    return source_ended (src, (guint64) MAX ((gint64) st.st_size - (gint64) start, 0), size,
                         error);
  /* every block allocated (a raw save, most disks): no hole to look for */
  if (size < MIN_HOLE || (guint64) st.st_blocks * 512 >= (guint64) st.st_size)
    return TRUE;

  g_autoptr(GArray) ext = g_array_new (FALSE, FALSE, sizeof (Extent));
  guint64 end = (guint64) start + size;
  guint64 pos = (guint64) start;
  gboolean known = TRUE;
  while (pos < end)
    {
      off_t d = lseek (fd, (off_t) pos, SEEK_DATA);
      if (d < 0 && errno == ENXIO)
        break;   /* a hole up to the end of the file */
      off_t h = d < 0 ? -1 : lseek (fd, d, SEEK_HOLE);
      if (h < 0)
        {
          known = FALSE;
          break;
        }
      if ((guint64) d >= end)
        break;
      Extent x = { (guint64) d - (guint64) start, MIN ((guint64) h, end) - (guint64) d };
      Extent *last = ext->len ? &g_array_index (ext, Extent, ext->len - 1) : NULL;
      if (last && x.offset - (last->offset + last->length) < MIN_HOLE)
        last->length = x.offset + x.length - last->offset;
      else if (last == NULL && x.offset < MIN_HOLE)
        {
          x.length += x.offset;
          x.offset = 0;
          g_array_append_val (ext, x);
        }
      else
        g_array_append_val (ext, x);
      pos = MIN ((guint64) h, end);
    }
  /* SEEK_DATA/SEEK_HOLE moved the offset */
  if (lseek (fd, start, SEEK_SET) < 0 || !known)
    return TRUE;
  if (ext->len > 0)
    {
      Extent *last = &g_array_index (ext, Extent, ext->len - 1);
      if (size - (last->offset + last->length) < MIN_HOLE)
        last->length = size - last->offset;
      if (ext->len == 1 && last->offset == 0 && last->length == size)
        return TRUE;
    }
  *start_out = start;
  *out = g_steal_pointer (&ext);
  return TRUE;
}

/* A hole of a sparse member: libarchive's pax writer takes a sparse
 * member's logical content and drops what falls in a hole, so the zeros
 * cost no I/O; they are hashed, as sha256sum reads them. */
static gboolean
writer_zeros (VkTarWriter *w, guint64 len, VkSha256 *sha, GError **error)
{
  while (len > 0)
    {
      gsize n = (gsize) MIN (len, (guint64) CHUNK);
      if (writer_cancelled (w, error))
        return FALSE;
      if (sha)
        vk_sha256_update (sha, zeros, n);
      if (!writer_data (w, zeros, n, error))
        return FALSE;
      len -= n;
    }
  return TRUE;
}

/* `len` bytes of fd at member offset `pos` (from its current offset when
 * `start` < 0, else at `start` + `pos`). */
static gboolean
writer_copy (VkTarWriter *w, int fd, const char *src, gint64 start, guint64 pos, guint64 len,
             guint64 size, guint8 *buf, VkSha256 *sha, GError **error)
{
  guint64 end = pos + len;
  while (pos < end)
    {
      if (writer_cancelled (w, error))
        return FALSE;
      gsize want = (gsize) MIN (end - pos, (guint64) CHUNK);
      gssize n = read_full (fd, buf, want, start < 0 ? -1 : start + (gint64) pos, w->cancel);
      if (n < 0)
        {
          int e = errno;
          w->abandoned = TRUE;
          if (e == EINTR && is_cancelled (w->cancel))
            g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("interrupted"));
          else
            g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), src,
                         g_strerror (e));
          return FALSE;
        }
      if ((gsize) n < want)
        {
          w->abandoned = TRUE;
          return source_ended (src, pos + (guint64) n, size, error);
        }
      if (sha)
        vk_sha256_update (sha, buf, (gsize) n);
      if (!writer_data (w, buf, (gsize) n, error))
        return FALSE;
      pos += (guint64) n;
    }
  return TRUE;
}

gboolean
vk_tar_writer_add_fd (VkTarWriter *w, const char *name, int fd, const char *src,
                      guint64 size, guint mode, gint64 mtime, char **sha256_out,
                      GError **error)
{
  g_autoptr(GArray) extents = NULL;
  gint64 start = -1;
  if (!writer_usable (w, error) || !source_extents (fd, src, size, &start, &extents, error) ||
      !write_header (w, name, size, mode, mtime, extents, error))
    return FALSE;
  g_autoptr(VkSha256) sha = sha256_out ? vk_sha256_new () : NULL;
  g_autofree guint8 *buf = g_malloc (CHUNK);
  if (extents == NULL)
    {
      if (!writer_copy (w, fd, src, -1, 0, size, size, buf, sha, error))
        return FALSE;
    }
  else
    {
      guint64 pos = 0;
      for (guint i = 0; i <= extents->len; i++)
        {
          /* the last round is the hole after the last extent */
          Extent x = { size, 0 };
          if (i < extents->len)
            x = g_array_index (extents, Extent, i);
          if (!writer_zeros (w, x.offset - pos, sha, error) ||
              !writer_copy (w, fd, src, start, x.offset, x.length, size, buf, sha, error))
            return FALSE;
          pos = x.offset + x.length;
        }
      /* where a sequential read would have left it */
      lseek (fd, (off_t) (start + (gint64) size), SEEK_SET);
    }
  if (sha256_out)
    *sha256_out = vk_sha256_hex (sha);
  return TRUE;
}

gboolean
vk_tar_writer_finish (VkTarWriter *w, GError **error)
{
  if (!writer_usable (w, error))
    return FALSE;
  if (archive_write_close (w->a) != ARCHIVE_OK)
    return writer_fail (w, error);
  /* to a whole record, as tar(1) writes it */
  gsize pad = (gsize) ((VK_TAR_RECORD - w->offset % VK_TAR_RECORD) % VK_TAR_RECORD);
  if (pad > 0 && !write_all (w->fd, zeros, pad, w->dest, w->cancel, error))
    {
      w->abandoned = TRUE;
      return FALSE;
    }
  w->offset += pad;
  w->finished = TRUE;
  return TRUE;
}

/* ---- reader ------------------------------------------------------------ */

typedef struct {
  guint8 *data;
  guint64 at;          /* stream offset of data[0] */
  gsize len;
} Chunk;

struct _VkTarReader {
  int fd;
  char *source;
  struct archive *a;
  struct archive_entry *entry;
  Chunk ring[RING];    /* the last chunks read; libarchive reads from them */
  guint ring_next;
  guint64 offset;      /* bytes read from fd */
  gboolean at_eof;     /* read(2) returned 0 */
  gboolean past_eof;   /* libarchive wanted more than there was: truncated */
  gboolean interrupted;
  int read_errno;
  GError *failure;     /* once set, every later call fails with it */
  gboolean ended;
  gboolean in_data;    /* the current member's data is not read to its end */
  guint64 at;          /* where the current member's headers start */
  char *current;       /* current member's name, for messages (shown_name) */
  guint64 size;        /* current member's size */
  guint64 data_size;   /* bytes of data it carries (less when sparse) */
  VkTarProgress progress;
  gpointer progress_data;
  GCancellable *cancel;
};

void
vk_tar_reader_set_progress (VkTarReader *r, VkTarProgress cb, gpointer data)
{
  r->progress = cb;
  r->progress_data = data;
}

void
vk_tar_reader_set_cancel (VkTarReader *r, GCancellable *cancel)
{
  r->cancel = cancel;
}

VkTarReader *
vk_tar_reader_new (int fd, const char *source)
{
  VkTarReader *r = g_new0 (VkTarReader, 1);
  r->fd = fd;
  r->source = g_strdup (source);
  return r;
}

void
vk_tar_reader_free (VkTarReader *r)
{
  if (r == NULL)
    return;
  if (r->a)
    archive_read_free (r->a);
  if (r->entry)
    archive_entry_free (r->entry);
  for (guint i = 0; i < RING; i++)
    g_free (r->ring[i].data);
  g_clear_error (&r->failure);
  g_free (r->source);
  g_free (r->current);
  g_free (r);
}

void
vk_tar_entry_free (VkTarEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->name);
  g_free (e);
}

/* libarchive's input: whole chunks, strictly sequential (no skip or seek
 * callback, so a pipe works), cancellable. */
static la_ssize_t
reader_read (struct archive *a, void *data, const void **buf)
{
  VkTarReader *r = data;
  *buf = NULL;
  if (r->at_eof)
    {
      r->past_eof = TRUE;
      return 0;
    }
  if (is_cancelled (r->cancel))
    {
      r->interrupted = TRUE;
      archive_set_error (a, EINTR, "interrupted");
      return -1;
    }
  Chunk *c = &r->ring[r->ring_next];
  r->ring_next = (r->ring_next + 1) % RING;
  if (c->data == NULL)
    c->data = g_malloc (CHUNK);
  c->len = 0;
  gssize n = read_full (r->fd, c->data, CHUNK, -1, r->cancel);
  if (n < 0)
    {
      int e = errno;
      if (e == EINTR)
        r->interrupted = TRUE;
      else
        r->read_errno = e;
      archive_set_error (a, e, "read error");
      return -1;
    }
  if (n < CHUNK)
    r->at_eof = TRUE;
  if (n == 0)
    r->past_eof = TRUE;
  c->at = r->offset;
  c->len = (gsize) n;
  r->offset += (guint64) n;
  *buf = c->data;
  return (la_ssize_t) n;
}

/* Keep `e` as the answer to this and every later call. */
static gboolean
reader_set_failure (VkTarReader *r, GError *e, GError **error)
{
  if (r->failure == NULL)
    r->failure = g_error_copy (e);
  g_propagate_error (error, e);
  return FALSE;
}

static gboolean
reader_refuse (VkTarReader *r, GError **error, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
reader_refuse (VkTarReader *r, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return reader_set_failure (r, g_error_new_literal (VK_ERROR, VK_ERROR_REFUSED, msg), error);
}

/* Why the libarchive call that just failed failed, when it was not the
 * stream's content: cancelled, an I/O error, or the input ended first
 * (`where`). NULL for damage. */
static GError *
reader_input_problem (VkTarReader *r, const char *where)
{
  if (r->interrupted)
    return g_error_new (VK_ERROR, VK_ERROR_FAILED, _("interrupted"));
  if (r->read_errno != 0)
    return g_error_new (VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), r->source,
                        g_strerror (r->read_errno));
  if (r->past_eof)
    return g_error_new (VK_ERROR, VK_ERROR_REFUSED,
                        _("%s is truncated: it ends %s (after %" PRIu64 " bytes); the export "
                          "was cut short, copy it again"), r->source, where, r->offset);
  return NULL;
}

static char *
where_in_member (VkTarReader *r)
{
  return g_strdup_printf (_("inside member %s"), r->current ? r->current : "?");
}

/* A data read failed. */
static gboolean
reader_data_failed (VkTarReader *r, GError **error)
{
  g_autofree char *where = where_in_member (r);
  GError *e = reader_input_problem (r, where);
  if (e)
    return reader_set_failure (r, e, error);
  g_autofree char *why = archive_why (r->a);
  return reader_refuse (r, error, _("%s: member '%s' at byte %" PRIu64 " is damaged (%s); "
                                    "refusing the stream"), r->source,
                        r->current ? r->current : "?", r->at, why);
}

static gboolean
reader_open (VkTarReader *r, GError **error)
{
  r->a = archive_read_new ();
  r->entry = archive_entry_new ();
  if (r->a == NULL || r->entry == NULL)
    g_error ("out of memory");
  /* tar and nothing else: no other format, no decompression */
  if (archive_read_support_format_tar (r->a) == ARCHIVE_OK &&
      archive_read_open (r->a, r, NULL, reader_read, NULL) == ARCHIVE_OK)
    return TRUE;
  GError *e = reader_input_problem (r, _("inside its first header"));
  if (e == NULL)
    e = g_error_new (VK_ERROR, VK_ERROR_REFUSED,
                     _("%s: the stream does not start with a valid tar header (a wrong checksum "
                       "or malformed fields); it is damaged or is not a tar archive"), r->source);
  return reader_set_failure (r, e, error);
}

static gboolean
reader_bad_map (VkTarReader *r, GError **error)
{
  return reader_refuse (r, error, _("%s: member '%s' has a damaged sparse map (its data does not "
                                    "fit its size or map); refusing the stream"),
                        r->source, r->current ? r->current : "?");
}

/* What may follow the end-of-archive blocks: tar(1) pads to its record
 * size (10 KiB by default, up to a few MiB with -b); an endless source
 * (/dev/zero, a writer that never stops) must not keep the import
 * reading forever. */
#define DRAIN_MAX ((guint64) 16 << 20)

/* After the end-of-archive blocks: read what is left so the writer on the
 * other end of a pipe is not killed by SIGPIPE. */
static void
reader_drain (VkTarReader *r)
{
  g_autofree guint8 *buf = g_malloc (CHUNK);
  guint64 left = DRAIN_MAX;
  while (!r->at_eof && left > 0 && !is_cancelled (r->cancel))
    {
      ssize_t n = read (r->fd, buf, MIN ((guint64) CHUNK, left));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return;
      r->offset += (guint64) n;
      left -= (guint64) n;
    }
}

/* libarchive ends the archive at the first zero block and at the end of
 * the input; an export ends with two zero blocks, and anything short of
 * them is a stream that was cut (or damaged). `at` is where the end was
 * found. */
static gboolean
reader_end (VkTarReader *r, guint64 at, GError **error)
{
  guint64 pos = (guint64) archive_filter_bytes (r->a, 0);
  if (pos >= at + 2 * VK_TAR_BLOCK)
    {
      r->ended = TRUE;
      reader_drain (r);
      return TRUE;
    }
  if (pos == at + VK_TAR_BLOCK && !r->past_eof)
    return reader_refuse (r, error, _("%s: a zero block at byte %" PRIu64 " is followed by "
                                      "data; the stream is damaged"), r->source, at);
  r->past_eof = TRUE;
  g_autofree char *where = NULL;
  if (pos != at)
    where = g_strdup (_("inside its end-of-archive marker"));
  else if (r->current)
    where = g_strdup_printf (_("after member %s, before its end-of-archive marker"), r->current);
  else
    where = g_strdup (_("before its end-of-archive marker"));
  return reader_set_failure (r, reader_input_problem (r, where), error);
}

/* Bytes of the stream at [at, at + len), if still in the ring. */
static gboolean
stream_bytes (const VkTarReader *r, guint64 at, guint8 *out, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      gboolean found = FALSE;
      for (guint k = 0; k < RING && !found; k++)
        {
          const Chunk *c = &r->ring[k];
          if (c->data && at + i >= c->at && at + i < c->at + c->len)
            {
              out[i] = c->data[at + i - c->at];
              found = TRUE;
            }
        }
      if (!found)
        return FALSE;
    }
  return TRUE;
}

/* The type flag of the member header libarchive just read, -1 when the
 * block there is no header. libarchive reads every type it does not know
 * as a regular file, as POSIX asks of an extractor, and has no call for
 * the flag; vmkeep accepts only the types it names, so it looks itself:
 * after archive_read_next_header() the member's own header (the last of
 * its headers) is the block right before the read position. Not so for a
 * sparse member, whose map follows its header: libarchive makes one of a
 * regular file, or types a link, device or FIFO as such anyway. */
static int
header_typeflag (VkTarReader *r)
{
  guint64 end = (guint64) archive_filter_bytes (r->a, 0);
  guint8 magic[5];
  guint8 type;
  if (end < VK_TAR_BLOCK ||
      !stream_bytes (r, end - VK_TAR_BLOCK + 257, magic, sizeof magic) ||
      memcmp (magic, "ustar", sizeof magic) != 0 ||
      !stream_bytes (r, end - VK_TAR_BLOCK + 156, &type, 1))
    return -1;
  return type;
}

/* NULL when the current entry, with type flag `t` (-1: not known, a
 * sparse member), is a regular file or a directory, else what it is, for
 * a message. */
static const char *
entry_kind_problem (struct archive_entry *e, int t)
{
  int ft = archive_entry_filetype (e);

  /* the flag first: libarchive leaves a hard link without data untyped */
  if (t == '1' || archive_entry_hardlink (e) != NULL)
    return _("a hard link");
  if (t == '2' || ft == AE_IFLNK || archive_entry_symlink (e) != NULL)
    return _("a symbolic link");
  if (t == '3' || t == '4' || ft == AE_IFCHR || ft == AE_IFBLK)
    return _("a device node");
  if (t == '6' || ft == AE_IFIFO)
    return _("a FIFO");
  gboolean plain = t == '0' || t == '\0' || t == '7';
  if (ft == AE_IFREG && (plain || t == -1))
    return NULL;
  /* a plain type with a trailing slash is how old tars write a directory */
  if (ft == AE_IFDIR && (plain || t == '5'))
    return NULL;
  return _("of an unknown type");
}

gboolean
vk_tar_reader_next (VkTarReader *r, VkTarEntry **entry, GError **error)
{
  *entry = NULL;
  if (r->failure)
    {
      g_propagate_error (error, g_error_copy (r->failure));
      return FALSE;
    }
  if (r->ended)
    return TRUE;
  if (r->a == NULL && !reader_open (r, error))
    return FALSE;
  for (;;)
    {
      if (r->in_data)
        {
          /* libarchive reads past the rest (it cannot seek: no callback) */
          if (archive_read_data_skip (r->a) != ARCHIVE_OK)
            return reader_data_failed (r, error);
          r->in_data = FALSE;
        }
      g_autofree char *prev = g_strdup (r->current);
      r->at = (guint64) archive_filter_bytes (r->a, 0);
      int rc = archive_read_next_header2 (r->a, r->entry);
      if (rc == ARCHIVE_EOF)
        return reader_end (r, r->at, error);
      if (rc != ARCHIVE_OK)
        {
          g_autofree char *where = prev ? g_strdup_printf (_("inside the header after member %s"),
                                                           prev)
                                        : g_strdup (_("inside its first header"));
          GError *e = reader_input_problem (r, where);
          if (e)
            return reader_set_failure (r, e, error);
          /* libarchive's only retryable header error is a bad checksum */
          if (rc == ARCHIVE_RETRY && prev)
            return reader_refuse (r, error, _("%s: the tar header at byte %" PRIu64 ", after "
                                              "member %s, has a wrong checksum; the stream is "
                                              "damaged"), r->source, r->at, prev);
          if (rc == ARCHIVE_RETRY)
            return reader_refuse (r, error, _("%s: the tar header at byte %" PRIu64 " has a "
                                              "wrong checksum; the stream is damaged or is not "
                                              "a tar archive"), r->source, r->at);
          const char *name = archive_entry_pathname (r->entry);
          g_autofree char *why = archive_why (r->a);
          if (name && *name)
            {
              g_autofree char *shown = shown_name (name);
              return reader_refuse (r, error, _("%s: member '%s' at byte %" PRIu64 " is damaged "
                                                "(%s); refusing the stream"), r->source, shown,
                                    r->at, why);
            }
          if (prev)
            return reader_refuse (r, error, _("%s: the member at byte %" PRIu64 ", after member "
                                              "%s, is damaged (%s); refusing the stream"),
                                  r->source, r->at, prev, why);
          return reader_refuse (r, error, _("%s: the member at byte %" PRIu64 " is damaged "
                                            "(%s); refusing the stream"), r->source, r->at, why);
        }
      r->in_data = TRUE;

      const char *name = archive_entry_pathname (r->entry);
      if (name == NULL)
        name = "";
      g_autofree char *shown = shown_name (name);
      g_free (r->current);
      r->current = g_strdup (shown);
      if (archive_format (r->a) == ARCHIVE_FORMAT_TAR)
        return reader_refuse (r, error, _("%s: the header at byte %" PRIu64 " is not a POSIX "
                                          "(ustar) tar header; exports are ustar/pax archives"),
                              r->source, r->at);
      gboolean sparse = archive_entry_sparse_count (r->entry) > 0;
      int t = sparse ? -1 : header_typeflag (r);
      const char *what = entry_kind_problem (r->entry, t);
      if (what)
        return reader_refuse (r, error, _("%s: member '%s' is %s (type '%c'); exports hold only "
                                          "regular files, refusing the stream"), r->source, shown,
                              what, t > 0 && g_ascii_isprint (t) ? t : '?');
      /* something follows the header of a regular file: a sparse map
       * libarchive read and found no valid extent in */
      if (t < 0 && !sparse)
        return reader_bad_map (r, error);
      gboolean dir = archive_entry_filetype (r->entry) == AE_IFDIR;
      guint64 size = archive_entry_size (r->entry) > 0 ? (guint64) archive_entry_size (r->entry)
                                                        : 0;
      if (dir && size > 0)
        return reader_refuse (r, error, _("%s: member '%s' is a directory with %" PRIu64 " bytes "
                                          "of data; exports have none, refusing the stream"),
                              r->source, shown, size);
      if (size > MEMBER_MAX)
        return reader_refuse (r, error, _("%s: member '%s' claims %" PRIu64 " bytes, more than "
                                          "any export holds; refusing the stream"),
                              r->source, shown, size);

      /* "./a" and "a/" are how tar(1) spells "a". */
      const char *p = name;
      while (p[0] == '.' && p[1] == '/')
        p += 2;
      g_autofree char *norm = g_strdup (p);
      gsize nl = strlen (norm);
      while (dir && nl > 0 && norm[nl - 1] == '/')
        norm[--nl] = '\0';
      if (dir && (nl == 0 || g_str_equal (norm, ".")))
        continue;   /* the archive's own top directory: nothing to create */
      if (!vk_tar_name_is_safe (norm))
        {
          gboolean odd = FALSE;
          for (const char *c = norm; *c; c++)
            odd = odd || (guchar) *c < 0x20 || *c == 0x7f || *c == '\\';
          /* say which rule the name breaks: a control byte is neither
           * absolute nor '..' */
          if (odd && *norm != '/')
            return reader_refuse (r, error, _("%s: member name '%s' holds a control character "
                                              "or a backslash; refusing the stream"),
                                  r->source, shown);
          return reader_refuse (r, error, _("%s: member name '%s' is absolute or leaves the "
                                            "extraction directory ('..'); refusing the stream"),
                                r->source, shown);
        }

      r->size = size;
      r->data_size = size;
      if (archive_entry_sparse_count (r->entry) > 0)
        {
          la_int64_t off, len;
          r->data_size = 0;
          archive_entry_sparse_reset (r->entry);
          while (archive_entry_sparse_next (r->entry, &off, &len) == ARCHIVE_OK)
            r->data_size += (guint64) len;
        }
      g_free (r->current);
      r->current = shown_name (norm);
      VkTarEntry *e = g_new0 (VkTarEntry, 1);
      e->name = g_steal_pointer (&norm);
      e->type = dir ? VK_TAR_DIR : VK_TAR_FILE;
      e->size = size;
      e->mode = (guint) (archive_entry_perm (r->entry) & 07777);
      e->mtime = MAX ((gint64) archive_entry_mtime (r->entry), 0);
      *entry = e;
      return TRUE;
    }
}

static gboolean
write_sparse (int fd, const guint8 *buf, gsize n, const char *dest, GCancellable *cancel,
              GError **error)
{
  gsize i = 0;
  while (i < n)
    {
      gsize bl = MIN ((gsize) HOLE, n - i);
      gboolean z = is_zero (buf + i, bl);
      gsize j = i + bl;
      while (j < n)
        {
          gsize b2 = MIN ((gsize) HOLE, n - j);
          if (is_zero (buf + j, b2) != z)
            break;
          j += b2;
        }
      if (z)
        {
          if (lseek (fd, (off_t) (j - i), SEEK_CUR) < 0)
            {
              int e = errno;
              g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot seek in %s: %s"), dest,
                           g_strerror (e));
              return FALSE;
            }
        }
      else if (!write_all (fd, buf + i, j - i, dest, cancel, error))
        return FALSE;
      i = j;
    }
  return TRUE;
}

static gboolean
reader_cancelled (VkTarReader *r, GError **error)
{
  if (!is_cancelled (r->cancel))
    return FALSE;
  r->interrupted = TRUE;
  reader_set_failure (r, g_error_new (VK_ERROR, VK_ERROR_FAILED, _("interrupted")), error);
  return TRUE;
}

/* `len` bytes of a sparse member's hole: zeros, hashed as such. */
static gboolean
reader_hole (VkTarReader *r, guint64 len, int out_fd, const char *dest, gboolean sparse,
             VkSha256 *sha, GError **error)
{
  if (len == 0)
    return TRUE;
  if (out_fd >= 0 && sparse && lseek (out_fd, (off_t) len, SEEK_CUR) < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot seek in %s: %s"), dest,
                   g_strerror (e));
      return FALSE;
    }
  gboolean write = out_fd >= 0 && !sparse;
  while (len > 0 && (sha || write))
    {
      gsize n = (gsize) MIN (len, (guint64) CHUNK);
      if (reader_cancelled (r, error))
        return FALSE;
      if (sha)
        vk_sha256_update (sha, zeros, n);
      if (write && !write_all (out_fd, zeros, n, dest, r->cancel, error))
        return FALSE;
      len -= n;
    }
  return TRUE;
}

/* The current member's data, to `mem` (`size` zeroed bytes) or `out_fd`
 * (-1: nowhere), its holes included, hashed into `sha` (optional). */
static gboolean
reader_data (VkTarReader *r, guint8 *mem, int out_fd, const char *dest, gboolean sparse,
             VkSha256 *sha, GError **error)
{
  guint64 pos = 0;
  guint64 data = 0;
  if (!r->in_data)
    return TRUE;
  for (;;)
    {
      const void *buf;
      size_t n;
      la_int64_t off;
      if (reader_cancelled (r, error))
        return FALSE;
      int rc = archive_read_data_block (r->a, &buf, &n, &off);
      if (rc == ARCHIVE_EOF)
        break;
      if (rc != ARCHIVE_OK)
        return reader_data_failed (r, error);
      /* libarchive does not check a sparse map: data must come in order
       * and inside the member */
      if (off < 0 || (guint64) off < pos || (guint64) off > r->size || n > r->size - (guint64) off)
        return reader_bad_map (r, error);
      if (mem == NULL && !reader_hole (r, (guint64) off - pos, out_fd, dest, sparse, sha, error))
        return FALSE;
      if (mem && sha && (guint64) off > pos)
        vk_sha256_update (sha, mem + pos, (gsize) ((guint64) off - pos));
      pos = (guint64) off;
      if (mem)
        memcpy (mem + pos, buf, n);
      if (sha)
        vk_sha256_update (sha, buf, n);
      if (out_fd >= 0 && !(sparse ? write_sparse (out_fd, buf, n, dest, r->cancel, error)
                                  : write_all (out_fd, buf, n, dest, r->cancel, error)))
        return FALSE;
      pos += n;
      data += n;
      if (r->progress)
        r->progress (r->offset, r->progress_data);
    }
  if (data != r->data_size)
    return reader_bad_map (r, error);
  if (mem && sha)
    vk_sha256_update (sha, mem + pos, (gsize) (r->size - pos));
  else if (mem == NULL && !reader_hole (r, r->size - pos, out_fd, dest, sparse, sha, error))
    return FALSE;
  r->in_data = FALSE;
  return TRUE;
}

gboolean
vk_tar_reader_copy (VkTarReader *r, int out_fd, const char *dest, gboolean sparse,
                    char **sha256_out, GError **error)
{
  if (r->failure)
    {
      g_propagate_error (error, g_error_copy (r->failure));
      return FALSE;
    }
  g_autoptr(VkSha256) sha = sha256_out ? vk_sha256_new () : NULL;
  if (!reader_data (r, NULL, out_fd, dest, sparse, sha, error))
    return FALSE;
  if (out_fd >= 0 && sparse)
    {
      off_t end = lseek (out_fd, 0, SEEK_CUR);
      if (end < 0 || ftruncate (out_fd, end) < 0)
        {
          int e = errno;
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot write %s: %s"), dest,
                       g_strerror (e));
          return FALSE;
        }
    }
  if (sha256_out)
    *sha256_out = vk_sha256_hex (sha);
  return TRUE;
}

GBytes *
vk_tar_reader_read (VkTarReader *r, gsize max, char **sha256_out, GError **error)
{
  if (r->failure)
    {
      g_propagate_error (error, g_error_copy (r->failure));
      return NULL;
    }
  guint64 size = r->in_data ? r->size : 0;
  if (size > max)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s: member %s has %" PRIu64 " bytes, more than the %zu"
                     " it may have; refusing the stream"), r->source,
                   r->current ? r->current : "?", size, max);
      return NULL;
    }
  g_autoptr(VkSha256) sha = sha256_out ? vk_sha256_new () : NULL;
  /* zeroed: a sparse member's holes */
  g_autofree guint8 *buf = g_malloc0 ((gsize) size + 1);
  if (!reader_data (r, buf, -1, NULL, FALSE, sha, error))
    return NULL;
  if (sha256_out)
    *sha256_out = vk_sha256_hex (sha);
  return g_bytes_new_take (g_steal_pointer (&buf), (gsize) size);
}
