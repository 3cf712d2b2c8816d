/* vmkeep — idle history and decision. See idle.h. */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "idle.h"
#include "json-build.h"
#include "manifest.h"
#include "validate.h"
#include "vk-error.h"

/* Deeper than a history needs (3), far below any stack limit. */
#define IDLE_MAX_DEPTH 8

/* ------------------------------------------------------------- history */

VkIdleHistory *
vk_idle_history_new (const char *uuid)
{
  VkIdleHistory *h = g_new0 (VkIdleHistory, 1);
  h->uuid = g_strdup (uuid);
  h->samples = g_array_new (FALSE, TRUE, sizeof (VkIdleSample));
  return h;
}

void
vk_idle_history_free (VkIdleHistory *h)
{
  if (h == NULL)
    return;
  g_free (h->uuid);
  g_array_unref (h->samples);
  g_free (h);
}

static gboolean
refuse (GError **error, const char *source, const char *what)
{
  g_autofree char *shown = vk_str_printable (source);
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("%s: %s; it is vmkeep's record of the domain's activity, which the next "
                 "sample replaces"), shown, what);
  return FALSE;
}

/* A non-negative JSON integer member of `o`: absent is fine (*present
 * FALSE), anything else but an integer >= 0 is not. */
static gboolean
get_count (JsonObject *o, const char *key, gboolean *present, gint64 *out)
{
  JsonNode *n = json_object_get_member (o, key);
  *present = n != NULL;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 ||
      json_node_get_int (n) < 0)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

static gboolean
parse_sample (JsonNode *node, VkIdleSample *s)
{
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  if (o == NULL)
    return FALSE;
  gboolean present;
  gint64 v = 0;
  memset (s, 0, sizeof *s);
  if (!get_count (o, "t", &present, &v) || !present || v == 0)
    return FALSE;
  s->time_ms = v;
  static const struct { const char *key; guint flag; gsize offset; } counters[] = {
    { "cpu", VK_IDLE_HAS_CPU, G_STRUCT_OFFSET (VkIdleSample, cpu_ns) },
    { "net", VK_IDLE_HAS_NET, G_STRUCT_OFFSET (VkIdleSample, net_bytes) },
    { "blk", VK_IDLE_HAS_BLOCK, G_STRUCT_OFFSET (VkIdleSample, block_bytes) },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (counters); i++)
    {
      if (!get_count (o, counters[i].key, &present, &v))
        return FALSE;
      if (present)
        {
          G_STRUCT_MEMBER (guint64, s, counters[i].offset) = (guint64) v;
          s->has |= counters[i].flag;
        }
    }
  v = 0;
  if (!get_count (o, "vcpus", &present, &v) || v > G_MAXUINT)
    return FALSE;
  s->vcpus = (guint) v;
  v = 0;
  if (!get_count (o, "id", &present, &v))
    return FALSE;
  s->dom_id = v;
  return TRUE;
}

