#!/usr/bin/env bash
# `make demo` as CI runs it: the same script (scripts/demo) on this build, into a temporary
# directory. Lab CA -> intune-emu -> check -> plan -> sync -> device-fetch on two devices ->
# the S/MIME message opens on both -> the plain-words summary and where to look next.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
check_contains "make demo runs scripts/demo on the build" "scripts/demo build" \
    <(make -s -n -C "$SSYNC_SRC" demo 2>&1 | grep scripts/demo)
DEMO_OUT=$T_TMP/demo DEMO_BIN=$SSYNC_BIN "$SSYNC_SRC/scripts/demo" "$SSYNC_BUILD" > demo.out 2> demo.err
check_eq "the demo exits 0" 0 "$?"
for step in "1. A lab AD CS" "2. The local Intune emulator" "3. smimesync check" \
    "4. smimesync plan" "5. smimesync sync" "6. Two devices" "7. Mail encrypted" \
    "8. A bad CRL revokes 12 certificates at once" "9. smimesync status --devices"; do
    check_contains "step: $step" "== $step" demo.out
done
check_contains "check passes" "0 failed or not tested" demo.out
check "plan and sync agree" bash -c \
    "[ \"\$(grep '^plan:' demo.out | sed 's/^plan://')\" = \"\$(grep '^sync:' demo.out | sed 's/^sync://')\" ]"
check_contains "sync has no failure" "skip, 0 failed" demo.out
check_contains "the phone reads the message" "phone reads: Meet at noon." demo.out
check_contains "the tablet reads the message" "tablet reads: Meet at noon." demo.out
check_contains "the devices hold the same key" "both devices hold the same private key" demo.out
check_contains "the bad CRL is stopped by the removal cap" \
    "[policy] max_removals: the plan removes 12 records, 2 more than the 10 allowed" demo.out
check_contains "the stopped sync exits 6" "sync exit status 6: the tenant is unchanged" demo.out
check_eq "status --devices: phone and tablet installed" 2 \
    "$(grep -cE '^    installed +[0-9a-f]{40}: through' demo.out)"
check_contains "status --devices: the broken case" "no PKCS imported profile for android" demo.out
check_contains "status --devices: totals" "2 installed, 0 failed, 0 pending, 1 not delivered by rule" demo/devices.txt
check_contains "status --devices: explained" "The Android phone has no PKCS imported certificate profile" demo.out
check_contains "check warned about it" "intune profile android: no PKCS imported certificate profile" demo.out
check "the devices page exists" grep -q '<section id="devices">' demo/devices.html
check_contains "the summary" "What happened, in plain words:" demo.out
check_contains "where to look next" "Where to look next:" demo.out
check "the HTML report exists" grep -q "smimesync sync report" demo/sync-report.html
check "the run's reports exist" bash -c "ls demo/state/reports/sync-*.json > /dev/null"
check "no secret in the demo's output" bash -c "! grep -qF \"\$(cat demo/lab/kra.pass)\" demo.out"
check_eq "nothing on stderr" "" "$(cat demo.err)"
finish
