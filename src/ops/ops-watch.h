/* vmkeep — wake on traffic (DESIGN.md "Scale to zero"): watch the bridges
 * of hibernated VMs that opted in, and wake a VM when a frame for it
 * arrives.
 *
 * Eligible: a domain tagged VK_WATCH_TAG that is shut off with a managed
 * save, or shut off and saved in an image of the store (the newest one
 * naming it) while its definition is still there. Its frames: any frame to
 * one of its MACs, an ARP request for one of its IPv4 addresses, an IPv6
 * neighbour solicitation for one of its IPv6 addresses; the addresses are
 * those the sidecar recorded at hibernate time (src/core/wakeframe.h says
 * exactly what matches).
 *
 * For each Linux bridge (or libvirt network's bridge) of an eligible VM's
 * NICs, one AF_PACKET socket, with the bridge promiscuous while it is open
 * (so that frames to a MAC the bridge no longer knows reach it); bridges
 * of no eligible VM are never opened. The watcher only reads frames: it
 * never sends or answers one. A matching frame wakes its VM through the
 * same workflow as `vmkeep wake` (under the domain's lock: a wake by hand
 * and one by traffic never collide), at most once per `min_interval_s`
 * per VM: a storm of frames wakes it once. The eligible set is read again
 * every `rescan_ms` (VMs hibernated or woken by others), and the
 * connection is opened again when libvirtd went away. */
#pragma once

#include <glib.h>

#include "ops.h"
#include "wakeframe.h"

G_BEGIN_DECLS

#define VK_WATCH_TAG "wake-on-traffic"

typedef enum {
  VK_WATCH_STARTED,     /* watching `domain` on `bridges` (`macs`, `addresses`) */
  VK_WATCH_STOPPED,     /* no longer watching `domain` (woken, gone, no longer tagged) */
  VK_WATCH_WAKE,        /* woke `domain` (`ok`, `seconds`, `message` on failure) after `trigger` */
  VK_WATCH_PROBLEM,     /* something the watcher cannot do; `message` says what */
} VkWatchEventKind;

typedef struct {
  VkWatchEventKind kind;
  const char *domain;
  const char *image;          /* the image it is saved in, NULL: managed save */
  const char *bridges;        /* STARTED: space-separated */
  const char *macs;           /* STARTED: space-separated */
  const char *addresses;      /* STARTED: space-separated, may be empty */
  const char *bridge;         /* WAKE: where the trigger arrived */
  const VkWakeMatch *trigger; /* WAKE */
  guint suppressed;           /* WAKE: further matching frames ignored meanwhile */
  gboolean ok;
  double seconds;
  const char *message;
} VkWatchEvent;

typedef void (*VkWatchEventFunc) (const VkWatchEvent *e, gpointer data);

typedef struct {
  guint rescan_ms;            /* 0: 2000 */
  guint min_interval_s;       /* 0: 30 */
  VkWatchEventFunc event;     /* called in the caller's thread */
  gpointer event_data;
} VkWatchOpts;

/* Watch until `ops->cancel` is cancelled (a wake under way finishes
 * first). FALSE only when it cannot start (VK_ERROR_*); what goes wrong
 * later is a VK_WATCH_PROBLEM event and the watcher goes on. */
gboolean vk_ops_watch (VkOps *ops, const VkWatchOpts *o, GError **error);

G_END_DECLS
