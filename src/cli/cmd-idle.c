/* vmkeep hibernate --idle-for | --sample, list --idle
 *
 * The idle options that hibernate and list share, the thresholds they
 * settle on (vmkeep.conf's, then the options'), the filter hibernate
 * applies and the table list --idle prints. The measuring is
 * src/ops/ops-idle.h's; the model src/core/idle.h's. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "cli-idle.h"
#include "ops-idle.h"
#include "output.h"
#include "vk-error.h"

VkCliIdleArgs vk_idle_opt;

gboolean
vk_cli_idle_wanted (void)
{
  return vk_idle_opt.idle_for != NULL || vk_idle_opt.sample != 0;
}

/* --sample SECONDS, within what a run waits. */
static gboolean
check_sample (GError **error)
{
  if (vk_idle_opt.sample < 0 || vk_idle_opt.sample > 3600)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--sample %d is out of range (1 to 3600 seconds; for longer spans let "
                      "the timer build a history, see --idle-for)"), vk_idle_opt.sample);
  return TRUE;
}

gboolean
vk_cli_idle_settle (VkCli *cli, gboolean filtering, VkCliIdle *out, GError **error)
{
  const char *const opts[] = { "--cpu-below", "--net-below", "--disk-below" };
  const char *const vals[] = { vk_idle_opt.cpu_below, vk_idle_opt.net_below,
                               vk_idle_opt.disk_below };
  out->t = cli->cfg->idle;
  out->duration_s = 0;
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    {
      if (vals[m] == NULL)
        continue;
      if (filtering && !vk_cli_idle_wanted ())
        return vk_fail (error, VK_ERROR_USAGE,
                        _("%s only applies with --idle-for DURATION or --sample SECONDS"),
                        opts[m]);
      if (!vk_idle_parse_threshold (&out->t, m, opts[m], vals[m], error))
        return FALSE;
    }
  if (!check_sample (error))
    return FALSE;
  if (vk_idle_opt.idle_for &&
      !vk_idle_parse_duration ("--idle-for", vk_idle_opt.idle_for, &out->duration_s, error))
    return FALSE;
  if (filtering && out->t.cpu_percent < 0 && out->t.net_rate < 0 && out->t.block_rate < 0 &&
      vk_cli_idle_wanted ())
    return vk_fail (error, VK_ERROR_USAGE,
                    _("every idle threshold is off; leave at least one of --cpu-below, "
                      "--net-below and --disk-below on"));
  /* --sample alone: idle over the span just measured */
  if (out->duration_s == 0)
    out->duration_s = MAX (vk_idle_opt.sample, 1);
  /* A pair of samples further apart than this proves nothing: an average
   * over hours hides the bursts in it. Half the duration asked for, at
   * least 10 minutes (the shipped timer's interval), at least the span
   * measured on the spot. */
  out->t.max_gap_ms = (gint64) MAX (MAX (out->duration_s / 2, 600), (guint64) vk_idle_opt.sample) *
                      1000;
  return TRUE;
}

/* "5m", or "-" before a second sample. */
static char *
idle_text (const VkIdleVerdict *v, gint64 idle_ms)
{
  if (v->samples < 2 || idle_ms < 0)
    return g_strdup ("-");
  return vk_idle_format_duration ((guint64) idle_ms / 1000);
}

/* One measure's latest rate: "3.2%", "1.5 KiB/s", or "-". */
static char *
rate_text (VkIdleMeasure m, double last)
{
  if (last < 0)
    return g_strdup ("-");
  if (m == VK_IDLE_CPU)
    return g_strdup_printf ("%.1f%%", last);
  g_autofree char *size = g_format_size_full ((guint64) last, G_FORMAT_SIZE_IEC_UNITS);
  return g_strdup_printf ("%s/s", size);
}

/* Why a domain is not idle (long enough), for the line hibernate prints. */
static char *
why_not (const VkIdleReport *r, guint64 duration_s)
{
  const VkIdleVerdict *v = &r->verdict;
  g_autofree char *need = vk_idle_format_duration (duration_s);
  if (v->samples < 2)
    return g_strdup_printf (_("no activity recorded yet (needs %s; see --sample)"), need);
  g_autofree char *idle = idle_text (v, v->idle_ms);
  if (v->measure >= 0 && v->broken_by == VK_IDLE_BREAK_ABOVE)
    {
      g_autofree char *rate = rate_text (v->measure, v->m[v->measure].last);
      return g_strdup_printf (_("idle for %s of %s; %s was above its threshold (now %s)"),
                              idle, need, vk_idle_measure_name (v->measure), rate);
    }
  return g_strdup_printf (_("idle for %s of %s (since: %s)"), idle, need,
                          vk_idle_break_name (v->broken_by));
}

