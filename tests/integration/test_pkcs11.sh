#!/usr/bin/env bash
# The KRA key on a PKCS#11 token (SoftHSM2 through the OpenSSL pkcs11 engine): sync recovers and
# uploads every certificate with the key addressed by a pkcs11: URI, the certificate read from the
# token or from [kra] cert; a wrong PIN, a missing object and a PIN inside the URI fail with a
# one-line error that never shows the PIN.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
MODULE=/usr/lib/softhsm/libsofthsm2.so
# Under ASan (make sanitize) the pkcs11 engine's own leaks at exit are suppressed by function
# name (tests/lsan.supp), which needs full stacks through libcrypto.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
for need in softhsm2-util pkcs11-tool; do
    command -v $need > /dev/null || { not_ok "$need is installed (scripts/bootstrap --test)"; finish; exit 1; }
done
[ -f "$MODULE" ] || { not_ok "SoftHSM2 module at $MODULE"; finish; exit 1; }

"$LAB_BIN" --out lab --users 6 --seed 61 > /dev/null
check "lab generated" test -f lab/manifest.jsonl

# A private token directory: the test never touches the system's tokens.
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$T_TMP" > softhsm2.conf
export SOFTHSM2_CONF=$T_TMP/softhsm2.conf
PIN=p11-Pin-4711-secret
printf '%s\n' "$PIN" > pin && chmod 600 pin
check "token initialised" softhsm2-util --init-token --free --label kra --pin "$PIN" --so-pin 0000
openssl pkcs12 -in lab/kra.p12 -passin file:lab/kra.pass -nocerts -nodes 2> /dev/null |
    openssl pkey -out kra.key 2> /dev/null ||
    openssl pkcs12 -legacy -in lab/kra.p12 -passin file:lab/kra.pass -nocerts -nodes |
    openssl pkey -out kra.key
openssl pkcs12 -in lab/kra.p12 -passin file:lab/kra.pass -nokeys -clcerts 2> /dev/null |
    openssl x509 -out kra.pem
openssl x509 -in kra.pem -outform DER -out kra.der
check "KRA key imported" softhsm2-util --import kra.key --token kra --label kra --id 01 --pin "$PIN"
shred -u kra.key # from here on the key exists only on the token
check "KRA certificate stored on the token" pkcs11-tool --module "$MODULE" --token-label kra \
    --login --pin "$PIN" --write-object kra.der --type cert --id 01 --label kra

emu_start lab || { not_ok "emulator started"; finish; exit 1; }
URI="pkcs11:token=kra;object=kra?module-path=$MODULE"
# conf KEYURI [cert]: the lab configuration with the KRA on the token and the PIN file.
conf() {
    write_config lab "$T_TMP/p11.conf"
    sed -i "s|^key = .*|key = $1|; s|^password_file = .*|password_file = $T_TMP/pin|" p11.conf
    if [ -n "${2:-}" ]; then sed -i "/^password_file/a cert = $2" p11.conf; fi
}
conf "$URI"
n=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' lab/manifest.jsonl)
"$SSYNC_BIN" sync --config p11.conf --json > sync.json 2> sync.err
check_eq "sync with the KRA on the token: exit status" 0 "$?"
check_eq "every certificate uploaded" "$n" "$(jq .counts.upload sync.json)"
check_eq "no item failed" 0 "$(jq .counts.failed sync.json)"
check_eq "Intune holds them" "$n" \
    "$(curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" | jq .count)"

# The token's certificate can be replaced by [kra] cert.
pkcs11-tool --module "$MODULE" --token-label kra --login --pin "$PIN" --delete-object \
    --type cert --id 01 > /dev/null 2>&1
conf "$URI"
"$SSYNC_BIN" plan --config p11.conf > plan.out 2> plan.err
check_eq "no certificate on the token: exit 1" 1 "$?"
check_contains "no certificate: says to name it in [kra] cert" "name it in [kra] cert" plan.err
conf "$URI" "$T_TMP/kra.pem"
"$SSYNC_BIN" plan --config p11.conf --json > plan.json 2> plan.err
check_eq "certificate from [kra] cert: exit 0" 0 "$?"
check_eq "plan sees everything in Intune already" "$n" "$(jq .counts.keep plan.json)"

printf 'wrong-pin\n' > pin
"$SSYNC_BIN" plan --config p11.conf > plan.out 2> wrongpin.err
check_eq "wrong PIN: exit 1" 1 "$?"
check_contains "wrong PIN: the error says the PIN may be wrong" "PIN" wrongpin.err
check "wrong PIN: one line" test "$(wc -l < wrongpin.err)" -le 2
printf '%s\n' "$PIN" > pin
conf "pkcs11:token=kra;object=nothere?module-path=$MODULE" "$T_TMP/kra.pem"
"$SSYNC_BIN" plan --config p11.conf > plan.out 2> missing.err
check_eq "missing object: exit 1" 1 "$?"
check_contains "missing object: names the URI" "object=nothere" missing.err
conf "pkcs11:token=kra;object=kra;pin-value=$PIN?module-path=$MODULE" "$T_TMP/kra.pem"
"$SSYNC_BIN" plan --config p11.conf > plan.out 2> pinuri.err
check_eq "PIN in the URI: refused" 1 "$?"
check_contains "PIN in the URI: says where the PIN goes" "password_file" pinuri.err
if grep -qF -- "$PIN" sync.err plan.err wrongpin.err missing.err pinuri.err; then
    not_ok "the PIN never appears in an error"
else ok "the PIN never appears in an error"; fi
finish
