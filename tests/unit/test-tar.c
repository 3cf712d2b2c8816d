/* Unit tests for src/core/tar.c: round trips, GNU tar interoperability in
 * both directions (when tar(1) is installed), and the reader's refusals:
 * truncated streams, damaged headers, path traversal, links and devices. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "sha256.h"
#include "tar.h"
#include "vk-error.h"
#include "vk-test.h"

/* ---------------------------------------------------------------- helpers */

static char *
make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("vmkeep-tar-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
rm_rf (const char *path)
{
  const char *argv[] = { "rm", "-rf", "--", path, NULL };
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error (error);
}

static char *
sha_of (const void *data, gsize len)
{
  g_autoptr(VkSha256) s = vk_sha256_new ();

  vk_sha256_update (s, data, len);
  return vk_sha256_hex (s);
}

/* Deterministic bytes with runs of zeros (for the sparse path). */
static guint8 *
pattern (gsize len)
{
  guint8 *p = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    p[i] = (i / 8192) % 3 == 1 ? 0 : (guint8) (i * 7 + 3);
  return p;
}

static void
write_file (const char *path, const void *data, gsize len)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, data, (gssize) len, &error));
  g_assert_no_error (error);
}

static int
open_read (const char *path)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static int
open_write (const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

static gboolean
have_gnu_tar (void)
{
  g_autofree char *out = NULL;
  const char *argv[] = { "tar", "--version", NULL };

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, NULL, NULL))
    return FALSE;
  return out != NULL && strstr (out, "GNU tar") != NULL;
}

static void
run_ok (const char *const *argv, const char *cwd, char **out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (cwd, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
                               &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("%s failed: %s", argv[0], err ? err : "");
}

typedef struct {
  const char *name;
  gsize len;
} Spec;

/* Sizes around block boundaries, an empty member, one over the 1 MiB
 * chunk, and a name that needs a pax header. */
static const Spec specs[] = {
  { "image.xml", 1234 },
  { "empty", 0 },
  { "b511", 511 },
  { "b512", 512 },
  { "b513", 513 },
  { "disks/vda.qcow2", (1 << 20) + 4097 },
  { "a-very-long-directory-name-that-goes-on-and-on/and-a-file-name-that-makes-the-whole-"
    "thing-longer-than-one-hundred-bytes.bin", 700 },
  { NULL, 0 },
};

/* Write `specs` to `path`: even members via add_fd, odd ones via add_data. */
static void
write_archive (const char *dir, const char *path)
{
  int out = open_write (path);
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (out, path);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; specs[i].name; i++)
    {
      g_autofree guint8 *data = pattern (specs[i].len);
      if (i % 2 == 0)
        {
          g_autofree char *src = g_build_filename (dir, "src.bin", NULL);
          write_file (src, data, specs[i].len);
          int fd = open_read (src);
          g_autofree char *sha = NULL;
          g_assert_true (vk_tar_writer_add_fd (w, specs[i].name, fd, src, specs[i].len, 0600,
                                               1700000000, &sha, &error));
          g_assert_no_error (error);
          g_autofree char *want = sha_of (data, specs[i].len);
          g_assert_cmpstr (sha, ==, want);
          close (fd);
        }
      else
        {
          g_assert_true (vk_tar_writer_add_data (w, specs[i].name, data, specs[i].len, 0644,
                                                 1700000000, &error));
          g_assert_no_error (error);
        }
    }
  g_assert_true (vk_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vk_tar_writer_offset (w) % VK_TAR_RECORD, ==, 0);
  close (out);
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  g_assert_cmpuint ((guint64) st.st_size, ==, vk_tar_writer_offset (w));
}

/* Read `path` and check it holds exactly `specs`, extracting every other
 * member sparsely into `dir`. */
