/* Unit tests for the qcow2 overlay writer in src/core/diskfile.c.
 *
 * vmkeep writes clone and fork overlays itself instead of spawning
 * qemu-img; QEMU's own tools are the judge here: `qemu-img check` finds no
 * error or leak, `qemu-img info` reports the backing file, its format and
 * the base's virtual size, every byte reads through to the base, and a
 * write lands in the overlay only. Without qemu-img (package qemu-utils)
 * these skip, and fail under CI's required switch. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "diskfile.h"
#include "vk-error.h"
#include "vk-test.h"

static gboolean
have_tools (void)
{
  g_autofree char *img = g_find_program_in_path ("qemu-img");
  g_autofree char *io = g_find_program_in_path ("qemu-io");
  if (img && io)
    return TRUE;
  vk_test_skip_or_fail ("qemu-img/qemu-io not installed (package qemu-utils)");
  return FALSE;
}

/* Run argv; returns the exit status, stdout in *out. */
static int
run (char **out, const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  va_list ap;
  va_start (ap, first);
  for (const char *a = first; a; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  int status = -1;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_test_message ("%s: %s", first, err ? err : "");
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static char *
make_raw_base (const char *dir, guint64 size)
{
  char *p = g_build_filename (dir, "base.raw", NULL);
  int fd = open (p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, (off_t) size), ==, 0);
  /* data at the start, across a cluster boundary and in the last cluster */
  guint8 buf[8192];
  for (gsize i = 0; i < sizeof buf; i++)
    buf[i] = (guint8) (i * 7 + 1);
  g_assert_cmpint (pwrite (fd, buf, sizeof buf, 0), ==, (gssize) sizeof buf);
  g_assert_cmpint (pwrite (fd, buf, sizeof buf, 65536 - 100), ==, (gssize) sizeof buf);
  g_assert_cmpint (pwrite (fd, buf, 4096, (off_t) size - 4096), ==, 4096);
  close (fd);
  return p;
}

static void
assert_sound (const char *path, const char *backing, const char *fmt, guint64 size)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (run (&out, "qemu-img", "check", "-q", "-f", "qcow2", path, NULL), ==, 0);
  g_free (out);
  out = NULL;
  g_assert_cmpint (run (&out, "qemu-img", "info", "-U", "--output=json", path, NULL), ==, 0);
  g_autofree char *want_size = g_strdup_printf ("\"virtual-size\": %" G_GUINT64_FORMAT, size);
  g_autofree char *want_backing = g_strdup_printf ("\"backing-filename\": \"%s\"", backing);
  g_autofree char *want_fmt = g_strdup_printf ("\"backing-filename-format\": \"%s\"", fmt);
  g_assert_nonnull (strstr (out, want_size));
  g_assert_nonnull (strstr (out, want_backing));
  g_assert_nonnull (strstr (out, want_fmt));
  g_assert_nonnull (strstr (out, "\"cluster-size\": 65536"));
  g_assert_nonnull (strstr (out, "\"compat\": \"1.1\""));
}

