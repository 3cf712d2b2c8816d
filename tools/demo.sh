#!/bin/bash
# vmkeep demo for a fresh Debian 12 machine, run as root from a checkout:
#
#   tools/demo.sh            run the demo, then remove everything it made
#   tools/demo.sh --keep     leave the VM, bridge and files in place
#   tools/demo.sh --cleanup  only remove what an earlier (--keep) run left
#
# What it does: installs the dependencies and starts libvirtd
# (tools/host-setup.sh), builds vmkeep and the tiny test guest if needed,
# creates a bridge with no IP address, creates a q35 VM "demo" with two
# NICs and a disk with `vmkeep create` (every PCI device pinned), boots it
# under TCG, hot-adds a third NIC with `vmkeep nic add`, and shows the slot
# table next to what the guest itself sees (name, MAC, PCI path, ACPI index,
# read from its serial console).  Then it hibernates the VM into an image,
# clones it onto a second bridge and wakes the source: both guests resume
# the same boot with identical NICs.  Safe to run again: a leftover demo from
# an earlier run is removed first.
#
# The demo runs vmkeep with its built-in defaults and a store in its own
# directory (VMKEEP_CONFIG=$DEMO_DIR.conf), so /etc/vmkeep/vmkeep.conf
# does not change what it shows.
set -euo pipefail

cd "$(dirname "$0")/.."
TOP=$(pwd)

NAME=demo
CLONE=demo-clone
IMAGE=demo-img
BRIDGE=vkdemo0
BRIDGE2=vkdemo1
DEMO_DIR=/var/tmp/vmkeep-demo
URI=qemu:///system
VMKEEP=$TOP/vmkeep
# Built-in defaults, except that hibernate images go under DEMO_DIR.
export VMKEEP_CONFIG=$DEMO_DIR.conf LC_ALL=C.UTF-8

KEEP=0
CLEANUP_ONLY=0
STEP=0

# ------------------------------------------------------------- output ---

if [ -t 1 ]; then
	B=$(printf '\033[1m') D=$(printf '\033[2m') R=$(printf '\033[0m')
else
	B='' D='' R=''
fi

