/* vmkeep — validation and normalisation of user-supplied identifiers.
 *
 * Every parser here is strict on purpose: these values end up in domain XML,
 * sysfs paths, interface names and file names, so anything that is not
 * exactly one of the documented forms is refused rather than "fixed up". */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <glib/gi18n.h>
#include <inttypes.h>

#include "validate.h"
#include "vk-error.h"

/* Inputs can hold control characters or be huge (they come from the command
 * line and from config files); messages show them escaped and shortened so
 * an error can never garble the terminal or flood the log. */
#define QUOTE_MAX 80

char *
vk_str_quote (const char *text)
{
  g_autofree char *escaped = NULL;

  if (text == NULL)
    return g_strdup ("(null)");
  /* g_strescape leaves pure ASCII (non-ASCII bytes become octal escapes),
   * so cutting at any byte is safe. */
  escaped = g_strescape (text, NULL);
  if (strlen (escaped) > QUOTE_MAX)
    return g_strdup_printf ("“%.*s…”", QUOTE_MAX, escaped);
  return g_strdup_printf ("“%s”", escaped);
}

/* A usage error (exit status 2): `return usage_error (error, ...);`. */
#define usage_error(error, ...) vk_fail ((error), VK_ERROR_USAGE, __VA_ARGS__)

static gboolean
is_alnum (char c)
{
  return g_ascii_isalnum (c);
}

/* Reports the first character of `text` not accepted by `ok`, or -1. */
static gssize
first_bad_char (const char *text, gboolean (*ok) (char c))
{
  for (gsize i = 0; text[i] != '\0'; i++)
    if (!ok (text[i]))
      return (gssize) i;
  return -1;
}

static char *
describe_char (char c)
{
  if (c == ' ')
    return g_strdup (_("a space"));
  if (g_ascii_isprint (c))
    return g_strdup_printf ("'%c'", c);
  return g_strdup_printf (_("byte 0x%02x"), (guint) (guchar) c);
}

/* ------------------------------------------------------------------ names */

static gboolean
name_char_ok (char c)
{
  return g_ascii_isalnum (c) || c == '.' || c == '_' || c == '+' || c == '-';
}

gboolean
vk_validate_name (const char *what, const char *name, GError **error)
{
  g_autofree char *q = vk_str_quote (name);
  gsize len;
  gssize bad;

  g_return_val_if_fail (what != NULL, FALSE);

  if (name == NULL || name[0] == '\0')
    return usage_error (error,
                        _("%s is empty; give 1 to %d characters from A-Z a-z 0-9 . _ + -"),
                        what, VK_NAME_MAX);
  len = strlen (name);
  if (len > VK_NAME_MAX)
    return usage_error (error,
                        _("%s %s is %zu characters long; use at most %d"),
                        what, q, len, VK_NAME_MAX);
  bad = first_bad_char (name, name_char_ok);
  if (bad >= 0)
    {
      g_autofree char *c = describe_char (name[bad]);
      return usage_error (error,
                          _("%s %s contains %s at position %d; use only A-Z a-z 0-9 . _ + -"),
                          what, q, c, (int) bad + 1);
    }
  /* Also rules out "." and "..", which would escape the store directory. */
  if (!is_alnum (name[0]))
    return usage_error (error,
                        _("%s %s must start with a letter or a digit"), what, q);
  return TRUE;
}

/* ------------------------------------------------------------------- MACs */

