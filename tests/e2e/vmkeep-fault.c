/* vmkeep with the test suite's fault hook: VMKEEP_FAULT=POINT makes the
 * workflow step named POINT fail, VMKEEP_FAULT=POINT:sigterm (or
 * :sigkill) sends the process that signal there, as if systemd or the OOM
 * killer stopped it at that moment. Built for `make check` only, never
 * installed: the program itself (src/cli/main.c) has no fault hook and
 * reads no VMKEEP_FAULT. */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "commands.h"
#include "vk-error.h"

static gboolean
env_fault (const char *point, gpointer data, GError **error)
{
  const char *spec = data;
  const char *colon = strchr (spec, ':');
  gsize len = colon ? (gsize) (colon - spec) : strlen (spec);
  if (strlen (point) != len || strncmp (point, spec, len) != 0)
    return TRUE;
  if (colon && g_str_equal (colon + 1, "sigterm"))
    {
      /* as a signal from outside would, with time for the CLI's signal
       * thread to cancel the run before the workflow's next check */
      gboolean sent = raise (SIGTERM) == 0;
      g_usleep (200 * G_TIME_SPAN_MILLISECOND);
      return sent;
    }
  if (colon && g_str_equal (colon + 1, "sigkill"))
    return raise (SIGKILL) == 0;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED, "injected failure at %s (VMKEEP_FAULT)", point);
  return FALSE;
}

int
main (int argc, char **argv)
{
  const char *spec = g_getenv ("VMKEEP_FAULT");
  gboolean on = spec != NULL && *spec != '\0';
  return vk_cli_main (argc, argv, on ? env_fault : NULL, (gpointer) spec);
}
