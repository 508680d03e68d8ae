#include "recovery_util.h"

#include "recover/recover.h"

#include <stdlib.h>
#include <string.h>

/* A KRA set from "file[:password]" specs, NULL-terminated. */
static ssync_kra_set *kras(const char *first, ...)
{
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_new(&set, &e), e);
    va_list ap;
    va_start(ap, first);
    for (const char *spec = first; spec; spec = va_arg(ap, const char *)) {
        char file[256];
        snprintf(file, sizeof file, "%s", spec);
        char *pw = strchr(file, ':');
        if (pw)
            *pw++ = '\0';
        char *cert = NULL;
        if (strstr(file, ".key")) { /* PEM key: the certificate beside it */
            static char c[256];
            snprintf(c, sizeof c, "%.*s.pem", (int)(strlen(file) - 4), file);
            cert = c;
        }
        char path[1024];
        snprintf(path, sizeof path, "%s", test_data_path(file));
        assert_ok(ssync_kra_set_add_file(set, path, pw, cert ? test_data_path(cert) : NULL, &e), e);
    }
    va_end(ap);
    return set;
}

#define KRA1 "adcs-basic/kra.p12:kra-Pa55word!"
#define KRA2 "recovery/kra2.p12:legacy-Pa55"

static void recover_ok(const ssync_kra_set *set, const char *rel, X509 *hint, int chain_len)
{
    ssync_buf f = test_read(rel);
    ssync_recovered r;
    ssync_error e = {0};
    ssync_code rc = ssync_recover_blob(set, f.data, f.len, hint, &r, &e);
    if (rc != SSYNC_OK)
        fail_msg("%s: %s: %s", rel, ssync_code_name(rc), e.msg);
    assert_is_user_key(r.key);
    assert_is_user_cert(r.cert);
    assert_non_null(r.chain);
    assert_int_equal(sk_X509_num(r.chain), chain_len);
    if (chain_len) /* the CA certificate, not the user's */
        assert_int_not_equal(X509_cmp(sk_X509_value(r.chain, 0), r.cert), 0);
    ssync_recovered_clear(&r);
    assert_null(r.key);
    ssync_buf_free(&f);
}

/* SSYNC_RECOVER_NO_CHAIN: the same key and certificate, an empty chain, and the CA certificate
 * never decoded (a blob whose CA certificate does not decode still recovers). */
static void recover_without_chain(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    ssync_buf f = test_read("adcs-basic/getkey.der");
    ssync_recovered r;
    ssync_error e = {0};
    assert_ok(ssync_recover_blob_ex(set, f.data, f.len, NULL, SSYNC_RECOVER_NO_CHAIN, &r, &e), e);
    assert_is_user_key(r.key);
    assert_is_user_cert(r.cert);
    assert_non_null(r.chain);
    assert_int_equal(sk_X509_num(r.chain), 0);
    X509 *ca = NULL;
    ssync_recovered_clear(&r);
    assert_ok(ssync_recover_blob(set, f.data, f.len, NULL, &r, &e), e);
    assert_int_equal(sk_X509_num(r.chain), 1);
    ca = X509_dup(sk_X509_value(r.chain, 0));
    ssync_recovered_clear(&r);

    /* break the CA certificate's TBSCertificate tag (SEQUENCE -> SET, lengths unchanged) */
    unsigned char *der = NULL;
    int n = i2d_X509(ca, &der);
    assert_true(n > 0);
    unsigned char *at = NULL;
    for (size_t i = 0; i + (size_t)n <= f.len && !at; i++)
        if (memcmp(f.data + i, der, (size_t)n) == 0)
            at = f.data + i;
    assert_non_null(at);
    at[4] = 0x31;
    assert_ok(ssync_recover_blob_ex(set, f.data, f.len, NULL, SSYNC_RECOVER_NO_CHAIN, &r, &e), e);
    assert_is_user_cert(r.cert);
    ssync_recovered_clear(&r);
    assert_int_equal(ssync_recover_blob(set, f.data, f.len, NULL, &r, &e), SSYNC_ERR_BLOB_ASN1);
    assert_contains(e.msg, "does not decode");
    assert_null(r.key);
    OPENSSL_free(der);
    X509_free(ca);
    ssync_buf_free(&f);
    ssync_kra_set_free(set);
}

