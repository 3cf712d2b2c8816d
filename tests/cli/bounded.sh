#!/bin/bash
# tests/bounded.sh, the time budget every shell test runs under: a test
# within its budget passes through unchanged; one past it fails at once
# with "Bail out!" and what it was waiting for, its exit trap runs (its
# cleanup), and nothing of it is left running.
. "$(dirname "$0")/lib.sh"
set -e
bounded=$abs_top_srcdir/tests/bounded.sh
ERR=   # check's diagnostics show OUT and ERR

printf 'echo "1..1"\necho "ok 1 - quick"\nexit 3\n' >"$WORK/quick.sh"
set +e
OUT=$(VMKEEP_TEST_TIMEOUT=30 bash "$bounded" "$WORK/quick.sh")
RC=$?
set -e
check "within its budget: the test's exit status passes through" test "$RC" = 3
check "within its budget: its output passes through" contains "$OUT" "ok 1 - quick"
# (whole seconds of bash's SECONDS: a loaded machine may count one)
check "within its budget: its time is noted" grep -Eq "quick.sh: [0-5] s of a budget of 30 s" <<<"$OUT"

cat >"$WORK/hang.sh" <<EOF
echo "1..2"
echo "ok 1 - first"
trap 'echo "# the exit trap ran"; exit 143' TERM
sleep 300 &
echo \$! >"$WORK/child.pid"
wait
echo "ok 2 - never"
EOF
t0=$SECONDS
set +e
OUT=$(VMKEEP_TEST_TIMEOUT=2 E2E_URI=test:///default bash "$bounded" "$WORK/hang.sh")
RC=$?
set -e
took=$((SECONDS - t0))
check "past its budget: exit status 124" test "$RC" = 124
check "past its budget: Bail out! names the test and the budget" contains "$OUT" \
  "Bail out! $WORK/hang.sh did not finish within 2 s (VMKEEP_TEST_TIMEOUT)"
check "past its budget: what it waited for is listed" contains "$OUT" "sleep 300"
check "past its budget: its exit trap ran" contains "$OUT" "# the exit trap ran"
# gone: no such process, or a zombie its new parent has yet to reap
gone() {
  local end=$((SECONDS + 5))
  while [ -e "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.1
  done
}
check "past its budget: its children are gone" gone "$(cat "$WORK/child.pid")"
check "past its budget: it ended within 30 s (took $took s)" test "$took" -lt 30

set +e
OUT=$(VMKEEP_TEST_TIMEOUT=soon bash "$bounded" "$WORK/quick.sh" 2>&1)
RC=$?
set -e
check "a budget that is no number: exit 2" test "$RC" = 2
check "... saying so" contains "$OUT" "VMKEEP_TEST_TIMEOUT must be a number of seconds, not 'soon'"

done_testing
