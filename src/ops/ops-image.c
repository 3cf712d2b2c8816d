/* vmkeep — an image in the store: load it, check it before use, verify
 * it, find what depends on it, restore its state checked. See ops.h for
 * the layer's rules and ops-image.h for each function. */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "ops-domain.h"
#include "ops-image.h"
#include "store.h"
#include "trust.h"
#include "validate.h"
#include "vk-error.h"

/* Files of an image are vmkeep's own: real files and directories, never
 * symbolic links (a link would have vmkeep read, hash or print whatever
 * it points at). */
static gboolean
image_entry_is_real (const char *path, gboolean dir, const char *image, GError **error)
{
  struct stat st;
  if (lstat (path, &st) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND, _("image '%s' has no %s"), image, path);
      return FALSE;
    }
  if (S_ISLNK (st.st_mode) || (dir ? !S_ISDIR (st.st_mode) : !S_ISREG (st.st_mode)))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   dir ? _("%s of image '%s' is not a directory of the store (a link or other "
                           "file); the image was tampered with: remove it")
                       : _("%s of image '%s' is not a regular file of the store (a link or "
                           "other file); the image was tampered with: remove it"),
                   path, image);
      return FALSE;
    }
  return TRUE;
}

VkSidecar *
vk_ops_image_load (VkOps *ops, const char *name, char **dir_out, GError **error)
{
  if (!vk_validate_name ("image name", name, error) ||
      !vk_store_check_root (ops->cfg->store_dir, error))
    return NULL;
  g_autofree char *dir = vk_store_image_dir (ops->cfg->store_dir, name);
  g_autofree char *sidecar = g_build_filename (dir, VK_STORE_SIDECAR, NULL);
  struct stat st;
  if (lstat (sidecar, &st) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("no image '%s' in %s; 'vmkeep image list' shows the images"), name,
                   ops->cfg->store_dir);
      return NULL;
    }
  if (!image_entry_is_real (dir, TRUE, name, error) ||
      !image_entry_is_real (sidecar, FALSE, name, error))
    return NULL;
  VkSidecar *sc = vk_sidecar_load (sidecar, error);
  if (sc == NULL)
    return NULL;
  g_autofree char *state = sc->state_file ? g_build_filename (dir, sc->state_file, NULL) : NULL;
  g_autofree char *nvram = g_build_filename (dir, "nvram.fd", NULL);
  if ((state && !image_entry_is_real (state, FALSE, name, error)) ||
      (lstat (nvram, &st) == 0 && !image_entry_is_real (nvram, FALSE, name, error)))
    {
      vk_sidecar_free (sc);
      return NULL;
    }
  if (dir_out)
    *dir_out = g_steal_pointer (&dir);
  return sc;
}

/* What is wrong with a frozen disk of the image in `dir`, or NULL. It must
 * be the image's own file: below the image directory, or (a store on
 * another file system) renamed beside its disk as DISK.vmkeep-IMAGE.base,
 * or the base the recorded overlay was made on (a fork's, likewise); a
 * real file, not a link; of the recorded size; and when the sidecar
 * records one, with the metadata digest taken when it was frozen. */
