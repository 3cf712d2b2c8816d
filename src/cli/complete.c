/* vmkeep __complete: what the shell completion offers, from the command
 * table (names, static option tables, the `complete` positional spec).
 *
 *   vmkeep __complete -- WORD...     candidates for the last WORD (the one
 *                                    being typed; "" after a space), one
 *                                    per line, those starting with it;
 *   vmkeep __complete --commands     the command names;
 *   vmkeep __complete --options CMD  the options of command CMD.
 *
 * A candidate line "@files PREFIX" or "@dirs PREFIX" asks the shell to
 * complete file or directory names for the word without PREFIX (an
 * "--opt=" the word starts with) and "@nospace" to add no space after the
 * candidate. The completion script (data/vmkeep.bash-completion) only
 * splits the line and hands the answer to bash. Domain names, tags and a
 * domain's devices come from libvirt at the URI of a -c typed on the line
 * (else the configuration's), image names from the configured store and
 * bridges and host PCI devices from sysfs, those only when that URI is
 * libvirt on this host (src/core/uri.h); a failure offers nothing rather
 * than printing an error into the terminal. */
#include "config.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "commands.h"
#include "identity.h"
#include "store.h"
#include "uri.h"
#include "vk-error.h"

static const char *const global_options[] = {
  "-c", "--connect", "--json", "-q", "--quiet", "-h", "--help", "--version", NULL
};
static const char *const uris[] = {
  "qemu:///system", "qemu:///session", "test:///default", NULL
};

/* Values of options whose choices are fixed. */
static const struct {
  const char *option;
  const char *values;
} fixed_values[] = {
  { "--machine", "q35|pc" },
  { "--virt-type", "auto|kvm|qemu" },
  { "--firmware", "bios|uefi" },
  { "--boot", "uefi|bios|kernel=" },
  { "--model", "virtio|e1000e|e1000|rtl8139" },
};

typedef struct {
  VkCli *cli;
  const char *cur;       /* the word being completed */
  const char *prefix;    /* printed before each candidate ("--opt=") */
  const VkCommand *cmd;
  GPtrArray *posw;       /* positional words typed so far */
} Comp;

static void
offer (Comp *c, const char *word)
{
  g_autofree char *full = g_strconcat (c->prefix, word, NULL);
  if (g_str_has_prefix (full, c->cur))
    printf ("%s\n", full);
}

static void
offer_all (Comp *c, GPtrArray *words)
{
  for (guint i = 0; words && i < words->len; i++)
    offer (c, words->pdata[i]);
}

static void
offer_split (Comp *c, const char *list)
{
  g_auto(GStrv) w = g_strsplit (list, "|", -1);
  for (char **p = w; *p; p++)
    offer (c, *p);
}

static VkConn *
connect_quietly (Comp *c)
{
  g_autoptr(GError) local = NULL;
  return vk_cli_connect (c->cli, &local);
}

static GPtrArray *
domain_names (Comp *c)
{
  VkConn *conn = connect_quietly (c);
  g_autoptr(GPtrArray) infos = conn ? vk_conn_list_domains (conn, TRUE, NULL) : NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; infos && i < infos->len; i++)
    g_ptr_array_add (names, g_strdup (((VkDomainInfo *) infos->pdata[i])->name));
  return names;
}

/* The tags of the defined domains (of at most 50 domains: completion
 * must answer at once). */
static void
offer_tags (Comp *c)
{
  g_autoptr(GPtrArray) names = domain_names (c);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < names->len && i < 50; i++)
    {
      g_autoptr(VkDomain) dom = vk_domain_try_lookup (c->cli->conn, names->pdata[i]);
      g_autoptr(GPtrArray) tags = dom ? vk_ops_domain_tags (dom) : NULL;
      for (guint k = 0; tags && k < tags->len; k++)
        if (g_hash_table_add (seen, g_strdup (tags->pdata[k])))
          offer (c, tags->pdata[k]);
    }
}

/* Does the URI of the line (a -c typed, else the configuration's) reach
 * libvirt on this host? Only then are this host's store and sysfs its. */
static gboolean
uri_here (Comp *c)
{
  return c->cli->uri == NULL || vk_uri_is_this_host (c->cli->uri);
}

