/* vmkeep — the undo journal of a multi-step workflow. See journal.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "fileutil.h"
#include "journal.h"
#include "store.h"
#include "vk-error.h"

#define JOURNAL_VERSION 1

static const char *const kind_names[VK_UNDO_LAST] = {
  [VK_UNDO_UNLINK] = "unlink",
  [VK_UNDO_RMTREE] = "rmtree",
  [VK_UNDO_RENAME] = "rename",
  [VK_UNDO_UNDEFINE] = "undefine",
  [VK_UNDO_DEFINE] = "define",
  [VK_UNDO_RESUME] = "resume",
  [VK_UNDO_RESTORE] = "restore",
  [VK_UNDO_COMMIT_OVERLAY] = "commit-overlay",
};
static const guint kind_args[VK_UNDO_LAST] = {
  [VK_UNDO_UNLINK] = 1, [VK_UNDO_RMTREE] = 1, [VK_UNDO_RENAME] = 2, [VK_UNDO_UNDEFINE] = 1,
  [VK_UNDO_DEFINE] = 1, [VK_UNDO_RESUME] = 1, [VK_UNDO_RESTORE] = 2,
  [VK_UNDO_COMMIT_OVERLAY] = 3,
};

typedef struct {
  VkUndoKind kind;
  GStrv args;
} Step;

struct _VkJournal {
  VkOps *ops;
  char *op;
  char *subject;
  char *path;        /* STORE/journal/ID.json */
  char *lock_path;   /* STORE/journal/ID.lock, flocked while we run */
  int lock_fd;
  gint64 pid;
  char *started;
  GHashTable *facts;
  GPtrArray *steps;  /* Step* */
};

static void
step_free (Step *s)
{
  g_strfreev (s->args);
  g_free (s);
}

static char *
journal_dir (VkOps *ops)
{
  return g_build_filename (ops->cfg->store_dir, "journal", NULL);
}

static char *
to_json (VkJournal *j)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, JOURNAL_VERSION);
  json_builder_set_member_name (b, "op");
  json_builder_add_string_value (b, j->op);
  json_builder_set_member_name (b, "subject");
  json_builder_add_string_value (b, j->subject);
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, j->pid);
  json_builder_set_member_name (b, "started");
  json_builder_add_string_value (b, j->started);
  json_builder_set_member_name (b, "facts");
  json_builder_begin_object (b);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, j->facts);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      json_builder_set_member_name (b, k);
      json_builder_add_string_value (b, v);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "undo");
  json_builder_begin_array (b);
  for (guint i = 0; i < j->steps->len; i++)
    {
      Step *s = j->steps->pdata[i];
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, kind_names[s->kind]);
      json_builder_set_member_name (b, "args");
      json_builder_begin_array (b);
      for (guint a = 0; s->args[a]; a++)
        json_builder_add_string_value (b, s->args[a]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr(JsonGenerator) g = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  json_generator_set_pretty (g, TRUE);
  return json_generator_to_data (g, NULL);
}

static gboolean
save (VkJournal *j, GError **error)
{
  g_autofree char *text = to_json (j);
  return vk_file_write_atomic (j->path, text, strlen (text), 0600, error);
}

