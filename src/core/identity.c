/* vmkeep — device identity of a domain, and canonical domain XML diffs
 * (see identity.h for what counts as identity and why). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>

#include "domain-xml.h"
#include "identity.h"
#include "vk-error.h"

static gboolean
streq0 (const char *a, const char *b)
{
  return g_strcmp0 (a, b) == 0;
}

static const char *
or_none (const char *s)
{
  return s != NULL ? s : _("(none)");
}

/* ---------------------------------------------------------------- freeing */

void
vk_identity_nic_free (VkIdentityNic *nic)
{
  if (nic == NULL)
    return;
  g_free (nic->mac);
  g_free (nic->model);
  g_free (nic->address);
  g_free (nic->tap);
  g_free (nic->source_type);
  g_free (nic->source);
  g_free (nic);
}

void
vk_identity_disk_free (VkIdentityDisk *disk)
{
  if (disk == NULL)
    return;
  g_free (disk->target);
  g_free (disk->bus);
  g_free (disk->device);
  g_free (disk->address);
  g_free (disk->path);
  g_free (disk->format);
  g_free (disk);
}

void
vk_identity_port_free (VkIdentityPort *port)
{
  if (port == NULL)
    return;
  g_free (port->model);
  g_free (port->address);
  g_free (port);
}

void
vk_identity_device_free (VkIdentityDevice *dev)
{
  if (dev == NULL)
    return;
  g_free (dev->description);
  g_free (dev->address);
  g_free (dev);
}

VkIdentity *
vk_identity_new (void)
{
  VkIdentity *id = g_new0 (VkIdentity, 1);

  id->nics = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_identity_nic_free);
  id->disks = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_identity_disk_free);
  id->ports = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_identity_port_free);
  id->devices = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_identity_device_free);
  return id;
}

void
vk_identity_free (VkIdentity *id)
{
  if (id == NULL)
    return;
  g_free (id->machine);
  g_clear_pointer (&id->nics, g_ptr_array_unref);
  g_clear_pointer (&id->disks, g_ptr_array_unref);
  g_clear_pointer (&id->ports, g_ptr_array_unref);
  g_clear_pointer (&id->devices, g_ptr_array_unref);
  g_free (id);
}

/* ------------------------------------------------------------- extraction */

static int
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Canonical text of a device's <address> (format in identity.h). */
static char *
address_string (xmlNodePtr dev)
{
  xmlNodePtr a = vk_xml_child (dev, "address");
  g_autofree char *type = NULL;
  g_autoptr(GPtrArray) parts = NULL;
  GString *s;
  guint d, b, sl, f;

  if (a == NULL)
    return NULL;
  type = vk_xml_prop (a, "type");
  if (streq0 (type, "pci") && vk_xml_get_pci_address (dev, &d, &b, &sl, &f))
    return g_strdup_printf ("%04x:%02x:%02x.%x", d, b, sl, f);
  if (streq0 (type, "drive"))
    {
      guint c = 0, bus = 0, t = 0, u = 0;

      vk_xml_prop_uint (a, "controller", &c);
      vk_xml_prop_uint (a, "bus", &bus);
      vk_xml_prop_uint (a, "target", &t);
      vk_xml_prop_uint (a, "unit", &u);
      return g_strdup_printf ("drive %u:%u:%u:%u", c, bus, t, u);
    }

  parts = g_ptr_array_new_with_free_func (g_free);
  for (xmlAttrPtr at = a->properties; at != NULL; at = at->next)
    {
      g_autofree char *v = NULL;

      if (xmlStrEqual (at->name, BAD_CAST "type"))
        continue;
      v = vk_xml_prop (a, (const char *) at->name);
      g_ptr_array_add (parts, g_strdup_printf ("%s=%s", at->name, v ? v : ""));
    }
  g_ptr_array_sort (parts, cmp_str);
  s = g_string_new (type != NULL ? type : "address");
  for (guint i = 0; i < parts->len; i++)
    g_string_append_printf (s, " %s", (const char *) parts->pdata[i]);
  return g_string_free (s, FALSE);
}

static gboolean
child_prop_uint (xmlNodePtr n, const char *child, const char *name, guint *out)
{
  xmlNodePtr c = vk_xml_child (n, child);

  return c != NULL && vk_xml_prop_uint (c, name, out);
}

