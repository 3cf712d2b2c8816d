/* Fuzz harness: the manifest of an image export (src/core/manifest.c).
 *
 * manifest.json comes from whoever made the export. vk_manifest_parse
 * guards json-glib, which recurses once per nesting level, with
 * vk_json_depth; so besides "no crash" the harness checks the guard: for
 * every text json-glib reads, the depth vk_json_depth reports is at least
 * the depth of the tree json-glib builds (a text whose nesting the guard
 * underestimates could be made deep enough to overflow the stack). What
 * the parser accepts is what manifest.h promises. */
#include "config.h"

#include <json-glib/json-glib.h>

#include "fuzz-common.h"
#include "manifest.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  return 0;
}

/* Without recursion: the point is not to trust the nesting. */
static guint
tree_depth (JsonNode *root)
{
  g_autoptr(GPtrArray) stack = g_ptr_array_new ();
  g_autoptr(GArray) depths = g_array_new (FALSE, FALSE, sizeof (guint));
  guint max = 0;

  g_ptr_array_add (stack, root);
  g_array_append_val (depths, max);
  while (stack->len > 0)
    {
      JsonNode *n = g_ptr_array_steal_index (stack, stack->len - 1);
      guint d = g_array_index (depths, guint, depths->len - 1);

      g_array_set_size (depths, depths->len - 1);
      if (JSON_NODE_HOLDS_OBJECT (n) || JSON_NODE_HOLDS_ARRAY (n))
        {
          g_autoptr(GList) children = NULL;

          d++;
          max = MAX (max, d);
          if (JSON_NODE_HOLDS_OBJECT (n))
            children = json_object_get_values (json_node_get_object (n));
          else
            children = json_array_get_elements (json_node_get_array (n));
          for (GList *l = children; l != NULL; l = l->next)
            {
              g_ptr_array_add (stack, l->data);
              g_array_append_val (depths, d);
            }
        }
    }
  return max;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  g_autoptr(VkManifest) m = NULL;
  g_autoptr(GError) error = NULL;
  guint guessed = vk_json_depth (text, size, G_MAXUINT - 1);

  /* Up to a few KiB (fuzz/run.sh's max_len) json-glib cannot overflow the
   * stack, so it may read anything to show what the guard missed; longer
   * regression inputs go to vk_manifest_parse only. */
  if (size <= 4096)
  {
    g_autoptr(JsonParser) p = json_parser_new ();

    if (json_parser_load_from_data (p, text, (gssize) size, NULL) &&
        json_parser_get_root (p) != NULL)
      {
        guint real = tree_depth (json_parser_get_root (p));

        vk_fuzz_check (real <= guessed, "vk_json_depth says %u, json-glib nests %u deep",
                       guessed, real);
      }
  }

  m = vk_manifest_parse (text, size, "fuzz.tar", &error);
  if (m == NULL)
    {
      vk_fuzz_check_error (error, "vk_manifest_parse");
      return 0;
    }
  vk_fuzz_check (guessed <= VK_MANIFEST_MAX_DEPTH, "accepted nesting %u", guessed);
  vk_fuzz_check (m->image == NULL || g_utf8_validate (m->image, -1, NULL), "image not UTF-8");
  {
    g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < m->members->len; i++)
      {
        const VkManifestMember *mm = m->members->pdata[i];

        vk_fuzz_check (mm->name != NULL && g_hash_table_add (seen, mm->name), "member name");
        vk_fuzz_check (g_utf8_validate (mm->name, -1, NULL), "member name not UTF-8");
        vk_fuzz_check (mm->size <= (guint64) G_MAXINT64, "member size");
        vk_fuzz_check (mm->sha256 != NULL && strlen (mm->sha256) == 64, "sha256");
        for (const char *p = mm->sha256; *p != '\0'; p++)
          vk_fuzz_check (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'), "sha256 digits");
      }
  }
  return 0;
}
