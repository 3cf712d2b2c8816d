/* tests/ops: clone and fork (src/ops/ops-clone.c, ops-fork.c) against
 * test:///default.
 *
 * test:///default cannot restore a real QEMU save, take a disk or memory
 * snapshot of a running domain or merge an overlay back, so the clone of
 * an image and the fork of a running domain are left to tests/e2e/clone.sh.
 * Here: a clone of a missing or damaged image fails before anything is
 * created; a clone of an image another vmkeep holds is VK_ERROR_BUSY; the
 * fork of a shut-off domain defines a fork with a new name and UUID (and
 * the source's MACs) on overlays over the source's frozen disk, and a
 * fault or a cancellation at each of its fault points (fork-after-disks,
 * fork-after-clone) leaves nothing: no fork, no overlay, no base, no
 * journal, the source's disk and definition as before. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "domain-xml.h"
#include "identity.h"
#include "ops-clone.h"
#include "ops-test.h"
#include "ops.h"
#include "sidecar.h"
#include "store.h"
#include "virt.h"
#include "vk-error.h"

typedef struct {
  char *dir;
  char *disk;             /* the source's disk file */
  VkConfig *cfg;
  VkConn *conn;
  VkOps *ops;
  const char *fail_at;    /* the step the fault hook fails, or NULL */
  const char *cancel_at;  /* the step at which ops->cancel is cancelled, or NULL */
  GPtrArray *steps;       /* the fault points reached */
} Fixture;

#define SOURCE "vk-fork-src"
#define FORK "vk-fork-new"
#define MAC "52:54:00:aa:bb:01"

static gboolean
fault (const char *point, gpointer data, GError **error)
{
  Fixture *f = data;
  g_ptr_array_add (f->steps, g_strdup (point));
  if (g_strcmp0 (point, f->cancel_at) == 0)
    g_cancellable_cancel (f->ops->cancel);
  if (g_strcmp0 (point, f->fail_at) != 0)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED, "fault injected at %s", point);
  return FALSE;
}

static void
undefine (VkConn *conn, const char *name)
{
  g_autoptr(VkDomain) d = vk_domain_try_lookup (conn, name);
  if (d == NULL)
    return;
  if (vk_domain_state (d, NULL) != VK_STATE_SHUTOFF)
    vk_domain_destroy (d, NULL);
  vk_domain_undefine (d, TRUE, NULL);
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  vk_ops_test_open ("vk-ops", &f->dir, &f->cfg, &f->conn, &f->ops);
  f->ops->fault = fault;
  f->ops->fault_data = f;
  f->steps = g_ptr_array_new_with_free_func (g_free);
  f->disk = g_build_filename (f->dir, "src.raw", NULL);
  g_assert_true (g_file_set_contents (f->disk, "the source's disk", -1, NULL));
  g_autofree char *xml = g_strdup_printf (
    "<domain type='test'><name>" SOURCE "</name><memory>1048576</memory>"
    "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>"
    "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
    "<source file='%s'/><target dev='vda' bus='virtio'/></disk>"
    "<interface type='network'><mac address='" MAC "'/><source network='default'/>"
    "<model type='virtio'/></interface></devices></domain>", f->disk);
  g_autoptr(VkDomain) d = NULL;
  g_assert_true (vk_domain_define (f->conn, xml, &d, &error));
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  undefine (f->conn, FORK);
  undefine (f->conn, SOURCE);
  vk_ops_test_close (f->dir, f->cfg, f->conn, f->ops);
  g_free (f->disk);
  g_ptr_array_unref (f->steps);
}

/* Files in the store's journal and tmp directories. */
static guint
store_leftovers (Fixture *f)
{
  guint n = 0;
  const char *subs[] = { "journal", "tmp" };
  for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      g_autofree char *d = g_build_filename (f->cfg->store_dir, subs[i], NULL);
      g_autoptr(GDir) dir = g_dir_open (d, 0, NULL);
      while (dir && g_dir_read_name (dir))
        n++;
    }
  return n;
}

/* Files in the test's directory besides the source's disk and the store. */
static guint
disk_leftovers (Fixture *f)
{
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *n;
  guint count = 0;
  while ((n = g_dir_read_name (dir)) != NULL)
    if (!g_str_equal (n, "src.raw") && !g_str_equal (n, "store"))
      count++;
  return count;
}

static char *
disk_of (Fixture *f, const char *name, gboolean inactive)
{
  g_autoptr(VkDomain) d = vk_domain_try_lookup (f->conn, name);
  g_assert_nonnull (d);
  g_autofree char *xml = vk_domain_xml (d, inactive, NULL);
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, name, NULL);
  xmlNodePtr disk = vk_xml_child (vk_domain_devices (doc), "disk");
  return vk_xml_child_prop (disk, "source", "file");
}

static VkCloneOpts
opts (void)
{
  VkCloneOpts o = { 0 };
  o.name = FORK;
  return o;
}