static void expect_fail(const ssync_kra_set *set, const unsigned char *data, size_t len, X509 *hint,
                        ssync_code want, const char *text)
{
    ssync_recovered r;
    ssync_error e = {0};
    ssync_code rc = ssync_recover_blob(set, data, len, hint, &r, &e);
    if (rc != want)
        fail_msg("got %s (%s), want %s", ssync_code_name(rc), e.msg, ssync_code_name(want));
    assert_null(r.key);
    assert_null(r.cert);
    assert_null(r.chain);
    if (text)
        assert_contains(e.msg, text);
}

static void expect_file_fail(const ssync_kra_set *set, const char *rel, X509 *hint, ssync_code want,
                             const char *text)
{
    ssync_buf f = test_read(rel);
    expect_fail(set, f.data, f.len, hint, want, text);
    ssync_buf_free(&f);
}

static void all_encodings(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    recover_ok(set, "adcs-basic/getkey.der", NULL, 1);
    recover_ok(set, "adcs-basic/getkey-base64.txt", NULL, 1);
    recover_ok(set, "recovery/getkey-base64-crlf.txt", NULL, 1);
    recover_ok(set, "recovery/getkey-header-crlf.txt", NULL, 1);
    recover_ok(set, "recovery/getkey-unsigned.der", NULL, 1);
    recover_ok(set, "recovery/getkey-unsigned-envtype.der", NULL, 1);
    recover_ok(set, "recovery/getkey-unsigned-envseq.der", NULL, 1);
    recover_ok(set, "recovery/getkey-pkcs7-embedded.der", NULL, 1);
    ssync_kra_set_free(set);
}

static void bare_envelope_with_cert_hint(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    X509 *user = test_load_cert("adcs-basic/user.pem");
    X509 *ca = test_load_cert("adcs-basic/ca.pem");
    recover_ok(set, "adcs-basic/rawarchivedkey.der", user, 0);
    recover_ok(set, "recovery/envelope-aes256.der", user, 0);
    /* a hint that does not match is ignored when the blob has the right certificate */
    recover_ok(set, "adcs-basic/getkey.der", ca, 1);
    expect_file_fail(set, "adcs-basic/rawarchivedkey.der", NULL, SSYNC_ERR_BLOB_NO_CERT,
                     "needs its certificate");
    expect_file_fail(set, "adcs-basic/rawarchivedkey.der", ca, SSYNC_ERR_KEY_MISMATCH, NULL);
    X509_free(user);
    X509_free(ca);
    ssync_kra_set_free(set);
}

static void aes_and_3des(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    recover_ok(set, "adcs-basic/getkey.der", NULL, 1);      /* 3DES-CBC */
    recover_ok(set, "recovery/getkey-aes256.der", NULL, 1); /* AES-256-CBC */
    ssync_kra_set_free(set);
}

static void two_kras_either_opens(void **state)
{
    const char *sets[][3] = {{KRA1, NULL}, {KRA2, NULL}, {KRA2, KRA1}, {KRA1, KRA2}};
    for (size_t i = 0; i < 4; i++) {
        ssync_kra_set *set = kras(sets[i][0], sets[i][1], NULL);
        recover_ok(set, "recovery/getkey-2kra.der", NULL, 1);
        ssync_kra_set_free(set);
    }
}

static void kra_file_kinds(void **state)
{
    const char *specs[] = {"recovery/kra1-legacy.p12:legacy-Pa55",
                           "recovery/kra1-descert.p12:legacy-Pa55", "recovery/kra1-combined.pem",
                           "adcs-basic/kra1.key"};
    for (size_t i = 0; i < 4; i++) {
        ssync_kra_set *set = kras(specs[i], NULL);
        recover_ok(set, "recovery/getkey-aes256.der", NULL, 1);
        ssync_kra_set_free(set);
    }
}

