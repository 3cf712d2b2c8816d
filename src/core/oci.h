/* vmkeep — an image as an OCI artifact (OCI image-spec 1.1), pure: the
 * documents of an OCI image layout, written and parsed.
 *
 * An image layout is a directory:
 *   oci-layout               {"imageLayoutVersion": "1.0.0"}
 *   index.json               an image index naming one manifest per image
 *   blobs/sha256/HEX         every document and file, by its SHA-256
 * A vmkeep image is one image manifest with artifactType
 * VK_OCI_ARTIFACT_TYPE, the empty config (image-spec's "empty
 * descriptor"), and one layer per file of the image (the sidecar, the
 * state, each disk of a qcow2 chain, the NVRAM), each with an
 * "org.opencontainers.image.title" annotation naming the file.
 *
 * No C library in Debian writes or reads image layouts (umoci and skopeo
 * are programs, and neither makes artifacts of arbitrary files), so these
 * few documents are built and read with json-glib here. They come from
 * whoever made the image or from a registry: they are parsed with a size
 * and a nesting limit and every field is checked before use, as for the
 * export manifest (manifest.h). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The artifact type of a vmkeep image, and the media types of its layers
 * (vmkeep(1), "OCI artifacts"). A layer compressed with zstd has the
 * media type with "+zstd" appended. */
#define VK_OCI_ARTIFACT_TYPE "application/vnd.vmkeep.image.v1"
#define VK_OCI_MEDIA_SIDECAR "application/vnd.vmkeep.sidecar.v1+xml"
#define VK_OCI_MEDIA_STATE "application/vnd.vmkeep.state.v1"
#define VK_OCI_MEDIA_QCOW2 "application/vnd.vmkeep.disk.qcow2.v1"
#define VK_OCI_MEDIA_RAW "application/vnd.vmkeep.disk.raw.v1"
#define VK_OCI_MEDIA_NVRAM "application/vnd.vmkeep.nvram.v1"
#define VK_OCI_ZSTD_SUFFIX "+zstd"

/* image-spec's standard media types and names. */
#define VK_OCI_MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define VK_OCI_MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define VK_OCI_MEDIA_EMPTY "application/vnd.oci.empty.v1+json"
#define VK_OCI_EMPTY_DIGEST \
  "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define VK_OCI_EMPTY_DATA "{}"
#define VK_OCI_TITLE "org.opencontainers.image.title"
#define VK_OCI_REF_NAME "org.opencontainers.image.ref.name"
#define VK_OCI_LAYOUT_FILE "oci-layout"
#define VK_OCI_LAYOUT_TEXT "{\"imageLayoutVersion\": \"1.0.0\"}\n"
#define VK_OCI_INDEX_FILE "index.json"

/* Registries refuse manifests over 4 MiB; an index naming one image is a
 * few hundred bytes. */
#define VK_OCI_DOC_MAX (4 * 1024 * 1024)
/* Far more files than an image has (a sidecar, a state, an NVRAM, and a
 * chain of at most 24 files per disk: DESIGN.md). */
#define VK_OCI_LAYERS_MAX 1024
/* Deeper than any of these documents needs (4). */
#define VK_OCI_MAX_DEPTH 16

typedef struct {
  char *media_type;
  char *digest;      /* "sha256:" and 64 lower-case hex digits */
  guint64 size;
  char *title;       /* its org.opencontainers.image.title, or NULL */
} VkOciDescriptor;

VkOciDescriptor *vk_oci_descriptor_new (const char *media_type, const char *digest,
                                        guint64 size, const char *title);
void vk_oci_descriptor_free (VkOciDescriptor *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkOciDescriptor, vk_oci_descriptor_free)

typedef struct {
  char *artifact_type;
  GPtrArray *layers;    /* VkOciDescriptor*, in order */
  char *created;        /* its org.opencontainers.image.created, or NULL */
  char *title;          /* its org.opencontainers.image.title (vmkeep: the
                           image's name), or NULL */
} VkOciManifest;

VkOciManifest *vk_oci_manifest_new (void);
void vk_oci_manifest_free (VkOciManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkOciManifest, vk_oci_manifest_free)

/* Is `digest` "sha256:" and 64 lower-case hex digits? (The only algorithm
 * vmkeep writes and reads; image-spec allows others.) */
gboolean vk_oci_digest_ok (const char *digest);

/* "sha256:" and the SHA-256 of `len` bytes at `data`. */
char *vk_oci_digest_of (const void *data, gsize len);

/* blobs/sha256/HEX below `layout` for a digest that vk_oci_digest_ok. */
char *vk_oci_blob_path (const char *layout, const char *digest);

/* The manifest as the JSON text whose bytes are the blob (its digest is
 * vk_oci_digest_of that text). */
char *vk_oci_manifest_text (const VkOciManifest *m);

/* An image index naming the one manifest `manifest` (its media type must
 * be VK_OCI_MEDIA_MANIFEST), with `ref_name` as its
 * org.opencontainers.image.ref.name and the artifact type. */
char *vk_oci_index_text (const VkOciDescriptor *manifest, const char *artifact_type,
                         const char *ref_name);

/* Parse and check a manifest read from `source`; VK_ERROR_REFUSED naming
 * `source` and what is wrong: too large, not JSON, nested too deep, not an
 * image manifest of schema version 2, not a vmkeep image (another artifact
 * type), a layer that is no descriptor (media type, digest, size >= 0), a
 * title that is not a printable UTF-8 string or is given twice, more than
 * VK_OCI_LAYERS_MAX layers. */
VkOciManifest *vk_oci_manifest_parse (const char *text, gsize len, const char *source,
                                      GError **error);

/* The descriptor of the image manifest in the index `text` whose ref name
 * is `ref_name`, or, with a NULL `ref_name`, of its only one;
 * VK_ERROR_REFUSED naming `source` when the index is malformed (as above),
 * names no such manifest, or (no `ref_name`) several. Its title, if any,
 * is its ref name. */
VkOciDescriptor *vk_oci_index_find (const char *text, gsize len, const char *ref_name,
                                    const char *source, GError **error);

/* The file a layer of a vmkeep image is, by its title. */
typedef enum {
  VK_OCI_LAYER_SIDECAR,   /* image.xml */
  VK_OCI_LAYER_STATE,     /* state.sav */
  VK_OCI_LAYER_NVRAM,     /* nvram.fd */
  VK_OCI_LAYER_DISK,      /* disks/TARGET.FMT: a frozen disk */
  VK_OCI_LAYER_BASE,      /* disks/TARGET.N.FMT: the N-th file below it */
} VkOciLayerKind;

/* What layer `d` of a vmkeep image is: its title names the file (TARGET
 * 1 to 32 lower-case letters and digits, N 1 to 99, FMT qcow2 or raw), its
 * media type must be that file's, with "+zstd" for the state and disks
 * only (`zstd` says which). VK_ERROR_REFUSED naming `source`, the layer
 * and what is wrong otherwise. */
gboolean vk_oci_layer_kind (const VkOciDescriptor *d, const char *source, VkOciLayerKind *kind,
                            gboolean *zstd, GError **error);

/* Is `text` an oci-layout file of version 1.0.0? */
gboolean vk_oci_layout_parse (const char *text, gsize len, const char *source, GError **error);

G_END_DECLS
