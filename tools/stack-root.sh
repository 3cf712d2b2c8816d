#!/bin/bash
# The second libvirt stack of the test matrix: a Debian 12 root with
# bookworm-backports' libvirt 11.x and QEMU 10.x (the Debian 13 generation)
# that runs its own virtlogd and libvirtd, without touching the host's.
#
#   tools/stack-root.sh ensure      build the root when it is missing or its
#                                   package list changed (a few minutes)
#   tools/stack-root.sh up          mount proc/sys/dev and a private /run into
#                                   it, start its virtlogd and libvirtd
#   tools/stack-root.sh run CMD...  run CMD inside the root (after up)
#   tools/stack-root.sh copy        copy this checkout (tracked and untracked,
#                                   not ignored files, plus the test guest
#                                   cache) to /build/vmkeep in the root
#   tools/stack-root.sh build       configure and build that copy in the root,
#                                   against the root's libvirt headers
#   tools/stack-root.sh down        stop its daemons and guests, unmount
#   tools/stack-root.sh path        print the root's directory
#   tools/stack-root.sh versions    print its libvirt and QEMU versions
#
# The root lives outside the checkout, in $VMKEEP_CI_CACHE (default
# /var/cache/vmkeep-ci), and is rebuilt when it is missing. Why each step is
# as it is:
#   - Packages are installed while the root has only its own /dev: package
#     scripts chgrp /dev/kvm to the root's kvm group, and with the host's /dev
#     bind-mounted that changes the host's node, after which the host's
#     libvirt re-probes QEMU on every call (4-10 s each). The host's /dev is
#     mounted only while the stack is up, and `ensure` refuses to install
#     while it is.
#   - QEMU's private mount namespaces fail in a chroot ("Failed disable mount
#     propagation"), so the root's qemu.conf sets namespaces = [ ].
#   - Its /run is a tmpfs of its own: its libvirtd socket, pid files and
#     virtlogd never meet the host's.
#   - The root's 'default' network is not autostarted: the host's owns
#     virbr0, and the tests use bridges of their own.
#   - All mounts are made rslave, so unmounting them never unmounts anything
#     of the host.
set -euo pipefail

CACHE=${VMKEEP_CI_CACHE:-/var/cache/vmkeep-ci}
ROOT=$CACHE/bookworm-backports
SUITE=bookworm
BACKPORTS=bookworm-backports
WAIT=60

# From bookworm-backports (-t): the stack under test.
STACK_PACKAGES=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients libvirt-dev
	qemu-system-x86 qemu-utils)
# What building vmkeep and its unit, CLI and e2e tests need (as in
# tools/host-setup.sh; packaging tools stay on the host).
BUILD_PACKAGES=(autoconf automake autopoint gettext pkg-config gcc make libc6-dev
	libglib2.0-dev libxml2-dev libjson-glib-dev nettle-dev libarchive-dev libzstd-dev libarchive-tools skopeo docker-registry libxml2-utils python3 scdoc
	busybox-static cpio gzip xz-utils ovmf swtpm swtpm-tools iproute2 procps util-linux
	kmod ca-certificates dbus xfsprogs zstd systemd)

log() { printf 'stack-root: %s\n' "$*" >&2; }
die() { printf 'stack-root: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount, chroot)"

# The mirror the host itself uses (deb.debian.org unless its sources say
# otherwise); VMKEEP_CI_MIRROR overrides it.
mirror() {
	if [ -n "${VMKEEP_CI_MIRROR:-}" ]; then
		echo "$VMKEEP_CI_MIRROR"
		return
	fi
	local m
	m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
		/etc/apt/sources.list.d/*.list 2>/dev/null |
		grep -oE 'https?://[^ ]*/debian/?( |$)' | grep -v security | head -n 1 | tr -d ' ')
	echo "${m:-http://deb.debian.org/debian}"
}

# What the root was built from: a change rebuilds it. A change of the
# package lists only installs what is missing.
base_stamp() {
	printf '%s\n' "$SUITE" "$BACKPORTS" "$(mirror)" v1 | sha256sum | cut -d' ' -f1
}
pkg_stamp() {
	printf '%s\n' "${STACK_PACKAGES[*]}" "${BUILD_PACKAGES[*]}" | sha256sum | cut -d' ' -f1
}

is_mounted() { mountpoint -q "$1" 2>/dev/null; }

in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	LANG=C.UTF-8 "$@"; }

