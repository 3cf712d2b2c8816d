/* vmkeep — images through OCI registries: a layout in the store's working
 * directory, moved by skopeo (the maintained client Debian and Fedora
 * ship; vmkeep has no HTTP client of its own). See ops-oci.h. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "journal.h"
#include "oci-private.h"
#include "ops-oci.h"
#include "store.h"
#include "vk-error.h"

/* The name a pull's layout gives the one image it copies. */
#define LAYOUT_REF "vmkeep"

/* containers-transports(5): the transports that are not a registry. */
static const char *const other_transports[] = {
  "oci", "oci-archive", "dir", "docker-archive", "docker-daemon", "containers-storage",
  "sif", "tarball", "ostree", NULL
};

char *
vk_ops_registry_ref (const char *ref, GError **error)
{
  const char *r = g_str_has_prefix (ref, "docker://") ? ref + strlen ("docker://") : ref;
  const char *colon = strchr (r, ':');
  const char *slash = strchr (r, '/');
  if (colon && (slash == NULL || colon < slash))
    {
      g_autofree char *t = g_strndup (r, colon - r);
      if (g_strv_contains (other_transports, t))
        {
          vk_fail (error, VK_ERROR_USAGE,
                   _("'%s' is a %s: reference; image push and pull take a registry "
                     "reference (HOST[:PORT]/REPOSITORY[:TAG], optionally with docker://); "
                     "for an OCI layout use 'image export --format oci' and 'image import "
                     "DIR'"), ref, t);
          return NULL;
        }
    }
  gboolean ok = *r != '\0' && *r != '-' && *r != '/' && g_utf8_validate (r, -1, NULL);
  for (const char *p = r; ok && *p; p++)
    ok = g_ascii_isgraph (*p) && *p != '\\';
  if (!ok)
    {
      g_autofree char *shown = g_strescape (ref, NULL);
      vk_fail (error, VK_ERROR_USAGE,
               _("'%s' is not a registry reference; say HOST[:PORT]/REPOSITORY[:TAG], for "
                 "example registry.example.com/vms/web:v1"), shown);
      return NULL;
    }
  return g_strconcat ("docker://", r, NULL);
}

static gboolean
skopeo_found (GError **error)
{
  g_autofree char *path = g_find_program_in_path ("skopeo");
  if (path == NULL)
    return vk_fail (error, VK_ERROR_NOT_FOUND,
                    _("skopeo not found: vmkeep moves images through registries with it; "
                      "install Debian's or Fedora's 'skopeo' package"));
  return TRUE;
}

/* skopeo dies with vmkeep: a killed pull leaves no copy running into a
 * working directory the next vmkeep removes. */
static void
skopeo_child_setup (gpointer data)
{
  (void) data;
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* "skopeo copy" with the registry options on side `side` ("src" or
 * "dest") from `from` to `to`. Its own progress goes to our stderr when
 * asked for; otherwise its messages are kept for the error. A
 * cancellation stops it. */
static gboolean
skopeo_copy (VkOps *ops, const VkRegistryOptions *ro, const char *side, const char *from,
             const char *to, GError **error)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, g_strdup ("skopeo"));
  g_ptr_array_add (argv, g_strdup ("copy"));
  g_ptr_array_add (argv, g_strdup ("--preserve-digests"));
  if (ro->authfile)
    g_ptr_array_add (argv, g_strdup_printf ("--%s-authfile=%s", side, ro->authfile));
  if (ro->creds)
    g_ptr_array_add (argv, g_strdup_printf ("--%s-creds=%s", side, ro->creds));
  if (ro->tls_verify >= 0)
    g_ptr_array_add (argv, g_strdup_printf ("--%s-tls-verify=%s", side,
                                            ro->tls_verify ? "true" : "false"));
  g_ptr_array_add (argv, g_strdup (from));
  g_ptr_array_add (argv, g_strdup (to));
  g_ptr_array_add (argv, NULL);
  GSubprocessFlags flags = ro->show_progress ? G_SUBPROCESS_FLAGS_NONE
                                             : G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                               G_SUBPROCESS_FLAGS_STDERR_PIPE;
  g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (l, skopeo_child_setup, NULL, NULL);
  if (ro->show_progress)
    g_subprocess_launcher_take_stdout_fd (l, dup (STDERR_FILENO));
  g_autoptr(GError) local = NULL;
  g_autoptr(GSubprocess) sp = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata,
                                                            &local);
  if (sp == NULL)
    return vk_fail (error, VK_ERROR_FAILED, _("cannot run skopeo: %s"), local->message);
  g_autoptr(GBytes) out = NULL;
  g_autoptr(GBytes) errb = NULL;
  gboolean ran = ro->show_progress ? g_subprocess_wait (sp, ops->cancel, &local)
                                   : g_subprocess_communicate (sp, NULL, ops->cancel, &out, &errb,
                                                               &local);
  if (!ran)
    {
      g_subprocess_force_exit (sp);
      g_subprocess_wait (sp, NULL, NULL);
      return vk_fail (error, VK_ERROR_FAILED, _("skopeo copy %s %s was stopped: %s"), from, to,
                      local->message);
    }
  if (!g_subprocess_get_successful (sp))
    {
      gsize len = 0;
      const char *data = errb ? g_bytes_get_data (errb, &len) : NULL;
      g_autofree char *err = data ? g_utf8_make_valid (data, (gssize) len) : NULL;
      const char *why = err && *g_strstrip (err) ? err : _("its messages are above");
      return vk_fail (error, VK_ERROR_FAILED, _("skopeo could not copy %s to %s: %s"), from, to,
                      why);
    }
  return TRUE;
}

