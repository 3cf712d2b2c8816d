#!/bin/bash
# e2e: runtime attach of virtiofs filesystems and VFIO host devices
# (`vmkeep fs attach|detach`, `vmkeep device attach|detach`, `vmkeep devices`;
# the story is shared/seeds/cocoon-device-attach-pr.txt).
#
# Two guests made by `vmkeep create --shared-memory`, running at once:
#   q35  a host directory attached live with --source (libvirt starts
#        virtiofsd): the guest mounts the tag and prints the file the test
#        wrote on the host; the device sits behind the lowest empty root port
#        of the device range (0x10-0x1f), in libvirt's XML, in `vmkeep
#        devices` and `layout --check`; a duplicate tag is refused (exit 5);
#        hibernate is refused (exit 5) naming the tag, and the VM keeps
#        running (same boot, ticks go on, no managed save); detach removes it
#        from the guest and libvirt and stops libvirt's virtiofsd; a second
#        attach reuses the freed port; --config attaches to the persistent
#        definition only, and detach restores it byte for byte.
#   pc   the same with --socket and a virtiofsd the test starts itself
#        (e2e_spawn): the device lands on the lowest free root-bus slot of
#        the device range; a socket QEMU may not connect to fails with a
#        message saying how to fix it, and changes nothing.
# Refusals that change nothing: a guest without shared memory (exit 5,
# naming --shared-memory); VFIO with a BDF the host does not have (exit 4)
# and with a real host PCI device not bound to vfio-pci (exit 5, naming its
# driver and the rebind commands); malformed BDFs, paths and tags are
# refused (exit 2) before libvirt is even contacted. A PCI hostdev in a
# persistent definition (a BDF the host does not have; never started, so
# nothing is passed through) is listed by `vmkeep devices` and removed by
# `vmkeep device detach DOMAIN ID`.
#
# The test never unbinds, rebinds or passes through a host device.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed to read --json output"
command -v xmllint >/dev/null || bail_out "xmllint (libxml2-utils) is needed"

virtiofsd=$(e2e_virtiofsd)
[ -n "$virtiofsd" ] || bail_out "virtiofsd not found (Debian 12: qemu-system-common)"

store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store" >"$conf"
export VMKEEP_CONFIG=$conf

vk() { "$VMKEEP" "$@"; }
vsh() { e2e_virsh "$@"; }

cmdline="$VK_CMDLINE vk.fill=1"
# QEMU's group (libvirt-qemu:kvm on Debian): a virtiofsd socket in it is
# one QEMU may connect to.
qgroup=$(id -gn libvirt-qemu 2>/dev/null || echo kvm)

# ------------------------------------------------------------ helpers ---

# run_rc CMD...: run CMD, its combined output in RUN_OUT, status in RUN_RC.
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

# refused DESC RC ERE CMD...: CMD exits RC with a message matching ERE.
refused() {
	local desc=$1 rc=$2 re=$3
	shift 3
	run_rc "$@"
	is "$RUN_RC" "$rc" "$desc: exit $rc"
	like "$RUN_OUT" "$re" "$desc: message says /$re/"
}

same_files() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diag "$(diff -u "$2" "$3" | head -n 30)"
	fi
}

# snapshot DOMAIN NAME: live and persistent XML into $E2E_DIR/NAME.{live,cfg}
snapshot() {
	vsh dumpxml "$1" >"$E2E_DIR/$2.live"
	vsh dumpxml --inactive "$1" >"$E2E_DIR/$2.cfg"
}

# unchanged DESC DOMAIN NAME: both definitions equal the snapshot NAME.
unchanged() {
	snapshot "$2" "$3.after"
	same_files "$1: running definition unchanged" "$E2E_DIR/$3.live" "$E2E_DIR/$3.after.live"
	same_files "$1: persistent definition unchanged" "$E2E_DIR/$3.cfg" "$E2E_DIR/$3.after.cfg"
}

# wait_tick_with LOG OFFSET ERE [TIMEOUT]
# shellcheck disable=SC2317 # called through check_as
wait_tick_with() {
	e2e_wait_line "$1" "^VKTICK .*$3.* END\$" "${4:-60}" "$2"
}

