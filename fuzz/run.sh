#!/bin/bash
# Build the libFuzzer harnesses and run them (README "Fuzzing").
#
#   fuzz/run.sh [-t SECONDS] [-j JOBS] [--build-only] [--tap] [HARNESS...]
#
#   -t SECONDS     fuzz each harness for SECONDS (default 60); 0 only replays
#                  the regression inputs
#   -j JOBS        run up to JOBS harnesses at once (default 1); each is one
#                  process, so JOBS up to the number of CPUs gives every
#                  harness the same executions and the stage 1/JOBS the time
#   --build-only   build the harnesses and stop
#   --tap          print TAP (tests/fuzz/fuzz.sh) instead of a report
#   HARNESS        save-header sidecar tar config validate domain-xml
#                  manifest trust wakeframe oci (default: all of them)
#
# The harnesses are built with configure --enable-fuzzing (clang, libFuzzer,
# ASan, UBSan) in a build of their own, $VMKEEP_FUZZ_BUILD (default
# fuzz/build, ignored by git), from a copy of the checkout's files, so an
# ordinary in-tree build is neither disturbed nor in the way (configure
# refuses a second build of a configured source directory).
#
# Per harness: first every input of fuzz/regressions/HARNESS/ is replayed,
# then libFuzzer runs from the committed seeds fuzz/corpus/HARNESS/ plus a
# working corpus in the build directory (new inputs go there, never into
# the checkout), with fuzz/HARNESS.dict. It prints executions, exec/s, the
# final coverage (cov: edges, ft: features) and the crashes it found;
# crashing, leaking, hanging (> 10 s) and out-of-memory inputs are saved
# in fuzz/artifacts/HARNESS/ (ignored by git). Exits 1 when any harness
# crashed, on a regression input or a new one.
#
#   FUZZ_ARGS="-only_ascii=1 ..."   more libFuzzer options for every run
#   VMKEEP_FUZZ_CC=clang-14         the compiler (default: clang)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
all_harnesses=(save-header sidecar tar config validate domain-xml manifest trust wakeframe oci)
seconds=60
jobs=1
build_only=0
tap=0
harnesses=()

usage() {
	sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	-t) [ $# -ge 2 ] || usage; seconds=$2; shift 2 ;;
	-t*) seconds=${1#-t}; shift ;;
	-j) [ $# -ge 2 ] || usage; jobs=$2; shift 2 ;;
	-j*) jobs=${1#-j}; shift ;;
	--build-only) build_only=1; shift ;;
	--tap) tap=1; shift ;;
	-h|--help) usage ;;
	-*) echo "fuzz/run.sh: unknown option $1" >&2; usage ;;
	*)
		case " ${all_harnesses[*]} " in
		*" $1 "*) harnesses+=("$1") ;;
		*) echo "fuzz/run.sh: unknown harness $1 (known: ${all_harnesses[*]})" >&2; exit 2 ;;
		esac
		shift ;;
	esac
done
case $seconds in
''|*[!0-9]*) echo "fuzz/run.sh: -t wants a whole number of seconds, not '$seconds'" >&2; exit 2 ;;
esac
case $jobs in
''|*[!0-9]*|0) echo "fuzz/run.sh: -j wants a whole number of jobs from 1, not '$jobs'" >&2; exit 2 ;;
esac
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all_harnesses[@]}")

build=${VMKEEP_FUZZ_BUILD:-$top/fuzz/build}
artifacts=$top/fuzz/artifacts
tapn=0

say() { [ "$tap" = 1 ] || printf '%s\n' "$*"; }
# print_result OK TEXT: one TAP line, or one report line.
print_result() {
	if [ "$tap" = 1 ]; then
		tapn=$((tapn + 1))
		if [ "$1" = 0 ]; then echo "ok $tapn - $2"; else echo "not ok $tapn - $2"; fi
	else
		if [ "$1" = 0 ]; then echo "   $2"; else echo "   FAILED: $2"; fi
	fi
}
# print_diag FILE: the end of a log, as TAP comments or plain.
print_diag() {
	if [ "$tap" = 1 ]; then tail -n 40 "$1" | sed 's/^/# /'; else tail -n 40 "$1" | sed 's/^/   | /'; fi
}

