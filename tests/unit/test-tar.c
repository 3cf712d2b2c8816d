/* Unit tests for the tar writer and reader (tar.h, src/core/archive.c):
 * round trips (small, empty, > 8 GiB and sparse members, long names),
 * interoperability with GNU tar (both directions), bsdtar and Python's
 * tarfile (when installed), streaming through pipes, cancellation, and the
 * reader's refusals: truncated streams, damaged headers and sparse maps,
 * path traversal, links, devices, FIFOs and absurd sizes, from archives
 * built by hand and by Python's tarfile. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

static gboolean
have_prog (const char *name)
{
  g_autofree char *p = g_find_program_in_path (name);
  return p != NULL;
}

/* SHA-256 of a file's content as read(2) gives it (holes as zeros), by
 * GLib's own implementation: a reference independent of sha256.c. */
static char *
file_sha (const char *path)
{
  g_autoptr(GChecksum) c = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *buf = g_malloc (1 << 20);
  int fd = open_read (path);
  ssize_t n;
  while ((n = read (fd, buf, 1 << 20)) > 0)
    g_checksum_update (c, buf, n);
  g_assert_cmpint (n, ==, 0);
  close (fd);
  return g_strdup (g_checksum_get_string (c));
}

static void
assert_same_file (const char *a, const char *b)
{
  g_autofree guint8 *x = g_malloc (1 << 20);
  g_autofree guint8 *y = g_malloc (1 << 20);
  int fa = open_read (a);
  int fb = open_read (b);
  for (;;)
    {
      ssize_t na = read (fa, x, 1 << 20);
      ssize_t nb = read (fb, y, 1 << 20);
      g_assert_cmpint (na, ==, nb);
      g_assert_cmpint (na, >=, 0);
      if (na == 0)
        break;
      g_assert_true (memcmp (x, y, (gsize) na) == 0);
    }
  close (fa);
  close (fb);
}

static guint64
allocated (const char *path)
{
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  return (guint64) st.st_blocks * 512;
}

static guint64
file_size (const char *path)
{
  struct stat st;
  g_assert_cmpint (stat (path, &st), ==, 0);
  return (guint64) st.st_size;
}

