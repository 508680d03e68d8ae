#!/usr/bin/env bash
# The sync engine against intune-emu: plan and sync upload exactly the certificates of known
# users that are not revoked, skip unknown users and revoked certificates, remove a revoked
# certificate that is in Intune, and a second sync makes no write. Every report count is checked
# against the lab's manifest.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 30 --kras 2 --unknown-users 2 --revoked 3 --seed 11 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab sync.conf

m=lab/manifest.jsonl
total=$(wc -l < $m)
n_known=$(jq -s '[.[] | select(.userId != null)] | length' $m)
n_unknown=$((total - n_known))
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' $m)
n_rev_known=$(jq -s '[.[] | select(.userId != null and .revoked)] | length' $m)
jq -r 'select(.userId != null and (.revoked | not)) | .thumbprint' $m | sort > want.txt
check "the lab has unknown users and revoked certificates" \
    test "$n_unknown" -ge 2 -a "$n_rev_known" -ge 1

# A revoked certificate of a known user is already in Intune: sync must remove it.
rev_file=$(jq -r 'select(.userId != null and .revoked) | .file' $m | head -n 1)
rev_tp=$(jq -r 'select(.userId != null and .revoked) | .thumbprint' $m | head -n 1)
check "export the revoked certificate" "$SSYNC_BIN" export --kra lab/kra.p12 \
    --kra-pass-file lab/kra.pass --connector-key lab/connector-public.rsa1blob --out-dir rev \
    "lab/$rev_file"
check "upload the revoked certificate" "$SSYNC_BIN" upload --config sync.conf rev

counts() { jq -c '[.counts.upload, .counts.remove, .counts.keep, .counts.skip, .counts.failed]' "$1"; }

"$SSYNC_BIN" plan --config sync.conf --json > plan.json 2> plan.err
check_eq "plan: exit status" 0 "$?"
check_eq "plan: one item per certificate" "$total" "$(jq '.items | length' plan.json)"
check_eq "plan: counts [upload, remove, keep, skip, failed]" \
    "[$n_up,1,0,$((n_unknown + n_rev_known - 1)),0]" "$(counts plan.json)"
check_eq "plan: uploads are the known users' certificates that are not revoked" \
    "$(cat want.txt)" "$(jq -r '.items[] | select(.action == "upload") | .thumbprint' plan.json | sort)"
check_eq "plan: the revoked certificate in Intune is removed" "$rev_tp" \
    "$(jq -r '.items[] | select(.action == "remove") | .thumbprint' plan.json)"
check_eq "plan: unknown users are skipped with the reason" "$n_unknown" \
    "$(jq '[.items[] | select(.action == "skip" and .reason == "user not found in Entra ID")] | length' plan.json)"
check_eq "plan: no outcome in a plan" "0" "$(jq '[.items[] | select(has("outcome"))] | length' plan.json)"
check_eq "plan wrote nothing" "1" "$(emu records | jq .count)"
"$SSYNC_BIN" plan --config sync.conf > plan.txt 2> /dev/null
check_contains "plan: table totals line" "plan: $n_up upload, 1 remove, 0 keep" plan.txt

posts0=$(route "POST userPfxCertificates")
"$SSYNC_BIN" sync --config sync.conf --json > sync1.json 2> sync1.err
check_eq "sync: exit status" 0 "$?"
check_eq "sync: counts [upload, remove, keep, skip, failed]" \
    "[$n_up,1,0,$((n_unknown + n_rev_known - 1)),0]" "$(counts sync1.json)"
check_eq "sync: every item done" "$total" \
    "$(jq '[.items[] | select(.outcome == "done")] | length' sync1.json)"
check_eq "sync: one POST per upload" "$n_up" "$(( $(route "POST userPfxCertificates") - posts0 ))"
check_eq "Intune holds exactly the expected records" "$n_up" "$(emu records | jq .count)"
check_eq "Intune holds exactly the expected thumbprints" "$(cat want.txt)" \
    "$(emu records | jq -r '.records[].thumbprint' | sort)"
check_eq "sync: one DELETE for the revoked certificate" 1 "$(route "DELETE userPfxCertificates")"
check_eq "journal: every write recorded as done" "$((n_up + 1))" \
    "$(sqlite3 "$T_TMP/state.db" "SELECT count(*) FROM ops WHERE outcome = 'done'")"
check_eq "journal: nothing pending" 0 \
    "$(sqlite3 "$T_TMP/state.db" "SELECT count(*) FROM ops WHERE outcome != 'done'")"

posts1=$(route "POST userPfxCertificates")
deletes1=$(route "DELETE userPfxCertificates")
"$SSYNC_BIN" sync --config sync.conf --json > sync2.json 2> sync2.err
check_eq "second sync: exit status" 0 "$?"
check_eq "second sync: counts [upload, remove, keep, skip, failed]" \
    "[0,0,$n_up,$((n_unknown + n_rev_known)),0]" "$(counts sync2.json)"
check_eq "second sync: no POST" "$posts1" "$(route "POST userPfxCertificates")"
check_eq "second sync: no DELETE" "$deletes1" "$(route "DELETE userPfxCertificates")"
check_eq "second sync: Intune unchanged" "$n_up" "$(emu records | jq .count)"

# No journal, no write: with an unusable [state] path nothing is uploaded and all count failed.
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
sed "s|^path = $T_TMP/state.db|path = $T_TMP/missing/dir/state.db|" sync.conf > nostate.conf
"$SSYNC_BIN" sync --config nostate.conf --json > nostate.json 2> nostate.err
check_eq "unusable journal: exit status" 1 "$?"
check_eq "unusable journal: counts [upload, remove, keep, skip, failed]" \
    "[0,0,0,$((n_unknown + n_rev_known)),$n_up]" "$(counts nostate.json)"
check_eq "unusable journal: nothing written" 0 "$(emu records | jq .count)"

# A source that is not what its type says is refused in words (the blob directory as a CA
# database).
sed 's/^type = blobs/type = edb/' sync.conf > edb.conf
"$SSYNC_BIN" plan --config edb.conf > /dev/null 2> edb.err
check_eq "edb source: exit status" 1 "$?"
check_contains "edb source: not a database" "not an ESE database" edb.err
"$SSYNC_BIN" sync > /dev/null 2>&1
check_eq "sync without --config: usage" 2 "$?"
finish
