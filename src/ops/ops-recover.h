/* vmkeep — what interrupted workflows left, and finishing it (vmkeep
 * recover; every state-changing command runs the same first). See ops.h
 * for the layer's rules and journal.h for the journal.
 *
 * Two kinds of things are found:
 *
 *   - journals of workflows whose vmkeep is gone (SIGKILL, a reboot, an
 *     undo that failed): undone newest step first, under the locks the
 *     workflow held; a journal of a workflow that had completed (its
 *     "done-if" file exists) is only dropped;
 *   - partial image directories with a complete saved state but no
 *     journal (left by an older vmkeep, whose hibernate kept no record
 *     while libvirtd wrote the state): the VM comes back from the state,
 *     then the directory goes.
 *
 * Nothing a defined domain's disk chain uses is removed (journal.c checks
 * every directory before it goes). */
#pragma once

#include <glib.h>

#include "ops.h"

G_BEGIN_DECLS

typedef enum {
  VK_RECOVER_UNDO,     /* an interrupted workflow: undo its journal */
  VK_RECOVER_DROP,     /* a completed workflow: drop its journal */
  VK_RECOVER_RESTORE,  /* a saved state without a journal: bring its VM back */
} VkRecoverAction;

typedef struct {
  VkRecoverAction action;
  char *path;          /* the journal, or the partial directory */
  char *op;            /* "clone", "hibernate", ... */
  char *subject;       /* the image or domain it was about */
  char *started;       /* ISO 8601, or NULL */
  char *uri;           /* the connection its domains are on, or NULL */
  GPtrArray *steps;    /* char*: what undoing does, in the order it runs */
  GStrv restore;       /* VK_RECOVER_RESTORE: domain uuid, state file, XML file or "" */
} VkRecoverItem;

void vk_recover_item_free (VkRecoverItem *item);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkRecoverItem, vk_recover_item_free)

/* What interrupted workflows left in the store of `ops` (nothing that a
 * running vmkeep is still working on). Reads only the store. */
GPtrArray *vk_ops_recover_scan (VkOps *ops, GError **error);
/* Finish one item (needs the connection of `ops`). VK_ERROR_BUSY when
 * another vmkeep holds a lock it needs. */
gboolean vk_ops_recover_apply (VkOps *ops, const VkRecoverItem *item, GError **error);

G_END_DECLS
