#!/usr/bin/env bash
# Desired-state selection against intune-emu: users found through the SAN UPN, the user_map,
# mail and proxyAddresses; mail-mismatch warnings; a deny list; a template filter that excludes
# everything (and removes nothing); the user cache (a second sync asks the directory nothing);
# a targeted run by serial that reads only its user's certificates.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 12 --unknown-users 3 --revoked 0 --renewals 0 --expired 0 \
    --seed 21 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
m=lab/manifest.jsonl
total=$(wc -l < $m)
check_eq "the lab has 3 unknown users" 3 "$(jq -s '[.[] | select(.userId == null)] | length' $m)"
check "the lab has a mail mismatch" test "$(jq -s '[.[] | select(.mailMismatch)] | length' $m)" -ge 1

# The unknown holders become known in three ways the SAN UPN lookup cannot see.
unknown=($(jq -r 'select(.userId == null) | .mail' $m))
by_mail=${unknown[0]} by_proxy=${unknown[1]} by_map=${unknown[2]}
uuid() { cat /proc/sys/kernel/random/uuid; }
{
    echo "userPrincipalName,id,mail,proxyAddresses"
    tail -n +2 lab/users.csv
    echo "renamed.one@lab.example,$(uuid),$by_mail,"
    echo "renamed.two@lab.example,$(uuid),renamed.two@lab.example,smtp:$by_proxy"
    echo "mapped.three@lab.example,$(uuid),mapped.three@lab.example,"
} > users.csv
cp users.csv lab/users.csv
printf '# certificate identity,userPrincipalName\n"%s",Mapped.Three@lab.example\n' \
    "$(echo "$by_map" | tr a-z A-Z)" > user-map.csv
denied=$(jq -r 'select(.userId != null and (.mailMismatch | not)) | .userPrincipalName' $m | head -n 1)
printf '# never these\n\n%s\n' "$(echo "$denied" | tr a-z A-Z)" > deny.txt

# group G holds one user directly, another and the user found by mail through nested group H
G=6a0c9e55-0000-4000-8000-00000000000a H=6a0c9e55-0000-4000-8000-00000000000b
known=($(jq -r 'select(.userId != null) | .userPrincipalName' $m))
member_a=${known[1]} member_b=${known[2]}
printf 'groupId,member\n%s,%s\n%s,%s\n%s,%s\n%s,renamed.one@lab.example\n' \
    "$G" "$member_a" "$G" "$H" "$H" "$member_b" "$H" > groups.csv

emu_start lab --strict --groups groups.csv || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab base.conf
# base.conf plus extra [source] lines
conf() {
    local out=$1
    shift
    { sed -n '1,/^\[kra\]/p' base.conf | sed '$d'; printf '%s\n' "$@"; sed -n '/^\[kra\]/,$p' base.conf; } > "$out"
}
conf sel.conf "user_map = $T_TMP/user-map.csv" "users_deny = $T_TMP/deny.txt"
item() { jq -r --arg f "$2" --arg k "$3" '.items[] | select(.file | endswith($f)) | .[$k] // ""' "$1"; }
file_of() { jq -r --arg u "$1" 'select(.mail == $u) | .file' $m | sed 's|^blobs/||'; }

"$SSYNC_BIN" plan --config sel.conf --json > plan.json 2> plan.err
check_eq "plan: exit status" 0 "$?"
check_eq "plan: one item per certificate" "$total" "$(jq '.items | length' plan.json)"
check_eq "plan: found by mail" "upload renamed.one@lab.example" \
    "$(item plan.json "$(file_of "$by_mail")" action) $(item plan.json "$(file_of "$by_mail")" userPrincipalName)"
check_eq "plan: found by proxyAddresses" "upload renamed.two@lab.example" \
    "$(item plan.json "$(file_of "$by_proxy")" action) $(item plan.json "$(file_of "$by_proxy")" userPrincipalName)"
check_eq "plan: found through the user_map" "upload mapped.three@lab.example" \
    "$(item plan.json "$(file_of "$by_map")" action) $(item plan.json "$(file_of "$by_map")" userPrincipalName)"
check_contains "plan: the mapped user's mail differs: warning" \
    "no SAN e-mail equals the user's mail mapped.three@lab.example" plan.json
mm_file=$(jq -r 'select(.mailMismatch) | .file' $m | head -n 1 | sed 's|^blobs/||')
mm_dir=$(jq -r 'select(.mailMismatch) | .directoryMail' $m | head -n 1)
check_eq "plan: the lab's mail mismatch is warned about" \
    "no SAN e-mail equals the user's mail $mm_dir: Outlook mobile will not use this certificate" \
    "$(item plan.json "$mm_file" warning)"
# the lab's mismatches, the mapped user, and the user found by an alias (its mail is another)
check_eq "plan: warnings are exactly the mismatches" \
    "$(( $(jq -s '[.[] | select(.mailMismatch)] | length' $m) + 2 ))" "$(jq '.warnings | length' plan.json)"
den_file=$(jq -r --arg u "$denied" 'select(.userPrincipalName == $u) | .file' $m | sed 's|^blobs/||')
check_eq "plan: the denied user is skipped" "skip user on users_deny" \
    "$(item plan.json "$den_file" action) $(item plan.json "$den_file" reason)"
