/* vmkeep — which Ethernet frames wake a hibernated VM. See wakeframe.h. */
#include "config.h"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <string.h>

#include "validate.h"
#include "vk-error.h"
#include "wakeframe.h"

#define WF_ETH_ALEN 6
#define WF_ETH_HLEN 14
#define WF_VLAN_HLEN 4
#define WF_ETHERTYPE_IPV4 0x0800
#define WF_ETHERTYPE_ARP 0x0806
#define WF_ETHERTYPE_VLAN 0x8100
#define WF_ETHERTYPE_IPV6 0x86DD

#define WF_ARP_LEN 28            /* Ethernet/IPv4 ARP: 8 bytes + 2 * (6 + 4) */
#define WF_ARP_HTYPE_ETHERNET 1
#define WF_ARP_OP_REQUEST 1

#define WF_IPV4_HLEN_MIN 20
#define WF_IPV6_HLEN 40
#define WF_IPV6_NH_HOPOPTS 0
#define WF_IPV6_NH_ICMPV6 58
#define WF_ICMPV6_NS 135
#define WF_ICMPV6_NS_LEN 24      /* type, code, checksum, reserved, target */

/* The watched entries, one sorted array per kind of key: a few hundred
 * entries at most, so a binary search over contiguous memory is as fast
 * as a hash table here, and looking up needs neither hashing nor a key
 * built in memory. One entry: a MAC (its six octets, big-endian, in the
 * low 48 bits) or an IPv4 address (its four octets, big-endian), and
 * whom it wakes. */
typedef struct {
  guint64 key;
  guint owner;
} WakeKey;

typedef struct {
  guint8 addr[16];
  guint owner;
} WakeIp6;

struct _VkWakeSet {
  GArray *macs;  /* WakeKey, by key */
  GArray *ip4;   /* WakeKey, by key */
  GArray *ip6;   /* WakeIp6, by memcmp of addr */
};

VkWakeSet *
vk_wake_set_new (void)
{
  VkWakeSet *s = g_new0 (VkWakeSet, 1);

  s->macs = g_array_new (FALSE, FALSE, sizeof (WakeKey));
  s->ip4 = g_array_new (FALSE, FALSE, sizeof (WakeKey));
  s->ip6 = g_array_new (FALSE, FALSE, sizeof (WakeIp6));
  return s;
}

void
vk_wake_set_free (VkWakeSet *s)
{
  if (s == NULL)
    return;
  g_array_unref (s->macs);
  g_array_unref (s->ip4);
  g_array_unref (s->ip6);
  g_free (s);
}

guint
vk_wake_set_size (const VkWakeSet *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->macs->len + s->ip4->len + s->ip6->len;
}


/* ------------------------------------------------------------- lookup */

static inline guint64
mac_key (const guint8 *m)
{
  return ((guint64) m[0] << 40) | ((guint64) m[1] << 32) | ((guint64) m[2] << 24) |
         ((guint64) m[3] << 16) | ((guint64) m[4] << 8) | (guint64) m[5];
}

static inline guint32
ip4_key (const guint8 *a)
{
  return ((guint32) a[0] << 24) | ((guint32) a[1] << 16) | ((guint32) a[2] << 8) |
         (guint32) a[3];
}

/* Each search returns the index of the first entry not less than the key
 * (the insertion point); *found says whether that entry is the key. */
static guint
key_search (const GArray *a, guint64 key, gboolean *found)
{
  const WakeKey *e = (const WakeKey *) (const void *) a->data;
  guint lo = 0, hi = a->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (e[mid].key < key)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = lo < a->len && e[lo].key == key;
  return lo;
}

