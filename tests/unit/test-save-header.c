/* Unit tests for src/core/save-header.c on headers captured from libvirt 9.0
 * and on damaged variants of them (tests/data/save-header/README). */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "save-header.h"
#include "vk-error.h"

/* ------------------------------------------------------------- fixtures */

static GBytes *
load_fixture (const char *name)
{
  const char *path = g_test_get_filename (G_TEST_DIST, "tests", "data",
                                          "save-header", name, NULL);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("cannot load fixture %s: %s (is G_TEST_SRCDIR the top source "
             "directory?)", path, error->message);
  return g_bytes_new_take (contents, len);
}


typedef struct {
  const char *name;       /* real-raw, real-gzip */
  guint64 stream_offset;
  guint32 data_len;
  guint32 format;
  guint32 cookie_offset;
  const guint8 stream_magic[4];
  const char *sha256;     /* of the rebuilt prefix, from the capture */
} RealCapture;

static const RealCapture real_raw = {
  "real-raw", 66726, 66634, VK_SAVE_FORMAT_RAW, 862, { 'Q', 'E', 'V', 'M' },
  "a1e28c512156625e842ca64ea619561c309142e25ed87af318693c428b2a9d06",
};
static const RealCapture real_gzip = {
  "real-gzip", 66663, 66571, VK_SAVE_FORMAT_GZIP, 799, { 0x1f, 0x8b, 0x08, 0x00 },
  "69f429bfebd7dceed6efab1654ab1df7cff86f4ec4df72afc4943e43b6d2f971",
};

/* The capture as libvirt wrote it: head, the zero padding that was left out
 * of the fixture, then the first 4 KiB of stream. */
static GBytes *
load_real (const RealCapture *cap)
{
  g_autofree char *head_name = g_strconcat (cap->name, ".head", NULL);
  g_autofree char *stream_name = g_strconcat (cap->name, ".stream", NULL);
  g_autoptr (GBytes) head = load_fixture (head_name);
  g_autoptr (GBytes) stream = load_fixture (stream_name);
  g_autoptr (GByteArray) all = g_byte_array_new ();
  g_autofree char *sum = NULL;
  gsize head_len = g_bytes_get_size (head);

  g_assert_cmpuint (head_len, <, cap->stream_offset);
  g_byte_array_append (all, g_bytes_get_data (head, NULL), head_len);
  g_byte_array_set_size (all, cap->stream_offset);
  memset (all->data + head_len, 0, cap->stream_offset - head_len);
  g_byte_array_append (all, g_bytes_get_data (stream, NULL),
                       g_bytes_get_size (stream));

  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, all->data, all->len);
  g_assert_cmpstr (sum, ==, cap->sha256);
  return g_byte_array_free_to_bytes (g_steal_pointer (&all));
}

static VkSaveHeader *
parse_ok (GBytes *bytes)
{
  g_autoptr (GError) error = NULL;
  VkSaveHeader *hdr = NULL;
  gsize len;
  const guint8 *buf = g_bytes_get_data (bytes, &len);

  g_assert_true (vk_save_header_parse (buf, len, "test", &hdr, &error));
  g_assert_no_error (error);
  g_assert_nonnull (hdr);
  return hdr;
}

static void
assert_message_has (const GError *error, const char *const *needles)
{
  g_test_message ("message: %s", error->message);
  for (gsize i = 0; needles != NULL && needles[i] != NULL; i++)
    if (strstr (error->message, needles[i]) == NULL)
      g_test_fail_printf ("error message “%s” does not mention “%s”",
                          error->message, needles[i]);
}

