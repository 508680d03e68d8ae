/* The trust anchors (see trust.h). */
#include "pki/trust.h"

#include "common/fileio.h"
#include "pki/certinfo.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

struct ssync_trust {
    X509_STORE *store;      /* the anchors, each trusted on its own (X509_V_FLAG_PARTIAL_CHAIN) */
    STACK_OF(X509) * certs; /* the same certificates: CRL issuers, the id */
};

STACK_OF(X509) * ssync_trust_anchors(const ssync_trust *t)
{
    return t ? t->certs : NULL;
}

void ssync_trust_free(ssync_trust *t)
{
    if (!t)
        return;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->certs, X509_free);
    free(t);
}

static ssync_trust *trust_new(void)
{
    ssync_trust *t = calloc(1, sizeof *t);
    if (t && (!(t->store = X509_STORE_new()) || !(t->certs = sk_X509_new_null()))) {
        ssync_trust_free(t);
        t = NULL;
    }
    return t;
}

/* Adds one anchor (takes the reference on success). */
static int trust_add(ssync_trust *t, X509 *x)
{
    if (X509_STORE_add_cert(t->store, x) != 1) {
        /* the same certificate twice (two files naming one CA) is no error */
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE)
            return 0;
        ERR_clear_error();
    }
    return sk_X509_push(t->certs, x) > 0;
}

/* Every certificate of one file: PEM (one or more), else one DER certificate. */
static ssync_code load_file(ssync_trust *t, const char *path, ssync_error *err)
{
    ssync_buf b = {0};
    ssync_code rc = ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &b, err);
    if (rc != SSYNC_OK)
        return rc;
    size_t before = (size_t)sk_X509_num(t->certs);
    int ok = 1;
    BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
    X509 *x = NULL;
    while (ok && bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (!(ok = trust_add(t, x)))
            X509_free(x);
    BIO_free(bio);
    ERR_clear_error(); /* the end of the PEM input */
    if (ok && (size_t)sk_X509_num(t->certs) == before) {
        const unsigned char *p = b.data;
        x = d2i_X509(NULL, &p, (long)b.len);
        if (x && p == b.data + b.len && !(ok = trust_add(t, x)))
            X509_free(x);
        else if (x && p != b.data + b.len)
            X509_free(x);
    }
    ssync_buf_free(&b);
    if (!ok)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "[source] ca %s", path);
    if ((size_t)sk_X509_num(t->certs) == before)
        return ssync_fail(err, SSYNC_ERR_CERT_PARSE,
                          "[source] ca %s: no certificate (PEM or DER); on the CA: certutil "
                          "-ca.cert ca.cer",
                          path);
    return SSYNC_OK;
}

ssync_code ssync_trust_load(char *const *paths, size_t n, ssync_trust **out, ssync_error *err)
{
    *out = NULL;
    if (n == 0)
        return ssync_fail(err, SSYNC_ERR_CONFIG,
                          "[source] ca is not set: name the issuing CA's certificate (on the CA: "
                          "certutil -ca.cert ca.cer)");
    ssync_trust *t = trust_new();
    if (!t)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    for (size_t i = 0; i < n; i++) {
        ssync_code rc = load_file(t, paths[i], err);
        if (rc != SSYNC_OK) {
            ssync_trust_free(t);
            return rc;
        }
    }
    *out = t;
    return SSYNC_OK;
}

ssync_code ssync_trust_from_certs(X509 *const *certs, size_t n, ssync_trust **out, ssync_error *err)
{
    *out = NULL;
    ssync_trust *t = trust_new();
    for (size_t i = 0; t && i < n; i++) {
        if (!X509_up_ref(certs[i]) || !trust_add(t, certs[i])) {
            X509_free(certs[i]);
            ssync_trust_free(t);
            t = NULL;
        }
    }
    if (!t)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    *out = t;
    return SSYNC_OK;
}

