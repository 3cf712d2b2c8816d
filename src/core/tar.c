/* vmkeep — streaming tar writer and reader (see tar.h for the contracts). */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sha256.h"
#include "tar.h"
#include "validate.h"
#include "vk-error.h"

/* Large enough that a multi-GiB state streams at disk speed. */
#define CHUNK (1024 * 1024)
/* Holes are made per page: finer gains nothing on any filesystem. */
#define HOLE 4096
/* Extended headers are tiny; anything bigger is not ours. */
#define PAX_MAX (64 * 1024)
#define NAME_MAX_LEN 4096

/* ustar header fields: offset, width */
#define H_NAME 0, 100
#define H_MODE 100, 8
#define H_UID 108, 8
#define H_GID 116, 8
#define H_SIZE 124, 12
#define H_MTIME 136, 12
#define H_CHKSUM 148, 8
#define H_TYPE 156
#define H_MAGIC 257
#define H_VERSION 263
#define H_PREFIX 345, 155
/* FIELD (h, H_SIZE) -> h + 124, 12 (the indirection expands H_SIZE first) */
#define FIELD(h, f) FIELD_ (h, f)
#define FIELD_(h, off, width) (h) + (off), (width)

/* Largest size an 11-digit octal field holds (8 GiB - 1). */
#define USTAR_SIZE_MAX G_GUINT64_CONSTANT (077777777777)

static const guint8 zero_block[VK_TAR_BLOCK];

static gboolean
cancelled (const volatile int *cancel, GError **error)
{
  if (cancel == NULL || *cancel == 0)
    return FALSE;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("interrupted"));
  return TRUE;
}

static gboolean
write_all (int fd, const void *data, gsize len, const char *dest, const volatile int *cancel,
           GError **error)
{
  const guint8 *p = data;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        {
          if (cancelled (cancel, error))
            return FALSE;
          continue;
        }
      if (n < 0)
        {
          int e = errno;
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       e == EPIPE ? _("cannot write to %s: the reading end was closed (%s)")
                                  : _("cannot write to %s: %s"), dest, g_strerror (e));
          return FALSE;
        }
      p += n;
      len -= (gsize) n;
    }
  return TRUE;
}

/* -1 with errno set on error; errno EINTR means cancelled. */
static gssize
read_full (int fd, guint8 *buf, gsize len, const volatile int *cancel)
{
  gsize got = 0;
  while (got < len)
    {
      ssize_t n = read (fd, buf + got, len - got);
      if (n < 0 && errno == EINTR)
        {
          if (cancel && *cancel)
            return -1;
          continue;
        }
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      got += (gsize) n;
    }
  return (gssize) got;
}

static gboolean
is_zero (const guint8 *p, gsize len)
{
  return len == 0 || (p[0] == 0 && memcmp (p, p + 1, len - 1) == 0);
}

/* ---- writer ------------------------------------------------------------ */

struct _VkTarWriter {
  int fd;
  char *dest;
  guint64 offset;
  VkTarProgress progress;
  gpointer progress_data;
  const volatile int *cancel;
};

void
vk_tar_writer_set_progress (VkTarWriter *w, VkTarProgress cb, gpointer data)
{
  w->progress = cb;
  w->progress_data = data;
}

void
vk_tar_writer_set_cancel (VkTarWriter *w, const volatile int *cancel)
{
  w->cancel = cancel;
}

VkTarWriter *
vk_tar_writer_new (int fd, const char *dest)
{
  VkTarWriter *w = g_new0 (VkTarWriter, 1);
  w->fd = fd;
  w->dest = g_strdup (dest);
  return w;
}

void
vk_tar_writer_free (VkTarWriter *w)
{
  if (w == NULL)
    return;
  g_free (w->dest);
  g_free (w);
}

guint64
vk_tar_writer_offset (const VkTarWriter *w)
{
  return w->offset;
}

static gboolean
w_write (VkTarWriter *w, const void *data, gsize len, GError **error)
{
  if (!write_all (w->fd, data, len, w->dest, w->cancel, error))
    return FALSE;
  w->offset += len;
  return TRUE;
}

static gboolean
w_pad (VkTarWriter *w, guint64 size, GError **error)
{
  gsize pad = (VK_TAR_BLOCK - size % VK_TAR_BLOCK) % VK_TAR_BLOCK;
  return pad == 0 || w_write (w, zero_block, pad, error);
}

