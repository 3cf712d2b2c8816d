/* vmkeep — an image as an OCI image layout (oci.h describes the artifact)
 * and through OCI registries (skopeo as the transport).
 *
 * The layers of an image, in this order, each titled with its file:
 *   image.xml             the sidecar, byte for byte as in the store
 *   state.sav             libvirt's save image
 *   disks/T.FMT           each frozen disk T (FMT qcow2 or raw), then its
 *   disks/T.N.FMT         backing chain, N = 1, 2, ...: each file is its
 *                         own layer, so a base shared by several images
 *                         has one digest, stored and pushed once
 *   nvram.fd              the NVRAM copy taken at save time, if any
 * The state and each disk file are compressed with zstd (media type
 * +zstd) when samples of them compress below VK_BLOB_ZSTD_PAYS. */
#pragma once

#include "ops.h"
#include "ops-export.h"

G_BEGIN_DECLS

typedef struct {
  char *title;
  char *media_type;
  char *digest;
  guint64 size;           /* in the layout (compressed or not) */
  guint64 content_size;   /* the file's */
} VkOciLayer;

void vk_oci_layer_free (VkOciLayer *l);

typedef struct {
  GPtrArray *layers;      /* VkOciLayer*, in the manifest's order */
  char *manifest_digest;
  guint64 bytes;          /* stored in the layout: blobs, once each */
  guint64 content_bytes;  /* of the files */
  char *reference;        /* push, pull: docker://... */
  double seconds;
  const char *tpm_note;
} VkOciResult;

void vk_oci_result_free (VkOciResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkOciResult, vk_oci_result_free)

/* Export image `name` under its shared lock as an OCI image layout in the
 * directory `dir`, which must not exist (with `force`, an existing one is
 * replaced). The layout is written beside it and renamed into place at
 * the end; on any failure or cancellation nothing is left. Progress is
 * reported as job "export". */
VkOciResult *vk_ops_image_export_oci (VkOps *ops, const char *name, const char *dir,
                                      gboolean force, GError **error);

/* Import the image in the OCI image layout `layout` (the one image it
 * names, or the one whose ref name is `ref`) as a new image (`name`, or
 * the name its manifest records). Every blob is checked against its
 * digest and size as it is read; then the same checks and trust boundary
 * as an import of an export stream. Nothing is left in the store on any
 * failure. `source` names the layout in messages. */
VkImportResult *vk_ops_image_import_oci (VkOps *ops, const char *layout, const char *ref,
                                         const char *source, const char *name,
                                         GError **error);

/* How skopeo reaches a registry (its own options, passed on). */
typedef struct {
  const char *authfile;    /* --authfile */
  const char *creds;       /* --creds USER[:PASSWORD] */
  int tls_verify;          /* -1: skopeo's default, 0/1: --tls-verify=false/true */
  gboolean show_progress;  /* skopeo's own progress on stderr (a terminal) */
} VkRegistryOptions;

/* A registry reference: "docker://" optional. NULL with VK_ERROR_USAGE
 * for anything else (another transport, spaces, a leading '-'). Returns
 * it with "docker://". */
char *vk_ops_registry_ref (const char *ref, GError **error);

/* Push image `name` to `ref` (a layout in the store's working directory,
 * copied by skopeo). */
VkOciResult *vk_ops_image_push (VkOps *ops, const char *name, const char *ref,
                                const VkRegistryOptions *ro, GError **error);

/* Pull `ref` into a layout in the store's working directory (skopeo),
 * then import it as vk_ops_image_import_oci does. */
VkImportResult *vk_ops_image_pull (VkOps *ops, const char *ref, const char *name,
                                   const VkRegistryOptions *ro, GError **error);

G_END_DECLS
