#include "config.h"

#include <glib/gi18n.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>

#include "domain-xml.h"
#include "virt-private.h"
#include "vk-error.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virConnect, virConnectClose)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virNetwork, virNetworkFree)


/* libvirt prints every error to stderr by default; vmkeep reports each
 * failure once, from main(). */
static void
quiet_libvirt (void *data, virErrorPtr err)
{
}

static int
code_for (int vir_code)
{
  switch (vir_code)
    {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_NETWORK:
    case VIR_ERR_NO_STORAGE_POOL:
    case VIR_ERR_NO_STORAGE_VOL:
    case VIR_ERR_NO_DOMAIN_SNAPSHOT:
    case VIR_ERR_NO_NODE_DEVICE:
      return VK_ERROR_NOT_FOUND;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_INVALID_ARG:
      return VK_ERROR_USAGE;
    default:
      return VK_ERROR_FAILED;
    }
}

/* Turn libvirt's last error into a GError prefixed with what we tried. */
gboolean
vk_vir_fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  virErrorPtr e = virGetLastError ();
  int code = e ? code_for (e->code) : VK_ERROR_FAILED;
  const char *why = e && e->message ? e->message : _("unknown libvirt error");
  /* libvirtd went away (killed, restarted, a closed ssh): what it did with
   * the request is unknown, and the message says so rather than blame
   * the request */
  if (e && (e->domain == VIR_FROM_RPC || e->code == VIR_ERR_NO_CONNECT ||
            e->code == VIR_ERR_INVALID_CONN))
    g_set_error (error, VK_ERROR, VK_ERROR_FAILED,
                 _("%s: the connection to libvirtd was lost (%s); once libvirtd runs again, "
                   "'vmkeep recover --apply' finishes what this run left"), what, why);
  else
    g_set_error (error, VK_ERROR, code, "%s: %s", what, why);
  virResetLastError ();
  return FALSE;
}

gboolean
vk_conn_is_alive (VkConn *vc)
{
  return virConnectIsAlive (vc->conn) == 1;
}

char *
vk_vir_string (char *s)
{
  char *out = g_strdup (s);

  free (s);
  return out;
}

gboolean
vk_conn_open (const char *uri, VkConn **out, GError **error)
{
  virSetErrorFunc (NULL, quiet_libvirt);
  virConnectPtr c = virConnectOpen (uri);
  if (c == NULL)
    {
      /* Not vk_vir_fail: a connection that never opened asked libvirt
       * nothing, so its "connection lost" wording (and the recovery it
       * suggests) does not apply. */
      virErrorPtr e = virGetLastError ();
      g_autofree char *what =
        g_strdup_printf (_("cannot connect to libvirt at %s (is libvirtd running? "
                           "check -c URI / uri= in vmkeep.conf)"),
                         uri ? uri : _("the default URI"));
      g_set_error (error, VK_ERROR, VK_ERROR_FAILED, "%s: %s", what,
                   e && e->message ? e->message : _("unknown libvirt error"));
      return FALSE;
    }
  VkConn *vc = g_new0 (VkConn, 1);
  vc->conn = c;
  char *u = virConnectGetURI (c);
  vc->uri = g_strdup (u ? u : uri);
  free (u);
  *out = vc;
  return TRUE;
}

void
vk_conn_free (VkConn *vc)
{
  if (vc == NULL)
    return;
  virConnectClose (vc->conn);
  g_free (vc->uri);
  g_free (vc);
}

const char *
vk_conn_uri (VkConn *vc)
{
  return vc->uri;
}

/* Whether the connection is to a session (per-user) libvirtd: the URI's
 * path is "/session" (qemu:///session, qemu+ssh://host/session). */
static gboolean
conn_is_session (VkConn *vc)
{
  char *uri = virConnectGetURI (vc->conn);
  g_autoptr(GUri) parsed = uri ? g_uri_parse (uri, G_URI_FLAGS_NONE, NULL) : NULL;
  gboolean session = parsed != NULL && g_strcmp0 (g_uri_get_path (parsed), "/session") == 0;
  free (uri);
  return session;
}

/* The XML description libvirt gave (NULL: it failed), parsed and freed;
 * NULL where there is none, for callers that fall back on a default. */
static xmlDoc *
take_desc (char *xml, const char *what)
{
  if (xml == NULL)
    {
      virResetLastError ();
      return NULL;
    }
  xmlDoc *doc = vk_xml_parse (xml, -1, what, NULL);
  free (xml);
  return doc;
}