VkIdleHistory *
vk_idle_history_parse (const char *text, gsize len, const char *source, GError **error)
{
  if (len > VK_IDLE_MAX_TEXT)
    {
      g_autofree char *w = g_strdup_printf (_("is larger than %d bytes, more than vmkeep "
                                              "ever writes"), VK_IDLE_MAX_TEXT);
      refuse (error, source, w);
      return NULL;
    }
  VkJsonDocProblem problem;
  g_autofree char *why = NULL;
  g_autoptr(JsonParser) p = vk_json_doc_parse (text, len, IDLE_MAX_DEPTH, VK_IDLE_FORMAT,
                                               VK_IDLE_VERSION, &problem, &why);
  g_autofree char *bad = NULL;
  switch (problem)
    {
    case VK_JSON_DOC_OK:
      break;
    case VK_JSON_DOC_TOO_DEEP:
      bad = g_strdup (_("is nested too deep to be an idle history"));
      break;
    case VK_JSON_DOC_SYNTAX:
      bad = g_strdup_printf (_("is not valid JSON (%s)"), why);
      break;
    case VK_JSON_DOC_FORMAT:
      bad = g_strdup (_("is not a vmkeep idle history"));
      break;
    case VK_JSON_DOC_VERSION:
      bad = g_strdup_printf (_("has another format version than %d"), VK_IDLE_VERSION);
      break;
    }
  if (bad != NULL)
    {
      refuse (error, source, bad);
      return NULL;
    }
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  JsonNode *uuid = json_object_get_member (o, "uuid");
  if (uuid == NULL || !JSON_NODE_HOLDS_VALUE (uuid) ||
      json_node_get_value_type (uuid) != G_TYPE_STRING ||
      !g_utf8_validate (json_node_get_string (uuid), -1, NULL) ||
      json_node_get_string (uuid)[0] == '\0')
    {
      refuse (error, source, _("names no domain UUID"));
      return NULL;
    }
  JsonNode *arr = json_object_get_member (o, "samples");
  if (arr == NULL || !JSON_NODE_HOLDS_ARRAY (arr))
    {
      refuse (error, source, _("has no \"samples\" array"));
      return NULL;
    }
  JsonArray *a = json_node_get_array (arr);
  guint n = json_array_get_length (a);
  if (n > VK_IDLE_MAX_SAMPLES)
    {
      g_autofree char *w = g_strdup_printf (_("has %u samples, more than the %d vmkeep keeps"),
                                            n, VK_IDLE_MAX_SAMPLES);
      refuse (error, source, w);
      return NULL;
    }
  g_autoptr(VkIdleHistory) h = vk_idle_history_new (json_node_get_string (uuid));
  for (guint i = 0; i < n; i++)
    {
      VkIdleSample s;
      if (!parse_sample (json_array_get_element (a, i), &s))
        {
          g_autofree char *w = g_strdup_printf (_("sample %u is malformed (it needs \"t\" > 0 "
                                                  "and counters that are integers >= 0)"),
                                                i + 1);
          refuse (error, source, w);
          return NULL;
        }
      if (i > 0 && s.time_ms <= g_array_index (h->samples, VkIdleSample, i - 1).time_ms)
        {
          g_autofree char *w = g_strdup_printf (_("sample %u is not newer than the one "
                                                  "before it"), i + 1);
          refuse (error, source, w);
          return NULL;
        }
      g_array_append_val (h->samples, s);
    }
  return g_steal_pointer (&h);
}

char *
vk_idle_history_serialize (const VkIdleHistory *h, gsize *len)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, VK_IDLE_FORMAT);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, VK_IDLE_VERSION);
  json_builder_set_member_name (b, "uuid");
  json_builder_add_string_value (b, h->uuid ? h->uuid : "");
  json_builder_set_member_name (b, "samples");
  json_builder_begin_array (b);
  for (guint i = 0; i < h->samples->len; i++)
    {
      const VkIdleSample *s = &g_array_index (h->samples, VkIdleSample, i);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "t");
      json_builder_add_int_value (b, s->time_ms);
      /* JSON integers are signed 64-bit here: a counter past that (292
       * years of CPU, 8 EiB) is left out, i.e. unmeasured, rather than
       * written wrong */
      if ((s->has & VK_IDLE_HAS_CPU) && s->cpu_ns <= G_MAXINT64)
        {
          json_builder_set_member_name (b, "cpu");
          json_builder_add_int_value (b, (gint64) s->cpu_ns);
        }
      if ((s->has & VK_IDLE_HAS_NET) && s->net_bytes <= G_MAXINT64)
        {
          json_builder_set_member_name (b, "net");
          json_builder_add_int_value (b, (gint64) s->net_bytes);
        }
      if ((s->has & VK_IDLE_HAS_BLOCK) && s->block_bytes <= G_MAXINT64)
        {
          json_builder_set_member_name (b, "blk");
          json_builder_add_int_value (b, (gint64) s->block_bytes);
        }
      if (s->vcpus > 0)
        {
          json_builder_set_member_name (b, "vcpus");
          json_builder_add_int_value (b, s->vcpus);
        }
      if (s->dom_id > 0)
        {
          json_builder_set_member_name (b, "id");
          json_builder_add_int_value (b, s->dom_id);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr(JsonGenerator) g = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  gsize n = 0;
  char *text = json_generator_to_data (g, &n);
  if (len)
    *len = n;
  return text;
}

