/* Unit tests for src/core/save-stream.c: what a clone's restore reads.
 *
 * The FIFO path (the output is a pipe) splices the stream and hashes the
 * source file in a second thread; the regular-file path copies and hashes
 * inline. Both must deliver the new header followed by the source's bytes
 * from the stream offset on, and with a wrong checksum must fail with
 * VK_ERROR_REFUSED before the last bytes went out. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "save-stream.h"
#include "sha256.h"
#include "vk-error.h"

typedef struct {
  char *dir;
  char *src;          /* "state file": old header, then the stream */
  GBytes *content;
  guint64 offset;     /* stream offset */
  char *sha;          /* of the whole source file */
  GBytes *header;     /* the clone's header: same length as the old one */
} Fixture;

static void
fixture_set_up (Fixture *f, gsize size)
{
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp ("vk-save-stream-XXXXXX", &error);
  g_assert_no_error (error);
  f->src = g_build_filename (f->dir, "state.sav", NULL);
  guint8 *data = g_malloc (size);
  GRand *r = g_rand_new_with_seed (size);
  for (gsize i = 0; i < size; i++)
    data[i] = g_rand_int (r) & 0xff;
  g_rand_free (r);
  f->offset = MIN (size, 4096);
  memset (data, 'O', f->offset);
  g_file_set_contents (f->src, (const char *) data, size, &error);
  g_assert_no_error (error);
  f->sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, size);
  f->content = g_bytes_new_take (data, size);
  guint8 *h = g_malloc (f->offset);
  memset (h, 'N', f->offset);
  f->header = g_bytes_new_take (h, f->offset);
}

static void
fixture_tear_down (Fixture *f)
{
  g_unlink (f->src);
  g_rmdir (f->dir);
  g_free (f->src);
  g_free (f->dir);
  g_free (f->sha);
  g_bytes_unref (f->content);
  g_bytes_unref (f->header);
}

/* header + content[offset:] */
static GBytes *
expected (Fixture *f)
{
  gsize n = 0;
  const guint8 *c = g_bytes_get_data (f->content, &n);
  GByteArray *b = g_byte_array_new ();
  gsize hl = 0;
  const guint8 *h = g_bytes_get_data (f->header, &hl);
  g_byte_array_append (b, h, hl);
  g_byte_array_append (b, c + f->offset, n - f->offset);
  return g_byte_array_free_to_bytes (b);
}

typedef struct {
  int fd;
  gsize stop_after;   /* close the read end after this many bytes (0: never) */
  GByteArray *got;
  gint progress;      /* bytes got so far, for other threads */
} Reader;

static gpointer
reader_thread (gpointer p)
{
  Reader *r = p;
  guint8 buf[65536];
  for (;;)
    {
      gsize want = sizeof buf;
      if (r->stop_after && r->got->len + want > r->stop_after)
        want = r->stop_after - r->got->len;
      if (want == 0)
        break;
      ssize_t n = read (r->fd, buf, want);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      g_byte_array_append (r->got, buf, n);
      g_atomic_int_set (&r->progress, (gint) MIN (r->got->len, G_MAXINT));
    }
  close (r->fd);
  return NULL;
}

/* Feed into a pipe; returns what the reader got. */
static GBytes *
feed_pipe (Fixture *f, const char *sha, GCancellable *cancel, gsize stop_after, gboolean *ok,
           GError **error)
{
  int p[2];
  g_assert_cmpint (pipe (p), ==, 0);
  Reader r = { p[0], stop_after, g_byte_array_new (), 0 };
  GThread *t = g_thread_new ("reader", reader_thread, &r);
  *ok = vk_save_stream_feed (p[1], f->header, f->src, f->offset, sha, cancel, error);
  close (p[1]);
  g_thread_join (t);
  return g_byte_array_free_to_bytes (r.got);
}

static void
test_pipe_sizes (void)
{
  /* below the held-back tail, around one chunk, several chunks + odd */
  const gsize sizes[] = { 5000, (1u << 20) + 4096, (9u << 20) + 12345 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      Fixture f = { 0 };
      fixture_set_up (&f, sizes[i]);
      for (int with_sha = 0; with_sha < 2; with_sha++)
        {
          g_autoptr(GError) error = NULL;
          gboolean ok = FALSE;
          g_autoptr(GBytes) got = feed_pipe (&f, with_sha ? f.sha : NULL, NULL, 0, &ok, &error);
          g_assert_no_error (error);
          g_assert_true (ok);
          g_autoptr(GBytes) want = expected (&f);
          g_assert_true (g_bytes_equal (got, want));
        }
      fixture_tear_down (&f);
    }
}

