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
#include "ops-recover.h"
#include "ops-test.h"
#include "save-header.h"
#include "store.h"
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


/* Undo stops at the first step that fails, and the journal keeps what is
 * left: an older inverse may need the newer ones done first. */
static void
test_stops_at_failure (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (f->ops, "test", "subject", &error);
  g_autofree char *a = touch (f, "a");
  g_assert_true (vk_journal_push (j, VK_UNDO_UNLINK, &error, a, NULL));
  g_autofree char *b = touch (f, "b");
  g_autofree char *back = g_build_filename (f->dir, "missing-dir", "b", NULL);
  g_assert_true (vk_journal_push (j, VK_UNDO_RENAME, &error, b, back, NULL));

  g_assert_false (vk_journal_rollback (j, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, back));
  g_clear_error (&error);
  /* the older step did not run */
  g_assert_true (g_file_test (a, G_FILE_TEST_EXISTS));
  g_autoptr(GPtrArray) orphans = vk_journal_list_orphans (f->ops, &error);
  g_assert_cmpuint (orphans->len, ==, 1);
  VkJournalInfo *info = orphans->pdata[0];
  g_assert_cmpuint (info->steps->len, ==, 2);

  /* once the cause is fixed, recovery finishes both */
  g_autofree char *dir = g_path_get_dirname (back);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  g_assert_true (vk_journal_recover (f->ops, info->path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (back, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (journal_files (f), ==, 0);
}

/* Left by a process that died after the workflow's last step: the
 * "done-if" file exists, so nothing is undone, the journal goes. */
static void
test_done_if (Fixture *f, gconstpointer data)
{
  g_autofree char *a = g_build_filename (f->dir, "a", NULL);
  g_autofree char *done = g_build_filename (f->dir, "image.xml", NULL);
  pid_t pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      VkJournal *j = vk_journal_begin (f->ops, "test", "done", NULL);
      vk_journal_push (j, VK_UNDO_UNLINK, NULL, a, NULL);
      g_file_set_contents (a, "x", -1, NULL);
      vk_journal_set (j, "done-if", done, NULL);
      g_file_set_contents (done, "x", -1, NULL);
      _exit (0);
    }
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = vk_ops_recover_scan (f->ops, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (items->len, ==, 1);
  VkRecoverItem *it = items->pdata[0];
  g_assert_cmpint (it->action, ==, VK_RECOVER_DROP);
  g_assert_true (vk_ops_recover_apply (f->ops, it, &error));
  g_assert_true (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (journal_files (f), ==, 0);
}

/* A journal names domains of one libvirt connection: another connection
 * refuses it (and says which -c to use), changing nothing. */
static void
test_other_uri (Fixture *f, gconstpointer data)
{
  g_autofree char *a = touch (f, "a");
  g_autofree char *jdir = g_build_filename (f->cfg->store_dir, "journal", NULL);
  g_assert_cmpint (g_mkdir_with_parents (jdir, 0700), ==, 0);
  g_autofree char *path = g_build_filename (jdir, "clone-1-00000001.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "{\"version\":1,\"op\":\"clone\",\"subject\":\"x\",\"pid\":1,\"started\":\"-\","
    "\"facts\":{\"uri\":\"qemu+ssh://elsewhere/system\"},"
    "\"undo\":[{\"kind\":\"unlink\",\"args\":[\"%s\"]}]}", a);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_autoptr(GError) error = NULL;
  g_assert_false (vk_journal_recover (f->ops, path, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "-c qemu+ssh://elsewhere/system recover"));
  g_assert_true (g_file_test (a, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* resume-saved brings a domain back however far libvirt's save got:
 * paused (save under way or failed) is resumed, running is left alone,
 * off without a complete state stays off (nothing to restore). */
static void
test_resume_saved (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDomain) d = vk_domain_try_lookup (f->conn, "test");
  g_autofree char *uuid = vk_domain_get_uuid (d);
  g_autofree char *state = g_build_filename (f->dir, "state.sav", NULL);
  g_assert_true (vk_journal_run (f->ops, VK_UNDO_RESUME_SAVED, &error, uuid, state, "", NULL));
  g_assert_cmpint (vk_domain_state (d, NULL), ==, VK_STATE_RUNNING);
  g_assert_true (vk_domain_suspend (d, &error));
  g_assert_true (vk_journal_run (f->ops, VK_UNDO_RESUME_SAVED, &error, uuid, state, "", NULL));
  g_assert_no_error (error);
  g_assert_cmpint (vk_domain_state (d, NULL), ==, VK_STATE_RUNNING);
  g_assert_true (vk_domain_destroy (d, &error));
  g_assert_true (vk_journal_run (f->ops, VK_UNDO_RESUME_SAVED, &error, uuid, state, "", NULL));
  g_assert_cmpint (vk_domain_state (d, NULL), ==, VK_STATE_SHUTOFF);
  /* a state libvirt was still writing ("LibvirtQemudPart") is not one */
  g_assert_true (g_file_set_contents (state, "LibvirtQemudPart and more", -1, NULL));
  g_assert_true (vk_journal_run (f->ops, VK_UNDO_RESUME_SAVED, &error, uuid, state, "", NULL));
  g_assert_no_error (error);
  g_assert_cmpint (vk_domain_state (d, NULL), ==, VK_STATE_SHUTOFF);
}

/* A directory a defined domain's disk chain uses is never removed by an
 * undo: the step fails, naming the domain, and stays in the journal. */
static void
test_rmtree_in_use (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (f->dir, "image", NULL);
  g_autofree char *disks = g_build_filename (dir, "disks", NULL);
  g_assert_cmpint (g_mkdir_with_parents (disks, 0700), ==, 0);
  g_autofree char *base = g_build_filename (disks, "vda.qcow2", NULL);
  g_assert_true (g_file_set_contents (base, "", 0, NULL));
  g_autofree char *xml = g_strdup_printf (
    "<domain type='test'><name>vk-user</name><memory>1024</memory><os><type>hvm</type></os>"
    "<devices><disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>"
    "</devices></domain>", base);
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDomain) d = NULL;
  g_assert_true (vk_domain_define (f->conn, xml, &d, &error));
  g_autoptr(VkJournal) j = vk_journal_begin (f->ops, "test", "subject", &error);
  g_assert_true (vk_journal_push (j, VK_UNDO_RMTREE, &error, dir, NULL));
  g_assert_false (vk_journal_rollback (j, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_nonnull (strstr (error->message, "vk-user (disk vda)"));
  g_clear_error (&error);
  g_assert_true (g_file_test (base, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (journal_files (f), ==, 2);   /* kept, with its (now free) lock */

  /* once no disk uses it, recovery removes it */
  g_assert_true (vk_domain_undefine (d, FALSE, &error));
  g_autoptr(GPtrArray) orphans = vk_journal_list_orphans (f->ops, &error);
  g_assert_cmpuint (orphans->len, ==, 1);
  g_assert_true (vk_journal_recover (f->ops, ((VkJournalInfo *) orphans->pdata[0])->path,
                                     &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* A partial image with a complete state and no journal (an older vmkeep
 * died while libvirtd saved): listed as "bring the VM back", with the
 * domain named in the state; one still being written (locked) is not. */
static void
test_scan_saved_partial (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  /* libvirt's save of a tiny domain (tests/data/save-header/README):
   * the captured head, its zero padding up to the stream, the stream */
  g_autofree char *head = g_test_build_filename (G_TEST_DIST, "tests", "data", "save-header",
                                                 "real-raw.head", NULL);
  g_autofree char *stream = g_test_build_filename (G_TEST_DIST, "tests", "data", "save-header",
                                                   "real-raw.stream", NULL);
  g_autofree char *hbytes = NULL, *sbytes = NULL;
  gsize hlen = 0, slen = 0;
  g_assert_true (g_file_get_contents (head, &hbytes, &hlen, NULL));
  g_assert_true (g_file_get_contents (stream, &sbytes, &slen, NULL));
  g_autoptr(GByteArray) all = g_byte_array_new ();
  g_byte_array_append (all, (guint8 *) hbytes, hlen);
  g_byte_array_set_size (all, 66726);
  memset (all->data + hlen, 0, 66726 - hlen);
  g_byte_array_append (all, (guint8 *) sbytes, slen);
  int lock_fd = -1;
  g_autofree char *partial = vk_store_partial_new (f->cfg->store_dir, "nightly", &lock_fd,
                                                   &error);
  g_assert_no_error (error);
  g_autofree char *state = g_build_filename (partial, VK_STORE_STATE, NULL);
  g_assert_true (g_file_set_contents (state, (char *) all->data, all->len, NULL));
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_assert_true (vk_save_header_read (state, &hdr, &error));

  g_autoptr(GPtrArray) busy = vk_ops_recover_scan (f->ops, &error);
  g_assert_cmpuint (busy->len, ==, 0);   /* its vmkeep still runs */
  close (lock_fd);
  g_autoptr(GPtrArray) items = vk_ops_recover_scan (f->ops, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (items->len, ==, 1);
  VkRecoverItem *it = items->pdata[0];
  g_assert_cmpint (it->action, ==, VK_RECOVER_RESTORE);
  g_assert_cmpstr (it->subject, ==, "nightly");
  g_assert_cmpstr (it->path, ==, partial);
  g_assert_nonnull (it->restore);
  g_assert_cmpstr (it->restore[1], ==, state);
  g_assert_cmpuint (strlen (it->restore[0]), ==, 36);
  /* its domain is not defined here and the test driver cannot restore
   * libvirt's QEMU format: the restore fails and the state is kept */
  g_assert_false (vk_ops_recover_apply (f->ops, it, &error));
  g_assert_nonnull (error);
  g_assert_true (g_file_test (state, G_FILE_TEST_EXISTS));
}

/* commit-overlay is recorded before libvirt's disk snapshot: where the
 * snapshot never happened (the disk's top is not the overlay) nothing is
 * merged, and the overlay file goes unless another domain uses it. */
static void
test_commit_overlay_not_on_top (Fixture *f, gconstpointer data)
{
  g_autofree char *base = touch (f, "base.qcow2");
  g_autofree char *overlay = touch (f, "base.fork-x.qcow2");
  g_autofree char *xml = g_strdup_printf (
    "<domain type='test'><name>vk-src</name><memory>1024</memory><os><type>hvm</type></os>"
    "<devices><disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>"
    "</devices></domain>", base);
  g_autoptr(GError) error = NULL;
  g_autoptr(VkDomain) d = NULL;
  g_assert_true (vk_domain_define (f->conn, xml, &d, &error));
  g_assert_true (vk_domain_start (d, FALSE, &error));
  g_autofree char *uuid = vk_domain_get_uuid (d);
  /* another domain on the overlay: it is kept, the step fails */
  g_autofree char *other = g_strdup_printf (
    "<domain type='test'><name>vk-other</name><memory>1024</memory><os><type>hvm</type></os>"
    "<devices><disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>"
    "</devices></domain>", overlay);
  g_autoptr(VkDomain) o = NULL;
  g_assert_true (vk_domain_define (f->conn, other, &o, &error));
  g_assert_false (vk_journal_run (f->ops, VK_UNDO_COMMIT_OVERLAY, &error, uuid, "vda", overlay,
                                  NULL));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  g_assert_true (g_file_test (overlay, G_FILE_TEST_EXISTS));
  /* no other user: the overlay goes, the source is untouched */
  g_assert_true (vk_domain_undefine (o, FALSE, &error));
  g_assert_true (vk_journal_run (f->ops, VK_UNDO_COMMIT_OVERLAY, &error, uuid, "vda", overlay,
                                 NULL));
  g_assert_no_error (error);
  g_assert_false (g_file_test (overlay, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (base, G_FILE_TEST_EXISTS));
  g_assert_cmpint (vk_domain_state (d, NULL), ==, VK_STATE_RUNNING);
  vk_domain_destroy (d, NULL);
  vk_domain_undefine (d, FALSE, NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/ops/journal/rollback", Fixture, NULL, setup, test_rollback, teardown);
  g_test_add ("/ops/journal/commit", Fixture, NULL, setup, test_commit, teardown);
  g_test_add ("/ops/journal/orphan", Fixture, NULL, setup, test_orphan, teardown);
  g_test_add ("/ops/journal/unwritable", Fixture, NULL, setup, test_unwritable, teardown);
  g_test_add ("/ops/journal/stops-at-failure", Fixture, NULL, setup, test_stops_at_failure,
              teardown);
  g_test_add ("/ops/journal/done-if", Fixture, NULL, setup, test_done_if, teardown);
  g_test_add ("/ops/journal/other-uri", Fixture, NULL, setup, test_other_uri, teardown);
  g_test_add ("/ops/journal/resume-saved", Fixture, NULL, setup, test_resume_saved, teardown);
  g_test_add ("/ops/journal/rmtree-in-use", Fixture, NULL, setup, test_rmtree_in_use,
              teardown);
  g_test_add ("/ops/journal/commit-overlay-not-on-top", Fixture, NULL, setup,
              test_commit_overlay_not_on_top, teardown);
  g_test_add ("/ops/recover/saved-partial", Fixture, NULL, setup, test_scan_saved_partial,
              teardown);
  return g_test_run ();
}
