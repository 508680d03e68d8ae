#!/usr/bin/env bash
# The library's Graph client (src/lib/graph/) against intune-emu: tokens (secret, RS256, PS256),
# records (create, paged list, filters, delete + verify), $batch user lookups, group members
# (paged transitiveMembers, 404), TLS refusals, and
# one emulator per fault scenario (429, 5xx, dropped connections, commit-then-fail, expiry).
# The assertions live in the programs tests/unit/graph/test_graph_{auth,records,directory,hostile,
# faults}.c (helpers in graph_live.h); this script provides the emulators and runs every program
# against each one (a program's tests skip the scenarios that are not theirs).
set -euo pipefail

BUILD=${SSYNC_BUILD:-$(cd "$(dirname "$0")/../.." && pwd)/build}
EMU=$BUILD/intune-emu
LABGEN=$BUILD/smimesync-lab
LIVES=()
for p in auth records directory hostile faults; do
    LIVES+=("$BUILD/test_graph_$p")
done
for b in "$EMU" "$LABGEN" "${LIVES[@]}"; do
    if [[ ! -x $b ]]; then
        echo "SKIP: $b not built"
        exit 0
    fi
done

TMP=$(mktemp -d /tmp/ssync-graph-it.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

LAB=$TMP/lab
"$LABGEN" --out "$LAB" --users 30 --seed 20240601 --groups >"$TMP/lab.log" 2>&1 ||
    { cat "$TMP/lab.log"; exit 1; }

# start_emu NAME [extra intune-emu options...]: sets URL to the emulator's base URL
start_emu() {
    local name=$1
    shift
    local cert=${EMU_CERT:-$LAB/tls/server.pem} key=${EMU_KEY:-$LAB/tls/server.key}
    "$EMU" --listen 127.0.0.1:0 --tls-cert "$cert" --tls-key "$key" \
        --tenant-id "$(cat "$LAB/tenant-id")" --client-id "$(cat "$LAB/client-id")" \
        --client-secret-file "$LAB/client-secret" --client-cert "$LAB/app.pem" \
        --connector-key "$LAB/connector.key" --users "$LAB/users.csv" --max-runtime 300 \
        "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    PIDS+=($!)
    local pid=$! i
    URL=
    for ((i = 0; i < 100; i++)); do
        if [[ -s $TMP/$name.out ]]; then
            URL=$(sed -n '1s/^listening \(https:\/\/[^ ]*\).*/\1/p' "$TMP/$name.out")
            [[ -n $URL ]] && break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "intune-emu ($name) exited:"
            cat "$TMP/$name.err"
            exit 1
        fi
        sleep 0.1
    done
    if [[ -z $URL ]]; then
        echo "intune-emu ($name) did not report its address within 10 s"
        cat "$TMP/$name.err"
        exit 1
    fi
}

FAILED=0
run() { # run SCENARIO URL [VAR=VALUE...]
    local scenario=$1 url=$2
    shift 2
    echo "== $scenario ($url)"
    local live
    for live in "${LIVES[@]}"; do
        if ! env SSYNC_EMU_URL="$url" SSYNC_EMU_LAB="$LAB" SSYNC_EMU_SCENARIO="$scenario" \
            SSYNC_DATA="${SSYNC_DATA:-}" "$@" timeout 240 ${SSYNC_LIVE_WRAPPER:-} "$live"; then
            echo "FAILED: $scenario, ${live##*/} (emulator log: $TMP/$scenario.err)"
            tail -n 20 "$TMP/$scenario.err" || true
            FAILED=1
        fi
    done
}

# A server certificate from the right CA that names another host only.
openssl req -new -x509 -newkey rsa:2048 -nodes -keyout "$TMP/badname.key" \
    -out "$TMP/badname.pem" -subj "/CN=wrong.example" \
    -addext "subjectAltName=DNS:wrong.example" -CA "$LAB/tls/ca.pem" \
    -CAkey "$LAB/tls/ca.key" -days 2 >/dev/null 2>&1
EMU_CERT=$TMP/badname.pem EMU_KEY=$TMP/badname.key start_emu badname
BADNAME_URL=$URL

start_emu basic --page-size 7 --quiet --groups "$LAB/groups.csv"
run basic "$URL" SSYNC_EMU_URL_BADNAME="$BADNAME_URL"

start_emu fault_throttle_429 --quiet \
    --fault 'POST:userPfxCertificates:2=429' --fault 'POST:userPfxCertificates:4=429-retry:1'
run fault_throttle_429 "$URL"

start_emu fault_server_errors --quiet --fault 'GET:userPfxCertificates:1=500' \
    --fault 'GET:userPfxCertificates:2=503-retry:1' --fault 'GET:userPfxCertificates:3=504'
run fault_server_errors "$URL"

start_emu fault_gives_up --quiet --fault 'GET:userPfxCertificates:3:1=503'
run fault_gives_up "$URL"

start_emu fault_dropped_connections --quiet \
    --fault 'POST:userPfxCertificates:1=drop' --fault 'GET:userPfxCertificates:1=drop'
run fault_dropped_connections "$URL"

start_emu fault_commit_then_fail --quiet --fault 'POST:userPfxCertificates:1=commit-500' \
    --fault 'POST:userPfxCertificates:2=commit-drop' \
    --fault 'DELETE:userPfxCertificates:1=commit-500'
run fault_commit_then_fail "$URL"
# Writes reuse connections: the commit-drop POST died on a reused connection, where libcurl
# would resend it by itself. The emulator must have seen each POST exactly once (3 records,
# no duplicate create answered 409): the client read back instead.
STATS=$(curl -sS --cacert "$LAB/tls/ca.pem" "$URL/emu/stats")
POSTS=$(jq '.byRoute["POST userPfxCertificates"] // 0' <<<"$STATS")
CONFLICTS=$(jq '.byStatus["409"] // 0' <<<"$STATS")
if [[ $POSTS != 3 || $CONFLICTS != 0 ]]; then
    echo "FAILED: fault_commit_then_fail: the emulator saw $POSTS POSTs and $CONFLICTS 409s (want 3, 0)"
    FAILED=1
fi

start_emu fault_token_expiry --quiet --token-lifetime 2 \
    --fault 'GET:userPfxCertificates:2=expire'
run fault_token_expiry "$URL"

start_emu fault_delete_not_effective --quiet --fault 'DELETE:userPfxCertificates:1=noop'
run fault_delete_not_effective "$URL"

if ((FAILED)); then
    echo "test_graph_client: FAILED"
    exit 1
fi
echo "test_graph_client: all scenarios passed"
