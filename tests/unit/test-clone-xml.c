/* Unit tests for src/core/clone-xml.c on the domain XMLs in
 * tests/data/clone/ (pc.xml: i440fx with file/pty chardevs, three kinds of
 * NIC host side, a backing chain, a CD-ROM; q35.xml: UEFI NVRAM, an
 * emulated TPM with a state path, NICs behind root ports).
 *
 * The invariant under test: a clone differs from its source only in the
 * allowed fields. Two independent checks prove it for every rewrite:
 * (1) both documents serialise byte-identically once the allowed fields are
 *     masked out of each, and
 * (2) vk_domain_xml_diff finds no identity difference, and every allowed
 *     difference it finds carries one of the allowed rules. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "clone-xml.h"
#include "domain-xml.h"
#include "identity.h"
#include "validate.h"
#include "vk-error.h"

/* ---------------------------------------------------------------- helpers */

static xmlDocPtr
load (const char *name)
{
  const char *path = g_test_get_filename (G_TEST_DIST, "tests", "data", "clone", name, NULL);
  g_autoptr(GError) error = NULL;
  xmlDocPtr doc = vk_xml_parse_file (path, &error);

  if (doc == NULL)
    g_error ("cannot load fixture %s: %s (is G_TEST_SRCDIR the top source directory?)", path,
             error->message);
  return doc;
}

static void
remove_children (xmlNodePtr parent, const char *name)
{
  xmlNodePtr c;
  while (parent && (c = vk_xml_child (parent, name)) != NULL)
    {
      xmlUnlinkNode (c);
      xmlFreeNode (c);
    }
}

/* Blank every field a clone may change, in place, the same way on both
 * sides: what remains must not change at all. */
static void
mask_allowed (xmlDocPtr doc)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodeSetContent (vk_xml_child (root, "name"), NULL);
  xmlNodeSetContent (vk_xml_child (root, "uuid"), NULL);
  xmlUnsetProp (root, BAD_CAST "id");
  xmlNodePtr nvram = vk_xml_child (vk_xml_child (root, "os"), "nvram");
  if (nvram)
    xmlNodeSetContent (nvram, NULL);
  for (xmlNodePtr n = vk_domain_devices (doc)->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      const char *el = (const char *) n->name;
      if (g_str_equal (el, "disk"))
        {
          xmlUnsetProp (vk_xml_child (n, "source"), BAD_CAST "file");
          xmlUnsetProp (vk_xml_child (n, "driver"), BAD_CAST "type");
          remove_children (n, "backingStore");
        }
      else if (g_str_equal (el, "interface"))
        {
          xmlUnsetProp (n, BAD_CAST "type");
          remove_children (n, "target");
          remove_children (n, "source");
          remove_children (n, "virtualport");
        }
      else if (g_str_equal (el, "serial") || g_str_equal (el, "console"))
        {
          xmlUnsetProp (vk_xml_child (n, "source"), BAD_CAST "path");
          xmlUnsetProp (vk_xml_child (n, "log"), BAD_CAST "file");
          xmlUnsetProp (n, BAD_CAST "tty");
        }
      else if (g_str_equal (el, "tpm"))
        remove_children (vk_xml_child (n, "backend"), "source");
    }
}

static const char *const allowed_rules[] = {
  "name", "UUID", "disk source path", "disk format", "TAP device", "NIC host side",
  "character device path", "NVRAM path", "TPM state path", NULL,
};

/* Both proofs of the invariant; returns the allowed differences' rules
 * (a set) for the caller to look at. */
