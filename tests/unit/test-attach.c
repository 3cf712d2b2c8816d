/* Unit tests for src/core/attach.c: the elements fs attach and device
 * attach hand to libvirt, finding devices again by tag, BDF or ID, the
 * per-VM uniqueness rules, the `devices` rows, and the vfio-pci check on a
 * fake sysfs tree. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "attach.h"
#include "domain-xml.h"
#include "vk-error.h"

static void
assert_message_has (const GError *error, const char *needle)
{
  g_assert_nonnull (error);
  if (strstr (error->message, needle) == NULL)
    g_test_fail_printf ("error message “%s” does not mention “%s”", error->message, needle);
}

static xmlDocPtr
parse (const char *xml)
{
  g_autoptr(GError) error = NULL;
  xmlDocPtr doc = vk_xml_parse (xml, -1, "test", &error);
  g_assert_no_error (error);
  return doc;
}

static char *
format (xmlNodePtr n)
{
  g_autoptr(xmlDoc) holder = xmlNewDoc (BAD_CAST "1.0");
  xmlDocSetRootElement (holder, n);
  g_autofree char *s = vk_xml_node_format (n);
  return g_strstrip (g_strdup (s));
}

/* A running q35 VM as libvirt reports it: shared memory, a filesystem
 * 'data' on a socket behind the root port at 0x12, a hostdev with ID gpu
 * behind 0x13, a managed filesystem only in the persistent definition. */
#define DOMAIN_HEAD \
  "<domain type='qemu'><name>vm</name>" \
  "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>" \
  "<os><type machine='pc-q35-7.2'>hvm</type></os><devices>"

static const char live_xml[] =
  DOMAIN_HEAD
  "<filesystem type='mount'><driver type='virtiofs' queue='1024'/>"
  "<source socket='/run/vfs/data.sock'/><target dir='data'/><alias name='fs0'/>"
  "<address type='pci' domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></filesystem>"
  "<hostdev mode='subsystem' type='pci' managed='no'><source>"
  "<address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>"
  "<alias name='ua-gpu'/>"
  "<address type='pci' domain='0x0000' bus='0x0a' slot='0x00' function='0x0'/></hostdev>"
  "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/><product id='0x2'/></source></hostdev>"
  "<interface type='bridge'><mac address='52:54:00:00:00:01'/><alias name='net0'/></interface>"
  "</devices></domain>";

static const char cfg_xml[] =
  DOMAIN_HEAD
  "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>"
  "<binary path='/usr/lib/qemu/virtiofsd'/><source dir='/srv/share'/><target dir='cold'/>"
  "<address type='pci' domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></filesystem>"
  "<hostdev mode='subsystem' type='pci' managed='no'><source>"
  "<address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source>"
  "<alias name='ua-gpu'/>"
  "<address type='pci' domain='0x0000' bus='0x0b' slot='0x00' function='0x0'/></hostdev>"
  "</devices></domain>";

/* ------------------------------------------------------------ elements */

static void
test_fs_element_socket (void)
{
  VkFsSpec spec = { .tag = (char *) "data", .socket = (char *) "/run/vfs/data.sock",
                    .queue_size = 1024 };
  g_autofree char *xml = format (vk_fs_element_new (&spec));
  g_assert_cmpstr (xml, ==,
                   "<filesystem type=\"mount\">\n"
                   "  <driver type=\"virtiofs\" queue=\"1024\"/>\n"
                   "  <source socket=\"/run/vfs/data.sock\"/>\n"
                   "  <target dir=\"data\"/>\n"
                   "</filesystem>");
}

static void
test_fs_element_source_dir (void)
{
  VkFsSpec spec = { .tag = (char *) "share", .source_dir = (char *) "/srv/share",
                    .binary = (char *) "/usr/lib/qemu/virtiofsd" };
  g_autofree char *xml = format (vk_fs_element_new (&spec));
  g_assert_cmpstr (xml, ==,
                   "<filesystem type=\"mount\" accessmode=\"passthrough\">\n"
                   "  <driver type=\"virtiofs\"/>\n"
                   "  <binary path=\"/usr/lib/qemu/virtiofsd\"/>\n"
                   "  <source dir=\"/srv/share\"/>\n"
                   "  <target dir=\"share\"/>\n"
                   "</filesystem>");
}