check_eq "plan: counts [upload, remove, keep, skip, failed]" "[$((total - 1)),0,0,1,0]" \
    "$(jq -c '[.counts.upload, .counts.remove, .counts.keep, .counts.skip, .counts.failed]' plan.json)"

# sync, then an immediate second sync: the cache answers every lookup (no $batch)
"$SSYNC_BIN" sync --config sel.conf --json > sync1.json 2> sync1.err
check_eq "sync: exit status" 0 "$?"
check_eq "sync: Intune holds every certificate but the denied one" "$((total - 1))" \
    "$(emu records | jq .count)"
check_eq "journal: lookups cached" 1 \
    "$(sqlite3 state.db "SELECT count(*) > 0 FROM user_cache WHERE kind = 'mail'")"
batch0=$(route 'POST $batch')
"$SSYNC_BIN" sync --config sel.conf --json > sync2.json 2> sync2.err
check_eq "second sync: exit status" 0 "$?"
check_eq "second sync: keeps everything" "[0,0,$((total - 1)),1,0]" \
    "$(jq -c '[.counts.upload, .counts.remove, .counts.keep, .counts.skip, .counts.failed]' sync2.json)"
# a cached mapping whose user has none of the certificate's e-mails (here: the user found
# through proxyAddresses) is looked up afresh (issue 18 #3): its three phases, nothing else
check_eq "second sync: no directory lookup but the proxyAddresses user's" "$((batch0 + 3))" \
    "$(route 'POST $batch')"
check_eq "second sync: still found through the user_map (cached)" "mapped.three@lab.example" \
    "$(item sync2.json "$(file_of "$by_map")" userPrincipalName)"

# A filter that excludes everything leaves Intune alone: nothing is removed.
conf none.conf "templates = 1.2.3.4, NoSuchTemplate"
"$SSYNC_BIN" sync --config none.conf --json > none.json 2> none.err
check_eq "template filter: exit status" 0 "$?"
check_eq "template filter: everything skipped" "[0,0,0,$total,0]" \
    "$(jq -c '[.counts.upload, .counts.remove, .counts.keep, .counts.skip, .counts.failed]' none.json)"
check_eq "template filter: the reason names the filter" "$total" \
    "$(jq '[.items[] | select(.reason | test("^template [0-9.]+ not in \\[source\\] templates$"))] | length' none.json)"
check_eq "template filter: Intune unchanged" "$((total - 1))" "$(emu records | jq .count)"

# A group: only its (transitive) members are in scope; the others are left alone in Intune.
conf group.conf "group = $G"
"$SSYNC_BIN" sync --config group.conf --json > group.json 2> group.err
check_eq "group: exit status" 0 "$?"
check_eq "group: members kept" \
    "$(printf '%s\n' "$member_a" "$member_b" renamed.one@lab.example | sort | paste -sd' ')" \
    "$(jq -r '.items[] | select(.action == "keep") | .userPrincipalName' group.json | sort | paste -sd' ')"
check_eq "group: the others skipped as non-members" "$((total - 4))" \
    "$(jq --arg r "not a member of group $G" '[.items[] | select(.action == "skip" and .reason == $r)] | length' group.json)"
check_eq "group: Intune unchanged" "$((total - 1))" "$(emu records | jq .count)"

# A bad user_map line is an error naming the file and line.
printf 'a@x.example,b@x.example\nnot-a-line\n' > bad-map.csv
conf badmap.conf "user_map = $T_TMP/bad-map.csv"
"$SSYNC_BIN" plan --config badmap.conf > /dev/null 2> badmap.err
check_eq "bad user_map: exit status" 1 "$?"
check_contains "bad user_map: names file and line" "bad-map.csv:2:" badmap.err

# A targeted run by serial: only that certificate, and only its user's listing is read.
if "$SSYNC_BIN" plan --help 2>&1 | grep -q -- --serial; then
    t_serial=$(jq -r 'select(.userId != null) | .serial' $m | tail -n 1)
    t_upn=$(jq -r 'select(.userId != null) | .userPrincipalName' $m | tail -n 1)
    lists0=$(route 'GET userPfxCertificates')
    colon_serial=$(echo "00$t_serial" | tr A-Z a-z | sed 's/../&:/g; s/:$//')
    "$SSYNC_BIN" plan --config sel.conf --serial "$colon_serial" --json > target.json 2> target.err
    check_eq "targeted plan: exit status" 0 "$?"
    check_eq "targeted plan: one item, its user, in Intune" "1 $t_upn keep" \
        "$(jq -r '"\(.items | length) \(.items[0].userPrincipalName) \(.items[0].action)"' target.json)"
    check_eq "targeted plan: one filtered listing GET" 1 "$(( $(route 'GET userPfxCertificates') - lists0 ))"
    "$SSYNC_BIN" plan --config sel.conf --serial ABCDEF --json > target0.json 2> /dev/null
    check_eq "targeted plan: unknown serial plans nothing" 0 "$(jq '.items | length' target0.json)"
else
    echo "# --serial not available in this CLI: targeted run not tested here"
fi
finish
