#!/bin/bash
# e2e: idle selection (hibernate --idle-for / --sample, list --idle) on
# real counters (real libvirtd + QEMU/TCG).
#
# Two VMs on a bridge of the test's own, each with an IPv4 address
# (vk.ip), and a client in a network namespace of the test's own, attached
# to the bridge by a veth pair (nothing leaves the bridge). The client
# keeps "busy" busy with a ping flood bounded in time; "calm" gets nothing.
#   none     list --idle before any reading: no idle time, null in JSON
#   history  list --idle records a reading; 65 s later `hibernate --match
#            --idle-for 1m` hibernates calm (then woken: same boot, same
#            NIC) and keeps busy running, saying why; list --idle --json
#            with the CPU not checked names net as what limits busy; the
#            history file is 0600
#   sample   `hibernate --sample 8` during another flood: the same choice
#            from a measurement on the spot
#   stop     SIGTERM during --sample: exit 1, nothing hibernated
#   usage    bad durations, thresholds and combinations: exit 2, nothing
#            changed
#
# The thresholds leave room for the TCG guest's own CPU use (its tick
# loop: about 7 % of a host CPU); the network tells the two apart.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed to read --json output"
command -v busybox >/dev/null || bail_out "busybox (busybox-static) is needed for ping in the client namespace"

br=$(e2e_bridge_name)
e2e_bridge "$br"
store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store" >"$conf"
export VMKEEP_CONFIG=$conf
vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

net=$((($$ % 200) + 20))
e2e_client "$br" "10.$net.0.1/24"

macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))
declare -A MAC IP LOG
n=1
for v in calm busy; do
	name=$(e2e_name "$v")
	MAC[$v]=$macbase:0$n
	IP[$v]=10.$net.0.$((n + 1))
	LOG[$v]=$E2E_DIR/$v.serial.log
	e2e_ip_guest "$name" "bridge=$br" "${MAC[$v]}" "${IP[$v]}/24" "${LOG[$v]}"
	n=$((n + 1))
done
CALM=$(e2e_name calm)
BUSY=$(e2e_name busy)
for v in calm busy; do
	check_or_bail e2e_wait_ticks_from "${LOG[$v]}" 0 2 180
done
check_or_bail e2e_in_client busybox ping -q -c 2 -W 5 "${IP[busy]}"
check_or_bail e2e_in_client busybox ping -q -c 2 -W 5 "${IP[calm]}"
ok "the client reaches both guests on the bridge"

# flood SECONDS: the client pings busy as fast as it answers, for SECONDS.
flood() {
	e2e_in_client busybox ping -q -A -s 1000 -w "$1" "${IP[busy]}" </dev/null >/dev/null 2>&1 7>&- &
	FLOOD=$!
	e2e_on_exit kill "$FLOOD"
}
select_ours=(--match "vkt-$E2E_TEST-$$-*" --cpu-below 60 --net-below 2k)

# --------------------------------------------------------------- none ---

run_rc vk --json list --idle
is "$RUN_RC" 0 "none: list --idle --json"
is "$(printf '%s' "$RUN_OUT" | json "[d['idle_seconds'] for d in d if d['name'] == '$CALM']")" "[None]" \
	"none: no idle time before a second reading"

# ------------------------------------------------------------ history ---

check_as "history: list --idle records a reading" vk list --idle
uuid=$(e2e_virsh domuuid "$CALM")
is "$(stat -c %a "$store/idle/$uuid.json" 2>/dev/null)" 600 "history: the history file is 0600"
is "$(stat -c %a "$store/idle")" 700 "history: in a 0700 directory"
before=$(e2e_last_tick "${LOG[calm]}")
flood 85
sleep 65
run_rc vk hibernate "${select_ours[@]}" --idle-for 1m
is "$RUN_RC" 0 "history: hibernate --idle-for 1m"
diag "$RUN_OUT"
is "$(e2e_domstate "$CALM")" "shut off" "history: the calm VM is hibernated"
is "$(e2e_domstate "$BUSY")" running "history: the busy VM keeps running"
like "$RUN_OUT" "$BUSY: kept running: idle for .*(cpu|net) was above its threshold" \
	"history: the busy VM's line says what kept it running"
