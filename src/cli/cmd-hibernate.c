/* vmkeep hibernate | wake
 *
 * Parses the options, runs the workflows of src/ops/ops-hibernate.h for
 * each domain (hibernate: several at once with --jobs N) and renders the
 * results: a table, or JSON, one syslog line per VM, and the worst exit
 * code. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "cli-idle.h"
#include "commands.h"
#include "ops-hibernate.h"
#include "ops-host.h"
#include "ops-watch.h"
#include "output.h"
#include "save-header.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

typedef struct {
  char *name;
  int code;
  char *message;
  const char *mode;
  guint64 state_bytes;
  double seconds;
} Result;

static void
result_clear (Result *r)
{
  g_free (r->name);
  g_free (r->message);
}

/* `n` empty results, freed with the array. */
static GArray *
results_new (guint n)
{
  GArray *results = g_array_new (FALSE, TRUE, sizeof (Result));
  g_array_set_clear_func (results, (GDestroyNotify) result_clear);
  g_array_set_size (results, n);
  return results;
}

/* One line per VM to syslog (journal), for cron runs. */
static void
log_result (const char *verb, const Result *r)
{
  openlog ("vmkeep", LOG_PID, LOG_USER);
  if (r->code == 0)
    syslog (LOG_INFO, "%s %s: ok (%s, %" G_GUINT64_FORMAT " MiB, %.1f s)", verb, r->name,
            r->mode ? r->mode : "-", r->state_bytes >> 20, r->seconds);
  else
    syslog (LOG_ERR, "%s %s: failed (exit %d): %s", verb, r->name, r->code,
            r->message ? r->message : "");
  closelog ();
}

/* The workflow's save progress, on stderr. */
static void
render_progress (const VkOpsProgress *p, gpointer data)
{
  VkProgress *pr = data;
  if (p->finished)
    vk_progress_end (pr, !p->failed);
  else if (pr->what == NULL)
    vk_progress_init (pr, TRUE, p->subject, 0);
  else
    vk_progress_update (pr, p->done, p->total);
}

/* Run one workflow for `r->name` and record how it went. */
typedef gboolean (*RunFunc) (VkOps *ops, const char *name, gconstpointer opts,
                             VkOpsSaveResult *res, GError **error);

static void
run_one (VkOps *ops, const char *verb, RunFunc func, gconstpointer opts, Result *r)
{
  g_autoptr(GError) e = NULL;
  VkOpsSaveResult res = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = func (ops, r->name, opts, &res, &e);
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (res.domain)
    {
      g_free (r->name);
      r->name = g_strdup (res.domain);
    }
  r->mode = res.mode;
  r->state_bytes = res.state_bytes;
  if (!ok)
    {
      r->mode = NULL;
      r->state_bytes = 0;
      r->code = vk_error_exit_code (e);
      r->message = g_strdup (e->message);
    }
  vk_ops_save_result_clear (&res);
  log_result (verb, r);
}

static gboolean
hibernate_func (VkOps *ops, const char *name, gconstpointer opts, VkOpsSaveResult *res,
                GError **error)
{
  return vk_ops_hibernate (ops, name, opts, res, error);
}

typedef struct {
  VkOps *ops;
  const VkHibernateOpts *opts;
  Result *result;
} HibTask;

static void
hibernate_task (gpointer data, gpointer user)
{
  HibTask *t = data;
  run_one (t->ops, "hibernate", hibernate_func, t->opts, t->result);
}

