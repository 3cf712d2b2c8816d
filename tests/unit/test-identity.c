/* Unit tests for src/core/identity.c on the domain XMLs in
 * tests/data/identity/: q35.xml and pc.xml are live XMLs as libvirt 9.0
 * shows them; the other files each change one thing (the name says what). */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <libxml/parser.h>

#include "domain-xml.h"
#include "identity.h"
#include "vk-error.h"

static xmlDocPtr
load (const char *name)
{
  const char *path = g_test_get_filename (G_TEST_DIST, "tests", "data",
                                          "identity", name, NULL);
  g_autoptr(GError) error = NULL;
  xmlDocPtr doc = vk_xml_parse_file (path, &error);

  if (doc == NULL)
    g_error ("cannot load fixture %s: %s (is G_TEST_SRCDIR the top source "
             "directory?)", path, error->message);
  return doc;
}

static VkIdentity *
identity_of (xmlDocPtr doc)
{
  g_autoptr(GError) error = NULL;
  VkIdentity *id = vk_identity_from_domain (doc, &error);

  g_assert_no_error (error);
  g_assert_nonnull (id);
  return id;
}

static VkIdentity *
load_identity (const char *name)
{
  g_autoptr(xmlDoc) doc = load (name);
  return identity_of (doc);
}

/* Devices of a document found by XPath-free walking: the n-th (0-based)
 * child of <devices> called `name`. */
static xmlNodePtr
device (xmlDocPtr doc, const char *name, guint n)
{
  xmlNodePtr devs = vk_xml_child (xmlDocGetRootElement (doc), "devices");

  for (xmlNodePtr c = devs->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST name) &&
        n-- == 0)
      return c;
  g_error ("fixture has no %s #%u", name, n);
  return NULL;
}

