#!/bin/bash
# bench/registry.sh — an image through an OCI registry over loopback: time
# and bytes stored of `vmkeep image push` and `image pull`, next to the tar
# stream compressed by hand (`image export -o - | zstd`, and back with
# `zstd -dc | image import -`) and to the raw sizes, on one image in one
# run. Not part of `make check`; run as root with libvirtd up and vmkeep
# built, on each libvirt stack:
#
#   bench/registry.sh [-o FILE.md]
#
# The image: a q35 TCG guest with BENCH_MEM MiB (default 1024), BENCH_FILL
# MiB of it random data (default 512), and a qcow2 disk of BENCH_DISK MiB
# (default 2048) holding BENCH_DATA MiB (default 1024): half of it random,
# half the bytes of this host's /usr (binaries and text, as a root file
# system has), hibernated once with `hibernate --image`. BENCH_RUNS rounds
# (default 5), each, in an order that rotates every round:
#
#   push        vmkeep image push IMG 127.0.0.1:PORT/bench/img:N into an
#               empty registry (its storage is removed before each push, so
#               every blob is uploaded)
#   pull        vmkeep image pull of it under a new name (then removed)
#   tar+zstd    vmkeep image export IMG -o - | zstd -T0 -3 > FILE
#   unzstd+tar  zstd -dc FILE | vmkeep image import - under a new name
#
# The registry is Debian's docker-registry on 127.0.0.1 with its storage in
# the bench directory. Host memory is warmed and dirty pages synced before
# every timed command (bench/warm-memory.py). The default output is
# bench/RESULTS-registry-<libvirt>.md.
set -eu

