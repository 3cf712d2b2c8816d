/* vmkeep — where the libvirt daemon behind a connection URI runs. See uri.h. */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n.h>
#include <libxml/uri.h>

#include "uri.h"
#include "validate.h"
#include "vk-error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlURI, xmlFreeURI)

/* The server without IPv6 brackets, for messages and "ssh HOST". */
static char *
bare_host (const char *server, gboolean *bracketed)
{
  gsize len = strlen (server);
  gboolean b = len >= 2 && server[0] == '[' && server[len - 1] == ']';

  if (bracketed)
    *bracketed = b;
  return b ? g_strndup (server + 1, len - 2) : g_strdup (server);
}

/* "localhost" or a loopback address literal. */
static gboolean
is_loopback_name (const char *server)
{
  gboolean bracketed;
  g_autofree char *bare = bare_host (server, &bracketed);

  if (g_ascii_strcasecmp (server, "localhost") == 0)
    return TRUE;
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string (bare);
  /* a URI writes an IPv6 address in brackets, an IPv4 one without */
  if (addr == NULL ||
      bracketed != (g_inet_address_get_family (addr) == G_SOCKET_FAMILY_IPV6))
    return FALSE;
  return g_inet_address_get_is_loopback (addr);
}

gboolean
vk_uri_place (const char *uri, VkUriPlace *place, char **host_out, GError **error)
{
  if (host_out)
    *host_out = NULL;
  if (uri == NULL || uri[0] == '\0')
    return vk_fail (error, VK_ERROR_USAGE,
                    _("an empty libvirt URI does not say which host libvirt runs on"));
  g_autofree char *shown = vk_str_quote (uri);
  g_autoptr(xmlURI) u = xmlParseURI (uri);
  if (u == NULL)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s is not a valid URI (libvirt cannot parse it either), so it does "
                      "not say which host libvirt runs on"), shown);
  if (u->scheme == NULL || u->scheme[0] == '\0')
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s is not a URI (it has no scheme such as qemu:// or "
                      "qemu+ssh://HOST/); a libvirt URI alias does not say which host "
                      "libvirt runs on"), shown);

  const char *plus = strchr (u->scheme, '+');
  const char *transport = plus ? plus + 1 : NULL;
  gboolean has_server = u->server != NULL && u->server[0] != '\0';

  if (transport && g_ascii_strcasecmp (transport, "ext") == 0)
    *place = VK_URI_OTHER_HOST;
  else if (!has_server || (transport && g_ascii_strcasecmp (transport, "unix") == 0))
    *place = VK_URI_THIS_HOST;
  else
    *place = is_loopback_name (u->server) ? VK_URI_THIS_HOST : VK_URI_OTHER_HOST;
  if (host_out && has_server)
    *host_out = bare_host (u->server, NULL);
  return TRUE;
}

gboolean
vk_uri_is_this_host (const char *uri)
{
  VkUriPlace place;

  return vk_uri_place (uri, &place, NULL, NULL) && place == VK_URI_THIS_HOST;
}
