#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "attach.h"
#include "pin.h"
#include "validate.h"
#include "vk-error.h"

/* Category order in the device range (DESIGN.md): disks by target name,
 * then controllers, filesystems, hostdevs, rng, balloon, watchdog, others. */
typedef enum {
  K_DISK = 0,
  K_CONTROLLER,
  K_FS,
  K_HOSTDEV,
  K_RNG,
  K_BALLOON,
  K_WATCHDOG,
  K_OTHER,
  K_NIC,
  K_PORT,     /* PCI controllers that provide a bus (root ports, bridges) */
} Kind;

static const char *const kind_names[] = {
  "disk", "controller", "fs", "hostdev", "rng", "balloon", "watchdog",
  "other", "nic", "port",
};

typedef struct {
  xmlNodePtr node;
  Kind kind;
  guint pos;           /* document order */
  char *sort_key;
  char *desc;
  char *mac;
  gboolean pcie;       /* may sit behind a pcie-root-port */
  gboolean has_addr;
  guint domain, bus, slot, fn;
  int ctrl_index;      /* bus number this controller provides, or -1 */
  char *ctrl_model;
  gboolean root_port;  /* pcie-root-port (one slot 0 behind it) */
  int root_slot;       /* -1 unknown */
  gboolean bad;        /* address breaks the policy */
  gboolean bad_acpi;   /* NIC ACPI index missing, out of range or taken */
  gboolean dropping;   /* controller being removed by relayout */
  int acpi;            /* NIC ACPI index, -1 none */
} Dev;

static void
dev_free (Dev *d)
{
  g_free (d->sort_key);
  g_free (d->desc);
  g_free (d->mac);
  g_free (d->ctrl_model);
  g_free (d);
}

typedef struct {
  xmlDocPtr doc;
  VkMachine machine;
  VkLayoutPolicy policy;
  GPtrArray *devs;              /* Dev* */
  GHashTable *ctrl_by_index;    /* GUINT index -> Dev* */
  GHashTable *used_index;       /* PCI controller indexes in use */
  GPtrArray *violations;        /* VkViolation* */
} Scan;

