#!/bin/bash
# The whole test suite, from a fresh Debian 12 checkout, on every libvirt
# generation vmkeep supports (README "Tests"):
#
#   host        the host's own stack: Debian 12's libvirt 9.0 / QEMU 7.2;
#               unit, golden, CLI, e2e and packaging tests
#   backports   a debootstrapped Debian 12 root with bookworm-backports'
#               libvirt 11.x / QEMU 10.x running its own libvirtd
#               (tools/stack-root.sh, cached in /var/cache/vmkeep-ci and
#               built when missing); unit, golden, CLI and e2e tests, built
#               against libvirt 11's headers
#
# then the images of each generation on the other, the fuzz stage and
# `make distcheck`. Each stack installs and starts what it needs; the e2e
# tests are required (an unreachable libvirtd or any skip fails). Prints
# each stage's counts, then one line "N passed, N failed".
#
# The two stacks run side by side: each has its own libvirtd, /run and
# store, and every test names its domains, bridges, TAPs and namespaces
# after its own PID, so they share nothing but the kernel. A TCG guest
# keeps about one CPU busy while it boots and much less after, and most
# test time is spent waiting on guests; side by side the matrix takes
# about two thirds of the time it takes one stack after the other
# (README "Measured"). Each stack's output is kept in a file of its own
# and printed when both are done.
#
# Each stack runs in a process group of its own. A TERM, INT or HUP to
# this script stops both groups (TERM, then KILL after 30 s), then takes
# the backports root down, so an interrupted run leaves no test running.
#
#   VMKEEP_STACKS="host backports"   the stacks to run (default: both)
#   VMKEEP_CI_SERIAL=1               one stack after the other
#   VMKEEP_SKIP_FUZZ=1               no fuzz stage
#   VMKEEP_SKIP_DISTCHECK=1          no make distcheck
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
top=$(pwd)
stacks=${VMKEEP_STACKS:-host backports}

log() { printf '== %s\n' "$*"; }

# What every stage found, one line each ("PASS FAIL SKIP LABEL") and how
# long it took: files, so that stages run in subshells can report.
results=$top/ci-results.txt
took=$top/ci-took.txt
: >"$results"
: >"$took"

# timed LABEL CMD...: run CMD and note how long it took (README "Measured"
# quotes these).
timed() {
	local label=$1 t0=$SECONDS
	shift
	"$@"
	printf '%s: %d min %d s\n' "$label" $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)) >>"$took"
}

# record PASS FAIL SKIP LABEL
record() { printf '%s %s %s %s\n' "$1" "$2" "$3" "$4" >>"$results"; }

# count_check FILE LABEL RC: record the automake summary in FILE.
count_check() {
	local out=$1 label=$2 rc=$3 pass fail skip err xpass xfail
	count() { sed -n "s/^# $1: *\([0-9]*\).*/\1/p" "$out" | tail -1; }
	pass=$(count PASS); fail=$(count FAIL); skip=$(count SKIP)
	err=$(count ERROR); xpass=$(count XPASS); xfail=$(count XFAIL)
	pass=${pass:-0}; fail=${fail:-0}; skip=${skip:-0}; err=${err:-0}; xpass=${xpass:-0}; xfail=${xfail:-0}
	fail=$((fail + err + xpass))
	pass=$((pass + xfail))
	# CI counts a skip as a failure: nothing may pass untested.
	fail=$((fail + skip))
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		# make check itself broke (a test failed to build): count it.
		fail=1
	fi
	record "$pass" "$fail" "$skip" "$label: $pass passed, $fail failed ($skip skipped)"
}