/* Names for --all / --match / --tag: running domains only. */
static GPtrArray *
select_domains (VkCli *cli, VkConn *conn, int argc, char **argv, gboolean all,
                const char *match, const char *tag, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  if (all || match || tag)
    {
      if (argc > 1)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                       _("give domain names or one of --all, --match, --tag, not both"));
          return NULL;
        }
      g_autoptr(GPtrArray) infos = vk_conn_list_domains (conn, FALSE, error);
      if (infos == NULL)
        return NULL;
      for (guint i = 0; i < infos->len; i++)
        {
          VkDomainInfo *d = infos->pdata[i];
          if (match && !g_pattern_match_simple (match, d->name))
            continue;
          if (tag)
            {
              g_autoptr(VkDomain) dom = vk_domain_try_lookup (conn, d->name);
              g_autoptr(GPtrArray) tags = dom ? vk_ops_domain_tags (dom) : NULL;
              if (!tags || !g_ptr_array_find_with_equal_func (tags, tag, g_str_equal, NULL))
                continue;
            }
          g_ptr_array_add (names, g_strdup (d->name));
        }
    }
  else
    for (int i = 1; i < argc; i++)
      g_ptr_array_add (names, g_strdup (argv[i]));
  return g_steal_pointer (&names);
}

static gboolean
report (VkCli *cli, const char *verb, GArray *results, GError **error)
{
  int worst = 0;
  guint failed = 0;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_array (b);
      for (guint i = 0; i < results->len; i++)
        {
          Result *r = &g_array_index (results, Result, i);
          json_builder_begin_object (b);
          vk_json_str (b, "domain", r->name);
          vk_json_bool (b, "ok", r->code == 0);
          vk_json_int (b, "exit_code", r->code);
          vk_json_str (b, "mode", r->mode);
          vk_json_int (b, "state_bytes", r->state_bytes);
          vk_json_double (b, "seconds", r->seconds);
          vk_json_str (b, "error", r->message);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      vk_json_print_builder (b);
    }
  for (guint i = 0; i < results->len; i++)
    {
      Result *r = &g_array_index (results, Result, i);
      if (r->code != 0)
        {
          failed++;
          worst = MAX (worst, r->code);
          if (results->len > 1 || cli->json)
            {
              /* a domain name from the command line can hold terminal
               * control bytes: shown, never obeyed (as main does) */
              g_autofree char *shown = vk_str_printable (r->message);
              g_printerr ("vmkeep: error: %s\n", shown);
            }
        }
    }
  if (!cli->json && !cli->quiet && results->len > 0)
    {
      if (results->len > 1 || failed == 0)
        {
          g_autoptr(VkTable) t = vk_table_new (_("DOMAIN"), _("RESULT"), _("MODE"),
                                               _("STATE MiB"), _("SECONDS"), NULL);
          for (guint i = 0; i < results->len; i++)
            {
              Result *r = &g_array_index (results, Result, i);
              g_autofree char *mib = r->state_bytes ? g_strdup_printf ("%" G_GUINT64_FORMAT,
                                                                       r->state_bytes >> 20)
                                                    : NULL;
              g_autofree char *secs = g_strdup_printf ("%.1f", r->seconds);
              g_autofree char *res = r->code == 0 ? g_strdup (_("ok"))
                                                  : g_strdup_printf (_("failed (exit %d)"), r->code);
              vk_table_add (t, r->name, res, r->mode, mib, secs);
            }
          vk_table_print (t, stdout);
        }
    }
  if (failed == 0)
    return TRUE;
  if (results->len == 1 && !cli->json)
    g_set_error (error, VK_ERROR, worst, "%s",
                 g_array_index (results, Result, 0).message);
  else
    g_set_error (error, VK_ERROR, worst, _("%s failed for %u of %u domains (listed above)"),
                 verb, failed, results->len);
  return FALSE;
}

/* The command line of hibernate. */
typedef struct {
  gboolean all, copy, bypass, progress, wake_on_traffic;
  char *match, *tag, *image, *format;
  int jobs, parallel;
} HibArgs;

