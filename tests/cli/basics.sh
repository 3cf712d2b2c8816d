#!/bin/bash
# CLI behaviour: global options, help, create --print-xml, bad input, exit codes.
. "$(dirname "$0")/lib.sh"
set -e

run --version
expect_rc 0 "--version"
check "--version prints the package version" contains "$OUT" "vmkeep 0."

run --help
expect_rc 0 "--help"
for c in create pin define layout list start stop undefine; do
  check "--help lists $c" contains "$OUT" "  $c "
done

run help create
expect_rc 0 "help create"
check "help create documents --memory and --print-xml" sh -c 'contains () { case "$1" in *"$2"*) return 0;; esac; return 1; }; contains "$1" --memory && contains "$1" --print-xml' _ "$OUT"

run frobnicate
expect_rc 2 "unknown command is a usage error"
check "unknown command message says what to do" contains "$ERR" "vmkeep: error: unknown command 'frobnicate' (see 'vmkeep --help'"

# pc: NICs sit in 0x03/0x04, everything else in 0x10+.
run create demo --memory 256 --vcpus 1 --nic bridge=br0 --nic bridge=br0 \
    --disk /var/lib/vmkeep/demo.qcow2 --machine pc --virt-type qemu --rng --print-xml
expect_rc 0 "create --print-xml (pc)"
nic_slots=$(xpath "//interface/address/@slot" | tr -d ' ' | sed 's/slot=//g; s/"//g' | tr '\n' ' ')
check "pc NICs at 0x03 and 0x04 (got: $nic_slots)" test "$(echo $nic_slots)" = "0x03 0x04"
others=$(xpath "//devices/*[not(self::interface)]/address[@type='pci']/@slot" | sed 's/slot=//g; s/"//g')
bad=0; for s in $others; do [ $((s)) -ge 16 ] || bad=1; done
check "pc: every other PCI device at 0x10+ (got: $(echo $others))" test "$bad" = 0 -a -n "$others"
check "pc: ACPI index 1 and 2" test "$(xpath 'string(//interface[1]/acpi/@index)')$(xpath 'string(//interface[2]/acpi/@index)')" = 12
check "pc: implicit USB controller disabled" test "$(xpath "string(//controller[@type='usb']/@model)")" = none

# q35: one root port per NIC in the NIC range plus 4 spare NIC ports.
run create demo --memory 256 --nic bridge=br0 --nic bridge=br0 \
    --disk /var/lib/vmkeep/demo.qcow2 --machine q35 --virt-type qemu --print-xml
expect_rc 0 "create --print-xml (q35)"
ports=$(xpath "//controller[@model='pcie-root-port']/address/@slot" | sed 's/slot=//g; s/"//g' | tr '\n' ' ')
nicports=0; for s in $ports; do [ $((s)) -ge 3 ] && [ $((s)) -le 15 ] && nicports=$((nicports + 1)); done
check "q35: 2 NIC ports + 4 spare ports in 0x03-0x0f (got $nicports: $ports)" test "$nicports" = 6
bus1=$(xpath "string(//interface[1]/address/@bus)")
port1=$(xpath "string(//controller[@index=$((bus1))]/address/@slot)")
check "q35: first NIC behind the port at 0x03 (bus $bus1, port $port1)" test "$port1" = 0x03

# Bad input: clear message, documented exit code, nothing defined.
run create 'bad/name' --memory 256 --print-xml
expect_rc 2 "name with / refused"
check "bad name message names the input" contains "$ERR" "bad/name"
run create demo --memory 256 --nic bridge=br0,mac=01:00:5e:00:00:01 --print-xml
expect_rc 2 "multicast MAC refused"
run create demo --memory lots --print-xml
expect_rc 2 "bad memory size refused"

nics=""; for i in $(seq 14); do nics="$nics --nic bridge=br0"; done
run create demo --memory 256 --machine pc $nics --print-xml
expect_rc 1 "14th NIC in the 13-slot range fails"
check "capacity error names the range and config key" sh -c 'case "$1" in *nic-slots*0x03-0x0f*) exit 0;; esac; exit 1' _ "$ERR"

# Config file: a narrower NIC range from VMKEEP_CONFIG.
printf '[vmkeep]\nnic-slots=0x03-0x04\nmachine=pc\n' >"$WORK/narrow.conf"
VMKEEP_CONFIG="$WORK/narrow.conf" run create demo --memory 256 --nic bridge=a --nic bridge=b --nic bridge=c --print-xml
expect_rc 1 "config nic-slots limits the NICs"
printf '[vmkeep]\nslots=1\n' >"$WORK/bad.conf"
VMKEEP_CONFIG="$WORK/bad.conf" run list
expect_rc 2 "unknown config key is a usage error"

# An empty URI would be libvirt's default, not what was meant.
for a in "-c ''" "--connect="; do
  if [ "$a" = "--connect=" ]; then run --connect= list; else run -c '' list; fi
  expect_rc 2 "$a refused"
  check "$a: the error asks for a URI" contains "$ERR" "needs a libvirt URI"
done

# watch checks its option before it connects: a value taken by mistake
# would start a watcher that runs on (bounded here).
for v in -1 0 86401 5s ''; do
  set +e
  timeout 20 "$VMKEEP" -c "$TEST_URI" watch --min-interval "$v" >"$WORK/out" 2>"$WORK/err"
  RC=$?
  set -e
  OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
  expect_rc 2 "watch --min-interval '$v' refused"
done
check "watch: the error names the value and the range" contains "$ERR" \
  "--min-interval '' is not a number of seconds from 1 to 86400"

done_testing
