#!/usr/bin/env bash
# watch as a Type=notify service: against a notification socket the test binds ($NOTIFY_SOCKET,
# the real sd_notify datagram protocol), watch says READY=1 once it watches, pings WATCHDOG=1
# at half of $WATCHDOG_USEC while idle, reports its STATUS while it syncs an arrival, and says
# STOPPING=1 on SIGTERM. Without $NOTIFY_SOCKET nothing is sent (the other watch tests). After
# the sync of an arrival, watch has rewritten [metrics] textfile.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 2 --kras 1 --revoked 0 --expired 0 --renewals 0 --seed 72 > /dev/null
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
write_config lab watch.conf
mkdir incoming
sed -i "s|^path = lab/blobs|path = $T_TMP/incoming|" watch.conf
printf '[metrics]\ntextfile = %s/watch.prom\n' "$T_TMP" >> watch.conf
blob() { jq -r "select(.userPrincipalName != null) | .file" lab/manifest.jsonl | sed -n "${1}p"; }

/usr/bin/python3 "$SSYNC_SRC/tests/integration/notify_listen.py" "$T_TMP/notify.sock" notify.log 30 &
L=$!
T_CLEANUP+=("kill $L 2>/dev/null")
for _ in $(seq 1 50); do [ -S notify.sock ] && break; sleep 0.1; done
check "notification socket bound" test -S notify.sock

NOTIFY_SOCKET=$T_TMP/notify.sock WATCHDOG_USEC=400000 \
    "$SSYNC_BIN" watch --config watch.conf --settle 0.2 > watch.out 2> watch.err &
W=$!
T_CLEANUP+=("kill $W 2>/dev/null")
for _ in $(seq 1 50); do grep -q '^READY=1' notify.log 2> /dev/null && break; sleep 0.1; done
check "READY=1 once the directory is watched" grep -q '^READY=1|STATUS=watching for recovery blobs$' notify.log
check "READY=1 after the 'watching' line" grep -q "watching $T_TMP/incoming" watch.err
sleep 1.2
pings=$(grep -c '^WATCHDOG=1$' notify.log)
check "WATCHDOG=1 at half the interval while idle (4-8 in 1.2 s, got $pings)" test "$pings" -ge 4 -a "$pings" -le 8
cp "lab/$(blob 1)" incoming/101.rsp
for _ in $(seq 1 100); do grep -q 'sync of request id 101 ended' watch.err && break; sleep 0.1; done
check "status while syncing an arrival" grep -q '^STATUS=syncing 1 arrived blob(s)$' notify.log
check "watch wrote the metrics after the sync" grep -q '^smimesync_last_run_items{action="upload",outcome="done"} 1$' watch.prom
check "status back to watching" test "$(grep '^STATUS=' notify.log | tail -n 1)" = "STATUS=watching for recovery blobs"
kill -TERM $W
wait $W
check_eq "SIGTERM: exit 0" 0 "$?"
check "STOPPING=1 on SIGTERM" grep -q '^STOPPING=1|STATUS=stopping$' notify.log
check "no secret in the notifications" sh -c "! grep -qF \"\$(cat lab/client-secret)\" notify.log"

# a watchdog meant for another process (WATCHDOG_PID) is not this one's
: > notify.log
NOTIFY_SOCKET=$T_TMP/notify.sock WATCHDOG_USEC=200000 WATCHDOG_PID=1 \
    "$SSYNC_BIN" watch --config watch.conf --settle 0.2 > w2.out 2> w2.err &
W=$!
sleep 1
kill -TERM $W
wait $W
check_eq "no WATCHDOG=1 for another pid's watchdog" 0 "$(grep -c '^WATCHDOG=1$' notify.log)"
finish
