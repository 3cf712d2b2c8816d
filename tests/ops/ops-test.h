/* What the tests/ops programs share: a workflows context on
 * test:///default with a store in a private temporary directory. */
#pragma once

#include <glib.h>
#include <stdlib.h>

#include "ops.h"
#include "virt.h"
#include "vk-config.h"

/* `*dir` a new temporary directory (`prefix`-XXXXXX), the store in
 * DIR/store, a connection to test:///default and a context on both. */
static inline void
vk_ops_test_open (const char *prefix, char **dir, VkConfig **cfg, VkConn **conn, VkOps **ops)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmpl = g_strconcat (prefix, "-XXXXXX", NULL);
  *dir = g_dir_make_tmp (tmpl, &error);
  g_assert_no_error (error);
  *cfg = vk_config_new ();
  g_free ((*cfg)->store_dir);
  (*cfg)->store_dir = g_build_filename (*dir, "store", NULL);
  g_assert_true (vk_conn_open ("test:///default", conn, &error));
  g_assert_no_error (error);
  *ops = vk_ops_new (*conn, *cfg);
}

/* Everything vk_ops_test_open made, the directory with all in it. */
static inline void
vk_ops_test_close (char *dir, VkConfig *cfg, VkConn *conn, VkOps *ops)
{
  vk_ops_free (ops);
  vk_conn_free (conn);
  vk_config_free (cfg);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (dir);
}
