#!/bin/bash
# layout / define / pin / list / start / stop / undefine against the test driver.
. "$(dirname "$0")/lib.sh"
set -e
NODE="test://$DATA/node.xml"

run -c "$NODE" layout plain
expect_rc 0 "layout shows the table of a non-compliant domain"
check "table has the NIC at 0x03 with its MAC" contains "$OUT" "0000:00:03.0  interface 52:54:00:00:00:01"
check "table marks the disk in the NIC range" contains "$OUT" "disk vda"

run -c "$NODE" layout --check plain
expect_rc 5 "layout --check on a plainly laid out domain"
check "violation names the disk in the NIC range" sh -c 'case "$1" in *"disk vda at 0000:00:04.0 is on root slot 0x04, in the NIC range"*) exit 0;; esac; exit 1' _ "$OUT"
check "violation names the balloon" contains "$OUT" "memballoon virtio at 0000:00:05.0"
check "violation names the missing ACPI index" contains "$OUT" "has no ACPI index"

run -c "$NODE" layout --check pinned
expect_rc 0 "layout --check on a pinned domain"
check "says it complies" contains "$OUT" "pinned: layout complies"

run -c "$NODE" layout --check --all
expect_rc 5 "layout --check --all audits every domain and fails on one"
check "--all covers both domains" sh -c 'case "$1" in *pinned:*plain:*) exit 0;; esac; exit 1' _ "$OUT"

run -c "$NODE" --json layout plain
expect_rc 0 "layout --json"
check "JSON: not compliant" test "$(json 'd["compliant"]')" = False
check "JSON: NIC row with MAC and slot" test "$(json '[r["slot"] for r in d["devices"] if r["kind"]=="nic"][0] + " " + [r["mac"] for r in d["devices"] if r["kind"]=="nic"][0]')" = "0x03 52:54:00:00:00:01"
check "JSON: 3 violations listed" test "$(json 'len(d["violations"])')" = 3

run -c "$NODE" layout nosuchdomain
expect_rc 4 "layout of a missing domain is 'not found'"
check "not-found message says how to list domains" contains "$ERR" "vmkeep list --all"

run -c "$NODE" --json list --all
expect_rc 0 "list --all --json"
check "JSON list has both domains with states" test "$(json '",".join(x["name"]+":"+x["state"] for x in d)')" = "pinned:shut off,plain:running"

run -c "$NODE" list
expect_rc 0 "list shows running domains"
check "list omits the shut-off one" sh -c 'case "$1" in *pinned*) exit 1;; *plain*) exit 0;; esac; exit 1' _ "$OUT"

run -c "$NODE" undefine plain
expect_rc 5 "undefine of a running domain is refused"
check "refusal says how to proceed" contains "$ERR" "vmkeep stop plain"
run -c "$NODE" undefine --force plain
expect_rc 0 "undefine --force"

run -c "$NODE" stop --timeout 0 --force plain nosuch
expect_rc 4 "batch stop continues past a missing domain and exits with the worst code"
check "the existing domain was stopped" contains "$OUT" "Domain 'plain' stopped"

run -c "$NODE" start pinned
expect_rc 0 "start"

# define: pin first; a non-compliant layout is refused unless --relayout.
run -c "$NODE" define "$DATA/cloudstack.xml"
expect_rc 5 "define refuses the CloudStack layout"
check "error lists the misplaced devices" sh -c 'case "$1" in *"controller virtio-serial 0 at 0000:00:05.0"*"--relayout"*) exit 0;; esac; exit 1' _ "$ERR"

run -c "$NODE" --json define --relayout "$DATA/cloudstack.xml"
expect_rc 0 "define --relayout"
check "define --json names the domain" test "$(json 'd["name"]')" = cloudstack

run pin --relayout "$DATA/cloudstack.xml"
expect_rc 0 "pin --relayout"
check "CloudStack NICs stay at 0x03/0x04" test "$(xpath "string(//interface[1]/address/@slot)") $(xpath "string(//interface[2]/address/@slot)")" = "0x03 0x04"
check "the watchdog moved to 0x10+" test $(( $(xpath "string(//watchdog/address/@slot)") )) -ge 16
check "MACs kept" test "$(xpath "string(//interface[1]/mac/@address)")" = 02:01:01:76:01:35

run pin - < "$DATA/cloudstack.xml"
expect_rc 5 "pin from stdin refuses without --relayout"

run pin "$WORK/missing.xml"
expect_rc 4 "pin of a missing file is 'not found'"

printf '<domain><name>x</name>' >"$WORK/broken.xml"
run pin "$WORK/broken.xml"
expect_rc 2 "malformed XML is a usage error"
check "malformed XML message names the file and line" contains "$ERR" "broken.xml is not well-formed XML (line"

run -c test:///default create demo --memory 256 --nic network=default --disk /guest/demo.img --virt-type qemu --machine pc
expect_rc 0 "create defines on the test driver and verifies the read-back layout"
run -c test:///default create demo --memory 256 --nic network=nonet --virt-type qemu
expect_rc 4 "create with an unknown network is 'not found'"
run -c test:///default create test --memory 256 --virt-type qemu
expect_rc 5 "create refuses an existing name"

done_testing