static char *
make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("vk-save-header-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static char *
write_tmp (const char *dir, const char *name, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (g_file_set_contents (path, data, (gssize) len, &error));
  g_assert_no_error (error);
  return path;
}

static void
rm_tmpdir (const char *dir, const char *const *files)
{
  for (gsize i = 0; files[i] != NULL; i++)
    g_unlink (files[i]);
  g_rmdir (dir);
}

static guint32
le32_at (GBytes *bytes, gsize off)
{
  guint32 v;

  memcpy (&v, (const guint8 *) g_bytes_get_data (bytes, NULL) + off, 4);
  return GUINT32_FROM_LE (v);
}

/* ------------------------------------------------------- real captures */

static void
check_real_fields (const RealCapture *cap, const VkSaveHeader *hdr)
{
  g_assert_cmpuint (hdr->version, ==, 2);
  g_assert_cmpuint (hdr->data_len, ==, cap->data_len);
  g_assert_cmpuint (hdr->was_running, ==, 1);
  g_assert_cmpuint (hdr->format, ==, cap->format);
  g_assert_cmpuint (hdr->cookie_offset, ==, cap->cookie_offset);
  g_assert_false (hdr->byteswapped);
  g_assert_cmpuint (hdr->stream_offset, ==, cap->stream_offset);
  g_assert_cmpuint (hdr->stream_offset, ==, VK_SAVE_FIXED_HEADER_LEN + hdr->data_len);
  g_assert_true (g_str_has_prefix (hdr->xml, "<domain type='qemu'>"));
  g_assert_true (g_str_has_suffix (hdr->xml, "</domain>\n"));
  g_assert_nonnull (strstr (hdr->xml, "<name>vkcap-hdr</name>"));
  /* libvirt writes the cookie right after the XML's NUL. */
  g_assert_cmpuint (strlen (hdr->xml) + 1, ==, hdr->cookie_offset);
  g_assert_nonnull (hdr->cookie);
  g_assert_true (g_str_has_prefix (hdr->cookie, "<cookie>"));
  g_assert_true (g_str_has_suffix (hdr->cookie, "</cookie>\n"));
}

static void
test_real_parse (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  const guint8 *buf = g_bytes_get_data (bytes, NULL);

  check_real_fields (cap, hdr);
  /* The stream starts exactly at stream_offset. */
  g_assert_cmpmem (buf + hdr->stream_offset, 4, cap->stream_magic, 4);
  g_assert_cmpuint (VK_SAVE_FIXED_HEADER_LEN, ==, 92);

  /* The header and data area alone are enough. */
  {
    g_autoptr (VkSaveHeader) again = NULL;

    g_assert_true (vk_save_header_parse (buf, hdr->stream_offset, "test",
                                         &again, NULL));
    g_assert_cmpstr (again->xml, ==, hdr->xml);
  }
}

static void
test_real_read (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = NULL;
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *buf = g_bytes_get_data (bytes, &len);

  path = write_tmp (dir, "state.sav", buf, len);
  g_assert_true (vk_save_header_read (path, &hdr, &error));
  g_assert_no_error (error);
  check_real_fields (cap, hdr);
  rm_tmpdir (dir, (const char *const[]) { path, NULL });
}

/* Re-emitting the captured XML must reproduce libvirt's bytes exactly. */
static void
test_emit_identity (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = vk_save_header_emit (hdr, hdr->xml, -1, &error);

  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out),
                   g_bytes_get_data (bytes, NULL), hdr->stream_offset);
}

static char *
replace_name (const char *xml, const char *name)
{
  g_autoptr (GRegex) re = g_regex_new ("<name>[^<]*</name>", 0, 0, NULL);
  g_autofree char *repl = g_strdup_printf ("<name>%s</name>", name);

  return g_regex_replace_literal (re, xml, -1, 0, repl, 0, NULL);
}

/* Emits `xml` in place of the captured XML, glues the original stream after
 * it and checks what a restore would see. */