static void
check_archive (const char *dir, const char *path)
{
  int in = open_read (path);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in, path);
  g_autoptr(GError) error = NULL;
  guint i = 0;

  for (;; i++)
    {
      g_autoptr(VkTarEntry) e = NULL;
      g_assert_true (vk_tar_reader_next (r, &e, &error));
      g_assert_no_error (error);
      if (e == NULL)
        break;
      /* GNU tar adds directory entries when it archives a tree */
      if (e->type == VK_TAR_DIR)
        {
          i--;
          continue;
        }
      g_assert_nonnull (specs[i].name);
      g_assert_cmpstr (e->name, ==, specs[i].name);
      g_assert_cmpuint (e->size, ==, specs[i].len);
      g_autofree guint8 *want = pattern (specs[i].len);
      g_autofree char *want_sha = sha_of (want, specs[i].len);
      g_autofree char *sha = NULL;
      if (i % 3 == 0)
        {
          /* skipped without reading: next() must step over it */
          continue;
        }
      if (i % 3 == 1)
        {
          g_autoptr(GBytes) b = vk_tar_reader_read (r, 16 << 20, &sha, &error);
          g_assert_no_error (error);
          g_assert_nonnull (b);
          g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), want,
                           specs[i].len);
        }
      else
        {
          g_autofree char *out = g_build_filename (dir, "out.bin", NULL);
          int fd = open_write (out);
          g_assert_true (vk_tar_reader_copy (r, fd, out, TRUE, &sha, &error));
          g_assert_no_error (error);
          close (fd);
          g_autofree char *got = NULL;
          gsize len = 0;
          g_assert_true (g_file_get_contents (out, &got, &len, NULL));
          g_assert_cmpmem (got, len, want, specs[i].len);
        }
      g_assert_cmpstr (sha, ==, want_sha);
    }
  g_assert_null (specs[i].name);
  close (in);
}

/* ------------------------------------------------------------------ tests */

static void
test_round_trip (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);

  write_archive (dir, path);
  check_archive (dir, path);
  rm_rf (dir);
}

/* GNU tar lists and extracts what we write, byte for byte. */
static void
test_gnu_tar_reads_ours (void)
{
  if (!have_gnu_tar ())
    {
      vk_test_skip_or_fail ("GNU tar is not installed");
      return;
    }
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  g_autofree char *x = g_build_filename (dir, "x", NULL);

  write_archive (dir, path);
  g_assert_cmpint (g_mkdir (x, 0700), ==, 0);
  g_autofree char *listing = NULL;
  const char *list[] = { "tar", "-tf", path, NULL };
  run_ok (list, NULL, &listing);
  g_auto(GStrv) names = g_strsplit (g_strstrip (listing), "\n", -1);
  g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (specs) - 1);
  const char *extract[] = { "tar", "-xf", path, NULL };
  run_ok (extract, x, NULL);
  for (guint i = 0; specs[i].name; i++)
    {
      g_assert_cmpstr (names[i], ==, specs[i].name);
      g_autofree char *f = g_build_filename (x, specs[i].name, NULL);
      g_autofree char *got = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (f, &got, &len, NULL));
      g_autofree guint8 *want = pattern (specs[i].len);
      g_assert_cmpmem (got, len, want, specs[i].len);
    }
  rm_rf (dir);
}

/* What GNU tar writes (pax and its own gnu format, with directory entries
 * and "./" names) reads back. */
static void
test_ours_reads_gnu_tar (void)
{
  if (!have_gnu_tar ())
    {
      vk_test_skip_or_fail ("GNU tar is not installed");
      return;
    }
  const char *formats[] = { "pax", "gnu", "ustar" };
  for (gsize k = 0; k < G_N_ELEMENTS (formats); k++)
    {
      g_autofree char *dir = make_tmpdir ();
      g_autofree char *x = g_build_filename (dir, "x", NULL);
      g_autofree char *path = g_build_filename (dir, "g.tar", NULL);
      g_assert_cmpint (g_mkdir (x, 0700), ==, 0);
      g_autoptr(GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (args, g_strdup ("tar"));
      g_ptr_array_add (args, g_strdup ("-cf"));
      g_ptr_array_add (args, g_strdup (path));
      g_ptr_array_add (args, g_strdup_printf ("--format=%s", formats[k]));
      g_ptr_array_add (args, g_strdup ("--no-recursion"));
      for (guint i = 0; specs[i].name; i++)
        {
          /* ustar cannot hold the long name in one piece but splits it
           * into prefix and name: that is tested too */
          g_autofree char *f = g_build_filename (x, specs[i].name, NULL);
          g_autofree char *d = g_path_get_dirname (f);
          g_mkdir_with_parents (d, 0700);
          g_autofree guint8 *data = pattern (specs[i].len);
          write_file (f, data, specs[i].len);
          if (strchr (specs[i].name, '/'))
            {
              g_autofree char *rel = g_path_get_dirname (specs[i].name);
              g_ptr_array_add (args, g_strconcat ("./", rel, NULL));
            }
          g_ptr_array_add (args, g_strconcat ("./", specs[i].name, NULL));
        }
      g_ptr_array_add (args, NULL);
      run_ok ((const char *const *) args->pdata, x, NULL);
      check_archive (dir, path);
      rm_rf (dir);
    }
}

/* An archive in memory, header by header, for the refusals. */
static void
raw_header (GByteArray *a, const char *name, char type, guint64 size, const char *magic)
{
  guint8 h[512] = { 0 };
  memcpy (h, name, MIN (strlen (name), 100));
  memcpy (h + 100, "0000600", 8);
  memcpy (h + 108, "0000000", 8);
  memcpy (h + 116, "0000000", 8);
  g_snprintf ((char *) h + 124, 12, "%011" G_GINT64_MODIFIER "o", size);
  memcpy (h + 136, "00000000000", 12);
  h[156] = (guint8) type;
  memcpy (h + 257, magic ? magic : "ustar\0" "00", 8);
  memset (h + 148, ' ', 8);
  guint sum = 0;
  for (int i = 0; i < 512; i++)
    sum += h[i];
  g_snprintf ((char *) h + 148, 8, "%06o", sum);
  h[155] = ' ';
  g_byte_array_append (a, h, 512);
}

static void
raw_data (GByteArray *a, const void *data, gsize len)
{
  static const guint8 zero[512];
  g_byte_array_append (a, data, (guint) len);
  if (len % 512)
    g_byte_array_append (a, zero, (guint) (512 - len % 512));
}

static void
raw_end (GByteArray *a)
{
  static const guint8 zero[1024];
  g_byte_array_append (a, zero, 1024);
}

/* Read a whole archive held in `a`; the first error (or NULL) and the
 * names seen. */
static GError *
read_all (GByteArray *a, GPtrArray *names)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "t.tar", NULL);
  write_file (path, a->data, a->len);
  int fd = open_read (path);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (fd, "t.tar");
  GError *error = NULL;
  for (;;)
    {
      g_autoptr(VkTarEntry) e = NULL;
      if (!vk_tar_reader_next (r, &e, &error))
        break;
      if (e == NULL)
        break;
      if (names)
        g_ptr_array_add (names, g_strdup (e->name));
      if (!vk_tar_reader_copy (r, -1, "discard", FALSE, NULL, &error))
        break;
    }
  close (fd);
  rm_rf (dir);
  return error;
}

