/* Unit tests for vk_xml_parse (src/core/domain-xml.c) on hostile input.
 *
 * Domain XML reaches vmkeep from other hosts (an imported image's sidecar
 * and save header). libxml2 does not substitute entities or load anything
 * with vmkeep's options, but reading text or attributes expands the
 * entity references it keeps, so a DOCTYPE is refused before any of it is
 * parsed: nothing is fetched and nothing can blow up. Found by
 * fuzz/fuzz-domain-xml; the inputs are in fuzz/regressions/domain-xml/. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "domain-xml.h"
#include "vk-error.h"

static void
assert_doctype_refused (const char *text, gssize len)
{
  g_autoptr(GTimer) timer = g_timer_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = vk_xml_parse (text, len, "import/image.xml", &error);

  g_assert_null (doc);
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_assert_nonnull (strstr (error->message, "import/image.xml has a DOCTYPE declaration"));
  /* Refused at the DOCTYPE, not after expanding anything. */
  g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 1.0);
}

static void
test_doctype_xxe (void)
{
  assert_doctype_refused ("<?xml version=\"1.0\"?>\n"
                          "<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
                          "<domain type='kvm'><name>&x;</name></domain>\n", -1);
  assert_doctype_refused ("<!DOCTYPE domain SYSTEM \"http://127.0.0.1:9/domain.dtd\">"
                          "<domain type='kvm'><name>a</name></domain>", -1);
  assert_doctype_refused ("<!DOCTYPE domain [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/p\"> %p;]>"
                          "<domain type='kvm'><name>a</name></domain>", -1);
}

static void
test_doctype_laughs (void)
{
  GString *s = g_string_new ("<!DOCTYPE domain [<!ENTITY l0 \"lol\">");

  for (int i = 1; i < 10; i++)
    {
      g_string_append_printf (s, "<!ENTITY l%d \"", i);
      for (int j = 0; j < 10; j++)
        g_string_append_printf (s, "&l%d;", i - 1);
      g_string_append (s, "\">");
    }
  g_string_append (s, "]><domain type='kvm'><name>&l9;</name></domain>");
  assert_doctype_refused (s->str, (gssize) s->len);
  g_string_free (s, TRUE);
}

/* Quadratic blowup: no nesting for libxml2's loop detection to catch, one
 * 10 KB entity referenced 100 000 times; the name alone would be 1 GB. */
static void
test_doctype_quadratic (void)
{
  GString *s = g_string_new ("<!DOCTYPE domain [<!ENTITY a \"");

  for (int i = 0; i < 10000; i++)
    g_string_append_c (s, 'A');
  g_string_append (s, "\">]><domain type='kvm'><name>");
  for (int i = 0; i < 100000; i++)
    g_string_append (s, "&a;");
  g_string_append (s, "</name><devices><interface type='bridge'><mac address='");
  for (int i = 0; i < 1000; i++)
    g_string_append (s, "&a;");
  g_string_append (s, "'/></interface></devices></domain>");
  assert_doctype_refused (s->str, (gssize) s->len);
  g_string_free (s, TRUE);
}

/* What a domain document does use still parses. */
static void
test_plain_entities (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = vk_xml_parse ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                        "<domain type='kvm'><name>a&amp;b&#x41;</name>"
                                        "<description>&lt;x&gt; &quot;q&quot;</description>"
                                        "</domain>", -1, "d.xml", &error);
  g_autofree char *name = NULL;

  g_assert_no_error (error);
  name = vk_domain_name (doc);
  g_assert_cmpstr (name, ==, "a&bA");
}

/* libxml2 quotes the bytes it choked on; the message must stay UTF-8 and
 * free of control characters (terminal, journal, --json). */
static void
test_message_printable (void)
{
  static const char *const inputs[] = {
    "<domain type='kvm'><name>x</name></dom\xff\xfe" "ain>",
    "<domain type='kvm'><name>x</name></domain\xcd>",
    "<domain type='kvm'>\x1b[2J<name>x</name></domain\x1b>",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(xmlDoc) doc = vk_xml_parse (inputs[i], -1, "bad.xml", &error);

      g_assert_null (doc);
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      for (const char *p = error->message; *p != '\0'; p++)
        g_assert_true ((guchar) *p >= 0x20 || *p == '\n' || *p == '\t');
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/domain-xml/doctype/xxe", test_doctype_xxe);
  g_test_add_func ("/domain-xml/doctype/billion-laughs", test_doctype_laughs);
  g_test_add_func ("/domain-xml/doctype/quadratic", test_doctype_quadratic);
  g_test_add_func ("/domain-xml/plain-entities", test_plain_entities);
  g_test_add_func ("/domain-xml/message-printable", test_message_printable);
  return g_test_run ();
}
