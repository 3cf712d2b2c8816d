#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gi18n.h>

#include "store.h"
#include "trust.h"
#include "validate.h"
#include "vk-config.h"
#include "vk-error.h"

VkConfig *
vk_config_new (void)
{
  VkConfig *cfg = g_new0 (VkConfig, 1);
  cfg->virt_type = g_strdup ("auto");
  cfg->machine = VK_MACHINE_Q35;
  vk_layout_policy_init_defaults (&cfg->policy);
  cfg->store_dir = g_strdup (VK_STOREDIR);
  cfg->jobs = 2;
  cfg->idle = VK_IDLE_THRESHOLDS_DEFAULT;
  /* disk_dir, nvram_dir and log_dir stay NULL unless configured: the
   * CLI takes libvirt's own for the connection (vk_conn_libvirt_dir) */
  cfg->kernel_dirs = g_strsplit ("/var/lib/libvirt/boot:/boot", ":", -1);
  return cfg;
}

void
vk_config_free (VkConfig *cfg)
{
  if (cfg == NULL)
    return;
  g_free (cfg->uri);
  g_free (cfg->virt_type);
  g_free (cfg->store_dir);
  g_free (cfg->disk_dir);
  g_free (cfg->nvram_dir);
  g_free (cfg->log_dir);
  g_strfreev (cfg->kernel_dirs);
  g_free (cfg->source);
  g_free (cfg);
}

const char *
vk_config_default_path (void)
{
  const char *env = g_getenv (VK_CONFIG_ENV);
  if (env != NULL && *env != '\0')
    return env;
  return VK_CONFDIR "/vmkeep.conf";
}

static const char *const known_keys[] = {
  "uri", "virt-type", "machine", "nic-slots", "device-slots",
  "spare-nic-ports", "spare-device-ports", "store", "jobs", "disk-dir", "nvram-dir",
  "log-dir", "kernel-dirs", "idle-cpu-below", "idle-net-below", "idle-disk-below", NULL,
};

/* Does the raw (still escaped) value end in a backslash that escapes
 * nothing? */
static gboolean
ends_in_lone_backslash (const char *raw)
{
  for (const char *p = raw; *p != '\0'; p++)
    if (*p == '\\' && *++p == '\0')
      return TRUE;
  return FALSE;
}

static gboolean
bad_value (GError **error, const char *path, const char *key, GError *cause)
{
  /* GKeyFile's own errors quote the raw value. */
  g_autofree char *why = vk_str_printable (cause->message);

  g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
               _("%s: key '%s': %s (see vmkeep.conf(5))"), path, key, why);
  g_error_free (cause);
  return FALSE;
}

