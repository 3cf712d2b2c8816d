/* vmkeep — the workflows layer: what every workflow is handed.
 *
 * src/ops holds vmkeep's workflows (hibernate, wake, clone, fork, attach,
 * image verify/rm/export/import, ...). Each takes a VkOps context and
 * returns a result struct; none prints and none sees the CLI's types:
 *
 *   - the connection and the configuration;
 *   - one cancellable: Ctrl-C, a closed ssh, a systemd stop (the CLI turns
 *     SIGINT, SIGTERM and SIGHUP into g_cancellable_cancel) and a caller's
 *     own reasons all arrive as a cancelled GCancellable; a workflow checks
 *     it between steps and undoes what it did;
 *   - one progress callback (bytes of a job, for the CLI to render);
 *   - one notice callback for what the user should know that is not an
 *     error (leftovers removed, a state kept, ...);
 *   - a fault hook: tests make any named step fail (or the process stop
 *     there) to reach every rollback path; production leaves it NULL.
 *
 * Locks (one policy, ops/locks.c): every change to a domain holds that
 * domain's lock, every use of an image holds the image's lock, shared for
 * readers and exclusive for rm. Multi-step workflows keep an undo journal
 * (ops/journal.c) in the store: each step that changes something records
 * its inverse first, so a failure, a cancellation or a killed process is
 * rolled back, at once or by the next vmkeep. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "fileutil.h"
#include "virt.h"
#include "vk-config.h"

G_BEGIN_DECLS

typedef struct _VkOps VkOps;

typedef struct {
  const char *subject;   /* domain or image the job is about */
  const char *what;      /* "save", "restore", "export", ... */
  guint64 done;          /* bytes so far */
  guint64 total;         /* bytes in all, 0 when unknown */
  guint64 bytes_per_s;   /* 0 when unknown */
  gboolean finished;     /* the last call for this job */
  gboolean failed;
} VkOpsProgress;

typedef void (*VkOpsProgressFunc) (const VkOpsProgress *p, gpointer data);
typedef void (*VkOpsNoticeFunc) (const char *message, gpointer data);
/* Return FALSE (with an error) to make step `point` fail. */
typedef gboolean (*VkOpsFaultFunc) (const char *point, gpointer data, GError **error);

struct _VkOps {
  VkConn *conn;              /* may be NULL for workflows without libvirt */
  VkConfig *cfg;
  GCancellable *cancel;      /* never NULL */
  VkOpsProgressFunc progress;
  gpointer progress_data;
  VkOpsNoticeFunc notice;
  gpointer notice_data;
  VkOpsFaultFunc fault;      /* tests only */
  gpointer fault_data;
};

/* A context with its own cancellable; the callbacks are set by the
 * caller. `conn` and `cfg` are borrowed. */
VkOps *vk_ops_new (VkConn *conn, VkConfig *cfg);
void vk_ops_free (VkOps *ops);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkOps, vk_ops_free)

/* The fault hook's verdict on step `point` (TRUE without a hook). */
gboolean vk_ops_step (VkOps *ops, const char *point, GError **error);
/* FALSE with VK_ERROR_FAILED "interrupted" once the context is cancelled. */
gboolean vk_ops_check_cancel (VkOps *ops, GError **error);
void vk_ops_notice (VkOps *ops, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
void vk_ops_report (VkOps *ops, const VkOpsProgress *p);

/* The progress of one byte stream (export, import): reported when it
 * begins, at each offset (vk_ops_stream_at is a tar reader's or writer's
 * progress callback, with the stream as its data) and when it ends. */
typedef struct {
  VkOps *ops;
  VkOpsProgress p;
} VkOpsStream;
void vk_ops_stream_begin (VkOpsStream *s, VkOps *ops, const char *subject, const char *what,
                          guint64 total);
void vk_ops_stream_at (guint64 offset, gpointer stream);
void vk_ops_stream_end (VkOpsStream *s, guint64 done, gboolean ok);

/* The lock of a domain (`uuid`) in the store, created safely when
 * missing; VK_ERROR_BUSY (exit 3) at once when another vmkeep holds it,
 * prefixed with `what` (the domain's name; may be NULL). */
VkLock *vk_ops_lock_domain (VkOps *ops, const char *uuid, const char *what, GError **error);
/* The image's lock: shared for readers (clone, wake --image, export,
 * verify), exclusive for rm; VK_ERROR_BUSY (exit 3) at once on a clash. */
VkLock *vk_ops_lock_image (VkOps *ops, const char *image, gboolean shared, GError **error);

G_END_DECLS
