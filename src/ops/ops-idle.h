/* vmkeep — idle detection workflows (DESIGN.md "Scale to zero"): sample
 * libvirt's bulk stats into each domain's history in the store, and say
 * per domain how long it has been idle. See core/idle.h for the model and
 * ops.h for the layer's rules.
 *
 * The histories are STORE/idle/<uuid>.json (0600, in a 0700 directory),
 * each replaced atomically. Writers serialise on the lock
 * STORE/locks/idle-<uuid>.lock, held only to read, append and write back:
 * not the domain's lock, so a sample never waits for, nor blocks, a
 * hibernate or wake of the same domain. Readers need no lock (a history is
 * only ever replaced whole). A history that is missing, unreadable or
 * malformed starts anew (with a notice); one that no run has written for
 * the whole window (VK_IDLE_MAX_WINDOW_S: its domain has not been active
 * since) is removed when sampling. */
#pragma once

#include <glib.h>

#include "idle.h"
#include "ops.h"

G_BEGIN_DECLS

typedef struct {
  char *name;
  char *uuid;
  gboolean running;       /* FALSE: active but paused (or another state) */
  VkIdleVerdict verdict;  /* over the history and this run's readings */
  gboolean meets;         /* idle for at least the duration asked for, under
                           * at least one checked threshold */
  gboolean stored;        /* this run's reading went into the history */
  char *note;             /* why the history was not read or not written;
                           * NULL when all went well */
} VkIdleReport;
void vk_idle_report_free (VkIdleReport *r);

/* Read every active domain's counters once (one bulk stats call) and
 * append them to their histories. `*stored` (optional) counts the
 * histories that took the sample (one closer than VK_IDLE_MIN_SPACING_MS
 * to the last is not stored; one whose lock another vmkeep holds is
 * skipped: that one is sampling it now). A history that cannot be written
 * does not stop the others; the first such error is returned at the end.
 * Fault points: "idle-store" before each history is written. */
gboolean vk_ops_idle_sample (VkOps *ops, guint *stored, GError **error);

/* For each active domain (sorted by name): how long it has been idle under
 * `t` and whether that is at least `duration_s` (1 .. VK_IDLE_MAX_WINDOW_S).
 * Reads the counters (and stores them, as vk_ops_idle_sample); with
 * `sample_seconds` > 0 (at most 3600) it waits that long, cancellably,
 * and reads them again, so a domain without history still gets a
 * verdict over that span. Thresholds apply as given: a `t->max_gap_ms`
 * below the sampling span breaks that span too. A domain whose history
 * cannot be read or written gets a `note`, not an error. VK_ERROR_USAGE
 * for a duration or span out of range; VK_ERROR_FAILED "interrupted" when
 * cancelled while waiting. */
GPtrArray *vk_ops_idle_report (VkOps *ops, const VkIdleThresholds *t, guint64 duration_s,
                               guint sample_seconds, GError **error);

G_END_DECLS
