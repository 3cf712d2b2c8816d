#!/bin/bash
# One lock policy: every command that changes a domain holds the domain's
# lock in the store, so while another vmkeep holds it (here: flock on
# STORE/locks/UUID.lock, what a running hibernate or fork holds) each of
# them exits 3 at once, says so, and changes nothing. Reading commands
# (layout, list, tag list) do not wait for it.
. "$(dirname "$0")/lib.sh"

STORE=$WORK/store
printf '[vmkeep]\nstore=%s\n' "$STORE" >"$WORK/vmkeep.conf"
export VMKEEP_CONFIG=$WORK/vmkeep.conf
# the test driver's domain "test" (running) and its fixed UUID
UUID=6695eb01-f6a4-8304-79aa-97f2502e193f
mkdir -p -m 0700 "$STORE" "$STORE/locks"

# held VMKEEP-ARGS...: runs vmkeep while another process holds the lock.
held () {
  set +e
  flock -n "$STORE/locks/$UUID.lock" "$VMKEEP" -c "$TEST_URI" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
  set -e
  OUT=$(cat "$WORK/out"); ERR=$(cat "$WORK/err")
}
# the lock file exists once the store was used; create it as vmkeep would
run -c "$TEST_URI" tag test add warmup
expect_rc 0 "tag add without a holder"

for args in "stop test --force --timeout 0" "start test" "undefine test --force" \
            "tag test add web" "tag test remove web" \
            "nic add test --network default --config"; do
  # shellcheck disable=SC2086
  held $args
  expect_rc 3 "$args while another vmkeep holds the domain"
  check "$args: the message says another vmkeep is working" contains "$ERR" "another vmkeep"
done

# a redefinition changes the domain too
virsh -q -c "$TEST_URI" dumpxml test >"$WORK/test.xml"
held define --relayout "$WORK/test.xml"
expect_rc 3 "define of an existing domain while another vmkeep holds it"

held layout test
expect_rc 0 "layout (reading) does not wait for the lock"
held tag test list
expect_rc 0 "tag list (reading) does not wait for the lock"
held list --all
expect_rc 0 "list does not wait for the lock"

done_testing