gboolean
vk_mac_parse (const char *text, guint8 out[6], GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  guint8 mac[6];
  char sep;

  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL || text[0] == '\0')
    {
      g_set_error_literal (error, VK_ERROR, VK_ERROR_USAGE,
                           _("MAC address is empty; give six two-digit hex "
                             "octets, e.g. 52:54:00:12:34:56, or leave it out "
                             "to have one generated"));
      return FALSE;
    }
  if (strlen (text) != 17 || (text[2] != ':' && text[2] != '-'))
    goto bad_form;
  /* Mixed separators are more likely a typo than an intent. */
  sep = text[2];
  for (int i = 0; i < 6; i++)
    {
      const char *p = text + i * 3;
      if (!g_ascii_isxdigit (p[0]) || !g_ascii_isxdigit (p[1]))
        goto bad_form;
      if (i < 5 && p[2] != sep)
        goto bad_form;
      mac[i] = (guint8) ((g_ascii_xdigit_value (p[0]) << 4) |
                         g_ascii_xdigit_value (p[1]));
    }

  if (mac[0] & 0x01)
    return usage_error (error,
                        _("MAC address %s is a multicast or broadcast address; a NIC "
                          "needs a unicast one (even first octet), e.g. 52:54:00:12:34:56"),
                        q);
  if ((mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0)
    return usage_error (error,
                        _("MAC address %s is all zeros; give a real address or leave "
                          "it out to have one generated"),
                        q);
  memcpy (out, mac, 6);
  return TRUE;

bad_form:
  return usage_error (error,
                      _("%s is not a MAC address; use six two-digit hex octets separated "
                        "by ':' (or '-'), e.g. 52:54:00:12:34:56"),
                      q);
}

char *
vk_mac_format (const guint8 mac[6])
{
  g_return_val_if_fail (mac != NULL, NULL);
  return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x",
                          mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

char *
vk_mac_normalize (const char *text, GError **error)
{
  guint8 mac[6];

  if (!vk_mac_parse (text, mac, error))
    return NULL;
  return vk_mac_format (mac);
}

static gboolean
mac_in (const char *mac, const char *const *avoid)
{
  for (gsize i = 0; avoid != NULL && avoid[i] != NULL; i++)
    if (g_ascii_strcasecmp (mac, avoid[i]) == 0)
      return TRUE;
  return FALSE;
}

char *
vk_mac_generate (const char *const *avoid)
{
  guint8 mac[6] = { 0x52, 0x54, 0x00, 0, 0, 0 };
  guint32 start;

  /* Random first so two vmkeep runs on different hosts rarely collide on a
   * shared bridge; libvirt's own generator uses the same 52:54:00 prefix. */
  for (int attempt = 0; attempt < 1000; attempt++)
    {
      guint32 r = (guint32) g_random_int_range (0, 1 << 24);
      g_autofree char *text = NULL;

      mac[3] = (r >> 16) & 0xff;
      mac[4] = (r >> 8) & 0xff;
      mac[5] = r & 0xff;
      text = vk_mac_format (mac);
      if (!mac_in (text, avoid))
        return g_steal_pointer (&text);
    }

  /* Only reached with an avoid list covering most of the 2^24 space: a
   * deterministic sweep still terminates. */
  start = (guint32) g_random_int_range (0, 1 << 24);
  for (guint32 n = 0; n < (1u << 24); n++)
    {
      guint32 r = (start + n) & 0xffffff;
      g_autofree char *text = NULL;

      mac[3] = (r >> 16) & 0xff;
      mac[4] = (r >> 8) & 0xff;
      mac[5] = r & 0xff;
      text = vk_mac_format (mac);
      if (!mac_in (text, avoid))
        return g_steal_pointer (&text);
    }
  return NULL;
}

/* -------------------------------------------------------------------- BDF */

#define SYSFS_PCI_DEVICES "/sys/bus/pci/devices/"

/* Reads exactly `n` hex digits. */
static gboolean
read_hex (const char *p, int n, guint *out)
{
  guint v = 0;

  for (int i = 0; i < n; i++)
    {
      if (!g_ascii_isxdigit (p[i]))
        return FALSE;
      v = (v << 4) | (guint) g_ascii_xdigit_value (p[i]);
    }
  *out = v;
  return TRUE;
}

/* "BB:SS.F" at p, exactly 7 characters (the caller checks what follows). */
static gboolean
read_bus_slot_fn (const char *p, VkBdf *bdf)
{
  return read_hex (p, 2, &bdf->bus) && p[2] == ':' &&
         read_hex (p + 3, 2, &bdf->slot) && p[5] == '.' &&
         read_hex (p + 6, 1, &bdf->function);
}

gboolean
vk_bdf_parse (const char *text, VkBdf *out, GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  VkBdf bdf = { 0, 0, 0, 0 };
  const char *p;
  gsize len;
  gboolean is_path = FALSE;

  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL || text[0] == '\0')
    {
      g_set_error_literal (error, VK_ERROR, VK_ERROR_USAGE,
                           _("PCI address is empty; use BB:SS.F, DDDD:BB:SS.F "
                             "or /sys/bus/pci/devices/DDDD:BB:SS.F"));
      return FALSE;
    }

  p = text;
  len = strlen (text);
  if (text[0] == '/')
    {
      /* Only the canonical sysfs path: anything else (other directories,
       * "..", symlink-style relative parts) could name a different device
       * than the one the admin reads in the path. */
      if (!g_str_has_prefix (text, SYSFS_PCI_DEVICES))
        return usage_error (error,
                            _("%s is not a PCI device path; only "
                              "/sys/bus/pci/devices/DDDD:BB:SS.F is accepted"),
                            q);
      is_path = TRUE;
      p = text + strlen (SYSFS_PCI_DEVICES);
      len = strlen (p);
      if (len == 13 && p[12] == '/')
        len = 12;
      if (len != 12)
        goto bad_form;
    }

  if (len == 12)
    {
      if (!read_hex (p, 4, &bdf.domain) || p[4] != ':' ||
          !read_bus_slot_fn (p + 5, &bdf))
        goto bad_form;
    }
  else if (len == 7 && !is_path)
    {
      if (!read_bus_slot_fn (p, &bdf))
        goto bad_form;
    }
  else
    goto bad_form;

  if (bdf.slot > 0x1f)
    return usage_error (error,
                        _("PCI address %s has slot 0x%02x; slots go from 0x00 to 0x1f"),
                        q, bdf.slot);
  if (bdf.function > 7)
    return usage_error (error,
                        _("PCI address %s has function %x; functions go from 0 to 7"),
                        q, bdf.function);

  *out = bdf;
  return TRUE;

bad_form:
  if (is_path)
    g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                 _("%s is not a PCI device path; use "
                   "/sys/bus/pci/devices/DDDD:BB:SS.F with hex digits, e.g. "
                   "/sys/bus/pci/devices/0000:01:00.0"),
                 q);
  else
    g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                 _("%s is not a PCI address; use BB:SS.F or DDDD:BB:SS.F with "
                   "hex digits, e.g. 01:00.0 or 0000:01:00.0 (as lspci -D shows)"),
                 q);
  return FALSE;
}

