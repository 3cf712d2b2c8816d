/* vmkeep — wake on traffic (see ops-watch.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ops-domain.h"
#include "ops-hibernate.h"
#include "ops-image.h"
#include "ops-watch.h"
#include "sidecar.h"
#include "store.h"
#include "vk-error.h"

/* What a frame needs for the classifier: the Ethernet header, a VLAN tag,
 * an IPv6 header and the ICMPv6 target address fit in 128 bytes. */
#define SNAP_LEN 128
/* Frames read from one socket before the others get their turn. */
#define BURST 64

/* One hibernated VM that opted in. */
typedef struct {
  char *name;
  char *uuid;
  char *image;          /* saved in this image; NULL: a managed save */
  GPtrArray *macs;      /* char*, lower case */
  GPtrArray *addresses; /* char* */
  GPtrArray *bridges;   /* char* */
} Target;

static void
target_free (Target *t)
{
  g_free (t->name);
  g_free (t->uuid);
  g_free (t->image);
  g_ptr_array_unref (t->macs);
  g_ptr_array_unref (t->addresses);
  g_ptr_array_unref (t->bridges);
  g_free (t);
}

/* The socket on one bridge. */
typedef struct {
  char *bridge;
  int fd;
} Tap;

static void
tap_free (Tap *tap)
{
  if (tap->fd >= 0)
    close (tap->fd);   /* the bridge leaves promiscuous mode with it */
  g_free (tap->bridge);
  g_free (tap);
}

/* A wake under way, run in a thread of its own. Its context is its own:
 * the watcher's connection, configuration and hooks, but a cancellable no
 * signal reaches, so that a stop of the watcher (SIGTERM from systemctl
 * stop) lets a wake it began finish instead of abandoning the client that
 * asked for the VM. A wake that hangs ends with the service's stop timeout
 * (SIGKILL); the next vmkeep rolls back what is left. */
typedef struct {
  VkOps *ops;
  GAsyncQueue *done;
  char *name, *uuid, *image, *bridge;
  VkWakeMatch trigger;
  gboolean ok;
  double seconds;
  char *message;
} WakeJob;

static void
wake_job_free (WakeJob *j)
{
  vk_ops_free (j->ops);
  g_free (j->name);
  g_free (j->uuid);
  g_free (j->image);
  g_free (j->bridge);
  g_free (j->message);
  g_free (j);
}

typedef struct {
  VkOps *ops;
  const VkWatchOpts *o;
  VkConn *own_conn;         /* opened again after libvirtd went away */
  GPtrArray *targets;       /* Target*, index = owner in `set` */
  VkWakeSet *set;
  GHashTable *taps;         /* bridge -> Tap* */
  GHashTable *last_wake;    /* uuid -> gint64* (monotonic µs) */
  GHashTable *waking;       /* uuid -> WakeJob* under way */
  GHashTable *suppressed;   /* uuid -> count of frames ignored since its wake began */
  GHashTable *problems;     /* messages said once */
  GAsyncQueue *done;        /* WakeJob* finished */
  guint running;
} Watch;

static void
emit (Watch *w, const VkWatchEvent *e)
{
  if (w->o->event)
    w->o->event (e, w->o->event_data);
}

/* A problem, said once until it goes away and comes back. */
static void
problem (Watch *w, GHashTable *seen, const char *message)
{
  if (g_hash_table_contains (w->problems, message))
    {
      g_hash_table_add (seen, g_strdup (message));
      return;
    }
  g_hash_table_add (w->problems, g_strdup (message));
  g_hash_table_add (seen, g_strdup (message));
  VkWatchEvent e = { .kind = VK_WATCH_PROBLEM, .message = message };
  emit (w, &e);
}

