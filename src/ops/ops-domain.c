/* vmkeep — workflows on one domain's definition. See ops-domain.h. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

#include "diskfile.h"
#include "domain-xml.h"
#include "ops-domain.h"
#include "pin.h"
#include "vk-error.h"

xmlDocPtr
vk_ops_domain_doc (VkDomain *dom, gboolean inactive, GError **error)
{
  g_autofree char *xml = vk_domain_xml (dom, inactive, error);
  if (xml == NULL)
    return NULL;
  return vk_xml_parse (xml, -1, vk_domain_get_name (dom), error);
}

gboolean
vk_ops_define_verified (VkOps *ops, xmlDocPtr doc, VkDomain **out, GPtrArray **violations_out,
                        GError **error)
{
  g_autofree char *name = vk_domain_name (doc);
  g_autofree char *xml = vk_xml_format (doc);
  g_autoptr(VkDomain) old = vk_domain_try_lookup (ops->conn, name);
  g_autofree char *old_xml = NULL;
  if (old != NULL)
    {
      if (!vk_domain_is_persistent (old))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("domain '%s' exists as a transient domain; stop it or pick "
                         "another name"), name);
          return FALSE;
        }
      old_xml = vk_domain_xml (old, TRUE, error);
      if (old_xml == NULL)
        return FALSE;
    }

  g_autoptr(VkDomain) dom = NULL;
  if (!vk_ops_step (ops, "define", error) || !vk_domain_define (ops->conn, xml, &dom, error))
    return FALSE;

  g_autoptr(GError) local = NULL;
  g_autoptr(xmlDoc) back_doc = vk_ops_domain_doc (dom, TRUE, &local);
  g_autoptr(GPtrArray) v = back_doc ? vk_layout_check (back_doc, &ops->cfg->policy, &local)
                                    : NULL;
  if (v != NULL && v->len == 0 && vk_ops_step (ops, "define-verified", &local))
    {
      *out = g_steal_pointer (&dom);
      return TRUE;
    }

  /* Undo: put back what was there, or remove what we defined. */
  g_autoptr(GError) undo = NULL;
  if (old_xml != NULL)
    {
      g_autoptr(VkDomain) again = NULL;
      vk_domain_define (ops->conn, old_xml, &again, &undo);
    }
  else
    vk_domain_undefine (dom, FALSE, &undo);

  if (v == NULL || v->len == 0)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               g_dngettext (GETTEXT_PACKAGE,
                            "libvirt placed %u device of '%s' against the slot policy "
                            "(listed above); the definition was %s",
                            "libvirt placed %u devices of '%s' against the slot policy "
                            "(listed above); the definition was %s", v->len),
               v->len, name,
               undo ? _("NOT rolled back: fix it by hand")
                    : old_xml ? _("restored to what it was") : _("removed again"));
  if (violations_out != NULL)
    *violations_out = g_steal_pointer (&v);
  return FALSE;
}

gboolean
vk_ops_check_scope (VkDomain *dom, const char *name, gboolean live, gboolean config,
                    const char *live_verb, GError **error)
{
  if (live && vk_domain_state (dom, NULL) == VK_STATE_SHUTOFF)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("domain '%s' is not running, so --live cannot %s; use --config"), name,
                   live_verb);
      return FALSE;
    }
  if (config && !vk_domain_is_persistent (dom))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("domain '%s' is transient, so --config has nothing to change; use --live"),
                   name);
      return FALSE;
    }
  return TRUE;
}

/* `path` resolved (symbolic links, "..") when it exists, else as written. */
static char *
resolved (const char *path)
{
  char *real = realpath (path, NULL);
  if (real == NULL)
    return g_canonicalize_filename (path, NULL);
  char *out = g_strdup (real);
  free (real);
  return out;
}

