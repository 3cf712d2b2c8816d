#!/bin/bash
# The shipped unit (data/vmkeep-hibernate.service) under a real systemd,
# on every libvirt stack CI runs: a systemd user manager of the test's own
# (the host has no systemd as PID 1; the unit's settings and systemd's
# stop and timeout handling are the real ones) runs the unit with only
# /usr/bin/vmkeep and the configuration replaced, against the fault tests'
# source VM tagged idle-hibernate. Before each start the test writes an
# idle history that shows the VM idle for 40 minutes (e2e_seed_idle: the
# unit's --idle-for 30m without waiting half an hour); the configuration
# lets the TCG guest's own CPU use (about 7 %) count as idle.
#
#   not idle  without a history the unit records the VM's activity and
#             hibernates nothing
#   run       the unit hibernates the VM (Result=success, managed save)
#   stop      `systemctl stop` at moments within a run: systemd sends
#             SIGTERM (KillMode=mixed); vmkeep ends on its own well within
#             TimeoutStopSec (never killed), and nothing is lost
#   timeout   a TimeoutStartSec of half a run: systemd stops it the same
#             way (Result=timeout), nothing is lost (a run that ends
#             first is judged as a run, and tried again with half its
#             length, up to three times)
#   kill      a TimeoutStopSec of 1 ms: systemd kills vmkeep right after
#             the SIGTERM (SIGKILL), and the next vmkeep run recovers
#
# After each trial the verdict of tests/faults/README (faults_verdict), and
# at the end a plain start of the unit works again.
set -eu
# A mount namespace of the test's own: systemd's user manager wants to see
# /run/systemd/system (a system booted with systemd); only this test sees it.
if [ -z "${VK_SYSTEMD_NS:-}" ] && command -v unshare >/dev/null; then
	VK_SYSTEMD_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

SYSTEMD=/usr/lib/systemd/systemd
UNIT=vmkeep-hibernate.service
UNIT_SRC=$(cd "$(dirname "$0")/../.." && pwd)/data/$UNIT

e2e_require --vmkeep
for t in "$SYSTEMD" systemctl unshare; do
	command -v "$t" >/dev/null ||
		_e2e_skip_or_bail "$t is missing (tools/host-setup.sh deps: systemd, util-linux)"
done
[ -f "$UNIT_SRC" ] || bail_out "$UNIT_SRC is missing"
[ -d /sys/fs/cgroup/systemd ] || [ -f /sys/fs/cgroup/cgroup.controllers ] ||
	_e2e_skip_or_bail "no cgroup hierarchy for systemd under /sys/fs/cgroup"
[ -n "${VK_SYSTEMD_NS:-}" ] || bail_out "not in a mount namespace of the test's own"
mkdir -p /run/systemd
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir /run/systemd/system

faults_require
faults_setup
check_or_bail vk tag "$SRC" add idle-hibernate
printf 'idle-cpu-below=50\n' >>"$conf"

# The user manager in a cgroup of its own (so two tests never share one),
# its units in the test's directory.
export XDG_RUNTIME_DIR=$E2E_DIR/xdg XDG_CONFIG_HOME=$E2E_DIR/config
mkdir -m 0700 "$XDG_RUNTIME_DIR"
units=$XDG_CONFIG_HOME/systemd/user
mkdir -p "$units/$UNIT.d"
sed "s|/usr/bin/vmkeep|$VMKEEP -c $E2E_URI|" "$UNIT_SRC" >"$units/$UNIT"
grep -q "^ExecStart=$VMKEEP " "$units/$UNIT" || bail_out "no ExecStart=/usr/bin/vmkeep in $UNIT_SRC"
# the test's configuration; vmkeep's messages and how it ended (systemd
# hands ExecStopPost the main process's end) into the test's directory
cat >"$units/$UNIT.d/test.conf" <<EOF
[Service]
Environment=VMKEEP_CONFIG=$conf
StandardOutput=append:$E2E_DIR/unit.log
StandardError=append:$E2E_DIR/unit.log
ExecStopPost=/bin/sh -c 'echo "\$\$SERVICE_RESULT \$\$EXIT_CODE \$\$EXIT_STATUS" >$E2E_DIR/unit.end'
EOF
# every hierarchy systemd uses (name=systemd and the unified one on a
# hybrid host, the unified one alone on a pure cgroup v2 host)
cgs=
for h in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
	[ -f "$h/cgroup.procs" ] || continue
	[ "$h" != /sys/fs/cgroup ] || [ -z "$cgs" ] || continue
	mkdir "$h/vmkeep-test-$$"
	cgs="$cgs $h/vmkeep-test-$$"
