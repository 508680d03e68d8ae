#!/usr/bin/env bash
# intune-emu: beta/deviceManagement/userPfxCertificates: create and its validation, get in all
# key forms, list with paging, $filter (a quote in the UPN), $select, $top, PATCH, DELETE.
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
emu_start pfx --page-size 2
token_secret
C=/beta/deviceManagement/userPfxCertificates

make_record a1 "$ALICE"
A1=$THUMB
post_record a1
check "create: 201" 201 "$CODE"
A1_ID="${ALICE_ID//-/}-$A1"
check "create: id = userIdWithoutDashes-thumbprint" "$A1_ID" "$(jqr .id)"
check "create: blob not echoed" "AA==" "$(jqr .encryptedPfxBlob)"
check "create: password not echoed" "" "$(jqr .encryptedPfxPassword)"
check_match "create: createdDateTime" '^[0-9-]{10}T[0-9:]{8}\.[0-9]{7}Z$' "$(jqr .createdDateTime)"
check_match "create: Location" "userPfxCertificates\\('$A1_ID'\\)$" "$(header Location)"
check_match "create: Graph content type" '^application/json' "$(header Content-Type)"
post_record a1
check "duplicate create: 409 Conflict" "409 Conflict" "$CODE $(jqr .error.code)"
check_match "409: Intune-wrapped message" '"_version": 3' "$(jqr .error.message)"

# validation: each broken field gives 400 with a reason
bad_post() { # DESCRIPTION JQ-EXPRESSION REGEX
    jq "$2" "$T/rec/a1.json" >"$T/rec/bad.json"
    post_record bad
    check "$1: 400" 400 "$CODE"
    check_match "$1: reason" "$3" "$(jqr .error.message)"
}
for f in thumbprint intendedPurpose userPrincipalName startDateTime expirationDateTime \
    providerName keyName paddingScheme encryptedPfxBlob encryptedPfxPassword; do
    bad_post "missing $f" "del(.$f)" "$f"
done
bad_post "short thumbprint" '.thumbprint = "abc123"' 'thumbprint'
bad_post "non-hex thumbprint" '.thumbprint = ("z" * 40)' 'thumbprint'
bad_post "thumbprint with suffix" '.thumbprint += "-enc"' 'thumbprint'
bad_post "intendedPurpose vpn" '.intendedPurpose = "vpn"' 'not supported'
bad_post "intendedPurpose wifi" '.intendedPurpose = "wifi"' 'not supported'
bad_post "intendedPurpose bogus" '.intendedPurpose = "email"' 'intendedPurpose'
bad_post "paddingScheme pkcs1" '.paddingScheme = "pkcs1"' 'no longer supported'
bad_post "paddingScheme oaepSha1" '.paddingScheme = "oaepSha1"' 'no longer supported'
bad_post "paddingScheme none" '.paddingScheme = "none"' 'no longer supported'
bad_post "bad date" '.startDateTime = "yesterday"' 'startDateTime'
bad_post "date without offset" '.expirationDateTime = "2030-01-01T00:00:00"' 'expirationDateTime'
bad_post "blob not base64" '.encryptedPfxBlob = "not base64!"' 'encryptedPfxBlob'
bad_post "password not base64" '.encryptedPfxPassword = "%%%"' 'encryptedPfxPassword'
bad_post "unknown user" '.userPrincipalName = "nobody@contoso.example"' 'not a user'
bad_post "unknown property" '.foo = 1' "property 'foo' does not exist"
bad_post "number instead of string" '.keyName = 5' 'string'
bad_post "wrong @odata.type" '.["@odata.type"] = "#microsoft.graph.user"' 'could not be resolved'
greq POST $C -H 'Content-Type: application/json' --data-binary '{"thumbprint": '
check "bad JSON: 400" "400 BadRequest" "$CODE $(jqr .error.code)"
greq POST $C -H 'Content-Type: text/plain' --data-binary "@$T/rec/a1.json"
check "wrong content type: 415" 415 "$CODE"
greq POST $C --data-binary "@$T/rec/a1.json" -H 'Content-Type:'
check "no content type: 415" 415 "$CODE"

