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

#include "domain-xml.h"
#include "fileutil.h"
#include "journal.h"
#include "json-build.h"
#include "ops-domain.h"
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
  [VK_UNDO_RESUME_SAVED] = "resume-saved",
};
static const guint kind_args[VK_UNDO_LAST] = {
  [VK_UNDO_UNLINK] = 1, [VK_UNDO_RMTREE] = 1, [VK_UNDO_RENAME] = 2, [VK_UNDO_UNDEFINE] = 1,
  [VK_UNDO_DEFINE] = 1, [VK_UNDO_RESUME] = 1, [VK_UNDO_RESTORE] = 2,
  [VK_UNDO_COMMIT_OVERLAY] = 3, [VK_UNDO_RESUME_SAVED] = 3,
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
  vk_json_int (b, "version", JOURNAL_VERSION);
  vk_json_str (b, "op", j->op);
  vk_json_str (b, "subject", j->subject);
  vk_json_int (b, "pid", j->pid);
  vk_json_str (b, "started", j->started);
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
      vk_json_str (b, "kind", kind_names[s->kind]);
      vk_json_strv (b, "args", (const char *const *) s->args);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return vk_json_builder_text (b);
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
  /* the domains a journal names live on this connection */
  if (ops->conn != NULL)
    g_hash_table_replace (j->facts, g_strdup ("uri"), g_strdup (vk_conn_uri (ops->conn)));
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

/* FALSE (VK_ERROR_REFUSED, naming them) when disks of defined domains
 * other than `skip_uuid` use `path` or a file in it. */
static gboolean
unused (VkOps *ops, const char *path, const char *skip_uuid, GError **error)
{
  g_autoptr(GPtrArray) users = vk_ops_dir_users (ops, path, skip_uuid, error);
  if (users == NULL)
    return FALSE;
  if (users->len == 0)
    return TRUE;
  g_ptr_array_add (users, NULL);
  g_autofree char *list = g_strjoinv (", ", (char **) users->pdata);
  return vk_fail (error, VK_ERROR_REFUSED,
                  _("%s is kept: disks of defined domains still use it (%s)"), path,
                  list);
}

/* Remove a directory vmkeep made, unless a defined domain's disk chain
 * still uses a file in it: then it stays, and so does the journal. */
static gboolean
rmtree_unused (VkOps *ops, const char *dir, GError **error)
{
  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    return TRUE;
  if (ops->conn != NULL && !unused (ops, dir, NULL, error))
    return FALSE;
  return vk_rm_rf (dir, error);
}

/* The file disk `target` of the running domain `d` reads and writes. */
static char *
live_disk_source (VkDomain *d, const char *target, GError **error)
{
  g_autoptr(xmlDoc) doc = vk_ops_domain_doc (d, FALSE, error);
  xmlNodePtr devs = doc ? vk_domain_devices (doc) : NULL;
  for (xmlNodePtr n = devs ? devs->children : NULL; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "disk"))
        continue;
      g_autofree char *dev = vk_xml_child_prop (n, "target", "dev");
      if (g_strcmp0 (dev, target) == 0)
        return vk_xml_child_prop (n, "source", "file");
    }
  if (doc != NULL)
    g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND, _("the domain has no disk %s"), target);
  return NULL;
}

/* Recorded before libvirt's disk snapshot, which a stopped vmkeep cannot
 * stop libvirtd from completing: the overlay is merged back only where it
 * is the disk's top, and removed only when nothing uses it. */
/* An active commit needs its base writable. A domain left paused after
 * libvirt wrote its memory (a fork's snapshot that libvirtd completed
 * after vmkeep died) has its block nodes inactive in QEMU, as a migration
 * leaves them, until it runs again: QEMU 7.2 under libvirt 9.0 then
 * refuses the commit ("Block node is read-only"; libvirt 11 reactivates
 * them itself). So a paused domain whose commit fails runs for the commit
 * and is paused again after it. */
