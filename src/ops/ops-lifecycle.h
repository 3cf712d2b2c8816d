/* vmkeep — starting, stopping and undefining a domain, each under the
 * domain's lock (a second vmkeep busy with it: VK_ERROR_BUSY at once).
 * See ops.h for the layer's rules. */
#pragma once

#include <glib.h>

#include "ops.h"

G_BEGIN_DECLS

/* Start domain `name` (paused with `paused`); `*already` is set when it
 * was running, and then nothing is done. */
gboolean vk_ops_start (VkOps *ops, const char *name, gboolean paused, gboolean *already,
                       GError **error);
/* Shut `name` down, waiting `timeout` s; with `force` it is forced off
 * when the timeout passes. */
gboolean vk_ops_stop (VkOps *ops, const char *name, guint timeout, gboolean force,
                      GError **error);
/* Undefine `name` (removing its NVRAM file unless `keep_nvram`); a
 * running domain is refused unless `force`, which forces it off first. */
gboolean vk_ops_undefine (VkOps *ops, const char *name, gboolean force, gboolean keep_nvram,
                          GError **error);

G_END_DECLS
