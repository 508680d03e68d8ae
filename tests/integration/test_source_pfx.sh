#!/usr/bin/env bash
# The pfx source end to end: a lab written with --pfx-dir, [source] type = pfx. plan lists every
# manifest entry with the certificate's thumbprint and user; broken entries (wrong password,
# missing file, password file readable by others) are failed items naming the manifest line, the
# file and the reason, while the rest are planned; sync uploads the good ones into an emulator
# started with --strict (which decrypts and opens every PKCS#12) and a device can install them.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 16 --unknown-users 1 --revoked 2 --seed 41 --pfx-dir lab/pfx \
    > lab.out
check "lab with a pfx source" test -f lab/pfx/manifest.csv
check_eq "one PKCS#12 per certificate" "$(wc -l < lab/manifest.jsonl)" \
    "$(find lab/pfx -name '*.p12' | wc -l)"
check_eq "password files are 0600" "" "$(find lab/pfx -name '*.pass' ! -perm 600)"
check_eq "manifest header" "file,password_file,userPrincipalName" "$(head -n 1 lab/pfx/manifest.csv)"

# three broken entries at the end of the manifest
cp lab/pfx/u00001-g1.p12 lab/pfx/wrongpw.p12
printf 'not-the-password\n' > lab/pfx/wrongpw.pass
chmod 600 lab/pfx/wrongpw.pass
cp lab/pfx/u00002-g1.p12 lab/pfx/loose.p12
cp lab/pfx/u00002-g1.pass lab/pfx/loose.pass
chmod 644 lab/pfx/loose.pass
{
    echo "wrongpw.p12,wrongpw.pass,"
    echo "missing.p12,u00001-g1.pass,"
    echo "loose.p12,loose.pass,"
} >> lab/pfx/manifest.csv
lines=$(wc -l < lab/pfx/manifest.csv)

emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab blobs.conf
sed -e 's|^type = blobs$|type = pfx|' -e 's|^path = lab/blobs$|path = lab/pfx|' blobs.conf > pfx.conf
check_contains "config names the pfx source" "type = pfx" pfx.conf

m=lab/manifest.jsonl
total=$(wc -l < $m)
jq -r 'select(.userId != null and (.revoked | not)) | .thumbprint' $m | sort > want.txt
n_up=$(wc -l < want.txt)

"$SSYNC_BIN" plan --config pfx.conf --json > plan.json 2> plan.err
rc=$?
check "plan: exit status 0 or 3 (partial: failed items)" test "$rc" -eq 0 -o "$rc" -eq 3
check_eq "plan: one item per manifest entry" "$((lines - 1))" "$(jq '.items | length' plan.json)"
# every lab certificate is an item with its thumbprint and user, from its PKCS#12 file
jq -r '"\(.pfxFile) \(.thumbprint) \(.userPrincipalName)"' $m | sort > want-items.txt
jq -r '.items[] | select(.error == null or .error == "") |
    "\(.file | split("/") | last) \(.thumbprint) \(.userPrincipalName)"' plan.json | sort > got-items.txt
check_eq "plan: file, thumbprint and user of every good entry" "$(cat want-items.txt)" \
    "$(cat got-items.txt)"
check_eq "plan: uploads are the known users' certificates that are not revoked" \
    "$(cat want.txt)" "$(jq -r '.items[] | select(.action == "upload") | .thumbprint' plan.json | sort)"
check_eq "plan: three failed items" 3 "$(jq '.counts.failed' plan.json)"
failed() { jq -r --arg f "$1" '.items[] | select(.file | endswith($f)) | .error' plan.json; }
e=$(failed /wrongpw.p12)
check "wrong password: names the line, the file and the reason" \
    grep -q "manifest.csv:$((lines - 2)): .*wrongpw.p12: cannot open the PKCS#12 file: .*wrong password" <<< "$e"
e=$(failed /missing.p12)
check "missing file: names the line and the file" \
    grep -q "manifest.csv:$((lines - 1)): .*missing.p12" <<< "$e"
e=$(failed /loose.p12)
check "password file readable by others: refused" \
    grep -q "manifest.csv:$lines: .*loose.pass has mode 644" <<< "$e"
check "no password in the report" bash -c "! grep -qF -- \"\$(cat lab/pfx/u00001-g1.pass)\" plan.json plan.err"
check_eq "plan wrote nothing" 0 "$(emu records | jq .count)"

"$SSYNC_BIN" sync --config pfx.conf --json > sync.json 2> sync.err
rc=$?
check_eq "sync: exit status 3 (partial: the broken entries)" 3 "$rc"
check_eq "sync: uploads done" "$n_up" \
    "$(jq '[.items[] | select(.action == "upload" and .outcome == "done")] | length' sync.json)"
check_eq "Intune (strict: every PKCS#12 opened with its password) holds the expected thumbprints" \
    "$(cat want.txt)" "$(emu records | jq -r '.records[].thumbprint' | sort)"
upn=$(jq -r 'select(.userId != null and (.revoked | not)) | .userPrincipalName' $m | head -n 1)
check "a device installs the user's key" "$EMU_BIN" device-fetch --url "$EMU_URL" \
    --ca-bundle lab/tls/ca.pem --user "$upn" --out dev
"$SSYNC_BIN" sync --config pfx.conf --json > sync2.json 2> sync2.err
check_eq "second sync: nothing to upload" 0 "$(jq '.counts.upload' sync2.json)"

# a malformed manifest stops the run with file:line
echo "only-one-field" >> lab/pfx/manifest.csv
"$SSYNC_BIN" plan --config pfx.conf > bad.out 2> bad.err
check_eq "malformed manifest: exit 1" 1 "$?"
check_contains "malformed manifest: file and line" "manifest.csv:$((lines + 1)): 1 fields" bad.err
finish
