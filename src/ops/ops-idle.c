/* vmkeep — sampling libvirt's bulk stats into the store and judging
 * idleness. See ops-idle.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops-idle.h"
#include "store.h"
#include "vk-error.h"

/* Longest on-the-spot measurement: longer ones are what the timer's
 * history is for. */
#define SAMPLE_MAX_S 3600
#define HISTORY_SUFFIX ".json"

void
vk_idle_report_free (VkIdleReport *r)
{
  if (r == NULL)
    return;
  g_free (r->name);
  g_free (r->uuid);
  g_free (r->note);
  g_free (r);
}

static char *
idle_dir (VkOps *ops)
{
  return g_build_filename (ops->cfg->store_dir, "idle", NULL);
}

static char *
lock_key (const char *uuid)
{
  return g_strdup_printf ("idle-%s", uuid);
}

static VkIdleSample
sample_of (const VkDomainStats *s, gint64 real_us)
{
  VkIdleSample x = {
    .time_ms = real_us / 1000,
    .cpu_ns = s->cpu_ns,
    .net_bytes = s->net_bytes,
    .block_bytes = s->block_bytes,
    .vcpus = s->vcpus,
    .dom_id = s->id,
    .has = (s->has_cpu ? VK_IDLE_HAS_CPU : 0) | (s->has_net ? VK_IDLE_HAS_NET : 0) |
           (s->has_block ? VK_IDLE_HAS_BLOCK : 0),
  };
  return x;
}

/* The history at `path`; NULL when there is none (`*why` NULL) or it
 * cannot be used (`*why` says why). Bounded: never reads more than a
 * history can hold, never follows a symbolic link. */
static VkIdleHistory *
load_history (const char *path, const char *uuid, char **why)
{
  *why = NULL;
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    {
      int e = errno;
      if (e != ENOENT)
        *why = g_strdup_printf (_("%s: cannot open it: %s"), path, g_strerror (e));
      return NULL;
    }
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      *why = g_strdup_printf (_("%s: not a regular file"), path);
      return NULL;
    }
  g_autofree char *buf = g_malloc (VK_IDLE_MAX_TEXT + 1);
  gssize n = vk_read_full (fd, buf, VK_IDLE_MAX_TEXT + 1, 0, NULL);
  int e = errno;
  close (fd);
  if (n < 0)
    {
      *why = g_strdup_printf (_("%s: cannot read it: %s"), path, g_strerror (e));
      return NULL;
    }
  g_autoptr(GError) error = NULL;
  g_autoptr(VkIdleHistory) h = vk_idle_history_parse (buf, (gsize) n, path, &error);
  if (h == NULL)
    {
      *why = g_strdup (error->message);
      return NULL;
    }
  if (g_strcmp0 (h->uuid, uuid) != 0)
    {
      *why = g_strdup_printf (_("%s: it is the history of another domain"), path);
      return NULL;
    }
  return g_steal_pointer (&h);
}

/* Remove histories nobody wrote for the whole window (their domains have
 * not been active since, or are gone) and temp files of interrupted
 * writes. Best effort: what cannot be removed now is removed later. */
static void
expire (const char *dir, const char *locks)
{
  vk_tmp_cleanup (dir, NULL, NULL);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *n;
  gint64 oldest = g_get_real_time () / G_USEC_PER_SEC - VK_IDLE_MAX_WINDOW_S;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (n, HISTORY_SUFFIX))
        continue;
      g_autofree char *uuid = g_strndup (n, strlen (n) - strlen (HISTORY_SUFFIX));
      if (!g_uuid_string_is_valid (uuid))
        continue;
      g_autofree char *path = g_build_filename (dir, n, NULL);
      GStatBuf st;
      if (g_lstat (path, &st) < 0 || !S_ISREG (st.st_mode) || st.st_mtime >= oldest)
        continue;
      g_autofree char *key = lock_key (uuid);
      g_autoptr(VkLock) lock = vk_lock_acquire (locks, key, NULL);
      if (lock != NULL)
        g_unlink (path);
    }
}

/* The store's idle directory, made when missing, with stale files gone. */
static char *
prepare_dir (VkOps *ops, GError **error)
{
  if (!vk_store_ensure_root (ops->cfg->store_dir, error))
    return NULL;
  g_autofree char *dir = idle_dir (ops);
  if (!vk_dir_ensure_private (dir, error))
    return NULL;
  g_autofree char *locks = vk_store_locks_dir (ops->cfg->store_dir);
  expire (dir, locks);
  return g_steal_pointer (&dir);
}

/* Append `s` to the history of domain `name` (`uuid`) in `dir` under the
 * history's lock, and write it back when it took the sample. `*out` is
 * the history as it now is (also when it could not be written: then
 * FALSE with the error). `dir` NULL: the store cannot be written; the
 * history is only read, and `*out` gets the sample in memory. */
