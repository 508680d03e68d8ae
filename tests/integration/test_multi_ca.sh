#!/usr/bin/env bash
# Several CAs in one run: two lab CAs (smimesync-lab --ca-name), each with its own KRA and CRL,
# as named sources ([source "NAME"]: the first a CA database, the second recovery blobs) into one
# tenant of the emulator. One plan over both (a third source holding the first CA's blobs again
# is counted once), each item names its source in the reports and in status, each source opens
# its keys with its own KRA, check checks every source, the edb marker is kept per source, and a
# broken source (a dirty database, a missing file, no KRA key) is left out with one line while
# the other one syncs.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out labA --users 8 --revoked 1 --renewals 1 --seed 31 --ca-name "Lab Issuing CA 1" \
    --edb labA/ca.edb > /dev/null
"$LAB_BIN" --out labB --users 6 --revoked 1 --seed 32 --ca-name "Lab Issuing CA 2" \
    --edb labB/dirty.edb --edb-opts dirty > /dev/null
check "two labs" test -s labA/ca.edb -a -s labB/dirty.edb
check_eq "--ca-name names the second CA" "subject=DC = example, DC = lab, CN = Lab Issuing CA 2" \
    "$(openssl x509 -in labB/ca.pem -noout -subject)"
check_eq "the second CA signed its own CRL" "issuer=DC = example, DC = lab, CN = Lab Issuing CA 2" \
    "$(openssl crl -in labB/ca.crl -noout -issuer)"
check "distinct KRAs" test "$(openssl x509 -in labA/kra1.pem -noout -fingerprint)" != \
    "$(openssl x509 -in labB/kra1.pem -noout -fingerprint)"
# one tenant: the emulator of lab A knows the users of both labs
{
    cat labA/users.csv
    tail -n +2 labB/users.csv
} | awk -F, '!seen[tolower($1)]++' > users.csv
cp users.csv labA/users.csv
emu_start labA --strict || { not_ok "emulator started"; finish; exit 1; }
emu() { curl -s --cacert labA/tls/ca.pem "$EMU_URL/emu/$1"; }

# multi_config FILE STATE SOURCES...: the sections of lab A's tenant after the named sources
multi_config() {
    local f=$1 state=$2
    shift 2
    write_config labA "$f.base"
    {
        printf '%s\n' "$@"
        sed -n '/^\[connector\]/,$p' "$f.base" | sed "s|^path = $T_TMP/state.db|path = $T_TMP/$state|"
    } > "$f"
    rm -f "$f.base"
}
SRC_A=('[source "issuing-ca-1"]' 'type = edb' 'path = labA/ca.edb' 'ca = labA/ca.pem'
    'crl = labA/ca.crl' 'kra_key = labA/kra.p12' 'kra_password_file = labA/kra.pass'
    'incremental = yes')
SRC_B=('[source "issuing-ca-2"]' 'type = blobs' 'path = labB/blobs' 'ca = labB/ca.pem'
    'crl = labB/ca.crl' 'kra_key = labB/kra.p12' 'kra_password_file = labB/kra.pass')
SRC_A_BLOBS=('[source "ca1-blobs"]' 'type = blobs' 'path = labA/blobs' 'ca = labA/ca.pem'
    'crl = labA/ca.crl' 'kra_key = labA/kra.p12' 'kra_password_file = labA/kra.pass')
multi_config multi.conf state.db "${SRC_A[@]}" "${SRC_B[@]}" "${SRC_A_BLOBS[@]}"
check "no [kra] section: each source holds its own KRA key" test -z "$(grep -x '\[kra\]' multi.conf)"
nA=$(wc -l < labA/manifest.jsonl)
nB=$(wc -l < labB/manifest.jsonl)

# ---- check: every source on its own lines ----
"$SSYNC_BIN" check --config multi.conf > check.txt 2>&1
check_eq "check: exit status (the emulator has no Intune-side failure)" 0 "$?"
for s in issuing-ca-1 issuing-ca-2 ca1-blobs; do
    check_contains "check: source \"$s\": its ca" "source \"$s\": ca" check.txt
    check_contains "check: source \"$s\": its own KRA key" "source \"$s\": kra" check.txt
    check_contains "check: source \"$s\": its CRL" "source \"$s\": crl ca.crl" check.txt
    check_contains "check: source \"$s\": its sample recovery" "source \"$s\": sample recovery" check.txt
done
check_contains "check: the CA database's requests" "labA/ca.edb: $nA requests" check.txt

# ---- plan: one plan over every source ----
"$SSYNC_BIN" plan --config multi.conf --json > plan.json 2> plan.err
check_eq "plan: exit status" 0 "$?"
check_eq "plan: lab A's certificates once (in the database and in its blobs), lab B's" \
    "$((nA + nB))" "$(jq '.items | length' plan.json)"
