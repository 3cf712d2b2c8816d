/* Fuzz harness: the validators of src/core/validate.h (and tar.h's member
 * name check, trust.h's path checks), which stand between untrusted names,
 * MACs, PCI addresses, sizes and paths and the domain XML, sysfs paths and
 * file names built from them.
 *
 * The input is split at NUL and newline bytes and every piece goes
 * through every validator. What a validator accepts must be what its
 * documentation promises (checked here independently of validate.c), and
 * whatever it normalises to must be accepted again unchanged. */
#include "config.h"

#include "fuzz-common.h"
#include "tar.h"
#include "trust.h"
#include "validate.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  return 0;
}

static gboolean
all_chars (const char *s, const char *extra)
{
  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && strchr (extra, *p) == NULL)
      return FALSE;
  return TRUE;
}

/* Runs one validator: on success no error, on failure a proper one. */
#define VK_FUZZ_RUN(ok, error, what)                      \
  G_STMT_START                                            \
  {                                                       \
    if (ok)                                               \
      vk_fuzz_check ((error) == NULL, "%s: success with an error set", what); \
    else                                                  \
      vk_fuzz_check_error ((error), what);                \
    g_clear_error (&(error));                             \
  }                                                       \
  G_STMT_END

static void
check_piece (const char *s)
{
  GError *error = NULL;
  gsize len = strlen (s);
  gboolean ok;
  guint8 mac[6];
  VkBdf bdf;
  guint64 n = 0;
  guint first = 0, last = 0;

  ok = vk_validate_name ("name", s, &error);
  VK_FUZZ_RUN (ok, error, "vk_validate_name");
  if (ok)
    vk_fuzz_check (len >= 1 && len <= VK_NAME_MAX && all_chars (s, "._+-") &&
                   g_ascii_isalnum (s[0]), "name accepted");

  ok = vk_mac_parse (s, mac, &error);
  VK_FUZZ_RUN (ok, error, "vk_mac_parse");
  if (ok)
    {
      g_autofree char *norm = vk_mac_format (mac);
      g_autofree char *again = vk_mac_normalize (norm, &error);

      vk_fuzz_check ((mac[0] & 1) == 0, "multicast MAC accepted");
      vk_fuzz_check (again != NULL && g_str_equal (norm, again), "MAC normal form");
      vk_fuzz_check (g_ascii_strcasecmp (norm, s) == 0 || strchr (s, '-') != NULL,
                     "MAC '%s' read as %s", s, norm);
    }

  ok = vk_bdf_parse (s, &bdf, &error);
  VK_FUZZ_RUN (ok, error, "vk_bdf_parse");
  if (ok)
    {
      g_autofree char *norm = vk_bdf_format (&bdf);
      VkBdf again;

      vk_fuzz_check (bdf.domain <= 0xffff && bdf.bus <= 0xff && bdf.slot <= 0x1f &&
                     bdf.function <= 7, "BDF out of range");
      vk_fuzz_check (vk_bdf_parse (norm, &again, NULL) &&
                     memcmp (&bdf, &again, sizeof bdf) == 0, "BDF normal form %s", norm);
      vk_fuzz_check (strstr (s, "..") == NULL && strchr (s, ' ') == NULL, "BDF '%s'", s);
    }

  ok = vk_validate_fs_tag (s, &error);
  VK_FUZZ_RUN (ok, error, "vk_validate_fs_tag");
  if (ok)
    vk_fuzz_check (len >= 1 && len <= VK_FS_TAG_MAX && all_chars (s, "._-") &&
                   g_ascii_isalnum (s[0]), "tag accepted");

  ok = vk_validate_ifname ("interface", s, &error);
  VK_FUZZ_RUN (ok, error, "vk_validate_ifname");
  if (ok)
    vk_fuzz_check (len >= 1 && len <= VK_TAP_NAME_MAX && all_chars (s, "._-") &&
                   !g_str_equal (s, ".") && !g_str_equal (s, ".."), "ifname accepted");

  ok = vk_parse_size_mib ("--memory", s, &n, &error);
  VK_FUZZ_RUN (ok, error, "vk_parse_size_mib");
  if (ok)
    vk_fuzz_check (n >= 1 && n <= G_GUINT64_CONSTANT (1024) * 1024 * 1024, "size %"
                   G_GUINT64_FORMAT, n);

  ok = vk_parse_uint ("--queues", s, 1, 256, &n, &error);
  VK_FUZZ_RUN (ok, error, "vk_parse_uint");
  if (ok)
    vk_fuzz_check (n >= 1 && n <= 256, "uint %" G_GUINT64_FORMAT, n);
  ok = vk_parse_uint ("jobs", s, 0, G_MAXUINT64, &n, &error);
  VK_FUZZ_RUN (ok, error, "vk_parse_uint");

  ok = vk_parse_slot_range ("nic-slots", s, &first, &last, &error);
  VK_FUZZ_RUN (ok, error, "vk_parse_slot_range");
  if (ok)
    vk_fuzz_check (first >= 1 && first <= last && last <= 0x1f, "range %u-%u", first, last);

  ok = vk_parse_controller_index (s, &first, &error);
  VK_FUZZ_RUN (ok, error, "vk_parse_controller_index");
  if (ok)
    vk_fuzz_check (first <= G_MAXINT, "controller index %u", first);

  {
    static const char *const attrs[] = { "domain", "bus", "slot", "function" };
    static const guint max[] = { 0xffff, 0xff, 0x1f, 7 };

    for (gsize i = 0; i < G_N_ELEMENTS (attrs); i++)
      {
        ok = vk_parse_pci_address_attr (attrs[i], s, &first, &error);
        VK_FUZZ_RUN (ok, error, "vk_parse_pci_address_attr");
        if (ok)
          vk_fuzz_check (first <= max[i], "%s %u", attrs[i], first);
      }
  }

  {
    g_autofree char *shown = vk_str_printable (s);

    vk_fuzz_check (g_utf8_validate (shown, -1, NULL), "vk_str_printable: not UTF-8");
    for (const char *p = shown; *p != '\0'; p = g_utf8_next_char (p))
      {
        gunichar c = g_utf8_get_char (p);
        vk_fuzz_check ((c >= 0x20 && c != 0x7f && (c < 0x80 || c >= 0xa0)) || c == '\n' ||
                       c == '\t', "vk_str_printable left U+%04X", c);
      }
    if (g_utf8_validate (s, -1, NULL) && strpbrk (s, "\x01\x02\x03\x04\x05\x06\x07\x08\x0b"
                                                  "\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14"
                                                  "\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d"
                                                  "\x1e\x1f\x7f\xc2") == NULL)
      vk_fuzz_check (g_str_equal (shown, s), "vk_str_printable changed printable text");
  }

  if (vk_path_is_plain (s))
    {
      vk_fuzz_check (s[0] == '/' && strstr (s, "/../") == NULL && strstr (s, "/./") == NULL &&
                     !g_str_has_suffix (s, "/..") && !g_str_has_suffix (s, "/.") &&
                     strstr (s, "//") == NULL, "plain path '%s'", s);
      vk_fuzz_check (vk_path_is_below (s, "/") && vk_path_is_below (s, s), "'%s' below", s);
    }

  if (vk_tar_name_is_safe (s))
    {
      g_auto(GStrv) parts = g_strsplit (s, "/", -1);

      vk_fuzz_check (s[0] != '/' && strchr (s, '\\') == NULL, "tar name '%s'", s);
      for (gsize i = 0; parts[i] != NULL; i++)
        vk_fuzz_check (parts[i][0] != '\0' && !g_str_equal (parts[i], "..") &&
                       !g_str_equal (parts[i], "."), "tar name component");
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *copy = g_malloc (size + 1);
  g_autoptr(GPtrArray) pieces = g_ptr_array_new ();
  g_autofree char *mac = NULL;
  char *p = copy;
  const char *end = copy + size;

  memcpy (copy, data, size);
  copy[size] = '\0';
  while (p <= end)
    {
      char *q = p;

      while (q < end && *q != '\0' && *q != '\n')
        q++;
      *q = '\0';
      check_piece (p);
      if (pieces->len > 0 && vk_path_is_below (p, pieces->pdata[pieces->len - 1]))
        {
          const char *dir = pieces->pdata[pieces->len - 1];
          gsize n = strlen (dir);

          while (n > 1 && dir[n - 1] == '/')
            n--;
          vk_fuzz_check (n == 1 || (strncmp (p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/')),
                         "'%s' is not below '%s'", p, dir);
        }
      g_ptr_array_add (pieces, p);
      p = q + 1;
    }

  /* The pieces as MACs to avoid: the generated one must be none of them. */
  g_ptr_array_add (pieces, NULL);
  mac = vk_mac_generate ((const char *const *) pieces->pdata);
  vk_fuzz_check (mac != NULL && vk_mac_parse (mac, (guint8[6]) { 0 }, NULL), "generated MAC");
  for (guint i = 0; pieces->pdata[i] != NULL; i++)
    vk_fuzz_check (g_ascii_strcasecmp (mac, pieces->pdata[i]) != 0, "avoided MAC generated");
  return 0;
}
