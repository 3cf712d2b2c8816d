/* vmkeep — the libvirt layer. The only code that includes libvirt: every
 * libvirt error becomes a GError here, once, with VK_ERROR codes chosen so
 * the CLI's exit status follows DESIGN.md (not found = 4, ...). The types
 * below are opaque so src/cli never sees a libvirt header. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VkConn VkConn;
typedef struct _VkDomain VkDomain;

gboolean vk_conn_open (const char *uri, VkConn **out, GError **error);
void vk_conn_free (VkConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkConn, vk_conn_free)
const char *vk_conn_uri (VkConn *conn);
/* Does libvirtd still answer on this connection? */
gboolean vk_conn_is_alive (VkConn *conn);
/* "kvm" when the hypervisor offers KVM for x86_64, else "qemu". */
char *vk_conn_best_virt_type (VkConn *conn, GError **error);
/* libvirt and hypervisor versions as "9.0.0" strings. */
char *vk_conn_libvirt_version (VkConn *conn);
char *vk_conn_hv_version (VkConn *conn);
char *vk_conn_hostname (VkConn *conn);
/* The same as numbers (major * 1000000 + minor * 1000 + micro); 0 when
 * libvirt does not say. */
guint32 vk_conn_libvirt_version_number (VkConn *conn);
guint32 vk_conn_hv_version_number (VkConn *conn);
/* The emulator binaries the host offers for `arch` (capabilities). */
GStrv vk_conn_emulators (VkConn *conn, const char *arch, GError **error);
/* The firmware (loader) files libvirt offers for that machine type and
 * virt type (domain capabilities; TCG's when the host has no KVM). */
GStrv vk_conn_firmware_files (VkConn *conn, const char *arch, const char *machine,
                              const char *virt_type, GError **error);
/* The user and group QEMU runs as (libvirt's DAC base label); `known` is
 * FALSE when libvirt runs QEMU without the DAC driver. */
gboolean vk_conn_qemu_user (VkConn *conn, guint *uid, guint *gid, gboolean *known,
                            GError **error);
/* Whether the host's QEMU offers machine type `machine` for `arch` (NULL:
 * any), from the host capabilities. */
gboolean vk_conn_machine_known (VkConn *conn, const char *arch, const char *machine,
                                gboolean *known, GError **error);

/* Directories the connection's libvirt uses for files vmkeep places or
 * checks. libvirt reports none of them through its API except the
 * default storage pool, so: the images directory is the "default" pool's
 * target when that pool exists; the others (and the images directory
 * without that pool) follow the qemu driver's layout for the connection's
 * kind, system (libvirt's localstatedir) or session ($XDG_CONFIG_HOME,
 * $XDG_CACHE_HOME, $XDG_DATA_HOME). */
typedef enum {
  VK_LIBVIRT_DIR_SAVE,    /* managed save images */
  VK_LIBVIRT_DIR_NVRAM,   /* UEFI variable stores, NAME_VARS.fd */
  VK_LIBVIRT_DIR_LOG,     /* QEMU and character device logs */
  VK_LIBVIRT_DIR_IMAGES,  /* disk images */
} VkLibvirtDir;
char *vk_conn_libvirt_dir (VkConn *conn, VkLibvirtDir which);

/* What the connection's host has under the interface name `name`, from
 * libvirt's interface driver; UNKNOWN when libvirt has none (Debian 13
 * packages it separately) or cannot tell. */
typedef enum {
  VK_HOST_IFACE_UNKNOWN,
  VK_HOST_IFACE_ABSENT,
  VK_HOST_IFACE_BRIDGE,
  VK_HOST_IFACE_OTHER,
} VkHostIface;
VkHostIface vk_conn_host_interface (VkConn *conn, const char *name);

void vk_domain_free (VkDomain *dom);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VkDomain, vk_domain_free)

/* By name or UUID; VK_ERROR_NOT_FOUND when there is no such domain. */
gboolean vk_domain_lookup (VkConn *conn, const char *name, VkDomain **out,
                           GError **error);
/* NULL (no error) when absent. */
VkDomain *vk_domain_try_lookup (VkConn *conn, const char *name);
const char *vk_domain_get_name (VkDomain *dom);
char *vk_domain_get_uuid (VkDomain *dom);

typedef enum {
  VK_STATE_OTHER,
  VK_STATE_RUNNING,
  VK_STATE_PAUSED,
  VK_STATE_SHUTOFF,
} VkDomainState;
VkDomainState vk_domain_state (VkDomain *dom, const char **label);
gboolean vk_domain_is_persistent (VkDomain *dom);
gboolean vk_domain_has_managed_save (VkDomain *dom);

