/* tests/ops: the attach, detach and define-and-verify workflows
 * (src/ops/ops-attach.c, ops-domain.c) against test:///default.
 *
 * libvirt's test driver has no device hot-plug, so every attach and
 * detach there is a libvirt failure: that is what these tests use. A
 * failure must say where the device is afterwards; a failure that did
 * happen anyway (the device is there, or gone, as asked: a lost reply)
 * is a notice and a success; a detach of nothing is "not found"; a fault
 * at any step changes nothing. define-and-verify undoes its define when
 * the check after it fails: a new domain is removed, a changed one gets
 * its old definition back. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "domain-xml.h"
#include "ops-attach.h"
#include "ops-domain.h"
#include "ops.h"
#include "virt.h"
#include "vk-error.h"

typedef struct {
  VkConfig *cfg;
  VkConn *conn;
  VkOps *ops;
  const char *fail_at;    /* the step the fault hook fails, or NULL */
  GPtrArray *notices;
} Fixture;

static gboolean
fault (const char *point, gpointer data, GError **error)
{
  Fixture *f = data;
  if (g_strcmp0 (point, f->fail_at) != 0)
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED, "fault injected at %s", point);
  return FALSE;
}

static void
notice (const char *message, gpointer data)
{
  Fixture *f = data;
  g_ptr_array_add (f->notices, g_strdup (message));
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  f->cfg = vk_config_new ();
  g_assert_true (vk_conn_open ("test:///default", &f->conn, &error));
  f->ops = vk_ops_new (f->conn, f->cfg);
  f->ops->fault = fault;
  f->ops->fault_data = f;
  f->ops->notice = notice;
  f->ops->notice_data = f;
  f->notices = g_ptr_array_new_with_free_func (g_free);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  vk_ops_free (f->ops);
  vk_conn_free (f->conn);
  vk_config_free (f->cfg);
  g_ptr_array_unref (f->notices);
}

static xmlNodePtr
find_mac (xmlDocPtr doc, const char *mac)
{
  xmlNodePtr devs = doc ? vk_domain_devices (doc) : NULL;
  for (xmlNodePtr n = devs ? devs->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "interface"))
      {
        g_autofree char *m = vk_xml_child_prop (n, "mac", "address");
        if (g_strcmp0 (m, mac) == 0)
          return n;
      }
  return NULL;
}

static VkDomain *
test_domain (Fixture *f)
{
  VkDomain *dom = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_domain_lookup (f->conn, "test", &dom, &error));
  return dom;
}

static char *
live_xml (VkDomain *dom)
{
  g_autoptr(GError) error = NULL;
  char *xml = vk_domain_xml (dom, FALSE, &error);
  g_assert_no_error (error);
  return xml;
}

static xmlDocPtr
nic_doc (const char *mac)
{
  g_autofree char *xml = g_strdup_printf (
      "<interface type='network'><mac address='%s'/><source network='default'/></interface>",
      mac);
  xmlDocPtr doc = vk_xml_parse (xml, -1, "nic", NULL);
  g_assert_nonnull (doc);
  return doc;
}

/* libvirt refuses the attach and the NIC is not there: the error says so */
static void
test_attach_failure_says_where (Fixture *f, gconstpointer data)
{
  g_autoptr(VkDomain) dom = test_domain (f);
  g_autofree char *before = live_xml (dom);
  g_autoptr(xmlDoc) nic = nic_doc ("52:54:00:00:00:07");
  VkDevicePlacement pl = { .bus = 0, .slot = 7 };
  VkOpsDevice dev = { find_mac, "52:54:00:00:00:07", "NIC 52:54:00:00:00:07" };
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;

  g_assert_false (vk_ops_attach_device (f->ops, dom, "test", xmlDocGetRootElement (nic), &pl,
                                        NULL, TRUE, FALSE, &dev, NULL, &addr, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "NIC 52:54:00:00:00:07 is absent in the running VM"));
  g_assert_nonnull (strstr (error->message, "not asked for in the persistent definition"));
  g_assert_null (addr);
  g_autofree char *after = live_xml (dom);
  g_assert_cmpstr (before, ==, after);
}

