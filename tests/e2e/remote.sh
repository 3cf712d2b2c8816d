#!/bin/bash
# e2e: vmkeep over remote-form URIs to this host's libvirtd (real libvirtd
# + QEMU/TCG, one tiny guest), see vmkeep(1), REMOTE CONNECTIONS.
#   unix      qemu+unix:///system (libvirt's remote driver over the local
#             socket) is this host: create, list, layout --check, devices,
#             tag, diff, and a managed hibernate and wake (a resume: same
#             boot, the tick goes on) work through it
#   localhost qemu+ssh://root@localhost/system is this host too (an ssh of
#             the test's own runs the remote end here): hibernate and wake
#             through it
#   other     qemu+ssh://node7.invalid/system reaches the same daemon
#             through that ssh, but names another host: list, layout,
#             devices, diff and tag list work for real through it; every
#             command that needs this host's files (hibernate, stop, nic
#             add, tag add, image list, watch, ...) is refused with exit
#             5 and ssh never started: the VM runs on untouched, the store
#             byte for byte the same
#   default   no -c, no uri=: libvirt's default URI, here uri_default of a
#             libvirt.conf (bind-mounted in a mount namespace of the
#             test's own) naming node7.invalid: list works, hibernate is
#             refused once libvirt says where it connected
#   tcp       qemu+tcp://localhost/system, 127.0.0.1, [::1]: this host, so
#             not refused; no daemon listens on TCP, so libvirt's
#             connection error (node7.invalid over TCP is refused)
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
command -v unshare >/dev/null || bail_out "unshare (util-linux) is needed for the default-URI case"
[ -f /etc/libvirt/libvirt.conf ] || bail_out "/etc/libvirt/libvirt.conf is missing (libvirt-clients)"

br=$(e2e_bridge_name)
e2e_bridge "$br"
store=$E2E_DIR/store
printf '[vmkeep]\nstore=%s\nvirt-type=qemu\n' "$store" >"$E2E_DIR/vmkeep.conf"
export VMKEEP_CONFIG=$E2E_DIR/vmkeep.conf
unset LIBVIRT_DEFAULT_URI

UNIX=qemu+unix:///system
LOCAL_SSH=qemu+ssh://root@localhost/system
OTHER=qemu+ssh://node7.invalid/system

