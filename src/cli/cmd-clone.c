/* vmkeep clone | fork: the options, the workflows (src/ops/ops-clone.h)
 * and what they made, as text or JSON. */
#include "config.h"

#include <glib/gi18n.h>

#include "commands.h"
#include "ops-clone.h"
#include "output.h"
#include "validate.h"
#include "vk-error.h"

static void
print_result (VkCli *cli, const VkCloneResult *r, double seconds, const char *verb)
{
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "name", r->name);
      vk_json_str (b, "uuid", r->uuid);
      vk_json_bool (b, "running", r->running);
      vk_json_str (b, "image", r->image);
      vk_json_str_array (b, "disks", r->disks);
      vk_json_str_array (b, "taps", r->taps);
      vk_json_str (b, "state_path", r->state_path);
      vk_json_double (b, "seconds", seconds);
      vk_json_object_print (b);
      return;
    }
  if (r->image)
    vk_cli_info (cli, _("%s '%s' defined and kept as image '%s' (%.1f s); resume it with "
                        "'vmkeep wake --image %s'"), verb, r->name, r->image, seconds, r->image);
  else
    vk_cli_info (cli, _("%s '%s' %s (%.1f s)"), verb, r->name,
                 r->running ? _("resumed") : _("defined"), seconds);
}

static struct {
  char *name, *bridge, *network, *disk_dir;
  char **taps;
  gboolean copy, paused, no_start, allow_dup_mac;
} clone_opt;

/* clone and fork share their options */
const GOptionEntry vk_clone_options[] = {
  { "name", 'n', 0, G_OPTION_ARG_STRING, &clone_opt.name, N_("Name of the new VM (required)"), N_("NEW") },
  { "tap", 0, 0, G_OPTION_ARG_STRING_ARRAY, &clone_opt.taps, N_("TAP name for the next NIC (repeat per NIC; default generated)"), N_("TAP") },
  { "bridge", 0, 0, G_OPTION_ARG_STRING, &clone_opt.bridge, N_("Put every NIC on this bridge"), N_("BRIDGE") },
  { "network", 0, 0, G_OPTION_ARG_STRING, &clone_opt.network, N_("Put every NIC on this libvirt network"), N_("NETWORK") },
  { "disk-dir", 0, 0, G_OPTION_ARG_FILENAME, &clone_opt.disk_dir, N_("Directory for the clone's disks (default: beside the source's)"), N_("DIR") },
  { "copy", 0, 0, G_OPTION_ARG_NONE, &clone_opt.copy, N_("Full disk copies instead of qcow2 overlays"), NULL },
  { "paused", 0, 0, G_OPTION_ARG_NONE, &clone_opt.paused, N_("Leave the clone paused"), NULL },
  { "no-start", 0, 0, G_OPTION_ARG_NONE, &clone_opt.no_start, N_("Define the clone and keep its state as an image instead of resuming it"), NULL },
  { "allow-duplicate-mac", 0, 0, G_OPTION_ARG_NONE, &clone_opt.allow_dup_mac, N_("Start even when a running VM on the same segment has the same MAC"), NULL },
  G_OPTION_ENTRY_NULL
};

static gboolean
parse_clone_opts (const VkCommand *cmd, int *argc, char ***argv, VkCloneOpts *o,
                  GError **error)
{
  if (!vk_cli_parse (cmd, argc, argv, error))
    return FALSE;
  if (clone_opt.name == NULL)
    return vk_fail (error, VK_ERROR_USAGE, _("vmkeep %s: --name NEW is required"),
                    cmd->name);
  if (clone_opt.bridge && clone_opt.network)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep %s: give --bridge or --network, not both"), cmd->name);
  if (clone_opt.paused && clone_opt.no_start)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep %s: --paused and --no-start exclude each other"), cmd->name);
  if (clone_opt.disk_dir && !g_path_is_absolute (clone_opt.disk_dir))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--disk-dir '%s' must be an absolute path"), clone_opt.disk_dir);
  for (gsize i = 0; clone_opt.taps && clone_opt.taps[i]; i++)
    if (!vk_validate_ifname ("--tap", clone_opt.taps[i], error))
      return FALSE;
  if (clone_opt.bridge && !vk_validate_ifname ("--bridge", clone_opt.bridge, error))
    return FALSE;
  /* as for nic add: a libvirt network is named like a domain */
  if (clone_opt.network && !vk_validate_name ("--network", clone_opt.network, error))
    return FALSE;
  o->copy = clone_opt.copy;
  o->paused = clone_opt.paused;
  o->no_start = clone_opt.no_start;
  o->allow_dup_mac = clone_opt.allow_dup_mac;
  o->name = clone_opt.name;
  o->taps = (const char *const *) clone_opt.taps;
  o->bridge = clone_opt.bridge;
  o->network = clone_opt.network;
  o->disk_dir = clone_opt.disk_dir;
  return TRUE;
}

typedef gboolean (*CloneFunc) (VkOps *ops, const char *source, const VkCloneOpts *o,
                               VkCloneResult *res, GError **error);

/* A fork undone because of a signal says which (the workflow only knows
 * that it was cancelled). */
static void
say_interrupted (GError **error)
{
  if (vk_cli_interrupted == 0 || error == NULL || *error == NULL)
    return;
  g_clear_error (error);
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
               _("interrupted by signal %d; the fork is undone"), (int) vk_cli_interrupted);
}

/* clone and fork share options and reporting; only the work differs. */
static gboolean
run_clone_command (VkCli *cli, int argc, char **argv, const char *verb, const char *what,
                   CloneFunc func, GError **error)
{
  VkCloneOpts o = { 0 };
  const VkCommand *cmd = vk_command_named (verb);
  if (!parse_clone_opts (cmd, &argc, &argv, &o, error) ||
      !vk_cli_expect_args (verb, argc, 1, 1, what, error))
    return FALSE;
  gboolean fork = func == vk_ops_fork;
  if (o.no_start && fork)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep fork: --no-start applies to clone only"));
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL)
    return FALSE;
  VkCloneResult res;
  vk_clone_result_init (&res);
  /* A signal (Ctrl-C, systemd stop; run.c guards every command) cancels
   * the workflow, which undoes what it did: never a source left paused on
   * a half-made fork. */
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = func (ops, argv[1], &o, &res, error);
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (!ok && fork)
    say_interrupted (error);
  else if (ok && !fork)
    print_result (cli, &res, seconds, _("Clone"));
  else if (ok)
    {
      if (res.image && !cli->json)
        vk_cli_info (cli, _("'%s' and its fork share the disks frozen in image '%s'"),
                     argv[1], res.image);
      g_clear_pointer (&res.image, g_free);
      print_result (cli, &res, seconds, _("Fork"));
    }
  vk_clone_result_clear (&res);
  return ok;
}

gboolean
vk_cmd_clone (VkCli *cli, int argc, char **argv, GError **error)
{
  return run_clone_command (cli, argc, argv, "clone", _("the IMAGE to clone"),
                            vk_ops_clone_image, error);
}

gboolean
vk_cmd_fork (VkCli *cli, int argc, char **argv, GError **error)
{
  return run_clone_command (cli, argc, argv, "fork", _("the SOURCE domain or image"),
                            vk_ops_fork, error);
}
