#!/usr/bin/env python3
"""Forged inputs for test_forgery.sh, made with the `cryptography` package and the openssl
command line (independently of the project's code). Usage: forge.py LAB OUT UPN SERIAL...

Writes into OUT:
  self-signed.der   a self-signed user certificate naming UPN, the key archived to the KRA
  other-ca.der      a user certificate of another CA naming UPN
  resigned.der      a certificate of the CA naming UPN, the blob signed by another key under
                    the CA's name
  kra-twin.der      a newer certificate of the CA naming UPN, its key encrypted to a certificate
                    that copies the KRA's issuer and serial (another key): the blob does not
                    decrypt
  forged.crl        the CA's name, another key, every SERIAL listed
  other-issuer.crl  another CA's CRL listing every SERIAL
  self-signed.p12, other-ca.p12 (+ .pass)  the first two as PKCS#12 files for the pfx source
  injected.der      a certificate of the CA whose SAN UPN and e-mail carry terminal controls
  resigned-genuine.der  the victim's genuine blob (lab manifest) re-signed by another key
The blobs other than resigned.der are signed with the CA's key (the lab writes it), so each
forgery tests one control alone (RFC 5652 SignedData, [MS-CSRA] 3.1.4.2.9)."""
import datetime
import os
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

lab, out, upn, serials = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
os.makedirs(out, exist_ok=True)
now = datetime.datetime.now(datetime.timezone.utc)
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")


def load(path):
    with open(path, "rb") as f:
        return f.read()


ca = x509.load_pem_x509_certificate(load(f"{lab}/ca.pem"))
ca_key = serialization.load_pem_private_key(load(f"{lab}/ca.key"), None)
kra = x509.load_pem_x509_certificate(load(f"{lab}/kra1.pem"))


def key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write(name, data):
    with open(f"{out}/{name}", "wb") as f:
        f.write(data)
    return f"{out}/{name}"


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def cert(subject, pub, issuer_name, signer, user, days=(-1, 720), serial=None, aki_key=None):
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(pub).serial_number(serial or x509.random_serial_number())
         .not_valid_before(now + datetime.timedelta(days=days[0]))
         .not_valid_after(now + datetime.timedelta(days=days[1]))
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), False))
    if aki_key is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_key), False)
    if user:
        der_upn = b"\x0c" + bytes([len(upn)]) + upn.encode()
        b = (b.add_extension(x509.KeyUsage(False, False, True, False, False, False, False, False,
                                           False), True)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
             .add_extension(x509.SubjectAlternativeName(
                 [x509.OtherName(UPN_OID, der_upn), x509.RFC822Name(upn)]), False))
    else:
        b = (b.add_extension(x509.BasicConstraints(True, None), True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False,
                                          False), True))
    return b.sign(signer, hashes.SHA256())


def user_name():
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, upn.split("@")[0])])


def blob(name, user_cert, user_key, recip_cert, signer_cert, signer_key, extra=()):
    """certutil -getkey's shape: a SignedData (signed by signer) of the EnvelopedData of the
    user's PRIVATEKEYBLOB encrypted to recip, carrying the user's certificate."""
    k = write("tmp.key", user_key.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.TraditionalOpenSSL,
                                                serialization.NoEncryption()))
    kb = f"{out}/tmp.blob"
    subprocess.run(["openssl", "rsa", "-in", k, "-outform", "MSBLOB", "-out", kb], check=True,
                   capture_output=True)
    env = f"{out}/tmp.env"
    subprocess.run(["openssl", "cms", "-encrypt", "-binary", "-des3", "-in", kb, "-outform", "DER",
                    "-out", env, write("tmp.recip.pem", pem(recip_cert))], check=True)
    certs = write("tmp.certs.pem", pem(user_cert) + b"".join(pem(c) for c in extra))
    sk = write("tmp.signer.key", signer_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    subprocess.run(["openssl", "cms", "-sign", "-nodetach", "-binary", "-in", env, "-inform", "DER",
                    "-signer", write("tmp.signer.pem", pem(signer_cert)), "-inkey", sk,
                    "-certfile", certs, "-outform", "DER", "-out", f"{out}/{name}"], check=True)
    for t in ("tmp.key", "tmp.blob", "tmp.env", "tmp.recip.pem", "tmp.certs.pem",
              "tmp.signer.key", "tmp.signer.pem"):
        os.unlink(f"{out}/{t}")


def crl(name, issuer_name, signer, aki_key):
    b = (x509.CertificateRevocationListBuilder().issuer_name(issuer_name)
         .last_update(now - datetime.timedelta(hours=1))
         .next_update(now + datetime.timedelta(days=7))
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_key), False))
    for s in serials:
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(int(s, 16))
                                      .revocation_date(now - datetime.timedelta(hours=1)).build())
    write(name, b.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))


