/* vmkeep — runtime-attached devices: virtiofs filesystems and VFIO PCI
 * hostdevs (pure).
 *
 * Building their libvirt elements, finding them in a domain document by
 * tag, host BDF or ID, the per-VM uniqueness rules, the list that
 * `vmkeep devices` prints, and the read-only check that a host PCI device
 * is bound to vfio-pci (against a sysfs root the caller hands in). Where a
 * device goes on the guest's PCI bus is vk_place_new_device's business
 * (pin.h). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "validate.h"

G_BEGIN_DECLS

/* libvirt only accepts user-chosen aliases with this prefix. */
#define VK_USER_ALIAS_PREFIX "ua-"
/* Longest --id (the alias adds the prefix). */
#define VK_DEVICE_ID_MAX 32
/* Largest virtqueue QEMU's vhost-user-fs accepts (VIRTQUEUE_MAX_SIZE). */
#define VK_FS_QUEUE_MAX 1024
/* Queue size vmkeep pins when none is given, so the device does not
 * change with QEMU's default. */
#define VK_FS_QUEUE_DEFAULT 1024

typedef struct {
  char *tag;
  char *socket;       /* externally started virtiofsd, or */
  char *source_dir;   /* directory for a virtiofsd libvirt starts */
  char *binary;       /* that virtiofsd (source_dir only; NULL: libvirt's choice) */
  guint queue_size;   /* 0: no queue attribute */
} VkFsSpec;
void vk_fs_spec_free (VkFsSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkFsSpec, vk_fs_spec_free)

/* <filesystem type='mount'> with a virtiofs driver, without address:
 *   socket:     <source socket='PATH'/>
 *   source_dir: accessmode='passthrough', <binary path='...'/>,
 *               <source dir='DIR'/>
 * Exactly one of socket / source_dir must be set. */
xmlNodePtr vk_fs_element_new (const VkFsSpec *spec);

/* <hostdev mode='subsystem' type='pci' managed='no'> for a host device
 * (managed='no': vmkeep never lets libvirt rebind a host driver), with
 * <alias name='ua-ID'/> when `id` is not NULL. */
xmlNodePtr vk_hostdev_element_new (const VkBdf *bdf, const char *id);

/* --id values: 1..VK_DEVICE_ID_MAX characters of [A-Za-z0-9_-], starting
 * with a letter or digit (VK_ERROR_USAGE otherwise). */
gboolean vk_validate_device_id (const char *id, GError **error);

/* Virtqueue size: a power of two from 16 to VK_FS_QUEUE_MAX. */
gboolean vk_validate_fs_queue_size (guint64 n, GError **error);

/* Does the domain give guest RAM a shared backing (what vhost-user-fs
 * needs): <memoryBacking><access mode='shared'/> or every NUMA cell with
 * memAccess='shared'? */
gboolean vk_domain_has_shared_memory (xmlDocPtr doc);

/* The <filesystem> with target dir `tag`, or NULL. `doc` may be NULL. */
xmlNodePtr vk_domain_find_fs (xmlDocPtr doc, const char *tag);
/* The PCI <hostdev> of host device `bdf`, or NULL. */
xmlNodePtr vk_domain_find_hostdev (xmlDocPtr doc, const VkBdf *bdf);
/* The device whose alias is `alias`, or NULL. */
xmlNodePtr vk_domain_find_alias (xmlDocPtr doc, const char *alias);
/* A PCI <hostdev> by what `device detach` accepts: a BDF in any form
 * vk_bdf_parse takes, an ID given with --id, or its full alias. */
xmlNodePtr vk_domain_find_hostdev_by_key (xmlDocPtr doc, const char *key);

/* Host address of a PCI <hostdev> (its <source><address>). */
gboolean vk_hostdev_source_bdf (xmlNodePtr hostdev, VkBdf *out);

/* Refuse (VK_ERROR_REFUSED) a tag another filesystem of `doc` has;
 * `where` says which definition ("running VM", "persistent definition").
 * The message names the domain, the tag and what to do. */
gboolean vk_check_fs_tag_unique (xmlDocPtr doc, const char *domain, const char *where,
                                 const char *tag, GError **error);
/* Refuse a host device `doc` already has, or an ID another device uses. */
gboolean vk_check_hostdev_unique (xmlDocPtr doc, const char *domain, const char *where,
                                  const VkBdf *bdf, const char *id, GError **error);

/* One row of `vmkeep devices`. */
typedef struct {
  char *kind;       /* "filesystem" or "hostdev" */
  char *name;       /* tag, or host BDF "0000:01:00.0" */
  char *id;         /* --id (user alias without "ua-"), or NULL */
  char *alias;      /* libvirt's alias in the running VM, or NULL */
  char *source;     /* socket path, shared directory, or NULL (hostdev) */
  char *source_type;/* "socket", "dir" or NULL */
  char *address;    /* guest PCI address "0000:05:00.0", or NULL */
  gboolean live;    /* in the running VM */
  gboolean config;  /* in the persistent definition */
} VkAttachedDevice;
void vk_attached_device_free (VkAttachedDevice *d);

/* virtiofs filesystems and PCI hostdevs of a domain, from its running
 * (`live`, may be NULL) and persistent (`config`, may be NULL) definition,
 * sorted by kind and name; each row says in which of the two it is. */
GPtrArray *vk_attached_devices (xmlDocPtr live, xmlDocPtr config);

/* Whether host PCI device `bdf` can be passed through, from what the host
 * says about it: it must exist (else VK_ERROR_NOT_FOUND) and be bound to
 * vfio-pci (`driver`; NULL = no driver; else VK_ERROR_REFUSED naming the
 * driver it is bound to, or none, and the commands that rebind it). */
gboolean vk_pci_host_verdict (const VkBdf *bdf, gboolean exists, const char *driver,
                              GError **error);

/* The same, read from `sysfs_root` (normally "/sys"): the device directory
 * bus/pci/devices/DDDD:BB:SS.F and its driver link. Only reads. */
gboolean vk_pci_host_check_vfio (const char *sysfs_root, const VkBdf *bdf,
                                 GError **error);

G_END_DECLS