static void
test_pipe_wrong_sum (void)
{
  Fixture f = { 0 };
  fixture_set_up (&f, (5u << 20) + 77);
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;
  const char *bad = "0000000000000000000000000000000000000000000000000000000000000000";
  g_autoptr(GBytes) got = feed_pipe (&f, bad, NULL, 0, &ok, &error);
  g_assert_false (ok);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_autoptr(GBytes) want = expected (&f);
  /* a strict prefix: the end never went out */
  g_assert_cmpuint (g_bytes_get_size (got), <, g_bytes_get_size (want));
  g_autoptr(GBytes) head = g_bytes_new_from_bytes (want, 0, g_bytes_get_size (got));
  g_assert_true (g_bytes_equal (got, head));
  fixture_tear_down (&f);
}

static void
test_pipe_reader_gone (void)
{
  Fixture f = { 0 };
  fixture_set_up (&f, (6u << 20) + 1);
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;
  g_autoptr(GBytes) got = feed_pipe (&f, f.sha, NULL, 100000, &ok, &error);
  g_assert_false (ok);
  /* a reader that closed is told apart from other failures: the FIFO
   * server serves the next open instead */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  fixture_tear_down (&f);
}

/* ---- the FIFO server: every open of the path gets its own pipe --------- */

typedef struct {
  const char *path;
  const gsize *stops;   /* per open: bytes to read before closing (0: all) */
  guint opens;
  GByteArray *last;     /* what the last open read */
  GCancellable *done;   /* the "restore returned" cancellable of the server */
} Opener;

/* What libvirt does: open the path (blocking until the writer is there),
 * read, close; as many times as `opens`. */
static gpointer
opener_thread (gpointer p)
{
  Opener *o = p;
  for (guint i = 0; i < o->opens; i++)
    {
      int fd = open (o->path, O_RDONLY | O_CLOEXEC);
      g_assert_cmpint (fd, >=, 0);
      Reader r = { fd, o->stops[i], g_byte_array_new (), 0 };
      reader_thread (&r);
      if (o->last)
        g_byte_array_unref (o->last);
      o->last = r.got;
    }
  g_cancellable_cancel (o->done);
  return NULL;
}

typedef struct {
  Fixture *f;
  const char *sha;
} ServeData;

static gboolean
serve_feed (int fd, gpointer p, GError **error)
{
  ServeData *d = p;
  return vk_save_stream_feed (fd, d->f->header, d->f->src, d->f->offset, d->sha, NULL, error);
}

