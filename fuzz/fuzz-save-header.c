/* Fuzz harness: libvirt's save-image header (src/core/save-header.c).
 *
 * The header of an imported image's state.sav is untrusted, and clone
 * re-emits it around another domain XML. So beyond "no crash":
 *   - a header that parses re-emits with its own XML, and the result
 *     parses back to the same fields at the same stream offset (the stream
 *     that follows is shared unchanged, so the offset must never move);
 *   - emitting another XML succeeds exactly when it fits the data area;
 *   - vk_save_header_read on the same bytes as a file agrees with
 *     vk_save_header_parse on the buffer. */
#include "config.h"

#include "fuzz-common.h"
#include "save-header.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  return 0;
}

static void
check_same (const VkSaveHeader *a, const VkSaveHeader *b, const char *what)
{
  vk_fuzz_check (a->version == b->version, "%s: version %u -> %u", what, a->version,
                 b->version);
  vk_fuzz_check (a->data_len == b->data_len, "%s: data_len %u -> %u", what, a->data_len,
                 b->data_len);
  vk_fuzz_check (a->format == b->format, "%s: format %u -> %u", what, a->format, b->format);
  vk_fuzz_check (a->byteswapped == b->byteswapped, "%s: byte order changed", what);
  vk_fuzz_check (a->stream_offset == b->stream_offset,
                 "%s: stream offset %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT, what,
                 a->stream_offset, b->stream_offset);
  vk_fuzz_check (g_strcmp0 (a->cookie, b->cookie) == 0, "%s: cookie changed", what);
}

/* Re-emit `hdr` with `xml`; when it fits, parse it back. */
static void
check_emit (const VkSaveHeader *hdr, const char *xml, int was_running)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(VkSaveHeader) back = NULL;
  gsize need = strlen (xml) + 1 + (hdr->cookie != NULL ? strlen (hdr->cookie) + 1 : 0);
  gsize len = 0;
  const guint8 *p;

  bytes = vk_save_header_emit (hdr, xml, was_running, &error);
  if (need > hdr->data_len)
    {
      vk_fuzz_check (bytes == NULL, "emit accepted %zu bytes of XML and cookie for a "
                     "%u-byte data area", need, hdr->data_len);
      vk_fuzz_check_error (error, "vk_save_header_emit");
      return;
    }
  vk_fuzz_check (bytes != NULL, "emit refused XML that fits: %s",
                 error ? error->message : "(no error)");
  p = g_bytes_get_data (bytes, &len);
  vk_fuzz_check (len == hdr->stream_offset, "emitted %zu bytes, stream offset is %"
                 G_GUINT64_FORMAT, len, hdr->stream_offset);
  vk_fuzz_check (vk_save_header_parse (p, len, "emitted", &back, &error),
                 "emitted header does not parse: %s", error->message);
  check_same (hdr, back, "re-emit");
  vk_fuzz_check (g_str_equal (back->xml, xml), "XML changed in the round trip");
  vk_fuzz_check (back->was_running == (was_running >= 0 ? (guint32) was_running
                                                        : hdr->was_running),
                 "was_running %u", back->was_running);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_autoptr(VkSaveHeader) from_file = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) file_error = NULL;
  g_autofree char *path = NULL;
  gboolean parsed, read_ok;
  int fd;

  parsed = vk_save_header_parse (data, size, "fuzz input", &hdr, &error);
  if (!parsed)
    vk_fuzz_check_error (error, "vk_save_header_parse");

  /* The file reader never reads the stream and insists that one follows,
   * and it caps the data area; otherwise it must see what parse sees. */
  fd = vk_fuzz_memfd (data, size);
  path = g_strdup_printf ("/proc/self/fd/%d", fd);
  read_ok = vk_save_header_read (path, &from_file, &file_error);
  if (!read_ok)
    vk_fuzz_check_error (file_error, "vk_save_header_read");
  if (read_ok)
    {
      vk_fuzz_check (parsed, "read accepted what parse refused: %s", error->message);
      check_same (hdr, from_file, "read vs parse");
      vk_fuzz_check (g_str_equal (hdr->xml, from_file->xml), "read vs parse: XML differs");
    }
  else if (parsed)
    vk_fuzz_check (size <= hdr->stream_offset || hdr->data_len > 64u * 1024 * 1024,
                   "read refused what parse accepted: %s", file_error->message);

  if (!parsed)
    return 0;

  vk_fuzz_check (hdr->version == VK_SAVE_VERSION, "version %u", hdr->version);
  vk_fuzz_check (hdr->stream_offset == VK_SAVE_FIXED_HEADER_LEN + (guint64) hdr->data_len &&
                 hdr->stream_offset <= size, "stream offset %" G_GUINT64_FORMAT,
                 hdr->stream_offset);
  vk_fuzz_check (vk_save_format_name (hdr->format) != NULL, "format %u", hdr->format);
  vk_fuzz_check (hdr->xml[0] != '\0' && g_utf8_validate (hdr->xml, -1, NULL), "XML");

  check_emit (hdr, hdr->xml, -1);
  check_emit (hdr, hdr->xml, hdr->was_running ? 0 : 1);
  /* A clone's XML is usually about as long as the original. */
  check_emit (hdr, "<domain type='kvm'><name>clone</name></domain>", -1);
  {
    g_autofree char *longer = g_strconcat (hdr->xml, "<!-- clone -->", NULL);
    check_emit (hdr, longer, -1);
  }
  return 0;
}
