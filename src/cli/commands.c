#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vk-error.h"

const VkCommand vk_commands[] = {
  { "create", N_("NAME --memory SIZE --vcpus N [--disk D]... [--nic N]... [OPTION...]"),
    N_("Create a VM with every PCI device pinned (or print its XML)"), vk_cmd_create },
  { "pin", N_("FILE|-"), N_("Print a domain XML with every PCI device placed by policy"),
    vk_cmd_pin },
  { "define", N_("FILE|-"), N_("Pin a domain XML, define it and verify the layout held"),
    vk_cmd_define },
  { "layout", N_("DOMAIN...|--all [--check]"),
    N_("Show the PCI slot table of domains, or audit them against the policy"),
    vk_cmd_layout },
  { "list", N_("[--all]"), N_("List domains"), vk_cmd_list },
  { "start", N_("DOMAIN..."), N_("Start domains"), vk_cmd_start },
  { "stop", N_("DOMAIN... [--timeout S] [--force]"),
    N_("Shut domains down gracefully, forcing them off after a timeout if asked"),
    vk_cmd_stop },
  { "undefine", N_("DOMAIN"), N_("Remove a domain's definition"), vk_cmd_undefine },
  { NULL, NULL, NULL, NULL },
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

VkConn *
vk_cli_connect (VkCli *cli, GError **error)
{
  if (cli->conn == NULL && !vk_conn_open (cli->uri, &cli->conn, error))
    return NULL;
  return cli->conn;
}

gboolean
vk_cli_parse (const VkCommand *cmd, const GOptionEntry *entries, int *argc,
              char ***argv, GError **error)
{
  g_autofree char *param = g_strdup_printf ("%s", _(cmd->args));
  g_autoptr(GOptionContext) ctx = g_option_context_new (param);
  g_autofree char *prog = g_strdup_printf ("vmkeep %s", cmd->name);
  g_set_prgname (prog);
  g_option_context_set_summary (ctx, _(cmd->summary));
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  if (entries)
    g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
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
