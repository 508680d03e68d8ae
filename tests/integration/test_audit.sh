#!/usr/bin/env bash
# The audit trail end to end: a sync refuses to write without a usable trail (missing, not 0600,
# truncated mid-line); `audit init` starts one; sync, remove and upload each leave one line per
# change (with its Graph request-id and verification) and per KRA recovery, never a secret; the
# HTML report shows the request-id of done writes; `audit verify` passes, then finds an edit, a
# deleted line and a swapped pair, each at its line; a sync killed with SIGKILL mid-run leaves a
# valid chain; a rotated trail continues the chain; `audit show` filters by user and time;
# recover and export --audit log their recoveries and recover nothing without a usable trail.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 14 --kras 2 --unknown-users 0 --revoked 0 --expired 0 \
    --renewals 0 --seed 53 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet --fault 'POST:userPfxCertificates:9:1=delay:400' ||
    { not_ok "emulator started"; finish; exit 1; }
write_config lab sync.conf
printf '[audit]\npath = %s/audit.jsonl\n' "$T_TMP" >> sync.conf
posts() { route "POST userPfxCertificates"; }
trail() { jq -c "$1" audit.jsonl; }

# no trail: nothing written, and the error says why
"$SSYNC_BIN" sync --config sync.conf --json > s0.json 2> s0.err
check_eq "sync without the trail: exit status 1" 1 "$?"
check "it says the trail is missing and nothing is written" \
    grep -q "\[audit\] path: audit trail: .*audit.jsonl: missing .*: nothing is written to Intune" s0.err
check_eq "no POST" 0 "$(posts)"

"$SSYNC_BIN" audit init audit.jsonl > init.out
check_eq "audit init: exit 0" 0 "$?"
check_eq "the trail is 0600" 600 "$(stat -c %a audit.jsonl)"
check_eq "its first line starts the chain" "start" "$(jq -r 'select(.seq == 1) | .action' audit.jsonl)"
"$SSYNC_BIN" audit init audit.jsonl > /dev/null 2> init2.err
check_eq "audit init never overwrites a trail: exit 1" 1 "$?"

chmod 640 audit.jsonl
"$SSYNC_BIN" sync --config sync.conf --json > s1.json 2> s1.err
check_eq "sync with a trail of mode 0640: exit 1" 1 "$?"
check "it names the mode" grep -q "mode 0640, not 0600: nothing is written to Intune" s1.err
check_eq "no POST" 0 "$(posts)"
chmod 600 audit.jsonl

"$SSYNC_BIN" sync --config sync.conf --json --report sync.html > s2.json 2> s2.err
check_eq "sync with the trail: exit 0" 0 "$?"
n_up=$(jq .writes.done s2.json)
check "some uploads" test "$n_up" -gt 5
check_eq "one create line per upload" "$n_up" \
    "$(trail 'select(.action == "create" and .result == "created")' | wc -l)"
check_eq "every create line carries Graph's request-id" "$n_up" \
    "$(trail 'select(.action == "create" and (.requestId | type) == "string")' | wc -l)"
# every key is archived to both KRAs; the run holds kra.p12 (KRA 1): each line names that one
kra1=$(openssl x509 -in lab/kra1.pem -noout -serial | sed 's/^serial=//; s/^0*//')
kra2=$(openssl x509 -in lab/kra2.pem -noout -serial | sed 's/^serial=//; s/^0*//')
check_eq "one recovery line per upload, naming the KRA that opened the key" "$n_up" \
    "$(trail "select(.action == \"recover\" and .result == \"recovered\" and .kra == \"$kra1\")" | wc -l)"
check_eq "every line names the app and the run" 0 \
    "$(trail 'select(.seq > 1 and (.appId != "'"$(cat lab/client-id)"'" or (.run | length) != 36))' | wc -l)"
