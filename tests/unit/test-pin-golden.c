/* Golden tests for src/core/pin.c: every tests/data/pin/NAME.in.xml is
 * pinned with the default policy and compared with NAME.out.xml, or, when
 * NAME.err exists instead, must be refused with a message containing each
 * non-empty line of NAME.err.
 *
 * The golden files are the specification of the slot policy (DESIGN.md,
 * "PCI layout policy"), so they are reviewed by hand; VMKEEP_TEST_REGENERATE=1
 * rewrites them from what vk_pin does now, for that review.
 *
 * A case may carry options in a comment on its first line:
 *   <!-- vmkeep-test: relayout nic-slots=0x03-0x05 device-slots=0x10-0x17
 *        spare-nic-ports=2 spare-device-ports=0 -->
 * The comment stays in the document, so it shows up in NAME.out.xml too. */
#include "config.h"

#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "domain-xml.h"
#include "pin.h"
#include "validate.h"
#include "vk-error.h"

#define OPTIONS_MARK "vmkeep-test:"

typedef struct {
  char *name;
  char *in_path;
  char *out_path;
  char *err_path;
} GoldenCase;

static void
golden_case_free (GoldenCase *c)
{
  g_free (c->name);
  g_free (c->in_path);
  g_free (c->out_path);
  g_free (c->err_path);
  g_free (c);
}

/* g_test_get_filename() only works inside a test case, and the cases are
 * found before any runs. */
static char *data_dir;

static const char *
pin_data_dir (void)
{
  if (data_dir == NULL)
    data_dir = g_test_build_filename (G_TEST_DIST, "tests", "data", "pin", NULL);
  return data_dir;
}

static gboolean
regenerating (void)
{
  return g_strcmp0 (g_getenv ("VMKEEP_TEST_REGENERATE"), "1") == 0;
}

/* Options come from a comment on the first line only, so a comment
 * elsewhere in a domain (libvirt writes warnings as comments) can never
 * change how a case runs. */
static gboolean
parse_case_options (const char *text, VkPinOptions *opts, GError **error)
{
  vk_layout_policy_init_defaults (&opts->policy);
  opts->relayout = FALSE;

  const char *eol = strchr (text, '\n');
  g_autofree char *first = g_strndup (text, eol ? (gsize) (eol - text) : strlen (text));
  g_strstrip (first);
  if (!g_str_has_prefix (first, "<!--"))
    return TRUE;
  const char *mark = strstr (first, OPTIONS_MARK);
  const char *end = strstr (first, "-->");
  if (mark == NULL)
    return TRUE;
  if (end == NULL || end < mark)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   "the options comment must end on the first line");
      return FALSE;
    }
  mark += strlen (OPTIONS_MARK);
  g_autofree char *body = g_strndup (mark, end - mark);
  g_auto(GStrv) words = g_strsplit_set (g_strstrip (body), " \t", -1);
  for (gsize i = 0; words[i] != NULL; i++)
    {
      const char *w = words[i];
      const char *eq = strchr (w, '=');
      g_autofree char *key = eq ? g_strndup (w, eq - w) : g_strdup (w);
      const char *val = eq ? eq + 1 : NULL;
      guint64 n;

      if (*w == '\0')
        continue;
      if (g_str_equal (key, "relayout") && val == NULL)
        opts->relayout = TRUE;
      else if (g_str_equal (key, "nic-slots") && val != NULL)
        {
          if (!vk_parse_slot_range (key, val, &opts->policy.nic.first,
                                    &opts->policy.nic.last, error))
            return FALSE;
        }
      else if (g_str_equal (key, "device-slots") && val != NULL)
        {
          if (!vk_parse_slot_range (key, val, &opts->policy.dev.first,
                                    &opts->policy.dev.last, error))
            return FALSE;
        }
      else if (g_str_equal (key, "spare-nic-ports") && val != NULL)
        {
          if (!vk_parse_uint (key, val, 0, 31, &n, error))
            return FALSE;
          opts->policy.spare_nic_ports = n;
        }
      else if (g_str_equal (key, "spare-device-ports") && val != NULL)
        {
          if (!vk_parse_uint (key, val, 0, 31, &n, error))
            return FALSE;
          opts->policy.spare_dev_ports = n;
        }
      else
        {
          g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                       "unknown test option '%s'; known: relayout, nic-slots=R, "
                       "device-slots=R, spare-nic-ports=N, spare-device-ports=N", w);
          return FALSE;
        }
    }
  return TRUE;
}