static void
assert_lines (GPtrArray *got, const char *const *want)
{
  guint n = want != NULL ? g_strv_length ((char **) want) : 0;

  for (guint i = 0; i < got->len; i++)
    g_test_message ("got: %s", (const char *) got->pdata[i]);
  g_assert_cmpuint (got->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (got->pdata[i], ==, want[i]);
}

/* ------------------------------------------------------------ extraction */

static void
test_extract_q35 (void)
{
  g_autoptr(VkIdentity) id = load_identity ("q35.xml");
  const VkIdentityNic *nic;
  const VkIdentityDisk *disk;
  const VkIdentityPort *port;
  static const struct {
    guint index;
    const char *address;
    int chassis, port;
  } ports[] = {
    { 1, "0000:00:03.0", 1, 0x18 },
    { 2, "0000:00:04.0", 2, 0x20 },
    { 3, "0000:00:05.0", 3, 0x28 },
    { 7, "0000:00:10.0", 7, 0x80 },
    { 8, "0000:00:11.0", 8, 0x88 },
  };
  static const struct {
    const char *description;
    const char *address;
  } devices[] = {
    { "controller usb 0 qemu-xhci", "0000:08:00.0" },
    { "controller sata 0", "0000:00:1f.2" },
    { "memballoon virtio", "0000:00:12.0" },
    { "rng virtio", "0000:00:13.0" },
  };

  g_assert_cmpstr (id->machine, ==, "pc-q35-7.2");

  g_assert_cmpuint (id->nics->len, ==, 2);
  nic = id->nics->pdata[0];
  g_assert_cmpstr (nic->mac, ==, "52:54:00:aa:bb:cc");
  g_assert_cmpstr (nic->model, ==, "virtio");
  g_assert_cmpuint (nic->queues, ==, 4);
  g_assert_cmpstr (nic->address, ==, "0000:01:00.0");
  g_assert_cmpint (nic->acpi_index, ==, 1);
  g_assert_cmpstr (nic->tap, ==, "vnet3");
  g_assert_cmpstr (nic->source_type, ==, "bridge");
  g_assert_cmpstr (nic->source, ==, "br0");
  nic = id->nics->pdata[1];
  g_assert_cmpstr (nic->mac, ==, "52:54:00:aa:bb:dd");
  g_assert_cmpuint (nic->queues, ==, 0);
  g_assert_cmpstr (nic->address, ==, "0000:02:00.0");
  g_assert_cmpint (nic->acpi_index, ==, 2);
  g_assert_cmpstr (nic->source_type, ==, "network");
  g_assert_cmpstr (nic->source, ==, "default");

  g_assert_cmpuint (id->disks->len, ==, 2);
  disk = id->disks->pdata[0];
  g_assert_cmpstr (disk->target, ==, "vda");
  g_assert_cmpstr (disk->bus, ==, "virtio");
  g_assert_cmpstr (disk->device, ==, "disk");
  g_assert_cmpstr (disk->address, ==, "0000:07:00.0");
  g_assert_false (disk->readonly);
  g_assert_cmpstr (disk->path, ==, "/var/lib/libvirt/images/win11.qcow2");
  g_assert_cmpstr (disk->format, ==, "qcow2");
  disk = id->disks->pdata[1];
  g_assert_cmpstr (disk->target, ==, "sda");
  g_assert_cmpstr (disk->bus, ==, "sata");
  g_assert_cmpstr (disk->device, ==, "cdrom");
  g_assert_cmpstr (disk->address, ==, "drive 0:0:0:0");
  g_assert_true (disk->readonly);

  g_assert_cmpuint (id->ports->len, ==, G_N_ELEMENTS (ports));
  for (gsize i = 0; i < G_N_ELEMENTS (ports); i++)
    {
      port = id->ports->pdata[i];
      g_assert_cmpuint (port->index, ==, ports[i].index);
      g_assert_cmpstr (port->model, ==, "pcie-root-port");
      g_assert_cmpstr (port->address, ==, ports[i].address);
      g_assert_cmpint (port->chassis, ==, ports[i].chassis);
      g_assert_cmpint (port->port, ==, ports[i].port);
    }

  /* pcie-root has no address; video model none, ps2 inputs and the TPM
   * are not PCI devices. */
  g_assert_cmpuint (id->devices->len, ==, G_N_ELEMENTS (devices));
  for (gsize i = 0; i < G_N_ELEMENTS (devices); i++)
    {
      const VkIdentityDevice *dev = id->devices->pdata[i];
      g_assert_cmpstr (dev->description, ==, devices[i].description);
      g_assert_cmpstr (dev->address, ==, devices[i].address);
    }
}

static void
test_extract_pc (void)
{
  g_autoptr(VkIdentity) id = load_identity ("pc.xml");
  const VkIdentityNic *nic;

  g_assert_cmpstr (id->machine, ==, "pc-i440fx-7.2");
  g_assert_cmpuint (id->nics->len, ==, 2);
  nic = id->nics->pdata[0];
  g_assert_cmpstr (nic->address, ==, "0000:00:03.0");
  g_assert_cmpstr (nic->tap, ==, "tap-tiny0");
  g_assert_cmpstr (nic->source_type, ==, "ethernet");
  g_assert_null (nic->source);
  nic = id->nics->pdata[1];
  g_assert_cmpstr (nic->address, ==, "0000:00:04.0");
  g_assert_cmpuint (id->disks->len, ==, 1);
  g_assert_cmpstr (((VkIdentityDisk *) id->disks->pdata[0])->format, ==, "raw");
  g_assert_cmpuint (id->ports->len, ==, 0);
  g_assert_cmpuint (id->devices->len, ==, 1);
  g_assert_cmpstr (((VkIdentityDevice *) id->devices->pdata[0])->description, ==,
                   "memballoon virtio");
}

static void
test_extract_not_domain (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = vk_xml_parse ("<network><name>x</name></network>", -1,
                                        "net.xml", &error);
  g_autoptr(VkIdentity) id = NULL;

  g_assert_no_error (error);
  id = vk_identity_from_domain (doc, &error);
  g_assert_null (id);
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
}

/* --------------------------------------------------- comparing fixtures */

typedef struct {
  const char *expected;
  const char *actual;
  const char *const *lines;
} CompareCase;

static const CompareCase compare_cases[] = {
  { "q35.xml", "q35.xml", NULL },
  { "q35.xml", "q35-host-side.xml", NULL },
  { "pc.xml", "pc-host-side.xml", NULL },
  { "q35.xml", "q35-moved-nic.xml",
    (const char *const[]) {
      "NIC 52:54:00:aa:bb:cc: PCI address 0000:01:00.0 -> 0000:03:00.0", NULL } },
  { "q35.xml", "q35-moved-port.xml",
    (const char *const[]) {
      "pcie-root-port 1: PCI address 0000:00:03.0 -> 0000:00:06.0", NULL } },
  { "q35.xml", "q35-changed-mac.xml",
    (const char *const[]) {
      "NIC at 0000:01:00.0: MAC 52:54:00:aa:bb:cc -> 52:54:00:aa:bb:ee", NULL } },
  { "q35.xml", "q35-changed-queues.xml",
    (const char *const[]) { "NIC 52:54:00:aa:bb:cc: queues 4 -> 2", NULL } },
  { "q35.xml", "q35-added-disk.xml",
    (const char *const[]) { "disk vdb: added", NULL } },
  { "q35-added-disk.xml", "q35.xml",
    (const char *const[]) { "disk vdb: missing", NULL } },
  { "pc.xml", "pc-moved-nic.xml",
    (const char *const[]) {
      "NIC 52:54:00:12:34:02: PCI address 0000:00:04.0 -> 0000:00:05.0", NULL } },
};

static void
test_compare_fixture (gconstpointer data)
{
  const CompareCase *c = data;
  g_autoptr(VkIdentity) e = load_identity (c->expected);
  g_autoptr(VkIdentity) a = load_identity (c->actual);
  g_autoptr(GPtrArray) lines = vk_identity_compare (e, a);

  assert_lines (lines, c->lines);
}

static void
test_compare_machine (void)
{
  g_autoptr(VkIdentity) e = load_identity ("pc.xml");
  g_autoptr(VkIdentity) a = load_identity ("q35.xml");
  g_autoptr(GPtrArray) lines = vk_identity_compare (e, a);

  g_assert_cmpuint (lines->len, >, 1);
  g_assert_cmpstr (lines->pdata[0], ==, "machine type pc-i440fx-7.2 -> pc-q35-7.2");
}

/* ------------------------------------------- comparing edited documents */

typedef void (*EditFunc) (xmlDocPtr doc);

static GPtrArray *
compare_edited (const char *fixture, EditFunc edit)
{
  g_autoptr(xmlDoc) doc = load (fixture);
  g_autoptr(VkIdentity) before = identity_of (doc);
  g_autoptr(VkIdentity) after = NULL;

  edit (doc);
  after = identity_of (doc);
  return vk_identity_compare (before, after);
}

static void
edit_model (xmlDocPtr doc)
{
  xmlSetProp (vk_xml_child (device (doc, "interface", 1), "model"),
              BAD_CAST "type", BAD_CAST "e1000e");
}

static void
edit_acpi_removed (xmlDocPtr doc)
{
  xmlNodePtr acpi = vk_xml_child (device (doc, "interface", 0), "acpi");
  xmlUnlinkNode (acpi);
  xmlFreeNode (acpi);
}

static void
edit_nic_removed (xmlDocPtr doc)
{
  xmlNodePtr nic = device (doc, "interface", 1);
  xmlUnlinkNode (nic);
  xmlFreeNode (nic);
}

static void
edit_queues_one (xmlDocPtr doc)
{
  /* queues='1' is what no queues attribute means: not a change. */
  xmlNodePtr nic = device (doc, "interface", 1);
  xmlNodePtr drv = xmlNewChild (nic, NULL, BAD_CAST "driver", NULL);
  xmlSetProp (drv, BAD_CAST "queues", BAD_CAST "1");
}

static void
edit_readonly (xmlDocPtr doc)
{
  xmlNewChild (device (doc, "disk", 0), NULL, BAD_CAST "readonly", NULL);
}

static void
edit_disk_bus (xmlDocPtr doc)
{
  xmlNodePtr disk = device (doc, "disk", 0);
  xmlSetProp (vk_xml_child (disk, "target"), BAD_CAST "bus", BAD_CAST "scsi");
  vk_xml_remove_address (disk);
}

static void
edit_balloon_moved (xmlDocPtr doc)
{
  vk_xml_set_pci_address (device (doc, "memballoon", 0), 0, 0x1e, 0);
}

static void
edit_host_only (xmlDocPtr doc)
{
  xmlNodePtr nic = device (doc, "interface", 0);
  xmlNodePtr disk = device (doc, "disk", 0);

  xmlSetProp (vk_xml_child (nic, "target"), BAD_CAST "dev", BAD_CAST "tap9");
  xmlSetProp (vk_xml_child (nic, "source"), BAD_CAST "bridge", BAD_CAST "br9");
  xmlSetProp (vk_xml_child (disk, "source"), BAD_CAST "file", BAD_CAST "/elsewhere.raw");
  xmlSetProp (vk_xml_child (disk, "driver"), BAD_CAST "type", BAD_CAST "raw");
  xmlSetProp (vk_xml_child (nic, "alias"), BAD_CAST "name", BAD_CAST "ua-x");
}

static void
edit_port_chassis (xmlDocPtr doc)
{
  xmlSetProp (vk_xml_child (device (doc, "controller", 1), "target"),
              BAD_CAST "chassis", BAD_CAST "9");
}

typedef struct {
  const char *name;
  const char *fixture;
  EditFunc edit;
  const char *const *lines;
} EditCase;

static const EditCase edit_cases[] = {
  { "model", "q35.xml", edit_model,
    (const char *const[]) { "NIC 52:54:00:aa:bb:dd: model virtio -> e1000e", NULL } },
  { "acpi-removed", "q35.xml", edit_acpi_removed,
    (const char *const[]) { "NIC 52:54:00:aa:bb:cc: ACPI index 1 -> (none)", NULL } },
  { "nic-removed", "q35.xml", edit_nic_removed,
    (const char *const[]) { "NIC 52:54:00:aa:bb:dd: missing", NULL } },
  { "queues-one", "q35.xml", edit_queues_one, NULL },
  { "readonly", "pc.xml", edit_readonly,
    (const char *const[]) { "disk vda: read-only no -> yes", NULL } },
  { "disk-bus", "pc.xml", edit_disk_bus,
    (const char *const[]) { "disk vda: bus virtio -> scsi",
                            "disk vda: PCI address 0000:00:10.0 -> (none)", NULL } },
  { "balloon-moved", "pc.xml", edit_balloon_moved,
    (const char *const[]) {
      "memballoon virtio: PCI address 0000:00:11.0 -> 0000:00:1e.0", NULL } },
  { "host-only", "q35.xml", edit_host_only, NULL },
  { "port-chassis", "q35.xml", edit_port_chassis,
    (const char *const[]) { "pcie-root-port 1: chassis 1 -> 9", NULL } },
};

static void
test_compare_edit (gconstpointer data)
{
  const EditCase *c = data;
  g_autoptr(GPtrArray) lines = compare_edited (c->fixture, c->edit);

  assert_lines (lines, c->lines);
}

/* Two devices with the same description: the one that kept its slot is
 * not reported, only the one that moved. */
static void
test_compare_duplicates (void)
{
  g_autoptr(VkIdentity) e = vk_identity_new ();
  g_autoptr(VkIdentity) a = vk_identity_new ();
  g_autoptr(GPtrArray) lines = NULL;
  const char *exp_addr[] = { "0000:00:13.0", "0000:00:14.0" };
  const char *act_addr[] = { "0000:00:14.0", "0000:00:15.0" };

  for (int i = 0; i < 2; i++)
    {
      VkIdentityDevice *d = g_new0 (VkIdentityDevice, 1);
      d->description = g_strdup ("rng virtio");
      d->address = g_strdup (exp_addr[i]);
      g_ptr_array_add (e->devices, d);
      d = g_new0 (VkIdentityDevice, 1);
      d->description = g_strdup ("rng virtio");
      d->address = g_strdup (act_addr[i]);
      g_ptr_array_add (a->devices, d);
    }
  lines = vk_identity_compare (e, a);
  assert_lines (lines, (const char *const[]) {
    "rng virtio: PCI address 0000:00:13.0 -> 0000:00:15.0", NULL });
}

/* ------------------------------------------------------------- XML diff */

static void
diff_files (const char *fa, const char *fb, GPtrArray **allowed,
            GPtrArray **identity)
{
  g_autoptr(xmlDoc) a = load (fa);
  g_autoptr(xmlDoc) b = load (fb);
  g_autoptr(GError) error = NULL;

  g_assert_true (vk_domain_xml_diff (a, b, allowed, identity, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < (*allowed)->len; i++)
    {
      VkXmlDifference *d = (*allowed)->pdata[i];
      g_test_message ("allowed (%s): %s", d->rule, d->text);
    }
  for (guint i = 0; i < (*identity)->len; i++)
    g_test_message ("identity: %s", ((VkXmlDifference *) (*identity)->pdata[i])->text);
}

static const VkXmlDifference *
find_diff (GPtrArray *list, const char *path)
{
  for (guint i = 0; i < list->len; i++)
    {
      const VkXmlDifference *d = list->pdata[i];
      if (g_str_equal (d->path, path))
        return d;
    }
  return NULL;
}

static void
test_diff_same (void)
{
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) identity = NULL;

  diff_files ("q35.xml", "q35.xml", &allowed, &identity);
  g_assert_cmpuint (allowed->len, ==, 0);
  g_assert_cmpuint (identity->len, ==, 0);
}

static void
test_diff_host_side_q35 (void)
{
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) identity = NULL;
  static const struct {
    const char *path;
    const char *rule;
    const char *before;
    const char *after;
  } want[] = {
    { "/domain/name", "name", "win11", "win11-clone" },
    { "/domain/uuid", "UUID", "4dea22b3-1d52-d8f3-2516-782e98ab3fa0",
      "9b1f0c44-2a7e-4d3b-8c61-5f2e7d9a0b13" },
    { "/domain/os/nvram", "NVRAM path", "/var/lib/libvirt/qemu/nvram/win11_VARS.fd",
      "/var/lib/vmkeep/clones/win11-clone/VARS.fd" },
    { "/domain/devices/disk[vda]/source/@file", "disk source path",
      "/var/lib/libvirt/images/win11.qcow2",
      "/var/lib/vmkeep/clones/win11-clone/vda.qcow2" },
    { "/domain/devices/disk[vda]/source/@index", "disk source path", "2", "3" },
    { "/domain/devices/disk[vda]/backingStore/@type", "disk source path", NULL, "file" },
    { "/domain/devices/disk[vda]/backingStore/format", "disk source path", NULL, NULL },
    { "/domain/devices/disk[sda]/source/@file", "disk source path",
      "/var/lib/libvirt/images/virtio-win.iso", "/srv/iso/virtio-win-0.1.240.iso" },
    { "/domain/devices/interface[52:54:00:aa:bb:cc]/@type", "NIC host side",
      "bridge", "network" },
    { "/domain/devices/interface[52:54:00:aa:bb:cc]/source/@bridge", "NIC host side",
      "br0", "virbr7" },
    { "/domain/devices/interface[52:54:00:aa:bb:cc]/source/@network", "NIC host side",
      NULL, "clones" },
    { "/domain/devices/interface[52:54:00:aa:bb:cc]/target/@dev", "TAP device",
      "vnet3", "vnet17" },
    { "/domain/devices/interface[52:54:00:aa:bb:dd]/target/@dev", "TAP device",
      "vnet4", "vmk-clone1" },
    { "/domain/devices/serial/source/@path", "character device path",
      "/dev/pts/3", "/dev/pts/9" },
    { "/domain/devices/serial/log/@file", "character device path",
      "/var/log/vmkeep/win11-serial.log", "/var/log/vmkeep/win11-clone-serial.log" },
    { "/domain/devices/console/@tty", "character device path", "/dev/pts/3",
      "/dev/pts/9" },
  };

  diff_files ("q35.xml", "q35-host-side.xml", &allowed, &identity);
  g_assert_cmpuint (identity->len, ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (want); i++)
    {
      const VkXmlDifference *d = find_diff (allowed, want[i].path);

      g_test_message ("want %s", want[i].path);
      g_assert_nonnull (d);
      g_assert_cmpstr (d->rule, ==, want[i].rule);
      if (want[i].before != NULL || want[i].after != NULL)
        {
          g_assert_cmpstr (d->before, ==, want[i].before);
          g_assert_cmpstr (d->after, ==, want[i].after);
        }
    }
  /* Differences that do not count at all: aliases, seclabels, the
   * domain id, attribute order, indentation, slot='3' vs '0x03', MAC case. */
  g_assert_null (find_diff (allowed, "/domain/@id"));
  g_assert_null (find_diff (allowed, "/domain/seclabel"));
  g_assert_null (find_diff (allowed, "/domain/seclabel[2]"));
  g_assert_null (find_diff (allowed, "/domain/devices/disk[vda]/alias"));
  g_assert_null (find_diff (allowed, "/domain/devices/controller[pci 1]/address/@slot"));
  g_assert_null (find_diff (allowed, "/domain/devices/interface[52:54:00:aa:bb:cc]/mac/@address"));
}