static gboolean
commit_top (VkDomain *d, const char *target, GError **error)
{
  g_autoptr(GError) first = NULL;
  if (vk_domain_commit_top (d, target, 120, &first))
    return TRUE;
  if (vk_domain_state (d, NULL) != VK_STATE_PAUSED || !vk_domain_resume (d, NULL))
    {
      g_propagate_error (error, g_steal_pointer (&first));
      return FALSE;
    }
  gboolean ok = vk_domain_commit_top (d, target, 120, error);
  g_autoptr(GError) again = NULL;
  if (!vk_domain_suspend (d, ok ? error : &again))
    return FALSE;
  return ok;
}

static gboolean
commit_overlay (VkOps *ops, const char *uuid, const char *target, const char *overlay,
                GError **error)
{
  g_autoptr(VkDomain) d = vk_domain_try_lookup (ops->conn, uuid);
  if (d && vk_domain_state (d, NULL) != VK_STATE_SHUTOFF)
    {
      g_autofree char *top = live_disk_source (d, target, error);
      if (top == NULL)
        return FALSE;
      if (g_str_equal (top, overlay) && !commit_top (d, target, error))
        return FALSE;
    }
  if (!g_file_test (overlay, G_FILE_TEST_EXISTS))
    return TRUE;
  /* the domain itself is left out: its persistent definition names the
   * overlay until the older "define" step puts it back */
  if (!unused (ops, overlay, uuid, error))
    return FALSE;
  if (g_unlink (overlay) == 0 || errno == ENOENT)
    return TRUE;
  return vk_fail (error, VK_ERROR_FAILED, _("cannot remove %s: %s"), overlay, g_strerror (errno));
}

/* Could `state` be a save libvirt completed? Only libvirt's own marker of
 * a save under way (the magic "LibvirtQemudPart", replaced when the save
 * completes) or a file too short to hold any magic says no: a state whose
 * header this vmkeep does not know is still a VM's memory, kept for
 * libvirt to judge. */
static gboolean
save_complete (const char *state)
{
  char magic[16];
  int fd = open (state, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return FALSE;
  gssize n = vk_read_full (fd, magic, sizeof magic, 0, NULL);
  close (fd);
  return n == (gssize) sizeof magic && memcmp (magic, "LibvirtQemudPart", sizeof magic) != 0;
}

static gboolean
resume_saved (VkOps *ops, const char *uuid, const char *state, const char *xml_file,
              GError **error)
{
  g_autoptr(VkDomain) d = vk_domain_try_lookup (ops->conn, uuid);
  VkDomainState st = d ? vk_domain_state (d, NULL) : VK_STATE_SHUTOFF;
  if (st == VK_STATE_PAUSED)
    return vk_domain_resume (d, error);
  if (st != VK_STATE_SHUTOFF)
    return TRUE;   /* it runs: the save never happened or was undone */
  if (!g_file_test (state, G_FILE_TEST_EXISTS))
    return TRUE;   /* recorded ahead for a place the state never reached */
  if (!save_complete (state))
    {
      /* libvirt stops a domain only once its save is complete: an off
       * domain without one was stopped by someone else */
      vk_ops_notice (ops, _("%s holds no complete save; the domain %s stays off"), state,
                     uuid);
      return TRUE;
    }
  g_autofree char *xml = NULL;
  if (xml_file[0] && g_file_test (xml_file, G_FILE_TEST_IS_REGULAR) &&
      !g_file_get_contents (xml_file, &xml, NULL, error))
    return FALSE;
  return vk_conn_restore (ops->conn, state, xml, FALSE, FALSE, error);
}

static gboolean
run_step (VkOps *ops, VkUndoKind kind, GStrv a, GError **error)
{
  /* a step on a domain decides by what libvirt says about it ("not
   * there" means nothing to undo): never on a connection that is gone */
  if (kind != VK_UNDO_UNLINK && kind != VK_UNDO_RENAME && ops->conn != NULL &&
      !vk_conn_is_alive (ops->conn))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("libvirtd does not answer"));
      return FALSE;
    }
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
      return rmtree_unused (ops, a[0], error);
    case VK_UNDO_RENAME:
      if (!g_file_test (a[0], G_FILE_TEST_EXISTS))
        return TRUE;
      if (rename (a[0], a[1]) < 0)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("cannot move %s back to %s: %s; move it by hand"), a[0], a[1],
                       g_strerror (errno));
          return FALSE;
        }
      return vk_fsync_parent (a[1], error);
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
      return commit_overlay (ops, a[0], a[1], a[2], error);
    case VK_UNDO_RESUME_SAVED:
      return resume_saved (ops, a[0], a[1], a[2], error);
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