done
[ -n "$cgs" ] || bail_out "no writable cgroup hierarchy"
# the manager ends with the test; its cgroups go after it
cleanup_manager() {
	[ -z "${SD_PID:-}" ] || { kill "$SD_PID" 2>/dev/null; wait "$SD_PID" 2>/dev/null || true; }
	local c
	for c in $cgs; do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
}
e2e_on_exit cleanup_manager
(
	for c in $cgs; do echo "$BASHPID" >"$c/cgroup.procs"; done
	exec "$SYSTEMD" --user </dev/null >"$E2E_DIR/systemd.log" 2>&1 7>&-
) &
SD_PID=$!
sc() { systemctl --user "$@"; }
prop() { sc show "$UNIT" -p "$1" --value; }
end=$((SECONDS + 30))
until case $(sc is-system-running 2>/dev/null) in running | degraded) true ;; *) false ;; esac do
	[ "$SECONDS" -lt "$end" ] || bail_out "systemd --user does not answer; see $E2E_DIR/systemd.log"
	sleep 0.2
done
ok "a systemd $(systemctl --version | awk 'NR == 1 { print $2 }') user manager runs the shipped $UNIT"
is "$(prop KillMode)" mixed "the unit stops vmkeep alone (KillMode=mixed)"

# dropin NAME TEXT: a drop-in of the test; `dropin NAME` removes it.
dropin() {
	if [ $# -gt 1 ]; then printf '[Service]\n%s\n' "$2" >"$units/$UNIT.d/$1.conf"; else rm -f "$units/$UNIT.d/$1.conf"; fi
	sc daemon-reload
}

# ended: how the unit's last run ended: systemd's result, then how vmkeep
# ended (exited STATUS, or killed SIGNAL); and what vmkeep said.
ended() { cat "$E2E_DIR/unit.end" 2>/dev/null || echo "no end recorded"; }
said() { tail -n 3 "$E2E_DIR/unit.log" 2>/dev/null || true; }
fresh() {
	rm -f "$E2E_DIR/unit.end"
	: >"$E2E_DIR/unit.log"
	e2e_seed_idle "$store" "$SRC" 40
}

# on_its_own WHAT: vmkeep ended on its own after systemd's SIGTERM: it
# exited (rolled back, or finished what could not be undone), or the
# signal's default action ended it before it had started anything; never
# systemd's SIGKILL.
on_its_own() {
	local how
	how=$(ended)
	case $how in
	*" exited "* | *" killed TERM") ok "$1: vmkeep ended on its own ($how)" ;;
	*) not_ok "$1: vmkeep ended on its own"; diag "ended: $how" "vmkeep said: $(said)" ;;
	esac
}

# ----------------------------------------------------------- not idle ---

# No history yet (the first run of a new timer): the unit records the
# VM's activity and hibernates nothing.
rm -f "$E2E_DIR/unit.end"
: >"$E2E_DIR/unit.log"
check_or_bail sc start "$UNIT"
is "$(ended)" "success exited 0" "not idle yet: vmkeep exited 0, the unit succeeded"
is "$(e2e_domstate "$SRC")" running "not idle yet: the VM runs on"
check_as "not idle yet: the run recorded the VM's activity" \
	test -s "$store/idle/$(vsh domuuid "$SRC")".json