static void
test_diff_host_side_pc (void)
{
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) identity = NULL;

  diff_files ("pc.xml", "pc-host-side.xml", &allowed, &identity);
  g_assert_cmpuint (identity->len, ==, 0);
  g_assert_cmpuint (allowed->len, ==, 7);
}

typedef struct {
  const char *actual;
  const char *path;     /* an identity difference that must be found */
  const char *text;
} DiffCase;

static const DiffCase diff_cases[] = {
  { "q35-moved-nic.xml", "/domain/devices/interface[52:54:00:aa:bb:cc]/address/@bus",
    "/domain/devices/interface[52:54:00:aa:bb:cc]/address/@bus: 0x01 -> 0x03" },
  { "q35-moved-port.xml", "/domain/devices/controller[pci 1]/address/@slot",
    "/domain/devices/controller[pci 1]/address/@slot: 0x03 -> 0x06" },
  { "q35-changed-mac.xml", "/domain/devices/interface[52:54:00:aa:bb:ee]",
    "/domain/devices/interface[52:54:00:aa:bb:ee]: added" },
  { "q35-changed-queues.xml", "/domain/devices/interface[52:54:00:aa:bb:cc]/driver/@queues",
    "/domain/devices/interface[52:54:00:aa:bb:cc]/driver/@queues: 4 -> 2" },
  { "q35-added-disk.xml", "/domain/devices/disk[vdb]",
    "/domain/devices/disk[vdb]: added" },
};