check_eq "plan: the thumbprints of both labs" \
    "$(cat labA/manifest.jsonl labB/manifest.jsonl | jq -r .thumbprint | sort)" \
    "$(jq -r '.items[].thumbprint' plan.json | sort)"
check_eq "plan: lab A's items name the first source that holds them" \
    "$(jq -r .thumbprint labA/manifest.jsonl | sort)" \
    "$(jq -r '.items[] | select(.source == "issuing-ca-1") | .thumbprint' plan.json | sort)"
check_eq "plan: lab B's items name their source" "$(jq -r .thumbprint labB/manifest.jsonl | sort)" \
    "$(jq -r '.items[] | select(.source == "issuing-ca-2") | .thumbprint' plan.json | sort)"
check_eq "plan: every key recovered with its own CA's KRA" 0 \
    "$(jq '[.items[] | select(.error)] | length' plan.json)"
check_eq "plan: the sources and what each read" \
    "issuing-ca-1 edb $nA|issuing-ca-2 blobs $nB|ca1-blobs blobs $nA" \
    "$(jq -r '[.sources[] | "\(.name) \(.type) \(.items)"] | join("|")' plan.json)"
check_contains "plan: the duplicates counted once (said on stderr)" \
    "$nA certificates found in more than one source: counted once" plan.err
check_eq "plan: each lab's revoked certificate, revoked by its own CRL" \
    "$(cat labA/manifest.jsonl labB/manifest.jsonl | jq -r 'select(.revoked) | .thumbprint' | sort)" \
    "$(jq -r '.items[] | select(.reason == "certificate revoked") | .thumbprint' plan.json | sort)"

# ---- sync: both CAs into the one tenant ----
"$SSYNC_BIN" sync --config multi.conf --report sync.txt --json > sync.json 2> sync.err
check_eq "sync: exit status" 0 "$?"
emu records | jq -r '.records[].thumbprint' | sort > state.txt
check_eq "sync: Intune holds the uploads of both sources" \
    "$(jq -r '.items[] | select(.action == "upload") | .thumbprint' sync.json | sort)" "$(cat state.txt)"
check "sync: lab A's certificates uploaded" \
    test "$(jq '[.items[] | select(.action == "upload" and .source == "issuing-ca-1")] | length' sync.json)" -gt 0
check "sync: lab B's certificates uploaded" \
    test "$(jq '[.items[] | select(.action == "upload" and .source == "issuing-ca-2")] | length' sync.json)" -gt 0
check_contains "text report: the item names its source" "(source issuing-ca-2)" sync.txt
check_contains "text report: the sources and their counts" "source:      issuing-ca-1 (edb ./labA/ca.edb): $nA items" sync.txt
"$SSYNC_BIN" sync --config multi.conf --report sync.html > /dev/null 2>&1
check_contains "HTML report: the item names its source" "<br>source issuing-ca-2" sync.html
last=$(jq -r '[.items[] | select(.source == "issuing-ca-1") | .caRequestId] | max' plan.json)
check_eq "the marker of the edb source, under its own name" "edb.last_request_id.issuing-ca-1=$last" \
    "$(sqlite3 "$T_TMP/state.db" "SELECT key || '=' || value FROM meta WHERE key LIKE 'edb.%'")"

# ---- status: in step, each certificate with its source ----
"$SSYNC_BIN" status --config multi.conf --json > status.json 2> status.err
check_eq "status: exit status (in step)" 0 "$?"
check_eq "status: in step" true "$(jq .inStep status.json)"
# (the edb source is incremental: its rows seen by the sync are now read from ca1-blobs)
check_eq "status: lab A's certificates carry the name of a source of CA 1" \
    "$(jq -r .thumbprint labA/manifest.jsonl | sort)" \
    "$(jq -r '.users[].sources | to_entries[] | select(.value == "issuing-ca-1" or .value == "ca1-blobs") | .key' status.json | sort)"
check_eq "status: lab B's certificates carry its name" \
    "$(jq -r .thumbprint labB/manifest.jsonl | sort)" \
    "$(jq -r '.users[].sources | to_entries[] | select(.value == "issuing-ca-2") | .key' status.json | sort)"

# ---- --source: one CA of several (its CA's event hook) ----
"$SSYNC_BIN" plan --config multi.conf --source issuing-ca-2 --json > one.json 2> one.err
check_eq "plan --source: exit status" 0 "$?"
check_eq "plan --source: that source's certificates only" \
    "$(jq -r .thumbprint labB/manifest.jsonl | sort)" "$(jq -r '.items[].thumbprint' one.json | sort)"
