#!/usr/bin/env bash
# [metrics] textfile: a sync writes Prometheus metrics (promtool check metrics accepts them), the
# counters carry on over runs, a failed run keeps the last success time, an unwritable path is a
# warning that does not fail the sync; the shipped alert rules pass promtool check rules and
# promtool test rules; a real prometheus-node-exporter (textfile collector, loopback) serves them.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
for tool in promtool prometheus-node-exporter; do
    command -v "$tool" > /dev/null || { not_ok "$tool installed (scripts/bootstrap --test)"; finish; exit 1; }
done
RULES=$SSYNC_SRC/dist/prometheus/smimesync.rules.yml
RULES_TEST=$SSYNC_SRC/tests/data/prometheus/smimesync.rules.test.yml

check "promtool check rules" promtool check rules "$RULES"
check "promtool test rules (each alert fires on its series)" promtool test rules "$RULES_TEST"

"$LAB_BIN" --out lab --users 6 --kras 1 --unknown-users 0 --revoked 0 --seed 7 > /dev/null
emu_start lab --quiet --fault 'POST:userPfxCertificates:2=429-retry:0' ||
    { not_ok "emulator started"; finish; exit 1; }
write_config lab sync.conf certificate
mkdir -p textfile
printf '[metrics]\ntextfile = %s/textfile/smimesync.prom\n' "$T_TMP" >> sync.conf
prom=textfile/smimesync.prom
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' lab/manifest.jsonl)
metric() { awk -v s="$1" '$1 == s { print $2 }' "$prom"; }

"$SSYNC_BIN" sync --config sync.conf --no-progress > s1.out 2> s1.err
check_eq "first sync: exit 0" 0 "$?"
check "metrics file written" test -f "$prom"
check_eq "metrics file is 0644 (node exporter reads it as another user)" 644 "$(stat -c %a "$prom")"
check "promtool check metrics: no problem" sh -c "promtool check metrics < $prom > lint.out 2>&1"
cat lint.out
check_eq "last run succeeded" 1 "$(metric smimesync_last_run_success)"
check_eq "uploads done" "$n_up" "$(metric 'smimesync_items_total{action="upload",outcome="done"}')"
check_eq "last run items: uploads done" "$n_up" \
    "$(metric 'smimesync_last_run_items{action="upload",outcome="done"}')"
check_eq "POSTs answered 201" "$n_up" "$(metric 'smimesync_graph_requests_total{method="POST",code="201"}')"
check_eq "the 429 counted by method and status" 1 \
    "$(metric 'smimesync_graph_requests_total{method="POST",code="429"}')"
check_eq "throttled counted" 1 "$(metric smimesync_graph_throttled_total)"
check_eq "one run counted" 1 "$(metric 'smimesync_runs_total{result="success"}')"
kra_na=$(date -d "$(openssl x509 -noout -enddate -in lab/kra1.pem | sed 's/notAfter=//')" +%s)
check "KRA notAfter exported" grep -qE "^smimesync_kra_certificate_not_after_timestamp_seconds\{serial=\"[0-9A-F]+\",subject=\"[^\"]+\"\} $kra_na$" "$prom"
app_na=$(date -d "$(openssl x509 -noout -enddate -in lab/app.pem | sed 's/notAfter=//')" +%s)
check_eq "Graph credential notAfter" "$app_na" \
    "$(metric 'smimesync_graph_credential_not_after_timestamp_seconds{kind="certificate"}')"
check_eq "no blob without a held KRA" 0 "$(metric smimesync_blobs_without_held_kra)"
check "users expiring without successor exported" grep -qE '^smimesync_users_expiring_without_successor [0-9]+$' "$prom"
check "no temporary file left beside it" sh -c "[ \$(ls -A textfile | wc -l) -eq 1 ]"
ok1=$(metric smimesync_last_run_success_timestamp_seconds)

"$SSYNC_BIN" sync --config sync.conf --no-progress > s2.out 2> s2.err
check_eq "second sync: exit 0" 0 "$?"
check_eq "counters carry on: two successful runs" 2 "$(metric 'smimesync_runs_total{result="success"}')"
check_eq "counters carry on: uploads done" "$n_up" "$(metric 'smimesync_items_total{action="upload",outcome="done"}')"
check_eq "counters carry on: the 429 of the first run" 1 \
    "$(metric 'smimesync_graph_requests_total{method="POST",code="429"}')"