char *
vk_bdf_format (const VkBdf *bdf)
{
  g_return_val_if_fail (bdf != NULL, NULL);
  return g_strdup_printf ("%04x:%02x:%02x.%x", bdf->domain, bdf->bus,
                          bdf->slot, bdf->function);
}

/* ---------------------------------------------------- tags and interfaces */

static gboolean
tag_char_ok (char c)
{
  return g_ascii_isalnum (c) || c == '.' || c == '_' || c == '-';
}

gboolean
vk_validate_fs_tag (const char *tag, GError **error)
{
  g_autofree char *q = vk_str_quote (tag);
  gsize len;
  gssize bad;

  if (tag == NULL || tag[0] == '\0')
    return usage_error (error,
                        _("virtiofs tag is empty; give 1 to %d characters from "
                          "A-Z a-z 0-9 . _ -"),
                        VK_FS_TAG_MAX);
  len = strlen (tag);
  if (len > VK_FS_TAG_MAX)
    return usage_error (error,
                        _("virtiofs tag %s is %zu bytes long; the "
                          "guest sees at most %d"),
                        q, len, VK_FS_TAG_MAX);
  bad = first_bad_char (tag, tag_char_ok);
  if (bad >= 0)
    {
      g_autofree char *c = describe_char (tag[bad]);
      return usage_error (error,
                          _("virtiofs tag %s contains %s at position %d; use only "
                            "A-Z a-z 0-9 . _ -"),
                          q, c, (int) bad + 1);
    }
  if (!is_alnum (tag[0]))
    return usage_error (error,
                        _("virtiofs tag %s must start with a letter or a digit"), q);
  return TRUE;
}

