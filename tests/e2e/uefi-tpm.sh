#!/bin/bash
# e2e: Windows-11-shaped VMs (q35, UEFI with Secure Boot, TPM 2.0) keep their
# firmware variables and TPM across hibernate, wake and clone, and each clone
# gets its own NVRAM file and TPM state, removed with it.
#
#   - Secure Boot on pc and --tpm without swtpm: clear errors, nothing defined
#   - a --firmware uefi --secure-boot --tpm VM boots through OVMF (TCG, direct
#     kernel), layout passes and names firmware and TPM
#   - hibernate -> wake (managed) resumes the same boot
#   - hibernate --image, two clones on separate bridges: each resumes the
#     source's boot with identical NIC MAC / PCI path / ifindex, has its own
#     NVRAM file and swtpm state directory; the image holds the NVRAM taken
#     at save time; the source's NVRAM is unchanged; the source wakes again
#   - undefining a clone removes its NVRAM file and TPM state, nothing else
#   - fork of the running VM: the fork resumes the source's boot with the
#     same NICs and its own NVRAM and TPM state; the source runs on
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest

store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\nmachine=q35\n' "$E2E_URI" "$store" >"$conf"
export VMKEEP_CONFIG=$conf
vk() { "$VMKEEP" "$@"; }

br=$(e2e_bridge_name a)
br2=$(e2e_bridge_name b)
br3=$(e2e_bridge_name c)
e2e_bridge "$br"
e2e_bridge "$br2"
e2e_bridge "$br3"

src=$(e2e_name src)
c1=$(e2e_name c1)
c2=$(e2e_name c2)
f1=$(e2e_name f1)
for d in "$src" "$c1" "$c2" "$f1" "$(e2e_name sbpc)" "$(e2e_name notpm)"; do
	e2e_cleanup_domain "$d"
done
img=img$$
e2e_on_exit rm -rf -- "$store"
nvdir=/var/lib/libvirt/qemu/nvram
tpmdir=/var/lib/libvirt/swtpm
cmdline="$VK_CMDLINE vk.fill=4"
boot="kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$cmdline"

# ---- refusals before anything exists ---------------------------------------
sbpc=$(e2e_name sbpc)
set +e
out=$(vk create "$sbpc" --memory 256 --machine pc --firmware uefi --secure-boot --boot "$boot" 2>&1)
rc=$?
set -e
is "$rc" 2 "Secure Boot on pc is a usage error"
like "$out" "q35" "the message says Secure Boot needs q35"
check_as "nothing defined for the pc Secure Boot attempt" sh -c "! virsh -c '$E2E_URI' dominfo '$sbpc' >/dev/null 2>&1"

notpm=$(e2e_name notpm)
set +e
out=$(env PATH=/nonexistent "$VMKEEP" create "$notpm" --memory 256 --firmware uefi --tpm --boot "$boot" 2>&1)
rc=$?
set -e
is "$rc" 4 "--tpm without swtpm in PATH is 'not found'"
like "$out" "swtpm" "the message names swtpm and its package"
check_as "nothing defined without swtpm" sh -c "! virsh -c '$E2E_URI' dominfo '$notpm' >/dev/null 2>&1"

# ---- the Windows-11-shaped VM ------------------------------------------------
disk=$E2E_DIR/$src.qcow2
qemu-img create -q -f qcow2 "$disk" 64M
log=$E2E_DIR/$src.log
check vk create "$src" --memory 256 --firmware uefi --secure-boot --tpm \
	--nic "bridge=$br" --nic "bridge=$br" --disk "$disk" --boot "$boot" \
	--serial-log "$log" --start
check e2e_wait_ticks "$log" 2 180
check vk layout --check "$src"
out=$(vk layout "$src")
like "$out" "Firmware: efi, Secure Boot" "layout names UEFI with Secure Boot"
like "$out" "TPM:      tpm-crb emulator 2.0" "layout names the TPM"
uuid=$(virsh -c "$E2E_URI" domuuid "$src" | head -n 1)
check_as "the source has its NVRAM file" test -f "$nvdir/${src}_VARS.fd"
check_as "the source has its TPM state" test -d "$tpmdir/$uuid"

