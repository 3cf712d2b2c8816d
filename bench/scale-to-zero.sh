#!/bin/bash
# Benchmark: scale to zero and back, on the same VMs in the same run.
#
# 1. Wake on traffic against a plain wake. One TCG guest per size (default
#    256 MiB and 1 GiB, memory filled by the guest with vk.fill) on an
#    isolated libvirt network of the benchmark's own (no forwarding; its
#    DHCP lease tells libvirt the guest's address), and a client in a
#    network namespace on the network's bridge. RUNS times each, in
#    alternating order:
#      plain    vmkeep hibernate VM; vmkeep wake VM: the wall time of the
#               wake command
#      traffic  vmkeep hibernate --wake-on-traffic VM with vmkeep watch
#               running; the client, its ARP entry flushed (as one whose
#               entry expired), sends one ping: the wall time from the
#               start of that ping to its end at the guest's reply (the
#               client's kernel holds the packet until the address is
#               resolved; it includes starting the ping, some ms)
#    and prints medians and traffic/plain ratios (target <= 1.5x). The
#    client's kernel asks for the address again once a second (Linux's
#    default), which is part of what a real client waits for.
# 2. Memory freed by idle hibernation: N guests (default 4 of 1 GiB, 850
#    MiB of it filled), hibernated by `vmkeep hibernate --match --sample 5
#    --bypass-cache` (nothing else runs on them), against `virsh
#    managedsave --bypass-cache` of the same guests, ROUNDS times each
#    (default 3), alternating: the sum of their QEMU processes' RSS and
#    PSS before (RSS counts the QEMU binary's and libraries' pages once per
#    process, PSS shares them out), and the host's MemAvailable before and
#    after, each the median of 3 readings a second apart (target: freed >=
#    90 % of the RSS, median of the rounds). Both write the state with
#    O_DIRECT, as a host short of memory should: otherwise the state
#    file's pages in the page cache count against what was freed. One
#    unmeasured round first, so that every measured round starts from
#    guests woken from a save (a freshly booted guest's QEMU holds pages
#    its guest no longer uses).
#
# Usage (as root, libvirtd running, vmkeep built):
#   bench/scale-to-zero.sh [-o FILE.md] [-r RUNS] [-s "MEM:FILL ..."] [-n N]
#                          [-m MEM:FILL] [-k ROUNDS]
# -r 0 measures the memory freed alone.
# Environment: VMKEEP (default ./vmkeep of the tree), BENCH_URI (default
# qemu:///system), BENCH_TMPDIR (default /var/tmp), BENCH_WARM (MiB, as
# bench/hibernate.sh; default 2048).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
VMKEEP=${VMKEEP:-$top/vmkeep}
URI=${BENCH_URI:-qemu:///system}
out=
runs=5
sizes="256:170 1024:850"
nidle=4
idle_size=1024:850
rounds=3
while getopts o:r:s:n:m:k: opt; do
	case $opt in
	o) out=$OPTARG ;;
	r) runs=$OPTARG ;;
	s) sizes=$OPTARG ;;
	n) nidle=$OPTARG ;;
	m) idle_size=$OPTARG ;;
	k) rounds=$OPTARG ;;
	*) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
WARM=${BENCH_WARM:-2048}
warm() { [ "$WARM" -gt 0 ] && python3 "$here/warm-memory.py" "$WARM" || true; }

[ "$(id -u)" = 0 ] || die "run as root (qemu:///system)"
[ -x "$VMKEEP" ] || die "vmkeep binary not found at $VMKEEP (build first)"
command -v busybox >/dev/null || die "busybox (busybox-static) is needed for the client's ping"
virsh -q -c "$URI" version >/dev/null 2>&1 || die "libvirtd does not answer at $URI"