static void
scan_free (Scan *s)
{
  g_clear_pointer (&s->devs, g_ptr_array_unref);
  g_clear_pointer (&s->ctrl_by_index, g_hash_table_unref);
  g_clear_pointer (&s->used_index, g_hash_table_unref);
  g_clear_pointer (&s->violations, g_ptr_array_unref);
  g_free (s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Scan, scan_free)

void
vk_violation_free (VkViolation *v)
{
  if (v == NULL)
    return;
  g_free (v->device);
  g_free (v->address);
  g_free (v->message);
  g_free (v);
}

void
vk_layout_row_free (VkLayoutRow *r)
{
  if (r == NULL)
    return;
  g_free (r->kind);
  g_free (r->device);
  g_free (r->alias);
  g_free (r->mac);
  g_free (r);
}

static gboolean
streq0 (const char *a, const char *b)
{
  return a != NULL && b != NULL && strcmp (a, b) == 0;
}

static char *
fmt_addr (guint domain, guint bus, guint slot, guint fn)
{
  return g_strdup_printf ("%04x:%02x:%02x.%x", domain, bus, slot, fn);
}

/* A controller's index= the way libvirt reads it; FALSE when absent, or
 * malformed (scan_devices refuses those before anything else looks). */
static gboolean
index_prop (xmlNodePtr n, guint *out)
{
  g_autofree char *text = vk_xml_prop (n, "index");
  return text != NULL && vk_parse_controller_index (text, out, NULL);
}

/* Models that are PCI Express endpoints (may go behind a pcie-root-port). */
static gboolean
virtio_model (const char *m)
{
  return m == NULL || g_str_has_prefix (m, "virtio");
}

/* Decide whether `n` is a PCI device and fill in what we know of it. */
static gboolean
classify (Scan *s, xmlNodePtr n, Dev *d)
{
  const char *name = (const char *) n->name;
  g_autofree char *type = vk_xml_prop (n, "type");
  g_autofree char *model = vk_xml_prop (n, "model");

  d->ctrl_index = -1;
  d->acpi = -1;
  d->pcie = TRUE;

  if (g_str_equal (name, "interface"))
    {
      g_autofree char *m = vk_xml_child_prop (n, "model", "type");
      d->kind = K_NIC;
      d->mac = vk_xml_child_prop (n, "mac", "address");
      if (d->mac != NULL)
        {
          char *low = g_ascii_strdown (d->mac, -1);
          g_free (d->mac);
          d->mac = low;
        }
      /* No <model> means rtl8139 to libvirt: conventional PCI. */
      d->pcie = streq0 (m, "virtio") || g_str_has_prefix (m ? m : "", "virtio") ||
                streq0 (m, "e1000e") || streq0 (type, "hostdev");
      xmlNodePtr acpi = vk_xml_child (n, "acpi");
      guint idx;
      if (acpi != NULL && vk_xml_prop_uint (acpi, "index", &idx))
        d->acpi = MIN (idx, 16384);   /* anything above 16383 is refused */
      d->desc = g_strdup_printf ("interface %s", d->mac ? d->mac : _("(no MAC)"));
      return TRUE;
    }
  if (g_str_equal (name, "disk"))
    {
      g_autofree char *bus = vk_xml_child_prop (n, "target", "bus");
      g_autofree char *dev = vk_xml_child_prop (n, "target", "dev");
      if (bus == NULL && dev != NULL && g_str_has_prefix (dev, "vd"))
        bus = g_strdup ("virtio");
      if (!streq0 (bus, "virtio"))
        return FALSE;
      d->kind = K_DISK;
      d->sort_key = g_strdup (dev ? dev : "");
      d->desc = g_strdup_printf ("disk %s", dev ? dev : "?");
      return TRUE;
    }
  if (g_str_equal (name, "controller"))
    {
      g_autofree char *idx = vk_xml_prop (n, "index");
      guint index = 0;
      index_prop (n, &index);
      if (streq0 (type, "pci"))
        {
          if (model == NULL || streq0 (model, "pci-root") || streq0 (model, "pcie-root"))
            return FALSE;
          d->kind = K_PORT;
          d->ctrl_index = index;
          d->ctrl_model = g_strdup (model);
          d->root_port = streq0 (model, "pcie-root-port");
          d->pcie = !streq0 (model, "pci-bridge") && !streq0 (model, "dmi-to-pci-bridge");
          d->desc = g_strdup_printf ("%s %u", model, index);
          return TRUE;
        }
      if (streq0 (type, "usb"))
        {
          if (streq0 (model, "none"))
            return FALSE;
          d->pcie = streq0 (model, "qemu-xhci") || streq0 (model, "nec-xhci");
        }
      else if (streq0 (type, "scsi"))
        d->pcie = model == NULL || streq0 (model, "virtio-scsi") ||
                  g_str_has_prefix (model, "virtio");
      else if (streq0 (type, "virtio-serial"))
        d->pcie = TRUE;
      else if (streq0 (type, "sata") || streq0 (type, "ide"))
        d->pcie = FALSE;
      else
        return FALSE; /* fdc, ccid, xenbus, isa: not PCI */
      d->kind = K_CONTROLLER;
      d->sort_key = g_strdup_printf ("%s-%03u", type ? type : "", index);
      d->desc = g_strdup_printf ("controller %s %s%s%s", type ? type : "?",
                                 idx ? idx : "0", model ? " " : "", model ? model : "");
      return TRUE;
    }
  if (g_str_equal (name, "filesystem"))
    {
      g_autofree char *tag = vk_xml_child_prop (n, "target", "dir");
      d->kind = K_FS;
      d->sort_key = g_strdup (tag ? tag : "");
      d->desc = g_strdup_printf ("filesystem %s", tag ? tag : "?");
      return TRUE;
    }
  if (g_str_equal (name, "hostdev"))
    {
      if (!streq0 (type, "pci"))
        return FALSE;
      VkBdf src;
      g_autofree char *host = NULL;
      if (vk_hostdev_source_bdf (n, &src))
        host = fmt_addr (src.domain, src.bus, src.slot, src.function);
      d->kind = K_HOSTDEV;
      d->sort_key = g_strdup (host ? host : "");
      d->desc = g_strdup_printf ("hostdev %s", host ? host : "?");
      return TRUE;
    }
  if (g_str_equal (name, "rng"))
    {
      if (!virtio_model (model))
        return FALSE;
      d->kind = K_RNG;
      d->desc = g_strdup ("rng virtio");
      return TRUE;
    }
  if (g_str_equal (name, "memballoon"))
    {
      if (!virtio_model (model))
        return FALSE;
      d->kind = K_BALLOON;
      d->desc = g_strdup_printf ("memballoon %s", model ? model : "virtio");
      return TRUE;
    }
  if (g_str_equal (name, "watchdog"))
    {
      if (!streq0 (model, "i6300esb"))
        return FALSE;
      d->kind = K_WATCHDOG;
      d->pcie = FALSE;
      d->desc = g_strdup ("watchdog i6300esb");
      return TRUE;
    }
  if (g_str_equal (name, "video"))
    {
      g_autofree char *vt = vk_xml_child_prop (n, "model", "type");
      if (streq0 (vt, "none") || streq0 (vt, "ramfb"))
        return FALSE;
      if (vt == NULL)
        vt = g_strdup ("vga"); /* libvirt's default model */
      d->kind = K_OTHER;
      /* Firmware finds the primary display on the root bus; behind a
       * bridge it depends on VGA routing the guest may not do. */
      d->pcie = FALSE;
      d->sort_key = g_strdup ("0video");
      d->desc = g_strdup_printf ("video %s", vt);
      return TRUE;
    }
  if (g_str_equal (name, "sound"))
    {
      if (!streq0 (model, "ich6") && !streq0 (model, "ich9") && !streq0 (model, "ac97") &&
          !streq0 (model, "es1370"))
        return FALSE;
      d->kind = K_OTHER;
      d->pcie = FALSE;
      d->sort_key = g_strdup ("1sound");
      d->desc = g_strdup_printf ("sound %s", model);
      return TRUE;
    }
  if (g_str_equal (name, "input"))
    {
      g_autofree char *bus = vk_xml_prop (n, "bus");
      if (!streq0 (bus, "virtio"))
        return FALSE;
      d->kind = K_OTHER;
      d->sort_key = g_strdup_printf ("2input-%s", type ? type : "");
      d->desc = g_strdup_printf ("input %s virtio", type ? type : "?");
      return TRUE;
    }
  if (g_str_equal (name, "vsock") || g_str_equal (name, "crypto") ||
      g_str_equal (name, "shmem"))
    {
      d->kind = K_OTHER;
      d->pcie = !g_str_equal (name, "shmem");
      d->sort_key = g_strdup_printf ("3%s", name);
      d->desc = g_strdup (name);
      return TRUE;
    }
  if (g_str_equal (name, "serial"))
    {
      g_autofree char *tt = vk_xml_child_prop (n, "target", "type");
      if (!streq0 (tt, "pci-serial"))
        return FALSE;
      d->kind = K_OTHER;
      d->pcie = FALSE;
      d->sort_key = g_strdup ("4serial");
      d->desc = g_strdup ("serial pci-serial");
      return TRUE;
    }
  return FALSE;
}

static void
add_violation (Scan *s, Dev *d, const char *message)
{
  VkViolation *v = g_new0 (VkViolation, 1);
  v->device = g_strdup (d ? d->desc : "domain");
  if (d && d->has_addr)
    v->address = fmt_addr (d->domain, d->bus, d->slot, d->fn);
  v->message = g_strdup (message);
  if (d)
    d->bad = TRUE;
  g_ptr_array_add (s->violations, v);
}

/* How a refusal names a device: what it is, and the alias libvirt gave it
 * when the XML came from libvirt (what virsh and the logs call it). */
static char *
dev_label (Dev *d)
{
  g_autofree char *alias = vk_xml_child_prop (d->node, "alias", "name");
  if (alias == NULL)
    return g_strdup (d->desc);
  return g_strdup_printf (_("%s (alias %s)"), d->desc, alias);
}

/* An explicit address pin cannot read is refused, never replaced: replacing
 * it would move a device the admin placed on purpose, and libvirt refuses
 * it anyway. */
static gboolean
read_address (Dev *d, GError **error)
{
  g_autoptr(GError) local = NULL;
  gboolean present = FALSE;
  VkBdf a;

  if (!vk_xml_read_pci_address (d->node, &present, &a, &local))
    {
      g_autofree char *who = dev_label (d);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s: its <address type='pci'> is malformed: %s. Fix the "
                     "address, or remove it and let 'vmkeep pin' place the device"),
                   who, local->message);
      return FALSE;
    }
  if (present && a.domain != 0)
    {
      g_autofree char *who = dev_label (d);
      g_autofree char *addr = fmt_addr (a.domain, a.bus, a.slot, a.function);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s: its PCI address %s is on PCI domain %04x, which the slot "
                     "policy does not support: vmkeep lays out PCI domain 0000 only "
                     "(libvirt's QEMU driver has no other). Put the device on "
                     "domain='0x0000', or remove the address and let 'vmkeep pin' "
                     "place it"),
                   who, addr, a.domain);
      return FALSE;
    }
  d->has_addr = present;
  if (present)
    {
      d->domain = a.domain;
      d->bus = a.bus;
      d->slot = a.slot;
      d->fn = a.function;
    }
  return TRUE;
}

/* libvirt refuses a controller index it cannot read, and two controllers
 * of one type on one index; for PCI controllers the index is the bus number
 * the devices behind them name, so pin could not even tell which
 * controller a device hangs off (and --relayout once freed the wrong one). */
static gboolean
check_controller_index (xmlNodePtr n, GHashTable *seen, GError **error)
{
  g_autofree char *type = vk_xml_prop (n, "type");
  g_autofree char *model = vk_xml_prop (n, "model");
  g_autofree char *text = vk_xml_prop (n, "index");
  g_autoptr(GError) local = NULL;
  guint idx;

  if (text == NULL)
    return TRUE;   /* numbered by vmkeep (PCI) or libvirt */
  if (!vk_parse_controller_index (text, &idx, &local))
    {
      g_autofree char *what = model != NULL
        ? g_strdup_printf ("<controller type='%s' model='%s'>", type ? type : "", model)
        : g_strdup_printf ("<controller type='%s'>", type ? type : "");
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s: %s. Fix the index, or remove it to have the controller "
                     "numbered automatically"), what, local->message);
      return FALSE;
    }
  /* USB companion controllers (ich9-ehci1 with its uhci functions) share
   * their index by design. */
  if (type == NULL || streq0 (type, "usb"))
    return TRUE;
  g_autofree char *key = g_strdup_printf ("%s/%u", type, idx);
  xmlNodePtr other = g_hash_table_lookup (seen, key);
  if (other == NULL)
    {
      g_hash_table_insert (seen, g_steal_pointer (&key), n);
      return TRUE;
    }
  g_autofree char *other_model = vk_xml_prop (other, "model");
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("two <controller type='%s'> elements have index %u (models %s "
                 "and %s): libvirt refuses two controllers of one type with one "
                 "index, and a device that names index %u (bus= for PCI, "
                 "controller= otherwise) could sit behind either. Give each "
                 "controller its own index and fix the devices behind it to "
                 "match, or remove one of them"),
               type, idx, other_model ? other_model : _("default"),
               model ? model : _("default"), idx);
  return FALSE;
}