check "no secret in the trail" bash -c "! grep -qF -e \"\$(cat lab/kra.pass)\" -e \"\$(cat lab/client-secret)\" -e encryptedPfx audit.jsonl"
rid=$(jq -r '[.items[] | select(.outcome == "done")][0].requestId' s2.json)
check "the JSON report has the request-id of a done write" test -n "$rid" -a "$rid" != null
check "the HTML report shows it too" grep -qF "<td class=\"request-id\">$rid</td>" sync.html
check "it is the trail's" bash -c "jq -r .requestId audit.jsonl | grep -qxF '$rid'"
"$SSYNC_BIN" audit verify audit.jsonl > v1.out
check_eq "audit verify: exit 0" 0 "$?"
check "audit verify: the chain is intact" grep -q "audit.jsonl: .* lines, seq 1-.*, chain intact; head [0-9a-f]\{64\}$" v1.out

# remove and upload
tp=$(jq -r '[.items[] | select(.outcome == "done")][0].thumbprint' s2.json)
"$SSYNC_BIN" remove --config sync.conf --thumbprint "$tp" > r.out 2> r.err
check_eq "remove: exit 0" 0 "$?"
check_eq "remove: one delete line, verified" 1 \
    "$(trail "select(.action == \"delete\" and .thumbprint == \"$tp\" and .result == \"removed\" and .verified == true and (.requestId | type) == \"string\")" | wc -l)"
mkdir -m 700 rec
blob=lab/$(jq -r --arg t "$tp" 'select(.thumbprint == $t) | .file' lab/manifest.jsonl)
"$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass --audit audit.jsonl \
    --connector-key lab/connector-public.rsa1blob --out-dir rec "$blob" > /dev/null 2> exp.err
check_eq "export --audit: exit 0" 0 "$?"
check_eq "export --audit: a recovery line naming the blob and the KRA" 1 \
    "$(trail "select(.action == \"recover\" and .source == \"$blob\" and .thumbprint == \"$tp\" and (.kra | length) > 0)" | wc -l)"
"$SSYNC_BIN" recover --kra lab/kra2.p12 --kra-pass-file lab/kra.pass --audit audit.jsonl \
    --out k.p12 --out-pass-file k.pass "$blob" > rec.out 2> rec.err
check_eq "recover --audit (with KRA 2): exit 0" 0 "$?"
check_eq "recover --audit: a recovery line naming KRA 2" 1 \
    "$(trail "select(.action == \"recover\" and .source == \"$blob\" and .kra == \"$kra2\")" | wc -l)"
"$SSYNC_BIN" recover --kra lab/kra.p12 --kra-pass-file lab/kra.pass --audit nothere.jsonl \
    --out k2.p12 --out-pass-file k2.pass "$blob" > rec2.out 2> rec2.err
check_eq "recover --audit with a missing trail: exit 1" 1 "$?"
check "recover: nothing recovered without the trail" test ! -e k2.p12 -a ! -e k2.pass
check "recover: it says why" grep -q "audit: .*nothere.jsonl: missing.*: nothing recovered" rec2.err
"$SSYNC_BIN" upload --config sync.conf rec > u.out 2> u.err
check_eq "upload: exit 0" 0 "$?"
check_eq "upload: one create line" 2 "$(trail "select(.action == \"create\" and .thumbprint == \"$tp\")" | wc -l)"
"$SSYNC_BIN" audit verify audit.jsonl > /dev/null
check_eq "the chain is intact after remove and upload" 0 "$?"

# audit show
user=$(jq -r --arg t "$tp" 'select(.thumbprint == $t) | .userPrincipalName' lab/manifest.jsonl)
"$SSYNC_BIN" audit show --config sync.conf --user "${user^^}" > show.out
check_eq "audit show --user: the user's lines (recover, create, delete, 2 recover, create)" 6 "$(wc -l < show.out)"
check "audit show: the request-id is shown" grep -q "request-id " show.out
"$SSYNC_BIN" audit show audit.jsonl --since 2099-01-01 --json > show2.out
check_eq "audit show --since the future: nothing" 0 "$(wc -l < show2.out)"
"$SSYNC_BIN" audit show audit.jsonl --json --user "$user" | jq -e . > /dev/null
check_eq "audit show --json: JSON lines" 0 "$?"
"$SSYNC_BIN" audit show audit.jsonl --since yesterday > /dev/null 2> show3.err
check_eq "audit show --since with a bad time: exit 2" 2 "$?"

