#!/bin/bash
# A URI of libvirt on another host (vmkeep(1), REMOTE CONNECTIONS): every
# command that needs this host's files (store, disks, sysfs, bridges, a
# domain's lock) refuses it at once, with exit 5 and a message naming the
# command, the URI, its host and what to run instead; nothing is touched:
# the store stays byte for byte what it was (a missing one is not
# created), no connection is attempted (an `ssh` of the test's own in PATH
# records every call libvirt makes), no recovery runs. Every other command
# tries libvirt, and fails with libvirt's connection error, not the
# refusal. URIs of this host in remote form (localhost, unix) are not
# refused, nor is -c anything for --help. No libvirtd is needed.
. "$(dirname "$0")/lib.sh"
set -e

REMOTE=qemu+ssh://node7.invalid/system
STORE=$WORK/store
printf '[vmkeep]\nstore=%s\n' "$STORE" >"$WORK/vmkeep.conf"
export VMKEEP_CONFIG=$WORK/vmkeep.conf
unset LIBVIRT_DEFAULT_URI

# An ssh that libvirt's ssh transport finds first: it records its
# arguments and fails, as an unreachable host does.
mkdir -p "$WORK/bin"
cat >"$WORK/bin/ssh" <<EOF
#!/bin/sh
echo "\$*" >>"$WORK/ssh.calls"
echo "ssh: connect to host: no route (test)" >&2
exit 255
EOF
chmod +x "$WORK/bin/ssh"
export PATH="$WORK/bin:$PATH"

# A store with something in each place a command could read or change,
# made by vmkeep itself (the test driver's domain 'test', tagged under its
# lock), and an orphaned journal of this host's libvirt, which the
# recovery before a command would warn about.
run -c "$TEST_URI" tag test add keep
expect_rc 0 "setup: tag add makes the store and a lock"
install -d -m 0700 "$STORE/journal" "$STORE/idle" "$STORE/images" "$STORE/images/img1"
printf '<sidecar/>\n' >"$STORE/images/img1/image.xml"
printf '{}\n' >"$STORE/idle/6695eb01-f6a4-8304-79aa-97f2502e193f.json"
touch "$WORK/canary"
printf '{"version":1,"op":"clone","subject":"web2","pid":4242,"started":"2026-12-01T01:30:00Z","facts":{"uri":"%s"},"undo":[{"kind":"unlink","args":["%s"]}]}\n' \
  "$TEST_URI" "$WORK/canary" >"$STORE/journal/clone-4242-0000aaaa.json"

# The store byte for byte: every entry's type, mode, size and mtime (a
# directory's changes when an entry is created or removed in it), and
# every file's content.
store_state () {
  [ -e "$1" ] || { echo "absent"; return; }
  (cd "$1" && find . -printf '%y %m %s %T@ %p\n' | LC_ALL=C sort &&
     find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2)
}
BEFORE=$(store_state "$STORE")

lacks () { ! contains "$1" "$2"; }

# rrun ARGS...: run with -c $REMOTE within 10 s; $MS is how long it took.
rrun () {
  local t0 t1
  rm -f "$WORK/ssh.calls"
  t0=$(date +%s%N)
  set +e
  timeout 10 "$VMKEEP" -c "$REMOTE" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null
  RC=$?
  set -e
  t1=$(date +%s%N)
  MS=$(((t1 - t0) / 1000000))
  OUT=$(cat "$WORK/out")
  ERR=$(cat "$WORK/err")
}

# The commands that need this host's files, one or more argument lists
# each (the first word(s) name the command).
refused=(
  "create vm --memory 256"
  "define $WORK/vm.xml"
  "start vm" "stop vm --force" "undefine vm"
  "nic add vm --bridge br0" "nic remove vm 52:54:00:00:00:01"
  "fs attach vm --tag data --source $WORK" "fs detach vm data"
  "device attach vm --pci 01:00.0" "device detach vm 01:00.0"
  "hibernate vm" "hibernate --all" "hibernate vm --image img2"
  "wake vm" "wake --image img1"
  "clone img1 --name vm2" "fork vm --name vm2"
  "image list" "image inspect img1" "image verify img1" "image rm img1 --force"
  "image export img1 -o $WORK/img1.tar" "image import $WORK/img1.tar"
  "image push img1 oci:$WORK/oci" "image pull oci:$WORK/oci"
  "list --idle" "list --idle --cpu-below 5"
  "diff vm image:img1" "diff image:img1 image:img1"
  "tag vm add web" "tag vm remove web"
  "watch" "watch --min-interval 60"
  "recover" "recover --apply"
)
# The commands libvirt's API serves: they try the connection.
api=(
  "list" "list --all" "layout vm" "layout --all --check" "devices vm"
  "diff vm1 vm2" "tag vm list"
)

