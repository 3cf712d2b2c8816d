/* Unit tests for src/core/idle.c: the idle history (round trip, bounds,
 * hostile input), the idle stretch (thresholds at the edge, counter
 * resets, gaps, unmeasured counters) and the option parsers. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "idle.h"
#include "vk-error.h"

#define UUID "6695eb01-f6a4-8304-79aa-97f2502e193f"
#define T0 G_GINT64_CONSTANT (1733300000000) /* ms */
#define SEC G_GINT64_CONSTANT (1000)
#define MINUTE (60 * SEC)

/* A sample at T0 + `at_ms` with every counter reported. */
static VkIdleSample
sample (gint64 at_ms, guint64 cpu_ns, guint64 net, guint64 blk)
{
  return (VkIdleSample) { .time_ms = T0 + at_ms, .cpu_ns = cpu_ns, .net_bytes = net,
                          .block_bytes = blk, .vcpus = 1, .dom_id = 7,
                          .has = VK_IDLE_HAS_CPU | VK_IDLE_HAS_NET | VK_IDLE_HAS_BLOCK };
}

static VkIdleHistory *
parse (const char *text, GError **error)
{
  return vk_idle_history_parse (text, strlen (text), "/store/idle/x.json", error);
}

/* ------------------------------------------------------------- history */

static void
assert_same (const VkIdleSample *a, const VkIdleSample *b)
{
  g_assert_cmpint (a->time_ms, ==, b->time_ms);
  g_assert_cmpuint (a->cpu_ns, ==, b->cpu_ns);
  g_assert_cmpuint (a->net_bytes, ==, b->net_bytes);
  g_assert_cmpuint (a->block_bytes, ==, b->block_bytes);
  g_assert_cmpuint (a->vcpus, ==, b->vcpus);
  g_assert_cmpint (a->dom_id, ==, b->dom_id);
  g_assert_cmpuint (a->has, ==, b->has);
}

