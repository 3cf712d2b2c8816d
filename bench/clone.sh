#!/bin/bash
# bench/clone.sh — what a vmkeep clone or fork costs next to doing the same
# with plain libvirt tools, measured on one image in one run (not part of
# `make check`; run as root with libvirtd up and vmkeep built):
#
#   bench/clone.sh [-o bench/RESULTS-clone.md]
#
# One q35 TCG guest (the e2e test guest from tests/guest) with BENCH_MEM
# MiB of memory (default 1024), BENCH_FILL MiB of it filled with random data
# at boot (default 512; incompressible, so the saved state is that large),
# one NIC and a qcow2 disk of 2 GiB with BENCH_DATA MiB (default 1024) of
# random data written into it, so that copying the disk costs something.
# Page cache warm for every contender (all files were just written/read).
#
# What is timed (wall clock of the commands, nothing else):
#
#   clone      `vmkeep clone IMG --name X --bridge B`: from the image made
#              by `vmkeep hibernate --image IMG` to a running clone (overlay
#              disk, define, restore through the FIFO with the state hashed
#              on the way, the live XML checked against the source).
#   restore    plain `virsh restore COPY`: COPY is a copy of the image's
#              state.sav whose XML was pointed at its own overlay disk and
#              the other bridge with `virsh save-image-define` (libvirt does
#              not let a save image change its name or UUID, so the restored
#              VM is the shut-off source itself).  Copying, re-defining and
#              the overlay are prepared before the clock starts.
#   virt-clone `virt-clone --original COLD --name X --auto-clone` of a
#              shut-off VM with the same disk, then `virsh start` until the
#              guest prints its first VKTICK line (boot + filling memory: a
#              clone that does not carry the memory over has to rebuild it).
#              The copy alone is reported as well.
#   fork       `vmkeep fork SRC --name F --bridge B` of the running source
#              until both run (pause, external disk snapshot, external
#              memory snapshot into an image while the fork restores from
#              it, the source resumed).
#   save+restore  `virsh save SRC FILE` + `virsh restore FILE` of the running
#              source.
#
# BENCH_RUNS runs (default 9) of each, interleaved (A B A B ..., the order
# swapped every run); the table gives the median and every run. Every
# clone and fork runs with G_MESSAGES_DEBUG=vmkeep (a dozen lines on
# stderr); the report adds the median time of each of their phases, so a
# missed target comes with where the time went.
#
# Per stack and file system: run it on each libvirt generation (for the
# bookworm-backports root: tools/stack-root.sh up, copy, build, then
# `tools/stack-root.sh run bash /build/vmkeep/bench/clone.sh`) and with
# BENCH_FS=xfs, which puts every file of the run (store, disks, state
# copies) on a loop-mounted XFS with reflinks. The default output is
# bench/RESULTS-clone-<libvirt>-<fs>.md. BENCH_VIRTCLONE=0 (or no
# virt-clone installed) leaves the virt-clone comparison out.
#
# Host memory is warmed before every timed command, the same for each
# contender (BENCH_WARM MiB, default twice the guest's memory; 0 turns it
# off): a process maps that much with transparent huge pages, touches it
# and exits. On a host that is itself a VM whose free memory goes back to
# its own host (virtio-balloon free page reporting), the first touch of
# that memory costs ~2.5 ms per MiB in the kernel's page clearing; without
# the warm-up, the very same `virsh restore` of a 1 GiB guest took anywhere
# from 0.43 s to 2.98 s, which drowned every difference between the tools.
set -eu

