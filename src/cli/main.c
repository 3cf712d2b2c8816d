/* vmkeep — the program: one run of the command line, with no fault hook
 * (tests/e2e/vmkeep-fault.c is the same program with one). */
#include "config.h"

#include "commands.h"

int
main (int argc, char **argv)
{
  return vk_cli_main (argc, argv, NULL, NULL);
}