static char *
joined (GPtrArray *a)
{
  g_autoptr(GString) s = g_string_new (NULL);
  for (guint i = 0; i < a->len; i++)
    g_string_append_printf (s, "%s%s", i ? " " : "", (const char *) a->pdata[i]);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
add_unique (GPtrArray *a, const char *s)
{
  if (!g_ptr_array_find_with_equal_func (a, s, g_str_equal, NULL))
    g_ptr_array_add (a, g_strdup (s));
}

/* ---- who is eligible ------------------------------------------------------ */

/* The newest image of the store whose sidecar names `uuid`, or NULL. */
static char *
newest_image (Watch *w, const char *uuid, VkSidecar **sc_out)
{
  g_autofree char *images = vk_store_images_dir (w->ops->cfg->store_dir);
  g_autoptr(GDir) d = g_dir_open (images, 0, NULL);
  const char *n;
  char *best = NULL;
  VkSidecar *best_sc = NULL;
  while (d && (n = g_dir_read_name (d)) != NULL)
    {
      if (n[0] == '.')
        continue;
      VkSidecar *sc = vk_ops_image_load (w->ops, n, NULL, NULL);
      if (sc == NULL || g_strcmp0 (sc->domain_uuid, uuid) != 0 ||
          (best_sc && g_date_time_compare (sc->created, best_sc->created) <= 0))
        {
          vk_sidecar_free (sc);
          continue;
        }
      g_free (best);
      vk_sidecar_free (best_sc);
      best = g_strdup (n);
      best_sc = sc;
    }
  *sc_out = best_sc;
  return best;
}

/* The target for domain `info` when it is eligible; problems it has go
 * into `seen`. */
static Target *
eligible (Watch *w, const VkDomainInfo *info, GHashTable *seen)
{
  if (g_strcmp0 (info->state, "shut off") != 0 || !info->persistent)
    return NULL;
  g_autoptr(VkDomain) dom = vk_domain_try_lookup (w->ops->conn, info->name);
  g_autoptr(GPtrArray) tags = dom ? vk_ops_domain_tags (dom) : NULL;
  if (tags == NULL || !g_ptr_array_find_with_equal_func (tags, VK_WATCH_TAG, g_str_equal, NULL))
    return NULL;
  g_autoptr(VkSidecar) sc = NULL;
  g_autofree char *image = NULL;
  if (info->managed_save)
    {
      g_autofree char *path = vk_store_managed_sidecar (w->ops->cfg->store_dir, info->uuid);
      g_autoptr(GError) e = NULL;
      sc = vk_sidecar_load (path, &e);
      if (sc == NULL)
        {
          g_autofree char *m = g_strdup_printf (_("'%s': its sidecar cannot be read (%s); "
                                                  "not watched"), info->name, e->message);
          problem (w, seen, m);
          return NULL;
        }
    }
  else if ((image = newest_image (w, info->uuid, &sc)) == NULL)
    return NULL;   /* shut off, not hibernated */

  Target *t = g_new0 (Target, 1);
  t->name = g_strdup (info->name);
  t->uuid = g_strdup (info->uuid);
  t->image = g_steal_pointer (&image);
  t->macs = g_ptr_array_new_with_free_func (g_free);
  t->addresses = g_ptr_array_new_with_free_func (g_free);
  t->bridges = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *nics = sc->identity->nics;
  for (guint i = 0; i < nics->len; i++)
    {
      VkIdentityNic *nic = nics->pdata[i];
      g_autofree char *br = NULL;
      g_autoptr(GError) e = NULL;
      if (g_strcmp0 (nic->source_type, "bridge") == 0)
        br = g_strdup (nic->source);
      else if (g_strcmp0 (nic->source_type, "network") == 0 && nic->source)
        br = vk_conn_network_bridge (w->ops->conn, nic->source, &e);
      if (br == NULL || nic->mac == NULL)
        {
          g_autofree char *m = g_strdup_printf (
            _("'%s': NIC %s (%s %s) is on no bridge vmkeep can watch%s%s"), t->name,
            nic->mac ? nic->mac : "?", nic->source_type ? nic->source_type : "?",
            nic->source ? nic->source : "", e ? ": " : "", e ? e->message : "");
          problem (w, seen, m);
          continue;
        }
      g_autofree char *mac = g_ascii_strdown (nic->mac, -1);
      add_unique (t->macs, mac);
      add_unique (t->bridges, br);
    }
  for (guint i = 0; i < sc->addresses->len; i++)
    add_unique (t->addresses, ((VkSidecarAddress *) sc->addresses->pdata[i])->ip);
  if (t->bridges->len == 0)
    {
      target_free (t);
      return NULL;
    }
  return t;
}

static Target *
find_target (GPtrArray *targets, const char *uuid)
{
  for (guint i = 0; targets && i < targets->len; i++)
    if (g_str_equal (((Target *) targets->pdata[i])->uuid, uuid))
      return targets->pdata[i];
  return NULL;
}

/* ---- sockets --------------------------------------------------------------- */

/* A classic BPF program for the kernel to pass only what the classifier
 * may match, cut to SNAP_LEN: ARP, 802.1Q-tagged frames, ICMPv6 straight
 * after the IPv6 header, and frames to one of `macs`. Everything else on a
 * busy bridge stays in the kernel. */
static GArray *
socket_filter (GPtrArray *macs)
{
  GArray *p = g_array_new (FALSE, FALSE, sizeof (struct sock_filter));
#define OP(code, jt, jf, k) \
  G_STMT_START { struct sock_filter f_ = BPF_JUMP (code, k, jt, jf); g_array_append_val (p, f_); } G_STMT_END
  /* The jumps go to ACCEPT (the last instruction) or on; their offsets
   * are filled once the program's length is known. */
  GArray *to_accept = g_array_new (FALSE, FALSE, sizeof (guint));
#define ACCEPT_IF(k) \
  G_STMT_START { guint at_ = p->len; g_array_append_val (to_accept, at_); \
                 OP (BPF_JMP | BPF_JEQ | BPF_K, 0, 0, k); } G_STMT_END
  OP (BPF_LD | BPF_H | BPF_ABS, 0, 0, 12);        /* ethertype */
  ACCEPT_IF (ETH_P_ARP);
  ACCEPT_IF (ETH_P_8021Q);
  OP (BPF_JMP | BPF_JEQ | BPF_K, 0, 2, ETH_P_IPV6);
  OP (BPF_LD | BPF_B | BPF_ABS, 0, 0, 20);        /* IPv6 next header */
  ACCEPT_IF (IPPROTO_ICMPV6);
  for (guint i = 0; i < macs->len; i++)
    {
      guint8 b[6];
      if (sscanf (macs->pdata[i], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &b[0], &b[1], &b[2], &b[3],
                  &b[4], &b[5]) != 6)
        continue;
      OP (BPF_LD | BPF_H | BPF_ABS, 0, 0, 0);
      OP (BPF_JMP | BPF_JEQ | BPF_K, 0, 2, (guint) (b[0] << 8 | b[1]));
      OP (BPF_LD | BPF_W | BPF_ABS, 0, 0, 2);
      ACCEPT_IF ((guint) b[2] << 24 | (guint) b[3] << 16 | (guint) b[4] << 8 | b[5]);
    }
  OP (BPF_RET | BPF_K, 0, 0, 0);                   /* drop */
  guint accept = p->len;
  OP (BPF_RET | BPF_K, 0, 0, SNAP_LEN);
  for (guint i = 0; i < to_accept->len; i++)
    {
      guint at = g_array_index (to_accept, guint, i);
      g_array_index (p, struct sock_filter, at).jt = (guint8) (accept - at - 1);
    }
  g_array_unref (to_accept);
#undef ACCEPT_IF
#undef OP
  return p;
}

static gboolean
set_filter (int fd, GPtrArray *macs, GError **error)
{
  g_autoptr(GArray) prog = socket_filter (macs);
  /* jumps are 8 bits: (256 - 12) / 4 MACs is far more than any VM set */
  if (prog->len > 250)
    return vk_fail (error, VK_ERROR_FAILED, _("too many MACs to watch (%u)"), macs->len);
  struct sock_fprog fp = { .len = (unsigned short) prog->len,
                           .filter = (struct sock_filter *) prog->data };
  if (setsockopt (fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof fp) < 0)
    return vk_fail (error, VK_ERROR_FAILED, _("cannot filter the frames: %s"),
                    g_strerror (errno));
  return TRUE;
}

static Tap *
tap_open (const char *bridge, GPtrArray *macs, GError **error)
{
  unsigned int ifindex = if_nametoindex (bridge);
  if (ifindex == 0)
    {
      vk_fail (error, VK_ERROR_NOT_FOUND, _("bridge %s: %s"), bridge, g_strerror (errno));
      return NULL;
    }
  Tap *tap = g_new0 (Tap, 1);
  tap->bridge = g_strdup (bridge);
  tap->fd = socket (AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons (ETH_P_ALL));
  struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons (ETH_P_ALL),
                             .sll_ifindex = (int) ifindex };
  /* promiscuous: frames to a MAC the bridge forgot (the VM's port is gone)
   * are flooded, and reach the bridge's own interface only then */
  struct packet_mreq mr = { .mr_ifindex = (int) ifindex, .mr_type = PACKET_MR_PROMISC };
  if (tap->fd < 0 || !set_filter (tap->fd, macs, error) ||
      bind (tap->fd, (struct sockaddr *) &sll, sizeof sll) < 0 ||
      setsockopt (tap->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
    {
      if (error && *error == NULL)
        vk_fail (error, errno == EPERM ? VK_ERROR_REFUSED : VK_ERROR_FAILED,
                 _("cannot listen on bridge %s: %s%s"), bridge, g_strerror (errno),
                 errno == EPERM ? _(" (vmkeep watch needs CAP_NET_RAW: run it as root)") : "");
      tap_free (tap);
      return NULL;
    }
  return tap;
}

/* ---- rescan ---------------------------------------------------------------- */

/* libvirtd went away: a new connection, once no wake uses the old one. */
static gboolean
reconnect (Watch *w, GHashTable *seen)
{
  if (vk_conn_is_alive (w->ops->conn) || w->running > 0)
    return FALSE;
  g_autofree char *uri = g_strdup (vk_conn_uri (w->ops->conn));
  VkConn *c = NULL;
  g_autoptr(GError) e = NULL;
  if (!vk_conn_open (uri, &c, &e))
    {
      g_autofree char *m = g_strdup_printf (_("libvirt does not answer at %s; trying again"),
                                            uri);
      problem (w, seen, m);
      return FALSE;
    }
  if (w->own_conn)
    vk_conn_free (w->own_conn);
  w->own_conn = c;
  w->ops->conn = c;
  return TRUE;
}

static void
rescan (Watch *w, GPtrArray *prev_targets)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GError) e = NULL;
  g_autoptr(GPtrArray) infos = vk_conn_list_domains (w->ops->conn, TRUE, &e);
  if (infos == NULL && reconnect (w, seen))
    {
      g_clear_error (&e);
      infos = vk_conn_list_domains (w->ops->conn, TRUE, &e);
    }
  if (infos == NULL)
    {
      /* keep watching what was known: a wake then fails and is retried */
      g_autofree char *m = g_strdup_printf (_("cannot list the domains: %s"), e->message);
      problem (w, seen, m);
      g_hash_table_remove_all (w->problems);
      GHashTableIter it;
      gpointer k;
      g_hash_table_iter_init (&it, seen);
      while (g_hash_table_iter_next (&it, &k, NULL))
        g_hash_table_add (w->problems, g_strdup (k));
      return;
    }
  GPtrArray *targets = g_ptr_array_new_with_free_func ((GDestroyNotify) target_free);
  for (guint i = 0; i < infos->len; i++)
    {
      Target *t = eligible (w, infos->pdata[i], seen);
      if (t)
        g_ptr_array_add (targets, t);
    }
  /* who came, who went */
  for (guint i = 0; prev_targets && i < prev_targets->len; i++)
    {
      Target *old = prev_targets->pdata[i];
      if (find_target (targets, old->uuid) == NULL)
        {
          VkWatchEvent ev = { .kind = VK_WATCH_STOPPED, .domain = old->name, .image = old->image };
          emit (w, &ev);
        }
    }
  g_autoptr(VkWakeSet) set = vk_wake_set_new ();
  g_autoptr(GHashTable) want = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) all_macs = g_ptr_array_new ();
  for (guint i = 0; i < targets->len; i++)
    {
      Target *t = targets->pdata[i];
      for (guint k = 0; k < t->macs->len; k++)
        {
          vk_wake_set_add_mac (set, t->macs->pdata[k], i, NULL);
          g_ptr_array_add (all_macs, t->macs->pdata[k]);
        }
      for (guint k = 0; k < t->addresses->len; k++)
        vk_wake_set_add_ip (set, t->addresses->pdata[k], i, NULL);
      for (guint k = 0; k < t->bridges->len; k++)
        g_hash_table_add (want, t->bridges->pdata[k]);
      if (find_target (prev_targets, t->uuid) == NULL)
        {
          g_autofree char *brs = joined (t->bridges), *macs = joined (t->macs),
                          *addrs = joined (t->addresses);
          VkWatchEvent ev = { .kind = VK_WATCH_STARTED, .domain = t->name, .image = t->image,
                              .bridges = brs, .macs = macs, .addresses = addrs };
          emit (w, &ev);
        }
    }
  /* sockets: close what no VM needs, open what is new, filter anew */
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, w->taps);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (!g_hash_table_contains (want, k))
      g_hash_table_iter_remove (&it);
  g_hash_table_iter_init (&it, want);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      Tap *tap = g_hash_table_lookup (w->taps, k);
      g_autoptr(GError) te = NULL;
      if (tap != NULL && set_filter (tap->fd, all_macs, &te))
        continue;
      if (tap == NULL && (tap = tap_open (k, all_macs, &te)) != NULL)
        {
          g_hash_table_insert (w->taps, tap->bridge, tap);
          continue;
        }
      problem (w, seen, te->message);
    }
  /* a problem that went away may be said again when it comes back */
  g_hash_table_remove_all (w->problems);
  g_hash_table_iter_init (&it, seen);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_hash_table_add (w->problems, g_strdup (k));

  vk_wake_set_free (w->set);
  w->set = g_steal_pointer (&set);
  if (w->targets)
    g_ptr_array_unref (w->targets);
  w->targets = targets;
}

