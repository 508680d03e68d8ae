#include "recovery_util.h"

#include "recover/blob.h"

#include <stdlib.h>
#include <string.h>

/* The envelope a blob carried, re-encoded: must be rawarchivedkey.der byte for byte. */
static void assert_envelope_is_reference(const ssync_blob *b)
{
    assert_non_null(b->envelope);
    assert_int_equal(OBJ_obj2nid(CMS_get0_type(b->envelope)), NID_pkcs7_enveloped);
    unsigned char *der = NULL;
    int n = i2d_CMS_ContentInfo(b->envelope, &der);
    ssync_buf ref = test_read("adcs-basic/rawarchivedkey.der");
    assert_int_equal((size_t)n, ref.len);
    assert_memory_equal(der, ref.data, ref.len);
    OPENSSL_free(der);
    ssync_buf_free(&ref);
}

static void assert_carries_user_cert(const ssync_blob *b)
{
    assert_non_null(b->certs);
    int found = 0;
    char h[41];
    for (int i = 0; i < sk_X509_num(b->certs); i++) {
        cert_sha1(sk_X509_value(b->certs, i), h);
        found += strcmp(h, expected_fact("thumbprint")) == 0;
    }
    assert_int_equal(found, 1);
}

static void decode_ok(const unsigned char *data, size_t len, ssync_blob_encoding enc, int bare)
{
    ssync_blob b;
    ssync_error e = {0};
    assert_ok(ssync_blob_decode(data, len, &b, &e), e);
    assert_int_equal(b.encoding, enc);
    assert_int_equal(b.bare_envelope, bare);
    assert_envelope_is_reference(&b);
    if (bare)
        assert_int_equal(sk_X509_num(b.certs), 0);
    else
        assert_carries_user_cert(&b);
    ssync_blob_clear(&b);
}

static void decode_file_ok(const char *rel, ssync_blob_encoding enc, int bare)
{
    ssync_buf f = test_read(rel);
    decode_ok(f.data, f.len, enc, bare);
    ssync_buf_free(&f);
}

static void getkey_der(void **state)
{
    decode_file_ok("adcs-basic/getkey.der", SSYNC_BLOB_DER, 0);
}

static void getkey_base64(void **state)
{
    decode_file_ok("adcs-basic/getkey-base64.txt", SSYNC_BLOB_BASE64, 0);
    decode_file_ok("recovery/getkey-base64-crlf.txt", SSYNC_BLOB_BASE64, 0);
}

static void getkey_base64_header(void **state)
{
    decode_file_ok("recovery/getkey-header-crlf.txt", SSYNC_BLOB_BASE64_HEADER, 0);
    /* LF line ends, 64 columns, and a leading byte order mark */
    ssync_buf der = test_read("adcs-basic/getkey.der");
    char *b64 = ssync_base64_encode(der.data, der.len);
    size_t n = strlen(b64);
    char *text = malloc(n + n / 64 + 100);
    size_t o = (size_t)sprintf(text, "\xEF\xBB\xBF-----BEGIN CERTIFICATE-----\n");
    for (size_t i = 0; i < n; i += 64)
        o += (size_t)sprintf(text + o, "%.64s\n", b64 + i);
    o += (size_t)sprintf(text + o, "-----END CERTIFICATE-----\n");
    decode_ok((unsigned char *)text, o, SSYNC_BLOB_BASE64_HEADER, 0);
    free(text);
    free(b64);
    ssync_buf_free(&der);
}

static void bare_envelope(void **state)
{
    decode_file_ok("adcs-basic/rawarchivedkey.der", SSYNC_BLOB_DER, 1);
    ssync_buf der = test_read("adcs-basic/rawarchivedkey.der");
    char *b64 = ssync_base64_encode(der.data, der.len);
    decode_ok((unsigned char *)b64, strlen(b64), SSYNC_BLOB_BASE64, 1);
    free(b64);
    ssync_buf_free(&der);
}

/* ssync_blob_open keeps the certificates as DER: each is decoded only when asked for, and its
 * encoding is the one the blob carries (SHA-1 = the thumbprint). */
