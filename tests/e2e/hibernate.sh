#!/bin/bash
# e2e: hibernate and wake keep a VM's identity (real libvirtd + QEMU/TCG).
#
# Two VMs made by `vmkeep create`, pc and q35, each with 2 NICs, a disk and a
# third NIC hot-added live (`vmkeep nic add`) before anything is saved:
#   managed  `vmkeep hibernate pc q35` + `vmkeep wake pc q35`: a resume (same
#            boot id, the tick counter continues, memory checksum equal) with
#            every NIC at the same ifindex, MAC, PCI path and ACPI index; the
#            sidecar is 0600 in a 0700 dir and gone after the wake.
#   image    `hibernate --image` + `wake --image`, the same checks, plus the
#            image's files and modes, the disk frozen under the image and the
#            woken QEMU opening the overlay over the frozen base.
#   drift    (pc) a NIC moved in the persistent XML: wake exits 5 with a diff,
#            the managed save and the sidecar are kept; --force wakes.
#   busy     (q35) two hibernates of one VM at once: one succeeds, one exits 3.
#   progress `--progress` off a terminal prints size, percent and rate lines.
# Three small VMs b1..b3 and one with virtiofs:
#   tag      tag add/list/remove; `hibernate --tag --json` picks only b1 and
#            its JSON is parsed.
#   batch    `hibernate --match 'b*'` (or --all with E2E_HIBERNATE_ALL=1 on a
#            host running nothing else) with b3's managed save made to fail:
#            b1 and b2 hibernated, exit 1, the summary names b3.
#   enospc   a store on a small tmpfs: refused up front when the guest's
#            memory cannot fit (exit 5), and a save that runs out of space
#            midway fails cleanly: VM running, no image, no leftovers.
#   killed   vmkeep killed (SIGKILL) while libvirt writes the state, in image
#            and in managed mode: the VM is running or fully saved, no image
#            is listed; the next run removes temp files and incomplete
#            partial images, and brings a VM whose save libvirtd completed
#            back from its state (the run's journal), resumed, not booted.
#   interop  an image's state.sav restored by plain `virsh restore`; a plain
#            `virsh managedsave` woken by `vmkeep wake`.
#   virtiofs a live virtiofs filesystem: hibernate (both modes) exits 5 naming
#            the device and the detach command, and nothing changes.
#
# --all is not used by default: on a shared libvirtd it would hibernate other
# tests' VMs. --match goes through the same batch code.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed to read --json output and edit XML"
command -v xmllint >/dev/null || bail_out "xmllint (libxml2-utils) is needed"

# shellcheck disable=SC2119 # no suffix: one bridge per run
br=$(e2e_bridge_name)
e2e_bridge "$br"

store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\njobs=2\n' "$E2E_URI" "$store" >"$conf"
export VMKEEP_CONFIG=$conf

vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
vsh() { e2e_virsh "$@"; }

# MACs unique to this run: 52:54:00:<pid>:<n>
macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))

# ------------------------------------------------------------ helpers ---

# run_rc CMD...: run CMD, its combined output in RUN_OUT, status in RUN_RC.
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

# has_managed_save DOMAIN: yes or no.
has_managed_save() {
	if vsh dominfo "$1" 2>/dev/null | grep -Eq '^Managed save: +yes'; then echo yes; else echo no; fi
}