# wait_tick_without LOG OFFSET ERE [TIMEOUT]: a complete tick past OFFSET
# that does not match ERE.
# shellcheck disable=SC2317
wait_tick_without() {
	local log=$1 off=$2 re=$3 timeout=${4:-60} end
	end=$((SECONDS + timeout))
	while :; do
		tail -c +"$((off + 1))" "$log" 2>/dev/null | tr -d '\r' | grep '^VKTICK .* END$' |
			grep -Evq -- "$re" && return 0
		[ "$SECONDS" -lt "$end" ] || { _e2e_log_tail "$log"; return 1; }
		sleep 0.5
	done
}

# fs_addr XMLFILE TAG: the filesystem's guest PCI address DDDD:BB:SS.F.
fs_addr() {
	local a="/domain/devices/filesystem[target/@dir='$2']/address" bus slot fn
	bus=$(xmllint --xpath "string($a/@bus)" "$1" 2>/dev/null || true)
	slot=$(xmllint --xpath "string($a/@slot)" "$1" 2>/dev/null || true)
	fn=$(xmllint --xpath "string($a/@function)" "$1" 2>/dev/null || true)
	if [ -z "$slot" ]; then
		echo none
		return 0
	fi
	printf '0000:%02x:%02x.%x\n' $((bus)) $((slot)) $((${fn:-0}))
}

