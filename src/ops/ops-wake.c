/* vmkeep — the wake workflows. See ops-hibernate.h. */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "ops-domain.h"
#include "ops-hibernate.h"
#include "ops-host.h"
#include "ops-image.h"
#include "save-header.h"
#include "sidecar.h"
#include "store.h"
#include "vk-error.h"

static gboolean
refuse_drift (const char *name, const char *against, GPtrArray *diff, GError **error)
{
  g_autoptr(GString) text = g_string_new (NULL);
  for (guint i = 0; i < diff->len; i++)
    g_string_append_printf (text, "\n  %s", (const char *) diff->pdata[i]);
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
               _("'%s' was not woken: its device identity changed since it was hibernated "
                 "(%s vs the sidecar):%s\nThe guest would resume with hardware it does not "
                 "know. Undo the change, or use --force to wake it anyway; the saved state "
                 "is kept."), name, against, text->str);
  return FALSE;
}

/* ---- managed mode -------------------------------------------------------- */

/* The domain `name`, stopped with a managed save to wake from. */
static VkDomain *
managed_saved_domain (VkOps *ops, const char *name, GError **error)
{
  g_autoptr(VkDomain) dom = NULL;
  if (!vk_domain_lookup (ops->conn, name, &dom, error))
    return NULL;
  VkDomainState st = vk_domain_state (dom, NULL);
  if (st == VK_STATE_RUNNING || st == VK_STATE_PAUSED)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("'%s' is already running; there is nothing to wake"), name);
      return NULL;
    }
  if (!vk_domain_has_managed_save (dom))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("'%s' has no managed save to wake from; 'vmkeep image list' shows "
                     "images ('vmkeep wake --image NAME'), or start it with 'vmkeep start'"),
                   name);
      return NULL;
    }
  return g_steal_pointer (&dom);
}

/* The guest resumes with the identity it knew at save time: the sidecar's
 * (or, for a plain 'virsh managedsave', the save image's own) must match
 * the save image's and the persistent definition's. `sc` is NULL when
 * its load failed with `sc_error`. */
static gboolean
check_managed_identity (VkDomain *dom, const char *name, VkSidecar *sc, GError **sc_error,
                        gboolean force, GError **error)
{
  g_autofree char *saved_xml = vk_domain_managed_save_xml (dom, error);
  if (saved_xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) saved_doc = vk_xml_parse (saved_xml, -1, name, error);
  if (saved_doc == NULL)
    return FALSE;
  g_autoptr(VkIdentity) saved_id = vk_identity_from_domain (saved_doc, error);
  if (saved_id == NULL)
    return FALSE;
  VkIdentity *expected = saved_id;
  if (sc == NULL)
    {
      if (!g_error_matches (*sc_error, VK_ERROR, VK_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (sc_error));
          return FALSE;
        }
      /* Saved by plain 'virsh managedsave': the save image's own XML is
       * the identity the guest knows. */
    }
  else
    {
      expected = sc->identity;
      g_autoptr(GPtrArray) d = vk_identity_compare (sc->identity, saved_id);
      if (d->len > 0 && !force)
        return refuse_drift (name, _("libvirt's managed save image"), d, error);
    }
  g_autoptr(xmlDoc) cfg = vk_ops_domain_doc (dom, TRUE, error);
  if (cfg == NULL)
    return FALSE;
  g_autoptr(VkIdentity) cfg_id = vk_identity_from_domain (cfg, error);
  if (cfg_id == NULL)
    return FALSE;
  g_autoptr(GPtrArray) diff = vk_identity_compare (expected, cfg_id);
  if (diff->len > 0 && !force)
    return refuse_drift (name, _("its persistent definition"), diff, error);
  return TRUE;
}

gboolean
vk_ops_wake (VkOps *ops, const char *name, gboolean force, VkOpsSaveResult *r, GError **error)
{
  g_autoptr(VkDomain) dom = managed_saved_domain (ops, name, error);
  if (dom == NULL)
    return FALSE;
  g_autofree char *uuid = vk_domain_get_uuid (dom);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (ops, uuid, name, error);
  if (lock == NULL)
    return FALSE;

  g_autofree char *path = vk_store_managed_sidecar (ops->cfg->store_dir, uuid);
  g_autoptr(GError) local = NULL;
  g_autoptr(VkSidecar) sc = vk_sidecar_load (path, &local);
  if (!check_managed_identity (dom, name, sc, &local, force, error) ||
      !vk_ops_step (ops, "wake-managed", error))
    return FALSE;

  gint64 t0 = g_get_monotonic_time ();
  if (!vk_domain_start (dom, FALSE, error))
    return FALSE;
  vk_ops_debug_libvirt_time ("wake", name, t0);
  if (sc != NULL)
    g_unlink (path);
  r->mode = "managed";
  return TRUE;
}

/* ---- image mode ---------------------------------------------------------- */

/* The source's disk must still be the untouched overlay over the frozen
 * base, or the restored memory would meet a disk that moved on. */
