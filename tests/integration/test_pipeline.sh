#!/usr/bin/env bash
# The pipelined sync: the plan learns certificates without decrypting (a blob for a KRA not held is
# still reported at plan time; a blob whose key does not decrypt is planned and fails its own item
# at upload time), workers recover in parallel with the uploads, a re-sync reads only listing pages,
# and export keeps argument order with several workers.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 40 --revoked 0 --expired 0 --renewals 0 --seed 21 > /dev/null
"$LAB_BIN" --out other --users 2 --revoked 0 --expired 0 --renewals 0 --seed 22 > /dev/null
check "labs generated" test -f lab/manifest.jsonl -a -f other/manifest.jsonl
# a blob archived to a KRA we do not hold
foreign=$(ls other/blobs | head -n 1)
cp "other/blobs/$foreign" "lab/blobs/zz-foreign-$foreign"
# a blob whose last ciphertext block is damaged: its certificate is readable, its key is not
# (signed again by the CA: a damage under the CA's signature would fail the scan already)
victim=$(ls lab/blobs | grep '\.der$' | head -n 1)
victim_tp=$(jq -r --arg f "blobs/$victim" 'select(.file == $f) | .thumbprint' lab/manifest.jsonl)
openssl cms -verify -noverify -inform DER -in "lab/blobs/$victim" -out env.der 2> /dev/null
openssl pkcs7 -inform DER -in "lab/blobs/$victim" -print_certs -out certs.pem
python3 - env.der certs.pem lab/ca.pem << 'PY'
import sys
env = bytearray(open(sys.argv[1], 'rb').read())
env[len(env) - 3] ^= 0x5A  # inside the last ciphertext block: the padding breaks
open(sys.argv[1], 'wb').write(env)
ca = open(sys.argv[3]).read().split('-----BEGIN CERTIFICATE-----')[1].split('-----END')[0]
certs = open(sys.argv[2]).read().split('-----BEGIN CERTIFICATE-----')[1:]
keep = ['-----BEGIN CERTIFICATE-----' + c.split('-----END')[0] + '-----END CERTIFICATE-----\n'
        for c in certs if c.split('-----END')[0].split() != ca.split()]
open(sys.argv[2], 'w').write(''.join(keep))  # the signer's certificate is added by cms -sign
PY
openssl cms -sign -nodetach -binary -inform DER -in env.der -signer lab/ca.pem -inkey lab/ca.key \
    -certfile certs.pem -outform DER -out "lab/blobs/$victim"
check "the damaged blob no longer decrypts" bash -c "! openssl cms -decrypt -inform DER \
    -in <(openssl cms -verify -noverify -inform DER -in lab/blobs/$victim 2>/dev/null) \
    -recip lab/kra1.pem -inkey lab/kra1.key -binary -out /dev/null"
emu_start lab --write-limit off --request-limit off || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started"
write_config lab sync.conf

"$SSYNC_BIN" plan --config sync.conf --json > plan.json 2> plan.err
check_eq "plan: the foreign KRA's blob is reported as not recoverable" "1" \
    "$(jq '[.items[] | select(.action == "skip" and (.error // "" | contains("archived key is for KRA")))] | length' plan.json)"
check_eq "plan: the damaged blob is planned (its certificate is readable)" "upload" \
    "$(jq -r --arg t "$victim_tp" '.items[] | select(.thumbprint == $t) | .action' plan.json)"

check_eq "sync --workers 0 is a usage error" "2" \
    "$("$SSYNC_BIN" sync --config sync.conf --workers 0 > /dev/null 2>&1; echo $?)"
"$SSYNC_BIN" sync --config sync.conf --workers 2 --json > sync1.json 2> sync1.err
check_eq "sync: partial (one item failed)" "3" "$?"
check_eq "sync: every other upload done" "39" \
    "$(jq '[.items[] | select(.outcome == "done")] | length' sync1.json)"
check_contains "sync: the damaged blob fails with its reason" "KRA" sync1.err
check_eq "sync: the damaged item carries an error" "1" \
    "$(jq --arg t "$victim_tp" '[.items[] | select(.thumbprint == $t and .error != null)] | length' sync1.json)"
check_eq "Intune holds the 39 good records" "39" "$(emu records | jq .count)"
check_eq "one POST per good upload" "39" "$(route "POST userPfxCertificates")"

gets0=$(route "GET userPfxCertificates")
"$SSYNC_BIN" sync --config sync.conf --workers 1 --json > sync2.json 2> sync2.err
check_eq "re-sync: no new POST" "39" "$(route "POST userPfxCertificates")"
check_eq "re-sync: one listing page read" "1" "$(( $(route "GET userPfxCertificates") - gets0 ))"
check_eq "re-sync: the damaged item is tried again and fails again" "1" \
    "$(jq '[.items[] | select(.error != null and .action == "upload")] | length' sync2.json)"
# the text output names the file of each failed blob (the table and the text report)
"$SSYNC_BIN" sync --config sync.conf --workers 1 --report sync3.txt > sync3.out 2> sync3.err
check "sync's table names the damaged blob's file" grep -q "file \".*$victim\")*:" sync3.out
check "the text report names it under failed:" \
    bash -c "sed -n '/^failed:/,/^\$/p' sync3.txt | grep -q 'file \".*$victim\"'"

# export with several workers keeps argument order and writes every record
rm -f "lab/blobs/zz-foreign-$foreign" "lab/blobs/$victim"
"$SSYNC_BIN" export --workers 3 --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir rec lab/blobs > exp.out 2> exp.err
check_eq "export --workers 3: exit status" "0" "$?"
check_eq "export --workers 3: lines in argument order" "$(ls lab/blobs | sed 's|^|lab/blobs/|')" \
    "$(cut -d' ' -f3 exp.out)"
check_eq "export --workers 3: one record per blob" "$(ls lab/blobs | wc -l)" "$(ls rec | wc -l)"
check_eq "export --workers x is a usage error" "2" \
    "$("$SSYNC_BIN" export --workers x --kra lab/kra.p12 --connector-key lab/connector-public.pem \
        --out-dir rec lab/blobs > /dev/null 2>&1; echo $?)"
finish