step() {
	STEP=$((STEP + 1))
	printf '\n%s==> %d. %s%s\n' "$B" "$STEP" "$*" "$R"
}
say() { printf '    %s\n' "$*"; }
# run CMD...: show the command, then run it with its output indented.
run() {
	local shown="$*"
	[ "$1" != vk ] || shown="vmkeep ${*:2}"
	printf '    %s$ %s%s\n' "$D" "$shown" "$R"
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
die() {
	printf '\n%sdemo: error:%s %s\n' "$B" "$R" "$*" >&2
	exit 1
}

vsh() { virsh -q -c "$URI" "$@"; }
vk() { "$VMKEEP" -c "$URI" "$@"; }

usage() {
	sed -n '2,19s/^# \{0,1\}//p' "$0"
}

# -------------------------------------------------------------- steps ---

step_host_setup() {
	step "Host setup: packages, virtlogd, libvirtd (tools/host-setup.sh)"
	[ "$(id -u)" = 0 ] || die "the demo needs root (bridges, qemu:///system): run it as root or with sudo"
	tools/host-setup.sh 2>&1 | sed 's/^/    /'
	[ "${PIPESTATUS[0]}" = 0 ] || die "tools/host-setup.sh failed (see above)"
}

step_build() {
	step "Build vmkeep"
	local log=${TMPDIR:-/tmp}/vmkeep-demo-build.log
	{
		if [ ! -x configure ]; then NOCONFIGURE=1 ./autogen.sh; fi &&
			if [ ! -f Makefile ]; then ./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var; fi &&
			make -j"$(nproc)"
	} >"$log" 2>&1 || {
		tail -n 30 "$log" | sed 's/^/    /' >&2
		die "the build failed; the full log is $log"
	}
	rm -f "$log"
	say "$(vk --version | head -n 1) at $VMKEEP"
}

step_guest() {
	step "Build the tiny test guest (Debian cloud kernel + busybox, tests/guest)"
	local out
	out=$(tests/guest/build-guest.sh 2> >(sed 's/^/    /' >&2)) ||
		die "tests/guest/build-guest.sh failed (see above)"
	GUEST_DIR=$(printf '%s\n' "$out" | tail -n 1)
	if [ ! -s "$GUEST_DIR/vmlinuz" ] || [ ! -s "$GUEST_DIR/initrd.img" ]; then
		die "build-guest.sh printed '$GUEST_DIR' but it holds no vmlinuz/initrd.img"
	fi
	say "guest kernel and initrd in $GUEST_DIR"
}

# Is DOMAIN one this demo made?  Its serial log and disk live in DEMO_DIR.
is_demo_domain() {
	local xml
	xml=$(vsh dumpxml --inactive "${1:-$NAME}" 2>/dev/null) || return 1
	[[ "$xml" == *"$DEMO_DIR/"* ]]
}

step_remove_leftovers() {
	step "Remove what an earlier demo run left behind"
	local found=0
	if vsh dominfo "$CLONE" >/dev/null 2>&1; then
		is_demo_domain "$CLONE" ||
			die "a domain named '$CLONE' exists that this demo did not create; it is left alone"
		found=1
		remove_domain "$CLONE"
	fi
	if ip link show "$BRIDGE2" >/dev/null 2>&1; then
		found=1
		run ip link del "$BRIDGE2"
	fi
	if vsh dominfo "$NAME" >/dev/null 2>&1; then
		is_demo_domain ||
			die "a domain named '$NAME' exists that this demo did not create; it is left alone (remove or rename it to run the demo)"
		found=1
		remove_domain
	fi
	if ip link show "$BRIDGE" >/dev/null 2>&1; then
		found=1
		run ip link del "$BRIDGE"
	fi
	if [ -e "$DEMO_DIR" ]; then
		found=1
		run rm -rf -- "$DEMO_DIR"
	fi
	[ "$found" = 1 ] || say "nothing to remove"
}

step_bridge() {
	step "Create the bridge $BRIDGE (no IP address: the guest is never on a real network)"
	run ip link add "$BRIDGE" type bridge
	if [ -w "/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6" ]; then
		echo 1 >"/proc/sys/net/ipv6/conf/$BRIDGE/disable_ipv6"
	fi
	run ip link set "$BRIDGE" up
	run ip link add "$BRIDGE2" type bridge
	if [ -w "/proc/sys/net/ipv6/conf/$BRIDGE2/disable_ipv6" ]; then
		echo 1 >"/proc/sys/net/ipv6/conf/$BRIDGE2/disable_ipv6"
	fi
	run ip link set "$BRIDGE2" up
}

# QEMU runs as libvirt-qemu: can it read PATH (every parent searchable)?
qemu_can_read() {
	id libvirt-qemu >/dev/null 2>&1 || return 0
	command -v runuser >/dev/null || return 0
	runuser -u libvirt-qemu -- test -r "$1"
}

step_create() {
	step "Create and start the VM '$NAME': q35, 2 NICs, a disk, every PCI device pinned"
	mkdir -p "$DEMO_DIR"
	chmod 0755 "$DEMO_DIR"
	KERNEL=$GUEST_DIR/vmlinuz INITRD=$GUEST_DIR/initrd.img
	# A checkout under a private directory (e.g. /root) is out of QEMU's reach.
	if ! qemu_can_read "$KERNEL" || ! qemu_can_read "$INITRD"; then
		cp "$KERNEL" "$INITRD" "$DEMO_DIR/"
		chmod 0644 "$DEMO_DIR/vmlinuz" "$DEMO_DIR/initrd.img"
		KERNEL=$DEMO_DIR/vmlinuz INITRD=$DEMO_DIR/initrd.img
	fi
	DISK=$DEMO_DIR/$NAME.qcow2
	LOG=$DEMO_DIR/$NAME.serial.log
	run qemu-img create -q -f qcow2 "$DISK" 64M
	run vk create "$NAME" --machine q35 --virt-type qemu --memory 256 \
		--nic "bridge=$BRIDGE" --nic "bridge=$BRIDGE" --disk "$DISK" \
		--boot "kernel=$KERNEL,initrd=$INITRD,cmdline=console=ttyS0" \
		--serial-log "$LOG" --start || die "vmkeep create failed"
}

# wait_nics N TIMEOUT [LOG]: wait for a guest tick line reporting N NICs.
wait_nics() {
	local n=$1 timeout=$2 end=$((SECONDS + $2)) log=${3:-$LOG}
	while [[ "$(last_tick "$log")" != *" nics=$n "* ]]; do
		[ "$SECONDS" -lt "$end" ] || {
			tail -n 5 "$LOG" 2>/dev/null | cut -c 1-200 | sed 's/^/    | /' >&2
			die "the guest did not report $n NICs within ${timeout}s (serial log: $LOG)"
		}
		sleep 0.5
	done
}

# The guest's last complete status line on its serial console.
last_tick() {
	tr -d '\r' <"${1:-$LOG}" 2>/dev/null | grep '^VKTICK .* END$' | tail -n 1 || true
}

step_wait_guest() {
	step "Wait for the guest to boot (TCG, no KVM needed; a few seconds)"
	local t0=$SECONDS
	wait_nics 2 180
	say "the guest is up after $((SECONDS - t0))s and reports 2 NICs on its serial console"
}

step_nic_add() {
	step "Hot-add a third NIC to the running VM"
	run vk nic add "$NAME" --bridge "$BRIDGE" || die "vmkeep nic add failed"
	wait_nics 3 60
	say "the guest sees it without a reboot"
}

step_show() {
	step "vmkeep's slot table (vmkeep layout $NAME)"
	run vk layout "$NAME"
	step "What the guest itself sees (parsed from its serial console)"
	show_guest_nics
	say ""
	say "(The test guest has no udev, so the kernel's ethN names show; SYSTEMD NAME"
	say "is what systemd-udevd derives from the ACPI index on a full distribution.)"
	say ""
	say "Each NIC sits behind its own pcie-root-port in the NIC range (0x03-0x0f);"
	say "the hot-added one went into the next spare port, right after the first two,"
	say "with the next ACPI index: it is eno3, next to eno1 and eno2.  Plain libvirt"
	say "would have put it behind the disk and the balloon (see the README)."
	say "Everything else (disk, balloon, spare device ports) lives at 0x10 and up."
}

show_guest_nics() {
	local line v name mac path acpi fmt='    %-6s %-17s %-27s %-10s %s\n'
	line=$(last_tick "${1:-$LOG}")
	# shellcheck disable=SC2059 # the format is ours
	printf "$fmt" NAME MAC "PCI PATH (port/device)" "ACPI INDEX" "SYSTEMD NAME"
	for v in $(printf '%s\n' "$line" | tr ' ' '\n' | sed -n 's/^nic=//p'); do
		IFS=, read -r name _ mac _ path acpi <<<"$v"
		# shellcheck disable=SC2059
		printf "$fmt" "$name" "$mac" "$path" "$acpi" "$([ "$acpi" = - ] && echo - || echo "eno$acpi")"
	done
}

remove_domain() {
	local state d=${1:-$NAME}
	state=$(vsh domstate "$d" 2>/dev/null || true)
	if [ -n "$state" ] && [ "$state" != "shut off" ]; then
		run vk stop --timeout 10 --force "$d" || vsh destroy "$d" >/dev/null 2>&1 || true
	fi
	run vk undefine "$d" ||
		vsh undefine "$d" --managed-save --nvram >/dev/null 2>&1 ||
		vsh undefine "$d" >/dev/null 2>&1 || true
}

boot_of() { last_tick "$1" | sed -n 's/.* boot=\([^ ]*\) .*/\1/p'; }
tick_of() { last_tick "$1" | sed -n 's/.* tick=\([0-9]*\) .*/\1/p'; }

step_clone() {
	step "Hibernate '$NAME' into an image, clone it onto $BRIDGE2, wake the source"
	local before clog=$DEMO_DIR/$CLONE.serial.log
	before=$(tick_of "$LOG")
	run vk hibernate "$NAME" --image "$IMAGE" || die "vmkeep hibernate failed"
	run vk clone "$IMAGE" --name "$CLONE" --bridge "$BRIDGE2" || die "vmkeep clone failed"
	run vk wake --image "$IMAGE" || die "vmkeep wake failed"
	wait_nics 3 60 "$clog"
	sleep 2
	say "source '$NAME': boot $(boot_of "$LOG"), tick $before before the hibernate, now $(tick_of "$LOG")"
	say "clone  '$CLONE': boot $(boot_of "$clog"), tick $(tick_of "$clog")"
	say "Same boot id: both resumed the saved memory, neither booted."
	step "What the clone's guest sees: the very same NICs (MAC, PCI path, ACPI index)"
	show_guest_nics "$clog"
	say ""
	say "Only the host side changed: the clone's NICs hang off $BRIDGE2 on TAPs of"
	say "its own, and its disk is an overlay over the image's frozen base:"
	run vk diff "$NAME" "$CLONE" || true
}

step_cleanup() {
	step "Clean up: the VMs, the bridges and $DEMO_DIR"
	if vsh dominfo "$CLONE" >/dev/null 2>&1 && is_demo_domain "$CLONE"; then
		remove_domain "$CLONE"
	fi
	if vsh dominfo "$NAME" >/dev/null 2>&1 && is_demo_domain; then
		remove_domain
	fi
	local b
	for b in "$BRIDGE" "$BRIDGE2"; do
		if ip link show "$b" >/dev/null 2>&1; then
			run ip link del "$b"
		fi
	done
	[ ! -e "$DEMO_DIR" ] || run rm -rf -- "$DEMO_DIR"
	rm -f -- "$VMKEEP_CONFIG"
}

# --------------------------------------------------------------- main ---

for arg in "$@"; do
	case "$arg" in
	--keep) KEEP=1 ;;
	--cleanup) CLEANUP_ONLY=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
