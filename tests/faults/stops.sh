#!/bin/bash
# Fault campaign, CI part 2 (real libvirtd + QEMU/TCG, on every libvirt
# stack CI runs): the stops that come from outside vmkeep.
#
#   random   each workflow (hibernate --image, managed hibernate, managed
#            wake, clone, fork of the running source, of a shut-off source
#            and of an image, image export and import) is timed once undisturbed, then stopped at random
#            moments within that time: FAULTS_RANDOM (default 1) trials
#            with SIGKILL and as many with SIGTERM. The moments come from
#            FAULTS_SEED (default: this run's pid), printed for replay.
#   libvirtd libvirtd is killed (SIGKILL) halfway through a hibernate
#            --image, a clone and a fork, and started again.
#   enospc   a full file system under the store (hibernate --image), under
#            a clone's --disk-dir and under an export's destination.
#            These two FAULTS_REPEAT times (default 1).
#   deep     a store whose parent directories do not exist yet, several
#            levels deep: hibernate --image, wake --image and clone work.
#   FIFO     a dead clone's FIFO whose open libvirtd's restore waits in:
#            the next cleanup frees that thread.
#
# Every trial gets the verdict of tests/faults/README (faults_verdict),
# and the plain command works again afterwards.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

faults_require
faults_setup

seed=${FAULTS_SEED:-$$}
trials=${FAULTS_RANDOM:-1}
RANDOM=$seed
diag "random moments from FAULTS_SEED=$seed"
n=0
next() { n=$((n + 1)); }

# timed_ms CMD...: runs CMD (must succeed); T_MS its wall time.
timed_ms() {
	local t0
	t0=$(date +%s%N)
	check_as "$*" "$@"
	T_MS=$((($(date +%s%N) - t0) / 1000000))
}

# moment MS: a random moment in [0, MS] (at least 1 ms), in ms.
moment() { echo $(((RANDOM * 32768 + RANDOM) % ($1 + 1) + 1)); }

# ------------------------------------------------------ random moments ---

# hibernate --image: the VM runs again (undone) or is saved in the image
timed_ms vk hibernate "$SRC" --image t0
check_or_bail vk wake --image t0
D=$T_MS
for sig in KILL TERM; do
	for _ in $(seq "$trials"); do
		next
		ms=$(moment "$D")
		what="hibernate --image, SIG$sig at $ms of $D ms"
		stopped_after "$sig" "$ms" hibernate "$SRC" --image "r$n"
		faults_verdict "$what" "r$n"
	done
done

# managed hibernate, then a managed wake stopped at random
timed_ms vk hibernate "$SRC"
D=$T_MS
timed_ms vk wake "$SRC"
W=$T_MS
for sig in KILL TERM; do
	for _ in $(seq "$trials"); do
		ms=$(moment "$D")
		stopped_after "$sig" "$ms" hibernate "$SRC"
		faults_verdict "managed hibernate, SIG$sig at $ms of $D ms"
		check_or_bail vk hibernate "$SRC"
		ms=$(moment "$W")
		stopped_after "$sig" "$ms" wake "$SRC"
		faults_verdict "managed wake, SIG$sig at $ms of $W ms"
	done
done

# random_new LABEL P IMAGE CHECK VERB SOURCE [ARGS...]: `vmkeep VERB SOURCE
# --name NEW ARGS` timed once undisturbed, then stopped at random moments;
# each trial's new domain is named after P and the trial, judged by
# faults_verdict (IMAGE: the image the run uses, or "") and by CHECK WHAT
# NEW, and goes again.
random_new() {
	local label=$1 p=$2 image=$3 check=$4 new D ms sig
	shift 4
	new=$(e2e_name "${p}0")
	e2e_cleanup_domain "$new"
	timed_ms vk "$1" "$2" --name "$new" "${@:3}"
	drop_domain "$new"
	D=$T_MS
	for sig in KILL TERM; do
		for _ in $(seq "$trials"); do
			next
			new=$(e2e_name "$p$n")
			e2e_cleanup_domain "$new"
			ms=$(moment "$D")
			what="$label, SIG$sig at $ms of $D ms"
			stopped_after "$sig" "$ms" "$1" "$2" --name "$new" "${@:3}"
			faults_verdict "$what" "$image"
			"$check" "$what" "$new"
			drop_domain "$new"
		done
	done
}

# gone_or_running WHAT NEW: a stopped clone or fork is gone or complete.
gone_or_running() {
	local st
	st=$(e2e_domstate "$2" || true)
	case $st in
	"" | running) ok "$1: the new VM is gone or complete (${st:-gone})" ;;
	*) not_ok "$1: the new VM is gone or complete"; diag "state '$st'" ;;
	esac
}

