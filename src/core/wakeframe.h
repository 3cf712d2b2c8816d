/* vmkeep — which Ethernet frames wake a hibernated VM (DESIGN.md "Scale to
 * zero": `vmkeep watch` wakes an opted-in hibernated VM when a frame for its
 * MAC, an ARP request or a neighbour solicitation for its address shows up
 * on its bridge). Pure: no I/O, no libvirt.
 *
 * A VkWakeSet holds what wakes whom: unicast MACs and IPv4/IPv6 addresses,
 * each with the caller's index of the VM it belongs to (its "owner").
 * vk_wake_frame_match() then classifies one frame as an AF_PACKET socket on
 * the bridge receives it: starting at the Ethernet header, with at most one
 * 802.1Q tag (TPID 0x8100) after the source MAC. (Linux usually strips the
 * tag into PACKET_AUXDATA before an AF_PACKET socket sees it; a tagged frame
 * is read all the same.) The frame comes from the wire, so the classifier
 * reads nothing past `len`, allocates nothing and does a few comparisons
 * and at most a few binary searches per frame: it runs on every frame of
 * the bridge.
 *
 * A frame wakes a VM, checked in this order:
 *
 *   VK_WAKE_ARP      an ARP request (Ethernet/IPv4: htype 1, ptype 0x0800,
 *                    hlen 6, plen 4, oper 1) whose target protocol address
 *                    is a watched IPv4 address; except an ARP probe
 *                    (sender address 0.0.0.0) and a gratuitous ARP (sender
 *                    address == target address), which announce or check
 *                    an address rather than ask for its owner.
 *   VK_WAKE_NS       an ICMPv6 neighbour solicitation (IPv6, next header
 *                    58 directly or after one hop-by-hop header, type 135,
 *                    code 0, hop limit 255) whose target address is a
 *                    watched IPv6 address; except duplicate address
 *                    detection (IPv6 source ::).
 *   VK_WAKE_UNICAST  any other frame whose destination MAC is a watched
 *                    MAC, whatever it carries.
 *
 * ARP and NS come first so that a unicast ARP request or NS (a neighbour
 * cache refreshing an entry it already has) reports what it is, "arp" or
 * "ns", and the owner of the address asked for. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A formatted MAC, "52:54:00:aa:bb:cc", with its NUL. */
#define VK_WAKE_MAC_LEN 18
/* A formatted IPv6 address (INET6_ADDRSTRLEN), with its NUL. */
#define VK_WAKE_ADDR_LEN 46

typedef struct _VkWakeSet VkWakeSet;

VkWakeSet *vk_wake_set_new (void);
void vk_wake_set_free (VkWakeSet *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkWakeSet, vk_wake_set_free)

/* Watch the unicast MAC `mac` ("52:54:00:aa:bb:cc", as vk_mac_parse()
 * reads it) for the VM `owner`. VK_ERROR_USAGE for text that is not a
 * unicast MAC, and for a MAC already watched for another owner (two VMs
 * with one MAC on a bridge: which one would the frame be for?). Adding an
 * entry again for the same owner is no change. */
gboolean vk_wake_set_add_mac (VkWakeSet *s, const char *mac, guint owner, GError **error);
/* Watch the IPv4 or IPv6 address `ip` ("192.0.2.10", "2001:db8::10",
 * "fe80::5054:ff:feaa:bbcc"; no prefix length, no zone) for `owner`.
 * VK_ERROR_USAGE for text that is not one address, for an address no VM
 * can own (unspecified, multicast, 255.255.255.255), and for one already
 * watched for another owner. */
gboolean vk_wake_set_add_ip (VkWakeSet *s, const char *ip, guint owner, GError **error);
/* Entries watched: MACs, IPv4 and IPv6 addresses together. */
guint vk_wake_set_size (const VkWakeSet *s);

typedef enum {
  VK_WAKE_NONE,
  VK_WAKE_UNICAST,
  VK_WAKE_ARP,
  VK_WAKE_NS,
} VkWakeKind;

typedef struct {
  VkWakeKind kind;
  guint owner;
  /* The frame's Ethernet source MAC. */
  char src_mac[VK_WAKE_MAC_LEN];
  /* The sender's IP address: the ARP sender address, the IPv6 source of an
   * NS, or the source of an IPv4/IPv6 packet in a unicast frame; "" when
   * there is none (a unicast frame carrying something else, or too short
   * to hold it). */
  char src_addr[VK_WAKE_ADDR_LEN];
  /* ARP and NS: the address asked for; unicast: the destination MAC. */
  char target[VK_WAKE_ADDR_LEN];
} VkWakeMatch;

/* TRUE, with `out` (may be NULL) filled, when `frame` wakes out->owner.
 * FALSE for every other frame, however short or malformed; `out` then has
 * kind VK_WAKE_NONE and empty strings. Never allocates. */
gboolean vk_wake_frame_match (const VkWakeSet *s, const guint8 *frame, gsize len,
                              VkWakeMatch *out);

/* "unicast", "arp", "ns"; "none" for VK_WAKE_NONE. */
const char *vk_wake_kind_name (VkWakeKind k);

G_END_DECLS
