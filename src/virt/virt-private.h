/* vmkeep — shared internals of src/virt (includes libvirt). */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "virt.h"

struct _VkConn {
  virConnectPtr conn;
  char *uri;
};

struct _VkDomain {
  virDomainPtr dom;
  char *name;
};

/* Turn libvirt's last error into a GError prefixed with what we tried. */
gboolean vk_vir_fail (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* A string libvirt allocated (malloc) as one for g_free: a copy; `s` is
 * freed. NULL stays NULL. */
char *vk_vir_string (char *s);
