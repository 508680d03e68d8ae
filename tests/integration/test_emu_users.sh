#!/usr/bin/env bash
# intune-emu: /users lookups and JSON $batch.
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
emu_start users
token_secret

ufilter() { greq GET "$1" -G --data-urlencode "\$filter=$2" "${@:3}"; }
ufilter /beta/users "userPrincipalName eq 'alice@contoso.example'" --data-urlencode '$select=id,userPrincipalName,mail'
check "by UPN" "$ALICE_ID" "$(jqr '.value[0].id')"
check "\$select limits properties" "id,userPrincipalName,mail" "$(jqr '.value[0] | keys_unsorted | join(",")')"
ufilter /beta/users "userPrincipalName eq 'BOB.builder@CONTOSO.example'"
check "UPN match is case-insensitive" "$BOB_ID" "$(jqr '.value[0].id')"
ufilter /v1.0/users "userPrincipalName eq 'o''brien@contoso.example'"
check "v1.0, quote in the UPN" "$OBRIEN_ID" "$(jqr '.value[0].id')"
ufilter /beta/users "mail eq 'bob@contoso.example'"
check "by mail" "$BOB_ID" "$(jqr '.value[0].id')"
ufilter /beta/users "proxyAddresses/any(x:x eq 'smtp:alice@contoso.example')"
check "by proxyAddresses (no ConsistencyLevel needed)" "$ALICE_ID" "$(jqr '.value[0].id')"
ufilter /beta/users "userPrincipalName in ('alice@contoso.example','bob.builder@contoso.example')"
check "userPrincipalName in (...)" 2 "$(jqr '.value | length')"
ufilter /beta/users "userPrincipalName eq 'nobody@contoso.example'"
check "no match: 200 with an empty value" "200 0" "$CODE $(jqr '.value | length')"
ufilter /beta/users "endswith(mail,'contoso.example')"
check "advanced filter: 400" 400 "$CODE"
ufilter /beta/users "displayName eq 'x'"
check "unsupported property: 400 Request_UnsupportedQuery" "400 Request_UnsupportedQuery" \
    "$CODE $(jqr .error.code)"
greq GET '/beta/users?$count=true'
check "\$count without ConsistencyLevel: 400" 400 "$CODE"
greq GET '/beta/users?$count=true' -H 'ConsistencyLevel: eventual'
check "\$count with ConsistencyLevel" 3 "$(jqr '."@odata.count"')"
greq GET '/beta/users?$top=2'
check "\$top pages users" "2 yes" "$(jqr '.value | length') $(jqr 'if ."@odata.nextLink" then "yes" else "no" end')"
greq GET "/beta/users/$ALICE_ID"
check "GET /users/{id}" "$ALICE" "$(jqr .userPrincipalName)"
greq GET "/beta/users/$BOB?\$select=id"
check "GET /users/{upn}" "$BOB_ID" "$(jqr .id)"
greq GET /beta/users/00000000-0000-0000-0000-000000000000
check "unknown user: 404 Request_ResourceNotFound" "404 Request_ResourceNotFound" \
    "$CODE $(jqr .error.code)"
greq POST /beta/users -H 'Content-Type: application/json' --data '{}'
check "POST /users: 405" 405 "$CODE"

# $batch
make_record a1 "$ALICE"
batch=$(jq -n --slurpfile rec "$T/rec/a1.json" '{requests: [
  {id: "1", method: "GET", url: "/users?$filter=userPrincipalName eq '\''alice@contoso.example'\''&$select=id"},
  {id: "2", method: "GET", url: "/users/nobody@contoso.example"},
  {id: "3", method: "POST", url: "/deviceManagement/userPfxCertificates",
   headers: {"Content-Type": "application/json"}, body: $rec[0]},
  {id: "4", method: "GET", url: "/deviceManagement/userPfxCertificates", dependsOn: ["3"]},
  {id: "5", method: "GET", url: "/users/nobody2@contoso.example"},
  {id: "6", method: "GET", url: "/users", dependsOn: ["5"]}]}')
greq POST '/beta/$batch' -H 'Content-Type: application/json' --data-binary "$batch"
check "batch: 200" 200 "$CODE"
st() { jqr ".responses[] | select(.id == \"$1\") | .status"; }
check "batch: inner GET" "200 $ALICE_ID" "$(st 1) $(jqr '.responses[] | select(.id == "1") | .body.value[0].id')"
check "batch: inner 404" "404 Request_ResourceNotFound" \
    "$(st 2) $(jqr '.responses[] | select(.id == "2") | .body.error.code')"
check "batch: inner POST" 201 "$(st 3)"
check "batch: dependent GET sees the POST" 1 "$(jqr '.responses[] | select(.id == "4") | .body.value | length')"
check "batch: failed dependency gives 424" 424 "$(st 6)"
check_match "batch: inner Content-Type" '^application/json' \
    "$(jqr '.responses[] | select(.id == "1") | .headers["Content-Type"]')"
big=$(jq -n '{requests: [range(21) | {id: (. | tostring), method: "GET", url: "/users"}]}')
greq POST '/beta/$batch' -H 'Content-Type: application/json' --data-binary "$big"
check "batch of 21: 400" 400 "$CODE"
greq POST '/v1.0/$batch' -H 'Content-Type: application/json' \
    --data '{"requests":[{"id":"1","method":"GET","url":"/users"},{"id":"1","method":"GET","url":"/users"}]}'
check "batch with duplicate ids: 400" 400 "$CODE"
greq POST '/beta/$batch' -H 'Content-Type: application/json' \
    --data '{"requests":[{"id":"1","method":"POST","url":"/deviceManagement/userPfxCertificates","body":{}}]}'
check "batch body without Content-Type: 400" 400 "$CODE"
greq POST '/beta/$batch' -H 'Content-Type: application/json' \
    --data '{"requests":[{"id":"1","method":"GET","url":"https://graph.microsoft.com/beta/users"}]}'
check "batch with an absolute url: 400" 400 "$CODE"
greq POST '/beta/$batch' -H 'Content-Type: application/json' \
    --data '{"requests":[{"id":"1","method":"POST","url":"/$batch","headers":{"Content-Type":"application/json"},"body":{"requests":[]}}]}'
check "nested batch: inner 400" 400 "$(st 1)"
req POST '/beta/$batch' -H 'Content-Type: application/json' --data '{"requests":[]}'
check "batch without a token: 401" 401 "$CODE"

# Users are indexed by userPrincipalName and mail: a UPN given twice (in another case) is refused.
{ cat "$T/pki/users.csv"; sed -n 2p "$T/pki/users.csv" | tr '[:lower:]' '[:upper:]'; } >"$T/dup.csv"
DUP_ERR=$("$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
    --tenant-id "$TENANT" --client-id "$CLIENT" --client-secret-file "$T/pki/client-secret" \
    --connector-key "$T/pki/connector.key" --users "$T/dup.csv" --max-runtime 5 2>&1 >/dev/null || true)
check "duplicate userPrincipalName refused" 1 "$(grep -c 'duplicate userPrincipalName' <<<"$DUP_ERR")"

finish
