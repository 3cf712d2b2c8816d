# shellcheck shell=bash
# Helpers for vmkeep's end-to-end tests (real libvirtd + QEMU + the tiny test
# guest from tests/guest).  Sourced by bash TAP scripts run through automake's
# tap-driver.sh:
#
#   #!/bin/bash
#   set -eu
#   . "$(dirname "$0")/lib.sh"
#   e2e_require                  # skip (or bail out if required) without libvirt
#   e2e_guest                    # VK_KERNEL, VK_INITRD
#   br=$(e2e_bridge_name); e2e_bridge "$br"   # no IP, removed at exit
#   name=$(e2e_name a)           # vkt-<test>-<pid>-a
#   e2e_cleanup_domain "$name"
#   ...
#   check e2e_virsh start "$name"
#   check e2e_wait_ticks "$log" 3
#   is "$(e2e_tick_nics "$line" | wc -l)" 2 "two NICs"
#   done_testing
#
# Environment:
#   VMKEEP               vmkeep binary (default $abs_top_builddir/vmkeep, else ./vmkeep)
#   VMKEEP_REQUIRE_E2E=1 a missing prerequisite is a failure, not a skip (CI)
#   E2E_URI              libvirt URI (default qemu:///system)
#   E2E_TMPDIR           parent of the per-test directory (default /var/tmp)
#   E2E_KEEP=1           keep E2E_DIR (disks, serial logs) after the test
#   VMKEEP_GUEST_CACHE   where tests/guest/build-guest.sh puts the guest
#
# File descriptor 7 is taken: it is the TAP stream (the original stdout).
# Background processes that outlive a command must not hold stdout or fd 7
# (use e2e_spawn), or tap-driver waits for them.
#
# Serial line of the guest, one per tick (see tests/guest/init):
#   VKTICK boot=<id> tick=<n> mem=<md5> nics=<N>
#          nic=<name>,<ifindex>,<mac>,<bdf>,<pcipath>,<acpi_index|-> ...
#          blk=<name>,<bdf>,<pcipath> ... fs=<tag>,<yes|no>,<probe|-> ... END

E2E_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_SRCDIR=${abs_top_srcdir:-$(cd "$E2E_LIB_DIR/../.." && pwd)}
if [ -z "${VMKEEP:-}" ]; then
	if [ -n "${abs_top_builddir:-}" ]; then
		VMKEEP=$abs_top_builddir/vmkeep
	else
		VMKEEP=./vmkeep
	fi
fi
E2E_URI=${E2E_URI:-qemu:///system}
E2E_TEST=$(basename "$0" .sh)
E2E_DIR=
export VMKEEP E2E_URI

# ---------------------------------------------------------------- TAP ---

_tap_n=0
_tap_failed=0
_tap_planned=
_tap_done=
# Private scratch space of this library.  Cleanups live in a file there, not
# in an array, so that helpers called in a subshell (e.g. inside $(...))
# still register theirs.
_e2e_tmp=$(mktemp -d "${TMPDIR:-/tmp}/vkt-lib.XXXXXX")
_e2e_cleanup_file=$_e2e_tmp/cleanup
: >"$_e2e_cleanup_file"
# TAP goes to the original stdout even from code that runs while a check
# has stdout redirected (a signal trap, a bail out inside a checked helper).
exec 7>&1

plan() {
	_tap_planned=$1
	echo "1..$1" >&7
}

ok() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $*" >&7
}

not_ok() {
	_tap_n=$((_tap_n + 1))
	_tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - $*" >&7
}

# VMKEEP_FAULT_BIN: vmkeep with the tests' fault hook (VMKEEP_FAULT=POINT,
# tests/e2e/vmkeep-fault.c), built by `make check`; the program itself
# has none.
VMKEEP_FAULT_BIN=${VMKEEP_FAULT_BIN:-${abs_top_builddir:-.}/tests/e2e/vmkeep-fault}
e2e_test_hooks() {
	[ -x "$VMKEEP_FAULT_BIN" ]
}