check_eq "second run: nothing uploaded" 0 "$(metric 'smimesync_last_run_items{action="upload",outcome="done"}')"
ok2=$(metric smimesync_last_run_success_timestamp_seconds)

# a run that finds the state lock held does nothing and leaves the metrics alone
before=$(sha256sum < "$prom")
flock state.db.lock sleep 5 &
holder=$!
T_CLEANUP+=("kill $holder 2>/dev/null")
for _ in $(seq 1 50); do flock -n state.db.lock true || break; sleep 0.1; done
"$SSYNC_BIN" sync --config sync.conf --no-progress --no-wait > sb.out 2> sb.err
check_eq "lock held: --no-wait exits 5" 5 "$?"
check_eq "lock held: the metrics file is untouched" "$before" "$(sha256sum < "$prom")"
kill $holder 2> /dev/null
wait $holder 2> /dev/null

# a failed run (Graph unreachable): success stays at the last good run
sed "s|^graph = .*|graph = https://127.0.0.1:1|; s|^authority = .*|authority = https://127.0.0.1:1|" sync.conf > down.conf
"$SSYNC_BIN" sync --config down.conf --no-progress > s3.out 2> s3.err
check "failed sync: exit non-zero" test "$?" -ne 0
check_eq "failed run: last_run_success 0" 0 "$(metric smimesync_last_run_success)"
check_eq "failed run: last success time kept" "$ok2" "$(metric smimesync_last_run_success_timestamp_seconds)"
check_eq "failed run counted" 1 "$(metric 'smimesync_runs_total{result="failure"}')"
check "success times increase" awk -v a="$ok1" -v b="$ok2" 'BEGIN { exit !(b > a) }'

# metrics path unwritable: a warning, the sync still runs
sed "s|^textfile = .*|textfile = $T_TMP/missing-dir/smimesync.prom|" sync.conf > nowrite.conf
"$SSYNC_BIN" sync --config nowrite.conf --no-progress > s4.out 2> s4.err
check_eq "unwritable metrics path: the sync still exits 0" 0 "$?"
check "unwritable metrics path: a warning" grep -q '^smimesync sync: warning: \[metrics\] textfile: ' s4.err

# the CA database source: its copy's state (clean, or dirty and refused) is a gauge
mkdir -p edbm
"$LAB_BIN" --edb clean.edb --edb-opts "from=lab/blobs" > /dev/null
"$LAB_BIN" --edb dirty.edb --edb-opts "from=lab/blobs,dirty" > /dev/null
for db in clean dirty; do
    sed -e 's|^type = blobs$|type = edb|' -e "0,/^path = /s|^path = .*|path = $T_TMP/$db.edb|" \
        -e "s|^textfile = .*|textfile = $T_TMP/edbm/$db.prom|" sync.conf > "$db.conf"
    "$SSYNC_BIN" sync --config "$db.conf" --no-progress > "$db.out" 2> "$db.err"
done
check_contains "edb clean copy: smimesync_ca_database_copy_clean 1" \
    "smimesync_ca_database_copy_clean 1" edbm/clean.prom
check_contains "edb dirty copy: refused, and the gauge says 0" \
    "smimesync_ca_database_copy_clean 0" edbm/dirty.prom
check "edb: promtool accepts it" bash -c "promtool check metrics < edbm/dirty.prom"

# a real node exporter serves the file (textfile collector only, loopback)
port=$((20000 + RANDOM % 20000))
prometheus-node-exporter --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
    --collector.textfile --collector.textfile.directory="$T_TMP/textfile" > ne.out 2>&1 &
ne=$!
T_CLEANUP+=("kill $ne 2>/dev/null; wait $ne 2>/dev/null")
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/metrics" > scrape.txt 2> /dev/null && break
    sleep 0.1
done
check "node exporter scraped" grep -q '^smimesync_last_run_success 0$' scrape.txt
check "node exporter: the file parsed without error" \
    grep -qE '^node_textfile_scrape_error 0$' scrape.txt
check "node exporter: counters served" grep -q '^smimesync_runs_total{result="success"} 2$' scrape.txt
finish
