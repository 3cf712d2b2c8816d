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
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include "fileutil.h"
#include "idle.h"
#include "ops-idle.h"
#include "ops-test.h"
#include "store.h"
#include "virt.h"
#include "vk-error.h"

static gboolean
fail_at (const char *point, gpointer data, GError **error)
{
  if (g_strcmp0 (point, data) != 0)
    return TRUE;
  return vk_fail (error, VK_ERROR_FAILED, "injected failure at %s", point);
}

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

typedef struct {
  char *dir;
  VkConfig *cfg;
  VkConn *conn;
  VkOps *ops;
  char *uuid;        /* of the domain "test" */
  gint64 id;         /* its libvirt id */
  char *history;     /* its history file */
  GPtrArray *notices;
} Fixture;

static void
on_notice (const char *message, gpointer data)
{
  g_ptr_array_add (data, g_strdup (message));
}

static void
setup (Fixture *f, gconstpointer data)
{
  vk_ops_test_open ("vmkeep-ops-idle", &f->dir, &f->cfg, &f->conn, &f->ops);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stats = vk_conn_domain_stats (f->conn, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (stats->len, ==, 1);
  VkDomainStats *s = stats->pdata[0];
  f->uuid = g_strdup (s->uuid);
  f->id = s->id;
  g_autofree char *file = g_strconcat (f->uuid, ".json", NULL);
  f->history = g_build_filename (f->cfg->store_dir, "idle", file, NULL);
  f->notices = g_ptr_array_new_with_free_func (g_free);
  f->ops->notice = on_notice;
  f->ops->notice_data = f->notices;
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_free (f->uuid);
  g_free (f->history);
  g_ptr_array_unref (f->notices);
  vk_ops_test_close (f->dir, f->cfg, f->conn, f->ops);
}

static VkIdleHistory *
read_history (Fixture *f)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true (g_file_get_contents (f->history, &text, &len, &error));
  VkIdleHistory *h = vk_idle_history_parse (text, len, f->history, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (h->uuid, ==, f->uuid);
  return h;
}

/* Write a history for "test" whose samples lie `ago_s` seconds back
 * (newest last), with domain id `id`. */
static void
write_history (Fixture *f, const gint64 *ago_s, guint n, gint64 id)
{
  g_autoptr(VkIdleHistory) h = vk_idle_history_new (f->uuid);
  gint64 now = g_get_real_time () / 1000;
  for (guint i = 0; i < n; i++)
    {
      VkIdleSample s = { .time_ms = now - ago_s[i] * 1000, .dom_id = id };
      vk_idle_history_append (h, &s);
    }
  gsize len;
  g_autofree char *text = vk_idle_history_serialize (h, &len);
  g_autofree char *dir = g_path_get_dirname (f->history);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (f->history, text, (gssize) len, NULL));
}