static void open_keeps_certificates_as_der(void **state)
{
    ssync_buf f = test_read("adcs-basic/getkey.der");
    ssync_blob b;
    ssync_error e = {0};
    assert_ok(ssync_blob_open(f.data, f.len, &b, &e), e);
    assert_null(b.certs);
    assert_int_equal(b.n_certs, 2);
    assert_envelope_is_reference(&b);
    int user = 0;
    for (int i = 0; i < b.n_certs; i++) {
        const unsigned char *der;
        size_t len;
        assert_int_equal(ssync_blob_cert_der(&b, i, &der, &len), 1);
        unsigned char md[SHA_DIGEST_LENGTH];
        char hex[41];
        SHA1(der, len, md);
        ssync_hex_lower(md, sizeof md, hex);
        user += strcmp(hex, expected_fact("thumbprint")) == 0;
        X509 *x = ssync_blob_cert(&b, i);
        assert_non_null(x);
        assert_ptr_equal(ssync_blob_cert(&b, i), x); /* decoded once, kept */
        char h[41];
        cert_sha1(x, h);
        assert_string_equal(h, hex);
    }
    assert_int_equal(user, 1);
    assert_null(ssync_blob_cert(&b, 2));
    assert_null(ssync_blob_cert(&b, -1));
    ssync_blob_clear(&b);

    /* the PKCS#7 v1.5 shape goes through OpenSSL's PKCS#7 decoder: decoded certificates only */
    ssync_buf_free(&f);
    f = test_read("recovery/getkey-pkcs7-embedded.der");
    assert_ok(ssync_blob_open(f.data, f.len, &b, &e), e);
    assert_true(b.n_certs > 0);
    const unsigned char *der;
    size_t len;
    assert_int_equal(ssync_blob_cert_der(&b, 0, &der, &len), 0);
    assert_non_null(ssync_blob_cert(&b, 0));
    ssync_blob_clear(&b);
    ssync_buf_free(&f);
}

/* A certificate that is a SEQUENCE but no certificate: open still succeeds (it is decoded only
 * when asked for); ssync_blob_decode, which decodes them all, names it. */
static void undecodable_certificate(void **state)
{
    ssync_buf f = test_read("adcs-basic/getkey.der");
    ssync_blob b;
    ssync_error e = {0};
    assert_ok(ssync_blob_open(f.data, f.len, &b, &e), e);
    const unsigned char *der;
    size_t len;
    assert_int_equal(ssync_blob_cert_der(&b, 0, &der, &len), 1);
    unsigned char *at = NULL;
    for (size_t i = 0; i + len <= f.len && !at; i++)
        if (memcmp(f.data + i, der, len) == 0)
            at = f.data + i;
    assert_non_null(at);
    ssync_blob_clear(&b);
    at[4] = 0x31; /* the TBSCertificate's SEQUENCE tag becomes a SET: same lengths */
    assert_ok(ssync_blob_open(f.data, f.len, &b, &e), e);
    assert_int_equal(b.n_certs, 2);
    assert_null(ssync_blob_cert(&b, 0));
    assert_non_null(ssync_blob_cert(&b, 1));
    ssync_blob_clear(&b);
    assert_int_equal(ssync_blob_decode(f.data, f.len, &b, &e), SSYNC_ERR_BLOB_ASN1);
    assert_contains(e.msg, "certificate 1 of the blob does not decode");
    assert_null(b.envelope);
    assert_null(b.certs);
    ssync_buf_free(&f);
}

static void unsigned_and_other_content_types(void **state)
{
    decode_file_ok("recovery/getkey-unsigned.der", SSYNC_BLOB_DER, 0);
    decode_file_ok("recovery/getkey-unsigned-envtype.der", SSYNC_BLOB_DER, 0);
    decode_file_ok("recovery/getkey-unsigned-envseq.der", SSYNC_BLOB_DER, 0);
    decode_file_ok("recovery/getkey-pkcs7-embedded.der", SSYNC_BLOB_DER, 0);
}

static void expect_fail(const unsigned char *data, size_t len, ssync_code want, const char *text)
{
    ssync_blob b;
    ssync_error e = {0};
    ssync_code rc = ssync_blob_decode(data, len, &b, &e);
    if (rc != want)
        fail_msg("got %s (%s), want %s", ssync_code_name(rc), e.msg, ssync_code_name(want));
    assert_null(b.envelope);
    assert_null(b.certs);
    if (text)
        assert_contains(e.msg, text);
}

static void expect_file_fail(const char *rel, ssync_code want, const char *text)
{
    ssync_buf f = test_read(rel);
    expect_fail(f.data, f.len, want, text);
    ssync_buf_free(&f);
}

static void wrong_types(void **state)
{
    expect_file_fail("adcs-basic/user.pem", SSYNC_ERR_BLOB_TYPE, "X.509 certificate");
    expect_file_fail("adcs-basic/kra.p12", SSYNC_ERR_BLOB_TYPE, "PKCS#12");
    expect_file_fail("adcs-basic/README.md", SSYNC_ERR_BLOB_ENCODING, NULL);
    expect_file_fail("adcs-basic/user.key", SSYNC_ERR_BLOB_ASN1, NULL);
    expect_file_fail("adcs-basic/user.privatekeyblob", SSYNC_ERR_BLOB_ENCODING, NULL);
    expect_file_fail("recovery/signed-text.der", SSYNC_ERR_BLOB_TYPE, "not a CMS EnvelopedData");
    expect_file_fail("recovery/certs-only.p7b", SSYNC_ERR_BLOB_NO_CONTENT, NULL);
    X509 *c = test_load_cert("adcs-basic/user.pem");
    unsigned char *der = NULL;
    int n = i2d_X509(c, &der);
    expect_fail(der, (size_t)n, SSYNC_ERR_BLOB_TYPE, "X.509 certificate");
    OPENSSL_free(der);
    X509_free(c);
}

