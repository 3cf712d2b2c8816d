#!/bin/bash
# e2e: NIC hot-plug lands on the next sequential NIC address (the CloudStack
# story in shared/seeds/cloudstack-hotplug-nic-slot.txt), on pc and q35.
#
# Per machine type, all running at once under TCG:
#   new  `vmkeep create` with 2 NICs and a disk: the guest sees the NICs at
#        the first two NIC-range addresses with ACPI index 1, 2, the disk at
#        0x10+.
#   cs   the CloudStack VM (2 NICs, virtio-serial, disk, balloon, watchdog,
#        cirrus) written without addresses and laid out by `vmkeep define`:
#        a live `vmkeep nic add` lands at the next NIC address (pc 00:05.0,
#        q35 behind the root port at 00:05.0) with ACPI index 3, in the guest,
#        in `vmkeep layout` and in the persistent definition; a stop/start
#        keeps every address and the guest's names/ifindexes; `nic remove`
#        unplugs it and the next `nic add` reuses the freed slot; a duplicate
#        MAC (exit 5) and an unknown bridge (exit 4) change nothing.
#   lv   the same CloudStack XML defined by plain `virsh define` and
#        hot-plugged by plain `virsh attach-device`: libvirt puts the NIC
#        behind the other devices, not at the next NIC address.  Both
#        addresses are printed as
#          # contrast: vmkeep=<pcipath> libvirt=<pcipath> machine=<pc|q35>
#        (the guest's PCI path: root port / device for q35).
# and one q35 VM made with spare-nic-ports=0: a live `nic add` has no port
# to go to and fails, naming --config and spare-nic-ports, changing nothing.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest

# The slot ranges asserted below are vmkeep's defaults.
export VMKEEP_CONFIG=/dev/null
nospare_conf=$E2E_DIR/nospare.conf
printf '[vmkeep]\nspare-nic-ports=0\n' >"$nospare_conf"

# shellcheck disable=SC2119 # no suffix: one bridge per run
br=$(e2e_bridge_name)
e2e_bridge "$br"

vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
vsh() { e2e_virsh "$@"; }

# A small fill keeps the guests' per-tick checksum cheap: seven TCG guests
# share two cores here.
cmdline="$VK_CMDLINE vk.fill=1"

# MACs unique to this run: 52:54:00:<pid>:<n>
macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))

# ------------------------------------------------------------ helpers ---

# cs_xml NAME MACHINE LOG DISK MAC1 MAC2: the CloudStack VM of the seed, with
# no PCI addresses (as CloudStack's own XML leaves most of them to libvirt).
cs_xml() {
	cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='$2'>hvm</type>
    <kernel>$VK_KERNEL</kernel>
    <initrd>$VK_INITRD</initrd>
    <cmdline>$cmdline</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <controller type='virtio-serial' index='0'/>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$4'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='bridge'>
      <mac address='$5'/>
      <source bridge='$br'/>
      <model type='virtio'/>
    </interface>
    <interface type='bridge'>
      <mac address='$6'/>
      <source bridge='$br'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='$3' append='on'/>
      <target port='0'/>
    </serial>
    <video><model type='cirrus'/></video>
    <memballoon model='virtio'/>
    <watchdog model='i6300esb' action='reset'/>
  </devices>
</domain>
EOF
}

# nic_xml MAC: a bare <interface> as CloudStack's PlugNic sends it.
nic_xml() {
	cat <<EOF
<interface type='bridge'>
  <mac address='$1'/>
  <source bridge='$br'/>
  <model type='virtio'/>
</interface>
EOF
}

# norm_path PCIPATH: bus numbers below the root bus are the firmware's
# choice and need not equal libvirt's controller index: mask them.
norm_path() {
	printf '%s\n' "$1" | sed 's#/0000:[0-9a-f][0-9a-f]:#/0000:xx:#g'
}

