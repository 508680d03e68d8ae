#!/usr/bin/env bash
# smimesync-lab against the openssl command line: every file the lab writes must read exactly as
# the AD CS data it emulates (recovery blobs in the three certutil -getkey encodings, archived
# PRIVATEKEYBLOBs, KRA files, CRL, connector key), and bad command lines must fail cleanly.
# Env: SSYNC_BUILD (build dir holding smimesync-lab).
set -euo pipefail

BIN="${SSYNC_BUILD:?SSYNC_BUILD is not set}/smimesync-lab"
if [ ! -x "$BIN" ]; then
    echo "FAIL: $BIN not built" >&2
    exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() {
    echo "FAIL: $*" >&2
    failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: the command must succeed
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>"$TMP/err"; then ok; else bad "$what: $(head -c 300 "$TMP/err")"; fi
}
# same STRING1 STRING2 DESCRIPTION
same() {
    if [ "$1" = "$2" ]; then ok; else bad "$3: '$1' != '$2'"; fi
}

# field LABDIR FILE KEY: a string field of the manifest line of a blob file
field() {
    grep -F "\"file\":\"$2\"" "$1/manifest.jsonl" | sed -n "s/.*\"$3\":\"\([^\"]*\)\".*/\1/p"
}

# to_der BLOB OUT: undo the certutil -getkey encoding, checking its line format on the way
to_der() {
    case "$1" in
    *.der) cp "$1" "$2" ;;
    *.b64)
        # CR_OUT_BASE64: 64-character lines, each ended by CRLF, no header
        check "$1: CRLF line ends" test "$(grep -c $'\r$' "$1")" = "$(wc -l <"$1")"
        check "$1: 64-column lines" test -z "$(tr -d '\r' <"$1" | awk 'length > 64')"
        check "$1: no header" test -z "$(grep -e '-----' "$1" || true)"
        tr -d '\r\n' <"$1" | base64 -d >"$2"
        ;;
    *.pem)
        # CR_OUT_BASE64HEADER: framed as a certificate, CRLF
        same "$(head -n1 "$1")" $'-----BEGIN CERTIFICATE-----\r' "$1: header"
        same "$(tail -n1 "$1")" $'-----END CERTIFICATE-----\r' "$1: trailer"
        check "$1: CRLF line ends" test "$(grep -c $'\r$' "$1")" = "$(wc -l <"$1")"
        sed '/-----/d' "$1" | tr -d '\r\n' | base64 -d >"$2"
        ;;
    *) bad "$1: unknown blob extension" ;;
    esac
}

TEMPLATE_HEX=302C06242B06010401823715088380D22781B3AD2F99971AE9A541ACF454816781FCB96D84B9811F020164020101