static void empty_and_garbage(void **state)
{
    expect_fail((const unsigned char *)"", 0, SSYNC_ERR_BLOB_ENCODING, "empty");
    expect_fail((const unsigned char *)" \r\n\t", 4, SSYNC_ERR_BLOB_ENCODING, "empty");
    expect_fail((const unsigned char *)"QUJD*A==", 8, SSYNC_ERR_BLOB_ENCODING, NULL);
    expect_fail((const unsigned char *)"QUJ", 3, SSYNC_ERR_BLOB_BASE64, NULL);
    expect_fail((const unsigned char *)"QUJD", 4, SSYNC_ERR_BLOB_ASN1, NULL); /* "ABC" */
    expect_fail((const unsigned char *)"MAA=", 4, SSYNC_ERR_BLOB_ASN1, NULL); /* 30 00 */
    const char *noend = "-----BEGIN CERTIFICATE-----\nMAA=\n";
    expect_fail((const unsigned char *)noend, strlen(noend), SSYNC_ERR_BLOB_ENCODING, "END");
    const char *hdr =
        "-----BEGIN CERTIFICATE-----\nProc-Type: 4\nMAA=\n-----END CERTIFICATE-----\n";
    expect_fail((const unsigned char *)hdr, strlen(hdr), SSYNC_ERR_BLOB_BASE64, NULL);
    unsigned char junk[600];
    srand(1);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rand();
    junk[0] = 0x30;
    expect_fail(junk, sizeof junk, SSYNC_ERR_BLOB_ASN1, NULL);
    junk[0] = 0x00;
    expect_fail(junk, sizeof junk, SSYNC_ERR_BLOB_ENCODING, NULL);
}

static void truncated_and_trailing(void **state)
{
    ssync_buf f = test_read("adcs-basic/getkey.der");
    for (size_t n = 0; n < f.len; n += (n < 64 ? 1 : 7)) {
        unsigned char *c = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
        memcpy(c, f.data, n);
        ssync_blob b;
        assert_int_not_equal(ssync_blob_decode(c, n, &b, NULL), SSYNC_OK);
        free(c);
    }
    unsigned char *c = malloc(f.len + 1);
    memcpy(c, f.data, f.len);
    c[f.len] = 0x00;
    expect_fail(c, f.len + 1, SSYNC_ERR_BLOB_ASN1, "trailing");
    free(c);
    ssync_buf_free(&f);

    f = test_read("recovery/getkey-header-crlf.txt");
    for (size_t n = 1; n < f.len; n += 13) {
        ssync_blob b;
        assert_int_not_equal(ssync_blob_decode(f.data, n, &b, NULL), SSYNC_OK);
    }
    ssync_buf_free(&f);
}

/* Every single-byte corruption: any result but a crash or a leak. */
static void corrupted_bytes_never_crash(void **state)
{
    ssync_buf f = test_read("recovery/getkey-unsigned.der");
    for (size_t i = 0; i < f.len; i++) {
        unsigned char old = f.data[i];
        f.data[i] ^= 0xA5;
        ssync_blob b;
        if (ssync_blob_decode(f.data, f.len, &b, NULL) == SSYNC_OK) {
            assert_non_null(b.envelope);
            assert_non_null(b.certs);
            ssync_blob_clear(&b);
        }
        f.data[i] = old;
    }
    ssync_buf_free(&f);
}

static void bad_arguments(void **state)
{
    ssync_blob b;
    ssync_error e = {0};
    assert_int_equal(ssync_blob_decode((const unsigned char *)"x", 1, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_blob_decode(NULL, 5, &b, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_blob_decode(NULL, 0, &b, &e), SSYNC_ERR_BLOB_ENCODING);
    ssync_blob_clear(NULL);
    ssync_blob_clear(&b);
    assert_string_equal(ssync_blob_encoding_name(SSYNC_BLOB_DER), "DER");
    assert_string_equal(ssync_blob_encoding_name(SSYNC_BLOB_BASE64), "base64");
    assert_string_equal(ssync_blob_encoding_name(SSYNC_BLOB_BASE64_HEADER), "base64 with header");
    assert_string_equal(ssync_blob_encoding_name((ssync_blob_encoding)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(getkey_der),
        cmocka_unit_test(getkey_base64),
        cmocka_unit_test(getkey_base64_header),
        cmocka_unit_test(bare_envelope),
        cmocka_unit_test(open_keeps_certificates_as_der),
        cmocka_unit_test(undecodable_certificate),
        cmocka_unit_test(unsigned_and_other_content_types),
        cmocka_unit_test(wrong_types),
        cmocka_unit_test(empty_and_garbage),
        cmocka_unit_test(truncated_and_trailing),
        cmocka_unit_test(corrupted_bytes_never_crash),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
