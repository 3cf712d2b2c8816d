/* vmkeep — files in the store (see fileutil.h for the contracts).
 *
 * Two kinds of concurrent vmkeep process meet here: ones working on the same
 * VM (serialised by VkLock, the second one fails at once) and ones working
 * on different VMs whose files share a directory (managed/ holds every
 * VM's sidecar). The second kind is why temp files carry an flock while
 * they are written: another process's cleanup must leave them alone. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "fileutil.h"
#include "sha256.h"
#include "vk-error.h"

/* Large enough that checksumming a multi-GiB state file is bound by the
 * disk, small enough not to matter next to a VM's memory. */
#define SHA_CHUNK (1024 * 1024)

static int
code_for_errno (int err)
{
  return err == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED;
}

static gboolean
is_no_space (int err)
{
  return err == ENOSPC || err == EDQUOT;
}

/* ENOSPC is the failure admins actually meet (a store filling up with
 * hibernate images), so it gets numbers and a next step instead of
 * strerror alone. */
static void
set_write_error (GError **error, int err, const char *path, guint64 needed)
{
  if (is_no_space (err))
    {
      g_autofree char *dir = g_path_get_dirname (path);
      g_autofree char *need = g_format_size (needed);
      guint64 free_bytes = 0;

      if (vk_statvfs_free_bytes (dir, &free_bytes, NULL))
        {
          g_autofree char *avail = g_format_size (free_bytes);
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("not enough space in %s to write %s (%s): it needs "
                         "%s and %s are free; free some space (old images: "
                         "vmkeep image rm) and retry"),
                       dir, path, g_strerror (err), need, avail);
        }
      else
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                     _("not enough space in %s to write %s (%s): it needs %s; "
                       "free some space (old images: vmkeep image rm) and retry"),
                     dir, path, g_strerror (err), need);
      return;
    }
  g_set_error (error, VK_ERROR, code_for_errno (err),
               _("cannot write %s: %s"), path, g_strerror (err));
}

/* A signal interrupted a read or write: whether it cancelled the run. The
 * CLI's signal handler cannot cancel a GCancellable itself (a thread does,
 * a moment later), so give that thread a little time before the call is
 * retried and blocks again. */
static gboolean
cancelled_after_eintr (GCancellable *cancel)
{
  if (cancel == NULL)
    return FALSE;
  for (int i = 0; i < 50 && !g_cancellable_is_cancelled (cancel); i++)
    g_usleep (1000);
  return g_cancellable_is_cancelled (cancel);
}

gssize
vk_read_full (int fd, void *buf, gsize len, gint64 at, GCancellable *cancel)
{
  gsize got = 0;
  while (got < len)
    {
      ssize_t n = at < 0 ? read (fd, (guint8 *) buf + got, len - got)
                         : pread (fd, (guint8 *) buf + got, len - got, (off_t) (at + (gint64) got));
      if (n < 0 && errno == EINTR)
        {
          if (cancelled_after_eintr (cancel))
            {
              errno = ECANCELED;
              return -1;
            }
          continue;
        }
      if (n < 0)
        return -1;
      if (n == 0)
        break;
      got += (gsize) n;
    }
  return (gssize) got;
}

gboolean
vk_write_full (int fd, const void *buf, gsize len, gint64 at, GCancellable *cancel)
{
  gsize done = 0;
  while (done < len)
    {
      ssize_t n = at < 0 ? write (fd, (const guint8 *) buf + done, len - done)
                         : pwrite (fd, (const guint8 *) buf + done, len - done,
                                   (off_t) (at + (gint64) done));
      if (n < 0 && errno == EINTR)
        {
          if (cancelled_after_eintr (cancel))
            {
              errno = ECANCELED;
              return FALSE;
            }
          continue;
        }
      if (n < 0)
        return FALSE;
      if (n == 0)
        {
          errno = EIO;
          return FALSE;
        }
      done += (gsize) n;
    }
  return TRUE;
}

static gboolean fsync_dir (const char *path, GError **error);

gboolean
vk_fsync_parent (const char *path, GError **error)
{
  return fsync_dir (path, error);
}

static gboolean
fsync_dir (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved;

  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("%s was written, but its directory %s cannot be opened to "
                     "make the rename durable: %s"),
                   path, dir, g_strerror (saved));
      return FALSE;
    }
  if (fsync (fd) < 0 && errno != EINVAL)
    {
      saved = errno;
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("%s was written, but syncing its directory %s failed (%s); "
                     "after a crash the old file may reappear"),
                   path, dir, g_strerror (saved));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

