/* Fuzz harness: the wake-frame classifier of src/core/wakeframe.h, which
 * reads every frame on a bridge `vmkeep watch` listens on: bytes anyone on
 * that bridge can send.
 *
 * The input is one frame (libFuzzer's buffer is exactly its size, so ASan
 * sees any read past the end), classified against a fixed set of a few
 * MACs and addresses. What the classifier reports is checked against the
 * frame's bytes here, independently of wakeframe.c, both ways: a match
 * must be what it says it is, and the plain cases (a frame to a watched
 * MAC, an ARP request or NS for a watched address) must match.
 *
 * The input is also given, as text, to vk_wake_set_add_mac and
 * vk_wake_set_add_ip of a scratch set: what they accept must then wake
 * its owner. */
#include "config.h"

#include <arpa/inet.h>
#include <gio/gio.h>

#include "fuzz-common.h"
#include "wakeframe.h"

static const struct {
  const char *text;
  guint owner;
} watched_macs[] = {
  { "52:54:00:00:00:01", 0 },
  { "52:54:00:00:00:02", 1 },
};

static const struct {
  const char *text;
  guint owner;
} watched_ips[] = {
  { "192.0.2.10", 0 },
  { "2001:db8::10", 0 },
  { "192.0.2.11", 1 },
  { "fe80::5054:ff:fe00:2", 1 },
  { "198.51.100.7", 2 },
};

static VkWakeSet *set;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  GError *error = NULL;

  vk_fuzz_init ();
  set = vk_wake_set_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (watched_macs); i++)
    vk_fuzz_check (vk_wake_set_add_mac (set, watched_macs[i].text, watched_macs[i].owner,
                                        &error), "add %s", watched_macs[i].text);
  for (gsize i = 0; i < G_N_ELEMENTS (watched_ips); i++)
    vk_fuzz_check (vk_wake_set_add_ip (set, watched_ips[i].text, watched_ips[i].owner,
                                       &error), "add %s", watched_ips[i].text);
  return 0;
}

