#!/usr/bin/env bash
# Regenerates the recovery fixtures (see README.md). Needs the openssl CLI and python3 (python3 only
# builds key blobs and hand-shaped PKCS#7 wrappers; tests never run this script). The generated files
# are committed: run it only to change the fixtures.
set -euo pipefail
cd "$(dirname "$0")"
B=../adcs-basic
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

KRA_EXT="$T/kra.ext"
cat >"$KRA_EXT" <<'X'
basicConstraints=critical,CA:FALSE
keyUsage=critical,keyEncipherment
extendedKeyUsage=1.3.6.1.4.1.311.21.6
subjectKeyIdentifier=hash
X

# kra2: a second KRA from the same CA (we hold its key).
openssl genrsa -out kra2.key 2048 2>/dev/null
openssl req -new -key kra2.key -subj "/CN=Lab Vector KRA 2" -out "$T/kra2.csr"
openssl x509 -req -in "$T/kra2.csr" -CA $B/ca.pem -CAkey $B/ca.key -set_serial 0x1A2B3C4D5E6F7081 \
    -days 3650 -extfile "$KRA_EXT" -out kra2.pem 2>/dev/null
# kra3: a KRA from the same CA whose key we do not hold (key discarded).
openssl genrsa -out "$T/kra3.key" 2048 2>/dev/null
openssl req -new -key "$T/kra3.key" -subj "/CN=Lab Vector KRA 3" -out "$T/kra3.csr"
openssl x509 -req -in "$T/kra3.csr" -CA $B/ca.pem -CAkey $B/ca.key -set_serial 0x0FEDCBA987654321 \
    -days 3650 -extfile "$KRA_EXT" -out kra3.pem 2>/dev/null
# kra4: same serial number as kra1 but another issuer (self-signed): only issuer+serial tells apart.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/kra4.key" -subj "/CN=Other Lab KRA" \
    -set_serial 0x2E29AAA3690D9087745552FD7924C75F0800E743 -days 3650 -out kra4.pem 2>/dev/null

# KRA files as admins export them.
PW=legacy-Pa55
openssl pkcs12 -export -legacy -in $B/kra1.pem -inkey $B/kra1.key -certfile $B/ca.pem \
    -passout pass:$PW -out kra1-legacy.p12
openssl pkcs12 -export -descert -macalg sha1 -in $B/kra1.pem -inkey $B/kra1.key \
    -certfile $B/ca.pem -passout pass:$PW -out kra1-descert.p12
openssl pkcs12 -export -nokeys -in $B/kra1.pem -certfile $B/ca.pem -passout pass:$PW \
    -out kra1-nokey.p12
openssl pkcs12 -export -in kra2.pem -inkey kra2.key -passout pass:$PW -out kra2.p12
printf '%s' "$PW" >p12.pass
cat $B/kra1.pem $B/kra1.key >kra1-combined.pem   # certificate first, then the key
openssl pkey -in $B/kra1.key -aes256 -passout pass:pem-Pa55 -out kra1-encrypted.key

# Key blobs derived from the user key's PRIVATEKEYBLOB (see README.md for the layouts).
python3 - <<'PY'
import struct
b = open("../adcs-basic/user.privatekeyblob", "rb").read()
btype, ver, res, alg, magic, bits, e = struct.unpack_from("<BBHI4sII", b, 0)
assert (btype, ver, alg, magic) == (7, 2, 0xA400, b"RSA2")
h, q_ = bits // 8, bits // 16
off = 20
def take(n):
    global off
    v = b[off:off + n][::-1]   # little-endian -> big-endian
    off += n
    return v
