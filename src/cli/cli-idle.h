/* vmkeep — the idle options of hibernate and list (cmd-idle.c). */
#pragma once

#include <glib.h>

#include "commands.h"
#include "idle.h"

G_BEGIN_DECLS

typedef struct {
  char *idle_for;                         /* hibernate --idle-for DURATION */
  char *cpu_below, *net_below, *disk_below;
  int sample;                             /* --sample SECONDS */
} VkCliIdleArgs;
extern VkCliIdleArgs vk_idle_opt;

/* The option entries both commands declare (their tables stay static). */
#define VK_CLI_IDLE_THRESHOLD_OPTIONS \
  { "cpu-below", 0, 0, G_OPTION_ARG_STRING, &vk_idle_opt.cpu_below, \
    N_("Idle: CPU at most PERCENT of the vCPUs, or off (default: vmkeep.conf, else 5)"), \
    N_("PERCENT") }, \
  { "net-below", 0, 0, G_OPTION_ARG_STRING, &vk_idle_opt.net_below, \
    N_("Idle: NIC traffic at most RATE bytes/s, or off (default: vmkeep.conf, else 8k)"), \
    N_("RATE") }, \
  { "disk-below", 0, 0, G_OPTION_ARG_STRING, &vk_idle_opt.disk_below, \
    N_("Idle: disk traffic at most RATE bytes/s, or off (default: vmkeep.conf, else 32k)"), \
    N_("RATE") }, \
  { "sample", 0, 0, G_OPTION_ARG_INT, &vk_idle_opt.sample, \
    N_("Idle: measure for SECONDS now, in addition to the recorded history"), \
    N_("SECONDS") }

/* What the options and vmkeep.conf settle on. */
typedef struct {
  VkIdleThresholds t;
  guint64 duration_s;   /* --idle-for, else the --sample span */
} VkCliIdle;

/* Whether hibernate selects by idleness (--idle-for or --sample). */
gboolean vk_cli_idle_wanted (void);
/* The thresholds and duration; `filtering` (hibernate) refuses threshold
 * options without --idle-for or --sample. VK_ERROR_USAGE for bad values. */
gboolean vk_cli_idle_settle (VkCli *cli, gboolean filtering, VkCliIdle *out, GError **error);
/* The domains of `names` idle long enough (a new array); a line per domain
 * kept running says why (vk_cli_info). Samples every active domain. */
GPtrArray *vk_cli_idle_filter (VkCli *cli, GPtrArray *names, const VkCliIdle *idle,
                               GError **error);
/* list --idle: a table, or JSON, of every active domain's idleness. */
gboolean vk_cli_list_idle (VkCli *cli, GError **error);

G_END_DECLS