static guint
ip6_search (const GArray *a, const guint8 *addr, gboolean *found)
{
  const WakeIp6 *e = (const WakeIp6 *) (const void *) a->data;
  guint lo = 0, hi = a->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (memcmp (e[mid].addr, addr, 16) < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = lo < a->len && memcmp (e[lo].addr, addr, 16) == 0;
  return lo;
}

static gboolean
find_mac (const VkWakeSet *s, const guint8 *m, guint *owner)
{
  gboolean found;
  guint i;

  /* A group address (I/G bit set) is never watched: no search for the
   * broadcast and multicast frames that make up most of what a bridge
   * floods to every port. */
  if ((m[0] & 0x01) != 0 || s->macs->len == 0)
    return FALSE;
  i = key_search (s->macs, mac_key (m), &found);
  if (found)
    *owner = g_array_index (s->macs, WakeKey, i).owner;
  return found;
}

static gboolean
find_ip4 (const VkWakeSet *s, const guint8 *a, guint *owner)
{
  gboolean found;
  guint i;

  if (s->ip4->len == 0)
    return FALSE;
  i = key_search (s->ip4, ip4_key (a), &found);
  if (found)
    *owner = g_array_index (s->ip4, WakeKey, i).owner;
  return found;
}

static gboolean
find_ip6 (const VkWakeSet *s, const guint8 *a, guint *owner)
{
  gboolean found;
  guint i;

  if (s->ip6->len == 0)
    return FALSE;
  i = ip6_search (s->ip6, a, &found);
  if (found)
    *owner = g_array_index (s->ip6, WakeIp6, i).owner;
  return found;
}

/* ------------------------------------------------------------- adding */

gboolean
vk_wake_set_add_mac (VkWakeSet *s, const char *mac, guint owner, GError **error)
{
  guint8 m[WF_ETH_ALEN];
  WakeKey e;
  gboolean found;
  guint i;

  g_return_val_if_fail (s != NULL, FALSE);

  /* vk_mac_parse refuses group and all-zero addresses: neither is a NIC's. */
  if (!vk_mac_parse (mac, m, error))
    return FALSE;
  e.key = mac_key (m);
  e.owner = owner;
  i = key_search (s->macs, e.key, &found);
  if (found)
    {
      g_autofree char *shown = NULL;

      if (g_array_index (s->macs, WakeKey, i).owner == owner)
        return TRUE;
      shown = vk_mac_format (m);
      return vk_fail (error, VK_ERROR_USAGE,
                      _("MAC address %s belongs to two of the VMs to watch, and a frame "
                        "for it could wake either; give each VM a MAC address of its own"),
                      shown);
    }
  g_array_insert_val (s->macs, i, e);
  return TRUE;
}

static gboolean
ip_taken (GError **error, const char *shown)
{
  return vk_fail (error, VK_ERROR_USAGE,
                  _("IP address %s belongs to two of the VMs to watch, and a request for "
                    "it could wake either; give each VM an address of its own"),
                  shown);
}

gboolean
vk_wake_set_add_ip (VkWakeSet *s, const char *ip, guint owner, GError **error)
{
  g_autoptr(GInetAddress) addr = NULL;
  g_autofree char *shown = NULL;
  const guint8 *bytes;
  gboolean found;
  guint i;

  g_return_val_if_fail (s != NULL, FALSE);

  /* GLib's parser is inet_pton's: one address in its plain form, nothing
   * around it. Newer GLib also reads an IPv6 zone ("fe80::1%br0"), which
   * a frame never carries: refused whatever the GLib. */
  if (ip != NULL && strchr (ip, '%') == NULL)
    addr = g_inet_address_new_from_string (ip);
  if (addr == NULL)
    {
      g_autofree char *q = vk_str_quote (ip);
      return vk_fail (error, VK_ERROR_USAGE,
                      _("%s is not an IP address; give one IPv4 or IPv6 address, e.g. "
                        "192.0.2.10 or 2001:db8::10, without a prefix length or zone"),
                      q);
    }
  shown = g_inet_address_to_string (addr);
  bytes = g_inet_address_to_bytes (addr);

  /* No VM owns these, and watching them would only wake VMs for frames
   * that are not for them: DAD and ARP probes ask about the unspecified
   * address, multicast and broadcast addresses belong to a group. */
  if (g_inet_address_get_is_any (addr))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("IP address %s is the unspecified address, which no VM owns; "
                      "give the VM's own address"),
                    shown);
  if (g_inet_address_get_is_multicast (addr))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("IP address %s is a multicast address; give the VM's own unicast "
                      "address"),
                    shown);

  if (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV4)
    {
      WakeKey e;

      if (ip4_key (bytes) == 0xffffffffu)
        return vk_fail (error, VK_ERROR_USAGE,
                        _("IP address %s is the broadcast address; give the VM's own "
                          "unicast address"),
                        shown);
      e.key = ip4_key (bytes);
      e.owner = owner;
      i = key_search (s->ip4, e.key, &found);
      if (found)
        return g_array_index (s->ip4, WakeKey, i).owner == owner ? TRUE
                                                                 : ip_taken (error, shown);
      g_array_insert_val (s->ip4, i, e);
    }
  else
    {
      static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
      WakeIp6 e;

      /* ::ffff:a.b.c.d stands for an IPv4 address inside IPv6 sockets; on
       * the wire it is asked for by ARP, as a.b.c.d, never by an NS. */
      if (memcmp (bytes, mapped, sizeof mapped) == 0)
        return vk_fail (error, VK_ERROR_USAGE,
                        _("IP address %s is an IPv4-mapped IPv6 address, which no "
                          "neighbour solicitation asks for; give the IPv4 address "
                          "%u.%u.%u.%u instead"),
                        shown, bytes[12], bytes[13], bytes[14], bytes[15]);
      memcpy (e.addr, bytes, 16);
      e.owner = owner;
      i = ip6_search (s->ip6, e.addr, &found);
      if (found)
        return g_array_index (s->ip6, WakeIp6, i).owner == owner ? TRUE
                                                                 : ip_taken (error, shown);
      g_array_insert_val (s->ip6, i, e);
    }
  return TRUE;
}