static VkIdentityNic *
nic_from_xml (xmlNodePtr n)
{
  VkIdentityNic *nic = g_new0 (VkIdentityNic, 1);
  g_autofree char *mac = vk_xml_child_prop (n, "mac", "address");
  xmlNodePtr src = vk_xml_child (n, "source");
  guint v;

  nic->mac = mac != NULL ? g_ascii_strdown (mac, -1) : NULL;
  nic->model = vk_xml_child_prop (n, "model", "type");
  if (child_prop_uint (n, "driver", "queues", &v))
    nic->queues = v;
  nic->address = address_string (n);
  nic->acpi_index = child_prop_uint (n, "acpi", "index", &v) ? (int) v : -1;
  nic->tap = vk_xml_child_prop (n, "target", "dev");
  nic->source_type = vk_xml_prop (n, "type");
  if (streq0 (nic->source_type, "hostdev"))
    nic->source = address_string (src);
  else
    {
      /* network first: live XML of a network NIC names its bridge too. */
      static const char *const attrs[] = { "network", "bridge", "dev", "path",
                                           "name" };
      for (gsize i = 0; i < G_N_ELEMENTS (attrs) && nic->source == NULL; i++)
        nic->source = vk_xml_prop (src, attrs[i]);
    }
  return nic;
}

static VkIdentityDisk *
disk_from_xml (xmlNodePtr n)
{
  VkIdentityDisk *disk = g_new0 (VkIdentityDisk, 1);
  xmlNodePtr src = vk_xml_child (n, "source");
  g_autofree char *pool = vk_xml_prop (src, "pool");
  g_autofree char *volume = vk_xml_prop (src, "volume");

  disk->target = vk_xml_child_prop (n, "target", "dev");
  disk->bus = vk_xml_child_prop (n, "target", "bus");
  disk->device = vk_xml_prop (n, "device");
  if (disk->device == NULL)
    disk->device = g_strdup ("disk"); /* libvirt's default */
  disk->address = address_string (n);
  disk->readonly = vk_xml_child (n, "readonly") != NULL;
  if (pool != NULL && volume != NULL)
    disk->path = g_strdup_printf ("%s/%s", pool, volume);
  else
    {
      static const char *const attrs[] = { "file", "dev", "dir", "name" };
      for (gsize i = 0; i < G_N_ELEMENTS (attrs) && disk->path == NULL; i++)
        disk->path = vk_xml_prop (src, attrs[i]);
    }
  disk->format = vk_xml_child_prop (n, "driver", "type");
  return disk;
}

/* Stable across live and inactive XML, so never the alias. */
static char *
describe_device (xmlNodePtr n)
{
  const char *name = (const char *) n->name;
  GString *s = g_string_new (name);
  g_autofree char *type = vk_xml_prop (n, "type");
  g_autofree char *model = NULL;

  if (g_str_equal (name, "serial") || g_str_equal (name, "console"))
    {
      /* Whether it is a pty or a file is host side; the PCI card is not. */
      g_autofree char *tt = vk_xml_child_prop (n, "target", "type");
      g_string_append_printf (s, " %s", tt != NULL ? tt : "?");
      return g_string_free (s, FALSE);
    }
  if (type != NULL && !g_str_equal (name, "hostdev"))
    g_string_append_printf (s, " %s", type);
  if (g_str_equal (name, "controller"))
    {
      g_autofree char *index = vk_xml_prop (n, "index");
      g_string_append_printf (s, " %s", index != NULL ? index : "0");
    }
  model = vk_xml_prop (n, "model");
  if (model == NULL)
    model = vk_xml_child_prop (n, "model", "type");
  if (model != NULL)
    g_string_append_printf (s, " %s", model);
  if (g_str_equal (name, "input"))
    {
      g_autofree char *bus = vk_xml_prop (n, "bus");
      if (bus != NULL)
        g_string_append_printf (s, " %s", bus);
    }
  else if (g_str_equal (name, "filesystem"))
    {
      g_autofree char *tag = vk_xml_child_prop (n, "target", "dir");
      g_string_append_printf (s, " %s", tag != NULL ? tag : "?");
    }
  else if (g_str_equal (name, "hostdev"))
    {
      g_autofree char *host = address_string (vk_xml_child (n, "source"));
      g_string_append_printf (s, " %s", host != NULL ? host : "?");
    }
  else if (g_str_equal (name, "shmem"))
    {
      g_autofree char *shm = vk_xml_prop (n, "name");
      if (shm != NULL)
        g_string_append_printf (s, " %s", shm);
    }
  return g_string_free (s, FALSE);
}

static gboolean
is_pci_address (xmlNodePtr dev)
{
  g_autofree char *type = vk_xml_child_prop (dev, "address", "type");

  return streq0 (type, "pci");
}

