/* vmkeep recover [--apply]: what interrupted workflows left, and finishing
 * it; and the same check every other command runs first
 * (vk_cli_recover_first). The decisions are src/ops/ops-recover.c's. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "commands.h"
#include "ops-recover.h"
#include "output.h"
#include "vk-error.h"

static struct {
  gboolean apply;
} recover_opt;

const GOptionEntry vk_recover_options[] = {
  { "apply", 0, 0, G_OPTION_ARG_NONE, &recover_opt.apply, N_("Do what is listed (without it: only list)"), NULL },
  G_OPTION_ENTRY_NULL
};

static const char *
action_word (VkRecoverAction a)
{
  switch (a)
    {
    case VK_RECOVER_UNDO:
      return "undo";
    case VK_RECOVER_DROP:
      return "drop";
    case VK_RECOVER_RESTORE:
      return "restore";
    default:
      g_assert_not_reached ();
    }
}

/* One line saying what happened to the item and what --apply does. */
static char *
item_title (const VkRecoverItem *it)
{
  switch (it->action)
    {
    case VK_RECOVER_UNDO:
      return g_strdup_printf (_("interrupted %s of '%s' (started %s): undo it"), it->op,
                              it->subject, it->started ? it->started : "?");
    case VK_RECOVER_DROP:
      return g_strdup_printf (_("completed %s of '%s' (started %s): drop its journal"), it->op,
                              it->subject, it->started ? it->started : "?");
    case VK_RECOVER_RESTORE:
      return g_strdup_printf (_("hibernate into image '%s' stopped while libvirt saved the VM: "
                                "bring the VM back from the saved state"), it->subject);
    default:
      g_assert_not_reached ();
    }
}

static void
item_json (JsonBuilder *b, const VkRecoverItem *it, const char *result, const GError *e)
{
  json_builder_begin_object (b);
  vk_json_str (b, "action", action_word (it->action));
  vk_json_str (b, "operation", it->op);
  vk_json_str (b, "subject", it->subject);
  vk_json_str (b, "started", it->started);
  vk_json_str (b, "path", it->path);
  vk_json_str (b, "uri", it->uri);
  json_builder_set_member_name (b, "steps");
  json_builder_begin_array (b);
  for (guint k = 0; it->steps && k < it->steps->len; k++)
    json_builder_add_string_value (b, it->steps->pdata[k]);
  json_builder_end_array (b);
  vk_json_str (b, "result", result);
  vk_json_str (b, "error", e ? e->message : NULL);
  json_builder_end_object (b);
}

gboolean
vk_cmd_recover (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("recover", &argc, &argv, 0, 0, _("no arguments"), error))
    return FALSE;
  g_autoptr(GPtrArray) items = vk_ops_recover_scan (cli->ops, error);
  if (items == NULL)
    return FALSE;
  VkOps *ops = NULL;
  if (recover_opt.apply && items->len > 0 && (ops = vk_cli_ops (cli, error)) == NULL)
    return FALSE;

  g_autoptr(JsonBuilder) b = vk_json_object_new ();
  vk_json_bool (b, "apply", recover_opt.apply);
  json_builder_set_member_name (b, "items");
  json_builder_begin_array (b);
  VkBatch batch = { 0 };
  for (guint i = 0; i < items->len; i++)
    {
      VkRecoverItem *it = items->pdata[i];
      g_autofree char *title = item_title (it);
      if (!cli->json)
        {
          printf ("%s\n", title);
          printf (_("  record: %s\n"), it->path);
          for (guint k = 0; it->steps && k < it->steps->len; k++)
            printf ("  %s: %s\n", action_word (it->action), (const char *) it->steps->pdata[k]);
        }
      const char *result = "pending";
      GError *e = NULL;
      if (recover_opt.apply)
        {
          result = vk_ops_recover_apply (ops, it, &e) ? "done" : "failed";
          if (!cli->json)
            printf ("  %s\n", e ? _("failed (see below)") : _("done"));
        }
      if (cli->json)
        item_json (b, it, result, e);
      if (e)
        vk_batch_fail (&batch, it->subject, e);
    }
  json_builder_end_array (b);
  /* then what needs no journal: temp files and directories no vmkeep
   * holds any more */
  if (recover_opt.apply)
    vk_cli_store_cleanup (cli);
  if (cli->json)
    vk_json_object_print (b);
  else if (items->len == 0)
    vk_cli_info (cli, _("Nothing to recover: no interrupted vmkeep run left anything."));
  else if (!recover_opt.apply)
    vk_cli_info (cli, _("Run 'vmkeep recover --apply' to do this."));
  return vk_batch_finish (&batch, _("recover"), items->len, error);
}

gboolean
vk_cli_recovered (VkCli *cli, const char *op, const char *subject)
{
  g_autofree char *key = g_strdup_printf ("%s %s", op, subject);
  return cli->recovered != NULL &&
         g_ptr_array_find_with_equal_func (cli->recovered, key, g_str_equal, NULL);
}

void
vk_cli_recover_first (VkCli *cli, gboolean apply)
{
  g_autoptr(GError) e = NULL;
  g_autoptr(GPtrArray) items = vk_ops_recover_scan (cli->ops, &e);
  VkOps *ops = apply && items && items->len > 0 ? vk_cli_ops (cli, &e) : NULL;
  for (guint i = 0; items && i < items->len; i++)
    {
      VkRecoverItem *it = items->pdata[i];
      g_autoptr(GError) fail = NULL;
      if (ops == NULL)
        g_printerr (_("vmkeep: warning: an interrupted %s of '%s' is not finished; "
                      "'vmkeep recover' shows it, 'vmkeep recover --apply' finishes it\n"),
                    it->op, it->subject);
      else if (vk_ops_recover_apply (ops, it, &fail))
        {
          if (it->action == VK_RECOVER_DROP)
            continue;
          if (cli->recovered == NULL)
            cli->recovered = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (cli->recovered, g_strdup_printf ("%s %s", it->op, it->subject));
          if (!cli->quiet)
            g_printerr (_("vmkeep: finished an interrupted %s of '%s' (%s)\n"), it->op,
                        it->subject, it->action == VK_RECOVER_UNDO ? _("undone")
                                                                   : _("its VM runs again"));
        }
      else if (!g_error_matches (fail, VK_ERROR, VK_ERROR_BUSY))
        g_printerr (_("vmkeep: warning: an interrupted %s of '%s' could not be finished: %s; "
                      "'vmkeep recover --apply' tries again\n"), it->op, it->subject,
                    fail->message);
    }
  /* then what needs no journal: temp files and directories no vmkeep
   * holds any more */
  if (apply)
    vk_cli_store_cleanup (cli);
}
