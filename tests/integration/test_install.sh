#!/usr/bin/env bash
# make install into a temporary DESTDIR (what the Makefile target runs: cmake --install with
# PREFIX and DESTDIR): every file lands under the prefix, the installed smimesync runs, the man
# pages render without warnings, the systemd units name the installed binary, are hardened and
# pass systemd-analyze verify, the example configuration parses, and bash completion works.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
root=$T_TMP/root
prefix=/usr/local
check_contains "make install runs cmake --install with PREFIX and DESTDIR" \
    'DESTDIR="/stage" cmake --install' <(make -s -n -C "$SSYNC_SRC" install PREFIX=/opt/p DESTDIR=/stage 2>&1)
make -s -n -C "$SSYNC_SRC" install PREFIX=/opt/p DESTDIR=/stage > make.txt 2>&1
check_contains "make install passes PREFIX" '--prefix "/opt/p"' make.txt
DESTDIR=$root cmake --install "$SSYNC_BUILD" --prefix "$prefix" > install.log 2>&1
check_eq "install: exit status" 0 "$?"
p=$root$prefix
for f in bin/smimesync bin/intune-emu share/man/man1/smimesync.1 share/man/man1/intune-emu.1 \
    share/man/man5/smimesync.conf.5 share/bash-completion/completions/smimesync \
    share/doc/smimesync/smimesync.conf.example lib/systemd/system/smimesync.service \
    lib/systemd/system/smimesync.timer lib/systemd/system/smimesync-watch.service \
    lib/sysusers.d/smimesync.conf share/smimesync/prometheus/smimesync.rules.yml; do
    check "installed: $f" test -s "$p/$f"
done
check "nothing is installed outside DESTDIR/PREFIX" \
    bash -c "! grep -v '^-- Install configuration' install.log | grep -v -- '$root$prefix/' | grep -q ."
version=$(sed -n 's/^project(smimesync VERSION \([0-9.]*\).*/\1/p' "$SSYNC_SRC/CMakeLists.txt")
check_eq "the installed smimesync --version runs" "smimesync $version" "$("$p/bin/smimesync" --version)"
check "the installed intune-emu runs" bash -c "'$p/bin/intune-emu' --help 2>&1 | grep -q device-fetch"

for page in man1/smimesync.1 man1/intune-emu.1 man5/smimesync.conf.5; do
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p/share/man/$page" > page.txt 2> page.err
    check_eq "man $page renders" 0 "$?"
    check_eq "man $page: no groff warning" "" "$(cat page.err)"
    check_contains "man $page has a NAME" "NAME" page.txt
done

u=$p/lib/systemd/system
check_contains "the service runs the installed binary" \
    "ExecStart=$prefix/bin/smimesync sync --config $prefix/etc/smimesync/smimesync.conf" \
    "$u/smimesync.service"
check_contains "the watch service runs watch" "ExecStart=$prefix/bin/smimesync watch" \
    "$u/smimesync-watch.service"
for d in Type=oneshot User=smimesync StateDirectory=smimesync NoNewPrivileges=yes \
    ProtectSystem=strict PrivateTmp=yes ProtectHome=yes CapabilityBoundingSet= LimitCORE=0; do
    check_contains "smimesync.service: $d" "$d" "$u/smimesync.service"
done
check_contains "the timer is scheduled" "OnCalendar=" "$u/smimesync.timer"
check_contains "the timer catches up after downtime" "Persistent=true" "$u/smimesync.timer"
check_contains "the dedicated user is declared" "u smimesync" "$p/lib/sysusers.d/smimesync.conf"
if command -v systemd-analyze > /dev/null; then
    # the units as they would be on that root: ExecStart and Documentation resolve there
    mkdir units
    for f in smimesync.service smimesync-watch.service smimesync.timer; do
        sed "s|$prefix/bin/|$p/bin/|" "$u/$f" > "units/$f"
    done
    MANPATH=$p/share/man systemd-analyze verify units/smimesync.service units/smimesync.timer \
        units/smimesync-watch.service > verify.txt 2>&1
    check_eq "systemd-analyze verify accepts the units" "0:" "$?:$(cat verify.txt)"
else
    ok "systemd-analyze not installed: units not verified"
fi

# The example configuration parses: what fails is the missing key file, not the syntax.
"$p/bin/smimesync" plan --config "$p/share/doc/smimesync/smimesync.conf.example" \
    > /dev/null 2> example.err
check "the example configuration has no syntax error" \
    bash -c "! grep -Eq 'conf.example:[0-9]+:' example.err"
check "the example configuration fails on a missing key file" grep -q "/etc/smimesync/kra" example.err

# bash completion, with the installed smimesync on PATH
cat > comp.sh << 'CMP'
source "$1"
complete_for() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _smimesync; echo "${COMPREPLY[*]}"; }
complete_for smimesync wa
complete_for smimesync watch --se
complete_for smimesync export --pfx-profile m
complete_for smimesync edb d
complete_for smimesync edb dump x.edb T --col
complete_for smimesync ca requests --arch
CMP
PATH=$p/bin:$PATH bash comp.sh "$p/share/bash-completion/completions/smimesync" > comp.txt 2>&1
check_eq "completion: commands, options from --help, option values, subcommands" \
    "watch|--settle|modern|dump|--columns|--archived" "$(paste -sd'|' comp.txt)"
finish