n, p, q, dp, dq, qi, d = take(h), take(q_), take(q_), take(q_), take(q_), take(q_), take(h)
open("user-sign.privatekeyblob", "wb").write(b[:4] + struct.pack("<I", 0x2400) + b[8:])
eb = e.to_bytes((e.bit_length() + 7) // 8, "big")
hdr = lambda m: struct.pack("<4sIIIII", m, bits, len(eb), len(n), len(p), len(q))
open("user.cng-rsa2.blob", "wb").write(hdr(b"RSA2") + eb + n + p + q)
open("user.cng-rsa3.blob", "wb").write(hdr(b"RSA3") + eb + n + p + q + dp + dq + qi + d)
# BCRYPT_ECCKEY_BLOB "ECK2" (ECDH P-256 private): magic, cbKey, X, Y, d. Content is a dummy.
open("eck2.blob", "wb").write(struct.pack("<4sI", b"ECK2", 32) + bytes(range(96)))
PY

enc() { # enc <cipher> <in> <out> <recipient certs...>
    local c=$1 in=$2 out=$3
    shift 3
    openssl cms -encrypt -binary -$c -in "$in" -outform DER -out "$out" "$@"
}
sign() { # sign <envelope> <out>: the certutil -getkey shape (signed by the CA, carries the user cert)
    openssl cms -sign -nodetach -binary -signer $B/ca.pem -inkey $B/ca.key -certfile $B/user.pem \
        -in "$1" -outform DER -out "$2"
}
U=$B/user.privatekeyblob
enc aes256 $U envelope-aes256.der $B/kra1.pem
sign envelope-aes256.der getkey-aes256.der
enc des3 $U "$T/e2.der" $B/kra1.pem kra2.pem
sign "$T/e2.der" getkey-2kra.der
enc aes256 $U "$T/e3.der" kra3.pem
sign "$T/e3.der" getkey-foreign.der
enc aes256 $U envelope-foreign-issuer.der kra4.pem
enc des3 user-sign.privatekeyblob "$T/s.der" $B/kra1.pem
sign "$T/s.der" getkey-capi-sign.der
enc aes256 user.cng-rsa2.blob "$T/c2.der" $B/kra1.pem
sign "$T/c2.der" getkey-cng-rsa2.der
enc aes256 user.cng-rsa3.blob "$T/c3.der" $B/kra1.pem
sign "$T/c3.der" getkey-cng-rsa3.der
enc aes256 eck2.blob "$T/ec.der" $B/kra1.pem
sign "$T/ec.der" getkey-eck2.der

# CR_OUT_BASE64HEADER and CR_OUT_BASE64 with CRLF line ends.
{
    echo "-----BEGIN CERTIFICATE-----"
    openssl base64 -e -in $B/getkey.der
    echo "-----END CERTIFICATE-----"
} | sed 's/$/\r/' >getkey-header-crlf.txt
openssl base64 -e -in $B/getkey.der | sed 's/$/\r/' >getkey-base64-crlf.txt

# Wrong types: a SignedData around text, and a certificates-only PKCS#7 (no content).
printf 'hello\n' >"$T/hello.txt"
openssl cms -sign -nodetach -binary -signer $B/ca.pem -inkey $B/ca.key -in "$T/hello.txt" \
    -outform DER -out signed-text.der
openssl crl2pkcs7 -nocrl -certfile $B/user.pem -outform DER -out certs-only.p7b

# Hand-shaped SignedData wrappers (no signerInfos) around rawarchivedkey.der.
openssl x509 -in $B/ca.pem -outform DER -out "$T/ca.der"
openssl x509 -in $B/user.pem -outform DER -out "$T/user.der"
python3 - "$T/ca.der" "$T/user.der" <<'PY'
import sys
def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        l = bytes([n])
    else:
        lb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        l = bytes([0x80 | len(lb)]) + lb
    return bytes([tag]) + l + body
def parse(b, off=0):  # -> (tag, body_start, end)
    tag, n = b[off], b[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[off:off + k], "big")
        off += k
    return tag, off, off + n
OID_DATA = bytes.fromhex("06092a864886f70d010701")
OID_SIGNED = bytes.fromhex("06092a864886f70d010702")
OID_ENV = bytes.fromhex("06092a864886f70d010703")
raw = open("../adcs-basic/rawarchivedkey.der", "rb").read()
# rawarchivedkey.der = SEQUENCE { OID envelopedData, [0] { EnvelopedData } }: take EnvelopedData.
_, s, _ = parse(raw)
_, s2, e2 = parse(raw, s)          # the OID
_, s3, _ = parse(raw, e2)          # [0]
_, _, e4 = parse(raw, s3)
envseq = raw[s3:e4]
ca_der = open(sys.argv[1], "rb").read()
certs = ca_der + open(sys.argv[2], "rb").read()
def signed(ctype, content_body, certs=certs):
    sd = tlv(0x30, tlv(0x02, b"\x01") + tlv(0x31, b"")
             + tlv(0x30, ctype + tlv(0xA0, content_body))
             + tlv(0xA0, certs) + tlv(0x31, b""))
    return tlv(0x30, OID_SIGNED + tlv(0xA0, sd))
# eContentType id-data, eContent = the RawArchivedKey (what GetArchivedKey builds), unsigned.
open("getkey-unsigned.der", "wb").write(signed(OID_DATA, tlv(0x04, raw)))
# eContentType id-envelopedData, eContent OCTET STRING = the RawArchivedKey ContentInfo.
open("getkey-unsigned-envtype.der", "wb").write(signed(OID_ENV, tlv(0x04, raw)))
# eContentType id-envelopedData, eContent OCTET STRING = the bare EnvelopedData (RFC 5652 reading).
open("getkey-unsigned-envseq.der", "wb").write(signed(OID_ENV, tlv(0x04, envseq)))
# PKCS#7 v1.5 style: content [0] EXPLICIT is the EnvelopedData itself, not an OCTET STRING.
open("getkey-pkcs7-embedded.der", "wb").write(signed(OID_ENV, envseq))
# Only the CA certificate: no certificate matches the recovered key.
open("getkey-no-user-cert.der", "wb").write(signed(OID_DATA, tlv(0x04, raw), ca_der))
PY
echo "fixtures written to $(pwd)"
