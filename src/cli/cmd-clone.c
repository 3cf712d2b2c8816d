/* vmkeep clone | fork
 *
 * A clone resumes the source's memory with the *identical* devices: same
 * PCI addresses, MACs, models, queues and ACPI indexes. Only the fields the
 * invariant allows change (name, UUID, disks, TAP and host side of NICs,
 * log/NVRAM/TPM paths). Nothing is hot-swapped after restore: a Windows
 * guest never re-enumerates a replaced NIC and would wake with none.
 *
 * The clone's state is never copied by default: libvirt restores from a
 * FIFO into which vmkeep writes a re-emitted save header carrying the
 * clone's XML, then the source's QEMU stream (spliced from the page cache
 * while another thread checks its SHA-256; see save-stream.h). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops-image.h"
#include "clone-xml.h"
#include "commands.h"
#include "disk.h"
#include "diskfile.h"
#include "domain-xml.h"
#include "fileutil.h"
#include "identity.h"
#include "output.h"
#include "save-header.h"
#include "save-stream.h"
#include "sidecar.h"
#include "store.h"
#include "validate.h"
#include "vk-error.h"

/* G_MESSAGES_DEBUG=vmkeep shows where a clone or fork spends its time. */
static void
phase (const char *what)
{
  static gint64 t0;
  gint64 now = g_get_monotonic_time ();
  if (t0 == 0)
    t0 = now;
  g_debug ("%7.3f s  %s", (now - t0) / 1e6, what);
}

typedef struct {
  const char *name;
  char **taps;
  const char *bridge;
  const char *network;
  const char *disk_dir;
  gboolean copy;
  gboolean paused;
  gboolean no_start;
  gboolean allow_dup_mac;
  gboolean macs_checked;   /* fork: checked before the source was saved */
} CloneOpts;

/* What a failed clone must remove again, newest first. */
typedef struct {
  GPtrArray *files;
  GPtrArray *dirs;
  char *domain;        /* defined (and maybe running) clone */
  VkConn *conn;
} Undo;

static void
undo_run (Undo *u)
{
  if (u->domain && u->conn)
    {
      g_autoptr(VkDomain) d = vk_domain_try_lookup (u->conn, u->domain);
      if (d)
        {
          if (vk_domain_state (d, NULL) != VK_STATE_SHUTOFF)
            vk_domain_destroy (d, NULL);
          vk_domain_undefine (d, TRUE, NULL);
        }
    }
  for (guint i = u->files->len; i > 0; i--)
    g_unlink (u->files->pdata[i - 1]);
  for (guint i = u->dirs->len; i > 0; i--)
    vk_rm_rf (u->dirs->pdata[i - 1], NULL);
}

/* Serial/console log files the clone's QEMU will create: a clone that is
 * removed again takes them along (files that exist already are kept). */
static void
undo_new_log_files (xmlDocPtr clone, Undo *u)
{
  xmlNodePtr devs = vk_domain_devices (clone);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE ||
          (!xmlStrEqual (n->name, BAD_CAST "serial") && !xmlStrEqual (n->name, BAD_CAST "console")))
        continue;
      g_autofree char *type = vk_xml_prop (n, "type");
      char *paths[] = { g_strcmp0 (type, "file") == 0 ? vk_xml_child_prop (n, "source", "path")
                                                      : NULL,
                        vk_xml_child_prop (n, "log", "file") };
      for (guint i = 0; i < G_N_ELEMENTS (paths); i++)
        {
          if (paths[i] && !g_file_test (paths[i], G_FILE_TEST_EXISTS) &&
              !g_ptr_array_find_with_equal_func (u->files, paths[i], g_str_equal, NULL))
            g_ptr_array_add (u->files, paths[i]);
          else
            g_free (paths[i]);
        }
    }
}

static void
undo_clear (Undo *u)
{
  g_ptr_array_unref (u->files);
  g_ptr_array_unref (u->dirs);
  g_free (u->domain);
}

/* host side of each NIC: "bridge:br0" / "network:default" */
static char *
nic_host (xmlNodePtr n)
{
  g_autofree char *type = vk_xml_prop (n, "type");
  g_autofree char *br = vk_xml_child_prop (n, "source", "bridge");
  g_autofree char *net = vk_xml_child_prop (n, "source", "network");
  if (net)
    return g_strdup_printf ("network:%s", net);
  if (br)
    return g_strdup_printf ("bridge:%s", br);
  return NULL;
}

/* Two running VMs with one MAC on one segment break each other's traffic. */
static gboolean
check_duplicate_macs (VkConn *conn, xmlDocPtr clone, const char *clone_name, GError **error)
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
      g_autoptr(xmlDoc) doc = d ? vk_cli_domain_doc (d, FALSE, NULL) : NULL;
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

/* Where a clone's state comes from: a finished image file (checked
 * against its sidecar's SHA-256 on the way) or, for a fork of a running
 * VM, the memory snapshot libvirt is still writing (hashed on the way). */
typedef struct {
  const char *state;
  const char *sha;        /* expected SHA-256, or NULL */
  const gint *writer;     /* growing file: VkWriterState, else NULL */
  char *sha_out;          /* growing file: SHA-256 and size of what was read */
  guint64 size_out;
} StateSource;

typedef struct {
  const char *fifo;
  GBytes *header;
  StateSource *src;
  guint64 offset;
  gint cancel;
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
                                        f->src->writer, &f->cancel, &f->src->sha_out,
                                        &f->src->size_out, error);
    }
  else
    ok = vk_save_stream_feed (fd, f->header, f->src->state, f->offset, f->src->sha,
                              &f->cancel, error);
  /* what is left of "restored" after this is libvirt's and QEMU's */
  g_autofree char *what = g_strdup_printf ("clone: state fed to libvirt (reader %u)", ++f->fed);
  phase (what);
  return ok;
}

static gpointer
feeder_thread (gpointer p)
{
  Feeder *f = p;
  f->ok = vk_fifo_serve (f->fifo, feed_one, f, &f->cancel, &f->served, NULL, &f->error);
  return NULL;
}