static gboolean
scan_devices (xmlDocPtr doc, const VkLayoutPolicy *policy, Scan **out,
              GError **error)
{
  g_autoptr(GHashTable) ctrl_seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                           g_free, NULL);
  g_autoptr(Scan) s = g_new0 (Scan, 1);
  s->doc = doc;
  s->policy = *policy;
  s->devs = g_ptr_array_new_with_free_func ((GDestroyNotify) dev_free);
  s->ctrl_by_index = g_hash_table_new (NULL, NULL);
  s->used_index = g_hash_table_new (NULL, NULL);
  s->violations = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_violation_free);

  if (vk_domain_root (doc, error) == NULL)
    return FALSE;
  if (!vk_layout_policy_validate (policy, error))
    return FALSE;
  if (!vk_domain_machine (doc, &s->machine, error))
    return FALSE;

  xmlNodePtr devs = vk_domain_devices (doc);
  guint pos = 0;
  for (xmlNodePtr n = devs->children; n != NULL; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      if (xmlStrEqual (n->name, BAD_CAST "controller"))
        {
          g_autofree char *t = vk_xml_prop (n, "type");
          guint idx = 0;
          if (!check_controller_index (n, ctrl_seen, error))
            return FALSE;
          if (streq0 (t, "pci") && index_prop (n, &idx))
            g_hash_table_add (s->used_index, GUINT_TO_POINTER (idx));
        }
      Dev *d = g_new0 (Dev, 1);
      d->node = n;
      d->pos = pos++;
      if (!classify (s, n, d))
        {
          dev_free (d);
          continue;
        }
      if (d->sort_key == NULL)
        d->sort_key = g_strdup ("");
      d->root_slot = -1;
      if (!read_address (d, error))
        {
          dev_free (d);
          return FALSE;
        }
      if (d->ctrl_index >= 0)
        g_hash_table_insert (s->ctrl_by_index, GUINT_TO_POINTER (d->ctrl_index), d);
      g_ptr_array_add (s->devs, d);
    }
  *out = g_steal_pointer (&s);
  return TRUE;
}

/* Slot on the root bus that `d` hangs off; -1 when its bus has no
 * controller or the chain loops. */
static int
root_slot_of (Scan *s, Dev *d)
{
  Dev *cur = d;
  for (int depth = 0; depth < 16 && cur != NULL && cur->has_addr; depth++)
    {
      if (cur->bus == 0)
        return cur->slot;
      cur = g_hash_table_lookup (s->ctrl_by_index, GUINT_TO_POINTER (cur->bus));
    }
  return -1;
}

/* Functions of the chipset itself, which the policy leaves where the
 * chipset has them: pc IDE 01.1 and PIIX3 USB 01.2, q35 SATA 1f.2. libvirt
 * refuses the first controller of these kinds at any other address
 * ("Primary IDE controller must have PCI address 0:0:1.1"), so this is
 * also where pin puts them. */
static gboolean
chipset_home (Scan *s, Dev *d, guint *slot, guint *fn)
{
  if (d->kind != K_CONTROLLER)
    return FALSE;
  g_autofree char *type = vk_xml_prop (d->node, "type");
  g_autofree char *model = vk_xml_prop (d->node, "model");
  guint index = 0;
  index_prop (d->node, &index);
  if (index != 0)
    return FALSE;
  if (s->machine == VK_MACHINE_PC && streq0 (type, "ide"))
    {
      *slot = 0x01;
      *fn = 1;
    }
  else if (s->machine == VK_MACHINE_PC && streq0 (type, "usb") &&
           (model == NULL || streq0 (model, "piix3-uhci")))
    {
      *slot = 0x01;
      *fn = 2;
    }
  else if (s->machine == VK_MACHINE_Q35 && streq0 (type, "sata"))
    {
      *slot = 0x1f;
      *fn = 2;
    }
  else
    return FALSE;
  return TRUE;
}

static gboolean
chipset_function_ok (Scan *s, Dev *d)
{
  guint slot, fn;
  return d->has_addr && chipset_home (s, d, &slot, &fn) && d->domain == 0 &&
         d->bus == 0 && d->slot == slot && d->fn == fn;
}

/* A NIC whose ACPI index is wrong keeps its address: relayout gives it a
 * new index, it does not move it. */
static void
add_acpi_violation (Scan *s, Dev *d, const char *message)
{
  gboolean bad = d->bad;
  add_violation (s, d, message);
  d->bad = bad;
  d->bad_acpi = TRUE;
}

static void
check_addresses (Scan *s, gboolean report_unaddressed)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) acpi_seen = g_hash_table_new (NULL, NULL);
  g_autoptr(GHashTable) function0 = g_hash_table_new (NULL, NULL);
  const VkLayoutPolicy *p = &s->policy;

  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      if (!d->has_addr)
        {
          if (report_unaddressed)
            add_violation (s, d, _("has no PCI address, so libvirt would place "
                                   "it wherever it likes; run 'vmkeep pin'"));
          continue;
        }
      g_autofree char *addr = fmt_addr (d->domain, d->bus, d->slot, d->fn);
      g_autofree char *key = g_strdup (addr);
      Dev *other = g_hash_table_lookup (seen, key);
      if (other != NULL)
        {
          g_autofree char *m = g_strdup_printf (_("shares PCI address %s with %s; "
                                                  "every device needs its own"),
                                                addr, other->desc);
          add_violation (s, d, m);
          continue;
        }
      g_hash_table_insert (seen, g_steal_pointer (&key), d);
      if (d->fn == 0)
        g_hash_table_insert (function0, GUINT_TO_POINTER (d->bus << 8 | d->slot), d);

      d->root_slot = root_slot_of (s, d);
      if (d->root_slot < 0)
        {
          Dev *parent = g_hash_table_lookup (s->ctrl_by_index, GUINT_TO_POINTER (d->bus));
          g_autofree char *m = NULL;
          if (parent != NULL && !parent->has_addr)
            m = g_strdup_printf (_("sits behind %s, which has no PCI address itself"),
                                 parent->desc);
          else
            m = g_strdup_printf (_("sits on bus 0x%02x, which no PCI controller "
                                   "provides"), d->bus);
          add_violation (s, d, m);
          continue;
        }
      if (d->bus != 0)
        {
          Dev *parent = g_hash_table_lookup (s->ctrl_by_index, GUINT_TO_POINTER (d->bus));
          if (parent && parent->root_port && d->slot != 0)
            {
              g_autofree char *m = g_strdup_printf (
                _("is on slot 0x%02x behind %s, but a pcie-root-port has slot 0x00 only"),
                d->slot, parent->desc);
              add_violation (s, d, m);
              continue;
            }
        }
      guint rs = d->root_slot;
      gboolean in_nic = vk_slot_in_range (&p->nic, rs);
      gboolean in_dev = vk_slot_in_range (&p->dev, rs);
      guint home_slot, home_fn;
      if (chipset_home (s, d, &home_slot, &home_fn))
        {
          if (!chipset_function_ok (s, d))
            {
              g_autofree char *m = g_strdup_printf (
                _("belongs at 0000:00:%02x.%x, where the %s chipset has it; "
                  "libvirt refuses it anywhere else"),
                home_slot, home_fn, vk_machine_to_string (s->machine));
              add_violation (s, d, m);
            }
          continue;
        }
      if (vk_slot_is_chipset (s->machine, rs))
        {
          g_autofree char *m = g_strdup_printf (
            _("is on root slot 0x%02x, which belongs to the %s chipset"),
            rs, vk_machine_to_string (s->machine));
          add_violation (s, d, m);
        }
      else if (d->kind == K_NIC)
        {
          if (!in_nic)
            {
              g_autofree char *m = g_strdup_printf (
                _("is a NIC on root slot 0x%02x, outside the NIC range "
                  "0x%02x-0x%02x (nic-slots)"), rs, p->nic.first, p->nic.last);
              add_violation (s, d, m);
            }
          else if (s->machine == VK_MACHINE_Q35 && d->pcie && d->bus == 0)
            add_violation (s, d, _("is a PCI Express NIC directly on the q35 root bus, "
                                   "where it can never be unplugged; it needs its own "
                                   "pcie-root-port in the NIC range"));
        }
      else if (d->kind == K_PORT)
        {
          if (d->bus == 0 && !in_nic && !in_dev)
            {
              g_autofree char *m = g_strdup_printf (
                _("is on root slot 0x%02x, outside both the NIC range 0x%02x-0x%02x "
                  "and the device range 0x%02x-0x%02x"),
                rs, p->nic.first, p->nic.last, p->dev.first, p->dev.last);
              add_violation (s, d, m);
            }
        }
      else if (!in_dev)
        {
          g_autofree char *m = g_strdup_printf (
            in_nic ? _("is on root slot 0x%02x, in the NIC range 0x%02x-0x%02x "
                       "reserved for NICs; non-NIC devices go to 0x%02x-0x%02x")
                   : _("is on root slot 0x%02x, outside the device range "
                       "0x%02x-0x%02x (device-slots)"),
            rs, in_nic ? p->nic.first : p->dev.first,
            in_nic ? p->nic.last : p->dev.last, p->dev.first, p->dev.last);
          add_violation (s, d, m);
        }
    }

  /* A guest finds a slot through its function 0: a device on another
   * function of a slot without one is invisible, and so is one whose
   * function 0 is about to be moved away. */
  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      if (!d->has_addr || d->fn == 0 || d->bad ||
          chipset_function_ok (s, d) ||
          (d->bus == 0 && vk_slot_is_chipset (s->machine, d->slot)))
        continue;
      Dev *f0 = g_hash_table_lookup (function0, GUINT_TO_POINTER (d->bus << 8 | d->slot));
      if (f0 == NULL)
        {
          g_autofree char *m = g_strdup_printf (
            _("is function %u of slot 0x%02x on bus 0x%02x, which has no function 0, "
              "so the guest never sees it"), d->fn, d->slot, d->bus);
          add_violation (s, d, m);
        }
      else if (f0->bad)
        {
          g_autofree char *m = g_strdup_printf (
            _("is function %u of the slot of %s, which is misplaced; a slot "
              "without function 0 is invisible to the guest"), d->fn, f0->desc);
          add_violation (s, d, m);
        }
    }

  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      if (d->kind != K_NIC)
        continue;
      if (d->acpi < 0)
        {
          if (report_unaddressed)
            add_acpi_violation (s, d, _("has no ACPI index, so the guest may not "
                                        "name it predictably (eno1, eno2, ...); "
                                        "run 'vmkeep pin'"));
        }
      else if (d->acpi == 0 || d->acpi > 16383)
        {
          g_autofree char *m = g_strdup_printf (_("has ACPI index %d; an ACPI index "
                                                  "goes from 1 to 16383"), d->acpi);
          add_acpi_violation (s, d, m);
        }
      else if (!g_hash_table_add (acpi_seen, GINT_TO_POINTER (d->acpi)))
        {
          g_autofree char *m = g_strdup_printf (_("has ACPI index %d, which another "
                                                  "NIC has too"), d->acpi);
          add_acpi_violation (s, d, m);
        }
    }
}

