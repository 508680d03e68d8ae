#!/usr/bin/env bash
# The CA database source end to end: the lab writes its CA as an ESE database (smimesync-lab
# --edb); libesedb's esedbinfo and esedbexport read back what was written; a sync from the
# database gives the same Intune state as a sync from the same lab's recovery blobs; a targeted
# run by request id and an incremental run after one new request read only their rows.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 14 --unknown-users 1 --revoked 2 --renewals 2 --key-pool 4 \
    --seed 21 --edb lab/ca.edb --edb-opts extra=30,partial=lab/partial.edb > /dev/null
check "lab with a CA database" test -s lab/ca.edb -a -s lab/partial.edb
m=lab/manifest.jsonl
ncert=$(wc -l < $m)

# ---- two independent readers of the file the lab wrote ----
esedbinfo lab/ca.edb > info.txt 2>&1
check_eq "esedbinfo: exit status" 0 "$?"
check_contains "esedbinfo: format 0x620 revision 0x14 (20)" "Current format:		0x620,20" info.txt
check_contains "esedbinfo: 8 KiB pages" "Page size:		8192 bytes" info.txt
check_contains "esedbinfo: the Requests table" "Requests" info.txt
check_contains "esedbinfo: a separated long-value column" "RawArchivedKey	Large binary data" info.txt
esedbexport -t exp lab/ca.edb > exp.log 2>&1
check_eq "esedbexport: exit status" 0 "$?"
check_eq "esedbexport: every request (the lab's and 30 more)" "$((ncert + 30))" \
    "$(($(wc -l < exp.export/Requests.0) - 1))"
check_eq "esedbexport: every certificate (one extra request was denied)" "$((ncert + 29))" \
    "$(($(wc -l < exp.export/Certificates.1) - 1))"
# Certificates columns: RequestID NotBefore NotAfter $SerialNumber $CertificateHash2
# $CertificateTemplate $UPN $CommonName RawCertificate; the lab's rows are its template's
jq -r '[(.serial | ascii_downcase), .thumbprint, .userPrincipalName] | @tsv' $m | sort > want.tsv
awk -F'\t' 'NR > 1 && $6 ~ /^1\.3\.6\.1\.4\.1\.311\.21\.8\./ { gsub(/ /, "", $5); print $4 "\t" $5 "\t" $7 }' \
    exp.export/Certificates.1 | sort > got.tsv
check_eq "esedbexport: serial, hash and UPN of every lab certificate" "$(cat want.tsv)" \
    "$(cat got.tsv)"
check_eq "esedbexport: requester of every lab request" "$ncert" \
    "$(awk -F'\t' 'NR > 1 && $7 ~ /^LAB\\\\[a-z]+\./' exp.export/Requests.0 | wc -l)"
check_eq "esedbexport: the revoked dispositions" "$(jq -s '[.[] | select(.revoked)] | length' $m)" \
    "$(awk -F'\t' 'NR > 1 && $2 == 21' exp.export/Requests.0 | wc -l)"
# libesedb 20181229 builds B-tree keys with the key-size field in front (docs/formats.md), so it
# finds no separated long value: esedbexport prints RawArchivedKey (column 9) empty
check_eq "esedbexport: separated long values are beyond libesedb 20181229 (documented)" 0 \
    "$(awk -F'\t' 'NR > 1 && $9 != ""' exp.export/Requests.0 | wc -l)"

# ---- long values byte for byte: a lab database with them in the record (intrinsic) ----
"$LAB_BIN" --out lab2 --users 5 --revoked 1 --seed 22 --edb lab2/ca.edb --edb-opts intrinsic \
    > /dev/null
