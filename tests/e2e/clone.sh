#!/bin/bash
# e2e: clone and fork keep the guest-visible identity of every device (the
# story in shared/seeds/cocoon-windows-nic-lost-after-clone.txt: a clone
# must wake with the identical virtio-net devices, never with a NIC removed
# and re-added).  Real libvirtd + QEMU/TCG.
#
# Per machine type (pc and q35, running at once), a VM made by `vmkeep
# create` with one NIC, a disk, balloon and rng (--rng), plus a second NIC
# hot-added live with `vmkeep nic add`:
#   clone     `hibernate --image`, two clones onto two other bridges and
#             `wake --image` of the source: all three run at once; each
#             guest is a resume of the saved one (same boot id, the tick
#             counter continues, memory checksum equal) and every NIC keeps
#             its name, ifindex, MAC, PCI path and ACPI index.
#   diff      `virsh dumpxml --migratable` of source and clone differ only in
#             the fields the invariant allows (a python comparison below;
#             `vmkeep diff` too when this build has it).
#   disks     the guest stamps sector 0 of vda every tick: with the source
#             paused, the clones' stamps move on in their own overlays, the
#             source's disk keeps the source's last stamp and the image's
#             frozen base is unchanged (SHA-256 before/after).
#   dup MAC   a clone onto the source's own bridge exits 5 and creates
#             nothing; onto another bridge it starts (the clones above).
#   fork      `vmkeep fork SRC --name F --bridge OTHER` of the running
#             source: both run with the source's boot id, the fork resumes
#             the saved state, the source continues without a gap (its
#             QEMU never stopped); the source now writes to DISK.fork-F
#             over its old file, the fork to an overlay over the image's
#             frozen base, which is that same old file (one inode), and the
#             image fork-SRC-F verifies.
#   fault     `VMKEEP_FAULT=fork-after-disks|fork-after-clone|fork-after-disks:sigterm
#             vmkeep fork ...` (right after the disk snapshot; once the fork
#             runs; SIGTERM right after the disk snapshot):
#             non-zero exit,
#             the source runs on with the same boot id, and nothing is left:
#             no fork domain, disk or log file, no image, nothing in the
#             store's tmp directory, the source back on its disk with the
#             chain as before (the overlay merged back and removed).
# and, once each:
#   shutoff   (pc) fork of a shut-off VM: overlays + definition, the
#             source's disk content untouched (its base has the old SHA-256),
#             the fork defined with only allowed differences and bootable.
#   no-start  (q35) `clone --no-start` keeps the clone as an image; `wake
#             --image NEW` resumes it.
#   copy      (pc) `clone --copy`: full disk copy (no backing file), resumed.
#   tamper    (pc) a copy of the image with one byte flipped in the middle of
#             state.sav: clone exits 5 and leaves nothing behind; a truncated
#             state.sav and a hand-edited sidecar are refused (exit 5) before
#             anything is created.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed for the XML comparison"

br_src=$(e2e_bridge_name a)
br_c1=$(e2e_bridge_name b)
br_c2=$(e2e_bridge_name c)
br_fork=$(e2e_bridge_name d)
br_spare=$(e2e_bridge_name e)
for b in "$br_src" "$br_c1" "$br_c2" "$br_fork" "$br_spare"; do
	e2e_bridge "$b"
done

store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store" >"$conf"
export VMKEEP_CONFIG=$conf

vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
vsh() { e2e_virsh "$@"; }

# MACs unique to this run: 52:54:00:<pid>:<n>
macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))

# ------------------------------------------------------------ helpers ---

run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

line_mark() { # LOG: offset just past its last newline (never inside a line)
	python3 -c 'import sys; d = open(sys.argv[1], "rb").read(); print(d.rfind(b"\n") + 1)' "$1"
}
tick_before() { # LOG OFFSET: the last complete VKTICK line in the first OFFSET bytes
	head -c "$2" "$1" 2>/dev/null | tr -d '\r' | grep '^VKTICK .* END$' | tail -n 1 || true
}

exists_domain() { if vsh dominfo "$1" >/dev/null 2>&1; then echo yes; else echo no; fi; }

sha() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }

# files_named DIR PATTERN: names in DIR matching a glob, space separated.
files_named() {
	find "$1" -maxdepth 1 -name "$2" -printf '%f ' 2>/dev/null || true
}

