#!/usr/bin/env bash
# smimesync ca requests on lab CA databases: every request with its certificate (serial,
# thumbprint, validity, revocation) as the lab's manifest has it, the filters, and the KRA
# coverage of each archived key: the recipients (issuer + serial of the CA's two KRAs), whether a
# key we hold opens it (held KRA, a foreign KRA, no KRA), with totals; --config reads the
# database of [source] and the keys of [kra]; bad input gives one line and exit 1 or 2.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 8 --kras 2 --revoked 2 --renewals 1 --seed 51 --edb lab/ca.edb \
    --edb-opts extra=6 > /dev/null
"$LAB_BIN" --out other --users 2 --seed 52 > /dev/null
m=lab/manifest.jsonl
n=$(wc -l < $m)
serial_of() { openssl x509 -noout -serial -in "$1" | sed 's/.*=//'; }
kra1=$(serial_of lab/kra1.pem)
kra2=$(serial_of lab/kra2.pem)

# ---- the requests as the manifest has them ----
"$SSYNC_BIN" ca requests lab/ca.edb --json > all.json 2> all.err
check_eq "requests: exit status" 0 "$?"
check_eq "requests: nothing on stderr" "" "$(cat all.err)"
check_eq "requests: every request (the lab's and 6 more)" "$((n + 6))" "$(jq '.requests | length' all.json)"
check_eq "requests: in RequestID order" "$(jq -c '[.requests[].request_id] | sort' all.json)" \
    "$(jq -c '[.requests[].request_id]' all.json)"
jq -r '[(.serial | ascii_downcase), .thumbprint, .userPrincipalName, .revoked] | @tsv' $m | sort \
    > want.tsv
jq -r '.requests[] | select(.archived_key) | [.serial, .thumbprint, .upn, (.disposition == 21)] | @tsv' \
    all.json | sort > got.tsv
check_eq "requests: serial, thumbprint, UPN and revocation of every archived-key request" \
    "$(cat want.tsv)" "$(cat got.tsv)"
check_eq "requests: revoked ones carry when and why" "2" \
    "$(jq '[.requests[] | select(.disposition == 21 and .revoked_when != null and .revoked_reason != null)] | length' all.json)"
check_eq "requests: validity as ISO 8601 UTC" "true" \
    "$(jq '[.requests[] | select(.serial != null) | .not_after | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")] | all' all.json)"
check_eq "totals: requests, archived keys, no unreadable row" "$((n + 6)) $n 0" \
    "$(jq -r '.totals | "\(.requests) \(.archived_keys) \(.unreadable_rows)"' all.json)"
check_eq "coverage without a KRA key: not tried" "null" "$(jq '.totals.open_with_our_kras' all.json)"
check_eq "coverage: each archived key is encrypted to both KRAs" "$n" \
    "$(jq "[.requests[] | select(.kra.recipients == 2)] | length" all.json)"
check_eq "coverage: the recipients are the CA's two KRAs (issuer + serial)" \
    "$(printf '%s\n%s' "$kra1" "$kra2" | sort)" "$(jq -r '.kras[].serial' all.json | sort)"
check_eq "coverage: the issuer of each recipient" "CN=Lab Issuing CA,DC=lab,DC=example" \
    "$(jq -r '[.kras[].issuer] | unique | .[]' all.json)"

# ---- coverage with our keys ----
"$SSYNC_BIN" ca requests lab/ca.edb --archived --kra lab/kra2.key --kra-cert lab/kra2.pem \
    --json > held.json
check_eq "held KRA 2: every archived key opens" "$n $n 0 0" \
    "$(jq -r '.totals | "\(.archived_keys) \(.open_with_our_kras) \(.not_covered) \(.held_but_not_opened)"' held.json)"
check_eq "held KRA 2: marked held among the recipients" "$kra2" \
    "$(jq -r '[.requests[].kra.recipient[] | select(.held) | .serial] | unique | .[]' held.json)"