esedbexport -t exp2 lab2/ca.edb > exp2.log 2>&1
check_eq "esedbexport (intrinsic): exit status" 0 "$?"
blob_content() { # the RawArchivedKey a recovery blob wraps (its SignedData content)
    case $1 in
    *.der) cat "$1" ;;
    *) sed '/-----/d' "$1" | tr -d '\r' | base64 -d ;;
    esac | openssl cms -verify -noverify -inform DER -binary 2> /dev/null
}
while read -r f serial tp; do
    printf '%s\t%s\t%s\n' "$serial" "$tp" "$(blob_content "lab2/$f" | sha256sum | cut -c1-64)"
done < <(jq -r '[.file, (.serial | ascii_downcase), .thumbprint] | @tsv' lab2/manifest.jsonl) |
    sort > want2.tsv
# RequestID -> sha256 of RawArchivedKey; RequestID -> serial, sha1 of RawCertificate
awk -F'\t' 'NR > 1 && $9 != "" { print $1 "\t" $9 }' exp2.export/Requests.0 |
    while IFS=$'\t' read -r id hex; do
        printf '%s\t%s\n' "$id" "$(printf '%s' "$hex" | xxd -r -p | sha256sum | cut -c1-64)"
    done | sort > keys2.tsv
awk -F'\t' 'NR > 1 { print $1 "\t" $4 "\t" $9 }' exp2.export/Certificates.1 |
    while IFS=$'\t' read -r id serial hex; do
        printf '%s\t%s\t%s\n' "$id" "$serial" "$(printf '%s' "$hex" | xxd -r -p | sha1sum | cut -c1-40)"
    done | sort > certs2.tsv
join -t $'\t' certs2.tsv keys2.tsv | cut -f2- | sort > got2.tsv
check_eq "esedbexport: RawCertificate and RawArchivedKey byte for byte (every lab certificate)" \
    "$(cat want2.tsv)" "$(cat got2.tsv)"
check_eq "esedbexport: one archived key per lab certificate" "$(wc -l < lab2/manifest.jsonl)" \
    "$(wc -l < keys2.tsv)"

# ---- the same Intune state from the blobs and from the database ----
emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
write_config lab blobs.conf
"$SSYNC_BIN" sync --config blobs.conf --json > sync-blobs.json 2> sync-blobs.err
check_eq "sync from blobs: exit status" 0 "$?"
emu records | jq -r '.records[] | [.userPrincipalName, .thumbprint] | @tsv' | sort > state-blobs.txt
check "sync from blobs uploaded records" test -s state-blobs.txt
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null

edb_config() { # edb_config FILE EDB [extra lines...]
    local f=$1 edb=$2
    shift 2
    write_config lab "$f"
    sed -i "s|^type = blobs|type = edb|; s|^path = lab/blobs|path = $edb|; s|^path = $T_TMP/state.db|path = $T_TMP/state-$f.db|" "$f"
    local line
    for line in "$@"; do
        awk -v l="$line" '{ print } /^\[source\]/ { print l }' "$f" > "$f.tmp" && mv "$f.tmp" "$f"
    done
}
edb_config edb.conf lab/ca.edb
"$SSYNC_BIN" plan --config edb.conf --json > plan-edb.json 2> plan-edb.err
check_eq "plan from the database: exit status" 0 "$?"
check_eq "plan from the database: one item per archived key" "$ncert" "$(jq '.items | length' plan-edb.json)"
check_eq "plan from the database: every key recovered, the lab's thumbprints" \
    "$(jq -r .thumbprint $m | sort)" "$(jq -r '.items[].thumbprint' plan-edb.json | sort)"
check_eq "plan from the database: items carry their request id" "$ncert" \
    "$(jq '[.items[] | select(.caRequestId > 0)] | length' plan-edb.json)"
"$SSYNC_BIN" check --config edb.conf > check.txt 2>&1
check_contains "check: the CA database and its requests" "lab/ca.edb: $((ncert + 30)) requests" check.txt
"$SSYNC_BIN" sync --config edb.conf --json > sync-edb.json 2> sync-edb.err
check_eq "sync from the database: exit status" 0 "$?"
emu records | jq -r '.records[] | [.userPrincipalName, .thumbprint] | @tsv' | sort > state-edb.txt
check_eq "the same Intune state as from the blobs" "$(cat state-blobs.txt)" "$(cat state-edb.txt)"

