/* vmkeep — the hibernate sidecar (schema in sidecar.h).
 *
 * The reader is strict because the sidecar is what allows a wake: a field
 * that is silently defaulted could let a VM resume on hardware it was not
 * saved with. The writer runs the reader on its own output, so the two
 * can never drift apart. */
#include "config.h"

#include <arpa/inet.h>
#include <string.h>

#include <glib/gi18n.h>
#include <libxml/tree.h>

#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "save-header.h"
#include "sidecar.h"
#include "trust.h"
#include "validate.h"
#include "vk-error.h"


static VkSidecar *parse_sidecar (const char *text, gssize len,
                                 const char *source, GError **error);

void
vk_frozen_disk_free (VkFrozenDisk *d)
{
  if (d == NULL)
    return;
  g_free (d->target);
  g_free (d->original);
  g_free (d->frozen);
  g_free (d->overlay_sha256);
  g_free (d->meta_sha256);
  g_free (d->format);
  g_free (d);
}

void
vk_sidecar_address_free (VkSidecarAddress *a)
{
  if (a == NULL)
    return;
  g_free (a->mac);
  g_free (a->ip);
  g_free (a->source);
  g_free (a);
}

VkSidecar *
vk_sidecar_new (void)
{
  VkSidecar *sc = g_new0 (VkSidecar, 1);

  sc->frozen_disks = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_frozen_disk_free);
  sc->addresses = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_sidecar_address_free);
  sc->state_format = -1;
  return sc;
}

void
vk_sidecar_free (VkSidecar *sc)
{
  if (sc == NULL)
    return;
  g_free (sc->domain_name);
  g_free (sc->domain_uuid);
  g_clear_pointer (&sc->created, g_date_time_unref);
  g_free (sc->host);
  g_free (sc->libvirt_version);
  g_free (sc->qemu_version);
  g_free (sc->state_file);
  g_free (sc->state_sha256);
  g_free (sc->nvram_path);
  g_free (sc->nvram_sha256);
  g_clear_pointer (&sc->identity, vk_identity_free);
  g_clear_pointer (&sc->frozen_disks, g_ptr_array_unref);
  g_clear_pointer (&sc->addresses, g_ptr_array_unref);
  g_free (sc->domain_xml);
  g_free (sc);
}

const char *
vk_sidecar_mode_to_string (VkSidecarMode mode)
{
  return mode == VK_SIDECAR_IMAGE ? "image" : "managed";
}

/* ------------------------------------------------------------- schema */

/* The attributes of the elements that describe a struct each (<identity>'s
 * <nic>, <disk>, <port> and <device>, <frozen-disks>' <disk>): one table
 * serves the writer and the reader, in the order they stand in the file. */
typedef enum {
  ATTR_STRING,  /* char *, written when set */
  ATTR_UINT,    /* guint, written when required or not 0 */
  ATTR_U64,     /* guint64, written when required or not 0 */
  ATTR_INT,     /* int, written when not -1 (absent) */
  ATTR_BOOL,    /* gboolean, "yes" or "no", always written and required */
  ATTR_SHA256,  /* char *, 64 hex digits, written when set */
} AttrType;

typedef struct {
  const char *name;
  AttrType type;
  gboolean required;
  gsize offset;     /* of the field in the struct */
} Attr;

static const Attr nic_attrs[] = {
  { "mac", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityNic, mac) },
  { "model", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityNic, model) },
  { "queues", ATTR_UINT, FALSE, G_STRUCT_OFFSET (VkIdentityNic, queues) },
  { "address", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityNic, address) },
  { "acpi-index", ATTR_INT, FALSE, G_STRUCT_OFFSET (VkIdentityNic, acpi_index) },
  { "tap", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityNic, tap) },
  { "source-type", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityNic, source_type) },
  { "source", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityNic, source) },
  { NULL },
};

static const Attr disk_attrs[] = {
  { "target", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkIdentityDisk, target) },
  { "bus", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityDisk, bus) },
  { "device", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkIdentityDisk, device) },
  { "address", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityDisk, address) },
  { "readonly", ATTR_BOOL, TRUE, G_STRUCT_OFFSET (VkIdentityDisk, readonly) },
  { "path", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityDisk, path) },
  { "format", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityDisk, format) },
  { "size", ATTR_U64, FALSE, G_STRUCT_OFFSET (VkIdentityDisk, size) },
  { NULL },
};

static const Attr port_attrs[] = {
  { "index", ATTR_UINT, TRUE, G_STRUCT_OFFSET (VkIdentityPort, index) },
  { "model", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityPort, model) },
  { "address", ATTR_STRING, FALSE, G_STRUCT_OFFSET (VkIdentityPort, address) },
  { "chassis", ATTR_INT, FALSE, G_STRUCT_OFFSET (VkIdentityPort, chassis) },
  { "port", ATTR_INT, FALSE, G_STRUCT_OFFSET (VkIdentityPort, port) },
  { NULL },
};

static const Attr device_attrs[] = {
  { "description", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkIdentityDevice, description) },
  { "address", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkIdentityDevice, address) },
  { NULL },
};

static const Attr frozen_disk_attrs[] = {
  { "target", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkFrozenDisk, target) },
  { "original", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkFrozenDisk, original) },
  { "frozen", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkFrozenDisk, frozen) },
  { "format", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkFrozenDisk, format) },
  { "size", ATTR_U64, TRUE, G_STRUCT_OFFSET (VkFrozenDisk, size) },
  { "overlay-sha256", ATTR_SHA256, FALSE, G_STRUCT_OFFSET (VkFrozenDisk, overlay_sha256) },
  { "meta-sha256", ATTR_SHA256, FALSE, G_STRUCT_OFFSET (VkFrozenDisk, meta_sha256) },
  { NULL },
};