# root_slot PCIPATH: the root-bus slot (decimal) of a guest PCI path.
root_slot() {
	local s=${1%%/*}
	s=${s#0000:00:}
	s=${s%.*}
	echo $((16#${s:-ff}))
}

# xml_nic_path XMLFILE MAC: the guest-style PCI path libvirt's XML gives the
# NIC: 0000:00:SS.F, or 0000:00:SS.F/0000:BB:SS.F behind a root port.
xml_nic_path() {
	local f=$1 a c bus slot fn rs rf
	a="/domain/devices/interface[mac/@address='$2']/address"
	bus=$(xmllint --xpath "string($a/@bus)" "$f" 2>/dev/null || true)
	slot=$(xmllint --xpath "string($a/@slot)" "$f" 2>/dev/null || true)
	fn=$(xmllint --xpath "string($a/@function)" "$f" 2>/dev/null || true)
	if [ -z "$bus" ] || [ -z "$slot" ]; then
		echo none
		return 0
	fi
	if [ $((bus)) = 0 ]; then
		printf '0000:00:%02x.%x\n' $((slot)) $((${fn:-0}))
		return 0
	fi
	c="/domain/devices/controller[@type='pci' and @index='$((bus))']/address"
	rs=$(xmllint --xpath "string($c/@slot)" "$f" 2>/dev/null || true)
	rf=$(xmllint --xpath "string($c/@function)" "$f" 2>/dev/null || true)
	printf '0000:00:%02x.%x/0000:%02x:%02x.%x\n' $((${rs:-255})) $((${rf:-0})) $((bus)) $((slot)) $((${fn:-0}))
}

# xml_nic_addr XMLFILE MAC: the NIC's libvirt address as DDDD:BB:SS.F.
xml_nic_addr() {
	local a="/domain/devices/interface[mac/@address='$2']/address" bus slot fn
	bus=$(xmllint --xpath "string($a/@bus)" "$1" 2>/dev/null || true)
	slot=$(xmllint --xpath "string($a/@slot)" "$1" 2>/dev/null || true)
	fn=$(xmllint --xpath "string($a/@function)" "$1" 2>/dev/null || true)
	if [ -z "$bus" ] || [ -z "$slot" ]; then
		echo none
		return 0
	fi
	printf '0000:%02x:%02x.%x\n' $((bus)) $((slot)) $((${fn:-0}))
}

# dumpxml DOMAIN FILE [--inactive]
dumpxml() {
	vsh dumpxml "$1" ${3:+"$3"} >"$2"
}

# layout_rows DOMAIN [--inactive]: `vmkeep layout` as slot|address|device|
# mac|acpi|policy lines (columns cut at the header's positions; the alias
# column is left out: it is libvirt's runtime name, not identity).
layout_rows() {
	vk layout "$@" | awk '
		NR == 1 {
			n = split("SLOT ADDRESS DEVICE ALIAS MAC ACPI POLICY", h, " ")
			for (i = 1; i <= n; i++) pos[i] = index($0, h[i])
			pos[n + 1] = 1000
			next
		}
		/^-+$/ { next }
		{
			out = ""
			for (i = 1; i <= n; i++) {
				if (h[i] == "ALIAS") continue
				v = substr($0, pos[i], pos[i + 1] - pos[i])
				gsub(/^ +| +$/, "", v)
				out = out (out == "" ? "" : "|") v
			}
			print out
		}'
}

# layout_row_of DOMAIN MAC [--inactive]: that NIC's layout row.
layout_row_of() {
	local d=$1 mac=$2
	shift 2
	layout_rows "$d" "$@" | awk -F'|' -v m="$mac" '$3 == "interface " m'
}

# nic_field LINE MAC N: field N of that NIC in a tick line ("" if absent).
nic_field() {
	local v
	v=$(e2e_tick_nic_by_mac "$1" "$2" || true)
	[ -n "$v" ] || return 0
	e2e_field "$v" "$3"
}

# wait_tick_with LOG OFFSET ERE [TIMEOUT]: wait for a complete VKTICK line
# past OFFSET containing ERE.
# shellcheck disable=SC2317 # called through check_as
wait_tick_with() {
	e2e_wait_line "$1" "^VKTICK .*$3.* END\$" "${4:-60}" "$2"
}

# run_rc CMD...: run CMD, its combined output in RUN_OUT, status in RUN_RC.
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

# same_files DESC A B: the two files are identical (diff as diagnostics).
same_files() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diag "$(diff -u "$2" "$3" | head -n 30)"
	fi
}

# ------------------------------------------------------------- set up ---

machines="pc q35"
declare -A NEW CS LV NEWLOG CSLOG LVLOG NEWDISK CSDISK LVDISK
declare -A M1 M2 M3 M4 N1 N2 L1 L2 L3
i=0
for m in $machines; do
	i=$((i + 1))
	NEW[$m]=$(e2e_name "$m-new")
	CS[$m]=$(e2e_name "$m-cs")
	LV[$m]=$(e2e_name "$m-lv")
	for v in NEW CS LV; do
		lc=${v,,}
		eval "${v}LOG[\$m]=\$E2E_DIR/\$m-\$lc.serial.log"
		eval "${v}DISK[\$m]=\$E2E_DIR/\$m-\$lc.qcow2"
		qemu-img create -q -f qcow2 "$E2E_DIR/$m-$lc.qcow2" 32M
	done
	N1[$m]=$macbase:${i}1 N2[$m]=$macbase:${i}2
	M1[$m]=$macbase:${i}3 M2[$m]=$macbase:${i}4
	M3[$m]=$macbase:${i}5 M4[$m]=$macbase:${i}6
	L1[$m]=$macbase:${i}7 L2[$m]=$macbase:${i}8 L3[$m]=$macbase:${i}9
	e2e_cleanup_domain "${NEW[$m]}"
	e2e_cleanup_domain "${CS[$m]}"
	e2e_cleanup_domain "${LV[$m]}"
done
NOSPARE=$(e2e_name q35-nospare)
NOSPARELOG=$E2E_DIR/q35-nospare.serial.log
NOSPAREMAC=$macbase:2a
e2e_cleanup_domain "$NOSPARE"

# Expected guest PCI paths (bus numbers below the root masked).
declare -A P1 P2 P3
P1[pc]=0000:00:03.0 P2[pc]=0000:00:04.0 P3[pc]=0000:00:05.0
P1[q35]=0000:00:03.0/0000:xx:00.0 P2[q35]=0000:00:04.0/0000:xx:00.0 P3[q35]=0000:00:05.0/0000:xx:00.0

# Start everything at once; the guests boot while earlier ones are checked.
for m in $machines; do
	check_or_bail vk create "${NEW[$m]}" --machine "$m" --virt-type qemu --memory 256 \
		--nic "bridge=$br,mac=${N1[$m]}" --nic "bridge=$br,mac=${N2[$m]}" \
		--disk "${NEWDISK[$m]}" --no-balloon \
		--boot "kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$cmdline" \
		--serial-log "${NEWLOG[$m]}" --start

	cs_xml "${CS[$m]}" "$m" "${CSLOG[$m]}" "${CSDISK[$m]}" "${M1[$m]}" "${M2[$m]}" >"$E2E_DIR/$m-cs.xml"
	check_or_bail vk define "$E2E_DIR/$m-cs.xml"
	check_or_bail vk start "${CS[$m]}"

	cs_xml "${LV[$m]}" "$m" "${LVLOG[$m]}" "${LVDISK[$m]}" "${L1[$m]}" "${L2[$m]}" >"$E2E_DIR/$m-lv.xml"
	check_or_bail vsh define "$E2E_DIR/$m-lv.xml"
	check_or_bail vsh start "${LV[$m]}"
done
check_or_bail env VMKEEP_CONFIG="$nospare_conf" "$VMKEEP" -c "$E2E_URI" create "$NOSPARE" \
	--machine q35 --virt-type qemu --memory 256 --nic "bridge=$br,mac=$NOSPAREMAC" --no-balloon \
	--boot "kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$cmdline" \
	--serial-log "$NOSPARELOG" --start

# ------------------------------------------ 1. vmkeep create, 2 NICs ---

for m in $machines; do
	log=${NEWLOG[$m]}
	check_as "$m new: guest ticks" e2e_wait_ticks_from "$log" 0 2 150
	line=$(e2e_last_tick "$log" || true)
	is "$(e2e_tick_get "$line" nics)" 2 "$m new: guest sees 2 NICs"
	is "$(norm_path "$(nic_field "$line" "${N1[$m]}" 5)")" "${P1[$m]}" \
		"$m new: NIC ${N1[$m]} at the first NIC address"
	is "$(norm_path "$(nic_field "$line" "${N2[$m]}" 5)")" "${P2[$m]}" \
		"$m new: NIC ${N2[$m]} at the second NIC address"
	is "$(nic_field "$line" "${N1[$m]}" 6),$(nic_field "$line" "${N2[$m]}" 6)" 1,2 \
		"$m new: guest sees ACPI indexes 1, 2"
	blk=$(e2e_tick_blk "$line" vda || true)
	bp=$(e2e_field "$blk" 3)
	if [ -n "$bp" ] && [ "$(root_slot "$bp")" -ge 16 ] && [ "$(root_slot "$bp")" -le 31 ]; then
		ok "$m new: disk vda in the device range ($bp)"
	else
		not_ok "$m new: disk vda in the device range"
		diag "guest sees vda at '${bp:-nothing}'"
	fi
	check_as "$m new: vmkeep layout --check" vk layout --check "${NEW[$m]}"
	vsh destroy "${NEW[$m]}" >/dev/null 2>&1 || true # done: free the CPU
done

# ------------------------------------ q35 with no spare NIC port left ---

check_as "q35 nospare: guest ticks" e2e_wait_ticks_from "$NOSPARELOG" 0 1 150
dumpxml "$NOSPARE" "$E2E_DIR/nospare.live.0"
dumpxml "$NOSPARE" "$E2E_DIR/nospare.cfg.0" --inactive
run_rc env VMKEEP_CONFIG="$nospare_conf" "$VMKEEP" -c "$E2E_URI" nic add "$NOSPARE" --bridge "$br" \
	--mac "$macbase:2b"
isnt "$RUN_RC" 0 "q35 nospare: live nic add without a spare port fails"
[ "$RUN_RC" = 0 ] || diag "exit status $RUN_RC: $RUN_OUT"
like "$RUN_OUT" '--config' "q35 nospare: the message names --config"
like "$RUN_OUT" 'spare-nic-ports' "q35 nospare: the message names spare-nic-ports"
dumpxml "$NOSPARE" "$E2E_DIR/nospare.live.1"
dumpxml "$NOSPARE" "$E2E_DIR/nospare.cfg.1" --inactive
same_files "q35 nospare: running definition unchanged" "$E2E_DIR/nospare.live.0" "$E2E_DIR/nospare.live.1"
same_files "q35 nospare: persistent definition unchanged" "$E2E_DIR/nospare.cfg.0" "$E2E_DIR/nospare.cfg.1"

# A bridge that is not there, or a host interface that is not a bridge
# (libvirt's interface driver says so, or sysfs where libvirt has none):
# refused before anything changes.
nobr=$(e2e_bridge_name nob)
notbr=$(e2e_bridge_name veth)
ip link add "$notbr" type veth peer name "$(e2e_bridge_name vpeer)" ||
	bail_out "cannot create veth pair $notbr"
e2e_on_exit ip link del "$notbr"
run_rc "$VMKEEP" -c "$E2E_URI" nic add "$NOSPARE" --config --bridge "$nobr" --mac "$macbase:2c"
is "$RUN_RC" 4 "q35 nospare: nic add --bridge of a missing bridge: exit 4"
like "$RUN_OUT" "bridge '$nobr' not found on this host" "q35 nospare: the message names the missing bridge"
run_rc "$VMKEEP" -c "$E2E_URI" nic add "$NOSPARE" --config --bridge "$notbr" --mac "$macbase:2c"
is "$RUN_RC" 4 "q35 nospare: nic add --bridge of an interface that is no bridge: exit 4"
like "$RUN_OUT" "bridge '$notbr' not found on this host" "q35 nospare: the message names the interface"
dumpxml "$NOSPARE" "$E2E_DIR/nospare.cfg.2" --inactive
same_files "q35 nospare: persistent definition unchanged by the refusals" "$E2E_DIR/nospare.cfg.0" "$E2E_DIR/nospare.cfg.2"
off=$(e2e_log_size "$NOSPARELOG")
check_as "q35 nospare: guest still ticks" e2e_wait_ticks_from "$NOSPARELOG" "$off" 1 30
is "$(e2e_tick_get "$(e2e_last_tick_from "$NOSPARELOG" "$off")" nics)" 1 "q35 nospare: guest still sees 1 NIC"
vsh destroy "$NOSPARE" >/dev/null 2>&1 || true

# ----------------------------- 2. CloudStack layout: live nic add ------

declare -A BEFORE BLK ADDR3 OFF BOOTA
for m in $machines; do
	log=${CSLOG[$m]}
	check_as "$m cs: guest ticks" e2e_wait_ticks_from "$log" 0 2 150
	line=$(e2e_last_tick "$log" || true)
	is "$(norm_path "$(nic_field "$line" "${M1[$m]}" 5)"),$(norm_path "$(nic_field "$line" "${M2[$m]}" 5)")" \
		"${P1[$m]},${P2[$m]}" "$m cs: vmkeep define put the 2 NICs at the first NIC addresses"
	check_as "$m cs: vmkeep layout --check" vk layout --check "${CS[$m]}"
	layout_rows "${CS[$m]}" >"$E2E_DIR/$m-cs.layout.0"
	OFF[$m]=$(e2e_log_size "$log")
	BOOTA[$m]=$(e2e_boot_id "$log")
	check_as "$m cs: vmkeep nic add --bridge --mac (live)" \
		vk nic add "${CS[$m]}" --bridge "$br" --mac "${M3[$m]}"
done
for m in $machines; do
	log=${CSLOG[$m]}
	check_as "$m cs: guest sees the hot-added NIC without a reboot" \
		wait_tick_with "$log" "${OFF[$m]}" "nic=[^ ]*,${M3[$m]}," 60
	line=$(e2e_last_tick_from "$log" "${OFF[$m]}")
	is "$(e2e_tick_boot "$line")" "${BOOTA[$m]}" "$m cs: same boot (no reboot)"
	is "$(e2e_tick_get "$line" nics)" 3 "$m cs: guest sees 3 NICs"
	path=$(nic_field "$line" "${M3[$m]}" 5)
	ADDR3[$m]=$path
	is "$(norm_path "$path")" "${P3[$m]}" "$m cs: hot-added NIC at the next NIC address (guest: $path)"
	is "$(nic_field "$line" "${M3[$m]}" 6)" 3 "$m cs: hot-added NIC has ACPI index 3 in the guest"

	dumpxml "${CS[$m]}" "$E2E_DIR/$m-cs.live.1"
	dumpxml "${CS[$m]}" "$E2E_DIR/$m-cs.cfg.1" --inactive
	live_addr=$(xml_nic_addr "$E2E_DIR/$m-cs.live.1" "${M3[$m]}")
	is "$(norm_path "$(xml_nic_path "$E2E_DIR/$m-cs.live.1" "${M3[$m]}")")" "${P3[$m]}" \
		"$m cs: running definition has the NIC at the next NIC address"
	is "$(xml_nic_addr "$E2E_DIR/$m-cs.cfg.1" "${M3[$m]}")" "$live_addr" \
		"$m cs: persistent definition has the NIC at the same address ($live_addr)"
	is "$(xml_nic_path "$E2E_DIR/$m-cs.cfg.1" "${M3[$m]}")" \
		"$(xml_nic_path "$E2E_DIR/$m-cs.live.1" "${M3[$m]}")" \
		"$m cs: ... behind the same root-bus slot"
	is "$(xmllint --xpath "string(/domain/devices/interface[mac/@address='${M3[$m]}']/acpi/@index)" \
		"$E2E_DIR/$m-cs.cfg.1" 2>/dev/null || true)" 3 "$m cs: persistent definition has ACPI index 3"

	row=$(layout_row_of "${CS[$m]}" "${M3[$m]}")
	is "$row" "0x05|$live_addr|interface ${M3[$m]}|${M3[$m]}|3|ok" "$m cs: vmkeep layout agrees"
	is "$(layout_row_of "${CS[$m]}" "${M3[$m]}" --inactive)" "$row" \
		"$m cs: vmkeep layout --inactive agrees"
	layout_rows "${CS[$m]}" >"$E2E_DIR/$m-cs.layout.1"
	# Everything else stayed where it was: the new table is the old one
	# plus the NIC (and, on pc, nothing else; on q35 the port was there).
	grep -vF "interface ${M3[$m]}" "$E2E_DIR/$m-cs.layout.1" >"$E2E_DIR/$m-cs.layout.1x" || true
	same_files "$m cs: no other device moved" "$E2E_DIR/$m-cs.layout.0" "$E2E_DIR/$m-cs.layout.1x"
	check_as "$m cs: vmkeep layout --check after the add" vk layout --check "${CS[$m]}"
	check_as "$m cs: vmkeep layout --check --inactive after the add" vk layout --check --inactive "${CS[$m]}"
	BEFORE[$m]=$(e2e_guest_nics "$line")
	BLK[$m]=$(e2e_tick_blk "$line" vda || true)
done

# ------------------------------- 3. stop + start: nothing moves -------

declare -A BOOT0
for m in $machines; do
	BOOT0[$m]=$(e2e_boot_id "${CSLOG[$m]}")
	OFF[$m]=$(e2e_log_size "${CSLOG[$m]}")
done
check_as "cs: vmkeep stop (graceful, ACPI) of both" vk stop --timeout 90 "${CS[pc]}" "${CS[q35]}"
check_as "cs: vmkeep start of both" vk start "${CS[pc]}" "${CS[q35]}"
for m in $machines; do
	log=${CSLOG[$m]}
	check_as "$m cs: guest logged its poweroff" e2e_wait_line "$log" '^VKPOWEROFF ' 5 "${OFF[$m]}"
	check_as "$m cs: guest boots again" e2e_wait_line "$log" '^VKBOOT ' 150 "${OFF[$m]}"
	b=$(e2e_boot_id "$log")
	isnt "$b" "${BOOT0[$m]}" "$m cs: new boot id"
	check_as "$m cs: tick restarts at 1" e2e_wait_line "$log" "^VKTICK boot=$b tick=1 " 60 "${OFF[$m]}"
	check_as "$m cs: second tick" e2e_wait_line "$log" "^VKTICK boot=$b tick=2 .* END\$" 60 "${OFF[$m]}"
	line=$(e2e_last_tick_from "$log" "${OFF[$m]}")
	is "$(e2e_guest_nics "$line")" "${BEFORE[$m]}" \
		"$m cs: guest NIC names, ifindexes, PCI paths, ACPI indexes unchanged"
	is "$(e2e_tick_blk "$line" vda || true)" "${BLK[$m]}" "$m cs: disk vda at the same PCI address"
	layout_rows "${CS[$m]}" >"$E2E_DIR/$m-cs.layout.2"
	same_files "$m cs: vmkeep layout identical after the restart" \
		"$E2E_DIR/$m-cs.layout.1" "$E2E_DIR/$m-cs.layout.2"
	dumpxml "${CS[$m]}" "$E2E_DIR/$m-cs.cfg.2" --inactive
	same_files "$m cs: persistent definition unchanged by the restart" \
		"$E2E_DIR/$m-cs.cfg.1" "$E2E_DIR/$m-cs.cfg.2"
done

# ------------------- nic remove, then nic add reuses the freed slot ---

for m in $machines; do
	OFF[$m]=$(e2e_log_size "${CSLOG[$m]}")
	check_as "$m cs: vmkeep nic remove of the hot-added NIC (live)" \
		vk nic remove "${CS[$m]}" "${M3[$m]}"
done
for m in $machines; do
	log=${CSLOG[$m]}
	check_as "$m cs: guest loses the NIC" wait_tick_with "$log" "${OFF[$m]}" " nics=2 " 60
	line=$(e2e_last_tick_from "$log" "${OFF[$m]}")
	is "$(nic_field "$line" "${M3[$m]}" 1)" "" "$m cs: guest no longer lists ${M3[$m]}"
	is "$(layout_row_of "${CS[$m]}" "${M3[$m]}")" "" "$m cs: layout no longer lists it"
	is "$(layout_row_of "${CS[$m]}" "${M3[$m]}" --inactive)" "" \
		"$m cs: persistent definition no longer has it"
	OFF[$m]=$(e2e_log_size "$log")
	check_as "$m cs: vmkeep nic add again (live)" vk nic add "${CS[$m]}" --bridge "$br" --mac "${M4[$m]}"
done
for m in $machines; do
	log=${CSLOG[$m]}
	check_as "$m cs: guest sees the new NIC" wait_tick_with "$log" "${OFF[$m]}" "nic=[^ ]*,${M4[$m]}," 60
	line=$(e2e_last_tick_from "$log" "${OFF[$m]}")
	is "$(nic_field "$line" "${M4[$m]}" 5)" "${ADDR3[$m]}" \
		"$m cs: the new NIC reuses the freed slot (${ADDR3[$m]})"
	is "$(nic_field "$line" "${M4[$m]}" 6)" 3 "$m cs: ... with ACPI index 3"
	dumpxml "${CS[$m]}" "$E2E_DIR/$m-cs.live.3"
	a=$(xml_nic_addr "$E2E_DIR/$m-cs.live.3" "${M4[$m]}")
	is "$(layout_row_of "${CS[$m]}" "${M4[$m]}" --inactive)" \
		"0x05|$a|interface ${M4[$m]}|${M4[$m]}|3|ok" "$m cs: persistent definition agrees"
done

# ------------------------ refused adds: duplicate MAC, unknown bridge ---

for m in $machines; do
	d=${CS[$m]}
	dumpxml "$d" "$E2E_DIR/$m-cs.live.4"
	dumpxml "$d" "$E2E_DIR/$m-cs.cfg.4" --inactive
	run_rc vk nic add "$d" --bridge "$br" --mac "${M1[$m]}"
	is "$RUN_RC" 5 "$m cs: nic add with a duplicate MAC exits 5"
	like "$RUN_OUT" "${M1[$m]}" "$m cs: ... naming the MAC"
	run_rc vk nic add "$d" --bridge "vkt-nosuch$$" --mac "$macbase:fe"
	is "$RUN_RC" 4 "$m cs: nic add on an unknown bridge exits 4"
	like "$RUN_OUT" "vkt-nosuch$$" "$m cs: ... naming the bridge"
	dumpxml "$d" "$E2E_DIR/$m-cs.live.5"
	dumpxml "$d" "$E2E_DIR/$m-cs.cfg.5" --inactive
	same_files "$m cs: running definition unchanged by the refused adds" \
		"$E2E_DIR/$m-cs.live.4" "$E2E_DIR/$m-cs.live.5"
	same_files "$m cs: persistent definition unchanged by the refused adds" \
		"$E2E_DIR/$m-cs.cfg.4" "$E2E_DIR/$m-cs.cfg.5"
done

# ------------------ 4. contrast: plain libvirt defaults + attach-device ---

for m in $machines; do
	log=${LVLOG[$m]}
	check_as "$m lv: guest ticks" e2e_wait_ticks_from "$log" 0 2 150
	nic_xml "${L3[$m]}" >"$E2E_DIR/$m-lv-nic.xml"
	OFF[$m]=$(e2e_log_size "$log")
	check_as "$m lv: virsh attach-device --live --config" \
		vsh attach-device "${LV[$m]}" "$E2E_DIR/$m-lv-nic.xml" --live --config
done
for m in $machines; do
	log=${LVLOG[$m]}
	check_as "$m lv: guest sees the hot-added NIC" wait_tick_with "$log" "${OFF[$m]}" "nic=[^ ]*,${L3[$m]}," 60
	line=$(e2e_last_tick_from "$log" "${OFF[$m]}")
	got=$(nic_field "$line" "${L3[$m]}" 5)
	nic2=$(nic_field "$line" "${L2[$m]}" 5)
	blk=$(e2e_field "$(e2e_tick_blk "$line" vda || true)" 3)
	dumpxml "${LV[$m]}" "$E2E_DIR/$m-lv.live.1"
	dumpxml "${LV[$m]}" "$E2E_DIR/$m-lv.cfg.1" --inactive
	xp=$(xml_nic_path "$E2E_DIR/$m-lv.live.1" "${L3[$m]}")
	is "$(norm_path "$got")" "$(norm_path "$xp")" "$m lv: guest sees it where libvirt put it ($xp)"
	is "$(xml_nic_path "$E2E_DIR/$m-lv.cfg.1" "${L3[$m]}")" "$xp" "$m lv: persistent definition agrees"

	# The next sequential address after the second NIC: the next slot on
	# pc, the next root-port function on q35 (libvirt packs its root ports
	# as functions of one slot).
	r2=${nic2%%/*}
	s2=$(root_slot "$nic2")
	f2=${r2##*.}
	if [ "$m" = pc ]; then
		next=$(printf '0000:00:%02x.0' $((s2 + 1)))
	else
		next=$(printf '0000:00:%02x.%x' "$s2" $((f2 + 1)))
	fi
	isnt "${got%%/*}" "$next" "$m lv: libvirt did not put it at the next sequential address ($next)"
	# ... but behind the disk (and the other non-NIC devices).
	gr=${got%%/*} brr=${blk%%/*}
	gk=$(($(root_slot "$gr") * 8 + ${gr##*.})) bk=$(($(root_slot "$brr") * 8 + ${brr##*.}))
	if [ -n "$got" ] && [ -n "$blk" ] && [ "$gk" -gt "$bk" ]; then
		ok "$m lv: libvirt put it behind the disk ($gr > $brr)"
	else
		not_ok "$m lv: libvirt put it behind the disk"
		diag "NIC at '$got', disk at '$blk'"
	fi
	isnt "$(norm_path "$got")" "$(norm_path "${ADDR3[$m]}")" "$m lv: libvirt's address differs from vmkeep's"
	is "$(nic_field "$line" "${L3[$m]}" 6)" - "$m lv: no ACPI index from libvirt"
	diag "contrast: vmkeep=${ADDR3[$m]} libvirt=${got:-none} machine=$m"
done

done_testing
