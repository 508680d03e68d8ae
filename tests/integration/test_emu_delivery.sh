#!/usr/bin/env bash
# intune-emu --tenant-config: the Intune resources (deviceConfigurations, assignments,
# managedDeviceCertificateStates, connectors, app configurations, managed devices) with paging,
# $select and 403 without the role, and the delivery rules: platform, assignment with exclusions,
# newest startDateTime per (user, purpose), the Outlook "all encryption certificates" switch,
# installFailed when the connector cannot re-encrypt, nothing while no connector is active.
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
G_PHONES=7a11a11a-0000-4000-8000-0000000000a1
G_EXCL=7a11a11a-0000-4000-8000-0000000000e1
P_IOS=9e000000-0000-4000-8000-000000000001
P_AND=9e000000-0000-4000-8000-000000000002
P_ROOT=9e000000-0000-4000-8000-000000000003
D_IPHONE=d0000000-0000-4000-8000-000000000001
D_PIXEL=d0000000-0000-4000-8000-000000000002
D_BOB=d0000000-0000-4000-8000-000000000003
D_OBRIEN=d0000000-0000-4000-8000-000000000004
{
    echo "groupId,member"
    echo "$G_PHONES,$ALICE"
    echo "$G_PHONES,$BOB"
    echo "$G_PHONES,\"$OBRIEN\""
    echo "$G_EXCL,$BOB"
} >"$T/groups.csv"