static gboolean
restore_via_fifo (VkCli *cli, VkConn *conn, GBytes *header, StateSource *src,
                  guint64 offset, gboolean paused, GError **error)
{
  int lock_fd = -1;
  g_autofree char *dir = vk_store_tmp_dir_new (cli->cfg->store_dir, "clone", &lock_fd, error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *fifo = g_build_filename (dir, "state.fifo", NULL);
  if (mkfifo (fifo, 0600) < 0)
    {
      int e = errno;
      vk_store_tmp_dir_done (dir, lock_fd);
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot create FIFO %s: %s"), fifo,
                   g_strerror (e));
      return FALSE;
    }
  Feeder f = { fifo, header, src, offset, 0, FALSE, 0, 0, NULL };
  GThread *t = g_thread_new ("vmkeep-feed", feeder_thread, &f);
  g_autoptr(GError) rerr = NULL;
  gboolean ok = vk_conn_restore (conn, fifo, NULL, paused, FALSE, &rerr);
  g_atomic_int_set (&f.cancel, 1);
  g_thread_join (t);
  vk_store_tmp_dir_done (dir, lock_fd);
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
restore_via_file (VkCli *cli, VkConn *conn, const char *name, GBytes *header,
                  StateSource *src, guint64 offset, int channels, gboolean paused,
                  const char **how, GError **error)
{
  int lock_fd = -1;
  g_autofree char *dir = vk_store_tmp_dir_new (cli->cfg->store_dir, "clone", &lock_fd, error);
  if (dir == NULL)
    return FALSE;
  g_autofree char *file = g_build_filename (dir, VK_STORE_STATE, NULL);
  if (!vk_save_file_write (file, header, src->state, offset, how, error))
    {
      vk_store_tmp_dir_done (dir, lock_fd);
      return FALSE;
    }
  phase (*how && g_str_equal (*how, "reflink") ? "clone: state reflinked" : "clone: state copied");
  gboolean ok = vk_ops_restore_checked (conn, name, file, src->state, src->sha, channels, paused,
                                        error);
  vk_store_tmp_dir_done (dir, lock_fd);
  return ok;
}

typedef struct {
  char *name;
  char *uuid;
  char *image;
  GPtrArray *disks;   /* "vda=/path" */
  GPtrArray *taps;
  double seconds;
  gboolean running;
  const char *state_path;  /* how the state reached libvirt: fifo, reflink, copy */
} CloneResult;

static gboolean clone_from (VkCli *cli, VkConn *conn, VkSidecar *sc, const char *dir,
                            VkSaveHeader *hdr, xmlDocPtr src_doc, StateSource *ss,
                            const CloneOpts *o, CloneResult *res, Undo *undo, GError **error);

/* The new VM's name: valid and not taken. */
static gboolean
check_new_name (VkConn *conn, const char *what, const char *name, GError **error)
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

static gboolean
clone_image (VkCli *cli, VkConn *conn, const char *image, const CloneOpts *o,
             CloneResult *res, Undo *undo, GError **error)
{
  if (!check_new_name (conn, "clone name", o->name, error))
    return FALSE;
  g_autofree char *dir = NULL;
  g_autoptr(VkSidecar) sc = vk_ops_image_load (cli->ops, image, &dir, error);
  if (sc == NULL)
    return FALSE;
  /* the image (its frozen bases, its state) stays while the clone uses it */
  g_autoptr(VkLock) ilock = vk_ops_lock_image (cli->ops, image, TRUE, error);
  if (ilock == NULL)
    return FALSE;
  if (o->no_start)
    {
      g_autofree char *target = vk_store_image_dir (cli->cfg->store_dir, o->name);
      if (g_file_test (target, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("--no-start keeps the clone as image '%s', which exists already"),
                       o->name);
          return FALSE;
        }
    }
  /* Refuse damaged or tampered input before anything is created. */
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_autoptr(xmlDoc) src_doc = NULL;
  phase ("clone: start, checking image");
  if (!vk_ops_image_check (sc, dir, image, conn, &hdr, &src_doc, error))
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
  g_autofree char *state = g_build_filename (dir, sc->state_file, NULL);
  StateSource ss = { state, sc->state_sha256, NULL, NULL, 0 };
  return clone_from (cli, conn, sc, dir, hdr, src_doc, &ss, o, res, undo, error);
}

/* Create the clone of `src_doc` (the XML inside the state's header `hdr`)
 * described by `sc` (frozen disks, NVRAM copy in `dir`) and resume it from
 * `ss`. Everything created is recorded in `undo`. */
static gboolean
clone_from (VkCli *cli, VkConn *conn, VkSidecar *sc, const char *dir, VkSaveHeader *hdr,
            xmlDocPtr src_doc, StateSource *ss, const CloneOpts *o, CloneResult *res,
            Undo *undo, GError **error)
{
  /* Plan the clone's files. */
  g_autoptr(GHashTable) paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) formats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      g_autofree char *odir = g_path_get_dirname (f->original);
      if (!o->disk_dir && !vk_ops_image_dir_is_own (cli->ops, conn, sc, odir))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("disk %s of the image was in %s, which holds no disk of '%s' here and "
                         "is not below disk-dir (%s): give --disk-dir DIR for the clone's "
                         "disks; nothing was created"), f->target, odir, sc->domain_name,
                       cli->cfg->disk_dir);
          return FALSE;
        }
      g_autofree char *ddir = o->disk_dir ? g_strdup (o->disk_dir) : g_path_get_dirname (f->original);
      const char *fmt = o->copy ? f->format : "qcow2";
      g_autofree char *file = g_strdup_printf ("%s-%s.%s", o->name, f->target, fmt);
      char *p = g_build_filename (ddir, file, NULL);
      if (!g_file_test (ddir, G_FILE_TEST_IS_DIR))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                       _("disk directory %s does not exist; create it or pick --disk-dir"), ddir);
          g_free (p);
          return FALSE;
        }
      if (g_file_test (p, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s already exists; vmkeep never overwrites a disk: remove it or "
                         "pick another --name or --disk-dir"), p);
          g_free (p);
          return FALSE;
        }
      g_autofree char *fdir = g_path_get_dirname (f->frozen);
      if (!vk_cli_check_qemu_reaches (cli, conn, ddir, error) ||
          !vk_cli_check_qemu_reaches (cli, conn, fdir, error))
        {
          g_free (p);
          return FALSE;
        }
      g_hash_table_insert (paths, g_strdup (f->target), p);
      g_hash_table_insert (formats, g_strdup (f->target), g_strdup (fmt));
    }

  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *nvram = NULL;
  g_autofree char *nvram_src = NULL;
  {
    xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (src_doc), "os");
    g_autofree char *src_nv = vk_xml_child_text (os, "nvram");
    if (src_nv && *src_nv)
      {
        /* The clone's variable store goes where this host keeps them, and
         * starts as the copy the image took at save time: never as a file
         * the image's XML names (that would hand a host file to a guest).
         * Without a copy in the image libvirt makes one from the
         * firmware's template. */
        g_autofree char *nvfile = g_strdup_printf ("%s_VARS.fd", o->name);
        nvram = g_build_filename (cli->cfg->nvram_dir, nvfile, NULL);
        g_autofree char *saved = g_build_filename (dir, "nvram.fd", NULL);
        nvram_src = g_file_test (saved, G_FILE_TEST_IS_REGULAR) ? g_strdup (saved) : NULL;
        if (g_file_test (nvram, G_FILE_TEST_EXISTS))
          {
            g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                         _("NVRAM file %s already exists; remove it or pick another --name"),
                         nvram);
            return FALSE;
          }
      }
  }

  g_autoptr(xmlDoc) clone = xmlCopyDoc (src_doc, 1);
  VkCloneRewrite rw = { o->name, uuid, paths, formats, (const char *const *) o->taps,
                        o->bridge, o->network, nvram };
  if (!vk_clone_rewrite (clone, sc->domain_name, &rw, error))
    return FALSE;
  xmlNodePtr devs = vk_domain_devices (clone);
  for (xmlNodePtr n = devs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "interface"))
      {
        g_autofree char *tap = vk_xml_child_prop (n, "target", "dev");
        if (tap && !vk_validate_ifname ("--tap", tap, error))
          return FALSE;
        g_autofree char *type = vk_xml_prop (n, "type");
        VkHostIface exists = tap && g_strcmp0 (type, "ethernet") != 0
                               ? vk_cli_host_interface (conn, tap) : VK_HOST_IFACE_ABSENT;
        if (exists == VK_HOST_IFACE_BRIDGE || exists == VK_HOST_IFACE_OTHER)
          {
            g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                         _("TAP device %s already exists on this host; give another --tap"), tap);
            return FALSE;
          }
        g_ptr_array_add (res->taps, g_steal_pointer (&tap));
      }
  if (o->bridge && !vk_cli_check_nic_source (conn, 0, o->bridge, error))
    return FALSE;
  if (o->network && !vk_cli_check_nic_source (conn, 1, o->network, error))
    return FALSE;
  if (!o->allow_dup_mac && !o->macs_checked && !o->no_start &&
      !check_duplicate_macs (conn, clone, o->name, error))
    return FALSE;

  phase ("clone: XML rewritten");
  /* The proof: only allowed fields differ. */
  g_autoptr(GPtrArray) allowed = NULL;
  g_autoptr(GPtrArray) ident = NULL;
  if (!vk_domain_xml_diff (src_doc, clone, &allowed, &ident, error))
    return FALSE;
  if (ident->len > 0)
    {
      VkXmlDifference *d = ident->pdata[0];
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("internal error: the clone would differ from its source in %s; nothing "
                     "was created"), d->text);
      return FALSE;
    }
  g_autofree char *clone_xml = vk_xml_format (clone);
  g_autoptr(GBytes) header = vk_save_header_emit (hdr, clone_xml, -1, error);
  if (header == NULL)
    return FALSE;

  phase ("clone: diff proven, header emitted");
  /* Create: disks, NVRAM, definition, then the running clone. */
  for (guint i = 0; i < sc->frozen_disks->len; i++)
    {
      VkFrozenDisk *f = sc->frozen_disks->pdata[i];
      const char *p = g_hash_table_lookup (paths, f->target);
      gboolean ok = o->copy ? vk_file_clone (f->frozen, p, 0600, error)
                            : vk_disk_create_overlay (p, f->frozen, f->format, error);
      if (!ok)
        return FALSE;
      g_ptr_array_add (undo->files, g_strdup (p));
      g_ptr_array_add (res->disks, g_strdup_printf ("%s=%s", f->target, p));
    }
  if (nvram && nvram_src)
    {
      if (!vk_file_clone (nvram_src, nvram, 0600, error))
        return FALSE;
      g_ptr_array_add (undo->files, g_strdup (nvram));
    }
  g_autoptr(VkDomain) dom = NULL;
  phase ("clone: disks created");
  if (!vk_domain_define (conn, clone_xml, &dom, error))
    return FALSE;
  undo->domain = g_strdup (o->name);
  if (!o->no_start)
    undo_new_log_files (clone, undo);
  res->name = g_strdup (o->name);
  res->uuid = g_strdup (uuid);

  if (o->no_start)
    {
      /* Kept as image NAME in the store: wake --image NAME resumes it. */
      int lock_fd = -1;
      g_autofree char *partial = vk_store_partial_new (cli->cfg->store_dir, o->name, &lock_fd,
                                                       error);
      if (partial == NULL)
        return FALSE;
      g_ptr_array_add (undo->dirs, g_strdup (partial));
      g_chmod (partial, 0711);
      g_autofree char *cstate = g_build_filename (partial, VK_STORE_STATE, NULL);
      if (!vk_save_file_write (cstate, header, ss->state, hdr->stream_offset, NULL, error))
        {
          close (lock_fd);
          return FALSE;
        }
      g_autoptr(VkSidecar) csc = vk_sidecar_new ();
      csc->mode = VK_SIDECAR_IMAGE;
      csc->domain_name = g_strdup (o->name);
      csc->domain_uuid = g_strdup (uuid);
      csc->created = g_date_time_new_now_utc ();
      csc->host = vk_conn_hostname (conn);
      csc->libvirt_version = vk_conn_libvirt_version (conn);
      csc->qemu_version = vk_conn_hv_version (conn);
      csc->identity = vk_identity_from_domain (clone, error);
      csc->tpm = sc->tpm;
      csc->nvram_path = g_strdup (nvram);
      csc->domain_xml = g_strdup (clone_xml);
      csc->state_file = g_strdup (VK_STORE_STATE);
      csc->has_state_size = TRUE;
      if (csc->identity == NULL ||
          !vk_file_sha256 (cstate, &csc->state_sha256, &csc->state_size, error))
        {
          close (lock_fd);
          return FALSE;
        }
      for (guint i = 0; i < sc->frozen_disks->len; i++)
        {
          VkFrozenDisk *f = sc->frozen_disks->pdata[i];
          VkFrozenDisk *c = g_new0 (VkFrozenDisk, 1);
          c->target = g_strdup (f->target);
          c->original = g_strdup (g_hash_table_lookup (paths, f->target));
          c->frozen = g_strdup (o->copy ? c->original : f->frozen);
          c->format = g_strdup (o->copy ? f->format : f->format);
          c->size = f->size;
          c->meta_sha256 = o->copy ? NULL : g_strdup (f->meta_sha256);
          if (o->copy && !vk_disk_digest (c->frozen, c->format, &c->meta_sha256, error))
            {
              vk_frozen_disk_free (c);
              close (lock_fd);
              return FALSE;
            }
          if (!o->copy && !vk_file_sha256 (c->original, &c->overlay_sha256, NULL, error))
            {
              vk_frozen_disk_free (c);
              close (lock_fd);
              return FALSE;
            }
          g_ptr_array_add (csc->frozen_disks, c);
        }
      g_autofree char *sidecar = g_build_filename (partial, VK_STORE_SIDECAR, NULL);
      if (!vk_sidecar_save (csc, sidecar, error) ||
          !vk_store_partial_commit (cli->cfg->store_dir, partial, o->name, lock_fd, error))
        return FALSE;
      g_autofree char *final = vk_store_image_dir (cli->cfg->store_dir, o->name);
      vk_store_image_finish (final, lock_fd);
      res->image = g_strdup (o->name);
      g_ptr_array_set_size (undo->dirs, 0);
      return TRUE;
    }

  phase ("clone: defined");
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
      if (!restore_via_fifo (cli, conn, header, ss, hdr->stream_offset, o->paused, error))
        return FALSE;
      res->state_path = "fifo";
    }
  else
    {
      if (ss->writer)
        {
          /* a fork's memory snapshot in a seekable format (the host's
           * snapshot_image_format) is only usable once libvirt finished it */
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
          if (!vk_file_sha256 (ss->state, &ss->sha_out, &ss->size_out, error))
            return FALSE;
        }
      /* restored with the channels that wrote it, as wake does */
      int channels = (int) sc->state_channels;
      if (!restore_via_file (cli, conn, o->name, header, ss, hdr->stream_offset, channels,
                             o->paused, &res->state_path, error))
        return FALSE;
    }
  g_debug ("clone: state path %s", res->state_path);
  res->running = TRUE;

  phase ("clone: restored");
  /* Check what libvirt actually runs against the source, like with like. */
  g_autoptr(VkDomain) live = NULL;
  if (!vk_domain_lookup (conn, o->name, &live, error))
    return FALSE;
  g_autofree char *live_xml = vk_domain_xml_migratable (live, error);
  if (live_xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) live_doc = vk_xml_parse (live_xml, -1, o->name, error);
  g_autoptr(GPtrArray) ident2 = NULL;
  if (live_doc == NULL || !vk_domain_xml_diff (src_doc, live_doc, NULL, &ident2, error))
    return FALSE;
  if (ident2->len > 0)
    {
      VkXmlDifference *d = ident2->pdata[0];
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("the running clone differs from its source in %s; it was removed again"),
                   d->text);
      return FALSE;
    }
  phase ("clone: live XML checked");
  return TRUE;
}