gboolean
vk_validate_ifname (const char *what, const char *name, GError **error)
{
  g_autofree char *q = vk_str_quote (name);
  gsize len;
  gssize bad;

  g_return_val_if_fail (what != NULL, FALSE);

  if (name == NULL || name[0] == '\0')
    return usage_error (error,
                        _("%s is empty; give an interface name of 1 to %d characters"),
                        what, VK_TAP_NAME_MAX);
  len = strlen (name);
  if (len > VK_TAP_NAME_MAX)
    return usage_error (error,
                        _("%s %s is %zu characters long; Linux "
                          "interface names have at most %d"),
                        what, q, len, VK_TAP_NAME_MAX);
  bad = first_bad_char (name, tag_char_ok);
  if (bad >= 0)
    {
      g_autofree char *c = describe_char (name[bad]);
      return usage_error (error,
                          _("%s %s contains %s at position %d; use only A-Z a-z 0-9 . _ -"),
                          what, q, c, (int) bad + 1);
    }
  /* The kernel refuses "." and ".." too (they would be sysfs directory
   * names); a leading '-' would read as an option to ip(8) and friends. */
  if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0 || name[0] == '-')
    return usage_error (error,
                        _("%s %s is not a valid interface name"), what, q);
  return TRUE;
}

/* ---------------------------------------------------------------- numbers */

/* Digits only, no sign, no blanks; FALSE on overflow of guint64. */
static gboolean
read_decimal (const char *p, gsize n, guint64 *out, gboolean *overflow)
{
  guint64 v = 0;

  *overflow = FALSE;
  if (n == 0)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      guint d;

      if (!g_ascii_isdigit (p[i]))
        return FALSE;
      d = (guint) (p[i] - '0');
      if (v > (G_MAXUINT64 - d) / 10)
        {
          *overflow = TRUE;
          return FALSE;
        }
      v = v * 10 + d;
    }
  *out = v;
  return TRUE;
}

static gboolean
read_hex_number (const char *p, gsize n, guint64 *out, gboolean *overflow)
{
  guint64 v = 0;

  *overflow = FALSE;
  if (n == 0)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      if (!g_ascii_isxdigit (p[i]))
        return FALSE;
      if (v > (G_MAXUINT64 >> 4))
        {
          *overflow = TRUE;
          return FALSE;
        }
      v = (v << 4) | (guint64) g_ascii_xdigit_value (p[i]);
    }
  *out = v;
  return TRUE;
}

/* Decimal or 0x-hex over the whole string. */
static gboolean
read_number (const char *text, guint64 *out, gboolean *overflow)
{
  if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    return read_hex_number (text + 2, strlen (text + 2), out, overflow);
  return read_decimal (text, strlen (text), out, overflow);
}

gboolean
vk_parse_uint (const char *what, const char *text, guint64 min, guint64 max,
               guint64 *out, GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  guint64 v = 0;
  gboolean overflow = FALSE;

  g_return_val_if_fail (what != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL || text[0] == '\0')
    return usage_error (error,
                        _("%s is empty; give a number from %" PRIu64
                          " to %" PRIu64),
                        what, min, max);
  if (!read_number (text, &v, &overflow))
    {
      if (overflow)
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("%s %s is too large; give a number from %" PRIu64
                       " to %" PRIu64),
                     what, q, min, max);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("%s %s is not a number; give a decimal or 0x-prefixed hex "
                       "number from %" PRIu64 " to %" PRIu64),
                     what, q, min, max);
      return FALSE;
    }
  if (v < min || v > max)
    return usage_error (error,
                        _("%s %s is out of range; give a number from %" PRIu64
                          " to %" PRIu64),
                        what, q, min, max);
  *out = v;
  return TRUE;
}

/* ------------------------------------------------------ domain XML numbers */

