/* vmkeep — what a VM needs from this host besides libvirt: UEFI firmware
 * (QEMU's firmware descriptors, which libvirt picks OVMF from) and the
 * swtpm emulator for a TPM. One place for create, import and wake. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The directory of QEMU's firmware descriptors ($VMKEEP_FIRMWARE_DIR for
 * the tests, else /usr/share/qemu/firmware). */
const char *vk_host_firmware_dir (void);

/* Read the descriptors in `dir` (firmware.json format: interface-types,
 * targets[].architecture, features): `*uefi` when one offers UEFI for
 * x86_64, `*secure_boot` when such a one has the "secure-boot" feature.
 * A descriptor that does not parse is skipped. */
void vk_host_firmware_scan (const char *dir, gboolean *uefi, gboolean *secure_boot);

/* The first of swtpm and swtpm_setup that is not in PATH, or NULL when
 * this host can emulate a TPM. */
const char *vk_host_swtpm_missing (void);

G_END_DECLS
