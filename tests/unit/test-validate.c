/* Unit tests for src/core/validate.c: one test case per table row, so a
 * failure names the exact input. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "validate.h"
#include "vk-error.h"

/* A refused input must be named in the message (escaped when it holds
 * control characters), so the admin sees which value was wrong. `expect`
 * overrides the text looked for; "" skips the check (empty/NULL input). */
static void
check_refused (const GError *error, const char *input, const char *expect)
{
  const char *needle = expect != NULL ? expect : input;

  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  g_test_message ("message: %s", error->message);
  if (needle != NULL && needle[0] != '\0' &&
      strstr (error->message, needle) == NULL)
    g_test_fail_printf ("error message “%s” does not mention “%s”",
                        error->message, needle);
}

static char *
test_path (const char *group, guint i, const char *input)
{
  g_autoptr (GString) s = g_string_new (NULL);

  g_string_append_printf (s, "/validate/%s/%02u-", group, i);
  if (input == NULL)
    g_string_append (s, "NULL");
  else if (input[0] == '\0')
    g_string_append (s, "empty");
  else
    for (const char *p = input; *p != '\0' && p - input < 40; p++)
      g_string_append_c (s, g_ascii_isalnum (*p) || *p == '.' || *p == '-' ||
                             *p == ':' || *p == '+'
                             ? *p : '_');
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* ------------------------------------------------------------------- BDF */

typedef struct {
  const char *input;
  gboolean ok;
  guint domain, bus, slot, function;
  const char *expect; /* refused: text the message must contain */
} BdfCase;

static const BdfCase bdf_cases[] = {
  /* accepted */
  { "01:00.0", TRUE, 0, 0x01, 0x00, 0, NULL },
  { "0000:01:00.0", TRUE, 0, 0x01, 0x00, 0, NULL },
  { "/sys/bus/pci/devices/0000:01:00.0", TRUE, 0, 0x01, 0x00, 0, NULL },
  { "/sys/bus/pci/devices/0000:01:00.0/", TRUE, 0, 0x01, 0x00, 0, NULL },
  { "0000:AF:1F.7", TRUE, 0, 0xaf, 0x1f, 7, NULL },
  { "0000:af:1f.7", TRUE, 0, 0xaf, 0x1f, 7, NULL },
  { "ABCD:eF:0a.3", TRUE, 0xabcd, 0xef, 0x0a, 3, NULL },
  { "ffff:ff:1f.7", TRUE, 0xffff, 0xff, 0x1f, 7, NULL },
  { "00:00.0", TRUE, 0, 0, 0, 0, NULL },
  { "3b:00.1", TRUE, 0, 0x3b, 0, 1, NULL },
  { "0001:00:02.1", TRUE, 1, 0, 2, 1, NULL },
  { "/sys/bus/pci/devices/00AB:0C:1d.5", TRUE, 0xab, 0x0c, 0x1d, 5, NULL },
  /* refused */
  { NULL, FALSE, 0, 0, 0, 0, "" },
  { "", FALSE, 0, 0, 0, 0, "" },
  { "/dev/null", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/../devices/0000:01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/0000:01:00.0/..", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/0000:01:00.0//", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/0000:01:00.0/driver", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/0000:01:00.0x", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "sys/bus/pci/devices/0000:01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "/sys/bus/pci/devices/0000:01:20.0", FALSE, 0, 0, 0, 0, "slot 0x20" },
  { "0000:01:00.0junk", FALSE, 0, 0, 0, 0, NULL },
  { "0000:01:00.0 ", FALSE, 0, 0, 0, 0, NULL },
  { " 01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "01:00.0\n", FALSE, 0, 0, 0, 0, "01:00.0\\n" },
  { "01:00.0/", FALSE, 0, 0, 0, 0, NULL },
  { "1:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "01:0.0", FALSE, 0, 0, 0, 0, NULL },
  { "01:00.00", FALSE, 0, 0, 0, 0, NULL },
  { "0000:01:20.0", FALSE, 0, 0, 0, 0, "slot 0x20" },
  { "0000:01:ff.0", FALSE, 0, 0, 0, 0, "slot 0xff" },
  { "0000:01:00.8", FALSE, 0, 0, 0, 0, "function 8" },
  { "0000:01:00.f", FALSE, 0, 0, 0, 0, "function f" },
  { "00000:01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "000:01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "0000:001:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "0000-01-00.0", FALSE, 0, 0, 0, 0, NULL },
  { "0000:01:00:0", FALSE, 0, 0, 0, 0, NULL },
  { "0000:01.00.0", FALSE, 0, 0, 0, 0, NULL },
  { "g000:01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "0x01:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "+1:00.0", FALSE, 0, 0, 0, 0, NULL },
  { "01:00.-", FALSE, 0, 0, 0, 0, NULL },
  { "pci_0000_01_00_0", FALSE, 0, 0, 0, 0, NULL },
  { "0000:01:00.0\t", FALSE, 0, 0, 0, 0, "0000:01:00.0\\t" },
};

static void
test_bdf (gconstpointer data)
{
  const BdfCase *c = data;
  g_autoptr (GError) error = NULL;
  VkBdf bdf = { 0xdead, 0xdead, 0xdead, 0xdead };
  gboolean ok = vk_bdf_parse (c->input, &bdf, &error);

  if (c->ok)
    {
      g_autofree char *text = NULL;
      g_autofree char *expected = NULL;
      VkBdf again;

      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (bdf.domain, ==, c->domain);
      g_assert_cmpuint (bdf.bus, ==, c->bus);
      g_assert_cmpuint (bdf.slot, ==, c->slot);
      g_assert_cmpuint (bdf.function, ==, c->function);

      /* The canonical form is lower case with the domain, and parses back. */
      text = vk_bdf_format (&bdf);
      expected = g_strdup_printf ("%04x:%02x:%02x.%x", c->domain, c->bus,
                                  c->slot, c->function);
      g_assert_cmpstr (text, ==, expected);
      g_assert_true (vk_bdf_parse (text, &again, NULL));
      g_assert_cmpmem (&again, sizeof again, &bdf, sizeof bdf);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
      /* Refusing must not touch the output. */
      g_assert_cmpuint (bdf.domain, ==, 0xdead);
      /* And must work without a GError. */
      g_assert_false (vk_bdf_parse (c->input, &bdf, NULL));
    }
}

/* ------------------------------------------------ names, tags, interfaces */

typedef struct {
  const char *input;
  gboolean ok;
  const char *expect;
} StrCase;

#define S64 "a234567890123456789012345678901234567890123456789012345678901234"
#define S36 "t23456789012345678901234567890123456"

static const StrCase name_cases[] = {
  { "web01", TRUE, NULL },
  { "a", TRUE, NULL },
  { "9lives", TRUE, NULL },
  { "Win11-clone.2", TRUE, NULL },
  { "vm_1+test", TRUE, NULL },
  { S64, TRUE, NULL },
  { NULL, FALSE, "domain name is empty" },
  { "", FALSE, "domain name is empty" },
  { ".", FALSE, NULL },
  { "..", FALSE, NULL },
  { ".hidden", FALSE, NULL },
  { "-rf", FALSE, NULL },
  { "_x", FALSE, NULL },
  { "+x", FALSE, NULL },
  { "a/b", FALSE, "'/' at position 2" },
  { "../etc", FALSE, NULL },
  { "a b", FALSE, "a space at position 2" },
  { "tab\there", FALSE, "tab\\there" },
  { "caf\xc3\xa9", FALSE, "caf\\303\\251" },
  { S64 "5", FALSE, "65 characters" },
  { "name;rm", FALSE, "';'" },
  { "x*", FALSE, NULL },
  { "vm$1", FALSE, NULL },
};

static void
test_name (gconstpointer data)
{
  const StrCase *c = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = vk_validate_name ("domain name", c->input, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
      if (c->input != NULL && c->input[0] != '\0')
        g_assert_nonnull (strstr (error->message, "domain name"));
    }
}

static const StrCase tag_cases[] = {
  { "share", TRUE, NULL },
  { "data.1", TRUE, NULL },
  { "A_b-c", TRUE, NULL },
  { "0", TRUE, NULL },
  { S36, TRUE, NULL },
  { NULL, FALSE, "tag is empty" },
  { "", FALSE, "tag is empty" },
  { S36 "7", FALSE, "37 bytes" },
  { "-x", FALSE, NULL },
  { ".x", FALSE, NULL },
  { "_x", FALSE, NULL },
  { "a b", FALSE, NULL },
  { "a/b", FALSE, NULL },
  { "tag:1", FALSE, NULL },
  { "a+b", FALSE, NULL },
  { "\xc3\xbc" "ber", FALSE, "\\303\\274ber" },
};

static void
test_tag (gconstpointer data)
{
  const StrCase *c = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = vk_validate_fs_tag (c->input, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
    }
}

static const StrCase ifname_cases[] = {
  { "tap0", TRUE, NULL },
  { "vnet12", TRUE, NULL },
  { "br-lan", TRUE, NULL },
  { "a", TRUE, NULL },
  { "vk_web01.1", TRUE, NULL },
  { "abcdefghijklmno", TRUE, NULL },
  { NULL, FALSE, "--tap is empty" },
  { "", FALSE, "--tap is empty" },
  { ".", FALSE, NULL },
  { "..", FALSE, NULL },
  { "abcdefghijklmnop", FALSE, "16 characters" },
  { "tap 0", FALSE, NULL },
  { "a/b", FALSE, NULL },
  { "tap:0", FALSE, NULL },
  { "tap0\n", FALSE, "tap0\\n" },
  { "eth0@x", FALSE, NULL },
  { "t%d", FALSE, NULL },
};

static void
test_ifname (gconstpointer data)
{
  const StrCase *c = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = vk_validate_ifname ("--tap", c->input, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
    }
}

static void
test_long_input_quoted (void)
{
  g_autofree char *huge = g_strnfill (10000, 'x');
  g_autoptr (GError) error = NULL;

  huge[5000] = ' ';
  g_assert_false (vk_validate_name ("image name", huge, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
  /* Shown shortened, not 10000 characters of it. */
  g_assert_cmpuint (strlen (error->message), <, 300);
  g_assert_nonnull (strstr (error->message, "xxxxxxxxxx…"));
}

/* ------------------------------------------------------------------- MAC */

typedef struct {
  const char *input;
  const char *normal; /* NULL = refused */
  const char *expect;
} MacCase;

static const MacCase mac_cases[] = {
  { "52:54:00:12:34:56", "52:54:00:12:34:56", NULL },
  { "52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef", NULL },
  { "52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef", NULL },
  { "52-54-00-AB-cd-Ef", "52:54:00:ab:cd:ef", NULL },
  { "02:00:00:00:00:01", "02:00:00:00:00:01", NULL },
  { "fe:ff:ff:ff:ff:ff", "fe:ff:ff:ff:ff:ff", NULL },
  { "00:16:3e:00:00:01", "00:16:3e:00:00:01", NULL },
  { "01:00:5e:00:00:01", NULL, "multicast" },
  { "33:33:00:00:00:01", NULL, "multicast" },
  { "ff:ff:ff:ff:ff:ff", NULL, "broadcast" },
  { "00:00:00:00:00:00", NULL, "all zeros" },
  { "00-00-00-00-00-00", NULL, "all zeros" },
  { NULL, NULL, "MAC address is empty" },
  { "", NULL, "MAC address is empty" },
  { "52:54:00:12:34", NULL, NULL },
  { "52:54:00:12:34:56:78", NULL, NULL },
  { "52:54:00:12:34:5g", NULL, NULL },
  { "5254.0012.3456", NULL, NULL },
  { "525400123456", NULL, NULL },
  { "52:54-00:12:34:56", NULL, NULL },
  { " 52:54:00:12:34:56", NULL, NULL },
  { "52:54:00:12:34:56 ", NULL, NULL },
  { "52:54:0:12:34:56", NULL, NULL },
  { "52:54:00:12:34:5", NULL, NULL },
  { "52::54:00:12:34:56", NULL, NULL },
  { "52:54:00:12:34:56\n", NULL, "52:54:00:12:34:56\\n" },
};

static void
test_mac (gconstpointer data)
{
  const MacCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *normal = vk_mac_normalize (c->input, &error);

  if (c->normal != NULL)
    {
      guint8 mac[6];
      g_autofree char *again = NULL;

      g_assert_no_error (error);
      g_assert_cmpstr (normal, ==, c->normal);
      g_assert_true (vk_mac_parse (c->input, mac, NULL));
      again = vk_mac_format (mac);
      g_assert_cmpstr (again, ==, c->normal);
    }
  else
    {
      guint8 mac[6] = { 1, 2, 3, 4, 5, 6 };
      static const guint8 untouched[6] = { 1, 2, 3, 4, 5, 6 };

      g_assert_null (normal);
      check_refused (error, c->input, c->expect);
      g_assert_false (vk_mac_parse (c->input, mac, NULL));
      g_assert_cmpmem (mac, 6, untouched, 6);
    }
}

static void
test_mac_format (void)
{
  static const guint8 mac[6] = { 0x52, 0x54, 0x00, 0x0a, 0xBC, 0x01 };
  g_autofree char *text = vk_mac_format (mac);

  g_assert_cmpstr (text, ==, "52:54:00:0a:bc:01");
}

static void
test_mac_generate_shape (void)
{
  for (int i = 0; i < 2000; i++)
    {
      g_autofree char *mac = vk_mac_generate (NULL);
      g_autofree char *normal = NULL;
      guint8 bytes[6];

      g_assert_nonnull (mac);
      g_assert_true (g_str_has_prefix (mac, "52:54:00:"));
      /* Valid by our own parser: unicast, not zero, already normalised. */
      g_assert_true (vk_mac_parse (mac, bytes, NULL));
      g_assert_false (bytes[0] & 0x01);
      normal = vk_mac_normalize (mac, NULL);
      g_assert_cmpstr (normal, ==, mac);
    }
}

static void
test_mac_generate_avoid (void)
{
  g_autofree char *first = NULL;
  g_autofree char *upper = NULL;

  /* Same seed, same first draw: the avoid list must make it draw again. */
  g_random_set_seed (20240611);
  first = vk_mac_generate (NULL);
  for (int round = 0; round < 2; round++)
    {
      g_autofree char *second = NULL;
      const char *avoid[] = { "52:54:00:00:00:01", NULL, NULL };

      /* Round 1 lists it in upper case: the comparison ignores case. */
      if (round == 1)
        upper = g_ascii_strup (first, -1);
      avoid[1] = round == 0 ? first : upper;
      g_random_set_seed (20240611);
      second = vk_mac_generate (avoid);
      g_assert_nonnull (second);
      g_assert_cmpstr (second, !=, first);
    }
}

static void
test_mac_generate_avoid_many (void)
{
  g_autoptr (GPtrArray) avoid = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (int i = 0; i < 4096; i++)
    {
      char *mac = vk_mac_generate (NULL);
      g_hash_table_add (seen, mac);
      g_ptr_array_add (avoid, mac);
    }
  g_ptr_array_add (avoid, NULL);
  for (int i = 0; i < 4096; i++)
    {
      g_autofree char *mac = vk_mac_generate ((const char *const *) avoid->pdata);
      g_assert_false (g_hash_table_contains (seen, mac));
    }
}

/* ------------------------------------------------------------------ sizes */

typedef struct {
  const char *input;
  gboolean ok;
  guint64 mib;
  const char *expect;
} SizeCase;

static const SizeCase size_cases[] = {
  { "512", TRUE, 512, NULL },
  { "1", TRUE, 1, NULL },
  { "007", TRUE, 7, NULL },
  { "512M", TRUE, 512, NULL },
  { "512m", TRUE, 512, NULL },
  { "512MiB", TRUE, 512, NULL },
  { "512mib", TRUE, 512, NULL },
  { "512MIB", TRUE, 512, NULL },
  { "2G", TRUE, 2048, NULL },
  { "2g", TRUE, 2048, NULL },
  { "2GiB", TRUE, 2048, NULL },
  { "1T", TRUE, 1048576, NULL },
  { "1TiB", TRUE, 1048576, NULL },
  { "1024T", TRUE, G_GUINT64_CONSTANT (1073741824), NULL },
  { "1048576G", TRUE, G_GUINT64_CONSTANT (1073741824), NULL },
  { "1073741824", TRUE, G_GUINT64_CONSTANT (1073741824), NULL },
  { NULL, FALSE, 0, "--memory is empty" },
  { "", FALSE, 0, "--memory is empty" },
  { "0", FALSE, 0, "zero" },
  { "0G", FALSE, 0, "zero" },
  { "-1", FALSE, 0, NULL },
  { "+1", FALSE, 0, NULL },
  { "1.5G", FALSE, 0, "not a whole number" },
  { "2,5G", FALSE, 0, "not a whole number" },
  { "G", FALSE, 0, NULL },
  { "512 M", FALSE, 0, NULL },
  { " 512", FALSE, 0, NULL },
  { "512 ", FALSE, 0, NULL },
  { "512MB", FALSE, 0, "unknown unit" },
  { "512K", FALSE, 0, "unknown unit" },
  { "2Gi", FALSE, 0, "unknown unit" },
  { "0x10", FALSE, 0, NULL },
  { "1e3", FALSE, 0, NULL },
  { "1025T", FALSE, 0, "too large" },
  { "1048577G", FALSE, 0, "too large" },
  { "1073741825", FALSE, 0, "too large" },
  { "18446744073709551615", FALSE, 0, "too large" },
  { "18446744073709551616", FALSE, 0, "too large" },
  { "99999999999999999999999G", FALSE, 0, "too large" },
  { "17179869184T", FALSE, 0, "too large" }, /* 2^34 T: wraps in bytes */
};

static void
test_size (gconstpointer data)
{
  const SizeCase *c = data;
  g_autoptr (GError) error = NULL;
  guint64 mib = 42;
  gboolean ok = vk_parse_size_mib ("--memory", c->input, &mib, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (mib, ==, c->mib);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
      if (c->input != NULL && c->input[0] != '\0')
        {
          g_autofree char *q = g_strdup_printf ("“%s”", c->input);
          g_assert_nonnull (strstr (error->message, q));
          g_assert_nonnull (strstr (error->message, "--memory"));
        }
      g_assert_cmpuint (mib, ==, 42);
    }
}

/* -------------------------------------------------------------- integers */

typedef struct {
  const char *input;
  guint64 min, max;
  gboolean ok;
  guint64 value;
  const char *expect;
} UintCase;

static const UintCase uint_cases[] = {
  { "1", 1, 16, TRUE, 1, NULL },
  { "16", 1, 16, TRUE, 16, NULL },
  { "0x10", 1, 16, TRUE, 16, NULL },
  { "0X0a", 1, 16, TRUE, 10, NULL },
  { "010", 1, 16, TRUE, 10, NULL }, /* decimal, not octal */
  { "0", 0, 0, TRUE, 0, NULL },
  { "18446744073709551615", 0, G_MAXUINT64, TRUE, G_MAXUINT64, NULL },
  { "0xffffffffffffffff", 0, G_MAXUINT64, TRUE, G_MAXUINT64, NULL },
  { "0", 1, 16, FALSE, 0, "out of range" },
  { "17", 1, 16, FALSE, 0, "out of range" },
  { "0x11", 1, 16, FALSE, 0, "out of range" },
  { "", 1, 16, FALSE, 0, "--queues is empty" },
  { NULL, 1, 16, FALSE, 0, "--queues is empty" },
  { "0x", 1, 16, FALSE, 0, NULL },
  { "-1", 1, 16, FALSE, 0, NULL },
  { "+1", 1, 16, FALSE, 0, NULL },
  { "abc", 1, 16, FALSE, 0, "not a number" },
  { "1 ", 1, 16, FALSE, 0, NULL },
  { " 1", 1, 16, FALSE, 0, NULL },
  { "4k", 1, 16, FALSE, 0, NULL },
  { "18446744073709551616", 0, G_MAXUINT64, FALSE, 0, "too large" },
  { "0x10000000000000000", 0, G_MAXUINT64, FALSE, 0, "too large" },
};

static void
test_uint (gconstpointer data)
{
  const UintCase *c = data;
  g_autoptr (GError) error = NULL;
  guint64 v = 42;
  gboolean ok = vk_parse_uint ("--queues", c->input, c->min, c->max, &v, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (v, ==, c->value);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
      if (c->input != NULL && c->input[0] != '\0')
        g_assert_nonnull (strstr (error->message, c->input));
      g_assert_cmpuint (v, ==, 42);
    }
}

/* ------------------------------------------------------ controller index */

typedef struct {
  const char *input;
  gboolean ok;
  guint value;
  const char *expect;
} IndexCase;

/* libvirt reads index= with strtol in base 10: it must mean the same
 * number here, and what libvirt refuses is refused. */
static const IndexCase index_cases[] = {
  { "0", TRUE, 0, NULL },
  { "2", TRUE, 2, NULL },
  { "31", TRUE, 31, NULL },
  { "010", TRUE, 10, NULL }, /* decimal to libvirt, not octal */
  { "2147483647", TRUE, G_MAXINT, NULL },
  { NULL, FALSE, 0, "index is empty" },
  { "", FALSE, 0, "index is empty" },
  { "0x2", FALSE, 0, "not a decimal number" },
  { "2junk", FALSE, 0, "not a decimal number" },
  { "two", FALSE, 0, "not a decimal number" },
  { "2 ", FALSE, 0, "not a decimal number" },
  { "2.0", FALSE, 0, "not a decimal number" },
  { " ", FALSE, 0, "not a decimal number" },
  { "-1", FALSE, 0, "out of range" },
  { "2147483648", FALSE, 0, "out of range" },
  { "99999999999999999999", FALSE, 0, "out of range" },
};

static void
test_controller_index (gconstpointer data)
{
  const IndexCase *c = data;
  g_autoptr (GError) error = NULL;
  guint v = 42;
  gboolean ok = vk_parse_controller_index (c->input, &v, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (v, ==, c->value);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
      if (c->input != NULL && c->input[0] != '\0')
        g_assert_nonnull (strstr (error->message, c->input));
      g_assert_cmpuint (v, ==, 42);
    }
}

/* --------------------------------------------------- PCI address attributes */

typedef struct {
  const char *attr;
  const char *input;
  gboolean ok;
  guint value;
  const char *expect;
} PciAttrCase;

/* libvirt reads these with strtoul in base 0 and refuses any '-': the same
 * text must give the same number here, and what libvirt refuses is refused. */
static const PciAttrCase pci_attr_cases[] = {
  { "slot", "0x03", TRUE, 0x03, NULL },
  { "slot", "0x1f", TRUE, 0x1f, NULL },
  { "slot", "0X1F", TRUE, 0x1f, NULL },
  { "slot", "0x0000003", TRUE, 0x03, NULL },
  { "slot", "3", TRUE, 3, NULL },
  { "slot", "31", TRUE, 31, NULL },
  { "slot", "0", TRUE, 0, NULL },
  { "slot", "037", TRUE, 31, NULL }, /* octal, as to libvirt */
  { "slot", "010", TRUE, 8, NULL },
  { "slot", " 3", TRUE, 3, NULL },   /* strtoul skips leading blanks */
  { "slot", "+3", TRUE, 3, NULL },
  { "domain", "0x0000", TRUE, 0, NULL },
  { "domain", "0x0001", TRUE, 1, NULL }, /* well-formed; pin's policy refuses it */
  { "domain", "0xffff", TRUE, 0xffff, NULL },
  { "bus", "0x00", TRUE, 0, NULL },
  { "bus", "0xff", TRUE, 0xff, NULL },
  { "bus", "255", TRUE, 255, NULL },
  { "function", "0x0", TRUE, 0, NULL },
  { "function", "0x7", TRUE, 7, NULL },
  { "function", "7", TRUE, 7, NULL },
  { "slot", NULL, FALSE, 0, "slot is empty" },
  { "slot", "", FALSE, 0, "slot is empty" },
  { "bus", "", FALSE, 0, "bus is empty" },
  { "slot", "0x03junk", FALSE, 0, "is not a number" },
  { "slot", "1f", FALSE, 0, "is not a number" },
  { "slot", "0x", FALSE, 0, "is not a number" },
  { "slot", "x3", FALSE, 0, "is not a number" },
  { "slot", "3 ", FALSE, 0, "is not a number" },
  { "slot", " ", FALSE, 0, "is not a number" },
  { "slot", "3.0", FALSE, 0, "is not a number" },
  { "slot", "-1", FALSE, 0, "is not a number" },
  { "slot", "-0", FALSE, 0, "is not a number" },
  { "slot", "08", FALSE, 0, "a leading 0 makes it octal" },
  { "slot", "019", FALSE, 0, "a leading 0 makes it octal" },
  { "slot", "0x20", FALSE, 0, "is out of range" },
  { "slot", "32", FALSE, 0, "is out of range" },
  { "slot", "040", FALSE, 0, "is out of range" },
  { "function", "8", FALSE, 0, "is out of range" },
  { "function", "0x8", FALSE, 0, "is out of range" },
  { "bus", "0x100", FALSE, 0, "is out of range" },
  { "bus", "256", FALSE, 0, "is out of range" },
  { "domain", "0x10000", FALSE, 0, "is out of range" },
  { "domain", "99999999999999999999999", FALSE, 0, "is out of range" },
};

static void
test_pci_attr (gconstpointer data)
{
  const PciAttrCase *c = data;
  g_autoptr (GError) error = NULL;
  guint v = 42;
  gboolean ok = vk_parse_pci_address_attr (c->attr, c->input, &v, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (v, ==, c->value);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
      /* names the attribute, its value and what libvirt takes there */
      g_assert_true (g_str_has_prefix (error->message, c->attr));
      if (c->input != NULL && c->input[0] != '\0')
        {
          g_autofree char *q = g_strdup_printf ("“%s”", c->input);
          g_assert_nonnull (strstr (error->message, q));
        }
      g_assert_nonnull (strstr (error->message, "libvirt accepts 0 to 0x"));
      g_assert_cmpuint (v, ==, 42);
    }
}

static void
test_pci_attr_limits (void)
{
  static const struct {
    const char *attr;
    const char *accepts;
  } limits[] = {
    { "domain", "libvirt accepts 0 to 0xffff there" },
    { "bus", "libvirt accepts 0 to 0xff there" },
    { "slot", "libvirt accepts 0 to 0x1f there, written in hex with 0x (0x1f), "
              "in decimal (31) or in octal with a leading 0 (037)" },
    { "function", "libvirt accepts 0 to 0x7 there" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      g_autoptr (GError) error = NULL;
      guint v;
      g_assert_false (vk_parse_pci_address_attr (limits[i].attr, "junk", &v, &error));
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_assert_nonnull (strstr (error->message, limits[i].accepts));
    }
}

/* ------------------------------------------------------------ slot ranges */

typedef struct {
  const char *input;
  gboolean ok;
  guint first, last;
  const char *expect;
} RangeCase;

static const RangeCase range_cases[] = {
  { "0x03-0x0f", TRUE, 3, 15, NULL },
  { "3-15", TRUE, 3, 15, NULL },
  { "0x10-0x1f", TRUE, 16, 31, NULL },
  { "16-31", TRUE, 16, 31, NULL },
  { "1-1", TRUE, 1, 1, NULL },
  { "0x1F-0x1f", TRUE, 31, 31, NULL },
  { "0x3-15", TRUE, 3, 15, NULL },
  { NULL, FALSE, 0, 0, "nic-slots is empty" },
  { "", FALSE, 0, 0, "nic-slots is empty" },
  { "0-5", FALSE, 0, 0, "outside" },
  { "3-32", FALSE, 0, 0, "outside" },
  { "0x20-0x21", FALSE, 0, 0, "outside" },
  { "15-3", FALSE, 0, 0, "starts after it ends" },
  { "0x0f-0x03", FALSE, 0, 0, "starts after it ends" },
  { "3", FALSE, 0, 0, "not a slot range" },
  { "3-", FALSE, 0, 0, NULL },
  { "-3", FALSE, 0, 0, NULL },
  { "3--5", FALSE, 0, 0, NULL },
  { "3-5-7", FALSE, 0, 0, NULL },
  { "0x-0x5", FALSE, 0, 0, NULL },
  { " 3-5", FALSE, 0, 0, NULL },
  { "3 - 5", FALSE, 0, 0, NULL },
  { "a-b", FALSE, 0, 0, NULL },
  { "99999999999999999999-3", FALSE, 0, 0, NULL },
};

static void
test_range (gconstpointer data)
{
  const RangeCase *c = data;
  g_autoptr (GError) error = NULL;
  guint first = 99, last = 99;
  gboolean ok = vk_parse_slot_range ("nic-slots", c->input, &first, &last, &error);

  if (c->ok)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (first, ==, c->first);
      g_assert_cmpuint (last, ==, c->last);
    }
  else
    {
      g_assert_false (ok);
      check_refused (error, c->input, c->expect);
      g_assert_nonnull (strstr (error->message, "nic-slots"));
      if (c->input != NULL && c->input[0] != '\0')
        g_assert_nonnull (strstr (error->message, c->input));
      g_assert_cmpuint (first, ==, 99);
      g_assert_cmpuint (last, ==, 99);
    }
}

/* ------------------------------------------------------------ printable */

/* Library messages quote untrusted bytes (fuzz/regressions/config,
 * fuzz/regressions/domain-xml): what comes out is UTF-8 without controls,
 * and ordinary text, newlines and tabs pass unchanged. */
static void
test_str_printable (void)
{
  static const struct {
    const char *input;
    const char *expect;
  } cases[] = {
    { "plain “text” – äöü\n\tend", "plain “text” – äöü\n\tend" },
    { "esc \x1b[2J bel \x07 del \x7f", "esc \\x1b[2J bel \\x07 del \\x7f" },
    { "not utf-8 \xff\xfe", "not utf-8 \\xff\\xfe" },
    { "cut \xe2\x80", "cut \\xe2\\x80" },
    { "overlong \xc0\xaf", "overlong \\xc0\\xaf" },
    { "c1 csi \xc2\x9b", "c1 csi \\xc2\\x9b" },
    { "nbsp \xc2\xa0", "nbsp \xc2\xa0" },
    { "", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = vk_str_printable (cases[i].input);
      g_assert_cmpstr (out, ==, cases[i].expect);
      g_assert_true (g_utf8_validate (out, -1, NULL));
    }
  {
    g_autofree char *out = vk_str_printable (NULL);
    g_assert_cmpstr (out, ==, "");
  }
}

/* ------------------------------------------------------------------ main */

#define ADD_TABLE(group, table, func)                                        \
  for (guint i_ = 0; i_ < G_N_ELEMENTS (table); i_++)                        \
    {                                                                        \
      g_autofree char *path_ = test_path (group, i_, (table)[i_].input);     \
      g_test_add_data_func (path_, &(table)[i_], func);                      \
    }

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  ADD_TABLE ("bdf", bdf_cases, test_bdf);
  ADD_TABLE ("name", name_cases, test_name);
  ADD_TABLE ("fs-tag", tag_cases, test_tag);
  ADD_TABLE ("ifname", ifname_cases, test_ifname);
  ADD_TABLE ("mac", mac_cases, test_mac);
  ADD_TABLE ("size", size_cases, test_size);
  ADD_TABLE ("uint", uint_cases, test_uint);
  ADD_TABLE ("slot-range", range_cases, test_range);
  ADD_TABLE ("controller-index", index_cases, test_controller_index);
  for (guint i = 0; i < G_N_ELEMENTS (pci_attr_cases); i++)
    {
      g_autofree char *group = g_strdup_printf ("pci-address-attr/%s",
                                                pci_attr_cases[i].attr);
      g_autofree char *path = test_path (group, i, pci_attr_cases[i].input);
      g_test_add_data_func (path, &pci_attr_cases[i], test_pci_attr);
    }
  g_test_add_func ("/validate/pci-address-attr/limits", test_pci_attr_limits);
  g_test_add_func ("/validate/name/long-input-is-shortened", test_long_input_quoted);
  g_test_add_func ("/validate/mac/format", test_mac_format);
  g_test_add_func ("/validate/mac/generate/shape", test_mac_generate_shape);
  g_test_add_func ("/validate/mac/generate/avoid", test_mac_generate_avoid);
  g_test_add_func ("/validate/mac/generate/avoid-many", test_mac_generate_avoid_many);
  g_test_add_func ("/validate/str-printable", test_str_printable);

  return g_test_run ();
}