static void
print_result (VkCli *cli, const CloneResult *r, const char *verb)
{
  if (cli->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      vk_json_str (b, "name", r->name);
      vk_json_str (b, "uuid", r->uuid);
      vk_json_bool (b, "running", r->running);
      vk_json_str (b, "image", r->image);
      json_builder_set_member_name (b, "disks");
      json_builder_begin_array (b);
      for (guint i = 0; i < r->disks->len; i++)
        json_builder_add_string_value (b, r->disks->pdata[i]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "taps");
      json_builder_begin_array (b);
      for (guint i = 0; i < r->taps->len; i++)
        json_builder_add_string_value (b, r->taps->pdata[i]);
      json_builder_end_array (b);
      vk_json_str (b, "state_path", r->state_path);
      vk_json_double (b, "seconds", r->seconds);
      json_builder_end_object (b);
      vk_json_print_builder (b);
      return;
    }
  if (r->image)
    vk_cli_info (cli, _("%s '%s' defined and kept as image '%s' (%.1f s); resume it with "
                        "'vmkeep wake --image %s'"), verb, r->name, r->image, r->seconds, r->image);
  else
    vk_cli_info (cli, _("%s '%s' %s (%.1f s)"), verb, r->name,
                 r->running ? _("resumed") : _("defined"), r->seconds);
}

