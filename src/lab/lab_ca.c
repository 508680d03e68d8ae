/* smimesync-lab certificates: the issuing CA, the KRAs, user S/MIME certificates, the CRL. */
#include "lab.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LAB_CA_NAME "Lab Issuing CA"
/* AD CS writes the v2 template of the certificate into szOID_CERTIFICATE_TEMPLATE */
#define OID_CERT_TEMPLATE "1.3.6.1.4.1.311.21.7"
#define OID_TEMPLATE_SMIME                                                                         \
    "1.3.6.1.4.1.311.21.8.6301991.2938543.412570.1725121.735828.231.4136173.9322655"
#define OID_ENROLL_CERTTYPE "1.3.6.1.4.1.311.20.2" /* v1 template name, BMPString */
#define OID_UPN "1.3.6.1.4.1.311.20.2.3"
#define OID_KP_KRA "1.3.6.1.4.1.311.21.6"

static int add_dc_base(X509_NAME *n)
{
    return X509_NAME_add_entry_by_txt(n, "DC", MBSTRING_ASC, (const unsigned char *)"example", -1,
                                      -1, 0) &&
           X509_NAME_add_entry_by_txt(n, "DC", MBSTRING_ASC, (const unsigned char *)"lab", -1, -1,
                                      0);
}

static X509_NAME *name_cn(const char *ou, const char *cn, const char *email)
{
    X509_NAME *n = X509_NAME_new();
    if (!n || !add_dc_base(n) ||
        (ou && !X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_ASC, (const unsigned char *)ou, -1, -1,
                                           0)) ||
        !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) ||
        (email && !X509_NAME_add_entry_by_NID(n, NID_pkcs9_emailAddress, MBSTRING_ASC,
                                              (const unsigned char *)email, -1, -1, 0))) {
        X509_NAME_free(n);
        return NULL;
    }
    return n;
}

X509 *lab_cert_new(const unsigned char *serial, size_t serial_len, X509_NAME *subject,
                   const X509_NAME *issuer, time_t nb, time_t na, EVP_PKEY *pub)
{
    X509 *x = X509_new();
    BIGNUM *bn = BN_bin2bn(serial, (int)serial_len, NULL);
    ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    int ok = x && sn && X509_set_version(x, X509_VERSION_3) && X509_set_serialNumber(x, sn) &&
             X509_set_subject_name(x, subject) &&
             X509_set_issuer_name(x, issuer ? issuer : subject) &&
             ASN1_TIME_set(X509_getm_notBefore(x), nb) &&
             ASN1_TIME_set(X509_getm_notAfter(x), na) && (!pub || X509_set_pubkey(x, pub));
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

int lab_cert_set_rsa_pub(X509 *x, const unsigned char *der, size_t len)
{
    /* X509_set_pubkey would encode the key and decode it back through OpenSSL 3's decoder
     * machinery, a third of the cost of a certificate; the encoded key is all it needs */
    unsigned char *copy = OPENSSL_memdup(der, len);
    if (!copy || !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_nid2obj(NID_rsaEncryption),
                                         V_ASN1_NULL, NULL, copy, (int)len)) {
        OPENSSL_free(copy);
        return -1;
    }
    return 0;
}

int lab_cert_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* Add an extension given by OID text and its DER value. */
static int add_raw_ext(X509 *x, const char *oid, const unsigned char *der, size_t len)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    int ok = obj && os && ASN1_OCTET_STRING_set(os, der, (int)len) &&
             (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
    return ok ? 0 : -1;
}

/* 1.3.6.1.4.1.311.21.7 = SEQUENCE { templateID OID, majorVersion INTEGER 100,
 * minorVersion INTEGER 1 }, as the vectors' user.pem carries it. */
static int add_template_ext(X509 *x)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(OID_TEMPLATE_SMIME, 1);
    unsigned char der[128], *p = der + 2;
    int olen = obj ? i2d_ASN1_OBJECT(obj, NULL) : -1;
    if (olen <= 0 || olen + 6 > 127) {
        ASN1_OBJECT_free(obj);
        return -1;
    }
    i2d_ASN1_OBJECT(obj, &p);
    ASN1_OBJECT_free(obj);
    static const unsigned char ints[] = {0x02, 0x01, 100, 0x02, 0x01, 1};
    memcpy(p, ints, sizeof ints);
    der[0] = 0x30;
    der[1] = (unsigned char)(olen + 6);
    return add_raw_ext(x, OID_CERT_TEMPLATE, der, (size_t)olen + 8);
}