/* <addresses><address>: checked further by read_addresses. */
static const Attr address_attrs[] = {
  { "mac", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkSidecarAddress, mac) },
  { "ip", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkSidecarAddress, ip) },
  { "source", ATTR_STRING, TRUE, G_STRUCT_OFFSET (VkSidecarAddress, source) },
  { NULL },
};

/* The children of <identity>, in the order they are written. */
static const struct {
  const char *element;
  const char *ctx;        /* names its attributes in messages */
  gsize size;             /* of the struct */
  gsize list;             /* offset of its GPtrArray in VkIdentity */
  const Attr *attrs;
} identity_elements[] = {
  { "nic", "identity><nic", sizeof (VkIdentityNic),
    G_STRUCT_OFFSET (VkIdentity, nics), nic_attrs },
  { "disk", "identity><disk", sizeof (VkIdentityDisk),
    G_STRUCT_OFFSET (VkIdentity, disks), disk_attrs },
  { "port", "identity><port", sizeof (VkIdentityPort),
    G_STRUCT_OFFSET (VkIdentity, ports), port_attrs },
  { "device", "identity><device", sizeof (VkIdentityDevice),
    G_STRUCT_OFFSET (VkIdentity, devices), device_attrs },
};

/* ------------------------------------------------------------- writing */

static void
set_attr (xmlNodePtr n, const char *name, const char *value)
{
  if (value != NULL)
    xmlSetProp (n, BAD_CAST name, BAD_CAST value);
}

static void
set_attr_u64 (xmlNodePtr n, const char *name, guint64 value)
{
  char buf[32];

  g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, value);
  xmlSetProp (n, BAD_CAST name, BAD_CAST buf);
}

static void
set_attr_int (xmlNodePtr n, const char *name, int value)
{
  if (value >= 0)
    set_attr_u64 (n, name, (guint64) value);
}

static void
add_text (xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *value)
{
  if (value != NULL)
    xmlNewTextChild (parent, ns, BAD_CAST name, BAD_CAST value);
}

/* The attributes of `obj` that `attrs` describes, set on `n`. */
static void
write_attrs (xmlNodePtr n, gconstpointer obj, const Attr *attrs)
{
  for (const Attr *a = attrs; a->name != NULL; a++)
    {
      gconstpointer field = G_STRUCT_MEMBER_P (obj, a->offset);

      switch (a->type)
        {
        case ATTR_STRING:
        case ATTR_SHA256:
          set_attr (n, a->name, *(char *const *) field);
          break;
        case ATTR_UINT:
          if (a->required || *(const guint *) field > 0)
            set_attr_u64 (n, a->name, *(const guint *) field);
          break;
        case ATTR_U64:
          if (a->required || *(const guint64 *) field > 0)
            set_attr_u64 (n, a->name, *(const guint64 *) field);
          break;
        case ATTR_INT:
          set_attr_int (n, a->name, *(const int *) field);
          break;
        case ATTR_BOOL:
          set_attr (n, a->name, *(const gboolean *) field ? "yes" : "no");
          break;
        }
    }
}

static void
write_identity (xmlNodePtr parent, xmlNsPtr ns, const VkIdentity *id)
{
  xmlNodePtr idn = xmlNewChild (parent, ns, BAD_CAST "identity", NULL);

  for (gsize k = 0; k < G_N_ELEMENTS (identity_elements); k++)
    {
      GPtrArray *list = G_STRUCT_MEMBER (GPtrArray *, id, identity_elements[k].list);

      for (guint i = 0; i < list->len; i++)
        {
          xmlNodePtr n = xmlNewChild (idn, ns, BAD_CAST identity_elements[k].element, NULL);

          write_attrs (n, list->pdata[i], identity_elements[k].attrs);
        }
    }
}

/* Drop xmlns="" declarations: they only exist to take the embedded domain
 * out of the sidecar's default namespace and mean nothing to libvirt. */
static void
drop_empty_default_ns (xmlNodePtr n)
{
  xmlNsPtr *link = &n->nsDef;

  while (*link != NULL)
    {
      xmlNsPtr ns = *link;

      if (ns->prefix == NULL && (ns->href == NULL || ns->href[0] == '\0'))
        {
          *link = ns->next;
          ns->next = NULL;
          xmlFreeNs (ns);
        }
      else
        link = &ns->next;
    }
}

static gboolean
embed_domain (xmlNodePtr parent, xmlNsPtr ns, const char *domain_xml,
              GError **error)
{
  g_autoptr(xmlDoc) ddoc = NULL;
  g_autoptr(GError) local = NULL;
  xmlNodePtr wrap, copy;

  if (domain_xml == NULL)
    return TRUE; /* reported by the parse-back check as a missing field */
  ddoc = vk_xml_parse (domain_xml, -1, "domain XML", &local);
  if (ddoc == NULL || vk_domain_root (ddoc, &local) == NULL)
    return vk_fail (error, VK_ERROR_FAILED,
                    _("cannot write the sidecar: the domain XML to record is "
                      "not usable: %s"),
                    local->message);
  wrap = xmlNewChild (parent, ns, BAD_CAST "domain-xml", NULL);
  copy = xmlDocCopyNode (xmlDocGetRootElement (ddoc), parent->doc, 1);
  xmlAddChild (wrap, copy);
  /* Without this the unprefixed <domain> would inherit the sidecar's
   * default namespace when read back. */
  xmlNewNs (copy, BAD_CAST "", NULL);
  return TRUE;
}

