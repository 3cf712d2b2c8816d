#!/bin/bash
# The .rpm: 'rpmbuild -ta' on the release tarball (what 'make dist' makes)
# with a private _topdir builds it; its file list has the binary, man pages,
# configuration, completion, systemd units and cron example, and the binary
# extracted with rpm2cpio runs. Debian's rpm has no database of the build
# dependencies, so they are not checked (--nodeps).
. "$(dirname "$0")/lib.sh"

for tool in rpmbuild rpm rpm2cpio cpio flock tar xz; do
  command -v $tool >/dev/null || skip_or_fail "$tool not found (Debian: apt-get install rpm cpio)"
done

V=$(package_version)
start=$SECONDS
mkdir -p "$WORK/dist"
if make_tree "$WORK/dist/vmkeep-$V" &&
   tar -C "$WORK/dist" --format=ustar -chf - "vmkeep-$V" | xz -c >"$WORK/vmkeep-$V.tar.xz"; then
  ok "release tarball vmkeep-$V.tar.xz"
else
  not_ok "release tarball"; diag "$(tail -20 "$WORK/distdir.log")"; bail_out "no tarball"
fi
check "the tarball carries vmkeep.spec for version $V" \
  grep -qx "Version: *$V" <(tar -xJOf "$WORK/vmkeep-$V.tar.xz" "vmkeep-$V/vmkeep.spec")

mkdir -p "$WORK/rpm"
if rpmbuild -ta --nodeps --nocheck --define "_topdir $WORK/rpm" \
     --define "_smp_mflags -j$(nproc)" "$WORK/vmkeep-$V.tar.xz" >"$WORK/rpmbuild.log" 2>&1; then
  ok "rpmbuild -ta ($((SECONDS - start)) s)"
else
  not_ok "rpmbuild -ta"; diag "$(tail -40 "$WORK/rpmbuild.log")"; bail_out "no rpm"
fi
RPM=$(find "$WORK/rpm/RPMS" -name "vmkeep-$V-*.rpm" ! -name '*debug*' | head -1)
[ -n "$RPM" ] || bail_out "no binary rpm in $WORK/rpm/RPMS: $(find "$WORK/rpm/RPMS" -type f)"
ok "built $(basename "$RPM")"

list=$(rpm -qlp "$RPM" 2>/dev/null)
for f in /usr/bin/vmkeep /etc/vmkeep/vmkeep.conf /etc/cron.d/vmkeep \
         /usr/share/bash-completion/completions/vmkeep \
         /usr/lib/systemd/system/vmkeep-hibernate.service /usr/lib/systemd/system/vmkeep-hibernate.timer \
         /usr/lib/systemd/system/vmkeep-watch.service \
         /usr/share/locale/de/LC_MESSAGES/vmkeep.mo; do
  check "the rpm has $f" grep -qxF "$f" <<<"$list"
done
for m in man1/vmkeep.1 man5/vmkeep.conf.5; do
  check "the rpm has the man page $m" grep -qE "^/usr/share/man/$m(\.[a-z0-9]+)?\$" <<<"$list"
done
check "/etc/vmkeep/vmkeep.conf is a config file" grep -qxF /etc/vmkeep/vmkeep.conf <<<"$(rpm -qcp "$RPM" 2>/dev/null)"
diag "$(rpm -qp --requires "$RPM" 2>/dev/null | grep -E 'libvirt|glib|xml|json' | tr '\n' ' ')"
check "the rpm requires libvirt's client library" grep -q 'libvirt' <<<"$(rpm -qp --requires "$RPM" 2>/dev/null)"

mkdir -p "$WORK/x"
if (cd "$WORK/x" && rpm2cpio "$RPM" | cpio -idm --quiet) 2>"$WORK/cpio.err"; then ok "rpm2cpio | cpio -idm"
else not_ok "rpm2cpio | cpio -idm"; diag "$(cat "$WORK/cpio.err")"; fi
out=$("$WORK/x/usr/bin/vmkeep" --version 2>&1)
check "the extracted binary runs: $out" test "$out" = "vmkeep $V"
check "the extracted unit runs /usr/bin/vmkeep" grep -q '^ExecStart=/usr/bin/vmkeep ' "$WORK/x/usr/lib/systemd/system/vmkeep-hibernate.service"
diag "rpm.sh took $((SECONDS - start)) s"

done_testing
