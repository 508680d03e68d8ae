#!/usr/bin/env bash
# Microsoft's own client against the emulator: Debian's python3-msal discovers the tenant
# (instance discovery, OpenID configuration, signing keys) and gets tokens with a client secret
# and with certificates (RS256 x5t, PS256 x5t#S256), which Graph then accepts. The documents'
# shapes are checked with curl + jq as well.
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

PY=/usr/bin/python3 # Debian's python, where python3-msal lives
if ! "$PY" -c 'import msal' 2>/dev/null; then
    echo "python3-msal is not installed (make test installs it)" >&2
    exit 1
fi

make_pki
emu_start msal

# the documents, as Entra serves them
req GET "/$TENANT/v2.0/.well-known/openid-configuration"
check "openid-configuration: 200" 200 "$CODE"
check "token_endpoint" "$URL/$TENANT/oauth2/v2.0/token" "$(jqr .token_endpoint)"
check "jwks_uri" "$URL/$TENANT/discovery/v2.0/keys" "$(jqr .jwks_uri)"
check "issuer" "$URL/$TENANT/v2.0" "$(jqr .issuer)"
check "private_key_jwt supported" true \
    "$(jqr '.token_endpoint_auth_methods_supported | index("private_key_jwt") != null')"
req GET "/organizations/v2.0/.well-known/openid-configuration"
check "organizations: issuer placeholder" "$URL/{tenantid}/v2.0" "$(jqr .issuer)"
req GET "/99999999-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration"
check "unknown tenant: 400" 400 "$CODE"
check "unknown tenant: AADSTS90002" 90002 "$(jqr '.error_codes[0]')"
req GET "/$TENANT/discovery/v2.0/keys"
check "keys: 200" 200 "$CODE"
check "keys: RSA signing key" "RSA sig" "$(jqr '.keys[0] | "\(.kty) \(.use)"')"
keys_kid=$(jqr '.keys[0].kid')
token_secret
header_kid=$(cut -d. -f1 <<<"$TOKEN" | tr '_-' '/+' | { read -r h; while ((${#h} % 4)); do h+='='; done; base64 -d <<<"$h"; } | jq -r .kid)
check "keys: the kid that signs the tokens" "$header_kid" "$keys_kid"
req GET "/common/discovery/instance?api-version=1.1&authorization_endpoint=$URL/$TENANT/oauth2/v2.0/authorize"
check "instance discovery: 200" 200 "$CODE"
check "instance discovery: tenant document" "$URL/$TENANT/v2.0/.well-known/openid-configuration" \
    "$(jqr .tenant_discovery_endpoint)"
req GET "/common/discovery/instance?api-version=1.1&authorization_endpoint=https://evil.example/x/oauth2/v2.0/authorize"
check "instance discovery: foreign host refused" invalid_instance "$(jqr .error)"

# MSAL itself
# requests prefers these variables to the CA bundle MSAL is given
out=$(env -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE "$PY" "$(dirname "$0")/msal_client.py" "$URL" "$TENANT" "$CLIENT" "$T/pki/client-secret" \
    "$T/pki/app.key" "$T/pki/app.pem" "$T/pki/ca.pem" 2>&1) && rc=0 || rc=$?
echo "$out"
while read -r line; do
    case $line in
    ok*) pass "msal: ${line#ok   }" ;;
    FAIL*) fail "msal: ${line#FAIL }" ;;
    esac
done <<<"$out"
check "msal client exit status" 0 "$rc"
finish