static char *
format_created (GDateTime *dt)
{
  g_autoptr(GDateTime) utc = g_date_time_to_utc (dt);

  /* Not g_date_time_format's %Y, which does not pad: year 999 would be
   * written as "999-...", which is no ISO 8601 time the reader takes. */
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02dZ", g_date_time_get_year (utc),
                          g_date_time_get_month (utc), g_date_time_get_day_of_month (utc),
                          g_date_time_get_hour (utc), g_date_time_get_minute (utc),
                          g_date_time_get_second (utc));
}

char *
vk_sidecar_to_xml (const VkSidecar *sc, GError **error)
{
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(VkSidecar) check = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *text = NULL;
  xmlNodePtr root, n;
  xmlNsPtr ns;

  g_return_val_if_fail (sc != NULL, NULL);

  doc = xmlNewDoc (BAD_CAST "1.0");
  root = xmlNewNode (NULL, BAD_CAST "vmkeep-sidecar");
  ns = xmlNewNs (root, BAD_CAST VK_SIDECAR_NS, NULL);
  xmlSetNs (root, ns);
  xmlDocSetRootElement (doc, root);
  set_attr_u64 (root, "version", VK_SIDECAR_VERSION);

  add_text (root, ns, "mode", vk_sidecar_mode_to_string (sc->mode));
  n = xmlNewChild (root, ns, BAD_CAST "domain", NULL);
  set_attr (n, "name", sc->domain_name);
  set_attr (n, "uuid", sc->domain_uuid);
  if (sc->created != NULL)
    {
      g_autofree char *t = format_created (sc->created);
      add_text (root, ns, "created", t);
    }
  add_text (root, ns, "host", sc->host);
  add_text (root, ns, "libvirt-version", sc->libvirt_version);
  add_text (root, ns, "qemu-version", sc->qemu_version);
  if (sc->identity != NULL)
    add_text (root, ns, "machine", sc->identity->machine);
  if (sc->state_file != NULL)
    {
      g_autofree char *lower = NULL;

      n = xmlNewChild (root, ns, BAD_CAST "state", NULL);
      set_attr (n, "file", sc->state_file);
      if (sc->has_state_size)
        set_attr_u64 (n, "size", sc->state_size);
      if (sc->state_sha256 != NULL)
        lower = g_ascii_strdown (sc->state_sha256, -1);
      set_attr (n, "sha256", lower);
      if (sc->state_format >= 0)
        set_attr (n, "format", vk_save_format_name ((guint32) sc->state_format));
      if (sc->state_channels > 1)
        set_attr_u64 (n, "channels", sc->state_channels);
    }
  if (sc->nvram_path != NULL)
    {
      g_autofree char *lower = NULL;

      n = xmlNewChild (root, ns, BAD_CAST "nvram", NULL);
      set_attr (n, "path", sc->nvram_path);
      if (sc->nvram_sha256 != NULL)
        lower = g_ascii_strdown (sc->nvram_sha256, -1);
      set_attr (n, "sha256", lower);
    }
  n = xmlNewChild (root, ns, BAD_CAST "tpm", NULL);
  set_attr (n, "present", sc->tpm ? "yes" : "no");
  if (sc->identity != NULL)
    write_identity (root, ns, sc->identity);
  /* Only when there are any: a sidecar without addresses stays what
   * vmkeep wrote before they were recorded. */
  if (sc->addresses != NULL && sc->addresses->len > 0)
    {
      xmlNodePtr an = xmlNewChild (root, ns, BAD_CAST "addresses", NULL);

      for (guint i = 0; i < sc->addresses->len; i++)
        {
          n = xmlNewChild (an, ns, BAD_CAST "address", NULL);
          write_attrs (n, sc->addresses->pdata[i], address_attrs);
        }
    }
  if (sc->frozen_disks != NULL && sc->frozen_disks->len > 0)
    {
      xmlNodePtr fd = xmlNewChild (root, ns, BAD_CAST "frozen-disks", NULL);

      for (guint i = 0; i < sc->frozen_disks->len; i++)
        {
          const VkFrozenDisk *d = sc->frozen_disks->pdata[i];

          n = xmlNewChild (fd, ns, BAD_CAST "disk", NULL);
          write_attrs (n, d, frozen_disk_attrs);
        }
    }
  if (!embed_domain (root, ns, sc->domain_xml, error))
    return NULL;

  text = vk_xml_format (doc);
  check = parse_sidecar (text, -1, NULL, &local);
  if (check == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("vmkeep refused to write an invalid sidecar for domain "
                     "%s (a bug in vmkeep; please report it): %s"),
                   sc->domain_name != NULL ? sc->domain_name : "?",
                   local->message);
      return NULL;
    }
  return g_steal_pointer (&text);
}

/* ------------------------------------------------------------- reading */

typedef struct {
  const char *source;   /* NULL: checking what vk_sidecar_to_xml made */
  GError **error;
} Reader;

/* One message shape for every refusal: which file, which field, what is
 * wrong, what to do. */
static gboolean
refuse (Reader *r, const char *field, const char *problem)
{
  if (r->source == NULL)
    g_set_error (r->error, VK_ERROR, VK_ERROR_REFUSED, "%s %s", field, problem);
  else
    g_set_error (r->error, VK_ERROR, VK_ERROR_REFUSED,
                 _("sidecar %s: %s %s; the file is damaged or was not written "
                   "by vmkeep: restore it from a backup, or discard the saved "
                   "state it describes"),
                 r->source, field, problem);
  return FALSE;
}

