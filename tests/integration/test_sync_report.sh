#!/usr/bin/env bash
# What a sync leaves behind and prints: the per-run reports next to the journal (text and JSON,
# mode 0640) and the --report copy, failed items with their reason and Graph request-id, Graph
# figures, JSON log lines, --quiet, the progress bar only on a terminal, and bad option values.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 10 --kras 1 --unknown-users 1 --revoked 2 --seed 31 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
# the first DELETE does not take: the remove of the revoked certificate fails
emu_start lab --quiet --fault 'DELETE:userPfxCertificates:1:1=noop' ||
    { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab sync.conf
m=lab/manifest.jsonl
total=$(wc -l < $m)
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' $m)
rev_file=$(jq -r 'select(.userId != null and .revoked) | .file' $m | head -n 1)
rev_tp=$(jq -r 'select(.userId != null and .revoked) | .thumbprint' $m | head -n 1)
"$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir rev "lab/$rev_file" > /dev/null
check "the revoked certificate is in Intune" "$SSYNC_BIN" upload --config sync.conf rev

# plan: --report in both formats, no report directory
"$SSYNC_BIN" plan --config sync.conf --json --report plan.json > plan.out 2> plan.err
check_eq "plan: exit status" 0 "$?"
check_eq "plan --report FILE.json: same counts as stdout" "$(jq -c .counts plan.out)" \
    "$(jq -c .counts plan.json)"
check_eq "plan report: no outcomes" null "$(jq -c .outcomes plan.json)"
"$SSYNC_BIN" plan --config sync.conf --report plan.txt > /dev/null 2>&1
check_contains "plan --report FILE: text" "smimesync plan report" plan.txt
check "plan writes no report directory" test ! -e reports

# sync: one failure, reports, JSON logs
"$SSYNC_BIN" sync --config sync.conf --json --report extra.json --log-format json -v \
    > sync.json 2> sync.err
check_eq "sync with a failed remove: exit status 3" 3 "$?"
check_eq "sync: stdout keeps counts [upload, remove, keep, skip, failed]" \
    "[$n_up,0,0,$((total - n_up - 1)),1]" \
    "$(jq -c '[.counts.upload, .counts.remove, .counts.keep, .counts.skip, .counts.failed]' sync.json)"
check_eq "sync: every upload has Graph's request-id" "$n_up" \
    "$(jq '[.items[] | select(.action == "upload" and (.requestId | length) > 0)] | length' sync.json)"
check_eq "sync: the failed remove has its request-id" 1 \
    "$(jq --arg t "$rev_tp" '[.items[] | select(.thumbprint == $t and .outcome == "failed" and (.requestId | length) > 0)] | length' sync.json)"
txt=$(ls reports/sync-*-*T*Z.txt 2> /dev/null)
json=$(ls reports/sync-*-*T*Z.json 2> /dev/null)
check "run reports written next to the journal" test -f "$txt" -a -f "$json"
run_id=$(sqlite3 state.db "SELECT max(id) FROM runs")
check "report name carries the run id" test "${json#reports/sync-$run_id-}" != "$json"
check_eq "report files are mode 0640" "640 640" "$(stat -c %a "$txt") $(stat -c %a "$json")"
check "--report FILE is the same JSON" cmp -s extra.json "$json"
check_eq "report: command, run id, config" "sync $run_id $T_TMP/sync.conf" \
    "$(jq -r '"\(.command) \(.runId) \(.config)"' "$json")"
check "report: start and end times" \
    test "$(jq -r '.started + " " + .ended' "$json" | grep -cE '^[0-9T:-]+Z [0-9T:-]+Z$')" -eq 1
check_eq "report: outcomes [done, failed, skipped, resumed]" \
    "[$n_up,1,$((total - n_up - 1)),0]" \
    "$(jq -c '[.outcomes.done, .outcomes.failed, .outcomes.skipped, .outcomes.resumed]' "$json")"
check "report: Graph figures" test "$(jq '.graph.requests > 0 and .graph.writes >= '"$n_up" "$json")" = true
check_contains "text report: the failed item" "remove $rev_tp" "$txt"
check "text report: the failure's request-id" grep -qE "^  remove $rev_tp .*\(request-id [0-9a-f-]{36}\)$" "$txt"
check_contains "text report: outcomes line" "outcomes:    $n_up done, 1 failed" "$txt"
check_contains "text report: Graph line" "graph:" "$txt"
check "JSON logs: every stderr line is a JSON object" \
    jq -e -s 'length > 0 and all(.[]; (.time | test("Z$")) and .command == "sync" and (.level | IN("error","warning","info","debug")) and (.message | type) == "string")' sync.err
check "JSON logs: the failure is an error line" \
    jq -e -s 'any(.[]; .level == "error" and (.message | contains("'"$rev_tp"'")))' sync.err
check "no secret in logs or reports" sh -c "! grep -qF \"\$(cat lab/client-secret)\" sync.err $json $txt"

# quiet, progress
"$SSYNC_BIN" sync --config sync.conf -q > quiet.out 2> quiet.err
check_eq "quiet sync: exit status (the remove fails again)" 3 "$?"
check "quiet sync: only the error line on stderr" \
    test "$(grep -vc 'remove' quiet.err)" -eq 0
check "no progress bar when stderr is not a terminal" sh -c "! grep -q \$'\\r' quiet.err sync.err"
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
if command -v script > /dev/null; then
    script -qfec "$SSYNC_BIN sync --config sync.conf > tty.out" tty.log > /dev/null 2>&1
    check "progress bar on a terminal" grep -qE 'write \[[#.]+\] [0-9]+/[0-9]+ [0-9.]+/s ETA' tty.log
    check "progress bar erased" grep -qF $'\r\033[K' tty.log
    script -qfec "$SSYNC_BIN sync --config sync.conf --no-progress > tty2.out" tty2.log > /dev/null 2>&1
    check "--no-progress: no bar" sh -c "! grep -q 'ETA' tty2.log"
else
    ok "progress on a terminal: skipped (no script(1))"
fi

# option values
for bad in "--request-id 12x" "--serial xyz" "--log-format yaml" "--user"; do
    "$SSYNC_BIN" sync --config sync.conf $bad > /dev/null 2> bad.err
    check_eq "sync $bad: usage" 2 "$?"
done
"$SSYNC_BIN" plan --config sync.conf --report /nonexistent/dir/r.json > /dev/null 2> badrep.err
check_contains "unwritable --report: one line naming it" "--report" badrep.err
finish
