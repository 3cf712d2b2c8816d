/* vmkeep fs attach | fs detach
 *
 * virtiofs filesystems attached at runtime, placed like every other
 * non-NIC device (see cmd-device.c): the next free slot of the device
 * range, so attaching one never moves a NIC. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attach.h"
#include "cli-attach.h"
#include "commands.h"
#include "domain-xml.h"
#include "output.h"
#include "validate.h"
#include "vk-error.h"

/* virtiofsd binaries libvirt can start for --source, in order of
 * preference: Debian 12 ships QEMU's C daemon, later releases the Rust one. */
static const char *const virtiofsd_paths[] = {
  "/usr/lib/qemu/virtiofsd",
  "/usr/libexec/virtiofsd",
  NULL,
};

static gboolean
check_socket (const char *path, GError **error)
{
  GStatBuf st;
  if (g_stat (path, &st) < 0)
    {
      int e = errno;
      g_set_error (error, VK_ERROR, e == ENOENT ? VK_ERROR_NOT_FOUND : VK_ERROR_FAILED,
                   e == ENOENT
                     ? _("virtiofsd socket %s does not exist: start virtiofsd first (for "
                         "example '/usr/lib/qemu/virtiofsd --socket-path=%s -o source=DIR') "
                         "or let libvirt start one with --source DIR")
                     : _("cannot check virtiofsd socket %s: %s"),
                   path, e == ENOENT ? path : g_strerror (e));
      return FALSE;
    }
  if (!S_ISSOCK (st.st_mode))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s is not a socket; --socket takes the vhost-user socket a running "
                      "virtiofsd listens on (its --socket-path)"), path);
  return TRUE;
}

/* Sharing these would hand the guest the host's root, its kernel
 * interfaces or its configuration (virtiofsd runs as root). */
static const char *const unshareable[] = {
  "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin",
  "/sys", "/usr", "/var", "/var/lib", "/var/lib/libvirt", "/var/lib/vmkeep", "/home", NULL
};

static gboolean
check_source_dir (const char *path, GError **error)
{
  for (guint i = 0; unshareable[i]; i++)
    if (g_str_equal (path, unshareable[i]) ||
        (g_str_has_prefix (path, unshareable[i]) && unshareable[i][1] != '\0' &&
         (g_str_equal (unshareable[i], "/proc") || g_str_equal (unshareable[i], "/sys") ||
          g_str_equal (unshareable[i], "/dev")) && path[strlen (unshareable[i])] == '/'))
      return vk_fail (error, VK_ERROR_REFUSED,
                      _("--source %s is a system directory; sharing it would give the guest "
                        "the host's own files: share a directory made for the guest instead"),
                      path);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return vk_fail (error, VK_ERROR_NOT_FOUND,
                    _("directory %s does not exist; --source takes the host directory to "
                      "share"), path);
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return vk_fail (error, VK_ERROR_USAGE,
                    _("%s is not a directory; --source takes the host directory to share"),
                    path);
  return TRUE;
}

static void
print_fs_json (const char *domain, const char *action, const char *tag, const char *source,
               const char *source_type, const char *addr, gboolean live, gboolean config)
{
  g_autoptr(JsonBuilder) b = vk_cli_device_json_begin (domain, action, "filesystem");
  vk_json_str (b, "tag", tag);
  if (source != NULL)
    {
      vk_json_str (b, "source_type", source_type);
      vk_json_str (b, "source", source);
    }
  vk_cli_device_json_end (b, addr, live, config);
}

static struct {
  char *tag;
  char *socket;
  char *source;
  char *queue;
  gboolean live;
  gboolean config;
} fs_attach_opt;

