/* vmkeep list | start | stop | undefine */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "cli-idle.h"
#include "commands.h"
#include "ops-lifecycle.h"
#include "output.h"
#include "vk-error.h"

static struct {
  gboolean all, idle;
} list_opt;

const GOptionEntry vk_list_options[] = {
  { "all", 'a', 0, G_OPTION_ARG_NONE, &list_opt.all, N_("Include domains that are not running"), NULL },
  { "idle", 0, 0, G_OPTION_ARG_NONE, &list_opt.idle, N_("How long each running domain has been idle, and by which measure"), NULL },
  VK_CLI_IDLE_THRESHOLD_OPTIONS,
  G_OPTION_ENTRY_NULL
};

/* A domain of the connection `data`, in `list --json`. */
static void
json_domain (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkDomainInfo *d = item;
  vk_json_str (b, "name", d->name);
  vk_json_str (b, "uuid", d->uuid);
  vk_json_str (b, "state", d->state);
  vk_json_int_or_null (b, "id", d->id);
  vk_json_bool (b, "persistent", d->persistent);
  vk_json_bool (b, "managed_save", d->managed_save);
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (data, d->name);
  g_autoptr(GPtrArray) tags = dom ? vk_ops_domain_tags (dom) : NULL;
  vk_json_str_array (b, "tags", tags);
}

gboolean
vk_cmd_list (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("list", &argc, &argv, 0, 0, _("no arguments"), error))
    return FALSE;
  if (list_opt.idle && list_opt.all)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--idle lists running domains only; it cannot be combined with --all"));
  if (!list_opt.idle && (vk_idle_opt.cpu_below || vk_idle_opt.net_below ||
                         vk_idle_opt.disk_below || vk_idle_opt.sample))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--cpu-below, --net-below, --disk-below and --sample only apply with "
                      "--idle"));
  if (list_opt.idle)
    return vk_cli_list_idle (cli, error);
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  g_autoptr(GPtrArray) infos = vk_conn_list_domains (conn, list_opt.all, error);
  if (infos == NULL)
    return FALSE;

  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      vk_json_objects (b, NULL, infos, json_domain, conn);
      vk_json_print_builder (b);
      return TRUE;
    }
  g_autoptr(VkTable) t = vk_table_new (_("ID"), _("NAME"), _("STATE"), _("SAVED"), NULL);
  for (guint i = 0; i < infos->len; i++)
    {
      VkDomainInfo *d = infos->pdata[i];
      g_autofree char *id = d->id >= 0 ? g_strdup_printf ("%d", d->id) : NULL;
      vk_table_add (t, id, d->name, d->state, d->managed_save ? _("managed") : NULL);
    }
  vk_table_print (t, stdout);
  return TRUE;
}

/* What start, stop and undefine do to one domain of their list. */
typedef gboolean (*DomainStep) (VkCli *cli, const char *name, GError **error);

/* Runs `step` on each DOMAIN of argv[1..], going on past a failure; fails
 * with the worst one at the end (vk_batch_finish, `verb`). */
static gboolean
for_each_domain (VkCli *cli, int argc, char **argv, DomainStep step, const char *verb,
                 GError **error)
{
  VkBatch b = { 0 };

  if (vk_cli_ops (cli, error) == NULL)
    return FALSE;
  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) local = NULL;
      /* after a stop request no further domain is touched */
      if (!vk_ops_check_cancel (cli->ops, &local) || !step (cli, argv[i], &local))
        vk_batch_fail (&b, argv[i], local);
    }
  return vk_batch_finish (&b, verb, argc - 1, error);
}

static struct {
  gboolean paused;
} start_opt;

const GOptionEntry vk_start_options[] = {
  { "paused", 0, 0, G_OPTION_ARG_NONE, &start_opt.paused, N_("Leave the domain paused"), NULL },
  G_OPTION_ENTRY_NULL
};

static gboolean
start_one (VkCli *cli, const char *name, GError **error)
{
  gboolean already = FALSE;

  if (!vk_ops_start (cli->ops, name, start_opt.paused, &already, error))
    return FALSE;
  if (already)
    vk_cli_info (cli, _("Domain '%s' is already running"), name);
  else
    vk_cli_info (cli, _("Domain '%s' started"), name);
  return TRUE;
}

gboolean
vk_cmd_start (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("start", &argc, &argv, 1, -1, _("a DOMAIN"), error))
    return FALSE;
  return for_each_domain (cli, argc, argv, start_one, _("start"), error);
}

static struct {
  int timeout;
  gboolean force;
} stop_opt = { .timeout = 60 };

const GOptionEntry vk_stop_options[] = {
  { "timeout", 't', 0, G_OPTION_ARG_INT, &stop_opt.timeout,
    N_("Seconds to wait for a graceful shutdown (default 60; 0 = none)"), N_("S") },
  { "force", 'f', 0, G_OPTION_ARG_NONE, &stop_opt.force,
    N_("Force the domain off when the timeout passes"), NULL },
  G_OPTION_ENTRY_NULL
};

static gboolean
stop_one (VkCli *cli, const char *name, GError **error)
{
  if (!vk_ops_stop (cli->ops, name, stop_opt.timeout, stop_opt.force, error))
    return FALSE;
  vk_cli_info (cli, _("Domain '%s' stopped"), name);
  return TRUE;
}

gboolean
vk_cmd_stop (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("stop", &argc, &argv, 1, -1, _("a DOMAIN"), error))
    return FALSE;
  if (stop_opt.timeout < 0 || stop_opt.timeout > 86400)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--timeout %d is out of range (0 to 86400 seconds)"), stop_opt.timeout);
  return for_each_domain (cli, argc, argv, stop_one, _("stop"), error);
}

static struct {
  gboolean force;
  gboolean keep_nvram;
} undefine_opt;

const GOptionEntry vk_undefine_options[] = {
  { "force", 'f', 0, G_OPTION_ARG_NONE, &undefine_opt.force,
    N_("Force a running domain off first"), NULL },
  { "keep-nvram", 0, 0, G_OPTION_ARG_NONE, &undefine_opt.keep_nvram,
    N_("Keep the UEFI variable store file"), NULL },
  G_OPTION_ENTRY_NULL
};

static gboolean
undefine_one (VkCli *cli, const char *name, GError **error)
{
  if (!vk_ops_undefine (cli->ops, name, undefine_opt.force, undefine_opt.keep_nvram, error))
    return FALSE;
  vk_cli_info (cli, _("Domain '%s' undefined"), name);
  return TRUE;
}

gboolean
vk_cmd_undefine (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("undefine", &argc, &argv, 1, -1, _("a DOMAIN"), error))
    return FALSE;
  return for_each_domain (cli, argc, argv, undefine_one, _("undefine"), error);
}
