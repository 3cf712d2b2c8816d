/* vmkeep — the trust boundary for images from elsewhere (pure).
 *
 * An image that arrives by `image import` (or a registry pull) was written
 * by whoever made it: every host path and every setting that makes the host
 * do something in its sidecar and in the domain XML it carries is
 * attacker-controlled. Before such an image enters the store, its domain
 * XML goes through vk_trust_domain_xml, which works by allow-list:
 *
 *   - host paths vmkeep owns are rewritten to this host's places: each
 *     frozen disk's source to the path the caller chose (the store, the
 *     configured disk directory), the NVRAM file to the configured NVRAM
 *     directory, serial and console log files to the configured log
 *     directory, named after the domain;
 *   - what the host reads or executes by name must be one of this host's
 *     own: the emulator (from libvirt's capabilities), firmware (from the
 *     domain capabilities), kernel, initrd and DTB (existing files below the
 *     configured kernel directories);
 *   - what can only point at host resources is refused: host devices,
 *     virtiofs, disks that are not frozen into the image, network-backed
 *     disks, scripts on interfaces, QEMU command-line passthrough,
 *     evdev/hidraw inputs, TPM passthrough, audio to files, shared memory
 *     servers, character devices other than pty/file/null and unix sockets
 *     of channels; an RNG may only read /dev/urandom, /dev/random or
 *     /dev/hwrng;
 *   - security labels and anything libvirt derives from the host (TAP
 *     names, sockets, aliases of paths) are dropped so libvirt assigns its
 *     own.
 *
 * Every refusal is VK_ERROR_REFUSED naming the element and the value. The
 * device identity (PCI addresses, MACs, models, queues, ACPI indexes) is
 * never touched: what the guest knows stays what it knows. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

typedef struct {
  /* Where the VM's writable disk for each frozen target goes (target ->
   * absolute path); every writable file disk must have an entry. */
  GHashTable *disk_paths;
  /* The NVRAM file the VM gets on this host (absolute), or NULL to refuse
   * a domain with NVRAM. */
  const char *nvram_path;
  /* Directory for serial and console log files (absolute). */
  const char *log_dir;
  /* Allowed emulator binaries; the first one replaces any other. */
  const char *const *emulators;
  /* Allowed firmware (loader) files and NVRAM templates. */
  const char *const *loaders;
  /* Directories whose files may be a direct-boot kernel, initrd or DTB. */
  const char *const *kernel_dirs;
} VkTrustPolicy;

/* Rewrite the domain XML of an untrusted image in place as described
 * above, or refuse it (VK_ERROR_REFUSED naming `source`, the element and
 * the value, saying what to do). On failure the document is left half
 * rewritten: callers drop it. */
gboolean vk_trust_domain_xml (xmlDocPtr doc, const VkTrustPolicy *policy, const char *source,
                              GError **error);

/* Is `path` the directory `dir` or below it, lexically (both absolute and
 * normalised: no "." or ".." component, no "//")? */
gboolean vk_path_is_below (const char *path, const char *dir);

/* Absolute, normalised (no ".", "..", empty component), no control
 * characters: a path that means what it says. */
gboolean vk_path_is_plain (const char *path);

G_END_DECLS
