#!/usr/bin/env bash
# Issue 18 #9: watch used to keep at most 256 names per settle window and drop the rest without
# a word, and any event (even writes to a hidden file) restarted the settle time, so a stream of
# writes postponed every sync. Now: 300 arrivals in one window are all synced; writes to a
# hidden file and to a name already pending do not postpone the sync.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 5 --kras 1 --revoked 0 --expired 0 --renewals 0 --seed 97 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab watch.conf
mkdir incoming staging
sed -i "s|^path = lab/blobs|path = $T_TMP/incoming|" watch.conf
records() { curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" | jq -r '.count'; }
mapfile -t files < <(jq -r "select(.userPrincipalName != null) | .file" lab/manifest.jsonl)
check_eq "five user blobs" 5 "${#files[@]}"

# 1. a stream of writes to a hidden file does not postpone the sync of a new blob
"$SSYNC_BIN" watch --config watch.conf --settle 1 > w1.out 2> w1.err &
W=$!
T_CLEANUP+=("kill $W 2>/dev/null")
for _ in $(seq 1 50); do grep -q "watching" w1.err && break; sleep 0.1; done
check_contains "watch started" "watching $T_TMP/incoming" w1.err
(while :; do echo x >> incoming/.noise; sleep 0.05; done) &
N=$!
T_CLEANUP+=("kill $N 2>/dev/null")
cp "lab/${files[0]}" incoming/5000.rsp
for _ in $(seq 1 100); do grep -q "request id 5000 ended" w1.err && break; sleep 0.1; done
check_contains "synced while a hidden file is written every 50 ms" \
    "request id 5000 ended with exit status 0" w1.err
kill $N
wait $N 2> /dev/null
kill -TERM $W
wait $W
check_eq "watch stopped" 0 "$?"

# 2. 300 arrivals in one settle window: every one is synced (the five certificates cycle)
"$SSYNC_BIN" watch --config watch.conf --settle 3 > w2.out 2> w2.err &
W=$!
T_CLEANUP+=("kill $W 2>/dev/null")
for _ in $(seq 1 50); do grep -q "watching" w2.err && break; sleep 0.1; done
check_contains "watch started again" "watching $T_TMP/incoming" w2.err
for i in $(seq 0 299); do cp "lab/${files[$((i % 5))]}" "staging/$((1000 + i)).rsp"; done
start=$(date +%s)
mv staging/*.rsp incoming/ # 300 renames in well under the settle time
check_eq "the 300 arrived within the settle time" 1 "$(($(date +%s) - start < 3))"
for _ in $(seq 1 1200); do
    [ "$(grep -c 'ended with exit status' w2.err)" -ge 300 ] && break
    sleep 0.5
done
check_eq "300 syncs ran" 300 "$(grep -c 'ended with exit status' w2.err)"
check_eq "each ended with status 0" 300 "$(grep -c 'ended with exit status 0' w2.err)"
missing=0
for i in $(seq 1000 1299); do grep -q "syncing request id $i\$" w2.err || missing=$((missing + 1)); done
check_eq "every request id 1000-1299 was synced" 0 "$missing"
check_eq "the five certificates are in Intune" 5 "$(records)"
kill -TERM $W
wait $W
check_eq "watch stopped" 0 "$?"
finish