static void
write_or_die (const char *path, const char *contents)
{
  g_autoptr(GError) error = NULL;
  if (!g_file_set_contents (path, contents, -1, &error))
    g_error ("cannot write %s: %s", path, error->message);
  g_test_message ("regenerated %s", path);
}

/* Names the first line that differs, which is what a reviewer needs; the
 * full texts follow in the log. */
static void
assert_same_text (const char *what, const char *expected, const char *actual)
{
  if (g_strcmp0 (expected, actual) == 0)
    return;
  g_auto(GStrv) e = g_strsplit (expected, "\n", -1);
  g_auto(GStrv) a = g_strsplit (actual, "\n", -1);
  guint i = 0;
  while (e[i] != NULL && a[i] != NULL && g_str_equal (e[i], a[i]))
    i++;
  g_test_message ("expected:\n%s", expected);
  g_test_message ("actual:\n%s", actual);
  g_test_fail_printf ("%s differs from line %u on:\n  expected: %s\n  actual:   %s\n"
                      "(review with VMKEEP_TEST_REGENERATE=1 and a diff if the "
                      "change is intended)",
                      what, i + 1, e[i] ? e[i] : "<end of file>",
                      a[i] ? a[i] : "<end of file>");
}

static char *
violations_to_text (GPtrArray *v)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < v->len; i++)
    {
      VkViolation *x = v->pdata[i];
      g_string_append_printf (s, "\n  %s at %s: %s", x->device,
                              x->address ? x->address : "-", x->message);
    }
  return g_string_free (s, FALSE);
}

static xmlDocPtr
parse_or_fail (const char *text, const char *source)
{
  g_autoptr(GError) error = NULL;
  xmlDocPtr doc = vk_xml_parse (text, -1, source, &error);
  g_assert_no_error (error);
  g_assert_nonnull (doc);
  return doc;
}

/* What every successful pin must also give: a layout the checker accepts,
 * and a fixed point (pinning it again changes nothing). */
static void
check_pinned_output (const GoldenCase *c, const VkPinOptions *opts,
                     const char *pinned)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(xmlDoc) again = parse_or_fail (pinned, c->out_path);

  g_autoptr(GPtrArray) v = vk_layout_check (again, &opts->policy, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  if (v->len > 0)
    {
      g_autofree char *text = violations_to_text (v);
      g_test_fail_printf ("%s: vk_layout_check finds %u violation(s) in the pinned "
                          "output:%s", c->name, v->len, text);
    }

  if (!vk_pin (again, opts, &error))
    {
      g_test_fail_printf ("%s: pinning the output again fails: %s", c->name,
                          error->message);
      return;
    }
  g_autofree char *twice = vk_xml_format (again);
  assert_same_text ("pinning the output again (idempotence)", pinned, twice);
}

