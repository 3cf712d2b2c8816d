/* vmkeep — the blobs of an OCI image layout (oci.h): files stored under
 * blobs/sha256/ by the SHA-256 of their bytes, optionally compressed with
 * zstd, and read back with their digest checked.
 *
 * Compression uses libzstd's streaming API; whether it pays for a file is
 * decided from samples (vk_blob_zstd_ratio) before the file is read
 * whole, so an incompressible state (guest memory full of random or
 * encrypted data) costs one pass, not two. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

/* Called with the bytes of the source read so far. */
typedef void (*VkBlobProgress) (guint64 done, gpointer data);

/* What a blob holds. */
typedef struct {
  char *digest;           /* "sha256:HEX" of the stored bytes */
  guint64 size;           /* stored bytes */
  char *content_sha256;   /* HEX of the content (the file as it was) */
  guint64 content_size;
  gboolean zstd;          /* stored compressed */
} VkBlobInfo;

void vk_blob_info_clear (VkBlobInfo *b);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VkBlobInfo, vk_blob_info_clear)

/* Below this ratio of compressed to raw size, zstd pays (vmkeep(1),
 * "OCI artifacts"). */
#define VK_BLOB_ZSTD_PAYS 0.9

/* The zstd level used: zstd's default, ~300 MB/s per core. */
#define VK_BLOB_ZSTD_LEVEL 3

/* Compressed size over raw size of up to 16 samples of 1 MiB spread over
 * the file `path` (1.0 for an empty file). */
gboolean vk_blob_zstd_ratio (const char *path, double *ratio, GError **error);

/* Store the file `src` as a blob in `blobdir` (blobs/sha256 of a layout),
 * compressed when `compress`. The blob is written to a temporary file,
 * fsynced and renamed to its digest (an equal blob already there is kept).
 * `cancel` is checked between blocks. */
gboolean vk_blob_put_file (const char *blobdir, const char *src, gboolean compress,
                           GCancellable *cancel, VkBlobProgress cb, gpointer cb_data,
                           VkBlobInfo *out, GError **error);

/* Store `len` bytes at `data` as a blob (uncompressed). */
gboolean vk_blob_put_data (const char *blobdir, const void *data, gsize len, VkBlobInfo *out,
                           GError **error);

/* Read the blob at `path`, which must have `size` bytes and the SHA-256
 * digest `digest` ("sha256:HEX"), into the new file `dst` (0600; created,
 * never replaced), decompressed when `zstd`. The content may not exceed
 * `limit` bytes. Runs of zeros stay holes in `dst`. `content_sha256` and
 * `content_size` receive the content's. VK_ERROR_REFUSED, naming
 * `source` (the layout or reference), for a blob that is missing, has
 * another size or digest, does not decompress or exceeds `limit`; `dst`
 * is then removed. */
gboolean vk_blob_get_file (const char *path, const char *digest, guint64 size, gboolean zstd,
                           const char *dst, guint64 limit, const char *source,
                           GCancellable *cancel, VkBlobProgress cb, gpointer cb_data,
                           char **content_sha256, guint64 *content_size, GError **error);

/* The blob at `path` in memory, checked as by vk_blob_get_file (never
 * compressed; at most `limit` bytes). */
GBytes *vk_blob_get_data (const char *path, const char *digest, guint64 size, guint64 limit,
                          const char *source, GError **error);

G_END_DECLS