static void
test_round_trip (void)
{
  g_autoptr(VkIdleHistory) h = vk_idle_history_new (UUID);
  VkIdleSample a = sample (0, 5, 6, 7);
  VkIdleSample b = sample (5 * MINUTE, G_MAXINT64, 0, 0);
  b.vcpus = 0;
  b.dom_id = 0;
  b.has = VK_IDLE_HAS_CPU; /* net and block not reported */
  g_assert_cmpint (vk_idle_history_append (h, &a), ==, VK_IDLE_APPENDED);
  g_assert_cmpint (vk_idle_history_append (h, &b), ==, VK_IDLE_APPENDED);

  gsize len = 0;
  g_autofree char *text = vk_idle_history_serialize (h, &len);
  g_assert_cmpuint (len, ==, strlen (text));
  g_autoptr(GError) error = NULL;
  g_autoptr(VkIdleHistory) back = parse (text, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->uuid, ==, UUID);
  g_assert_cmpuint (back->samples->len, ==, 2);
  for (guint i = 0; i < 2; i++)
    assert_same (&g_array_index (back->samples, VkIdleSample, i),
                 &g_array_index (h->samples, VkIdleSample, i));
  g_autofree char *again = vk_idle_history_serialize (back, NULL);
  g_assert_cmpstr (again, ==, text);

  /* an empty history too */
  g_autoptr(VkIdleHistory) empty = vk_idle_history_new (UUID);
  g_autofree char *etext = vk_idle_history_serialize (empty, NULL);
  g_autoptr(VkIdleHistory) eback = parse (etext, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (eback->samples->len, ==, 0);
}

/* Unknown members are ignored (a later vmkeep may add some). */
static void
test_parse_extra_members (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkIdleHistory) h =
    parse ("{\"format\":\"vmkeep-idle-history\",\"version\":1,\"uuid\":\"u\",\"later\":[1],"
           "\"samples\":[{\"t\":1,\"x\":\"y\"},{\"t\":2,\"cpu\":0,\"net\":3}]}", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (h->samples->len, ==, 2);
  VkIdleSample *s = &g_array_index (h->samples, VkIdleSample, 1);
  g_assert_cmpuint (s->has, ==, VK_IDLE_HAS_CPU | VK_IDLE_HAS_NET);
  g_assert_cmpuint (s->net_bytes, ==, 3);
}

static void
test_parse_hostile (void)
{
#define HEAD "{\"format\":\"vmkeep-idle-history\",\"version\":1,\"uuid\":\"u\","
  static const struct {
    const char *text;
    const char *says;
  } cases[] = {
    { "", "not a vmkeep idle history" },
    { "null", "not a vmkeep idle history" },
    { "[]", "not a vmkeep idle history" },
    { "{\"format\":\"vmkeep-idle", "not valid JSON" },
    { "{\"format\":1,\"version\":1}", "not a vmkeep idle history" },
    { "{\"format\":\"vmkeep-image-export\",\"version\":1}", "not a vmkeep idle history" },
    { "{\"format\":\"vmkeep-idle-history\",\"version\":2}", "another format version" },
    { "{\"format\":\"vmkeep-idle-history\",\"version\":\"1\"}", "another format version" },
    { "{\"format\":\"vmkeep-idle-history\",\"version\":1}", "no domain UUID" },
    { "{\"format\":\"vmkeep-idle-history\",\"version\":1,\"uuid\":\"\"}", "no domain UUID" },
    /* json-glib refuses a lone surrogate, or decodes it to bytes that
     * are not UTF-8 (versions differ): refused either way */
    { "{\"format\":\"vmkeep-idle-history\",\"version\":1,\"uuid\":\"\\ud800\"}",
      "x.json: " },
    { HEAD "\"samples\":{}}", "no \"samples\" array" },
    { HEAD "\"samples\":[1]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":0}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":-5}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":1.5}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":\"1\"}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":1,\"cpu\":-1}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":1,\"net\":1e3}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":1,\"blk\":null}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":1,\"vcpus\":4294967296}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":1,\"id\":[]}]}", "sample 1 is malformed" },
    /* past int64: json-glib makes it a double, which is no count */
    { HEAD "\"samples\":[{\"t\":1,\"cpu\":99999999999999999999}]}", "sample 1 is malformed" },
    { HEAD "\"samples\":[{\"t\":2},{\"t\":2}]}", "sample 2 is not newer" },
    { HEAD "\"samples\":[{\"t\":3},{\"t\":2}]}", "sample 2 is not newer" },
    { HEAD "\"samples\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}", "nested too deep" },
  };
#undef HEAD
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VkIdleHistory) h = parse (cases[i].text, &error);
      if (h != NULL || error == NULL)
        g_error ("case %" G_GSIZE_FORMAT " (%s) was accepted", i, cases[i].text);
      g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
      if (strstr (error->message, cases[i].says) == NULL ||
          strstr (error->message, "/store/idle/x.json") == NULL)
        g_error ("case %" G_GSIZE_FORMAT " (%s): \"%s\" does not say \"%s\"", i,
                 cases[i].text, error->message, cases[i].says);
    }
}

/* A deep document, and one over the size limit, are refused before
 * json-glib sees them (it recurses per level). */
