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

/* The disks hibernate --image and fork freeze, and what they refuse. */
static xmlDocPtr
disks_doc (const char *extra)
{
  g_autofree char *xml = g_strdup_printf (
    "<domain type='qemu'><name>d1</name><devices>"
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/a.qcow2'/><target dev='vda' bus='virtio'/></disk>"
    "<disk type='file' device='disk'><source file='/var/lib/b.img'/>"
    "<target dev='vdb' bus='virtio'/></disk>"
    "<disk type='file' device='disk'><source file='/var/lib/ro.img'/>"
    "<target dev='vdc' bus='virtio'/><readonly/></disk>"
    "<disk type='file' device='cdrom'><target dev='sda' bus='sata'/><readonly/></disk>"
    "%s</devices></domain>", extra);
  g_autoptr(GError) error = NULL;
  xmlDocPtr doc = vk_xml_parse (xml, -1, "test", &error);
  g_assert_no_error (error);
  return doc;
}

static void
test_freezable_disks (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = disks_doc ("");
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) d = vk_domain_freezable_disks (doc, "d1", "a fork", TRUE, all, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (d->len, ==, 2);
  VkFreezableDisk *a = d->pdata[0], *b = d->pdata[1];
  g_assert_cmpstr (a->target, ==, "vda");
  g_assert_cmpstr (a->path, ==, "/var/lib/a.qcow2");
  g_assert_cmpstr (a->format, ==, "qcow2");
  g_assert_cmpstr (b->target, ==, "vdb");
  g_assert_cmpstr (b->format, ==, "raw");   /* no <driver type>: raw, as to libvirt */
  g_assert_cmpuint (all->len, ==, 4);
  g_assert_cmpstr (all->pdata[3], ==, "sda");

  static const struct { const char *disk, *expect; } bad[] = {
    { "<disk type='file' device='disk'><source file='/x'/><target dev='vdz'/><shareable/></disk>",
      "disk vdz of 'd1' is writable and shareable" },
    { "<disk type='block' device='disk'><source dev='/dev/sdb'/><target dev='vdz'/></disk>",
      "disk vdz of 'd1' is not a plain file (type block); a fork freezes" },
    { "<disk type='file' device='disk'><driver name='qemu' type='vmdk'/><source file='/x'/>"
      "<target dev='vdz'/></disk>", "disk vdz of 'd1' has format vmdk" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(xmlDoc) b2 = disks_doc (bad[i].disk);
      g_autoptr(GError) e = NULL;
      g_autoptr(GPtrArray) r = vk_domain_freezable_disks (b2, "d1", "a fork", TRUE, NULL, &e);
      g_assert_null (r);
      g_assert_error (e, VK_ERROR, VK_ERROR_REFUSED);
      if (strstr (e->message, bad[i].expect) == NULL)
        g_error ("'%s' not in: %s", bad[i].expect, e->message);
    }
  /* a shut-off fork takes any format qemu-img can put an overlay on */
  g_autoptr(xmlDoc) vmdk = disks_doc ("<disk type='file' device='disk'><driver name='qemu' "
                                      "type='vmdk'/><source file='/x.vmdk'/><target dev='vdz'/>"
                                      "</disk>");
  g_autoptr(GPtrArray) any = vk_domain_freezable_disks (vmdk, "d1", "a fork", FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (any->len, ==, 3);
  g_assert_cmpstr (((VkFreezableDisk *) any->pdata[2])->format, ==, "vmdk");
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
  g_test_add_func ("/domain-xml/freezable-disks", test_freezable_disks);
  return g_test_run ();
}