line=$(e2e_last_tick "$log")
boot_id=$(e2e_tick_boot "$line")
nics_before=$(e2e_tick_nics "$line" | sort)

# managed hibernate -> wake: same boot
check vk hibernate "$src"
check e2e_wait_state "$src" "shut off" 60
check vk wake "$src"
check e2e_wait_ticks "$log" 2 120
line=$(e2e_last_tick "$log")
is "$(e2e_tick_boot "$line")" "$boot_id" "wake resumed the same boot (managed)"
is "$(e2e_tick_nics "$line" | sort)" "$nics_before" "NICs unchanged after wake"

# image + two clones
check vk hibernate "$src" --image "$img"
check_as "the image holds the NVRAM taken at save time" test -f "$store/images/$img/nvram.fd"
nv_src_sum=$(sha256sum "$nvdir/${src}_VARS.fd" | cut -d' ' -f1)
check vk clone "$img" --name "$c1" --bridge "$br2"
check vk clone "$img" --name "$c2" --bridge "$br3"
check vk wake --image "$img"
# resumed_copy NAME: a clone or fork resumed the source's boot with the same
# NICs and has NVRAM, TPM state and UUID of its own
resumed_copy() {
	local c=$1 cl cu
	check e2e_wait_ticks "$E2E_DIR/$c.log" 2 120
	cl=$(e2e_last_tick "$E2E_DIR/$c.log")
	is "$(e2e_tick_boot "$cl")" "$boot_id" "$c resumed the source's boot"
	is "$(e2e_tick_nics "$cl" | sort)" "$nics_before" "$c: same NIC names, ifindexes, MACs, PCI paths, ACPI indexes"
	cu=$(virsh -c "$E2E_URI" domuuid "$c" | head -n 1)
	check_as "$c has its own NVRAM file" test -f "$nvdir/${c}_VARS.fd"
	check_as "$c has its own TPM state" test -d "$tpmdir/$cu"
	isnt "$cu" "$uuid" "$c has its own UUID"
}
for c in "$c1" "$c2"; do
	resumed_copy "$c"
done
check e2e_wait_ticks "$log" 2 120
is "$(e2e_tick_boot "$(e2e_last_tick "$log")")" "$boot_id" "the source runs on after the clones"
is "$(sha256sum "$nvdir/${src}_VARS.fd" | cut -d' ' -f1)" "$nv_src_sum" "cloning left the source's NVRAM unchanged"

# removing a clone removes its NVRAM and TPM state and nothing else
cu1=$(virsh -c "$E2E_URI" domuuid "$c1" | head -n 1)
check vk undefine --force "$c1"
check_as "the removed clone's NVRAM file is gone" test ! -e "$nvdir/${c1}_VARS.fd"
check_as "the removed clone's TPM state is gone" test ! -e "$tpmdir/$cu1"
check_as "the other clone's NVRAM is still there" test -f "$nvdir/${c2}_VARS.fd"
check_as "the source's NVRAM is still there" test -f "$nvdir/${src}_VARS.fd"
check_as "the source's TPM state is still there" test -d "$tpmdir/$uuid"

# fork of the running UEFI + TPM VM (onto br2, free again): both run, the
# fork resumed the source's boot with its own NVRAM and TPM state
check vk fork "$src" --name "$f1" --bridge "$br2"
resumed_copy "$f1"
check e2e_wait_ticks "$log" 2 120
is "$(e2e_tick_boot "$(e2e_last_tick "$log")")" "$boot_id" "the source runs on after the fork"
check_as "the fork image holds the NVRAM taken at fork time" test -f "$store/images/fork-$src-$f1/nvram.fd"

done_testing
