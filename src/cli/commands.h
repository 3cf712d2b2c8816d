/* vmkeep — the command table and what every command gets handed. */
#pragma once

#include <glib.h>
#include <signal.h>
#include <libxml/tree.h>

#include "fileutil.h"
#include "validate.h"
#include "ops.h"
#include "ops-attach.h"
#include "ops-domain.h"
#include "virt.h"
#include "vk-config.h"

G_BEGIN_DECLS

typedef struct {
  VkConfig *cfg;
  char *uri;          /* -c URI, else the config's */
  gboolean json;      /* --json: one JSON document on stdout */
  gboolean quiet;     /* -q: no informational messages */
  VkConn *conn;       /* opened on first use */
  VkOps *ops;         /* the workflows' context, made with the connection */
  GPtrArray *recovered; /* "OP SUBJECT" of each interrupted run the recovery
                           before the command undid or restored */
  char *command;        /* the command of this run as messages name it
                           ("nic add", "image export") */
  /* Set when this run needs this host's files (VkCommand.host_files):
   * vk_cli_connect then refuses a connection that libvirt reports to be
   * to another host (libvirt's default URI can be, see run.c). */
  const char *host_files;
  /* The URI is libvirt on this host (or libvirt's default): the store
   * belongs to its domains, and the recovery before a command runs. */
  gboolean here;
} VkCli;

typedef gboolean (*VkCommandFunc) (VkCli *cli, int argc, char **argv,
                                   GError **error);

typedef enum {
  VK_CLI_RECOVER_NONE,
  VK_CLI_RECOVER_WARN,
  VK_CLI_RECOVER_APPLY,
} VkCliRecover;

/* What a command needs besides libvirt's API. vmkeep's store (locks,
 * journals, sidecars, images, idle history), the disks it creates and
 * reads, NVRAM, sysfs, virtiofs source directories and bridges are files
 * of the host vmkeep runs on; over a URI of libvirt on another host
 * (src/core/uri.h) they are not the daemon's, so a command that needs
 * them is refused before it touches anything (run.c). A domain's lock is
 * such a file too: taken here it does not keep vmkeep on the other host
 * (a hibernate timer, say) away from the domain, so every command that
 * changes a domain under its lock needs this host. The default (0) is to
 * need it. */
typedef enum {
  VK_CLI_LOCAL_FILES = 0,
  VK_CLI_API_ONLY,      /* libvirt's API carries all it needs (or no libvirt) */
} VkCliHost;

/* A command, declared once: help, parsing, the man-page coverage test and
 * the shell completion (vmkeep __complete) all read this entry. */
typedef struct {
  const char *name;     /* "create", "nic add", ... */
  const char *args;     /* parameter string for --help */
  const char *summary;  /* one line, translatable (N_) */
  VkCommandFunc func;
  const GOptionEntry *options;  /* static, G_OPTION_ENTRY_NULL-terminated; NULL: none */
  /* What each positional argument names, for completion, space-separated:
   * DOMAIN, IMAGE, SOURCE (a domain or an image), TAG (a vmkeep tag),
   * FILE, DIR, MAC / FSTAG / HOSTDEV (a NIC, virtiofs tag or host device
   * of the DOMAIN given first), NEW (a new name: nothing to offer),
   * =a|b|c (literal words), DOMAIN|image:IMAGE (either, images with
   * their prefix), @verb=KIND@verb=KIND (the argument after an action
   * word, per action). A last KIND... repeats. */
  const char *complete;
  /* What the command does first about interrupted runs (vmkeep recover):
   * finish them (commands that change domains or the store), warn about
   * them (commands that only read), or neither. */
  VkCliRecover recover;
  VkCliHost host;
  /* With VK_CLI_LOCAL_FILES: what of this host it uses, translatable (N_),
   * the end of a sentence "vmkeep CMD ...", for the refusal. */
  const char *host_files;
  /* With VK_CLI_LOCAL_FILES, optional: whether these arguments need this
   * host (argv[0] is the command's name; options are not parsed yet, so
   * when in doubt: TRUE). */
  gboolean (*host_files_needed) (int argc, char **argv);
} VkCommand;

/* One run of vmkeep with command line `argv`; the exit status. `fault`
 * (tests only; NULL in the program) becomes the workflows' fault hook. */
int vk_cli_main (int argc, char **argv, VkOpsFaultFunc fault, gpointer fault_data);