# skip NAME REASON: a test point that cannot run here; under CI's required
# switch (VMKEEP_REQUIRE_E2E=1) a skip would hide an untested path, so it
# fails instead.
skip() {
	if [ "${VMKEEP_REQUIRE_E2E:-0}" = 1 ]; then
		not_ok "$1 (required by VMKEEP_REQUIRE_E2E=1 but cannot run: ${2:-})"
		return 0
	fi
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP ${2:-}" >&7
}

# diag MSG...: comment lines on stdout (tap-driver copies them to the log).
diag() {
	printf '%s\n' "$@" | sed 's/^/# /' >&7
}

# Helpers explain failures on stderr (check shows them as diagnostics; the
# test's log has them in any case).
_e2e_say() {
	printf '%s\n' "$@" >&2
}

# bail_out MSG: abort the whole test script (tap-driver reports an ERROR).
bail_out() {
	echo "Bail out! $*" >&7
	_tap_done=bailed
	exit 1
}

# check CMD...: one test point named after the command; on failure its
# output and exit status go out as diagnostics.  Always returns 0 so that a
# failed check does not abort a `set -e` script; E2E_RC holds the status.
check() {
	local out rc=0
	out=$(mktemp "$_e2e_tmp/out.XXXXXX")
	"$@" >"$out" 2>&1 || rc=$?
	E2E_RC=$rc
	if [ "$rc" = 0 ]; then
		ok "$*"
	else
		not_ok "$*"
		diag "exit status $rc"
		[ -s "$out" ] && diag "$(tail -n 40 "$out")"
	fi
	rm -f "$out"
	return 0
}

# check_as DESC CMD...: like check, with a description.
check_as() {
	local desc=$1 out rc=0
	shift
	out=$(mktemp "$_e2e_tmp/out.XXXXXX")
	"$@" >"$out" 2>&1 || rc=$?
	E2E_RC=$rc
	if [ "$rc" = 0 ]; then
		ok "$desc"
	else
		not_ok "$desc"
		diag "command: $*" "exit status $rc"
		[ -s "$out" ] && diag "$(tail -n 40 "$out")"
	fi
	rm -f "$out"
	return 0
}

# check_or_bail CMD...: like check, but later steps depend on it.
check_or_bail() {
	check "$@"
	[ "$E2E_RC" = 0 ] || bail_out "required step failed: $*"
}

# is GOT WANT DESC / isnt GOT UNWANTED DESC / like GOT ERE DESC
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:      '$1'" "expected: '$2'"
	fi
}

