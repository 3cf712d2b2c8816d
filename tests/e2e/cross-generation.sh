#!/bin/bash
# e2e across libvirt generations: images moved between the host's stack
# (libvirt 9.0 / QEMU 7.2) and the bookworm-backports root's (libvirt 11.x /
# QEMU 10.x) with `image export` and `image import`, as between two hosts.
#
#   older -> newer  a q35 VM hibernated into an image on the host, exported,
#                   imported in the root and cloned there: the clone resumes
#                   the host VM's boot with the same NIC.
#   newer -> older  the same from the root to the host: import refuses it
#                   before anything is created (exit 5), naming both QEMU
#                   versions, and the host's store stays empty.
#
# Run by tools/run-tests.sh while the root is up:
#   VMKEEP_STACK_ROOT=/var/cache/vmkeep-ci/bookworm-backports (the root, with
#   vmkeep built in /build/vmkeep). Both sides must see every path alike, so
#   the test directory is bind-mounted into the root at the same path.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed to read --json output"
root=${VMKEEP_STACK_ROOT:-}
if [ -z "$root" ] || [ ! -x "$root/build/vmkeep/vmkeep" ] || [ ! -S "$root/run/libvirt/libvirt-sock" ]; then
	skip "cross-generation" "no second libvirt stack up (VMKEEP_STACK_ROOT, tools/stack-root.sh up)"
	done_testing
fi

mkdir -p "$root$E2E_DIR"
mount --bind "$E2E_DIR" "$root$E2E_DIR" || bail_out "cannot bind-mount $E2E_DIR into $root"
e2e_on_exit rmdir "$root$E2E_DIR"
e2e_on_exit umount -l "$root$E2E_DIR"
# the kernel where both daemons see it
cp "$VK_KERNEL" "$VK_INITRD" "$E2E_DIR/"
chmod 0644 "$E2E_DIR/vmlinuz" "$E2E_DIR/initrd.img"
kernel=$E2E_DIR/vmlinuz initrd=$E2E_DIR/initrd.img

br=$(e2e_bridge_name a)
br2=$(e2e_bridge_name b)
e2e_bridge "$br"
e2e_bridge "$br2"

hconf=$E2E_DIR/host.conf rconf=$E2E_DIR/root.conf
{
	printf '[vmkeep]\nuri=qemu:///system\nstore=%s/hstore\nvirt-type=qemu\n' "$E2E_DIR"
	e2e_import_places
} >"$hconf"
{
	printf '[vmkeep]\nuri=qemu:///system\nstore=%s/rstore\nvirt-type=qemu\n' "$E2E_DIR"
	e2e_import_places
} >"$rconf"

hvk() { VMKEEP_CONFIG=$hconf "$VMKEEP" "$@"; }
rvk() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		VMKEEP_CONFIG="$rconf" /build/vmkeep/vmkeep "$@"
}
rvsh() { chroot "$root" virsh -q -c qemu:///system "$@"; }
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
hv() { "$@" version | sed -n 's/^Running hypervisor: QEMU \([0-9.]*\).*/\1/p'; }
hqemu=$(hv e2e_virsh)
rqemu=$(hv rvsh)
diag "host QEMU $hqemu, root QEMU $rqemu"

_root_destroy() {
	rvsh destroy "$1" >/dev/null 2>&1 || true
	rvsh undefine "$1" --nvram >/dev/null 2>&1 || true
}

boot() { printf 'kernel=%s,initrd=%s,cmdline=%s vk.fill=8' "$kernel" "$initrd" "$VK_CMDLINE"; }
mac=$(printf '52:54:00:%02x:%02x:01' $((($$ >> 8) & 255)) $(($$ & 255)))

# ------------------------------------------------ older -> newer --------

h=$(e2e_name h)
e2e_cleanup_domain "$h"
qemu-img create -q -f qcow2 "$E2E_DIR/h.qcow2" 32M
check_or_bail hvk create "$h" --machine q35 --virt-type qemu --memory 192 --no-balloon \
	--nic "bridge=$br,mac=$mac" --disk "$E2E_DIR/h.qcow2" --boot "$(boot)" \
	--serial-log "$E2E_DIR/h.log" --start
check_or_bail e2e_wait_ticks_from "$E2E_DIR/h.log" 0 2 180
before=$(e2e_last_tick "$E2E_DIR/h.log")
check_as "older: vmkeep hibernate --image on QEMU $hqemu" hvk hibernate "$h" --image hx
check_as "older: vmkeep image export" hvk image export hx -o "$E2E_DIR/hx.tar"
check_as "newer: vmkeep image import on QEMU $rqemu" rvk image import "$E2E_DIR/hx.tar" --name hx
hc=$(e2e_name hc)
e2e_on_exit _root_destroy "$hc"
run_rc rvk --json clone hx --name "$hc" --bridge "$br2"
is "$RUN_RC" 0 "newer: vmkeep clone of the older generation's image"
[ "$RUN_RC" = 0 ] || diag "$RUN_OUT"
clog=$E2E_DIR/logs/$hc-serial0.log
check_as "newer: the clone ticks" e2e_wait_ticks_from "$clog" 0 2 120
after=$(e2e_last_tick "$clog")
is "$(e2e_tick_boot "$after")" "$(e2e_tick_boot "$before")" "newer: the clone resumes the older host's boot"
is "$(e2e_guest_nics "$after")" "$(e2e_guest_nics "$before")" \
	"newer: the NIC keeps its name, ifindex, MAC, PCI path and ACPI index"
is "$(rvsh domstate "$hc" | head -n 1)" running "newer: the clone runs under libvirt 11"
_root_destroy "$hc"

# ------------------------------------------------ newer -> older --------

r=$(e2e_name r)
e2e_on_exit _root_destroy "$r"
qemu-img create -q -f qcow2 "$E2E_DIR/r.qcow2" 32M
check_or_bail rvk create "$r" --machine q35 --virt-type qemu --memory 192 --no-balloon \
	--nic "bridge=$br,mac=${mac%:01}:02" --disk "$E2E_DIR/r.qcow2" --boot "$(boot)" \
	--serial-log "$E2E_DIR/r.log" --start
check_or_bail e2e_wait_ticks_from "$E2E_DIR/r.log" 0 2 180
check_as "newer: vmkeep hibernate --image on QEMU $rqemu" rvk hibernate "$r" --image rx
check_as "newer: vmkeep image export" rvk image export rx -o "$E2E_DIR/rx.tar"
run_rc hvk image import "$E2E_DIR/rx.tar" --name rx
is "$RUN_RC" 5 "older: import of the newer generation's image is refused (exit 5)"
like "$RUN_OUT" "QEMU ${rqemu%.*}" "older: ... naming the QEMU that saved it"
like "$RUN_OUT" "QEMU ${hqemu%.*}" "older: ... and this host's"
like "$RUN_OUT" "nothing was (changed|imported)" "older: ... saying nothing was changed"
is "$(hvk --json image list | json '" ".join(sorted(i["name"] for i in d))')" hx "older: the store lists only its own image"
is "$(find "$E2E_DIR/hstore/images" -mindepth 1 -maxdepth 1 -name 'rx*' -o -mindepth 1 -maxdepth 1 -name '.rx*' | wc -l)" 0 \
	"older: nothing of it was left in the store"

done_testing
