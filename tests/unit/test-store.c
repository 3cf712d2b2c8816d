/* Unit tests for the store's working directories and the cleanup of what
 * interrupted runs leave (src/core/store.c).
 *
 * A clone's FIFO directory and a fork's memory snapshot live in tmp/ under
 * a lock; a vmkeep that was killed leaves them unlocked, and the next run
 * removes them, never one another vmkeep still holds. Partial image
 * directories: removed when unlocked, kept while locked, and kept (with a
 * warning) when they hold the complete state of an interrupted hibernate.
 * A killed clone's FIFO whose reader (libvirtd) is blocked in its open
 * gives that reader end of file when it is removed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "fileutil.h"
#include "store.h"

static gboolean
removed_has (GPtrArray *removed, const char *path)
{
  for (guint i = 0; i < removed->len; i++)
    if (g_str_equal (removed->pdata[i], path))
      return TRUE;
  return FALSE;
}

static void
test_tmp_dirs (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("vk-store-XXXXXX", &error);
  g_assert_no_error (error);

  int held = -1, killed = -1, done = -1;
  g_autofree char *a = vk_store_tmp_dir_new (root, "fork", &held, &error);
  g_assert_no_error (error);
  g_autofree char *b = vk_store_tmp_dir_new (root, "clone", &killed, &error);
  g_assert_no_error (error);
  g_autofree char *c = vk_store_tmp_dir_new (root, "clone", &done, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (a, root));
  g_autofree char *base = g_path_get_basename (a);
  g_assert_true (g_str_has_prefix (base, "fork-"));
  struct stat st;
  g_assert_cmpint (g_stat (a, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0700);

  /* something in them, as a fork's snapshot would be */
  g_autofree char *state = g_build_filename (b, "state.sav", NULL);
  g_assert_true (g_file_set_contents (state, "LibvirtQemudPart", -1, NULL));
  /* a directory in tmp/ that is not one of these */
  g_autofree char *other = g_build_filename (root, "tmp", "export-flatten", NULL);
  g_assert_cmpint (g_mkdir (other, 0700), ==, 0);

  vk_store_tmp_dir_done (c, done);
  g_assert_false (g_file_test (c, G_FILE_TEST_EXISTS));

  /* "killed": its lock is gone with its process */
  close (killed);
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (vk_store_cleanup (root, removed, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (b, G_FILE_TEST_EXISTS));
  g_assert_true (removed_has (removed, b));
  g_assert_true (g_file_test (a, G_FILE_TEST_IS_DIR));   /* still locked */
  g_assert_false (removed_has (removed, a));
  g_assert_true (g_file_test (other, G_FILE_TEST_IS_DIR));

  vk_store_tmp_dir_done (a, held);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  vk_rm_rf (root, NULL);
}

static void
test_partials (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("vk-store-XXXXXX", &error);
  g_assert_no_error (error);
  int held = -1, dead = -1, saved = -1;
  g_autofree char *a = vk_store_partial_new (root, "img-a", &held, &error);
  g_autofree char *b = vk_store_partial_new (root, "img-b", &dead, &error);
  g_autofree char *c = vk_store_partial_new (root, "img-c", &saved, &error);
  g_assert_no_error (error);
  g_autofree char *cstate = g_build_filename (c, VK_STORE_STATE, NULL);
  g_assert_true (g_file_set_contents (cstate, "LibvirtQemudSave and the rest", -1, NULL));
  close (dead);
  close (saved);

  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_test_expect_message ("vmkeep", G_LOG_LEVEL_WARNING, "*complete state of an interrupted*");
  g_assert_true (vk_store_cleanup (root, removed, &error));
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_true (g_file_test (a, G_FILE_TEST_IS_DIR));
  g_assert_false (g_file_test (b, G_FILE_TEST_EXISTS));
  g_assert_true (removed_has (removed, b));
  g_assert_true (g_file_test (cstate, G_FILE_TEST_IS_REGULAR));
  vk_store_partial_abort (a, held);
  vk_rm_rf (root, NULL);
}

/* A journal recovery could not finish yet may still need a working
 * directory (a fork's saved source definition) or a partial image: while
 * one is left, neither is removed. */
