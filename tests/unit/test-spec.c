/* Unit tests for src/core/spec.c: the --nic/--disk/--boot syntax of
 * `vmkeep create`, spec validation, and the shape of the unpinned domain
 * XML (which the pin pass then places; see test-pin-golden). */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <libxml/xpath.h>

#include "domain-xml.h"
#include "pin.h"
#include "spec.h"
#include "vk-error.h"

static void
assert_refused (const GError *error, const char *const *needles)
{
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_test_message ("message: %s", error->message);
  for (guint i = 0; needles[i] != NULL; i++)
    if (strstr (error->message, needles[i]) == NULL)
      g_test_fail_printf ("error message “%s” does not mention “%s”",
                          error->message, needles[i]);
}

#define NEEDLES(...) ((const char *const[]) { __VA_ARGS__, NULL })

static char *
case_path (const char *group, guint i, const char *input)
{
  GString *s = g_string_new (NULL);
  g_string_append_printf (s, "/spec/%s/%02u-", group, i);
  for (const char *p = input; *p && p - input < 40; p++)
    g_string_append_c (s, g_ascii_isalnum (*p) || strchr ("=.,:-", *p) ? *p : '_');
  if (*input == '\0')
    g_string_append (s, "empty");
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------ --nic */

typedef struct {
  const char *input;
  gboolean ok;
  VkNetKind kind;
  const char *source, *mac, *model, *tap;
  guint queues;
  const char *expect[4];   /* refused: what the message must name (NULL-ended) */
} NicCase;

static const NicCase nic_cases[] = {
  { "bridge=br0", TRUE, VK_NET_BRIDGE, "br0", NULL, "virtio", NULL, 0, { NULL } },
  { "network=default", TRUE, VK_NET_NETWORK, "default", NULL, "virtio", NULL, 0, { NULL } },
  { "tap=vnet7", TRUE, VK_NET_TAP, "vnet7", NULL, "virtio", "vnet7", 0, { NULL } },
  { "bridge=br0,mac=52:54:00:AB:cd:01,model=e1000e", TRUE, VK_NET_BRIDGE, "br0",
    "52:54:00:ab:cd:01", "e1000e", NULL, 0, { NULL } },
  { "bridge=br0,mac=52-54-00-12-34-56", TRUE, VK_NET_BRIDGE, "br0",
    "52:54:00:12:34:56", "virtio", NULL, 0, { NULL } },
  { "bridge=br0,tap=vm1-eth0,queues=4", TRUE, VK_NET_BRIDGE, "br0", NULL, "virtio",
    "vm1-eth0", 4, { NULL } },
  /* key order does not matter: tap= next to bridge= names the TAP */
  { "tap=vm1-eth0,bridge=br0", TRUE, VK_NET_BRIDGE, "br0", NULL, "virtio",
    "vm1-eth0", 0, { NULL } },
  { "queues=2,network=lan,model=virtio", TRUE, VK_NET_NETWORK, "lan", NULL, "virtio",
    NULL, 2, { NULL } },
  { "network=production-vlan-100", TRUE, VK_NET_NETWORK, "production-vlan-100", NULL,
    "virtio", NULL, 0, { NULL } },
  { "bridge=br0,queues=1,model=rtl8139", TRUE, VK_NET_BRIDGE, "br0", NULL, "rtl8139",
    NULL, 1, { NULL } },
  /* refused */
  { "", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "bridge=NAME", NULL } },
  { "br0", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "'br0'", "KEY=VALUE", "--nic bridge=" } },
  { "=br0", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "KEY=VALUE", NULL } },
  { "mac=52:54:00:00:00:01", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "bridge=NAME", "network=NAME", "tap=NAME" } },
  { "bridge=br0,network=default", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "exactly one", NULL } },
  { "bridge=br0,bridge=br1", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "bridge= is given twice", NULL } },
  { "tap=a,tap=b", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "tap= is given twice", NULL } },
  { "bridge=br0,model=pcnet", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "'pcnet'", "virtio, e1000e", NULL } },
  { "bridge=br0,queues=0", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "queues", NULL } },
  { "bridge=br0,queues=257", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "queues", NULL } },
  { "bridge=br0,queues=many", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "queues", NULL } },
  { "bridge=br0,model=e1000,queues=2", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "queues= needs model=virtio", NULL } },
  { "bridge=br0,color=red", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "'color'", "known keys", NULL } },
  { "bridge=br0,mac=01:00:5e:00:00:01", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "01:00:5e:00:00:01", NULL } },
  { "bridge=br0,mac=52:54:00:00:00", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "52:54:00:00:00", NULL } },
  { "network=lan/evil", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "network name", "lan/evil", NULL } },
  { "bridge=../br0", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "../br0", NULL } },
  { "bridge=", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "bridge", NULL } },
  { "tap=averyveryverylongtapname", FALSE, 0, NULL, NULL, NULL, NULL, 0, { "averyveryverylongtapname", NULL } },
};