/* The v1 template name extension of AD CS (BMPString), as on real KRA certificates. */
static int add_v1_template_name(X509 *x, const char *name)
{
    unsigned char der[80];
    size_t n = strlen(name);
    if (2 * n > 120)
        return -1;
    der[0] = 0x1e;
    der[1] = (unsigned char)(2 * n);
    for (size_t i = 0; i < n; i++) {
        der[2 + 2 * i] = 0;
        der[3 + 2 * i] = (unsigned char)name[i];
    }
    return add_raw_ext(x, OID_ENROLL_CERTTYPE, der, 2 + 2 * n);
}

int lab_cert_sign(X509 *x, EVP_PKEY *key)
{
    return X509_sign(x, key, EVP_sha256()) > 0 ? 0 : -1;
}

int lab_make_ca(lab *l)
{
    X509_NAME *n = name_cn(NULL, l->opt.ca_name ? l->opt.ca_name : LAB_CA_NAME, NULL);
    /* a CA that has been running for a while: older archived keys predate this run */
    time_t nb = l->now - 8 * 365 * LAB_DAY, na = l->now + 12 * 365 * LAB_DAY;
    X509 *x =
        n ? lab_cert_new(l->ca_serial, sizeof l->ca_serial, n, NULL, nb, na, l->ca_key) : NULL;
    X509_NAME_free(n);
    /* AD CS gives its CA certificates digitalSignature too (key usage 0x86): the CA signs the
     * recovery blobs with this key, and OpenSSL's S/MIME purpose check wants it. */
    if (!x || lab_cert_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE") ||
        lab_cert_ext(x, NULL, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign") ||
        lab_cert_ext(x, NULL, NID_subject_key_identifier, "hash") || lab_cert_sign(x, l->ca_key)) {
        X509_free(x);
        lab_err_ssl("cannot create the CA certificate");
        return -1;
    }
    /* fill OpenSSL's cached extension data now, before worker threads share the certificate */
    X509_check_purpose(x, -1, 0);
    l->ca = x;
    return 0;
}

int lab_make_kras(lab *l)
{
    l->kra_stack = sk_X509_new_null();
    if (!l->kra_stack) {
        lab_err("out of memory");
        return -1;
    }
    for (unsigned i = 0; i < l->opt.kras; i++) {
        char cn[64];
        snprintf(cn, sizeof cn, "Key Recovery Agent %u", i + 1);
        X509_NAME *n = name_cn(NULL, cn, NULL);
        time_t nb = l->now - 7 * 365 * LAB_DAY, na = l->now + 2 * 365 * LAB_DAY;
        X509 *x = n ? lab_cert_new(l->kra_serial[i], LAB_KRA_SERIAL_LEN, n,
                                   X509_get_subject_name(l->ca), nb, na, l->kra_key[i])
                    : NULL;
        X509_NAME_free(n);
        if (!x || lab_cert_ext(x, l->ca, NID_basic_constraints, "critical,CA:FALSE") ||
            lab_cert_ext(x, l->ca, NID_key_usage, "critical,keyEncipherment") ||
            lab_cert_ext(x, l->ca, NID_ext_key_usage, OID_KP_KRA) ||
            add_v1_template_name(x, "KeyRecoveryAgent") ||
            lab_cert_ext(x, l->ca, NID_subject_key_identifier, "hash") ||
            lab_cert_ext(x, l->ca, NID_authority_key_identifier, "keyid:always") ||
            lab_cert_sign(x, l->ca_key) || !sk_X509_push(l->kra_stack, x)) {
            X509_free(x);
            lab_err_ssl("cannot create KRA certificate %u", i + 1);
            return -1;
        }
        X509_check_purpose(x, -1, 0);
        l->kra[i] = x;
    }
    return 0;
}

X509 *lab_issue_user_cert(const lab *l, const lab_cert *c)
{
    const lab_user *u = &l->user[c->user];
    char san[256];
    snprintf(san, sizeof san, "email:%s,otherName:" OID_UPN ";UTF8:%s", u->mail, u->upn);
    X509_NAME *n = name_cn("Users", u->display, u->subject_email ? u->mail : NULL);
    X509 *x = n ? lab_cert_new(c->serial, sizeof c->serial, n, X509_get_subject_name(l->ca),
                               c->not_before, c->not_after, NULL)
                : NULL;
    X509_NAME_free(n);
    if (!x || lab_cert_set_rsa_pub(x, l->pool_pub[c->key], l->pool_pub_len[c->key]) ||
        lab_cert_ext(x, l->ca, NID_basic_constraints, "critical,CA:FALSE") ||
        lab_cert_ext(x, l->ca, NID_key_usage, "critical,keyEncipherment") ||
        lab_cert_ext(x, l->ca, NID_ext_key_usage, "emailProtection") ||
        lab_cert_ext(x, l->ca, NID_subject_alt_name, san) || add_template_ext(x) ||
        lab_cert_ext(x, l->ca, NID_subject_key_identifier, "hash") ||
        lab_cert_ext(x, l->ca, NID_authority_key_identifier, "keyid:always") ||
        lab_cert_sign(x, l->ca_key)) {
        X509_free(x);
        lab_err_ssl("%s: cannot issue the certificate", c->file);
        return NULL;
    }
    return x;
}

static int add_revoked(X509_CRL *crl, const lab_cert *c)
{
    X509_REVOKED *r = X509_REVOKED_new();
    BIGNUM *bn = BN_bin2bn(c->serial, sizeof c->serial, NULL);
    ASN1_INTEGER *sn = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
    ASN1_TIME *when = ASN1_TIME_set(NULL, c->revoked_at);
    ASN1_ENUMERATED *reason = ASN1_ENUMERATED_new();
    int ok = r && sn && when && reason && X509_REVOKED_set_serialNumber(r, sn) &&
             X509_REVOKED_set_revocationDate(r, when) && ASN1_ENUMERATED_set(reason, c->reason) &&
             X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0) &&
             X509_CRL_add0_revoked(crl, r);
    ASN1_ENUMERATED_free(reason);
    ASN1_TIME_free(when);
    ASN1_INTEGER_free(sn);
    BN_free(bn);
    if (!ok)
        X509_REVOKED_free(r);
    return ok ? 0 : -1;
}

