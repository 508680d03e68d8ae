#!/usr/bin/env bash
# intune-emu: throttling (--write-limit, --request-limit) and every --fault kind.
# OData query options start with a literal $:
# shellcheck disable=SC2016
# shellcheck source=tests/integration/test_emu_lib.sh
source "$(dirname "$0")/test_emu_lib.sh"

make_pki
C=/beta/deviceManagement/userPfxCertificates
nobody=${ALICE_ID//-/}-0000000000000000000000000000000000000000

# write limit: 3 writes per 2 s
emu_start wl --write-limit 3/2 --request-limit off
token_secret
for i in 1 2 3; do
    greq DELETE "$C/$nobody"
    check "write $i admitted (404 for an unknown id)" 404 "$CODE"
done
greq DELETE "$C/$nobody"
check "4th write: 429" 429 "$CODE"
check "429: TooManyRequests" TooManyRequests "$(jqr .error.code)"
check "429: innerError status" 429 "$(jqr .error.innerError.status)"
ra=$(header Retry-After)
check_match "429: integer Retry-After" '^[12]$' "$ra"
greq GET "$C"
check "reads are not write-limited" 200 "$CODE"
sleep "$ra"
greq DELETE "$C/$nobody"
check "after Retry-After the write is admitted" 404 "$CODE"
stats=$(curl -sS --cacert "$CA" "$URL/emu/stats")
check "stats: throttled" 1 "$(jq .throttled <<<"$stats")"

# request limit: 4 requests per 3 s (the token endpoint does not count)
emu_start rl --request-limit 4/3
token_secret
for i in 1 2 3 4; do greq GET /beta/users; done
check "4th request admitted" 200 "$CODE"
greq GET /beta/users
check "5th request: 429" 429 "$CODE"
check_match "Retry-After is the ceiling of the wait" '^[1-3]$' "$(header Retry-After)"
emu_start off --write-limit 0 --request-limit off
token_secret
for i in $(seq 1 12); do greq DELETE "$C/$nobody"; done
check "limits off: no 429" 404 "$CODE"

# faults on GET /users: each fault counts every GET whose path contains "users"
emu_start f --fault GET:users:1=429 --fault GET:users:2=429-retry:2.5 \
    --fault GET:users:3=500 --fault GET:users:4=503 --fault GET:users:5=503-retry:7 \
    --fault GET:users:6=504 --fault GET:users:7=drop --fault GET:users:8=delay:1200 \
    --fault GET:users:9=expire --fault 'GET:userPfxCertificates:2:3=503' \
    --fault POST:userPfxCertificates:1=commit-500 --fault POST:userPfxCertificates:2=commit-drop \
    --fault DELETE:userPfxCertificates:1=commit-500 --fault oauth2:2=503
token_secret
check "first token request" 200 "$CODE"
greq GET /beta/users
check "429 fault" "429 TooManyRequests" "$CODE $(jqr .error.code)"
check "429 fault: no Retry-After" "" "$(header Retry-After)"
greq GET /beta/users
check "429-retry fault" "429 2.5" "$CODE $(header Retry-After)"
greq GET /beta/users
check "500 fault" "500 InternalServerError" "$CODE $(jqr .error.code)"
greq GET /beta/users
check "503 fault" "503 ServiceUnavailable" "$CODE $(jqr .error.code)"
greq GET /beta/users
check "503-retry fault" "503 7" "$CODE $(header Retry-After)"
greq GET /beta/users
check "504 fault" 504 "$CODE"
greq GET /beta/users
check "drop fault: no response" 000 "$CODE"
t0=$(date +%s%N)
greq GET /beta/users
t1=$(date +%s%N)
check "delay fault: then answered" 200 "$CODE"
check "delay fault: took >= 1.2 s" yes "$([[ $(((t1 - t0) / 1000000)) -ge 1200 ]] && echo yes || echo no)"
greq GET /beta/users
check "expire fault: 401" "401 InvalidAuthenticationToken" "$CODE $(jqr .error.code)"
greq GET /beta/users
check "after the faults: 200" 200 "$CODE"

# EVERY: requests 2, 5, 8 fail
codes=""
for i in $(seq 1 8); do
    greq GET "$C"
    codes+="$CODE "
done
check "N:EVERY fault (2, then every 3rd)" "200 503 200 200 503 200 200 503 " "$codes"

# commit faults: the operation happens, the answer is lost (checked through /emu/records, which
# faults never touch)
stored() { curl -sS --cacert "$CA" "$URL/emu/records" | jq --arg id "$1" '[.records[] | select(.id == $id)] | length'; }
make_record c1 "$ALICE"
post_record c1
check "commit-500: 500" 500 "$CODE"
C1_ID="${ALICE_ID//-/}-$THUMB"
check "commit-500: the record was stored" 1 "$(stored "$C1_ID")"
make_record c2 "$ALICE"
post_record c2
check "commit-drop: no response" 000 "$CODE"
check "commit-drop: the record was stored" 1 "$(stored "${ALICE_ID//-/}-$THUMB")"
greq DELETE "$C/$C1_ID"
check "DELETE commit-500: 500" 500 "$CODE"
check "DELETE commit-500: the record is gone" 0 "$(stored "$C1_ID")"

# token endpoint fault: Entra's shape
req POST "/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=client_credentials \
    --data-urlencode "client_id=$CLIENT" --data-urlencode "client_secret=$SECRET" \
    --data-urlencode scope=https://graph.microsoft.com/.default
check "token fault: 503 temporarily_unavailable" "503 temporarily_unavailable" "$CODE $(jqr .error)"

stats=$(curl -sS --cacert "$CA" "$URL/emu/stats")
check "stats: faults fired" 16 "$(jq .faultsFired <<<"$stats")"
check "stats: 429s sent" 2 "$(jq .sent429 <<<"$stats")"
check "stats: dropped" 2 "$(jq .dropped <<<"$stats")"
check "stats: per fault" 3 "$(jq '.faults[] | select(.spec == "GET:userPfxCertificates:2:3=503") | .fired' <<<"$stats")"

# a bad fault spec is refused at start
if "$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
    --tenant-id "$TENANT" --client-id "$CLIENT" --connector-key "$T/pki/connector.key" \
    --users "$T/pki/users.csv" --fault 'GET:users:0=boom' --max-runtime 5 >/dev/null 2>&1; then
    fail "bad --fault accepted"
else
    pass "bad --fault refused"
fi

finish
