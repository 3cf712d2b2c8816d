#!/bin/bash
# e2e: wake on traffic (vmkeep watch) with real frames (real libvirtd +
# QEMU/TCG).
#
# Two guests with IPv4 addresses on an isolated libvirt network of the
# test's own (no forwarding: nothing leaves its bridge) and a client in a
# network namespace of the test's own, attached to the network's bridge by
# a veth pair. Each guest also asks the network's DHCP server for its lease
# (vk.dhcp), so libvirt knows its address at hibernate time (the lease
# source) as it would for a guest that takes its address by DHCP. The
# opted guest also has an IPv6 address (vk.ip6), which libvirt learns from
# QEMU's guest agent running in it (the agent source), as for most
# production guests.
#   record   hibernate --wake-on-traffic tags the VM and its sidecar holds
#            the guest's addresses (IPv4 from the lease, IPv6 from the agent)
#   ping     the watcher wakes the tagged VM on the client's ping (an ARP
#            request for its address); replies come from the same boot
#            (boot id, tick counter, memory) with the NIC's ifindex, MAC and
#            PCI address unchanged; the wake is logged with its trigger;
#            while it watches, its one packet socket is on the VM's bridge
#            and the bridge is promiscuous, and both end with the wake
#   untagged the other VM, hibernated without the tag, stays hibernated
#            under the same traffic, and the watcher opens no socket for it
#   storm    100 ARP requests in one second wake the VM once
#   tcp      a client keeps a TCP connection to the guest's echo server
#            (vk.echo) open across the hibernation: its next segment, sent
#            to the MAC it has cached, wakes the VM, and the guest echoes
#            it on the same connection, from the same boot
#   ns       the client pings the guest's IPv6 address: its neighbour
#            solicitation wakes the VM, replies come from the same boot
#   restart  libvirtd killed and started again under a running watcher:
#            the next ping still wakes the VM
#   killed   a watcher killed (SIGKILL) in the middle of a wake, then
#            started again: the VM ends up running, resumed, nothing left
#   term     a watcher sent SIGTERM (systemctl stop) in the middle of a
#            wake: the wake finishes, the VM runs from the same boot, and
#            the watcher exits 0 with nothing left
#   image    a VM saved with hibernate --image (its domain still defined)
#            is woken from its image the same way
#   usage    bad --min-interval: exit 2
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed to read --json output and send frames"
command -v busybox >/dev/null || bail_out "busybox (busybox-static) is needed for ping in the client namespace"
[ -x "${VMKEEP_FAULT_BIN:-}" ] || bail_out "tests/e2e/vmkeep-fault is not built (make check builds it)"

br=$(e2e_bridge_name n)
NET=$(e2e_name net)
macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))
# A subnet of this run's for the network's host side: the next free one
# when another run (the other libvirt stack's) has it.
net_xml() {
	cat <<NETXML
<network>
  <name>$NET</name>
  <bridge name='$br' stp='off' delay='0'/>
  <ip address='10.$net.0.254' prefix='24'>
    <dhcp>
      <range start='10.$net.0.100' end='10.$net.0.120'/>
      <host mac='$macbase:01' ip='10.$net.0.2'/>
      <host mac='$macbase:02' ip='10.$net.0.3'/>
    </dhcp>
  </ip>
</network>
NETXML
}
for try in 0 1 2 3 4 5 6 7; do
	net=$(((($$ + try * 23) % 200) + 20))
	net_xml >"$E2E_DIR/net.xml"
	if e2e_virsh net-create "$E2E_DIR/net.xml" >"$E2E_DIR/net-create.out" 2>&1; then
		created=1
		break
	fi
	created=0
	grep -q 'already in use' "$E2E_DIR/net-create.out" || break
done
[ "$created" = 1 ] || bail_out "cannot create libvirt network $NET: $(cat "$E2E_DIR/net-create.out")"
e2e_on_exit e2e_virsh net-destroy "$NET"
store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store" >"$conf"
export VMKEEP_CONFIG=$conf
vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

