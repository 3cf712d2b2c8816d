/* vmkeep — one run: global options, configuration, dispatch. Errors
 * travel up as GError and are printed here, once. See commands.h. */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "uri.h"
#include "validate.h"
#include "vk-error.h"

static void
print_usage (FILE *out)
{
  fprintf (out, _("Usage: vmkeep [-c URI] [--json] [-q] COMMAND [ARGS...]\n"
                  "       vmkeep help [COMMAND]\n"
                  "       vmkeep --version\n\n"
                  "Lay out QEMU/KVM VMs with every PCI device pinned, and keep each\n"
                  "device's identity across hibernate, wake, clone and fork.\n\n"
                  "Global options:\n"
                  "  -c, --connect URI   libvirt URI (default: uri= in vmkeep.conf)\n"
                  "      --json          print one JSON document on stdout\n"
                  "  -q, --quiet         no informational messages\n"
                  "  -h, --help          show this help\n"
                  "      --version       show the version\n\n"
                  "Commands:\n"));
  for (const VkCommand *c = vk_commands; c->name; c++)
    if (c->summary)   /* NULL: hidden */
      fprintf (out, "  %-14s  %s\n", c->name, _(c->summary));
  fprintf (out, _("\nExit status: 0 ok, 1 failed, 2 usage error, 3 busy, 4 not found,\n"
                  "5 refused by a safety check. See vmkeep(1).\n"));
}

static int
fail (GError *error)
{
  int code = vk_error_exit_code (error);
  g_autofree char *msg = vk_str_printable (error->message);
  g_printerr ("vmkeep: error: %s\n", msg);
  g_error_free (error);
  return code;
}