gboolean
vk_config_load (VkConfig *cfg, const char *path, gboolean must_exist,
                GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) local = NULL;

  /* A FIFO or device named by VMKEEP_CONFIG must not hang or be read
   * forever: only a regular file (a symlink to one is fine) of sane size. */
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  struct stat st;
  if (fd >= 0 && (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > (1 << 20)))
    {
      gboolean reg = fstat (fd, &st) == 0 && S_ISREG (st.st_mode);
      close (fd);
      g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                   reg ? _("configuration %s is larger than 1 MiB; point VMKEEP_CONFIG at a "
                           "vmkeep.conf")
                       : _("configuration %s is not a regular file; point VMKEEP_CONFIG at a "
                           "vmkeep.conf"), path);
      return FALSE;
    }
  if (fd >= 0)
    close (fd);
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local))
    {
      /* GKeyFile quotes the offending line as it is. */
      g_autofree char *why = vk_str_printable (local->message);

      if (!must_exist && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_set_error (error, VK_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? VK_ERROR_NOT_FOUND : VK_ERROR_USAGE,
                   _("cannot read configuration %s: %s; fix the file or point "
                     "VMKEEP_CONFIG at another one"), path, why);
      return FALSE;
    }

  gsize ngroups = 0;
  g_auto(GStrv) groups = g_key_file_get_groups (kf, &ngroups);
  for (gsize i = 0; i < ngroups; i++)
    if (!g_str_equal (groups[i], VK_CONFIG_GROUP))
      {
        g_autofree char *shown = vk_str_printable (groups[i]);
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("%s: unknown group [%s]; vmkeep reads only [%s] "
                       "(see vmkeep.conf(5))"), path, shown, VK_CONFIG_GROUP);
        return FALSE;
      }
  if (ngroups == 0)
    {
      g_free (cfg->source);
      cfg->source = g_strdup (path);
      return TRUE;
    }

  g_auto(GStrv) keys = g_key_file_get_keys (kf, VK_CONFIG_GROUP, NULL, NULL);
  for (gsize i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_strv_contains (known_keys, keys[i]))
      {
        g_autofree char *shown = vk_str_printable (keys[i]);
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                     _("%s: unknown key '%s' in [%s] (see vmkeep.conf(5) for "
                       "the keys vmkeep knows)"), path, shown, VK_CONFIG_GROUP);
        return FALSE;
      }

  for (gsize i = 0; keys != NULL && keys[i] != NULL; i++)
    {
      const char *key = keys[i];
      GError *cause = NULL;
      /* GLib 2.74's unescaping sets its GError twice, a warning on stderr,
       * when a value with a bad escape ends in a lone backslash too: such
       * a value is refused before GKeyFile unescapes it. */
      g_autofree char *escaped = g_key_file_get_value (kf, VK_CONFIG_GROUP, key, NULL);
      if (escaped != NULL && ends_in_lone_backslash (escaped))
        return vk_fail (error, VK_ERROR_USAGE,
                        _("%s: key '%s' ends with a lone backslash; write \\\\ for a "
                          "backslash (see vmkeep.conf(5))"), path, key);
      g_autofree char *raw = g_key_file_get_string (kf, VK_CONFIG_GROUP, key, &cause);
      /* A value that is not UTF-8 or holds a bad escape is an error like
       * any other bad value, not the default (uri would silently become the
       * local libvirt). GKeyFile returns a string even with the latter. */
      if (cause != NULL)
        return bad_value (error, path, key, cause);
      g_autofree char *val = g_strstrip (g_strdup (raw != NULL ? raw : ""));

      /* no key takes control characters (a "\n" escape, a terminal
       * sequence); the value is shown escaped */
      for (const char *c = val; *c; c++)
        if ((guchar) *c < 0x20 || *c == 0x7f)
          {
            g_autofree char *shown = g_strescape (val, NULL);
            g_set_error (error, VK_ERROR, VK_ERROR_USAGE,
                         _("%s: key '%s' has the value “%s” with a control character in it "
                           "(see vmkeep.conf(5))"), path, key, shown);
            return FALSE;
          }

      if (g_str_equal (key, "uri"))
        {
          g_free (cfg->uri);
          cfg->uri = *val ? g_strdup (val) : NULL;
        }
      else if (g_str_equal (key, "virt-type"))
        {
          if (!g_str_equal (val, "auto") && !g_str_equal (val, "kvm") &&
              !g_str_equal (val, "qemu"))
            return vk_fail (error, VK_ERROR_USAGE,
                            _("%s: key 'virt-type' is '%s'; use auto, kvm or qemu"),
                            path, val);
          g_free (cfg->virt_type);
          cfg->virt_type = g_strdup (val);
        }
      else if (g_str_equal (key, "machine"))
        {
          if (!g_str_equal (val, "pc") && !g_str_equal (val, "q35"))
            return vk_fail (error, VK_ERROR_USAGE,
                            _("%s: key 'machine' is '%s'; use pc or q35"), path, val);
          cfg->machine = g_str_equal (val, "q35") ? VK_MACHINE_Q35 : VK_MACHINE_PC;
        }
      else if (g_str_equal (key, "nic-slots") || g_str_equal (key, "device-slots"))
        {
          VkSlotRange *r = g_str_equal (key, "nic-slots") ? &cfg->policy.nic
                                                          : &cfg->policy.dev;
          if (!vk_parse_slot_range (key, val, &r->first, &r->last, &cause))
            return bad_value (error, path, key, cause);
        }
      else if (g_str_equal (key, "spare-nic-ports") ||
               g_str_equal (key, "spare-device-ports") ||
               g_str_equal (key, "jobs"))
        {
          guint64 n = 0;
          guint64 lo = g_str_equal (key, "jobs") ? 1 : 0;
          guint64 hi = g_str_equal (key, "jobs") ? 64 : 31;
          if (!vk_parse_uint (key, val, lo, hi, &n, &cause))
            return bad_value (error, path, key, cause);
          if (g_str_equal (key, "jobs"))
            cfg->jobs = n;
          else if (g_str_equal (key, "spare-nic-ports"))
            cfg->policy.spare_nic_ports = n;
          else
            cfg->policy.spare_dev_ports = n;
        }
      else if (g_str_equal (key, "store"))
        {
          if (!g_path_is_absolute (val))
            return vk_fail (error, VK_ERROR_USAGE,
                            _("%s: key 'store' is '%s'; it must be an absolute path"),
                            path, val);
          /* refused for every command, not only those that write: a store
           * in / or /etc would have vmkeep read images from there too */
          if (!vk_store_check_path (val, &cause))
            return bad_value (error, path, key, cause);
          g_free (cfg->store_dir);
          cfg->store_dir = g_strdup (val);
        }
      else if (g_str_equal (key, "disk-dir") || g_str_equal (key, "nvram-dir") ||
               g_str_equal (key, "log-dir"))
        {
          if (!vk_path_is_plain (val))
            return vk_fail (error, VK_ERROR_USAGE,
                            _("%s: key '%s' is '%s'; it must be an absolute path without "
                              "'.' or '..'"), path, key, val);
          char **field = g_str_equal (key, "disk-dir") ? &cfg->disk_dir
                         : g_str_equal (key, "nvram-dir") ? &cfg->nvram_dir : &cfg->log_dir;
          g_free (*field);
          *field = g_strdup (val);
        }
      else if (g_str_has_prefix (key, "idle-"))
        {
          VkIdleMeasure m = g_str_equal (key, "idle-cpu-below") ? VK_IDLE_CPU
                            : g_str_equal (key, "idle-net-below") ? VK_IDLE_NET : VK_IDLE_BLOCK;
          if (!vk_idle_parse_threshold (&cfg->idle, m, key, val, error))
            {
              g_prefix_error (error, "%s: ", path);
              return FALSE;
            }
        }
      else if (g_str_equal (key, "kernel-dirs"))
        {
          g_auto(GStrv) dirs = g_strsplit (val, ":", -1);
          for (guint d = 0; dirs[d]; d++)
            if (!vk_path_is_plain (dirs[d]))
              return vk_fail (error, VK_ERROR_USAGE,
                              _("%s: key 'kernel-dirs': '%s' is not an absolute path without "
                                "'.' or '..' (separate directories with ':')"), path, dirs[d]);
          g_strfreev (cfg->kernel_dirs);
          cfg->kernel_dirs = g_steal_pointer (&dirs);
        }
    }

  {
    GError *cause = NULL;
    if (!vk_layout_policy_validate (&cfg->policy, &cause))
      {
        g_set_error (error, VK_ERROR, VK_ERROR_USAGE, "%s: %s", path, cause->message);
        g_error_free (cause);
        return FALSE;
      }
  }
  g_free (cfg->source);
  cfg->source = g_strdup (path);
  return TRUE;
}