static void key_blob_kinds(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    recover_ok(set, "recovery/getkey-capi-sign.der", NULL, 1);
    recover_ok(set, "recovery/getkey-cng-rsa2.der", NULL, 1);
    recover_ok(set, "recovery/getkey-cng-rsa3.der", NULL, 1);
    expect_file_fail(set, "recovery/getkey-eck2.der", NULL, SSYNC_ERR_KEYBLOB_MAGIC, "\"ECK2\"");
    ssync_kra_set_free(set);
}

static void kra_not_held_lists_serials(void **state)
{
    ssync_kra_set *set = kras(KRA2, NULL);
    expect_file_fail(set, "adcs-basic/getkey.der", NULL, SSYNC_ERR_KRA_NOT_HELD,
                     expected_fact("kra_serial"));
    expect_file_fail(set, "adcs-basic/getkey.der", NULL, SSYNC_ERR_KRA_NOT_HELD,
                     "Lab Vector Issuing CA");
    ssync_kra_set_free(set);
    set = kras(KRA1, KRA2, NULL);
    expect_file_fail(set, "recovery/getkey-foreign.der", NULL, SSYNC_ERR_KRA_NOT_HELD,
                     "serial 0FEDCBA987654321 issued by CN=Lab Vector Issuing CA");
    /* same serial number as kra1, other issuer: issuer and serial must both match */
    char want[200];
    snprintf(want, sizeof want, "serial %s issued by CN=Other Lab KRA",
             expected_fact("kra_serial"));
    expect_file_fail(set, "recovery/envelope-foreign-issuer.der", NULL, SSYNC_ERR_KRA_NOT_HELD,
                     want);
    ssync_kra_set_free(set);
    /* an empty set */
    ssync_kra_set *none = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_new(&none, &e), e);
    expect_file_fail(none, "adcs-basic/getkey.der", NULL, SSYNC_ERR_KRA_NOT_HELD, "0 held");
    ssync_kra_set_free(none);
}

/* Offset of needle in the buffer (the test fails when absent). */
static size_t find(const ssync_buf *b, const unsigned char *needle, size_t n)
{
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, needle, n) == 0)
            return i;
    fail_msg("pattern not found");
    return 0;
}

static void corrupted_envelopes_fail_loudly(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    X509 *user = test_load_cert("adcs-basic/user.pem");
    ssync_buf f = test_read("adcs-basic/rawarchivedkey.der");
    /* the encrypted content-encryption key: with the certificate given, CMS reports the
     * failure instead of decrypting with a random key */
    static const unsigned char ek[] = {0x7d, 0xe5, 0xc8, 0x39, 0x8e, 0xaf};
    size_t at = find(&f, ek, sizeof ek);
    f.data[at + 10] ^= 0x01;
    expect_fail(set, f.data, f.len, user, SSYNC_ERR_KRA_DECRYPT,
                "2E29AAA3690D9087745552FD7924C75F0800E743");
    f.data[at + 10] ^= 0x01;
    /* a flipped ciphertext byte: the key blob decrypts to inconsistent numbers */
    f.data[f.len - 200] ^= 0x01;
    ssync_recovered r;
    assert_int_not_equal(ssync_recover_blob(set, f.data, f.len, user, &r, NULL), SSYNC_OK);
    f.data[f.len - 200] ^= 0x01;
    /* the last block (padding) */
    f.data[f.len - 9] ^= 0x80;
    assert_int_not_equal(ssync_recover_blob(set, f.data, f.len, user, &r, NULL), SSYNC_OK);
    ssync_buf_free(&f);
    X509_free(user);
    ssync_kra_set_free(set);
}