# check_blob LABDIR RELFILE CIPHER KRAS
check_blob() {
    local lab=$1 rel=$2 cipher=$3 kras=$4 w="$TMP/w"
    rm -rf "$w" && mkdir "$w"
    local f="$lab/$rel"
    to_der "$f" "$w/blob.der"
    # the recovery blob: SignedData by the CA, content = the EnvelopedData
    if ! openssl cms -verify -CAfile "$lab/ca.pem" -inform DER -binary -in "$w/blob.der" \
        -out "$w/env.der" -certsout "$w/certs.pem" 2>"$w/err"; then
        bad "$rel: cms -verify: $(cat "$w/err")"
        return
    fi
    ok
    local print
    print=$(openssl cms -cmsout -print -inform DER -in "$w/blob.der")
    check "$rel: eContentType id-data" grep -q "eContentType: pkcs7-data" <<<"$print"
    print=$(openssl cms -cmsout -print -inform DER -in "$w/env.der")
    check "$rel: enveloped data" grep -q "contentType: pkcs7-envelopedData" <<<"$print"
    check "$rel: content cipher $cipher" grep -q "algorithm: $cipher " <<<"$print"
    same "$(grep -c 'd.ktri:' <<<"$print")" "$kras" "$rel: one KeyTransRecipientInfo per KRA"
    same "$(grep -c 'algorithm: rsaEncryption' <<<"$print")" "$kras" "$rel: RSA PKCS#1 v1.5"
    # the archived key: a CryptoAPI PRIVATEKEYBLOB for CALG_RSA_KEYX
    if ! openssl cms -decrypt -inform DER -recip "$lab/kra1.pem" -inkey "$lab/kra1.key" -binary \
        -in "$w/env.der" -out "$w/key.blob" 2>"$w/err"; then
        bad "$rel: cms -decrypt with kra1: $(cat "$w/err")"
        return
    fi
    ok
    same "$(head -c 12 "$w/key.blob" | od -An -tx1 | tr -d ' \n')" "0702000000a4000052534132" \
        "$rel: PRIVATEKEYBLOB header"
    same "$(wc -c <"$w/key.blob" | tr -d ' ')" 1172 "$rel: PRIVATEKEYBLOB length"
    # the user certificate is the one in the blob with the manifest's thumbprint
    local thumb user=""
    thumb=$(field "$lab" "$rel" thumbprint)
    awk -v d="$w" '/BEGIN CERT/{n++} {print > (d "/cert" n ".crt")}' "$w/certs.pem"
    same "$(ls "$w"/cert*.crt | wc -l | tr -d ' ')" 2 "$rel: CA and user certificate carried"
    for c in "$w"/cert*.crt; do
        local fp
        fp=$(openssl x509 -in "$c" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g' |
            tr 'A-F' 'a-f')
        [ "$fp" = "$thumb" ] && user=$c
    done
    if [ -z "$user" ]; then
        bad "$rel: no certificate with the manifest thumbprint $thumb"
        return
    fi
    ok
    same "$(openssl rsa -inform MSBLOB -in "$w/key.blob" -noout -modulus 2>&1)" \
        "$(openssl x509 -in "$user" -noout -modulus)" "$rel: archived key matches the certificate"
    same "$(openssl x509 -in "$user" -noout -serial | sed 's/serial=//')" "$(field "$lab" "$rel" serial)" \
        "$rel: manifest serial"
    local upn mail
    upn=$(field "$lab" "$rel" userPrincipalName)
    mail=$(field "$lab" "$rel" mail)
    same "$(openssl x509 -in "$user" -noout -ext subjectAltName | tail -n1 | sed 's/^ *//')" \
        "email:$mail, othername: UPN::$upn" "$rel: SAN e-mail and UPN"
    # the AD CS S/MIME encryption profile
    local t
    t=$(openssl x509 -in "$user" -noout -text)
    check "$rel: OU=Users subject" grep -q "OU = Users" <<<"$t"
    check "$rel: keyUsage critical" grep -q "X509v3 Key Usage: critical" <<<"$t"
    same "$(grep -A1 'X509v3 Key Usage' <<<"$t" | tail -n1 | sed 's/^ *//')" "Key Encipherment" \
        "$rel: keyEncipherment only"
    check "$rel: EKU emailProtection" grep -q "E-mail Protection" <<<"$t"
    # 1.3.6.1.4.1.311.21.7 = SEQUENCE { OID 1.3.6.1.4.1.311.21.8.6301991..., INTEGER 100,
    # INTEGER 1 }, byte for byte as in the reference vectors
    check "$rel: template extension" grep -q "$TEMPLATE_HEX" <<<"$(openssl asn1parse -in "$user")"
    check "$rel: issued by the CA" openssl verify -CAfile "$lab/ca.pem" -purpose smimeencrypt \
        -no_check_time "$user"
    if [ "$kras" -ge 2 ]; then
        openssl cms -decrypt -inform DER -recip "$lab/kra2.pem" -inkey "$lab/kra2.key" -binary \
            -in "$w/env.der" -out "$w/key2.blob" 2>/dev/null || true
        check "$rel: kra2 decrypts the same key" cmp -s "$w/key.blob" "$w/key2.blob"
    fi
}

