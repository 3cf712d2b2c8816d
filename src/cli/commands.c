#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>

#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "pin.h"
#include "spec.h"
#include "store.h"
#include "uri.h"
#include "vk-error.h"

/* What each command needs of this host (VkCliHost; vmkeep(1), REMOTE
 * CONNECTIONS, lists the same). Over a URI of libvirt on another host:
 *   work: pin (no libvirt), layout, devices, list, diff of two domains,
 *     tag list, create --print-xml (no libvirt): libvirt's API carries
 *     all they read;
 *   refused: every command that changes a domain under its lock (define,
 *     start, stop, undefine, nic, fs and device attach/detach, tag
 *     add/remove), since a lock taken in this host's store does not keep
 *     vmkeep on the other host away from that domain: a stop or nic add
 *     in the middle of its hibernate would slip past the checks the lock
 *     makes hold (nothing unsaveable attached, the identity the sidecar
 *     records); create, which checks this host's UEFI firmware
 *     descriptors and swtpm for a VM libvirt will run elsewhere; and
 *     everything that reads or writes the store or disk files: hibernate,
 *     wake, clone, fork, image (every action, push and pull too: its
 *     entry keeps the default, VK_CLI_LOCAL_FILES with the phrase of
 *     vk_cli_host_files), watch (this host's bridges too), list --idle
 *     (idle history), diff of an image, recover. */
/* TRANSLATORS: this and the other host_files phrases of the table end a
 * sentence that starts "vmkeep COMMAND ", e.g. "vmkeep start takes the
 * domain's lock in this host's store, but ..." */
#define LOCK_PHRASE N_("takes the domain's lock in this host's store")
#define CLONE_PHRASE N_("reads images in this host's store and creates disk files on this host")

/* Whether `option` is among the arguments before a "--". */
static gboolean
has_option (int argc, char **argv, const char *option)
{
  for (int i = 1; i < argc && !g_str_equal (argv[i], "--"); i++)
    if (g_str_equal (argv[i], option))
      return TRUE;
  return FALSE;
}

/* --print-xml opens no connection (nor the store). */
static gboolean
create_needs_host (int argc, char **argv)
{
  return !has_option (argc, argv, "--print-xml");
}

static gboolean
list_needs_host (int argc, char **argv)
{
  return has_option (argc, argv, "--idle");
}

static gboolean
diff_needs_host (int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix (argv[i], "image:"))
      return TRUE;
  return FALSE;
}

/* tag DOMAIN add|remove|list [TAG...]: the word after the domain (names
 * and tags never start with '-'). */
static gboolean
tag_needs_host (int argc, char **argv)
{
  int word = 0;
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-' && ++word == 2)
      return g_str_equal (argv[i], "add") || g_str_equal (argv[i], "remove");
  return FALSE;
}

