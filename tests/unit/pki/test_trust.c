/* The trust anchors (pki/trust.h) against forged inputs made here with OpenSSL: a user
 * certificate of the CA passes (an expired one too: verified at its notBefore); a self-signed
 * one, one of another CA and one copying the CA's name fail; a CRL of the CA passes; a CRL that
 * copies the CA's name but is signed by another key, a CRL of another issuer and a CRL whose
 * authority key identifier names another key fail. */
#include "testutil.h"

#include "pki/trust.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

static void ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX c;
    X509V3_set_ctx(&c, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &c, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A certificate of subject cn with key, issued by issuer (NULL: self-signed) with issuer_key,
 * valid from now + from_days to now + to_days; ca: a CA, else an S/MIME encryption user. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int ca,
                       long from_days, long to_days)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, key);
    ext(x, issuer, NID_subject_key_identifier, "hash");
    if (issuer || ca)
        ext(x, issuer, NID_authority_key_identifier, "keyid");
    if (ca) {
        ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign");
    } else {
        ext(x, issuer, NID_key_usage, "critical,keyEncipherment");
        ext(x, issuer, NID_ext_key_usage, "emailProtection");
        ext(x, issuer, NID_subject_alt_name, "email:alice@lab.example");
    }
    assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    return x;
}

/* A CRL naming issuer_name, with the authority key identifier of aki_cert (NULL: none), listing
 * serial 1, signed with key. */