for args in "${refused[@]}"; do
  # shellcheck disable=SC2086 # the arguments are words
  rrun $args
  read -r w1 w2 _ <<<"$args"
  # image names its action when the table knows it (image export), else
  # just itself
  case "$w1" in nic | fs | device) cmd="$w1 $w2" ;; *) cmd=$w1 ;; esac
  expect_rc 5 "$args: refused"
  check "$args: names the command, the URI and what to run" \
    contains "$ERR" "vmkeep: error: vmkeep $cmd "
  check "$args: ... but -c $REMOTE is libvirt on node7.invalid" \
    contains "$ERR" "but -c $REMOTE is libvirt on node7.invalid; run vmkeep on node7.invalid (for example: ssh node7.invalid vmkeep $cmd"
  check "$args: one line on stderr, nothing on stdout" \
    test "$(printf '%s\n' "$ERR" | wc -l)" = 1 -a -z "$OUT"
  check "$args: at once (${MS} ms)" test "$MS" -lt 3000
  check "$args: no ssh started" test ! -e "$WORK/ssh.calls"
  check "$args: no recovery ran" lacks "$ERR" web2
  if [ "$(store_state "$STORE")" = "$BEFORE" ]; then ok "$args: the store is unchanged"
  else not_ok "$args: the store is unchanged"; diag "$(diff <(echo "$BEFORE") <(store_state "$STORE"))"; fi
done
check "the journal's undo never ran" test -e "$WORK/canary"
rrun image export img1 -o "$WORK/img1.tar"
check "image export: named with its action" \
  contains "$ERR" "vmkeep: error: vmkeep image export reads and writes this host's store and disk files, but -c $REMOTE is libvirt on node7.invalid; run vmkeep on node7.invalid (for example: ssh node7.invalid vmkeep image export ...)"

# Every command of the table is in one of the lists above.
while IFS= read -r c; do
  found=0
  for args in "${refused[@]}" "${api[@]}" "pin" ; do
    case "$args " in "$c "*) found=1 ;; esac
  done
  check "'$c' is covered by this test" test "$found" = 1
done < <("$VMKEEP" __complete --commands)

# --json: the same error, rendered as every error is (stderr only).
rrun --json hibernate vm
expect_rc 5 "--json hibernate: refused"
check "--json: nothing on stdout" test -z "$OUT"
check "--json: the error on stderr" contains "$ERR" "vmkeep: error: vmkeep hibernate writes"

# The API commands try libvirt: its connection error, not the refusal,
# and no recovery of this host's store for another host's libvirt.
for args in "${api[@]}"; do
  # shellcheck disable=SC2086 # the arguments are words
  rrun $args
  expect_rc 1 "$args: libvirt's connection error"
  check "$args: cannot connect to libvirt at $REMOTE" \
    contains "$ERR" "cannot connect to libvirt at $REMOTE"
  check "$args: through ssh to node7.invalid" grep -q "node7.invalid" "$WORK/ssh.calls"
  check "$args: not the refusal" lacks "$ERR" "run vmkeep on"
  check "$args: no recovery warning about this host's journal" \
    lacks "$ERR" web2
done
# ... which the same command on this host's libvirt does give (so the
# check above can fail)
run -c "$TEST_URI" list
expect_rc 0 "list on this host's libvirt"
check "list on this host's libvirt warns about the journal" contains "$ERR" "interrupted clone of 'web2'"
BEFORE=$(store_state "$STORE")

# Commands without libvirt work whatever the URI.
rrun pin "$abs_top_srcdir/tests/data/pin/pc-address-forms-kept.in.xml"
expect_rc 0 "pin: no libvirt, works"
rrun create vm --memory 256 --virt-type qemu --print-xml
expect_rc 0 "create --print-xml: no libvirt, works"
check "create --print-xml prints the domain" contains "$OUT" "<name>vm</name>"
check "neither started ssh" test ! -e "$WORK/ssh.calls"

# Help needs no host.
rrun help hibernate
expect_rc 0 "help hibernate"
rrun hibernate --help
expect_rc 0 "hibernate --help"
rrun image export --help
expect_rc 0 "image export --help"