/* A working directory of the store for a layout (`tmp`, locked by
 * `lock`, in the journal `j` for removal), and the layout's empty
 * directory in it.
 * skopeo's "oci:PATH:REF" cannot carry a path with a colon. */
static char *
work_layout (VkOps *ops, VkJournal *j, const char *prefix, char **tmp, int *lock,
             GError **error)
{
  *tmp = vk_store_tmp_dir_new (ops->cfg->store_dir, prefix, lock, error);
  if (*tmp == NULL)
    return NULL;
  if (!vk_journal_push (j, VK_UNDO_RMTREE, error, *tmp, NULL))
    return NULL;
  if (strchr (*tmp, ':'))
    {
      vk_fail (error, VK_ERROR_REFUSED,
               _("the store's path %s holds a ':', which skopeo cannot take in a layout's "
                 "path; set store_dir in vmkeep.conf(5) to a path without one"), *tmp);
      return NULL;
    }
  g_autofree char *layout = g_build_filename (*tmp, "layout", NULL);
  if (g_mkdir (layout, 0700) < 0)
    {
      vk_fail (error, VK_ERROR_FAILED, _("cannot create %s: %s"), layout, g_strerror (errno));
      return NULL;
    }
  return g_steal_pointer (&layout);
}

VkOciResult *
vk_ops_image_push (VkOps *ops, const char *name, const char *ref, const VkRegistryOptions *ro,
                   GError **error)
{
  g_autofree char *full = vk_ops_registry_ref (ref, error);
  if (full == NULL || !skopeo_found (error))
    return NULL;
  g_autofree char *imgdir = NULL;
  g_autoptr(VkLock) lock = NULL;
  g_autoptr(VkSidecar) sc = vk_ops_oci_open (ops, name, &imgdir, &lock, error);
  if (sc == NULL)
    return NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (ops, "push", name, error);
  if (j == NULL)
    return NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_autofree char *tmp = NULL;
  int tlock = -1;
  g_autofree char *layout = work_layout (ops, j, "push", &tmp, &tlock, error);
  g_autoptr(VkOciResult) r = NULL;
  /* the layout names its image by the image's name */
  g_autofree char *from = layout ? g_strdup_printf ("oci:%s:%s", layout, name) : NULL;
  gboolean ok = layout && (r = vk_ops_oci_write (ops, name, sc, imgdir, layout, error)) != NULL &&
                vk_ops_step (ops, "push-copy", error) &&
                skopeo_copy (ops, ro, "dest", from, full, error);
  if (tmp)
    vk_store_tmp_dir_done (tmp, tlock);
  if (!ok)
    {
      vk_journal_rollback (j, NULL);
      return NULL;
    }
  vk_journal_commit (j);
  r->reference = g_steal_pointer (&full);
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  return g_steal_pointer (&r);
}

VkImportResult *
vk_ops_image_pull (VkOps *ops, const char *ref, const char *name, const VkRegistryOptions *ro,
                   GError **error)
{
  g_autofree char *full = vk_ops_registry_ref (ref, error);
  if (full == NULL || (name && !vk_ops_import_name_free (ops, name, error)) ||
      !skopeo_found (error))
    return NULL;
  g_autoptr(VkJournal) j = vk_journal_begin (ops, "pull", name ? name : "pull", error);
  if (j == NULL)
    return NULL;
  g_autofree char *tmp = NULL;
  int tlock = -1;
  g_autofree char *layout = work_layout (ops, j, "pull", &tmp, &tlock, error);
  g_autofree char *to = layout ? g_strdup_printf ("oci:%s:%s", layout, LAYOUT_REF) : NULL;
  VkImportResult *r = NULL;
  if (layout && vk_ops_step (ops, "pull-copy", error) &&
      skopeo_copy (ops, ro, "src", full, to, error) &&
      vk_ops_step (ops, "pull-import", error))
    r = vk_ops_image_import_oci (ops, layout, LAYOUT_REF, full, name, error);
  if (tmp)
    vk_store_tmp_dir_done (tmp, tlock);
  if (r == NULL)
    {
      vk_journal_rollback (j, NULL);
      if (error && *error && !g_str_has_suffix ((*error)->message, _("; nothing was imported")))
        {
          char *m = g_strconcat ((*error)->message, _("; nothing was imported"), NULL);
          g_free ((*error)->message);
          (*error)->message = m;
        }
      return NULL;
    }
  vk_journal_commit (j);
  return r;
}