static GHashTable *
assert_only_allowed (xmlDocPtr before, xmlDocPtr after)
{
  /* (1) masked, byte for byte */
  g_autoptr(xmlDoc) mb = xmlCopyDoc (before, 1);
  g_autoptr(xmlDoc) ma = xmlCopyDoc (after, 1);
  mask_allowed (mb);
  mask_allowed (ma);
  g_autofree char *sb = vk_xml_format (mb);
  g_autofree char *sa = vk_xml_format (ma);
  g_assert_cmpstr (sa, ==, sb);

  /* (2) the canonical diff */
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) ident = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_domain_xml_diff (before, after, &allowed, &ident, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < ident->len; i++)
    g_test_message ("identity difference: %s", ((VkXmlDifference *) ident->pdata[i])->text);
  g_assert_cmpuint (ident->len, ==, 0);
  GHashTable *rules = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < allowed->len; i++)
    {
      VkXmlDifference *d = allowed->pdata[i];
      g_test_message ("allowed [%s] %s", d->rule, d->text);
      g_assert_true (g_strv_contains (allowed_rules, d->rule));
      g_hash_table_add (rules, (gpointer) d->rule);
    }
  return rules;
}

static GHashTable *
str_table (const char *first, ...)
{
  GHashTable *t = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  va_list ap;
  va_start (ap, first);
  for (const char *k = first; k; k = va_arg (ap, const char *))
    g_hash_table_insert (t, g_strdup (k), g_strdup (va_arg (ap, const char *)));
  va_end (ap);
  return t;
}

/* The n-th (0-based) child of <devices> called `name`. */
static xmlNodePtr
device (xmlDocPtr doc, const char *name, guint n)
{
  for (xmlNodePtr c = vk_domain_devices (doc)->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST name) && n-- == 0)
      return c;
  g_error ("no %s #%u", name, n);
  return NULL;
}

static char *
text_of (xmlDocPtr doc, const char *el)
{
  return vk_xml_child_text (xmlDocGetRootElement (doc), el);
}

#define UUID2 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

/* --------------------------------------------------------------- identity */

static void
test_pc_keeps_identity (void)
{
  g_autoptr(xmlDoc) src = load ("pc.xml");
  g_autoptr(xmlDoc) clone = xmlCopyDoc (src, 1);
  g_autoptr(GHashTable) paths = str_table ("vda", "/clones/web2-vda.qcow2",
                                           "vdb", "/clones/web2-vdb.qcow2", NULL);
  g_autoptr(GHashTable) formats = str_table ("vda", "qcow2", "vdb", "qcow2", NULL);
  VkCloneRewrite rw = { "web2", UUID2, paths, formats, NULL, NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_clone_rewrite (clone, "web1", &rw, &error));
  g_assert_no_error (error);
  g_autoptr(GHashTable) rules = assert_only_allowed (src, clone);
  const char *expect[] = { "name", "UUID", "disk source path", "disk format", "TAP device",
                           "character device path" };
  for (gsize i = 0; i < G_N_ELEMENTS (expect); i++)
    g_assert_true (g_hash_table_contains (rules, expect[i]));
  /* no --bridge/--network: the host side stays */
  g_assert_false (g_hash_table_contains (rules, "NIC host side"));

  g_autofree char *name = text_of (clone, "name");
  g_autofree char *uuid = text_of (clone, "uuid");
  g_assert_cmpstr (name, ==, "web2");
  g_assert_cmpstr (uuid, ==, UUID2);
  g_autofree char *vda = vk_xml_child_prop (device (clone, "disk", 0), "source", "file");
  g_autofree char *vdb = vk_xml_child_prop (device (clone, "disk", 1), "source", "file");
  g_autofree char *vdbfmt = vk_xml_child_prop (device (clone, "disk", 1), "driver", "type");
  g_autofree char *cd = vk_xml_child_prop (device (clone, "disk", 2), "source", "file");
  g_assert_cmpstr (vda, ==, "/clones/web2-vda.qcow2");
  g_assert_cmpstr (vdb, ==, "/clones/web2-vdb.qcow2");
  g_assert_cmpstr (vdbfmt, ==, "qcow2");
  g_assert_null (vk_xml_child (device (clone, "disk", 0), "backingStore"));
  g_assert_cmpstr (cd, ==, "/srv/iso/tools.iso"); /* read-only: shared */
  /* logs: name-prefixed file renamed, unrelated one prefixed */
  g_autofree char *s0 = vk_xml_child_prop (device (clone, "serial", 0), "source", "path");
  g_autofree char *s1 = vk_xml_child_prop (device (clone, "serial", 1), "log", "file");
  g_autofree char *c0 = vk_xml_child_prop (device (clone, "console", 0), "source", "path");
  g_assert_cmpstr (s0, ==, "/var/log/vm/web2-serial.log");
  g_assert_cmpstr (s1, ==, "/var/log/vm/web2-myweb1.log");
  g_assert_cmpstr (c0, ==, "/var/log/vm/web2-serial.log");
  /* a pty path is assigned at start: the source's must not stay */
  g_autofree char *pty = vk_xml_child_prop (device (clone, "serial", 1), "source", "path");
  g_assert_null (pty);
  /* every NIC gets a generated TAP; host sides untouched */
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *tap = vk_xml_child_prop (device (clone, "interface", i), "target", "dev");
      g_autofree char *want = vk_clone_tap_name ("web2", i);
      g_assert_cmpstr (tap, ==, want);
    }
  g_autofree char *br = vk_xml_child_prop (device (clone, "interface", 0), "source", "bridge");
  g_autofree char *net = vk_xml_child_prop (device (clone, "interface", 1), "source", "network");
  g_assert_cmpstr (br, ==, "br0");
  g_assert_cmpstr (net, ==, "default");
}

