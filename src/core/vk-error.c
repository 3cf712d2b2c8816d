#include "config.h"

#include "vk-error.h"

G_DEFINE_QUARK (vmkeep-error-quark, vk_error)

int
vk_error_exit_code (const GError *error)
{
  if (error == NULL)
    return 0;
  if (error->domain == VK_ERROR && error->code >= VK_ERROR_FAILED &&
      error->code <= VK_ERROR_REFUSED)
    return error->code;
  return VK_ERROR_FAILED;
}

gboolean
vk_fail (GError **error, VkErrorCode code, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_propagate_error (error, g_error_new_valist (VK_ERROR, code, fmt, ap));
  va_end (ap);
  return FALSE;
}

gboolean
vk_refuse (GError **error, const char *source, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED, "%s: %s", source, msg);
  return FALSE;
}
