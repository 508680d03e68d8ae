#!/usr/bin/env bash
# The fault matrix: sync of ~1,000 certificates (SSYNC_FAULT_USERS users, default 870) against
# intune-emu under each fault — 429 storms with and without Retry-After, 500/503/504, dropped
# connections, slow responses past the request timeout, commit-then-fail on POST and DELETE, token
# expiry, the emulator restarted mid-run, a full disk under the journal. For each: no duplicate,
# no lost item, every item's outcome in the report, and a clean exit code. With
# SSYNC_FAULT_TABLE=FILE the Markdown rows of docs/security.md's table are written there.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
USERS=${SSYNC_FAULT_USERS:-870} # the lab gives some users two certificates: ~1,000 items
TABLE=${SSYNC_FAULT_TABLE:-$T_TMP/table.md}
: > "$TABLE"
"$LAB_BIN" --out lab --users "$USERS" --unknown-users 0 --revoked 20 --seed 606 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
m=lab/manifest.jsonl
total=$(wc -l < $m)
n_up=$(jq -s '[.[] | select(.revoked | not)] | length' $m)
n_rev=$(jq -s '[.[] | select(.revoked)] | length' $m)
jq -r 'select(.revoked | not) | "\(.userPrincipalName | ascii_downcase) \(.thumbprint)"' $m |
    sort > want.txt
echo "$total certificates: $n_up to upload, $n_rev revoked"

# conf FILE [nocrl]: the lab config with the limits off (the faults are the subject here), short
# request timeouts and a fresh journal per scenario.
conf() {
    write_config lab "$1"
    sed -i "s|^\[intune\]$|[intune]\nwrite_limit = off\nrequest_limit = off\ntimeout = 3|" "$1"
    sed -i "s|^path = $T_TMP/state.db$|path = $T_TMP/${1%.conf}.db|" "$1"
    if [ "${2:-}" = nocrl ]; then sed -i '/^crl = /d' "$1"; fi
}
# verdict NAME FAULT RC...: compares Intune with the manifest and the last report with the plan,
# checks and writes one table row.
verdict() {
    local name=$1 fault=$2 rcs=$3 report=$4
    emu records | jq -r '.records[] | "\(.userPrincipalName | ascii_downcase) \(.thumbprint | ascii_downcase)"' |
        sort > got.txt
    local dup lost extra outcomes
    dup=$(($(wc -l < got.txt) - $(sort -u got.txt | wc -l)))
    lost=$(comm -23 want.txt <(sort -u got.txt) | wc -l)
    extra=$(comm -13 want.txt <(sort -u got.txt) | wc -l)
    outcomes=$(jq '[.items[] | select(.outcome != null)] | length' "$report")
    check_eq "$name: no duplicate" 0 "$dup"
    check_eq "$name: nothing lost" 0 "$lost"
    check_eq "$name: nothing that should not be there" 0 "$extra"
    check_eq "$name: every item's outcome in the report" "$total" "$outcomes"
    check_eq "$name: no failed item" 0 "$(jq .counts.failed "$report")"
    check_eq "$name: exit status" 0 "${rcs##* }"
    local fired
    fired=$(emu stats | jq '.faultsFired')
    printf '| %s | `%s` | %s | %s | %s | %s | %s | %s |\n' "$name" "$fault" "$total" "$fired" \
        "$dup" "$lost" "$outcomes" "$rcs" >> "$TABLE"
}
# want NAME: whether to run that row (SSYNC_FAULT_ONLY=NAME runs one row alone, for debugging).
want() { [ -z "${SSYNC_FAULT_ONLY:-}" ] || [ "$SSYNC_FAULT_ONLY" = "$1" ]; }
# scenario NAME FAULT [emulator options...]: a fresh emulator and journal, one sync.
scenario() {
    local name=$1 fault=$2
    shift 2
    want "$name" || return 0
    emu_start lab --quiet --write-limit off --request-limit off "$@" ||
        { not_ok "$name: emulator started"; return; }
    conf "s_$name.conf"
    "$SSYNC_BIN" sync --config "s_$name.conf" --json > "$name.json" 2> "$name.err"
    local rc=$?
    # on failure show why: the errors, without the info and warning lines
    [ "$rc" -eq 0 ] || grep -v ': info: \|: warning: ' "$name.err" | head -n 5 | sed 's/^/     | /'
    verdict "$name" "$fault" "$rc" "$name.json"
    kill "$EMU_PID" 2> /dev/null
    wait "$EMU_PID" 2> /dev/null
}

