# shellcheck shell=bash
# Helpers of the fault tests (sourced after tests/e2e/lib.sh): one source VM,
# the ways to stop vmkeep (at a fault point, at a random moment, by killing
# libvirtd, by a full file system), and the one verdict every trial gets
# (faults_verdict). See tests/faults/README.
#
# After faults_setup:
#   SRC LOG DISK BOOT  the source VM (running), its serial log, its disk and
#                      its boot id at the start: every verdict requires the
#                      same boot, so a VM that was restarted instead of
#                      resumed fails
#   store conf         the store and the configuration (VMKEEP_CONFIG)
#   br br_new          the source's bridge; a bridge for clones and forks

vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
vsh() { e2e_virsh "$@"; }

# run_rc CMD...: its combined output in RUN_OUT, status in RUN_RC.
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

listed_images() {
	vk -q --json image list | python3 -c 'import json,sys; print(" ".join(sorted(i["name"] for i in json.load(sys.stdin))))'
}

# store_junk: journals, partial images, temp files and working directories.
store_junk() {
	{
		find "$store/journal" -mindepth 1 -printf 'journal/%P\n' 2>/dev/null
		find "$store/tmp" -mindepth 1 -printf 'tmp/%P\n' 2>/dev/null
		find "$store/images" -mindepth 1 -maxdepth 1 -name '.*' -printf 'images/%P\n' 2>/dev/null
		find "$store/managed" -mindepth 1 -maxdepth 1 -name '.*' -printf 'managed/%P\n' 2>/dev/null
	} | sort | tr '\n' ' '
}

exists_domain() { if vsh dominfo "$1" >/dev/null 2>&1; then echo yes; else echo no; fi; }

has_managed_save() {
	if vsh dominfo "$1" 2>/dev/null | grep -Eq '^Managed save: +yes'; then echo yes; else echo no; fi
}

# ours_paused: the test's domains that are paused.
ours_paused() {
	vsh list --state-paused --name 2>/dev/null | grep "^vkt-$E2E_TEST-$$" | tr '\n' ' ' || true
}

source_disk() {
	vsh domblklist "$@" --details 2>/dev/null | awk '$3 == "vda" { print $4 }'
}

# chain_ok DISK: qemu-img check passes on DISK and every file of its chain
# exists (info --backing-chain fails on a missing backing file).
chain_ok() {
	qemu-img check -U -q "$1" >/dev/null 2>&1 &&
		qemu-img info -U --backing-chain "$1" >/dev/null 2>&1
}

# faults_require [--hooks]: what every fault test needs (vmkeep, the test
# guest, python3 for --json; with --hooks the test-only vmkeep with the
# fault hook), or the test bails out saying what is missing.
faults_require() {
	e2e_require --vmkeep
	[ "${1:-}" != --hooks ] || e2e_test_hooks ||
		bail_out "$VMKEEP_FAULT_BIN is not built (make check builds it)"
	e2e_guest
	command -v python3 >/dev/null || bail_out "python3 is needed to read --json output"
}

_faults_boot() { printf 'kernel=%s,initrd=%s,cmdline=%s vk.fill=1' "$VK_KERNEL" "$VK_INITRD" "$VK_CMDLINE"; }

# faults_setup [MACHINE [CREATE-ARGS...]]: bridges, store, and the source
# VM (machine type pc unless MACHINE; more `vmkeep create` options after
# it), booted.
faults_setup() {
	local machine=${1:-pc}
	[ $# -eq 0 ] || shift
	br=$(e2e_bridge_name a)
	br_new=$(e2e_bridge_name b)
	e2e_bridge "$br"
	e2e_bridge "$br_new"
	store=$E2E_DIR/store
	conf=$E2E_DIR/vmkeep.conf
	printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store" >"$conf"
	export VMKEEP_CONFIG=$conf
	SRC=$(e2e_name src)
	LOG=$E2E_DIR/src.serial.log
	DISK=$E2E_DIR/src.qcow2
	local mac
	mac=$(printf '52:54:00:%02x:%02x:01' $((($$ >> 8) & 255)) $(($$ & 255)))
	e2e_cleanup_domain "$SRC"
	qemu-img create -q -f qcow2 "$DISK" 32M
	check_or_bail vk create "$SRC" --machine "$machine" --virt-type qemu --memory 128 \
		--nic "bridge=$br,mac=$mac" --disk "$DISK" --no-balloon --boot "$(_faults_boot)" \
		--serial-log "$LOG" "$@" --start
	check_or_bail e2e_wait_ticks_from "$LOG" 0 2 180
	BOOT=$(e2e_boot_id "$LOG")
}

# faulted POINT:SIGNAL ARGS...: vmkeep with the fault hook, stopped by
# SIGNAL (sigkill, sigterm) at the workflow step POINT.
faulted() {
	local spec=$1
	shift
	run_rc env VMKEEP_FAULT="$spec" "$VMKEEP_FAULT_BIN" -c "$E2E_URI" "$@"
}

# killed_at WHAT SIGNAL: the fault hook's signal stopped vmkeep there.
killed_at() {
	case $2 in
	sigkill) is "$RUN_RC" 137 "$1: vmkeep died of SIGKILL at the point" ;;
	sigterm) ok "$1: SIGTERM at the point (exit $RUN_RC)" ;;
	esac
}