static void
setup_locale (void)
{
  setlocale (LC_ALL, "");
  /* VMKEEP_LOCALEDIR lets the tests use the catalogs of an uninstalled build. */
  const char *localedir = g_getenv ("VMKEEP_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, localedir && *localedir ? localedir : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

/* vmkeep.conf ($VMKEEP_CONFIG, or the default path; /dev/null: none). */
static VkConfig *
load_config (GError **error)
{
  g_autoptr(VkConfig) cfg = vk_config_new ();
  const char *cfg_path = vk_config_default_path ();
  gboolean explicit_cfg = g_getenv (VK_CONFIG_ENV) != NULL &&
                          *g_getenv (VK_CONFIG_ENV) != '\0' &&
                          !g_str_equal (cfg_path, "/dev/null");
  if (!g_str_equal (cfg_path, "/dev/null") &&
      !vk_config_load (cfg, cfg_path, explicit_cfg, error))
    return NULL;
  return g_steal_pointer (&cfg);
}

/* The global options before the command word: -c URI, --json, -q;
 * --version and --help answer at once. Returns the index of the command
 * word (argc when there is none), or -1 with *code the exit status. */
static int
parse_globals (int argc, char **argv, VkCli *cli, char **uri, int *code)
{
  GError *error = NULL;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (g_str_equal (a, "-c") || g_str_equal (a, "--connect"))
        {
          if (i + 1 >= argc || argv[i + 1][0] == '\0')
            {
              g_set_error (&error, VK_ERROR, VK_ERROR_USAGE,
                           _("%s needs a libvirt URI, e.g. -c qemu:///system"), a);
              *code = fail (error);
              return -1;
            }
          g_free (*uri);
          *uri = g_strdup (argv[++i]);
        }
      else if (g_str_has_prefix (a, "--connect="))
        {
          /* an empty URI would be libvirt's default, not what was meant */
          if (a[strlen ("--connect=")] == '\0')
            {
              g_set_error (&error, VK_ERROR, VK_ERROR_USAGE,
                           _("%s needs a libvirt URI, e.g. -c qemu:///system"), "--connect");
              *code = fail (error);
              return -1;
            }
          g_free (*uri);
          *uri = g_strdup (a + strlen ("--connect="));
        }
      else if (g_str_equal (a, "--json"))
        cli->json = TRUE;
      else if (g_str_equal (a, "-q") || g_str_equal (a, "--quiet"))
        cli->quiet = TRUE;
      else if (g_str_equal (a, "--version") || g_str_equal (a, "-V"))
        {
          printf ("vmkeep %s\n", PACKAGE_VERSION);
          *code = 0;
          return -1;
        }
      else if (g_str_equal (a, "-h") || g_str_equal (a, "--help"))
        {
          print_usage (stdout);
          *code = 0;
          return -1;
        }
      else if (a[0] == '-')
        {
          g_set_error (&error, VK_ERROR, VK_ERROR_USAGE,
                       _("unknown global option '%s' (see 'vmkeep --help')"), a);
          *code = fail (error);
          return -1;
        }
      else
        return i;
    }
  return argc;
}

/* The URI this run gives libvirt: -c, else uri= of vmkeep.conf, else
 * LIBVIRT_DEFAULT_URI (libvirt reads it itself); `*shown` says so for
 * messages. NULL: libvirt's default, a local driver unless uri_default of
 * libvirt.conf names another (vk_cli_connect checks what it connected to). */
static const char *
effective_uri (VkCli *cli, gboolean from_option, char **shown)
{
  if (cli->uri != NULL)
    {
      *shown = from_option ? g_strdup_printf ("-c %s", cli->uri)
                           : g_strdup_printf (_("uri=%s in %s"), cli->uri,
                                              vk_config_default_path ());
      return cli->uri;
    }
  const char *env = g_getenv ("LIBVIRT_DEFAULT_URI");
  if (env == NULL || env[0] == '\0')
    return NULL;
  *shown = g_strdup_printf ("LIBVIRT_DEFAULT_URI=%s", env);
  return env;
}

/* The command as messages name it: with its action word when its first
 * argument is one (an entry whose completion starts with "=a|b|c"). */
static char *
shown_command (const VkCommand *cmd, int argc, char **argv)
{
  if (cmd->complete != NULL && cmd->complete[0] == '=' && argc > 1)
    {
      g_autofree char *words = g_strndup (cmd->complete + 1, strcspn (cmd->complete + 1, " "));
      g_auto(GStrv) actions = g_strsplit (words, "|", -1);
      if (g_strv_contains ((const char *const *) actions, argv[1]))
        return g_strdup_printf ("%s %s", cmd->name, argv[1]);
    }
  return g_strdup (cmd->name);
}

/* Before the store is touched or a connection opened: a command that
 * needs this host's files (VkCommand.host) refuses a URI of libvirt on
 * another host, or one that does not say where libvirt runs; for the
 * others, cli->here says whether this host's recovery is theirs. */
static gboolean
check_host (VkCli *cli, const VkCommand *cmd, int argc, char **argv, gboolean from_option,
            GError **error)
{
  const char *files = vk_cli_host_files (cmd, argc, argv);
  g_autofree char *shown = NULL;
  const char *uri = effective_uri (cli, from_option, &shown);
  VkUriPlace place = VK_URI_THIS_HOST;
  g_autofree char *host = NULL;
  g_autoptr(GError) unknown = NULL;

  cli->command = shown_command (cmd, argc, argv);
  if (uri != NULL && !vk_uri_place (uri, &place, &host, &unknown))
    place = VK_URI_OTHER_HOST;
  cli->here = place == VK_URI_THIS_HOST;
  if (files == NULL)
    return TRUE;
  if (unknown != NULL)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep %s %s, so it needs libvirt on this host, but %s; give the "
                      "URI itself (for example -c qemu:///system)"),
                    cli->command, files, unknown->message);
  if (place == VK_URI_OTHER_HOST)
    {
      vk_cli_set_host_refusal (error, cli->command, files, shown, host);
      return FALSE;
    }
  cli->host_files = files;
  return TRUE;
}

/* The command, once the configuration is read: the check of where its
 * libvirt runs, the recovery before it, the command under the guard. */