const VkCommand vk_commands[] = {
  { "create", N_("NAME --memory SIZE --vcpus N [--disk D]... [--nic N]... [OPTION...]"),
    N_("Create a VM with every PCI device pinned (or print its XML)"), vk_cmd_create,
    vk_create_options, "NEW", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, N_("checks this host's UEFI firmware and TPM emulator before it defines the VM"),
    create_needs_host },
  { "pin", N_("FILE|-"), N_("Print a domain XML with every PCI device placed by policy"),
    vk_cmd_pin,
    vk_pin_options, "FILE", VK_CLI_RECOVER_NONE,
    VK_CLI_API_ONLY },   /* no libvirt at all */
  { "define", N_("FILE|-"), N_("Pin a domain XML, define it and verify the layout held"),
    vk_cmd_define,
    vk_pin_options, "FILE", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "layout", N_("DOMAIN...|--all [--check]"),
    N_("Show the PCI slot table of domains, or audit them against the policy"),
    vk_cmd_layout,
    vk_layout_options, "DOMAIN...", VK_CLI_RECOVER_WARN,
    VK_CLI_API_ONLY },
  { "list", N_("[--all]"), N_("List domains"), vk_cmd_list,
    vk_list_options, "", VK_CLI_RECOVER_WARN,
    VK_CLI_LOCAL_FILES, N_("--idle keeps each domain's idle history in this host's store"),
    list_needs_host },
  { "start", N_("DOMAIN..."), N_("Start domains"), vk_cmd_start,
    vk_start_options, "DOMAIN...", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "stop", N_("DOMAIN... [--timeout S] [--force]"),
    N_("Shut domains down gracefully, forcing them off after a timeout if asked"),
    vk_cmd_stop,
    vk_stop_options, "DOMAIN...", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "undefine", N_("DOMAIN"), N_("Remove a domain's definition"), vk_cmd_undefine,
    vk_undefine_options, "DOMAIN", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "nic add", N_("DOMAIN --bridge B|--network N|--tap T [--mac M] [--queues Q] [--live] [--config]"),
    N_("Add a NIC at the next slot of the NIC range"), vk_cmd_nic_add,
    vk_nic_add_options, "DOMAIN", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "nic remove", N_("DOMAIN MAC|ALIAS [--live] [--config]"),
    N_("Remove a NIC and free its slot"), vk_cmd_nic_remove,
    vk_detach_options, "DOMAIN MAC", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "fs attach", N_("DOMAIN --tag TAG (--socket PATH|--source DIR) [--queue-size N] [--live] [--config]"),
    N_("Attach a virtiofs filesystem at the next slot of the device range"), vk_cmd_fs_attach,
    vk_fs_attach_options, "DOMAIN", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "fs detach", N_("DOMAIN TAG [--timeout S] [--live] [--config]"),
    N_("Detach a virtiofs filesystem and free its slot"), vk_cmd_fs_detach,
    vk_detach_options, "DOMAIN FSTAG", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "device attach", N_("DOMAIN --pci BDF [--id ID] [--live] [--config]"),
    N_("Pass a host PCI device bound to vfio-pci through at the next slot of the device range"),
    vk_cmd_device_attach,
    vk_device_attach_options, "DOMAIN", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "device detach", N_("DOMAIN BDF|ID [--timeout S] [--live] [--config]"),
    N_("Detach a passed-through host PCI device and free its slot"), vk_cmd_device_detach,
    vk_detach_options, "DOMAIN HOSTDEV", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, LOCK_PHRASE },
  { "devices", N_("DOMAIN [--inactive]"),
    N_("List a domain's virtiofs filesystems and PCI host devices, live and persistent"),
    vk_cmd_devices,
    vk_devices_options, "DOMAIN", VK_CLI_RECOVER_WARN,
    VK_CLI_API_ONLY },
  { "hibernate", N_("DOMAIN...|--all|--match GLOB|--tag TAG [--image NAME] [--jobs N]"),
    N_("Save running VMs to free their memory (managed save or portable image)"),
    vk_cmd_hibernate,
    vk_hibernate_options, "DOMAIN...", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, N_("writes sidecars, images and idle history into this host's store") },
  { "wake", N_("DOMAIN...|--image NAME [--force]"),
    N_("Resume hibernated VMs after checking their device identity"), vk_cmd_wake,
    vk_wake_options, "DOMAIN...", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, N_("reads sidecars and images in this host's store") },
  { "clone", N_("IMAGE --name NEW [--tap T]... [--bridge B|--network N] [--disk-dir D] [--copy] [--paused|--no-start]"),
    N_("Resume a new VM from a hibernate image with identical devices"), vk_cmd_clone,
    vk_clone_options, "IMAGE", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, CLONE_PHRASE },
  { "fork", N_("SOURCE --name NEW [--tap T]... [--bridge B|--network N] [--disk-dir D] [--copy] [--paused]"),
    N_("Fork a running, shut-off or hibernated VM into a new one with identical devices"),
    vk_cmd_fork,
    vk_clone_options, "SOURCE", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, CLONE_PHRASE },
  { "image", N_("list|inspect NAME|verify NAME|rm NAME [--force]|export NAME -o FILE|-|export NAME --format oci -o DIR|import FILE|-|DIR [--name NEW]|push NAME REF|pull REF [--name NEW]"),
    N_("Manage hibernate images in the store"), vk_cmd_image,
    vk_image_options, "=list|inspect|verify|rm|export|import|push|pull @inspect=IMAGE@verify=IMAGE@rm=IMAGE@export=IMAGE@import=FILE@push=IMAGE", VK_CLI_RECOVER_APPLY },
  { "diff", N_("DOMAIN|image:NAME DOMAIN|image:NAME"),
    N_("Show how two domains or images differ: identity vs allowed host-side fields"),
    vk_cmd_diff,
    NULL, "DOMAIN|image:IMAGE DOMAIN|image:IMAGE", VK_CLI_RECOVER_WARN,
    VK_CLI_LOCAL_FILES, N_("reads images in this host's store when an argument is image:NAME"),
    diff_needs_host },
  { "tag", N_("DOMAIN add|remove|list [TAG...]"),
    N_("Tag domains for batch selection (hibernate --tag)"), vk_cmd_tag,
    NULL, "DOMAIN =add|remove|list TAG...", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, N_("add and remove take the domain's lock in this host's store"),
    tag_needs_host },
  { "watch", N_("[--min-interval SECONDS]"),
    N_("Wake hibernated VMs tagged wake-on-traffic when traffic for them arrives"),
    vk_cmd_watch, vk_watch_options, "", VK_CLI_RECOVER_APPLY,
    VK_CLI_LOCAL_FILES, N_("listens on this host's bridges and wakes VMs from this host's store") },
  { "recover", N_("[--apply]"),
    N_("List what interrupted vmkeep runs left, and finish it with --apply"), vk_cmd_recover,
    vk_recover_options, "", VK_CLI_RECOVER_NONE,
    VK_CLI_LOCAL_FILES, N_("finishes interrupted runs recorded in this host's store") },
  /* hidden; offers no image names or host devices for a URI of another
   * host (complete.c) */
  { "__complete", NULL, NULL, vk_cmd_complete, NULL, NULL, VK_CLI_RECOVER_NONE,
    VK_CLI_API_ONLY },
  { NULL, NULL, NULL, NULL, NULL, NULL, VK_CLI_RECOVER_NONE, VK_CLI_API_ONLY },
};

