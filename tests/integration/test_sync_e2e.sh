#!/usr/bin/env bash
# End to end over a 200-user lab CA (renewals, revocations, expiries, unknown users) and
# intune-emu: the first sync uploads exactly the expected set; an immediate second sync makes no
# write and reads only the listing; a newly issued certificate is uploaded by a targeted run
# (by request id, then by serial) without listing the tenant; a newly revoked certificate is
# removed; the history policy variants give the expected sets. Expectations come from the lab's
# manifest; every report count is asserted.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 200 --unknown-users 6 --renewals 30 --revoked 10 --expired 15 \
    --seed 2026 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
m=lab/manifest.jsonl

# One certificate of a known user is "issued later": held back from the source at first.
new=$(jq -c 'select(.userId != null and (.revoked | not) and (.superseded | not))' $m | sed -n 7p)
new_file=$(jq -r .file <<< "$new")
new_tp=$(jq -r .thumbprint <<< "$new")
new_serial=$(jq -r .serial <<< "$new")
mkdir held
mv "lab/$new_file" held/
# A second one arrives later still, found by its serial number.
new2=$(jq -c 'select(.userId != null and (.revoked | not) and (.superseded | not))' $m | sed -n 9p)
new2_file=$(jq -r .file <<< "$new2")
new2_tp=$(jq -r .thumbprint <<< "$new2")
new2_serial=$(jq -r .serial <<< "$new2")
mv "lab/$new2_file" held/

emu_start lab --strict --quiet || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started"
write_config lab sync.conf
records() { emu records | jq -r '.records[].thumbprint' | sort; }
counts() { jq -c '[.counts.upload, .counts.remove, .counts.keep, .counts.skip, .counts.failed]' "$1"; }

known='select(.userId != null)'
wanted="$known | select(.revoked | not)"
total=$(($(wc -l < $m) - 2))
n_unknown=$(jq -s '[.[] | select(.userId == null)] | length' $m)
n_rev=$(jq -s "[.[] | $known | select(.revoked)] | length" $m)
n_exp=$(jq -s "[.[] | $wanted | select(.expired)] | length" $m)
n_sup=$(jq -s "[.[] | $wanted | select(.superseded)] | length" $m)
check "the lab has unknown users, revocations, expiries and renewals" \
    test "$n_unknown" -ge 6 -a "$n_rev" -ge 5 -a "$n_exp" -ge 5 -a "$n_sup" -ge 10
jq -r "$wanted | .thumbprint" $m | grep -v -e "$new_tp" -e "$new2_tp" | sort > want1.txt
n_up=$(wc -l < want1.txt)

# 1. first sync: exactly the wanted set, expired certificates included, revoked and unknown not
"$SSYNC_BIN" sync --config sync.conf --json > s1.json 2> s1.err
check_eq "first sync: exit status" 0 "$?"
check_eq "first sync: counts [upload, remove, keep, skip, failed]" \
    "[$n_up,0,0,$((n_unknown + n_rev)),0]" "$(counts s1.json)"
check_eq "first sync: one item per certificate of the source" "$total" "$(jq '.items | length' s1.json)"
check_eq "first sync: Intune holds exactly the wanted records" "$(cat want1.txt)" "$(records)"
check_eq "first sync: expired certificates are uploaded (old mail stays readable)" "$n_exp" \
    "$(jq -r "$wanted | select(.expired) | .thumbprint" $m | grep -c -F -f - <(records))"
check_eq "first sync: unknown users reported, not uploaded" "$n_unknown" \
    "$(jq '[.items[] | select(.action == "skip" and (.reason | test("not found")))] | length' s1.json)"