static gboolean
refuse_value (Reader *r, const char *field, const char *value,
              const char *expected)
{
  g_autofree char *esc = g_strescape (value, NULL);
  g_autofree char *problem = NULL;

  if (strlen (esc) > 80)
    esc[80] = '\0';
  problem = g_strdup_printf (_("has the invalid value “%s” (expected %s)"),
                             esc, expected);
  return refuse (r, field, problem);
}

static gboolean
in_ns (xmlNodePtr n)
{
  return n->ns != NULL && xmlStrEqual (n->ns->href, BAD_CAST VK_SIDECAR_NS);
}

static char *
field_name (const char *element, const char *attr)
{
  if (attr == NULL)
    return g_strdup_printf ("<%s>", element);
  return g_strdup_printf ("<%s %s>", element, attr);
}

/* Required (required = TRUE) or optional attribute, non-empty when set. */
static gboolean
get_attr (Reader *r, xmlNodePtr n, const char *ctx, const char *attr,
          gboolean required, char **out)
{
  g_autofree char *v = vk_xml_prop (n, attr);
  g_autofree char *field = field_name (ctx, attr);

  if (v == NULL)
    {
      *out = NULL;
      return required ? refuse (r, field, _("is missing")) : TRUE;
    }
  if (v[0] == '\0')
    return refuse (r, field, _("is empty"));
  *out = g_steal_pointer (&v);
  return TRUE;
}

static gboolean
get_text (Reader *r, xmlNodePtr n, const char *name, char **out)
{
  xmlChar *v = xmlNodeGetContent (n);
  g_autofree char *field = field_name (name, NULL);
  g_autofree char *t = g_strstrip (g_strdup (v != NULL ? (const char *) v : ""));

  xmlFree (v);
  for (xmlNodePtr c = n->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      return refuse (r, field, _("must hold text, not elements"));
  if (t[0] == '\0')
    return refuse (r, field, _("is empty"));
  *out = g_steal_pointer (&t);
  return TRUE;
}

static gboolean
parse_u64 (Reader *r, const char *field, const char *text, guint64 max,
           guint64 *out)
{
  guint64 v = 0;

  if (text[0] == '\0' || strlen (text) > 20)
    return refuse_value (r, field, text, _("a decimal number"));
  for (const char *p = text; *p != '\0'; p++)
    {
      guint d;

      if (!g_ascii_isdigit (*p))
        return refuse_value (r, field, text, _("a decimal number"));
      d = (guint) (*p - '0');
      if (v > (G_MAXUINT64 - d) / 10)
        return refuse_value (r, field, text, _("a decimal number"));
      v = v * 10 + d;
    }
  if (v > max)
    return refuse_value (r, field, text, _("a smaller number"));
  *out = v;
  return TRUE;
}

static gboolean
get_attr_u64 (Reader *r, xmlNodePtr n, const char *ctx, const char *attr,
              gboolean required, guint64 max, gboolean *present, guint64 *out)
{
  g_autofree char *v = NULL;
  g_autofree char *field = field_name (ctx, attr);

  if (!get_attr (r, n, ctx, attr, required, &v))
    return FALSE;
  if (present != NULL)
    *present = v != NULL;
  if (v == NULL)
    return TRUE;
  return parse_u64 (r, field, v, max, out);
}

static gboolean
get_attr_int (Reader *r, xmlNodePtr n, const char *ctx, const char *attr,
              int *out)
{
  gboolean present = FALSE;
  guint64 v = 0;

  if (!get_attr_u64 (r, n, ctx, attr, FALSE, G_MAXINT, &present, &v))
    return FALSE;
  *out = present ? (int) v : -1;
  return TRUE;
}

static gboolean
get_attr_bool (Reader *r, xmlNodePtr n, const char *ctx, const char *attr,
               gboolean *out)
{
  g_autofree char *v = NULL;
  g_autofree char *field = field_name (ctx, attr);

  if (!get_attr (r, n, ctx, attr, TRUE, &v))
    return FALSE;
  if (g_str_equal (v, "yes"))
    *out = TRUE;
  else if (g_str_equal (v, "no"))
    *out = FALSE;
  else
    return refuse_value (r, field, v, "yes or no");
  return TRUE;
}

static gboolean
check_sha256 (Reader *r, const char *field, char **value)
{
  gsize len = strlen (*value);
  char *lower;

  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit ((*value)[i]))
      return refuse_value (r, field, *value, _("64 hex digits"));
  if (len != 64)
    return refuse_value (r, field, *value, _("64 hex digits"));
  lower = g_ascii_strdown (*value, -1);
  g_free (*value);
  *value = lower;
  return TRUE;
}

static gboolean
get_attr_sha256 (Reader *r, xmlNodePtr n, const char *ctx, const char *attr,
                 gboolean required, char **out)
{
  g_autofree char *field = field_name (ctx, attr);

  if (!get_attr (r, n, ctx, attr, required, out))
    return FALSE;
  return *out == NULL || check_sha256 (r, field, out);
}

static gboolean
valid_uuid (const char *s)
{
  if (strlen (s) != 36)
    return FALSE;
  for (int i = 0; i < 36; i++)
    {
      gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash ? s[i] != '-' : !g_ascii_isxdigit (s[i]))
        return FALSE;
    }
  return TRUE;
}

static gboolean
valid_version (const char *s)
{
  gboolean digit = FALSE;

  for (const char *p = s; *p != '\0'; p++)
    {
      if (g_ascii_isdigit (*p))
        digit = TRUE;
      else if (*p == '.' && digit)
        digit = FALSE;
      else
        return FALSE;
    }
  return digit;
}

