/* Recovery of one archived key: the archived key that [MS-CSRA] 3.1.4.2.9 returns is an RFC 5652
 * EnvelopedData to the KRAs, opened here with OpenSSL's CMS_decrypt(3); inside is a key blob
 * (keyblob.c). */
#include "recover/recover.h"

#include "recover/keyblob.h"
#include "common/wipe.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ssync_recovered_clear(ssync_recovered *r)
{
    if (!r)
        return;
    X509_free(r->cert);
    EVP_PKEY_free(r->key);
    sk_X509_pop_free(r->chain, X509_free);
    memset(r, 0, sizeof *r);
}

/* Append "serial <HEX> issued by <name>" for one recipient to msg (bounded). */
static void describe_recipient(CMS_RecipientInfo *ri, char *msg, size_t cap)
{
    size_t used = strlen(msg);
    if (used + 1 >= cap)
        return;
    char *out = msg + used;
    size_t room = cap - used;
    const char *sep = used ? "; " : "";
    if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS) {
        snprintf(out, room, "%sa recipient of type %d (not key transport)", sep,
                 CMS_RecipientInfo_type(ri));
        return;
    }
    ASN1_OCTET_STRING *keyid = NULL;
    X509_NAME *issuer = NULL;
    ASN1_INTEGER *serial = NULL;
    if (!CMS_RecipientInfo_ktri_get0_signer_id(ri, &keyid, &issuer, &serial)) {
        snprintf(out, room, "%san unreadable recipient", sep);
        return;
    }
    if (keyid) {
        char hex[2 * 64 + 1] = "";
        int n = ASN1_STRING_length(keyid) > 64 ? 64 : ASN1_STRING_length(keyid);
        for (int i = 0; i < n; i++)
            snprintf(hex + 2 * i, 3, "%02X", ASN1_STRING_get0_data(keyid)[i]);
        snprintf(out, room, "%ssubject key identifier %s", sep, hex);
        return;
    }
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    char name[256] = "?";
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && X509_NAME_print_ex(bio, issuer, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        int n = BIO_read(bio, name, (int)sizeof name - 1);
        name[n > 0 ? n : 0] = '\0';
    }
    snprintf(out, room, "%sserial %s issued by %s", sep, hex ? hex : "?", name);
    BIO_free(bio);
    OPENSSL_free(hex);
    BN_free(bn);
}

/* The held KRA named by one of the envelope's recipients (issuer + serial or key identifier);
 * SSYNC_ERR_KRA_NOT_HELD listing the recipients otherwise. No private-key operation. */
static ssync_code choose_kra(const ssync_kra_set *kras, CMS_ContentInfo *envelope, EVP_PKEY **key,
                             X509 **cert, ssync_error *err)
{
    *key = NULL;
    *cert = NULL;
    if (OBJ_obj2nid(CMS_get0_type(envelope)) != NID_pkcs7_enveloped)
        return ssync_fail(err, SSYNC_ERR_BLOB_TYPE, "the archived key is not an EnvelopedData");
    STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(envelope);
    if (sk_CMS_RecipientInfo_num(ris) <= 0)
        return ssync_fail(err, SSYNC_ERR_BLOB_ASN1, "the EnvelopedData has no recipients");
    for (int i = 0; i < sk_CMS_RecipientInfo_num(ris) && !*cert; i++) {
        CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(ris, i);
        if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_TRANS)
            continue;
        for (size_t k = 0; k < ssync_kra_set_count(kras); k++) {
            EVP_PKEY *kk;
            X509 *kc;
            if (ssync_kra_set_get(kras, k, &kk, &kc) &&
                CMS_RecipientInfo_ktri_cert_cmp(ri, kc) == 0) {
                *key = kk;
                *cert = kc;
                break;
            }
        }
    }
    ERR_clear_error();
    if (!*cert) {
        char needed[400] = "";
        for (int i = 0; i < sk_CMS_RecipientInfo_num(ris); i++)
            describe_recipient(sk_CMS_RecipientInfo_value(ris, i), needed, sizeof needed);
        return ssync_fail(err, SSYNC_ERR_KRA_NOT_HELD, "the archived key is for KRA %s (%zu held)",
                          needed, ssync_kra_set_count(kras));
    }
    return SSYNC_OK;
}

/* ssync_recover_decrypt, telling which KRA certificate opened it (used may be NULL). */
static ssync_code decrypt_with(const ssync_kra_set *kras, CMS_ContentInfo *envelope,
                               ssync_buf *plain, X509 **used, ssync_error *err);

ssync_code ssync_recover_decrypt(const ssync_kra_set *kras, CMS_ContentInfo *envelope,
                                 ssync_buf *plain, ssync_error *err)
{
    return decrypt_with(kras, envelope, plain, NULL, err);
}

