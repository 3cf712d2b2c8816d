/* vmkeep — an image as an OCI artifact. See oci.h. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "json-build.h"
#include "manifest.h"
#include "oci.h"
#include "sha256.h"
#include "validate.h"
#include "vk-error.h"

/* The longest title vmkeep writes is "disks/" + a target + an index and
 * an extension; a file name of the image, never a path of the host. */
#define TITLE_MAX 255

VkOciDescriptor *
vk_oci_descriptor_new (const char *media_type, const char *digest, guint64 size,
                       const char *title)
{
  VkOciDescriptor *d = g_new0 (VkOciDescriptor, 1);
  d->media_type = g_strdup (media_type);
  d->digest = g_strdup (digest);
  d->size = size;
  d->title = g_strdup (title);
  return d;
}

void
vk_oci_descriptor_free (VkOciDescriptor *d)
{
  if (d == NULL)
    return;
  g_free (d->media_type);
  g_free (d->digest);
  g_free (d->title);
  g_free (d);
}

VkOciManifest *
vk_oci_manifest_new (void)
{
  VkOciManifest *m = g_new0 (VkOciManifest, 1);
  m->artifact_type = g_strdup (VK_OCI_ARTIFACT_TYPE);
  m->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_oci_descriptor_free);
  return m;
}

void
vk_oci_manifest_free (VkOciManifest *m)
{
  if (m == NULL)
    return;
  g_free (m->artifact_type);
  g_ptr_array_unref (m->layers);
  g_free (m->created);
  g_free (m->title);
  g_free (m);
}

gboolean
vk_oci_digest_ok (const char *digest)
{
  if (digest == NULL || !g_str_has_prefix (digest, "sha256:") || strlen (digest) != 7 + 64)
    return FALSE;
  for (const char *p = digest + 7; *p; p++)
    if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
      return FALSE;
  return TRUE;
}

char *
vk_oci_digest_of (const void *data, gsize len)
{
  g_autoptr(VkSha256) s = vk_sha256_new ();
  vk_sha256_update (s, data, len);
  g_autofree char *hex = vk_sha256_hex (s);
  return g_strconcat ("sha256:", hex, NULL);
}

char *
vk_oci_blob_path (const char *layout, const char *digest)
{
  g_return_val_if_fail (vk_oci_digest_ok (digest), NULL);
  return g_build_filename (layout, "blobs", "sha256", digest + 7, NULL);
}

/* ---- writing ----------------------------------------------------------- */

static void
descriptor_json (JsonBuilder *b, const char *media_type, const char *digest, guint64 size,
                 const char *artifact_type, const char *ann_name, const char *ann_value)
{
  json_builder_begin_object (b);
  vk_json_str (b, "mediaType", media_type);
  vk_json_str (b, "digest", digest);
  vk_json_int (b, "size", (gint64) size);
  if (artifact_type)
    vk_json_str (b, "artifactType", artifact_type);
  if (ann_value)
    {
      json_builder_set_member_name (b, "annotations");
      json_builder_begin_object (b);
      vk_json_str (b, ann_name, ann_value);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
}

char *
vk_oci_manifest_text (const VkOciManifest *m)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  vk_json_int (b, "schemaVersion", 2);
  vk_json_str (b, "mediaType", VK_OCI_MEDIA_MANIFEST);
  vk_json_str (b, "artifactType", m->artifact_type);
  json_builder_set_member_name (b, "config");
  descriptor_json (b, VK_OCI_MEDIA_EMPTY, VK_OCI_EMPTY_DIGEST, strlen (VK_OCI_EMPTY_DATA), NULL,
                   NULL, NULL);
  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint i = 0; i < m->layers->len; i++)
    {
      const VkOciDescriptor *d = m->layers->pdata[i];
      descriptor_json (b, d->media_type, d->digest, d->size, NULL, VK_OCI_TITLE, d->title);
    }
  json_builder_end_array (b);
  if (m->created || m->title)
    {
      json_builder_set_member_name (b, "annotations");
      json_builder_begin_object (b);
      if (m->created)
        vk_json_str (b, "org.opencontainers.image.created", m->created);
      if (m->title)
        vk_json_str (b, VK_OCI_TITLE, m->title);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  return vk_json_builder_text (b);
}