/* Devices libvirt adds when the XML does not mention them. */
static gboolean
has_element (xmlNodePtr devs, const char *name, const char *type_attr)
{
  for (xmlNodePtr n = devs->children; n != NULL; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST name))
        continue;
      if (type_attr == NULL)
        return TRUE;
      g_autofree char *t = vk_xml_prop (n, "type");
      if (streq0 (t, type_attr))
        return TRUE;
    }
  return FALSE;
}

/* Whether any element of <devices> matches. */
static gboolean
any_device (xmlNodePtr devs, VkXmlMatch match, gconstpointer data)
{
  return vk_xml_find_child (devs, match, data) != NULL;
}

/* A device that needs a USB controller. */
static gboolean
is_usb_device (xmlNodePtr n, gconstpointer data)
{
  g_autofree char *bus = vk_xml_prop (n, "bus");
  g_autofree char *type = vk_xml_prop (n, "type");
  g_autofree char *tbus = vk_xml_child_prop (n, "target", "bus");
  g_autofree char *model = vk_xml_prop (n, "model");

  return (xmlStrEqual (n->name, BAD_CAST "input") && streq0 (bus, "usb")) ||
         xmlStrEqual (n->name, BAD_CAST "redirdev") ||
         xmlStrEqual (n->name, BAD_CAST "smartcard") ||
         xmlStrEqual (n->name, BAD_CAST "hub") ||
         (xmlStrEqual (n->name, BAD_CAST "hostdev") && streq0 (type, "usb")) ||
         (xmlStrEqual (n->name, BAD_CAST "disk") && streq0 (tbus, "usb")) ||
         (xmlStrEqual (n->name, BAD_CAST "sound") && streq0 (model, "usb"));
}

/* A channel or console that needs a virtio-serial controller. */
static gboolean
is_virtio_serial_port (xmlNodePtr n, gconstpointer data)
{
  g_autofree char *tt = NULL;

  if (!xmlStrEqual (n->name, BAD_CAST "channel") &&
      !xmlStrEqual (n->name, BAD_CAST "console"))
    return FALSE;
  tt = vk_xml_child_prop (n, "target", "type");
  if (streq0 (tt, "virtio"))
    return TRUE;
  return xmlStrEqual (n->name, BAD_CAST "channel") && tt == NULL;
}

/* A disk on the bus `data` names. */
static gboolean
is_disk_on_bus (xmlNodePtr n, gconstpointer data)
{
  g_autofree char *b = NULL;

  if (!xmlStrEqual (n->name, BAD_CAST "disk"))
    return FALSE;
  b = vk_xml_child_prop (n, "target", "bus");
  return streq0 (b, data);
}

static xmlNodePtr
new_controller (const char *type, guint index, const char *model)
{
  char buf[16];
  xmlNodePtr c = xmlNewNode (NULL, BAD_CAST "controller");
  xmlSetProp (c, BAD_CAST "type", BAD_CAST type);
  g_snprintf (buf, sizeof buf, "%u", index);
  xmlSetProp (c, BAD_CAST "index", BAD_CAST buf);
  if (model)
    xmlSetProp (c, BAD_CAST "model", BAD_CAST model);
  return c;
}

/* With `report`, only say what libvirt would add (for layout --check). */
static gboolean
implicit (Scan *report, const char *message)
{
  if (report != NULL)
    add_violation (report, NULL, message);
  return report == NULL;
}

/* Make every device libvirt would add by itself explicit, so it is placed
 * (or disabled) by policy instead of by libvirt; with `report`, list them
 * as violations instead. */
