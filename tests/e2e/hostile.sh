#!/bin/bash
# e2e: hostile input, table-driven (real libvirtd + QEMU/TCG).
#
# Every row of tests/data/hostile/cases.txt is one case: a setup (a shell
# function below that builds the hostile input: a tampered copy of an
# image in the store, a crafted export, a configuration, a domain XML),
# a vmkeep command line, the exit status it must end with and a regular
# expression its message must match (what is wrong, and where: the file,
# the field, the value). After every case:
#   - the store is unchanged: every entry (path, size, mode, type, link
#     target) and the SHA-256 of every regular file, locks/ excepted;
#   - the libvirt domain list is unchanged (names and, for this test's
#     domains, their state);
#   - the canaries (files, a qcow2, a directory, a FIFO in E2E_DIR/canary)
#     keep content, mode, mtime and atime (atime: they were not even read;
#     the filesystem is relatime and their atime was set back), no file
#     appeared in the canary directory, disk-dir, nvram-dir, log-dir, the
#     export directory or /var/lib/libvirt/images, and /etc/passwd is
#     unchanged;
#   - vmkeep did not crash (status < 128, no GLib critical) or hang (it
#     runs under timeout), and printed no raw ESC byte.
# Cases that must succeed (an imported image's emulator, disks, NVRAM and
# logs rewritten to this host's places; security labels and scripts
# dropped) assert what was rewritten instead of an unchanged store, and
# remove what they made.
#
# One small guest (--memory 128, vk.fill=1) is booted once; the cases of
# section @running use it running (hibernate --image with hostile names
# and stores), then it is hibernated into image 'good', which is exported
# once; every other case works on copies of that image and that export.
# Crafted exports for the import cases carry the state cut to its header
# and 64 KiB of stream (import reads and checks every member, but never
# QEMU's stream), so they stay small.
#
# The configuration is e2e_import_places' (disks, NVRAM and logs of
# imported images in E2E_DIR) with kernel-dirs narrowed to the guest's
# kernel directory: E2E_DIR, which holds the canaries, must not be a place
# an image may boot a kernel from. Only setups change anything between
# cases, and they change only the store and files of their own, so the
# domains, canaries and watched directories a case starts from are those
# the previous case left (compared again after every case).
#
# Environment: HOSTILE_ONLY=ERE runs only the cases whose id matches.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
for t in python3 qemu-img mkfifo timeout sha256sum; do
	command -v "$t" >/dev/null || bail_out "$t is needed"
done

DATA=$E2E_SRCDIR/tests/data/hostile
CASES=$DATA/cases.txt
# the system's interpreter: a version manager's shim costs a second a call
PY=python3
[ ! -x /usr/bin/python3 ] || PY=/usr/bin/python3
craft() { "$PY" "$DATA/craft.py" "$@"; }
T0=$SECONDS

br=$(e2e_bridge_name)
e2e_bridge "$br"

P=$(e2e_name)          # every domain a case may create starts with this
VM=$P-vm
e2e_cleanup_domain "$VM"
STORE=$E2E_DIR/store
CANARY=$E2E_DIR/canary
OUT=$E2E_DIR/out        # where exports named on the command line go
WORK=$E2E_DIR/work      # scratch space of the test itself
DISKDIR=$E2E_DIR/imported
NVDIR=$E2E_DIR/nvram
LOGDIR=$E2E_DIR/logs
mkdir -p "$CANARY/dir" "$OUT" "$WORK"
chmod 0755 "$CANARY" "$OUT"

# A kernel directory of its own: E2E_DIR (where the canaries live) must not
# be one of the directories an imported image may boot a kernel from.
KDIR=$(dirname "$VK_KERNEL")
if [ "$KDIR" = "$E2E_DIR" ]; then
	mkdir -p "$E2E_DIR/boot"
	mv "$VK_KERNEL" "$VK_INITRD" "$E2E_DIR/boot/"
	KDIR=$E2E_DIR/boot
	VK_KERNEL=$KDIR/vmlinuz
	VK_INITRD=$KDIR/initrd.img
fi
CONF=$E2E_DIR/vmkeep.conf
{
	printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$STORE"
	e2e_import_places | grep -v '^kernel-dirs='
	printf 'kernel-dirs=%s\n' "$KDIR"
} >"$CONF"
export VMKEEP_CONFIG=$CONF
HOST_EMU=$(virsh -q -c "$E2E_URI" capabilities |
	sed -n '/<arch name=.x86_64.>/,/<\/arch>/s:.*<emulator>\(.*\)</emulator>.*:\1:p' | head -n 1)
[ -n "$HOST_EMU" ] || bail_out "libvirt's capabilities name no x86_64 emulator"

# ------------------------------------------------------------ canaries ---

printf 'canary of %s: nothing may write or read me\n' "$P" >"$CANARY/c1"
qemu-img create -q -f qcow2 "$CANARY/c.qcow2" 1M
printf 'inner canary\n' >"$CANARY/dir/f"
mkfifo "$CANARY/fifo"
chmod 0644 "$CANARY/c1" "$CANARY/c.qcow2" "$CANARY/dir/f"
CANARY_FILES=("$CANARY" "$CANARY/c1" "$CANARY/c.qcow2" "$CANARY/dir" "$CANARY/dir/f" "$CANARY/fifo")
SHADOW_LINE=$(head -n 1 /etc/shadow 2>/dev/null | cut -d: -f1-2)

# SHA-256 of regular files, cached by inode, ctime and size: a file whose
# ctime did not change was not written (nobody can set a ctime back), and
# hashing the canaries again would read them (their atime is checked).
# (sum_of runs in this shell, never in $(...), or the cache would be lost.)
declare -A SUM
SUMV=
sum_of() { # PATH KEY: SUMV
	if [ -z "${SUM[$2]:-}" ]; then
		SUM[$2]=$(sha256sum <"$1" | cut -c 1-64)
	fi
	SUMV=${SUM[$2]}
}
key_of() { find "$1" -maxdepth 0 -printf '%i:%C@:%s'; }