char *
vk_tmp_file_new (const char *path, mode_t mode, int *fd_out, GError **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *tmpl_name = NULL;
  g_autofree char *tmpl = NULL;
  int fd;
  int saved;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (fd_out != NULL, NULL);

  *fd_out = -1;
  base = g_path_get_basename (path);
  if (path[0] == '\0' || g_str_has_suffix (path, "/") ||
      g_str_equal (base, ".") || g_str_equal (base, "..") ||
      g_str_equal (base, "/"))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot write “%s”: it does not name a file"), path);
      return NULL;
    }
  dir = g_path_get_dirname (path);
  tmpl_name = g_strconcat (".", base, VK_TMP_INFIX "XXXXXX", NULL);
  tmpl = g_build_filename (dir, tmpl_name, NULL);

  fd = g_mkstemp_full (tmpl, O_RDWR | O_CLOEXEC, mode & 07777);
  if (fd < 0)
    {
      saved = errno;
      if (saved == ENOENT)
        g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                     _("cannot write %s: directory %s does not exist"),
                     path, dir);
      else if (is_no_space (saved))
        set_write_error (error, saved, path, 0);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                     _("cannot create a temporary file in %s to write %s: %s"),
                     dir, path, g_strerror (saved));
      return NULL;
    }
  /* mkstemp's mode is filtered by the umask; the store's modes are part of
   * its security (guest memory), so they are set exactly. */
  if (fchmod (fd, mode & 07777) < 0 ||
      /* A fresh file nobody else can know yet: this cannot block. */
      flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      saved = errno;
      vk_tmp_file_abort (fd, tmpl);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot prepare temporary file %s: %s"), tmpl,
                   g_strerror (saved));
      return NULL;
    }
  *fd_out = fd;
  return g_steal_pointer (&tmpl);
}

void
vk_tmp_file_abort (int fd, const char *tmp_path)
{
  if (tmp_path != NULL)
    g_unlink (tmp_path);
  if (fd >= 0)
    close (fd);
}

/* vk_file_commit and vk_file_commit_new: `no_replace` puts the file in
 * place only where nothing is (a hard link is the portable "rename unless
 * the name exists": renameat2's RENAME_NOREPLACE is refused by some file
 * systems). */
static gboolean
commit (int fd, const char *tmp_path, const char *path, gboolean no_replace, GError **error)
{
  struct stat st;
  int saved;

  g_return_val_if_fail (fd >= 0 && tmp_path != NULL && path != NULL, FALSE);

  if (fsync (fd) < 0)
    {
      saved = errno;
      if (fstat (fd, &st) < 0)
        st.st_size = 0;
      vk_tmp_file_abort (fd, tmp_path);
      set_write_error (error, saved, path, (guint64) st.st_size);
      return FALSE;
    }
  /* Put in place while the fd (and its flock) is still held, so another
   * process's vk_tmp_cleanup cannot slip in between. */
  if ((no_replace ? link (tmp_path, path) : rename (tmp_path, path)) < 0)
    {
      saved = errno;
      vk_tmp_file_abort (fd, tmp_path);
      if (no_replace && saved == EEXIST)
        g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                     _("%s already exists; vmkeep never overwrites a file it creates"), path);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot put %s in place: %s"), path,
                     g_strerror (saved));
      return FALSE;
    }
  if (no_replace)
    g_unlink (tmp_path);
  if (close (fd) < 0 && errno != EINTR)
    {
      saved = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("%s was written, but closing it reported %s; check the "
                     "file system and write it again"),
                   path, g_strerror (saved));
      return FALSE;
    }
  return fsync_dir (path, error);
}

gboolean
vk_file_commit (int fd, const char *tmp_path, const char *path, GError **error)
{
  return commit (fd, tmp_path, path, FALSE, error);
}

gboolean
vk_file_commit_new (int fd, const char *tmp_path, const char *path, GError **error)
{
  return commit (fd, tmp_path, path, TRUE, error);
}