# uppercase thumbprint and PascalCase enums are accepted and normalised
make_record a2 "$ALICE" sha256
A2=$THUMB
jq '.thumbprint |= ascii_upcase | .intendedPurpose = "SmimeSigning" | .paddingScheme = "OaepSha256"
    | .["@odata.type"] = "#microsoft.graph.userPFXCertificate" | .userPrincipalName |= ascii_upcase' \
    "$T/rec/a2.json" >"$T/rec/a2u.json"
post_record a2u
check "uppercase thumbprint accepted" 201 "$CODE"
check "thumbprint stored lowercase" "$A2" "$(jqr .thumbprint)"
check "enum normalised" "smimeSigning oaepSha256" "$(jqr '.intendedPurpose + " " + .paddingScheme')"

make_record o1 "$OBRIEN"
O1=$THUMB
post_record o1
check "create for a UPN with a quote" 201 "$CODE"
for n in b1 b2 b3; do
    make_record "$n" "$BOB"
    post_record "$n"
done
check "six records" 6 "$(curl -sS --cacert "$CA" "$URL/emu/records" | jq .count)"

# get by id in all three key forms
greq GET "$C/$A1_ID"
check "get /{id}" "200 $A1" "$CODE $(jqr .thumbprint)"
check "get: blob blanked" "AA==" "$(jqr .encryptedPfxBlob)"
check_match "get: @odata.context entity" '\$entity$' "$(jqr '."@odata.context"')"
greq GET "$C('$A1_ID')"
check "get ('{id}')" "200 $A1" "$CODE $(jqr .thumbprint)"
greq GET "$C($A1_ID)"
check "get ({id})" "200 $A1" "$CODE $(jqr .thumbprint)"
greq GET "$C('$A1_ID')?\$select=id,thumbprint"
check "get with \$select" "id,thumbprint" "$(jqr '[keys_unsorted[] | select(startswith("@") | not)] | join(",")')"
greq GET "$C/${ALICE_ID//-/}-0000000000000000000000000000000000000000"
check "get unknown id: 404 ResourceNotFound" "404 ResourceNotFound" "$CODE $(jqr .error.code)"

