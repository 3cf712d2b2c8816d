/* Shared by the unit tests. */
#pragma once

#include <glib.h>

/* A test that cannot run here skips, except under CI's required switch
 * (VMKEEP_REQUIRE_E2E=1, set by tools/run-tests.sh), where a skip would
 * hide an untested path: there it fails. */
static inline void
vk_test_skip_or_fail (const char *why)
{
  if (g_strcmp0 (g_getenv ("VMKEEP_REQUIRE_E2E"), "1") == 0)
    g_test_fail_printf ("required (VMKEEP_REQUIRE_E2E=1) but skipped: %s", why);
  else
    g_test_skip (why);
}
