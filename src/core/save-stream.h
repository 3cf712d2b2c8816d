/* vmkeep — writing a clone's save image: re-emitted header, then the
 * source's QEMU stream, checked against the source's SHA-256 on the way. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "save-header.h"

G_BEGIN_DECLS

/* Feed `header` (from vk_save_header_emit) and then bytes
 * [stream_offset, EOF) of `src_path` into `fd` (a FIFO libvirt reads, or a
 * file). When `expected_sha256` is given the whole source file is hashed
 * while it streams and the last chunk is held back until the hash matches:
 * a tampered or damaged state never reaches the end, so the restore fails
 * instead of resuming corrupt memory (VK_ERROR_REFUSED). Into a pipe the
 * stream is spliced (no copy through user space) and the hash is taken by
 * a second thread in parallel; see save-stream.c for what that implies.
 * `cancel` (may be NULL) is polled between chunks. */
gboolean vk_save_stream_feed (int fd, GBytes *header, const char *src_path,
                              guint64 stream_offset, const char *expected_sha256,
                              GCancellable *cancel, GError **error);

/* Open a FIFO for writing, waiting until a reader opens it or `cancel`
 * is cancelled (never blocks forever when the reader fails first).
 * Returns the fd or -1. */
int vk_fifo_open_writer (const char *path, GCancellable *cancel, GError **error);

/* Feed one reader of a FIFO (the header, then the stream). */
typedef gboolean (*VkFifoFeedFunc) (int fd, gpointer data, GError **error);

/* Serve the FIFO at `path` to every reader that opens it, each on a pipe
 * of its own and from the start, until `cancel` is cancelled (the
 * restore returned). Readers that close early are expected (libvirt 11
 * reads the header through an open of its own). Succeeds when at least
 * one reader got everything; `served` and `completed` count the opens and
 * the complete feeds. A feed's VK_ERROR_REFUSED (checksum mismatch) ends
 * serving at once. */
gboolean vk_fifo_serve (const char *path, VkFifoFeedFunc feed, gpointer data,
                        GCancellable *cancel,
                        guint *served, guint *completed, GError **error);

/* A clone's state as a regular file `dst` (O_EXCL: never overwrites;
 * 0600, fsynced): a reflink (FICLONE) of the whole of `src_path` with
 * `header` written over its first stream_offset bytes, which is O(1) on
 * XFS and btrfs because the stream offset is unchanged; elsewhere the
 * header, then the stream copied in the kernel extent by extent, so a
 * sparse state stays sparse. `how` (may be NULL) gets "reflink" or
 * "copy". No checksum is taken here. */
gboolean vk_save_file_write (const char *dst, GBytes *header, const char *src_path,
                             guint64 stream_offset, const char **how, GError **error);

/* ---- a save file that libvirt is still writing ---------------------------
 *
 * A fork of a running VM takes an external memory snapshot: libvirt writes
 * the header (magic "LibvirtQemudPart"), then QEMU appends the stream, and
 * on success libvirt rewrites the header once with the final magic. The
 * clone restores from that file while it grows. `writer` is set by whoever
 * waits for libvirt: */
typedef enum {
  VK_WRITER_RUNNING = 0,
  VK_WRITER_DONE = 1,     /* libvirt returned success: the file is complete */
  VK_WRITER_FAILED = 2,
} VkWriterState;

/* Wait until the header and data area of `path` are written, then parse
 * them (the "Part" magic accepted). Fails when the writer fails, `cancel`
 * is cancelled, or the writer finished without a complete header. */
gboolean vk_save_header_wait (const char *path, const gint *writer, GCancellable *cancel,
                              VkSaveHeader **out, GError **error);

/* Feed `header` and then bytes [stream_offset, end) of `src_path` into `fd`
 * as they are written, staying 1 MiB behind the growing end until the
 * writer is done or the file carries libvirt's final magic (written last,
 * once the state is complete). The file is hashed on the way (its first 16
 * bytes as the final magic); at the end the header area is read again and
 * must equal what was hashed with the final magic in place, and the size
 * what was read. Returns the SHA-256 (hex) and size of the complete file. */
gboolean vk_save_stream_feed_growing (int fd, GBytes *header, const char *src_path,
                                      guint64 stream_offset, const gint *writer,
                                      GCancellable *cancel, char **sha256_out, guint64 *size_out,
                                      GError **error);

G_END_DECLS
