/* vmkeep — the SHA-256 of a save image, computed while libvirt writes
 * it. See save-hash.h.
 *
 * Hashing a guest-sized state file after the save added a quarter to an
 * image's hibernate time (1 GiB: 2.7 s save + 0.7 s SHA-256). The file is
 * hashed instead while libvirt writes it, from the page cache, so only the
 * last few MiB remain when the save returns. This relies on how libvirt
 * writes a save image: the header and XML once at the start with the
 * magic "LibvirtQemudPart", the QEMU stream appended after them, and, on
 * success, the header rewritten once with the magic "LibvirtQemudSave".
 * So the hasher feeds the final magic in place of the first 16 bytes,
 * stays TAIL_MARGIN behind the end of the file while the save runs (the
 * last block may be padded and truncated with --bypass-cache), and keeps a
 * copy of the first HEAD_COPY bytes; when the save is done the copy must
 * equal the file's head and the hashed length its size, or the file is
 * hashed again from the start. */

#include "config.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "save-hash.h"
#include "save-header.h"
#include "sha256.h"

#define TAIL_CHUNK (1024 * 1024)
#define TAIL_MARGIN (8 * 1024 * 1024)
#define HEAD_COPY (256 * 1024)

struct _VkSaveHasher {
  char *path;
  gint save_done;           /* atomic: libvirt's save returned */
  GThread *thread;
  VkSha256 *sum;
  guint64 hashed;
  guint8 *head;             /* first HEAD_COPY bytes as hashed */
  gsize head_len;
  dev_t dev;                /* the file hashed */
  ino_t ino;
  gboolean failed;
};

static gpointer
hasher_thread (gpointer p)
{
  VkSaveHasher *t = p;
  g_autofree guint8 *buf = g_malloc (TAIL_CHUNK);
  int fd = -1;
  for (;;)
    {
      gboolean done = g_atomic_int_get (&t->save_done);
      if (fd < 0)
        {
          fd = open (t->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
          if (fd < 0)
            {
              if (done)
                break;
              g_usleep (10 * 1000);
              continue;
            }
        }
      struct stat st;
      if (fstat (fd, &st) < 0)
        {
          t->failed = TRUE;
          break;
        }
      t->dev = st.st_dev;
      t->ino = st.st_ino;
      guint64 size = (guint64) st.st_size;
      guint64 limit = done ? size : (size > TAIL_MARGIN ? size - TAIL_MARGIN : 0);
      while (t->hashed < limit)
        {
          gsize want = (gsize) MIN ((guint64) TAIL_CHUNK, limit - t->hashed);
          gssize n = vk_read_full (fd, buf, want, (gint64) t->hashed, NULL);
          if (n <= 0)
            {
              t->failed = TRUE;
              break;
            }
          if (t->hashed < VK_SAVE_MAGIC_LEN)
            {
              gsize k = MIN ((gsize) n, VK_SAVE_MAGIC_LEN - (gsize) t->hashed);
              memcpy (buf, &VK_SAVE_MAGIC[t->hashed], k);
            }
          if (t->hashed < HEAD_COPY)
            {
              gsize k = MIN ((gsize) n, HEAD_COPY - (gsize) t->hashed);
              memcpy (t->head + t->hashed, buf, k);
              t->head_len = (gsize) t->hashed + k;
            }
          vk_sha256_update (t->sum, buf, (gsize) n);
          t->hashed += (guint64) n;
        }
      if (done || t->failed)
        break;
      g_usleep (20 * 1000);
    }
  if (fd >= 0)
    close (fd);
  return NULL;
}

VkSaveHasher *
vk_save_hasher_start (const char *path)
{
  VkSaveHasher *t = g_new0 (VkSaveHasher, 1);
  t->path = g_strdup (path);
  t->sum = vk_sha256_new ();
  t->head = g_malloc (HEAD_COPY);
  t->thread = g_thread_new ("vmkeep-sha256", hasher_thread, t);
  return t;
}

char *
vk_save_hasher_finish (VkSaveHasher *t, gboolean want, guint64 *size_out)
{
  char *hex = NULL;
  g_atomic_int_set (&t->save_done, 1);
  g_thread_join (t->thread);
  if (want && !t->failed)
    {
      struct stat st;
      g_autofree guint8 *now = g_malloc (HEAD_COPY);
      int fd = open (t->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
      gboolean same = fd >= 0 && fstat (fd, &st) == 0 && st.st_dev == t->dev &&
                      st.st_ino == t->ino && (guint64) st.st_size == t->hashed;
      same = same && vk_read_full (fd, now, t->head_len, 0, NULL) == (gssize) t->head_len;
      if (fd >= 0)
        close (fd);
      if (same && memcmp (now, t->head, t->head_len) == 0)
        {
          hex = vk_sha256_hex (t->sum);
          *size_out = t->hashed;
        }
      else
        g_debug ("%s changed behind the checksum; hashing it again", t->path);
    }
  vk_sha256_free (t->sum);
  g_free (t->head);
  g_free (t->path);
  g_free (t);
  return hex;
}

