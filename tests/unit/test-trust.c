/* Unit tests for src/core/trust.c: the domain XML of an untrusted image.
 *
 * The fixture is tests/data/clone/q35.xml (a q35 UEFI/TPM guest as
 * libvirt shows it). A good image is rewritten to this host's places with
 * its device identity untouched; each hostile variant (one edit of the
 * fixture) is refused with a message naming what and where. */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "domain-xml.h"
#include "identity.h"
#include "trust.h"
#include "vk-error.h"

static char *kernel_dir;

static char *
fixture (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "tests", "data", "clone",
                                                 "q35.xml", NULL);
  char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

static const char *const emulators[] = { "/usr/bin/qemu-system-x86_64", NULL };
static const char *const loaders[] = { "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
                                       "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", NULL };

typedef struct {
  GHashTable *disks;
  const char *kdirs[2];
  VkTrustPolicy p;
} Policy;

static void
policy_init (Policy *p)
{
  p->disks = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (p->disks, "vda", "/var/lib/libvirt/images/img1-vda.qcow2");
  p->kdirs[0] = kernel_dir;
  p->kdirs[1] = NULL;
  p->p = (VkTrustPolicy) { p->disks, "/var/lib/libvirt/qemu/nvram/win11_VARS.fd",
                           "/var/log/libvirt/qemu", emulators, loaders, p->kdirs };
}

static gboolean
run (const char *text, Policy *p, xmlDocPtr *out, GError **error)
{
  g_autoptr(xmlDoc) doc = vk_xml_parse (text, -1, "image.xml", error);
  if (doc == NULL)
    return FALSE;
  if (!vk_trust_domain_xml (doc, &p->p, "image 'img1'", error))
    return FALSE;
  if (out)
    *out = g_steal_pointer (&doc);
  return TRUE;
}

static char *
xpath1 (xmlDocPtr doc, const char *path)
{
  /* tiny path walker: "os/nvram", "devices/disk[0]/source@file" */
  xmlNodePtr n = xmlDocGetRootElement (doc);
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] && n; i++)
    {
      char *at = strchr (parts[i], '@');
      if (at)
        *at = '\0';
      guint want = 0;
      char *br = strchr (parts[i], '[');
      if (br)
        {
          want = (guint) g_ascii_strtoull (br + 1, NULL, 10);
          *br = '\0';
        }
      xmlNodePtr c = n->children;
      for (guint k = 0; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST parts[i]) && k++ == want)
          break;
      n = c;
      if (at && n)
        return vk_xml_prop (n, at + 1);
    }
  if (n == NULL)
    return NULL;
  xmlChar *t = xmlNodeGetContent (n);
  char *s = g_strdup ((const char *) t);
  xmlFree (t);
  return s;
}

static void
test_good (void)
{
  g_autofree char *text = fixture ();
  Policy p;
  policy_init (&p);
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = NULL;
  g_assert_true (run (text, &p, &doc, &error));
  g_assert_no_error (error);
  /* host places rewritten */
  g_autofree char *src = xpath1 (doc, "devices/disk[0]/source@file");
  g_assert_cmpstr (src, ==, "/var/lib/libvirt/images/img1-vda.qcow2");
  g_autofree char *cd = xpath1 (doc, "devices/disk[1]/source@file");
  g_assert_null (cd);   /* the CD-ROM is empty */
  g_autofree char *nv = xpath1 (doc, "os/nvram");
  g_assert_cmpstr (nv, ==, "/var/lib/libvirt/qemu/nvram/win11_VARS.fd");
  g_autofree char *log = xpath1 (doc, "devices/serial/log@file");
  g_assert_cmpstr (log, ==, "/var/log/libvirt/qemu/win11-serial0.log");
  g_autofree char *pty = xpath1 (doc, "devices/serial/source@path");
  g_assert_null (pty);
  g_autofree char *tap = xpath1 (doc, "devices/interface/target@dev");
  g_assert_null (tap);
  g_autofree char *tpm = xpath1 (doc, "devices/tpm/backend/source@path");
  g_assert_null (tpm);
  g_autofree char *seclabel = xpath1 (doc, "seclabel");
  g_assert_null (seclabel);
  g_autofree char *part = xpath1 (doc, "resource/partition");
  g_assert_cmpstr (part, ==, "/machine");
  /* ... and the identity the guest knows is the same */
  g_autoptr(xmlDoc) orig = vk_xml_parse (text, -1, "orig", &error);
  g_autoptr(VkIdentity) a = vk_identity_from_domain (orig, &error);
  g_autoptr(VkIdentity) b = vk_identity_from_domain (doc, &error);
  g_assert_no_error (error);
  g_autoptr(GPtrArray) d = vk_identity_compare (a, b);
  g_assert_cmpuint (d->len, ==, 0);
  g_hash_table_unref (p.disks);
}

