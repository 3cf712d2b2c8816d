#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>

#include "spec.h"
#include "validate.h"
#include "vk-error.h"

VkSpec *
vk_spec_new (void)
{
  VkSpec *s = g_new0 (VkSpec, 1);
  s->memory_mib = 1024;
  s->vcpus = 1;
  s->machine = VK_MACHINE_Q35;
  s->virt_type = g_strdup ("kvm");
  s->balloon = TRUE;
  s->disks = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_disk_spec_free);
  s->nics = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_nic_spec_free);
  return s;
}

void
vk_spec_free (VkSpec *s)
{
  if (s == NULL)
    return;
  g_free (s->name);
  g_free (s->uuid);
  g_free (s->virt_type);
  g_free (s->kernel);
  g_free (s->initrd);
  g_free (s->cmdline);
  g_free (s->serial_log);
  g_ptr_array_unref (s->disks);
  g_ptr_array_unref (s->nics);
  g_free (s);
}

void
vk_nic_spec_free (VkNicSpec *n)
{
  if (n == NULL)
    return;
  g_free (n->source);
  g_free (n->mac);
  g_free (n->model);
  g_free (n->tap);
  g_free (n);
}

void
vk_disk_spec_free (VkDiskSpec *d)
{
  if (d == NULL)
    return;
  g_free (d->path);
  g_free (d->target);
  g_free (d->bus);
  g_free (d->format);
  g_free (d);
}

/* Split "k=v,k=v" into pairs. Values may not contain ','. */
static gboolean
split_kv (const char *opt, const char *text, GPtrArray **keys, GPtrArray **vals,
          GError **error)
{
  g_autoptr(GPtrArray) k = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) v = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  for (gsize i = 0; parts[i] != NULL; i++)
    {
      const char *eq = strchr (parts[i], '=');
      if (eq == NULL || eq == parts[i])
        return vk_fail (error, VK_ERROR_USAGE,
                        _("%s '%s': '%s' is not KEY=VALUE; write e.g. %s"),
                        opt, text, parts[i],
                        g_str_equal (opt, "--nic") ? "--nic bridge=br0,mac=52:54:00:12:34:56"
                                                  : "--disk path=/var/lib/vm/a.qcow2,target=vda");
      g_ptr_array_add (k, g_strndup (parts[i], eq - parts[i]));
      g_ptr_array_add (v, g_strdup (eq + 1));
    }
  *keys = g_steal_pointer (&k);
  *vals = g_steal_pointer (&v);
  return TRUE;
}

static gboolean
parse_bool (const char *opt, const char *key, const char *val, gboolean *out,
            GError **error)
{
  if (g_str_equal (val, "on") || g_str_equal (val, "yes") || g_str_equal (val, "true") ||
      g_str_equal (val, "1"))
    *out = TRUE;
  else if (g_str_equal (val, "off") || g_str_equal (val, "no") ||
           g_str_equal (val, "false") || g_str_equal (val, "0"))
    *out = FALSE;
  else
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s: %s='%s' is not a boolean; use on or off"), opt, key, val);
  return TRUE;
}

/* A key given twice is a typo, not a request to override the first. */
static gboolean
check_unique_keys (const char *opt, const char *text, GPtrArray *keys, GError **error)
{
  for (guint i = 0; i < keys->len; i++)
    for (guint j = 0; j < i; j++)
      if (g_str_equal (keys->pdata[i], keys->pdata[j]))
        return vk_fail (error, VK_ERROR_USAGE,
                        _("%s '%s': %s= is given twice; give each key once"),
                        opt, text, (const char *) keys->pdata[i]);
  return TRUE;
}

