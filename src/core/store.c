#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "store.h"
#include "trust.h"
#include "vk-error.h"

char *
vk_store_managed_dir (const char *root)
{
  return g_build_filename (root, "managed", NULL);
}

char *
vk_store_managed_sidecar (const char *root, const char *uuid)
{
  g_autofree char *file = g_strdup_printf ("%s.xml", uuid);
  return g_build_filename (root, "managed", file, NULL);
}

char *
vk_store_images_dir (const char *root)
{
  return g_build_filename (root, "images", NULL);
}

char *
vk_store_image_dir (const char *root, const char *name)
{
  return g_build_filename (root, "images", name, NULL);
}

char *
vk_store_locks_dir (const char *root)
{
  return g_build_filename (root, "locks", NULL);
}

/* Directories of the system itself: a store there would have vmkeep
 * change their mode and fill them with its files. */
static const char *const system_dirs[] = {
  "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
  "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr",
  "/usr/bin", "/usr/lib", "/usr/local", "/usr/sbin", "/usr/share", "/var", "/var/lib",
  "/var/tmp", "/var/log", "/var/cache", "/var/run", "/var/lib/libvirt", "/var/lib/libvirt/images",
  "/var/lib/libvirt/qemu", NULL
};

gboolean
vk_store_check_path (const char *root, GError **error)
{
  g_autofree char *norm = NULL;
  if (root != NULL)
    {
      norm = g_strdup (root);
      gsize n = strlen (norm);
      while (n > 1 && norm[n - 1] == '/')
        norm[--n] = '\0';
    }
  if (norm == NULL || !vk_path_is_plain (norm))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("store '%s' is not an absolute path without '.', '..' or empty "
                      "components; set store= in vmkeep.conf to a directory of its own, e.g. "
                      "/var/lib/vmkeep"), root ? root : "");
  if (g_strv_contains (system_dirs, norm))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("store '%s' is a system directory; vmkeep would fill it with its own "
                      "files: set store= in vmkeep.conf to a directory of its own, e.g. "
                      "/var/lib/vmkeep"), root);
  return TRUE;
}

/* An existing store is usable: a real directory not every user may write.
 * A missing one passes, with *exists FALSE. */
static gboolean
check_existing (const char *root, gboolean *exists, GError **error)
{
  struct stat st;
  *exists = FALSE;
  if (lstat (root, &st) == 0)
    {
      *exists = TRUE;
      if (S_ISLNK (st.st_mode))
        return vk_fail (error, VK_ERROR_REFUSED,
                        _("store %s is a symbolic link; vmkeep changes modes and writes guest "
                          "memory only in real directories: set store= to the link's target"),
                        root);
      if (!S_ISDIR (st.st_mode))
        return vk_fail (error, VK_ERROR_REFUSED,
                        _("store %s exists but is not a directory; move it away or set store= "
                          "to another directory"), root);
      if (st.st_mode & S_IWOTH)
        return vk_fail (error, VK_ERROR_REFUSED,
                        _("store %s is writable by every user (mode %04o); any user could "
                          "replace VM state there: run chmod o-w %s or choose another store"),
                        root, (guint) (st.st_mode & 07777), root);
      return TRUE;
    }
  if (errno != ENOENT)
    return vk_fail (error, VK_ERROR_FAILED, _("cannot examine store %s: %s"), root,
                    g_strerror (errno));
  return TRUE;
}

gboolean
vk_store_check_root (const char *root, GError **error)
{
  gboolean exists;
  return vk_store_check_path (root, error) && check_existing (root, &exists, error);
}

