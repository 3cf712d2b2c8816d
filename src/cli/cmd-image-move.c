/* vmkeep image export | import | push | pull: images leaving and entering
 * the store, as a tar stream (export -o FILE|-, import FILE|-), as an OCI
 * image layout (export --format oci -o DIR, import DIR) and through OCI
 * registries (push, pull). */
#include "config.h"

#include <glib/gi18n.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-image.h"
#include "commands.h"
#include "ops-export.h"
#include "ops-oci.h"
#include "output.h"
#include "vk-error.h"

gboolean
vk_image_export (VkCli *cli, const char *name, const char *output, gboolean force,
              gboolean progress, GError **error)
{
  gboolean to_stdout = g_str_equal (output, "-");
  if (to_stdout && cli->json)
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image export: --json and -o - both want stdout; write the export "
                      "to a file with -o FILE, or drop --json"));
  if (to_stdout && isatty (STDOUT_FILENO))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image export: refusing to write an image to a terminal; redirect "
                      "stdout (-o - | ssh HOST vmkeep image import -) or give -o FILE"));
  g_autofree char *what = g_strdup_printf (_("Exporting '%s'"), name);
  VkImageJob job;
  vk_image_job_begin (cli, &job, progress, what);
  g_autoptr(VkExportResult) r = vk_ops_image_export (cli->ops, name, to_stdout ? NULL : output,
                                                     force, error);
  vk_image_job_end (&job);
  if (r == NULL)
    return FALSE;
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "image", name);
      vk_json_str (b, "file", output);
      vk_json_int (b, "bytes", (gint64) r->bytes);
      vk_json_double (b, "seconds", r->seconds);
      json_builder_set_member_name (b, "members");
      json_builder_begin_array (b);
      for (guint i = 0; i < r->members->len; i++)
        vk_export_member_json (b, r->members->pdata[i], FALSE);
      json_builder_end_array (b);
      vk_json_str (b, "tpm_portability", r->tpm_note);
      vk_json_object_print (b);
      return TRUE;
    }
  if (r->tpm_note && !cli->quiet)
    g_printerr ("%s\n", r->tpm_note);
  if (cli->quiet)
    return TRUE;
  g_autofree char *sz = g_format_size_full (r->bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *msg = g_strdup_printf (_("Image '%s' exported to %s (%u members, %s, "
                                            "%.1f s)"), name, to_stdout ? _("stdout") : output,
                                          r->members->len + 1, sz, r->seconds);
  /* stdout carries the archive: the summary goes to stderr then */
  if (to_stdout)
    g_printerr ("%s\n", msg);
  else
    vk_cli_info (cli, "%s", msg);
  return TRUE;
}

gboolean
vk_image_import (VkCli *cli, const char *input, const char *name_opt, gboolean progress,
              GError **error)
{
  gboolean from_stdin = g_str_equal (input, "-");
  if (name_opt && !vk_ops_import_name_free (cli->ops, name_opt, error))
    return FALSE;
  if (from_stdin && isatty (STDIN_FILENO))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("vmkeep image import: stdin is a terminal; pipe an export in "
                      "(... | vmkeep image import -) or name the FILE"));
  const char *source = from_stdin ? _("the export on stdin") : input;
  /* the trust boundary asks this host's libvirt */
  VkOps *ops = vk_cli_ops (cli, error);
  g_autofree char *what = g_strdup_printf (_("Importing %s"), source);
  VkImageJob job;
  vk_image_job_begin (cli, &job, progress, what);
  g_autoptr(VkImportResult) r = ops ? vk_ops_image_import (ops, from_stdin ? NULL : input,
                                                          source, name_opt, error)
                                    : NULL;
  vk_image_job_end (&job);
  if (r == NULL)
    return FALSE;
  vk_image_import_render (cli, r, source);
  return TRUE;
}

void
vk_image_import_render (VkCli *cli, const VkImportResult *r, const char *source)
{
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "image", r->image);
      vk_json_str (b, "directory", r->directory);
      vk_json_str (b, "domain", r->domain);
      vk_json_str (b, "uuid", r->uuid);
      vk_json_int (b, "members", r->members);
      vk_json_int (b, "bytes", (gint64) r->bytes);
      vk_json_double (b, "seconds", r->seconds);
      vk_json_object_print (b);
      return;
    }
  g_autofree char *sz = g_format_size_full (r->bytes, G_FORMAT_SIZE_IEC_UNITS);
  vk_cli_info (cli, _("Image '%s' imported from %s (domain %s, %u members, %s, %.1f s); clone it "
                      "with 'vmkeep clone %s --name NEW'"), r->image, source, r->domain,
               r->members, sz, r->seconds, r->image);
}