/* Numbers read from domain XML follow libvirt, not the strict forms above:
 * what libvirt accepts must mean the same number here, and what it refuses
 * must be refused here, or vmkeep would judge a device by a value libvirt
 * never uses. */

gboolean
vk_parse_controller_index (const char *text, guint *out, GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  char *end = NULL;
  gint64 v;

  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL || text[0] == '\0')
    return usage_error (error,
                        _("index is empty; libvirt wants a decimal number there, "
                          "e.g. index='2'"));
  /* libvirt: virXMLPropInt (base 10, non-negative), i.e. strtol */
  errno = 0;
  v = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0')
    return usage_error (error,
                        _("index %s is not a decimal number; libvirt reads a "
                          "controller index in decimal only, e.g. index='2'"), q);
  if (errno == ERANGE || v < 0 || v > G_MAXINT)
    return usage_error (error,
                        _("index %s is out of range; libvirt accepts 0 to %d"),
                        q, G_MAXINT);
  *out = (guint) v;
  return TRUE;
}

static const struct {
  const char *attr;
  guint max;
} pci_address_attrs[] = {
  { "domain", 0xffff },
  { "bus", 0xff },
  { "slot", 0x1f },
  { "function", 7 },
};

gboolean
vk_parse_pci_address_attr (const char *attr, const char *text, guint *out,
                           GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  g_autofree char *accepts = NULL;
  gboolean known = FALSE;
  guint max = 0;
  char *end = NULL;
  guint64 v;

  for (gsize i = 0; i < G_N_ELEMENTS (pci_address_attrs) && !known; i++)
    if (g_strcmp0 (attr, pci_address_attrs[i].attr) == 0)
      {
        max = pci_address_attrs[i].max;
        known = TRUE;
      }
  g_return_val_if_fail (known, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  accepts = g_strdup_printf (_("libvirt accepts 0 to 0x%x there, written in hex "
                               "with 0x (0x%x), in decimal (%u) or in octal with "
                               "a leading 0 (0%o)"), max, max, max, max);
  if (text == NULL || text[0] == '\0')
    return vk_fail (error, VK_ERROR_USAGE, _("%s is empty; %s"),
                    attr, accepts);
  /* libvirt: virXMLPropUInt (base 0) -> virStrToLong_uip, i.e. strtoul
   * refusing any '-' */
  errno = 0;
  v = g_ascii_strtoull (text, &end, 0);
  if (end == text || *end != '\0' || strchr (text, '-') != NULL)
    {
      /* "08" reads as decimal to a person, not to strtoul */
      if (text[0] == '0' && text[strspn (text, "0123456789")] == '\0')
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("%s %s is not a number to libvirt: a leading 0 makes it "
                       "octal, which has no digit 8 or 9; %s"), attr, q, accepts);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("%s %s is not a number; %s"), attr, q, accepts);
      return FALSE;
    }
  if (errno == ERANGE || v > max)
    return vk_fail (error, VK_ERROR_USAGE, _("%s %s is out of range; %s"),
                    attr, q, accepts);
  *out = (guint) v;
  return TRUE;
}

/* 1024 TiB, in MiB. */
#define SIZE_MAX_MIB (G_GUINT64_CONSTANT (1024) * 1024 * 1024)