char *
vk_ops_image_disk_problem (VkFrozenDisk *f, const char *dir)
{
  g_autofree char *image = g_path_get_basename (dir);
  g_autofree char *beside = g_strdup_printf ("%s.vmkeep-%s.base", f->original, image);
  g_autofree char *backing = NULL;
  gboolean own = vk_path_is_below (f->frozen, dir) || g_str_equal (f->frozen, beside);
  if (!own && vk_path_is_plain (f->original) &&
      vk_qcow2_backing_file (f->original, &backing, NULL) && g_strcmp0 (backing, f->frozen) == 0)
    own = TRUE;
  if (!own || !vk_path_is_plain (f->frozen))
    return g_strdup_printf (_("frozen disk %s is recorded at %s, which is not one of the image's "
                              "files: the sidecar was tampered with"), f->target, f->frozen);
  struct stat st;
  if (lstat (f->frozen, &st) < 0)
    return g_strdup_printf (_("frozen disk %s (%s) is missing"), f->target, f->frozen);
  if (!S_ISREG (st.st_mode))
    return g_strdup_printf (_("frozen disk %s (%s) is not a regular file (a link or other "
                              "file): it was replaced"), f->target, f->frozen);
  if ((guint64) st.st_size != f->size)
    return g_strdup_printf (_("frozen disk %s (%s) has %" PRIu64 " bytes, the sidecar says %"
                              PRIu64 ": it was written to"), f->target, f->frozen,
                            (guint64) st.st_size, f->size);
  if (f->meta_sha256)
    {
      g_autofree char *d = NULL;
      g_autoptr(GError) e = NULL;
      if (!vk_disk_digest (f->frozen, f->format, &d, &e))
        return g_strdup_printf (_("frozen disk %s: %s"), f->target, e->message);
      if (g_ascii_strcasecmp (d, f->meta_sha256) != 0)
        return g_strdup_printf (_("frozen disk %s (%s) is not the file frozen with the image "
                                  "(its modification time or qcow2 metadata differ): it was "
                                  "replaced or written to"), f->target, f->frozen);
    }
  return NULL;
}

/* The XML inside state.sav is the domain a restore brings back: it must be
 * the one the sidecar names, or every check made by name or UUID (is it
 * running? whose lock?) would be about another domain. */
static char *
state_domain_problem (VkSidecar *sc, xmlDocPtr doc, const char *state)
{
  xmlNodePtr root = xmlDocGetRootElement (doc);
  g_autofree char *name = vk_xml_child_text (root, "name");
  g_autofree char *uuid = vk_xml_child_text (root, "uuid");
  if (name)
    g_strstrip (name);
  if (uuid)
    g_strstrip (uuid);
  if (g_strcmp0 (name, sc->domain_name) == 0 && uuid && sc->domain_uuid &&
      g_ascii_strcasecmp (uuid, sc->domain_uuid) == 0)
    return NULL;
  return g_strdup_printf (_("%s holds domain '%s' (UUID %s), but the sidecar names '%s' (UUID "
                            "%s)"), state, name ? name : "-", uuid ? uuid : "-",
                          sc->domain_name, sc->domain_uuid);
}

GPtrArray *
vk_ops_image_verify (VkSidecar *sc, const char *dir, gboolean checksum)
{
  GPtrArray *problems = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *state = g_build_filename (dir, sc->state_file ? sc->state_file : "", NULL);
  g_autoptr(GError) local = NULL;
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (sc->state_file == NULL)
    g_ptr_array_add (problems, g_strdup (_("the sidecar names no state file")));
  else if (!vk_save_header_read (state, &hdr, &local))
    g_ptr_array_add (problems, g_strdup (local->message));
  else
    {
      struct stat st;
      if (stat (state, &st) < 0 || (guint64) st.st_size != sc->state_size)
        g_ptr_array_add (problems,
                         g_strdup_printf (_("%s has %" PRIu64 " bytes, the sidecar "
                                            "says %" PRIu64), state,
                                          (guint64) st.st_size, sc->state_size));
      else if (checksum && sc->state_sha256)
        {
          g_autofree char *sum = NULL;
          g_clear_error (&local);
          if (!vk_file_sha256 (state, &sum, NULL, &local))
            g_ptr_array_add (problems, g_strdup (local->message));
          else if (g_ascii_strcasecmp (sum, sc->state_sha256) != 0)
            g_ptr_array_add (problems,
                             g_strdup_printf (_("%s has SHA-256 %s, the sidecar says %s: the "
                                                "state was modified or damaged"),
                                              state, sum, sc->state_sha256));
        }
      g_autoptr(xmlDoc) hdoc = vk_xml_parse (hdr->xml, -1, state, NULL);
      g_autoptr(VkIdentity) hid = hdoc ? vk_identity_from_domain (hdoc, NULL) : NULL;
      char *who = hdoc ? state_domain_problem (sc, hdoc, state) : NULL;
      if (who)
        g_ptr_array_add (problems, who);
      if (hid == NULL)
        g_ptr_array_add (problems, g_strdup_printf (_("%s carries no readable domain XML"), state));
      else
        {
          g_autoptr(GPtrArray) d = vk_identity_compare (sc->identity, hid);
          for (guint i = 0; i < d->len; i++)
            g_ptr_array_add (problems, g_strdup_printf (_("state.sav vs sidecar: %s"),
                                                        (const char *) d->pdata[i]));
        }
    }
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      char *p = vk_ops_image_disk_problem (sc->frozen_disks->pdata[i], dir);
      if (p)
        g_ptr_array_add (problems, p);
    }
  return problems;
}

