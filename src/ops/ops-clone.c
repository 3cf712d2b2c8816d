/* vmkeep — clone of an image. See ops-clone.h.
 *
 * A clone resumes the source's memory with the *identical* devices:
 * nothing is hot-swapped after restore (a Windows guest never
 * re-enumerates a replaced NIC and would wake with none).
 *
 * The clone's state is never copied by default: libvirt restores from a
 * FIFO into which vmkeep writes a re-emitted save header carrying the
 * clone's XML, then the source's QEMU stream (spliced from the page cache
 * while another thread checks its SHA-256; see save-stream.h). */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clone-private.h"
#include "clone-xml.h"
#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "ops-domain.h"
#include "ops-host.h"
#include "ops-image.h"
#include "ops-sidecar.h"
#include "save-stream.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

void
vk_clone_phase (const char *what)
{
  static gint64 t0;
  gint64 now = g_get_monotonic_time ();
  if (t0 == 0)
    t0 = now;
  g_debug ("%7.3f s  %s", (now - t0) / 1e6, what);
}
#define phase vk_clone_phase

void
vk_clone_result_init (VkCloneResult *r)
{
  memset (r, 0, sizeof *r);
  r->disks = g_ptr_array_new_with_free_func (g_free);
  r->taps = g_ptr_array_new_with_free_func (g_free);
}

void
vk_clone_result_clear (VkCloneResult *r)
{
  g_clear_pointer (&r->name, g_free);
  g_clear_pointer (&r->uuid, g_free);
  g_clear_pointer (&r->image, g_free);
  g_clear_pointer (&r->disks, g_ptr_array_unref);
  g_clear_pointer (&r->taps, g_ptr_array_unref);
}

gboolean
vk_clone_journal_end (VkOps *ops, VkJournal *j, gboolean ok, GError **error)
{
  if (ok)
    {
      vk_journal_commit (j);
      return TRUE;
    }
  g_autoptr(GError) rb = NULL;
  if (!vk_journal_rollback (j, &rb))
    vk_ops_notice (ops, _("also failed while undoing: %s"), rb->message);
  return FALSE;
}

/* Serial/console log files the clone's QEMU will create: a clone that is
 * removed again takes them along (files that exist already are kept). */
static gboolean
journal_new_log_files (VkJournal *j, xmlDocPtr clone, GError **error)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  xmlNodePtr devs = vk_domain_devices (clone);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE ||
          (!xmlStrEqual (n->name, BAD_CAST "serial") && !xmlStrEqual (n->name, BAD_CAST "console")))
        continue;
      g_autofree char *type = vk_xml_prop (n, "type");
      char *found[] = { g_strcmp0 (type, "file") == 0 ? vk_xml_child_prop (n, "source", "path")
                                                      : NULL,
                        vk_xml_child_prop (n, "log", "file") };
      for (guint i = 0; i < G_N_ELEMENTS (found); i++)
        {
          if (found[i] && !g_file_test (found[i], G_FILE_TEST_EXISTS) &&
              !g_ptr_array_find_with_equal_func (paths, found[i], g_str_equal, NULL))
            g_ptr_array_add (paths, found[i]);
          else
            g_free (found[i]);
        }
    }
  for (guint i = 0; i < paths->len; i++)
    if (!vk_journal_push (j, VK_UNDO_UNLINK, error, paths->pdata[i], NULL))
      return FALSE;
  return TRUE;
}

/* host side of each NIC: "bridge:br0" / "network:default" */
static char *
nic_host (xmlNodePtr n)
{
  g_autofree char *br = vk_xml_child_prop (n, "source", "bridge");
  g_autofree char *net = vk_xml_child_prop (n, "source", "network");
  if (net)
    return g_strdup_printf ("network:%s", net);
  if (br)
    return g_strdup_printf ("bridge:%s", br);
  return NULL;
}