void ssync_recovered_kra_serial(const ssync_recovered *r, char out[80])
{
    out[0] = '\0';
    BIGNUM *bn =
        r && r->kra_cert ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(r->kra_cert), NULL) : NULL;
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(out, 80, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

static ssync_code decrypt_with(const ssync_kra_set *kras, CMS_ContentInfo *envelope,
                               ssync_buf *plain, X509 **used, ssync_error *err)
{
    if (!plain)
        return ssync_fail(err, SSYNC_ERR_ARG, "plain is NULL");
    plain->data = NULL;
    plain->len = 0;
    if (!kras || !envelope)
        return ssync_fail(err, SSYNC_ERR_ARG, "KRA set and envelope are required");
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    ssync_code rc = choose_kra(kras, envelope, &key, &cert, err);
    if (rc != SSYNC_OK)
        return rc;
    if (used)
        *used = cert;

    /* The certificate is always given: CMS_decrypt then uses only the matching recipient and fails
     * loudly, instead of returning random bytes (its Bleichenbacher countermeasure). */
    BIO *out = BIO_new(BIO_s_secmem()); /* cleared when freed */
    if (!out)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "BIO");
    int decrypted = CMS_decrypt(envelope, key, cert, NULL, out, CMS_BINARY);
    ssync_wipe_stack(); /* CMS_decrypt left the decrypted key blob in its stack buffer */
    if (!decrypted) {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        rc = ssync_fail_ssl(err, SSYNC_ERR_KRA_DECRYPT, "with the KRA of serial %s",
                            hex ? hex : "?");
        OPENSSL_free(hex);
        BN_free(bn);
        BIO_free(out);
        return rc;
    }
    char *mem = NULL;
    long n = BIO_get_mem_data(out, &mem);
    if (n <= 0) {
        rc = ssync_fail(err, SSYNC_ERR_BLOB_NO_CONTENT, "the archived key decrypts to nothing");
    } else {
        plain->data = malloc((size_t)n + 1);
        if (!plain->data) {
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "plaintext");
        } else {
            memcpy(plain->data, mem, (size_t)n);
            plain->data[n] = 0;
            plain->len = (size_t)n;
        }
    }
    BIO_free(out);
    return rc;
}

static int pubkey_matches(X509 *cert, EVP_PKEY *key)
{
    EVP_PKEY *pub = cert ? X509_get0_pubkey(cert) : NULL;
    int ok = pub && EVP_PKEY_eq(pub, key) == 1;
    ERR_clear_error();
    return ok;
}

static int contains(const unsigned char *hay, size_t len, const unsigned char *needle, size_t n)
{
    for (size_t i = 0; n && n <= len && i <= len - n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

/* The blob's certificate holding key, or NULL. An RSA certificate carries its modulus verbatim
 * in the SubjectPublicKeyInfo, so the encodings that contain it are decoded first; all of them
 * only when none of those matches (EVP_PKEY_eq decides either way). */
static X509 *find_user_cert(ssync_blob *blob, EVP_PKEY *key)
{
    BIGNUM *n = NULL;
    unsigned char *mod = NULL;
    int mod_len = 0;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
        (mod = malloc((size_t)BN_num_bytes(n) + 1)))
        mod_len = BN_bn2bin(n, mod);
    BN_free(n);
    ERR_clear_error();
    X509 *found = NULL;
    for (int pass = mod_len > 0 ? 0 : 1; pass < 2 && !found; pass++)
        for (int i = 0; i < blob->n_certs && !found; i++) {
            const unsigned char *der;
            size_t len;
            if (pass == 0 && !(ssync_blob_cert_der(blob, i, &der, &len) &&
                               contains(der, len, mod, (size_t)mod_len)))
                continue; /* pass 0: the likely ones; pass 1: all (decoded ones are kept) */
            X509 *c = ssync_blob_cert(blob, i);
            if (pubkey_matches(c, key))
                found = c;
        }
    free(mod);
    return found;
}

/* The blob's other certificates (the CA chain), up-referenced, leaving out chosen. */
static ssync_code collect_chain(ssync_blob *blob, X509 *chosen, STACK_OF(X509) * chain,
                                ssync_error *err)
{
    for (int i = 0; i < blob->n_certs; i++) {
        X509 *c = ssync_blob_cert(blob, i);
        if (!c)
            return ssync_fail(err, SSYNC_ERR_BLOB_ASN1,
                              "certificate %d of the blob does not decode", i + 1);
        if (X509_cmp(c, chosen) == 0)
            continue;
        if (!X509_up_ref(c))
            return ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        if (!sk_X509_push(chain, c)) {
            X509_free(c);
            return ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        }
    }
    return SSYNC_OK;
}

ssync_code ssync_recover_blob(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                              X509 *cert_hint, ssync_recovered *out, ssync_error *err)
{
    return ssync_recover_blob_ex(kras, data, len, cert_hint, 0, out, err);
}

ssync_code ssync_recover_blob_ex(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                                 X509 *cert_hint, unsigned flags, ssync_recovered *out,
                                 ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!kras)
        return ssync_fail(err, SSYNC_ERR_ARG, "KRA set is NULL");

    ssync_blob blob = {0};
    ssync_buf plain = {0};
    EVP_PKEY *key = NULL;
    ssync_code rc = ssync_blob_open(data, len, &blob, err);
    if (rc == SSYNC_OK)
        rc = decrypt_with(kras, blob.envelope, &plain, &out->kra_cert, err);
    if (rc == SSYNC_OK)
        rc = ssync_keyblob_to_pkey(plain.data, plain.len, &key, NULL, err);
    ssync_buf_free_secret(&plain);
    if (rc != SSYNC_OK)
        goto out;

    /* the user certificate is the one holding the recovered key's public half (never by
     * position); an explicitly given certificate is preferred */
    X509 *chosen = pubkey_matches(cert_hint, key) ? cert_hint : find_user_cert(&blob, key);
    if (!chosen) {
        if (cert_hint)
            rc = ssync_fail(err, SSYNC_ERR_KEY_MISMATCH,
                            "neither the given certificate nor the %d in the blob holds the "
                            "recovered %d-bit key",
                            blob.n_certs, EVP_PKEY_get_bits(key));
        else
            rc = ssync_fail(err, SSYNC_ERR_BLOB_NO_CERT,
                            "none of the %d certificate(s) in the blob holds the recovered %d-bit "
                            "key%s",
                            blob.n_certs, EVP_PKEY_get_bits(key),
                            blob.bare_envelope ? " (a bare archived key needs its certificate)"
                                               : "");
        goto out;
    }
    out->chain = sk_X509_new_null();
    if (!out->chain || !X509_up_ref(chosen)) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificates");
        goto out;
    }
    out->cert = chosen;
    if (!(flags & SSYNC_RECOVER_NO_CHAIN))
        rc = collect_chain(&blob, chosen, out->chain, err);
    if (rc == SSYNC_OK) {
        out->key = key;
        key = NULL;
    }