# show_failures DIR: the failing test points from the logs under DIR.
show_failures() {
	grep -l -E '^(not ok|Bail out)' "$1"/tests/*/*.log 2>/dev/null | while read -r f; do
		echo "--- $f"
		# the failing points and the diagnostics after each; not the
		# diagnostics of the points that passed (a log can hold hundreds)
		grep -E -A8 '^(not ok|Bail out)' "$f" | head -60
	done
}

fail_stage() {
	record 0 1 0 "$1: could not run ($2)"
	echo "not ok - $1: $2"
}

# What both stacks need from the host, once and before they start: the
# packages (so that nothing runs apt or dpkg on the host while the stacks
# run), the host's daemons and vmkeep built on the host (the
# cross-generation stage runs it), the test guest.
prepare() {
	log "host: setup (packages, virtlogd, libvirtd)"
	tools/host-setup.sh || { fail_stage host "tools/host-setup.sh failed"; return 1; }
	log "host: build"
	if [ ! -x configure ]; then NOCONFIGURE=1 ./autogen.sh >/dev/null || { fail_stage host autogen; return 1; }; fi
	if [ ! -f Makefile ]; then
		./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var >/dev/null ||
			{ fail_stage host configure; return 1; }
	fi
	make -j"$(nproc)" >/dev/null || { fail_stage host "make failed"; return 1; }
	# The test guest is built once, on the host, from Debian's packages.
	tests/guest/build-guest.sh >/dev/null || { fail_stage host "building the test guest failed"; return 1; }
}

run_host() {
	log "host stack: make check (unit, golden, cli, e2e, pkg) on $(virsh -c qemu:///system version 2>/dev/null | sed -n 's/^Using library: //p; s/^Running hypervisor: //p' | tr '\n' ' ')"
	# CI's required switch: any e2e, unit or packaging test that would skip
	# fails instead.
	VMKEEP_REQUIRE_E2E=1 VMKEEP_REQUIRE_PKG=1 make -j1 check >"$top/check.out" 2>&1
	local rc=$?
	cat "$top/check.out"
	count_check "$top/check.out" "host (libvirt 9.0 / QEMU 7.2)" "$rc"
	show_failures "$top"
}

run_backports() {
	log "backports stack: root (built when missing, a few minutes)"
	tools/stack-root.sh ensure || { fail_stage backports "tools/stack-root.sh ensure failed"; return; }
	tools/stack-root.sh up || { fail_stage backports "tools/stack-root.sh up failed"; return; }
	local root versions
	root=$(tools/stack-root.sh path)
	versions=$(tools/stack-root.sh versions | tr '\n' ' ')
	tools/stack-root.sh copy || { fail_stage backports "copying the tree failed"; return; }
	log "backports stack: build against its libvirt headers"
	tools/stack-root.sh build || { fail_stage backports "building vmkeep in the root failed"; return; }
	log "backports stack: make check (unit, golden, cli, e2e) on $versions"
	tools/stack-root.sh run bash -c '
		cd /build/vmkeep && VMKEEP_REQUIRE_E2E=1 make -j1 check TESTS="$(make -s print-stack-tests)"
	' >"$top/check-backports.out" 2>&1
	local rc=$?
	cat "$top/check-backports.out"
	count_check "$top/check-backports.out" "backports (${versions% })" "$rc"
	show_failures "$root/build/vmkeep"
	echo "${versions% }" >"$top/ci-backports-versions.txt"
}

# Images between the two generations, both daemons up (host build).
run_cross() {
	local root versions rc
	root=$(tools/stack-root.sh path)
	versions=$(cat "$top/ci-backports-versions.txt")
	log "cross-generation: host (libvirt 9.0) <-> backports ($versions)"
	VMKEEP_REQUIRE_E2E=1 VMKEEP_STACK_ROOT=$root make -j1 check TESTS="$(make -s print-matrix-tests)" 2>&1 |
		tee "$top/check-cross.out"
	rc=${PIPESTATUS[0]}
	count_check "$top/check-cross.out" "cross-generation (9.0 <-> $versions)" "$rc"
	show_failures "$top"
}

want() { case " $stacks " in *" $1 "*) return 0 ;; esac; return 1; }
for s in $stacks; do
	case $s in
	host | backports) ;;
	*) fail_stage "$s" "unknown stack (known: host backports)" ;;
	esac
done

# The stacks' process groups (their leaders' PIDs) while they run.
pids=()

# start_stack NAME FUNCTION: FUNCTION in the background, in a process group
# of its own (job control on for the fork), its output in ci-NAME.txt.
start_stack() {
	set -m
	(timed "$1 stack" "$2") </dev/null >"$top/ci-$1.txt" 2>&1 &
	pids+=($!)
	set +m
}

# stop_stacks: TERM to every stack's group, KILL to what is left after 30 s.
stop_stacks() {
	local p alive
	[ ${#pids[@]} -gt 0 ] || return 0
	log "stopping the stacks' tests"
	for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done
	for _ in $(seq 30); do
		alive=0
		for p in "${pids[@]}"; do kill -0 -- "-$p" 2>/dev/null && alive=1; done
		[ "$alive" = 1 ] || break
		sleep 1
	done
	for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; done
	pids=()
}

on_exit() {
	stop_stacks
	! want backports || tools/stack-root.sh down
}

if prepare; then
	rm -f "$top/ci-backports-versions.txt"
	trap on_exit EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	t0=$SECONDS
	if [ "${VMKEEP_CI_SERIAL:-}" = 1 ]; then
		for s in host backports; do
			want "$s" || continue
			start_stack "$s" "run_$s"
			wait "${pids[@]}"
			pids=()
		done
	else
		log "the stacks side by side: $stacks (each one's output follows when both are done)"
		! want host || start_stack host run_host
		! want backports || start_stack backports run_backports
		[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
		pids=()
	fi
	printf 'both stacks: %d min %d s\n' $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)) >>"$took"
	! want host || cat "$top/ci-host.txt"
	! want backports || cat "$top/ci-backports.txt"
	# A stack that ended without a count (its shell died) fails.
	for s in host backports; do
		want "$s" || continue
		grep -q "^[0-9]* [0-9]* [0-9]* ${s}[ :]" "$results" || fail_stage "$s" "ended without a count"
	done
	if want backports && [ -s "$top/ci-backports-versions.txt" ]; then
		timed "cross-generation" run_cross
	fi
	! want backports || tools/stack-root.sh down
	trap - EXIT
fi

# ---- fuzz stage -------------------------------------------------------------
# Every libFuzzer harness of fuzz/ for 20 s after replaying its regression
# inputs (tests/fuzz/fuzz.sh, fuzz/run.sh), as many at once as there are
# CPUs, in a clang build of its own in fuzz/build: about 2 minutes on 2
# CPUs, plus about 2 for the first build. A crash,
# leak, hang or broken invariant fails; so does a skip (no clang).
#   VMKEEP_SKIP_FUZZ=1         no fuzz stage
#   VMKEEP_FUZZ_SECONDS=N      seconds per harness (default 20)
run_fuzz() {
	log "fuzz: each harness ${VMKEEP_FUZZ_SECONDS:-20} s after its regression inputs"
	tools/host-setup.sh deps || { fail_stage fuzz "tools/host-setup.sh deps failed"; return; }
	VMKEEP_REQUIRE_E2E=1 tests/fuzz/fuzz.sh 2>&1 | tee "$top/fuzz.out"
	local rc=${PIPESTATUS[0]} pass fail skip
	pass=$(grep -c '^ok ' "$top/fuzz.out")
	fail=$(grep -c '^not ok ' "$top/fuzz.out")
	skip=$(grep -c '^1\.\.0 # SKIP' "$top/fuzz.out")
	# CI counts a skip as a failure, as everywhere else.
	fail=$((fail + skip))
	if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
		fail=1
	fi
	record "$pass" "$fail" "$skip" "fuzz (${VMKEEP_FUZZ_SECONDS:-20} s per harness): $pass passed, $fail failed ($skip skipped)"
}
if [ "${VMKEEP_SKIP_FUZZ:-}" != 1 ]; then
	timed fuzz run_fuzz
fi

if [ "${VMKEEP_SKIP_DISTCHECK:-}" != 1 ]; then
	dc_t0=$SECONDS
	log "make distcheck"
	# The e2e and packaging tests ran above on the built tree; distcheck
	# proves the tarball builds and passes the tests that need no host state.
	fast=$(make -s print-fast-tests)
	# With the required switch, as the stages above: a test of the tarball
	# that would skip fails.
	if VMKEEP_REQUIRE_E2E=1 make distcheck TESTS="$fast" >"$top/distcheck.out" 2>&1; then
		echo "ok - make distcheck"
		record 1 0 0 "make distcheck: passed"
	else
		echo "not ok - make distcheck"; tail -40 "$top/distcheck.out"
		record 0 1 0 "make distcheck: failed"
	fi
	printf 'make distcheck: %d min %d s\n' $(((SECONDS - dc_t0) / 60)) $(((SECONDS - dc_t0) % 60)) >>"$took"
fi

log "summary"
cut -d' ' -f4- "$results"
sed 's/^/took: /' "$took"
read -r total_pass total_fail < <(awk '{p += $1; f += $2} END {print p + 0, f + 0}' "$results")
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
