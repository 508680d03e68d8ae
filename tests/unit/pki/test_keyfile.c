#include "testutil.h"

#include "pki/keyfile.h"

#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static void loads_pem_and_der_certificates(void **state)
{
    X509 *c = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_load_cert(test_data_path("adcs-basic/user.pem"), &c, &e), SSYNC_OK);
    unsigned char *der = NULL;
    int len = i2d_X509(c, &der);
    assert_true(len > 0);
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/user.der", dir);
    assert_int_equal(ssync_write_file_atomic(path, der, (size_t)len, 0644, &e), SSYNC_OK);
    X509 *d = NULL;
    assert_int_equal(ssync_load_cert(path, &d, &e), SSYNC_OK);
    assert_int_equal(X509_cmp(c, d), 0);
    X509_free(d);
    X509_free(c);
    OPENSSL_free(der);
    test_rmtree(dir);
    free(dir);
}

static void certificate_errors_name_the_file(void **state)
{
    X509 *c = (X509 *)1;
    ssync_error e = {0};
    assert_int_equal(ssync_load_cert(test_data_path("adcs-basic/user.key"), &c, &e),
                     SSYNC_ERR_CERT_PARSE);
    assert_null(c);
    assert_non_null(strstr(e.msg, "user.key"));
    assert_int_equal(ssync_load_cert("/nonexistent/app.pem", &c, &e), SSYNC_ERR_FILE_OPEN);
    assert_non_null(strstr(e.msg, "/nonexistent/app.pem"));
    assert_int_equal(ssync_load_cert(test_data_path("adcs-basic/user.pem"), NULL, &e),
                     SSYNC_ERR_ARG);
}

static void loads_unencrypted_keys_and_never_prompts(void **state)
{
    EVP_PKEY *k = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_load_private_key(test_data_path("adcs-basic/user.key"), &k, &e),
                     SSYNC_OK);
    X509 *c = test_load_cert("adcs-basic/user.pem");
    assert_int_equal(EVP_PKEY_eq(k, X509_get0_pubkey(c)), 1);
    X509_free(c);
    EVP_PKEY_free(k);
    /* an encrypted key is refused at once (stdin is not read for a passphrase) */
    k = (EVP_PKEY *)1;
    assert_int_equal(ssync_load_private_key(test_data_path("recovery/kra1-encrypted.key"), &k, &e),
                     SSYNC_ERR_FILE_READ);
    assert_null(k);
    assert_non_null(strstr(e.msg, "kra1-encrypted.key"));
    assert_int_equal(ssync_load_private_key(test_data_path("adcs-basic/user.pem"), &k, &e),
                     SSYNC_ERR_FILE_READ);
    assert_int_equal(ssync_load_private_key("/nonexistent/app.key", &k, &e), SSYNC_ERR_FILE_OPEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_pem_and_der_certificates),
        cmocka_unit_test(certificate_errors_name_the_file),
        cmocka_unit_test(loads_unencrypted_keys_and_never_prompts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