gboolean
vk_clone_check_duplicate_macs (VkConn *conn, xmlDocPtr clone, const char *clone_name,
                               GError **error)
{
  g_autoptr(GPtrArray) infos = vk_conn_list_domains (conn, FALSE, error);
  if (infos == NULL)
    return FALSE;
  g_autoptr(GHashTable) mine = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  xmlNodePtr devs = vk_domain_devices (clone);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "interface"))
      {
        g_autofree char *mac = vk_xml_child_prop (n, "mac", "address");
        char *host = nic_host (n);
        if (mac && host)
          g_hash_table_insert (mine, g_ascii_strdown (mac, -1), host);
        else
          g_free (host);
      }
  for (guint i = 0; i < infos->len; i++)
    {
      VkDomainInfo *info = infos->pdata[i];
      if (g_str_equal (info->name, clone_name))
        continue;
      g_autoptr(VkDomain) d = vk_domain_try_lookup (conn, info->name);
      g_autoptr(xmlDoc) doc = d ? vk_ops_domain_doc (d, FALSE, NULL) : NULL;
      if (doc == NULL)
        continue;
      xmlNodePtr od = vk_domain_devices (doc);
      for (xmlNodePtr n = od->children; n; n = n->next)
        {
          if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "interface"))
            continue;
          g_autofree char *mac = vk_xml_child_prop (n, "mac", "address");
          g_autofree char *host = nic_host (n);
          g_autofree char *lmac = mac ? g_ascii_strdown (mac, -1) : NULL;
          const char *want = lmac ? g_hash_table_lookup (mine, lmac) : NULL;
          if (want && host && g_str_equal (want, host))
            {
              g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                           _("MAC %s is already in use by running domain '%s' on %s; a clone "
                             "keeps its source's MACs, so put it on another segment with "
                             "--bridge or --network (or pass --allow-duplicate-mac)"),
                           lmac, info->name, host);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* ---- the state into libvirt ---------------------------------------------- */

typedef struct {
  const char *fifo;
  GBytes *header;
  VkStateSource *src;
  guint64 offset;
  /* The feeder's own: it stops serving only once the restore returned.
   * Never ops->cancel: a feeder that gave up before libvirt opened the
   * FIFO would leave libvirt's open blocked for ever. */
  GCancellable *stop;
  gboolean ok;
  guint served;        /* opens of the FIFO by libvirt */
  guint fed;           /* readers fed so far (for the debug phases) */
  GError *error;
} Feeder;

/* One reader of the FIFO, from the start. */
static gboolean
feed_one (int fd, gpointer p, GError **error)
{
  Feeder *f = p;
  gboolean ok;
  if (f->src->writer)
    {
      g_clear_pointer (&f->src->sha_out, g_free);
      ok = vk_save_stream_feed_growing (fd, f->header, f->src->state, f->offset,
                                        f->src->writer, f->stop, &f->src->sha_out,
                                        &f->src->size_out, error);
    }
  else
    ok = vk_save_stream_feed (fd, f->header, f->src->state, f->offset, f->src->sha,
                              f->stop, error);
  /* what is left of "restored" after this is libvirt's and QEMU's */
  g_autofree char *what = g_strdup_printf ("clone: state fed to libvirt (reader %u)", ++f->fed);
  phase (what);
  return ok;
}

static gpointer
feeder_thread (gpointer p)
{
  Feeder *f = p;
  f->ok = vk_fifo_serve (f->fifo, feed_one, f, f->stop, &f->served, NULL, &f->error);
  return NULL;
}

/* A working directory in the store's tmp, removed by the journal should
 * the process die in it. */
static char *
journaled_tmp_dir (VkOps *ops, VkJournal *j, int *lock_fd, GError **error)
{
  char *dir = vk_store_tmp_dir_new (ops->cfg->store_dir, "clone", lock_fd, error);
  if (dir && !vk_journal_push (j, VK_UNDO_RMTREE, error, dir, NULL))
    {
      vk_store_tmp_dir_done (dir, *lock_fd);
      g_clear_pointer (&dir, g_free);
    }
  return dir;
}