static void bad_inputs(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    expect_fail(set, (const unsigned char *)"", 0, NULL, SSYNC_ERR_BLOB_ENCODING, NULL);
    expect_fail(set, (const unsigned char *)"\x30\x03\x02\x01", 4, NULL, SSYNC_ERR_BLOB_ASN1, NULL);
    expect_file_fail(set, "adcs-basic/user.pem", NULL, SSYNC_ERR_BLOB_TYPE, NULL);
    expect_file_fail(set, "adcs-basic/kra.p12", NULL, SSYNC_ERR_BLOB_TYPE, NULL);
    expect_file_fail(set, "adcs-basic/expected.txt", NULL, SSYNC_ERR_BLOB_ENCODING, NULL);
    expect_file_fail(set, "recovery/signed-text.der", NULL, SSYNC_ERR_BLOB_TYPE, NULL);
    expect_file_fail(set, "recovery/certs-only.p7b", NULL, SSYNC_ERR_BLOB_NO_CONTENT, NULL);
    ssync_buf f = test_read("adcs-basic/getkey.der");
    for (size_t n = 0; n < f.len; n += 97) {
        unsigned char *c = malloc(n ? n : 1);
        memcpy(c, f.data, n);
        ssync_recovered r;
        assert_int_not_equal(ssync_recover_blob(set, c, n, NULL, &r, NULL), SSYNC_OK);
        free(c);
    }
    ssync_buf_free(&f);
    ssync_kra_set_free(set);
}

static void blob_without_user_cert(void **state)
{
    /* the SignedData carries only the CA certificate */
    ssync_kra_set *set = kras(KRA1, NULL);
    expect_file_fail(set, "recovery/getkey-no-user-cert.der", NULL, SSYNC_ERR_BLOB_NO_CERT,
                     "none of the 1 certificate");
    X509 *user = test_load_cert("adcs-basic/user.pem");
    X509 *kra = test_load_cert("adcs-basic/kra1.pem");
    recover_ok(set, "recovery/getkey-no-user-cert.der", user, 1);
    expect_file_fail(set, "recovery/getkey-no-user-cert.der", kra, SSYNC_ERR_KEY_MISMATCH, NULL);
    X509_free(kra);
    X509_free(user);
    ssync_kra_set_free(set);
}

/* The plan's cheap path: the user certificate and the KRA check without decryption. */
static void peek_without_decryption(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    X509 *user = test_load_cert("adcs-basic/user.pem");
    const char *files[] = {"adcs-basic/getkey.der", "adcs-basic/getkey-base64.txt",
                           "recovery/getkey-header-crlf.txt"};
    ssync_error e = {0};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        ssync_buf f = test_read(files[i]);
        X509 *cert = NULL;
        assert_ok(ssync_recover_peek(set, f.data, f.len, &cert, &e), e);
        assert_non_null(cert);
        assert_int_equal(X509_cmp(cert, user), 0); /* the user's, not the CA's */
        X509_free(cert);
        ssync_buf_free(&f);
    }
    /* only the CA certificate: no end-entity certificate, left to the recovery */
    ssync_buf f = test_read("recovery/getkey-no-user-cert.der");
    X509 *cert = user;
    assert_ok(ssync_recover_peek(set, f.data, f.len, &cert, &e), e);
    assert_null(cert);
    ssync_buf_free(&f);
    ssync_kra_set_free(set);
    /* the KRA is not held: the same error as the recovery's, without a private-key operation */
    set = kras(KRA2, NULL);
    f = test_read("adcs-basic/getkey.der");
    assert_int_equal(ssync_recover_peek(set, f.data, f.len, &cert, &e), SSYNC_ERR_KRA_NOT_HELD);
    assert_null(cert);
    assert_contains(e.msg, expected_fact("kra_serial"));
    /* garbage is refused */
    assert_int_not_equal(ssync_recover_peek(set, (const unsigned char *)"xx", 2, &cert, &e),
                         SSYNC_OK);
    assert_int_equal(ssync_recover_peek(NULL, f.data, f.len, &cert, &e), SSYNC_ERR_ARG);
    ssync_buf_free(&f);
    ssync_kra_set_free(set);
    X509_free(user);
}

/* A memo shared by the peeks of one scan keeps the CA certificate decoded once: the first blob
 * puts it there, the next ones find it; the user certificate is never kept. The memo holds at
 * most SSYNC_CERT_MEMO certificates. */