for f in "$CANARY/c1" "$CANARY/c.qcow2" "$CANARY/dir/f"; do
	s=$(sha256sum <"$f" | cut -c 1-64)
	# atime set back: relatime updates it on the next read
	touch -a -d '2001-02-03 04:05:06' "$f"
	SUM[$(key_of "$f")]=$s
done
touch -a -d '2001-02-03 04:05:06' "$CANARY" "$CANARY/dir"

# Domains of other tests running on this libvirtd come and go: the list
# compared is every domain except those (vkt-* and vkb* of other runs) and
# except the ones that existed before this test; this test's own (named
# $P-*) are compared with their state.
declare -A FOREIGN
while read -r name; do
	[ -z "$name" ] || FOREIGN[$name]=1
done < <(virsh -q -c "$E2E_URI" list --all --name)
domains() {
	local name state
	while read -r name state; do
		[ -n "$name" ] || continue
		case $name in
		"$P"-*) printf '%s %s\n' "$name" "$state" ;;
		vkt-* | vkb*) ;;
		*) [ -n "${FOREIGN[$name]:-}" ] || printf '%s\n' "$name" ;;
		esac
	done < <(virsh -q -c "$E2E_URI" list --all | sed 's/^ *[-0-9]* *//' | sort)
}

# snapshot: everything a case must leave as it was, as text: the store
# (and the case's own store, if any), then the rest.
snapshot() {
	snap_store
	snap_rest
}
snap_store() {
	local p s m y i c l
	echo "## store"
	if [ -d "$STORE" ] || [ -L "$STORE" ]; then
		while IFS=$'\t' read -r p s m y i c l; do
			if [ "$y" = f ]; then
				sum_of "$STORE/$p" "$i:$c:$s"
				printf '%s %s %s %s %s\n' "$p" "$s" "$m" "$y" "$SUMV"
			else
				printf '%s %s %s %s %s\n' "$p" "$s" "$m" "$y" "$l"
			fi
		done < <(find "$STORE" -path "$STORE/locks" -prune -o -printf '%P\t%s\t%m\t%y\t%i\t%C@\t%l\n' | sort)
	else
		echo "(no store)"
	fi
	if [ -n "$ALSO" ]; then
		echo "## also"
		find "$ALSO" -printf '%P %y %m %s\n' 2>/dev/null | sort
	fi
}
snap_rest() {
	local p y m s t a c i
	echo "## domains"
	domains
	echo "## canaries"
	while read -r p y m s t a c i; do
		printf '%s %s %s %s mtime=%s atime=%s ctime=%s' "$p" "$y" "$m" "$s" "$t" "$a" "$c"
		case $p in
		"$CANARY/c1" | "$CANARY/c.qcow2" | "$CANARY/dir/f" | /etc/passwd)
			sum_of "$p" "$i:$c:$s"
			printf ' %s' "$SUMV"
			;;
		esac
		printf '\n'
	done < <(find "${CANARY_FILES[@]}" /etc/passwd -maxdepth 0 -printf '%p %y %m %s %T@ %A@ %C@ %i\n')
	echo "## new files"
	find "$DISKDIR" "$NVDIR" "$LOGDIR" "$OUT" -mindepth 1 -printf '%p\n' 2>/dev/null | sort
	find /var/lib/libvirt/images -mindepth 1 -maxdepth 1 -printf '%p\n' 2>/dev/null | sort
}

# The read check stands on relatime: a read after the atime was set back
# must show.
probe=$WORK/atime-probe
printf 'x\n' >"$probe"
touch -a -d '2001-02-03 04:05:06' "$probe"
cat "$probe" >/dev/null
if [ "$(find "$probe" -maxdepth 0 -printf '%A@' | cut -d. -f1)" -gt 1000000000 ]; then
	ok "a read of a canary shows in its atime"
else
	not_ok "a read of a canary shows in its atime (the file system of $E2E_DIR is mounted noatime?)"
fi

# the sections of a snapshot but the store (cases that succeed change it)
not_store() { sed '/^## store$/,/^## domains$/{/^## domains$/!d}' "$1"; }

# ------------------------------------------------------- setup helpers ---

# used by the table (cases.txt)
# shellcheck disable=SC2034
LONG=$(printf 'a%.0s' $(seq 1 300))
# shellcheck disable=SC2034
LONGTAP=abcdefghijklmnop        # 16 characters: one more than IFNAMSIZ-1
# shellcheck disable=SC2034
LONGTAG=$(printf 't%.0s' $(seq 1 37))
SHADOW=/etc/shadow

# conf KEY=VALUE...: a configuration with these keys replaced or added.
setup_conf() {
	local f=$WORK/conf-$ID kv k
	cp "$CONF" "$f"
	for kv in "$@"; do
		k=${kv%%=*}
		sed -i "/^$k=/d" "$f"
		printf '%s\n' "$kv" >>"$f"
	done
	CONFV=$f
	TMO=10
}
# confraw: a configuration from the setup's own printf (below)
setup_conftext() {
	CONFV=$WORK/conf-$ID
	printf '%b' "$1" >"$CONFV"
	TMO=10
}
setup_conffile() {
	TMO=10
	case $1 in
	fifo)
		CONFV=$WORK/conf-fifo
		[ -p "$CONFV" ] || mkfifo "$CONFV"
		;;
	dir) CONFV=$WORK ;;
	zero) CONFV=/dev/zero ;;
	big)
		CONFV=$WORK/conf-big
		{ cat "$CONF"; head -c $((2 << 20)) /dev/zero | tr '\0' '#'; } >"$CONFV"
		;;
	missing) CONFV=$WORK/no-such.conf ;;
	binary)
		CONFV=$WORK/conf-binary
		{ printf '[vmkeep]\nstore='; printf '\377\376\001'; printf '\n'; } >"$CONFV"
		;;
	noequals)
		CONFV=$WORK/conf-noequals
		{ cat "$CONF"; printf 'rm -rf /\n'; } >"$CONFV"
		;;
	esac
}
# store variants for the configuration cases
setup_store() {
	local s
	case $1 in
	link)
		s=$WORK/store-link
		ln -sfn "$STORE" "$s"
		;;
	ww)
		s=$WORK/store-ww
		mkdir -p "$s"
		chmod 0777 "$s"
		;;
	file)
		s=$WORK/store-file
		: >"$s"
		;;
	locked)
		mkdir -m 0700 "$WORK/locked"
		s=$WORK/locked/store
		;;
	esac
	setup_conf "store=$s"
	ALSO=$s
	[ "$1" != locked ] || ALSO=$WORK/locked
}

