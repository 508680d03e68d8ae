#!/usr/bin/env bash
# smimesync edb info|dump on real ESE files written by Windows (tests/data/ese-real: dissect.esedb's
# and ese_parser's test databases) and on lab CA databases: row counts per table, cell values
# against the expected values of dissect.esedb's tests/test_esedb.py and against Debian's
# esedbexport where it reads correctly, the JSONL contract, CSV, the AD CS summary, a dirty copy
# read with one warning, bad input with one line and exit 1, and a dump whose memory does not grow
# with the rows.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
PY=/usr/bin/python3
REAL=$SSYNC_DATA/ese-real
for f in basic binary default multi text; do gunzip -c "$REAL/$f.edb.gz" > $f.edb; done
gunzip -c "$REAL/test.edb.gz" > test.edb

# ---- info: header and row counts of every real file ----
for spec in basic:basic:2:13 binary:binary:1:12 default:default:1:19 multi:multi:2:22 \
    text:text:1:27 test:TestTable:1:18; do
    IFS=: read -r f table rows cols <<< "$spec"
    "$SSYNC_BIN" edb info --json $f.edb > $f.info.json 2> $f.info.err
    check_eq "info $f.edb: exit status" 0 "$?"
    check_eq "info $f.edb: table $table: $rows rows, $cols columns" "$rows $cols" \
        "$(jq -r --arg t "$table" '.tables[] | select(.name == $t) | "\(.rows) \(.columns | length)"' $f.info.json)"
    check_eq "info $f.edb: clean, no warning" "clean" "$(jq -r .state $f.info.json)"
    check_eq "info $f.edb: nothing on stderr" "" "$(cat $f.info.err)"
done
check_eq "info basic.edb: format, revision, page size" "1568 20 4096" \
    "$(jq -r '"\(.format_version) \(.format_revision) \(.page_size)"' basic.info.json)"
check_eq "info basic.edb: creation and attach times from the header" \
    "2022-08-19T11:46:32Z 2022-08-19T11:46:32Z" "$(jq -r '"\(.created) \(.attached)"' basic.info.json)"
check_eq "info basic.edb: not a CA database" "null" "$(jq -c .ca basic.info.json)"
# esedbinfo agrees on the header
esedbinfo basic.edb > basic.esedbinfo 2>&1
check_contains "esedbinfo: the same format" "0x620,20" basic.esedbinfo
"$SSYNC_BIN" edb info test.edb > test.info.txt
check_contains "info text: the table line" "TestTable" test.info.txt
check_contains "info text: the state" "clean (3)" test.info.txt

# ---- dump: the JSONL contract, cell by cell against dissect.esedb's expected values ----
"$SSYNC_BIN" edb dump basic.edb basic > basic.jsonl
check_eq "dump basic: exit status" 0 "$?"
"$SSYNC_BIN" edb dump default.edb default > default.jsonl
# compressed columns wait for the reader's compressed long values (issue 15 item 1)
"$SSYNC_BIN" edb dump binary.edb binary \
    --columns Id,FixedBinary,NullableFixedBinary,Binary,NullableBinary,MaxBinary,TaggedBinary,NullableTaggedBinary,LongBinary,MaxLongBinary \
    > binary.jsonl
"$SSYNC_BIN" edb dump text.edb text \
    --columns Id,FixedASCII,FixedUnicode,NullableFixedASCII,NullableFixedUnicode,ASCII,Unicode,NullableASCII,NullableUnicode,MaxASCII,MaxUnicode,TaggedASCII,TaggedUnicode,NullableTaggedASCII,NullableTaggedUnicode,LongASCII,LongUnicode,LongTinyASCII,LongTinyUnicode,MaxLongASCII,MaxLongUnicode \
    > text.jsonl
"$SSYNC_BIN" edb dump multi.edb multi \
    --columns Id,Bit,UnsignedByte,Short,Long,Currency,IEEESingle,IEEEDouble,DateTime,Binary,LongBinary,ASCII,Unicode,LongASCII,LongUnicode,UnsignedLong,LongLong,GUID,UnsignedShort \
    > multi.jsonl