check_eq "plan --source: that source only is read" "issuing-ca-2" "$(jq -r '[.sources[].name] | join(" ")' one.json)"
ridA=$(jq -r '[.items[] | select(.source == "issuing-ca-1")][0].caRequestId' plan.json)
"$SSYNC_BIN" plan --config multi.conf --source issuing-ca-1 --request-id "$ridA" --json > oner.json 2> oner.err
check_eq "plan --source --request-id: the one request of that CA database" "issuing-ca-1 $ridA" \
    "$(jq -r '.items[] | "\(.source) \(.caRequestId)"' oner.json)"
"$SSYNC_BIN" plan --config multi.conf --source nope > /dev/null 2> nope.err
check_eq "plan --source with an unknown name: exit status 2" 2 "$?"
check_contains "plan --source with an unknown name: the sources it has" \
    "its sources: issuing-ca-1, issuing-ca-2, ca1-blobs" nope.err

# ca requests --config reads the configuration's one edb source, with that source's KRA key
"$SSYNC_BIN" ca requests --config multi.conf --archived --json > careq.json 2> careq.err
check_eq "ca requests --config: the edb source's archived keys, all opened with its own KRA" \
    "$(jq '.totals.archived_keys' careq.json)" "$(jq '.totals.open_with_our_kras' careq.json)"
check "ca requests --config: keys were found" test "$(jq '.totals.archived_keys' careq.json)" -gt 0
"$SSYNC_BIN" ca requests --config multi.conf --source issuing-ca-2 > /dev/null 2> careq2.err
check_eq "ca requests --source of another type: usage error" 2 "$?"
check_contains "ca requests --source of another type: says so" \
    'no source "issuing-ca-2" of type edb' careq2.err

# ---- the single [source] with its own KRA key needs no [kra] ----
write_config labA single.conf
sed -i 's|^path = labA/blobs|path = labB/blobs|; s|^ca = labA/ca.pem|ca = labB/ca.pem|; s|^crl = labA/ca.crl|crl = labB/ca.crl\nkra_key = labB/kra.p12\nkra_password_file = labB/kra.pass|; /^\[kra\]/,/^password_file/d' single.conf
sed -i "s|^path = $T_TMP/state.db|path = $T_TMP/state-single.db|" single.conf
"$SSYNC_BIN" plan --config single.conf --json > single.json 2> single.err
check_eq "[source] with kra_key and no [kra]: exit status" 0 "$?"
check_eq "[source] with kra_key: every key of CA 2 recovered" "$nB" \
    "$(jq '[.items[] | select(.source == "default" and (.error | not))] | length' single.json)"

# ---- remove: the warning searches every source ----
tpB=$(jq -r '[.items[] | select(.action == "upload" and .source == "issuing-ca-2")][0].thumbprint' sync.json)
"$SSYNC_BIN" remove --config multi.conf --thumbprint "$tpB" --dry-run > rm.txt 2> rm.err
check_eq "remove --dry-run: exit status" 0 "$?"
check_contains "remove: a certificate still in CA 2's blobs is found there" "labB/blobs/" rm.err

# ---- filters are per source: CA 2 denies one of its users, CA 1 is not affected ----
denied=$(jq -r 'select(.revoked | not) | .userPrincipalName' labB/manifest.jsonl | head -n 1)
echo "$denied" > denyB.txt
multi_config deny.conf state-deny.db "${SRC_A[@]}" "${SRC_B[@]}" 'users_deny = denyB.txt'
"$SSYNC_BIN" plan --config deny.conf --json > deny.json 2> deny.err
check_eq "per-source users_deny: exit status" 0 "$?"
check_eq "per-source users_deny: CA 2's certificates of the user are skipped by its filter" \
    "user on users_deny" \
    "$(jq -r --arg u "$denied" '[.items[] | select(.source == "issuing-ca-2" and .userPrincipalName == $u) | .reason] | unique | join(",")' deny.json)"
check_eq "per-source users_deny: CA 1's items are not filtered by it" 0 \
    "$(jq '[.items[] | select(.source == "issuing-ca-1" and .reason == "user on users_deny")] | length' deny.json)"

# ---- a broken source: the dirty database of CA 2; CA 1 still syncs ----
curl -s --cacert labA/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
SRC_B_DIRTY=('[source "issuing-ca-2"]' 'type = edb' 'path = labB/dirty.edb' 'ca = labB/ca.pem'
    'crl = labB/ca.crl' 'kra_key = labB/kra.p12' 'kra_password_file = labB/kra.pass')
multi_config broken.conf state-broken.db "${SRC_A[@]}" "${SRC_B_DIRTY[@]}"
"$SSYNC_BIN" sync --config broken.conf --json > broken.json 2> broken.err
check_eq "broken source: exit status 3 (partial)" 3 "$?"
check_eq "broken source: one error line, naming the source" 1 \
    "$(grep -c 'source "issuing-ca-2"' broken.err)"