gboolean
vk_nic_spec_parse (const char *text, VkNicSpec **out, GError **error)
{
  g_autoptr(GPtrArray) keys = NULL;
  g_autoptr(GPtrArray) vals = NULL;
  g_autoptr(VkNicSpec) nic = g_new0 (VkNicSpec, 1);
  const char *bridge = NULL, *network = NULL, *tap = NULL;

  if (!split_kv ("--nic", text, &keys, &vals, error) ||
      !check_unique_keys ("--nic", text, keys, error))
    return FALSE;
  for (guint i = 0; i < keys->len; i++)
    {
      const char *k = keys->pdata[i], *v = vals->pdata[i];
      if (g_str_equal (k, "bridge") || g_str_equal (k, "network") || g_str_equal (k, "tap"))
        {
          /* A libvirt network is named like a domain, not like a host
           * interface: it is not bound to IFNAMSIZ. */
          if (g_str_equal (k, "network") ? !vk_validate_name ("network name", v, error)
                                         : !vk_validate_ifname (k, v, error))
            return FALSE;
          if (g_str_equal (k, "bridge"))
            bridge = v;
          else if (g_str_equal (k, "network"))
            network = v;
          else
            tap = v;
        }
      else if (g_str_equal (k, "mac"))
        {
          nic->mac = vk_mac_normalize (v, error);
          if (nic->mac == NULL)
            return FALSE;
        }
      else if (g_str_equal (k, "model"))
        {
          static const char *const models[] = { "virtio", "e1000e", "e1000", "rtl8139", NULL };
          if (!g_strv_contains (models, v))
            return vk_fail (error, VK_ERROR_USAGE,
                            _("--nic '%s': unknown model '%s'; use virtio, e1000e, e1000 or rtl8139"),
                            text, v);
          nic->model = g_strdup (v);
        }
      else if (g_str_equal (k, "queues"))
        {
          guint64 q;
          if (!vk_parse_uint ("queues", v, 1, 256, &q, error))
            return FALSE;
          nic->queues = q;
        }
      else
        return vk_fail (error, VK_ERROR_USAGE,
                        _("--nic '%s': unknown key '%s'; known keys: bridge, network, "
                          "tap, mac, model, queues"), text, k);
    }
  /* tap= alone is a pre-made TAP (type ethernet); next to bridge= or
   * network= it names the TAP libvirt creates. Key order does not matter. */
  if (bridge != NULL && network != NULL)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--nic '%s': give exactly one of bridge=, network= or tap="),
                    text);
  if (bridge != NULL || network != NULL)
    {
      nic->kind = bridge != NULL ? VK_NET_BRIDGE : VK_NET_NETWORK;
      nic->source = g_strdup (bridge != NULL ? bridge : network);
    }
  else if (tap != NULL)
    {
      nic->kind = VK_NET_TAP;
      nic->source = g_strdup (tap);
    }
  else
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--nic '%s': say where the NIC connects with bridge=NAME, "
                      "network=NAME or tap=NAME"), text);
  nic->tap = g_strdup (tap);
  if (nic->model == NULL)
    nic->model = g_strdup ("virtio");
  if (nic->queues > 1 && !g_str_equal (nic->model, "virtio"))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--nic '%s': queues= needs model=virtio"), text);
  *out = g_steal_pointer (&nic);
  return TRUE;
}

