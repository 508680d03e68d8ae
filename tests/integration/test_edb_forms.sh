#!/usr/bin/env bash
# Every ESE form Windows writes, as the lab writes it (smimesync-lab --edb-opts): 4, 16 and 32 KiB
# pages, 8-byte long-value ids, long values compressed chunk by chunk, a header with fields past
# byte 668, and all of them at once. A sync from each CA-shaped database gives the same Intune
# state as a sync from the same lab's recovery blobs.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
for form in page4k page16k page32k lvkey8 lvcompress hdrext page32k,lvkey8,lvcompress,hdrext \
    page16k,lvkey8,compress; do
    name=${form//,/-}
    lab=lab-$name
    "$LAB_BIN" --out "$lab" --users 5 --revoked 1 --renewals 1 --key-pool 2 --seed 41 \
        --edb "$lab/ca.edb" --edb-opts "extra=20,$form" > /dev/null
    check "$form: database written" test -s "$lab/ca.edb"
    case $form in
    page4k*) want=4096 ;; page16k*) want=16384 ;; page32k*) want=32768 ;; *) want=8192 ;;
    esac
    check_eq "$form: page size in the header" "$want" \
        "$(od -An -tu4 -j236 -N4 "$lab/ca.edb" | tr -d ' ')"
    emu_start "$lab" --strict || { not_ok "$form: emulator started"; continue; }
    emu() { curl -s --cacert "$lab/tls/ca.pem" "$EMU_URL/emu/$1"; }
    write_config "$lab" "blobs-$name.conf"
    sed -i "s|^path = $T_TMP/state.db|path = $T_TMP/state-blobs-$name.db|" "blobs-$name.conf"
    "$SSYNC_BIN" sync --config "blobs-$name.conf" --json > /dev/null 2> "blobs-$name.err"
    check_eq "$form: sync from blobs: exit status" 0 "$?"
    emu records | jq -r '.records[] | [.userPrincipalName, .thumbprint] | @tsv' | sort > "state-blobs-$name.txt"
    check "$form: sync from blobs uploaded records" test -s "state-blobs-$name.txt"
    curl -s --cacert "$lab/tls/ca.pem" -X DELETE "$EMU_URL/emu/records" > /dev/null
    write_config "$lab" "$name.conf"
    sed -i "s|^type = blobs|type = edb|; s|^path = $lab/blobs|path = $lab/ca.edb|; s|^path = $T_TMP/state.db|path = $T_TMP/state-$name.db|" "$name.conf"
    "$SSYNC_BIN" sync --config "$name.conf" --json > "sync-$name.json" 2> "sync-$name.err"
    check_eq "$form: sync from the database: exit status" 0 "$?" || head -3 "sync-$name.err"
    check_eq "$form: every key recovered, the lab's thumbprints" \
        "$(jq -r .thumbprint "$lab/manifest.jsonl" | sort)" \
        "$(jq -r '.items[].thumbprint' "sync-$name.json" | sort)"
    emu records | jq -r '.records[] | [.userPrincipalName, .thumbprint] | @tsv' | sort > "state-$name.txt"
    check_eq "$form: the same Intune state as from the blobs" "$(cat "state-blobs-$name.txt")" \
        "$(cat "state-$name.txt")"
    kill "$EMU_PID" 2> /dev/null
    wait "$EMU_PID" 2> /dev/null
done

# the Windows 11 header: a checksum over 668 bytes only would call it damaged
"$LAB_BIN" --out lab-h --users 2 --key-pool 1 --renewals 0 --revoked 0 --expired 0 --seed 42 \
    --edb lab-h/ca.edb --edb-opts hdrext > /dev/null
check "hdrext: bytes past 668 are set" test "$(od -An -tx1 -j672 -N7 lab-h/ca.edb | tr -d ' ')" = 01020304050607
finish