# store_junk: anything a failed clone could leave in the store: entries of
# tmp/ (FIFOs, clone-XXXXXX dirs) and partial images (dot entries).
store_junk() {
	{
		find "$store/tmp" -mindepth 1 -printf 'tmp/%P\n' 2>/dev/null
		find "$store/images" -mindepth 1 -maxdepth 1 -name '.*' -printf 'images/%P\n' 2>/dev/null
	} | sort | tr '\n' ' '
}

listed_images() { vk -q --json image list | python3 -c 'import json,sys; print(" ".join(sorted(i["name"] for i in json.load(sys.stdin))))'; }

# source_disk DOMAIN [--inactive]: the file behind its vda
source_disk() {
	vsh domblklist "$@" --details 2>/dev/null | awk '$3 == "vda" { print $4 }'
}

backing_of() {
	qemu-img info -U --output=json "$1" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin).get("backing-filename",""))'
}

# resumed WHAT LOG OFFSET BEFORE: the guest whose last tick before the save
# was BEFORE ticks past OFFSET as the same boot, counter continuing, same
# memory and NICs.
resumed() {
	local what=$1 log=$2 off=$3 before=$4 first after n0 n1
	check_as "$what: guest ticks" e2e_wait_ticks_from "$log" "$off" 2 120
	first=$(e2e_first_tick_from "$log" "$off")
	after=$(e2e_last_tick_from "$log" "$off")
	is "$(e2e_tick_boot "$first")" "$(e2e_tick_boot "$before")" "$what: source's boot id (resumed, not booted)"
	n0=$(e2e_tick_n "$before")
	n1=$(e2e_tick_n "$first")
	# +2 when the save cut a tick line (a new log lacks its first half).
	if [ -n "$n0" ] && [ -n "$n1" ] && [ "$n1" -gt "$n0" ] && [ "$n1" -le $((n0 + 2)) ]; then
		ok "$what: tick counter continues ($n0 -> $n1)"
	else
		not_ok "$what: tick counter continues"
		diag "last tick before: '${n0:-none}', first after: '${n1:-none}'"
	fi
	is "$(e2e_tick_mem "$after")" "$(e2e_tick_mem "$before")" "$what: memory checksum equal"
	is "$(e2e_guest_nics "$after")" "$(e2e_guest_nics "$before")" \
		"$what: every NIC keeps name, ifindex, MAC, PCI path and ACPI index"
}

# continued WHAT LOG OFFSET BOOT N0: a guest that was saved and woken in
# place (fork): every tick past OFFSET is boot BOOT and the counter runs
# N0+1, N0+2, ... without a gap or a repeat.
continued() {
	local what=$1 log=$2 off=$3 boot=$4 n0=$5 seq want
	check_as "$what: guest ticks" e2e_wait_ticks_from "$log" "$off" 2 120
	is "$(e2e_ticks_from "$log" "$off" | while IFS= read -r l; do e2e_tick_boot "$l"; done | sort -u)" \
		"$boot" "$what: same boot id as before"
	seq=$(e2e_ticks_from "$log" "$off" | while IFS= read -r l; do e2e_tick_n "$l"; done | tr '\n' ' ')
	want=$(seq $((n0 + 1)) $((n0 + $(echo "$seq" | wc -w))) | tr '\n' ' ')
	is "$seq" "$want" "$what: tick counter continues without a gap"
}

# wait_tick_at_least LOG N [TIMEOUT]: until the log's last tick is >= N.
# shellcheck disable=SC2317 # reached through check_as
wait_tick_at_least() {
	local log=$1 n=$2 end=$((SECONDS + ${3:-90})) l t
	while :; do
		l=$(e2e_last_tick "$log" || true)
		t=$(e2e_tick_n "$l")
		[ "${t:-0}" -lt "$n" ] || return 0
		if [ "$SECONDS" -ge "$end" ]; then
			_e2e_say "timeout: last tick of $log is '$(e2e_tick_n "$l")', wanted >= $n"
			return 1
		fi
		sleep 0.5
	done
}

# shellcheck disable=SC2317 # reached through check_as
wait_ticks_past() { # N LOG...: until every LOG's last tick is >= N
	local n=$1 log
	shift
	for log in "$@"; do
		wait_tick_at_least "$log" "$n" || return 1
	done
}

stamp_tick() { # IMAGE: tick number of the guest's sector-0 stamp
	local s
	s=$(e2e_disk_stamp "$1" qcow2 || true)
	echo "${s##*tick=}"
}