/* Nothing of the fork, the source as before. */
static void
assert_nothing_left (Fixture *f)
{
  g_autoptr(VkDomain) fork = vk_domain_try_lookup (f->conn, FORK);
  g_assert_null (fork);
  g_assert_cmpuint (store_leftovers (f), ==, 0);
  g_assert_cmpuint (disk_leftovers (f), ==, 0);
  g_autofree char *content = NULL;
  g_assert_true (g_file_get_contents (f->disk, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "the source's disk");
  g_autofree char *sdisk = disk_of (f, SOURCE, TRUE);
  g_assert_cmpstr (sdisk, ==, f->disk);
}

static void
test_clone_missing_image (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_store_ensure_root (f->cfg->store_dir, &error));
  VkCloneOpts o = opts ();
  VkCloneResult res;
  vk_clone_result_init (&res);
  g_assert_false (vk_ops_clone_image (f->ops, "no-such-image", &o, &res, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  vk_clone_result_clear (&res);
  g_autoptr(VkDomain) d = vk_domain_try_lookup (f->conn, FORK);
  g_assert_null (d);
  g_assert_cmpuint (store_leftovers (f), ==, 0);
  g_assert_cmpuint (disk_leftovers (f), ==, 0);
}

/* An image directory in the store, with `sidecar_text` (may be NULL) as
 * its sidecar. */
static void
make_image (Fixture *f, const char *name, const char *sidecar_text)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_store_ensure_root (f->cfg->store_dir, &error));
  g_autofree char *images = vk_store_images_dir (f->cfg->store_dir);
  g_assert_cmpint (g_mkdir_with_parents (images, 0700), ==, 0);
  g_autofree char *idir = vk_store_image_dir (f->cfg->store_dir, name);
  g_assert_cmpint (g_mkdir (idir, 0700), ==, 0);
  g_autofree char *sidecar = g_build_filename (idir, VK_STORE_SIDECAR, NULL);
  if (sidecar_text)
    g_assert_true (g_file_set_contents (sidecar, sidecar_text, -1, NULL));
}

static void
test_clone_bad_image (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  make_image (f, "bad", "this is not a sidecar");
  VkCloneOpts o = opts ();
  VkCloneResult res;
  vk_clone_result_init (&res);
  g_assert_false (vk_ops_clone_image (f->ops, "bad", &o, &res, &error));
  g_assert_nonnull (error);
  vk_clone_result_clear (&res);
  g_autoptr(VkDomain) d = vk_domain_try_lookup (f->conn, FORK);
  g_assert_null (d);
  g_assert_cmpuint (store_leftovers (f), ==, 0);
  g_assert_cmpuint (disk_leftovers (f), ==, 0);
}

