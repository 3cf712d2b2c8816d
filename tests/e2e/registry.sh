#!/bin/bash
# e2e: hibernate images as OCI artifacts, through a real registry (Debian's
# docker-registry, the distribution registry, on 127.0.0.1 with its storage
# in the test's directory) with skopeo as the transport.
#
# A q35 VM with two NICs whose disk is a qcow2 overlay over a base image:
#   layout    `image export --format oci -o DIR`: an OCI image layout
#             (oci-layout, index.json, blobs/sha256) with one artifact
#             manifest whose layers are the sidecar, the state and each
#             file of the disk's chain, every blob named by its SHA-256.
#   standard  skopeo itself copies that layout to the registry and back,
#             and the copy imports.
#   shared    a second image of the same VM (hibernated again after a wake)
#             shares the first one's frozen files: its push uploads only
#             the new blobs (counted in the registry's storage).
#   pull      the source, its disks and both images are removed; `image
#             pull` under a new name, then `clone`: the clone resumes the
#             source's guest (boot id, tick counter, memory checksum) with
#             every NIC's MAC, PCI address and ifindex.
#   tampered  a blob altered in the registry's storage, and an altered or
#             truncated blob in a layout, are refused; the store is
#             unchanged.
#   killed    a pull SIGKILLed while it copies leaves nothing listed, no
#             skopeo running, and the next run removes its working
#             directory; a re-run succeeds. The same for push and pull
#             stopped at each fault point.
#   creds     a registry that wants a user: refused without credentials or
#             with a wrong password, taken with --creds and --authfile.
set -eu
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

e2e_require --vmkeep
e2e_guest
for p in python3 xmllint skopeo docker-registry; do
	command -v "$p" >/dev/null || bail_out "$p is needed (tools/host-setup.sh deps installs it)"
done

# shellcheck disable=SC2119 # no suffix: one bridge per run
br=$(e2e_bridge_name)
e2e_bridge "$br"

store=$E2E_DIR/store
conf=$E2E_DIR/vmkeep.conf
{
	printf '[vmkeep]\nuri=%s\nstore=%s\nvirt-type=qemu\n' "$E2E_URI" "$store"
	e2e_import_places
} >"$conf"
export VMKEEP_CONFIG=$conf

vk() { "$VMKEEP" -c "$E2E_URI" "$@"; }
vsh() { e2e_virsh "$@"; }

run_rc() {
	RUN_RC=0
	RUN_OUT=$("$@" 2>&1) || RUN_RC=$?
}

listed_images() {
	local d
	for d in "$store"/images/*/; do
		[ -f "$d/image.xml" ] && basename "$d"
	done
	return 0
}

# Everything in the store's images/ and tmp/ directories, dot-files
# included.
store_listing() {
	find "$store/images" "$store/tmp" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null |
		sort | tr '\n' ' '
}

# "mac ifindex bdf pcipath acpi" per NIC, sorted.
guest_nics() {
	local v
	e2e_tick_nics "$1" | while IFS= read -r v; do
		printf '%s %s %s %s %s\n' "$(e2e_field "$v" 3)" "$(e2e_field "$v" 2)" \
			"$(e2e_field "$v" 4)" "$(e2e_field "$v" 5)" "$(e2e_field "$v" 6)"
	done | sort
}

# json FIELD-EXPRESSION: read the JSON document on stdin with python.
json() {
	python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}

# ----------------------------------------------------------- registry ---

REG=$E2E_DIR/registry
mkdir -p "$REG/storage"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$REG/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REG/storage
http:
  addr: 127.0.0.1:$port
EOF
e2e_spawn "$REG/registry.log" docker-registry serve "$REG/config.yml" >/dev/null
registry_up() {
	python3 - "$port" <<'EOF'
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/v2/" % sys.argv[1], timeout=2).read()
EOF
}
for _ in $(seq 1 60); do
	registry_up 2>/dev/null && break
	sleep 0.5
done
check_or_bail registry_up
R=127.0.0.1:$port
# Blob uploads the registry completed (its access log: PUT .../blobs/uploads/...).
registry_uploads() {
	grep -c '"PUT /v2/[^ ]*/blobs/uploads/' "$REG/registry.log" || true
}
registry_blobs() {
	find "$REG/storage/docker/registry/v2/blobs" -name data 2>/dev/null | wc -l
}

macbase=$(printf '52:54:00:%02x:%02x' $((($$ >> 8) & 255)) $(($$ & 255)))
SRC=$(e2e_name src)
CLONE=$(e2e_name clone)
LOG=$E2E_DIR/$SRC.log
CLOG=$E2E_DIR/logs/$CLONE-serial0.log
BASE=$E2E_DIR/base.qcow2
DISK=$E2E_DIR/src.qcow2
for d in "$SRC" "$CLONE"; do
	e2e_cleanup_domain "$d"
