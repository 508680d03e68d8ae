/* Key blobs inside archived keys ([MS-WCCE] 2.2.2.9 Private Key BLOB; CNG blobs per the Win32
 * docs, as below).
 *  - CryptoAPI PRIVATEKEYBLOB: BLOBHEADER {bType 0x07, bVersion 0x02, reserved 0, aiKeyAlg},
 * RSAPUBKEY {magic "RSA2", bitlen, pubexp}, then n, p, q, dp, dq, qinv (bitlen/8 or bitlen/16
 * bytes) and d, all little-endian (MS docs "Base Provider Key BLOBs"); total 20 + 9 * bitlen / 16
 * bytes.
 *  - CNG BCRYPT_RSAKEY_BLOB: Magic, BitLength, cbPublicExp, cbModulus, cbPrime1, cbPrime2 (ULONG,
 * LE), then e, n, p, q ("RSA2" = BCRYPT_RSAPRIVATE_MAGIC) and dp, dq, qinv, d ("RSA3" =
 *    BCRYPT_RSAFULLPRIVATE_MAGIC), big-endian (MS docs "BCRYPT_RSAKEY_BLOB").
 * The two are told apart by their first bytes: 07 02 for CryptoAPI, the magic for CNG. Every length
 * is checked here before any byte reaches OpenSSL. */
#include "recover/keyblob.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAGIC_RSA2 0x32415352u /* "RSA2": CAPI RSAPUBKEY magic and BCRYPT_RSAPRIVATE_MAGIC */
#define MAGIC_RSA3 0x33415352u /* "RSA3": BCRYPT_RSAFULLPRIVATE_MAGIC */
#define CALG_RSA_KEYX 0xA400u
#define CALG_RSA_SIGN 0x2400u
#define MIN_BITS 512u
#define MAX_BITS 16384u

typedef struct rsa_parts {
    BIGNUM *n, *e, *d, *p, *q, *dp, *dq, *qi;
} rsa_parts;