const VkCommand *
vk_command_find (int argc, char **argv, int *words)
{
  if (argc >= 2)
    {
      g_autofree char *two = g_strdup_printf ("%s %s", argv[0], argv[1]);
      for (const VkCommand *c = vk_commands; c->name; c++)
        if (g_str_equal (c->name, two))
          {
            *words = 2;
            return c;
          }
    }
  if (argc >= 1)
    for (const VkCommand *c = vk_commands; c->name; c++)
      if (g_str_equal (c->name, argv[0]))
        {
          *words = 1;
          return c;
        }
  return NULL;
}

const VkCommand *
vk_command_named (const char *name)
{
  for (const VkCommand *c = vk_commands; c->name; c++)
    if (g_str_equal (c->name, name))
      return c;
  g_error ("no command '%s' in the command table", name);
}

static void
print_notice (const char *message, gpointer data)
{
  g_printerr (_("vmkeep: warning: %s\n"), message);
}

gboolean
vk_cli_progress_wanted (VkCli *cli, gboolean forced)
{
  return !cli->quiet && !cli->json && (forced || isatty (STDERR_FILENO));
}

void
vk_cli_init_ops (VkCli *cli)
{
  cli->ops = vk_ops_new (NULL, cli->cfg);
  cli->ops->notice = print_notice;
}

VkOps *
vk_cli_ops (VkCli *cli, GError **error)
{
  return vk_cli_connect (cli, error) != NULL ? cli->ops : NULL;
}

