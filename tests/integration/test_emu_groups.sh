#!/usr/bin/env bash
# intune-emu: --groups and GET /groups/{id}/transitiveMembers[/microsoft.graph.user]: nesting,
# a cycle that must not hang, $select, paging, $count, 404 / 400 / 403, and bad groups files.
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
G_ALL=7a11a11a-0000-4000-8000-000000000001
G_SUB=7a11a11a-0000-4000-8000-000000000002
G_LOOP=7a11a11a-0000-4000-8000-000000000003
G_EMPTYISH=7a11a11a-0000-4000-8000-000000000004
NOGROUP=7a11a11a-0000-4000-8000-0000000000ff
# G_ALL = alice + G_SUB; G_SUB = bob (by id) + G_LOOP; G_LOOP = o'brien + G_ALL (a cycle)
{
    echo "groupId,member"
    echo "$G_ALL,$ALICE"
    echo "$G_ALL,$G_SUB"
    echo "$G_SUB,$BOB_ID"
    echo "$G_SUB,$G_LOOP"
    echo "$G_LOOP,\"$OBRIEN\""
    echo "$G_LOOP,$G_ALL"
    echo "$G_LOOP,$ALICE"
    echo "$G_EMPTYISH,$G_SUB"
} >"$T/groups.csv"

emu_start groups --groups "$T/groups.csv"
token_secret
check "token roles include GroupMember.Read.All with --groups" \
    "DeviceManagementConfiguration.ReadWrite.All,User.Read.All,GroupMember.Read.All" \
    "$(jwt_claims "$TOKEN" | jq -r '.roles | join(",")')"

members() { greq GET "/$1/groups/$2/transitiveMembers/microsoft.graph.user" "${@:3}"; }
members beta "$G_ALL" -G --data-urlencode '$select=id,userPrincipalName'
check "transitive members: 200" 200 "$CODE"
check "every user once through nesting and a cycle" \
    "$(printf '%s\n' "$ALICE" "$BOB" "$OBRIEN" | sort)" \
    "$(jqr '.value[].userPrincipalName' | sort)"
check "\$select limits the properties" "id,userPrincipalName" \
    "$(jqr '[.value[] | keys_unsorted | join(",")] | unique | join(" ")')"
check "@odata.context names users and the selection" 1 \
    "$(jqr '."@odata.context" | test("\\$metadata#users\\(id,userPrincipalName\\)$") | if . then 1 else 0 end')"
check "no nextLink on the last page" null "$(jqr '."@odata.nextLink"')"
members v1.0 "$G_LOOP"
check "v1.0 and a group inside the cycle" 3 "$(jqr '.value | length')"
members beta "$G_EMPTYISH"
check "nested only" 3 "$(jqr '.value | length')"

greq GET "/beta/groups/$G_ALL/transitiveMembers"
check "uncast collection lists users and nested groups" \
    "#microsoft.graph.group:2 #microsoft.graph.user:3" \
    "$(jqr '[.value[]."@odata.type"] | group_by(.) | map("\(.[0]):\(length)") | join(" ")')"

# paging: $top 2 -> 2 + 1, nextLink keeps $select and carries the skip token
members beta "$G_ALL" -G --data-urlencode '$select=userPrincipalName' --data-urlencode '$top=2'
check "\$top pages" 2 "$(jqr '.value | length')"
next=$(jqr '."@odata.nextLink"')
check_match "nextLink keeps \$select and adds \$skiptoken" 'select=userPrincipalName.*skiptoken=' "$next"
req GET "${next#"$URL"}" -H "Authorization: Bearer $TOKEN"
check "second page" "1 null" "$(jqr '.value | length') $(jqr '."@odata.nextLink"')"

members beta "$G_ALL" -G --data-urlencode '$count=true'
check "\$count without ConsistencyLevel: 400" 400 "$CODE"
members beta "$G_ALL" -G --data-urlencode '$count=true' -H 'ConsistencyLevel: eventual'
check "\$count with ConsistencyLevel" 3 "$(jqr '."@odata.count"')"
members beta "$G_ALL" -G --data-urlencode '$filter=id eq 1'
check "unsupported option: 400" 400 "$CODE"
members beta "$G_ALL" -G --data-urlencode '$select=nosuch'
check "unknown \$select property: 400" 400 "$CODE"

members beta "$NOGROUP"
check "unknown group: 404 Request_ResourceNotFound" "404 Request_ResourceNotFound" \
    "$CODE $(jqr .error.code)"
check_match "404 message names the group" "Resource '$NOGROUP' does not exist" "$(jqr .error.message)"
members beta "not-a-guid"
check "malformed id: 400 Request_BadRequest" "400 Request_BadRequest" "$CODE $(jqr .error.code)"
check "400 message" "Invalid object identifier 'not-a-guid'." "$(jqr .error.message)"
greq GET "/beta/groups/$G_ALL"
check "GET /groups/{id}" "$G_ALL" "$(jqr .id)"
greq POST "/beta/groups/$G_ALL/transitiveMembers/microsoft.graph.user"
check "POST: 405" 405 "$CODE"

# --page-size caps group member pages too (the client's paging is tested with it)
emu_start paged --groups "$T/groups.csv" --page-size 1
token_secret
members beta "$G_ALL"
check "--page-size 1: one member per page" 1 "$(jqr '.value | length')"

# an app without a group permission
emu_start noperm --groups "$T/groups.csv" --roles User.Read.All
token_secret
members beta "$G_ALL"
check "without GroupMember.Read.All: 403 Authorization_RequestDenied" \
    "403 Authorization_RequestDenied" "$CODE $(jqr .error.code)"

# bad groups files are refused at start, naming file and line
bad_groups() { # NAME CONTENT EXPECTED-REGEX
    printf '%s\n' "$2" >"$T/$1.csv"
    local rc=0
    timeout 10 "$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" \
        --tls-key "$T/pki/server.key" --tenant-id "$TENANT" --client-id "$CLIENT" \
        --connector-key "$T/pki/connector.key" --users "$T/pki/users.csv" \
        --groups "$T/$1.csv" >/dev/null 2>"$T/$1.err" || rc=$?
    check "$1: exit 2" 2 "$rc"
    check_match "$1: message" "$3" "$(cat "$T/$1.err")"
}
bad_groups unknown_member "groupId,member
$G_ALL,nobody@contoso.example" "unknown_member.csv:2: member 'nobody@contoso.example' is neither"
bad_groups bad_id "groupId,member
xyz,$ALICE" "bad_id.csv:2: groupId 'xyz' is not a GUID"
bad_groups no_header "$G_ALL,$ALICE" "no_header.csv:1: the header must name groupId,member"
finish