/* ------------------------------------------------------------- frames */

static inline guint16
rd16 (const guint8 *p)
{
  return (guint16) (((guint) p[0] << 8) | p[1]);
}

static void
format_mac (char out[VK_WAKE_MAC_LEN], const guint8 *m)
{
  static const char hex[] = "0123456789abcdef";

  for (int i = 0; i < WF_ETH_ALEN; i++)
    {
      out[i * 3] = hex[m[i] >> 4];
      out[i * 3 + 1] = hex[m[i] & 0xf];
      out[i * 3 + 2] = i < WF_ETH_ALEN - 1 ? ':' : '\0';
    }
}

/* inet_ntop writes into the caller's buffer: nothing is allocated. Both
 * fields are INET6_ADDRSTRLEN long, so it cannot fail. */
static void
format_ip (char out[VK_WAKE_ADDR_LEN], int family, const guint8 *a)
{
  G_STATIC_ASSERT (VK_WAKE_ADDR_LEN >= INET6_ADDRSTRLEN);
  if (inet_ntop (family, a, out, VK_WAKE_ADDR_LEN) == NULL)
    out[0] = '\0';
}

static gboolean
matched (VkWakeMatch *out, VkWakeKind kind, guint owner, const guint8 *src_mac)
{
  if (out != NULL)
    {
      out->kind = kind;
      out->owner = owner;
      format_mac (out->src_mac, src_mac);
    }
  return TRUE;
}

/* An ARP request for a watched IPv4 address. `arp` has `avail` bytes, up
 * to the end of the frame (which may hold Ethernet padding after it). */
static gboolean
match_arp (const VkWakeSet *s, const guint8 *frame, const guint8 *arp, gsize avail,
           VkWakeMatch *out)
{
  const guint8 *spa = arp + 14, *tpa = arp + 24;
  guint owner;

  if (avail < WF_ARP_LEN)
    return FALSE;
  if (rd16 (arp) != WF_ARP_HTYPE_ETHERNET || rd16 (arp + 2) != WF_ETHERTYPE_IPV4 ||
      arp[4] != WF_ETH_ALEN || arp[5] != 4 || rd16 (arp + 6) != WF_ARP_OP_REQUEST)
    return FALSE;
  /* An ARP probe (RFC 5227): a host about to take the address asks, from
   * 0.0.0.0, whether anyone has it. The hibernated VM does have it, but
   * waking it to defend the address would not stop the conflict (the VM
   * only answers once it runs) and would wake it for every DHCP client's
   * check on the bridge; the conflict is the administrator's to solve. */
  if (ip4_key (spa) == 0)
    return FALSE;
  /* A gratuitous ARP: a host announcing its own address (after boot,
   * failover, a MAC change) to refresh the neighbours' caches. Nobody
   * waits for an answer; if the address is a watched VM's, it is a
   * conflict, not a request for the VM. */
  if (memcmp (spa, tpa, 4) == 0)
    return FALSE;
  if (!find_ip4 (s, tpa, &owner))
    return FALSE;
  if (out != NULL)
    {
      format_ip (out->src_addr, AF_INET, spa);
      format_ip (out->target, AF_INET, tpa);
    }
  return matched (out, VK_WAKE_ARP, owner, frame + WF_ETH_ALEN);
}