# xml_diff A B: differences between two domain XML files, one per line,
# "ALLOWED path: a -> b" or "IDENTITY path: a -> b".  Elements are matched
# by key (interfaces by MAC, disks by target, controllers by type+index),
# otherwise by position among same-named siblings.  <alias> and <seclabel>
# are runtime labels and ignored.
xml_diff() {
	python3 - "$1" "$2" <<'EOF'
import re, sys
import xml.etree.ElementTree as ET

def key(el, counts):
    if el.tag == "interface" and el.find("mac") is not None:
        return "interface[%s]" % el.find("mac").get("address", "").lower()
    if el.tag == "disk" and el.find("target") is not None:
        return "disk[%s]" % el.find("target").get("dev")
    if el.tag == "controller":
        return "controller[%s %s]" % (el.get("type"), el.get("index"))
    n = counts.get(el.tag, 0)
    counts[el.tag] = n + 1
    return "%s[%d]" % (el.tag, n)

def walk(el, path, out):
    for k, v in el.attrib.items():
        out[path + "/@" + k] = v
    t = (el.text or "").strip()
    if t:
        out[path + "/text()"] = t
    counts = {}
    for c in el:
        if c.tag in ("alias", "seclabel"):
            continue
        walk(c, path + "/" + key(c, counts), out)

ALLOWED = [r"^/domain/@id$", r"^/domain/name\[0\]/", r"^/domain/uuid\[0\]/",
           r"/disk\[[^]]+\]/(source|backingStore)\[", r"/disk\[[^]]+\]/driver\[0\]/@type$",
           r"/interface\[[^]]+\]/(target|source|virtualport)\[", r"/interface\[[^]]+\]/@type$",
           r"/(serial|console)\[\d+\]/source\[0\]/@path$", r"/(serial|console)\[\d+\]/log\[",
           r"/console\[\d+\]/@tty$", r"/channel\[\d+\]/source\[0\]/@path$",
           r"^/domain/os\[0\]/nvram\[", r"/tpm\[\d+\]/backend\[0\]/(source\[|device\[0\]/@path)"]

a, b = {}, {}
walk(ET.parse(sys.argv[1]).getroot(), "/domain", a)
walk(ET.parse(sys.argv[2]).getroot(), "/domain", b)
for p in sorted(set(a) | set(b)):
    if a.get(p) == b.get(p):
        continue
    kind = "ALLOWED" if any(re.search(r, p) for r in ALLOWED) else "IDENTITY"
    print("%s %s: %s -> %s" % (kind, p, a.get(p, "(absent)"), b.get(p, "(absent)")))
EOF
}

# check_xml_diff WHAT A B: only allowed differences, and the ones expected.
check_xml_diff() {
	local what=$1 d
	d=$(xml_diff "$2" "$3")
	is "$(printf '%s\n' "$d" | grep '^IDENTITY' || true)" "" "$what: no identity difference (canonical XML diff)"
	like "$d" '^ALLOWED /domain/name\[0\]/text\(\)' "$what: the name differs"
	like "$d" '^ALLOWED /domain/uuid\[0\]/text\(\)' "$what: the UUID differs"
	like "$d" '^ALLOWED .*/disk\[vda\]/source\[0\]/@file' "$what: the disk path differs"
	diag "$what: allowed differences:" "$(printf '%s\n' "$d" | grep '^ALLOWED' | cut -c 1-200)"
}

have_vk_diff=no
vk help diff >/dev/null 2>&1 && have_vk_diff=yes

# ------------------------------------------------------------- set up ---

boot() { printf 'kernel=%s,initrd=%s,cmdline=%s vk.fill=%s' "$VK_KERNEL" "$VK_INITRD" "$VK_CMDLINE" "$1"; }

machines="pc q35"
declare -A NAME LOG DISK MAC1 MAC2 C1 C2 F FF
i=0
for m in $machines; do
	i=$((i + 1))
	NAME[$m]=$(e2e_name "$m")
	LOG[$m]=$E2E_DIR/$m.serial.log
	DISK[$m]=$E2E_DIR/$m.qcow2
	MAC1[$m]=$macbase:${i}1 MAC2[$m]=$macbase:${i}2
	C1[$m]=${NAME[$m]}-c1 C2[$m]=${NAME[$m]}-c2 F[$m]=${NAME[$m]}-f FF[$m]=${NAME[$m]}-ff
	for d in "${NAME[$m]}" "${C1[$m]}" "${C2[$m]}" "${F[$m]}" "${FF[$m]}" \
		"${NAME[$m]}-dup" "${NAME[$m]}-ns" "${NAME[$m]}-cp" "${NAME[$m]}-t" "${NAME[$m]}-sf"; do
		e2e_cleanup_domain "$d"
	done
	qemu-img create -q -f qcow2 "${DISK[$m]}" 32M
