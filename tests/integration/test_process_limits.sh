#!/usr/bin/env bash
# Issue 18 #10: a crash must not write a core file holding the KRA key. A running smimesync (here
# `watch`, which blocks waiting for arrivals) has a core size limit of 0, soft and hard, even when
# started with an unlimited one, and is not dumpable: the kernel then makes /proc/PID/ belong to
# root instead of the process's user (checked with the process run as nobody).
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
chmod 755 "$T_TMP"
mkdir -m 755 incoming state
cat > watch.conf << CONF
[source]
type = blobs
path = $T_TMP/incoming
[state]
path = $T_TMP/state
CONF
chmod 644 watch.conf

# started as root with an unlimited core size
(ulimit -c unlimited && exec "$SSYNC_BIN" watch --config watch.conf > w1.out 2> w1.err) &
W=$!
T_CLEANUP+=("kill $W 2>/dev/null")
for _ in $(seq 1 50); do grep -q "watching" w1.err && break; sleep 0.1; done
check_contains "watch started" "watching $T_TMP/incoming" w1.err
check "the core size limit is 0 (soft and hard)" \
    grep -Eq '^Max core file size +0 +0 ' "/proc/$W/limits"
check_eq "prlimit agrees" "0 0" "$(prlimit --pid "$W" --core --noheadings --output SOFT,HARD | xargs)"
kill -TERM $W
wait $W
check_eq "watch stopped" 0 "$?"

# started as nobody: a dumpable process owns its /proc/PID; a non-dumpable one's belongs to root
setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$SSYNC_BIN" watch --config watch.conf > w2.out 2> w2.err &
W=$!
T_CLEANUP+=("kill $W 2>/dev/null")
for _ in $(seq 1 50); do grep -q "watching" w2.err && break; sleep 0.1; done
check_contains "watch started as nobody" "watching $T_TMP/incoming" w2.err
check_eq "the process runs as nobody" 65534 "$(awk '/^Uid:/ {print $2}' "/proc/$W/status")"
check_eq "the process is not dumpable (/proc/PID belongs to root)" 0 "$(stat -c %u "/proc/$W/status")"
kill -TERM $W
wait $W
check_eq "watch stopped" 0 "$?"
finish