attacker = key()
other_key = key()
other_ca = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other CA")]),
                other_key.public_key(), x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                                      "Other CA")]),
                other_key, False, (-3650, 3650))
# the CA's name on another key
twin_ca = cert(ca.subject, other_key.public_key(), ca.subject, other_key, False, (-3650, 3650))
# the KRA's issuer and serial on another key
kra_twin = cert(kra.subject, attacker.public_key(), kra.issuer, attacker, True, (-1, 720),
                serial=kra.serial_number)

self_signed = cert(user_name(), attacker.public_key(), user_name(), attacker, True)
blob("self-signed.der", self_signed, attacker, kra, ca, ca_key)

of_other = cert(user_name(), attacker.public_key(), other_ca.subject, other_key, True,
                aki_key=other_key.public_key())
blob("other-ca.der", of_other, attacker, kra, ca, ca_key, (other_ca,))

of_ca = cert(user_name(), attacker.public_key(), ca.subject, ca_key, True, (-1, 1500),
             aki_key=ca_key.public_key())
blob("resigned.der", of_ca, attacker, kra, twin_ca, other_key)
blob("kra-twin.der", of_ca, attacker, kra_twin, ca, ca_key)

crl("forged.crl", ca.subject, other_key, other_key.public_key())
crl("other-issuer.crl", other_ca.subject, other_key, other_key.public_key())

# a certificate of the CA whose SAN UPN and e-mail carry terminal controls (OSC 52 writes the
# clipboard, CSI 2K erases the line) and a forged line after a newline
local, domain = upn.split("@", 1)
nasty = f"{local}\x1b]52;c;ZXZpbA==\x07\x1b[2K\nupload ceo@{domain} [done]@{domain}"
nasty_der = nasty.encode()
inj = (x509.CertificateBuilder().subject_name(user_name()).issuer_name(ca.subject)
       .public_key(attacker.public_key()).serial_number(x509.random_serial_number())
       .not_valid_before(now - datetime.timedelta(days=1))
       .not_valid_after(now + datetime.timedelta(days=700))
       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
       .add_extension(x509.KeyUsage(False, False, True, False, False, False, False, False, False),
                      True)
       .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
       .add_extension(x509.SubjectAlternativeName(
           [x509.OtherName(UPN_OID, b"\x0c" + bytes([len(nasty_der)]) + nasty_der),
            x509.RFC822Name._init_without_validation(nasty)]), False)
       .sign(ca_key, hashes.SHA256()))
blob("injected.der", inj, attacker, kra, ca, ca_key)

# the pfx source: PKCS#12 files of the same forged certificates (with the attacker's key), each
# with its 0600 password file
from cryptography.hazmat.primitives.serialization import pkcs12  # noqa: E402

for name, c, chain in (("self-signed", self_signed, []), ("other-ca", of_other, [other_ca])):
    write(f"{name}.p12", pkcs12.serialize_key_and_certificates(
        name.encode(), attacker, c, chain or None,
        serialization.BestAvailableEncryption(b"forged-pass")))
    fd = os.open(f"{out}/{name}.pass", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"forged-pass\n")
    os.close(fd)

# the victim's genuine blob (the lab's manifest names it) re-signed by another key under the
# CA's name: the same certificate, so the same thumbprint, in a blob the CA did not sign
import base64  # noqa: E402
import json  # noqa: E402

with open(f"{lab}/manifest.jsonl") as m:
    genuine = next(e for e in map(json.loads, m) if e.get("userPrincipalName") == upn)
raw = load(f"{lab}/{genuine['file']}")
if raw[:1] != b"\x30":
    text = b"".join(ln for ln in raw.splitlines() if ln and not ln.startswith(b"-----"))
    raw = base64.b64decode(text)
gen = write("tmp.genuine.der", raw)
subprocess.run(["openssl", "cms", "-verify", "-noverify", "-binary", "-inform", "DER", "-in", gen,
                "-out", f"{out}/tmp.env", "-certsout", f"{out}/tmp.certs.pem"], check=True,
               capture_output=True)
sk = write("tmp.signer.key", other_key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
    serialization.NoEncryption()))
subprocess.run(["openssl", "cms", "-sign", "-nodetach", "-binary", "-in", f"{out}/tmp.env",
                "-inform", "DER", "-signer", write("tmp.signer.pem", pem(twin_ca)), "-inkey", sk,
                "-certfile", f"{out}/tmp.certs.pem", "-outform", "DER",
                "-out", f"{out}/resigned-genuine.der"], check=True)
for t in ("tmp.genuine.der", "tmp.env", "tmp.certs.pem", "tmp.signer.key", "tmp.signer.pem"):
    os.unlink(f"{out}/{t}")