# ---------------------------------------------------------------- the main lab: 3DES, 2 KRAs
LAB="$TMP/lab"
if ! "$BIN" --out "$LAB" --users 12 --unknown-users 2 --kras 2 --renewals 2 --revoked 3 \
    --expired 1 --key-pool 4 --seed 1234 >"$TMP/out" 2>"$TMP/err"; then
    echo "FAIL: smimesync-lab: $(cat "$TMP/err")" >&2
    exit 1
fi
ok
check "summary printed" grep -q "wrote $LAB" "$TMP/out"
for f in ca.pem ca.key kra1.pem kra1.key kra2.pem kra2.key kra.p12 kra2.p12 kra.pass ca.crl \
    ca.crl.der users.csv manifest.jsonl lab.json connector.key connector-public.pem \
    connector-public.rsa1blob tls/ca.pem tls/ca.key tls/server.pem tls/server.key app.pem app.key \
    client-secret tenant-id client-id; do
    check "$f exists" test -s "$LAB/$f"
done
for f in ca.key kra1.key kra2.key kra.p12 kra2.p12 kra.pass connector.key tls/ca.key \
    tls/server.key app.key client-secret; do
    same "$(stat -c %a "$LAB/$f")" 600 "$f mode"
done
check "no temporary files left" test -z "$(find "$LAB" -name '*.tmp.*')"

nblobs=$(find "$LAB/blobs" -type f | wc -l | tr -d ' ')
same "$(wc -l <"$LAB/manifest.jsonl" | tr -d ' ')" "$nblobs" "one manifest line per blob"
check "lab.json complete" grep -q '"complete": true' "$LAB/lab.json"
check "lab.json counts certificates" grep -q "\"certificates\": $nblobs" "$LAB/lab.json"
# all three encodings are there, and every blob reads back
for enc in der b64 pem; do
    check "some .$enc blobs" test -n "$(find "$LAB/blobs" -name "*.$enc")"
done
for f in "$LAB"/blobs/*; do
    check_blob "$LAB" "blobs/$(basename "$f")" des-ede3-cbc 2
done

same "$(grep -c '"encoding":"der"' "$LAB/manifest.jsonl")" \
    "$(find "$LAB/blobs" -name '*.der' | wc -l | tr -d ' ')" "manifest encodings"

# CA and KRA certificates
check "CA is a CA" grep -q "CA:TRUE" <<<"$(openssl x509 -in "$LAB/ca.pem" -noout -text)"
check "CA subject" grep -q "CN = Lab Issuing CA" <<<"$(openssl x509 -in "$LAB/ca.pem" -noout -subject)"
for k in 1 2; do
    t=$(openssl x509 -in "$LAB/kra$k.pem" -noout -text)
    check "kra$k EKU" grep -q "1.3.6.1.4.1.311.21.6" <<<"$t"
    check "kra$k keyEncipherment" grep -q "Key Encipherment" <<<"$t"
    check "kra$k issued by the CA" openssl verify -CAfile "$LAB/ca.pem" -purpose any "$LAB/kra$k.pem"
    serial=$(openssl x509 -in "$LAB/kra$k.pem" -noout -serial | sed 's/serial=//')
    same "${#serial}" 40 "kra$k serial is 20 bytes"
    p12=$([ "$k" = 1 ] && echo kra.p12 || echo "kra$k.p12")
    same "$(openssl pkcs12 -in "$LAB/$p12" -passin "file:$LAB/kra.pass" -nokeys 2>/dev/null |
        openssl x509 -noout -serial | sed 's/serial=//')" "$serial" "$p12 holds kra$k"
done
check "kra.pass has no newline" test "$(tail -c1 "$LAB/kra.pass" | od -An -tx1 | tr -d ' ')" != 0a
check "kra.pass printable ASCII" test -z "$(LC_ALL=C tr -d '!-~' <"$LAB/kra.pass")"

# CRL: signed by the CA, exactly the manifest's revoked serials, DER = PEM
check "CRL verifies" grep -q "verify OK" <<<"$(openssl crl -in "$LAB/ca.crl" -CAfile "$LAB/ca.pem" \
    -noout 2>&1)"
check "ca.crl.der = ca.crl" cmp -s <(openssl crl -in "$LAB/ca.crl" -outform DER) "$LAB/ca.crl.der"
crl_serials=$(openssl crl -in "$LAB/ca.crl" -noout -text | sed -n 's/^ *Serial Number: //p' | sort)
man_serials=$(grep '"revoked":true' "$LAB/manifest.jsonl" | sed 's/.*"serial":"\([^"]*\)".*/\1/' |
    sort)
