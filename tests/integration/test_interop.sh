#!/usr/bin/env bash
# Independent judges: the PKCS#12 we build opens with OpenSSL, GnuTLS certtool and NSS pk12util,
# in both profiles, with the algorithms each profile promises; the encrypted password opens with
# `openssl pkeyutl` for every padding scheme.
source "$(dirname "$0")/lib.sh"
V=$SSYNC_DATA/adcs-basic
cd "$T_TMP"
tp=$(expected thumbprint)
modsha=$(expected user_modulus_sha256)

for profile in compat modern; do
    check "$profile: recover" "$SSYNC_BIN" recover --kra "$V/kra.p12" --kra-pass-file "$V/kra.pass" \
        --pfx-profile $profile --out $profile.p12 --out-pass-file $profile.pass "$V/getkey.der"
    # OpenSSL, default provider only (no -legacy): both profiles must open without it
    openssl pkcs12 -info -noout -in $profile.p12 -passin file:$profile.pass > $profile.info 2>&1
    check "$profile: openssl pkcs12 opens it without the legacy provider" \
        openssl pkcs12 -in $profile.p12 -passin file:$profile.pass -nodes -out $profile.all.pem
    if [ $profile = compat ]; then
        check_contains "compat: MAC is HMAC-SHA1, 2048 iterations" "MAC: sha1, Iteration 2048" $profile.info
        check_contains "compat: 8-byte MAC salt" "salt length: 8" $profile.info
        check_contains "compat: key bag 3DES" "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048" $profile.info
        check_contains "compat: cert bag 3DES" "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048" $profile.info
    else
        check_contains "modern: MAC is HMAC-SHA256" "MAC: sha256, Iteration 2048" $profile.info
        check_contains "modern: key bag AES-256 PBKDF2-SHA256" "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256" $profile.info
        check_contains "modern: cert bag AES-256" "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256" $profile.info
    fi
    check_eq "$profile: key from openssl" "$modsha" "$(modulus_sha256 -in $profile.all.pem)"
    # GnuTLS certtool: exits non-zero when the password does not decrypt the bags
    check "$profile: certtool --p12-info opens it" bash -c "certtool --p12-info --inder \
        --infile $profile.p12 --password \"\$(cat $profile.pass)\" > $profile.gnutls 2>&1"
    check "$profile: certtool refuses a wrong password" bash -c "! certtool --p12-info --inder \
        --infile $profile.p12 --password wrong > /dev/null 2>&1"
    if [ $profile = compat ]; then
        check_contains "compat: certtool sees a SHA-1 MAC" "MAC: SHA1" $profile.gnutls
        check_eq "compat: certtool sees 3DES for both bags" 2 "$(grep -c 'Schema: PKCS12-3DES-SHA1' $profile.gnutls)"
    else
        check_contains "modern: certtool sees a SHA-256 MAC" "MAC: SHA256" $profile.gnutls
        check_eq "modern: certtool sees AES-256 for both bags" 2 "$(grep -c 'Schema: PBES2-AES256-CBC' $profile.gnutls)"
    fi
    check_eq "$profile: certtool: 8-byte salts everywhere" 3 "$(grep -c 'Salt size: 8' $profile.gnutls)"
    check_contains "$profile: certtool finds the encrypted key" "PKCS #8 Encrypted key" $profile.gnutls
    check_contains "$profile: certtool finds the certificate" "Type: Certificate" $profile.gnutls
    # NSS pk12util into a fresh database
    mkdir -p nss-$profile
    certutil -N -d sql:nss-$profile --empty-password 2>/dev/null || \
        check "nss: create database" false
    check "$profile: pk12util imports it into a fresh NSS database" \
        pk12util -i $profile.p12 -d sql:nss-$profile -w $profile.pass -K ""
    certutil -L -d sql:nss-$profile > nss-$profile.list 2>&1
    check_contains "$profile: NSS lists the certificate under its friendly name" "$(expected upn)" nss-$profile.list
    certutil -K -d sql:nss-$profile > nss-$profile.keys 2>&1
    check_contains "$profile: NSS holds the private key" "rsa" nss-$profile.keys
done

# Every OAEP padding scheme decrypts with `openssl pkeyutl` and the connector's private key.
for bits in 256 384 512; do
    rm -rf out
    check "export --padding oaepSha$bits" "$SSYNC_BIN" export --kra "$V/kra.p12" \
        --kra-pass-file "$V/kra.pass" --connector-key "$V/connector-public.pem" \
        --padding oaepSha$bits --out-dir out "$V/getkey.der"
    check_eq "record says oaepSha$bits" "oaepSha$bits" "$(jq -r .paddingScheme out/$tp.json)"
    jq -r .encryptedPfxPassword out/$tp.json | base64 -d > pw.enc
    check "oaepSha$bits: openssl pkeyutl decrypts the password" openssl pkeyutl -decrypt \
        -inkey "$V/connector.key" -in pw.enc -out pw.txt -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha$bits -pkeyopt rsa_mgf1_md:sha$bits
    jq -r .encryptedPfxBlob out/$tp.json | base64 -d > rec.p12
    check "oaepSha$bits: the password opens the PKCS#12" \
        openssl pkcs12 -in rec.p12 -passin file:pw.txt -nodes -out rec.pem
    check "oaepSha$bits: wrong OAEP hash does not decrypt" bash -c "! openssl pkeyutl -decrypt \
        -inkey '$V/connector.key' -in pw.enc -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 >/dev/null 2>&1"
done
finish