static void
journaled_tmp_dir_done (VkJournal *j, const char *dir, int lock_fd)
{
  vk_store_tmp_dir_done (dir, lock_fd);
  vk_journal_pop (j);
}

static gboolean
restore_via_fifo (VkOps *ops, VkJournal *j, GBytes *header, VkStateSource *src,
                  guint64 offset, gboolean paused, GError **error)
{
  int lock_fd = -1;
  g_autofree char *dir = journaled_tmp_dir (ops, j, &lock_fd, error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *fifo = g_build_filename (dir, "state.fifo", NULL);
  if (mkfifo (fifo, 0600) < 0)
    {
      int e = errno;
      journaled_tmp_dir_done (j, dir, lock_fd);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create FIFO %s: %s"), fifo,
                   g_strerror (e));
      return FALSE;
    }
  g_autoptr(GCancellable) stop = g_cancellable_new ();
  Feeder f = { fifo, header, src, offset, stop, FALSE, 0, 0, NULL };
  GThread *t = g_thread_new ("vmkeep-feed", feeder_thread, &f);
  g_autoptr(GError) rerr = NULL;
  gboolean ok = vk_conn_restore (ops->conn, fifo, NULL, paused, FALSE, &rerr);
  g_cancellable_cancel (stop);
  g_thread_join (t);
  journaled_tmp_dir_done (j, dir, lock_fd);
  g_debug ("clone: state path fifo, opened %u time(s) by libvirt", f.served);
  if (!ok || !f.ok)
    {
      /* the feeder's error says why (e.g. a checksum mismatch); libvirt's
       * is then only the consequence */
      if (f.error && f.error->code == VK_ERROR_REFUSED)
        g_propagate_error (error, g_steal_pointer (&f.error));
      else if (!ok)
        g_propagate_error (error, g_steal_pointer (&rerr));
      else
        g_propagate_error (error, g_steal_pointer (&f.error));
      g_clear_error (&f.error);
      return FALSE;
    }
  g_clear_error (&f.error);
  return TRUE;
}

/* A state libvirt must read from a seekable file (the sparse format) goes
 * through a real file in the store's tmp: a reflink of the image's state
 * with the clone's header written in place where the file system shares
 * extents, else an in-kernel copy that keeps holes. The clone is restored
 * paused while the image's state is hashed, and runs only if the hash is
 * the sidecar's. The file goes once libvirt has read it. */
static gboolean
restore_via_file (VkOps *ops, VkJournal *j, const char *name, GBytes *header,
                  VkStateSource *src, guint64 offset, int channels, gboolean paused,
                  const char **how, GError **error)
{
  int lock_fd = -1;
  g_autofree char *dir = journaled_tmp_dir (ops, j, &lock_fd, error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *file = g_build_filename (dir, VK_STORE_STATE, NULL);
  if (!vk_save_file_write (file, header, src->state, offset, how, error))
    {
      journaled_tmp_dir_done (j, dir, lock_fd);
      return FALSE;
    }
  phase (*how && g_str_equal (*how, "reflink") ? "clone: state reflinked" : "clone: state copied");
  gboolean ok = vk_ops_restore_checked (ops->conn, name, file, src->state, src->sha, channels,
                                        paused, error);
  journaled_tmp_dir_done (j, dir, lock_fd);
  return ok;
}

/* ---- the clone's plan ----------------------------------------------------- */

gboolean
vk_clone_check_new_name (VkConn *conn, const char *what, const char *name, GError **error)
{
  if (!vk_validate_name (what, name, error))
    return FALSE;
  g_autoptr(VkDomain) exists = vk_domain_try_lookup (conn, name);
  if (exists != NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("a domain named '%s' already exists; pick another --name"), name);
      return FALSE;
    }
  return TRUE;
}