static gboolean
inside (const char *path, const char *dir)
{
  gsize n = strlen (dir);
  return strncmp (path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/* The resolved backing file of the qcow2 image `cur` (a relative one
 * against `cur`'s directory), or NULL at the end of its chain. */
static char *
chain_next (const char *cur)
{
  g_autofree char *next = NULL;
  if (!vk_qcow2_backing_file (cur, &next, NULL) || next == NULL)
    return NULL;
  g_autofree char *base = g_path_get_dirname (cur);
  g_autofree char *abs = g_path_is_absolute (next) ? g_strdup (next)
                                                   : g_build_filename (base, next, NULL);
  return resolved (abs);
}

/* Does the chain that starts at `path` (the disk's file, then the backing
 * files its qcow2 headers name) have a file inside `dir`? */
static gboolean
chain_inside (const char *path, const char *dir)
{
  g_autofree char *cur = resolved (path);
  for (int depth = 0; cur && depth < 256; depth++)
    {
      if (inside (cur, dir))
        return TRUE;
      char *next = chain_next (cur);
      g_free (cur);
      cur = next;
    }
  return FALSE;
}

/* How many files the chain that starts at `path` has (stops counting at
 * 256, a loop). */
static guint
chain_length (const char *path)
{
  g_autofree char *cur = resolved (path);
  guint n = 0;
  while (cur && n < 256)
    {
      n++;
      char *next = chain_next (cur);
      g_free (cur);
      cur = next;
    }
  return n;
}

gboolean
vk_ops_check_chain_room (VkOps *ops, VkDomain *dom, guint adds, GError **error)
{
  if (vk_conn_libvirt_version_number (ops->conn) < 10001000)
    return TRUE;
  gboolean shutoff = vk_domain_state (dom, NULL) == VK_STATE_SHUTOFF;
  g_autoptr(xmlDoc) doc = vk_ops_domain_doc (dom, shutoff, error);
  if (doc == NULL)
    return FALSE;
  xmlNodePtr devs = vk_domain_devices (doc);
  for (xmlNodePtr n = devs ? devs->children : NULL; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "disk"))
        continue;
      g_autofree char *file = vk_xml_child_prop (n, "source", "file");
      g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
      if (file == NULL)
        continue;
      guint len = chain_length (file);
      g_autofree char *version = vk_conn_libvirt_version (ops->conn);
      if (len + adds > VK_OPS_CHAIN_MAX)
        return vk_fail (error, VK_ERROR_REFUSED,
                        _("disk %s of '%s' is a chain of %u files (%s on top); %u more would "
                          "pass the %u that libvirt %s can start or restore a VM on. Shorten "
                          "it first: 'virsh blockpull %s %s --wait' while the VM runs, or "
                          "'qemu-img convert' while it is shut off"),
                        target ? target : "?", vk_domain_get_name (dom), len, file, adds,
                        VK_OPS_CHAIN_MAX, version,
                        vk_domain_get_name (dom), target ? target : "?");
    }
  return TRUE;
}

/* Every <source file> of the disks in `doc` (the live XML's
 * <backingStore> chain too) whose chain reaches into `dir`. */
static void
doc_users (xmlDocPtr doc, const char *name, const char *dir, GPtrArray *out)
{
  xmlNodePtr devs = vk_domain_devices (doc);
  for (xmlNodePtr n = devs ? devs->children : NULL; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "disk"))
        continue;
      gboolean used = FALSE;
      for (xmlNodePtr s = n; s && !used; s = vk_xml_child (s, "backingStore"))
        {
          g_autofree char *path = vk_xml_child_prop (s, "source", "file");
          used = path != NULL && chain_inside (path, dir);
        }
      if (!used)
        continue;
      g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
      g_autofree char *row = g_strdup_printf (_("%s (disk %s)"), name, target ? target : "?");
      if (!g_ptr_array_find_with_equal_func (out, row, g_str_equal, NULL))
        g_ptr_array_add (out, g_steal_pointer (&row));
    }
}