e2e_client "$br" "10.$net.0.1/24"
e2e_client_ip6 "fd00:$net::1/64"
declare -A MAC IP LOG NAME
ECHO_PORT=7007
n=1
for v in opted other; do
	NAME[$v]=$(e2e_name "$v")
	MAC[$v]=$macbase:0$n
	IP[$v]=10.$net.0.$((n + 1))
	LOG[$v]=$E2E_DIR/$v.serial.log
	agent=0
	[ "$v" = opted ] && agent=1
	E2E_AGENT=$agent e2e_ip_guest "${NAME[$v]}" "network=$NET" "${MAC[$v]}" "${IP[$v]}/24" "${LOG[$v]}" vk.dhcp=1 \
		vk.echo=$ECHO_PORT vk.ip6="${MAC[$v]}/fd00:$net::$((n + 1))/64"
	n=$((n + 1))
done
OPTED=${NAME[opted]}
OTHER=${NAME[other]}
for v in opted other; do
	check_or_bail e2e_wait_ticks_from "${LOG[$v]}" 0 2 180
	check_or_bail e2e_in_client busybox ping -q -c 2 -W 5 "${IP[$v]}"
done
ok "the client reaches both guests on the bridge"
for v in opted other; do
	end=$((SECONDS + 60))
	until e2e_virsh domifaddr "${NAME[$v]}" --source lease 2>/dev/null | grep -q "${IP[$v]}/"; do
		[ "$SECONDS" -lt "$end" ] || bail_out "no DHCP lease of ${NAME[$v]} in libvirt"
		sleep 1
	done
done
ok "libvirt knows both guests' leases"
IP6=fd00:$net::2
end=$((SECONDS + 60))
until e2e_virsh domifaddr "$OPTED" --source agent 2>/dev/null | grep -q " $IP6/64"; do
	[ "$SECONDS" -lt "$end" ] || bail_out "libvirt does not learn $IP6 of $OPTED from its guest agent"
	sleep 1
done
ok "libvirt knows the opted guest's IPv6 address from its agent"