guest=$("$top/tests/guest/build-guest.sh" | tail -n 1)
[ -s "$guest/vmlinuz" ] || die "building the test guest failed"
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/vkbench-XXXXXX")
chmod 0755 "$work"
cp "$guest/vmlinuz" "$guest/initrd.img" "$work/"
chmod 0644 "$work/vmlinuz" "$work/initrd.img"
export VMKEEP_CONFIG=$work/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s/store\nvirt-type=qemu\n' "$URI" "$work" >"$VMKEEP_CONFIG"
vk() { "$VMKEEP" -c "$URI" "$@"; }
vsh() { virsh -q -c "$URI" "$@"; }

id=$$
net=$(((id % 200) + 20))
NET=vkbench-$id
br=vkbn$((id % 100000))
ns=vkbench-$id
veth=vkbc$((id % 100000))
macbase=$(printf '52:54:00:%02x:%02x' $(((id >> 8) & 255)) $((id & 255)))
doms=()
watch_pid=
cleanup() {
	set +e
	[ -z "$watch_pid" ] || kill "$watch_pid" 2>/dev/null
	for d in "${doms[@]}"; do
		vsh destroy "$d" >/dev/null 2>&1
		vsh undefine "$d" --managed-save >/dev/null 2>&1
	done
	ip netns del "$ns" 2>/dev/null
	ip link del "$veth" 2>/dev/null
	vsh net-destroy "$NET" >/dev/null 2>&1
	cp "$work/watch.jsonl" "${BENCH_TMPDIR:-/var/tmp}/vkbench-watch-last.jsonl" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

{
	echo "<network><name>$NET</name><bridge name='$br' stp='off' delay='0'/>"
	echo "<ip address='10.$net.0.254' prefix='24'><dhcp><range start='10.$net.0.100' end='10.$net.0.200'/>"
	for i in $(seq 1 $((nidle + 9))); do
		printf "<host mac='%s:%02x' ip='10.%s.0.%d'/>\n" "$macbase" "$i" "$net" $((i + 1))
	done
	echo "</dhcp></ip></network>"
} >"$work/net.xml"
vsh net-create "$work/net.xml" >/dev/null || die "cannot create the network"
ip netns add "$ns"
ip link add "$veth" type veth peer name "${veth}p"
ip link set "${veth}p" netns "$ns"
ip link set "$veth" master "$br" up
ip netns exec "$ns" sh -c "echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; ip link set lo up
	ip addr add 10.$net.0.1/24 dev ${veth}p; ip link set ${veth}p up"

# guest N MEM FILL [KIND [TICK]]: guest number N (named vkbench-ID-KIND-N),
# started, with its DHCP lease; it checksums its filled memory every TICK
# seconds (default 5)
guest() {
	local n=$1 mem=$2 fill=$3 name mac
	name=vkbench-$id-${4:-wake}-$n
	mac=$(printf '%s:%02x' "$macbase" "$n")
	doms+=("$name")
	vk create "$name" --machine pc --virt-type qemu --memory "$mem" --no-balloon \
		--nic "network=$NET,mac=$mac" \
		--boot "kernel=$work/vmlinuz,initrd=$work/initrd.img,cmdline=console=ttyS0 quiet no_timer_check vk.fill=$fill vk.tick=${5:-5} vk.ip=$mac/10.$net.0.$((n + 1))/24 vk.dhcp=1" \
		--serial-log "$work/$name.log" --start >/dev/null
	local end=$((SECONDS + 240))
	until grep -q VKTICK "$work/$name.log" 2>/dev/null; do
		[ "$SECONDS" -lt "$end" ] || die "$name does not boot"
		sleep 1
	done
	until vsh domifaddr "$name" --source lease 2>/dev/null | grep -q "10.$net.0.$((n + 1))/"; do
		[ "$SECONDS" -lt "$end" ] || die "$name has no DHCP lease"
		sleep 1
	done
}
# client_ping ADDR: seconds from the start of the client's ping (one
# packet, held by the client's kernel until the address is resolved) to
# its end at the reply; nothing when no reply came.
client_ping() {
	ip netns exec "$ns" ip neigh flush dev "${veth}p"
	local t0=$EPOCHREALTIME
	ip netns exec "$ns" busybox ping -q -c 1 -W 30 "$1" >/dev/null 2>&1 || return 0
	awk "BEGIN { print $EPOCHREALTIME - $t0 }"
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

"$VMKEEP" -c "$URI" --json watch --min-interval 1 >"$work/watch.jsonl" 2>"$work/watch.err" &
watch_pid=$!

host=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
report=$(mktemp)
{
	echo "# Scale to zero and back: wake on traffic and idle hibernation"
	echo
	echo "Measured $(date -u +%Y-%m-%d) with \`bench/scale-to-zero.sh\`."
	echo
	echo "Host: $host, $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM; load average at start $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "$(vsh version 2>/dev/null | tr '\n' ';' | sed 's/;$//; s/;/; /g')."
	echo "$runs runs per size, alternating order; medians (minimum, maximum)."
	echo
	echo "| guest | plain: vmkeep wake (s) | traffic: first packet to reply (s) | traffic / plain |"
	echo "|---|---|---|---|"
} >"$report"
n=1
[ "$runs" -gt 0 ] || sizes=
for s in $sizes; do
	mem=${s%%:*}
	fill=${s#*:}
	guest "$n" "$mem" "$fill"
	name=vkbench-$id-wake-$n
	addr=10.$net.0.$((n + 1))
	: >"$work/plain" >"$work/traffic"
	for r in $(seq 1 "$runs"); do
		for mode in $([ $((r % 2)) = 1 ] && echo "plain traffic" || echo "traffic plain"); do
			if [ "$mode" = plain ]; then
				vk tag "$name" remove wake-on-traffic >/dev/null
				ip netns exec "$ns" ip neigh flush dev "${veth}p"
				vk hibernate "$name" >/dev/null
				warm
				t0=$EPOCHREALTIME
				vk wake "$name" >/dev/null
				awk "BEGIN { print $EPOCHREALTIME - $t0 }" >>"$work/plain"
			else
				lines=$(wc -l <"$work/watch.jsonl")
				# no probe of the client's kernel (its entry from the last
				# run) may wake the guest before the measured ping
				ip netns exec "$ns" ip neigh flush dev "${veth}p"
				vk hibernate "$name" --wake-on-traffic >/dev/null
				end=$((SECONDS + 30))
				until tail -n +$((lines + 1)) "$work/watch.jsonl" | grep -q "\"watching\".*\"$name\""; do
					[ "$SECONDS" -lt "$end" ] || die "the watcher does not watch $name"
					sleep 0.2
				done
				warm
				[ "$(vsh domstate "$name")" = "shut off" ] || die "$name was woken before the ping"
				s=$(client_ping "$addr")
				[ -n "$s" ] || die "no reply from $name after the wake"
				echo "$s" >>"$work/traffic"
				sleep 1.5   # past --min-interval
			fi
			sleep 2   # the guest settles
		done
	done
	p=$(median <"$work/plain")
	t=$(median <"$work/traffic")
	pr="$(sort -g "$work/plain" | head -n 1), $(sort -g "$work/plain" | tail -n 1)"
	tr_="$(sort -g "$work/traffic" | head -n 1), $(sort -g "$work/traffic" | tail -n 1)"
	ratio=$(awk "BEGIN { printf \"%.2fx\", $t / $p }")
	verdict=$(awk "BEGIN { print ($t / $p <= 1.5) ? \"ok\" : \"**over**\" }")
	printf '| %s MiB (fill %s) | %.3f (%s) | %.3f (%s) | %s %s |\n' "$mem" "$fill" "$p" "$pr" "$t" "$tr_" "$ratio" "$verdict" >>"$report"
	say "$mem MiB: plain $p s, traffic $t s"
	n=$((n + 1))
done

# ---- memory freed by idle hibernation
idle_mem=${idle_size%%:*}
idle_fill=${idle_size#*:}
idle_names=()
for i in $(seq 1 "$nidle"); do
	# idle: the guest checksums its memory at boot, then once an hour. A
	# checksum (several seconds of a CPU under TCG) inside a --sample
	# window would rightly make vmkeep keep that guest running.
	guest $((n + i)) "$idle_mem" "$idle_fill" idle 3600
	idle_names+=("vkbench-$id-idle-$((n + i))")
done
kill "$watch_pid" 2>/dev/null; watch_pid=
# qemu_sum FIELD: the sum of FIELD (Rss, Pss; KiB) over the idle guests'
# QEMU processes
qemu_sum() {
	local d pid total=0
	for d in "${idle_names[@]}"; do
		pid=$(cat "/run/libvirt/qemu/$d.pid" 2>/dev/null) || continue
		total=$((total + $(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/smaps_rollup")))
	done
	echo "$total"
}
# avail: MemAvailable (KiB), the median of 3 readings a second apart
avail() {
	local i
	for i in 1 2 3; do
		awk '/MemAvailable/ { print $2 }' /proc/meminfo
		[ "$i" = 3 ] || sleep 1
	done | median
}
{
	echo
	echo "Memory freed by hibernating $nidle idle guests of $idle_mem MiB (fill $idle_fill), KiB; $rounds rounds per tool, alternating:"
	echo
	echo "| tool | RSS of their QEMU processes | PSS | MemAvailable before | after | freed | freed / RSS | freed / PSS |"
	echo "|---|---|---|---|---|---|---|---|"
} >>"$report"
: >"$work/ratio-vmkeep" >"$work/ratio-virsh"
order=warmup
for r in $(seq 1 "$rounds"); do
	order="$order $([ $((r % 2)) = 1 ] && echo "vmkeep virsh" || echo "virsh vmkeep")"
done
for tool in $order; do
	if [ "$tool" = warmup ]; then
		for d in "${idle_names[@]}"; do vsh managedsave --bypass-cache "$d" >/dev/null; done
		for d in "${idle_names[@]}"; do vk wake "$d" >/dev/null; done
		continue
	fi
	sleep 5
	sync
	rss=$(qemu_sum Rss)
	pss=$(qemu_sum Pss)
	a0=$(avail)
	if [ "$tool" = vmkeep ]; then
		vk hibernate --match "vkbench-$id-idle-*" --sample 5 --cpu-below 50 --bypass-cache \
			>"$work/hibernate.out" 2>&1 || true
	else
		for d in "${idle_names[@]}"; do vsh managedsave --bypass-cache "$d" >/dev/null; done
	fi
	sync
	sleep 2
	a1=$(avail)
	for d in "${idle_names[@]}"; do
		[ "$(vsh domstate "$d")" = "shut off" ] ||
			die "$tool left $d running$([ "$tool" = vmkeep ] && printf ':\n%s' "$(cat "$work/hibernate.out")")"
	done
	awk "BEGIN { print 100 * ($a1 - $a0) / $rss }" >>"$work/ratio-$tool"
	printf '| %s | %d | %d | %d | %d | %d | %.1f %% | %.1f %% |\n' \
		"$([ "$tool" = vmkeep ] && echo "vmkeep hibernate --sample 5 --bypass-cache" || echo "virsh managedsave --bypass-cache")" \
		"$rss" "$pss" "$a0" "$a1" $((a1 - a0)) "$(awk "BEGIN { print 100 * ($a1 - $a0) / $rss }")" \
		"$(awk "BEGIN { print 100 * ($a1 - $a0) / $pss }")" >>"$report"
	say "$tool: freed $((a1 - a0)) KiB of $rss KiB RSS"
	for d in "${idle_names[@]}"; do vk wake "$d" >/dev/null; done
done
mv=$(median <"$work/ratio-vmkeep")
mr=$(median <"$work/ratio-virsh")
{
	echo
	printf 'Median freed / RSS: vmkeep %.1f %% (%s), virsh %.1f %%.\n' "$mv" \
		"$(awk "BEGIN { print ($mv >= 90) ? \"target >= 90 %: ok\" : \"target >= 90 %: **not met**\" }")" "$mr"
} >>"$report"
cat "$report"
[ -z "$out" ] || cp "$report" "$out"
rm -f "$report"