static void
test_clone_image_busy (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  /* a sound image of the source, as far as loading it goes */
  g_autoptr(VkDomain) d = vk_domain_try_lookup (f->conn, SOURCE);
  g_autofree char *xml = vk_domain_xml (d, TRUE, &error);
  g_assert_no_error (error);
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, SOURCE, &error);
  g_assert_no_error (error);
  g_autoptr(VkSidecar) sc = vk_sidecar_new ();
  sc->mode = VK_SIDECAR_IMAGE;
  sc->domain_name = g_strdup (SOURCE);
  sc->domain_uuid = vk_domain_get_uuid (d);
  sc->created = g_date_time_new_now_utc ();
  sc->host = g_strdup ("hv1.example.org");
  sc->libvirt_version = g_strdup ("9.0.0");
  sc->qemu_version = g_strdup ("7.2.0");
  sc->identity = vk_identity_from_domain (doc, &error);
  g_assert_no_error (error);
  sc->state_file = g_strdup (VK_STORE_STATE);
  sc->has_state_size = TRUE;
  sc->state_sha256 = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "", 0);
  sc->domain_xml = g_strdup (xml);
  make_image (f, "held", NULL);
  g_autofree char *idir = vk_store_image_dir (f->cfg->store_dir, "held");
  g_autofree char *path = g_build_filename (idir, VK_STORE_SIDECAR, NULL);
  g_autofree char *state = g_build_filename (idir, VK_STORE_STATE, NULL);
  g_assert_true (g_file_set_contents (state, "", 0, NULL));
  g_assert_true (vk_sidecar_save (sc, path, &error));
  g_assert_no_error (error);
  /* another vmkeep removes or replaces the image */
  g_autoptr(VkLock) lock = vk_ops_lock_image (f->ops, "held", FALSE, &error);
  g_assert_no_error (error);
  VkCloneOpts o = opts ();
  VkCloneResult res;
  vk_clone_result_init (&res);
  g_assert_false (vk_ops_clone_image (f->ops, "held", &o, &res, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  vk_clone_result_clear (&res);
  g_assert_cmpuint (store_leftovers (f), ==, 0);
}

static void
test_fork_shutoff (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkCloneOpts o = opts ();
  VkCloneResult res;
  vk_clone_result_init (&res);
  g_assert_true (vk_ops_fork (f->ops, SOURCE, &o, &res, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (res.name, ==, FORK);
  g_assert_false (res.running);
  g_assert_cmpuint (res.disks->len, ==, 1);

  g_autoptr(VkDomain) src = vk_domain_try_lookup (f->conn, SOURCE);
  g_autoptr(VkDomain) fork = vk_domain_try_lookup (f->conn, FORK);
  g_assert_nonnull (fork);
  g_autofree char *suuid = vk_domain_get_uuid (src);
  g_autofree char *fuuid = vk_domain_get_uuid (fork);
  g_assert_cmpstr (fuuid, ==, res.uuid);
  g_assert_cmpstr (fuuid, !=, suuid);
  /* the fork keeps its source's MAC (the invariant) on its own overlay;
   * the source continues on an overlay in place of its disk, whose
   * content is now the shared base */
  g_autofree char *fxml = vk_domain_xml (fork, TRUE, NULL);
  g_assert_nonnull (strstr (fxml, MAC));
  g_autofree char *fdisk = disk_of (f, FORK, TRUE);
  g_assert_cmpstr (fdisk, ==, res.disks->pdata[0]);
  g_assert_true (g_file_test (fdisk, G_FILE_TEST_IS_REGULAR));
  g_autofree char *sdisk = disk_of (f, SOURCE, TRUE);
  g_assert_cmpstr (sdisk, ==, f->disk);
  g_autofree char *base = g_strdup_printf ("%s.vmkeep-fork-%s.base", f->disk, FORK);
  g_autofree char *content = NULL;
  g_assert_true (g_file_get_contents (base, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "the source's disk");
  g_assert_cmpuint (store_leftovers (f), ==, 0);
  g_assert_cmpuint (f->steps->len, ==, 2);
  g_assert_cmpstr (f->steps->pdata[0], ==, "fork-after-disks");
  g_assert_cmpstr (f->steps->pdata[1], ==, "fork-after-clone");
  vk_clone_result_clear (&res);
}

/* A fault at each of the fork's fault points. */
static void
test_fork_shutoff_fault (Fixture *f, gconstpointer data)
{
  const char *points[] = { "fork-after-disks", "fork-after-clone" };
  for (guint i = 0; i < G_N_ELEMENTS (points); i++)
    {
      g_autoptr(GError) error = NULL;
      f->fail_at = points[i];
      VkCloneOpts o = opts ();
      VkCloneResult res;
      vk_clone_result_init (&res);
      g_assert_false (vk_ops_fork (f->ops, SOURCE, &o, &res, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
      g_assert_nonnull (strstr (error->message, points[i]));
      vk_clone_result_clear (&res);
      assert_nothing_left (f);
    }
}

/* ops->cancel cancelled (as by a signal) at each fault point. */
static void
test_fork_shutoff_cancelled (Fixture *f, gconstpointer data)
{
  const char *points[] = { "fork-after-disks", "fork-after-clone" };
  for (guint i = 0; i < G_N_ELEMENTS (points); i++)
    {
      g_autoptr(GError) error = NULL;
      g_cancellable_reset (f->ops->cancel);
      f->cancel_at = points[i];
      VkCloneOpts o = opts ();
      VkCloneResult res;
      vk_clone_result_init (&res);
      g_assert_false (vk_ops_fork (f->ops, SOURCE, &o, &res, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
      vk_clone_result_clear (&res);
      assert_nothing_left (f);
    }
}

/* A fork under a name that is taken, or of nothing, creates nothing. */
static void
test_fork_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkCloneOpts o = opts ();
  o.name = SOURCE;
  VkCloneResult res;
  vk_clone_result_init (&res);
  g_assert_false (vk_ops_fork (f->ops, SOURCE, &o, &res, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  o = opts ();
  g_assert_false (vk_ops_fork (f->ops, "vk-no-such-domain", &o, &res, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  vk_clone_result_clear (&res);
  assert_nothing_left (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ops/clone/missing-image", Fixture, NULL, setup, test_clone_missing_image,
              teardown);
  g_test_add ("/ops/clone/bad-image", Fixture, NULL, setup, test_clone_bad_image, teardown);
  g_test_add ("/ops/clone/image-busy", Fixture, NULL, setup, test_clone_image_busy, teardown);
  g_test_add ("/ops/fork/shutoff", Fixture, NULL, setup, test_fork_shutoff, teardown);
  g_test_add ("/ops/fork/shutoff-fault", Fixture, NULL, setup, test_fork_shutoff_fault,
              teardown);
  g_test_add ("/ops/fork/shutoff-cancelled", Fixture, NULL, setup, test_fork_shutoff_cancelled,
              teardown);
  g_test_add ("/ops/fork/refused", Fixture, NULL, setup, test_fork_refused, teardown);
  return g_test_run ();
}