const GOptionEntry vk_fs_attach_options[] = {
  { "tag", 0, 0, G_OPTION_ARG_STRING, &fs_attach_opt.tag, N_("Tag the guest mounts the filesystem by (mount -t virtiofs TAG DIR)"), N_("TAG") },
  { "socket", 0, 0, G_OPTION_ARG_FILENAME, &fs_attach_opt.socket, N_("vhost-user socket of a virtiofsd you started"), N_("PATH") },
  { "source", 0, 0, G_OPTION_ARG_FILENAME, &fs_attach_opt.source, N_("Host directory to share (libvirt starts virtiofsd)"), N_("DIR") },
  { "queue-size", 0, 0, G_OPTION_ARG_STRING, &fs_attach_opt.queue, N_("Virtqueue size, a power of two from 16 to 1024 (default 1024)"), N_("N") },
  { "live", 0, 0, G_OPTION_ARG_NONE, &fs_attach_opt.live, N_("Hot-plug into the running VM (the default)"), NULL },
  { "config", 0, 0, G_OPTION_ARG_NONE, &fs_attach_opt.config, N_("Add to the persistent definition (with --live: both)"), NULL },
  G_OPTION_ENTRY_NULL
};

/* The filesystem `fs attach` describes, from its options, checked. */
static VkFsSpec *
fs_spec_from_options (GError **error)
{
  if (fs_attach_opt.tag == NULL)
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep fs attach: --tag is required (see 'vmkeep help fs attach')"));
      return NULL;
    }
  if (!vk_validate_fs_tag (fs_attach_opt.tag, error))
    return NULL;
  if ((fs_attach_opt.socket != NULL) == (fs_attach_opt.source != NULL))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep fs attach: give exactly one of --socket (a virtiofsd you "
                     "started) or --source (a directory; libvirt starts virtiofsd)"));
      return NULL;
    }
  guint64 qsize = VK_FS_QUEUE_DEFAULT;
  if (fs_attach_opt.queue != NULL && (!vk_parse_uint ("--queue-size", fs_attach_opt.queue, 1, G_MAXUINT32, &qsize, error) ||
                        !vk_validate_fs_queue_size (qsize, error)))
    return NULL;

  g_autoptr(VkFsSpec) spec = g_new0 (VkFsSpec, 1);
  spec->tag = g_strdup (fs_attach_opt.tag);
  spec->queue_size = (guint) qsize;
  if ((fs_attach_opt.socket && *fs_attach_opt.socket == '\0') || (fs_attach_opt.source && *fs_attach_opt.source == '\0'))
    {
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   _("vmkeep fs attach: %s is empty; give a path"), fs_attach_opt.socket ? "--socket" : "--source");
      return NULL;
    }
  if (fs_attach_opt.socket)
    spec->socket = g_canonicalize_filename (fs_attach_opt.socket, NULL);
  else
    spec->source_dir = g_canonicalize_filename (fs_attach_opt.source, NULL);
  return g_steal_pointer (&spec);
}

/* On this host: the socket or directory exists, and a virtiofsd for --source. */
static gboolean
check_fs_host (VkFsSpec *spec, GError **error)
{
  if (spec->socket && !check_socket (spec->socket, error))
    return FALSE;
  if (spec->source_dir)
    {
      if (!check_source_dir (spec->source_dir, error))
        return FALSE;
      for (guint i = 0; virtiofsd_paths[i] && !spec->binary; i++)
        if (g_file_test (virtiofsd_paths[i], G_FILE_TEST_IS_EXECUTABLE))
          spec->binary = g_strdup (virtiofsd_paths[i]);
      if (spec->binary == NULL)
        return vk_fail (error, VK_ERROR_NOT_FOUND,
                        _("no virtiofsd found for --source (looked for %s and %s): "
                          "install it (Debian 12: qemu-system-common; later: virtiofsd) "
                          "or start one yourself and use --socket"),
                        virtiofsd_paths[0], virtiofsd_paths[1]);
    }
  return TRUE;
}

