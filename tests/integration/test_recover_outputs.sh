#!/usr/bin/env bash
# Issue 18 #8: recover never writes over its inputs and replaces an existing output only with
# --force. Outputs are compared with each other and with every input by device and inode: recover
# onto its own KRA key or KRA password file is refused and the file is unchanged, even with
# --force (also through a symbolic link); --out same --out-pass-file ./same is refused before
# anything is written; an ordinary earlier output is refused without --force, replaced with it.
source "$(dirname "$0")/lib.sh"
V=$SSYNC_DATA/adcs-basic
cd "$T_TMP"
cp "$V/kra.p12" kra.p12
cp "$V/kra.pass" kra.pass
cp "$V/getkey.der" blob.der
chmod 600 kra.p12 kra.pass
sums() { sha256sum kra.p12 kra.pass blob.der; }
sums > before.sum
rec() { "$SSYNC_BIN" recover --kra kra.p12 --kra-pass-file kra.pass "$@"; }

rec --out kra.p12 --out-pass-file a.pass blob.der > o1 2> e1
check_eq "--out onto its own --kra: exit 1" 1 "$?"
check_contains "the refusal names the input" "--out kra.p12 is the input --kra kra.p12" e1
rec --force --out ./kra.p12 --out-pass-file a.pass blob.der > o2 2> e2
check_eq "the same with --force: still refused" 1 "$?"
check_contains "even with --force" "refused (even with --force)" e2
rec --force --out a.p12 --out-pass-file kra.pass blob.der > o3 2> e3
check_eq "--out-pass-file onto its own --kra-pass-file with --force: refused" 1 "$?"
check_contains "names the password input" "is the input --kra-pass-file kra.pass" e3
ln -s kra.p12 link.p12
rec --force --out link.p12 --out-pass-file a.pass blob.der > o4 2> e4
check_eq "a link to the KRA key as --out: refused" 1 "$?"
rec --force --out blob.der --out-pass-file a.pass blob.der > o5 2> e5
check_eq "--out onto the blob: refused" 1 "$?"
check_contains "names the blob" "is the input the blob blob.der" e5
check "the KRA key, its password and the blob are unchanged" sha256sum -c --quiet before.sum
check "no output was written" test ! -e a.p12 -a ! -e a.pass

rec --out same --out-pass-file ./same blob.der > o6 2> e6
check_eq "--out same --out-pass-file ./same: usage error" 2 "$?"
check_contains "the refusal says why" "are the same file" e6
check "nothing named same was written" test ! -e same

# an ordinary earlier output: refused without --force, replaced with it
rec --out u.p12 --out-pass-file u.pass blob.der > o7 2> e7
check_eq "first recover: exit 0" 0 "$?"
sha256sum u.p12 u.pass > first.sum
rec --out u.p12 --out-pass-file u.pass blob.der > o8 2> e8
check_eq "again without --force: exit 1" 1 "$?"
check_contains "the refusal says how to replace it" "--out u.p12 exists: refused (give --force" e8
check "the earlier output is unchanged" sha256sum -c --quiet first.sum
rec --out u2.p12 --out-pass-file u.pass blob.der > o9 2> e9
check_eq "an existing --out-pass-file alone is refused too" 1 "$?"
check "no new PKCS#12 beside it" test ! -e u2.p12
rec --force --out u.p12 --out-pass-file u.pass blob.der > o10 2> e10
check_eq "with --force: exit 0" 0 "$?"
check "the output was replaced (a fresh password)" bash -c "! sha256sum -c --quiet first.sum"
check "the new password opens the new PKCS#12" \
    openssl pkcs12 -in u.p12 -passin file:u.pass -noout
check "the inputs are still unchanged" sha256sum -c --quiet before.sum
finish