static void
offer_images (Comp *c, const char *with)
{
  if (!uri_here (c))
    return;
  g_autoptr(GPtrArray) images = vk_store_list_images (c->cli->cfg->store_dir, NULL);
  for (guint i = 0; images && i < images->len; i++)
    {
      g_autofree char *w = g_strconcat (with, images->pdata[i], NULL);
      offer (c, w);
    }
}

/* Entries of a sysfs directory (that have `inside`, when given). */
static void
offer_sysfs (Comp *c, const char *dir, const char *inside)
{
  if (!uri_here (c))
    return;
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = inside ? g_build_filename (dir, n, inside, NULL) : NULL;
      if (p == NULL || g_file_test (p, G_FILE_TEST_EXISTS))
        offer (c, n);
    }
}

/* NICs (MAC), virtiofs tags or host devices (BDF and ID) of the domain
 * named first on the line, live and persistent. */
static void
offer_devices (Comp *c, const char *kind)
{
  VkConn *conn = c->posw->len > 0 ? connect_quietly (c) : NULL;
  g_autoptr(VkDomain) dom = conn ? vk_domain_try_lookup (conn, c->posw->pdata[0]) : NULL;
  if (dom == NULL)
    return;
  g_autoptr(xmlDoc) live = vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF
                               ? vk_cli_domain_doc (dom, FALSE, NULL) : NULL;
  g_autoptr(xmlDoc) config = vk_domain_is_persistent (dom) ? vk_cli_domain_doc (dom, TRUE, NULL)
                                                          : NULL;
  if (g_str_equal (kind, "MAC"))
    {
      g_autoptr(VkIdentity) id = vk_identity_from_domain (live ? live : config, NULL);
      for (guint i = 0; id && i < id->nics->len; i++)
        {
          VkIdentityNic *n = id->nics->pdata[i];
          if (n->mac)
            offer (c, n->mac);
        }
      return;
    }
  g_autoptr(GPtrArray) rows = vk_attached_devices (live, config);
  gboolean fs = g_str_equal (kind, "FSTAG");
  for (guint i = 0; i < rows->len; i++)
    {
      VkAttachedDevice *r = rows->pdata[i];
      if (g_str_equal (r->kind, "filesystem") != fs)
        continue;
      offer (c, r->name);
      if (!fs && r->id)
        offer (c, r->id);
    }
}

/* Candidates for a positional argument or option value of kind `kind`
 * (see VkCommand.complete; a help placeholder for option values). */
static void
offer_kind (Comp *c, const char *kind)
{
  if (kind[0] == '=')
    offer_split (c, kind + 1);
  else if (strchr (kind, '|'))
    {
      g_auto(GStrv) alts = g_strsplit (kind, "|", -1);
      for (char **a = alts; *a; a++)
        if (g_str_equal (*a, "image:IMAGE"))
          offer_images (c, "image:");
        else
          offer_kind (c, *a);
    }
  else if (g_str_equal (kind, "DOMAIN") || g_str_equal (kind, "SOURCE"))
    {
      g_autoptr(GPtrArray) names = domain_names (c);
      offer_all (c, names);
      if (g_str_equal (kind, "SOURCE"))
        offer_images (c, "");
    }
  else if (g_str_equal (kind, "IMAGE") || g_str_equal (kind, "NAME"))
    offer_images (c, "");
  else if (g_str_equal (kind, "TAG"))
    offer_tags (c);
  else if (g_str_equal (kind, "FILE") || g_str_equal (kind, "PATH") ||
           g_str_equal (kind, "SOCKET"))
    printf ("@files %s\n", c->prefix);
  else if (g_str_equal (kind, "DIR"))
    printf ("@dirs %s\n", c->prefix);
  else if (g_str_equal (kind, "MAC") || g_str_equal (kind, "FSTAG") ||
           g_str_equal (kind, "HOSTDEV"))
    offer_devices (c, kind);
}

static const GOptionEntry *
find_option (const VkCommand *cmd, const char *word)
{
  for (const GOptionEntry *e = cmd->options; e && e->long_name; e++)
    if ((g_str_has_prefix (word, "--") && g_str_equal (word + 2, e->long_name)) ||
        (e->short_name && word[0] == '-' && word[1] == e->short_name && word[2] == '\0'))
      return e;
  return NULL;
}

static gboolean
takes_value (const GOptionEntry *e)
{
  return e && e->arg != G_OPTION_ARG_NONE;
}

