#!/bin/bash
# Benchmark: vmkeep hibernate/wake against plain virsh save/restore, on the
# same VM in the same run.
#
# For each guest size (default 256 MiB and 1 GiB, memory filled by the guest
# itself with vk.fill=MiB of random data so that the state is not mostly
# zero pages), one TCG guest made by `vmkeep create` (q35, one qcow2 disk) is
# saved and restored RUNS times (default 5) by each of
#   virsh           virsh save FILE        / virsh restore FILE
#   virsh managed   virsh managedsave DOM  / virsh start DOM
#   vmkeep managed  vmkeep hibernate DOM   / vmkeep wake DOM
#   vmkeep image    vmkeep hibernate DOM --image NAME / vmkeep wake --image NAME
# in alternating order (odd runs vmkeep first, even runs virsh first). It
# prints a markdown table of median times, GiB/s (state size / time), state
# sizes and vmkeep/virsh ratios; the target is <= 1.05x for times and
# <= 1.01x for sizes, against virsh save/restore (and, for managed mode,
# also against libvirt's own managed save, which is what it wraps).
# Restores read a state that was just written (warm page cache) for every
# tool alike. Host memory is warmed before every timed save and restore, the
# same for each tool (BENCH_WARM MiB, default 2048; 0 turns it off): a
# process maps that much with transparent huge pages, touches it and exits.
# On a host that is itself a VM whose free memory goes back to its own host
# (virtio-balloon free page reporting) the first touch of that memory costs
# ~2.5 ms per MiB, which otherwise made the same restore take 0.4-3 s.
#
# Usage (as root, libvirtd running, vmkeep built):
#   bench/hibernate.sh [-o FILE.md] [-r RUNS] [-s "MEM:FILL ..."] [-k]
#     -o FILE   also write the table (with the raw per-run numbers) to FILE
#     -r RUNS   runs per tool and size (default 5)
#     -s SIZES  guest sizes as MiB:fill-MiB pairs (default "256:170 1024:850";
#               the guest's kernel needs the rest)
#     -k        keep the work directory
# Environment: VMKEEP (binary, default ./vmkeep of the tree), BENCH_URI
# (default qemu:///system), BENCH_TMPDIR (default /var/tmp).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
VMKEEP=${VMKEEP:-$top/vmkeep}
URI=${BENCH_URI:-qemu:///system}
out=
runs=5
sizes="256:170 1024:850"
keep=0
while getopts o:r:s:k opt; do
	case $opt in
	o) out=$OPTARG ;;
	r) runs=$OPTARG ;;
	s) sizes=$OPTARG ;;
	k) keep=1 ;;
	*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

say() { printf 'bench: %s\n' "$*" >&2; }
WARM=${BENCH_WARM:-2048}