done

for m in $machines; do
	check_or_bail vk create "${NAME[$m]}" --machine "$m" --virt-type qemu --memory 128 \
		--nic "bridge=$br_src,mac=${MAC1[$m]}" --disk "${DISK[$m]}" --rng \
		--boot "$(boot 2)" --serial-log "${LOG[$m]}" --start
done

declare -A OFF BEFORE SRCNICS
for m in $machines; do
	check_or_bail e2e_wait_ticks_from "${LOG[$m]}" 0 2 180
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
	check_as "$m: vmkeep nic add (live) of the second NIC" \
		vk nic add "${NAME[$m]}" --bridge "$br_src" --mac "${MAC2[$m]}"
done
for m in $machines; do
	check_or_bail e2e_wait_line "${LOG[$m]}" "^VKTICK .* nics=2 .*,${MAC2[$m]},.* END\$" 60 "${OFF[$m]}"
	layout=$(vk layout "${NAME[$m]}")
	like "$layout" 'rng' "$m: the VM has an rng device"
	like "$layout" 'memballoon' "$m: the VM has a balloon"
done

# ------------------------------- hibernate --image, two clones, wake ---

declare -A BASE BASESHA STAMP0
for m in $machines; do
	check_or_bail vk hibernate "${NAME[$m]}" --image "img-$m"
	BEFORE[$m]=$(e2e_last_tick "${LOG[$m]}" || true)
	SRCNICS[$m]=$(e2e_guest_nics "${BEFORE[$m]}")
	BASE[$m]=$store/images/img-$m/disks/vda.qcow2
	BASESHA[$m]=$(sha "${BASE[$m]}")
	STAMP0[$m]=$(e2e_disk_stamp "${BASE[$m]}" qcow2 || true)
	is "$(e2e_tick_get "${BEFORE[$m]}" nics)" 2 "$m: 2 NICs in the guest when it was saved"
done
for m in $machines; do
	check_as "$m: clone img-$m --name c1 --bridge $br_c1" vk clone "img-$m" --name "${C1[$m]}" --bridge "$br_c1"
	check_as "$m: clone img-$m --name c2 --bridge $br_c2" vk clone "img-$m" --name "${C2[$m]}" --bridge "$br_c2"
	OFF[$m]=$(e2e_log_size "${LOG[$m]}")
	check_as "$m: wake --image img-$m (the source)" vk wake --image "img-$m"
done
declare -A CLOG
for m in $machines; do
	for c in c1 c2; do
		n=${NAME[$m]}-$c
		# the serial log follows the clone's name (vmkeep(1), path rule)
		CLOG[$m$c]=$E2E_DIR/$n-$m.serial.log
		is "$(e2e_domstate "$n")" running "$m $c: running"
	done
	is "$(e2e_domstate "${NAME[$m]}")" running "$m source: running, at the same time as both clones"
done
for m in $machines; do
	resumed "$m c1" "${CLOG[${m}c1]}" 0 "${BEFORE[$m]}"
	resumed "$m c2" "${CLOG[${m}c2]}" 0 "${BEFORE[$m]}"
	resumed "$m source (woken)" "${LOG[$m]}" "${OFF[$m]}" "${BEFORE[$m]}"
	line=$(e2e_last_tick "${CLOG[${m}c1]}" || true)
	for mac in "${MAC1[$m]}" "${MAC2[$m]}"; do
		v=$(e2e_tick_nic_by_mac "$line" "$mac" || true)
		src=$(e2e_tick_nic_by_mac "${BEFORE[$m]}" "$mac" || true)
		is "$(e2e_field "$v" 2),$(e2e_field "$v" 4)" "$(e2e_field "$src" 2),$(e2e_field "$src" 4)" \
			"$m c1: NIC $mac has the source's ifindex and PCI address ($(e2e_field "$src" 4))"
	done
	is "$(vsh domiflist "${C1[$m]}" | awk '{ print $3 }' | sort -u)" "$br_c1" "$m c1: its NICs are on $br_c1"
done

# ------------------------------------------------ canonical XML diff ---