/* `width - 1` octal digits and a NUL, as ustar wants. */
static void
put_octal (guint8 *h, gsize off, gsize width, guint64 v)
{
  char buf[32];
  g_snprintf (buf, sizeof buf, "%0*" G_GINT64_MODIFIER "o", (int) (width - 1), v);
  memcpy (h + off, buf, width - 1);
  h[off + width - 1] = '\0';
}

static void
fill_header (guint8 *h, const char *name, guint64 size, guint mode, gint64 mtime, char type)
{
  memset (h, 0, VK_TAR_BLOCK);
  gsize n = strlen (name);
  memcpy (h, name, MIN (n, 100));
  put_octal (h, H_MODE, mode & 07777);
  put_octal (h, H_UID, 0);
  put_octal (h, H_GID, 0);
  put_octal (h, H_SIZE, size <= USTAR_SIZE_MAX ? size : 0);
  put_octal (h, H_MTIME, mtime > 0 ? (guint64) mtime : 0);
  h[H_TYPE] = type;
  memcpy (h + H_MAGIC, "ustar", 6);
  memcpy (h + H_VERSION, "00", 2);
  memset (h + 148, ' ', 8);
  guint sum = 0;
  for (gsize i = 0; i < VK_TAR_BLOCK; i++)
    sum += h[i];
  char buf[16];
  g_snprintf (buf, sizeof buf, "%06o", sum);
  memcpy (h + 148, buf, 6);
  h[154] = '\0';
  h[155] = ' ';
}

/* One pax record "LEN key=value\n", where LEN counts the whole record,
 * its own digits included. */
static void
pax_add (GString *s, const char *key, const char *value)
{
  gsize base = strlen (key) + strlen (value) + 3;
  gsize len = base + 1;
  for (;;)
    {
      g_autofree char *digits = g_strdup_printf ("%" G_GSIZE_FORMAT, len);
      gsize want = base + strlen (digits);
      if (want == len)
        break;
      len = want;
    }
  g_string_append_printf (s, "%" G_GSIZE_FORMAT " %s=%s\n", len, key, value);
}

static gboolean
write_header (VkTarWriter *w, const char *name, guint64 size, guint mode, gint64 mtime,
              GError **error)
{
  guint8 h[VK_TAR_BLOCK];
  if (*name == '\0' || strlen (name) > NAME_MAX_LEN || !vk_tar_name_is_safe (name))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("internal error: '%s' is not a valid archive member name"), name);
      return FALSE;
    }
  gboolean long_name = strlen (name) > 100;
  gboolean big = size > USTAR_SIZE_MAX;
  if (long_name || big)
    {
      g_autoptr(GString) pax = g_string_new (NULL);
      if (long_name)
        pax_add (pax, "path", name);
      if (big)
        {
          g_autofree char *sz = g_strdup_printf ("%" G_GUINT64_FORMAT, size);
          pax_add (pax, "size", sz);
        }
      g_autofree char *base = g_path_get_basename (name);
      g_autofree char *pname = g_strdup_printf ("PaxHeaders/%.80s", base);
      fill_header (h, pname, pax->len, 0644, mtime, 'x');
      if (!w_write (w, h, sizeof h, error) || !w_write (w, pax->str, pax->len, error) ||
          !w_pad (w, pax->len, error))
        return FALSE;
    }
  fill_header (h, name, size, mode, mtime, '0');
  return w_write (w, h, sizeof h, error);
}

gboolean
vk_tar_writer_add_data (VkTarWriter *w, const char *name, const void *data, gsize len,
                        guint mode, gint64 mtime, GError **error)
{
  return write_header (w, name, len, mode, mtime, error) &&
         (len == 0 || w_write (w, data, len, error)) && w_pad (w, len, error);
}

