#include "config.h"

#include <nettle/sha2.h>

#include "sha256.h"

struct _VkSha256 {
  struct sha256_ctx ctx;
};

VkSha256 *
vk_sha256_new (void)
{
  VkSha256 *s = g_new0 (VkSha256, 1);
  sha256_init (&s->ctx);
  return s;
}

void
vk_sha256_update (VkSha256 *s, const void *data, gsize len)
{
  const guint8 *p = data;
  /* nettle takes size_t; feed in bounded pieces anyway */
  while (len > 0)
    {
      gsize n = MIN (len, (gsize) 1 << 30);
      sha256_update (&s->ctx, n, p);
      p += n;
      len -= n;
    }
}

char *
vk_sha256_hex (VkSha256 *s)
{
  guint8 d[SHA256_DIGEST_SIZE];
  sha256_digest (&s->ctx, sizeof d, d);
  GString *out = g_string_sized_new (2 * sizeof d);
  for (gsize i = 0; i < sizeof d; i++)
    g_string_append_printf (out, "%02x", d[i]);
  return g_string_free (out, FALSE);
}

void
vk_sha256_free (VkSha256 *s)
{
  g_free (s);
}