# The good image's files, for the tampered copies.
GOOD=$STORE/images/good
sc_sub() { craft sub "$STORE/images/$T/image.xml" "$@"; }

# tamper KIND: images/t-KIND, a copy of 'good' with one thing changed
# (made once, reused by the rows of that kind; copies of other kinds are
# removed first). The state is hard-linked unless the kind changes it; the
# frozen disk stays good's (it is the base the VM's overlay was made on,
# so the copy is otherwise sound), unless the kind is about the disk.
setup_tamper() {
	local kind=$1 d own_disk=0 copy_state=0
	T=t-$kind
	N=$P-$ID
	# these reach a restore, which only the state's SHA-256 stops
	case $kind in flip | sha) TMO=120 ;; esac
	d=$STORE/images/$T
	if [ -e "$d" ] || [ -L "$d" ]; then return 0; fi
	local old
	for old in "$STORE"/images/t-*; do
		[ -e "$old" ] || [ -L "$old" ] || continue
		rm -rf -- "$old"
	done
	case $kind in
	flip | dlen* | magic | badmagic | version3 | format9 | trunc) copy_state=1 ;;
	swap | swap-zeros | disk-link | missing | original-*) own_disk=1 ;;
	esac
	if [ "$kind" = dir-link ]; then
		# the image directory is a link to a copy kept among the canaries
		ln -s "$CANARY/dir" "$d"
		return 0
	fi
	mkdir -m 0711 "$d"
	cp -p "$GOOD/image.xml" "$d/image.xml"
	if [ "$copy_state" = 1 ]; then
		cp --sparse=always -p "$GOOD/state.sav" "$d/state.sav"
	else
		ln "$GOOD/state.sav" "$d/state.sav"
	fi
	if [ "$own_disk" = 1 ]; then
		mkdir -m 0711 "$d/disks"
		ln "$GOOD/disks/vda.qcow2" "$d/disks/vda.qcow2"
		sc_sub 'frozen="[^"]*"' "frozen=\"$d/disks/vda.qcow2\""
	fi
	local dl
	dl=$("$PY" -c 'import struct,sys; print(struct.unpack_from("<I", open(sys.argv[1], "rb").read(92), 20)[0])' "$d/state.sav")
	case $kind in
	flip) craft flip "$d/state.sav" $(($(stat -c %s "$d/state.sav") / 2)) ;;
	sha) sc_sub '(<state [^>]*?sha256=")[0-9a-f]{8}' '\g<1>00000000' ;;
	size) sc_sub '(<state [^>]*?size=")\d+' '\g<1>4096' ;;
	dlen-past) craft header "$d/state.sav" data_len $((dl + 65536)) ;;
	dlen-small) craft header "$d/state.sav" data_len 100 ;;
	dlen-huge) craft header "$d/state.sav" data_len 0x7fffffff ;;
	dlen-eof) craft header "$d/state.sav" data_len $(($(stat -c %s "$d/state.sav") + 4096)) ;;
	magic) craft header "$d/state.sav" magic LibvirtQemudPart ;;
	badmagic) craft header "$d/state.sav" magic $'Libvirt\033[31mX' ;;
	version3) craft header "$d/state.sav" version 3 ;;
	format9) craft header "$d/state.sav" format 9 ;;
	trunc) truncate -s -1048576 "$d/state.sav" ;;
	identity) sc_sub '(<nic mac=")52:54:00' '\g<1>52:54:01' 1 ;;
	ident-both)
		# a MAC changed in the sidecar (table and XML) but not in state.sav
		sc_sub '52:54:00:([0-9a-f]{2}:[0-9a-f]{2}):01' '52:54:02:\1:01'
		;;
	name) sc_sub '<name>[^<]*</name>' '<name>evil</name>' 1 ;;
	uuid) sc_sub '<uuid>[^<]*</uuid>' '<uuid>00000000-0000-0000-0000-000000000001</uuid>' 1 ;;
	name-both)
		sc_sub '(<domain name=")[^"]*' '\g<1>'"$P"'-other' 1
		sc_sub '<name>[^<]*</name>' "<name>$P-other</name>" 1
		;;
	uuid-both)
		sc_sub '(<domain name="[^"]*" uuid=")[^"]*' '\g<1>00000000-0000-0000-0000-000000000001' 1
		sc_sub '<uuid>[^<]*</uuid>' '<uuid>00000000-0000-0000-0000-000000000001</uuid>' 1
		;;
	swap)
		# another file of the same size in place of the frozen disk: a
		# copy (same content, another mtime)
		rm "$d/disks/vda.qcow2"
		cp "$GOOD/disks/vda.qcow2" "$d/disks/vda.qcow2"
		touch -d '2020-01-01' "$d/disks/vda.qcow2"
		;;
	swap-zeros)
		rm "$d/disks/vda.qcow2"
		head -c "$(stat -c %s "$GOOD/disks/vda.qcow2")" /dev/zero >"$d/disks/vda.qcow2"
		;;
	frozen-passwd) sc_sub 'frozen="[^"]*"' 'frozen="/etc/passwd"' ;;
	frozen-canary) sc_sub 'frozen="[^"]*"' "frozen=\"$CANARY/c.qcow2\"" ;;
	frozen-dotdot) sc_sub 'frozen="[^"]*"' "frozen=\"$d/disks/../../../../canary/c.qcow2\"" ;;
	foreign-fifo) sc_sub 'original="[^"]*"' "original=\"$CANARY/fifo\"" ;;
	foreign-passwd) sc_sub 'original="[^"]*"' 'original="/etc/passwd"' ;;
	original-canary) sc_sub 'original="[^"]*"' "original=\"$CANARY/c.qcow2\"" ;;
	original-new) sc_sub 'original="[^"]*"' "original=\"$CANARY/new.qcow2\"" ;;
	original-etc) sc_sub 'original="[^"]*"' 'original="/etc/vmkeep-hostile.qcow2"' ;;
	state-link)
		rm "$d/state.sav"
		ln -s "$CANARY/c1" "$d/state.sav"
		;;
	sidecar-link)
		rm "$d/image.xml"
		ln -s "$CANARY/c1" "$d/image.xml"
		;;
	nvram-link) ln -s "$CANARY/c1" "$d/nvram.fd" ;;
	disk-link)
		rm "$d/disks/vda.qcow2"
		ln -s "$CANARY/c.qcow2" "$d/disks/vda.qcow2"
		;;
	missing) rm "$d/disks/vda.qcow2" ;;
	state-fifo)
		rm "$d/state.sav"
		mkfifo "$d/state.sav"
		;;
	state-dir)
		rm "$d/state.sav"
		mkdir "$d/state.sav"
		;;
	state-dotdot) sc_sub '(<state file=")state.sav' '\g<1>../good/state.sav' ;;
	nvram-place)
		# UEFI variables to be put at a new file among the canaries
		head -c 4096 /dev/zero >"$d/nvram.fd"
		sc_sub '(<tpm )' "<nvram path=\"$CANARY/new_VARS.fd\"/>\\n  \\1"
		;;
	garbage) printf 'not \033[31m XML at all\n' >"$d/image.xml" ;;
	empty) : >"$d/image.xml" ;;
	version2) sc_sub 'version="1"' 'version="2"' 1 ;;
	unknown-el) sc_sub '(<tpm )' '<shell>rm -rf /</shell>\n  \1' ;;
	managed) sc_sub '<mode>image</mode>' '<mode>managed</mode>' ;;
	*) echo "unknown tamper kind $kind" >&2; return 1 ;;
	esac
}

