/* vmkeep — the command table and what every command gets handed. */
#pragma once

#include <glib.h>

#include "virt.h"
#include "vk-config.h"

G_BEGIN_DECLS

typedef struct {
  VkConfig *cfg;
  char *uri;          /* -c URI, else the config's */
  gboolean json;      /* --json: one JSON document on stdout */
  gboolean quiet;     /* -q: no informational messages */
  VkConn *conn;       /* opened on first use */
} VkCli;

typedef gboolean (*VkCommandFunc) (VkCli *cli, int argc, char **argv,
                                   GError **error);

typedef struct {
  const char *name;     /* "create", "nic add", ... */
  const char *args;     /* parameter string for --help */
  const char *summary;  /* one line, translatable (N_) */
  VkCommandFunc func;
} VkCommand;

/* NULL-terminated table, in the order --help lists it. */
extern const VkCommand vk_commands[];

const VkCommand *vk_command_find (int argc, char **argv, int *words);

/* Connection shared by the commands of one run. */
VkConn *vk_cli_connect (VkCli *cli, GError **error);

/* Parse a command's options. Adds --help text naming the command; turns
 * GOption errors into VK_ERROR_USAGE with a hint to 'vmkeep help CMD'. */
gboolean vk_cli_parse (const VkCommand *cmd, const GOptionEntry *entries,
                       int *argc, char ***argv, GError **error);
/* Fail with a usage error unless the command got between min and max
 * positional arguments (max < 0: unlimited). */
gboolean vk_cli_expect_args (const char *cmd, int argc, int min, int max,
                             const char *what, GError **error);

/* Informational message (stdout, not in --json or -q mode). */
void vk_cli_info (VkCli *cli, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Command groups. */
gboolean vk_cmd_create (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_pin (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_define (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_layout (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_list (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_start (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_stop (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_undefine (VkCli *cli, int argc, char **argv, GError **error);

G_END_DECLS