static void
serve (Fixture *f, const char *sha, const gsize *stops, guint opens, gboolean *ok,
       guint *served, guint *completed, GBytes **last, GError **error)
{
  g_autofree char *fifo = g_build_filename (f->dir, "state.fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_autoptr(GCancellable) done = g_cancellable_new ();
  Opener o = { fifo, stops, opens, NULL, done };
  GThread *t = g_thread_new ("opener", opener_thread, &o);
  ServeData d = { f, sha };
  *ok = vk_fifo_serve (fifo, serve_feed, &d, done, served, completed, error);
  g_thread_join (t);
  /* the server never leaves its FIFO without a fresh one in its place */
  g_assert_true (g_file_test (fifo, G_FILE_TEST_EXISTS));
  g_unlink (fifo);
  *last = g_byte_array_free_to_bytes (o.last);
}

static void
test_serve_one_open (void)
{
  /* libvirt 9.0: one open that reads everything */
  Fixture f = { 0 };
  fixture_set_up (&f, (3u << 20) + 999);
  const gsize stops[] = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  gboolean ok = FALSE;
  guint served = 0, completed = 0;
  serve (&f, f.sha, stops, 1, &ok, &served, &completed, &got, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_cmpuint (served, ==, 1);
  g_assert_cmpuint (completed, ==, 1);
  g_autoptr(GBytes) want = expected (&f);
  g_assert_true (g_bytes_equal (got, want));
  fixture_tear_down (&f);
}

static void
test_serve_header_then_all (void)
{
  /* libvirt 11: an open that reads the header and closes, then one that
   * reads it all from the start; and a third pattern with a reader that
   * closes in the middle of the stream first */
  const gsize sizes[] = { 5000, (9u << 20) + 12345 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      Fixture f = { 0 };
      fixture_set_up (&f, sizes[i]);
      const gsize stops[] = { f.offset, MIN (sizes[i] - 1, f.offset + 100000), 0 };
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) got = NULL;
      gboolean ok = FALSE;
      guint served = 0, completed = 0;
      serve (&f, f.sha, stops, 3, &ok, &served, &completed, &got, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
      g_assert_cmpuint (served, ==, 3);
      /* a pipe cannot tell how much of what went in was read: a small
       * state fits the pipe whole, whoever closes early */
      g_assert_cmpuint (completed, >=, 1);
      g_autoptr(GBytes) want = expected (&f);
      g_assert_true (g_bytes_equal (got, want));
      fixture_tear_down (&f);
    }
}

static void
test_serve_never_complete (void)
{
  /* a restore that failed: readers only ever took the header (of a state
   * larger than any pipe, so the writer does notice) */
  Fixture f = { 0 };
  fixture_set_up (&f, (80u << 20) + 5);
  const gsize stops[] = { f.offset, f.offset };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  gboolean ok = TRUE;
  guint served = 0, completed = 0;
  serve (&f, f.sha, stops, 2, &ok, &served, &completed, &got, &error);
  g_assert_false (ok);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_cmpuint (served, ==, 2);
  g_assert_cmpuint (completed, ==, 0);
  fixture_tear_down (&f);
}

static void
test_serve_wrong_sum (void)
{
  /* a damaged state ends serving at once, whoever reads next */
  Fixture f = { 0 };
  fixture_set_up (&f, (3u << 20) + 1);
  const gsize stops[] = { f.offset, 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  gboolean ok = TRUE;
  const char *bad = "1111111111111111111111111111111111111111111111111111111111111111";
  serve (&f, bad, stops, 2, &ok, NULL, NULL, &got, &error);
  g_assert_false (ok);
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_assert_cmpuint (g_bytes_get_size (got), <, (3u << 20) + 1 - f.offset + f.offset);
  fixture_tear_down (&f);
}

static void
test_pipe_cancelled (void)
{
  Fixture f = { 0 };
  fixture_set_up (&f, (3u << 20) + 1);
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;
  g_autoptr(GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_autoptr(GBytes) got = feed_pipe (&f, f.sha, cancel, 0, &ok, &error);
  g_assert_false (ok);
  g_assert_nonnull (error);
  g_assert_cmpuint (g_bytes_get_size (got), <, g_bytes_get_size (f.content));
  fixture_tear_down (&f);
}

/* Output to a regular file: the copying path. */
/* A clone's state as a file: header + the source's stream, holes kept. */
static void
test_file_write (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vk-save-file-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *src = g_build_filename (dir, "state.sav", NULL);
  g_autofree char *dst = g_build_filename (dir, "clone.sav", NULL);
  /* old header (4 KiB + 100 of 'O'), 1 MiB of data, a 64 MiB hole, 1 MiB
   * of data, a 16 MiB hole at the end: the shape of a sparse state */
  const gsize off = 4096 + 100, mib = 1u << 20;
  int fd = open (src, O_WRONLY | O_CREAT | O_EXCL, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_autofree guint8 *head = g_malloc (off);
  memset (head, 'O', off);
  g_autofree guint8 *data = g_malloc (mib);
  for (gsize i = 0; i < mib; i++)
    data[i] = (guint8) (i * 7 + 3);
  gsize total = off + mib + 64 * mib + mib + 16 * mib;
  g_assert_cmpint (pwrite (fd, head, off, 0), ==, (ssize_t) off);
  g_assert_cmpint (pwrite (fd, data, mib, off), ==, (ssize_t) mib);
  g_assert_cmpint (pwrite (fd, data, mib, off + 65 * mib), ==, (ssize_t) mib);
  g_assert_cmpint (ftruncate (fd, total), ==, 0);
  close (fd);
  g_autofree guint8 *h = g_malloc (off);
  memset (h, 'N', off);
  g_autoptr(GBytes) header = g_bytes_new_take (g_steal_pointer (&h), off);

  const char *how = NULL;
  g_assert_true (vk_save_file_write (dst, header, src, off, &how, &error));
  g_assert_no_error (error);
  /* ext4 and tmpfs cannot share extents: the stream was copied */
  g_assert_true (g_strcmp0 (how, "copy") == 0 || g_strcmp0 (how, "reflink") == 0);
  struct stat st;
  g_assert_cmpint (stat (dst, &st), ==, 0);
  g_assert_cmpuint (st.st_size, ==, total);
  g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
  /* the holes stayed holes: about 2 MiB + the header allocated, not 83 */
  g_assert_cmpuint ((guint64) st.st_blocks * 512, <, 8 * mib);
  g_autofree char *got = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (dst, &got, &len, NULL));
  g_assert_cmpuint (len, ==, total);
  for (gsize i = 0; i < off; i++)
    g_assert_cmpint (got[i], ==, 'N');
  g_assert_cmpmem (got + off, mib, data, mib);
  g_assert_cmpmem (got + off + 65 * mib, mib, data, mib);
  for (gsize i = off + mib; i < off + 65 * mib; i += 4096)
    g_assert_cmpint (got[i], ==, 0);

  /* never over an existing file */
  g_assert_false (vk_save_file_write (dst, header, src, off, NULL, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
  g_clear_error (&error);
  /* a header whose length is not the stream offset is a caller's bug */
  g_autofree char *dst2 = g_build_filename (dir, "clone2.sav", NULL);
  g_assert_false (vk_save_file_write (dst2, header, src, off + 1, NULL, &error));
  g_assert_nonnull (error);
  g_assert_false (g_file_test (dst2, G_FILE_TEST_EXISTS));
  g_unlink (dst);
  g_unlink (src);
  g_rmdir (dir);
}

static void
test_file_output (void)
{
  Fixture f = { 0 };
  fixture_set_up (&f, (4u << 20) + 999);
  for (int good = 0; good < 2; good++)
    {
      g_autofree char *out = g_build_filename (f.dir, "out", NULL);
      int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
      g_assert_cmpint (fd, >=, 0);
      g_autoptr(GError) error = NULL;
      const char *sha = good ? f.sha
                             : "1111111111111111111111111111111111111111111111111111111111111111";
      gboolean ok = vk_save_stream_feed (fd, f.header, f.src, f.offset, sha, NULL, &error);
      close (fd);
      g_autofree char *data = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (out, &data, &len, NULL));
      g_autoptr(GBytes) got = g_bytes_new (data, len);
      g_autoptr(GBytes) want = expected (&f);
      if (good)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_true (g_bytes_equal (got, want));
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
          g_assert_cmpuint (len, <, g_bytes_get_size (want));
        }
      g_unlink (out);
    }
  fixture_tear_down (&f);
}

/* ---- a state file that is still being written (fork of a running VM) --- */

typedef struct {
  char *path;
  GBytes *stream;       /* what "QEMU" appends after the header */
  guint32 data_len;
  gint *writer;
  gint fail_at;         /* stop with FAILED after this many bytes (0: never) */
  gint tamper;          /* change a header byte once `progress` moved */
  gint *progress;       /* bytes the reader got */
  gboolean late;        /* the writer's call returns only once the reader
                         * got the whole stream (or after 5 s) */
  gboolean waited_out;  /* ... and it gave up waiting */
} Writer;

static GBytes *
growing_header (guint32 data_len, const char *magic)
{
  GByteArray *b = g_byte_array_sized_new (92 + data_len);
  g_byte_array_append (b, (const guint8 *) magic, 16);
  guint32 fields[19] = { 2, data_len, 1, 0, 0 };
  g_byte_array_append (b, (const guint8 *) fields, sizeof fields);
  const char *xml = "<domain type='qemu'><name>src</name></domain>";
  guint8 *area = g_malloc0 (data_len);
  memcpy (area, xml, strlen (xml));
  g_byte_array_append (b, area, data_len);
  g_free (area);
  return g_byte_array_free_to_bytes (b);
}

static gpointer
writer_thread (gpointer p)
{
  Writer *w = p;
  int fd = open (w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_autoptr(GBytes) hdr = growing_header (w->data_len, "LibvirtQemudPart");
  g_assert_cmpint (write (fd, g_bytes_get_data (hdr, NULL), g_bytes_get_size (hdr)), ==,
                   (gssize) g_bytes_get_size (hdr));
  gsize n = 0;
  const guint8 *s = g_bytes_get_data (w->stream, &n);
  for (gsize off = 0; off < n;)
    {
      gsize k = MIN (n - off, 300000);
      if (w->fail_at && off >= (gsize) w->fail_at)
        {
          close (fd);
          g_atomic_int_set (w->writer, VK_WRITER_FAILED);
          return NULL;
        }
      g_assert_cmpint (write (fd, s + off, k), ==, (gssize) k);
      off += k;
      g_usleep (500);
    }
  if (w->tamper)
    {
      while (g_atomic_int_get (w->progress) < 1000)
        g_usleep (1000);
      g_assert_cmpint (pwrite (fd, "X", 1, 200), ==, 1);
    }
  g_assert_cmpint (pwrite (fd, "LibvirtQemudSave", 16, 0), ==, 16);
  close (fd);
  if (w->late)
    {
      /* as libvirt's snapshot call, whose end (or the source's resume
       * after it) waits for something of the clone's start in libvirtd */
      gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
      while (g_atomic_int_get (w->progress) < (gint) n && g_get_monotonic_time () < end)
        g_usleep (1000);
      w->waited_out = g_atomic_int_get (w->progress) < (gint) n;
    }
  g_atomic_int_set (w->writer, VK_WRITER_DONE);
  return NULL;
}

static gboolean
run_growing (gsize stream_len, gint fail_at, gint tamper, gboolean late, gboolean *waited_out,
             GBytes **got_out, GBytes **want_out, char **sha, char **file_sha, GError **error)
{
  g_autoptr(GError) e = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vk-grow-XXXXXX", &e);
  g_assert_no_error (e);
  g_autofree char *path = g_build_filename (dir, "state.sav", NULL);
  guint8 *data = g_malloc (stream_len);
  GRand *r = g_rand_new_with_seed (stream_len);
  for (gsize i = 0; i < stream_len; i++)
    data[i] = g_rand_int (r) & 0xff;
  g_rand_free (r);
  g_autoptr(GBytes) stream = g_bytes_new_take (data, stream_len);
  gint writer = VK_WRITER_RUNNING;
  Reader rd = { -1, 0, g_byte_array_new (), 0 };
  Writer w = { path, stream, 4004, &writer, fail_at, tamper, &rd.progress, late, FALSE };
  GThread *wt = g_thread_new ("writer", writer_thread, &w);

  g_autoptr(VkSaveHeader) hdr = NULL;
  gboolean ok = vk_save_header_wait (path, &writer, NULL, &hdr, error);
  if (ok)
    {
      g_assert_cmpstr (hdr->xml, ==, "<domain type='qemu'><name>src</name></domain>");
      g_assert_cmpuint (hdr->stream_offset, ==, 92 + 4004);
      g_autoptr(GBytes) nh = vk_save_header_emit (hdr, "<domain type='qemu'><name>clone</name>"
                                                  "</domain>", -1, &e);
      g_assert_no_error (e);
      int p[2];
      g_assert_cmpint (pipe (p), ==, 0);
      rd.fd = p[0];
      GThread *rt = g_thread_new ("reader", reader_thread, &rd);
      guint64 size = 0;
      ok = vk_save_stream_feed_growing (p[1], nh, path, hdr->stream_offset, &writer, NULL, sha,
                                        &size, error);
      close (p[1]);
      g_thread_join (rt);
      if (ok)
        g_assert_cmpuint (size, ==, hdr->stream_offset + stream_len);
      GByteArray *want = g_byte_array_new ();
      g_byte_array_append (want, g_bytes_get_data (nh, NULL), g_bytes_get_size (nh));
      g_byte_array_append (want, g_bytes_get_data (stream, NULL), stream_len);
      *want_out = g_byte_array_free_to_bytes (want);
    }
  g_thread_join (wt);
  if (waited_out)
    *waited_out = w.waited_out;
  *got_out = g_byte_array_free_to_bytes (rd.got);
  gchar *contents = NULL;
  gsize clen = 0;
  if (g_file_get_contents (path, &contents, &clen, NULL))
    *file_sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guint8 *) contents, clen);
  g_free (contents);
  g_unlink (path);
  g_rmdir (dir);
  return ok;
}

static void
test_growing (void)
{
  const gsize sizes[] = { 10, (3u << 20) + 333, (7u << 20) + 1 };
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) got = NULL;
      g_autoptr(GBytes) want = NULL;
      g_autofree char *sha = NULL, *file_sha = NULL;
      gboolean ok = run_growing (sizes[i], 0, 0, FALSE, NULL, &got, &want, &sha, &file_sha,
                                 &error);
      g_assert_no_error (error);
      g_assert_true (ok);
      /* the clone got its header and the whole stream */
      g_assert_true (g_bytes_equal (got, want));
      /* the checksum is the one of the finished file, final magic and all */
      g_assert_cmpstr (sha, ==, file_sha);
    }
}

static void
test_growing_writer_failed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) want = NULL;
  g_autofree char *sha = NULL, *file_sha = NULL;
  gboolean ok = run_growing (5u << 20, 2u << 20, 0, FALSE, NULL, &got, &want, &sha, &file_sha,
                             &error);
  g_assert_false (ok);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_null (sha);
  /* the end never went out */
  g_assert_cmpuint (g_bytes_get_size (got), <, (5u << 20));
}