/* image mode: a name inside the image directory, so an imported image can
 * never point vmkeep at a file outside it. */
static gboolean
plain_file_name (const char *s)
{
  return s[0] != '\0' && strchr (s, '/') == NULL && !g_str_equal (s, ".") &&
         !g_str_equal (s, "..");
}

/* Unknown children in our namespace are refused; any other namespace is
 * an extension point and skipped. */
static gboolean
check_child (Reader *r, xmlNodePtr c, const char *parent, const char *const *known)
{
  if (c->ns != NULL && !in_ns (c))
    return TRUE;
  if (in_ns (c) && g_strv_contains (known, (const char *) c->name))
    return TRUE;
  {
    g_autofree char *field = g_strdup_printf ("<%s><%s>", parent, c->name);
    g_autofree char *problem = NULL;

    if (c->ns == NULL)
      problem = g_strdup_printf (_("is not in the sidecar namespace %s"),
                                 VK_SIDECAR_NS);
    else
      problem = g_strdup (_("is not a known sidecar element"));
    return refuse (r, field, problem);
  }
}

/* The attributes `attrs` describes, from `n` into `obj`; `ctx` names the
 * element in messages. */
static gboolean
read_attrs (Reader *r, xmlNodePtr n, const char *ctx, gpointer obj, const Attr *attrs)
{
  for (const Attr *a = attrs; a->name != NULL; a++)
    {
      gpointer field = G_STRUCT_MEMBER_P (obj, a->offset);
      guint64 v = 0;
      gboolean ok = FALSE;

      switch (a->type)
        {
        case ATTR_STRING:
          ok = get_attr (r, n, ctx, a->name, a->required, field);
          break;
        case ATTR_UINT:
          ok = get_attr_u64 (r, n, ctx, a->name, a->required, G_MAXUINT, NULL, &v);
          *(guint *) field = (guint) v;
          break;
        case ATTR_U64:
          ok = get_attr_u64 (r, n, ctx, a->name, a->required, G_MAXUINT64, NULL, field);
          break;
        case ATTR_INT:
          ok = get_attr_int (r, n, ctx, a->name, field);
          break;
        case ATTR_BOOL:
          ok = get_attr_bool (r, n, ctx, a->name, field);
          break;
        case ATTR_SHA256:
          ok = get_attr_sha256 (r, n, ctx, a->name, a->required, field);
          break;
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_identity (Reader *r, xmlNodePtr idn, VkIdentity *id)
{
  static const char *const known[] = { "nic", "disk", "port", "device", NULL };

  for (xmlNodePtr c = idn->children; c != NULL; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE)
        continue;
      if (!check_child (r, c, "identity", known))
        return FALSE;
      if (!in_ns (c))
        continue;
      for (gsize k = 0; k < G_N_ELEMENTS (identity_elements); k++)
        {
          GPtrArray *list;
          gpointer obj;

          if (!g_str_equal ((const char *) c->name, identity_elements[k].element))
            continue;
          list = G_STRUCT_MEMBER (GPtrArray *, id, identity_elements[k].list);
          obj = g_malloc0 (identity_elements[k].size);
          g_ptr_array_add (list, obj);
          if (!read_attrs (r, c, identity_elements[k].ctx, obj, identity_elements[k].attrs))
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
read_frozen (Reader *r, xmlNodePtr fdn, GPtrArray *out)
{
  static const char *const known[] = { "disk", NULL };

  for (xmlNodePtr c = fdn->children; c != NULL; c = c->next)
    {
      VkFrozenDisk *d;

      if (c->type != XML_ELEMENT_NODE)
        continue;
      if (!check_child (r, c, "frozen-disks", known))
        return FALSE;
      if (!in_ns (c))
        continue;
      d = g_new0 (VkFrozenDisk, 1);
      g_ptr_array_add (out, d);
      if (!read_attrs (r, c, "frozen-disks><disk", d, frozen_disk_attrs))
        return FALSE;
      if (!vk_path_is_plain (d->original))
        return refuse_value (r, "<frozen-disks><disk original>", d->original,
                             _("an absolute path without '.', '..' or empty components"));
      if (!vk_path_is_plain (d->frozen))
        return refuse_value (r, "<frozen-disks><disk frozen>", d->frozen,
                             _("an absolute path without '.', '..' or empty components"));
      if (!g_str_equal (d->format, "qcow2") && !g_str_equal (d->format, "raw"))
        return refuse_value (r, "<frozen-disks><disk format>", d->format, _("qcow2 or raw"));
    }
  return TRUE;
}

/* Unprefixed attributes of `n` that `attrs` does not describe are refused
 * (a typo such as "adress" must not pass); those of other namespaces are
 * ignored, as elements are. */
static gboolean
check_attrs (Reader *r, xmlNodePtr n, const char *ctx, const Attr *attrs)
{
  for (xmlAttrPtr p = n->properties; p != NULL; p = p->next)
    {
      const Attr *a;

      if (p->ns != NULL)
        continue;
      for (a = attrs; a->name != NULL; a++)
        if (xmlStrEqual (p->name, BAD_CAST a->name))
          break;
      if (a->name == NULL)
        {
          g_autofree char *field = field_name (ctx, (const char *) p->name);
          return refuse (r, field, _("is not a known sidecar attribute"));
        }
    }
  return TRUE;
}

/* `*ip` in inet_ntop's form; FALSE when it is neither IPv4 nor IPv6. */
static gboolean
normalize_ip (char **ip)
{
  char buf[INET6_ADDRSTRLEN];
  guint8 bin[16];
  int af = AF_INET;

  if (inet_pton (AF_INET, *ip, bin) != 1)
    {
      af = AF_INET6;
      if (inet_pton (AF_INET6, *ip, bin) != 1)
        return FALSE;
    }
  if (inet_ntop (af, bin, buf, sizeof buf) == NULL)
    return FALSE;
  g_free (*ip);
  *ip = g_strdup (buf);
  return TRUE;
}

static gboolean
read_addresses (Reader *r, xmlNodePtr an, GPtrArray *out)
{
  static const char *const known[] = { "address", NULL };
  static const char *const sources[] = { "lease", "agent", "arp", NULL };

  for (xmlNodePtr c = an->children; c != NULL; c = c->next)
    {
      VkSidecarAddress *a;
      char *mac;

      if (c->type != XML_ELEMENT_NODE)
        continue;
      if (!check_child (r, c, "addresses", known))
        return FALSE;
      if (!in_ns (c))
        continue;
      if (out->len >= VK_SIDECAR_ADDRESSES_MAX)
        {
          g_autofree char *p = g_strdup_printf (_("has more than %d <address> entries"),
                                                VK_SIDECAR_ADDRESSES_MAX);
          return refuse (r, "<addresses>", p);
        }
      a = g_new0 (VkSidecarAddress, 1);
      g_ptr_array_add (out, a);
      if (!check_attrs (r, c, "addresses><address", address_attrs) ||
          !read_attrs (r, c, "addresses><address", a, address_attrs))
        return FALSE;
      mac = vk_mac_normalize (a->mac, NULL);
      if (mac == NULL)
        return refuse_value (r, "<addresses><address mac>", a->mac,
                             _("a unicast MAC address such as 52:54:00:aa:bb:cc"));
      g_free (a->mac);
      a->mac = mac;
      if (!normalize_ip (&a->ip))
        return refuse_value (r, "<addresses><address ip>", a->ip,
                             _("an IPv4 or IPv6 address such as 10.0.0.2 or fe80::1"));
      if (!g_strv_contains (sources, a->source))
        return refuse_value (r, "<addresses><address source>", a->source,
                             _("lease, agent or arp"));
      for (guint i = 0; i + 1 < out->len; i++)
        {
          const VkSidecarAddress *b = out->pdata[i];

          if (g_str_equal (a->mac, b->mac) && g_str_equal (a->ip, b->ip))
            {
              g_autofree char *p = g_strdup_printf (_("lists MAC %s with IP %s twice"),
                                                    a->mac, a->ip);
              return refuse (r, "<addresses>", p);
            }
        }
    }
  return TRUE;
}

/* The one <domain> inside <domain-xml>, as a standalone document. */
static xmlDocPtr
read_domain (Reader *r, xmlNodePtr wrap)
{
  xmlNodePtr dom = NULL;
  xmlDocPtr ddoc;
  xmlNodePtr copy;

  for (xmlNodePtr c = wrap->children; c != NULL; c = c->next)
    {
      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
        {
          g_autofree char *t = g_strstrip (g_strdup ((const char *) c->content));
          if (t[0] != '\0')
            {
              refuse (r, "<domain-xml>",
                      _("holds text instead of the <domain> element"));
              return NULL;
            }
        }
      if (c->type != XML_ELEMENT_NODE)
        continue;
      if (dom != NULL || c->ns != NULL || !xmlStrEqual (c->name, BAD_CAST "domain"))
        {
          refuse (r, "<domain-xml>",
                  _("must hold exactly one libvirt <domain> element (without "
                    "a namespace)"));
          return NULL;
        }
      dom = c;
    }
  if (dom == NULL)
    {
      refuse (r, "<domain-xml>", _("is empty (it must hold the domain XML)"));
      return NULL;
    }
  ddoc = xmlNewDoc (BAD_CAST "1.0");
  copy = xmlDocCopyNode (dom, ddoc, 1);
  xmlDocSetRootElement (ddoc, copy);
  drop_empty_default_ns (copy);
  return ddoc;
}

typedef enum {
  F_MODE, F_DOMAIN, F_CREATED, F_HOST, F_LIBVIRT, F_QEMU, F_MACHINE, F_STATE,
  F_NVRAM, F_TPM, F_IDENTITY, F_FROZEN, F_ADDRESSES, F_DOMAIN_XML, N_FIELDS
} Field;

static const char *const field_elements[] = {
  "mode", "domain", "created", "host", "libvirt-version", "qemu-version",
  "machine", "state", "nvram", "tpm", "identity", "frozen-disks", "addresses",
  "domain-xml",
  NULL
};
G_STATIC_ASSERT (G_N_ELEMENTS (field_elements) == N_FIELDS + 1);

/* Fields every sidecar has (state depends on the mode, nvram,
 * frozen-disks and addresses are optional). */
static const Field required_fields[] = {
  F_MODE, F_DOMAIN, F_CREATED, F_HOST, F_LIBVIRT, F_QEMU, F_MACHINE, F_TPM,
  F_IDENTITY, F_DOMAIN_XML,
};

static gboolean
read_fields (Reader *r, xmlNodePtr *el, VkSidecar *sc, xmlDocPtr *ddoc_out)
{
  g_autofree char *mode = NULL;
  g_autofree char *created = NULL;
  g_autofree char *machine = NULL;
  g_autoptr(GDateTime) dt = NULL;
  g_autoptr(xmlDoc) ddoc = NULL;

  if (!get_text (r, el[F_MODE], "mode", &mode))
    return FALSE;
  if (g_str_equal (mode, "managed"))
    sc->mode = VK_SIDECAR_MANAGED;
  else if (g_str_equal (mode, "image"))
    sc->mode = VK_SIDECAR_IMAGE;
  else
    return refuse_value (r, "<mode>", mode, "managed or image");

  if (!get_attr (r, el[F_DOMAIN], "domain", "name", TRUE, &sc->domain_name) ||
      !get_attr (r, el[F_DOMAIN], "domain", "uuid", TRUE, &sc->domain_uuid))
    return FALSE;
  if (!valid_uuid (sc->domain_uuid))
    return refuse_value (r, "<domain uuid>", sc->domain_uuid,
                         _("a UUID such as 4dea22b3-1d52-d8f3-2516-782e98ab3fa0"));
  {
    char *lower = g_ascii_strdown (sc->domain_uuid, -1);
    g_free (sc->domain_uuid);
    sc->domain_uuid = lower;
  }

  if (!get_text (r, el[F_CREATED], "created", &created))
    return FALSE;
  /* A zone is required (NULL default zone): a bare local time would mean
   * something different on the host that reads it. */
  dt = g_date_time_new_from_iso8601 (created, NULL);
  /* A time at the edge of GDateTime's range (0001-01-01T00:30+01:00) has
   * no UTC equivalent: g_date_time_to_utc gives NULL. */
  if (dt != NULL)
    sc->created = g_date_time_to_utc (dt);
  if (sc->created == NULL)
    return refuse_value (r, "<created>", created,
                         _("an ISO 8601 time with zone, e.g. 2024-05-01T12:34:56Z"));

  if (!get_text (r, el[F_HOST], "host", &sc->host) ||
      !get_text (r, el[F_LIBVIRT], "libvirt-version", &sc->libvirt_version) ||
      !get_text (r, el[F_QEMU], "qemu-version", &sc->qemu_version) ||
      !get_text (r, el[F_MACHINE], "machine", &machine))
    return FALSE;
  if (!valid_version (sc->libvirt_version))
    return refuse_value (r, "<libvirt-version>", sc->libvirt_version,
                         _("a dotted version such as 9.0.0"));
  if (!valid_version (sc->qemu_version))
    return refuse_value (r, "<qemu-version>", sc->qemu_version,
                         _("a dotted version such as 7.2.0"));

  if (el[F_STATE] != NULL)
    {
      gboolean image = sc->mode == VK_SIDECAR_IMAGE;

      if (!get_attr (r, el[F_STATE], "state", "file", TRUE, &sc->state_file) ||
          !get_attr_u64 (r, el[F_STATE], "state", "size", image, G_MAXUINT64,
                         &sc->has_state_size, &sc->state_size) ||
          !get_attr_sha256 (r, el[F_STATE], "state", "sha256", image,
                            &sc->state_sha256))
        return FALSE;
      g_autofree char *fmt = NULL;
      gboolean has_channels = FALSE;
      guint64 channels = 0;
      if (!get_attr (r, el[F_STATE], "state", "format", FALSE, &fmt) ||
          !get_attr_u64 (r, el[F_STATE], "state", "channels", FALSE, 1024, &has_channels,
                         &channels))
        return FALSE;
      if (fmt != NULL && (sc->state_format = vk_save_format_from_name (fmt)) < 0)
        return refuse_value (r, "<state format>", fmt,
                             _("one of raw, gzip, bzip2, xz, lzop, zstd, sparse"));
      if (has_channels && channels < 1)
        return refuse_value (r, "<state channels>", "0", _("a number from 1 to 1024"));
      sc->state_channels = has_channels ? (guint) channels : 0;
      if (image && !plain_file_name (sc->state_file))
        return refuse_value (r, "<state file>", sc->state_file,
                             _("a plain file name in the image directory, e.g. state.sav"));
      if (!image && !g_path_is_absolute (sc->state_file))
        return refuse_value (r, "<state file>", sc->state_file,
                             _("an absolute path in managed mode"));
    }
  else if (sc->mode == VK_SIDECAR_IMAGE)
    return refuse (r, "<state>", _("is missing (required in image mode)"));

  if (el[F_NVRAM] != NULL &&
      (!get_attr (r, el[F_NVRAM], "nvram", "path", TRUE, &sc->nvram_path) ||
       !get_attr_sha256 (r, el[F_NVRAM], "nvram", "sha256", FALSE, &sc->nvram_sha256)))
    return FALSE;

  if (!get_attr_bool (r, el[F_TPM], "tpm", "present", &sc->tpm))
    return FALSE;

  sc->identity = vk_identity_new ();
  sc->identity->machine = g_steal_pointer (&machine);
  if (!read_identity (r, el[F_IDENTITY], sc->identity))
    return FALSE;
  if (el[F_FROZEN] != NULL && !read_frozen (r, el[F_FROZEN], sc->frozen_disks))
    return FALSE;
  if (el[F_ADDRESSES] != NULL && !read_addresses (r, el[F_ADDRESSES], sc->addresses))
    return FALSE;

  ddoc = read_domain (r, el[F_DOMAIN_XML]);
  if (ddoc == NULL)
    return FALSE;
  *ddoc_out = g_steal_pointer (&ddoc);
  return TRUE;
}

/* The header fields and the identity table are what wake and image list
 * read; the embedded XML is what gets restored. They must agree. */
static gboolean
check_consistent (Reader *r, VkSidecar *sc, xmlDocPtr ddoc)
{
  xmlNodePtr droot = xmlDocGetRootElement (ddoc);
  g_autofree char *name = vk_xml_child_text (droot, "name");
  g_autofree char *uuid = vk_xml_child_text (droot, "uuid");
  g_autoptr(VkIdentity) actual = vk_identity_from_domain (ddoc, NULL);
  g_autoptr(GPtrArray) diffs = NULL;

  if (name == NULL || !g_str_equal (g_strstrip (name), sc->domain_name))
    {
      g_autofree char *p = g_strdup_printf (
        _("names domain “%s”, but the embedded domain XML is “%s”"),
        sc->domain_name, name != NULL ? name : _("(none)"));
      return refuse (r, "<domain name>", p);
    }
  if (uuid == NULL || g_ascii_strcasecmp (g_strstrip (uuid), sc->domain_uuid) != 0)
    {
      g_autofree char *p = g_strdup_printf (
        _("is %s, but the embedded domain XML has UUID %s"),
        sc->domain_uuid, uuid != NULL ? uuid : _("(none)"));
      return refuse (r, "<domain uuid>", p);
    }
  if (actual == NULL)
    return refuse (r, "<domain-xml>", _("is not a libvirt domain"));
  diffs = vk_identity_compare (sc->identity, actual);
  if (diffs->len > 0)
    {
      g_autofree char *p = g_strdup_printf (
        _("does not match the embedded domain XML (%s%s)"),
        (const char *) diffs->pdata[0], diffs->len > 1 ? ", …" : "");
      return refuse (r, "<identity>", p);
    }
  return TRUE;
}

/* `source` NULL: vk_sidecar_to_xml checking its own output, where advice
 * about restoring the file from a backup would be wrong. */
static VkSidecar *
parse_sidecar (const char *text, gssize len, const char *source,
               GError **error)
{
  g_autoptr(VkSidecar) sc = NULL;
  g_autoptr(xmlDoc) doc = NULL;
  g_autoptr(xmlDoc) ddoc = NULL;
  g_autoptr(GError) local = NULL;
  g_autofree char *version = NULL;
  xmlNodePtr el[N_FIELDS] = { NULL };
  Reader r = { source, error };
  xmlNodePtr root;

  if (source == NULL)
    source = "sidecar";
  doc = vk_xml_parse (text, len, source, &local);
  if (doc == NULL)
    {
      /* The message already names the file and the line. */
      g_set_error_literal (error, VK_ERROR, VK_ERROR_REFUSED, local->message);
      return NULL;
    }
  root = xmlDocGetRootElement (doc);
  if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "vmkeep-sidecar"))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s is not a vmkeep sidecar (its root element is <%s>, "
                     "expected <vmkeep-sidecar>); check the path"),
                   source, root != NULL ? (const char *) root->name : "");
      return NULL;
    }
  if (!in_ns (root))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("sidecar %s: <vmkeep-sidecar> is in the namespace “%s”, "
                     "expected “%s”; it was not written by this vmkeep"),
                   source,
                   root->ns != NULL ? (const char *) root->ns->href : _("(none)"),
                   VK_SIDECAR_NS);
      return NULL;
    }
  version = vk_xml_prop (root, "version");
  if (version == NULL)
    {
      refuse (&r, "<vmkeep-sidecar version>", _("is missing"));
      return NULL;
    }
  if (!g_str_equal (version, G_STRINGIFY (VK_SIDECAR_VERSION)))
    {
      g_autofree char *esc = g_strescape (version, NULL);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("sidecar %s has version “%s”; this vmkeep reads version "
                     "%d only: use the vmkeep release that wrote it"),
                   source, esc, VK_SIDECAR_VERSION);
      return NULL;
    }

  for (xmlNodePtr c = root->children; c != NULL; c = c->next)
    {
      int f;

      if (c->type != XML_ELEMENT_NODE)
        continue;
      if (!check_child (&r, c, "vmkeep-sidecar", field_elements))
        return NULL;
      if (!in_ns (c))
        continue;
      for (f = 0; f < N_FIELDS; f++)
        if (xmlStrEqual (c->name, BAD_CAST field_elements[f]))
          break;
      if (el[f] != NULL)
        {
          g_autofree char *field = field_name ((const char *) c->name, NULL);
          refuse (&r, field, _("appears more than once"));
          return NULL;
        }
      el[f] = c;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (required_fields); i++)
    if (el[required_fields[i]] == NULL)
      {
        g_autofree char *field = field_name (field_elements[required_fields[i]], NULL);
        refuse (&r, field, _("is missing"));
        return NULL;
      }

  sc = vk_sidecar_new ();
  if (!read_fields (&r, el, sc, &ddoc) || !check_consistent (&r, sc, ddoc))
    return NULL;
  sc->domain_xml = vk_xml_format (ddoc);
  return g_steal_pointer (&sc);
}

VkSidecar *
vk_sidecar_parse (const char *text, gssize len, const char *source,
                  GError **error)
{
  g_return_val_if_fail (text != NULL && source != NULL, NULL);

  return parse_sidecar (text, len, source, error);
}

VkSidecar *
vk_sidecar_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr(GError) local = NULL;
  gsize len = 0;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, VK_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   _("cannot read sidecar: %s"), local->message);
      return NULL;
    }
  return vk_sidecar_parse (text, (gssize) len, path, error);
}

gboolean
vk_sidecar_save (const VkSidecar *sc, const char *path, GError **error)
{
  g_autofree char *text = vk_sidecar_to_xml (sc, error);

  if (text == NULL)
    return FALSE;
  return vk_file_write_atomic (path, text, strlen (text), 0600, error);
}
