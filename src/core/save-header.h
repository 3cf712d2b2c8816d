/* vmkeep — libvirt QEMU save-image header (read, validate, re-emit).
 *
 * A libvirt save file (virsh save / managed save, libvirt 9.0) is:
 *   fixed header (magic, version, data_len, was_running, format,
 *                 cookieOffset, unused[]),
 *   data_len bytes holding the domain XML (NUL-terminated), the cookie XML
 *   (NUL-terminated, at cookieOffset within the data area) and zero padding,
 *   then the QEMU migration stream up to the end of the file.
 * vmkeep re-emits the header and data area around a different domain XML
 * (a clone's) while keeping the stream offset identical, so the stream can
 * be shared or spliced without being rewritten. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VK_SAVE_MAGIC "LibvirtQemudSave"
#define VK_SAVE_MAGIC_PARTIAL "LibvirtQemudPart"
#define VK_SAVE_MAGIC_LEN 16
#define VK_SAVE_VERSION 2
/* Size of the fixed header that precedes the data area. */
#define VK_SAVE_FIXED_HEADER_LEN 92

typedef enum {
  VK_SAVE_FORMAT_RAW = 0,
  VK_SAVE_FORMAT_GZIP = 1,
  VK_SAVE_FORMAT_BZIP2 = 2,
  VK_SAVE_FORMAT_XZ = 3,
  VK_SAVE_FORMAT_LZOP = 4,
  VK_SAVE_FORMAT_ZSTD = 5,   /* libvirt 10.4+ */
  VK_SAVE_FORMAT_SPARSE = 6, /* libvirt 11.2+: mapped-ram, needs a seekable file */
  VK_SAVE_FORMAT_LAST
} VkSaveFormat;

/* "raw", "gzip", ... "sparse"; NULL for an unknown value. */
const char *vk_save_format_name (guint32 format);
/* The value of a name, or -1. */
int vk_save_format_from_name (const char *name);
/* The first libvirt release (major * 1000000 + minor * 1000 + micro) that
 * restores `format`; 0 for formats every supported libvirt reads. */
guint32 vk_save_format_min_libvirt (guint32 format);
/* VK_ERROR_REFUSED naming `what` (e.g. "image 'web1'"), the format, the
 * libvirt that wrote it (`written_by`, may be NULL), this host's libvirt
 * and the one needed, when this host's libvirt cannot restore it. */
gboolean vk_save_format_check_restorable (guint32 format, guint32 libvirt_version,
                                          const char *what, const char *written_by,
                                          GError **error);
/* Stream formats are read once, front to back (a pipe does); sparse is
 * read at offsets and needs a seekable file. */
#define VK_SAVE_FORMAT_IS_STREAM(f) ((f) < VK_SAVE_FORMAT_SPARSE)

typedef struct {
  guint32 version;
  guint32 data_len;      /* bytes of the data area after the fixed header */
  guint32 was_running;
  guint32 format;        /* VkSaveFormat */
  guint32 cookie_offset; /* offset of the cookie within the data area, 0 = none */
  gboolean byteswapped;  /* header was written on an other-endian host */
  char *xml;             /* domain XML */
  char *cookie;          /* cookie XML or NULL */
  guint64 stream_offset; /* VK_SAVE_FIXED_HEADER_LEN + data_len */
} VkSaveHeader;

void vk_save_header_free (VkSaveHeader *hdr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkSaveHeader, vk_save_header_free)

/* Parse from a buffer holding at least the fixed header and data area.
 * Errors (VK_ERROR_REFUSED unless noted), each naming `source` (a path or
 * description used in messages) and saying what to do:
 *   - buffer shorter than the fixed header or than header + data_len
 *     ("truncated");
 *   - magic LibvirtQemudPart ("incomplete save: the save was interrupted");
 *   - any other magic ("not a libvirt save image");
 *   - version other than 2 ("unsupported save image version N");
 *   - XML not NUL-terminated within the data area, cookie offset outside
 *     the data area, unknown format value. */
gboolean vk_save_header_parse (const guint8 *buf, gsize len, const char *source,
                               VkSaveHeader **out, GError **error);

/* Read and parse the header of the file at `path` (reads only the header and
 * data area, never the stream). Also checks the file is longer than the
 * stream offset (a file that ends at the header is truncated). */
gboolean vk_save_header_read (const char *path, VkSaveHeader **out,
                              GError **error);

/* Build the bytes of a header + data area that carries `xml` instead of
 * hdr->xml, with everything else (version, was_running, format, cookie,
 * byte order) unchanged and exactly hdr->stream_offset bytes long, so that
 * the original stream can follow unchanged. As libvirt does when it rewrites
 * the XML in place, the cookie follows the new XML directly, so the emitted
 * cookieOffset is strlen (xml) + 1. Fails with VK_ERROR_FAILED when
 * the new XML plus cookie does not fit the data area, saying by how many
 * bytes. `was_running` overrides hdr->was_running when >= 0. */
GBytes *vk_save_header_emit (const VkSaveHeader *hdr, const char *xml,
                             int was_running, GError **error);

G_END_DECLS