static void
test_diff_identity (gconstpointer data)
{
  const DiffCase *c = data;
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) identity = NULL;
  const VkXmlDifference *d;

  diff_files ("q35.xml", c->actual, &allowed, &identity);
  d = find_diff (identity, c->path);
  g_assert_nonnull (d);
  g_assert_null (d->rule);
  g_assert_cmpstr (d->text, ==, c->text);
  g_assert_cmpuint (identity->len, <=, 2);
  g_assert_cmpuint (allowed->len, ==, 0);
}

static void
diff_strings (const char *a, const char *b, GPtrArray **allowed,
              GPtrArray **identity)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) da = vk_xml_parse (a, -1, "a.xml", &error);
  g_autoptr(xmlDoc) db = vk_xml_parse (b, -1, "b.xml", &error);

  g_assert_no_error (error);
  g_assert_true (vk_domain_xml_diff (da, db, allowed, identity, &error));
  g_assert_no_error (error);
}

static void
test_diff_rules (void)
{
  static const struct {
    const char *a;
    const char *b;
    guint allowed;
    guint identity;
  } cases[] = {
    /* live-only runtime values are ignored */
    { "<domain><devices><graphics type='vnc' port='5900' autoport='yes'/></devices></domain>",
      "<domain><devices><graphics type='vnc' port='5907' autoport='yes'/></devices></domain>",
      0, 0 },
    { "<domain><devices><graphics type='vnc' port='5900' autoport='no'/></devices></domain>",
      "<domain><devices><graphics type='vnc' port='5907' autoport='no'/></devices></domain>",
      0, 1 },
    { "<domain><devices><channel type='unix'><source mode='bind' path='/a'/>"
      "<target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel></devices></domain>",
      "<domain><devices><channel type='unix'><source mode='bind' path='/b'/>"
      "<target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/></channel></devices></domain>",
      1, 0 },
    /* an element only one side has is allowed when all of it is */
    { "<domain><devices><serial type='pty'><target port='0'/></serial></devices></domain>",
      "<domain><devices><serial type='pty'><source path='/dev/pts/1'/><target port='0'/></serial></devices></domain>",
      1, 0 },
    { "<domain><devices><serial type='pty'><target port='0'/></serial></devices></domain>",
      "<domain><devices><serial type='pty'><source mode='bind' path='/x'/><target port='0'/></serial></devices></domain>",
      0, 1 },
    /* guest-visible things next to allowed ones are identity */
    { "<domain><devices><disk><source file='/a'/><target dev='vda'/></disk></devices></domain>",
      "<domain><devices><disk><source file='/b'/><target dev='vda'/><readonly/></disk></devices></domain>",
      1, 1 },
    { "<domain><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/>"
      "<model type='virtio'/></interface></devices></domain>",
      "<domain><devices><interface type='bridge'><mac address='52:54:00:00:00:01'/>"
      "<model type='e1000e'/></interface></devices></domain>",
      0, 1 },
    /* the disk format follows the source (a frozen disk on an overlay) */
    { "<domain><devices><disk><driver name='qemu' type='raw'/><target dev='vda'/></disk></devices></domain>",
      "<domain><devices><disk><driver name='qemu' type='qcow2'/><target dev='vda'/></disk></devices></domain>",
      1, 0 },
    /* NVRAM template is not a per-VM path */
    { "<domain><os><nvram template='/t1'>/a</nvram></os></domain>",
      "<domain><os><nvram template='/t2'>/b</nvram></os></domain>",
      1, 1 },
    /* devices matched by key, not position */
    { "<domain><devices><disk><target dev='vda'/></disk><disk><target dev='vdb'/></disk></devices></domain>",
      "<domain><devices><disk><target dev='vdb'/></disk><disk><target dev='vda'/></disk></devices></domain>",
      0, 0 },
    /* comments and whitespace in text do not count */
    { "<domain><name>x</name><!-- c --><memory>1024</memory></domain>",
      "<domain><name>y</name><memory>\n  1024\n</memory></domain>",
      1, 0 },
    /* unmatched repeated elements by position */
    { "<domain><devices><input type='mouse'/><input type='keyboard'/></devices></domain>",
      "<domain><devices><input type='mouse'/></devices></domain>",
      0, 1 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) allowed = NULL;
      g_autoptr(GPtrArray) identity = NULL;

      g_test_message ("case %" G_GSIZE_FORMAT, i);
      diff_strings (cases[i].a, cases[i].b, &allowed, &identity);
      for (guint j = 0; j < allowed->len; j++)
        g_test_message ("  allowed: %s", ((VkXmlDifference *) allowed->pdata[j])->text);
      for (guint j = 0; j < identity->len; j++)
        g_test_message ("  identity: %s", ((VkXmlDifference *) identity->pdata[j])->text);
      g_assert_cmpuint (allowed->len, ==, cases[i].allowed);
      g_assert_cmpuint (identity->len, ==, cases[i].identity);
    }
}

