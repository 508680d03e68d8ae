#include "pfx/pfx.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

ssync_code ssync_pfx_profile_parse(const char *name, ssync_pfx_profile *out, ssync_error *err)
{
    if (!name || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_pfx_profile_parse: NULL argument");
    if (strcmp(name, "compat") == 0)
        *out = SSYNC_PFX_COMPAT;
    else if (strcmp(name, "modern") == 0)
        *out = SSYNC_PFX_MODERN;
    else
        return ssync_fail(err, SSYNC_ERR_PFX_PROFILE, "'%.64s' (expected compat or modern)", name);
    return SSYNC_OK;
}

const char *ssync_pfx_profile_name(ssync_pfx_profile p)
{
    switch (p) {
    case SSYNC_PFX_COMPAT:
        return "compat";
    case SSYNC_PFX_MODERN:
        return "modern";
    }
    return "unknown";
}

/* 94 printable characters 0x21..0x7e. A random byte below 188 (= 2 * 94) maps onto them with
 * equal probability; bytes 188..255 are rejected and redrawn, so no character is favoured. */
#define PW_ALPHABET 94u
#define PW_LIMIT (256u - 256u % PW_ALPHABET)

ssync_code ssync_password_generate(char *out, size_t len, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_password_generate: out is NULL");
    if (len < 24 || len > 4096)
        return ssync_fail(err, SSYNC_ERR_ARG, "password length %zu (24..4096)", len);
    unsigned char pool[64];
    size_t have = 0, used = 0, n = 0;
    ssync_code rc = SSYNC_OK;
    while (n < len) {
        if (used == have) {
            if (RAND_bytes(pool, (int)sizeof pool) != 1) {
                rc = ssync_fail_ssl(err, SSYNC_ERR_RANDOM, "RAND_bytes");
                break;
            }
            have = sizeof pool;
            used = 0;
        }
        unsigned char b = pool[used++];
        if (b < PW_LIMIT)
            out[n++] = (char)(0x21 + b % PW_ALPHABET);
    }
    OPENSSL_cleanse(pool, sizeof pool);
    if (rc != SSYNC_OK) {
        OPENSSL_cleanse(out, len);
        out[0] = '\0';
        return rc;
    }
    out[len] = '\0';
    return SSYNC_OK;
}

/* The connector decodes the password as ASCII (the v3 README of Microsoft's PFXImport module says
 * so; its NewUserPFXCertificate.cs also keeps one byte per character). */
static int password_ok(const char *pw)
{
    if (!pw[0])
        return 0;
    for (const unsigned char *p = (const unsigned char *)pw; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return 0;
    return 1;
}

ssync_code ssync_pfx_build(EVP_PKEY *key, X509 *cert, const ssync_pfx_opts *opts,
                           const char *password, ssync_buf *der, ssync_error *err)
{
    if (der) {
        der->data = NULL;
        der->len = 0;
    }
    if (!key || !cert || !password || !der)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_pfx_build: NULL argument");
    const ssync_pfx_opts defaults = {SSYNC_PFX_COMPAT, NULL, NULL};
    if (!opts)
        opts = &defaults;
    if (opts->profile != SSYNC_PFX_COMPAT && opts->profile != SSYNC_PFX_MODERN)
        return ssync_fail(err, SSYNC_ERR_PFX_PROFILE, "profile %d", (int)opts->profile);
    if (!password_ok(password))
        return ssync_fail(err, SSYNC_ERR_ARG, "PKCS#12 password must be non-empty printable ASCII");

    EVP_PKEY *pub = X509_get0_pubkey(cert);
    if (!pub)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "cannot decode the certificate's key");
    if (EVP_PKEY_eq(pub, key) != 1) {
        ERR_clear_error();
        return ssync_fail(err, SSYNC_ERR_KEY_MISMATCH, "PKCS#12 not built");
    }

    /* compat = PKCS#12 PBE 3DES for both bags; modern = PBES2/PBKDF2-HMAC-SHA256/AES-256-CBC.
     * PKCS12_create_ex would always add a SHA-256 MAC (OpenSSL docs: PKCS12_create(3),
     * PKCS12_set_mac), so it gets mac_iter = -1 and the MAC is set explicitly below. Salts keep
     * OpenSSL's 8-byte default (16-byte salts broke macOS imports in a public field report). */
    int nid = opts->profile == SSYNC_PFX_COMPAT ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC
                                                : NID_aes_256_cbc;
    const char *mac_md = opts->profile == SSYNC_PFX_COMPAT ? "SHA1" : "SHA256";
    ssync_code rc = SSYNC_OK;
    EVP_MD *md = NULL;
    unsigned char *out = NULL;
    PKCS12 *p12 = PKCS12_create_ex(password, opts->friendly_name, key, cert, opts->chain, nid, nid,
                                   SSYNC_PFX_ITER, -1, 0, NULL, NULL);
    if (!p12) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_PFX_BUILD, "PKCS12_create (%s profile)",
                            ssync_pfx_profile_name(opts->profile));
        goto done;
    }
    md = EVP_MD_fetch(NULL, mac_md, NULL);
    if (!md || PKCS12_set_mac(p12, password, -1, NULL, 0, SSYNC_PFX_ITER, md) != 1) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_PFX_BUILD, "cannot set the HMAC-%s MAC", mac_md);
        goto done;
    }
    int n = i2d_PKCS12(p12, &out);
    if (n <= 0) {
        rc = ssync_fail_ssl(err, SSYNC_ERR_PFX_BUILD, "cannot encode the PKCS#12");
        goto done;
    }
    der->data = malloc((size_t)n);
    if (!der->data) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "PKCS#12");
        goto done;
    }
    memcpy(der->data, out, (size_t)n);
    der->len = (size_t)n;
done:
    OPENSSL_free(out);
    EVP_MD_free(md);
    PKCS12_free(p12);
    return rc;
}
