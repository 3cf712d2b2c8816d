/* vmkeep — what the image actions share (cmd-image.c, cmd-image-move.c). */
#pragma once

#include <glib.h>

#include "commands.h"
#include "ops-export.h"
#include "ops-oci.h"
#include "output.h"

G_BEGIN_DECLS

/* One image job's progress display and notices while a workflow runs. */
typedef struct {
  VkCli *cli;
  gboolean on;
  const char *what;
  gboolean started;
  VkProgress pr;
  VkOpsNoticeFunc notice;
  gpointer notice_data;
} VkImageJob;

void vk_image_job_begin (VkCli *cli, VkImageJob *job, gboolean progress, const char *what);
void vk_image_job_end (VkImageJob *job);

/* The result of an import (of a stream, a layout or a pull) from `source`. */
void vk_image_import_render (VkCli *cli, const VkImportResult *r, const char *source);

/* image export -o FILE|-, image import FILE|- (the tar stream). */
gboolean vk_image_export (VkCli *cli, const char *name, const char *output, gboolean force,
                          gboolean progress, GError **error);
gboolean vk_image_import (VkCli *cli, const char *input, const char *name_opt,
                          gboolean progress, GError **error);

/* image export --format oci, image import DIR, image push, image pull. */
gboolean vk_image_export_oci (VkCli *cli, const char *name, const char *dir, gboolean force,
                              gboolean progress, GError **error);
gboolean vk_image_import_oci (VkCli *cli, const char *dir, const char *name_opt,
                              gboolean progress, GError **error);
gboolean vk_image_push (VkCli *cli, const char *name, const char *ref,
                        VkRegistryOptions *ro, gboolean progress, GError **error);
gboolean vk_image_pull (VkCli *cli, const char *ref, const char *name_opt,
                        VkRegistryOptions *ro, gboolean progress, GError **error);

G_END_DECLS
