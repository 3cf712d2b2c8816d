/* vmkeep — idle detection for scale to zero (DESIGN.md "Scale to zero"):
 * the per-domain history of libvirt's bulk stats and the decision whether
 * a domain has been idle, and for how long. Pure: no libvirt, no I/O.
 *
 * A sample is one reading of a domain's cumulative counters: CPU time, the
 * bytes all its NICs received and sent, the bytes all its disks read and
 * wrote. Between two consecutive samples each counter's growth over the
 * time between them is a rate; the domain is idle over that pair when every
 * checked rate is at most its threshold. The idle time is the newest
 * unbroken stretch of such pairs, ending at the newest sample.
 *
 * Thresholds (each one optional; "below X" means at most X, so a rate
 * threshold of 0 means "nothing at all"):
 *
 *   - CPU, in percent of the domain's whole vCPU capacity: 100 % is every
 *     vCPU busy all the time, so 5 % of a 4-vCPU domain is 0.2 host CPUs.
 *     The CPU time is libvirt's cpu.time, the whole QEMU process (vCPUs,
 *     I/O and emulator threads). A sample that does not know its vCPU
 *     count counts as one vCPU, which can only make a domain look busier,
 *     never idler.
 *   - network and disk, in bytes per second (binary units: 1k = 1024).
 *
 * What ends a stretch: a checked measure above its threshold, a counter
 * that went down or a new libvirt domain id (the domain was restarted or
 * woken: its counters started again), two samples further apart than the
 * caller's maximum gap or a clock that went back (the pair proves nothing),
 * or a checked measure that libvirt did not report (never assumed idle).
 *
 * The history is kept in the store as JSON, one file per domain UUID:
 *
 *   { "format": "vmkeep-idle-history", "version": 1, "uuid": "…",
 *     "samples": [ { "t": UNIX_MS, "cpu": NS, "net": BYTES, "blk": BYTES,
 *                    "vcpus": N, "id": DOMAIN_ID }, … ] }
 *
 * "t" is required, the others optional (absent: libvirt did not report
 * it). It is read back from disk, so parsing refuses anything malformed
 * with a clear error and bounded work: at most VK_IDLE_MAX_TEXT bytes,
 * VK_IDLE_MAX_SAMPLES samples in strictly increasing time. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VK_IDLE_FORMAT "vmkeep-idle-history"
#define VK_IDLE_VERSION 1
/* Samples older than this (before the newest one) are dropped: the
 * longest --idle-for a history can prove. */
#define VK_IDLE_MAX_WINDOW_S (7 * 24 * 3600)
/* At most this many samples (the oldest go first): a timer every 5
 * minutes fills 7 days with 2016. */
#define VK_IDLE_MAX_SAMPLES 4096
/* A sample closer than this to the previous stored one is not stored
 * (frequent runs would otherwise push the window out of the history); the
 * previous one still bounds the next pair. */
#define VK_IDLE_MIN_SPACING_MS (60 * 1000)
/* Largest history text accepted: VK_IDLE_MAX_SAMPLES samples of the
 * largest size are about 0.5 MiB. */
#define VK_IDLE_MAX_TEXT (1024 * 1024)

typedef enum {
  VK_IDLE_HAS_CPU = 1 << 0,
  VK_IDLE_HAS_NET = 1 << 1,
  VK_IDLE_HAS_BLOCK = 1 << 2,
} VkIdleHas;

typedef struct {
  gint64 time_ms;       /* real clock, milliseconds since the epoch */
  guint64 cpu_ns;       /* cumulative CPU time */
  guint64 net_bytes;    /* cumulative rx + tx of all NICs */
  guint64 block_bytes;  /* cumulative read + written of all disks */
  guint vcpus;          /* 0: unknown (counts as 1) */
  gint64 dom_id;        /* libvirt domain id, new at every start; 0: unknown */
  guint has;            /* VkIdleHas: which counters libvirt reported */
} VkIdleSample;

typedef struct {
  char *uuid;
  GArray *samples;      /* VkIdleSample, strictly increasing time_ms */
} VkIdleHistory;

VkIdleHistory *vk_idle_history_new (const char *uuid);
void vk_idle_history_free (VkIdleHistory *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkIdleHistory, vk_idle_history_free)

/* Parse a history read from `source` (a path, for messages).
 * VK_ERROR_REFUSED naming `source` and what is wrong: too large, not JSON,
 * nested, not a vmkeep idle history, another version, no UUID, a sample
 * that is not an object of non-negative integers with "t" > 0, samples out
 * of order, too many samples. */
VkIdleHistory *vk_idle_history_parse (const char *text, gsize len, const char *source,
                                      GError **error);
/* The JSON text of `h` (NUL-terminated; `len` optional). */
char *vk_idle_history_serialize (const VkIdleHistory *h, gsize *len);

/* What vk_idle_history_append did with the sample. */
typedef enum {
  VK_IDLE_APPENDED,     /* stored as the newest sample */
  VK_IDLE_TOO_CLOSE,    /* within VK_IDLE_MIN_SPACING_MS of the newest: not stored */
  VK_IDLE_RESTARTED,    /* the clock went back: the history starts anew with it */
} VkIdleAppend;

