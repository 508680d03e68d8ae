#!/usr/bin/env python3
"""Scans a memory image (a core file) for known secrets, for test_core_secrets.sh.

usage: core_scan.py IMAGE SECRETS

SECRETS has one secret a line: NAME<TAB>KIND<TAB>VALUE, where KIND is
  str  a password or token (ASCII); looked for as ASCII, UTF-16LE and UTF-16BE (PKCS#12 turns
       passwords into UTF-16BE), and, for 24 characters or more, also without its first 16
       characters: free() writes its list pointers over the first 16 bytes of a freed block,
       so the tail of a secret that started a block is what stays behind;
  int  a big integer in hex (an RSA private exponent or prime); looked for as 16-byte windows
       (near the start, the middle and the end) of its big-endian bytes (DER, PEM, CAPI blobs
       reversed) and of its little-endian bytes (CryptoAPI blobs, OpenSSL BIGNUM limbs on a
       little-endian machine).
  jwt  an access token (a JWT: header.payload.signature); looked for whole and as its
       signature; VALUE "-" looks for any JWT shape instead (a payload ".eyJ..." followed by a
       signature, or a header followed by a payload), whoever issued it.
Prints one line per find: NAME FORM OFFSET; exit 0 always (the caller compares the output).
With --tokens IMAGE, prints the JWTs the image holds instead (one a line).
"""
import re
import sys


def variants(kind, value):
    if kind == "str":
        raw = value.encode()
        forms = [("ascii", raw), ("utf16le", value.encode("utf-16-le")),
                 ("utf16be", value.encode("utf-16-be"))]
        if len(raw) >= 24:
            forms.append(("ascii-tail", raw[16:]))
            forms.append(("utf16be-tail", value[8:].encode("utf-16-be")))
        return forms
    if kind == "int":
        be = bytes.fromhex(value)
        be = be.lstrip(b"\0")
        le = be[::-1]
        forms = []
        for order, b in (("be", be), ("le", le)):
            n = len(b)
            for at in sorted({0, max(0, n // 2 - 8), max(0, n - 16)}):
                forms.append(("%s@%d" % (order, at), b[at:at + 16]))
        return forms
    raise SystemExit("unknown kind " + kind)


JWT = rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"
JWT_SHAPES = (rb"\.eyJ[A-Za-z0-9_-]{40,}\.[A-Za-z0-9_-]{40,}", rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ")


def load(path):
    """The image without its all-zero pages (most of a core), and the original offset of each
    page kept, so that finds are reported at their offset in the file."""
    data = open(path, "rb").read()
    zero = bytes(4096)
    keep, where = [], []
    for at in range(0, len(data), 4096):
        page = data[at:at + 4096]
        if page != zero[:len(page)]:
            keep.append(page)
            where.append(at)
    return b"".join(keep), where


def main():
    if sys.argv[1] == "--tokens":
        image, _ = load(sys.argv[2])
        for tok in sorted({m.group().decode() for m in re.finditer(JWT, image)}):
            print(tok)
        return
    image, where = load(sys.argv[1])

    def report(name, form, at):
        print(name, form, where[at // 4096] + at % 4096)

    with open(sys.argv[2]) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            name, kind, value = line.split("\t", 2)
            if not value:
                raise SystemExit("core_scan: no value for " + name)
            if kind == "jwt" and value == "-":
                for shape in JWT_SHAPES:
                    for m in re.finditer(shape, image):
                        report(name, "jwt-shape", m.start())
                continue
            if kind == "jwt":
                forms = [("whole", value.encode()), ("signature", value.rsplit(".", 1)[1].encode())]
            else:
                forms = variants(kind, value)
            for form, pat in forms:
                at = image.find(pat)
                while at >= 0:
                    report(name, form, at)
                    at = image.find(pat, at + 1)


main()