# tampering, each found at its line
tamper() { # tamper NAME SED-PROGRAM
    cp audit.jsonl "$1.jsonl"
    sed -i "$2" "$1.jsonl"
    "$SSYNC_BIN" audit verify "$1.jsonl" > "$1.out" 2> "$1.err"
}
tamper edit '3s/"result":"[a-z]*"/"result":"failed"/'
check_eq "an edited line: exit 1" 1 "$?"
check "an edited line: found at line 3" grep -q "edit.jsonl:3: chain broken: the line was changed" edit.err
tamper deleted '3d'
check_eq "a deleted line: exit 1" 1 "$?"
check "a deleted line: found at line 3" grep -q "deleted.jsonl:3: chain broken: seq 4 where 3 was expected" deleted.err
tamper swapped '3{h;d};4{G}'
check_eq "a swapped pair: exit 1" 1 "$?"
check "a swapped pair: found at line 3" grep -q "swapped.jsonl:3: chain broken: seq 4 where 3 was expected" swapped.err

# truncated mid-line: the run refuses, verify names the line
cp audit.jsonl whole.jsonl
lines=$(wc -l < audit.jsonl)
truncate -s -5 audit.jsonl
before=$(posts)
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
"$SSYNC_BIN" sync --config sync.conf --json > s3.json 2> s3.err
check_eq "sync with a trail truncated mid-line: exit 1" 1 "$?"
check "it says truncated mid-line" grep -q "truncated mid-line.*: nothing is written to Intune" s3.err
check_eq "no POST" "$before" "$(posts)"
"$SSYNC_BIN" audit verify audit.jsonl > /dev/null 2> trunc.err
check "audit verify names the truncated line" grep -q "audit.jsonl:$lines: chain broken: the line has no end" trunc.err
cp whole.jsonl audit.jsonl

# kill -9 mid-run: the chain stays valid (each line one write)
"$SSYNC_BIN" sync --config sync.conf --json > s4.json 2> s4.err &
p=$!
for _ in $(seq 1 200); do
    [ "$(posts)" -ge $((before + 3)) ] && break
    sleep 0.05
done
check "the sync was still writing when killed" kill -0 $p
check "not every upload of that run was done" test "$(posts)" -lt $((before + n_up))
kill -KILL $p
wait $p 2> /dev/null
"$SSYNC_BIN" audit verify audit.jsonl > kill.out 2> kill.err
check_eq "after kill -9 mid-run the chain is valid" 0 "$?"
"$SSYNC_BIN" sync --config sync.conf --json > s5.json 2> s5.err
check_eq "the next sync finishes: exit 0" 0 "$?"
"$SSYNC_BIN" audit verify audit.jsonl > /dev/null
check_eq "and the chain is still valid" 0 "$?"

# rotation: the new trail continues the old one's chain
mv audit.jsonl audit.1.jsonl
"$SSYNC_BIN" audit init audit.jsonl --continue audit.1.jsonl > rot.out
check_eq "audit init --continue: exit 0" 0 "$?"
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
"$SSYNC_BIN" sync --config sync.conf --json > s6.json 2> s6.err
check_eq "sync into the rotated trail: exit 0" 0 "$?"
"$SSYNC_BIN" audit verify audit.1.jsonl audit.jsonl > rot.out
check_eq "verify across the rotation: exit 0" 0 "$?"
"$SSYNC_BIN" audit init other.jsonl > /dev/null
"$SSYNC_BIN" audit verify audit.1.jsonl other.jsonl > /dev/null 2> rot.err
check_eq "a trail that does not continue the old one: exit 1" 1 "$?"
check "it is found at line 1" grep -q "other.jsonl:1: chain broken: it does not continue the previous file" rot.err
finish