# install_packages DIR: the stack and build packages into the root at DIR,
# which has its own /dev only (see the header), with no daemon started.
install_packages() {
	local dir=$1 rc=0
	in_dir() { chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		DEBIAN_FRONTEND=noninteractive "$@"; }
	printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
	chmod 755 "$dir/usr/sbin/policy-rc.d"
	mount -t proc proc "$dir/proc"
	{
		in_dir apt-get update -q &&
			in_dir apt-get install -y -q --no-install-recommends \
				-o Dpkg::Options::=--force-confnew -t "$BACKPORTS" \
				"${STACK_PACKAGES[@]}" "${BUILD_PACKAGES[@]}"
	} >>"$CACHE/apt.log" 2>&1 || rc=$?
	# bookworm-backports has no virtiofsd for its QEMU (Debian 13 ships it
	# as a package of its own); bookworm's QEMU 7.2 carries the C one, which
	# speaks the same vhost-user-fs protocol: take it from that package.
	if [ "$rc" = 0 ] && [ ! -x "$dir/usr/libexec/virtiofsd" ] && [ ! -x "$dir/usr/lib/qemu/virtiofsd" ]; then
		in_dir bash -c 'set -e; rm -rf /tmp/vk-vfs; mkdir /tmp/vk-vfs; cd /tmp/vk-vfs
			apt-get download -q qemu-system-common/'"$SUITE"'
			dpkg-deb -x qemu-system-common_*.deb x
			install -m 755 x/usr/lib/qemu/virtiofsd /usr/libexec/virtiofsd
			mkdir -p /usr/share/qemu/vhost-user
			printf "{\n  \"description\": \"virtiofsd vhost-user-fs\",\n  \"type\": \"fs\",\n  \"binary\": \"/usr/libexec/virtiofsd\"\n}\n" \
				>/usr/share/qemu/vhost-user/50-virtiofsd.json
			cd /; rm -rf /tmp/vk-vfs' >>"$CACHE/apt.log" 2>&1 || rc=$?
	fi
	umount "$dir/proc"
	rm -f "$dir/usr/sbin/policy-rc.d"
	[ "$rc" = 0 ] || die "installing packages in the root failed; see $CACHE/apt.log"
	in_dir dpkg-query -W -f='${Version}\n' libvirt-daemon qemu-system-x86 >"$dir/.vmkeep-versions"
	pkg_stamp >"$dir/.vmkeep-packages"
}

