#!/usr/bin/env bash
# smimesync status against intune-emu: before a sync every wanted certificate is missing (exit
# 4); after it Intune is in step (exit 0); a revoked certificate put back into Intune is
# "revokedPresent" (or "revokedKept" with remove_revoked = false); a record that no certificate
# of the source explains is "extra", also for a user without any certificate in the source.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 6 --unknown-users 1 --revoked 2 --seed 23 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
# a directory user without any certificate in the source
echo "zoe.extra@lab.example,0b5e7a52-6a43-4c4b-9e8e-0d8f3c8a1d11,zoe.extra@lab.example" \
    >> lab/users.csv
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab s.conf
status() { "$SSYNC_BIN" status --config "${CONF:-s.conf}" "$@" 2> status.err; }

m=lab/manifest.jsonl
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' $m)
jq -r 'select(.userId != null and (.revoked | not)) | .thumbprint' $m | sort > want.txt
count() { jq -c "[.counts.inStep, .counts.missing, .counts.extra, .counts.revokedPresent]" "$1"; }

# 1. nothing in Intune yet: everything is missing
status --json > s1.json
check_eq "before sync: exit 4 (differences)" 4 "$?"
check_eq "before sync: [inStep, missing, extra, revokedPresent]" "[0,$n_up,0,0]" "$(count s1.json)"
check_eq "before sync: the missing thumbprints are the wanted ones" "$(cat want.txt)" \
    "$(jq -r '.users[].missing[]' s1.json | sort)"
check_eq "before sync: inStep is false" false "$(jq .inStep s1.json)"
status > s1.txt
check_eq "table: exit 4" 4 "$?"
check_contains "table: totals say differences found" "differences found" s1.txt
check_contains "table: a missing line" "  missing " s1.txt

# 2. after a sync Intune is in step
"$SSYNC_BIN" sync --config s.conf > /dev/null 2>&1
check_eq "sync: exit status" 0 "$?"
status --json > s2.json
check_eq "after sync: exit 0" 0 "$?"
check_eq "after sync: [inStep, missing, extra, revokedPresent]" "[$n_up,0,0,0]" "$(count s2.json)"
check_eq "after sync: inStep is true" true "$(jq .inStep s2.json)"
status > s2.txt
check_contains "table: in step" "Intune is in step with the CA" s2.txt

# 3. a revoked certificate back in Intune
rev_file=$(jq -r 'select(.userId != null and .revoked) | .file' $m | head -n 1)
rev_tp=$(jq -r 'select(.userId != null and .revoked) | .thumbprint' $m | head -n 1)
rev_upn=$(jq -r 'select(.userId != null and .revoked) | .userPrincipalName' $m | head -n 1)
"$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir rev "lab/$rev_file" > /dev/null 2>&1
check "upload the revoked certificate" "$SSYNC_BIN" upload --config s.conf rev
status --json > s3.json
check_eq "revoked present: exit 4" 4 "$?"
check_eq "revoked present: [inStep, missing, extra, revokedPresent]" "[$n_up,0,0,1]" \
    "$(count s3.json)"
check_eq "revoked present: listed under its user" "$rev_tp" \
    "$(jq -r --arg u "$rev_upn" '.users[] | select(.userPrincipalName == $u) | .revokedPresent[]' s3.json)"
cp s.conf keep.conf
printf '[policy]\nremove_revoked = false\n' >> keep.conf
CONF=keep.conf status --json > s3k.json
check_eq "remove_revoked = false: revoked and kept is not a difference (exit 0)" 0 "$?"
check_eq "remove_revoked = false: counted as revokedKept" 1 "$(jq .counts.revokedKept s3k.json)"

# 4. extra records: one for a user of the source, one for a user without certificates
up_file=$(jq -r 'select(.userId != null and (.revoked | not)) | .file' $m | head -n 1)
up_upn=$(jq -r 'select(.userId != null and (.revoked | not)) | .userPrincipalName' $m | head -n 1)
"$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir ex "lab/$up_file" > /dev/null 2>&1
mkdir -p extra
x1=1111111111111111111111111111111111111111
x2=2222222222222222222222222222222222222222
jq --arg t $x1 '.thumbprint = $t' ex/*.json > extra/a.json
jq --arg t $x2 '.thumbprint = $t | .userPrincipalName = "zoe.extra@lab.example"' ex/*.json \
    > extra/b.json
check "upload two records that are not from the source" "$SSYNC_BIN" upload --config s.conf extra
status --json > s4.json
check_eq "extra: exit 4" 4 "$?"
check_eq "extra: [inStep, missing, extra, revokedPresent]" "[$n_up,0,2,1]" "$(count s4.json)"
check_eq "extra: listed under the source user" "$x1" \
    "$(jq -r --arg u "$up_upn" '.users[] | select(.userPrincipalName == $u) | .extra[]' s4.json)"
check_eq "extra: listed under the user without certificates" "$x2" \
    "$(jq -r '.users[] | select(.userPrincipalName == "zoe.extra@lab.example") | .extra[]' s4.json)"
status > s4.txt
check_contains "table: the extra record's line" "  extra            $x1" s4.txt

# 5. --user: one user only (Intune read for that user)
status --user "$up_upn" --json > s5.json
check_eq "--user with an extra: exit 4" 4 "$?"
check_eq "--user: only that user" "$up_upn" "$(jq -r '.users[].userPrincipalName' s5.json | sort -u)"
check_eq "--user: its extra record" 1 "$(jq .counts.extra s5.json)"
status --user zoe.extra@lab.example --json > s6.json
check_eq "--user without certificates in the source: exit 4" 4 "$?"
check_eq "--user without certificates: its record is extra" "$x2" "$(jq -r '.users[0].extra[0]' s6.json)"
in_step_upn=$(jq -r --arg a "$up_upn" --arg b "$rev_upn" \
    'select(.userId != null and (.revoked | not) and .userPrincipalName != $a and .userPrincipalName != $b) | .userPrincipalName' \
    $m | head -n 1)
status --user "$in_step_upn" --json > s7.json
check_eq "--user in step: exit 0" 0 "$?"
check_eq "--user in step: nothing differs" 0 "$(jq .counts.differences s7.json)"

# 6. errors
"$SSYNC_BIN" status > /dev/null 2>&1
check_eq "no --config: exit 2" 2 "$?"
"$SSYNC_BIN" status --config s.conf --bogus > /dev/null 2>&1
check_eq "unknown option: exit 2" 2 "$?"
"$SSYNC_BIN" status --config missing.conf > /dev/null 2> err.txt
check_eq "missing configuration: exit 1" 1 "$?"
check_contains "missing configuration: named" "missing.conf" err.txt
"$SSYNC_BIN" status --help > help.txt
check_contains "--help documents exit status 4" "  4  status: differences found" help.txt
check_eq "status wrote nothing" "$((n_up + 3))" "$(emu records | jq .count)"
finish
