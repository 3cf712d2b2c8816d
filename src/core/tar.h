/* vmkeep — a streaming tar writer and reader (POSIX ustar + pax), for
 * `image export` and `image import`, on libarchive (src/core/archive.c).
 *
 * Exports are guest-memory and disk sized and go through pipes (ssh, gzip),
 * so members are streamed straight from and to file descriptors, never held
 * in memory, and hashed (SHA-256) on the way. The output is plain POSIX:
 * ustar headers, with a pax extended header ('x') only where ustar cannot
 * say it (a long name, a size of 8 GiB or more, a sparse member), so GNU
 * tar, bsdtar and Python's tarfile read it. A regular file with holes (a
 * state in libvirt's sparse format, a raw disk) travels as a sparse member
 * (GNU's pax sparse format 1.0): the stream carries its data only.
 *
 * The reader is strict because its input is untrusted: every header's
 * checksum is verified, a stream that ends before its end-of-archive blocks
 * is "truncated", member names that could escape the extraction directory
 * (absolute, "..", empty components, backslashes, control characters) are
 * refused, and so is every member type other than a regular file or a
 * directory (no links, devices or FIFOs), a directory that claims data and
 * a size no export could have. It accepts what it writes plus GNU tar's
 * header variants (old GNU magic, base-256 sizes, long names, sparse
 * members) so that an export re-packed with GNU tar still reads. Errors
 * about the stream's content are VK_ERROR_REFUSED, I/O errors
 * VK_ERROR_FAILED. Nothing is written to disk but through the callers'
 * file descriptors. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

#define VK_TAR_BLOCK 512
/* Archives are padded to a whole record of 20 blocks, as tar(1) does. */
#define VK_TAR_RECORD (20 * VK_TAR_BLOCK)

/* ---- writer ---------------------------------------------------------- */

typedef struct _VkTarWriter VkTarWriter;

/* Write to `fd` (not closed by the writer); `dest` names it in messages
 * ("stdout", a path). */
VkTarWriter *vk_tar_writer_new (int fd, const char *dest);
void vk_tar_writer_free (VkTarWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkTarWriter, vk_tar_writer_free)

/* A member holding `len` bytes of `data`. */
gboolean vk_tar_writer_add_data (VkTarWriter *w, const char *name, const void *data,
                                 gsize len, guint mode, gint64 mtime, GError **error);

/* A member holding exactly `size` bytes read from `fd` (from its current
 * offset); `src` names it in messages. A source that ends early fails
 * (it shrank while being read). A regular file whose range has holes is
 * written as a sparse member. `sha256_out` (optional) receives the
 * SHA-256 of the member's data, holes read as zeros (what sha256sum says
 * of the file), 64 lower-case hex digits. */
gboolean vk_tar_writer_add_fd (VkTarWriter *w, const char *name, int fd, const char *src,
                               guint64 size, guint mode, gint64 mtime, char **sha256_out,
                               GError **error);

/* The end-of-archive blocks and padding to a whole record. */
gboolean vk_tar_writer_finish (VkTarWriter *w, GError **error);

/* Bytes written so far. */
guint64 vk_tar_writer_offset (const VkTarWriter *w);

/* Called with the bytes written (read) so far after every chunk of member
 * data, for a progress display. */
typedef void (*VkTarProgress) (guint64 offset, gpointer data);
void vk_tar_writer_set_progress (VkTarWriter *w, VkTarProgress cb, gpointer data);

/* Stop with VK_ERROR_FAILED ("interrupted") once `cancel` is cancelled,
 * checked between chunks and when a read or write returns EINTR, so a
 * signal (its handler installed without SA_RESTART) that leads to the
 * cancellation gets the caller back to its cleanup quickly, even while
 * blocked on a pipe. */
void vk_tar_writer_set_cancel (VkTarWriter *w, GCancellable *cancel);

/* ---- reader ---------------------------------------------------------- */

typedef enum {
  VK_TAR_FILE,
  VK_TAR_DIR,
} VkTarType;

typedef struct {
  char *name;        /* normalised: no leading "./", no trailing "/" */
  VkTarType type;
  guint64 size;      /* data bytes (0 for directories) */
  guint mode;
  gint64 mtime;
} VkTarEntry;

void vk_tar_entry_free (VkTarEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkTarEntry, vk_tar_entry_free)

typedef struct _VkTarReader VkTarReader;

/* Read from `fd` (not closed by the reader; a pipe is fine: it is read
 * strictly sequentially); `source` names it in messages. */
VkTarReader *vk_tar_reader_new (int fd, const char *source);
void vk_tar_reader_free (VkTarReader *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkTarReader, vk_tar_reader_free)

void vk_tar_reader_set_progress (VkTarReader *r, VkTarProgress cb, gpointer data);
void vk_tar_reader_set_cancel (VkTarReader *r, GCancellable *cancel);

/* The next member's header. TRUE with `*entry` NULL at the end of the
 * archive (after which the rest of the input is read and discarded, so a
 * writer on the other end of a pipe finishes cleanly). The previous
 * member's data is skipped when it was not read. */
gboolean vk_tar_reader_next (VkTarReader *r, VkTarEntry **entry, GError **error);

/* Copy the current member's data to `out_fd` (-1: discard it), hashing it
 * into `sha256_out` (optional; holes of a sparse member hash as zeros).
 * With `sparse`, a sparse member's holes and blocks of zeros become holes
 * (out_fd must be a regular file, positioned at its start; it is extended
 * to the full size at the end); without, they are written as zeros.
 * `dest` names out_fd in messages. */
gboolean vk_tar_reader_copy (VkTarReader *r, int out_fd, const char *dest, gboolean sparse,
                             char **sha256_out, GError **error);

/* The current member's data in memory; refused when larger than `max`,
 * before any of it is read. */
GBytes *vk_tar_reader_read (VkTarReader *r, gsize max, char **sha256_out, GError **error);

/* Is `name` safe to create below an extraction directory? Relative, no
 * "." or ".." component, no empty component, no backslash or control
 * character, at most 4096 bytes. */
gboolean vk_tar_name_is_safe (const char *name);

G_END_DECLS
