#include "testutil.h"

#include "connector/connector.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *parse_ok(const unsigned char *d, size_t len)
{
    EVP_PKEY *k = NULL;
    ssync_error e = {0};
    if (ssync_connector_parse(d, len, &k, &e) != SSYNC_OK)
        fail_msg("parse failed: %s", e.msg);
    assert_non_null(k);
    return k;
}

static void parse_fails(const unsigned char *d, size_t len, ssync_code want)
{
    EVP_PKEY *k = (EVP_PKEY *)1;
    ssync_error e = {0};
    ssync_code rc = ssync_connector_parse(d, len, &k, &e);
    if (rc != want)
        fail_msg("got %s (%s), want %s", ssync_code_name(rc), e.msg, ssync_code_name(want));
    assert_null(k);
    assert_int_equal(ERR_peek_error(), 0);
}

static unsigned char *pem_of(EVP_PKEY *k, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    unsigned char *out = malloc((size_t)n);
    memcpy(out, p, (size_t)n);
    *len = (size_t)n;
    BIO_free(b);
    return out;
}

/* A CNG RSA1 blob of a key, built independently of the library: header, e, n big-endian. */
static unsigned char *rsa1_of(EVP_PKEY *k, size_t *len)
{
    BIGNUM *n = NULL, *e = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    assert_int_equal(EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e), 1);
    unsigned hdr[6] = {0x31415352,
                       (unsigned)BN_num_bits(n),
                       (unsigned)BN_num_bytes(e),
                       (unsigned)BN_num_bytes(n),
                       0,
                       0};
    *len = 24 + hdr[2] + hdr[3];
    unsigned char *out = malloc(*len);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++)
            out[4 * i + j] = (unsigned char)(hdr[i] >> (8 * j));
    BN_bn2bin(e, out + 24);
    BN_bn2bin(n, out + 24 + hdr[2]);
    BN_free(n);
    BN_free(e);
    return out;
}

static void put_le32(unsigned char *p, unsigned v)
{
    for (int j = 0; j < 4; j++)
        p[j] = (unsigned char)(v >> (8 * j));
}

static X509 *self_signed(EVP_PKEY *pub, EVP_PKEY *signer)
{
    X509 *x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"connector", -1, -1,
                               0);
    X509_set_issuer_name(x, nm);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pub);
    assert_true(X509_sign(x, signer, EVP_sha256()) > 0);
    return x;
}

static void pem_and_rsa1_blob_give_the_same_key(void **state)
{
    ssync_buf pem = test_read("adcs-basic/connector-public.pem");
    ssync_buf blob = test_read("adcs-basic/connector-public.rsa1blob");
    EVP_PKEY *a = parse_ok(pem.data, pem.len);
    EVP_PKEY *b = parse_ok(blob.data, blob.len);
    EVP_PKEY *priv = test_load_key("adcs-basic/connector.key");
    assert_int_equal(EVP_PKEY_eq(a, b), 1);
    assert_int_equal(EVP_PKEY_eq(a, priv), 1);
    assert_int_equal(EVP_PKEY_get_bits(b), 2048);

    /* the same PEM with CRLF line ends, as Export-IntunePublicKey writes it on Windows */
    unsigned char *crlf = malloc(2 * pem.len);
    size_t n = 0;
    for (size_t i = 0; i < pem.len; i++) {
        if (pem.data[i] == '\n')
            crlf[n++] = '\r';
        crlf[n++] = pem.data[i];
    }
    EVP_PKEY *c = parse_ok(crlf, n);
    assert_int_equal(EVP_PKEY_eq(a, c), 1);
    EVP_PKEY_free(c);
    /* with a BOM and leading text, as editors and `openssl pkcs12` leave them */
    const char *intro = "\xef\xbb\xbfsubject=CN=connector\r\n";
    size_t ilen = strlen(intro);
    unsigned char *lead = malloc(pem.len + ilen);
    memcpy(lead, intro, ilen);
    memcpy(lead + ilen, pem.data, pem.len);
    c = parse_ok(lead, pem.len + ilen);
    assert_int_equal(EVP_PKEY_eq(a, c), 1);
    free(lead);
    free(crlf);

    /* the blob built here from the PEM key equals the vector file */
    size_t mine_len;
    unsigned char *mine = rsa1_of(a, &mine_len);
    assert_int_equal(mine_len, blob.len);
    assert_memory_equal(mine, blob.data, blob.len);
    free(mine);

    ssync_error e = {0};
    EVP_PKEY *d = NULL;
    assert_int_equal(
        ssync_connector_load(test_data_path("adcs-basic/connector-public.rsa1blob"), &d, &e),
        SSYNC_OK);
    assert_int_equal(EVP_PKEY_eq(a, d), 1);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(c);
    EVP_PKEY_free(d);
    EVP_PKEY_free(priv);
    ssync_buf_free(&pem);
    ssync_buf_free(&blob);
}