static void
test_q35_keeps_identity (void)
{
  g_autoptr(xmlDoc) src = load ("q35.xml");
  g_autoptr(xmlDoc) clone = xmlCopyDoc (src, 1);
  g_autoptr(GHashTable) paths = str_table ("vda", "/clones/win11b-vda.qcow2", NULL);
  g_autoptr(GHashTable) formats = str_table ("vda", "qcow2", NULL);
  const char *taps[] = { "vnet-b0", "vnet-b1", NULL };
  VkCloneRewrite rw = { "win11b", UUID2, paths, formats, taps, NULL, NULL,
                        "/var/lib/libvirt/qemu/nvram/win11b_VARS.fd" };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_clone_rewrite (clone, "win11", &rw, &error));
  g_assert_no_error (error);
  g_autoptr(GHashTable) rules = assert_only_allowed (src, clone);
  const char *expect[] = { "name", "UUID", "disk source path", "TAP device", "NVRAM path",
                           "TPM state path", "character device path" };
  for (gsize i = 0; i < G_N_ELEMENTS (expect); i++)
    g_assert_true (g_hash_table_contains (rules, expect[i]));

  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (clone), "os");
  g_autofree char *nv = vk_xml_child_text (os, "nvram");
  g_autofree char *tmpl = vk_xml_child_prop (os, "nvram", "template");
  g_assert_cmpstr (nv, ==, "/var/lib/libvirt/qemu/nvram/win11b_VARS.fd");
  g_assert_cmpstr (tmpl, ==, "/usr/share/OVMF/OVMF_VARS_4M.ms.fd");
  g_assert_null (vk_xml_child (vk_xml_child (device (clone, "tpm", 0), "backend"), "source"));
  g_autofree char *t0 = vk_xml_child_prop (device (clone, "interface", 0), "target", "dev");
  g_autofree char *t1 = vk_xml_child_prop (device (clone, "interface", 1), "target", "dev");
  g_assert_cmpstr (t0, ==, "vnet-b0");
  g_assert_cmpstr (t1, ==, "vnet-b1");
  g_autofree char *log = vk_xml_child_prop (device (clone, "console", 0), "log", "file");
  g_assert_cmpstr (log, ==, "/var/log/vmkeep/win11b-serial.log");
  g_assert_null (vk_xml_prop (device (clone, "console", 0), "tty"));
}

/* Without an NVRAM path the element stays, emptied, so libvirt names a
 * file after the clone instead of sharing the source's. */
