/* Unit tests for src/core/vk-config.c: the shipped example loads, and bad
 * values are errors that name the key, never a silent default; the
 * messages quote the file's bytes as UTF-8. Found by
 * fuzz/fuzz-config; the inputs are in fuzz/regressions/config/. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vk-config.h"
#include "vk-error.h"

/* Loads `text` from a temporary file; NULL error on success. */
static gboolean
load_text (VkConfig *cfg, const char *text, gssize len, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("vk-config-XXXXXX.conf", &path, &local);
  gboolean ok;

  g_assert_no_error (local);
  close (fd);
  g_assert_true (g_file_set_contents (path, text, len, NULL));
  ok = vk_config_load (cfg, path, TRUE, error);
  g_unlink (path);
  return ok;
}

/* GError messages are UTF-8 (--json prints them); control characters are
 * escaped where main prints them. */
static void
assert_utf8 (const char *message)
{
  g_assert_true (g_utf8_validate (message, -1, NULL));
}

static void
test_example (void)
{
  const char *path = g_test_get_filename (G_TEST_DIST, "data", "vmkeep.conf", NULL);
  g_autoptr(VkConfig) cfg = vk_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (vk_config_load (cfg, path, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (cfg->source, ==, path);
  g_assert_null (cfg->uri);
}

static void
test_values (void)
{
  g_autoptr(VkConfig) cfg = vk_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (load_text (cfg, "[vmkeep]\nuri = qemu+ssh://hv2/system\nmachine=pc\n"
                            "nic-slots=3-5\ndevice-slots=0x08-0x0c\njobs=0x10\n", -1, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (cfg->uri, ==, "qemu+ssh://hv2/system");
  g_assert_cmpint (cfg->machine, ==, VK_MACHINE_PC);
  g_assert_cmpuint (cfg->policy.nic.first, ==, 3);
  g_assert_cmpuint (cfg->policy.dev.last, ==, 0x0c);
  g_assert_cmpuint (cfg->jobs, ==, 16);
}

/* The idle thresholds: the defaults, values with units, "off", and a bad
 * value named with the file and key, changing nothing before it. */
static void
test_idle (void)
{
  g_autoptr(VkConfig) cfg = vk_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_cmpfloat (cfg->idle.cpu_percent, ==, 5);
  g_assert_cmpfloat (cfg->idle.net_rate, ==, 8192);
  g_assert_cmpfloat (cfg->idle.block_rate, ==, 32768);
  g_assert_true (load_text (cfg, "[vmkeep]\nidle-cpu-below=2.5%\nidle-net-below=1M/s\n"
                            "idle-disk-below=off\n", -1, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (cfg->idle.cpu_percent, ==, 2.5);
  g_assert_cmpfloat (cfg->idle.net_rate, ==, 1024 * 1024);
  g_assert_cmpfloat (cfg->idle.block_rate, <, 0);
  g_assert_false (load_text (cfg, "[vmkeep]\nidle-cpu-below=150\n", -1, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "idle-cpu-below"));
  g_assert_nonnull (strstr (error->message, "out of range"));
  g_clear_error (&error);
  g_assert_false (load_text (cfg, "[vmkeep]\nidle-net-below=fast\n", -1, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "idle-net-below"));
  g_assert_cmpfloat (cfg->idle.cpu_percent, ==, 2.5);
}

/* A URI that is not UTF-8 used to become "no URI" (libvirt's default, the
 * local daemon) without a word. */
static void
test_value_not_utf8 (void)
{
  g_autoptr(VkConfig) cfg = vk_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (load_text (cfg, "[vmkeep]\nuri=qemu+ssh://hv2/system\xff\n", -1, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "key 'uri'"));
  assert_utf8 (error->message);
  g_assert_null (cfg->uri);
}

/* GKeyFile returns the value and an error for a bad escape: the error
 * wins (it used to be dropped, and the raw value kept). */
static void
test_value_bad_escape (void)
{
  g_autoptr(VkConfig) cfg = vk_config_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (load_text (cfg, "[vmkeep]\nnic-slots=\\q0x03-0x0f\\q\n", -1, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "key 'nic-slots'"));
  g_clear_error (&error);
  g_assert_false (load_text (cfg, "[vmkeep]\nuri=qemu:///sys\\qtem\n", -1, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_null (cfg->uri);
}

/* A bad escape and a lone backslash at the end made GLib 2.74 set its
 * GError twice, a warning on stderr (fatal here, as in fuzz/fuzz-config). */
static void
test_value_lone_backslash (void)
{
  static const char *const inputs[] = {
    "[vmkeep]\nuri=\\uri=\\\n",
    "[vmkeep]\nstore=/var/lib/vmkeep\\\n",
    "[vmkeep]\nstore=/var/lib/vmkeep\\\\\\\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(VkConfig) cfg = vk_config_new ();
      g_autoptr(GError) error = NULL;

      g_assert_false (load_text (cfg, inputs[i], -1, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_nonnull (strstr (error->message, "lone backslash"));
    }
  {
    g_autoptr(VkConfig) cfg = vk_config_new ();
    g_autoptr(GError) error = NULL;

    /* an escaped backslash at the end is fine */
    g_assert_true (load_text (cfg, "[vmkeep]\nuri=test:///default\\\\\n", -1, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (cfg->uri, ==, "test:///default\\");
  }
}

/* GKeyFile's messages and vmkeep's own quote the file's bytes. */
static void
test_messages_utf8 (void)
{
  static const char *const inputs[] = {
    "[vmkeep]\njobs\xff\xfe=1\n",
    "[vmkeep]\nst\x1b[2Jore=/x\n",
    "[vmkeep]\nsto\xffre=/x\n",
    "[vm\xffkeep]\nstore=/x\n",
    "[vmkeep]\nmachine=q\x1b" "35\n",
    "[vmkeep]\nvirt-type=k\\tvm\n",
    "[vmkeep]\nstore=x\\t\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(VkConfig) cfg = vk_config_new ();
      g_autoptr(GError) error = NULL;

      g_assert_false (load_text (cfg, inputs[i], -1, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_test_message ("%s", error->message);
      assert_utf8 (error->message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/example", test_example);
  g_test_add_func ("/config/values", test_values);
  g_test_add_func ("/config/idle", test_idle);
  g_test_add_func ("/config/value-not-utf8", test_value_not_utf8);
  g_test_add_func ("/config/value-bad-escape", test_value_bad_escape);
  g_test_add_func ("/config/value-lone-backslash", test_value_lone_backslash);
  g_test_add_func ("/config/messages-utf8", test_messages_utf8);
  return g_test_run ();
}