check_eq "first sync: 201 per upload, no conflict" "$n_up/0" \
    "$(emu stats | jq -r '"\(.byStatus["201"] // 0)/\(.byStatus["409"] // 0)"')"

# 2. an immediate second sync: zero writes, reads only the listing
before=$(emu stats)
"$SSYNC_BIN" sync --config sync.conf --json > s2.json 2> s2.err
check_eq "second sync: exit status" 0 "$?"
after=$(emu stats)
check_eq "second sync: counts" "[0,0,$n_up,$((n_unknown + n_rev)),0]" "$(counts s2.json)"
delta() { echo "$(($(jq -r --arg r "$1" '.byRoute[$r] // 0' <<< "$after") - $(jq -r --arg r "$1" '.byRoute[$r] // 0' <<< "$before")))"; }
check_eq "second sync: no POST or DELETE" "0 0" \
    "$(delta 'POST userPfxCertificates') $(delta 'DELETE userPfxCertificates')"
pages=$(((n_up + 99) / 100))
check_eq "second sync: only the listing pages are read (no user lookup)" "$pages 0 0" \
    "$(delta 'GET userPfxCertificates') $(delta 'POST $batch') $(delta 'GET users')"
before=$(emu stats)
"$SSYNC_BIN" plan --config sync.conf --refresh-users --json > p2.json 2> p2.err
after=$(emu stats)
check "--refresh-users: the directory is asked again" test "$(delta 'POST $batch')" -gt 0
check_eq "--refresh-users: same plan" "[0,0,$n_up,$((n_unknown + n_rev)),0]" "$(counts p2.json)"

# 3. a newly issued certificate, by CA request id (certutil -getkey 4711 4711.rsp)
ext=${new_file##*.}
cp "held/$(basename "$new_file")" "lab/blobs/4711.$ext"
before=$(emu stats)
"$SSYNC_BIN" sync --config sync.conf --request-id 4711 --json > t1.json 2> t1.err
check_eq "targeted by request id: exit status" 0 "$?"
after=$(emu stats)
check_eq "targeted by request id: one item, uploaded" "1 $new_tp upload done" \
    "$(jq -r '"\(.items | length) \(.items[0].thumbprint) \(.items[0].action) \(.items[0].outcome)"' t1.json)"
check_eq "targeted by request id: counts" "[1,0,0,0,0]" "$(counts t1.json)"
check_eq "targeted by request id: the tenant is not listed (one per-user read), one POST" "1 1" \
    "$(delta 'GET userPfxCertificates') $(delta 'POST userPfxCertificates')"
# 3b. by serial number (lowercase, with colons, as people paste it)
cp "held/$(basename "$new2_file")" lab/blobs/
serial_colons=$(tr 'A-F' 'a-f' <<< "$new2_serial" | sed 's/../&:/g; s/:$//')
"$SSYNC_BIN" sync --config sync.conf --serial "$serial_colons" --json > t2.json 2> t2.err
check_eq "targeted by serial: exit status" 0 "$?"
check_eq "targeted by serial: one item, uploaded" "1 $new2_tp upload done" \
    "$(jq -r '"\(.items | length) \(.items[0].thumbprint) \(.items[0].action) \(.items[0].outcome)"' t2.json)"
jq -r "$wanted | .thumbprint" $m | sort > want.txt
check_eq "after the targeted runs Intune holds every wanted record" "$(cat want.txt)" "$(records)"
"$SSYNC_BIN" sync --config sync.conf --serial "$serial_colons" --json > t3.json 2> t3.err
check_eq "targeted run again: keep, no write" "[0,0,1,0,0]" "$(counts t3.json)"
upn=$(jq -r .userPrincipalName <<< "$new")
"$SSYNC_BIN" plan --config sync.conf --user "$(tr 'a-z' 'A-Z' <<< "$upn")" --json > t4.json 2> t4.err
check_eq "targeted by user: every certificate of the user, all kept" \
    "$(jq -s --arg u "$upn" "[.[] | $wanted | select(.userPrincipalName == \$u)] | length" $m)" \
    "$(jq '.counts.keep' t4.json)"
n_all=$(wc -l < want.txt)

# 4. a certificate revoked now (a new CRL from the lab CA) is removed
victim=$(jq -c "$wanted | select(.superseded | not) | select(.expired | not)" $m | sed -n 3p)
victim_tp=$(jq -r .thumbprint <<< "$victim")
victim_serial=$(jq -r .serial <<< "$victim")
mkdir ca && printf 'R\t301231235959Z\t%s\t%s\tunknown\t/CN=x\n' "$(date -u +%y%m%d%H%M%SZ)" \
    "$victim_serial" > ca/index.txt && echo 1000 > ca/crlnumber
cat > ca/ca.cnf << EOF
[ca]
default_ca = lab
[lab]
database = $T_TMP/ca/index.txt
crlnumber = $T_TMP/ca/crlnumber
default_md = sha256
default_crl_days = 7
EOF
check "a new CRL from the lab CA" openssl ca -config ca/ca.cnf -gencrl -keyfile lab/ca.key \
    -cert lab/ca.pem -out ca/new.crl -batch
sed "s|^crl = .*|crl = $T_TMP/lab/ca.crl, $T_TMP/ca/new.crl|" sync.conf > rev.conf
"$SSYNC_BIN" sync --config rev.conf --json > r1.json 2> r1.err
check_eq "newly revoked: exit status" 0 "$?"
check_eq "newly revoked: counts" "[0,1,$((n_all - 1)),$((n_unknown + n_rev)),0]" "$(counts r1.json)"
check_eq "newly revoked: that certificate removed" "remove certificate revoked done" \
    "$(jq -r --arg t "$victim_tp" '.items[] | select(.thumbprint == $t) | "\(.action) \(.reason) \(.outcome)"' r1.json)"
grep -v "$victim_tp" want.txt > want_rev.txt
check_eq "newly revoked: Intune holds the rest" "$(cat want_rev.txt)" "$(records)"

# 5. history policy variants (on the state after step 4)
newest() {
    jq -s "[.[] | $wanted | select(.thumbprint != \"$victim_tp\")] | group_by(.userPrincipalName)
        | map(max_by(.notAfter)) | .[].thumbprint" $m | tr -d '"' | sort
}
newest > want_newest.txt
n_newest=$(wc -l < want_newest.txt)
n_rest=$(wc -l < want_rev.txt)
{ cat rev.conf; printf '[policy]\nkeep_newest = 1\n'; } > newest.conf
"$SSYNC_BIN" plan --config newest.conf --json > p1.json 2> p1.err
check_eq "keep_newest = 1: plan counts" \
    "[0,$((n_rest - n_newest)),$n_newest,$((n_unknown + n_rev + 1)),0]" "$(counts p1.json)"
check_eq "keep_newest = 1: the kept ones are each user's newest" "$(cat want_newest.txt)" \
    "$(jq -r '.items[] | select(.action == "keep") | .thumbprint' p1.json | sort)"
# a deliberate policy change removes more than the default cap ([policy] max_removals)
"$SSYNC_BIN" sync --config newest.conf --json > h0.json 2> h0.err
check_eq "keep_newest = 1: without --allow-large-change the removal cap stops it (exit 6)" 6 "$?"
"$SSYNC_BIN" sync --config newest.conf --allow-large-change --json > h1.json 2> h1.err
check_eq "keep_newest = 1: sync exit status" 0 "$?"
check_eq "keep_newest = 1: Intune holds the newest per user" "$(cat want_newest.txt)" "$(records)"

{ cat rev.conf; printf '[policy]\ndrop_expired_after_days = 0\n'; } > drop.conf
jq -r "$wanted | select(.expired | not) | .thumbprint" $m | grep -v "$victim_tp" | sort > want_live.txt
n_live=$(wc -l < want_live.txt)
"$SSYNC_BIN" sync --config drop.conf --json > h2.json 2> h2.err
check_eq "drop_expired_after_days = 0: sync exit status" 0 "$?"
check_eq "drop_expired_after_days = 0: Intune holds the unexpired ones" "$(cat want_live.txt)" "$(records)"
check_eq "drop_expired_after_days = 0: counts" \
    "[$((n_live - $(grep -c -F -f want_live.txt want_newest.txt))),$(grep -v -c -F -f want_live.txt want_newest.txt),$(grep -c -F -f want_live.txt want_newest.txt),$((n_unknown + n_rev + 1 + n_rest - n_live - $(grep -v -c -F -f want_live.txt want_newest.txt))),0]" \
    "$(counts h2.json)"

{ cat rev.conf; printf '[policy]\ninclude_expired = false\n'; } > noexp.conf
"$SSYNC_BIN" plan --config noexp.conf --json > p3.json 2> p3.err
check_eq "include_expired = false: no change from drop_expired_after_days = 0" \
    "[0,0,$n_live,$((n_unknown + n_rev + 1 + n_rest - n_live)),0]" "$(counts p3.json)"

"$SSYNC_BIN" sync --config rev.conf --json > h3.json 2> h3.err
check_eq "default policy again: the history comes back" "$(cat want_rev.txt)" "$(records)"
check_eq "default policy again: counts" \
    "[$((n_rest - n_live)),0,$n_live,$((n_unknown + n_rev + 1)),0]" "$(counts h3.json)"
check_eq "no record was ever created twice" 0 "$(emu stats | jq -r '.byStatus["409"] // 0')"
finish