same "$crl_serials" "$man_serials" "CRL lists the manifest's revoked serials"
same "$(wc -l <<<"$man_serials" | tr -d ' ')" 3 "three revoked"

# users.csv: header, known users only, mail mismatches as the manifest says
same "$(head -n1 "$LAB/users.csv")" "userPrincipalName,id,mail" "users.csv header"
same "$(($(wc -l <"$LAB/users.csv") - 1))" 12 "users.csv has --users lines"
check "users.csv ids are v4 GUIDs" test -z "$(tail -n +2 "$LAB/users.csv" | cut -d, -f2 |
    grep -Ev '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' || true)"
same "$(tail -n +2 "$LAB/users.csv" | cut -d, -f1 | sort | uniq -d)" "" "UPNs unique"
unknown=$(grep '"userId":null' "$LAB/manifest.jsonl" |
    sed 's/.*"userPrincipalName":"\([^"]*\)".*/\1/' | sort -u)
same "$(wc -l <<<"$unknown" | tr -d ' ')" 2 "two unknown users"
for u in $unknown; do
    check "unknown $u not in users.csv" test -z "$(grep -F "$u," "$LAB/users.csv" || true)"
done
mm=$(grep '"mailMismatch":true' "$LAB/manifest.jsonl" | head -n1)
check "a mail mismatch" test -n "$mm"
if [ -n "$mm" ]; then
    u=$(sed 's/.*"userPrincipalName":"\([^"]*\)".*/\1/' <<<"$mm")
    m=$(sed 's/.*"mail":"\([^"]*\)".*/\1/' <<<"$mm")
    dm=$(grep -F "$u," "$LAB/users.csv" | cut -d, -f3)
    check "mismatch: users.csv mail differs from the certificate's" test -n "$dm" -a "$dm" != "$m"
fi

# connector public key: PEM SubjectPublicKeyInfo and CNG RSA1 blob of connector.key
pem_mod=$(openssl rsa -pubin -in "$LAB/connector-public.pem" -noout -modulus | sed 's/Modulus=//')
same "$(openssl rsa -in "$LAB/connector.key" -noout -modulus | sed 's/Modulus=//')" "$pem_mod" \
    "connector-public.pem is connector.key's"
check "connector-public.pem is SubjectPublicKeyInfo" grep -q "BEGIN PUBLIC KEY" \
    "$LAB/connector-public.pem"
same "$(head -c 27 "$LAB/connector-public.rsa1blob" | od -An -tx1 | tr -d ' \n')" \
    "525341310008000003000000000100000000000000000000010001" "rsa1blob header and exponent"
same "$(tail -c 256 "$LAB/connector-public.rsa1blob" | od -An -tx1 | tr -d ' \n' | tr 'a-f' 'A-F')" \
    "$pem_mod" "rsa1blob modulus"
same "$(wc -c <"$LAB/connector-public.rsa1blob" | tr -d ' ')" 283 "rsa1blob size"

# emulator material
check "TLS server chain" openssl verify -CAfile "$LAB/tls/ca.pem" -purpose sslserver \
    "$LAB/tls/server.pem"
check "TLS server name" grep -q "DNS:localhost, IP Address:127.0.0.1" \
    <<<"$(openssl x509 -in "$LAB/tls/server.pem" -noout -ext subjectAltName)"
same "$(openssl x509 -in "$LAB/app.pem" -noout -modulus)" \
    "$(openssl rsa -in "$LAB/app.key" -noout -modulus)" "app.pem matches app.key"