static void
test_q35_nvram_default (void)
{
  g_autoptr(xmlDoc) src = load ("q35.xml");
  g_autoptr(xmlDoc) clone = xmlCopyDoc (src, 1);
  g_autoptr(GHashTable) paths = str_table ("vda", "/clones/c.qcow2", NULL);
  VkCloneRewrite rw = { "c", UUID2, paths, NULL, NULL, NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_clone_rewrite (clone, "win11", &rw, &error));
  g_autoptr(GHashTable) rules = assert_only_allowed (src, clone);
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (clone), "os");
  g_autofree char *nv = vk_xml_child_text (os, "nvram");
  g_assert_true (nv == NULL || *nv == '\0');
  /* no format table: the format stays */
  g_autofree char *fmt = vk_xml_child_prop (device (clone, "disk", 0), "driver", "type");
  g_assert_cmpstr (fmt, ==, "qcow2");
}

/* ------------------------------------------------------- host side switch */

static void
check_switch (const char *fixture, const char *src_name, const char *bridge,
              const char *network)
{
  g_autoptr(xmlDoc) src = load (fixture);
  g_autoptr(xmlDoc) clone = xmlCopyDoc (src, 1);
  g_autoptr(GHashTable) paths = str_table ("vda", "/c/vda.qcow2", "vdb", "/c/vdb.qcow2", NULL);
  VkCloneRewrite rw = { "sw", UUID2, paths, NULL, NULL, bridge, network, NULL };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_clone_rewrite (clone, src_name, &rw, &error));
  g_assert_no_error (error);
  g_autoptr(GHashTable) rules = assert_only_allowed (src, clone);
  g_assert_true (g_hash_table_contains (rules, "NIC host side"));
  const char *kind = bridge ? "bridge" : "network";
  const char *value = bridge ? bridge : network;
  guint n = 0;
  for (xmlNodePtr c = vk_domain_devices (clone)->children; c; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE || !xmlStrEqual (c->name, BAD_CAST "interface"))
        continue;
      g_autofree char *type = vk_xml_prop (c, "type");
      g_assert_cmpstr (type, ==, kind);
      xmlNodePtr s = vk_xml_child (c, "source");
      g_assert_nonnull (s);
      g_autofree char *v = vk_xml_prop (s, kind);
      g_assert_cmpstr (v, ==, value);
      /* nothing of the old host side survives (portid, bridge of a network) */
      guint nattr = 0;
      for (xmlAttrPtr a = s->properties; a; a = a->next)
        nattr++;
      g_assert_cmpuint (nattr, ==, 1);
      g_assert_null (vk_xml_child_prop (c, "target", "managed"));
      g_autofree char *tap = vk_xml_child_prop (c, "target", "dev");
      g_autofree char *want = vk_clone_tap_name ("sw", n);
      g_assert_cmpstr (tap, ==, want);
      n++;
    }
  g_assert_cmpuint (n, >, 0);
}

static void
test_switch_bridge (void)
{
  check_switch ("pc.xml", "web1", "br9", NULL);
  check_switch ("q35.xml", "win11", "br9", NULL);
}

static void
test_switch_network (void)
{
  check_switch ("pc.xml", "web1", NULL, "isolated");
  check_switch ("q35.xml", "win11", NULL, "isolated");
}

/* ------------------------------------------------------------- refusals */

static void
test_too_many_taps (void)
{
  g_autoptr(xmlDoc) doc = load ("pc.xml");
  g_autoptr(GHashTable) paths = str_table ("vda", "/c/vda.qcow2", "vdb", "/c/vdb.qcow2", NULL);
  const char *taps[] = { "t0", "t1", "t2", "t3", NULL };
  VkCloneRewrite rw = { "web2", UUID2, paths, NULL, taps, NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_clone_rewrite (doc, "web1", &rw, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "4"));
  g_assert_nonnull (strstr (error->message, "3 NICs"));
}