static void certificate_pem_and_der(void **state)
{
    EVP_PKEY *priv = test_load_key("adcs-basic/connector.key");
    X509 *x = self_signed(priv, priv);
    unsigned char *der = NULL;
    int dlen = i2d_X509(x, &der);
    assert_true(dlen > 0);
    EVP_PKEY *k = parse_ok(der, (size_t)dlen);
    assert_int_equal(EVP_PKEY_eq(k, priv), 1);
    EVP_PKEY_free(k);
    /* DER with trailing garbage is not a certificate */
    unsigned char *longer = malloc((size_t)dlen + 1);
    memcpy(longer, der, (size_t)dlen);
    longer[dlen] = 0;
    parse_fails(longer, (size_t)dlen + 1, SSYNC_ERR_CONNECTOR_FORMAT);
    free(longer);
    OPENSSL_free(der);

    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    k = parse_ok((const unsigned char *)p, (size_t)n);
    assert_int_equal(EVP_PKEY_eq(k, priv), 1);
    EVP_PKEY_free(k);
    BIO_free(b);
    X509_free(x);
    EVP_PKEY_free(priv);
}

static void non_rsa_and_weak_keys_are_refused(void **state)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    assert_non_null(ec);
    assert_non_null(weak);
    size_t len;
    unsigned char *pem = pem_of(ec, &len);
    parse_fails(pem, len, SSYNC_ERR_CONNECTOR_NOT_RSA);
    free(pem);
    X509 *x = self_signed(ec, ec);
    unsigned char *der = NULL;
    int dlen = i2d_X509(x, &der);
    parse_fails(der, (size_t)dlen, SSYNC_ERR_CONNECTOR_NOT_RSA);
    OPENSSL_free(der);
    X509_free(x);

    pem = pem_of(weak, &len);
    ssync_error e = {0};
    EVP_PKEY *k = NULL;
    assert_int_equal(ssync_connector_parse(pem, len, &k, &e), SSYNC_ERR_CONNECTOR_WEAK);
    assert_non_null(strstr(e.msg, "1024"));
    free(pem);
    unsigned char *blob = rsa1_of(weak, &len);
    parse_fails(blob, len, SSYNC_ERR_CONNECTOR_WEAK);
    free(blob);

    /* CNG ECC public blob magics */
    unsigned char eck[72] = "ECK1";
    parse_fails(eck, sizeof eck, SSYNC_ERR_CONNECTOR_NOT_RSA);
    memcpy(eck, "ECS3", 4);
    parse_fails(eck, sizeof eck, SSYNC_ERR_CONNECTOR_NOT_RSA);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(weak);
}

static void garbage_and_private_keys_are_refused(void **state)
{
    const unsigned char junk[] = "this is not a key at all";
    parse_fails(junk, sizeof junk - 1, SSYNC_ERR_CONNECTOR_FORMAT);
    parse_fails(junk, 0, SSYNC_ERR_CONNECTOR_FORMAT);
    const char *bad_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    parse_fails((const unsigned char *)bad_pem, strlen(bad_pem), SSYNC_ERR_CONNECTOR_FORMAT);
    const char *other = "-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n";
    parse_fails((const unsigned char *)other, strlen(other), SSYNC_ERR_CONNECTOR_FORMAT);
    ssync_buf priv = test_read("adcs-basic/connector.key");
    EVP_PKEY *k = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_connector_parse(priv.data, priv.len, &k, &e),
                     SSYNC_ERR_CONNECTOR_FORMAT);
    assert_non_null(strstr(e.msg, "private key"));
    ssync_buf_free(&priv);
    unsigned char rsa2[64] = "RSA2";
    parse_fails(rsa2, sizeof rsa2, SSYNC_ERR_CONNECTOR_FORMAT);
}