gboolean
vk_file_write_atomic (const char *path, const void *data, gsize len,
                      mode_t mode, GError **error)
{
  g_autofree char *tmp = NULL;
  const guint8 *p = data;
  gsize done = 0;
  int fd = -1;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  tmp = vk_tmp_file_new (path, mode, &fd, error);
  if (tmp == NULL)
    return FALSE;

  while (done < len)
    {
      ssize_t n = write (fd, p + done, len - done);

      if (n < 0)
        {
          int saved = errno;

          if (saved == EINTR)
            continue;
          vk_tmp_file_abort (fd, tmp);
          set_write_error (error, saved, path, len);
          return FALSE;
        }
      done += (gsize) n;
    }
  return vk_file_commit (fd, tmp, path, error);
}

/* ------------------------------------------------------------ directories */

static gboolean
mkdir_mode (const char *path, mode_t mode, GError **error)
{
  int saved;

  if (mkdir (path, mode) == 0)
    {
      /* mkdir's mode went through the umask. */
      if (chmod (path, mode) < 0)
        {
          saved = errno;
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot set the mode of directory %s: %s"), path,
                       g_strerror (saved));
          return FALSE;
        }
      return TRUE;
    }
  saved = errno;
  if (saved == EEXIST)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
               _("cannot create directory %s: %s"), path, g_strerror (saved));
  return FALSE;
}

gboolean
vk_dir_ensure_private (const char *path, GError **error)
{
  g_autofree char *copy = NULL;
  struct stat st;
  int fd;
  int saved;

  g_return_val_if_fail (path != NULL, FALSE);

  if (path[0] == '\0')
    {
      g_set_error_literal (error, VK_ERROR, VK_ERROR_FAILED,
                           _("directory path is empty; check the store setting "
                             "in vmkeep.conf"));
      return FALSE;
    }

  copy = g_strdup (path);
  for (char *p = copy + 1; *p != '\0'; p++)
    {
      if (*p != '/' || p[-1] == '/')
        continue;
      *p = '\0';
      /* Parents vmkeep creates (/usr/local/var/lib of a plain ./configure)
       * are traversable like those the system made: QEMU, which does not
       * run as root, must reach the frozen disks below. */
      if (!mkdir_mode (copy, 0755, error))
        return FALSE;
      *p = '/';
    }
  if (!mkdir_mode (copy, 0700, error))
    return FALSE;

  /* O_NOFOLLOW on the final component: a symlink planted there would send
   * guest memory wherever it points. */
  fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      saved = errno;
      /* With O_DIRECTORY, Linux reports a symlink as ENOTDIR, not ELOOP. */
      if (saved == ELOOP ||
          (saved == ENOTDIR && lstat (path, &st) == 0 && S_ISLNK (st.st_mode)))
        g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                     _("%s is a symbolic link; vmkeep writes VM state only into "
                       "real directories: point the store setting at the "
                       "link's target instead"),
                     path);
      else if (saved == ENOTDIR)
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                     _("%s exists but is not a directory; move it away or "
                       "choose another store directory"),
                     path);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                     _("cannot open directory %s: %s"), path,
                     g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) < 0)
    {
      saved = errno;
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot examine directory %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  close (fd);
  if (st.st_mode & S_IWOTH)
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("directory %s is writable by every user (mode %04o); any "
                      "user could replace VM state there: run chmod o-w %s or "
                      "choose another store directory"),
                    path, (guint) (st.st_mode & 07777), path);
  return TRUE;
}

/* ----------------------------------------------------- reachable by a user */

static gboolean
in_groups (gid_t g, const gid_t *gids, int ngids)
{
  for (int i = 0; i < ngids; i++)
    if (gids[i] == g)
      return TRUE;
  return FALSE;
}

char *
vk_path_untraversable (const char *path, uid_t uid, const gid_t *gids, int ngids,
                       guint *mode_out)
{
  if (uid == 0)
    return NULL;
  g_autofree char *copy = g_strdup (path);
  gsize len = strlen (copy);
  for (gsize i = 1; i <= len; i++)
    {
      if (copy[i] != '/' && copy[i] != '\0')
        continue;
      char c = copy[i];
      copy[i] = '\0';
      struct stat st;
      if (stat (copy, &st) == 0 && S_ISDIR (st.st_mode))
        {
          mode_t bit = st.st_uid == uid ? S_IXUSR
                       : in_groups (st.st_gid, gids, ngids) ? S_IXGRP : S_IXOTH;
          if (!(st.st_mode & bit))
            {
              if (mode_out)
                *mode_out = st.st_mode & 07777;
              return g_strdup (copy);
            }
        }
      copy[i] = c;
    }
  return NULL;
}

/* --------------------------------------------------------------- checksum */