VkIdentity *
vk_identity_from_domain (xmlDocPtr doc, GError **error)
{
  g_autoptr(VkIdentity) id = NULL;
  xmlNodePtr root;
  xmlNodePtr devs;

  g_return_val_if_fail (doc != NULL, NULL);

  root = vk_domain_root (doc, error);
  if (root == NULL)
    return NULL;
  id = vk_identity_new ();
  id->machine = vk_xml_child_prop (vk_xml_child (root, "os"), "type", "machine");

  devs = vk_xml_child (root, "devices");
  for (xmlNodePtr n = devs ? devs->children : NULL; n != NULL; n = n->next)
    {
      const char *name;

      if (n->type != XML_ELEMENT_NODE)
        continue;
      name = (const char *) n->name;
      if (g_str_equal (name, "interface"))
        g_ptr_array_add (id->nics, nic_from_xml (n));
      else if (g_str_equal (name, "disk"))
        g_ptr_array_add (id->disks, disk_from_xml (n));
      else if (g_str_equal (name, "controller"))
        {
          g_autofree char *type = vk_xml_prop (n, "type");
          g_autofree char *model = vk_xml_prop (n, "model");
          guint index = 0;

          /* The root bus itself has no address and cannot move. */
          if (streq0 (type, "pci") &&
              !streq0 (model, "pci-root") && !streq0 (model, "pcie-root"))
            {
              VkIdentityPort *port = g_new0 (VkIdentityPort, 1);
              guint v;

              vk_xml_prop_uint (n, "index", &index);
              port->index = index;
              port->model = g_strdup (model);
              port->address = address_string (n);
              port->chassis = child_prop_uint (n, "target", "chassis", &v) ? (int) v : -1;
              port->port = child_prop_uint (n, "target", "port", &v) ? (int) v : -1;
              g_ptr_array_add (id->ports, port);
            }
          else if (is_pci_address (n))
            {
              VkIdentityDevice *dev = g_new0 (VkIdentityDevice, 1);
              dev->description = describe_device (n);
              dev->address = address_string (n);
              g_ptr_array_add (id->devices, dev);
            }
        }
      else if (is_pci_address (n))
        {
          VkIdentityDevice *dev = g_new0 (VkIdentityDevice, 1);
          dev->description = describe_device (n);
          dev->address = address_string (n);
          g_ptr_array_add (id->devices, dev);
        }
    }
  return g_steal_pointer (&id);
}

/* -------------------------------------------------------------- comparing */