/* What clone_from creates and keeps between its steps. */
typedef struct {
  VkOps *ops;
  VkJournal *j;
  VkSidecar *sc;
  const VkCloneOpts *o;
  GHashTable *paths;     /* target -> the clone's disk */
  GHashTable *formats;   /* target -> its format */
  char *uuid;
  char *nvram;           /* the clone's NVRAM file, or NULL */
  char *nvram_src;       /* the image's copy of the source's, or NULL */
  xmlDocPtr clone;
  char *clone_xml;
  GBytes *header;
} Plan;

static void
plan_clear (Plan *p)
{
  g_clear_pointer (&p->paths, g_hash_table_unref);
  g_clear_pointer (&p->formats, g_hash_table_unref);
  g_clear_pointer (&p->uuid, g_free);
  g_clear_pointer (&p->nvram, g_free);
  g_clear_pointer (&p->nvram_src, g_free);
  g_clear_pointer (&p->clone, xmlFreeDoc);
  g_clear_pointer (&p->clone_xml, g_free);
  g_clear_pointer (&p->header, g_bytes_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Plan, plan_clear)

/* Where the clone's disk for frozen disk `f` goes, refused when vmkeep
 * may not create it there or QEMU could not open it. */
static char *
plan_disk (Plan *p, VkFrozenDisk *f, GError **error)
{
  const VkCloneOpts *o = p->o;
  g_autofree char *odir = g_path_get_dirname (f->original);
  if (!o->disk_dir && !vk_ops_image_dir_is_own (p->ops, p->ops->conn, p->sc, odir))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("disk %s of the image was in %s, which holds no disk of '%s' here and "
                     "is not below disk-dir (%s): give --disk-dir DIR for the clone's "
                     "disks; nothing was created"), f->target, odir, p->sc->domain_name,
                   p->ops->cfg->disk_dir);
      return NULL;
    }
  g_autofree char *ddir = o->disk_dir ? g_strdup (o->disk_dir) : g_path_get_dirname (f->original);
  const char *fmt = o->copy ? f->format : "qcow2";
  g_autofree char *file = g_strdup_printf ("%s-%s.%s", o->name, f->target, fmt);
  g_autofree char *path = g_build_filename (ddir, file, NULL);
  if (!g_file_test (ddir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("disk directory %s does not exist; create it or pick --disk-dir"), ddir);
      return NULL;
    }
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("%s already exists; vmkeep never overwrites a disk: remove it or "
                     "pick another --name or --disk-dir"), path);
      return NULL;
    }
  g_autofree char *fdir = g_path_get_dirname (f->frozen);
  if (!vk_ops_check_qemu_reaches (p->ops->conn, ddir, error) ||
      !vk_ops_check_qemu_reaches (p->ops->conn, fdir, error))
    return NULL;
  g_hash_table_insert (p->formats, g_strdup (f->target), g_strdup (fmt));
  return g_steal_pointer (&path);
}

/* The clone's variable store goes where this host keeps them, and starts
 * as the copy the image took at save time: never as a file the image's
 * XML names (that would hand a host file to a guest). Without a copy in
 * the image libvirt makes one from the firmware's template. */
static gboolean
plan_nvram (Plan *p, xmlDocPtr src_doc, const char *dir, GError **error)
{
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (src_doc), "os");
  g_autofree char *src_nv = vk_xml_child_text (os, "nvram");
  if (src_nv == NULL || *src_nv == '\0')
    return TRUE;
  g_autofree char *nvfile = g_strdup_printf ("%s_VARS.fd", p->o->name);
  p->nvram = g_build_filename (p->ops->cfg->nvram_dir, nvfile, NULL);
  g_autofree char *saved = g_build_filename (dir, "nvram.fd", NULL);
  p->nvram_src = g_file_test (saved, G_FILE_TEST_IS_REGULAR) ? g_strdup (saved) : NULL;
  if (g_file_test (p->nvram, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("NVRAM file %s already exists; remove it or pick another --name"),
                   p->nvram);
      return FALSE;
    }
  return TRUE;
}