static void
test_taps_in_order (void)
{
  g_autoptr(xmlDoc) doc = load ("pc.xml");
  g_autoptr(GHashTable) paths = str_table ("vda", "/c/vda.qcow2", "vdb", "/c/vdb.qcow2", NULL);
  const char *taps[] = { "mine0", "", NULL };   /* "" = generate */
  VkCloneRewrite rw = { "web2", UUID2, paths, NULL, taps, NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_clone_rewrite (doc, "web1", &rw, &error));
  g_autofree char *t0 = vk_xml_child_prop (device (doc, "interface", 0), "target", "dev");
  g_autofree char *t1 = vk_xml_child_prop (device (doc, "interface", 1), "target", "dev");
  g_autofree char *t2 = vk_xml_child_prop (device (doc, "interface", 2), "target", "dev");
  g_autofree char *g1 = vk_clone_tap_name ("web2", 1);
  g_autofree char *g2 = vk_clone_tap_name ("web2", 2);
  g_assert_cmpstr (t0, ==, "mine0");
  g_assert_cmpstr (t1, ==, g1);
  g_assert_cmpstr (t2, ==, g2);
}

static void
test_writable_disk_needs_path (void)
{
  g_autoptr(xmlDoc) doc = load ("pc.xml");
  /* vdb (writable) has no new path; hdc (read-only CD-ROM) needs none */
  g_autoptr(GHashTable) paths = str_table ("vda", "/c/vda.qcow2", NULL);
  VkCloneRewrite rw = { "web2", UUID2, paths, NULL, NULL, NULL, NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_clone_rewrite (doc, "web1", &rw, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "vdb"));
  g_assert_nonnull (strstr (error->message, "/var/lib/vm/web1-data.raw"));
}

static void
test_not_a_domain (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) doc = vk_xml_parse ("<network><name>x</name></network>", -1, "t", &error);
  g_assert_nonnull (doc);
  VkCloneRewrite rw = { "a", UUID2, NULL, NULL, NULL, NULL, NULL, NULL };
  g_assert_false (vk_clone_rewrite (doc, "b", &rw, &error));
  g_assert_nonnull (error);
}

/* The two checks above are only worth something if they see a change
 * outside the allowed fields: move a NIC and change a queue count in a
 * rewritten clone, and both must notice. */
static void
test_checks_catch_identity_change (void)
{
  g_autoptr(xmlDoc) src = load ("q35.xml");
  g_autoptr(xmlDoc) clone = xmlCopyDoc (src, 1);
  g_autoptr(GHashTable) paths = str_table ("vda", "/c/vda.qcow2", NULL);
  VkCloneRewrite rw = { "x", UUID2, paths, NULL, NULL, "br9", NULL, NULL };
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_clone_rewrite (clone, "win11", &rw, &error));
  xmlNodePtr nic = device (clone, "interface", 0);
  xmlSetProp (vk_xml_child (nic, "address"), BAD_CAST "bus", BAD_CAST "0x03");
  xmlSetProp (vk_xml_child (nic, "driver"), BAD_CAST "queues", BAD_CAST "2");

  g_autoptr(xmlDoc) mb = xmlCopyDoc (src, 1);
  g_autoptr(xmlDoc) ma = xmlCopyDoc (clone, 1);
  mask_allowed (mb);
  mask_allowed (ma);
  g_autofree char *sb = vk_xml_format (mb);
  g_autofree char *sa = vk_xml_format (ma);
  g_assert_cmpstr (sa, !=, sb);

  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) ident = NULL;
  g_assert_true (vk_domain_xml_diff (src, clone, &allowed, &ident, &error));
  for (guint i = 0; i < ident->len; i++)
    g_test_message ("identity difference: %s", ((VkXmlDifference *) ident->pdata[i])->text);
  g_assert_cmpuint (ident->len, ==, 2);
}

/* ------------------------------------------------------------- path rule */