cat > expect.py << 'EOF'
import json, sys
def rows(f): return [json.loads(l) for l in open(f)]
def h(b): return b.hex()
fox = "\U0001F98A"
bad = []
def eq(what, want, got):
    if want != got: bad.append(f"{what}: want {want!r}, got {got!r}")
b = rows("basic.jsonl")
eq("basic rows", 2, len(b))
eq("basic row 1", {"Id": 1, "Bit": 0, "UnsignedByte": 213, "Short": -1337, "Long": -13371337,
    "Currency": 1337133713371337, "IEEESingle": 1.0, "IEEEDouble": 13371337.13371337,
    "DateTime": "1999-03-01T00:00:00Z", "UnsignedLong": 13371337, "LongLong": -13371337,
    "GUID": "f10a363f6667dc469af20dacf295c2a1", "UnsignedShort": 1337}, b[0])
eq("basic row 2", {"Id": 2, "Bit": 1, "UnsignedByte": 255, "Short": 1339, "Long": 13391339,
    "Currency": -1339133913391339, "IEEESingle": -2.0, "IEEEDouble": -13391339.13391339,
    "DateTime": "1337-06-09T00:00:00Z", "UnsignedLong": None, "LongLong": None, "GUID": None,
    "UnsignedShort": None}, b[1])
d = rows("default.jsonl")[0]
for k, v in {"Bit": 1, "UnsignedByte": 69, "Short": 0x1234, "Long": 0x12345678,
             "Currency": 0x123456789ABCDEF0, "IEEESingle": 1.0, "IEEEDouble": 2.0,
             "DateTime": "2022-10-04T00:00:00Z", "UnsignedLong": 12345678,
             "LongLong": 0xC001DEADD00D, "GUID": "0dd001c0addeefbefacefeeddeadbeef",
             "UnsignedShort": 0xF00D, "Binary": h(b"Short default binary"),
             "LongBinary": h(b"Long default binary " + b"a" * 200),
             "ASCII": "Short default ASCII", "Unicode": "Short default Unicode " + fox,
             "LongASCII": "Long default ASCII " + "a" * 200,
             "LongUnicode": "Long default Unicode " + fox + " " + "a" * 64}.items():
    eq("default " + k, v, d.get(k))
x = rows("binary.jsonl")[0]
for k, v in {"FixedBinary": h(b"test fixed binary data" + b"\0" * 233), "NullableFixedBinary": None,
             "Binary": h(b"test binary data"), "NullableBinary": None,
             "MaxBinary": h(b"test max binary data " + b"a" * 70),
             "TaggedBinary": h(b"test tagged binary data"), "NullableTaggedBinary": None,
             "LongBinary": h(b"test long binary data " + b"a" * 1000),
             "MaxLongBinary": h(b"test max long binary data " + b"a" * 900)}.items():
    eq("binary " + k, v, x.get(k))
t = rows("text.jsonl")[0]
for k, v in {"FixedASCII": "Fixed ASCII text" + " " * 239,
             "FixedUnicode": "Fixed Unicode text " + fox + " " * 107,
             "NullableFixedASCII": None, "NullableFixedUnicode": None,
             "ASCII": "Simple ASCII text", "Unicode": "Simple Unicode text " + fox,
             "NullableASCII": None, "NullableUnicode": None,
             "MaxASCII": "Max ASCII text that can't be that long",
             "MaxUnicode": "Max Unicode text that can't be that long " + fox,
             "TaggedASCII": "Tagged ASCII text", "TaggedUnicode": "Tagged Unicode text " + fox,
             "NullableTaggedASCII": None, "NullableTaggedUnicode": None,
             "LongASCII": "Long ASCII text " + "a" * 1024,
             "LongUnicode": "Long Unicode text " + fox + " " + "a" * 1024,
             "LongTinyASCII": "Tiny ASCII", "LongTinyUnicode": "Tiny " + fox,
             "MaxLongASCII": "Max long ASCII text that can be a bit longer " + "a" * 900,
             "MaxLongUnicode": "Max long Unicode text that can be a bit longer " + fox + " " + "a" * 900}.items():
    eq("text " + k, v, t.get(k))
