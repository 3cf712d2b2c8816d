#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <string.h>

#include "attach.h"
#include "domain-xml.h"
#include "vk-error.h"

void
vk_fs_spec_free (VkFsSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->tag);
  g_free (spec->socket);
  g_free (spec->source_dir);
  g_free (spec->binary);
  g_free (spec);
}

void
vk_attached_device_free (VkAttachedDevice *d)
{
  if (d == NULL)
    return;
  g_free (d->kind);
  g_free (d->name);
  g_free (d->id);
  g_free (d->alias);
  g_free (d->source);
  g_free (d->source_type);
  g_free (d->address);
  g_free (d);
}

static xmlNodePtr
add (xmlNodePtr parent, const char *name)
{
  return xmlNewChild (parent, NULL, BAD_CAST name, NULL);
}

static void
set (xmlNodePtr n, const char *name, const char *value)
{
  xmlSetProp (n, BAD_CAST name, BAD_CAST value);
}

xmlNodePtr
vk_fs_element_new (const VkFsSpec *spec)
{
  g_return_val_if_fail ((spec->socket == NULL) != (spec->source_dir == NULL), NULL);
  xmlNodePtr fs = xmlNewNode (NULL, BAD_CAST "filesystem");
  set (fs, "type", "mount");
  if (spec->source_dir != NULL)
    set (fs, "accessmode", "passthrough");
  xmlNodePtr drv = add (fs, "driver");
  set (drv, "type", "virtiofs");
  if (spec->queue_size > 0)
    {
      char buf[16];
      g_snprintf (buf, sizeof buf, "%u", spec->queue_size);
      set (drv, "queue", buf);
    }
  if (spec->source_dir != NULL && spec->binary != NULL)
    set (add (fs, "binary"), "path", spec->binary);
  xmlNodePtr src = add (fs, "source");
  if (spec->socket != NULL)
    set (src, "socket", spec->socket);
  else
    set (src, "dir", spec->source_dir);
  set (add (fs, "target"), "dir", spec->tag);
  return fs;
}

xmlNodePtr
vk_hostdev_element_new (const VkBdf *bdf, const char *id)
{
  char buf[16];
  xmlNodePtr hd = xmlNewNode (NULL, BAD_CAST "hostdev");
  set (hd, "mode", "subsystem");
  set (hd, "type", "pci");
  set (hd, "managed", "no");
  xmlNodePtr a = add (add (hd, "source"), "address");
  g_snprintf (buf, sizeof buf, "0x%04x", bdf->domain);
  set (a, "domain", buf);
  g_snprintf (buf, sizeof buf, "0x%02x", bdf->bus);
  set (a, "bus", buf);
  g_snprintf (buf, sizeof buf, "0x%02x", bdf->slot);
  set (a, "slot", buf);
  g_snprintf (buf, sizeof buf, "0x%x", bdf->function);
  set (a, "function", buf);
  if (id != NULL)
    {
      g_autofree char *alias = g_strconcat (VK_USER_ALIAS_PREFIX, id, NULL);
      set (add (hd, "alias"), "name", alias);
    }
  return hd;
}

gboolean
vk_validate_device_id (const char *id, GError **error)
{
  if (id == NULL || id[0] == '\0')
    return vk_fail (error, VK_ERROR_USAGE,
                    _("device ID is empty; give 1 to %d characters from A-Z a-z 0-9 _ -"),
                    VK_DEVICE_ID_MAX);
  g_autofree char *q = g_strescape (id, NULL);
  gsize len = strlen (id);
  if (len > VK_DEVICE_ID_MAX)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("device ID '%s' is %zu characters long; at most %d "
                      "are allowed"), q, len, VK_DEVICE_ID_MAX);
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return vk_fail (error, VK_ERROR_USAGE,
                      _("device ID '%s' contains '%c'; use only A-Z a-z 0-9 _ -"), q,
                      g_ascii_isprint (*p) ? *p : '?');
  if (!g_ascii_isalnum (id[0]))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("device ID '%s' must start with a letter or a digit"), q);
  return TRUE;
}