# The watcher, its JSON lines in WLOG.
WLOG=$E2E_DIR/watch.jsonl
start_watcher() {
	WPID=$(e2e_spawn "$WLOG.err" sh -c 'exec "$@" >>"$0"' "$WLOG" "$@" -c "$E2E_URI" --json \
		watch --min-interval 5)
}
# events TYPE DOMAIN [FROM_LINE]: the watcher's events of TYPE for DOMAIN
# (JSON lines), from line FROM_LINE on.
events() {
	tail -n +"${3:-1}" "$WLOG" 2>/dev/null |
		python3 -c "import json, sys
for l in sys.stdin:
    try: e = json.loads(l)
    except ValueError: continue
    if e.get('event') == '$1' and e.get('domain') == '$2': print(json.dumps(e))"
}
lines() { if [ -e "$WLOG" ]; then wc -l <"$WLOG"; else echo 0; fi; }
# wait_event TYPE DOMAIN FROM_LINE SECONDS
wait_event() {
	local end=$((SECONDS + $4))
	until [ -n "$(events "$1" "$2" "$3")" ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.2
	done
}
# sockets: the interfaces (names) the watcher's packet sockets are bound to,
# one a line, from /proc/net/packet and the watcher's open files.
sockets() {
	local fds
	fds=$(find "/proc/$WPID/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n')
	awk 'NR > 1 { print $9, $5 }' /proc/net/packet | while read -r inode ifindex; do
		printf '%s\n' "$fds" | grep -qx "$inode" || continue
		ip -o link show | awk -F': ' -v i="$ifindex" '$1 == i { sub(/@.*/, "", $2); print $2 }'
	done | sort
}
# promiscuity BRIDGE: how many users put BRIDGE in promiscuous mode
promiscuity() { ip -d link show "$1" | awk '{ for (i = 1; i < NF; i++) if ($i == "promiscuity") print $(i + 1) }'; }
# same_boot LABEL: the opted guest ticks again past $off, in the boot it
# had at $before (resumed, not booted)
same_boot() {
	check_as "$1: the guest ticks" e2e_wait_ticks_from "${LOG[opted]}" "$off" 1 60
	is "$(e2e_tick_boot "$(e2e_last_tick_from "${LOG[opted]}" "$off")")" "$(e2e_tick_boot "$before")" \
		"$1: same boot"
}
field() { python3 -c "import json, sys; e = json.loads(sys.stdin.readline()); print($1)"; }
# pinged [ADDR]: the client pings the opted VM (or ADDR), one ping a
# second for up to 40 s, until one is answered; bails out when none is.
pinged() {
	local t0=$EPOCHREALTIME n
	for n in $(seq 40); do
		if e2e_in_client busybox ping -q -c 1 -W 1 "${1:-${IP[opted]}}" >/dev/null 2>&1; then
			PING_SUMMARY="answered at ping $n, $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s after the first"
			return 0
		fi
	done
	bail_out "no reply to 40 pings of ${1:-${IP[opted]}}"
}

# ------------------------------------------------------------- record ---

before=$(e2e_last_tick "${LOG[opted]}")
check_or_bail vk hibernate "$OPTED" --wake-on-traffic
is "$(vk tag "$OPTED" list)" wake-on-traffic "record: hibernate --wake-on-traffic tagged the VM"
uuid=$(e2e_virsh domuuid "$OPTED")
check_as "record: the sidecar holds the guest's address from the lease" \
	grep -q "ip=\"${IP[opted]}\" source=\"lease\"" "$store/managed/$uuid.xml"
check_as "record: the sidecar holds the guest's IPv6 address from the agent" \
	grep -q "ip=\"$IP6\" source=\"agent\"" "$store/managed/$uuid.xml"
check_or_bail vk hibernate "$OTHER"

# --------------------------------------------------------------- ping ---

mark=$(($(lines) + 1))
start_watcher "$VMKEEP"
check_or_bail wait_event watching "$OPTED" "$mark" 30
ev=$(events watching "$OPTED" "$mark" | head -n 1)
is "$(printf '%s' "$ev" | field "e['bridges']")" "['$br']" "ping: the watcher listens on the VM's bridge"
is "$(printf '%s' "$ev" | field "sorted(e['addresses'])")" "['${IP[opted]}', '$IP6']" \
	"ping: for the recorded addresses"
is "$(events watching "$OTHER" "$mark")" "" "untagged: the other VM is not watched"
is "$(sockets)" "$br" "ping: the watcher has one packet socket, on the VM's bridge"
is "$(promiscuity "$br")" 1 "ping: the bridge is promiscuous while it is watched"
off=$(e2e_log_size "${LOG[opted]}")
# the client asks for the address first, as one that never talked to the
# guest, or whose ARP entry expired, does
e2e_in_client ip neigh flush dev "$E2E_CLIENT_IF"
pinged
ok "ping: the client's ping is answered ($PING_SUMMARY)"
check_as "ping: the watcher logged the wake" wait_event wake "$OPTED" "$mark" 10
ev=$(events wake "$OPTED" "$mark" | head -n 1)
is "$(printf '%s' "$ev" | field "(e['ok'], e['trigger']['type'], e['trigger']['target'], e['trigger']['source_address'])")" \
	"(True, 'arp', '${IP[opted]}', '10.$net.0.1')" "ping: woken by the client's ARP request for its address"
is "$(e2e_domstate "$OPTED")" running "ping: the VM runs"
check_as "ping: the guest ticks again" e2e_wait_ticks_from "${LOG[opted]}" "$off" 2 60
after=$(e2e_last_tick_from "${LOG[opted]}" "$off")
is "$(e2e_tick_boot "$after")" "$(e2e_tick_boot "$before")" "ping: same boot (resumed, not booted)"
is "$(e2e_tick_mem "$after")" "$(e2e_tick_mem "$before")" "ping: memory unchanged"
is "$(e2e_guest_nics "$after")" "$(e2e_guest_nics "$before")" \
	"ping: the NIC keeps its name, ifindex, MAC, PCI path and ACPI index"
check_as "ping: the watcher stops watching the woken VM" wait_event unwatched "$OPTED" "$mark" 10
sleep 1
is "$(sockets)" "" "untagged: with only an untagged VM hibernated, the watcher has no packet socket"
is "$(promiscuity "$br")" 0 "untagged: and the bridge is no longer promiscuous"

# ----------------------------------------------------------- untagged ---

run_rc e2e_in_client busybox ping -c 5 -W 1 -w 6 "${IP[other]}"
isnt "$RUN_RC" 0 "untagged: pings to the other VM go unanswered"
sleep 2
is "$(e2e_domstate "$OTHER")" "shut off" "untagged: the other VM stays hibernated"
is "$(events wake "$OTHER" 1)" "" "untagged: no wake of it was tried"

# -------------------------------------------------------------- storm ---

# SEND ARP requests from the client, all within one second
arp_storm() {
	e2e_in_client python3 - "$E2E_CLIENT_IF" "10.$net.0.1" "$1" "$2" <<'PY'
import socket, struct, sys, time
ifname, src, dst, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
mac = s.getsockname()[4]
frame = (b"\xff" * 6 + mac + struct.pack("!H", 0x0806) +
         struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + socket.inet_aton(src) +
         b"\0" * 6 + socket.inet_aton(dst))
t0 = time.monotonic()
for i in range(count):
    s.send(frame)
    time.sleep(max(0, t0 + (i + 1) * 0.009 - time.monotonic()))
print("%.3f" % (time.monotonic() - t0))
PY
}
sleep 5   # past --min-interval since the last wake
before=$(e2e_last_tick "${LOG[opted]}")
mark=$(($(lines) + 1))
check_or_bail vk hibernate "$OPTED"
check_or_bail wait_event watching "$OPTED" "$mark" 30
took=$(arp_storm "${IP[opted]}" 100)
ok "storm: 100 ARP requests sent in $took s"
check_as "storm: the watcher logged the wake" wait_event wake "$OPTED" "$mark" 30
sleep 3
is "$(events wake "$OPTED" "$mark" | wc -l)" 1 "storm: exactly one wake"
ev=$(events wake "$OPTED" "$mark" | head -n 1)
is "$(printf '%s' "$ev" | field "e['ok']")" True "storm: it succeeded"
diag "storm: $(printf '%s' "$ev" | field "e['suppressed']") further frames ignored during the wake"
is "$(e2e_domstate "$OPTED")" running "storm: the VM runs"
off=$(e2e_log_size "${LOG[opted]}")
same_boot storm

# ---------------------------------------------------------------- tcp ---

# The client's side of one TCP connection to the opted VM's echo server:
# it connects, has a line echoed, says "connected PORT", waits for the file
# GO, then sends a second line on the same connection and says "echo LINE
# SECONDS" once that line comes back (TCP retransmits it meanwhile).
tcp_client() {
	e2e_in_client python3 - "${IP[opted]}" "$ECHO_PORT" "$1" <<'PY'
import os, socket, sys, time
ip, port, go = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((ip, port), timeout=20)
f = s.makefile("rb")
s.sendall(b"before\n")
assert f.readline() == b"before\n"
print("connected", s.getsockname()[1], flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
s.settimeout(90)
t0 = time.monotonic()
s.sendall(b"after\n")
line = f.readline().decode().strip()
print("echo %s %.3f" % (line, time.monotonic() - t0), flush=True)
PY
}
sleep 5   # past --min-interval since the last wake
go=$E2E_DIR/tcp.go
tcplog=$E2E_DIR/tcp.out
cpid=$(e2e_spawn "$tcplog" tcp_client "$go")
end=$((SECONDS + 30))
until grep -q '^connected ' "$tcplog" 2>/dev/null; do
	kill -0 "$cpid" 2>/dev/null && [ "$SECONDS" -lt "$end" ] ||
		bail_out "the client did not connect to the echo server: $(cat "$tcplog")"
	sleep 0.2
done
ok "tcp: the client's connection is echoed ($(head -n 1 "$tcplog"))"
before=$(e2e_last_tick "${LOG[opted]}")
mark=$(($(lines) + 1))
check_or_bail vk hibernate "$OPTED"
check_or_bail wait_event watching "$OPTED" "$mark" 30
off=$(e2e_log_size "${LOG[opted]}")
: >"$go"
end=$((SECONDS + 90))
while kill -0 "$cpid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
reply=$(sed -n 2p "$tcplog")
like "$reply" "^echo after [0-9.]+$" "tcp: the line sent while the VM was hibernated is echoed on the same connection"
diag "tcp: $reply s after it was sent"
check_as "tcp: the watcher logged the wake" wait_event wake "$OPTED" "$mark" 10
ev=$(events wake "$OPTED" "$mark" | head -n 1)
is "$(printf '%s' "$ev" | field "(e['ok'], e['trigger']['type'], e['trigger']['source_mac'] == '$(e2e_in_client cat "/sys/class/net/$E2E_CLIENT_IF/address")')")" \
	"(True, 'unicast', True)" "tcp: woken by the client's frame to the VM's MAC"
same_boot tcp

# ----------------------------------------------------------------- ns ---

sleep 5   # past --min-interval since the last wake
before=$(e2e_last_tick "${LOG[opted]}")
mark=$(($(lines) + 1))
check_or_bail vk hibernate "$OPTED"
check_or_bail wait_event watching "$OPTED" "$mark" 30
off=$(e2e_log_size "${LOG[opted]}")
e2e_in_client ip -6 neigh flush dev "$E2E_CLIENT_IF"
pinged "$IP6"
ok "ns: the client's IPv6 ping is answered ($PING_SUMMARY)"
check_as "ns: the watcher logged the wake" wait_event wake "$OPTED" "$mark" 10
ev=$(events wake "$OPTED" "$mark" | head -n 1)
is "$(printf '%s' "$ev" | field "(e['ok'], e['trigger']['type'], e['trigger']['target'], e['trigger']['source_address'])")" \
	"(True, 'ns', '$IP6', 'fd00:$net::1')" "ns: woken by the client's neighbour solicitation for its IPv6 address"
check_as "ns: the guest ticks" e2e_wait_ticks_from "${LOG[opted]}" "$off" 1 60
after=$(e2e_last_tick_from "${LOG[opted]}" "$off")
is "$(e2e_tick_boot "$after")" "$(e2e_tick_boot "$before")" "ns: same boot"
is "$(e2e_guest_nics "$after")" "$(e2e_guest_nics "$before")" "ns: the NIC is unchanged"

# ------------------------------------------------------------ restart ---

sleep 5
before=$(e2e_last_tick "${LOG[opted]}")
mark=$(($(lines) + 1))
check_or_bail vk hibernate "$OPTED"
check_or_bail wait_event watching "$OPTED" "$mark" 30
# as systemd's Restart= would (the pid file is /run/libvirtd.pid on both
# stacks' daemons)
old=$(cat /run/libvirtd.pid 2>/dev/null || true)
[ -n "$old" ] || bail_out "no /run/libvirtd.pid"
kill -KILL "$old"
end=$((SECONDS + 10))
while kill -0 "$old" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
sleep 3   # the watcher meets a libvirtd that is gone
e2e_libvirtd_start
end=$((SECONDS + 60))
until e2e_virsh version >/dev/null 2>&1; do
	[ "$SECONDS" -lt "$end" ] || bail_out "libvirtd does not answer again after the kill"
	sleep 0.5
done
sleep 3   # a rescan connects again
check_as "restart: the watcher runs on" kill -0 "$WPID"
off=$(e2e_log_size "${LOG[opted]}")
e2e_in_client ip neigh flush dev "$E2E_CLIENT_IF"
pinged
ok "restart: the client's ping is answered ($PING_SUMMARY)"
check_as "restart: the watcher logged the wake" wait_event wake "$OPTED" "$mark" 10
ev=$(events wake "$OPTED" "$mark" | head -n 1)
is "$(printf '%s' "$ev" | field "e['ok']")" True "restart: the watcher woke the VM"
is "$(e2e_domstate "$OPTED")" running "restart: the VM runs"
same_boot restart

# ------------------------------------------------------------- killed ---

_e2e_kill "$WPID"
sleep 5
before=$(e2e_last_tick "${LOG[opted]}")
check_or_bail vk hibernate "$OPTED"
mark=$(($(lines) + 1))
# the watcher with the test hook, killed where the wake has begun: the
# domain's lock taken, the identity checked, libvirt not yet asked
start_watcher env VMKEEP_FAULT=wake-managed:sigkill "$VMKEEP_FAULT_BIN"
check_or_bail wait_event watching "$OPTED" "$mark" 30
arp_storm "${IP[opted]}" 3 >/dev/null
end=$((SECONDS + 30))
while kill -0 "$WPID" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
check_as "killed: the watcher died in the wake" sh -c "! kill -0 $WPID 2>/dev/null"
mark=$(($(lines) + 1))
start_watcher "$VMKEEP"
check_or_bail wait_event watching "$OPTED" "$mark" 30
off=$(e2e_log_size "${LOG[opted]}")
e2e_in_client ip neigh flush dev "$E2E_CLIENT_IF"
pinged
ok "killed: after a restart of the watcher the client's ping is answered ($PING_SUMMARY)"
is "$(e2e_domstate "$OPTED")" running "killed: the VM runs"
same_boot killed
run_rc vk recover
like "$RUN_OUT" "^Nothing to recover" "killed: vmkeep recover finds nothing left"
is "$(find "$store/journal" "$store/tmp" -mindepth 1 2>/dev/null)" "" "killed: no journal or working file"
check_as "killed: no sidecar of the woken VM left" test ! -e "$store/managed/$uuid.xml"

# -------------------------------------------------------------- image ---

sleep 5
before=$(e2e_last_tick "${LOG[opted]}")
mark=$(($(lines) + 1))
check_or_bail vk hibernate "$OPTED" --image "$OPTED-img"
check_or_bail wait_event watching "$OPTED" "$mark" 30
is "$(events watching "$OPTED" "$mark" | head -n 1 | field "e['image']")" "$OPTED-img" \
	"image: the watcher watches the VM saved in the image"
off=$(e2e_log_size "${LOG[opted]}")
e2e_in_client ip neigh flush dev "$E2E_CLIENT_IF"
pinged
ok "image: the client's ping is answered ($PING_SUMMARY)"
check_as "image: the watcher logged the wake" wait_event wake "$OPTED" "$mark" 10
is "$(events wake "$OPTED" "$mark" | head -n 1 | field "(e['ok'], e['image'])")" "(True, '$OPTED-img')" \
	"image: woken from the image"
same_boot image
_e2e_kill "$WPID"

# --------------------------------------------------------------- term ---

sleep 5
before=$(e2e_last_tick "${LOG[opted]}")
check_or_bail vk hibernate "$OPTED"
mark=$(($(lines) + 1))
rm -f "$WLOG.rc"
# the watcher with the test hook, sent SIGTERM where the wake has begun
# (the domain's lock taken, the identity checked, libvirt not yet asked);
# its exit code in WLOG.rc
WPID=$(e2e_spawn "$WLOG.err" sh -c '"$@" >>"$0"; echo $? >"$0.rc"' "$WLOG" \
	env VMKEEP_FAULT=wake-managed:sigterm "$VMKEEP_FAULT_BIN" -c "$E2E_URI" --json watch --min-interval 5)
check_or_bail wait_event watching "$OPTED" "$mark" 30
off=$(e2e_log_size "${LOG[opted]}")
arp_storm "${IP[opted]}" 3 >/dev/null
end=$((SECONDS + 60))
until [ -s "$WLOG.rc" ] || [ "$SECONDS" -ge "$end" ]; do sleep 0.2; done
is "$(cat "$WLOG.rc" 2>/dev/null)" 0 "term: the watcher stopped by SIGTERM in the middle of a wake exits 0"
ev=$(events wake "$OPTED" "$mark" | head -n 1)
is "$(printf '%s' "$ev" | field "e['ok']" 2>/dev/null)" True "term: the wake under way finished first, and was logged"
is "$(e2e_domstate "$OPTED")" running "term: the VM runs"
same_boot term
run_rc vk recover
like "$RUN_OUT" "^Nothing to recover" "term: vmkeep recover finds nothing left"
check_as "term: no sidecar of the woken VM left" test ! -e "$store/managed/$uuid.xml"

# -------------------------------------------------------------- usage ---

# Bounded: a value taken by mistake would start a watcher that runs on.
for v in -1 0 86401 '' 5s; do
	run_rc timeout 30 "$VMKEEP" -c "$E2E_URI" watch --min-interval "$v"
	is "$RUN_RC" 2 "usage: watch --min-interval '$v': exit 2"
done
like "$RUN_OUT" "min-interval .5s. is not a number of seconds from 1 to 86400" \
	"usage: the error names the value and the range"
run_rc timeout 30 "$VMKEEP" -c "$E2E_URI" watch extra
is "$RUN_RC" 2 "usage: watch with an argument: exit 2"

done_testing
