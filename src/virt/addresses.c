/* vmkeep — the IP addresses of a domain's NICs, as libvirt knows them.
 * See virt.h. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "sidecar.h"
#include "validate.h"
#include "virt-private.h"

/* Frees the struct and its address array (libvirt's own function). */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomainInterface, virDomainInterfaceFree)

/* `ip` in the canonical text form of inet_ntop, or NULL when it is no
 * address a neighbour could ask for: unparsable, unspecified, loopback or
 * multicast. A link-local IPv6 address keeps no "%zone" (the zone is the
 * guest's interface name, which means nothing on the host). */
static char *
usable_ip (const char *ip)
{
  g_autofree char *bare = g_strdup (ip);
  char *zone = strchr (bare, '%');
  char buf[INET6_ADDRSTRLEN];
  struct in_addr v4;
  struct in6_addr v6;

  if (zone != NULL)
    *zone = '\0';
  if (inet_pton (AF_INET, bare, &v4) == 1)
    {
      guint32 h = ntohl (v4.s_addr);

      if ((h >> 24) == 0 || (h >> 24) == 127 || (h >> 28) == 0xe || h == 0xffffffffu)
        return NULL;
      return g_strdup (inet_ntop (AF_INET, &v4, buf, sizeof buf));
    }
  if (inet_pton (AF_INET6, bare, &v6) == 1)
    {
      if (IN6_IS_ADDR_UNSPECIFIED (&v6) || IN6_IS_ADDR_LOOPBACK (&v6) ||
          IN6_IS_ADDR_MULTICAST (&v6))
        return NULL;
      return g_strdup (inet_ntop (AF_INET6, &v6, buf, sizeof buf));
    }
  return NULL;
}

static gboolean
seen (GPtrArray *out, const char *mac, const char *ip)
{
  for (guint i = 0; i < out->len; i++)
    {
      const VkSidecarAddress *a = out->pdata[i];

      if (g_str_equal (a->mac, mac) && g_str_equal (a->ip, ip))
        return TRUE;
    }
  return FALSE;
}

/* What one source reports, appended to `out`. A source that fails is no
 * error: no guest agent, no libvirt network (so no lease file), a driver
 * without the call. */
static void
add_source (virDomainPtr dom, unsigned int source, const char *name, GPtrArray *out)
{
  virDomainInterfacePtr *ifaces = NULL;
  /* flags: "currently unused, pass zero" (libvirt 9.0 to 11.x). */
  int n = virDomainInterfaceAddresses (dom, &ifaces, source, 0);

  if (n < 0)
    {
      virResetLastError ();
      return;
    }
  for (int i = 0; i < n; i++)
    {
      g_autoptr(virDomainInterface) iface = ifaces[i];
      g_autofree char *mac = NULL;

      /* The agent reports the guest's every interface: its loopback (MAC
       * 00:00:00:00:00:00), bridges and tunnels. Only a unicast MAC can be
       * one of the domain's NICs. */
      if (iface->hwaddr == NULL || (mac = vk_mac_normalize (iface->hwaddr, NULL)) == NULL)
        continue;
      for (unsigned int j = 0; j < iface->naddrs; j++)
        {
          g_autofree char *ip = NULL;
          VkSidecarAddress *a;

          if (iface->addrs[j].addr == NULL || (ip = usable_ip (iface->addrs[j].addr)) == NULL ||
              seen (out, mac, ip))
            continue;
          a = g_new0 (VkSidecarAddress, 1);
          a->mac = g_strdup (mac);
          a->ip = g_steal_pointer (&ip);
          a->source = g_strdup (name);
          g_ptr_array_add (out, a);
        }
    }
  free (ifaces);
}

GPtrArray *
vk_domain_addresses (VkDomain *vd)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_sidecar_address_free);
  int state = VIR_DOMAIN_NOSTATE, reason = 0;

  g_return_val_if_fail (vd != NULL, out);

  add_source (vd->dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, "lease", out);
  /* A paused guest's agent cannot answer: libvirt would wait for its
   * guest-sync to time out (5 s). Without an agent channel, or with the
   * agent not connected, libvirt fails at once. */
  if (virDomainGetState (vd->dom, &state, &reason, 0) < 0)
    virResetLastError ();
  else if (state == VIR_DOMAIN_RUNNING)
    add_source (vd->dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, "agent", out);
  add_source (vd->dom, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP, "arp", out);
  return out;
}
