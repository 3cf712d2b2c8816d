/* tests/ops: the directories vmkeep takes from the connection's libvirt
 * (vk_conn_libvirt_dir) when vmkeep.conf leaves them unset, against
 * test:///default (a system-kind connection; its state is shared by every
 * connection of the process, so the test defines pools through one of its
 * own).
 *
 * The images directory is the "default" storage pool's target when that
 * pool exists, and the system layout below libvirt's localstatedir
 * otherwise; save images, NVRAM and logs follow the system layout. */
#include "config.h"

#include <libvirt/libvirt.h>

#include <glib.h>

#include "virt.h"

static void
test_system_layout (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkConn) conn = NULL;
  g_assert_true (vk_conn_open ("test:///default", &conn, &error));

  g_autofree char *save = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_SAVE);
  g_autofree char *nvram = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_NVRAM);
  g_autofree char *log = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_LOG);
  g_autofree char *images = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_IMAGES);
  g_autofree char *want_save = g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "lib/libvirt/qemu/save", NULL);
  g_autofree char *want_nvram = g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "lib/libvirt/qemu/nvram", NULL);
  g_autofree char *want_log = g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "log/libvirt/qemu", NULL);
  g_autofree char *want_images = g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "lib/libvirt/images", NULL);
  g_assert_cmpstr (save, ==, want_save);
  g_assert_cmpstr (nvram, ==, want_nvram);
  g_assert_cmpstr (log, ==, want_log);
  /* test:///default has a pool "default-pool", not "default" */
  g_assert_cmpstr (images, ==, want_images);
}

static void
test_default_pool (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkConn) conn = NULL;
  g_assert_true (vk_conn_open ("test:///default", &conn, &error));
  virConnectPtr raw = virConnectOpen ("test:///default");
  g_assert_nonnull (raw);
  virStoragePoolPtr pool = virStoragePoolDefineXML (
      raw, "<pool type='dir'><name>default</name><target><path>/srv/vm-disks</path></target></pool>", 0);
  g_assert_nonnull (pool);

  g_autofree char *images = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_IMAGES);
  g_assert_cmpstr (images, ==, "/srv/vm-disks");
  /* the pool says nothing of the other directories */
  g_autofree char *nvram = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_NVRAM);
  g_assert_true (g_str_has_suffix (nvram, "/lib/libvirt/qemu/nvram"));

  g_assert_cmpint (virStoragePoolUndefine (pool), ==, 0);
  virStoragePoolFree (pool);
  g_free (images);
  images = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_IMAGES);
  g_assert_true (g_str_has_suffix (images, "/lib/libvirt/images"));
  virConnectClose (raw);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/libvirt-dirs/system-layout", test_system_layout);
  g_test_add_func ("/libvirt-dirs/default-pool", test_default_pool);
  return g_test_run ();
}