/* Domain XML; `inactive` = the persistent definition. */
char *vk_domain_xml (VkDomain *dom, gboolean inactive, GError **error);
/* The XML libvirt itself stores in save images (migratable, with secrets):
 * the base for any replacement XML given to save or restore. */
char *vk_domain_xml_migratable (VkDomain *dom, GError **error);

gboolean vk_domain_define (VkConn *conn, const char *xml, VkDomain **out,
                           GError **error);
/* Undefine, removing the managed save, and NVRAM and TPM state with it
 * when asked. */
gboolean vk_domain_undefine (VkDomain *dom, gboolean remove_nvram,
                             GError **error);
gboolean vk_domain_start (VkDomain *dom, gboolean paused, GError **error);
/* Asks the guest to shut down (ACPI) and returns at once. */
gboolean vk_domain_shutdown (VkDomain *dom, GError **error);
gboolean vk_domain_destroy (VkDomain *dom, GError **error);

typedef struct {
  char *name;
  char *uuid;
  char *state;
  int id;                  /* -1 when not running */
  gboolean persistent;
  gboolean managed_save;
} VkDomainInfo;
void vk_domain_info_free (VkDomainInfo *info);
/* Sorted by name. */
GPtrArray *vk_conn_list_domains (VkConn *conn, gboolean all, GError **error);

/* Device changes; `live`/`config` map to VIR_DOMAIN_AFFECT_*. */
gboolean vk_domain_attach (VkDomain *dom, const char *xml, gboolean live,
                           gboolean config, GError **error);
gboolean vk_domain_detach (VkDomain *dom, const char *xml, gboolean live,
                           gboolean config, GError **error);

/* Does the host have a network / bridge by this name? */
gboolean vk_conn_network_exists (VkConn *conn, const char *name, gboolean *active,
                                 GError **error);
/* The Linux bridge of libvirt network `name` (virNetworkGetBridgeName). */
char *vk_conn_network_bridge (VkConn *vc, const char *name, GError **error);

/* The addresses libvirt knows for `dom` (VkSidecarAddress*, the sidecar's
 * own record of one IP address of one NIC: src/virt/addresses.c; never
 * NULL, empty
 * when none), from virDomainInterfaceAddresses with its sources in turn:
 * the DHCP leases of libvirt networks, the guest agent (only while the
 * domain runs), the host's ARP table. A source that fails (no agent, no
 * libvirt network, a driver without it) is skipped without a word; each
 * (MAC, IP) pair appears once, with the first source that reported it.
 * Only unicast MACs and addresses a neighbour can ask for (not loopback,
 * unspecified or multicast) are kept; they need not belong to the
 * domain's NICs (the agent reports every guest interface). */
GPtrArray *vk_domain_addresses (VkDomain *dom);

G_END_DECLS

/* ---- save / restore (hibernate, wake, clone) ---------------------------- */

G_BEGIN_DECLS

/* libvirt managed save; the domain stops. On failure libvirt keeps it
 * running. */
gboolean vk_domain_managed_save (VkDomain *dom, gboolean bypass_cache,
                                 GError **error);
gboolean vk_domain_managed_save_remove (VkDomain *dom, GError **error);
/* The domain XML inside the managed save image. */
char *vk_domain_managed_save_xml (VkDomain *dom, GError **error);
/* Save to `path` (libvirt's format); `dxml` may replace the XML stored. */
gboolean vk_domain_save_to (VkDomain *dom, const char *path, const char *dxml,
                            gboolean bypass_cache, GError **error);
/* Whether libvirt takes a save format and parallel channels per call
 * (11.2+); otherwise `why` says which libvirt runs and what is needed. */
gboolean vk_conn_has_save_params (VkConn *conn, char **why);
/* Save with libvirt's save image `format` ("raw", "zstd", "sparse", ...;
 * NULL: the host's qemu.conf setting) and `channels` parallel channels
 * (> 0 only with "sparse"); plain vk_domain_save_to when neither is given.
 * VK_ERROR_REFUSED before anything happens on a libvirt without them. */
gboolean vk_domain_save_params (VkDomain *dom, VkConn *conn, const char *path, const char *dxml,
                                const char *format, int channels, gboolean bypass_cache,
                                GError **error);
/* Restore a sparse state with `channels` parallel channels (<= 0: a
 * plain vk_conn_restore). */
