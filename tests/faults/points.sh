#!/bin/bash
# Fault campaign, CI part (real libvirtd + QEMU/TCG, on every libvirt stack
# CI runs): each journaled workflow is stopped at every fault point of its
# journal, once with SIGKILL and once with SIGTERM, through the test-only
# fault hook (tests/e2e/vmkeep-fault: VMKEEP_FAULT=POINT:sigkill raises the
# signal in vmkeep itself at that step). After each trial the verdict of
# tests/faults/README (faults_verdict): recovery finishes what the run left,
# nothing is paused or left over, the source runs as the same boot (or is
# fully saved, and then wakes as it), every image verifies, qemu-img check
# passes; then a plain re-run of the same command succeeds. A SIGKILL
# leaves the work to recovery; a SIGTERM is undone by vmkeep itself before
# it exits, except past libvirt's save of a hibernate, which vmkeep
# finishes instead.
#
# Workflows and points:
#   hibernate --image  hibernate-image-partial, -saved, -frozen, -committed
#   wake --image       wake-image
#   clone              clone-after-restore
#   fork (running)     fork-after-disks, fork-after-clone
#   fork (shut off)    fork-after-disks, fork-after-clone
#   fork (an image)    fork-after-clone
#   image export       export-commit (tar and --format oci)
#   image import       import-received, import-checked, import-sidecar (a tar
#                      stream and an OCI layout)
# (push and pull, which need a registry: tests/e2e/registry.sh)
#
# Random moments, libvirtd killed and full file systems: stops.sh; nic add
# and fs attach: attach.sh; the systemd unit: systemd.sh.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

faults_require --hooks
faults_setup

n=0
next() { n=$((n + 1)); }

# -------------------------------------------------- hibernate --image ---

for point in hibernate-image-partial hibernate-image-saved hibernate-image-frozen \
	hibernate-image-committed; do
	for sig in sigkill sigterm; do
		next
		what="hibernate $point:$sig"
		faulted "$point:$sig" hibernate "$SRC" --image "h$n"
		killed_at "$what" "$sig"
		faults_verdict "$what" "h$n"
		# the plain re-run: hibernate and wake again
		if ! listed_images | grep -qw "h$n"; then
			check_as "$what: re-run of hibernate --image h$n" vk hibernate "$SRC" --image "h$n"
			check_as "$what: and wake --image h$n" vk wake --image "h$n"
		fi
	done
done

# ---------------------------------------------------------- wake -------

for sig in sigkill sigterm; do
	what="wake wake-image:$sig"
	check_or_bail vk hibernate "$SRC" --image "w-$sig"
	faulted "wake-image:$sig" wake --image "w-$sig"
	killed_at "$what" "$sig"
	is "$(e2e_domstate "$SRC")" "shut off" "$what: still saved (nothing is restored before the point)"
	# nothing to recover; the plain re-run wakes it
	faults_verdict "$what" "w-$sig"
done

# --------------------------------------------------------- clone -------

check_or_bail vk hibernate "$SRC" --image c
check_or_bail vk wake --image c
for sig in sigkill sigterm; do
	next
	what="clone clone-after-restore:$sig"
	new=$(e2e_name "c$n")
	e2e_cleanup_domain "$new"
	faulted "clone-after-restore:$sig" clone c --name "$new" --bridge "$br_new" \
		--disk-dir "$E2E_DIR"
	killed_at "$what" "$sig"
	faults_verdict "$what"
	is "$(exists_domain "$new")" no "$what: no clone domain left"
	is "$(find "$E2E_DIR" -maxdepth 1 -name "$new*.qcow2" -printf '%f ')" "" "$what: no clone disk left"
	check_as "$what: re-run of clone" vk clone c --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR"
	is "$(e2e_domstate "$new")" running "$what: the re-run's clone runs"
	vsh destroy "$new" >/dev/null 2>&1 || true
done

# ---------------------------------------------------------- fork -------