static gboolean
record (VkOps *ops, const char *dir, const char *name, const char *uuid,
        const VkIdleSample *s, VkIdleHistory **out, gboolean *stored, GError **error)
{
  *stored = FALSE;
  if (!g_uuid_string_is_valid (uuid))
    return vk_fail (error, VK_ERROR_FAILED,
                    _("domain '%s': libvirt gave no usable UUID; its activity is not "
                      "recorded"), name);
  g_autofree char *file = g_strconcat (uuid, HISTORY_SUFFIX, NULL);
  g_autofree char *rdir = dir ? g_strdup (dir) : idle_dir (ops);
  g_autofree char *path = g_build_filename (rdir, file, NULL);
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(GError) busy = NULL;
  if (dir != NULL)
    {
      g_autofree char *locks = vk_store_locks_dir (ops->cfg->store_dir);
      g_autofree char *key = lock_key (uuid);
      lock = vk_lock_acquire (locks, key, &busy);
      if (lock == NULL && !g_error_matches (busy, VK_ERROR, VK_ERROR_BUSY))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&busy),
                                      _("domain '%s': cannot record its activity: "), name);
          return FALSE;
        }
    }
  g_autofree char *why = NULL;
  g_autoptr(VkIdleHistory) h = load_history (path, uuid, &why);
  if (h == NULL)
    {
      if (why && lock)
        vk_ops_notice (ops, _("domain '%s': its activity history is unusable (%s); a new "
                              "one starts"), name, why);
      h = vk_idle_history_new (uuid);
    }
  VkIdleAppend what = vk_idle_history_append (h, s);
  *out = g_steal_pointer (&h);
  /* another vmkeep holds the lock: it is storing a reading of the same
   * moment, which is as good */
  if (lock == NULL || what == VK_IDLE_TOO_CLOSE)
    return TRUE;
  gsize len = 0;
  g_autofree char *text = vk_idle_history_serialize (*out, &len);
  if (!vk_ops_step (ops, "idle-store", error) ||
      !vk_file_write_atomic (path, text, len, 0600, error))
    {
      g_prefix_error (error, _("domain '%s': cannot record its activity: "), name);
      return FALSE;
    }
  *stored = TRUE;
  return TRUE;
}

gboolean
vk_ops_idle_sample (VkOps *ops, guint *stored, GError **error)
{
  if (stored)
    *stored = 0;
  g_autoptr(GPtrArray) stats = vk_conn_domain_stats (ops->conn, error);
  if (stats == NULL)
    return FALSE;
  g_autofree char *dir = prepare_dir (ops, error);
  if (dir == NULL)
    return FALSE;
  g_autoptr(GError) first = NULL;
  for (guint i = 0; i < stats->len; i++)
    {
      const VkDomainStats *st = stats->pdata[i];
      VkIdleSample s = sample_of (st, st->real_us);
      g_autoptr(VkIdleHistory) h = NULL;
      g_autoptr(GError) e = NULL;
      gboolean ok = FALSE;
      if (!record (ops, dir, st->name, st->uuid, &s, &h, &ok, &e) && first == NULL)
        first = g_steal_pointer (&e);
      if (ok && stored)
        (*stored)++;
    }
  if (first)
    {
      g_propagate_error (error, g_steal_pointer (&first));
      return FALSE;
    }
  return TRUE;
}

/* Sleep `seconds`, returning early (FALSE, "interrupted") when the
 * context is cancelled: polls the cancellable's fd, so a signal ends the
 * wait at once. */
static gboolean
wait_cancellable (VkOps *ops, guint seconds, GError **error)
{
  GPollFD pfd;
  gboolean have_fd = g_cancellable_make_pollfd (ops->cancel, &pfd);
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  gboolean ok = TRUE;
  for (;;)
    {
      if (g_cancellable_is_cancelled (ops->cancel))
        {
          ok = vk_fail (error, VK_ERROR_FAILED,
                        _("interrupted while measuring the domains' activity"));
          break;
        }
      gint64 left = deadline - g_get_monotonic_time ();
      if (left <= 0)
        break;
      if (have_fd)
        g_poll (&pfd, 1, (int) MIN ((left + 999) / 1000, 1000));
      else
        g_usleep ((gulong) MIN (left, 200 * 1000));
    }
  if (have_fd)
    g_cancellable_release_fd (ops->cancel);
  return ok;
}

typedef struct {
  VkIdleHistory *h;    /* as stored, or in memory */
  GArray *readings;    /* VkIdleSample of this run */
  gboolean stored;
  char *note;
} Entry;

static void
entry_free (Entry *e)
{
  vk_idle_history_free (e->h);
  g_array_unref (e->readings);
  g_free (e->note);
  g_free (e);
}

