/* Fuzz harness: the trust boundary (src/core/trust.c) alone, with the
 * promise it makes to the host (trust.h): after vk_trust_domain_xml
 * accepted an imported image's domain XML, no host path in it is one the
 * image chose. fuzz-domain-xml also runs the boundary, among much else;
 * this harness is narrower and many times faster, so it goes deeper.
 *
 * Invariants, for every document the boundary accepts:
 *   - every absolute path left where libvirt's schema takes a host path
 *     (path_attrs and path_text_elements below) is one the policy handed
 *     in or below a directory the policy names, or one of the RNG devices
 *     trust.h allows;
 *   - the device identity (PCI addresses, MACs, models) is unchanged;
 *   - the result still parses, and the boundary accepts it a second time
 *     (what it wrote is inside its own policy). */
#include "config.h"

#include "domain-xml.h"
#include "fuzz-common.h"
#include "identity.h"
#include "trust.h"

static const char *const emulators[] = { "/usr/bin/qemu-system-x86_64", NULL };
static const char *const loaders[] = { "/usr/share/OVMF/OVMF_CODE_4M.ms.fd",
                                       "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", NULL };
/* Real directories, so the existence check of boot files runs too. */
static const char *const kernel_dirs[] = { "/boot", "/usr/lib", NULL };
static const char *const rngs[] = { "/dev/urandom", "/dev/random", "/dev/hwrng", NULL };
#define NVRAM_PATH "/var/lib/libvirt/qemu/nvram/fuzz_VARS.fd"
#define LOG_DIR "/var/log/libvirt/qemu"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  return 0;
}

static GHashTable *
disk_paths (void)
{
  GHashTable *disks = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (disks, "vda", "/var/lib/libvirt/images/fuzz-vda.qcow2");
  g_hash_table_insert (disks, "vdb", "/var/lib/libvirt/images/fuzz-vdb.qcow2");
  g_hash_table_insert (disks, "sda", "/var/lib/libvirt/images/fuzz-sda.qcow2");
  return disks;
}

static gboolean
path_allowed (const char *path, GHashTable *disks)
{
  GHashTableIter it;
  gpointer value;

  if (g_strv_contains (emulators, path) || g_strv_contains (loaders, path) ||
      g_strv_contains (rngs, path) || g_str_equal (path, NVRAM_PATH) ||
      vk_path_is_below (path, LOG_DIR))
    return TRUE;
  for (const char *const *d = kernel_dirs; *d; d++)
    if (vk_path_is_below (path, *d))
      return TRUE;
  g_hash_table_iter_init (&it, disks);
  while (g_hash_table_iter_next (&it, NULL, &value))
    if (g_str_equal (path, value))
      return TRUE;
  return FALSE;
}

static void
check_value (xmlNodePtr node, const char *what, const char *value, GHashTable *disks)
{
  if (value == NULL || value[0] != '/')
    return;
  vk_fuzz_check (path_allowed (value, disks),
                 "the trust boundary let the host path '%s' through (<%s> %s)", value,
                 (const char *) node->name, what);
}

/* Where libvirt's domain schema takes a host path, as element paths below
 * <domain> (backingStore chains folded to one): path_attrs on the
 * elements of path_attr_elements, and the text of path_text_elements.
 * libvirt ignores elements it does not know, or knows elsewhere only
 * (a <parallel> inside a <video>), so those are not looked at; nor is an
 * interface's <source>: the types that read a path there (vhostuser,
 * server, client, udp, direct) are refused. */
static const char *const path_attr_elements[] = {
  "os/loader", "os/nvram", "os/nvram/source", "sysinfo/entry", "sysinfo/oemStrings/entry",
  "devices/disk/source", "devices/disk/backingStore/source", "devices/disk/mirror/source",
  "devices/serial/source", "devices/serial/log", "devices/console/source",
  "devices/console/log", "devices/channel/source", "devices/channel/log",
  "devices/parallel/source", "devices/parallel/log", "devices/smartcard/source",
  "devices/redirdev/source", "devices/rng/backend/source", "devices/tpm/backend/source",
  "devices/tpm/backend/device", "devices/tpm/backend", "devices/filesystem/source",
  "devices/hostdev/source", "devices/input/source", "devices/memory/source",
  "devices/shmem/server", "devices/interface/script", "devices/interface/downscript",
  "devices/interface/backend", "devices/graphics",
  "devices/graphics/listen", "devices/audio", "devices/audio/input", "devices/audio/output",
  NULL
};
static const char *const path_attrs[] = { "file", "path", "dev", "dir", "socket", "template",
                                          "tap", "vhost", "evdev", NULL };
