#!/bin/bash
# Fault campaign, CI part 3 (real libvirtd + QEMU/TCG, on every libvirt
# stack CI runs): the hot-plug workflows `nic add` and `fs attach` on a
# running q35 VM with shared memory, stopped at their fault point
# (attach, through the test-only fault hook) with SIGKILL and SIGTERM, and
# at random moments within an undisturbed run (FAULTS_RANDOM trials per
# signal, default 1; moments from FAULTS_SEED).
#
# Each is one libvirt call that changes the running VM and its definition
# together, so after any stop the device must be in both or in neither,
# never half attached; the VM runs on as the same boot. Besides the
# verdict of tests/faults/README (faults_verdict): the device is in the
# running VM and the definition (nic add) or the running VM (fs attach, live
# by default) as a whole or not at all, and the plain command works again:
# a re-run when it is not there, a `nic remove` / `fs detach` when it is.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

faults_require --hooks
faults_setup q35 --shared-memory
share=$E2E_DIR/share
mkdir -p "$share"
chmod 0755 "$share"
echo probe >"$share/probe.txt"
chmod 0644 "$share/probe.txt"

seed=${FAULTS_SEED:-$$}
trials=${FAULTS_RANDOM:-1}
RANDOM=$seed
diag "random moments from FAULTS_SEED=$seed"
n=0

# nic_where MAC: where the NIC is: both, none, or live / config alone.
nic_where() {
	local l=no c=no
	vsh domiflist "$SRC" 2>/dev/null | grep -qi "$1" && l=yes
	vsh domiflist "$SRC" --inactive 2>/dev/null | grep -qi "$1" && c=yes
	case $l$c in yesyes) echo both ;; nono) echo none ;; yesno) echo live ;; *) echo config ;; esac
}

# fs_where TAG: yes when the running VM has a filesystem with TAG.
fs_where() {
	if vsh dumpxml "$SRC" 2>/dev/null | grep -q "<target dir=['\"]$1['\"]"; then echo yes; else echo no; fi
}

# nic_trial WHAT MAC: the verdict, then the NIC whole or absent, then the
# plain command again.
nic_trial() {
	local what=$1 mac=$2 where
	faults_verdict "$what"
	where=$(nic_where "$mac")
	case $where in
	both)
		ok "$what: the NIC is attached, live and in the definition"
		check_as "$what: vmkeep nic remove" vk nic remove "$SRC" "$mac"
		;;
	none)
		ok "$what: the NIC is not attached (nothing half done)"
		check_as "$what: re-run of nic add" vk nic add "$SRC" --bridge "$br" --mac "$mac"
		check_as "$what: and remove it again" vk nic remove "$SRC" "$mac"
		;;
	*) not_ok "$what: the NIC is attached whole or not at all"; diag "only in: $where" ;;
	esac
	is "$(nic_where "$mac")" none "$what: the NIC is gone again"
}

# fs_trial WHAT TAG: the same for a virtiofs filesystem.
fs_trial() {
	local what=$1 tag=$2
	faults_verdict "$what"
	if [ "$(fs_where "$tag")" = yes ]; then
		ok "$what: the filesystem is attached"
		check_as "$what: vmkeep fs detach" vk fs detach "$SRC" "$tag"
	else
		ok "$what: the filesystem is not attached (nothing half done)"
		check_as "$what: re-run of fs attach" vk fs attach "$SRC" --tag "$tag" --source "$share"
		check_as "$what: and detach it again" vk fs detach "$SRC" "$tag"
	fi
	is "$(fs_where "$tag")" no "$what: the filesystem is gone again"
}

mac_of() { printf '52:54:00:fd:%02x:%02x' $((($$ >> 4) & 255)) "$1"; }

# ----------------------------------------------------- at the point ----

for sig in sigkill sigterm; do
	n=$((n + 1))
	what="nic add attach:$sig"
	faulted "attach:$sig" nic add "$SRC" --bridge "$br" --mac "$(mac_of "$n")"
	killed_at "$what" "$sig"
	nic_trial "$what" "$(mac_of "$n")"
	what="fs attach attach:$sig"
	faulted "attach:$sig" fs attach "$SRC" --tag "t$n" --source "$share"
	killed_at "$what" "$sig"
	fs_trial "$what" "t$n"
done

# ---------------------------------------------------- random moments ---

timed() { # timed CMD...: T_MS the wall time of CMD (which must succeed)
	local t0
	t0=$(date +%s%N)
	check_or_bail "$@"
	T_MS=$((($(date +%s%N) - t0) / 1000000))
}
moment() { echo $(((RANDOM * 32768 + RANDOM) % ($1 + 1) + 1)); }

timed vk nic add "$SRC" --bridge "$br" --mac "$(mac_of 99)"
N=$T_MS
check_or_bail vk nic remove "$SRC" "$(mac_of 99)"
timed vk fs attach "$SRC" --tag t99 --source "$share"
F=$T_MS
check_or_bail vk fs detach "$SRC" t99
for sig in KILL TERM; do
	for _ in $(seq "$trials"); do
		n=$((n + 1))
		ms=$(moment "$N")
		stopped_after "$sig" "$ms" nic add "$SRC" --bridge "$br" --mac "$(mac_of "$n")"
		nic_trial "nic add, SIG$sig at $ms of $N ms" "$(mac_of "$n")"
		ms=$(moment "$F")
		stopped_after "$sig" "$ms" fs attach "$SRC" --tag "t$n" --source "$share"
		fs_trial "fs attach, SIG$sig at $ms of $F ms" "t$n"
	done
done

done_testing
