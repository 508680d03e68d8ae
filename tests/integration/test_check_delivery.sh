#!/usr/bin/env bash
# smimesync check, the Intune side of delivery, against intune-emu --tenant-config: a good tenant
# passes; each tenant description that breaks one rule gives its own line: wrong intendedPurpose,
# unassigned profile, an excluded user, no trusted root, a root of another CA, Outlook's S/MIME
# off, a connector inactive, silent or outdated, a platform of [intune] platforms without a
# profile, an expiring app certificate and KRA ([intune] expiry_warning_days), a missing read
# permission ("not checked (grant X)", not a failure), and --json.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --seed 43 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
lab_tenant lab base.json
# level NAME FILE: the level of check NAME in a table
level() { sed -n "s|^\([A-Za-z/]*\) *$1: .*|\1|p" "$2" | head -n 1; }
# run_case NAME TENANT-JQ [emulator options...]: an emulator (records kept in emu-state.json
# across restarts) with base.json edited by the jq expression, and check on it into NAME.txt;
# sets RC. CONF_EXTRA: lines added to [intune] (the last section but [state]).
run_case() {
    local name=$1 edit=$2
    shift 2
    if [ -n "${EMU_PID:-}" ]; then
        kill "$EMU_PID" 2> /dev/null
        wait "$EMU_PID" 2> /dev/null
    fi
    jq "$edit" base.json > "$name.json"
    emu_start lab --quiet --groups groups.csv --tenant-config "$name.json" \
        --state emu-state.json "$@" || return 1
    write_config lab "$name.conf"
    if [ -n "${CONF_EXTRA:-}" ]; then
        awk -v extra="$CONF_EXTRA" '{print} /^\[intune\]/{print extra}' "$name.conf" > "$name.tmp"
        mv "$name.tmp" "$name.conf"
    fi
    "$SSYNC_BIN" check --config "$name.conf" > "$name.txt" 2>&1
    RC=$?
}
G_ALL=7a11a11a-0000-4000-8000-0000000000a1
G_EXCL=7a11a11a-0000-4000-8000-0000000000e1
EXCLUDED=$(sed -n 2p lab/users.csv | cut -d, -f1)
{
    echo "groupId,member"
    tail -n +2 lab/users.csv | cut -d, -f1 | sed "s/^/$G_ALL,/"
    echo "$G_EXCL,$EXCLUDED"
} > groups.csv

# 0. a first sync puts the users' records in Intune: they are the users in scope
run_case good '.'
check_eq "good: exit 0" 0 "$RC"
"$SSYNC_BIN" sync --config good.conf > sync.txt 2>&1
check_eq "sync: exit 0" 0 "$?"
"$SSYNC_BIN" check --config good.conf > good.txt 2>&1
check_eq "good after sync: exit 0" 0 "$?"
check_eq "good: no FAIL, WARN, SKIP or N/C line" 0 "$(grep -cE '^(FAIL|WARN|SKIP|N/C)' good.txt)"
for p in ios macos windows android; do
    check_eq "good: profile $p ok" ok "$(level "intune profile $p" good.txt)"
    check_eq "good: trusted root $p ok" ok "$(level "intune trusted root $p" good.txt)"
done
check_contains "good: all users in scope covered" "all 3 users in scope are covered" good.txt
check_eq "good: outlook ok" ok "$(level "intune outlook s/mime" good.txt)"
check_eq "good: connector ok" ok "$(level "intune connector conn1" good.txt)"
# the connectors' check-in and version, for Prometheus, beside [metrics] textfile
mkdir -p m
{ cat good.conf; printf '[metrics]\ntextfile = %s/m/smimesync.prom\n' "$T_TMP"; } > metrics.conf
"$SSYNC_BIN" check --config metrics.conf > metrics.txt 2>&1
check_eq "[metrics]: check still exits 0" 0 "$?"
check_contains "[metrics]: the connector's version is supported" \
    'smimesync_connector_version_supported{connector="conn1"} 1' m/smimesync-check.prom
check "[metrics]: its last check-in is a timestamp" \
    grep -qE '^smimesync_connector_last_checkin_timestamp_seconds\{connector="conn1"\} [1-9][0-9]{9}$' \
    m/smimesync-check.prom