const char *
vk_cli_host_files (const VkCommand *cmd, int argc, char **argv)
{
  if (cmd->host == VK_CLI_API_ONLY ||
      (cmd->host_files_needed != NULL && !cmd->host_files_needed (argc, argv)))
    return NULL;
  return cmd->host_files ? _(cmd->host_files)
                         : _("reads and writes this host's store and disk files");
}

void
vk_cli_set_host_refusal (GError **error, const char *command, const char *files,
                         const char *shown, const char *host)
{
  if (host != NULL)
    g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                 /* TRANSLATORS: the command ("image export"), what of this
                  * host it uses (a phrase of the command table), the URI as
                  * given ("-c qemu+ssh://node7/system"), then its host three
                  * times and the command again */
                 _("vmkeep %s %s, but %s is libvirt on %s; run vmkeep on %s (for example: "
                   "ssh %s vmkeep %s ...)"),
                 command, files, shown, host, host, host, command);
  else
    g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                 _("vmkeep %s %s, but %s may be libvirt on another host (its transport runs "
                   "a command of its own); run vmkeep on the host libvirt runs on"),
                 command, files, shown);
}

/* libvirt's default URI (uri_default in libvirt.conf) can name another
 * host that run.c could not see: what libvirt connected to decides, before
 * the connection is used. */
static gboolean
check_connected_host (VkCli *cli, GError **error)
{
  const char *uri = vk_conn_uri (cli->conn);
  VkUriPlace place = VK_URI_OTHER_HOST;
  g_autofree char *host = NULL;

  if (cli->host_files == NULL ||
      (vk_uri_place (uri, &place, &host, NULL) && place == VK_URI_THIS_HOST))
    return TRUE;
  g_autofree char *shown = g_strdup_printf (_("%s (the URI libvirt connected to)"), uri);
  vk_cli_set_host_refusal (error, cli->command, cli->host_files, shown, host);
  g_clear_pointer (&cli->conn, vk_conn_free);
  return FALSE;
}

VkConn *
vk_cli_connect (VkCli *cli, GError **error)
{
  if (cli->conn == NULL &&
      (!vk_conn_open (cli->uri, &cli->conn, error) || !check_connected_host (cli, error)))
    return NULL;
  /* Directories vmkeep.conf leaves unset are the connection's libvirt's */
  if (cli->cfg->disk_dir == NULL)
    cli->cfg->disk_dir = vk_conn_libvirt_dir (cli->conn, VK_LIBVIRT_DIR_IMAGES);
  if (cli->cfg->nvram_dir == NULL)
    cli->cfg->nvram_dir = vk_conn_libvirt_dir (cli->conn, VK_LIBVIRT_DIR_NVRAM);
  if (cli->cfg->log_dir == NULL)
    cli->cfg->log_dir = vk_conn_libvirt_dir (cli->conn, VK_LIBVIRT_DIR_LOG);
  cli->ops->conn = cli->conn;
  return cli->conn;
}

VkDomain *
vk_cli_lookup (VkCli *cli, const char *name, GError **error)
{
  g_autoptr(VkDomain) dom = NULL;
  if (vk_cli_connect (cli, error) == NULL || !vk_domain_lookup (cli->conn, name, &dom, error))
    return NULL;
  return g_steal_pointer (&dom);
}

gboolean
vk_cli_parse (const VkCommand *cmd, int *argc, char ***argv, GError **error)
{
  g_autofree char *param = g_strdup_printf ("%s", _(cmd->args));
  g_autoptr(GOptionContext) ctx = g_option_context_new (param);
  g_autofree char *prog = g_strdup_printf ("vmkeep %s", cmd->name);
  g_set_prgname (prog);
  g_option_context_set_summary (ctx, _(cmd->summary));
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  if (cmd->options)
    g_option_context_add_main_entries (ctx, cmd->options, GETTEXT_PACKAGE);
  g_autoptr(GError) local = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &local))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("%s: %s (see 'vmkeep help %s')"), prog, local->message, cmd->name);
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_cli_expect_args (const char *cmd, int argc, int min, int max, const char *what,
                    GError **error)
{
  int n = argc - 1;
  if (n < min || (max >= 0 && n > max))
    {
      if (n < min)
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("vmkeep %s: missing %s (see 'vmkeep help %s')"), cmd, what, cmd);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("vmkeep %s: too many arguments; expected %s (see 'vmkeep help %s')"),
                     cmd, what, cmd);
      return FALSE;
    }
  return TRUE;
}

