#!/usr/bin/env bash
# TLS to Graph and Entra ID is always verified: a CA bundle that did not issue the server's
# certificate, a certificate for another host name, an expired certificate, a self-signed one —
# each refuses the connection with a one-line error that says why, and nothing is written.
source "$(dirname "$0")/lib.sh"
cd "$T_TMP"
"$LAB_BIN" --out lab --users 3 --seed 71 > /dev/null
check "lab generated" test -f lab/tls/ca.key

# Server certificates signed by the lab's TLS CA, made with `openssl ca` (dates in the past).
mkdir -p ca/new && : > ca/index.txt && echo 1000 > ca/serial
cat > ca/ca.cnf <<CNF
[ca]
default_ca = lab
[lab]
dir = $T_TMP/ca
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
certificate = $T_TMP/lab/tls/ca.pem
private_key = $T_TMP/lab/tls/ca.key
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
# server NAME SAN [ca options...]: NAME.pem / NAME.key
server() {
    local name=$1 san=$2
    shift 2
    openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -subj "/CN=$name" \
        -addext "subjectAltName=$san" -addext "extendedKeyUsage=serverAuth" -out "$name.csr" \
        2> /dev/null &&
        openssl ca -batch -config ca/ca.cnf -in "$name.csr" -out "$name.pem" -notext "$@" \
            > /dev/null 2>&1
}
check "certificate for another host" server wronghost "DNS:graph.example.com,IP:192.0.2.1" -days 30
check "expired certificate" server expired "DNS:localhost,IP:127.0.0.1" \
    -startdate 20200101000000Z -enddate 20200201000000Z
check "not yet valid certificate" server future "DNS:localhost,IP:127.0.0.1" \
    -startdate 20400101000000Z -enddate 20410101000000Z
openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -subj /CN=localhost -days 30 \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -out selfsigned.pem 2> /dev/null
check "self-signed certificate" test -s selfsigned.pem
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -subj "/CN=Some Other CA" \
    -days 30 -out other-ca.pem 2> /dev/null

# the admin endpoint, whatever certificate the emulator shows (this is the test's own look)
emu() { curl -s -k "$EMU_URL/emu/$1"; }
# refused NAME EXPECTED-TEXT: sync and plan against the running emulator fail, saying why.
refused() {
    local name=$1 why=$2
    "$SSYNC_BIN" sync --config "$name.conf" > "$name.out" 2> "$name.err"
    check_eq "$name: sync exit status" 1 "$?"
    check_contains "$name: the error says why" "$why" "$name.err"
    check "$name: one error line" test "$(grep -c . "$name.err")" -le 2
    "$SSYNC_BIN" check --config "$name.conf" > "$name.check" 2>&1
    check "$name: check fails too" test $? -ne 0
}

# 1. the right server, a CA bundle that did not issue its certificate
emu_start lab --quiet || { not_ok "emulator"; finish; exit 1; }
write_config lab wrongca.conf
sed -i "s|^ca_bundle = .*|ca_bundle = $T_TMP/other-ca.pem|" wrongca.conf
refused wrongca "certificate"
# and the same server through the right bundle works (the control case)
write_config lab good.conf
"$SSYNC_BIN" plan --config good.conf > good.out 2> good.err
check_eq "right CA bundle: plan works" 0 "$?"
kill "$EMU_PID" && wait "$EMU_PID" 2> /dev/null

for c in wronghost expired future selfsigned; do
    emu_start lab --quiet --tls-cert "$c.pem" --tls-key "$c.key" || { not_ok "$c: emulator"; continue; }
    write_config lab "$c.conf"
    case $c in
    wronghost) refused "$c" "127.0.0.1" ;;
    expired) refused "$c" "expired" ;;
    future) refused "$c" "not yet valid" ;;
    selfsigned) refused "$c" "self-signed" ;;
    esac
    check_eq "$c: nothing written" 0 "$(emu records | jq .count)"
    kill "$EMU_PID" && wait "$EMU_PID" 2> /dev/null
done
finish