/* One edit of the fixture each. */
typedef struct {
  const char *name;
  const char *find;
  const char *replace;
  const char *expect;     /* in the message; NULL: accepted */
} Case;

static const Case cases[] = {
  /* things that make the host do something */
  { "qemu-commandline", "</devices>",
    "</devices><qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
    "<qemu:arg value='-chardev'/><qemu:arg value='file,path=/etc/shadow'/></qemu:commandline>",
    "qemu:commandline" },
  { "qemu-override", "</devices>",
    "</devices><qemu:override xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'/>",
    "qemu:override" },
  { "nic-script", "<source bridge='br0'/>", "<source bridge='br0'/><script path='/tmp/x'/>",
    NULL },
  { "nic-direct", "<interface type='bridge'>", "<interface type='direct'>", "NIC type" },
  { "nic-vhostuser", "<interface type='bridge'>", "<interface type='vhostuser'>", "NIC type" },
  { "nic-hostdev", "<interface type='bridge'>", "<interface type='hostdev'>", "NIC type" },
  { "nic-udp", "<interface type='bridge'>", "<interface type='udp'>", "NIC type" },
  { "nic-bad-bridge", "<source bridge='br0'/>", "<source bridge='-bad bridge'/>", "NIC bridge" },
  { "emulator-other", "<emulator>/usr/bin/qemu-system-x86_64</emulator>",
    "<emulator>/tmp/evil</emulator>", NULL },
  { "loader-other", "/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>", "/etc/shadow</loader>",
    "firmware <loader>" },
  { "nvram-source", "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>/var/lib/libvirt/qemu/nvram/win11_VARS.fd</nvram>",
    "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd' type='file'><source file='/etc/shadow'/></nvram>",
    "<nvram>" },
  { "kernel-outside", "<boot dev='hd'/>", "<kernel>/etc/shadow</kernel>", "outside the directories" },
  { "kernel-missing", "<boot dev='hd'/>", "<kernel>@KDIR@/nope</kernel>", "does not exist" },
  { "kernel-dotdot", "<boot dev='hd'/>", "<kernel>@KDIR@/../../etc/shadow</kernel>",
    "not a plain absolute path" },
  { "kernel-relative", "<boot dev='hd'/>", "<kernel>vmlinuz</kernel>", "not a plain absolute path" },
  { "initrd-outside", "<boot dev='hd'/>", "<initrd>/etc/passwd</initrd>", "<initrd>" },
  { "dtb-outside", "<boot dev='hd'/>", "<dtb>/etc/passwd</dtb>", "<dtb>" },
  { "acpi-table", "<boot dev='hd'/>", "<acpi><table type='slic'>/etc/shadow</table></acpi>",
    "ACPI <table>" },
  { "os-init", "<boot dev='hd'/>", "<init>/bin/sh</init>", "<os> element" },
  { "sysinfo-file", "<clock offset='localtime'/>",
    "<clock offset='localtime'/><sysinfo type='fwcfg'><entry name='opt/x' file='/etc/shadow'/></sysinfo>",
    "<sysinfo> entry" },
  /* host resources */
  { "hostdev", "<memballoon model='virtio'>",
    "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='1' slot='0' function='0'/></source></hostdev><memballoon model='virtio'>",
    "<hostdev>" },
  { "filesystem", "<memballoon model='virtio'>",
    "<filesystem type='mount'><source dir='/'/><target dir='x'/></filesystem><memballoon model='virtio'>",
    "<filesystem>" },
  { "shmem", "<memballoon model='virtio'>", "<shmem name='x'><server path='/tmp/s'/></shmem><memballoon model='virtio'>",
    "<shmem>" },
  { "lease", "<memballoon model='virtio'>",
    "<lease><lockspace>x</lockspace><key>y</key><target path='/etc/shadow'/></lease><memballoon model='virtio'>",
    "<lease>" },
  { "smartcard", "<memballoon model='virtio'>",
    "<smartcard mode='host-certificates'><database>/etc/pki</database></smartcard><memballoon model='virtio'>",
    "<smartcard>" },
  { "unknown-device", "<memballoon model='virtio'>", "<frobnicator/><memballoon model='virtio'>",
    "frobnicator" },
  /* found by fuzz/fuzz-trust: a mouse has no <source> in libvirt; one in
   * an image is dropped, whatever it names */
  { "input-source", "<input type='mouse' bus='ps2'>",
    "<input type='mouse' bus='ps2'><source file='/etc/shadow' evdev='/dev/input/event0'/>", NULL },
  /* found by fuzz/fuzz-trust: attributes libvirt does not list for
   * <nvram> and <loader> are dropped, so none a later libvirt reads as a
   * path can ride along */
  { "nvram-path-attr", "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>",
    "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd' path='/etc/shadow'>", NULL },
  { "loader-path-attr", "<loader readonly='yes'", "<loader path='/etc/shadow' readonly='yes'",
    NULL },
  { "nvram-type-block", "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd'>",
    "<nvram template='/usr/share/OVMF/OVMF_VARS_4M.ms.fd' type='block'>", "<nvram> type" },
  /* found by fuzz/fuzz-trust: a character device's <source> and <log>
   * keep only what their type reads; the paths are vmkeep's */
  { "serial-pty-file-attr", "<source path='/dev/pts/3'/>\n      <log",
    "<source path='/dev/pts/3' file='/etc/shadow'/>\n      <log", NULL },
  { "serial-log-extra-attr", "<log file='/var/log/vmkeep/win11-serial.log'",
    "<log path='/etc/shadow' file='/var/log/vmkeep/win11-serial.log'", NULL },
  /* found by fuzz/fuzz-trust: an RNG backend keeps only its checked
   * device, as text (libvirt joins the text of every child) */
  { "rng-child-source", "<backend model='random'>/dev/urandom</backend>",
    "<backend model='random' path='/etc/x'>/dev/ura<source file='/etc/shadow'/>ndom</backend>",
    NULL },
  /* the same for every element whose text is a path vmkeep checked */
  { "kernel-child-element", "<boot dev='hd'/>",
    "<kernel>@KDIR@/vml<x file='/etc/shadow'/>inuz</kernel>", NULL },
  { "loader-child-element", "/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader>",
    "/usr/share/OVMF/<source file='/etc/shadow'/>OVMF_CODE_4M.ms.fd</loader>", NULL },
  { "emulator-child-element", "<emulator>/usr/bin/qemu-system-x86_64</emulator>",
    "<emulator>/usr/bin/<source file='/etc/shadow'/>qemu-system-x86_64</emulator>", NULL },
  /* found by fuzz/fuzz-trust: libvirt reads the first <source> only */
  { "disk-second-source", "<readonly/>", "<readonly/><source file='/etc/shadow'/>",
    "more than one <source>" },
  { "disk-extra-file", "<controller type='pci' index='0'",
    "<disk type='file' device='disk'><source file='/etc/shadow'/><target dev='vdz' bus='virtio'/></disk><controller type='pci' index='0'",
    "disk vdz" },
  { "disk-readonly-file", "<controller type='pci' index='0'",
    "<disk type='file' device='disk'><source file='/etc/shadow'/><target dev='vdz' bus='virtio'/><readonly/></disk><controller type='pci' index='0'",
    "not part of the image" },
  { "disk-network", "<controller type='pci' index='0'",
    "<disk type='network' device='disk'><source protocol='nbd' name='x'><host name='10.0.0.1'/></source><target dev='vdz' bus='virtio'/></disk><controller type='pci' index='0'",
    "disk vdz" },
  { "disk-block", "<controller type='pci' index='0'",
    "<disk type='block' device='disk'><source dev='/dev/sda'/><target dev='vdz' bus='virtio'/></disk><controller type='pci' index='0'",
    "disk vdz" },
  { "disk-encrypted", "<target dev='vda' bus='virtio'/>",
    "<target dev='vda' bus='virtio'/><encryption format='luks'><secret type='passphrase' uuid='0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f'/></encryption>",
    "encryption" },
  { "disk-target-path", "<target dev='vda' bus='virtio'/>", "<target dev='../x' bus='virtio'/>",
    "disk target" },
  { "cdrom-frozen", "<target dev='sda' bus='sata'/>", "<target dev='vda' bus='sata'/>", "not a disk" },
  { "serial-dev", "<serial type='pty'>\n      <source path='/dev/pts/3'/>",
    "<serial type='dev'>\n      <source path='/dev/ttyS0'/>", "<serial type>" },
  { "serial-pipe", "<serial type='pty'>", "<serial type='pipe'>", "<serial type>" },
  { "serial-tcp", "<serial type='pty'>", "<serial type='tcp'>", "<serial type>" },
  { "serial-unix", "<serial type='pty'>", "<serial type='unix'>", "<serial type>" },
  { "console-dev", "<console type='pty' tty='/dev/pts/3'>", "<console type='dev'>", "<console type>" },
  { "parallel-dev", "<memballoon model='virtio'>",
    "<parallel type='dev'><source path='/dev/parport0'/></parallel><memballoon model='virtio'>",
    "<parallel type>" },
  { "input-evdev", "<input type='mouse' bus='ps2'>", "<input type='evdev' bus='ps2'>", "<input type>" },
  { "input-passthrough", "<input type='mouse' bus='ps2'>", "<input type='passthrough' bus='virtio'>",
    "<input type>" },
  { "audio-file", "<audio id='1' type='none'/>", "<audio id='1' type='file' path='/etc/cron.d/x'/>",
    "<audio type>" },
  { "audio-pulse", "<audio id='1' type='none'/>", "<audio id='1' type='pulseaudio'/>", "<audio type>" },
  { "rng-file", "<backend model='random'>/dev/urandom</backend>",
    "<backend model='random'>/etc/shadow</backend>", "RNG backend" },
  { "rng-egd", "<backend model='random'>/dev/urandom</backend>",
    "<backend model='egd' type='tcp'><source mode='connect' host='1.2.3.4' service='1'/></backend>",
    "RNG backend" },
  { "tpm-passthrough", "<backend type='emulator' version='2.0'>", "<backend type='passthrough' version='2.0'>",
    "TPM backend" },
  { "memory-nvdimm", "<memballoon model='virtio'>",
    "<memory model='nvdimm'><source><path>/etc/shadow</path></source><target><size unit='KiB'>1</size></target></memory><memballoon model='virtio'>",
    "<memory> device" },
  { "redirdev-tcp", "<memballoon model='virtio'>",
    "<redirdev bus='usb' type='tcp'><source mode='connect' host='1.2.3.4' service='1'/></redirdev><memballoon model='virtio'>",
    "<redirdev type>" },
  { "domain-type", "<domain type='kvm' id='7'>", "<domain type='xen'>", "type" },
  { "domain-name", "<name>win11</name>", "<name>../../x</name>", "name" },
  { "unknown-top", "<clock offset='localtime'/>", "<clock offset='localtime'/><idmap/>", "idmap" },
  { "cgroup-partition", "<partition>/machine</partition>", "<partition>/../../etc</partition>",
    NULL },
  /* harmless variations that are accepted */
  { "channel-unix", "<memballoon model='virtio'>",
    "<channel type='unix'><source mode='bind' path='/etc/x.sock'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel><memballoon model='virtio'>",
    NULL },
  { "serial-file", "<serial type='pty'>\n      <source path='/dev/pts/3'/>",
    "<serial type='file'>\n      <source path='/etc/cron.d/evil'/>", NULL },
  { "graphics-socket", "<memballoon model='virtio'>",
    "<graphics type='vnc' socket='/etc/x'><listen type='socket' socket='/etc/y'/></graphics><memballoon model='virtio'>",
    NULL },
  { "seclabel-root", "<seclabel type='dynamic' model='dac' relabel='yes'>",
    "<seclabel type='static' model='dac' relabel='no'>", NULL },
  { "kernel-ok", "<boot dev='hd'/>", "<kernel>@KDIR@/vmlinuz</kernel>", NULL },
  { "metadata-ns", "<clock offset='localtime'/>",
    "<clock offset='localtime'/><metadata><x:y xmlns:x='urn:x'/></metadata>", NULL },
};