/* What the options say on their own, before any connection. */
static gboolean
check_args (HibArgs *a, int argc, GError **error)
{
  if (argc < 2 && !a->all && !a->match && !a->tag)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep hibernate: name the domains, or use --all, --match GLOB or "
                      "--tag TAG (see 'vmkeep help hibernate')"));
  if (a->image && !vk_validate_name ("image name", a->image, error))
    return FALSE;
  /* a tag is a name like a domain name (vmkeep tag): one that could never
   * be set must not quietly select nothing */
  if (a->tag && !vk_validate_name ("tag", a->tag, error))
    return FALSE;
  if (a->copy && !a->image)
    return vk_fail (error, VK_ERROR_USAGE, _("--copy only applies with --image NAME"));
  if (a->jobs < 0 || a->jobs > 64)
    return vk_fail (error, VK_ERROR_USAGE, _("--jobs %d is out of range (1 to 64)"),
                    a->jobs);
  if ((a->format || a->parallel) && !a->image)
    {
      /* libvirt's managed save takes neither: qemu.conf's save_image_format
       * decides there */
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--format and --parallel apply to --image NAME only (a managed save uses "
                     "save_image_format from libvirt's qemu.conf)"));
      return FALSE;
    }
  if (a->format && vk_save_format_from_name (a->format) < 0)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--format '%s' is not a libvirt save image format (raw, gzip, bzip2, xz, "
                      "lzop, zstd, sparse)"), a->format);
  if (a->parallel < 0 || a->parallel > 64)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--parallel %d is out of range (1 to 64)"), a->parallel);
  if (a->parallel > 0 && a->format && !g_str_equal (a->format, "sparse"))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--parallel writes the sparse format; it cannot be combined with --format %s"),
                    a->format);
  if (a->parallel > 0 && a->format == NULL)
    a->format = g_strdup ("sparse");
  return TRUE;
}

/* The save format, as far as this libvirt lets vmkeep choose one. */
static gboolean
choose_format (HibArgs *a, VkConn *conn, GError **error)
{
  g_autofree char *why = NULL;
  gboolean choosable = vk_conn_has_save_params (conn, &why);
  if (a->format && !choosable)
    return vk_fail (error, VK_ERROR_REFUSED, "%s: %s; nothing was changed",
                    a->parallel ? "--parallel" : "--format", why);
  /* Where libvirt takes a format per call, vmkeep always names one, so a
   * host's save_image_format (which may be sparse) never surprises it.
   * raw is the default by measurement (README, bench/RESULTS-formats-11.3.md):
   * sparse saves faster on libvirt 11, but its state can only be hashed
   * once complete, which costs more than it saves. */
  if (a->image && a->format == NULL && choosable)
    a->format = g_strdup ("raw");
  return TRUE;
}

/* --wake-on-traffic: the opt-in of vmkeep watch, before anything is
 * saved (a domain that cannot be tagged is not hibernated either). */
