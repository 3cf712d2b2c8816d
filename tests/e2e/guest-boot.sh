#!/bin/bash
# e2e: the test harness itself, without vmkeep.  Hand-written libvirt XML
# (TCG, direct kernel boot, two virtio NICs on a private bridge, a qcow2
# virtio disk) for one pc and one q35 guest; both run at once.  Proves that
# the guest reports what the tests rely on: stable boot id, increasing tick,
# constant memory checksum, every NIC with its MAC, PCI address/path and ACPI
# index, the disk and its sector-0 stamp; that the guest sends nothing on the
# wire; and that ACPI reboot and graceful shutdown work.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require
e2e_guest

br=$(e2e_bridge_name)
e2e_bridge "$br"

vsh() { e2e_virsh "$@"; }

# MACs unique to this run: 52:54:00:<pid>:<n>
macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))

pci() { # bus slot -> libvirt address element
	printf "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x%02x' function='0x0'/>" "$1" "$2"
}

nic_xml() { # mac acpi_index bus slot
	cat <<EOF
    <interface type='bridge'>
      <source bridge='$br'/>
      <mac address='$1'/>
      <model type='virtio'/>
      <acpi index='$2'/>
      $(pci "$3" "$4")
    </interface>
EOF
}

root_port_xml() { # index slot
	cat <<EOF
    <controller type='pci' index='$1' model='pcie-root-port'>
      <target chassis='$1' port='0x$(printf %x $((15 + $1)))'/>
      $(pci 0 "$2")
    </controller>
EOF
}

