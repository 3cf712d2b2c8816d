#!/bin/bash
# The .deb: dpkg-buildpackage -b builds it from the release tree (what
# 'make dist' packs, plus debian/), it holds the binary, man pages,
# completion, systemd units, cron example, translations and the
# configuration as a conffile, with Depends on libvirt, glib, libxml2 and
# json-glib; dpkg installs it on this machine, the installed vmkeep runs and
# its man page is found, and dpkg removes and purges it without leftovers.
. "$(dirname "$0")/lib.sh"

for tool in dpkg-buildpackage dh dpkg-deb dpkg flock; do
  command -v $tool >/dev/null || skip_or_fail "$tool not found (Debian: apt-get install dpkg-dev debhelper)"
done
[ "$(id -u)" = 0 ] || skip_or_fail "installing a .deb needs root"
status=$(dpkg-query -W -f='${db:Status-Status}' vmkeep 2>/dev/null || true)
if [ -n "$status" ] && [ "$status" != not-installed ]; then
  bail_out "a vmkeep package is on this machine already ($status); remove it first (dpkg -P vmkeep): this test installs and purges its own"
fi

V=$(package_version)
T=$WORK/build/vmkeep-$V
mkdir -p "$WORK/build"
start=$SECONDS
if make_tree "$T"; then ok "release tree of vmkeep $V"; else not_ok "release tree"; diag "$(tail -20 "$WORK/distdir.log")"; bail_out "no tree"; fi

debver=$(cd "$T" && dpkg-parsechangelog -S Version)
check "debian/changelog's version $debver is of upstream version $V" test "${debver%-*}" = "$V"

if (cd "$T" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -b -us -uc) >"$WORK/build.log" 2>&1; then
  ok "dpkg-buildpackage -b -us -uc ($((SECONDS - start)) s)"
else
  not_ok "dpkg-buildpackage -b -us -uc"; diag "$(tail -40 "$WORK/build.log")"; bail_out "no package"
fi
DEB=$WORK/build/vmkeep_${debver}_$(dpkg --print-architecture).deb
[ -f "$DEB" ] || bail_out "$DEB was not built: $(ls "$WORK/build")"

contents=$(dpkg-deb -c "$DEB" | awk '{ print $NF }' | sed 's|^\./|/|')
for f in /usr/bin/vmkeep /usr/share/man/man1/vmkeep.1.gz /usr/share/man/man5/vmkeep.conf.5.gz \
         /usr/share/bash-completion/completions/vmkeep \
         /lib/systemd/system/vmkeep-hibernate.service /lib/systemd/system/vmkeep-hibernate.timer \
         /lib/systemd/system/vmkeep-watch.service \
         /etc/cron.d/vmkeep /etc/vmkeep/vmkeep.conf /usr/share/locale/de/LC_MESSAGES/vmkeep.mo \
         /usr/share/doc/vmkeep/copyright; do
  check "the package ships $f" grep -qxF "$f" <<<"$contents"
done
conffiles=$(dpkg-deb -I "$DEB" conffiles 2>/dev/null)
check "/etc/vmkeep/vmkeep.conf is a conffile" grep -qxF /etc/vmkeep/vmkeep.conf <<<"$conffiles"
check "/etc/cron.d/vmkeep is a conffile" grep -qxF /etc/cron.d/vmkeep <<<"$conffiles"
depends=$(dpkg-deb -f "$DEB" Depends)
for lib in libvirt0 'libglib2.0-0' libxml2 'libjson-glib-1.0-0'; do
  check "Depends names $lib" grep -qE "(^|, )$lib( |,|\$)" <<<"$depends"
done
diag "Depends: $depends"
check "the packaged unit runs /usr/bin/vmkeep" \
  sh -c "dpkg-deb --fsys-tarfile '$DEB' | tar -xOf - ./lib/systemd/system/vmkeep-hibernate.service | grep -q '^ExecStart=/usr/bin/vmkeep '"

# Install, use, remove, purge.
installed=0
at_exit '[ $installed = 1 ] && dpkg -P vmkeep >/dev/null 2>&1'
if dpkg -i "$DEB" >"$WORK/install.log" 2>&1; then installed=1; ok "dpkg -i"
else not_ok "dpkg -i"; diag "$(cat "$WORK/install.log")"; bail_out "not installed"; fi
out=$(/usr/bin/vmkeep --version 2>&1)
check "installed vmkeep --version says $V" test "$out" = "vmkeep $V"
# the test suite's fault injection (tests/e2e/vmkeep-fault) never reaches
# a package: the packaged binary does not read VMKEEP_FAULT
check "the packaged vmkeep has no test hooks (VMKEEP_FAULT)" \
  sh -c '! grep -qa VMKEEP_FAULT /usr/bin/vmkeep'

out=$(man -w vmkeep 2>&1)
check "man -w vmkeep finds the page ($out)" test "$out" = /usr/share/man/man1/vmkeep.1.gz
out=$(man -w 5 vmkeep.conf 2>&1)
check "man -w 5 vmkeep.conf finds the page ($out)" test "$out" = /usr/share/man/man5/vmkeep.conf.5.gz
check "man vmkeep renders" sh -c 'MANPAGER=cat man vmkeep 2>/dev/null | grep -q "PCI LAYOUT POLICY"'
out=$(LANGUAGE=de LC_ALL=C.UTF-8 /usr/bin/vmkeep --help 2>&1)
check "installed: LANGUAGE=de vmkeep --help is German" grep -q 'Globale Optionen' <<<"$out"
check "installed: the timer is not enabled" test ! -e /etc/systemd/system/timers.target.wants/vmkeep-hibernate.timer
check "installed: the watcher is not enabled" test ! -e /etc/systemd/system/multi-user.target.wants/vmkeep-watch.service

files=$(dpkg -L vmkeep | while read -r f; do [ -d "$f" ] || echo "$f"; done)
if dpkg -r vmkeep >"$WORK/remove.log" 2>&1; then ok "dpkg -r"; else not_ok "dpkg -r"; diag "$(cat "$WORK/remove.log")"; fi
check "after dpkg -r: /usr/bin/vmkeep is gone" test ! -e /usr/bin/vmkeep
check "after dpkg -r: the conffile stays" test -f /etc/vmkeep/vmkeep.conf
if dpkg -P vmkeep >"$WORK/purge.log" 2>&1; then installed=0; ok "dpkg -P"; else not_ok "dpkg -P"; diag "$(cat "$WORK/purge.log")"; fi
left=
for f in $files; do [ -e "$f" ] && left+=" $f"; done
[ -e /etc/vmkeep ] && left+=" /etc/vmkeep"
[ -e /usr/share/doc/vmkeep ] && left+=" /usr/share/doc/vmkeep"
if [ -z "$left" ]; then ok "after dpkg -P nothing of the package is left"
else not_ok "after dpkg -P nothing of the package is left"; diag "left:$left"; fi
status=$(dpkg-query -W -f='${db:Status-Status}' vmkeep 2>/dev/null || echo not-installed)
check "dpkg knows vmkeep as not installed ($status)" test "$status" = not-installed
diag "deb.sh took $((SECONDS - start)) s"

done_testing
