/* vmkeep — what interrupted workflows left, and finishing it. See
 * ops-recover.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "domain-xml.h"
#include "journal.h"
#include "ops-recover.h"
#include "save-header.h"
#include "store.h"
#include "vk-error.h"

void
vk_recover_item_free (VkRecoverItem *item)
{
  if (item == NULL)
    return;
  g_free (item->path);
  g_free (item->op);
  g_free (item->subject);
  g_free (item->started);
  g_free (item->uri);
  g_strfreev (item->restore);
  if (item->steps)
    g_ptr_array_unref (item->steps);
  g_free (item);
}

/* The undo steps of a journal in the order they run (newest first). */
static GPtrArray *
steps_in_run_order (GPtrArray *recorded)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = recorded->len; i > 0; i--)
    g_ptr_array_add (out, g_strdup (recorded->pdata[i - 1]));
  return out;
}

/* Does any journal step name `path`? */
static gboolean
journaled (GPtrArray *items, const char *path)
{
  for (guint i = 0; i < items->len; i++)
    {
      VkRecoverItem *it = items->pdata[i];
      for (guint k = 0; it->steps && k < it->steps->len; k++)
        if (strstr (it->steps->pdata[k], path) != NULL)
          return TRUE;
    }
  return FALSE;
}

/* A partial image directory no vmkeep works on (its lock is free) that
 * holds a save libvirt completed: the VM's memory, from a hibernate whose
 * vmkeep died while libvirtd wrote it. */
static VkRecoverItem *
saved_partial (const char *dir, const char *name)
{
  g_autofree char *lock = g_build_filename (dir, ".lock", NULL);
  int fd = open (lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  gboolean busy = fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) < 0;
  if (fd >= 0)
    close (fd);
  g_autofree char *state = g_build_filename (dir, VK_STORE_STATE, NULL);
  g_autoptr(VkSaveHeader) hdr = NULL;
  if (busy || !vk_save_header_read (state, &hdr, NULL))
    return NULL;
  g_autoptr(xmlDoc) doc = vk_xml_parse (hdr->xml, -1, state, NULL);
  g_autofree char *uuid = doc ? vk_xml_child_text (xmlDocGetRootElement (doc), "uuid") : NULL;
  if (uuid == NULL)
    return NULL;
  VkRecoverItem *it = g_new0 (VkRecoverItem, 1);
  it->action = VK_RECOVER_RESTORE;
  it->path = g_strdup (dir);
  it->op = g_strdup ("hibernate");
  /* ".NAME.partial-XXXXXX" */
  const char *end = strstr (name, VK_STORE_PARTIAL);
  it->subject = g_strndup (name + 1, end ? (gsize) (end - name - 1) : strlen (name + 1));
  it->steps = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *rxml = g_build_filename (dir, ".restore.xml", NULL);
  it->restore = g_new0 (char *, 4);
  it->restore[0] = g_strdup (uuid);
  it->restore[1] = g_strdup (state);
  it->restore[2] = g_strdup (g_file_test (rxml, G_FILE_TEST_EXISTS) ? rxml : "");
  g_ptr_array_add (it->steps, g_strdup_printf ("resume-saved %s %s %s", uuid, state,
                                               it->restore[2]));
  g_ptr_array_add (it->steps, g_strdup_printf ("rmtree %s", dir));
  return it;
}

GPtrArray *
vk_ops_recover_scan (VkOps *ops, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_recover_item_free);
  g_autoptr(GPtrArray) journals = vk_journal_list_orphans (ops, error);
  if (journals == NULL)
    return NULL;
  for (guint i = 0; i < journals->len; i++)
    {
      VkJournalInfo *j = journals->pdata[i];
      VkRecoverItem *it = g_new0 (VkRecoverItem, 1);
      it->action = j->completed ? VK_RECOVER_DROP : VK_RECOVER_UNDO;
      it->path = g_strdup (j->path);
      it->op = g_strdup (j->op);
      it->subject = g_strdup (j->subject);
      it->started = g_strdup (j->started);
      it->uri = g_strdup (j->uri);
      it->steps = j->completed ? g_ptr_array_new_with_free_func (g_free)
                               : steps_in_run_order (j->steps);
      g_ptr_array_add (out, it);
    }
  g_autofree char *images = vk_store_images_dir (ops->cfg->store_dir);
  g_autoptr(GDir) d = g_dir_open (images, 0, NULL);
  const char *n;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      if (n[0] != '.' || strstr (n, VK_STORE_PARTIAL) == NULL)
        continue;
      g_autofree char *p = g_build_filename (images, n, NULL);
      if (journaled (out, p))
        continue;
      VkRecoverItem *it = saved_partial (p, n);
      if (it)
        g_ptr_array_add (out, it);
    }
  return g_steal_pointer (&out);
}

gboolean
vk_ops_recover_apply (VkOps *ops, const VkRecoverItem *item, GError **error)
{
  if (item->action != VK_RECOVER_RESTORE)
    return vk_journal_recover (ops, item->path, error);

  /* the same decisions as a journal's resume-saved and rmtree steps,
   * under the directory's lock */
  g_autofree char *lock = g_build_filename (item->path, ".lock", NULL);
  int fd = open (lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0 && flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_BUSY, _("%s is being written by another vmkeep"),
                   item->path);
      return FALSE;
    }
  gboolean ok = vk_journal_run (ops, VK_UNDO_RESUME_SAVED, error, item->restore[0],
                                item->restore[1], item->restore[2], NULL) &&
                vk_journal_run (ops, VK_UNDO_RMTREE, error, item->path, NULL);
  if (fd >= 0)
    close (fd);
  return ok;
}
