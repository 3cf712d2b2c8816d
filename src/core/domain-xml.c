#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/xmlsave.h>
#include <string.h>

#include "domain-xml.h"
#include "vk-error.h"

static void
silence_xml_errors (void *ctx, const char *msg, ...)
{
}

static gboolean
is_blank (const xmlChar *text)
{
  for (const xmlChar *p = text; p != NULL && *p != '\0'; p++)
    if (!g_ascii_isspace (*p))
      return FALSE;
  return TRUE;
}

/* XML_PARSE_NOBLANKS keeps the whitespace of an element that has no child
 * element ("<memballoon model='virtio'>\n</memballoon>"). Once pin adds an
 * <address> there, that is mixed content, which libxml2 refuses to indent,
 * so the output would neither read like libvirt's nor be a fixed point of
 * pin. Whitespace carries no meaning anywhere in a domain document. */
static void
drop_blank_text (xmlNodePtr node)
{
  xmlNodePtr c = node->children;
  while (c != NULL)
    {
      xmlNodePtr next = c->next;
      if (c->type == XML_TEXT_NODE && is_blank (c->content) &&
          xmlNodeGetSpacePreserve (node) != 1)
        {
          xmlUnlinkNode (c);
          xmlFreeNode (c);
        }
      else if (c->type == XML_ELEMENT_NODE)
        drop_blank_text (c);
      c = next;
    }
}

/* Without XML_PARSE_NOENT libxml2 neither substitutes entities nor loads
 * external ones, but it keeps entity references in the tree, and reading
 * an element's text or an attribute (xmlNodeGetContent, xmlGetProp)
 * expands them: 300 KB of "&a;" over a 10 KB entity make a gigabyte. Its
 * loop detection stops nested billion laughs, not that. Domain XML,
 * libvirt's other documents and sidecars never have a DOCTYPE, so the
 * parse stops at the first one, before any declaration in it is read. */
static void
refuse_doctype (void *user, const xmlChar *name, const xmlChar *external_id,
                const xmlChar *system_id)
{
  xmlParserCtxtPtr ctxt = user;

  ctxt->_private = (void *) refuse_doctype;
  xmlStopParser (ctxt);
}

xmlDocPtr
vk_xml_parse (const char *text, gssize len, const char *source, GError **error)
{
  if (len < 0)
    len = strlen (text);
  if (len > G_MAXINT)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("%s is too large for an XML document (%" PRIu64
                     " bytes); check the file"), source, (guint64) len);
      return NULL;
    }
  xmlSetGenericErrorFunc (NULL, silence_xml_errors);
  xmlParserCtxtPtr ctxt = xmlNewParserCtxt ();
  if (ctxt == NULL)
    g_error ("out of memory creating an XML parser");
  ctxt->sax->internalSubset = refuse_doctype;
  xmlDocPtr doc = xmlCtxtReadMemory (ctxt, text, (int) len, source, NULL,
                                     XML_PARSE_NONET | XML_PARSE_NOBLANKS |
                                     XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (ctxt->_private == (void *) refuse_doctype)
    {
      g_clear_pointer (&doc, xmlFreeDoc);
      xmlFreeParserCtxt (ctxt);
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("%s has a DOCTYPE declaration, which libvirt domain XML and "
                     "vmkeep sidecars never have (its entities could expand without "
                     "bound); remove it and retry"), source);
      return NULL;
    }
  if (doc == NULL)
    {
      const xmlError *e = xmlCtxtGetLastError (ctxt);
      g_autofree char *msg = e && e->message ? g_strchomp (vk_str_printable (e->message)) : NULL;
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("%s is not well-formed XML (line %d: %s); fix the file and retry"),
                   source, e ? e->line : 0, msg ? msg : "?");
      xmlFreeParserCtxt (ctxt);
      return NULL;
    }
  xmlFreeParserCtxt (ctxt);
  drop_blank_text ((xmlNodePtr) doc);
  return doc;
}

xmlDocPtr
vk_xml_parse_file (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, VK_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   "%s", local->message);
      return NULL;
    }
  return vk_xml_parse (text, len, path, error);
}