static void
test_nic (gconstpointer data)
{
  const NicCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(VkNicSpec) nic = NULL;
  gboolean ok = vk_nic_spec_parse (c->input, &nic, &error);

  if (!c->ok)
    {
      g_assert_false (ok);
      g_assert_null (nic);
      assert_refused (error, c->expect);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (nic->kind, ==, c->kind);
  g_assert_cmpstr (nic->source, ==, c->source);
  g_assert_cmpstr (nic->mac, ==, c->mac);
  g_assert_cmpstr (nic->model, ==, c->model);
  g_assert_cmpstr (nic->tap, ==, c->tap);
  g_assert_cmpuint (nic->queues, ==, c->queues);
}

/* ----------------------------------------------------------------- --disk */

typedef struct {
  const char *input;
  gboolean ok;
  const char *path, *target, *bus, *format;
  gboolean readonly;
  const char *expect[4];
} DiskCase;

static const DiskCase disk_cases[] = {
  { "/var/lib/vmkeep/disks/vm.qcow2", TRUE, "/var/lib/vmkeep/disks/vm.qcow2", NULL, "virtio", "qcow2", FALSE, { NULL } },
  { "/var/lib/vmkeep/disks/vm.img", TRUE, "/var/lib/vmkeep/disks/vm.img", NULL, "virtio", "raw", FALSE, { NULL } },
  { "/srv/a,b.qcow2", TRUE, "/srv/a,b.qcow2", NULL, "virtio", "qcow2", FALSE, { NULL } },
  { "path=/srv/d.raw,target=vdb,format=raw,readonly=on", TRUE, "/srv/d.raw", "vdb", "virtio", "raw", TRUE, { NULL } },
  { "target=vdaa,path=/srv/d.qcow2", TRUE, "/srv/d.qcow2", "vdaa", "virtio", "qcow2", FALSE, { NULL } },
  { "path=/srv/d.qcow2,bus=sata,target=sdb,readonly=off", TRUE, "/srv/d.qcow2", "sdb", "sata", "qcow2", FALSE, { NULL } },
  { "path=/srv/d,bus=scsi,format=qcow2", TRUE, "/srv/d", NULL, "scsi", "qcow2", FALSE, { NULL } },
  { "path=/srv/iso.img,readonly=yes", TRUE, "/srv/iso.img", NULL, "virtio", "raw", TRUE, { NULL } },
  /* refused */
  { "vm.qcow2", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'vm.qcow2'", "KEY=VALUE", NULL } },
  { "path=vm.qcow2", FALSE, NULL, NULL, NULL, NULL, FALSE, { "absolute path", NULL } },
  { "target=vda", FALSE, NULL, NULL, NULL, NULL, FALSE, { "absolute path", NULL } },
  { "path=/a,bus=ide", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'ide'", "virtio, sata or scsi", NULL } },
  { "path=/a,format=vmdk", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'vmdk'", "qcow2 or raw", NULL } },
  { "path=/a,target=sda", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'sda'", "bus virtio", "vda" } },
  { "path=/a,bus=sata,target=vdb", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'vdb'", "bus sata", NULL } },
  { "path=/a,target=vd1", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'vd1'", NULL } },
  { "path=/a,target=vd", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'vd'", NULL } },
  { "path=/a,target=vdaaa", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'vdaaa'", NULL } },
  { "path=/a,readonly=maybe", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'maybe'", "on or off", NULL } },
  { "path=/a,size=10G", FALSE, NULL, NULL, NULL, NULL, FALSE, { "'size'", "known keys", NULL } },
  { "path=/a,path=/b", FALSE, NULL, NULL, NULL, NULL, FALSE, { "path= is given twice", NULL } },
};

static void
test_disk (gconstpointer data)
{
  const DiskCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDiskSpec) disk = NULL;
  gboolean ok = vk_disk_spec_parse (c->input, &disk, &error);

  if (!c->ok)
    {
      g_assert_false (ok);
      g_assert_null (disk);
      assert_refused (error, c->expect);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpstr (disk->path, ==, c->path);
  g_assert_cmpstr (disk->target, ==, c->target);
  g_assert_cmpstr (disk->bus, ==, c->bus);
  g_assert_cmpstr (disk->format, ==, c->format);
  g_assert_cmpint (disk->readonly, ==, c->readonly);
}

/* ----------------------------------------------------------------- --boot */

typedef struct {
  const char *input;
  gboolean ok;
  VkFirmware firmware;
  const char *kernel, *initrd, *cmdline;
  const char *expect[4];
} BootCase;

static const BootCase boot_cases[] = {
  { "uefi", TRUE, VK_FIRMWARE_UEFI, NULL, NULL, NULL, { NULL } },
  { "bios", TRUE, VK_FIRMWARE_BIOS, NULL, NULL, NULL, { NULL } },
  { "kernel=/boot/vmlinuz", TRUE, VK_FIRMWARE_DEFAULT, "/boot/vmlinuz", NULL, NULL, { NULL } },
  { "kernel=/boot/vmlinuz,initrd=/boot/initrd.img", TRUE, VK_FIRMWARE_DEFAULT,
    "/boot/vmlinuz", "/boot/initrd.img", NULL, { NULL } },
  /* the command line has ',' and '=' of its own and takes the rest */
  { "kernel=/k,initrd=/i,cmdline=console=ttyS0,115200n8 root=/dev/vda rw quiet",
    TRUE, VK_FIRMWARE_DEFAULT, "/k", "/i", "console=ttyS0,115200n8 root=/dev/vda rw quiet", { NULL } },
  { "initrd=/i,kernel=/k,cmdline=", TRUE, VK_FIRMWARE_DEFAULT, "/k", "/i", "", { NULL } },
  /* refused */
  { "efi", FALSE, 0, NULL, NULL, NULL, { "'efi'", "uefi, bios or kernel=", NULL } },
  { "UEFI", FALSE, 0, NULL, NULL, NULL, { "'UEFI'", NULL } },
  { "cmdline=quiet", FALSE, 0, NULL, NULL, NULL, { "kernel=ABSOLUTE_PATH", NULL } },
  { "kernel=vmlinuz", FALSE, 0, NULL, NULL, NULL, { "kernel=ABSOLUTE_PATH", NULL } },
  { "kernel=/k,initrd=initrd.img", FALSE, 0, NULL, NULL, NULL, { "initrd=", "absolute", NULL } },
  { "kernel=/k,append=quiet", FALSE, 0, NULL, NULL, NULL, { "'append=quiet'", NULL } },
  { "uefi,kernel=/k", FALSE, 0, NULL, NULL, NULL, { "'uefi'", NULL } },
};

static void
test_boot (gconstpointer data)
{
  const BootCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(VkSpec) spec = vk_spec_new ();
  gboolean ok = vk_spec_parse_boot (spec, c->input, &error);

  if (!c->ok)
    {
      g_assert_false (ok);
      assert_refused (error, c->expect);
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (spec->firmware, ==, c->firmware);
  g_assert_cmpstr (spec->kernel, ==, c->kernel);
  g_assert_cmpstr (spec->initrd, ==, c->initrd);
  g_assert_cmpstr (spec->cmdline, ==, c->cmdline);
}

/* ------------------------------------------------------------- validation */

static VkSpec *
valid_spec (void)
{
  VkSpec *s = vk_spec_new ();
  VkNicSpec *nic = NULL;
  VkDiskSpec *disk = NULL;
  s->name = g_strdup ("web-01");
  s->uuid = g_strdup ("0d2a4f7e-9c1b-4b8e-a3f4-5e6d7c8b9a01");
  g_assert_true (vk_disk_spec_parse ("/var/lib/vmkeep/disks/web-01.qcow2", &disk, NULL));
  g_ptr_array_add (s->disks, disk);
  g_assert_true (vk_nic_spec_parse ("bridge=br0,mac=52:54:00:12:34:56", &nic, NULL));
  g_ptr_array_add (s->nics, nic);
  return s;
}

static void
add_nic (VkSpec *s, const char *text)
{
  VkNicSpec *nic = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_nic_spec_parse (text, &nic, &error));
  g_assert_no_error (error);
  g_ptr_array_add (s->nics, nic);
}

static void
add_disk (VkSpec *s, const char *text)
{
  VkDiskSpec *disk = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_disk_spec_parse (text, &disk, &error));
  g_assert_no_error (error);
  g_ptr_array_add (s->disks, disk);
}

static void
test_validate_ok (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_spec_validate (s, &error));
  g_assert_no_error (error);

  /* the extremes are accepted */
  s->memory_mib = 16;
  s->vcpus = 288;
  g_assert_true (vk_spec_validate (s, NULL));
  s->memory_mib = 16ULL * 1024 * 1024;
  s->vcpus = 1;
  s->machine = VK_MACHINE_Q35;
  s->firmware = VK_FIRMWARE_UEFI;
  s->secure_boot = TRUE;
  g_assert_true (vk_spec_validate (s, NULL));
}

static void
expect_invalid (VkSpec *s, const char *const *needles)
{
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_spec_validate (s, &error));
  assert_refused (error, needles);
  /* and no XML for it either */
  g_clear_error (&error);
  g_assert_null (vk_spec_to_xml (s, &error));
  assert_refused (error, needles);
}

static void
test_validate_name (void)
{
  const char *bad[] = { "", "web 01", "-web", "..", "web/01", "web;rm" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(VkSpec) s = valid_spec ();
      g_free (s->name);
      s->name = g_strdup (bad[i]);
      expect_invalid (s, NEEDLES ("domain name"));
    }
  g_autoptr(VkSpec) s = valid_spec ();
  g_clear_pointer (&s->name, g_free);
  expect_invalid (s, NEEDLES ("domain name"));
}

static void
test_validate_memory (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  s->memory_mib = 15;
  expect_invalid (s, NEEDLES ("--memory 15 MiB", "16 MiB"));
  s->memory_mib = 16ULL * 1024 * 1024 + 1;
  expect_invalid (s, NEEDLES ("--memory", "16 TiB"));
  s->memory_mib = 0;
  expect_invalid (s, NEEDLES ("--memory 0"));
}

static void
test_validate_vcpus (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  s->vcpus = 0;
  expect_invalid (s, NEEDLES ("--vcpus 0", "1 to 288"));
  s->vcpus = 289;
  expect_invalid (s, NEEDLES ("--vcpus 289"));
}

static void
test_validate_secure_boot (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  s->machine = VK_MACHINE_PC;
  s->firmware = VK_FIRMWARE_UEFI;
  s->secure_boot = TRUE;
  expect_invalid (s, NEEDLES ("Secure Boot", "q35"));
  s->machine = VK_MACHINE_Q35;
  s->firmware = VK_FIRMWARE_BIOS;
  expect_invalid (s, NEEDLES ("uefi"));
}

static void
test_validate_duplicate_mac (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  add_nic (s, "network=default,mac=52:54:00:00:00:09");
  add_nic (s, "bridge=br1,mac=52-54-00-12-34-56");   /* same MAC, other spelling */
  expect_invalid (s, NEEDLES ("52:54:00:12:34:56", "web-01", "two NICs"));
}

static void
test_validate_duplicate_target (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  add_disk (s, "path=/srv/b.qcow2,target=vdb");
  add_disk (s, "path=/srv/c.qcow2,target=vdb");
  expect_invalid (s, NEEDLES ("vdb", "twice"));
}

/* ------------------------------------------------------ the domain's XML */

static xmlDocPtr
to_xml (const VkSpec *s)
{
  g_autoptr(GError) error = NULL;
  xmlDocPtr doc = vk_spec_to_xml (s, &error);
  g_assert_no_error (error);
  g_assert_nonnull (doc);
  return doc;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlXPathObject, xmlXPathFreeObject)

static xmlXPathObjectPtr
xpath (xmlDocPtr doc, const char *expr)
{
  g_autoptr(xmlXPathContext) ctx = xmlXPathNewContext (doc);
  xmlXPathObjectPtr o = xmlXPathEvalExpression (BAD_CAST expr, ctx);
  if (o == NULL)
    g_error ("bad XPath %s", expr);
  return o;
}

static guint
count (xmlDocPtr doc, const char *expr)
{
  g_autofree char *full = g_strdup_printf ("count(%s)", expr);
  g_autoptr(xmlXPathObject) o = xpath (doc, full);
  return (guint) o->floatval;
}

/* The string value of `expr`, NULL when it selects nothing. */
static char *
str (xmlDocPtr doc, const char *expr)
{
  if (count (doc, expr) == 0)
    return NULL;
  g_autofree char *full = g_strdup_printf ("string(%s)", expr);
  g_autoptr(xmlXPathObject) o = xpath (doc, full);
  return g_strdup ((const char *) o->stringval);
}

#define assert_xpath_str(doc, expr, expected)          \
  G_STMT_START {                                       \
    g_autofree char *v_ = str ((doc), (expr));         \
    g_assert_cmpstr (v_, ==, (expected));              \
  } G_STMT_END

static void
dump (xmlDocPtr doc)
{
  g_autofree char *text = vk_xml_format (doc);
  g_test_message ("%s", text);
}

static void
test_xml_basic (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  s->memory_mib = 2048;
  s->vcpus = 2;
  g_autoptr(xmlDoc) doc = to_xml (s);
  dump (doc);

  assert_xpath_str (doc, "/domain/@type", "kvm");
  assert_xpath_str (doc, "/domain/name", "web-01");
  assert_xpath_str (doc, "/domain/uuid", "0d2a4f7e-9c1b-4b8e-a3f4-5e6d7c8b9a01");
  assert_xpath_str (doc, "/domain/memory", "2048");
  assert_xpath_str (doc, "/domain/memory/@unit", "MiB");
  assert_xpath_str (doc, "/domain/currentMemory", "2048");
  assert_xpath_str (doc, "/domain/vcpu", "2");
  assert_xpath_str (doc, "/domain/os/type", "hvm");
  assert_xpath_str (doc, "/domain/os/type/@arch", "x86_64");
  assert_xpath_str (doc, "/domain/os/type/@machine", "q35");
  assert_xpath_str (doc, "/domain/os/boot/@dev", "hd");
  g_assert_cmpuint (count (doc, "/domain/os/kernel"), ==, 0);
  g_assert_cmpuint (count (doc, "/domain/os/@firmware"), ==, 0);
  g_assert_cmpuint (count (doc, "/domain/memoryBacking"), ==, 0);
  g_assert_cmpuint (count (doc, "/domain/features/acpi"), ==, 1);
  g_assert_cmpuint (count (doc, "/domain/features/smm"), ==, 0);

  /* the USB controller libvirt would add is disabled outright */
  g_assert_cmpuint (count (doc, "//devices/controller[@type='usb']"), ==, 1);
  assert_xpath_str (doc, "//devices/controller[@type='usb']/@model", "none");
  assert_xpath_str (doc, "//devices/memballoon/@model", "virtio");
  /* a pty serial console unless a log file is asked for */
  assert_xpath_str (doc, "//devices/serial/@type", "pty");
  assert_xpath_str (doc, "//devices/console/@type", "pty");
  assert_xpath_str (doc, "//devices/console/target/@type", "serial");
  g_assert_cmpuint (count (doc, "//devices/rng | //devices/watchdog | //devices/tpm"), ==, 0);

  /* unpinned: pin places every PCI device */
  g_assert_cmpuint (count (doc, "//address"), ==, 0);
  g_assert_cmpuint (count (doc, "//interface"), ==, 1);
  assert_xpath_str (doc, "//interface/@type", "bridge");
  assert_xpath_str (doc, "//interface/mac/@address", "52:54:00:12:34:56");
  assert_xpath_str (doc, "//interface/source/@bridge", "br0");
  assert_xpath_str (doc, "//interface/model/@type", "virtio");
  g_assert_cmpuint (count (doc, "//interface/target | //interface/driver"), ==, 0);

  assert_xpath_str (doc, "//disk/@type", "file");
  assert_xpath_str (doc, "//disk/@device", "disk");
  assert_xpath_str (doc, "//disk/driver/@type", "qcow2");
  assert_xpath_str (doc, "//disk/source/@file", "/var/lib/vmkeep/disks/web-01.qcow2");
  assert_xpath_str (doc, "//disk/target/@dev", "vda");
  assert_xpath_str (doc, "//disk/target/@bus", "virtio");
  g_assert_cmpuint (count (doc, "//disk/readonly"), ==, 0);
}

static void
test_xml_generated_uuid (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  g_clear_pointer (&s->uuid, g_free);
  g_autoptr(xmlDoc) doc = to_xml (s);
  g_autofree char *uuid = str (doc, "/domain/uuid");
  g_assert_nonnull (uuid);
  g_assert_true (g_uuid_string_is_valid (uuid));
}

static void
test_xml_shared_memory (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  s->shared_memory = TRUE;
  g_autoptr(xmlDoc) doc = to_xml (s);
  dump (doc);
  /* virtiofsd maps guest RAM: memfd-backed and shared */
  g_assert_cmpuint (count (doc, "/domain/memoryBacking"), ==, 1);
  assert_xpath_str (doc, "/domain/memoryBacking/source/@type", "memfd");
  assert_xpath_str (doc, "/domain/memoryBacking/access/@mode", "shared");
}

static void
test_xml_direct_kernel (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_spec_parse_boot (s, "kernel=/var/lib/vmkeep/guest/vmlinuz,"
                                     "initrd=/var/lib/vmkeep/guest/initrd.gz,"
                                     "cmdline=console=ttyS0,115200 panic=-1", &error));
  g_assert_no_error (error);
  s->machine = VK_MACHINE_PC;
  g_autoptr(xmlDoc) doc = to_xml (s);
  dump (doc);
  assert_xpath_str (doc, "/domain/os/type/@machine", "pc");
  assert_xpath_str (doc, "/domain/os/kernel", "/var/lib/vmkeep/guest/vmlinuz");
  assert_xpath_str (doc, "/domain/os/initrd", "/var/lib/vmkeep/guest/initrd.gz");
  assert_xpath_str (doc, "/domain/os/cmdline", "console=ttyS0,115200 panic=-1");
  /* no boot device: the kernel is the boot device */
  g_assert_cmpuint (count (doc, "/domain/os/boot"), ==, 0);

  /* characters XML cares about survive */
  g_free (s->cmdline);
  s->cmdline = g_strdup ("init=/bin/sh -c 'echo <&> \"x\"'");
  g_autoptr(xmlDoc) doc2 = to_xml (s);
  assert_xpath_str (doc2, "/domain/os/cmdline", "init=/bin/sh -c 'echo <&> \"x\"'");
}

static void
test_xml_uefi_secure_boot (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  s->firmware = VK_FIRMWARE_UEFI;
  s->secure_boot = TRUE;
  s->tpm = TRUE;
  g_autoptr(xmlDoc) doc = to_xml (s);
  dump (doc);
  assert_xpath_str (doc, "/domain/os/@firmware", "efi");
  assert_xpath_str (doc, "/domain/os/firmware/feature[@name='secure-boot']/@enabled", "yes");
  assert_xpath_str (doc, "/domain/os/firmware/feature[@name='enrolled-keys']/@enabled", "yes");
  assert_xpath_str (doc, "/domain/features/smm/@state", "on");
  assert_xpath_str (doc, "//devices/tpm/@model", "tpm-crb");
  assert_xpath_str (doc, "//devices/tpm/backend/@type", "emulator");
  assert_xpath_str (doc, "//devices/tpm/backend/@version", "2.0");

  s->secure_boot = FALSE;
  g_autoptr(xmlDoc) plain = to_xml (s);
  assert_xpath_str (plain, "/domain/os/firmware/feature[@name='secure-boot']/@enabled", "no");
  g_assert_cmpuint (count (plain, "/domain/features/smm"), ==, 0);
}

static void
test_xml_disk_targets (void)
{
  g_autoptr(VkSpec) s = valid_spec ();            /* vda: /var/lib/.../web-01.qcow2 */
  add_disk (s, "/srv/data.img");                  /* next free: vdc (vdb is taken) */
  add_disk (s, "path=/srv/logs.qcow2,target=vdb,readonly=on");
  add_disk (s, "path=/srv/cd.img,bus=sata");      /* sda */
  add_disk (s, "path=/srv/scratch.raw,bus=scsi,target=sda");   /* explicit sda on scsi */
  add_disk (s, "path=/srv/more.raw,bus=sata");    /* sdb: sda is taken */
  /* automatic targets skip the explicit ones of any bus with that prefix */
  g_autoptr(xmlDoc) doc = to_xml (s);
  dump (doc);
  assert_xpath_str (doc, "//disk[source/@file='/var/lib/vmkeep/disks/web-01.qcow2']/target/@dev", "vda");
  assert_xpath_str (doc, "//disk[source/@file='/srv/data.img']/target/@dev", "vdc");
  assert_xpath_str (doc, "//disk[source/@file='/srv/data.img']/driver/@type", "raw");
  assert_xpath_str (doc, "//disk[source/@file='/srv/logs.qcow2']/target/@dev", "vdb");
  g_assert_cmpuint (count (doc, "//disk[source/@file='/srv/logs.qcow2']/readonly"), ==, 1);
  assert_xpath_str (doc, "//disk[source/@file='/srv/cd.img']/target/@dev", "sdb");
  assert_xpath_str (doc, "//disk[source/@file='/srv/cd.img']/target/@bus", "sata");
  assert_xpath_str (doc, "//disk[source/@file='/srv/scratch.raw']/target/@dev", "sda");
  assert_xpath_str (doc, "//disk[source/@file='/srv/scratch.raw']/target/@bus", "scsi");
  assert_xpath_str (doc, "//disk[source/@file='/srv/more.raw']/target/@dev", "sdc");
  /* every target once */
  g_assert_cmpuint (count (doc, "//disk/target[@dev='sda']"), ==, 1);
}

static void
test_xml_many_disks (void)
{
  /* past vdz come vdaa, vdab (a plain 'a' + 26 would give "vd{") */
  g_autoptr(VkSpec) s = valid_spec ();
  for (guint i = 1; i < 28; i++)
    {
      g_autofree char *path = g_strdup_printf ("/srv/d%02u.qcow2", i);
      add_disk (s, path);
    }
  g_autoptr(xmlDoc) doc = to_xml (s);
  assert_xpath_str (doc, "//disk[source/@file='/srv/d25.qcow2']/target/@dev", "vdz");
  assert_xpath_str (doc, "//disk[source/@file='/srv/d26.qcow2']/target/@dev", "vdaa");
  assert_xpath_str (doc, "//disk[source/@file='/srv/d27.qcow2']/target/@dev", "vdab");
}

static void
test_xml_nics (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  add_nic (s, "network=default");
  add_nic (s, "tap=vm1-tap0,model=e1000e");
  add_nic (s, "bridge=br1,tap=vm1-eth3,queues=4");
  g_autoptr(xmlDoc) doc = to_xml (s);
  dump (doc);

  g_assert_cmpuint (count (doc, "//interface"), ==, 4);
  /* every NIC has a MAC, all different, the given one kept */
  g_assert_cmpuint (count (doc, "//interface/mac[@address]"), ==, 4);
  assert_xpath_str (doc, "//interface[1]/mac/@address", "52:54:00:12:34:56");
  g_autofree char *m2 = str (doc, "//interface[2]/mac/@address");
  g_autofree char *m3 = str (doc, "//interface[3]/mac/@address");
  g_autofree char *m4 = str (doc, "//interface[4]/mac/@address");
  const char *macs[] = { "52:54:00:12:34:56", m2, m3, m4 };
  for (guint i = 0; i < G_N_ELEMENTS (macs); i++)
    {
      g_assert_true (g_str_has_prefix (macs[i], "52:54:00:"));
      for (guint j = 0; j < i; j++)
        g_assert_cmpstr (macs[i], !=, macs[j]);
    }

  assert_xpath_str (doc, "//interface[2]/@type", "network");
  assert_xpath_str (doc, "//interface[2]/source/@network", "default");
  /* a pre-made TAP: type ethernet, not managed by libvirt, no <source> */
  assert_xpath_str (doc, "//interface[3]/@type", "ethernet");
  assert_xpath_str (doc, "//interface[3]/target/@dev", "vm1-tap0");
  assert_xpath_str (doc, "//interface[3]/target/@managed", "no");
  g_assert_cmpuint (count (doc, "//interface[3]/source"), ==, 0);
  assert_xpath_str (doc, "//interface[3]/model/@type", "e1000e");
  /* a bridge with a named TAP that libvirt creates */
  assert_xpath_str (doc, "//interface[4]/@type", "bridge");
  assert_xpath_str (doc, "//interface[4]/source/@bridge", "br1");
  assert_xpath_str (doc, "//interface[4]/target/@dev", "vm1-eth3");
  g_assert_cmpuint (count (doc, "//interface[4]/target/@managed"), ==, 0);
  assert_xpath_str (doc, "//interface[4]/driver/@queues", "4");
}

static void
test_xml_serial_log_and_extras (void)
{
  g_autoptr(VkSpec) s = valid_spec ();
  s->serial_log = g_strdup ("/var/log/vmkeep/web-01.log");
  s->balloon = FALSE;
  s->rng = TRUE;
  s->watchdog = TRUE;
  g_free (s->virt_type);
  s->virt_type = g_strdup ("qemu");
  g_autoptr(xmlDoc) doc = to_xml (s);
  dump (doc);

  assert_xpath_str (doc, "/domain/@type", "qemu");
  g_assert_cmpuint (count (doc, "//devices/serial"), ==, 1);
  assert_xpath_str (doc, "//devices/serial/@type", "file");
  assert_xpath_str (doc, "//devices/serial/source/@path", "/var/log/vmkeep/web-01.log");
  assert_xpath_str (doc, "//devices/serial/source/@append", "on");
  assert_xpath_str (doc, "//devices/serial/target/@port", "0");
  assert_xpath_str (doc, "//devices/console/@type", "file");
  assert_xpath_str (doc, "//devices/console/source/@path", "/var/log/vmkeep/web-01.log");
  assert_xpath_str (doc, "//devices/console/target/@type", "serial");
  /* --no-balloon disables the one libvirt would add */
  g_assert_cmpuint (count (doc, "//devices/memballoon"), ==, 1);
  assert_xpath_str (doc, "//devices/memballoon/@model", "none");
  assert_xpath_str (doc, "//devices/rng/@model", "virtio");
  assert_xpath_str (doc, "//devices/rng/backend", "/dev/urandom");
  assert_xpath_str (doc, "//devices/watchdog/@model", "i6300esb");
}

/* create = spec -> XML -> pin: the XML must pin cleanly on both machines
 * and pass the check libvirt's read-back gets. */
static void
test_xml_pins_cleanly (void)
{
  const VkMachine machines[] = { VK_MACHINE_PC, VK_MACHINE_Q35 };
  for (guint m = 0; m < G_N_ELEMENTS (machines); m++)
    {
      g_autoptr(VkSpec) s = valid_spec ();
      s->machine = machines[m];
      s->rng = TRUE;
      s->watchdog = TRUE;
      s->shared_memory = TRUE;
      add_nic (s, "network=default");
      add_disk (s, "path=/srv/cd.img,bus=sata,readonly=on");
      add_disk (s, "path=/srv/b.qcow2,target=vdb");
      g_autoptr(xmlDoc) doc = to_xml (s);
      g_autoptr(GError) error = NULL;
      VkPinOptions opts = { .relayout = FALSE };
      vk_layout_policy_init_defaults (&opts.policy);
      g_assert_true (vk_pin (doc, &opts, &error));
      g_assert_no_error (error);
      dump (doc);
      g_autoptr(GPtrArray) v = vk_layout_check (doc, &opts.policy, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < v->len; i++)
        {
          VkViolation *x = v->pdata[i];
          g_test_fail_printf ("%s: %s", x->device, x->message);
        }
      /* the NICs got ACPI indexes 1 and 2 and sit in the NIC range */
      g_assert_cmpuint (count (doc, "//interface/acpi[@index='1']"), ==, 1);
      g_assert_cmpuint (count (doc, "//interface/acpi[@index='2']"), ==, 1);
      if (machines[m] == VK_MACHINE_PC)
        {
          assert_xpath_str (doc, "//interface[1]/address/@slot", "0x03");
          assert_xpath_str (doc, "//interface[2]/address/@slot", "0x04");
          assert_xpath_str (doc, "//disk[target/@dev='vda']/address/@slot", "0x10");
          assert_xpath_str (doc, "//disk[target/@dev='vdb']/address/@slot", "0x11");
        }
    }
}

static void
test_nic_spec_to_xml (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkNicSpec) given = NULL;
  g_autoptr(VkNicSpec) fresh = NULL;
  const char *used[] = { "52:54:00:12:34:56", NULL };

  g_assert_true (vk_nic_spec_parse ("bridge=br0,mac=52:54:00:12:34:56", &given, NULL));
  g_assert_null (vk_nic_spec_to_xml (given, used, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "52:54:00:12:34:56"));
  g_clear_error (&error);

  xmlNodePtr n = vk_nic_spec_to_xml (given, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *mac = vk_xml_child_prop (n, "mac", "address");
  g_assert_cmpstr (mac, ==, "52:54:00:12:34:56");
  g_assert_null (vk_xml_child (n, "address"));
  xmlFreeNode (n);

  g_assert_true (vk_nic_spec_parse ("network=default", &fresh, NULL));
  n = vk_nic_spec_to_xml (fresh, used, &error);
  g_assert_no_error (error);
  g_autofree char *gen = vk_xml_child_prop (n, "mac", "address");
  g_assert_nonnull (gen);
  g_assert_cmpstr (gen, !=, "52:54:00:12:34:56");
  g_assert_true (g_str_has_prefix (gen, "52:54:00:"));
  xmlFreeNode (n);
}

/* ------------------------------------------------------------------ main */

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD_TABLE(group, table, func)                                        \
  for (guint i_ = 0; i_ < G_N_ELEMENTS (table); i_++)                        \
    {                                                                        \
      g_autofree char *path_ = case_path (group, i_, (table)[i_].input);     \
      g_test_add_data_func (path_, &(table)[i_], func);                      \
    }
  ADD_TABLE ("nic", nic_cases, test_nic);
  ADD_TABLE ("disk", disk_cases, test_disk);
  ADD_TABLE ("boot", boot_cases, test_boot);

  g_test_add_func ("/spec/validate/ok", test_validate_ok);
  g_test_add_func ("/spec/validate/name", test_validate_name);
  g_test_add_func ("/spec/validate/memory", test_validate_memory);
  g_test_add_func ("/spec/validate/vcpus", test_validate_vcpus);
  g_test_add_func ("/spec/validate/secure-boot", test_validate_secure_boot);
  g_test_add_func ("/spec/validate/duplicate-mac", test_validate_duplicate_mac);
  g_test_add_func ("/spec/validate/duplicate-target", test_validate_duplicate_target);
  g_test_add_func ("/spec/xml/basic", test_xml_basic);
  g_test_add_func ("/spec/xml/generated-uuid", test_xml_generated_uuid);
  g_test_add_func ("/spec/xml/shared-memory", test_xml_shared_memory);
  g_test_add_func ("/spec/xml/direct-kernel", test_xml_direct_kernel);
  g_test_add_func ("/spec/xml/uefi-secure-boot", test_xml_uefi_secure_boot);
  g_test_add_func ("/spec/xml/disk-targets", test_xml_disk_targets);
  g_test_add_func ("/spec/xml/many-disks", test_xml_many_disks);
  g_test_add_func ("/spec/xml/nics", test_xml_nics);
  g_test_add_func ("/spec/xml/serial-log-and-extras", test_xml_serial_log_and_extras);
  g_test_add_func ("/spec/xml/pins-cleanly", test_xml_pins_cleanly);
  g_test_add_func ("/spec/nic-spec-to-xml", test_nic_spec_to_xml);

  return g_test_run ();
}