# The small export: good's export with the state cut to header + 64 KiB.
SMALL=$WORK/small
SMALLTAR=$WORK/small.tar
MEMBERS=(image.xml state.sav disks/vda.qcow2 manifest.json)
phase_exported() {
	mkdir -p "$WORK/ex"
	tar -xf "$WORK/good.tar" -C "$WORK/ex"
	cp -a "$WORK/ex" "$SMALL"
	craft state-cut "$SMALL/state.sav" 65536
	craft sidecar-state "$SMALL"
	craft manifest "$SMALL"
	craft tar "$SMALLTAR" "$SMALL" "${MEMBERS[@]}"
}

# export KIND: a crafted export $TAR (tar members in the test's words).
setup_export() {
	local kind=$1 b=$SMALL w=$WORK/x-$1
	TAR=$WORK/x-$kind.tar
	rm -rf "$w"
	cp -a "$b" "$w"
	local m=("${MEMBERS[@]}")
	case $kind in
	dotdot) m=(image.xml "../x=$b/state.sav" state.sav disks/vda.qcow2 manifest.json) ;;
	dotdot-disk) m=("disks/../../x=$b/image.xml" "${m[@]}") ;;
	dot-dotdot) m=("./../x=$b/image.xml" "${m[@]}") ;;
	absolute) m=("/etc/x=$b/image.xml" "${m[@]}") ;;
	absolute-canary) m=("$CANARY/c1=$b/image.xml" "${m[@]}") ;;
	symlink) m=("symlink:image.xml=$SHADOW" state.sav disks/vda.qcow2 manifest.json) ;;
	symlink-disk) m=(image.xml state.sav "symlink:disks/vda.qcow2=$CANARY/c.qcow2" manifest.json) ;;
	hardlink) m=(image.xml "hardlink:state.sav=$SHADOW" disks/vda.qcow2 manifest.json) ;;
	chr) m=(image.xml chr:state.sav disks/vda.qcow2 manifest.json) ;;
	blk) m=(image.xml state.sav blk:disks/vda.qcow2 manifest.json) ;;
	fifo) m=(fifo:image.xml state.sav disks/vda.qcow2 manifest.json) ;;
	dir) m=(dir:etc/ "${m[@]}") ;;
	dup-sidecar) m=(image.xml "${m[@]}") ;;
	dup-state) m=(image.xml state.sav state.sav disks/vda.qcow2 manifest.json) ;;
	no-state) m=(image.xml disks/vda.qcow2 manifest.json) ;;
	no-manifest) m=(image.xml state.sav disks/vda.qcow2) ;;
	no-sidecar) m=(state.sav disks/vda.qcow2 manifest.json) ;;
	no-disk)
		# the disk's member is gone, and the manifest agrees
		rm "$w/disks/vda.qcow2"
		craft manifest "$w" image.xml state.sav
		m=(image.xml state.sav manifest.json)
		;;
	listed-missing) m=(image.xml state.sav manifest.json) ;;
	extra) m=("${m[@]}" raw:extra.txt=hello) ;;
	extra-listed)
		printf 'hello\n' >"$w/extra.txt"
		craft manifest "$w" image.xml state.sav disks/vda.qcow2 extra.txt
		m=(image.xml state.sav disks/vda.qcow2 extra.txt manifest.json)
		;;
	extra-disk)
		cp "$w/disks/vda.qcow2" "$w/disks/vdb.qcow2"
		craft manifest "$w" image.xml state.sav disks/vda.qcow2 disks/vdb.qcow2
		m=(image.xml state.sav disks/vda.qcow2 disks/vdb.qcow2 manifest.json)
		;;
	esc-name) m=("${m[@]}" $'raw:a\033[31mb=x') ;;
	nl-name) m=("${m[@]}" $'raw:a\nb=x') ;;
	long-name) m=("${m[@]}" "raw:$LONG=x") ;;
	deep) craft deep "$w/manifest.json" 100000 ;;
	members-object) printf '{"format": "vmkeep-image-export", "version": 1, "members": {}}\n' >"$w/manifest.json" ;;
	version2) craft sub "$w/manifest.json" '"version": 1' '"version": 2' ;;
	format) craft sub "$w/manifest.json" '"vmkeep-image-export"' '"docker-image"' ;;
	not-json) printf '{"format": "vmkeep-image-export", \033[31m\n' >"$w/manifest.json" ;;
	big-manifest) head -c $((2 << 20)) /dev/zero | tr '\0' ' ' >"$w/manifest.json" ;;
	dup-listed)
		"$PY" - "$w/manifest.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["members"].append(dict(d["members"][0]))
