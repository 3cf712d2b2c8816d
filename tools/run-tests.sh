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
# then `make distcheck`. Each stack installs and starts what it needs; the
# e2e tests are required (an unreachable libvirtd or any skip fails). Prints
# each stack's counts, then one line "N passed, N failed".
#
#   VMKEEP_STACKS="host backports"   the stacks to run (default: both)
#   VMKEEP_SKIP_DISTCHECK=1          no make distcheck
set -uo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
stacks=${VMKEEP_STACKS:-host backports}

log() { printf '== %s\n' "$*"; }

total_pass=0 total_fail=0 total_skip=0
summary=()
timings=()

# timed LABEL CMD...: run CMD and note how long it took (README "Measured"
# quotes these).
timed() {
	local label=$1 t0=$SECONDS
	shift
	"$@"
	timings+=("$label: $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s")
}

# count_check FILE LABEL RC: add the automake summary in FILE to the totals.
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
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	summary+=("$label: $pass passed, $fail failed ($skip skipped)")
}

# show_failures DIR: the failing test points from the logs under DIR.
show_failures() {
	grep -l -E '^(not ok|Bail out)' "$1"/tests/*/*.log 2>/dev/null | while read -r f; do
		echo "--- $f"
		grep -E -A3 '^(not ok|Bail out|#)' "$f" | head -40
	done
}

fail_stage() {
	total_fail=$((total_fail + 1))
	summary+=("$1: could not run ($2)")
	echo "not ok - $1: $2"
}

run_host() {
	log "host stack: setup (packages, virtlogd, libvirtd)"
	tools/host-setup.sh || { fail_stage host "tools/host-setup.sh failed"; return; }
	log "host stack: build"
	if [ ! -x configure ]; then NOCONFIGURE=1 ./autogen.sh >/dev/null || { fail_stage host autogen; return; }; fi
	if [ ! -f Makefile ]; then
		./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var >/dev/null ||
			{ fail_stage host configure; return; }
	fi
	make -j"$(nproc)" >/dev/null || { fail_stage host "make failed"; return; }
	log "host stack: make check (unit, golden, cli, e2e, pkg) on $(virsh -c qemu:///system version 2>/dev/null | sed -n 's/^Using library: //p; s/^Running hypervisor: //p' | tr '\n' ' ')"
	# CI's required switch: any e2e, unit or packaging test that would skip
	# fails instead.
	VMKEEP_REQUIRE_E2E=1 VMKEEP_REQUIRE_PKG=1 make -j1 check 2>&1 | tee "$top/check.out"
	local rc=${PIPESTATUS[0]}
	count_check "$top/check.out" "host (libvirt 9.0 / QEMU 7.2)" "$rc"
	show_failures "$top"
}

run_backports() {
	log "backports stack: root (built when missing, a few minutes)"
	tools/stack-root.sh ensure || { fail_stage backports "tools/stack-root.sh ensure failed"; return; }
	trap 'tools/stack-root.sh down' EXIT
	tools/stack-root.sh up || { fail_stage backports "tools/stack-root.sh up failed"; return; }
	local root versions
	root=$(tools/stack-root.sh path)
	versions=$(tools/stack-root.sh versions | tr '\n' ' ')
	# The test guest is built once, on the host, from Debian's packages.
	tests/guest/build-guest.sh >/dev/null || { fail_stage backports "building the test guest failed"; return; }
	tools/stack-root.sh copy || { fail_stage backports "copying the tree failed"; return; }
	log "backports stack: build against its libvirt headers"
	tools/stack-root.sh build || { fail_stage backports "building vmkeep in the root failed"; return; }
	log "backports stack: make check (unit, golden, cli, e2e) on $versions"
	tools/stack-root.sh run bash -c '
		cd /build/vmkeep && VMKEEP_REQUIRE_E2E=1 make -j1 check TESTS="$(make -s print-stack-tests)"
	' 2>&1 | tee "$top/check-backports.out"
	local rc=${PIPESTATUS[0]}
	count_check "$top/check-backports.out" "backports (${versions% })" "$rc"
	show_failures "$root/build/vmkeep"
	# Images between the two generations, both daemons up (host build).
	if [ -x "$top/vmkeep" ]; then
		log "cross-generation: host (libvirt 9.0) <-> backports ($versions)"
		VMKEEP_REQUIRE_E2E=1 VMKEEP_STACK_ROOT=$root make -j1 check TESTS="$(make -s print-matrix-tests)" 2>&1 |
			tee "$top/check-cross.out"
		rc=${PIPESTATUS[0]}
		count_check "$top/check-cross.out" "cross-generation (9.0 <-> ${versions% })" "$rc"
		show_failures "$top"
	fi
	tools/stack-root.sh down
	trap - EXIT
}

for s in $stacks; do
	case $s in
	host) timed "host stack" run_host ;;
	backports) timed "backports stack and cross-generation" run_backports ;;
	*) fail_stage "$s" "unknown stack (known: host backports)" ;;
	esac
done

# ---- fuzz stage -------------------------------------------------------------
# Every libFuzzer harness of fuzz/ for 20 s after replaying its regression
# inputs (tests/fuzz/fuzz.sh, fuzz/run.sh), in a clang build of its own in
# fuzz/build: about 2.5 minutes, plus about 2 for the first build. A crash,
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
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	summary+=("fuzz (${VMKEEP_FUZZ_SECONDS:-20} s per harness): $pass passed, $fail failed ($skip skipped)")
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
		total_pass=$((total_pass + 1)); echo "ok - make distcheck"
		summary+=("make distcheck: passed")
	else
		total_fail=$((total_fail + 1)); echo "not ok - make distcheck"; tail -40 "$top/distcheck.out"
		summary+=("make distcheck: failed")
	fi
	timings+=("make distcheck: $(((SECONDS - dc_t0) / 60)) min $(((SECONDS - dc_t0) % 60)) s")
fi

log "summary"
printf '%s\n' "${summary[@]}"
[ ${#timings[@]} -eq 0 ] || printf 'took: %s\n' "${timings[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