static void
check_reemit (const RealCapture *cap, const char *xml, int was_running)
{
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = vk_save_header_emit (hdr, xml, was_running, &error);
  g_autoptr (GByteArray) clone = g_byte_array_new ();
  g_autoptr (VkSaveHeader) back = NULL;
  gsize len;
  const guint8 *orig = g_bytes_get_data (bytes, &len);

  g_assert_no_error (error);
  g_assert_nonnull (out);
  g_assert_cmpuint (g_bytes_get_size (out), ==, hdr->stream_offset);

  g_byte_array_append (clone, g_bytes_get_data (out, NULL), g_bytes_get_size (out));
  g_byte_array_append (clone, orig + hdr->stream_offset, len - hdr->stream_offset);
  g_assert_true (vk_save_header_parse (clone->data, clone->len, "clone", &back,
                                       &error));
  g_assert_no_error (error);

  g_assert_cmpstr (back->xml, ==, xml);
  g_assert_cmpuint (back->stream_offset, ==, hdr->stream_offset);
  g_assert_cmpuint (back->data_len, ==, hdr->data_len);
  g_assert_cmpuint (back->version, ==, hdr->version);
  g_assert_cmpuint (back->format, ==, hdr->format);
  g_assert_cmpuint (back->was_running, ==,
                    was_running >= 0 ? (guint32) was_running : hdr->was_running);
  g_assert_cmpstr (back->cookie, ==, hdr->cookie);
  g_assert_cmpuint (back->cookie_offset, ==, strlen (xml) + 1);
  g_assert_cmpint (back->byteswapped, ==, hdr->byteswapped);
  /* The stream bytes are untouched and still at the same offset. */
  g_assert_cmpmem (clone->data + back->stream_offset, 4, cap->stream_magic, 4);
  g_assert_cmpmem (clone->data + back->stream_offset, len - hdr->stream_offset,
                   orig + hdr->stream_offset, len - hdr->stream_offset);
}

static void
test_emit_shorter (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  g_autofree char *xml = replace_name (hdr->xml, "c");

  g_assert_cmpuint (strlen (xml), <, strlen (hdr->xml));
  check_reemit (cap, xml, -1);
}

static void
test_emit_longer (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  g_autofree char *filler = g_strnfill (40000, 'x');
  g_autofree char *renamed = replace_name (hdr->xml, "vkcap-hdr-clone-with-a-longer-name");
  g_autoptr (GString) xml = g_string_new (renamed);
  gssize at = strstr (xml->str, "<memory") - xml->str;

  g_string_insert (xml, at, "<description>");
  g_string_insert (xml, at + 13, filler);
  g_string_insert (xml, at + 13 + 40000, "</description>\n  ");
  g_assert_cmpuint (xml->len, >, strlen (hdr->xml) + 40000);
  check_reemit (cap, xml->str, -1);
}

static void
test_emit_was_running (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);

  check_reemit (cap, hdr->xml, 0);
  check_reemit (cap, hdr->xml, 1);
}

/* Exactly full fits; one byte more is refused, saying by how much. */
static void
test_emit_limits (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  gsize room = hdr->data_len - (strlen (hdr->cookie) + 1) - 1;
  g_autoptr (GString) xml = g_string_new (hdr->xml);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = NULL;

  /* XML padded with trailing blanks to use every byte of the data area. */
  while (xml->len < room)
    g_string_append_c (xml, ' ');
  check_reemit (cap, xml->str, -1);

  g_string_append_c (xml, ' ');
  out = vk_save_header_emit (hdr, xml->str, -1, &error);
  g_assert_null (out);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  assert_message_has (error, (const char *const[]) { "does not fit",
                                                      "1 bytes too many", NULL });
}

static void
test_emit_too_large (gconstpointer data)
{
  const RealCapture *cap = data;
  g_autoptr (GBytes) bytes = load_real (cap);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  g_autofree char *xml = g_strnfill (100000, 'x');
  g_autofree char *excess = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = vk_save_header_emit (hdr, xml, -1, &error);

  g_assert_null (out);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  excess = g_strdup_printf ("%" G_GSIZE_FORMAT " bytes too many",
                            (gsize) 100001 + strlen (hdr->cookie) + 1 - hdr->data_len);
  assert_message_has (error, (const char *const[]) { "does not fit", excess, NULL });
}

static void
test_emit_empty_xml (void)
{
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autoptr (VkSaveHeader) hdr = parse_ok (bytes);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) out = vk_save_header_emit (hdr, "", -1, &error);

  g_assert_null (out);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
}