void
vk_idle_history_prune (VkIdleHistory *h, gint64 now_ms)
{
  gint64 oldest = now_ms - (gint64) VK_IDLE_MAX_WINDOW_S * 1000;
  guint drop = 0;
  while (drop < h->samples->len &&
         g_array_index (h->samples, VkIdleSample, drop).time_ms < oldest)
    drop++;
  if (h->samples->len - drop > VK_IDLE_MAX_SAMPLES)
    drop = h->samples->len - VK_IDLE_MAX_SAMPLES;
  if (drop > 0)
    g_array_remove_range (h->samples, 0, drop);
}

VkIdleAppend
vk_idle_history_append (VkIdleHistory *h, const VkIdleSample *s)
{
  VkIdleAppend what = VK_IDLE_APPENDED;
  if (h->samples->len > 0)
    {
      gint64 last = g_array_index (h->samples, VkIdleSample, h->samples->len - 1).time_ms;
      if (s->time_ms <= last)
        {
          /* the clock was set back: no pair across it can be measured,
           * and samples "from the future" would keep the window from
           * moving on */
          g_array_set_size (h->samples, 0);
          what = VK_IDLE_RESTARTED;
        }
      else if (s->time_ms - last < VK_IDLE_MIN_SPACING_MS)
        return VK_IDLE_TOO_CLOSE;
    }
  g_array_append_val (h->samples, *s);
  vk_idle_history_prune (h, s->time_ms);
  return what;
}

/* ------------------------------------------------------------ decision */

const char *
vk_idle_measure_name (VkIdleMeasure m)
{
  switch (m)
    {
    case VK_IDLE_CPU:
      return "cpu";
    case VK_IDLE_NET:
      return "net";
    case VK_IDLE_BLOCK:
      return "disk";
    default:
      return "?";
    }
}

const char *
vk_idle_break_name (VkIdleBreak b)
{
  switch (b)
    {
    case VK_IDLE_BREAK_NONE:
      return "none";
    case VK_IDLE_BREAK_ABOVE:
      return "above";
    case VK_IDLE_BREAK_RESET:
      return "reset";
    case VK_IDLE_BREAK_GAP:
      return "gap";
    case VK_IDLE_BREAK_UNMEASURED:
      return "unmeasured";
    default:
      return "?";
    }
}

static const guint has_flag[VK_IDLE_N_MEASURES] = {
  VK_IDLE_HAS_CPU, VK_IDLE_HAS_NET, VK_IDLE_HAS_BLOCK
};

static guint64
counter (const VkIdleSample *s, VkIdleMeasure m)
{
  return m == VK_IDLE_CPU ? s->cpu_ns : m == VK_IDLE_NET ? s->net_bytes : s->block_bytes;
}

static double
threshold (const VkIdleThresholds *t, VkIdleMeasure m)
{
  return m == VK_IDLE_CPU ? t->cpu_percent : m == VK_IDLE_NET ? t->net_rate : t->block_rate;
}