/* NULL-terminated table, in the order --help lists it. */
extern const VkCommand vk_commands[];

const VkCommand *vk_command_find (int argc, char **argv, int *words);
/* A command's own table entry, by its full name ("fs detach"). */
const VkCommand *vk_command_named (const char *name);

/* What of this host command `cmd` with arguments `argv` (argv[0] its
 * name, options not parsed) uses, translated, or NULL when libvirt's API
 * is all it needs. */
const char *vk_cli_host_files (const VkCommand *cmd, int argc, char **argv);

/* The refusal of a command (`files`: its VkCommand.host_files) whose URI,
 * `shown` as the user gave it (e.g. "-c qemu+ssh://node7/system"), is
 * libvirt on `host` (NULL: on a host the URI does not name):
 * VK_ERROR_REFUSED saying to run vmkeep there. */
void vk_cli_set_host_refusal (GError **error, const char *command, const char *files,
                              const char *shown, const char *host);

/* The workflows' context, made once the configuration is read (before any
 * connection: workflows on the store alone need none): notices go to
 * stderr as warnings. */
void vk_cli_init_ops (VkCli *cli);
/* Connection shared by the commands of one run; it becomes the context's. */
VkConn *vk_cli_connect (VkCli *cli, GError **error);
/* Domain `name` on the connection (VK_ERROR_NOT_FOUND when none). */
VkDomain *vk_cli_lookup (VkCli *cli, const char *name, GError **error);
/* The workflows' context, connected. */
VkOps *vk_cli_ops (VkCli *cli, GError **error);
/* Whether to show progress on stderr: on a terminal, or with --progress
 * (`forced`); never with -q or --json. */
gboolean vk_cli_progress_wanted (VkCli *cli, gboolean forced);

/* Parse a command's options (its table entry's). Adds --help text naming
 * the command; turns GOption errors into VK_ERROR_USAGE with a hint to
 * 'vmkeep help CMD'. */
gboolean vk_cli_parse (const VkCommand *cmd, int *argc, char ***argv, GError **error);
/* Fail with a usage error unless the command got between min and max
 * positional arguments (max < 0: unlimited). */
gboolean vk_cli_expect_args (const char *cmd, int argc, int min, int max,
                             const char *what, GError **error);

/* Informational message (stdout, not in --json or -q mode). */
void vk_cli_info (VkCli *cli, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Define `doc` (already pinned), read it back from libvirt and check the
 * policy held; on a violation the previous definition is restored (or the
 * new one removed) and VK_ERROR_REFUSED says what libvirt moved. */
gboolean vk_cli_define_verified (VkCli *cli, VkConn *conn, xmlDocPtr doc,
                                 VkDomain **out, GError **error);
/* The domain's live (or, with `inactive`, persistent) XML as a document. */
xmlDocPtr vk_cli_domain_doc (VkDomain *dom, gboolean inactive, GError **error);

/* Look up a domain whose devices a command changes, and settle --live /
 * --config: neither given means live when running plus config when
 * persistent; asking for what the domain cannot do is VK_ERROR_REFUSED. */
gboolean vk_cli_open_for_change (VkCli *cli, const char *name, gboolean *live,
                                 gboolean *config, VkDomain **out, GError **error);

/* The front of `fs detach`, `device detach` and `nic remove`: the options
 * --live, --config and --timeout; DOMAIN and KEY (`key_what` names both
 * in the usage error); `check_key` (may be NULL) refuses a bad KEY before
 * anything is looked up; then the domain is looked up and locked. */
typedef struct {
  gboolean live, config;
  int timeout;
  const char *name, *key;
  VkDomain *dom;
  VkLock *lock;
} VkDetachArgs;
typedef gboolean (*VkKeyCheck) (const char *key, GError **error);
gboolean vk_cli_detach_begin (VkCli *cli, const char *group, const char *verb,
                              const char *key_what, VkKeyCheck check_key, int argc,
                              char **argv, VkDetachArgs *out, GError **error);
/* The rest of it: detach `dev` from the domain `a` holds (vk_ops_detach_device;
 * `a->live` and `a->config` become what was done). `list_cmd` is the vmkeep
 * command that lists such devices ("devices", "layout"), for the not-found
 * message; `*addr_out` gets the PCI address the device had, `bdf_out` (may
 * be NULL) a host device's host address. */
gboolean vk_cli_detach_device (VkCli *cli, VkDetachArgs *a, const VkOpsDevice *dev,
                               const char *list_cmd, char **addr_out, VkBdf *bdf_out,
                               GError **error);
void vk_detach_args_clear (VkDetachArgs *a);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VkDetachArgs, vk_detach_args_clear)

