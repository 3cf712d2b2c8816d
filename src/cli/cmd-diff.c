/* vmkeep diff A B — how two domains or images differ, split into identity
 * differences (what the guest would see change: a clone or wake between the
 * two would break the invariant) and allowed host-side differences (name,
 * UUID, disk paths, TAP, NIC host side, log/NVRAM/TPM paths), each with the
 * rule that allows it. Exit 5 when there is an identity difference, so a
 * script can gate on it. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "ops-image.h"
#include "commands.h"
#include "domain-xml.h"
#include "identity.h"
#include "output.h"
#include "sidecar.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

#define IMAGE_PREFIX "image:"

typedef struct {
  const char *spec;     /* as given */
  const char *kind;     /* "domain" or "image" */
  char *name;           /* the domain's name (for an image: of the saved domain) */
  char *state;          /* domain state label, NULL for images */
  gboolean live;        /* live XML (running domain, or saved from a running one) */
  xmlDocPtr doc;
} Side;

static void
side_clear (Side *s)
{
  g_free (s->name);
  g_free (s->state);
  if (s->doc)
    xmlFreeDoc (s->doc);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Side, side_clear)

/* Compare like with like: a domain's migratable XML is what libvirt puts in
 * a save image, and an image's sidecar records exactly that XML. */
static gboolean
load_side (VkCli *cli, const char *spec, Side *s, GError **error)
{
  s->spec = spec;
  if (g_str_has_prefix (spec, IMAGE_PREFIX))
    {
      const char *image = spec + strlen (IMAGE_PREFIX);
      g_autofree char *dir = NULL;
      g_autoptr(VkSidecar) sc = vk_ops_image_load (cli->ops, image, &dir, error);
      if (sc == NULL)
        return FALSE;
      g_autofree char *where = g_build_filename (dir, VK_STORE_SIDECAR, NULL);
      s->kind = "image";
      s->name = g_strdup (sc->domain_name);
      s->live = TRUE;
      s->doc = vk_xml_parse (sc->domain_xml, -1, where, error);
      return s->doc != NULL;
    }
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (conn, spec);
  if (dom == NULL)
    {
      g_autofree char *idir = vk_store_image_dir (cli->cfg->store_dir, spec);
      /* this host's store says nothing about another host's images */
      gboolean is_image = cli->here && vk_validate_name ("image name", spec, NULL) &&
                          g_file_test (idir, G_FILE_TEST_IS_DIR);
      g_autofree char *shown = g_strescape (spec, NULL);
      if (is_image)
        g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                     _("no domain '%s'; there is an image of that name: write "
                       "'image:%s' to compare the image"), spec, spec);
      else
        g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                     _("no domain '%s' (images are written 'image:NAME'); 'vmkeep list --all' "
                       "and 'vmkeep image list' show what can be compared"), shown);
      return FALSE;
    }
  const char *label = NULL;
  VkDomainState st = vk_domain_state (dom, &label);
  g_autofree char *xml = vk_domain_xml_migratable (dom, error);
  if (xml == NULL)
    return FALSE;
  s->kind = "domain";
  s->name = g_strdup (vk_domain_get_name (dom));
  s->state = g_strdup (label ? label : "");
  s->live = st == VK_STATE_RUNNING || st == VK_STATE_PAUSED;
  s->doc = vk_xml_parse (xml, -1, spec, error);
  return s->doc != NULL;
}

static void
json_side (JsonBuilder *b, const char *key, const Side *s)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_object (b);
  vk_json_str (b, "spec", s->spec);
  vk_json_str (b, "kind", s->kind);
  vk_json_str (b, "domain", s->name);
  vk_json_str (b, "state", s->state);
  json_builder_end_object (b);
}

static void
json_difference (JsonBuilder *b, gconstpointer item, gpointer data)
{
  const VkXmlDifference *d = item;
  vk_json_str (b, "path", d->path);
  vk_json_str (b, "before", d->before);
  vk_json_str (b, "after", d->after);
  if (d->rule)
    vk_json_str (b, "rule", d->rule);
  vk_json_str (b, "text", d->text);
}