static void
assert_refused (GError *error, const char *fragment)
{
  g_assert_nonnull (error);
  g_test_message ("refused: %s", error->message);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  if (fragment)
    g_assert_nonnull (strstr (error->message, fragment));
  g_error_free (error);
}

static void
test_truncated (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  write_archive (dir, path);
  g_autofree char *all = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &all, &len, NULL));
  /* cut inside a header, inside data, inside padding, at a member
   * boundary, and just before the end-of-archive blocks */
  gsize cuts[] = { 0, 100, 512, 512 + 1000, 512 + 1234 + 5, 2048, len / 2,
                   len - VK_TAR_RECORD + 1, 0 };
  for (gsize k = 0; k < G_N_ELEMENTS (cuts); k++)
    {
      gsize cut = cuts[k];
      if (k == G_N_ELEMENTS (cuts) - 1)
        {
          /* right after the last member's data: only the zero blocks are
           * missing */
          static const char zero[512];
          cut = len;
          while (cut >= 512 && memcmp (all + cut - 512, zero, 512) == 0)
            cut -= 512;
        }
      if (cut >= len)
        continue;
      g_autoptr(GByteArray) a = g_byte_array_new ();
      g_byte_array_append (a, (guint8 *) all, (guint) cut);
      GError *e = read_all (a, NULL);
      g_test_message ("cut at %" G_GSIZE_FORMAT, cut);
      assert_refused (e, "truncated");
    }
  rm_rf (dir);
}

static void
test_bad_checksum (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  raw_header (a, "image.xml", '0', 3, NULL);
  raw_data (a, "abc", 3);
  raw_end (a);
  a->data[10] ^= 0x40; /* a byte of the name */
  assert_refused (read_all (a, NULL), "checksum");
}

static void
test_not_tar (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  raw_header (a, "image.xml", '0', 3, "notustar");
  raw_data (a, "abc", 3);
  raw_end (a);
  assert_refused (read_all (a, NULL), "ustar");
}

static void
test_traversal (void)
{
  const char *bad[] = { "../etc/passwd", "/etc/passwd", "a/../../b", "./../x", "a//b", "a/./b",
                        "..", "disks/..", "a\\b", NULL };
  for (guint i = 0; bad[i]; i++)
    {
      g_autoptr(GByteArray) a = g_byte_array_new ();
      raw_header (a, bad[i], '0', 1, NULL);
      raw_data (a, "x", 1);
      raw_end (a);
      g_test_message ("name %s", bad[i]);
      assert_refused (read_all (a, NULL), "refusing");
      g_assert_false (vk_tar_name_is_safe (bad[i]));
    }
  /* the same through a pax path record */
  g_autoptr(GByteArray) a = g_byte_array_new ();
  const char *rec = "25 path=../../etc/shadow\n";
  g_assert_cmpuint (strlen (rec), ==, 25);
  raw_header (a, "PaxHeaders/x", 'x', strlen (rec), NULL);
  raw_data (a, rec, strlen (rec));
  raw_header (a, "harmless", '0', 1, NULL);
  raw_data (a, "x", 1);
  raw_end (a);
  assert_refused (read_all (a, NULL), "refusing");

  const char *good[] = { "a", "disks/vda.qcow2", "image.xml", "a.b/c..d", NULL };
  for (guint i = 0; good[i]; i++)
    g_assert_true (vk_tar_name_is_safe (good[i]));
}

