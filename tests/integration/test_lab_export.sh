#!/usr/bin/env bash
# The whole lab through `export`: every archived key of a lab CA (two KRAs, AES-256 envelopes,
# all three blob encodings, renewals, revoked and expired certificates) becomes exactly one
# record, with the right user, and a sample of records opens with the connector's private key.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 40 --kras 2 --cipher aes256 --seed 11 > /dev/null
check "lab generated" test -f lab/manifest.jsonl

# KRA 2 alone opens every blob (each archived key is encrypted to every KRA).
"$SSYNC_BIN" export --kra lab/kra2.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir out lab/blobs > export.out 2> export.err
check_eq "export exit status" 0 "$?"
check_eq "one record per certificate" "$(wc -l < lab/manifest.jsonl)" "$(ls out | wc -l)"
jq -r .thumbprint lab/manifest.jsonl | sort > want.txt
ls out | sed 's/\.json$//' | sort > got.txt
check "the records are exactly the manifest's certificates" cmp want.txt got.txt
bad=0
while read -r tp upn; do
    [ "$(jq -r .userPrincipalName "out/$tp.json")" = "$upn" ] || bad=$((bad + 1))
done < <(jq -r '"\(.thumbprint) \(.userPrincipalName)"' lab/manifest.jsonl)
check_eq "every record names its certificate's user" 0 "$bad"
check_eq "all records are smimeEncryption" 0 \
    "$(jq -r .intendedPurpose out/*.json | grep -vc smimeEncryption)"
check_eq "stdout: one line per record" "$(ls out | wc -l)" "$(wc -l < export.out)"
check_eq "record files are 0600" "" "$(find out -type f ! -perm 600)"

# A sample, one per encoding: the password opens the PKCS#12, whose key matches the certificate.
for enc in der base64 base64header; do
    tp=$(jq -r "select(.encoding == \"$enc\") | .thumbprint" lab/manifest.jsonl | head -n 1)
    jq -r .encryptedPfxPassword "out/$tp.json" | base64 -d > pw.enc
    jq -r .encryptedPfxBlob "out/$tp.json" | base64 -d > $enc.p12
    openssl pkeyutl -decrypt -inkey lab/connector.key -in pw.enc -out pw.txt \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha512 -pkeyopt rsa_mgf1_md:sha512
    openssl pkcs12 -in $enc.p12 -passin file:pw.txt -nokeys -clcerts -out $enc.crt 2>/dev/null
    openssl pkcs12 -in $enc.p12 -passin file:pw.txt -nocerts -nodes -out $enc.key 2>/dev/null
    check_eq "$enc: certificate in the PKCS#12" "$tp" "$(thumbprint $enc.crt)"
    check_eq "$enc: key matches certificate" "$(openssl x509 -noout -modulus -in $enc.crt)" \
        "$(openssl rsa -noout -modulus -in $enc.key 2>/dev/null)"
done

# KRA 1 alone, in PEM form, with the modern profile gives the same set.
"$SSYNC_BIN" export --kra lab/kra1.key --kra-cert lab/kra1.pem --pfx-profile modern \
    --connector-key lab/connector-public.pem --out-dir out1 lab/blobs > /dev/null 2>&1
check_eq "KRA 1 (PEM) exports the same set" "$(cat got.txt)" "$(ls out1 | sed 's/\.json$//' | sort)"

# A KRA that no blob names: every item fails with the serials it needs, nothing is written.
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 9 \
    -subj "/CN=Unrelated KRA" >/dev/null 2>&1
"$SSYNC_BIN" export --kra other.key --kra-cert other.pem --connector-key lab/connector-public.pem \
    --out-dir none lab/blobs > /dev/null 2> none.err
check_eq "unrelated KRA: exit status 1" 1 "$?"
kra1_serial=$(openssl x509 -noout -serial -in lab/kra1.pem | sed 's/serial=//')
check_eq "unrelated KRA: every item names KRA 1's serial" "$(wc -l < lab/manifest.jsonl)" \
    "$(grep -c "$kra1_serial" none.err)"
check_eq "unrelated KRA: no record written" 0 "$(ls none 2>/dev/null | wc -l)"
finish
