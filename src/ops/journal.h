/* vmkeep — the undo journal of a multi-step workflow.
 *
 * Before a step changes anything, the workflow records the step's inverse
 * in the journal; the journal is a file in the store
 * (STORE/journal/ID.json), rewritten atomically at every record, and
 * locked by the process that runs the workflow. So whatever stops the
 * workflow, the inverses of what it did are on disk:
 *
 *   - an error or a cancellation: vk_journal_rollback runs them, newest
 *     first, and removes the journal;
 *   - success: vk_journal_commit removes the journal (nothing to undo);
 *   - SIGKILL, a reboot, ENOSPC before the next record: the journal stays,
 *     its lock is free, and the next vmkeep (vk_journal_recover_all, or
 *     `vmkeep recover`) runs the same inverses.
 *
 * A step past which a workflow must finish rather than undo (libvirt saved
 * the VM and stopped it: the memory exists only in the store now) is
 * recorded as a "finish" action; recovery runs those forward instead.
 *
 * Steps are data, not closures, so that another process can replay them:
 * an action kind (from the table in journal.c) and its string arguments.
 * Every action is idempotent: running it twice, or on something already
 * undone, succeeds. */
#pragma once

#include <glib.h>

#include "ops.h"

G_BEGIN_DECLS

typedef struct _VkJournal VkJournal;

/* The actions a journal can hold. Arguments in parentheses. */
typedef enum {
  VK_UNDO_UNLINK,          /* (path) remove a file vmkeep created */
  VK_UNDO_RMTREE,          /* (dir) remove a directory vmkeep created and marked */
  VK_UNDO_RENAME,          /* (from, to) move a file back */
  VK_UNDO_UNDEFINE,        /* (uuid) destroy and undefine a domain vmkeep defined */
  VK_UNDO_DEFINE,          /* (xml-file) define a domain again from a saved XML */
  VK_UNDO_RESUME,          /* (uuid) resume a domain vmkeep paused */
  VK_UNDO_RESTORE,         /* (state-file, xml-file or "") restore a saved domain */
  VK_UNDO_COMMIT_OVERLAY,  /* (uuid, target, overlay) merge an overlay back, remove it */
  VK_UNDO_RESUME_SAVED,    /* (uuid, state-file, xml-file or "") bring back a domain that
                            * libvirt may have saved into state-file: resume it if it
                            * still runs paused, restore it if it is off and the state
                            * is complete */
  VK_UNDO_LAST
} VkUndoKind;

/* Start a journal for workflow `op` ("clone", "hibernate", ...) on
 * `subject` (a domain or image name) in the store of `ops`. */
VkJournal *vk_journal_begin (VkOps *ops, const char *op, const char *subject, GError **error);

/* Record the inverse of the step about to be taken (NULL-terminated
 * arguments). Written and synced before it returns: only then may the
 * step run. */
gboolean vk_journal_push (VkJournal *j, VkUndoKind kind, GError **error, ...)
  G_GNUC_NULL_TERMINATED;
/* Forget the newest record (the step it undoes was itself undone, or is
 * now part of a result that stays). */
void vk_journal_pop (VkJournal *j);
/* Keep a named fact for recovery. Known facts: "lock-domain" (uuid) and
 * "lock-image" (name), the locks recovery takes; "done-if" (a path): once
 * that file exists the workflow is complete and recovery undoes nothing;
 * "uri" (set by vk_journal_begin): the connection of its domains. */
gboolean vk_journal_set (VkJournal *j, const char *key, const char *value, GError **error);

/* Success: nothing to undo; the journal file goes. */
void vk_journal_commit (VkJournal *j);
/* Undo everything recorded, newest first; the journal file goes when all
 * succeeded. Undo stops at the first step that fails (an older inverse
 * may assume the newer ones were done: a directory is only removed once
 * the disks in it were moved back): that error is returned and the
 * journal stays on disk with the steps still to undo, for the next
 * vmkeep or `vmkeep recover`. */
gboolean vk_journal_rollback (VkJournal *j, GError **error);
void vk_journal_free (VkJournal *j);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkJournal, vk_journal_free)

/* Run one action now, outside any journal (NULL-terminated arguments), as
 * undo would: for what recovery finds without a journal. */
gboolean vk_journal_run (VkOps *ops, VkUndoKind kind, GError **error, ...)
  G_GNUC_NULL_TERMINATED;

/* Journals left by processes that are gone (their lock is free). */
typedef struct {
  char *path;
  char *op;
  char *subject;
  gint64 pid;
  char *started;
  GPtrArray *steps;   /* char*: "kind arg1 arg2 ..." as a person reads it, newest last */
  char *lock_domain;  /* fact "lock-domain": the domain (uuid) the workflow locked */
  char *lock_image;   /* fact "lock-image": the image it locked */
  char *uri;          /* fact "uri": the libvirt connection its domains are on */
  gboolean completed; /* the workflow finished (fact "done-if" names a file that
                       * exists): only the journal is left, nothing is undone */
} VkJournalInfo;
void vk_journal_info_free (VkJournalInfo *info);
GPtrArray *vk_journal_list_orphans (VkOps *ops, GError **error);
/* Roll back one orphaned journal (what vk_journal_rollback does), under
 * the domain and image locks the interrupted workflow held (recorded as
 * facts "lock-domain" and "lock-image"): VK_ERROR_BUSY when another
 * vmkeep holds one of them or the journal itself. */
gboolean vk_journal_recover (VkOps *ops, const char *path, GError **error);

G_END_DECLS
