/* Unit tests for src/core/uri.c: where libvirt behind a URI runs. One
 * test case per table row, so a failure names the exact input. */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "uri.h"
#include "vk-error.h"

enum { HERE, ELSEWHERE, NOT_A_URI };

typedef struct {
  const char *input;
  int want;
  const char *host;    /* the server vk_uri_place reports (NULL: none) */
} UriCase;

static const UriCase cases[] = {
  /* no server part: this host */
  { "qemu:///system", HERE, NULL },
  { "qemu:///session", HERE, NULL },
  { "test:///default", HERE, NULL },
  { "qemu:///system?socket=/run/libvirt/virtqemud-sock", HERE, NULL },
  { "qemu+unix:///system", HERE, NULL },
  { "qemu+unix:///system?socket=/tmp/sock", HERE, NULL },
  { "qemu+ssh:///system", HERE, NULL },
  { "qemu+ssh://root@/system", HERE, NULL },
  { "qemu+tcp://:16509/system", HERE, NULL },
  { "qemu+tls:///system", HERE, NULL },
  { "lxc:///", HERE, NULL },
  { "qemu:system", HERE, NULL },
  { "QEMU:///system", HERE, NULL },
  /* transport unix: a socket of this host whatever the server */
  { "qemu+unix://node7/system", HERE, "node7" },
  { "qemu+UNIX://node7/system", HERE, "node7" },
  /* localhost and loopback addresses, with or without user and port */
  { "qemu+tcp://localhost/system", HERE, "localhost" },
  { "qemu+tcp://LocalHost/system", HERE, "LocalHost" },
  { "qemu+ssh://LOCALHOST:22/system", HERE, "LOCALHOST" },
  { "qemu+ssh://root@localhost/system", HERE, "localhost" },
  { "qemu+ssh://root@localhost:2222/system?keyfile=/root/.ssh/id", HERE, "localhost" },
  { "qemu+tcp://127.0.0.1/system", HERE, "127.0.0.1" },
  { "qemu+tcp://127.0.0.1:16509/system", HERE, "127.0.0.1" },
  { "qemu+tls://127.1.2.3/system", HERE, "127.1.2.3" },
  { "qemu+ssh://[::1]/system", HERE, "::1" },
  { "qemu+ssh://user@[::1]:22/system", HERE, "::1" },
  { "qemu+tcp://[0:0:0:0:0:0:0:1]/system", HERE, "0:0:0:0:0:0:0:1" },
  { "qemu+ssh://%6cocalhost/system", HERE, "localhost" },
  { "qemu://localhost/system", HERE, "localhost" },
  /* another host */
  { "qemu+ssh://node7/system", ELSEWHERE, "node7" },
  { "qemu+ssh://node7.invalid/system", ELSEWHERE, "node7.invalid" },
  { "qemu+ssh://root@node7:2222/system", ELSEWHERE, "node7" },
  { "qemu+ssh://user:secret@node7/system", ELSEWHERE, "node7" },
  { "qemu+tcp://node7/system", ELSEWHERE, "node7" },
  { "qemu+tcp://10.0.0.7:16509/system", ELSEWHERE, "10.0.0.7" },
  { "qemu+tls://node7.example.org/system", ELSEWHERE, "node7.example.org" },
  { "qemu+libssh2://root@node7/system?known_hosts=/root/.ssh/known_hosts", ELSEWHERE, "node7" },
  { "qemu+libssh://node7/system", ELSEWHERE, "node7" },
  { "qemu://node7/system", ELSEWHERE, "node7" },
  { "test://node7/default", ELSEWHERE, "node7" },
  { "qemu+ssh://node7", ELSEWHERE, "node7" },
  { "qemu+ssh://node7/system#fragment", ELSEWHERE, "node7" },
  { "qemu+ssh://[2001:db8::7]/system", ELSEWHERE, "2001:db8::7" },
  { "qemu+ssh://[fe80::1%25eth0]/system", ELSEWHERE, "fe80::1%eth0" },
  { "qemu+ssh://[::ffff:127.0.0.1]/system", ELSEWHERE, "::ffff:127.0.0.1" },
  /* names that only a lookup would place here: another host */
  { "qemu+ssh://localhost.localdomain/system", ELSEWHERE, "localhost.localdomain" },
  { "qemu+ssh://localhost./system", ELSEWHERE, "localhost." },
  { "qemu+ssh://127.1/system", ELSEWHERE, "127.1" },
  { "qemu+ssh://localhost6/system", ELSEWHERE, "localhost6" },
  { "qemu+ssh://0.0.0.0/system", ELSEWHERE, "0.0.0.0" },
  /* ext runs a command of the URI's choosing: may be anywhere */
  { "qemu+ext:///system?command=/usr/local/bin/tunnel", ELSEWHERE, NULL },
  { "qemu+ext://localhost/system?command=/bin/true", ELSEWHERE, "localhost" },
  /* not a URI: nothing says where libvirt runs */
  { NULL, NOT_A_URI, NULL },
  { "", NOT_A_URI, NULL },
  { "node7", NOT_A_URI, NULL },
  { "//node7/system", NOT_A_URI, NULL },
  { "/system", NOT_A_URI, NULL },
  { "qemu+ssh://[::1/system", NOT_A_URI, NULL },
  { "qemu+ssh://node 7/system", NOT_A_URI, NULL },
  { "qemu+ssh://node7:port/system", NOT_A_URI, NULL },
  { "qemu+ssh://no\\de/system", NOT_A_URI, NULL },
  { " qemu:///system", NOT_A_URI, NULL },
  { "1qemu:///system", NOT_A_URI, NULL },
  { "::", NOT_A_URI, NULL },
  { "qemu+ssh://node7/sys\ntem", NOT_A_URI, NULL },
};