static gboolean
parse_clone_opts (const VkCommand *cmd, int *argc, char ***argv, CloneOpts *o,
                  char **name, char **bridge, char **network, char **disk_dir, char ***taps,
                  GError **error)
{
  const GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, name, N_("Name of the new VM (required)"), N_("NEW") },
    { "tap", 0, 0, G_OPTION_ARG_STRING_ARRAY, taps, N_("TAP name for the next NIC (repeat per NIC; default generated)"), N_("TAP") },
    { "bridge", 0, 0, G_OPTION_ARG_STRING, bridge, N_("Put every NIC on this bridge"), N_("BRIDGE") },
    { "network", 0, 0, G_OPTION_ARG_STRING, network, N_("Put every NIC on this libvirt network"), N_("NETWORK") },
    { "disk-dir", 0, 0, G_OPTION_ARG_FILENAME, disk_dir, N_("Directory for the clone's disks (default: beside the source's)"), N_("DIR") },
    { "copy", 0, 0, G_OPTION_ARG_NONE, &o->copy, N_("Full disk copies instead of qcow2 overlays"), NULL },
    { "paused", 0, 0, G_OPTION_ARG_NONE, &o->paused, N_("Leave the clone paused"), NULL },
    { "no-start", 0, 0, G_OPTION_ARG_NONE, &o->no_start, N_("Define the clone and keep its state as an image instead of resuming it"), NULL },
    { "allow-duplicate-mac", 0, 0, G_OPTION_ARG_NONE, &o->allow_dup_mac, N_("Start even when a running VM on the same segment has the same MAC"), NULL },
    { NULL },
  };
  if (!vk_cli_parse_entries (cmd, entries, argc, argv, error))
    return FALSE;
  if (*name == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE, _("vmkeep %s: --name NEW is required"),
                   cmd->name);
      return FALSE;
    }
  if (*bridge && *network)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep %s: give --bridge or --network, not both"), cmd->name);
      return FALSE;
    }
  if (o->paused && o->no_start)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep %s: --paused and --no-start exclude each other"), cmd->name);
      return FALSE;
    }
  if (*disk_dir && !g_path_is_absolute (*disk_dir))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("--disk-dir '%s' must be an absolute path"), *disk_dir);
      return FALSE;
    }
  for (gsize i = 0; *taps && (*taps)[i]; i++)
    if (!vk_validate_ifname ("--tap", (*taps)[i], error))
      return FALSE;
  if (*bridge && !vk_validate_ifname ("--bridge", *bridge, error))
    return FALSE;
  /* as for nic add: a libvirt network is named like a domain */
  if (*network && !vk_validate_name ("--network", *network, error))
    return FALSE;
  o->name = *name;
  o->taps = *taps;
  o->bridge = *bridge;
  o->network = *network;
  o->disk_dir = *disk_dir;
  return TRUE;
}


/* ---- fork ------------------------------------------------------------------ */

/* Fork a shut-off domain: its disks become shared read-only bases (renamed
 * beside themselves, O(1)), the source continues on fresh overlays, the
 * fork gets overlays of its own and a definition. */
