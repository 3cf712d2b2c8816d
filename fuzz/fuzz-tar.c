/* Fuzz harness: the export tar reader, through the API of src/core/tar.h
 * only (the implementation behind it may change; the contract may not).
 *
 * `image import` reads an untrusted stream, so whatever the bytes:
 *   - every member handed out has a name vk_tar_name_is_safe() accepts
 *     and is a regular file or a directory (nothing else may be created);
 *   - a member's data is exactly its announced size, whether it is read
 *     into memory, copied (sparse or not) or skipped;
 *   - after the end of the archive the reader stays at the end.
 * How each member is consumed is taken from its mode bits, so the fuzzer
 * can steer every path: read, copy to a file, copy sparse, discard, skip. */
#include "config.h"

#include <sys/stat.h>

#include "fuzz-common.h"
#include "tar.h"

/* Real exports hold a few members; a stream of thousands of empty ones
 * only slows the fuzzer down. */
#define MAX_MEMBERS 64
/* What `image import` reads into memory (the sidecar, the manifest). */
#define READ_MAX (64 * 1024)

static int out_fd = -1;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  vk_fuzz_init ();
  out_fd = memfd_create ("vk-fuzz-member", MFD_CLOEXEC);
  vk_fuzz_check (out_fd >= 0, "memfd_create: %s", g_strerror (errno));
  return 0;
}

static void
check_sha (const char *sha)
{
  vk_fuzz_check (sha != NULL && strlen (sha) == 64, "SHA-256 '%s'", sha ? sha : "(null)");
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  int in_fd = vk_fuzz_memfd (data, size);
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in_fd, "fuzz.tar");
  g_autoptr(GError) error = NULL;
  gboolean ended = FALSE;

  for (int i = 0; i < MAX_MEMBERS && error == NULL; i++)
    {
      g_autoptr(VkTarEntry) e = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *sha = NULL;
      struct stat st;

      if (!vk_tar_reader_next (r, &e, &error))
        break;
      if (e == NULL)
        {
          ended = TRUE;
          break;
        }
      vk_fuzz_check (vk_tar_name_is_safe (e->name), "unsafe member name handed out");
      vk_fuzz_check (e->type == VK_TAR_FILE || e->type == VK_TAR_DIR, "type %d", e->type);
      vk_fuzz_check (e->mode <= 07777, "mode %o", e->mode);

      switch (e->mode & 3)
        {
        case 0:
          bytes = vk_tar_reader_read (r, READ_MAX, &sha, &error);
          if (bytes == NULL)
            break;
          vk_fuzz_check (g_bytes_get_size (bytes) == e->size, "read %zu bytes of %"
                         G_GUINT64_FORMAT, g_bytes_get_size (bytes), e->size);
          check_sha (sha);
          break;
        case 1:
        case 2:
          vk_fuzz_check (ftruncate (out_fd, 0) == 0 && lseek (out_fd, 0, SEEK_SET) == 0,
                         "resetting the member file: %s", g_strerror (errno));
          if (!vk_tar_reader_copy (r, out_fd, "member", (e->mode & 3) == 2, &sha, &error))
            break;
          vk_fuzz_check (fstat (out_fd, &st) == 0 && (guint64) st.st_size == e->size,
                         "copied %" G_GINT64_FORMAT " bytes of %" G_GUINT64_FORMAT,
                         (gint64) st.st_size, e->size);
          check_sha (sha);
          break;
        case 3:
          /* Every other member is left to vk_tar_reader_next to skip. */
          if (i % 2 == 0 && !vk_tar_reader_copy (r, -1, NULL, FALSE, NULL, &error))
            break;
          break;
        }
    }
  if (error != NULL)
    vk_fuzz_check_error (error, "tar reader");
  if (ended)
    {
      g_autoptr(VkTarEntry) e = NULL;

      vk_fuzz_check (vk_tar_reader_next (r, &e, &error) && e == NULL,
                     "the reader did not stay at the end of the archive");
    }
  return 0;
}