static char *
describe (const Side *s)
{
  if (g_str_equal (s->kind, "image"))
    return g_strdup_printf (_("%s (image of domain %s)"), s->spec, s->name);
  return g_strdup_printf (_("%s (domain, %s)"), s->spec, s->state);
}

gboolean
vk_cmd_diff (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("diff", &argc, &argv, 2, 2,
                     _("two domains or images (image:NAME)"), error))
    return FALSE;
  g_auto(Side) a = { 0 };
  g_auto(Side) b = { 0 };
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) ident = NULL;
  if (!load_side (cli, argv[1], &a, error) || !load_side (cli, argv[2], &b, error) ||
      !vk_domain_xml_diff (a.doc, b.doc, &allowed, &ident, error))
    return FALSE;
  if (a.live != b.live && !cli->quiet)
    g_printerr (_("vmkeep: note: %s is %s and %s is %s; libvirt expands some settings when a "
                  "domain starts (e.g. a host-model CPU), and those show up as identity "
                  "differences\n"),
                a.spec, a.live ? _("live") : _("not running"), b.spec,
                b.live ? _("live") : _("not running"));

  if (cli->json)
    {
      g_autoptr(JsonBuilder) jb = vk_json_object_new ();
      json_side (jb, "a", &a);
      json_side (jb, "b", &b);
      vk_json_bool (jb, "identity_equal", ident->len == 0);
      vk_json_objects (jb, "identity", ident, json_difference, NULL);
      vk_json_objects (jb, "allowed", allowed, json_difference, NULL);
      vk_json_object_print (jb);
    }
  else
    {
      g_autofree char *da = describe (&a);
      g_autofree char *db = describe (&b);
      printf (_("A: %s\nB: %s\n"), da, db);
      if (ident->len == 0 && allowed->len == 0)
        printf (_("\nNo differences.\n"));
      printf ("\n");
      if (ident->len > 0)
        {
          printf (g_dngettext (GETTEXT_PACKAGE, "Identity differences (%u): the guest would "
                               "see this change\n",
                               "Identity differences (%u): the guest would see these change\n",
                               ident->len), ident->len);
          for (guint i = 0; i < ident->len; i++)
            printf ("  %s\n", ((VkXmlDifference *) ident->pdata[i])->text);
        }
      else if (allowed->len > 0)
        printf (_("Identity differences: none\n"));
      if (allowed->len > 0)
        {
          if (ident->len > 0)
            printf ("\n");
          printf (g_dngettext (GETTEXT_PACKAGE, "Allowed host-side differences (%u):\n",
                               "Allowed host-side differences (%u):\n", allowed->len),
                  allowed->len);
          int width = 0;
          for (guint i = 0; i < allowed->len; i++)
            width = MAX (width, (int) g_utf8_strlen (_(((VkXmlDifference *) allowed->pdata[i])->rule),
                                                     -1));
          /* rule names are N_() in identity.c: translated here, English in JSON */
          for (guint i = 0; i < allowed->len; i++)
            {
              VkXmlDifference *d = allowed->pdata[i];
              const char *rule = _(d->rule);
              printf ("  %s%*s  %s\n", rule, width - (int) g_utf8_strlen (rule, -1), "", d->text);
            }
        }
    }
  guint n = ident->len;
  if (n > 0 && cli->json)
    g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                 g_dngettext (GETTEXT_PACKAGE,
                              "%s and %s differ in %u identity field (\"identity\" in the "
                              "JSON): a clone or wake between them would change what the "
                              "guest sees",
                              "%s and %s differ in %u identity fields (\"identity\" in the "
                              "JSON): a clone or wake between them would change what the "
                              "guest sees", n),
                 a.spec, b.spec, n);
  else if (n > 0)
    g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                 g_dngettext (GETTEXT_PACKAGE,
                              "%s and %s differ in %u identity field (listed above): a clone "
                              "or wake between them would change what the guest sees",
                              "%s and %s differ in %u identity fields (listed above): a clone "
                              "or wake between them would change what the guest sees", n),
                 a.spec, b.spec, n);
  return n == 0;
}