char *
vk_oci_index_text (const VkOciDescriptor *manifest, const char *artifact_type,
                   const char *ref_name)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  vk_json_int (b, "schemaVersion", 2);
  vk_json_str (b, "mediaType", VK_OCI_MEDIA_INDEX);
  json_builder_set_member_name (b, "manifests");
  json_builder_begin_array (b);
  descriptor_json (b, manifest->media_type, manifest->digest, manifest->size, artifact_type,
                   VK_OCI_REF_NAME, ref_name);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return vk_json_builder_text (b);
}

/* ---- reading ----------------------------------------------------------- */

static gboolean
refuse (GError **error, const char *source, const char *what)
{
  return vk_refuse (error, source, "%s", what);
}

/* The root object of a document of ours, or NULL (refused). */
static JsonParser *
doc_parse (const char *text, gsize len, const char *source, const char *what, GError **error)
{
  if (len > VK_OCI_DOC_MAX)
    {
      g_autofree char *w = g_strdup_printf (_("%s is larger than %d bytes"), what,
                                            VK_OCI_DOC_MAX);
      refuse (error, source, w);
      return NULL;
    }
  if (vk_json_depth (text, len, VK_OCI_MAX_DEPTH) > VK_OCI_MAX_DEPTH)
    {
      g_autofree char *w = g_strdup_printf (_("%s is nested deeper than %d levels"), what,
                                            VK_OCI_MAX_DEPTH);
      refuse (error, source, w);
      return NULL;
    }
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) local = NULL;
  if (!json_parser_load_from_data (p, text, (gssize) len, &local))
    {
      g_autofree char *why = vk_str_printable (local->message);
      g_autofree char *w = g_strdup_printf (_("%s is not valid JSON (%s)"), what, why);
      refuse (error, source, w);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (p);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_autofree char *w = g_strdup_printf (_("%s is not a JSON object"), what);
      refuse (error, source, w);
      return NULL;
    }
  return g_steal_pointer (&p);
}

/* Member `name` of `o` when it is a string of valid UTF-8, else NULL. */
static const char *
str_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  const char *s = json_node_get_string (n);
  /* json-glib decodes a lone surrogate escape to bytes that are not UTF-8 */
  return g_utf8_validate (s, -1, NULL) ? s : NULL;
}

static gboolean
int_member (JsonObject *o, const char *name, gint64 *out)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

static JsonObject *
obj_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* The schema version and media type every document of ours carries. */
static gboolean
check_kind (JsonObject *o, const char *media_type, const char *what, const char *source,
            GError **error)
{
  gint64 v = 0;
  if (!int_member (o, "schemaVersion", &v) || v != 2)
    {
      g_autofree char *w = g_strdup_printf (_("%s has no schemaVersion 2"), what);
      return refuse (error, source, w);
    }
  /* mediaType is optional in image-spec, but when present must match */
  JsonNode *mt = json_object_get_member (o, "mediaType");
  if (mt != NULL && g_strcmp0 (str_member (o, "mediaType"), media_type) != 0)
    {
      g_autofree char *w = g_strdup_printf (_("%s has another mediaType than %s"), what,
                                            media_type);
      return refuse (error, source, w);
    }
  return TRUE;
}

/* A descriptor (mediaType, digest, size, annotations) read from `n`;
 * `ann` the annotation kept as its title. NULL: malformed. */
static VkOciDescriptor *
descriptor_parse (JsonNode *n, const char *ann)
{
  JsonObject *o = n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
  const char *mt = str_member (o, "mediaType");
  const char *digest = str_member (o, "digest");
  gint64 size = -1;
  if (mt == NULL || mt[0] == '\0' || strlen (mt) > 255 || !vk_oci_digest_ok (digest) ||
      !int_member (o, "size", &size) || size < 0)
    return NULL;
  const char *title = NULL;
  JsonNode *an = o ? json_object_get_member (o, "annotations") : NULL;
  if (an != NULL && !JSON_NODE_HOLDS_OBJECT (an))
    return NULL;
  if (an != NULL && json_object_get_member (json_node_get_object (an), ann) != NULL)
    {
      title = str_member (json_node_get_object (an), ann);
      /* a file name of the image: printable, no control characters */
      if (title == NULL || title[0] == '\0' || strlen (title) > TITLE_MAX)
        return NULL;
      for (const char *p = title; *p; p++)
        if ((guchar) *p < 0x20 || *p == 0x7f)
          return NULL;
    }
  return vk_oci_descriptor_new (mt, digest, (guint64) size, title);
}