do_ensure() {
	if [ -f "$ROOT/.vmkeep-stamp" ] && [ "$(cat "$ROOT/.vmkeep-stamp")" = "$(base_stamp)" ] &&
		[ "$(cat "$ROOT/.vmkeep-packages" 2>/dev/null)" = "$(pkg_stamp)" ]; then
		log "root is up to date: $ROOT"
		return 0
	fi
	# Packages must not be installed with the host's /dev mounted (see the
	# header). A root left up by an interrupted run is ours alone: stop it.
	if is_mounted "$ROOT/dev" || is_mounted "$ROOT/proc" || is_mounted "$ROOT"; then
		log "$ROOT is up and needs packages: stopping it first"
		do_down
		! is_mounted "$ROOT/dev" && ! is_mounted "$ROOT/proc" ||
			die "$ROOT is still mounted after stopping it; see 'mount | grep $ROOT'"
	fi
	mkdir -p "$CACHE"
	: >"$CACHE/apt.log"
	if [ -f "$ROOT/.vmkeep-stamp" ] && [ "$(cat "$ROOT/.vmkeep-stamp")" = "$(base_stamp)" ]; then
		log "installing changed package lists into $ROOT"
		install_packages "$ROOT"
		log "root ready: $ROOT ($(tr '\n' ' ' <"$ROOT/.vmkeep-versions"))"
		return 0
	fi
	# a new machine has no debootstrap: CI installs what it needs itself
	if ! command -v debootstrap >/dev/null; then
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >>"$CACHE/apt.log" 2>&1 ||
			die "debootstrap is missing and could not be installed; see $CACHE/apt.log"
	fi
	local m tmp
	m=$(mirror)
	tmp=$ROOT.new
	rm -rf "$tmp"
	log "debootstrap $SUITE from $m into $tmp (a few minutes)"
	debootstrap --variant=minbase "$SUITE" "$tmp" "$m" >"$CACHE/debootstrap.log" 2>&1 ||
		die "debootstrap failed; see $CACHE/debootstrap.log"
	cat >"$tmp/etc/apt/sources.list" <<-EOF2
		deb $m $SUITE main
		deb $m $SUITE-updates main
		deb $m $BACKPORTS main
	EOF2
	install_packages "$tmp"
	# See the header for why.
	printf '\n# vmkeep CI: QEMU mount namespaces fail in a chroot\nnamespaces = [ ]\n' \
		>>"$tmp/etc/libvirt/qemu.conf"
	rm -f "$tmp/etc/libvirt/qemu/networks/autostart/"*.xml
	base_stamp >"$tmp/.vmkeep-stamp"
	rm -rf "$ROOT"
	mv "$tmp" "$ROOT"
	log "root ready: $ROOT ($(tr '\n' ' ' <"$ROOT/.vmkeep-versions"))"
}

mount_one() { # mount_one SRC DST [options...]
	local src=$1 dst=$2
	shift 2
	is_mounted "$dst" && return 0
	mount "$@" "$src" "$dst"
}

