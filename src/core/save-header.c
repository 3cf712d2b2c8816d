/* vmkeep — libvirt QEMU save-image header (read, validate, re-emit).
 *
 * The layout mirrors what libvirt 9.0 writes and reads (src/qemu/
 * qemu_saveimage.[ch]: virQEMUSaveHeader, virQEMUSaveDataWrite,
 * qemuSaveImageOpen):
 *
 *   0   char     magic[16]      "LibvirtQemudSave"; "LibvirtQemudPart" while
 *                               the save is still running
 *   16  uint32   version        2
 *   20  uint32   data_len       size of the data area that follows
 *   24  uint32   was_running    resume the guest after restore
 *   28  uint32   format         0 raw, 1 gzip, 2 bzip2, 3 xz, 4 lzop,
 *                               5 zstd (libvirt 10.4+), 6 sparse (11.2+:
 *                               QEMU's mapped-ram, pages at fixed offsets
 *                               of a seekable file from the stream offset)
 *   32  uint32   cookieOffset   cookie position inside the data area, 0 = none
 *   36  uint32   unused[14]     zero
 *   92           data area      XML\0 [cookie\0] zero padding
 *   92+data_len                 QEMU migration stream (or its compressed form)
 *
 * The integers are in the byte order of the host that wrote the file;
 * libvirt detects the other order by the version looking larger than 2.
 * libvirt pads a fresh data area with 64 KiB of zeros precisely so that the
 * XML can later be replaced in place (virsh save-image-define); vmkeep uses
 * the same room for a clone's XML, which keeps the stream offset unchanged. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "fileutil.h"
#include "save-header.h"
#include "vk-error.h"

#define OFF_VERSION 16
#define OFF_DATA_LEN 20
#define OFF_WAS_RUNNING 24
#define OFF_FORMAT 28
#define OFF_COOKIE_OFFSET 32
#define OFF_UNUSED 36
#define UNUSED_WORDS 14

G_STATIC_ASSERT (OFF_UNUSED + UNUSED_WORDS * 4 == VK_SAVE_FIXED_HEADER_LEN);
G_STATIC_ASSERT (sizeof (VK_SAVE_MAGIC) - 1 == VK_SAVE_MAGIC_LEN);
G_STATIC_ASSERT (sizeof (VK_SAVE_MAGIC_PARTIAL) - 1 == VK_SAVE_MAGIC_LEN);

/* libvirt itself allocates whatever data_len says. vmkeep reads headers of
 * files it did not write, so a damaged length must not turn into a
 * multi-gigabyte allocation; real data areas are XML + cookie + 64 KiB. */
#define DATA_LEN_MAX (64u * 1024 * 1024)

void
vk_save_header_free (VkSaveHeader *hdr)
{
  if (hdr == NULL)
    return;
  g_free (hdr->xml);
  g_free (hdr->cookie);
  g_free (hdr);
}

/* A refusal (a damaged or unusable save image): `return refuse (error, ...);`. */
#define refuse(error, ...) vk_fail ((error), VK_ERROR_REFUSED, __VA_ARGS__)

static guint32
get_u32 (const guint8 *p, gboolean swap)
{
  guint32 v;

  memcpy (&v, p, sizeof v);
  return swap ? GUINT32_SWAP_LE_BE (v) : v;
}

static void
put_u32 (guint8 *p, guint32 v, gboolean swap)
{
  if (swap)
    v = GUINT32_SWAP_LE_BE (v);
  memcpy (p, &v, sizeof v);
}

static const char *const format_names[] = { "raw", "gzip", "bzip2", "xz", "lzop",
                                           "zstd", "sparse" };
G_STATIC_ASSERT (G_N_ELEMENTS (format_names) == VK_SAVE_FORMAT_LAST);

const char *
vk_save_format_name (guint32 format)
{
  return format < G_N_ELEMENTS (format_names) ? format_names[format] : NULL;
}

int
vk_save_format_from_name (const char *name)
{
  for (guint i = 0; name && i < G_N_ELEMENTS (format_names); i++)
    if (g_str_equal (name, format_names[i]))
      return (int) i;
  return -1;
}

/* libvirt has no call that lists the save formats it can restore: it
 * finds out when it reads a header. So the releases that added them are
 * written down here, from libvirt's NEWS: zstd came with 10.4.0, sparse
 * (QEMU's mapped-ram) with 11.2.0; 0-4 are older than anything vmkeep
 * supports. */
guint32
vk_save_format_min_libvirt (guint32 format)
{
  switch (format)
    {
    case VK_SAVE_FORMAT_ZSTD:
      return 10004000;
    case VK_SAVE_FORMAT_SPARSE:
      return 11002000;
    default:
      return 0;
    }
}

