#!/bin/bash
# e2e: what differs between libvirt generations, on whichever stack this runs
# (tools/run-tests.sh runs it on libvirt 9.0 / QEMU 7.2 and on 11.x / 10.x).
#
# One q35 VM (a NIC, a disk) in a store several levels deep that does not
# exist yet:
#   deep store   hibernate --image creates the missing parents traversable
#                (0755) and the store 0711, and the image wakes and clones
#                (QEMU reaches the frozen disks).
#   formats      libvirt 11.2+: hibernate --image --format zstd|gzip and
#                --parallel 2 (sparse): inspect reports the format, verify
#                passes, clone resumes the same boot (a FIFO for stream
#                formats, a real file for sparse, as --json says) and wake
#                --image resumes it.
#                Older: --format and --parallel exit 5 naming libvirt
#                11.2.0, and nothing changes.
#   compressed   on every stack: an image whose stream is gzip-compressed
#                (libvirt's format 1, what save_image_format = "gzip"
#                writes) verifies, clones and wakes.
#   xfs          a store on a loop-mounted XFS: a clone of a sparse image
#                reflinks its state (11.2+), and a clone of a stream image
#                goes through the FIFO.
#   unreachable  a store below a directory QEMU cannot pass (0700):
#                hibernate --image exits 5 naming it, and nothing changes.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v python3 >/dev/null || bail_out "python3 is needed to read --json output"

br=$(e2e_bridge_name a)
br2=$(e2e_bridge_name b)
e2e_bridge "$br"
e2e_bridge "$br2"

store=$E2E_DIR/deep/a/b/c/store
conf=$E2E_DIR/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store" >"$conf"
export VMKEEP_CONFIG=$conf

vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
vsh() { e2e_virsh "$@"; }
run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
mode_of() { stat -c %a "$1" 2>/dev/null || echo missing; }
listed() { vk --json image list | json '" ".join(sorted(i["name"] for i in d))'; }

libvirt=$(vsh version | sed -n 's/^Using library: libvirt \([0-9.]*\).*/\1/p')
# libvirt 11.2 took a save format and parallel channels per call
new=0
if [ "$(printf '%s\n' "$libvirt" 11.2.0 | sort -V | head -n 1)" = 11.2.0 ]; then new=1; fi
diag "libvirt $libvirt: per-call save format and parallel channels: $([ $new = 1 ] && echo yes || echo no)"

mac=$(printf '52:54:00:%02x:%02x:01' $((($$ >> 8) & 255)) $(($$ & 255)))
vm=$(e2e_name vm)
log=$E2E_DIR/vm.serial.log
disk=$E2E_DIR/vm.qcow2
e2e_cleanup_domain "$vm"
qemu-img create -q -f qcow2 "$disk" 32M
check_or_bail vk create "$vm" --machine q35 --virt-type qemu --memory 192 --no-balloon \
	--nic "bridge=$br,mac=$mac" --disk "$disk" \
	--boot "kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$VK_CMDLINE vk.fill=8" \
	--serial-log "$log" --start
check_or_bail e2e_wait_ticks_from "$log" 0 2 180
boot=$(e2e_tick_boot "$(e2e_last_tick "$log")")

# same_boot WHAT LOG OFFSET: the guest behind LOG ticks past OFFSET as the
# same boot, with the same NICs as before the first save.
nics=$(e2e_guest_nics "$(e2e_last_tick "$log")")
same_boot() {
	local what=$1 l=$2 off=$3 last
	check_as "$what: guest ticks" e2e_wait_ticks_from "$l" "$off" 2 120
	last=$(e2e_last_tick_from "$l" "$off")
	is "$(e2e_tick_boot "$last")" "$boot" "$what: the same boot (resumed, not booted)"
	is "$(e2e_guest_nics "$last")" "$nics" "$what: NIC name, ifindex, MAC, PCI path and ACPI index unchanged"
}

