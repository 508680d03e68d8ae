#!/usr/bin/env bash
# The CA database pitfalls, each on a database the lab writes that way: compressed long values
# are decompressed (LZXPRESS) or refused naming the file, column and row; a dirty database is
# refused with what to do instead; damaged files fail without a crash.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
small=(--users 3 --key-pool 1 --renewals 0 --revoked 0 --expired 0 --seed 31)

# compressed RawArchivedKey values are recovered as usual; dates stored as FILETIMEs; the
# revocation comes from the database alone (no CRL in the configuration)
"$LAB_BIN" --out lab --users 3 --key-pool 1 --renewals 0 --revoked 1 --expired 0 --seed 31 \
    --edb lab/ca.edb --edb-opts compress,filetime,extra=5 > /dev/null
check "lab with compressed archived keys" test -s lab/ca.edb
emu_start lab || { not_ok "emulator started"; finish; exit 1; }
write_config lab edb.conf
sed -i "s|^type = blobs|type = edb|; s|^path = lab/blobs|path = lab/ca.edb|; /^crl = /d" edb.conf
"$SSYNC_BIN" plan --config edb.conf --json > plan.json 2> plan.err
check_eq "compressed long values: plan exit status" 0 "$?"
check_eq "compressed long values: every key recovered" \
    "$(jq -r .thumbprint lab/manifest.jsonl | sort)" "$(jq -r '.items[].thumbprint' plan.json | sort)"
check_eq "revoked in the database (FILETIME dates, no CRL): skipped as revoked" \
    "$(jq -r 'select(.revoked) | .thumbprint' lab/manifest.jsonl)" \
    "$(jq -r '.items[] | select(.reason == "certificate revoked") | .thumbprint' plan.json)"
check_eq "compressed long values: the others are uploads" 2 \
    "$(jq '[.items[] | select(.action == "upload")] | length' plan.json)"

# plan_fails NAME VARIANT EXPECTED: a database written with VARIANT fails the run with EXPECTED,
# in one line
plan_fails() {
    local name=$1 variant=$2 want=$3
    sed "s|lab/ca.edb|$name.edb|" edb.conf > "$name.conf"
    "$LAB_BIN" --out "lab-$name" "${small[@]}" --edb "$name.edb" --edb-opts "$variant" > /dev/null
    "$SSYNC_BIN" plan --config "$name.conf" --json > "$name.json" 2> "$name.err"
    check_eq "$name: plan fails" 1 "$?"
    check_contains "$name: the reason and what to do" "$want" "$name.err"
    check_eq "$name: one line on stderr" 1 "$(wc -l < "$name.err")"
}
plan_fails dirty dirty 'was not shut down cleanly (state 2): run esentutl /r'
# (32 KiB pages and 8-byte long-value ids are read: test_edb_forms)

# an unknown compression method: the item says why, naming the column and the row
sed "s|lab/ca.edb|bad.edb|" edb.conf > bad.conf
"$LAB_BIN" --out lab-bad "${small[@]}" --edb bad.edb --edb-opts compress-bad > /dev/null
"$SSYNC_BIN" plan --config bad.conf --json > bad.json 2> bad.err
check_eq "unknown compression: every request is an item (none recoverable)" 3 \
    "$(jq '[.items[] | select(.error != null)] | length' bad.json)"
check_eq "unknown compression: the item's error" \
    'request 1: ./bad.edb: column RawArchivedKey of Requests row 0 (RequestID 1): compressed value: cannot read the CA database: compressed with scheme byte 0x28 (XPRESS9; this reader knows 7-bit ASCII, 7-bit Unicode and LZXPRESS)' \
    "$(jq -r '.items[0].error' bad.json)"

# a long value compressed chunk by chunk whose chunk claims the wrong size: refused naming the
# file, table, column, row, chunk and sizes
"$LAB_BIN" --out lab-lvc "${small[@]}" --edb lvc.edb --edb-opts lvcompress > /dev/null
/usr/bin/python3 - lvc.edb << 'EOPY'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
i = b.find(b'\x18\x00\x04')  # a chunk: LZXPRESS, 1024 bytes uncompressed
assert i > 0
b[i + 2] = 3  # now claims 768
open(p, 'wb').write(bytes(b))
EOPY
sed "s|lab/ca.edb|lvc.edb|" edb.conf > lvc.conf
"$SSYNC_BIN" plan --config lvc.conf --json > lvc.json 2> lvc.err
check_eq "bad compressed chunk (a certificate): the plan fails" 1 "$?"
check_contains "bad compressed chunk: the file, the table, column and row, the chunk and the sizes" \
    "./lvc.edb: column RawCertificate of Certificates row 0 (RequestID 1): long value 1: cannot read the CA database: chunk at 0 inflates to 768 bytes, not 1024 (compression byte 0x18)" \
    lvc.err
check_eq "bad compressed chunk: one line on stderr" 1 "$(wc -l < lvc.err)"

# damaged input: not an ESE file; cut anywhere: a clear error or a partial read, never a crash
head -c 100 lab/ca.edb > short.edb
sed "s|lab/ca.edb|short.edb|" edb.conf > short.conf
"$SSYNC_BIN" plan --config short.conf > /dev/null 2> short.err
check_contains "truncated header: a clear error" "short.edb: not an ESE database" short.err
for n in 20000 60000 120000 200000; do
    head -c $n lab/ca.edb > cut.edb
    sed "s|lab/ca.edb|cut.edb|" edb.conf > cut.conf
    "$SSYNC_BIN" plan --config cut.conf > /dev/null 2> cut.err
    check "cut after $n bytes: exit status 0 or 1" test "$?" -le 1
done
finish
