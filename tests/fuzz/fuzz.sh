#!/bin/bash
# The fuzz harnesses as a test (CI: tools/run-tests.sh, stage "fuzz"): every
# committed regression input of fuzz/regressions/ replayed, then each
# harness of fuzz/ fuzzing for a short fixed time from its seeds; a crash,
# leak, hang (> 10 s on one input) or broken invariant is a failure. TAP on
# stdout, one line per harness for its regression inputs and one for its
# run (executions, exec/s, coverage).
#
#   VMKEEP_FUZZ_SECONDS=20   seconds per harness (10 harnesses: about 4
#                            minutes one at a time, plus the build: about 2
#                            minutes the first time, seconds afterwards)
#   VMKEEP_FUZZ_JOBS=N       harnesses at once (default: the CPUs, nproc)
#
# Builds with clang in fuzz/build (fuzz/run.sh). Without clang it skips,
# which CI counts as a failure.
set -uo pipefail
top=${abs_top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}

if [ -z "${VMKEEP_FUZZ_CC:-}" ] && ! command -v clang >/dev/null && ! command -v clang-14 >/dev/null; then
	# CI's required switch turns the skip into a failure, as for every test
	if [ "${VMKEEP_REQUIRE_E2E:-0}" = 1 ]; then
		echo "Bail out! clang not found, and VMKEEP_REQUIRE_E2E=1 (Debian: apt-get install clang libclang-rt-14-dev)"
		exit 1
	fi
	echo "1..0 # SKIP clang not found (Debian: apt-get install clang libclang-rt-14-dev)"
	exit 0
fi
exec "$top/fuzz/run.sh" --tap -t "${VMKEEP_FUZZ_SECONDS:-20}" -j "${VMKEEP_FUZZ_JOBS:-$(nproc)}"