static void
test_overlay_chain (void)
{
  if (!have_tools ())
    return;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vk-diskfile-XXXXXX", &error);
  g_assert_no_error (error);
  /* an odd size, more than one L1 entry (512 MiB each) */
  const guint64 size = (3ull << 30) + 12345 * 512;
  g_autofree char *base = make_raw_base (dir, size);
  g_autofree char *o1 = g_build_filename (dir, "o1.qcow2", NULL);
  g_autofree char *o2 = g_build_filename (dir, "o2.qcow2", NULL);

  g_assert_true (vk_qcow2_create_overlay (o1, base, "raw", &error));
  g_assert_no_error (error);
  assert_sound (o1, base, "raw", size);
  /* an overlay over a qcow2 takes the qcow2's virtual size */
  g_assert_true (vk_qcow2_create_overlay (o2, o1, "qcow2", &error));
  g_assert_no_error (error);
  assert_sound (o2, o1, "qcow2", size);
  struct stat st;
  g_assert_cmpint (g_stat (o2, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* every byte reads through to the base */
  g_autofree char *out = NULL;
  g_assert_cmpint (run (&out, "qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", o2, base,
                        NULL), ==, 0);
  /* a write lands in the top overlay only, and leaves it consistent */
  g_assert_cmpint (run (&out, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 192k", o2, NULL),
                   ==, 0);
  g_assert_cmpint (run (&out, "qemu-img", "check", "-q", "-f", "qcow2", o2, NULL), ==, 0);
  g_assert_cmpint (run (&out, "qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", o2, base,
                        NULL), ==, 1);
  g_assert_cmpint (run (&out, "qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", o1, base,
                        NULL), ==, 0);
  g_assert_cmpint (run (&out, "qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 1M 192k", o2, NULL),
                   ==, 0);
  g_assert_null (strstr (out, "Pattern verification failed"));

  g_unlink (o2);
  g_unlink (o1);
  g_unlink (base);
  g_rmdir (dir);
}

static void
test_overlay_refusals (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vk-diskfile-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *base = make_raw_base (dir, 1 << 20);
  g_autofree char *o = g_build_filename (dir, "o.qcow2", NULL);

  /* never overwrites */
  g_assert_true (g_file_set_contents (o, "keep", -1, NULL));
  g_assert_false (vk_qcow2_create_overlay (o, base, "raw", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  g_autofree char *kept = NULL;
  g_assert_true (g_file_get_contents (o, &kept, NULL, NULL));
  g_assert_cmpstr (kept, ==, "keep");
  g_unlink (o);

  /* not through a dangling symbolic link either */
  g_autofree char *target = g_build_filename (dir, "elsewhere", NULL);
  g_assert_cmpint (symlink (target, o), ==, 0);
  g_assert_false (vk_qcow2_create_overlay (o, base, "raw", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
  g_unlink (o);

  /* written beside the path and put in place whole: nothing else is left */
  g_assert_true (vk_qcow2_create_overlay (o, base, "raw", &error));
  g_assert_no_error (error);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  guint entries = 0;
  while (g_dir_read_name (d) != NULL)
    entries++;
  g_assert_cmpuint (entries, ==, 2);   /* the base and the overlay */
  g_unlink (o);

  /* a missing base, a base that is not the format it claims, an unknown
   * format, a name that does not fit: an error and no file */
  g_autofree char *missing = g_build_filename (dir, "missing.raw", NULL);
  g_autofree char *longname = g_strnfill (1100, 'x');
  struct { const char *backing, *fmt; } bad[] = {
    { missing, "raw" }, { base, "qcow2" }, { base, "vmdk" }, { longname, "raw" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (vk_qcow2_create_overlay (o, bad[i].backing, bad[i].fmt, &error));
      g_assert_nonnull (error);
      g_assert_cmpstr (error->message, !=, "");
      g_clear_error (&error);
      g_assert_false (g_file_test (o, G_FILE_TEST_EXISTS));
    }
  g_unlink (base);
  g_rmdir (dir);
}

/* vk_copy_range: the bytes land at the given offsets, nothing else moves;
 * a source shorter than asked is an error (EIO), not a short copy. */
static void
test_copy_range (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vk-diskfile-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *a = g_build_filename (dir, "a", NULL);
  g_autofree char *b = g_build_filename (dir, "b", NULL);
  const gsize n = (3u << 20) + 77;
  g_autofree guint8 *data = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    data[i] = (guint8) (i * 13 + (i >> 12));
  g_assert_true (g_file_set_contents (a, (const char *) data, n, NULL));
  int in = open (a, O_RDONLY);
  int out = open (b, O_RDWR | O_CREAT | O_TRUNC, 0600);
  g_assert_cmpint (in, >=, 0);
  g_assert_cmpint (out, >=, 0);
  g_assert_true (vk_copy_range (in, 1000, out, 5000, n - 1000));
  g_autofree char *got = NULL;
  gsize glen = 0;
  g_assert_true (g_file_get_contents (b, &got, &glen, NULL));
  g_assert_cmpuint (glen, ==, 5000 + n - 1000);
  for (gsize i = 0; i < 5000; i++)
    g_assert_cmpint (got[i], ==, 0);
  g_assert_cmpint (memcmp (got + 5000, data + 1000, n - 1000), ==, 0);
  errno = 0;
  g_assert_false (vk_copy_range (in, n - 10, out, 0, 100));
  g_assert_cmpint (errno, ==, EIO);
  close (in);
  close (out);
  g_unlink (a);
  g_unlink (b);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/diskfile/qcow2-overlay/chain", test_overlay_chain);
  g_test_add_func ("/diskfile/qcow2-overlay/refusals", test_overlay_refusals);
  g_test_add_func ("/diskfile/copy-range", test_copy_range);
  return g_test_run ();
}
