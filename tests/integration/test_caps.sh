#!/usr/bin/env bash
# The change caps: the first sync into an empty tenant uploads everything (uploads are not capped
# by default); then a CRL revokes 12 of the 30 certificates: the plan would remove more than
# the default cap (10 % of the managed records, at least 10), so the sync writes nothing, names
# the cap and by how much, and exits 6; --allow-large-change lets one run through. A configured
# max_uploads stops an upload plan the same way; bad cap values are configuration errors.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 30 --kras 1 --unknown-users 0 --revoked 0 --expired 0 \
    --renewals 0 --seed 47 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
write_config lab sync.conf

"$SSYNC_BIN" sync --config sync.conf --json > s1.json 2> s1.err
check_eq "first sync into an empty tenant: exit 0 (uploads are not capped)" 0 "$?"
check_eq "first sync: 30 uploads" 30 "$(jq .writes.done s1.json)"

# a CRL signed by the CA that revokes 12 certificates (openssl ca -gencrl over an index)
mkdir crlca && : > crlca/index.txt
jq -r '.serial' lab/manifest.jsonl | head -n 12 | while read -r s; do
    printf 'R\t391231235959Z\t261206000000Z\t%s\tunknown\t/CN=x\n' "$s" >> crlca/index.txt
done
printf '[ca]\ndefault_ca = lab\n[lab]\ndatabase = crlca/index.txt\ndefault_md = sha256\ndefault_crl_days = 7\n' \
    > crlca/ca.cnf
openssl ca -gencrl -config crlca/ca.cnf -keyfile lab/ca.key -cert lab/ca.pem -out lab/ca.crl \
    2> /dev/null
check_eq "the new CRL revokes 12" 12 "$(openssl crl -in lab/ca.crl -noout -text | grep -c 'Serial Number')"

"$SSYNC_BIN" plan --config sync.conf --json > p.json 2> p.err
check_eq "plan: 12 removals planned" 12 "$(jq .counts.remove p.json)"
check "plan warns that a sync would stop at the cap" \
    grep -q "warning: the plan exceeds a change cap: \[policy\] max_removals: the plan removes 12 records, 2 more than the 10 allowed" p.err

deletes=$(route "DELETE userPfxCertificates")
"$SSYNC_BIN" sync --config sync.conf --json > s2.json 2> s2.err
check_eq "sync beyond the removal cap: exit status 6" 6 "$?"
check "the message names the cap, the counts and the excess" \
    grep -qF "smimesync sync: the plan exceeds a change cap: [policy] max_removals: the plan removes 12 records, 2 more than the 10 allowed (10% of the 30 records smimesync manages in Intune, at least 10): nothing written" s2.err
check_eq "nothing deleted" "$deletes" "$(route "DELETE userPfxCertificates")"
check_eq "the plan is still shown (12 removals)" 12 "$(jq .counts.remove s2.json)"
"$SSYNC_BIN" sync --config sync.conf --help | grep -q -- "--allow-large-change"
check_eq "sync --help names --allow-large-change" 0 "$?"
check "--help documents exit status 6" bash -c "'$SSYNC_BIN' sync --help | grep -q '^  6  the plan exceeds a change cap'"

# a higher cap lets it through
cp sync.conf cap20.conf
printf '[policy]\nmax_removals = 40%%\n' >> cap20.conf
"$SSYNC_BIN" plan --config cap20.conf --json > p20.json 2> p20.err
check "plan within a 40% cap: no cap warning" bash -c "! grep -q max_removals p20.err"

# --allow-large-change: one run through
"$SSYNC_BIN" sync --config sync.conf --allow-large-change --json > s3.json 2> s3.err
check_eq "sync --allow-large-change: exit 0" 0 "$?"
check "it says the cap was let through" grep -q "max_removals: .*let through (--allow-large-change)" s3.err
check_eq "12 records deleted" "$((deletes + 12))" "$(route "DELETE userPfxCertificates")"
"$SSYNC_BIN" sync --config sync.conf --json > s4.json 2> s4.err
check_eq "the next sync: nothing to do, exit 0 (the cap is per run)" 0 "$?"

# max_uploads: an emptied tenant with a cap of 5 uploads
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
cp sync.conf up.conf
printf '[policy]\nmax_uploads = 5\n' >> up.conf
posts=$(route "POST userPfxCertificates")
"$SSYNC_BIN" sync --config up.conf --json > s5.json 2> s5.err
check_eq "sync beyond max_uploads: exit status 6" 6 "$?"
check "the message names max_uploads" \
    grep -qF "[policy] max_uploads: the plan uploads 18 records, 13 more than the 5 allowed: nothing written" s5.err
check_eq "nothing POSTed" "$posts" "$(route "POST userPfxCertificates")"

# bad values are configuration errors naming the key
for v in "-3" "150%" "many"; do
    cp sync.conf bad.conf
    printf '[policy]\nmax_removals = %s\n' "$v" >> bad.conf
    "$SSYNC_BIN" plan --config bad.conf > /dev/null 2> bad.err
    check_eq "max_removals = $v: exit status 1" 1 "$?"
    check "max_removals = $v: the error names the key" grep -q "key 'max_removals'" bad.err
done
finish
