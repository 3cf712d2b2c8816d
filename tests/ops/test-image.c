/* tests/ops: the image workflows (src/ops/ops-image.c, ops-export.c,
 * ops-import.c, ops-oci.c) on an image the test builds in a temporary
 * store.
 *
 * Export, verify and rm need no hypervisor; import asks libvirt
 * (test:///default here) at its trust boundary. A fault at each step a
 * workflow names, and a cancelled context, leave nothing behind: no
 * partial directory, no temp file, no journal. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "fileutil.h"
#include "ops-export.h"
#include "ops-image.h"
#include "ops-oci.h"
#include "save-header.h"
#include "sidecar.h"
#include "store.h"
#include "tar.h"
#include "domain-xml.h"
#include "identity.h"
#include "virt.h"
#include "ops-test.h"
#include "vk-error.h"
#include "../unit/vk-test.h"

typedef struct {
  char *dir;
  VkConfig *cfg;
  VkConn *conn;
  VkOps *ops;
  const char *fault;   /* the step that fails, or NULL */
  gboolean cancel_on_progress;
} Fixture;

static const char domain_xml[] =
  "<domain type='kvm'><name>vk-image-test</name>"
  "<uuid>6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d</uuid>"
  "<memory unit='KiB'>131072</memory><vcpu>1</vcpu>"
  "<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
  "<devices><interface type='network'><mac address='52:54:00:aa:bb:01'/>"
  "<source network='default'/><model type='virtio'/>"
  "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>"
  "</interface></devices></domain>";

static gboolean
fail_at (const char *point, gpointer data, GError **error)
{
  Fixture *f = data;
  if (f->fault && g_str_equal (point, f->fault))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, "injected failure at %s", point);
      return FALSE;
    }
  return TRUE;
}

static void
cancel_on_progress (const VkOpsProgress *p, gpointer data)
{
  Fixture *f = data;
  if (f->cancel_on_progress && p->done > 0)
    g_cancellable_cancel (f->ops->cancel);
}

/* A state file: a libvirt save header carrying the domain XML, then
 * `stream` bytes of "memory". */
static void
write_state (const char *path, gsize stream)
{
  g_autoptr(GError) error = NULL;
  VkSaveHeader hdr = { 0 };
  hdr.version = VK_SAVE_VERSION;
  hdr.data_len = 4096;
  hdr.was_running = 1;
  hdr.format = VK_SAVE_FORMAT_RAW;
  hdr.stream_offset = VK_SAVE_FIXED_HEADER_LEN + hdr.data_len;
  g_autoptr(GBytes) head = vk_save_header_emit (&hdr, domain_xml, -1, &error);
  g_assert_no_error (error);
  g_autoptr(GByteArray) all = g_byte_array_new ();
  g_byte_array_append (all, g_bytes_get_data (head, NULL), g_bytes_get_size (head));
  for (gsize i = 0; i < stream; i++)
    {
      guint8 b = (guint8) (i * 7 + 3);
      g_byte_array_append (all, &b, 1);
    }
  g_assert_true (g_file_set_contents (path, (const char *) all->data, all->len, &error));
  g_assert_no_error (error);
}

/* Image NAME in the store: a sidecar, a state, no frozen disks. */
static void
make_image (Fixture *f, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_store_ensure_root (f->cfg->store_dir, &error));
  g_autofree char *images = vk_store_images_dir (f->cfg->store_dir);
  g_assert_cmpint (g_mkdir_with_parents (images, 0700), ==, 0);
  g_autofree char *dir = vk_store_image_dir (f->cfg->store_dir, name);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_autofree char *state = g_build_filename (dir, VK_STORE_STATE, NULL);
  write_state (state, 3u << 20);
  g_autoptr(xmlDoc) doc = vk_xml_parse (domain_xml, -1, "domain", &error);
  g_assert_no_error (error);
  g_autoptr(VkSidecar) sc = vk_sidecar_new ();
  sc->mode = VK_SIDECAR_IMAGE;
  sc->domain_name = vk_domain_name (doc);
  sc->domain_uuid = vk_xml_child_text (xmlDocGetRootElement (doc), "uuid");
  sc->created = g_date_time_new_utc (2024, 5, 1, 12, 34, 56);
  sc->host = g_strdup ("hv1.example.org");
  sc->libvirt_version = g_strdup ("9.0.0");
  sc->qemu_version = g_strdup ("0.0.1");
  sc->identity = vk_identity_from_domain (doc, &error);
  g_assert_no_error (error);
  sc->state_file = g_strdup (VK_STORE_STATE);
  g_assert_true (vk_file_sha256 (state, &sc->state_sha256, &sc->state_size, &error));
  sc->has_state_size = TRUE;
  sc->state_format = VK_SAVE_FORMAT_RAW;
  sc->domain_xml = g_strdup (domain_xml);
  g_autofree char *sidecar = g_build_filename (dir, VK_STORE_SIDECAR, NULL);
  g_assert_true (vk_sidecar_save (sc, sidecar, &error));
  g_assert_no_error (error);
}

