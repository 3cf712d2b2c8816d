/* vmkeep — save, restore, managed save, job stats and metadata. */
#include "config.h"

#include <glib/gi18n.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt-private.h"
#include "vk-error.h"

gboolean
vk_domain_managed_save (VkDomain *vd, gboolean bypass_cache, GError **error)
{
  unsigned int flags = bypass_cache ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0;
  if (virDomainManagedSave (vd->dom, flags) < 0)
    return vk_vir_fail (error, _("managed save of domain '%s' failed"), vd->name);
  return TRUE;
}

gboolean
vk_domain_managed_save_remove (VkDomain *vd, GError **error)
{
  if (virDomainManagedSaveRemove (vd->dom, 0) < 0)
    return vk_vir_fail (error, _("cannot remove the managed save of '%s'"), vd->name);
  return TRUE;
}

char *
vk_domain_managed_save_xml (VkDomain *vd, GError **error)
{
  char *x = virDomainManagedSaveGetXMLDesc (vd->dom, VIR_DOMAIN_SAVE_IMAGE_XML_SECURE);
  if (x == NULL)
    {
      vk_vir_fail (error, _("cannot read the XML of the managed save of '%s'"), vd->name);
      return NULL;
    }
  return vk_vir_string (x);
}

gboolean
vk_domain_save_to (VkDomain *vd, const char *path, const char *dxml,
                   gboolean bypass_cache, GError **error)
{
  unsigned int flags = bypass_cache ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0;
  if (virDomainSaveFlags (vd->dom, path, dxml, flags) < 0)
    return vk_vir_fail (error, _("saving domain '%s' to %s failed"), vd->name, path);
  return TRUE;
}

/* libvirt 11.2 added the save image format and parallel channels as typed
 * parameters of virDomainSaveParams/RestoreParams. libvirt validates them
 * only inside the call that also saves (a running domain is paused by
 * then), so there is no harmless probe: the release is the check. */
#define VK_LIBVIRT_SAVE_PARAMS 11002000

/* Typed parameter names are strings, part of libvirt's ABI: a vmkeep built
 * against older headers still passes them to a newer libvirtd (a daemon
 * upgraded later, or a remote one). */
#ifndef VIR_DOMAIN_SAVE_PARAM_IMAGE_FORMAT
#define VIR_DOMAIN_SAVE_PARAM_IMAGE_FORMAT "image_format"
#endif
#ifndef VIR_DOMAIN_SAVE_PARAM_PARALLEL_CHANNELS
#define VIR_DOMAIN_SAVE_PARAM_PARALLEL_CHANNELS "parallel.channels"
#endif

gboolean
vk_conn_has_save_params (VkConn *vc, char **why)
{
  guint32 v = vk_conn_libvirt_version_number (vc);
  if (v >= VK_LIBVIRT_SAVE_PARAMS)
    return TRUE;
  if (why)
    *why = g_strdup_printf (_("libvirt %u.%u.%u on this host has no choice of save format or "
                              "parallel save channels (libvirt 11.2.0 or newer has)"),
                            v / 1000000, (v / 1000) % 1000, v % 1000);
  return FALSE;
}

/* The typed-parameter save and restore calls are there; else a refusal
 * saying why (vk_conn_has_save_params). */
static gboolean
require_save_params (VkConn *vc, GError **error)
{
  g_autofree char *why = NULL;

  if (vk_conn_has_save_params (vc, &why))
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_REFUSED, "%s", why);
  return FALSE;
}

/* The parameters of a save or restore: the file, then the domain XML, the
 * image format and the parallel channels when given (NULL or <= 0: not).
 * FALSE when libvirt could not add one. */
static gboolean
save_params_fill (virTypedParameterPtr *params, int *n, const char *path, const char *dxml,
                  const char *format, int channels)
{
  int max = 0;

  return virTypedParamsAddString (params, n, &max, VIR_DOMAIN_SAVE_PARAM_FILE, path) == 0 &&
         (dxml == NULL ||
          virTypedParamsAddString (params, n, &max, VIR_DOMAIN_SAVE_PARAM_DXML, dxml) == 0) &&
         (format == NULL ||
          virTypedParamsAddString (params, n, &max, VIR_DOMAIN_SAVE_PARAM_IMAGE_FORMAT,
                                   format) == 0) &&
         (channels <= 0 ||
          virTypedParamsAddInt (params, n, &max, VIR_DOMAIN_SAVE_PARAM_PARALLEL_CHANNELS,
                                channels) == 0);
}

gboolean
vk_domain_save_params (VkDomain *vd, VkConn *vc, const char *path, const char *dxml,
                       const char *format, int channels, gboolean bypass_cache, GError **error)
{
  if (format == NULL && channels <= 0)
    return vk_domain_save_to (vd, path, dxml, bypass_cache, error);
  if (!require_save_params (vc, error))
    return FALSE;
  virTypedParameterPtr params = NULL;
  int n = 0;
  unsigned int flags = bypass_cache ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0;
  gboolean ok = save_params_fill (&params, &n, path, dxml, format, channels);
  if (ok)
    ok = virDomainSaveParams (vd->dom, params, n, flags) == 0;
  virTypedParamsFree (params, n);
  if (!ok)
    return vk_vir_fail (error, _("saving domain '%s' to %s failed"), vd->name, path);
  return TRUE;
}