static void peek_with_memo(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    X509 *user = test_load_cert("adcs-basic/user.pem");
    const char *files[] = {"adcs-basic/getkey.der", "adcs-basic/getkey-base64.txt",
                           "recovery/getkey-header-crlf.txt", "recovery/getkey-no-user-cert.der"};
    ssync_cert_memo memo = {0};
    ssync_error e = {0};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        ssync_buf f = test_read(files[i]);
        X509 *cert = NULL;
        assert_ok(ssync_recover_peek_memo(set, f.data, f.len, &memo, &cert, &e), e);
        if (i < 3) {
            assert_non_null(cert);
            assert_int_equal(X509_cmp(cert, user), 0);
        } else {
            assert_null(cert); /* the CA certificate only: still no leaf */
        }
        assert_int_equal(memo.n, 1);
        assert_true(X509_check_ca(memo.e[0].x509) != 0);
        X509_free(cert);
        ssync_buf_free(&f);
    }
    ssync_cert_memo_clear(&memo);
    assert_int_equal(memo.n, 0);
    ssync_cert_memo_clear(NULL);
    ssync_kra_set_free(set);
    X509_free(user);
}

static void decrypt_directly(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    ssync_buf raw = test_read("adcs-basic/rawarchivedkey.der");
    const unsigned char *p = raw.data;
    CMS_ContentInfo *env = d2i_CMS_ContentInfo(NULL, &p, (long)raw.len);
    assert_non_null(env);
    ssync_buf plain = {0};
    ssync_error e = {0};
    assert_ok(ssync_recover_decrypt(set, env, &plain, &e), e);
    ssync_buf ref = test_read("adcs-basic/user.privatekeyblob");
    assert_int_equal(plain.len, ref.len);
    assert_memory_equal(plain.data, ref.data, ref.len);
    ssync_buf_free(&ref);
    ssync_buf_free_secret(&plain);
    assert_null(plain.data);

    assert_int_equal(ssync_recover_decrypt(set, env, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_recover_decrypt(NULL, env, &plain, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_recover_decrypt(set, NULL, &plain, &e), SSYNC_ERR_ARG);
    CMS_ContentInfo_free(env);
    ssync_buf_free(&raw);
    raw = test_read("recovery/signed-text.der"); /* not an EnvelopedData */
    p = raw.data;
    env = d2i_CMS_ContentInfo(NULL, &p, (long)raw.len);
    assert_non_null(env);
    assert_int_equal(ssync_recover_decrypt(set, env, &plain, &e), SSYNC_ERR_BLOB_TYPE);
    CMS_ContentInfo_free(env);
    ssync_buf_free(&raw);
    ssync_kra_set_free(set);
}

static void bad_arguments(void **state)
{
    ssync_kra_set *set = kras(KRA1, NULL);
    ssync_recovered r;
    ssync_error e = {0};
    assert_int_equal(ssync_recover_blob(set, (const unsigned char *)"x", 1, NULL, NULL, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_recover_blob(NULL, (const unsigned char *)"x", 1, NULL, &r, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_recover_blob(set, NULL, 3, NULL, &r, &e), SSYNC_ERR_ARG);
    ssync_recovered_clear(NULL);
    ssync_kra_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_encodings),
        cmocka_unit_test(recover_without_chain),
        cmocka_unit_test(bare_envelope_with_cert_hint),
        cmocka_unit_test(aes_and_3des),
        cmocka_unit_test(two_kras_either_opens),
        cmocka_unit_test(kra_file_kinds),
        cmocka_unit_test(key_blob_kinds),
        cmocka_unit_test(kra_not_held_lists_serials),
        cmocka_unit_test(corrupted_envelopes_fail_loudly),
        cmocka_unit_test(bad_inputs),
        cmocka_unit_test(blob_without_user_cert),
        cmocka_unit_test(decrypt_directly),
        cmocka_unit_test(peek_without_decryption),
        cmocka_unit_test(peek_with_memo),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