/* What breaks every measure's stretch at pair (a, b), or NONE. */
static VkIdleBreak
pair_break (const VkIdleSample *a, const VkIdleSample *b, const VkIdleThresholds *t)
{
  if (a->dom_id > 0 && b->dom_id > 0 && a->dom_id != b->dom_id)
    return VK_IDLE_BREAK_RESET;
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    if ((a->has & b->has & has_flag[m]) && counter (b, m) < counter (a, m))
      return VK_IDLE_BREAK_RESET;
  gint64 dt = b->time_ms - a->time_ms;
  if (dt <= 0 || (t->max_gap_ms > 0 && dt > t->max_gap_ms))
    return VK_IDLE_BREAK_GAP;
  return VK_IDLE_BREAK_NONE;
}

/* Measure `m`'s rate over a valid pair: CPU in percent of the vCPU
 * capacity of `b` (the later reading), the others in bytes/s; -1 when
 * either sample lacks it. */
static double
pair_rate (const VkIdleSample *a, const VkIdleSample *b, VkIdleMeasure m)
{
  if (!(a->has & b->has & has_flag[m]))
    return -1;
  double dt_s = (double) (b->time_ms - a->time_ms) / 1000.0;
  double delta = (double) (counter (b, m) - counter (a, m));
  if (m == VK_IDLE_CPU)
    return delta / 1e9 / (dt_s * MAX (b->vcpus, 1)) * 100.0;
  return delta / dt_s;
}

void
vk_idle_evaluate (const VkIdleSample *s, guint n, const VkIdleThresholds *t, VkIdleVerdict *out)
{
  memset (out, 0, sizeof *out);
  out->samples = n;
  out->measure = -1;
  out->history_ms = n > 1 ? s[n - 1].time_ms - s[0].time_ms : 0;
  gboolean any = FALSE;
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    {
      out->m[m].checked = threshold (t, m) >= 0;
      out->m[m].idle_ms = out->m[m].checked ? 0 : -1;
      out->m[m].last = -1;
      any = any || out->m[m].checked;
    }
  if (n < 2)
    return;

  /* Walk the pairs from the newest back; each measure's stretch grows
   * until something breaks it, and once every checked measure and the
   * shared validity (resets, gaps) has broken, older pairs cannot matter. */
  gint64 newest = s[n - 1].time_ms;
  gboolean open[VK_IDLE_N_MEASURES];
  gboolean valid_open = TRUE;
  gint64 valid_ms = 0;
  VkIdleBreak valid_break = VK_IDLE_BREAK_NONE;
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    open[m] = out->m[m].checked;
  for (guint i = n - 1; i > 0 && valid_open; i--)
    {
      const VkIdleSample *a = &s[i - 1], *b = &s[i];
      VkIdleBreak all = pair_break (a, b, t);
      for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
        {
          double rate = all == VK_IDLE_BREAK_NONE ? pair_rate (a, b, m) : -1;
          if (i == n - 1)
            out->m[m].last = rate;
          if (!open[m])
            continue;
          VkIdleBreak why = all;
          if (why == VK_IDLE_BREAK_NONE && rate < 0)
            why = VK_IDLE_BREAK_UNMEASURED;
          else if (why == VK_IDLE_BREAK_NONE && rate > threshold (t, m))
            why = VK_IDLE_BREAK_ABOVE;
          if (why != VK_IDLE_BREAK_NONE)
            {
              open[m] = FALSE;
              out->m[m].broken_by = why;
            }
          else
            out->m[m].idle_ms = newest - a->time_ms;
        }
      if (all != VK_IDLE_BREAK_NONE)
        {
          valid_open = FALSE;
          valid_break = all;
        }
      else
        valid_ms = newest - a->time_ms;
    }
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    if (open[m])
      out->m[m].broken_by = valid_break;

  if (!any)
    {
      out->idle_ms = valid_ms;
      out->broken_by = valid_break;
      return;
    }
  out->idle_ms = G_MAXINT64;
  for (int m = 0; m < VK_IDLE_N_MEASURES; m++)
    if (out->m[m].checked && out->m[m].idle_ms < out->idle_ms)
      {
        out->idle_ms = out->m[m].idle_ms;
        out->broken_by = out->m[m].broken_by;
        /* a reset or gap ends every measure alike: no measure to blame */
        out->measure = out->broken_by == VK_IDLE_BREAK_RESET ||
                       out->broken_by == VK_IDLE_BREAK_GAP ||
                       out->broken_by == VK_IDLE_BREAK_NONE ? -1 : m;
      }
}