done

[ "$(id -u)" = 0 ] || die "the demo needs root (bridges, qemu:///system): run it as root or with sudo"
printf '[vmkeep]\nstore=%s/store\n' "$DEMO_DIR" >"$VMKEEP_CONFIG"

if [ "$CLEANUP_ONLY" = 1 ]; then
	step_cleanup
	exit 0
fi

# A failed or interrupted run cleans up too, unless --keep.
on_exit() {
	local rc=$?
	trap - EXIT
	trap '' INT TERM # finish the cleanup once begun
	set +e
	if [ "$KEEP" = 1 ]; then
		if [ "$rc" = 0 ]; then
			printf '\n%sKept:%s VM %s (vmkeep layout %s; serial console in %s),\n' "$B" "$R" "$NAME" "$NAME" "${LOG:-$DEMO_DIR}"
			printf '      bridge %s, files in %s.  Remove them with: tools/demo.sh --cleanup\n' "$BRIDGE" "$DEMO_DIR"
		fi
		exit "$rc"
	fi
	[ "$STEP" -lt 4 ] || step_cleanup
	[ "$rc" != 0 ] || printf '\n%sDone.%s\n' "$B" "$R"
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step_host_setup
step_build
step_guest
step_remove_leftovers
step_bridge
step_create
step_wait_guest
step_nic_add
step_show
step_clone