# clone_check IMAGE WHAT PATHS: clone IMAGE onto br2; it resumes the same
# boot and --json names a state path matching PATHS (a regex); then removed.
clone_check() {
	local img=$1 what=$2 want=$3 c out clog
	c=$(e2e_name "c$RANDOM")
	e2e_cleanup_domain "$c"
	clog=$E2E_DIR/$c-vm.serial.log
	run_rc vk --json clone "$img" --name "$c" --bridge "$br2"
	is "$RUN_RC" 0 "$what: vmkeep clone"
	[ "$RUN_RC" = 0 ] || diag "$RUN_OUT"
	out=$(printf '%s' "$RUN_OUT" | json 'd["state_path"]' 2>/dev/null || echo none)
	like "$out" "^($want)\$" "$what: the clone's state went $out (expected $want)"
	same_boot "$what clone" "$clog" 0
	vsh destroy "$c" >/dev/null 2>&1 || true
	vsh undefine "$c" --nvram >/dev/null 2>&1 || true
	rm -f "$E2E_DIR/$c"-*
}

# wake_check IMAGE WHAT: wake --image resumes the VM.
wake_check() {
	local off
	off=$(e2e_log_size "$log")
	check_as "$2: vmkeep wake --image $1" vk wake --image "$1"
	same_boot "$2 woken" "$log" "$off"
}

# ------------------------------------------------------ deep store -----

check_as "deep store: vmkeep hibernate --image raw0" vk hibernate "$vm" --image raw0
is "$(mode_of "$E2E_DIR/deep") $(mode_of "$E2E_DIR/deep/a") $(mode_of "$E2E_DIR/deep/a/b/c")" \
	"755 755 755" "deep store: missing parents created traversable (0755)"
is "$(mode_of "$store")" 711 "deep store: the store itself is 0711"
fmt=$(vk --json image inspect raw0 | json 'd["state_format"]')
if [ "$new" = 1 ]; then
	is "$fmt" raw "deep store: vmkeep's default format on libvirt $libvirt is raw"
else
	is "$fmt" raw "deep store: libvirt $libvirt wrote raw (qemu.conf default)"
fi
check_as "deep store: image verify" vk image verify raw0
clone_check raw0 "deep store" fifo
wake_check raw0 "deep store"

# -------------------------------------------------------- formats ------