done

# ------------------------------------------------------------- set up ---

qemu-img create -q -f qcow2 "$BASE" 32M
qemu-io -f qcow2 -c "write -P 0x5a 0 4M" "$BASE" >/dev/null
qemu-img create -q -f qcow2 -F qcow2 -b "$BASE" "$DISK"
boot="kernel=$VK_KERNEL,initrd=$VK_INITRD,cmdline=$VK_CMDLINE vk.fill=2"
check_or_bail vk create "$SRC" --machine q35 --virt-type qemu --memory 128 \
	--nic "bridge=$br,mac=$macbase:01" --nic "bridge=$br,mac=$macbase:02" \
	--disk "$DISK" --no-balloon --boot "$boot" --serial-log "$LOG" --start
check_or_bail e2e_wait_ticks_from "$LOG" 0 2 180
check_or_bail vk hibernate "$SRC" --image img-a

# ------------------------------------------------------------- layout ---

L=$E2E_DIR/layout-a
check_as "image export --format oci -o DIR" vk image export img-a --format oci -o "$L"
is "$(cat "$L/oci-layout")" '{"imageLayoutVersion": "1.0.0"}' "oci-layout of version 1.0.0"
mdigest=$(json 'd["manifests"][0]["digest"]' <"$L/index.json")
is "$(json 'd["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]' <"$L/index.json")" \
	img-a "index.json names the image by its ref name"
M=$L/blobs/sha256/${mdigest#sha256:}
is "$(json 'd["artifactType"]' <"$M")" application/vnd.vmkeep.image.v1 "the manifest's artifactType"
is "$(json 'd["config"]["mediaType"]' <"$M")" application/vnd.oci.empty.v1+json "the empty config"
is "$(json '" ".join(l["annotations"]["org.opencontainers.image.title"] for l in d["layers"])' <"$M")" \
	"image.xml state.sav disks/vda.qcow2 disks/vda.1.qcow2" \
	"layers: sidecar, state, the frozen overlay and its base, each titled"
is "$(json '" ".join(l["mediaType"].replace("+zstd", "") for l in d["layers"])' <"$M")" \
	"application/vnd.vmkeep.sidecar.v1+xml application/vnd.vmkeep.state.v1 application/vnd.vmkeep.disk.qcow2.v1 application/vnd.vmkeep.disk.qcow2.v1" \
	"each layer has its media type"
is "$(cd "$L/blobs/sha256" && for f in *; do
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$f" ] || echo "$f"
done)" "" "every blob is named by its SHA-256"
check_as "the sidecar layer is the store's sidecar, byte for byte" cmp -s \
	"$L/blobs/sha256/$(json 'd["layers"][0]["digest"][7:]' <"$M")" "$store/images/img-a/image.xml"
base_blob=$L/blobs/sha256/$(json 'd["layers"][3]["digest"][7:]' <"$M")
if [ "$(json 'd["layers"][3]["mediaType"]' <"$M")" = application/vnd.vmkeep.disk.qcow2.v1+zstd ]; then
	check_as "the base layer is the base file (zstd)" cmp -s <(zstd -dc "$base_blob") "$BASE"
else
	check_as "the base layer is the base file" cmp -s "$base_blob" "$BASE"
fi
diag "layout: $(du -sb "$L" | cut -f1) bytes; layers: $(json '", ".join("%s %s %d" % (l["annotations"]["org.opencontainers.image.title"], l["mediaType"].split(".")[-1], l["size"]) for l in d["layers"])' <"$M")"
run_rc vk image export img-a --format oci -o "$L"
is "$RUN_RC" 5 "export refuses to replace an existing DIR without --force"
run_rc vk image export img-a --format oci -o -
is "$RUN_RC" 2 "--format oci -o - is a usage error"
run_rc vk image export img-a --format zip -o "$E2E_DIR/x"
is "$RUN_RC" 2 "an unknown --format is a usage error"
is "$(find "$E2E_DIR" -maxdepth 1 -name '.layout-a*' | wc -l)" 0 "no working directory left beside the layout"

# ------------------------------------------------ skopeo, by itself ---

check_as "skopeo copies the layout to the registry" \
	skopeo copy --dest-tls-verify=false "oci:$L:img-a" "docker://$R/vmkeep/layout:1"
check_as "skopeo copies it back into a new layout" \
	skopeo copy --src-tls-verify=false "docker://$R/vmkeep/layout:1" "oci:$E2E_DIR/back:x"