gboolean
vk_tar_writer_add_fd (VkTarWriter *w, const char *name, int fd, const char *src,
                      guint64 size, guint mode, gint64 mtime, char **sha256_out,
                      GError **error)
{
  if (!write_header (w, name, size, mode, mtime, error))
    return FALSE;
  g_autoptr(VkSha256) sha = vk_sha256_new ();
  g_autofree guint8 *buf = g_malloc (CHUNK);
  guint64 left = size;
  while (left > 0)
    {
      if (cancelled (w->cancel, error))
        return FALSE;
      gsize want = (gsize) MIN (left, (guint64) CHUNK);
      gssize n = read_full (fd, buf, want, w->cancel);
      if (n < 0 && errno == EINTR && cancelled (w->cancel, error))
        return FALSE;
      if (n < 0)
        {
          int e = errno;
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), src,
                       g_strerror (e));
          return FALSE;
        }
      if ((gsize) n < want)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("%s ended after %" PRIu64 " of %" PRIu64 " bytes: it changed while "
                         "being exported; make sure nothing writes it and retry"),
                       src, size - left + (guint64) n, size);
          return FALSE;
        }
      vk_sha256_update (sha, buf, (gsize) n);
      if (!w_write (w, buf, (gsize) n, error))
        return FALSE;
      left -= (guint64) n;
      if (w->progress)
        w->progress (w->offset, w->progress_data);
    }
  if (!w_pad (w, size, error))
    return FALSE;
  if (sha256_out)
    *sha256_out = vk_sha256_hex (sha);
  return TRUE;
}

gboolean
vk_tar_writer_finish (VkTarWriter *w, GError **error)
{
  if (!w_write (w, zero_block, VK_TAR_BLOCK, error) ||
      !w_write (w, zero_block, VK_TAR_BLOCK, error))
    return FALSE;
  while (w->offset % VK_TAR_RECORD != 0)
    if (!w_write (w, zero_block, VK_TAR_BLOCK, error))
      return FALSE;
  return TRUE;
}

/* ---- reader ------------------------------------------------------------ */

struct _VkTarReader {
  int fd;
  char *source;
  guint64 offset;      /* bytes consumed */
  guint64 remaining;   /* data bytes of the current member not yet read */
  guint64 pad;         /* padding after the current member's data */
  char *current;       /* current member's name, for messages */
  gboolean ended;
  VkTarProgress progress;
  gpointer progress_data;
  const volatile int *cancel;
};

void
vk_tar_reader_set_progress (VkTarReader *r, VkTarProgress cb, gpointer data)
{
  r->progress = cb;
  r->progress_data = data;
}

void
vk_tar_reader_set_cancel (VkTarReader *r, const volatile int *cancel)
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

static void
set_truncated (VkTarReader *r, GError **error, const char *where)
{
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("%s is truncated: it ends %s (after %" PRIu64 " bytes); the export was cut "
                 "short, copy it again"), r->source, where, r->offset);
}

/* Exactly `len` bytes, or a "truncated" error naming `where`. */
static gboolean
r_read (VkTarReader *r, guint8 *buf, gsize len, const char *where, GError **error)
{
  if (cancelled (r->cancel, error))
    return FALSE;
  gssize n = read_full (r->fd, buf, len, r->cancel);
  if (n < 0 && errno == EINTR && cancelled (r->cancel, error))
    return FALSE;
  if (n < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read %s: %s"), r->source,
                   g_strerror (e));
      return FALSE;
    }
  r->offset += (guint64) n;
  if ((gsize) n < len)
    {
      set_truncated (r, error, where);
      return FALSE;
    }
  return TRUE;
}

static gboolean
r_skip (VkTarReader *r, guint64 len, const char *where, GError **error)
{
  g_autofree guint8 *buf = g_malloc (MIN (len, (guint64) CHUNK) + 1);
  while (len > 0)
    {
      gsize n = (gsize) MIN (len, (guint64) CHUNK);
      if (!r_read (r, buf, n, where, error))
        return FALSE;
      len -= n;
    }
  return TRUE;
}

static gboolean
parse_number (const guint8 *f, gsize width, guint64 *out)
{
  if (f[0] & 0x80)
    {
      /* GNU base-256: big-endian, the first byte's top bit is the flag
       * (negative numbers, flag 0xff, are never valid here). */
      if (f[0] == 0xff)
        return FALSE;
      guint64 v = f[0] & 0x7f;
      for (gsize i = 1; i < width; i++)
        {
          if (v >> 56)
            return FALSE;
          v = (v << 8) | f[i];
        }
      *out = v;
      return TRUE;
    }
  gsize i = 0;
  while (i < width && f[i] == ' ')
    i++;
  guint64 v = 0;
  gboolean any = FALSE;
  for (; i < width && f[i] >= '0' && f[i] <= '7'; i++)
    {
      if (v >> 61)
        return FALSE;
      v = v * 8 + (guint64) (f[i] - '0');
      any = TRUE;
    }
  for (; i < width; i++)
    if (f[i] != ' ' && f[i] != '\0')
      return FALSE;
  *out = any ? v : 0;
  return TRUE;
}

