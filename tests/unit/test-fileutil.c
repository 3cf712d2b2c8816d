/* Unit tests for src/core/fileutil.c. Failures are produced for real where
 * the system allows it: a 64 KiB tmpfs for ENOSPC (mounted in a private
 * mount namespace of a child process, so nothing leaks if the test dies),
 * RLIMIT_FSIZE for a write error, a directory in the way for a failed
 * rename. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "fileutil.h"
#include "vk-error.h"
#include "vk-test.h"

/* ---------------------------------------------------------------- helpers */

static char *
make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("vmkeep-fileutil-XXXXXX", &error);

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

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Names in `dir`, sorted, joined by spaces: the whole directory in one
 * string an assertion can show. */
static char *
listing (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *n;

  g_assert_nonnull (d);
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, cmp_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static mode_t
mode_of (const char *path)
{
  struct stat st;

  g_assert_cmpint (lstat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
set_old_mtime (const char *path)
{
  struct timespec ts[2];

  clock_gettime (CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= 3600;
  ts[1] = ts[0];
  g_assert_cmpint (utimensat (AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
}

/* ----------------------------------------------------------- atomic write */

static void
test_write_basic (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "image.xml", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *names = NULL;
  g_autoptr(GError) error = NULL;
  mode_t old = umask (0);

  /* umask 0 would give 0666 to a plain open(); the store's modes are
   * exact whatever the umask. */
  g_assert_true (vk_file_write_atomic (path, "first", 5, 0600, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mode_of (path), ==, 0600);
  umask (0077);
  g_assert_true (vk_file_write_atomic (path, "second version", 14, 0640, &error));
  g_assert_no_error (error);
  umask (old);
  g_assert_cmpint (mode_of (path), ==, 0640);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "second version");

  g_assert_true (vk_file_write_atomic (path, "", 0, 0600, &error));
  g_assert_no_error (error);
  names = listing (dir);
  g_assert_cmpstr (names, ==, "image.xml");
  rm_rf (dir);
}

static void
test_write_missing_dir (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "nope", "image.xml", NULL);
  g_autofree char *names = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_false (vk_file_write_atomic (path, "x", 1, 0600, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "does not exist"));
  names = listing (dir);
  g_assert_cmpstr (names, ==, "");
  rm_rf (dir);
}

/* The rename fails after data was written and synced: the temp file must
 * go, and what is in the way must stay. */
static void
test_write_rename_fails (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "image.xml", NULL);
  g_autofree char *inside = g_build_filename (path, "keep", NULL);
  g_autofree char *names = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_assert_true (g_file_set_contents (inside, "k", 1, NULL));
  g_assert_false (vk_file_write_atomic (path, "data", 4, 0600, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, path));
  names = listing (dir);
  g_assert_cmpstr (names, ==, "image.xml");
  g_assert_true (g_file_test (inside, G_FILE_TEST_IS_REGULAR));
  rm_rf (dir);
}

static void
test_write_bad_name (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (vk_file_write_atomic ("/tmp/", "x", 1, 0600, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
}

/* write(2) fails half way (EFBIG from RLIMIT_FSIZE, which binds root
 * too): the old file stays as it was and no temp file is left. */
static void
test_write_error_subprocess (void)
{
  const char *dir = g_getenv ("VK_TEST_DIR");
  g_autofree char *path = g_build_filename (dir, "state.sav", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *names = NULL;
  g_autofree char *big = g_malloc0 (64 * 1024);
  g_autoptr(GError) error = NULL;
  struct rlimit rl = { 16 * 1024, 16 * 1024 };

  g_assert_true (vk_file_write_atomic (path, "old", 3, 0600, &error));
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
  g_assert_false (vk_file_write_atomic (path, big, 64 * 1024, 0600, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "old");
  names = listing (dir);
  g_assert_cmpstr (names, ==, "state.sav");
}

static void
test_write_error (void)
{
  g_autofree char *dir = make_tmpdir ();

  /* The child inherits the environment (GLib 2.74 has no envp variant). */
  g_setenv ("VK_TEST_DIR", dir, TRUE);
  g_test_trap_subprocess ("/fileutil/write/error-efbig/subprocess", 0,
                          G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  rm_rf (dir);
}

/* /proc files take one write(2); g_file_set_contents would rename. */
static gboolean
write_proc (const char *path, const char *text)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = write (fd, text, strlen (text)) == (ssize_t) strlen (text);
  close (fd);
  return ok;
}

/* Mount a 64 KiB tmpfs on `dir` in a mount namespace of our own: as root
 * directly, otherwise in a new user namespace where we are root. */
static gboolean
mount_tiny_tmpfs (const char *dir, char **why)
{
  if (unshare (geteuid () == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) < 0)
    {
      *why = g_strdup_printf ("unshare: %s", g_strerror (errno));
      return FALSE;
    }
  if (geteuid () != 0)
    {
      g_autofree char *uid_map = g_strdup_printf ("0 %u 1", (guint) getuid ());
      g_autofree char *gid_map = g_strdup_printf ("0 %u 1", (guint) getgid ());

      if (!write_proc ("/proc/self/setgroups", "deny") ||
          !write_proc ("/proc/self/uid_map", uid_map) ||
          !write_proc ("/proc/self/gid_map", gid_map))
        {
          *why = g_strdup ("cannot map ids in a user namespace");
          return FALSE;
        }
    }
  /* Keep the mount from propagating back to the host's namespace. */
  /* source and type are ignored for a propagation change; named anyway
   * because valgrind checks them. */
  if (mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount ("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") < 0)
    {
      *why = g_strdup_printf ("mount: %s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static void
test_write_enospc_subprocess (void)
{
  const char *dir = g_getenv ("VK_TEST_DIR");
  g_autofree char *path = g_build_filename (dir, "state.sav", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *names = NULL;
  g_autofree char *why = NULL;
  g_autofree char *big = g_malloc0 (1024 * 1024);
  g_autoptr(GError) error = NULL;

  if (!mount_tiny_tmpfs (dir, &why))
    {
      /* Tell the parent why, through the (unmounted) directory. */
      g_autofree char *note = g_build_filename (dir, "no-tmpfs", NULL);
      g_file_set_contents (note, why, -1, NULL);
      exit (1);
    }
  g_assert_true (vk_file_write_atomic (path, "old", 3, 0600, &error));
  g_assert_no_error (error);
  g_assert_false (vk_file_write_atomic (path, big, 1024 * 1024, 0600, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_printerr ("message: %s\n", error->message);
  g_assert_nonnull (strstr (error->message, "not enough space"));
  /* g_format_size puts a no-break space between number and unit */
  g_assert_nonnull (strstr (error->message, "it needs 1.0"));
  g_assert_nonnull (strstr (error->message, "are free"));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "old");
  names = listing (dir);
  g_assert_cmpstr (names, ==, "state.sav");
  g_assert_cmpint (umount (dir), ==, 0);
}

static void
test_write_enospc (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *note = g_build_filename (dir, "no-tmpfs", NULL);
  g_autofree char *why = NULL;

  g_setenv ("VK_TEST_DIR", dir, TRUE);
  g_test_trap_subprocess ("/fileutil/write/enospc/subprocess", 0,
                          G_TEST_SUBPROCESS_DEFAULT);
  if (g_file_get_contents (note, &why, NULL, NULL))
    {
      /* Containers without mount rights: the EFBIG test still covers the
       * cleanup path; only the ENOSPC wording goes untested. */
      g_autofree char *msg = g_strdup_printf ("cannot mount a tmpfs here (%s); "
                                              "needs root or user namespaces", why);
      vk_test_skip_or_fail (msg);
    }
  else
    {
      g_test_trap_assert_passed ();
      g_test_trap_assert_stderr ("*not enough space*");
    }
  /* The tmpfs lived in the child's namespace only: the directory is empty
   * and removable here. */
  rm_rf (dir);
}

static void
on_alarm (int sig)
{
}

/* vk_read_full / vk_write_full: whole buffers across short reads, at an
 * offset or the file position; the end of the file ends a read short; an
 * interrupted call with *cancel set ends with ECANCELED. */
static void
test_full_io (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "f", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  char buf[16] = { 0 };
  int p[2];
  g_autoptr(GCancellable) cancel = g_cancellable_new ();

  g_assert_cmpint (fd, >=, 0);
  g_assert_true (vk_write_full (fd, "abcdef", 6, -1, NULL));
  g_assert_true (vk_write_full (fd, "XY", 2, 2, NULL));
  g_assert_cmpint (vk_read_full (fd, buf, sizeof buf, 0, NULL), ==, 6);
  g_assert_cmpstr (buf, ==, "abXYef");
  g_assert_cmpint (vk_read_full (fd, buf, 3, 4, NULL), ==, 2);
  close (fd);

  /* a pipe hands out what was written so far: reads go on to the end */
  g_assert_cmpint (pipe (p), ==, 0);
  g_assert_true (vk_write_full (p[1], "12", 2, -1, NULL));
  g_assert_true (vk_write_full (p[1], "345", 3, -1, NULL));
  close (p[1]);
  memset (buf, 0, sizeof buf);
  g_assert_cmpint (vk_read_full (p[0], buf, sizeof buf, -1, NULL), ==, 5);
  g_assert_cmpstr (buf, ==, "12345");
  close (p[0]);

  /* interrupted while waiting, cancelled: ECANCELED */
  struct sigaction sa = { 0 }, old;
  sa.sa_handler = on_alarm;   /* no SA_RESTART: read(2) returns EINTR */
  g_assert_cmpint (sigaction (SIGALRM, &sa, &old), ==, 0);
  g_assert_cmpint (pipe (p), ==, 0);
  g_cancellable_cancel (cancel);
  struct itimerval t = { { 0, 0 }, { 0, 50000 } };
  g_assert_cmpint (setitimer (ITIMER_REAL, &t, NULL), ==, 0);
  errno = 0;
  g_assert_cmpint (vk_read_full (p[0], buf, 1, -1, cancel), ==, -1);
  g_assert_cmpint (errno, ==, ECANCELED);
  sigaction (SIGALRM, &old, NULL);
  close (p[0]);
  close (p[1]);
  rm_rf (dir);
}

/* vk_file_commit_new: put in place only where nothing is; a file that
 * appeared meanwhile is kept and the temp file removed. */
static void
test_commit_new (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "disk.qcow2", NULL);
  g_autofree char *tmp = NULL;
  g_autofree char *names = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  int fd = -1;

  tmp = vk_tmp_file_new (path, 0600, &fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (fd, "new", 3), ==, 3);
  g_assert_true (vk_file_commit_new (fd, tmp, path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "new");
  names = listing (dir);
  g_assert_cmpstr (names, ==, "disk.qcow2");

  g_free (tmp);
  tmp = vk_tmp_file_new (path, 0600, &fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (fd, "other", 5), ==, 5);
  g_assert_false (vk_file_commit_new (fd, tmp, path, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_free (contents);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "new");
  g_free (names);
  names = listing (dir);
  g_assert_cmpstr (names, ==, "disk.qcow2");
  rm_rf (dir);
}

/* vk_tmp_file_new + vk_file_commit, the path libvirt's save takes. */
static void
test_two_step (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "state.sav", NULL);
  g_autofree char *tmp = NULL;
  g_autofree char *base = NULL;
  g_autofree char *names = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  int fd = -1;

  tmp = vk_tmp_file_new (path, 0600, &fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  base = g_path_get_basename (tmp);
  g_assert_true (g_str_has_prefix (base, ".state.sav" VK_TMP_INFIX));
  g_assert_cmpuint (strlen (base), ==, strlen (".state.sav" VK_TMP_INFIX) + 6);
  g_assert_cmpint (mode_of (tmp), ==, 0600);
  /* a writer that opens the path itself (libvirt) */
  g_assert_true (g_file_set_contents (tmp, "stream", 6, NULL));
  g_assert_true (vk_file_commit (fd, tmp, path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "stream");
  names = listing (dir);
  g_assert_cmpstr (names, ==, "state.sav");

  g_free (tmp);
  tmp = vk_tmp_file_new (path, 0600, &fd, &error);
  g_assert_no_error (error);
  vk_tmp_file_abort (fd, tmp);
  g_free (names);
  names = listing (dir);
  g_assert_cmpstr (names, ==, "state.sav");
  rm_rf (dir);
}

/* ------------------------------------------------------------ directories */

static void
test_dir_private (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *a = g_build_filename (dir, "a", NULL);
  g_autofree char *ab = g_build_filename (dir, "a", "b", NULL);
  g_autofree char *abc = g_build_filename (dir, "a", "b", "c", NULL);
  g_autofree char *abc_slash = g_strconcat (abc, "/", NULL);
  g_autofree char *shared = g_build_filename (dir, "shared", NULL);
  g_autoptr(GError) error = NULL;
  mode_t old = umask (0);

  g_assert_true (vk_dir_ensure_private (abc, &error));
  g_assert_no_error (error);
  umask (old);
  /* parents traversable, as the system's own (QEMU must pass them), the
   * directory itself private */
  g_assert_cmpint (mode_of (a), ==, 0755);
  g_assert_cmpint (mode_of (ab), ==, 0755);
  g_assert_cmpint (mode_of (abc), ==, 0700);
  /* again, and with a trailing slash: nothing to do */
  g_assert_true (vk_dir_ensure_private (abc_slash, &error));
  g_assert_no_error (error);

  /* an existing 0755 directory is accepted and left as it is */
  g_assert_cmpint (g_mkdir (shared, 0755), ==, 0);
  g_assert_cmpint (chmod (shared, 0755), ==, 0);
  g_assert_true (vk_dir_ensure_private (shared, &error));
  g_assert_no_error (error);
  g_assert_cmpint (mode_of (shared), ==, 0755);
  rm_rf (dir);
}

/* Who may pass through the directories down to a path. */
static void
test_untraversable (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *a = g_build_filename (dir, "a", NULL);
  g_autofree char *ab = g_build_filename (dir, "a", "b", NULL);
  g_autofree char *abcd = g_build_filename (dir, "a", "b", "c", "d", NULL);
  g_assert_cmpint (g_mkdir_with_parents (ab, 0755), ==, 0);
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  g_assert_cmpint (chmod (a, 0755), ==, 0);
  g_assert_cmpint (chmod (ab, 0755), ==, 0);
  const uid_t other = 64055;
  const gid_t groups[] = { 64055, 4242 };
  guint mode = 0;
  /* all traversable; "c/d" do not exist yet and are skipped */
  g_assert_null (vk_path_untraversable (abcd, other, groups, 2, &mode));
  /* a 0700 parent stops another user, names itself and its mode */
  g_assert_cmpint (chmod (a, 0700), ==, 0);
  g_autofree char *blocked = vk_path_untraversable (abcd, other, groups, 2, &mode);
  g_assert_cmpstr (blocked, ==, a);
  g_assert_cmpuint (mode, ==, 0700);
  /* ... but not root, nor its owner */
  g_assert_null (vk_path_untraversable (abcd, 0, groups, 2, NULL));
  g_assert_cmpint (chown (a, other, 0), ==, 0);
  g_assert_null (vk_path_untraversable (abcd, other, groups, 2, NULL));
  /* group search permission counts for a member of the group */
  g_assert_cmpint (chown (a, 0, 4242), ==, 0);
  g_assert_cmpint (chmod (a, 0710), ==, 0);
  g_assert_null (vk_path_untraversable (abcd, other, groups, 2, NULL));
  g_autofree char *b2 = vk_path_untraversable (abcd, other, groups, 1, NULL);
  g_assert_cmpstr (b2, ==, a);
  /* execute for others is enough; read is not needed */
  g_assert_cmpint (chmod (a, 0711), ==, 0);
  g_assert_null (vk_path_untraversable (abcd, other, groups, 1, NULL));
  chmod (a, 0755);
  rm_rf (dir);
}

static void
test_dir_refused (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *real = g_build_filename (dir, "real", NULL);
  g_autofree char *link = g_build_filename (dir, "link", NULL);
  g_autofree char *open_dir = g_build_filename (dir, "open", NULL);
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_autofree char *under_file = g_build_filename (dir, "file", "x", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (real, 0700), ==, 0);
  g_assert_cmpint (symlink (real, link), ==, 0);
  g_assert_false (vk_dir_ensure_private (link, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "symbolic link"));
  g_clear_error (&error);

  g_assert_cmpint (g_mkdir (open_dir, 0700), ==, 0);
  g_assert_cmpint (chmod (open_dir, 01777), ==, 0);
  g_assert_false (vk_dir_ensure_private (open_dir, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "writable by every user"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (file, "", 0, NULL));
  g_assert_false (vk_dir_ensure_private (file, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "not a directory"));
  g_clear_error (&error);
  g_assert_false (vk_dir_ensure_private (under_file, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_clear_error (&error);

  g_assert_false (vk_dir_ensure_private ("", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  rm_rf (dir);
}

/* ---------------------------------------------------------------- sha256 */

static char *
sha256sum (const char *path)
{
  const char *argv[] = { "sha256sum", "--", path, NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH,
                               NULL, NULL, &out, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpuint (strlen (out), >=, 64);
  return g_strndup (out, 64);
}

static void
test_sha256 (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "state.sav", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  /* Not a multiple of the 1 MiB read size, so the last read is short. */
  gsize len = 3 * 1024 * 1024 + 12345;
  g_autofree guint8 *data = g_malloc (len);
  g_autofree char *got = NULL;
  g_autofree char *want = NULL;
  g_autoptr(GError) error = NULL;
  guint64 size = 0;
  guint32 x = 2463534242u;
  int fd;

  for (gsize i = 0; i < len; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      data[i] = (guint8) x;
    }
  g_assert_true (g_file_set_contents (path, (const char *) data, (gssize) len, NULL));
  g_assert_true (vk_file_sha256 (path, &got, &size, &error));
  g_assert_no_error (error);
  want = sha256sum (path);
  g_assert_cmpstr (got, ==, want);
  g_assert_cmpuint (size, ==, len);

  /* fd variant: from the current offset */
  g_clear_pointer (&got, g_free);
  g_clear_pointer (&want, g_free);
  fd = open (path, O_RDONLY);
  g_assert_cmpint (lseek (fd, 1000, SEEK_SET), ==, 1000);
  g_assert_true (vk_fd_sha256 (fd, path, &got, &size, &error));
  close (fd);
  g_assert_no_error (error);
  want = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data + 1000, len - 1000);
  g_assert_cmpstr (got, ==, want);
  g_assert_cmpuint (size, ==, len - 1000);

  g_clear_pointer (&got, g_free);
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_true (vk_file_sha256 (empty, &got, NULL, &error));
  g_assert_cmpstr (got, ==, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  g_clear_pointer (&got, g_free);
  g_assert_false (vk_file_sha256 (missing, &got, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  g_assert_null (got);
  g_clear_error (&error);
  g_assert_false (vk_file_sha256 (dir, &got, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "directory"));
  rm_rf (dir);
}

/* --------------------------------------------------------------- cleanup */

static void
test_cleanup (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *target = g_build_filename (dir, "held.xml", NULL);
  g_autofree char *held = NULL;
  g_autofree char *held_base = NULL;
  g_autofree char *names = NULL;
  g_autoptr(GPtrArray) removed = NULL;
  g_autoptr(GError) error = NULL;
  struct {
    const char *name;
    gboolean old;
  } files[] = {
    { ".image.xml.vk-tmp-a1b2c3", TRUE },   /* stale: removed */
    { ".state.sav.vk-tmp-d4e5f6", TRUE },   /* stale: removed */
    { ".fresh.xml.vk-tmp-g7h8i9", FALSE },  /* created this instant (its writer may
                                             * not hold its flock yet) */
    { "plain.vk-tmp-j0k1l2", TRUE },        /* not ours: no leading dot */
    { "image.xml", TRUE },
    { ".hidden", TRUE },
  };
  int fd = -1;

  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (dir, files[i].name, NULL);
      g_assert_true (g_file_set_contents (p, "x", 1, NULL));
      if (files[i].old)
        set_old_mtime (p);
    }
  {
    /* old, but not regular files: left alone */
    g_autofree char *l = g_build_filename (dir, ".link.vk-tmp-m3n4o5", NULL);
    g_autofree char *d = g_build_filename (dir, ".dir.vk-tmp-p6q7r8", NULL);
    g_assert_cmpint (symlink ("image.xml", l), ==, 0);
    set_old_mtime (l);
    g_assert_cmpint (g_mkdir (d, 0700), ==, 0);
    set_old_mtime (d);
  }
  /* old but still held by its writer (another vmkeep writing slowly) */
  held = vk_tmp_file_new (target, 0600, &fd, &error);
  g_assert_no_error (error);
  set_old_mtime (held);
  held_base = g_path_get_basename (held);

  {
    /* "this instant": a second ahead, whatever the machine's speed */
    g_autofree char *fresh = g_build_filename (dir, ".fresh.xml.vk-tmp-g7h8i9", NULL);
    struct timespec ts[2];
    clock_gettime (CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec += 1;
    ts[1] = ts[0];
    g_assert_cmpint (utimensat (AT_FDCWD, fresh, ts, 0), ==, 0);
  }
  g_assert_true (vk_tmp_cleanup (dir, &removed, &error));
  g_assert_no_error (error);
  g_ptr_array_sort (removed, cmp_names);
  g_assert_cmpuint (removed->len, ==, 2);
  g_assert_cmpstr (removed->pdata[0], ==, ".image.xml.vk-tmp-a1b2c3");
  g_assert_cmpstr (removed->pdata[1], ==, ".state.sav.vk-tmp-d4e5f6");

  names = listing (dir);
  g_test_message ("left: %s", names);
  g_assert_nonnull (strstr (names, held_base));
  g_assert_null (strstr (names, ".image.xml.vk-tmp-a1b2c3"));
  g_assert_null (strstr (names, ".state.sav.vk-tmp-d4e5f6"));
  g_assert_nonnull (strstr (names, ".fresh.xml.vk-tmp-g7h8i9"));
  g_assert_nonnull (strstr (names, "plain.vk-tmp-j0k1l2"));
  g_assert_nonnull (strstr (names, ".link.vk-tmp-m3n4o5"));
  g_assert_nonnull (strstr (names, ".dir.vk-tmp-p6q7r8"));

  /* once its writer is gone, the held file is stale too */
  close (fd);
  g_clear_pointer (&removed, g_ptr_array_unref);
  g_assert_true (vk_tmp_cleanup (dir, &removed, &error));
  g_assert_cmpuint (removed->len, ==, 1);
  g_assert_cmpstr (removed->pdata[0], ==, held_base);
  rm_rf (dir);
}

static void
test_cleanup_missing (void)
{
  g_autoptr(GPtrArray) removed = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (vk_tmp_cleanup ("/nonexistent/vmkeep/managed", &removed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (removed->len, ==, 0);
  g_assert_true (vk_tmp_cleanup ("/nonexistent/vmkeep/managed", NULL, &error));
}

/* ------------------------------------------------------------------ lock */

static char *
read_file (const char *path)
{
  char *contents = NULL;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  return contents;
}

static void
test_lock_same_process (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *lockdir = g_build_filename (dir, "locks", NULL);
  g_autofree char *path = g_build_filename (lockdir, "web1.lock", NULL);
  g_autofree char *pid = g_strdup_printf ("%ld\n", (long) getpid ());
  g_autofree char *busy = g_strdup_printf ("another vmkeep is working on web1 "
                                           "(pid %ld); try again when it finishes",
                                           (long) getpid ());
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  VkLock *lock;
  VkLock *second;

  lock = vk_lock_acquire (lockdir, "web1", &error);
  g_assert_no_error (error);
  g_assert_nonnull (lock);
  g_assert_cmpstr (vk_lock_get_path (lock), ==, path);
  g_assert_cmpint (mode_of (lockdir), ==, 0700);
  g_assert_cmpint (mode_of (path), ==, 0600);
  contents = read_file (path);
  g_assert_cmpstr (contents, ==, pid);

  /* flock is per open file description: a second open conflicts even in
   * the same process. */
  second = vk_lock_acquire (lockdir, "web1", &error);
  g_assert_null (second);
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  g_assert_cmpstr (error->message, ==, busy);
  g_clear_error (&error);

  /* other VMs are independent */
  second = vk_lock_acquire (lockdir, "web2", &error);
  g_assert_no_error (error);
  vk_lock_release (second);

  vk_lock_release (lock);
  g_clear_pointer (&contents, g_free);
  contents = read_file (path);
  g_assert_cmpstr (contents, ==, "");  /* no stale pid left behind */
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));

  {
    g_autoptr(VkLock) again = vk_lock_acquire (lockdir, "web1", &error);
    g_assert_no_error (error);
    g_assert_nonnull (again);
  }
  /* released by g_autoptr */
  lock = vk_lock_acquire (lockdir, "web1", &error);
  g_assert_no_error (error);
  vk_lock_release (lock);
  rm_rf (dir);
}

static void
test_lock_other_process (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr(GError) error = NULL;
  g_autofree char *busy = NULL;
  int ready[2], done[2];
  char c = 0;
  pid_t child;
  int status = 0;
  VkLock *lock;

  g_assert_cmpint (pipe (ready), ==, 0);
  g_assert_cmpint (pipe (done), ==, 0);
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      VkLock *held = vk_lock_acquire (dir, "web1", NULL);
      char x = held != NULL ? 'y' : 'n';

      (void) !write (ready[1], &x, 1);
      (void) !read (done[0], &x, 1);
      /* exits holding it: the kernel releases a dead process's locks */
      _exit (0);
    }
  close (ready[1]);
  close (done[0]);
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'y');

  lock = vk_lock_acquire (dir, "web1", &error);
  g_assert_null (lock);
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  busy = g_strdup_printf ("(pid %ld)", (long) child);
  g_assert_nonnull (strstr (error->message, busy));
  g_clear_error (&error);

  g_assert_cmpint (write (done[1], "x", 1), ==, 1);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  close (ready[0]);
  close (done[1]);
  lock = vk_lock_acquire (dir, "web1", &error);
  g_assert_no_error (error);
  g_assert_nonnull (lock);
  vk_lock_release (lock);
  rm_rf (dir);
}

static void
test_lock_bad_name (void)
{
  g_autofree char *dir = make_tmpdir ();
  const char *bad[] = { "", "a/b", ".", "..", "../x" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_null (vk_lock_acquire (dir, bad[i], &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
    }
  rm_rf (dir);
}

/* ----------------------------------------------------------------- space */

static void
test_statvfs (void)
{
  g_autoptr(GError) error = NULL;
  guint64 free_bytes = 0;

  g_assert_true (vk_statvfs_free_bytes (g_get_tmp_dir (), &free_bytes, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (free_bytes, >, 0);
  g_assert_false (vk_statvfs_free_bytes ("/nonexistent/vmkeep", &free_bytes, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/fileutil/write/basic", test_write_basic);
  g_test_add_func ("/fileutil/write/commit-new", test_commit_new);
  g_test_add_func ("/fileutil/full-io", test_full_io);
  g_test_add_func ("/fileutil/write/missing-dir", test_write_missing_dir);
  g_test_add_func ("/fileutil/write/rename-fails", test_write_rename_fails);
  g_test_add_func ("/fileutil/write/bad-name", test_write_bad_name);
  g_test_add_func ("/fileutil/write/error-efbig", test_write_error);
  g_test_add_func ("/fileutil/write/error-efbig/subprocess", test_write_error_subprocess);
  g_test_add_func ("/fileutil/write/enospc", test_write_enospc);
  g_test_add_func ("/fileutil/write/enospc/subprocess", test_write_enospc_subprocess);
  g_test_add_func ("/fileutil/write/two-step", test_two_step);
  g_test_add_func ("/fileutil/dir/private", test_dir_private);
  g_test_add_func ("/fileutil/dir/untraversable", test_untraversable);
  g_test_add_func ("/fileutil/dir/refused", test_dir_refused);
  g_test_add_func ("/fileutil/sha256", test_sha256);
  g_test_add_func ("/fileutil/cleanup/stale", test_cleanup);
  g_test_add_func ("/fileutil/cleanup/missing-dir", test_cleanup_missing);
  g_test_add_func ("/fileutil/lock/same-process", test_lock_same_process);
  g_test_add_func ("/fileutil/lock/other-process", test_lock_other_process);
  g_test_add_func ("/fileutil/lock/bad-name", test_lock_bad_name);
  g_test_add_func ("/fileutil/statvfs", test_statvfs);

  return g_test_run ();
}
