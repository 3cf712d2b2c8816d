/* vmkeep — the PCI slot policy and its allocator (pure).
 *
 * Policy (DESIGN.md): NICs own a low slot range on the root bus (default
 * 0x03-0x0f), everything else lives in the device range (0x10-0x1f).
 * Chipset-fixed slots (slot 0; pc: slot 1 PIIX3; q35: slot 0x1f ICH9) are
 * never handed out. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VK_MACHINE_PC,
  VK_MACHINE_Q35,
} VkMachine;

const char *vk_machine_to_string (VkMachine m);
/* "pc", "q35", "pc-i440fx-7.2", "pc-q35-7.2", "pc-1.0" ... */
gboolean vk_machine_from_string (const char *text, VkMachine *out,
                                 GError **error);

typedef struct {
  guint first;
  guint last;
} VkSlotRange;

typedef struct {
  VkSlotRange nic;          /* config key nic-slots */
  VkSlotRange dev;          /* config key device-slots */
  guint spare_nic_ports;    /* q35: empty NIC root ports created up front */
  guint spare_dev_ports;    /* q35: empty device root ports for hot-attach */
} VkLayoutPolicy;

void vk_layout_policy_init_defaults (VkLayoutPolicy *p);
/* Ranges inside 1..0x1f, first <= last, NIC and device ranges disjoint. */
gboolean vk_layout_policy_validate (const VkLayoutPolicy *p, GError **error);

gboolean vk_slot_in_range (const VkSlotRange *r, guint slot);
/* Slot reserved by the chipset on this machine (never allocated). */
gboolean vk_slot_is_chipset (VkMachine m, guint slot);

/* Tracks the 32 slots x 8 functions of the root bus. */
typedef struct _VkSlotAllocator VkSlotAllocator;

VkSlotAllocator *vk_slot_allocator_new (VkMachine machine);
void vk_slot_allocator_free (VkSlotAllocator *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkSlotAllocator, vk_slot_allocator_free)

/* Mark slot.function used by `owner` (a description used in messages).
 * Fails if it is already used, naming both owners. */
gboolean vk_slot_allocator_reserve (VkSlotAllocator *a, guint slot,
                                    guint function, const char *owner,
                                    GError **error);
void vk_slot_allocator_release (VkSlotAllocator *a, guint slot, guint function);
gboolean vk_slot_allocator_is_free (VkSlotAllocator *a, guint slot,
                                    guint function);
/* Who holds slot.function, or NULL. */
const char *vk_slot_allocator_owner (VkSlotAllocator *a, guint slot,
                                     guint function);
/* Lowest slot in `r` with every function free and not chipset-fixed.
 * On exhaustion fails (VK_ERROR_FAILED) with a message naming the range,
 * `what` (e.g. "NIC") and the config key that sizes the range. */
gboolean vk_slot_allocator_next (VkSlotAllocator *a, const VkSlotRange *r,
                                 const char *what, const char *config_key,
                                 guint *slot, GError **error);
/* Number of slots in `r` that next() could still hand out. */
guint vk_slot_allocator_count_free (VkSlotAllocator *a, const VkSlotRange *r);

G_END_DECLS
