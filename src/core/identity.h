/* vmkeep — device identity of a domain, and canonical domain XML diffs.
 *
 * The invariant (DESIGN.md): what a guest sees of its hardware — each PCI
 * device's address, each NIC's MAC, model, queue count and ACPI index — is
 * fixed and must never change across hibernate, wake, clone and fork. A
 * resumed guest does not re-enumerate: a NIC that moved or changed MAC is,
 * for the guest, a NIC that vanished (Windows then shows zero adapters).
 *
 * Two tools check it:
 *
 * - VkIdentity, the identity table of one domain XML. It is recorded in the
 *   hibernate sidecar and compared (vk_identity_compare) with the domain's
 *   XML before a wake. It also carries the host-side fields (TAP, host
 *   source, disk path and format) so the sidecar tells the whole story, but
 *   those are not compared: they are allowed to differ.
 *
 * - vk_domain_xml_diff, a whole-document canonical comparison for clones
 *   and forks: every difference between two domain XMLs is either in the
 *   allowed list (the fields the invariant lets a clone change) or an
 *   identity difference.
 *
 * Both are pure (libxml2 documents in, data out). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

/* Device addresses are strings so that they compare and print alike:
 * PCI addresses as "0000:01:00.0" (domain:bus:slot.function, lower-case
 * hex), drive addresses as "drive 0:0:0:0" (controller:bus:target:unit),
 * any other address type as "TYPE name=value ..." with the attributes
 * sorted by name. NULL means the device has no <address>. */

typedef struct {
  char *mac;          /* lower case; NULL only when the XML has no <mac> */
  char *model;        /* <model type>, NULL when absent */
  guint queues;       /* <driver queues>, 0 when absent (= one queue) */
  char *address;      /* see above */
  int acpi_index;     /* <acpi index>, -1 when absent */
  /* host side, recorded but never compared: */
  char *tap;          /* <target dev>, NULL when absent */
  char *source_type;  /* <interface type>: bridge, network, ethernet, ... */
  char *source;       /* bridge or network name, direct/vhostuser path ... */
} VkIdentityNic;

typedef struct {
  char *target;       /* <target dev>: vda, sda, ... */
  char *bus;          /* <target bus>, NULL when absent */
  char *device;       /* <disk device>: disk, cdrom, floppy, lun */
  char *address;
  gboolean readonly;  /* guest-visible (virtio-blk negotiates it) */
  /* host side, recorded but never compared: */
  char *path;         /* <source file|dev|dir|name|volume>, NULL if none */
  char *format;       /* <driver type>, NULL when absent */
  guint64 size;       /* bytes; not in domain XML: 0 unless the caller
                         fills it in (the sidecar records it) */
} VkIdentityDisk;

/* PCI controllers that provide a bus (pcie-root-port, pci-bridge, ...):
 * a device behind one has an address on the controller's bus (its index),
 * so moving the controller moves the device although the device's own
 * <address> does not change. */
typedef struct {
  guint index;
  char *model;        /* <controller model>: pcie-root-port, pci-bridge ... */
  char *address;
  int chassis;        /* <target chassis>, -1 when absent */
  int port;           /* <target port>, -1 when absent */
} VkIdentityPort;

/* Every other device that has a PCI address. `description` is stable
 * across live and inactive XML (no alias): "controller usb 0 qemu-xhci",
 * "memballoon virtio", "video virtio", "rng virtio", "filesystem TAG",
 * "hostdev 0000:03:00.0", ... Devices without an address are not listed:
 * they have no identity to keep yet (vmkeep pins every device it lays
 * out, and libvirt's live XML addresses every PCI device). */
typedef struct {
  char *description;
  char *address;
} VkIdentityDevice;

typedef struct {
  char *machine;         /* <os><type machine>, NULL when absent */
  GPtrArray *nics;       /* VkIdentityNic*, document order */
  GPtrArray *disks;      /* VkIdentityDisk*, document order */
  GPtrArray *ports;      /* VkIdentityPort*, document order */
  GPtrArray *devices;    /* VkIdentityDevice*, document order */
} VkIdentity;

VkIdentity *vk_identity_new (void);
void vk_identity_free (VkIdentity *id);
void vk_identity_nic_free (VkIdentityNic *nic);
void vk_identity_disk_free (VkIdentityDisk *disk);
void vk_identity_port_free (VkIdentityPort *port);
void vk_identity_device_free (VkIdentityDevice *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkIdentity, vk_identity_free)

/* The identity table of a libvirt domain document (live or inactive XML).
 * Fails (VK_ERROR_USAGE) only when `doc` is not a <domain>. */