static void parts_free(rsa_parts *r)
{
    BN_free(r->n);
    BN_free(r->e);
    BN_clear_free(r->d);
    BN_clear_free(r->p);
    BN_clear_free(r->q);
    BN_clear_free(r->dp);
    BN_clear_free(r->dq);
    BN_clear_free(r->qi);
    memset(r, 0, sizeof *r);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A number from len bytes (little- or big-endian); secret ones in OpenSSL's secure heap. */
static BIGNUM *bn_from(const unsigned char *p, size_t len, int little, int secret)
{
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    if (!bn)
        return NULL;
    if (!(little ? BN_lebin2bn(p, (int)len, bn) : BN_bin2bn(p, (int)len, bn))) {
        BN_clear_free(bn);
        return NULL;
    }
    return bn;
}

/* The magic as text when printable ("ECK2"), else hex. */
static void magic_text(const unsigned char *m, char *out, size_t cap)
{
    for (int i = 0; i < 4; i++)
        if (m[i] < 0x20 || m[i] > 0x7E || m[i] == '"' || m[i] == '\\') {
            snprintf(out, cap, "0x%02X%02X%02X%02X", m[0], m[1], m[2], m[3]);
            return;
        }
    snprintf(out, cap, "\"%c%c%c%c\"", m[0], m[1], m[2], m[3]);
}

static const char *magic_meaning(const unsigned char *m)
{
    if (memcmp(m, "ECK", 3) == 0 || memcmp(m, "ECS", 3) == 0) {
        if (m[3] >= '1' && m[3] <= '8')
            return (m[3] - '0') % 2 ? "CNG ECC public key" : "CNG ECC private key";
        return "CNG ECC key";
    }
    if (memcmp(m, "RSA1", 4) == 0)
        return "RSA public key, no private key";
    if (memcmp(m, "DSPB", 4) == 0 || memcmp(m, "DPB2", 4) == 0)
        return "CNG DSA public key";
    if (memcmp(m, "DSPV", 4) == 0 || memcmp(m, "DPV2", 4) == 0)
        return "CNG DSA private key";
    if (memcmp(m, "DHPB", 4) == 0 || memcmp(m, "DHPV", 4) == 0)
        return "CNG Diffie-Hellman key";
    if (memcmp(m, "KDBM", 4) == 0)
        return "CNG symmetric key";
    return "unknown format";
}

static ssync_code bad_magic(const unsigned char *m, const char *where, ssync_error *err)
{
    char txt[16];
    magic_text(m, txt, sizeof txt);
    return ssync_fail(err, SSYNC_ERR_KEYBLOB_MAGIC, "%smagic %s (%s)", where, txt,
                      magic_meaning(m));
}

static ssync_code parse_capi(const unsigned char *b, size_t len, rsa_parts *r, unsigned *bits,
                             ssync_error *err)
{
    if (len < 20)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT,
                          "CryptoAPI key blob truncated: %zu bytes, the header needs 20", len);
    if (b[2] != 0 || b[3] != 0)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT, "CryptoAPI BLOBHEADER reserved not 0");
    uint32_t alg = le32(b + 4);
    if (alg != CALG_RSA_KEYX && alg != CALG_RSA_SIGN)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_MAGIC,
                          "CryptoAPI key algorithm 0x%04X (only CALG_RSA_KEYX and CALG_RSA_SIGN)",
                          (unsigned)alg);
    if (le32(b + 8) != MAGIC_RSA2)
        return bad_magic(b + 8, "CryptoAPI RSAPUBKEY ", err);
    uint32_t bitlen = le32(b + 12), pubexp = le32(b + 16);
    if (bitlen < MIN_BITS || bitlen > MAX_BITS || bitlen % 16 != 0)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT, "CryptoAPI bit length %u", bitlen);
    size_t h = bitlen / 8, q = bitlen / 16, want = 20 + 9 * (size_t)bitlen / 16;
    if (len != want)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT,
                          "CryptoAPI key blob is %zu bytes, a %u-bit key needs %zu", len, bitlen,
                          want);
    const unsigned char *p = b + 20;
    r->e = BN_new();
    if (!r->e || !BN_set_word(r->e, pubexp))
        return ssync_fail(err, SSYNC_ERR_NOMEM, "key blob");
    r->n = bn_from(p, h, 1, 0), p += h;
    r->p = bn_from(p, q, 1, 1), p += q;
    r->q = bn_from(p, q, 1, 1), p += q;
    r->dp = bn_from(p, q, 1, 1), p += q;
    r->dq = bn_from(p, q, 1, 1), p += q;
    r->qi = bn_from(p, q, 1, 1), p += q;
    r->d = bn_from(p, h, 1, 1);
    if (!r->n || !r->p || !r->q || !r->dp || !r->dq || !r->qi || !r->d)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "key blob");
    *bits = bitlen;
    return SSYNC_OK;
}

/* d, dp, dq, qinv from e, p, q (BCRYPT_RSAPRIVATE_BLOB carries only e, n, p, q).
 * d = e^-1 mod lcm(p-1, q-1). */
static ssync_code derive_private(rsa_parts *r, BN_CTX *ctx, ssync_error *err)
{
    BN_CTX_start(ctx);
    BIGNUM *p1 = BN_CTX_get(ctx), *q1 = BN_CTX_get(ctx), *g = BN_CTX_get(ctx);
    BIGNUM *lcm = BN_CTX_get(ctx);
    ssync_code rc = SSYNC_OK;
    r->d = BN_secure_new();
    r->dp = BN_secure_new();
    r->dq = BN_secure_new();
    r->qi = BN_secure_new();
    if (!lcm || !r->d || !r->dp || !r->dq || !r->qi) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "key blob");
        goto out;
    }
    if (!BN_sub(p1, r->p, BN_value_one()) || !BN_sub(q1, r->q, BN_value_one()) ||
        !BN_gcd(g, p1, q1, ctx) || !BN_mul(lcm, p1, q1, ctx) || !BN_div(lcm, NULL, lcm, g, ctx) ||
        !BN_mod_inverse(r->d, r->e, lcm, ctx) || !BN_mod(r->dp, r->d, p1, ctx) ||
        !BN_mod(r->dq, r->d, q1, ctx) || !BN_mod_inverse(r->qi, r->q, r->p, ctx)) {
        ERR_clear_error();
        rc = ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT,
                        "CNG RSA key: cannot derive the private exponent (inconsistent e, p, q)");
    }
