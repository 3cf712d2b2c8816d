/* vmkeep — validation and normalisation of user-supplied identifiers.
 *
 * Every function here is pure (no I/O except where noted) and reports a
 * VK_ERROR_USAGE GError whose message names the offending input, says what
 * is wrong with it and what a valid value looks like. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Longest domain/image name vmkeep accepts. */
#define VK_NAME_MAX 64
/* Linux IFNAMSIZ - 1. */
#define VK_TAP_NAME_MAX 15
/* virtiofs tag limit (struct virtio_fs_config.tag is 36 bytes). */
#define VK_FS_TAG_MAX 36

/* Domain, image and clone names: 1..VK_NAME_MAX characters from
 * [A-Za-z0-9._+-], starting with a letter or digit; never "." or "..".
 * `what` names the thing in messages ("domain name", "image name"). */
gboolean vk_validate_name (const char *what, const char *name, GError **error);

/* MAC addresses. Accepts "aa:bb:cc:dd:ee:ff" (any case; '-' separators are
 * accepted too). Refuses multicast/broadcast (I/G bit set) and all-zero. */
gboolean vk_mac_parse (const char *text, guint8 out[6], GError **error);
/* Lower-case colon form "52:54:00:12:34:56". */
char *vk_mac_format (const guint8 mac[6]);
/* Parse + format; returns NULL and sets error when invalid. */
char *vk_mac_normalize (const char *text, GError **error);
/* A random locally-administered-by-QEMU MAC: 52:54:00:xx:xx:xx, never
 * equal to one of `avoid` (NULL-terminated, normalised forms; may be NULL). */
char *vk_mac_generate (const char *const *avoid);

/* A host PCI address. */
typedef struct {
  guint domain;   /* 0..0xffff */
  guint bus;      /* 0..0xff */
  guint slot;     /* 0..0x1f */
  guint function; /* 0..7 */
} VkBdf;

/* Accepts exactly these forms, nothing else:
 *   "BB:SS.F"                              (domain 0000 implied)
 *   "DDDD:BB:SS.F"
 *   "/sys/bus/pci/devices/DDDD:BB:SS.F"    (optionally one trailing '/')
 * Hex digits in either case, fixed widths (2, 4, 2, 2, 1 digits), slot <=
 * 0x1f, function <= 7. Refuses any other path, "..", whitespace, trailing
 * junk, wrong lengths, out-of-range numbers. */
gboolean vk_bdf_parse (const char *text, VkBdf *out, GError **error);
/* "0000:01:00.0" */
char *vk_bdf_format (const VkBdf *bdf);

/* virtiofs tag: 1..VK_FS_TAG_MAX bytes of [A-Za-z0-9._-], starting with a
 * letter or digit. */
gboolean vk_validate_fs_tag (const char *tag, GError **error);

/* TAP / host interface names: 1..VK_TAP_NAME_MAX chars of [A-Za-z0-9._-],
 * not "." or "..", no '/', no whitespace. */
gboolean vk_validate_ifname (const char *what, const char *name, GError **error);

/* Memory sizes: "512" (MiB), "512M", "512MiB", "2G", "2GiB", "1T", "1TiB"
 * (case-insensitive suffix). Result in MiB; must be >= 1 and fit in 1 TiB
 * * 1024 (no overflow). `what` names the option in messages. */
gboolean vk_parse_size_mib (const char *what, const char *text,
                            guint64 *mib, GError **error);

/* Unsigned integer in decimal or 0x-hex, within [min, max]. */
gboolean vk_parse_uint (const char *what, const char *text, guint64 min,
                        guint64 max, guint64 *out, GError **error);

/* A <controller index='N'> as libvirt reads it: decimal (a leading 0 is
 * not octal, 0x is refused), 0..G_MAXINT. */
gboolean vk_parse_controller_index (const char *text, guint *out,
                                    GError **error);

/* One attribute of a PCI <address> in domain XML ("domain", "bus", "slot"
 * or "function"; any other is a programming error) as libvirt reads it:
 * strtoul in base 0, so 0x hex, decimal, and octal with a leading 0; no
 * '-' and nothing after the number (leading blanks and '+' pass, as they do
 * for libvirt); at most 0xffff, 0xff, 0x1f and 7. */
gboolean vk_parse_pci_address_attr (const char *attr, const char *text,
                                    guint *out, GError **error);

/* Slot ranges: "0x03-0x0f", "3-15". Both ends 1..0x1f, first <= last.
 * `key` is the config key or option named in messages. */
gboolean vk_parse_slot_range (const char *key, const char *text,
                              guint *first, guint *last, GError **error);

/* `s` with control characters (C0 other than newline and tab, DEL, C1)
 * and bytes that are not UTF-8 written as \xNN, so the result is UTF-8:
 * text from the command line or an image may reach a terminal, the
 * journal or a --json document. */
char *vk_str_printable (const char *s);
/* `text` for a message: quoted, escaped (never garbles a terminal), cut
 * after 80 characters; "(null)" for NULL. */
char *vk_str_quote (const char *text);

G_END_DECLS
