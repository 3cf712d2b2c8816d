/* vmkeep — what ops-clone.c shares with ops-fork.c (not for the CLI). */
#pragma once

#include <libxml/tree.h>

#include "journal.h"
#include "ops-clone.h"
#include "save-header.h"
#include "sidecar.h"

G_BEGIN_DECLS

/* G_MESSAGES_DEBUG=vmkeep shows where a clone or fork spends its time. */
void vk_clone_phase (const char *what);

/* Where a clone's state comes from: a finished image file (checked
 * against its sidecar's SHA-256 on the way) or, for a fork of a running
 * VM, the memory snapshot libvirt is still writing (hashed on the way). */
typedef struct {
  const char *state;
  const char *sha;        /* expected SHA-256, or NULL */
  const gint *writer;     /* growing file: VkWriterState, else NULL */
  char *sha_out;          /* growing file: SHA-256 and size of what was read */
  guint64 size_out;
} VkStateSource;

/* Create the clone of `src_doc` (the XML inside the state's header `hdr`)
 * described by `sc` (frozen disks, NVRAM copy in `dir`) and resume it from
 * `ss`. Every step's inverse goes to `j` first. `macs_checked`: a fork
 * checked the MACs before its source was saved. */
gboolean vk_clone_from (VkOps *ops, VkJournal *j, VkSidecar *sc, const char *dir,
                        VkSaveHeader *hdr, xmlDocPtr src_doc, VkStateSource *ss,
                        const VkCloneOpts *o, gboolean macs_checked, VkCloneResult *res,
                        GError **error);

/* The new VM's name: valid and not taken. */
gboolean vk_clone_check_new_name (VkConn *conn, const char *what, const char *name,
                                  GError **error);

/* Two running VMs with one MAC on one segment break each other's traffic. */
gboolean vk_clone_check_duplicate_macs (VkConn *conn, xmlDocPtr clone, const char *clone_name,
                                        GError **error);

/* The clone of image `image` in a journal of its own; `last_step` is the
 * fault point (see vk_ops_step) once the clone runs, where a cancellation
 * still undoes it. The fork of an image is such a clone. */
gboolean vk_clone_image (VkOps *ops, const char *image, const VkCloneOpts *o,
                         const char *last_step, VkCloneResult *res, GError **error);

/* End a workflow's journal: commit on success, else roll back (what the
 * rollback could not undo is a notice). Returns `ok`. */
gboolean vk_clone_journal_end (VkOps *ops, VkJournal *j, gboolean ok, GError **error);

G_END_DECLS