static void
test_hostdev_element (void)
{
  VkBdf bdf = { 0, 0x3b, 0x1f, 7 };
  g_autofree char *xml = format (vk_hostdev_element_new (&bdf, "nvme0"));
  g_assert_cmpstr (xml, ==,
                   "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"no\">\n"
                   "  <source>\n"
                   "    <address domain=\"0x0000\" bus=\"0x3b\" slot=\"0x1f\" function=\"0x7\"/>\n"
                   "  </source>\n"
                   "  <alias name=\"ua-nvme0\"/>\n"
                   "</hostdev>");
  VkBdf none = { 0x10, 1, 0, 0 };
  g_autofree char *plain = format (vk_hostdev_element_new (&none, NULL));
  g_assert_null (strstr (plain, "alias"));
  g_assert_nonnull (strstr (plain, "domain=\"0x0010\""));
}

/* ---------------------------------------------------------- validation */

typedef struct {
  const char *input;
  gboolean ok;
  const char *expect;
} StrCase;

static const StrCase id_cases[] = {
  { "gpu", TRUE, NULL },
  { "nvme0", TRUE, NULL },
  { "0", TRUE, NULL },
  { "a_b-c", TRUE, NULL },
  { "12345678901234567890123456789012", TRUE, NULL },          /* 32 */
  { "123456789012345678901234567890123", FALSE, "33" },        /* 33 */
  { "", FALSE, "empty" },
  { "-gpu", FALSE, "start with" },
  { "_gpu", FALSE, "start with" },
  { "gpu.0", FALSE, "'.'" },
  { "gpu 0", FALSE, "' '" },
  { "gpu/0", FALSE, "'/'" },
  { "01:00.0", FALSE, "':'" },
  { "ua-gpu'", FALSE, "'''" },
};

static void
test_device_id (gconstpointer data)
{
  const StrCase *c = data;
  g_autoptr(GError) error = NULL;
  gboolean ok = vk_validate_device_id (c->input, &error);
  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  assert_message_has (error, c->expect);
}