VkOciManifest *
vk_oci_manifest_parse (const char *text, gsize len, const char *source, GError **error)
{
  const char *what = _("the image manifest");
  g_autoptr(JsonParser) p = doc_parse (text, len, source, what, error);
  if (p == NULL)
    return NULL;
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  if (!check_kind (o, VK_OCI_MEDIA_MANIFEST, what, source, error))
    return NULL;
  const char *at = str_member (o, "artifactType");
  if (g_strcmp0 (at, VK_OCI_ARTIFACT_TYPE) != 0)
    {
      g_autofree char *shown = at ? vk_str_printable (at) : NULL;
      g_autofree char *w =
        at ? g_strdup_printf (_("the manifest is of artifact type %s, not a vmkeep image (%s)"),
                              shown, VK_OCI_ARTIFACT_TYPE)
           : g_strdup_printf (_("the manifest has no artifactType; it is not a vmkeep image "
                                "(%s)"), VK_OCI_ARTIFACT_TYPE);
      refuse (error, source, w);
      return NULL;
    }
  JsonNode *cn = json_object_get_member (o, "config");
  g_autoptr(VkOciDescriptor) config = descriptor_parse (cn, VK_OCI_TITLE);
  if (config == NULL)
    {
      refuse (error, source, _("the manifest's config is no descriptor"));
      return NULL;
    }
  JsonNode *ln = json_object_get_member (o, "layers");
  if (ln == NULL || !JSON_NODE_HOLDS_ARRAY (ln))
    {
      refuse (error, source, _("the manifest has no layers array"));
      return NULL;
    }
  JsonArray *a = json_node_get_array (ln);
  guint n = json_array_get_length (a);
  if (n > VK_OCI_LAYERS_MAX)
    {
      g_autofree char *w = g_strdup_printf (_("the manifest lists %u layers, more than %d"), n,
                                            VK_OCI_LAYERS_MAX);
      refuse (error, source, w);
      return NULL;
    }
  g_autoptr(VkOciManifest) m = vk_oci_manifest_new ();
  g_autoptr(GHashTable) titles = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < n; i++)
    {
      VkOciDescriptor *d = descriptor_parse (json_array_get_element (a, i), VK_OCI_TITLE);
      if (d == NULL)
        {
          g_autofree char *w = g_strdup_printf (_("layer %u of the manifest is malformed (it "
                                                  "needs a mediaType, a sha256 digest, a size "
                                                  ">= 0 and a printable title)"), i + 1);
          refuse (error, source, w);
          return NULL;
        }
      g_ptr_array_add (m->layers, d);
      if (d->title && !g_hash_table_add (titles, d->title))
        {
          g_autofree char *shown = vk_str_printable (d->title);
          g_autofree char *w = g_strdup_printf (_("the manifest names file '%s' twice"), shown);
          refuse (error, source, w);
          return NULL;
        }
    }
  m->created = g_strdup (str_member (obj_member (o, "annotations"),
                                     "org.opencontainers.image.created"));
  m->title = g_strdup (str_member (obj_member (o, "annotations"), VK_OCI_TITLE));
  return g_steal_pointer (&m);
}

VkOciDescriptor *
vk_oci_index_find (const char *text, gsize len, const char *ref_name, const char *source,
                   GError **error)
{
  const char *what = _("the image index");
  g_autoptr(JsonParser) p = doc_parse (text, len, source, what, error);
  if (p == NULL)
    return NULL;
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  if (!check_kind (o, VK_OCI_MEDIA_INDEX, what, source, error))
    return NULL;
  JsonNode *mn = json_object_get_member (o, "manifests");
  if (mn == NULL || !JSON_NODE_HOLDS_ARRAY (mn))
    {
      refuse (error, source, _("the image index has no manifests array"));
      return NULL;
    }
  JsonArray *a = json_node_get_array (mn);
  if (json_array_get_length (a) > VK_OCI_LAYERS_MAX)
    {
      refuse (error, source, _("the image index lists too many manifests"));
      return NULL;
    }
  g_autoptr(VkOciDescriptor) found = NULL;
  guint images = 0;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      g_autoptr(VkOciDescriptor) d = descriptor_parse (json_array_get_element (a, i),
                                                       VK_OCI_REF_NAME);
      if (d == NULL)
        {
          g_autofree char *w = g_strdup_printf (_("entry %u of the image index is malformed"),
                                                i + 1);
          refuse (error, source, w);
          return NULL;
        }
      if (!g_str_equal (d->media_type, VK_OCI_MEDIA_MANIFEST))
        continue;
      images++;
      if (ref_name ? g_strcmp0 (d->title, ref_name) == 0 : found == NULL)
        {
          if (found != NULL)
            {
              g_autofree char *shown = vk_str_printable (ref_name);
              g_autofree char *w = g_strdup_printf (_("the image index names '%s' twice"),
                                                    shown);
              refuse (error, source, w);
              return NULL;
            }
          found = g_steal_pointer (&d);
        }
    }
  if (ref_name == NULL && images > 1)
    {
      refuse (error, source, _("the image index names several images; say which one"));
      return NULL;
    }
  if (found == NULL)
    {
      g_autofree char *shown = ref_name ? vk_str_printable (ref_name) : NULL;
      g_autofree char *w = ref_name ? g_strdup_printf (_("the image index names no image "
                                                         "'%s'"), shown)
                                    : g_strdup (_("the image index names no image"));
      refuse (error, source, w);
      return NULL;
    }
  return g_steal_pointer (&found);
}