typedef struct {
  const char *path;
  const char *expected;
  gboolean ok;
  GError *error;
} HashCheck;

static gpointer
hash_check_thread (gpointer p)
{
  HashCheck *h = p;
  g_autofree char *sum = NULL;
  if (!vk_file_sha256 (h->path, &sum, NULL, &h->error))
    return NULL;
  if (g_ascii_strcasecmp (sum, h->expected) != 0)
    {
      g_set_error (&h->error, VK_ERROR, VK_ERROR_REFUSED,
                   _("state file %s does not match its sidecar (SHA-256 %s, expected %s): it "
                     "was modified or damaged; the VM was not resumed"),
                   h->path, sum, h->expected);
      return NULL;
    }
  h->ok = TRUE;
  return NULL;
}

gboolean
vk_ops_restore_checked (VkConn *conn, const char *name, const char *file, const char *hashed,
                        const char *sha256, int channels, gboolean paused, GError **error)
{
  HashCheck hc = { hashed, sha256, FALSE, NULL };
  gint64 t0 = g_get_monotonic_time ();
  GThread *t = sha256 ? g_thread_new ("vmkeep-sha256", hash_check_thread, &hc) : NULL;
  gboolean ok = vk_conn_restore_params (conn, file, NULL, channels, TRUE, FALSE, error);
  gint64 t1 = g_get_monotonic_time ();
  if (t)
    {
      g_thread_join (t);
      g_debug ("%s: restored in %.3f s, state checked %.3f s later", name, (t1 - t0) / 1e6,
               (g_get_monotonic_time () - t1) / 1e6);
      if (ok && !hc.ok)
        {
          /* never resumed: the memory it holds is not what was saved */
          g_autoptr(VkDomain) d = vk_domain_try_lookup (conn, name);
          if (d)
            vk_domain_destroy (d, NULL);
          g_propagate_error (error, g_steal_pointer (&hc.error));
          ok = FALSE;
        }
      g_clear_error (&hc.error);
    }
  if (ok && !paused)
    {
      g_autoptr(VkDomain) d = NULL;
      ok = vk_domain_lookup (conn, name, &d, error) && vk_domain_resume (d, error);
    }
  return ok;
}

gboolean
vk_ops_image_dir_is_own (VkOps *ops, VkConn *conn, VkSidecar *sc, const char *dir)
{
  if (!vk_path_is_plain (dir))
    return FALSE;
  if (vk_path_is_below (dir, ops->cfg->store_dir) || vk_path_is_below (dir, ops->cfg->disk_dir))
    return TRUE;
  g_autoptr(VkDomain) d = vk_domain_try_lookup (conn, sc->domain_uuid);
  g_autoptr(xmlDoc) doc = d ? vk_ops_domain_doc (d, TRUE, NULL) : NULL;
  if (doc == NULL)
    return FALSE;
  xmlNodePtr devs = vk_domain_devices (doc);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "disk"))
      {
        g_autofree char *f = vk_xml_child_prop (n, "source", "file");
        g_autofree char *fdir = f ? g_path_get_dirname (f) : NULL;
        if (g_strcmp0 (fdir, dir) == 0)
          return TRUE;
      }
  return FALSE;
}