static X509_CRL *make_crl(X509 *issuer_name, X509 *aki_cert, EVP_PKEY *key)
{
    X509_CRL *crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer_name));
    ASN1_TIME *t = X509_gmtime_adj(NULL, 0);
    X509_CRL_set1_lastUpdate(crl, t);
    X509_gmtime_adj(t, 7 * 86400);
    X509_CRL_set1_nextUpdate(crl, t);
    ASN1_TIME_free(t);
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *s = ASN1_INTEGER_new();
    ASN1_INTEGER_set(s, 1);
    X509_REVOKED_set_serialNumber(r, s);
    ASN1_INTEGER_free(s);
    ASN1_TIME *rt = X509_gmtime_adj(NULL, 0);
    X509_REVOKED_set_revocationDate(r, rt);
    ASN1_TIME_free(rt);
    X509_CRL_add0_revoked(crl, r);
    if (aki_cert) {
        X509V3_CTX c;
        X509V3_set_ctx(&c, aki_cert, NULL, NULL, crl, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &c, NID_authority_key_identifier, "keyid");
        assert_non_null(e);
        X509_CRL_add_ext(crl, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    return crl;
}

typedef struct pki {
    EVP_PKEY *ca_key, *other_key, *user_key;
    X509 *ca, *other_ca, *name_twin; /* name_twin: the CA's name on another key */
    ssync_trust *trust;
} pki;

static int setup(void **state)
{
    pki *p = calloc(1, sizeof *p);
    p->ca_key = ec_key();
    p->other_key = ec_key();
    p->user_key = ec_key();
    p->ca = make_cert("Lab Issuing CA", p->ca_key, NULL, p->ca_key, 1, -3650, 3650);
    p->other_ca = make_cert("Other CA", p->other_key, NULL, p->other_key, 1, -3650, 3650);
    p->name_twin = make_cert("Lab Issuing CA", p->other_key, NULL, p->other_key, 1, -3650, 3650);
    ssync_error e = {0};
    assert_int_equal(ssync_trust_from_certs(&p->ca, 1, &p->trust, &e), SSYNC_OK);
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    pki *p = *state;
    ssync_trust_free(p->trust);
    X509_free(p->ca), X509_free(p->other_ca), X509_free(p->name_twin);
    EVP_PKEY_free(p->ca_key), EVP_PKEY_free(p->other_key), EVP_PKEY_free(p->user_key);
    free(p);
    return 0;
}

static void user_certificates_of_the_ca_pass(void **state)
{
    pki *p = *state;
    ssync_error e = {0};
    X509 *u = make_cert("alice", p->user_key, p->ca, p->ca_key, 0, -30, 335);
    assert_int_equal(ssync_trust_verify_cert(p->trust, u, &e), SSYNC_OK);
    X509_free(u);
    /* expired two years ago: a certificate of the user's history still counts */
    X509 *old = make_cert("alice", p->user_key, p->ca, p->ca_key, 0, -1095, -730);
    assert_int_equal(ssync_trust_verify_cert(p->trust, old, &e), SSYNC_OK);
    X509_free(old);
    /* the anchor itself is no user certificate */
    assert_int_equal(ssync_trust_verify_cert(p->trust, p->ca, &e), SSYNC_ERR_CERT_UNTRUSTED);
}

static void forged_user_certificates_fail(void **state)
{
    pki *p = *state;
    ssync_error e = {0};
    X509 *self = make_cert("alice", p->user_key, NULL, p->user_key, 0, -30, 335);
    assert_int_equal(ssync_trust_verify_cert(p->trust, self, &e), SSYNC_ERR_CERT_UNTRUSTED);
    assert_non_null(strstr(e.msg, "not issued by a trusted CA"));
    X509 *other = make_cert("alice", p->user_key, p->other_ca, p->other_key, 0, -30, 335);
    assert_int_equal(ssync_trust_verify_cert(p->trust, other, &e), SSYNC_ERR_CERT_UNTRUSTED);
    /* the CA's name copied, another key signed it */
    X509 *twin = make_cert("alice", p->user_key, p->name_twin, p->other_key, 0, -30, 335);
    assert_int_equal(ssync_trust_verify_cert(p->trust, twin, &e), SSYNC_ERR_CERT_UNTRUSTED);
    /* issued by the CA but not valid yet at its own notBefore? never: a CA that was not valid
     * when the certificate was issued */
    EVP_PKEY *young_key = ec_key();
    X509 *young = make_cert("Young CA", young_key, NULL, young_key, 1, -10, 3650);
    ssync_trust *yt = NULL;
    assert_int_equal(ssync_trust_from_certs(&young, 1, &yt, &e), SSYNC_OK);
    X509 *before = make_cert("alice", p->user_key, young, young_key, 0, -30, 335);
    assert_int_equal(ssync_trust_verify_cert(yt, before, &e), SSYNC_ERR_CERT_UNTRUSTED);
    assert_int_equal(ssync_trust_verify_cert(NULL, before, &e), SSYNC_ERR_CERT_UNTRUSTED);
    ssync_trust_free(yt);
    X509_free(before), X509_free(young), EVP_PKEY_free(young_key);
    X509_free(self), X509_free(other), X509_free(twin);
}

static void crls_signed_by_their_issuer_only(void **state)
{
    pki *p = *state;
    ssync_error e = {0};
    X509_CRL *good = make_crl(p->ca, p->ca, p->ca_key);
    assert_int_equal(ssync_trust_verify_crl(p->trust, good, &e), SSYNC_OK);
    X509_CRL *no_aki = make_crl(p->ca, NULL, p->ca_key);
    assert_int_equal(ssync_trust_verify_crl(p->trust, no_aki, &e), SSYNC_OK);
    /* the CA's name copied, signed by another key */
    X509_CRL *forged = make_crl(p->ca, NULL, p->other_key);
    assert_int_equal(ssync_trust_verify_crl(p->trust, forged, &e), SSYNC_ERR_CRL_SIGNATURE);
    assert_non_null(strstr(e.msg, "CRL signature invalid"));
    /* the CA's name, the other key's identifier */
    X509_CRL *aki = make_crl(p->ca, p->name_twin, p->other_key);
    assert_int_equal(ssync_trust_verify_crl(p->trust, aki, &e), SSYNC_ERR_CRL_SIGNATURE);
    /* a genuine CRL of another issuer */
    X509_CRL *other = make_crl(p->other_ca, p->other_ca, p->other_key);
    assert_int_equal(ssync_trust_verify_crl(p->trust, other, &e), SSYNC_ERR_CRL_SIGNATURE);
    assert_non_null(strstr(e.msg, "Other CA"));
    assert_int_equal(ssync_trust_verify_crl(NULL, good, &e), SSYNC_ERR_CRL_SIGNATURE);
    X509_CRL_free(good), X509_CRL_free(no_aki), X509_CRL_free(forged), X509_CRL_free(aki);
    X509_CRL_free(other);
}

static void signers_chain_to_the_anchors(void **state)
{
    pki *p = *state;
    ssync_error e = {0};
    assert_int_equal(ssync_trust_verify_signer(p->trust, p->ca, &e), SSYNC_OK);
    assert_int_equal(ssync_trust_verify_signer(p->trust, p->name_twin, &e),
                     SSYNC_ERR_BLOB_SIGNATURE);
    assert_int_equal(ssync_trust_verify_signer(p->trust, p->other_ca, &e),
                     SSYNC_ERR_BLOB_SIGNATURE);
}

static void loads_files_and_needs_one(void **state)
{
    (void)state;
    ssync_trust *t = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_trust_load(NULL, 0, &t, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "certutil -ca.cert"));
    char *paths[] = {(char *)test_data_path("adcs-basic/ca.pem")};
    assert_int_equal(ssync_trust_load(paths, 1, &t, &e), SSYNC_OK);
    assert_int_equal(ssync_trust_count(t), 1);
    char *id = ssync_trust_id(t);
    assert_int_equal(strlen(id), 40);
    free(id);
    ssync_trust_free(t);
    char *notcert[] = {(char *)test_data_path("adcs-basic/connector-public.pem")};
    assert_int_equal(ssync_trust_load(notcert, 1, &t, &e), SSYNC_ERR_CERT_PARSE);
    assert_null(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(user_certificates_of_the_ca_pass),
        cmocka_unit_test(forged_user_certificates_fail),
        cmocka_unit_test(crls_signed_by_their_issuer_only),
        cmocka_unit_test(signers_chain_to_the_anchors),
        cmocka_unit_test(loads_files_and_needs_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
