# Shared TAP helpers for the packaging tests (sourced): man pages, shell
# completion, translations, .deb and .rpm.
set -u
set -o pipefail

: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${VMKEEP:=$abs_top_builddir/vmkeep}"
export VMKEEP_CONFIG="${VMKEEP_CONFIG:-/dev/null}"
export LC_ALL=C.UTF-8 LANGUAGE=

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmkeep-pkg.XXXXXX")
_cleanups=()
_cleanup () {
  local c
  for c in "${_cleanups[@]}"; do eval "$c"; done
  rm -rf "$WORK"
}
trap _cleanup EXIT
# at_exit CMD: run CMD (a string) when the test ends, before $WORK goes.
at_exit () { _cleanups+=("$1"); }

_n=0
_failed=0
ok () { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok () { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }
diag () { printf '%s\n' "$@" | sed 's/^/# /'; }
# check DESCRIPTION CMD...: ok when CMD succeeds
check () {
  local d=$1; shift
  if "$@"; then ok "$d"; else not_ok "$d"; fi
}
skip_all () { echo "1..0 # SKIP $*"; exit 0; }
bail_out () { echo "Bail out! $*"; exit 1; }
done_testing () {
  echo "1..$_n"
  [ "$_failed" -eq 0 ]
}

# Slow packaging tests may be skipped where they cannot run (no root, no
# dpkg-buildpackage/rpmbuild); VMKEEP_REQUIRE_PKG=1, or CI's required switch
# VMKEEP_REQUIRE_E2E=1, turns such a skip into a failure.
skip_or_fail () {
  if [ "${VMKEEP_REQUIRE_PKG:-0}" = 1 ]; then bail_out "$* (VMKEEP_REQUIRE_PKG=1)"; fi
  if [ "${VMKEEP_REQUIRE_E2E:-0}" = 1 ]; then bail_out "$* (VMKEEP_REQUIRE_E2E=1)"; fi
  skip_all "$*"
}

# The version configure was run with.
package_version () {
  sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$abs_top_builddir/config.h"
}

# make_tree DIR: the exact content of the release tarball, in DIR (what
# 'make dist' packs). Serialised: two tests must not run po's dist rules at
# once. DIST_DEPENDS_ON_UPDATE_PO=no keeps po/*.po in the source tree
# untouched.
make_tree () {
  local lock
  lock="${TMPDIR:-/tmp}/vmkeep-distdir-$(printf '%s' "$abs_top_builddir" | md5sum | cut -c1-12).lock"
  # distdir relative to the build directory: automake's rules for po/
  # handle only relative ones.
  mkdir -p "$(dirname "$1")"
  local rel
  rel=$(realpath -m --relative-to="$abs_top_builddir" "$1")
  flock "$lock" make -s -C "$abs_top_builddir" distdir distdir="$rel" \
    DIST_DEPENDS_ON_UPDATE_PO=no >"$WORK/distdir.log" 2>&1
}

# Rendered man page as plain ASCII text, one line per paragraph line, no
# hyphenation, no wrapping of long lines.
render_man () {
  groff -man -Tascii -P-c -P-b -P-o -P-u -rLL=300n -rHY=0 "$1" 2>/dev/null
}