gboolean
vk_ops_image_path_is_own (VkOps *ops, VkConn *conn, VkSidecar *sc, const char *what,
                          const char *path, const char *place_dir)
{
  if (!vk_path_is_plain (path))
    return FALSE;
  if (vk_path_is_below (path, ops->cfg->store_dir) || (place_dir && vk_path_is_below (path, place_dir)))
    return TRUE;
  /* the domain the image was made of, as it is defined here now */
  g_autoptr(VkDomain) d = vk_domain_try_lookup (conn, sc->domain_uuid);
  g_autoptr(xmlDoc) doc = d ? vk_ops_domain_doc (d, TRUE, NULL) : NULL;
  if (doc == NULL)
    return FALSE;
  if (g_str_equal (what, "nvram"))
    {
      g_autofree char *nv = vk_xml_child_text (vk_xml_child (xmlDocGetRootElement (doc), "os"),
                                               "nvram");
      return g_strcmp0 (nv, path) == 0;
    }
  xmlNodePtr devs = vk_domain_devices (doc);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "disk"))
      {
        g_autofree char *t = vk_xml_child_prop (n, "target", "dev");
        g_autofree char *f = vk_xml_child_prop (n, "source", "file");
        if (g_strcmp0 (t, what) == 0 && g_strcmp0 (f, path) == 0)
          return TRUE;
      }
  return FALSE;
}

/* Can this host's libvirt and QEMU resume what the image holds? An image
 * made by a newer generation may use a save format this libvirt does not
 * read, or a machine type this QEMU does not offer: both are refused here,
 * before anything is created, naming both versions. */
gboolean
vk_ops_image_check_host (VkConn *conn, VkSidecar *sc, VkSaveHeader *hdr, xmlDocPtr doc,
                        const char *image, GError **error)
{
  g_autofree char *what = g_strdup_printf (_("image '%s'"), image);
  if (!vk_save_format_check_restorable (hdr->format, vk_conn_libvirt_version_number (conn),
                                        what, sc->libvirt_version, error))
    return FALSE;
  /* QEMU keeps migration compatible forwards only: a state written by a
   * newer QEMU may not load into an older one, even with a machine type
   * both know. */
  guint32 hv = vk_conn_hv_version_number (conn);
  guint maj = 0, min = 0, mic = 0;
  if (hv > 0 && sc->qemu_version &&
      sscanf (sc->qemu_version, "%u.%u.%u", &maj, &min, &mic) >= 2 &&
      maj * 1000000u + min * 1000u > hv - hv % 1000)
    {
      g_autofree char *hvs = vk_conn_hv_version (conn);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' was saved by QEMU %s (libvirt %s); QEMU %s on this host can "
                     "only resume states of its own or older QEMU versions; nothing was "
                     "changed: wake or clone it on a host with QEMU %u.%u or newer"),
                   image, sc->qemu_version, sc->libvirt_version, hvs, maj, min);
      return FALSE;
    }
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (doc), "os");
  xmlNodePtr type = os ? vk_xml_child (os, "type") : NULL;
  g_autofree char *machine = type ? vk_xml_prop (type, "machine") : NULL;
  g_autofree char *arch = type ? vk_xml_prop (type, "arch") : NULL;
  gboolean known = TRUE;
  if (machine && !vk_conn_machine_known (conn, arch, machine, &known, error))
    return FALSE;
  if (!known)
    {
      g_autofree char *hvs = vk_conn_hv_version (conn);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' was saved by QEMU %s (libvirt %s) with machine type %s, which "
                     "QEMU %s on this host does not offer; nothing was changed: wake or clone "
                     "it on a host with QEMU %s or newer"),
                   image, sc->qemu_version, sc->libvirt_version, machine, hvs, sc->qemu_version);
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_ops_image_check (VkSidecar *sc, const char *dir, const char *image, VkConn *conn,
                    VkSaveHeader **hdr_out, xmlDocPtr *doc_out, GError **error)
{
  g_autofree char *state = g_build_filename (dir, sc->state_file, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (!vk_save_header_read (state, &hdr, error))
    return FALSE;
  struct stat st;
  if (stat (state, &st) < 0 || (guint64) st.st_size != sc->state_size)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("state file %s has %" PRIu64 " bytes, the sidecar says %" PRIu64
                     ": it is truncated or was replaced ('vmkeep image verify %s')"),
                   state, (guint64) st.st_size, sc->state_size, image);
      return FALSE;
    }
  g_autoptr(xmlDoc) doc = vk_xml_parse (hdr->xml, -1, state, error);
  if (doc == NULL)
    return FALSE;
  g_autofree char *who = state_domain_problem (sc, doc, state);
  if (who)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' is inconsistent: %s; it was modified or damaged ('vmkeep image "
                     "verify %s')"), image, who, image);
      return FALSE;
    }
  g_autoptr(VkIdentity) hid = vk_identity_from_domain (doc, error);
  if (hid == NULL)
    return FALSE;
  g_autoptr(GPtrArray) d = vk_identity_compare (sc->identity, hid);
  if (d->len > 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' is inconsistent: the XML inside %s does not match its "
                     "sidecar (%s); it was modified or damaged ('vmkeep image verify %s')"),
                   image, state, (const char *) d->pdata[0], image);
      return FALSE;
    }
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      if (!g_file_test (f->frozen, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                       _("base disk %s of image '%s' is missing (%s)"), f->target, image,
                       f->frozen);
          return FALSE;
        }
      g_autofree char *problem = vk_ops_image_disk_problem (f, dir);
      if (problem)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED, _("image '%s': %s ('vmkeep image verify %s')"),
                       image, problem, image);
          return FALSE;
        }
    }
  if (conn && !vk_ops_image_check_host (conn, sc, hdr, doc, image, error))
    return FALSE;
  if (hdr_out)
    *hdr_out = g_steal_pointer (&hdr);
  if (doc_out)
    *doc_out = g_steal_pointer (&doc);
  return TRUE;
}