static gboolean
fork_shutoff (VkCli *cli, VkConn *conn, VkDomain *src, const CloneOpts *o, CloneResult *res,
              Undo *undo, GError **error)
{
  const char *sname = vk_domain_get_name (src);
  g_autofree char *xml = vk_domain_xml (src, TRUE, error);
  if (xml == NULL)
    return FALSE;
  g_autoptr(xmlDoc) doc = vk_xml_parse (xml, -1, sname, error);
  if (doc == NULL)
    return FALSE;
  g_autoptr(GHashTable) paths = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GHashTable) formats = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autoptr(GPtrArray) disks = vk_domain_freezable_disks (doc, sname, _("a fork"), FALSE, NULL,
                                                          error);
  if (disks == NULL)
    return FALSE;
  for (guint i = 0; i < disks->len; i++)
    {
      VkFreezableDisk *d = disks->pdata[i];
      char *target = d->target, *file = d->path, *fmt = d->format;
      g_autofree char *ddir = o->disk_dir ? g_strdup (o->disk_dir) : g_path_get_dirname (file);
      g_autofree char *nf = g_strdup_printf ("%s-%s.qcow2", o->name, target);
      char *np = g_build_filename (ddir, nf, NULL);
      g_autofree char *base = g_strdup_printf ("%s.vmkeep-fork-%s.base", file, o->name);
      if (g_file_test (np, G_FILE_TEST_EXISTS) || g_file_test (base, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s already exists; vmkeep never overwrites a disk"),
                       g_file_test (np, G_FILE_TEST_EXISTS) ? np : base);
          g_free (np);
          return FALSE;
        }
      g_hash_table_insert (paths, g_strdup (target), np);
      g_hash_table_insert (formats, g_strdup (target), g_strdup ("qcow2"));
      char *row[] = { file, base, fmt, np, NULL };
      g_ptr_array_add (plan, g_strdupv (row));
    }
  g_autofree char *uuid = g_uuid_string_random ();
  /* A UEFI source's firmware variables (boot entries, Secure Boot keys)
   * come along: the fork gets its own copy, never a fresh template. */
  xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (doc), "os");
  g_autofree char *firmware = vk_xml_prop (os, "firmware");
  g_autofree char *src_nv = vk_xml_child_text (os, "nvram");
  if ((src_nv == NULL || *src_nv == '\0') && g_strcmp0 (firmware, "efi") == 0)
    {
      /* libvirt's own name for a VARS file it created */
      g_autofree char *nvdir = vk_conn_libvirt_dir (conn, VK_LIBVIRT_DIR_NVRAM);
      g_autofree char *leaf = g_strdup_printf ("%s_VARS.fd", sname);
      g_free (src_nv);
      src_nv = g_build_filename (nvdir, leaf, NULL);
    }
  g_autofree char *nvram = NULL;
  if (src_nv && *src_nv && g_file_test (src_nv, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *nvdir = g_path_get_dirname (src_nv);
      g_autofree char *nvfile = g_strdup_printf ("%s_VARS.fd", o->name);
      nvram = g_build_filename (nvdir, nvfile, NULL);
    }
  g_autoptr(xmlDoc) fork_doc = xmlCopyDoc (doc, 1);
  VkCloneRewrite rw = { o->name, uuid, paths, formats, (const char *const *) o->taps,
                        o->bridge, o->network, nvram };
  if (!vk_clone_rewrite (fork_doc, sname, &rw, error))
    return FALSE;
  if (nvram != NULL)
    {
      xmlNodePtr fos = vk_xml_child (xmlDocGetRootElement (fork_doc), "os");
      if (vk_xml_child (fos, "nvram") == NULL)
        xmlNewTextChild (fos, NULL, BAD_CAST "nvram", BAD_CAST nvram);
      if (!vk_file_clone (src_nv, nvram, 0600, error))
        return FALSE;
      g_ptr_array_add (undo->files, g_strdup (nvram));
    }
  g_autoptr(GPtrArray) ident = NULL;
  if (!vk_domain_xml_diff (doc, fork_doc, NULL, &ident, error))
    return FALSE;
  if (ident->len > 0)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                   _("internal error: the fork would differ from its source in %s"),
                   ((VkXmlDifference *) ident->pdata[0])->text);
      return FALSE;
    }

  /* The source's definition follows its disks onto qcow2 overlays. */
  g_autoptr(xmlDoc) src_new = xmlCopyDoc (doc, 1);
  xmlNodePtr sdevs = vk_domain_devices (src_new);
  for (xmlNodePtr n = sdevs->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "disk"))
      {
        g_autofree char *target = vk_xml_child_prop (n, "target", "dev");
        xmlNodePtr drv = vk_xml_child (n, "driver");
        if (target && drv && g_hash_table_contains (paths, target))
          xmlSetProp (drv, BAD_CAST "type", BAD_CAST "qcow2");
      }

  guint done = 0;
  gboolean ok = TRUE;
  for (; ok && done < plan->len; done++)
    {
      char **row = plan->pdata[done];
      ok = rename (row[0], row[1]) == 0;
      if (!ok)
        {
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED, _("cannot freeze %s: %s"), row[0],
                       g_strerror (errno));
          break;
        }
      ok = vk_disk_create_overlay (row[0], row[1], row[2], error) &&
           vk_disk_create_overlay (row[3], row[1], row[2], error);
      if (!ok)
        {
          g_unlink (row[3]);
          g_unlink (row[0]);
          rename (row[1], row[0]);
        }
      else
        g_ptr_array_add (res->disks, g_strdup_printf ("%s", row[3]));
    }
  g_autofree char *src_xml = vk_xml_format (src_new);
  g_autofree char *fork_xml = vk_xml_format (fork_doc);
  g_autoptr(VkDomain) redefined = NULL;
  g_autoptr(VkDomain) forked = NULL;
  if (ok)
    ok = vk_domain_define (conn, src_xml, &redefined, error);
  if (ok)
    ok = vk_domain_define (conn, fork_xml, &forked, error) && vk_ops_step (cli->ops, "fork-after-clone", error);
  if (ok)
    {
      res->name = g_strdup (o->name);
      res->uuid = g_strdup (uuid);
      return TRUE;
    }
  /* Roll back: fork gone, source's disks and definition as before. */
  if (forked)
    vk_domain_undefine (forked, TRUE, NULL);
  for (guint i = done; i > 0; i--)
    {
      char **row = plan->pdata[i - 1];
      g_unlink (row[3]);
      g_unlink (row[0]);
      rename (row[1], row[0]);
    }
  g_autoptr(VkDomain) back = NULL;
  vk_domain_define (conn, xml, &back, NULL);
  return FALSE;
}

/* ---- fork of a running VM ------------------------------------------------

   The source never stops: vmkeep pauses it, lets libvirt put each writable
   disk on a new qcow2 overlay (the old file becomes the frozen base that
   the fork's overlays share), and takes an external memory snapshot into
   the image `fork-SOURCE-NEW` while the source stays paused; the source
   resumes the moment that snapshot is complete. The fork restores from the
   snapshot *while libvirt writes it* (the re-emitted header, then the
   stream as it grows), so a fork costs about one save, not a save and two
   restores. On any failure the fork is removed, each overlay is merged
   back into its base (block commit + pivot), the source's definition is
   put back and the image removed: nothing is left behind. */

typedef struct {
  char *target;
  char *base;      /* the disk's file, frozen from now on */
  char *format;
  char *overlay;   /* where the source continues */
  gboolean snapshotted;
} ForkDisk;

static void
fork_disk_free (ForkDisk *d)
{
  g_free (d->target);
  g_free (d->base);
  g_free (d->format);
  g_free (d->overlay);
  g_free (d);
}

typedef struct {
  VkDomain *src;
  const char *file;
  const char *const *targets;
  gboolean keep_paused;  /* the source was paused before the fork */
  gint writer;       /* VkWriterState */
  gboolean resumed;
  GError *error;
} MemSnap;

static gpointer
memory_snapshot_thread (gpointer p)
{
  MemSnap *m = p;
  phase ("fork: memory snapshot started");
  gboolean ok = vk_domain_snapshot_memory (m->src, m->file, m->targets, &m->error);
  phase ("fork: memory snapshot written");
  /* the source runs again at once; the fork is still loading */
  if (ok)
    m->resumed = m->keep_paused || vk_domain_resume (m->src, NULL);
  g_atomic_int_set (&m->writer, ok ? VK_WRITER_DONE : VK_WRITER_FAILED);
  return NULL;
}