for m in $machines; do
	vsh dumpxml --migratable "${NAME[$m]}" >"$E2E_DIR/$m.src.xml"
	for c in c1 c2; do
		vsh dumpxml --migratable "${NAME[$m]}-$c" >"$E2E_DIR/$m.$c.xml"
		check_xml_diff "$m $c vs source" "$E2E_DIR/$m.src.xml" "$E2E_DIR/$m.$c.xml"
	done
	if [ "$have_vk_diff" = yes ]; then
		check_as "$m: vmkeep diff source c1 (only allowed fields)" vk diff "${NAME[$m]}" "${C1[$m]}"
	fi
done
[ "$have_vk_diff" = yes ] || diag "vmkeep diff is not in this build: python comparison only"

# ------------------------------------------------- disk isolation ---

# With the source paused, the clones tick (and stamp) on: their stamps must
# reach their own overlays only.
declare -A S
for m in $machines; do
	check vsh suspend "${NAME[$m]}"
	S[$m]=$(e2e_tick_n "$(e2e_last_tick "${LOG[$m]}")")
done
for m in $machines; do
	check_as "$m: both clones tick 3 past the paused source" \
		wait_ticks_past "$((S[$m] + 3))" "${CLOG[${m}c1]}" "${CLOG[${m}c2]}"
	st=$(stamp_tick "${DISK[$m]}")
	if [ -n "$st" ] && [ "$st" -ge "${S[$m]}" ] && [ "$st" -le $((S[$m] + 1)) ]; then
		ok "$m: the source's disk has the source's own last stamp (tick $st, paused at ${S[$m]})"
	else
		not_ok "$m: the source's disk has the source's own last stamp"
		diag "stamp tick '$st', source paused after tick ${S[$m]}"
	fi
	for c in c1 c2; do
		cd=$E2E_DIR/${NAME[$m]}-$c-vda.qcow2
		is "$(backing_of "$cd")" "${BASE[$m]}" "$m $c: its disk is an overlay over the image's frozen base"
		st=$(stamp_tick "$cd")
		if [ -n "$st" ] && [ "$st" -ge $((S[$m] + 2)) ]; then
			ok "$m $c: its stamps land in its own overlay (tick $st)"
		else
			not_ok "$m $c: its stamps land in its own overlay"
			diag "stamp tick '$st', source paused after tick ${S[$m]}"
		fi
	done
	is "$(sha "${BASE[$m]}")" "${BASESHA[$m]}" "$m: the image's frozen base is unchanged (SHA-256)"
	is "$(e2e_disk_stamp "${BASE[$m]}" qcow2 || true)" "${STAMP0[$m]}" "$m: the frozen base keeps the stamp of the save"
	check vsh resume "${NAME[$m]}"
done

# ---------------------------------------------------- duplicate MAC ---

for m in $machines; do
	run_rc vk clone "img-$m" --name "${NAME[$m]}-dup" --bridge "$br_src"
	is "$RUN_RC" 5 "$m: clone onto the source's bridge is refused (exit 5)"
	like "$RUN_OUT" "${MAC1[$m]}|${MAC2[$m]}" "$m: the refusal names the MAC"
	is "$(exists_domain "${NAME[$m]}-dup"),$(files_named "$E2E_DIR" "${NAME[$m]}-dup*")" "no," \
		"$m: the refused clone created no domain and no file"
done
# Free the CPU: the clones are done.
for m in $machines; do
	vsh destroy "${C1[$m]}" >/dev/null 2>&1 || true
	vsh destroy "${C2[$m]}" >/dev/null 2>&1 || true
done

# ------------------------------------------------ fork of a running VM ---

# another vmkeep holding the source (its per-VM lock): exit 3, nothing done
m=pc
suuid=$(vsh domuuid "${NAME[$m]}" | head -n 1)
sdisk0=$(source_disk "${NAME[$m]}")
# -o: only flock itself holds the lock, so killing it releases the lock
flock -o "$store/locks/$suuid.lock" sleep 30 &
holder=$!
for i in $(seq 1 50); do
	flock -n "$store/locks/$suuid.lock" true 2>/dev/null || break
	sleep 0.1