# root_slot XMLFILE ADDR: the root-bus slot (decimal) ADDR hangs off.
root_slot() {
	local f=$1 bus slot c
	bus=$((16#$(echo "$2" | cut -d: -f2)))
	slot=$((16#$(echo "$2" | cut -d: -f3 | cut -d. -f1)))
	if [ "$bus" = 0 ]; then
		echo "$slot"
		return 0
	fi
	c="/domain/devices/controller[@type='pci' and @index='$bus']"
	[ "$(xmllint --xpath "string($c/@model)" "$f" 2>/dev/null)" = pcie-root-port ] || { echo -1; return 0; }
	echo $(($(xmllint --xpath "string($c/address/@slot)" "$f" 2>/dev/null || echo -1)))
}

# in_device_range DESC SLOT
in_device_range() {
	if [ "$2" -ge 16 ] && [ "$2" -le 31 ]; then
		ok "$1 (root slot $(printf 0x%02x "$2"))"
	else
		not_ok "$1"
		diag "root slot $2"
	fi
}

# devices_json DOMAIN: `vmkeep --json devices` as "kind name id address
# live config" lines.
devices_rows() {
	vk --json devices "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in d["devices"]:
    print(r["kind"], r.get("tag") or r.get("bdf"), r["id"] or "-", r["address"] or "-",
          "live" if r["live"] else "-", "config" if r["config"] else "-")'
}

# lowest_empty_port XMLFILE: root slot (decimal) of the lowest empty
# pcie-root-port in the device range.
lowest_empty_port() {
	python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
devs = ET.parse(sys.argv[1]).getroot().find("devices")
used = set()
for d in devs:
    a = d.find("address")
    if a is not None and a.get("type") == "pci" and int(a.get("bus"), 0) != 0:
        used.add(int(a.get("bus"), 0))
best = None
for c in devs.findall("controller"):
    if c.get("model") != "pcie-root-port" or int(c.get("index")) in used:
        continue
    s = int(c.find("address").get("slot"), 0)
    if 0x10 <= s <= 0x1f and (best is None or s < best):
        best = s
print(best if best is not None else -1)
EOF
}

# shellcheck disable=SC2317 # called through check_as
q35_virtiofsd_gone() {
	! pgrep -f "virtiofsd.*source=${SHARE[q35]}" >/dev/null
}

# ------------------------------------------------------------- set up ---

declare -A DOM LOG SHARE PROBE TAG
for m in q35 pc; do
	DOM[$m]=$(e2e_name "$m")
	LOG[$m]=$E2E_DIR/$m.serial.log
	SHARE[$m]=$E2E_DIR/share-$m
	PROBE[$m]=vkprobe-$m-$$
	TAG[$m]=vkfs-$m
	mkdir -p "${SHARE[$m]}"
	echo "${PROBE[$m]}" >"${SHARE[$m]}/vk-probe.txt"
	chmod 0755 "${SHARE[$m]}"
	chmod 0644 "${SHARE[$m]}/vk-probe.txt"
	e2e_cleanup_domain "${DOM[$m]}"
done
NOSHM=$(e2e_name noshm)
NOSHMLOG=$E2E_DIR/noshm.serial.log
e2e_cleanup_domain "$NOSHM"

for m in q35 pc; do
	check_or_bail vk create "${DOM[$m]}" --machine "$m" --virt-type qemu --memory 256 \
		--shared-memory --no-balloon \
		--boot "kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$cmdline" \
		--serial-log "${LOG[$m]}" --start
done
check_or_bail vk create "$NOSHM" --machine q35 --virt-type qemu --memory 256 --no-balloon \
	--boot "kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$cmdline" \
	--serial-log "$NOSHMLOG" --start

# The virtiofsd the pc guest gets by --socket.
sock=$E2E_DIR/vfs-pc.sock
vfs_pid=$(e2e_spawn "$E2E_DIR/virtiofsd-pc.log" "$virtiofsd" --socket-path="$sock" \
	--socket-group="$qgroup" -o source="${SHARE[pc]}" -o cache=none)
for _ in $(seq 1 40); do [ -S "$sock" ] && break; sleep 0.25; done
check_as "pc: virtiofsd listens on $sock" test -S "$sock"

# ---------------------------- refused before libvirt is contacted -------

# A URI nothing answers at: a command that got that far would exit 1.
dead_uri="qemu:///system?socket=$E2E_DIR/no-libvirtd.sock"
for bad in /dev/null /sys/bus/pci/devices/../../../dev/null ../0000:00:01.0 \
	/sys/bus/pci/devices/0000:00:01.0/config /sys/bus/pci/devices/00:01.0 \
	"00:01.0 " 00:01.0x 0:01.0 0000:01:00 00:20.0 00:01.8 10000:00:01.0 ""; do
	run_rc vk -c "$dead_uri" device attach "${DOM[q35]}" --pci "$bad"
	is "$RUN_RC" 2 "device attach --pci '$bad' refused as a usage error, libvirt not contacted"
done
refused "device attach --id with a '.'" 2 "device ID" \
	vk -c "$dead_uri" device attach "${DOM[q35]}" --pci 00:01.0 --id a.b
for bad in "" "a/b" ".hidden" "$(printf 't%.0s' $(seq 1 37))" "tag with space"; do
	run_rc vk -c "$dead_uri" fs attach "${DOM[q35]}" --tag "$bad" --source "${SHARE[q35]}"
	is "$RUN_RC" 2 "fs attach --tag '$bad' refused as a usage error, libvirt not contacted"
done
refused "fs attach with both --socket and --source" 2 "exactly one" \
	vk -c "$dead_uri" fs attach "${DOM[q35]}" --tag t --socket "$sock" --source "${SHARE[q35]}"
refused "fs attach --queue-size 1000" 2 "power of two" \
	vk -c "$dead_uri" fs attach "${DOM[q35]}" --tag t --source "${SHARE[q35]}" --queue-size 1000

# -------------------------------------------------- guests are up -------

for m in q35 pc; do
	check_as "$m: guest ticks" e2e_wait_ticks_from "${LOG[$m]}" 0 2 150
done
check_as "noshm: guest ticks" e2e_wait_ticks_from "$NOSHMLOG" 0 1 150

# ------------------------------------------ no shared memory: refused ---

snapshot "$NOSHM" noshm
refused "noshm: fs attach to a VM without shared memory" 5 "--shared-memory" \
	vk fs attach "$NOSHM" --tag t --source "${SHARE[q35]}"
unchanged "noshm" "$NOSHM" noshm
vsh destroy "$NOSHM" >/dev/null 2>&1 || true # done: free the CPU

# ------------------------------------------------- socket problems (pc) ---

d=${DOM[pc]}
snapshot "$d" pc-0
refused "pc: fs attach --socket to a missing socket" 4 "does not exist" \
	vk fs attach "$d" --tag t --socket "$E2E_DIR/nosuch.sock"
refused "pc: fs attach --socket to a regular file" 2 "not a socket" \
	vk fs attach "$d" --tag t --socket "${SHARE[pc]}/vk-probe.txt"
# A virtiofsd whose socket only root may use: QEMU cannot connect.
rsock=$E2E_DIR/vfs-rootonly.sock
e2e_spawn "$E2E_DIR/virtiofsd-rootonly.log" "$virtiofsd" --socket-path="$rsock" \
	-o source="${SHARE[pc]}" >/dev/null
for _ in $(seq 1 40); do [ -S "$rsock" ] && break; sleep 0.25; done
run_rc vk fs attach "$d" --tag t --socket "$rsock"
isnt "$RUN_RC" 0 "pc: fs attach to a socket QEMU may not use fails"
like "$RUN_OUT" "absent in the running VM" "pc: ... the message says the filesystem is absent"
like "$RUN_OUT" "socket-group" "pc: ... and how to let QEMU connect"
unchanged "pc: the failed attach" "$d" pc-0

# ---------------------------------------------- live attach, both ways ---

declare -A OFF BOOT ADDR
snapshot "${DOM[q35]}" q35-0
want_q35=$(lowest_empty_port "$E2E_DIR/q35-0.live")
for m in q35 pc; do
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
	BOOT[$m]=$(e2e_boot_id "${LOG[$m]}")
done
check_as "q35: vmkeep fs attach --source (libvirt starts virtiofsd)" \
	vk fs attach "${DOM[q35]}" --tag "${TAG[q35]}" --source "${SHARE[q35]}"
check_as "pc: vmkeep fs attach --socket (our virtiofsd)" \
	vk fs attach "${DOM[pc]}" --tag "${TAG[pc]}" --socket "$sock" --queue-size 256

for m in q35 pc; do
	d=${DOM[$m]}
	check_as "$m: the guest mounts tag ${TAG[$m]} and reads the host's file" \
		wait_tick_with "${LOG[$m]}" "${OFF[$m]}" "fs=${TAG[$m]},yes,${PROBE[$m]}" 60
	line=$(e2e_last_tick_from "${LOG[$m]}" "${OFF[$m]}")
	is "$(e2e_tick_fs "$line" "${TAG[$m]}" || true)" "${TAG[$m]},yes,${PROBE[$m]}" \
		"$m: guest reports fs=${TAG[$m]},yes,${PROBE[$m]}"
	is "$(e2e_tick_boot "$line")" "${BOOT[$m]}" "$m: same boot (hot-plugged, no reboot)"
	snapshot "$d" "$m-1"
	ADDR[$m]=$(fs_addr "$E2E_DIR/$m-1.live" "${TAG[$m]}")
	rs=$(root_slot "$E2E_DIR/$m-1.live" "${ADDR[$m]}")
	in_device_range "$m: the filesystem's PCI address ${ADDR[$m]} is in the device range" "$rs"
	if [ "$m" = q35 ]; then
		is "$rs" "$want_q35" "q35: ... behind the lowest empty device-range root port"
	else
		is "${ADDR[$m]}" 0000:00:10.0 "pc: ... on the lowest free device slot 0x10"
	fi
	is "$(fs_addr "$E2E_DIR/$m-1.cfg" "${TAG[$m]}")" none "$m: live only (not in the persistent definition)"
	is "$(devices_rows "$d")" "filesystem ${TAG[$m]} - ${ADDR[$m]} live -" \
		"$m: vmkeep devices --json lists it, live only, at ${ADDR[$m]}"
	like "$(vk devices "$d")" "${TAG[$m]} .*${ADDR[$m]} +live *\$" "$m: vmkeep devices (table)"
	check_as "$m: vmkeep layout --check" vk layout --check "$d"
	refused "$m: a second filesystem with the same tag" 5 "already has a filesystem with tag" \
		vk fs attach "$d" --tag "${TAG[$m]}" --source "${SHARE[$m]}"
	unchanged "$m: the refused duplicate" "$d" "$m-1"
done
is "$(xmllint --xpath 'string(//filesystem/driver/@queue)' "$E2E_DIR/pc-1.live")" 256 \
	"pc: --queue-size 256 reached libvirt"
is "$(xmllint --xpath 'string(//filesystem/driver/@queue)' "$E2E_DIR/q35-1.live")" 1024 \
	"q35: default queue size 1024 pinned"
check_as "q35: libvirt started a virtiofsd for ${SHARE[q35]}" pgrep -f "virtiofsd.*source=${SHARE[q35]}"

# ---------------------------------------- hibernate refuses, VM runs on ---

for m in q35 pc; do
	d=${DOM[$m]}
	# The last tick before the mark: a tick past the mark is then a later one.
	n0=$(e2e_tick_n "$(e2e_last_tick "${LOG[$m]}")")
	off=$(e2e_log_size "${LOG[$m]}")
	refused "$m: vmkeep hibernate with a filesystem attached" 5 "filesystem ${TAG[$m]}" \
		vk hibernate "$d"
	like "$RUN_OUT" "vmkeep fs detach $d ${TAG[$m]}" "$m: ... naming the detach command"
	is "$(vsh domstate "$d" | head -n 1)" running "$m: the VM is still running"
	like "$(vsh dominfo "$d")" "Managed save: +no" "$m: no managed save was made"
	check_as "$m: the guest keeps ticking" e2e_wait_ticks_from "${LOG[$m]}" "$off" 1 30
	line=$(e2e_last_tick_from "${LOG[$m]}" "$off")
	is "$(e2e_tick_boot "$line")" "${BOOT[$m]}" "$m: same boot after the refused hibernate"
	if [ "$(e2e_tick_n "$line")" -gt "$n0" ]; then ok "$m: tick counter went on"; else not_ok "$m: tick counter went on"; fi
	is "$(e2e_tick_fs "$line" "${TAG[$m]}" || true)" "${TAG[$m]},yes,${PROBE[$m]}" "$m: still mounted"
done

# ------------------------------------------------------------ detach ---

for m in q35 pc; do
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
	check_as "$m: vmkeep fs detach" vk fs detach "${DOM[$m]}" "${TAG[$m]}"
done
for m in q35 pc; do
	d=${DOM[$m]}
	check_as "$m: the guest no longer sees ${TAG[$m]}" \
		wait_tick_without "${LOG[$m]}" "${OFF[$m]}" "fs=${TAG[$m]}," 60
	snapshot "$d" "$m-2"
	is "$(fs_addr "$E2E_DIR/$m-2.live" "${TAG[$m]}")" none "$m: gone from the running definition"
	is "$(devices_rows "$d")" "" "$m: vmkeep devices lists nothing"
	same_files "$m: the running definition is what it was before the attach" \
		"$E2E_DIR/$m-0.live" "$E2E_DIR/$m-2.live"
	refused "$m: detaching it again" 4 "has no filesystem with tag" vk fs detach "$d" "${TAG[$m]}"
done
for _ in $(seq 1 20); do pgrep -f "virtiofsd.*source=${SHARE[q35]}" >/dev/null || break; sleep 0.5; done
check_as "q35: libvirt's virtiofsd is gone" q35_virtiofsd_gone
for _ in $(seq 1 20); do kill -0 "$vfs_pid" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$vfs_pid" 2>/dev/null; then
	diag "pc: our virtiofsd still runs after the detach"
else
	diag "pc: our virtiofsd exited after QEMU disconnected (it serves one client)"
fi

# The freed port is the lowest empty one again: a new attach reuses it.
d=${DOM[q35]}
OFF[q35]=$(e2e_log_size "${LOG[q35]}")
check_as "q35: fs attach of a second tag" vk fs attach "$d" --tag vkfs-again --source "${SHARE[q35]}"
vsh dumpxml "$d" >"$E2E_DIR/q35-3.live"
is "$(fs_addr "$E2E_DIR/q35-3.live" vkfs-again)" "${ADDR[q35]}" "q35: it reuses the freed port (${ADDR[q35]})"
check_as "q35: the guest mounts it" wait_tick_with "${LOG[q35]}" "${OFF[q35]}" "fs=vkfs-again,yes,${PROBE[q35]}" 60
check_as "q35: fs detach --json" vk --json fs detach "$d" vkfs-again

# ------------------------------------- --config: persistent definition ---

snapshot "$d" q35-4
check_as "q35: fs attach --config (persistent only)" \
	vk fs attach "$d" --tag vkfs-cfg --source "${SHARE[q35]}" --config
snapshot "$d" q35-5
a=$(fs_addr "$E2E_DIR/q35-5.cfg" vkfs-cfg)
is "$(devices_rows "$d")" "filesystem vkfs-cfg - $a - config" "q35: vmkeep devices says config only"
in_device_range "q35: its persistent address $a is in the device range" "$(root_slot "$E2E_DIR/q35-5.cfg" "$a")"
is "$(fs_addr "$E2E_DIR/q35-5.live" vkfs-cfg)" none "q35: not in the running VM"
check_as "q35: layout --check --inactive" vk layout --check --inactive "$d"
check_as "q35: fs detach of the persistent filesystem" vk fs detach "$d" vkfs-cfg
unchanged "q35: attach --config + detach" "$d" q35-4

# ------------------------------------------------- VFIO: refusals -------

d=${DOM[q35]}
snapshot "$d" vfio
absent=
for b in 0000:7f:1f.7 0000:7e:1f.6 0000:fe:1f.5; do
	[ -e "/sys/bus/pci/devices/$b" ] || { absent=$b; break; }
done
refused "device attach of a BDF the host does not have ($absent)" 4 "$absent not found" \
	vk device attach "$d" --pci "$absent"
# One host device bound to some other driver and one bound to none, where
# the host has them: each gets its own message.
bound='' bound_drv='' unbound=''
for p in /sys/bus/pci/devices/*; do
	drv=$(basename "$(readlink "$p/driver" 2>/dev/null)" 2>/dev/null || true)
	if [ -z "$drv" ]; then
		[ -n "$unbound" ] || unbound=$(basename "$p")
	elif [ "$drv" != vfio-pci ] && [ -z "$bound" ]; then
		bound=$(basename "$p") bound_drv=$drv
	fi
done
if [ -n "$bound" ]; then
	for form in "$bound" "${bound#0000:}" "/sys/bus/pci/devices/$bound"; do
		refused "device attach of host device $form (bound to $bound_drv)" 5 \
			"$bound is bound to driver '$bound_drv', not vfio-pci" \
			vk device attach "$d" --pci "$form" --id probe
	done
	like "$RUN_OUT" "driver/unbind" "... the message gives the rebind commands"
else
	skip "device attach of a host device bound to another driver" "the host has none"
fi
if [ -n "$unbound" ]; then
	refused "device attach of host device $unbound (no driver)" 5 \
		"$unbound is not bound to any driver" vk device attach "$d" --pci "$unbound"
	like "$RUN_OUT" "driver_override" "... the message says how to bind it to vfio-pci"
else
	skip "device attach of a host device bound to no driver" "the host has none"
fi
refused "device detach of a device that is not attached" 4 "has no host PCI device" \
	vk device detach "$d" "$absent"
refused "device detach by an unknown ID" 4 "has no device with ID" vk device detach "$d" nosuchid
unchanged "VFIO refusals" "$d" vfio

# A hostdev in the persistent definition (never started: nothing is passed
# through) is listed and detached by its ID.
d=${DOM[pc]}
snapshot "$d" hd0
cat >"$E2E_DIR/hostdev.xml" <<EOF
<hostdev mode='subsystem' type='pci' managed='no'>
  <source><address domain='0x0000' bus='0x7f' slot='0x1f' function='0x6'/></source>
  <alias name='ua-vkgpu'/>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x1e' function='0x0'/>
</hostdev>
EOF
check_as "pc: virsh attach-device --config of a hostdev" vsh attach-device "$d" "$E2E_DIR/hostdev.xml" --config
is "$(devices_rows "$d")" "hostdev 0000:7f:1f.6 vkgpu 0000:00:1e.0 - config" \
	"pc: vmkeep devices lists the hostdev with its ID, config only"
check_as "pc: vmkeep device detach by ID" vk device detach "$d" vkgpu
unchanged "pc: hostdev detached" "$d" hd0

done_testing