# list with paging (page size 2): 6 records = 3 pages
seen=()
path=$C
pages=0
while [[ -n $path && $pages -lt 10 ]]; do
    greq GET "$path"
    [[ $CODE == 200 ]] || break
    pages=$((pages + 1))
    mapfile -t ids < <(jqr '.value[].id')
    seen+=("${ids[@]}")
    next=$(jqr '."@odata.nextLink" // empty')
    if [[ -n $next ]]; then
        check_match "nextLink is absolute" "^$URL/beta/" "$next"
        path=${next#"$URL"}
    else
        path=
    fi
done
check "paging: 3 pages" 3 "$pages"
check "paging: 6 records" 6 "${#seen[@]}"
check "paging: no duplicates" 6 "$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)"
greq GET "$C?\$top=1"
check "\$top=1: one record" 1 "$(jqr '.value | length')"
check_match "\$top kept in nextLink" '\$top=1' "$(jqr '."@odata.nextLink"')"
greq GET "$C?\$top=0"
check "\$top=0: 400" 400 "$CODE"
greq GET "$C?\$skiptoken=garbage"
check "bad skiptoken: 400" 400 "$CODE"
greq GET "$C?\$count=true"
check "\$count" 6 "$(jqr '."@odata.count"')"

# $filter
flt() { greq GET "$C" -G --data-urlencode "\$filter=$1" "${@:2}"; }
flt "tolower(userPrincipalName) eq 'alice@contoso.example'"
check "filter tolower(upn)" 2 "$(jqr '.value | length')"
flt "tolower(userPrincipalName) eq 'o''brien@contoso.example'"
check "filter with a doubled quote" "$O1" "$(jqr '.value[0].thumbprint')"
check "filter with a quote: one record" 1 "$(jqr '.value | length')"
flt "tolower(userPrincipalName) eq 'alice@contoso.example' and tolower(thumbprint) eq '$A1'"
check "filter upn and thumbprint" "$A1" "$(jqr '[.value[].thumbprint] | join(",")')"
flt "userPrincipalName eq 'bob.builder@contoso.example'"
check "plain eq is case-sensitive" 0 "$(jqr '.value | length')"
flt "userPrincipalName eq 'Bob.Builder@contoso.example'"
check "plain eq, exact case: 2 pages' worth" 2 "$(jqr '.value | length')"
check_match "filter kept in nextLink" 'filter=userPrincipalName' "$(jqr '."@odata.nextLink"')"
flt "tolower(userPrincipalName) eq 'alice@contoso.example'" --data-urlencode '$select=id,userPrincipalName'
check "filter + \$select" "id,userPrincipalName" \
    "$(jqr '.value[0] | [keys_unsorted[] | select(startswith("@") | not)] | join(",")')"
check_match "select in @odata.context" 'userPfxCertificates\(id,userPrincipalName\)$' \
    "$(jqr '."@odata.context"')"
flt "startswith(userPrincipalName,'a')"
check "unsupported filter function: 400" 400 "$CODE"
flt "userPrincipalName ne 'x'"
check "unsupported operator: 400" 400 "$CODE"
flt "keyName eq 'x'"
check "unsupported property: 400" 400 "$CODE"
flt "userPrincipalName eq 'unterminated"
check "unterminated literal: 400" 400 "$CODE"
greq GET "$C?\$select=nonsense"
check "unknown \$select property: 400" 400 "$CODE"
greq GET "$C?\$orderby=id"
check "unsupported query option: 400" 400 "$CODE"
# beta: the $ prefix is optional
greq GET "$C" -G --data-urlencode "filter=tolower(userPrincipalName) eq 'alice@contoso.example'"
check "filter without \$ on beta" 2 "$(jqr '.value | length')"

# PATCH
greq PATCH "$C($A1_ID)" -H 'Content-Type: application/json' --data '{"keyName":"OtherKey"}'
check "PATCH: 200" "200 OtherKey" "$CODE $(jqr .keyName)"
greq PATCH "$C/$A1_ID" -H 'Content-Type: application/json' --data '{"thumbprint":"0000000000000000000000000000000000000000"}'
check "PATCH cannot change the thumbprint" 400 "$CODE"
greq PATCH "$C/$A1_ID" -H 'Content-Type: application/json' --data '{"paddingScheme":"pkcs1"}'
check "PATCH validates" 400 "$CODE"

# DELETE in both forms; the listing stays consistent
greq DELETE "$C/$A1_ID"
check "DELETE /{id}: 204" 204 "$CODE"
check "DELETE: empty body" "" "$BODY"
greq DELETE "$C/$A1_ID"
check "DELETE again: 404" 404 "$CODE"
A2_ID="${ALICE_ID//-/}-$A2"
greq DELETE "$C('$A2_ID')"
check "DELETE ('{id}'): 204" 204 "$CODE"
greq GET "$C('$A2_ID')"
check "deleted record is gone" 404 "$CODE"
greq DELETE "$C"
check "DELETE on the collection: 405" 405 "$CODE"
greq POST "$C/$A1_ID" -H 'Content-Type: application/json' --data '{}'
check "POST on an item: 405" 405 "$CODE"
greq GET /v1.0/deviceManagement/userPfxCertificates
check "v1.0 has no userPfxCertificates: 400" 400 "$CODE"

# --strict: the connector must be able to open what is uploaded
emu_start strict --strict
token_secret
make_record s1 "$ALICE"
post_record s1
check "strict: good record" 201 "$CODE"
make_record s2 "$ALICE" sha256
jq '.paddingScheme = "oaepSha512"' "$T/rec/s2.json" >"$T/rec/s2bad.json"
post_record s2bad
check "strict: wrong padding scheme: 400" 400 "$CODE"
check_match "strict: reason" 'cannot decrypt' "$(jqr .error.message)"
make_record s3 "$ALICE"
jq --arg b "$(base64 -w0 <"$T/rec/s2.p12")" '.encryptedPfxBlob = $b' "$T/rec/s3.json" >"$T/rec/s3bad.json"
post_record s3bad
check "strict: PKCS#12 does not open with the password: 400" 400 "$CODE"
check_match "strict: reason" 'PKCS#12' "$(jqr .error.message)"
make_record s4 "$ALICE"
jq --arg t "$A1" '.thumbprint = $t' "$T/rec/s4.json" >"$T/rec/s4bad.json"
post_record s4bad
check "strict: thumbprint not the certificate's: 400" 400 "$CODE"

finish
