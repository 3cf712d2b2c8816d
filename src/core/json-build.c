/* vmkeep — building JSON documents (see json-build.h). */
#include "config.h"

#include "json-build.h"
#include "manifest.h"
#include "validate.h"

void
vk_json_str (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

void
vk_json_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

void
vk_json_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

void
vk_json_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

void
vk_json_null (JsonBuilder *b, const char *name)
{
  json_builder_set_member_name (b, name);
  json_builder_add_null_value (b);
}

void
vk_json_int_or_null (JsonBuilder *b, const char *name, gint64 value)
{
  if (value >= 0)
    vk_json_int (b, name, value);
  else
    vk_json_null (b, name);
}

void
vk_json_str_array (JsonBuilder *b, const char *name, GPtrArray *values)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; values != NULL && i < values->len; i++)
    json_builder_add_string_value (b, values->pdata[i]);
  json_builder_end_array (b);
}

void
vk_json_strv (JsonBuilder *b, const char *name, const char *const *values)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; values != NULL && values[i] != NULL; i++)
    json_builder_add_string_value (b, values[i]);
  json_builder_end_array (b);
}

void
vk_json_objects (JsonBuilder *b, const char *name, GPtrArray *items, VkJsonMembersFunc func,
                 gpointer data)
{
  if (name != NULL)
    json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; items != NULL && i < items->len; i++)
    {
      json_builder_begin_object (b);
      func (b, items->pdata[i], data);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

char *
vk_json_node_text (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  return g_strconcat (text, "\n", NULL);
}

char *
vk_json_builder_text (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  return vk_json_node_text (root);
}

static gboolean
member_is (JsonObject *o, const char *name, GType type)
{
  JsonNode *n = json_object_get_member (o, name);
  return n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == type;
}

JsonParser *
vk_json_doc_parse (const char *text, gsize len, guint max_depth, const char *format,
                   gint64 version, VkJsonDocProblem *problem, char **detail)
{
  if (detail)
    *detail = NULL;
  *problem = VK_JSON_DOC_TOO_DEEP;
  if (vk_json_depth (text, len, max_depth) > max_depth)
    return NULL;
  g_autoptr(JsonParser) p = json_parser_new ();
  g_autoptr(GError) local = NULL;
  *problem = VK_JSON_DOC_SYNTAX;
  if (!json_parser_load_from_data (p, text, (gssize) len, &local))
    {
      /* json-glib quotes the token it stopped at, which may hold bytes
       * that are not UTF-8 (a lone surrogate escape decodes to some) */
      if (detail)
        *detail = vk_str_printable (local->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (p);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  *problem = VK_JSON_DOC_FORMAT;
  if (o == NULL || !member_is (o, "format", G_TYPE_STRING) ||
      g_strcmp0 (json_object_get_string_member (o, "format"), format) != 0)
    return NULL;
  *problem = VK_JSON_DOC_VERSION;
  if (!member_is (o, "version", G_TYPE_INT64) ||
      json_object_get_int_member (o, "version") != version)
    return NULL;
  *problem = VK_JSON_DOC_OK;
  return g_steal_pointer (&p);
}
