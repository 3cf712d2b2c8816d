/* vmkeep — clone and fork: a new VM that resumes a source's memory with
 * the *identical* devices (same PCI addresses, MACs, models, queues and
 * ACPI indexes). Only the fields the invariant allows change (name, UUID,
 * disks, TAP and host side of NICs, log/NVRAM/TPM paths). See ops.h for
 * the layer's rules.
 *
 * Both hold their locks themselves (the image's, shared, for a clone; the
 * source domain's for a fork) and record every step in an undo journal:
 * an error or a cancelled ops->cancel leaves nothing behind, and a fork
 * of a running VM puts its source back as it was. */
#pragma once

#include <glib.h>

#include "ops.h"

G_BEGIN_DECLS

typedef struct {
  const char *name;              /* the new VM's (required) */
  const char *const *taps;       /* TAP name per NIC, or NULL */
  const char *bridge;            /* every NIC onto this bridge, or NULL */
  const char *network;           /* ... or this libvirt network */
  const char *disk_dir;          /* the clone's disks, or NULL: beside the source's */
  gboolean copy;                 /* full copies, not qcow2 overlays */
  gboolean paused;
  gboolean no_start;             /* clone only: keep the clone's state as image NAME */
  gboolean allow_dup_mac;
} VkCloneOpts;

typedef struct {
  char *name;
  char *uuid;
  char *image;             /* clone --no-start: the image kept; fork of a running VM:
                              the image whose frozen disks it shares with its source */
  GPtrArray *disks;        /* char*: "vda=/path" (a fork of a shut-off VM: "/path") */
  GPtrArray *taps;         /* char* */
  gboolean running;
  const char *state_path;  /* how the state reached libvirt: fifo, reflink, copy */
} VkCloneResult;

void vk_clone_result_init (VkCloneResult *r);
void vk_clone_result_clear (VkCloneResult *r);

/* A clone of image `image` from the store, resumed (or paused, or with
 * no_start kept as an image) once its state proved to be the image's. */
gboolean vk_ops_clone_image (VkOps *ops, const char *image, const VkCloneOpts *o,
                             VkCloneResult *res, GError **error);

/* A fork of `source`: a shut-off domain (shared frozen bases, overlays
 * for both), a running or paused one (paused for a disk and memory
 * snapshot, resumed at once; the fork restores from the snapshot while it
 * is written), or an image (a clone). */
gboolean vk_ops_fork (VkOps *ops, const char *source, const VkCloneOpts *o,
                      VkCloneResult *res, GError **error);

G_END_DECLS