/* The clone's TAP devices: valid names that are not taken on this host. */
static gboolean
check_taps (Plan *p, VkCloneResult *res, GError **error)
{
  xmlNodePtr devs = vk_domain_devices (p->clone);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "interface"))
      {
        g_autofree char *tap = vk_xml_child_prop (n, "target", "dev");
        if (tap && !vk_validate_ifname ("--tap", tap, error))
          return FALSE;
        g_autofree char *type = vk_xml_prop (n, "type");
        VkHostIface exists = tap && g_strcmp0 (type, "ethernet") != 0
                               ? vk_ops_host_interface (p->ops->conn, tap)
                               : VK_HOST_IFACE_ABSENT;
        if (exists == VK_HOST_IFACE_BRIDGE || exists == VK_HOST_IFACE_OTHER)
          {
            g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                         _("TAP device %s already exists on this host; give another --tap"), tap);
            return FALSE;
          }
        g_ptr_array_add (res->taps, g_steal_pointer (&tap));
      }
  return TRUE;
}

/* The clone's XML from the source's, checked: only allowed fields differ,
 * the host side exists, no MAC clash; then its save header. */
static gboolean
plan_clone_xml (Plan *p, VkSaveHeader *hdr, xmlDocPtr src_doc, gboolean macs_checked,
                VkCloneResult *res, GError **error)
{
  const VkCloneOpts *o = p->o;
  VkConn *conn = p->ops->conn;
  p->clone = xmlCopyDoc (src_doc, 1);
  VkCloneRewrite rw = { o->name, p->uuid, p->paths, p->formats, o->taps,
                        o->bridge, o->network, p->nvram };
  if (!vk_clone_rewrite (p->clone, p->sc->domain_name, &rw, error) ||
      !check_taps (p, res, error))
    return FALSE;
  if (o->bridge && !vk_ops_check_nic_source (conn, 0, o->bridge, error))
    return FALSE;
  if (o->network && !vk_ops_check_nic_source (conn, 1, o->network, error))
    return FALSE;
  if (!o->allow_dup_mac && !macs_checked && !o->no_start &&
      !vk_clone_check_duplicate_macs (conn, p->clone, o->name, error))
    return FALSE;

  phase ("clone: XML rewritten");
  /* The proof: only allowed fields differ. */
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) ident = NULL;
  if (!vk_domain_xml_diff (src_doc, p->clone, &allowed, &ident, error))
    return FALSE;
  if (ident->len > 0)
    {
      VkXmlDifference *d = ident->pdata[0];
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("internal error: the clone would differ from its source in %s; nothing "
                     "was created"), d->text);
      return FALSE;
    }
  p->clone_xml = vk_xml_format (p->clone);
  p->header = vk_save_header_emit (hdr, p->clone_xml, -1, error);
  return p->header != NULL;
}

/* Plan the clone's files and XML: nothing is created yet. */
static gboolean
plan_clone (Plan *p, const char *dir, VkSaveHeader *hdr, xmlDocPtr src_doc,
            gboolean macs_checked, VkCloneResult *res, GError **error)
{
  p->paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  p->formats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < p->sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = p->sc->frozen_disks->pdata[i];
      char *path = plan_disk (p, f, error);
      if (path == NULL)
        return FALSE;
      g_hash_table_insert (p->paths, g_strdup (f->target), path);
    }
  p->uuid = g_uuid_string_random ();
  return plan_nvram (p, src_doc, dir, error) &&
         plan_clone_xml (p, hdr, src_doc, macs_checked, res, error);
}

/* ---- the clone's files and definition -------------------------------------- */

