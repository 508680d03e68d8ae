#!/usr/bin/env bash
# A sync finishes what killed runs left in the journal: each unsettled operation (pending or
# ambiguous) is settled against Intune before the writes (an upload found there is done, one
# missing is planned again; a remove found gone is done), in a full run from the listing and in
# a targeted run by asking Graph; the report counts them as "resumed". After a kill -9 in the
# middle of the writes, the next sync uploads exactly what is missing and nothing twice.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 12 --kras 1 --unknown-users 0 --revoked 1 --seed 41 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab sync.conf
db=$T_TMP/state.db
m=lab/manifest.jsonl
n_up=$(jq -s '[.[] | select(.revoked | not)] | length' $m)
jq -r 'select(.revoked | not) | .thumbprint' $m | sort > want.txt
# item N (0-based) of the certificates to upload: "thumbprint upn file"
pick() { jq -r -s --argjson i "$1" '[.[] | select(.revoked | not)][$i] | "\(.thumbprint) \(.userPrincipalName) \(.file)"' $m; }
read -r tp_a upn_a file_a <<< "$(pick 0)"
read -r tp_b upn_b _ <<< "$(pick 1)"
read -r tp_c upn_c _ <<< "$(pick 2)"
read -r tp_r upn_r file_r <<< "$(jq -r 'select(.revoked) | "\(.thumbprint) \(.userPrincipalName) \(.file)"' $m)"

# A (to upload) and R (revoked, to remove) already landed in Intune, then the run was killed
"$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir landed "lab/$file_a" "lab/$file_r" > /dev/null 2>&1
check "A and R are in Intune" "$SSYNC_BIN" upload --config sync.conf landed
"$SSYNC_BIN" plan --config sync.conf > /dev/null 2>&1
check "plan creates the journal" test -f "$db"
op() { # action outcome upn thumbprint
    echo "INSERT INTO ops(run_id, action, outcome, upn, thumbprint, created, updated)
          VALUES(100, '$1', '$2', '$3', '$4', 1, 1);"
}
sqlite3 "$db" "INSERT INTO runs(id, command, started) VALUES(100, 'sync', 1);
    $(op upload pending "$upn_a" "$tp_a") $(op upload pending "$upn_b" "$tp_b")
    $(op upload ambiguous "$upn_c" "$tp_c") $(op remove pending "$upn_r" "$tp_r")
    $(op remove pending "$upn_b" "$tp_b")"
check_eq "journal: 5 unsettled operations" 5 \
    "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome IN ('pending','ambiguous')")"

posts0=$(route "POST userPfxCertificates")
"$SSYNC_BIN" sync --config sync.conf --json > sync1.json 2> sync1.err
check_eq "sync: exit status" 0 "$?"
check_eq "sync: 5 resumed" 5 "$(jq .outcomes.resumed sync1.json)"
check_eq "report file: 5 resumed" 5 "$(jq .outcomes.resumed reports/sync-*.json)"
check_contains "text report: resumed count" "5 resumed" "$(ls reports/sync-*.txt)"
state() { sqlite3 "$db" "SELECT outcome FROM ops WHERE run_id = 100 AND action = '$1' AND thumbprint = '$2'"; }
check_eq "upload found in Intune: settled done" done "$(state upload "$tp_a")"
check_eq "upload missing: settled not done" failed "$(state upload "$tp_b")"
check_eq "ambiguous upload missing: settled not done" failed "$(state upload "$tp_c")"
check_eq "remove still in Intune: settled not done" failed "$(state remove "$tp_r")"
check_eq "remove found gone: settled done" done "$(state remove "$tp_b")"
check_eq "journal: nothing unsettled" 0 \
    "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome IN ('pending','ambiguous')")"
check_eq "A is kept, not POSTed again" keep \
    "$(jq -r --arg t "$tp_a" '.items[] | select(.thumbprint == $t) | .action' sync1.json)"
check_eq "one POST per missing certificate" "$((n_up - 1))" \
    "$(($(route "POST userPfxCertificates") - posts0))"
check_eq "R is removed by this run's plan" "done" \
    "$(jq -r --arg t "$tp_r" '.items[] | select(.thumbprint == $t and .action == "remove") | .outcome' sync1.json)"
check_eq "Intune holds exactly the expected thumbprints" "$(cat want.txt)" \
    "$(emu records | jq -r '.records[].thumbprint' | sort)"

# a targeted run settles by asking Graph for each operation
sqlite3 "$db" "$(op upload pending "$upn_a" "$tp_a")
    $(op upload pending "$upn_a" 0000000000000000000000000000000000000000)"
"$SSYNC_BIN" sync --config sync.conf --user "$upn_a" --json > sync2.json 2> sync2.err
check_eq "targeted sync: exit status" 0 "$?"
check_eq "targeted sync: 2 resumed" 2 "$(jq .outcomes.resumed sync2.json)"
check_eq "targeted sync: settled [found, missing]" "done failed" \
    "$(sqlite3 "$db" "SELECT outcome FROM ops WHERE run_id = 100 AND id > 5 ORDER BY id" | xargs)"

# kill -9 in the middle of the writes (every POST answered slowly)
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
emu_start lab --quiet --fault 'POST:userPfxCertificates:1:1=delay:300' ||
    { not_ok "second emulator started"; finish; exit 1; }
write_config lab sync.conf
printf '[intune]\nmax_in_flight = 1\n' >> sync.conf
"$SSYNC_BIN" sync --config sync.conf > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
    [ "$(route "POST userPfxCertificates")" -ge 3 ] && break
    sleep 0.05
done
kill -KILL $pid
wait $pid 2> /dev/null
sleep 0.5 # the POST in flight ends on the emulator's side
pending=$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome = 'pending'")
landed=$(emu records | jq .count)
# the pipelined sync writes a chunk's intents just before sending it: every write sent has its
# pending intent, later ones have none yet (they are simply planned again)
check "killed sync: every write sent is still pending" test "$pending" -ge "$landed" -a \
    "$pending" -le "$n_up"
check "killed sync: some but not all records landed" test "$landed" -ge 2 -a "$landed" -lt "$n_up"
"$SSYNC_BIN" sync --config sync.conf --json > sync3.json 2> sync3.err
check_eq "sync after kill -9: exit status" 0 "$?"
check_eq "sync after kill -9: all pending ones resumed" "$pending" "$(jq .outcomes.resumed sync3.json)"
check_eq "sync after kill -9: the landed ones are kept" "$landed" "$(jq .counts.keep sync3.json)"
check_eq "Intune holds exactly the expected thumbprints" "$(cat want.txt)" \
    "$(emu records | jq -r '.records[].thumbprint' | sort)"
check_eq "no certificate POSTed twice" "$n_up" "$(route "POST userPfxCertificates")"
check_eq "journal: nothing unsettled" 0 \
    "$(sqlite3 "$db" "SELECT count(*) FROM ops WHERE outcome IN ('pending','ambiguous')")"
finish