static void
test_growing_header_changed (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) want = NULL;
  g_autofree char *sha = NULL, *file_sha = NULL;
  gboolean ok = run_growing (4u << 20, 0, 1, FALSE, NULL, &got, &want, &sha, &file_sha,
                             &error);
  g_assert_false (ok);
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_assert_null (sha);
}

/* The file is complete (final magic) but the writer's call has not
 * returned, and returns only once the clone has the whole stream: the
 * last MiB must go out on the magic alone, or both wait for ever. */
static void
test_growing_sealed_before_return (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) got = NULL;
  g_autoptr(GBytes) want = NULL;
  g_autofree char *sha = NULL, *file_sha = NULL;
  gboolean waited_out = TRUE;
  gboolean ok = run_growing ((5u << 20) + 77, 0, 0, TRUE, &waited_out, &got, &want, &sha,
                             &file_sha, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_false (waited_out);
  g_assert_true (g_bytes_equal (got, want));
  g_assert_cmpstr (sha, ==, file_sha);
}

static void
test_growing_never_written (void)
{
  /* libvirt failed before it created the file */
  gint writer = VK_WRITER_FAILED;
  g_autoptr(GError) error = NULL;
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_assert_false (vk_save_header_wait ("/nonexistent/state.sav", &writer, NULL, &hdr, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_FAILED);
  g_clear_error (&error);
  writer = VK_WRITER_DONE;
  g_assert_false (vk_save_header_wait ("/nonexistent/state.sav", &writer, NULL, &hdr, &error));
  g_assert_error (error, VK_ERROR, VK_ERROR_REFUSED);
}

int
main (int argc, char **argv)
{
  signal (SIGPIPE, SIG_IGN);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/save-stream/pipe/sizes", test_pipe_sizes);
  g_test_add_func ("/save-stream/pipe/wrong-sum", test_pipe_wrong_sum);
  g_test_add_func ("/save-stream/pipe/reader-gone", test_pipe_reader_gone);
  g_test_add_func ("/save-stream/pipe/cancelled", test_pipe_cancelled);
  g_test_add_func ("/save-stream/fifo-serve/one-open", test_serve_one_open);
  g_test_add_func ("/save-stream/fifo-serve/header-then-all", test_serve_header_then_all);
  g_test_add_func ("/save-stream/fifo-serve/never-complete", test_serve_never_complete);
  g_test_add_func ("/save-stream/fifo-serve/wrong-sum", test_serve_wrong_sum);
  g_test_add_func ("/save-stream/file-output", test_file_output);
  g_test_add_func ("/save-stream/file-write", test_file_write);
  g_test_add_func ("/save-stream/growing/whole", test_growing);
  g_test_add_func ("/save-stream/growing/writer-failed", test_growing_writer_failed);
  g_test_add_func ("/save-stream/growing/header-changed", test_growing_header_changed);
  g_test_add_func ("/save-stream/growing/never-written", test_growing_never_written);
  g_test_add_func ("/save-stream/growing/sealed-before-return",
                   test_growing_sealed_before_return);
  return g_test_run ();
}