/* The target directory of the "default" storage pool, or NULL. */
static char *
default_pool_dir (VkConn *vc)
{
  virStoragePoolPtr pool = virStoragePoolLookupByName (vc->conn, "default");
  if (pool == NULL)
    {
      virResetLastError ();
      return NULL;
    }
  g_autoptr(xmlDoc) doc = take_desc (virStoragePoolGetXMLDesc (pool, 0), "storage pool");
  virStoragePoolFree (pool);
  xmlNodePtr target = doc ? vk_xml_child (xmlDocGetRootElement (doc), "target") : NULL;
  g_autofree char *path = target ? vk_xml_child_text (target, "path") : NULL;
  if (path == NULL || !g_path_is_absolute (path))
    return NULL;
  return g_steal_pointer (&path);
}

char *
vk_conn_libvirt_dir (VkConn *vc, VkLibvirtDir which)
{
  if (which == VK_LIBVIRT_DIR_IMAGES)
    {
      char *pool = default_pool_dir (vc);
      if (pool != NULL)
        return pool;
    }
  if (conn_is_session (vc))
    switch (which)
      {
      case VK_LIBVIRT_DIR_SAVE:
        return g_build_filename (g_get_user_config_dir (), "libvirt", "qemu", "save", NULL);
      case VK_LIBVIRT_DIR_NVRAM:
        return g_build_filename (g_get_user_config_dir (), "libvirt", "qemu", "nvram", NULL);
      case VK_LIBVIRT_DIR_LOG:
        return g_build_filename (g_get_user_cache_dir (), "libvirt", "qemu", "log", NULL);
      case VK_LIBVIRT_DIR_IMAGES:
        return g_build_filename (g_get_user_data_dir (), "libvirt", "images", NULL);
      }
  switch (which)
    {
    case VK_LIBVIRT_DIR_SAVE:
      return g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "lib", "libvirt", "qemu", "save", NULL);
    case VK_LIBVIRT_DIR_NVRAM:
      return g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "lib", "libvirt", "qemu", "nvram", NULL);
    case VK_LIBVIRT_DIR_LOG:
      return g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "log", "libvirt", "qemu", NULL);
    case VK_LIBVIRT_DIR_IMAGES:
      break;
    }
  return g_build_filename (VK_LIBVIRT_LOCALSTATEDIR, "lib", "libvirt", "images", NULL);
}

VkHostIface
vk_conn_host_interface (VkConn *vc, const char *name)
{
  virInterfacePtr iface = virInterfaceLookupByName (vc->conn, name);
  if (iface == NULL)
    {
      gboolean absent = virGetLastErrorCode () == VIR_ERR_NO_INTERFACE;
      virResetLastError ();
      return absent ? VK_HOST_IFACE_ABSENT : VK_HOST_IFACE_UNKNOWN;
    }
  g_autoptr(xmlDoc) doc = take_desc (virInterfaceGetXMLDesc (iface, 0), "interface");
  virInterfaceFree (iface);
  if (doc == NULL)
    return VK_HOST_IFACE_UNKNOWN;
  g_autofree char *type = vk_xml_prop (xmlDocGetRootElement (doc), "type");
  return g_strcmp0 (type, "bridge") == 0 ? VK_HOST_IFACE_BRIDGE : VK_HOST_IFACE_OTHER;
}

char *
vk_conn_best_virt_type (VkConn *vc, GError **error)
{
  char *caps = virConnectGetDomainCapabilities (vc->conn, NULL, "x86_64", NULL,
                                                "kvm", 0);
  if (caps != NULL)
    {
      free (caps);
      return g_strdup ("kvm");
    }
  virResetLastError ();
  return g_strdup ("qemu");
}

