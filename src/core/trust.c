/* vmkeep — the trust boundary for images from elsewhere. See trust.h. */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>

#include "domain-xml.h"
#include "trust.h"
#include "validate.h"
#include "vk-error.h"

gboolean
vk_path_is_plain (const char *path)
{
  if (path == NULL || path[0] != '/' || strlen (path) > 4096)
    return FALSE;
  for (const char *p = path; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  g_auto(GStrv) parts = g_strsplit (path + 1, "/", -1);
  for (guint i = 0; parts[i]; i++)
    {
      /* a trailing slash leaves one empty last component: tolerated */
      if (parts[i][0] == '\0' && parts[i + 1] != NULL)
        return FALSE;
      if (g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
        return FALSE;
    }
  return TRUE;
}

gboolean
vk_path_is_below (const char *path, const char *dir)
{
  if (!vk_path_is_plain (path) || !vk_path_is_plain (dir))
    return FALSE;
  gsize n = strlen (dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  if (n == 1)
    return TRUE;   /* "/" */
  return strncmp (path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* ---- walking ------------------------------------------------------------ */

typedef struct {
  const VkTrustPolicy *p;
  const char *source;   /* names the image in messages */
  char *name;           /* the domain's name */
  GError **error;
} Walk;

static gboolean
refuse (Walk *w, const char *what, const char *value, const char *why)
{
  if (value)
    g_set_error (w->error, VK_ERROR, VK_ERROR_REFUSED,
                 _("%s: the domain's %s “%s” %s"), w->source, what,
                 value, why);
  else
    g_set_error (w->error, VK_ERROR, VK_ERROR_REFUSED,
                 _("%s: the domain's %s %s"), w->source, what, why);
  return FALSE;
}

static gboolean
is_el (xmlNodePtr n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST name);
}

static gboolean
in_list (const char *s, const char *const *list)
{
  for (guint i = 0; s && list && list[i]; i++)
    if (g_str_equal (s, list[i]))
      return TRUE;
  return FALSE;
}

static void
remove_node (xmlNodePtr n)
{
  xmlUnlinkNode (n);
  xmlFreeNode (n);
}

/* Drop every child element called `name` (any depth below `n`). */
static void
drop_all (xmlNodePtr n, const char *name)
{
  for (xmlNodePtr c = n->children, next; c; c = next)
    {
      next = c->next;
      if (is_el (c, name))
        remove_node (c);
      else if (c->type == XML_ELEMENT_NODE)
        drop_all (c, name);
    }
}

static guint
count_children (xmlNodePtr n, const char *name)
{
  guint count = 0;
  for (xmlNodePtr c = n->children; c; c = c->next)
    if (is_el (c, name))
      count++;
  return count;
}

static void
unset (xmlNodePtr n, const char *attr)
{
  if (n)
    xmlUnsetProp (n, BAD_CAST attr);
}

/* N's content becomes TEXT alone, taken literally (no entity references)
 * and with no child elements left. */
static void
set_text (xmlNodePtr n, const char *text)
{
  xmlNodeSetContent (n, NULL);
  xmlNodeAddContent (n, BAD_CAST text);
}

/* Drops every attribute of N but those in KEEP: for elements whose
 * attributes libvirt's schema lists in full, so an attribute a later
 * libvirt reads as a path cannot ride along. */
static void
keep_only (xmlNodePtr n, const char *const *keep)
{
  xmlAttrPtr a = n ? n->properties : NULL;
  while (a != NULL)
    {
      xmlAttrPtr next = a->next;
      if (a->ns != NULL || !in_list ((const char *) a->name, keep))
        xmlRemoveProp (a);
      a = next;
    }
}

/* Elements of other namespaces are extensions: outside <metadata> they
 * can only be hypervisor passthrough (qemu:commandline and friends). */
static gboolean
check_namespaces (Walk *w, xmlNodePtr n)
{
  for (xmlNodePtr c = n->children; c; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE)
        continue;
      if (c->ns != NULL)
        {
          g_autofree char *q = g_strdup_printf ("%s%s%s", c->ns->prefix ? (const char *) c->ns->prefix : "",
                                                c->ns->prefix ? ":" : "", (const char *) c->name);
          return refuse (w, _("element"), q,
                         _("passes settings straight to the hypervisor; images may not carry "
                           "them"));
        }
      if (is_el (c, "metadata"))
        continue;
      if (!check_namespaces (w, c))
        return FALSE;
    }
  return TRUE;
}

/* A file the host reads by name for the guest (kernel, initrd, ...): an
 * existing regular file below one of the allowed directories. */
static gboolean
check_host_file (Walk *w, const char *what, const char *path)
{
  if (!vk_path_is_plain (path))
    return refuse (w, what, path, _("is not a plain absolute path"));
  gboolean below = FALSE;
  for (guint i = 0; w->p->kernel_dirs && w->p->kernel_dirs[i]; i++)
    below = below || vk_path_is_below (path, w->p->kernel_dirs[i]);
  if (!below)
    {
      g_autofree char *dirs = w->p->kernel_dirs ? g_strjoinv (", ", (char **) w->p->kernel_dirs)
                                                : g_strdup ("-");
      g_autofree char *why = g_strdup_printf (
          _("is outside the directories this host allows for boot files (%s): set "
            "kernel-dirs= in vmkeep.conf, or remove direct kernel boot from the VM"),
          dirs);
      return refuse (w, what, path, why);
    }
  struct stat st;
  if (lstat (path, &st) < 0 || !S_ISREG (st.st_mode))
    return refuse (w, what, path,
                   _("does not exist on this host as a regular file: install the same kernel "
                     "here first"));
  return TRUE;
}

/* ---- <os> ------------------------------------------------------------- */

static gboolean
walk_os (Walk *w, xmlNodePtr os)
{
  for (xmlNodePtr c = os->children, next; c; c = next)
    {
      next = c->next;
      if (c->type != XML_ELEMENT_NODE)
        continue;
      g_autofree char *text = NULL;
      if (is_el (c, "type") || is_el (c, "boot") || is_el (c, "bootmenu") || is_el (c, "bios") ||
          is_el (c, "smbios") || is_el (c, "cmdline") || is_el (c, "firmware"))
        continue;
      if (is_el (c, "loader"))
        {
          static const char *const loader_attrs[] = { "readonly", "secure", "type", "stateless",
                                                      "format", NULL };
          keep_only (c, loader_attrs);
          xmlChar *t = xmlNodeGetContent (c);
          text = t ? g_strstrip (g_strdup ((const char *) t)) : NULL;
          xmlFree (t);
          if (text && *text && !in_list (text, w->p->loaders))
            return refuse (w, _("firmware <loader>"), text,
                           _("is not firmware this host offers (libvirt's domain "
                             "capabilities); install the firmware package the VM needs"));
          set_text (c, text ? text : "");   /* the checked text only */
          continue;
        }
      if (is_el (c, "nvram"))
        {
          static const char *const nvram_attrs[] = { "template", "templateFormat", "format",
                                                     "type", NULL };
          keep_only (c, nvram_attrs);
          g_autofree char *tmpl = vk_xml_prop (c, "template");
          g_autofree char *type = vk_xml_prop (c, "type");
          if (type && !g_str_equal (type, "file"))
            return refuse (w, _("<nvram> type"), type,
                           _("is not a file; images keep their UEFI variables in the image"));
          if (tmpl && !in_list (tmpl, w->p->loaders))
            unset (c, "template");   /* libvirt picks the firmware's own */
          for (xmlNodePtr s = c->children; s; s = s->next)
            if (s->type == XML_ELEMENT_NODE)
              return refuse (w, _("<nvram>"), NULL,
                             _("has a source of its own; images keep their UEFI variables in "
                               "the image"));
          if (w->p->nvram_path == NULL)
            return refuse (w, _("<nvram>"), NULL, _("cannot be placed on this host"));
          xmlNodeSetContent (c, BAD_CAST w->p->nvram_path);
          continue;
        }
      if (is_el (c, "kernel") || is_el (c, "initrd") || is_el (c, "dtb") || is_el (c, "shim"))
        {
          xmlChar *t = xmlNodeGetContent (c);
          text = t ? g_strstrip (g_strdup ((const char *) t)) : g_strdup ("");
          xmlFree (t);
          g_autofree char *what = g_strdup_printf ("<%s>", (const char *) c->name);
          if (!check_host_file (w, what, text))
            return FALSE;
          set_text (c, text);   /* the checked text only */
          continue;
        }
      if (is_el (c, "acpi"))
        {
          for (xmlNodePtr t = c->children; t; t = t->next)
            if (is_el (t, "table"))
              {
                xmlChar *v = xmlNodeGetContent (t);
                g_autofree char *path = v ? g_strstrip (g_strdup ((const char *) v)) : g_strdup ("");
                xmlFree (v);
                if (!check_host_file (w, _("ACPI <table>"), path))
                  return FALSE;
                set_text (t, path);
              }
          continue;
        }
      return refuse (w, _("<os> element"), (const char *) c->name,
                     _("is not one vmkeep lets an image set"));
    }
  return TRUE;
}

/* ---- <devices> -------------------------------------------------------- */

static gboolean
walk_disk (Walk *w, xmlNodePtr d)
{
  g_autofree char *target = vk_xml_child_prop (d, "target", "dev");
  g_autofree char *device = vk_xml_prop (d, "device");
  g_autofree char *type = vk_xml_prop (d, "type");
  if (target == NULL || !vk_validate_name ("disk target", target, NULL))
    return refuse (w, _("disk target"), target, _("is missing or not a plain device name"));
  const char *path = w->p->disk_paths ? g_hash_table_lookup (w->p->disk_paths, target) : NULL;
  if (vk_xml_child (d, "encryption") || vk_xml_child (d, "auth") || vk_xml_child (d, "mirror"))
    return refuse (w, _("disk"), target,
                   _("uses encryption, authentication or a mirror, which name secrets or "
                     "storage of the host it came from"));
  if (path != NULL)
    {
      if (g_strcmp0 (device, "cdrom") == 0 || g_strcmp0 (device, "floppy") == 0)
        return refuse (w, _("disk"), target, _("is frozen into the image but not a disk"));
      /* the VM's writable overlay over the image's frozen base */
      xmlSetProp (d, BAD_CAST "type", BAD_CAST "file");
      drop_all (d, "backingStore");
      xmlNodePtr src = vk_xml_child (d, "source");
      if (src)
        remove_node (src);
      src = xmlNewChild (d, NULL, BAD_CAST "source", NULL);
      xmlSetProp (src, BAD_CAST "file", BAD_CAST path);
      xmlNodePtr drv = vk_xml_child (d, "driver");
      if (drv)
        xmlSetProp (drv, BAD_CAST "type", BAD_CAST "qcow2");
      return TRUE;
    }
  if (g_strcmp0 (device, "cdrom") == 0 || g_strcmp0 (device, "floppy") == 0)
    {
      /* an empty drive: what was inserted is media of the other host */
      xmlNodePtr src = vk_xml_child (d, "source");
      if (src)
        remove_node (src);
      drop_all (d, "backingStore");
      if (g_strcmp0 (type, "file") != 0 && g_strcmp0 (type, "block") != 0)
        xmlSetProp (d, BAD_CAST "type", BAD_CAST "file");
      return TRUE;
    }
  g_autofree char *file = vk_xml_child_prop (d, "source", "file");
  g_autofree char *what = g_strdup_printf (_("disk %s"), target);
  return refuse (w, what, file ? file : type,
                 _("is not part of the image (only frozen disks and empty CD-ROM or floppy "
                   "drives come along); hibernate the VM with that disk frozen, or detach it"));
}

static gboolean
walk_interface (Walk *w, xmlNodePtr n)
{
  g_autofree char *type = vk_xml_prop (n, "type");
  g_autofree char *mac = vk_xml_child_prop (n, "mac", "address");
  static const char *const ok_types[] = { "bridge", "network", "ethernet", "user", NULL };
  if (!in_list (type, ok_types))
    return refuse (w, _("NIC type"), type,
                   _("connects to host resources by name (only bridge, network, ethernet and "
                     "user NICs come along)"));
  drop_all (n, "script");
  drop_all (n, "downscript");
  xmlNodePtr be = vk_xml_child (n, "backend");
  if (be)
    remove_node (be);   /* alternative /dev/net/tun or vhost paths */
  xmlNodePtr tgt = vk_xml_child (n, "target");
  g_autofree char *managed = tgt ? vk_xml_prop (tgt, "managed") : NULL;
  if (tgt && g_strcmp0 (managed, "no") != 0)
    remove_node (tgt);  /* the other host's TAP name: libvirt picks one */
  else if (tgt)
    {
      g_autofree char *dev = vk_xml_prop (tgt, "dev");
      if (!vk_validate_ifname ("--tap", dev, NULL))
        return refuse (w, _("NIC TAP device"), dev, _("is not a valid interface name"));
    }
  g_autofree char *br = vk_xml_child_prop (n, "source", "bridge");
  if (br && !vk_validate_ifname ("--bridge", br, NULL))
    return refuse (w, _("NIC bridge"), br, _("is not a valid interface name"));
  (void) mac;
  return TRUE;
}

static gboolean
char_log (Walk *w, xmlNodePtr n, const char *kind, guint index)
{
  xmlNodePtr log = vk_xml_child (n, "log");
  if (log)
    {
      static const char *const log_attrs[] = { "append", NULL };
      keep_only (log, log_attrs);
      g_autofree char *leaf = g_strdup_printf ("%s-%s%u.log", w->name, kind, index);
      g_autofree char *path = g_build_filename (w->p->log_dir, leaf, NULL);
      xmlSetProp (log, BAD_CAST "file", BAD_CAST path);
    }
  return TRUE;
}

static gboolean
walk_chardev (Walk *w, xmlNodePtr n, guint index)
{
  const char *kind = (const char *) n->name;
  g_autofree char *type = vk_xml_prop (n, "type");
  xmlNodePtr src = vk_xml_child (n, "source");
  /* Of a <source>, only what the types below read and that names no host
   * path is kept; the paths are vmkeep's own. */
  static const char *const none[] = { NULL };
  if (g_strcmp0 (type, "pty") == 0)
    {
      keep_only (src, none);   /* the pty is assigned at start */
      return char_log (w, n, kind, index);
    }
  if (g_strcmp0 (type, "file") == 0)
    {
      static const char *const file_attrs[] = { "append", NULL };
      keep_only (src, file_attrs);
      g_autofree char *leaf = g_strdup_printf ("%s-%s%u.log", w->name, kind, index);
      g_autofree char *path = g_build_filename (w->p->log_dir, leaf, NULL);
      if (src == NULL)
        src = xmlNewChild (n, NULL, BAD_CAST "source", NULL);
      xmlSetProp (src, BAD_CAST "path", BAD_CAST path);
      return char_log (w, n, kind, index);
    }
  static const char *const harmless[] = { "null", "vc", "spicevmc", "spiceport", "qemu-vdagent",
                                          "dbus", NULL };
  if (in_list (type, harmless))
    {
      static const char *const channel_attrs[] = { "channel", NULL };
      keep_only (src, channel_attrs);   /* spiceport and dbus name a channel */
      return char_log (w, n, kind, index);
    }
  if (g_strcmp0 (type, "unix") == 0 && g_str_equal (kind, "channel"))
    {
      static const char *const unix_attrs[] = { "mode", NULL };
      keep_only (src, unix_attrs);   /* libvirt makes a path per VM (guest agent) */
      return char_log (w, n, kind, index);
    }
  g_autofree char *what = g_strdup_printf ("<%s type>", kind);
  return refuse (w, what, type,
                 _("connects to a host device, pipe, socket or port (only pty, file and null "
                   "character devices, and unix channels, come along)"));
}

static gboolean
walk_devices (Walk *w, xmlNodePtr devs)
{
  guint serial = 0, console = 0, channel = 0, parallel = 0;
  static const char *const plain[] = { "controller", "video", "memballoon", "watchdog", "panic",
                                       "iommu", "vsock", "hub", "sound", "crypto", NULL };
  static const char *const refused[] = { "hostdev", "filesystem", "shmem", "lease", "pstore",
                                         "smartcard", NULL };
  for (xmlNodePtr c = devs->children, next; c; c = next)
    {
      next = c->next;
      if (c->type != XML_ELEMENT_NODE)
        continue;
      const char *el = (const char *) c->name;
      g_autofree char *type = vk_xml_prop (c, "type");
      if (in_list (el, plain))
        continue;
      if (g_str_equal (el, "emulator"))
        {
          xmlChar *t = xmlNodeGetContent (c);
          g_autofree char *path = t ? g_strstrip (g_strdup ((const char *) t)) : NULL;
          xmlFree (t);
          if (!in_list (path, w->p->emulators))
            {
              if (w->p->emulators == NULL || w->p->emulators[0] == NULL)
                return refuse (w, _("<emulator>"), path, _("is not this host's QEMU"));
              xmlNodeSetContent (c, BAD_CAST w->p->emulators[0]);
            }
          else
            set_text (c, path);   /* the checked text only */
          continue;
        }
      if (in_list (el, refused))
        {
          g_autofree char *what = g_strdup_printf ("<%s>", el);
          return refuse (w, what, type,
                         _("passes a host resource to the guest, which an image cannot carry "
                           "(detach it before hibernating)"));
        }
      /* The walks below look at the first of repeated children, as
       * libvirt reads only the first: what it ignores today must not be
       * a host path a later libvirt reads. */
      static const char *const once[] = { "source", "target", "log", "backend", "driver", NULL };
      for (const char *const *o = once; *o; o++)
        if (count_children (c, *o) > 1)
          {
            g_autofree char *what = g_strdup_printf ("<%s>", el);
            g_autofree char *why = g_strdup_printf (_("has more than one <%s>; an image "
                                                      "carries one"), *o);
            return refuse (w, what, NULL, why);
          }
      gboolean ok = TRUE;
      if (g_str_equal (el, "disk"))
        ok = walk_disk (w, c);
      else if (g_str_equal (el, "interface"))
        ok = walk_interface (w, c);
      else if (g_str_equal (el, "serial"))
        ok = walk_chardev (w, c, serial++);
      else if (g_str_equal (el, "console"))
        ok = walk_chardev (w, c, console++);
      else if (g_str_equal (el, "channel"))
        ok = walk_chardev (w, c, channel++);
      else if (g_str_equal (el, "parallel"))
        ok = walk_chardev (w, c, parallel++);
      else if (g_str_equal (el, "input"))
        {
          static const char *const inputs[] = { "mouse", "keyboard", "tablet", NULL };
          if (!in_list (type, inputs))
            ok = refuse (w, _("<input type>"), type,
                         _("reads a host input device (only mouse, keyboard and tablet come "
                           "along)"));
          else
            drop_all (c, "source");   /* only host-device inputs have one */
        }
      else if (g_str_equal (el, "graphics"))
        {
          unset (c, "socket");
          for (xmlNodePtr l = c->children; l; l = l->next)
            if (is_el (l, "listen"))
              unset (l, "socket");
        }
      else if (g_str_equal (el, "audio"))
        {
          static const char *const audio[] = { "none", "spice", "dbus", NULL };
          if (!in_list (type, audio))
            ok = refuse (w, _("<audio type>"), type,
                         _("plays to or records from the host (only none, spice and dbus "
                           "come along)"));
        }
      else if (g_str_equal (el, "rng"))
        {
          xmlNodePtr be = vk_xml_child (c, "backend");
          g_autofree char *model = be ? vk_xml_prop (be, "model") : NULL;
          xmlChar *t = be ? xmlNodeGetContent (be) : NULL;
          g_autofree char *dev = t ? g_strstrip (g_strdup ((const char *) t)) : NULL;
          xmlFree (t);
          static const char *const rngs[] = { "/dev/urandom", "/dev/random", "/dev/hwrng", NULL };
          if (g_strcmp0 (model, "builtin") != 0 &&
              !(g_strcmp0 (model, "random") == 0 && (dev == NULL || *dev == '\0' || in_list (dev, rngs))))
            ok = refuse (w, _("RNG backend"), dev && *dev ? dev : model,
                         _("is not /dev/urandom, /dev/random, /dev/hwrng or builtin"));
          else
            {
              /* rebuilt from what was checked: the device as the only text,
               * no child elements (libvirt reads their text too) */
              static const char *const be_attrs[] = { "model", NULL };
              keep_only (be, be_attrs);
              set_text (be, g_strcmp0 (model, "random") == 0 && dev ? dev : "");
            }
        }
      else if (g_str_equal (el, "tpm"))
        {
          xmlNodePtr be = vk_xml_child (c, "backend");
          g_autofree char *bt = be ? vk_xml_prop (be, "type") : NULL;
          if (g_strcmp0 (bt, "emulator") != 0)
            ok = refuse (w, _("TPM backend"), bt, _("is not an emulated TPM"));
          else
            {
              unset (be, "persistent_state");
              drop_all (be, "source");   /* libvirt keeps TPM state per UUID */
            }
        }
      else if (g_str_equal (el, "memory"))
        {
          if (vk_xml_child (c, "source"))
            ok = refuse (w, _("<memory> device"), type, _("is backed by a host file or device"));
        }
      else if (g_str_equal (el, "redirdev"))
        {
          if (g_strcmp0 (type, "spicevmc") != 0)
            ok = refuse (w, _("<redirdev type>"), type, _("connects to a host socket"));
        }
      else
        ok = refuse (w, _("device"), el, _("is not one vmkeep lets an image carry"));
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* ---- <domain> --------------------------------------------------------- */

/* The value of the first `file` attribute anywhere below `n`. */
static char *
find_file_attr (xmlNodePtr n)
{
  for (xmlNodePtr c = n->children; c; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE)
        continue;
      if (xmlHasProp (c, BAD_CAST "file"))
        return vk_xml_prop (c, "file");
      char *deeper = find_file_attr (c);
      if (deeper)
        return deeper;
    }
  return NULL;
}

gboolean
vk_trust_domain_xml (xmlDocPtr doc, const VkTrustPolicy *policy, const char *source,
                     GError **error)
{
  Walk w = { policy, source, NULL, error };
  xmlNodePtr root = vk_domain_root (doc, error);
  if (root == NULL)
    return FALSE;
  g_autofree char *name = vk_domain_name (doc);
  if (name == NULL || !vk_validate_name ("domain name", name, NULL))
    return refuse (&w, _("name"), name, _("is missing or not a valid domain name"));
  w.name = name;
  g_autofree char *type = vk_xml_prop (root, "type");
  if (g_strcmp0 (type, "kvm") != 0 && g_strcmp0 (type, "qemu") != 0)
    return refuse (&w, _("type"), type, _("is not kvm or qemu"));
  unset (root, "id");
  if (!check_namespaces (&w, root))
    return FALSE;
  /* A security label in the image would choose whom QEMU runs as. */
  drop_all (root, "seclabel");
  static const char *const plain[] = {
    "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory",
    "currentMemory", "vcpu", "vcpus", "iothreads", "iothreadids", "defaultiothread", "cputune",
    "numatune", "memoryBacking", "features", "cpu", "clock", "on_poweroff", "on_reboot",
    "on_crash", "on_lockfailure", "pm", "perf", "keywrap", "launchSecurity", "memtune",
    "throttlegroups", NULL
  };
  for (xmlNodePtr c = root->children, next; c; c = next)
    {
      next = c->next;
      if (c->type != XML_ELEMENT_NODE)
        continue;
      const char *el = (const char *) c->name;
      if (in_list (el, plain))
        continue;
      if (g_str_equal (el, "blkiotune"))
        {
          /* weights of the other host's block devices */
          remove_node (c);
          continue;
        }
      if (g_str_equal (el, "resource"))
        {
          /* cgroup placement is this host's: libvirt's default partition */
          xmlNodePtr part = vk_xml_child (c, "partition");
          if (part)
            xmlNodeSetContent (part, BAD_CAST "/machine");
          continue;
        }
      if (g_str_equal (el, "sysinfo"))
        {
          /* fw_cfg entries may read a host file into the guest */
          g_autofree char *file = find_file_attr (c);
          if (file)
            return refuse (&w, _("<sysinfo> entry"), file, _("reads a host file into the guest"));
          continue;
        }
      if (g_str_equal (el, "os"))
        {
          if (!walk_os (&w, c))
            return FALSE;
          continue;
        }
      if (g_str_equal (el, "devices"))
        {
          if (!walk_devices (&w, c))
            return FALSE;
          continue;
        }
      return refuse (&w, _("element"), el, _("is not one vmkeep lets an image set"));
    }
  return TRUE;
}