int lab_write_crl(const lab *l)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, l->now - 3600);
    ASN1_TIME *next = ASN1_TIME_set(NULL, l->now + 7 * LAB_DAY);
    ASN1_INTEGER *number = ASN1_INTEGER_new();
    X509_EXTENSION *aki = NULL;
    X509V3_CTX ctx;
    int ok = crl && last && next && number && X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(l->ca)) &&
             X509_CRL_set1_lastUpdate(crl, last) && X509_CRL_set1_nextUpdate(crl, next) &&
             ASN1_INTEGER_set(number, 1) &&
             X509_CRL_add1_ext_i2d(crl, NID_crl_number, number, 0, 0);
    if (ok) {
        X509V3_set_ctx(&ctx, l->ca, NULL, NULL, crl, 0);
        aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always");
        ok = aki && X509_CRL_add_ext(crl, aki, -1);
    }
    for (unsigned i = 0; ok && i < l->ncert; i++)
        if (l->cert[i].revoked && add_revoked(crl, &l->cert[i]))
            ok = 0;
    ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, l->ca_key, EVP_sha256()) > 0;
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(number);
    ASN1_TIME_free(next);
    ASN1_TIME_free(last);
    if (!ok) {
        X509_CRL_free(crl);
        lab_err_ssl("cannot create the CRL");
        return -1;
    }
    int rc = -1;
    BIO *b = BIO_new(BIO_s_mem());
    unsigned char *der = NULL;
    int derlen = i2d_X509_CRL(crl, &der);
    char *pem = NULL;
    long pemlen = 0;
    if (b && PEM_write_bio_X509_CRL(b, crl) && derlen > 0 &&
        (pemlen = BIO_get_mem_data(b, &pem)) > 0)
        rc = lab_write(l, "ca.crl", pem, (size_t)pemlen, 0644) ||
                     lab_write(l, "ca.crl.der", der, (size_t)derlen, 0644)
                 ? -1
                 : 0;
    else
        lab_err_ssl("cannot encode the CRL");
    OPENSSL_free(der);
    BIO_free(b);
    X509_CRL_free(crl);
    return rc;
}