gboolean
vk_journal_run (VkOps *ops, VkUndoKind kind, GError **error, ...)
{
  g_return_val_if_fail (kind < VK_UNDO_LAST, FALSE);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;
  va_start (ap, error);
  const char *a;
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (char *) a);
  va_end (ap);
  g_return_val_if_fail (args->len == kind_args[kind], FALSE);
  g_ptr_array_add (args, NULL);
  return run_step (ops, kind, (GStrv) args->pdata, error);
}

/* Undo `steps`, newest first, stopping at the first that fails: what is
 * left to undo stays in `steps`. */
static gboolean
run_all (VkOps *ops, GPtrArray *steps, GError **error)
{
  while (steps->len > 0)
    {
      Step *s = steps->pdata[steps->len - 1];
      if (!run_step (ops, s->kind, s->args, error))
        return FALSE;
      g_ptr_array_remove_index (steps, steps->len - 1);
    }
  return TRUE;
}

gboolean
vk_journal_rollback (VkJournal *j, GError **error)
{
  gboolean ok = run_all (j->ops, j->steps, error);
  if (ok)
    remove_files (j);
  else
    {
      /* keep what is left to undo for the next vmkeep or `vmkeep
       * recover`; the lock goes with us */
      (void) save (j, NULL);
      if (j->lock_fd >= 0)
        {
          close (j->lock_fd);
          j->lock_fd = -1;
        }
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
  g_free (info->lock_domain);
  g_free (info->lock_image);
  g_free (info->uri);
  if (info->steps)
    g_ptr_array_unref (info->steps);
  g_free (info);
}

static JsonArray *
array_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

/* One step of a journal file, or NULL when vmkeep does not know it. */
static Step *
load_step (JsonNode *n)
{
  JsonObject *so = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
  const char *kind = so ? json_object_get_string_member_with_default (so, "kind", NULL) : NULL;
  JsonArray *args = array_member (so, "args");
  int k = -1;
  for (int x = 0; kind && x < VK_UNDO_LAST; x++)
    if (g_str_equal (kind, kind_names[x]))
      k = x;
  if (k < 0 || args == NULL || json_array_get_length (args) != kind_args[k])
    return NULL;
  Step *s = g_new0 (Step, 1);
  s->kind = (VkUndoKind) k;
  s->args = g_new0 (char *, kind_args[k] + 1);
  for (guint a = 0; a < kind_args[k]; a++)
    {
      JsonNode *v = json_array_get_element (args, a);
      const char *str = JSON_NODE_HOLDS_VALUE (v) ? json_node_get_string (v) : NULL;
      s->args[a] = g_strdup (str ? str : "");
    }
  return s;
}

/* A journal file read back (not locked: the caller locks it). */
static VkJournal *
load (VkOps *ops, const char *path, GError **error)
{
  g_autoptr(JsonParser) p = json_parser_new ();
  if (!json_parser_load_from_file (p, path, error))
    return NULL;
  JsonNode *root = json_parser_get_root (p);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonArray *undo = array_member (o, "undo");
  if (undo == NULL || json_object_get_int_member_with_default (o, "version", 0) != JOURNAL_VERSION)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("journal %s is not one this vmkeep reads; remove it by hand"), path);
      return NULL;
    }
  g_autoptr(VkJournal) j = g_new0 (VkJournal, 1);
  j->ops = ops;
  j->lock_fd = -1;
  j->path = g_strdup (path);
  g_autofree char *base = g_strndup (path, strlen (path) - strlen (".json"));
  j->lock_path = g_strconcat (base, ".lock", NULL);
  j->op = g_strdup (json_object_get_string_member_with_default (o, "op", "?"));
  j->subject = g_strdup (json_object_get_string_member_with_default (o, "subject", "?"));
  j->pid = json_object_get_int_member_with_default (o, "pid", 0);
  j->started = g_strdup (json_object_get_string_member_with_default (o, "started", "?"));
  j->facts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  j->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  JsonNode *fn = json_object_get_member (o, "facts");
  if (fn && JSON_NODE_HOLDS_OBJECT (fn))
    {
      JsonObject *fo = json_node_get_object (fn);
      g_autoptr(GList) keys = json_object_get_members (fo);
      for (GList *l = keys; l; l = l->next)
        {
          const char *v = json_object_get_string_member_with_default (fo, l->data, NULL);
          if (v)
            g_hash_table_replace (j->facts, g_strdup (l->data), g_strdup (v));
        }
    }
  for (guint i = 0; i < json_array_get_length (undo); i++)
    {
      Step *st = load_step (json_array_get_element (undo, i));
      if (st == NULL)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("journal %s holds a step vmkeep does not know (%u); remove it by hand"),
                       path, i + 1);
          return NULL;
        }
      g_ptr_array_add (j->steps, st);
    }
  return g_steal_pointer (&j);
}

