/* vmkeep — image export and import: the members of an export stream and
 * the two workflows. See ops.h for the layer's rules.
 *
 * An export is one tar stream (POSIX ustar/pax, see tar.h):
 *   image.xml        the sidecar, byte for byte as in the store
 *   state.sav        libvirt's save image
 *   disks/T.FMT      each frozen disk, standalone: a base that is itself a
 *                    qcow2 overlay is flattened first (qemu-img convert)
 *   nvram.fd         the NVRAM copy taken at save time, when there is one
 *   manifest.json    size and SHA-256 of every other member
 * The manifest comes last because a stream (stdout, a pipe into ssh) cannot
 * go back to fill in checksums it only knows at the end. */
#pragma once

#include <json-glib/json-glib.h>

#include "manifest.h"
#include "ops.h"
#include "sidecar.h"

G_BEGIN_DECLS

#define VK_EXPORT_MANIFEST "manifest.json"
#define VK_EXPORT_NVRAM "nvram.fd"

/* One member of an export stream. */
typedef struct {
  char *name;
  guint64 size;
  char *sha256;
  char *target;     /* disks */
  char *format;     /* disks */
  gboolean flattened;
} VkExportMember;

void vk_export_member_free (VkExportMember *m);
/* The member as JSON: name, size, SHA-256; for a disk, whether it was
 * flattened and (`full`, the manifest) its target and format. */
void vk_export_member_json (JsonBuilder *b, const VkExportMember *m, gboolean full);

typedef struct {
  GPtrArray *members;   /* VkExportMember*, the manifest not included */
  guint64 bytes;        /* of the stream */
  double seconds;
  const char *tpm_note; /* for a VM with a TPM: what of it travels, what does not */
} VkExportResult;

void vk_export_result_free (VkExportResult *r);

/* What an export of a VM with a TPM carries and what it cannot (N_). */
extern const char *const vk_export_tpm_portability;

/* Whether the state file `state` that left (`size` bytes, SHA-256
 * `sha256`) is the one the sidecar records; VK_ERROR_REFUSED saying the
 * image is damaged otherwise. */
gboolean vk_ops_export_state_matches (const char *name, VkSidecar *sc, const char *state,
                                      guint64 size, const char *sha256, GError **error);

/* Only the image's own files leave: a sidecar naming any other file
 * (/etc/shadow, say) must not have it copied into an export. */
gboolean vk_ops_export_check_disks (const char *name, VkSidecar *sc, const char *dir,
                                    GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkExportResult, vk_export_result_free)

/* Export image `name` under its shared lock to the file `output` (through
 * a temp file renamed at the end; an existing one is replaced only with
 * `force`), or to stdout when `output` is NULL. Progress is reported as
 * job "export"; a disk being flattened is a notice, a whole line (it ends
 * in a newline). On any failure or cancellation no file is left. */
VkExportResult *vk_ops_image_export (VkOps *ops, const char *name, const char *output,
                                     gboolean force, GError **error);

typedef struct {
  char *image;
  char *directory;
  char *domain;
  char *uuid;
  guint members;
  guint64 bytes;
  double seconds;
} VkImportResult;

void vk_import_result_free (VkImportResult *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkImportResult, vk_import_result_free)

/* Whether image NAME (an import's --name) is a valid name that is still
 * free in the store. */
gboolean vk_ops_import_name_free (VkOps *ops, const char *name, GError **error);
/* Import the export read from the file `input` (NULL: stdin; named
 * `source` in messages) as a new
 * image (`name`, or the name the export records): the stream is read
 * into a partial directory, checked against its manifest, passed through
 * the trust boundary (trust.h) and published under the image's exclusive
 * lock. Needs the connection of `ops`. Progress is reported as job
 * "import" while the stream is read. On any failure or cancellation
 * nothing is left in the store. */
VkImportResult *vk_ops_image_import (VkOps *ops, const char *input, const char *source,
                                     const char *name, GError **error);

G_END_DECLS