gboolean
vk_disk_spec_parse (const char *text, VkDiskSpec **out, GError **error)
{
  g_autoptr(VkDiskSpec) d = g_new0 (VkDiskSpec, 1);

  if (text[0] == '/')
    d->path = g_strdup (text);
  else
    {
      g_autoptr(GPtrArray) keys = NULL;
      g_autoptr(GPtrArray) vals = NULL;
      if (!split_kv ("--disk", text, &keys, &vals, error) ||
          !check_unique_keys ("--disk", text, keys, error))
        return FALSE;
      for (guint i = 0; i < keys->len; i++)
        {
          const char *k = keys->pdata[i], *v = vals->pdata[i];
          if (g_str_equal (k, "path"))
            {
              g_free (d->path);
              d->path = g_strdup (v);
            }
          else if (g_str_equal (k, "target"))
            {
              g_free (d->target);
              d->target = g_strdup (v);
            }
          else if (g_str_equal (k, "bus"))
            {
              static const char *const buses[] = { "virtio", "sata", "scsi", NULL };
              if (!g_strv_contains (buses, v))
                return vk_fail (error, VK_ERROR_USAGE,
                                _("--disk '%s': unknown bus '%s'; use virtio, sata or scsi"),
                                text, v);
              g_free (d->bus);
              d->bus = g_strdup (v);
            }
          else if (g_str_equal (k, "format"))
            {
              if (!g_str_equal (v, "qcow2") && !g_str_equal (v, "raw"))
                return vk_fail (error, VK_ERROR_USAGE,
                                _("--disk '%s': unknown format '%s'; use qcow2 or raw"),
                                text, v);
              g_free (d->format);
              d->format = g_strdup (v);
            }
          else if (g_str_equal (k, "readonly"))
            {
              if (!parse_bool ("--disk", k, v, &d->readonly, error))
                return FALSE;
            }
          else
            return vk_fail (error, VK_ERROR_USAGE,
                            _("--disk '%s': unknown key '%s'; known keys: path, target, "
                              "bus, format, readonly"), text, k);
        }
    }
  if (d->path == NULL || !g_path_is_absolute (d->path))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--disk '%s': give the image as an absolute path "
                      "(--disk /var/lib/vmkeep/disks/vm.qcow2)"), text);
  if (d->bus == NULL)
    d->bus = g_strdup ("virtio");
  if (d->format == NULL)
    d->format = g_strdup (g_str_has_suffix (d->path, ".qcow2") ? "qcow2" : "raw");
  if (d->target != NULL)
    {
      const char *want = g_str_equal (d->bus, "virtio") ? "vd" : "sd";
      gsize n = strlen (d->target);
      gboolean ok = g_str_has_prefix (d->target, want) && n >= 3 && n <= 4;
      for (gsize i = 2; ok && i < n; i++)
        ok = d->target[i] >= 'a' && d->target[i] <= 'z';
      if (!ok)
        return vk_fail (error, VK_ERROR_USAGE,
                        _("--disk '%s': target '%s' does not fit bus %s; use %sa, %sb, ..."),
                        text, d->target, d->bus, want, want);
    }
  *out = g_steal_pointer (&d);
  return TRUE;
}

gboolean
vk_spec_parse_boot (VkSpec *spec, const char *text, GError **error)
{
  if (g_str_equal (text, "uefi"))
    {
      spec->firmware = VK_FIRMWARE_UEFI;
      return TRUE;
    }
  if (g_str_equal (text, "bios"))
    {
      spec->firmware = VK_FIRMWARE_BIOS;
      return TRUE;
    }
  /* The kernel command line contains ',' and '=' itself, so cmdline= must
   * come last and takes the rest of the string. */
  g_autofree char *head = NULL;
  const char *cmd = strstr (text, "cmdline=");
  if (cmd != NULL && (cmd == text || cmd[-1] == ','))
    {
      head = g_strndup (text, cmd == text ? 0 : (gsize) (cmd - text - 1));
      g_free (spec->cmdline);
      spec->cmdline = g_strdup (cmd + strlen ("cmdline="));
    }
  else
    head = g_strdup (text);

  g_auto(GStrv) parts = g_strsplit (head, ",", -1);
  for (gsize i = 0; parts[i] != NULL; i++)
    {
      if (*parts[i] == '\0')
        continue;
      if (g_str_has_prefix (parts[i], "kernel="))
        {
          g_free (spec->kernel);
          spec->kernel = g_strdup (parts[i] + 7);
        }
      else if (g_str_has_prefix (parts[i], "initrd="))
        {
          g_free (spec->initrd);
          spec->initrd = g_strdup (parts[i] + 7);
        }
      else
        return vk_fail (error, VK_ERROR_USAGE,
                        _("--boot '%s': '%s' is not understood; use uefi, bios or "
                          "kernel=PATH[,initrd=PATH][,cmdline=ARGS]"), text, parts[i]);
    }
  if (spec->kernel == NULL || !g_path_is_absolute (spec->kernel) ||
      (spec->initrd != NULL && !g_path_is_absolute (spec->initrd)))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--boot '%s': direct kernel boot needs kernel=ABSOLUTE_PATH "
                      "(and initrd= as an absolute path)"), text);
  return TRUE;
}

