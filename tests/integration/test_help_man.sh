#!/usr/bin/env bash
# --help and the man pages say the same: the commands of `smimesync --help` are the commands
# of smimesync(1), and for every command the options its --help lists are exactly the options
# its section of the man page documents; the same for intune-emu and intune-emu(1). Every
# --help ends with the exit codes and exits 0.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
MAN=$SSYNC_SRC/man
EMU_BIN=$SSYNC_BUILD/intune-emu

# The long options of one section of a man page: the tag line after each .TP.
man_opts() { # PAGE SECTION-NAME (empty: the .SH OPTIONS section)
    awk -v want="$2" '
        /^\.S[SH] / { name = $2; gsub(/"/, "", name); gsub(/\\/, "", name)
                      insec = (want == "" ? ($1 == ".SH" && name == "OPTIONS") : name == want)
                      next }
        insec && /^\.TP/ { tag = 1; next }
        insec && tag { tag = 0; gsub(/\\-/, "-")
                       if (match($0, /--[a-z][a-z-]*/)) print substr($0, RSTART, RLENGTH) }
    ' "$1" | sort -u
}
# The long options of a --help text: the first long option of each option line (two spaces in).
help_first() { grep -E '^  (-[a-zA-Z], )?--[a-z]' | sed -E 's/^  (-[a-zA-Z], )?(--[a-z][a-z-]*).*/\2/' | sort -u; }

"$SSYNC_BIN" --help > main.txt
check_eq "smimesync --help: exit status" 0 "$?"
sed -n '/^Commands:/,/^$/p' main.txt | awk 'NR > 1 && NF { print $1 }' | sort > cmds.help
awk '/^\.SH COMMANDS/ { on = 1; next } /^\.SH / { on = 0 } on && /^\.SS / { print $2 }' \
    "$MAN/smimesync.1" | sort > cmds.man
check_eq "the commands of --help are the commands of smimesync(1)" "$(cat cmds.help)" "$(cat cmds.man)"
check "there are commands" test -s cmds.help
check_contains "smimesync(1) documents --version" '\-\-version' "$MAN/smimesync.1"

while read -r cmd; do
    "$SSYNC_BIN" "$cmd" --help > "$cmd.help" 2> "$cmd.err"
    check_eq "$cmd --help: exit status 0, nothing on stderr" "0:" "$?:$(cat "$cmd.err")"
    check_contains "$cmd --help lists the exit codes" "Exit status" "$cmd.help"
    help_first < "$cmd.help" > "$cmd.h"
    man_opts "$MAN/smimesync.1" "$cmd" > "$cmd.m"
    check "$cmd has options" test -s "$cmd.h"
    check_eq "$cmd: --help options = smimesync(1) options" \
        "$(paste -sd' ' "$cmd.h")" "$(paste -sd' ' "$cmd.m")"
done < cmds.help

# intune-emu: its usage lists every option in brackets or not; the man page has them all.
"$EMU_BIN" --help > emu.help 2>&1
"$EMU_BIN" device-fetch --help > fetch.help 2>&1
sed '/device-fetch/,$d' emu.help | grep -oE -- '--[a-z][a-z-]*' | grep -v -- '--help' | sort -u > emu.h
grep -oE -- '--[a-z][a-z-]*' fetch.help | grep -v -- '--help' | sort -u > fetch.h
man_opts "$MAN/intune-emu.1" "" > emu.m
man_opts "$MAN/intune-emu.1" "device-fetch" > fetch.m
check_eq "intune-emu: --help options = intune-emu(1) options" \
    "$(paste -sd' ' emu.h)" "$(paste -sd' ' emu.m)"
check_eq "intune-emu device-fetch: --help options = intune-emu(1) options" \
    "$(paste -sd' ' fetch.h)" "$(paste -sd' ' fetch.m)"

# smimesync.conf(5) documents every section the configuration parser knows.
for s in source kra connector pfx intune policy state log; do
    check_contains "smimesync.conf(5) has [$s]" ".SH [$s]" "$MAN/smimesync.conf.5"
done
finish
