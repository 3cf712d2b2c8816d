/* vmkeep — human tables and JSON documents on stdout. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "json-build.h"

G_BEGIN_DECLS

typedef struct _VkTable VkTable;

/* Columns as a NULL-terminated list of (translated) headings. */
VkTable *vk_table_new (const char *first_heading, ...) G_GNUC_NULL_TERMINATED;
/* One row; as many cells as headings; NULL prints as "-". */
void vk_table_add (VkTable *t, ...);
void vk_table_print (VkTable *t, FILE *out);
void vk_table_free (VkTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkTable, vk_table_free)

/* The one progress display: on stderr (stdout may carry an archive),
 * "WHAT: 1.2 GiB of 2.0 GiB (60%), 300 MiB/s", redrawn in place on a
 * terminal, a line every five seconds otherwise; then "WHAT: done" or
 * "WHAT: failed" once anything was shown. Off unless `on`. */
typedef struct {
  gboolean on;
  gboolean tty;
  char *what;
  guint64 total;        /* 0: unknown (a pipe) */
  gint64 t0;
  gint64 last;
  gboolean shown;
} VkProgress;

void vk_progress_init (VkProgress *p, gboolean on, const char *what, guint64 total);
/* `done` bytes so far; `total` replaces the expected total unless 0. */
void vk_progress_update (VkProgress *p, guint64 done, guint64 total);
void vk_progress_end (VkProgress *p, gboolean ok);

/* Print `node` as one pretty JSON document with a trailing newline. */
void vk_json_print (JsonNode *node);
void vk_json_print_builder (JsonBuilder *b);
/* The builder's document on one line (JSON lines, for event streams). */
void vk_json_print_line (JsonBuilder *b);
/* A JSON document that is one object: a builder with the object begun, and
 * the end of it, printed (vk_json_print). */
JsonBuilder *vk_json_object_new (void);
void vk_json_object_print (JsonBuilder *b);

G_END_DECLS