static void
setup (Fixture *f, gconstpointer data)
{
  vk_ops_test_open ("vk-ops-image", &f->dir, &f->cfg, &f->conn, &f->ops);
  f->ops->fault = fail_at;
  f->ops->fault_data = f;
  f->ops->progress = cancel_on_progress;
  f->ops->progress_data = f;
  make_image (f, "img");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  vk_ops_test_close (f->dir, f->cfg, f->conn, f->ops);
}

static guint
entries (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;
  while (dir && g_dir_read_name (dir))
    n++;
  return n;
}

/* Nothing left by a failed workflow: no journal, no partial image, no
 * temp file beside the export. */
static void
assert_clean (Fixture *f)
{
  g_autofree char *journal = g_build_filename (f->cfg->store_dir, "journal", NULL);
  g_autofree char *images = vk_store_images_dir (f->cfg->store_dir);
  g_assert_cmpuint (entries (journal), ==, 0);
  g_autoptr(GDir) d = g_dir_open (images, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)) != NULL)
    g_assert_false (strstr (n, VK_STORE_PARTIAL) != NULL);
  g_autoptr(GDir) top = g_dir_open (f->dir, 0, NULL);
  while (top && (n = g_dir_read_name (top)) != NULL)
    g_assert_false (strstr (n, VK_TMP_INFIX) != NULL);
}

static char *
export_path (Fixture *f)
{
  return g_build_filename (f->dir, "img.tar", NULL);
}