/* Sibling keys stay unique when a count suffix spells another sibling's
 * key: the 2nd NIC without a MAC ("interface[2]") next to the NIC whose
 * MAC reads "2". Found by fuzz/fuzz-domain-xml (a document differed from
 * itself); fuzz/regressions/domain-xml/sibling-key-collision-fuzzed.xml. */
static void
test_diff_key_collision (void)
{
  const char *xml =
    "<domain type='kvm'><name>k</name><devices>"
    "<interface type='bridge'><source bridge='a'/></interface>"
    "<interface type='bridge'><mac address='2'/></interface>"
    "<interface type='bridge'><source bridge='b'/></interface>"
    "</devices></domain>";
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) identity = NULL;

  diff_strings (xml, xml, &allowed, &identity);
  g_assert_cmpuint (allowed->len, ==, 0);
  g_assert_cmpuint (identity->len, ==, 0);
}

static void
test_diff_not_domain (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) a = load ("pc.xml");
  g_autoptr(xmlDoc) b = vk_xml_parse ("<pool/>", -1, "pool.xml", &error);
  GPtrArray *allowed = NULL;
  GPtrArray *identity = NULL;

  g_assert_no_error (error);
  g_assert_false (vk_domain_xml_diff (a, b, &allowed, &identity, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_null (allowed);
  g_assert_null (identity);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/identity/extract/q35", test_extract_q35);
  g_test_add_func ("/identity/extract/pc", test_extract_pc);
  g_test_add_func ("/identity/extract/not-domain", test_extract_not_domain);
  for (gsize i = 0; i < G_N_ELEMENTS (compare_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/identity/compare/%s-vs-%s",
                                               compare_cases[i].expected,
                                               compare_cases[i].actual);
      g_test_add_data_func (path, &compare_cases[i], test_compare_fixture);
    }
  g_test_add_func ("/identity/compare/machine", test_compare_machine);
  for (gsize i = 0; i < G_N_ELEMENTS (edit_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/identity/compare/edit/%s",
                                               edit_cases[i].name);
      g_test_add_data_func (path, &edit_cases[i], test_compare_edit);
    }
  g_test_add_func ("/identity/compare/duplicates", test_compare_duplicates);
  g_test_add_func ("/identity/diff/same", test_diff_same);
  g_test_add_func ("/identity/diff/host-side-q35", test_diff_host_side_q35);
  g_test_add_func ("/identity/diff/host-side-pc", test_diff_host_side_pc);
  for (gsize i = 0; i < G_N_ELEMENTS (diff_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/identity/diff/%s",
                                               diff_cases[i].actual);
      g_test_add_data_func (path, &diff_cases[i], test_diff_identity);
    }
  g_test_add_func ("/identity/diff/rules", test_diff_rules);
  g_test_add_func ("/identity/diff/not-domain", test_diff_not_domain);
  g_test_add_func ("/identity/diff/key-collision", test_diff_key_collision);

  return g_test_run ();
}