RUNS=${BENCH_RUNS:-5}
MEM=${BENCH_MEM:-1024}
FILL=${BENCH_FILL:-512}
DISK=${BENCH_DISK:-2048}
DATA=${BENCH_DATA:-1024}
WARM=${BENCH_WARM:-$MEM}
URI=${BENCH_URI:-qemu:///system}
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKEEP=${VMKEEP:-$TOP/vmkeep}

die() { echo "bench/registry.sh: $*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }
[ "$(id -u)" = 0 ] || die "run as root (qemu:///system)"
[ -x "$VMKEEP" ] || die "vmkeep is not built ($VMKEEP)"
for p in skopeo docker-registry zstd python3 qemu-img; do
	command -v "$p" >/dev/null || die "$p is needed (tools/host-setup.sh deps)"
done
virsh -c "$URI" version >/dev/null 2>&1 || die "libvirtd does not answer at $URI"
LIBVIRT=$(virsh -c "$URI" version | awk '/Using library/ { print $4 }')
OUT=$TOP/bench/RESULTS-registry-$(echo "$LIBVIRT" | cut -d. -f1-2).md
[ "${1:-}" = -o ] && OUT=$2

guest=$("$TOP/tests/guest/build-guest.sh" | tail -n 1)
W=$(mktemp -d /var/tmp/vkbench-registry-XXXXXX)
chmod 0755 "$W"
cp "$guest/vmlinuz" "$guest/initrd.img" "$W/"
chmod 0644 "$W/vmlinuz" "$W/initrd.img"
export VMKEEP_CONFIG=$W/vmkeep.conf
# an imported image's kernel, disks, NVRAM and logs go to the bench
# directory (the trust boundary rewrites them to these places)
mkdir -p "$W/imported" "$W/nvram" "$W/logs"
printf '[vmkeep]\nuri=%s\nstore=%s/store\nvirt-type=qemu\ndisk-dir=%s/imported\nnvram-dir=%s/nvram\nlog-dir=%s/logs\nkernel-dirs=%s\n' \
	"$URI" "$W" "$W" "$W" "$W" "$W" >"$VMKEEP_CONFIG"
D=vkbr$$
REG_PID=
vsh() { virsh -q -c "$URI" "$@"; }
vk() { "$VMKEEP" -q -c "$URI" "$@"; }
registry_stop() {
	[ -z "$REG_PID" ] && return 0
	kill "$REG_PID" 2>/dev/null
	wait "$REG_PID" 2>/dev/null || true
	REG_PID=
}
cleanup() {
	set +e
	registry_stop
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

# A registry with empty storage on a free port of 127.0.0.1.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry_start() {
	registry_stop
	rm -rf "$W/registry"
	mkdir -p "$W/registry"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$W/registry" "$PORT" >"$W/registry.yml"
	docker-registry serve "$W/registry.yml" >>"$W/registry.log" 2>&1 &
	REG_PID=$!
	for _ in $(seq 1 100); do
		python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/v2/', timeout=1)" \
			2>/dev/null && return 0
		sleep 0.1
	done
	die "the registry did not answer on 127.0.0.1:$PORT"
}

# ------------------------------------------------------------- the image ---

log "writing a ${DISK} MiB disk with ${DATA} MiB of data"
half=$((DATA / 2))
qemu-img create -q -f raw "$W/seed.raw" "${DISK}M"
head -c "$((half << 20))" /dev/urandom | dd of="$W/seed.raw" conv=notrunc status=none
# the bytes of /usr, as many times as it takes (a root file system's mix)
while tar -cf - /usr 2>/dev/null; do :; done | head -c "$(((DATA - half) << 20))" |
	dd of="$W/seed.raw" bs=1M seek="$half" conv=notrunc status=none
qemu-img convert -q -f raw -O qcow2 "$W/seed.raw" "$W/d.qcow2"
rm -f "$W/seed.raw"
vk create "$D" --machine q35 --virt-type qemu --memory "$MEM" --no-balloon --disk "$W/d.qcow2" \
	--boot "kernel=$W/vmlinuz,initrd=$W/initrd.img,cmdline=console=ttyS0 quiet vk.fill=$FILL vk.tick=100000" \
	--serial-log "$W/log" --start >/dev/null
log "filling $FILL MiB of a $MEM MiB guest (TCG: this takes a while)"
for i in $(seq 1 1200); do
	tr -d '\r' <"$W/log" 2>/dev/null | grep -q '^VKTICK .* END$' && break
	[ "$i" -lt 1200 ] || die "the guest did not tick within 10 minutes"
	sleep 0.5
done
vk hibernate "$D" --image img >/dev/null
IMG=$W/store/images/img
raw_state=$(stat -c %s "$IMG/state.sav")
raw_disk=$(stat -c %s "$IMG/disks/vda.qcow2")
log "image: state.sav $raw_state bytes, disks/vda.qcow2 $raw_disk bytes"

declare -A T Z
one() { # CONTENDER ROUND
	local t
	case $1 in
	push)
		registry_start
		timed t vk image push img "127.0.0.1:$PORT/bench/img:$2" --tls-verify=false
		Z[$1]=$(du -sb "$W/registry" | cut -f1) ;;
	pull)
		registry_start
		vk image push img "127.0.0.1:$PORT/bench/img:$2" --tls-verify=false >/dev/null
		timed t vk image pull "127.0.0.1:$PORT/bench/img:$2" --tls-verify=false --name "p$2"
		Z[$1]=$(du -sb "$W/store/images/p$2" | cut -f1)
		vk image rm "p$2" >/dev/null ;;
	tar+zstd)
		timed t bash -c "'$VMKEEP' -q -c '$URI' image export img -o - | zstd -q -T0 -3 >'$W/img.tar.zst'"
		Z[$1]=$(stat -c %s "$W/img.tar.zst") ;;
	unzstd+tar)
		[ -f "$W/img.tar.zst" ] || "$VMKEEP" -q -c "$URI" image export img -o - | zstd -q -T0 -3 >"$W/img.tar.zst"
		timed t bash -c "zstd -q -dc '$W/img.tar.zst' | '$VMKEEP' -q -c '$URI' image import - --name 't$2'"
		Z[$1]=$(du -sb "$W/store/images/t$2" | cut -f1)
		vk image rm "t$2" >/dev/null ;;
	esac
	T[$1]+="$t "
	log "round $2 $1: $t s, ${Z[$1]} bytes"
}
set -- push pull tar+zstd unzstd+tar
n=$#
for i in $(seq 1 "$RUNS"); do
	for k in $(seq 0 $((n - 1))); do
		j=$(((k + i) % n + 1))
		one "${!j}" "$i"
	done
