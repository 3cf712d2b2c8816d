#!/bin/bash
# tests/bounded.sh TEST [ARGS...]: run the shell test TEST (make check's
# LOG_COMPILER for *.sh) with a time budget, so that one hung test fails
# instead of holding up the whole suite.
#
#   VMKEEP_TEST_TIMEOUT=S   the budget in seconds (default 600: the longest
#                           test takes under 2.5 minutes on either stack)
#
# When TEST is still running at the end of its budget, its TAP says so
# ("Bail out!"), followed as TAP comments by what it was waiting for: its
# processes and their kernel wait channels, whether libvirtd answers, what
# libvirtd's threads and child processes wait for, and gdb backtraces of
# the vmkeep and libvirtd processes when gdb is installed.
# Then TEST's process group gets SIGTERM (its exit traps clean up: guests,
# bridges, mounts), SIGKILL 60 s later. A libvirtd that no longer answers
# is killed and started again, as systemd's Restart= would, so that the
# tests after this one meet a working daemon. The exit status is then 124.
set -u

budget=${VMKEEP_TEST_TIMEOUT:-600}
case $budget in
'' | *[!0-9]*) echo "Bail out! VMKEEP_TEST_TIMEOUT must be a number of seconds, not '$budget'"; exit 2 ;;
esac
uri=${E2E_URI:-qemu:///system}

# Job control gives the test a process group of its own, which the
# watchdog can signal as a whole (vmkeep, virsh, QEMU helpers it started).
set -m
bash "$@" &
test_pid=$!
set +m

# comment CMD...: CMD's output as TAP comments.
comment() { "$@" 2>&1 | sed 's/^/# /'; }

diagnose() {
	local pids lv p
	pids=$(pgrep -d, -g "$test_pid" || true)
	echo "# processes of the test (pid, state, wait channel, command):"
	[ -z "$pids" ] || comment ps -o pid=,stat=,wchan:32=,args= -p "$pids"
	lv=$(cat /run/libvirtd.pid 2>/dev/null || true)
	[ "$uri" = qemu:///system ] || lv=
	if ! command -v virsh >/dev/null; then
		echo "# (no virsh: libvirtd not asked)"
	elif timeout 20 virsh -c "$uri" version >/dev/null 2>&1; then
		echo "# libvirt answers at $uri"
	else
		echo "# libvirtd (pid ${lv:-unknown}) does not answer at $uri within 20 s"
	fi
	# what libvirtd's threads wait for (a worker in wait_for_partner is
	# blocked opening a FIFO) and its helpers (libvirt_iohelper of a save)
	if [ -n "$lv" ] && [ -d "/proc/$lv" ]; then
		echo "# libvirtd's threads (name, wait channel):"
		for p in /proc/"$lv"/task/*; do
			echo "$(cat "$p/comm" 2>/dev/null) $(cat "$p/wchan" 2>/dev/null)"
		done | sort | uniq -c | sed 's/^ */#   /'
		echo "# libvirtd's child processes:"
		comment ps -o pid=,stat=,wchan:32=,args= --ppid "$lv"
	fi
	command -v gdb >/dev/null || { echo "# (no gdb: no backtraces)"; return 0; }
	for p in $(pgrep -g "$test_pid" -x vmkeep) $lv; do
		echo "# backtrace of $(ps -o comm= -p "$p") (pid $p):"
		comment timeout 60 gdb -p "$p" -batch -nx -ex 'thread apply all bt' </dev/null |
			grep -v -e '^# \[New LWP' -e '^# \[Thread debugging' -e '^# Using host libthread_db'
	done
}

# libvirtd_restart: kill a libvirtd that stopped answering and start it
# again with the same pid file (both stacks' daemons use /run/libvirtd.pid).
libvirtd_restart() {
	# only the system daemon of this stack, and only when it was asked
	[ "$uri" = qemu:///system ] && command -v virsh >/dev/null && command -v libvirtd >/dev/null ||
		return 0
	timeout 20 virsh -c "$uri" version >/dev/null 2>&1 && return 0
	local old end
	old=$(cat /run/libvirtd.pid 2>/dev/null || true)
	[ -n "$old" ] || return 0
	echo "# killing libvirtd (pid $old) and starting it again"
	kill -KILL "$old" 2>/dev/null || true
	end=$((SECONDS + 10))
	while kill -0 "$old" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
	# On none of the test's descriptors: a daemon holding make's pipes
	# would keep the harness waiting for their end.
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec libvirtd -d -p /run/libvirtd.pid </dev/null >/dev/null 2>&1
	) || true
	end=$((SECONDS + 60))
	until timeout 20 virsh -c "$uri" version >/dev/null 2>&1; do
		[ "$SECONDS" -lt "$end" ] || { echo "# libvirtd does not answer after the restart"; return 1; }
		sleep 0.5
	done
	echo "# libvirtd answers again"
}

fired=$(mktemp "${TMPDIR:-/tmp}/vkt-bounded.XXXXXX") || exit 2

watchdog() {
	# The sleep holds none of the test's pipes: were it left behind, the
	# harness would not wait for it.
	sleep "$budget" </dev/null >/dev/null 2>&1 3>&- &
	wait $! || return 0
	kill -0 "$test_pid" 2>/dev/null || return 0
	echo fired >"$fired"
	echo "Bail out! $1 did not finish within $budget s (VMKEEP_TEST_TIMEOUT)"
	diagnose
	kill -TERM -- "-$test_pid" 2>/dev/null
	local end=$((SECONDS + 60))
	while kill -0 "$test_pid" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.5; done
	kill -KILL -- "-$test_pid" 2>/dev/null
	libvirtd_restart
}

watchdog "$1" &
dog=$!
rc=0
wait "$test_pid" || rc=$?
# The test ended: stop the watchdog's sleep, and with it the watchdog
# (unless it fired, then let it finish restarting libvirtd).
# End the watchdog's sleep; on a loaded machine the watchdog may not have
# started it yet when a quick test is already done, so until it is gone.
while [ ! -s "$fired" ] && kill -0 "$dog" 2>/dev/null; do
	pkill -TERM -P "$dog" -x sleep 2>/dev/null
	sleep 0.05
done
wait "$dog" 2>/dev/null
if [ -s "$fired" ]; then
	rc=124
fi
rm -f "$fired"
echo "# $1: $SECONDS s of a budget of $budget s"
exit "$rc"