void
vk_cli_info (VkCli *cli, const char *fmt, ...)
{
  if (cli->json || cli->quiet)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  printf ("%s\n", msg);
  fflush (stdout);
}

static void
print_violations (GPtrArray *v, const char *domain)
{
  for (guint i = 0; i < v->len; i++)
    {
      VkViolation *x = v->pdata[i];
      g_printerr (_("%s: %s%s%s %s\n"), domain, x->device, x->address ? " at " : "",
                  x->address ? x->address : "", x->message);
    }
}

/* After libvirt accepted a definition, read it back: libvirt may have added
 * devices of its own or moved ours. Any violation undoes the define. */
gboolean
vk_cli_define_verified (VkCli *cli, VkConn *conn, xmlDocPtr doc, VkDomain **out,
                        GError **error)
{
  VkOps *ops = vk_cli_ops (cli, error);
  g_autoptr(GPtrArray) v = NULL;
  if (ops == NULL)
    return FALSE;
  if (vk_ops_define_verified (ops, doc, out, &v, error))
    return TRUE;
  if (v != NULL)
    {
      g_autofree char *name = vk_domain_name (doc);
      print_violations (v, name);
    }
  return FALSE;
}

xmlDocPtr
vk_cli_domain_doc (VkDomain *dom, gboolean inactive, GError **error)
{
  return vk_ops_domain_doc (dom, inactive, error);
}

gboolean
vk_cli_open_for_change (VkCli *cli, const char *name, gboolean *live, gboolean *config,
                        VkDomain **out, GError **error)
{
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL)
    return FALSE;
  VkConn *conn = ops->conn;
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_domain_lookup (conn, name, &dom, error))
    return FALSE;
  gboolean running = vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF;
  gboolean persistent = vk_domain_is_persistent (dom);
  /* virsh's default: change what exists */
  if (!*live && !*config)
    {
      *live = running;
      *config = persistent;
    }
  if (!vk_cli_check_scope (dom, name, *live, *config, _("change its devices"), error))
    return FALSE;
  *out = g_steal_pointer (&dom);
  return TRUE;
}

gboolean
vk_cli_check_scope (VkDomain *dom, const char *name, gboolean live, gboolean config,
                    const char *live_verb, GError **error)
{
  return vk_ops_check_scope (dom, name, live, config, live_verb, error);
}

void
vk_cli_store_cleanup (VkCli *cli)
{
  g_autoptr(GPtrArray) removed = g_ptr_array_new_with_free_func (g_free);
  vk_store_cleanup (cli->cfg->store_dir, removed, NULL);
  for (guint i = 0; i < removed->len && !cli->quiet; i++)
    g_printerr (_("vmkeep: removed leftover %s of an interrupted run\n"),
                (const char *) removed->pdata[i]);
}

void
vk_batch_fail (VkBatch *b, const char *name, GError *e)
{
  g_printerr ("vmkeep: error: %s\n", e->message);
  int code = vk_error_exit_code (e);
  b->worst = MAX (b->worst, code);
  b->failed++;
  if (b->first == NULL)
    b->first = g_strdup (name);
}

gboolean
vk_batch_finish (VkBatch *b, const char *verb, guint total, GError **error)
{
  if (b->failed == 0)
    {
      g_free (b->first);
      return TRUE;
    }
  g_set_error (error, VK_ERROR, b->worst,
               _("%s failed for %u of %u domains (first: %s); see the messages above"),
               verb, b->failed, total, b->first);
  g_free (b->first);
  return FALSE;
}