done
registry_stop
layers=$(vk --json image export img --format oci -o "$W/layout" |
	python3 -c 'import json, sys; d = json.load(sys.stdin); print("; ".join("%s %s %d of %d bytes" % (l["title"], l["media_type"].rsplit(".", 1)[-1], l["size"], l["content_size"]) for l in d["layers"]))')

host="$(nproc) CPUs, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo)"
versions="$("$VMKEEP" --version | head -n 1); libvirt $LIBVIRT; QEMU $(vsh version | awk '/Running hypervisor/ { print $4 }'); $(skopeo --version); docker-registry $(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null)"
args=()
for t in push pull tar+zstd unzstd+tar; do args+=("$t" "${T[$t]}" "${Z[$t]}"); done
python3 - "$OUT" "$RUNS" "$MEM" "$FILL" "$DISK" "$DATA" "$host" "$versions" "$WARM" \
	"$raw_state" "$raw_disk" "$layers" "${args[@]}" <<'EOF'
import datetime, statistics, sys
out, runs, mem, fill, disk, data, host, versions, warm, rs, rd, layers = sys.argv[1:13]
rest = sys.argv[13:]
T = {}
for i in range(0, len(rest), 3):
    T[rest[i]] = ([float(x) for x in rest[i + 1].split()], int(rest[i + 2]))
med = statistics.median
rs, rd = int(rs), int(rd)
M = 1048576
def ratio(a, b):
    per = [x / y for x, y in zip(a, b)]
    return med(a) / med(b), med(per), min(per), max(per)
L = ["# An image through an OCI registry: vmkeep push/pull and the tar stream with zstd", "",
     "Measured by `bench/registry.sh` on %s UTC; %s; %s." % (
         datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), host, versions),
     "q35 TCG guest, %s MiB memory, %s MiB of it random data; a %s MiB qcow2 disk with %s MiB "
     "of data (half random, half the bytes of /usr); hibernated once with `hibernate --image`. "
     "%s rounds, order rotated every round; host memory warmed (%s MiB) and `sync` before every "
     "timed command; the registry (loopback) emptied before every push." % (
         mem, fill, disk, data, runs, warm), "",
     "Raw sizes: state.sav %.0f MiB, disks/vda.qcow2 %.0f MiB, together %.0f MiB." % (
         rs / M, rd / M, (rs + rd) / M), "",
     "Layers as pushed: %s." % layers, "",
     "| contender | time (median, range) | bytes | of the raw size |", "|---|---|---|---|"]
what = {"push": "stored in the registry", "pull": "in the store after the pull",
        "tar+zstd": "the compressed stream", "unzstd+tar": "in the store after the import"}
for t, (s, z) in T.items():
    L.append("| %s | %.2f s (%.2f-%.2f) | %.0f MiB %s | %.0f%% |" % (
        t, med(s), min(s), max(s), z / M, what[t], 100.0 * z / (rs + rd)))
L += ["", "| comparison | ratio of medians | per-round ratio: median (range) |", "|---|---|---|"]
for name, a, b in (("`image push` vs `image export -o - \\| zstd`", "push", "tar+zstd"),
                   ("`image pull` vs `zstd -dc \\| image import -`", "pull", "unzstd+tar")):
    r, p, lo, hi = ratio(T[a][0], T[b][0])
    L.append("| %s | %.2fx | %.2fx (%.2f-%.2fx) |" % (name, r, p, lo, hi))
L.append("| registry bytes vs zstd'd stream | %.2fx | |" % (T["push"][1] / T["tar+zstd"][1]))
L += ["", "Every round, in seconds:", "", "| round | " + " | ".join(T) + " |",
      "|---" * (len(T) + 1) + "|"]
for i in range(int(runs)):
    L.append("| %d | " % (i + 1) + " | ".join("%.2f" % T[t][0][i] for t in T) + " |")
text = "\n".join(L) + "\n"
sys.stdout.write(text)
open(out, "w").write(text)
EOF
log "written to $OUT"