/* The file-backed writable disks the fork freezes; refuses what cannot be
 * frozen. Every disk target goes to `all` (the snapshots name each). */
static GPtrArray *
fork_disks (xmlDocPtr doc, const char *sname, const char *new_name, GPtrArray *all,
            GError **error)
{
  g_autoptr(GPtrArray) disks = vk_domain_freezable_disks (doc, sname, _("a fork"), TRUE, all,
                                                          error);
  if (disks == NULL)
    return NULL;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) fork_disk_free);
  for (guint i = 0; i < disks->len; i++)
    {
      VkFreezableDisk *fd = disks->pdata[i];
      /* src.qcow2 continues as src.fork-NEW.qcow2 */
      g_autofree char *dirname = g_path_get_dirname (fd->path);
      g_autofree char *base = g_path_get_basename (fd->path);
      char *dot = strrchr (base, '.');
      if (dot && dot != base)
        *dot = '\0';
      /* a source forked before continues under its first name */
      char *prev = strstr (base, ".fork-");
      if (prev && prev != base)
        *prev = '\0';
      g_autofree char *leaf = g_strdup_printf ("%s.fork-%s.qcow2", base, new_name);
      ForkDisk *d = g_new0 (ForkDisk, 1);
      d->target = g_steal_pointer (&fd->target);
      d->base = g_steal_pointer (&fd->path);
      d->format = g_steal_pointer (&fd->format);
      d->overlay = g_build_filename (dirname, leaf, NULL);
      g_ptr_array_add (out, d);
      if (g_file_test (d->overlay, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("%s already exists; vmkeep never overwrites a disk: remove it or "
                         "pick another --name"), d->overlay);
          return NULL;
        }
    }
  return g_steal_pointer (&out);
}

/* Put the source back as it was before the fork: each overlay merged into
 * its base and removed, the definition restored, running again unless it
 * was paused before. */
static void
fork_source_rollback (VkDomain *src, GPtrArray *disks, const char *inactive_xml,
                      gboolean resume, VkConn *conn, GError **error)
{
  GError *first = NULL;
  for (guint i = disks->len; i > 0; i--)
    {
      ForkDisk *d = disks->pdata[i - 1];
      if (!d->snapshotted)
        continue;
      GError *e = NULL;
      if (vk_domain_commit_top (src, d->target, 120, &e))
        {
          g_unlink (d->overlay);
          d->snapshotted = FALSE;
        }
      else if (first == NULL)
        first = e;
      else
        g_error_free (e);
    }
  if (inactive_xml && first == NULL)
    {
      g_autoptr(VkDomain) back = NULL;
      vk_domain_define (conn, inactive_xml, &back, first ? NULL : &first);
    }
  if (resume && vk_domain_state (src, NULL) == VK_STATE_PAUSED)
    vk_domain_resume (src, first ? NULL : &first);
  if (first)
    g_propagate_error (error, first);
}

static gboolean fork_running_guarded (VkCli *cli, VkConn *conn, VkDomain *src,
                                      const char *source, const CloneOpts *o, CloneResult *res,
                                      Undo *undo, GError **error);

/* A signal (Ctrl-C, systemd stop) must not leave the source paused on a
 * half-made fork: it is held until the fork is complete or undone, and one
 * that came before the fork ran makes it undo itself. */
static gboolean
fork_running (VkCli *cli, VkConn *conn, VkDomain *src, const char *source, const CloneOpts *o,
              CloneResult *res, Undo *undo, GError **error)
{
  VkSigGuard guard;
  vk_cli_sig_guard_begin (cli, &guard);
  gboolean ok = fork_running_guarded (cli, conn, src, source, o, res, undo, error);
  vk_cli_sig_guard_end (&guard);
  return ok;
}