m = rows("multi.jsonl")
eq("multi rows", 2, len(m))
r = m[0]
for k, v in {"Bit": [0, 1], "UnsignedByte": [0, 127, 255], "Short": [0, -32767, 32767],
             "Long": [0, -2147483647, 2147483647],
             "Currency": [0, -9223372036854775807, 9223372036854775807],
             "IEEESingle": [0.0, -1.0, 1.0], "IEEEDouble": [0.0, -1.0, 1.0],
             "DateTime": ["1661-04-17T11:30:00Z", "2077-04-01T00:00:00Z", "2517-09-24T05:30:00Z"],
             "Binary": [h(b"Some binary data that has multiple values, this is value %d" % i) for i in (1, 2, 3)],
             "LongBinary": [h(b"Some very long binary data that has multiple values, this is value %d " % i + b"a" * 1024) for i in (1, 2, 3)],
             "ASCII": ["Some ASCII text that has multiple values, this is value %d" % i for i in (1, 2, 3)],
             "Unicode": ["Some Unicode text that has multiple values, this is value %d %s" % (i, fox * i) for i in (1, 2, 3)],
             "LongASCII": ["Some very long ASCII text that has multiple values, this is value %d " % i + "a" * 1024 for i in (1, 2, 3)],
             "LongUnicode": ["Some very long Unicode text that has multiple values, this is value %d %s " % (i, fox * i) + "a" * 1024 for i in (1, 2, 3)],
             "UnsignedLong": [0, 4294967295],
             "LongLong": [0, -9223372036854775807, 9223372036854775807],
             "UnsignedShort": [0, 65535]}.items():
    eq("multi row 1 " + k, v, r.get(k))
r = m[1]
eq("multi row 2 Bit (NULL)", None, r.get("Bit"))
eq("multi row 2 LongBinary (small long values)", [h(b"Tiny binary %d" % i) for i in (1, 2, 3)], r.get("LongBinary"))
eq("multi row 2 LongASCII (two values)", ["Tiny ASCII 1", "Tiny ASCII 2"], r.get("LongASCII"))
eq("multi row 2 LongUnicode", ["Tiny " + fox + " 1", "Tiny " + fox * 2, "Tiny " + fox * 3], r.get("LongUnicode"))
for l in bad: print(l)
sys.exit(1 if bad else 0)
EOF
check "dump: every cell equals dissect.esedb's expected value (basic, default, binary, text, multi)" \
    $PY expect.py

# ---- against esedbexport, where libesedb 20181229 reads right ----
esedbexport -t exp basic.edb > /dev/null 2>&1
# Id, Long, UnsignedLong, LongLong, UnsignedShort of each row, NULL as empty
awk -F'\t' 'NR > 1 { print $1 "\t" $5 "\t" $10 "\t" $11 "\t" $13 }' exp.export/basic.* > want.tsv
jq -r '[.Id, .Long, .UnsignedLong, .LongLong, .UnsignedShort] | map(. // "") | @tsv' basic.jsonl \
    > got.tsv
check_eq "dump basic = esedbexport (integer columns, NULLs)" "$(cat want.tsv)" "$(cat got.tsv)"
esedbexport -t exp2 test.edb > /dev/null 2>&1
"$SSYNC_BIN" edb dump test.edb TestTable --columns AutoInc,Long,UnsignedLong,LongLong,GUID,UnsignedShort,Short,IEEESingle \
    > test.jsonl
# (compared in Python: jq reads numbers as doubles)
awk -F'\t' 'NR > 1 { print $1 "\t" $5 "\t" $10 "\t" $11 "\t" $12 "\t" $13 }' exp2.export/TestTable.* \
    > want2.tsv
$PY -c 'import json, sys
for l in open("test.jsonl"):
    r = json.loads(l)
    print("\t".join(str(r[k]) for k in ("AutoInc", "Long", "UnsignedLong", "LongLong", "GUID", "UnsignedShort")))' \
    > got2.tsv
check_eq "dump test.edb = esedbexport (AutoInc, Long, UnsignedLong, LongLong, GUID, UnsignedShort)" \
    "$(cat want2.tsv)" "$(cat got2.tsv)"
# where they differ, ours is right (docs/formats.md): libesedb ignores the NULL bitmap of fixed
# columns (ESE fills a NULL fixed column with '*', 0x2a2a = 10794) and prints IEEESingle as 0
check_eq "esedbexport's Short is the '*' filler of a NULL column" 10794 \
    "$(awk -F'\t' 'NR > 1 { print $4 }' exp2.export/TestTable.*)"