check_as "image import DIR of skopeo's copy" vk image import "$E2E_DIR/back" --name img-back
check_as "image verify of the imported layout" vk image verify img-back
frozen_back=$store/images/img-back/disks/vda.qcow2
like "$(qemu-img info -U "$frozen_back" | grep '^backing file:')" \
	"^backing file: vda.1.qcow2 \\(actual path: $store/images/img-back/disks/vda.1.qcow2\\)\$" \
	"the imported overlay is backed by its base beside it (a relative name)"
check_as "the imported chain reads back as the frozen disk did" \
	qemu-img compare -q "$frozen_back" "$store/images/img-a/disks/vda.qcow2"
check vk image rm img-back

# ------------------------------------------------------------- shared ---

run_rc vk --json image push img-a "$R/vmkeep/src:a" --tls-verify=false
is "$RUN_RC" 0 "image push img-a"
[ "$RUN_RC" = 0 ] || diag "$RUN_OUT"
PUSH_A=$RUN_OUT
n_a=$(registry_blobs)
u_a=$(registry_uploads)
diag "after the first push: $n_a blobs in the registry, $u_a uploads so far"

check_or_bail vk wake --image img-a
check_or_bail e2e_wait_ticks_from "$LOG" "$(e2e_log_size "$LOG")" 2 90
check_or_bail vk hibernate "$SRC" --image img-b
BEFORE=$(e2e_last_tick "$LOG" || true)
layers_b=$(vk --json image push img-b "$R/vmkeep/src:b" --tls-verify=false) ||
	not_ok "image push img-b"
n_b=$(registry_blobs)
new_b=$(python3 - "$PUSH_A" "$layers_b" <<'EOF'
import json, sys
a = {l["digest"] for l in json.loads(sys.argv[1])["layers"]}
b = json.loads(sys.argv[2])
print(len({l["digest"] for l in b["layers"]} - a), len(b["layers"]))
EOF
)
read -r fresh total <<<"$new_b"
uploaded=$(($(registry_uploads) - u_a))
diag "img-b: $total layers, $fresh not in img-a; $uploaded uploaded; the registry went from $n_a to $n_b blobs"
is "$total" 5 "img-b's disk is a chain of 3 files (its overlay, img-a's frozen overlay, the base)"
is "$fresh" 3 "img-b shares 2 layers with img-a (the frozen files)"
is "$((n_b - n_a))" "$((fresh + 1))" "the registry stored only img-b's new layers and its manifest"
is "$uploaded" "$fresh" "only the new layers were uploaded (the registry's access log)"

# --------------------------------------------------------------- pull ---

# Nothing of the source is left on this host: the pull must carry it all.
check vsh undefine "$SRC" --managed-save
check vk image rm img-b --force
check vk image rm img-a --force
rm -f "$DISK" "$BASE" "$DISK".* "$E2E_DIR"/src*.qcow2
is "$(listed_images | tr '\n' ' ')" "" "no image is left in the store"
run_rc vk image pull "$R/vmkeep/src:b" --tls-verify=false --name pulled
is "$RUN_RC" 0 "image pull under a new name"
like "$RUN_OUT" "Image 'pulled' imported from $R/vmkeep/src:b" "pull says what it imported"
is "$(listed_images | tr '\n' ' ')" "pulled " "the pulled image is listed"
check_as "image verify pulled" vk image verify pulled
is "$(find "$store/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" 0 "no working directory left"
check_as "clone the pulled image" vk clone pulled --name "$CLONE"
check_as "the clone's guest ticks" e2e_wait_ticks_from "$CLOG" 0 2 90
first=$(e2e_first_tick_from "$CLOG" 0)
after=$(e2e_last_tick "$CLOG")
is "$(e2e_tick_boot "$first")" "$(e2e_tick_boot "$BEFORE")" "clone: the source's boot id (resumed, not booted)"
if [ "$(e2e_tick_n "$first")" -gt "$(e2e_tick_n "$BEFORE")" ]; then
	ok "clone: tick counter continues"
else
	not_ok "clone: tick counter continues"
fi
is "$(e2e_tick_mem "$after")" "$(e2e_tick_mem "$BEFORE")" "clone: memory checksum unchanged"
is "$(guest_nics "$after")" "$(guest_nics "$BEFORE")" \
	"clone: every NIC keeps its MAC, ifindex, PCI address, PCI path and ACPI index"
is "$(e2e_tick_nics "$after" | wc -l)" 2 "clone: the guest sees both NICs"
check vsh destroy "$CLONE"