check_or_bail vk hibernate "$SRC" --image c
check_or_bail vk wake --image c
# clone of an image; fork of the running source, of a shut-off source and
# of an image (a hibernated VM: like a clone)
random_new clone c "" gone_or_running clone c --bridge "$br_new" --disk-dir "$E2E_DIR"
random_new fork f "" gone_or_running fork "$SRC" --bridge "$br_new"
faults_offline_source
random_new "fork (shut off)" o "" offline_verdict fork "$OFF" --bridge "$br_new" --disk-dir "$E2E_DIR"
random_new "fork (image)" g c gone_or_running fork c --bridge "$br_new" --disk-dir "$E2E_DIR"

# export and import
mkdir -p "$E2E_DIR/out"
timed_ms vk image export c -o "$E2E_DIR/out/c.tar"
D=$T_MS
printf '%s\n' "$(e2e_import_places)" >>"$conf"
timed_ms vk image import "$E2E_DIR/out/c.tar" --name i0
check_or_bail vk image rm i0
I=$T_MS
for sig in KILL TERM; do
	for _ in $(seq "$trials"); do
		next
		ms=$(moment "$D")
		what="export, SIG$sig at $ms of $D ms"
		stopped_after "$sig" "$ms" image export c -o "$E2E_DIR/out/e$n.tar"
		faults_verdict "$what"
		if [ -e "$E2E_DIR/out/e$n.tar" ]; then
			check_as "$what: the export is complete" vk image import "$E2E_DIR/out/e$n.tar" --name "e$n"
			check_or_bail vk image rm "e$n"
		fi
		is "$(find "$E2E_DIR/out" -name '.*' -printf '%f ')" "" "$what: no temp file in the destination"
		ms=$(moment "$I")
		what="import, SIG$sig at $ms of $I ms"
		stopped_after "$sig" "$ms" image import "$E2E_DIR/out/c.tar" --name "i$n"
		faults_verdict "$what"
		if listed_images | grep -qw "i$n"; then
			ok "$what: the import is complete"
		else
			check_as "$what: re-run of import" vk image import "$E2E_DIR/out/c.tar" --name "i$n"
		fi
		check_or_bail vk image rm "i$n"
	done
done

# ---------------------------------------------------- libvirtd killed ---

# FAULTS_REPEAT rounds (default 1) of these and of the full-disk trials
repeat=${FAULTS_REPEAT:-1}
for r in $(seq "$repeat"); do
	timed_ms vk hibernate "$SRC" --image "l0r$r"
	check_or_bail vk wake --image "l0r$r"
	next
	what="hibernate --image, libvirtd killed at $((T_MS / 2)) ms"
	libvirtd_killed_after $((T_MS / 2)) hibernate "$SRC" --image "l$n"
	diag "vmkeep: exit $RUN_RC: $RUN_OUT"
	faults_verdict "$what" "l$n"

	new=$(e2e_name "lc0r$r")
	e2e_cleanup_domain "$new"
	timed_ms vk clone c --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR"
	drop_domain "$new"
	new=$(e2e_name "lc1r$r")
	e2e_cleanup_domain "$new"
	what="clone, libvirtd killed at $((T_MS / 2)) ms"
	libvirtd_killed_after $((T_MS / 2)) clone c --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR"
	diag "vmkeep: exit $RUN_RC: $RUN_OUT"
	faults_verdict "$what"
	drop_domain "$new"

	new=$(e2e_name "lf0r$r")
	e2e_cleanup_domain "$new"
	timed_ms vk fork "$SRC" --name "$new" --bridge "$br_new"
	drop_domain "$new"
	new=$(e2e_name "lf1r$r")
	e2e_cleanup_domain "$new"
	what="fork, libvirtd killed at $((T_MS / 2)) ms"
	libvirtd_killed_after $((T_MS / 2)) fork "$SRC" --name "$new" --bridge "$br_new"
	diag "vmkeep: exit $RUN_RC: $RUN_OUT"
	faults_verdict "$what"
	drop_domain "$new"
done

# ---------------------------------------------------------- full disk ---

# full DIR: a 4 MiB tmpfs on DIR, filled but for 64 KiB; unmounted at exit
full() {
	mkdir -p "$1"
	mount -t tmpfs -o size=4m tmpfs "$1" || bail_out "cannot mount a tmpfs on $1"
	e2e_on_exit umount -l "$1"
	chmod 0755 "$1"
	dd if=/dev/zero of="$1/.fill" bs=64k count=63 status=none 2>/dev/null || true
}