scenario 429 '*:*:5:23=429' --fault '*:*:5:23=429'
scenario 429-retry-after '*:*:4:29=429-retry:1' --fault '*:*:4:29=429-retry:1'
scenario 500-503-504 'POST:userPfxCertificates:4:37=500, *:*:5:41=503-retry:1, *:*:6:43=504' \
    --fault 'POST:userPfxCertificates:4:37=500' --fault '*:*:5:41=503-retry:1' \
    --fault '*:*:6:43=504'
scenario drop '*:*:3:53=drop' --fault '*:*:3:53=drop'
scenario slow '*:*:2:97=delay:4000 (request timeout 3 s)' --fault '*:*:2:97=delay:4000'
scenario post-commit-then-fail 'POST:userPfxCertificates:7:61=commit-500, …:5:59=commit-drop' \
    --fault 'POST:userPfxCertificates:7:61=commit-500' \
    --fault 'POST:userPfxCertificates:5:59=commit-drop'
# Graph checks the token on the outer request, never on an inner $batch request: expire those,
# sparsely enough that the retry of a refused request (after a new token) is not refused again,
# which the client rightly takes as fatal ("Graph refused a fresh token").
scenario token-expiry 'POST:$batch:2:25=expire, POST:userPfxCertificates:3:97=expire, token lifetime 10 s' \
    --fault 'POST:$batch:2:25=expire' --fault 'POST:userPfxCertificates:3:97=expire' \
    --token-lifetime 10

# DELETE: every certificate (the revoked ones too) is in Intune, then a sync with the CRL
# removes the revoked ones while deletes commit and fail.
name=delete-commit-then-fail
if want $name; then
    spec='DELETE:userPfxCertificates:1:4=commit-500, DELETE:…:3:4=commit-drop'
    emu_start lab --quiet --write-limit off --request-limit off \
        --fault 'DELETE:userPfxCertificates:1:4=commit-500' \
        --fault 'DELETE:userPfxCertificates:3:4=commit-drop' || not_ok "$name: emulator"
    conf d.conf nocrl
    "$SSYNC_BIN" sync --config d.conf --json > "$name.0.json" 2> "$name.0.err"
    check_eq "$name: all $total uploaded first" "$total" "$(emu records | jq .count)"
    conf d.conf
    # the removals are the point here, not the cap (20 of 115 with SSYNC_FAULT_USERS=100)
    "$SSYNC_BIN" sync --config d.conf --allow-large-change --json > "$name.json" 2> "$name.err"
    rc=$?
    check_eq "$name: the revoked ones removed" "$n_rev" "$(jq .counts.remove "$name.json")"
    verdict "$name" "$spec" "$rc" "$name.json"
    kill "$EMU_PID" 2> /dev/null
    wait "$EMU_PID" 2> /dev/null
fi