static gboolean
check_overlays (VkSidecar *sc, const char *image, gboolean force, GError **error)
{
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      if (!g_file_test (f->frozen, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                       _("frozen disk %s of image '%s' is missing (%s); the image cannot be "
                         "woken"), f->target, image, f->frozen);
          return FALSE;
        }
      if (g_str_equal (f->original, f->frozen))
        continue;
      g_autofree char *backing = NULL;
      gboolean exists = g_file_test (f->original, G_FILE_TEST_EXISTS);
      gboolean fresh = FALSE;
      if (exists && vk_qcow2_backing_file (f->original, &backing, NULL) &&
          g_strcmp0 (backing, f->frozen) == 0)
        {
          g_autofree char *sum = NULL;
          fresh = f->overlay_sha256 != NULL &&
                  vk_file_sha256 (f->original, &sum, NULL, NULL) &&
                  g_ascii_strcasecmp (sum, f->overlay_sha256) == 0;
        }
      if (exists && !fresh && !force && f->overlay_sha256 == NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("image '%s' holds a copy of disk %s, and vmkeep cannot tell whether "
                         "%s changed since; --force resumes on a fresh overlay over the "
                         "image's copy (discarding the disk's changes since the image)"),
                       image, f->target, f->original);
          return FALSE;
        }
      if (exists && !fresh && !force)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("disk %s (%s) changed since image '%s' was taken (the VM ran "
                         "after it); waking would resume old memory on a newer disk. Use "
                         "--force to discard the disk's changes since the image"),
                       f->target, f->original, image);
          return FALSE;
        }
      if (!exists || !fresh)
        {
          if (!vk_disk_replace_with_overlay (f->original, f->frozen, f->format, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* Only the domain's own disks, or places of this host's, are created or
 * replaced by a wake: an imported image's paths were rewritten to those.
 * `place_nvram`: whether the wake puts the image's NVRAM in place. */
static gboolean
check_image_paths (VkOps *ops, VkSidecar *sc, const char *image, gboolean place_nvram,
                   GError **error)
{
  VkConfig *cfg = ops->cfg;
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      g_autofree char *fdir = g_path_get_dirname (((VkFrozenDisk *) sc->frozen_disks->pdata[i])->frozen);
      if (!vk_ops_check_qemu_reaches (ops->conn, fdir, error))
        return FALSE;
    }
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      if (!g_str_equal (f->original, f->frozen) &&
          !vk_ops_image_path_is_own (ops, ops->conn, sc, f->target, f->original, cfg->disk_dir))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("image '%s' would put disk %s at %s, which is neither that disk of "
                         "'%s' here nor below disk-dir (%s); nothing was changed: use 'vmkeep "
                         "clone %s --name NEW --disk-dir DIR' instead"),
                       image, f->target, f->original, sc->domain_name, cfg->disk_dir, image);
          return FALSE;
        }
    }
  if (place_nvram &&
      !vk_ops_image_path_is_own (ops, ops->conn, sc, "nvram", sc->nvram_path, cfg->nvram_dir))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' would put its UEFI variables at %s, which is neither the NVRAM "
                     "file of '%s' here nor below nvram-dir (%s); nothing was changed: use "
                     "'vmkeep clone' instead"),
                   image, sc->nvram_path, sc->domain_name, cfg->nvram_dir);
      return FALSE;
    }
  return TRUE;
}

/* The image's domain must not be running (a stopped definition of it may
 * exist: the restore takes its place). */
static gboolean
check_not_running (VkOps *ops, VkSidecar *sc, const char *image, GError **error)
{
  g_autoptr(VkDomain) existing = vk_domain_try_lookup (ops->conn, sc->domain_uuid);
  if (existing == NULL)
    existing = vk_domain_try_lookup (ops->conn, sc->domain_name);
  if (existing != NULL && vk_domain_state (existing, NULL) != VK_STATE_SHUTOFF)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("'%s' is running; stop it before waking it from image '%s' (or clone "
                     "the image under another name)"), sc->domain_name, image);
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_ops_wake_image (VkOps *ops, const char *image, gboolean force, VkOpsSaveResult *r,
                   GError **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(VkLock) ilock = NULL;
  g_autoptr(VkSidecar) sc = vk_ops_image_open (ops, image, TRUE, &dir, &ilock, error);
  if (sc == NULL)
    return FALSE;
  g_free (r->domain);
  r->domain = g_strdup (sc->domain_name);
  g_autofree char *state = g_build_filename (dir, sc->state_file, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (!vk_ops_image_check (sc, dir, image, ops->conn, &hdr, NULL, error) ||
      !check_not_running (ops, sc, image, error))
    return FALSE;
  g_autoptr(VkLock) lock = vk_ops_lock_domain (ops, sc->domain_uuid, sc->domain_name, error);
  if (lock == NULL)
    return FALSE;
  g_autofree char *saved_nv = g_build_filename (dir, "nvram.fd", NULL);
  gboolean place_nvram = sc->nvram_path && !g_file_test (sc->nvram_path, G_FILE_TEST_EXISTS) &&
                         g_file_test (saved_nv, G_FILE_TEST_IS_REGULAR);
  if (!check_image_paths (ops, sc, image, place_nvram, error) ||
      !vk_ops_step (ops, "wake-image", error) ||
      !check_overlays (sc, image, force, error))
    return FALSE;
  /* an imported image brings the variables the guest had at save time */
  if (place_nvram && !vk_file_clone (saved_nv, sc->nvram_path, 0600, error))
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  /* a sparse state is read back with as many channels as wrote it; the
   * guest runs only once the state proved to be the one the sidecar
   * recorded (hashed while QEMU loads it) */
  int channels = hdr->format == VK_SAVE_FORMAT_SPARSE ? (int) sc->state_channels : 0;
  if (!vk_ops_restore_checked (ops->conn, sc->domain_name, state, state, sc->state_sha256,
                               channels, FALSE, error))
    return FALSE;
  vk_ops_debug_libvirt_time ("wake", sc->domain_name, t0);
  r->mode = "image";
  r->state_bytes = sc->state_size;
  return TRUE;
}
