/* vmkeep — building JSON documents (json-glib): members of the object a
 * builder is making, and the document as text (pure). */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One member of the object `b` is building; vk_json_str writes null for a
 * NULL value. */
void vk_json_str (JsonBuilder *b, const char *name, const char *value);
void vk_json_bool (JsonBuilder *b, const char *name, gboolean value);
void vk_json_int (JsonBuilder *b, const char *name, gint64 value);
void vk_json_double (JsonBuilder *b, const char *name, double value);
void vk_json_null (JsonBuilder *b, const char *name);
/* An integer member that is null when `value` is negative (not set). */
void vk_json_int_or_null (JsonBuilder *b, const char *name, gint64 value);
/* A member that is an array of the strings in `values` (NULL: empty). */
void vk_json_str_array (JsonBuilder *b, const char *name, GPtrArray *values);
/* The same for a NULL-terminated array. */
void vk_json_strv (JsonBuilder *b, const char *name, const char *const *values);
/* Writes the members of the object that stands for `item` (vk_json_objects). */
typedef void (*VkJsonMembersFunc) (JsonBuilder *b, gconstpointer item, gpointer data);
/* A member that is an array of objects, one for each item of `items`
 * (NULL: empty), their members written by `func`. With a NULL `name` the
 * array is a value instead (the document itself, or an array's element). */
void vk_json_objects (JsonBuilder *b, const char *name, GPtrArray *items,
                      VkJsonMembersFunc func, gpointer data);

/* What vk_json_doc_parse found wrong. */
typedef enum {
  VK_JSON_DOC_OK,
  VK_JSON_DOC_TOO_DEEP,   /* nested deeper than allowed */
  VK_JSON_DOC_SYNTAX,     /* not JSON; `detail` says why */
  VK_JSON_DOC_FORMAT,     /* not an object with "format": the format asked for */
  VK_JSON_DOC_VERSION,    /* another "version" */
} VkJsonDocProblem;

/* Parse `text`, read from somewhere vmkeep does not trust, as one of
 * vmkeep's documents: nested at most `max_depth` deep (vk_json_depth,
 * checked before json-glib recurses into it), an object whose "format"
 * member is the string `format` and whose "version" is `version`. The
 * parser, whose root is that object; NULL with `problem` set and, for a
 * syntax error, `detail` (printable; may be NULL) the parser's message. */
JsonParser *vk_json_doc_parse (const char *text, gsize len, guint max_depth, const char *format,
                               gint64 version, VkJsonDocProblem *problem, char **detail);

/* The document as pretty text (two-space indent) with a trailing newline. */
char *vk_json_node_text (JsonNode *node);
char *vk_json_builder_text (JsonBuilder *b);

G_END_DECLS