static void
oci_layers_json (JsonBuilder *b, const VkOciResult *r)
{
  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->layers->len; i++)
    {
      const VkOciLayer *y = r->layers->pdata[i];
      json_builder_begin_object (b);
      vk_json_str (b, "title", y->title);
      vk_json_str (b, "media_type", y->media_type);
      vk_json_str (b, "digest", y->digest);
      vk_json_int (b, "size", (gint64) y->size);
      vk_json_int (b, "content_size", (gint64) y->content_size);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* The result of an export to a layout or of a push, as one JSON document
 * or a summary line. */
static void
oci_render (VkCli *cli, const char *name, const VkOciResult *r, const char *dir)
{
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = vk_json_object_new ();
      vk_json_str (b, "image", name);
      if (dir)
        vk_json_str (b, "directory", dir);
      if (r->reference)
        vk_json_str (b, "reference", r->reference);
      vk_json_str (b, "manifest_digest", r->manifest_digest);
      vk_json_int (b, "bytes", (gint64) r->bytes);
      vk_json_int (b, "content_bytes", (gint64) r->content_bytes);
      vk_json_double (b, "seconds", r->seconds);
      oci_layers_json (b, r);
      vk_json_str (b, "tpm_portability", r->tpm_note);
      vk_json_object_print (b);
      return;
    }
  if (r->tpm_note && !cli->quiet)
    g_printerr ("%s\n", r->tpm_note);
  g_autofree char *sz = g_format_size_full (r->bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *raw = g_format_size_full (r->content_bytes, G_FORMAT_SIZE_IEC_UNITS);
  if (dir)
    vk_cli_info (cli, _("Image '%s' exported to the OCI layout %s (%u layers, %s stored for "
                        "%s of files, %.1f s)"), name, dir, r->layers->len, sz, raw,
                 r->seconds);
  else
    vk_cli_info (cli, _("Image '%s' pushed to %s (%u layers, %s for %s of files; the "
                        "registry skips the blobs it has; manifest %s; %.1f s)"), name,
                 r->reference, r->layers->len, sz, raw, r->manifest_digest, r->seconds);
}

gboolean
vk_image_export_oci (VkCli *cli, const char *name, const char *dir, gboolean force,
                     gboolean progress, GError **error)
{
  g_autofree char *what = g_strdup_printf (_("Exporting '%s'"), name);
  VkImageJob job;
  vk_image_job_begin (cli, &job, progress, what);
  g_autoptr(VkOciResult) r = vk_ops_image_export_oci (cli->ops, name, dir, force, error);
  vk_image_job_end (&job);
  if (r == NULL)
    return FALSE;
  oci_render (cli, name, r, dir);
  return TRUE;
}

gboolean
vk_image_import_oci (VkCli *cli, const char *dir, const char *name_opt, gboolean progress,
                     GError **error)
{
  if (name_opt && !vk_ops_import_name_free (cli->ops, name_opt, error))
    return FALSE;
  /* the trust boundary asks this host's libvirt */
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL)
    return FALSE;
  g_autofree char *what = g_strdup_printf (_("Importing %s"), dir);
  VkImageJob job;
  vk_image_job_begin (cli, &job, progress, what);
  g_autoptr(VkImportResult) r = vk_ops_image_import_oci (ops, dir, NULL, dir, name_opt, error);
  vk_image_job_end (&job);
  if (r == NULL)
    return FALSE;
  vk_image_import_render (cli, r, dir);
  return TRUE;
}

gboolean
vk_image_push (VkCli *cli, const char *name, const char *ref, VkRegistryOptions *ro,
               gboolean progress, GError **error)
{
  /* skopeo draws its own progress on a terminal; vmkeep's shows the layout */
  ro->show_progress = vk_cli_progress_wanted (cli, progress);
  g_autofree char *what = g_strdup_printf (_("Preparing '%s'"), name);
  VkImageJob job;
  vk_image_job_begin (cli, &job, progress, what);
  g_autoptr(VkOciResult) r = vk_ops_image_push (cli->ops, name, ref, ro, error);
  vk_image_job_end (&job);
  if (r == NULL)
    return FALSE;
  oci_render (cli, name, r, NULL);
  return TRUE;
}

gboolean
vk_image_pull (VkCli *cli, const char *ref, const char *name_opt, VkRegistryOptions *ro,
               gboolean progress, GError **error)
{
  VkOps *ops = vk_cli_ops (cli, error);
  if (ops == NULL)
    return FALSE;
  ro->show_progress = vk_cli_progress_wanted (cli, progress);
  g_autofree char *what = g_strdup_printf (_("Checking %s"), ref);
  VkImageJob job;
  vk_image_job_begin (cli, &job, progress, what);
  g_autoptr(VkImportResult) r = vk_ops_image_pull (ops, ref, name_opt, ro, error);
  vk_image_job_end (&job);
  if (r == NULL)
    return FALSE;
  vk_image_import_render (cli, r, ref);
  return TRUE;
}