static void
add_line (GPtrArray *out, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
add_line (GPtrArray *out, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  g_ptr_array_add (out, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

/* Non-PCI addresses keep the word "address" so a line never claims a
 * drive address is a PCI one. */
static gboolean
looks_pci (const char *addr)
{
  return addr == NULL || (strlen (addr) == 12 && addr[4] == ':');
}

static void
diff_address (GPtrArray *out, const char *who, const char *a, const char *b)
{
  if (streq0 (a, b))
    return;
  if (looks_pci (a) && looks_pci (b))
    add_line (out, _("%s: PCI address %s -> %s"), who, or_none (a), or_none (b));
  else
    add_line (out, _("%s: address %s -> %s"), who, or_none (a), or_none (b));
}

static void
diff_field (GPtrArray *out, const char *who, const char *field, const char *a,
            const char *b)
{
  if (!streq0 (a, b))
    add_line (out, "%s: %s %s -> %s", who, field, or_none (a), or_none (b));
}

static char *
int_or_null (int v)
{
  return v >= 0 ? g_strdup_printf ("%d", v) : NULL;
}

typedef gboolean (*PairFunc) (gconstpointer e, gconstpointer a);

/* Pairs each unpaired element of `exp` with the first unpaired element of
 * `act` for which `same` holds. pair[i] is the index in `act` or -1. */
static void
pair_up (GPtrArray *exp, GPtrArray *act, PairFunc same, int *pair,
         gboolean *used)
{
  for (guint i = 0; i < exp->len; i++)
    {
      if (pair[i] >= 0)
        continue;
      for (guint j = 0; j < act->len; j++)
        if (!used[j] && same (exp->pdata[i], act->pdata[j]))
          {
            pair[i] = (int) j;
            used[j] = TRUE;
            break;
          }
    }
}

/* How one list of the identity (NICs, disks, ...) is compared by
 * compare_list. */
typedef struct
{
  /* Elements are paired by `same_key` first, then what is left by
   * `same_address`: same slot, different key is one changed element, not
   * one lost + one new. */
  PairFunc same_key;
  PairFunc same_address;
  /* How lines name an element ("NIC 52:54:00:..."); an element without
   * a partner reads "<name>: missing" or "<name>: added". */
  char *(*name) (gconstpointer element);
  /* The lines for what differs between partners; `by_address`: they were
   * only paired by their address (the key changed). */
  void (*changed) (GPtrArray *out, gconstpointer e, gconstpointer a,
                   gboolean by_address);
} ListCompare;

/* Lines for `exp` against `act`, in the order of `exp`, then what `act`
 * has in addition. */
static void
compare_list (GPtrArray *out, GPtrArray *exp, GPtrArray *act,
              const ListCompare *how)
{
  g_autofree int *pair = g_new (int, exp->len + 1);
  g_autofree gboolean *used = g_new0 (gboolean, act->len + 1);
  g_autofree gboolean *by_address = g_new0 (gboolean, exp->len + 1);

  for (guint i = 0; i < exp->len; i++)
    pair[i] = -1;
  pair_up (exp, act, how->same_key, pair, used);
  for (guint i = 0; i < exp->len; i++)
    by_address[i] = pair[i] < 0;
  pair_up (exp, act, how->same_address, pair, used);

  for (guint i = 0; i < exp->len; i++)
    if (pair[i] < 0)
      {
        g_autofree char *who = how->name (exp->pdata[i]);
        add_line (out, _("%s: missing"), who);
      }
    else
      how->changed (out, exp->pdata[i], act->pdata[pair[i]], by_address[i]);
  for (guint j = 0; j < act->len; j++)
    if (!used[j])
      {
        g_autofree char *who = how->name (act->pdata[j]);
        add_line (out, _("%s: added"), who);
      }
}

/* diff_field for optional integers (-1: not set). */
static void
diff_optional_int (GPtrArray *out, const char *who, const char *field, int a,
                   int b)
{
  g_autofree char *x = NULL;
  g_autofree char *y = NULL;

  if (a == b)
    return;
  x = int_or_null (a);
  y = int_or_null (b);
  diff_field (out, who, field, x, y);
}

static gboolean
nic_same_mac (gconstpointer e, gconstpointer a)
{
  const VkIdentityNic *x = e, *y = a;
  return streq0 (x->mac, y->mac);
}

static gboolean
nic_same_address (gconstpointer e, gconstpointer a)
{
  const VkIdentityNic *x = e, *y = a;
  return x->address != NULL && streq0 (x->address, y->address);
}

static guint
effective_queues (guint q)
{
  return q == 0 ? 1 : q;
}

static char *
nic_name (gconstpointer n)
{
  return g_strdup_printf (_("NIC %s"), or_none (((const VkIdentityNic *) n)->mac));
}

static void
nic_changed (GPtrArray *out, gconstpointer exp, gconstpointer act,
             gboolean by_address)
{
  const VkIdentityNic *e = exp, *a = act;
  g_autofree char *who = NULL;

  if (by_address)
    {
      who = g_strdup_printf (_("NIC at %s"), e->address);
      diff_field (out, who, _("MAC"), e->mac, a->mac);
    }
  else
    who = nic_name (e);

  diff_field (out, who, _("model"), e->model, a->model);
  if (effective_queues (e->queues) != effective_queues (a->queues))
    add_line (out, _("%s: queues %u -> %u"), who,
              effective_queues (e->queues), effective_queues (a->queues));
  diff_address (out, who, e->address, a->address);
  diff_optional_int (out, who, _("ACPI index"), e->acpi_index, a->acpi_index);
}

static const ListCompare nic_compare = {
  nic_same_mac, nic_same_address, nic_name, nic_changed,
};

static gboolean
disk_same_target (gconstpointer e, gconstpointer a)
{
  const VkIdentityDisk *x = e, *y = a;
  return streq0 (x->target, y->target);
}

static gboolean
disk_same_address (gconstpointer e, gconstpointer a)
{
  const VkIdentityDisk *x = e, *y = a;
  return x->address != NULL && streq0 (x->address, y->address);
}

static const char *
yes_no (gboolean b)
{
  return b ? _("yes") : _("no");
}

static char *
disk_name (gconstpointer d)
{
  return g_strdup_printf (_("disk %s"), or_none (((const VkIdentityDisk *) d)->target));
}

static void
disk_changed (GPtrArray *out, gconstpointer exp, gconstpointer act,
              gboolean by_address)
{
  const VkIdentityDisk *e = exp, *a = act;
  g_autofree char *who = NULL;

  if (by_address)
    {
      who = g_strdup_printf (_("disk at %s"), e->address);
      diff_field (out, who, _("target"), e->target, a->target);
    }
  else
    who = disk_name (e);
  diff_field (out, who, _("bus"), e->bus, a->bus);
  diff_field (out, who, _("device"), e->device, a->device);
  diff_address (out, who, e->address, a->address);
  if (e->readonly != a->readonly)
    diff_field (out, who, _("read-only"), yes_no (e->readonly),
                yes_no (a->readonly));
}

static const ListCompare disk_compare = {
  disk_same_target, disk_same_address, disk_name, disk_changed,
};

static gboolean
port_same_index (gconstpointer e, gconstpointer a)
{
  const VkIdentityPort *x = e, *y = a;
  return x->index == y->index;
}

static gboolean
port_same_address (gconstpointer e, gconstpointer a)
{
  const VkIdentityPort *x = e, *y = a;
  return x->address != NULL && streq0 (x->address, y->address);
}

static char *
port_name (gconstpointer element)
{
  const VkIdentityPort *p = element;
  return g_strdup_printf ("%s %u", p->model != NULL ? p->model : "controller pci",
                          p->index);
}

static void
port_changed (GPtrArray *out, gconstpointer exp, gconstpointer act,
              gboolean by_address)
{
  const VkIdentityPort *e = exp, *a = act;
  g_autofree char *who = NULL;

  if (by_address)
    {
      who = g_strdup_printf (_("%s at %s"),
                             e->model != NULL ? e->model : "controller pci",
                             e->address);
      add_line (out, _("%s: index %u -> %u"), who, e->index, a->index);
    }
  else
    who = port_name (e);
  diff_field (out, who, _("model"), e->model, a->model);
  diff_address (out, who, e->address, a->address);
  diff_optional_int (out, who, _("chassis"), e->chassis, a->chassis);
  diff_optional_int (out, who, _("port"), e->port, a->port);
}

static const ListCompare port_compare = {
  port_same_index, port_same_address, port_name, port_changed,
};

static gboolean
dev_same_place (gconstpointer e, gconstpointer a)
{
  const VkIdentityDevice *x = e, *y = a;
  return streq0 (x->description, y->description) && streq0 (x->address, y->address);
}

static gboolean
dev_same_kind (gconstpointer e, gconstpointer a)
{
  const VkIdentityDevice *x = e, *y = a;
  return streq0 (x->description, y->description);
}

static char *
dev_name (gconstpointer element)
{
  const VkIdentityDevice *d = element;
  return g_strdup_printf (_("%s at %s"), d->description, or_none (d->address));
}

static void
dev_changed (GPtrArray *out, gconstpointer exp, gconstpointer act,
             gboolean by_address)
{
  const VkIdentityDevice *e = exp, *a = act;
  diff_address (out, e->description, e->address, a->address);
}

/* Descriptions need not be unique (two virtio rngs): devices that kept
 * their place are taken out first, so what is left over really moved. */
static const ListCompare dev_compare = {
  dev_same_place, dev_same_kind, dev_name, dev_changed,
};

GPtrArray *
vk_identity_compare (const VkIdentity *expected, const VkIdentity *actual)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  g_return_val_if_fail (expected != NULL && actual != NULL, out);

  if (!streq0 (expected->machine, actual->machine))
    add_line (out, _("machine type %s -> %s"), or_none (expected->machine),
              or_none (actual->machine));
  compare_list (out, expected->nics, actual->nics, &nic_compare);
  compare_list (out, expected->disks, actual->disks, &disk_compare);
  compare_list (out, expected->ports, actual->ports, &port_compare);
  compare_list (out, expected->devices, actual->devices, &dev_compare);
  return out;
}

/* ---------------------------------------------------- canonical XML diff */

void
vk_xml_difference_free (VkXmlDifference *d)
{
  if (d == NULL)
    return;
  g_free (d->path);
  g_free (d->before);
  g_free (d->after);
  g_free (d->text);
  g_free (d);
}

/* Schema paths: element names from the root, "/@attr" for an attribute,
 * "/#text" for text. A rule covers its path and everything below it. The
 * table is the invariant's list of what a clone may change (identity.h
 * explains each entry); everything else is identity. */
static const struct {
  const char *path;
  const char *rule;
} allowed_rules[] = {
  { "/domain/name", N_("name") },
  { "/domain/uuid", N_("UUID") },
  { "/domain/devices/disk/source", N_("disk source path") },
  { "/domain/devices/disk/backingStore", N_("disk source path") },
  { "/domain/devices/disk/driver/@type", N_("disk format") },
  { "/domain/devices/interface/target", N_("TAP device") },
  { "/domain/devices/interface/@type", N_("NIC host side") },
  { "/domain/devices/interface/source", N_("NIC host side") },
  { "/domain/devices/interface/virtualport", N_("NIC host side") },
  { "/domain/devices/serial/source/@path", N_("character device path") },
  { "/domain/devices/console/source/@path", N_("character device path") },
  { "/domain/devices/channel/source/@path", N_("character device path") },
  { "/domain/devices/serial/log", N_("character device path") },
  { "/domain/devices/console/log", N_("character device path") },
  { "/domain/devices/console/@tty", N_("character device path") },
  { "/domain/os/nvram/#text", N_("NVRAM path") },
  { "/domain/os/nvram/source", N_("NVRAM path") },
  { "/domain/devices/tpm/backend/source", N_("TPM state path") },
  { "/domain/devices/tpm/backend/device/@path", N_("TPM state path") },
};

static const char *
rule_for (const char *schema)
{
  for (gsize i = 0; i < G_N_ELEMENTS (allowed_rules); i++)
    {
      const char *p = allowed_rules[i].path;
      gsize n = strlen (p);

      if (strncmp (schema, p, n) == 0 && (schema[n] == '\0' || schema[n] == '/'))
        return allowed_rules[i].rule;
    }
  return NULL;
}

/* Live-XML-only elements (identity.h: "Ignored"). <label>, <imagelabel>
 * and <baselabel> only occur inside <seclabel> there; a bare <label> is
 * guest-visible elsewhere (nvdimm), so it is not ignored on its own. */
static gboolean
ignored_element (xmlNodePtr n)
{
  return xmlStrEqual (n->name, BAD_CAST "alias") ||
         xmlStrEqual (n->name, BAD_CAST "seclabel");
}

static gboolean
ignored_attr (xmlNodePtr elem, const char *schema, const char *attr)
{
  if (g_str_equal (schema, "/domain"))
    return g_str_equal (attr, "id");
  if (g_str_equal (schema, "/domain/devices/channel/target"))
    return g_str_equal (attr, "state");
  if (g_str_equal (schema, "/domain/devices/graphics") &&
      (g_str_equal (attr, "port") || g_str_equal (attr, "tlsPort") ||
       g_str_equal (attr, "websocket")))
    {
      g_autofree char *autoport = vk_xml_prop (elem, "autoport");
      return streq0 (autoport, "yes");
    }
  return FALSE;
}

static char *
attr_name (xmlAttrPtr at)
{
  if (at->ns != NULL && at->ns->prefix != NULL)
    return g_strdup_printf ("%s:%s", at->ns->prefix, at->name);
  return g_strdup ((const char *) at->name);
}

static char *
attr_value (xmlAttrPtr at)
{
  xmlChar *v = xmlNodeListGetString (at->doc, at->children, 1);
  char *out = g_strdup (v != NULL ? (const char *) v : "");
  xmlFree (v);
  return out;
}

/* Attributes that count, name -> value. */
static GHashTable *
attrs_of (xmlNodePtr n, const char *schema)
{
  GHashTable *h = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (n == NULL)
    return h;
  for (xmlAttrPtr at = n->properties; at != NULL; at = at->next)
    {
      g_autofree char *name = attr_name (at);
      if (!ignored_attr (n, schema, name))
        g_hash_table_insert (h, g_steal_pointer (&name), attr_value (at));
    }
  return h;
}

/* The element's own text, trimmed; NULL when it has none. */
static char *
text_of (xmlNodePtr n)
{
  GString *s = g_string_new (NULL);

  for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next)
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)
      g_string_append (s, (const char *) c->content);
  g_strstrip (s->str);
  if (s->str[0] == '\0')
    {
      g_string_free (s, TRUE);
      return NULL;
    }
  /* g_strstrip moved the text to the start of the buffer in place. */
  return g_string_free (s, FALSE);
}

