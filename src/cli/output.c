#include "config.h"

#include <glib/gi18n.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "validate.h"

struct _VkTable {
  guint ncols;
  GPtrArray *rows; /* GStrv; row 0 holds the headings */
};

VkTable *
vk_table_new (const char *first_heading, ...)
{
  VkTable *t = g_new0 (VkTable, 1);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  va_list ap;
  va_start (ap, first_heading);
  for (const char *h = first_heading; h != NULL; h = va_arg (ap, const char *))
    {
      g_strv_builder_add (b, h);
      t->ncols++;
    }
  va_end (ap);
  t->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_ptr_array_add (t->rows, g_strv_builder_end (b));
  return t;
}

void
vk_table_add (VkTable *t, ...)
{
  char **row = g_new0 (char *, t->ncols + 1);
  va_list ap;
  va_start (ap, t);
  for (guint i = 0; i < t->ncols; i++)
    {
      const char *c = va_arg (ap, const char *);
      /* cells can come from the command line or an image: control bytes
       * are shown escaped, never sent to the terminal */
      row[i] = c && *c ? vk_str_printable (c) : g_strdup ("-");
    }
  va_end (ap);
  g_ptr_array_add (t->rows, row);
}

void
vk_table_print (VkTable *t, FILE *out)
{
  g_autofree glong *width = g_new0 (glong, t->ncols);
  for (guint r = 0; r < t->rows->len; r++)
    {
      char **row = t->rows->pdata[r];
      for (guint c = 0; c < t->ncols; c++)
        width[c] = MAX (width[c], g_utf8_strlen (row[c], -1));
    }
  for (guint r = 0; r < t->rows->len; r++)
    {
      char **row = t->rows->pdata[r];
      GString *line = g_string_new (NULL);
      for (guint c = 0; c < t->ncols; c++)
        {
          g_string_append (line, row[c]);
          if (c + 1 < t->ncols)
            for (glong pad = g_utf8_strlen (row[c], -1); pad < width[c] + 2; pad++)
              g_string_append_c (line, ' ');
        }
      fprintf (out, "%s\n", line->str);
      if (r == 0)
        {
          glong total = 0;
          for (guint c = 0; c < t->ncols; c++)
            total += width[c] + (c + 1 < t->ncols ? 2 : 0);
          for (glong i = 0; i < total; i++)
            fputc ('-', out);
          fputc ('\n', out);
        }
      g_string_free (line, TRUE);
    }
}

void
vk_table_free (VkTable *t)
{
  if (t == NULL)
    return;
  g_ptr_array_unref (t->rows);
  g_free (t);
}

void
vk_json_print (JsonNode *node)
{
  g_autofree char *text = vk_json_node_text (node);
  fputs (text, stdout);
  fflush (stdout);
}

void
vk_json_print_builder (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  vk_json_print (root);
}

void
vk_json_print_line (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = json_builder_get_root (b);
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  fflush (stdout);
}

JsonBuilder *
vk_json_object_new (void)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  return b;
}

void
vk_json_object_print (JsonBuilder *b)
{
  json_builder_end_object (b);
  vk_json_print_builder (b);
}

void
vk_progress_init (VkProgress *p, gboolean on, const char *what, guint64 total)
{
  memset (p, 0, sizeof *p);
  p->tty = isatty (STDERR_FILENO);
  p->on = on;
  p->what = g_strdup (what);
  p->total = total;
  p->t0 = p->last = g_get_monotonic_time ();
}

void
vk_progress_update (VkProgress *p, guint64 done, guint64 total)
{
  gint64 now = g_get_monotonic_time ();
  if (!p->on || now - p->last < (p->tty ? 250000 : 5000000))
    return;
  p->last = now;
  if (total > 0)
    p->total = total;
  double secs = (now - p->t0) / 1e6;
  g_autofree char *sofar = g_format_size_full (done, G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *rate = g_format_size_full (secs > 0 ? (guint64) (done / secs) : 0,
                                              G_FORMAT_SIZE_IEC_UNITS);
  g_autofree char *line = NULL;
  if (p->total > 0)
    {
      g_autofree char *all = g_format_size_full (p->total, G_FORMAT_SIZE_IEC_UNITS);
      int pct = (int) MIN (99, done * 100 / p->total);
      line = g_strdup_printf (_("%s: %s of %s (%d%%), %s/s"), p->what, sofar, all, pct, rate);
    }
  else
    line = g_strdup_printf (_("%s: %s, %s/s"), p->what, sofar, rate);
  if (p->tty)
    fprintf (stderr, "\r%s\033[K", line);
  else
    fprintf (stderr, "%s\n", line);
  fflush (stderr);
  p->shown = TRUE;
}

void
vk_progress_end (VkProgress *p, gboolean ok)
{
  if (p->shown)
    {
      fprintf (stderr, "%s%s: %s%s\n", p->tty ? "\r" : "", p->what, ok ? _("done") : _("failed"),
               p->tty ? "\033[K" : "");
      fflush (stderr);
    }
  g_clear_pointer (&p->what, g_free);
}