# warm: see the header; right before a timed save or restore
warm() {
	[ "$WARM" -gt 0 ] || return 0
	python3 "$here/warm-memory.py" "$WARM"
}
die() { say "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (qemu:///system)"
[ -x "$VMKEEP" ] || die "vmkeep binary not found at $VMKEEP (build first)"
command -v virsh >/dev/null || die "virsh is not installed"
command -v python3 >/dev/null || die "python3 is not installed"
virsh -q -c "$URI" version >/dev/null 2>&1 || die "libvirtd does not answer at $URI"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "bash 5 is needed (EPOCHREALTIME)"

guest=$("$top/tests/guest/build-guest.sh" | tail -n 1)
[ -s "$guest/vmlinuz" ] || die "building the test guest failed"

work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/vkbench-XXXXXX")
chmod 0755 "$work"
cp "$guest/vmlinuz" "$guest/initrd.img" "$work/"
chmod 0644 "$work/vmlinuz" "$work/initrd.img"
export VMKEEP_CONFIG=$work/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s/store\nvirt-type=qemu\n' "$URI" "$work" >"$VMKEEP_CONFIG"
savedir=/var/lib/libvirt/qemu/save
# vmkeep says how long its libvirt call took (see timed).
export G_MESSAGES_DEBUG=vmkeep

vsh() { virsh -q -c "$URI" "$@"; }
vk() { "$VMKEEP" -q -c "$URI" "$@"; }

doms=()
cleanup() {
	local d
	set +e
	for d in "${doms[@]}"; do
		vsh destroy "$d" >/dev/null 2>&1
		vsh undefine "$d" --managed-save >/dev/null 2>&1
	done
	if [ "$keep" = 1 ]; then say "kept $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# timed VAR CMD...: run CMD (output discarded), seconds in VAR; for vmkeep
# also its own time (wall minus the libvirt call it reports with
# G_MESSAGES_DEBUG=vmkeep, on stdout: GLib sends debug messages there) in OWN.
timed() {
	local __var=$1 t0 t1 lib
	shift
	t0=$EPOCHREALTIME
	"$@" >"$work/last.err" 2>&1 || { cat "$work/last.err" >&2; die "failed: $*"; }
	t1=$EPOCHREALTIME
	printf -v "$__var" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	lib=$(sed -n 's/.*: libvirt took \([0-9.]*\) s$/\1/p' "$work/last.err" | tail -n 1)
	OWN=$(awk -v a="$t0" -v b="$t1" -v l="${lib:-0}" 'BEGIN { printf "%.3f", b - a - l }')
}

wait_running() {
	local i
	for i in $(seq 1 120); do
		[ "$(vsh domstate "$1" 2>/dev/null | head -n 1)" = running ] && return 0
		sleep 0.5
	done
	die "$1 is not running after the restore"
}

minimum() { tr ' ' '\n' | grep . | sort -g | head -n 1; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
gibps() { awk -v s="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.2f", s / t / 1073741824; else print "-" }'; }
mib() { awk -v s="$1" 'BEGIN { printf "%.1f", s / 1048576 }'; }
mark() { awk -v r="$1" -v lim="$2" 'BEGIN { print (r <= lim) ? "ok" : "**over**" }'; }

tools="virsh vmanaged managed image"
# vmkeep's own time per operation (OS/OR), and virsh's fixed cost: connect,
# look the domain up, one call (`virsh domstate`), measured once per run.
# one_run DOM TOOL RUN: save and restore once, appending to the SAVE/REST/SIZE arrays.
one_run() {
	local d=$1 tool=$2 r=$3 ts tr sz f os or
	# Every operation starts with no dirty pages left by the previous one,
	# so that writeback of an earlier state does not land in its time.
	sync
	sleep 0.5
	case $tool in
	virsh)
		f=$work/virsh.sav
		warm
		timed ts vsh save "$d" "$f"
		sz=$(stat -c %s "$f")
		sync
		warm
		timed tr vsh restore "$f"
		rm -f "$f"
		;;
	vmanaged)
		warm
		timed ts vsh managedsave "$d"
		sz=$(stat -c %s "$savedir/$d.save")
		sync
		warm
		timed tr vsh start "$d"
		;;
	managed)
		warm
		timed ts vk hibernate "$d"
		os=$OWN
		sz=$(stat -c %s "$savedir/$d.save")
		sync
		warm
		timed tr vk wake "$d"
		or=$OWN
		;;
	image)
		warm
		timed ts vk hibernate "$d" --image "run$mem-$r"
		os=$OWN
		sz=$(stat -c %s "$work/store/images/run$mem-$r/state.sav")
		sync
		warm
		timed tr vk wake --image "run$mem-$r"
		or=$OWN
		;;
	esac
	wait_running "$d"
	SAVE[$tool]+="$ts " REST[$tool]+="$tr " SIZE[$tool]+="$sz "
	if [ -n "${os:-}" ]; then
		OS[$tool]+="$os " OR[$tool]+="$or "
		# The same libvirt call made by virsh would have cost its own
		# fixed part instead of vmkeep's: the ratio without the noise
		# of the libvirt call itself.
		ES[$tool]+="$(awk -v w="$ts" -v o="$os" -v v="$VOWN" 'BEGIN { printf "%.3f", w / (w - o + v) }') "
		ER[$tool]+="$(awk -v w="$tr" -v o="$or" -v v="$VOWN" 'BEGIN { printf "%.3f", w / (w - o + v) }') "
	else
		timed VOWN vsh domstate "$d"
		VO+="$VOWN "
	fi
	say "$d run $r $tool: save ${ts}s restore ${tr}s size $(mib "$sz") MiB"
	sleep 1
}