gboolean
vk_store_ensure_root (const char *root, GError **error)
{
  gboolean exists;
  if (!vk_store_check_path (root, error) || !check_existing (root, &exists, error))
    return FALSE;
  if (exists)
    return TRUE;
  /* Created here: parents traversable, the store itself 0711 (QEMU opens
   * frozen disks below it by name; nobody lists it), and marked as
   * vmkeep's, so later runs know its mode is theirs to keep. */
  if (!vk_dir_ensure_private (root, error))
    return FALSE;
  if (chmod (root, 0711) < 0)
    return vk_fail (error, VK_ERROR_FAILED, _("cannot set the mode of store %s: %s"),
                    root, g_strerror (errno));
  g_autofree char *mark = g_build_filename (root, VK_STORE_MARK, NULL);
  static const char text[] = "This directory is a vmkeep store (vmkeep(1), FILES).\n";
  return vk_file_write_atomic (mark, text, sizeof text - 1, 0600, error);
}

/* g_ptr_array_sort hands the comparator pointers to the elements. */
static int
cmp_name (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
vk_store_list_images (const char *root, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *dir = vk_store_images_dir (root);
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return out;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot read the image store %s: %s"),
                   dir, local->message);
      g_ptr_array_unref (out);
      return NULL;
    }
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    {
      if (n[0] == '.')
        continue;
      g_autofree char *sidecar = g_build_filename (dir, n, VK_STORE_SIDECAR, NULL);
      if (g_file_test (sidecar, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (out, g_strdup (n));
    }
  g_ptr_array_sort (out, cmp_name);
  return out;
}

/* mkdtemp `tmpl` (0700) with a .lock file in it, flock'ed: cleanup in
 * another process leaves it alone while `*lock_fd` stays open. */
static char *
locked_dir_new (char *tmpl, const char *parent, int *lock_fd, GError **error)
{
  if (g_mkdtemp_full (tmpl, 0700) == NULL)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("cannot create a working directory in %s: %s"), parent, g_strerror (e));
      g_free (tmpl);
      return NULL;
    }
  g_autofree char *lock = g_build_filename (tmpl, ".lock", NULL);
  g_autofree char *own = g_build_filename (tmpl, VK_STORE_OWNED, NULL);
  int mfd = open (own, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (mfd >= 0)
    close (mfd);
  int fd = mfd < 0 ? -1 : open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      vk_rm_rf (tmpl, NULL);
      g_free (tmpl);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot lock %s: %s"), lock,
                   g_strerror (e));
      return NULL;
    }
  *lock_fd = fd;
  return tmpl;
}

char *
vk_store_partial_new (const char *root, const char *name, int *lock_fd, GError **error)
{
  if (!vk_store_ensure_root (root, error))
    return NULL;
  g_autofree char *images = vk_store_images_dir (root);
  if (!vk_dir_ensure_private (images, error))
    return NULL;
  char *tmpl = g_strdup_printf ("%s/.%s" VK_STORE_PARTIAL "XXXXXX", images, name);
  return locked_dir_new (tmpl, images, lock_fd, error);
}

char *
vk_store_tmp_dir_new (const char *root, const char *prefix, int *lock_fd, GError **error)
{
  if (!vk_store_ensure_root (root, error))
    return NULL;
  g_autofree char *tmp = g_build_filename (root, "tmp", NULL);
  if (!vk_dir_ensure_private (tmp, error))
    return NULL;
  char *tmpl = g_strdup_printf ("%s/%s-XXXXXX", tmp, prefix);
  return locked_dir_new (tmpl, tmp, lock_fd, error);
}

void
vk_store_tmp_dir_done (const char *dir, int lock_fd)
{
  /* the same as dropping a partial image */
  vk_store_partial_abort (dir, lock_fd);
}

gboolean
vk_store_partial_commit (const char *root, const char *partial, const char *name,
                         int lock_fd, GError **error)
{
  g_autofree char *final = vk_store_image_dir (root, name);
  /* renameat2(RENAME_NOREPLACE): never replace an image that appeared
   * meanwhile. */
  if (renameat2 (AT_FDCWD, partial, AT_FDCWD, final, RENAME_NOREPLACE) < 0)
    {
      int e = errno;
      close (lock_fd);
      g_set_error (error, VK_ERROR, e == EEXIST ? VK_ERROR_REFUSED : VK_ERROR_FAILED,
                   e == EEXIST ? _("image '%s' already exists in %s; pick another --image "
                                   "name or remove it with 'vmkeep image rm %s'")
                               : _("cannot publish image '%s' in %s: %s"),
                   name, root, e == EEXIST ? name : g_strerror (e));
      return FALSE;
    }
  g_autofree char *parent = vk_store_images_dir (root);
  int dfd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      fsync (dfd);
      close (dfd);
    }
  return TRUE;
}

