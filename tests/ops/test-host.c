/* What vmkeep reads of the host besides libvirt (src/ops/ops-host.c): QEMU's
 * firmware descriptors are JSON, read as JSON: a descriptor counts only
 * for what its members say, not for words that occur anywhere in it. */
#include "config.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "ops-host.h"

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("vmkeep-host-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
put (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, n, NULL);
      g_unlink (p);
    }
  g_rmdir (dir);
}

static void
scan (const char *dir, gboolean want_uefi, gboolean want_secure)
{
  gboolean uefi = !want_uefi, secure = !want_secure;
  vk_ops_firmware_scan (dir, &uefi, &secure);
  g_assert_cmpint (uefi, ==, want_uefi);
  g_assert_cmpint (secure, ==, want_secure);
}

static void
test_firmware (void)
{
  g_autofree char *dir = make_dir ();
  scan (dir, FALSE, FALSE);   /* empty */
  scan ("/nonexistent/vmkeep", FALSE, FALSE);
  /* words in the wrong members do not count */
  put (dir, "10-words.json",
       "{ \"description\": \"not \\\"uefi\\\" for x86_64, no \\\"secure-boot\\\"\","
       "  \"interface-types\": [\"bios\"],"
       "  \"targets\": [ { \"architecture\": \"x86_64\" } ] }");
  put (dir, "20-arm.json",
       "{ \"interface-types\": [\"uefi\"], \"targets\": [ { \"architecture\": \"aarch64\" } ],"
       "  \"features\": [\"secure-boot\"] }");
  put (dir, "30-broken.json", "{ \"interface-types\": [\"uefi\"");
  put (dir, "40-notes.txt", "{ \"interface-types\": [\"uefi\"], \"targets\": [ { \"architecture\": \"x86_64\" } ] }");
  scan (dir, FALSE, FALSE);
  put (dir, "50-edk2.json",
       "{ \"interface-types\": [\"uefi\"], \"targets\": [ { \"architecture\": \"x86_64\","
       "  \"machines\": [\"pc-q35-*\"] } ], \"features\": [\"acpi-s3\"] }");
  scan (dir, TRUE, FALSE);
  put (dir, "40-edk2-secure.json",
       "{ \"interface-types\": [\"uefi\"], \"targets\": [ { \"architecture\": \"x86_64\" } ],"
       "  \"features\": [\"requires-smm\", \"secure-boot\"] }");
  scan (dir, TRUE, TRUE);
  remove_dir (dir);
}

static void
test_firmware_dir (void)
{
  g_setenv ("VMKEEP_FIRMWARE_DIR", "/tmp/fw", TRUE);
  g_assert_cmpstr (vk_ops_firmware_dir (), ==, "/tmp/fw");
  g_setenv ("VMKEEP_FIRMWARE_DIR", "", TRUE);
  g_assert_cmpstr (vk_ops_firmware_dir (), ==, "/usr/share/qemu/firmware");
}

static void
test_swtpm (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *old = g_strdup (g_getenv ("PATH"));
  g_setenv ("PATH", dir, TRUE);
  g_assert_cmpstr (vk_ops_swtpm_missing (), ==, "swtpm");
  put (dir, "swtpm", "#!/bin/sh\n");
  g_autofree char *p = g_build_filename (dir, "swtpm", NULL);
  g_chmod (p, 0755);
  g_assert_cmpstr (vk_ops_swtpm_missing (), ==, "swtpm_setup");
  put (dir, "swtpm_setup", "#!/bin/sh\n");
  g_autofree char *q = g_build_filename (dir, "swtpm_setup", NULL);
  g_chmod (q, 0755);
  g_assert_null (vk_ops_swtpm_missing ());
  g_setenv ("PATH", old, TRUE);
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/host/firmware", test_firmware);
  g_test_add_func ("/host/firmware-dir", test_firmware_dir);
  g_test_add_func ("/host/swtpm", test_swtpm);
  return g_test_run ();
}
