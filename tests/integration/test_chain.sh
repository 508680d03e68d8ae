#!/usr/bin/env bash
# The whole chain end to end: lab CA -> export -> upload to intune-emu -> device-fetch on two
# different devices of the same user -> both decrypt an S/MIME message that `openssl cms
# -encrypt` made for the user's certificate, with the key that arrived on the device.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 6 --kras 1 --renewals 0 --revoked 0 --expired 0 --seed 5 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
check "export" "$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir records lab/blobs
emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"

for auth in secret certificate; do
    write_config lab $auth.conf $auth
    "$SSYNC_BIN" upload --config $auth.conf records > upload-$auth.out 2> upload-$auth.err
    check_eq "upload with a client $auth: exit status" 0 "$?"
done
check_eq "first upload created every record" "$(ls records | wc -l)" "$(grep -c '^created' upload-secret.out)"
check_eq "second upload found every record present" "$(ls records | wc -l)" "$(grep -c '^present' upload-certificate.out)"
count=$(curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" | jq '.count')
check_eq "Intune holds exactly one record per certificate" "$(ls records | wc -l)" "$count"

user=$(jq -r 'select(.userId != null) | .userPrincipalName' lab/manifest.jsonl | head -n 1)
tp=$(jq -r "select(.userPrincipalName == \"$user\") | .thumbprint" lab/manifest.jsonl | head -n 1)
for dev in phone tablet; do
    check "device-fetch on the $dev" "$EMU_BIN" device-fetch --url "$EMU_URL" \
        --ca-bundle lab/tls/ca.pem --user "$user" --out "$dev" --device-name "$dev"
    check "$dev: received the key for $tp" test -s "$dev/$tp.key.pem"
    check_eq "$dev: key file mode" 600 "$(stat -c %a "$dev/$tp.key.pem")"
done
echo "Quarterly numbers, for $user only." > message.txt
openssl cms -encrypt -binary -aes256 -in message.txt -out message.p7m -recip "phone/$tp.cert.pem" 2>/dev/null
check "an S/MIME message was encrypted to the user's certificate" test -s message.p7m
for dev in phone tablet; do
    openssl cms -decrypt -binary -in message.p7m -recip "$dev/$tp.cert.pem" -inkey "$dev/$tp.key.pem" \
        -out "$dev.txt" 2>/dev/null
    check "$dev decrypts the message" cmp message.txt "$dev.txt"
done
check "both devices hold the same key" cmp phone/$tp.key.pem tablet/$tp.key.pem
check_eq "the certificate is the CA's" "$tp" "$(thumbprint phone/$tp.cert.pem)"
finish
