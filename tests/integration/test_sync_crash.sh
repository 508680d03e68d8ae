#!/usr/bin/env bash
# Crash safety: 20 sync runs killed (SIGKILL) at random points, then one run to completion. The
# final Intune state is exactly the intended one: no duplicate, no lost record, no record
# uploaded twice (one successful POST per record over all runs), and the journal is settled.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 120 --unknown-users 2 --revoked 6 --renewals 12 --seed 77 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
m=lab/manifest.jsonl
# Every request is slowed down so that kills land before, during and after requests, and so
# that even a run with little left to do lasts long enough to be killed.
# every write takes 0.4 s, one at a time: a run makes a few writes before it is killed (the
# client itself has no idle time to spare)
emu_start lab --quiet --fault 'POST:userPfxCertificates:1:1=delay:400' --fault 'DELETE:*:1:1=delay:400' \
    --fault 'GET:userPfxCertificates:1:1=delay:300' --write-limit off \
    || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started"
write_config lab sync.conf
sed -i 's/^\[intune\]/[intune]\nmax_in_flight = 1\nwrite_limit = off/' sync.conf
jq -r 'select(.userId != null and (.revoked | not)) | .thumbprint' $m | sort > want.txt
n_up=$(wc -l < want.txt)

# A revoked certificate already in Intune, so that removals are interrupted too.
rev_file=$(jq -r 'select(.userId != null and .revoked) | .file' $m | head -n 1)
check "export a revoked certificate" "$SSYNC_BIN" export --kra lab/kra.p12 \
    --kra-pass-file lab/kra.pass --connector-key lab/connector-public.rsa1blob --out-dir rev \
    "lab/$rev_file"
check "upload it" "$SSYNC_BIN" upload --config sync.conf rev
posts0=$(emu stats | jq -r '.byStatus["201"] // 0')

killed=0
for i in $(seq 1 20); do
    "$SSYNC_BIN" sync --config sync.conf --json > "run$i.json" 2> "run$i.err" &
    pid=$!
    # 0.5 .. 3.5 s: during recovery, user lookups, the listing, the writes or the journal
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.5 + (r % 301) / 100 }')"
    if kill -9 "$pid" 2> /dev/null; then killed=$((killed + 1)); fi
    wait "$pid" 2> /dev/null
    # the emulator finishes the killed run's write in flight (0.4 s) before the next run reads:
    # a request still being applied when the next run lists is the 409 case, which the client
    # also survives (409 = read back), but this test asserts that no POST ever met a record
    sleep 0.5
done
echo "# $killed of 20 runs were killed; Intune holds $(emu records | jq .count) records"
check "most runs were killed mid-way" test "$killed" -ge 15

"$SSYNC_BIN" sync --config sync.conf --json > final.json 2> final.err
check_eq "final run: exit status" 0 "$?"
check_eq "final run: nothing failed" 0 "$(jq .counts.failed final.json)"
check_eq "Intune holds exactly the intended records" "$(cat want.txt)" \
    "$(emu records | jq -r '.records[].thumbprint' | sort)"
check_eq "no duplicate (user, thumbprint)" 0 \
    "$(emu records | jq -r '.records[] | "\(.userPrincipalName | ascii_downcase) \(.thumbprint)"' | sort | uniq -d | wc -l)"
check_eq "every record was created once over all runs (no re-upload)" "$n_up" \
    "$(($(emu stats | jq -r '.byStatus["201"] // 0') - posts0))"
check_eq "no POST hit an existing record" 0 "$(emu stats | jq -r '.byStatus["409"] // 0')"
check_eq "the revoked record is gone" 0 \
    "$(emu records | jq --arg f "$(jq -r 'select(.userId != null and .revoked) | .thumbprint' $m | head -n 1)" '[.records[] | select(.thumbprint == $f)] | length')"
check_eq "journal: nothing left pending or ambiguous" 0 \
    "$(sqlite3 state.db "SELECT count(*) FROM ops WHERE outcome IN ('pending', 'ambiguous')")"
"$SSYNC_BIN" sync --config sync.conf --json > again.json 2> again.err
check_eq "one more run: nothing to do" "0 0 0" \
    "$(jq -r '"\(.counts.upload) \(.counts.remove) \(.counts.failed)"' again.json)"
finish