# listed_images: names of complete images in the store (what vmkeep lists:
# a directory with its sidecar), one per line.
listed_images() {
	local d
	for d in "$store"/images/*/; do
		[ -f "$d/image.xml" ] && basename "$d"
	done
	return 0
}

# leftovers DIR: dot-files and dot-directories (partial images, temp files).
leftovers() {
	find "$1" -mindepth 1 -maxdepth 1 -name '.*' -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '
}

mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }

# resumed WHAT LOG OFFSET BEFORE: the guest whose last tick before the save
# was BEFORE ticks again past OFFSET, as the same boot with the counter
# continuing, the same memory and the same NICs.
resumed() {
	local what=$1 log=$2 off=$3 before=$4 first after n0 n1
	check_as "$what: guest ticks again" e2e_wait_ticks_from "$log" "$off" 2 90
	first=$(e2e_first_tick_from "$log" "$off")
	after=$(e2e_last_tick_from "$log" "$off")
	is "$(e2e_tick_boot "$first")" "$(e2e_tick_boot "$before")" "$what: same boot id (resumed, not booted)"
	n0=$(e2e_tick_n "$before")
	n1=$(e2e_tick_n "$first")
	# +2 when a tick line was cut by the save (the guest finishes it
	# after the wake, before OFFSET's first complete line).
	if [ -n "$n0" ] && [ -n "$n1" ] && [ "$n1" -gt "$n0" ] && [ "$n1" -le $((n0 + 2)) ]; then
		ok "$what: tick counter continues ($n0 -> $n1)"
	else
		not_ok "$what: tick counter continues"
		diag "last tick before: '${n0:-none}', first after: '${n1:-none}'"
	fi
	is "$(e2e_tick_mem "$after")" "$(e2e_tick_mem "$before")" "$what: memory checksum unchanged"
	is "$(e2e_guest_nics "$after")" "$(e2e_guest_nics "$before")" \
		"$what: every NIC keeps its name, ifindex, MAC, PCI path and ACPI index"
}

# ------------------------------------------------------------- set up ---

boot() { printf 'kernel=%s,initrd=%s,cmdline=%s vk.fill=%s' "$VK_KERNEL" "$VK_INITRD" "$VK_CMDLINE" "$1"; }

machines="pc q35"
declare -A NAME LOG DISK MAC1 MAC2 MAC3
i=0
for m in $machines; do
	i=$((i + 1))
	NAME[$m]=$(e2e_name "$m")
	LOG[$m]=$E2E_DIR/$m.serial.log
	DISK[$m]=$E2E_DIR/$m.qcow2
	MAC1[$m]=$macbase:${i}1 MAC2[$m]=$macbase:${i}2 MAC3[$m]=$macbase:${i}3
	e2e_cleanup_domain "${NAME[$m]}"
	qemu-img create -q -f qcow2 "${DISK[$m]}" 32M
done
declare -A B BLOG
for b in b1 b2 b3; do
	B[$b]=$(e2e_name "$b")
	BLOG[$b]=$E2E_DIR/$b.serial.log
	e2e_cleanup_domain "${B[$b]}"
done
FS=$(e2e_name fs)
FSLOG=$E2E_DIR/fs.serial.log
e2e_cleanup_domain "$FS"

for m in $machines; do
	check_or_bail vk create "${NAME[$m]}" --machine "$m" --virt-type qemu --memory 192 \
		--nic "bridge=$br,mac=${MAC1[$m]}" --nic "bridge=$br,mac=${MAC2[$m]}" \
		--disk "${DISK[$m]}" --no-balloon --boot "$(boot 4)" \
		--serial-log "${LOG[$m]}" --start
done
for b in b1 b2 b3; do
	check_or_bail vk create "${B[$b]}" --machine pc --virt-type qemu --memory 128 \
		--no-balloon --boot "$(boot 1)" --serial-log "${BLOG[$b]}" --start
done
check_or_bail vk create "$FS" --machine pc --virt-type qemu --memory 128 --shared-memory \
	--no-balloon --boot "$(boot 1)" --serial-log "$FSLOG" --start

# ------------------------------------------- hot-add a NIC, live -------

declare -A OFF BEFORE
for m in $machines; do
	check_or_bail e2e_wait_ticks_from "${LOG[$m]}" 0 2 180
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
	check_as "$m: vmkeep nic add (live) before hibernating" \
		vk nic add "${NAME[$m]}" --bridge "$br" --mac "${MAC3[$m]}"
done
for m in $machines; do
	check_or_bail e2e_wait_line "${LOG[$m]}" "^VKTICK .* nics=3 .*,${MAC3[$m]},.* END\$" 60 "${OFF[$m]}"
	line=$(e2e_last_tick_from "${LOG[$m]}" "${OFF[$m]}")
	is "$(e2e_field "$(e2e_tick_nic_by_mac "$line" "${MAC3[$m]}" || true)" 6)" 3 \
		"$m: guest sees the hot-added NIC with ACPI index 3"
done

# ------------------------------------------------- managed mode --------

check_as "managed: vmkeep hibernate pc q35" vk hibernate "${NAME[pc]}" "${NAME[q35]}"
declare -A UUID
for m in $machines; do
	UUID[$m]=$(vsh domuuid "${NAME[$m]}")
	is "$(e2e_domstate "${NAME[$m]}")" "shut off" "$m managed: domain is off"
	is "$(has_managed_save "${NAME[$m]}")" yes "$m managed: libvirt holds a managed save"
	sc=$store/managed/${UUID[$m]}.xml
	is "$(mode_of "$sc")" 600 "$m managed: sidecar written, mode 0600"
	BEFORE[$m]=$(e2e_last_tick "${LOG[$m]}" || true)
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
done
is "$(mode_of "$store/managed")" 700 "managed: sidecar directory is 0700"
check_as "managed: vmkeep wake pc q35" vk wake "${NAME[pc]}" "${NAME[q35]}"
for m in $machines; do
	resumed "$m managed" "${LOG[$m]}" "${OFF[$m]}" "${BEFORE[$m]}"
	check_as "$m managed: sidecar removed after the wake" test ! -e "$store/managed/${UUID[$m]}.xml"
	is "$(has_managed_save "${NAME[$m]}")" no "$m managed: no managed save left"
done

# --------------------------------------------------- image mode --------

for m in $machines; do
	check_as "$m image: vmkeep hibernate --image img-$m" vk hibernate "${NAME[$m]}" --image "img-$m"
	img=$store/images/img-$m
	is "$(e2e_domstate "${NAME[$m]}")" "shut off" "$m image: domain is off"
	is "$(has_managed_save "${NAME[$m]}")" no "$m image: no managed save"
	is "$(mode_of "$img/state.sav"),$(mode_of "$img/image.xml")" 600,600 "$m image: state.sav and image.xml are 0600"
	is "$(head -c 16 "$img/state.sav")" LibvirtQemudSave "$m image: state.sav is a complete libvirt save image"
	is "$(mode_of "$img"),$(mode_of "$img/disks")" 711,711 "$m image: frozen-disk path directories are 0711"
	backing=$(qemu-img info -U --output=json "${DISK[$m]}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename",""))')
	is "$backing" "$img/disks/vda.qcow2" "$m image: the disk continues on an overlay over the frozen base"
	BEFORE[$m]=$(e2e_last_tick "${LOG[$m]}" || true)
done
is "$(listed_images | tr '\n' ' ')" "img-pc img-q35 " "image: both images listed"
is "$(leftovers "$store/images")" "" "image: no partial image or temp file in the store"
for m in $machines; do
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
	check_as "$m image: vmkeep wake --image img-$m" vk wake --image "img-$m"
done
for m in $machines; do
	resumed "$m image" "${LOG[$m]}" "${OFF[$m]}" "${BEFORE[$m]}"
	# The restored QEMU must see the frozen base behind the overlay (an
	# empty <backingStore/> from the saved XML would hide it).
	vsh dumpxml "${NAME[$m]}" >"$E2E_DIR/$m.woken.xml"
	is "$(xmllint --xpath "string(//disk[target/@dev='vda']/backingStore/source/@file)" "$E2E_DIR/$m.woken.xml")" \
		"$store/images/img-$m/disks/vda.qcow2" "$m image: woken QEMU opens the overlay over the frozen base"
	# The guest stamps sector 0 every tick: the frozen base keeps the
	# stamp of save time, the disk (overlay over the base) gets newer ones.
	n0=$(e2e_tick_n "${BEFORE[$m]}")
	base=$(e2e_disk_stamp "$store/images/img-$m/disks/vda.qcow2" qcow2 || true)
	top=$(e2e_disk_stamp "${DISK[$m]}" qcow2 || true)
	bt=${base##*tick=} tt=${top##*tick=}
	if [[ $base == "VKDISK boot="* ]] && [ "${bt:-0}" -le $((n0 + 1)) ] && [ "${tt:-0}" -gt "${bt:-0}" ]; then
		ok "$m image: the frozen base keeps the save-time disk, the guest writes to the overlay"
	else
		not_ok "$m image: the frozen base keeps the save-time disk, the guest writes to the overlay"
		diag "base stamp '$base', overlay stamp '$top', last tick before the save: '$n0'"
	fi
done

# --------------------------------------- identity drift (pc, managed) ---

pc=${NAME[pc]}
cfg0=$E2E_DIR/pc.cfg0.xml cfg1=$E2E_DIR/pc.cfg1.xml
# --progress: libvirt's job stats (size, percent, rate) on stderr, even off a
# terminal (a line every 5 s there); a shorter save prints none.
rc=0
vk hibernate --progress "$pc" >/dev/null 2>"$E2E_DIR/progress.err" || rc=$?
is "$rc" 0 "drift: vmkeep hibernate --progress pc"
progress=$(tr '\r' '\n' <"$E2E_DIR/progress.err" | sed $'s/\xc2\xa0/ /g' | grep . || true)
if [ -z "$progress" ] || { printf '%s\n' "$progress" | tail -n 1 | grep -Eq "^$pc: done" &&
	! printf '%s\n' "$progress" | sed '$d' | grep -Evq "^$pc: [0-9.]+ [KMGT]?i?B(ytes)? of [0-9.]+ [KMG]iB \([0-9]+%\), [0-9.]+ [KMG]?i?B(ytes)?/s\$"; }; then
	ok "progress: size, percent and rate lines, then done ($(printf '%s\n' "$progress" | grep -c '%' || true) progress lines)"
else
	not_ok "progress: size, percent and rate lines, then done"
	diag "$progress"
fi
BEFORE[pc]=$(e2e_last_tick "${LOG[pc]}" || true)
OFF[pc]=$(e2e_log_size "${LOG[pc]}")
vsh dumpxml --inactive "$pc" >"$cfg0"
# Move the first NIC from slot 0x03 to the free slot 0x06.
python3 - "$cfg0" "$cfg1" "${MAC1[pc]}" <<'EOF'
import sys
import xml.etree.ElementTree as ET
tree = ET.parse(sys.argv[1])
for nic in tree.getroot().iter("interface"):
    mac = nic.find("mac")
    if mac is not None and mac.get("address", "").lower() == sys.argv[3].lower():
        nic.find("address").set("slot", "0x06")
tree.write(sys.argv[2])
EOF
check_as "drift: virsh define with the NIC moved" vsh define "$cfg1"
run_rc vk wake "$pc"
is "$RUN_RC" 5 "drift: vmkeep wake refuses (exit 5)"
like "$RUN_OUT" "${MAC1[pc]}.*0000:00:03\.0 -> 0000:00:06\.0" "drift: the message shows the NIC's old and new address"
like "$RUN_OUT" "--force" "drift: the message names --force"
is "$(e2e_domstate "$pc")" "shut off" "drift: the domain stays off"
is "$(has_managed_save "$pc")" yes "drift: the managed save is kept"
check_as "drift: the sidecar is kept" test -f "$store/managed/${UUID[pc]}.xml"
check_as "drift: vmkeep wake --force" vk wake --force "$pc"
resumed "pc drift --force" "${LOG[pc]}" "${OFF[pc]}" "${BEFORE[pc]}"
check_as "drift: put the persistent definition back" vsh define "$cfg0"

# --------------------------------- two hibernates at once (q35) --------

q35=${NAME[q35]}
for k in 1 2; do
	(
		rc=0
		vk hibernate "$q35" >"$E2E_DIR/busy$k.out" 2>&1 || rc=$?
		echo "$rc" >"$E2E_DIR/busy$k.rc"
	) &
done
wait
is "$(sort "$E2E_DIR"/busy[12].rc | tr '\n' ' ')" "0 3 " "busy: one hibernate succeeds, the other exits 3"
like "$(cat "$E2E_DIR"/busy[12].out)" "another vmkeep is working" "busy: the loser says another vmkeep holds the VM"
is "$(e2e_domstate "$q35"),$(has_managed_save "$q35")" "shut off,yes" "busy: the VM is hibernated once"
BEFORE[q35]=$(e2e_last_tick "${LOG[q35]}" || true)
OFF[q35]=$(e2e_log_size "${LOG[q35]}")
check_as "busy: vmkeep wake q35" vk wake "$q35"
resumed "q35 after busy" "${LOG[q35]}" "${OFF[q35]}" "${BEFORE[q35]}"
vsh destroy "$q35" >/dev/null 2>&1 || true # done: free the CPU

# ------------------------- interop: plain virsh restore of an image ---

check_as "interop: vmkeep hibernate pc --image rs-pc" vk hibernate "$pc" --image rs-pc
BEFORE[pc]=$(e2e_last_tick "${LOG[pc]}" || true)
OFF[pc]=$(e2e_log_size "${LOG[pc]}")
check_as "interop: plain virsh restore of the image's state.sav" vsh restore "$store/images/rs-pc/state.sav"
resumed "pc virsh restore" "${LOG[pc]}" "${OFF[pc]}" "${BEFORE[pc]}"
vsh dumpxml "$pc" >"$E2E_DIR/pc.restored.xml"
is "$(xmllint --xpath "string(//disk[target/@dev='vda']/backingStore/source/@file)" "$E2E_DIR/pc.restored.xml")" \
	"$store/images/rs-pc/disks/vda.qcow2" "interop: virsh restore opens the overlay over the frozen base"
run_rc vk wake --image rs-pc
is "$RUN_RC" 5 "interop: wake --image refuses while the domain runs (exit 5)"
like "$RUN_OUT" "is running" "interop: ... saying it is running"
vsh destroy "$pc" >/dev/null 2>&1 || true

# --------------------------------------------- virtiofs is refused -----

virtiofsd=$(e2e_virtiofsd)
if [ -n "$virtiofsd" ]; then
	check_or_bail e2e_wait_ticks_from "$FSLOG" 0 2 180
	mkdir -p "$E2E_DIR/share"
	echo "vkt-probe-$$" >"$E2E_DIR/share/vk-probe.txt"
	cat >"$E2E_DIR/fs.xml" <<EOF
<filesystem type='mount' accessmode='passthrough'>
  <driver type='virtiofs'/>
  <binary path='$virtiofsd'/>
  <source dir='$E2E_DIR/share'/>
  <target dir='vkfs'/>
</filesystem>
EOF
	check_as "virtiofs: virsh attach-device --live" vsh attach-device "$FS" "$E2E_DIR/fs.xml" --live
	check_as "virtiofs: the guest mounts it" \
		e2e_wait_line "$FSLOG" "^VKTICK .* fs=vkfs,yes,vkt-probe-$$ .*END\$" 60
	vsh dumpxml "$FS" >"$E2E_DIR/fs.live.0"
	fsuuid=$(vsh domuuid "$FS")
	for mode in managed image; do
		if [ "$mode" = image ]; then run_rc vk hibernate "$FS" --image fsimg; else run_rc vk hibernate "$FS"; fi
		is "$RUN_RC" 5 "virtiofs $mode: hibernate refuses (exit 5)"
		like "$RUN_OUT" "filesystem vkfs" "virtiofs $mode: ... naming the device"
		like "$RUN_OUT" "vmkeep fs detach $FS vkfs" "virtiofs $mode: ... and the detach command"
	done
	is "$(e2e_domstate "$FS")" running "virtiofs: the VM keeps running"
	vsh dumpxml "$FS" >"$E2E_DIR/fs.live.1"
	check_as "virtiofs: running definition unchanged" cmp -s "$E2E_DIR/fs.live.0" "$E2E_DIR/fs.live.1"
	is "$(has_managed_save "$FS")" no "virtiofs: no managed save"
	check_as "virtiofs: no sidecar written" test ! -e "$store/managed/$fsuuid.xml"
	check_as "virtiofs: no image written" test ! -e "$store/images/fsimg"
	is "$(leftovers "$store/images")$(leftovers "$store/managed")" "" "virtiofs: no temp files"
else
	skip "virtiofs refusal" "virtiofsd is not installed (/usr/libexec/virtiofsd or /usr/lib/qemu/virtiofsd)"
fi
vsh destroy "$FS" >/dev/null 2>&1 || true

# -------------------------------------- tags and hibernate --tag --json ---

b1=${B[b1]} b2=${B[b2]} b3=${B[b3]}
for b in b1 b2 b3; do
	check_or_bail e2e_wait_ticks_from "${BLOG[$b]}" 0 2 180
done
tag=vkt$$
check_as "tag: vmkeep tag add" vk tag "$b1" add "$tag" other
is "$(vk tag "$b1" list | sort | tr '\n' ' ')" "other $tag " "tag: list shows both tags"
check_as "tag: vmkeep tag remove" vk tag "$b1" remove other
is "$(vk --json tag "$b1" list | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["tags"]))')" \
	"$tag" "tag: --json list shows the remaining tag"
BEFORE[b1]=$(e2e_last_tick "${BLOG[b1]}" || true)
rc=0
vk --json hibernate --tag "$tag" >"$E2E_DIR/tag.json" 2>"$E2E_DIR/tag.err" || rc=$?
is "$rc" 0 "tag: vmkeep --json hibernate --tag succeeds"
is "$(cat "$E2E_DIR/tag.err")" "" "tag: quiet on stderr when not on a terminal (cron)"
is "$(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    print(r["domain"], r["ok"], r["exit_code"], r["mode"], r["state_bytes"] > 0, r["error"])
' "$E2E_DIR/tag.json" 2>&1)" "$b1 True 0 managed True None" "tag: the JSON lists exactly the tagged VM, hibernated"
is "$(e2e_domstate "$b1"),$(e2e_domstate "$b2"),$(e2e_domstate "$b3")" "shut off,running,running" \
	"tag: only the tagged VM was hibernated"
BEFORE[b1]=$(e2e_last_tick "${BLOG[b1]}" || true)
OFF[b1]=$(e2e_log_size "${BLOG[b1]}")
check_as "tag: vmkeep wake" vk wake "$b1"
resumed "b1 after --tag" "${BLOG[b1]}" "${OFF[b1]}" "${BEFORE[b1]}"
check_as "tag: vmkeep tag remove the last tag" vk tag "$b1" remove "$tag"
is "$(vk tag "$b1" list)" "" "tag: list is empty"

# ---------------------------------- batch with one failure ---------------

# b3's managed save cannot be created: a directory sits where libvirt
# writes it, so libvirt fails the save (a plain failure, exit 1).
savedir=/var/lib/libvirt/qemu/save
blocker=$savedir/$b3.save
mkdir "$blocker"
e2e_on_exit rmdir "$blocker"
if [ "${E2E_HIBERNATE_ALL:-0}" = 1 ]; then
	sel=(--all)
else
	sel=(--match "$(e2e_name 'b?')")
fi
rc=0
vk hibernate "${sel[@]}" --jobs 2 >"$E2E_DIR/batch.out" 2>"$E2E_DIR/batch.err" || rc=$?
is "$rc" 1 "batch: vmkeep hibernate ${sel[*]} exits 1 (the worst code)"
row() { awk -v d="$1" '$1 == d' "$E2E_DIR/batch.out"; }
like "$(row "$b1")" " ok +managed" "batch: summary says b1 ok"
like "$(row "$b2")" " ok +managed" "batch: summary says b2 ok"
like "$(row "$b3")" "failed \(exit 1\)" "batch: summary names b3's failure"
like "$(cat "$E2E_DIR/batch.err")" "$b3.*(Is a directory|failed)" "batch: the error for b3 is printed"
is "$(e2e_domstate "$b1"),$(e2e_domstate "$b2"),$(e2e_domstate "$b3")" "shut off,shut off,running" \
	"batch: b1 and b2 hibernated, b3 keeps running"
rmdir "$blocker"
for b in b1 b2; do
	BEFORE[$b]=$(e2e_last_tick "${BLOG[$b]}" || true)
	OFF[$b]=$(e2e_log_size "${BLOG[$b]}")
done
check_as "batch: vmkeep wake b1 b2" vk wake "$b1" "$b2"
for b in b1 b2; do
	resumed "$b after the batch" "${BLOG[$b]}" "${OFF[$b]}" "${BEFORE[$b]}"
done

# still_running WHAT LOG DOMAIN BOOT: running, ticking on as the same boot.
still_running() {
	local what=$1 log=$2 dom=$3 boot=$4 off
	is "$(e2e_domstate "$dom")" running "$what: the VM is running"
	off=$(e2e_log_size "$log")
	check_as "$what: the guest ticks on" e2e_wait_ticks_from "$log" "$off" 1 60
	is "$(e2e_tick_boot "$(e2e_last_tick_from "$log" "$off")")" "$boot" "$what: same boot id"
}

# ------------------------------------ a store on a small tmpfs -----------

small=$E2E_DIR/small
sconf=$E2E_DIR/small.conf
mkdir -p "$small"
printf '[vmkeep]\nuri=%s\nstore=%s/store\nvirt-type=qemu\n' "$E2E_URI" "$small" >"$sconf"
vks() { VMKEEP_CONFIG=$sconf "$VMKEEP" -c "$E2E_URI" "$@"; }
# The guest has 128 MiB: the store fits it with 16 MiB to spare.
check_or_bail mount -t tmpfs -o size=144m,mode=0755 vkt-small "$small"
e2e_on_exit umount -l "$small"
boot1=$(e2e_boot_id "${BLOG[b1]}")

fallocate -l 64M "$small/filler"
run_rc vks hibernate "$b1" --image full
is "$RUN_RC" 5 "enospc: a store with less free space than the guest's memory is refused (exit 5)"
like "$RUN_OUT" "not enough free space" "enospc: ... saying so"
rm -f "$small/filler"
still_running "enospc refused" "${BLOG[b1]}" "$b1" "$boot1"

# Let the up-front check pass, then take the space away while libvirt
# writes the state: the partial image directory appears right after the
# check, before the save starts.
vks hibernate "$b1" --image full >"$E2E_DIR/enospc.out" 2>&1 &
pid=$!
partial=
end=$((SECONDS + 60))
while [ -z "$partial" ] && [ "$SECONDS" -lt "$end" ] && kill -0 "$pid" 2>/dev/null; do
	for p in "$small"/store/images/.full.partial-*; do
		[ -e "$p" ] && partial=$p
	done
done
if [ -n "$partial" ]; then
	# fallocate takes the space at once; it fails as a whole when libvirt
	# wrote more in between, and dd then fills what is left.
	avail=$(df -B1 --output=avail "$small" | tail -n 1)
	fallocate -l $((avail - 4 * 1048576)) "$small/filler" 2>/dev/null || true
	dd if=/dev/zero of="$small/filler2" bs=1M 2>/dev/null || true
fi
rc=0
wait "$pid" || rc=$?
isnt "$partial" "" "enospc: the save started (partial image seen)"
is "$rc" 1 "enospc: hibernate fails (exit 1) when the store fills up during the save"
like "$(cat "$E2E_DIR/enospc.out")" "[Nn]o space left|not enough space" "enospc: the error says the store is full"
diag "enospc: $(head -c 400 "$E2E_DIR/enospc.out")"
still_running "enospc midway" "${BLOG[b1]}" "$b1" "$boot1"
is "$(find "$small/store/images" -mindepth 1 | wc -l)" 0 "enospc: no image, partial image or temp file left in the store"
rm -f "$small/filler" "$small/filler2"
is "$(du -sk "$small" | cut -f1)" "$(du -sk "$small/store" | cut -f1)" "enospc: nothing else written to the tmpfs"
umount "$small" || true

# ------------------------------------------- vmkeep killed (b2) ----------

# settle DOMAIN: wait until the domain is neither paused nor mid-job.
settle() {
	local end=$((SECONDS + 90)) st
	while :; do
		st=$(e2e_domstate "$1")
		case "$st" in running | "shut off") echo "$st"; return 0 ;; esac
		[ "$SECONDS" -lt "$end" ] || { echo "$st"; return 1; }
		sleep 0.5
	done
}

boot2=$(e2e_boot_id "${BLOG[b2]}")

# kill_when PID TEST...: SIGKILL vmkeep (PID) as soon as TEST is true;
# KILLED=yes when it was killed that way (not finished before).
kill_when() {
	local pid=$1 end=$((SECONDS + 60))
	shift
	KILLED=no
	while [ "$SECONDS" -lt "$end" ] && kill -0 "$pid" 2>/dev/null; do
		if "$@"; then
			kill -KILL "$pid" 2>/dev/null && KILLED=yes
			break
		fi
	done
	wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317 # called through kill_when
partial_state_written() {
	local p
	for p in "$store/images/.$1.partial-"*; do
		[ -s "$p/state.sav" ] && { KILLED_PARTIAL=$p; return 0; }
	done
	return 1
}

# Image mode, killed while libvirt writes the state: libvirtd finishes the
# save on its own, so the VM ends up fully saved (or, had the kill come
# before the save started, still running).
KILLED_PARTIAL=
# Not through vk(): $! must be vmkeep itself, not a subshell.
"$VMKEEP" -c "$E2E_URI" hibernate "$b2" --image killed >/dev/null 2>&1 &
kill_when $! partial_state_written killed
is "$KILLED" yes "killed image: vmkeep killed while the state was being written"
target=$KILLED_PARTIAL
st=$(settle "$b2" || true)
is "$(listed_images | grep -cx killed || true)" 0 "killed image: no image 'killed' listed"
case "$st" in
running)
	ok "killed image: the VM is still running"
	still_running "killed image" "${BLOG[b2]}" "$b2" "$boot2"
	run_rc vk hibernate --match "vkt-no-such-domain-$$"
	check_as "killed image: the next run removes the partial image" test ! -e "$target"
	is "$(ls -A "$store/journal" 2>/dev/null)" "" "killed image: and the run's journal"
	;;
"shut off")
	ok "killed image: the VM is fully saved (libvirtd finished the save)"
	is "$(head -c 16 "$target/state.sav" 2>/dev/null)" LibvirtQemudSave "killed image: the state is complete"
	BEFORE[b2]=$(e2e_last_tick "${BLOG[b2]}" || true)
	OFF[b2]=$(e2e_log_size "${BLOG[b2]}")
	# The run's journal recorded how to bring the VM back before the
	# save began: the next vmkeep does it, nothing by hand. What the
	# admin tries first, waking the image, is that next run.
	run_rc vk wake --image killed
	is "$RUN_RC" 0 "killed image: wake --image killed succeeds"
	like "$RUN_OUT" "finished an interrupted hibernate of 'killed'" \
		"killed image: it finishes the interrupted hibernate"
	like "$RUN_OUT" "image 'killed' had been interrupted; finishing it brought its VM back" \
		"killed image: and says the VM is back"
	resumed "b2 killed image" "${BLOG[b2]}" "${OFF[b2]}" "${BEFORE[b2]}"
	check_as "killed image: the partial image is gone" test ! -e "$target"
	is "$(ls -A "$store/journal" 2>/dev/null)" "" "killed image: and the run's journal"
	;;
*)
	not_ok "killed image: the VM is running or saved"
	diag "state: '$st'"
	;;
esac

# Managed mode, killed during libvirt's managed save: the sidecar's temp
# file stays behind; wake still works (the save image's own XML is the
# identity) and the next hibernate run removes the temp file.
rm -f "$savedir/$b2.save" 2>/dev/null || true
"$VMKEEP" -c "$E2E_URI" hibernate "$b2" >/dev/null 2>&1 &
kill_when $! test -s "$savedir/$b2.save"
is "$KILLED" yes "killed managed: vmkeep killed during the managed save"
st=$(settle "$b2" || true)
diag "killed managed: left behind: $(leftovers "$store/managed")$(leftovers "$store/images")"
BEFORE[b2]=$(e2e_last_tick "${BLOG[b2]}" || true)
OFF[b2]=$(e2e_log_size "${BLOG[b2]}")
case "$st" in
running) ok "killed managed: the VM is still running" ;;
"shut off")
	is "$(has_managed_save "$b2")" yes "killed managed: the VM is fully saved (managed save)"
	check_as "killed managed: vmkeep wake" vk wake "$b2"
	resumed "b2 killed managed" "${BLOG[b2]}" "${OFF[b2]}" "${BEFORE[b2]}"
	;;
*)
	not_ok "killed managed: the VM is running or saved"
	diag "state: '$st'"
	;;
esac
# A partial image left by a crash before libvirt completed its header.
stale=$store/images/.crashed.partial-VKT$$
mkdir -m 0700 "$stale"
: >"$stale/.lock"
: >"$stale/.vmkeep-owned"   # what vmkeep marks its partial directories with
printf 'LibvirtQemudPart' >"$stale/state.sav"
sleep 1.1 # temp files written after a run started are left alone
run_rc vk hibernate --match "vkt-no-such-domain-$$"
like "$RUN_OUT" "removed leftover .*\.crashed\.partial-VKT$$" "killed: the next run removes an incomplete partial image"
is "$(leftovers "$store/images")$(leftovers "$store/managed")" "" \
	"killed: the next run removes every temp file (sidecar temp, partial image)"

# -------------------------- interop: plain virsh managedsave + wake ------

BEFORE[b3]=$(e2e_last_tick "${BLOG[b3]}" || true)
check_as "interop: plain virsh managedsave" vsh managedsave "$b3"
BEFORE[b3]=$(e2e_last_tick "${BLOG[b3]}" || true)
OFF[b3]=$(e2e_log_size "${BLOG[b3]}")
check_as "interop: vmkeep wake of a virsh managedsave (no sidecar)" vk wake "$b3"
resumed "b3 virsh managedsave" "${BLOG[b3]}" "${OFF[b3]}" "${BEFORE[b3]}"

# ------------------------------------------------------ the store ------

is "$(leftovers "$store/images")$(leftovers "$store/managed")" "" "store: no partial image or temp file left"
is "$(find "$store/managed" -type f | wc -l)" 0 "store: no sidecar left once every VM is awake"
is "$(listed_images | tr '\n' ' ')" "img-pc img-q35 rs-pc " "store: exactly the images made lists"
bad=$(find "$store" \( -type f -perm /077 \) -o \( -type d -perm /066 \) | grep -v '/disks/' || true)
is "$bad" "" "store: files 0600, directories 0700 (0711 on frozen-disk paths)"

done_testing
