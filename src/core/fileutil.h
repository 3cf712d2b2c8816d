/* vmkeep — files in the store: atomic writes, private directories,
 * checksums, stale temp-file cleanup and the per-VM lock.
 *
 * The store holds guest memory (save images) and the sidecars that decide
 * whether a VM may be woken, so everything here is built so that a crash or
 * a full disk at any point leaves either the old file or the new one, never
 * a torn one, and nothing readable by other users. Pure C + GLib: no
 * libvirt. */
#pragma once

#include <gio/gio.h>
#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Temp files are named ".<final name>.vk-tmp-XXXXXX" in the directory of the
 * final file (rename(2) is only atomic within one filesystem). */
#define VK_TMP_INFIX ".vk-tmp-"

/* read(2) (`at` < 0, from the file position) or pread(2) at `at` until
 * `len` bytes, the end of the file or an error. EINTR is retried unless
 * `cancel` (optional) is cancelled, which ends it with errno ECANCELED.
 * Returns the bytes read (fewer than `len` only at the end of the file),
 * or -1 with errno set. */
gssize vk_read_full (int fd, void *buf, gsize len, gint64 at, GCancellable *cancel);

/* write(2) or pwrite(2) the same way: all `len` bytes, or FALSE with errno
 * set (ECANCELED when cancelled). */
gboolean vk_write_full (int fd, const void *buf, gsize len, gint64 at,
                        GCancellable *cancel);

/* Write `len` bytes to `path` atomically: temp file in the same directory,
 * write, fsync, rename over `path`, fsync the directory. The file gets
 * exactly `mode` (umask does not apply). On any failure the temp file is
 * removed and `path` is untouched. ENOSPC/EDQUOT give a message saying how
 * much was needed and how much is free. Errors are VK_ERROR_FAILED
 * (VK_ERROR_NOT_FOUND when the directory does not exist). */
gboolean vk_file_write_atomic (const char *path, const void *data, gsize len,
                               mode_t mode, GError **error);

/* The same in two steps, for producers that write the file themselves
 * (libvirt's save into a path vmkeep names, a spliced clone image):
 *
 * vk_tmp_file_new creates an empty temp file for `path` with `mode` and
 * returns its path; `*fd_out` (required) is an open O_RDWR descriptor that
 * holds an flock so that vk_tmp_cleanup in another vmkeep process never
 * removes a temp file that is still being written. Keep it open until
 * vk_file_commit or vk_tmp_file_abort.
 *
 * vk_file_commit fsyncs the temp file, renames it over `path`, fsyncs the
 * directory and closes `fd` (always, also on failure). On failure it
 * removes the temp file. */
char *vk_tmp_file_new (const char *path, mode_t mode, int *fd_out,
                       GError **error);
gboolean vk_file_commit (int fd, const char *tmp_path, const char *path,
                         GError **error);
/* vk_file_commit for a file that must not replace anything: `path` gets
 * the temp file's contents only if it does not exist yet (else
 * VK_ERROR_REFUSED). The temp file is gone afterwards either way and `fd`
 * closed. */
gboolean vk_file_commit_new (int fd, const char *tmp_path, const char *path, GError **error);
/* fsync the directory holding `path`, so that a rename or creation of
 * `path` survives a crash (a file that replaces another, or that a disk
 * chain or an image depends on, is synced itself first). */
gboolean vk_fsync_parent (const char *path, GError **error);
/* Close `fd` (if >= 0) and remove the temp file; never fails. */
void vk_tmp_file_abort (int fd, const char *tmp_path);

/* mkdir -p `path`: parents it creates get 0755 (traversable, as the
 * system's own), the final directory 0700. The final
 * directory must be a real directory (not a symbolic link) and not
 * world-writable, otherwise VK_ERROR_REFUSED: it is where guest memory is
 * written. Existing directories keep their mode. */
gboolean vk_dir_ensure_private (const char *path, GError **error);

/* The first existing directory from / down to `path` (inclusive) that the
 * user `uid` with groups `gids` may not pass through (no search
 * permission), with its mode in `mode_out`; NULL when all can be passed.
 * Components that do not exist yet are skipped (vmkeep creates them
 * traversable). */
char *vk_path_untraversable (const char *path, uid_t uid, const gid_t *gids, int ngids,
                             guint *mode_out);

/* SHA-256 of a whole file, streamed (files are guest-memory sized), as 64
 * lower-case hex digits. `size_out` (optional) receives the bytes read.
 * The fd variant reads from the current offset to EOF; `name` is used in
 * messages. */
gboolean vk_file_sha256 (const char *path, char **hex_out, guint64 *size_out,
                         GError **error);
gboolean vk_fd_sha256 (int fd, const char *name, char **hex_out,
                       guint64 *size_out, GError **error);

/* Remove leftovers of interrupted atomic writes in `dir`: regular files
 * named ".*.vk-tmp-*" last modified before this process started and not
 * held open by a writer (see vk_tmp_file_new). Symbolic links,
 * directories and anything else are left alone. `removed` (optional)
 * receives the names (not paths) removed, for the caller to report; it is
 * set also on failure. A missing `dir` is not an error (nothing to clean).
 * Fails when `dir` cannot be read or a stale file cannot be removed (the
 * others are still removed). */
gboolean vk_tmp_cleanup (const char *dir, GPtrArray **removed, GError **error);

/* Bytes available to an unprivileged writer on the filesystem of `path`
 * (statvfs f_bavail * f_frsize). */
gboolean vk_statvfs_free_bytes (const char *path, guint64 *out, GError **error);

/* Per-VM lock: flock(LOCK_EX | LOCK_NB) on "<lockdir>/<name>.lock" (0600;
 * lockdir is created private when missing). The holder's pid is written
 * into the file, so a second vmkeep fails at once with VK_ERROR_BUSY
 * "another vmkeep is working on NAME (pid N); try again when it finishes".
 * flock belongs to the open file description: a second vk_lock_acquire in
 * the same process conflicts too, and children started with exec do not
 * inherit it (O_CLOEXEC). The lock file is never unlinked (unlinking a lock
 * file lets two processes lock two different inodes). `name` must be a
 * plain file name (no '/', not "." or ".."); the VM's UUID is the natural
 * choice, since libvirt allows characters in domain names that vmkeep's
 * name rules do not. */
typedef struct _VkLock VkLock;

VkLock *vk_lock_acquire (const char *lockdir, const char *name,
                         GError **error);
/* The same lock shared (LOCK_SH): readers of an image hold it together;
 * an exclusive holder (image rm) excludes them, and they it. */
VkLock *vk_lock_acquire_shared (const char *lockdir, const char *name, GError **error);
void vk_lock_release (VkLock *lock);
const char *vk_lock_get_path (const VkLock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkLock, vk_lock_release)

G_END_DECLS
