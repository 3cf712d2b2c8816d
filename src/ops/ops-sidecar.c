/* vmkeep — the sidecar of a running domain. See ops-sidecar.h. */
#include "config.h"

#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "ops-sidecar.h"

VkSidecar *
vk_ops_sidecar_new (VkOps *ops, VkSidecarMode mode, const char *name, const char *uuid)
{
  VkConn *conn = ops->conn;
  VkSidecar *sc = vk_sidecar_new ();
  sc->mode = mode;
  sc->domain_name = g_strdup (name);
  sc->domain_uuid = g_strdup (uuid);
  sc->created = g_date_time_new_now_utc ();
  sc->host = vk_conn_hostname (conn);
  sc->libvirt_version = vk_conn_libvirt_version (conn);
  sc->qemu_version = vk_conn_hv_version (conn);
  return sc;
}

static gboolean
is_nic (const VkIdentity *id, const char *mac)
{
  for (guint i = 0; i < id->nics->len; i++)
    {
      const VkIdentityNic *n = id->nics->pdata[i];

      if (n->mac != NULL && g_ascii_strcasecmp (n->mac, mac) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The addresses libvirt knows for the domain's NICs, for a watcher that
 * wakes the VM when a neighbour asks for one. The guest agent reports
 * every guest interface (bridges, tunnels, containers): only the NICs'
 * own are kept, and no more than a sidecar holds. Informational: none
 * known is no error. */
static void
add_addresses (VkSidecar *sc, VkDomain *dom)
{
  g_autoptr(GPtrArray) found = vk_domain_addresses (dom);

  for (guint i = 0; i < found->len && sc->addresses->len < VK_SIDECAR_ADDRESSES_MAX; i++)
    {
      VkSidecarAddress *a = found->pdata[i];

      if (is_nic (sc->identity, a->mac))
        g_ptr_array_add (sc->addresses, g_steal_pointer (&found->pdata[i]));
    }
}

VkSidecar *
vk_ops_sidecar_for_domain (VkOps *ops, VkDomain *dom, xmlDocPtr doc, const char *xml,
                           VkSidecarMode mode, GError **error)
{
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkSidecar) sc = vk_ops_sidecar_new (ops, mode, vk_domain_get_name (dom), uuid);
  sc->identity = vk_identity_from_domain (doc, error);
  if (sc->identity == NULL)
    return NULL;
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (doc), "os");
  g_autofree char *nvram = vk_xml_child_text (os, "nvram");
  if (nvram != NULL && *nvram)
    {
      sc->nvram_path = g_strdup (nvram);
      vk_file_sha256 (nvram, &sc->nvram_sha256, NULL, NULL);
    }
  sc->tpm = vk_xml_child (vk_domain_devices (doc), "tpm") != NULL;
  add_addresses (sc, dom);
  sc->domain_xml = g_strdup (xml);
  return g_steal_pointer (&sc);
}