/* -------------------------------------------------------------- parsing */

/* The decimal digits at *p, advancing *p; FALSE when there are none, or
 * (with *huge set) more than 18 significant ones, which no value here can
 * use and which could overflow. */
static gboolean
take_number (const char **p, guint64 *out, gboolean *huge)
{
  const char *q = *p;
  guint64 v = 0;
  int digits = 0;
  *huge = FALSE;
  while (g_ascii_isdigit (*q))
    {
      if (v > 0 || *q != '0')
        digits++;
      if (digits > 18)
        {
          *huge = TRUE;
          return FALSE;
        }
      v = v * 10 + (guint64) (*q - '0');
      q++;
    }
  if (q == *p)
    return FALSE;
  *p = q;
  *out = v;
  return TRUE;
}

static gboolean
duration_too_long (GError **error, const char *what, const char *q)
{
  return vk_fail (error, VK_ERROR_USAGE,
                  _("%s %s is longer than the %d days of activity vmkeep keeps"), what, q,
                  VK_IDLE_MAX_WINDOW_S / 86400);
}

gboolean
vk_idle_parse_duration (const char *what, const char *text, guint64 *seconds, GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  if (text == NULL || text[0] == '\0')
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s is empty; give a duration such as 90s, 30m, 2h or 1d"), what);
  guint64 total = 0;
  const char *p = text;
  while (*p)
    {
      guint64 v, unit;
      gboolean huge;
      if (!take_number (&p, &v, &huge))
        {
          if (huge)
            return duration_too_long (error, what, q);
          return vk_fail (error, VK_ERROR_USAGE,
                          _("%s %s is not a duration; give whole numbers each with a unit "
                            "s, m, h or d, such as 90s, 30m, 2h, 1d or 1h30m"), what, q);
        }
      switch (*p)
        {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default:
          return vk_fail (error, VK_ERROR_USAGE,
                          _("%s %s needs a unit after each number: s, m, h or d (such as "
                            "90s, 30m, 2h or 1d)"), what, q);
        }
      p++;
      /* v < 10^18 and unit <= 86400 could overflow: stop at the limit */
      if (v > VK_IDLE_MAX_WINDOW_S / unit || total + v * unit > VK_IDLE_MAX_WINDOW_S)
        return duration_too_long (error, what, q);
      total += v * unit;
    }
  if (total == 0)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s %s is zero; give a duration of at least 1s"), what, q);
  *seconds = total;
  return TRUE;
}

char *
vk_idle_format_duration (guint64 s)
{
  if (s >= 86400)
    return s % 86400 / 3600 ? g_strdup_printf ("%" G_GUINT64_FORMAT "d %" G_GUINT64_FORMAT "h",
                                               s / 86400, s % 86400 / 3600)
                            : g_strdup_printf ("%" G_GUINT64_FORMAT "d", s / 86400);
  if (s >= 3600)
    return s % 3600 / 60 ? g_strdup_printf ("%" G_GUINT64_FORMAT "h %" G_GUINT64_FORMAT "m",
                                            s / 3600, s % 3600 / 60)
                         : g_strdup_printf ("%" G_GUINT64_FORMAT "h", s / 3600);
  if (s >= 60)
    return s % 60 ? g_strdup_printf ("%" G_GUINT64_FORMAT "m %" G_GUINT64_FORMAT "s",
                                     s / 60, s % 60)
                  : g_strdup_printf ("%" G_GUINT64_FORMAT "m", s / 60);
  return g_strdup_printf ("%" G_GUINT64_FORMAT "s", s);
}