domain_xml() { # name machine log disk mac1 mac2
	local name=$1 machine=$2 log=$3 disk=$4 mac1=$5 mac2=$6 devs
	if [ "$machine" = q35 ]; then
		# NICs behind their own root ports in the NIC range, the disk
		# behind one in the device range (bus numbers = controller index).
		devs="    <controller type='pci' index='0' model='pcie-root'/>
$(root_port_xml 1 3)
$(root_port_xml 2 4)
$(root_port_xml 3 16)
$(nic_xml "$mac1" 1 1 0)
$(nic_xml "$mac2" 2 2 0)
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
      $(pci 3 0)
    </disk>"
	else
		devs="$(nic_xml "$mac1" 1 0 3)
$(nic_xml "$mac2" 2 0 4)
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
      $(pci 0 16)
    </disk>"
	fi
	cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='$machine'>hvm</type>
    <kernel>$VK_KERNEL</kernel>
    <initrd>$VK_INITRD</initrd>
    <cmdline>$VK_CMDLINE</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
$devs
    <serial type='file'>
      <source path='$log' append='on'/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

machines="pc q35"
declare -A NAME LOG DISK MAC1 MAC2 BDF1 BDF2 PATH1 PATH2 BLKPATH
i=0
for m in $machines; do
	i=$((i + 1))
	NAME[$m]=$(e2e_name "$m")
	LOG[$m]=$E2E_DIR/$m.serial.log
	DISK[$m]=$E2E_DIR/$m.qcow2
	MAC1[$m]=$macbase:${i}1
	MAC2[$m]=$macbase:${i}2
	e2e_cleanup_domain "${NAME[$m]}"
done
BDF1[pc]=0000:00:03.0 PATH1[pc]=0000:00:03.0
BDF2[pc]=0000:00:04.0 PATH2[pc]=0000:00:04.0
BLKPATH[pc]=0000:00:10.0
BDF1[q35]=0000:01:00.0 PATH1[q35]=0000:00:03.0/0000:01:00.0
BDF2[q35]=0000:02:00.0 PATH2[q35]=0000:00:04.0/0000:02:00.0
BLKPATH[q35]=0000:00:10.0/0000:03:00.0

for m in $machines; do
	qemu-img create -q -f qcow2 "${DISK[$m]}" 32M
	domain_xml "${NAME[$m]}" "$m" "${LOG[$m]}" "${DISK[$m]}" "${MAC1[$m]}" "${MAC2[$m]}" \
		>"$E2E_DIR/$m.xml"
	check_or_bail vsh define "$E2E_DIR/$m.xml"
done
for m in $machines; do
	check_or_bail vsh start "${NAME[$m]}"
done

# tick_values LOG KEY: KEY of every tick line, in order. The guest keeps
# ticking while the checks run, so they read one snapshot of the log.
tick_values() {
	e2e_ticks "$1" | while IFS= read -r l; do e2e_tick_get "$l" "$2"; done
}

for m in $machines; do
	check_as "$m: 3 ticks on the serial console" e2e_wait_ticks_from "${LOG[$m]}" 0 3 120
	log=$E2E_DIR/$m.snapshot.log
	cp "${LOG[$m]}" "$log"
	boot=$(e2e_boot_id "$log")
	like "$boot" '^[0-9a-f-]{36}$' "$m: boot id reported"
	is "$(tick_values "$log" boot | sort -u)" "$boot" "$m: boot id stable across ticks"
	n=$(e2e_ticks "$log" | wc -l)
	is "$(tick_values "$log" tick | tr '\n' ' ')" "$(seq 1 "$n" | tr '\n' ' ')" \
		"$m: tick counts 1, 2, 3, ..."
	mems=$(tick_values "$log" mem | sort -u)
	like "$mems" '^[0-9a-f]{32}$' "$m: memory checksum identical across $n ticks"

	line=$(e2e_last_tick "$log" || true)
	is "$(e2e_tick_get "$line" nics)" 2 "$m: 2 NICs reported"
	nic1=$(e2e_tick_nic_by_mac "$line" "${MAC1[$m]}" || true)
	nic2=$(e2e_tick_nic_by_mac "$line" "${MAC2[$m]}" || true)
	is "$(e2e_field "$nic1" 4),$(e2e_field "$nic1" 5)" "${BDF1[$m]},${PATH1[$m]}" \
		"$m: NIC ${MAC1[$m]} at its XML address"
	is "$(e2e_field "$nic2" 4),$(e2e_field "$nic2" 5)" "${BDF2[$m]},${PATH2[$m]}" \
		"$m: NIC ${MAC2[$m]} at its XML address"
	is "$(e2e_field "$nic1" 6),$(e2e_field "$nic2" 6)" "1,2" "$m: ACPI indexes seen by the guest"
	like "$(e2e_field "$nic1" 2),$(e2e_field "$nic2" 2)" '^[0-9]+,[0-9]+$' "$m: ifindexes reported"
	blk=$(e2e_tick_blk "$line" vda || true)
	is "$(e2e_field "$blk" 3)" "${BLKPATH[$m]}" "$m: disk vda at its XML address"
	like "$(e2e_disk_stamp "${DISK[$m]}" qcow2 || true)" "^VKDISK boot=$boot tick=[0-9]+\$" \
		"$m: guest stamps sector 0 of vda"

	# The guest must stay silent on the network: nothing sent on its taps
	# (domifstat counts from the guest's point of view).
	sent=0
	for tap in $(vsh domiflist "${NAME[$m]}" | awk '{ print $1 }'); do
		tx=$(vsh domifstat "${NAME[$m]}" "$tap" | awk '$2 == "tx_packets" { print $3 }')
		sent=$((sent + ${tx:-0}))
	done
	is "$sent" 0 "$m: guest sent no packets"
done

# ACPI reboot (no guest agent): same QEMU, new kernel boot.
declare -A OFF BOOT0
for m in $machines; do
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
	BOOT0[$m]=$(e2e_boot_id "${LOG[$m]}")
	check vsh reboot "${NAME[$m]}"
done
for m in $machines; do
	check_as "$m: guest boots again after reboot" e2e_wait_line "${LOG[$m]}" '^VKBOOT ' 120 "${OFF[$m]}"
	b=$(e2e_boot_id "${LOG[$m]}")
	isnt "$b" "${BOOT0[$m]}" "$m: reboot gives a new boot id"
	check_as "$m: ticks with the new boot id" e2e_wait_line "${LOG[$m]}" "^VKTICK boot=$b tick=1 " 60 "${OFF[$m]}"
done

# Graceful shutdown: ACPI power button -> acpid -> poweroff.
for m in $machines; do
	check vsh shutdown "${NAME[$m]}"
done
for m in $machines; do
	check_as "$m: graceful shutdown powers off within 60 s" e2e_wait_state "${NAME[$m]}" "shut off" 60
	check_as "$m: guest logged its poweroff" e2e_wait_line "${LOG[$m]}" '^VKPOWEROFF boot=' 5
done

done_testing
