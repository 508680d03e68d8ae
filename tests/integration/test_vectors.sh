#!/usr/bin/env bash
# The reference vectors (made with the openssl CLI, independent of our code) are recovered and
# exported, and the results match expected.txt.
source "$(dirname "$0")/lib.sh"
V=$SSYNC_DATA/adcs-basic
cd "$T_TMP"

tp=$(expected thumbprint)
modsha=$(expected user_modulus_sha256)

# The three encodings of certutil -getkey and a bare RawArchivedKey with its certificate.
cp "$V/getkey.der" der.blob
cp "$V/getkey-base64.txt" b64.blob
sed 's/$/\r/' "$V/getkey-base64.txt" > b64crlf.blob
{ printf -- '-----BEGIN CERTIFICATE-----\r\n'; tr -d '\r' < "$V/getkey-base64.txt" | sed 's/$/\r/'
  printf -- '-----END CERTIFICATE-----\r\n'; } > header.blob
{ echo '-----BEGIN CERTIFICATE-----'; cat "$V/getkey-base64.txt"; echo '-----END CERTIFICATE-----'; } > headerlf.blob

for b in der b64 b64crlf header headerlf; do
    check "recover $b" "$SSYNC_BIN" recover --kra "$V/kra.p12" --kra-pass-file "$V/kra.pass" \
        --out "$b.p12" --out-pass-file "$b.pass" --json "$b.blob"
    "$SSYNC_BIN" recover --kra "$V/kra.p12" --kra-pass-file "$V/kra.pass" --force --out "$b.p12" \
        --out-pass-file "$b.pass" --json "$b.blob" > "$b.json" 2>/dev/null
    openssl pkcs12 -in "$b.p12" -passin "file:$b.pass" -nokeys -clcerts -out "$b.cert.pem" 2>/dev/null
    openssl pkcs12 -in "$b.p12" -passin "file:$b.pass" -nocerts -nodes -out "$b.key.pem" 2>/dev/null
    check_eq "$b: certificate thumbprint" "$tp" "$(thumbprint "$b.cert.pem")"
    check_eq "$b: key modulus" "$modsha" "$(modulus_sha256 -in "$b.key.pem")"
    check_eq "$b: password file mode" 600 "$(stat -c %a "$b.pass")"
    check_eq "$b: pkcs12 file mode" 600 "$(stat -c %a "$b.p12")"
    check_eq "$b: password has no newline" 32 "$(wc -c < "$b.pass")"
done

check "recover bare RawArchivedKey with --cert" "$SSYNC_BIN" recover --kra "$V/kra.p12" \
    --kra-pass-file "$V/kra.pass" --cert "$V/user.pem" --out bare.p12 --out-pass-file bare.pass \
    "$V/rawarchivedkey.der"
openssl pkcs12 -in bare.p12 -passin file:bare.pass -nocerts -nodes -out bare.key.pem 2>/dev/null
check_eq "bare: key modulus" "$modsha" "$(modulus_sha256 -in bare.key.pem)"

check "recover with PEM KRA key + certificate" "$SSYNC_BIN" recover --kra "$V/kra1.key" \
    --kra-cert "$V/kra1.pem" --out pem.p12 --out-pass-file pem.pass "$V/getkey.der"

# The certificate facts in --json agree with expected.txt.
j=der.json
check_eq "json thumbprint" "$tp" "$(jq -r .thumbprint $j)"
check_eq "json UPN" "$(expected upn)" "$(jq -r .userPrincipalName $j)"
check_eq "json e-mail" "$(expected email)" "$(jq -r '.emails[0]' $j)"
check_eq "json template OID" "$(expected template_oid)" "$(jq -r .template.oid $j)"
check_eq "json template major" "$(expected template_major)" "$(jq -r .template.major $j)"
check_eq "json template minor" "$(expected template_minor)" "$(jq -r .template.minor $j)"
check_eq "json key bits" "$(expected user_key_bits)" "$(jq -r .keyBits $j)"
nb=$(date -u -d "$(expected not_before)" +%Y-%m-%dT%H:%M:%SZ)
na=$(date -u -d "$(expected not_after)" +%Y-%m-%dT%H:%M:%SZ)
check_eq "json notBefore" "$nb" "$(jq -r .notBefore $j)"
check_eq "json notAfter" "$na" "$(jq -r .notAfter $j)"

# export: the record is the exact POST body, and it opens with the connector's private key.
for ck in connector-public.pem connector-public.rsa1blob; do
    rm -rf out
    check "export with $ck" "$SSYNC_BIN" export --kra "$V/kra.p12" --kra-pass-file "$V/kra.pass" \
        --connector-key "$V/$ck" --out-dir out "$V/getkey.der"
    r=out/$tp.json
    check "record $tp.json exists" test -f "$r"
    check_eq "record keys" \
        "encryptedPfxBlob,encryptedPfxPassword,expirationDateTime,intendedPurpose,keyName,paddingScheme,providerName,startDateTime,thumbprint,userPrincipalName" \
        "$(jq -r 'keys | join(",")' "$r")"
    check_eq "record thumbprint" "$tp" "$(jq -r .thumbprint "$r")"
    check_eq "record purpose" smimeEncryption "$(jq -r .intendedPurpose "$r")"
    check_eq "record UPN" "$(expected upn)" "$(jq -r .userPrincipalName "$r")"
    check_eq "record start" "$nb" "$(jq -r .startDateTime "$r")"
    check_eq "record expiry" "$na" "$(jq -r .expirationDateTime "$r")"
    check_eq "record provider" "Microsoft Software Key Storage Provider" "$(jq -r .providerName "$r")"
    check_eq "record key name" PFXEncryptionKey "$(jq -r .keyName "$r")"
    check_eq "record padding" oaepSha512 "$(jq -r .paddingScheme "$r")"
    jq -r .encryptedPfxPassword "$r" | base64 -d > pw.enc
    jq -r .encryptedPfxBlob "$r" | base64 -d > rec.p12
    check "password decrypts with the connector key (OAEP SHA-512)" openssl pkeyutl -decrypt \
        -inkey "$V/connector.key" -in pw.enc -out pw.txt -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha512 -pkeyopt rsa_mgf1_md:sha512
    check "password is printable ASCII" bash -c "LC_ALL=C grep -qxE '[!-~]{24,}' pw.txt"
    openssl pkcs12 -in rec.p12 -passin file:pw.txt -nocerts -nodes -out rec.key.pem 2>/dev/null
    openssl pkcs12 -in rec.p12 -passin file:pw.txt -nokeys -clcerts -out rec.cert.pem 2>/dev/null
    check_eq "PKCS#12 from the record: key" "$modsha" "$(modulus_sha256 -in rec.key.pem)"
    check_eq "PKCS#12 from the record: certificate" "$tp" "$(thumbprint rec.cert.pem)"
done
finish
