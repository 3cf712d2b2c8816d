/* tests/ops: the hibernate and wake workflows (src/ops/ops-hibernate.c,
 * ops-wake.c) against test:///default.
 *
 * libvirt's test driver saves and restores its fake domains (managed save
 * too) in a format of its own, so:
 *   - a managed hibernate runs in full: the sidecar is written, the domain
 *     is saved; a managed wake gets as far as libvirt's managed save XML,
 *     which that driver does not provide;
 *   - an image hibernate runs up to reading libvirt's save header, which
 *     the driver's state file does not have: that is a failure after the
 *     save, so it reaches the rollback that puts the disks back and
 *     resumes the VM from its state. The driver cannot do that restore
 *     (it refuses VIR_DOMAIN_SAVE_RUNNING), so past the save these tests
 *     check what a failed resume leaves: the disk as it was, the state
 *     kept and named in the error, no image listed, and the journal kept
 *     for `vmkeep recover` with the restore of that state in it. The steps
 *     past the commit need a real QEMU save: tests/e2e/hibernate.sh;
 *   - the driver refuses a replacement XML on save, which an image that
 *     freezes its disks in place needs, so the cases past the save use
 *     --copy (the disks are copied into the image after the save).
 * Every fault point of image hibernate before the save and a cancellation
 * leave nothing:
 * no image directory, no partial image, no journal, the disk where and as
 * it was, the VM running. A lock another vmkeep holds is VK_ERROR_BUSY
 * with nothing changed. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "domain-xml.h"
#include "fileutil.h"
#include "journal.h"
#include "ops-hibernate.h"
#include "ops-sidecar.h"
#include "ops-test.h"
#include "ops.h"
#include "store.h"
#include "virt.h"
#include "vk-error.h"

#define NAME "vk-hib-test"

typedef struct {
  char *dir;
  char *disk;
  VkConfig *cfg;
  VkConn *conn;
  VkOps *ops;
  const char *fail_at;    /* the step the fault hook fails, or NULL */
  const char *cancel_at;  /* the step at which the hook cancels, or NULL */
  GPtrArray *points;      /* every step the hook saw */
} Fixture;

static gboolean
fault (const char *point, gpointer data, GError **error)
{
  Fixture *f = data;
  g_ptr_array_add (f->points, g_strdup (point));
  if (g_strcmp0 (point, f->cancel_at) == 0)
    g_cancellable_cancel (f->ops->cancel);
  if (g_strcmp0 (point, f->fail_at) != 0)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED, "fault injected at %s", point);
  return FALSE;
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  vk_ops_test_open ("vk-ops-hib", &f->dir, &f->cfg, &f->conn, &f->ops);
  f->disk = g_build_filename (f->dir, "disk.raw", NULL);
  g_assert_true (g_file_set_contents (f->disk, "the disk's bytes", -1, NULL));
  f->ops->fault = fault;
  f->ops->fault_data = f;
  f->points = g_ptr_array_new_with_free_func (g_free);

  g_autofree char *xml = g_strdup_printf (
      "<domain type='test'><name>" NAME "</name>"
      "<uuid>0b4d1e6a-3c2f-4e55-9a77-5d0c6e1f2a33</uuid>"
      "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
      "<os><type arch='i686' machine='pc'>hvm</type></os><devices>"
      "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
      "<source file='%s'/><target dev='vda' bus='virtio'/>"
      "<address type='pci' domain='0x0000' bus='0x00' slot='0x10' function='0x0'/></disk>"
      "<interface type='network'><mac address='52:54:00:4b:00:01'/>"
      "<source network='default'/><model type='virtio'/>"
      "<address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>"
      "</interface></devices></domain>", f->disk);
  g_autoptr(VkDomain) dom = NULL;
  g_assert_true (vk_domain_define (f->conn, xml, &dom, &error));
  g_assert_true (vk_domain_start (dom, FALSE, &error));
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, NAME);
  if (dom)
    {
      if (vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF)
        vk_domain_destroy (dom, NULL);
      vk_domain_managed_save_remove (dom, NULL);
      vk_domain_undefine (dom, FALSE, NULL);
    }
  vk_ops_test_close (f->dir, f->cfg, f->conn, f->ops);
  g_free (f->disk);
  g_ptr_array_unref (f->points);
}

static VkDomainState
state_of (Fixture *f)
{
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, NAME);
  g_assert_nonnull (dom);
  return vk_domain_state (dom, NULL);
}

static guint
files_in (Fixture *f, const char *sub)
{
  g_autofree char *d = g_build_filename (f->cfg->store_dir, sub, NULL);
  g_autoptr(GDir) dir = g_dir_open (d, 0, NULL);
  guint n = 0;
  while (dir && g_dir_read_name (dir))
    n++;
  return n;
}