void
vk_store_image_finish (const char *dir, int lock_fd)
{
  g_autofree char *lock = g_build_filename (dir, ".lock", NULL);
  g_unlink (lock);
  if (lock_fd >= 0)
    close (lock_fd);
}

void
vk_store_partial_abort (const char *partial, int lock_fd)
{
  vk_rm_rf (partial, NULL);
  if (lock_fd >= 0)
    close (lock_fd);
}

/* A clone's state FIFO (tmp/clone-XXXXXX/state.fifo) left by a vmkeep that
 * died may have a reader blocked in open(2): libvirtd's restore, which
 * waits for a writer for ever and so holds one of libvirtd's workers until
 * the daemon restarts. Unlinking the FIFO does not wake it; an open of the
 * write end does, and closing that end again gives the reader end of file,
 * so the restore fails ("failed to read qemu header") and the worker is
 * free. A FIFO without a reader refuses the open (ENXIO). */
static void
fifo_release_readers (const char *path)
{
  int fd = open (path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd >= 0)
    close (fd);
}

gboolean
vk_rm_rf (const char *path, GError **error)
{
  struct stat st;
  if (lstat (path, &st) < 0)
    return errno == ENOENT ? TRUE : (g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                                                  "%s: %s", path, g_strerror (errno)),
                                     FALSE);
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
      const char *n;
      while (d && (n = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, n, NULL);
          if (!vk_rm_rf (child, error))
            return FALSE;
        }
      if (rmdir (path) < 0)
        return vk_fail (error, VK_ERROR_FAILED, _("cannot remove %s: %s"), path,
                        g_strerror (errno));
      return TRUE;
    }
  if (S_ISFIFO (st.st_mode))
    fifo_release_readers (path);
  if (unlink (path) < 0)
    return vk_fail (error, VK_ERROR_FAILED, _("cannot remove %s: %s"), path,
                    g_strerror (errno));
  return TRUE;
}

/* A working or partial directory vmkeep made: a real directory (not a
 * link) holding vmkeep's mark. Only those are ever removed by cleanup. */
static gboolean
vmkeep_owned (const char *dir)
{
  struct stat st;
  if (lstat (dir, &st) < 0 || !S_ISDIR (st.st_mode))
    return FALSE;
  g_autofree char *own = g_build_filename (dir, VK_STORE_OWNED, NULL);
  return lstat (own, &st) == 0 && S_ISREG (st.st_mode);
}

/* A journal's lock file whose journal never came to be: its vmkeep died
 * between creating the lock and writing the journal's first record. A
 * lock held, one beside its journal (recovery's) and one younger than
 * 100 ms (its creator may not have taken it yet: it does right after the
 * create) stay. */
static void
orphan_journal_locks (const char *dir, GPtrArray *removed)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      if (n[0] == '.' || !g_str_has_suffix (n, ".lock"))
        continue;
      g_autofree char *path = g_build_filename (dir, n, NULL);
      g_autofree char *base = g_strndup (path, strlen (path) - strlen (".lock"));
      g_autofree char *journal = g_strconcat (base, ".json", NULL);
      struct stat st;
      if (g_file_test (journal, G_FILE_TEST_EXISTS) || lstat (path, &st) < 0 ||
          !S_ISREG (st.st_mode) ||
          g_get_real_time () - (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC -
              st.st_mtim.tv_nsec / 1000 < 100 * G_TIME_SPAN_MILLISECOND)
        continue;
      int fd = open (path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0)
        continue;
      if (flock (fd, LOCK_EX | LOCK_NB) == 0 && !g_file_test (journal, G_FILE_TEST_EXISTS) &&
          g_unlink (path) == 0 && removed)
        g_ptr_array_add (removed, g_strdup (path));
      close (fd);
    }
}