/* A header without cookie (cookieOffset 0) stays without one. */
static void
test_emit_no_cookie (void)
{
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autoptr (GByteArray) nocookie = g_byte_array_new ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (VkSaveHeader) back = NULL;
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GError) error = NULL;
  const guint32 zero = 0;

  g_byte_array_append (nocookie, g_bytes_get_data (bytes, NULL),
                       g_bytes_get_size (bytes));
  memcpy (nocookie->data + 32, &zero, 4);
  /* as libvirt writes it without a cookie: zeros after the XML */
  memset (nocookie->data + 92 + real_raw.cookie_offset, 0,
          real_raw.data_len - real_raw.cookie_offset);
  g_assert_true (vk_save_header_parse (nocookie->data, nocookie->len, "t",
                                       &hdr, &error));
  g_assert_null (hdr->cookie);
  g_assert_cmpuint (hdr->cookie_offset, ==, 0);

  out = vk_save_header_emit (hdr, "<domain/>", -1, &error);
  g_assert_no_error (error);
  g_assert_true (vk_save_header_parse (g_bytes_get_data (out, NULL),
                                       g_bytes_get_size (out), "t", &back, &error));
  g_assert_cmpstr (back->xml, ==, "<domain/>");
  g_assert_null (back->cookie);
  g_assert_cmpuint (back->cookie_offset, ==, 0);
  g_assert_cmpuint (le32_at (out, 32), ==, 0);
}

/* data_len that reaches into QEMU's stream (libvirt pads the data area
 * with zeros, so stream bytes show up after the cookie) is refused,
 * naming where: the stream would be read from the wrong offset. */