GPtrArray *
vk_cli_idle_filter (VkCli *cli, GPtrArray *names, const VkCliIdle *idle, GError **error)
{
  /* Nothing selected: no --sample wait for nothing. */
  if (names->len == 0)
    return g_ptr_array_new_with_free_func (g_free);
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL)
    return NULL;
  g_autoptr(GPtrArray) reports = vk_ops_idle_report (ops, &idle->t, idle->duration_s,
                                                     (guint) vk_idle_opt.sample, error);
  if (reports == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      const VkIdleReport *r = NULL;
      for (guint k = 0; k < reports->len && r == NULL; k++)
        if (g_str_equal (((VkIdleReport *) reports->pdata[k])->name, name))
          r = reports->pdata[k];
      if (r != NULL && r->meets)
        {
          g_ptr_array_add (out, g_strdup (name));
          continue;
        }
      if (r == NULL)
        {
          vk_cli_info (cli, _("%s: not running; skipped"), name);
          continue;
        }
      g_autofree char *why = why_not (r, idle->duration_s);
      vk_cli_info (cli, _("%s: kept running: %s"), name, why);
    }
  return out;
}

static void
json_measure (JsonBuilder *b, VkIdleMeasure m, const VkIdleMeasureVerdict *mv)
{
  json_builder_set_member_name (b, vk_idle_measure_name (m));
  if (!mv->checked)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  vk_json_int_or_null (b, "idle_seconds", mv->idle_ms < 0 ? -1 : mv->idle_ms / 1000);
  vk_json_str (b, "since", vk_idle_break_name (mv->broken_by));
  if (mv->last >= 0)
    vk_json_double (b, "last", mv->last);
  else
    vk_json_null (b, "last");
  json_builder_end_object (b);
}

/* One domain of `list --idle --json`. */
static void
json_report (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkIdleReport *r = item;
  const VkIdleVerdict *v = &r->verdict;
  vk_json_str (b, "name", r->name);
  vk_json_str (b, "uuid", r->uuid);
  vk_json_bool (b, "running", r->running);
  vk_json_int_or_null (b, "idle_seconds", v->samples < 2 ? -1 : v->idle_ms / 1000);
  vk_json_str (b, "limited_by", v->measure >= 0 ? vk_idle_measure_name (v->measure) : NULL);
  vk_json_str (b, "since", vk_idle_break_name (v->broken_by));
  vk_json_int (b, "samples", v->samples);
  vk_json_int (b, "history_seconds", v->history_ms / 1000);
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    json_measure (b, m, &v->m[m]);
  vk_json_str (b, "note", r->note);
}

gboolean
vk_cli_list_idle (VkCli *cli, GError **error)
{
  VkCliIdle idle;
  if (!vk_cli_idle_settle (cli, FALSE, &idle, error))
    return FALSE;
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL)
    return FALSE;
  g_autoptr(GPtrArray) reports = vk_ops_idle_report (ops, &idle.t, idle.duration_s,
                                                     (guint) vk_idle_opt.sample, error);
  if (reports == NULL)
    return FALSE;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      vk_json_objects (b, NULL, reports, json_report, NULL);
      vk_json_print_builder (b);
      return TRUE;
    }
  g_autoptr(VkTable) t = vk_table_new (_("NAME"), _("IDLE"), _("LIMITED BY"), _("CPU"),
                                       _("NET"), _("DISK"), _("SAMPLES"), NULL);
  for (guint i = 0; i < reports->len; i++)
    {
      const VkIdleReport *r = reports->pdata[i];
      const VkIdleVerdict *v = &r->verdict;
      g_autofree char *idle_s = idle_text (v, v->idle_ms);
      const char *by = v->measure >= 0 ? vk_idle_measure_name (v->measure)
                       : v->samples < 2 ? NULL : vk_idle_break_name (v->broken_by);
      g_autofree char *cpu = rate_text (VK_IDLE_CPU, v->m[VK_IDLE_CPU].last);
      g_autofree char *net = rate_text (VK_IDLE_NET, v->m[VK_IDLE_NET].last);
      g_autofree char *disk = rate_text (VK_IDLE_BLOCK, v->m[VK_IDLE_BLOCK].last);
      g_autofree char *n = g_strdup_printf ("%u", v->samples);
      vk_table_add (t, r->name, idle_s, by, cpu, net, disk, n);
      if (r->note)
        g_printerr (_("vmkeep: warning: %s: %s\n"), r->name, r->note);
    }
  vk_table_print (t, stdout);
  return TRUE;
}