for point in fork-after-disks fork-after-clone; do
	for sig in sigkill sigterm; do
		next
		what="fork $point:$sig"
		new=$(e2e_name "f$n")
		e2e_cleanup_domain "$new"
		disk0=$(source_disk "$SRC")
		imgs0=$(listed_images)
		faulted "$point:$sig" fork "$SRC" --name "$new" --bridge "$br_new"
		killed_at "$what" "$sig"
		faults_verdict "$what"
		is "$(exists_domain "$new")" no "$what: no fork domain left"
		is "$(source_disk "$SRC")" "$disk0" "$what: the source is back on its own disk"
		is "$(listed_images)" "$imgs0" "$what: no new image listed"
		check_as "$what: re-run of fork" vk fork "$SRC" --name "$new" --bridge "$br_new"
		is "$(e2e_domstate "$new")" running "$what: the re-run's fork runs"
		vsh destroy "$new" >/dev/null 2>&1 || true
	done
done

# ------------------------------------------- fork of a shut-off source ---

faults_offline_source
for point in fork-after-disks fork-after-clone; do
	for sig in sigkill sigterm; do
		next
		what="fork (shut off) $point:$sig"
		new=$(e2e_name "o$n")
		e2e_cleanup_domain "$new"
		faulted "$point:$sig" fork "$OFF" --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR"
		killed_at "$what" "$sig"
		faults_verdict "$what"
		offline_verdict "$what" "$new"
		check_as "$what: re-run of fork" vk fork "$OFF" --name "$new" --bridge "$br_new" \
			--disk-dir "$E2E_DIR"
		is "$(e2e_domstate "$new")" "shut off" "$what: the re-run's fork is defined"
		drop_domain "$new"
	done
done

# ------------------------------------------------------ fork of an image ---

for sig in sigkill sigterm; do
	next
	what="fork (image) fork-after-clone:$sig"
	new=$(e2e_name "g$n")
	e2e_cleanup_domain "$new"
	faulted "fork-after-clone:$sig" fork c --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR"
	killed_at "$what" "$sig"
	faults_verdict "$what" c
	is "$(exists_domain "$new")" no "$what: no fork domain left"
	is "$(find "$E2E_DIR" -maxdepth 1 -name "$new*.qcow2" -printf '%f ')" "" "$what: no fork disk left"
	check_as "$what: re-run of fork" vk fork c --name "$new" --bridge "$br_new" --disk-dir "$E2E_DIR"
	is "$(e2e_domstate "$new")" running "$what: the re-run's fork runs"
	drop_domain "$new"
done

# -------------------------------------------------- export / import ----

mkdir -p "$E2E_DIR/out"
for sig in sigkill sigterm; do
	what="export export-commit:$sig"
	faulted "export-commit:$sig" image export c -o "$E2E_DIR/out/c.tar"
	killed_at "$what" "$sig"
	faults_verdict "$what"
	is "$(ls -A "$E2E_DIR/out")" "" "$what: nothing left in the destination directory"
done
for sig in sigkill sigterm; do
	what="export --format oci export-commit:$sig"
	faulted "export-commit:$sig" image export c --format oci -o "$E2E_DIR/out/c.oci"
	killed_at "$what" "$sig"
	faults_verdict "$what"
	is "$(ls -A "$E2E_DIR/out")" "" "$what: nothing left in the destination directory"
done
check_or_bail vk image export c -o "$E2E_DIR/out/c.tar"
check_or_bail vk image export c --format oci -o "$E2E_DIR/out/c.oci"
printf '%s\n' "$(e2e_import_places)" >>"$conf"
for point in import-received import-checked import-sidecar; do
	for sig in sigkill sigterm; do
		next
		what="import $point:$sig"
		imgs0=$(listed_images)
		faulted "$point:$sig" image import "$E2E_DIR/out/c.tar" --name "i$n"
		killed_at "$what" "$sig"
		faults_verdict "$what"
		is "$(listed_images)" "$imgs0" "$what: no image i$n listed"
		check_as "$what: re-run of import" vk image import "$E2E_DIR/out/c.tar" --name "i$n"
		check_as "$what: the imported image verifies" vk image verify "i$n"
		check_as "$what: and goes again" vk image rm "i$n"
		next
		what="import DIR $point:$sig"
		faulted "$point:$sig" image import "$E2E_DIR/out/c.oci" --name "i$n"
		killed_at "$what" "$sig"
		faults_verdict "$what"
		is "$(listed_images)" "$imgs0" "$what: no image i$n listed"
		check_as "$what: re-run of import DIR" vk image import "$E2E_DIR/out/c.oci" --name "i$n"
		check_as "$what: the imported image verifies" vk image verify "i$n"
		check_as "$what: and goes again" vk image rm "i$n"
	done
done

done_testing