static char *
field_string (const guint8 *h, gsize off, gsize width)
{
  gsize n = 0;
  while (n < width && h[off + n] != '\0')
    n++;
  return g_strndup ((const char *) h + off, n);
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

/* Apply the records of a pax extended header; unknown keys are
 * ignored, as POSIX says. */
static gboolean
parse_pax (VkTarReader *r, const guint8 *data, gsize len, char **path, guint64 *size,
           gboolean *has_size, GError **error)
{
  gsize i = 0;
  while (i < len)
    {
      if (data[i] == '\0')
        break; /* padding */
      guint64 rec = 0;
      gsize j = i;
      while (j < len && data[j] >= '0' && data[j] <= '9' && rec < len)
        rec = rec * 10 + (guint64) (data[j++] - '0');
      if (j == i || j >= len || data[j] != ' ' || rec < 5 || i + rec > len ||
          data[i + rec - 1] != '\n')
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: malformed pax extended header before byte %" PRIu64
                         "; the stream is damaged"), r->source, r->offset);
          return FALSE;
        }
      const char *kv = (const char *) data + j + 1;
      gsize kvlen = i + rec - 1 - (j + 1);
      const char *eq = memchr (kv, '=', kvlen);
      if (eq == NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: malformed pax extended header before byte %" PRIu64
                         "; the stream is damaged"), r->source, r->offset);
          return FALSE;
        }
      g_autofree char *key = g_strndup (kv, eq - kv);
      g_autofree char *value = g_strndup (eq + 1, kvlen - (eq + 1 - kv));
      if (g_str_equal (key, "path"))
        {
          g_free (*path);
          *path = g_steal_pointer (&value);
        }
      else if (g_str_equal (key, "size"))
        {
          guint64 v;
          if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &v, NULL))
            {
              g_autofree char *shown = g_strescape (value, NULL);
              g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                           _("%s: bad size '%s' in a pax extended header; the stream is "
                             "damaged"), r->source, shown);
              return FALSE;
            }
          *size = v;
          *has_size = TRUE;
        }
      i += rec;
    }
  return TRUE;
}

/* After the end-of-archive blocks: read what is left so the writer on the
 * other end of a pipe is not killed by SIGPIPE. */
static void
drain (VkTarReader *r)
{
  guint8 buf[65536];
  for (;;)
    {
      ssize_t n = read (r->fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR && !(r->cancel && *r->cancel))
        continue;
      if (n <= 0)
        return;
      r->offset += (guint64) n;
    }
}

