/* vmkeep watch
 *
 * Runs the wake-on-traffic watcher (src/ops/ops-watch.h) until stopped
 * (SIGTERM, SIGINT, SIGHUP: run.c's guard cancels it) and renders its
 * events: one line each on stdout (JSON lines with --json) and in syslog. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <syslog.h>

#include "commands.h"
#include "ops-watch.h"
#include "output.h"
#include "vk-error.h"

/* 0: not given (30) */
static struct {
  int min_interval;
} watch_opt;

/* Every value given is checked, -1 and 0 included: no value of the
 * option stands for "not given". */
static gboolean
parse_min_interval (const char *name, const char *value, gpointer data, GError **error)
{
  gint64 v;
  if (!g_ascii_string_to_signed (value, 10, 1, 86400, &v, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s '%s' is not a number of seconds from 1 to 86400"), name, value);
      return FALSE;
    }
  watch_opt.min_interval = (int) v;
  return TRUE;
}

const GOptionEntry vk_watch_options[] = {
  { "min-interval", 0, 0, G_OPTION_ARG_CALLBACK, parse_min_interval, N_("Wake a VM at most once per SECONDS, however many frames come (default 30)"), N_("SECONDS") },
  G_OPTION_ENTRY_NULL
};

/* "ARP request for 10.0.0.2 from 52:54:00:00:00:01 (10.0.0.1) on br0" */
static char *
trigger_text (const VkWatchEvent *e)
{
  const VkWakeMatch *m = e->trigger;
  g_autofree char *what = m->kind == VK_WAKE_ARP ? g_strdup_printf (_("ARP request for %s"), m->target)
                          : m->kind == VK_WAKE_NS
                            ? g_strdup_printf (_("neighbour solicitation for %s"), m->target)
                            : g_strdup_printf (_("frame to %s"), m->target);
  if (m->src_addr[0])
    return g_strdup_printf (_("%s from %s (%s) on %s"), what, m->src_mac, m->src_addr, e->bridge);
  return g_strdup_printf (_("%s from %s on %s"), what, m->src_mac, e->bridge);
}

static void
json_words (JsonBuilder *b, const char *name, const char *words)
{
  g_auto(GStrv) v = g_strsplit (words ? words : "", " ", -1);
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; v[i]; i++)
    if (*v[i])
      json_builder_add_string_value (b, v[i]);
  json_builder_end_array (b);
}

static void
print_json (const VkWatchEvent *e)
{
  static const char *const kinds[] = { "watching", "unwatched", "wake", "problem" };
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  vk_json_str (b, "event", kinds[e->kind]);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *at = g_date_time_format_iso8601 (now);
  vk_json_str (b, "time", at);
  if (e->domain)
    {
      vk_json_str (b, "domain", e->domain);
      vk_json_str (b, "image", e->image);
    }
  if (e->kind == VK_WATCH_STARTED)
    {
      json_words (b, "bridges", e->bridges);
      json_words (b, "macs", e->macs);
      json_words (b, "addresses", e->addresses);
    }
  if (e->kind == VK_WATCH_WAKE)
    {
      const VkWakeMatch *m = e->trigger;
      json_builder_set_member_name (b, "trigger");
      json_builder_begin_object (b);
      vk_json_str (b, "type", vk_wake_kind_name (m->kind));
      vk_json_str (b, "bridge", e->bridge);
      vk_json_str (b, "source_mac", m->src_mac);
      vk_json_str (b, "source_address", m->src_addr[0] ? m->src_addr : NULL);
      vk_json_str (b, "target", m->target);
      json_builder_end_object (b);
      vk_json_int (b, "suppressed", e->suppressed);
      vk_json_bool (b, "ok", e->ok);
      vk_json_double (b, "seconds", e->seconds);
    }
  if (e->kind == VK_WATCH_WAKE || e->kind == VK_WATCH_PROBLEM)
    vk_json_str (b, "error", e->message);
  json_builder_end_object (b);
  vk_json_print_line (b);
}

static void
render (const VkWatchEvent *e, gpointer data)
{
  VkCli *cli = data;
  g_autofree char *line = NULL;
  int prio = LOG_INFO;
  switch (e->kind)
    {
    case VK_WATCH_STARTED:
      line = g_strdup_printf (_("watching %s on %s (MACs %s; addresses %s)"), e->domain,
                              e->bridges, e->macs, *e->addresses ? e->addresses : _("none recorded"));
      break;
    case VK_WATCH_STOPPED:
      line = g_strdup_printf (_("no longer watching %s (woken, gone or no longer tagged)"),
                              e->domain);
      break;
    case VK_WATCH_WAKE:
      {
        g_autofree char *why = trigger_text (e);
        if (e->ok)
          line = g_strdup_printf (_("woke %s in %.1f s after %s; %u more frames meanwhile"),
                                  e->domain, e->seconds, why, e->suppressed);
        else
          {
            prio = LOG_ERR;
            line = g_strdup_printf (_("could not wake %s after %s: %s"), e->domain, why,
                                    e->message);
          }
      }
      break;
    case VK_WATCH_PROBLEM:
      prio = LOG_WARNING;
      line = g_strdup (e->message);
      break;
    }
  openlog ("vmkeep", LOG_PID, LOG_DAEMON);
  syslog (prio, "watch: %s", line);
  closelog ();
  if (cli->json)
    print_json (e);
  else if (e->kind == VK_WATCH_PROBLEM)
    g_printerr (_("vmkeep: warning: %s\n"), line);
  else
    {
      printf ("%s\n", line);
      fflush (stdout);
    }
}

gboolean
vk_cmd_watch (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("watch", &argc, &argv, 0, 0, _("no arguments"), error))
    return FALSE;
  if (watch_opt.min_interval == 0)
    watch_opt.min_interval = 30;
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL)
    return FALSE;
  VkWatchOpts o = { .min_interval_s = (guint) watch_opt.min_interval, .event = render,
                    .event_data = cli };
  return vk_ops_watch (ops, &o, error);
}