/* ---- waking ---------------------------------------------------------------- */

static gpointer
wake_thread (gpointer data)
{
  WakeJob *j = data;
  g_autoptr(GError) e = NULL;
  VkOpsSaveResult r = { 0 };
  gint64 t0 = g_get_monotonic_time ();
  j->ok = j->image ? vk_ops_wake_image (j->ops, j->image, FALSE, &r, &e)
                   : vk_ops_wake (j->ops, j->name, FALSE, &r, &e);
  j->seconds = (g_get_monotonic_time () - t0) / 1e6;
  j->message = e ? g_strdup (e->message) : NULL;
  vk_ops_save_result_clear (&r);
  g_async_queue_push (j->done, j);
  return NULL;
}

static void
on_match (Watch *w, const char *bridge, const VkWakeMatch *m)
{
  if (w->targets == NULL || m->owner >= w->targets->len)
    return;
  Target *t = w->targets->pdata[m->owner];
  gint64 now = g_get_monotonic_time ();
  gint64 *last = g_hash_table_lookup (w->last_wake, t->uuid);
  if (g_hash_table_contains (w->waking, t->uuid) ||
      (last && now - *last < (gint64) w->o->min_interval_s * G_USEC_PER_SEC))
    {
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (w->suppressed, t->uuid));
      g_hash_table_insert (w->suppressed, g_strdup (t->uuid), GUINT_TO_POINTER (n + 1));
      return;
    }
  gint64 *at = g_new (gint64, 1);
  *at = now;
  g_hash_table_insert (w->last_wake, g_strdup (t->uuid), at);
  g_hash_table_insert (w->suppressed, g_strdup (t->uuid), GUINT_TO_POINTER (0));
  WakeJob *j = g_new0 (WakeJob, 1);
  j->ops = vk_ops_new (w->ops->conn, w->ops->cfg);
  j->ops->notice = w->ops->notice;
  j->ops->notice_data = w->ops->notice_data;
  j->ops->fault = w->ops->fault;
  j->ops->fault_data = w->ops->fault_data;
  j->done = w->done;
  j->name = g_strdup (t->name);
  j->uuid = g_strdup (t->uuid);
  j->image = g_strdup (t->image);
  j->bridge = g_strdup (bridge);
  j->trigger = *m;
  g_hash_table_insert (w->waking, g_strdup (t->uuid), j);
  w->running++;
  g_thread_unref (g_thread_new ("vmkeep-wake", wake_thread, j));
}

