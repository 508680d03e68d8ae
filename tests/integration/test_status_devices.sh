#!/usr/bin/env bash
# smimesync status --devices against intune-emu --tenant-config after a sync and device fetches:
# installed, failed (the connector cannot re-encrypt: error 2052 and its hint), pending (no
# fetch yet), and not delivered by rule (an older certificate hidden by the newest of the same
# purpose, a user outside every assignment, a platform without a profile); the totals, --user,
# --json, the HTML page, exit 4 when a certificate is not where it should be and 0 when every
# one is; a missing permission is named; the request count stays O(profiles + pages).
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --renewals 1 --seed 7 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
u() { sed -n "$(($1 + 1))p" lab/users.csv | cut -d, -f1; }
WANDA=$(u 1) # two generations of encryption certificates
PAULA=$(u 2) # excluded from the iOS profile
GRETA=$(u 3) # her device fetches through a connector without the key
OLD=$(jq -r "select(.userPrincipalName == \"$WANDA\" and .generation == 1) | .thumbprint" lab/manifest.jsonl)
NEW=$(jq -r "select(.userPrincipalName == \"$WANDA\" and .generation == 2) | .thumbprint" lab/manifest.jsonl)
check "wanda has two generations" test -n "$OLD" -a -n "$NEW"
G_ALL=7a11a11a-0000-4000-8000-0000000000a1
G_EXCL=7a11a11a-0000-4000-8000-0000000000e1
{
    echo "groupId,member"
    tail -n +2 lab/users.csv | cut -d, -f1 | sed "s/^/$G_ALL,/"
    echo "$G_EXCL,$PAULA"
} > groups.csv
D1=d0000000-0000-4000-8000-000000000001
D2=d0000000-0000-4000-8000-000000000002
D3=d0000000-0000-4000-8000-000000000003
D4=d0000000-0000-4000-8000-000000000004
lab_tenant lab base.json
# iOS assigned to G_ALL minus G_EXCL; no Android PKCS profile at all
jq --arg g "$G_ALL" --arg x "$G_EXCL" --arg w "$WANDA" --arg p "$PAULA" --arg r "$GRETA" \
    --arg d1 "$D1" --arg d2 "$D2" --arg d3 "$D3" --arg d4 "$D4" '
  del(.deviceConfigurations[] | select(."@odata.type" | test("androidForWorkImported"))) |
  (.deviceConfigurations[] | select(."@odata.type" | test("iosImported")) | .assignments) =
    [{target: {"@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId: $g}},
     {target: {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", groupId: $x}}] |
  .managedDevices = [
    {id: $d1, userPrincipalName: $w, deviceName: "wanda-iphone", operatingSystem: "iOS"},
    {id: $d2, userPrincipalName: $w, deviceName: "wanda-pixel", operatingSystem: "Android"},
    {id: $d3, userPrincipalName: $p, deviceName: "paula-iphone", operatingSystem: "iOS"},
    {id: $d4, userPrincipalName: $r, deviceName: "greta-iphone", operatingSystem: "iOS"}]' \
    base.json > tenant.json
emu() { emu_start lab --quiet --groups groups.csv --tenant-config tenant.json --state emu.json "$@"; }
stop() { kill "$EMU_PID"; wait "$EMU_PID" 2> /dev/null; }
fetch() { # UPN DEVICE_ID
    "$EMU_BIN" device-fetch --url "$EMU_URL" --ca-bundle lab/tls/ca.pem --user "$1" \
        --device-id "$2" --out "dev-$2" > "fetch-$2.txt" 2>&1
}
st() { "$SSYNC_BIN" status --config s.conf --devices "$@"; }

emu || { not_ok "emulator started"; finish; exit 1; }
write_config lab s.conf
# the plan says what devices will get: wanda's history once, on her newest certificate
"$SSYNC_BIN" plan --config s.conf > plan.txt 2> plan.err
check_eq "plan: the newest-wins note once per user" 1 \
    "$(grep -c 'warning: 2 certificates of this user will be in Intune' plan.txt)"
check_eq "plan: on the certificate with the latest notBefore" "upload $NEW" \
    "$(grep -B1 'warning: 2 certificates' plan.txt | head -n 1 | cut -d' ' -f1,2)"
"$SSYNC_BIN" sync --config s.conf > sync.txt 2>&1
check_eq "sync: exit 0" 0 "$?"
st > before.txt 2>&1
check_eq "before any fetch: exit 4 (pending)" 4 "$?"
check_contains "before any fetch: pending" "pending        $NEW: uploaded" before.txt
fetch "$WANDA" "$D1"
fetch "$PAULA" "$D3"
check_eq "paula's iPhone gets nothing (excluded)" 0 "$(grep -c '^ok' "fetch-$D3.txt")"
stop
# greta's device fetches through a connector that lacks the key
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out wrong-connector.key 2> /dev/null
emu --connector-key wrong-connector.key
fetch "$GRETA" "$D4"
check_contains "greta's fetch fails at the connector" "connector cannot decrypt" "fetch-$D4.txt"
write_config lab s.conf

printf '[metrics]\ntextfile = %s/m/smimesync.prom\n' "$T_TMP" >> s.conf
mkdir -p m
st > all.txt 2> all.err
check_eq "status --devices: exit 4" 4 "$?"
# the whole tenant's delivery per platform, for Prometheus, beside [metrics] textfile
check "[metrics]: status --devices writes smimesync-devices.prom" test -f m/smimesync-devices.prom
check_contains "[metrics]: iOS delivered" 'smimesync_device_certificates{platform="ios",state="delivered"} 1' \
    m/smimesync-devices.prom
check_contains "[metrics]: iOS failed" 'smimesync_device_certificates{platform="ios",state="failed"} 1' \
    m/smimesync-devices.prom
check "[metrics]: promtool accepts it" bash -c "promtool check metrics < m/smimesync-devices.prom"
check "[metrics]: the run's own file is not written by status" test ! -e m/smimesync.prom
check_contains "installed on wanda's iPhone" "installed      $NEW: through 'ios S/MIME'" all.txt
check_contains "the older certificate is hidden by the newer" \
    "not delivered  $OLD: hidden by the newer $NEW" all.txt
check_contains "Android has no profile" "no PKCS imported profile for android" all.txt
check_contains "paula is outside every assignment" "the user is outside every assignment" all.txt
check_contains "greta's failure: code and hint" "installFailed, error 2052: the connector could not re-encrypt" all.txt
check_contains "devices are named per user" "  wanda-iphone (ios)" all.txt
check_contains "totals" "3 users, 4 devices (0 users without one): 1 installed, 1 failed, 0 pending" all.txt
REQS=$(sed -n 's/.*; \([0-9]*\) Graph requests.*/\1/p' all.txt)
# token + records + profiles page + 8 assignment listings + devices + 3 states + 2 groups
check "request count is O(profiles + groups + pages): $REQS <= 20" test "$REQS" -le 20

st --json > all.json
check_eq "--json: exit 4" 4 "$?"
check_eq "--json: counts (both of wanda's certificates lack an Android profile)" "1 1 0 1 1 2" \
    "$(jq -r '.counts | "\(.installed) \(.failed) \(.pending) \(.hiddenByNewer) \(.notAssigned) \(.noProfile)"' all.json)"
check_eq "--json: the failure's error code" 2052 \
    "$(jq -r '.devices[] | select(.state == "failed") | .errorCode' all.json)"
check_eq "--json: delivered false" false "$(jq .delivered all.json)"
check "--json: graphRequests" test "$(jq .graphRequests all.json)" -gt 0

st --user "$WANDA" --report devices.html > wanda.txt
check_eq "--user: exit 4 (android has no profile)" 4 "$?"
check_eq "--user: one user" 0 "$(grep -c "$PAULA" wanda.txt)"
check_contains "--report: HTML section" '<section id="devices">' devices.html
check_contains "--report: the installed row" "$NEW" devices.html

# Android gets a profile and greta's device fetches again with the right connector: only the
# rule-hidden certificate and paula's exclusion remain, and those are not errors ... but paula's
# exclusion is: exit 4 until she is assigned
stop
jq --arg g "$G_ALL" '.deviceConfigurations += [{id: "9e000000-0000-4000-8000-000000000009",
    "@odata.type": "#microsoft.graph.androidForWorkImportedPFXCertificateProfile",
    displayName: "android S/MIME", intendedPurpose: "smimeEncryption",
    assignments: [{target: {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}]}] |
  (.deviceConfigurations[] | select(."@odata.type" | test("iosImported")) | .assignments) =
    [{target: {"@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId: $g}}]' \
    tenant.json > fixed.json
mv fixed.json tenant.json
emu
write_config lab s.conf
fetch "$WANDA" "$D1"
fetch "$WANDA" "$D2"
fetch "$PAULA" "$D3"
fetch "$GRETA" "$D4"
st > fixed.txt 2>&1
check_eq "everything delivered: exit 0" 0 "$?"
check_contains "fixed: totals" "4 installed, 0 failed, 0 pending, 2 not delivered by rule (2 hidden by a newer certificate, 0 outside every assignment, 0 without a profile)" fixed.txt
check_contains "fixed: the verdict" "every certificate is where it should be" fixed.txt

# without GroupMember.Read.All the group assignment cannot be judged: said, not guessed
stop
emu --roles DeviceManagementConfiguration.ReadWrite.All,User.Read.All,DeviceManagementManagedDevices.Read.All
write_config lab s.conf
st > nogroups.txt 2>&1
check_eq "no GroupMember.Read.All: exit 4" 4 "$?"
check_contains "no GroupMember.Read.All: what to grant" "grant GroupMember.Read.All to know whether the user is covered" nogroups.txt
check_contains "no GroupMember.Read.All: all-users profiles still judged" "installed      $NEW: through 'android S/MIME'" nogroups.txt

# a token without DeviceManagementManagedDevices.Read.All: the permission is named
stop
emu --roles DeviceManagementConfiguration.ReadWrite.All,User.Read.All,GroupMember.Read.All
write_config lab s.conf
st > noperm.txt 2>&1
check_eq "no device permission: exit 1" 1 "$?"
check_contains "no device permission: named" "DeviceManagementManagedDevices.Read.All" noperm.txt

"$SSYNC_BIN" status --config s.conf --report x.html > /dev/null 2>&1
check_eq "--report without --devices: usage (exit 2)" 2 "$?"
finish
