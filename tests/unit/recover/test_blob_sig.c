/* The CA's signature on a recovery blob (recover/blob.h ssync_blob_verify_signature): the
 * vectors' getkey.der, signed by their CA, passes; the same blob against another CA, the
 * archived key re-signed here by another key (the CA's name copied), and a blob whose signature
 * was altered fail; an unsigned SignedData and a bare EnvelopedData carry nothing to check. */
#include "testutil.h"

#include "recover/blob.h"

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* A self-signed CA certificate named like the vectors' CA, on a new key. */
static X509 *twin_ca(EVP_PKEY *key)
{
    X509 *ca = test_load_cert("adcs-basic/ca.pem");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
    X509_set_subject_name(x, X509_get_subject_name(ca));
    X509_set_issuer_name(x, X509_get_subject_name(ca));
    X509_set1_notBefore(x, X509_get0_notBefore(ca));
    X509_set1_notAfter(x, X509_get0_notAfter(ca));
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    X509_free(ca);
    return x;
}

static ssync_trust *trust_of(X509 *cert)
{
    ssync_trust *t = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_trust_from_certs(&cert, 1, &t, &e), SSYNC_OK);
    return t;
}

static void signed_by_the_ca_passes_and_others_fail(void **state)
{
    (void)state;
    X509 *ca = test_load_cert("adcs-basic/ca.pem");
    ssync_trust *trust = trust_of(ca);
    ssync_buf b = test_read("adcs-basic/getkey.der");
    ssync_buf b64 = test_read("adcs-basic/getkey-base64.txt");
    ssync_error e = {0};
    assert_int_equal(ssync_blob_verify_signature(b.data, b.len, trust, &e), SSYNC_OK);
    assert_int_equal(ssync_blob_verify_signature(b64.data, b64.len, trust, &e), SSYNC_OK);

    /* the same blob against another CA */
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *twin = twin_ca(key);
    ssync_trust *other = trust_of(twin);
    assert_int_equal(ssync_blob_verify_signature(b.data, b.len, other, &e),
                     SSYNC_ERR_BLOB_SIGNATURE);
    assert_non_null(strstr(e.msg, "blob not signed by the CA"));

    /* the archived key re-signed by another key under the CA's name */
    ssync_buf raw = test_read("adcs-basic/rawarchivedkey.der");
    X509 *user = test_load_cert("adcs-basic/user.pem");
    STACK_OF(X509) *extra = sk_X509_new_null();
    sk_X509_push(extra, user);
    BIO *in = BIO_new_mem_buf(raw.data, (int)raw.len);
    CMS_ContentInfo *cms = CMS_sign(twin, key, extra, in, CMS_BINARY);
    assert_non_null(cms);
    unsigned char *der = NULL;
    int len = i2d_CMS_ContentInfo(cms, &der);
    assert_true(len > 0);
    assert_int_equal(ssync_blob_verify_signature(der, (size_t)len, trust, &e),
                     SSYNC_ERR_BLOB_SIGNATURE);

    /* the CA's blob with one byte of its signature changed */
    unsigned char *bad = malloc(b.len);
    memcpy(bad, b.data, b.len);
    bad[b.len - 3] ^= 0x01; /* the signature value is the last field */
    assert_int_equal(ssync_blob_verify_signature(bad, b.len, trust, &e), SSYNC_ERR_BLOB_SIGNATURE);

    free(bad);
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    sk_X509_pop_free(extra, X509_free);
    ssync_buf_free(&raw);
    ssync_trust_free(other);
    X509_free(twin);
    EVP_PKEY_free(key);
    ssync_buf_free(&b64);
    ssync_buf_free(&b);
    ssync_trust_free(trust);
    X509_free(ca);
}

static void unsigned_blobs_carry_nothing_to_check(void **state)
{
    (void)state;
    X509 *ca = test_load_cert("adcs-basic/ca.pem");
    ssync_trust *trust = trust_of(ca);
    ssync_error e = {0};
    const char *files[] = {"recovery/getkey-unsigned.der", "adcs-basic/rawarchivedkey.der"};
    for (size_t i = 0; i < 2; i++) {
        ssync_buf b = test_read(files[i]);
        if (ssync_blob_verify_signature(b.data, b.len, trust, &e) != SSYNC_OK)
            fail_msg("%s: %s", files[i], e.msg);
        ssync_buf_free(&b);
    }
    ssync_trust_free(trust);
    X509_free(ca);
}

/* A CA certificate for key, issued by issuer (signed with issuer_key). */
static X509 *ca_cert(const char *cn, long serial, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_NAME *name = X509_NAME_new();
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_subject_name(x, name);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, bc, -1);
    X509_EXTENSION_free(bc);
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    X509_NAME_free(name);
    return x;
}

static ssync_code verify_signed_by(X509 *signer, EVP_PKEY *key, X509 *carried, ssync_trust *t)
{
    ssync_buf raw = test_read("adcs-basic/rawarchivedkey.der");
    STACK_OF(X509) *extra = sk_X509_new_null();
    if (carried) {
        X509_up_ref(carried);
        sk_X509_push(extra, carried);
    }
    BIO *in = BIO_new_mem_buf(raw.data, (int)raw.len);
    CMS_ContentInfo *cms = CMS_sign(signer, key, extra, in, CMS_BINARY);
    assert_non_null(cms);
    unsigned char *der = NULL;
    int len = i2d_CMS_ContentInfo(cms, &der);
    assert_true(len > 0);
    ssync_error e = {0};
    ssync_code rc = ssync_blob_verify_signature(der, (size_t)len, t, &e);
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    BIO_free(in);
    sk_X509_pop_free(extra, X509_free);
    ssync_buf_free(&raw);
    return rc;
}

/* The signer found among the anchors is checked without the blob's certificates; a signer that
 * is not an anchor (an intermediate the blob carries) still passes when it chains to one; a
 * certificate carried with an anchor's issuer and serial on another key does not stand in for
 * the anchor. */
static void signers_anchor_intermediate_and_impostor(void **state)
{
    (void)state;
    EVP_PKEY *root_key = EVP_EC_gen("P-256"), *sub_key = EVP_EC_gen("P-256"),
             *evil_key = EVP_EC_gen("P-256");
    X509 *root = ca_cert("Root CA", 1, root_key, NULL, NULL);
    X509 *sub = ca_cert("Issuing CA", 2, sub_key, root, root_key);
    X509 *impostor = ca_cert("Root CA", 1, evil_key, NULL, NULL); /* the root's name and serial */
    ssync_trust *t = trust_of(root);
    assert_int_equal(verify_signed_by(root, root_key, NULL, t), SSYNC_OK);
    assert_int_equal(verify_signed_by(sub, sub_key, NULL, t), SSYNC_OK); /* CMS_sign adds it */
    assert_int_equal(verify_signed_by(impostor, evil_key, NULL, t), SSYNC_ERR_BLOB_SIGNATURE);
    ssync_trust_free(t);
    X509_free(impostor);
    X509_free(sub);
    X509_free(root);
    EVP_PKEY_free(evil_key);
    EVP_PKEY_free(sub_key);
    EVP_PKEY_free(root_key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_by_the_ca_passes_and_others_fail),
        cmocka_unit_test(unsigned_blobs_carry_nothing_to_check),
        cmocka_unit_test(signers_anchor_intermediate_and_impostor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