/* The n-th target the way libvirt and Linux count them: vda..vdz, then
 * vdaa..vdaz, vdba.. (a plain 'a' + n runs into punctuation after vdz). */
static char *
disk_target_name (const char *prefix, guint n)
{
  char buf[8];
  gsize i = sizeof buf - 1;
  buf[i] = '\0';
  for (n++; n > 0 && i > 0; n /= 26)
    {
      n--;
      buf[--i] = 'a' + n % 26;
    }
  return g_strconcat (prefix, buf + i, NULL);
}

gboolean
vk_spec_validate (const VkSpec *s, GError **error)
{
  if (!vk_validate_name ("domain name", s->name, error))
    return FALSE;
  if (s->memory_mib < 16 || s->memory_mib > 16ULL * 1024 * 1024)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--memory %" PRIu64 " MiB is out of range "
                      "(16 MiB to 16 TiB)"), s->memory_mib);
  if (s->vcpus < 1 || s->vcpus > 288)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--vcpus %u is out of range (1 to 288)"), s->vcpus);
  if (s->secure_boot && s->machine != VK_MACHINE_Q35)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("Secure Boot needs --machine q35 (it needs SMM, which vmkeep "
                      "enables on q35 only)"));
  if (s->secure_boot && s->firmware != VK_FIRMWARE_UEFI)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("--secure-boot needs --firmware uefi"));
  g_autoptr(GHashTable) macs = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < s->nics->len; i++)
    {
      VkNicSpec *n = s->nics->pdata[i];
      if (n->mac == NULL)
        continue;
      if (!g_hash_table_add (macs, n->mac))
        return vk_fail (error, VK_ERROR_USAGE,
                        _("MAC %s is given to two NICs of %s; every NIC needs its own MAC"),
                        n->mac, s->name);
    }
  g_autoptr(GHashTable) targets = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < s->disks->len; i++)
    {
      VkDiskSpec *d = s->disks->pdata[i];
      if (d->target != NULL && !g_hash_table_add (targets, d->target))
        return vk_fail (error, VK_ERROR_USAGE,
                        _("disk target %s is given twice; every disk needs its own target"),
                        d->target);
    }
  return TRUE;
}

static xmlNodePtr
child (xmlNodePtr parent, const char *name, const char *content)
{
  return xmlNewTextChild (parent, NULL, BAD_CAST name, BAD_CAST content);
}

static void
prop (xmlNodePtr n, const char *name, const char *value)
{
  xmlSetProp (n, BAD_CAST name, BAD_CAST value);
}

static xmlNodePtr
build_interface (const VkNicSpec *nic, const char *mac)
{
  static const char *const types[] = { "bridge", "network", "ethernet" };
  xmlNodePtr iface = xmlNewNode (NULL, BAD_CAST "interface");
  prop (iface, "type", types[nic->kind]);
  xmlNodePtr m = child (iface, "mac", NULL);
  prop (m, "address", mac);
  if (nic->kind == VK_NET_BRIDGE)
    prop (child (iface, "source", NULL), "bridge", nic->source);
  else if (nic->kind == VK_NET_NETWORK)
    prop (child (iface, "source", NULL), "network", nic->source);
  if (nic->tap != NULL)
    {
      xmlNodePtr t = child (iface, "target", NULL);
      prop (t, "dev", nic->tap);
      if (nic->kind == VK_NET_TAP)
        prop (t, "managed", "no");
    }
  prop (child (iface, "model", NULL), "type", nic->model ? nic->model : "virtio");
  if (nic->queues > 1)
    {
      g_autofree char *q = g_strdup_printf ("%u", nic->queues);
      xmlNodePtr d = child (iface, "driver", NULL);
      prop (d, "queues", q);
    }
  return iface;
}

