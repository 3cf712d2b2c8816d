/* Unit tests for src/core/manifest.c: the nesting guard in front of
 * json-glib and the messages of refused manifests. Found by
 * fuzz/fuzz-manifest; the inputs are in fuzz/regressions/manifest/. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "json-build.h"
#include "manifest.h"
#include "vk-error.h"

#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void
test_depth (void)
{
  static const struct {
    const char *text;
    guint depth;
  } cases[] = {
    { "1", 0 },
    { "[]", 1 },
    { "[[]]", 2 },
    { "{\"a\":[1,{}]}", 3 },
    { "[{},{},{},{},{},{}]", 2 },
    { "[\"[[[\", \"\\\"[[\"]", 1 },
    /* json-glib reads single-quoted strings and comments too: nothing may
     * hide behind a '"' in them */
    { "['\"',[[[]]]]", 4 },
    { "[/*\"*/[[[]]]]", 4 },
    { "['\"', \"]]]]\", [[]]]", 3 },
    /* nor behind a \u escape json-glib reads on from */
    { "[\"\\ud83d\"[[[]]]\"]", 4 },
    { "[\"\\u12\"[[[]]]\"]", 4 },
    { "[\"\\u0041\", [[]]]", 3 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint d = vk_json_depth (cases[i].text, strlen (cases[i].text), 100);
      if (d < cases[i].depth)
        g_error ("vk_json_depth (%s) = %u, below %u", cases[i].text, d, cases[i].depth);
      /* exact for JSON proper (no quote, comment or odd escape) */
      if (strpbrk (cases[i].text, "'/") == NULL && strstr (cases[i].text, "\\ud") == NULL &&
          strstr (cases[i].text, "\\u12") == NULL)
        g_assert_cmpuint (d, ==, cases[i].depth);
    }
}

/* The count used to go up by two for every bracket that set a new maximum
 * (MAX (max, ++depth)) and down by one, so an export of 12 members was
 * refused as nested too deep. */
static void
test_many_members (void)
{
  GString *s;
  g_autoptr(VkManifest) m = NULL;
  g_autoptr(GError) error = NULL;

  s = g_string_new ("{\"format\":\"vmkeep-image-export\",\"version\":1,\"members\":[");
  for (int i = 0; i < 40; i++)
    g_string_append_printf (s, "%s{\"name\":\"m%d\",\"size\":1,\"sha256\":\"%s\"}", i ? "," : "",
                            i, SHA);
  g_string_append (s, "]}");
  m = vk_manifest_parse (s->str, s->len, "big.tar", &error);
  g_string_free (s, TRUE);
  g_assert_no_error (error);
  g_assert_cmpuint (m->members->len, ==, 40);
}

/* 400 000 levels behind a single-quoted '"' used to pass the guard and
 * overflow json-glib's stack. */
static void
test_hidden_nesting (void)
{
  GString *s = g_string_new ("{\"format\":\"vmkeep-image-export\",\"version\":1,\"x\":['\"',");
  g_autoptr(VkManifest) m = NULL;
  g_autoptr(GError) error = NULL;

  for (int i = 0; i < 400000; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i < 400000; i++)
    g_string_append_c (s, ']');
  g_string_append (s, "],\"members\":[]}");
  m = vk_manifest_parse (s->str, s->len, "deep.tar", &error);
  g_string_free (s, TRUE);
  g_assert_null (m);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "nested deeper than 16 levels"));
}

/* json-glib decodes a lone surrogate escape to bytes that are not UTF-8
 * and quotes them in its error message. */
static void
test_message_utf8 (void)
{
  const char *text = "{\"format\":\"vmkeep-image-export\",\"x\" \"\\ude00\" ]";
  g_autoptr(VkManifest) m = NULL;
  g_autoptr(GError) error = NULL;

  m = vk_manifest_parse (text, strlen (text), "bad.tar", &error);
  g_assert_null (m);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "is not valid JSON"));
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

/* ... and accepted it in a member's name or the image name. */
static void
test_names_utf8 (void)
{
  static const char *const texts[] = {
    "{\"format\":\"vmkeep-image-export\",\"version\":1,\"members\":"
    "[{\"name\":\"a\\ud800\",\"size\":1,\"sha256\":\"" SHA "\"}]}",
    "{\"format\":\"vmkeep-image-export\",\"version\":1,\"image\":\"\\udfff\","
    "\"members\":[]}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr(VkManifest) m = NULL;
      g_autoptr(GError) error = NULL;

      m = vk_manifest_parse (texts[i], strlen (texts[i]), "names.tar", &error);
      g_assert_null (m);
      g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

/* What the builder helpers write, the parser reads back: the text an
 * export writes (pretty, newline-terminated) is a manifest. */
static void
test_built_round_trip (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  vk_json_str (b, "format", VK_MANIFEST_FORMAT);
  vk_json_int (b, "version", VK_MANIFEST_VERSION);
  vk_json_str (b, "image", "web-1");
  vk_json_str (b, "host", NULL);
  json_builder_set_member_name (b, "members");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  vk_json_str (b, "name", "state.sav");
  vk_json_int (b, "size", 4096);
  vk_json_str (b, "sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  const char *const args[] = { "a", "b", NULL };
  vk_json_strv (b, "args", args);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autofree char *text = vk_json_builder_text (b);

  g_assert_true (g_str_has_suffix (text, "}\n"));
  g_assert_nonnull (strstr (text, "\n  \"image\" : \"web-1\""));
  g_assert_nonnull (strstr (text, "\"host\" : null"));
  g_assert_nonnull (strstr (text, "\"args\" : [\n"));
  g_autoptr(GError) error = NULL;
  g_autoptr(VkManifest) m = vk_manifest_parse (text, strlen (text), "built", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (m->image, ==, "web-1");
  g_assert_cmpuint (m->members->len, ==, 1);
  VkManifestMember *mm = m->members->pdata[0];
  g_assert_cmpstr (mm->name, ==, "state.sav");
  g_assert_cmpuint (mm->size, ==, 4096);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/manifest/depth", test_depth);
  g_test_add_func ("/manifest/many-members", test_many_members);
  g_test_add_func ("/manifest/hidden-nesting", test_hidden_nesting);
  g_test_add_func ("/manifest/message-utf8", test_message_utf8);
  g_test_add_func ("/manifest/names-utf8", test_names_utf8);
  g_test_add_func ("/manifest/built-round-trip", test_built_round_trip);
  return g_test_run ();
}