char *
vk_xml_format (xmlDocPtr doc)
{
  xmlBufferPtr buf = xmlBufferCreate ();
  xmlSaveCtxtPtr ctx = xmlSaveToBuffer (buf, "UTF-8",
                                        XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
  xmlSaveDoc (ctx, doc);
  xmlSaveClose (ctx);
  char *out = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return out;
}

char *
vk_xml_node_format (xmlNodePtr node)
{
  xmlBufferPtr buf = xmlBufferCreate ();
  xmlNodeDump (buf, node->doc, node, 0, 1);
  char *out = g_strdup_printf ("%s\n", (const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return out;
}

xmlNodePtr
vk_xml_child (xmlNodePtr parent, const char *name)
{
  if (parent == NULL)
    return NULL;
  for (xmlNodePtr c = parent->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST name))
      return c;
  return NULL;
}

xmlNodePtr
vk_xml_find_child (xmlNodePtr parent, VkXmlMatch match, gconstpointer data)
{
  if (parent == NULL)
    return NULL;
  for (xmlNodePtr c = parent->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE && match (c, data))
      return c;
  return NULL;
}

char *
vk_xml_prop (xmlNodePtr node, const char *name)
{
  if (node == NULL)
    return NULL;
  xmlChar *v = xmlGetProp (node, BAD_CAST name);
  if (v == NULL)
    return NULL;
  char *out = g_strdup ((const char *) v);
  xmlFree (v);
  return out;
}

char *
vk_xml_child_prop (xmlNodePtr node, const char *child, const char *name)
{
  return vk_xml_prop (vk_xml_child (node, child), name);
}

char *
vk_xml_child_text (xmlNodePtr node, const char *child)
{
  xmlNodePtr c = vk_xml_child (node, child);
  if (c == NULL)
    return NULL;
  xmlChar *v = xmlNodeGetContent (c);
  char *out = g_strdup (v ? (const char *) v : "");
  xmlFree (v);
  return out;
}

gboolean
vk_xml_prop_uint (xmlNodePtr node, const char *name, guint *out)
{
  g_autofree char *v = vk_xml_prop (node, name);
  if (v == NULL || *v == '\0')
    return FALSE;
  char *end = NULL;
  guint64 n = g_ascii_strtoull (v, &end, 0);
  if (end == v || *end != '\0' || n > G_MAXUINT)
    return FALSE;
  *out = (guint) n;
  return TRUE;
}

xmlNodePtr
vk_domain_root (xmlDocPtr doc, GError **error)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "domain"))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("%s is not a libvirt domain definition (its root element "
                     "is <%s>, expected <domain>)"),
                   doc->URL ? (const char *) doc->URL : "the input",
                   root ? (const char *) root->name : "nothing");
      return NULL;
    }
  return root;
}

xmlNodePtr
vk_domain_devices (xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr devs = vk_xml_child (root, "devices");
  if (devs == NULL)
    devs = xmlNewChild (root, NULL, BAD_CAST "devices", NULL);
  return devs;
}

void
vk_freezable_disk_free (VkFreezableDisk *d)
{
  g_free (d->target);
  g_free (d->path);
  g_free (d->format);
  g_free (d);
}

GPtrArray *
vk_domain_freezable_disks (xmlDocPtr doc, const char *name, const char *who,
                           gboolean qcow2_or_raw, GPtrArray *all_targets, GError **error)
{
  g_autoptr(GPtrArray) out =
    g_ptr_array_new_with_free_func ((GDestroyNotify) vk_freezable_disk_free);
  xmlNodePtr devs = vk_domain_devices (doc);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "disk"))
        continue;
      g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
      g_autofree char *device = vk_xml_prop (n, "device");
      g_autofree char *type = vk_xml_prop (n, "type");
      if (target == NULL)
        continue;
      if (all_targets)
        g_ptr_array_add (all_targets, g_strdup (target));
      if ((device && !g_str_equal (device, "disk")) || vk_xml_child (n, "readonly") != NULL)
        continue;
      if (vk_xml_child (n, "shareable") != NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("disk %s of '%s' is writable and shareable: another VM may write "
                         "it, so %s cannot freeze it; detach it or make it read-only"),
                       target, name, who);
          return NULL;
        }
      g_autofree char *path = vk_xml_child_prop (n, "source", "file");
      if (g_strcmp0 (type, "file") != 0 || path == NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("disk %s of '%s' is not a plain file (type %s); %s freezes "
                         "file-backed disks only (a managed hibernate keeps any disk)"),
                       target, name, type ? type : "?", who);
          return NULL;
        }
      g_autofree char *format = vk_xml_child_prop (n, "driver", "type");
      if (format == NULL)
        format = g_strdup ("raw");
      if (qcow2_or_raw && !g_str_equal (format, "qcow2") && !g_str_equal (format, "raw"))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("disk %s of '%s' has format %s; %s freezes qcow2 and raw disks only"),
                       target, name, format, who);
          return NULL;
        }
      VkFreezableDisk *d = g_new0 (VkFreezableDisk, 1);
      d->target = g_steal_pointer (&target);
      d->path = g_steal_pointer (&path);
      d->format = g_steal_pointer (&format);
      g_ptr_array_add (out, d);
    }
  return g_steal_pointer (&out);
}

