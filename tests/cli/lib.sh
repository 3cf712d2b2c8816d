# Shared TAP helpers for the CLI tests (sourced). They run the built binary
# against libvirt's test driver, which keeps addresses but does not assign
# them, and whose state lives only as long as one vmkeep process.
set -u
set -o pipefail

: "${abs_top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${abs_top_builddir:=$abs_top_srcdir}"
: "${VMKEEP:=$abs_top_builddir/vmkeep}"
export LC_ALL=C.UTF-8 LANGUAGE=

TEST_URI=test:///default
DATA="$abs_top_srcdir/tests/data/cli"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmkeep-cli.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# The defaults, but a store of the test's own: commands that change a
# domain take its lock there, never in the host's store.
if [ -z "${VMKEEP_CONFIG:-}" ] || [ "$VMKEEP_CONFIG" = /dev/null ]; then
  printf '[vmkeep]\nstore=%s/store\n' "$WORK" >"$WORK/defaults.conf"
  export VMKEEP_CONFIG=$WORK/defaults.conf
fi
_n=0
_failed=0

plan () { echo "1..$1"; }
ok () { _n=$((_n + 1)); echo "ok $_n - $*"; }
not_ok () { _n=$((_n + 1)); _failed=$((_failed + 1)); echo "not ok $_n - $*"; }
diag () { printf '%s\n' "$@" | sed 's/^/# /'; }

# run ARGS...: runs vmkeep, leaving stdout in $OUT, stderr in $ERR, status in $RC
run () {
  set +e
  "$VMKEEP" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
  set -e
  OUT=$(cat "$WORK/out")
  ERR=$(cat "$WORK/err")
}

# expect_rc N DESCRIPTION: checks the status of the last run
expect_rc () {
  if [ "$RC" = "$1" ]; then ok "$2 (exit $1)"; else
    not_ok "$2: expected exit $1, got $RC"; diag "stdout: $OUT" "stderr: $ERR"; fi
}

# check DESCRIPTION CMD...: ok when CMD succeeds
check () {
  local d=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$d"; else not_ok "$d"; diag "failed: $*" "stdout: $OUT" "stderr: $ERR"; fi
}

contains () { case "$1" in *"$2"*) return 0 ;; esac; return 1; }

# xpath EXPR: evaluates on $OUT (XML) and prints the result
xpath () { printf '%s' "$OUT" | xmllint --xpath "$1" - 2>/dev/null; }

# json EXPR: evaluates a python expression on the JSON document in $OUT (as d)
json () { printf '%s' "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# done_testing: prints the plan after the tests (valid TAP) and sets status
done_testing () {
  echo "1..$_n"
  [ "$_failed" -eq 0 ]
}
