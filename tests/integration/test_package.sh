#!/usr/bin/env bash
# The Debian package built from the tree (CPack, what `make package` runs): its control data
# (name, version, library dependencies, the postinst that creates the smimesync user), its
# files under /usr, and the smimesync it carries runs (unpacked with dpkg-deb -x, and installed by
# dpkg into a private root, so the test needs no root and leaves the machine as it was).
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
if ! command -v dpkg-deb > /dev/null || ! command -v cpack > /dev/null; then
    not_ok "dpkg-deb and cpack are installed"
    finish
    exit 1
fi
cpack -G DEB --config "$SSYNC_BUILD/CPackConfig.cmake" -B "$T_TMP/pkg" > cpack.log 2>&1
status=$?
check_eq "cpack builds the package" 0 "$status"
[ "$status" -eq 0 ] || tail -n 20 cpack.log | sed 's/^/     | /'
deb=$(ls pkg/*.deb 2> /dev/null | head -n 1)
check "one .deb" test -n "$deb"
[ -n "$deb" ] || { finish; exit 1; }
version=$(sed -n 's/^project(smimesync VERSION \([0-9.]*\).*/\1/p' "$SSYNC_SRC/CMakeLists.txt")
dpkg-deb --info "$deb" > info.txt
check_eq "package name" smimesync "$(dpkg-deb -f "$deb" Package)"
check_eq "package version" "$version" "$(dpkg-deb -f "$deb" Version)"
deps=$(dpkg-deb -f "$deb" Depends)
for lib in libssl3 libcurl4 libjansson4 libsqlite3-0 libinih1 adduser; do
    check "depends on $lib" grep -q "$lib" <<< "$deps"
done
check_contains "a postinst script" "postinst" info.txt
dpkg-deb -e "$deb" control
check "postinst is valid sh" sh -n control/postinst
check_contains "postinst creates the dedicated user" "smimesync" control/postinst

dpkg-deb -c "$deb" > files.txt
for f in ./usr/bin/smimesync ./usr/bin/intune-emu ./usr/share/man/man1/smimesync.1 \
    ./usr/share/man/man5/smimesync.conf.5 ./usr/share/man/man1/intune-emu.1 \
    ./usr/lib/systemd/system/smimesync.service ./usr/lib/systemd/system/smimesync.timer \
    ./usr/lib/systemd/system/smimesync-watch.service ./usr/lib/sysusers.d/smimesync.conf \
    ./usr/share/bash-completion/completions/smimesync \
    ./usr/share/doc/smimesync/smimesync.conf.example; do
    check_contains "package holds $f" " $f" files.txt
done
check "every file is under /usr" bash -c "! awk '{print \$6}' files.txt | grep -v '^\./usr/\|^\./$' | grep -q ."

dpkg-deb -x "$deb" x
check_eq "the packaged smimesync runs" "smimesync $version" "$(x/usr/bin/smimesync --version)"
check_contains "the packaged service runs /usr/bin/smimesync with /etc/smimesync" \
    "ExecStart=/usr/bin/smimesync sync --config /etc/smimesync/smimesync.conf" \
    x/usr/lib/systemd/system/smimesync.service
check "the packaged binary needs no library from the build tree" \
    bash -c "! ldd x/usr/bin/smimesync | grep -q 'not found\|$SSYNC_BUILD'"

# dpkg itself installs it (unpack phase) into an empty root of its own, recorded in that root's
# status database; the postinst (the system user) is left to a real installation.
mkdir -p root/var/lib/dpkg/info root/var/lib/dpkg/updates root/var/lib/dpkg/triggers
touch root/var/lib/dpkg/status
dpkg --root="$T_TMP/root" --log=/dev/null --force-not-root --force-depends --unpack "$deb" \
    > dpkg.log 2>&1
check_eq "dpkg installs the package into a private root" 0 "$?"
dpkg --root="$T_TMP/root" -s smimesync > dpkg-status.txt 2>&1
check_contains "dpkg records it as installed" "Status: install ok unpacked" dpkg-status.txt
check_eq "the installed smimesync runs" "smimesync $version" "$(root/usr/bin/smimesync --version)"
finish