char *
vk_domain_name (xmlDocPtr doc)
{
  return vk_xml_child_text (xmlDocGetRootElement (doc), "name");
}

gboolean
vk_domain_machine (xmlDocPtr doc, VkMachine *out, GError **error)
{
  xmlNodePtr root = vk_domain_root (doc, error);
  if (root == NULL)
    return FALSE;
  g_autofree char *m = vk_xml_child_prop (vk_xml_child (root, "os"), "type", "machine");
  return vk_machine_from_string (m, out, error);
}

char *
vk_xml_pci_address_text (xmlNodePtr dev)
{
  guint d, b, s, f;
  if (dev == NULL || !vk_xml_get_pci_address (dev, &d, &b, &s, &f))
    return NULL;
  return g_strdup_printf ("%04x:%02x:%02x.%x", d, b, s, f);
}

void
vk_xml_remove_address (xmlNodePtr dev)
{
  xmlNodePtr a;
  while ((a = vk_xml_child (dev, "address")) != NULL)
    {
      xmlUnlinkNode (a);
      xmlFreeNode (a);
    }
}

void
vk_xml_set_pci_address (xmlNodePtr dev, guint bus, guint slot, guint function)
{
  char buf[16];
  vk_xml_remove_address (dev);
  xmlNodePtr a = xmlNewChild (dev, NULL, BAD_CAST "address", NULL);
  xmlSetProp (a, BAD_CAST "type", BAD_CAST "pci");
  xmlSetProp (a, BAD_CAST "domain", BAD_CAST "0x0000");
  g_snprintf (buf, sizeof buf, "0x%02x", bus);
  xmlSetProp (a, BAD_CAST "bus", BAD_CAST buf);
  g_snprintf (buf, sizeof buf, "0x%02x", slot);
  xmlSetProp (a, BAD_CAST "slot", BAD_CAST buf);
  g_snprintf (buf, sizeof buf, "0x%x", function);
  xmlSetProp (a, BAD_CAST "function", BAD_CAST buf);
}

gboolean
vk_xml_pci_address_attrs (xmlNodePtr address, VkBdf *out, GError **error)
{
  static const char *const names[] = { "domain", "bus", "slot", "function" };
  guint v[G_N_ELEMENTS (names)] = { 0 };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *text = vk_xml_prop (address, names[i]);
      if (text != NULL && !vk_parse_pci_address_attr (names[i], text, &v[i], error))
        return FALSE;
    }
  out->domain = v[0];
  out->bus = v[1];
  out->slot = v[2];
  out->function = v[3];
  return TRUE;
}

gboolean
vk_xml_read_pci_address (xmlNodePtr dev, gboolean *present, VkBdf *out,
                         GError **error)
{
  xmlNodePtr a = vk_xml_child (dev, "address");
  g_autofree char *type = vk_xml_prop (a, "type");
  VkBdf b;

  *present = FALSE;
  if (a == NULL || type == NULL || !g_str_equal (type, "pci"))
    return TRUE;
  /* checked even without slot=: libvirt refuses any malformed attribute */
  if (!vk_xml_pci_address_attrs (a, &b, error))
    return FALSE;
  if (!xmlHasProp (a, BAD_CAST "slot"))
    return TRUE;
  *present = TRUE;
  *out = b;
  return TRUE;
}

gboolean
vk_xml_get_pci_address (xmlNodePtr dev, guint *domain, guint *bus, guint *slot,
                        guint *function)
{
  gboolean present = FALSE;
  VkBdf b;

  if (!vk_xml_read_pci_address (dev, &present, &b, NULL) || !present)
    return FALSE;
  *domain = b.domain;
  *bus = b.bus;
  *slot = b.slot;
  *function = b.function;
  return TRUE;
}