# The emulator restarted mid-run: SIGTERM (it saves its records with --state) once a third of
# the records are in, back on the same port two seconds later. Requests are slowed a little so
# that the stop falls mid-run however few the items are.
name=emulator-restart
if want $name; then
    emu_start lab --quiet --write-limit off --request-limit off --state "$T_TMP/emu.state" \
        --fault "*:*:1:1=delay:$([ "$n_up" -ge 500 ] && echo 20 || echo 60)" ||
        not_ok "$name: emulator"
    port=${EMU_URL##*:}
    conf r.conf
    "$SSYNC_BIN" sync --config r.conf --json > "$name.1.json" 2> "$name.1.err" &
    sync_pid=$!
    for _ in $(seq 1 600); do
        [ "$(emu records | jq -r '.count // 0')" -ge $((n_up / 3)) ] && break
        sleep 0.1
    done
    at_kill=$(emu records | jq -r '.count // 0')
    kill -TERM "$EMU_PID"
    wait "$EMU_PID" 2> /dev/null
    if [ "$at_kill" -lt "$n_up" ]; then ok "$name: stopped mid-run ($at_kill of $n_up records in)"
    else echo "note: $name: the run ended before the stop (too few items to stop it mid-run)"; fi
    sleep 2
    emu_start lab --quiet --write-limit off --request-limit off --state "$T_TMP/emu.state" \
        --listen "127.0.0.1:$port" || not_ok "$name: emulator restarted"
    wait "$sync_pid"
    rc1=$?
    rcs=$rc1
    report=$name.1.json
    if [ "$rc1" -ne 0 ]; then
        # a run that gave up while the service was away stops cleanly (1: nothing done, or 3:
        # partial), never a crash; the next run finishes the job
        grep -v ': info: \|: warning: ' "$name.1.err" | head -n 3 | sed 's/^/     | /'
        check "$name: first run stops cleanly (1 or 3, got $rc1)" test "$rc1" -eq 1 -o "$rc1" -eq 3
        "$SSYNC_BIN" sync --config r.conf --json > "$name.2.json" 2> "$name.2.err"
        rcs="$rc1 → $?"
        report=$name.2.json
fi
verdict "$name" "SIGTERM after $at_kill records, restart on the same port" "$rcs" "$report"
kill "$EMU_PID" 2> /dev/null
wait "$EMU_PID" 2> /dev/null
fi

# Disk full under the journal: a small tmpfs (root only) filled up mid-run. The run must stop
# cleanly (nothing half-written, no crash), the next run with space again finishes the job.
name=disk-full
if ! want $name; then
    :
elif [ "$(id -u)" -eq 0 ] && mkdir -p full && mount -t tmpfs -o size=4m,mode=0700 tmpfs full 2> /dev/null; then
    T_CLEANUP+=("umount $T_TMP/full")
    emu_start lab --quiet --write-limit off --request-limit off || not_ok "$name: emulator"
    conf f.conf
    sed -i "s|^path = $T_TMP/f.db$|path = $T_TMP/full/state.db|" f.conf
    "$SSYNC_BIN" plan --config f.conf > /dev/null 2>&1 # the journal exists, with its users
    # leave room for about half the writes' journal entries (~640 bytes each, and at least
    # 32 KiB): the journal runs out of room part-way through
    room=$((n_up * 640 / 1024 / 2 > 32 ? n_up * 640 / 1024 / 2 : 32))
    dd if=/dev/zero of=full/filler bs=1k count=$(($(df -k --output=avail full | tail -1) - room)) \
        2> /dev/null
    "$SSYNC_BIN" sync --config f.conf --json > "$name.1.json" 2> "$name.1.err"
    rc1=$?
    at_stop=$(emu records | jq .count)
    check "$name: no crash" test "$rc1" -lt 128
    if [ "$rc1" -eq 0 ] && [ "$at_stop" -eq "$n_up" ]; then
        echo "note: $name: the journal did not fill up (too few items)"
    else
        check "$name: the first run stops with an error (1 or 3)" test "$rc1" -eq 1 -o "$rc1" -eq 3
        check "$name: it says why" grep -qiE 'full|space|disk|journal' "$name.1.err"
    fi
    rm -f full/filler
    "$SSYNC_BIN" sync --config f.conf --json > "$name.2.json" 2> "$name.2.err"
    verdict "$name" "journal on a full tmpfs ($at_stop records in at the stop), then space again" \
        "$rc1 → $?" "$name.2.json"
    kill "$EMU_PID" 2> /dev/null
    wait "$EMU_PID" 2> /dev/null
else
    echo "skip $name: needs root and tmpfs"
fi

# An unwritable journal: the run refuses to start and writes nothing.
want unwritable-journal || { cat "$TABLE"; finish; exit; }
emu_start lab --quiet || not_ok "emulator"
conf u.conf
sed -i "s|^path = $T_TMP/u.db$|path = /proc/ssync-no-such-dir/state.db|" u.conf
"$SSYNC_BIN" sync --config u.conf > u.out 2> u.err
rc=$?
check_eq "unwritable journal: exit 1" 1 "$rc"
check_eq "unwritable journal: nothing written to Intune" 0 "$(emu records | jq .count)"
check "unwritable journal: one line that names the journal" grep -q 'state.db' u.err
printf '| unwritable journal | `state path in /proc` | %s | 0 | 0 | — (nothing started) | 0 | %s |\n' \
    "$total" "$rc" >> "$TABLE"
cat "$TABLE"
finish
