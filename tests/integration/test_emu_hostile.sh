#!/usr/bin/env bash
# intune-emu: hostile and odd input never crashes it; startup refuses bad options.
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
C=/beta/deviceManagement/userPfxCertificates
emu_start h
token_secret

head -c 1100000 /dev/zero | tr '\0' 'a' >"$T/big"
greq POST "$C" -H 'Content-Type: application/json' --data-binary "@$T/big"
check "body > 1 MiB: 413" "413 RequestEntityTooLarge" "$CODE $(jqr .error.code)"
greq POST "$C" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary "@$T/big"
check "chunked body > 1 MiB: 413" 413 "$CODE"
req POST "/$TENANT/oauth2/v2.0/token" -H 'Content-Type: application/x-www-form-urlencoded' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$T/big"
check "huge token request: 413" 413 "$CODE"
greq POST "$C" -H 'Content-Type: application/json' --data-binary '[1,2,3]'
check "JSON array body: 400" 400 "$CODE"
greq POST "$C" -H 'Content-Type: application/json' --data-binary $'\xff\xfe{'
check "binary garbage: 400" 400 "$CODE"
greq POST "$C" -H 'Content-Type: application/json' --data-binary '{"a":1,"a":2}'
check "duplicate JSON keys: 400" 400 "$CODE"
greq POST "$C" -H 'Content-Type: application/xml' --data-binary '<x/>'
check "XML: 415" 415 "$CODE"
greq GET /beta/nonexistent/thing
check "unknown path: 404 Graph shape" "404 ResourceNotFound" "$CODE $(jqr .error.code)"
req GET /
check "root: 404" 404 "$CODE"
req GET /emu/nothing
check "unknown admin path: 404" 404 "$CODE"
greq PUT "$C/x"
check "PUT on an item: 405 with Allow" "405 GET, PATCH, DELETE" "$CODE $(header Allow)"
greq DELETE /beta/users
check "DELETE /users: 405" 405 "$CODE"
greq GET "$C('unterminated"
check "malformed key: 404" 404 "$CODE"
greq GET "$C/a/b/c"
check "deep path: 404" 404 "$CODE"
long=$(head -c 6000 /dev/zero | tr '\0' 'x')
greq GET "$C?\$filter=userPrincipalName%20eq%20'$long'"
check_match "long URL answered" '^(200|400|414|431)$' "$CODE"
greq GET "$C" -G --data-urlencode "\$filter=((((((((((((userPrincipalName eq 'a'))))))))))))"
check "nested parentheses: 200" 200 "$CODE"
deep=$(printf '(%.0s' $(seq 1 3000))
greq GET "$C" -G --data-urlencode "\$filter=${deep}"
check_match "absurd nesting answered" '^(400|414)$' "$CODE"
greq GET "$C?\$filter=%zz"
check_match "bad percent escape answered" '^(200|400)$' "$CODE"
req GET "$C" -H "Authorization: Bearer ....."
check "garbage bearer token: 401" 401 "$CODE"
req GET "$C" -H "Authorization: Basic Zm9vOmJhcg=="
check "Basic auth on Graph: 401" 401 "$CODE"
req POST "/$TENANT/oauth2/v2.0/token" -H 'Authorization: Basic %%%' --data grant_type=client_credentials
check "garbage Basic header at the token endpoint: 401" 401 "$CODE"
req POST "/$TENANT/oauth2/v2.0/token" --data 'grant_type=client_credentials&client_id=%zz'
check "bad escape in the token form: 400" 400 "$CODE"
req POST "/$TENANT/oauth2/v2.0/token" -H 'Content-Type: application/json' --data '{"grant_type":"client_credentials"}'
check "JSON to the token endpoint: 400" "400 invalid_request" "$CODE $(jqr .error)"
req POST "/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CLIENT" --data-urlencode scope=https://graph.microsoft.com/.default \
    --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    --data-urlencode "client_assertion=$(printf '{"alg":"none"}' | b64url).$(printf '{}' | b64url)."
check "alg none assertion: 401" 401 "$CODE"
greq POST '/beta/$batch' -H 'Content-Type: application/json' --data '{"requests":"nope"}'
check "batch with a string: 400" 400 "$CODE"
greq POST '/beta/$batch' -H 'Content-Type: application/json' \
    --data '{"requests":[{"id":"1","method":"GET","url":"/users","headers":{"x":5}}]}'
check "batch with a non-string header: 400" 400 "$CODE"
# plain HTTP to the TLS port, and a half-open connection
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/${URL##*:}" \
    2>/dev/null || true
timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/${URL##*:}; sleep 1" 2>/dev/null || true

# concurrency: 20 parallel creates of distinct records and 20 parallel reads
for i in $(seq 1 10); do make_record "p$i" "$BOB"; done
jobs_=()
for i in $(seq 1 10); do
    post_record "p$i" &
    jobs_+=($!)
    greq GET "$C" &
    jobs_+=($!)
done
wait "${jobs_[@]}" # not a bare wait: that would wait for the emulator too
check "10 parallel creates all stored" 10 "$(curl -sS --cacert "$CA" "$URL/emu/records" | jq .count)"
greq GET /beta/users
check "still alive after all that" 200 "$CODE"

# startup refusals
start_fails() { # DESCRIPTION ARGS...
    local d=$1
    shift
    if timeout 10 "$EMU" --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
        --tenant-id "$TENANT" --client-id "$CLIENT" --connector-key "$T/pki/connector.key" \
        --max-runtime 3 "$@" >"$T/start.out" 2>"$T/start.err"; then
        fail "$d: started"
    else
        pass "$d: refused ($(tail -n1 "$T/start.err"))"
    fi
}
start_fails "non-loopback listen address" --listen 0.0.0.0:0 --users "$T/pki/users.csv"
start_fails "LAN listen address" --listen 192.168.1.10:0 --users "$T/pki/users.csv"
printf 'userPrincipalName,id\nx@y,1\n' >"$T/bad-users.csv"
start_fails "users.csv without mail" --listen 127.0.0.1:0 --users "$T/bad-users.csv"
printf 'userPrincipalName,id,mail\nx@y,not-a-guid,x@y\n' >"$T/bad-users2.csv"
start_fails "users.csv with a bad id" --listen 127.0.0.1:0 --users "$T/bad-users2.csv"
start_fails "missing --users" --listen 127.0.0.1:0
start_fails "bad --write-limit" --listen 127.0.0.1:0 --users "$T/pki/users.csv" --write-limit 5
start_fails "connector key is a certificate" --listen 127.0.0.1:0 --users "$T/pki/users.csv" \
    --connector-key "$T/pki/app.pem"

# --max-runtime ends the process on its own
"$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
    --tenant-id "$TENANT" --client-id "$CLIENT" --connector-key "$T/pki/connector.key" \
    --users "$T/pki/users.csv" --client-secret-file "$T/pki/client-secret" --max-runtime 1 \
    --quiet >"$T/mr.out" 2>&1 &
mr=$!
EMU_PIDS+=("$mr")
sleep 3
check "--max-runtime: process ended" no "$(kill -0 "$mr" 2>/dev/null && echo yes || echo no)"
check_match "--max-runtime: listening line printed" '^listening https://127.0.0.1:[0-9]+$' \
    "$(head -n1 "$T/mr.out")"

finish
