/* vmkeep — what ops-oci.c shares with ops-registry.c. */
#pragma once

#include "ops-oci.h"
#include "sidecar.h"

G_BEGIN_DECLS

/* Image `name` open under its shared lock (`lock`), checked as an export
 * checks it; `dir` gets its directory. */
VkSidecar *vk_ops_oci_open (VkOps *ops, const char *name, char **dir, VkLock **lock,
                            GError **error);

/* Write the layout of image `name` (open: `sc` in `imgdir`) into the new
 * empty directory `layout`, with progress as job "export". */
VkOciResult *vk_ops_oci_write (VkOps *ops, const char *name, VkSidecar *sc, const char *imgdir,
                               const char *layout, GError **error);

G_END_DECLS