static void malformed_rsa1_blobs_are_refused(void **state)
{
    ssync_buf blob = test_read("adcs-basic/connector-public.rsa1blob");
    /* every truncation */
    for (size_t n = 0; n < blob.len; n++)
        parse_fails(blob.data, n, SSYNC_ERR_CONNECTOR_FORMAT);
    unsigned char *m = malloc(blob.len + 1);
    /* one byte too many */
    memcpy(m, blob.data, blob.len);
    m[blob.len] = 0;
    parse_fails(m, blob.len + 1, SSYNC_ERR_CONNECTOR_FORMAT);
    /* header fields that disagree with the file */
    static const struct {
        size_t off;
        unsigned val;
    } bad[] = {
        {4, 2047},        /* BitLength != bits of the modulus */
        {4, 0},           /* BitLength 0 */
        {4, 0xffffffffu}, /* overflow */
        {8, 0},           /* cbPublicExp 0 */
        {8, 4},           /* lengths do not add up */
        {8, 0xfffffff0u}, /* huge exponent length */
        {12, 255},        /* cbModulus short */
        {12, 0xffffffffu},
        {16, 1}, /* cbPrime1 != 0 */
        {20, 1}, /* cbPrime2 != 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(m, blob.data, blob.len);
        put_le32(m + bad[i].off, bad[i].val);
        parse_fails(m, blob.len, SSYNC_ERR_CONNECTOR_FORMAT);
    }
    /* even modulus, even exponent, leading zero byte in the modulus */
    memcpy(m, blob.data, blob.len);
    m[blob.len - 1] &= 0xfe;
    parse_fails(m, blob.len, SSYNC_ERR_CONNECTOR_FORMAT);
    memcpy(m, blob.data, blob.len);
    m[24 + 2] = 0x02;
    parse_fails(m, blob.len, SSYNC_ERR_CONNECTOR_FORMAT);
    memcpy(m, blob.data, blob.len);
    m[24 + 3] = 0;
    parse_fails(m, blob.len, SSYNC_ERR_CONNECTOR_FORMAT);
    free(m);
    ssync_buf_free(&blob);
}

static void load_names_the_file(void **state)
{
    EVP_PKEY *k = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_connector_load("/nonexistent/connector.pem", &k, &e),
                     SSYNC_ERR_FILE_OPEN);
    assert_non_null(strstr(e.msg, "/nonexistent/connector.pem"));
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/garbage.bin", dir);
    assert_int_equal(ssync_write_file_atomic(path, "RSA1garbage", 11, 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_connector_load(path, &k, &e), SSYNC_ERR_CONNECTOR_FORMAT);
    assert_non_null(strstr(e.msg, path));
    assert_null(k);
    test_rmtree(dir);
    free(dir);
    assert_int_equal(ssync_connector_load(NULL, &k, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_connector_load("x", NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_connector_parse(NULL, 3, &k, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_connector_parse((const unsigned char *)"x", 1, NULL, &e), SSYNC_ERR_ARG);
}

static void padding_names(void **state)
{
    ssync_padding p;
    ssync_error e = {0};
    const char *names[] = {"oaepSha256", "oaepSha384", "oaepSha512"};
    const char *digests[] = {"SHA256", "SHA384", "SHA512"};
    const ssync_padding want[] = {SSYNC_PAD_OAEP_SHA256, SSYNC_PAD_OAEP_SHA384,
                                  SSYNC_PAD_OAEP_SHA512};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ssync_padding_parse(names[i], &p, &e), SSYNC_OK);
        assert_int_equal(p, want[i]);
        assert_string_equal(ssync_padding_name(p), names[i]);
        assert_string_equal(ssync_padding_digest(p), digests[i]);
    }
    assert_string_equal(ssync_padding_name(SSYNC_PAD_DEFAULT), "oaepSha512");
    const char *refused[] = {"pkcs1", "oaepSha1", "none", "OaepSha512", "oaepsha512", ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_int_equal(ssync_padding_parse(refused[i], &p, &e), SSYNC_ERR_PADDING);
    assert_non_null(strstr(e.msg, "oaepSha512"));
    assert_int_equal(ssync_padding_parse(NULL, &p, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_padding_parse("oaepSha512", NULL, &e), SSYNC_ERR_ARG);
    assert_null(ssync_padding_name((ssync_padding)17));
    assert_null(ssync_padding_digest((ssync_padding)17));
}

static int oaep_decrypt(EVP_PKEY *priv, const char *md, const ssync_buf *ct, unsigned char *out,
                        size_t *outlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    int ok = ctx && EVP_PKEY_decrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) == 1 &&
             EVP_PKEY_decrypt(ctx, out, outlen, ct->data, ct->len) == 1;
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static void encrypt_decrypts_with_the_connector_key(void **state)
{
    EVP_PKEY *priv = test_load_key("adcs-basic/connector.key");
    EVP_PKEY *pubs[2] = {NULL, NULL};
    ssync_error e = {0};
    assert_int_equal(
        ssync_connector_load(test_data_path("adcs-basic/connector-public.pem"), &pubs[0], &e),
        SSYNC_OK);
    assert_int_equal(
        ssync_connector_load(test_data_path("adcs-basic/connector-public.rsa1blob"), &pubs[1], &e),
        SSYNC_OK);
    const char *pw = "Zq8!x#4^vJ0~pL2@rT6&nB9*eW1%kD3$";
    const ssync_padding pads[] = {SSYNC_PAD_OAEP_SHA256, SSYNC_PAD_OAEP_SHA384,
                                  SSYNC_PAD_OAEP_SHA512};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++) {
            ssync_buf ct = {0}, ct2 = {0};
            assert_int_equal(ssync_connector_encrypt(pubs[k], pads[i], (const unsigned char *)pw,
                                                     strlen(pw), &ct, &e),
                             SSYNC_OK);
            assert_int_equal(ct.len, 256);
            unsigned char out[256];
            size_t outlen = sizeof out;
            assert_true(oaep_decrypt(priv, ssync_padding_digest(pads[i]), &ct, out, &outlen));
            assert_int_equal(outlen, strlen(pw));
            assert_memory_equal(out, pw, outlen);
            /* OAEP and MGF1 use the same hash: another hash does not decrypt */
            outlen = sizeof out;
            assert_false(oaep_decrypt(priv, i == 2 ? "SHA256" : "SHA512", &ct, out, &outlen));
            /* randomized */
            assert_int_equal(ssync_connector_encrypt(pubs[k], pads[i], (const unsigned char *)pw,
                                                     strlen(pw), &ct2, &e),
                             SSYNC_OK);
            assert_memory_not_equal(ct.data, ct2.data, 256);
            ssync_buf_free(&ct);
            ssync_buf_free(&ct2);
        }
    EVP_PKEY_free(pubs[0]);
    EVP_PKEY_free(pubs[1]);
    EVP_PKEY_free(priv);
}

static void encrypt_bad_arguments(void **state)
{
    ssync_buf pem = test_read("adcs-basic/connector-public.pem");
    EVP_PKEY *pub = parse_ok(pem.data, pem.len);
    ssync_buf_free(&pem);
    ssync_buf ct = {0};
    ssync_error e = {0};
    const unsigned char msg[200] = {0};
    assert_int_equal(ssync_connector_encrypt(NULL, SSYNC_PAD_DEFAULT, msg, 10, &ct, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_connector_encrypt(pub, SSYNC_PAD_DEFAULT, NULL, 10, &ct, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_connector_encrypt(pub, SSYNC_PAD_DEFAULT, msg, 0, &ct, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_connector_encrypt(pub, SSYNC_PAD_DEFAULT, msg, 10, NULL, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_connector_encrypt(pub, (ssync_padding)9, msg, 10, &ct, &e),
                     SSYNC_ERR_PADDING);
    /* OAEP-SHA512 with RSA-2048 holds at most 256 - 2*64 - 2 = 126 bytes */
    assert_int_equal(ssync_connector_encrypt(pub, SSYNC_PAD_OAEP_SHA512, msg, 126, &ct, &e),
                     SSYNC_OK);
    ssync_buf_free(&ct);
    assert_int_equal(ssync_connector_encrypt(pub, SSYNC_PAD_OAEP_SHA512, msg, 127, &ct, &e),
                     SSYNC_ERR_ENCRYPT);
    assert_null(ct.data);
    assert_int_equal(ssync_connector_encrypt(pub, SSYNC_PAD_OAEP_SHA256, msg, 190, &ct, &e),
                     SSYNC_OK);
    ssync_buf_free(&ct);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_int_equal(ssync_connector_encrypt(ec, SSYNC_PAD_DEFAULT, msg, 10, &ct, &e),
                     SSYNC_ERR_CONNECTOR_NOT_RSA);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pem_and_rsa1_blob_give_the_same_key),
        cmocka_unit_test(certificate_pem_and_der),
        cmocka_unit_test(non_rsa_and_weak_keys_are_refused),
        cmocka_unit_test(garbage_and_private_keys_are_refused),
        cmocka_unit_test(malformed_rsa1_blobs_are_refused),
        cmocka_unit_test(load_names_the_file),
        cmocka_unit_test(padding_names),
        cmocka_unit_test(encrypt_decrypts_with_the_connector_key),
        cmocka_unit_test(encrypt_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
