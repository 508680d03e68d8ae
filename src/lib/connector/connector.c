#include "connector/connector.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONNECTOR_MIN_BITS 2048
/* OpenSSL refuses RSA public operations above 16384 bits anyway */
#define CONNECTOR_MAX_BITS 16384
#define CONNECTOR_MAX_FILE (1024u * 1024u)

static const struct {
    ssync_padding pad;
    const char *name;   /* Graph's userPfxPaddingScheme */
    const char *digest; /* OAEP hash = MGF1 hash */
} paddings[] = {
    {SSYNC_PAD_OAEP_SHA256, "oaepSha256", "SHA256"},
    {SSYNC_PAD_OAEP_SHA384, "oaepSha384", "SHA384"},
    {SSYNC_PAD_OAEP_SHA512, "oaepSha512", "SHA512"},
};
#define N_PADDINGS (sizeof paddings / sizeof paddings[0])

ssync_code ssync_padding_parse(const char *name, ssync_padding *out, ssync_error *err)
{
    if (!name || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_padding_parse: NULL argument");
    for (size_t i = 0; i < N_PADDINGS; i++)
        if (strcmp(name, paddings[i].name) == 0) {
            *out = paddings[i].pad;
            return SSYNC_OK;
        }
    /* none/pkcs1/oaepSha1 exist in Graph's enum but are obsolete or meaningless */
    return ssync_fail(err, SSYNC_ERR_PADDING,
                      "'%.64s' (expected oaepSha256, oaepSha384 or oaepSha512)", name);
}

const char *ssync_padding_name(ssync_padding p)
{
    for (size_t i = 0; i < N_PADDINGS; i++)
        if (paddings[i].pad == p)
            return paddings[i].name;
    return NULL;
}

const char *ssync_padding_digest(ssync_padding p)
{
    for (size_t i = 0; i < N_PADDINGS; i++)
        if (paddings[i].pad == p)
            return paddings[i].digest;
    return NULL;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* CNG BCRYPT_RSAPUBLIC_BLOB (Win32 docs: BCRYPT_RSAKEY_BLOB; what Export-IntunePublicKey of
 * Microsoft's PFXImport module writes by default): BCRYPT_RSAKEY_BLOB header of six little-endian
 * ULONGs {Magic "RSA1", BitLength, cbPublicExp, cbModulus, cbPrime1, cbPrime2}, then the exponent
 * and the modulus, both big-endian. */
#define RSA1_HEADER 24

static ssync_code parse_rsa1(const unsigned char *d, size_t len, EVP_PKEY **out, ssync_error *err)
{
    if (len < RSA1_HEADER)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "RSA1 blob shorter than its header");
    uint32_t bits = le32(d + 4), cb_exp = le32(d + 8), cb_mod = le32(d + 12);
    uint32_t cb_p1 = le32(d + 16), cb_p2 = le32(d + 20);
    size_t body = len - RSA1_HEADER;
    if (cb_p1 != 0 || cb_p2 != 0)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT,
                          "RSA1 blob declares private primes (cbPrime1 %u, cbPrime2 %u)", cb_p1,
                          cb_p2);
    if (cb_exp < 1 || cb_exp > 8)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "RSA1 exponent size %u (1..8)", cb_exp);
    if (cb_mod < 1 || cb_mod > CONNECTOR_MAX_BITS / 8)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "RSA1 modulus size %u", cb_mod);
    if ((size_t)cb_exp + cb_mod != body)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT,
                          "RSA1 blob is %zu bytes, its header declares %zu", len,
                          (size_t)RSA1_HEADER + cb_exp + cb_mod);
    if (bits == 0 || (bits + 7) / 8 != cb_mod)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT,
                          "RSA1 bit length %u does not fit a %u-byte modulus", bits, cb_mod);

    ssync_code rc = SSYNC_OK;
    BIGNUM *e = BN_bin2bn(d + RSA1_HEADER, (int)cb_exp, NULL);
    BIGNUM *n = BN_bin2bn(d + RSA1_HEADER + cb_exp, (int)cb_mod, NULL);
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (!e || !n) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "RSA1 blob");
        goto done;
    }
    if ((uint32_t)BN_num_bits(n) != bits || !BN_is_odd(n))
        rc = ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "RSA1 modulus is not an odd %u-bit number",
                        bits);
    else if (!BN_is_odd(e) || BN_is_one(e))
        rc = ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "RSA1 public exponent is invalid");
    if (rc != SSYNC_OK)
        goto done;
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld)) ||
        !(ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) != 1)
        rc = ssync_fail_ssl(err, SSYNC_ERR_CONNECTOR_FORMAT,
                            "cannot build a key from the RSA1 blob");
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(e);
    BN_free(n);
    return rc;
}

