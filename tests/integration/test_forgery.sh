#!/usr/bin/env bash
# Issue 18, High: forged inputs must not change who gets which key. A lab is synced to the
# emulator (keep_newest = 1, remove_revoked on); then each forgery (forge.py: a self-signed user
# certificate, a certificate of another CA, a blob re-signed by another key, a recipient that
# copies the KRA's issuer and serial, a CRL with the CA's name and another key, a CRL of another
# issuer) is added to the blob source, and a sync must leave Intune unchanged, fail the forged
# item with its reason (or ignore the CRL with a failure line, named in the run's reports) and
# exit non-zero. The same forgeries are then put into the two other sources: as PKCS#12 files
# (pfx source) and as rows of a CA database (edb source, smimesync-lab --edb-opts from=DIR). Without
# [source] ca, check fails saying how to get the CA certificate and sync refuses to run.
source "$(dirname "$0")/lib.sh"
FORGE=$(cd "$(dirname "$0")" && pwd)/forge.py
cd "$T_TMP"
"$LAB_BIN" --out lab --users 4 --renewals 0 --revoked 0 --expired 0 --seed 18 \
    --pfx-dir lab/pfx > /dev/null
check "lab generated" test -f lab/ca.pem
emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
write_config lab base.conf
printf '[policy]\nkeep_newest = 1\n' >> base.conf
state() { emu records | jq -r '.records[] | [.userPrincipalName, .thumbprint] | @tsv' | sort; }

m=lab/manifest.jsonl
victim=$(jq -r 'select(.userId != null) | .userPrincipalName' $m | head -n 1)
# Debian's python3, with python3-cryptography (scripts/bootstrap installs it)
/usr/bin/python3 "$FORGE" lab forged "$victim" $(jq -r .serial $m) ||
    { not_ok "forge.py wrote the forgeries"; finish; exit 1; }
ok "forgeries written for $victim"

"$SSYNC_BIN" sync --config base.conf > sync0.out 2> sync0.err
check_eq "baseline sync: exit status" 0 "$?"
state > before.txt
check "the victim's certificate is in Intune" grep -q "^$victim" before.txt