done
run_rc "$VMKEEP" -c "$E2E_URI" fork "${NAME[$m]}" --name "${F[$m]}" --bridge "$br_fork"
pkill -P "$holder" 2>/dev/null || true
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
flock -n "$store/locks/$suuid.lock" true || not_ok "$m busy: the test's lock holder is gone"
is "$RUN_RC" 3 "$m busy: a fork of a source another vmkeep holds exits 3"
like "$RUN_OUT" "another vmkeep is working" "$m busy: and says why"
is "$(e2e_domstate "${NAME[$m]}"),$(exists_domain "${F[$m]}"),$(source_disk "${NAME[$m]}")" \
	"running,no,$sdisk0" "$m busy: the source runs on its disk, no fork"

declare -A N0 B0 FLOG
for m in $machines; do
	FLOG[$m]=$E2E_DIR/${F[$m]}-$m.serial.log
	# the mark first (at a line start), then the last tick before it: a
	# tick printed in between must not fall through the gap
	OFF[$m]=$(line_mark "${LOG[$m]}")
	l=$(tick_before "${LOG[$m]}" "${OFF[$m]}")
	B0[$m]=$(e2e_tick_boot "$l")
	N0[$m]=$(e2e_tick_n "$l")
	check_as "$m: fork ${NAME[$m]} --name f --bridge $br_fork" vk fork "${NAME[$m]}" --name "${F[$m]}" --bridge "$br_fork"
done
for m in $machines; do
	is "$(e2e_domstate "${NAME[$m]}"),$(e2e_domstate "${F[$m]}")" "running,running" "$m fork: source and fork both run"
	continued "$m fork: source" "${LOG[$m]}" "${OFF[$m]}" "${B0[$m]}" "${N0[$m]}"
	check_as "$m fork: fork ticks" e2e_wait_ticks_from "${FLOG[$m]}" 0 2 120
	first=$(e2e_first_tick_from "${FLOG[$m]}" 0)
	last=$(e2e_last_tick_from "${FLOG[$m]}" 0)
	is "$(e2e_tick_boot "$first")" "${B0[$m]}" "$m fork: the fork has the source's boot id (resumed, not booted)"
	fn=$(e2e_tick_n "$first")
	if [ -n "$fn" ] && [ "$fn" -gt "${N0[$m]}" ] &&
		e2e_ticks_from "${LOG[$m]}" "${OFF[$m]}" | grep -q " tick=$fn "; then
		ok "$m fork: the fork's counter continues from the source's ($fn)"
	else
		not_ok "$m fork: the fork's counter continues from the source's"
		diag "fork's first tick '$fn', source's last before the fork ${N0[$m]}"
	fi
	is "$(e2e_tick_mem "$last")" "$(e2e_tick_mem "${BEFORE[$m]}")" "$m fork: memory checksum equal"
	is "$(e2e_guest_nics "$last")" "${SRCNICS[$m]}" "$m fork: every NIC keeps name, ifindex, MAC, PCI path and ACPI index"
	vsh dumpxml --migratable "${NAME[$m]}" >"$E2E_DIR/$m.src2.xml"
	vsh dumpxml --migratable "${F[$m]}" >"$E2E_DIR/$m.f.xml"
	check_xml_diff "$m fork vs source" "$E2E_DIR/$m.src2.xml" "$E2E_DIR/$m.f.xml"
	# where each writes now
	sdisk=$(source_disk "${NAME[$m]}")
	is "$sdisk" "${DISK[$m]%.qcow2}.fork-${F[$m]}.qcow2" "$m fork: the source continues on DISK.fork-F"
	is "$(backing_of "$sdisk")" "${DISK[$m]}" "$m fork: over its old disk file"
	is "$(source_disk "${NAME[$m]}" --inactive)" "$sdisk" "$m fork: its definition says so too"
	fimg=$store/images/fork-${NAME[$m]}-${F[$m]}
	fbase=$(backing_of "$(source_disk "${F[$m]}")")
	is "$fbase" "$fimg/disks/vda.qcow2" "$m fork: the fork's disk is an overlay over the image's frozen base"
	is "$(stat -c %i "$fbase" 2>/dev/null)" "$(stat -c %i "${DISK[$m]}")" \
		"$m fork: that base is the source's old disk file (one inode)"
	check_as "$m fork: image fork-SRC-F verifies" vk image verify "fork-${NAME[$m]}-${F[$m]}"
done
for m in $machines; do
	vsh destroy "${F[$m]}" >/dev/null 2>&1 || true
done

# ------------------------------------- fork with an injected failure ---