static gboolean
tag_for_watch (VkCli *cli, GPtrArray *names, GError **error)
{
  const char *const tag[] = { VK_WATCH_TAG, NULL };
  for (guint i = 0; i < names->len; i++)
    {
      g_autoptr(VkDomain) dom = vk_cli_lookup (cli, names->pdata[i], error);
      if (dom == NULL || !vk_ops_domain_tags_change (cli->ops, dom, tag, NULL, NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* Hibernate `names`, `jobs` at a time; the results in their order. */
static GArray *
hibernate_all (VkCli *cli, GPtrArray *names, const VkHibernateOpts *o, int jobs,
               gboolean progress)
{
  VkProgress pr = { 0 };
  if (progress)
    {
      cli->ops->progress = render_progress;
      cli->ops->progress_data = &pr;
    }
  GArray *results = results_new (names->len);
  g_autofree HibTask *tasks = g_new0 (HibTask, names->len);
  GThreadPool *pool = g_thread_pool_new (hibernate_task, NULL, MAX (jobs, 1), TRUE, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      Result *r = &g_array_index (results, Result, i);
      r->name = g_strdup (names->pdata[i]);
      tasks[i] = (HibTask) { cli->ops, o, r };
      g_thread_pool_push (pool, &tasks[i], NULL);
    }
  g_thread_pool_free (pool, FALSE, TRUE);
  cli->ops->progress = NULL;
  cli->ops->progress_data = NULL;
  return results;
}

static HibArgs hib_opt;

const GOptionEntry vk_hibernate_options[] = {
  { "all", 0, 0, G_OPTION_ARG_NONE, &hib_opt.all, N_("Every running domain"), NULL },
  { "match", 0, 0, G_OPTION_ARG_STRING, &hib_opt.match, N_("Running domains whose name matches GLOB"), N_("GLOB") },
  { "tag", 0, 0, G_OPTION_ARG_STRING, &hib_opt.tag, N_("Running domains tagged TAG"), N_("TAG") },
  { "image", 0, 0, G_OPTION_ARG_STRING, &hib_opt.image, N_("Write a portable image NAME to the store instead of a managed save"), N_("NAME") },
  { "copy", 0, 0, G_OPTION_ARG_NONE, &hib_opt.copy, N_("Image mode: copy the disks instead of freezing them in place"), NULL },
  { "jobs", 'j', 0, G_OPTION_ARG_INT, &hib_opt.jobs, N_("Hibernate N domains at once (default: jobs= in vmkeep.conf)"), N_("N") },
  { "bypass-cache", 0, 0, G_OPTION_ARG_NONE, &hib_opt.bypass, N_("Write the state with O_DIRECT, bypassing the page cache"), NULL },
  { "progress", 0, 0, G_OPTION_ARG_NONE, &hib_opt.progress, N_("Show progress even when not on a terminal"), NULL },
  { "format", 0, 0, G_OPTION_ARG_STRING, &hib_opt.format, N_("Image mode: libvirt's save image format (raw, gzip, bzip2, xz, lzop, zstd, sparse; libvirt 11.2+)"), N_("FORMAT") },
  { "parallel", 0, 0, G_OPTION_ARG_INT, &hib_opt.parallel, N_("Image mode: write with N parallel channels in the sparse format (libvirt 11.2+)"), N_("N") },
  { "wake-on-traffic", 0, 0, G_OPTION_ARG_NONE, &hib_opt.wake_on_traffic, N_("Tag the domains wake-on-traffic first: vmkeep watch wakes them when traffic for them arrives"), NULL },
  { "idle-for", 0, 0, G_OPTION_ARG_STRING, &vk_idle_opt.idle_for, N_("Only the domains idle for at least DURATION (30m, 2h, 1d)"), N_("DURATION") },
  VK_CLI_IDLE_THRESHOLD_OPTIONS,
  G_OPTION_ENTRY_NULL
};

gboolean
vk_cmd_hibernate (VkCli *cli, int argc, char **argv, GError **error)
{
  const VkCommand *cmd = vk_command_named ("hibernate");
  if (!vk_cli_parse (cmd, &argc, &argv, error) || !check_args (&hib_opt, argc, error))
    return FALSE;
  int jobs = hib_opt.jobs == 0 ? (int) cli->cfg->jobs : hib_opt.jobs;
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL || !choose_format (&hib_opt, conn, error))
    return FALSE;
  /* Before anything changes, the store included (the VM's lock would
   * create it): QEMU must be able to reach the frozen disks there. */
  if (hib_opt.image)
    {
      g_autofree char *images = vk_store_images_dir (cli->cfg->store_dir);
      if (!vk_ops_check_qemu_reaches (cli->conn, images, error))
        return FALSE;
    }
  VkCliIdle idle;
  if (!vk_cli_idle_settle (cli, TRUE, &idle, error))
    return FALSE;
  g_autoptr(GPtrArray) names = select_domains (cli, conn, argc, argv, hib_opt.all, hib_opt.match, hib_opt.tag,
                                               error);
  if (names == NULL)
    return FALSE;
  gboolean selected = names->len > 0;
  if (vk_cli_idle_wanted ())
    {
      /* a stop request during --sample ends the run here, nothing saved */
      GPtrArray *idle_names = vk_cli_idle_filter (cli, names, &idle, error);
      if (idle_names == NULL)
        return FALSE;
      g_ptr_array_unref (names);
      names = idle_names;
    }
  if (hib_opt.image && names->len != 1)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--image NAME writes one image: hibernate exactly one domain with it"));
  if (hib_opt.wake_on_traffic && !tag_for_watch (cli, names, error))
    return FALSE;

  VkHibernateOpts o = { hib_opt.image, hib_opt.copy, hib_opt.bypass, hib_opt.format, hib_opt.parallel };
  gboolean progress = vk_cli_progress_wanted (cli, hib_opt.progress) && names->len == 1;
  /* A stop request (Ctrl-C, SIGTERM from systemd, a closed ssh; run.c
   * guards every command) aborts the saves under way (the VMs run on) and
   * starts no more; a save that completed is finished. */
  g_autoptr(GArray) results = hibernate_all (cli, names, &o, jobs, progress);
  if (names->len == 0)
    vk_cli_info (cli, selected ? _("No domain was idle long enough; nothing to hibernate")
                               : _("No domain matched; nothing to hibernate"));
  return report (cli, _("hibernate"), results, error);
}

/* ---- wake ------------------------------------------------------------------ */

static gboolean
wake_func (VkOps *ops, const char *name, gconstpointer force, VkOpsSaveResult *res,
           GError **error)
{
  return vk_ops_wake (ops, name, *(const gboolean *) force, res, error);
}

static gboolean
wake_image_func (VkOps *ops, const char *image, gconstpointer force, VkOpsSaveResult *res,
                 GError **error)
{
  return vk_ops_wake_image (ops, image, *(const gboolean *) force, res, error);
}

static struct {
  gboolean force;
  char *image;
} wake_opt;

const GOptionEntry vk_wake_options[] = {
  { "image", 0, 0, G_OPTION_ARG_STRING, &wake_opt.image, N_("Wake the VM saved in image NAME"), N_("NAME") },
  { "force", 'f', 0, G_OPTION_ARG_NONE, &wake_opt.force, N_("Wake even though the device identity changed"), NULL },
  G_OPTION_ENTRY_NULL
};

gboolean
vk_cmd_wake (VkCli *cli, int argc, char **argv, GError **error)
{
  const VkCommand *cmd = vk_command_named ("wake");
  if (!vk_cli_parse (cmd, &argc, &argv, error))
    return FALSE;
  if (wake_opt.image ? argc != 1 : argc < 2)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep wake: name the domains, or give --image NAME alone "
                      "(see 'vmkeep help wake')"));
  if (vk_cli_connect (cli, error) == NULL)
    return FALSE;
  guint n = wake_opt.image ? 1u : (guint) argc - 1;
  g_autoptr(GArray) results = results_new (n);
  /* A hibernate into this image that was interrupted: the recovery this
   * run began with (run.c) has finished it by bringing its VM back,
   * running, from the state libvirt saved where it saved one. That is
   * what waking asks for. */
  if (wake_opt.image && vk_cli_recovered (cli, "hibernate", wake_opt.image))
    {
      Result *r = &g_array_index (results, Result, 0);
      r->name = g_strdup (wake_opt.image);
      r->mode = "recovered";
      vk_cli_info (cli, _("The hibernate into image '%s' had been interrupted; finishing it "
                          "brought its VM back, running"), wake_opt.image);
      return report (cli, _("wake"), results, error);
    }
  for (guint i = 0; i < n; i++)
    {
      Result *r = &g_array_index (results, Result, i);
      r->name = g_strdup (wake_opt.image ? wake_opt.image : argv[i + 1]);
      run_one (cli->ops, "wake", wake_opt.image ? wake_image_func : wake_func, &wake_opt.force, r);
    }
  return report (cli, _("wake"), results, error);
}