gboolean
vk_idle_parse_rate (const char *what, const char *text, guint64 *bytes_per_s, GError **error)
{
  static const struct {
    const char *suffix;
    guint64 factor;
  } units[] = {
    { "", 1 },
    { "k", 1024 }, { "kib", 1024 },
    { "m", 1024 * 1024 }, { "mib", 1024 * 1024 },
    { "g", 1024 * 1024 * 1024 }, { "gib", 1024 * 1024 * 1024 },
  };
  g_autofree char *q = vk_str_quote (text);
  if (text == NULL || text[0] == '\0')
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s is empty; give bytes per second such as 0, 512, 10k or 1M"), what);
  const char *p = text;
  guint64 v;
  gboolean huge;
  if (!take_number (&p, &v, &huge) && huge)
    return vk_fail (error, VK_ERROR_USAGE, _("%s %s is too large"), what, q);
  if (p == text)
    return vk_fail (error, VK_ERROR_USAGE,
                    *p == '-' ? _("%s %s is negative; give bytes per second such as 0, 512, "
                                  "10k or 1M")
                              : _("%s %s is not a rate; give a whole number of bytes per "
                                  "second with an optional unit k, M or G (1k = 1024), such "
                                  "as 0, 512, 10k or 1M"), what, q);
  if (*p == '.' || *p == ',')
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s %s is not a whole number; use a smaller unit instead, e.g. 1536k "
                      "for 1.5M"), what, q);
  g_autofree char *unit = g_ascii_strdown (p, -1);
  if (g_str_has_suffix (unit, "/s"))
    unit[strlen (unit) - 2] = '\0';
  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    if (strcmp (unit, units[i].suffix) == 0)
      {
        if (v > G_MAXUINT64 / units[i].factor)
          return vk_fail (error, VK_ERROR_USAGE, _("%s %s is too large"), what, q);
        *bytes_per_s = v * units[i].factor;
        return TRUE;
      }
  return vk_fail (error, VK_ERROR_USAGE,
                  _("%s %s has an unknown unit; use k, M or G (bytes per second, 1k = 1024), "
                    "such as 10k or 1M"), what, q);
}

gboolean
vk_idle_parse_percent (const char *what, const char *text, double *percent, GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  if (text == NULL || text[0] == '\0')
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s is empty; give a percentage from 0 to 100, such as 5 or 0.5"), what);
  /* digits with at most one '.', then an optional '%': g_ascii_strtod
   * alone would take "nan", "inf", hex and exponents too */
  gsize len = strlen (text);
  if (text[len - 1] == '%')
    len--;
  int dots = 0, digits = 0;
  gboolean other = FALSE;
  for (gsize i = 0; i < len; i++)
    {
      if (text[i] == '.')
        dots++;
      else if (g_ascii_isdigit (text[i]))
        digits++;
      else
        other = TRUE;
    }
  if (other || digits == 0 || dots > 1 || len > 32)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s %s is not a percentage; give a number from 0 to 100, such as 5 or "
                      "0.5"), what, q);
  g_autofree char *num = g_strndup (text, len);
  double v = g_ascii_strtod (num, NULL);
  if (!(v >= 0 && v <= 100))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s %s is out of range; give a percentage from 0 to 100"), what, q);
  *percent = v;
  return TRUE;
}

gboolean
vk_idle_parse_threshold (VkIdleThresholds *t, VkIdleMeasure m, const char *what,
                         const char *text, GError **error)
{
  double *field = m == VK_IDLE_CPU ? &t->cpu_percent
                  : m == VK_IDLE_NET ? &t->net_rate : &t->block_rate;
  guint64 rate;
  if (g_strcmp0 (text, "off") == 0)
    *field = -1;
  else if (m == VK_IDLE_CPU)
    return vk_idle_parse_percent (what, text, field, error);
  else if (vk_idle_parse_rate (what, text, &rate, error))
    *field = (double) rate;
  else
    return FALSE;
  return TRUE;
}
