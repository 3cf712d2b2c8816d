/* vmkeep — where the libvirt daemon behind a connection URI runs. Pure:
 * the URI's text alone decides; no name is resolved, no libvirt asked.
 *
 * vmkeep's store, the disks it creates and reads, NVRAM, sysfs, virtiofs
 * source directories and bridges are files of the host vmkeep runs on.
 * They are the daemon's only when the daemon runs on this host too, so a
 * command that needs them asks here first (src/cli refuses a URI of
 * libvirt on another host; see vmkeep(1), REMOTE CONNECTIONS).
 *
 * The rule. The URI is parsed by libxml2's xmlParseURI, the parser libvirt
 * itself uses (virURIParse), so both read the same server out of it.
 * libvirt is on this host when the URI
 *   - has no server part (qemu:///system, test:///default,
 *     qemu+ssh:///system, qemu+tcp://:16509/system: libvirt then connects
 *     to this host), or
 *   - has the transport unix (qemu+unix://ANY/system: a UNIX socket is a
 *     file of this host whatever server the URI names), or
 *   - names the server "localhost" (any case) or a loopback address
 *     (127.0.0.0/8 or ::1, brackets around IPv6), with or without user
 *     and port.
 * It is on another host when the URI names any other server
 * (qemu+ssh://node7/system, qemu+tcp://10.0.0.7/system, qemu+tls://...,
 * qemu+libssh2://..., qemu://node7/system). This host's own name or one
 * of its other addresses counts as another host: telling them apart would
 * take a name lookup, and refusing is the safe answer.
 * The transport ext runs a command of the URI's choosing, which may reach
 * any host: it counts as another host, with or without a server.
 *
 * Not a URI: a string xmlParseURI (and so libvirt) cannot parse, and one
 * without a scheme (e.g. a libvirt URI alias, which libvirt.conf maps to a
 * URI vmkeep cannot see), are VK_ERROR_USAGE: they do not say where
 * libvirt runs. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VK_URI_THIS_HOST,   /* libvirt runs on the host vmkeep runs on */
  VK_URI_OTHER_HOST,  /* it runs on another host (or may: ext) */
} VkUriPlace;

/* Where libvirt behind `uri` runs. `*host_out` (may be NULL) gets the
 * server the URI names, without user, port or IPv6 brackets, or NULL when
 * it names none. FALSE with VK_ERROR_USAGE (naming the input) when `uri`
 * is NULL, empty, does not parse or has no scheme. */
gboolean vk_uri_place (const char *uri, VkUriPlace *place, char **host_out, GError **error);

/* vk_uri_place reduced to one answer: TRUE only for VK_URI_THIS_HOST;
 * a string that is not a URI is not known to be this host. */
gboolean vk_uri_is_this_host (const char *uri);

G_END_DECLS