VkJournal *
vk_journal_begin (VkOps *ops, const char *op, const char *subject, GError **error)
{
  if (!vk_store_ensure_root (ops->cfg->store_dir, error))
    return NULL;
  g_autofree char *dir = journal_dir (ops);
  if (!vk_dir_ensure_private (dir, error))
    return NULL;
  g_autoptr(VkJournal) j = g_new0 (VkJournal, 1);
  j->ops = ops;
  j->op = g_strdup (op);
  j->subject = g_strdup (subject);
  j->pid = getpid ();
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  j->started = g_date_time_format_iso8601 (now);
  j->facts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  j->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  j->lock_fd = -1;
  /* ID: op, pid and a random tail; the lock file is created first and
   * held, so a journal file without a held lock is always an orphan */
  g_autofree char *id = g_strdup_printf ("%s-%" G_GINT64_FORMAT "-%08x", op, j->pid,
                                         g_random_int ());
  g_autofree char *lockname = g_strdup_printf ("%s.lock", id);
  g_autofree char *name = g_strdup_printf ("%s.json", id);
  j->lock_path = g_build_filename (dir, lockname, NULL);
  j->path = g_build_filename (dir, name, NULL);
  j->lock_fd = open (j->lock_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (j->lock_fd < 0 || flock (j->lock_fd, LOCK_EX | LOCK_NB) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create journal %s: %s"),
                   j->lock_path, g_strerror (errno));
      return NULL;
    }
  if (!save (j, error))
    return NULL;
  return g_steal_pointer (&j);
}

gboolean
vk_journal_push (VkJournal *j, VkUndoKind kind, GError **error, ...)
{
  g_return_val_if_fail (kind < VK_UNDO_LAST, FALSE);
  GPtrArray *args = g_ptr_array_new ();
  va_list ap;
  va_start (ap, error);
  const char *a;
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, g_strdup (a));
  va_end (ap);
  g_ptr_array_add (args, NULL);
  Step *s = g_new0 (Step, 1);
  s->kind = kind;
  s->args = (GStrv) g_ptr_array_free (args, FALSE);
  g_return_val_if_fail (g_strv_length (s->args) == kind_args[kind], (step_free (s), FALSE));
  g_ptr_array_add (j->steps, s);
  if (!save (j, error))
    {
      /* not on disk: the step must not run */
      g_ptr_array_remove_index (j->steps, j->steps->len - 1);
      return FALSE;
    }
  return TRUE;
}

void
vk_journal_pop (VkJournal *j)
{
  if (j->steps->len == 0)
    return;
  g_ptr_array_remove_index (j->steps, j->steps->len - 1);
  /* a stale record on disk only makes recovery undo something already
   * undone, which every action tolerates */
  (void) save (j, NULL);
}

gboolean
vk_journal_set (VkJournal *j, const char *key, const char *value, GError **error)
{
  g_hash_table_replace (j->facts, g_strdup (key), g_strdup (value));
  return save (j, error);
}

static void
remove_files (VkJournal *j)
{
  g_unlink (j->path);
  g_unlink (j->lock_path);
  if (j->lock_fd >= 0)
    {
      close (j->lock_fd);
      j->lock_fd = -1;
    }
}

void
vk_journal_commit (VkJournal *j)
{
  g_ptr_array_set_size (j->steps, 0);
  remove_files (j);
}

/* ---- the actions --------------------------------------------------------- */