static void
test_log_path_rule (void)
{
  struct { const char *in, *want; } cases[] = {
    /* exact name */
    { "/var/log/vm/web1", "/var/log/vm/web2" },
    /* name followed by one of "-_." */
    { "/var/log/vm/web1.log", "/var/log/vm/web2.log" },
    { "/var/log/vm/web1-serial.log", "/var/log/vm/web2-serial.log" },
    { "/var/log/vm/web1_console.log", "/var/log/vm/web2_console.log" },
    { "/var/log/vm/web1.serial.0.log", "/var/log/vm/web2.serial.0.log" },
    /* merely containing or starting with the name: prefixed */
    { "/var/log/vm/myweb1.log", "/var/log/vm/web2-myweb1.log" },
    { "/var/log/vm/web10.log", "/var/log/vm/web2-web10.log" },
    { "/var/log/vm/web1x-serial.log", "/var/log/vm/web2-web1x-serial.log" },
    { "/var/log/vm/console.log", "/var/log/vm/web2-console.log" },
    /* directories are never rewritten */
    { "/var/log/web1/console.log", "/var/log/web1/web2-console.log" },
    { "/var/log/web1/web1.log", "/var/log/web1/web2.log" },
    { "/srv/web1-logs/web1-serial.log", "/srv/web1-logs/web2-serial.log" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = vk_rewrite_log_path (cases[i].in, "web1", "web2");
      g_test_message ("%s -> %s", cases[i].in, got);
      g_assert_cmpstr (got, ==, cases[i].want);
    }
}

/* ------------------------------------------------------------- TAP names */

static void
test_tap_names (void)
{
  const char *names[] = { "a", "web2", "a-very-long-clone-name-that-is-exactly-sixty-four-chars-long-xyz",
                          "web2.example", NULL };
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint k = 0; names[k]; k++)
    {
      guint idx[] = { 0, 1, 2, 9, 10, 99, 999 };
      for (gsize i = 0; i < G_N_ELEMENTS (idx); i++)
        {
          g_autofree char *t = vk_clone_tap_name (names[k], idx[i]);
          g_autofree char *again = vk_clone_tap_name (names[k], idx[i]);
          g_autoptr(GError) error = NULL;
          g_assert_cmpstr (t, ==, again); /* deterministic */
          g_assert_cmpuint (strlen (t), <=, VK_TAP_NAME_MAX);
          g_assert_true (g_str_has_prefix (t, "vk"));
          g_assert_true (vk_validate_ifname ("tap", t, &error));
          g_assert_no_error (error);
          /* distinct per clone and per NIC */
          g_assert_false (g_hash_table_contains (seen, t));
          g_hash_table_add (seen, g_steal_pointer (&t));
        }
    }
  /* indexes past the three digits still fit */
  g_autofree char *big = vk_clone_tap_name ("web2", 123456);
  g_assert_cmpuint (strlen (big), <=, VK_TAP_NAME_MAX);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/clone-xml/identity/pc", test_pc_keeps_identity);
  g_test_add_func ("/clone-xml/identity/q35", test_q35_keeps_identity);
  g_test_add_func ("/clone-xml/identity/q35-nvram-default", test_q35_nvram_default);
  g_test_add_func ("/clone-xml/host-side/bridge", test_switch_bridge);
  g_test_add_func ("/clone-xml/host-side/network", test_switch_network);
  g_test_add_func ("/clone-xml/taps/in-order", test_taps_in_order);
  g_test_add_func ("/clone-xml/checks-catch-identity-change", test_checks_catch_identity_change);
  g_test_add_func ("/clone-xml/refuse/too-many-taps", test_too_many_taps);
  g_test_add_func ("/clone-xml/refuse/writable-disk", test_writable_disk_needs_path);
  g_test_add_func ("/clone-xml/refuse/not-a-domain", test_not_a_domain);
  g_test_add_func ("/clone-xml/log-path-rule", test_log_path_rule);
  g_test_add_func ("/clone-xml/tap-names", test_tap_names);

  return g_test_run ();
}
