#!/usr/bin/env bash
# Helpers for the intune-emu integration tests (sourced by test_emu_*.sh). Run directly, it is a
# smoke test: start the emulator on a free port, get a token, list records, stop.
#
# Everything a test makes lives in $T (a mktemp dir removed on exit); every emulator started with
# emu_start is killed on exit; every wait is bounded.

set -euo pipefail

EMU=${SSYNC_BUILD:?SSYNC_BUILD must name the build directory}/intune-emu
[[ -x $EMU ]] || {
    echo "missing $EMU" >&2
    exit 1
}

T=$(mktemp -d "${TMPDIR:-/tmp}/emu-test.XXXXXX")
EMU_PIDS=()
FAILS=0
CHECKS=0

emu_cleanup() {
    local p
    for p in "${EMU_PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${EMU_PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap emu_cleanup EXIT

TENANT=11111111-2222-3333-4444-555555555555
CLIENT=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
ALICE_ID=0a1b2c3d-0000-4000-8000-00000000a11c
BOB_ID=0b0b0b0b-1111-4222-8333-444444444b0b
OBRIEN_ID=0c0c0c0c-1111-4222-8333-0000000000c0
ALICE=alice@contoso.example
BOB=Bob.Builder@contoso.example
OBRIEN="o'brien@contoso.example"

pass() {
    CHECKS=$((CHECKS + 1))
    echo "ok   - $*"
}
fail() {
    CHECKS=$((CHECKS + 1))
    FAILS=$((FAILS + 1))
    echo "FAIL - $*"
}
# check DESCRIPTION EXPECTED ACTUAL
check() {
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# check_match DESCRIPTION REGEX ACTUAL
check_match() {
    if [[ $3 =~ $2 ]]; then pass "$1"; else fail "$1: [$3] does not match /$2/"; fi
}
finish() {
    echo "$((CHECKS - FAILS))/$CHECKS checks passed"
    [[ $FAILS -eq 0 ]]
}

b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
# jwt_claims JWT: the decoded payload.
jwt_claims() {
    local p
    p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
    while ((${#p} % 4)); do p+='='; done
    base64 -d <<<"$p"
}

# The test PKI: a CA, a TLS server certificate for 127.0.0.1, the app certificate (client
# assertion), the connector key pair, the client secret and users.csv.
make_pki() {
    local d=$T/pki
    mkdir -p "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
        -subj /CN=emu-test-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.pem" -days 2 \
        -subj /CN=127.0.0.1 -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -addext subjectAltName=IP:127.0.0.1,DNS:localhost -addext basicConstraints=CA:FALSE \
        2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/app.key" -out "$d/app.pem" -days 2 \
        -subj /CN=smimesync-test-app 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/other.key" -out "$d/other.pem" \
        -days 2 -subj /CN=not-the-app 2>/dev/null
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/connector.key" \
        2>/dev/null
    openssl pkey -in "$d/connector.key" -pubout -out "$d/connector-public.pem"
    printf 's3cr3t~value.with-chars_%s\n' "$RANDOM" >"$d/client-secret"
    chmod 600 "$d/client-secret"
    {
        echo "userPrincipalName,id,mail"
        echo "$ALICE,$ALICE_ID,alice@contoso.example"
        echo "$BOB,$BOB_ID,bob@contoso.example"
        echo "\"$OBRIEN\",$OBRIEN_ID,obrien@contoso.example"
    } >"$d/users.csv"
    CA=$d/ca.pem
    SECRET=$(head -n1 "$d/client-secret")
}

# emu_start NAME [extra options...]: starts an emulator (output in $T/NAME.out and .err) and sets
# URL and PID for it.
emu_start() {
    local name=$1
    shift
    local out=$T/$name.out err=$T/$name.err
    "$EMU" --listen 127.0.0.1:0 --tls-cert "$T/pki/server.pem" --tls-key "$T/pki/server.key" \
        --tenant-id "$TENANT" --client-id "$CLIENT" --client-secret-file "$T/pki/client-secret" \
        --client-cert "$T/pki/app.pem" --connector-key "$T/pki/connector.key" \
        --users "$T/pki/users.csv" --max-runtime 600 "$@" >"$out" 2>"$err" &
    local pid=$!
    EMU_PIDS+=("$pid")
    local i line=""
    for ((i = 0; i < 100; i++)); do
        line=$(head -n1 "$out" 2>/dev/null || true)
        [[ -n $line ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ ! $line =~ ^listening\ (https://127\.0\.0\.1:[0-9]+)$ ]]; then
        echo "emulator $name did not start: $(cat "$err")" >&2
        return 1
    fi
    URL=${BASH_REMATCH[1]}
    PID=$pid
}

# emu_stop PID: SIGTERM and wait (bounded); returns the exit status.
emu_stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}

# req METHOD PATH [curl args...]: sets CODE, BODY, HDRS (response headers file).
req() {
    local method=$1 path=$2
    shift 2
    HDRS=$T/last.headers
    BODY=$(curl -sS --max-time 30 --cacert "$CA" -X "$method" -D "$HDRS" -o - \
        -w '\n%{http_code}' "$@" "$URL$path" 2>"$T/last.curlerr" || true)
    CODE=${BODY##*$'\n'}
    BODY=${BODY%$'\n'*}
}
# greq METHOD PATH [curl args...]: req with the bearer token.
greq() {
    local method=$1 path=$2
    shift 2
    req "$method" "$path" -H "Authorization: Bearer $TOKEN" "$@"
}
header() { grep -i "^$1:" "$HDRS" | head -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }
jqr() { jq -r "$1" <<<"$BODY"; }

# token_secret: sets TOKEN from the client-secret grant.
token_secret() {
    req POST "/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=client_credentials \
        --data-urlencode "client_id=$CLIENT" --data-urlencode "client_secret=$SECRET" \
        --data-urlencode scope=https://graph.microsoft.com/.default
    TOKEN=$(jqr .access_token)
}

# make_assertion ALG KEY CERT [exp-offset] [jti] [aud]: prints a client assertion JWT.
make_assertion() {
    local alg=$1 key=$2 cert=$3 expoff=${4:-300} jti=${5:-} aud=${6:-}
    local now thumb header payload input sig
    now=$(date +%s)
    [[ -n $jti ]] || jti=$(cat /proc/sys/kernel/random/uuid)
    [[ -n $aud ]] || aud="https://login.microsoftonline.com/$TENANT/oauth2/v2.0/token"
    if [[ $alg == RS256 ]]; then
        thumb=$(openssl x509 -in "$cert" -outform DER | openssl dgst -sha1 -binary | b64url)
        header=$(printf '{"alg":"RS256","typ":"JWT","x5t":"%s"}' "$thumb")
    else
        thumb=$(openssl x509 -in "$cert" -outform DER | openssl dgst -sha256 -binary | b64url)
        header=$(printf '{"alg":"PS256","typ":"JWT","x5t#S256":"%s"}' "$thumb")
    fi
    payload=$(printf '{"aud":"%s","iss":"%s","sub":"%s","jti":"%s","nbf":%d,"iat":%d,"exp":%d}' \
        "$aud" "$CLIENT" "$CLIENT" "$jti" $((now - 10)) $((now - 10)) $((now + expoff)))
    input="$(printf %s "$header" | b64url).$(printf %s "$payload" | b64url)"
    if [[ $alg == RS256 ]]; then
        sig=$(printf %s "$input" | openssl dgst -sha256 -sign "$key" | b64url)
    else
        sig=$(printf %s "$input" | openssl dgst -sha256 -sigopt rsa_padding_mode:pss \
            -sigopt rsa_pss_saltlen:32 -sign "$key" | b64url)
    fi
    printf '%s.%s\n' "$input" "$sig"
}

# token_assertion JWT: the certificate grant; sets CODE/BODY (and TOKEN on success).
token_assertion() {
    req POST "/$TENANT/oauth2/v2.0/token" --data-urlencode grant_type=client_credentials \
        --data-urlencode "client_id=$CLIENT" \
        --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
        --data-urlencode "client_assertion=$1" \
        --data-urlencode scope=https://graph.microsoft.com/.default
    TOKEN=$(jqr '.access_token // empty')
}

# make_record NAME UPN [padding-md] [password]: a user certificate + PKCS#12 and the POST body
# in $T/rec/NAME.json; sets THUMB.
make_record() {
    local name=$1 upn=$2 md=${3:-sha512} pw=${4:-}
    local d=$T/rec
    mkdir -p "$d"
    [[ -n $pw ]] || pw="Pw-$(openssl rand -hex 12)"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/$name.key" -out "$d/$name.pem" \
        -days 30 -subj "/CN=$name" -addext "subjectAltName=email:$name@contoso.example" \
        -addext keyUsage=keyEncipherment 2>/dev/null
    openssl pkcs12 -export -inkey "$d/$name.key" -in "$d/$name.pem" -passout "pass:$pw" \
        -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -macalg sha1 -out "$d/$name.p12"
    THUMB=$(openssl x509 -in "$d/$name.pem" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : |
        tr 'A-F' 'a-f')
    local enc padding
    enc=$(printf %s "$pw" | openssl pkeyutl -encrypt -pubin -inkey "$T/pki/connector-public.pem" \
        -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$md" |
        base64 -w0)
    case $md in
    sha256) padding=oaepSha256 ;;
    sha384) padding=oaepSha384 ;;
    *) padding=oaepSha512 ;;
    esac
    jq -n --arg t "$THUMB" --arg u "$upn" --arg blob "$(base64 -w0 <"$d/$name.p12")" \
        --arg pw "$enc" --arg pad "$padding" \
        --arg s "$(date -u -d "$(openssl x509 -in "$d/$name.pem" -noout -startdate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" \
        --arg e "$(date -u -d "$(openssl x509 -in "$d/$name.pem" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" \
        '{thumbprint:$t, intendedPurpose:"smimeEncryption", userPrincipalName:$u,
          startDateTime:$s, expirationDateTime:$e,
          providerName:"Microsoft Software Key Storage Provider", keyName:"PFXEncryptionKey",
          paddingScheme:$pad, encryptedPfxBlob:$blob, encryptedPfxPassword:$pw}' >"$d/$name.json"
}

# post_record NAME: POSTs $T/rec/NAME.json.
post_record() {
    greq POST /beta/deviceManagement/userPfxCertificates -H 'Content-Type: application/json' \
        --data-binary "@$T/rec/$1.json"
}

# Run directly: a smoke test.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    make_pki
    emu_start smoke
    check_match "listening line" '^https://127\.0\.0\.1:[0-9]+$' "$URL"
    token_secret
    check "token with the client secret" 200 "$CODE"
    greq GET /beta/deviceManagement/userPfxCertificates
    check "empty list" '0' "$(jqr '.value | length')"
    check "request-id header" 36 "$(header request-id | tr -d '\n' | wc -c)"
    emu_stop "$PID" && rc=0 || rc=$?
    check "exit status after SIGTERM" 0 "$rc"
    finish
fi