gboolean vk_conn_restore_params (VkConn *conn, const char *path, const char *dxml, int channels,
                                 gboolean paused, gboolean bypass_cache, GError **error);
/* Restore from `path` (a file or FIFO); `dxml` may replace the XML
 * (ABI-compatible changes only). */
gboolean vk_conn_restore (VkConn *conn, const char *path, const char *dxml,
                          gboolean paused, gboolean bypass_cache, GError **error);
char *vk_conn_save_image_xml (VkConn *conn, const char *path, GError **error);

/* Progress of the running job: bytes of guest memory processed and total;
 * FALSE when there is no job (yet). */
gboolean vk_domain_job_progress (VkDomain *dom, guint64 *processed,
                                 guint64 *total, guint64 *bytes_per_s);

/* The domain's vmkeep metadata element (XML text) or NULL when none. */
char *vk_domain_get_metadata (VkDomain *dom, const char *ns_uri, GError **error);
/* Replace it (persistent and, when running, live). NULL removes it. */
gboolean vk_domain_set_metadata (VkDomain *dom, const char *xml, const char *key,
                                 const char *ns_uri, GError **error);
/* Pause / resume. */
gboolean vk_domain_suspend (VkDomain *dom, GError **error);
gboolean vk_domain_resume (VkDomain *dom, GError **error);
/* Abort the domain's running job (a save: libvirt then lets the domain
 * run on as before). */
gboolean vk_domain_abort_job (VkDomain *dom, GError **error);
/* External snapshots without libvirt snapshot metadata (a fork of a running
 * VM). Disks: each target in `targets` continues on a new qcow2 overlay at
 * the matching path of `files` (libvirt creates it over the current file,
 * which stays as it is); every other disk in `all_targets` is left alone.
 * Atomic: on failure no disk changed. */
gboolean vk_domain_snapshot_disks (VkDomain *dom, const char *const *targets,
                                   const char *const *files, const char *const *all_targets,
                                   GError **error);
/* Memory only, into `file` (libvirt's save format; must not exist): the
 * domain keeps its QEMU process and is paused while its memory is written
 * (a paused domain stays paused). */
gboolean vk_domain_snapshot_memory (VkDomain *dom, const char *file,
                                    const char *const *all_targets, GError **error);
/* Undo a disk snapshot of a running domain: merge the active overlay of
 * `target` into its immediate backing file and pivot onto that file again
 * (waits up to `timeout_s` seconds). The overlay is not deleted. */
gboolean vk_domain_commit_top (VkDomain *dom, const char *target, guint timeout_s,
                               GError **error);
/* Memory size in KiB of the definition (live when running). */
guint64 vk_domain_memory_kib (VkDomain *dom);

G_END_DECLS

/* ---- bulk statistics (idle detection: src/ops/ops-idle.c) --------------- */

G_BEGIN_DECLS

/* One domain's cumulative counters from libvirt's bulk stats. A counter
 * libvirt did not report is flagged absent, never read as 0: the net sum
 * is present only when every NIC reported rx and tx bytes, the block sum
 * only when every disk reported read and written bytes (a NIC without
 * counters, e.g. a VFIO one, or a disk whose stats libvirt skipped
 * because a job held the domain, leaves it absent). */
typedef struct {
  char *name;
  char *uuid;
  gint64 id;              /* libvirt's domain id, new at every start */
  VkDomainState state;    /* from state.state */
  gboolean has_cpu;
  guint64 cpu_ns;         /* cpu.time: the whole QEMU process */
  gboolean has_net;
  guint64 net_bytes;      /* sum of net.N.rx.bytes + net.N.tx.bytes */
  gboolean has_block;
  guint64 block_bytes;    /* sum of block.N.rd.bytes + block.N.wr.bytes */
  guint vcpus;            /* vcpu.current; 0 when not reported */
  gint64 mono_us;         /* g_get_monotonic_time () of the reading */
  gint64 real_us;         /* g_get_real_time () of the reading */
} VkDomainStats;
void vk_domain_stats_free (VkDomainStats *s);

/* The counters of every active (running or paused) domain, from one
 * virConnectGetAllDomainStats call (state, CPU total, vCPUs, interfaces,
 * block; top images only; without waiting for a domain's running job).
 * VkDomainStats*, sorted by name. All readings share the time taken
 * around the call. */
GPtrArray *vk_conn_domain_stats (VkConn *conn, GError **error);

G_END_DECLS