VkIdentity *vk_identity_from_domain (xmlDocPtr doc, GError **error);

/* What differs between `expected` (e.g. the sidecar) and `actual` (the
 * domain now), as human-readable lines (char*, empty array when the
 * identity is kept), in this order: machine type, NICs, disks, ports,
 * other devices. Examples:
 *   machine type pc-q35-7.2 -> pc-q35-8.0
 *   NIC 52:54:00:aa:bb:cc: PCI address 0000:01:00.0 -> 0000:02:00.0
 *   NIC 52:54:00:aa:bb:cc: queues 4 -> 2
 *   NIC at 0000:01:00.0: MAC 52:54:00:aa:bb:cc -> 52:54:00:aa:bb:dd
 *   NIC 52:54:00:aa:bb:cc: missing
 *   disk vdb: added
 *   pcie-root-port 1: PCI address 0000:00:03.0 -> 0000:00:04.0
 *   memballoon virtio: PCI address 0000:00:11.0 -> 0000:00:12.0
 *   rng virtio at 0000:00:13.0: missing
 * NICs are matched by MAC and disks by target; an unmatched NIC (disk) on
 * each side at the same address is reported as one device whose MAC
 * (target) changed. Queues 0 (absent) and 1 are equal. Host-side fields
 * (tap, source, path, format, size) are never compared. */
GPtrArray *vk_identity_compare (const VkIdentity *expected,
                                const VkIdentity *actual);

/* One difference found by vk_domain_xml_diff. */
typedef struct {
  /* Where, with list elements named by their key:
   * "/domain/devices/interface[52:54:00:aa:bb:cc]/source/@bridge",
   * "/domain/devices/disk[vda]/source/@file", "/domain/name",
   * "/domain/devices/controller[pci 1]/address/@slot". */
  char *path;
  char *before;       /* value in A; NULL when absent in A */
  char *after;        /* value in B; NULL when absent in B */
  const char *rule;   /* allowed differences: the rule that allows it
                         ("disk source path", "TAP device", ...); NULL for
                         identity differences */
  char *text;         /* human-readable line: "PATH: BEFORE -> AFTER",
                         "PATH: added", "PATH: removed" */
} VkXmlDifference;

void vk_xml_difference_free (VkXmlDifference *d);

/* Compare two whole domain documents canonically. Attribute order,
 * whitespace around text and comments do not matter, address numbers
 * compare by value (slot='3' equals slot='0x03') and MACs regardless of
 * case. Children are matched by
 * key, not by position: interfaces by MAC, disks by target dev,
 * controllers by type and index, filesystems by target dir, CPU features
 * by name, vcpus by id; any other repeated element by its position among
 * siblings of the same name.
 *
 * Allowed (rule names as given in VkXmlDifference.rule):
 *   "name"                /domain/name
 *   "UUID"                /domain/uuid
 *   "disk source path"    everything in disk/source and disk/backingStore
 *                         (live XML shows the backing chain there)
 *   "disk format"         disk/driver/@type (a frozen disk continues on a
 *                         qcow2 overlay: the format follows the source)
 *   "TAP device"          everything in interface/target
 *   "NIC host side"       interface/@type, everything in interface/source
 *                         and interface/virtualport
 *   "character device path"  serial|console|channel/source/@path,
 *                         serial|console/log (all), console/@tty
 *                         (pty paths are assigned at start; channel
 *                         sockets are named after the domain)
 *   "NVRAM path"          os/nvram text and everything in os/nvram/source
 *   "TPM state path"      everything in tpm/backend/source,
 *                         tpm/backend/device/@path
 * An element present on one side only is allowed when every attribute and
 * text inside it is (e.g. a <target dev> that only live XML has).
 *
 * Ignored (never reported), because libvirt adds or changes them in live
 * XML without the guest seeing anything: <alias> elements; <seclabel>
 * elements and the <label>, <imagelabel>, <baselabel> inside them; the
 * <domain id> attribute; channel/target/@state; graphics @port, @tlsPort
 * and @websocket of a graphics element that has autoport='yes'.
 *
 * Compare like with like (both live, both inactive, or both taken from
 * save images): libvirt expands some settings in live XML (e.g. a
 * host-model CPU), and those are real identity differences.
 *
 * `allowed` and `identity` receive VkXmlDifference* arrays (either may be
 * NULL when not wanted). Fails (VK_ERROR_USAGE) when a document is not a
 * <domain>. */
gboolean vk_domain_xml_diff (xmlDocPtr a, xmlDocPtr b, GPtrArray **allowed,
                             GPtrArray **identity, GError **error);

G_END_DECLS