gboolean
vk_save_format_check_restorable (guint32 format, guint32 libvirt_version, const char *what,
                                 const char *written_by, GError **error)
{
  guint32 need = vk_save_format_min_libvirt (format);
  if (need == 0 || libvirt_version >= need)
    return TRUE;
  g_autofree char *have = g_strdup_printf ("%u.%u.%u", libvirt_version / 1000000,
                                           (libvirt_version / 1000) % 1000,
                                           libvirt_version % 1000);
  g_autofree char *want = g_strdup_printf ("%u.%u.%u", need / 1000000, (need / 1000) % 1000,
                                           need % 1000);
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("%s was saved by libvirt %s in the %s format, which libvirt %s on this host "
                 "cannot restore (it needs libvirt %s or newer); nothing was changed: wake or "
                 "clone it on a host with libvirt %s or newer, or hibernate the VM again with "
                 "the raw format"),
               what, written_by ? written_by : _("(unknown version)"),
               vk_save_format_name (format), have, want, want);
  return FALSE;
}

/* The first bytes of a file that is not a save image can be anything. */
static char *
describe_magic (const guint8 *p)
{
  GString *s = g_string_new (NULL);

  for (int i = 0; i < VK_SAVE_MAGIC_LEN; i++)
    {
      if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
        g_string_append_c (s, (char) p[i]);
      else
        g_string_append_printf (s, "\\x%02x", p[i]);
    }
  return g_string_free (s, FALSE);
}

/* Everything that can be checked from the fixed header alone. Sets
 * version, data_len, was_running, format, cookie_offset, byteswapped and
 * stream_offset. */
static gboolean
parse_fixed (const guint8 *buf, gsize len, const char *source,
             VkSaveHeader *hdr, GError **error)
{
  guint32 version;
  gboolean swap = FALSE;
  if (len < VK_SAVE_FIXED_HEADER_LEN)
    return refuse (error,
                   _("save image %s is truncated: it has %zu"
                     " bytes, fewer than the %d of a libvirt save header; it "
                     "was cut short while being written or copied, so copy it "
                     "again or remove it and hibernate again"),
                   source, len, VK_SAVE_FIXED_HEADER_LEN);

  if (memcmp (buf, VK_SAVE_MAGIC, VK_SAVE_MAGIC_LEN) != 0)
    {
      g_autofree char *magic = NULL;

      if (memcmp (buf, VK_SAVE_MAGIC_PARTIAL, VK_SAVE_MAGIC_LEN) == 0)
        return refuse (error,
                       _("save image %s is incomplete (magic %s): the save was "
                         "interrupted; remove it and hibernate again"),
                       source, VK_SAVE_MAGIC_PARTIAL);
      magic = describe_magic (buf);
      return refuse (error,
                     _("%s is not a libvirt save image (it starts with “%s”, not "
                       "%s); check the path"),
                     source, magic, VK_SAVE_MAGIC);
    }

  /* Same rule as libvirt: a version that only makes sense byte-swapped
   * means the file was written on a host of the other endianness. */
  version = get_u32 (buf + OFF_VERSION, FALSE);
  if (version > VK_SAVE_VERSION)
    {
      guint32 swapped = get_u32 (buf + OFF_VERSION, TRUE);

      if (swapped <= VK_SAVE_VERSION)
        swap = TRUE;
      /* Neither order gives a known version: the smaller reading is the
       * one worth showing (3, not 50331648). */
      version = MIN (version, swapped);
    }
  if (version > VK_SAVE_VERSION)
    return refuse (error,
                   _("save image %s has unsupported save image version %u "
                     "(vmkeep knows version %d); it was written by a newer "
                     "libvirt, restore it with that libvirt's virsh restore"),
                   source, version, VK_SAVE_VERSION);
  /* Version 1 predates the format field; libvirt still restores it as raw,
   * but nothing vmkeep supports writes it any more. */
  if (version != VK_SAVE_VERSION)
    return refuse (error,
                   _("save image %s has unsupported save image version %u "
                     "(vmkeep knows version %d); it was written by a very old "
                     "libvirt: restore it with virsh restore and save it again"),
                   source, version, VK_SAVE_VERSION);

  hdr->version = version;
  hdr->byteswapped = swap;
  hdr->data_len = get_u32 (buf + OFF_DATA_LEN, swap);
  hdr->was_running = get_u32 (buf + OFF_WAS_RUNNING, swap);
  hdr->format = get_u32 (buf + OFF_FORMAT, swap);
  hdr->cookie_offset = get_u32 (buf + OFF_COOKIE_OFFSET, swap);
  hdr->stream_offset = (guint64) VK_SAVE_FIXED_HEADER_LEN + hdr->data_len;

  if (hdr->data_len == 0)
    return refuse (error,
                   _("save image %s is damaged: its header announces an empty "
                     "data area, so it holds no domain XML; remove it and "
                     "hibernate again"),
                   source);

  if (vk_save_format_name (hdr->format) == NULL)
    return refuse (error,
                   _("save image %s has unknown stream format %u (known: 0 raw "
                     "to 6 sparse); the header is damaged or from an unknown "
                     "libvirt, remove it and hibernate again"),
                   source, hdr->format);

  if (hdr->cookie_offset >= hdr->data_len)
    return refuse (error,
                   _("save image %s is damaged: its cookie offset %u lies "
                     "outside the %u-byte data area; remove it and hibernate "
                     "again"),
                   source, hdr->cookie_offset, hdr->data_len);
  return TRUE;
}