static void
test_pending_journal (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("vk-store-XXXXXX", &error);
  g_assert_no_error (error);
  int t = -1, p = -1;
  g_autofree char *tmp = vk_store_tmp_dir_new (root, "fork", &t, &error);
  g_autofree char *partial = vk_store_partial_new (root, "img", &p, &error);
  g_assert_no_error (error);
  close (t);
  close (p);
  g_autofree char *jdir = g_build_filename (root, "journal", NULL);
  g_assert_cmpint (g_mkdir (jdir, 0700), ==, 0);
  g_autofree char *journal = g_build_filename (jdir, "fork-1-00000001.json", NULL);
  g_assert_true (g_file_set_contents (journal, "{}", -1, NULL));

  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (vk_store_cleanup (root, removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed->len, ==, 0);
  g_assert_true (g_file_test (tmp, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (partial, G_FILE_TEST_IS_DIR));

  /* once the journal is finished, they go */
  g_assert_cmpint (g_unlink (journal), ==, 0);
  g_assert_true (vk_store_cleanup (root, removed, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  vk_rm_rf (root, NULL);
}

/* A vmkeep killed between creating its journal's lock and writing the
 * journal leaves the lock alone: cleanup removes it once it is 100 ms
 * old and free; a lock beside its journal, a held one and a fresh one
 * stay. */
static void
set_old (const char *path)
{
  struct timespec t[2] = { { time (NULL) - 10, 0 }, { time (NULL) - 10, 0 } };
  g_assert_cmpint (utimensat (AT_FDCWD, path, t, 0), ==, 0);
}

static void
test_orphan_journal_locks (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("vk-store-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *jdir = g_build_filename (root, "journal", NULL);
  g_assert_cmpint (g_mkdir (jdir, 0700), ==, 0);
  g_autofree char *orphan = g_build_filename (jdir, "fork-1-00000001.lock", NULL);
  g_autofree char *fresh = g_build_filename (jdir, "fork-2-00000002.lock", NULL);
  g_autofree char *held = g_build_filename (jdir, "fork-3-00000003.lock", NULL);
  g_autofree char *paired = g_build_filename (jdir, "fork-4-00000004.lock", NULL);
  g_autofree char *pjson = g_build_filename (jdir, "fork-4-00000004.json", NULL);
  for (const char *const *p = (const char *const[]) { orphan, fresh, held, paired, pjson, NULL };
       *p; p++)
    g_assert_true (g_file_set_contents (*p, "", 0, NULL));
  set_old (orphan);
  set_old (held);
  set_old (paired);
  int fd = open (held, O_RDWR);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);

  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (vk_store_cleanup (root, removed, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (orphan, G_FILE_TEST_EXISTS));
  g_assert_true (removed_has (removed, orphan));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (held, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (paired, G_FILE_TEST_EXISTS));
  close (fd);
  vk_rm_rf (root, NULL);
}

/* The reader of a killed clone's FIFO: libvirtd's restore, blocked in its
 * open(2) because no vmkeep will ever open the write end. */
typedef struct {
  const char *fifo;
  gint started;
  gint done;
  int open_errno;   /* 0: the open returned */
  gssize got;       /* what the read then returned */
} Reader;

static gpointer
reader_thread (gpointer p)
{
  Reader *r = p;
  g_atomic_int_set (&r->started, 1);
  int fd = open (r->fifo, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    r->open_errno = errno;
  else
    {
      char c;
      r->got = read (fd, &c, 1);
      close (fd);
    }
  g_atomic_int_set (&r->done, 1);
  return NULL;
}

static void
test_fifo_reader_released (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *root = g_dir_make_tmp ("vk-store-XXXXXX", &error);
  g_assert_no_error (error);
  int lock = -1;
  g_autofree char *dir = vk_store_tmp_dir_new (root, "clone", &lock, &error);
  g_assert_no_error (error);
  g_autofree char *fifo = g_build_filename (dir, "state.fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  close (lock);   /* its vmkeep was killed */

  Reader r = { fifo, 0, 0, 0, -1 };
  GThread *t = g_thread_new ("reader", reader_thread, &r);
  while (!g_atomic_int_get (&r.started))
    g_usleep (1000);
  /* long enough for the open to block (a cleanup before it would unlink
   * the FIFO first, and the open fail with ENOENT: caught below) */
  g_usleep (200 * G_TIME_SPAN_MILLISECOND);
  g_assert_false (g_atomic_int_get (&r.done));

  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (vk_store_cleanup (root, removed, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));

  for (int i = 0; i < 5000 && !g_atomic_int_get (&r.done); i++)
    g_usleep (1000);
  if (!g_atomic_int_get (&r.done))
    {
      /* the thread stays blocked; the test process ends with it */
      g_test_fail_printf ("the reader blocked in open(2) on %s was never woken", fifo);
      return;
    }
  g_thread_join (t);
  g_assert_cmpint (r.open_errno, ==, 0);
  g_assert_cmpint (r.got, ==, 0);   /* end of file: the restore fails */
  vk_rm_rf (root, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/store/tmp-dirs", test_tmp_dirs);
  g_test_add_func ("/store/partials", test_partials);
  g_test_add_func ("/store/pending-journal", test_pending_journal);
  g_test_add_func ("/store/orphan-journal-locks", test_orphan_journal_locks);
  g_test_add_func ("/store/fifo-reader-released", test_fifo_reader_released);
  return g_test_run ();
}