static gboolean
fork_running_guarded (VkCli *cli, VkConn *conn, VkDomain *src, const char *source,
                      const CloneOpts *o, CloneResult *res, Undo *undo, GError **error)
{
  const char *store = cli->cfg->store_dir;
  g_autofree char *image = g_strdup_printf ("fork-%s-%s", source, o->name);
  if (strlen (image) > 64)
    {
      g_autofree char *h = g_compute_checksum_for_string (G_CHECKSUM_SHA256, image, -1);
      g_free (image);
      image = g_strdup_printf ("fork-%.16s", h);
    }
  g_autofree char *idir = vk_store_image_dir (store, image);
  if (g_file_test (idir, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("image '%s' exists already; remove it or pick another --name"), image);
      return FALSE;
    }
  g_autoptr(xmlDoc) doc = vk_cli_domain_doc (src, FALSE, error);
  if (doc == NULL)
    return FALSE;
  g_autofree char *inactive_xml = vk_domain_is_persistent (src)
                                    ? vk_domain_xml (src, TRUE, error) : NULL;
  if (vk_domain_is_persistent (src) && inactive_xml == NULL)
    return FALSE;
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) disks = fork_disks (doc, source, o->name, all, error);
  if (disks == NULL)
    return FALSE;
  g_ptr_array_add (all, NULL);

  /* The image the fork (and later clones) start from. */
  g_autofree char *images = vk_store_images_dir (store);
  if (!vk_store_ensure_root (store, error) || !vk_dir_ensure_private (images, error))
    return FALSE;
  g_chmod (images, 0711);   /* QEMU (not root) opens the frozen disks */
  if (!vk_cli_check_qemu_reaches (cli, conn, images, error))
    return FALSE;
  int lock_fd = -1;
  g_autofree char *partial = vk_store_partial_new (store, image, &lock_fd, error);
  if (partial == NULL)
    return FALSE;
  g_chmod (partial, 0711);
  int tmp_lock = -1;
  g_autofree char *sdir = vk_store_tmp_dir_new (store, "fork", &tmp_lock, error);
  if (sdir == NULL)
    {
      vk_store_partial_abort (partial, lock_fd);
      return FALSE;
    }
  g_autofree char *state = g_build_filename (sdir, VK_STORE_STATE, NULL);

  g_autoptr(VkSidecar) sc = vk_sidecar_new ();
  sc->mode = VK_SIDECAR_IMAGE;
  sc->domain_name = g_strdup (source);
  sc->domain_uuid = vk_domain_get_uuid (src);
  sc->created = g_date_time_new_now_utc ();
  sc->host = vk_conn_hostname (conn);
  sc->libvirt_version = vk_conn_libvirt_version (conn);
  sc->qemu_version = vk_conn_hv_version (conn);
  sc->tpm = vk_xml_child (vk_domain_devices (doc), "tpm") != NULL;
  sc->state_file = g_strdup (VK_STORE_STATE);
  sc->has_state_size = TRUE;
  {
    xmlNodePtr os = vk_xml_child (xmlDocGetRootElement (doc), "os");
    g_autofree char *nv = vk_xml_child_text (os, "nvram");
    if (nv && *nv)
      sc->nvram_path = g_strdup (nv);
  }

  GError *local = NULL;
  gboolean committed = FALSE, ok = TRUE;
  gboolean was_paused = vk_domain_state (src, NULL) == VK_STATE_PAUSED;
  MemSnap m = { src, state, (const char *const *) all->pdata, was_paused, VK_WRITER_RUNNING,
                FALSE, NULL };
  GThread *mt = NULL;
  g_autoptr(VkSaveHeader) hdr = NULL;
  g_autoptr(xmlDoc) src_doc = NULL;
  g_autofree char *final_state = g_build_filename (idir, VK_STORE_STATE, NULL);
  StateSource ss = { state, NULL, &m.writer, NULL, 0 };

  /* From the pause on, every failure goes through the rollback below. */
  phase ("fork: pausing the source");
  if (vk_cli_interrupted)
    {
      g_set_error (&local, VK_ERROR, VK_ERROR_FAILED,
                   _("interrupted by signal %d; the fork is undone"), (int) vk_cli_interrupted);
      ok = FALSE;
    }
  ok = ok && (was_paused || vk_domain_suspend (src, &local));
  if (ok && disks->len > 0)
    {
      g_autoptr(GPtrArray) t = g_ptr_array_new ();
      g_autoptr(GPtrArray) f = g_ptr_array_new ();
      for (guint i = 0; i < disks->len; i++)
        {
          ForkDisk *d = disks->pdata[i];
          g_ptr_array_add (t, d->target);
          g_ptr_array_add (f, d->overlay);
        }
      g_ptr_array_add (t, NULL);
      g_ptr_array_add (f, NULL);
      ok = vk_domain_snapshot_disks (src, (const char *const *) t->pdata,
                                     (const char *const *) f->pdata,
                                     (const char *const *) all->pdata, &local);
      for (guint i = 0; ok && i < disks->len; i++)
        ((ForkDisk *) disks->pdata[i])->snapshotted = TRUE;
    }
  phase ("fork: disks frozen");
  if (ok)
    ok = vk_ops_step (cli->ops, "fork-after-disks", &local);
  g_autofree char *pdisks = g_build_filename (partial, "disks", NULL);
  if (ok && disks->len > 0 && g_mkdir (pdisks, 0711) < 0)
    {
      g_set_error (&local, VK_ERROR, VK_ERROR_FAILED, _("cannot create %s: %s"), pdisks,
                   g_strerror (errno));
      ok = FALSE;
    }
  for (guint i = 0; ok && i < disks->len; i++)
    {
      ForkDisk *d = disks->pdata[i];
      VkFrozenDisk *fd = g_new0 (VkFrozenDisk, 1);
      g_ptr_array_add (sc->frozen_disks, fd);
      fd->target = g_strdup (d->target);
      fd->original = g_strdup (d->overlay);
      fd->format = g_strdup (d->format);
      struct stat st;
      fd->size = stat (d->base, &st) == 0 ? (guint64) st.st_size : 0;
      /* the image keeps the base alive by a hard link where it can; on
       * another filesystem the base stays where it is */
      g_autofree char *leaf = g_strdup_printf ("%s.%s", d->target, d->format);
      g_autofree char *staged = g_build_filename (pdisks, leaf, NULL);
      if (link (d->base, staged) == 0)
        fd->frozen = g_build_filename (idir, "disks", leaf, NULL);
      else if (errno == EXDEV)
        fd->frozen = g_strdup (d->base);
      else
        {
          g_set_error (&local, VK_ERROR, VK_ERROR_FAILED, _("cannot link %s into %s: %s"),
                       d->base, pdisks, g_strerror (errno));
          ok = FALSE;
          break;
        }
      /* wake --image refuses once the source wrote to its overlay */
      ok = vk_file_sha256 (d->overlay, &fd->overlay_sha256, NULL, &local) &&
           vk_disk_digest (d->base, d->format, &fd->meta_sha256, &local);
    }
  if (ok && sc->nvram_path && g_file_test (sc->nvram_path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *nv = g_build_filename (partial, "nvram.fd", NULL);
      ok = vk_file_clone (sc->nvram_path, nv, 0600, &local) &&
           vk_file_sha256 (nv, &sc->nvram_sha256, NULL, &local);
    }
  if (ok)
    ok = committed = vk_store_partial_commit (store, partial, image, lock_fd, &local);
  if (ok)
    {
      g_chmod (idir, 0711);
      mt = g_thread_new ("vmkeep-memsnap", memory_snapshot_thread, &m);
      ok = vk_save_header_wait (state, &m.writer, NULL, &hdr, &local) &&
           (src_doc = vk_xml_parse (hdr->xml, -1, state, &local)) != NULL;
    }
  phase ("fork: snapshot header read");
  if (ok)
    {
      sc->domain_xml = g_strdup (hdr->xml);
      sc->identity = vk_identity_from_domain (src_doc, &local);
      ok = sc->identity != NULL;
    }
  /* (The clone's own MAC check would wait for the snapshot: it reads every
   * running domain's XML. fork_one did it before, source included.) */
  CloneOpts co = *o;
  co.macs_checked = TRUE;
  if (ok)
    ok = clone_from (cli, conn, sc, idir, hdr, src_doc, &ss, &co, res, undo, &local) &&
         vk_ops_step (cli->ops, "fork-after-clone", &local);
  if (ok && vk_cli_interrupted)
    {
      g_set_error (&local, VK_ERROR, VK_ERROR_FAILED,
                   _("interrupted by signal %d; the fork is undone"), (int) vk_cli_interrupted);
      ok = FALSE;
    }
  if (mt)
    g_thread_join (mt);
  phase ("fork: clone running");
  if (g_atomic_int_get (&m.writer) == VK_WRITER_FAILED && m.error)
    {
      /* libvirt's own error says why; what failed after it is the echo */
      g_clear_error (&local);
      local = g_steal_pointer (&m.error);
      ok = FALSE;
    }
  if (ok && g_atomic_int_get (&m.writer) != VK_WRITER_DONE)
    {
      ok = FALSE;
      g_propagate_error (&local, g_steal_pointer (&m.error));
    }
  if (ok)
    {
      sc->state_sha256 = g_steal_pointer (&ss.sha_out);
      sc->state_size = ss.size_out;
      g_autofree char *sidecar = g_build_filename (idir, VK_STORE_SIDECAR, NULL);
      ok = rename (state, final_state) == 0;
      if (!ok)
        g_set_error (&local, VK_ERROR, VK_ERROR_FAILED, _("cannot move %s to %s: %s"), state,
                     final_state, g_strerror (errno));
      ok = ok && vk_sidecar_save (sc, sidecar, &local);
    }
  if (ok)
    {
      vk_store_image_finish (idir, lock_fd);
      vk_store_tmp_dir_done (sdir, tmp_lock);
      if (!m.resumed)
        {
          /* the fork itself is complete: keep it */
          g_ptr_array_set_size (undo->files, 0);
          g_ptr_array_set_size (undo->dirs, 0);
          g_clear_pointer (&undo->domain, g_free);
          g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                       _("fork '%s' runs, but '%s' stays paused: resume it with 'virsh resume "
                         "%s'"), o->name, source, source);
          return FALSE;
        }
      res->image = g_strdup (image);
      return TRUE;
    }

  /* Roll back: the fork first (its QEMU reads the bases), then the source. */
  if (m.error && local == NULL)
    local = g_steal_pointer (&m.error);
  g_clear_error (&m.error);
  undo_run (undo);
  g_ptr_array_set_size (undo->files, 0);
  g_ptr_array_set_size (undo->dirs, 0);
  g_clear_pointer (&undo->domain, g_free);
  g_autoptr(GError) rb = NULL;
  fork_source_rollback (src, disks, inactive_xml, !was_paused, conn, &rb);
  vk_store_tmp_dir_done (sdir, tmp_lock);
  if (committed)
    {
      vk_rm_rf (idir, NULL);
      close (lock_fd);
    }
  else
    vk_store_partial_abort (partial, lock_fd);
  if (rb)
    g_prefix_error (&local, _("(and '%s' could not be put back entirely: %s) "), source,
                    rb->message);
  g_propagate_error (error, local);
  return FALSE;
}

