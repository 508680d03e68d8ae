#!/usr/bin/env bash
# smimesync watch against intune-emu: blobs dropped into the source directory while watch runs
# (written in place, renamed into it, one written slowly in two parts) are each synced alone as
# a targeted run and end up in Intune; a name without a request id is left alone with a
# warning; SIGTERM stops watch cleanly with status 0.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 6 --kras 1 --revoked 0 --expired 0 --renewals 0 --seed 71 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab watch.conf
mkdir incoming
sed -i "s|^path = lab/blobs|path = $T_TMP/incoming|" watch.conf
check_contains "config points at the watched directory" "path = $T_TMP/incoming" watch.conf
records() { curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" | jq -r '.count'; }
blob() { jq -r "select(.userPrincipalName != null) | .file" lab/manifest.jsonl | sed -n "${1}p"; }
tp() { jq -r "select(.file == \"$(blob "$1")\") | .thumbprint" lab/manifest.jsonl; }

# A blob already there when watch starts is not watch's business (the timer's full sync is).
cp "lab/$(blob 6)" incoming/106.rsp

"$SSYNC_BIN" watch --config watch.conf --settle 0.3 > watch.out 2> watch.err &
W=$!
T_CLEANUP+=("kill $W 2>/dev/null")
for _ in $(seq 1 50); do grep -q "watching" watch.err && break; sleep 0.1; done
check_contains "watch started" "watching $T_TMP/incoming" watch.err

cp "lab/$(blob 1)" incoming/101.rsp                        # written in place
cp "lab/$(blob 2)" incoming/.102.part && mv incoming/.102.part incoming/102.rsp # renamed in
echo "not a blob" > incoming/notes.txt
# written in two parts with a pause longer than --settle: only the close counts
f="lab/$(blob 3)"
half=$(($(stat -c %s "$f") / 2))
{
    head -c "$half" "$f"
    sleep 1.5
    tail -c +"$((half + 1))" "$f"
} > incoming/103.rsp

for _ in $(seq 1 150); do
    [ "$(records)" = 3 ] && grep -q "request id 103 ended" watch.err && break
    sleep 0.2
done
check_eq "the three arrivals are in Intune" 3 "$(records)"
for n in 1 2 3; do
    check_contains "request id 10$n synced alone" "syncing request id 10$n" watch.err
    check_contains "request id 10$n: sync succeeded" "request id 10$n ended with exit status 0" watch.err
done
curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" > records.json
for n in 1 2 3; do
    check_contains "certificate of blob 10$n uploaded" "$(tp $n)" records.json
done
check "the blob present before watch started was not synced" \
    bash -c "! grep -q '$(tp 6)' records.json"
check_contains "a name without a request id is left for the full sync" \
    "notes.txt: the file name does not start with the CA request id" watch.err
check "no partial read of the slowly written blob" bash -c "! grep -qi 'failed\|error' watch.err"

# Each arrival ran the sync code path: one sync report per arrival in the state directory.
check_eq "one sync report per arrival" 3 "$(ls reports/sync-*.json 2> /dev/null | wc -l)"

# A later arrival after the first batch is still picked up.
cp "lab/$(blob 4)" incoming/104.rsp
for _ in $(seq 1 100); do
    [ "$(records)" = 4 ] && grep -q "request id 104 ended" watch.err && break
    sleep 0.2
done
check_eq "a later arrival is synced too" 4 "$(records)"

kill -TERM $W
status=0
wait $W || status=$?
check_eq "SIGTERM stops watch with status 0" 0 "$status"
check_contains "watch says why it stopped" "stopped by signal 15" watch.err

# Bad input: a source that is not a blob directory, a missing directory.
sed 's|^type = blobs|type = pfx|' watch.conf > pfx.conf
"$SSYNC_BIN" watch --config pfx.conf > /dev/null 2> pfx.err
check_eq "a pfx source is refused" 1 "$?"
check_contains "the refusal names the reason" "watch needs [source] type = blobs" pfx.err
sed "s|^path = $T_TMP/incoming|path = $T_TMP/nowhere|" watch.conf > gone.conf
"$SSYNC_BIN" watch --config gone.conf > /dev/null 2> gone.err
check_eq "a missing directory is refused" 1 "$?"
check_contains "the error names the directory" "$T_TMP/nowhere" gone.err
"$SSYNC_BIN" watch --config watch.conf --settle x > /dev/null 2> usage.err
check_eq "a bad --settle is a usage error" 2 "$?"
finish
