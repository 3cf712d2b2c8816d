#!/bin/bash
# e2e: a hibernate image travels as one tar stream and comes back as a
# working image (real libvirtd + QEMU/TCG).
#
# A q35 VM with two NICs whose disk is a qcow2 overlay over a base image
# (so its frozen base is itself an overlay and the export must flatten it):
#   export    `hibernate --image`, `image export -o FILE`: GNU tar lists the
#             members, the manifest's SHA-256s match what tar extracts, the
#             disk in the stream is standalone; `-o -` to a pipe works.
#   refuse    imports of a damaged stream (a byte flipped in state.sav), a
#             truncated one, a member named ../x, an unknown member, a
#             sidecar that does not parse, and an existing image name each
#             exit 5 with a reason, leaving nothing in the store.
#   import    the source is undefined and its image removed, and its disk
#             and the disk's base are deleted: the import must be
#             self-contained. `image import` under a new name, `image
#             verify`, a second copy through a pipe (export - | import -).
#   clone     `clone` of the imported image resumes the source's guest: same
#             boot id, tick counter continuing, memory checksum, and every
#             NIC with its MAC, ifindex, PCI address and ACPI index.
#   diff      `diff image:IMG CLONE` exits 0 listing only allowed
#             differences; against a domain with another MAC it exits 5.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed to read tar members and --json output"
command -v xmllint >/dev/null || bail_out "xmllint (libxml2-utils) is needed"
command -v tar >/dev/null || bail_out "tar is needed"

# shellcheck disable=SC2119 # no suffix: one bridge per run
br=$(e2e_bridge_name)
e2e_bridge "$br"

store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
{
	printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store"
	e2e_import_places
} >"$conf"
export VMKEEP_CONFIG=$conf

vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
vsh() { e2e_virsh "$@"; }

run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