others=$(vsh list --name | grep -vc '^$' || true)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
host="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM"
versions="$(vsh version | tr -s ' ' | paste -sd ';' | sed 's/;/; /g')"
table="| guest | metric | virsh save / restore | virsh managedsave / start | vmkeep managed | managed / virsh save | managed / virsh managedsave | vmkeep --image | image / virsh save |
|---|---|---|---|---|---|---|---|---|"
table2="| guest | operation | virsh's own time | vmkeep managed: own time | ratio, libvirt noise removed | vmkeep --image: own time | ratio, libvirt noise removed |
|---|---|---|---|---|---|---|"
raw=""
raw2=""

for spec in $sizes; do
	mem=${spec%%:*} fill=${spec##*:}
	d=vkbench-$$-$mem
	doms+=("$d")
	qemu-img create -q -f qcow2 "$work/$mem.qcow2" 64M
	say "creating $d: $mem MiB, filling $fill MiB (TCG: this takes a while)"
	vk create "$d" --machine q35 --virt-type qemu --memory "$mem" --no-balloon \
		--disk "$work/$mem.qcow2" \
		--boot "kernel=$work/vmlinuz,initrd=$work/initrd.img,cmdline=console=ttyS0 quiet vk.fill=$fill vk.tick=100000" \
		--serial-log "$work/$mem.log" --start >/dev/null
	# The first tick comes once the guest has filled its memory; with
	# vk.tick=100000 it then sleeps and leaves the CPU to the benchmark.
	for i in $(seq 1 1200); do
		tr -d '\r' <"$work/$mem.log" 2>/dev/null | grep -q '^VKTICK .* END$' && break
		grep -q 'Kernel panic' "$work/$mem.log" 2>/dev/null && die "$d panicked (vk.fill=$fill too large for $mem MiB?)"
		[ "$i" -lt 1200 ] || die "$d did not tick within 10 minutes"
		sleep 0.5
	done
	sleep 2
	declare -A SAVE=() REST=() SIZE=() OS=() OR=() ES=() ER=()
	VO=""
	timed VOWN vsh domstate "$d"
	for r in $(seq 1 "$runs"); do
		if [ $((r % 2)) = 1 ]; then order="managed image virsh vmanaged"; else order="vmanaged virsh image managed"; fi
		for tool in $order; do
			one_run "$d" "$tool" "$r"
		done
	done
	declare -A MS MR MZ NS NR
	for tool in $tools; do
		MS[$tool]=$(echo "${SAVE[$tool]}" | median)
		MR[$tool]=$(echo "${REST[$tool]}" | median)
		NS[$tool]=$(echo "${SAVE[$tool]}" | minimum)
		NR[$tool]=$(echo "${REST[$tool]}" | minimum)
		MZ[$tool]=$(echo "${SIZE[$tool]}" | median)
		raw+="| $mem MiB | $tool | ${SAVE[$tool]}| ${REST[$tool]}| ${SIZE[$tool]}|
"
	done
	cell() { # metric tool
		case $1 in
		save) echo "${MS[$2]} s, min ${NS[$2]} ($(gibps "${MZ[$2]}" "${MS[$2]}") GiB/s)" ;;
		restore) echo "${MR[$2]} s, min ${NR[$2]} ($(gibps "${MZ[$2]}" "${MR[$2]}") GiB/s)" ;;
		size) echo "$(mib "${MZ[$2]}") MiB" ;;
		esac
	}
	ratio() { # metric tool [base tool]
		local a b lim=1.05 base=${3:-virsh} r m=
		case $1 in
		save) a=${MS[$2]} b=${MS[$base]} m=$(div "${NS[$2]}" "${NS[$base]}") ;;
		restore) a=${MR[$2]} b=${MR[$base]} m=$(div "${NR[$2]}" "${NR[$base]}") ;;
		size) a=${MZ[$2]} b=${MZ[$base]} lim=1.01 ;;
		esac
		r=$(div "$a" "$b")
		echo "${r}x $(mark "$r" "$lim")${m:+ (min ${m}x)}"
	}
	for metric in save restore size; do
		case $metric in
		save) label="hibernate vs save (median)" ;;
		restore) label="wake vs restore (median)" ;;
		size) label="state size" ;;
		esac
		table+="
