#!/usr/bin/env bash
# Memory cleansing, shown on the process image: a real `smimesync sync` against the lab and
# intune-emu, and a real `smimesync export`, each run under gdb and dumped with gcore at the
# process's last instruction (_exit, after every atexit handler), are scanned for the secrets
# they handled: the KRA password, the client secret, the PKCS#12 password of every record they
# made (decrypted from the records with the connector key), the access tokens, and the private
# exponent and primes of the KRA key and of every user key (read back from the PKCS#12s in
# Intune), as bytes in both orders. None may be left. A core taken mid-run (at the first
# connector encryption) shows the scan does find them while they are in use. Each finds lists
# NAME FORM OFFSET; SSYNC_CORE_KEEP=DIR keeps the cores and the secrets there to look into one.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
SCAN="python3 $SSYNC_SRC/tests/integration/core_scan.py"
BIN=${SSYNC_REAL_BIN:-$SSYNC_BIN} # the binary itself, not the valgrind wrapper
if [ -n "${SSYNC_SANITIZED:-}" ]; then
    # ASan's allocator keeps freed blocks in quarantine and its shadow mappings are terabytes
    echo "skip: a core image of an ASan build is neither small nor meaningful"
    finish
    exit 0
fi
if ! command -v gdb > /dev/null || ! command -v gcore > /dev/null; then
    not_ok "gdb is installed (scripts/bootstrap --test)"
    finish
    exit 1
fi
"$LAB_BIN" --out lab --users 5 --key-pool 5 --renewals 0 --revoked 0 --expired 0 --seed 97 \
    > /dev/null
check "lab generated" test -f lab/manifest.jsonl
emu_start lab --quiet || { not_ok "emulator"; finish; exit 1; }
write_config lab s.conf

# under_gdb NAME ARGS...: runs the binary under gdb; a core at the first connector encryption
# (NAME.mid.core) and one at _exit (NAME.core).
under_gdb() {
    local name=$1
    shift
    gdb -batch -nx -q -iex 'set debuginfod enabled off' -ex 'set pagination off' \
        -ex 'set confirm off' -ex 'set breakpoint pending on' -ex 'set startup-with-shell off' \
        -ex 'handle SIGPIPE nostop noprint pass' \
        -ex 'break ssync_connector_encrypt' -ex run -ex "gcore $name.mid.core" -ex delete \
        -ex 'break _exit' -ex continue -ex "gcore $name.core" -ex kill \
        --args "$BIN" "$@" > "$name.gdb" 2>&1
}
# keys_of PEM_KEY NAME: the private exponent and primes of an RSA key as secrets lines.
keys_of() {
    openssl rsa -in "$1" -traditional -outform DER 2> /dev/null | openssl asn1parse -inform DER |
        sed -n 's/.*INTEGER *://p' | sed -n '4p;5p;6p' |
        paste <(printf '%s\n' "$2 d" "$2 p" "$2 q") - | sed 's/\t/\tint\t/'
}
# record_secrets NAME FILE.json: the PKCS#12 password of a record (decrypted with the connector
# key), and the private exponent and primes of the user key inside the PKCS#12.
record_secrets() {
    local name=$1 rec=$2 pad pass
    pad=$(jq -r .paddingScheme "$rec" | sed 's/oaepSha/sha/')
    pass=$(jq -r .encryptedPfxPassword "$rec" | base64 -d |
        openssl pkeyutl -decrypt -inkey lab/connector.key -pkeyopt rsa_padding_mode:oaep \
            -pkeyopt "rsa_oaep_md:$pad" -pkeyopt "rsa_mgf1_md:$pad")
    printf '%s\tstr\t%s\n' "$name password" "$pass"
    jq -r .encryptedPfxBlob "$rec" | base64 -d > "$name.p12"
    printf '%s' "$pass" > "$name.pass"
    openssl pkcs12 -in "$name.p12" -passin "file:$name.pass" -nocerts -nodes 2> /dev/null \
        > "$name.key"
    keys_of "$name.key" "$name key"
}
# scan CORE: the finds (NAME FORM OFFSET), empty when the image holds none of the secrets.
scan() { $SCAN "$1" secrets.txt; }