static void
test_parse_bounds (void)
{
  g_autoptr(GError) error = NULL;
  gsize n = 500000;
  g_autofree char *deep = g_malloc (2 * n + 1);
  memset (deep, '[', n);
  memset (deep + n, ']', n);
  deep[2 * n] = '\0';
  g_assert_null (vk_idle_history_parse (deep, 2 * n, "d", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);

  /* too many samples */
  GString *s = g_string_new ("{\"format\":\"vmkeep-idle-history\",\"version\":1,\"uuid\":\"u\","
                             "\"samples\":[");
  for (int i = 1; i <= VK_IDLE_MAX_SAMPLES + 1; i++)
    g_string_append_printf (s, "%s{\"t\":%d}", i > 1 ? "," : "", i);
  g_string_append (s, "]}");
  g_assert_null (vk_idle_history_parse (s->str, s->len, "many", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "more than the 4096"));
  g_clear_error (&error);
  g_string_free (s, TRUE);

  /* too large, whatever it holds */
  g_autofree char *big = g_strnfill (VK_IDLE_MAX_TEXT + 1, ' ');
  g_assert_null (vk_idle_history_parse (big, VK_IDLE_MAX_TEXT + 1, "big", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "larger than"));
  g_clear_error (&error);

  /* bytes after the document, a NUL inside it */
  const char nul[] = "{\"format\":\"vmkeep-idle-history\"\0,\"version\":1}";
  g_assert_null (vk_idle_history_parse (nul, sizeof nul - 1, "nul", &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
}

static void
test_append (void)
{
  g_autoptr(VkIdleHistory) h = vk_idle_history_new (UUID);
  VkIdleSample s = sample (0, 0, 0, 0);
  g_assert_cmpint (vk_idle_history_append (h, &s), ==, VK_IDLE_APPENDED);
  /* closer than the spacing: not stored */
  s = sample (VK_IDLE_MIN_SPACING_MS - 1, 0, 0, 0);
  g_assert_cmpint (vk_idle_history_append (h, &s), ==, VK_IDLE_TOO_CLOSE);
  g_assert_cmpuint (h->samples->len, ==, 1);
  s = sample (VK_IDLE_MIN_SPACING_MS, 0, 0, 0);
  g_assert_cmpint (vk_idle_history_append (h, &s), ==, VK_IDLE_APPENDED);
  g_assert_cmpuint (h->samples->len, ==, 2);
  /* the clock went back: the history starts again */
  s = sample (-SEC, 0, 0, 0);
  g_assert_cmpint (vk_idle_history_append (h, &s), ==, VK_IDLE_RESTARTED);
  g_assert_cmpuint (h->samples->len, ==, 1);
  g_assert_cmpint (g_array_index (h->samples, VkIdleSample, 0).time_ms, ==, T0 - SEC);
}

static void
test_prune (void)
{
  g_autoptr(VkIdleHistory) h = vk_idle_history_new (UUID);
  gint64 window = (gint64) VK_IDLE_MAX_WINDOW_S * SEC;
  VkIdleSample s = sample (0, 0, 0, 0);
  vk_idle_history_append (h, &s);
  s = sample (window, 0, 0, 0);
  vk_idle_history_append (h, &s);
  g_assert_cmpuint (h->samples->len, ==, 2);  /* exactly the window: kept */
  s = sample (window + MINUTE, 0, 0, 0);
  vk_idle_history_append (h, &s);
  g_assert_cmpuint (h->samples->len, ==, 2);
  g_assert_cmpint (g_array_index (h->samples, VkIdleSample, 0).time_ms, ==, T0 + window);

  /* the count: the oldest go first */
  g_autoptr(VkIdleHistory) many = vk_idle_history_new (UUID);
  for (int i = 0; i < VK_IDLE_MAX_SAMPLES + 10; i++)
    {
      s = sample ((gint64) i * MINUTE, 0, 0, 0);
      g_assert_cmpint (vk_idle_history_append (many, &s), ==, VK_IDLE_APPENDED);
    }
  g_assert_cmpuint (many->samples->len, ==, VK_IDLE_MAX_SAMPLES);
  g_assert_cmpint (g_array_index (many->samples, VkIdleSample, 0).time_ms, ==, T0 + 10 * MINUTE);
  /* and what it writes, it reads back */
  gsize len;
  g_autofree char *text = vk_idle_history_serialize (many, &len);
  g_assert_cmpuint (len, <=, VK_IDLE_MAX_TEXT);
  g_autoptr(GError) error = NULL;
  g_autoptr(VkIdleHistory) back = vk_idle_history_parse (text, len, "many", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->samples->len, ==, VK_IDLE_MAX_SAMPLES);
}

/* ------------------------------------------------------------ decision */

static VkIdleThresholds
thresholds (double cpu, double net, double blk)
{
  return (VkIdleThresholds) { cpu, net, blk, 0 };
}

/* 1 % of one vCPU for 60 s is 0.6 s of CPU time. */
#define CPU_1PCT_MIN G_GUINT64_CONSTANT (600000000)

static void
test_evaluate_idle (void)
{
  VkIdleSample s[4];
  for (int i = 0; i < 4; i++)
    s[i] = sample (i * MINUTE, (guint64) i * CPU_1PCT_MIN, (guint64) i * 60 * 100,
                   (guint64) i * 60 * 1000);
  VkIdleThresholds t = thresholds (1, 100, 1000);  /* exactly the rates: at most, so idle */
  VkIdleVerdict v;
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 3 * MINUTE);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_NONE);
  g_assert_cmpint (v.measure, ==, -1);
  g_assert_cmpint (v.history_ms, ==, 3 * MINUTE);
  g_assert_cmpuint (v.samples, ==, 4);
  g_assert_cmpfloat_with_epsilon (v.m[VK_IDLE_CPU].last, 1.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (v.m[VK_IDLE_NET].last, 100.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (v.m[VK_IDLE_BLOCK].last, 1000.0, 1e-9);
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    {
      g_assert_true (v.m[m].checked);
      g_assert_cmpint (v.m[m].idle_ms, ==, 3 * MINUTE);
    }

  /* a hair under the rates: busy, each measure on its own */
  t = thresholds (0.999, 100, 1000);
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpint (v.measure, ==, VK_IDLE_CPU);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_ABOVE);
  g_assert_cmpint (v.m[VK_IDLE_NET].idle_ms, ==, 3 * MINUTE);
  t = thresholds (1, 99, 1000);
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.measure, ==, VK_IDLE_NET);
  t = thresholds (1, 100, 999);
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.measure, ==, VK_IDLE_BLOCK);
  g_assert_cmpint (v.m[VK_IDLE_CPU].idle_ms, ==, 3 * MINUTE);

  /* unchecked measures do not count, and say so */
  t = thresholds (1, -1, -1);
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 3 * MINUTE);
  g_assert_false (v.m[VK_IDLE_NET].checked);
  g_assert_cmpint (v.m[VK_IDLE_NET].idle_ms, ==, -1);
  g_assert_cmpfloat_with_epsilon (v.m[VK_IDLE_NET].last, 100.0, 1e-9);
}

