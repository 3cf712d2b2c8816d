#!/bin/bash
# CLI: image export --format oci, import DIR, push and pull, refused before
# anything changes (against libvirt's test driver; the real workflows run
# in tests/e2e/registry.sh): usage errors exit 2, a missing skopeo exits 4,
# a directory that is no vmkeep OCI layout exits 5, and none of them leaves
# anything in the store.
set -e
. "$(dirname "$0")/lib.sh"

store=$WORK/store
export VMKEEP_CONFIG=$WORK/vmkeep.conf
printf '[vmkeep]\nuri=%s\nstore=%s\n' "$TEST_URI" "$store" >"$VMKEEP_CONFIG"

# What a run could leave: images, partial images, working directories,
# managed sidecars (a first run creates the store's empty directories).
store_listing() {
  { find "$store/images" "$store/tmp" "$store/managed" -mindepth 1 -printf '%P\n' \
    2>/dev/null || true; } | sort | tr '\n' ' '
}
before=$(store_listing)

# usage RC DESCRIPTION PATTERN ARGS...: vmkeep ARGS exits RC, says PATTERN
# on stderr, and the store is as it was.
usage() {
  local rc=$1 what=$2 want=$3
  shift 3
  run -c "$TEST_URI" "$@"
  expect_rc "$rc" "$what"
  if contains "$ERR" "$want"; then ok "$what: says '$want'"; else
    not_ok "$what: says '$want'"; diag "stderr: $ERR"; fi
  if [ "$(store_listing)" = "$before" ]; then ok "$what: nothing changed in the store"; else
    not_ok "$what: nothing changed in the store"; diag "now: $(store_listing)"; fi
}

usage 2 "push without arguments" "the image NAME and the registry REFERENCE" image push
usage 2 "push with one argument" "the image NAME and the registry REFERENCE" image push web
usage 2 "pull without a reference" "the registry REFERENCE" image pull
usage 2 "push to an OCI layout" "is a oci: reference" image push web "oci:$WORK/x:y"
usage 2 "pull from a docker-archive" "is a docker-archive: reference" \
  image pull "docker-archive:$WORK/x.tar"
usage 2 "a reference with a space" "is not a registry reference" image pull "reg.example/a b"
usage 2 "an empty reference" "is not a registry reference" image pull ""
usage 2 "a reference that starts with /" "is not a registry reference" image pull /etc/passwd
usage 2 "--tls-verify=maybe" "takes true or false" image pull reg.example/a --tls-verify=maybe
usage 2 "--creds on list" "--creds belongs to 'image push pull '" image list --creds u:p
usage 2 "--authfile on export" "--authfile belongs to" image export web -o x --authfile f
usage 2 "--name on push" "--name belongs to 'image import pull '" \
  image push web reg.example/a --name x
usage 2 "--format on import" "--format belongs to 'image export '" image import x --format oci
usage 2 "--format zip" "--format takes tar or oci, not 'zip'" image export web --format zip -o x
usage 2 "--format oci -o -" "writes a directory, not a stream" image export web --format oci -o -
usage 2 "--format oci without -o" "say where to: -o DIR" image export web --format oci
usage 2 "pull under an invalid name" "image name" image pull reg.example/a --name '../x'

# No skopeo on PATH: said so, with the package to install.
nosk=$WORK/nosk
mkdir -p "$nosk"
set +e
PATH=$nosk "$VMKEEP" -c "$TEST_URI" image pull reg.example/a:1 --name a >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
ERR=$(cat "$WORK/err")
OUT=$(cat "$WORK/out")
expect_rc 4 "pull without skopeo"
if contains "$ERR" "skopeo not found" && contains "$ERR" "'skopeo' package"; then
  ok "... says skopeo is missing and which package has it"; else
  not_ok "... says skopeo is missing and which package has it"; diag "stderr: $ERR"; fi
[ "$(store_listing)" = "$before" ] && ok "... nothing changed in the store" ||
  not_ok "... nothing changed in the store"

# Directories that are no vmkeep OCI layout.
d=$WORK/notalayout
mkdir -p "$d"
usage 5 "import of a directory without oci-layout" "oci-layout is missing" image import "$d"

# layout DIR INDEX-JSON MANIFEST-JSON: a layout whose index is INDEX-JSON
# (MDIGEST replaced by the manifest's digest) and whose manifest blob is
# MANIFEST-JSON.
layout() {
  python3 - "$@" <<'EOF'
import hashlib, json, os, sys
d, index, manifest = sys.argv[1:4]
os.makedirs(d + "/blobs/sha256", exist_ok=True)
open(d + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
mb = manifest.encode()
h = hashlib.sha256(mb).hexdigest()
open(d + "/blobs/sha256/" + h, "wb").write(mb)
open(d + "/index.json", "w").write(index.replace("MDIGEST", "sha256:" + h).replace("MSIZE", str(len(mb))))
EOF
}
desc='{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "MDIGEST", "size": MSIZE}'
empty='"config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2}'

layout "$WORK/l1" "{\"schemaVersion\": 2, \"manifests\": [$desc]}" \
  "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"artifactType\": \"application/vnd.example.other\", $empty, \"layers\": []}"
usage 5 "import of another artifact type" "not a vmkeep image" image import "$WORK/l1"

layout "$WORK/l2" "{\"schemaVersion\": 2, \"manifests\": [$desc, $desc]}" \
  "{\"schemaVersion\": 2, \"artifactType\": \"application/vnd.vmkeep.image.v1\", $empty, \"layers\": []}"
usage 5 "import of a layout naming two images" "names several images" image import "$WORK/l2"

layout "$WORK/l3" "{\"schemaVersion\": 2, \"manifests\": [$desc]}" \
  "{\"schemaVersion\": 2, \"artifactType\": \"application/vnd.vmkeep.image.v1\", $empty, \"layers\": [{\"mediaType\": \"application/vnd.vmkeep.state.v1\", \"digest\": \"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\", \"size\": 2, \"annotations\": {\"org.opencontainers.image.title\": \"state.sav\"}}]}"
usage 5 "import of a layout whose first layer is not the sidecar" "carries its sidecar (image.xml) first" \
  image import "$WORK/l3"

layout "$WORK/l4" "{\"schemaVersion\": 2, \"manifests\": [$desc]}" \
  "{\"schemaVersion\": 2, \"artifactType\": \"application/vnd.vmkeep.image.v1\", $empty, \"layers\": [{\"mediaType\": \"application/vnd.vmkeep.sidecar.v1+xml\", \"digest\": \"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\", \"size\": 2, \"annotations\": {\"org.opencontainers.image.title\": \"../../etc/passwd\"}}]}"
usage 5 "import of a layer titled ../../etc/passwd" "a vmkeep image holds" image import "$WORK/l4"

layout "$WORK/l5" "{\"schemaVersion\": 2, \"manifests\": [$desc]}" \
  "{\"schemaVersion\": 2, \"artifactType\": \"application/vnd.vmkeep.image.v1\", $empty, \"layers\": [{\"mediaType\": \"application/vnd.vmkeep.sidecar.v1+xml\", \"digest\": \"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\", \"size\": 2, \"annotations\": {\"org.opencontainers.image.title\": \"image.xml\"}}]}"
usage 5 "import of a layout whose sidecar blob is missing" "is missing or not a regular file" \
  image import "$WORK/l5"

done_testing
