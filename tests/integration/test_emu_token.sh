#!/usr/bin/env bash
# intune-emu: the Entra token endpoint (secret, Basic, RS256/PS256 assertions and their failures)
# and access-token checks on the Graph side.
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
emu_start tok --token-lifetime 3
url_tok=$URL

tok_path=/$TENANT/oauth2/v2.0/token
form=(--data-urlencode grant_type=client_credentials --data-urlencode "client_id=$CLIENT"
    --data-urlencode scope=https://graph.microsoft.com/.default)

# client secret
token_secret
check "secret: 200" 200 "$CODE"
check "secret: token_type" Bearer "$(jqr .token_type)"
check "secret: expires_in" 3 "$(jqr .expires_in)"
check "secret: ext_expires_in" 3 "$(jqr .ext_expires_in)"
check "secret: no-store" "no-store, no-cache" "$(header Cache-Control)"
claims=$(jwt_claims "$TOKEN")
check "token: aud" https://graph.microsoft.com "$(jq -r .aud <<<"$claims")"
check "token: roles" "DeviceManagementConfiguration.ReadWrite.All,User.Read.All" \
    "$(jq -r '.roles | join(",")' <<<"$claims")"
check "token: tid" "$TENANT" "$(jq -r .tid <<<"$claims")"
check "token: appid" "$CLIENT" "$(jq -r .appid <<<"$claims")"
greq GET /beta/deviceManagement/userPfxCertificates
check "Graph accepts the token" 200 "$CODE"

req POST "$tok_path" "${form[@]}" --data-urlencode "client_secret=wrong"
check "wrong secret: 401" 401 "$CODE"
check "wrong secret: invalid_client" invalid_client "$(jqr .error)"
check "wrong secret: AADSTS7000215" 7000215 "$(jqr '.error_codes[0]')"
check_match "wrong secret: description" '^AADSTS7000215: .*Trace ID: .*Correlation ID: .*Timestamp: ' \
    "$(jqr .error_description | tr -d '\r\n')"
check_match "wrong secret: timestamp format" '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}Z$' "$(jqr .timestamp)"
check_match "wrong secret: trace_id" '^[0-9a-f-]{36}$' "$(jqr .trace_id)"
check_match "wrong secret: correlation_id" '^[0-9a-f-]{36}$' "$(jqr .correlation_id)"

# client_secret_basic
req POST "$tok_path" --data-urlencode grant_type=client_credentials \
    --data-urlencode scope=https://graph.microsoft.com/.default -u "$CLIENT:$SECRET"
check "Basic auth: 200" 200 "$CODE"

# the emulator's own base URL as resource
req POST "$tok_path" --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CLIENT" --data-urlencode "client_secret=$SECRET" \
    --data-urlencode "scope=$URL/.default"
check "own base URL scope: 200" 200 "$CODE"

req POST "/99999999-2222-3333-4444-555555555555/oauth2/v2.0/token" "${form[@]}" \
    --data-urlencode "client_secret=$SECRET"
check "unknown tenant: 400" 400 "$CODE"
check "unknown tenant: 90002" 90002 "$(jqr '.error_codes[0]')"
check "unknown tenant: invalid_tenant" invalid_tenant "$(jqr .error)"

req POST "$tok_path" --data-urlencode grant_type=client_credentials \
    --data-urlencode client_id=00000000-0000-0000-0000-000000000001 \
    --data-urlencode "client_secret=$SECRET" --data-urlencode scope=https://graph.microsoft.com/.default
check "unknown client: 400" 400 "$CODE"
check "unknown client: unauthorized_client/700016" "unauthorized_client 700016" \
    "$(jqr '.error + " " + (.error_codes[0]|tostring)')"

req POST "$tok_path" --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CLIENT" --data-urlencode "client_secret=$SECRET" \
    --data-urlencode scope=https://graph.microsoft.com/User.Read
check "scope without /.default: invalid_scope 400" "400 invalid_scope 1002012" \
    "$CODE $(jqr '.error + " " + (.error_codes[0]|tostring)')"
req POST "$tok_path" --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CLIENT" --data-urlencode "client_secret=$SECRET" \
    --data-urlencode scope=nonsense
check "garbage scope: 70011" "400 invalid_scope 70011" \
    "$CODE $(jqr '.error + " " + (.error_codes[0]|tostring)')"
req POST "$tok_path" --data-urlencode grant_type=password --data-urlencode "client_id=$CLIENT" \
    --data-urlencode "client_secret=$SECRET" --data-urlencode scope=https://graph.microsoft.com/.default
check "unsupported grant: 70003" "400 unsupported_grant_type 70003" \
    "$CODE $(jqr '.error + " " + (.error_codes[0]|tostring)')"
req POST "$tok_path" "${form[@]}"
check "no credential: 401 invalid_client" "401 invalid_client" "$CODE $(jqr .error)"
req GET "$tok_path"
check "GET on the token endpoint: 400" "400 invalid_request" "$CODE $(jqr .error)"

# certificate credential
jwt=$(make_assertion RS256 "$T/pki/app.key" "$T/pki/app.pem")
token_assertion "$jwt"
check "RS256 assertion: 200" 200 "$CODE"
check "RS256 token: appidacr 2" 2 \
    "$(jwt_claims "$TOKEN" | jq -r .appidacr)"
token_assertion "$jwt"
check "replayed jti: 401 invalid_client" "401 invalid_client" "$CODE $(jqr .error)"
token_assertion "$(make_assertion PS256 "$T/pki/app.key" "$T/pki/app.pem")"
check "PS256 assertion with x5t#S256: 200" 200 "$CODE"
token_assertion "$(make_assertion RS256 "$T/pki/app.key" "$T/pki/app.pem" 300 "" \
    "$URL/$TENANT/oauth2/v2.0/token")"
check "assertion aud = emulator URL: 200" 200 "$CODE"
token_assertion "$(make_assertion RS256 "$T/pki/other.key" "$T/pki/other.pem")"
check "unknown certificate: 700027" "401 700027" "$CODE $(jqr '.error_codes[0]')"
# right thumbprint, wrong key: a bad signature
bad=$(make_assertion RS256 "$T/pki/other.key" "$T/pki/app.pem")
token_assertion "$bad"
check "bad signature: 401 700027" "401 invalid_client 700027" \
    "$CODE $(jqr '.error + " " + (.error_codes[0]|tostring)')"
check_match "bad signature: says so" 'signature' "$(jqr .error_description)"
token_assertion "$(make_assertion RS256 "$T/pki/app.key" "$T/pki/app.pem" -3600)"
check "expired assertion: 700024" "401 invalid_client 700024" \
    "$CODE $(jqr '.error + " " + (.error_codes[0]|tostring)')"
token_assertion "$(make_assertion RS256 "$T/pki/app.key" "$T/pki/app.pem" 300 "" \
    https://login.microsoftonline.com/other/oauth2/v2.0/token)"
check "wrong aud: 401" "401 invalid_client" "$CODE $(jqr .error)"
token_assertion "not.a.jwt"
check "malformed assertion: 401" "401 invalid_client" "$CODE $(jqr .error)"

# Graph side of the token
req GET /beta/deviceManagement/userPfxCertificates
check "no token: 401" 401 "$CODE"
check "no token: InvalidAuthenticationToken" InvalidAuthenticationToken "$(jqr .error.code)"
check "no token: message" "Access token is empty." "$(jqr .error.message)"
check_match "no token: innerError date" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}$' \
    "$(jqr .error.innerError.date)"