listed_images() {
	local d
	for d in "$store"/images/*/; do
		[ -f "$d/image.xml" ] && basename "$d"
	done
	return 0
}

# Everything in the store's images/ directory, dot-files included: an
# import that failed must leave exactly what was there before.
store_listing() {
	find "$store/images" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort | tr '\n' ' '
}

# "mac ifindex bdf pcipath acpi" per NIC, sorted.
guest_nics() {
	local v
	e2e_tick_nics "$1" | while IFS= read -r v; do
		printf '%s %s %s %s %s\n' "$(e2e_field "$v" 3)" "$(e2e_field "$v" 2)" \
			"$(e2e_field "$v" 4)" "$(e2e_field "$v" 5)" "$(e2e_field "$v" 6)"
	done | sort
}

# member_info TAR NAME: "offset size" of a member's data.
member_info() {
	python3 - "$1" "$2" <<'EOF'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    m = t.getmember(sys.argv[2])
    print(m.offset_data, m.size)
EOF
}

macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))
SRC=$(e2e_name src)
CLONE=$(e2e_name clone)
OTHER=$(e2e_name other)
LOG=$E2E_DIR/$SRC.log
# the import put the VM's log in log-dir as NAME-serial0.log; the clone's
# follows the path rule
CLOG=$E2E_DIR/logs/$CLONE-serial0.log
BASE=$E2E_DIR/base.qcow2
DISK=$E2E_DIR/src.qcow2
TAR=$E2E_DIR/img.tar
for d in "$SRC" "$CLONE" "$OTHER"; do
	e2e_cleanup_domain "$d"
done

# ------------------------------------------------------------- set up ---

qemu-img create -q -f qcow2 "$BASE" 32M
# 4 MiB of data in the base: the flattened disk in the stream is then far
# larger than the frozen overlay the sidecar records (the import must take
# it all the same)
qemu-io -f qcow2 -c "write -P 0x5a 0 4M" "$BASE" >/dev/null
qemu-img create -q -f qcow2 -F qcow2 -b "$BASE" "$DISK"
boot="kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$VK_CMDLINE vk.fill=2"
check_or_bail vk create "$SRC" --machine q35 --virt-type qemu --memory 128 \
	--nic "bridge=$br,mac=$macbase:01" --nic "bridge=$br,mac=$macbase:02" \
	--disk "$DISK" --no-balloon --boot "$boot" --serial-log "$LOG" --start
check_or_bail e2e_wait_ticks_from "$LOG" 0 2 180

# ------------------------------------------------------------- export ---

check_or_bail vk hibernate "$SRC" --image img-src
BEFORE=$(e2e_last_tick "$LOG" || true)
is "$(e2e_domstate "$SRC")" "shut off" "hibernate --image: the source is off"
frozen=$store/images/img-src/disks/vda.qcow2
like "$(qemu-img info -U "$frozen" 2>&1)" "backing file: $BASE" \
	"the frozen base is itself an overlay (over $BASE)"

t0=$SECONDS
check_as "image export img-src -o FILE" vk image export img-src -o "$TAR"
diag "export took $((SECONDS - t0)) s, $(stat -c %s "$TAR") bytes"
is "$(stat -c %a "$TAR")" 600 "the export is 0600 (it holds guest memory)"
is "$(find "$E2E_DIR" -maxdepth 1 -name '.img.tar*' | wc -l)" 0 "no temp file left beside the export"
is "$(tar -tf "$TAR" | tr '\n' ' ')" "image.xml state.sav disks/vda.qcow2 manifest.json " \
	"GNU tar lists sidecar, state, flattened disk and manifest"
run_rc vk image export img-src -o "$TAR"
is "$RUN_RC" 5 "export refuses to replace an existing FILE without --force"

x=$E2E_DIR/x
mkdir "$x"
tar -xf "$TAR" -C "$x"
is "$(python3 - "$x" <<'EOF'
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
bad = []
for e in m["members"]:
    h = hashlib.sha256(open(os.path.join(d, e["name"]), "rb").read()).hexdigest()
    if h != e["sha256"] or os.path.getsize(os.path.join(d, e["name"])) != e["size"]:
        bad.append(e["name"])
print(m["format"], m["image"], len(m["members"]), "bad:" + ",".join(bad),
      [e.get("flattened") for e in m["members"] if "target" in e])
EOF
)" "vmkeep-image-export img-src 3 bad: [True]" "every member matches the manifest's size and SHA-256; the disk was flattened"
is "$(qemu-img info "$x/disks/vda.qcow2" | grep -c '^backing file' || true)" 0 \
	"the disk in the stream is a standalone qcow2"
check_as "the state in the stream is the image's state.sav" cmp -s "$x/state.sav" "$store/images/img-src/state.sav"
rm -rf "$x"

is "$(vk image export img-src -o - | tar -tf - | tr '\n' ' ')" \
	"image.xml state.sav disks/vda.qcow2 manifest.json " "export -o - streams the same archive to a pipe"
run_rc vk --json image export img-src -o -
is "$RUN_RC" 2 "--json with -o - is a usage error (both want stdout)"

# ------------------------------------------------------------- refuse ---

before=$(store_listing)
# refused IMPORT-ARGS...: the import exits 5 and leaves the store as it was.
refused() {
	local what=$1 want=$2
	shift 2
	run_rc vk image import "$@"
	is "$RUN_RC" 5 "$what: import exits 5"
	like "$RUN_OUT" "$want" "$what: the error says why"
	is "$(store_listing)" "$before" "$what: nothing left in the store"
}

bad=$E2E_DIR/bad.tar
cp "$TAR" "$bad"
read -r off size < <(member_info "$bad" state.sav)
python3 - "$bad" $((off + size / 2)) <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0x01]))
EOF
refused "byte flipped in state.sav" "checksum mismatch for member 'state.sav'" "$bad" --name img-bad

head -c $(($(stat -c %s "$TAR") / 2)) "$TAR" >"$bad"
refused "truncated stream" "truncated" "$bad" --name img-bad
refused "truncated stream on stdin" "truncated" - --name img-bad <"$bad"

python3 - "$bad" "$TAR" <<'EOF'
import io, sys, tarfile
src = tarfile.open(sys.argv[2])
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    data = src.extractfile("image.xml").read()
    i = tarfile.TarInfo("image.xml"); i.size = len(data); t.addfile(i, io.BytesIO(data))
    i = tarfile.TarInfo("../escaped"); i.size = 3; t.addfile(i, io.BytesIO(b"bad"))
EOF
refused "member named ../escaped" "leaves the extraction directory" "$bad" --name img-bad
check_as "no file escaped the store" test ! -e "$store/escaped" -a ! -e "$store/images/escaped"

python3 - "$bad" "$TAR" <<'EOF'
import io, sys, tarfile
src = tarfile.open(sys.argv[2])
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    data = src.extractfile("image.xml").read()
    i = tarfile.TarInfo("image.xml"); i.size = len(data); t.addfile(i, io.BytesIO(data))
    i = tarfile.TarInfo("extra.txt"); i.size = 3; t.addfile(i, io.BytesIO(b"hi\n"))
EOF
refused "unknown member" "unknown member 'extra.txt'" "$bad" --name img-bad

# A sidecar that does not parse, with a manifest that vouches for it (so
# it is the sidecar check that refuses, not the checksum).
python3 - "$bad" <<'EOF'
import hashlib, io, json, sys, tarfile
members = {"image.xml": b"<vmkeep-sidecar>not really</vmkeep-sidecar>\n",
           "state.sav": b"LibvirtQemudSave" + bytes(200)}
manifest = {"format": "vmkeep-image-export", "version": 1, "image": "x",
            "members": [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                        for n, d in members.items()]}
members["manifest.json"] = json.dumps(manifest).encode()
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    for n, d in members.items():
        i = tarfile.TarInfo(n); i.size = len(d); t.addfile(i, io.BytesIO(d))
EOF
refused "sidecar that does not parse" "sidecar does not parse" "$bad"

refused "existing image name" "already exists" "$TAR" --name img-src
refused "existing image name (the exported one)" "already exists" "$TAR"
rm -f "$bad"

# ------------------------------------------------------------- import ---

# Nothing of the source may be needed: its definition, its image, its disk
# and the disk's backing file all go.
check_as "undefine the source" vk undefine "$SRC"
check_as "image rm img-src (nothing depends on it any more)" vk image rm img-src
rm -f "$DISK" "$BASE"

t0=$SECONDS
check_as "image import FILE --name img-new" vk image import "$TAR" --name img-new
diag "import took $((SECONDS - t0)) s"
is "$(listed_images | tr '\n' ' ')" "img-new " "the imported image is listed"
is "$(find "$store/images" -mindepth 1 -maxdepth 1 -name '.*' | wc -l)" 0 "no partial directory left"
check_as "image verify img-new" vk image verify img-new
img=$store/images/img-new
is "$(vk --json image inspect img-new | python3 -c 'import json,sys; print(json.load(sys.stdin)["disks"][0]["frozen"])')" \
	"$img/disks/vda.qcow2" "the sidecar's frozen disk points into the new image"
is "$(stat -c %a "$img/state.sav"),$(stat -c %a "$img/image.xml"),$(stat -c %a "$img/disks/vda.qcow2")" \
	"600,600,600" "imported files are 0600"

# The same stream through pipes, as over ssh.
check_as "export - | import - (a pipe both ways)" \
	bash -c 'set -o pipefail; "$1" -c "$2" image export img-new -o - | "$1" -c "$2" image import - --name img-piped' \
	_ "$VMKEEP" "$E2E_URI"
check_as "image verify img-piped" vk image verify img-piped
check_as "image rm img-piped" vk image rm img-piped

# -------------------------------------------------------------- clone ---

t0=$SECONDS
check_as "clone the imported image" vk clone img-new --name "$CLONE"
diag "clone took $((SECONDS - t0)) s"
is "$(e2e_domstate "$CLONE")" running "the clone runs"
vsh dumpxml "$CLONE" >"$E2E_DIR/clone.xml"
is "$(xmllint --xpath 'string(//serial/source/@path)' "$E2E_DIR/clone.xml")" "$CLOG" \
	"the clone's serial log follows the log path rule"
is "$(xmllint --xpath "string(//disk[target/@dev='vda']/backingStore/source/@file)" "$E2E_DIR/clone.xml")" \
	"$img/disks/vda.qcow2" "the clone's disk is an overlay over the imported base"

check_as "the clone's guest ticks" e2e_wait_ticks_from "$CLOG" 0 2 90
first=$(e2e_first_tick_from "$CLOG" 0)
after=$(e2e_last_tick_from "$CLOG" 0)
is "$(e2e_tick_boot "$first")" "$(e2e_tick_boot "$BEFORE")" "clone: same boot id as the source (resumed, not booted)"
n0=$(e2e_tick_n "$BEFORE")
n1=$(e2e_tick_n "$first")
if [ -n "$n0" ] && [ -n "$n1" ] && [ "$n1" -gt "$n0" ] && [ "$n1" -le $((n0 + 2)) ]; then
	ok "clone: tick counter continues ($n0 -> $n1)"
else
	not_ok "clone: tick counter continues"
	diag "last tick of the source: '${n0:-none}', first of the clone: '${n1:-none}'"
fi
is "$(e2e_tick_mem "$after")" "$(e2e_tick_mem "$BEFORE")" "clone: memory checksum unchanged"
is "$(guest_nics "$after")" "$(guest_nics "$BEFORE")" \
	"clone: every NIC keeps its MAC, ifindex, PCI address, PCI path and ACPI index"
is "$(e2e_tick_nics "$after" | wc -l)" 2 "clone: the guest sees both NICs"

# --------------------------------------------------------------- diff ---

run_rc vk diff "image:img-new" "$CLONE"
is "$RUN_RC" 0 "diff image:img-new CLONE exits 0 (no identity difference)"
like "$RUN_OUT" "name +/domain/name: $SRC -> $CLONE" "diff lists the name as an allowed difference"
like "$RUN_OUT" "disk source path" "diff names the rule of the disk path"
is "$(vk --json diff "image:img-new" "$CLONE" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["identity_equal"], len(d["identity"]), sorted({a["rule"] for a in d["allowed"]} & {"name", "UUID"}))')" \
	"True 0 ['UUID', 'name']" "diff --json: identity equal, name and UUID allowed"
run_rc vk diff "image:img-new" "image:img-new"
is "$RUN_RC" 0 "diff of an image with itself exits 0"
like "$RUN_OUT" "No differences" "... and says there are none"

qemu-img create -q -f qcow2 "$E2E_DIR/other.qcow2" 32M
check_or_bail vk create "$OTHER" --machine q35 --virt-type qemu --memory 128 \
	--nic "bridge=$br,mac=$macbase:09" --nic "bridge=$br,mac=$macbase:02" \
	--disk "$E2E_DIR/other.qcow2" --no-balloon --boot "$boot"
run_rc vk diff "$CLONE" "$OTHER"
is "$RUN_RC" 5 "diff against a domain with another MAC exits 5"
like "$RUN_OUT" "Identity differences" "diff prints the identity differences"
like "$RUN_OUT" "$macbase:01" "... naming the NIC that differs"
run_rc vk diff "$CLONE" img-new
is "$RUN_RC" 4 "diff of a name that is no domain exits 4"
like "$RUN_OUT" "image:img-new" "... and suggests image:NAME"

vsh destroy "$CLONE" >/dev/null 2>&1 || true
done_testing