gboolean
vk_fd_sha256 (int fd, const char *name, char **hex_out, guint64 *size_out,
              GError **error)
{
  g_autoptr(VkSha256) sum = vk_sha256_new ();
  g_autofree guint8 *buf = g_malloc (SHA_CHUNK);
  guint64 total = 0;

  g_return_val_if_fail (fd >= 0 && name != NULL && hex_out != NULL, FALSE);

  /* Checksumming a state file must not evict the page cache of running
   * guests more than it has to. */
  (void) posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  for (;;)
    {
      ssize_t n = read (fd, buf, SHA_CHUNK);

      if (n < 0)
        {
          int saved = errno;

          if (saved == EINTR)
            continue;
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot read %s to checksum it: %s"), name,
                       g_strerror (saved));
          return FALSE;
        }
      if (n == 0)
        break;
      vk_sha256_update (sum, buf, (gsize) n);
      total += (guint64) n;
    }
  *hex_out = vk_sha256_hex (sum);
  if (size_out != NULL)
    *size_out = total;
  return TRUE;
}

gboolean
vk_file_sha256 (const char *path, char **hex_out, guint64 *size_out,
                GError **error)
{
  struct stat st;
  gboolean ok;
  int fd;

  g_return_val_if_fail (path != NULL && hex_out != NULL, FALSE);

  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      int saved = errno;
      g_set_error (error, VK_ERROR, code_for_errno (saved),
                   _("cannot open %s to checksum it: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  if (fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot checksum %s: it is a directory"), path);
      return FALSE;
    }
  ok = vk_fd_sha256 (fd, path, hex_out, size_out, error);
  close (fd);
  return ok;
}

/* ---------------------------------------------------------------- cleanup */

static gboolean
is_tmp_name (const char *name)
{
  return name[0] == '.' && strstr (name + 1, VK_TMP_INFIX) != NULL;
}