req GET /beta/deviceManagement/userPfxCertificates -H "Authorization: Bearer ${TOKEN%?}A"
check "tampered token: 401" 401 "$CODE"
token_secret
sleep 4
greq GET /beta/deviceManagement/userPfxCertificates
check "expired token: 401" 401 "$CODE"
check "expired token: message" "Access token has expired or is not yet valid." "$(jqr .error.message)"

# client-request-id is echoed, or generated
token_secret
greq GET /beta/users -H "client-request-id: my-correlation-42"
check "client-request-id echoed" my-correlation-42 "$(header client-request-id)"
check_match "request-id generated" '^[0-9a-f-]{36}$' "$(header request-id)"
check_match "Date header" 'GMT$' "$(header Date)"

# a token from another emulator (other signing key) is refused
emu_start other --token-lifetime 60
token_secret
foreign=$TOKEN
URL=$url_tok
req GET /beta/users -H "Authorization: Bearer $foreign"
check "token signed by another key: 401" 401 "$CODE"

# roles: an app without permissions gets 403
emu_start noroles --roles none
token_secret
greq GET /beta/deviceManagement/userPfxCertificates
check "no roles: 403 Forbidden (Intune)" "403 Forbidden" "$CODE $(jqr .error.code)"
greq GET /beta/users
check "no roles: 403 Authorization_RequestDenied" "403 Authorization_RequestDenied" \
    "$CODE $(jqr .error.code)"
emu_start readonly --roles DeviceManagementConfiguration.Read.All
token_secret
greq GET /beta/deviceManagement/userPfxCertificates
check "Read.All can list" 200 "$CODE"
make_record r1 "$ALICE"
post_record r1
check "Read.All cannot create: 403" 403 "$CODE"

finish
