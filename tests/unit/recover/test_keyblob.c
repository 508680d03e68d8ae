#include "recovery_util.h"

#include "recover/keyblob.h"

#include <stdlib.h>
#include <string.h>

static EVP_PKEY *parse_ok(const unsigned char *b, size_t len, ssync_keyblob_kind want)
{
    EVP_PKEY *k = NULL;
    ssync_keyblob_kind kind = (ssync_keyblob_kind)-1;
    ssync_error e = {0};
    assert_ok(ssync_keyblob_to_pkey(b, len, &k, &kind, &e), e);
    assert_int_equal(kind, want);
    assert_non_null(k);
    return k;
}

/* The recovered key is the user key: same modulus as expected.txt, and a full OpenSSL check
 * (primality included) passes. */
static void assert_user_key_valid(EVP_PKEY *k)
{
    assert_is_user_key(k);
    EVP_PKEY *ref = test_load_key("adcs-basic/user.key");
    assert_int_equal(EVP_PKEY_eq(k, ref), 1);
    EVP_PKEY_free(ref);
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
    assert_int_equal(EVP_PKEY_check(c), 1);
    EVP_PKEY_CTX_free(c);
}

static void capi_keyx(void **state)
{
    ssync_buf b = test_read("adcs-basic/user.privatekeyblob");
    EVP_PKEY *k = parse_ok(b.data, b.len, SSYNC_KEYBLOB_CAPI_RSA);
    assert_user_key_valid(k);
    EVP_PKEY_free(k);
    ssync_buf_free(&b);
}

static void capi_sign(void **state)
{
    ssync_buf b = test_read("recovery/user-sign.privatekeyblob");
    assert_int_equal(b.data[5], 0x24); /* aiKeyAlg CALG_RSA_SIGN */
    EVP_PKEY *k = parse_ok(b.data, b.len, SSYNC_KEYBLOB_CAPI_RSA);
    assert_user_key_valid(k);
    EVP_PKEY_free(k);
    ssync_buf_free(&b);
}

static void cng_rsa3(void **state)
{
    ssync_buf b = test_read("recovery/user.cng-rsa3.blob");
    EVP_PKEY *k = parse_ok(b.data, b.len, SSYNC_KEYBLOB_CNG_RSA_FULLPRIVATE);
    assert_user_key_valid(k);
    EVP_PKEY_free(k);
    ssync_buf_free(&b);
}

static void cng_rsa2_derives_private_exponent(void **state)
{
    ssync_buf b = test_read("recovery/user.cng-rsa2.blob");
    EVP_PKEY *k = parse_ok(b.data, b.len, SSYNC_KEYBLOB_CNG_RSA_PRIVATE);
    assert_user_key_valid(k);
    /* a signature made with the derived key verifies with the user's certificate */
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"abc", 3), 1);
    EVP_MD_CTX_free(md);
    md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(cert)), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, (const unsigned char *)"abc", 3), 1);
    EVP_MD_CTX_free(md);
    X509_free(cert);
    EVP_PKEY_free(k);
    ssync_buf_free(&b);
}

static void expect_fail(const unsigned char *b, size_t len, ssync_code want, const char *text)
{
    EVP_PKEY *k = (EVP_PKEY *)1;
    ssync_error e = {0};
    ssync_code rc = ssync_keyblob_to_pkey(b, len, &k, NULL, &e);
    if (rc != want)
        fail_msg("len %zu: got %s (%s), want %s", len, ssync_code_name(rc), e.msg,
                 ssync_code_name(want));
    assert_null(k);
    if (text)
        assert_contains(e.msg, text);
}

static void ecc_magic_is_named(void **state)
{
    ssync_buf b = test_read("recovery/eck2.blob");
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_MAGIC, "magic \"ECK2\" (CNG ECC private key)");
    memcpy(b.data, "ECS1", 4);
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_MAGIC, "\"ECS1\" (CNG ECC public key)");
    memcpy(b.data, "RSA1", 4);
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_MAGIC, "\"RSA1\"");
    ssync_buf_free(&b);
}

static void unknown_magic_is_hex_when_not_printable(void **state)
{
    const unsigned char junk[32] = {0x01, 0x02, 0xFE, 0x04};
    expect_fail(junk, sizeof junk, SSYNC_ERR_KEYBLOB_MAGIC, "0x0102FE04");
    const unsigned char pub[32] = {0x06, 0x02, 0, 0, 0, 0xA4, 0, 0, 'R', 'S', 'A', '1'};
    expect_fail(pub, sizeof pub, SSYNC_ERR_KEYBLOB_MAGIC, "PUBLICKEYBLOB");
}