isnt() {
	if [ "$1" != "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diag "got '$1', expected anything else"
	fi
}

like() {
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok "$3"
	else
		not_ok "$3"
		diag "got:     '$1'" "pattern: '$2'"
	fi
}

# done_testing: print the plan if none was given and exit (1 on failures).
done_testing() {
	[ -n "$_tap_planned" ] || echo "1..$_tap_n" >&7
	_tap_done=finished
	[ "$_tap_failed" = 0 ] || exit 1
	exit 0
}

# ------------------------------------------------------------- cleanup ---

# e2e_on_exit CMD...: run CMD at exit (last registered runs first).
e2e_on_exit() {
	local q
	printf -v q '%q ' "$@"
	printf '%s\n' "$q" >>"$_e2e_cleanup_file"
}

_e2e_exit() {
	local rc=$? cmd
	set +e
	trap - EXIT INT TERM HUP
	exec 1>&7
	if [ -f "$_e2e_cleanup_file" ]; then
		while IFS= read -r cmd; do
			eval "$cmd" >/dev/null 2>&1
		done < <(tac "$_e2e_cleanup_file")
	fi
	rm -rf -- "$_e2e_tmp"
	if [ -z "$_tap_done" ]; then
		# The script died under set -e (or a signal) before done_testing.
		not_ok "test script aborted with exit status $rc"
		[ -n "$_tap_planned" ] || echo "1..$_tap_n" >&7
		[ "$rc" != 0 ] || rc=1
	fi
	exit "$rc"
}
trap _e2e_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

_e2e_destroy_domain() {
	local name=$1
	shift
	e2e_virsh destroy "$name" >/dev/null 2>&1
	e2e_virsh undefine "$name" --managed-save --nvram --snapshots-metadata >/dev/null 2>&1 ||
		e2e_virsh undefine "$name" --managed-save >/dev/null 2>&1 ||
		e2e_virsh undefine "$name" >/dev/null 2>&1
	[ "$#" = 0 ] || rm -rf -- "$@"
	return 0
}

# e2e_cleanup_domain NAME [FILE...]: at exit destroy and undefine NAME (with
# managed save and NVRAM) and remove the given files.
e2e_cleanup_domain() {
	e2e_on_exit _e2e_destroy_domain "$@"
}

# e2e_virtiofsd: the virtiofsd binary (Debian 12's QEMU package has it in
# /usr/lib/qemu, later generations ship it on its own in /usr/libexec), or
# nothing.
e2e_virtiofsd() {
	local p
	for p in /usr/libexec/virtiofsd /usr/lib/qemu/virtiofsd; do
		if [ -x "$p" ]; then
			echo "$p"
			return 0
		fi
	done
}

# e2e_spawn LOG CMD...: start a helper daemon (e.g. virtiofsd) in the
# background with its output in LOG and no TAP descriptors (a daemon holding
# the test's stdout would keep tap-driver waiting); killed at exit.  Prints
# its pid, so `pid=$(e2e_spawn ...)` works.
e2e_spawn() {
	local log=$1 pid
	shift
	"$@" </dev/null >"$log" 2>&1 7>&- &
	pid=$!
	e2e_on_exit _e2e_kill "$pid"
	echo "$pid"
}

# e2e_libvirtd_start: start this stack's libvirtd again after a test
# killed it (pid file /run/libvirtd.pid on both stacks), as systemd's
# Restart= would: with none of the test's descriptors (the daemon outlives
# the test; one holding its log or a pipe of the harness keeps them open).
e2e_libvirtd_start() {
	(
		for fd in /proc/"$BASHPID"/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec libvirtd -d -p /run/libvirtd.pid </dev/null >/dev/null 2>&1
	) || true
}

_e2e_kill() {
	local pid=$1
	kill "$pid" 2>/dev/null || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

# e2e_virsh ARGS...: virsh on E2E_URI, quiet.
e2e_virsh() {
	virsh -q -c "$E2E_URI" "$@"
}

# ---------------------------------------------------------- environment ---

# e2e_name [SUFFIX]: a name unique to this test run: vkt-<test>-<pid>[-SUFFIX].
e2e_name() {
	echo "vkt-$E2E_TEST-$$${1:+-$1}"
}

_e2e_skip_or_bail() {
	if [ "${VMKEEP_REQUIRE_E2E:-0}" = 1 ]; then
		bail_out "e2e tests are required (VMKEEP_REQUIRE_E2E=1) but $*"
	fi
	echo "1..0 # SKIP $*" >&7
	_tap_done=skipped
	exit 0
}

# e2e_require [--vmkeep]: skip the whole test (or bail out when
# VMKEEP_REQUIRE_E2E=1) unless libvirtd answers at E2E_URI as root, QEMU is
# installed and, with --vmkeep, the vmkeep binary is built.  Creates E2E_DIR.
e2e_require() {
	local want_vmkeep=0 out
	[ "${1:-}" = --vmkeep ] && want_vmkeep=1
	[ "$(id -u)" = 0 ] || _e2e_skip_or_bail "not running as root (bridges, qemu:///system)"
	command -v virsh >/dev/null || _e2e_skip_or_bail "virsh is not installed (tools/host-setup.sh deps)"
	command -v qemu-system-x86_64 >/dev/null ||
		_e2e_skip_or_bail "qemu-system-x86_64 is not installed (tools/host-setup.sh deps)"
	command -v qemu-img >/dev/null || _e2e_skip_or_bail "qemu-img is not installed (tools/host-setup.sh deps)"
	if ! out=$(timeout 20 virsh -c "$E2E_URI" version 2>&1); then
		_e2e_skip_or_bail "libvirtd does not answer at $E2E_URI (tools/host-setup.sh daemons): $(printf '%s' "$out" | tail -n 1)"
	fi
	if [ "$want_vmkeep" = 1 ] && [ ! -x "$VMKEEP" ]; then
		_e2e_skip_or_bail "vmkeep binary not found at $VMKEEP (build first)"
	fi
	e2e_mkdir
}

# Can QEMU (running as the libvirt-qemu user) read PATH?
_e2e_qemu_can_read() {
	id libvirt-qemu >/dev/null 2>&1 || return 0
	command -v runuser >/dev/null || return 0
	runuser -u libvirt-qemu -- test -r "$1"
}

# e2e_mkdir: create E2E_DIR, a per-test directory QEMU can reach.
e2e_mkdir() {
	[ -z "$E2E_DIR" ] || return 0
	local parent=${E2E_TMPDIR:-/var/tmp}
	E2E_DIR=$(mktemp -d "$parent/vkt-$E2E_TEST-XXXXXX") ||
		bail_out "cannot create a directory under $parent"
	chmod 0755 "$E2E_DIR"
	export E2E_DIR
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		e2e_on_exit echo "kept $E2E_DIR"
	else
		e2e_on_exit rm -rf -- "$E2E_DIR"
	fi
	: >"$E2E_DIR/.probe"
	chmod 0644 "$E2E_DIR/.probe"
	_e2e_qemu_can_read "$E2E_DIR/.probe" ||
		bail_out "QEMU (user libvirt-qemu) cannot reach $E2E_DIR; set E2E_TMPDIR to a directory whose parents are world-searchable"
}

# e2e_guest: build (or reuse) the test guest; sets VK_KERNEL, VK_INITRD,
# VK_INITRD_AGENT (the same with QEMU's guest agent), VK_GUEST_DIR and
# VK_CMDLINE (a kernel command line to start from).
e2e_guest() {
	local out dir
	e2e_mkdir
	out=$("$E2E_SRCDIR/tests/guest/build-guest.sh") ||
		bail_out "building the test guest failed (tests/guest/build-guest.sh)"
	dir=$(printf '%s\n' "$out" | tail -n 1)
	if [ ! -s "$dir/vmlinuz" ] || [ ! -s "$dir/initrd.img" ] || [ ! -s "$dir/initrd-agent.img" ]; then
		bail_out "build-guest.sh printed '$dir' but it holds no vmlinuz/initrd.img/initrd-agent.img"
	fi
	VK_GUEST_DIR=$dir
	VK_KERNEL=$dir/vmlinuz
	VK_INITRD=$dir/initrd.img
	VK_INITRD_AGENT=$dir/initrd-agent.img
	# A checkout under a private directory (e.g. /root) is not reachable by
	# QEMU: use copies in E2E_DIR then.
	if ! _e2e_qemu_can_read "$VK_KERNEL" || ! _e2e_qemu_can_read "$VK_INITRD"; then
		cp "$VK_KERNEL" "$VK_INITRD" "$VK_INITRD_AGENT" "$E2E_DIR/"
		chmod 0644 "$E2E_DIR/vmlinuz" "$E2E_DIR/initrd.img" "$E2E_DIR/initrd-agent.img"
		VK_KERNEL=$E2E_DIR/vmlinuz
		VK_INITRD=$E2E_DIR/initrd.img
		VK_INITRD_AGENT=$E2E_DIR/initrd-agent.img
	fi
	# no_timer_check: on a loaded host a TCG guest's timer can look broken
	# to the kernel's IO-APIC check, which then panics in early boot
	VK_CMDLINE=${VK_CMDLINE:-console=ttyS0 quiet no_timer_check}
	export VK_GUEST_DIR VK_KERNEL VK_INITRD VK_INITRD_AGENT VK_CMDLINE
}

# e2e_import_places: vmkeep.conf lines that put what an imported image's
# VM needs (disks, NVRAM, logs) into E2E_DIR and allow its kernel from the
# test guest's directories (vmkeep.conf(5), trust boundary).
e2e_import_places() {
	mkdir -p "$E2E_DIR/imported" "$E2E_DIR/nvram" "$E2E_DIR/logs"
	printf 'disk-dir=%s/imported\nnvram-dir=%s/nvram\nlog-dir=%s/logs\nkernel-dirs=%s:%s\n' \
		"$E2E_DIR" "$E2E_DIR" "$E2E_DIR" "$(dirname "$VK_KERNEL")" "$E2E_DIR"
}

# e2e_bridge_name [SUFFIX]: a bridge name unique to this run (<= 15 chars).
e2e_bridge_name() {
	echo "vkb$(($$ % 1000000))${1:+-$1}" | cut -c 1-15
}

# e2e_bridge NAME: create a Linux bridge NAME with no IP address and IPv6
# off (so the host sends nothing on it), up; removed at exit.
e2e_bridge() {
	local name=$1
	[ "${#name}" -le 15 ] || bail_out "bridge name '$name' is longer than 15 characters"
	ip link add "$name" type bridge || bail_out "cannot create bridge $name"
	e2e_on_exit ip link del "$name"
	if [ -w "/proc/sys/net/ipv6/conf/$name/disable_ipv6" ]; then
		echo 1 >"/proc/sys/net/ipv6/conf/$name/disable_ipv6"
	fi
	ip link set "$name" up || bail_out "cannot bring bridge $name up"
}

# e2e_client BRIDGE ADDR/PREFIX: a client for the guests on BRIDGE: a
# network namespace of this run ($E2E_NS) with one end of a veth pair,
# addressed ADDR/PREFIX and IPv6 off, the other end on BRIDGE; both go at
# exit. `e2e_in_client CMD...` runs CMD in it. Nothing it sends leaves
# the bridge.
e2e_client() {
	local br=$1 addr=$2 veth
	E2E_NS=vkt-$E2E_TEST-$$
	veth=vkc$(($$ % 100000))
	ip netns add "$E2E_NS" || bail_out "cannot create network namespace $E2E_NS"
	e2e_on_exit ip netns del "$E2E_NS"
	ip link add "$veth" type veth peer name "${veth}p" || bail_out "cannot create veth $veth"
	e2e_on_exit ip link del "$veth"
	ip link set "${veth}p" netns "$E2E_NS"
	ip link set "$veth" master "$br" up
	e2e_in_client sh -c "echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
		ip link set lo up
		ip addr add $addr dev ${veth}p
		ip link set ${veth}p up" || bail_out "cannot configure the client namespace"
	E2E_CLIENT_IF=${veth}p
	export E2E_NS E2E_CLIENT_IF
}
e2e_in_client() { ip netns exec "$E2E_NS" "$@"; }

# e2e_ip_guest NAME SOURCE MAC ADDR/PREFIX LOG [KNOB...]: a small guest
# (pc, 128 MiB, 1 MiB filled) made and started by `$VMKEEP create`, its NIC
# on SOURCE (bridge=BR or network=NET of --nic) with MAC and the IPv4
# address ADDR/PREFIX (vk.ip), more kernel command line KNOBs (vk.dhcp=1),
# its serial log in LOG; removed at exit. With E2E_AGENT=1 it also has QEMU's
# guest agent: the initramfs that carries it, a virtio-serial controller and
# the channel org.qemu.guest_agent.0 in its XML (defined by `$VMKEEP
# define`), and vk.agent=1.
e2e_ip_guest() {
	local name=$1 source=$2 mac=$3 addr=$4 log=$5
	shift 5
	local knobs="vk.fill=1 vk.ip=$mac/$addr $*" initrd=$VK_INITRD
	if [ "${E2E_AGENT:-0}" = 1 ]; then
		knobs="$knobs vk.agent=1"
		initrd=$VK_INITRD_AGENT
	fi
	local args=(create "$name" --machine pc --virt-type qemu --memory 128 --no-balloon
		--nic "$source,mac=$mac" --serial-log "$log"
		--boot "kernel=$VK_KERNEL,initrd=$initrd,cmdline=$VK_CMDLINE $knobs")
	e2e_cleanup_domain "$name"
	if [ "${E2E_AGENT:-0}" != 1 ]; then
		check_or_bail "$VMKEEP" -c "$E2E_URI" "${args[@]}" --start
		return
	fi
	local xml=$E2E_DIR/$name.agent.xml
	"$VMKEEP" -c "$E2E_URI" "${args[@]}" --print-xml >"$xml" ||
		bail_out "create --print-xml of $name failed"
	sed -i "s|</devices>|<controller type='virtio-serial' index='0'/><channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel></devices>|" "$xml"
	check_or_bail "$VMKEEP" -c "$E2E_URI" define "$xml"
	check_or_bail "$VMKEEP" -c "$E2E_URI" start "$name"
}

# e2e_client_ip6 ADDR/PREFIX: IPv6 on the client's interface with that
# address alone (no link-local address, no DAD, no router solicitation).
e2e_client_ip6() {
	local c=/proc/sys/net/ipv6/conf
	e2e_in_client sh -c "echo 1 >$c/$E2E_CLIENT_IF/addr_gen_mode
		for k in accept_dad dad_transmits accept_ra autoconf router_solicitations; do
			echo 0 >$c/$E2E_CLIENT_IF/\$k
		done
		echo 0 >$c/$E2E_CLIENT_IF/disable_ipv6
		ip -6 addr add $1 dev $E2E_CLIENT_IF nodad" || bail_out "cannot give the client $1"
}

# ---------------------------------------------------------- guest log ---

# e2e_log_size FILE: its size in bytes (0 if missing): a mark for
# e2e_wait_ticks_from.
e2e_log_size() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

_e2e_log_tail() {
	local log=$1
	_e2e_say "last lines of $log:"
	if [ -r "$log" ]; then
		tail -n 15 "$log" | tr -d '\r' | cut -c 1-400 | sed 's/^/| /' >&2
	else
		_e2e_say "(no such file)"
	fi
}

# e2e_wait_ticks_from FILE OFFSET N [TIMEOUT]: wait until N complete VKTICK
# lines exist past byte OFFSET (a log that shrank, i.e. was truncated by a new
# QEMU process, counts from 0).  On timeout print the log's tail, return 1.
e2e_wait_ticks_from() {
	local log=$1 off=$2 n=$3 timeout=${4:-60} size cnt end
	end=$((SECONDS + timeout))
	while :; do
		size=$(e2e_log_size "$log")
		[ "$size" -ge "$off" ] || off=0
		cnt=$(tail -c +"$((off + 1))" "$log" 2>/dev/null | tr -d '\r' | grep -c '^VKTICK .* END$' || true)
		[ "$cnt" -lt "$n" ] || return 0
		if [ "$SECONDS" -ge "$end" ]; then
			_e2e_say "timeout after ${timeout}s: $cnt of $n VKTICK lines after offset $off in $log"
			_e2e_log_tail "$log"
			return 1
		fi
		sleep 0.5
	done
}

# e2e_wait_ticks FILE N [TIMEOUT]: wait for N VKTICK lines written after now.
e2e_wait_ticks() {
	e2e_wait_ticks_from "$1" "$(e2e_log_size "$1")" "$2" "${3:-60}"
}

# e2e_wait_line FILE ERE [TIMEOUT [OFFSET]]: wait for a line matching ERE
# (e.g. '^VKPOWEROFF') past OFFSET (default 0).
e2e_wait_line() {
	local log=$1 re=$2 timeout=${3:-60} off=${4:-0} end
	end=$((SECONDS + timeout))
	while :; do
		[ "$(e2e_log_size "$log")" -ge "$off" ] || off=0
		tail -c +"$((off + 1))" "$log" 2>/dev/null | tr -d '\r' | grep -Eq -- "$re" && return 0
		if [ "$SECONDS" -ge "$end" ]; then
			_e2e_say "timeout after ${timeout}s waiting for /$re/ in $log"
			_e2e_log_tail "$log"
			return 1
		fi
		sleep 0.5
	done
}

# e2e_wait_state DOMAIN STATE [TIMEOUT]: wait until `virsh domstate` says
# STATE (e.g. "shut off", "running", "paused").
e2e_wait_state() {
	local dom=$1 want=$2 timeout=${3:-60} end st=
	end=$((SECONDS + timeout))
	while :; do
		st=$(e2e_virsh domstate "$dom" 2>/dev/null | head -n 1) || st=
		[ "$st" != "$want" ] || return 0
		if [ "$SECONDS" -ge "$end" ]; then
			_e2e_say "timeout after ${timeout}s: $dom is '$st', expected '$want'"
			return 1
		fi
		sleep 0.5
	done
}

# e2e_ticks FILE: all complete VKTICK lines, CRs stripped.
e2e_ticks() {
	tr -d '\r' <"$1" 2>/dev/null | grep '^VKTICK .* END$' || true
}

# e2e_ticks_from FILE OFFSET: complete VKTICK lines past byte OFFSET;
# e2e_first_tick_from / e2e_last_tick_from: the first / last of them.
e2e_ticks_from() {
	tail -c +"$(($2 + 1))" "$1" 2>/dev/null | tr -d '\r' | grep '^VKTICK .* END$' || true
}
e2e_first_tick_from() { e2e_ticks_from "$1" "$2" | head -n 1; }
e2e_last_tick_from() { e2e_ticks_from "$1" "$2" | tail -n 1; }

# e2e_guest_nics LINE: "mac name ifindex pcipath acpi" per NIC of a tick
# line, sorted: what the guest sees of each NIC.
e2e_guest_nics() {
	local v
	e2e_tick_nics "$1" | while IFS= read -r v; do
		printf '%s %s %s %s %s\n' "$(e2e_field "$v" 3)" "$(e2e_field "$v" 1)" \
			"$(e2e_field "$v" 2)" "$(e2e_field "$v" 5)" "$(e2e_field "$v" 6)"
	done | sort
}

# e2e_domstate DOMAIN: libvirt's state word(s), empty when there is none.
# e2e_seed_idle STORE DOMAIN MINUTES: an idle history in STORE/idle (the
# format of src/core/idle.h) that shows the running DOMAIN idle over the
# last MINUTES: a sample every 10 minutes, as the shipped timer takes
# them, the newest 61 s ago with the counters as they are now, CPU at
# 1 % of the vCPUs and no traffic before. What `hibernate --idle-for`
# needs without a test waiting half an hour; what the domain does from
# now on is measured for real.
e2e_seed_idle() {
	python3 - "$E2E_URI" "$@" <<'PY' || bail_out "cannot seed the idle history of $2"
import json, os, subprocess, sys, time
uri, store, dom, minutes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def virsh(*a):
    return subprocess.run(["virsh", "-q", "-c", uri, *a], check=True,
                          capture_output=True, text=True).stdout
st = dict(l.strip().split("=", 1) for l in virsh("domstats", "--cpu-total", "--vcpu",
          "--interface", "--block", dom).splitlines() if "=" in l)
def total(prefix, *ends):
    return sum(int(v) for k, v in st.items()
               if k.startswith(prefix) and k.split(".")[-2:] in [e.split(".") for e in ends])
cpu = int(st["cpu.time"])
net = total("net.", "rx.bytes", "tx.bytes")
blk = total("block.", "rd.bytes", "wr.bytes")
vcpus = int(st.get("vcpu.current", "1"))
uuid = virsh("domuuid", dom).strip()
dom_id = int(virsh("domid", dom).strip())
now = int(time.time() * 1000)
samples = []
for k in range(minutes // 10 + 1, -1, -1):
    t = now - 61000 - k * 600000
    used = (now - 61000 - t) * 1000000 * vcpus // 100  # ns at 1 %
    samples.append({"t": t, "cpu": max(cpu - used, 0), "net": net, "blk": blk,
                    "vcpus": vcpus, "id": dom_id})
d = os.path.join(store, "idle")
os.makedirs(d, mode=0o700, exist_ok=True)
path = os.path.join(d, uuid + ".json")
with open(path + ".seed", "w") as f:
    json.dump({"format": "vmkeep-idle-history", "version": 1, "uuid": uuid,
               "samples": samples}, f)
os.chmod(path + ".seed", 0o600)
os.rename(path + ".seed", path)
PY
}

e2e_domstate() { virsh -q -c "$E2E_URI" domstate "$1" 2>/dev/null | head -n 1; }

# e2e_last_tick FILE: the last complete VKTICK line (status 1 if none).
e2e_last_tick() {
	local l
	l=$(e2e_ticks "$1" | tail -n 1)
	[ -n "$l" ] || return 1
	printf '%s\n' "$l"
}

# e2e_boot_id FILE: boot id of the last boot seen in the log.
e2e_boot_id() {
	tr -d '\r' <"$1" 2>/dev/null | sed -n 's/^VK\(BOOT\|TICK\) boot=\([^ ]*\).*/\2/p' | tail -n 1
}

# e2e_tick_get LINE KEY: the value of KEY= in a tick line (boot, tick, mem,
# nics; for repeated keys the first one).
e2e_tick_get() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
e2e_tick_boot() { e2e_tick_get "$1" boot; }
e2e_tick_n() { e2e_tick_get "$1" tick; }
e2e_tick_mem() { e2e_tick_get "$1" mem; }

# e2e_tick_all LINE KEY: every value of a repeated KEY=, one per line.
e2e_tick_all() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# NIC value: name,ifindex,mac,bdf,pcipath,acpi_index (acpi_index "-" if none)
e2e_tick_nics() { e2e_tick_all "$1" nic; }

# e2e_tick_nic_by_mac LINE MAC: that NIC's value (status 1 if absent).
e2e_tick_nic_by_mac() {
	local mac v
	mac=$(printf '%s' "$2" | tr 'A-F' 'a-f')
	while IFS= read -r v; do
		[ "$(e2e_field "$v" 3 | tr 'A-F' 'a-f')" = "$mac" ] && { printf '%s\n' "$v"; return 0; }
	done < <(e2e_tick_nics "$1")
	return 1
}

# Disk value: name,bdf,pcipath
e2e_tick_blks() { e2e_tick_all "$1" blk; }

# e2e_tick_blk LINE NAME: that disk's value (status 1 if absent).
e2e_tick_blk() {
	e2e_tick_blks "$1" | grep -m 1 "^$2," || return 1
}

# virtiofs value: tag,mounted(yes|no),first line of vk-probe.txt ("-" if
# none; characters outside [A-Za-z0-9._:=+@/-] become "_")
e2e_tick_fss() { e2e_tick_all "$1" fs; }

# e2e_tick_fs LINE TAG: that filesystem's value (status 1 if absent).
e2e_tick_fs() {
	e2e_tick_fss "$1" | grep -m 1 "^$2," || return 1
}

# e2e_field VALUE N: the Nth comma-separated field of a nic/blk/fs value
# (nic: 1 name, 2 ifindex, 3 mac, 4 bdf, 5 pcipath, 6 acpi_index).
e2e_field() {
	printf '%s\n' "$1" | cut -d, -f"$2"
}

# e2e_disk_stamp IMAGE [FORMAT]: the VKDISK line the guest last wrote to
# sector 0 of its vda, read from the image file (works on a running guest).
e2e_disk_stamp() {
	local img=$1 fmt=${2:-} tmp
	tmp=$(mktemp "$_e2e_tmp/sector.XXXXXX")
	if ! qemu-img dd -U ${fmt:+-f "$fmt"} -O raw if="$img" of="$tmp" bs=512 count=1 >/dev/null 2>&1; then
		rm -f "$tmp"
		return 1
	fi
	head -n 1 "$tmp" | tr -d '\0'
	rm -f "$tmp"
}
