/* vmkeep — error domain shared by every layer.
 *
 * The error codes double as the process exit codes documented in vmkeep(1),
 * so a GError that travels up to main() decides the exit status by itself. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VK_ERROR (vk_error_quark ())

typedef enum {
  VK_ERROR_FAILED = 1,     /* operation failed */
  VK_ERROR_USAGE = 2,      /* bad command line or bad input value */
  VK_ERROR_BUSY = 3,       /* another vmkeep holds the VM's lock */
  VK_ERROR_NOT_FOUND = 4,  /* domain, image, device or file not found */
  VK_ERROR_REFUSED = 5,    /* refused by a safety check */
} VkErrorCode;

GQuark vk_error_quark (void);

/* Sets `error` (may be NULL) to a VK_ERROR of `code` with the printf-style
 * message and returns FALSE, for `return vk_fail (error, code, ...);`. */
gboolean vk_fail (GError **error, VkErrorCode code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* The same with VK_ERROR_REFUSED and the message "SOURCE: ...": input
 * from `source` (a file, a layout, a stream) was refused. */
gboolean vk_refuse (GError **error, const char *source, const char *fmt, ...)
  G_GNUC_PRINTF (3, 4);

/* Exit status for an error: its code when it is a VK_ERROR, else 1. */
int vk_error_exit_code (const GError *error);

G_END_DECLS