out:
    BN_CTX_end(ctx);
    return rc;
}

static ssync_code parse_cng(const unsigned char *b, size_t len, int full, rsa_parts *r,
                            unsigned *bits, BN_CTX *ctx, ssync_error *err)
{
    if (len < 24)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT,
                          "CNG key blob truncated: %zu bytes, the header needs 24", len);
    uint32_t bitlen = le32(b + 4), cbe = le32(b + 8), cbn = le32(b + 12), cbp = le32(b + 16),
             cbq = le32(b + 20);
    if (bitlen < MIN_BITS || bitlen > MAX_BITS || cbn != (bitlen + 7) / 8 || cbe == 0 ||
        cbe > cbn || cbp == 0 || cbp > cbn || cbq == 0 || cbq > cbn)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT,
                          "CNG RSA header: BitLength %u, cbPublicExp %u, cbModulus %u, "
                          "cbPrime1 %u, cbPrime2 %u",
                          bitlen, cbe, cbn, cbp, cbq);
    /* all sizes are bounded by MAX_BITS / 8 above: no overflow */
    size_t want = 24 + (size_t)cbe + cbn + cbp + cbq;
    if (full)
        want += (size_t)cbp + cbq + cbp + cbn;
    if (len != want)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT,
                          "CNG RSA key blob is %zu bytes, its header announces %zu", len, want);
    const unsigned char *p = b + 24;
    r->e = bn_from(p, cbe, 0, 0), p += cbe;
    r->n = bn_from(p, cbn, 0, 0), p += cbn;
    r->p = bn_from(p, cbp, 0, 1), p += cbp;
    r->q = bn_from(p, cbq, 0, 1), p += cbq;
    if (!r->e || !r->n || !r->p || !r->q)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "key blob");
    *bits = bitlen;
    if (!full)
        return derive_private(r, ctx, err);
    r->dp = bn_from(p, cbp, 0, 1), p += cbp;
    r->dq = bn_from(p, cbq, 0, 1), p += cbq;
    r->qi = bn_from(p, cbp, 0, 1), p += cbp;
    r->d = bn_from(p, cbn, 0, 1);
    if (!r->dp || !r->dq || !r->qi || !r->d)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "key blob");
    return SSYNC_OK;
}

/* Arithmetic consistency: n = p*q, bit length, d*e = 1 mod p-1 and q-1, dp, dq, qinv. This rejects
 * any corrupted or mis-parsed blob at the cost of a few multiplications. EVP_PKEY_check would add
 * primality tests of p and q (tens of milliseconds per key, more than the whole per-certificate
 * budget of DESIGN.md's performance model) without guarding against anything more likely. */