static void
add_implicit_devices (xmlDocPtr doc, VkMachine machine, Scan *report)
{
  xmlNodePtr devs = vk_domain_devices (doc);

  if (!has_element (devs, "controller", "usb") &&
      implicit (report, _("no <controller type='usb'>: libvirt adds one at "
                          "an address of its choosing; run 'vmkeep pin'")))
    {
      const char *model = !any_device (devs, is_usb_device, NULL) ? "none"
                          : machine == VK_MACHINE_Q35 ? "qemu-xhci" : "piix3-uhci";
      xmlNodePtr c = new_controller ("usb", 0, model);
      if (machine == VK_MACHINE_PC && g_str_equal (model, "piix3-uhci"))
        vk_xml_set_pci_address (c, 0, 1, 2);
      xmlAddChild (devs, c);
    }
  if (!has_element (devs, "memballoon", NULL) &&
      implicit (report, _("no <memballoon>: libvirt adds a virtio balloon at "
                          "an address of its choosing; run 'vmkeep pin'")))
    {
      xmlNodePtr b = xmlNewChild (devs, NULL, BAD_CAST "memballoon", NULL);
      xmlSetProp (b, BAD_CAST "model", BAD_CAST "virtio");
    }
  if (has_element (devs, "graphics", NULL) && !has_element (devs, "video", NULL) &&
      implicit (report, _("<graphics> without <video>: libvirt adds a video "
                          "device at an address of its choosing; run 'vmkeep pin'")))
    {
      xmlNodePtr v = xmlNewChild (devs, NULL, BAD_CAST "video", NULL);
      xmlNodePtr m = xmlNewChild (v, NULL, BAD_CAST "model", NULL);
      xmlSetProp (m, BAD_CAST "type", BAD_CAST "vga");
    }
  if (any_device (devs, is_virtio_serial_port, NULL) && !has_element (devs, "controller", "virtio-serial") &&
      implicit (report, _("a virtio channel or console without <controller "
                          "type='virtio-serial'>: libvirt adds one at an address "
                          "of its choosing; run 'vmkeep pin'")))
    xmlAddChild (devs, new_controller ("virtio-serial", 0, NULL));
  if ((any_device (devs, is_disk_on_bus, "scsi") || has_element (devs, "hostdev", "scsi")) &&
      !has_element (devs, "controller", "scsi") &&
      implicit (report, _("a SCSI disk or hostdev without <controller type='scsi'>: "
                          "libvirt adds one at an address of its choosing; run "
                          "'vmkeep pin'")))
    xmlAddChild (devs, new_controller ("scsi", 0, "virtio-scsi"));
  /* q35 has its SATA controller built in (00:1f.2); pc gets an AHCI card */
  if (machine == VK_MACHINE_PC && any_device (devs, is_disk_on_bus, "sata") &&
      !has_element (devs, "controller", "sata") &&
      implicit (report, _("a SATA disk without <controller type='sata'>: libvirt "
                          "adds one at an address of its choosing; run 'vmkeep pin'")))
    xmlAddChild (devs, new_controller ("sata", 0, NULL));
}

/* libvirt numbers a PCI controller given without index by itself; pin
 * needs the bus numbers before it places anything behind them. */
static void
number_pci_controllers (xmlDocPtr doc)
{
  xmlNodePtr devs = vk_domain_devices (doc);
  g_autoptr(GHashTable) used = g_hash_table_new (NULL, NULL);
  for (xmlNodePtr n = devs->children; n != NULL; n = n->next)
    {
      g_autofree char *type = vk_xml_prop (n, "type");
      guint idx;
      if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "controller") &&
          streq0 (type, "pci") && index_prop (n, &idx))
        g_hash_table_add (used, GUINT_TO_POINTER (idx));
    }
  guint next = 1;
  for (xmlNodePtr n = devs->children; n != NULL; n = n->next)
    {
      g_autofree char *type = vk_xml_prop (n, "type");
      g_autofree char *model = vk_xml_prop (n, "model");
      g_autofree char *index = vk_xml_prop (n, "index");
      char buf[16];
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "controller") ||
          !streq0 (type, "pci") || index != NULL)
        continue;
      guint idx = 0;
      if (!streq0 (model, "pci-root") && !streq0 (model, "pcie-root"))
        {
          while (g_hash_table_contains (used, GUINT_TO_POINTER (next)))
            next++;
          idx = next;
        }
      g_hash_table_add (used, GUINT_TO_POINTER (idx));
      g_snprintf (buf, sizeof buf, "%u", idx);
      xmlSetProp (n, BAD_CAST "index", BAD_CAST buf);
    }
}

static guint
next_free_index (Scan *s)
{
  guint i = 1;
  while (g_hash_table_contains (s->used_index, GUINT_TO_POINTER (i)))
    i++;
  return i;
}

static xmlNodePtr
new_root_port (Scan *s, guint slot)
{
  guint index = next_free_index (s);
  char buf[16];
  g_hash_table_add (s->used_index, GUINT_TO_POINTER (index));
  xmlNodePtr c = new_controller ("pci", index, "pcie-root-port");
  xmlNodePtr m = xmlNewChild (c, NULL, BAD_CAST "model", NULL);
  xmlSetProp (m, BAD_CAST "name", BAD_CAST "pcie-root-port");
  xmlNodePtr t = xmlNewChild (c, NULL, BAD_CAST "target", NULL);
  g_snprintf (buf, sizeof buf, "%u", index);
  xmlSetProp (t, BAD_CAST "chassis", BAD_CAST buf);
  g_snprintf (buf, sizeof buf, "0x%x", slot << 3);
  xmlSetProp (t, BAD_CAST "port", BAD_CAST buf);
  vk_xml_set_pci_address (c, 0, slot, 0);
  return c;
}

/* Insert a new controller after the last existing <controller>, so the
 * output reads like libvirt's own. */
static void
insert_controller (xmlDocPtr doc, xmlNodePtr c)
{
  xmlNodePtr devs = vk_domain_devices (doc);
  xmlNodePtr last = NULL;
  for (xmlNodePtr n = devs->children; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "controller"))
      last = n;
  if (last != NULL)
    xmlAddNextSibling (last, c);
  else
    xmlAddChild (devs, c);
}

typedef struct {
  Scan *s;
  VkSlotAllocator *alloc;
  GHashTable *occupied;   /* port index -> TRUE when something sits behind */
} Placer;

static gboolean
placer_init (Placer *pl, Scan *s, GError **error)
{
  pl->s = s;
  pl->alloc = vk_slot_allocator_new (s->machine);
  pl->occupied = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      if (!d->has_addr)
        continue;
      if (d->bus == 0)
        {
          if (!vk_slot_allocator_reserve (pl->alloc, d->slot, d->fn, d->desc, error))
            return FALSE;
        }
      else
        g_hash_table_add (pl->occupied, GUINT_TO_POINTER (d->bus));
    }
  return TRUE;
}

static void
placer_clear (Placer *pl)
{
  g_clear_pointer (&pl->alloc, vk_slot_allocator_free);
  g_clear_pointer (&pl->occupied, g_hash_table_unref);
}

/* Put `d` at 0000:`bus`:`slot`.`fn`, in its XML and in its record;
 * `root_slot` is the root-bus slot it hangs off. */
static void
dev_set_address (Dev *d, guint bus, guint slot, guint fn, int root_slot)
{
  vk_xml_set_pci_address (d->node, bus, slot, fn);
  d->has_addr = TRUE;
  d->domain = 0;
  d->bus = bus;
  d->slot = slot;
  d->fn = fn;
  d->root_slot = root_slot;
}

/* Empty pcie-root-ports in `r`, lowest slot first. */
static Dev *
find_empty_port (Placer *pl, const VkSlotRange *r)
{
  Dev *best = NULL;
  for (guint i = 0; i < pl->s->devs->len; i++)
    {
      Dev *d = pl->s->devs->pdata[i];
      if (!d->root_port || !d->has_addr || d->bus != 0 || d->bad)
        continue;
      if (!vk_slot_in_range (r, d->slot))
        continue;
      if (g_hash_table_contains (pl->occupied, GUINT_TO_POINTER (d->ctrl_index)))
        continue;
      if (best == NULL || d->slot < best->slot || (d->slot == best->slot && d->fn < best->fn))
        best = d;
    }
  return best;
}

static guint
count_empty_ports (Placer *pl, const VkSlotRange *r)
{
  guint n = 0;
  for (guint i = 0; i < pl->s->devs->len; i++)
    {
      Dev *d = pl->s->devs->pdata[i];
      if (d->root_port && d->has_addr && d->bus == 0 && !d->bad &&
          vk_slot_in_range (r, d->slot) &&
          !g_hash_table_contains (pl->occupied, GUINT_TO_POINTER (d->ctrl_index)))
        n++;
    }
  return n;
}

