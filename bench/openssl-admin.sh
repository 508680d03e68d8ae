#!/usr/bin/env bash
# The per-certificate pipeline an administrator would script with the openssl command line:
# unwrap the SignedData, `openssl cms -decrypt` with the KRA key, `openssl rsa -inform MSBLOB`
# (the archived key is a CryptoAPI PRIVATEKEYBLOB), `openssl pkcs12 -export` (the compat
# profile: 3DES bags, SHA-1 MAC, 2048 iterations) and `openssl pkeyutl -encrypt` of the
# password to the connector key (OAEP SHA-512). Usage: openssl-admin.sh LAB_DIR OUT_DIR BLOB...
set -euo pipefail
lab=$1 out=$2
shift 2
mkdir -p "$out"
for b in "$@"; do
    w=$out/$(basename "$b")
    case "$b" in
    *.der) cp "$b" "$w.p7" ;;
    *) tr -d '\r' < "$b" | grep -v -- '-----' | base64 -d > "$w.p7" ;;
    esac
    openssl cms -verify -noverify -inform DER -in "$w.p7" -out "$w.env" 2> /dev/null
    openssl cms -decrypt -inform DER -in "$w.env" -recip "$lab/kra1.pem" -inkey "$lab/kra1.key" \
        -binary -out "$w.blob"
    openssl rsa -inform MSBLOB -in "$w.blob" -out "$w.key" 2> /dev/null
    openssl pkcs7 -inform DER -in "$w.p7" -print_certs -out "$w.certs"
    # the user certificate is the one holding the key (the others are the CA chain)
    mod=$(openssl rsa -in "$w.key" -noout -modulus)
    awk -v p="$w.c" '/BEGIN CERT/{n++} {print > (p n)}' "$w.certs"
    for c in "$w".c[0-9]*; do
        if [ "$(openssl x509 -in "$c" -noout -modulus)" = "$mod" ]; then mv "$c" "$w.cert"; fi
    done
    rm -f "$w".c "$w".c[0-9]*
    openssl rand -base64 24 > "$w.pass"
    openssl pkcs12 -export -inkey "$w.key" -in "$w.cert" -passout "file:$w.pass" \
        -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -iter 2048 -out "$w.p12"
    openssl pkeyutl -encrypt -pubin -inkey "$lab/connector-public.pem" -in "$w.pass" \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha512 -pkeyopt rsa_mgf1_md:sha512 \
        -out "$w.pass.enc"
    rm -f "$w.p7" "$w.env" "$w.blob" "$w.key" "$w.pass" "$w.certs" "$w.cert"
done