/* A neighbour solicitation for a watched IPv6 address. */
static gboolean
match_ns (const VkWakeSet *s, const guint8 *frame, const guint8 *ip, gsize avail,
          VkWakeMatch *out)
{
  static const guint8 unspecified[16] = { 0 };
  const guint8 *p;
  gsize rest;
  guint8 nh;
  guint owner;

  if (avail < WF_IPV6_HLEN || (ip[0] >> 4) != 6)
    return FALSE;
  /* The payload is what the IPv6 header says (what follows may be
   * Ethernet padding). A frame shorter than that is a truncated packet,
   * which the kernel would drop (ipv6_rcv), and so does this. */
  rest = rd16 (ip + 4);
  if (rest > avail - WF_IPV6_HLEN)
    return FALSE;
  nh = ip[6];
  p = ip + WF_IPV6_HLEN;
  /* One hop-by-hop options header at most (it can only come first); its
   * length is in 8-octet units beyond the first 8. */
  if (nh == WF_IPV6_NH_HOPOPTS)
    {
      gsize ext;

      if (rest < 8)
        return FALSE;
      ext = ((gsize) p[1] + 1) * 8;
      if (rest < ext)
        return FALSE;
      nh = p[0];
      p += ext;
      rest -= ext;
    }
  if (nh != WF_IPV6_NH_ICMPV6 || rest < WF_ICMPV6_NS_LEN || p[0] != WF_ICMPV6_NS || p[1] != 0)
    return FALSE;
  /* RFC 4861 7.1.1: a receiver drops an NS whose hop limit is not 255 (it
   * crossed a router, so it is not from this link); the VM would too. */
  if (ip[7] != 255)
    return FALSE;
  /* Duplicate address detection (RFC 4862 5.4): a host about to use the
   * address asks from ::; as with an ARP probe, waking the VM would not
   * resolve the conflict, and every address configured on the bridge
   * would wake whoever had it. */
  if (memcmp (ip + 8, unspecified, 16) == 0)
    return FALSE;
  if (!find_ip6 (s, p + 8, &owner))
    return FALSE;
  if (out != NULL)
    {
      format_ip (out->src_addr, AF_INET6, ip + 8);
      format_ip (out->target, AF_INET6, p + 8);
    }
  return matched (out, VK_WAKE_NS, owner, frame + WF_ETH_ALEN);
}

gboolean
vk_wake_frame_match (const VkWakeSet *s, const guint8 *frame, gsize len, VkWakeMatch *out)
{
  const guint8 *payload;
  gsize avail;
  guint16 type;
  guint owner;

  if (out != NULL)
    {
      out->kind = VK_WAKE_NONE;
      out->owner = 0;
      out->src_mac[0] = '\0';
      out->src_addr[0] = '\0';
      out->target[0] = '\0';
    }
  g_return_val_if_fail (s != NULL, FALSE);

  /* A frame shorter than its Ethernet header (18 bytes with a tag) is not
   * a frame, even when its first 6 bytes name a watched MAC. */
  if (frame == NULL || len < WF_ETH_HLEN)
    return FALSE;
  type = rd16 (frame + 12);
  payload = frame + WF_ETH_HLEN;
  if (type == WF_ETHERTYPE_VLAN)
    {
      if (len < WF_ETH_HLEN + WF_VLAN_HLEN)
        return FALSE;
      type = rd16 (frame + 16);
      payload += WF_VLAN_HLEN;
    }
  avail = len - (gsize) (payload - frame);

  if (type == WF_ETHERTYPE_ARP && match_arp (s, frame, payload, avail, out))
    return TRUE;
  if (type == WF_ETHERTYPE_IPV6 && match_ns (s, frame, payload, avail, out))
    return TRUE;

  /* Whatever else a frame for a watched MAC carries (TCP, UDP, an ARP
   * reply, a probe or gratuitous ARP sent to it alone), someone is talking
   * to that VM. */
  if (!find_mac (s, frame, &owner))
    return FALSE;
  if (out != NULL)
    {
      if (type == WF_ETHERTYPE_IPV4 && avail >= WF_IPV4_HLEN_MIN && (payload[0] >> 4) == 4)
        format_ip (out->src_addr, AF_INET, payload + 12);
      else if (type == WF_ETHERTYPE_IPV6 && avail >= WF_IPV6_HLEN && (payload[0] >> 4) == 6)
        format_ip (out->src_addr, AF_INET6, payload + 8);
      format_mac (out->target, frame);
    }
  return matched (out, VK_WAKE_UNICAST, owner, frame + WF_ETH_ALEN);
}

const char *
vk_wake_kind_name (VkWakeKind k)
{
  switch (k)
    {
    case VK_WAKE_UNICAST:
      return "unicast";
    case VK_WAKE_ARP:
      return "arp";
    case VK_WAKE_NS:
      return "ns";
    case VK_WAKE_NONE:
    default:
      return "none";
    }
}