static EVP_PKEY *pubkey_of_cert_der(const unsigned char *p, long len)
{
    const unsigned char *q = p;
    X509 *x = d2i_X509(NULL, &q, len);
    EVP_PKEY *k = NULL;
    if (x && q == p + len) {
        k = X509_get_pubkey(x);
    }
    X509_free(x);
    return k;
}

static EVP_PKEY *spki_der(const unsigned char *p, long len)
{
    const unsigned char *q = p;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &q, len);
    if (k && q != p + len) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

static ssync_code parse_pem(const unsigned char *d, size_t len, EVP_PKEY **out, ssync_error *err)
{
    BIO *bio = BIO_new_mem_buf(d, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long derlen = 0;
    ssync_code rc = SSYNC_OK;
    if (!bio)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "connector key");
    /* PEM_read_bio accepts LF and CRLF line ends (Export-IntunePublicKey writes CRLF) */
    if (PEM_read_bio(bio, &name, &header, &der, &derlen) != 1) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_CONNECTOR_FORMAT, "invalid PEM");
    } else if (strcmp(name, PEM_STRING_PUBLIC) == 0) {
        if (!(*out = spki_der(der, derlen)))
            rc = ssync_fail_ssl(err, SSYNC_ERR_CONNECTOR_FORMAT, "invalid PUBLIC KEY");
    } else if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0) {
        if (!(*out = pubkey_of_cert_der(der, derlen)))
            rc = ssync_fail_ssl(err, SSYNC_ERR_CONNECTOR_FORMAT, "invalid CERTIFICATE");
    } else if (strcmp(name, PEM_STRING_RSA_PUBLIC) == 0) {
        const unsigned char *q = der;
        *out = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, derlen);
        if (!*out)
            rc = ssync_fail_ssl(err, SSYNC_ERR_CONNECTOR_FORMAT, "invalid RSA PUBLIC KEY");
    } else if (strstr(name, "PRIVATE KEY")) {
        rc = ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT,
                        "PEM holds a private key; give the connector's public key");
    } else {
        rc = ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "unexpected PEM type '%.40s'", name);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(der);
    BIO_free(bio);
    return rc;
}

/* Start of the first PEM block, or NULL. Leading text is allowed (openssl's "Bag Attributes",
 * a UTF-8 BOM, blank lines), as PEM_read_bio skips it too. */
static const unsigned char *find_pem(const unsigned char *d, size_t len)
{
    static const char tag[] = "-----BEGIN ";
    const size_t tlen = sizeof tag - 1;
    for (size_t i = 0; i + tlen <= len; i++)
        if (d[i] == '-' && memcmp(d + i, tag, tlen) == 0)
            return d + i;
    return NULL;
}

static ssync_code check_key(EVP_PKEY *k, ssync_error *err)
{
    int id = EVP_PKEY_get_base_id(k);
    if (id != EVP_PKEY_RSA)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_NOT_RSA, "the key is %s",
                          EVP_PKEY_get0_type_name(k) ? EVP_PKEY_get0_type_name(k) : "unknown");
    int bits = EVP_PKEY_get_bits(k);
    if (bits < CONNECTOR_MIN_BITS)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_WEAK, "RSA-%d", bits);
    if (bits > CONNECTOR_MAX_BITS)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "RSA-%d is larger than %d bits", bits,
                          CONNECTOR_MAX_BITS);
    return SSYNC_OK;
}

