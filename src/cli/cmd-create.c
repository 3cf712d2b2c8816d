/* vmkeep create: a new VM from options, every PCI device pinned */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>

#include "commands.h"
#include "ops-host.h"
#include "domain-xml.h"
#include "output.h"
#include "pin.h"
#include "spec.h"
#include "validate.h"
#include "vk-error.h"

static char *
resolve_virt_type (VkCli *cli, const char *requested, gboolean connect, GError **error)
{
  const char *want = requested ? requested : cli->cfg->virt_type;
  if (g_str_equal (want, "kvm") || g_str_equal (want, "qemu"))
    return g_strdup (want);
  if (!g_str_equal (want, "auto"))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--virt-type '%s' is not known; use auto, kvm or qemu"), want);
      return NULL;
    }
  if (connect)
    {
      VkConn *conn = vk_cli_connect (cli, error);
      if (conn == NULL)
        return NULL;
      return vk_conn_best_virt_type (conn, error);
    }
  return g_strdup (g_file_test ("/dev/kvm", G_FILE_TEST_EXISTS) ? "kvm" : "qemu");
}

/* libvirt picks OVMF from the host's firmware descriptors and runs swtpm
 * for an emulated TPM; say which Debian package is missing before defining
 * a VM that could never start. */
static gboolean
check_host_firmware (const VkSpec *spec, GError **error)
{
  if (spec->firmware == VK_FIRMWARE_UEFI)
    {
      const char *dir = vk_ops_firmware_dir ();
      gboolean uefi, secure;
      vk_ops_firmware_scan (dir, &uefi, &secure);
      if (!uefi)
        return vk_fail (error, VK_ERROR_NOT_FOUND,
                        _("no UEFI firmware for x86_64 found in %s; install Debian's "
                          "'ovmf' package (apt-get install ovmf)"), dir);
      if (spec->secure_boot && !secure)
        return vk_fail (error, VK_ERROR_NOT_FOUND,
                        _("no Secure Boot capable UEFI firmware found in %s; install "
                          "Debian's 'ovmf' package (apt-get install ovmf)"), dir);
    }
  if (spec->tpm)
    {
      const char *missing = vk_ops_swtpm_missing ();
      if (missing)
        return vk_fail (error, VK_ERROR_NOT_FOUND,
                        _("--tpm needs the swtpm emulator (%s not found in PATH); install "
                          "Debian's 'swtpm' and 'swtpm-tools' packages"),
                        missing);
    }
  return TRUE;
}

static struct {
  char *memory;
  char *boot;
  char *machine;
  char *virt_type;
  char *serial_log;
  char *firmware;
  char *uuid;
  GStrv disks;
  GStrv nics;
  int vcpus;
  gboolean shared;
  gboolean start;
  gboolean print_xml;
  gboolean rng;
  gboolean watchdog;
  gboolean no_balloon;
  gboolean secure_boot;
  gboolean tpm;
} create_opt = { .vcpus = 1 };

const GOptionEntry vk_create_options[] = {
  { "memory", 'm', 0, G_OPTION_ARG_STRING, &create_opt.memory, N_("Guest memory (512M, 2G; plain numbers are MiB)"), N_("SIZE") },
  { "vcpus", 0, 0, G_OPTION_ARG_INT, &create_opt.vcpus, N_("Virtual CPUs (default 1)"), N_("N") },
  { "disk", 0, 0, G_OPTION_ARG_STRING_ARRAY, &create_opt.disks, N_("Disk: PATH or path=P[,target=vdX][,bus=virtio|sata|scsi][,format=qcow2|raw][,readonly=on]"), N_("DISK") },
  { "nic", 0, 0, G_OPTION_ARG_STRING_ARRAY, &create_opt.nics, N_("NIC: bridge=B|network=N|tap=T[,mac=M][,model=virtio][,queues=Q][,tap=T]"), N_("NIC") },
  { "boot", 0, 0, G_OPTION_ARG_STRING, &create_opt.boot, N_("kernel=K[,initrd=I][,cmdline=ARGS], uefi or bios"), N_("BOOT") },
  { "firmware", 0, 0, G_OPTION_ARG_STRING, &create_opt.firmware, N_("Firmware: bios or uefi"), N_("FW") },
  { "secure-boot", 0, 0, G_OPTION_ARG_NONE, &create_opt.secure_boot, N_("UEFI Secure Boot (q35, enables SMM)"), NULL },
  { "tpm", 0, 0, G_OPTION_ARG_NONE, &create_opt.tpm, N_("Add a TPM 2.0 (tpm-crb, swtpm emulator)"), NULL },
  { "machine", 0, 0, G_OPTION_ARG_STRING, &create_opt.machine, N_("Machine type: q35 or pc (default from vmkeep.conf)"), N_("TYPE") },
  { "virt-type", 0, 0, G_OPTION_ARG_STRING, &create_opt.virt_type, N_("auto, kvm or qemu (TCG)"), N_("TYPE") },
  { "shared-memory", 0, 0, G_OPTION_ARG_NONE, &create_opt.shared, N_("Shared memory backing (needed for virtiofs)"), NULL },
  { "serial-log", 0, 0, G_OPTION_ARG_FILENAME, &create_opt.serial_log, N_("Write the serial console to FILE"), N_("FILE") },
  { "rng", 0, 0, G_OPTION_ARG_NONE, &create_opt.rng, N_("Add a virtio RNG fed from /dev/urandom"), NULL },
  { "watchdog", 0, 0, G_OPTION_ARG_NONE, &create_opt.watchdog, N_("Add an i6300esb watchdog"), NULL },
  { "no-balloon", 0, 0, G_OPTION_ARG_NONE, &create_opt.no_balloon, N_("No memory balloon"), NULL },
  { "uuid", 0, 0, G_OPTION_ARG_STRING, &create_opt.uuid, N_("Domain UUID (default: random)"), N_("UUID") },
  { "start", 0, 0, G_OPTION_ARG_NONE, &create_opt.start, N_("Start the VM once defined"), NULL },
  { "print-xml", 0, 0, G_OPTION_ARG_NONE, &create_opt.print_xml, N_("Only print the pinned domain XML"), NULL },
  G_OPTION_ENTRY_NULL
};