/* Report the wakes that ended; TRUE when there were any. */
static gboolean
reap (Watch *w, gboolean block)
{
  gboolean any = FALSE;
  WakeJob *j;
  while (w->running > 0 &&
         (j = block ? g_async_queue_pop (w->done) : g_async_queue_try_pop (w->done)) != NULL)
    {
      w->running--;
      any = TRUE;
      VkWatchEvent ev = { .kind = VK_WATCH_WAKE, .domain = j->name, .image = j->image,
                          .bridge = j->bridge, .trigger = &j->trigger, .ok = j->ok,
                          .seconds = j->seconds, .message = j->message,
                          .suppressed = GPOINTER_TO_UINT (g_hash_table_lookup (w->suppressed,
                                                                               j->uuid)) };
      emit (w, &ev);
      g_hash_table_remove (w->waking, j->uuid);
      wake_job_free (j);
    }
  return any;
}

static void
drain (Watch *w, Tap *tap)
{
  guint8 buf[SNAP_LEN];
  for (int i = 0; i < BURST; i++)
    {
      struct sockaddr_ll from;
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom (tap->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &from, &fl);
      if (n < 0)
        return;
      /* what this host sends itself is never a reason to wake */
      if (from.sll_pkttype == PACKET_OUTGOING)
        continue;
      VkWakeMatch m;
      if (w->set && vk_wake_frame_match (w->set, buf, (gsize) n, &m))
        on_match (w, tap->bridge, &m);
    }
}

