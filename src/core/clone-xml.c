#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "clone-xml.h"
#include "domain-xml.h"
#include "vk-error.h"

char *
vk_clone_tap_name (const char *name, guint index)
{
  g_autofree char *h = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  return g_strdup_printf ("vk%.8sn%u", h, index % 1000);
}

char *
vk_rewrite_log_path (const char *path, const char *source_name, const char *new_name)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  gsize n = strlen (source_name);
  g_autofree char *nb = NULL;
  if (g_str_equal (base, source_name))
    nb = g_strdup (new_name);
  else if (g_str_has_prefix (base, source_name) && strchr ("-_.", base[n]) != NULL)
    nb = g_strdup_printf ("%s%s", new_name, base + n);
  else
    nb = g_strdup_printf ("%s-%s", new_name, base);
  return g_build_filename (dir, nb, NULL);
}

static void
set_text (xmlNodePtr parent, const char *name, const char *value)
{
  xmlNodePtr n = vk_xml_child (parent, name);
  if (n == NULL)
    n = xmlNewChild (parent, NULL, BAD_CAST name, NULL);
  xmlNodeSetContent (n, BAD_CAST value);
}

static void
rewrite_chardev (xmlNodePtr dev, const char *src, const char *dst)
{
  xmlNodePtr s = vk_xml_child (dev, "source");
  g_autofree char *type = vk_xml_prop (dev, "type");
  if (s != NULL && g_strcmp0 (type, "file") == 0)
    {
      g_autofree char *p = vk_xml_prop (s, "path");
      if (p)
        {
          g_autofree char *np = vk_rewrite_log_path (p, src, dst);
          xmlSetProp (s, BAD_CAST "path", BAD_CAST np);
        }
    }
  /* pty and unix-socket paths are assigned at start; a stale one would
   * point at the source's. */
  if (s != NULL && (g_strcmp0 (type, "pty") == 0))
    xmlUnsetProp (s, BAD_CAST "path");
  if (g_strcmp0 (type, "pty") == 0)
    xmlUnsetProp (dev, BAD_CAST "tty");
  xmlNodePtr log = vk_xml_child (dev, "log");
  if (log != NULL)
    {
      g_autofree char *p = vk_xml_prop (log, "file");
      if (p)
        {
          g_autofree char *np = vk_rewrite_log_path (p, src, dst);
          xmlSetProp (log, BAD_CAST "file", BAD_CAST np);
        }
    }
}

void
vk_clone_nic_host (xmlNodePtr nic, const char *bridge, const char *network)
{
  xmlSetProp (nic, BAD_CAST "type", BAD_CAST (bridge ? "bridge" : "network"));
  xmlNodePtr s;
  while ((s = vk_xml_child (nic, "source")) != NULL)
    {
      xmlUnlinkNode (s);
      xmlFreeNode (s);
    }
  s = xmlNewChild (nic, NULL, BAD_CAST "source", NULL);
  xmlSetProp (s, BAD_CAST (bridge ? "bridge" : "network"), BAD_CAST (bridge ? bridge : network));
}

gboolean
vk_clone_rewrite (xmlDocPtr doc, const char *source_name, const VkCloneRewrite *rw,
                  GError **error)
{
  xmlNodePtr root = vk_domain_root (doc, error);
  if (root == NULL)
    return FALSE;
  set_text (root, "name", rw->name);
  set_text (root, "uuid", rw->uuid);
  xmlUnsetProp (root, BAD_CAST "id");

  xmlNodePtr os = vk_xml_child (root, "os");
  xmlNodePtr nvram = vk_xml_child (os, "nvram");
  if (nvram != NULL)
    {
      if (rw->nvram_path)
        xmlNodeSetContent (nvram, BAD_CAST rw->nvram_path);
      else
        xmlNodeSetContent (nvram, NULL); /* libvirt names one after the clone */
    }

  xmlNodePtr devs = vk_domain_devices (doc);
  guint nic = 0;
  guint ntaps = rw->taps ? g_strv_length ((char **) rw->taps) : 0;
  for (xmlNodePtr n = devs->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      const char *el = (const char *) n->name;
      if (g_str_equal (el, "disk"))
        {
          g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
          xmlNodePtr src = vk_xml_child (n, "source");
          g_autofree char *file = vk_xml_prop (src, "file");
          const char *np = target && rw->disk_paths ? g_hash_table_lookup (rw->disk_paths, target)
                                                   : NULL;
          if (np != NULL)
            {
              xmlSetProp (src, BAD_CAST "file", BAD_CAST np);
              /* the chain libvirt showed for the source is not the clone's */
              xmlNodePtr bs;
              while ((bs = vk_xml_child (n, "backingStore")) != NULL)
                {
                  xmlUnlinkNode (bs);
                  xmlFreeNode (bs);
                }
              const char *fmt = rw->disk_formats ? g_hash_table_lookup (rw->disk_formats, target)
                                                 : NULL;
              xmlNodePtr drv = vk_xml_child (n, "driver");
              if (fmt && drv)
                xmlSetProp (drv, BAD_CAST "type", BAD_CAST fmt);
            }
          else if (file != NULL && vk_xml_child (n, "readonly") == NULL)
            return vk_fail (error, VK_ERROR_REFUSED,
                            _("disk %s (%s) is writable and has no clone of its own; two VMs "
                              "would write the same file"), target ? target : "?", file);
        }
      else if (g_str_equal (el, "interface"))
        {
          const char *tap = nic < ntaps ? rw->taps[nic] : NULL;
          g_autofree char *gen = NULL;
          if (tap == NULL || *tap == '\0')
            tap = gen = vk_clone_tap_name (rw->name, nic);
          xmlNodePtr t = vk_xml_child (n, "target");
          if (t == NULL)
            t = xmlNewChild (n, NULL, BAD_CAST "target", NULL);
          xmlSetProp (t, BAD_CAST "dev", BAD_CAST tap);
          if (rw->bridge || rw->network)
            {
              vk_clone_nic_host (n, rw->bridge, rw->network);
              xmlUnsetProp (t, BAD_CAST "managed");
            }
          nic++;
        }
      else if (g_str_equal (el, "serial") || g_str_equal (el, "console"))
        rewrite_chardev (n, source_name, rw->name);
      else if (g_str_equal (el, "tpm"))
        {
          /* libvirt keys emulated TPM state by UUID; an explicit path
           * would share the source's. */
          xmlNodePtr be = vk_xml_child (n, "backend");
          xmlNodePtr s;
          while (be && (s = vk_xml_child (be, "source")) != NULL)
            {
              xmlUnlinkNode (s);
              xmlFreeNode (s);
            }
        }
    }
  if (ntaps > nic)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%u --tap names given but the image has %u NICs"), ntaps, nic);
  return TRUE;
}