/* Append `s` and drop what fell out of the window or over the count
 * (vk_idle_history_prune at s->time_ms). */
VkIdleAppend vk_idle_history_append (VkIdleHistory *h, const VkIdleSample *s);
/* Drop samples older than VK_IDLE_MAX_WINDOW_S before `now_ms` and all but
 * the newest VK_IDLE_MAX_SAMPLES. */
void vk_idle_history_prune (VkIdleHistory *h, gint64 now_ms);

typedef enum {
  VK_IDLE_CPU,
  VK_IDLE_NET,
  VK_IDLE_BLOCK,
  VK_IDLE_N_MEASURES
} VkIdleMeasure;

/* What ended a stretch (the pair just before it). */
typedef enum {
  VK_IDLE_BREAK_NONE,        /* nothing: the stretch reaches the oldest sample */
  VK_IDLE_BREAK_ABOVE,       /* the measure was above its threshold */
  VK_IDLE_BREAK_RESET,       /* a counter went down or the domain id changed */
  VK_IDLE_BREAK_GAP,         /* samples too far apart, or the clock went back */
  VK_IDLE_BREAK_UNMEASURED,  /* libvirt did not report the measure */
} VkIdleBreak;

typedef struct {
  double cpu_percent;   /* of the whole vCPU capacity; < 0: not checked */
  double net_rate;      /* bytes/s; < 0: not checked */
  double block_rate;    /* bytes/s; < 0: not checked */
  gint64 max_gap_ms;    /* a pair further apart breaks the stretch; 0: no limit */
} VkIdleThresholds;

/* All unchecked, no gap limit. */
#define VK_IDLE_THRESHOLDS_NONE ((VkIdleThresholds) { -1, -1, -1, 0 })

typedef struct {
  gboolean checked;      /* a threshold was given for it */
  gint64 idle_ms;        /* how long it has stayed at most at its threshold
                          * (-1 when not checked) */
  VkIdleBreak broken_by; /* what ended its stretch */
  double last;           /* its rate over the newest pair (percent or
                          * bytes/s); -1 when unknown (fewer than two
                          * samples, not reported, a break) */
} VkIdleMeasureVerdict;

typedef struct {
  /* All checked measures at most at their thresholds, ending at the
   * newest sample: the shortest of the measures' stretches (with no
   * measure checked, the stretch without resets and gaps). 0 with fewer
   * than two samples. */
  gint64 idle_ms;
  /* The measure whose stretch is the shortest, -1 when none is checked
   * or nothing but a reset or gap ended it; and what ended it. */
  int measure;
  VkIdleBreak broken_by;
  gint64 history_ms;     /* from the oldest sample to the newest */
  guint samples;
  VkIdleMeasureVerdict m[VK_IDLE_N_MEASURES];
} VkIdleVerdict;

/* Evaluate `n` samples in increasing time (a history's, usually with the
 * current reading appended). */
void vk_idle_evaluate (const VkIdleSample *samples, guint n, const VkIdleThresholds *t,
                       VkIdleVerdict *out);

/* "cpu", "net", "disk" (as the options say), for messages and --json. */
const char *vk_idle_measure_name (VkIdleMeasure m);
/* "none", "above", "reset", "gap", "unmeasured". */
const char *vk_idle_break_name (VkIdleBreak b);

/* --idle-for DURATION: one or more whole numbers each with a unit s, m, h
 * or d ("90s", "30m", "2h", "1d", "1h30m"); from 1 s up to
 * VK_IDLE_MAX_WINDOW_S (the history holds no more). VK_ERROR_USAGE naming
 * `what` (the option) otherwise. */
gboolean vk_idle_parse_duration (const char *what, const char *text, guint64 *seconds,
                                 GError **error);
/* "1d 2h", "5m 30s", "45s" (at most two units, rounded down). */
char *vk_idle_format_duration (guint64 seconds);
/* --net-below / --disk-below RATE in bytes/s: a whole number with an
 * optional binary unit k, M, G (also KiB, MiB, GiB) and an optional "/s":
 * "0", "512", "10k", "1M", "1MiB/s". */
gboolean vk_idle_parse_rate (const char *what, const char *text, guint64 *bytes_per_s,
                             GError **error);
/* --cpu-below PERCENT: a decimal number from 0 to 100, optionally with
 * "%": "5", "0.5", "2.5%". */
gboolean vk_idle_parse_percent (const char *what, const char *text, double *percent,
                                GError **error);

/* One threshold of `t` from `text` (--cpu-below, --net-below,
 * --disk-below, or their vmkeep.conf keys, named by `what`): a percentage
 * for VK_IDLE_CPU, a rate for the others, or "off" (not checked). */
gboolean vk_idle_parse_threshold (VkIdleThresholds *t, VkIdleMeasure m, const char *what,
                                  const char *text, GError **error);
/* vmkeep's defaults when neither vmkeep.conf nor an option says: CPU at
 * most 5 % of the vCPUs, the NICs at most 8 KiB/s (broadcasts of a busy
 * segment included), the disks at most 32 KiB/s (logging), no gap limit. */
#define VK_IDLE_THRESHOLDS_DEFAULT ((VkIdleThresholds) { 5, 8 * 1024, 32 * 1024, 0 })

G_END_DECLS
