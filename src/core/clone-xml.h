/* vmkeep — turning a source domain's XML into a clone's (pure).
 *
 * The invariant: a clone differs from its source only in name, UUID, disk
 * source paths (and the format that follows them), the TAP device and the
 * NIC's host side, serial/console log paths, and NVRAM / TPM state paths.
 * Everything is edited as XML elements, never as text, so no other field
 * can change by accident.
 *
 * Path rule (documented in vmkeep(1)): a path is rewritten only where it is
 * one of those fields, and then either to a value vmkeep chose (disks,
 * NVRAM) or, for log files, by replacing the source's name in the file's
 * *base name* when the base name is the source name or starts with it
 * followed by one of "-_.": /var/log/vm/web1.log -> /var/log/vm/web2.log,
 * /var/log/vm/web1-serial.log -> /var/log/vm/web2-serial.log. Directories
 * are never rewritten, and a name that merely contains the source name
 * (/var/log/vm/myweb1.log) gets the clone's name prefixed instead
 * (/var/log/vm/web2-myweb1.log), so two VMs never share a log file. */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

typedef struct {
  const char *name;          /* clone name */
  const char *uuid;          /* clone UUID */
  GHashTable *disk_paths;    /* target dev -> new source file */
  GHashTable *disk_formats;  /* target dev -> new driver type (optional) */
  const char *const *taps;   /* per NIC in document order; NULL or "" = generate */
  const char *bridge;        /* every NIC onto this bridge (optional) */
  const char *network;       /* ... or this libvirt network (optional) */
  const char *nvram_path;    /* new <nvram> path (optional) */
} VkCloneRewrite;

/* Apply `rw` to `doc` (the source's XML) in place. Disks with a source
 * file not in disk_paths keep their path only when read-only (a shared
 * CD-ROM or base); a writable one is an error (two VMs would write one
 * file). Fails (VK_ERROR_USAGE) when there are more --tap names than NICs. */
/* Put the <interface> `nic` on `bridge` (or, when NULL, libvirt network
 * `network`): its type and <source>, nothing else. */
void vk_clone_nic_host (xmlNodePtr nic, const char *bridge, const char *network);

gboolean vk_clone_rewrite (xmlDocPtr doc, const char *source_name,
                           const VkCloneRewrite *rw, GError **error);

/* TAP name for NIC `index` of clone `name`: "vk" + 8 hex digits of a hash
 * of the name + "n" + index; at most 15 characters. */
char *vk_clone_tap_name (const char *name, guint index);

/* The log path rule above. */
char *vk_rewrite_log_path (const char *path, const char *source_name,
                           const char *new_name);

G_END_DECLS