json.dump(d, open(sys.argv[1], "w"))
EOF
		;;
	sha) craft flip "$w/state.sav" 1000 ;;
	size)
		"$PY" - "$w/manifest.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["members"][1]["size"] += 1
json.dump(d, open(sys.argv[1], "w"))
EOF
		;;
	truncated)
		craft tar "$TAR" "$w" "${m[@]}"
		truncate -s 100000 "$TAR"
		return 0
		;;
	truncated-header)
		craft tar "$TAR" "$w" "${m[@]}"
		truncate -s 700 "$TAR"
		return 0
		;;
	zeros)
		head -c 100000 /dev/zero >"$TAR"
		return 0
		;;
	random)
		head -c 100000 /dev/urandom >"$TAR"
		return 0
		;;
	gzip)
		craft tar "$WORK/x-gz.tar" "$w" "${m[@]}"
		gzip -c "$WORK/x-gz.tar" >"$TAR"
		return 0
		;;
	backing)
		# a qcow2 disk that is an overlay on a host file
		qemu-img create -q -f qcow2 -F raw -b /etc/passwd "$w/disks/vda.qcow2" 1M
		craft manifest "$w"
		;;
	data-file)
		# a qcow2 disk whose data lives in a host file (external data
		# file): made with a scratch data file (qemu-img writes it) whose
		# path has the canary's length, then renamed to the canary in the
		# header extension
		rm "$w/disks/vda.qcow2"
		mkdir -p "$E2E_DIR/cANARY"
		qemu-img create -q -f qcow2 -o "data_file=$E2E_DIR/cANARY/c1,data_file_raw=on" \
			"$w/disks/vda.qcow2" 32M
		"$PY" - "$w/disks/vda.qcow2" "$E2E_DIR/cANARY/c1" "$CANARY/c1" <<'EOF2'
import sys
p, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
assert len(old) == len(new)
d = open(p, "rb").read()
assert d.count(old) == 1
open(p, "wb").write(d.replace(old, new))
EOF2
		craft sub "$w/image.xml" '(<frozen-disks>.*?size=")\d+' "\\g<1>$(stat -c %s "$w/disks/vda.qcow2")"
		craft manifest "$w"
		;;
	not-qcow2)
		printf 'not a disk\n' >"$w/disks/vda.qcow2"
		craft manifest "$w"
		;;
	sidecar-garbage)
		printf '<vmkeep-sidecar>\033[31m' >"$w/image.xml"
		craft manifest "$w"
		;;
	sidecar-managed)
		craft sub "$w/image.xml" '<mode>image</mode>' '<mode>managed</mode>'
		craft manifest "$w"
		;;
	state-sha)
		# the state differs from what the sidecar says (manifest agrees)
		craft flip "$w/state.sav" -10
		craft manifest "$w"
		;;
	bad-name)
		craft sub "$w/manifest.json" '"image": "[^"]*"' '"image": "../../x"'
		;;
	esac
	craft tar "$TAR" "$w" "${m[@]}"
}

