#!/usr/bin/env bash
# bench/run --source edb runs end to end (smoke size, timings not judged): the lab writes its
# CA database and the sync figures come from it.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
SSYNC_BUILD=$SSYNC_BUILD "$SSYNC_SRC/bench/run" --smoke --source edb > bench.out 2> bench.err
check_eq "bench/run --source edb --smoke: exit status" 0 "$?"
tail -n 1 bench.out > bench.json
check_eq "the JSON line names the source" edb "$(jq -r .source bench.json)"
check_contains "the table names the source" "source of sync, re-sync and big plan" bench.out
check_eq "the full sync from the database uploaded every item" \
    "$(jq .items bench.json)" "$(jq '.graph_requests_by_method["POST userPfxCertificates"]' bench.json)"
check "re-sync from the database: one listing, no writes ($(jq .ratios.resync.requests bench.json) requests)" \
    test "$(jq .ratios.resync.requests bench.json)" -le 7
check_eq "a wrong --source is refused" 2 \
    "$("$SSYNC_SRC/bench/run" --source ldap > /dev/null 2>&1; echo $?)"
finish