gboolean
vk_validate_fs_queue_size (guint64 n, GError **error)
{
  if (n < 16 || n > VK_FS_QUEUE_MAX || (n & (n - 1)) != 0)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("virtiofs queue size %" PRIu64 " is not allowed; give a "
                      "power of two from 16 to %d"), n, VK_FS_QUEUE_MAX);
  return TRUE;
}

static gboolean
is_element (xmlNodePtr n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST name);
}

gboolean
vk_domain_has_shared_memory (xmlDocPtr doc)
{
  xmlNodePtr root = doc ? xmlDocGetRootElement (doc) : NULL;
  if (root == NULL)
    return FALSE;
  g_autofree char *mode = vk_xml_child_prop (vk_xml_child (root, "memoryBacking"),
                                             "access", "mode");
  if (g_strcmp0 (mode, "shared") == 0)
    return TRUE;
  xmlNodePtr numa = vk_xml_child (vk_xml_child (root, "cpu"), "numa");
  guint cells = 0;
  for (xmlNodePtr c = numa ? numa->children : NULL; c; c = c->next)
    {
      if (!is_element (c, "cell"))
        continue;
      g_autofree char *access = vk_xml_prop (c, "memAccess");
      if (g_strcmp0 (access, "shared") != 0)
        return FALSE;
      cells++;
    }
  return cells > 0;
}

static xmlNodePtr
devices_of (xmlDocPtr doc)
{
  xmlNodePtr root = doc ? xmlDocGetRootElement (doc) : NULL;
  return root ? vk_xml_child (root, "devices") : NULL;
}

static gboolean
is_fs_with_tag (xmlNodePtr n, gconstpointer tag)
{
  g_autofree char *t = NULL;

  if (!is_element (n, "filesystem"))
    return FALSE;
  t = vk_xml_child_prop (n, "target", "dir");
  return g_strcmp0 (t, tag) == 0;
}

xmlNodePtr
vk_domain_find_fs (xmlDocPtr doc, const char *tag)
{
  return vk_xml_find_child (devices_of (doc), is_fs_with_tag, tag);
}

gboolean
vk_hostdev_source_bdf (xmlNodePtr hostdev, VkBdf *out)
{
  g_autofree char *type = vk_xml_prop (hostdev, "type");
  if (g_strcmp0 (type, "pci") != 0)
    return FALSE;
  /* unlike a device's own address, the source address has no type='pci' */
  xmlNodePtr a = vk_xml_child (vk_xml_child (hostdev, "source"), "address");
  VkBdf b;
  if (a == NULL || !xmlHasProp (a, BAD_CAST "bus") || !xmlHasProp (a, BAD_CAST "slot") ||
      !vk_xml_pci_address_attrs (a, &b, NULL))
    return FALSE;
  *out = b;
  return TRUE;
}

static gboolean
is_hostdev_of (xmlNodePtr n, gconstpointer data)
{
  const VkBdf *bdf = data;
  VkBdf b;

  return is_element (n, "hostdev") && vk_hostdev_source_bdf (n, &b) &&
         b.domain == bdf->domain && b.bus == bdf->bus && b.slot == bdf->slot &&
         b.function == bdf->function;
}

xmlNodePtr
vk_domain_find_hostdev (xmlDocPtr doc, const VkBdf *bdf)
{
  return vk_xml_find_child (devices_of (doc), is_hostdev_of, bdf);
}

static gboolean
has_alias (xmlNodePtr n, gconstpointer alias)
{
  g_autofree char *a = vk_xml_child_prop (n, "alias", "name");

  return g_strcmp0 (a, alias) == 0;
}

xmlNodePtr
vk_domain_find_alias (xmlDocPtr doc, const char *alias)
{
  return vk_xml_find_child (devices_of (doc), has_alias, alias);
}