# trust KIND [where]: an export whose domain XML (in image.xml and inside
# state.sav, or only in WHERE: sidecar|state) names host paths or host
# resources; the sidecar records the state's new size and SHA-256 and the
# manifest the members' sums, so the trust check is what refuses it.
setup_trust() {
	local kind=$1 where=${2:-both} b=$SMALL w=$WORK/t-$1-${2:-both}
	TAR=$WORK/t-$kind-$where.tar
	rm -rf "$w"
	cp -a "$b" "$w"
	local pat repl ident=''
	local dev='(</devices>)'
	case $kind in
	hostdev) pat=$dev repl="<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x00' slot='0x1f' function='0x3'/></source></hostdev>\\1" ;;
	hostdev-usb) pat=$dev repl="<hostdev mode='subsystem' type='usb'><source><vendor id='0x1d6b'/><product id='0x0002'/></source></hostdev>\\1" ;;
	virtiofs) pat=$dev repl="<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/><source dir='/etc'/><target dir='etc'/></filesystem>\\1" ;;
	fs-9p) pat=$dev repl="<filesystem type='mount'><source dir='$CANARY'/><target dir='c'/></filesystem>\\1" ;;
	disk-canary)
		pat=$dev repl="<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$CANARY/c1'/><target dev='vdz' bus='virtio'/></disk>\\1"
		ident='<disk target="vdz" bus="virtio" device="disk" readonly="no"/>'
		;;
	disk-shadow)
		pat=$dev repl="<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$SHADOW'/><target dev='vdz' bus='virtio'/><readonly/></disk>\\1"
		ident='<disk target="vdz" bus="virtio" device="disk" readonly="yes"/>'
		;;
	disk-block)
		pat=$dev repl="<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/vda'/><target dev='vdz' bus='virtio'/></disk>\\1"
		ident='<disk target="vdz" bus="virtio" device="disk" readonly="no"/>'
		;;
	disk-network)
		pat=$dev repl="<disk type='network' device='disk'><driver name='qemu' type='raw'/><source protocol='nbd' name='x'><host name='127.0.0.1' port='10809'/></source><target dev='vdz' bus='virtio'/></disk>\\1"
		ident='<disk target="vdz" bus="virtio" device="disk" readonly="no"/>'
		;;
	kernel) pat='<kernel>[^<]*</kernel>' repl="<kernel>$SHADOW</kernel>" ;;
	kernel-canary) pat='<kernel>[^<]*</kernel>' repl="<kernel>$CANARY/c1</kernel>" ;;
	kernel-dotdot) pat='<kernel>[^<]*</kernel>' repl="<kernel>$KDIR/../canary/c1</kernel>" ;;
	initrd) pat='<initrd>[^<]*</initrd>' repl="<initrd>$SHADOW</initrd>" ;;
	dtb) pat='(</os>)' repl="<dtb>$CANARY/c1</dtb>\\1" ;;
	acpi) pat='(</os>)' repl="<acpi><table type='slic'>$CANARY/c1</table></acpi>\\1" ;;
	loader) pat='(</os>)' repl="<loader readonly='yes' type='pflash'>$CANARY/c1</loader>\\1" ;;
	nvram-source) pat='(</os>)' repl="<nvram><source file='$CANARY/c1'/></nvram>\\1" ;;
	os-init) pat='(</os>)' repl="<init>/bin/sh</init>\\1" ;;
	qemu-cmdline) pat="(<domain (?:xmlns=\"\" )?type=[\"']qemu[\"'])" repl="\\1 xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:commandline><qemu:arg value='-readconfig'/><qemu:arg value='$CANARY/c1'/></qemu:commandline" ;;
	qemu-override) pat="(<domain (?:xmlns=\"\" )?type=[\"']qemu[\"'])" repl="\\1 xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:override><qemu:device alias='x'/></qemu:override" ;;
	iface-script) pat="(<interface type=[\"']bridge[\"']>)" repl="\\1<script path='$CANARY/c1'/>" ;;
	iface-direct)
		pat=$dev repl="<interface type='direct'><mac address='52:54:00:ee:ee:01'/><source dev='lo' mode='bridge'/><model type='virtio'/></interface>\\1"
		ident='<nic mac="52:54:00:ee:ee:01" model="virtio"/>'
		;;
	iface-vhostuser)
		pat=$dev repl="<interface type='vhostuser'><mac address='52:54:00:ee:ee:02'/><source type='unix' path='$CANARY/sock' mode='client'/><model type='virtio'/></interface>\\1"
		ident='<nic mac="52:54:00:ee:ee:02" model="virtio"/>'
		;;
	seclabel) pat='(</devices>)' repl="\\1<seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>" ;;
	rng) pat=$dev repl="<rng model='virtio'><backend model='random'>$CANARY/c1</backend></rng>\\1" ;;
	rng-egd) pat=$dev repl="<rng model='virtio'><backend model='egd' type='unix'><source mode='connect' path='$CANARY/sock'/></backend></rng>\\1" ;;
	fwcfg) pat='(</os>)' repl="\\1<sysinfo type='fwcfg'><entry name='opt/com.example/x' file='$CANARY/c1'/></sysinfo>" ;;
	audio-file) pat=$dev repl="<audio id='2' type='file' path='$CANARY/c1'/>\\1" ;;
	serial-dev) pat=$dev repl="<serial type='dev'><source path='/dev/ttyS0'/><target port='1'/></serial>\\1" ;;
	serial-pipe) pat=$dev repl="<serial type='pipe'><source path='$CANARY/fifo'/><target port='1'/></serial>\\1" ;;
	serial-tcp) pat=$dev repl="<serial type='tcp'><source mode='connect' host='127.0.0.1' service='22'/><target port='1'/></serial>\\1" ;;
	serial-unix) pat=$dev repl="<serial type='unix'><source mode='bind' path='$CANARY/sock'/><target port='1'/></serial>\\1" ;;
	parallel-dev) pat=$dev repl="<parallel type='dev'><source path='/dev/parport0'/><target port='0'/></parallel>\\1" ;;
	tpm) pat=$dev repl="<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>\\1" ;;
	shmem) pat=$dev repl="<shmem name='x'><model type='ivshmem-doorbell'/><server path='$CANARY/sock'/></shmem>\\1" ;;
	smartcard) pat=$dev repl="<smartcard mode='passthrough' type='tcp'><source mode='bind' host='127.0.0.1' service='2001'/></smartcard>\\1" ;;
	redirdev) pat=$dev repl="<redirdev bus='usb' type='tcp'><source mode='connect' host='127.0.0.1' service='4000'/></redirdev>\\1" ;;
	input-evdev) pat=$dev repl="<input type='evdev'><source dev='/dev/input/event0'/></input>\\1" ;;
	nvdimm) pat=$dev repl="<memory model='nvdimm'><source><path>$CANARY/c1</path></source><target><size unit='KiB'>524288</size><node>0</node></target></memory>\\1" ;;
	lease) pat=$dev repl="<lease><lockspace>x</lockspace><key>y</key><target path='$CANARY/c1'/></lease>\\1" ;;
	unknown-dev) pat=$dev repl="<gadget path='$CANARY/c1'/>\\1" ;;
	unknown-top) pat='(</devices>)' repl="\\1<idmap><uid start='0' target='0' count='1'/></idmap>" ;;
	domain-xen) pat="type=([\"'])qemu([\"'])" repl='type=\1xen\2' ;;
	emulator) pat='<emulator>[^<]*</emulator>' repl='<emulator>/bin/sh</emulator>' ;;
	serial-log) pat="<source path=[\"'][^\"']*[\"']" repl="<source path='$CANARY/c1'" ;;
	original)
		craft sub "$w/image.xml" 'original="[^"]*"' "original=\"$SHADOW\""
		pat='' ;;
	nvram-path)
		craft sub "$w/image.xml" '(<tpm )' "<nvram path=\"$CANARY/new_VARS.fd\"/>\\n  \\1"
		pat='' ;;
	frozen-path)
		craft sub "$w/image.xml" 'frozen="[^"]*"' "frozen=\"$CANARY/c.qcow2\""
		pat='' ;;
	*) echo "unknown trust kind $kind" >&2; return 1 ;;
	esac
	local steps=()
	if [ -n "$pat" ]; then
		[ "$where" = state ] || steps+=(sub "$w/image.xml" "$pat" "$repl" 1 --)
		[ "$where" = sidecar ] || steps+=(state-xml "$w/state.sav" "$pat" "$repl" --)
	fi
	if [ -n "$ident" ] && [ "$where" != state ]; then
		steps+=(sub "$w/image.xml" '(</identity>)' "$ident\\1" 1 --)
	fi
	craft "${steps[@]}" sidecar-state "$w" -- manifest "$w" -- tar "$TAR" "$w" "${MEMBERS[@]}"
	if [ "$kind" = emulator ] || [ "$kind" = serial-log ] || [ "$kind" = original ] ||
		[ "$kind" = nvram-path ] || [ "$kind" = seclabel ] || [ "$kind" = iface-script ] ||
		[ "$kind" = frozen-path ]; then
		POST=post_rewritten
	fi
	if [ "$kind" = nvram-path ]; then
		# the firmware the import insists on for an image with NVRAM
		FWDIR=$WORK/firmware
		mkdir -p "$FWDIR"
		printf '{ "interface-types": ["uefi"], "targets": [ { "architecture": "x86_64" } ] }\n' \
			>"$FWDIR/50-fake.json"
	fi
}