declare -A IMGS0 CHAIN0 SDISK0
# after-disks: the source is paused, on its new overlay, no memory written
# yet; after-clone: the fork runs and the source already ran on
# fork-after-disks:sigterm: vmkeep gets SIGTERM right after the disk snapshot (as from a
# systemd stop) and must still undo everything before it exits
points="fork-after-disks fork-after-clone fork-after-disks:sigterm"
if ! e2e_test_hooks; then
	skip "fork with an injected failure" "$VMKEEP_FAULT_BIN is not built (make check builds it)"
	points=
fi
for point in $points; do
want="injected failure at $point"
[ "$point" = fork-after-disks:sigterm ] && want="interrupted by signal 15; the fork is undone"
for m in $machines; do
	IMGS0[$m]=$(listed_images)
	SDISK0[$m]=$(source_disk "${NAME[$m]}")
	CHAIN0[$m]=$(backing_of "${SDISK0[$m]}")
	# the mark first (at a line start), then the last tick before it: a
	# tick printed in between must not fall through the gap
	OFF[$m]=$(line_mark "${LOG[$m]}")
	l=$(tick_before "${LOG[$m]}" "${OFF[$m]}")
	B0[$m]=$(e2e_tick_boot "$l")
	N0[$m]=$(e2e_tick_n "$l")
	run_rc env VMKEEP_FAULT=$point "$VMKEEP_FAULT_BIN" -c "$E2E_URI" fork "${NAME[$m]}" \
		--name "${FF[$m]}" --bridge "$br_spare"
	isnt "$RUN_RC" 0 "$m $point: the fork fails (exit $RUN_RC)"
	like "$RUN_OUT" "$want" "$m $point: at the injected point"
	is "$(e2e_domstate "${NAME[$m]}")" running "$m $point: the source is running"
	is "$(exists_domain "${FF[$m]}")" no "$m $point: no fork domain"
	is "$(files_named "$E2E_DIR" "${FF[$m]}*")" "" "$m $point: no fork disk or log file"
	is "$(listed_images)" "${IMGS0[$m]}" "$m $point: no new image in 'vmkeep image list'"
	is "$(store_junk)" "" "$m $point: no FIFO, temp or partial file in the store"
	is "$(source_disk "${NAME[$m]}")" "${SDISK0[$m]}" "$m $point: the source is back on its disk"
	is "$(source_disk "${NAME[$m]}" --inactive)" "${SDISK0[$m]}" "$m $point: and so is its definition"
	is "$(backing_of "${SDISK0[$m]}")" "${CHAIN0[$m]}" "$m $point: the source's disk chain is as before"
	is "$(files_named "$E2E_DIR" "*.fork-${FF[$m]}.qcow2")" "" "$m $point: the source's overlay is gone"
done
for m in $machines; do
	continued "$m $point: source" "${LOG[$m]}" "${OFF[$m]}" "${B0[$m]}" "${N0[$m]}"
done
done

# ---------------------------------------- clone --no-start (q35) -------

ns=${NAME[q35]}-ns
check_as "q35: clone --no-start --name ns" vk clone img-q35 --name "$ns" --bridge "$br_c1" --no-start
is "$(e2e_domstate "$ns")" "shut off" "q35 no-start: defined, not running"
like "$(listed_images)" "(^| )$ns( |\$)" "q35 no-start: kept as image '$ns'"
check_as "q35 no-start: wake --image $ns" vk wake --image "$ns"
resumed "q35 no-start after wake --image" "$E2E_DIR/$ns-q35.serial.log" 0 "${BEFORE[q35]}"
vsh destroy "$ns" >/dev/null 2>&1 || true

# --------------------------------------------- clone --copy (pc) -------

cp_=${NAME[pc]}-cp
check_as "pc: clone --copy --name cp" vk clone img-pc --name "$cp_" --bridge "$br_c2" --copy
is "$(backing_of "$E2E_DIR/$cp_-vda.qcow2")" "" "pc copy: the disk is a full copy (no backing file)"
resumed "pc copy" "$E2E_DIR/$cp_-pc.serial.log" 0 "${BEFORE[pc]}"
vsh destroy "$cp_" >/dev/null 2>&1 || true

# ----------------------------------- fork of a shut-off VM (pc) --------