/* The value of option `e`. */
static void
offer_value (Comp *c, const GOptionEntry *e)
{
  g_autofree char *name = g_strconcat ("--", e->long_name, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (fixed_values); i++)
    if (g_str_equal (name, fixed_values[i].option))
      {
        offer_split (c, fixed_values[i].values);
        if (g_str_equal (name, "--boot"))
          printf ("@nospace\n");
        return;
      }
  if (g_str_equal (name, "--image"))
    offer_images (c, "");
  else if (g_str_equal (name, "--tag") && !g_str_equal (c->cmd->name, "fs attach"))
    offer_tags (c);
  else if (g_str_equal (name, "--bridge"))
    offer_sysfs (c, "/sys/class/net", "bridge");
  else if (g_str_equal (name, "--pci"))
    offer_sysfs (c, "/sys/bus/pci/devices", NULL);
  else if (e->arg == G_OPTION_ARG_FILENAME || (e->arg_description &&
                                               g_str_equal (e->arg_description, "FILE")))
    offer_kind (c, e->arg_description && g_str_equal (e->arg_description, "DIR") ? "DIR"
                                                                                 : "FILE");
  else if (e->arg_description && g_str_equal (e->arg_description, "DIR"))
    offer_kind (c, "DIR");
  /* "tar|oci" are the words themselves; "FILE|DIR" are placeholders */
  else if (e->arg_description && strchr (e->arg_description, '|') &&
           !(e->flags & G_OPTION_FLAG_OPTIONAL_ARG) &&
           e->arg_description[strspn (e->arg_description, "abcdefghijklmnopqrstuvwxyz0123456789|-")] == '\0')
    offer_split (c, e->arg_description);
}

static void
offer_options (Comp *c)
{
  for (const GOptionEntry *e = c->cmd->options; e && e->long_name; e++)
    {
      g_autofree char *l = g_strconcat ("--", e->long_name, NULL);
      offer (c, l);
      if (e->short_name)
        {
          char s[3] = { '-', e->short_name, '\0' };
          offer (c, s);
        }
    }
}

/* The first words of the command names, and with `group` the second
 * words of that group. */
static void
offer_commands (Comp *c, const char *group, gboolean with_help)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (const VkCommand *k = vk_commands; k->name; k++)
    {
      if (k->summary == NULL)
        continue;   /* hidden */
      g_auto(GStrv) w = g_strsplit (k->name, " ", 2);
      const char *word = group ? (g_str_equal (w[0], group) ? w[1] : NULL) : w[0];
      if (word && g_hash_table_add (seen, g_strdup (word)))
        offer (c, word);
    }
  if (with_help)
    offer (c, "help");
}

static const VkCommand *
visible_command (const char *name)
{
  for (const VkCommand *k = vk_commands; k->name; k++)
    if (k->summary && g_str_equal (k->name, name))
      return k;
  return NULL;
}

/* The positional argument at `pos`, from the command's spec. */
static void
offer_positional (Comp *c, guint pos)
{
  g_auto(GStrv) spec = g_strsplit (c->cmd->complete ? c->cmd->complete : "", " ", -1);
  guint n = g_strv_length (spec);
  if (n == 0 || *spec[0] == '\0')
    return;
  guint idx = MIN (pos, n - 1);
  g_autofree char *kind = g_strdup (spec[idx]);
  if (kind[0] == '@')
    {
      /* an action's own argument: the action is the word typed where the
       * spec has its literal words */
      int lp = (int) idx - 1;
      while (lp >= 0 && spec[lp][0] != '=')
        lp--;
      if (lp < 0 || (guint) lp >= c->posw->len)
        return;
      g_autofree char *key = g_strdup_printf ("@%s=", (const char *) c->posw->pdata[lp]);
      const char *at = strstr (kind, key);
      if (at == NULL)
        return;
      g_autofree char *rest = g_strdup (at + strlen (key));
      char *end = strchr (rest, '@');
      if (end)
        *end = '\0';
      g_free (kind);
      kind = g_steal_pointer (&rest);
    }
  if (pos >= n && !g_str_has_suffix (kind, "..."))
    return;
  if (g_str_has_suffix (kind, "..."))
    kind[strlen (kind) - 3] = '\0';
  offer_kind (c, kind);
}