static gboolean
parse_number (const char *s, guint64 *out)
{
  char *end = NULL;

  if (s == NULL || !g_ascii_isdigit (s[0]))
    return FALSE;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    *out = g_ascii_strtoull (s + 2, &end, 16);
  else
    *out = g_ascii_strtoull (s, &end, 10);
  return end != NULL && *end == '\0' && end != s;
}

/* <address> numbers are written "0x03" by libvirt but "3" is the same
 * slot, and a MAC is the same in either case. Elsewhere "0123" and "123"
 * may well differ (disk serials), so only these two are normalised. */
static gboolean
values_equal (xmlNodePtr elem, const char *attr, const char *a, const char *b)
{
  guint64 x, y;

  if (streq0 (a, b))
    return TRUE;
  if (a == NULL || b == NULL || elem == NULL)
    return FALSE;
  if (xmlStrEqual (elem->name, BAD_CAST "mac") && g_str_equal (attr, "address"))
    return g_ascii_strcasecmp (a, b) == 0;
  if (!xmlStrEqual (elem->name, BAD_CAST "address"))
    return FALSE;
  return parse_number (a, &x) && parse_number (b, &y) && x == y;
}

typedef struct {
  GPtrArray *allowed;
  GPtrArray *identity;
} DiffCtx;