check_eq "dump test.edb: Short is NULL, IEEESingle is pi (esent.dll's dump)" "null 3.14159" \
    "$(jq -r '"\(.Short) \(.IEEESingle * 100000 | floor / 100000)"' test.jsonl)"

# ---- CSV ----
"$SSYNC_BIN" edb dump basic.edb basic --columns Id,GUID,DateTime --format csv > basic.csv
check_eq "csv: header and rows, NULL empty" \
    "$(printf 'Id,GUID,DateTime\n1,f10a363f6667dc469af20dacf295c2a1,1999-03-01T00:00:00Z\n2,,1337-06-09T00:00:00Z')" \
    "$(cat basic.csv)"
"$SSYNC_BIN" edb dump multi.edb multi --columns Id,Long --format csv > multi.csv
check_eq "csv: a multi-valued column's values joined with ';' and quoted" \
    "$(printf 'Id,Long\n1,"0;-2147483647;2147483647"\n2,')" "$(cat multi.csv)"

# ---- a lab CA database: the AD CS summary, dirty copies ----
"$LAB_BIN" --out lab --users 6 --revoked 2 --seed 31 --edb lab/ca.edb --edb-opts extra=20 > /dev/null
n=$(wc -l < lab/manifest.jsonl)
"$SSYNC_BIN" edb info --json lab/ca.edb > lab.json
check_eq "info: the CA summary (requests, archived keys, revoked, highest id)" \
    "$((n + 20)) $n 2 $((n + 20))" \
    "$(jq -r '.ca | "\(.requests) \(.archived_keys) \(.revoked) \(.max_request_id)"' lab.json)"
check_eq "info: issued + revoked = certificates" "$(jq '.ca.certificates' lab.json)" \
    "$(jq '.ca.issued + .ca.revoked' lab.json)"
check_eq "dump Requests: one line per row" "$((n + 20))" \
    "$("$SSYNC_BIN" edb dump lab/ca.edb Requests | wc -l)"
"$SSYNC_BIN" edb dump lab/ca.edb Requests --columns RequestID,RawArchivedKey > keys.jsonl
check_eq "dump: RawArchivedKey as lowercase hex, NULL as null" "$n $((n + 20))" \
    "$(jq -r 'select(.RawArchivedKey != null) | .RawArchivedKey | test("^[0-9a-f]+$")' keys.jsonl |
        grep -c true) $(wc -l < keys.jsonl)"
"$LAB_BIN" --out dirty --users 3 --seed 32 --edb dirty/ca.edb --edb-opts dirty > /dev/null
"$SSYNC_BIN" edb info dirty/ca.edb > dirty.out 2> dirty.err
check_eq "info, dirty copy: exit status 0" 0 "$?"
check_eq "info, dirty copy: one warning line on stderr" 1 "$(wc -l < dirty.err)"
check_contains "info, dirty copy: the warning says what to do" "esentutl /r" dirty.err
check_contains "info, dirty copy: state shown" "dirty (2)" dirty.out
"$SSYNC_BIN" edb dump dirty/ca.edb Requests > dirty.jsonl 2> dirty2.err
check_eq "dump, dirty copy: rows read as on disk" "3 1" "$(wc -l < dirty.jsonl) $(wc -l < dirty2.err)"

# ---- bad input: one line, exit 1 (usage: 2) ----
bad() { # bad "what" status message args...
    local what=$1 want=$2 msg=$3
    shift 3
    "$SSYNC_BIN" "$@" > bad.out 2> bad.err
    check_eq "$what: exit status" "$want" "$?"
    check_contains "$what: the message" "$msg" bad.err
    check_eq "$what: nothing on stdout" "" "$(cat bad.out)"
}
bad "missing file" 1 "missing.edb: No such file" edb info missing.edb
printf 'not a database at all, not even close.%.0s' {1..40} > junk.edb
bad "not an ESE file" 1 "not an ESE database" edb dump junk.edb Requests
cp basic.edb damaged.edb
$PY -c 'import sys
f = open("damaged.edb", "r+b"); f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 1]))'
bad "damaged header" 1 "checksum mismatch" edb info damaged.edb
bad "unknown table" 1 "no table 'Nope'" edb dump basic.edb Nope
bad "unknown column" 1 "has no column 'Nope'" edb dump basic.edb basic --columns Id,Nope
bad "bad format" 2 "jsonl or csv" edb dump basic.edb basic --format xml
bad "no table operand" 2 "table name are required" edb dump basic.edb
bad "unknown subcommand" 2 "unknown subcommand 'list'" edb list basic.edb

