#!/usr/bin/env bash
# What decides who receives a key is trusted only when nobody else may change it (ssh's
# StrictModes rule, issue 18 #3, #5, #11): the journal, its directory and reports/, the
# configuration, the connector key, ca_bundle and CRLs, export's --out-dir and upload's records
# are refused when group or others may write them or another user (not root) owns them; `check`
# fails on them. And an edited user-cache row never sends a key to another user.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --seed 23 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
write_config lab base.conf
m=lab/manifest.jsonl

# conf NAME STATE_PATH: base.conf with another [state] path
conf() { sed "s|^path = $T_TMP/state.db|path = $2|" base.conf > "$1"; chmod 600 "$1"; }
# state_check CONF: the state line of `check`
state_line() { "$SSYNC_BIN" check --config "$1" 2>&1 | grep -E '^ *(FAIL|ok|OK|fail) +state' || true; }

## 3. the journal, its directory, reports/
mkdir -m 0770 gw && chmod 0770 gw
conf gw.conf "$T_TMP/gw/state.db"
"$SSYNC_BIN" check --config gw.conf > gw.check 2>&1
check_eq "check: a group-writable journal directory fails check" 1 "$?"
check "check: the state line says why" grep -qE 'FAIL.*state.*(group or others may write)' gw.check
"$SSYNC_BIN" sync --config gw.conf > gw.out 2> gw.err
check_eq "sync: a group-writable journal directory: exit 1" 1 "$?"
check_contains "sync: says the directory is writable by others" "group or others may write" gw.err
check_eq "sync: nothing written to Intune" 0 "$(emu records | jq .count)"
check "sync: no journal created there" test ! -e gw/state.db

mkdir -m 0700 foreign && chown 65534:65534 foreign
conf foreign.conf "$T_TMP/foreign/state.db"
"$SSYNC_BIN" sync --config foreign.conf > /dev/null 2> foreign.err
check_eq "sync: a journal directory owned by another user: exit 1" 1 "$?"
check_contains "sync: names the owner" "owned by uid 65534" foreign.err
"$SSYNC_BIN" check --config foreign.conf > foreign.check 2>&1
check_eq "check: a foreign journal directory fails check" 1 "$?"

mkdir -m 0700 gwfile
conf gwfile.conf "$T_TMP/gwfile/state.db"
sqlite3 gwfile/state.db 'CREATE TABLE x(y)' && chmod 0620 gwfile/state.db
"$SSYNC_BIN" sync --config gwfile.conf > /dev/null 2> gwfile.err
check_eq "sync: a group-writable journal file: exit 1" 1 "$?"
check_contains "sync: names the journal" "journal $T_TMP/gwfile/state.db: mode 620" gwfile.err

mkdir -m 0700 link
conf link.conf "$T_TMP/link/state.db"
mkdir -m 0700 real && ln -s "$T_TMP/real/state.db" link/state.db
"$SSYNC_BIN" sync --config link.conf > /dev/null 2> link.err
check_eq "sync: a journal that is a symbolic link: exit 1" 1 "$?"
check "sync: nothing created through the link" test ! -e real/state.db
"$SSYNC_BIN" check --config link.conf > link.check 2>&1
check_eq "check: a journal that is a symbolic link fails check" 1 "$?"

mkdir -m 0700 rep && mkdir -m 0777 rep/reports && chmod 0777 rep/reports
conf rep.conf "$T_TMP/rep/state.db"
"$SSYNC_BIN" check --config rep.conf > rep.check 2>&1
check_eq "check: a world-writable reports/ fails check" 1 "$?"
check_contains "check: names the report directory" "report directory $T_TMP/rep/reports" rep.check

## 3. a poisoned user-cache row does not send a key to another user
mkdir -m 0700 ok
conf ok.conf "$T_TMP/ok/state.db"
"$SSYNC_BIN" plan --config ok.conf > /dev/null 2>&1
check_eq "plan: the user cache filled" 3 \
    "$(sqlite3 ok/state.db "SELECT count(*) FROM user_cache WHERE kind = 'upn'")"
victim=$(jq -r -s '.[0].userPrincipalName' $m)
victim_tp=$(jq -r -s '.[0].thumbprint' $m)
other=$(jq -r -s '.[1].userPrincipalName' $m)
other_id=$(jq -r -s '.[1].userId' $m)
python3 - "$T_TMP/ok/state.db" "$victim" "$other" "$other_id" <<'PY'
import sqlite3, sys
db, victim, other, other_id = sys.argv[1:]
c = sqlite3.connect(db)
n = c.execute("UPDATE user_cache SET id = ?, upn = ?, mail = ? WHERE kind = 'upn' AND key = ?",
              (other_id, other, other, victim)).rowcount
c.commit()
sys.exit(0 if n == 1 else 1)
PY
check "the victim's cache row now names the other user" test $? -eq 0
"$SSYNC_BIN" sync --config ok.conf --json > poison.json 2> poison.err
check_eq "sync: the victim's certificate never goes to the other user" "" \
    "$(emu records | jq -r --arg u "$other" --arg t "$victim_tp" \
        '.records[] | select((.userPrincipalName | ascii_downcase) == $u and (.thumbprint | ascii_downcase) == $t) | .thumbprint')"
