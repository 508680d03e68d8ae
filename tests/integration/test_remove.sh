#!/usr/bin/env bash
# smimesync remove against intune-emu: --thumbprint and --user delete exactly their records
# (checked on the emulator's own store), --dry-run deletes nothing, each delete has an intent and
# an outcome in the journal, a certificate still in the source gets the re-upload warning, and a
# delete that does not take (the emulator's 'noop' fault) fails with its request id.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 6 --renewals 2 --revoked 0 --expired 0 --seed 31 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab s.conf
has() { emu records | jq --arg t "$1" '[.records[] | select(.thumbprint == $t)] | length'; }
n_of() { emu records | jq --arg u "$1" '[.records[] | select(.userPrincipalName == $u)] | length'; }
journal() { sqlite3 "$T_TMP/state.db" "$1"; }
rm_() { "$SSYNC_BIN" remove --config s.conf "$@"; }

"$SSYNC_BIN" sync --config s.conf > /dev/null 2>&1
check_eq "sync: exit status" 0 "$?"
total=$(emu records | jq .count)
m=lab/manifest.jsonl
# a user with several certificates, and two users with one each
multi=$(jq -rs 'group_by(.userPrincipalName) | map(select(length > 1))[0][0].userPrincipalName' $m)
single=($(jq -rs --arg m "$multi" 'group_by(.userPrincipalName) | map(select(length == 1 and .[0].userPrincipalName != $m)) | .[][0].userPrincipalName' $m))
a=${single[0]} b=${single[1]} c=${single[2]}
tp_a=$(jq -r --arg u "$a" 'select(.userPrincipalName == $u) | .thumbprint' $m)
n_multi=$(n_of "$multi")
check "the lab has a user with several records" test "$n_multi" -ge 2

# 1. --thumbprint (colons and upper case accepted)
tp_colons=$(echo "$tp_a" | tr a-f A-F | sed 's/../&:/g; s/:$//')
rm_ --thumbprint "$tp_colons" --json > r1.json 2> r1.err
check_eq "--thumbprint: exit 0" 0 "$?"
check_eq "--thumbprint: reported removed" "removed $tp_a" \
    "$(jq -r '.items[] | "\(.outcome) \(.thumbprint)"' r1.json)"
check_eq "--thumbprint: gone from the emulator" 0 "$(has "$tp_a")"
check_eq "--thumbprint: nothing else touched" "$((total - 1))" "$(emu records | jq .count)"
check_contains "--thumbprint: warns that the next sync uploads it again" \
    "the next sync will upload it again" r1.err
check_eq "journal: one remove intent with its outcome" "done|204" \
    "$(journal "SELECT outcome || '|' || http_status FROM ops WHERE action = 'remove' AND thumbprint = '$tp_a'")"
check_eq "journal: the outcome has the request id" 1 \
    "$(journal "SELECT count(*) FROM ops WHERE action = 'remove' AND thumbprint = '$tp_a' AND length(request_id) = 36")"

# 2. --dry-run removes nothing and writes no journal entry
ops0=$(journal "SELECT count(*) FROM ops")
rm_ --user "$b" --dry-run > r2.txt 2> r2.err
check_eq "--dry-run: exit 0" 0 "$?"
check_contains "--dry-run: says what it would do" "would remove" r2.txt
check_eq "--dry-run: the record is still there" 1 "$(n_of "$b")"
check_eq "--dry-run: no journal entry" "$ops0" "$(journal "SELECT count(*) FROM ops")"

# 3. --user removes every record of the user, and only those
rm_ --user "$multi" > r3.txt 2> r3.err
check_eq "--user: exit 0" 0 "$?"
check_contains "--user: totals" "remove: $n_multi removed, 0 failed" r3.txt
check_eq "--user: the user has no record left" 0 "$(n_of "$multi")"
check_eq "--user: the others are untouched" "$((total - 1 - n_multi))" "$(emu records | jq .count)"
check_eq "journal: one done remove per record" "$n_multi" \
    "$(journal "SELECT count(*) FROM ops WHERE action = 'remove' AND upn = '$multi' AND outcome = 'done'")"

# 4. nothing to remove
rm_ --thumbprint "$tp_a" > r4.txt 2> r4.err
check_eq "nothing to remove: exit 0" 0 "$?"
check_contains "nothing to remove: said" "nothing to remove" r4.txt
check_contains "nothing to remove: the thumbprint is named" "no record with thumbprint $tp_a" r4.err

# 5. usage errors
rm_ > /dev/null 2>&1
check_eq "neither --user nor --thumbprint: exit 2" 2 "$?"
rm_ --thumbprint 1234 > /dev/null 2> r5.err
check_eq "bad thumbprint: exit 2" 2 "$?"
check_contains "bad thumbprint: said" "not a SHA-1 thumbprint" r5.err

# 6. deletes that do not take: a fresh emulator answers 204 to every other DELETE but keeps the
# record (noop); the failure names the Graph request id and the journal records it
kill "$EMU_PID" 2> /dev/null
wait "$EMU_PID" 2> /dev/null
emu_start lab --quiet --fault 'DELETE:userPfxCertificates:1:2=noop' || { not_ok "emulator restarted"; finish; exit 1; }
write_config lab f.conf
"$SSYNC_BIN" sync --config f.conf > /dev/null 2>&1
check_eq "sync into the second emulator" 0 "$?"
"$SSYNC_BIN" remove --config f.conf --thumbprint "$tp_a" > r6.txt 2> r6.err
check_eq "failed delete: exit 1" 1 "$?"
check_contains "failed delete: the reason" "the record remains" r6.err
check_contains "failed delete: the request id" "request-id" r6.err
check_contains "failed delete: reported" "remove: 0 removed, 1 failed" r6.txt
check_eq "failed delete: the record is still there" 1 "$(has "$tp_a")"
check_eq "journal: the failed outcome with its request id" 1 \
    "$(journal "SELECT count(*) FROM ops WHERE action = 'remove' AND thumbprint = '$tp_a' AND outcome = 'failed' AND length(request_id) = 36")"
check_eq "journal: the failure's reason" 1 \
    "$(journal "SELECT count(*) FROM ops WHERE action = 'remove' AND thumbprint = '$tp_a' AND outcome = 'failed' AND error LIKE '%remains%'")"
"$SSYNC_BIN" remove --config f.conf --user "$multi" --json > r7.json 2> r7.err
check_eq "some deletes fail: exit 3" 3 "$?"
check_eq "some deletes fail: counts" "true" \
    "$(jq '.counts.removed >= 1 and .counts.failed >= 1' r7.json)"
check_eq "some deletes fail: each failure has its request id" \
    "$(jq '.counts.failed' r7.json)" \
    "$(jq '[.items[] | select(.outcome == "failed" and (.requestId | length) == 36)] | length' r7.json)"
finish