ssync_code ssync_connector_parse(const unsigned char *data, size_t len, EVP_PKEY **out,
                                 ssync_error *err)
{
    if (out)
        *out = NULL;
    if (!data || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_connector_parse: NULL argument");
    if (len == 0)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "empty input");
    if (len > CONNECTOR_MAX_FILE)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "%zu bytes is too large for a key", len);

    EVP_PKEY *k = NULL;
    ssync_code rc = SSYNC_OK;
    const unsigned char *pem = NULL;
    if (len >= 4 && memcmp(data, "RSA1", 4) == 0) {
        rc = parse_rsa1(data, len, &k, err);
    } else if (len >= 4 && (memcmp(data, "RSA2", 4) == 0 || memcmp(data, "RSA3", 4) == 0)) {
        rc = ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT,
                        "a CNG private key blob; give the connector's public key (RSA1)");
    } else if (len >= 4 && (memcmp(data, "ECK", 3) == 0 || memcmp(data, "ECS", 3) == 0)) {
        /* BCRYPT_ECCKEY_BLOB magics ECK1/3/5 (ECDH) and ECS1/3/5 (ECDSA) */
        rc = ssync_fail(err, SSYNC_ERR_CONNECTOR_NOT_RSA, "a CNG elliptic-curve key blob");
    } else if ((pem = find_pem(data, len)) != NULL) {
        rc = parse_pem(pem, len - (size_t)(pem - data), &k, err);
    } else if (len <= LONG_MAX && ((k = pubkey_of_cert_der(data, (long)len)) != NULL ||
                                   (k = spki_der(data, (long)len)) != NULL)) {
        rc = SSYNC_OK;
    } else {
        rc = ssync_fail(err, SSYNC_ERR_CONNECTOR_FORMAT, "unrecognised content");
    }
    ERR_clear_error();
    if (rc == SSYNC_OK)
        rc = check_key(k, err);
    if (rc != SSYNC_OK) {
        EVP_PKEY_free(k);
        return rc;
    }
    *out = k;
    return SSYNC_OK;
}

ssync_code ssync_connector_load(const char *path, EVP_PKEY **out, ssync_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_connector_load: NULL argument");
    ssync_buf b = {0};
    ssync_code rc = ssync_read_trusted_file(path, CONNECTOR_MAX_FILE, "connector key", &b, err);
    if (rc != SSYNC_OK)
        return rc; /* ssync_read_file names the file */
    rc = ssync_connector_parse(b.data, b.len, out, err);
    ssync_buf_free(&b);
    if (rc != SSYNC_OK)
        ssync_error_prefix(err, "%s: ", path);
    return rc;
}

ssync_code ssync_connector_encrypt(EVP_PKEY *pub, ssync_padding pad, const unsigned char *msg,
                                   size_t len, ssync_buf *ct, ssync_error *err)
{
    if (ct) {
        ct->data = NULL;
        ct->len = 0;
    }
    if (!pub || !msg || !ct || len == 0)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_connector_encrypt: NULL or empty argument");
    const char *digest = ssync_padding_digest(pad);
    if (!digest)
        return ssync_fail(err, SSYNC_ERR_PADDING, "padding %d", (int)pad);
    if (EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
        return ssync_fail(err, SSYNC_ERR_CONNECTOR_NOT_RSA, "cannot encrypt");
    /* OAEP capacity: k - 2 hLen - 2 bytes (RFC 8017 7.1.1) */
    size_t k = (size_t)EVP_PKEY_get_size(pub);
    size_t hlen = pad == SSYNC_PAD_OAEP_SHA256 ? 32 : pad == SSYNC_PAD_OAEP_SHA384 ? 48 : 64;
    if (k < 2 * hlen + 2 || len > k - 2 * hlen - 2)
        return ssync_fail(err, SSYNC_ERR_ENCRYPT, "%zu bytes exceed %s capacity of a %zu-bit key",
                          len, ssync_padding_name(pad), k * 8);

    ssync_code rc = SSYNC_OK;
    size_t outlen = 0;
    /* OAEP hash = MGF1 hash, no label: RSACng.Encrypt(CreateOaep(SHA512)) in Microsoft's
     * PFXImport module (microsoft/Intune-Resource-Access, EncryptionUtilities) */
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
    if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, digest, NULL) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, digest, NULL) != 1 ||
        EVP_PKEY_encrypt(ctx, NULL, &outlen, msg, len) != 1) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_ENCRYPT, "RSA-OAEP-%s setup", digest);
        goto done;
    }
    ct->data = malloc(outlen);
    if (!ct->data) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "ciphertext");
        goto done;
    }
    if (EVP_PKEY_encrypt(ctx, ct->data, &outlen, msg, len) != 1) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_ENCRYPT, "RSA-OAEP-%s", digest);
        free(ct->data);
        ct->data = NULL;
        goto done;
    }
    ct->len = outlen;
done:
    EVP_PKEY_CTX_free(ctx);
    return rc;
}