/* A frozen base belongs to this image when it lives in the image's
 * directory or beside its disk under the name this image gave it; a clone
 * kept as an image (clone --no-start) shares its parent's bases, which
 * stay the parent's. */
static gboolean
owns_frozen (const char *dir, const char *name, const VkFrozenDisk *f)
{
  g_autofree char *prefix = g_strconcat (dir, G_DIR_SEPARATOR_S, NULL);
  g_autofree char *beside = g_strdup_printf ("%s.vmkeep-%s.base", f->original, name);
  return g_str_has_prefix (f->frozen, prefix) || g_str_equal (f->frozen, beside);
}

/* Does the backing chain starting at `path` (not counting `path` itself
 * when `skip_self`) reach one of the frozen bases this image owns? */
static gboolean
chain_reaches (VkSidecar *sc, const char *dir, const char *name, const char *path,
               gboolean skip_self)
{
  g_autofree char *cur = g_strdup (path);
  for (int depth = 0; cur && depth < 16; depth++)
    {
      if (depth > 0 || !skip_self)
        for (guint k = 0; k < sc->frozen_disks->len; k++)
          {
            VkFrozenDisk *f = sc->frozen_disks->pdata[k];
            if (g_str_equal (f->frozen, cur) && owns_frozen (dir, name, f))
              return TRUE;
          }
      char *next = NULL;
      if (!vk_qcow2_backing_file (cur, &next, NULL) || next == NULL)
        return FALSE;
      g_free (cur);
      cur = next;
    }
  return FALSE;
}

/* Domains and other images whose disks still read from one of the image's
 * frozen bases (an image taken after waking from this one is built on
 * it). */