gboolean
vk_tar_reader_next (VkTarReader *r, VkTarEntry **entry, GError **error)
{
  *entry = NULL;
  if (r->ended)
    return TRUE;
  if (r->remaining + r->pad > 0)
    {
      g_autofree char *where = g_strdup_printf (_("inside member %s"), r->current);
      if (!r_skip (r, r->remaining + r->pad, where, error))
        return FALSE;
      r->remaining = r->pad = 0;
    }
  g_autofree char *pax_path = NULL;
  g_autofree char *long_name = NULL;
  guint64 pax_size = 0;
  gboolean has_pax_size = FALSE;
  for (;;)
    {
      guint8 h[VK_TAR_BLOCK];
      guint64 at = r->offset;
      if (!r_read (r, h, sizeof h, _("before its end-of-archive marker"), error))
        return FALSE;
      if (is_zero (h, sizeof h))
        {
          if (pax_path || long_name || has_pax_size)
            {
              g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                           _("%s: an extended header at byte %" PRIu64 " is followed by "
                             "no member; the stream is damaged"), r->source, at);
              return FALSE;
            }
          if (!r_read (r, h, sizeof h, _("inside its end-of-archive marker"), error))
            return FALSE;
          if (!is_zero (h, sizeof h))
            {
              g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                           _("%s: a zero block at byte %" PRIu64 " is followed by data; the "
                             "stream is damaged"), r->source, at);
              return FALSE;
            }
          r->ended = TRUE;
          drain (r);
          return TRUE;
        }
      guint64 want = 0;
      if (!parse_number (FIELD (h, H_CHKSUM), &want))
        want = G_MAXUINT64;
      guint64 usum = 0;
      gint64 ssum = 0;
      for (gsize i = 0; i < VK_TAR_BLOCK; i++)
        {
          guint8 c = (i >= 148 && i < 156) ? ' ' : h[i];
          usum += c;
          ssum += (gint8) c;
        }
      if (want != usum && (gint64) want != ssum)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: the tar header at byte %" PRIu64 " has a wrong checksum; the "
                         "stream is damaged or is not a tar archive"), r->source, at);
          return FALSE;
        }
      gboolean posix = memcmp (h + H_MAGIC, "ustar\0", 6) == 0;
      gboolean gnu = memcmp (h + H_MAGIC, "ustar  \0", 8) == 0;
      if (!posix && !gnu)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: the header at byte %" PRIu64 " is not a POSIX (ustar) tar "
                         "header; exports are ustar/pax archives"), r->source, at);
          return FALSE;
        }
      guint64 size = 0;
      if (!parse_number (FIELD (h, H_SIZE), &size))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: the header at byte %" PRIu64 " has a malformed size; the "
                         "stream is damaged"), r->source, at);
          return FALSE;
        }
      char type = (char) h[H_TYPE];
      if (type == 'x' || type == 'g' || type == 'L')
        {
          if (size > PAX_MAX)
            {
              g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                           _("%s: an extended header of %" PRIu64 " bytes at byte %" PRIu64
                             " is larger than any export writes; refusing it"),
                           r->source, size, at);
              return FALSE;
            }
          g_autofree guint8 *data = g_malloc (size + 1);
          gsize padded = (gsize) ((size + VK_TAR_BLOCK - 1) / VK_TAR_BLOCK * VK_TAR_BLOCK);
          g_autofree guint8 *blocks = g_malloc (padded + 1);
          if (!r_read (r, blocks, padded, _("inside an extended header"), error))
            return FALSE;
          memcpy (data, blocks, size);
          data[size] = '\0';
          if (type == 'L')
            {
              g_free (long_name);
              long_name = g_strndup ((const char *) data, size);
            }
          else if (type == 'x')
            {
              if (!parse_pax (r, data, size, &pax_path, &pax_size, &has_pax_size, error))
                return FALSE;
            }
          /* 'g' (global) records apply to every later member; none that
           * matters here (path and size are per member), so ignored. */
          continue;
        }

      g_autofree char *name = NULL;
      if (pax_path)
        name = g_steal_pointer (&pax_path);
      else if (long_name)
        name = g_steal_pointer (&long_name);
      else
        {
          g_autofree char *n = field_string (h, H_NAME);
          g_autofree char *prefix = posix ? field_string (h, H_PREFIX) : g_strdup ("");
          name = *prefix ? g_strconcat (prefix, "/", n, NULL) : g_steal_pointer (&n);
        }
      if (has_pax_size)
        size = pax_size;

      VkTarType vt;
      if (type == '0' || type == '\0' || type == '7')
        vt = VK_TAR_FILE;
      else if (type == '5')
        vt = VK_TAR_DIR;
      else
        {
          const char *what = type == '1' ? _("a hard link") : type == '2' ? _("a symbolic link")
                           : type == '3' || type == '4' ? _("a device node")
                           : type == '6' ? _("a FIFO") : _("of an unknown type");
          g_autofree char *shown = g_strescape (name, NULL);
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: member '%s' is %s (type '%c'); exports hold only regular "
                         "files, refusing the stream"), r->source, shown, what,
                       g_ascii_isprint (type) ? type : '?');
          return FALSE;
        }

      /* "./a" and "a/" are how tar(1) spells "a". */
      const char *p = name;
      while (p[0] == '.' && p[1] == '/')
        p += 2;
      g_autofree char *norm = g_strdup (p);
      gsize nl = strlen (norm);
      while (nl > 1 && norm[nl - 1] == '/' && vt == VK_TAR_DIR)
        norm[--nl] = '\0';
      if (vt == VK_TAR_DIR && (nl == 0 || g_str_equal (norm, ".")))
        {
          /* the archive's own top directory: nothing to create */
          r->remaining = size;
          r->pad = (VK_TAR_BLOCK - size % VK_TAR_BLOCK) % VK_TAR_BLOCK;
          g_free (r->current);
          r->current = g_strdup (".");
          if (r->remaining + r->pad > 0 && !r_skip (r, r->remaining + r->pad, _("inside a "
                                                                               "directory entry"),
                                                    error))
            return FALSE;
          r->remaining = r->pad = 0;
          continue;
        }
      if (!vk_tar_name_is_safe (norm))
        {
          g_autofree char *shown = g_strescape (name, NULL);
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s: member name '%s' is absolute or leaves the extraction directory "
                         "('..'); refusing the stream"), r->source, shown);
          return FALSE;
        }
      guint64 mtime = 0;
      guint64 mode = 0;
      if (!parse_number (FIELD (h, H_MTIME), &mtime))
        mtime = 0;
      if (!parse_number (FIELD (h, H_MODE), &mode))
        mode = 0600;
      VkTarEntry *e = g_new0 (VkTarEntry, 1);
      e->name = g_steal_pointer (&norm);
      e->type = vt;
      e->size = size;
      e->mode = (guint) (mode & 07777);
      e->mtime = (gint64) MIN (mtime, (guint64) G_MAXINT64);
      r->remaining = size;
      r->pad = (VK_TAR_BLOCK - size % VK_TAR_BLOCK) % VK_TAR_BLOCK;
      g_free (r->current);
      /* Safe names may still hold bytes that are not UTF-8; messages
       * must be UTF-8 (--json prints them). */
      r->current = vk_str_printable (e->name);
      *entry = e;
      return TRUE;
    }
}