static void
test_data_len_into_stream (void)
{
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;
  guint32 longer = GUINT32_TO_LE (real_raw.data_len + 64);

  g_byte_array_append (buf, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  memcpy (buf->data + 20, &longer, 4);
  g_assert_false (vk_save_header_parse (buf->data, buf->len, "t", &hdr, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_autofree char *at = g_strdup_printf ("at byte %u of the area", real_raw.data_len);
  assert_message_has (error, (const char *const[]) { "t", "data_len points into the stream",
                                                      at, NULL });
}

/* A header written on a big-endian host: detected, and re-emitted in the
 * same byte order so that host can restore the clone. */
static void
test_byteswapped (void)
{
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autoptr (GByteArray) be = g_byte_array_new ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (VkSaveHeader) back = NULL;
  g_autoptr (GBytes) same = NULL;
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GError) error = NULL;

  g_byte_array_append (be, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  for (gsize off = 16; off < 36; off += 4)
    {
      guint32 v;
      memcpy (&v, be->data + off, 4);
      v = GUINT32_SWAP_LE_BE (v);
      memcpy (be->data + off, &v, 4);
    }
  g_assert_true (vk_save_header_parse (be->data, be->len, "be", &hdr, &error));
  g_assert_no_error (error);
  g_assert_true (hdr->byteswapped);
  g_assert_cmpuint (hdr->version, ==, 2);
  g_assert_cmpuint (hdr->data_len, ==, real_raw.data_len);
  g_assert_cmpuint (hdr->cookie_offset, ==, real_raw.cookie_offset);
  g_assert_cmpuint (hdr->was_running, ==, 1);

  same = vk_save_header_emit (hdr, hdr->xml, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (same, NULL), g_bytes_get_size (same),
                   be->data, hdr->stream_offset);

  out = vk_save_header_emit (hdr, "<domain type='qemu'/>", 0, &error);
  g_assert_no_error (error);
  g_assert_true (vk_save_header_parse (g_bytes_get_data (out, NULL),
                                       g_bytes_get_size (out), "be", &back, &error));
  g_assert_true (back->byteswapped);
  g_assert_cmpuint (back->was_running, ==, 0);
  g_assert_cmpuint (back->cookie_offset, ==, strlen ("<domain type='qemu'/>") + 1);
  g_assert_cmpstr (back->cookie, ==, hdr->cookie);
  /* version 2 in big-endian order */
  g_assert_cmpuint (le32_at (out, 16), ==, GUINT32_SWAP_LE_BE (2));
}

/* ------------------------------------------------------ damaged files */

static void
put_le32 (GByteArray *a, guint32 v)
{
  guint32 le = GUINT32_TO_LE (v);
  g_byte_array_append (a, (const guint8 *) &le, 4);
}

/* Each damaged file is derived from the real capture at run time, so that it
 * differs from what libvirt 9.0 wrote in exactly the way its name says. */
static GBytes *
make_bad (const char *name)
{
  g_autoptr (GBytes) hb = load_fixture ("real-raw.head");
  g_autoptr (GBytes) sb = load_fixture ("real-raw.stream");
  gsize hlen, slen;
  const guint8 *head = g_bytes_get_data (hb, &hlen);
  const guint8 *stream = g_bytes_get_data (sb, &slen);
  GByteArray *a = g_byte_array_new ();

  if (g_str_equal (name, "partial.sav"))
    {
      /* the save was interrupted: libvirt writes this magic first */
      g_byte_array_append (a, (const guint8 *) VK_SAVE_MAGIC_PARTIAL, 16);
      g_byte_array_append (a, head + 16, hlen - 16);
    }
  else if (g_str_equal (name, "truncated-fixed.sav"))
    g_byte_array_append (a, head, 50);            /* cut inside the header */
  else if (g_str_equal (name, "truncated-data.sav"))
    g_byte_array_append (a, head, 600);           /* cut inside the XML */
  else if (g_str_equal (name, "version3.sav"))
    {
      g_byte_array_append (a, head, 16);
      put_le32 (a, 3);
      g_byte_array_append (a, head + 20, hlen - 20);
    }
  else if (g_str_equal (name, "garbage-magic.sav"))
    g_byte_array_append (a, stream, 256);         /* a bare QEMU stream */
  else if (g_str_equal (name, "xml-unterminated.sav"))
    {
      char xml[64];
      const char *t = "<domain type='qemu'><name>unterminated</name></domain>";
      memset (xml, ' ', sizeof xml);
      memcpy (xml, t, strlen (t));
      g_byte_array_append (a, (const guint8 *) VK_SAVE_MAGIC, 16);
      put_le32 (a, 2);
      put_le32 (a, sizeof xml);
      put_le32 (a, 1);
      put_le32 (a, 0);
      put_le32 (a, 0);
      g_byte_array_set_size (a, VK_SAVE_FIXED_HEADER_LEN);
      memset (a->data + 36, 0, VK_SAVE_FIXED_HEADER_LEN - 36);
      g_byte_array_append (a, (const guint8 *) xml, sizeof xml);
      g_byte_array_append (a, stream, 64);
    }
  else if (g_str_equal (name, "no-stream.sav"))
    {
      /* the real XML and cookie with 16 bytes of padding, and no stream */
      gsize body = hlen - VK_SAVE_FIXED_HEADER_LEN;
      g_byte_array_append (a, head, 20);
      put_le32 (a, body + 16);
      g_byte_array_append (a, head + 24, hlen - 24);
      g_byte_array_set_size (a, a->len + 16);
      memset (a->data + a->len - 16, 0, 16);
    }
  else
    g_assert_not_reached ();
  return g_byte_array_free_to_bytes (a);
}

typedef struct {
  const char *file;
  gboolean parse_ok;                 /* vk_save_header_parse on the bytes */
  const char *parse_expect[4];
  const char *read_expect[4];        /* vk_save_header_read on the file */
} BadFile;

static const BadFile bad_files[] = {
  { "partial.sav", FALSE,
    { "is incomplete (magic LibvirtQemudPart)", "the save was interrupted",
      "remove it and hibernate again", NULL },
    { "is incomplete", "partial.sav", NULL } },
  { "truncated-fixed.sav", FALSE,
    { "is truncated", "50 bytes", NULL },
    { "is truncated", "truncated-fixed.sav", NULL } },
  { "truncated-data.sav", FALSE,
    { "is truncated", "66726 bytes", "only 600", NULL },
    { "is truncated", "truncated-data.sav", "66726", NULL } },
  { "version3.sav", FALSE,
    { "unsupported save image version 3", NULL },
    { "version 3", "version3.sav", NULL } },
  { "garbage-magic.sav", FALSE,
    { "is not a libvirt save image", "QEVM", NULL },
    { "is not a libvirt save image", "garbage-magic.sav", NULL } },
  { "xml-unterminated.sav", FALSE,
    { "domain XML is not terminated", "64-byte", NULL },
    { "not terminated", "xml-unterminated.sav", NULL } },
  { "no-stream.sav", TRUE,
    { NULL },
    { "no-stream.sav", "holds no guest memory", NULL } },
};

static void
test_bad_file (gconstpointer data)
{
  const BadFile *c = data;
  g_autoptr (GBytes) bytes = make_bad (c->file);
  g_autofree char *dir = make_tmpdir ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (VkSaveHeader) hdr2 = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *buf = g_bytes_get_data (bytes, &len);
  gboolean ok;

  g_assert_cmpuint (len, <, 64 * 1024);

  ok = vk_save_header_parse (buf, len, c->file, &hdr, &error);
  if (c->parse_ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      g_assert_null (hdr);
      g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
      assert_message_has (error, c->parse_expect);
      g_assert_nonnull (strstr (error->message, c->file));
    }
  g_clear_error (&error);

  g_autofree char *path = write_tmp (dir, c->file, buf, len);
  ok = vk_save_header_read (path, &hdr2, &error);
  g_assert_false (ok);
  g_assert_null (hdr2);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, c->read_expect);
  g_unlink (path);
  g_rmdir (dir);
}

/* Single-field damage to the real header. */
typedef struct {
  const char *name;
  gsize offset;      /* where to write */
  guint32 value;     /* little-endian u32 written there */
  gboolean raw_byte; /* write one byte `value` instead */
  const char *expect[3];
} Mutation;

static const Mutation mutations[] = {
  { "version-1", 16, 1, FALSE, { "unsupported save image version 1", "very old", NULL } },
  { "version-0", 16, 0, FALSE, { "version 0", NULL } },
  { "version-big-endian-3", 16, 0x03000000, FALSE, { "version 3", "newer", NULL } },
  { "format-7", 28, 7, FALSE, { "unknown stream format 7", "6 sparse", NULL } },
  { "format-99", 28, 99, FALSE, { "unknown stream format 99", NULL } },
  { "data-len-0", 20, 0, FALSE, { "empty data area", NULL } },
  { "data-len-huge", 20, 0xffffffffu, FALSE, { "is truncated", "4294967387", NULL } },
  { "cookie-offset-at-end", 32, 66634, FALSE, { "cookie offset 66634", "66634-byte", NULL } },
  { "cookie-offset-past-end", 32, 0x7fffffff, FALSE, { "cookie offset 2147483647", NULL } },
  { "xml-empty", 92, 0, TRUE, { "no readable domain XML", NULL } },
  { "xml-not-utf8", 93, 0xff, TRUE, { "no readable domain XML", NULL } },
  { "magic-lower-case", 0, 'l', TRUE, { "not a libvirt save image", "libvirtQemudSave", NULL } },
  { "magic-nul", 3, 0, TRUE, { "Lib\\x00irtQemudSave", NULL } },
};

static void
test_mutation (gconstpointer data)
{
  const Mutation *m = data;
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;

  g_byte_array_append (buf, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (m->raw_byte)
    buf->data[m->offset] = (guint8) m->value;
  else
    {
      guint32 v = GUINT32_TO_LE (m->value);
      memcpy (buf->data + m->offset, &v, 4);
    }
  g_assert_false (vk_save_header_parse (buf->data, buf->len, "/x/state.sav",
                                        &hdr, &error));
  g_assert_null (hdr);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, m->expect);
  g_assert_nonnull (strstr (error->message, "/x/state.sav"));
}

/* libvirt's newer formats parse; whether this host's libvirt restores them
 * is a separate check that names both versions. */
static void
test_newer_formats (void)
{
  static const struct { guint32 format; const char *name; guint32 min; } f[] = {
    { 0, "raw", 0 }, { 1, "gzip", 0 }, { 2, "bzip2", 0 }, { 3, "xz", 0 }, { 4, "lzop", 0 },
    { 5, "zstd", 10004000 }, { 6, "sparse", 11002000 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (f); i++)
    {
      g_autoptr (GBytes) bytes = load_real (&real_raw);
      g_autoptr (GByteArray) buf = g_byte_array_new ();
      g_autoptr (VkSaveHeader) hdr = NULL;
      g_autoptr (GError) error = NULL;
      g_byte_array_append (buf, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
      guint32 v = GUINT32_TO_LE (f[i].format);
      memcpy (buf->data + 28, &v, 4);
      g_assert_true (vk_save_header_parse (buf->data, buf->len, "x", &hdr, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (hdr->format, ==, f[i].format);
      g_assert_cmpstr (vk_save_format_name (f[i].format), ==, f[i].name);
      g_assert_cmpint (vk_save_format_from_name (f[i].name), ==, (int) f[i].format);
      g_assert_cmpuint (vk_save_format_min_libvirt (f[i].format), ==, f[i].min);
      g_assert_cmpint (VK_SAVE_FORMAT_IS_STREAM (f[i].format), ==, f[i].format != 6);
      /* the emitted clone header keeps the format */
      g_autoptr (GBytes) out = vk_save_header_emit (hdr, hdr->xml, -1, &error);
      g_assert_no_error (error);
      g_autoptr (VkSaveHeader) back = NULL;
      g_assert_true (vk_save_header_parse (g_bytes_get_data (out, NULL), g_bytes_get_size (out),
                                           "y", &back, &error));
      g_assert_cmpuint (back->format, ==, f[i].format);
      /* libvirt 11.3 restores them all; 9.0 only the old ones */
      g_assert_true (vk_save_format_check_restorable (f[i].format, 11003000, "image 'a'",
                                                      "11.3.0", &error));
      gboolean ok9 = vk_save_format_check_restorable (f[i].format, 9000000, "image 'a'",
                                                      "11.3.0", &error);
      g_assert_cmpint (ok9, ==, f[i].min == 0);
      if (!ok9)
        {
          g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
          g_autofree char *need = g_strdup_printf ("needs libvirt %u.%u.0", f[i].min / 1000000,
                                                   (f[i].min / 1000) % 1000);
          assert_message_has (error, (const char *const[]) { "image 'a'", f[i].name,
                                                              "libvirt 11.3.0", "libvirt 9.0.0",
                                                              need, NULL });
        }
    }
  g_assert_null (vk_save_format_name (7));
  g_assert_cmpint (vk_save_format_from_name ("lz4"), ==, -1);
  g_assert_cmpint (vk_save_format_from_name (NULL), ==, -1);
}

/* The cookie runs to the end of the data area; without a NUL it is damage. */
static void
test_cookie_unterminated (void)
{
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;

  g_byte_array_append (buf, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  memset (buf->data + 92 + real_raw.cookie_offset, 'c',
          real_raw.data_len - real_raw.cookie_offset);
  g_assert_false (vk_save_header_parse (buf->data, buf->len, "t", &hdr, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, (const char *const[]) { "cookie at offset 862",
                                                      "not terminated", NULL });
}

static void
test_empty_buffer (void)
{
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (vk_save_header_parse (NULL, 0, "empty", &hdr, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, (const char *const[]) { "empty", "is truncated",
                                                      "0 bytes", NULL });
}

static void
test_read_missing (void)
{
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (vk_save_header_read ("/nonexistent/vmkeep/state.sav", &hdr,
                                       &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  assert_message_has (error, (const char *const[]) { "/nonexistent/vmkeep/state.sav",
                                                      NULL });
}

static void
test_read_directory (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (vk_save_header_read (dir, &hdr, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, (const char *const[]) { dir, "directory", NULL });
  g_rmdir (dir);
}

/* A damaged data_len must be refused before it becomes an allocation. */
static void
test_read_huge_data_len (void)
{
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = NULL;
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;
  guint32 v = GUINT32_TO_LE (0xfffffff0u);

  g_byte_array_append (buf, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  memcpy (buf->data + 20, &v, 4);
  path = write_tmp (dir, "huge.sav", buf->data, buf->len);
  g_assert_false (vk_save_header_read (path, &hdr, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, (const char *const[]) { "far more", "huge.sav", NULL });
  rm_tmpdir (dir, (const char *const[]) { path, NULL });
}

typedef struct {
  char *path;
  GBytes *bytes;
} FifoWriter;

static gpointer
fifo_writer (gpointer data)
{
  FifoWriter *w = data;
  gsize len;
  const guint8 *buf = g_bytes_get_data (w->bytes, &len);
  FILE *f = fopen (w->path, "wb");

  /* The reader stops after the data area; a short write (EPIPE) is fine. */
  if (f != NULL)
    {
      fwrite (buf, 1, len, f);
      fclose (f);
    }
  return NULL;
}

/* libvirt restores from a FIFO; vmkeep reads headers from one too (no size
 * to check, the data area still must be complete). */
static void
test_read_fifo (void)
{
  g_autoptr (GBytes) bytes = load_real (&real_raw);
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "state.fifo", NULL);
  g_autoptr (VkSaveHeader) hdr = NULL;
  g_autoptr (GError) error = NULL;
  FifoWriter w = { path, bytes };
  GThread *thread;

  g_assert_cmpint (mkfifo (path, 0600), ==, 0);
  thread = g_thread_new ("fifo-writer", fifo_writer, &w);
  g_assert_true (vk_save_header_read (path, &hdr, &error));
  g_assert_no_error (error);
  g_thread_join (thread);
  check_real_fields (&real_raw, hdr);
  rm_tmpdir (dir, (const char *const[]) { path, NULL });
}

/* ------------------------------------------------------------------ main */

int
main (int argc, char **argv)
{
  static const struct {
    const char *name;
    GTestDataFunc func;
  } real_tests[] = {
    { "parse", test_real_parse },
    { "read", test_real_read },
    { "emit/identity", test_emit_identity },
    { "emit/shorter", test_emit_shorter },
    { "emit/longer", test_emit_longer },
    { "emit/was-running", test_emit_was_running },
    { "emit/exactly-full", test_emit_limits },
    { "emit/too-large", test_emit_too_large },
  };
  const RealCapture *caps[] = { &real_raw, &real_gzip };

  /* The FIFO test's writer may see its reader go away. */
  signal (SIGPIPE, SIG_IGN);
  g_test_init (&argc, &argv, NULL);

  for (gsize c = 0; c < G_N_ELEMENTS (caps); c++)
    for (gsize t = 0; t < G_N_ELEMENTS (real_tests); t++)
      {
        g_autofree char *path = g_strdup_printf ("/save-header/%s/%s", caps[c]->name,
                                                 real_tests[t].name);
        g_test_add_data_func (path, caps[c], real_tests[t].func);
      }
  for (gsize i = 0; i < G_N_ELEMENTS (bad_files); i++)
    {
      g_autofree char *path = g_strdup_printf ("/save-header/fixture/%s",
                                               bad_files[i].file);
      g_test_add_data_func (path, &bad_files[i], test_bad_file);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (mutations); i++)
    {
      g_autofree char *path = g_strdup_printf ("/save-header/damaged/%s",
                                               mutations[i].name);
      g_test_add_data_func (path, &mutations[i], test_mutation);
    }
  g_test_add_func ("/save-header/newer-formats", test_newer_formats);
  g_test_add_func ("/save-header/damaged/cookie-unterminated", test_cookie_unterminated);
  g_test_add_func ("/save-header/damaged/empty-buffer", test_empty_buffer);
  g_test_add_func ("/save-header/emit/empty-xml", test_emit_empty_xml);
  g_test_add_func ("/save-header/emit/no-cookie", test_emit_no_cookie);
  g_test_add_func ("/save-header/damaged/data-len-into-stream", test_data_len_into_stream);
  g_test_add_func ("/save-header/byteswapped", test_byteswapped);
  g_test_add_func ("/save-header/read/missing", test_read_missing);
  g_test_add_func ("/save-header/read/directory", test_read_directory);
  g_test_add_func ("/save-header/read/huge-data-len", test_read_huge_data_len);
  g_test_add_func ("/save-header/read/fifo", test_read_fifo);

  return g_test_run ();
}
