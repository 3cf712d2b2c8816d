/* vmkeep — the hibernate sidecar: what vmkeep knows about a saved VM.
 *
 * Managed mode keeps it at STORE/managed/UUID.xml next to libvirt's
 * managed save; image mode at STORE/images/NAME/image.xml next to
 * state.sav. `wake` compares the domain's device identity with it before
 * resuming, so it records everything needed to explain a refusal.
 *
 * Schema (version 1). Elements are in the namespace
 * https://vmkeep.org/ns/sidecar/1, except the embedded <domain>, which is
 * libvirt's own (no namespace). Attributes marked ? are optional; all
 * other elements and attributes are required unless said otherwise.
 *
 *   <vmkeep-sidecar xmlns="https://vmkeep.org/ns/sidecar/1" version="1">
 *     <mode>managed|image</mode>
 *     <domain name="web1" uuid="8-4-4-4-12 hex UUID"/>
 *     <created>2024-05-01T12:34:56Z</created>    ISO 8601, UTC
 *     <host>hv1.example.org</host>               host that saved it
 *     <libvirt-version>9.0.0</libvirt-version>   dotted decimal
 *     <qemu-version>7.2.0</qemu-version>         dotted decimal
 *     <machine>pc-q35-7.2</machine>              os/type/@machine
 *     <state file="state.sav" size="BYTES" sha256="64 hex"/>
 *         Required in image mode, where `file` is a plain file name in
 *         the sidecar's directory and size and sha256 are required.
 *         format?="raw|gzip|bzip2|xz|lzop|zstd|sparse": libvirt's save
 *         image format as the header says (absent in sidecars written
 *         before it was recorded: read the header); channels?="N": the
 *         parallel save channels it was written with (sparse only).
 *         Optional in managed mode (libvirt owns the file; `file` is then
 *         an absolute path, size? and sha256? when known).
 *     <nvram path="/var/lib/libvirt/qemu/nvram/web1_VARS.fd" sha256?="64 hex"/>
 *         Optional: UEFI variable store of the VM at save time.
 *     <tpm present="yes|no"/>
 *     <identity>                                 device identity table
 *       <nic mac?="52:54:00:aa:bb:cc" model?="virtio" queues?="4"
 *            address?="0000:01:00.0" acpi-index?="1"
 *            tap?="vnet3" source-type?="bridge" source?="br0"/>   ...
 *       <disk target="vda" bus?="virtio" device="disk"
 *             address?="0000:00:10.0" readonly="yes|no"
 *             path?="/var/lib/libvirt/images/web1.qcow2" format?="qcow2"
 *             size?="BYTES"/>                                     ...
 *       <port index="1" model?="pcie-root-port" address?="0000:00:03.0"
 *             chassis?="1" port?="16"/>                           ...
 *       <device description="memballoon virtio" address="0000:00:11.0"/> ...
 *     </identity>
 *         Zero or more of each, in the domain XML's order. Addresses use
 *         the forms described in identity.h. tap, source-type, source,
 *         path, format and size are host side: recorded, never compared.
 *         The table must be the one of the embedded domain XML (checked on
 *         parse: a hand-edited table is refused).
 *     <addresses>                                optional
 *       <address mac="52:54:00:aa:bb:cc" ip="10.0.0.2|fe80::1"
 *                source="lease|agent|arp"/>                       ...
 *     </addresses>
 *         The IP addresses the domain's NICs had at save time, as libvirt
 *         knew them (DHCP lease, guest agent, host ARP table), for a
 *         watcher that wakes the VM on an ARP request or neighbour
 *         solicitation. mac is a unicast MAC, ip an IPv4 or IPv6 address
 *         (read in any form inet_pton takes, kept in inet_ntop's), each
 *         (mac, ip) pair at most once, at most VK_SIDECAR_ADDRESSES_MAX
 *         entries; no other attributes. Not part of the identity: never
 *         compared at wake. Written only when there are any, so sidecars
 *         without addresses read and write as before.
 *     <frozen-disks>                             optional
 *       <disk target="vda" original="/path/web1.qcow2"
 *             frozen="/store/images/NAME/vda.qcow2" format="qcow2"
 *             size="BYTES" overlay-sha256?="64 hex"
 *             meta-sha256?="64 hex"/>                             ...
 *     </frozen-disks>
 *         Disks that became the image's read-only base at save time.
 *     <domain-xml>
 *       <domain type="kvm"> ... </domain>        libvirt's domain XML at
 *     </domain-xml>                              save time, as an element
 *   </vmkeep-sidecar>
 *
 * Rules: every element above appears at most once (except the list items);
 * an unknown element in the sidecar namespace is refused (a typo in a
 * hand-edited file must not pass silently); elements in other namespaces
 * are ignored, as an extension point. The embedded domain's <name> and
 * <uuid> must equal <domain name uuid>. A new version number is used for
 * any change a version-1 reader would misread; version 1 readers refuse
 * other versions. Sizes are decimal byte counts; SHA-256 values are 64 hex
 * digits (written lower case, read in either case). */
