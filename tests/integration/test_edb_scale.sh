#!/usr/bin/env bash
# A CA database of 100,000 requests (the lab's S/MIME requests among machine certificates and
# denied requests) is scanned and filtered by `smimesync plan` in under 10 s with bounded
# memory: rows are streamed from the leaf pages, so the peak RSS for 100,000 requests is that
# for 10,000 (libesedb, which indexed every row it read, took 94 MB for 100,000). A run for one
# request is quick.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 20 --key-pool 2 --renewals 0 --revoked 1 --seed 41 \
    --edb lab/ca.edb --edb-opts extra=99980 > /dev/null
check "lab with a 100,000-request database" test -s lab/ca.edb
"$LAB_BIN" --out lab10k --users 20 --key-pool 2 --renewals 0 --revoked 1 --seed 41 \
    --edb lab10k/ca.edb --edb-opts extra=9980 > /dev/null
check "lab with a 10,000-request database" test -s lab10k/ca.edb
emu_start lab10k || { not_ok "emulator started (10,000)"; finish; exit 1; }
write_config lab10k small.conf
sed -i "s|^type = blobs|type = edb|; s|^path = lab10k/blobs|path = lab10k/ca.edb|; s|^path = $T_TMP/state.db|path = $T_TMP/state-small.db|" small.conf
emu_start lab || { not_ok "emulator started"; finish; exit 1; }
write_config lab edb.conf
sed -i "s|^type = blobs|type = edb|; s|^path = lab/blobs|path = lab/ca.edb|" edb.conf
size_kb=$(($(stat -c %s lab/ca.edb) / 1024))

/usr/bin/time -f "%e %M" -o time.txt "$SSYNC_BIN" plan --config edb.conf --json > plan.json 2> plan.err
check_eq "plan: exit status" 0 "$?"
check_eq "plan: the 20 archived keys among 100,000 requests" 20 "$(jq '.items | length' plan.json)"
read -r secs rss_kb < time.txt
echo "# 100,000 requests: ${secs} s, ${rss_kb} KB peak RSS, file ${size_kb} KB"
if [ -z "${SSYNC_VALGRIND:-}" ]; then # memcheck runs the plan some 20 times slower
    check "plan: under 10 s (${secs} s)" awk -v s="$secs" 'BEGIN { exit !(s < 10) }'
fi
/usr/bin/time -f "%e %M" -o time10k.txt "$SSYNC_BIN" plan --config small.conf --json \
    > plan10k.json 2> plan10k.err
check_eq "plan, 10,000 requests: exit status" 0 "$?"
check_eq "plan, 10,000 requests: the 20 archived keys" 20 "$(jq '.items | length' plan10k.json)"
read -r secs10k rss10k < time10k.txt
echo "# 10,000 requests: ${secs10k} s, ${rss10k} KB peak RSS"
# ASan's shadow memory and memcheck's own make RSS meaningless
if [ -z "${SSYNC_SANITIZED:-}${SSYNC_VALGRIND:-}" ]; then
    # the leaf index is 16 bytes per leaf page (about 0.2 bytes per row): 10 times the rows
    # may add a few hundred KB, where libesedb's per-row index added 80 MB
    check "plan: peak memory under 40 MB (${rss_kb} KB for a ${size_kb} KB file)" \
        test "$rss_kb" -lt 40960
    check "plan: 100,000 requests take at most 4 MB more than 10,000 (${rss_kb} KB vs ${rss10k} KB)" \
        test "$rss_kb" -lt $((rss10k + 4096))
fi

# the same 100,000 requests in the form newer Windows writes: 32 KiB pages, long values compressed
# chunk by chunk, archived keys compressed in the record: under 2 s and 32 MiB peak RSS
"$LAB_BIN" --out lab32 --users 20 --key-pool 2 --renewals 0 --revoked 1 --seed 41 \
    --edb lab32/ca.edb --edb-opts extra=99980,page32k,lvcompress,compress > /dev/null
check "lab with a 100,000-request database in 32 KiB pages, compressed" test -s lab32/ca.edb
emu_start lab32 || { not_ok "emulator started (32 KiB)"; finish; exit 1; }
write_config lab32 big32.conf
sed -i "s|^type = blobs|type = edb|; s|^path = lab32/blobs|path = lab32/ca.edb|; s|^path = $T_TMP/state.db|path = $T_TMP/state-32.db|" big32.conf
/usr/bin/time -f "%e %M" -o time32.txt "$SSYNC_BIN" plan --config big32.conf --json \
    > plan32.json 2> plan32.err
check_eq "plan, 32 KiB compressed: exit status" 0 "$?"
check_eq "plan, 32 KiB compressed: the 20 archived keys" 20 "$(jq '.items | length' plan32.json)"
check_eq "plan, 32 KiB compressed: every key recovered" 0 \
    "$(jq '[.items[] | select(.error != null)] | length' plan32.json)"
read -r secs32 rss32 < time32.txt
echo "# 100,000 requests, 32 KiB pages, compressed: ${secs32} s, ${rss32} KB peak RSS, file $(($(stat -c %s lab32/ca.edb) / 1024)) KB"
if [ -z "${SSYNC_VALGRIND:-}${SSYNC_SANITIZED:-}" ]; then
    check "plan, 32 KiB compressed: under 2 s (${secs32} s)" awk -v s="$secs32" 'BEGIN { exit !(s < 2) }'
    check "plan, 32 KiB compressed: peak memory under 32 MiB (${rss32} KB)" test "$rss32" -lt 32768
fi

rid=$(jq '.items[-1].caRequestId' plan.json)
/usr/bin/time -f "%e %M" -o time1.txt "$SSYNC_BIN" plan --config edb.conf --request-id "$rid" \
    --json > one.json 2> one.err
check_eq "one request: exit status" 0 "$?"
check_eq "one request: that request" "$rid" "$(jq '.items[0].caRequestId' one.json)"
read -r secs1 rss1 < time1.txt
echo "# one request: ${secs1} s, ${rss1} KB peak RSS"
if [ -z "${SSYNC_VALGRIND:-}" ]; then
    check "one request: under 5 s (${secs1} s)" awk -v s="$secs1" 'BEGIN { exit !(s < 5) }'
fi
finish