/* The CPU threshold is a share of all vCPUs: the same CPU time is half
 * the percentage on two vCPUs. */
static void
test_evaluate_vcpus (void)
{
  VkIdleSample s[2] = { sample (0, 0, 0, 0), sample (MINUTE, 2 * CPU_1PCT_MIN, 0, 0) };
  VkIdleThresholds t = thresholds (1, -1, -1);
  VkIdleVerdict v;
  vk_idle_evaluate (s, 2, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpfloat_with_epsilon (v.m[VK_IDLE_CPU].last, 2.0, 1e-9);
  s[1].vcpus = 2;
  vk_idle_evaluate (s, 2, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, MINUTE);
  g_assert_cmpfloat_with_epsilon (v.m[VK_IDLE_CPU].last, 1.0, 1e-9);
  /* unknown vCPUs count as one: never idler */
  s[1].vcpus = 0;
  vk_idle_evaluate (s, 2, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
}

/* Busy, then idle: the stretch starts after the last busy pair. */
static void
test_evaluate_stretch (void)
{
  VkIdleSample s[5] = {
    sample (0, 0, 0, 0),
    sample (1 * MINUTE, 0, 0, 0),
    sample (2 * MINUTE, 0, 1000000, 0),  /* a burst of network */
    sample (3 * MINUTE, 0, 1000000, 0),
    sample (4 * MINUTE, CPU_1PCT_MIN / 2, 1000000, 0),
  };
  VkIdleThresholds t = thresholds (1, 1024, 0);
  VkIdleVerdict v;
  vk_idle_evaluate (s, 5, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 2 * MINUTE);
  g_assert_cmpint (v.measure, ==, VK_IDLE_NET);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_ABOVE);
  g_assert_cmpint (v.m[VK_IDLE_CPU].idle_ms, ==, 4 * MINUTE);
  g_assert_cmpint (v.m[VK_IDLE_CPU].broken_by, ==, VK_IDLE_BREAK_NONE);
  g_assert_cmpint (v.m[VK_IDLE_BLOCK].idle_ms, ==, 4 * MINUTE);
  g_assert_cmpint (v.history_ms, ==, 4 * MINUTE);

  /* a disk threshold of 0 means no byte at all */
  s[4].block_bytes = 1;
  vk_idle_evaluate (s, 5, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpint (v.measure, ==, VK_IDLE_BLOCK);
}

/* A restart (counters down, or a new domain id) and a gap end the
 * stretch of every measure. */
static void
test_evaluate_reset (void)
{
  VkIdleSample s[4] = {
    sample (0, 1000 * CPU_1PCT_MIN, 500, 500),
    sample (1 * MINUTE, 1000 * CPU_1PCT_MIN, 500, 500),
    sample (2 * MINUTE, 10, 0, 0),  /* restarted: everything went down */
    sample (3 * MINUTE, 10, 0, 0),
  };
  VkIdleThresholds t = thresholds (1, 1024, 1024);
  VkIdleVerdict v;
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, MINUTE);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_RESET);
  g_assert_cmpint (v.measure, ==, -1);
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    g_assert_cmpint (v.m[m].broken_by, ==, VK_IDLE_BREAK_RESET);

  /* only one counter down (a NIC unplugged) is a reset as well */
  s[2] = sample (2 * MINUTE, 1000 * CPU_1PCT_MIN, 499, 500);
  s[3] = sample (3 * MINUTE, 1000 * CPU_1PCT_MIN, 499, 500);
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, MINUTE);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_RESET);

  /* counters that grew, but under a new domain id: a restart that
   * already passed the old counts */
  for (int i = 0; i < 4; i++)
    s[i] = sample (i * MINUTE, 0, 0, 0);
  s[2].dom_id = s[3].dom_id = 8;
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, MINUTE);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_RESET);
  /* an unknown id is no evidence either way */
  s[2].dom_id = s[3].dom_id = 0;
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 3 * MINUTE);

  /* a gap longer than allowed */
  for (int i = 0; i < 4; i++)
    s[i] = sample (i * MINUTE, 0, 0, 0);
  s[3].time_ms = s[2].time_ms + 10 * MINUTE;
  t.max_gap_ms = 10 * MINUTE;
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 12 * MINUTE);  /* exactly the limit: fine */
  t.max_gap_ms = 10 * MINUTE - 1;
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_GAP);
  g_assert_cmpfloat (v.m[VK_IDLE_CPU].last, <, 0);

  /* a clock that went back (not in a stored history, but in what a
   * caller may hand in) */
  t.max_gap_ms = 0;
  s[3].time_ms = s[2].time_ms;
  vk_idle_evaluate (s, 4, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_GAP);
}