check_contains "broken source: the line says the database is dirty and its items are left out" \
    "its certificates are left out of this run" broken.err
grep 'source "issuing-ca-2"' broken.err | grep -qi dirty
check_eq "broken source: the line says why (dirty)" 0 "$?"
check "broken source: the report says why it was not read" \
    test -n "$(jq -r '.sources[] | select(.name == "issuing-ca-2") | .error' broken.json)"
emu records | jq -r '.records[].thumbprint' | sort > state-broken.txt
check_eq "broken source: the other CA synced" \
    "$(jq -r '.items[] | select(.action == "upload" and .source == "issuing-ca-1") | .thumbprint' sync.json | sort)" \
    "$(cat state-broken.txt)"
check_eq "broken source: nothing of it in the plan" 0 \
    "$(jq '[.items[] | select(.source == "issuing-ca-2")] | length' broken.json)"
"$SSYNC_BIN" check --config broken.conf > check-broken.txt 2>&1
check_eq "check: a broken source fails check" 1 "$?"
check_contains "check: the failing line names the source" 'source "issuing-ca-2": source' check-broken.txt

# ---- a missing file, no KRA key: each its own line, the others go on ----
SRC_B_MISSING=('[source "issuing-ca-2"]' 'type = edb' 'path = labB/missing.edb' 'ca = labB/ca.pem'
    'kra_key = labB/kra.p12' 'kra_password_file = labB/kra.pass')
SRC_B_NOKRA=('[source "ca2-nokra"]' 'type = blobs' 'path = labB/blobs' 'ca = labB/ca.pem')
multi_config missing.conf state-missing.db "${SRC_A[@]}" "${SRC_B_MISSING[@]}" "${SRC_B_NOKRA[@]}"
"$SSYNC_BIN" plan --config missing.conf --json > missing.json 2> missing.err
check_eq "missing file and no KRA: exit status 3 (partial)" 3 "$?"
check_contains "missing file: one line naming the source" 'source "issuing-ca-2": ' missing.err
check_contains "no KRA: one line naming the source and the fix" \
    'no KRA key: set [kra] key, or kra_key in [source "ca2-nokra"] (its certificates are left out' missing.err
check_eq "missing file and no KRA: the first CA is planned" "$nA" "$(jq '.items | length' missing.json)"

# ---- a database torn after its first rows: none of its rows stay in the plan ----
"$LAB_BIN" --out labC --users 40 --seed 33 --ca-name "Lab Issuing CA 3" --edb labC/ca.edb > /dev/null
pages=$(($(stat -c %s labC/ca.edb) / 8192))
SRC_C=('[source "ca3-torn"]' 'type = edb' 'path = labC/torn.edb' 'ca = labC/ca.pem'
    'kra_key = labC/kra.p12' 'kra_password_file = labC/kra.pass')
multi_config torn.conf state-torn.db "${SRC_B[@]}" "${SRC_C[@]}"
found=0
for p in $(seq $((pages - 1)) -1 $((pages - 12))); do # a zeroed page near the end
    cp labC/ca.edb labC/torn.edb
    dd if=/dev/zero of=labC/torn.edb bs=8192 seek="$p" count=1 conv=notrunc 2> /dev/null
    "$SSYNC_BIN" plan --config torn.conf --json > torn.json 2> torn.err
    if grep -q 'source "ca3-torn": .*row [1-9][0-9]* ' torn.err; then
        found=1
        break
    fi
done
check "a database that fails after some of its rows were read" test "$found" = 1
check_eq "torn database: none of its rows in the plan" 0 \
    "$(jq '[.items[] | select(.source == "ca3-torn")] | length' torn.json)"
check_eq "torn database: the report says it put none in" 0 \
    "$(jq '.sources[] | select(.name == "ca3-torn") | .items' torn.json)"
check_eq "torn database: the other source is planned" "$nB" \
    "$(jq '[.items[] | select(.source == "issuing-ca-2")] | length' torn.json)"

# ---- the configuration's names ----
printf '[source "a b"]\npath = x\n' > badname.conf
"$SSYNC_BIN" plan --config badname.conf > /dev/null 2> badname.err
check_eq "a bad source name: exit status" 1 "$?"
check_contains "a bad source name: file and line" 'badname.conf:1: [source "a b"]: not a source name' badname.err
printf '[source "a"]\npath = x\n[source "a"]\ntype = edb\n' > dup.conf
"$SSYNC_BIN" check --config dup.conf > dup.txt 2>&1
check_contains "a source named twice: check says where" 'dup.conf:3: [source "a"]: a source of that name is already defined' dup.txt
finish