# While harnesses run (several at once with -j), each notes its results in
# its own file, $build/logs/HARNESS.results, a line each: "result OK TEXT"
# or "diag FILE"; they are printed in the harnesses' order once all are
# done, so the TAP numbers and the report read the same for any -j.
results=/dev/null
result() { printf 'result %s %s\n' "$1" "$2" >>"$results"; }
diag() { printf 'diag %s\n' "$1" >>"$results"; }

# ---- build --------------------------------------------------------------

# The checkout's files as they are now (tracked or new, not ignored), into
# $build/src. tar keeps their times, so only what changed is rebuilt.
copy_sources() {
	mkdir -p "$build/src" || return 1
	if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		(cd "$top" && git ls-files -z --cached --others --exclude-standard |
			tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
			tar -xf - -C "$build/src"
	else
		# A tarball: everything but the build products of an in-tree build.
		(cd "$top" && find . -path ./fuzz/build -prune -o -path ./fuzz/artifacts -prune -o \
			\( -type f -o -type l \) ! -name '*.o' ! -name '*.a' ! -name config.status \
			! -name config.log ! -name Makefile ! -name config.h -print0 |
			tar --null -T - -cf -) | tar -xf - -C "$build/src"
	fi
}

do_build() {
	local log=$build/build.log
	mkdir -p "$build" || return 1
	: >"$log"
	if [ -z "${VMKEEP_FUZZ_CC:-}" ] && ! command -v clang >/dev/null && ! command -v clang-14 >/dev/null; then
		echo "clang not found: the harnesses need clang with libFuzzer. On Debian: apt-get install clang libclang-rt-14-dev" >"$log"
		return 1
	fi
	copy_sources >>"$log" 2>&1 || return 1
	(
		cd "$build/src" || exit 1
		if [ ! -x configure ]; then NOCONFIGURE=1 ./autogen.sh || exit 1; fi
		if [ ! -f Makefile ] || ! grep -q '^FUZZ_CFLAGS = -fsanitize' Makefile; then
			# CC of the environment is the ordinary build's (gcc, say):
			# configure --enable-fuzzing picks clang itself.
			CC=${VMKEEP_FUZZ_CC:-} CFLAGS= ./configure --enable-fuzzing --prefix=/usr \
				--sysconfdir=/etc --localstatedir=/var || exit 1
		fi
		make -j"${VMKEEP_FUZZ_MAKE_JOBS:-2}" fuzz-harnesses
	) >>"$log" 2>&1
}

say "== fuzz: building the harnesses in $build (log: $build/build.log)"
if ! do_build; then
	[ "$tap" = 1 ] && echo "1..1"
	result 1 "build the fuzz harnesses (configure --enable-fuzzing; log $build/build.log)"
	diag "$build/build.log"
	exit 1
fi
if [ "$build_only" = 1 ]; then
	result 0 "build the fuzz harnesses"
	exit 0
fi
[ "$tap" = 1 ] && echo "1..$(( ${#harnesses[@]} * (seconds > 0 ? 2 : 1) ))"

# ---- run ----------------------------------------------------------------

# Longest input per harness: what the format needs to reach everything
# (a few tar blocks, a domain with many devices), no more — longer inputs
# only make every execution slower.
max_len() {
	case $1 in
	wakeframe) echo 512 ;;
	validate) echo 1024 ;;
	config|manifest|oci) echo 4096 ;;
	save-header) echo 8192 ;;
	sidecar|domain-xml|trust) echo 16384 ;;
	tar) echo 32768 ;;
	esac
}

# The artifacts libFuzzer leaves for a failing input.
count_artifacts() {
	find "$artifacts/$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
		-o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | wc -l
}

