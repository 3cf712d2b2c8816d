/* vmkeep — an image in the store, as the workflows use it (image, clone,
 * fork, wake --image, diff). See ops.h for the layer's rules. */
#pragma once

#include <libxml/tree.h>

#include "journal.h"
#include "ops.h"
#include "save-header.h"
#include "sidecar.h"

G_BEGIN_DECLS

/* The sidecar of image NAME in the store; `dir_out` gets its directory. */
VkSidecar *vk_ops_image_load (VkOps *ops, const char *name, char **dir_out,
                              GError **error);
/* A new partial directory for image NAME (`lock_fd` gets its lock),
 * recorded in `j` for removal. It and the images directory are open to
 * QEMU, which (not root) opens the frozen disks through them. */
char *vk_ops_image_partial_new (VkOps *ops, VkJournal *j, const char *name, int *lock_fd,
                                GError **error);
/* The same, under the image's lock (ops.h: shared for readers, exclusive
 * to remove or replace it), which `lock_out` gets. */
VkSidecar *vk_ops_image_open (VkOps *ops, const char *name, gboolean shared, char **dir_out,
                              VkLock **lock_out, GError **error);
/* Before an image is used (clone, wake): its save header is sound, the
 * state file has the size the sidecar records, the XML inside it has the
 * sidecar's identity, the frozen disks exist and (with `conn`) this host
 * can run it. Returns the header and the
 * parsed XML. The full SHA-256 check is left to the reader of the stream
 * (clone) or to 'image verify'. */
gboolean vk_ops_image_check (VkSidecar *sc, const char *dir, const char *image, VkConn *conn,
                             VkSaveHeader **hdr_out, xmlDocPtr *doc_out, GError **error);
/* Whether this host's libvirt reads the image's save format and its QEMU
 * offers the machine type (VK_ERROR_REFUSED naming both versions). Part of
 * vk_ops_image_check when it is given a connection. */
gboolean vk_ops_image_check_host (VkConn *conn, VkSidecar *sc, VkSaveHeader *hdr, xmlDocPtr doc,
                                 const char *image, GError **error);
/* What is wrong with frozen disk `f` of the image in `dir` (not its own
 * file, a link, another size or metadata than when it was frozen), or
 * NULL. */
char *vk_ops_image_disk_problem (VkFrozenDisk *f, const char *dir);
/* Problems found with the image (char*, empty when sound). */
GPtrArray *vk_ops_image_verify (VkSidecar *sc, const char *dir, gboolean checksum);
/* image verify: the problems of image NAME (as vk_ops_image_verify,
 * checksums included), found under the image's shared lock. */
GPtrArray *vk_ops_image_verify_named (VkOps *ops, const char *name, GError **error);
/* image rm: under the image's exclusive lock, refused (VK_ERROR_REFUSED)
 * while disks still use the image as their base unless `force`. Needs
 * the connection of `ops` (for the domains' disks). */
gboolean vk_ops_image_rm (VkOps *ops, const char *name, gboolean force, GError **error);
/* Domains (on the connection of `ops`, which must have one) and other
 * images whose disks still read from one of the image's frozen bases. */
GPtrArray *vk_ops_image_dependents (VkOps *ops, VkSidecar *sc, const char *dir,
                                    const char *name, GError **error);

/* May vmkeep create or replace `path` for the image's disk `what` (a
 * target, or "nvram")? Only below the store or `place_dir` (the
 * configured disk or NVRAM directory), or when it is that very disk (or
 * NVRAM file) of the domain the image was made of, as defined here now.
 * Anything else came from the image and is refused by the callers. */
gboolean vk_ops_image_path_is_own (VkOps *ops, VkConn *conn, VkSidecar *sc, const char *what,
                                   const char *path, const char *place_dir);

/* May vmkeep create new files (never replacing one) in `dir` for a
 * clone of the image? Below the store or disk-dir, or a directory that
 * holds a disk of the domain the image was made of, as defined here. */
gboolean vk_ops_image_dir_is_own (VkOps *ops, VkConn *conn, VkSidecar *sc, const char *dir);

/* Restore `file` paused (with `channels` parallel channels for a sparse
 * state) while `hashed` is checked against `sha256` (NULL: no check), and
 * resume it (unless `paused`) only when the hash matched; on a mismatch
 * the restored domain `name` is destroyed again and the error is
 * VK_ERROR_REFUSED. */
gboolean vk_ops_restore_checked (VkConn *conn, const char *name, const char *file,
                                 const char *hashed, const char *sha256, int channels,
                                 gboolean paused, GError **error);

G_END_DECLS