# stopped_after SIGNAL MS ARGS...: vmkeep ARGS, sent SIGNAL (KILL, TERM)
# MS milliseconds after it started; RUN_RC its status. STOPPED=yes when the
# signal found it running.
stopped_after() {
	local sig=$1 ms=$2 pid
	shift 2
	"$VMKEEP" -c "$E2E_URI" "$@" >"$E2E_DIR/stopped.out" 2>&1 7>&- &
	pid=$!
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	STOPPED=no
	kill -"$sig" "$pid" 2>/dev/null && STOPPED=yes
	RUN_RC=0
	# (bash's "Killed" notice for the job, which its stderr would print
	# whenever bash gets to it, inside a later TAP line: to /dev/null)
	wait "$pid" 2>/dev/null || RUN_RC=$?
	RUN_OUT=$(cat "$E2E_DIR/stopped.out")
}

# libvirtd_killed_after MS ARGS...: vmkeep ARGS while libvirtd is killed
# (SIGKILL) MS milliseconds after vmkeep started and started again at once,
# as systemd's Restart= does (the daemon of this stack: its pid file is
# /run/libvirtd.pid on both); vmkeep must neither hang nor lose anything.
libvirtd_killed_after() {
	local ms=$1 pid old end
	shift
	"$VMKEEP" -c "$E2E_URI" "$@" >"$E2E_DIR/stopped.out" 2>&1 7>&- &
	pid=$!
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	old=$(cat /run/libvirtd.pid 2>/dev/null || true)
	[ -z "$old" ] || kill -KILL "$old" 2>/dev/null || true
	end=$((SECONDS + 10))
	while [ -n "$old" ] && kill -0 "$old" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.1
	done
	e2e_libvirtd_start
	end=$((SECONDS + 60))
	until virsh -c "$E2E_URI" version >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || bail_out "libvirtd does not answer again after the kill"
		sleep 0.5
	done
	# vmkeep must end on its own; a hang is a failure, not a stuck test
	end=$((SECONDS + 120))
	while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		not_ok "vmkeep $1 ended after libvirtd was killed (it hung for 120 s)"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	RUN_RC=0
	wait "$pid" 2>/dev/null || RUN_RC=$?
	RUN_OUT=$(cat "$E2E_DIR/stopped.out")
}

# settle: wait (up to 60 s) while a domain of the test is paused by a job
# of libvirtd's own: libvirtd finishes a save, restore or snapshot it began
# for a vmkeep that was stopped, and the domain is paused while it runs.
settle() {
	local end=$((SECONDS + 60)) d busy
	while [ "$SECONDS" -lt "$end" ]; do
		busy=
		for d in $(ours_paused); do
			vsh domjobinfo "$d" 2>/dev/null | grep -Eq '^Job type: +None' || busy=$d
		done
		[ -n "$busy" ] || return 0
		sleep 0.5
	done
}

