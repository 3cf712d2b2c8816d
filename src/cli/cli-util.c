/* vmkeep — small helpers the commands share. */
#include "config.h"

#include "commands.h"

gboolean
vk_cli_begin (const char *name, int *argc, char ***argv, int min, int max,
              const char *what, GError **error)
{
  return vk_cli_parse (vk_command_named (name), argc, argv, error) &&
         vk_cli_expect_args (name, *argc, min, max, what, error);
}