static VkJournalInfo *
info_of (VkJournal *j)
{
  VkJournalInfo *info = g_new0 (VkJournalInfo, 1);
  info->path = g_strdup (j->path);
  info->op = g_strdup (j->op);
  info->subject = g_strdup (j->subject);
  info->pid = j->pid;
  info->started = g_strdup (j->started);
  info->lock_domain = g_strdup (g_hash_table_lookup (j->facts, "lock-domain"));
  info->lock_image = g_strdup (g_hash_table_lookup (j->facts, "lock-image"));
  info->uri = g_strdup (g_hash_table_lookup (j->facts, "uri"));
  const char *done_if = g_hash_table_lookup (j->facts, "done-if");
  info->completed = done_if != NULL && g_file_test (done_if, G_FILE_TEST_EXISTS);
  info->steps = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < j->steps->len; i++)
    {
      Step *st = j->steps->pdata[i];
      g_autofree char *args = g_strjoinv (" ", st->args);
      g_ptr_array_add (info->steps, g_strdup_printf ("%s %s", kind_names[st->kind], args));
    }
  return info;
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
      g_autoptr(GError) e = NULL;
      g_autoptr(VkJournal) j = load (ops, path, &e);
      if (j != NULL)
        g_ptr_array_add (out, info_of (j));
      else
        vk_ops_notice (ops, "%s", e->message);
    }
  return out;
}

gboolean
vk_journal_recover (VkOps *ops, const char *path, GError **error)
{
  g_autoptr(VkJournal) j = load (ops, path, error);
  if (j == NULL)
    return FALSE;
  /* take the journal's lock ourselves (two recovering vmkeeps must not
   * race), then the locks the interrupted workflow held */
  j->lock_fd = open (j->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (j->lock_fd < 0 || flock (j->lock_fd, LOCK_EX | LOCK_NB) < 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_BUSY,
                   _("journal %s is being worked on by another vmkeep"), path);
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      /* recovered by another vmkeep between our read and our lock */
      g_unlink (j->lock_path);
      return TRUE;
    }
  const char *uri = g_hash_table_lookup (j->facts, "uri");
  if (uri != NULL && ops->conn != NULL && !g_str_equal (uri, vk_conn_uri (ops->conn)))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("journal %s belongs to the libvirt connection %s; run "
                     "'vmkeep -c %s recover --apply'"), path, uri, uri);
      return FALSE;
    }
  /* the workflow had completed: only its journal was left */
  const char *done_if = g_hash_table_lookup (j->facts, "done-if");
  if (done_if != NULL && g_file_test (done_if, G_FILE_TEST_EXISTS))
    {
      vk_journal_commit (j);
      return TRUE;
    }
  const char *dom = g_hash_table_lookup (j->facts, "lock-domain");
  const char *image = g_hash_table_lookup (j->facts, "lock-image");
  g_autoptr(VkLock) dlock = dom ? vk_ops_lock_domain (ops, dom, j->subject, error) : NULL;
  if (dom && dlock == NULL)
    return FALSE;
  g_autoptr(VkLock) ilock = image ? vk_ops_lock_image (ops, image, FALSE, error) : NULL;
  if (image && ilock == NULL)
    return FALSE;
  return vk_journal_rollback (j, error);
}
