/* Unit tests for src/core/oci-blob.c: files stored as blobs of an OCI
 * layout (named by their SHA-256, zstd where asked) come back byte for
 * byte; an altered, truncated, undecompressable or oversized blob is
 * refused with a message naming it, and leaves no file; the sampled zstd
 * ratio tells compressible from incompressible data; and the qcow2
 * backing format is read from the header, never probed. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "diskfile.h"
#include "fileutil.h"
#include "oci-blob.h"
#include "sha256.h"
#include "store.h"
#include "vk-error.h"
#include "vk-test.h"

typedef struct {
  char *dir;
  char *blobs;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("vk-blob-XXXXXX", &error);
  g_assert_no_error (error);
  f->blobs = g_build_filename (f->dir, "blobs", NULL);
  g_assert_cmpint (g_mkdir (f->blobs, 0700), ==, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_true (vk_rm_rf (f->dir, NULL));
  g_free (f->blobs);
  g_free (f->dir);
}

/* A file of `len` bytes: zeros with a little text every MiB
 * (compressible), or pseudo-random bytes. */
static char *
make_file (Fixture *f, const char *name, gsize len, gboolean random)
{
  g_autofree guint8 *data = g_malloc0 (len);
  g_autoptr(GRand) r = g_rand_new_with_seed (42);
  for (gsize i = 0; i < len; i++)
    if (random)
      data[i] = (guint8) g_rand_int (r);
    else if (i % (1024 * 1024) < 16)
      data[i] = (guint8) ("vmkeep test data"[i % 16]);
  char *path = g_build_filename (f->dir, name, NULL);
  g_assert_true (g_file_set_contents (path, (char *) data, (gssize) len, NULL));
  return path;
}

static char *
sha_of (const char *path)
{
  char *hex = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_file_sha256 (path, &hex, NULL, &error));
  return hex;
}

static char *
blob_path (Fixture *f, const VkBlobInfo *b)
{
  return g_build_filename (f->blobs, b->digest + strlen ("sha256:"), NULL);
}

