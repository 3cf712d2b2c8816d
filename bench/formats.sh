#!/bin/bash
# bench/formats.sh — libvirt's save image formats on one stack: what
# vmkeep's default costs next to plain virsh, and what the sparse format
# with parallel channels (libvirt 11.2+) buys, on the same VM in one run.
# Not part of `make check`; run as root with libvirtd up and vmkeep built:
#
#   bench/formats.sh [-o FILE.md]
#
# One q35 TCG guest with BENCH_MEM MiB (default 2048), BENCH_FILL MiB of it
# random data (default 1024). BENCH_RUNS rounds (default 7); each round
# saves and restores the guest once with every contender, in an order that
# rotates every round:
#
#   virsh          virsh save FILE             / virsh restore FILE
#                  (the host's default format: raw)
#   vmkeep         vmkeep hibernate --image N  / vmkeep wake --image N
#                  (vmkeep's default format: raw)
#   virsh-sparse   virsh save --image-format sparse --parallel-channels C /
#                  virsh restore --parallel-channels C          (11.2+ only)
#   vmkeep-sparse  vmkeep hibernate --image N --parallel C / wake --image N
#                                                              (11.2+ only)
#
# C is BENCH_CHANNELS (default: the number of CPUs). Host memory is warmed
# and dirty pages synced before every timed command (see bench/clone.sh).
# The default output is bench/RESULTS-formats-<libvirt>.md.
set -eu

RUNS=${BENCH_RUNS:-7}
MEM=${BENCH_MEM:-2048}
FILL=${BENCH_FILL:-1024}
CH=${BENCH_CHANNELS:-$(nproc)}
WARM=${BENCH_WARM:-$MEM}
URI=${BENCH_URI:-qemu:///system}
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKEEP=${VMKEEP:-$TOP/vmkeep}

die() { echo "bench/formats.sh: $*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root (qemu:///system)"
[ -x "$VMKEEP" ] || die "vmkeep is not built ($VMKEEP)"
virsh -c "$URI" version >/dev/null 2>&1 || die "libvirtd does not answer at $URI"
LIBVIRT=$(virsh -c "$URI" version | awk '/Using library/ { print $4 }')
OUT=$TOP/bench/RESULTS-formats-$(echo "$LIBVIRT" | cut -d. -f1-2).md
[ "${1:-}" = -o ] && OUT=$2
new=0
[ "$(printf '%s\n' "$LIBVIRT" 11.2.0 | sort -V | head -n 1)" = 11.2.0 ] && new=1
tools="virsh vmkeep"
[ "$new" = 1 ] && tools="virsh vmkeep virsh-sparse vmkeep-sparse"

guest=$("$TOP/tests/guest/build-guest.sh" | tail -n 1)
W=$(mktemp -d /var/tmp/vkbench-formats-XXXXXX)
chmod 0755 "$W"
cp "$guest/vmlinuz" "$guest/initrd.img" "$W/"
chmod 0644 "$W/vmlinuz" "$W/initrd.img"
export VMKEEP_CONFIG=$W/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s/store\nvirt-type=qemu\n' "$URI" "$W" >"$VMKEEP_CONFIG"
D=vkbf$$
vsh() { virsh -q -c "$URI" "$@"; }
vk() { "$VMKEEP" -q -c "$URI" "$@"; }
cleanup() {
	set +e
	vsh destroy "$D" >/dev/null 2>&1
	vsh undefine "$D" >/dev/null 2>&1
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
since() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
warm() { [ "$WARM" -gt 0 ] && python3 "$TOP/bench/warm-memory.py" "$WARM"; sync; }
timed() { # VAR CMD...
	local __v=$1 t0
	shift
	warm
	t0=$(now)
	"$@" >/dev/null || die "failed: $*"
	printf -v "$__v" '%s' "$(since "$t0")"
}

qemu-img create -q -f qcow2 "$W/d.qcow2" 64M
vk create "$D" --machine q35 --virt-type qemu --memory "$MEM" --no-balloon --disk "$W/d.qcow2" \
	--boot "kernel=$W/vmlinuz,initrd=$W/initrd.img,cmdline=console=ttyS0 quiet vk.fill=$FILL vk.tick=100000" \
	--serial-log "$W/log" --start >/dev/null
log "filling $FILL MiB of a $MEM MiB guest (TCG: this takes a while)"
for i in $(seq 1 1200); do
	tr -d '\r' <"$W/log" 2>/dev/null | grep -q '^VKTICK .* END$' && break
	[ "$i" -lt 1200 ] || die "the guest did not tick within 10 minutes"
	sleep 0.5
done

declare -A S R Z
one() { # TOOL ROUND
	local s r
	case $1 in
	virsh)
		timed s vsh save "$D" "$W/v.sav"
		Z[$1]=$(stat -c %s "$W/v.sav")
		timed r vsh restore "$W/v.sav"
		rm -f "$W/v.sav" ;;
	virsh-sparse)
		timed s vsh save "$D" "$W/s.sav" --image-format sparse --parallel-channels "$CH"
		Z[$1]=$(du -B1 "$W/s.sav" | cut -f1)
		timed r vsh restore "$W/s.sav" --parallel-channels "$CH"
		rm -f "$W/s.sav" ;;
	vmkeep)
		timed s vk hibernate "$D" --image "r$2"
		Z[$1]=$(stat -c %s "$W/store/images/r$2/state.sav")
		timed r vk wake --image "r$2"
		# the VM's disk now reads from the image's frozen base: keep the
		# image, drop only its state (guest-memory sized)
		rm -f "$W/store/images/r$2/state.sav" ;;
	vmkeep-sparse)
		timed s vk hibernate "$D" --image "s$2" --parallel "$CH"
		Z[$1]=$(du -B1 "$W/store/images/s$2/state.sav" | cut -f1)
		timed r vk wake --image "s$2"
		rm -f "$W/store/images/s$2/state.sav" ;;
	esac
	S[$1]+="$s " R[$1]+="$r "
	log "round $2 $1: save $s s, restore $r s"
}
set -- $tools
n=$#
for i in $(seq 1 "$RUNS"); do
	# rotate the order every round
	for k in $(seq 0 $((n - 1))); do
		j=$(((k + i) % n + 1))
		one "${!j}" "$i"
	done