static char *
version_string (unsigned long v)
{
  return g_strdup_printf ("%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}

/* virConnectGetLibVersion or virConnectGetVersion: the number, 0 when
 * libvirt cannot tell. */
typedef int (*VersionGetter) (virConnectPtr conn, unsigned long *v);

static guint32
version_number (VkConn *vc, VersionGetter get)
{
  unsigned long v = 0;
  if (get (vc->conn, &v) < 0)
    {
      virResetLastError ();
      return 0;
    }
  return (guint32) v;
}

static char *
version_or_unknown (guint32 v)
{
  return v == 0 ? g_strdup ("unknown") : version_string (v);
}

char *
vk_conn_libvirt_version (VkConn *vc)
{
  return version_or_unknown (version_number (vc, virConnectGetLibVersion));
}

char *
vk_conn_hv_version (VkConn *vc)
{
  return version_or_unknown (version_number (vc, virConnectGetVersion));
}

guint32
vk_conn_libvirt_version_number (VkConn *vc)
{
  return version_number (vc, virConnectGetLibVersion);
}

guint32
vk_conn_hv_version_number (VkConn *vc)
{
  return version_number (vc, virConnectGetVersion);
}

/* The host capabilities, parsed. */
static xmlDoc *
host_caps (VkConn *vc, GError **error)
{
  char *caps = virConnectGetCapabilities (vc->conn);
  if (caps == NULL)
    {
      vk_vir_fail (error, _("cannot read the host capabilities"));
      return NULL;
    }
  g_autoptr(GError) e = NULL;
  xmlDoc *doc = vk_xml_parse (caps, -1, "capabilities", &e);
  free (caps);
  if (doc == NULL)
    vk_fail (error, VK_ERROR_FAILED, _("cannot read the host capabilities: %s"), e->message);
  return doc;
}

/* Where the host capabilities list what a guest architecture offers
 * (machine types, emulators): each <guest>'s <arch name="arch"> (any
 * arch when NULL), and again each <domain type> below it. */
static GPtrArray *
arch_scopes (xmlDoc *doc, const char *arch)
{
  GPtrArray *out = g_ptr_array_new ();
  for (xmlNodePtr g = xmlDocGetRootElement (doc)->children; g; g = g->next)
    {
      if (g->type != XML_ELEMENT_NODE || !xmlStrEqual (g->name, BAD_CAST "guest"))
        continue;
      xmlNodePtr a = vk_xml_child (g, "arch");
      g_autofree char *aname = a ? vk_xml_prop (a, "name") : NULL;
      if (a == NULL || (arch && g_strcmp0 (aname, arch) != 0))
        continue;
      g_ptr_array_add (out, a);
      for (xmlNodePtr d = a->children; d; d = d->next)
        if (d->type == XML_ELEMENT_NODE && xmlStrEqual (d->name, BAD_CAST "domain"))
          g_ptr_array_add (out, d);
    }
  return out;
}

/* A <machine> child of `parent` named `machine` (or with it as canonical
 * name). */
static gboolean
lists_machine (xmlNodePtr parent, const char *machine)
{
  for (xmlNodePtr m = parent->children; m; m = m->next)
    {
      if (m->type != XML_ELEMENT_NODE || !xmlStrEqual (m->name, BAD_CAST "machine"))
        continue;
      xmlChar *t = xmlNodeGetContent (m);
      g_autofree char *canon = vk_xml_prop (m, "canonical");
      gboolean same = (t && g_str_equal ((const char *) t, machine)) ||
                      g_strcmp0 (canon, machine) == 0;
      xmlFree (t);
      if (same)
        return TRUE;
    }
  return FALSE;
}

/* The host capabilities list, per guest architecture and virt type, the
 * machine types its QEMU offers: the probe for "can this QEMU run a state
 * saved with machine type M" (an image from a newer QEMU names a machine
 * type older QEMUs do not know). */
gboolean
vk_conn_machine_known (VkConn *vc, const char *arch, const char *machine, gboolean *known,
                       GError **error)
{
  g_autoptr(xmlDoc) doc = host_caps (vc, error);
  if (doc == NULL)
    return FALSE;
  g_autoptr(GPtrArray) scopes = arch_scopes (doc, arch);
  *known = FALSE;
  for (guint i = 0; i < scopes->len && !*known; i++)
    *known = lists_machine (scopes->pdata[i], machine);
  return TRUE;
}

static void
add_texts (GPtrArray *out, xmlNodePtr parent, const char *name)
{
  for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual (c->name, BAD_CAST name))
      {
        xmlChar *t = xmlNodeGetContent (c);
        g_autofree char *v = t ? g_strstrip (g_strdup ((const char *) t)) : NULL;
        xmlFree (t);
        if (v && *v && !g_ptr_array_find_with_equal_func (out, v, g_str_equal, NULL))
          g_ptr_array_add (out, g_steal_pointer (&v));
      }
}

GStrv
vk_conn_emulators (VkConn *vc, const char *arch, GError **error)
{
  g_autoptr(xmlDoc) doc = host_caps (vc, error);
  if (doc == NULL)
    return NULL;
  g_autoptr(GPtrArray) scopes = arch_scopes (doc, arch);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < scopes->len; i++)
    add_texts (out, scopes->pdata[i], "emulator");
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

GStrv
vk_conn_firmware_files (VkConn *vc, const char *arch, const char *machine,
                        const char *virt_type, GError **error)
{
  char *caps = virConnectGetDomainCapabilities (vc->conn, NULL, arch, machine, virt_type, 0);
  if (caps == NULL && g_strcmp0 (virt_type, "qemu") != 0)
    {
      /* a kvm guest arriving on a host without KVM: TCG's firmware list */
      virResetLastError ();
      caps = virConnectGetDomainCapabilities (vc->conn, NULL, arch, machine, "qemu", 0);
    }
  if (caps == NULL)
    {
      vk_vir_fail (error, _("cannot read the domain capabilities for %s"),
                   machine ? machine : "?");
      return NULL;
    }
  g_autoptr(xmlDoc) doc = vk_xml_parse (caps, -1, "domainCapabilities", NULL);
  free (caps);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  xmlNodePtr os = doc ? vk_xml_child (xmlDocGetRootElement (doc), "os") : NULL;
  xmlNodePtr loader = os ? vk_xml_child (os, "loader") : NULL;
  add_texts (out, loader, "value");
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (out, FALSE);
}

/* "+64055" or "libvirt-qemu" / "kvm" */
static gboolean
label_id (const char *s, gboolean group, guint *out)
{
  if (s[0] == '+')
    {
      guint64 v = 0;
      if (!g_ascii_string_to_unsigned (s + 1, 10, 0, G_MAXUINT32, &v, NULL))
        return FALSE;
      *out = (guint) v;
      return TRUE;
    }
  if (group)
    {
      struct group *g = getgrnam (s);
      if (g)
        *out = g->gr_gid;
      return g != NULL;
    }
  struct passwd *p = getpwnam (s);
  if (p)
    *out = p->pw_uid;
  return p != NULL;
}

/* libvirt's DAC security driver states the user and group QEMU runs as
 * (qemu.conf user/group) as its base label in the host capabilities. */
gboolean
vk_conn_qemu_user (VkConn *vc, guint *uid, guint *gid, gboolean *known, GError **error)
{
  *known = FALSE;
  g_autoptr(xmlDoc) doc = host_caps (vc, error);
  if (doc == NULL)
    return FALSE;
  xmlNodePtr host = vk_xml_child (xmlDocGetRootElement (doc), "host");
  for (xmlNodePtr m = host ? host->children : NULL; m && !*known; m = m->next)
    {
      if (m->type != XML_ELEMENT_NODE || !xmlStrEqual (m->name, BAD_CAST "secmodel"))
        continue;
      g_autofree char *model = vk_xml_child_text (m, "model");
      if (g_strcmp0 (model, "dac") != 0)
        continue;
      g_autofree char *label = vk_xml_child_text (m, "baselabel");
      g_auto(GStrv) parts = label ? g_strsplit (label, ":", 2) : NULL;
      if (parts && parts[0] && parts[1] && label_id (parts[0], FALSE, uid) &&
          label_id (parts[1], TRUE, gid))
        *known = TRUE;
    }
  return TRUE;
}

char *
vk_conn_hostname (VkConn *vc)
{
  char *h = virConnectGetHostname (vc->conn);
  if (h == NULL)
    {
      virResetLastError ();
      return g_strdup (g_get_host_name ());
    }
  return vk_vir_string (h);
}

static VkDomain *
wrap (virDomainPtr d)
{
  VkDomain *vd = g_new0 (VkDomain, 1);
  vd->dom = d;
  vd->name = g_strdup (virDomainGetName (d));
  return vd;
}

void
vk_domain_free (VkDomain *vd)
{
  if (vd == NULL)
    return;
  virDomainFree (vd->dom);
  g_free (vd->name);
  g_free (vd);
}

VkDomain *
vk_domain_try_lookup (VkConn *vc, const char *name)
{
  virDomainPtr d = virDomainLookupByName (vc->conn, name);
  if (d == NULL)
    d = virDomainLookupByUUIDString (vc->conn, name);
  virResetLastError ();
  return d ? wrap (d) : NULL;
}

gboolean
vk_domain_lookup (VkConn *vc, const char *name, VkDomain **out, GError **error)
{
  VkDomain *vd = vk_domain_try_lookup (vc, name);
  if (vd == NULL)
    {
      /* the name comes from the command line: a newline or terminal
       * control byte in it is shown escaped */
      g_autofree char *shown = g_strescape (name, NULL);
      g_set_error (error, VK_ERROR, VK_ERROR_NOT_FOUND,
                   _("domain '%s' not found on %s; 'vmkeep list --all' shows the "
                     "defined domains"), shown, vc->uri);
      return FALSE;
    }
  *out = vd;
  return TRUE;
}

const char *
vk_domain_get_name (VkDomain *vd)
{
  return vd->name;
}

char *
vk_domain_get_uuid (VkDomain *vd)
{
  char buf[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString (vd->dom, buf) < 0)
    {
      virResetLastError ();
      return NULL;
    }
  return g_strdup (buf);
}

static const char *
state_label (int st)
{
  switch (st)
    {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "in shutdown";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "pmsuspended";
    default: return "unknown";
    }
}

VkDomainState
vk_domain_state (VkDomain *vd, const char **label)
{
  int st = 0, reason = 0;
  if (virDomainGetState (vd->dom, &st, &reason, 0) < 0)
    {
      virResetLastError ();
      st = VIR_DOMAIN_NOSTATE;
    }
  if (label)
    *label = state_label (st);
  switch (st)
    {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN:
      return VK_STATE_RUNNING;
    case VIR_DOMAIN_PAUSED:
      return VK_STATE_PAUSED;
    case VIR_DOMAIN_SHUTOFF:
    case VIR_DOMAIN_CRASHED:
      return VK_STATE_SHUTOFF;
    default:
      return VK_STATE_OTHER;
    }
}

gboolean
vk_domain_is_persistent (VkDomain *vd)
{
  return virDomainIsPersistent (vd->dom) == 1;
}

gboolean
vk_domain_has_managed_save (VkDomain *vd)
{
  int r = virDomainHasManagedSaveImage (vd->dom, 0);
  if (r < 0)
    virResetLastError ();
  return r == 1;
}

static char *
domain_xml_flags (VkDomain *vd, unsigned int flags, GError **error)
{
  char *x = virDomainGetXMLDesc (vd->dom, flags);
  if (x == NULL)
    {
      vk_vir_fail (error, _("cannot read the XML of domain '%s'"), vd->name);
      return NULL;
    }
  return vk_vir_string (x);
}

char *
vk_domain_xml (VkDomain *vd, gboolean inactive, GError **error)
{
  return domain_xml_flags (vd, inactive ? VIR_DOMAIN_XML_INACTIVE : 0, error);
}

char *
vk_domain_xml_migratable (VkDomain *vd, GError **error)
{
  return domain_xml_flags (vd, VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_SECURE, error);
}

gboolean
vk_domain_define (VkConn *vc, const char *xml, VkDomain **out, GError **error)
{
  virDomainPtr d = virDomainDefineXMLFlags (vc->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
  if (d == NULL)
    return vk_vir_fail (error, _("cannot define the domain"));
  *out = wrap (d);
  return TRUE;
}

gboolean
vk_domain_undefine (VkDomain *vd, gboolean remove_nvram, GError **error)
{
  unsigned int flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                       VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                       VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
  /* A VM's firmware variables and TPM state belong to it and go with it
   * (libvirt keeps the TPM state otherwise). */
  flags |= remove_nvram ? VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_TPM
                        : VIR_DOMAIN_UNDEFINE_KEEP_NVRAM | VIR_DOMAIN_UNDEFINE_KEEP_TPM;
  if (virDomainUndefineFlags (vd->dom, flags) < 0)
    {
      /* Drivers without NVRAM support (the test driver) refuse the flag. */
      virResetLastError ();
      if (virDomainUndefineFlags (vd->dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE) < 0 &&
          virDomainUndefine (vd->dom) < 0)
        return vk_vir_fail (error, _("cannot undefine domain '%s'"), vd->name);
    }
  return TRUE;
}

gboolean
vk_domain_start (VkDomain *vd, gboolean paused, GError **error)
{
  if (virDomainCreateWithFlags (vd->dom, paused ? VIR_DOMAIN_START_PAUSED : 0) < 0)
    return vk_vir_fail (error, _("cannot start domain '%s'"), vd->name);
  return TRUE;
}

gboolean
vk_domain_destroy (VkDomain *vd, GError **error)
{
  if (virDomainDestroy (vd->dom) < 0)
    return vk_vir_fail (error, _("cannot force off domain '%s'"), vd->name);
  return TRUE;
}

gboolean
vk_domain_shutdown (VkDomain *vd, GError **error)
{
  if (virDomainShutdown (vd->dom) < 0)
    return vk_vir_fail (error, _("cannot ask domain '%s' to shut down"), vd->name);
  return TRUE;
}

void
vk_domain_info_free (VkDomainInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->uuid);
  g_free (info->state);
  g_free (info);
}

static gint
cmp_info (gconstpointer a, gconstpointer b)
{
  const VkDomainInfo *x = *(VkDomainInfo *const *) a, *y = *(VkDomainInfo *const *) b;
  return g_strcmp0 (x->name, y->name);
}

GPtrArray *
vk_conn_list_domains (VkConn *vc, gboolean all, GError **error)
{
  virDomainPtr *doms = NULL;
  unsigned int flags = all ? 0 : VIR_CONNECT_LIST_DOMAINS_ACTIVE;
  int n = virConnectListAllDomains (vc->conn, &doms, flags);
  if (n < 0)
    {
      vk_vir_fail (error, _("cannot list domains on %s"), vc->uri);
      return NULL;
    }
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) vk_domain_info_free);
  for (int i = 0; i < n; i++)
    {
      g_autoptr(VkDomain) vd = wrap (doms[i]);
      VkDomainInfo *info = g_new0 (VkDomainInfo, 1);
      const char *label;
      info->name = g_strdup (vd->name);
      info->uuid = vk_domain_get_uuid (vd);
      vk_domain_state (vd, &label);
      info->state = g_strdup (label);
      info->id = (int) virDomainGetID (vd->dom);
      if (info->id == (int) (unsigned int) -1)
        info->id = -1;
      info->persistent = vk_domain_is_persistent (vd);
      info->managed_save = vk_domain_has_managed_save (vd);
      g_ptr_array_add (out, info);
    }
  free (doms);
  g_ptr_array_sort (out, cmp_info);
  return out;
}