gboolean
vk_ops_watch (VkOps *ops, const VkWatchOpts *o, GError **error)
{
  VkWatchOpts opts = *o;
  if (opts.rescan_ms == 0)
    opts.rescan_ms = 2000;
  if (opts.min_interval_s == 0)
    opts.min_interval_s = 30;
  if (ops->conn == NULL)
    return vk_fail (error, VK_ERROR_FAILED, _("vmkeep watch needs a libvirt connection"));
  Watch w = {
    .ops = ops,
    .o = &opts,
    .taps = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) tap_free),
    .last_wake = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
    .waking = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .suppressed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .problems = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .done = g_async_queue_new (),
  };
  VkConn *original = ops->conn;
  GPollFD cancel_fd;
  gboolean have_cancel_fd = g_cancellable_make_pollfd (ops->cancel, &cancel_fd);
  gint64 next_scan = 0;
  g_autoptr(GArray) fds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  g_autoptr(GPtrArray) polled = g_ptr_array_new ();

  while (!g_cancellable_is_cancelled (ops->cancel))
    {
      gint64 now = g_get_monotonic_time ();
      if (now >= next_scan)
        {
          GPtrArray *prev = w.targets ? g_ptr_array_ref (w.targets) : NULL;
          rescan (&w, prev);
          if (prev)
            g_ptr_array_unref (prev);
          next_scan = now + (gint64) opts.rescan_ms * 1000;
        }
      g_array_set_size (fds, 0);
      g_ptr_array_set_size (polled, 0);
      if (have_cancel_fd)
        {
          struct pollfd p = { .fd = cancel_fd.fd, .events = POLLIN };
          g_array_append_val (fds, p);
          g_ptr_array_add (polled, NULL);
        }
      GHashTableIter it;
      gpointer v;
      g_hash_table_iter_init (&it, w.taps);
      while (g_hash_table_iter_next (&it, NULL, &v))
        {
          struct pollfd p = { .fd = ((Tap *) v)->fd, .events = POLLIN };
          g_array_append_val (fds, p);
          g_ptr_array_add (polled, v);
        }
      gint64 wait_ms = (next_scan - g_get_monotonic_time ()) / 1000;
      if (w.running > 0)
        wait_ms = MIN (wait_ms, 100);
      int n = poll ((struct pollfd *) fds->data, fds->len, (int) CLAMP (wait_ms, 0, 60000));
      if (n < 0 && errno != EINTR)
        break;
      for (guint i = 0; n > 0 && i < fds->len; i++)
        if (polled->pdata[i] && (g_array_index (fds, struct pollfd, i).revents & POLLIN))
          drain (&w, polled->pdata[i]);
      /* a woken VM leaves the set at the next scan, soon */
      if (reap (&w, FALSE))
        next_scan = MIN (next_scan, g_get_monotonic_time () + 200 * 1000);
    }
  /* a wake under way finishes: its journal would undo a half one anyway */
  reap (&w, TRUE);

  if (have_cancel_fd)
    g_cancellable_release_fd (ops->cancel);
  g_hash_table_unref (w.taps);
  g_hash_table_unref (w.last_wake);
  g_hash_table_unref (w.waking);
  g_hash_table_unref (w.suppressed);
  g_hash_table_unref (w.problems);
  g_async_queue_unref (w.done);
  if (w.targets)
    g_ptr_array_unref (w.targets);
  vk_wake_set_free (w.set);
  ops->conn = original;
  if (w.own_conn)
    vk_conn_free (w.own_conn);
  return TRUE;
}