static void
fmt_mac (char out[18], const guint8 *m)
{
  g_snprintf (out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* The owner of a watched MAC or address, given as text; -1 for none. */
static gint64
owner_of_mac (const guint8 *m)
{
  char text[18];

  fmt_mac (text, m);
  for (gsize i = 0; i < G_N_ELEMENTS (watched_macs); i++)
    if (g_str_equal (text, watched_macs[i].text))
      return watched_macs[i].owner;
  return -1;
}

static gint64
owner_of_ip (int family, const guint8 *a)
{
  char text[INET6_ADDRSTRLEN];

  vk_fuzz_check (inet_ntop (family, a, text, sizeof text) != NULL, "inet_ntop");
  for (gsize i = 0; i < G_N_ELEMENTS (watched_ips); i++)
    if (g_str_equal (text, watched_ips[i].text))
      return watched_ips[i].owner;
  return -1;
}

static gboolean
str_is_ip (const char *s, GSocketFamily family)
{
  g_autoptr(GInetAddress) a = g_inet_address_new_from_string (s);
  return a != NULL && g_inet_address_get_family (a) == family;
}

static void
check_frame (const guint8 *f, gsize len)
{
  static const guint8 zero[16] = { 0 };
  VkWakeMatch m;
  gboolean ok, ok_quiet;
  gsize off = 14;
  guint type = 0;
  gboolean whole = len >= 14;
  gint64 want = -1;
  VkWakeKind want_kind = VK_WAKE_NONE;

  memset (&m, 0xa5, sizeof m);
  ok = vk_wake_frame_match (set, f, len, &m);
  ok_quiet = vk_wake_frame_match (set, f, len, NULL);
  vk_fuzz_check (ok == ok_quiet, "a different answer without a VkWakeMatch");
  vk_fuzz_check (memchr (m.src_mac, '\0', sizeof m.src_mac) != NULL &&
                 memchr (m.src_addr, '\0', sizeof m.src_addr) != NULL &&
                 memchr (m.target, '\0', sizeof m.target) != NULL, "unterminated field");

  if (whole)
    {
      type = ((guint) f[12] << 8) | f[13];
      if (type == 0x8100)
        {
          whole = len >= 18;
          type = whole ? ((guint) f[16] << 8) | f[17] : 0;
          off = 18;
        }
    }

  if (!ok)
    {
      vk_fuzz_check (m.kind == VK_WAKE_NONE && m.src_mac[0] == '\0' && m.src_addr[0] == '\0' &&
                     m.target[0] == '\0', "no match, but the VkWakeMatch is filled");
      vk_fuzz_check (!whole || owner_of_mac (f) < 0, "a frame to a watched MAC did not match");
    }
  else
    {
      char mac[18];

      vk_fuzz_check (whole, "a %zu-byte frame without a whole Ethernet header matched", len);
      fmt_mac (mac, f + 6);
      vk_fuzz_check (g_str_equal (m.src_mac, mac), "src_mac %s, not %s", m.src_mac, mac);
      switch (m.kind)
        {
        case VK_WAKE_UNICAST:
          fmt_mac (mac, f);
          vk_fuzz_check (g_str_equal (m.target, mac), "unicast target %s, not %s", m.target, mac);
          vk_fuzz_check (owner_of_mac (f) == m.owner, "unicast for owner %u", m.owner);
          vk_fuzz_check (m.src_addr[0] == '\0' ||
                         (type == 0x0800 && str_is_ip (m.src_addr, G_SOCKET_FAMILY_IPV4)) ||
                         (type == 0x86dd && str_is_ip (m.src_addr, G_SOCKET_FAMILY_IPV6)),
                         "unicast src_addr %s of ethertype %04x", m.src_addr, type);
          break;
        case VK_WAKE_ARP:
          vk_fuzz_check (type == 0x0806 && len >= off + 28, "ARP match of ethertype %04x", type);
          vk_fuzz_check (f[off + 7] == 1, "ARP match of operation %u", f[off + 7]);
          vk_fuzz_check (owner_of_ip (AF_INET, f + off + 24) == m.owner, "ARP owner %u", m.owner);
          {
            char spa[INET_ADDRSTRLEN], tpa[INET_ADDRSTRLEN];

            inet_ntop (AF_INET, f + off + 14, spa, sizeof spa);
            inet_ntop (AF_INET, f + off + 24, tpa, sizeof tpa);
            vk_fuzz_check (g_str_equal (m.src_addr, spa) && g_str_equal (m.target, tpa),
                           "ARP from %s for %s reported as from %s for %s", spa, tpa,
                           m.src_addr, m.target);
          }
          vk_fuzz_check (!g_str_equal (m.src_addr, "0.0.0.0"), "ARP probe matched");
          vk_fuzz_check (!g_str_equal (m.src_addr, m.target), "gratuitous ARP matched");
          break;
        case VK_WAKE_NS:
          vk_fuzz_check (type == 0x86dd && len >= off + 40 + 24, "NS match of ethertype %04x",
                         type);
          vk_fuzz_check (f[off + 7] == 255, "NS with hop limit %u", f[off + 7]);
          vk_fuzz_check (str_is_ip (m.target, G_SOCKET_FAMILY_IPV6) &&
                         str_is_ip (m.src_addr, G_SOCKET_FAMILY_IPV6), "NS addresses");
          vk_fuzz_check (!g_str_equal (m.src_addr, "::"), "DAD matched");
          {
            char src[INET6_ADDRSTRLEN];

            inet_ntop (AF_INET6, f + off + 8, src, sizeof src);
            vk_fuzz_check (g_str_equal (m.src_addr, src), "NS from %s reported as from %s", src,
                           m.src_addr);
          }
          {
            g_autoptr(GInetAddress) t = g_inet_address_new_from_string (m.target);

            /* the target is somewhere after the IPv6 header and the first 8
             * bytes of the ICMPv6 message */
            vk_fuzz_check (t != NULL && len >= off + 48 + 16 &&
                           memmem (f + off + 48, len - off - 48, g_inet_address_to_bytes (t),
                                   16) != NULL, "NS target %s is not in the frame", m.target);
          }
          {
            gboolean known = FALSE;
            for (gsize i = 0; i < G_N_ELEMENTS (watched_ips); i++)
              if (str_is_ip (watched_ips[i].text, G_SOCKET_FAMILY_IPV6) &&
                  watched_ips[i].owner == m.owner)
                {
                  g_autoptr(GInetAddress) a = g_inet_address_new_from_string (m.target);
                  g_autoptr(GInetAddress) b = g_inet_address_new_from_string (watched_ips[i].text);
                  known |= g_inet_address_equal (a, b);
                }
            vk_fuzz_check (known, "NS for %s, owner %u", m.target, m.owner);
          }
          break;
        case VK_WAKE_NONE:
        default:
          vk_fuzz_check (FALSE, "a match of kind %d", (int) m.kind);
        }
    }

  /* The plain cases, derived here from the bytes: they must match. */
  if (!whole)
    return;
  if (type == 0x0806 && len >= off + 28)
    {
      const guint8 *a = f + off;

      if (memcmp (a, "\x00\x01\x08\x00\x06\x04\x00\x01", 8) == 0 &&
          memcmp (a + 14, zero, 4) != 0 && memcmp (a + 14, a + 24, 4) != 0 &&
          (want = owner_of_ip (AF_INET, a + 24)) >= 0)
        want_kind = VK_WAKE_ARP;
    }
  if (type == 0x86dd && len >= off + 40 + 24)
    {
      const guint8 *ip = f + off;
      guint plen = ((guint) ip[4] << 8) | ip[5];

      if ((ip[0] >> 4) == 6 && ip[6] == 58 && ip[7] == 255 && plen >= 24 &&
          plen <= len - off - 40 && ip[40] == 135 && ip[41] == 0 &&
          memcmp (ip + 8, zero, 16) != 0 && (want = owner_of_ip (AF_INET6, ip + 48)) >= 0)
        want_kind = VK_WAKE_NS;
    }
  if (want_kind == VK_WAKE_NONE && (want = owner_of_mac (f)) >= 0)
    want_kind = VK_WAKE_UNICAST;
  /* A frame to a watched MAC may be an ARP request or NS that the checks
   * above did not derive (an NS after a hop-by-hop header): that match was
   * checked on its own above. */
  if (want_kind == VK_WAKE_UNICAST && ok && m.kind != VK_WAKE_UNICAST)
    return;
  if (want_kind != VK_WAKE_NONE)
    vk_fuzz_check (ok && m.kind == want_kind && m.owner == want,
                   "expected %s for owner %" G_GINT64_FORMAT ", got %s for %u",
                   vk_wake_kind_name (want_kind), want, vk_wake_kind_name (m.kind), m.owner);
}

/* The input as the text of a MAC and of an IP address. */
static void
check_text (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr(VkWakeSet) scratch = vk_wake_set_new ();
  GError *error = NULL;
  guint8 frame[64] = { 0 };
  VkWakeMatch m;

  if (size > 64)
    return;
  text = g_strndup ((const char *) data, size);

  if (vk_wake_set_add_mac (scratch, text, 42, &error))
    {
      g_autofree char *norm = NULL;

      vk_fuzz_check (error == NULL, "vk_wake_set_add_mac: success with an error");
      vk_fuzz_check (vk_wake_set_size (scratch) == 1, "one MAC, size %u",
                     vk_wake_set_size (scratch));
      norm = g_ascii_strdown (text, -1);
      g_strdelimit (norm, "-", ':');
      for (int i = 0; i < 6; i++)
        frame[i] = (guint8) ((g_ascii_xdigit_value (norm[i * 3]) << 4) |
                             g_ascii_xdigit_value (norm[i * 3 + 1]));
      vk_fuzz_check ((frame[0] & 1) == 0, "group MAC %s accepted", text);
      vk_fuzz_check (vk_wake_frame_match (scratch, frame, 60, &m) &&
                     m.kind == VK_WAKE_UNICAST && m.owner == 42 && g_str_equal (m.target, norm),
                     "a frame to the accepted MAC %s", norm);
      vk_fuzz_check (!vk_wake_set_add_mac (scratch, text, 43, NULL), "MAC watched for two");
    }
  else
    {
      vk_fuzz_check_error (error, "vk_wake_set_add_mac");
      g_clear_error (&error);
    }

  if (vk_wake_set_add_ip (scratch, text, 7, &error))
    {
      g_autoptr(GInetAddress) a = g_inet_address_new_from_string (text);
      const guint8 *b;

      vk_fuzz_check (error == NULL, "vk_wake_set_add_ip: success with an error");
      vk_fuzz_check (a != NULL && !g_inet_address_get_is_any (a) &&
                     !g_inet_address_get_is_multicast (a), "IP '%s' accepted", text);
      b = g_inet_address_to_bytes (a);
      memset (frame, 0xff, 6);
      memcpy (frame + 6, "\x52\x54\x00\x12\x34\x56", 6);
      if (g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV4)
        {
          /* an ARP request for it, from 192.0.2.1 (or 192.0.2.2 when it is
           * 192.0.2.1: that one would be gratuitous) */
          memcpy (frame + 12, "\x08\x06\x00\x01\x08\x00\x06\x04\x00\x01", 10);
          memcpy (frame + 22, frame + 6, 6);
          memcpy (frame + 28, "\xc0\x00\x02\x01", 4);
          if (memcmp (b, frame + 28, 4) == 0)
            frame[31] = 2;
          memcpy (frame + 38, b, 4);
          vk_fuzz_check (vk_wake_frame_match (scratch, frame, 42, &m) &&
                         m.kind == VK_WAKE_ARP && m.owner == 7, "ARP for accepted %s", text);
        }
      else
        {
          guint8 ns[14 + 40 + 24] = { 0 };

          memcpy (ns, "\x33\x33\xff\x00\x00\x01\x52\x54\x00\x12\x34\x56\x86\xdd\x60", 15);
          ns[19] = 24;
          ns[20] = 58;
          ns[21] = 255;
          ns[22] = 0xfe;
          ns[23] = 0x80;
          ns[37] = 1;
          ns[54] = 135;
          memcpy (ns + 62, b, 16);
          vk_fuzz_check (vk_wake_frame_match (scratch, ns, sizeof ns, &m) &&
                         m.kind == VK_WAKE_NS && m.owner == 7, "NS for accepted %s", text);
        }
      vk_fuzz_check (!vk_wake_set_add_ip (scratch, text, 8, NULL), "IP watched for two");
    }
  else
    {
      vk_fuzz_check_error (error, "vk_wake_set_add_ip");
      g_clear_error (&error);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  check_frame (data, size);
  check_text (data, size);
  return 0;
}