RUNS=${BENCH_RUNS:-9}
MEM=${BENCH_MEM:-1024}
FILL=${BENCH_FILL:-512}
DATA=${BENCH_DATA:-1024}
WARM=${BENCH_WARM:-$((2 * ${BENCH_MEM:-1024}))}
URI=${BENCH_URI:-qemu:///system}
TOP=$(cd "$(dirname "$0")/.." && pwd)
VMKEEP=${VMKEEP:-$TOP/vmkeep}
FS=${BENCH_FS:-ext4}
VIRTCLONE=${BENCH_VIRTCLONE:-1}
command -v virt-clone >/dev/null || VIRTCLONE=0
LIBVIRT=$(virsh -c "$URI" version 2>/dev/null | awk '/Using library/ { split($4, v, "."); print v[1] "." v[2] }')
OUT=$TOP/bench/RESULTS-clone-$LIBVIRT-$FS.md
[ "${1:-}" = -o ] && OUT=$2

die() { echo "bench/clone.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (bridges, qemu:///system)"
[ -x "$VMKEEP" ] || die "vmkeep is not built ($VMKEEP)"
for c in virsh qemu-img python3; do
	command -v "$c" >/dev/null || die "$c is not installed"
done
virsh -c "$URI" version >/dev/null 2>&1 || die "libvirtd does not answer at $URI"

guest=$("$TOP/tests/guest/build-guest.sh" | tail -n 1)
W=$(mktemp -d /var/tmp/vkbench-clone-XXXXXX)
chmod 0755 "$W"
LOOP=
if [ "$FS" = xfs ]; then
	command -v mkfs.xfs >/dev/null || die "mkfs.xfs is not installed (xfsprogs)"
	truncate -s 12G "$W.xfs"
	LOOP=$(losetup -f --show "$W.xfs") || die "cannot set up a loop device"
	mkfs.xfs -q -m reflink=1 "$LOOP" && mount "$LOOP" "$W" || die "cannot mount XFS on $W"
	chmod 0755 "$W"
elif [ "$FS" != ext4 ]; then
	die "BENCH_FS must be ext4 (the host's /var/tmp) or xfs"
fi
cp "$guest/vmlinuz" "$guest/initrd.img" "$W/"
chmod 0644 "$W/vmlinuz" "$W/initrd.img"
P=vkbc$$
BR_SRC=vkbs$$ BR_CLONE=vkbc$$
export VMKEEP_CONFIG=$W/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s/store\nvirt-type=qemu\nmachine=q35\n' "$URI" "$W" >"$VMKEEP_CONFIG"

vsh() { virsh -q -c "$URI" "$@"; }
vk() { "$VMKEEP" -q -c "$URI" "$@"; }
log() { printf '%s\n' "$*" >&2; }

cleanup() {
	set +e
	for d in $(vsh list --all --name | grep "^$P-"); do
		vsh destroy "$d" >/dev/null 2>&1
		vsh undefine "$d" --nvram >/dev/null 2>&1 || vsh undefine "$d" >/dev/null 2>&1
	done
	ip link del "$BR_SRC" 2>/dev/null
	ip link del "$BR_CLONE" 2>/dev/null
	if [ -n "$LOOP" ]; then
		umount "$W"
		losetup -d "$LOOP"
		rm -f "$W.xfs"
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for b in $BR_SRC $BR_CLONE; do
	ip link add "$b" type bridge
	echo 1 >"/proc/sys/net/ipv6/conf/$b/disable_ipv6"
	ip link set "$b" up
done

now() { date +%s.%N; }

# warm: see the header; right before a timed command
warm() {
	[ "$WARM" -gt 0 ] || return 0
	python3 "$TOP/bench/warm-memory.py" "$WARM"
}
since() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }

# wait_tick LOG: until the log has a complete VKTICK line.
wait_tick() {
	local end=$((SECONDS + 300))
	until tr -d '\r' <"$1" 2>/dev/null | grep -q '^VKTICK .* END$'; do
		[ "$SECONDS" -lt "$end" ] || die "no VKTICK in $1 after 300 s"
		sleep 0.05
	done
}

# remove_domain NAME: destroy, undefine, remove its disks and serial log.
remove_domain() {
	local files
	files=$(vsh dumpxml "$1" 2>/dev/null | python3 -c '
import sys, xml.etree.ElementTree as ET
r = ET.fromstring(sys.stdin.read())
for d in r.iter("disk"):
    s = d.find("source")
    if s is not None and s.get("file"): print(s.get("file"))
for c in r.iter("serial"):
    s = c.find("source")
    if s is not None and s.get("path"): print(s.get("path"))' || true)
	vsh destroy "$1" >/dev/null 2>&1 || true
	vsh undefine "$1" --nvram >/dev/null 2>&1 || vsh undefine "$1" >/dev/null 2>&1 || true
	[ -z "$files" ] || printf '%s\n' "$files" | while IFS= read -r f; do rm -f -- "$f"; done
}

# ----------------------------------------------------------- set up ---

log "setting up in $W: ${MEM} MiB guest, ${FILL} MiB filled, 2 GiB disk with ${DATA} MiB of data"
truncate -s 2G "$W/data.raw"
dd if=/dev/urandom of="$W/data.raw" bs=1M count="$DATA" conv=notrunc status=none
qemu-img convert -f raw -O qcow2 "$W/data.raw" "$W/src.qcow2"
rm -f "$W/data.raw"
[ "$VIRTCLONE" = 0 ] || cp --sparse=always "$W/src.qcow2" "$W/cold.qcow2"

boot="kernel=$W/vmlinuz,initrd=$W/initrd.img,cmdline=console=ttyS0 quiet vk.fill=$FILL vk.tick=30"
vk create "$P-src" --machine q35 --virt-type qemu --memory "$MEM" \
	--nic "bridge=$BR_SRC,mac=52:54:00:be:00:01" --disk "$W/src.qcow2" \
	--boot "$boot" --serial-log "$W/src.log" --start
[ "$VIRTCLONE" = 0 ] || vk create "$P-cold" --machine q35 --virt-type qemu --memory "$MEM" \
	--nic "bridge=$BR_CLONE,mac=52:54:00:be:00:02" --disk "$W/cold.qcow2" \
	--boot "$boot" --serial-log "$W/cold.log"
wait_tick "$W/src.log"
vk hibernate "$P-src" --image bimg
IMG=$W/store/images/bimg
STATE_MIB=$(($(stat -c %s "$IMG/state.sav") >> 20))
log "image bimg: state.sav ${STATE_MIB} MiB"

# The plain-restore copy: same state, its own overlay, the clone bridge.
cp "$IMG/state.sav" "$W/plain.sav"
vsh save-image-dumpxml "$W/plain.sav" >"$W/plain.xml"
python3 - "$W/plain.xml" "$W/plain-vda.qcow2" "$BR_CLONE" <<'EOF'
import sys, xml.etree.ElementTree as ET
t = ET.parse(sys.argv[1])
for d in t.getroot().iter("disk"):
    d.find("source").set("file", sys.argv[2])
for n in t.getroot().iter("interface"):
    n.find("source").set("bridge", sys.argv[3])
t.write(sys.argv[1])
EOF
vsh save-image-define "$W/plain.sav" "$W/plain.xml" >/dev/null

declare -a T_CLONE T_RESTORE T_VC T_VCCOPY T_FORK T_SR

t_clone() {
	local t0
	warm
	t0=$(now)
	G_MESSAGES_DEBUG=vmkeep vk clone bimg --name "$P-c$1" --bridge "$BR_CLONE" \
		2>"$W/phases-clone-$1.txt" || { cat "$W/phases-clone-$1.txt" >&2; exit 1; }
	T_CLONE+=("$(since "$t0")")
	remove_domain "$P-c$1"
}

t_restore() {
	local t0
	rm -f "$W/plain-vda.qcow2"
	qemu-img create -q -f qcow2 -F qcow2 -b "$IMG/disks/vda.qcow2" "$W/plain-vda.qcow2"
	warm
	t0=$(now)
	vsh restore "$W/plain.sav" >/dev/null
	T_RESTORE+=("$(since "$t0")")
	vsh destroy "$P-src" >/dev/null
}

t_virt_clone() {
	local t0 t1
	rm -f "$W/cold.log"
	warm
	t0=$(now)
	virt-clone -q --connect "$URI" --original "$P-cold" --name "$P-vc$1" --auto-clone >/dev/null
	t1=$(since "$t0")
	vsh start "$P-vc$1" >/dev/null
	wait_tick "$W/cold.log"
	T_VC+=("$(since "$t0")")
	T_VCCOPY+=("$t1")
	remove_domain "$P-vc$1"
}

t_fork() {
	local t0
	warm
	t0=$(now)
	G_MESSAGES_DEBUG=vmkeep vk fork "$P-src" --name "$P-f$1" --bridge "$BR_CLONE" \
		2>"$W/phases-fork-$1.txt" || { cat "$W/phases-fork-$1.txt" >&2; exit 1; }
	T_FORK+=("$(since "$t0")")
	remove_domain "$P-f$1"
}

t_save_restore() {
	local t0
	warm
	t0=$(now)
	vsh save "$P-src" "$W/sr.sav" >/dev/null
	vsh restore "$W/sr.sav" >/dev/null
	T_SR+=("$(since "$t0")")
	rm -f "$W/sr.sav"
}

# ------------------------------------------ image -> running VM ---

for i in $(seq 1 "$RUNS"); do
	log "run $i/$RUNS: clone, restore, virt-clone"
	if [ $((i % 2)) = 1 ]; then
		t_clone "$i"
		t_restore
	else
		t_restore
		t_clone "$i"
	fi
	[ "$VIRTCLONE" = 0 ] || t_virt_clone "$i"
done

# ---------------------------------------------- fork a running VM ---

vk wake --image bimg >/dev/null
for i in $(seq 1 "$RUNS"); do
	log "run $i/$RUNS: fork, save+restore"
	if [ $((i % 2)) = 1 ]; then
		t_fork "$i"
		t_save_restore
	else
		t_save_restore
		t_fork "$i"
	fi
done

# ------------------------------------------------------------ report ---

host="$(nproc) CPUs, $(awk '/^model name/ { sub(/^[^:]*: /, ""); print; exit }' /proc/cpuinfo)"
versions="$(vk --version 2>/dev/null | head -n 1); libvirt $(vsh version | awk '/Using library/ { print $4 }'); QEMU $(qemu-system-x86_64 --version | awk 'NR == 1 { print $4 }')"
python3 - "$OUT" "$W" "$RUNS" "$MEM" "$FILL" "$DATA" "$STATE_MIB" "$host" "$versions" "$WARM" "$FS" \
	"${T_CLONE[*]}" "${T_RESTORE[*]}" "${T_VC[*]}" "${T_VCCOPY[*]}" "${T_FORK[*]}" "${T_SR[*]}" <<'EOF'
import datetime, glob, re, statistics, sys
out, work, runs, mem, fill, data, state, host, versions, warm, fs = sys.argv[1:12]
clone, restore, vc, vccopy, fork, sr = ([float(x) for x in a.split()] for a in sys.argv[12:18])
if not vc:
    vc = vccopy = [float("nan")] * len(clone)
med = statistics.median
# met only when the ratio of the medians and the median of the per-run
# ratios (each run's pair measured back to back) both meet the target
def row(name, a, b, bname, target, ok):
    ra = med(a) / med(b)
    per = [x / y for x, y in zip(a, b)]
    rp = med(per)
    return "| %s | %.2f s | %s %.2f s | %.2fx | %.2fx (%.2f-%.2fx) | %s | %s |" % (
        name, med(a), bname, med(b), ra, rp, min(per), max(per), target,
        "met" if ok(ra) and ok(rp) else "**missed**")
lines = [
    "# vmkeep clone / fork benchmark",
    "",
    "Measured by `bench/clone.sh` on %s UTC; %s; %s; every file on %s." % (
        datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), host, versions, fs),
    "q35 TCG guest: %s MiB memory, %s MiB of it random data (state.sav %s MiB), "
    "2 GiB qcow2 disk with %s MiB of random data. Medians of %s interleaved runs; "
    "page cache warm; host memory warmed before every timed command (%s MiB, see "
    "bench/clone.sh). What each column times is described in bench/clone.sh." % (
        mem, fill, state, data, runs, warm),
    "",
    "| operation | vmkeep (median) | baseline (median) | ratio of medians | per-run ratio: median (range) | target | |",
    "|---|---|---|---|---|---|---|",
    row("`vmkeep clone` image -> running clone", clone, restore, "`virsh restore`", "<= 1.05x",
        lambda r: r <= 1.05),
    row("`vmkeep fork` of a running VM", fork, sr, "`virsh save` + `virsh restore`", "<= 0.5x",
        lambda r: r <= 0.5),
]
if vc[0] == vc[0]:   # not NaN: virt-clone was measured
    lines += [
    "| `vmkeep clone` vs `virt-clone` + boot to first tick | %.2f s | %.2f s | %.1fx faster | %.1fx faster | >= 20x faster | %s |" % (
        med(clone), med(vc), med(vc) / med(clone), med([y / x for x, y in zip(clone, vc)]),
        "met" if min(med(vc) / med(clone), med([y / x for x, y in zip(clone, vc)])) >= 20 else "**missed**"),
    "| `vmkeep clone` vs `virt-clone` (disk copy only) | %.2f s | %.2f s | %.1fx faster | %.1fx faster | | |" % (
        med(clone), med(vccopy), med(vccopy) / med(clone), med([y / x for x, y in zip(clone, vccopy)])),
    ]
lines += [
    "",
    "Every run, in seconds:",
    "",
    "| run | clone | restore | virt-clone + boot | virt-clone copy | fork | save + restore |",
    "|---|---|---|---|---|---|---|",
]
for i in range(len(clone)):
    lines.append("| %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
        i + 1, clone[i], restore[i], vc[i], vccopy[i], fork[i], sr[i]))
# "  1.234 s  clone: XML rewritten" (seconds since the command's first
# phase) -> the median time from the phase before to each phase
def phases(kind):
    per = {}
    order = []
    for f in sorted(glob.glob("%s/phases-%s-*.txt" % (work, kind))):
        prev = 0.0
        for l in open(f, errors="replace"):
            m = re.search(r"(\d+\.\d+) s  (.*)$", l)
            if not m:
                continue
            t, name = float(m.group(1)), m.group(2).strip()
            if name not in per:
                per[name] = []
                order.append(name)
            per[name].append(t - prev)
            prev = t
    return [(n, med(per[n]), len(per[n])) for n in order]
for kind in ("clone", "fork"):
    ph = phases(kind)
    if not ph:
        continue
    lines += ["", "Where `vmkeep %s` spends its time (median over runs, seconds since the "
              "phase before; G_MESSAGES_DEBUG=vmkeep):" % kind, "",
              "| phase | seconds | runs |", "|---|---|---|"]
    lines += ["| %s | %.3f | %d |" % p for p in ph]
text = "\n".join(lines) + "\n"
sys.stdout.write(text)
with open(out, "w") as f:
    f.write(text)
EOF
log "written to $OUT"
