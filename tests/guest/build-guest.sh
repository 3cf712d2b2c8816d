#!/bin/bash
# Build the tiny e2e test guest: Debian's cloud kernel, the virtio modules it
# needs, busybox-static and tests/guest/init packed into an initramfs;
# beside it the same initramfs with QEMU's guest agent (and the host's
# copies of the libraries it links) appended, for the tests that need one.
#
# Usage: tests/guest/build-guest.sh [--force]
#
# Output directory: $VMKEEP_GUEST_CACHE, else <repo>/tests/.cache/guest (or
# /var/tmp/vmkeep-guest-cache when the source tree is read-only).  It
# holds vmlinuz, initrd.img, initrd-agent.img, kernel-release and a stamp of the inputs (kernel
# package and version, busybox-static and guest agent versions, hash of the files in
# tests/guest/).  Nothing is rebuilt while the stamp matches.  The directory
# path is printed on stdout as the last line; progress goes to stderr.
#
# Needs: apt-get (the kernel and qemu-guest-agent packages are downloaded,
# never installed), ldd,
# dpkg-deb, cpio, gzip, xz (only for compressed modules) and busybox-static
# installed on the host (tools/host-setup.sh deps).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${VMKEEP_GUEST_CACHE:-$repo/tests/.cache/guest}
force=0
[ "${1:-}" = --force ] && force=1

# The cache must be readable by QEMU (libvirt-qemu user) through every parent.
umask 022

log() { printf 'build-guest: %s\n' "$*" >&2; }
die() { printf 'build-guest: error: %s\n' "$*" >&2; exit 1; }

# Modules the init script loads, in the order given here after their own
# dependencies (resolved below from each module's depends= field).
wanted_modules="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
virtio_pci failover net_failover virtio_net virtio_blk virtio_console
virtio_balloon virtio-rng fuse virtiofs evdev button"

meta_pkg=linux-image-cloud-amd64
agent_pkg=qemu-guest-agent

# A read-only source tree (make distcheck) cannot hold the default cache.
if [ -z "${VMKEEP_GUEST_CACHE:-}" ] && ! { mkdir -p "$cache" 2>/dev/null && [ -w "$cache" ]; }; then
	cache=/var/tmp/vmkeep-guest-cache
	log "$repo is not writable; using $cache"
fi
mkdir -p "$cache" || die "cannot create $cache"
cache=$(cd "$cache" && pwd)

# Parallel tests may all call the builder: one builds, the others wait.
exec 9>"$cache/.lock"
flock -w 900 9 || die "timed out waiting for the lock on $cache/.lock"

if [ ! -x /bin/busybox ] || ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; then
	die "busybox-static is not installed; run tools/host-setup.sh deps"
fi
busybox_ver=$(dpkg-query -W -f='${Version}' busybox-static)

# kernel_pkg: prints "<package> <version>" of the versioned kernel image the
# cloud meta package currently depends on, or nothing if apt does not know.
kernel_pkg() {
	local pkg ver
	pkg=$(apt-cache depends "$meta_pkg" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }')
	[ -n "$pkg" ] || return 0
	ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || return 0
	echo "$pkg $ver"
}

inputs_hash=$(cd "$here" && LC_ALL=C ls | while read -r f; do
	if [ -f "$f" ]; then sha256sum "$f"; fi
done | sha256sum | cut -d' ' -f1)