/* The commands' option tables. */
extern const GOptionEntry vk_create_options[], vk_pin_options[],
  vk_layout_options[], vk_list_options[], vk_start_options[], vk_stop_options[],
  vk_undefine_options[], vk_nic_add_options[], vk_detach_options[], vk_fs_attach_options[],
  vk_device_attach_options[], vk_devices_options[], vk_clone_options[], vk_image_options[],
  vk_hibernate_options[], vk_wake_options[], vk_recover_options[], vk_watch_options[];

/* Command groups. */
gboolean vk_cmd_create (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_pin (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_define (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_layout (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_list (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_start (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_stop (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_undefine (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_hibernate (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_wake (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_image (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_diff (VkCli *cli, int argc, char **argv, GError **error);
/* The sidecar of image NAME in the store (`dir_out`: its directory). */

gboolean vk_cmd_clone (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_fork (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_tag (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_recover (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_watch (VkCli *cli, int argc, char **argv, GError **error);
/* Before a command: finish (`apply`) or warn about what interrupted runs
 * left (see vmkeep recover); messages on stderr, never an error. */
void vk_cli_recover_first (VkCli *cli, gboolean apply);
/* vmkeep __complete WORD... (hidden): the shell completion's candidates. */
gboolean vk_cmd_complete (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_nic_add (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_nic_remove (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_fs_attach (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_fs_detach (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_device_attach (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_device_detach (VkCli *cli, int argc, char **argv, GError **error);
gboolean vk_cmd_devices (VkCli *cli, int argc, char **argv, GError **error);

/* --live needs a running domain, --config a persistent one: else a clear
 * error naming what --live would have done (`live_verb`, e.g. "hot-plug"). */
gboolean vk_cli_check_scope (VkDomain *dom, const char *name, gboolean live, gboolean config,
                             const char *live_verb, GError **error);

/* Whether the recovery before this command (vk_cli_recover_first) undid or
 * restored an interrupted `op` of `subject`. */
gboolean vk_cli_recovered (VkCli *cli, const char *op, const char *subject);

/* Remove what interrupted runs left in the store (see vk_store_cleanup),
 * saying so on stderr unless --quiet. */
void vk_cli_store_cleanup (VkCli *cli);

/* Ctrl-C, a closed ssh or a systemd stop while vmkeep must finish or undo
 * what it started: run.c guards every command that changes state
 * (VkCommand.recover is VK_CLI_RECOVER_APPLY) for its whole run. Between
 * begin and end SIGINT, SIGTERM and SIGHUP cancel the run's context (cli->ops->cancel,
 * the one cancellation the workflows know) and set vk_cli_interrupted to
 * the signal (installed without SA_RESTART, so a blocked read or write
 * returns); the command then fails like on any other error and undoes
 * what it did. */
typedef struct {
  struct sigaction old[3];
} VkSigGuard;

extern volatile sig_atomic_t vk_cli_interrupted;
void vk_cli_sig_guard_begin (VkCli *cli, VkSigGuard *g);
void vk_cli_sig_guard_end (VkSigGuard *g);
/* Within a guard: a part of a command that changes nothing gives the
 * signals their default action back (they end vmkeep at once). */
void vk_cli_sig_release (void);

/* Batch commands go on past a failing domain and end with the worst exit
 * code: each failure is printed as it happens (vk_batch_fail takes it),
 * and vk_batch_finish fails with the worst code, counting them. */
typedef struct {
  int worst;
  guint failed;
  char *first;
} VkBatch;
void vk_batch_fail (VkBatch *b, const char *name, GError *e);
gboolean vk_batch_finish (VkBatch *b, const char *verb, guint total, GError **error);

G_END_DECLS

G_BEGIN_DECLS

/* The start of most commands (cli-util.c): parse the options of the
 * command called `name` (vk_cli_parse), then check it got between `min`
 * and `max` positional arguments (vk_cli_expect_args; `what` names them). */
gboolean vk_cli_begin (const char *name, int *argc, char ***argv, int min, int max,
                       const char *what, GError **error);

G_END_DECLS