done

host="$(nproc) CPUs, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo)"
versions="$("$VMKEEP" --version | head -n 1); libvirt $LIBVIRT; QEMU $(vsh version | awk '/Running hypervisor/ { print $4 }')"
args=()
for t in $tools; do args+=("$t" "${S[$t]}" "${R[$t]}" "${Z[$t]}"); done
python3 - "$OUT" "$RUNS" "$MEM" "$FILL" "$CH" "$host" "$versions" "$WARM" "${args[@]}" <<'EOF'
import datetime, statistics, sys
out, runs, mem, fill, ch, host, versions, warm = sys.argv[1:9]
rest = sys.argv[9:]
T = {}
for i in range(0, len(rest), 4):
    T[rest[i]] = ([float(x) for x in rest[i + 1].split()], [float(x) for x in rest[i + 2].split()],
                  int(rest[i + 3]))
med = statistics.median
def ratio(a, b):
    per = [x / y for x, y in zip(a, b)]
    return med(a) / med(b), med(per), min(per), max(per)
L = ["# libvirt save formats: vmkeep and virsh on one VM", "",
     "Measured by `bench/formats.sh` on %s UTC; %s; %s." % (
         datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), host, versions),
     "q35 TCG guest, %s MiB memory, %s MiB of it random data; %s rounds, order rotated "
     "every round; host memory warmed (%s MiB) and `sync` before every timed command; "
     "sparse with %s parallel channels." % (mem, fill, runs, warm, ch), "",
     "| contender | save (median) | restore (median) | state on disk |", "|---|---|---|---|"]
for t, (s, r, z) in T.items():
    L.append("| %s | %.2f s (%.2f-%.2f) | %.2f s (%.2f-%.2f) | %.0f MiB |" % (
        t, med(s), min(s), max(s), med(r), min(r), max(r), z / 1048576))
L += ["", "| comparison | ratio of medians | per-round ratio: median (range) | target | |",
      "|---|---|---|---|---|"]
def row(name, a, b, target, ok):
    r, p, lo, hi = ratio(a, b)
    L.append("| %s | %.2fx | %.2fx (%.2f-%.2fx) | %s | %s |" % (
        name, r, p, lo, hi, target, "met" if ok(r) and ok(p) else "**missed**"))
row("`vmkeep hibernate --image` vs `virsh save`", T["vmkeep"][0], T["virsh"][0], "no slower (<= 1.05x)",
    lambda r: r <= 1.05)
row("`vmkeep wake --image` vs `virsh restore`", T["vmkeep"][1], T["virsh"][1], "<= 1.05x",
    lambda r: r <= 1.05)
if "vmkeep-sparse" in T:
    row("`vmkeep hibernate --parallel %s` vs `virsh save`" % ch, T["vmkeep-sparse"][0], T["virsh"][0],
        "", lambda r: True)
    row("`vmkeep wake` of a `--parallel %s` image vs `virsh restore` (raw)" % ch,
        T["vmkeep-sparse"][1], T["virsh"][1], "<= 0.5x (2x faster)", lambda r: r <= 0.5)
    row("`vmkeep hibernate --parallel %s` vs `virsh save --image-format sparse --parallel-channels %s`" % (ch, ch),
        T["vmkeep-sparse"][0], T["virsh-sparse"][0], "<= 1.05x", lambda r: r <= 1.05)
    row("`vmkeep wake` (sparse) vs `virsh restore --parallel-channels %s`" % ch,
        T["vmkeep-sparse"][1], T["virsh-sparse"][1], "<= 1.05x", lambda r: r <= 1.05)
L += ["", "Every round, in seconds (save / restore):", "",
      "| round | " + " | ".join(T) + " |", "|---" * (len(T) + 1) + "|"]
for i in range(int(runs)):
    L.append("| %d | " % (i + 1) + " | ".join("%.2f / %.2f" % (T[t][0][i], T[t][1][i]) for t in T) + " |")
text = "\n".join(L) + "\n"
sys.stdout.write(text)
open(out, "w").write(text)
EOF
log "written to $OUT"
