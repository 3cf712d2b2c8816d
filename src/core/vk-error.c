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
