/* bench/tar-throughput.c — the tar layer (src/core/tar.h) alone, as image
 * export and import use it: one process per export or import, so any
 * timer of whole processes compares two builds of it (or it and tar(1)).
 * Not part of `make check`; built by `make bench/tar-throughput`.
 *
 *   tar-throughput export SRC OUT     a small sidecar member, then SRC as
 *                                     member "state.sav" (or "disks/NAME"
 *                                     with --disk), SHA-256 on; OUT "-" is
 *                                     stdout
 *   tar-throughput import IN DIR      every member into DIR (by its base
 *                                     name), SHA-256 on, holes made for
 *                                     disks/ as image import does; IN "-"
 *                                     is stdin
 *
 * Prints nothing on success; exit status 1 with the error otherwise. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "tar.h"

static int
export (const char *src, const char *out, gboolean disk)
{
  g_autoptr(GError) error = NULL;
  int in = open (src, O_RDONLY | O_CLOEXEC);
  int fd = g_str_equal (out, "-") ? STDOUT_FILENO
                                  : open (out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  struct stat st;
  if (in < 0 || fd < 0 || fstat (in, &st) < 0)
    {
      perror (src);
      return 1;
    }
  g_autoptr(VkTarWriter) w = vk_tar_writer_new (fd, out);
  g_autofree char *base = g_path_get_basename (src);
  g_autofree char *name = disk ? g_strconcat ("disks/", base, NULL) : g_strdup ("state.sav");
  g_autofree char *sha = NULL;
  static const char sidecar[] = "<vmkeep-sidecar/>\n";
  if (!vk_tar_writer_add_data (w, "image.xml", sidecar, strlen (sidecar), 0600, 0, &error) ||
      !vk_tar_writer_add_fd (w, name, in, src, (guint64) st.st_size, 0600, st.st_mtime, &sha,
                             &error) ||
      !vk_tar_writer_finish (w, &error))
    {
      g_printerr ("export: %s\n", error->message);
      return 1;
    }
  close (in);
  if (fd != STDOUT_FILENO && close (fd) < 0)
    {
      perror (out);
      return 1;
    }
  return 0;
}

static int
import (const char *in_path, const char *dir)
{
  g_autoptr(GError) error = NULL;
  int in = g_str_equal (in_path, "-") ? STDIN_FILENO : open (in_path, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    {
      perror (in_path);
      return 1;
    }
  g_autoptr(VkTarReader) r = vk_tar_reader_new (in, in_path);
  for (;;)
    {
      g_autoptr(VkTarEntry) e = NULL;
      if (!vk_tar_reader_next (r, &e, &error))
        break;
      if (e == NULL)
        return 0;
      if (e->type == VK_TAR_DIR)
        continue;
      g_autofree char *base = g_path_get_basename (e->name);
      g_autofree char *path = g_build_filename (dir, base, NULL);
      int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0)
        {
          perror (path);
          return 1;
        }
      g_autofree char *sha = NULL;
      gboolean ok = vk_tar_reader_copy (r, fd, path, g_str_has_prefix (e->name, "disks/"), &sha,
                                        &error);
      close (fd);
      if (!ok)
        break;
    }
  g_printerr ("import: %s\n", error->message);
  return 1;
}

int
main (int argc, char **argv)
{
  gboolean disk = argc > 1 && g_str_equal (argv[1], "--disk");
  if (disk)
    {
      argc--;
      argv++;
    }
  if (argc == 4 && g_str_equal (argv[1], "export"))
    return export (argv[2], argv[3], disk);
  if (argc == 4 && g_str_equal (argv[1], "import"))
    return import (argv[2], argv[3]);
  g_printerr ("usage: tar-throughput [--disk] export SRC OUT|-\n"
              "       tar-throughput import IN|- DIR\n");
  return 2;
}