static gboolean
run_step (VkOps *ops, VkUndoKind kind, GStrv a, GError **error)
{
  switch (kind)
    {
    case VK_UNDO_UNLINK:
      if (g_unlink (a[0]) < 0 && errno != ENOENT)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot remove %s: %s"), a[0],
                       g_strerror (errno));
          return FALSE;
        }
      return TRUE;
    case VK_UNDO_RMTREE:
      return vk_rm_rf (a[0], error);
    case VK_UNDO_RENAME:
      if (g_file_test (a[0], G_FILE_TEST_EXISTS) && rename (a[0], a[1]) < 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot move %s back to %s: %s; move it by hand"), a[0], a[1],
                       g_strerror (errno));
          return FALSE;
        }
      return TRUE;
    case VK_UNDO_UNDEFINE:
      {
        g_autoptr(VkDomain) d = vk_domain_try_lookup (ops->conn, a[0]);
        if (d == NULL)
          return TRUE;
        if (vk_domain_state (d, NULL) != VK_STATE_SHUTOFF && !vk_domain_destroy (d, error))
          return FALSE;
        return vk_domain_undefine (d, TRUE, error);
      }
    case VK_UNDO_DEFINE:
      {
        g_autofree char *xml = NULL;
        if (!g_file_get_contents (a[0], &xml, NULL, NULL))
          return TRUE;   /* defined again already and the file removed */
        g_autoptr(VkDomain) d = NULL;
        return vk_domain_define (ops->conn, xml, &d, error);
      }
    case VK_UNDO_RESUME:
      {
        g_autoptr(VkDomain) d = vk_domain_try_lookup (ops->conn, a[0]);
        if (d == NULL || vk_domain_state (d, NULL) != VK_STATE_PAUSED)
          return TRUE;
        return vk_domain_resume (d, error);
      }
    case VK_UNDO_RESTORE:
      {
        if (!g_file_test (a[0], G_FILE_TEST_IS_REGULAR))
          return TRUE;
        g_autofree char *xml = NULL;
        if (a[1][0] && !g_file_get_contents (a[1], &xml, NULL, error))
          return FALSE;
        return vk_conn_restore (ops->conn, a[0], xml, FALSE, FALSE, error);
      }
    case VK_UNDO_COMMIT_OVERLAY:
      {
        g_autoptr(VkDomain) d = vk_domain_try_lookup (ops->conn, a[0]);
        if (d && vk_domain_state (d, NULL) != VK_STATE_SHUTOFF &&
            !vk_domain_commit_top (d, a[1], 120, error))
          return FALSE;
        g_unlink (a[2]);
        return TRUE;
      }
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

static gboolean
run_all (VkOps *ops, GPtrArray *steps, GError **error)
{
  GError *first = NULL;
  for (guint i = steps->len; i > 0; i--)
    {
      Step *s = steps->pdata[i - 1];
      GError *e = NULL;
      if (run_step (ops, s->kind, s->args, &e))
        continue;
      if (first == NULL)
        first = e;
      else
        {
          vk_ops_notice (ops, _("also failed while undoing: %s"), e->message);
          g_error_free (e);
        }
    }
  if (first)
    {
      g_propagate_error (error, first);
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_journal_rollback (VkJournal *j, GError **error)
{
  gboolean ok = run_all (j->ops, j->steps, error);
  if (ok)
    remove_files (j);
  else if (j->lock_fd >= 0)
    {
      /* keep the journal for `vmkeep recover`; the lock goes with us */
      close (j->lock_fd);
      j->lock_fd = -1;
    }
  g_ptr_array_set_size (j->steps, 0);
  return ok;
}

void
vk_journal_free (VkJournal *j)
{
  if (j == NULL)
    return;
  if (j->lock_fd >= 0)
    close (j->lock_fd);
  g_free (j->op);
  g_free (j->subject);
  g_free (j->path);
  g_free (j->lock_path);
  g_free (j->started);
  if (j->facts)
    g_hash_table_unref (j->facts);
  if (j->steps)
    g_ptr_array_unref (j->steps);
  g_free (j);
}

/* ---- orphans -------------------------------------------------------------- */

void
vk_journal_info_free (VkJournalInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->path);
  g_free (info->op);
  g_free (info->subject);
  g_free (info->started);
  if (info->steps)
    g_ptr_array_unref (info->steps);
  g_free (info);
}

/* Parse a journal file; the steps as kinds and argument vectors. */
static gboolean
load (const char *path, VkJournalInfo **info_out, GPtrArray **steps_out, GError **error)
{
  g_autoptr(JsonParser) p = json_parser_new ();
  if (!json_parser_load_from_file (p, path, error))
    return FALSE;
  JsonNode *root = json_parser_get_root (p);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonArray *undo = o && json_object_has_member (o, "undo") &&
                        JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "undo"))
                      ? json_object_get_array_member (o, "undo") : NULL;
  if (undo == NULL || json_object_get_int_member_with_default (o, "version", 0) != JOURNAL_VERSION)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("journal %s is not one this vmkeep reads; remove it by hand"), path);
      return FALSE;
    }
  VkJournalInfo *info = g_new0 (VkJournalInfo, 1);
  info->path = g_strdup (path);
  info->op = g_strdup (json_object_get_string_member_with_default (o, "op", "?"));
  info->subject = g_strdup (json_object_get_string_member_with_default (o, "subject", "?"));
  info->pid = json_object_get_int_member_with_default (o, "pid", 0);
  info->started = g_strdup (json_object_get_string_member_with_default (o, "started", "?"));
  info->steps = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  for (guint i = 0; i < json_array_get_length (undo); i++)
    {
      JsonNode *n = json_array_get_element (undo, i);
      JsonObject *so = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      const char *kind = so ? json_object_get_string_member_with_default (so, "kind", NULL) : NULL;
      JsonArray *args = so && json_object_has_member (so, "args") &&
                            JSON_NODE_HOLDS_ARRAY (json_object_get_member (so, "args"))
                          ? json_object_get_array_member (so, "args") : NULL;
      int k = -1;
      for (int x = 0; kind && x < VK_UNDO_LAST; x++)
        if (g_str_equal (kind, kind_names[x]))
          k = x;
      if (k < 0 || args == NULL || json_array_get_length (args) != kind_args[k])
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("journal %s holds a step vmkeep does not know (%u); remove it by hand"),
                       path, i + 1);
          vk_journal_info_free (info);
          g_ptr_array_unref (steps);
          return FALSE;
        }
      Step *s = g_new0 (Step, 1);
      s->kind = (VkUndoKind) k;
      s->args = g_new0 (char *, kind_args[k] + 1);
      GString *line = g_string_new (kind);
      for (guint a = 0; a < kind_args[k]; a++)
        {
          const char *v = json_array_get_string_element (args, a);
          s->args[a] = g_strdup (v ? v : "");
          g_string_append_printf (line, " %s", s->args[a]);
        }
      g_ptr_array_add (steps, s);
      g_ptr_array_add (info->steps, g_string_free (line, FALSE));
    }
  *info_out = info;
  if (steps_out)
    *steps_out = steps;
  else
    g_ptr_array_unref (steps);
  return TRUE;
}