have_cache() {
	[ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.img" ] && [ -s "$cache/initrd-agent.img" ] &&
		[ -s "$cache/stamp" ]
}

# reuse_or_die MSG: an older guest is better than none when apt cannot help.
reuse_or_die() {
	if have_cache; then
		log "warning: $1; reusing the existing guest in $cache"
		echo "$cache"
		exit 0
	fi
	die "$1"
}

# resolve: sets kernel_pkg_name, kernel_pkg_ver and stamp; exits 0 early
# (printing the cache dir) if the cache already matches.
resolve() {
	local kp
	kp=$(kernel_pkg)
	[ -n "$kp" ] || return 1
	read -r kernel_pkg_name kernel_pkg_ver <<<"$kp"
	agent_ver=$(apt-cache policy "$agent_pkg" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }')
	[ -n "$agent_ver" ] && [ "$agent_ver" != "(none)" ] || return 1
	stamp="kernel=$kernel_pkg_name $kernel_pkg_ver
busybox-static=$busybox_ver
$agent_pkg=$agent_ver
scripts=$inputs_hash"
	if [ "$force" = 0 ] && have_cache && [ "$(cat "$cache/stamp")" = "$stamp" ]; then
		log "up to date: $kernel_pkg_name $kernel_pkg_ver"
		echo "$cache"
		exit 0
	fi
}

apt_update() {
	log "refreshing the package lists (apt-get update)"
	apt-get update -qq >&2 || log "apt-get update failed"
}

# download: fetch the kernel package into $work.  The _apt sandbox user
# cannot write into a root-owned temp dir and the download runs as root in
# any case, so say so instead of warning.
download() {
	log "downloading $kernel_pkg_name=$kernel_pkg_ver $agent_pkg=$agent_ver"
	rm -f "$work"/*.deb
	(cd "$work" && apt-get download -q -o APT::Sandbox::User=root \
		"$kernel_pkg_name=$kernel_pkg_ver" "$agent_pkg=$agent_ver" >&2)
}

# A fresh machine has no package lists yet: update once and try again.
if ! resolve; then
	apt_update
	resolve || reuse_or_die "apt cannot resolve $meta_pkg (is the Debian archive reachable?)"
fi

work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

# Outdated lists name a version the archive no longer has: update, resolve
# again (the new version may even be the one already built) and retry.
if ! download; then
	apt_update
	resolve || reuse_or_die "apt cannot resolve $meta_pkg after apt-get update"
	download || reuse_or_die "cannot download $kernel_pkg_name=$kernel_pkg_ver"
fi

deb=$(ls "$work"/linux-image-*.deb)
dpkg-deb -x "$deb" "$work/x"
rm -f "$deb"
deb=$(ls "$work"/"$agent_pkg"_*.deb)
dpkg-deb -x "$deb" "$work/agent"
rm -f "$deb"

vmlinuz=$(ls "$work"/x/boot/vmlinuz-* 2>/dev/null | head -n 1)
[ -n "$vmlinuz" ] || die "no vmlinuz in $kernel_pkg_name"
krel=${vmlinuz##*/vmlinuz-}
moddir=$work/x/lib/modules/$krel
[ -d "$moddir" ] || moddir=$work/x/usr/lib/modules/$krel
[ -d "$moddir" ] || die "no modules for $krel in $kernel_pkg_name"

# Index: module name (with '-' as '_') -> file.
declare -A modfile=()
while IFS= read -r -d '' f; do
	b=${f##*/}
	b=${b%%.ko*}
	modfile[${b//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko*' -print0)

declare -A builtin=()
if [ -r "$moddir/modules.builtin" ]; then
	while read -r p; do
		b=${p##*/}
		b=${b%%.ko*}
		builtin[${b//-/_}]=1
	done <"$moddir/modules.builtin"
fi

mod_depends() {
	local f=$1
	case "$f" in
	*.ko.xz) xz -dc "$f" ;;
	*.ko.zst) zstd -dc "$f" ;;
	*.ko.gz) gzip -dc "$f" ;;
	*) cat "$f" ;;
	esac | tr '\0' '\n' | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

declare -A seen=()
order=()
resolve() {
	local m=${1//-/_} d
	[ -z "${seen[$m]:-}" ] || return 0
	seen[$m]=1
	if [ -z "${modfile[$m]:-}" ]; then
		[ -n "${builtin[$m]:-}" ] && return 0
		die "module $m is neither built into $krel nor shipped as a module"
	fi
	for d in $(mod_depends "${modfile[$m]}"); do
		resolve "$d"
	done
	order+=("$m")
}
for m in $wanted_modules; do
	resolve "$m"
done

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,run,mnt,tmp,vkmem,etc/vk,etc/acpi/PWRF,lib/modules/vk}
cp /bin/busybox "$root/bin/busybox"
install -m 0755 "$here/init" "$root/init"
install -m 0755 "$here/acpi-power" "$root/etc/acpi/PWRF/00000080"
: >"$root/etc/vk/modules"
for m in "${order[@]}"; do
	f=${modfile[$m]}
	case "$f" in
	*.ko.xz) xz -dc "$f" >"$root/lib/modules/vk/$m.ko" ;;
	*.ko.zst) zstd -dc "$f" >"$root/lib/modules/vk/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$root/lib/modules/vk/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/vk/$m.ko" ;;
	esac
	echo "$m" >>"$root/etc/vk/modules"
done
# /dev/console lets the kernel give init a console before devtmpfs is up;
# init reopens it anyway, so a non-root build without mknod still works.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

# The guest agent (vk.agent=1) tells libvirt the guest's addresses, IPv6
# ones too (libvirt's other sources, leases and the host's ARP table, know
# only IPv4 here). The guest is Debian's generation, so the host's own
# copies of the libraries qemu-ga links serve it. It is a second archive
# appended to the first (the kernel unpacks both), in initrd-agent.img
# alone: the 2.6 MB it adds cost every other guest about 0.5 s of boot
# under TCG (4.4-4.6 s against 4.8-5.7 s to the first tick, measured).
agent=$work/agent-root
qga=$work/agent/usr/sbin/qemu-ga
[ -x "$qga" ] || die "no usr/sbin/qemu-ga in $agent_pkg"
install -D -m 0755 "$qga" "$agent/usr/sbin/qemu-ga"
missing=$(ldd "$qga" | awk '/not found/ { print $1 }')
[ -z "$missing" ] || die "qemu-ga needs libraries the host lacks: $missing (tools/host-setup.sh deps)"
for lib in $(ldd "$qga" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
	install -D -m 0755 "$(readlink -f "$lib")" "$agent$lib"
done

# Same inputs, same bytes: fixed mtimes, sorted names, cpio's own
# reproducible inode numbering where available.
cpio_repro=
cpio --help 2>/dev/null | grep -q -- --reproducible && cpio_repro=--reproducible
# pack DIR: DIR as a gzip'd newc archive on stdout
pack() {
	find "$1" -exec touch -h -d @0 {} +
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc -R 0:0 --quiet $cpio_repro) | gzip -9n
}
pack "$root" >"$work/initrd.img"
{ cat "$work/initrd.img"; pack "$agent"; } >"$work/initrd-agent.img"
cp "$vmlinuz" "$work/vmlinuz"
echo "$krel" >"$work/kernel-release"
chmod 644 "$work/vmlinuz" "$work/initrd.img" "$work/initrd-agent.img" "$work/kernel-release"

# Replace atomically: running guests keep what they loaded, new ones see a
# consistent pair; the stamp is written last.
rm -f "$cache/stamp"
mv -f "$work/vmlinuz" "$cache/vmlinuz"
mv -f "$work/initrd.img" "$cache/initrd.img"
mv -f "$work/initrd-agent.img" "$cache/initrd-agent.img"
mv -f "$work/kernel-release" "$cache/kernel-release"
printf '%s\n' "$stamp" >"$cache/stamp.tmp"
mv -f "$cache/stamp.tmp" "$cache/stamp"
log "built guest: kernel $krel ($kernel_pkg_ver), modules: ${order[*]}"
echo "$cache"