gboolean
vk_conn_restore_params (VkConn *vc, const char *path, const char *dxml, int channels,
                        gboolean paused, gboolean bypass_cache, GError **error)
{
  if (channels <= 0)
    return vk_conn_restore (vc, path, dxml, paused, bypass_cache, error);
  if (!require_save_params (vc, error))
    return FALSE;
  virTypedParameterPtr params = NULL;
  int n = 0;
  unsigned int flags = (paused ? VIR_DOMAIN_SAVE_PAUSED : VIR_DOMAIN_SAVE_RUNNING) |
                       (bypass_cache ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0);
  gboolean ok = save_params_fill (&params, &n, path, dxml, NULL, channels);
  if (ok)
    ok = virDomainRestoreParams (vc->conn, params, n, flags) == 0;
  virTypedParamsFree (params, n);
  if (!ok)
    return vk_vir_fail (error, _("restoring from %s failed"), path);
  return TRUE;
}

gboolean
vk_conn_restore (VkConn *vc, const char *path, const char *dxml, gboolean paused,
                 gboolean bypass_cache, GError **error)
{
  unsigned int flags = (paused ? VIR_DOMAIN_SAVE_PAUSED : VIR_DOMAIN_SAVE_RUNNING) |
                       (bypass_cache ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0);
  if (virDomainRestoreFlags (vc->conn, path, dxml, flags) < 0)
    return vk_vir_fail (error, _("restoring from %s failed"), path);
  return TRUE;
}

char *
vk_conn_save_image_xml (VkConn *vc, const char *path, GError **error)
{
  char *x = virDomainSaveImageGetXMLDesc (vc->conn, path, VIR_DOMAIN_SAVE_IMAGE_XML_SECURE);
  if (x == NULL)
    {
      vk_vir_fail (error, _("cannot read the domain XML in save image %s"), path);
      return NULL;
    }
  return vk_vir_string (x);
}

gboolean
vk_domain_job_progress (VkDomain *vd, guint64 *processed, guint64 *total,
                        guint64 *bytes_per_s)
{
  int type = 0, nparams = 0;
  virTypedParameterPtr params = NULL;
  if (virDomainGetJobStats (vd->dom, &type, &params, &nparams, 0) < 0)
    {
      virResetLastError ();
      return FALSE;
    }
  unsigned long long p = 0, t = 0, bw = 0;
  gboolean have = type != VIR_DOMAIN_JOB_NONE &&
                  virTypedParamsGetULLong (params, nparams, VIR_DOMAIN_JOB_MEMORY_PROCESSED, &p) == 1 &&
                  virTypedParamsGetULLong (params, nparams, VIR_DOMAIN_JOB_MEMORY_TOTAL, &t) == 1;
  if (virTypedParamsGetULLong (params, nparams, VIR_DOMAIN_JOB_MEMORY_BPS, &bw) != 1)
    bw = 0;
  virTypedParamsFree (params, nparams);
  if (!have)
    return FALSE;
  *processed = p;
  *total = t;
  if (bytes_per_s)
    *bytes_per_s = bw;
  return TRUE;
}

char *
vk_domain_get_metadata (VkDomain *vd, const char *ns_uri, GError **error)
{
  char *x = virDomainGetMetadata (vd->dom, VIR_DOMAIN_METADATA_ELEMENT, ns_uri,
                                  VIR_DOMAIN_AFFECT_CONFIG);
  if (x == NULL)
    {
      virErrorPtr e = virGetLastError ();
      if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA)
        {
          virResetLastError ();
          return NULL;
        }
      /* Transient domains have no config. */
      virResetLastError ();
      x = virDomainGetMetadata (vd->dom, VIR_DOMAIN_METADATA_ELEMENT, ns_uri,
                                VIR_DOMAIN_AFFECT_CURRENT);
      if (x == NULL)
        {
          virResetLastError ();
          return NULL;
        }
    }
  return vk_vir_string (x);
}

gboolean
vk_domain_set_metadata (VkDomain *vd, const char *xml, const char *key,
                        const char *ns_uri, GError **error)
{
  unsigned int flags = VIR_DOMAIN_AFFECT_CONFIG;
  int st = 0, reason = 0;
  if (virDomainGetState (vd->dom, &st, &reason, 0) == 0 &&
      (st == VIR_DOMAIN_RUNNING || st == VIR_DOMAIN_PAUSED || st == VIR_DOMAIN_BLOCKED))
    flags |= VIR_DOMAIN_AFFECT_LIVE;
  if (virDomainIsPersistent (vd->dom) != 1)
    flags &= ~VIR_DOMAIN_AFFECT_CONFIG;
  if (virDomainSetMetadata (vd->dom, VIR_DOMAIN_METADATA_ELEMENT, xml, key, ns_uri,
                            flags) < 0)
    return vk_vir_fail (error, _("cannot store vmkeep metadata in domain '%s'"), vd->name);
  return TRUE;
}

