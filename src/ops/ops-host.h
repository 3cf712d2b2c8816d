/* vmkeep — what the workflows check on the host before they create
 * anything there: a NIC's host side, a TAP name, QEMU's way to the
 * directories that will hold disks. See ops.h for the layer's rules. */
#pragma once

#include <glib.h>

#include "ops.h"
#include "virt.h"

G_BEGIN_DECLS

/* Does `uri` reach libvirt on this host? The rule of src/core/uri.h
 * (qemu:///system, qemu+unix:///, test:///, qemu+ssh://localhost/ do;
 * a server other than localhost is another host); NULL, libvirt's
 * default URI, counts as this host. */
gboolean vk_ops_uri_is_local (const char *uri);

/* What the host has under interface name `name`: libvirt's interface
 * driver, or on a local connection without that driver, sysfs. */
VkHostIface vk_ops_host_interface (VkConn *conn, const char *name);

/* Does the NIC's host side exist (VkNetKind `kind`)? VK_ERROR_NOT_FOUND. */
gboolean vk_ops_check_nic_source (VkConn *conn, int kind, const char *name, GError **error);

/* QEMU does not run as root: it must be able to pass through every
 * directory down to `dir` (the store's images, a disk directory) to open
 * the frozen disks and overlays there. VK_ERROR_REFUSED naming the first
 * directory in the way, its mode and what to do. Nothing to check for a
 * remote libvirt or without libvirt's DAC driver. */
gboolean vk_ops_check_qemu_reaches (VkConn *conn, const char *dir, GError **error);

/* What a VM needs from this host besides libvirt: UEFI firmware (QEMU's
 * firmware descriptors, which libvirt picks OVMF from) and the swtpm
 * emulator for a TPM; create and import check both. */
/* The directory of QEMU's firmware descriptors ($VMKEEP_FIRMWARE_DIR for
 * the tests, else /usr/share/qemu/firmware). */
const char *vk_ops_firmware_dir (void);

/* Read the descriptors in `dir` (firmware.json format: interface-types,
 * targets[].architecture, features): `*uefi` when one offers UEFI for
 * x86_64, `*secure_boot` when such a one has the "secure-boot" feature.
 * A descriptor that does not parse is skipped. */
void vk_ops_firmware_scan (const char *dir, gboolean *uefi, gboolean *secure_boot);

/* The first of swtpm and swtpm_setup that is not in PATH, or NULL when
 * this host can emulate a TPM. */
const char *vk_ops_swtpm_missing (void);

G_END_DECLS
