/* vmkeep — the manifest of an image export. See manifest.h. */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "json-build.h"
#include "manifest.h"
#include "validate.h"
#include "vk-error.h"

void
vk_manifest_free (VkManifest *m)
{
  if (m == NULL)
    return;
  g_free (m->image);
  g_ptr_array_unref (m->members);
  g_free (m);
}

static void
member_free (VkManifestMember *m)
{
  g_free (m->name);
  g_free (m->sha256);
  g_free (m);
}

guint
vk_json_depth (const char *text, gsize len, guint limit)
{
  guint depth = 0, max = 0;
  gboolean in_string = FALSE;
  /* Where json-glib's strings end is not always where JSON's do: its
   * scanner also reads 'single-quoted' strings and C comments (in which a
   * '"' opens nothing), and after a \u escape that is not four hex digits
   * of a non-surrogate it reads on over what follows, a '"' included. A
   * count that missed that would let ['"', [[[...]]]] nest without bound.
   * So past any of these (vmkeep writes none) strings are not told apart
   * any more: every opening bracket counts and no closing one, an upper
   * bound whatever the text means to json-glib. */
  gboolean json_only = TRUE;
  for (gsize i = 0; i < len && max <= limit; i++)
    {
      char c = text[i];
      if (in_string)
        {
          if (c == '\\' && i + 1 < len && text[i + 1] == 'u')
            {
              guint u = 0;
              gsize h = 0;
              while (h < 4 && i + 2 + h < len && g_ascii_isxdigit (text[i + 2 + h]))
                {
                  u = u * 16 + (guint) g_ascii_xdigit_value (text[i + 2 + h]);
                  h++;
                }
              if (h < 4 || (u >= 0xd800 && u <= 0xdfff))
                in_string = json_only = FALSE;
              else
                i += 5;
            }
          else if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '\'' || c == '/')
        json_only = FALSE;
      else if (c == '"' && json_only)
        in_string = TRUE;
      else if (c == '[' || c == '{')
        {
          /* not MAX (max, ++depth): the macro would count it twice */
          depth++;
          max = MAX (max, depth);
        }
      else if ((c == ']' || c == '}') && depth > 0 && json_only)
        depth--;
    }
  return max;
}

static gboolean
is_sha256 (const char *s)
{
  if (s == NULL || strlen (s) != 64)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isxdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
refuse (GError **error, const char *source, const char *what)
{
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED, _("%s: manifest.json %s"), source, what);
  return FALSE;
}

VkManifest *
vk_manifest_parse (const char *text, gsize len, const char *source, GError **error)
{
  VkJsonDocProblem problem;
  g_autofree char *why = NULL;
  g_autoptr(JsonParser) p = vk_json_doc_parse (text, len, VK_MANIFEST_MAX_DEPTH,
                                               VK_MANIFEST_FORMAT, VK_MANIFEST_VERSION, &problem,
                                               &why);
  g_autofree char *bad = NULL;
  switch (problem)
    {
    case VK_JSON_DOC_OK:
      break;
    case VK_JSON_DOC_TOO_DEEP:
      bad = g_strdup_printf (_("is nested deeper than %d levels; it is not a vmkeep manifest"),
                           VK_MANIFEST_MAX_DEPTH);
      break;
    case VK_JSON_DOC_SYNTAX:
      bad = g_strdup_printf (_("is not valid JSON (%s)"), why);
      break;
    case VK_JSON_DOC_FORMAT:
      bad = g_strdup (_("is not a vmkeep image export manifest"));
      break;
    case VK_JSON_DOC_VERSION:
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s: the export has another format version than %d, which this vmkeep "
                     "reads; import it with a matching vmkeep"), source, VK_MANIFEST_VERSION);
      return NULL;
    }
  if (bad != NULL)
    {
      refuse (error, source, bad);
      return NULL;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  g_autoptr(VkManifest) m = g_new0 (VkManifest, 1);
  m->members = g_ptr_array_new_with_free_func ((GDestroyNotify) member_free);
  JsonNode *img = json_object_get_member (o, "image");
  /* json-glib decodes a lone surrogate escape ("\ud800") to bytes that
   * are not UTF-8: such a string is no name vmkeep can show or match. */
  if (img && JSON_NODE_HOLDS_VALUE (img) && json_node_get_value_type (img) == G_TYPE_STRING &&
      g_utf8_validate (json_node_get_string (img), -1, NULL))
    m->image = g_strdup (json_node_get_string (img));
  else if (img && !JSON_NODE_HOLDS_NULL (img))
    {
      refuse (error, source, _("has an \"image\" that is not a string"));
      return NULL;
    }
  JsonNode *mem = json_object_get_member (o, "members");
  if (mem == NULL || !JSON_NODE_HOLDS_ARRAY (mem))
    {
      refuse (error, source, _("has no \"members\" array"));
      return NULL;
    }
  JsonArray *a = json_node_get_array (mem);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *n = json_array_get_element (a, i);
      JsonObject *e = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      JsonNode *name = e ? json_object_get_member (e, "name") : NULL;
      JsonNode *size = e ? json_object_get_member (e, "size") : NULL;
      JsonNode *sha = e ? json_object_get_member (e, "sha256") : NULL;
      if (name == NULL || size == NULL || sha == NULL || !JSON_NODE_HOLDS_VALUE (name) ||
          !JSON_NODE_HOLDS_VALUE (size) || !JSON_NODE_HOLDS_VALUE (sha) ||
          json_node_get_value_type (name) != G_TYPE_STRING ||
          json_node_get_value_type (size) != G_TYPE_INT64 ||
          json_node_get_value_type (sha) != G_TYPE_STRING || json_node_get_int (size) < 0 ||
          !g_utf8_validate (json_node_get_string (name), -1, NULL) ||
          !is_sha256 (json_node_get_string (sha)))
        {
          g_autofree char *w = g_strdup_printf (_("entry %u is malformed (it needs a name, a "
                                                  "size >= 0 and a 64-digit sha256)"), i + 1);
          refuse (error, source, w);
          return NULL;
        }
      VkManifestMember *mm = g_new0 (VkManifestMember, 1);
      mm->name = g_strdup (json_node_get_string (name));
      mm->size = (guint64) json_node_get_int (size);
      mm->sha256 = g_ascii_strdown (json_node_get_string (sha), -1);
      g_ptr_array_add (m->members, mm);
      if (!g_hash_table_add (seen, mm->name))
        {
          g_autofree char *shown = g_strescape (mm->name, NULL);
          g_autofree char *w = g_strdup_printf (_("lists member '%s' twice"), shown);
          refuse (error, source, w);
          return NULL;
        }
    }
  return g_steal_pointer (&m);
}
