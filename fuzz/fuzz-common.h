/* vmkeep — what every libFuzzer harness in fuzz/ shares.
 *
 * A harness finds a bug by crashing: ASan and UBSan abort on memory errors
 * and undefined behaviour, and the harness itself calls vk_fuzz_check()
 * for the invariants it knows (a round trip that must succeed, two readers
 * that must agree). GLib's criticals and warnings are made fatal too: a
 * g_return_val_if_fail() reached from parsed input is a bug in the parser
 * that let the input through, even though the process would survive it. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <glib.h>
#include <libxml/parser.h>

#include "vk-error.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Stops the run with a message libFuzzer prints next to the input. */
#define vk_fuzz_check(cond, ...)                                          \
  G_STMT_START                                                            \
  {                                                                       \
    if (G_UNLIKELY (!(cond)))                                             \
      {                                                                   \
        fprintf (stderr, "%s:%d: invariant failed: %s: ", __FILE__,       \
                 __LINE__, #cond);                                        \
        fprintf (stderr, __VA_ARGS__);                                    \
        fputc ('\n', stderr);                                             \
        abort ();                                                         \
      }                                                                   \
  }                                                                       \
  G_STMT_END

/* Every refusal must be a GError of vmkeep's domain with a UTF-8 message,
 * as GLib's convention is: untrusted bytes reach messages (names, values,
 * the text libxml2 or GKeyFile quote), and a message that is not UTF-8
 * breaks --json output. (Control characters are escaped where messages
 * are printed, by main.) */
static inline void
vk_fuzz_check_error (const GError *error, const char *what)
{
  vk_fuzz_check (error != NULL, "%s failed without a GError", what);
  vk_fuzz_check (error->domain == VK_ERROR, "%s: error domain %s, not vmkeep's: %s",
                 what, g_quark_to_string (error->domain), error->message);
  vk_fuzz_check (error->message != NULL && error->message[0] != '\0',
                 "%s: empty error message", what);
  vk_fuzz_check (g_utf8_validate (error->message, -1, NULL),
                 "%s: error message is not UTF-8", what);
}

/* GLib's own fatal path raises SIGTRAP, which libFuzzer does not catch
 * (no artifact would be saved): abort instead. Debug and info messages
 * are dropped, they only slow the run down. */
static inline void
vk_fuzz_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      fprintf (stderr, "%s: %s\n", domain != NULL ? domain : "(no domain)", message);
      abort ();
    }
}

static inline void
vk_fuzz_init (void)
{
  g_log_set_default_handler (vk_fuzz_log, NULL);
  xmlInitParser ();
}

/* A file descriptor holding exactly `data` at offset 0, for the readers
 * that take an fd or a path (/proc/self/fd/N). One memfd per process,
 * rewritten for every input, so a run never touches the disk. */
static inline int
vk_fuzz_memfd (const uint8_t *data, size_t size)
{
  static int fd = -1;
  size_t done = 0;

  if (fd < 0)
    {
      fd = memfd_create ("vk-fuzz-input", MFD_CLOEXEC);
      vk_fuzz_check (fd >= 0, "memfd_create: %s", g_strerror (errno));
    }
  vk_fuzz_check (ftruncate (fd, 0) == 0, "ftruncate: %s", g_strerror (errno));
  while (done < size)
    {
      ssize_t n = pwrite (fd, data + done, size - done, (off_t) done);
      vk_fuzz_check (n > 0, "pwrite: %s", g_strerror (errno));
      done += (size_t) n;
    }
  vk_fuzz_check (lseek (fd, 0, SEEK_SET) == 0, "lseek: %s", g_strerror (errno));
  return fd;
}