static void
test_sample (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  guint stored = 42;
  g_assert_true (vk_ops_idle_sample (f->ops, &stored, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stored, ==, 1);
  GStatBuf st;
  g_assert_cmpint (g_stat (f->history, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_autofree char *dir = g_path_get_dirname (f->history);
  g_assert_cmpint (g_stat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_autoptr(VkIdleHistory) h = read_history (f);
  g_assert_cmpuint (h->samples->len, ==, 1);
  VkIdleSample *s = &g_array_index (h->samples, VkIdleSample, 0);
  g_assert_cmpint (s->dom_id, ==, f->id);
  /* the test driver reports no counters: none is recorded as 0 */
  g_assert_cmpuint (s->has, ==, 0);
  g_assert_cmpint (ABS (s->time_ms - g_get_real_time () / 1000), <, 60 * 1000);

  /* again at once: closer than the spacing, not stored */
  g_assert_true (vk_ops_idle_sample (f->ops, &stored, &error));
  g_assert_cmpuint (stored, ==, 0);
  g_autoptr(VkIdleHistory) again = read_history (f);
  g_assert_cmpuint (again->samples->len, ==, 1);

  /* after the spacing: a second sample */
  gint64 ago[] = { 120 };
  write_history (f, ago, 1, f->id);
  g_assert_true (vk_ops_idle_sample (f->ops, &stored, &error));
  g_assert_cmpuint (stored, ==, 1);
  g_autoptr(VkIdleHistory) two = read_history (f);
  g_assert_cmpuint (two->samples->len, ==, 2);
  g_assert_cmpuint (f->notices->len, ==, 0);
}

/* A history that is garbage, another domain's, or a symbolic link is not
 * used: a new one replaces it, and the user is told. */
static void
test_sample_bad_history (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_ops_idle_sample (f->ops, NULL, &error));
  static const char *const bad[] = {
    "{\"format\":\"vmkeep-idle-history\",\"version\":1,\"uuid\":\"u\",\"samples\":[]}",
    "\x00\xff garbage",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_true (g_file_set_contents (f->history, bad[i], -1, NULL));
      g_ptr_array_set_size (f->notices, 0);
      g_assert_true (vk_ops_idle_sample (f->ops, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (f->notices->len, ==, 1);
      g_assert_nonnull (strstr (f->notices->pdata[0], "'test'"));
      g_assert_nonnull (strstr (f->notices->pdata[0], "a new one starts"));
      g_autoptr(VkIdleHistory) h = read_history (f);
      g_assert_cmpuint (h->samples->len, ==, 1);
    }

  /* a symbolic link is neither followed nor written through */
  g_autofree char *target = g_build_filename (f->dir, "target", NULL);
  g_assert_true (g_file_set_contents (target, "precious", -1, NULL));
  g_unlink (f->history);
  g_assert_cmpint (symlink (target, f->history), ==, 0);
  g_ptr_array_set_size (f->notices, 0);
  g_assert_true (vk_ops_idle_sample (f->ops, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->notices->len, ==, 1);
  g_autofree char *kept = NULL;
  g_assert_true (g_file_get_contents (target, &kept, NULL, NULL));
  g_assert_cmpstr (kept, ==, "precious");
  GStatBuf st;
  g_assert_cmpint (g_lstat (f->history, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
}

/* Another vmkeep recording the same domain: this one leaves it alone. A
 * write that fails is an error, and the history stays as it was. */
static void
test_sample_busy_and_fault (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *locks = vk_store_locks_dir (f->cfg->store_dir);
  g_autofree char *key = g_strdup_printf ("idle-%s", f->uuid);
  g_assert_true (vk_store_ensure_root (f->cfg->store_dir, &error));
  VkLock *lock = vk_lock_acquire (locks, key, &error);
  g_assert_nonnull (lock);
  guint stored = 42;
  g_assert_true (vk_ops_idle_sample (f->ops, &stored, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stored, ==, 0);
  g_assert_false (g_file_test (f->history, G_FILE_TEST_EXISTS));
  vk_lock_release (lock);

  /* the domain's own lock (a hibernate under way) does not matter */
  VkLock *dom_lock = vk_ops_lock_domain (f->ops, f->uuid, "test", &error);
  g_assert_nonnull (dom_lock);
  g_assert_true (vk_ops_idle_sample (f->ops, &stored, &error));
  g_assert_cmpuint (stored, ==, 1);
  vk_lock_release (dom_lock);

  gint64 ago[] = { 600, 300 };
  write_history (f, ago, 2, f->id);
  f->ops->fault = fail_at;
  f->ops->fault_data = "idle-store";
  g_assert_false (vk_ops_idle_sample (f->ops, &stored, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "domain 'test': cannot record its activity"));
  f->ops->fault = NULL;
  g_autoptr(VkIdleHistory) h = read_history (f);
  g_assert_cmpuint (h->samples->len, ==, 2);
}

/* Histories nobody wrote for the whole window go; others stay. */
static void
test_sample_expire (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_assert_true (vk_ops_idle_sample (f->ops, NULL, &error));
  g_autofree char *dir = g_path_get_dirname (f->history);
  const char *gone_uuid = "11111111-2222-3333-4444-555555555555";
  g_autofree char *old = g_strdup_printf ("%s/%s.json", dir, gone_uuid);
  g_autofree char *recent = g_strdup_printf ("%s/%s.json", dir,
                                             "11111111-2222-3333-4444-666666666666");
  g_autofree char *other = g_build_filename (dir, "notes.json", NULL);
  const char *const files[] = { old, recent, other };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    g_assert_true (g_file_set_contents (files[i], "{}", -1, NULL));
  struct utimbuf when = { .actime = time (NULL) - VK_IDLE_MAX_WINDOW_S - 3600,
                          .modtime = time (NULL) - VK_IDLE_MAX_WINDOW_S - 3600 };
  g_assert_cmpint (utime (old, &when), ==, 0);
  g_assert_cmpint (utime (other, &when), ==, 0);
  g_assert_true (vk_ops_idle_sample (f->ops, NULL, &error));
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (recent, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (other, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (f->history, G_FILE_TEST_EXISTS));
}

static VkIdleReport *
only_report (GPtrArray *reports)
{
  g_assert_nonnull (reports);
  g_assert_cmpuint (reports->len, ==, 1);
  VkIdleReport *r = reports->pdata[0];
  g_assert_cmpstr (r->name, ==, "test");
  g_assert_true (r->running);
  return r;
}

/* The test driver reports no CPU: a CPU threshold can never be met,
 * whatever the history says. */
static void
test_report_unmeasured (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 ago[] = { 1800, 1200, 600 };
  write_history (f, ago, 3, f->id);
  VkIdleThresholds t = { .cpu_percent = 5, .net_rate = -1, .block_rate = -1 };
  g_autoptr(GPtrArray) reps = vk_ops_idle_report (f->ops, &t, 60, 0, &error);
  g_assert_no_error (error);
  VkIdleReport *r = only_report (reps);
  g_assert_false (r->meets);
  g_assert_true (r->stored);
  g_assert_null (r->note);
  g_assert_cmpint (r->verdict.idle_ms, ==, 0);
  g_assert_cmpint (r->verdict.measure, ==, VK_IDLE_CPU);
  g_assert_cmpint (r->verdict.broken_by, ==, VK_IDLE_BREAK_UNMEASURED);
  g_assert_cmpuint (r->verdict.samples, ==, 4);
  g_assert_cmpint (r->verdict.history_ms, >=, 1800 * 1000);
}

/* With no threshold checked, the stretch is the history without restarts
 * or gaps, joined with this run's reading; it never "meets". */
static void
test_report_history (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gint64 ago[] = { 1800, 1200, 600 };
  write_history (f, ago, 3, f->id);
  VkIdleThresholds t = VK_IDLE_THRESHOLDS_NONE;
  g_autoptr(GPtrArray) reps = vk_ops_idle_report (f->ops, &t, 60, 0, &error);
  g_assert_no_error (error);
  VkIdleReport *r = only_report (reps);
  g_assert_cmpint (r->verdict.idle_ms, >=, 1800 * 1000);
  g_assert_cmpint (r->verdict.idle_ms, <, 1900 * 1000);
  g_assert_false (r->meets);
  g_autoptr(VkIdleHistory) h = read_history (f);
  g_assert_cmpuint (h->samples->len, ==, 4);

  /* the older samples were of an earlier start of the domain */
  write_history (f, ago, 3, f->id + 1);
  g_autoptr(GPtrArray) again = vk_ops_idle_report (f->ops, &t, 60, 0, &error);
  r = only_report (again);
  g_assert_cmpint (r->verdict.idle_ms, ==, 0);
  g_assert_cmpint (r->verdict.broken_by, ==, VK_IDLE_BREAK_RESET);

  /* a gap limit the history does not keep */
  write_history (f, ago, 3, f->id);
  t.max_gap_ms = 300 * 1000;
  g_autoptr(GPtrArray) gap = vk_ops_idle_report (f->ops, &t, 60, 0, &error);
  r = only_report (gap);
  g_assert_cmpint (r->verdict.broken_by, ==, VK_IDLE_BREAK_GAP);
}

/* On the spot: two readings a second apart, the second not stored
 * (closer than the spacing) but counted. */
static void
test_report_sample (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkIdleThresholds t = VK_IDLE_THRESHOLDS_NONE;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(GPtrArray) reps = vk_ops_idle_report (f->ops, &t, 1, 1, &error);
  gint64 took = g_get_monotonic_time () - t0;
  g_assert_no_error (error);
  g_assert_cmpint (took, >=, G_USEC_PER_SEC);
  VkIdleReport *r = only_report (reps);
  g_assert_cmpuint (r->verdict.samples, ==, 2);
  g_assert_cmpint (r->verdict.history_ms, >=, 950);
  g_assert_cmpint (r->verdict.history_ms, <=, took / 1000 + 50);
  g_assert_cmpint (r->verdict.idle_ms, ==, r->verdict.history_ms);
  g_autoptr(VkIdleHistory) h = read_history (f);
  g_assert_cmpuint (h->samples->len, ==, 1);

  t.block_rate = 0;
  g_autoptr(GPtrArray) blk = vk_ops_idle_report (f->ops, &t, 1, 1, &error);
  r = only_report (blk);
  g_assert_false (r->meets);
  g_assert_cmpint (r->verdict.broken_by, ==, VK_IDLE_BREAK_UNMEASURED);
}

static gboolean
cancel_soon (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static gpointer
cancel_thread (gpointer data)
{
  g_usleep (200 * 1000);
  cancel_soon (data);
  return NULL;
}

/* A stop request ends the wait at once. */
static void
test_report_cancel (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  VkIdleThresholds t = VK_IDLE_THRESHOLDS_NONE;
  GThread *th = g_thread_new ("cancel", cancel_thread, f->ops->cancel);
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(GPtrArray) reps = vk_ops_idle_report (f->ops, &t, 60, 30, &error);
  gint64 took = g_get_monotonic_time () - t0;
  g_thread_join (th);
  g_assert_null (reps);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "interrupted"));
  g_assert_cmpint (took, <, 5 * G_USEC_PER_SEC);
}

static void
test_report_usage (Fixture *f, gconstpointer data)
{
  VkIdleThresholds t = VK_IDLE_THRESHOLDS_NONE;
  const struct { guint64 duration; guint sample; } bad[] = {
    { 0, 0 }, { VK_IDLE_MAX_WINDOW_S + 1, 0 }, { 60, 3601 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_null (vk_ops_idle_report (f->ops, &t, bad[i].duration, bad[i].sample, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
    }
  g_assert_false (g_file_test (f->cfg->store_dir, G_FILE_TEST_EXISTS));
}

/* A store this user cannot write still gives a report, saying so. */
static void
test_report_unwritable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *file = g_build_filename (f->dir, "a-file", NULL);
  g_assert_true (g_file_set_contents (file, "", -1, NULL));
  g_free (f->cfg->store_dir);
  f->cfg->store_dir = g_build_filename (file, "store", NULL);
  VkIdleThresholds t = VK_IDLE_THRESHOLDS_NONE;
  g_autoptr(GPtrArray) reps = vk_ops_idle_report (f->ops, &t, 60, 0, &error);
  g_assert_no_error (error);
  VkIdleReport *r = only_report (reps);
  g_assert_false (r->stored);
  g_assert_nonnull (r->note);
  g_assert_nonnull (strstr (r->note, "not stored"));
  g_assert_cmpuint (r->verdict.samples, ==, 1);
  /* sampling alone fails: storing is all it does */
  g_assert_false (vk_ops_idle_sample (f->ops, NULL, &error));
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/idle/virt/stats", test_stats);
#define ADD(path, fn) g_test_add ("/idle/ops/" path, Fixture, NULL, setup, fn, teardown)
  ADD ("sample", test_sample);
  ADD ("sample-bad-history", test_sample_bad_history);
  ADD ("sample-busy-and-fault", test_sample_busy_and_fault);
  ADD ("sample-expire", test_sample_expire);
  ADD ("report-unmeasured", test_report_unmeasured);
  ADD ("report-history", test_report_history);
  ADD ("report-sample", test_report_sample);
  ADD ("report-cancel", test_report_cancel);
  ADD ("report-usage", test_report_usage);
  ADD ("report-unwritable", test_report_unwritable);
#undef ADD
  return g_test_run ();
}