/* Add a pcie-root-port at the next free slot of `r` and register it. */
static Dev *
add_port (Placer *pl, const VkSlotRange *r, const char *what, const char *key,
          GError **error)
{
  guint slot;
  if (!vk_slot_allocator_next (pl->alloc, r, what, key, &slot, error))
    return NULL;
  xmlNodePtr c = new_root_port (pl->s, slot);
  insert_controller (pl->s->doc, c);
  Dev *d = g_new0 (Dev, 1);
  classify (pl->s, c, d);
  d->node = c;
  d->sort_key = g_strdup ("");
  d->has_addr = TRUE;
  d->slot = slot;
  d->root_slot = slot;
  d->pos = G_MAXUINT;
  g_hash_table_insert (pl->s->ctrl_by_index, GUINT_TO_POINTER (d->ctrl_index), d);
  g_ptr_array_add (pl->s->devs, d);
  vk_slot_allocator_reserve (pl->alloc, slot, 0, d->desc, NULL);
  return d;
}

/* Empty root ports in `r` up to `wanted`, as far as `r` has room: spares
 * are best effort. */
static void
add_spare_ports (Placer *pl, const VkSlotRange *r, guint wanted, const char *what,
                 const char *key)
{
  while (count_empty_ports (pl, r) < wanted && vk_slot_allocator_count_free (pl->alloc, r) > 0)
    add_port (pl, r, what, key, NULL);
}

static gboolean
place_device (Placer *pl, Dev *d, GError **error)
{
  Scan *s = pl->s;
  gboolean nic = d->kind == K_NIC;
  const VkSlotRange *r = nic ? &s->policy.nic : &s->policy.dev;
  const char *key = nic ? "nic-slots" : "device-slots";
  const char *what = nic ? _("NIC") : d->desc;

  if (s->machine == VK_MACHINE_Q35 && d->pcie)
    {
      Dev *port = find_empty_port (pl, r);
      if (port == NULL)
        port = add_port (pl, r, what, key, error);
      if (port == NULL)
        return FALSE;
      dev_set_address (d, port->ctrl_index, 0, 0, port->slot);
      g_hash_table_add (pl->occupied, GUINT_TO_POINTER (port->ctrl_index));
      return TRUE;
    }
  guint slot;
  if (!vk_slot_allocator_next (pl->alloc, r, what, key, &slot, error))
    return FALSE;
  vk_slot_allocator_reserve (pl->alloc, slot, 0, d->desc, NULL);
  dev_set_address (d, 0, slot, 0, slot);
  return TRUE;
}

static gint
cmp_device_order (gconstpointer a, gconstpointer b)
{
  const Dev *x = *(Dev *const *) a, *y = *(Dev *const *) b;
  if (x->kind != y->kind)
    return (int) x->kind - (int) y->kind;
  int c = g_strcmp0 (x->sort_key, y->sort_key);
  if (c != 0)
    return c;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static gint
cmp_nic_slot (gconstpointer a, gconstpointer b)
{
  const Dev *x = *(Dev *const *) a, *y = *(Dev *const *) b;
  if (x->root_slot != y->root_slot)
    return x->root_slot - y->root_slot;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* A MAC that depends only on the domain's identity and the NIC's position,
 * so pinning the same input twice gives the same output. */
static char *
derived_mac (xmlDocPtr doc, guint n, GHashTable *used)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  g_autofree char *uuid = vk_xml_child_text (root, "uuid");
  g_autofree char *name = vk_xml_child_text (root, "name");
  for (guint attempt = 0;; attempt++)
    {
      g_autofree char *seed = g_strdup_printf ("%s/%s/%u/%u", uuid ? uuid : "",
                                               name ? name : "", n, attempt);
      g_autoptr(GChecksum) ck = g_checksum_new (G_CHECKSUM_SHA256);
      guint8 dig[32];
      gsize len = sizeof dig;
      g_checksum_update (ck, (const guchar *) seed, -1);
      g_checksum_get_digest (ck, dig, &len);
      char *mac = g_strdup_printf ("52:54:00:%02x:%02x:%02x", dig[0], dig[1], dig[2]);
      if (!g_hash_table_contains (used, mac))
        return mac;
      g_free (mac);
    }
}

static char *
violations_text (GPtrArray *v)
{
  GString *str = g_string_new (NULL);
  for (guint i = 0; i < v->len; i++)
    {
      VkViolation *x = v->pdata[i];
      g_string_append_printf (str, "\n  %s%s%s: %s", x->device,
                              x->address ? " at " : "", x->address ? x->address : "",
                              x->message);
    }
  return g_string_free (str, FALSE);
}

/* Remove a bus-providing controller, every controller behind it, and the
 * addresses of every other device behind them.
 *
 * Nothing is freed until the whole tree is known: a Dev collected under one
 * controller may turn up again under another (two controllers claiming one
 * bus number, or a bus loop), and freeing it while a list still holds it
 * is a use after free. So the walk only marks (`dropping` also keeps a
 * loop finite), and one pass over s->devs, the sole owner, frees. */
static void
drop_controller (Scan *s, Dev *ctrl)
{
  g_autoptr(GPtrArray) todo = g_ptr_array_new ();

  ctrl->dropping = TRUE;
  g_ptr_array_add (todo, ctrl);
  for (guint t = 0; t < todo->len; t++)
    {
      Dev *c = todo->pdata[t];
      for (guint i = 0; i < s->devs->len; i++)
        {
          Dev *d = s->devs->pdata[i];
          if (d->dropping || !d->has_addr || d->bus != (guint) c->ctrl_index)
            continue;
          if (d->kind == K_PORT)
            {
              d->dropping = TRUE;
              g_ptr_array_add (todo, d);
            }
          else
            {
              vk_xml_remove_address (d->node);
              d->has_addr = FALSE;
              d->bad = FALSE;
            }
        }
    }

  for (guint i = s->devs->len; i-- > 0;)
    {
      Dev *d = s->devs->pdata[i];
      gpointer key = GUINT_TO_POINTER (d->ctrl_index);
      if (!d->dropping)
        continue;
      /* another controller with this index keeps its entry */
      if (g_hash_table_lookup (s->ctrl_by_index, key) == d)
        {
          g_hash_table_remove (s->ctrl_by_index, key);
          g_hash_table_remove (s->used_index, key);
        }
      xmlUnlinkNode (d->node);
      xmlFreeNode (d->node);
      g_ptr_array_remove_index (s->devs, i);
    }
}

/* Bus controllers given without address (hand-written XML asks for
 * hot-plug ports with a bare <controller type='pci' model='pcie-root-port'/>)
 * go on the root bus before anything is checked, so what sits behind them
 * is judged by where they end up: into the NIC range when a NIC sits
 * behind one, else into the device range, where an empty one is a spare. */
static gboolean
place_bus_controllers (Scan *s, GError **error)
{
  g_autoptr(VkSlotAllocator) alloc = NULL;
  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      if (d->kind != K_PORT || d->has_addr)
        continue;
      gboolean on_root = s->machine == VK_MACHINE_Q35
                           ? d->root_port || streq0 (d->ctrl_model, "dmi-to-pci-bridge")
                           : streq0 (d->ctrl_model, "pci-bridge");
      if (!on_root)
        return vk_fail (error, VK_ERROR_USAGE,
                        _("%s has no PCI address; vmkeep places only pcie-root-port "
                          "and dmi-to-pci-bridge (q35) or pci-bridge (pc) controllers "
                          "by itself: give it an <address> or remove it"), d->desc);
      if (alloc == NULL)
        {
          alloc = vk_slot_allocator_new (s->machine);
          /* conflicts among these are reported by check_addresses */
          for (guint j = 0; j < s->devs->len; j++)
            {
              Dev *o = s->devs->pdata[j];
              if (o->has_addr && o->bus == 0)
                vk_slot_allocator_reserve (alloc, o->slot, o->fn, o->desc, NULL);
            }
        }
      gboolean nic = FALSE;
      for (guint j = 0; j < s->devs->len; j++)
        {
          Dev *o = s->devs->pdata[j];
          if (o->kind == K_NIC && o->has_addr && o->bus == (guint) d->ctrl_index)
            nic = TRUE;
        }
      guint slot;
      if (!vk_slot_allocator_next (alloc, nic ? &s->policy.nic : &s->policy.dev,
                                   d->desc, nic ? "nic-slots" : "device-slots",
                                   &slot, error))
        return FALSE;
      vk_slot_allocator_reserve (alloc, slot, 0, d->desc, NULL);
      dev_set_address (d, 0, slot, 0, slot);
    }
  return TRUE;
}