/* Nothing left of a failed or refused hibernate: the VM runs, its disk
 * holds what it held, no image (partial or not), no journal, no sidecar. */
static void
assert_nothing_changed (Fixture *f)
{
  g_assert_cmpint (state_of (f), ==, VK_STATE_RUNNING);
  g_autofree char *bytes = NULL;
  g_assert_true (g_file_get_contents (f->disk, &bytes, NULL, NULL));
  g_assert_cmpstr (bytes, ==, "the disk's bytes");
  g_autoptr(GDir) d = g_dir_open (f->dir, 0, NULL);
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)   /* no renamed base beside the disk */
    g_assert_true (g_str_equal (n, "disk.raw") || g_str_equal (n, "store"));
  g_assert_cmpuint (files_in (f, "images"), ==, 0);
  g_assert_cmpuint (files_in (f, "journal"), ==, 0);
  g_assert_cmpuint (files_in (f, "managed"), ==, 0);
}

static char *
sidecar_path (Fixture *f)
{
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, NAME);
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  return vk_store_managed_sidecar (f->cfg->store_dir, uuid);
}

/* libvirt's test driver (9.0 and 11.x alike) answers every source of
 * virDomainInterfaceAddresses with one made-up IPv4 address per NIC of a
 * running domain, so the lease source, asked first, is the one kept. */
static void
assert_test_driver_addresses (const VkSidecar *sc)
{
  const VkSidecarAddress *a;

  g_assert_cmpuint (sc->addresses->len, ==, 1);
  a = sc->addresses->pdata[0];
  g_assert_cmpstr (a->mac, ==, "52:54:00:4b:00:01");
  g_assert_true (g_str_has_prefix (a->ip, "192.168.122."));
  g_assert_cmpstr (a->source, ==, "lease");
}

static void
test_managed (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkHibernateOpts o = { 0 };
  VkOpsSaveResult r = { 0 };
  vk_ops_hibernate (f->ops, NAME, &o, &r, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r.mode, ==, "managed");
  g_assert_cmpuint (r.state_bytes, ==, 64 << 20);
  g_assert_cmpint (state_of (f), ==, VK_STATE_SHUTOFF);
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, NAME);
  g_assert_true (vk_domain_has_managed_save (dom));

  g_autofree char *path = sidecar_path (f);
  g_autoptr(VkSidecar) sc = vk_sidecar_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (sc->domain_name, ==, NAME);
  g_assert_cmpstr (sc->domain_uuid, ==, "0b4d1e6a-3c2f-4e55-9a77-5d0c6e1f2a33");
  g_assert_nonnull (sc->identity);
  assert_test_driver_addresses (sc);
  g_assert_cmpuint (files_in (f, "journal"), ==, 0);

  /* hibernating it again is refused: it is not running */
  VkOpsSaveResult again = { 0 };
  g_assert_false (vk_ops_hibernate (f->ops, NAME, &o, &again, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "already hibernated"));
  vk_ops_save_result_clear (&r);
}

