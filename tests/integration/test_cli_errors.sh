#!/usr/bin/env bash
# Bad input gets one clear line naming the item and the reason, a non-zero exit status, no
# partial output, and never stops the other items.
source "$(dirname "$0")/lib.sh"
V=$SSYNC_DATA/adcs-basic
cd "$T_TMP"
KRA=(--kra "$V/kra.p12" --kra-pass-file "$V/kra.pass")

# --- fixtures made here with the openssl CLI ---
head -c 700 "$V/getkey.der" > truncated.der
head -c 2048 /dev/urandom > garbage.bin
: > empty.der
cp "$V/user.pem" a-certificate.pem
printf 'wrong password' > wrong.pass && chmod 600 wrong.pass
openssl req -x509 -newkey rsa:2048 -nodes -keyout kra9.key -out kra9.pem -days 30 \
    -subj "/CN=Another KRA" -set_serial 0x1234ABCD >/dev/null 2>&1
openssl cms -encrypt -binary -des3 -recip kra9.pem -outform DER -in "$V/user.privatekeyblob" \
    -out other-kra.der
{ printf 'ECK2'; printf '\x20\x00\x00\x00'; head -c 96 /dev/urandom; } > eck.blob
openssl cms -encrypt -binary -des3 -recip "$V/kra1.pem" -outform DER -in eck.blob -out ecc-key.der
openssl pkcs12 -export -nokeys -in "$V/kra1.pem" -passout pass:pw -out nokey.p12 2>/dev/null
printf 'pw' > nokey.pass && chmod 600 nokey.pass
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key 2>/dev/null
openssl pkey -in ec.key -pubout -out ec.pub 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out weak.key 2>/dev/null
openssl pkey -in weak.key -pubout -out weak.pub 2>/dev/null

# expect_fail NAME EXPECTED_STATUS NEEDLE -- command...: exactly one line on stderr containing
# NEEDLE, the status, and no output files.
expect_fail() {
    local name=$1 want=$2 needle=$3
    shift 4
    rm -rf outp && mkdir outp
    "$@" > stdout.txt 2> stderr.txt
    local st=$?
    check_eq "$name: exit status" "$want" "$st"
    check_eq "$name: one line on stderr" 1 "$(wc -l < stderr.txt)"
    check_contains "$name: says why" "$needle" stderr.txt
    check_eq "$name: no output left behind" "" "$(ls -A outp)"
    if grep -q "Segmentation\|Aborted\|AddressSanitizer" stderr.txt; then not_ok "$name: crashed"; fi
}
recover() { "$SSYNC_BIN" recover "$@" --out outp/x.p12 --out-pass-file outp/x.pass; }

expect_fail "truncated blob" 1 "truncated.der:" -- recover "${KRA[@]}" truncated.der
expect_fail "garbage blob" 1 "garbage.bin:" -- recover "${KRA[@]}" garbage.bin
expect_fail "empty blob" 1 "empty.der:" -- recover "${KRA[@]}" empty.der
expect_fail "certificate instead of blob" 1 "a-certificate.pem:" -- recover "${KRA[@]}" a-certificate.pem
expect_fail "PKCS#12 instead of blob" 1 "kra.p12:" -- recover "${KRA[@]}" "$V/kra.p12"
expect_fail "blob for a KRA we do not hold" 1 "1234ABCD" -- recover "${KRA[@]}" other-kra.der
expect_fail "wrong KRA password" 1 "wrong KRA password" -- \
    recover --kra "$V/kra.p12" --kra-pass-file wrong.pass "$V/getkey.der"
expect_fail "KRA PKCS#12 without a key" 1 "nokey.p12" -- \
    recover --kra nokey.p12 --kra-pass-file nokey.pass "$V/getkey.der"
expect_fail "unknown key blob magic" 1 "ECK2" -- recover "${KRA[@]}" ecc-key.der
expect_fail "certificate does not match the key" 1 "does not match" -- \
    recover "${KRA[@]}" --cert "$V/ca.pem" "$V/rawarchivedkey.der"