/* ACPI index of a NIC on `root_slot`: its position in the NIC range
 * (0x03 -> 1, 0x04 -> 2, ...) so the guest's name (eno2) follows the slot
 * (ens4) even after a NIC in the middle was removed and re-added; the next
 * index above all used ones when that one is taken. */
static int
acpi_for_slot (const VkLayoutPolicy *p, int root_slot, GHashTable *used)
{
  int want = root_slot - (int) p->nic.first + 1;
  if (root_slot >= 0 && want >= 1 && want <= 16383 &&
      !g_hash_table_contains (used, GINT_TO_POINTER (want)))
    return want;
  int max = 0;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, used);
  while (g_hash_table_iter_next (&it, &key, NULL))
    max = MAX (max, GPOINTER_TO_INT (key));
  return max + 1;
}

static gboolean
pin_scanned (Scan *s, gboolean relayout, GError **error)
{
  if (!place_bus_controllers (s, error))
    return FALSE;
  check_addresses (s, FALSE);
  if (s->violations->len > 0)
    {
      if (!relayout)
        {
          g_autofree char *text = violations_text (s->violations);
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       g_dngettext (GETTEXT_PACKAGE,
                                    "%u device is placed against the slot policy:%s\n"
                                    "Fix the XML or run with --relayout to re-place it.",
                                    "%u devices are placed against the slot policy:%s\n"
                                    "Fix the XML or run with --relayout to re-place them.",
                                    s->violations->len),
                       s->violations->len, text);
          return FALSE;
        }
      /* Controllers first: dropping one frees what hangs off it. */
      for (gboolean again = TRUE; again;)
        {
          again = FALSE;
          for (guint i = 0; i < s->devs->len; i++)
            {
              Dev *d = s->devs->pdata[i];
              if (d->bad && d->kind == K_PORT)
                {
                  drop_controller (s, d);
                  again = TRUE;
                  break;
                }
            }
        }
      for (guint i = 0; i < s->devs->len; i++)
        {
          Dev *d = s->devs->pdata[i];
          if (d->bad)
            {
              vk_xml_remove_address (d->node);
              d->has_addr = FALSE;
              d->bad = FALSE;
            }
          if (d->bad_acpi)
            {
              d->acpi = -1;
              d->bad_acpi = FALSE;
            }
        }
      g_ptr_array_set_size (s->violations, 0);
    }

  Placer pl = { 0 };
  if (!placer_init (&pl, s, error))
    {
      placer_clear (&pl);
      return FALSE;
    }

  gboolean ok = TRUE;
  g_autoptr(GPtrArray) nics = g_ptr_array_new ();
  g_autoptr(GPtrArray) others = g_ptr_array_new ();
  for (guint i = 0; ok && i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      guint slot, fn;
      if (d->has_addr || d->kind == K_PORT)
        continue;
      if (chipset_home (s, d, &slot, &fn))
        {
          ok = vk_slot_allocator_reserve (pl.alloc, slot, fn, d->desc, error);
          dev_set_address (d, 0, slot, fn, slot);
          continue;
        }
      g_ptr_array_add (d->kind == K_NIC ? nics : others, d);
    }
  g_ptr_array_sort (others, cmp_device_order);

  for (guint i = 0; ok && i < nics->len; i++)
    ok = place_device (&pl, nics->pdata[i], error);

  /* Spare NIC ports go right after the NICs so a live add lands in the
   * next NIC slot. */
  if (ok && s->machine == VK_MACHINE_Q35)
    add_spare_ports (&pl, &s->policy.nic, s->policy.spare_nic_ports, "spare NIC port",
                     "nic-slots");

  for (guint i = 0; ok && i < others->len; i++)
    ok = place_device (&pl, others->pdata[i], error);

  if (ok && s->machine == VK_MACHINE_Q35)
    {
      add_spare_ports (&pl, &s->policy.dev, s->policy.spare_dev_ports, "spare device port",
                       "device-slots");

      /* libvirt fills holes in the PCI controller numbering with controllers
       * of its own choosing at addresses of its own choosing, so leave none:
       * a hole becomes a spare port. */
      guint max = 0;
      GHashTableIter it;
      gpointer key;
      g_hash_table_iter_init (&it, s->used_index);
      while (g_hash_table_iter_next (&it, &key, NULL))
        max = MAX (max, GPOINTER_TO_UINT (key));
      for (guint idx = 1; ok && idx < max; idx++)
        {
          if (g_hash_table_contains (s->used_index, GUINT_TO_POINTER (idx)))
            continue;
          const VkSlotRange *r = vk_slot_allocator_count_free (pl.alloc, &s->policy.dev) > 0
                                   ? &s->policy.dev : &s->policy.nic;
          ok = add_port (&pl, r, "port filling PCI bus number gap",
                         r == &s->policy.dev ? "device-slots" : "nic-slots", error) != NULL;
        }
    }
  placer_clear (&pl);
  if (!ok)
    return FALSE;

  /* MACs and ACPI indexes for NICs that have none, in slot order. */
  g_autoptr(GHashTable) used_macs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) used_acpi = g_hash_table_new (NULL, NULL);
  g_autoptr(GPtrArray) all_nics = g_ptr_array_new ();
  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      if (d->kind != K_NIC)
        continue;
      d->root_slot = root_slot_of (s, d);
      g_ptr_array_add (all_nics, d);
      if (d->mac)
        g_hash_table_add (used_macs, g_strdup (d->mac));
      if (d->acpi >= 1 && d->acpi <= 16383)
        g_hash_table_add (used_acpi, GINT_TO_POINTER (d->acpi));
    }
  g_ptr_array_sort (all_nics, cmp_nic_slot);
  for (guint i = 0; i < all_nics->len; i++)
    {
      Dev *d = all_nics->pdata[i];
      if (d->mac == NULL)
        {
          d->mac = derived_mac (s->doc, i, used_macs);
          g_hash_table_add (used_macs, g_strdup (d->mac));
          xmlNodePtr m = xmlNewNode (NULL, BAD_CAST "mac");
          xmlSetProp (m, BAD_CAST "address", BAD_CAST d->mac);
          if (d->node->children)
            xmlAddPrevSibling (d->node->children, m);
          else
            xmlAddChild (d->node, m);
          g_free (d->desc);
          d->desc = g_strdup_printf ("interface %s", d->mac);
        }
      if (d->acpi < 0)
        {
          char buf[16];
          xmlNodePtr old;
          /* a duplicate or malformed index is replaced, not added to */
          while ((old = vk_xml_child (d->node, "acpi")) != NULL)
            {
              xmlUnlinkNode (old);
              xmlFreeNode (old);
            }
          d->acpi = acpi_for_slot (&s->policy, d->root_slot, used_acpi);
          g_hash_table_add (used_acpi, GINT_TO_POINTER (d->acpi));
          g_snprintf (buf, sizeof buf, "%d", d->acpi);
          xmlNodePtr a = xmlNewChild (d->node, NULL, BAD_CAST "acpi", NULL);
          xmlSetProp (a, BAD_CAST "index", BAD_CAST buf);
        }
    }

  /* Prove the result: nothing may be left unplaced or misplaced. */
  g_ptr_array_set_size (s->violations, 0);
  for (guint i = 0; i < s->devs->len; i++)
    ((Dev *) s->devs->pdata[i])->bad = FALSE;
  check_addresses (s, TRUE);
  if (s->violations->len > 0)
    {
      g_autofree char *text = violations_text (s->violations);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("internal error: the pinned layout still breaks the policy:%s"), text);
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_pin (xmlDocPtr doc, const VkPinOptions *opts, GError **error)
{
  VkMachine machine;
  if (vk_domain_root (doc, error) == NULL || !vk_domain_machine (doc, &machine, error))
    return FALSE;
  add_implicit_devices (doc, machine, NULL);
  number_pci_controllers (doc);
  g_autoptr(Scan) s = NULL;
  if (!scan_devices (doc, &opts->policy, &s, error))
    return FALSE;
  return pin_scanned (s, opts->relayout, error);
}

