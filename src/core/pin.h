/* vmkeep — placing and auditing PCI devices of a libvirt domain by policy.
 *
 * One model serves create, pin, define, layout --check, nic add, fs attach
 * and device attach: the domain document is scanned into a list of PCI
 * devices (explicit ones and the ones libvirt would add by itself), each
 * existing address is checked against the policy, and what has no address
 * gets one. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

#include "domain-xml.h"
#include "pci-layout.h"

G_BEGIN_DECLS

typedef struct {
  VkLayoutPolicy policy;
  gboolean relayout;      /* move non-compliant devices instead of failing */
} VkPinOptions;

typedef struct {
  char *device;   /* "interface 52:54:00:00:00:01", "disk vda", ... */
  char *address;  /* "0000:00:05.0" or NULL */
  char *message;  /* full sentence saying what is wrong */
} VkViolation;
void vk_violation_free (VkViolation *v);

typedef struct {
  guint root_slot;     /* slot on the root bus the device hangs off */
  guint bus;
  guint slot;
  guint function;
  char *kind;          /* "nic", "disk", "controller", "port", "fs", ... */
  char *device;        /* description */
  char *alias;         /* NULL if none (inactive XML) */
  char *mac;           /* NICs only */
  int acpi_index;      /* NICs only, -1 otherwise or when missing */
  gboolean ok;         /* complies with the policy */
} VkLayoutRow;
void vk_layout_row_free (VkLayoutRow *r);

/* Place every PCI device of `doc` by policy (in place). */
gboolean vk_pin (xmlDocPtr doc, const VkPinOptions *opts, GError **error);

/* Violations of the policy (VkViolation*, empty when compliant). */
GPtrArray *vk_layout_check (xmlDocPtr doc, const VkLayoutPolicy *policy,
                            GError **error);

/* Slot table (VkLayoutRow*), sorted by root slot, bus, slot, function. */
GPtrArray *vk_layout_table (xmlDocPtr doc, const VkLayoutPolicy *policy,
                            GError **error);

/* Where a NIC added to `doc` (persistent or live definition) goes:
 *   pc:  lowest free slot of the NIC range on bus 0;
 *   q35: the lowest-slot empty pcie-root-port in the NIC range
 *        (`*need_port` = FALSE), or, when `allow_new_port` (config-only
 *        changes), a new root port at the lowest free NIC slot that the
 *        caller must also add (`*port_xml` is that controller element).
 * Also picks the next ACPI index. Fails with VK_ERROR_FAILED naming the
 * range and what to do when there is no room. */
typedef struct {
  guint bus;
  guint slot;
  guint acpi_index;
  xmlNodePtr port;      /* new pcie-root-port element to add, or NULL */
} VkNicPlacement;
gboolean vk_place_new_nic (xmlDocPtr doc, const VkLayoutPolicy *policy,
                           gboolean allow_new_port, VkNicPlacement *out,
                           GError **error);

/* Where a non-NIC device added at runtime (virtiofs, VFIO hostdev, ...)
 * goes, by the same rules in the device range:
 *   pc:  lowest free slot of the device range on bus 0 (chipset slots
 *        skipped);
 *   q35: a PCI Express device (`pcie_capable`) takes the lowest-slot empty
 *        pcie-root-port in the device range (`port` = NULL) or, when
 *        `allow_new_port` (config-only changes), a new root port at the
 *        lowest free device slot that the caller must also add (`port`);
 *        without either it fails (VK_ERROR_FAILED) saying to attach with
 *        --config and restart or to raise spare-device-ports. A device
 *        that is not PCIe-capable takes the lowest free device slot on the
 *        root bus (cold-plug only: the q35 root bus is not hot-pluggable).
 * The device then sits at 0000:`bus`:`slot`.0; `root_slot` is the root-bus
 * slot it hangs off. */
typedef struct {
  guint bus;
  guint slot;
  guint root_slot;
  xmlNodePtr port;      /* new pcie-root-port element to add, or NULL */
} VkDevicePlacement;
gboolean vk_place_new_device (xmlDocPtr doc, const VkLayoutPolicy *policy,
                              gboolean pcie_capable, gboolean allow_new_port,
                              VkDevicePlacement *out, GError **error);

G_END_DECLS