gboolean
vk_tmp_cleanup (const char *dir, GPtrArray **removed, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) first = NULL;
  struct dirent *de;
  DIR *d;
  int dfd;

  g_return_val_if_fail (dir != NULL, FALSE);

  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    {
      int saved = errno;

      if (saved == ENOENT)
        {
          if (removed != NULL)
            *removed = g_steal_pointer (&names);
          return TRUE;
        }
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot read directory %s to remove leftover temporary "
                     "files: %s"),
                   dir, g_strerror (saved));
      return FALSE;
    }
  d = fdopendir (dfd);
  if (d == NULL)
    {
      int saved = errno;
      close (dfd);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot read directory %s to remove leftover temporary "
                     "files: %s"),
                   dir, g_strerror (saved));
      return FALSE;
    }

  while ((errno = 0, de = readdir (d)) != NULL)
    {
      struct stat st, fst;
      int fd;

      if (!is_tmp_name (de->d_name))
        continue;
      if (fstatat (dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
          !S_ISREG (st.st_mode))
        continue;
      /* Created this very moment: its writer may not have taken its
       * flock yet (vk_tmp_file_new takes it right after mkstemp). Keep
       * it. A writer killed an instant ago leaves a file that is removed
       * as soon as it is 100 ms old, so the next vmkeep finds none. */
      if (g_get_real_time () - (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC -
            st.st_mtim.tv_nsec / 1000 < 100 * G_TIME_SPAN_MILLISECOND)
        continue;
      fd = openat (dfd, de->d_name,
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
      if (fd < 0)
        continue;
      /* Held by its writer (vk_tmp_file_new): not stale however old. */
      if (flock (fd, LOCK_EX | LOCK_NB) < 0 || fstat (fd, &fst) < 0 ||
          fst.st_ino != st.st_ino || fst.st_dev != st.st_dev)
        {
          close (fd);
          continue;
        }
      if (unlinkat (dfd, de->d_name, 0) < 0)
        {
          int saved = errno;

          if (first == NULL && saved != ENOENT)
            g_set_error (&first, VK_ERROR, VK_ERROR_FAILED,
                         _("cannot remove leftover temporary file %s/%s: %s"),
                         dir, de->d_name, g_strerror (saved));
        }
      else
        g_ptr_array_add (names, g_strdup (de->d_name));
      close (fd);
    }
  if (errno != 0 && first == NULL)
    g_set_error (&first, VK_ERROR, VK_ERROR_FAILED,
                 _("cannot read directory %s to remove leftover temporary "
                   "files: %s"),
                 dir, g_strerror (errno));
  closedir (d);

  if (removed != NULL)
    *removed = g_steal_pointer (&names);
  if (first != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first));
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_statvfs_free_bytes (const char *path, guint64 *out, GError **error)
{
  struct statvfs sv;

  g_return_val_if_fail (path != NULL && out != NULL, FALSE);

  if (statvfs (path, &sv) < 0)
    {
      int saved = errno;
      g_set_error (error, VK_ERROR, code_for_errno (saved),
                   _("cannot query free space of %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  *out = (guint64) sv.f_bavail * (guint64) sv.f_frsize;
  return TRUE;
}

/* ------------------------------------------------------------------- lock */

struct _VkLock {
  int fd;
  char *path;
  gboolean shared;
};

const char *
vk_lock_get_path (const VkLock *lock)
{
  g_return_val_if_fail (lock != NULL, NULL);
  return lock->path;
}

/* The holder's pid as written by vk_lock_acquire, or 0 when the holder has
 * not written it yet (or the file holds something else). */
static long
read_holder_pid (int fd)
{
  char buf[32];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
  char *end = NULL;
  long pid;

  if (n <= 0)
    return 0;
  buf[n] = '\0';
  pid = strtol (buf, &end, 10);
  if (end == buf || (*end != '\n' && *end != '\0') || pid <= 0)
    return 0;
  return pid;
}

static VkLock *lock_acquire (const char *lockdir, const char *name, gboolean shared,
                             GError **error);

VkLock *
vk_lock_acquire (const char *lockdir, const char *name, GError **error)
{
  return lock_acquire (lockdir, name, FALSE, error);
}

VkLock *
vk_lock_acquire_shared (const char *lockdir, const char *name, GError **error)
{
  return lock_acquire (lockdir, name, TRUE, error);
}

static VkLock *
lock_acquire (const char *lockdir, const char *name, gboolean shared, GError **error)
{
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  char pidbuf[32];
  VkLock *lock;
  int fd;
  int saved;
  int len;

  g_return_val_if_fail (lockdir != NULL && name != NULL, NULL);

  if (name[0] == '\0' || strchr (name, '/') != NULL ||
      g_str_equal (name, ".") || g_str_equal (name, ".."))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("cannot lock “%s”: a lock name must be a plain file name"),
                   name);
      return NULL;
    }
  if (!vk_dir_ensure_private (lockdir, error))
    return NULL;

  file = g_strconcat (name, ".lock", NULL);
  path = g_build_filename (lockdir, file, NULL);
  fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0)
    {
      saved = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot open lock file %s: %s"), path, g_strerror (saved));
      return NULL;
    }

  while (flock (fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
    {
      long pid;

      saved = errno;
      if (saved == EINTR)
        continue;
      if (saved != EWOULDBLOCK)
        {
          close (fd);
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot lock %s: %s"), path, g_strerror (saved));
          return NULL;
        }
      pid = read_holder_pid (fd);
      close (fd);
      if (pid > 0)
        g_set_error (error, VK_ERROR, VK_ERROR_BUSY,
                     _("another vmkeep is working on %s (pid %ld); try again "
                       "when it finishes"),
                     name, pid);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_BUSY,
                     _("another vmkeep is working on %s; try again when it "
                       "finishes"),
                     name);
      return NULL;
    }

  /* Best effort: the pid only makes the busy message more useful, and a
   * lock file created by an older umask-blind writer gets tightened. A
   * shared holder is one of several: it writes nothing (an exclusive
   * locker refused by readers then says so without a pid). */
  (void) fchmod (fd, 0600);
  len = g_snprintf (pidbuf, sizeof pidbuf, "%ld\n", (long) getpid ());
  if (!shared && ftruncate (fd, 0) == 0)
    (void) !pwrite (fd, pidbuf, (size_t) len, 0);

  lock = g_new0 (VkLock, 1);
  lock->shared = shared;
  lock->fd = fd;
  lock->path = g_steal_pointer (&path);
  return lock;
}

void
vk_lock_release (VkLock *lock)
{
  if (lock == NULL)
    return;
  /* Emptied while still held, so nobody ever reads a stale pid; the file
   * itself stays (see fileutil.h). */
  if (!lock->shared)
    (void) !ftruncate (lock->fd, 0);
  close (lock->fd);
  g_free (lock->path);
  g_free (lock);
}