gboolean
vk_domain_suspend (VkDomain *vd, GError **error)
{
  if (virDomainSuspend (vd->dom) < 0)
    return vk_vir_fail (error, _("cannot pause domain '%s'"), vd->name);
  return TRUE;
}

gboolean
vk_domain_resume (VkDomain *vd, GError **error)
{
  if (virDomainResume (vd->dom) < 0)
    return vk_vir_fail (error, _("cannot resume domain '%s'"), vd->name);
  return TRUE;
}

guint64
vk_domain_memory_kib (VkDomain *vd)
{
  virDomainInfo info;
  if (virDomainGetInfo (vd->dom, &info) < 0)
    {
      virResetLastError ();
      return 0;
    }
  return info.maxMem;
}

/* ---- external snapshots (fork of a running VM) ---------------------------- */

static void
snapshot_disks_xml (GString *x, const char *const *targets, const char *const *files,
                    const char *const *all_targets)
{
  g_string_append (x, "  <disks>\n");
  for (guint i = 0; all_targets && all_targets[i]; i++)
    {
      const char *file = NULL;
      for (guint j = 0; targets && targets[j]; j++)
        if (g_str_equal (targets[j], all_targets[i]))
          file = files[j];
      g_autofree char *t = g_markup_escape_text (all_targets[i], -1);
      if (file == NULL)
        {
          g_string_append_printf (x, "    <disk name='%s' snapshot='no'/>\n", t);
          continue;
        }
      g_autofree char *f = g_markup_escape_text (file, -1);
      g_string_append_printf (x,
                              "    <disk name='%s' snapshot='external' type='file'>\n"
                              "      <driver type='qcow2'/>\n"
                              "      <source file='%s'/>\n"
                              "    </disk>\n", t, f);
    }
  g_string_append (x, "  </disks>\n");
}

static gboolean
create_snapshot (VkDomain *vd, const char *xml, unsigned int flags, GError **error,
                 const char *what)
{
  virDomainSnapshotPtr snap = virDomainSnapshotCreateXML (vd->dom, xml,
                                                          flags |
                                                          VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA);
  if (snap == NULL)
    return vk_vir_fail (error, _("%s of domain '%s' failed"), what, vd->name);
  virDomainSnapshotFree (snap);
  return TRUE;
}

gboolean
vk_domain_snapshot_disks (VkDomain *vd, const char *const *targets, const char *const *files,
                          const char *const *all_targets, GError **error)
{
  g_autoptr(GString) x = g_string_new ("<domainsnapshot>\n  <memory snapshot='no'/>\n");
  snapshot_disks_xml (x, targets, files, all_targets);
  g_string_append (x, "</domainsnapshot>\n");
  return create_snapshot (vd, x->str,
                          VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                          VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC, error,
                          _("the disk snapshot"));
}

gboolean
vk_domain_snapshot_memory (VkDomain *vd, const char *file, const char *const *all_targets,
                           GError **error)
{
  g_autofree char *f = g_markup_escape_text (file, -1);
  g_autoptr(GString) x = g_string_new (NULL);
  g_string_append_printf (x, "<domainsnapshot>\n  <memory snapshot='external' file='%s'/>\n",
                          f);
  snapshot_disks_xml (x, NULL, NULL, all_targets);
  g_string_append (x, "</domainsnapshot>\n");
  return create_snapshot (vd, x->str, 0, error, _("the memory snapshot"));
}

gboolean
vk_domain_commit_top (VkDomain *vd, const char *target, guint timeout_s, GError **error)
{
  if (virDomainBlockCommit (vd->dom, target, NULL, NULL, 0,
                            VIR_DOMAIN_BLOCK_COMMIT_ACTIVE |
                            VIR_DOMAIN_BLOCK_COMMIT_SHALLOW) < 0)
    return vk_vir_fail (error, _("cannot merge the overlay of disk %s of '%s' back"), target,
                        vd->name);
  /* An active commit ends only by a pivot, which libvirt refuses until
   * the job is ready: retry it. */
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;
  for (;;)
    {
      if (virDomainBlockJobAbort (vd->dom, target, VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) == 0)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        {
          vk_vir_fail (error, _("merging the overlay of disk %s of '%s' back did not finish "
                                "in %u s"), target, vd->name, timeout_s);
          virDomainBlockJobAbort (vd->dom, target, 0);
          return FALSE;
        }
      g_usleep (10 * 1000);
    }
}

gboolean
vk_domain_abort_job (VkDomain *vd, GError **error)
{
  if (virDomainAbortJob (vd->dom) < 0)
    return vk_vir_fail (error, _("cannot abort the job of domain '%s'"), vd->name);
  return TRUE;
}
