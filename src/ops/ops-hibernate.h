/* vmkeep — the hibernate and wake workflows.
 *
 * Hibernate frees a VM's RAM by saving it; wake brings it back exactly as
 * it was. Managed mode uses libvirt's managed save (so `virsh start`
 * resumes it too) plus a sidecar in the store (STORE/managed/UUID.xml);
 * image mode writes a self-contained image: state.sav in libvirt's
 * format, the sidecar, and the disks frozen at save time. Wake refuses
 * when the device identity the guest knows no longer matches what it
 * would wake into.
 *
 * Each workflow takes the domain's lock (and wake --image the image's)
 * itself: VK_ERROR_BUSY at once when another vmkeep holds it. The save
 * reports its progress through vk_ops_report (what "save") when the
 * context has a progress callback. */
#pragma once

#include <glib.h>

#include "ops.h"

G_BEGIN_DECLS

typedef struct {
  const char *image;        /* --image NAME; NULL: a managed save */
  gboolean copy;            /* image mode: copy the disks, don't freeze them */
  gboolean bypass_cache;
  const char *format;       /* libvirt's save image format, NULL: the host's */
  int parallel;             /* parallel channels (sparse), 0: none */
} VkHibernateOpts;

/* What a hibernate or wake did. `domain` is the domain it was about,
 * once known (wake --image learns it from the image). */
typedef struct {
  char *domain;
  const char *mode;         /* "managed" or "image" */
  guint64 state_bytes;
} VkOpsSaveResult;

void vk_ops_save_result_clear (VkOpsSaveResult *r);

/* Hibernate the running domain `name`. Refuses (nothing changed) what
 * libvirt cannot save, a full store and, in image mode, an image name in
 * use. Image mode keeps an undo journal: until libvirt has saved the VM a
 * failure or a cancellation removes the partial image; after it the
 * workflow finishes (a cancellation no longer stops it), and a failure
 * puts the disks back and resumes the VM from the state it saved. */
gboolean vk_ops_hibernate (VkOps *ops, const char *name, const VkHibernateOpts *o,
                           VkOpsSaveResult *r, GError **error);

/* Wake `name` from its managed save, after checking its device identity
 * against the sidecar (and its persistent definition) unless `force`. */
gboolean vk_ops_wake (VkOps *ops, const char *name, gboolean force, VkOpsSaveResult *r,
                      GError **error);

/* Wake the domain saved in image `image` (checked first), resuming it on
 * its frozen disks. */
gboolean vk_ops_wake_image (VkOps *ops, const char *image, gboolean force, VkOpsSaveResult *r,
                            GError **error);

/* The time the libvirt call at the heart of an operation took, for
 * G_MESSAGES_DEBUG=vmkeep (bench/hibernate.sh parses it). */
void vk_ops_debug_libvirt_time (const char *what, const char *name, gint64 since);

G_END_DECLS
