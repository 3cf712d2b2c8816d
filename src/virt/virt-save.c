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
    return vk_vir_fail (error, _("managed save of domain '%s' failed (the domain "
                                 "keeps running)"), vd->name);
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
  char *out = g_strdup (x);
  free (x);
  return out;
}

gboolean
vk_domain_save_to (VkDomain *vd, const char *path, const char *dxml,
                   gboolean bypass_cache, GError **error)
{
  unsigned int flags = bypass_cache ? VIR_DOMAIN_SAVE_BYPASS_CACHE : 0;
  if (virDomainSaveFlags (vd->dom, path, dxml, flags) < 0)
    return vk_vir_fail (error, _("saving domain '%s' to %s failed (the domain keeps "
                                 "running)"), vd->name, path);
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
  char *out = g_strdup (x);
  free (x);
  return out;
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
  char *out = g_strdup (x);
  free (x);
  return out;
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