# forgery BLOB REASON: the lab's blobs plus the forged one; Intune unchanged.
forgery() {
    local f=$1 reason=$2 dir=blobs-${1%.der}
    rm -rf "$dir" && cp -r lab/blobs "$dir" && cp "forged/$f" "$dir/9999-$f"
    sed "0,/^path = /s|^path = .*|path = $T_TMP/$dir|" base.conf > "$f.conf" # [source] path
    "$SSYNC_BIN" sync --config "$f.conf" --json > "$f.json" 2> "$f.err"
    local rc=$?
    check "$f: sync exits non-zero ($rc)" test "$rc" -ne 0
    check_eq "$f: the forged item fails with its reason" 1 \
        "$(jq --arg r "$reason" '[.items[] | select((.file // .path // "") | endswith("9999-'"$f"'"))
           | select(tostring | contains($r))] | length' "$f.json")"
    check_eq "$f: no remove in the run" 0 \
        "$(jq '[.items[] | select(.action == "remove")] | length' "$f.json")"
    state > after.txt
    check_eq "$f: Intune unchanged" "$(cat before.txt)" "$(cat after.txt)"
}
forgery self-signed.der "not issued by a trusted CA"
forgery other-ca.der "not issued by a trusted CA"
forgery resigned.der "blob not signed by the CA"
# a genuine-looking newer certificate whose key cannot be recovered: keep_newest must not remove
# the victim's certificate on its account
forgery kra-twin.der "decrypt"
check_eq "kra-twin.der: the victim's certificate is kept until the newer one is in Intune" 1 \
    "$(jq --arg u "$victim" '[.items[] | select(.action == "keep" and
       (.reason // "" | contains("removed once the newer one is in Intune")))] | length' kra-twin.der.json)"

# a certificate of the CA whose SAN UPN and e-mail carry terminal controls and a forged line:
# refused by the plan, and nothing of it reaches the terminal, the log or the text report raw
forgery injected.der "well-formed"
rm -rf blobs-inj && cp -r lab/blobs blobs-inj && cp forged/injected.der blobs-inj/9999-injected.der
sed "0,/^path = /s|^path = .*|path = $T_TMP/blobs-inj|" base.conf > inj.conf
"$SSYNC_BIN" sync --config inj.conf --report inj.txt > inj.out 2> inj.err
check "injected SAN: no ESC byte on stdout, stderr or in the text report" \
    bash -c "! grep -q $'\x1b' inj.out inj.err inj.txt"
check "injected SAN: no BEL byte either" bash -c "! grep -q $'\x07' inj.out inj.err inj.txt"
check "injected SAN: no forged line starts with 'upload ceo@'" \
    bash -c "! grep -q '^upload ceo@' inj.out inj.err inj.txt"

# crl FILE: a CRL listing every serial; ignored with a failure line, no removal
crl() {
    sed "s|^crl = .*|crl = $T_TMP/forged/$1|" base.conf > "$1.conf"
    "$SSYNC_BIN" check --config "$1.conf" > "$1.check" 2>&1
    check "$1: check fails" test $? -ne 0
    check_contains "$1: check says why" "CRL signature invalid" "$1.check"
    "$SSYNC_BIN" sync --config "$1.conf" --json --report "$1.html" > "$1.json" 2> "$1.err"
    local rc=$?
    check "$1: sync exits non-zero ($rc)" test "$rc" -ne 0
    check_contains "$1: the run's log says why" "CRL signature invalid" "$1.err"
    check_eq "$1: the JSON report names the ignored CRL" "crl SSYNC_ERR_CRL_SIGNATURE" \
        "$(jq -r '.problems[] | select(.path | endswith("'"$1"'")) | "\(.what) \(.code)"' "$1.json")"
    check_contains "$1: the HTML report names the ignored CRL" "$1: CRL signature invalid" "$1.html"
    check_eq "$1: no item revoked" 0 \
        "$(jq '[.items[] | select(.revoked == true or .action == "remove")] | length' "$1.json")"
    state > after.txt
    check_eq "$1: Intune unchanged" "$(cat before.txt)" "$(cat after.txt)"
}
crl forged.crl
crl other-issuer.crl

# The pfx source: the same certificates as PKCS#12 files (forge.py), each added to the lab's
# pfx directory and manifest; a sync from it must leave Intune unchanged. The lab's own PKCS#12
# files hold the same certificates as its blobs, so the baseline is the same Intune state.
sed -e 's|^type = blobs$|type = pfx|' -e "0,/^path = /s|^path = .*|path = $T_TMP/lab/pfx|" \
    base.conf > pfx.conf
"$SSYNC_BIN" sync --config pfx.conf --json > pfx0.json 2> pfx0.err
check_eq "pfx source: the baseline sync changes nothing" \
    "0 0" "$(jq -r '"\(.counts.upload) \(.counts.remove)"' pfx0.json)"
pfx_forgery() {
    local f=$1 reason=$2 dir=pfx-$1
    rm -rf "$dir" && cp -a lab/pfx "$dir" && cp -a "forged/$f.p12" "forged/$f.pass" "$dir/"
    printf '%s.p12,%s.pass,%s\n' "$f" "$f" "$victim" >> "$dir/manifest.csv"
    sed "0,/^path = /s|^path = .*|path = $T_TMP/$dir|" pfx.conf > "pfx-$f.conf"
    "$SSYNC_BIN" sync --config "pfx-$f.conf" --json > "pfx-$f.json" 2> "pfx-$f.err"
    local rc=$?
    check "pfx $f: sync exits non-zero ($rc)" test "$rc" -ne 0
    check_eq "pfx $f: the forged item fails with its reason" 1 \
        "$(jq --arg r "$reason" '[.items[] | select(tostring | contains("'"$f"'.p12"))
           | select(tostring | contains($r))] | length' "pfx-$f.json")"
    check_eq "pfx $f: no remove in the run" 0 \
        "$(jq '[.items[] | select(.action == "remove")] | length' "pfx-$f.json")"
    state > after.txt
    check_eq "pfx $f: Intune unchanged" "$(cat before.txt)" "$(cat after.txt)"
}
pfx_forgery self-signed "not issued by a trusted CA"
pfx_forgery other-ca "not issued by a trusted CA"
sed "s|^crl = .*|crl = $T_TMP/forged/forged.crl|" pfx.conf > pfx-crl.conf
"$SSYNC_BIN" sync --config pfx-crl.conf --json > pfx-crl.json 2> pfx-crl.err
check "pfx forged CRL: sync exits non-zero" test $? -ne 0
check_eq "pfx forged CRL: no item revoked or removed" 0 \
    "$(jq '[.items[] | select(.revoked == true or .action == "remove")] | length' pfx-crl.json)"
state > after.txt
check_eq "pfx forged CRL: Intune unchanged" "$(cat before.txt)" "$(cat after.txt)"

# The CA database source: the lab's blobs and a forged one, written as an AD CS database
# (smimesync-lab --edb-opts from=DIR: one issued request per blob, its RawArchivedKey the blob's
# EnvelopedData). The database carries no CA signature of its own: the chain of the certificate
# and the KRA's decryption are the controls.
edb_from() { "$LAB_BIN" --edb "$2" --edb-opts "from=$1" > /dev/null; }
edb_from lab/blobs lab.edb
check "edb: the lab's blobs as a CA database" test -s lab.edb
sed -e 's|^type = blobs$|type = edb|' -e "0,/^path = /s|^path = .*|path = $T_TMP/lab.edb|" \
    base.conf > edb.conf
