#!/usr/bin/env bash
# remove and upload are writers too: while a sync holds the state lock (the emulator answers
# every POST slowly), `remove --no-wait` and `upload --no-wait` exit 5 at once and send nothing;
# without --no-wait each says it waits and runs after the sync. `remove --dry-run` never waits.
# A state directory that cannot hold the lock (read-only) is a clear error and nothing is sent.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 12 --kras 1 --unknown-users 0 --revoked 0 --seed 43 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet --fault 'POST:userPfxCertificates:1:1=delay:300' ||
    { not_ok "emulator started"; finish; exit 1; }
write_config lab sync.conf
printf '[intune]\nmax_in_flight = 1\n' >> sync.conf
wait_route() { # wait_route ROUTE N: until the emulator has seen N requests of ROUTE
    local _
    for _ in $(seq 1 200); do
        [ "$(route "$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
# one record made by export, for upload (its user is not one the sync below uploads first)
first_blob=$(ls lab/blobs | head -n 1)
mkdir -m 700 rec
"$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir rec "lab/blobs/$first_blob" > /dev/null
check "export wrote one record" test "$(ls rec | wc -l)" -eq 1
tp=$(basename "$(ls rec/*.json)" .json)

"$SSYNC_BIN" sync --config sync.conf --json > s1.json 2> s1.err &
p1=$!
check "the sync writes" wait_route "POST userPfxCertificates" 1
posts=$(route "POST userPfxCertificates")
deletes=$(route "DELETE userPfxCertificates")
"$SSYNC_BIN" remove --config sync.conf --thumbprint "$tp" --no-wait > r1.out 2> r1.err
check_eq "remove --no-wait while a sync writes: exit status 5" 5 "$?"
check "remove --no-wait: says who holds the lock" \
    grep -qE "^smimesync remove: another run holds the state lock: pid $p1 .*: nothing done$" r1.err
"$SSYNC_BIN" upload --config sync.conf --no-wait rec > u1.out 2> u1.err
check_eq "upload --no-wait while a sync writes: exit status 5" 5 "$?"
check "upload --no-wait: says who holds the lock" \
    grep -qE "^smimesync upload: another run holds the state lock: pid $p1 .*: nothing done$" u1.err
"$SSYNC_BIN" remove --config sync.conf --thumbprint "$tp" --dry-run > r0.out 2> r0.err
check_eq "remove --dry-run never waits for the lock" 0 "$?"
check "the sync still runs" kill -0 $p1
check_eq "no DELETE sent by the refused remove" "$deletes" "$(route "DELETE userPfxCertificates")"

# without --no-wait: both wait for the sync, then run
"$SSYNC_BIN" remove --config sync.conf --thumbprint "$tp" > r2.out 2> r2.err &
pr=$!
wait $p1
check_eq "sync: exit status 0" 0 "$?"
wait $pr
check_eq "the waiting remove: exit status 0" 0 "$?"
check "the waiting remove said it waits" \
    grep -qE "^smimesync remove: warning: another run \(pid $p1\) holds the state lock: waiting for it to end$" r2.err
check "the waiting remove removed the record after the sync" grep -q "^removed .*$tp" r2.out
"$SSYNC_BIN" sync --config sync.conf --json > s2.json 2> s2.err &
p2=$!
check "a second sync writes" wait_route "POST userPfxCertificates" $((posts + 1))
"$SSYNC_BIN" upload --config sync.conf rec > u2.out 2> u2.err
check_eq "the waiting upload: exit status 0" 0 "$?"
check "the waiting upload said it waits" \
    grep -qE "^smimesync upload: warning: another run \(pid $p2\) holds the state lock: waiting for it to end$" u2.err
check "the sync had ended when the upload ran" bash -c "! kill -0 $p2 2>/dev/null"
wait $p2

# a state directory where the lock cannot be created: a clear error, nothing sent (root writes
# into a directory it may not write: then a directory stands where the lock file would be)
mkdir ro && chmod 500 ro
[ "$(id -u)" = 0 ] && mkdir ro/state.db.lock
sed "s|^path = $T_TMP/state.db|path = $T_TMP/ro/state.db|" sync.conf > ro.conf
deletes=$(route "DELETE userPfxCertificates")
"$SSYNC_BIN" remove --config ro.conf --thumbprint "$tp" > r3.out 2> r3.err
check_eq "remove with a read-only state directory: exit status 1" 1 "$?"
check "remove: the error names the state path and the reason" \
    grep -qE "^smimesync remove: \[state\] path: .*ro/state.db.lock: (Is a directory|Permission denied)" r3.err
check_eq "remove: no DELETE sent" "$deletes" "$(route "DELETE userPfxCertificates")"
"$SSYNC_BIN" upload --config ro.conf rec > u3.out 2> u3.err
check_eq "upload with a read-only state directory: exit status 1" 1 "$?"
check "upload: the error names the state path" grep -q "\[state\] path: .*ro/state.db.lock" u3.err
chmod 700 ro
finish