static void
test_golden (gconstpointer data)
{
  const GoldenCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *input = NULL;
  VkPinOptions opts;

  if (!g_file_get_contents (c->in_path, &input, NULL, &error))
    g_error ("cannot read %s: %s", c->in_path, error->message);
  if (!parse_case_options (input, &opts, &error))
    g_error ("%s: %s", c->in_path, error->message);
  g_test_message ("%s: relayout=%d nic-slots=0x%02x-0x%02x device-slots=0x%02x-0x%02x "
                  "spare-nic-ports=%u spare-device-ports=%u", c->name, opts.relayout,
                  opts.policy.nic.first, opts.policy.nic.last, opts.policy.dev.first,
                  opts.policy.dev.last, opts.policy.spare_nic_ports,
                  opts.policy.spare_dev_ports);

  g_autoptr(xmlDoc) doc = parse_or_fail (input, c->in_path);
  gboolean ok = vk_pin (doc, &opts, &error);
  gboolean have_out = g_file_test (c->out_path, G_FILE_TEST_EXISTS);
  gboolean have_err = g_file_test (c->err_path, G_FILE_TEST_EXISTS);

  if (regenerating ())
    {
      if (ok)
        {
          g_autofree char *out = vk_xml_format (doc);
          write_or_die (c->out_path, out);
          if (have_err)
            g_unlink (c->err_path);
        }
      else
        {
          g_autofree char *msg = g_strdup_printf ("%s\n", error->message);
          write_or_die (c->err_path, msg);
          if (have_out)
            g_unlink (c->out_path);
        }
      have_out = ok;
      have_err = !ok;
    }

  if (have_out == have_err)
    {
      g_test_fail_printf ("%s: exactly one of %s.out.xml and %s.err must exist "
                          "(run with VMKEEP_TEST_REGENERATE=1 to create it)",
                          c->name, c->name, c->name);
      return;
    }

  if (have_err)
    {
      g_autofree char *expected = NULL;
      if (ok)
        {
          g_autofree char *out = vk_xml_format (doc);
          g_test_message ("pinned output:\n%s", out);
          g_test_fail_printf ("%s: vk_pin succeeded, but %s.err says it must fail",
                              c->name, c->name);
          return;
        }
      g_test_message ("error: %s", error->message);
      g_assert_true (error->domain == VK_ERROR);
      if (!g_file_get_contents (c->err_path, &expected, NULL, &error))
        g_error ("cannot read %s: %s", c->err_path, error->message);
      g_auto(GStrv) lines = g_strsplit (expected, "\n", -1);
      guint checked = 0;
      for (gsize i = 0; lines[i] != NULL; i++)
        {
          g_strstrip (lines[i]);
          if (lines[i][0] == '\0')
            continue;
          checked++;
          if (strstr (error->message, lines[i]) == NULL)
            g_test_fail_printf ("%s: the error message\n%s\ndoes not contain\n  %s",
                                c->name, error->message, lines[i]);
        }
      if (checked == 0)
        g_test_fail_printf ("%s: %s.err has no non-empty line to check", c->name,
                            c->name);
      return;
    }

  /* .out.xml */
  if (!ok)
    {
      g_test_fail_printf ("%s: vk_pin failed: %s", c->name, error->message);
      return;
    }
  g_autofree char *actual = vk_xml_format (doc);
  g_autofree char *expected = NULL;
  if (!g_file_get_contents (c->out_path, &expected, NULL, &error))
    g_error ("cannot read %s: %s", c->out_path, error->message);
  assert_same_text (c->out_path, expected, actual);
  check_pinned_output (c, &opts, actual);
}

/* An expected file without its input is a case that silently stopped
 * running (renamed or deleted input). */
static void
test_no_orphans (gconstpointer data)
{
  GPtrArray *names = (GPtrArray *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (pin_data_dir (), 0, &error);
  g_assert_no_error (error);
  const char *f;
  while ((f = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *stem = NULL;
      if (g_str_has_suffix (f, ".out.xml"))
        stem = g_strndup (f, strlen (f) - strlen (".out.xml"));
      else if (g_str_has_suffix (f, ".err"))
        stem = g_strndup (f, strlen (f) - strlen (".err"));
      else if (g_str_has_suffix (f, ".in.xml") || g_str_equal (f, "README"))
        continue;
      else
        {
          g_test_fail_printf ("%s/%s: unexpected file (cases are NAME.in.xml with "
                              "NAME.out.xml or NAME.err)", pin_data_dir (), f);
          continue;
        }
      gboolean found = FALSE;
      for (guint i = 0; i < names->len && !found; i++)
        found = g_str_equal (names->pdata[i], stem);
      if (!found)
        g_test_fail_printf ("%s/%s has no %s.in.xml", pin_data_dir (), f, stem);
    }
  g_assert_cmpuint (names->len, >, 0);
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  const char *dirname = pin_data_dir ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (dirname, 0, &error);
  if (dir == NULL)
    g_error ("cannot open the golden cases in %s: %s (is G_TEST_SRCDIR the top "
             "source directory?)", dirname, error->message);

  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *f;
  while ((f = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (f, ".in.xml"))
      g_ptr_array_add (names, g_strndup (f, strlen (f) - strlen (".in.xml")));
  g_ptr_array_sort (names, cmp_str);

  g_autoptr(GPtrArray) cases = g_ptr_array_new_with_free_func ((GDestroyNotify) golden_case_free);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      GoldenCase *c = g_new0 (GoldenCase, 1);
      g_autofree char *in = g_strconcat (name, ".in.xml", NULL);
      g_autofree char *out = g_strconcat (name, ".out.xml", NULL);
      g_autofree char *err = g_strconcat (name, ".err", NULL);
      c->name = g_strdup (name);
      c->in_path = g_build_filename (dirname, in, NULL);
      c->out_path = g_build_filename (dirname, out, NULL);
      c->err_path = g_build_filename (dirname, err, NULL);
      g_ptr_array_add (cases, c);
      g_autofree char *path = g_strconcat ("/pin/golden/", name, NULL);
      g_test_add_data_func (path, c, test_golden);
    }
  g_test_add_data_func ("/pin/golden/no-orphans", names, test_no_orphans);

  int status = g_test_run ();
  g_clear_pointer (&data_dir, g_free);
  return status;
}