/* Both definitions asked for can take the filesystem: shared memory, a new tag. */
static gboolean
check_fs_docs (const char *name, xmlDocPtr live_doc, xmlDocPtr cfg_doc, GError **error)
{
  if ((live_doc && !vk_domain_has_shared_memory (live_doc)) ||
      (cfg_doc && !vk_domain_has_shared_memory (cfg_doc)))
    return vk_fail (error, VK_ERROR_REFUSED,
                    _("'%s' has no shared memory backing, which virtiofs needs (virtiofsd "
                      "maps guest RAM): the VM must be created with 'vmkeep create "
                      "--shared-memory' (an existing VM needs <memoryBacking><source "
                      "type='memfd'/><access mode='shared'/></memoryBacking> in its "
                      "definition and a restart)"), name);
  if ((live_doc && !vk_check_fs_tag_unique (live_doc, name, _("running VM"), fs_attach_opt.tag, error)) ||
      (cfg_doc && !vk_check_fs_tag_unique (cfg_doc, name, _("persistent definition"), fs_attach_opt.tag,
                                          error)))
    return FALSE;
  return TRUE;
}

gboolean
vk_cmd_fs_attach (VkCli *cli, int argc, char **argv, GError **error)
{
  if (!vk_cli_begin ("fs attach", &argc, &argv, 1, 1, _("the DOMAIN"), error))
    return FALSE;
  const char *name = argv[1];

  g_autoptr(VkFsSpec) spec = fs_spec_from_options (error);
  if (spec == NULL)
    return FALSE;

  g_autoptr(VkDomain) dom = vk_cli_lookup (cli, name, error);
  if (dom == NULL)
    return FALSE;
  VkConn *conn = cli->conn;
  if (vk_cli_conn_is_local (conn) && !check_fs_host (spec, error))
    return FALSE;
  g_auto(VkAttachTarget) t = { 0 };
  if (!vk_cli_attach_begin (cli, dom, name, &fs_attach_opt.live, &fs_attach_opt.config, &t, error))
    return FALSE;
  if (!check_fs_docs (name, t.live_doc, t.cfg_doc, error))
    return FALSE;

  g_autofree char *what = g_strdup_printf (_("filesystem %s"), fs_attach_opt.tag);
  g_autofree char *hint = spec->socket
    ? g_strdup_printf (_("; QEMU (user libvirt-qemu on Debian) must be able to connect "
                         "to %s: e.g. 'chown libvirt-qemu %s', or start virtiofsd with "
                         "--socket-group=kvm"), spec->socket, spec->socket)
    : NULL;
  g_autofree char *addr = NULL;
  VkOpsDevice dev = { vk_domain_find_fs, fs_attach_opt.tag, what };
  if (!vk_cli_attach_element (cli, dom, name, &t, vk_fs_element_new (spec), fs_attach_opt.live,
                              fs_attach_opt.config, &dev, hint, &addr, error))
    return FALSE;

  const char *src = spec->socket ? spec->socket : spec->source_dir;
  if (cli->json)
    print_fs_json (name, "attached", fs_attach_opt.tag, src, spec->socket ? "socket" : "dir", addr, fs_attach_opt.live,
                   fs_attach_opt.config);
  else
    vk_cli_info (cli, _("Filesystem '%s' (%s) attached to '%s' at %s (%s); in the guest: "
                        "mount -t virtiofs %s DIR"),
                 fs_attach_opt.tag, src, name, addr, vk_cli_scope_text (fs_attach_opt.live, fs_attach_opt.config), fs_attach_opt.tag);
  return TRUE;
}

gboolean
vk_cmd_fs_detach (VkCli *cli, int argc, char **argv, GError **error)
{
  g_auto (VkDetachArgs) a = { 0 };
  if (!vk_cli_detach_begin (cli, "fs", "detach", _("DOMAIN and the filesystem's TAG"),
                            vk_validate_fs_tag, argc, argv, &a, error))
    return FALSE;
  g_autofree char *what = g_strdup_printf (_("filesystem with tag '%s'"), a.key);
  g_autofree char *addr = NULL;
  VkOpsDevice dev = { vk_domain_find_fs, a.key, what };
  if (!vk_cli_detach_device (cli, &a, &dev, "devices", &addr, NULL, error))
    return FALSE;
  if (cli->json)
    print_fs_json (a.name, "detached", a.key, NULL, NULL, addr, a.live, a.config);
  else
    vk_cli_info (cli, _("Filesystem '%s' detached from '%s' (slot %s is free again)"), a.key,
                 a.name, addr ? addr : "-");
  return TRUE;
}

/* -------------------------------------------------------- device attach */