size_t ssync_trust_count(const ssync_trust *t)
{
    return t ? (size_t)sk_X509_num(t->certs) : 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

char *ssync_trust_id(const ssync_trust *t)
{
    size_t n = ssync_trust_count(t);
    char(*tp)[41] = calloc(n ? n : 1, sizeof *tp);
    char *id = tp ? malloc(n * 41 + 1) : NULL;
    if (id) {
        id[0] = '\0';
        for (size_t i = 0; i < n; i++)
            ssync_cert_thumbprint(sk_X509_value(t->certs, (int)i), tp[i]);
        qsort(tp, n, sizeof *tp, cmp_str);
        for (size_t i = 0; i < n; i++) {
            if (i)
                strcat(id, ",");
            strcat(id, tp[i]);
        }
    }
    free(tp);
    return id;
}

/* The certificate's notBefore as seconds since the epoch (time-zone free). */
static int not_before(X509 *cert, time_t *out)
{
    ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
    int day = 0, sec = 0;
    int ok = epoch && ASN1_TIME_diff(&day, &sec, epoch, X509_get0_notBefore(cert)) == 1;
    ASN1_TIME_free(epoch);
    *out = (time_t)day * 86400 + sec;
    return ok;
}

/* X509_verify_cert of cert against the anchors alone, at cert's notBefore; purpose < 0: any.
 * 0 and the chain's length, or OpenSSL's verify error. */
static int verify(const ssync_trust *t, X509 *cert, int purpose, int *chain_len)
{
    *chain_len = 0;
    time_t when;
    if (!not_before(cert, &when))
        return X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!ctx || X509_STORE_CTX_init(ctx, t->store, cert, NULL) != 1) {
        X509_STORE_CTX_free(ctx);
        return X509_V_ERR_OUT_OF_MEM;
    }
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    /* an issuing CA without its root is an anchor of its own (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN)
     */
    X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
    X509_VERIFY_PARAM_set_time(vp, when);
    if (purpose >= 0)
        X509_STORE_CTX_set_purpose(ctx, purpose);
    int ok = X509_verify_cert(ctx);
    int rc = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
    if (ok == 1)
        *chain_len = sk_X509_num(X509_STORE_CTX_get0_chain(ctx));
    if (ok != 1 && rc == X509_V_OK)
        rc = X509_V_ERR_UNSPECIFIED;
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

ssync_code ssync_trust_verify_cert(const ssync_trust *t, X509 *cert, ssync_error *err)
{
    if (!t || !cert)
        return ssync_fail(err, SSYNC_ERR_CERT_UNTRUSTED, "no trust anchors ([source] ca)");
    int len = 0;
    int rc = verify(t, cert, X509_PURPOSE_SMIME_ENCRYPT, &len);
    if (rc != X509_V_OK)
        return ssync_fail(err, SSYNC_ERR_CERT_UNTRUSTED, "%s", X509_verify_cert_error_string(rc));
    if (len < 2) /* the anchor itself: a CA certificate, never a user's */
        return ssync_fail(err, SSYNC_ERR_CERT_UNTRUSTED, "the certificate is a trust anchor");
    return SSYNC_OK;
}

ssync_code ssync_trust_verify_signer(const ssync_trust *t, X509 *signer, ssync_error *err)
{
    if (!t || !signer)
        return ssync_fail(err, SSYNC_ERR_BLOB_SIGNATURE, "no trust anchors ([source] ca)");
    int len = 0;
    int rc = verify(t, signer, -1, &len);
    if (rc != X509_V_OK)
        return ssync_fail(err, SSYNC_ERR_BLOB_SIGNATURE, "signer: %s",
                          X509_verify_cert_error_string(rc));
    return SSYNC_OK;
}

/* 1 when anchor may have issued crl: same name, the key identifier when the CRL names one, and
 * cRLSign when the anchor restricts its key usage (RFC 5280 4.2.1.3, 5.2.1). */
static int may_issue(X509 *anchor, X509_CRL *crl)
{
    if (X509_NAME_cmp(X509_get_subject_name(anchor), X509_CRL_get_issuer(crl)) != 0)
        return 0;
    int crit = 0;
    AUTHORITY_KEYID *aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
    if (!aki && crit != -1) /* present but not decodable (or repeated) */
        return 0;
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(anchor);
    int differs = aki && aki->keyid && (!ski || ASN1_OCTET_STRING_cmp(aki->keyid, ski) != 0);
    AUTHORITY_KEYID_free(aki);
    if (differs)
        return 0;
    uint32_t ku = X509_get_key_usage(anchor);
    return ku == UINT32_MAX || (ku & KU_CRL_SIGN);
}

ssync_code ssync_trust_verify_crl(const ssync_trust *t, X509_CRL *crl, ssync_error *err)
{
    if (!t || !crl)
        return ssync_fail(err, SSYNC_ERR_CRL_SIGNATURE, "no trust anchors ([source] ca)");
    int issuers = 0;
    for (int i = 0; i < sk_X509_num(t->certs); i++) {
        X509 *a = sk_X509_value(t->certs, i);
        if (!may_issue(a, crl))
            continue;
        issuers++;
        EVP_PKEY *pub = X509_get0_pubkey(a);
        int ok = pub && X509_CRL_verify(crl, pub) == 1;
        ERR_clear_error();
        if (ok)
            return SSYNC_OK;
    }
    char name[256] = "?";
    X509_NAME_oneline(X509_CRL_get_issuer(crl), name, sizeof name);
    if (!issuers)
        return ssync_fail(err, SSYNC_ERR_CRL_SIGNATURE,
                          "issuer %s is not a [source] ca (or its key identifier differs)", name);
    return ssync_fail(err, SSYNC_ERR_CRL_SIGNATURE, "issuer %s: not signed by its key", name);
}