# xml KIND [canary]: a domain XML for pin and define (its external
# entities and DTD name /etc/shadow, or the canary c1)
setup_xml() {
	local secret=$SHADOW
	[ "${2:-}" != canary ] || secret=$CANARY/c1
	XML=$WORK/$1.xml
	HOSTILE_DOMAIN=$P-x HOSTILE_SECRET=$secret craft xml "$XML" "$1"
}
# ... on standard input
setup_xmlin() {
	setup_xml "$@"
	STDIN=$XML
}
setup_exportin() {
	setup_export "$@"
	STDIN=$TAR
}

# After a case that imported image $N-img: what an image from elsewhere
# names was rewritten to this host's places (and nothing else kept), then
# the image is removed.
post_rewritten() {
	local img=$STORE/images/$N-img sc state
	sc=$img/image.xml
	state=$WORK/post-state.xml
	"$PY" - "$img/state.sav" >"$state" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read(1 << 20)
n = struct.unpack_from("<I", d, 20)[0]
print(d[92:92 + n].split(b"\0")[0].decode())
EOF
	local both
	both=$(cat "$sc" "$state")
	like "$both" "<emulator>$HOST_EMU</emulator>" "hostile $ID: the stored XML names this host's emulator"
	is "$(printf '%s\n' "$both" | grep -Ec "$CANARY|$SHADOW|/bin/sh|<seclabel|<script")" 0 \
		"hostile $ID: no canary, /etc/shadow, /bin/sh, seclabel or script left in image.xml or state.sav"
	is "$(grep -Eo '(original|frozen)="[^"]*"' "$sc" | sed 's/=.*//' | tr '\n' ' ')" "original frozen " \
		"hostile $ID: the frozen disk is recorded"
	like "$(grep -Eo 'original="[^"]*"' "$sc")" "original=\"$DISKDIR/$N-img-vda.qcow2\"" \
		"hostile $ID: its original disk is in disk-dir"
	like "$(grep -Eo 'frozen="[^"]*"' "$sc")" "frozen=\"$img/disks/vda.qcow2\"" \
		"hostile $ID: its frozen disk is the image's own"
	like "$(grep -Eo "<source (path|file)=.[^'\"]*" "$state" | tr '\n' ' ')" \
		"^(<source (file=.$DISKDIR/|path=.$LOGDIR/)[^ ]* )+\$" \
		"hostile $ID: the XML in state.sav names disks in disk-dir and logs in log-dir only"
	if grep -q '<nvram' "$sc"; then
		like "$(grep -o '<nvram path="[^"]*"' "$sc")" "<nvram path=\"$NVDIR/" \
			"hostile $ID: the UEFI variables go to nvram-dir"
	fi
	check_as "hostile $ID: image verify $N-img" env VMKEEP_CONFIG="$CONF" "$VMKEEP" -c "$E2E_URI" image verify "$N-img"
	check_as "hostile $ID: image rm $N-img" env VMKEEP_CONFIG="$CONF" "$VMKEEP" -c "$E2E_URI" image rm "$N-img"
}

# ---------------------------------------------------------------- cases ---

declare -A FAMILY_N=([n]=0 [c]=0 [s]=0 [i]=0 [x]=0)
declare -A FAMILY_NAME=([n]="hostile names and arguments" [c]="hostile configurations"
	[s]="tampered images in the store" [i]="crafted exports for image import"
	[x]="hostile domain XML for pin and define")
NCASES=0

describe() {
	local d
	d=$(printf '%q ' "$@")
	d=${d% }
	[ "${#d}" -le 110 ] || d="${d:0:100}...(${#d} chars)"
	printf '%s' "$d"
}

run_case() {
	local id=$1 setup=$2 want=$3 rest=$4 fn args
	ID=$id
	NCASES=$((NCASES + 1))
	FAMILY_N[${id:0:1}]=$((FAMILY_N[${id:0:1}] + 1))
	T='' TAR='' XML='' CONFV=$CONF TMO=20 POST='' STDIN=/dev/null ALSO='' FWDIR=''
	N=$P-$id
	local t_setup=$EPOCHREALTIME t_snap t_cmd t_after
	if [ "$setup" != - ]; then
		fn=${setup%%:*}
		args=()
		[[ $setup != *:* ]] || IFS=, read -ra args <<<"${setup#*:}"
		if ! "setup_$fn" "${args[@]}" >"$WORK/setup.log" 2>&1; then
			not_ok "hostile $id: setup $setup"
			diag "$(tail -n 20 "$WORK/setup.log")"
			return 0
		fi
	fi
	local -a f cmd
	eval "f=($rest)"
	local re=${f[0]}
	cmd=("${f[@]:1}")
	local desc
	desc="hostile $id $(describe "${cmd[@]}")"
	t_snap=$EPOCHREALTIME
	# Setups change only the store (and the case's own files): what else
	# a case must leave as it was is what the previous case left.
	[ -s "$WORK/rest" ] || snap_rest >"$WORK/rest"
	{ snap_store; cat "$WORK/rest"; } >"$WORK/before"
	t_cmd=$EPOCHREALTIME
	local rc=0 t1=$SECONDS
	env VMKEEP_CONFIG="$CONFV" ${FWDIR:+"VMKEEP_FIRMWARE_DIR=$FWDIR"} \
		timeout -k 5 "$TMO" "$VMKEEP" -c "$E2E_URI" "${cmd[@]}" \
		<"$STDIN" >"$WORK/out" 2>"$WORK/err" || rc=$?
	local took=$((SECONDS - t1))
	t_after=$EPOCHREALTIME
	snap_store >"$WORK/after"
	snap_rest >"$WORK/rest"
	cat "$WORK/rest" >>"$WORK/after"
	local t_end=$EPOCHREALTIME
	printf '%s %d ms: setup %d, snapshot %d, vmkeep %d, snapshot %d\n' "$id" \
		$(((${t_end/./} - ${t_setup/./}) / 1000)) $(((${t_snap/./} - ${t_setup/./}) / 1000)) \
		$(((${t_cmd/./} - ${t_snap/./}) / 1000)) $(((${t_after/./} - ${t_cmd/./}) / 1000)) \
		$(((${t_end/./} - ${t_after/./}) / 1000)) >>"$WORK/timing"

	is "$rc" "$want" "$desc: exit $want"
	local text
	text=$(cat "$WORK/err" "$WORK/out" | head -c 20000 | tr -d '\000')
	if printf '%s\n' "$text" | grep -Eq -- "$re"; then
		ok "$desc: the message says what and where"
	else
		not_ok "$desc: the message says what and where"
		diag "pattern: $re" "stderr:" "$(head -c 2000 "$WORK/err" | cat -v)"
		[ -s "$WORK/out" ] && diag "stdout:" "$(head -c 1000 "$WORK/out" | cat -v)"
	fi

	local problems=()
	[ "$rc" -lt 124 ] || problems+=("exit status $rc: crashed, or hung and was killed after ${TMO}s")
	! grep -q $'\033' "$WORK/err" || problems+=("a raw ESC byte on stderr")
	! grep -q $'\033' "$WORK/out" || problems+=("a raw ESC byte on stdout")
	! grep -Eq 'CRITICAL|WARNING \*\*|assertion' "$WORK/err" || problems+=("a GLib critical or warning")
	if [ -n "$SHADOW_LINE" ] && grep -qF -- "$SHADOW_LINE" "$WORK/out" "$WORK/err"; then
		problems+=("the output holds /etc/shadow's content")
	fi
	if [ -n "$POST" ]; then
		cmp -s <(not_store "$WORK/before") <(not_store "$WORK/after") ||
			problems+=("something outside the store changed")
	else
		cmp -s "$WORK/before" "$WORK/after" || problems+=("something changed")
	fi
	if [ ${#problems[@]} = 0 ]; then
		ok "$desc: no crash or hang, no raw control bytes, nothing changed"
	else
		not_ok "$desc: no crash or hang, no raw control bytes, nothing changed"
		diag "${problems[@]}" "after ${took}s; changes (- before, + after):"
		diag "$(diff "$WORK/before" "$WORK/after" | grep '^[<>]' | head -n 30)"
		[ "$rc" = "$want" ] || diag "stderr: $(head -c 1000 "$WORK/err" | cat -v)"
	fi
	if [ -n "$POST" ] && [ "$rc" = 0 ]; then
		"$POST"
		: >"$WORK/rest"
	fi
	# a clone that should never have happened must not spoil later cases
	if grep -q "^$N " "$WORK/after"; then
		_e2e_destroy_domain "$N"
		: >"$WORK/rest"
	fi
	return 0
}

# --------------------------------------------------------------- phases ---

phase_running() {
	qemu-img create -q -f qcow2 "$DISKDIR/vm.qcow2" 32M
	local mac
	mac=$(printf '52:54:00:%02x:%02x:01' $((($$ >> 8) & 255)) $(($$ & 255)))
	check_or_bail "$VMKEEP" -c "$E2E_URI" create "$VM" --machine q35 --virt-type qemu --memory 128 \
		--nic "bridge=$br,mac=$mac" --disk "$DISKDIR/vm.qcow2" --no-balloon \
		--boot "kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$VK_CMDLINE vk.fill=1" \
		--serial-log "$LOGDIR/vm.log" --start
	check_or_bail e2e_wait_ticks_from "$LOGDIR/vm.log" 0 1 240
	diag "guest up after $((SECONDS - T0)) s"
}

phase_hibernated() {
	[ "$(e2e_domstate "$VM")" = running ] || bail_out "$VM is not running before the hibernate"
	check_or_bail "$VMKEEP" -c "$E2E_URI" hibernate "$VM" --image good
	check_or_bail "$VMKEEP" -c "$E2E_URI" image export good -o "$WORK/good.tar"
	# vmkeep's own scratch directory, as the first clone would make it
	mkdir -m 0700 "$STORE/tmp"
	phase_exported
	# a directory among the canaries that looks like an image
	cp -p "$GOOD/image.xml" "$CANARY/dir/image.xml"
	cp -p "$SMALL/state.sav" "$CANARY/dir/state.sav"
	chmod 0644 "$CANARY/dir/image.xml" "$CANARY/dir/state.sav"
	CANARY_FILES+=("$CANARY/dir/image.xml" "$CANARY/dir/state.sav")
	touch -a -d '2001-02-03 04:05:06' "$CANARY/dir" "$CANARY/dir/image.xml" "$CANARY/dir/state.sav"
	diag "hibernated and exported after $((SECONDS - T0)) s"
}

section=
while IFS= read -r -u 3 line; do
	case $line in
	'' | '#'*) continue ;;
	@*)
		section=${line#@}
		"phase_$section"
		: >"$WORK/rest"
		continue
		;;
	esac
	read -r id setup want rest <<<"$line"
	if [ -n "${HOSTILE_ONLY:-}" ] && ! [[ $id =~ $HOSTILE_ONLY ]]; then
		continue
	fi
	run_case "$id" "$setup" "$want" "$rest"
done 3<"$CASES"

for k in n c s i x; do
	diag "family $k (${FAMILY_NAME[$k]}): ${FAMILY_N[$k]} cases"
done
diag "$NCASES hostile cases in $((SECONDS - T0)) s; the slowest:"
diag "$(sort -k2 -rn "$WORK/timing" | head -n 10)"
[ -n "${HOSTILE_ONLY:-}" ] || [ "$NCASES" -ge 300 ] || not_ok "at least 300 cases (the table has $NCASES)"
done_testing
