#!/bin/bash
# The whole test suite, from a fresh Debian 12 checkout: installs what the
# build and the tests need, starts libvirtd, builds, runs `make check` with
# the end-to-end tests required (an unreachable libvirtd fails them instead
# of skipping them), then `make distcheck`. Ends with one line
# "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

log() { printf '== %s\n' "$*"; }

log "host setup (packages, virtlogd, libvirtd)"
tools/host-setup.sh || { echo "0 passed, 1 failed"; exit 1; }

log "build"
if [ ! -x configure ]; then NOCONFIGURE=1 ./autogen.sh >/dev/null || exit 1; fi
if [ ! -f Makefile ]; then ./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var >/dev/null || { echo "0 passed, 1 failed"; exit 1; }; fi
make -j"$(nproc)" >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

log "make check (unit, golden, cli, e2e)"
# CI's required switch: any e2e, unit or packaging test that would skip
# fails instead.
export VMKEEP_REQUIRE_E2E=1 VMKEEP_REQUIRE_PKG=1
make -j1 check 2>&1 | tee "$top/check.out"
check_rc=${PIPESTATUS[0]}

count() { sed -n "s/^# $1: *\([0-9]*\).*/\1/p" "$top/check.out" | tail -1; }
pass=$(count PASS); fail=$(count FAIL); skip=$(count SKIP)
err=$(count ERROR); xpass=$(count XPASS); xfail=$(count XFAIL)
pass=${pass:-0}; fail=${fail:-0}; skip=${skip:-0}; err=${err:-0}; xpass=${xpass:-0}; xfail=${xfail:-0}
fail=$((fail + err + xpass))
pass=$((pass + xfail))
if [ "$check_rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
  # make check itself broke (build of a test failed): count it.
  fail=1
fi
if [ "$fail" -gt 0 ]; then
  log "failures (from the test logs):"
  grep -l -E '^(not ok|Bail out)' tests/*/*.log 2>/dev/null | while read -r f; do
    echo "--- $f"; grep -E -A3 '^(not ok|Bail out|#)' "$f" | head -40
  done
fi

if [ "${VMKEEP_SKIP_DISTCHECK:-}" != 1 ]; then
  log "make distcheck"
  # The e2e and packaging tests ran above on the built tree; distcheck
  # proves the tarball builds and passes the tests that need no host state.
  fast=$(make -s print-fast-tests)
  if make distcheck TESTS="$fast" >"$top/distcheck.out" 2>&1; then
    pass=$((pass + 1)); echo "ok - make distcheck"
  else
    fail=$((fail + 1)); echo "not ok - make distcheck"; tail -40 "$top/distcheck.out"
  fi
fi

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