xmlNodePtr
vk_domain_find_hostdev_by_key (xmlDocPtr doc, const char *key)
{
  VkBdf bdf;
  if (key == NULL)
    return NULL;
  if (vk_bdf_parse (key, &bdf, NULL))
    return vk_domain_find_hostdev (doc, &bdf);
  g_autofree char *alias = g_strconcat (VK_USER_ALIAS_PREFIX, key, NULL);
  xmlNodePtr n = vk_domain_find_alias (doc, alias);
  if (n == NULL)
    n = vk_domain_find_alias (doc, key);
  return n && is_element (n, "hostdev") ? n : NULL;
}

gboolean
vk_check_fs_tag_unique (xmlDocPtr doc, const char *domain, const char *where,
                        const char *tag, GError **error)
{
  xmlNodePtr other = vk_domain_find_fs (doc, tag);
  if (other == NULL)
    return TRUE;
  g_autofree char *sock = vk_xml_child_prop (other, "source", "socket");
  g_autofree char *dir = vk_xml_child_prop (other, "source", "dir");
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("the %s of '%s' already has a filesystem with tag '%s' (%s); a tag "
                 "names one filesystem in the guest: pick another --tag, or detach "
                 "that one first with 'vmkeep fs detach %s %s'"),
               where, domain, tag, sock ? sock : dir ? dir : _("no source"), domain, tag);
  return FALSE;
}

gboolean
vk_check_hostdev_unique (xmlDocPtr doc, const char *domain, const char *where,
                         const VkBdf *bdf, const char *id, GError **error)
{
  g_autofree char *b = vk_bdf_format (bdf);
  if (vk_domain_find_hostdev (doc, bdf) != NULL)
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("the %s of '%s' already has host PCI device %s; a device can "
                      "be passed through once ('vmkeep devices %s' lists them)"),
                    where, domain, b, domain);
  if (id != NULL)
    {
      g_autofree char *alias = g_strconcat (VK_USER_ALIAS_PREFIX, id, NULL);
      if (vk_domain_find_alias (doc, alias) != NULL)
        return vk_fail (error, VK_ERROR_REFUSED,
                        _("the %s of '%s' already has a device with ID '%s'; pick "
                          "another --id"), where, domain, id);
    }
  return TRUE;
}

/* g_set_str arrived in GLib 2.76 */
static void
replace_str (char **slot, const char *value)
{
  g_free (*slot);
  *slot = g_strdup (value);
}

/* Row for `n`, merged into `rows` by (kind, name). */
static void
collect (GPtrArray *rows, xmlDocPtr doc, gboolean live)
{
  xmlNodePtr devs = devices_of (doc);
  for (xmlNodePtr n = devs ? devs->children : NULL; n; n = n->next)
    {
      g_autofree char *name = NULL;
      const char *kind;
      if (is_element (n, "filesystem"))
        {
          kind = "filesystem";
          name = vk_xml_child_prop (n, "target", "dir");
        }
      else if (is_element (n, "hostdev"))
        {
          VkBdf bdf;
          if (!vk_hostdev_source_bdf (n, &bdf))
            continue;
          kind = "hostdev";
          name = vk_bdf_format (&bdf);
        }
      else
        continue;
      if (name == NULL)
        continue;

      VkAttachedDevice *row = NULL;
      for (guint i = 0; i < rows->len && row == NULL; i++)
        {
          VkAttachedDevice *r = rows->pdata[i];
          if (g_str_equal (r->kind, kind) && g_str_equal (r->name, name))
            row = r;
        }
      if (row == NULL)
        {
          row = g_new0 (VkAttachedDevice, 1);
          row->kind = g_strdup (kind);
          row->name = g_steal_pointer (&name);
          g_ptr_array_add (rows, row);
        }
      if (live)
        row->live = TRUE;
      else
        row->config = TRUE;

      g_autofree char *alias = vk_xml_child_prop (n, "alias", "name");
      if (alias != NULL && g_str_has_prefix (alias, VK_USER_ALIAS_PREFIX) && row->id == NULL)
        row->id = g_strdup (alias + strlen (VK_USER_ALIAS_PREFIX));
      if (alias != NULL && live)
        replace_str (&row->alias, alias);
      /* the running VM's address wins: it is where the guest sees it */
      g_autofree char *addr = vk_xml_pci_address_text (n);
      if (addr != NULL && (live || row->address == NULL))
        replace_str (&row->address, addr);
      if (row->source == NULL)
        {
          g_autofree char *sock = vk_xml_child_prop (n, "source", "socket");
          g_autofree char *dir = vk_xml_child_prop (n, "source", "dir");
          if (sock != NULL)
            {
              row->source = g_steal_pointer (&sock);
              row->source_type = g_strdup ("socket");
            }
          else if (dir != NULL)
            {
              row->source = g_steal_pointer (&dir);
              row->source_type = g_strdup ("dir");
            }
        }
    }
}