for r in $(seq "$repeat"); do
	# the store's file system full: hibernate --image refuses or fails cleanly
	full "$E2E_DIR/fullstore$r"
	printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$E2E_DIR/fullstore$r/store" \
		>"$E2E_DIR/full.conf"
	run_rc env VMKEEP_CONFIG="$E2E_DIR/full.conf" "$VMKEEP" -c "$E2E_URI" hibernate "$SRC" --image full
	isnt "$RUN_RC" 0 "enospc store: hibernate --image fails (exit $RUN_RC)"
	like "$RUN_OUT" "space|No space" "enospc store: and says why"
	faults_verdict "enospc store"
	is "$(find "$E2E_DIR/fullstore$r/store" -name '.*partial*' 2>/dev/null)" "" "enospc store: no partial image"

	# a clone's --disk-dir full
	full "$E2E_DIR/fulldisks$r"
	new=$(e2e_name "ncr$r")
	e2e_cleanup_domain "$new"
	run_rc vk clone c --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR/fulldisks$r" --copy
	isnt "$RUN_RC" 0 "enospc disk-dir: clone --copy fails (exit $RUN_RC)"
	faults_verdict "enospc disk-dir"
	is "$(exists_domain "$new")" no "enospc disk-dir: no clone domain"
	is "$(find "$E2E_DIR/fulldisks$r" -mindepth 1 -not -name .fill -printf '%f ')" "" \
		"enospc disk-dir: nothing left in the disk directory"

	# an export's destination full
	full "$E2E_DIR/fullout$r"
	run_rc vk image export c -o "$E2E_DIR/fullout$r/c.tar"
	isnt "$RUN_RC" 0 "enospc export: image export fails (exit $RUN_RC)"
	faults_verdict "enospc export"
	is "$(find "$E2E_DIR/fullout$r" -mindepth 1 -not -name .fill -printf '%f ')" "" \
		"enospc export: nothing left in the destination"
done

# ----------------------------------------------- a dead clone's FIFO ---

# libvirtd's threads blocked opening a FIFO (the kernel's wait_for_partner)
fifo_waiters() {
	local lv t n=0
	lv=$(cat /run/libvirtd.pid 2>/dev/null) || { echo 0; return; }
	for t in /proc/"$lv"/task/*; do
		[ "$(cat "$t/wchan" 2>/dev/null)" = wait_for_partner ] && n=$((n + 1))
	done
	echo "$n"
}

# A clone killed after libvirt was asked to restore from its FIFO and
# before vmkeep opened the write end: libvirtd's restore waits in its
# open. Here the dead clone is a plain restore whose caller is killed, from
# a FIFO in a working directory as a clone leaves it (unlocked). The next
# vmkeep that cleans up must give that reader end of file: the restore
# fails and libvirtd's thread is free again.
dead=$store/tmp/clone-deadfifo
mkdir -p "$dead"
: >"$dead/.vmkeep-owned"
: >"$dead/.lock"
mkfifo -m 0600 "$dead/state.fifo"
before=$(fifo_waiters)
virsh -q -c "$E2E_URI" restore "$dead/state.fifo" >/dev/null 2>&1 7>&- &
vpid=$!
end=$((SECONDS + 20))
while [ "$(fifo_waiters)" -le "$before" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
isnt "$(fifo_waiters)" "$before" "dead FIFO: libvirtd's restore waits in the FIFO's open"
kill -KILL "$vpid" 2>/dev/null
wait "$vpid" 2>/dev/null || true
run_rc vk recover --apply
is "$RUN_RC" 0 "dead FIFO: vmkeep recover --apply"
end=$((SECONDS + 20))
while [ "$(fifo_waiters)" -gt "$before" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
is "$(fifo_waiters)" "$before" "dead FIFO: no libvirtd thread waits in its open any more"
is "$(find "$store/tmp" -mindepth 1 -maxdepth 1 -name clone-deadfifo)" "" "dead FIFO: its directory is gone"
faults_verdict "dead FIFO"

# ---------------------------------------------------------- deep store ---

deep=$E2E_DIR/deep/a/b/c/store
printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$deep" >"$E2E_DIR/deep.conf"
dvk() { VMKEEP_CONFIG=$E2E_DIR/deep.conf "$VMKEEP" -c "$E2E_URI" "$@"; }
check_as "deep store: hibernate --image" dvk hibernate "$SRC" --image deep
check_as "deep store: wake --image" dvk wake --image deep
new=$(e2e_name dc)
e2e_cleanup_domain "$new"
check_as "deep store: clone" dvk clone deep --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR"
is "$(e2e_domstate "$new")" running "deep store: the clone runs"
drop_domain "$new"
faults_verdict "deep store"

done_testing