static ssync_code check_parts(const rsa_parts *r, unsigned bits, BN_CTX *ctx, ssync_error *err)
{
    BN_CTX_start(ctx);
    BIGNUM *t = BN_CTX_get(ctx), *p1 = BN_CTX_get(ctx), *q1 = BN_CTX_get(ctx);
    BIGNUM *u = BN_CTX_get(ctx);
    const char *what = NULL;
    if (!u) {
        BN_CTX_end(ctx);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "key check");
    }
    if ((unsigned)BN_num_bits(r->n) != bits)
        what = "the modulus length differs from the announced bit length";
    else if (!BN_is_odd(r->e) || BN_is_one(r->e))
        what = "invalid public exponent";
    else if (BN_cmp(r->p, BN_value_one()) <= 0 || BN_cmp(r->q, BN_value_one()) <= 0)
        what = "invalid prime";
    else if (!BN_mul(t, r->p, r->q, ctx) || BN_cmp(t, r->n) != 0)
        what = "n != p * q";
    else if (!BN_sub(p1, r->p, BN_value_one()) || !BN_sub(q1, r->q, BN_value_one()) ||
             !BN_mod_mul(t, r->d, r->e, p1, ctx) || !BN_is_one(t) ||
             !BN_mod_mul(t, r->d, r->e, q1, ctx) || !BN_is_one(t))
        what = "d * e != 1 mod (p-1)(q-1)";
    else if (!BN_mod(t, r->d, p1, ctx) || BN_cmp(t, r->dp) != 0 || !BN_mod(u, r->d, q1, ctx) ||
             BN_cmp(u, r->dq) != 0)
        what = "inconsistent CRT exponents";
    else if (!BN_mod_mul(t, r->qi, r->q, r->p, ctx) || !BN_is_one(t))
        what = "inconsistent CRT coefficient";
    BN_CTX_end(ctx);
    ERR_clear_error();
    if (what)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT, "inconsistent RSA key: %s", what);
    return SSYNC_OK;
}

static ssync_code to_pkey(const rsa_parts *r, EVP_PKEY **out, ssync_error *err)
{
    ssync_code rc = SSYNC_OK;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, r->n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, r->e) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, r->d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, r->p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, r->q) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, r->dp) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, r->dq) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, r->qi) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_NOMEM, "RSA parameters");
        goto out;
    }
    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (!pctx || EVP_PKEY_fromdata_init(pctx) <= 0 ||
        EVP_PKEY_fromdata(pctx, out, EVP_PKEY_KEYPAIR, params) <= 0)
        rc = ssync_fail_ssl(err, SSYNC_ERR_INTERNAL, "cannot build the RSA key");
out:
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params); /* the secret numbers live in its secure (cleared) block */
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

ssync_code ssync_keyblob_to_pkey(const unsigned char *blob, size_t len, EVP_PKEY **out,
                                 ssync_keyblob_kind *kind, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!blob && len)
        return ssync_fail(err, SSYNC_ERR_ARG, "blob is NULL");
    if (len < 4)
        return ssync_fail(err, SSYNC_ERR_KEYBLOB_FORMAT, "key blob truncated: %zu bytes", len);

    rsa_parts r = {0};
    unsigned bits = 0;
    ssync_keyblob_kind k = SSYNC_KEYBLOB_CAPI_RSA;
    ssync_code rc;
    BN_CTX *ctx = BN_CTX_secure_new();
    if (!ctx)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "BN_CTX");

    uint32_t magic = le32(blob);
    if (blob[0] == 0x07 && blob[1] == 0x02) { /* CryptoAPI PRIVATEKEYBLOB, version 2 */
        k = SSYNC_KEYBLOB_CAPI_RSA;
        rc = parse_capi(blob, len, &r, &bits, err);
    } else if (blob[0] == 0x06 && blob[1] == 0x02) {
        rc = ssync_fail(err, SSYNC_ERR_KEYBLOB_MAGIC, "CryptoAPI PUBLICKEYBLOB (no private key)");
    } else if (magic == MAGIC_RSA2 || magic == MAGIC_RSA3) {
        k = magic == MAGIC_RSA3 ? SSYNC_KEYBLOB_CNG_RSA_FULLPRIVATE : SSYNC_KEYBLOB_CNG_RSA_PRIVATE;
        rc = parse_cng(blob, len, magic == MAGIC_RSA3, &r, &bits, ctx, err);
    } else {
        rc = bad_magic(blob, "", err);
    }
    if (rc == SSYNC_OK)
        rc = check_parts(&r, bits, ctx, err);
    if (rc == SSYNC_OK)
        rc = to_pkey(&r, out, err);
    if (rc == SSYNC_OK && kind)
        *kind = k;
    parts_free(&r);
    BN_CTX_free(ctx);
    return rc;
}