"$SSYNC_BIN" sync --config edb.conf --json > edb0.json 2> edb0.err
check_eq "edb source: the baseline sync changes nothing" \
    "0 0 0" "$(jq -r '"\(.counts.upload) \(.counts.remove) \(.counts.failed)"' edb0.json)"
edb_forgery() {
    local f=$1 reason=$2 dir=edb-${1%.der}
    rm -rf "$dir" && cp -r lab/blobs "$dir" && cp "forged/$f" "$dir/9999-$f"
    edb_from "$dir" "$dir.edb" || not_ok "edb $f: database written"
    sed "0,/^path = /s|^path = .*|path = $T_TMP/$dir.edb|" edb.conf > "edb-$f.conf"
    "$SSYNC_BIN" sync --config "edb-$f.conf" --json > "edb-$f.json" 2> "edb-$f.err"
    local rc=$?
    check "edb $f: sync exits non-zero ($rc)" test "$rc" -ne 0
    check_eq "edb $f: the forged item fails with its reason" 1 \
        "$(jq --arg r "$reason" '[.items[] | select(tostring | contains($r))] | length' \
           "edb-$f.json")"
    check_eq "edb $f: no remove in the run" 0 \
        "$(jq '[.items[] | select(.action == "remove")] | length' "edb-$f.json")"
    state > after.txt
    check_eq "edb $f: Intune unchanged" "$(cat before.txt)" "$(cat after.txt)"
}
edb_forgery self-signed.der "not issued by a trusted CA"
edb_forgery other-ca.der "not issued by a trusted CA"
edb_forgery kra-twin.der "decrypt"
sed "s|^crl = .*|crl = $T_TMP/forged/other-issuer.crl|" edb.conf > edb-crl.conf
"$SSYNC_BIN" sync --config edb-crl.conf --json > edb-crl.json 2> edb-crl.err
check "edb another issuer's CRL: sync exits non-zero" test $? -ne 0
check_eq "edb another issuer's CRL: no item revoked or removed" 0 \
    "$(jq '[.items[] | select(.revoked == true or .action == "remove")] | length' edb-crl.json)"
state > after.txt
check_eq "edb another issuer's CRL: Intune unchanged" "$(cat before.txt)" "$(cat after.txt)"

# remove's warning "still in the source (the next sync uploads it again)" counts only what a
# sync would take: the victim's own blob does, the same certificate re-signed by another key
# under the CA's name does not.
victim_tp=$(jq -r --arg u "$victim" 'select(.userPrincipalName == $u) | .thumbprint' $m | head -n 1)
mkdir -p rm-genuine rm-forged
cp "lab/$(jq -r --arg u "$victim" 'select(.userPrincipalName == $u) | .file' $m | head -n 1)" rm-genuine/
cp forged/resigned-genuine.der rm-forged/
for d in genuine forged; do
    sed "0,/^path = /s|^path = .*|path = $T_TMP/rm-$d|" base.conf > "rm-$d.conf"
    "$SSYNC_BIN" remove --config "rm-$d.conf" --thumbprint "$victim_tp" --dry-run \
        > "rm-$d.out" 2> "rm-$d.err"
done
check_contains "remove: the genuine blob is still in the source" "still in the source" rm-genuine.err
check "remove: a re-signed copy of it is not" bash -c '! grep -q "still in the source" rm-forged.err'

# without [source] ca: check fails with the way to get the certificate, sync refuses
grep -v '^ca = ' base.conf > noca.conf
"$SSYNC_BIN" check --config noca.conf > noca.check 2>&1
check "no ca: check fails" test $? -ne 0
check_contains "no ca: check names certutil -ca.cert" "certutil -ca.cert" noca.check
# and shows the CA certificate the blobs carry, with its SHA-256 fingerprint, to compare once
fp=$(openssl x509 -in lab/ca.pem -noout -fingerprint -sha256 | cut -d= -f2)
check_contains "no ca: check shows the blobs' CA with its SHA-256 fingerprint" "SHA-256 $fp" noca.check
check_contains "no ca: check says how to write it out" "openssl pkcs7" noca.check
"$SSYNC_BIN" sync --config noca.conf > noca.out 2> noca.err
check "no ca: sync refuses" test $? -ne 0
check_contains "no ca: sync says why" "[source] ca is not set" noca.err
state > after.txt
check_eq "no ca: Intune unchanged" "$(cat before.txt)" "$(cat after.txt)"
finish
