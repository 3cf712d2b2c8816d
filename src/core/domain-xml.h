/* vmkeep — libxml2 helpers for libvirt domain documents (pure). */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "pci-layout.h"
#include "validate.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

/* libxml2 with the options vmkeep needs everywhere: no network, no entity
 * expansion, blanks dropped so the output can be re-indented. */
xmlDocPtr vk_xml_parse (const char *text, gssize len, const char *source,
                        GError **error);
xmlDocPtr vk_xml_parse_file (const char *path, GError **error);
/* Indented with two spaces, without the XML declaration. */
char *vk_xml_format (xmlDocPtr doc);
char *vk_xml_node_format (xmlNodePtr node);

/* First element child called `name`, or NULL. */
xmlNodePtr vk_xml_child (xmlNodePtr parent, const char *name);
/* First element child of `parent` (may be NULL) for which `match` holds,
 * or NULL. */
typedef gboolean (*VkXmlMatch) (xmlNodePtr node, gconstpointer data);
xmlNodePtr vk_xml_find_child (xmlNodePtr parent, VkXmlMatch match, gconstpointer data);
/* Attribute value (g_free), NULL when absent. */
char *vk_xml_prop (xmlNodePtr node, const char *name);
/* Attribute of the first child `child` of `node`. */
char *vk_xml_child_prop (xmlNodePtr node, const char *child, const char *name);
/* Text content of the first child `child`. */
char *vk_xml_child_text (xmlNodePtr node, const char *child);
/* Integer attribute (decimal or 0x hex); FALSE when absent or malformed. */
gboolean vk_xml_prop_uint (xmlNodePtr node, const char *name, guint *out);

/* The <domain> root, or an error naming `source`. */
xmlNodePtr vk_domain_root (xmlDocPtr doc, GError **error);
/* <devices>, created when missing. */
xmlNodePtr vk_domain_devices (xmlDocPtr doc);
char *vk_domain_name (xmlDocPtr doc);

/* A writable file-backed disk that hibernate --image and fork freeze. */
typedef struct {
  char *target;
  char *path;
  char *format;   /* "qcow2" or "raw" */
} VkFreezableDisk;
void vk_freezable_disk_free (VkFreezableDisk *d);

/* The writable disks of domain `name` (CD-ROMs, floppies and read-only
 * disks are left alone), each a plain file (format "raw" when the XML
 * names none). A writable disk that is shareable or not a file cannot be
 * frozen, nor, with `qcow2_or_raw`, one in another format (a running VM's
 * disk snapshot and an image's overlay take those two): refused, naming
 * the disk and the domain, with `who` ("an image", "a fork") in the
 * message. `all_targets`, when not NULL, gets every disk target. */
GPtrArray *vk_domain_freezable_disks (xmlDocPtr doc, const char *name, const char *who,
                                      gboolean qcow2_or_raw, GPtrArray *all_targets,
                                      GError **error);

/* Machine type of a domain document (os/type/@machine; missing = pc). */
gboolean vk_domain_machine (xmlDocPtr doc, VkMachine *out, GError **error);

/* Set (replace) <address type='pci'> on a device element. */
void vk_xml_set_pci_address (xmlNodePtr dev, guint bus, guint slot,
                             guint function);
/* domain=, bus=, slot= and function= of an <address> element (a device's
 * own or a hostdev's <source>), each read by vk_parse_pci_address_attr; a
 * missing one is 0, as to libvirt. */
gboolean vk_xml_pci_address_attrs (xmlNodePtr address, VkBdf *out,
                                   GError **error);
/* The <address type='pci'> of device element `dev`. FALSE with `error` when
 * an attribute is malformed (the message names the attribute and its value,
 * not the device); otherwise TRUE, with *present FALSE when the device has
 * no PCI address, or one without slot= (which vmkeep places anew). */
gboolean vk_xml_read_pci_address (xmlNodePtr dev, gboolean *present,
                                  VkBdf *out, GError **error);
/* vk_xml_read_pci_address for XML libvirt wrote: FALSE when the device has
 * no PCI address or a malformed one. */
gboolean vk_xml_get_pci_address (xmlNodePtr dev, guint *domain, guint *bus,
                                 guint *slot, guint *function);
/* The device's PCI address as "dddd:bb:ss.f", or NULL (as
 * vk_xml_get_pci_address). */
char *vk_xml_pci_address_text (xmlNodePtr dev);
void vk_xml_remove_address (xmlNodePtr dev);

G_END_DECLS