/* Candidates after the command: option names, option values, positional
 * arguments. `words[argstart..n-1]` are the command's words, the last one
 * being completed. */
static void
complete_command (Comp *c, char **words, int argstart, int n)
{
  if (g_str_has_prefix (c->cur, "--") && strchr (c->cur, '='))
    {
      g_autofree char *opt = g_strndup (c->cur, strchr (c->cur, '=') - c->cur);
      const GOptionEntry *e = find_option (c->cmd, opt);
      g_autofree char *prefix = g_strconcat (opt, "=", NULL);
      c->prefix = prefix;
      if (takes_value (e))
        offer_value (c, e);
      c->prefix = "";
      return;
    }
  if (n - 2 >= argstart && words[n - 2][0] == '-' && !strchr (words[n - 2], '='))
    {
      const GOptionEntry *e = find_option (c->cmd, words[n - 2]);
      if (takes_value (e))
        {
          offer_value (c, e);
          return;
        }
    }
  if (c->cur[0] == '-')
    {
      offer_options (c);
      return;
    }
  for (int k = argstart; k < n - 1; k++)
    {
      const char *w = words[k];
      if (w[0] == '-' && w[1] != '\0')
        {
          if (!strchr (w, '=') && takes_value (find_option (c->cmd, w)))
            k++;
          continue;
        }
      g_ptr_array_add (c->posw, (gpointer) w);
    }
  offer_positional (c, c->posw->len);
}

static void
complete_words (Comp *c, char **words, int n)
{
  c->cur = words[n - 1];
  int i = 0;
  for (; i < n - 1; i++)
    {
      const char *w = words[i];
      if (g_str_equal (w, "-c") || g_str_equal (w, "--connect"))
        {
          if (i + 1 < n - 1)
            {
              g_free (c->cli->uri);
              c->cli->uri = g_strdup (words[++i]);
            }
          else
            break;
        }
      else if (g_str_has_prefix (w, "--connect="))
        {
          g_free (c->cli->uri);
          c->cli->uri = g_strdup (w + strlen ("--connect="));
        }
      else if (w[0] != '-')
        break;
    }
  if (i < n - 1 && (g_str_equal (words[i], "-c") || g_str_equal (words[i], "--connect")))
    {
      for (const char *const *u = uris; *u; u++)
        offer (c, *u);   /* "-c <TAB>": the URI itself */
      return;
    }
  if (i == n - 1)
    {
      if (g_str_has_prefix (c->cur, "--connect="))
        {
          c->prefix = "--connect=";
          for (const char *const *u = uris; *u; u++)
            offer (c, *u);
        }
      else if (c->cur[0] == '-')
        for (const char *const *o = global_options; *o; o++)
          offer (c, *o);
      else
        offer_commands (c, NULL, TRUE);
      return;
    }
  gboolean help = g_str_equal (words[i], "help");
  if (help && ++i == n - 1)
    {
      offer_commands (c, NULL, FALSE);
      return;
    }
  g_autofree char *two = i + 1 < n - 1 ? g_strdup_printf ("%s %s", words[i], words[i + 1]) : NULL;
  int argstart = 0;
  if (two && (c->cmd = visible_command (two)))
    argstart = i + 2;
  else if ((c->cmd = visible_command (words[i])))
    argstart = i + 1;
  else
    {
      if (i + 1 == n - 1)
        offer_commands (c, words[i], FALSE);
      return;
    }
  if (!help)
    complete_command (c, words, argstart, n);
}

gboolean
vk_cmd_complete (VkCli *cli, int argc, char **argv, GError **error)
{
  Comp c = { cli, "", "", NULL, g_ptr_array_new () };
  if (argc >= 2 && g_str_equal (argv[1], "--commands"))
    for (const VkCommand *k = vk_commands; k->name; k++)
      {
        if (k->summary)
          printf ("%s\n", k->name);
      }
  else if (argc >= 3 && g_str_equal (argv[1], "--options"))
    {
      g_autofree char *name = g_strjoinv (" ", argv + 2);
      c.cmd = visible_command (name);
      if (c.cmd)
        offer_options (&c);
    }
  else if (argc >= 3 && g_str_equal (argv[1], "--"))
    complete_words (&c, argv + 2, argc - 2);
  g_ptr_array_unref (c.posw);
  return TRUE;
}