static void
test_queue_size (void)
{
  const guint64 good[] = { 16, 32, 64, 128, 256, 512, 1024 };
  const guint64 bad[] = { 0, 1, 8, 15, 100, 1000, 2048, 4096, G_MAXUINT32 };
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    g_assert_true (vk_validate_fs_queue_size (good[i], NULL));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (vk_validate_fs_queue_size (bad[i], &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      assert_message_has (error, "power of two");
    }
}

static void
test_shared_memory (void)
{
  const struct { const char *xml; gboolean shared; } cases[] = {
    { DOMAIN_HEAD "</devices></domain>", TRUE },
    { "<domain><name>a</name><memoryBacking><source type='memfd'/></memoryBacking></domain>", FALSE },
    { "<domain><name>a</name><memoryBacking><access mode='private'/></memoryBacking></domain>", FALSE },
    { "<domain><name>a</name></domain>", FALSE },
    { "<domain><name>a</name><cpu><numa><cell id='0' memory='1' memAccess='shared'/>"
      "<cell id='1' memory='1' memAccess='shared'/></numa></cpu></domain>", TRUE },
    { "<domain><name>a</name><cpu><numa><cell id='0' memory='1' memAccess='shared'/>"
      "<cell id='1' memory='1'/></numa></cpu></domain>", FALSE },
    { "<domain><name>a</name><cpu><numa/></cpu></domain>", FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(xmlDoc) doc = parse (cases[i].xml);
      g_test_message ("case %u", i);
      g_assert_cmpint (vk_domain_has_shared_memory (doc), ==, cases[i].shared);
    }
  g_assert_false (vk_domain_has_shared_memory (NULL));
}

/* ---------------------------------------------------- finding, unique */

static void
test_find (void)
{
  g_autoptr(xmlDoc) doc = parse (live_xml);
  g_assert_nonnull (vk_domain_find_fs (doc, "data"));
  g_assert_null (vk_domain_find_fs (doc, "Data"));
  g_assert_null (vk_domain_find_fs (doc, "cold"));
  g_assert_null (vk_domain_find_fs (NULL, "data"));

  VkBdf bdf = { 0, 1, 0, 1 };
  xmlNodePtr hd = vk_domain_find_hostdev (doc, &bdf);
  g_assert_nonnull (hd);
  bdf.function = 0;
  g_assert_null (vk_domain_find_hostdev (doc, &bdf));

  /* every form of the BDF, the ID and the full alias find it */
  const char *keys[] = { "01:00.1", "0000:01:00.1", "/sys/bus/pci/devices/0000:01:00.1",
                         "gpu", "ua-gpu" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_assert_true (vk_domain_find_hostdev_by_key (doc, keys[i]) == hd);
  /* not the filesystem's or a NIC's alias, nor another function */
  const char *misses[] = { "fs0", "net0", "01:00.0", "GPU", "", "ua-" };
  for (guint i = 0; i < G_N_ELEMENTS (misses); i++)
    g_assert_null (vk_domain_find_hostdev_by_key (doc, misses[i]));
  g_assert_null (vk_domain_find_hostdev_by_key (doc, NULL));

  VkBdf got;
  g_assert_true (vk_hostdev_source_bdf (hd, &got));
  g_assert_cmpuint (got.bus, ==, 1);
  g_assert_cmpuint (got.function, ==, 1);
  g_assert_nonnull (vk_domain_find_alias (doc, "net0"));
}

static void
test_fs_tag_unique (void)
{
  g_autoptr(xmlDoc) doc = parse (live_xml);
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_check_fs_tag_unique (doc, "vm", "running VM", "cold", &error));
  g_assert_no_error (error);
  /* tags are case-sensitive in the guest */
  g_assert_true (vk_check_fs_tag_unique (doc, "vm", "running VM", "DATA", &error));
  g_assert_false (vk_check_fs_tag_unique (doc, "vm", "running VM", "data", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, "running VM of 'vm'");
  assert_message_has (error, "'data'");
  assert_message_has (error, "/run/vfs/data.sock");
  assert_message_has (error, "vmkeep fs detach vm data");
  g_clear_error (&error);

  g_autoptr(xmlDoc) cfg = parse (cfg_xml);
  g_assert_false (vk_check_fs_tag_unique (cfg, "vm", "persistent definition", "cold", &error));
  assert_message_has (error, "/srv/share");
  g_clear_error (&error);
  g_assert_true (vk_check_fs_tag_unique (NULL, "vm", "running VM", "data", NULL));
}

static void
test_hostdev_unique (void)
{
  g_autoptr(xmlDoc) doc = parse (live_xml);
  g_autoptr(GError) error = NULL;
  VkBdf same = { 0, 1, 0, 1 }, other = { 0, 1, 0, 0 };

  g_assert_true (vk_check_hostdev_unique (doc, "vm", "running VM", &other, NULL, &error));
  g_assert_true (vk_check_hostdev_unique (doc, "vm", "running VM", &other, "nic1", &error));
  g_assert_no_error (error);
  g_assert_false (vk_check_hostdev_unique (doc, "vm", "running VM", &same, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, "0000:01:00.1");
  g_clear_error (&error);
  g_assert_false (vk_check_hostdev_unique (doc, "vm", "running VM", &other, "gpu", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, "ID 'gpu'");
}

/* -------------------------------------------------------------- listing */

static void
test_attached_devices (void)
{
  g_autoptr(xmlDoc) live = parse (live_xml);
  g_autoptr(xmlDoc) cfg = parse (cfg_xml);
  g_autoptr(GPtrArray) rows = vk_attached_devices (live, cfg);
  g_assert_cmpuint (rows->len, ==, 3);

  VkAttachedDevice *cold = rows->pdata[0], *data = rows->pdata[1], *hd = rows->pdata[2];
  g_assert_cmpstr (cold->kind, ==, "filesystem");
  g_assert_cmpstr (cold->name, ==, "cold");
  g_assert_false (cold->live);
  g_assert_true (cold->config);
  g_assert_cmpstr (cold->source_type, ==, "dir");
  g_assert_cmpstr (cold->source, ==, "/srv/share");
  g_assert_cmpstr (cold->address, ==, "0000:09:00.0");
  g_assert_null (cold->alias);
  g_assert_null (cold->id);

  g_assert_cmpstr (data->name, ==, "data");
  g_assert_true (data->live);
  g_assert_false (data->config);
  g_assert_cmpstr (data->source_type, ==, "socket");
  g_assert_cmpstr (data->alias, ==, "fs0");
  g_assert_null (data->id);

  g_assert_cmpstr (hd->kind, ==, "hostdev");
  g_assert_cmpstr (hd->name, ==, "0000:01:00.1");
  g_assert_true (hd->live);
  g_assert_true (hd->config);
  g_assert_cmpstr (hd->id, ==, "gpu");
  g_assert_cmpstr (hd->alias, ==, "ua-gpu");
  /* where the guest sees it now, not where the next boot puts it */
  g_assert_cmpstr (hd->address, ==, "0000:0a:00.0");
  g_assert_null (hd->source);

  g_autoptr(GPtrArray) none = vk_attached_devices (NULL, NULL);
  g_assert_cmpuint (none->len, ==, 0);
  g_autoptr(GPtrArray) cfg_only = vk_attached_devices (NULL, cfg);
  g_assert_cmpuint (cfg_only->len, ==, 2);
  g_assert_cmpstr (((VkAttachedDevice *) cfg_only->pdata[1])->address, ==, "0000:0b:00.0");
}

/* --------------------------------------------------------- sysfs check */

static char *
fake_sysfs (void)
{
  g_autoptr(GError) error = NULL;
  char *root = g_dir_make_tmp ("vk-sysfs-XXXXXX", &error);
  g_assert_no_error (error);
  const char *devs[] = { "0000:01:00.0", "0000:02:00.0", "0000:03:00.0", NULL };
  const char *drivers[] = { "vfio-pci", "nvme", NULL };
  for (guint i = 0; devs[i]; i++)
    {
      g_autofree char *d = g_build_filename (root, "bus/pci/devices", devs[i], NULL);
      g_assert_cmpint (g_mkdir_with_parents (d, 0755), ==, 0);
      if (drivers[i] == NULL)
        continue;
      g_autofree char *drv = g_build_filename (root, "bus/pci/drivers", drivers[i], NULL);
      g_assert_cmpint (g_mkdir_with_parents (drv, 0755), ==, 0);
      g_autofree char *link = g_build_filename (d, "driver", NULL);
      g_autofree char *target = g_strdup_printf ("../../../bus/pci/drivers/%s", drivers[i]);
      g_assert_cmpint (symlink (target, link), ==, 0);
    }
  return root;
}

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *e;
  while (dir && (e = g_dir_read_name (dir)))
    {
      g_autofree char *p = g_build_filename (path, e, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        rm_rf (p);
      else
        g_unlink (p);
    }
  g_rmdir (path);
}

static void
test_vfio_check (void)
{
  g_autofree char *root = fake_sysfs ();
  g_autoptr(GError) error = NULL;
  VkBdf vfio = { 0, 1, 0, 0 }, nvme = { 0, 2, 0, 0 }, unbound = { 0, 3, 0, 0 },
        missing = { 0, 4, 0, 0 };

  g_assert_true (vk_pci_host_check_vfio (root, &vfio, &error));
  g_assert_no_error (error);

  g_assert_false (vk_pci_host_check_vfio (root, &nvme, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, "0000:02:00.0 is bound to driver 'nvme'");
  assert_message_has (error, "/sys/bus/pci/devices/0000:02:00.0/driver/unbind");
  assert_message_has (error, "driver_override");
  assert_message_has (error, "driverctl set-override 0000:02:00.0 vfio-pci");
  g_clear_error (&error);

  g_assert_false (vk_pci_host_check_vfio (root, &unbound, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  assert_message_has (error, "not bound to any driver");
  assert_message_has (error, "vfio-pci");
  g_assert_null (strstr (error->message, "unbind"));
  g_clear_error (&error);

  g_assert_false (vk_pci_host_check_vfio (root, &missing, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  assert_message_has (error, "0000:04:00.0 not found");
  assert_message_has (error, "lspci");
  g_clear_error (&error);

  /* the same verdicts from what libvirt's node device API says */
  g_assert_true (vk_pci_host_verdict (&vfio, TRUE, "vfio-pci", NULL));
  g_assert_false (vk_pci_host_verdict (&nvme, TRUE, "nvme", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  g_assert_false (vk_pci_host_verdict (&missing, FALSE, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);

  rm_rf (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attach/element/fs-socket", test_fs_element_socket);
  g_test_add_func ("/attach/element/fs-source-dir", test_fs_element_source_dir);
  g_test_add_func ("/attach/element/hostdev", test_hostdev_element);
  for (guint i = 0; i < G_N_ELEMENTS (id_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attach/device-id/%02u", i);
      g_test_add_data_func (path, &id_cases[i], test_device_id);
    }
  g_test_add_func ("/attach/queue-size", test_queue_size);
  g_test_add_func ("/attach/shared-memory", test_shared_memory);
  g_test_add_func ("/attach/find", test_find);
  g_test_add_func ("/attach/unique/fs-tag", test_fs_tag_unique);
  g_test_add_func ("/attach/unique/hostdev", test_hostdev_unique);
  g_test_add_func ("/attach/devices", test_attached_devices);
  g_test_add_func ("/attach/vfio-check", test_vfio_check);
  return g_test_run ();
}