# the flood costs the TCG guest CPU too: with the CPU not checked, the
# network alone keeps it running
run_rc vk --json list --idle --net-below 2k --cpu-below off
is "$(printf '%s' "$RUN_OUT" | json "[x['limited_by'] for x in d if x['name'] == '$BUSY']")" "['net']" \
	"history: list --idle --json names net as what limits the busy VM"
is "$(printf '%s' "$RUN_OUT" | json "[x['cpu'] for x in d if x['name'] == '$BUSY']")" "[None]" \
	"history: the CPU, not checked, is null"
rate=$(printf '%s' "$RUN_OUT" | json "[x['net']['last'] for x in d if x['name'] == '$BUSY'][0]")
check_as "history: the busy VM's latest net rate ($rate B/s) is over 2 KiB/s" \
	python3 -c "import sys; sys.exit(0 if $rate > 2048 else 1)"
wait "$FLOOD" 2>/dev/null || true
off=$(e2e_log_size "${LOG[calm]}")
check_as "history: wake the calm VM" vk wake "$CALM"
check_as "history: the calm VM ticks again" e2e_wait_ticks_from "${LOG[calm]}" "$off" 2 90
is "$(e2e_tick_boot "$(e2e_last_tick_from "${LOG[calm]}" "$off")")" "$(e2e_tick_boot "$before")" \
	"history: same boot (resumed)"
is "$(e2e_guest_nics "$(e2e_last_tick_from "${LOG[calm]}" "$off")")" "$(e2e_guest_nics "$before")" \
	"history: the NIC keeps its name, ifindex, MAC and PCI path"
check_as "history: the woken VM answers the client" \
	e2e_in_client busybox ping -q -c 2 -W 5 "${IP[calm]}"

# ------------------------------------------------------------- sample ---

flood 20
sleep 2
run_rc vk --json hibernate "${select_ours[@]}" --sample 8
is "$RUN_RC" 0 "sample: hibernate --sample 8 --json"
is "$(printf '%s' "$RUN_OUT" | json "[x['domain'] for x in d]")" "['$CALM']" \
	"sample: it hibernated the calm VM alone"
is "$(e2e_domstate "$CALM")" "shut off" "sample: the calm VM is hibernated"
is "$(e2e_domstate "$BUSY")" running "sample: the busy VM keeps running"
wait "$FLOOD" 2>/dev/null || true
check_as "sample: wake the calm VM" vk wake "$CALM"

# --------------------------------------------------------------- stop ---

"$VMKEEP" -c "$E2E_URI" hibernate "${select_ours[@]}" --sample 30 >"$E2E_DIR/stop.out" 2>&1 7>&- &
pid=$!
sleep 3
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
is "$rc" 1 "stop: SIGTERM during --sample ends the run (exit 1)"
like "$(cat "$E2E_DIR/stop.out")" "interrupted" "stop: it says it was interrupted"
is "$(e2e_domstate "$CALM") $(e2e_domstate "$BUSY")" "running running" "stop: nothing was hibernated"

# -------------------------------------------------------------- usage ---

for args in "--idle-for 2x" "--idle-for 8d" "--idle-for 0s" "--sample 0 --cpu-below 5" \
	"--cpu-below 5" "--idle-for 1m --cpu-below 101" "--idle-for 1m --net-below fast" \
	"--idle-for 1m --cpu-below off --net-below off --disk-below off" "--sample 3601"; do
	# shellcheck disable=SC2086 # the options are words
	run_rc vk hibernate --match "vkt-$E2E_TEST-$$-*" $args
	is "$RUN_RC" 2 "usage: hibernate $args: exit 2"
done
run_rc vk list --all --idle
is "$RUN_RC" 2 "usage: list --all --idle: exit 2"
run_rc vk list --sample 5
is "$RUN_RC" 2 "usage: list --sample without --idle: exit 2"
is "$(e2e_domstate "$CALM") $(e2e_domstate "$BUSY")" "running running" "usage: nothing changed"

done_testing