/* Disks (overlays or copies) and the NVRAM copy, each recorded first. */
static gboolean
create_files (Plan *p, VkCloneResult *res, GError **error)
{
  for (guint i = 0; i < p->sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = p->sc->frozen_disks->pdata[i];
      const char *path = g_hash_table_lookup (p->paths, f->target);
      if (!vk_journal_push (p->j, VK_UNDO_UNLINK, error, path, NULL))
        return FALSE;
      gboolean ok = p->o->copy ? vk_file_clone (f->frozen, path, 0600, error)
                               : vk_disk_create_overlay (path, f->frozen, f->format, error);
      if (!ok)
        return FALSE;
      g_ptr_array_add (res->disks, g_strdup_printf ("%s=%s", f->target, path));
    }
  if (p->nvram && p->nvram_src)
    {
      if (!vk_journal_push (p->j, VK_UNDO_UNLINK, error, p->nvram, NULL) ||
          !vk_file_clone (p->nvram_src, p->nvram, 0600, error))
        return FALSE;
    }
  return TRUE;
}

/* The frozen disks of the image a clone --no-start is kept as. */
static gboolean
kept_frozen_disks (Plan *p, VkSidecar *csc, GError **error)
{
  gboolean copy = p->o->copy;
  for (guint i = 0; i < p->sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = p->sc->frozen_disks->pdata[i];
      VkFrozenDisk *c = g_new0 (VkFrozenDisk, 1);
      g_ptr_array_add (csc->frozen_disks, c);
      c->target = g_strdup (f->target);
      c->original = g_strdup (g_hash_table_lookup (p->paths, f->target));
      c->frozen = g_strdup (copy ? c->original : f->frozen);
      c->format = g_strdup (f->format);
      c->size = f->size;
      c->meta_sha256 = copy ? NULL : g_strdup (f->meta_sha256);
      if (copy && !vk_disk_digest (c->frozen, c->format, &c->meta_sha256, error))
        return FALSE;
      if (!copy && !vk_file_sha256 (c->original, &c->overlay_sha256, NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* The sidecar of the image a clone --no-start is kept as. */
static VkSidecar *
kept_sidecar (Plan *p, const char *cstate, GError **error)
{
  g_autoptr(VkSidecar) csc = vk_ops_sidecar_new (p->ops, VK_SIDECAR_IMAGE, p->o->name, p->uuid);
  csc->identity = vk_identity_from_domain (p->clone, error);
  csc->tpm = p->sc->tpm;
  csc->nvram_path = g_strdup (p->nvram);
  csc->domain_xml = g_strdup (p->clone_xml);
  csc->state_file = g_strdup (VK_STORE_STATE);
  csc->has_state_size = TRUE;
  if (csc->identity == NULL ||
      !vk_file_sha256 (cstate, &csc->state_sha256, &csc->state_size, error) ||
      !kept_frozen_disks (p, csc, error))
    return NULL;
  return g_steal_pointer (&csc);
}

/* Kept as image NAME in the store: wake --image NAME resumes it. */
static gboolean
keep_as_image (Plan *p, VkStateSource *ss, guint64 stream_offset, VkCloneResult *res,
               GError **error)
{
  const char *store = p->ops->cfg->store_dir;
  const char *name = p->o->name;
  int lock_fd = -1;
  g_autofree char *partial = vk_ops_image_partial_new (p->ops, p->j, name, &lock_fd, error);
  if (partial == NULL)
    return FALSE;
  g_autofree char *cstate = g_build_filename (partial, VK_STORE_STATE, NULL);
  g_autofree char *final = vk_store_image_dir (store, name);
  g_autofree char *sidecar = g_build_filename (partial, VK_STORE_SIDECAR, NULL);
  g_autoptr(VkSidecar) csc = NULL;
  if (!vk_save_file_write (cstate, p->header, ss->state, stream_offset, NULL, error) ||
      (csc = kept_sidecar (p, cstate, error)) == NULL ||
      !vk_sidecar_save (csc, sidecar, error) ||
      !vk_journal_push (p->j, VK_UNDO_RMTREE, error, final, NULL))
    {
      close (lock_fd);
      return FALSE;
    }
  if (!vk_store_partial_commit (store, partial, name, lock_fd, error))
    return FALSE;
  vk_store_image_finish (final, lock_fd);
  res->image = g_strdup (name);
  return TRUE;
}

/* A fork's memory snapshot in a seekable format (the host's
 * snapshot_image_format) is only usable once libvirt finished it. */
static gboolean
wait_complete_snapshot (VkStateSource *ss, GError **error)
{
  phase ("clone: waiting for the complete snapshot (not a stream format)");
  while (g_atomic_int_get (ss->writer) == VK_WRITER_RUNNING)
    g_usleep (10000);
  if (g_atomic_int_get (ss->writer) != VK_WRITER_DONE)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("libvirt did not complete the memory snapshot %s"), ss->state);
      return FALSE;
    }
  g_clear_pointer (&ss->sha_out, g_free);
  return vk_file_sha256 (ss->state, &ss->sha_out, &ss->size_out, error);
}

/* The clone's state into libvirt, the clone running (or paused). */
static gboolean
restore_state (Plan *p, VkSaveHeader *hdr, VkStateSource *ss, VkCloneResult *res,
               GError **error)
{
  if (VK_SAVE_FORMAT_IS_STREAM (hdr->format))
    {
      /* Through the FIFO even where a reflink would be O(1): a reflink is
       * an inode of its own with a cold page cache, so libvirt reads the
       * whole state again, while the FIFO's feeder reads the image's
       * state.sav, cached once for every clone of it. Measured
       * (bench/clone.sh, XFS, libvirt 9.0, 600 MiB state, 2026-12-03):
       * a clone from a reflink took 1.28-3.25 s, median 2.75 s, where
       * virsh restore of a warm file took 1.34 s; through the FIFO the
       * same clone took a median of 1.55 s an hour before. */
      if (!restore_via_fifo (p->ops, p->j, p->header, ss, hdr->stream_offset, p->o->paused,
                             error))
        return FALSE;
      res->state_path = "fifo";
    }
  else
    {
      if (ss->writer && !wait_complete_snapshot (ss, error))
        return FALSE;
      /* restored with the channels that wrote it, as wake does */
      int channels = (int) p->sc->state_channels;
      if (!restore_via_file (p->ops, p->j, p->o->name, p->header, ss, hdr->stream_offset,
                             channels, p->o->paused, &res->state_path, error))
        return FALSE;
    }
  g_debug ("clone: state path %s", res->state_path);
  res->running = TRUE;
  return TRUE;
}

/* Check what libvirt actually runs against the source, like with like. */
static gboolean
check_live (VkConn *conn, const char *name, xmlDocPtr src_doc, GError **error)
{
  g_autoptr(VkDomain) live = NULL;
  if (!vk_domain_lookup (conn, name, &live, error))
    return FALSE;
  g_autofree char *live_xml = vk_domain_xml_migratable (live, error);
  if (live_xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) live_doc = vk_xml_parse (live_xml, -1, name, error);
  g_autoptr(GPtrArray) ident = NULL;
  if (live_doc == NULL || !vk_domain_xml_diff (src_doc, live_doc, NULL, &ident, error))
    return FALSE;
  if (ident->len > 0)
    {
      VkXmlDifference *d = ident->pdata[0];
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("the running clone differs from its source in %s; it was removed again"),
                   d->text);
      return FALSE;
    }
  return TRUE;
}

gboolean
vk_clone_from (VkOps *ops, VkJournal *j, VkSidecar *sc, const char *dir, VkSaveHeader *hdr,
               xmlDocPtr src_doc, VkStateSource *ss, const VkCloneOpts *o,
               gboolean macs_checked, VkCloneResult *res, GError **error)
{
  g_auto(Plan) p = { ops, j, sc, o };
  if (!plan_clone (&p, dir, hdr, src_doc, macs_checked, res, error))
    return FALSE;

  phase ("clone: diff proven, header emitted");
  /* Create: disks, NVRAM, definition, then the running clone. */
  if (!vk_ops_check_cancel (ops, error) || !create_files (&p, res, error))
    return FALSE;
  g_autoptr(VkDomain) dom = NULL;
  phase ("clone: disks created");
  if (!vk_journal_push (j, VK_UNDO_UNDEFINE, error, p.uuid, NULL) ||
      !vk_domain_define (ops->conn, p.clone_xml, &dom, error))
    return FALSE;
  res->name = g_strdup (o->name);
  res->uuid = g_strdup (p.uuid);
  if (o->no_start)
    return keep_as_image (&p, ss, hdr->stream_offset, res, error);

  phase ("clone: defined");
  if (!journal_new_log_files (j, p.clone, error) || !vk_ops_check_cancel (ops, error) ||
      !restore_state (&p, hdr, ss, res, error))
    return FALSE;

  phase ("clone: restored");
  if (!check_live (ops->conn, o->name, src_doc, error))
    return FALSE;
  phase ("clone: live XML checked");
  return TRUE;
}

/* An image clone's checks before anything is created. */
static gboolean
check_image (VkOps *ops, const char *image, const VkCloneOpts *o, VkSidecar *sc,
             const char *dir, VkSaveHeader **hdr, xmlDocPtr *src_doc, GError **error)
{
  if (o->no_start)
    {
      g_autofree char *target = vk_store_image_dir (ops->cfg->store_dir, o->name);
      if (g_file_test (target, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("--no-start keeps the clone as image '%s', which exists already"),
                       o->name);
          return FALSE;
        }
    }
  /* Refuse damaged or tampered input before anything is created. */
  phase ("clone: start, checking image");
  if (!vk_ops_image_check (sc, dir, image, ops->conn, hdr, src_doc, error))
    {
      if (error && *error)
        {
          char *m = g_strdup_printf (_("%s; nothing was created"), (*error)->message);
          g_free ((*error)->message);
          (*error)->message = m;
        }
      return FALSE;
    }
  phase ("clone: image checked");
  return TRUE;
}

gboolean
vk_clone_image (VkOps *ops, const char *image, const VkCloneOpts *o, const char *last_step,
                VkCloneResult *res, GError **error)
{
  if (!vk_clone_check_new_name (ops->conn, "clone name", o->name, error))
    return FALSE;
  g_autofree char *dir = NULL;
  g_autoptr(VkLock) ilock = NULL;
  /* the image (its frozen bases, its state) stays while the clone uses it */
  g_autoptr(VkSidecar) sc = vk_ops_image_open (ops, image, TRUE, &dir, &ilock, error);
  if (sc == NULL)
    return FALSE;
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_autoptr(xmlDoc) src_doc = NULL;
  if (!check_image (ops, image, o, sc, dir, &hdr, &src_doc, error))
    return FALSE;
  g_autofree char *state = g_build_filename (dir, sc->state_file, NULL);
  VkStateSource ss = { state, sc->state_sha256, NULL, NULL, 0 };
  g_autoptr(VkJournal) j = vk_journal_begin (ops, "clone", o->name, error);
  if (j == NULL)
    return FALSE;
  gboolean ok = vk_clone_from (ops, j, sc, dir, hdr, src_doc, &ss, o, FALSE, res, error) &&
                vk_ops_step (ops, last_step, error);
  return vk_clone_journal_end (ops, j, ok, error);
}

gboolean
vk_ops_clone_image (VkOps *ops, const char *image, const VkCloneOpts *o, VkCloneResult *res,
                    GError **error)
{
  return vk_clone_image (ops, image, o, "clone-after-restore", res, error);
}