/* A checked measure libvirt does not report is never taken as idle; an
 * unchecked one does not matter. */
static void
test_evaluate_unmeasured (void)
{
  VkIdleSample s[3] = { sample (0, 0, 0, 0), sample (MINUTE, 0, 0, 0), sample (2 * MINUTE, 0, 0, 0) };
  s[0].has = s[1].has = s[2].has = VK_IDLE_HAS_CPU;
  VkIdleThresholds t = thresholds (1, 1024, -1);
  VkIdleVerdict v;
  vk_idle_evaluate (s, 3, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpint (v.measure, ==, VK_IDLE_NET);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_UNMEASURED);
  g_assert_cmpint (v.m[VK_IDLE_CPU].idle_ms, ==, 2 * MINUTE);
  g_assert_cmpfloat (v.m[VK_IDLE_NET].last, <, 0);
  t = thresholds (1, -1, -1);
  vk_idle_evaluate (s, 3, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 2 * MINUTE);

  /* reported only in the newest sample: the pair has no rate */
  s[2].has |= VK_IDLE_HAS_NET;
  t = thresholds (1, 1024, -1);
  vk_idle_evaluate (s, 3, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpint (v.broken_by, ==, VK_IDLE_BREAK_UNMEASURED);
}

static void
test_evaluate_short (void)
{
  VkIdleSample s = sample (0, 0, 0, 0);
  VkIdleThresholds t = thresholds (1, 1, 1);
  VkIdleVerdict v;
  vk_idle_evaluate (&s, 1, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpint (v.history_ms, ==, 0);
  g_assert_cmpuint (v.samples, ==, 1);
  vk_idle_evaluate (NULL, 0, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, 0);
  g_assert_cmpuint (v.samples, ==, 0);

  /* nothing checked: only resets and gaps end the stretch */
  VkIdleSample two[2] = { sample (0, 0, 0, 0), sample (MINUTE, 1000 * CPU_1PCT_MIN, 0, 0) };
  t = VK_IDLE_THRESHOLDS_NONE;
  vk_idle_evaluate (two, 2, &t, &v);
  g_assert_cmpint (v.idle_ms, ==, MINUTE);
  g_assert_cmpint (v.measure, ==, -1);
}

/* -------------------------------------------------------------- parsing */

static void
test_parse_duration (void)
{
  static const struct {
    const char *text;
    guint64 seconds;
  } good[] = {
    { "90s", 90 }, { "30m", 1800 }, { "2h", 7200 }, { "1d", 86400 }, { "1h30m", 5400 },
    { "1d2h3m4s", 93784 }, { "0h5m", 300 }, { "7d", 604800 }, { "604800s", 604800 },
    { "0001s", 1 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 s = 0;
      g_assert_true (vk_idle_parse_duration ("--idle-for", good[i].text, &s, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (s, ==, good[i].seconds);
    }
  static const struct {
    const char *text;
    const char *says;
  } bad[] = {
    { "", "is empty" },
    { "30", "needs a unit" },
    { "1h30", "needs a unit" },
    { "30x", "needs a unit" },
    { "30 m", "needs a unit" },
    { "m", "is not a duration" },
    { "-5m", "is not a duration" },
    { "1.5h", "needs a unit" },
    { "0s", "is zero" },
    { "0d0h", "is zero" },
    { "7d1s", "longer than the 7 days" },
    { "8d", "longer than the 7 days" },
    { "99999999999999999999999d", "longer than the 7 days" },
    { "18446744073709551615s", "longer than the 7 days" },
    { "100000000000000000s", "longer than the 7 days" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 s = 42;
      if (vk_idle_parse_duration ("--idle-for", bad[i].text, &s, &error))
        g_error ("duration \"%s\" was accepted as %" G_GUINT64_FORMAT, bad[i].text, s);
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_cmpuint (s, ==, 42);
      if (strstr (error->message, bad[i].says) == NULL ||
          strstr (error->message, "--idle-for") == NULL)
        g_error ("duration \"%s\": \"%s\" does not say \"%s\"", bad[i].text, error->message,
                 bad[i].says);
    }
  g_autoptr(GError) error = NULL;
  guint64 s;
  g_assert_false (vk_idle_parse_duration ("--idle-for", NULL, &s, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
}

static void
test_format_duration (void)
{
  static const struct {
    guint64 s;
    const char *text;
  } cases[] = {
    { 0, "0s" }, { 45, "45s" }, { 60, "1m" }, { 330, "5m 30s" }, { 3600, "1h" },
    { 3660, "1h 1m" }, { 3661, "1h 1m" }, { 86400, "1d" }, { 93784, "1d 2h" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *t = vk_idle_format_duration (cases[i].s);
      g_assert_cmpstr (t, ==, cases[i].text);
    }
}

static void
test_parse_rate (void)
{
  static const struct {
    const char *text;
    guint64 rate;
  } good[] = {
    { "0", 0 }, { "512", 512 }, { "10k", 10240 }, { "10K", 10240 }, { "10KiB", 10240 },
    { "1M", 1048576 }, { "1m", 1048576 }, { "1MiB/s", 1048576 }, { "2G", 2147483648 },
    { "100/s", 100 }, { "007", 7 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 r = 1;
      g_assert_true (vk_idle_parse_rate ("--net-below", good[i].text, &r, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (r, ==, good[i].rate);
    }
  static const struct {
    const char *text;
    const char *says;
  } bad[] = {
    { "", "is empty" },
    { "k", "is not a rate" },
    { "-1", "is negative" },
    { "1.5M", "not a whole number" },
    { "10kb", "unknown unit" },
    { "10 k", "unknown unit" },
    { "10T", "unknown unit" },
    { "1M/", "unknown unit" },
    { "10k/h", "unknown unit" },
    { "99999999999999999999", "too large" },
    { "999999999999999999G", "too large" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      guint64 r = 42;
      if (vk_idle_parse_rate ("--disk-below", bad[i].text, &r, &error))
        g_error ("rate \"%s\" was accepted as %" G_GUINT64_FORMAT, bad[i].text, r);
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_cmpuint (r, ==, 42);
      if (strstr (error->message, bad[i].says) == NULL ||
          strstr (error->message, "--disk-below") == NULL)
        g_error ("rate \"%s\": \"%s\" does not say \"%s\"", bad[i].text, error->message,
                 bad[i].says);
    }
}

static void
test_parse_percent (void)
{
  static const struct {
    const char *text;
    double value;
  } good[] = {
    { "0", 0 }, { "5", 5 }, { "0.5", 0.5 }, { "2.5%", 2.5 }, { "100", 100 }, { ".5", 0.5 },
    { "100.0%", 100 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      double p = -1;
      g_assert_true (vk_idle_parse_percent ("--cpu-below", good[i].text, &p, &error));
      g_assert_no_error (error);
      g_assert_cmpfloat (p, ==, good[i].value);
    }
  static const char *const bad[] = {
    "", "%", ".", "-1", "100.01", "101", "nan", "inf", "1e2", "0x10", "1,5", "5 %", "5%%",
    "1.2.3", " 5",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      double p = 42;
      if (vk_idle_parse_percent ("--cpu-below", bad[i], &p, &error))
        g_error ("percentage \"%s\" was accepted as %g", bad[i], p);
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_cmpfloat (p, ==, 42);
      g_assert_nonnull (strstr (error->message, "--cpu-below"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/idle/history/round-trip", test_round_trip);
  g_test_add_func ("/idle/history/extra-members", test_parse_extra_members);
  g_test_add_func ("/idle/history/hostile", test_parse_hostile);
  g_test_add_func ("/idle/history/bounds", test_parse_bounds);
  g_test_add_func ("/idle/history/append", test_append);
  g_test_add_func ("/idle/history/prune", test_prune);
  g_test_add_func ("/idle/evaluate/idle", test_evaluate_idle);
  g_test_add_func ("/idle/evaluate/vcpus", test_evaluate_vcpus);
  g_test_add_func ("/idle/evaluate/stretch", test_evaluate_stretch);
  g_test_add_func ("/idle/evaluate/reset", test_evaluate_reset);
  g_test_add_func ("/idle/evaluate/unmeasured", test_evaluate_unmeasured);
  g_test_add_func ("/idle/evaluate/short", test_evaluate_short);
  g_test_add_func ("/idle/parse/duration", test_parse_duration);
  g_test_add_func ("/idle/parse/format-duration", test_format_duration);
  g_test_add_func ("/idle/parse/rate", test_parse_rate);
  g_test_add_func ("/idle/parse/percent", test_parse_percent);
  return g_test_run ();
}