check_eq "sync: the victim's certificate went to the victim (looked up afresh)" "$victim_tp" \
    "$(emu records | jq -r --arg u "$victim" --arg t "$victim_tp" \
        '.records[] | select((.userPrincipalName | ascii_downcase) == $u and (.thumbprint | ascii_downcase) == $t) | .thumbprint')"
check_eq "journal: the edited row was replaced by the directory's answer" "$victim" \
    "$(sqlite3 ok/state.db "SELECT upn FROM user_cache WHERE kind = 'upn' AND key = '$victim'")"

## 5. the configuration, the connector key, ca_bundle and CRLs
cp base.conf c5.conf && chmod 0666 c5.conf
"$SSYNC_BIN" check --config c5.conf > c5.check 2>&1
check_eq "check: a world-writable configuration fails check" 1 "$?"
check_contains "check: names the configuration" "configuration c5.conf: mode 666" c5.check
"$SSYNC_BIN" sync --config c5.conf > /dev/null 2> c5.err
check_eq "sync: a world-writable configuration: exit 1" 1 "$?"
chmod 0600 c5.conf && chown 65534:65534 c5.conf
"$SSYNC_BIN" plan --config c5.conf > /dev/null 2> c5f.err
check_eq "plan: a configuration owned by another user: exit 1" 1 "$?"
check_contains "plan: names the owner" "owned by uid 65534" c5f.err
# file_case KEY FILE WHAT: a copy of FILE foreign-owned, then group-writable, in KEY of the config
file_case() {
    local key=$1 file=$2 what=$3 copy
    copy=$T_TMP/c5-$(basename "$file")
    cp "$file" "$copy"
    sed "s|^$key = .*|$key = $copy|" base.conf > c5x.conf
    chmod 0600 c5x.conf
    chown 65534:65534 "$copy"
    "$SSYNC_BIN" check --config c5x.conf > c5x.check 2>&1
    check_eq "check: a $what owned by another user fails check" 1 "$?"
    check_contains "check: says why ($what)" "owned by uid 65534" c5x.check
    chown 0:0 "$copy" && chmod 0664 "$copy"
    curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
    "$SSYNC_BIN" sync --config c5x.conf > /dev/null 2> c5x.err
    check_eq "sync: a group-writable $what: exit 1" 1 "$?"
    check_contains "sync: says why ($what)" "group or others may write" c5x.err
    check_eq "sync: nothing written to Intune ($what)" 0 "$(emu records | jq .count)"
}
file_case public_key lab/connector-public.rsa1blob "connector key"
file_case ca_bundle lab/tls/ca.pem "ca_bundle"
file_case crl lab/ca.crl "CRL"

## 11. export --out-dir and upload's records
blob=lab/$(jq -r -s '.[0].file' $m)
exp() { "$SSYNC_BIN" export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir "$1" "$blob"; }
mkdir -m 0777 shared && chmod 0777 shared
exp shared > /dev/null 2> shared.err
check_eq "export: a world-writable --out-dir: exit 1" 1 "$?"
check_contains "export: says why" "group or others may write" shared.err
check_eq "export: nothing written there" "" "$(ls -A shared)"
mkdir -m 0700 theirs && chown 65534:65534 theirs
exp theirs > /dev/null 2> theirs.err
check_eq "export: an --out-dir owned by another user: exit 1" 1 "$?"
check_contains "export: names the owner" "owned by uid 65534" theirs.err
exp recs > /dev/null 2> recs.err
check_eq "export: a private --out-dir: exit 0" 0 "$?"
rec=$(ls recs/*.json | head -n 1)
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
chmod 0666 "$rec"
"$SSYNC_BIN" upload --config base.conf "$rec" > up1.out 2> up1.err
check_eq "upload: a record others may write: exit 1" 1 "$?"
check_contains "upload: says why" "group or others may write" up1.err
chmod 0600 "$rec" && chown 65534:65534 "$rec"
"$SSYNC_BIN" upload --config base.conf recs > up2.out 2> up2.err
check_eq "upload: a record owned by another user: exit 1" 1 "$?"
check_contains "upload: names the owner" "owned by uid 65534" up2.err
chown 0:0 "$rec" && chmod 0777 recs
"$SSYNC_BIN" upload --config base.conf "$rec" > up3.out 2> up3.err
check_eq "upload: a record in a world-writable directory: exit 1" 1 "$?"
check_eq "upload: nothing written to Intune" 0 "$(emu records | jq .count)"
chmod 0700 recs
"$SSYNC_BIN" upload --config base.conf "$rec" > up4.out 2> up4.err
check_eq "upload: a private record: exit 0" 0 "$?"
check_eq "upload: the record is in Intune" 1 "$(emu records | jq .count)"
finish
