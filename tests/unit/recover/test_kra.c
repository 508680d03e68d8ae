#include "recovery_util.h"

#include "recover/kra.h"

#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <stdlib.h>
#include <string.h>

static char *read_pass(const char *rel)
{
    ssync_buf b = test_read(rel);
    char *p = strdup((char *)b.data);
    ssync_buf_free_secret(&b);
    return p;
}

static void serial_hex(X509 *cert, char *out, size_t cap)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = BN_bn2hex(bn);
    snprintf(out, cap, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
}

/* Loads one file into a fresh set and checks it holds kra1 (expected.txt's kra_serial). */
static void load_kra1(const char *rel, const char *password, const char *cert_rel)
{
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_new(&set, &e), e);
    char path[1024];
    snprintf(path, sizeof path, "%s", test_data_path(rel));
    assert_ok(
        ssync_kra_set_add_file(set, path, password, cert_rel ? test_data_path(cert_rel) : NULL, &e),
        e);
    assert_int_equal(ssync_kra_set_count(set), 1);
    EVP_PKEY *k = NULL;
    X509 *c = NULL;
    assert_int_equal(ssync_kra_set_get(set, 0, &k, &c), 1);
    char hex[128];
    serial_hex(c, hex, sizeof hex);
    assert_string_equal(hex, expected_fact("kra_serial"));
    assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(c), k), 1);
    ssync_kra_set_free(set);
}

static void expect_fail(const char *rel, const char *password, const char *cert_rel,
                        ssync_code want, const char *text)
{
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_new(&set, &e), e);
    char path[1024];
    snprintf(path, sizeof path, "%s", test_data_path(rel));
    ssync_code rc =
        ssync_kra_set_add_file(set, path, password, cert_rel ? test_data_path(cert_rel) : NULL, &e);
    if (rc != want)
        fail_msg("%s: got %s (%s), want %s", rel, ssync_code_name(rc), e.msg,
                 ssync_code_name(want));
    assert_int_equal(ssync_kra_set_count(set), 0);
    assert_contains(e.msg, ssync_basename(rel)); /* errors name the file */
    if (text)
        assert_contains(e.msg, text);
    ssync_kra_set_free(set);
}

static void pkcs12_modern(void **state)
{
    char *pw = read_pass("adcs-basic/kra.pass");
    load_kra1("adcs-basic/kra.p12", pw, NULL);
    free(pw);
}

static void pkcs12_legacy_loads_provider_on_demand(void **state)
{
    char *pw = read_pass("recovery/p12.pass");
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_new(&set, &e), e);
    assert_int_equal(OSSL_PROVIDER_available(NULL, "legacy"), 0);
    /* 3DES-only files need no legacy provider */
    assert_ok(
        ssync_kra_set_add_file(set, test_data_path("recovery/kra1-descert.p12"), pw, NULL, &e), e);
    assert_int_equal(OSSL_PROVIDER_available(NULL, "legacy"), 0);
    /* RC2-40 certificates (openssl pkcs12 -legacy, Windows exports) do */
    assert_ok(ssync_kra_set_add_file(set, test_data_path("recovery/kra1-legacy.p12"), pw, NULL, &e),
              e);
    assert_int_equal(OSSL_PROVIDER_available(NULL, "legacy"), 1);
    assert_int_equal(ssync_kra_set_count(set), 2);
    ssync_kra_set_free(set);
    /* the set's handles are gone with it: nothing global stays behind */
    assert_int_equal(OSSL_PROVIDER_available(NULL, "legacy"), 0);
    load_kra1("recovery/kra1-legacy.p12", pw, NULL);
    load_kra1("adcs-basic/kra.p12", "kra-Pa55word!", NULL); /* default provider still works */
    free(pw);
}

