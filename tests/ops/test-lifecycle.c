/* tests/ops: start, stop and undefine (src/ops/ops-lifecycle.c) against
 * test:///default, whose domain "test" runs at first. Each holds the
 * domain's lock in the store while it changes the domain: another holder
 * makes it fail at once with VK_ERROR_BUSY and change nothing. */
#include "config.h"

#include <glib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "disk.h"
#include "fileutil.h"
#include "ops-domain.h"
#include "ops-lifecycle.h"
#include "ops.h"
#include "store.h"
#include "virt.h"
#include "vk-error.h"

typedef struct {
  char *store;
  VkConfig *cfg;
  VkConn *conn;
  VkOps *ops;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->store = g_dir_make_tmp ("vmkeep-ops-lifecycle-XXXXXX", &error);
  g_assert_no_error (error);
  f->cfg = vk_config_new ();
  g_free (f->cfg->store_dir);
  f->cfg->store_dir = g_strdup (f->store);
  g_assert_true (vk_conn_open ("test:///default", &f->conn, &error));
  f->ops = vk_ops_new (f->conn, f->cfg);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  vk_ops_free (f->ops);
  vk_conn_free (f->conn);
  vk_config_free (f->cfg);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->store);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->store);
}

static VkDomainState
state_of (Fixture *f, const char *name)
{
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, name);
  g_assert_nonnull (dom);
  return vk_domain_state (dom, NULL);
}

/* The lock another vmkeep would hold on domain `name`. */
static VkLock *
hold_lock (Fixture *f, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, name);
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_assert_true (vk_store_ensure_root (f->store, &error));
  g_autofree char *locks = vk_store_locks_dir (f->store);
  VkLock *lock = vk_lock_acquire (locks, uuid, &error);
  g_assert_no_error (error);
  return lock;
}

static void
test_stop_start (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean already = FALSE;
  g_assert_true (vk_ops_start (f->ops, "test", FALSE, &already, &error));
  g_assert_no_error (error);
  g_assert_true (already);
  g_assert_true (vk_ops_stop (f->ops, "test", 0, TRUE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (state_of (f, "test"), ==, VK_STATE_SHUTOFF);
  g_assert_true (vk_ops_start (f->ops, "test", FALSE, &already, &error));
  g_assert_false (already);
  g_assert_cmpint (state_of (f, "test"), ==, VK_STATE_RUNNING);
}

static void
test_busy (Fixture *f, gconstpointer data)
{
  g_autoptr(VkLock) held = hold_lock (f, "test");
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_ops_stop (f->ops, "test", 0, TRUE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  g_assert_cmpint (state_of (f, "test"), ==, VK_STATE_RUNNING);
  g_clear_error (&error);
  g_assert_false (vk_ops_undefine (f->ops, "test", TRUE, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  g_assert_cmpint (state_of (f, "test"), ==, VK_STATE_RUNNING);
  g_clear_error (&error);
  vk_lock_release (g_steal_pointer (&held));
  g_assert_true (vk_ops_stop (f->ops, "test", 0, TRUE, &error));
  g_assert_no_error (error);
}

static void
test_undefine_running (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_ops_undefine (f->ops, "test", FALSE, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_cmpint (state_of (f, "test"), ==, VK_STATE_RUNNING);
  g_clear_error (&error);
  g_assert_true (vk_ops_undefine (f->ops, "test", TRUE, FALSE, &error));
  g_assert_no_error (error);
  g_autoptr(VkDomain) gone = vk_domain_try_lookup (f->conn, "test");
  g_assert_null (gone);
}

static void
test_missing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean already = FALSE;
  g_assert_false (vk_ops_start (f->ops, "no-such-domain", FALSE, &already, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
}

/* A domain on a qcow2 chain of `files` files in the store directory. */
static VkDomain *
domain_on_chain (Fixture *f, const char *name, guint files)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *prev = NULL;
  for (guint i = 1; i <= files; i++)
    {
      g_autofree char *p = g_strdup_printf ("%s/%s-%u.qcow2", f->store, name, i);
      if (prev == NULL)
        {
          g_autofree char *cmd = g_strdup_printf ("qemu-img create -q -f qcow2 '%s' 1M", p);
          g_assert_cmpint (system (cmd), ==, 0);
        }
      else
        g_assert_true (vk_disk_create_overlay (p, prev, "qcow2", &error));
      g_assert_no_error (error);
      g_free (prev);
      prev = g_steal_pointer (&p);
    }
  g_autofree char *xml = g_strdup_printf (
    "<domain type='test'><name>%s</name><memory>131072</memory><os><type>hvm</type></os>"
    "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='%s'/><target dev='vda' bus='virtio'/></disk></devices></domain>",
    name, prev);
  VkDomain *dom = NULL;
  g_assert_true (vk_domain_define (f->conn, xml, &dom, &error));
  g_assert_no_error (error);
  return dom;
}

/* libvirt 10.1 and later cannot start a VM on a chain longer than 24
 * files: hibernate --image and fork refuse to make one (one file more),
 * naming the disk and the blockpull that helps; older libvirt has no
 * such limit. */
static void
test_chain_room (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean limited = vk_conn_libvirt_version_number (f->conn) >= 10001000;
  g_autoptr(VkDomain) full = domain_on_chain (f, "chain-full", VK_OPS_CHAIN_MAX);
  g_autoptr(VkDomain) room = domain_on_chain (f, "chain-room", VK_OPS_CHAIN_MAX - 1);
  g_assert_true (vk_ops_check_chain_room (f->ops, full, 0, &error));
  g_assert_no_error (error);
  g_assert_true (vk_ops_check_chain_room (f->ops, room, 1, &error));
  g_assert_no_error (error);
  if (limited)
    {
      g_assert_false (vk_ops_check_chain_room (f->ops, full, 1, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
      g_assert_nonnull (strstr (error->message, "disk vda of 'chain-full' is a chain of 24 files"));
      g_assert_nonnull (strstr (error->message, "virsh blockpull chain-full vda --wait"));
    }
  else
    g_assert_true (vk_ops_check_chain_room (f->ops, full, 1, &error));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ops/lifecycle/stop-start", Fixture, NULL, setup, test_stop_start, teardown);
  g_test_add ("/ops/lifecycle/busy", Fixture, NULL, setup, test_busy, teardown);
  g_test_add ("/ops/lifecycle/undefine-running", Fixture, NULL, setup, test_undefine_running,
              teardown);
  g_test_add ("/ops/lifecycle/missing", Fixture, NULL, setup, test_missing, teardown);
  g_test_add ("/ops/chain-room", Fixture, NULL, setup, test_chain_room, teardown);
  return g_test_run ();
}