static void
pwrite_all (int fd, const void *data, gsize len, guint64 at)
{
  g_assert_cmpint (pwrite (fd, data, len, (off_t) at), ==, (gssize) len);
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
    { '6', "FIFO" }, { 'S', "unknown" }, { 'D', "unknown" }, { 'M', "unknown" },
    { 'N', "unknown" },
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
  /* libarchive reads the size up to the bad byte (1), so the stream
   * ends inside the member: refused either way, the wording is its own */
  assert_refused (e, "t.tar");
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

typedef struct {
  int fd;
  gsize len;
} Feed;

/* Write `len` bytes of pattern() into a pipe, then close it. */
static gpointer
feed_pipe (gpointer data)
{
  Feed *f = data;
  g_autofree guint8 *buf = pattern (f->len);
  gsize done = 0;
  while (done < f->len)
    {
      ssize_t n = write (f->fd, buf + done, f->len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      done += (gsize) n;
    }
  close (f->fd);
  return GSIZE_TO_POINTER (done);
}

/* A member of 8 GiB or more gets its size in a pax header (the ustar
 * field holds 11 octal digits). Checked without 8 GiB of data: the source
 * is a pipe that ends after 2 MiB, which fails the member, but by then
 * its headers and the first of its data are out and the reader must see
 * the full size in them. (A regular file shorter than its member is
 * refused before any header is written.) */
static void
test_pax_size_written (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  guint64 big = (G_GUINT64_CONSTANT (8) << 30) + 1;
  int p[2];
  g_assert_cmpint (pipe (p), ==, 0);
  Feed feed = { p[1], 2 << 20 };
  GThread *t = g_thread_new ("feed", feed_pipe, &feed);
  int out = open_write (path);
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (out, path);
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_tar_writer_add_fd (w, "state.sav", p[0], "pipe", big, 0600, 0, NULL,
                                        &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "ended after 2097152 of 8589934593 bytes"));
  g_clear_error (&error);
  g_thread_join (t);
  close (p[0]);
  g_clear_pointer (&w, vk_tar_writer_free);
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
  g_assert_nonnull (strstr (error->message, "truncated"));
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

/* ------------------------------------------------------ sparse and large */

/* A member of more than 8 GiB, round trip: the source is a sparse file
 * (three pages of data), so the stream stays small. No SHA-256 asked for:
 * 8 GiB of zeros would only time the hash. */
static void
test_large_member (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *src = g_build_filename (dir, "big.raw", NULL);
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  g_autofree char *x = g_build_filename (dir, "x.raw", NULL);
  guint64 size = (G_GUINT64_CONSTANT (8) << 30) + 4097;
  guint64 at[] = { 0, G_GUINT64_CONSTANT (4) << 30, size - 4097 };
  g_autofree guint8 *data = pattern (4097);
  int fd = open (src, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (at); i++)
    pwrite_all (fd, data, 4097, at[i]);
  g_assert_cmpuint (file_size (src), ==, size);

  int out = open_write (path);
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (out, path);
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_tar_writer_add_data (w, "image.xml", "<x/>", 4, 0600, 0, &error));
  g_assert_true (vk_tar_writer_add_fd (w, "disks/vda.raw", fd, src, size, 0600, 1700000000,
                                       NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vk_tar_writer_add_data (w, "manifest.json", "{}\n", 3, 0600, 0, &error));
  g_assert_true (vk_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  close (out);
  close (fd);
  g_test_message ("%" G_GUINT64_FORMAT " bytes of archive", file_size (path));
  g_assert_cmpuint (file_size (path), <, 1 << 20);

  if (have_gnu_tar ())
    {
      g_autofree char *listing = NULL;
      const char *list[] = { "tar", "-tvf", path, NULL };
      run_ok (list, NULL, &listing);
      g_assert_nonnull (strstr (listing, "8589938689"));
      g_assert_nonnull (strstr (listing, "disks/vda.raw"));
    }

  int in = open_read (path);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in, path);
  g_autoptr(VkTarEntry) e1 = NULL;
  g_autoptr(VkTarEntry) e2 = NULL;
  g_autoptr(VkTarEntry) e3 = NULL;
  g_autoptr(VkTarEntry) end = NULL;
  g_assert_true (vk_tar_reader_next (r, &e1, &error));
  g_assert_true (vk_tar_reader_next (r, &e2, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (e2->name, ==, "disks/vda.raw");
  g_assert_cmpuint (e2->size, ==, size);
  g_assert_cmpint (e2->mtime, ==, 1700000000);
  int xfd = open (x, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint (xfd, >=, 0);
  g_assert_true (vk_tar_reader_copy (r, xfd, x, TRUE, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (vk_tar_reader_next (r, &e3, &error));
  g_assert_cmpstr (e3->name, ==, "manifest.json");
  g_assert_true (vk_tar_reader_next (r, &end, &error));
  g_assert_no_error (error);
  g_assert_null (end);
  close (in);
  g_assert_cmpuint (file_size (x), ==, size);
  g_assert_cmpuint (allocated (x), <, 1 << 20);
  g_autofree guint8 *got = g_malloc (4097);
  for (gsize i = 0; i < G_N_ELEMENTS (at); i++)
    {
      g_assert_cmpint (pread (xfd, got, 4097, (off_t) at[i]), ==, 4097);
      g_assert_cmpmem (got, 4097, data, 4097);
    }
  g_assert_cmpint (pread (xfd, got, 4097, (off_t) (G_GUINT64_CONSTANT (2) << 30)), ==, 4097);
  g_assert_true (got[0] == 0 && memcmp (got, got + 1, 4096) == 0);
  close (xfd);
  rm_rf (dir);
}

#define MiB (G_GUINT64_CONSTANT (1) << 20)

/* data (1 MiB) / hole (64 MiB) / data (1 MiB) / hole (16 MiB) */
static void
make_holey (const char *path)
{
  g_autofree guint8 *a = pattern (MiB);
  g_autofree guint8 *b = g_malloc (MiB);
  for (gsize i = 0; i < MiB; i++)
    b[i] = (guint8) g_test_rand_int ();
  int fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  pwrite_all (fd, a, MiB, 0);
  pwrite_all (fd, b, MiB, 65 * MiB);
  g_assert_cmpint (ftruncate (fd, 82 * MiB), ==, 0);
  close (fd);
}

/* Extract `path` with `argv` (the archive last) into a new directory
 * `x` and compare what came out with the sources. */
static void
check_extracted (const char *const *argv, const char *x, const char *state, const char *disk)
{
  g_assert_cmpint (g_mkdir (x, 0700), ==, 0);
  run_ok (argv, x, NULL);
  g_autofree char *xs = g_build_filename (x, "state.sav", NULL);
  g_autofree char *xd = g_build_filename (x, "disks", "vda.raw", NULL);
  g_autofree char *xm = g_build_filename (x, "manifest.json", NULL);
  g_test_message ("%s: state.sav %" G_GUINT64_FORMAT " bytes in %" G_GUINT64_FORMAT
                  " allocated, vda.raw %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT, argv[0],
                  file_size (xs), allocated (xs), file_size (xd), allocated (xd));
  assert_same_file (xs, state);
  assert_same_file (xd, disk);
  g_assert_true (g_file_test (xm, G_FILE_TEST_IS_REGULAR));
  /* the holes are kept */
  g_assert_cmpuint (allocated (xs), <=, 4 * MiB);
  g_assert_cmpuint (allocated (xd), <=, MiB);
}

/* A file with holes is exported as a sparse member: the stream carries its
 * data only, the SHA-256 is the full content's, and every reader (ours,
 * three ways, GNU tar, bsdtar, Python's tarfile) gets the content back
 * with its holes. So is a file that is all hole. */
static void
test_sparse_member (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *state = g_build_filename (dir, "state.src", NULL);
  g_autofree char *disk = g_build_filename (dir, "disk.src", NULL);
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  g_autoptr(GError) error = NULL;
  make_holey (state);
  int dfd = open_write (disk);
  g_assert_cmpint (ftruncate (dfd, 32 * MiB), ==, 0);
  close (dfd);
  g_autofree char *want = file_sha (state);
  g_autofree char *want_disk = file_sha (disk);

  int out = open_write (path);
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (out, path);
  g_autofree char *sha = NULL;
  g_autofree char *sha_disk = NULL;
  int sfd = open_read (state);
  g_assert_true (vk_tar_writer_add_fd (w, "state.sav", sfd, state, 82 * MiB, 0600, 0, &sha,
                                       &error));
  g_assert_no_error (error);
  close (sfd);
  dfd = open_read (disk);
  g_assert_true (vk_tar_writer_add_fd (w, "disks/vda.raw", dfd, disk, 32 * MiB, 0600, 0,
                                       &sha_disk, &error));
  g_assert_no_error (error);
  close (dfd);
  g_assert_true (vk_tar_writer_add_data (w, "manifest.json", "{}\n", 3, 0600, 0, &error));
  g_assert_true (vk_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  close (out);
  g_assert_cmpstr (sha, ==, want);
  g_assert_cmpstr (sha_disk, ==, want_disk);
  g_test_message ("%" G_GUINT64_FORMAT " bytes of archive", file_size (path));
  g_assert_cmpuint (file_size (path), <, 2 * MiB + 64 * 1024);

  /* ours: to a sparse file, to a plain one, into memory */
  for (int how = 0; how < 3; how++)
    {
      int in = open_read (path);
      g_autoptr(VkTarReader) r = vk_tar_reader_new (in, path);
      g_autoptr(VkTarEntry) e = NULL;
      g_autoptr(VkTarEntry) d = NULL;
      g_autoptr(VkTarEntry) m = NULL;
      g_autoptr(VkTarEntry) end = NULL;
      g_autofree char *got = NULL;
      g_autofree char *got_disk = NULL;
      g_autofree char *x = g_build_filename (dir, "state.out", NULL);
      g_autofree char *xd = g_build_filename (dir, "disk.out", NULL);
      g_assert_true (vk_tar_reader_next (r, &e, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (e->name, ==, "state.sav");
      g_assert_cmpuint (e->size, ==, 82 * MiB);
      if (how < 2)
        {
          int fd = open_write (x);
          g_assert_true (vk_tar_reader_copy (r, fd, x, how == 0, &got, &error));
          g_assert_no_error (error);
          close (fd);
          assert_same_file (x, state);
          if (how == 0)
            g_assert_cmpuint (allocated (x), <=, 4 * MiB);
        }
      else
        {
          g_autoptr(GBytes) b = vk_tar_reader_read (r, 128 * MiB, &got, &error);
          g_assert_no_error (error);
          g_autofree char *all = NULL;
          gsize len = 0;
          g_assert_true (g_file_get_contents (state, &all, &len, NULL));
          g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), all, len);
        }
      g_assert_cmpstr (got, ==, want);
      g_assert_true (vk_tar_reader_next (r, &d, &error));
      g_assert_cmpstr (d->name, ==, "disks/vda.raw");
      g_assert_cmpuint (d->size, ==, 32 * MiB);
      int fd = open_write (xd);
      g_assert_true (vk_tar_reader_copy (r, fd, xd, how == 0, &got_disk, &error));
      g_assert_no_error (error);
      close (fd);
      g_assert_cmpstr (got_disk, ==, want_disk);
      assert_same_file (xd, disk);
      if (how == 0)
        g_assert_cmpuint (allocated (xd), <=, 64 * 1024);
      g_assert_true (vk_tar_reader_next (r, &m, &error));
      g_assert_cmpstr (m->name, ==, "manifest.json");
      g_autoptr(GBytes) mb = vk_tar_reader_read (r, 100, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (g_bytes_get_data (mb, NULL), g_bytes_get_size (mb), "{}\n", 3);
      g_assert_true (vk_tar_reader_next (r, &end, &error));
      g_assert_no_error (error);
      g_assert_null (end);
      close (in);
    }

  /* theirs */
  if (have_gnu_tar ())
    {
      g_autofree char *x = g_build_filename (dir, "gnu", NULL);
      const char *argv[] = { "tar", "-xf", path, NULL };
      check_extracted (argv, x, state, disk);
    }
  else
    vk_test_skip_or_fail ("GNU tar is not installed");
  if (have_prog ("bsdtar"))
    {
      g_autofree char *x = g_build_filename (dir, "bsd", NULL);
      const char *argv[] = { "bsdtar", "-xf", path, NULL };
      check_extracted (argv, x, state, disk);
    }
  else
    vk_test_skip_or_fail ("bsdtar (libarchive-tools) is not installed");
  if (have_prog ("python3"))
    {
      g_autofree char *x = g_build_filename (dir, "py", NULL);
      const char *argv[] = { "python3", "-c",
                             "import sys, tarfile\n"
                             "with tarfile.open(sys.argv[1]) as t:\n"
                             "    t.extractall('.', filter='data') "
                             "if hasattr(tarfile, 'data_filter') else t.extractall('.')\n",
                             path, NULL };
      check_extracted (argv, x, state, disk);
    }
  else
    vk_test_skip_or_fail ("python3 is not installed");
  rm_rf (dir);
}

/* GNU tar's own sparse members (its old gnu format and pax 1.0) read
 * back with their content. */
static void
test_ours_reads_gnu_sparse (void)
{
  if (!have_gnu_tar ())
    {
      vk_test_skip_or_fail ("GNU tar is not installed");
      return;
    }
  const char *formats[] = { "gnu", "pax" };
  for (gsize k = 0; k < G_N_ELEMENTS (formats); k++)
    {
      g_autofree char *dir = make_tmpdir ();
      g_autofree char *state = g_build_filename (dir, "state.sav", NULL);
      g_autofree char *path = g_build_filename (dir, "g.tar", NULL);
      g_autofree char *x = g_build_filename (dir, "x", NULL);
      g_autoptr(GError) error = NULL;
      make_holey (state);
      g_autofree char *want = file_sha (state);
      g_autofree char *fmt = g_strdup_printf ("--format=%s", formats[k]);
      const char *argv[] = { "tar", "-cf", path, fmt, "--sparse", "state.sav", NULL };
      run_ok (argv, dir, NULL);
      g_test_message ("%s: %" G_GUINT64_FORMAT " bytes of archive", formats[k],
                      file_size (path));
      int in = open_read (path);
      g_autoptr(VkTarReader) r = vk_tar_reader_new (in, path);
      g_autoptr(VkTarEntry) e = NULL;
      g_autoptr(VkTarEntry) end = NULL;
      g_autofree char *got = NULL;
      g_assert_true (vk_tar_reader_next (r, &e, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (e->name, ==, "state.sav");
      g_assert_cmpuint (e->size, ==, 82 * MiB);
      int fd = open_write (x);
      g_assert_true (vk_tar_reader_copy (r, fd, x, TRUE, &got, &error));
      g_assert_no_error (error);
      close (fd);
      g_assert_cmpstr (got, ==, want);
      assert_same_file (x, state);
      g_assert_cmpuint (allocated (x), <=, 4 * MiB);
      g_assert_true (vk_tar_reader_next (r, &end, &error));
      g_assert_no_error (error);
      g_assert_null (end);
      close (in);
      rm_rf (dir);
    }
}

/* bsdtar and Python's tarfile read what we write (GNU tar: above). */
static void
test_others_read_ours (void)
{
  struct {
    const char *prog;
    const char *argv[6];
  } readers[] = {
    { "bsdtar", { "bsdtar", "-xf", NULL } },
    { "python3", { "python3", "-c",
                   "import sys, tarfile\n"
                   "with tarfile.open(sys.argv[1]) as t:\n"
                   "    t.extractall('.', filter='data') "
                   "if hasattr(tarfile, 'data_filter') else t.extractall('.')\n", NULL } },
  };
  for (gsize k = 0; k < G_N_ELEMENTS (readers); k++)
    {
      if (!have_prog (readers[k].prog))
        {
          vk_test_skip_or_fail (readers[k].prog);
          continue;
        }
      g_autofree char *dir = make_tmpdir ();
      g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
      g_autofree char *x = g_build_filename (dir, "x", NULL);
      write_archive (dir, path);
      g_assert_cmpint (g_mkdir (x, 0700), ==, 0);
      const char *argv[8] = { NULL };
      gsize n = 0;
      for (; readers[k].argv[n]; n++)
        argv[n] = readers[k].argv[n];
      argv[n] = path;
      run_ok (argv, x, NULL);
      for (guint i = 0; specs[i].name; i++)
        {
          g_autofree char *f = g_build_filename (x, specs[i].name, NULL);
          g_autofree char *got = NULL;
          gsize len = 0;
          g_assert_true (g_file_get_contents (f, &got, &len, NULL));
          g_autofree guint8 *want = pattern (specs[i].len);
          g_assert_cmpmem (got, len, want, specs[i].len);
        }
      rm_rf (dir);
    }
}

/* ------------------------------------------------------- pipes, cancel */

typedef struct {
  int fd;
  gboolean ok;
  char *message;
} PipeWriter;

/* An export into a pipe, then more bytes after it (as a writer that pads
 * its output would), then the end of the pipe. */
static gpointer
export_to_pipe (gpointer data)
{
  PipeWriter *pw = data;
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (pw->fd, "pipe");
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *tail = g_malloc0 (2 << 20);
  pw->ok = FALSE;
  for (guint i = 0; specs[i].name; i++)
    {
      g_autofree guint8 *d = pattern (specs[i].len);
      if (!vk_tar_writer_add_data (w, specs[i].name, d, specs[i].len, 0600, 0, &error))
        goto out;
    }
  if (!vk_tar_writer_finish (w, &error))
    goto out;
  for (gsize done = 0; done < (2 << 20);)
    {
      ssize_t n = write (pw->fd, tail + done, (2 << 20) - done);
      if (n < 0)
        {
          pw->message = g_strdup_printf ("write after the archive: %s", g_strerror (errno));
          close (pw->fd);
          return NULL;
        }
      done += (gsize) n;
    }
  pw->ok = TRUE;
out:
  if (error)
    pw->message = g_strdup (error->message);
  close (pw->fd);
  return NULL;
}

/* Both ends of a pipe: the reader reads strictly in order and reads the
 * rest of the input after the end of the archive, so the writer finishes
 * cleanly (no EPIPE). */
static void
test_pipe (void)
{
  int p[2];
  g_assert_cmpint (pipe (p), ==, 0);
  PipeWriter pw = { p[1], FALSE, NULL };
  GThread *t = g_thread_new ("export", export_to_pipe, &pw);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (p[0], "pipe");
  g_autoptr(GError) error = NULL;
  guint n = 0;
  for (;;)
    {
      g_autoptr(VkTarEntry) e = NULL;
      g_assert_true (vk_tar_reader_next (r, &e, &error));
      g_assert_no_error (error);
      if (e == NULL)
        break;
      g_assert_cmpstr (e->name, ==, specs[n].name);
      g_autofree char *sha = NULL;
      g_autoptr(GBytes) b = vk_tar_reader_read (r, 16 << 20, &sha, &error);
      g_assert_no_error (error);
      g_autofree guint8 *want = pattern (specs[n].len);
      g_assert_cmpmem (g_bytes_get_data (b, NULL), g_bytes_get_size (b), want, specs[n].len);
      n++;
    }
  g_assert_null (specs[n].name);
  g_thread_join (t);
  if (pw.message)
    g_test_message ("writer: %s", pw.message);
  g_assert_true (pw.ok);
  g_free (pw.message);
  close (p[0]);
}

/* Cancel at the third chunk: image.xml, the first of state.sav (which
 * reaches the fd), the second. */
static void
cancel_at_third (guint64 offset, gpointer data)
{
  static int calls;
  if (++calls == 3)
    g_cancellable_cancel (data);
}

/* `*cancel` stops both; an export stopped half-way never reads as a whole
 * archive (no zero-padded member, no end-of-archive written for it). */
static void
test_cancel (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "a.tar", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  gsize len = 8 << 20;
  g_autofree guint8 *data = pattern (len);

  int out = open_write (path);
  VkTarWriter *w = vk_tar_writer_new (out, path);
  vk_tar_writer_set_cancel (w, cancel);
  vk_tar_writer_set_progress (w, cancel_at_third, cancel);
  g_assert_true (vk_tar_writer_add_data (w, "image.xml", "<x/>", 4, 0600, 0, &error));
  g_assert_false (vk_tar_writer_add_data (w, "state.sav", data, len, 0600, 0, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "interrupted");
  g_clear_error (&error);
  g_assert_false (vk_tar_writer_finish (w, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_clear_error (&error);
  vk_tar_writer_free (w);
  close (out);
  g_test_message ("%" G_GUINT64_FORMAT " bytes written before the interruption",
                  file_size (path));
  int in = open_read (path);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in, path);
  gboolean ok = TRUE;
  for (;;)
    {
      g_autoptr(VkTarEntry) e = NULL;
      if (!(ok = vk_tar_reader_next (r, &e, &error)) || e == NULL)
        break;
      if (!(ok = vk_tar_reader_copy (r, -1, "discard", FALSE, NULL, &error)))
        break;
    }
  g_assert_false (ok);
  assert_refused (g_steal_pointer (&error), "truncated");
  close (in);

  /* the reader */
  write_archive (dir, path);
  in = open_read (path);
  g_autoptr(VkTarReader) r2 = vk_tar_reader_new (in, path);
  g_autoptr(VkTarEntry) e = NULL;
  g_cancellable_cancel (cancel);
  vk_tar_reader_set_cancel (r2, cancel);
  g_assert_false (vk_tar_reader_next (r2, &e, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "interrupted");
  close (in);
  rm_rf (dir);
}

/* ------------------------------------------------------- hostile input */

/* One archive per case, written by Python's tarfile (a real encoder, as
 * an attacker would use): links, devices, FIFOs, bad names, pax sizes
 * that overflow. */
static const char hostile_py[] =
  "import io, os, sys, tarfile\n"
  "d = sys.argv[1]\n"
  "def mk(name, members):\n"
  "    with tarfile.open(os.path.join(d, name + '.tar'), 'w', format=tarfile.PAX_FORMAT) as t:\n"
  "        for info, data in members:\n"
  "            t.addfile(info, io.BytesIO(data) if data is not None else None)\n"
  "def ti(name, type=tarfile.REGTYPE, size=0, **kw):\n"
  "    i = tarfile.TarInfo(name)\n"
  "    i.type = type\n"
  "    i.size = size\n"
  "    for k, v in kw.items():\n"
  "        setattr(i, k, v)\n"
  "    return i\n"
  "x = (ti('image.xml', size=3), b'abc')\n"
  "mk('symlink', [x, (ti('state.sav', tarfile.SYMTYPE, linkname='/etc/shadow'), None)])\n"
  "mk('hardlink', [x, (ti('state.sav', tarfile.LNKTYPE, linkname='image.xml'), None)])\n"
  "mk('chardev', [x, (ti('state.sav', tarfile.CHRTYPE, devmajor=1, devminor=3), None)])\n"
  "mk('blockdev', [x, (ti('state.sav', tarfile.BLKTYPE, devmajor=8, devminor=0), None)])\n"
  "mk('fifo', [x, (ti('state.sav', tarfile.FIFOTYPE), None)])\n"
  "for tag, name in [('dotdot', '../x'), ('abs', '/abs'), ('slashes', 'a//b'),\n"
  "                  ('newline', 'a\\nb'), ('ctrl', 'a\\x01b'), ('del', 'a\\x7fb'),\n"
  "                  ('backslash', 'a\\\\b'), ('long', 'd/' * 60 + '../x')]:\n"
  "    mk('name-' + tag, [x, (ti(name, size=1), b'x')])\n"
  "i = ti('disks', tarfile.DIRTYPE)\n"
  "i.pax_headers = {'size': '18446744073709551615'}\n"
  "mk('pax-size-dir', [x, (i, None)])\n"
  "i = ti('disks', tarfile.DIRTYPE)\n"
  "i.pax_headers = {'size': '4096'}\n"
  "mk('pax-size-dir-small', [x, (i, None)])\n"
  "i = ti('state.sav', size=3)\n"
  "i.pax_headers = {'size': '18446744073709551615'}\n"
  "mk('pax-size-file', [x, (i, b'abc')])\n"
  "i = ti('state.sav', size=3)\n"
  "i.pax_headers = {'size': '4611686018427387904'}\n"
  "mk('pax-size-absurd', [x, (i, b'abc')])\n"
  "i = ti('state.sav', size=3)\n"
  "i.pax_headers = {'size': '1000000'}\n"
  "mk('pax-size-beyond-stream', [x, (i, b'abc')])\n";

static void
test_hostile_python (void)
{
  if (!have_prog ("python3"))
    {
      vk_test_skip_or_fail ("python3 is not installed");
      return;
    }
  struct {
    const char *file;
    const char *fragments[3];
  } cases[] = {
    { "symlink", { "'state.sav' is a symbolic link", NULL } },
    { "hardlink", { "'state.sav' is a hard link", NULL } },
    { "chardev", { "'state.sav' is a device node", NULL } },
    { "blockdev", { "'state.sav' is a device node", NULL } },
    { "fifo", { "'state.sav' is a FIFO", NULL } },
    { "name-dotdot", { "member name '../x'", "leaves the extraction directory", NULL } },
    { "name-abs", { "member name '/abs'", "absolute", NULL } },
    { "name-slashes", { "member name 'a//b'", "refusing", NULL } },
    { "name-newline", { "member name 'a\\nb'", "refusing", NULL } },
    { "name-ctrl", { "member name 'a\\x01b'", "refusing", NULL } },
    { "name-del", { "member name 'a\\x7fb'", "refusing", NULL } },
    { "name-backslash", { "member name 'a\\\\b'", "refusing", NULL } },
    { "name-long", { "/d/d/../x'", "leaves the extraction directory", NULL } },
    { "pax-size-dir", { "'disks/'", "damaged", NULL } },
    { "pax-size-dir-small", { "'disks/' is a directory with 4096 bytes of data", NULL } },
    { "pax-size-file", { "'state.sav'", "damaged", NULL } },
    { "pax-size-absurd", { "'state.sav' claims 4611686018427387904 bytes", NULL } },
    { "pax-size-beyond-stream", { "truncated", "inside member state.sav", NULL } },
  };
  g_autofree char *dir = make_tmpdir ();
  const char *argv[] = { "python3", "-c", hostile_py, dir, NULL };
  run_ok (argv, NULL, NULL);
  for (gsize k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autofree char *file = g_strconcat (cases[k].file, ".tar", NULL);
      g_autofree char *path = g_build_filename (dir, file, NULL);
      g_autofree char *all = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (path, &all, &len, NULL));
      g_autoptr(GByteArray) a = g_byte_array_new ();
      g_byte_array_append (a, (guint8 *) all, (guint) len);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      g_test_message ("case %s", cases[k].file);
      GError *e = read_all (a, names);
      g_assert_nonnull (e);
      for (gsize f = 0; cases[k].fragments[f]; f++)
        if (strstr (e->message, cases[k].fragments[f]) == NULL)
          g_error ("%s: '%s' not in: %s", cases[k].file, cases[k].fragments[f], e->message);
      assert_refused (e, NULL);
      /* the member before the bad one was read */
      g_assert_cmpuint (names->len, >=, 1);
      g_assert_cmpstr (names->pdata[0], ==, "image.xml");
    }
  rm_rf (dir);
}

/* A pax extended header of records `recs` for the next header. */
static void
raw_pax (GByteArray *a, const char *const *recs)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (gsize i = 0; recs[i]; i++)
    {
      /* "LEN key=value\n", LEN counting itself */
      gsize base = strlen (recs[i]) + 2;
      gsize len = base + 1;
      char digits[32];
      while (base + (gsize) g_snprintf (digits, sizeof digits, "%" G_GSIZE_FORMAT, len) != len)
        len++;
      g_string_append_printf (s, "%" G_GSIZE_FORMAT " %s\n", len, recs[i]);
    }
  raw_header (a, "PaxHeaders/x", 'x', s->len, NULL);
  raw_data (a, s->str, s->len);
}

/* Archives built header by header: cut in a header or in data, a damaged
 * header checksum after a good member, a size larger than the stream, an
 * extended header with no member after it, damaged sparse maps. Every
 * message names the member (or the one before the damage) and the
 * problem. */
static void
test_hostile_by_hand (void)
{
  g_autoptr(GByteArray) good = g_byte_array_new ();
  raw_header (good, "image.xml", '0', 3, NULL);
  raw_data (good, "abc", 3);
  struct {
    const char *what;
    const char *fragments[3];
  } cases[] = {
    { "cut in a header", { "truncated", "inside the header after member image.xml", NULL } },
    { "cut in data", { "truncated", "inside member state.sav", NULL } },
    { "cut at a member boundary", { "truncated", "after member image.xml", NULL } },
    { "bad checksum after a member", { "wrong checksum", "after member image.xml", NULL } },
    { "size larger than the stream", { "truncated", "inside member state.sav", NULL } },
    { "extended header, no member", { "damaged", "after member image.xml", NULL } },
    { "sparse map out of order", { "'state.sav' has a damaged sparse map", NULL } },
    { "sparse data beyond the size", { "'state.sav' has a damaged sparse map", NULL } },
    { "sparse map with more data than stored", { "'state.sav' has a damaged sparse map",
                                                 NULL } },
  };
  for (gsize k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr(GByteArray) a = g_byte_array_new ();
      g_byte_array_append (a, good->data, good->len);
      g_autofree guint8 *data = pattern (4096);
      switch (k)
        {
        case 0:
          raw_header (a, "state.sav", '0', 10, NULL);
          g_byte_array_set_size (a, a->len - 300);
          break;
        case 1:
          raw_header (a, "state.sav", '0', 1000, NULL);
          g_byte_array_append (a, data, 300);
          break;
        case 2:
          break;
        case 3:
          raw_header (a, "state.sav", '0', 1, NULL);
          a->data[a->len - 512 + 3] ^= 1;
          raw_data (a, "x", 1);
          raw_end (a);
          break;
        case 4:
          raw_header (a, "state.sav", '0', 1 << 20, NULL);
          raw_data (a, data, 100);
          raw_end (a);
          break;
        case 5:
          {
            const char *recs[] = { "path=state.sav", NULL };
            raw_pax (a, recs);
            raw_end (a);
          }
          break;
        default:
          {
            /* GNU's pax sparse format 1.0: the map ("entries, then offset
             * and length of each") in the first block of the data */
            const char *recs[] = { "GNU.sparse.major=1", "GNU.sparse.minor=0",
                                   "GNU.sparse.name=state.sav", "GNU.sparse.realsize=8192",
                                   NULL };
            const char *map = k == 6 ? "2\n4096\n512\n0\n512\n"
                            : k == 7 ? "1\n8000\n512\n" : "1\n0\n4096\n";
            raw_pax (a, recs);
            raw_header (a, "GNUSparseFile.0/state.sav", '0', 512 + 1024, NULL);
            raw_data (a, map, strlen (map));
            raw_data (a, data, 1024);
            raw_end (a);
          }
          break;
        }
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      g_test_message ("case %s", cases[k].what);
      GError *e = read_all (a, names);
      g_assert_nonnull (e);
      for (gsize f = 0; cases[k].fragments[f]; f++)
        if (strstr (e->message, cases[k].fragments[f]) == NULL)
          g_error ("%s: '%s' not in: %s", cases[k].what, cases[k].fragments[f], e->message);
      assert_refused (e, NULL);
    }
}

/* Safe member names may hold bytes that are not UTF-8; the messages that
 * quote them, and libarchive's, must still be UTF-8 (--json prints them). */
static void
test_names_in_messages_utf8 (void)
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

  const char *recs[] = { "size=18446744073709551615", NULL };
  raw_pax (b, recs);
  raw_header (b, "st\xffte.sav", '0', 1, NULL);
  raw_data (b, "x", 1);
  raw_end (b);
  e = read_all (b, NULL);
  g_assert_nonnull (e);
  g_assert_true (g_utf8_validate (e->message, -1, NULL));
  g_assert_nonnull (strstr (e->message, "st\\xffte.sav"));
  assert_refused (e, "damaged");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* a writer into a closed pipe gets EPIPE (test_pipe says which) */
  signal (SIGPIPE, SIG_IGN);

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
  g_test_add_func ("/tar/large-member", test_large_member);
  g_test_add_func ("/tar/sparse-member", test_sparse_member);
  g_test_add_func ("/tar/ours-reads-gnu-sparse", test_ours_reads_gnu_sparse);
  g_test_add_func ("/tar/others-read-ours", test_others_read_ours);
  g_test_add_func ("/tar/pipe", test_pipe);
  g_test_add_func ("/tar/cancel", test_cancel);
  g_test_add_func ("/tar/refuse/hostile-python", test_hostile_python);
  g_test_add_func ("/tar/refuse/hostile-by-hand", test_hostile_by_hand);
  g_test_add_func ("/tar/refuse/names-in-messages-utf8", test_names_in_messages_utf8);

  return g_test_run ();
}