static void
add_diff (DiffCtx *c, const char *path, const char *rule, const char *before,
          const char *after, char *text)
{
  VkXmlDifference *d = g_new0 (VkXmlDifference, 1);

  d->path = g_strdup (path);
  d->before = g_strdup (before);
  d->after = g_strdup (after);
  d->rule = rule;
  d->text = text;
  g_ptr_array_add (rule != NULL ? c->allowed : c->identity, d);
}

static void
add_value_diff (DiffCtx *c, const char *path, const char *schema,
                const char *before, const char *after)
{
  add_diff (c, path, rule_for (schema), before, after,
            g_strdup_printf ("%s: %s -> %s", path,
                             before != NULL ? before : _("(absent)"),
                             after != NULL ? after : _("(absent)")));
}

/* Key of a child among its siblings: list elements by what identifies
 * them, the rest by name (made unique by position in key_children). */
static char *
base_key (xmlNodePtr n, const char *schema)
{
  const char *name = (const char *) n->name;
  g_autofree char *k = NULL;

  if (g_str_equal (schema, "/domain/devices"))
    {
      if (g_str_equal (name, "interface"))
        k = vk_xml_child_prop (n, "mac", "address");
      else if (g_str_equal (name, "disk"))
        k = vk_xml_child_prop (n, "target", "dev");
      else if (g_str_equal (name, "filesystem"))
        k = vk_xml_child_prop (n, "target", "dir");
      else if (g_str_equal (name, "controller"))
        {
          g_autofree char *type = vk_xml_prop (n, "type");
          g_autofree char *index = vk_xml_prop (n, "index");
          k = g_strdup_printf ("%s %s", type ? type : "?", index ? index : "0");
        }
      if (k != NULL && g_str_equal (name, "interface"))
        {
          char *low = g_ascii_strdown (k, -1);
          g_free (k);
          k = low;
        }
    }
  else if (g_str_equal (schema, "/domain/cpu") && g_str_equal (name, "feature"))
    k = vk_xml_prop (n, "name");
  else if (g_str_equal (schema, "/domain/vcpus") && g_str_equal (name, "vcpu"))
    k = vk_xml_prop (n, "id");

  if (n->ns != NULL && n->ns->href != NULL)
    {
      /* Metadata elements of different applications may share a name. */
      g_autofree char *qual = g_strdup_printf ("{%s}%s", n->ns->href, name);
      return k != NULL ? g_strdup_printf ("%s[%s]", qual, k) : g_steal_pointer (&qual);
    }
  return k != NULL ? g_strdup_printf ("%s[%s]", name, k) : g_strdup (name);
}

