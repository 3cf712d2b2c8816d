#!/bin/bash
# Prepare a Debian 12 host to build and test vmkeep (README test command,
# .ci/run, the demo).  Idempotent: safe to run again and again.
#
#   tools/host-setup.sh deps     install the build and test packages (apt)
#   tools/host-setup.sh daemons  start virtlogd and libvirtd if they are not
#                                running (no systemd needed) and wait for them
#   tools/host-setup.sh          both
#
# Host configuration: none is changed.  The e2e guests work with Debian's
# stock /etc/libvirt/qemu.conf because everything QEMU touches is reachable
# by the libvirt-qemu user without help:
#   - kernel and initrd live in tests/.cache/guest (dirs 0755, files 0644);
#     libvirt's DAC driver (dynamic_ownership=1) relabels them while a guest
#     runs and restores the owner afterwards;
#   - disk images are created by the tests in E2E_DIR (tests/e2e/lib.sh makes
#     it 0755) and are chowned to libvirt-qemu by libvirt in the same way;
#   - serial log files are opened by virtlogd (root, stdio_handler="logd"),
#     not by QEMU, so only the directory has to exist;
#   - virtiofsd is started by libvirt as root.
# The tests verify this reachability up front and say what to fix if a
# checkout lives under a directory that libvirt-qemu cannot traverse.
set -euo pipefail

PACKAGES=(
	autoconf automake autopoint gettext pkg-config gcc make
	libglib2.0-dev libvirt-dev libxml2-dev libjson-glib-dev nettle-dev libarchive-dev libzstd-dev libxml2-utils python3 scdoc
	libarchive-tools skopeo docker-registry
	libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils
	busybox-static cpio ovmf swtpm swtpm-tools virtinst iproute2 procps util-linux systemd
	xfsprogs zstd
	debhelper dpkg-dev rpm groff-base man-db bash-completion debootstrap
	clang libclang-rt-14-dev
)

URI=qemu:///system
SOCK=/var/run/libvirt/libvirt-sock
WAIT=30

log() { printf 'host-setup: %s\n' "$*" >&2; }
die() { printf 'host-setup: error: %s\n' "$*" >&2; exit 1; }

need_root() {
	[ "$(id -u)" = 0 ] || die "$1 needs root (run as root or with sudo)"
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			printf '%s\n' "$p"
	done
}

do_deps() {
	local missing
	missing=$(missing_packages)
	if [ -z "$missing" ]; then
		log "all ${#PACKAGES[@]} packages are installed"
		return 0
	fi
	need_root "installing packages (${missing//$'\n'/ })"
	log "installing: ${missing//$'\n'/ }"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086 # one package per word
	apt-get install -y -q -o Dpkg::Options::=--force-confold $missing
	missing=$(missing_packages)
	[ -z "$missing" ] || die "still missing after apt-get install: ${missing//$'\n'/ }"
}

# host_daemon NAME: a NAME process runs in this host's root (the backports
# root of tools/stack-root.sh runs daemons of the same names in its chroot).
host_daemon() {
	local p
	for p in $(pgrep -x "$1"); do
		[ "$(readlink "/proc/$p/root" 2>/dev/null)" = / ] && return 0
	done
	return 1
}

libvirt_answers() {
	timeout 10 virsh -c "$URI" version >/dev/null 2>&1
}

do_daemons() {
	command -v virsh >/dev/null || die "virsh not found; run tools/host-setup.sh deps first"
	# libvirt's QEMU driver hands serial/console files and QEMU's own log to
	# virtlogd (stdio_handler = "logd"): without it libvirtd answers but no
	# guest starts, so check it on its own.
	if ! host_daemon virtlogd; then
		need_root "starting virtlogd"
		command -v virtlogd >/dev/null || die "virtlogd not found; run tools/host-setup.sh deps first"
		log "starting virtlogd"
		virtlogd -d || die "virtlogd -d failed"
	fi
	if [ -S "$SOCK" ] && libvirt_answers; then
		log "libvirtd is running and answers at $URI"
		return 0
	fi
	if ! host_daemon libvirtd; then
		need_root "starting libvirtd"
		command -v libvirtd >/dev/null || die "libvirtd not found; run tools/host-setup.sh deps first"
		log "starting libvirtd"
		libvirtd -d || die "libvirtd -d failed"
	fi
	local i=0
	while [ "$i" -lt "$WAIT" ]; do
		if [ -S "$SOCK" ] && libvirt_answers; then
			log "libvirtd answers at $URI"
			return 0
		fi
		sleep 1
		i=$((i + 1))
	done
	if [ ! -S "$SOCK" ]; then
		die "libvirtd did not create $SOCK within ${WAIT}s; try 'libvirtd -v' in a terminal to see why"
	fi
	die "libvirtd does not answer 'virsh -c $URI version' within ${WAIT}s: $(timeout 10 virsh -c "$URI" version 2>&1 | tail -n 1)"
}

case "${1:-all}" in
deps) do_deps ;;
daemons) do_daemons ;;
all)
	do_deps
	do_daemons
	;;
-h | --help | help)
	sed -n '2,9s/^# \{0,1\}//p' "$0"
	;;
*)
	printf 'usage: %s [deps|daemons]\n' "$0" >&2
	exit 2
	;;
esac