daemon_pid() {
	local f=$ROOT/run/$1.pid
	[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"
}

# libvirt probes QEMU with KVM when its QEMU user may open /dev/kvm. The
# host's /dev/kvm belongs to the host's kvm group, whose gid the root's own
# kvm group need not have (the packages pick it): the probe then finds KVM
# and the check of each later call does not, and the root's libvirtd
# re-probes QEMU on every call (4-10 s each; "KVM was enabled when probing
# ..., but it is not available now" in its debug log). The root's QEMU user
# joins the group that owns the host's /dev/kvm.
kvm_group_like_host() {
	local gid name
	gid=$(stat -c %g /dev/kvm 2>/dev/null) || return 0
	in_root id -G libvirt-qemu 2>/dev/null | tr ' ' '\n' | grep -qx "$gid" && return 0
	name=$(in_root getent group "$gid" | cut -d: -f1 || true)
	if [ -z "$name" ]; then
		name=hostkvm
		in_root groupadd -g "$gid" "$name" || die "cannot add group $gid to the root"
	fi
	in_root usermod -a -G "$name" libvirt-qemu || die "cannot add libvirt-qemu to group $name in the root"
	log "the root's libvirt-qemu joins group $name ($gid), which owns the host's /dev/kvm"
}

do_up() {
	[ -f "$ROOT/.vmkeep-stamp" ] || die "no root at $ROOT; run 'tools/stack-root.sh ensure' first"
	# The root is a mount point of its own, so that tests may make "/"
	# private in a mount namespace of theirs, as on a real host.
	if ! is_mounted "$ROOT"; then
		mount --bind "$ROOT" "$ROOT"
		mount --make-private "$ROOT"
	fi
	mount_one proc "$ROOT/proc" -t proc
	mount_one /sys "$ROOT/sys" --rbind && mount --make-rslave "$ROOT/sys"
	mount_one /dev "$ROOT/dev" --rbind && mount --make-rslave "$ROOT/dev"
	mount_one tmpfs "$ROOT/run" -t tmpfs -o mode=755
	mkdir -p "$ROOT/run/lock" "$ROOT/var/tmp"
	kvm_group_like_host
	if ! daemon_pid virtlogd >/dev/null; then
		log "starting the root's virtlogd"
		in_root virtlogd -d -p /run/virtlogd.pid || die "virtlogd -d failed in the root"
	fi
	if ! daemon_pid libvirtd >/dev/null; then
		log "starting the root's libvirtd"
		in_root libvirtd -d -p /run/libvirtd.pid || die "libvirtd -d failed in the root"
	fi
	local i=0
	while [ "$i" -lt "$WAIT" ]; do
		if [ -S "$ROOT/run/libvirt/libvirt-sock" ] &&
			timeout 20 chroot "$ROOT" virsh -c qemu:///system version >/dev/null 2>&1; then
			log "the root's libvirtd answers: $(do_versions | tr '\n' ' ')"
			return 0
		fi
		sleep 1
		i=$((i + 1))
	done
	die "the root's libvirtd does not answer within ${WAIT}s: $(timeout 20 chroot "$ROOT" virsh -c qemu:///system version 2>&1 | tail -n 1)"
}

do_down() {
	[ -d "$ROOT" ] || return 0
	# Guests of the root's libvirtd first (a test killed mid-way may leave one).
	local pid
	if pid=$(daemon_pid libvirtd); then
		local d
		for d in $(timeout 20 chroot "$ROOT" virsh -c qemu:///system list --name 2>/dev/null); do
			timeout 20 chroot "$ROOT" virsh -c qemu:///system destroy "$d" >/dev/null 2>&1 || true
		done
		kill "$pid" 2>/dev/null || true
	fi
	if pid=$(daemon_pid virtlogd); then kill "$pid" 2>/dev/null || true; fi
	local i
	for i in $(seq 1 50); do
		daemon_pid libvirtd >/dev/null || daemon_pid virtlogd >/dev/null || break
		sleep 0.1
	done
	# Anything still running from the root (a QEMU, virtiofsd, swtpm) would
	# keep its mounts busy.
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	local m
	for m in run dev sys proc; do
		if is_mounted "$ROOT/$m"; then umount -R "$ROOT/$m" 2>/dev/null || umount -R -l "$ROOT/$m"; fi
	done
	if is_mounted "$ROOT"; then umount "$ROOT" 2>/dev/null || umount -l "$ROOT"; fi
	return 0
}

# The tests run inside the root, so every path the root's libvirtd sees is
# the path the test used: the tree is copied in, not bind-mounted (a
# configured host tree would also refuse a second, VPATH, build).
do_copy() {
	local src dst=$ROOT/build/vmkeep
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	[ -d "$ROOT" ] || die "no root at $ROOT; run 'tools/stack-root.sh ensure' first"
	rm -rf "$dst"
	mkdir -p "$dst"
	chmod 755 "$ROOT/build"
	if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$src" ls-files -z --cached --others --exclude-standard |
			tar -C "$src" --null --no-recursion --ignore-failed-read -T - -cf - 2>/dev/null |
			tar -C "$dst" -xf -
	else
		tar -C "$src" --exclude=./tests/.cache -cf - . | tar -C "$dst" -xf -
	fi
	if [ -d "$src/tests/.cache/guest" ]; then
		mkdir -p "$dst/tests/.cache"
		cp -a "$src/tests/.cache/guest" "$dst/tests/.cache/"
	fi
	log "copied $src to $dst"
}

do_build() {
	in_root bash -c 'set -e
		cd /build/vmkeep
		NOCONFIGURE=1 ./autogen.sh
		./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var
		make -j"$(nproc)"' >"$ROOT/build/build.log" 2>&1 ||
		{ tail -n 30 "$ROOT/build/build.log" >&2; die "building vmkeep in the root failed; see $ROOT/build/build.log"; }
	log "built $(in_root /build/vmkeep/vmkeep --version) against libvirt $(in_root pkg-config --modversion libvirt)"
}

do_versions() {
	chroot "$ROOT" virsh -c qemu:///system version 2>/dev/null |
		sed -n 's/^Using library: \(.*\)/\1/p; s/^Running hypervisor: \(.*\)/\1/p'
}

case "${1:-}" in
ensure) do_ensure ;;
up) do_up ;;
down) do_down ;;
copy) do_copy ;;
build) do_build ;;
run)
	shift
	in_root "$@"
	;;
path) echo "$ROOT" ;;
versions) do_versions ;;
*)
	sed -n '2,18s/^# \{0,1\}//p' "$0" >&2
	exit 2
	;;
esac