typedef struct {
  char *key;     /* unique among siblings */
  char *label;   /* path component shown to users */
  xmlNodePtr node;
} Child;

static void
child_free (Child *ch)
{
  g_free (ch->key);
  g_free (ch->label);
  g_free (ch);
}

static GPtrArray *
key_children (xmlNodePtr n, const char *schema)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) child_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  /* the keys handed out: a count suffix may spell another child's key
   * (the 5th keyless NIC and the NIC whose MAC reads "5") */
  g_autoptr(GHashTable) taken = g_hash_table_new (g_str_hash, g_str_equal);

  for (xmlNodePtr c = n ? n->children : NULL; c != NULL; c = c->next)
    {
      g_autofree char *base = NULL;
      Child *ch;
      guint count;

      if (c->type != XML_ELEMENT_NODE || ignored_element (c))
        continue;
      base = base_key (c, schema);
      count = GPOINTER_TO_UINT (g_hash_table_lookup (seen, base)) + 1;
      ch = g_new0 (Child, 1);
      ch->node = c;
      ch->key = count == 1 ? g_strdup (base) : g_strdup_printf ("%s[%u]", base, count);
      while (g_hash_table_contains (taken, ch->key))
        {
          g_free (ch->key);
          ch->key = g_strdup_printf ("%s[%u]", base, ++count);
        }
      g_hash_table_insert (seen, g_strdup (base), GUINT_TO_POINTER (count));
      g_hash_table_add (taken, ch->key);
      /* The namespace is part of the key, not of what users read. */
      if (c->ns != NULL && c->ns->href != NULL)
        {
          const char *close = strchr (ch->key, '}');
          ch->label = g_strdup (close != NULL ? close + 1 : ch->key);
        }
      else
        ch->label = g_strdup (ch->key);
      g_ptr_array_add (out, ch);
    }
  return out;
}

/* For an element present on one side only: the rule that allows all of
 * it, or NULL when something in it is identity. An element with nothing
 * inside is allowed only when its own path is. */
static const char *
subtree_rule (xmlNodePtr n, const char *schema)
{
  const char *rule = rule_for (schema);
  const char *first = NULL;
  g_autoptr(GHashTable) attrs = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) kids = NULL;
  GHashTableIter it;
  gpointer key;

  if (rule != NULL)
    return rule;

  attrs = attrs_of (n, schema);
  g_hash_table_iter_init (&it, attrs);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      g_autofree char *s = g_strdup_printf ("%s/@%s", schema, (const char *) key);
      const char *r = rule_for (s);
      if (r == NULL)
        return NULL;
      first = first ? first : r;
    }
  text = text_of (n);
  if (text != NULL)
    {
      g_autofree char *s = g_strdup_printf ("%s/#text", schema);
      const char *r = rule_for (s);
      if (r == NULL)
        return NULL;
      first = first ? first : r;
    }
  kids = key_children (n, schema);
  for (guint i = 0; i < kids->len; i++)
    {
      Child *ch = kids->pdata[i];
      g_autofree char *s = g_strdup_printf ("%s/%s", schema, ch->node->name);
      const char *r = subtree_rule (ch->node, s);
      if (r == NULL)
        return NULL;
      first = first ? first : r;
    }
  return first;
}

