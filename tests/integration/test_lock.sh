#!/usr/bin/env bash
# One writer at a time: while a sync writes (the emulator answers every POST slowly), a second
# sync with --no-wait exits 5 at once and writes nothing; a second sync without it says it waits,
# starts after the first, and finds nothing left to do. Every record is POSTed once, no 409. A
# sync killed with SIGKILL leaves no stale lock. plan never waits.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 16 --kras 1 --unknown-users 0 --revoked 0 --seed 41 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet --fault 'POST:userPfxCertificates:1:1=delay:300' ||
    { not_ok "emulator started"; finish; exit 1; }
write_config lab sync.conf
printf '[intune]\nmax_in_flight = 1\n' >> sync.conf
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' lab/manifest.jsonl)
started_writing() {
    local _
    for _ in $(seq 1 200); do
        [ "$(route "POST userPfxCertificates")" -ge 1 ] && return 0
        sleep 0.05
    done
    return 1
}

"$SSYNC_BIN" sync --config sync.conf --json > s1.json 2> s1.err &
p1=$!
check "first sync writes" started_writing
"$SSYNC_BIN" sync --config sync.conf --no-wait --json > s2.json 2> s2.err
check_eq "--no-wait while another run writes: exit status 5" 5 "$?"
check "--no-wait: says who holds the lock" \
    grep -qE "^smimesync sync: another run holds the state lock: pid $p1 \(.*state.db.lock\): nothing done$" s2.err
check "--no-wait: the first run is still writing" kill -0 $p1
"$SSYNC_BIN" plan --config sync.conf --json > p.json 2> p.err
check_eq "plan never waits for the lock" 0 "$?"

"$SSYNC_BIN" sync --config sync.conf --json > s3.json 2> s3.err &
p3=$!
wait $p1
check_eq "first sync: exit status 0" 0 "$?"
wait $p3
check_eq "waiting sync: exit status 0" 0 "$?"
check "waiting sync: said it waits" \
    grep -qE "^smimesync sync: warning: another run \(pid $p1\) holds the state lock: waiting for it to end$" s3.err
check_eq "waiting sync: nothing left to write" 0 "$(jq .writes.planned s3.json)"
check_eq "first sync: every record written" "$n_up" "$(jq .writes.done s1.json)"
check_eq "no record POSTed twice" "$n_up" "$(route "POST userPfxCertificates")"
check_eq "no 409" 0 "$(emu stats | jq '[.byStatus["409"] // 0] | add')"

# a killed run leaves no stale lock (Intune emptied, so that the run has writes to make)
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
"$SSYNC_BIN" sync --config sync.conf --json > s4.json 2> s4.err &
p4=$!
for _ in $(seq 1 100); do
    [ "$(cat state.db.lock 2> /dev/null)" = "$p4" ] && break
    sleep 0.05
done
check_eq "the lock file names the run holding it" "$p4" "$(cat state.db.lock 2> /dev/null)"
kill -KILL $p4
wait $p4 2> /dev/null
"$SSYNC_BIN" sync --config sync.conf --no-wait --json > s5.json 2> s5.err
check_eq "after a run killed with SIGKILL the lock is free: exit 0" 0 "$?"
check_eq "the lock file is 0600" 600 "$(stat -c %a state.db.lock)"
finish