GPtrArray *
vk_ops_dir_users (VkOps *ops, const char *dir, const char *skip_uuid, GError **error)
{
  g_autofree char *real = resolved (dir);
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) infos = vk_conn_list_domains (ops->conn, TRUE, error);
  if (infos == NULL)
    return NULL;
  for (guint i = 0; i < infos->len; i++)
    {
      VkDomainInfo *info = infos->pdata[i];
      g_autoptr(VkDomain) dom = vk_domain_try_lookup (ops->conn, info->name);
      g_autofree char *uuid = dom ? vk_domain_get_uuid (dom) : NULL;
      if (dom == NULL || g_strcmp0 (uuid, skip_uuid) == 0)
        continue;
      gboolean running = vk_domain_state (dom, NULL) != VK_STATE_SHUTOFF;
      for (int inactive = 0; inactive < 2; inactive++)
        {
          if ((inactive == 0 && !running) || (inactive == 1 && !vk_domain_is_persistent (dom)))
            continue;
          g_autoptr(xmlDoc) doc = vk_ops_domain_doc (dom, inactive, NULL);
          if (doc != NULL)
            doc_users (doc, info->name, real, out);
        }
    }
  return g_steal_pointer (&out);
}

/* ---- tags ------------------------------------------------------------------
 *
 * Tags live in the domain's own metadata (vmkeep namespace), so they travel
 * with the definition and batch runs select VMs with --tag. */

#define VK_META_NS "https://vmkeep.org/ns/domain/1"
#define VK_META_KEY "vmkeep"

GPtrArray *
vk_ops_domain_tags (VkDomain *dom)
{
  GPtrArray *tags = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *xml = vk_domain_get_metadata (dom, VK_META_NS, NULL);
  g_autoptr(xmlDoc) doc = xml ? vk_xml_parse (xml, -1, "metadata", NULL) : NULL;
  if (doc == NULL)
    return tags;
  xmlNodePtr root = xmlDocGetRootElement (doc);
  xmlNodePtr list = xmlStrEqual (root->name, BAD_CAST "tags") ? root : vk_xml_child (root, "tags");
  for (xmlNodePtr n = list ? list->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "tag"))
      {
        xmlChar *t = xmlNodeGetContent (n);
        if (t && *t)
          g_ptr_array_add (tags, g_strdup ((const char *) t));
        xmlFree (t);
      }
  return tags;
}

/* g_ptr_array_sort hands over pointers to the elements */
static gint
cmp_tag (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

static gboolean
store_tags (VkDomain *dom, GPtrArray *tags, GError **error)
{
  if (tags->len == 0)
    return vk_domain_set_metadata (dom, NULL, NULL, VK_META_NS, error);
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNodePtr root = xmlNewNode (NULL, BAD_CAST "tags");
  xmlDocSetRootElement (doc, root);
  for (guint i = 0; i < tags->len; i++)
    xmlNewTextChild (root, NULL, BAD_CAST "tag", BAD_CAST tags->pdata[i]);
  g_autofree char *xml = vk_xml_node_format (root);
  return vk_domain_set_metadata (dom, xml, VK_META_KEY, VK_META_NS, error);
}

gboolean
vk_ops_domain_tags_change (VkOps *ops, VkDomain *dom, const char *const *add,
                           const char *const *remove, GPtrArray **tags_out, GError **error)
{
  /* a change to the domain: under its lock, read and written together */
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (ops, uuid, vk_domain_get_name (dom), error);
  if (lock == NULL)
    return FALSE;
  g_autoptr(GPtrArray) tags = vk_ops_domain_tags (dom);
  for (guint i = 0; add && add[i]; i++)
    if (!g_ptr_array_find_with_equal_func (tags, add[i], g_str_equal, NULL))
      g_ptr_array_add (tags, g_strdup (add[i]));
  for (guint i = 0; remove && remove[i]; i++)
    {
      guint at;
      if (g_ptr_array_find_with_equal_func (tags, remove[i], g_str_equal, &at))
        g_ptr_array_remove_index (tags, at);
    }
  g_ptr_array_sort (tags, cmp_tag);
  if (!store_tags (dom, tags, error))
    return FALSE;
  if (tags_out)
    *tags_out = g_steal_pointer (&tags);
  return TRUE;
}