GPtrArray *
vk_layout_check (xmlDocPtr doc, const VkLayoutPolicy *policy, GError **error)
{
  g_autoptr(Scan) s = NULL;
  if (!scan_devices (doc, policy, &s, error))
    return NULL;
  check_addresses (s, TRUE);
  /* what libvirt would add at an address of its own choosing */
  add_implicit_devices (doc, s->machine, s);
  return g_steal_pointer (&s->violations);
}

static gint
cmp_row (gconstpointer a, gconstpointer b)
{
  const VkLayoutRow *x = *(VkLayoutRow *const *) a, *y = *(VkLayoutRow *const *) b;
  if (x->root_slot != y->root_slot)
    return (int) x->root_slot - (int) y->root_slot;
  if (x->bus != y->bus)
    return (int) x->bus - (int) y->bus;
  if (x->slot != y->slot)
    return (int) x->slot - (int) y->slot;
  return (int) x->function - (int) y->function;
}

GPtrArray *
vk_layout_table (xmlDocPtr doc, const VkLayoutPolicy *policy, GError **error)
{
  g_autoptr(Scan) s = NULL;
  if (!scan_devices (doc, policy, &s, error))
    return NULL;
  check_addresses (s, TRUE);
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_layout_row_free);
  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      VkLayoutRow *r = g_new0 (VkLayoutRow, 1);
      r->root_slot = d->root_slot >= 0 ? (guint) d->root_slot : 0xff;
      r->bus = d->has_addr ? d->bus : 0xff;
      r->slot = d->has_addr ? d->slot : 0xff;
      r->function = d->has_addr ? d->fn : 0;
      r->kind = g_strdup (kind_names[d->kind]);
      r->device = g_strdup (d->desc);
      r->alias = vk_xml_child_prop (d->node, "alias", "name");
      r->mac = g_strdup (d->mac);
      r->acpi_index = d->acpi;
      r->ok = !d->bad && !d->bad_acpi;
      g_ptr_array_add (rows, r);
    }
  g_ptr_array_sort (rows, cmp_row);
  return rows;
}

/* Where a new device of `doc` goes in the NIC range (`nic`) or the device
 * range: on q35 a PCI Express device takes the lowest-slot empty
 * pcie-root-port of the range or, with `allow_new_port`, a new one at the
 * range's lowest free slot (`*port`, for the caller to add); anything else
 * takes the range's lowest free slot on the root bus. `*root_slot` is the
 * root-bus slot it ends up behind. */
static gboolean
place_new (Scan *s, gboolean nic, gboolean pcie, gboolean allow_new_port,
           guint *bus, guint *slot, xmlNodePtr *port, int *root_slot, GError **error)
{
  const VkSlotRange *r = nic ? &s->policy.nic : &s->policy.dev;
  const char *key = nic ? "nic-slots" : "device-slots";
  const char *what = nic ? _("NIC") : _("device");
  Placer pl = { 0 };
  gboolean ok = TRUE;

  *port = NULL;
  *root_slot = -1;
  if (!placer_init (&pl, s, error))
    {
      placer_clear (&pl);
      return FALSE;
    }
  if (s->machine == VK_MACHINE_Q35 && pcie)
    {
      Dev *empty = find_empty_port (&pl, r);
      if (empty != NULL)
        {
          *bus = empty->ctrl_index;
          *slot = 0;
          *root_slot = empty->slot;
        }
      else if (allow_new_port)
        {
          guint rs;
          ok = vk_slot_allocator_next (pl.alloc, r, what, key, &rs, error);
          if (ok)
            {
              *port = new_root_port (s, rs);
              g_autofree char *idx = vk_xml_prop (*port, "index");
              *bus = (guint) g_ascii_strtoull (idx, NULL, 10);
              *slot = 0;
              *root_slot = rs;
            }
        }
      else
        {
          g_autofree char *name = vk_domain_name (s->doc);
          if (nic)
            g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                         _("%s has no spare NIC root port left in the NIC range "
                           "0x%02x-0x%02x (q35 cannot hot-plug a NIC on its root bus): "
                           "add the NIC with --config and restart the VM, or raise "
                           "spare-nic-ports in vmkeep.conf for new VMs"),
                         name ? name : "the domain", r->first, r->last);
          else
            g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                         _("%s has no empty pcie-root-port left in the device range "
                           "0x%02x-0x%02x (q35 cannot hot-plug a device on its root "
                           "bus): attach the device with --config and restart the VM, "
                           "or raise spare-device-ports in vmkeep.conf for new VMs"),
                         name ? name : "the domain", r->first, r->last);
          ok = FALSE;
        }
    }
  else
    {
      ok = vk_slot_allocator_next (pl.alloc, r, what, key, slot, error);
      *bus = 0;
      if (ok)
        *root_slot = *slot;
    }
  placer_clear (&pl);
  return ok;
}

gboolean
vk_place_new_nic (xmlDocPtr doc, const VkLayoutPolicy *policy,
                  gboolean allow_new_port, VkNicPlacement *out, GError **error)
{
  g_autoptr(Scan) s = NULL;
  memset (out, 0, sizeof *out);
  if (!scan_devices (doc, policy, &s, error))
    return FALSE;
  check_addresses (s, FALSE);

  g_autoptr(GHashTable) used_acpi = g_hash_table_new (NULL, NULL);
  for (guint i = 0; i < s->devs->len; i++)
    {
      Dev *d = s->devs->pdata[i];
      if (d->kind == K_NIC && d->acpi >= 1 && d->acpi <= 16383)
        g_hash_table_add (used_acpi, GINT_TO_POINTER (d->acpi));
    }
  int root_slot = -1;
  /* NICs on q35 always get a root port (the e1000/rtl8139 fallbacks too),
   * so every NIC can be unplugged. */
  gboolean ok = place_new (s, TRUE, TRUE, allow_new_port, &out->bus, &out->slot,
                           &out->port, &root_slot, error);
  out->acpi_index = acpi_for_slot (&s->policy, root_slot, used_acpi);
  return ok;
}

gboolean
vk_place_new_device (xmlDocPtr doc, const VkLayoutPolicy *policy,
                     gboolean pcie_capable, gboolean allow_new_port,
                     VkDevicePlacement *out, GError **error)
{
  g_autoptr(Scan) s = NULL;
  memset (out, 0, sizeof *out);
  if (!scan_devices (doc, policy, &s, error))
    return FALSE;
  check_addresses (s, FALSE);
  int root_slot = -1;
  gboolean ok = place_new (s, FALSE, pcie_capable, allow_new_port, &out->bus,
                           &out->slot, &out->port, &root_slot, error);
  out->root_slot = root_slot >= 0 ? (guint) root_slot : 0;
  return ok;
}
