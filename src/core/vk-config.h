/* vmkeep — configuration (/etc/vmkeep/vmkeep.conf, GKeyFile).
 *
 * Pure: reads the file it is handed. Command-line flags are applied on top by
 * the CLI, so every field here is a default that a flag may override. */
#pragma once

#include <glib.h>

#include "idle.h"
#include "pci-layout.h"

G_BEGIN_DECLS

#define VK_CONFIG_GROUP "vmkeep"
#define VK_CONFIG_ENV "VMKEEP_CONFIG"

typedef struct {
  char *uri;          /* libvirt URI; NULL means libvirt's default */
  char *virt_type;    /* "auto", "kvm" or "qemu" */
  VkMachine machine;  /* default machine for create */
  VkLayoutPolicy policy;
  char *store_dir;    /* hibernate images and sidecars */
  guint jobs;         /* default --jobs */
  /* This host's places for what an imported image's VM needs (trust.h):
   * its writable disks, its UEFI variable store, its serial/console logs,
   * and the directories a direct-boot kernel may come from. */
  char *disk_dir;
  char *nvram_dir;
  char *log_dir;
  GStrv kernel_dirs;
  /* idle-cpu-below, idle-net-below, idle-disk-below: what hibernate
   * --idle-for and list --idle call idle unless an option says */
  VkIdleThresholds idle;
  char *source;       /* file the values came from, NULL for built-ins */
} VkConfig;

VkConfig *vk_config_new (void);
void vk_config_free (VkConfig *cfg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkConfig, vk_config_free)

/* Load `path` over the defaults in `cfg`. A missing file is not an error
 * unless `must_exist`. Unknown groups/keys and bad values are errors naming
 * the file and key (VK_ERROR_USAGE). */
gboolean vk_config_load (VkConfig *cfg, const char *path, gboolean must_exist,
                         GError **error);

/* The path to use: $VMKEEP_CONFIG if set, else the built-in default. */
const char *vk_config_default_path (void);

G_END_DECLS