# ---------------------------------------------------------------- run ---

# D: how long a run takes (not the seeding of its history, which took
# about as long again and made the trials below land late)
fresh
t0=$(date +%s%N)
check_or_bail sc start "$UNIT"
D=$((($(date +%s%N) - t0) / 1000000))
is "$(ended)" "success exited 0" "run: vmkeep exited 0, the unit succeeded ($D ms)"
is "$(e2e_domstate "$SRC")" "shut off" "run: the VM is hibernated"
is "$(has_managed_save "$SRC")" yes "run: with a managed save"
faults_verdict "unit run"

# --------------------------------------------------------------- stop ---

stop_limit=$(($(prop TimeoutStopUSec | sed -n 's/^\([0-9]*\)min$/\1/p') * 60000))
[ "$stop_limit" -gt 0 ] || bail_out "cannot read TimeoutStopSec of the unit ($(prop TimeoutStopUSec))"
trials=${FAULTS_RANDOM:-1}
RANDOM=${FAULTS_SEED:-$$}
for frac in 10 50 90 $(for _ in $(seq "$trials"); do echo $((RANDOM % 100)); done); do
	ms=$((D * frac / 100 + 1))
	what="unit stop, SIGTERM at $ms of $D ms"
	fresh
	sc start --no-block "$UNIT"
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	t0=$(date +%s%N)
	check_as "$what: systemctl stop" sc stop "$UNIT"
	took=$((($(date +%s%N) - t0) / 1000000))
	diag "$what: stopped in $took ms; $(ended); vmkeep said: $(said)"
	on_its_own "$what"
	if [ "$took" -lt "$stop_limit" ]; then
		ok "$what: stopped in $took ms, within TimeoutStopSec ($stop_limit ms)"
	else
		not_ok "$what: stopped within TimeoutStopSec ($stop_limit ms)"; diag "took $took ms"
	fi
	faults_verdict "$what"
done

# ------------------------------------------------------------ timeout ---

# The limit is half a run. A run may be much shorter than the one D
# measured (the machine is shared, and CI runs the other libvirt stack
# beside this one): when it ends before the limit, the trial is judged
# as any finished run and tried again with half of that run's length.
limit=$((D / 2 + 1))
for try in 1 2 3; do
	dropin timeout "TimeoutStartSec=${limit}ms"
	what="unit timeout, SIGTERM at $limit of $D ms"
	fresh
	t0=$(date +%s%N)
	run_rc sc start "$UNIT"
	took=$((($(date +%s%N) - t0) / 1000000))
	if [ "$RUN_RC" != 0 ] || [ "$try" = 3 ]; then break; fi
	diag "$what: the run ended first, in $took ms ($(ended)); again with a limit of $((took / 2 + 1)) ms"
	faults_verdict "$what (the run ended first)"
	limit=$((took / 2 + 1))
done
diag "$what: $(ended); vmkeep said: $(said)"
isnt "$RUN_RC" 0 "$what: systemctl start fails"
like "$(ended)" "^timeout " "$what: systemd's result is timeout"
on_its_own "$what"
faults_verdict "$what"
dropin timeout

# --------------------------------------------------------------- kill ---

dropin kill "TimeoutStopSec=1ms"
for frac in 30 70; do
	ms=$((D * frac / 100 + 1))
	what="unit stop timeout, SIGKILL at $ms of $D ms"
	fresh
	sc start --no-block "$UNIT"
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	check_as "$what: systemctl stop" sc stop "$UNIT"
	diag "$what: $(ended); vmkeep said: $(said)"
	faults_verdict "$what"
done
dropin kill

# ------------------------------------------------------------- re-run ---

fresh
check_as "the unit runs again" sc start "$UNIT"
is "$(ended)" "success exited 0" "re-run: vmkeep exited 0, the unit succeeded"
faults_verdict "unit re-run"

done_testing