gboolean
vk_parse_size_mib (const char *what, const char *text, guint64 *mib,
                   GError **error)
{
  static const struct {
    const char *suffix;
    guint64 factor; /* MiB per unit */
  } units[] = {
    { "", 1 },
    { "m", 1 },
    { "mib", 1 },
    { "g", 1024 },
    { "gib", 1024 },
    { "t", 1024 * 1024 },
    { "tib", 1024 * 1024 },
  };
  g_autofree char *q = vk_str_quote (text);
  const char *unit;
  guint64 value = 0;
  gboolean overflow = FALSE;

  g_return_val_if_fail (what != NULL, FALSE);
  g_return_val_if_fail (mib != NULL, FALSE);

  if (text == NULL || text[0] == '\0')
    return usage_error (error,
                        _("%s is empty; give a size such as 512M, 2G or 1T"), what);

  unit = text;
  while (g_ascii_isdigit (*unit))
    unit++;
  if (unit == text)
    return usage_error (error,
                        _("%s %s is not a size; give a whole number with an optional "
                          "unit M, MiB, G, GiB, T or TiB (default MiB), e.g. 512M or 2G"),
                        what, q);

  if (*unit == '.' || *unit == ',')
    return usage_error (error,
                        _("%s %s is not a whole number; use a smaller unit instead, "
                          "e.g. 1536M for 1.5G"),
                        what, q);

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    {
      if (g_ascii_strcasecmp (unit, units[i].suffix) != 0)
        continue;
      if (!read_decimal (text, (gsize) (unit - text), &value, &overflow) ||
          value > SIZE_MAX_MIB / units[i].factor)
        return usage_error (error,
                            _("%s %s is too large; the largest size accepted is 1024T"),
                            what, q);
      value *= units[i].factor;
      if (value < 1)
        return usage_error (error,
                            _("%s %s is zero; give at least 1M"), what, q);
      *mib = value;
      return TRUE;
    }

  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("%s %s has an unknown unit; use M, MiB, G, GiB, T or TiB "
                 "(binary units; no unit means MiB), e.g. 512M or 2G"),
               what, q);
  return FALSE;
}

gboolean
vk_parse_slot_range (const char *key, const char *text, guint *first,
                     guint *last, GError **error)
{
  g_autofree char *q = vk_str_quote (text);
  g_autofree char *lo_text = NULL;
  const char *dash;
  guint64 lo = 0, hi = 0;
  gboolean overflow;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (first != NULL && last != NULL, FALSE);

  if (text == NULL || text[0] == '\0')
    return usage_error (error,
                        _("%s is empty; write FIRST-LAST, e.g. 0x03-0x0f"), key);
  if ((dash = strchr (text, '-')) == NULL || strchr (dash + 1, '-') != NULL)
    goto bad_form;
  lo_text = g_strndup (text, (gsize) (dash - text));
  if (lo_text[0] == '\0' || dash[1] == '\0' ||
      !read_number (lo_text, &lo, &overflow) ||
      !read_number (dash + 1, &hi, &overflow))
    goto bad_form;

  if (lo < 1 || lo > 0x1f || hi < 1 || hi > 0x1f)
    return usage_error (error,
                        _("%s %s is outside the PCI slots 0x01-0x1f (slot 0 belongs "
                          "to the host bridge)"),
                        key, q);
  if (lo > hi)
    return usage_error (error,
                        _("%s %s starts after it ends; write the lower slot first, "
                          "e.g. 0x03-0x0f"),
                        key, q);
  *first = (guint) lo;
  *last = (guint) hi;
  return TRUE;

bad_form:
  return usage_error (error,
                      _("%s %s is not a slot range; write FIRST-LAST in decimal or "
                        "0x-hex, e.g. 0x03-0x0f or 16-31"),
                      key, q);
}

char *
vk_str_printable (const char *s)
{
  GString *out = g_string_new (NULL);
  const char *p = s ? s : "";
  const char *end = p + strlen (p);

  while (p < end)
    {
      guchar c = (guchar) *p;
      /* terminal control (ESC, CSI, BEL, ...) is shown, not obeyed */
      if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else if (c < 0x80)
        g_string_append_c (out, (char) c);
      else
        {
          /* Bytes that are not UTF-8 (libxml2 and GKeyFile quote the
           * input's own) would make the text unusable for --json and the
           * journal; C1 controls (U+0080-U+009F) are controls too. */
          gunichar u = g_utf8_get_char_validated (p, end - p);
          const char *next = u < (gunichar) -2 ? g_utf8_next_char (p) : p + 1;

          if (u < (gunichar) -2 && u >= 0xa0)
            g_string_append_len (out, p, next - p);
          else
            for (const char *q = p; q < next; q++)
              g_string_append_printf (out, "\\x%02x", (guchar) *q);
          p = next;
          continue;
        }
      p++;
    }
  return g_string_free (out, FALSE);
}