# fuzz_one HARNESS: its regression inputs, then its fuzzing run.
fuzz_one() {
	local h=$1
	local bin=$build/src/fuzz/fuzz-$h
	local logs=$build/logs
	results=$logs/$h.results
	mkdir -p "$logs" "$artifacts/$h" "$build/corpus/$h"
	: >"$results"

	# Every committed regression input, once each.
	local regs=() dict=() seeds before start rc took new execs rate status cov ft corp added line
	if [ -d "$top/fuzz/regressions/$h" ]; then
		while IFS= read -r -d '' f; do regs+=("$f"); done < <(find "$top/fuzz/regressions/$h" -type f -print0 | sort -z)
	fi
	if [ ${#regs[@]} -eq 0 ]; then
		result 0 "$h: no regression inputs"
	elif "$bin" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$h/" "${regs[@]}" \
		>"$logs/$h-regressions.log" 2>&1; then
		result 0 "$h: ${#regs[@]} regression inputs replayed"
	else
		result 1 "$h: a regression input fails (log $logs/$h-regressions.log)"
		diag "$logs/$h-regressions.log"
	fi

	[ "$seconds" -gt 0 ] || return 0
	before=$(count_artifacts "$h")
	[ -f "$top/fuzz/$h.dict" ] && dict=(-dict="$top/fuzz/$h.dict")
	# Seeds: the committed text ones, or generated (binary formats are not
	# committed: fuzz/save-header-seeds.py writes the save images).
	seeds=$top/fuzz/corpus/$h
	if [ "$h" = save-header ]; then
		seeds=$build/seeds/$h
		python3 "$top/fuzz/save-header-seeds.py" "$seeds" || { result 1 "$h: generating its seeds"; return 0; }
	fi
	start=$(date +%s)
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
	"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len "$h")" "${dict[@]}" -print_final_stats=1 \
		-artifact_prefix="$artifacts/$h/" ${FUZZ_ARGS:-} \
		"$build/corpus/$h" "$seeds" >"$logs/$h.log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	new=$(( $(count_artifacts "$h") - before ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$h.log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$h.log" | tail -1)
	status=$(grep -E '^#[0-9]+' "$logs/$h.log" | grep -E 'cov: ' | tail -1)
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$status")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
	corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$status")
	added=$(sed -n 's/^stat::new_units_added: *//p' "$logs/$h.log" | tail -1)
	line="$h: ${took} s, ${execs:-?} execs (${rate:-?}/s), cov: ${cov:-?} ft: ${ft:-?}, corpus ${corp:-?} (+${added:-0}), new crashes: $new"
	if [ "$rc" -eq 0 ] && [ "$new" -eq 0 ]; then
		result 0 "$line"
	else
		result 1 "$line (libFuzzer exit $rc; log $logs/$h.log; inputs in $artifacts/$h/)"
		diag "$logs/$h.log"
	fi
}

# Up to $jobs harnesses at once; each one's results once all are done.
running=0
for h in "${harnesses[@]}"; do
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	rm -f "$build/logs/$h.results"
	say "== $h: running (log: $build/logs/$h.log; the results follow when all are done)"
	fuzz_one "$h" &
	running=$((running + 1))
done
wait

failed=0
for h in "${harnesses[@]}"; do
	say "== $h"
	n=0
	while read -r kind ok text; do
		case $kind in
		result) print_result "$ok" "$text"; [ "$ok" = 0 ] || failed=1; n=$((n + 1)) ;;
		diag) print_diag "$ok" ;;
		esac
	done < <(cat "$build/logs/$h.results" 2>/dev/null)
	# two results a harness (its regression inputs, its run), one with -t 0
	want=$(( seconds > 0 ? 2 : 1 ))
	while [ "$n" -lt "$want" ]; do
		failed=1
		print_result 1 "$h: its run ended before it gave all its results"
		n=$((n + 1))
	done
done
exit "$failed"