/* The VM `create` describes, from its options, checked. */
static VkSpec *
spec_from_options (VkCli *cli, const char *name, GError **error)
{
  g_autoptr(VkSpec) spec = vk_spec_new ();
  spec->name = g_strdup (name);
  if (!vk_validate_name ("domain name", spec->name, error))
    return NULL;
  if (create_opt.memory == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep create: --memory is required (e.g. --memory 2G)"));
      return NULL;
    }
  if (!vk_parse_size_mib ("--memory", create_opt.memory, &spec->memory_mib, error))
    return NULL;
  if (create_opt.vcpus < 1)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--vcpus %d is out of range (1 to 288)"), create_opt.vcpus);
      return NULL;
    }
  spec->vcpus = create_opt.vcpus;
  spec->machine = cli->cfg->machine;
  if (create_opt.machine != NULL && !vk_machine_from_string (create_opt.machine, &spec->machine, error))
    return NULL;
  for (gsize i = 0; create_opt.disks && create_opt.disks[i]; i++)
    {
      VkDiskSpec *d = NULL;
      if (!vk_disk_spec_parse (create_opt.disks[i], &d, error))
        return NULL;
      g_ptr_array_add (spec->disks, d);
    }
  for (gsize i = 0; create_opt.nics && create_opt.nics[i]; i++)
    {
      VkNicSpec *n = NULL;
      if (!vk_nic_spec_parse (create_opt.nics[i], &n, error))
        return NULL;
      g_ptr_array_add (spec->nics, n);
    }
  if (create_opt.boot != NULL && !vk_spec_parse_boot (spec, create_opt.boot, error))
    return NULL;
  if (create_opt.firmware != NULL)
    {
      if (g_str_equal (create_opt.firmware, "uefi"))
        spec->firmware = VK_FIRMWARE_UEFI;
      else if (g_str_equal (create_opt.firmware, "bios"))
        spec->firmware = VK_FIRMWARE_BIOS;
      else
        {
          g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                       _("--firmware '%s' is not known; use bios or uefi"), create_opt.firmware);
          return NULL;
        }
    }
  spec->secure_boot = create_opt.secure_boot;
  spec->tpm = create_opt.tpm;
  spec->shared_memory = create_opt.shared;
  spec->serial_log = g_strdup (create_opt.serial_log);
  spec->rng = create_opt.rng;
  spec->watchdog = create_opt.watchdog;
  spec->balloon = !create_opt.no_balloon;
  if (create_opt.uuid != NULL)
    {
      if (!g_uuid_string_is_valid (create_opt.uuid))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                       _("--uuid '%s' is not a UUID (8-4-4-4-12 hex digits)"), create_opt.uuid);
          return NULL;
        }
      spec->uuid = g_strdup (create_opt.uuid);
    }
  if (create_opt.serial_log != NULL && !g_path_is_absolute (create_opt.serial_log))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--serial-log '%s' must be an absolute path"), create_opt.serial_log);
      return NULL;
    }
  g_free (spec->virt_type);
  spec->virt_type = resolve_virt_type (cli, create_opt.virt_type, !create_opt.print_xml, error);
  if (spec->virt_type == NULL)
    return NULL;
  if (!vk_spec_validate (spec, error))
    return NULL;
  return g_steal_pointer (&spec);
}

gboolean
vk_cmd_create (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("create", &argc, &argv, 1, 1, _("the VM NAME"), error))
    return FALSE;

  g_autoptr(VkSpec) spec = spec_from_options (cli, argv[1], error);
  if (spec == NULL)
    return FALSE;

  if (!check_host_firmware (spec, error))
    return FALSE;

  g_autoptr(xmlDoc) doc = vk_spec_to_xml (spec, error);
  if (doc == NULL)
    return FALSE;
  VkPinOptions opts = { .policy = cli->cfg->policy };
  if (!vk_pin (doc, &opts, error))
    return FALSE;

  if (create_opt.print_xml)
    {
      g_autofree char *xml = vk_xml_format (doc);
      fputs (xml, stdout);
      return TRUE;
    }

  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  g_autoptr(VkDomain) existing = vk_domain_try_lookup (conn, spec->name);
  if (existing != NULL)
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("a domain named '%s' already exists; pick another name or "
                      "'vmkeep undefine %s' first"), spec->name, spec->name);
  for (guint i = 0; i < spec->nics->len; i++)
    {
      VkNicSpec *n = spec->nics->pdata[i];
      if (n->kind != VK_NET_TAP && !vk_ops_check_nic_source (conn, n->kind, n->source, error))
        return FALSE;
    }
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_cli_define_verified (cli, conn, doc, &dom, error))
    return FALSE;
  if (create_opt.start && !vk_domain_start (dom, FALSE, error))
    return FALSE;

  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      g_autofree char *u = vk_domain_get_uuid (dom);
      vk_json_str (b, "name", spec->name);
      vk_json_str (b, "uuid", u);
      vk_json_bool (b, "started", create_opt.start);
      vk_json_object_print (b);
    }
  else
    vk_cli_info (cli, create_opt.start ? _("Domain '%s' created and started") : _("Domain '%s' created"),
                 spec->name);
  return TRUE;
}