check "[metrics]: promtool accepts it" bash -c "promtool check metrics < m/smimesync-check.prom"
# 1. wrong intendedPurpose on iOS
run_case purpose '(.deviceConfigurations[] | select(."@odata.type" | test("iosImported")) | .intendedPurpose) = "smimeSigning"'
check_eq "wrong purpose: exit 1" 1 "$RC"
check_eq "wrong purpose: FAIL profile ios" FAIL "$(level "intune profile ios" purpose.txt)"
check_contains "wrong purpose: says why" "does not match our records' intendedPurpose smimeEncryption" purpose.txt
check_contains "wrong purpose: it cannot be changed" "cannot be changed after creation" purpose.txt
check_eq "wrong purpose: other platforms ok" ok "$(level "intune profile android" purpose.txt)"
"$SSYNC_BIN" check --config purpose.conf --json > purpose.json 2> /dev/null
check_eq "--json: the wrong purpose is a failed check with a hint" "failed true" \
    "$(jq -r '.checks[] | select(.name == "intune profile ios") | "\(.level) \(.hint != null)"' purpose.json)"

# 2. unassigned profile
run_case unassigned '(.deviceConfigurations[] | select(."@odata.type" | test("macOSImported")) | .assignments) = []'
check_eq "unassigned: exit 1" 1 "$RC"
check_eq "unassigned: FAIL assignment macos" FAIL "$(level "intune assignment macos" unassigned.txt)"
check_contains "unassigned: says so" "is not assigned to anyone" unassigned.txt

