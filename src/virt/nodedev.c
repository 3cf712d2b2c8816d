#include "config.h"

#include <glib/gi18n.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domain-xml.h"
#include "nodedev.h"
#include "virt-private.h"
#include "vk-error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virNodeDevice, virNodeDeviceFree)

gboolean
vk_conn_pci_device_driver (VkConn *conn, const char *bdf, gboolean *exists,
                           char **driver, GError **error)
{
  /* libvirt names PCI node devices pci_DDDD_BB_SS_F */
  g_autofree char *name = g_strdup_printf ("pci_%s", bdf);
  g_strdelimit (name, ":.", '_');
  *exists = FALSE;
  *driver = NULL;
  g_autoptr(virNodeDevice) dev = virNodeDeviceLookupByName (conn->conn, name);
  if (dev == NULL)
    {
      virErrorPtr e = virGetLastError ();
      if (e != NULL && e->code == VIR_ERR_NO_NODE_DEVICE)
        {
          virResetLastError ();
          return TRUE;
        }
      return vk_vir_fail (error, _("cannot look up host PCI device %s"), bdf);
    }
  *exists = TRUE;
  char *xml = virNodeDeviceGetXMLDesc (dev, 0);
  if (xml == NULL)
    return vk_vir_fail (error, _("cannot read the description of host PCI device %s"), bdf);
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, name, error);
  free (xml);
  if (doc == NULL)
    return FALSE;
  *driver = vk_xml_child_text (vk_xml_child (xmlDocGetRootElement (doc), "driver"), "name");
  return TRUE;
}
