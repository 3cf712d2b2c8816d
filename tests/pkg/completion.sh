#!/bin/bash
# Bash completion (data/vmkeep.bash-completion): drive _vmkeep the way bash
# does (COMP_LINE, COMP_POINT, COMP_WORDS split at COMP_WORDBREAKS,
# COMP_CWORD) and check the candidates. The real binary provides commands,
# options and domains (libvirt's test driver); a stub binary with commands
# that take images and tags checks those, independent of which commands
# exist yet.
. "$(dirname "$0")/lib.sh"

# shellcheck source=../../data/vmkeep.bash-completion
. "$abs_top_srcdir/data/vmkeep.bash-completion"
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'

# comp LINE: complete at the end of LINE; candidates, sorted, in $GOT (one
# line each).
comp () {
  local line=$1 w rest
  COMP_LINE=$line
  COMP_POINT=${#line}
  COMP_WORDS=()
  # bash's split: whitespace separates, each run of other break characters
  # is a word of its own.
  rest=$line
  while [ -n "$rest" ]; do
    rest=${rest#"${rest%%[![:space:]]*}"}
    [ -n "$rest" ] || break
    if [[ $rest =~ ^([\"\'\>\<=\;\|\&\(:]+)(.*)$ ]] || [[ $rest =~ ^([^[:space:]\"\'\>\<=\;\|\&\(:]+)(.*)$ ]]; then
      COMP_WORDS+=("${BASH_REMATCH[1]}")
      rest=${BASH_REMATCH[2]}
    fi
  done
  [[ $line == *[[:space:]] || ${#COMP_WORDS[@]} -eq 0 ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _vmkeep "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]:-}"
  GOT=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort)
}

# expect DESCRIPTION LINE WORD...: the candidates are exactly WORD...
expect () {
  local d=$1 line=$2; shift 2
  local want
  want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
  comp "$line"
  if [ "$GOT" = "$want" ]; then ok "$d"
  else not_ok "$d"; diag "line: '$line'" "want: $(echo $want)" "got:  $(echo $GOT)"; fi
}
# expect_has DESCRIPTION LINE WORD...: the candidates include WORD...
expect_has () {
  local d=$1 line=$2; shift 2
  comp "$line"
  local w missing=
  for w in "$@"; do grep -qxF -- "$w" <<<"$GOT" || missing+=" $w"; done
  if [ -z "$missing" ]; then ok "$d"
  else not_ok "$d"; diag "line: '$line'" "missing:$missing" "got: $(echo $GOT)"; fi
}
# expect_lacks DESCRIPTION LINE WORD...
expect_lacks () {
  local d=$1 line=$2; shift 2
  comp "$line"
  local w found=
  for w in "$@"; do grep -qxF -- "$w" <<<"$GOT" && found+=" $w"; done
  if [ -z "$found" ]; then ok "$d"
  else not_ok "$d"; diag "line: '$line'" "unexpected:$found"; fi
}

V=$VMKEEP
check "the completion is registered for vmkeep" grep -q -- '-F _vmkeep' <<<"$(complete -p vmkeep)"

# --- commands, from 'vmkeep --help' ----------------------------------------
helpcmds=$(LC_ALL=C "$V" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' | sort -u)
[ -n "$helpcmds" ] || bail_out "no commands in 'vmkeep --help'"
# shellcheck disable=SC2086
expect "command names (the first words of --help's list, and help)" "$V " $helpcmds help
expect "a command from its prefix" "$V cre" create
# Two-word commands ("nic add"): the name column holds a space.
twowords=$(LC_ALL=C "$V" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
           on { line = substr($0, 3); i = index(line, "  "); if (i) { name = substr(line, 1, i - 1); if (name ~ / /) print name } }')
for g in $(awk '{ print $1 }' <<<"$twowords" | sort -u); do
  subs=$(awk -v g="$g" '$1 == g { print $2 }' <<<"$twowords")
  # shellcheck disable=SC2086
  expect "second words of the '$g' group" "$V $g " $subs
  # shellcheck disable=SC2086
  expect "'help $g' completes the second words too" "$V help $g " $subs
done
# shellcheck disable=SC2086
expect "'help' completes command names" "$V help " $helpcmds
expect "global options" "$V --j" --json
expect_has "global options after -c URI" "$V -c test:///default -" --json --quiet --version
expect "command names after global options" "$V -q --json -c test:///default cre" create

# --- options of a command, from 'vmkeep help CMD' --------------------------
create_opts=$(LC_ALL=C "$V" help create | grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]*' | tr -d ' ,' | grep -vx -- '--help' | sort -u)
[ -n "$create_opts" ] || bail_out "no options in 'vmkeep help create'"
# shellcheck disable=SC2086
expect "options of create" "$V create --" $create_opts
expect_has "short options of create" "$V create -" -m --memory --print-xml
expect "an option from its prefix" "$V create --print" --print-xml
expect "values of --machine" "$V create --machine " q35 pc
expect "values of --virt-type" "$V create --virt-type k" kvm
expect "--opt=VALUE after '=' (bash keeps '--machine=' apart)" "$V create --machine=q" q35
expect "options of a two-word command" "$V nic remove --c" --config
expect "values of nic add --model" "$V nic add web --model e1000" e1000e e1000

# --- domain names, honouring -c --------------------------------------------
expect_has "domain names from the test driver (-c test:///default)" "$V -c test:///default start " test
expect_has "domain names with --connect=URI" "$V --connect=test:///default layout " test
expect_has "domain names for a later DOMAIN... argument" "$V -c test:///default start test " test
expect "domain names from a prefix" "$V -c test:///default stop te" test
nodefile=$abs_top_srcdir/tests/data/cli/node.xml
if [ -f "$nodefile" ]; then
  want=$(LC_ALL=C "$V" -q --json -c "test://$nodefile" list --all | grep -oE '^    "name" : "[^"]*"' | sed 's/.*: "//; s/"$//')
  if [ -n "$want" ]; then
    # shellcheck disable=SC2086
    expect "-c picks the connection: the domains of $nodefile" "$V -c test://$nodefile start " $want
  else
    not_ok "-c picks the connection"; diag "'vmkeep -c test://$nodefile list --all' shows no domain"
  fi
fi
expect "no candidates for a NAME that is new (create NAME)" "$V -c test:///default create "
expect "the literal words of tag's usage" "$V -c test:///default tag test " add list remove
expect "-c URI values" "$V -c test:///d" ///default
expect_has "-c URI values, whole" "$V -c " qemu:///system test:///default

# --- files -------------------------------------------------------------------
mkdir -p "$WORK/files"
touch "$WORK/files/dom-a.xml" "$WORK/files/dom-b.xml"
expect "FILE arguments complete file names" "$V pin $WORK/files/dom-" "$WORK/files/dom-a.xml" "$WORK/files/dom-b.xml"

# --- without COMP_LINE (COMP_WORDS only) ------------------------------------
unset COMP_LINE COMP_POINT
COMP_WORDS=("$V" create --machine "")
COMP_CWORD=3
_vmkeep "$V" "" --machine
got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
if [ "$got" = "pc q35 " ]; then ok "works from COMP_WORDS alone"; else not_ok "works from COMP_WORDS alone"; diag "got: $got"; fi

# --- images and tags: a stub vmkeep with commands that take them ------------
mkdir -p "$WORK/store/images/alpha" "$WORK/store/images/beta-2" "$WORK/bin" \
  "$WORK/store/images/incomplete" "$WORK/store/images/.gamma.partial-Xa12"
touch "$WORK/store/images/alpha/image.xml" "$WORK/store/images/beta-2/image.xml" \
  "$WORK/store/images/.gamma.partial-Xa12/image.xml" "$WORK/store/images/not-a-dir"
printf '# test config\n[vmkeep]\nuri=test:///default\n store = %s \n' "$WORK/store" >"$WORK/vmkeep.conf"
# Domains with vmkeep tags, for the test driver: tags are the domains'
# own metadata.
tagged () {
  printf "  <domain type='test'><name>%s</name><memory unit='MiB'>64</memory>" "$1"
  printf "<os><type arch='x86_64' machine='pc'>hvm</type></os><metadata>"
  printf "<vmkeep:tags xmlns:vmkeep='https://vmkeep.org/ns/domain/1'>"
  shift
  for t in "$@"; do printf '<vmkeep:tag>%s</vmkeep:tag>' "$t"; done
  printf '</vmkeep:tags></metadata></domain>\n'
}
{ echo '<node>'; tagged web1 nightly web; tagged db1 db nightly; tagged plain; echo '</node>'; } >"$WORK/tagged.xml"
TAGGED=test://$WORK/tagged.xml
export VMKEEP_CONFIG=$WORK/vmkeep.conf

expect "complete image names from STORE/images (store= of \$VMKEEP_CONFIG)" "$V hibernate web1 --image " alpha beta-2
shopt -s dotglob
expect "image names with dotglob set: partial images stay hidden" "$V clone " alpha beta-2
shopt -u dotglob
expect "image names: --image=PREFIX" "$V hibernate --image=al" alpha
expect "image names for NAME of the image command" "$V image inspect " alpha beta-2
expect "nothing after the last argument" "$V image rm beta-2 "
expect "image names for an IMAGE argument" "$V clone al" alpha
expect "tags for --tag, from the domains' metadata" "$V -c $TAGGED hibernate --tag " db nightly web
expect "tags for TAG... arguments" "$V -c $TAGGED tag web1 add n" nightly
expect "domain names of the connection -c names" "$V -c $TAGGED hibernate " db1 plain web1
expect "-c URI is used for tags too" "$V -c test:///default hibernate --tag "
printf '# test config\n[vmkeep]\nuri=%s\nstore=%s\n' "$TAGGED" "$WORK/store" >"$WORK/tagged.conf"
VMKEEP_CONFIG=$WORK/tagged.conf expect "without -c, the configuration's URI" "$V start " db1 plain web1
expect "a two-word command's second words" "$V nic " add remove
check "the hidden __complete is not in --help" bash -c "! '$V' --help | grep -q __complete"

# --- the real binary's image, diff, clone/fork and device commands ----------
# (image names from $WORK/store through VMKEEP_CONFIG, domains from the test
# driver)
VMKEEP_CONFIG=$WORK/vmkeep.conf
expect "image actions, export, import, push and pull included" "$V image " export import inspect \
  list pull push rm verify
expect "image export NAME: image names" "$V image export " alpha beta-2
expect "image push NAME: image names" "$V image push " alpha beta-2
expect "image export --format: tar and oci" "$V image export alpha --format " oci tar
expect "image export NAME -o FILE: file names" "$V image export alpha -o $WORK/files/dom-" \
  "$WORK/files/dom-a.xml" "$WORK/files/dom-b.xml"
expect "image export NAME --output=FILE: file names (bash keeps '--output=' apart)" \
  "$V image export alpha --output=$WORK/files/dom-" "$WORK/files/dom-a.xml" "$WORK/files/dom-b.xml"
expect "image import FILE: file names, not image names" "$V image import $WORK/files/dom-" \
  "$WORK/files/dom-a.xml" "$WORK/files/dom-b.xml"
expect "image import FILE --name: no candidates for a new name" "$V image import $WORK/files/dom-a.xml --name "
expect "image import - (stdin) takes no further argument" "$V image import - "
expect "image list takes no argument" "$V image list "
expect "image rm NAME after another action" "$V image rm al" alpha
expect_has "options of image" "$V image --" --force --output --name --progress
expect_has "diff A: domains and image:NAME" "$V -c test:///default diff " test image:alpha image:beta-2
expect "diff A: image: completes image names" "$V -c test:///default diff image:" alpha beta-2
expect "diff A: image:PREFIX" "$V -c test:///default diff image:b" beta-2
expect_has "diff B: domains and image:NAME" "$V -c test:///default diff test " test image:alpha
expect "diff: nothing after B" "$V -c test:///default diff test image:alpha "
expect_has "fork SOURCE: domains and images" "$V -c test:///default fork " test alpha beta-2
expect "clone IMAGE: image names" "$V clone " alpha beta-2
expect_has "options of clone" "$V clone alpha --" --name --tap --bridge --network --disk-dir --copy \
  --paused --no-start --allow-duplicate-mac
mkdir -p "$WORK/files/disks-a" "$WORK/files/disks-b"
expect "clone --disk-dir: directories" "$V clone alpha --disk-dir $WORK/files/disks-" \
  "$WORK/files/disks-a" "$WORK/files/disks-b"
expect "wake --image: image names" "$V wake --image " alpha beta-2
expect_has "options of hibernate" "$V hibernate --" --all --match --tag --image --copy --jobs \
  --bypass-cache --progress
expect_has "options of fs attach" "$V fs attach test --" --tag --socket --source --queue-size --live --config
expect "fs attach --tag names a new virtiofs tag: no vmkeep tags" "$V -c test:///default fs attach test --tag "
expect "fs attach --source: directories" "$V fs attach test --source $WORK/files/disks-" \
  "$WORK/files/disks-a" "$WORK/files/disks-b"
expect_has "device commands: domain names" "$V -c test:///default device attach " test
expect_has "devices: domain names" "$V -c test:///default devices " test
expect "nic remove DOMAIN MAC: the domain's MACs (layout --json)" "$V -c test:///default nic remove test " \
  aa:bb:cc:dd:ee:ff
pci=$(ls /sys/bus/pci/devices 2>/dev/null | head -n 1)
if [ -n "$pci" ]; then
  expect_has "device attach --pci: host PCI addresses" "$V device attach test --pci " "$pci"
fi
expect_has "create --boot values" "$V create x --boot " uefi bios kernel=

done_testing
