/* Unit tests for src/core/wakeframe.c: which frames on a bridge wake a
 * hibernated VM. Every frame is built here byte by byte, as it is on the
 * wire; each one handed to the classifier sits in a buffer of exactly its
 * length, so a read past the end is a heap overflow (ASan, valgrind). */
#include "config.h"

#include <string.h>

#include "vk-error.h"
#include "wakeframe.h"

/* Owner 0 and 1 are VMs with a MAC, an IPv4 and an IPv6 address; owner 7
 * has an IPv4 address only (a VM on another bridge's port, say). */
#define MAC0 "52:54:00:00:00:01"
#define MAC1 "52:54:00:00:00:02"
#define IP0 "192.0.2.10"
#define IP1 "192.0.2.11"
#define IP7 "198.51.100.7"
#define IP6_0 "2001:db8::10"
#define IP6_1 "fe80::5054:ff:fe00:2"

static const guint8 mac0[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
static const guint8 mac1[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x02 };
static const guint8 peer[6] = { 0x52, 0x54, 0x00, 0x99, 0x88, 0x77 };
static const guint8 other[6] = { 0x52, 0x54, 0x00, 0x55, 0x55, 0x55 };
static const guint8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const guint8 zero6[6] = { 0 };

static const guint8 ip0[4] = { 192, 0, 2, 10 };
static const guint8 ip1[4] = { 192, 0, 2, 11 };
static const guint8 ip7[4] = { 198, 51, 100, 7 };
static const guint8 ip_peer[4] = { 192, 0, 2, 1 };
static const guint8 ip_other[4] = { 192, 0, 2, 99 };
static const guint8 ip_any[4] = { 0, 0, 0, 0 };

static const guint8 ip6_0[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10 };
static const guint8 ip6_1[16] = { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x50, 0x54, 0, 0xff, 0xfe, 0, 0, 0x02 };
static const guint8 ip6_peer[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 };
static const guint8 ip6_other[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99 };
static const guint8 ip6_any[16] = { 0 };

static VkWakeSet *
make_set (void)
{
  g_autoptr(VkWakeSet) s = vk_wake_set_new ();
  GError *error = NULL;

  g_assert_true (vk_wake_set_add_mac (s, MAC0, 0, &error));
  g_assert_true (vk_wake_set_add_ip (s, IP0, 0, &error));
  g_assert_true (vk_wake_set_add_ip (s, IP6_0, 0, &error));
  g_assert_true (vk_wake_set_add_mac (s, MAC1, 1, &error));
  g_assert_true (vk_wake_set_add_ip (s, IP1, 1, &error));
  g_assert_true (vk_wake_set_add_ip (s, IP6_1, 1, &error));
  g_assert_true (vk_wake_set_add_ip (s, IP7, 7, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vk_wake_set_size (s), ==, 7);
  return g_steal_pointer (&s);
}

/* ---------------------------------------------------- building frames */

static void
put (GByteArray *f, const guint8 *bytes, guint n)
{
  g_byte_array_append (f, bytes, n);
}

static void
put8 (GByteArray *f, guint8 v)
{
  g_byte_array_append (f, &v, 1);
}

static void
put16 (GByteArray *f, guint v)
{
  guint8 b[2] = { (guint8) (v >> 8), (guint8) v };
  g_byte_array_append (f, b, 2);
}

/* Destination, source, an 802.1Q tag (VLAN 42) when `vlan`, ethertype. */
static GByteArray *
eth (const guint8 *dst, const guint8 *src, gboolean vlan, guint type)
{
  GByteArray *f = g_byte_array_new ();

  put (f, dst, 6);
  put (f, src, 6);
  if (vlan)
    {
      put16 (f, 0x8100);
      put16 (f, 42);
    }
  put16 (f, type);
  return f;
}

/* Ethernet/IPv4 ARP (RFC 826) as Linux sends it, after an Ethernet
 * header: hardware type, protocol type, lengths, operation, sender MAC and
 * IPv4, target MAC and IPv4. */
static GByteArray *
arp (const guint8 *dst, const guint8 *src, gboolean vlan, guint op, const guint8 *spa,
     const guint8 *tha, const guint8 *tpa)
{
  GByteArray *f = eth (dst, src, vlan, 0x0806);

  put16 (f, 1);
  put16 (f, 0x0800);
  put8 (f, 6);
  put8 (f, 4);
  put16 (f, op);
  put (f, src, 6);
  put (f, spa, 4);
  put (f, tha, 6);
  put (f, tpa, 4);
  return f;
}

static GByteArray *
arp_request (const guint8 *spa, const guint8 *tpa)
{
  return arp (bcast, peer, FALSE, 1, spa, zero6, tpa);
}

/* The IPv6 solicited-node multicast MAC for `target`. */
static void
solicited_mac (guint8 out[6], const guint8 *target)
{
  out[0] = 0x33;
  out[1] = 0x33;
  out[2] = 0xff;
  memcpy (out + 3, target + 13, 3);
}

/* A neighbour solicitation (RFC 4861 4.3) from `src` for `target`, to the
 * target's solicited-node address, with a source link-layer address
 * option unless `src` is :: (DAD has none). `hbh` puts a hop-by-hop
 * header of 8 bytes (PadN) before the ICMPv6 message. */
static GByteArray *
ns_full (const guint8 *src, const guint8 *target, guint hop_limit, gboolean hbh,
         gboolean vlan)
{
  gboolean dad = memcmp (src, ip6_any, 16) == 0;
  guint icmp_len = 24 + (dad ? 0 : 8);
  guint8 dmac[6];
  guint8 dst[16] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff };
  GByteArray *f;

  memcpy (dst + 13, target + 13, 3);
  solicited_mac (dmac, target);
  f = eth (dmac, peer, vlan, 0x86dd);
  put8 (f, 0x60);   /* version 6, traffic class 0 */
  put8 (f, 0);
  put16 (f, 0);     /* flow label */
  put16 (f, icmp_len + (hbh ? 8 : 0));
  put8 (f, hbh ? 0 : 58);
  put8 (f, hop_limit);
  put (f, src, 16);
  put (f, dst, 16);
  if (hbh)
    {
      static const guint8 padn[6] = { 1, 4, 0, 0, 0, 0 };

      put8 (f, 58);
      put8 (f, 0);
      put (f, padn, 6);
    }
  put8 (f, 135);
  put8 (f, 0);
  put16 (f, 0x1234);  /* checksum: not the classifier's business */
  put16 (f, 0);
  put16 (f, 0);
  put (f, target, 16);
  if (!dad)
    {
      put8 (f, 1);    /* source link-layer address, 1 * 8 bytes */
      put8 (f, 1);
      put (f, peer, 6);
    }
  return f;
}

static GByteArray *
ns (const guint8 *src, const guint8 *target)
{
  return ns_full (src, target, 255, FALSE, FALSE);
}

/* IPv4/UDP (port 53 to 5353), with `payload_len` bytes of data. */
static GByteArray *
udp4 (const guint8 *dst, const guint8 *saddr, const guint8 *daddr, guint payload_len)
{
  GByteArray *f = eth (dst, peer, FALSE, 0x0800);

  put8 (f, 0x45);
  put8 (f, 0);
  put16 (f, 20 + 8 + payload_len);
  put16 (f, 0x1c46);
  put16 (f, 0x4000);
  put8 (f, 64);
  put8 (f, 17);
  put16 (f, 0);
  put (f, saddr, 4);
  put (f, daddr, 4);
  put16 (f, 53);
  put16 (f, 5353);
  put16 (f, 8 + payload_len);
  put16 (f, 0);
  for (guint i = 0; i < payload_len; i++)
    put8 (f, (guint8) i);
  return f;
}

/* IPv6/TCP, a SYN without options. */
static GByteArray *
tcp6 (const guint8 *dst, const guint8 *saddr, const guint8 *daddr)
{
  GByteArray *f = eth (dst, peer, FALSE, 0x86dd);
  static const guint8 syn[20] = { 0xc3, 0x50, 0x00, 0x16, 0, 0, 0, 1, 0, 0, 0, 0,
                                  0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0 };

  put8 (f, 0x60);
  put8 (f, 0);
  put16 (f, 0);
  put16 (f, 20);
  put8 (f, 6);
  put8 (f, 64);
  put (f, saddr, 16);
  put (f, daddr, 16);
  put (f, syn, 20);
  return f;
}

/* The first `len` bytes of `f` in a buffer of exactly that size. */
static gboolean
match_n (const VkWakeSet *s, const GByteArray *f, gsize len, VkWakeMatch *m)
{
  g_autofree guint8 *copy = g_memdup2 (f->data, len);

  return vk_wake_frame_match (s, copy, len, m);
}

static gboolean
match (const VkWakeSet *s, const GByteArray *f, VkWakeMatch *m)
{
  return match_n (s, f, f->len, m);
}

static void
assert_none (const VkWakeSet *s, const GByteArray *f)
{
  VkWakeMatch m;

  memset (&m, 0x55, sizeof m);
  g_assert_false (match (s, f, &m));
  g_assert_cmpint (m.kind, ==, VK_WAKE_NONE);
  g_assert_cmpstr (m.src_mac, ==, "");
  g_assert_cmpstr (m.src_addr, ==, "");
  g_assert_cmpstr (m.target, ==, "");
  g_assert_false (match (s, f, NULL));
}

static void
assert_match (const VkWakeSet *s, const GByteArray *f, VkWakeKind kind, guint owner,
              const char *src_addr, const char *target)
{
  VkWakeMatch m;

  memset (&m, 0x55, sizeof m);
  g_assert_true (match (s, f, &m));
  g_assert_cmpstr (vk_wake_kind_name (m.kind), ==, vk_wake_kind_name (kind));
  g_assert_cmpuint (m.owner, ==, owner);
  g_assert_cmpstr (m.src_mac, ==, "52:54:00:99:88:77");
  g_assert_cmpstr (m.src_addr, ==, src_addr);
  g_assert_cmpstr (m.target, ==, target);
  g_assert_true (match (s, f, NULL));
}

/* ---------------------------------------------------------------- set */

static void
test_set_add (void)
{
  g_autoptr(VkWakeSet) s = vk_wake_set_new ();
  GError *error = NULL;

  g_assert_cmpuint (vk_wake_set_size (s), ==, 0);
  g_assert_true (vk_wake_set_add_mac (s, MAC0, 3, &error));
  g_assert_no_error (error);
  /* the same MAC again for the same VM, in any spelling: no change */
  g_assert_true (vk_wake_set_add_mac (s, "52:54:00:00:00:01", 3, &error));
  g_assert_true (vk_wake_set_add_mac (s, "52-54-00-00-00-01", 3, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vk_wake_set_size (s), ==, 1);
  /* ... for another VM: refused, and the first stays */
  g_assert_false (vk_wake_set_add_mac (s, "52:54:00:00:00:01", 4, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "52:54:00:00:00:01"));
  g_clear_error (&error);
  g_assert_true (vk_wake_set_add_mac (s, "52:54:00:AB:cd:EF", 4, &error));
  g_assert_cmpuint (vk_wake_set_size (s), ==, 2);

  g_assert_true (vk_wake_set_add_ip (s, IP0, 3, &error));
  g_assert_true (vk_wake_set_add_ip (s, "2001:DB8:0:0::10", 3, &error));
  g_assert_true (vk_wake_set_add_ip (s, IP6_0, 3, &error));
  g_assert_true (vk_wake_set_add_ip (s, IP0, 3, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (vk_wake_set_size (s), ==, 4);
  g_assert_false (vk_wake_set_add_ip (s, IP0, 5, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, IP0));
  g_clear_error (&error);
  g_assert_false (vk_wake_set_add_ip (s, "2001:db8:0::10", 5, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, IP6_0));
  g_clear_error (&error);
  g_assert_cmpuint (vk_wake_set_size (s), ==, 4);
}

static void
test_set_bad_mac (void)
{
  static const char *const bad[] = {
    "", "52:54:00:00:00", "52:54:00:00:00:01:02", "52:54:00:00:00:0g", "52:54:00-00:00:01",
    "525400000001", " 52:54:00:00:00:01", "52:54:00:00:00:01 ",
    "ff:ff:ff:ff:ff:ff",  /* broadcast */
    "01:00:5e:00:00:01",  /* IPv4 multicast */
    "33:33:00:00:00:01",  /* IPv6 multicast */
    "00:00:00:00:00:00",
    "192.0.2.10",
  };
  g_autoptr(VkWakeSet) s = vk_wake_set_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GError *error = NULL;

      g_autofree char *shown = g_strescape (bad[i], NULL);

      g_test_message ("MAC '%s'", shown);
      g_assert_false (vk_wake_set_add_mac (s, bad[i], 0, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_clear_error (&error);
    }
  {
    GError *error = NULL;
    g_assert_false (vk_wake_set_add_mac (s, NULL, 0, &error));
    g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
    g_clear_error (&error);
  }
  g_assert_cmpuint (vk_wake_set_size (s), ==, 0);
}

static void
test_set_bad_ip (void)
{
  static const char *const bad[] = {
    "", "192.0.2", "192.0.2.256", "192.0.2.10/24", "192.0.2.010", " 192.0.2.10",
    "192.0.2.10 ", "0x7f.0.0.1", "2001:db8::10/64", "2001:db8:::10", "fe80::1%br0",
    "fe80::1%2", "[2001:db8::10]", "host.example", MAC0, "192.0.2.10\n",
    "0.0.0.0", "::",                          /* unspecified: DAD and probes */
    "224.0.0.1", "239.255.255.250", "ff02::1", "ff02::1:ff00:10",  /* multicast */
    "255.255.255.255",
    "::ffff:192.0.2.10",                      /* IPv4-mapped */
    "\xff\xfe",                               /* not UTF-8, quoted all the same */
  };
  g_autoptr(VkWakeSet) s = vk_wake_set_new ();

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      GError *error = NULL;

      g_autofree char *shown = g_strescape (bad[i], NULL);

      g_test_message ("IP '%s'", shown);
      g_assert_false (vk_wake_set_add_ip (s, bad[i], 0, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_clear_error (&error);
    }
  {
    GError *error = NULL;
    g_assert_false (vk_wake_set_add_ip (s, NULL, 0, &error));
    g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
    g_clear_error (&error);
    /* what to do instead is in the message */
    g_assert_false (vk_wake_set_add_ip (s, "::ffff:192.0.2.10", 0, &error));
    g_assert_nonnull (strstr (error->message, "192.0.2.10 "));
    g_clear_error (&error);
  }
  g_assert_cmpuint (vk_wake_set_size (s), ==, 0);

  /* what a VM may well have: private, loopback-looking, link-local */
  g_assert_true (vk_wake_set_add_ip (s, "10.0.0.1", 0, NULL));
  g_assert_true (vk_wake_set_add_ip (s, "169.254.1.1", 0, NULL));
  g_assert_true (vk_wake_set_add_ip (s, "192.0.2.255", 0, NULL));
  g_assert_true (vk_wake_set_add_ip (s, "fe80::1", 0, NULL));
  g_assert_true (vk_wake_set_add_ip (s, "fd00::1", 0, NULL));
  g_assert_cmpuint (vk_wake_set_size (s), ==, 5);
}

/* Hundreds of entries, added in a scrambled order: every one is found for
 * its own owner, and nothing in between is. */
static void
test_set_many (void)
{
  g_autoptr(VkWakeSet) s = vk_wake_set_new ();
  const guint n = 300;

  for (guint k = 0; k < n; k++)
    {
      guint i = (k * 7919) % n;  /* 7919 is prime: a permutation of 0..n-1 */
      guint v = i * 2;
      g_autofree char *mac = g_strdup_printf ("52:54:00:00:%02x:%02x", v >> 8, v & 0xff);
      g_autofree char *ip4 = g_strdup_printf ("10.0.%u.%u", v >> 8, v & 0xff);
      g_autofree char *ip6 = g_strdup_printf ("2001:db8::%x", i * 2);
      GError *error = NULL;

      g_assert_true (vk_wake_set_add_mac (s, mac, 1000 + i, &error));
      g_assert_true (vk_wake_set_add_ip (s, ip4, 2000 + i, &error));
      g_assert_true (vk_wake_set_add_ip (s, ip6, 3000 + i, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (vk_wake_set_size (s), ==, 3 * n);

  for (guint i = 0; i < n; i++)
    for (guint odd = 0; odd < 2; odd++)
      {
        guint v = i * 2 + odd;
        guint8 dst[6] = { 0x52, 0x54, 0x00, 0x00, (guint8) (v >> 8), (guint8) v };
        guint8 tpa[4] = { 10, 0, (guint8) (v >> 8), (guint8) v };
        guint8 t6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
        g_autoptr(GByteArray) uni = udp4 (dst, ip_peer, ip_other, 4);
        g_autoptr(GByteArray) req = NULL;
        g_autoptr(GByteArray) sol = NULL;
        VkWakeMatch m;

        t6[14] = (guint8) (v >> 8);
        t6[15] = (guint8) v;
        req = arp_request (ip_peer, tpa);
        sol = ns (ip6_peer, t6);
        g_assert_cmpint (match (s, uni, &m), ==, !odd);
        g_assert_cmpuint (m.owner, ==, odd ? 0 : 1000 + i);
        g_assert_cmpint (match (s, req, &m), ==, !odd);
        g_assert_cmpuint (m.owner, ==, odd ? 0 : 2000 + i);
        g_assert_cmpint (match (s, sol, &m), ==, !odd);
        g_assert_cmpuint (m.owner, ==, odd ? 0 : 3000 + i);
      }
}

/* ---------------------------------------------------------------- ARP */

static void
test_arp_request (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) r0 = arp_request (ip_peer, ip0);
  g_autoptr(GByteArray) r1 = arp_request (ip_peer, ip1);
  g_autoptr(GByteArray) r7 = arp_request (ip_peer, ip7);
  g_autoptr(GByteArray) rother = arp_request (ip_peer, ip_other);
  g_autoptr(GByteArray) padded = arp_request (ip_peer, ip1);
  g_autoptr(VkWakeSet) none = vk_wake_set_new ();

  assert_match (s, r0, VK_WAKE_ARP, 0, "192.0.2.1", IP0);
  assert_match (s, r1, VK_WAKE_ARP, 1, "192.0.2.1", IP1);
  assert_match (s, r7, VK_WAKE_ARP, 7, "192.0.2.1", IP7);
  assert_none (s, rother);
  assert_none (none, r0);
  /* a 60-byte minimum frame: padding after the ARP message is ignored */
  g_byte_array_set_size (padded, 60);
  memset (padded->data + 42, 0, 18);
  assert_match (s, padded, VK_WAKE_ARP, 1, "192.0.2.1", IP1);
}

static void
test_arp_not_request (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  /* a reply from the watched address's owner to the asker, and one to
   * everyone: neither asks for the VM */
  g_autoptr(GByteArray) reply = arp (peer, other, FALSE, 2, ip0, peer, ip_peer);
  g_autoptr(GByteArray) reply_bcast = arp (bcast, other, FALSE, 2, ip_other, zero6, ip0);
  /* RARP and InARP operations */
  g_autoptr(GByteArray) rarp = arp (bcast, peer, FALSE, 3, ip_peer, zero6, ip0);
  g_autoptr(GByteArray) inarp = arp (bcast, peer, FALSE, 8, ip_peer, zero6, ip0);

  assert_none (s, reply);
  assert_none (s, reply_bcast);
  assert_none (s, rarp);
  assert_none (s, inarp);
}

/* An ARP probe asks from 0.0.0.0 whether an address is free, a gratuitous
 * ARP announces the sender's own address: neither is for the VM. */
static void
test_arp_probe_gratuitous (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) probe = arp_request (ip_any, ip0);
  g_autoptr(GByteArray) grat = arp_request (ip0, ip0);
  g_autoptr(GByteArray) grat_reply = arp (bcast, peer, FALSE, 2, ip1, bcast, ip1);
  g_autoptr(GByteArray) probe_vlan = arp (bcast, peer, TRUE, 1, ip_any, zero6, ip1);

  assert_none (s, probe);
  assert_none (s, grat);
  assert_none (s, grat_reply);
  assert_none (s, probe_vlan);
}

/* Each field of the Ethernet/IPv4 form, changed: not that form. */
static void
test_arp_malformed (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  static const struct {
    guint offset;
    guint8 value;
  } edits[] = {
    { 14, 0x01 },                /* htype 0x0101 */
    { 15, 0x06 },                /* htype 6 (IEEE 802) */
    { 16, 0x86 },                /* ptype 0x86dd */
    { 17, 0x01 },
    { 18, 8 },                   /* hlen */
    { 19, 16 },                  /* plen */
    { 20, 1 },                   /* op 0x0101 */
    { 21, 0 },                   /* op 0 */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      g_autoptr(GByteArray) f = arp_request (ip_peer, ip0);

      f->data[edits[i].offset] = edits[i].value;
      assert_none (s, f);
    }
}

static void
test_arp_vlan (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) tagged = arp (bcast, peer, TRUE, 1, ip_peer, zero6, ip0);
  g_autoptr(GByteArray) other_tpid = arp (bcast, peer, TRUE, 1, ip_peer, zero6, ip0);
  g_autoptr(GByteArray) qinq = NULL;

  g_assert_cmpuint (tagged->len, ==, 18 + 28);
  assert_match (s, tagged, VK_WAKE_ARP, 0, "192.0.2.1", IP0);

  /* 802.1ad (0x88a8) is no 802.1Q tag: what follows is not read */
  other_tpid->data[12] = 0x88;
  other_tpid->data[13] = 0xa8;
  assert_none (s, other_tpid);

  /* two tags: one is read, the second is the ethertype, not ARP */
  {
    static const guint8 tag[4] = { 0x81, 0x00, 0x00, 0x07 };

    qinq = g_byte_array_new ();
    put (qinq, tagged->data, 12);
    put (qinq, tag, 4);
    put (qinq, tagged->data + 12, tagged->len - 12);
  }
  assert_none (s, qinq);
}

/* A unicast ARP request (a neighbour cache confirming an entry it has)
 * reports "arp": ARP is checked before the destination MAC. */
static void
test_arp_unicast (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) confirm = arp (mac0, peer, FALSE, 1, ip_peer, mac0, ip0);
  /* to VM 1's MAC, asking for VM 0's address: the address decides */
  g_autoptr(GByteArray) crossed = arp (mac1, peer, FALSE, 1, ip_peer, mac1, ip0);
  /* what no ARP rule takes, sent to a watched MAC, is unicast: a probe
   * or reply addressed to the VM alone is traffic for the VM */
  g_autoptr(GByteArray) probe = arp (mac1, peer, FALSE, 1, ip_any, mac1, ip1);
  g_autoptr(GByteArray) reply = arp (mac0, peer, FALSE, 2, ip_peer, mac0, ip0);
  g_autoptr(GByteArray) unknown = arp (mac1, peer, FALSE, 1, ip_peer, mac1, ip_other);

  assert_match (s, confirm, VK_WAKE_ARP, 0, "192.0.2.1", IP0);
  assert_match (s, crossed, VK_WAKE_ARP, 0, "192.0.2.1", IP0);
  assert_match (s, probe, VK_WAKE_UNICAST, 1, "", MAC1);
  assert_match (s, reply, VK_WAKE_UNICAST, 0, "", MAC0);
  assert_match (s, unknown, VK_WAKE_UNICAST, 1, "", MAC1);
}

/* ----------------------------------------------------------------- NS */

static void
test_ns (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) ns0 = ns (ip6_peer, ip6_0);
  g_autoptr(GByteArray) ns1 = ns (ip6_peer, ip6_1);
  g_autoptr(GByteArray) nsother = ns (ip6_peer, ip6_other);
  g_autoptr(GByteArray) tagged = ns_full (ip6_peer, ip6_1, 255, FALSE, TRUE);
  g_autoptr(GByteArray) hbh = ns_full (ip6_peer, ip6_0, 255, TRUE, FALSE);
  /* a unicast NS (reachability confirmation) to the VM's MAC */
  g_autoptr(GByteArray) uni = ns (ip6_peer, ip6_1);

  g_assert_cmpuint (ns0->len, ==, 14 + 40 + 32);
  assert_match (s, ns0, VK_WAKE_NS, 0, "2001:db8::1", IP6_0);
  assert_match (s, ns1, VK_WAKE_NS, 1, "2001:db8::1", IP6_1);
  assert_none (s, nsother);
  assert_match (s, tagged, VK_WAKE_NS, 1, "2001:db8::1", IP6_1);
  assert_match (s, hbh, VK_WAKE_NS, 0, "2001:db8::1", IP6_0);
  memcpy (uni->data, mac1, 6);
  assert_match (s, uni, VK_WAKE_NS, 1, "2001:db8::1", IP6_1);
}

static void
test_ns_dad (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) dad0 = ns (ip6_any, ip6_0);
  g_autoptr(GByteArray) dad1 = ns (ip6_any, ip6_1);

  g_assert_cmpuint (dad0->len, ==, 14 + 40 + 24);
  assert_none (s, dad0);
  assert_none (s, dad1);
}

static void
test_ns_malformed (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  /* offsets in the frame: IPv6 header at 14, ICMPv6 at 54 */
  static const struct {
    guint offset;
    guint8 value;
  } edits[] = {
    { 14, 0x40 },          /* IP version 4 */
    { 19, 23 },            /* payload length 23: no room for the target */
    { 20, 17 },            /* next header UDP */
    { 20, 60 },            /* destination options: not skipped */
    { 21, 64 },            /* hop limit 64: routed, so not from this link */
    { 21, 254 },
    { 54, 136 },           /* a neighbour advertisement */
    { 54, 133 },           /* router solicitation */
    { 55, 1 },             /* code 1 */
  };
  g_autoptr(GByteArray) big_hbh = ns_full (ip6_peer, ip6_0, 255, TRUE, FALSE);
  g_autoptr(GByteArray) two_hbh = ns_full (ip6_peer, ip6_0, 255, TRUE, FALSE);

  for (gsize i = 0; i < G_N_ELEMENTS (edits); i++)
    {
      g_autoptr(GByteArray) f = ns (ip6_peer, ip6_0);

      g_test_message ("byte %u = %u", edits[i].offset, edits[i].value);
      f->data[edits[i].offset] = edits[i].value;
      assert_none (s, f);
    }
  /* a hop-by-hop header longer than the packet */
  big_hbh->data[55] = 200;
  assert_none (s, big_hbh);
  /* a second hop-by-hop header is not skipped */
  two_hbh->data[54] = 0;
  assert_none (s, two_hbh);
}

/* ------------------------------------------------------------ unicast */

static void
test_unicast (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) u4 = udp4 (mac0, ip_peer, ip0, 16);
  g_autoptr(GByteArray) u6 = tcp6 (mac1, ip6_peer, ip6_1);
  g_autoptr(GByteArray) lldp = eth (mac1, peer, FALSE, 0x88cc);
  g_autoptr(GByteArray) llc = eth (mac0, peer, FALSE, 46);
  g_autoptr(GByteArray) tagged = eth (mac0, peer, TRUE, 0x0800);
  g_autoptr(GByteArray) to_other = udp4 (other, ip_peer, ip0, 16);
  g_autoptr(GByteArray) bc = udp4 (bcast, ip_peer, ip0, 16);
  g_autoptr(GByteArray) mc = udp4 ((const guint8[]) { 0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa },
                                    ip_peer, (const guint8[]) { 239, 255, 255, 250 }, 16);
  g_autoptr(GByteArray) bad_version = udp4 (mac0, ip_peer, ip0, 16);

  assert_match (s, u4, VK_WAKE_UNICAST, 0, "192.0.2.1", MAC0);
  assert_match (s, u6, VK_WAKE_UNICAST, 1, "2001:db8::1", MAC1);
  /* not IP: woken all the same, with no sender address */
  g_byte_array_set_size (lldp, 60);
  memset (lldp->data + 14, 0, 46);
  assert_match (s, lldp, VK_WAKE_UNICAST, 1, "", MAC1);
  g_byte_array_set_size (llc, 60);
  memset (llc->data + 14, 0, 46);
  assert_match (s, llc, VK_WAKE_UNICAST, 0, "", MAC0);
  {
    g_autoptr(GByteArray) inner = udp4 (mac0, ip_peer, ip0, 16);
    g_byte_array_append (tagged, inner->data + 14, inner->len - 14);
  }
  assert_match (s, tagged, VK_WAKE_UNICAST, 0, "192.0.2.1", MAC0);
  assert_none (s, to_other);
  /* broadcast and multicast frames never match a unicast MAC */
  assert_none (s, bc);
  assert_none (s, mc);
  /* the IPv4 header's version is wrong: no sender address from it */
  bad_version->data[14] = 0x65;
  assert_match (s, bad_version, VK_WAKE_UNICAST, 0, "", MAC0);
}

/* ---------------------------------------------------------- truncated */

/* Every prefix of a frame that matches: none matches (nor reads past its
 * end), except that a frame to a watched MAC is unicast from the end of
 * its Ethernet header on, with its sender address once the IP header is
 * whole. */
static void
check_prefixes (const VkWakeSet *s, const GByteArray *f, gsize unicast_from,
                gsize addr_from)
{
  VkWakeMatch m;

  g_assert_true (match (s, f, &m));
  for (gsize len = 0; len < f->len; len++)
    {
      gboolean ok = match_n (s, f, len, &m);

      if (len >= unicast_from)
        {
          g_assert_true (ok);
          g_assert_cmpint (m.kind, ==, VK_WAKE_UNICAST);
          if (len < addr_from)
            g_assert_cmpstr (m.src_addr, ==, "");
          else
            g_assert_cmpstr (m.src_addr, !=, "");
        }
      else
        {
          if (ok)
            g_test_fail_printf ("a %" G_GSIZE_FORMAT "-byte prefix of a %u-byte frame "
                                "matched as %s", len, f->len, vk_wake_kind_name (m.kind));
          g_assert_false (ok);
          g_assert_cmpint (m.kind, ==, VK_WAKE_NONE);
        }
    }
}

static void
test_truncated (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) req = arp_request (ip_peer, ip0);
  g_autoptr(GByteArray) req_vlan = arp (bcast, peer, TRUE, 1, ip_peer, zero6, ip1);
  g_autoptr(GByteArray) sol = ns (ip6_peer, ip6_0);
  g_autoptr(GByteArray) sol_vlan = ns_full (ip6_peer, ip6_1, 255, FALSE, TRUE);
  g_autoptr(GByteArray) sol_hbh = ns_full (ip6_peer, ip6_0, 255, TRUE, FALSE);
  g_autoptr(GByteArray) u4 = udp4 (mac0, ip_peer, ip0, 16);
  g_autoptr(GByteArray) u6 = tcp6 (mac1, ip6_peer, ip6_1);
  g_autoptr(GByteArray) tagged = eth (mac1, peer, TRUE, 0x86dd);
  g_autoptr(GByteArray) dad = ns (ip6_any, ip6_0);
  g_autoptr(GByteArray) probe = arp_request (ip_any, ip0);

  check_prefixes (s, req, G_MAXSIZE, 0);
  check_prefixes (s, req_vlan, G_MAXSIZE, 0);
  check_prefixes (s, sol, G_MAXSIZE, 0);
  check_prefixes (s, sol_vlan, G_MAXSIZE, 0);
  check_prefixes (s, sol_hbh, G_MAXSIZE, 0);
  check_prefixes (s, u4, 14, 14 + 20);
  check_prefixes (s, u6, 14, 14 + 40);
  {
    g_autoptr(GByteArray) inner = tcp6 (mac1, ip6_peer, ip6_1);
    g_byte_array_append (tagged, inner->data + 14, inner->len - 14);
  }
  check_prefixes (s, tagged, 18, 18 + 40);

  /* and the frames that never match, at every length */
  for (gsize len = 0; len <= dad->len; len++)
    g_assert_false (match_n (s, dad, len, NULL));
  for (gsize len = 0; len <= probe->len; len++)
    g_assert_false (match_n (s, probe, len, NULL));
}

/* An NS is read as far as its IPv6 payload length says (what follows may
 * be Ethernet padding), and not at all when the frame holds less: it was
 * truncated. */
static void
test_ns_payload_length (void)
{
  g_autoptr(VkWakeSet) s = make_set ();
  g_autoptr(GByteArray) dad = ns (ip6_any, ip6_0);

  /* 24 bytes (a DAD NS has no more) are enough for a real one too; the
   * frame holds 32 */
  for (guint plen = 0; plen <= 40; plen++)
    {
      g_autoptr(GByteArray) f = ns (ip6_peer, ip6_0);

      f->data[18] = 0;
      f->data[19] = (guint8) plen;
      g_assert_cmpint (match (s, f, NULL), ==, plen >= 24 && plen <= 32);
    }
  {
    g_autoptr(GByteArray) f = ns (ip6_peer, ip6_0);

    f->data[18] = 0xff;
    f->data[19] = 0xff;
    assert_none (s, f);
    /* padded to more than the payload length: read as before */
    f->data[18] = 0;
    f->data[19] = 32;
    g_byte_array_set_size (f, f->len + 10);
    memset (f->data + f->len - 10, 0, 10);
    assert_match (s, f, VK_WAKE_NS, 0, "2001:db8::1", IP6_0);
  }
  assert_none (s, dad);
}

static void
test_kind_name (void)
{
  g_assert_cmpstr (vk_wake_kind_name (VK_WAKE_NONE), ==, "none");
  g_assert_cmpstr (vk_wake_kind_name (VK_WAKE_UNICAST), ==, "unicast");
  g_assert_cmpstr (vk_wake_kind_name (VK_WAKE_ARP), ==, "arp");
  g_assert_cmpstr (vk_wake_kind_name (VK_WAKE_NS), ==, "ns");
  g_assert_cmpstr (vk_wake_kind_name ((VkWakeKind) 99), ==, "none");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wakeframe/set/add", test_set_add);
  g_test_add_func ("/wakeframe/set/bad-mac", test_set_bad_mac);
  g_test_add_func ("/wakeframe/set/bad-ip", test_set_bad_ip);
  g_test_add_func ("/wakeframe/set/many", test_set_many);
  g_test_add_func ("/wakeframe/arp/request", test_arp_request);
  g_test_add_func ("/wakeframe/arp/not-request", test_arp_not_request);
  g_test_add_func ("/wakeframe/arp/probe-gratuitous", test_arp_probe_gratuitous);
  g_test_add_func ("/wakeframe/arp/malformed", test_arp_malformed);
  g_test_add_func ("/wakeframe/arp/vlan", test_arp_vlan);
  g_test_add_func ("/wakeframe/arp/unicast", test_arp_unicast);
  g_test_add_func ("/wakeframe/ns/watched", test_ns);
  g_test_add_func ("/wakeframe/ns/dad", test_ns_dad);
  g_test_add_func ("/wakeframe/ns/malformed", test_ns_malformed);
  g_test_add_func ("/wakeframe/ns/payload-length", test_ns_payload_length);
  g_test_add_func ("/wakeframe/unicast", test_unicast);
  g_test_add_func ("/wakeframe/truncated", test_truncated);
  g_test_add_func ("/wakeframe/kind-name", test_kind_name);
  return g_test_run ();
}