static gint
cmp_rows (gconstpointer a, gconstpointer b)
{
  const VkAttachedDevice *x = *(VkAttachedDevice *const *) a;
  const VkAttachedDevice *y = *(VkAttachedDevice *const *) b;
  int c = strcmp (x->kind, y->kind);
  return c != 0 ? c : strcmp (x->name, y->name);
}

GPtrArray *
vk_attached_devices (xmlDocPtr live, xmlDocPtr config)
{
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_attached_device_free);
  collect (rows, live, TRUE);
  collect (rows, config, FALSE);
  g_ptr_array_sort (rows, cmp_rows);
  return rows;
}

gboolean
vk_pci_host_verdict (const VkBdf *bdf, gboolean exists, const char *driver,
                     GError **error)
{
  g_autofree char *b = vk_bdf_format (bdf);
  g_autofree char *dev = g_strconcat ("/sys/bus/pci/devices/", b, NULL);
  if (!exists)
    return vk_fail (error, VK_ERROR_NOT_FOUND,
                    _("host PCI device %s not found (the host has no %s); 'lspci -D' "
                      "lists the host's PCI devices"), b, dev);
  if (g_strcmp0 (driver, "vfio-pci") == 0)
    return TRUE;
  /* driver_override + drivers_probe binds exactly this device, without
   * new_id's side effect of grabbing every device with the same IDs. */
  if (driver == NULL)
    g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                 _("host PCI device %s is not bound to any driver; passing it through "
                   "needs it bound to vfio-pci: 'modprobe vfio-pci; echo vfio-pci > "
                   "%s/driver_override; echo %s > /sys/bus/pci/drivers_probe' "
                   "(or 'driverctl set-override %s vfio-pci'), then try again"),
                 b, dev, b, b);
  else
    g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                 _("host PCI device %s is bound to driver '%s', not vfio-pci; passing "
                   "it through takes it away from the host: if that is what you want, "
                   "rebind it with 'modprobe vfio-pci; echo %s > %s/driver/unbind; "
                   "echo vfio-pci > %s/driver_override; echo %s > "
                   "/sys/bus/pci/drivers_probe' (or 'driverctl set-override %s "
                   "vfio-pci'), then try again"),
                 b, driver, b, dev, dev, b, b);
  return FALSE;
}

gboolean
vk_pci_host_check_vfio (const char *sysfs_root, const VkBdf *bdf, GError **error)
{
  g_autofree char *b = vk_bdf_format (bdf);
  g_autofree char *dev = g_build_filename (sysfs_root, "bus", "pci", "devices", b, NULL);
  if (!g_file_test (dev, G_FILE_TEST_IS_DIR))
    return vk_pci_host_verdict (bdf, FALSE, NULL, error);
  g_autofree char *link = g_build_filename (dev, "driver", NULL);
  g_autoptr(GError) local = NULL;
  g_autofree char *target = g_file_read_link (link, &local);
  if (target == NULL && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return vk_fail (error, VK_ERROR_FAILED,
                    _("cannot tell which driver host PCI device %s is bound to: %s"),
                    b, local->message);
  g_autofree char *driver = target ? g_path_get_basename (target) : NULL;
  return vk_pci_host_verdict (bdf, TRUE, driver, error);
}
