/* Unit tests for src/core/save-hash.c: the SHA-256 of a save image taken
 * while it is written, as libvirt writes one (header with the "Part" magic
 * first, the stream appended, the header rewritten with the final magic).
 * The result must be the hash of the finished file; anything that makes
 * what was hashed differ from the file (a header rewritten with more than
 * the magic, another file under the name, a size the hasher did not see)
 * must give NULL, so that the caller hashes the file again. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "fileutil.h"
#include "save-hash.h"

#define MIB (1024 * 1024)

typedef struct {
  char *dir;
  char *path;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("vk-save-hash-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  f->path = g_build_filename (f->dir, "state.sav", NULL);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_unlink (f->path);
  g_rmdir (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

/* Writes a save image the way libvirt does, `mib` MiB of stream in 1 MiB
 * steps while the hasher runs; returns the open fd. */
static int
write_like_libvirt (const char *path, guint mib)
{
  int fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_autofree guint8 *buf = g_malloc (MIB);
  g_assert_cmpint (fd, >=, 0);
  memset (buf, 'h', 4096);
  memcpy (buf, "LibvirtQemudPart", 16);
  g_assert_true (vk_write_full (fd, buf, 4096, -1, NULL));
  for (guint i = 0; i < mib; i++)
    {
      memset (buf, (int) ('a' + i % 26), MIB);
      g_assert_true (vk_write_full (fd, buf, MIB, -1, NULL));
      g_usleep (5000);
    }
  g_assert_true (vk_write_full (fd, "LibvirtQemudSave", 16, 0, NULL));
  return fd;
}

static void
test_matches_finished_file (Fixture *f, gconstpointer data)
{
  VkSaveHasher *h = vk_save_hasher_start (f->path);
  int fd = write_like_libvirt (f->path, 24);
  close (fd);
  guint64 size = 0;
  g_autofree char *sha = vk_save_hasher_finish (h, TRUE, &size);
  g_autofree char *want = NULL;
  guint64 want_size = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_file_sha256 (f->path, &want, &want_size, &error));
  g_assert_nonnull (sha);
  g_assert_cmpstr (sha, ==, want);
  g_assert_cmpuint (size, ==, want_size);
  g_assert_cmpuint (size, ==, 4096 + 24 * MIB);
}

/* the header rewritten with more than the magic: hash again */
static void
test_head_changed (Fixture *f, gconstpointer data)
{
  VkSaveHasher *h = vk_save_hasher_start (f->path);
  int fd = write_like_libvirt (f->path, 24);
  g_usleep (500 * 1000);   /* the hasher (polling every 20 ms) has read the head by now */
  g_assert_true (vk_write_full (fd, "X", 1, 100, NULL));
  close (fd);
  guint64 size = 0;
  g_autofree char *sha = vk_save_hasher_finish (h, TRUE, &size);
  g_assert_null (sha);
}

/* another file under the name when the save returns: hash again */
static void
test_file_replaced (Fixture *f, gconstpointer data)
{
  VkSaveHasher *h = vk_save_hasher_start (f->path);
  int fd = write_like_libvirt (f->path, 12);
  close (fd);
  g_usleep (100 * 1000);
  g_autofree char *other = g_build_filename (f->dir, "other", NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (f->path, &text, &len, NULL));
  g_assert_true (g_file_set_contents (other, text, (gssize) len, NULL));
  g_assert_cmpint (g_rename (other, f->path), ==, 0);
  guint64 size = 0;
  g_autofree char *sha = vk_save_hasher_finish (h, TRUE, &size);
  g_assert_null (sha);
}

/* a save that failed, or a file never written: nothing */
static void
test_not_wanted (Fixture *f, gconstpointer data)
{
  VkSaveHasher *h = vk_save_hasher_start (f->path);
  guint64 size = 0;
  g_assert_null (vk_save_hasher_finish (h, TRUE, &size));
  h = vk_save_hasher_start (f->path);
  close (write_like_libvirt (f->path, 2));
  g_assert_null (vk_save_hasher_finish (h, FALSE, &size));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/save-hash/matches-finished-file", Fixture, NULL, setup,
              test_matches_finished_file, teardown);
  g_test_add ("/save-hash/head-changed", Fixture, NULL, setup, test_head_changed, teardown);
  g_test_add ("/save-hash/file-replaced", Fixture, NULL, setup, test_file_replaced, teardown);
  g_test_add ("/save-hash/not-wanted", Fixture, NULL, setup, test_not_wanted, teardown);
  return g_test_run ();
}
