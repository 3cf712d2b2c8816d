/* vmkeep — the CLI's one progress display (src/cli/output.c): what an
 * admin's terminal or a cron log gets while a save, export or import runs. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output.h"

/* GLib's sizes keep number and unit together */
#define NBSP "\302\240"

/* Run `fn` with stderr going to a file (not a terminal); its output. */
static char *
capture_stderr (void (*fn) (void))
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  int fd = g_file_open_tmp ("vk-output-XXXXXX", &path, &error);
  g_assert_no_error (error);
  fflush (stderr);
  int saved = dup (STDERR_FILENO);
  g_assert_cmpint (dup2 (fd, STDERR_FILENO), >=, 0);
  fn ();
  fflush (stderr);
  dup2 (saved, STDERR_FILENO);
  close (saved);
  close (fd);
  char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_unlink (path);
  return text;
}

/* Off a terminal: a line per five seconds, never more often. */
static void
run_lines (void)
{
  VkProgress p;
  vk_progress_init (&p, TRUE, "vm1", 0);
  g_assert_false (p.tty);
  vk_progress_update (&p, 10 << 20, 100 << 20);   /* too soon: nothing */
  p.t0 -= 10 * G_USEC_PER_SEC;
  p.last -= 6 * G_USEC_PER_SEC;
  vk_progress_update (&p, 50 << 20, 100 << 20);
  vk_progress_update (&p, 60 << 20, 0);          /* too soon again */
  vk_progress_end (&p, TRUE);
}

static void
test_lines (void)
{
  g_autofree char *out = capture_stderr (run_lines);
  g_assert_cmpstr (out, ==, "vm1: 50.0" NBSP "MiB of 100.0" NBSP "MiB (50%), 5.0" NBSP "MiB/s\nvm1: done\n");
}

/* No total known (an import from a pipe), then a failure. */
static void
run_unknown_total (void)
{
  VkProgress p;
  vk_progress_init (&p, TRUE, "Importing 'img'", 0);
  p.t0 -= 2 * G_USEC_PER_SEC;
  p.last -= 6 * G_USEC_PER_SEC;
  vk_progress_update (&p, 4 << 20, 0);
  vk_progress_end (&p, FALSE);
}

static void
test_unknown_total (void)
{
  g_autofree char *out = capture_stderr (run_unknown_total);
  g_assert_cmpstr (out, ==, "Importing 'img': 4.0" NBSP "MiB, 2.0" NBSP "MiB/s\nImporting 'img': failed\n");
}

/* Off (-q, --json, several VMs), or done before the first line: silent. */
static void
run_silent (void)
{
  VkProgress off, quick;
  vk_progress_init (&off, FALSE, "vm1", 100);
  off.last -= 6 * G_USEC_PER_SEC;
  vk_progress_update (&off, 50, 0);
  vk_progress_end (&off, TRUE);
  vk_progress_init (&quick, TRUE, "vm2", 100);
  vk_progress_update (&quick, 50, 0);
  vk_progress_end (&quick, FALSE);
}

static void
test_silent (void)
{
  g_autofree char *out = capture_stderr (run_silent);
  g_assert_cmpstr (out, ==, "");
}

int
main (int argc, char **argv)
{
  g_setenv ("LC_ALL", "C", TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/output/progress/lines", test_lines);
  g_test_add_func ("/output/progress/unknown-total", test_unknown_total);
  g_test_add_func ("/output/progress/silent", test_silent);
  return g_test_run ();
}