static char *
test_path (guint i, const char *input)
{
  g_autoptr(GString) s = g_string_new (NULL);

  g_string_append_printf (s, "/uri/place/%02u-", i);
  if (input == NULL)
    g_string_append (s, "NULL");
  else if (input[0] == '\0')
    g_string_append (s, "empty");
  else
    for (const char *p = input; *p != '\0' && p - input < 50; p++)
      g_string_append_c (s, g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == ':' ||
                             *p == '+' ? *p : '_');
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
test_place (gconstpointer data)
{
  const UriCase *c = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *host = g_strdup ("unset");
  VkUriPlace place = (VkUriPlace) -1;
  gboolean ok = vk_uri_place (c->input, &place, &host, &error);

  if (c->want == NOT_A_URI)
    {
      g_assert_false (ok);
      g_assert_error (error, VK_ERROR, VK_ERROR_USAGE);
      g_test_message ("message: %s", error->message);
      g_assert_null (host);
      /* the message says what the trouble is */
      g_assert_nonnull (strstr (error->message, "host libvirt runs on"));
      /* and names a non-empty input (quoted, escaped) */
      if (c->input != NULL && c->input[0] != '\0')
        {
          g_autofree char *escaped = g_strescape (c->input, NULL);
          g_assert_nonnull (strstr (error->message, escaped));
        }
      g_assert_false (vk_uri_is_this_host (c->input));
      return;
    }
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpint (place, ==, c->want == HERE ? VK_URI_THIS_HOST : VK_URI_OTHER_HOST);
  g_assert_cmpstr (host, ==, c->host);
  g_assert_true (vk_uri_is_this_host (c->input) == (c->want == HERE));
}

/* The host is optional, and a failure leaves it NULL. */
static void
test_no_host_out (void)
{
  VkUriPlace place;

  g_assert_true (vk_uri_place ("qemu+ssh://node7/system", &place, NULL, NULL));
  g_assert_cmpint (place, ==, VK_URI_OTHER_HOST);
  g_assert_false (vk_uri_place ("node7", &place, NULL, NULL));
}

/* A control character in a refused input is shown escaped. */
static void
test_escaped (void)
{
  g_autoptr(GError) error = NULL;
  VkUriPlace place;

  g_assert_false (vk_uri_place ("qemu+ssh://node7/sys\ntem", &place, NULL, &error));
  g_assert_null (strchr (error->message, '\n'));
  g_assert_nonnull (strstr (error->message, "sys\\ntem"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = test_path (i, cases[i].input);
      g_test_add_data_func (path, &cases[i], test_place);
    }
  g_test_add_func ("/uri/place/no-host-out", test_no_host_out);
  g_test_add_func ("/uri/place/escaped", test_escaped);
  return g_test_run ();
}