# The secrets known before the runs.
{
    printf 'KRA password\tstr\t%s\n' "$(head -n 1 lab/kra.pass)"
    printf 'client secret\tstr\t%s\n' "$(head -n 1 lab/client-secret)"
    printf 'access token shape\tjwt\t-\n'
} > secrets.txt
openssl pkcs12 -in lab/kra.p12 -passin file:lab/kra.pass -nocerts -nodes 2> /dev/null > kra.key
keys_of kra.key KRA >> secrets.txt
check_eq "the KRA key's exponent and primes" 3 "$(grep -cP '^KRA [dpq]\tint\t' secrets.txt)"

# scan_run RUN WHO: the mid-run core must hold the KRA key, a PKCS#12 password and a user key
# of the run (the scan finds what is in use); the core at exit must hold no secret at all.
# WHO: how the run's records are named in secrets.txt. The cores are removed (160 MB each).
scan_run() {
    local run=$1 who=$2
    scan "$run.mid.core" > "$run.mid.finds"
    check "$run mid-run: the KRA key is found" grep -q '^KRA d ' "$run.mid.finds"
    check "$run mid-run: a PKCS#12 password is found" \
        grep -qE "^$who [0-9]+ password " "$run.mid.finds"
    check "$run mid-run: a user key is found" grep -qE "^$who [0-9]+ key d " "$run.mid.finds"
    scan "$run.core" > "$run.finds"
    check_eq "$run: no secret left in the process image at exit" "" \
        "$(cut -d' ' -f1-4 "$run.finds" | sort | uniq -c | head -n 20)"
    if [ -n "${SSYNC_CORE_KEEP:-}" ]; then # a place to look into a find
        mkdir -p "$SSYNC_CORE_KEEP" && cp -r ./* "$SSYNC_CORE_KEEP"/
    fi
    rm -f "$run.mid.core" "$run.core"
}

# sync
under_gdb sync sync --config s.conf --report sync.json
check_contains "sync stopped at its exit" "hit Breakpoint 2" sync.gdb
check "sync: core at exit" test -s sync.core
curl -s --cacert lab/tls/ca.pem "$EMU_URL/emu/records" > records.json
n=$(jq '.records | length' records.json)
check_eq "sync uploaded every certificate" 5 "$n"
check_eq "sync report: 5 uploads, none failed" "5 0" \
    "$(jq -r '[.counts.upload, .counts.failed] | map(tostring) | join(" ")' sync.json)"
# the access tokens sync held (in use mid-run)
$SCAN --tokens sync.mid.core > tokens.txt
check "sync mid-run: the access token is found" test -s tokens.txt
awk '{ printf "access token %d\tjwt\t%s\n", NR, $0 }' tokens.txt >> secrets.txt
for i in $(seq 0 $((n - 1))); do
    jq ".records[$i]" records.json > "rec$i.json"
    record_secrets "record $i" "rec$i.json" >> secrets.txt
done
check_eq "the secrets to look for in sync" $((3 + 3 + $(wc -l < tokens.txt) + 5 * 4)) \
    "$(wc -l < secrets.txt)"
scan_run sync record

# export, to a directory: its records hold the passwords, encrypted to the connector key
mkdir out
under_gdb export export --kra lab/kra.p12 --kra-pass-file lab/kra.pass \
    --connector-key lab/connector-public.rsa1blob --out-dir out lab/blobs
check_contains "export stopped at its exit" "hit Breakpoint 2" export.gdb
check "export: core at exit" test -s export.core
check_eq "export wrote every record" 5 "$(ls out | wc -l)"
i=0
for f in out/*; do
    record_secrets "export $i" "$f" >> secrets.txt
    i=$((i + 1))
done
check_eq "the secrets to look for in export" 5 "$(grep -c '^export [0-9]* password' secrets.txt)"
scan_run export export
finish