for f in tenant-id client-id; do
    check "$f is a GUID without newline" grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' \
        "$LAB/$f"
    same "$(wc -c <"$LAB/$f" | tr -d ' ')" 36 "$f length"
done
same "$(wc -c <"$LAB/client-secret" | tr -d ' ')" 40 "client-secret length, no newline"

# ---------------------------------------------------------------- AES-256, one KRA
LAB2="$TMP/lab-aes"
if "$BIN" --out "$LAB2" --users 4 --cipher aes256 --key-pool 2 --revoked 1 --seed 99 \
    >/dev/null 2>"$TMP/err"; then
    ok
    for f in "$LAB2"/blobs/*; do
        check_blob "$LAB2" "blobs/$(basename "$f")" aes-256-cbc 1
    done
else
    bad "aes256 lab: $(cat "$TMP/err")"
fi

# ---------------------------------------------------------------- the seed fixes the structure
LAB3="$TMP/lab-seed"
structure() { sed 's/"thumbprint":"[^"]*"//; s/"notBefore".*//; s/"revokedAt":"[^"]*"//' "$1"; }
if "$BIN" --out "$LAB3" --users 4 --key-pool 2 --revoked 1 --seed 99 >/dev/null 2>"$TMP/err"; then
    check "same seed, same users.csv" cmp -s "$LAB2/users.csv" "$LAB3/users.csv"
    same "$(structure "$LAB3/manifest.jsonl")" "$(structure "$LAB2/manifest.jsonl")" \
        "same seed, same names, serials and choices"
else
    bad "seeded lab: $(cat "$TMP/err")"
fi

# ---------------------------------------------------------------- overwrite a previous lab
if "$BIN" --out "$LAB3" --users 2 --key-pool 1 --renewals 0 --seed 5 >/dev/null 2>"$TMP/err"; then
    ok
    same "$(find "$LAB3/blobs" -type f | wc -l | tr -d ' ')" 2 "old blobs removed on overwrite"
    same "$(wc -l <"$LAB3/manifest.jsonl" | tr -d ' ')" 2 "manifest rewritten"
else
    bad "overwriting a previous lab: $(cat "$TMP/err")"
fi

# ---------------------------------------------------------------- bad command lines
# expect_fail CODE DESCRIPTION ARGS...: exit status CODE and exactly one line on stderr
expect_fail() {
    local code=$1 what=$2 rc=0
    shift 2
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    same "$rc" "$code" "$what: exit status"
    same "$(wc -l <"$TMP/err" | tr -d ' ')" 1 "$what: one-line error"
}
expect_fail 2 "unknown flag" --out "$TMP/x1" --frobnicate
expect_fail 2 "--users 0" --out "$TMP/x2" --users 0
expect_fail 2 "--users abc" --out "$TMP/x3" --users abc
expect_fail 2 "--users without value" --out "$TMP/x4" --users
expect_fail 2 "--cipher rc2" --out "$TMP/x5" --cipher rc2
expect_fail 2 "--kras 0" --out "$TMP/x6" --kras 0
expect_fail 2 "no --out" --users 3
expect_fail 2 "stray argument" --out "$TMP/x7" extra
check "bad command lines wrote nothing" test ! -e "$TMP/x1" -a ! -e "$TMP/x2" -a ! -e "$TMP/x7"
touch "$TMP/afile"
expect_fail 1 "out dir below a file" --out "$TMP/afile/lab" --users 1
mkdir "$TMP/busy" && echo keep >"$TMP/busy/notes.txt"
expect_fail 1 "non-empty dir without lab.json" --out "$TMP/busy" --users 1
same "$(ls "$TMP/busy")" "notes.txt" "non-empty dir left alone"
if [ "$(id -u)" != 0 ]; then
    mkdir "$TMP/ro" && chmod 500 "$TMP/ro"
    expect_fail 1 "unwritable out dir" --out "$TMP/ro/lab" --users 1
    chmod 700 "$TMP/ro"
fi
check "--help" "$BIN" --help

echo "test_lab: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