# ---- a targeted run reads one request ----
rid=$(jq -r '[.items[] | select(.action == "upload")][0].caRequestId' sync-edb.json)
"$SSYNC_BIN" plan --config edb.conf --request-id "$rid" --json > plan-one.json 2> plan-one.err
check_eq "plan --request-id: exit status" 0 "$?"
check_eq "plan --request-id: that request only" "$rid" "$(jq -r '.items[] | .caRequestId' plan-one.json)"
check_eq "plan --request-id: already in Intune" "keep" "$(jq -r '.items[0].action' plan-one.json)"

# ---- incremental: the partial database lacks the last request ----
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
edb_config inc.conf lab/partial.edb "incremental = yes"
"$SSYNC_BIN" sync --config inc.conf --json > inc1.json 2> inc1.err
check_eq "incremental, first run: exit status" 0 "$?"
check_eq "incremental, first run: every request but the last" "$((ncert - 1))" \
    "$(jq '.items | length' inc1.json)"
last=$(jq '[.items[].caRequestId] | max' inc1.json)
check_eq "incremental: the journal keeps the last request id" "$last" \
    "$(sqlite3 "$T_TMP/state-inc.conf.db" "SELECT value FROM meta WHERE key = 'edb.last_request_id'")"
sed -i "s|path = lab/partial.edb|path = lab/ca.edb|" inc.conf
"$SSYNC_BIN" plan --config inc.conf --json > inc2.json 2> inc2.err
check_eq "incremental after one new request: exit status" 0 "$?"
check_eq "incremental after one new request: that request only" 1 "$(jq '.items | length' inc2.json)"
check "incremental after one new request: it is after the last one seen" \
    test "$(jq '.items[0].caRequestId' inc2.json)" -gt "$last"
check_eq "incremental after one new request: its certificate is the lab's last" \
    "$(tail -n 1 $m | jq -r .thumbprint)" "$(jq -r '.items[0].thumbprint' inc2.json)"

# ---- the configured filters run in the query ----
edb_config req.conf lab/ca.edb "requester = LAB\\\\$(head -n 1 $m | jq -r .userPrincipalName | cut -d@ -f1)"
"$SSYNC_BIN" plan --config req.conf --json > plan-req.json 2> plan-req.err
check_eq "requester filter: the requests of that requester" \
    "$(jq -r --arg u "$(head -n 1 $m | jq -r .userPrincipalName)" 'select(.userPrincipalName == $u) | .thumbprint' $m | sort)" \
    "$(jq -r '.items[].thumbprint' plan-req.json | sort)"
edb_config tmpl.conf lab/ca.edb "templates = Machine"
"$SSYNC_BIN" plan --config tmpl.conf --json > plan-tmpl.json 2> plan-tmpl.err
check_eq "template filter: no S/MIME request is a Machine certificate" 0 "$(jq '.items | length' plan-tmpl.json)"

# ---- our reader on the intrinsic database: the same keys and certificates ----
emu_start lab2 || { not_ok "emulator started (intrinsic)"; finish; exit 1; }
write_config lab2 intr.conf
sed -i "s|^type = blobs|type = edb|; s|^path = lab2/blobs|path = lab2/ca.edb|; s|^path = $T_TMP/state.db|path = $T_TMP/state-intr.db|" intr.conf
"$SSYNC_BIN" plan --config intr.conf --json > plan-intr.json 2> plan-intr.err
check_eq "plan from the intrinsic database: exit status" 0 "$?"
check_eq "plan from the intrinsic database: every key recovered, the lab's thumbprints" \
    "$(jq -r .thumbprint lab2/manifest.jsonl | sort)" "$(jq -r '.items[].thumbprint' plan-intr.json | sort)"
finish