/* A fault just before libvirt's managed save: no sidecar, no temp file. */
static void
test_managed_fault (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkHibernateOpts o = { 0 };
  VkOpsSaveResult r = { 0 };
  f->fail_at = "hibernate-managed";
  g_assert_false (vk_ops_hibernate (f->ops, NAME, &o, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  assert_nothing_changed (f);
}

/* Another vmkeep holds the domain's lock: busy at once, nothing changed,
 * in both modes; wake too. */
static void
test_busy (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, NAME);
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) held = vk_ops_lock_domain (f->ops, uuid, NAME, &error);
  g_assert_no_error (error);

  VkHibernateOpts managed = { 0 };
  VkHibernateOpts image = { .image = "busy" };
  VkOpsSaveResult r = { 0 };
  g_assert_false (vk_ops_hibernate (f->ops, NAME, &managed, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  g_clear_error (&error);
  g_assert_false (vk_ops_hibernate (f->ops, NAME, &image, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  g_clear_error (&error);
  assert_nothing_changed (f);
  g_assert_cmpuint (f->points->len, ==, 0);   /* no step was reached */

  /* a managed save made behind vmkeep's back, still locked: wake is busy */
  g_autoptr(GError) e2 = NULL;
  g_assert_true (vk_domain_managed_save (dom, FALSE, &e2));
  g_assert_false (vk_ops_wake (f->ops, NAME, FALSE, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  g_assert_cmpint (state_of (f), ==, VK_STATE_SHUTOFF);
}

/* Wake of a domain that has no managed save: not found, nothing started. */
static void
test_wake_refusals (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkOpsSaveResult r = { 0 };
  g_assert_false (vk_ops_wake (f->ops, NAME, FALSE, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);   /* it runs */
  g_clear_error (&error);
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, NAME);
  g_assert_true (vk_domain_destroy (dom, &error));
  g_assert_false (vk_ops_wake (f->ops, NAME, FALSE, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  g_assert_cmpint (state_of (f), ==, VK_STATE_SHUTOFF);
  g_clear_error (&error);
  g_assert_false (vk_ops_wake_image (f->ops, "no-such-image", FALSE, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  g_assert_null (r.domain);
}

/* Image hibernate failing at `fail_at` (NULL: at the save, or at the
 * save header the test driver's state does not have). */
static char *
image_fails_at (Fixture *f, const char *fail_at, gboolean copy)
{
  g_autoptr(GError) error = NULL;
  VkHibernateOpts o = { .image = "img", .copy = copy };
  VkOpsSaveResult r = { 0 };
  f->fail_at = fail_at;
  g_assert_false (vk_ops_hibernate (f->ops, NAME, &o, &r, &error));
  g_assert_nonnull (error);
  g_test_message ("%s: %s", fail_at ? fail_at : "(no fault)", error->message);
  if (fail_at)
    g_assert_nonnull (strstr (error->message, fail_at));
  g_assert_null (r.mode);
  return g_strdup (error->message);
}

/* What a failure past the save leaves on the test driver (see the top):
 * the VM saved, its state kept where the error says, the disk as it was,
 * no image listed, and the journal holding the restore of the state. */
static void
assert_kept_saved (Fixture *f, const char *message)
{
  g_autoptr(GError) error = NULL;
  g_assert_nonnull (strstr (message, "stays saved in"));
  g_assert_cmpint (state_of (f), ==, VK_STATE_SHUTOFF);
  g_autofree char *bytes = NULL;
  g_assert_true (g_file_get_contents (f->disk, &bytes, NULL, NULL));
  g_assert_cmpstr (bytes, ==, "the disk's bytes");
  g_autofree char *image = g_build_filename (f->cfg->store_dir, "images", "img", NULL);
  g_assert_false (g_file_test (image, G_FILE_TEST_EXISTS));
  g_autoptr(GPtrArray) orphans = vk_journal_list_orphans (f->ops, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (orphans->len, ==, 1);
  VkJournalInfo *j = orphans->pdata[0];
  g_assert_cmpstr (j->op, ==, "hibernate");
  g_assert_cmpstr (j->subject, ==, "img");
  /* what undo had left when the restore failed: the restore (newest),
   * then the removal of the directory holding the state */
  g_assert_cmpuint (j->steps->len, ==, 2);
  g_assert_true (g_str_has_prefix (j->steps->pdata[0], "rmtree "));
  const char *step = j->steps->pdata[1];
  const char *prefix = "resume-saved 0b4d1e6a-3c2f-4e55-9a77-5d0c6e1f2a33 ";
  g_assert_true (g_str_has_prefix (step, prefix));
  g_autofree char *state = g_strndup (step + strlen (prefix), strcspn (step + strlen (prefix), " "));
  g_assert_nonnull (strstr (message, state));
  g_assert_true (g_file_test (state, G_FILE_TEST_IS_REGULAR));
}

static void
test_image_fault_partial (Fixture *f, gconstpointer data)
{
  g_free (image_fails_at (f, "hibernate-image-partial", FALSE));
  assert_nothing_changed (f);
}

static void
test_image_fault_saved (Fixture *f, gconstpointer data)
{
  g_autofree char *message = image_fails_at (f, "hibernate-image-saved", TRUE);
  assert_kept_saved (f, message);
}

static void
test_image_fault_frozen (Fixture *f, gconstpointer data)
{
  g_autofree char *message = image_fails_at (f, "hibernate-image-frozen", TRUE);
  assert_kept_saved (f, message);
}

/* Past the save, a failure of vmkeep's own (here: the test driver's
 * state has no libvirt save header) goes to the same undo. */
static void
test_image_failure_after_save (Fixture *f, gconstpointer data)
{
  g_autofree char *message = image_fails_at (f, NULL, TRUE);
  g_assert_true (g_ptr_array_find_with_equal_func (f->points, "hibernate-image-frozen",
                                                   g_str_equal, NULL));
  assert_kept_saved (f, message);
}

/* Cancelled before the save: nothing happened. */
static void
test_image_cancelled (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkHibernateOpts o = { .image = "img" };
  VkOpsSaveResult r = { 0 };
  f->cancel_at = "hibernate-image-partial";
  g_assert_false (vk_ops_hibernate (f->ops, NAME, &o, &r, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "interrupted"));
  assert_nothing_changed (f);
}

/* Cancelled once libvirt has saved the VM: the workflow goes on (here up
 * to the failure every test-driver image meets, not to the cancel). */
static void
test_image_cancel_after_save_finishes (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkHibernateOpts o = { .image = "img", .copy = TRUE };
  VkOpsSaveResult r = { 0 };
  f->cancel_at = "hibernate-image-saved";
  g_assert_false (vk_ops_hibernate (f->ops, NAME, &o, &r, &error));
  g_assert_nonnull (error);
  g_assert_null (strstr (error->message, "interrupted"));
  g_assert_true (g_ptr_array_find_with_equal_func (f->points, "hibernate-image-frozen",
                                                   g_str_equal, NULL));
  assert_kept_saved (f, error->message);
}

/* The save itself fails (the test driver refuses the replacement XML a
 * freeze in place needs): the partial image goes. */
static void
test_image_save_fails (Fixture *f, gconstpointer data)
{
  g_free (image_fails_at (f, NULL, FALSE));
  assert_nothing_changed (f);
}

/* The sidecar of a running domain. */
static void
test_sidecar_for_domain (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (f->conn, NAME);
  g_autofree char *xml = vk_domain_xml (dom, FALSE, &error);
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, NAME, &error);
  g_assert_no_error (error);
  g_autoptr(VkSidecar) sc = vk_ops_sidecar_for_domain (f->ops, dom, doc, xml,
                                                       VK_SIDECAR_IMAGE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (sc->mode, ==, VK_SIDECAR_IMAGE);
  g_assert_cmpstr (sc->domain_name, ==, NAME);
  g_assert_cmpstr (sc->domain_xml, ==, xml);
  g_assert_nonnull (sc->created);
  g_assert_nonnull (sc->identity);
  g_assert_null (sc->nvram_path);
  g_assert_false (sc->tpm);
  assert_test_driver_addresses (sc);
}

/* vk_domain_addresses on the test driver: a MAC as libvirt has it, in
 * lower case, once however many sources report it; none for a domain that
 * is not running, whose failing sources say nothing. */
static void
test_domain_addresses (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDomain) dom = NULL;
  static const char xml[] =
    "<domain type='test'><name>vk-hib-addrs</name>"
    "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
    "<os><type arch='i686' machine='pc'>hvm</type></os><devices>"
    "<interface type='bridge'><mac address='52:54:00:4B:00:0A'/>"
    "<source bridge='br0'/></interface>"
    "<interface type='network'><mac address='52:54:00:4b:00:0b'/>"
    "<source network='default'/></interface>"
    "</devices></domain>";

  g_assert_true (vk_domain_define (f->conn, xml, &dom, &error));
  g_assert_no_error (error);
  {
    g_autoptr(GPtrArray) none = vk_domain_addresses (dom);
    g_assert_nonnull (none);
    g_assert_cmpuint (none->len, ==, 0);
  }
  g_assert_true (vk_domain_start (dom, FALSE, &error));
  for (int paused = 0; paused <= 1; paused++)
    {
      g_autoptr(GPtrArray) found = NULL;

      if (paused)
        g_assert_true (vk_domain_suspend (dom, &error));
      g_assert_no_error (error);
      found = vk_domain_addresses (dom);
      g_assert_cmpuint (found->len, ==, 2);
      for (guint i = 0; i < found->len; i++)
        {
          const VkSidecarAddress *a = found->pdata[i];
          g_test_message ("%s %s %s", a->mac, a->ip, a->source);
          g_assert_cmpstr (a->mac, ==, i == 0 ? "52:54:00:4b:00:0a" : "52:54:00:4b:00:0b");
          g_assert_true (g_hostname_is_ip_address (a->ip));
          g_assert_cmpstr (a->source, ==, "lease");
        }
    }
  g_assert_true (vk_domain_destroy (dom, &error));
  g_assert_true (vk_domain_undefine (dom, FALSE, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/ops/hibernate/managed", test_managed);
  ADD ("/ops/hibernate/managed-fault", test_managed_fault);
  ADD ("/ops/hibernate/busy", test_busy);
  ADD ("/ops/hibernate/wake-refusals", test_wake_refusals);
  ADD ("/ops/hibernate/image-fault-partial", test_image_fault_partial);
  ADD ("/ops/hibernate/image-fault-saved", test_image_fault_saved);
  ADD ("/ops/hibernate/image-fault-frozen", test_image_fault_frozen);
  ADD ("/ops/hibernate/image-failure-after-save", test_image_failure_after_save);
  ADD ("/ops/hibernate/image-save-fails", test_image_save_fails);
  ADD ("/ops/hibernate/image-cancelled", test_image_cancelled);
  ADD ("/ops/hibernate/image-cancel-after-save", test_image_cancel_after_save_finishes);
  ADD ("/ops/hibernate/sidecar-for-domain", test_sidecar_for_domain);
  ADD ("/ops/hibernate/domain-addresses", test_domain_addresses);
  return g_test_run ();
}