gboolean
vk_oci_layout_parse (const char *text, gsize len, const char *source, GError **error)
{
  const char *what = VK_OCI_LAYOUT_FILE;
  g_autoptr(JsonParser) p = doc_parse (text, len, source, what, error);
  if (p == NULL)
    return FALSE;
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  if (g_strcmp0 (str_member (o, "imageLayoutVersion"), "1.0.0") != 0)
    return refuse (error, source, _("oci-layout is not of imageLayoutVersion 1.0.0"));
  return TRUE;
}

/* "disks/" TARGET ["." N] "." FMT, as vk_oci_layer_kind describes it. */
static gboolean
disk_title (const char *title, gboolean *base)
{
  if (!g_str_has_prefix (title, "disks/"))
    return FALSE;
  const char *p = title + strlen ("disks/");
  const char *t = p;
  while (g_ascii_islower (*p) || g_ascii_isdigit (*p))
    p++;
  if (p == t || p - t > 32 || *p != '.')
    return FALSE;
  p++;
  *base = g_ascii_isdigit (*p);
  if (*base)
    {
      const char *n = p;
      while (g_ascii_isdigit (*p))
        p++;
      if (*n == '0' || p - n > 2 || *p != '.')
        return FALSE;
      p++;
    }
  return g_str_equal (p, "qcow2") || g_str_equal (p, "raw");
}

gboolean
vk_oci_layer_kind (const VkOciDescriptor *d, const char *source, VkOciLayerKind *kind,
                   gboolean *zstd, GError **error)
{
  const char *t = d->title ? d->title : "";
  gboolean base = FALSE;
  const char *media = NULL;
  if (g_str_equal (t, "image.xml"))
    *kind = VK_OCI_LAYER_SIDECAR, media = VK_OCI_MEDIA_SIDECAR;
  else if (g_str_equal (t, "state.sav"))
    *kind = VK_OCI_LAYER_STATE, media = VK_OCI_MEDIA_STATE;
  else if (g_str_equal (t, "nvram.fd"))
    *kind = VK_OCI_LAYER_NVRAM, media = VK_OCI_MEDIA_NVRAM;
  else if (disk_title (t, &base))
    {
      *kind = base ? VK_OCI_LAYER_BASE : VK_OCI_LAYER_DISK;
      media = g_str_has_suffix (t, ".raw") ? VK_OCI_MEDIA_RAW : VK_OCI_MEDIA_QCOW2;
    }
  if (media == NULL)
    {
      g_autofree char *shown = vk_str_printable (t);
      g_autofree char *w =
        g_strdup_printf (_("layer %s names the file '%s'; a vmkeep image holds image.xml, "
                           "state.sav, disks/TARGET[.N].qcow2|raw and nvram.fd only (is it "
                           "from a newer vmkeep?)"), d->digest, shown);
      return refuse (error, source, w);
    }
  g_autofree char *zmedia = g_strconcat (media, VK_OCI_ZSTD_SUFFIX, NULL);
  gboolean packable = *kind == VK_OCI_LAYER_STATE || *kind == VK_OCI_LAYER_DISK ||
                      *kind == VK_OCI_LAYER_BASE;
  *zstd = packable && g_str_equal (d->media_type, zmedia);
  if (!*zstd && !g_str_equal (d->media_type, media))
    {
      g_autofree char *shown = vk_str_printable (d->media_type);
      g_autofree char *w = g_strdup_printf (_("layer '%s' has the media type %s, not %s"), t,
                                            shown, media);
      return refuse (error, source, w);
    }
  return TRUE;
}