gboolean
vk_store_cleanup (const char *root, GPtrArray *removed, GError **error)
{
  g_autofree char *images = vk_store_images_dir (root);
  g_autofree char *managed = vk_store_managed_dir (root);
  g_autoptr(GPtrArray) tmp = NULL;
  gboolean ok = TRUE;

  g_autofree char *journals = g_build_filename (root, "journal", NULL);
  gboolean pending = FALSE;
  g_autoptr(GDir) jd = g_dir_open (journals, 0, NULL);
  const char *n;
  while (jd && !pending && (n = g_dir_read_name (jd)) != NULL)
    pending = n[0] != '.' && g_str_has_suffix (n, ".json");

  g_autoptr(GDir) d = pending ? NULL : g_dir_open (images, 0, NULL);
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      if (n[0] != '.' || strstr (n, VK_STORE_PARTIAL) == NULL)
        continue;
      g_autofree char *p = g_build_filename (images, n, NULL);
      if (!vmkeep_owned (p))
        continue;
      g_autofree char *lock = g_build_filename (p, ".lock", NULL);
      int fd = open (lock, O_RDWR | O_CLOEXEC);
      if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) < 0)
        {
          close (fd); /* still being written by another vmkeep */
          continue;
        }
      /* libvirtd finishes a save even when the vmkeep that asked for it
       * died: a complete state file is a VM's memory, never garbage. */
      g_autofree char *state = g_build_filename (p, VK_STORE_STATE, NULL);
      char magic[16] = { 0 };
      FILE *f = fopen (state, "rb");
      gboolean complete = f && fread (magic, 1, sizeof magic, f) == sizeof magic &&
                          memcmp (magic, "LibvirtQemudSave", 16) == 0;
      if (f)
        fclose (f);
      if (complete)
        {
          g_warning (_("%s holds the complete state of an interrupted hibernate and is "
                       "kept: 'vmkeep recover' says what brings its VM back"), p);
          if (fd >= 0)
            close (fd);
          continue;
        }
      if (vk_rm_rf (p, NULL) && removed)
        g_ptr_array_add (removed, g_strdup (p));
      if (fd >= 0)
        close (fd);
    }
  /* Working directories in tmp/ (a clone's FIFO, a fork's memory
   * snapshot) whose vmkeep is gone: nothing in them is needed by anyone
   * (a running clone or fork holds its memory in QEMU). */
  g_autofree char *tmpdir = g_build_filename (root, "tmp", NULL);
  g_autoptr(GDir) td = pending ? NULL : g_dir_open (tmpdir, 0, NULL);
  while (td && (n = g_dir_read_name (td)) != NULL)
    {
      g_autofree char *p = g_build_filename (tmpdir, n, NULL);
      if (!vmkeep_owned (p))
        continue; /* not one of vmkeep's: never removed */
      g_autofree char *lock = g_build_filename (p, ".lock", NULL);
      int fd = open (lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0)
        continue;
      if (flock (fd, LOCK_EX | LOCK_NB) == 0 && vk_rm_rf (p, NULL) && removed)
        g_ptr_array_add (removed, g_strdup (p));
      close (fd);
    }
  const char *dirs[] = { images, managed, journals };
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autoptr(GPtrArray) names = NULL;
      if (!vk_tmp_cleanup (dirs[i], &names, ok ? error : NULL))
        ok = FALSE;
      for (guint j = 0; names && removed && j < names->len; j++)
        g_ptr_array_add (removed, g_build_filename (dirs[i], names->pdata[j], NULL));
    }
  orphan_journal_locks (journals, removed);
  return ok;
}
