/* Fuzz harness: /etc/vmkeep/vmkeep.conf (src/core/vk-config.c).
 *
 * vk_config_load takes a path, so the input is handed to it as
 * /proc/self/fd/N of a memfd. A file it accepts must leave a configuration
 * every later step can rely on without checking again: a valid layout
 * policy, a known virt type, an absolute store, jobs in range. */
#include "config.h"

#include "fuzz-common.h"
#include "pci-layout.h"
#include "vk-config.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(VkConfig) cfg = vk_config_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_strdup_printf ("/proc/self/fd/%d", vk_fuzz_memfd (data, size));

  if (!vk_config_load (cfg, path, TRUE, &error))
    {
      vk_fuzz_check_error (error, "vk_config_load");
      return 0;
    }
  vk_fuzz_check (vk_layout_policy_validate (&cfg->policy, NULL), "accepted an invalid policy");
  vk_fuzz_check (g_str_equal (cfg->virt_type, "auto") || g_str_equal (cfg->virt_type, "kvm") ||
                 g_str_equal (cfg->virt_type, "qemu"), "virt-type '%s'", cfg->virt_type);
  vk_fuzz_check (cfg->machine == VK_MACHINE_PC || cfg->machine == VK_MACHINE_Q35, "machine");
  vk_fuzz_check (cfg->store_dir != NULL && g_path_is_absolute (cfg->store_dir), "store");
  vk_fuzz_check (cfg->jobs >= 1 && cfg->jobs <= 64, "jobs %u", cfg->jobs);
  vk_fuzz_check (cfg->policy.spare_nic_ports <= 31 && cfg->policy.spare_dev_ports <= 31,
                 "spare ports");
  vk_fuzz_check (cfg->uri == NULL || cfg->uri[0] != '\0', "empty URI kept");
  vk_fuzz_check (g_strcmp0 (cfg->source, path) == 0, "source");
  return 0;
}