GPtrArray *
vk_ops_image_dependents (VkOps *ops, VkSidecar *sc, const char *dir, const char *name,
                         GError **error)
{
  GPtrArray *deps = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) others = vk_store_list_images (ops->cfg->store_dir, NULL);
  for (guint i = 0; others && i < others->len; i++)
    {
      const char *other = others->pdata[i];
      if (g_str_equal (other, name))
        continue;
      g_autofree char *odir = NULL;
      g_autoptr(VkSidecar) osc = vk_ops_image_load (ops, other, &odir, NULL);
      for (guint k = 0; osc && k < osc->frozen_disks->len; k++)
        {
          VkFrozenDisk *f = osc->frozen_disks->pdata[k];
          if (!g_str_equal (f->frozen, f->original) &&
              chain_reaches (sc, dir, name, f->frozen, FALSE) && !owns_frozen (dir, name, f))
            g_ptr_array_add (deps, g_strdup_printf (_("image %s (disk %s)"), other, f->target));
        }
    }

  VkConn *conn = ops->conn;
  g_autoptr(GPtrArray) infos = vk_conn_list_domains (conn, TRUE, error);
  if (infos == NULL)
    {
      g_ptr_array_unref (deps);
      return NULL;
    }
  for (guint i = 0; i < infos->len; i++)
    {
      VkDomainInfo *info = infos->pdata[i];
      g_autoptr(VkDomain) dom = vk_domain_try_lookup (conn, info->name);
      g_autoptr(xmlDoc) doc = dom ? vk_ops_domain_doc (dom, vk_domain_is_persistent (dom), NULL)
                                  : NULL;
      if (doc == NULL)
        continue;
      xmlNodePtr devs = vk_domain_devices (doc);
      for (xmlNodePtr n = devs->children; n; n = n->next)
        {
          if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "disk"))
            continue;
          g_autofree char *path = vk_xml_child_prop (n, "source", "file");
          if (path && chain_reaches (sc, dir, name, path, TRUE))
            {
              g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
              g_ptr_array_add (deps, g_strdup_printf ("%s (disk %s)", info->name, target));
            }
        }
    }
  return deps;
}

char *
vk_ops_image_partial_new (VkOps *ops, VkJournal *j, const char *name, int *lock_fd,
                          GError **error)
{
  const char *store = ops->cfg->store_dir;
  char *partial = vk_store_partial_new (store, name, lock_fd, error);
  if (partial == NULL)
    return NULL;
  if (!vk_journal_push (j, VK_UNDO_RMTREE, error, partial, NULL))
    {
      vk_store_partial_abort (partial, *lock_fd);
      *lock_fd = -1;
      g_free (partial);
      return NULL;
    }
  g_autofree char *images = vk_store_images_dir (store);
  g_chmod (images, 0711);
  g_chmod (partial, 0711);
  return partial;
}

VkSidecar *
vk_ops_image_open (VkOps *ops, const char *name, gboolean shared, char **dir_out,
                   VkLock **lock_out, GError **error)
{
  g_autoptr(VkSidecar) sc = vk_ops_image_load (ops, name, dir_out, error);
  if (sc == NULL)
    return NULL;
  *lock_out = vk_ops_lock_image (ops, name, shared, error);
  if (*lock_out == NULL)
    return NULL;
  return g_steal_pointer (&sc);
}

GPtrArray *
vk_ops_image_verify_named (VkOps *ops, const char *name, GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(VkSidecar) sc = vk_ops_image_open (ops, name, TRUE, &dir, &lock, error);
  if (sc == NULL)
    return NULL;
  return vk_ops_image_verify (sc, dir, TRUE);
}

gboolean
vk_ops_image_rm (VkOps *ops, const char *name, gboolean force, GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(VkLock) lock = NULL;
  /* exclusive: no clone, wake or export reads the image meanwhile, and
   * none starts before the dependents below are known */
  g_autoptr(VkSidecar) sc = vk_ops_image_open (ops, name, FALSE, &dir, &lock, error);
  if (sc == NULL)
    return FALSE;
  g_autoptr(GPtrArray) deps = vk_ops_image_dependents (ops, sc, dir, name, error);
  if (deps == NULL)
    return FALSE;
  if (deps->len > 0 && !force)
    {
      g_autoptr(GString) s = g_string_new (NULL);
      for (guint i = 0; i < deps->len; i++)
        g_string_append_printf (s, "\n  %s", (const char *) deps->pdata[i]);
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' is still the base of these disks; removing it would break "
                     "them (remove those domains first, or use --force):%s"), name, s->str);
      return FALSE;
    }
  if (!vk_ops_step (ops, "image-rm", error))
    return FALSE;
  /* Frozen bases kept beside their disk (store on another filesystem) go
   * with the image. */
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_autofree char *beside = g_strdup_printf ("%s.vmkeep-%s.base", f->original, name);
      if (g_str_equal (f->frozen, beside))
        g_unlink (f->frozen);
    }
  return vk_rm_rf (dir, error);
}
