#!/usr/bin/env bash
# Logs as native journal entries, checked on the real protocol: libsystemd writes to the fixed
# path /run/systemd/journal/socket (no variable moves it), so the test runs smimesync in a private
# mount namespace (unshare -m as root, else unshare -rm) with a tmpfs on /run where a stand-in
# journald (journal_listen.py) binds that socket and decodes each datagram. A sync with
# [log] format = journal, and one whose stderr is what $JOURNAL_STREAM names (as systemd sets
# it), send entries with MESSAGE_ID per event, PRIORITY, SMIMESYNC_USER, SMIMESYNC_THUMBPRINT,
# SMIMESYNC_SOURCE and SMIMESYNC_GRAPH_REQUEST_ID; no secret in any field; --log-format text
# overrides; without a journal socket the lines fall back to stderr.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
if [ "$(id -u)" -eq 0 ]; then NS=(unshare -m --propagation private); else NS=(unshare -rm); fi
if ! "${NS[@]}" true 2> /dev/null; then
    echo "SKIP: no mount namespace here (unshare refused); the journal test needs one"
    exit 77
fi
"$LAB_BIN" --out lab --users 4 --kras 1 --unknown-users 0 --revoked 1 --seed 74 > /dev/null
emu_start lab --quiet --fault 'POST:userPfxCertificates:2=429-retry:0' ||
    { not_ok "emulator started"; finish; exit 1; }
write_config lab sync.conf
printf '[log]\nformat = journal\n' >> sync.conf
sed '/^format = journal$/d' sync.conf > auto.conf
n_up=$(jq -s '[.[] | select(.userId != null and (.revoked | not))] | length' lab/manifest.jsonl)

# in the namespace: journald's socket on a private /run, then the command; entries in $2
cat > in_ns.sh << 'INNER'
set -u
out=$1
shift
mount -t tmpfs tmpfs /run
mkdir -p /run/systemd/journal
/usr/bin/python3 "$SSYNC_SRC/tests/integration/journal_listen.py" /run/systemd/journal/socket "$out" 60 &
l=$!
for _ in $(seq 1 50); do [ -S /run/systemd/journal/socket ] && break; sleep 0.1; done
"$@"
rc=$?
sleep 0.3
kill $l
exit $rc
INNER

"${NS[@]}" bash in_ns.sh "$T_TMP/j1.jsonl" "$SSYNC_BIN" sync --config sync.conf --no-progress \
    > s1.out 2> s1.err
check_eq "sync logging to the journal: exit 0" 0 "$?"
check "entries received" test -s j1.jsonl
ids() { jq -r "select(.MESSAGE_ID == \"$1\")" "$2" | jq -s length; }
check_eq "run started: one entry with its MESSAGE_ID" 1 "$(ids 33e8a7b812b64fb1ad26f3b801a2bb40 j1.jsonl)"
check_eq "run finished: one entry" 1 "$(ids a897571700cd46fe8a429de7cebfede8 j1.jsonl)"
check_eq "one 'uploaded' entry per upload" "$n_up" "$(ids 8ad7b6bf46ca4d7ba216bdb618d62f11 j1.jsonl)"
check_eq "throttled: one entry" 1 "$(ids 0f6148a40abc489fa9750bca8dcefd82 j1.jsonl)"
up=$(jq -c 'select(.MESSAGE_ID == "8ad7b6bf46ca4d7ba216bdb618d62f11")' j1.jsonl | head -n 1)
user=$(jq -r .SMIMESYNC_USER <<< "$up")
tp=$(jq -r .SMIMESYNC_THUMBPRINT <<< "$up")
check "uploaded: SMIMESYNC_USER is a user of the lab" grep -q "\"$user\"" lab/manifest.jsonl
check_eq "uploaded: SMIMESYNC_THUMBPRINT is that user's certificate" "$user" \
    "$(jq -r --arg t "$tp" 'select(.thumbprint == $t) | .userPrincipalName' lab/manifest.jsonl)"
check "uploaded: SMIMESYNC_SOURCE is the blob" test -f "$(jq -r .SMIMESYNC_SOURCE <<< "$up")"
check "uploaded: SMIMESYNC_GRAPH_REQUEST_ID set" \
    test -n "$(jq -r '.SMIMESYNC_GRAPH_REQUEST_ID // empty' <<< "$up")"
check_eq "uploaded: PRIORITY 6 (info)" 6 "$(jq -r .PRIORITY <<< "$up")"
check_eq "SYSLOG_IDENTIFIER" smimesync "$(jq -r .SYSLOG_IDENTIFIER <<< "$up")"
check_eq "SMIMESYNC_COMMAND" sync "$(jq -r .SMIMESYNC_COMMAND <<< "$up")"
check_eq "throttled: PRIORITY 4 (warning)" 4 \
    "$(jq -r 'select(.MESSAGE_ID == "0f6148a40abc489fa9750bca8dcefd82") | .PRIORITY' j1.jsonl)"
check "nothing printed on stderr (it all went to the journal)" test ! -s s1.err
check "no secret in any entry" sh -c "! grep -qF -e \"\$(cat lab/client-secret)\" -e \"\$(cat lab/kra.pass)\" j1.jsonl"

# systemd's way: no [log] format, stderr is the stream $JOURNAL_STREAM names
curl -s --cacert lab/tls/ca.pem -X DELETE "$EMU_URL/emu/records" > /dev/null
: > s2.err
js=$(stat -c '%d:%i' s2.err)
JOURNAL_STREAM=$js "${NS[@]}" bash in_ns.sh "$T_TMP/j2.jsonl" "$SSYNC_BIN" sync --config auto.conf \
    --no-progress > s2.out 2>> s2.err
check_eq "JOURNAL_STREAM naming stderr: exit 0" 0 "$?"
check_eq "JOURNAL_STREAM naming stderr: entries in the journal" "$n_up" \
    "$(ids 8ad7b6bf46ca4d7ba216bdb618d62f11 j2.jsonl)"
# a JOURNAL_STREAM inherited by a process whose stderr is elsewhere is not the journal
JOURNAL_STREAM=1:1 "${NS[@]}" bash in_ns.sh "$T_TMP/j3.jsonl" "$SSYNC_BIN" sync --config auto.conf \
    --no-progress -v > s3.out 2> s3.err
check "JOURNAL_STREAM naming another file: text on stderr" grep -q '^smimesync sync: ' s3.err
check_eq "JOURNAL_STREAM naming another file: no entry" 0 "$(wc -l < j3.jsonl 2> /dev/null || echo 0)"
# --log-format overrides the configuration
"${NS[@]}" bash in_ns.sh "$T_TMP/j4.jsonl" "$SSYNC_BIN" sync --config sync.conf --no-progress \
    --log-format text -v > s4.out 2> s4.err
check "--log-format text: text on stderr" grep -q '^smimesync sync: ' s4.err
check_eq "--log-format text: no entry" 0 "$(wc -l < j4.jsonl 2> /dev/null || echo 0)"
# no journal socket at all: the lines are not lost
"$SSYNC_BIN" sync --config sync.conf --no-progress -v > s5.out 2> s5.err
if [ -S /run/systemd/journal/socket ]; then
    ok "no journal socket: skipped (this machine runs journald)"
else
    check "no journal socket (journald not running): the lines go to stderr" grep -q "^smimesync sync: " s5.err
fi
finish