expect_fail "missing blob" 1 "no-such.der" -- recover "${KRA[@]}" no-such.der
expect_fail "missing KRA file" 1 "no-such.p12" -- recover --kra no-such.p12 "$V/getkey.der"
expect_fail "KRA path is a directory" 1 "not a regular file" -- recover --kra . "$V/getkey.der"
expect_fail "missing KRA password file" 1 "no-such.pass" -- \
    recover --kra "$V/kra.p12" --kra-pass-file no-such.pass "$V/getkey.der"
expect_fail "unknown PKCS#12 profile" 2 "legacy" -- recover "${KRA[@]}" --pfx-profile legacy "$V/getkey.der"
expect_fail "no blob" 2 "no recovery blob" -- recover "${KRA[@]}"
expect_fail "output directory missing" 1 "no-dir" -- "$SSYNC_BIN" recover "${KRA[@]}" \
    --out no-dir/x.p12 --out-pass-file outp/x.pass "$V/getkey.der"

export_to() { "$SSYNC_BIN" export "${KRA[@]}" --out-dir outp "$@"; }
expect_fail "EC connector key" 1 "not RSA" -- export_to --connector-key ec.pub "$V/getkey.der"
expect_fail "1024-bit connector key" 1 "2048" -- export_to --connector-key weak.pub "$V/getkey.der"
expect_fail "garbage connector key" 1 "garbage.bin" -- export_to --connector-key garbage.bin "$V/getkey.der"
expect_fail "missing connector key" 1 "no-such.pem" -- export_to --connector-key no-such.pem "$V/getkey.der"
expect_fail "unknown padding" 2 "oaepSha1" -- export_to --connector-key "$V/connector-public.pem" \
    --padding oaepSha1 "$V/getkey.der"

# A mix of good and bad items: each bad one is one line naming the file, the good ones are done,
# and the exit status says "some failed".
rm -rf mixed out && mkdir mixed
cp "$V/getkey.der" mixed/a-good.der
cp truncated.der garbage.bin empty.der other-kra.der ecc-key.der mixed/
cp "$V/getkey-base64.txt" mixed/z-good-again.b64
"$SSYNC_BIN" export "${KRA[@]}" --connector-key "$V/connector-public.pem" --out-dir out mixed \
    > stdout.txt 2> stderr.txt
check_eq "mixed: exit status 3 (partial)" 3 "$?"
check_eq "mixed: one record written" 1 "$(ls out | wc -l)"
check_eq "mixed: stdout lists the exported item" 1 "$(wc -l < stdout.txt)"
for f in truncated.der garbage.bin empty.der other-kra.der ecc-key.der; do
    check_eq "mixed: one line for $f" 1 "$(grep -c "mixed/$f:" stderr.txt)"
done
check_contains "mixed: the duplicate is reported" "already exported" stderr.txt
check_contains "mixed: summary line" "1 record(s) written" stderr.txt
check_eq "mixed: no temporary files" "" "$(ls -A out | grep -v '\.json$')"

"$SSYNC_BIN" export "${KRA[@]}" --connector-key "$V/connector-public.pem" --out-dir out2 \
    truncated.der garbage.bin > /dev/null 2> stderr.txt
check_eq "all bad: exit status 1" 1 "$?"

# usage and version
check "--version" bash -c "'$SSYNC_BIN' --version | grep -qE '^smimesync [0-9]+\.[0-9]+\.[0-9]+$'"
check "--help lists the commands" bash -c "'$SSYNC_BIN' --help | grep -q recover"
check "recover --help" bash -c "'$SSYNC_BIN' recover --help | grep -q -- --out-pass-file"
check "export --help" bash -c "'$SSYNC_BIN' export --help | grep -q -- --connector-key"
"$SSYNC_BIN" frobnicate > /dev/null 2>&1
check_eq "unknown command: exit 2" 2 "$?"
"$SSYNC_BIN" recover --bogus > /dev/null 2>&1
check_eq "unknown option: exit 2" 2 "$?"
finish