static char *
apply (const char *text, const Case *c)
{
  g_autofree char *find = NULL, *repl = NULL;
  g_autoptr(GString) s = g_string_new (text);
  g_autofree char *r = g_strdup (c->replace);
  g_autoptr(GString) rs = g_string_new (r);
  g_string_replace (rs, "@KDIR@", kernel_dir, 0);
  guint n = g_string_replace (s, c->find, rs->str, 1);
  if (n != 1)
    g_error ("case %s: '%s' not found in the fixture", c->name, c->find);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
test_case (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *text = fixture ();
  g_autofree char *edited = apply (text, c);
  Policy p;
  policy_init (&p);
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = NULL;
  gboolean ok = run (edited, &p, &doc, &error);
  if (c->expect == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      /* nothing of the variation survives where it matters */
      g_autofree char *out = vk_xml_format (doc);
      g_assert_null (strstr (out, "/etc/"));
      g_assert_null (strstr (out, "/tmp/evil"));
      g_assert_null (strstr (out, "/tmp/x"));
      g_assert_null (strstr (out, "seclabel"));
      g_assert_null (strstr (out, "script"));
    }
  else
    {
      g_assert_false (ok);
      g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
      if (strstr (error->message, c->expect) == NULL)
        g_error ("case %s: '%s' not in: %s", c->name, c->expect, error->message);
      g_assert_nonnull (strstr (error->message, "image 'img1'"));
    }
  g_hash_table_unref (p.disks);
}

static void
test_paths (void)
{
  g_assert_true (vk_path_is_plain ("/var/lib/x"));
  g_assert_true (vk_path_is_plain ("/"));
  g_assert_false (vk_path_is_plain ("var/lib"));
  g_assert_false (vk_path_is_plain ("/var/../etc"));
  g_assert_false (vk_path_is_plain ("/var/./x"));
  g_assert_false (vk_path_is_plain ("/var//x"));
  g_assert_false (vk_path_is_plain ("/var/\x1b[31m"));
  g_assert_false (vk_path_is_plain (""));
  g_assert_false (vk_path_is_plain (NULL));
  g_assert_true (vk_path_is_below ("/store/images/a", "/store"));
  g_assert_true (vk_path_is_below ("/store", "/store"));
  g_assert_true (vk_path_is_below ("/store/x", "/store/"));
  g_assert_false (vk_path_is_below ("/storex/a", "/store"));
  g_assert_false (vk_path_is_below ("/store/../etc", "/store"));
  g_assert_true (vk_path_is_below ("/anything", "/"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  kernel_dir = g_dir_make_tmp ("vk-trust-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *k = g_build_filename (kernel_dir, "vmlinuz", NULL);
  g_assert_true (g_file_set_contents (k, "kernel", -1, NULL));
  g_test_add_func ("/trust/paths", test_paths);
  g_test_add_func ("/trust/good", test_good);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/trust/case/%s", cases[i].name);
      g_test_add_data_func (path, &cases[i], test_case);
    }
  int rc = g_test_run ();
  g_unlink (k);
  g_rmdir (kernel_dir);
  g_free (kernel_dir);
  return rc;
}
