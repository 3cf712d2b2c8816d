/* vmkeep — libvirt's bulk domain statistics, as plain counters for idle
 * detection. See virt.h. */
#include "config.h"

#include <glib/gi18n.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "virt-private.h"
#include "vk-error.h"

void
vk_domain_stats_free (VkDomainStats *s)
{
  if (s == NULL)
    return;
  g_free (s->name);
  g_free (s->uuid);
  g_free (s);
}

/* The sum of fields PREFIX.N.A + PREFIX.N.B for N below PREFIX.count;
 * FALSE when the count or any of the fields is missing (or of another
 * type than libvirt documents: unsigned long long). */
static gboolean
sum_fields (virTypedParameterPtr params, int nparams, const char *prefix, const char *a,
            const char *b, guint64 *out)
{
  unsigned int count = 0;
  g_autofree char *count_key = g_strdup_printf ("%s.count", prefix);
  if (virTypedParamsGetUInt (params, nparams, count_key, &count) != 1)
    return FALSE;
  guint64 sum = 0;
  for (unsigned int i = 0; i < count; i++)
    {
      const char *fields[] = { a, b };
      for (gsize f = 0; f < G_N_ELEMENTS (fields); f++)
        {
          g_autofree char *key = g_strdup_printf ("%s.%u.%s", prefix, i, fields[f]);
          unsigned long long v = 0;
          if (virTypedParamsGetULLong (params, nparams, key, &v) != 1)
            return FALSE;
          sum += v;
        }
    }
  *out = sum;
  return TRUE;
}

static VkDomainState
state_of (int vir_state)
{
  switch (vir_state)
    {
    case VIR_DOMAIN_RUNNING:
      return VK_STATE_RUNNING;
    case VIR_DOMAIN_PAUSED:
      return VK_STATE_PAUSED;
    case VIR_DOMAIN_SHUTOFF:
      return VK_STATE_SHUTOFF;
    default:
      return VK_STATE_OTHER;
    }
}

static int
cmp_stats (gconstpointer a, gconstpointer b)
{
  const VkDomainStats *x = *(VkDomainStats *const *) a;
  const VkDomainStats *y = *(VkDomainStats *const *) b;
  return g_strcmp0 (x->name, y->name);
}

GPtrArray *
vk_conn_domain_stats (VkConn *vc, GError **error)
{
  /* Groups a driver does not offer are left out without an error (no
   * ENFORCE_STATS): libvirt's test driver reports only the state, a
   * remote libvirt may lack one; the counters then stay absent.
   * NOWAIT: a domain busy with a long job (a save) must not hold up the
   * readings of all the others; what needs its job is then skipped. */
  unsigned int stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                       VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE |
                       VIR_DOMAIN_STATS_BLOCK;
  unsigned int flags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                       VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
  virDomainStatsRecordPtr *recs = NULL;
  gint64 mono0 = g_get_monotonic_time ();
  gint64 real0 = g_get_real_time ();
  int n = virConnectGetAllDomainStats (vc->conn, stats, &recs, flags);
  gint64 mono1 = g_get_monotonic_time ();
  if (n < 0)
    {
      vk_vir_fail (error, _("cannot read the domains' statistics on %s"), vc->uri);
      return NULL;
    }
  /* one time for all: libvirt stamps no reading; the middle of the call
   * is off by at most half its duration */
  gint64 mono = mono0 + (mono1 - mono0) / 2;
  gint64 real = real0 + (mono1 - mono0) / 2;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_domain_stats_free);
  for (int i = 0; i < n; i++)
    {
      virDomainStatsRecordPtr r = recs[i];
      char uuid[VIR_UUID_STRING_BUFLEN];
      if (virDomainGetUUIDString (r->dom, uuid) < 0)
        {
          virResetLastError ();
          continue;
        }
      VkDomainStats *s = g_new0 (VkDomainStats, 1);
      s->name = g_strdup (virDomainGetName (r->dom));
      s->uuid = g_strdup (uuid);
      unsigned int id = virDomainGetID (r->dom);
      s->id = id == (unsigned int) -1 ? 0 : (gint64) id;
      int st = 0;
      s->state = virTypedParamsGetInt (r->params, r->nparams, "state.state", &st) == 1
                   ? state_of (st) : VK_STATE_OTHER;
      unsigned long long cpu = 0;
      s->has_cpu = virTypedParamsGetULLong (r->params, r->nparams, "cpu.time", &cpu) == 1;
      s->cpu_ns = cpu;
      s->has_net = sum_fields (r->params, r->nparams, "net", "rx.bytes", "tx.bytes",
                               &s->net_bytes);
      s->has_block = sum_fields (r->params, r->nparams, "block", "rd.bytes", "wr.bytes",
                                 &s->block_bytes);
      unsigned int vcpus = 0;
      if (virTypedParamsGetUInt (r->params, r->nparams, "vcpu.current", &vcpus) == 1)
        s->vcpus = vcpus;
      s->mono_us = mono;
      s->real_us = real;
      g_ptr_array_add (out, s);
    }
  /* a field of another type than documented makes the getters fail with
   * an error that is no error of this call */
  virResetLastError ();
  virDomainStatsRecordListFree (recs);
  g_ptr_array_sort (out, cmp_stats);
  return out;
}