static const char *const path_text_elements[] = {
  "devices/emulator", "os/loader", "os/nvram", "os/kernel", "os/initrd", "os/dtb",
  "os/acpi/table", "os/init", "devices/smartcard/database", "devices/memory/source/path",
  "devices/rng/backend", NULL
};

/* "devices/disk/backingStore/source" for a node, backingStore chains
 * folded to one. */
static char *
element_path (xmlNodePtr node)
{
  GPtrArray *names = g_ptr_array_new ();
  GString *path = g_string_new (NULL);

  for (xmlNodePtr n = node; n != NULL && n->type == XML_ELEMENT_NODE && n->parent != NULL &&
                            n->parent->type == XML_ELEMENT_NODE;
       n = n->parent)
    g_ptr_array_add (names, (gpointer) n->name);
  for (guint i = names->len; i > 0; i--)
    {
      const char *name = names->pdata[i - 1];
      if (i < names->len && g_str_equal (name, "backingStore") &&
          g_str_equal (names->pdata[i], "backingStore"))
        continue;
      g_string_append_printf (path, "%s%s", path->len ? "/" : "", name);
    }
  g_ptr_array_free (names, TRUE);
  return g_string_free (path, FALSE);
}

static void
check_paths (xmlNodePtr node, GHashTable *disks)
{
  for (; node != NULL; node = node->next)
    {
      if (node->type != XML_ELEMENT_NODE)
        continue;
      g_autofree char *path = element_path (node);
      if (g_strv_contains (path_attr_elements, path))
        for (xmlAttrPtr a = node->properties; a != NULL; a = a->next)
          {
            if (!g_strv_contains (path_attrs, (const char *) a->name))
              continue;
            g_autofree char *v = (char *) xmlNodeGetContent ((xmlNodePtr) a);
            g_autofree char *stripped = g_strstrip (g_strdup (v ? v : ""));
            check_value (node, (const char *) a->name, stripped, disks);
          }
      if (g_strv_contains (path_text_elements, path))
        {
          /* all the text below it, as libvirt reads it (xmlNodeGetContent) */
          g_autofree char *t = (char *) xmlNodeGetContent (node);
          g_autofree char *stripped = g_strstrip (g_strdup (t ? t : ""));
          check_value (node, "text", stripped, disks);
        }
      check_paths (node->children, disks);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlDoc) again = NULL;
  g_autoptr(VkIdentity) before = NULL;
  g_autoptr(VkIdentity) after = NULL;
  g_autoptr(GPtrArray) diffs = NULL;
  g_autoptr(GHashTable) disks = disk_paths ();
  g_autofree char *text = NULL;
  VkTrustPolicy policy = { disks, NVRAM_PATH, LOG_DIR, emulators, loaders, kernel_dirs };

  /* Inputs of odd length get no NVRAM path: such a domain is refused. */
  if (size % 2 == 1)
    policy.nvram_path = NULL;
  doc = vk_xml_parse ((const char *) data, (gssize) size, "fuzz.xml", &error);
  if (doc == NULL)
    {
      vk_fuzz_check_error (error, "vk_xml_parse");
      return 0;
    }
  before = vk_identity_from_domain (doc, &error);
  if (before == NULL)
    {
      vk_fuzz_check_error (error, "vk_identity_from_domain");
      return 0;
    }
  if (!vk_trust_domain_xml (doc, &policy, "image 'fuzz'", &error))
    {
      vk_fuzz_check_error (error, "vk_trust_domain_xml");
      return 0;
    }
  check_paths (xmlDocGetRootElement (doc)->children, disks);

  after = vk_identity_from_domain (doc, &error);
  vk_fuzz_check (after != NULL, "trusted XML is no domain: %s", error->message);
  diffs = vk_identity_compare (before, after);
  vk_fuzz_check (diffs->len == 0, "the trust boundary changed the identity: %s",
                 (const char *) diffs->pdata[0]);

  text = vk_xml_format (doc);
  again = vk_xml_parse (text, -1, "trusted", &error);
  vk_fuzz_check (again != NULL, "trusted XML does not parse: %s", error->message);
  vk_fuzz_check (vk_trust_domain_xml (again, &policy, "trusted", &error),
                 "the boundary refuses what it wrote itself: %s", error->message);
  return 0;
}
