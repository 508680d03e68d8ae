#!/usr/bin/env bash
# Issue 18 #7: the blob directory is filled by others. A FIFO in it used to hang plan, status,
# check and sync (the open blocks for a writer that never comes); a symbolic link was followed to
# any file it names. Now only regular files are read: a FIFO and a link (even to a genuine blob)
# are skipped, each named with what it is, and every command finishes promptly.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --kras 1 --revoked 0 --expired 0 --renewals 0 --seed 83 > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet || { not_ok "emulator started"; finish; exit 1; }
ok "emulator started at $EMU_URL"
write_config lab blobs.conf
mkdir incoming
sed -i "s|^path = lab/blobs|path = $T_TMP/incoming|" blobs.conf
check_contains "config points at the test directory" "path = $T_TMP/incoming" blobs.conf
mapfile -t files < <(jq -r "select(.userPrincipalName != null) | .file" lab/manifest.jsonl)
cp "lab/${files[0]}" incoming/101.rsp
cp "lab/${files[1]}" incoming/102.rsp
mkfifo incoming/100.rsp                    # sorts first: check's sample used to open it
ln -s "$T_TMP/lab/${files[2]}" incoming/103.rsp # a genuine blob, but through a link

# plan: both named, with what they are; the two regular blobs planned
timeout -k 3 20 "$SSYNC_BIN" plan --config blobs.conf > plan.out 2> plan.err
status=$?
check "plan finished (not hung on the FIFO)" test "$status" -lt 124
check_contains "plan names the FIFO" "100.rsp: a FIFO, not a regular file: skipped" plan.out
check_contains "plan names the link" "103.rsp: a symbolic link, not a regular file: skipped" plan.out

timeout -k 3 20 "$SSYNC_BIN" plan --config blobs.conf --json > plan.json 2> plan-json.err
check_eq "plan --json: two uploads" 2 "$(jq '[.items[] | select(.action == "upload")] | length' plan.json)"

# check: the two regular blobs counted, the others named; the sample is a real blob
timeout -k 3 20 "$SSYNC_BIN" check --config blobs.conf > chk.out 2> chk.err
status=$?
check "check finished (not hung on the FIFO)" test "$status" -lt 124
check_contains "check counts the regular blobs" "2 recovery blobs" chk.out
check_contains "check names the FIFO" "'100.rsp' (a FIFO)" chk.out
check_contains "check names the link" "'103.rsp' (a symbolic link)" chk.out
check_contains "the sample is a regular blob" "101.rsp: recovered" chk.out

# status and sync: finish; only the regular blobs reach Intune
timeout -k 3 20 "$SSYNC_BIN" status --config blobs.conf > status.out 2> status.err
check "status finished" test "$?" -lt 124
timeout -k 3 60 "$SSYNC_BIN" sync --config blobs.conf --no-progress > sync.out 2> sync.err
status=$?
check "sync finished" test "$status" -lt 124
check_eq "two records in Intune" 2 "$(curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" | jq .count)"
check "the link's target was never uploaded" \
    bash -c "! curl -s --cacert lab/tls/ca.pem '$EMU_URL/emu/records' | grep -q \"\$(jq -r 'select(.file == \"${files[2]}\") | .thumbprint' lab/manifest.jsonl)\""
finish