static void capi_header_errors(void **state)
{
    ssync_buf b = test_read("adcs-basic/user.privatekeyblob");
    unsigned char *c = malloc(b.len + 1);
    memcpy(c, b.data, b.len);
    c[4] = 0x00, c[5] = 0x22; /* CALG_DSS_SIGN */
    expect_fail(c, b.len, SSYNC_ERR_KEYBLOB_MAGIC, "0x2200");
    memcpy(c, b.data, b.len);
    memcpy(c + 8, "DSS2", 4);
    expect_fail(c, b.len, SSYNC_ERR_KEYBLOB_MAGIC, "\"DSS2\"");
    memcpy(c, b.data, b.len);
    c[12] = 0x08; /* bit length 2056: not a multiple of 16 */
    expect_fail(c, b.len, SSYNC_ERR_KEYBLOB_FORMAT, "bit length");
    memcpy(c, b.data, b.len);
    c[13] = 0x10; /* bit length 4096: the blob is too short for it */
    expect_fail(c, b.len, SSYNC_ERR_KEYBLOB_FORMAT, "4096-bit key needs");
    memcpy(c, b.data, b.len);
    c[2] = 1;
    expect_fail(c, b.len, SSYNC_ERR_KEYBLOB_FORMAT, "reserved");
    memcpy(c, b.data, b.len);
    c[b.len] = 0; /* one byte too many */
    expect_fail(c, b.len + 1, SSYNC_ERR_KEYBLOB_FORMAT, "1173 bytes");
    free(c);
    ssync_buf_free(&b);
}

static void truncated_blobs(void **state)
{
    const char *files[] = {"adcs-basic/user.privatekeyblob", "recovery/user.cng-rsa2.blob",
                           "recovery/user.cng-rsa3.blob"};
    for (size_t f = 0; f < 3; f++) {
        ssync_buf b = test_read(files[f]);
        for (size_t n = 0; n < b.len; n++) {
            unsigned char *c = malloc(n ? n : 1); /* exact size: ASan sees any over-read */
            memcpy(c, b.data, n);
            expect_fail(c, n, SSYNC_ERR_KEYBLOB_FORMAT, NULL);
            free(c);
        }
        ssync_buf_free(&b);
    }
}

static void inconsistent_numbers(void **state)
{
    ssync_buf b = test_read("adcs-basic/user.privatekeyblob");
    size_t last = b.len - 1; /* top byte of d (little-endian) */
    b.data[last] ^= 0x40;
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_FORMAT, "inconsistent RSA key");
    b.data[last] ^= 0x40;
    b.data[20] ^= 1; /* lowest byte of n */
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_FORMAT, "n != p * q");
    ssync_buf_free(&b);

    b = test_read("recovery/user.cng-rsa2.blob");
    b.data[24 + 3 + 256 + 5] ^= 0x10; /* inside p */
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_FORMAT, NULL);
    ssync_buf_free(&b);

    b = test_read("recovery/user.cng-rsa3.blob");
    b.data[b.len - 300] ^= 0x01; /* inside qinv */
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_FORMAT, "inconsistent");
    b.data[b.len - 300] ^= 0x01;
    b.data[8] = 0; /* cbPublicExp 0 */
    expect_fail(b.data, b.len, SSYNC_ERR_KEYBLOB_FORMAT, "cbPublicExp 0");
    ssync_buf_free(&b);
}

static void garbage_with_valid_headers(void **state)
{
    /* random numbers behind well-formed headers: must fail cleanly, never reach OpenSSL */
    unsigned char capi[20 + 9 * 1024 / 16] = {0x07, 0x02, 0,    0,    0x00, 0xA4, 0,
                                              0,    'R',  'S',  'A',  '2',  0x00, 0x04,
                                              0,    0,    0x01, 0x00, 0x01, 0};
    srand(7);
    for (size_t i = 20; i < sizeof capi; i++)
        capi[i] = (unsigned char)rand();
    capi[20 + 127] |= 0x80; /* top bit of n set so only the arithmetic can tell */
    expect_fail(capi, sizeof capi, SSYNC_ERR_KEYBLOB_FORMAT, NULL);
    unsigned char cng[24 + 3 + 128 + 64 + 64] = {'R', 'S', 'A', '2', 0x00, 0x04, 0, 0, 3, 0,  0,
                                                 0,   128, 0,   0,   0,    64,   0, 0, 0, 64, 0};
    for (size_t i = 24; i < sizeof cng; i++)
        cng[i] = (unsigned char)rand();
    cng[27] |= 0x80;
    expect_fail(cng, sizeof cng, SSYNC_ERR_KEYBLOB_FORMAT, NULL);
}

static void bad_arguments(void **state)
{
    EVP_PKEY *k = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_keyblob_to_pkey((const unsigned char *)"RSA2", 4, NULL, NULL, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_keyblob_to_pkey(NULL, 10, &k, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_keyblob_to_pkey(NULL, 0, &k, NULL, &e), SSYNC_ERR_KEYBLOB_FORMAT);
    assert_int_equal(ssync_keyblob_to_pkey((const unsigned char *)"x", 1, &k, NULL, NULL),
                     SSYNC_ERR_KEYBLOB_FORMAT);
    assert_null(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(capi_keyx),
        cmocka_unit_test(capi_sign),
        cmocka_unit_test(cng_rsa3),
        cmocka_unit_test(cng_rsa2_derives_private_exponent),
        cmocka_unit_test(ecc_magic_is_named),
        cmocka_unit_test(unknown_magic_is_hex_when_not_printable),
        cmocka_unit_test(capi_header_errors),
        cmocka_unit_test(truncated_blobs),
        cmocka_unit_test(inconsistent_numbers),
        cmocka_unit_test(garbage_with_valid_headers),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
