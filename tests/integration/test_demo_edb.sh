#!/usr/bin/env bash
# The demo from the lab CA's database (DEMO_SOURCE=edb: smimesync-lab --edb, [source] type =
# edb): the same steps and the same outcome as from the recovery blobs.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
DEMO_SOURCE=edb DEMO_OUT=$T_TMP/demo DEMO_BIN=$SSYNC_BIN "$SSYNC_SRC/scripts/demo" "$SSYNC_BUILD" > demo.out 2> demo.err
check_eq "the demo from the CA database exits 0" 0 "$?"
check_contains "it says it reads the database" "smimesync reads the CA database" demo.out
check "the configuration names the database" grep -qx "type = edb" demo/smimesync.conf
check "the database exists" test -s demo/lab/ca.edb
check_contains "check passes" "0 failed or not tested" demo.out
check_contains "the revoked certificate is skipped (disposition from the database)" \
    "certificate revoked" demo.out
check "plan and sync agree" bash -c \
    "[ \"\$(grep '^plan:' demo.out | sed 's/^plan://')\" = \"\$(grep '^sync:' demo.out | sed 's/^sync://')\" ]"
check_contains "sync has no failure" "skip, 0 failed" demo.out
check_contains "the phone reads the message" "phone reads: Meet at noon." demo.out
check_contains "the tablet reads the message" "tablet reads: Meet at noon." demo.out
check_eq "nothing on stderr" "" "$(cat demo.err)"
check_eq "a wrong DEMO_SOURCE is refused" 2 \
    "$(DEMO_SOURCE=ldap DEMO_OUT=$T_TMP/bad "$SSYNC_SRC/scripts/demo" "$SSYNC_BUILD" > /dev/null 2>&1; echo $?)"
finish
