#!/usr/bin/env bash
# Terminal, log and report injection (issue 18 #4): a blob's file name chosen by whoever drops
# it into the blob directory carries OSC 52 (write the clipboard), a title escape and a newline
# that forges a "done" line. stdout, stderr (text and JSON logs) and the text, JSON and HTML
# reports hold no raw control byte: every text sink shows escapes (\x1b, \x0a).
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 2 --seed 31 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --strict || { not_ok "emulator started"; finish; exit 1; }
write_config lab sync.conf
hostile=$'x\e]52;c;SGVsbG8=\a\e]0;pwned\a\nsmimesync sync: upload ceo@lab.example [done]\u202e.der'
printf 'not a blob' > "lab/blobs/$hostile"
check "a blob with control characters in its name" test -f "lab/blobs/$hostile"

# raw_controls FILE: the count of C0 controls (but \n and \t), DEL, C1 and bidi overrides
raw_controls() {
    python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], 'rb').read()
bad = len(re.findall(rb'[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]', data))
print(bad)
PY
}
# forged FILE: lines that start with the forged text (a newline let it through)
forged() { grep -c '^smimesync sync: upload ceo@lab.example' "$1" || true; }

for cmd in plan sync status; do
    "$SSYNC_BIN" "$cmd" --config sync.conf > "$cmd.out" 2> "$cmd.err"
    check_eq "$cmd: no raw control on stdout" 0 "$(raw_controls "$cmd.out")"
    check_eq "$cmd: no raw control on stderr" 0 "$(raw_controls "$cmd.err")"
    check_eq "$cmd: no forged line" 0 "$(( $(forged "$cmd.out") + $(forged "$cmd.err") ))"
done
check "status: the failed blob is named with visible escapes" \
    grep -qF 'x\x1b]52;c;SGVsbG8=\x07\x1b]0;pwned\x07\x0asmimesync sync: upload' status.out
check "status: the bidi override is shown as \\u202e" grep -qF '\u202e.der' status.out
for r in reports/*.txt; do
    check_eq "text report $(basename "$r"): no raw control" 0 "$(raw_controls "$r")"
    check_eq "text report $(basename "$r"): no forged line" 0 "$(forged "$r")"
done
"$SSYNC_BIN" plan --config sync.conf --report plan.html > /dev/null 2>&1
check_eq "HTML report: no raw control" 0 "$(raw_controls plan.html)"
"$SSYNC_BIN" plan --config sync.conf --report plan.txt > /dev/null 2>&1
check_eq "plan --report text: no raw control" 0 "$(raw_controls plan.txt)"

# JSON logs: one line per message, each valid JSON, none dropped
sed 's/^\[state\]$/[log]\nformat = json\n[state]/' sync.conf > json.conf
"$SSYNC_BIN" plan --config json.conf > /dev/null 2> json.err
check_eq "JSON log: no raw control" 0 "$(raw_controls json.err)"
check "JSON log: every line is JSON" python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    json.loads(line)' json.err
finish