xmlNodePtr
vk_nic_spec_to_xml (const VkNicSpec *nic, const char *const *used_macs,
                    GError **error)
{
  g_autofree char *mac = nic->mac ? g_strdup (nic->mac) : vk_mac_generate (used_macs);
  if (used_macs != NULL && nic->mac != NULL && g_strv_contains (used_macs, nic->mac))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("MAC %s is already used by another NIC of this domain; "
                     "pick another --mac or leave it out to generate one"), nic->mac);
      return NULL;
    }
  return build_interface (nic, mac);
}

xmlDocPtr
vk_spec_to_xml (const VkSpec *s, GError **error)
{
  if (!vk_spec_validate (s, error))
    return NULL;

  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr dom = xmlNewNode (NULL, BAD_CAST "domain");
  xmlDocSetRootElement (doc, dom);
  prop (dom, "type", s->virt_type ? s->virt_type : "kvm");
  child (dom, "name", s->name);
  g_autofree char *uuid = s->uuid ? g_strdup (s->uuid) : g_uuid_string_random ();
  child (dom, "uuid", uuid);
  g_autofree char *mem = g_strdup_printf ("%" G_GUINT64_FORMAT, s->memory_mib);
  prop (child (dom, "memory", mem), "unit", "MiB");
  prop (child (dom, "currentMemory", mem), "unit", "MiB");
  g_autofree char *vcpus = g_strdup_printf ("%u", s->vcpus);
  prop (child (dom, "vcpu", vcpus), "placement", "static");

  if (s->shared_memory)
    {
      /* vhost-user-fs (virtiofs) maps guest RAM from another process. */
      xmlNodePtr mb = child (dom, "memoryBacking", NULL);
      prop (child (mb, "source", NULL), "type", "memfd");
      prop (child (mb, "access", NULL), "mode", "shared");
    }

  xmlNodePtr os = child (dom, "os", NULL);
  if (s->firmware == VK_FIRMWARE_UEFI)
    prop (os, "firmware", "efi");
  xmlNodePtr type = child (os, "type", "hvm");
  prop (type, "arch", "x86_64");
  prop (type, "machine", vk_machine_to_string (s->machine));
  if (s->firmware == VK_FIRMWARE_UEFI)
    {
      xmlNodePtr fw = child (os, "firmware", NULL);
      xmlNodePtr f = child (fw, "feature", NULL);
      prop (f, "enabled", s->secure_boot ? "yes" : "no");
      prop (f, "name", "secure-boot");
      f = child (fw, "feature", NULL);
      prop (f, "enabled", s->secure_boot ? "yes" : "no");
      prop (f, "name", "enrolled-keys");
    }
  if (s->kernel != NULL)
    {
      child (os, "kernel", s->kernel);
      if (s->initrd != NULL)
        child (os, "initrd", s->initrd);
      if (s->cmdline != NULL)
        child (os, "cmdline", s->cmdline);
    }
  else
    prop (child (os, "boot", NULL), "dev", "hd");

  xmlNodePtr features = child (dom, "features", NULL);
  child (features, "acpi", NULL);
  child (features, "apic", NULL);
  if (s->secure_boot)
    prop (child (features, "smm", NULL), "state", "on");
  prop (child (dom, "clock", NULL), "offset", "utc");
  child (dom, "on_poweroff", "destroy");
  child (dom, "on_reboot", "restart");
  child (dom, "on_crash", "destroy");

  xmlNodePtr devs = child (dom, "devices", NULL);

  guint next_vd = 0, next_sd = 0;
  for (guint i = 0; i < s->disks->len; i++)
    {
      VkDiskSpec *d = s->disks->pdata[i];
      xmlNodePtr disk = child (devs, "disk", NULL);
      prop (disk, "type", "file");
      prop (disk, "device", "disk");
      xmlNodePtr drv = child (disk, "driver", NULL);
      prop (drv, "name", "qemu");
      prop (drv, "type", d->format);
      prop (child (disk, "source", NULL), "file", d->path);
      g_autofree char *tgt = NULL;
      gboolean virtio = g_str_equal (d->bus, "virtio");
      if (d->target != NULL)
        tgt = g_strdup (d->target);
      else
        {
          /* next target name not taken by an explicit one */
          for (;;)
            {
              g_free (tgt);
              tgt = disk_target_name (virtio ? "vd" : "sd", virtio ? next_vd++ : next_sd++);
              gboolean taken = FALSE;
              for (guint j = 0; j < s->disks->len; j++)
                {
                  VkDiskSpec *o = s->disks->pdata[j];
                  if (o->target && g_str_equal (o->target, tgt))
                    taken = TRUE;
                }
              if (!taken)
                break;
            }
        }
      xmlNodePtr t = child (disk, "target", NULL);
      prop (t, "dev", tgt);
      prop (t, "bus", d->bus);
      if (d->readonly)
        child (disk, "readonly", NULL);
    }

  /* The USB controller libvirt would add by itself is disabled: nothing
   * vmkeep creates needs USB, and an unmentioned one takes a PCI slot. */
  xmlNodePtr usb = child (devs, "controller", NULL);
  prop (usb, "type", "usb");
  prop (usb, "model", "none");

  g_autoptr(GPtrArray) macs = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < s->nics->len; i++)
    {
      VkNicSpec *n = s->nics->pdata[i];
      if (n->mac)
        g_ptr_array_add (macs, g_strdup (n->mac));
    }
  g_ptr_array_add (macs, NULL);
  for (guint i = 0; i < s->nics->len; i++)
    {
      VkNicSpec *n = s->nics->pdata[i];
      g_autofree char *mac = n->mac ? g_strdup (n->mac)
                                    : vk_mac_generate ((const char *const *) macs->pdata);
      if (n->mac == NULL)
        g_ptr_array_insert (macs, macs->len - 1, g_strdup (mac));
      xmlAddChild (devs, build_interface (n, mac));
    }

  if (s->serial_log != NULL)
    {
      xmlNodePtr ser = child (devs, "serial", NULL);
      prop (ser, "type", "file");
      xmlNodePtr src = child (ser, "source", NULL);
      prop (src, "path", s->serial_log);
      prop (src, "append", "on");
      prop (child (ser, "target", NULL), "port", "0");
      xmlNodePtr con = child (devs, "console", NULL);
      prop (con, "type", "file");
      src = child (con, "source", NULL);
      prop (src, "path", s->serial_log);
      prop (src, "append", "on");
      xmlNodePtr ct = child (con, "target", NULL);
      prop (ct, "type", "serial");
      prop (ct, "port", "0");
    }
  else
    {
      xmlNodePtr ser = child (devs, "serial", NULL);
      prop (ser, "type", "pty");
      prop (child (ser, "target", NULL), "port", "0");
      xmlNodePtr con = child (devs, "console", NULL);
      prop (con, "type", "pty");
      xmlNodePtr ct = child (con, "target", NULL);
      prop (ct, "type", "serial");
      prop (ct, "port", "0");
    }

  if (s->tpm)
    {
      xmlNodePtr tpm = child (devs, "tpm", NULL);
      prop (tpm, "model", "tpm-crb");
      xmlNodePtr be = child (tpm, "backend", NULL);
      prop (be, "type", "emulator");
      prop (be, "version", "2.0");
    }

  if (s->rng)
    {
      xmlNodePtr rng = child (devs, "rng", NULL);
      prop (rng, "model", "virtio");
      prop (child (rng, "backend", "/dev/urandom"), "model", "random");
    }
  if (s->watchdog)
    {
      xmlNodePtr wd = child (devs, "watchdog", NULL);
      prop (wd, "model", "i6300esb");
      prop (wd, "action", "reset");
    }
  xmlNodePtr balloon = child (devs, "memballoon", NULL);
  prop (balloon, "model", s->balloon ? "virtio" : "none");

  return g_steal_pointer (&doc);
}
