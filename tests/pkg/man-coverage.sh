#!/bin/bash
# The man pages document what the binary has: every command of the command
# table (src/cli/commands.c) is in 'vmkeep --help' and has a section in
# vmkeep(1) that names each of its options ('vmkeep help CMD'); every global
# option, exit status and config key (known_keys[] of src/core/vk-config.c)
# is documented. New commands need only a man page section: the lists are
# read from the sources and the binary at run time.
. "$(dirname "$0")/lib.sh"

MAN1=$abs_top_builddir/man/vmkeep.1
MAN5=$abs_top_builddir/man/vmkeep.conf.5
[ -f "$MAN1" ] && [ -f "$MAN5" ] || bail_out "man pages not built: run make first"
command -v groff >/dev/null || bail_out "groff not found (Debian: apt-get install groff-base)"
# shellcheck source=../../data/vmkeep.bash-completion
. "$abs_top_srcdir/data/vmkeep.bash-completion"

render_man "$MAN1" >"$WORK/vmkeep.1.txt"
render_man "$MAN5" >"$WORK/vmkeep.conf.5.txt"

# groff has nothing to complain about.
for m in "$MAN1" "$MAN5"; do
  warn=$(groff -man -ww -z "$m" 2>&1)
  if [ -z "$warn" ]; then ok "$(basename "$m") formats without warnings"
  else not_ok "$(basename "$m") formats without warnings"; diag "$warn"; fi
done
if grep -q '@VK_[A-Z_]*@' "$MAN1" "$MAN5"; then
  not_ok "configured paths filled in"; diag "$(grep -o '@VK_[A-Z_]*@' "$MAN1" "$MAN5" | sort -u)"
else ok "configured paths filled in"; fi

# Section NAME of a rendered page: its lines up to the next section.
section () {
  awk -v want="$2" '/^[A-Z]/ { on = ($0 == want); next } on' "$1"
}
# Lines of the subsection of command $1 in any "... COMMANDS" section.
command_block () {
  awk -v want="$1" '
    /^[A-Z]/ { sec = $0; cur = ""; next }
    /^   [^ ]/ { sub(/^ +/, ""); sub(/ +$/, ""); cur = (sec ~ /COMMANDS$/) ? $0 : ""; next }
    cur == want' "$WORK/vmkeep.1.txt"
}
has_word () { # TEXT WORD: WORD occurs as a whole option word
  grep -qE -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)" <<<"$1"
}

# The command table, from the binary (the hidden __complete lists it).
table=$(_vmkeep_commands "$VMKEEP")
[ -n "$table" ] || bail_out "no commands in 'vmkeep __complete --commands'"
helpcmds=$(LC_ALL=C "$VMKEEP" --help | awk '/^Commands:/ { on = 1; next } on && /^[ \t]*$/ { exit }
           on && /^  [a-z]/ { line = substr($0, 3); i = index(line, "  "); print (i ? substr(line, 1, i - 1) : line) }')
[ -n "$helpcmds" ] || bail_out "no commands found in 'vmkeep --help'"

missing=$(comm -23 <(sort <<<"$table") <(sort <<<"$helpcmds"))
extra=$(comm -13 <(sort <<<"$table") <(sort <<<"$helpcmds"))
if [ -z "$missing$extra" ]; then ok "'vmkeep --help' lists exactly the $(wc -l <<<"$table") commands of the command table"
else not_ok "'vmkeep --help' lists exactly the commands of the command table"
  diag "in the table, not in --help: ${missing:-none}" "in --help, not in the table: ${extra:-none}"; fi

while IFS= read -r cmd; do
  block=$(command_block "$cmd")
  if [ -z "$block" ]; then
    not_ok "vmkeep(1) has a section for '$cmd'"
    diag "add '## $cmd' to a '# ... COMMANDS' section of man/vmkeep.1.scd"
    continue
  fi
  ok "vmkeep(1) has a section for '$cmd'"
  # shellcheck disable=SC2086 # "nic add" is two words
  opts=$("$VMKEEP" __complete --options $cmd | grep -- '^--')
  undocumented=
  for o in $opts; do has_word "$block" "$o" || undocumented+=" $o"; done
  if [ -z "$undocumented" ]; then ok "vmkeep(1) '$cmd' documents its options:" $opts
  else not_ok "vmkeep(1) '$cmd' documents its options"; diag "missing:$undocumented"; fi
done <<<"$table"

# Global options: the "Global options:" list of --help.
globals=$(LC_ALL=C "$VMKEEP" --help | awk '/^Global options:/ { on = 1; next } on && /^$/ { exit }
          on { for (k = 1; k <= NF; k++) { w = $k; last = (w !~ /,$/); sub(/,$/, "", w)
               if (w ~ /^-/) print w; if (last) break } }')
gsec=$(section "$WORK/vmkeep.1.txt" "GLOBAL OPTIONS")
undocumented=
for o in $globals; do has_word "$gsec" "$o" || undocumented+=" $o"; done
if [ -n "$globals" ] && [ -z "$undocumented" ]; then ok "GLOBAL OPTIONS documents" $globals
else not_ok "GLOBAL OPTIONS documents every global option"; diag "missing:${undocumented:- (none parsed from --help)}"; fi

# Exit statuses: the codes of src/core/vk-error.h.
codes=$(sed -n 's/^ *VK_ERROR_[A-Z_]* *= *\([0-9]*\),.*/\1/p' "$abs_top_srcdir/src/core/vk-error.h")
esec=$(section "$WORK/vmkeep.1.txt" "EXIT STATUS")
undocumented=
for c in 0 $codes; do grep -qE "^ +$c\$" <<<"$esec" || undocumented+=" $c"; done
if [ -z "$undocumented" ]; then ok "EXIT STATUS documents" 0 $codes
else not_ok "EXIT STATUS documents every exit status"; diag "missing:$undocumented"; fi

for s in "ENVIRONMENT" "FILES" "PCI LAYOUT POLICY" "SIDECAR FORMAT" "EXAMPLES"; do
  if [ -n "$(section "$WORK/vmkeep.1.txt" "$s")" ]; then ok "vmkeep(1) has section $s"
  else not_ok "vmkeep(1) has section $s"; fi
done
check "ENVIRONMENT documents VMKEEP_CONFIG" grep -q VMKEEP_CONFIG <<<"$(section "$WORK/vmkeep.1.txt" ENVIRONMENT)"

# Config keys: known_keys[] of vk-config.c, in vmkeep.conf(5) and in the
# shipped example configuration.
keys=$(awk '/known_keys\[\] *= *\{/ { on = 1 } on { print } on && /\};/ { exit }' \
         "$abs_top_srcdir/src/core/vk-config.c" | grep -o '"[^"]*"' | tr -d '"')
[ -n "$keys" ] || bail_out "no known_keys found in src/core/vk-config.c"
ksec=$(section "$WORK/vmkeep.conf.5.txt" KEYS)
for k in $keys; do
  if grep -qE "^ +$k=" <<<"$ksec"; then ok "vmkeep.conf(5) documents key $k"
  else not_ok "vmkeep.conf(5) documents key $k"; diag "add '*$k*=...' under '# KEYS' in man/vmkeep.conf.5.scd"; fi
  check "data/vmkeep.conf mentions key $k" grep -qE "^#?$k=" "$abs_top_srcdir/data/vmkeep.conf"
done

done_testing