# faults_verdict WHAT [IMAGE]: the recovery after a trial, then every
# assertion of tests/faults/README; the source runs afterwards (woken from
# its managed save, or from IMAGE when the run completed into it). Each
# recovery's time goes to the log as "# recovery WHAT: N ms".
faults_verdict() {
	local what=$1 image=${2:-} t0 ms st off i bad=""
	settle
	# a temp file younger than 100 ms is kept by design (its writer may
	# not have locked it yet); an admin's next command is never that quick
	sleep 0.2
	run_rc vk recover
	is "$RUN_RC" 0 "$what: vmkeep recover lists what the run left"
	t0=$(date +%s%N)
	run_rc vk recover --apply
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$RUN_RC" 0 "$what: vmkeep recover --apply ($ms ms)"
	[ "$RUN_RC" = 0 ] || diag "$RUN_OUT"
	echo "# recovery $what: $ms ms" >&7
	is "$(ours_paused)" "" "$what: no domain paused"
	is "$(store_junk)" "" "$what: no journal, partial image or working file left"
	st=$(e2e_domstate "$SRC")
	if [ "$st" = "shut off" ] && [ "$(has_managed_save "$SRC")" = yes ]; then
		ok "$what: the source is fully saved (managed)"
		check_as "$what: wake" vk wake "$SRC"
		st=$(e2e_domstate "$SRC")
	elif [ "$st" = "shut off" ] && [ -n "$image" ] && listed_images | grep -qw "$image"; then
		ok "$what: the source is fully saved in image $image"
		check_as "$what: wake --image $image" vk wake --image "$image"
		st=$(e2e_domstate "$SRC")
	fi
	is "$st" running "$what: the source runs"
	off=$(e2e_log_size "$LOG")
	check_as "$what: the source ticks" e2e_wait_ticks_from "$LOG" "$off" 1 120
	is "$(e2e_tick_boot "$(e2e_last_tick_from "$LOG" "$off")")" "$BOOT" \
		"$what: same boot as at the start (resumed, never rebooted)"
	check_as "$what: qemu-img check passes on the source's disk chain" chain_ok "$(source_disk "$SRC")"
	# a definition that names another disk than the one the VM writes to
	# would boot the next time from a disk without the latest writes
	is "$(source_disk "$SRC" --inactive)" "$(source_disk "$SRC")" \
		"$what: the persistent definition names the disk the VM runs on"
	# every image new since the last verdict, and the trial's own: an
	# undo touches no other (they are checked once, in full)
	for i in $(listed_images); do
		case " $VERIFIED " in *" $i "*) [ "$i" = "$image" ] || continue ;; esac
		if vk -q image verify "$i" >/dev/null 2>&1; then VERIFIED="$VERIFIED $i"; else bad="$bad $i"; fi
	done
	is "$bad" "" "$what: every listed image verifies"
	keep_chain_short
}
VERIFIED=

# chain_files DISK: how many files DISK's qcow2 chain has.
chain_files() { qemu-img info -U --backing-chain "$1" 2>/dev/null | grep -c '^image:'; }

# keep_chain_short: every image and fork adds a file to the source's disk
# chain, and past 24 files libvirt 10.1 and later cannot start or restore
# a VM (vmkeep refuses to grow a chain further). A campaign makes hundreds:
# past 12 files the source's chain is shortened as vmkeep's message tells
# an admin, by a blockpull while it runs (its bases stay: images use them).
keep_chain_short() {
	local disk
	[ "$(e2e_domstate "$SRC")" = running ] || return 0
	disk=$(source_disk "$SRC")
	[ "$(chain_files "$disk")" -gt 12 ] || return 0
	vsh blockpull "$SRC" vda --wait >/dev/null 2>&1 || diag "blockpull of $SRC failed"
}

# faults_offline_source: OFF, a shut-off VM (never started) with the disk
# OFF_DISK, for the fork of a shut-off source.
faults_offline_source() {
	OFF=$(e2e_name off)
	OFF_DISK=$E2E_DIR/off.qcow2
	e2e_cleanup_domain "$OFF"
	qemu-img create -q -f qcow2 "$OFF_DISK" 32M
	check_or_bail vk create "$OFF" --machine pc --virt-type qemu --memory 128 \
		--nic "bridge=$br_new" --disk "$OFF_DISK" --no-balloon --boot "$(_faults_boot)"
}

# offline_verdict WHAT NEW: after a fork of OFF stopped at any moment: OFF
# is shut off and defined on its own disk path, its chain checks and every
# file of it exists, and the fork NEW is gone or complete (defined, shut
# off, its chain whole).
offline_verdict() {
	local what=$1 new=$2 d
	is "$(e2e_domstate "$OFF")" "shut off" "$what: the shut-off source stays shut off"
	is "$(source_disk "$OFF" --inactive)" "$OFF_DISK" "$what: the source is defined on its own disk path"
	check_as "$what: qemu-img check passes on the source's chain" chain_ok "$OFF_DISK"
	if [ "$(exists_domain "$new")" = yes ]; then
		d=$(source_disk "$new" --inactive)
		check_as "$what: the fork is complete: its chain checks" chain_ok "$d"
	else
		ok "$what: no fork domain left"
		is "$(find "$E2E_DIR" -maxdepth 1 -name "$new*.qcow2" -printf '%f ')" "" \
			"$what: no fork disk left"
	fi
	# as keep_chain_short, for a VM that is shut off (qemu-img convert)
	if [ "$(chain_files "$OFF_DISK")" -gt 12 ]; then
		qemu-img convert -O qcow2 "$OFF_DISK" "$OFF_DISK.flat" && mv "$OFF_DISK.flat" "$OFF_DISK" ||
			diag "flattening $OFF_DISK failed"
	fi
}

# drop_domain NAME: a clone or fork a trial completed, gone again (its
# disks stay in E2E_DIR, removed at exit).
drop_domain() {
	vk -q stop "$1" --force --timeout 0 >/dev/null 2>&1 || true
	vk -q undefine "$1" >/dev/null 2>&1 || true
}