# tenant ALL_ENCRYPTION CONNECTOR_STATE > file
tenant() {
    jq -n --arg pi "$P_IOS" --arg pa "$P_AND" --arg pr "$P_ROOT" --arg g "$G_PHONES" \
        --arg x "$G_EXCL" --arg d1 "$D_IPHONE" --arg d2 "$D_PIXEL" --arg d3 "$D_BOB" \
        --arg d4 "$D_OBRIEN" --arg a "$ALICE" --arg b "$BOB" --arg o "$OBRIEN" \
        --argjson all "$1" --arg cs "$2" --arg root "$(openssl x509 -in "$CA" -outform DER | base64 -w0)" '{
      outlookAllEncryptionCertificates: $all,
      deviceConfigurations: [
        {id: $pi, "@odata.type": "#microsoft.graph.iosImportedPFXCertificateProfile",
         displayName: "iOS S/MIME", intendedPurpose: "smimeEncryption",
         assignments: [{target: {"@odata.type": "#microsoft.graph.groupAssignmentTarget", groupId: $g}},
                       {target: {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", groupId: $x}}]},
        {id: $pa, "@odata.type": "#microsoft.graph.androidForWorkImportedPFXCertificateProfile",
         displayName: "Android signing", intendedPurpose: "smimeSigning",
         assignments: [{target: {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}]},
        {id: $pr, "@odata.type": "#microsoft.graph.iosTrustedRootCertificate",
         displayName: "iOS root", trustedRootCertificate: $root, certFileName: "root.cer",
         assignments: [{target: {"@odata.type": "#microsoft.graph.allLicensedUsersAssignmentTarget"}}]}],
      ndesConnectors: [{id: "c1", state: $cs, connectorVersion: "6.2406.0.1001",
                        lastConnectionDateTime: "2026-12-01T00:00:00Z", machineName: "conn1"}],
      certificateConnectorDetails: [{id: "c1", connectorName: "conn1", machineName: "conn1",
                                     connectorVersion: "6.2406.0.1001",
                                     lastCheckinDateTime: "2026-12-01T00:00:00Z"}],
      mobileAppConfigurations: [{id: "m1", "@odata.type": "#microsoft.graph.iosMobileAppConfiguration",
                                 displayName: "Outlook", settings: [{appConfigKey: "com.microsoft.outlook.Mail.SMIMEEnabled",
                                 appConfigKeyType: "booleanType", appConfigKeyValue: "true"}]}],
      managedDevices: [
        {id: $d1, userPrincipalName: $a, deviceName: "alice-iphone", operatingSystem: "iOS"},
        {id: $d2, userPrincipalName: $a, deviceName: "alice-pixel", operatingSystem: "Android"},
        {id: $d3, userPrincipalName: $b, deviceName: "bob-iphone", operatingSystem: "iOS"},
        {id: $d4, userPrincipalName: $o, deviceName: "obrien-iphone", operatingSystem: "iOS"}]}'
}
tenant false active >"$T/tenant.json"

# alice: an old and a new encryption certificate; o'brien: one the connector cannot decrypt
make_record aold "$ALICE"
A_OLD=$THUMB
jq '.startDateTime = "2020-01-01T00:00:00Z"' "$T/rec/aold.json" >"$T/rec/aold2.json"
make_record anew "$ALICE"
A_NEW=$THUMB
make_record bob1 "$BOB"
make_record obad "$OBRIEN" sha256
O_BAD=$THUMB
jq '.paddingScheme = "oaepSha512"' "$T/rec/obad.json" >"$T/rec/obad2.json"
upload_all() {
    local r
    for r in aold2 anew bob1 obad2; do
        post_record "$r"
        check "upload $r" 201 "$CODE"
    done
}
fetch() { # fetch NAME UPN DEVICE_ID
    "$EMU" device-fetch --url "$URL" --ca-bundle "$CA" --user "$2" --device-id "$3" \
        --out "$T/$1" >"$T/$1.txt" 2>"$T/$1.err" || true
}
states() { greq GET "/beta/deviceManagement/deviceConfigurations/$1/microsoft.graph.$2/managedDeviceCertificateStates" "${@:3}"; }

emu_start tenant --groups "$T/groups.csv" --tenant-config "$T/tenant.json" --page-size 2
token_secret
check "token roles: devices and apps readable with --tenant-config" \
    "DeviceManagementManagedDevices.Read.All DeviceManagementApps.Read.All" \
    "$(jwt_claims "$TOKEN" | jq -r '[.roles[] | select(test("Devices|Apps"))] | join(" ")')"

greq GET /beta/deviceManagement/deviceConfigurations
check "deviceConfigurations: 200, first page of 2" "200 2" "$CODE $(jqr '.value | length')"
check "assignments are not inlined" 0 "$(jqr '[.value[] | select(has("assignments"))] | length')"
check "intendedPurpose served" "smimeEncryption" "$(jqr ".value[] | select(.id == \"$P_IOS\") | .intendedPurpose")"
next=$(jqr '."@odata.nextLink"')
check_match "nextLink carries a skip token" 'skiptoken=' "$next"
req GET "${next#"$URL"}" -H "Authorization: Bearer $TOKEN"
check "second page: the root profile, no more" "$P_ROOT null" "$(jqr '.value[0].id') $(jqr '."@odata.nextLink"')"
greq GET /beta/deviceManagement/deviceConfigurations -G --data-urlencode '$select=id,intendedPurpose' \
    --data-urlencode '$top=1'
check "\$select keeps id, intendedPurpose and the type" '@odata.type,id,intendedPurpose' \
    "$(jqr '.value[0] | keys | join(",")')"
check "\$top=1" 1 "$(jqr '.value | length')"
greq GET /beta/deviceManagement/deviceConfigurations -G --data-urlencode '$select=no-such'
check "bad \$select: 400" 400 "$CODE"
greq GET /beta/deviceManagement/deviceConfigurations -G --data-urlencode '$filter=id eq 1'
check "\$filter not supported: 400" 400 "$CODE"
greq GET "/beta/deviceManagement/deviceConfigurations/$P_IOS"
check "one profile" "200 iOS S/MIME" "$CODE $(jqr .displayName)"
greq GET "/beta/deviceManagement/deviceConfigurations/$P_IOS/assignments"
check "assignments: include and exclusion" \
    "#microsoft.graph.exclusionGroupAssignmentTarget #microsoft.graph.groupAssignmentTarget" \
    "$(jqr '[.value[].target."@odata.type"] | sort | join(" ")')"
greq GET "/beta/deviceManagement/deviceConfigurations/9e000000-0000-4000-8000-0000000000ff"
check "unknown profile: 404" 404 "$CODE"
greq GET /beta/deviceManagement/ndesConnectors
check "ndesConnectors" "200 active" "$CODE $(jqr '.value[0].state')"
greq GET /beta/deviceManagement/certificateConnectorDetails
check "certificateConnectorDetails" "200 6.2406.0.1001" "$CODE $(jqr '.value[0].connectorVersion')"
greq GET /beta/deviceAppManagement/mobileAppConfigurations
check "mobileAppConfigurations" "200 com.microsoft.outlook.Mail.SMIMEEnabled" \
    "$CODE $(jqr '.value[0].settings[0].appConfigKey')"
greq GET /beta/deviceManagement/managedDevices -G --data-urlencode '$top=999'
check "managedDevices: paged by the server's page size" "200 2" "$CODE $(jqr '.value | length')"
check "managedDevices carry userId" "$ALICE_ID" "$(jqr '.value[0].userId')"
greq GET /v1.0/deviceManagement/deviceConfigurations
check "v1.0: 400 (beta resources)" 400 "$CODE"
greq POST /beta/deviceManagement/deviceConfigurations -H 'Content-Type: application/json' --data '{}'
check "POST: 405" 405 "$CODE"

upload_all
states "$P_IOS" iosImportedPFXCertificateProfile
check "no states before any device fetch" "200 0" "$CODE $(jqr '.value | length')"
fetch iphone "$ALICE" "$D_IPHONE"
check "iPhone: only the newest certificate of the purpose" "ok $A_NEW" "$(cut -d' ' -f1,2 "$T/iphone.txt")"
states "$P_IOS" iosImportedPFXCertificateProfile
check "state: installed on alice-iphone" "installed alice-iphone $A_NEW" \
    "$(jqr '.value[] | "\(.certificateIssuanceState) \(.deviceDisplayName) \(.certificateThumbprint)"')"
check "state: serial number from the certificate" \
    "$(openssl x509 -in "$T/rec/anew.pem" -noout -serial | cut -d= -f2)" "$(jqr '.value[0].certificateSerialNumber')"
check "state: platform and error code" "iOS 0" "$(jqr '.value[0] | "\(.devicePlatform) \(.certificateErrorCode)"')"
states "$P_IOS" androidForWorkImportedPFXCertificateProfile
check "a cast to another type: 400" 400 "$CODE"
fetch iphone2 "$ALICE" "$D_IPHONE"
states "$P_IOS" iosImportedPFXCertificateProfile
check "a second fetch replaces the device's state" 1 "$(jqr '.value | length')"
fetch pixel "$ALICE" "$D_PIXEL"
check "Android: the profile's purpose differs, nothing delivered" 0 "$(grep -c '^ok' "$T/pixel.txt" || true)"
states "$P_AND" androidForWorkImportedPFXCertificateProfile
check "Android profile: no states" 0 "$(jqr '.value | length')"
fetch bob "$BOB" "$D_BOB"
check "bob is in an excluded group: nothing delivered" 0 "$(grep -c '^ok' "$T/bob.txt" || true)"
fetch obrien "$OBRIEN" "$D_OBRIEN"
check "o'brien: the connector cannot re-encrypt" 1 "$(grep -c "^fail $O_BAD" "$T/obrien.txt")"
states "$P_IOS" iosImportedPFXCertificateProfile -G --data-urlencode '$top=1'
check "states page with \$top=1" 1 "$(jqr '.value | length')"
states "$P_IOS" iosImportedPFXCertificateProfile -G \
    --data-urlencode '$select=certificateThumbprint,certificateIssuanceState,certificateErrorCode'
check "installFailed with error code 2052" "installFailed 2052" \
    "$(jqr ".value[] | select(.certificateThumbprint == \"$O_BAD\") | \"\(.certificateIssuanceState) \(.certificateErrorCode)\"")"
check "\$select on states" "@odata.type,certificateErrorCode,certificateIssuanceState,certificateThumbprint" \
    "$(jqr '.value[0] | keys | join(",")')"
req POST /emu/devices/checkin
check "every device checks in: alice's newest and o'brien's (no crypto)" "200 2" "$CODE $(jqr .delivered)"
states "$P_IOS" iosImportedPFXCertificateProfile
check "check-in: states replaced, each installed" "installed installed" \
    "$(jqr '[.value[].certificateIssuanceState] | join(" ")')"
req GET /emu/devices/checkin
check "check-in: POST only" 405 "$CODE"
fetch wrong "$BOB" "$D_IPHONE"
check "a device of another user: refused" 1 "$(grep -c 'HTTP 404' "$T/wrong.err")"
emu_stop "$PID" || true

# permissions: configurations need DeviceManagementConfiguration.Read.All, devices and apps their own
emu_start noperm --groups "$T/groups.csv" --tenant-config "$T/tenant.json" \
    --roles DeviceManagementConfiguration.Read.All,User.Read.All
token_secret
greq GET /beta/deviceManagement/deviceConfigurations
check "Read.All reads profiles" 200 "$CODE"
greq GET /beta/deviceManagement/managedDevices
check "managedDevices without DeviceManagementManagedDevices.Read.All: 403" "403 Forbidden" "$CODE $(jqr .error.code)"
check_match "403 names the permission" 'DeviceManagementManagedDevices.Read.All' "$(jqr .error.message)"
greq GET /beta/deviceAppManagement/mobileAppConfigurations
check "app configurations without DeviceManagementApps.Read.All: 403" 403 "$CODE"
emu_stop "$PID" || true
emu_start noperm2 --groups "$T/groups.csv" --tenant-config "$T/tenant.json" --roles User.Read.All
token_secret
for p in deviceConfigurations "deviceConfigurations/$P_IOS/assignments" ndesConnectors certificateConnectorDetails; do
    greq GET "/beta/deviceManagement/$p"
    check "$p without DeviceManagementConfiguration.Read.All: 403" 403 "$CODE"
done
emu_stop "$PID" || true

# the Outlook channel: every encryption certificate
tenant true active >"$T/tenant-all.json"
emu_start all --groups "$T/groups.csv" --tenant-config "$T/tenant-all.json"
token_secret
upload_all
fetch alliphone "$ALICE" "$D_IPHONE"
check "all encryption certificates: both delivered" "$(printf 'ok %s\nok %s' "$A_OLD" "$A_NEW" | sort)" \
    "$(cut -d' ' -f1,2 "$T/alliphone.txt" | sort)"
emu_stop "$PID" || true

# no active connector: nothing is processed
tenant false inactive >"$T/tenant-off.json"
emu_start off --groups "$T/groups.csv" --tenant-config "$T/tenant-off.json"
token_secret
upload_all
fetch offiphone "$ALICE" "$D_IPHONE"
check "connector inactive: nothing delivered" 0 "$(grep -c '^ok' "$T/offiphone.txt" || true)"
states "$P_IOS" iosImportedPFXCertificateProfile
check "connector inactive: no state" 0 "$(jqr '.value | length')"
req POST /emu/devices/checkin
check "connector inactive: a check-in delivers nothing" 0 "$(jqr .delivered)"
emu_stop "$PID" || true

# without --tenant-config the resources are absent
emu_start plain
token_secret
greq GET /beta/deviceManagement/deviceConfigurations
check "no tenant description: 404" 404 "$CODE"
emu_stop "$PID" || true

# bad tenant descriptions: one line naming the item, exit 2
bad_tenant() { # DESCRIPTION JQ-EDIT EXPECTED-REGEX
    jq "$2" "$T/tenant.json" >"$T/bad.json"
    local rc=0
    "$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
        --tenant-id "$TENANT" --client-id "$CLIENT" --connector-key "$T/pki/connector.key" \
        --client-secret-file "$T/pki/client-secret" --users "$T/pki/users.csv" --groups "$T/groups.csv" --tenant-config "$T/bad.json" \
        --max-runtime 5 >/dev/null 2>"$T/bad.err" || rc=$?
    check "$1: exit 2" 2 "$rc"
    check_match "$1: the reason" "$3" "$(cat "$T/bad.err")"
    check "$1: one line" 1 "$(wc -l <"$T/bad.err")"
}
bad_tenant "unknown group" ".deviceConfigurations[0].assignments[0].target.groupId = \"7a11a11a-0000-4000-8000-0000000000ff\"" \
    'deviceConfigurations\[0\]: an assignment names a group that is not in --groups'
bad_tenant "bad purpose" '.deviceConfigurations[0].intendedPurpose = "email"' 'deviceConfigurations\[0\]: an imported PFX profile needs intendedPurpose'
bad_tenant "root without certificate" 'del(.deviceConfigurations[2].trustedRootCertificate)' 'deviceConfigurations\[2\]: a trusted root profile needs'
bad_tenant "device of an unknown user" '.managedDevices[1].userPrincipalName = "nobody@contoso.example"' 'managedDevices\[1\]: userPrincipalName'
bad_tenant "device OS" '.managedDevices[0].operatingSystem = "Symbian"' 'managedDevices\[0\]: operatingSystem'
bad_tenant "unknown member" '.nosuch = 1' "unknown member 'nosuch'"
bad_tenant "not an array" '.ndesConnectors = {}' 'ndesConnectors must be an array'
bad_tenant "target type" '.deviceConfigurations[1].assignments[0].target."@odata.type" = "#microsoft.graph.x"' 'target.@odata.type must be'
echo '{"deviceConfigurations": [' >"$T/broken.json"
"$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
    --tenant-id "$TENANT" --client-id "$CLIENT" --connector-key "$T/pki/connector.key" \
    --users "$T/pki/users.csv" --tenant-config "$T/broken.json" --max-runtime 5 >/dev/null \
    2>"$T/bad.err" && rc=0 || rc=$?
check "malformed JSON: exit 2 with the file named" "2 1" "$rc $(grep -c broken.json "$T/bad.err")"

finish