static gboolean
fork_one (VkCli *cli, VkConn *conn, const char *source, const CloneOpts *o, CloneResult *res,
          Undo *undo, GError **error)
{
  if (!check_new_name (conn, "fork name", o->name, error))
    return FALSE;
  g_autoptr(VkDomain) src = vk_domain_try_lookup (conn, source);
  if (src == NULL)
    {
      /* Not a domain: a hibernate image forks like a clone. */
      g_autofree char *idir = vk_store_image_dir (cli->cfg->store_dir, source);
      if (vk_validate_name ("image name", source, NULL) && g_file_test (idir, G_FILE_TEST_IS_DIR))
        return clone_image (cli, conn, source, o, res, undo, error) &&
               vk_ops_step (cli->ops, "fork-after-clone", error);
      g_autofree char *shown = g_strescape (source, NULL);
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("'%s' is neither a domain nor an image; 'vmkeep list --all' and "
                     "'vmkeep image list' show what can be forked"), shown);
      return FALSE;
    }
  /* Serialise with other vmkeep processes on the source (a hibernate from
   * cron must not land in the middle of a fork). */
  g_autofree char *suuid = vk_domain_get_uuid (src);
  g_autoptr(VkLock) lock = vk_ops_lock_domain (cli->ops, suuid, source, error);
  if (lock == NULL)
    return FALSE;
  VkDomainState st = vk_domain_state (src, NULL);
  if (st == VK_STATE_SHUTOFF)
    {
      if (vk_domain_has_managed_save (src))
        {
          g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                       _("'%s' is hibernated with a managed save, which cannot be forked; "
                         "wake it first, or hibernate it with --image NAME and fork the image"),
                       source);
          return FALSE;
        }
      return fork_shutoff (cli, conn, src, o, res, undo, error);
    }
  if (!o->bridge && !o->network && !o->allow_dup_mac)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_REFUSED,
                   _("the fork keeps the MACs of '%s', which keeps running: put the fork on "
                     "another segment with --bridge or --network (or pass "
                     "--allow-duplicate-mac)"), source);
      return FALSE;
    }
  /* The source runs again after the fork: a MAC clash with it or with any
   * other running VM must be refused before the source is saved, and so
   * must a bridge or network that does not exist. */
  if (o->bridge && !vk_cli_check_nic_source (conn, 0, o->bridge, error))
    return FALSE;
  if (o->network && !vk_cli_check_nic_source (conn, 1, o->network, error))
    return FALSE;
  if (!o->allow_dup_mac)
    {
      g_autoptr(xmlDoc) fdoc = vk_cli_domain_doc (src, FALSE, error);
      if (fdoc == NULL)
        return FALSE;
      xmlNodePtr fdevs = vk_domain_devices (fdoc);
      for (xmlNodePtr n = fdevs->children; n; n = n->next)
        {
          if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "interface"))
            vk_clone_nic_host (n, o->bridge, o->network);
        }
      if (!check_duplicate_macs (conn, fdoc, o->name, error))
        return FALSE;
    }
  return fork_running (cli, conn, src, source, o, res, undo, error);
}

typedef gboolean (*CloneFunc) (VkCli *cli, VkConn *conn, const char *source,
                               const CloneOpts *o, CloneResult *res, Undo *undo,
                               GError **error);

/* clone and fork share options, undo and reporting; only the work differs. */
static gboolean
run_clone_command (VkCli *cli, int argc, char **argv, const char *verb, const char *what,
                   CloneFunc func, GError **error)
{
  g_autofree char *name = NULL, *bridge = NULL, *network = NULL, *disk_dir = NULL;
  g_auto(GStrv) taps = NULL;
  CloneOpts o = { 0 };
  const VkCommand *cmd = vk_command_named (verb);
  if (!parse_clone_opts (cmd, &argc, &argv, &o, &name, &bridge, &network, &disk_dir, &taps,
                         error) ||
      !vk_cli_expect_args (verb, argc, 1, 1, what, error))
    return FALSE;
  if (o.no_start && func != clone_image)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep fork: --no-start applies to clone only"));
      return FALSE;
    }
  VkConn *conn = vk_cli_connect (cli, error);
  if (conn == NULL)
    return FALSE;
  /* Leftovers of interrupted runs (a killed clone's FIFO directory, a
   * killed fork's memory snapshot) go first, so they never pile up. */
  vk_cli_store_cleanup (cli);
  Undo undo = { g_ptr_array_new_with_free_func (g_free),
                g_ptr_array_new_with_free_func (g_free), NULL, conn };
  CloneResult res = { 0 };
  res.disks = g_ptr_array_new_with_free_func (g_free);
  res.taps = g_ptr_array_new_with_free_func (g_free);
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = func (cli, conn, argv[1], &o, &res, &undo, error);
  res.seconds = (g_get_monotonic_time () - t0) / 1e6;
  if (!ok)
    undo_run (&undo);
  else if (func == clone_image)
    print_result (cli, &res, _("Clone"));
  else
    {
      if (res.image && !cli->json)
        vk_cli_info (cli, _("'%s' and its fork share the disks frozen in image '%s'"),
                     argv[1], res.image);
      g_clear_pointer (&res.image, g_free);
      print_result (cli, &res, _("Fork"));
    }
  undo_clear (&undo);
  g_free (res.name);
  g_free (res.uuid);
  g_free (res.image);
  g_ptr_array_unref (res.disks);
  g_ptr_array_unref (res.taps);
  return ok;
}

gboolean
vk_cmd_clone (VkCli *cli, int argc, char **argv, GError **error)
{
  return run_clone_command (cli, argc, argv, "clone", _("the IMAGE to clone"), clone_image,
                            error);
}

gboolean
vk_cmd_fork (VkCli *cli, int argc, char **argv, GError **error)
{
  return run_clone_command (cli, argc, argv, "fork", _("the SOURCE domain or image"),
                            fork_one, error);
}