/* Record one reading of every domain into `entries` (by UUID). */
static void
record_all (VkOps *ops, const char *dir, const char *dir_why, GPtrArray *stats,
            gint64 real_us_of_first, gint64 mono_of_first, GHashTable *entries)
{
  for (guint i = 0; i < stats->len; i++)
    {
      const VkDomainStats *st = stats->pdata[i];
      /* the time since the first reading by the monotonic clock: a clock
       * set during the wait must not make a rate */
      gint64 real = mono_of_first ? real_us_of_first + (st->mono_us - mono_of_first)
                                  : st->real_us;
      VkIdleSample s = sample_of (st, real);
      Entry *e = g_hash_table_lookup (entries, st->uuid);
      if (e == NULL)
        {
          e = g_new0 (Entry, 1);
          e->readings = g_array_new (FALSE, TRUE, sizeof (VkIdleSample));
          g_hash_table_insert (entries, g_strdup (st->uuid), e);
        }
      g_array_append_val (e->readings, s);
      g_autoptr(VkIdleHistory) h = NULL;
      g_autoptr(GError) err = NULL;
      gboolean stored = FALSE;
      if (!record (ops, dir, st->name, st->uuid, &s, &h, &stored, &err) && h == NULL)
        {
          h = vk_idle_history_new (st->uuid);
          vk_idle_history_append (h, &s);
        }
      if (err != NULL || (dir == NULL && e->note == NULL))
        {
          g_free (e->note);
          e->note = g_strdup (err ? err->message : dir_why);
        }
      e->stored = e->stored || stored;
      vk_idle_history_free (e->h);
      e->h = g_steal_pointer (&h);
    }
}

GPtrArray *
vk_ops_idle_report (VkOps *ops, const VkIdleThresholds *t, guint64 duration_s,
                    guint sample_seconds, GError **error)
{
  if (duration_s < 1 || duration_s > VK_IDLE_MAX_WINDOW_S)
    {
      vk_fail (error, VK_ERROR_USAGE,
               _("an idle duration must be from 1 s to the %d days of activity vmkeep "
                 "keeps"), VK_IDLE_MAX_WINDOW_S / 86400);
      return NULL;
    }
  if (sample_seconds > SAMPLE_MAX_S)
    {
      vk_fail (error, VK_ERROR_USAGE,
               _("a measurement on the spot lasts at most %d s; for longer spans let the "
                 "timer build a history"), SAMPLE_MAX_S);
      return NULL;
    }
  g_autoptr(GPtrArray) first = vk_conn_domain_stats (ops->conn, error);
  if (first == NULL)
    return NULL;
  /* a store this user cannot write (list --idle by an unprivileged user)
   * still gives a report from what can be read */
  g_autoptr(GError) dir_error = NULL;
  g_autofree char *dir = prepare_dir (ops, &dir_error);
  g_autofree char *dir_why = dir ? NULL
                                 : g_strdup_printf (_("the reading was not stored: %s"),
                                                    dir_error->message);
  g_autoptr(GHashTable) entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) entry_free);
  record_all (ops, dir, dir_why, first, 0, 0, entries);
  GPtrArray *last = first;
  g_autoptr(GPtrArray) second = NULL;
  if (sample_seconds > 0)
    {
      if (!wait_cancellable (ops, sample_seconds, error))
        return NULL;
      second = vk_conn_domain_stats (ops->conn, error);
      if (second == NULL)
        return NULL;
      gint64 real0 = first->len ? ((VkDomainStats *) first->pdata[0])->real_us : 0;
      gint64 mono0 = first->len ? ((VkDomainStats *) first->pdata[0])->mono_us : 0;
      record_all (ops, dir, dir_why, second, real0, mono0, entries);
      last = second;
    }

  gboolean any = t->cpu_percent >= 0 || t->net_rate >= 0 || t->block_rate >= 0;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_idle_report_free);
  for (guint i = 0; i < last->len; i++)
    {
      const VkDomainStats *st = last->pdata[i];
      Entry *e = g_hash_table_lookup (entries, st->uuid);
      /* the stored history, and this run's readings it did not take
       * (closer than the spacing to the one before) */
      g_autoptr(GArray) eval = g_array_copy (e->h->samples);
      for (guint r = 0; r < e->readings->len; r++)
        {
          const VkIdleSample *s = &g_array_index (e->readings, VkIdleSample, r);
          if (eval->len == 0 ||
              s->time_ms > g_array_index (eval, VkIdleSample, eval->len - 1).time_ms)
            g_array_append_val (eval, *s);
        }
      VkIdleReport *rep = g_new0 (VkIdleReport, 1);
      rep->name = g_strdup (st->name);
      rep->uuid = g_strdup (st->uuid);
      rep->running = st->state == VK_STATE_RUNNING;
      vk_idle_evaluate ((const VkIdleSample *) eval->data, eval->len, t, &rep->verdict);
      rep->meets = any && rep->verdict.idle_ms >= (gint64) duration_s * 1000;
      rep->stored = e->stored;
      rep->note = g_strdup (e->note);
      g_ptr_array_add (out, rep);
    }
  return out;
}