static void
test_verify_export (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems = vk_ops_image_verify_named (f->ops, "img", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 0);

  g_autofree char *out = export_path (f);
  g_autoptr(VkExportResult) r = vk_ops_image_export (f->ops, "img", out, FALSE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r);
  g_assert_cmpuint (r->members->len, ==, 2);   /* sidecar, state */
  g_assert_true (g_file_test (out, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (r->bytes % VK_TAR_RECORD, ==, 0);
  assert_clean (f);

  /* an existing FILE is replaced only with force */
  g_assert_null (vk_ops_image_export (f->ops, "img", out, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  g_autoptr(VkExportResult) again = vk_ops_image_export (f->ops, "img", out, TRUE, &error);
  g_assert_no_error (error);
}

static void
test_export_fault (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = export_path (f);
  f->fault = "export-commit";
  g_assert_null (vk_ops_image_export (f->ops, "img", out, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  assert_clean (f);
}

static void
test_export_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = export_path (f);
  f->cancel_on_progress = TRUE;
  g_assert_null (vk_ops_image_export (f->ops, "img", out, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "interrupted"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  assert_clean (f);
}

/* Import the export of "img" as "copy": the result, or (when this
 * libvirt cannot run the image) a refusal that leaves nothing. */
static VkImportResult *
import_copy (Fixture *f, GError **error)
{
  g_autofree char *out = export_path (f);
  if (!g_file_test (out, G_FILE_TEST_EXISTS))
    {
      g_autoptr(VkExportResult) r = vk_ops_image_export (f->ops, "img", out, FALSE, error);
      g_assert_nonnull (r);
    }
  g_assert_true (vk_ops_import_name_free (f->ops, "copy", NULL));
  return vk_ops_image_import (f->ops, out, out, "copy", error);
}

static void
test_import_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkImportResult) r = import_copy (f, &error);
  if (r == NULL)
    {
      /* the test driver runs no QEMU: refused at the host check */
      g_test_message ("import refused: %s", error->message);
      g_assert_nonnull (strstr (error->message, "nothing was imported"));
      assert_clean (f);
      g_autofree char *copy = vk_store_image_dir (f->cfg->store_dir, "copy");
      g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
      return;
    }
  g_assert_cmpstr (r->image, ==, "copy");
  g_autoptr(GPtrArray) problems = vk_ops_image_verify_named (f->ops, "copy", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 0);
  g_assert_true (vk_ops_image_rm (f->ops, "copy", FALSE, &error));
  g_assert_no_error (error);
  assert_clean (f);
}

static void
test_import_fault (Fixture *f, gconstpointer data)
{
  /* the test driver runs no QEMU: the host check refuses the image before
   * import-checked and import-sidecar (tests/e2e reach those) */
  const char *points[] = { "import-received", "import-checked", "import-sidecar" };
  for (gsize i = 0; i < G_N_ELEMENTS (points); i++)
    {
      g_autoptr(GError) error = NULL;
      f->fault = points[i];
      g_autoptr(VkImportResult) r = import_copy (f, &error);
      g_assert_null (r);
      g_assert_nonnull (error);
      if (i == 0)
        g_assert_nonnull (strstr (error->message, "injected failure at import-received"));
      assert_clean (f);
      g_autofree char *copy = vk_store_image_dir (f->cfg->store_dir, "copy");
      g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
    }
}

static void
test_import_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = export_path (f);
  g_autoptr(VkExportResult) e = vk_ops_image_export (f->ops, "img", out, FALSE, &error);
  g_assert_no_error (error);
  f->cancel_on_progress = TRUE;
  g_autoptr(VkImportResult) r = import_copy (f, &error);
  g_assert_null (r);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "interrupted"));
  assert_clean (f);
}

static void
test_rm (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = vk_store_image_dir (f->cfg->store_dir, "img");
  /* a reader holds the image: rm refuses at once, the image stays */
  g_autoptr(VkLock) reader = vk_ops_lock_image (f->ops, "img", TRUE, &error);
  g_assert_no_error (error);
  g_assert_false (vk_ops_image_rm (f->ops, "img", FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_BUSY);
  g_clear_error (&error);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_autoptr(GPtrArray) problems = vk_ops_image_verify_named (f->ops, "img", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 0);
  g_clear_pointer (&reader, vk_lock_release);

  f->fault = "image-rm";
  g_assert_false (vk_ops_image_rm (f->ops, "img", FALSE, &error));
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_clear_error (&error);
  f->fault = NULL;
  g_assert_true (vk_ops_image_rm (f->ops, "img", FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* ---- the image as an OCI layout ------------------------------------------ */

static char *
layout_path (Fixture *f)
{
  return g_build_filename (f->dir, "img.oci", NULL);
}

static char *
titles (const VkOciResult *r)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < r->layers->len; i++)
    {
      const VkOciLayer *y = r->layers->pdata[i];
      g_string_append_printf (s, "%s%s", i ? " " : "", y->title);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static gboolean
run_ok (const char *cmd)
{
  int status = 0;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gboolean ok = g_spawn_command_line_sync (cmd, &out, &err, &status, NULL) &&
                g_spawn_check_wait_status (status, NULL);
  if (!ok)
    g_test_message ("%s failed: %s", cmd, err ? err : "");
  return ok;
}

static void
test_oci_export (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = layout_path (f);
  g_autoptr(VkOciResult) r = vk_ops_image_export_oci (f->ops, "img", out, FALSE, &error);
  g_assert_no_error (error);
  g_autofree char *t = titles (r);
  g_assert_cmpstr (t, ==, "image.xml state.sav");
  /* the state's bytes repeat every 256: it compresses */
  const VkOciLayer *st = r->layers->pdata[1];
  g_assert_cmpstr (st->media_type, ==, "application/vnd.vmkeep.state.v1+zstd");
  g_assert_cmpuint (st->size, <, st->content_size / 10);
  g_autofree char *index = g_build_filename (out, "index.json", NULL);
  g_autofree char *mblob = g_build_filename (out, "blobs", "sha256",
                                             r->manifest_digest + strlen ("sha256:"), NULL);
  g_assert_true (g_file_test (index, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (mblob, G_FILE_TEST_IS_REGULAR));
  assert_clean (f);
  /* an existing DIR is replaced only with force */
  g_assert_null (vk_ops_image_export_oci (f->ops, "img", out, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  g_autoptr(VkOciResult) again = vk_ops_image_export_oci (f->ops, "img", out, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (index, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (entries (f->dir), ==, 2);   /* the store and img.oci, nothing beside */
  /* --force replaces a layout only: any other directory stays as it is */
  g_autofree char *home = g_build_filename (f->dir, "home", NULL);
  g_autofree char *keep = g_build_filename (home, "keep.txt", NULL);
  g_assert_cmpint (g_mkdir (home, 0700), ==, 0);
  g_assert_true (g_file_set_contents (keep, "mine", -1, NULL));
  g_assert_null (vk_ops_image_export_oci (f->ops, "img", home, TRUE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "is not an OCI image layout"));
  g_assert_true (g_file_test (keep, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (entries (home), ==, 1);
  assert_clean (f);
}

static void
test_oci_export_fault (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = layout_path (f);
  f->fault = "export-commit";
  g_assert_null (vk_ops_image_export_oci (f->ops, "img", out, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  assert_clean (f);
  g_clear_error (&error);
  /* with --force, the existing layout stays as it was */
  f->fault = NULL;
  g_autoptr(VkOciResult) r = vk_ops_image_export_oci (f->ops, "img", out, FALSE, &error);
  g_assert_no_error (error);
  f->fault = "export-commit";
  g_assert_null (vk_ops_image_export_oci (f->ops, "img", out, TRUE, &error));
  g_autofree char *mblob = g_build_filename (out, "blobs", "sha256",
                                             r->manifest_digest + strlen ("sha256:"), NULL);
  g_assert_true (g_file_test (mblob, G_FILE_TEST_IS_REGULAR));
  assert_clean (f);
}

static void
test_oci_export_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = layout_path (f);
  f->cancel_on_progress = TRUE;
  g_assert_null (vk_ops_image_export_oci (f->ops, "img", out, FALSE, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "interrupted"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  assert_clean (f);
}

static void
test_oci_import (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = layout_path (f);
  g_autoptr(VkOciResult) e = vk_ops_image_export_oci (f->ops, "img", out, FALSE, &error);
  g_assert_no_error (error);
  g_autoptr(VkImportResult) r = vk_ops_image_import_oci (f->ops, out, NULL, out, "copy", &error);
  if (r == NULL)
    {
      /* the test driver runs no QEMU: refused at the host check */
      g_test_message ("import refused: %s", error->message);
      g_assert_nonnull (strstr (error->message, "nothing was imported"));
    }
  else
    {
      g_assert_cmpstr (r->image, ==, "copy");
      g_assert_true (vk_ops_image_rm (f->ops, "copy", FALSE, &error));
    }
  assert_clean (f);
  g_autofree char *copy = vk_store_image_dir (f->cfg->store_dir, "copy");
  g_assert_false (g_file_test (copy, G_FILE_TEST_EXISTS));
}

/* Image "img" gets frozen disk vda: `file` (format qcow2) in its disks/. */
static void
add_frozen_disk (Fixture *f, const char *file)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = vk_store_image_dir (f->cfg->store_dir, "img");
  g_autofree char *sidecar = g_build_filename (dir, VK_STORE_SIDECAR, NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (sidecar, &text, NULL, &error));
  g_autoptr(VkSidecar) sc = vk_sidecar_parse (text, -1, sidecar, &error);
  g_assert_no_error (error);
  VkFrozenDisk *d = g_new0 (VkFrozenDisk, 1);
  d->target = g_strdup ("vda");
  d->original = g_build_filename (f->dir, "vda.qcow2", NULL);
  d->frozen = g_strdup (file);
  d->format = g_strdup ("qcow2");
  GStatBuf st;
  g_assert_cmpint (g_stat (file, &st), ==, 0);
  d->size = (guint64) st.st_size;
  g_ptr_array_add (sc->frozen_disks, d);
  g_assert_true (vk_sidecar_save (sc, sidecar, &error));
}

/* A frozen overlay over a base outside the image: both travel, one layer
 * each, and the import puts them side by side; a frozen disk with an
 * external data file cannot travel file by file: it is flattened. */
static void
test_oci_chain (Fixture *f, gconstpointer data)
{
  g_autofree char *qemu_img = g_find_program_in_path ("qemu-img");
  if (qemu_img == NULL)
    {
      vk_test_skip_or_fail ("qemu-img is not installed");
      return;
    }
  g_autofree char *dir = vk_store_image_dir (f->cfg->store_dir, "img");
  g_autofree char *disks = g_build_filename (dir, "disks", NULL);
  g_assert_cmpint (g_mkdir (disks, 0700), ==, 0);
  g_autofree char *base = g_build_filename (f->dir, "base.qcow2", NULL);
  g_autofree char *top = g_build_filename (disks, "vda.qcow2", NULL);
  g_autofree char *c1 = g_strdup_printf ("qemu-img create -q -f qcow2 %s 8M", base);
  g_autofree char *c2 = g_strdup_printf ("qemu-io -f qcow2 -c 'write -P 0x5a 0 1M' %s", base);
  g_autofree char *c3 = g_strdup_printf ("qemu-img create -q -f qcow2 -F qcow2 -b %s %s", base, top);
  g_assert_true (run_ok (c1) && run_ok (c2) && run_ok (c3));
  add_frozen_disk (f, top);
  g_autoptr(GError) error = NULL;
  g_autofree char *out = layout_path (f);
  g_autoptr(VkOciResult) r = vk_ops_image_export_oci (f->ops, "img", out, FALSE, &error);
  g_assert_no_error (error);
  g_autofree char *t = titles (r);
  g_assert_cmpstr (t, ==, "image.xml state.sav disks/vda.qcow2 disks/vda.1.qcow2");
  assert_clean (f);

  /* an external data file: flattened into one standalone layer */
  g_autofree char *data_img = g_build_filename (disks, "vdb.qcow2", NULL);
  g_autofree char *raw = g_build_filename (disks, "vdb.raw", NULL);
  g_autofree char *c4 = g_strdup_printf ("qemu-img create -q -f qcow2 -o data_file=%s %s 4M",
                                         raw, data_img);
  g_assert_true (run_ok (c4));
  g_autofree char *sidecar = g_build_filename (dir, VK_STORE_SIDECAR, NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (sidecar, &text, NULL, NULL));
  g_autoptr(VkSidecar) sc = vk_sidecar_parse (text, -1, sidecar, &error);
  g_assert_no_error (error);
  VkFrozenDisk *d = sc->frozen_disks->pdata[0];
  g_free (d->frozen);
  d->frozen = g_strdup (data_img);
  GStatBuf st;
  g_assert_cmpint (g_stat (data_img, &st), ==, 0);
  d->size = (guint64) st.st_size;
  g_assert_true (vk_sidecar_save (sc, sidecar, &error));
  g_autoptr(VkOciResult) flat = vk_ops_image_export_oci (f->ops, "img", out, TRUE, &error);
  g_assert_no_error (error);
  g_autofree char *ft = titles (flat);
  g_assert_cmpstr (ft, ==, "image.xml state.sav disks/vda.qcow2");
  g_autofree char *flatfile = g_build_filename (out, "flat.qcow2", NULL);
  g_assert_false (g_file_test (flatfile, G_FILE_TEST_EXISTS));
  assert_clean (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/ops/image/verify-export", test_verify_export);
  ADD ("/ops/image/export-fault", test_export_fault);
  ADD ("/ops/image/export-cancel", test_export_cancel);
  ADD ("/ops/image/import-roundtrip", test_import_roundtrip);
  ADD ("/ops/image/import-fault", test_import_fault);
  ADD ("/ops/image/import-cancel", test_import_cancel);
  ADD ("/ops/image/rm", test_rm);
  ADD ("/ops/image/oci-export", test_oci_export);
  ADD ("/ops/image/oci-export-fault", test_oci_export_fault);
  ADD ("/ops/image/oci-export-cancel", test_oci_export_cancel);
  ADD ("/ops/image/oci-import", test_oci_import);
  ADD ("/ops/image/oci-chain", test_oci_chain);
  return g_test_run ();
}