# 3. a group assignment with an excluded user
run_case excluded "(.deviceConfigurations[] | select(.\"@odata.type\" | test(\"iosImported\")) | .assignments) =
    [{target: {\"@odata.type\": \"#microsoft.graph.groupAssignmentTarget\", groupId: \"$G_ALL\"}},
     {target: {\"@odata.type\": \"#microsoft.graph.exclusionGroupAssignmentTarget\", groupId: \"$G_EXCL\"}}]"
check_eq "excluded user: exit 0 (a warning)" 0 "$RC"
check_eq "excluded user: WARN assignment ios" WARN "$(level "intune assignment ios" excluded.txt)"
check_contains "excluded user: counted and named" "1 of 3 users in scope are not covered" excluded.txt
check_contains "excluded user: the user" "$EXCLUDED" excluded.txt

# 4. no trusted root profile for Windows; a root of another CA on Android
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 30 \
    -subj /CN=Other-Root > /dev/null 2>&1
OTHER=$(openssl x509 -in other.pem -outform DER | base64 -w0)
run_case roots "del(.deviceConfigurations[] | select(.\"@odata.type\" | test(\"windows81Trusted\"))) |
    (.deviceConfigurations[] | select(.\"@odata.type\" | test(\"androidForWorkTrusted\")) | .trustedRootCertificate) = \"$OTHER\""
check_eq "roots: exit 1" 1 "$RC"
check_eq "no root: FAIL windows" FAIL "$(level "intune trusted root windows" roots.txt)"
check_contains "no root: says so" "no trusted certificate profile for windows" roots.txt
check_eq "other CA's root: FAIL android" FAIL "$(level "intune trusted root android" roots.txt)"
check_contains "other CA's root: says so" "hold no certificate of [source] ca" roots.txt

# 5. Outlook's S/MIME switch off
run_case outlook '.mobileAppConfigurations[0].settings[0].appConfigKeyValue = "false"'
check_eq "outlook off: WARN" WARN "$(level "intune outlook s/mime" outlook.txt)"
check_contains "outlook off: the key to set" "com.microsoft.outlook.Mail.SMIMEEnabled = true" outlook.txt
# Android's payloadJson form turns it on again
PAYLOAD=$(printf '{"kind":"androidenterprise#managedConfiguration","managedProperty":[{"key":"com.microsoft.outlook.Mail.SMIMEEnabled","valueBool":true}]}' | base64 -w0)
run_case outlookandroid ".mobileAppConfigurations = [{id: \"m2\", \"@odata.type\": \"#microsoft.graph.androidManagedStoreAppConfiguration\", payloadJson: \"$PAYLOAD\"}]"
check_eq "outlook on through Android payloadJson: ok" ok "$(level "intune outlook s/mime" outlookandroid.txt)"

# 6. connectors: inactive; silent for two days; outdated
run_case inactive '.ndesConnectors[0].state = "inactive"'
check_eq "connector inactive: exit 1" 1 "$RC"
check_eq "connector inactive: WARN on it" WARN "$(level "intune connector conn1" inactive.txt)"
check_eq "connector inactive: FAIL overall" FAIL "$(level "intune connector" inactive.txt)"
OLD=$(date -u -d '2 days ago' +%Y-%m-%dT%H:%M:%SZ)
run_case silent ".ndesConnectors[0].lastConnectionDateTime = \"$OLD\" | .certificateConnectorDetails[0].lastCheckinDateTime = \"$OLD\""
check_contains "connector silent: said" "no check-in for more than 24 h" silent.txt
run_case outdated '.ndesConnectors[0].connectorVersion = "6.2301.1.0"'
check_eq "connector outdated: exit 1" 1 "$RC"
check_contains "connector outdated: versions named" "version 6.2301.1.0 is older than 6.2406.0.1001" outdated.txt
CONF_EXTRA=$'connector_min_version = 6.2201.0.0\nconnector_checkin_hours = 72' run_case minver '.ndesConnectors[0].connectorVersion = "6.2301.1.0" | .ndesConnectors[0].lastConnectionDateTime = "'"$OLD"'" | .certificateConnectorDetails[0].lastCheckinDateTime = "'"$OLD"'"'
check_eq "configured minimum version and check-in hours: ok" ok "$(level "intune connector conn1" minver.txt)"
run_case noconn '.ndesConnectors = [] | .certificateConnectorDetails = []'
check_eq "no connector: FAIL" FAIL "$(level "intune connector" noconn.txt)"

# 7. [intune] platforms: a platform without a profile fails only when it is asked for
run_case noandroid 'del(.deviceConfigurations[] | select(."@odata.type" | test("androidForWorkImported")))'
check_eq "no android profile, all platforms: WARN" WARN "$(level "intune profile android" noandroid.txt)"
CONF_EXTRA='platforms = ios, android' run_case noandroid2 'del(.deviceConfigurations[] | select(."@odata.type" | test("androidForWorkImported")))'
check_eq "no android profile, platforms = ios, android: FAIL" FAIL "$(level "intune profile android" noandroid2.txt)"
check_eq "platforms: macos not checked" "" "$(level "intune profile macos" noandroid2.txt)"

# 8. an app certificate that expires in 10 days; expiry_warning_days
openssl req -x509 -newkey rsa:2048 -nodes -keyout short.key -out short.pem -days 10 \
    -subj /CN=short-app > /dev/null 2>&1
chmod 600 short.key
run_case appcert '.' --client-cert short.pem
sed -i "s|^client_secret_file = .*|client_certificate = $T_TMP/short.pem\nclient_key = $T_TMP/short.key|" appcert.conf
"$SSYNC_BIN" check --config appcert.conf > appcert.txt 2>&1
check_eq "expiring app certificate: exit 0 (a warning)" 0 "$?"
check_eq "expiring app certificate: WARN" WARN "$(level "app certificate" appcert.txt)"
check_contains "expiring app certificate: days" "the Graph credential expires in" appcert.txt
sed -i "s|^\[intune\]|[intune]\nexpiry_warning_days = 5|" appcert.conf
"$SSYNC_BIN" check --config appcert.conf > appcert5.txt 2>&1
check_eq "expiry_warning_days = 5: app certificate ok" ok "$(level "app certificate" appcert5.txt)"
# the KRA's expiry follows the same setting
openssl req -x509 -newkey rsa:2048 -nodes -keyout kra2.key -out kra2.pem -days 10 \
    -subj "/CN=Second KRA" > /dev/null 2>&1
cat kra2.key kra2.pem > kra2-all.pem && chmod 600 kra2-all.pem
sed "s|^key = .*|key = $T_TMP/lab/kra.p12, $T_TMP/kra2-all.pem|" good.conf > kra.conf
"$SSYNC_BIN" check --config kra.conf > kra.txt 2>&1
check_eq "expiring KRA: WARN" WARN "$(level "kra kra2-all.pem" kra.txt)"
sed -i "s|^\[intune\]|[intune]\nexpiry_warning_days = 5|" kra.conf
"$SSYNC_BIN" check --config kra.conf > kra5.txt 2>&1
check_eq "expiry_warning_days = 5: KRA ok" ok "$(level "kra kra2-all.pem" kra5.txt)"

# 9. missing read permissions: not checked, not failed
run_case noapps '.' --roles DeviceManagementConfiguration.ReadWrite.All,User.Read.All,GroupMember.Read.All
check_eq "no DeviceManagementApps.Read.All: exit 0" 0 "$RC"
check_eq "no DeviceManagementApps.Read.All: N/C" N/C "$(level "intune outlook s/mime" noapps.txt)"
check_contains "no DeviceManagementApps.Read.All: what to grant" "not checked (grant DeviceManagementApps.Read.All)" noapps.txt
check_contains "summary counts it" "1 not checked" noapps.txt
"$SSYNC_BIN" check --config noapps.conf --json > noapps.json 2> /dev/null
check_eq "--json: level not_checked" not_checked \
    "$(jq -r '.checks[] | select(.name == "intune outlook s/mime") | .level' noapps.json)"
check_eq "--json: ok overall" true "$(jq .ok noapps.json)"

finish