# ----------------------------------------------------------- tampered ---

before=$(store_listing)
state_digest=$(json 'd["layers"][1]["digest"][7:]' <<<"$layers_b")
data=$REG/storage/docker/registry/v2/blobs/sha256/${state_digest:0:2}/$state_digest/data
cp "$data" "$E2E_DIR/state.blob"
printf 'X' | dd of="$data" bs=1 seek=4000 conv=notrunc status=none
run_rc vk image pull "$R/vmkeep/src:b" --tls-verify=false --name tampered
isnt "$RUN_RC" 0 "a pull of a blob altered in the registry fails"
like "$RUN_OUT" "$state_digest|[Dd]igest" "... naming the digest"
like "$RUN_OUT" "nothing was imported" "... saying nothing was imported"
is "$(store_listing)" "$before" "... and the store is unchanged"
cp "$E2E_DIR/state.blob" "$data"

check vk image export pulled --format oci -o "$E2E_DIR/lay-p"
M=$E2E_DIR/lay-p/blobs/sha256/$(json 'd["manifests"][0]["digest"][7:]' <"$E2E_DIR/lay-p/index.json")
blob=$E2E_DIR/lay-p/blobs/sha256/$(json 'd["layers"][2]["digest"][7:]' <"$M")
cp "$blob" "$E2E_DIR/disk.blob"
printf 'X' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
run_rc vk image import "$E2E_DIR/lay-p" --name altered
is "$RUN_RC" 5 "an altered blob in a layout is refused (exit 5)"
like "$RUN_OUT" "was altered or damaged" "... saying so"
is "$(store_listing)" "$before" "... and the store is unchanged"
head -c $(($(stat -c %s "$E2E_DIR/disk.blob") / 2)) "$E2E_DIR/disk.blob" >"$blob"
run_rc vk image import "$E2E_DIR/lay-p" --name truncated
is "$RUN_RC" 5 "a truncated blob in a layout is refused (exit 5)"
like "$RUN_OUT" "truncated" "... saying so"
is "$(store_listing)" "$before" "... and the store is unchanged"

# ------------------------------------------------------------- killed ---

before=$(store_listing)
"$VMKEEP" -c "$E2E_URI" image pull "$R/vmkeep/src:b" --tls-verify=false --name killed \
	>"$E2E_DIR/killed.out" 2>&1 7>&- &
kpid=$!
for _ in $(seq 1 100); do
	pgrep -f "skopeo copy.*$R/vmkeep/src:b" >/dev/null && break
	sleep 0.1
done
check_as "the pull started skopeo" pgrep -f "skopeo copy.*$R/vmkeep/src:b"
kill -KILL "$kpid"
wait "$kpid" 2>/dev/null || true
sleep 1
is "$(pgrep -f "skopeo copy.*$R/vmkeep/src:b" | wc -l)" 0 "no skopeo left running after the SIGKILL"
is "$(listed_images | tr '\n' ' ')" "pulled " "the killed pull left nothing listed"
check_as "the next vmkeep runs (and recovers)" vk image list
is "$(store_listing)" "$before" "... and nothing of the killed pull is left in the store"
check_as "a re-run of the pull succeeds" vk image pull "$R/vmkeep/src:b" --tls-verify=false --name killed
check_as "image verify killed" vk image verify killed

# The fault hook's points (tests/e2e/vmkeep-fault): stopped at each, the
# next vmkeep leaves nothing of the run and a re-run works.
for spec in push-copy:sigkill push-copy:sigterm pull-copy:sigkill pull-copy:sigterm \
	pull-import:sigkill pull-import:sigterm; do
	before=$(store_listing)
	imgs=$(listed_images | tr '\n' ' ')
	case $spec in
	push*) args=(image push pulled "$R/vmkeep/faults:${spec%%:*}" --tls-verify=false) ;;
	*) args=(image pull "$R/vmkeep/src:b" --tls-verify=false --name f) ;;
	esac
	run_rc env VMKEEP_FAULT="$spec" "$VMKEEP_FAULT_BIN" -c "$E2E_URI" "${args[@]}"
	isnt "$RUN_RC" 0 "$spec: stopped there"
	run_rc vk recover --apply
	is "$RUN_RC" 0 "$spec: vmkeep recover --apply"
	is "$(listed_images | tr '\n' ' ')" "$imgs" "$spec: no image added"
	is "$(store_listing)" "$before" "$spec: nothing of the run left in the store"
	is "$(find "$store/journal" -name '*.json' 2>/dev/null | wc -l)" 0 "$spec: no journal left"
	check_as "$spec: a re-run succeeds" vk "${args[@]}"
	[ "${spec%%-*}" = push ] || check vk image rm f
