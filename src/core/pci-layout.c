#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "pci-layout.h"
#include "vk-error.h"

#define VK_SLOTS 32
#define VK_FUNCTIONS 8

const char *
vk_machine_to_string (VkMachine m)
{
  return m == VK_MACHINE_Q35 ? "q35" : "pc";
}

gboolean
vk_machine_from_string (const char *text, VkMachine *out, GError **error)
{
  /* libvirt expands "pc"/"q35" to versioned names ("pc-i440fx-7.2",
   * "pc-q35-7.2"); plain "pc-1.0" style names are i440fx too. */
  if (text == NULL || *text == '\0' || g_str_equal (text, "pc") ||
      g_str_has_prefix (text, "pc-i440fx") ||
      (g_str_has_prefix (text, "pc-") && strstr (text, "q35") == NULL))
    {
      *out = VK_MACHINE_PC;
      return TRUE;
    }
  if (g_str_equal (text, "q35") || g_str_has_prefix (text, "pc-q35"))
    {
      *out = VK_MACHINE_Q35;
      return TRUE;
    }
  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("unsupported machine type '%s': vmkeep lays out 'pc' (i440fx) "
                 "and 'q35' machines only"), text);
  return FALSE;
}

void
vk_layout_policy_init_defaults (VkLayoutPolicy *p)
{
  p->nic.first = 0x03;
  p->nic.last = 0x0f;
  p->dev.first = 0x10;
  p->dev.last = 0x1f;
  p->spare_nic_ports = 4;
  p->spare_dev_ports = 2;
}

gboolean
vk_layout_policy_validate (const VkLayoutPolicy *p, GError **error)
{
  const struct { const char *key; const VkSlotRange *r; } ranges[] = {
    { "nic-slots", &p->nic }, { "device-slots", &p->dev },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (ranges); i++)
    {
      const VkSlotRange *r = ranges[i].r;
      if (r->first < 1 || r->last > 0x1f || r->first > r->last)
        return vk_fail (error, VK_ERROR_USAGE,
                        _("slot range %s = 0x%02x-0x%02x is invalid: slots go "
                          "from 0x01 to 0x1f and the first must not exceed the last"),
                        ranges[i].key, r->first, r->last);
    }
  if (p->nic.first <= p->dev.last && p->dev.first <= p->nic.last)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("slot ranges overlap: nic-slots = 0x%02x-0x%02x and "
                      "device-slots = 0x%02x-0x%02x must be disjoint"),
                    p->nic.first, p->nic.last, p->dev.first, p->dev.last);
  if (p->spare_nic_ports > 0x1f || p->spare_dev_ports > 0x1f)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("spare-nic-ports = %u / spare-device-ports = %u: at most 31 "
                      "spare ports fit on the root bus"),
                    p->spare_nic_ports, p->spare_dev_ports);
  return TRUE;
}

gboolean
vk_slot_in_range (const VkSlotRange *r, guint slot)
{
  return slot >= r->first && slot <= r->last;
}

gboolean
vk_slot_is_chipset (VkMachine m, guint slot)
{
  if (slot == 0)
    return TRUE;             /* host bridge */
  if (m == VK_MACHINE_PC)
    return slot == 0x01;     /* PIIX3: ISA, IDE, USB, ACPI */
  return slot == 0x1f;       /* ICH9: LPC, SATA, SMBus */
}

struct _VkSlotAllocator {
  VkMachine machine;
  char *owner[VK_SLOTS][VK_FUNCTIONS];
};

VkSlotAllocator *
vk_slot_allocator_new (VkMachine machine)
{
  VkSlotAllocator *a = g_new0 (VkSlotAllocator, 1);
  a->machine = machine;
  return a;
}

void
vk_slot_allocator_free (VkSlotAllocator *a)
{
  if (a == NULL)
    return;
  for (guint s = 0; s < VK_SLOTS; s++)
    for (guint f = 0; f < VK_FUNCTIONS; f++)
      g_free (a->owner[s][f]);
  g_free (a);
}

gboolean
vk_slot_allocator_reserve (VkSlotAllocator *a, guint slot, guint function,
                           const char *owner, GError **error)
{
  if (slot >= VK_SLOTS || function >= VK_FUNCTIONS)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s: PCI address slot 0x%02x function %u is out of range "
                      "(slot 0x00-0x1f, function 0-7)"), owner, slot, function);
  if (a->owner[slot][function] != NULL)
    return vk_fail (error, VK_ERROR_FAILED,
                    _("%s and %s are both on slot 0x%02x function %u of the "
                      "root bus; give one of them another address"),
                    a->owner[slot][function], owner, slot, function);
  a->owner[slot][function] = g_strdup (owner);
  return TRUE;
}

void
vk_slot_allocator_release (VkSlotAllocator *a, guint slot, guint function)
{
  if (slot >= VK_SLOTS || function >= VK_FUNCTIONS)
    return;
  g_clear_pointer (&a->owner[slot][function], g_free);
}

gboolean
vk_slot_allocator_is_free (VkSlotAllocator *a, guint slot, guint function)
{
  if (slot >= VK_SLOTS || function >= VK_FUNCTIONS)
    return FALSE;
  return a->owner[slot][function] == NULL;
}

const char *
vk_slot_allocator_owner (VkSlotAllocator *a, guint slot, guint function)
{
  if (slot >= VK_SLOTS || function >= VK_FUNCTIONS)
    return NULL;
  return a->owner[slot][function];
}

static gboolean
slot_all_free (VkSlotAllocator *a, guint slot)
{
  for (guint f = 0; f < VK_FUNCTIONS; f++)
    if (a->owner[slot][f] != NULL)
      return FALSE;
  return TRUE;
}

gboolean
vk_slot_allocator_next (VkSlotAllocator *a, const VkSlotRange *r,
                        const char *what, const char *config_key,
                        guint *slot, GError **error)
{
  for (guint s = r->first; s <= r->last && s < VK_SLOTS; s++)
    {
      if (vk_slot_is_chipset (a->machine, s))
        continue;
      if (slot_all_free (a, s))
        {
          *slot = s;
          return TRUE;
        }
    }
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
               _("no free slot left for the %s in the %s range 0x%02x-0x%02x "
                 "(%u slots, all used); remove a device or widen '%s' in "
                 "vmkeep.conf"),
               what, config_key, r->first, r->last, r->last - r->first + 1,
               config_key);
  return FALSE;
}

guint
vk_slot_allocator_count_free (VkSlotAllocator *a, const VkSlotRange *r)
{
  guint n = 0;
  for (guint s = r->first; s <= r->last && s < VK_SLOTS; s++)
    if (!vk_slot_is_chipset (a->machine, s) && slot_all_free (a, s))
      n++;
  return n;
}