/* libvirt reports a failure, but the NIC is where it was asked to go (a
 * lost reply): a notice, and the address is proven by reading it back */
static void
test_attach_lost_reply (Fixture *f, gconstpointer data)
{
  g_autoptr(VkDomain) dom = test_domain (f);
  g_autoptr(xmlDoc) nic = nic_doc ("aa:bb:cc:dd:ee:ff");
  VkDevicePlacement pl = { .bus = 0, .slot = 1 };
  VkOpsDevice dev = { find_mac, "aa:bb:cc:dd:ee:ff", "NIC aa:bb:cc:dd:ee:ff" };
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;

  g_assert_true (vk_ops_attach_device (f->ops, dom, "test", xmlDocGetRootElement (nic), &pl,
                                       NULL, TRUE, FALSE, &dev, NULL, &addr, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (addr, ==, "0000:00:01.0");
  g_assert_cmpuint (f->notices->len, ==, 1);
  g_assert_nonnull (strstr (f->notices->pdata[0], "is attached to 'test' as asked"));

  /* ... but not at the slot vmkeep chose: an error naming both */
  VkDevicePlacement other = { .bus = 0, .slot = 9 };
  g_clear_pointer (&addr, g_free);
  g_assert_false (vk_ops_attach_device (f->ops, dom, "test", xmlDocGetRootElement (nic), &other,
                                        NULL, TRUE, FALSE, &dev, NULL, &addr, &error));
  g_assert_nonnull (strstr (error->message, "at 0000:00:01.0 instead of 0000:00:09.0"));
}

/* a fault before the attach: nothing is asked of libvirt, nothing changes */
static void
test_attach_fault (Fixture *f, gconstpointer data)
{
  g_autoptr(VkDomain) dom = test_domain (f);
  g_autofree char *before = live_xml (dom);
  g_autoptr(xmlDoc) nic = nic_doc ("aa:bb:cc:dd:ee:ff");
  VkDevicePlacement pl = { .bus = 0, .slot = 1 };
  VkOpsDevice dev = { find_mac, "aa:bb:cc:dd:ee:ff", "NIC aa:bb:cc:dd:ee:ff" };
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;

  f->fail_at = "attach";
  g_assert_false (vk_ops_attach_device (f->ops, dom, "test", xmlDocGetRootElement (nic), &pl,
                                        NULL, TRUE, FALSE, &dev, NULL, &addr, &error));
  g_assert_cmpstr (error->message, ==, "fault injected at attach");
  g_assert_cmpuint (f->notices->len, ==, 0);
  g_autofree char *after = live_xml (dom);
  g_assert_cmpstr (before, ==, after);
}

static void
test_detach (Fixture *f, gconstpointer data)
{
  g_autoptr(VkDomain) dom = test_domain (f);
  g_autofree char *before = live_xml (dom);
  g_autoptr(GError) error = NULL;
  g_autofree char *addr = NULL;
  gboolean live = FALSE, config = FALSE;

  /* nothing by that key: not found, naming the listing command */
  VkOpsDevice none = { find_mac, "52:54:00:00:00:99", "NIC 52:54:00:00:00:99" };
  g_assert_false (vk_ops_detach_device (f->ops, dom, "test", &live, &config, 1, &none,
                                        "vmkeep layout test", &addr, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "'vmkeep layout test' lists"));
  g_clear_error (&error);

  /* libvirt refuses and the NIC is still there: the error says so */
  VkOpsDevice nic = { find_mac, "aa:bb:cc:dd:ee:ff", "NIC aa:bb:cc:dd:ee:ff" };
  live = config = FALSE;
  g_assert_false (vk_ops_detach_device (f->ops, dom, "test", &live, &config, 1, &nic,
                                        "vmkeep layout test", &addr, NULL, &error));
  g_assert_true (live);   /* wherever it is: running, and persistent */
  g_assert_nonnull (strstr (error->message, "still present in the running VM"));
  g_clear_error (&error);

  /* a fault before the detach: nothing changes */
  f->fail_at = "detach";
  live = config = FALSE;
  g_assert_false (vk_ops_detach_device (f->ops, dom, "test", &live, &config, 1, &nic,
                                        "vmkeep layout test", &addr, NULL, &error));
  g_assert_cmpstr (error->message, ==, "fault injected at detach");
  g_autofree char *after = live_xml (dom);
  g_assert_cmpstr (before, ==, after);
}

static void
test_scope (Fixture *f, gconstpointer data)
{
  g_autoptr(VkDomain) dom = test_domain (f);
  g_autoptr(GError) error = NULL;
  gboolean live = FALSE, config = FALSE;

  g_assert_true (vk_ops_attach_scope (dom, "test", &live, &config, &error));
  g_assert_true (live && !config);   /* running: live only by default */
  g_assert_true (vk_domain_destroy (dom, &error));
  live = config = FALSE;
  g_assert_false (vk_ops_attach_scope (dom, "test", &live, &config, &error));
  g_assert_nonnull (strstr (error->message, "use --config"));
  g_clear_error (&error);
  live = TRUE;
  g_assert_false (vk_ops_check_scope (dom, "test", TRUE, FALSE, "hot-plug", &error));
  g_assert_nonnull (strstr (error->message, "--live cannot hot-plug"));
}

static const char *const bare_domain =
  "<domain type='test'><name>vk-ops-new</name><memory>65536</memory>"
  "<os><type arch='i686'>hvm</type></os><devices/></domain>";
/* what the slot policy wants of a domain without PCI devices */
static const char *const plain_domain =
  "<domain type='test'><name>vk-ops-new</name><memory>65536</memory>"
  "<os><type arch='i686'>hvm</type></os><devices><controller type='usb' model='none'/>"
  "<memballoon model='none'/></devices></domain>";

/* the check after a define fails: a new domain is removed again, a
 * changed one gets its old definition back */
static void
test_define_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) bare = vk_xml_parse (bare_domain, -1, "bare", NULL);
  g_autoptr(xmlDoc) doc = vk_xml_parse (plain_domain, -1, "new", NULL);
  g_autoptr(VkDomain) dom = NULL;
  g_autoptr(GPtrArray) v = NULL;

  /* libvirt would add a USB controller and a balloon where it likes */
  g_assert_false (vk_ops_define_verified (f->ops, bare, &dom, &v, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "the definition was removed again"));
  g_assert_cmpuint (v->len, ==, 2);
  g_assert_null (vk_domain_try_lookup (f->conn, "vk-ops-new"));
  g_clear_error (&error);

  /* a fault after the define */
  f->fail_at = "define-verified";
  g_assert_false (vk_ops_define_verified (f->ops, doc, &dom, NULL, &error));
  g_assert_cmpstr (error->message, ==, "fault injected at define-verified");
  g_assert_null (vk_domain_try_lookup (f->conn, "vk-ops-new"));
  g_clear_error (&error);

  f->fail_at = NULL;
  g_assert_true (vk_ops_define_verified (f->ops, doc, &dom, NULL, &error));
  g_assert_no_error (error);
  g_autofree char *first = vk_domain_xml (dom, TRUE, &error);

  xmlNodePtr mem = vk_xml_child (xmlDocGetRootElement (doc), "memory");
  xmlNodeSetContent (mem, BAD_CAST "131072");
  f->fail_at = "define-verified";
  g_autoptr(VkDomain) again = NULL;
  g_assert_false (vk_ops_define_verified (f->ops, doc, &again, NULL, &error));
  g_clear_error (&error);
  g_autoptr(VkDomain) now = vk_domain_try_lookup (f->conn, "vk-ops-new");
  g_assert_nonnull (now);
  g_autofree char *restored = vk_domain_xml (now, TRUE, &error);
  g_assert_cmpstr (restored, ==, first);
  g_assert_true (vk_domain_undefine (now, FALSE, &error));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, setup, fn, teardown)
  ADD ("/ops/attach/failure-says-where", test_attach_failure_says_where);
  ADD ("/ops/attach/lost-reply", test_attach_lost_reply);
  ADD ("/ops/attach/fault", test_attach_fault);
  ADD ("/ops/detach", test_detach);
  ADD ("/ops/attach/scope", test_scope);
  ADD ("/ops/define/rollback", test_define_rollback);
  return g_test_run ();
}
