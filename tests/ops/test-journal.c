/* tests/ops: the undo journal (src/ops/journal.c) against test:///default.
 *
 * A journal records each step's inverse before the step: rollback undoes
 * newest first and leaves nothing; commit keeps the results; a journal
 * whose process is gone is listed as an orphan and recovered by another
 * "process" the same way. */
#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "journal.h"
#include "ops-test.h"
#include "ops.h"
#include "virt.h"
#include "vk-error.h"

typedef struct {
  char *dir;
  VkConfig *cfg;
  VkConn *conn;
  VkOps *ops;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
  vk_ops_test_open ("vk-ops", &f->dir, &f->cfg, &f->conn, &f->ops);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  vk_ops_test_close (f->dir, f->cfg, f->conn, f->ops);
}

static char *
touch (Fixture *f, const char *name)
{
  char *p = g_build_filename (f->dir, name, NULL);
  g_assert_true (g_file_set_contents (p, name, -1, NULL));
  return p;
}

static guint
journal_files (Fixture *f)
{
  g_autofree char *d = g_build_filename (f->cfg->store_dir, "journal", NULL);
  g_autoptr(GDir) dir = g_dir_open (d, 0, NULL);
  guint n = 0;
  while (dir && g_dir_read_name (dir))
    n++;
  return n;
}

static const char domain_xml[] =
  "<domain type='test'><name>vk-journal-test</name><memory>1024</memory>"
  "<os><type>hvm</type></os></domain>";

static void
test_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (f->ops, "test", "subject", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (journal_files (f), ==, 2);   /* the journal and its lock */

  /* step 1: a file is created */
  g_autofree char *a = g_build_filename (f->dir, "a", NULL);
  g_assert_true (vk_journal_push (j, VK_UNDO_UNLINK, &error, a, NULL));
  g_free (touch (f, "a"));
  /* step 2: a file moved aside */
  g_autofree char *b = touch (f, "b");
  g_autofree char *b2 = g_build_filename (f->dir, "b.moved", NULL);
  g_assert_true (vk_journal_push (j, VK_UNDO_RENAME, &error, b2, b, NULL));
  g_assert_cmpint (rename (b, b2), ==, 0);
  /* step 3: a domain defined */
  g_autoptr(VkDomain) d = NULL;
  g_assert_true (vk_domain_define (f->conn, domain_xml, &d, &error));
  g_autofree char *uuid = vk_domain_get_uuid (d);
  g_assert_true (vk_journal_push (j, VK_UNDO_UNDEFINE, &error, uuid, NULL));

  g_assert_true (vk_journal_rollback (j, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (b, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (b2, G_FILE_TEST_EXISTS));
  g_autoptr(VkDomain) gone = vk_domain_try_lookup (f->conn, uuid);
  g_assert_null (gone);
  g_assert_cmpuint (journal_files (f), ==, 0);
  /* undoing twice is harmless (every action is idempotent) */
  g_assert_true (vk_journal_rollback (j, &error));
}

static void
test_commit (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (f->ops, "test", "subject", &error);
  g_autofree char *a = g_build_filename (f->dir, "a", NULL);
  g_assert_true (vk_journal_push (j, VK_UNDO_UNLINK, &error, a, NULL));
  g_free (touch (f, "a"));
  vk_journal_commit (j);
  g_assert_true (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (journal_files (f), ==, 0);
}

/* A journal whose process died: simulated by closing its lock without
 * rolling back (what the kernel does when the process is killed). */
static void
test_orphan (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *a = g_build_filename (f->dir, "a", NULL);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      VkJournal *j = vk_journal_begin (f->ops, "test", "victim", NULL);
      vk_journal_push (j, VK_UNDO_UNLINK, NULL, a, NULL);
      g_file_set_contents (a, "x", -1, NULL);
      _exit (0);   /* "SIGKILL": nothing undone, the lock released */
    }
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (g_file_test (a, G_FILE_TEST_EXISTS));

  /* a running journal is not an orphan */
  g_autoptr(VkJournal) mine = vk_journal_begin (f->ops, "test", "alive", &error);
  g_autoptr(GPtrArray) orphans = vk_journal_list_orphans (f->ops, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (orphans->len, ==, 1);
  VkJournalInfo *info = orphans->pdata[0];
  g_assert_cmpstr (info->op, ==, "test");
  g_assert_cmpstr (info->subject, ==, "victim");
  g_assert_cmpint (info->pid, ==, pid);
  g_assert_cmpuint (info->steps->len, ==, 1);
  g_assert_true (g_str_has_prefix (info->steps->pdata[0], "unlink "));

  g_assert_true (vk_journal_recover (f->ops, info->path, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_autoptr(GPtrArray) after = vk_journal_list_orphans (f->ops, &error);
  g_assert_cmpuint (after->len, ==, 0);
  vk_journal_commit (mine);
}

/* A step whose record cannot be written must not run: push fails, and
 * the in-memory journal does not keep the step either. The journal file's
 * name is made a directory, so the atomic rename over it fails (as root,
 * where modes would not stop a write). */
static void
test_unwritable (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (f->ops, "test", "subject", &error);
  g_autofree char *jdir = g_build_filename (f->cfg->store_dir, "journal", NULL);
  g_autoptr(GDir) d = g_dir_open (jdir, 0, NULL);
  g_autofree char *json = NULL;
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (n, ".json"))
      json = g_build_filename (jdir, n, NULL);
  g_assert_nonnull (json);
  g_assert_cmpint (g_unlink (json), ==, 0);
  g_assert_cmpint (g_mkdir (json, 0700), ==, 0);
  g_autofree char *a = g_build_filename (f->dir, "a", NULL);
  g_assert_false (vk_journal_push (j, VK_UNDO_UNLINK, &error, a, NULL));
  g_assert_nonnull (error);
  g_clear_error (&error);
  /* the refused step is not undone later either: nothing was recorded */
  g_free (touch (f, "a"));
  g_assert_cmpint (g_rmdir (json), ==, 0);
  g_assert_true (vk_journal_rollback (j, &error));
  g_assert_true (g_file_test (a, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ops/journal/rollback", Fixture, NULL, setup, test_rollback, teardown);
  g_test_add ("/ops/journal/commit", Fixture, NULL, setup, test_commit, teardown);
  g_test_add ("/ops/journal/orphan", Fixture, NULL, setup, test_orphan, teardown);
  g_test_add ("/ops/journal/unwritable", Fixture, NULL, setup, test_unwritable, teardown);
  return g_test_run ();
}