# c2 of pc is shut off by now; its disk is an overlay over img-pc's base.
src=${C2[pc]} sf=${NAME[pc]}-sf
sdisk=$E2E_DIR/$src-vda.qcow2
sum0=$(sha "$sdisk")
vsh dumpxml --inactive "$src" >"$E2E_DIR/sf.src0.xml"
check_as "pc shutoff: fork of the shut-off c2" vk fork "$src" --name "$sf" --bridge "$br_fork"
is "$(e2e_domstate "$src"),$(e2e_domstate "$sf")" "shut off,shut off" "pc shutoff: fork defined, nothing started"
sbase=$(backing_of "$sdisk")
is "$(sha "$sbase")" "$sum0" "pc shutoff: the source's disk content is untouched (now its read-only base)"
is "$(backing_of "$E2E_DIR/$sf-vda.qcow2")" "$sbase" "pc shutoff: the fork's disk is an overlay over the same base"
vsh dumpxml --inactive "$src" >"$E2E_DIR/sf.src1.xml"
vsh dumpxml --inactive "$sf" >"$E2E_DIR/sf.fork.xml"
is "$(xml_diff "$E2E_DIR/sf.src0.xml" "$E2E_DIR/sf.src1.xml" | grep -v '/driver\[0\]/@type' || true)" "" \
	"pc shutoff: the source's definition is unchanged (its disk stays at its path)"
check_xml_diff "pc shutoff: fork vs source" "$E2E_DIR/sf.src1.xml" "$E2E_DIR/sf.fork.xml"
check_as "pc shutoff: the fork starts" vk start "$sf"
check_as "pc shutoff: the fork boots and ticks" e2e_wait_ticks_from "$E2E_DIR/$sf-pc.serial.log" 0 1 180
vsh destroy "$sf" >/dev/null 2>&1 || true

# ---------------------------------- tampered / damaged images (pc) -----

junk_check() { # WHAT NAME: nothing of clone NAME exists
	is "$(exists_domain "$2"),$(files_named "$E2E_DIR" "$2*"),$(store_junk)" "no,," \
		"$1: no domain, no disk or log file, nothing in the store's tmp"
}
t=${NAME[pc]}-t
cp -a "$store/images/img-pc" "$store/images/tamper"
sz=$(stat -c %s "$store/images/tamper/state.sav")
python3 - "$store/images/tamper/state.sav" $((sz / 2)) <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff]))
EOF
run_rc vk clone tamper --name "$t" --bridge "$br_c1"
is "$RUN_RC" 5 "tamper: clone of an image with a flipped byte in state.sav exits 5"
like "$RUN_OUT" "does not match its sidecar" "tamper: the message says the state does not match"
junk_check "tamper" "$t"
rm -rf "$store/images/tamper"

cp -a "$store/images/img-pc" "$store/images/trunc"
truncate -s $((sz - 4096)) "$store/images/trunc/state.sav"
run_rc vk clone trunc --name "$t" --bridge "$br_c1"
is "$RUN_RC" 5 "truncated: clone of a truncated state.sav exits 5"
like "$RUN_OUT" "truncated" "truncated: the message says so"
junk_check "truncated" "$t"
rm -rf "$store/images/trunc"

cp -a "$store/images/img-pc" "$store/images/edited"
# A hand-edited sidecar: the second NIC's MAC "fixed" everywhere in it.
sed -i "s/${MAC2[pc]}/52:54:00:ee:ee:ee/g" "$store/images/edited/image.xml"
run_rc vk clone edited --name "$t" --bridge "$br_c1"
is "$RUN_RC" 5 "edited sidecar (MAC): clone exits 5"
like "$RUN_OUT" "nothing was created" "edited sidecar (MAC): refused before anything was created"
junk_check "edited sidecar (MAC)" "$t"
cp "$store/images/img-pc/image.xml" "$store/images/edited/image.xml"
# ... and only the identity table's NIC address changed.
sed -i 's/address="0000:00:04.0"/address="0000:00:06.0"/' "$store/images/edited/image.xml"
run_rc vk clone edited --name "$t" --bridge "$br_c1"
is "$RUN_RC" 5 "edited sidecar (identity table): clone exits 5"
junk_check "edited sidecar (identity table)" "$t"
rm -rf "$store/images/edited"

# A --tap that names an interface the host already has (here the source's
# bridge): refused before anything is created.
run_rc vk clone img-pc --name "$t" --bridge "$br_c1" --tap "$br_src"
is "$RUN_RC" 5 "existing TAP name: clone exits 5"
like "$RUN_OUT" "TAP device $br_src already exists on this host" "existing TAP name: the message names it"
junk_check "existing TAP name" "$t"

done_testing