static gboolean
run_command (VkCli *cli, const VkCommand *cmd, int argc, char **argv, gboolean help,
             gboolean from_option, GError **error)
{
  help = help || g_strv_contains ((const char *const *) argv, "--help") ||
         g_strv_contains ((const char *const *) argv, "-h");
  if (!help && !check_host (cli, cmd, argc, argv, from_option, error))
    return FALSE;
  /* The store's interrupted runs are about this host's libvirt's
   * domains: never finished (or warned about) through another host's. */
  if (cmd->recover != VK_CLI_RECOVER_NONE && !help && cli->here)
    vk_cli_recover_first (cli, cmd->recover == VK_CLI_RECOVER_APPLY);
  /* Every command that changes state handles SIGINT, SIGTERM and SIGHUP
   * the same way: the signal cancels the run's context; a workflow then
   * undoes what it did, or finishes the step that cannot be undone (a
   * libvirt call under way) and says so; no more domains of a list are
   * started on. */
  VkSigGuard guard;
  gboolean guarded = cmd->recover == VK_CLI_RECOVER_APPLY;
  if (guarded)
    vk_cli_sig_guard_begin (cli, &guard);
  gboolean ok = cmd->func (cli, argc, argv, error);
  if (guarded)
    vk_cli_sig_guard_end (&guard);
  return ok;
}

int
vk_cli_main (int argc, char **argv, VkOpsFaultFunc fault, gpointer fault_data)
{
  /* A clone feeds libvirt through a FIFO; if libvirt stops reading, the
   * write must fail with EPIPE, not kill vmkeep. */
  signal (SIGPIPE, SIG_IGN);
  /* stdout carries tables and --json documents; diagnostics never. */
  g_log_writer_default_set_use_stderr (TRUE);
  setup_locale ();

  VkCli cli = { 0 };
  g_autofree char *uri = NULL;
  GError *error = NULL;
  int code = 0;
  int i = parse_globals (argc, argv, &cli, &uri, &code);
  if (i < 0)
    return code;

  if (i >= argc)
    {
      print_usage (stderr);
      return VK_ERROR_USAGE;
    }

  int rest_argc = argc - i;
  char **rest = argv + i;
  gboolean help = FALSE;
  if (g_str_equal (rest[0], "help"))
    {
      if (rest_argc == 1)
        {
          print_usage (stdout);
          return 0;
        }
      help = TRUE;
      rest++;
      rest_argc--;
    }

  int words = 0;
  const VkCommand *cmd = vk_command_find (rest_argc, rest, &words);
  if (cmd == NULL)
    {
      g_set_error (&error, VK_ERROR, VK_ERROR_USAGE,
                   _("unknown command '%s' (see 'vmkeep --help' for the list)"),
                   rest[0]);
      return fail (error);
    }

  /* The command sees argv[0] = its name, then its own arguments. */
  g_autoptr(GPtrArray) cargv = g_ptr_array_new ();
  g_ptr_array_add (cargv, (char *) cmd->name);
  if (help)
    g_ptr_array_add (cargv, "--help");
  for (int j = words; j < rest_argc; j++)
    g_ptr_array_add (cargv, rest[j]);
  g_ptr_array_add (cargv, NULL);

  g_autoptr(VkConfig) cfg = load_config (&error);
  if (cfg == NULL)
    return fail (error);

  cli.cfg = cfg;
  cli.uri = g_strdup (uri ? uri : cfg->uri);
  vk_cli_init_ops (&cli);
  cli.ops->fault = fault;
  cli.ops->fault_data = fault_data;

  if (!run_command (&cli, cmd, (int) cargv->len - 1, (char **) cargv->pdata, help, uri != NULL,
                    &error))
    code = fail (error);
  vk_ops_free (cli.ops);
  vk_conn_free (cli.conn);
  g_free (cli.uri);
  g_free (cli.command);
  g_clear_pointer (&cli.recovered, g_ptr_array_unref);
  return code;
}