#pragma once

#include <glib.h>

#include "identity.h"

G_BEGIN_DECLS

#define VK_SIDECAR_NS "https://vmkeep.org/ns/sidecar/1"
#define VK_SIDECAR_VERSION 1

typedef enum {
  VK_SIDECAR_MANAGED,
  VK_SIDECAR_IMAGE,
} VkSidecarMode;

typedef struct {
  char *target;
  char *original;   /* path the disk had before freezing */
  char *frozen;     /* path of the read-only base in the image */
  char *format;
  guint64 size;     /* bytes */
  char *overlay_sha256; /* SHA-256 of the fresh overlay the source domain
                           continued on; wake --image refuses when the
                           overlay no longer matches (the VM ran since).
                           NULL when the disk was copied (--copy). */
  char *meta_sha256;    /* vk_disk_digest of the frozen file (size, mtime,
                           qcow2 metadata): wake, clone and verify refuse a
                           base that is not the one frozen. NULL in
                           sidecars of older vmkeep (not checked). */
} VkFrozenDisk;

void vk_frozen_disk_free (VkFrozenDisk *d);

/* Most <address> entries a sidecar may hold. */
#define VK_SIDECAR_ADDRESSES_MAX 256

typedef struct {
  char *mac;        /* lower case */
  char *ip;         /* IPv4 or IPv6, inet_ntop's form */
  char *source;     /* "lease", "agent" or "arp" */
} VkSidecarAddress;

void vk_sidecar_address_free (VkSidecarAddress *a);

typedef struct {
  VkSidecarMode mode;
  char *domain_name;
  char *domain_uuid;
  GDateTime *created;       /* any zone; written as UTC */
  char *host;
  char *libvirt_version;
  char *qemu_version;
  /* machine type: identity->machine */
  char *state_file;         /* NULL: no <state> (managed mode only) */
  guint64 state_size;       /* valid when has_state_size */
  gboolean has_state_size;
  char *state_sha256;       /* NULL when unknown (managed mode only) */
  int state_format;         /* VkSaveFormat, -1 when not recorded */
  guint state_channels;     /* parallel save channels, 0 when not recorded */
  char *nvram_path;         /* NULL: no <nvram> */
  char *nvram_sha256;       /* NULL when unknown */
  gboolean tpm;
  VkIdentity *identity;     /* required */
  GPtrArray *frozen_disks;  /* VkFrozenDisk*, never NULL */
  GPtrArray *addresses;     /* VkSidecarAddress*, never NULL (empty: none
                               known, or an older sidecar) */
  char *domain_xml;         /* libvirt domain XML text, required */
} VkSidecar;

VkSidecar *vk_sidecar_new (void);
void vk_sidecar_free (VkSidecar *sc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkSidecar, vk_sidecar_free)

const char *vk_sidecar_mode_to_string (VkSidecarMode mode);

/* Serialize. Everything parse checks is checked here too (the result is
 * parsed back before it is returned), so vmkeep never writes a sidecar it
 * would refuse to read; such a failure is VK_ERROR_FAILED and means a bug
 * in the caller. */
char *vk_sidecar_to_xml (const VkSidecar *sc, GError **error);

/* Parse and validate. `source` (a path) names the file in messages. Every
 * problem is VK_ERROR_REFUSED, naming the file and the field: not XML,
 * wrong root or namespace, unknown version, missing or repeated fields,
 * malformed UUID, time, version, size or SHA-256, bad mode, a state file
 * name that is not a plain name in image mode, a <domain-xml> that is not
 * one libvirt <domain>, a domain name/UUID or identity table that does not
 * match the embedded domain XML, an <address> that is malformed, repeated
 * or one too many. */
VkSidecar *vk_sidecar_parse (const char *text, gssize len, const char *source,
                             GError **error);

/* Read and parse the file at `path` (VK_ERROR_NOT_FOUND when missing). */
VkSidecar *vk_sidecar_load (const char *path, GError **error);

/* Serialize and write atomically with mode 0600 (vk_file_write_atomic). */
gboolean vk_sidecar_save (const VkSidecar *sc, const char *path,
                          GError **error);

G_END_DECLS
