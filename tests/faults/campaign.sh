#!/bin/bash
# The full fault campaign (tests/faults/README): stops.sh, attach.sh and
# systemd.sh with many random-moment trials per workflow (stops.sh's
# libvirtd and full-disk trials repeated with the rounds), and points.sh,
# on each libvirt stack; then one table of trials,
# outcomes and recovery times per workflow, fault kind and stack.
#
#   tests/faults/campaign.sh [--trials N] [--repeat K] [--rounds R]
#                            [--stacks "host backports"] [--out FILE]
#
#   --trials N   random-moment trials per workflow and signal in each round
#                (default 15: with --rounds 1, 30 per workflow and stack)
#   --repeat K   the libvirtd and full-disk trials K times in each round
#                (default 3)
#   --rounds R   rounds of stops.sh, attach.sh and systemd.sh (default 1)
#   --stacks S   host (this machine's libvirtd), backports (the Debian 13
#                generation in the root of tools/stack-root.sh), or both
#   --out FILE   also write the table there (e.g. tests/faults/RESULTS.md)
#
# Run from a configured and built tree, as root, with libvirtd up
# (tools/host-setup.sh). The TAP logs stay in faults-campaign/ of the build
# tree.
set -euo pipefail
cd "$(dirname "$0")/../.."
trials=15 repeat=3 rounds=1 stacks="host backports" out=
while [ $# -gt 0 ]; do
	case $1 in
	--trials) trials=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--stacks) stacks=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	*) echo "usage: $0 [--trials N] [--repeat K] [--rounds R] [--stacks S] [--out FILE]" >&2; exit 2 ;;
	esac
done
logs=$PWD/faults-campaign
rm -rf "$logs"
mkdir -p "$logs"

run_stack() { # STACK ROUND
	local stack=$1 r=$2 seed=$((RANDOM * 32768 + RANDOM))
	local t tests="stops attach systemd${3:+ points}" files="" from
	for t in $tests; do files="$files tests/faults/$t.sh"; done
	local cmd="VMKEEP_REQUIRE_E2E=1 FAULTS_RANDOM=$trials FAULTS_REPEAT=$repeat FAULTS_SEED=$seed make -j1 check TESTS=\"${files# }\""
	echo "campaign: $stack round $r (seed $seed)" >&2
	case $stack in
	host)
		bash -c "$cmd" >/dev/null 2>&1 || true
		from=tests/faults
		;;
	backports)
		tools/stack-root.sh run bash -c "cd /build/vmkeep && $cmd" >/dev/null 2>&1 || true
		from=$(tools/stack-root.sh path)/build/vmkeep/tests/faults
		;;
	*) echo "campaign: unknown stack $stack" >&2; exit 2 ;;
	esac
	for t in $tests; do cp "$from/$t.log" "$logs/$stack-$t-$r.log"; done
}

for stack in $stacks; do
	if [ "$stack" = backports ]; then
		tools/stack-root.sh ensure && tools/stack-root.sh up && tools/stack-root.sh copy &&
			tools/stack-root.sh build || { echo "campaign: backports root failed" >&2; exit 1; }
	fi
	for r in $(seq "$rounds"); do
		if [ "$r" = 1 ]; then run_stack "$stack" "$r" points; else run_stack "$stack" "$r"; fi
	done
	[ "$stack" != backports ] || tools/stack-root.sh down
done

# The table: a trial is a run of consecutive checks named "WHAT: ..." with
# one WHAT and its "# recovery WHAT" line (a WHAT may come back: each run
# of it is a trial of its own); it failed when any of its checks failed
# (each check is a plain vmkeep command or a look at the result: a failed
# one is what an admin would have had to repair by hand). WHAT names the
# workflow, then the fault ("SIGKILL at 812 of 4100 ms", "libvirtd killed
# ...", a point). Under the table, every check of the logs is counted, so
# that no failure outside a trial goes unseen.
python3 - "$logs" "$out" <<'EOF'
import collections, glob, os, re, statistics, sys
logs, out = sys.argv[1], sys.argv[2]
rows = collections.OrderedDict()
for path in sorted(glob.glob(os.path.join(logs, "*.log"))):
    stack = os.path.basename(path).split("-")[0]
    # a trial: a run of consecutive checks named "WHAT: ..." with one WHAT
    # and a "# recovery WHAT" line among them
    trials = []
    cur = None
    for line in open(path, errors="replace"):
        m = re.match(r"^(ok|not ok) \d+ - (.*?): ", line)
        if m:
            if cur is None or cur["what"] != m.group(2):
                cur = {"what": m.group(2), "ok": True, "ms": None}
                trials.append(cur)
            cur["ok"] = cur["ok"] and m.group(1) == "ok"
            continue
        m = re.search(r"# recovery (.*): (\d+) ms", line)
        if m:
            # the newest trial of that WHAT still without its recovery
            for t in reversed(trials):
                if t["what"] == m.group(1):
                    if t["ms"] is None:
                        t["ms"] = int(m.group(2))
                    break
            else:
                trials.append({"what": m.group(1), "ok": True, "ms": int(m.group(2))})
    for t in trials:
        what = t["what"]
        if t["ms"] is None:
            continue   # checks outside the trials (set-up, re-runs)
        wf, _, fault = what.partition(", ") if ", " in what else what.rpartition(" ")
        kind = ("SIGKILL" if "KILL" in fault or "sigkill" in fault else
                "SIGTERM" if "TERM" in fault or "sigterm" in fault else
                "libvirtd killed" if "libvirtd" in fault else
                "full file system" if "enospc" in what else fault)
        if "enospc" in what:
            wf = what.split(" ", 1)[1]
        if " at " not in fault and kind in ("SIGKILL", "SIGTERM") and ":" in fault:
            kind += " at each fault point"
        elif kind in ("SIGKILL", "SIGTERM"):
            kind += " at a random moment"
        r = rows.setdefault((stack, wf, kind), {"n": 0, "lost": 0, "ms": []})
        r["n"] += 1
        r["lost"] += 0 if t["ok"] else 1
        r["ms"].append(t["ms"])
totals = []
for path in sorted(glob.glob(os.path.join(logs, "*.log"))):
    text = open(path, errors="replace").read()
    totals.append("%s: %d checks, %d failed" % (os.path.basename(path),
        len(re.findall(r"^(?:not )?ok \d+", text, re.M)), len(re.findall(r"^not ok \d+", text, re.M))))
lines = ["| stack | workflow | fault | trials | failed (lost, or a manual step needed) | recovery median / max (ms) |",
         "|---|---|---|---|---|---|"]
for (stack, wf, kind), r in rows.items():
    lines.append("| %s | %s | %s | %d | %d | %d / %d |" % (
        stack, wf, kind, r["n"], r["lost"], statistics.median(r["ms"]), max(r["ms"])))
text = "\n".join(lines) + "\n\nEvery check of the logs: " + "; ".join(totals) + ".\n"
sys.stdout.write(text)
if out:
    open(out, "w").write(text)
EOF