done

# ----------------------------------------------------------- terminal ---

# On a terminal (script(1) gives one): vmkeep's progress while the layout
# is written, then skopeo's own, on stderr.
tty_out=$(script -qec "stty cols 200 rows 50; '$VMKEEP' -c '$E2E_URI' image push pulled '$R/vmkeep/tty:1' --tls-verify=false" /dev/null | tr -d '\r')
like "$tty_out" "Preparing 'pulled'.*done" "push on a terminal shows vmkeep's progress"
like "$tty_out" "Copying blob" "... and skopeo's"
like "$tty_out" "Image 'pulled' pushed to docker://$R/vmkeep/tty:1" "... and the summary"
run_rc vk --json image push pulled "$R/vmkeep/json:1" --tls-verify=false
is "$(python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); print(d["image"], d["reference"])' <<<"$RUN_OUT")" \
	"pulled docker://$R/vmkeep/json:1" "push --json prints one result document and nothing else"

# -------------------------------------------------------- credentials ---

# A second registry that wants a user (htpasswd, bcrypt): skopeo's own
# options reach it through vmkeep's. No auth file of the host's is read
# (REGISTRY_AUTH_FILE for skopeo; the registry itself reads REGISTRY_*
# variables as its configuration, so it starts without it).
AREG=$E2E_DIR/auth-registry
mkdir -p "$AREG/storage"
python3 -W ignore -c 'import crypt; print("vk:" + crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))' \
	>"$AREG/htpasswd"
aport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$AREG/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $AREG/storage
auth:
  htpasswd:
    realm: vmkeep-test
    path: $AREG/htpasswd
http:
  addr: 127.0.0.1:$aport
EOF
e2e_spawn "$AREG/registry.log" env -u REGISTRY_AUTH_FILE docker-registry serve "$AREG/config.yml" >/dev/null
export REGISTRY_AUTH_FILE=$E2E_DIR/no-auth.json
A=127.0.0.1:$aport
for _ in $(seq 1 60); do
	python3 -c "import urllib.request, urllib.error
try: urllib.request.urlopen('http://$A/v2/', timeout=2)
except urllib.error.HTTPError as e: exit(0 if e.code == 401 else 1)" 2>/dev/null && break
	sleep 0.5
done
before=$(store_listing)
run_rc vk image push pulled "$A/vmkeep/auth:1" --tls-verify=false
isnt "$RUN_RC" 0 "a push without credentials to a registry that wants them fails"
like "$RUN_OUT" "unauthorized|authentication required" "... with the registry's reason"
is "$(store_listing)" "$before" "... and leaves nothing in the store"
run_rc vk image push pulled "$A/vmkeep/auth:1" --tls-verify=false --creds vk:wrong
isnt "$RUN_RC" 0 "a push with a wrong password fails"
check_as "a push with --creds" vk image push pulled "$A/vmkeep/auth:1" --tls-verify=false --creds vk:s3cret
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$A" "$(printf 'vk:s3cret' | base64)" >"$E2E_DIR/auth.json"
check_as "a pull with --authfile" vk image pull "$A/vmkeep/auth:1" --tls-verify=false \
	--authfile "$E2E_DIR/auth.json" --name authed
check_as "image verify authed" vk image verify authed
run_rc vk image pull "$A/vmkeep/auth:1" --tls-verify=false --name anon
isnt "$RUN_RC" 0 "a pull without credentials fails"
is "$(listed_images | tr '\n' ' ')" "authed killed pulled " "... and adds nothing"
check vk image rm authed

# ------------------------------------------------------------- usage ---

run_rc vk image push pulled "oci:$E2E_DIR/x:y"
is "$RUN_RC" 2 "push to another transport is a usage error"
run_rc vk image pull "-x" --name y
is "$RUN_RC" 2 "a reference that looks like an option is a usage error"
run_rc vk image pull "$R/vmkeep/src:b" --tls-verify=maybe
is "$RUN_RC" 2 "--tls-verify takes true or false"
run_rc vk image pull "$R/vmkeep/src:b" --name pulled --tls-verify=false
is "$RUN_RC" 5 "a pull under an existing name is refused"
run_rc vk image push pulled "$R/vmkeep/src:c" --name x
is "$RUN_RC" 2 "--name belongs to import and pull"
run_rc vk image pull "$R/vmkeep/none:x" --tls-verify=false --name none
isnt "$RUN_RC" 0 "a pull of a reference the registry does not have fails"
is "$(listed_images | tr '\n' ' ')" "killed pulled " "... and adds nothing"

done_testing
