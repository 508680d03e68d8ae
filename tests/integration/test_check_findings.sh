#!/usr/bin/env bash
# check --json carries the expiry and coverage findings (alerts without Prometheus): each KRA
# certificate's notAfter and days left, the Graph client certificate's, the archived keys that
# no held KRA key opens, and the users whose newest certificate expires within 30 days without a
# successor; the table prints them as "finding:" lines; they never change the exit status.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --seed 42 > /dev/null
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
write_config lab good.conf certificate
n_blobs=$(ls lab/blobs | wc -l)

"$SSYNC_BIN" check --config good.conf --json > good.json 2> good.err
check_eq "good: exit 0" 0 "$?"
check_eq "good: one KRA certificate" 1 "$(jq '.findings.kra_certificates | length' good.json)"
kra_serial=$(openssl x509 -noout -serial -in lab/kra1.pem | sed 's/serial=//')
check_eq "good: the KRA's serial" "$kra_serial" "$(jq -r '.findings.kra_certificates[0].serial' good.json)"
kra_na=$(date -u -d "$(openssl x509 -noout -enddate -in lab/kra1.pem | sed 's/notAfter=//')" +%FT%TZ)
check_eq "good: the KRA's notAfter" "$kra_na" "$(jq -r '.findings.kra_certificates[0].not_after' good.json)"
check_eq "good: the KRA is not expiring" false "$(jq '.findings.kra_certificates[0].expiring' good.json)"
app_na=$(date -u -d "$(openssl x509 -noout -enddate -in lab/app.pem | sed 's/notAfter=//')" +%FT%TZ)
check_eq "good: the Graph certificate's notAfter" "$app_na" "$(jq -r '.findings.graph_credential.not_after' good.json)"
check_eq "good: credential kind" certificate "$(jq -r '.findings.graph_credential.kind' good.json)"
check_eq "good: every blob opens" 0 "$(jq '.findings.blobs_without_held_kra.count' good.json)"
expect_users=$(jq -s --arg now "$(date -u +%FT%TZ)" --arg until "$(date -u -d '+30 days' +%FT%TZ)" '
    [.[] | select(.revoked | not) | select(.userPrincipalName != null)]
    | group_by(.userPrincipalName | ascii_downcase)
    | map(max_by(.notAfter)) | map(select(.notAfter >= $now and .notAfter <= $until)) | length' \
    lab/manifest.jsonl)
check_eq "good: users expiring without successor, as the manifest says" "$expect_users" \
    "$(jq '.findings.users_expiring.count' good.json)"
check_eq "good: window 30 days" 30 "$(jq '.findings.users_expiring.window_days' good.json)"

# a KRA the archive was not encrypted to, expiring in 10 days
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 10 \
    -subj "/CN=Other KRA" > /dev/null 2>&1
cat other.key other.pem > other-kra.pem && chmod 600 other-kra.pem
sed "s|^key = .*|key = $T_TMP/other-kra.pem|; /^password_file/d" good.conf > other.conf
"$SSYNC_BIN" check --config other.conf --json > other.json 2> other.err
check_eq "other KRA: exit 1 (the sample fails, as before)" 1 "$?"
check_eq "other KRA: expiring" true "$(jq '.findings.kra_certificates[0].expiring' other.json)"
check "other KRA: days left 9 or 10" jq -e '.findings.kra_certificates[0].days_left | . == 9 or . == 10' other.json
check_eq "other KRA: every blob without a held KRA" "$n_blobs" "$(jq '.findings.blobs_without_held_kra.count' other.json)"
check "other KRA: each names the blob" jq -e '.findings.blobs_without_held_kra.items | all(.source | test("/blobs/"))' other.json
"$SSYNC_BIN" check --config other.conf > other.txt 2>&1
check "table: a finding line for the KRA" grep -q '^finding: KRA certificate CN=Other KRA (serial .*) expires on ' other.txt
check_eq "table: a finding line per blob" "$n_blobs" "$(grep -c '^finding: .*/blobs/.*KRA' other.txt)"

# secret auth: the expiry is Entra ID's alone
write_config lab secret.conf
"$SSYNC_BIN" check --config secret.conf --json > secret.json 2> secret.err
check_eq "secret: exit 0" 0 "$?"
check_eq "secret: kind" secret "$(jq -r '.findings.graph_credential.kind' secret.json)"
check_eq "secret: no notAfter" null "$(jq '.findings.graph_credential.not_after' secret.json)"
finish