/* Is the journal at `path` held by a running vmkeep? */
static gboolean
held (const char *path)
{
  g_autofree char *base = g_strndup (path, strlen (path) - strlen (".json"));
  g_autofree char *lock = g_strconcat (base, ".lock", NULL);
  int fd = open (lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return FALSE;
  gboolean busy = flock (fd, LOCK_EX | LOCK_NB) < 0;
  close (fd);
  return busy;
}

GPtrArray *
vk_journal_list_orphans (VkOps *ops, GError **error)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_journal_info_free);
  g_autofree char *dir = journal_dir (ops);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      if (!g_str_has_suffix (n, ".json") || n[0] == '.')
        continue;
      g_autofree char *path = g_build_filename (dir, n, NULL);
      if (held (path))
        continue;
      VkJournalInfo *info = NULL;
      g_autoptr(GError) e = NULL;
      if (load (path, &info, NULL, &e))
        g_ptr_array_add (out, info);
      else
        vk_ops_notice (ops, "%s", e->message);
    }
  return out;
}

gboolean
vk_journal_recover (VkOps *ops, const char *path, GError **error)
{
  g_autofree char *base = g_strndup (path, strlen (path) - strlen (".json"));
  g_autofree char *lock = g_strconcat (base, ".lock", NULL);
  /* take the lock ourselves: two recovering vmkeeps must not race */
  int fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      if (fd >= 0)
        close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_BUSY,
                   _("journal %s is being worked on by another vmkeep"), path);
      return FALSE;
    }
  VkJournalInfo *info = NULL;
  GPtrArray *steps = NULL;
  gboolean ok = load (path, &info, &steps, error) && run_all (ops, steps, error);
  if (ok)
    {
      g_unlink (path);
      g_unlink (lock);
    }
  close (fd);
  vk_journal_info_free (info);
  if (steps)
    g_ptr_array_unref (steps);
  return ok;
}