/* A NUL-terminated string inside [p, p + n), or NULL. */
static char *
take_string (const guint8 *p, gsize n)
{
  const guint8 *nul = memchr (p, '\0', n);

  if (nul == NULL)
    return NULL;
  return g_strndup ((const char *) p, (gsize) (nul - p));
}

gboolean
vk_save_header_parse (const guint8 *buf, gsize len, const char *source,
                      VkSaveHeader **out, GError **error)
{
  g_autoptr (VkSaveHeader) hdr = g_new0 (VkSaveHeader, 1);
  const guint8 *data;
  gsize xml_area;

  g_return_val_if_fail (buf != NULL || len == 0, FALSE);
  g_return_val_if_fail (source != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (!parse_fixed (buf, len, source, hdr, error))
    return FALSE;

  if (len < hdr->stream_offset)
    return refuse (error,
                   _("save image %s is truncated: its header announces %" PRIu64
                     " bytes of header and domain XML but only %zu"
                     " are present; it was cut short while being "
                     "written or copied, so copy it again or remove it and "
                     "hibernate again"),
                   source, hdr->stream_offset, len);

  data = buf + VK_SAVE_FIXED_HEADER_LEN;
  xml_area = hdr->cookie_offset != 0 ? hdr->cookie_offset : hdr->data_len;
  hdr->xml = take_string (data, xml_area);
  if (hdr->xml == NULL)
    return refuse (error,
                   _("save image %s is damaged: its domain XML is not terminated "
                     "within its %zu-byte area; remove it and "
                     "hibernate again"),
                   source, xml_area);
  if (hdr->xml[0] == '\0' || !g_utf8_validate (hdr->xml, -1, NULL))
    return refuse (error,
                   _("save image %s is damaged: its data area holds no readable "
                     "domain XML; remove it and hibernate again"),
                   source);

  if (hdr->cookie_offset != 0)
    {
      /* The cookie runs to the end of the data area, padding included. */
      hdr->cookie = take_string (data + hdr->cookie_offset,
                                 hdr->data_len - hdr->cookie_offset);
      if (hdr->cookie == NULL || !g_utf8_validate (hdr->cookie, -1, NULL))
        return refuse (error,
                       _("save image %s is damaged: the cookie at offset %u of "
                         "its data area is not terminated text; remove it and "
                         "hibernate again"),
                       source, hdr->cookie_offset);
    }

  /* libvirt pads the data area with zeros (vk_save_header_emit too): any
   * other byte there means data_len reaches into QEMU's stream, which
   * would then be read from the wrong offset. */
  gsize used = hdr->cookie != NULL ? hdr->cookie_offset + strlen (hdr->cookie) + 1
                                   : strlen (hdr->xml) + 1;
  for (gsize i = used; i < hdr->data_len; i++)
    if (data[i] != 0)
      return refuse (error,
                     _("save image %s is damaged: its %u-byte data area holds data after "
                       "the domain XML (at byte %zu of the area, where libvirt writes zeros), "
                       "so its header's data_len points into the stream; remove it and "
                       "hibernate again"),
                     source, hdr->data_len, i);

  *out = g_steal_pointer (&hdr);
  return TRUE;
}

/* Reads up to `len` bytes; fewer only at end of file. */
static gboolean
read_full (int fd, guint8 *buf, gsize len, gsize *got, const char *path,
           GError **error)
{
  gssize n = vk_read_full (fd, buf, len, -1, NULL);

  if (n < 0)
    {
      int saved = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot read save image %s: %s"), path, g_strerror (saved));
      return FALSE;
    }
  *got = (gsize) n;
  return TRUE;
}

static gboolean
read_from_fd (int fd, const char *path, VkSaveHeader **out, GError **error)
{
  guint8 fixed[VK_SAVE_FIXED_HEADER_LEN];
  g_autoptr (VkSaveHeader) probe = g_new0 (VkSaveHeader, 1);
  g_autofree guint8 *buf = NULL;
  struct stat st;
  gboolean regular;
  gsize got = 0, more = 0;

  if (fstat (fd, &st) < 0)
    {
      int saved = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot examine save image %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  if (S_ISDIR (st.st_mode))
    return refuse (error,
                   _("%s is a directory, not a libvirt save image; give the "
                     "path of the state file (state.sav)"),
                   path);
  /* Pipes and devices have no size to check; a regular file does. */
  regular = S_ISREG (st.st_mode);

  if (!read_full (fd, fixed, sizeof fixed, &got, path, error))
    return FALSE;
  if (!parse_fixed (fixed, got, path, probe, error))
    return FALSE;

  if (probe->data_len > DATA_LEN_MAX)
    return refuse (error,
                   _("save image %s is damaged: its header announces a data area "
                     "of %u bytes, far more than domain XML needs; remove it and "
                     "hibernate again"),
                   path, probe->data_len);
  if (regular && (guint64) st.st_size < probe->stream_offset)
    return refuse (error,
                   _("save image %s is truncated: its header announces %" PRIu64
                     " bytes of header and domain XML but the "
                     "file has only %" PRIu64 "; copy it again or "
                     "remove it and hibernate again"),
                   path, probe->stream_offset, (guint64) st.st_size);

  buf = g_malloc (probe->stream_offset);
  memcpy (buf, fixed, sizeof fixed);
  if (!read_full (fd, buf + sizeof fixed, probe->data_len, &more, path, error))
    return FALSE;
  if (!vk_save_header_parse (buf, sizeof fixed + more, path, out, error))
    return FALSE;

  if (regular && (guint64) st.st_size <= (*out)->stream_offset)
    {
      g_clear_pointer (out, vk_save_header_free);
      return refuse (error,
                     _("save image %s is truncated: it ends right after its header "
                       "and holds no guest memory; copy it again or remove it and "
                       "hibernate again"),
                     path);
    }
  return TRUE;
}

gboolean
vk_save_header_read (const char *path, VkSaveHeader **out, GError **error)
{
  gboolean ok;
  int fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VK_ERROR,
                   saved == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot open save image %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  ok = read_from_fd (fd, path, out, error);
  close (fd);
  return ok;
}

GBytes *
vk_save_header_emit (const VkSaveHeader *hdr, const char *xml, int was_running,
                     GError **error)
{
  g_autofree guint8 *buf = NULL;
  gsize xml_len, cookie_len, need;
  gboolean swap;

  g_return_val_if_fail (hdr != NULL, NULL);
  g_return_val_if_fail (xml != NULL, NULL);
  /* Only headers that came out of vk_save_header_parse. */
  g_return_val_if_fail (hdr->version == VK_SAVE_VERSION, NULL);
  g_return_val_if_fail (hdr->data_len > 0, NULL);
  g_return_val_if_fail (hdr->stream_offset ==
                        (guint64) VK_SAVE_FIXED_HEADER_LEN + hdr->data_len, NULL);

  if (xml[0] == '\0')
    {
      g_set_error_literal (error, VK_ERROR, VK_ERROR_FAILED,
                           _("cannot write a save image header without domain "
                             "XML"));
      return NULL;
    }

  xml_len = strlen (xml) + 1;
  cookie_len = hdr->cookie != NULL ? strlen (hdr->cookie) + 1 : 0;
  need = xml_len + cookie_len;
  if (need > hdr->data_len)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("the new domain XML does not fit the save image: XML and "
                     "cookie need %zu bytes but the data area "
                     "holds %u, %zu bytes too many; shorten the "
                     "XML (e.g. drop <description> or <metadata>)"),
                   need, hdr->data_len, need - hdr->data_len);
      return NULL;
    }

  /* Zeroed: the unused words and the padding after the strings are zero in
   * what libvirt writes too. */
  buf = g_malloc0 (hdr->stream_offset);
  swap = hdr->byteswapped;
  memcpy (buf, VK_SAVE_MAGIC, VK_SAVE_MAGIC_LEN);
  put_u32 (buf + OFF_VERSION, hdr->version, swap);
  put_u32 (buf + OFF_DATA_LEN, hdr->data_len, swap);
  put_u32 (buf + OFF_WAS_RUNNING,
           was_running >= 0 ? (guint32) was_running : hdr->was_running, swap);
  put_u32 (buf + OFF_FORMAT, hdr->format, swap);
  /* libvirt places the cookie right after the XML on every write, also when
   * it rewrites the XML in place, so the offset moves with the XML length. */
  put_u32 (buf + OFF_COOKIE_OFFSET, hdr->cookie != NULL ? (guint32) xml_len : 0,
           swap);
  memcpy (buf + VK_SAVE_FIXED_HEADER_LEN, xml, xml_len);
  if (hdr->cookie != NULL)
    memcpy (buf + VK_SAVE_FIXED_HEADER_LEN + xml_len, hdr->cookie, cookie_len);

  return g_bytes_new_take (g_steal_pointer (&buf), hdr->stream_offset);
}