/* Attach or detach one device, live and/or persistently. */
static gboolean
change_device (VkDomain *vd, const char *xml, gboolean attach, gboolean live,
               gboolean config, GError **error)
{
  unsigned int flags = (live ? VIR_DOMAIN_AFFECT_LIVE : 0) |
                       (config ? VIR_DOMAIN_AFFECT_CONFIG : 0);
  if (attach && virDomainAttachDeviceFlags (vd->dom, xml, flags) < 0)
    return vk_vir_fail (error, _("cannot attach the device to domain '%s'"), vd->name);
  if (!attach && virDomainDetachDeviceFlags (vd->dom, xml, flags) < 0)
    return vk_vir_fail (error, _("cannot detach the device from domain '%s'"), vd->name);
  return TRUE;
}

gboolean
vk_domain_attach (VkDomain *vd, const char *xml, gboolean live, gboolean config,
                  GError **error)
{
  return change_device (vd, xml, TRUE, live, config, error);
}

gboolean
vk_domain_detach (VkDomain *vd, const char *xml, gboolean live, gboolean config,
                  GError **error)
{
  return change_device (vd, xml, FALSE, live, config, error);
}

char *
vk_conn_network_bridge (VkConn *vc, const char *name, GError **error)
{
  virNetworkPtr n = virNetworkLookupByName (vc->conn, name);
  if (n == NULL)
    {
      vk_vir_fail (error, _("no libvirt network '%s' on %s"), name, vc->uri);
      return NULL;
    }
  char *br = virNetworkGetBridgeName (n);
  virNetworkFree (n);
  if (br == NULL)
    {
      vk_vir_fail (error, _("libvirt network '%s' has no bridge of its own"), name);
      return NULL;
    }
  char *out = g_strdup (br);
  free (br);
  return out;
}

gboolean
vk_conn_network_exists (VkConn *vc, const char *name, gboolean *active, GError **error)
{
  virNetworkPtr n = virNetworkLookupByName (vc->conn, name);
  if (n == NULL)
    {
      virResetLastError ();
      return FALSE;
    }
  if (active)
    *active = virNetworkIsActive (n) == 1;
  virNetworkFree (n);
  return TRUE;
}
