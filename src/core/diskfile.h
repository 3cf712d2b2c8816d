/* vmkeep — disk image files: probing, copying, qcow2 backing chains (pure:
 * reads and writes only the files it is handed). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "qcow2" when the file starts with the qcow2 magic, else "raw". */
char *vk_disk_probe_format (const char *path, GError **error);

/* The backing file recorded in a qcow2 header (NULL and no error when it
 * has none or is not qcow2). */
gboolean vk_qcow2_backing_file (const char *path, char **backing, GError **error);

/* Whether a qcow2 image keeps its data in an external data file (the
 * incompatible feature bit): *data_file is then its name from the header
 * extension ("" when the extension is missing), else NULL. Not qcow2: no
 * data file, no error. */
gboolean vk_qcow2_data_file (const char *path, char **data_file, GError **error);

/* The format of the backing file recorded in a qcow2 header ("qcow2",
 * "raw", ...; NULL and no error when the header records none or the file
 * is not qcow2). Read, never probed: a guest can write a qcow2 header into
 * a raw disk, and following that would open a file of its choosing. */
gboolean vk_qcow2_backing_format (const char *path, char **format, GError **error);

/* A digest of a frozen disk that costs no full read (see diskfile.c):
 * size, mtime and, for `format` "qcow2", all its allocation metadata;
 * for raw, sampled ranges. 64 lower-case hex digits. VK_ERROR_REFUSED for
 * a link, a non-regular file or damaged qcow2 metadata. */
gboolean vk_disk_digest (const char *path, const char *format, char **hex_out, GError **error);

/* Copy `len` bytes of `in` at `off_in` to `out` at `off_out` in the kernel
 * (copy_file_range), or through a buffer where the filesystems cannot.
 * FALSE with errno set (EIO when `in` ends early). Thread-safe. */
gboolean vk_copy_range (int in, guint64 off_in, int out, guint64 off_out, guint64 len);

/* Copy [off, off + len) of `in` to the same offsets of `out`, data
 * extents only (SEEK_DATA/SEEK_HOLE): holes stay holes, and `out` is at
 * least off + len long afterwards. FALSE with errno set. */
gboolean vk_copy_range_sparse (int in, guint64 off, int out, guint64 len);

/* The end of a copy from `in` into the new file `dst` (open as `out`):
 * when the copy went well (`ok`), fsyncs `out`; closes both. When the copy
 * or the fsync or close of `out` failed, removes `dst` and returns FALSE
 * with *err the errno of the first failure (the caller reports it). */
gboolean vk_copy_finish (int in, int out, const char *dst, gboolean ok, int *err);

/* Copy `src` to a new file `dst` (O_EXCL: never overwrites), as cheaply as
 * the filesystem allows: reflink (FICLONE), then copy_file_range (in-kernel,
 * sparse-friendly on most filesystems), then read/write. fsynced, `mode`.
 * On failure `dst` is removed. */
gboolean vk_file_clone (const char *src, const char *dst, guint mode,
                        GError **error);

/* Create `path` (O_EXCL: never overwrites; 0600) as an empty qcow2 (v3,
 * 64 KiB clusters) overlay over `backing` of format `backing_fmt` ("qcow2"
 * or "raw"), of the backing file's virtual size, written directly (what
 * `qemu-img create -f qcow2 -F FMT -b BACKING` writes, without spawning
 * it). On failure nothing is left at `path`. */
gboolean vk_qcow2_create_overlay (const char *path, const char *backing,
                                  const char *backing_fmt, GError **error);

G_END_DECLS