if [ "$new" = 1 ]; then
	for spec in "zstd:--format zstd" "gzip:--format gzip" "sparse:--parallel 2"; do
		f=${spec%%:*}
		# shellcheck disable=SC2086 # the options are words
		check_as "$f: vmkeep hibernate --image ${spec#*:}" vk hibernate "$vm" --image "img-$f" ${spec#*:}
		is "$(vk --json image inspect "img-$f" | json 'd["state_format"]')" "$f" "$f: the sidecar records the format"
		if [ "$f" = sparse ]; then
			is "$(vk --json image inspect "img-$f" | json 'd["state_channels"]')" 2 "$f: ... and the 2 channels"
		fi
		check_as "$f: image verify" vk image verify "img-$f"
		if [ "$f" = sparse ]; then clone_check "img-$f" "$f" "copy|reflink"; else clone_check "img-$f" "$f" fifo; fi
		wake_check "img-$f" "$f"
	done
else
	for opt in "--format zstd" "--parallel 2"; do
		# shellcheck disable=SC2086
		run_rc vk hibernate "$vm" --image refused $opt
		is "$RUN_RC" 5 "$opt on libvirt $libvirt: refused (exit 5)"
		like "$RUN_OUT" "libvirt $libvirt .*11\.2\.0" "$opt: ... naming this libvirt and 11.2.0"
		is "$(e2e_domstate "$vm")" running "$opt: the VM keeps running"
		is "$(listed)" raw0 "$opt: no image written"
	done
fi

# ----------------------------------------------------- compressed ------

# What libvirt writes with save_image_format = "gzip": the same header with
# format 1, then the stream through gzip. Made from a raw image here, so
# that every stack, 9.0 included, restores a compressed state.
check_as "compressed: vmkeep hibernate --image gz (raw)" vk hibernate "$vm" --image gz
python3 - "$store/images/gz" <<'EOF'
import gzip, hashlib, os, re, struct, sys
d = sys.argv[1]
st = os.path.join(d, "state.sav")
with open(st, "rb") as f:
    data = f.read()
data_len = struct.unpack_from("<I", data, 20)[0]
off = 92 + data_len
out = bytearray(data[:off])
struct.pack_into("<I", out, 28, 1)
out += gzip.compress(data[off:], compresslevel=1)
with open(st, "wb") as f:
    f.write(out)
sha = hashlib.sha256(out).hexdigest()
sc = os.path.join(d, "image.xml")
text = open(sc).read()
text = re.sub(r'(<state [^>]*size=")\d+(")', r'\g<1>%d\g<2>' % len(out), text)
text = re.sub(r'(<state [^>]*sha256=")[0-9a-f]+(")', r'\g<1>%s\g<2>' % sha, text)
text = re.sub(r'(<state [^>]*format=")[a-z]+(")', r'\g<1>gzip\g<2>', text)
open(sc, "w").write(text)
EOF
is "$(vk --json image inspect gz | json 'd["state_format"]')" gzip "compressed: the image is gzip"
check_as "compressed: image verify" vk image verify gz
clone_check gz compressed fifo
wake_check gz compressed

# ------------------------------------------------------------- xfs -----

if command -v mkfs.xfs >/dev/null && command -v losetup >/dev/null; then
	xfs=$E2E_DIR/xfs
	mkdir -p "$xfs"
	truncate -s 2G "$E2E_DIR/xfs.img"
	if dev=$(losetup -f --show "$E2E_DIR/xfs.img" 2>/dev/null) &&
		mkfs.xfs -q -m reflink=1 "$dev" && mount "$dev" "$xfs"; then
		e2e_on_exit losetup -d "$dev"
		e2e_on_exit umount -l "$xfs"
		chmod 755 "$xfs"
		printf '[vmkeep]\nuri=%s\nstore=%s/store\nvirt-type=qemu\n' "$E2E_URI" "$xfs" >"$conf"
		if [ "$new" = 1 ]; then
			check_as "xfs: vmkeep hibernate --image --parallel 2" vk hibernate "$vm" --image xs --parallel 2
			clone_check xs "xfs sparse" reflink
			wake_check xs "xfs sparse"
		fi
		check_as "xfs: vmkeep hibernate --image (stream)" vk hibernate "$vm" --image xr
		clone_check xr "xfs stream" fifo
		wake_check xr "xfs stream"
		printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store" >"$conf"
	else
		skip "xfs" "cannot loop-mount an XFS file system here"
	fi
else
	skip "xfs" "mkfs.xfs (xfsprogs) or losetup is not installed"
fi

# ------------------------------------------------------ unreachable ----

mkdir -m 0700 "$E2E_DIR/locked"
printf '[vmkeep]\nuri=%s\nstore=%s/locked/store\nvirt-type=qemu\n' "$E2E_URI" "$E2E_DIR" >"$conf"
run_rc vk hibernate "$vm" --image never
is "$RUN_RC" 5 "unreachable store: hibernate --image refused (exit 5)"
like "$RUN_OUT" "cannot pass through $E2E_DIR/locked \\(mode 0700\\)" "unreachable store: ... naming the directory and its mode"
like "$RUN_OUT" "nothing was changed" "unreachable store: ... saying nothing changed"
is "$(e2e_domstate "$vm")" running "unreachable store: the VM keeps running"
check_as "unreachable store: no image written" test ! -e "$E2E_DIR/locked/store/images/never"

vsh destroy "$vm" >/dev/null 2>&1 || true
done_testing