check_eq "--archived: only requests with a key" "$n" "$(jq '.requests | length' held.json)"
"$SSYNC_BIN" ca requests lab/ca.edb --archived --kra other/kra.p12 \
    --kra-pass-file other/kra.pass > foreign.txt
check_eq "a foreign KRA: exit status 0" 0 "$?"
check_contains "a foreign KRA: every key not covered" \
    "0 open with our KRA keys, 0 held but do not open, $n not covered" foreign.txt
check_contains "a foreign KRA: the per-request line" "encrypted to 2 KRAs; not covered" foreign.txt
check_contains "text: the KRA totals line" "KRA serial $kra1 issued by CN=Lab Issuing CA" foreign.txt

# ---- filters ----
req=$(jq -r '.requests[] | select(.archived_key) | .requester' all.json | head -1)
check_eq "--requester (case-insensitive)" \
    "$(jq --arg r "$req" '[.requests[] | select(.requester == $r)] | length' all.json)" \
    "$("$SSYNC_BIN" ca requests lab/ca.edb --requester "${req^^}" --json | jq '.requests | length')"
tmpl=$(jq -r '.requests[] | select(.archived_key) | .template' all.json | head -1)
check_eq "--template" "$(jq --arg t "$tmpl" '[.requests[] | select(.template == $t)] | length' all.json)" \
    "$("$SSYNC_BIN" ca requests lab/ca.edb --template "$tmpl" --json | jq '.requests | length')"
check_eq "--template: none of an unknown template" 0 \
    "$("$SSYNC_BIN" ca requests lab/ca.edb --template NoSuchTemplate --json | jq '.requests | length')"

# ---- --config: [source] path and [kra] keys ----
EMU_URL=https://127.0.0.1:9 write_config lab cfg.conf
sed -i "s|^type = blobs|type = edb|; s|^path = lab/blobs|path = lab/ca.edb|" cfg.conf
"$SSYNC_BIN" ca requests --config cfg.conf --archived --json > cfg.json 2> cfg.err
check_eq "--config: exit status" 0 "$?"
check_eq "--config: the [kra] key opens every archived key" "$n" "$(jq .totals.open_with_our_kras cfg.json)"
EMU_URL=https://127.0.0.1:9 write_config lab blobs.conf
"$SSYNC_BIN" ca requests --config blobs.conf > bad.out 2> bad.err
check_eq "--config with a blobs source: exit status 1" 1 "$?"
check_contains "--config with a blobs source: the message" "no source of type edb: give the database FILE instead" bad.err

# ---- a dirty copy is listed with a warning; bad input ----
"$LAB_BIN" --out dirty --users 2 --seed 53 --edb dirty/ca.edb --edb-opts dirty > /dev/null
"$SSYNC_BIN" ca requests dirty/ca.edb --json > dirty.json 2> dirty.err
check_eq "dirty copy: exit status 0, one warning" "0 1" "$? $(wc -l < dirty.err)"
check_eq "dirty copy: its requests" 2 "$(jq '.requests | length' dirty.json)"
gunzip -c "$SSYNC_DATA/ese-real/basic.edb.gz" > basic.edb
"$SSYNC_BIN" ca requests basic.edb > bad.out 2> bad.err
check_eq "not a CA database: exit status 1" 1 "$?"
check_contains "not a CA database: the message" "no table Requests (not an AD CS database?)" bad.err
"$SSYNC_BIN" ca requests > bad.out 2> bad.err
check_eq "neither --config nor FILE: exit status 2" 2 "$?"
check_contains "neither --config nor FILE: the message" "give either --config FILE or the database FILE" bad.err
"$SSYNC_BIN" ca requests --config cfg.conf lab/ca.edb > bad.out 2> bad.err
check_eq "both --config and FILE: exit status 2" 2 "$?"
"$SSYNC_BIN" ca list > bad.out 2> bad.err
check_eq "unknown subcommand: exit status 2" 2 "$?"
finish