# a value the reader does not understand: one line per row naming the file, table, row, column
# and what was found (the compression byte), the dump going on (exit 1: no row could be read);
# the columns without it still dump
"$LAB_BIN" --out cb --users 3 --seed 34 --edb cb/ca.edb --edb-opts compress-bad > /dev/null
bad "unknown compression" 1 "cb/ca.edb: table Requests, row 1, column RawArchivedKey: " \
    edb dump cb/ca.edb Requests --columns RequestID,RawArchivedKey
check_contains "unknown compression: the scheme byte" "scheme byte 0x28" bad.err
check_contains "unknown compression: the dump goes on to the last row" "row 3, column RawArchivedKey" bad.err
check_eq "unknown compression: one line per row" 3 "$(wc -l < bad.err)"
"$SSYNC_BIN" ca requests cb/ca.edb > cb.out 2> cb.err
check_eq "ca requests, unknown compression: exit status 1 (no row readable)" 1 "$?"
check_contains "ca requests, unknown compression: the request named" "request 1: cb/ca.edb: table Requests, row 1" cb.err
check_contains "ca requests, unknown compression: counted" "Unreadable rows: 3" cb.out
check_eq "unknown compression: the other columns dump" 3 \
    "$("$SSYNC_BIN" edb dump cb/ca.edb Requests --columns RequestID,Disposition | wc -l)"

# a table whose page is damaged: one line naming it, the other tables still counted (exit 3)
"$LAB_BIN" --out dm --users 3 --seed 35 --edb dm/ca.edb > /dev/null
upn=$(jq -r .userPrincipalName dm/manifest.jsonl | head -1)
$PY -c 'import sys
d = bytearray(open("dm/ca.edb", "rb").read())
i = d.find(sys.argv[1].encode("utf-16-le")) // 8192 * 8192  # a Certificates leaf page
d[i:i + 8192] = b"\xff" * 8192
open("dm/bad.edb", "wb").write(d)' "$upn"
"$SSYNC_BIN" edb info --json dm/bad.edb > dm.json 2> dm.err
check_eq "damaged table: exit status 3" 3 "$?"
check_eq "damaged table: Requests counted, Certificates unreadable" '3 null' \
    "$(jq -r '[.tables[] | .rows] | map(tostring) | join(" ")' dm.json)"
check_contains "damaged table: the line names the file, table and page" \
    "dm/bad.edb: table Certificates: page" dm.err

# ---- streaming: 100 times the rows, the same memory ----
if [ -z "${SSYNC_SANITIZED:-}${SSYNC_VALGRIND:-}" ]; then
    "$LAB_BIN" --out s1 --users 4 --key-pool 2 --renewals 0 --seed 33 --edb s1/ca.edb \
        --edb-opts extra=996 > /dev/null
    "$LAB_BIN" --out s2 --users 4 --key-pool 2 --renewals 0 --seed 33 --edb s2/ca.edb \
        --edb-opts extra=99996 > /dev/null
    /usr/bin/time -f "%e %M" -o t1.txt "$SSYNC_BIN" edb dump s1/ca.edb Requests > s1.jsonl
    /usr/bin/time -f "%e %M" -o t2.txt "$SSYNC_BIN" edb dump s2/ca.edb Requests > s2.jsonl
    read -r sec1 rss1 < t1.txt
    read -r sec2 rss2 < t2.txt
    echo "# dump of 1,000 rows: ${sec1} s, ${rss1} KB; 100,000 rows: ${sec2} s, ${rss2} KB peak RSS"
    check_eq "streaming: every row of both" "1000 100000" "$(wc -l < s1.jsonl) $(wc -l < s2.jsonl)"
    check "streaming: 100,000 rows take at most 1 MB more than 1,000 (${rss2} KB vs ${rss1} KB)" \
        test "$rss2" -lt $((rss1 + 1024))
fi
finish
