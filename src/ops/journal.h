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
/* Keep a named fact for recovery (e.g. "state" = the saved state file). */
gboolean vk_journal_set (VkJournal *j, const char *key, const char *value, GError **error);

/* Success: nothing to undo; the journal file goes. */
void vk_journal_commit (VkJournal *j);
/* Undo everything recorded, newest first; the journal file goes when all
 * succeeded (else it stays for `vmkeep recover`). The first failure is
 * returned, the others are notices. */
gboolean vk_journal_rollback (VkJournal *j, GError **error);
void vk_journal_free (VkJournal *j);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkJournal, vk_journal_free)

/* Journals left by processes that are gone (their lock is free). */
typedef struct {
  char *path;
  char *op;
  char *subject;
  gint64 pid;
  char *started;
  GPtrArray *steps;   /* char*: "kind arg1 arg2 ..." as a person reads it */
} VkJournalInfo;
void vk_journal_info_free (VkJournalInfo *info);
GPtrArray *vk_journal_list_orphans (VkOps *ops, GError **error);
/* Roll back one orphaned journal (what vk_journal_rollback does). */
gboolean vk_journal_recover (VkOps *ops, const char *path, GError **error);

G_END_DECLS