out:
    EVP_PKEY_free(key);
    ssync_blob_clear(&blob);
    if (rc != SSYNC_OK)
        ssync_recovered_clear(out);
    return rc;
}

void ssync_cert_memo_clear(ssync_cert_memo *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->e[i].der);
        X509_free(m->e[i].x509);
    }
    memset(m, 0, sizeof *m);
}

static X509 *memo_find(const ssync_cert_memo *m, const unsigned char *der, size_t len)
{
    for (int i = 0; m && i < m->n; i++)
        if (m->e[i].len == len && memcmp(m->e[i].der, der, len) == 0)
            return m->e[i].x509;
    return NULL;
}

/* Keeps x (up-referenced) under its encoding; a full memo keeps what it has. */
static void memo_put(ssync_cert_memo *m, const unsigned char *der, size_t len, X509 *x)
{
    if (!m || m->n >= SSYNC_CERT_MEMO)
        return;
    unsigned char *copy = malloc(len);
    if (!copy || !X509_up_ref(x)) {
        free(copy);
        return;
    }
    memcpy(copy, der, len);
    m->e[m->n].der = copy;
    m->e[m->n].len = len;
    m->e[m->n].x509 = x;
    m->n++;
}

ssync_code ssync_recover_peek(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                              X509 **cert_out, ssync_error *err)
{
    return ssync_recover_peek_memo(kras, data, len, NULL, cert_out, err);
}

ssync_code ssync_recover_peek_memo(const ssync_kra_set *kras, const unsigned char *data, size_t len,
                                   ssync_cert_memo *memo, X509 **cert_out, ssync_error *err)
{
    if (!cert_out || !kras)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_recover_peek");
    *cert_out = NULL;
    ssync_blob blob = {0};
    EVP_PKEY *key;
    X509 *kra;
    ssync_code rc = ssync_blob_open(data, len, &blob, err);
    if (rc == SSYNC_OK)
        rc = choose_kra(kras, blob.envelope, &key, &kra, err);
    /* the user certificate without its key: the one end-entity certificate of the blob (the
     * others are its CA chain); anything else is left to the recovery to decide */
    X509 *leaf = NULL;
    int n_leaf = 0;
    for (int i = 0; rc == SSYNC_OK && i < blob.n_certs; i++) {
        const unsigned char *der;
        size_t der_len;
        int has_der = ssync_blob_cert_der(&blob, i, &der, &der_len);
        if (has_der && memo_find(memo, der, der_len))
            continue; /* a CA certificate seen in an earlier blob */
        X509 *c = ssync_blob_cert(&blob, i);
        if (c && X509_check_ca(c) == 0) {
            leaf = c;
            n_leaf++;
        } else if (c && has_der) {
            memo_put(memo, der, der_len, c);
        }
    }
    if (rc == SSYNC_OK && n_leaf == 1 && X509_up_ref(leaf))
        *cert_out = leaf;
    ERR_clear_error();
    ssync_blob_clear(&blob);
    return rc;
}