static gboolean
write_sparse (int fd, const guint8 *buf, gsize n, const char *dest, const volatile int *cancel,
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

gboolean
vk_tar_reader_copy (VkTarReader *r, int out_fd, const char *dest, gboolean sparse,
                    char **sha256_out, GError **error)
{
  g_autoptr(VkSha256) sha = vk_sha256_new ();
  g_autofree guint8 *buf = g_malloc (CHUNK);
  g_autofree char *where = g_strdup_printf (_("inside member %s"), r->current ? r->current : "?");
  while (r->remaining > 0)
    {
      gsize n = (gsize) MIN (r->remaining, (guint64) CHUNK);
      if (!r_read (r, buf, n, where, error))
        return FALSE;
      r->remaining -= n;
      vk_sha256_update (sha, buf, n);
      if (r->progress)
        r->progress (r->offset, r->progress_data);
      if (out_fd < 0)
        continue;
      if (sparse ? !write_sparse (out_fd, buf, n, dest, r->cancel, error)
                 : !write_all (out_fd, buf, n, dest, r->cancel, error))
        return FALSE;
    }
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
  if (r->pad > 0)
    {
      if (!r_skip (r, r->pad, where, error))
        return FALSE;
      r->pad = 0;
    }
  if (sha256_out)
    *sha256_out = vk_sha256_hex (sha);
  return TRUE;
}

GBytes *
vk_tar_reader_read (VkTarReader *r, gsize max, char **sha256_out, GError **error)
{
  if (r->remaining > max)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s: member %s has %" PRIu64 " bytes, more than the %zu"
                     " it may have; refusing the stream"), r->source,
                   r->current ? r->current : "?", r->remaining, max);
      return NULL;
    }
  gsize n = (gsize) r->remaining;
  g_autofree guint8 *buf = g_malloc (n + 1);
  g_autofree char *where = g_strdup_printf (_("inside member %s"), r->current ? r->current : "?");
  if (!r_read (r, buf, n, where, error))
    return NULL;
  buf[n] = '\0';
  r->remaining = 0;
  if (r->pad > 0)
    {
      if (!r_skip (r, r->pad, where, error))
        return NULL;
      r->pad = 0;
    }
  if (sha256_out)
    {
      g_autoptr(VkSha256) sha = vk_sha256_new ();
      vk_sha256_update (sha, buf, n);
      *sha256_out = vk_sha256_hex (sha);
    }
  return g_bytes_new_take (g_steal_pointer (&buf), n);
}