static void pkcs12_wrong_password(void **state)
{
    expect_fail("adcs-basic/kra.p12", "wrong", NULL, SSYNC_ERR_KRA_PASSWORD, "MAC");
    expect_fail("adcs-basic/kra.p12", NULL, NULL, SSYNC_ERR_KRA_PASSWORD, NULL);
    expect_fail("recovery/kra1-legacy.p12", "", NULL, SSYNC_ERR_KRA_PASSWORD, NULL);
}

static void pkcs12_without_key(void **state)
{
    expect_fail("recovery/kra1-nokey.p12", "legacy-Pa55", NULL, SSYNC_ERR_KRA_NO_KEY, NULL);
}

static void pkcs12_empty_password(void **state)
{
    EVP_PKEY *k = test_load_key("adcs-basic/kra1.key");
    X509 *c = test_load_cert("adcs-basic/kra1.pem");
    char *dir = test_tmpdir();
    for (int nullpw = 0; nullpw < 2; nullpw++) {
        PKCS12 *p12 = PKCS12_create(nullpw ? NULL : "", NULL, k, c, NULL, 0, 0, 0, 0, 0);
        assert_non_null(p12);
        unsigned char *der = NULL;
        int n = i2d_PKCS12(p12, &der);
        char path[512];
        snprintf(path, sizeof path, "%s/empty%d.p12", dir, nullpw);
        ssync_error e = {0};
        assert_ok(ssync_write_file_atomic(path, der, (size_t)n, 0600, &e), e);
        OPENSSL_free(der);
        PKCS12_free(p12);
        ssync_kra_set *set = NULL;
        assert_ok(ssync_kra_set_new(&set, &e), e);
        assert_ok(ssync_kra_set_add_file(set, path, NULL, NULL, &e), e);
        assert_ok(ssync_kra_set_add_file(set, path, "", NULL, &e), e);
        assert_int_equal(ssync_kra_set_count(set), 2);
        ssync_kra_set_free(set);
    }
    test_rmtree(dir);
    free(dir);
    EVP_PKEY_free(k);
    X509_free(c);
}

static void pem_files(void **state)
{
    load_kra1("recovery/kra1-combined.pem", NULL, NULL);           /* cert then key, one file */
    load_kra1("adcs-basic/kra1.key", NULL, "adcs-basic/kra1.pem"); /* separately */
    load_kra1("recovery/kra1-encrypted.key", "pem-Pa55", "adcs-basic/kra1.pem");
    /* a cert file given explicitly overrides the one in the PEM */
    load_kra1("recovery/kra1-combined.pem", NULL, "adcs-basic/kra1.pem");
}

static void pem_errors(void **state)
{
    expect_fail("recovery/kra1-encrypted.key", "wrong", "adcs-basic/kra1.pem",
                SSYNC_ERR_KRA_PASSWORD, NULL);
    expect_fail("recovery/kra1-encrypted.key", NULL, "adcs-basic/kra1.pem", SSYNC_ERR_KRA_PASSWORD,
                "no password");
    expect_fail("adcs-basic/kra1.pem", NULL, NULL, SSYNC_ERR_KRA_NO_KEY, NULL);
    expect_fail("adcs-basic/kra1.key", NULL, NULL, SSYNC_ERR_KRA_NO_CERT, NULL);
    expect_fail("adcs-basic/kra1.key", NULL, "recovery/kra2.pem", SSYNC_ERR_KRA_NO_CERT,
                "none matches");
    expect_fail("recovery/kra2.key", NULL, "adcs-basic/README.md", SSYNC_ERR_KRA_NO_CERT, NULL);
}