# An ssh that runs the remote end on this host (what a real ssh to the
# named host would run there), recording each call.
mkdir -p "$E2E_DIR/bin"
cat >"$E2E_DIR/bin/ssh" <<EOF
#!/bin/sh
echo "\$*" >>"$E2E_DIR/ssh.calls"
while [ \$# -gt 0 ] && [ "\$1" != -- ]; do shift; done
[ \$# -ge 2 ] || { echo "test ssh: no '-- HOST COMMAND' in its arguments" >&2; exit 255; }
shift 2
exec sh -c "\$*"
EOF
chmod 0755 "$E2E_DIR/bin/ssh"
export PATH="$E2E_DIR/bin:$PATH"

run_rc() {
	rm -f "$E2E_DIR/ssh.calls"
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1 </dev/null) || RUN_RC=$?
}
vk() {
	local uri=$1
	shift
	run_rc timeout 60 "$VMKEEP" -c "$uri" "$@"
}
# has_text TEXT PART: PART occurs in TEXT, literally
has_text() {
	printf '%s\n' "$1" | grep -qF -- "$2"
}
store_state() {
	(cd "$store" && find . -printf '%y %m %s %T@ %p\n' | LC_ALL=C sort &&
		find . -type f -exec sha256sum {} + | LC_ALL=C sort -k 2)
}

NAME=$(e2e_name a)
LOG=$E2E_DIR/a.serial.log
mac=$(printf '52:54:00:%02x:%02x:01' $((($$ >> 8) & 255)) $(($$ & 255)))
e2e_cleanup_domain "$NAME"

# ---------------------------------------------------------------- unix ---

vk "$UNIX" create "$NAME" --machine pc --virt-type qemu --memory 128 --no-balloon \
	--nic "bridge=$br,mac=$mac" \
	--boot "kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$VK_CMDLINE vk.fill=1" \
	--serial-log "$LOG" --start
is "$RUN_RC" 0 "unix: create --start through $UNIX"
[ "$RUN_RC" = 0 ] || bail_out "create failed: $RUN_OUT"
check_or_bail e2e_wait_ticks_from "$LOG" 0 2 180

vk "$UNIX" list
is "$RUN_RC" 0 "unix: list"
like "$RUN_OUT" "$NAME +running" "unix: list shows the VM running"
vk "$UNIX" layout "$NAME" --check
is "$RUN_RC" 0 "unix: layout --check"
like "$RUN_OUT" "complies with the slot policy" "unix: the layout complies"
vk "$UNIX" devices "$NAME"
is "$RUN_RC" 0 "unix: devices"
vk "$UNIX" tag "$NAME" add web
is "$RUN_RC" 0 "unix: tag add (under the domain's lock in this host's store)"
vk "$UNIX" diff "$NAME" "$NAME"
is "$RUN_RC" 0 "unix: diff of the VM with itself"

# wake_check LABEL BEFORE OFFSET: the VM ticks again after OFFSET of its
# log, in the same boot as tick line BEFORE, counting on.
wake_check() {
	local label=$1 before=$2 off=$3 after
	check_as "$label: the VM ticks again" e2e_wait_ticks_from "$LOG" "$off" 1 90
	after=$(e2e_first_tick_from "$LOG" "$off")
	is "$(e2e_tick_boot "$after")" "$(e2e_tick_boot "$before")" "$label: same boot (resumed)"
	check_as "$label: the tick counts on ($(e2e_tick_n "$before") -> $(e2e_tick_n "$after"))" \
		test "$(e2e_tick_n "$after")" -gt "$(e2e_tick_n "$before")"
}

before=$(e2e_last_tick "$LOG")
vk "$UNIX" hibernate "$NAME"
is "$RUN_RC" 0 "unix: managed hibernate"
is "$(e2e_domstate "$NAME")" "shut off" "unix: the VM is saved"
uuid=$(e2e_virsh domuuid "$NAME")
check_as "unix: its sidecar is in the store" test -s "$store/managed/$uuid.xml"
off=$(e2e_log_size "$LOG")
vk "$UNIX" wake "$NAME"
is "$RUN_RC" 0 "unix: wake"
wake_check unix "$before" "$off"

# ----------------------------------------------------------- localhost ---

before=$(e2e_last_tick "$LOG")
vk "$LOCAL_SSH" hibernate "$NAME"
is "$RUN_RC" 0 "localhost: hibernate through $LOCAL_SSH"
check_as "localhost: through ssh to localhost" grep -q " localhost " "$E2E_DIR/ssh.calls"
is "$(e2e_domstate "$NAME")" "shut off" "localhost: the VM is saved"
off=$(e2e_log_size "$LOG")
vk "$LOCAL_SSH" wake "$NAME"
is "$RUN_RC" 0 "localhost: wake"
wake_check localhost "$before" "$off"

# --------------------------------------------------------------- other ---

vk "$OTHER" list
is "$RUN_RC" 0 "other: list through $OTHER"
like "$RUN_OUT" "$NAME +running" "other: it shows the VM running"
check_as "other: through ssh to node7.invalid" grep -q " node7.invalid " "$E2E_DIR/ssh.calls"
vk "$OTHER" --json list
is "$(printf '%s' "$RUN_OUT" | python3 -c "import json, sys
print([d['tags'] for d in json.load(sys.stdin) if d['name'] == '$NAME'])")" "[['web']]" \
	"other: list --json shows its tag"
vk "$OTHER" layout "$NAME" --check
is "$RUN_RC" 0 "other: layout --check"
vk "$OTHER" devices "$NAME"
is "$RUN_RC" 0 "other: devices"
vk "$OTHER" diff "$NAME" "$NAME"
is "$RUN_RC" 0 "other: diff of two domains"
vk "$OTHER" tag "$NAME" list
is "$RUN_OUT" web "other: tag list"

state=$(store_state)
tick=$(e2e_last_tick "$LOG")
for args in "hibernate $NAME" "hibernate --all" "stop $NAME --force" "undefine $NAME --force" \
	"nic add $NAME --bridge $br" "tag $NAME add db" "image list" "wake $NAME" \
	"fork $NAME --name $NAME-f" "watch" "list --idle" "recover --apply"; do
	# shellcheck disable=SC2086 # the arguments are words
	vk "$OTHER" $args
	is "$RUN_RC" 5 "other: $args is refused"
	check_as "other: $args: says to run vmkeep on node7.invalid" \
		has_text "$RUN_OUT" "but -c $OTHER is libvirt on node7.invalid; run vmkeep on node7.invalid"
	check_as "other: $args: no ssh started" test ! -e "$E2E_DIR/ssh.calls"
done
is "$(e2e_domstate "$NAME")" running "other: the VM runs on"
check_as "other: and keeps ticking" e2e_wait_ticks_from "$LOG" "$(e2e_log_size "$LOG")" 1 30
is "$(e2e_tick_boot "$(e2e_last_tick "$LOG")")" "$(e2e_tick_boot "$tick")" "other: in the same boot"
is "$(e2e_virsh domiflist "$NAME" | grep -c .)" 1 "other: still one NIC"
vk "$UNIX" tag "$NAME" list
is "$RUN_OUT" web "other: its tags unchanged"
if [ "$(store_state)" = "$state" ]; then ok "other: the store is unchanged"
else not_ok "other: the store is unchanged"; diag "$(diff <(echo "$state") <(store_state))"; fi

# ------------------------------------------------------------- default ---

printf 'uri_default = "%s"\n' "$OTHER" >"$E2E_DIR/libvirt.conf"
host_conf=$(sha256sum </etc/libvirt/libvirt.conf)
# in_ns CMD...: CMD with /etc/libvirt/libvirt.conf replaced by the test's,
# in a mount namespace of its own (the host's file is not touched)
in_ns() {
	unshare -m sh -c 'mount --bind "$0" /etc/libvirt/libvirt.conf && exec "$@"' \
		"$E2E_DIR/libvirt.conf" "$@"
}
run_rc in_ns timeout 60 "$VMKEEP" list
is "$RUN_RC" 0 "default: list on libvirt's default URI"
like "$RUN_OUT" "$NAME +running" "default: it shows the VM"
check_as "default: libvirt went to node7.invalid" grep -q " node7.invalid " "$E2E_DIR/ssh.calls"
run_rc in_ns timeout 60 "$VMKEEP" hibernate "$NAME"
is "$RUN_RC" 5 "default: hibernate is refused"
check_as "default: it names the URI libvirt connected to" \
	has_text "$RUN_OUT" "but $OTHER (the URI libvirt connected to) is libvirt on node7.invalid"
is "$(e2e_domstate "$NAME")" running "default: the VM runs on"
if [ "$(store_state)" = "$state" ]; then ok "default: the store is unchanged"
else not_ok "default: the store is unchanged"; diag "$(diff <(echo "$state") <(store_state))"; fi
is "$(sha256sum </etc/libvirt/libvirt.conf)" "$host_conf" \
	"default: the host's libvirt.conf is its own outside the namespace"

# ----------------------------------------------------------------- tcp ---

for uri in qemu+tcp://localhost/system qemu+tcp://127.0.0.1/system 'qemu+tcp://[::1]/system'; do
	vk "$uri" hibernate "$NAME"
	is "$RUN_RC" 1 "tcp: $uri is this host: hibernate not refused, fails to connect"
	check_as "tcp: $uri: libvirt's connection error" \
		has_text "$RUN_OUT" "cannot connect to libvirt at $uri"
	check_as "tcp: $uri: not the refusal" sh -c '! printf "%s" "$1" | grep -q "run vmkeep on"' _ "$RUN_OUT"
done
vk qemu+tcp://node7.invalid/system hibernate "$NAME"
is "$RUN_RC" 5 "tcp: qemu+tcp://node7.invalid/system is refused"
is "$(e2e_domstate "$NAME")" running "tcp: the VM runs on"

done_testing
