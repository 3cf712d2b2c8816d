/* vmkeep — the workflows layer's context. See ops.h. */
#include "config.h"

#include <glib/gi18n.h>

#include "ops.h"
#include "vk-error.h"

VkOps *
vk_ops_new (VkConn *conn, VkConfig *cfg)
{
  VkOps *ops = g_new0 (VkOps, 1);
  ops->conn = conn;
  ops->cfg = cfg;
  ops->cancel = g_cancellable_new ();
  return ops;
}

void
vk_ops_free (VkOps *ops)
{
  if (ops == NULL)
    return;
  g_clear_object (&ops->cancel);
  g_free (ops);
}

gboolean
vk_ops_step (VkOps *ops, const char *point, GError **error)
{
  if (ops->fault && !ops->fault (point, ops->fault_data, error))
    return FALSE;
  return vk_ops_check_cancel (ops, error);
}

gboolean
vk_ops_check_cancel (VkOps *ops, GError **error)
{
  if (!g_cancellable_is_cancelled (ops->cancel))
    return TRUE;
  g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
               _("interrupted (Ctrl-C, a closed terminal or a service stop)"));
  return FALSE;
}

void
vk_ops_notice (VkOps *ops, const char *fmt, ...)
{
  if (ops->notice == NULL)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  ops->notice (msg, ops->notice_data);
}

void
vk_ops_report (VkOps *ops, const VkOpsProgress *p)
{
  if (ops->progress)
    ops->progress (p, ops->progress_data);
}

void
vk_ops_stream_begin (VkOpsStream *s, VkOps *ops, const char *subject, const char *what,
                     guint64 total)
{
  *s = (VkOpsStream) { ops, { .subject = subject, .what = what, .total = total } };
  vk_ops_report (ops, &s->p);
}

void
vk_ops_stream_at (guint64 offset, gpointer stream)
{
  VkOpsStream *s = stream;
  s->p.done = offset;
  vk_ops_report (s->ops, &s->p);
}

void
vk_ops_stream_end (VkOpsStream *s, guint64 done, gboolean ok)
{
  if (done > 0)
    s->p.done = done;
  s->p.finished = TRUE;
  s->p.failed = !ok;
  vk_ops_report (s->ops, &s->p);
}