static void
test_dot_slash (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  raw_header (a, "./", '5', 0, NULL);
  raw_header (a, "./disks/", '5', 0, NULL);
  raw_header (a, "./disks/vda.raw", '0', 2, NULL);
  raw_data (a, "ab", 2);
  raw_end (a);
  g_assert_no_error (read_all (a, names));
  g_assert_cmpuint (names->len, ==, 2);
  g_assert_cmpstr (names->pdata[0], ==, "disks");
  g_assert_cmpstr (names->pdata[1], ==, "disks/vda.raw");
}

static void
test_links_refused (void)
{
  struct { char type; const char *what; } t[] = {
    { '1', "hard link" }, { '2', "symbolic link" }, { '3', "device" }, { '4', "device" },
    { '6', "FIFO" }, { 'S', "unknown" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (t); i++)
    {
      g_autoptr(GByteArray) a = g_byte_array_new ();
      raw_header (a, "state.sav", t[i].type, 0, NULL);
      raw_end (a);
      assert_refused (read_all (a, NULL), t[i].what);
    }
}

/* pax "size" overrides the header's size field (how sizes of 8 GiB and
 * more travel). */
static void
test_pax_size (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *rec = "12 size=600\n";
  g_autofree guint8 *data = pattern (600);
  raw_header (a, "PaxHeaders/big", 'x', strlen (rec), NULL);
  raw_data (a, rec, strlen (rec));
  raw_header (a, "big", '0', 0, NULL);
  raw_data (a, data, 600);
  raw_end (a);
  g_assert_no_error (read_all (a, names));
  g_assert_cmpuint (names->len, ==, 1);

  /* a malformed record is refused */
  g_autoptr(GByteArray) b = g_byte_array_new ();
  raw_header (b, "PaxHeaders/big", 'x', 9, NULL);
  raw_data (b, "99 size=1", 9);
  raw_header (b, "big", '0', 0, NULL);
  raw_end (b);
  assert_refused (read_all (b, NULL), "pax");
}

/* Safe member names may hold bytes that are not UTF-8, and so may a pax
 * record; messages quoting them must still be UTF-8 (--json prints them).
 * Found by fuzz/fuzz-tar (fuzz/regressions/tar/). */
static void
test_messages_utf8 (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  g_autoptr(GByteArray) b = g_byte_array_new ();
  GError *e;

  raw_header (a, "disks/n\x9b\x9bme.qcow2", '0', 5000, NULL);
  raw_data (a, "x", 1);
  e = read_all (a, NULL);
  g_assert_nonnull (e);
  g_assert_true (g_utf8_validate (e->message, -1, NULL));
  g_assert_nonnull (strstr (e->message, "n\\x9b\\x9bme"));
  assert_refused (e, "truncated");

  const char *rec = "12 size=1\xff" "2\n";
  g_assert_cmpuint (strlen (rec), ==, 12);
  raw_header (b, "PaxHeaders/big", 'x', strlen (rec), NULL);
  raw_data (b, rec, strlen (rec));
  raw_header (b, "big", '0', 0, NULL);
  raw_end (b);
  e = read_all (b, NULL);
  g_assert_nonnull (e);
  g_assert_true (g_utf8_validate (e->message, -1, NULL));
  assert_refused (e, "bad size");
}

static void
test_garbage_after_zero_block (void)
{
  g_autoptr(GByteArray) a = g_byte_array_new ();
  static const guint8 zero[512];
  raw_header (a, "a", '0', 1, NULL);
  raw_data (a, "x", 1);
  g_byte_array_append (a, zero, 512);
  raw_header (a, "b", '0', 1, NULL);
  raw_data (a, "y", 1);
  raw_end (a);
  assert_refused (read_all (a, NULL), "zero block");
}

static void
test_read_limit (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  write_archive (dir, path);
  int fd = open_read (path);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (fd, path);
  g_autoptr(VkTarEntry) e = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_tar_reader_next (r, &e, &error));
  g_assert_cmpstr (e->name, ==, "image.xml");
  g_assert_null (vk_tar_reader_read (r, 100, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  close (fd);
  rm_rf (dir);
}

/* A member of 8 GiB or more gets its size in a pax header (the ustar
 * field holds 11 octal digits). Checked without 8 GiB of data: the source
 * ends early, which fails the member, but its headers are already out and
 * the reader must see the full size in them. */
static void
test_pax_size_written (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *src = g_build_filename (dir, "s", NULL);
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  guint64 big = (G_GUINT64_CONSTANT (8) << 30) + 1;
  write_file (src, "abc", 3);
  int in = open_read (src);
  int out = open_write (path);
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (out, path);
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_tar_writer_add_fd (w, "state.sav", in, src, big, 0600, 0, NULL, &error));
  g_clear_error (&error);
  close (in);
  close (out);
  int fd = open_read (path);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (fd, path);
  g_autoptr(VkTarEntry) e = NULL;
  g_assert_true (vk_tar_reader_next (r, &e, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (e->name, ==, "state.sav");
  g_assert_cmpuint (e->size, ==, big);
  g_assert_false (vk_tar_reader_copy (r, -1, "discard", FALSE, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  close (fd);
  rm_rf (dir);
}

/* A source that shrinks under the writer is an error, not a short member. */
static void
test_source_shrank (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *src = g_build_filename (dir, "s", NULL);
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  write_file (src, "abc", 3);
  int in = open_read (src);
  int out = open_write (path);
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (out, path);
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_tar_writer_add_fd (w, "s", in, src, 10, 0600, 0, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  close (in);
  close (out);
  rm_rf (dir);
}

/* Zero runs become holes, the content is unchanged. */
static void
test_sparse (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  gsize len = 8 << 20;
  g_autofree guint8 *data = g_malloc0 (len);
  memset (data, 0x5a, 4096);
  memset (data + len - 100, 0x33, 100);
  int out = open_write (path);
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (out, path);
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_tar_writer_add_data (w, "disks/vda.raw", data, len, 0600, 0, &error));
  g_assert_true (vk_tar_writer_finish (w, &error));
  close (out);

  int in = open_read (path);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in, path);
  g_autoptr(VkTarEntry) e = NULL;
  g_assert_true (vk_tar_reader_next (r, &e, &error));
  g_autofree char *x = g_build_filename (dir, "vda.raw", NULL);
  int fd = open_write (x);
  g_assert_true (vk_tar_reader_copy (r, fd, x, TRUE, NULL, &error));
  g_assert_no_error (error);
  close (fd);
  g_autoptr(VkTarEntry) end = NULL;
  g_assert_true (vk_tar_reader_next (r, &end, &error));
  g_assert_null (end);
  close (in);
  struct stat st;
  g_assert_cmpint (stat (x, &st), ==, 0);
  g_assert_cmpuint ((guint64) st.st_size, ==, len);
  g_test_message ("%" G_GUINT64_FORMAT " bytes in %" G_GUINT64_FORMAT " blocks",
                  (guint64) st.st_size, (guint64) st.st_blocks);
  g_autofree char *got = NULL;
  gsize glen = 0;
  g_assert_true (g_file_get_contents (x, &got, &glen, NULL));
  g_assert_cmpmem (got, glen, data, len);
  rm_rf (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tar/round-trip", test_round_trip);
  g_test_add_func ("/tar/gnu-tar-reads-ours", test_gnu_tar_reads_ours);
  g_test_add_func ("/tar/ours-reads-gnu-tar", test_ours_reads_gnu_tar);
  g_test_add_func ("/tar/refuse/truncated", test_truncated);
  g_test_add_func ("/tar/refuse/bad-checksum", test_bad_checksum);
  g_test_add_func ("/tar/refuse/not-tar", test_not_tar);
  g_test_add_func ("/tar/refuse/traversal", test_traversal);
  g_test_add_func ("/tar/refuse/links-devices", test_links_refused);
  g_test_add_func ("/tar/refuse/garbage-after-zero-block", test_garbage_after_zero_block);
  g_test_add_func ("/tar/refuse/read-limit", test_read_limit);
  g_test_add_func ("/tar/refuse/messages-utf8", test_messages_utf8);
  g_test_add_func ("/tar/dot-slash-and-directories", test_dot_slash);
  g_test_add_func ("/tar/pax-size", test_pax_size);
  g_test_add_func ("/tar/pax-size-written", test_pax_size_written);
  g_test_add_func ("/tar/source-shrank", test_source_shrank);
  g_test_add_func ("/tar/sparse", test_sparse);

  return g_test_run ();
}