| $mem MiB (fill $fill) | $label | $(cell $metric virsh) | $(cell $metric vmanaged) | $(cell $metric managed) | $(ratio $metric managed) | $(ratio $metric managed vmanaged) | $(cell $metric image) | $(ratio $metric image) |"
	done
	vsh destroy "$d" >/dev/null 2>&1 || true
	ms() { awk -v s="$(echo "$1" | median)" 'BEGIN { printf "%.0f ms", s * 1000 }'; }
	est() { local r; r=$(echo "$1" | median); echo "${r}x $(mark "$r" 1.05)"; }
	table2+="
| $mem MiB | hibernate vs save | $(ms "$VO") | $(ms "${OS[managed]}") | $(est "${ES[managed]}") | $(ms "${OS[image]}") | $(est "${ES[image]}") |
| $mem MiB | wake vs restore | $(ms "$VO") | $(ms "${OR[managed]}") | $(est "${ER[managed]}") | $(ms "${OR[image]}") | $(est "${ER[image]}") |"
	raw2+="| $mem MiB | virsh domstate (after each virsh run) | $VO| $VO|
| $mem MiB | vmkeep managed | ${OS[managed]}| ${OR[managed]}|
| $mem MiB | vmkeep --image | ${OS[image]}| ${OR[image]}|
"
	unset SAVE REST SIZE MS MR MZ NS NR OS OR ES ER
done

report="Host: $host; other running domains at start: $others; load average at start $load0, at the end $(cut -d' ' -f1-3 /proc/loadavg).
$versions.
$runs runs per tool and size, alternating order, \`sync\` and a host-memory warm-up
($WARM MiB, see bench/hibernate.sh) before each operation;
times are wall-clock seconds of the command (median, and the minimum, which is
less sensitive to other load on the host), GiB/s = state size / median time;
ratios compare medians (minimums in parentheses). Targets: times <= 1.05x,
size <= 1.01x virsh.

$table

Where the time goes: vmkeep's own time is the wall time minus the libvirt call
it makes (which vmkeep reports with G_MESSAGES_DEBUG=vmkeep); virsh's own time
is that of \`virsh domstate\` (connect, look up, one call). The ratio with the
libvirt noise removed is, per run, vmkeep's wall time over the same time with
virsh's own time in place of vmkeep's (median over the runs).

$table2

Raw numbers (seconds per run, in run order; sizes in bytes):

| guest | tool | save | restore | size |
|---|---|---|---|---|
$raw
| guest | own time of | hibernate / save | wake / restore |
|---|---|---|---|
$raw2"
printf '%s\n' "$report"
if [ -n "$out" ]; then
	{
		echo "# vmkeep hibernate/wake vs virsh save/restore"
		echo
		echo "Measured $(date -u +%Y-%m-%d) with \`bench/hibernate.sh\`."
		echo
		printf '%s\n' "$report"
	} >"$out"
	say "wrote $out"
fi
