#!/usr/bin/env bash
# intune-emu: --state across a restart, and the connector + device chain (device-fetch on two
# devices gives both the user's same key; a record the connector cannot decrypt fails alone).
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
C=/beta/deviceManagement/userPfxCertificates
STATE=$T/state.json

emu_start s1 --state "$STATE"
pid_s1=$PID
token_secret
make_record a1 "$ALICE"
A1=$THUMB
post_record a1
check "create a1" 201 "$CODE"
make_record a2 "$ALICE" sha384
A2=$THUMB
post_record a2
check "create a2 (oaepSha384)" 201 "$CODE"
# a record whose password was encrypted with SHA-256 but is labelled oaepSha512: the connector
# will fail on it (the emulator is not --strict, so the upload is accepted like the real one)
make_record a3 "$ALICE" sha256
A3=$THUMB
jq '.paddingScheme = "oaepSha512"' "$T/rec/a3.json" >"$T/rec/a3bad.json"
post_record a3bad
check "create a3 (mislabelled padding)" 201 "$CODE"
make_record b1 "$BOB"
post_record b1
old_token=$TOKEN
emu_stop "$pid_s1" && rc=0 || rc=$?
check "SIGTERM: exit 0" 0 "$rc"
check "state file written" yes "$([[ -s $STATE ]] && echo yes || echo no)"
check "state file is private" 600 "$(stat -c %a "$STATE")"

emu_start s2 --state "$STATE"
pid_s2=$PID
TOKEN=$old_token
greq GET "$C"
check "after restart: old token still valid" 200 "$CODE"
check "after restart: 4 records" 4 "$(jqr '.value | length')"
greq GET "$C/${ALICE_ID//-/}-$A1"
check "after restart: get by id" "$A1" "$(jqr .thumbprint)"

# two devices for the same user
out1=$T/dev1
out2=$T/dev2
"$EMU" device-fetch --url "$URL" --ca-bundle "$CA" --user "$ALICE" --out "$out1" \
    --device-name phone >"$T/dev1.txt" 2>"$T/dev1.err" && rc=0 || rc=$?
check "device 1: exit 1 (one record failed)" 1 "$rc"
check "device 1: a1 ok" 1 "$(grep -c "^ok $A1 " "$T/dev1.txt")"
check "device 1: a2 ok" 1 "$(grep -c "^ok $A2 " "$T/dev1.txt")"
check "device 1: a3 failed at the connector" 1 "$(grep -c "^fail $A3 .*connector" "$T/dev1.txt")"
check "device 1: one line per record" 3 "$(wc -l <"$T/dev1.txt")"
"$EMU" device-fetch --url "$URL/" --ca-bundle "$CA" --user "$ALICE" --out "$out2" \
    --device-name tablet >"$T/dev2.txt" 2>"$T/dev2.err" || true
check "device 2: a1 ok" 1 "$(grep -c "^ok $A1 " "$T/dev2.txt")"
check "key file is private" 600 "$(stat -c %a "$out1/$A1.key.pem")"
check "both devices hold the same key" \
    "$(openssl pkey -in "$out1/$A1.key.pem" -outform DER | sha256sum)" \
    "$(openssl pkey -in "$out2/$A1.key.pem" -outform DER | sha256sum)"
check "the device key is the user's key" \
    "$(openssl pkey -in "$T/rec/a1.key" -outform DER | sha256sum)" \
    "$(openssl pkey -in "$out1/$A1.key.pem" -outform DER | sha256sum)"
check "the device certificate is the user's" \
    "$(openssl x509 -in "$T/rec/a1.pem" -outform DER | sha256sum)" \
    "$(openssl x509 -in "$out2/$A1.cert.pem" -outform DER | sha256sum)"
check "no files for the failed record" no "$([[ -e $out1/$A3.key.pem ]] && echo yes || echo no)"

"$EMU" device-fetch --url "$URL" --ca-bundle "$CA" --user "$BOB" --out "$T/dev3" \
    >"$T/dev3.txt" 2>&1 && rc=0 || rc=$?
check "other user: exit 0, one record" "0 1" "$rc $(grep -c '^ok ' "$T/dev3.txt")"
"$EMU" device-fetch --url "$URL" --ca-bundle "$CA" --user nobody@contoso.example \
    --out "$T/dev4" >/dev/null 2>&1 && rc=0 || rc=$?
check "unknown user: exit 2" 2 "$rc"
"$EMU" device-fetch --url "$URL" --ca-bundle "$T/pki/app.pem" --user "$ALICE" \
    --out "$T/dev5" >/dev/null 2>&1 && rc=0 || rc=$?
check "wrong CA bundle: TLS verification fails (exit 2)" 2 "$rc"

# the raw connector answer: the password is CMS EnvelopedData to the device certificate
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/d.key" -out "$T/d.pem" -days 1 \
    -subj /CN=raw-device 2>/dev/null
req POST /emu/device/fetch -H 'Content-Type: application/json' \
    --data "$(jq -n --arg u "$ALICE" --rawfile c "$T/d.pem" '{userPrincipalName: $u, deviceCertificate: $c}')"
check "device endpoint: 200" 200 "$CODE"
jqr ".records[] | select(.thumbprint == \"$A1\") | .recryptedPassword" | base64 -d >"$T/pw.cms"
openssl cms -decrypt -inform DER -in "$T/pw.cms" -recip "$T/d.pem" -inkey "$T/d.key" \
    -out "$T/pw.txt" 2>/dev/null && rc=0 || rc=$?
check "openssl cms decrypts the recrypted password" 0 "$rc"
openssl pkcs12 -in "$T/rec/a1.p12" -passin "file:$T/pw.txt" -noout 2>/dev/null && rc=0 || rc=$?
check "the password opens the PKCS#12" 0 "$rc"
check_match "CMS uses AES-256-CBC" 'aes-256-cbc' \
    "$(openssl cms -cmsout -print -inform DER -in "$T/pw.cms" | grep -i -m1 'aes')"

# state across restart keeps deletes too
token_secret
greq DELETE "$C/${ALICE_ID//-/}-$A3"
emu_stop "$pid_s2" || true
emu_start s3 --state "$STATE"
token_secret
greq GET "$C"
check "after a second restart: 3 records" 3 "$(jqr '.value | length')"

# a corrupt state file is refused
echo '{"records": 5' >"$T/bad-state.json"
if "$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
    --tenant-id "$TENANT" --client-id "$CLIENT" --connector-key "$T/pki/connector.key" \
    --users "$T/pki/users.csv" --state "$T/bad-state.json" --max-runtime 5 >/dev/null 2>&1; then
    fail "corrupt state accepted"
else
    pass "corrupt state refused"
fi

finish