# Other transports and forms of another host.
for uri in qemu+tcp://node7.invalid/system qemu+tls://node7.invalid:16514/system \
  "qemu+libssh2://root@node7.invalid:2222/system?known_hosts=/dev/null" \
  qemu+libssh://node7.invalid/system qemu://node7.invalid/system \
  qemu+ssh://user@NODE7.invalid/session; do
  run -c "$uri" hibernate vm
  expect_rc 5 "-c $uri: hibernate refused"
  check "-c $uri: names the host" contains "$ERR" "run vmkeep on "
done
run -c 'qemu+ssh://[2001:db8::7]:22/system' wake vm
expect_rc 5 "an IPv6 server: refused"
check "the IPv6 host without brackets" contains "$ERR" "ssh 2001:db8::7 vmkeep wake"
run -c 'qemu+ext:///system?command=/bin/false' wake vm
expect_rc 5 "the ext transport (a command of its own): refused"
check "it says the command may reach another host" contains "$ERR" "may be libvirt on another host"

# Where the URI came from: uri= of vmkeep.conf, LIBVIRT_DEFAULT_URI.
printf '[vmkeep]\nstore=%s\nuri=%s\n' "$STORE" "$REMOTE" >"$WORK/remote.conf"
VMKEEP_CONFIG=$WORK/remote.conf run hibernate vm
expect_rc 5 "uri= of vmkeep.conf: refused"
check "it names uri= and the file" contains "$ERR" "but uri=$REMOTE in $WORK/remote.conf is libvirt on node7.invalid"
LIBVIRT_DEFAULT_URI=$REMOTE run image list
expect_rc 5 "LIBVIRT_DEFAULT_URI: refused"
check "it names LIBVIRT_DEFAULT_URI" contains "$ERR" "but LIBVIRT_DEFAULT_URI=$REMOTE is libvirt"
if [ "$(store_state "$STORE")" = "$BEFORE" ]; then ok "the store is unchanged by all of these"
else not_ok "the store is unchanged by all of these"; diag "$(diff <(echo "$BEFORE") <(store_state "$STORE"))"; fi

# Strings that do not say where libvirt runs: refused for what needs this
# host (usage error), handed to libvirt otherwise.
run -c node7 hibernate vm
expect_rc 2 "-c node7 (an alias?): hibernate refused as usage error"
check "it says the alias does not say where libvirt runs" \
  contains "$ERR" "is not a URI (it has no scheme"
run -c 'qemu+ssh://[::1/system' image list
expect_rc 2 "a malformed URI: image list refused as usage error"
check "it says the URI does not parse" contains "$ERR" "is not a valid URI"
run -c node7 list
expect_rc 1 "-c node7: list gets libvirt's error"
check "... libvirt's own" contains "$ERR" "cannot connect to libvirt at node7"
check "... without the recovery warning" lacks "$ERR" web2

# A store that does not exist is not created by a refusal.
printf '[vmkeep]\nstore=%s\n' "$WORK/nostore" >"$WORK/nostore.conf"
for args in "hibernate vm" "image import $WORK/img1.tar" "tag vm add web" "recover --apply" "start vm"; do
  # shellcheck disable=SC2086 # the arguments are words
  VMKEEP_CONFIG=$WORK/nostore.conf rrun $args
  expect_rc 5 "no store: $args refused"
  check "no store: $args creates none" test ! -e "$WORK/nostore"
done

# This host in remote form is this host: not refused. No daemon listens
# here, so libvirt's connection error follows.
for uri in qemu+tcp://localhost:1/system qemu+tcp://127.0.0.1:1/system \
  'qemu+tcp://[::1]:1/system' "qemu+unix:///system?socket=$WORK/no-such-socket" \
  qemu+ssh://root@LOCALHOST/system; do
  rm -f "$WORK/ssh.calls"
  VMKEEP_CONFIG=$WORK/nostore.conf run -c "$uri" wake vm
  expect_rc 1 "-c $uri: wake is not refused"
  check "-c $uri: libvirt's connection error" contains "$ERR" "cannot connect to libvirt at $uri"
  check "-c $uri: not the refusal" lacks "$ERR" "run vmkeep on"
done
check "qemu+ssh://root@LOCALHOST went through ssh to LOCALHOST" grep -q "LOCALHOST" "$WORK/ssh.calls"

# -c wins over LIBVIRT_DEFAULT_URI (this host's libvirt: the recovery
# before the command finishes the journal, as it should)
LIBVIRT_DEFAULT_URI=$REMOTE run -c "$TEST_URI" image list
expect_rc 0 "-c wins over LIBVIRT_DEFAULT_URI"
check "the recovery on this host's libvirt undid the journal" test ! -e "$WORK/canary"

done_testing