static char *
node_text (xmlNodePtr n)
{
  xmlBufferPtr buf = xmlBufferCreate ();
  char *out;

  xmlNodeDump (buf, n->doc, n, 0, 0);
  out = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return out;
}

static void
diff_elements (DiffCtx *c, xmlNodePtr a, xmlNodePtr b, const char *path,
               const char *schema)
{
  g_autoptr(GHashTable) aa = attrs_of (a, schema);
  g_autoptr(GHashTable) ba = attrs_of (b, schema);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autofree char *at = text_of (a);
  g_autofree char *bt = text_of (b);
  g_autoptr(GPtrArray) ak = key_children (a, schema);
  g_autoptr(GPtrArray) bk = key_children (b, schema);
  g_autoptr(GHashTable) bidx = g_hash_table_new (g_str_hash, g_str_equal);
  g_autofree gboolean *bused = g_new0 (gboolean, bk->len + 1);
  GHashTableIter it;
  gpointer key;

  /* Attributes, in name order so the output does not depend on the order
   * they were written in. */
  g_hash_table_iter_init (&it, aa);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (names, key);
  g_hash_table_iter_init (&it, ba);
  while (g_hash_table_iter_next (&it, &key, NULL))
    if (!g_hash_table_contains (aa, key))
      g_ptr_array_add (names, key);
  g_ptr_array_sort (names, cmp_str);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      const char *va = g_hash_table_lookup (aa, name);
      const char *vb = g_hash_table_lookup (ba, name);

      if (!values_equal (a, name, va, vb))
        {
          g_autofree char *p = g_strdup_printf ("%s/@%s", path, name);
          g_autofree char *s = g_strdup_printf ("%s/@%s", schema, name);
          add_value_diff (c, p, s, va, vb);
        }
    }

  if (!streq0 (at, bt))
    {
      g_autofree char *s = g_strdup_printf ("%s/#text", schema);
      add_value_diff (c, path, s, at, bt);
    }

  for (guint j = 0; j < bk->len; j++)
    g_hash_table_insert (bidx, ((Child *) bk->pdata[j])->key, GUINT_TO_POINTER (j + 1));
  for (guint i = 0; i < ak->len; i++)
    {
      Child *ch = ak->pdata[i];
      guint j = GPOINTER_TO_UINT (g_hash_table_lookup (bidx, ch->key));
      g_autofree char *p = g_strdup_printf ("%s/%s", path, ch->label);
      g_autofree char *s = g_strdup_printf ("%s/%s", schema, ch->node->name);

      if (j > 0)
        {
          bused[j - 1] = TRUE;
          diff_elements (c, ch->node, ((Child *) bk->pdata[j - 1])->node, p, s);
        }
      else
        {
          g_autofree char *xml = node_text (ch->node);
          add_diff (c, p, subtree_rule (ch->node, s), xml, NULL,
                    g_strdup_printf (_("%s: removed"), p));
        }
    }
  for (guint j = 0; j < bk->len; j++)
    {
      Child *ch = bk->pdata[j];
      g_autofree char *p = NULL;
      g_autofree char *s = NULL;
      g_autofree char *xml = NULL;

      if (bused[j])
        continue;
      p = g_strdup_printf ("%s/%s", path, ch->label);
      s = g_strdup_printf ("%s/%s", schema, ch->node->name);
      xml = node_text (ch->node);
      add_diff (c, p, subtree_rule (ch->node, s), NULL, xml,
                g_strdup_printf (_("%s: added"), p));
    }
}

gboolean
vk_domain_xml_diff (xmlDocPtr a, xmlDocPtr b, GPtrArray **allowed,
                    GPtrArray **identity, GError **error)
{
  g_autoptr(GPtrArray) al = NULL;
  g_autoptr(GPtrArray) id = NULL;
  xmlNodePtr ra, rb;
  DiffCtx c;

  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  ra = vk_domain_root (a, error);
  if (ra == NULL)
    return FALSE;
  rb = vk_domain_root (b, error);
  if (rb == NULL)
    return FALSE;

  al = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_xml_difference_free);
  id = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_xml_difference_free);
  c.allowed = al;
  c.identity = id;
  diff_elements (&c, ra, rb, "/domain", "/domain");

  if (allowed != NULL)
    *allowed = g_steal_pointer (&al);
  if (identity != NULL)
    *identity = g_steal_pointer (&id);
  return TRUE;
}
