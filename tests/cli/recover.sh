#!/bin/bash
# vmkeep recover, and the same recovery every state-changing command runs
# first: a journal left by a run that died (its lock free) is listed with
# what undoing does, undone with --apply or by the next command that
# changes state, only warned about by commands that read; a journal whose
# run is alive (lock held) is left alone; one of another libvirt
# connection is refused with the -c to use. The journals here are written
# by hand, in the documented format (vmkeep(1), recover), with steps on
# files of the test's own: the kill itself is the e2e fault tests' job.
. "$(dirname "$0")/lib.sh"

STORE=$WORK/store
printf '[vmkeep]\nstore=%s\nuri=%s\n' "$STORE" "$TEST_URI" >"$WORK/vmkeep.conf"
export VMKEEP_CONFIG=$WORK/vmkeep.conf
mkdir -p -m 0700 "$STORE" "$STORE/journal"

# journal NAME URI FILE...: an orphaned clone journal whose undo unlinks
# each FILE, as a killed clone of 'web2' leaves it
journal () {
  local name=$1 uri=$2; shift 2
  local steps="" f
  for f in "$@"; do
    steps="$steps${steps:+,}{\"kind\":\"unlink\",\"args\":[\"$f\"]}"
  done
  printf '{"version":1,"op":"clone","subject":"web2","pid":4242,"started":"2026-12-01T01:30:00Z","facts":{"uri":"%s"},"undo":[%s]}\n' \
    "$uri" "$steps" >"$STORE/journal/$name.json"
}

run recover
expect_rc 0 "recover with nothing left"
check "it says there is nothing to recover" contains "$OUT" "Nothing to recover"

touch "$WORK/overlay1" "$WORK/overlay2"
journal clone-4242-0000aaaa "$TEST_URI" "$WORK/overlay1" "$WORK/overlay2"
run recover
expect_rc 0 "recover lists an orphaned journal"
check "names the run and its subject" contains "$OUT" "interrupted clone of 'web2'"
check "shows the steps, newest first" \
  test "$(printf '%s\n' "$OUT" | grep -n 'undo: unlink' | head -1 | grep -c overlay2)" = 1
check "listing changes nothing" test -e "$WORK/overlay1" -a -e "$WORK/overlay2"

run --json recover
expect_rc 0 "recover --json"
check "one item, pending, action undo" \
  test "$(json 'len(d["items"]), d["items"][0]["result"], d["items"][0]["action"]')" = "1 pending undo"

# a reading command warns and changes nothing
run list --all
expect_rc 0 "list with an orphaned journal"
check "list warns with the command to run" contains "$ERR" "vmkeep recover --apply"
check "list changes nothing" test -e "$WORK/overlay1"

# while its run is alive (lock held), nothing touches it
touch "$STORE/journal/clone-4242-0000aaaa.lock"
set +e
flock -n "$STORE/journal/clone-4242-0000aaaa.lock" "$VMKEEP" recover --apply >"$WORK/out" 2>&1
RC=$?
set -e
OUT=$(cat "$WORK/out")
expect_rc 0 "recover --apply while the journal's run is alive"
check "a live run's journal is not listed" contains "$OUT" "Nothing to recover"
check "its files stay" test -e "$WORK/overlay1" -a -e "$WORK/overlay2"

run recover --apply
expect_rc 0 "recover --apply"
check "reports done" contains "$OUT" "done"
check "the undo ran" test ! -e "$WORK/overlay1" -a ! -e "$WORK/overlay2"
check "the journal and its lock are gone" test -z "$(ls -A "$STORE/journal")"
run recover
check "nothing left afterwards" contains "$OUT" "Nothing to recover"

# a command that changes state finishes it first, and says so
touch "$WORK/overlay3"
journal clone-4242-0000bbbb "$TEST_URI" "$WORK/overlay3"
run tag test add web
expect_rc 0 "tag add with an orphaned journal"
check "it names the run it finished" contains "$ERR" "finished an interrupted clone of 'web2'"
check "the undo ran first" test ! -e "$WORK/overlay3"
touch "$WORK/overlay4"
journal clone-4242-0000cccc "$TEST_URI" "$WORK/overlay4"
run -q tag test add web
check "-q: finished silently" test -z "$ERR" -a ! -e "$WORK/overlay4"

# a journal of another connection is refused, naming the -c to use
touch "$WORK/remote"
journal clone-4242-0000dddd "qemu+ssh://elsewhere/system" "$WORK/remote"
run recover --apply
expect_rc 5 "recover --apply of another connection's journal"
check "names the -c option" contains "$ERR" "vmkeep -c qemu+ssh://elsewhere/system recover --apply"
check "changes nothing" test -e "$WORK/remote" -a -e "$STORE/journal/clone-4242-0000dddd.json"
run tag test add web
expect_rc 0 "other commands go on"
check "with a warning" contains "$ERR" "could not be finished"
rm -f "$STORE/journal/clone-4242-0000dddd.json"

# wake --image NAME after a hibernate into NAME was killed: the recovery
# it begins with finishes that hibernate (here: its partial image goes,
# the VM never stopped), and the wake says so and succeeds
hibernate_journal () {
  mkdir -p -m 0711 "$STORE/images"
  mkdir "$STORE/images/.nightly1.partial-x"
  touch "$STORE/images/.nightly1.partial-x/state.sav"
  printf '{"version":1,"op":"hibernate","subject":"nightly1","pid":4242,"started":"2026-12-01T01:30:00Z","facts":{"uri":"%s"},"undo":[{"kind":"rmtree","args":["%s"]}]}\n' \
    "$TEST_URI" "$STORE/images/.nightly1.partial-x" >"$STORE/journal/hibernate-4242-0000eeee.json"
}
hibernate_journal
run wake --image nightly1
expect_rc 0 "wake --image of an interrupted hibernate"
check "it finishes the hibernate first" contains "$ERR" "finished an interrupted hibernate of 'nightly1'"
check "and says the VM is back" contains "$OUT" "image 'nightly1' had been interrupted"
check "the partial image and the journal are gone" \
  test ! -e "$STORE/images/.nightly1.partial-x" -a ! -e "$STORE/journal/hibernate-4242-0000eeee.json"
run wake --image nightly1
expect_rc 4 "a second wake --image: there is no such image"
hibernate_journal
run --json wake --image nightly1
expect_rc 0 "wake --image --json of an interrupted hibernate"
check "--json: one result, ok, mode recovered" \
  test "$(json 'len(d), d[0]["ok"], d[0]["mode"]')" = "1 True recovered"

# a journal this vmkeep cannot read is named, and left alone
printf '{"version":99}' >"$STORE/journal/clone-1-00000001.json"
run recover
check "an unreadable journal is named" contains "$ERR" "clone-1-00000001.json"
check "and kept" test -e "$STORE/journal/clone-1-00000001.json"

run recover extra
expect_rc 2 "recover takes no arguments"

done_testing
