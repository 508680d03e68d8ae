#!/usr/bin/env bash
# Ctrl-C during a sync: the emulator answers every POST slowly, SIGINT arrives mid-run. The run
# stops cleanly: exit 3 (some writes done), one "interrupted" line, the report written, every
# journal intent with an outcome (only the writes in flight may be "ambiguous"); a second sync
# finishes with exactly the expected records and no POST twice.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 24 --kras 1 --unknown-users 0 --revoked 0 --seed 23 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet --fault 'POST:userPfxCertificates:1:1=delay:250' ||
    { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab sync.conf
printf '[intune]\nmax_in_flight = 2\n' >> sync.conf
db=$T_TMP/state.db
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' lab/manifest.jsonl)
jq -r 'select(.userId != null and (.revoked | not)) | .thumbprint' lab/manifest.jsonl | sort > want.txt

"$SSYNC_BIN" sync --config sync.conf --json > sync1.json 2> sync1.err &
pid=$!
for _ in $(seq 1 200); do
    [ "$(route "POST userPfxCertificates")" -ge 4 ] && break
    sleep 0.05
done
kill -INT $pid
wait $pid
check_eq "interrupted sync: exit status 3 (some writes done)" 3 "$?"
check "interrupted sync: one 'interrupted' line" \
    grep -qE '^smimesync sync: interrupted: [0-9]+ of '"$n_up"' writes done; run sync again to finish$' sync1.err
done1=$(sed -n 's/.*interrupted: \([0-9]*\) of.*/\1/p' sync1.err)
check "interrupted sync: some but not all writes done" test "$done1" -ge 1 -a "$done1" -lt "$n_up"
check_eq "interrupted sync: stdout JSON says interrupted" true "$(jq .interrupted sync1.json)"
check_eq "interrupted sync: writes done in the JSON" "$done1" "$(jq .writes.done sync1.json)"
check "interrupted sync: cancelled items are failed" \
    test "$(jq '[.items[] | select(.cancelled and .outcome == "failed")] | length' sync1.json)" -ge 1
report=$(ls reports/sync-*.json 2> /dev/null | head -n 1)
check "interrupted sync: report written" test -n "$report"
check_eq "report: interrupted" true "$(jq .interrupted "$report")"
check_eq "report: done matches" "$done1" "$(jq .outcomes.done "$report")"
check "text report written" test -f "${report%.json}.txt"
check_eq "journal: no pending intent left" 0 \
    "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome = 'pending'")"
check "journal: at most the writes in flight are ambiguous" \
    test "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome = 'ambiguous'")" -le 2
check_eq "journal: the writes done are recorded done" "$done1" \
    "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome = 'done'")"
check_eq "journal: the run is closed" 0 \
    "$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE finished IS NULL")"

amb=$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome = 'ambiguous'")
sleep 0.6 # the abandoned POSTs finish on the emulator's side
"$SSYNC_BIN" sync --config sync.conf --json > sync2.json 2> sync2.err
check_eq "second sync: exit status" 0 "$?"
check_eq "second sync: not interrupted" false "$(jq .interrupted sync2.json)"
check_eq "second sync: the writes in flight are resumed" "$amb" "$(jq .outcomes.resumed sync2.json)"
check_eq "Intune holds exactly the expected thumbprints" "$(cat want.txt)" \
    "$(emu records | jq -r '.records[].thumbprint' | sort)"
check_eq "no certificate POSTed twice" "$n_up" "$(route "POST userPfxCertificates")"
check_eq "journal: nothing unsettled" 0 \
    "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome IN ('pending','ambiguous')")"

# SIGTERM (systemd's stop) before any write: exit 1, nothing pending.
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
posts=$(route "POST userPfxCertificates")
"$SSYNC_BIN" sync --config sync.conf --json > sync3.json 2> sync3.err &
pid=$!
for _ in $(seq 1 200); do
    [ "$(route "POST userPfxCertificates")" -gt "$posts" ] && break
    sleep 0.02
done
kill -TERM $pid
wait $pid
rc=$?
check "SIGTERM: exit 3 or 1" test "$rc" -eq 3 -o "$rc" -eq 1
check_contains "SIGTERM: interrupted line" "run sync again to finish" sync3.err
check_eq "SIGTERM: no pending intent left" 0 \
    "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome = 'pending'")"
finish
