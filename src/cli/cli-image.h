/* vmkeep — image helpers shared by the image, clone and fork commands. */
#pragma once

#include "commands.h"
#include "save-header.h"
#include "sidecar.h"

G_BEGIN_DECLS

/* The sidecar of image NAME in the store; `dir_out` gets its directory. */
VkSidecar *vk_cli_load_image (VkCli *cli, const char *name, char **dir_out,
                              GError **error);
/* Before an image is used (clone, wake): its save header is sound, the
 * state file has the size the sidecar records, the XML inside it has the
 * sidecar's identity, the frozen disks exist and (with `conn`) this host
 * can run it. Returns the header and the
 * parsed XML. The full SHA-256 check is left to the reader of the stream
 * (clone) or to 'image verify'. */
gboolean vk_cli_check_image (VkSidecar *sc, const char *dir, const char *image, VkConn *conn,
                             VkSaveHeader **hdr_out, xmlDocPtr *doc_out, GError **error);
/* Whether this host's libvirt reads the image's save format and its QEMU
 * offers the machine type (VK_ERROR_REFUSED naming both versions). Part of
 * vk_cli_check_image when it is given a connection. */
gboolean vk_cli_check_host_runs (VkConn *conn, VkSidecar *sc, VkSaveHeader *hdr, xmlDocPtr doc,
                                 const char *image, GError **error);
/* Problems found with the image (char*, empty when sound). */
GPtrArray *vk_cli_verify_image (VkSidecar *sc, const char *dir, gboolean checksum);
/* Domains whose disks still read from one of the image's frozen bases. */
GPtrArray *vk_cli_image_dependents (VkCli *cli, VkSidecar *sc, const char *dir,
                                    const char *name, GError **error);

/* May vmkeep create or replace `path` for the image's disk `what` (a
 * target, or "nvram")? Only below the store or `place_dir` (the
 * configured disk or NVRAM directory), or when it is that very disk (or
 * NVRAM file) of the domain the image was made of, as defined here now.
 * Anything else came from the image and is refused by the callers. */
gboolean vk_cli_image_path_is_own (VkCli *cli, VkConn *conn, VkSidecar *sc, const char *what,
                                   const char *path, const char *place_dir);

/* May vmkeep create new files (never replacing one) in `dir` for a
 * clone of the image? Below the store or disk-dir, or a directory that
 * holds a disk of the domain the image was made of, as defined here. */
gboolean vk_cli_image_dir_is_own (VkCli *cli, VkConn *conn, VkSidecar *sc, const char *dir);

/* Restore `file` paused (with `channels` parallel channels for a sparse
 * state) while `hashed` is checked against `sha256` (NULL: no check), and
 * resume it (unless `paused`) only when the hash matched; on a mismatch
 * the restored domain `name` is destroyed again and the error is
 * VK_ERROR_REFUSED. */
gboolean vk_cli_restore_checked (VkConn *conn, const char *name, const char *file,
                                 const char *hashed, const char *sha256, int channels,
                                 gboolean paused, GError **error);

G_END_DECLS