static void
test_round_trip (Fixture *f, gconstpointer data)
{
  (void) data;
  for (int zstd = 0; zstd <= 1; zstd++)
    {
      g_autofree char *src = make_file (f, "src", 3 * 1024 * 1024 + 17, FALSE);
      g_autofree char *want = sha_of (src);
      g_auto(VkBlobInfo) b = { 0 };
      g_autoptr(GError) error = NULL;
      g_assert_true (vk_blob_put_file (f->blobs, src, zstd, NULL, NULL, NULL, &b, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (b.content_sha256, ==, want);
      g_assert_cmpuint (b.content_size, ==, 3 * 1024 * 1024 + 17);
      g_assert_true (b.zstd == zstd);
      g_autofree char *path = blob_path (f, &b);
      g_autofree char *stored = sha_of (path);
      g_assert_cmpstr (stored, ==, b.digest + strlen ("sha256:"));
      struct stat st;
      g_assert_cmpint (stat (path, &st), ==, 0);
      g_assert_cmpuint ((guint64) st.st_size, ==, b.size);
      if (zstd)
        g_assert_cmpuint (b.size, <, b.content_size / 10);
      g_autofree char *dst = g_build_filename (f->dir, zstd ? "out.z" : "out", NULL);
      g_autofree char *got = NULL;
      guint64 got_size = 0;
      g_assert_true (vk_blob_get_file (path, b.digest, b.size, zstd, dst, b.content_size, "t",
                                       NULL, NULL, NULL, &got, &got_size, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (got, ==, want);
      g_assert_cmpuint (got_size, ==, b.content_size);
      g_autofree char *dsha = sha_of (dst);
      g_assert_cmpstr (dsha, ==, want);
      /* the zeros stay holes */
      g_assert_cmpint (stat (dst, &st), ==, 0);
      g_assert_cmpint ((gint64) st.st_blocks * 512, <, (gint64) st.st_size / 2);
      g_unlink (src);
    }
}

static void
test_data_and_dedup (Fixture *f, gconstpointer data)
{
  (void) data;
  g_auto(VkBlobInfo) a = { 0 };
  g_auto(VkBlobInfo) b = { 0 };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_blob_put_data (f->blobs, "{}", 2, &a, &error));
  g_assert_cmpstr (a.digest, ==,
                   "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  g_assert_true (vk_blob_put_data (f->blobs, "{}", 2, &b, &error));
  g_assert_cmpstr (a.digest, ==, b.digest);
  g_autoptr(GDir) d = g_dir_open (f->blobs, 0, NULL);
  guint n = 0;
  while (g_dir_read_name (d))
    n++;
  g_assert_cmpuint (n, ==, 1);   /* one blob, no temp file left */
  g_autofree char *path = blob_path (f, &a);
  g_autoptr(GBytes) got = vk_blob_get_data (path, a.digest, 2, 16, "t", &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (got, NULL), 2, "{}", 2);
  g_assert_null (vk_blob_get_data (path, a.digest, 2, 1, "t", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "more than"));
}

/* Refused with `want` in the message, and `dst` not left behind. */
static void
assert_refused (const char *path, const char *digest, guint64 size, gboolean zstd,
                const char *dst, guint64 limit, const char *want)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *got = NULL;
  guint64 got_size = 0;
  g_assert_false (vk_blob_get_file (path, digest, size, zstd, dst, limit, "layout-x", NULL, NULL,
                                    NULL, &got, &got_size, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_true (g_str_has_prefix (error->message, "layout-x: "));
  if (strstr (error->message, want) == NULL)
    g_error ("'%s' does not say '%s'", error->message, want);
  g_assert_false (g_file_test (dst, G_FILE_TEST_EXISTS));
}

static void
test_refused (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *src = make_file (f, "src", 1024 * 1024, FALSE);
  g_auto(VkBlobInfo) b = { 0 };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_blob_put_file (f->blobs, src, TRUE, NULL, NULL, NULL, &b, &error));
  g_autofree char *path = blob_path (f, &b);
  g_autofree char *dst = g_build_filename (f->dir, "dst", NULL);
  g_autofree char *orig = NULL;
  gsize olen = 0;
  g_assert_true (g_file_get_contents (path, &orig, &olen, NULL));

  /* missing */
  g_autofree char *none = g_build_filename (f->blobs, "0000", NULL);
  assert_refused (none, b.digest, b.size, TRUE, dst, G_MAXUINT64, "missing");
  /* one byte altered */
  g_autofree char *bad = g_memdup2 (orig, olen);
  bad[olen / 2] ^= 0x40;
  g_assert_true (g_file_set_contents (path, bad, (gssize) olen, NULL));
  assert_refused (path, b.digest, b.size, TRUE, dst, G_MAXUINT64, "was altered or damaged");
  /* truncated */
  g_assert_true (g_file_set_contents (path, orig, (gssize) olen / 2, NULL));
  assert_refused (path, b.digest, b.size, TRUE, dst, G_MAXUINT64, "truncated");
  /* content beyond what the file may have (a zstd bomb) */
  g_assert_true (g_file_set_contents (path, orig, (gssize) olen, NULL));
  assert_refused (path, b.digest, b.size, TRUE, dst, 4096, "holds more than");
  /* not zstd at all, with a matching digest */
  g_auto(VkBlobInfo) plain = { 0 };
  g_assert_true (vk_blob_put_data (f->blobs, "not a zstd frame", 16, &plain, &error));
  g_autofree char *ppath = blob_path (f, &plain);
  assert_refused (ppath, plain.digest, 16, TRUE, dst, G_MAXUINT64, "does not decompress");
  /* raw, larger than allowed */
  assert_refused (ppath, plain.digest, 16, FALSE, dst, 8, "claims 16 bytes");
  /* a zstd frame cut short: its digest is right, its end is missing */
  g_auto(VkBlobInfo) cut = { 0 };
  g_assert_true (vk_blob_put_data (f->blobs, orig, olen - 3, &cut, &error));
  g_autofree char *cpath = blob_path (f, &cut);
  assert_refused (cpath, cut.digest, olen - 3, TRUE, dst, G_MAXUINT64, "ends inside a zstd");
}

static void
test_ratio (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *zeros = make_file (f, "zeros", 40 * 1024 * 1024, FALSE);
  g_autofree char *noise = make_file (f, "noise", 4 * 1024 * 1024, TRUE);
  g_autofree char *empty = make_file (f, "empty", 0, TRUE);
  double r = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_blob_zstd_ratio (zeros, &r, &error));
  g_assert_cmpfloat (r, <, 0.05);
  g_assert_true (vk_blob_zstd_ratio (noise, &r, &error));
  g_assert_cmpfloat (r, >, VK_BLOB_ZSTD_PAYS);
  g_assert_true (vk_blob_zstd_ratio (empty, &r, &error));
  g_assert_cmpfloat (r, ==, 1.0);
  g_assert_false (vk_blob_zstd_ratio ("/nonexistent/x", &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
}

/* The backing format comes from the qcow2 header extension (qemu-img
 * writes it with -F), in version 2 and 3 images alike. */
static void
test_backing_format (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");
  if (qemu_img == NULL)
    {
      vk_test_skip_or_fail ("qemu-img is not installed");
      return;
    }
  g_autofree char *base = g_build_filename (f->dir, "base.raw", NULL);
  g_assert_true (g_file_set_contents (base, "", 0, NULL));
  struct { const char *compat, *fmt; } cases[] = {
    { "1.1", "raw" }, { "0.10", "raw" }, { "1.1", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *o = g_strdup_printf ("%s/o%u.qcow2", f->dir, i);
      g_autofree char *cmd = cases[i].fmt
        ? g_strdup_printf ("qemu-img create -q -f qcow2 -o compat=%s -u -F %s -b %s %s 1M",
                           cases[i].compat, cases[i].fmt, base, o)
        : g_strdup_printf ("qemu-img create -q -f qcow2 -o compat=%s %s 1M", cases[i].compat, o);
      int status = 0;
      g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, &status, NULL));
      g_assert_true (g_spawn_check_wait_status (status, NULL));
      g_autofree char *fmt = NULL;
      g_autoptr(GError) error = NULL;
      g_assert_true (vk_qcow2_backing_format (o, &fmt, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (fmt, ==, cases[i].fmt);
    }
  g_autofree char *fmt = NULL;
  g_assert_true (vk_qcow2_backing_format (base, &fmt, NULL));
  g_assert_null (fmt);   /* not qcow2 */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/oci-blob/round-trip", Fixture, NULL, fixture_setup, test_round_trip,
              fixture_teardown);
  g_test_add ("/oci-blob/data-and-dedup", Fixture, NULL, fixture_setup, test_data_and_dedup,
              fixture_teardown);
  g_test_add ("/oci-blob/refused", Fixture, NULL, fixture_setup, test_refused,
              fixture_teardown);
  g_test_add ("/oci-blob/ratio", Fixture, NULL, fixture_setup, test_ratio, fixture_teardown);
  g_test_add ("/oci-blob/backing-format", Fixture, NULL, fixture_setup, test_backing_format,
              fixture_teardown);
  return g_test_run ();
}