static void files_missing_or_wrong(void **state)
{
    expect_fail("nonexistent/kra.p12", "x", NULL, SSYNC_ERR_FILE_OPEN, NULL);
    expect_fail("adcs-basic", "x", NULL, SSYNC_ERR_FILE_OPEN, NULL); /* a directory */
    expect_fail("adcs-basic/kra1.key", NULL, "nonexistent/kra.pem", SSYNC_ERR_FILE_OPEN,
                "nonexistent/kra.pem");
    expect_fail("adcs-basic/expected.txt", NULL, NULL, SSYNC_ERR_KRA_LOAD, "neither");
    expect_fail("adcs-basic/getkey.der", NULL, NULL, SSYNC_ERR_KRA_LOAD, NULL);
    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/empty.p12", dir);
    ssync_error e = {0};
    assert_ok(ssync_write_file_atomic(path, "", 0, 0600, &e), e);
    ssync_kra_set *set = NULL;
    assert_ok(ssync_kra_set_new(&set, &e), e);
    assert_int_not_equal(ssync_kra_set_add_file(set, path, NULL, NULL, &e), SSYNC_OK);
    assert_contains(e.msg, "empty.p12");
    /* a truncated PKCS#12 */
    ssync_buf p12 = test_read("adcs-basic/kra.p12");
    snprintf(path, sizeof path, "%s/short.p12", dir);
    assert_ok(ssync_write_file_atomic(path, p12.data, p12.len / 2, 0600, &e), e);
    assert_int_equal(ssync_kra_set_add_file(set, path, "kra-Pa55word!", NULL, &e),
                     SSYNC_ERR_KRA_LOAD);
    ssync_buf_free(&p12);
    assert_int_equal(ssync_kra_set_count(set), 0);
    ssync_kra_set_free(set);
    test_rmtree(dir);
    free(dir);
}

static void several_kras_and_in_memory(void **state)
{
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_new(&set, &e), e);
    assert_ok(ssync_kra_set_add_file(set, test_data_path("adcs-basic/kra.p12"), "kra-Pa55word!",
                                     NULL, &e),
              e);
    assert_ok(
        ssync_kra_set_add_file(set, test_data_path("recovery/kra2.p12"), "legacy-Pa55", NULL, &e),
        e);
    EVP_PKEY *k2 = test_load_key("recovery/kra2.key");
    X509 *c1 = test_load_cert("adcs-basic/kra1.pem");
    X509 *c2 = test_load_cert("recovery/kra2.pem");
    assert_int_equal(ssync_kra_set_add(set, k2, c1, &e), SSYNC_ERR_KRA_NO_CERT);
    assert_ok(ssync_kra_set_add(set, k2, c2, &e), e);
    EVP_PKEY_free(k2); /* the set holds its own references */
    X509_free(c2);
    X509_free(c1);
    assert_int_equal(ssync_kra_set_count(set), 3);
    X509 *c = NULL;
    assert_int_equal(ssync_kra_set_get(set, 1, NULL, &c), 1);
    assert_non_null(c);
    assert_int_equal(ssync_kra_set_get(set, 3, NULL, &c), 0);
    ssync_kra_set_free(set);
}

static void bad_arguments(void **state)
{
    ssync_error e = {0};
    assert_int_equal(ssync_kra_set_new(NULL, &e), SSYNC_ERR_ARG);
    ssync_kra_set *set = NULL;
    assert_ok(ssync_kra_set_new(&set, &e), e);
    assert_int_equal(ssync_kra_set_add_file(NULL, "x", NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_kra_set_add_file(set, NULL, NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_kra_set_add(set, NULL, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_kra_set_count(NULL), 0);
    assert_int_equal(ssync_kra_set_get(NULL, 0, NULL, NULL), 0);
    assert_int_equal(ssync_kra_set_get(set, 0, NULL, NULL), 0);
    ssync_kra_set_free(set);
    ssync_kra_set_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pkcs12_legacy_loads_provider_on_demand), /* first: clean provider state */
        cmocka_unit_test(pkcs12_modern),
        cmocka_unit_test(pkcs12_wrong_password),
        cmocka_unit_test(pkcs12_without_key),
        cmocka_unit_test(pkcs12_empty_password),
        cmocka_unit_test(pem_files),
        cmocka_unit_test(pem_errors),
        cmocka_unit_test(files_missing_or_wrong),
        cmocka_unit_test(several_kras_and_in_memory),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
