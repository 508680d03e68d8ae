/* Helpers shared by the recovery tests (blob, KRA, key blob, recover): the facts of
 * adcs-basic/expected.txt and the two fingerprints they are checked by. */
#ifndef SSYNC_RECOVERY_UTIL_H
#define SSYNC_RECOVERY_UTIL_H

#include "testutil.h"

#include "common/encode.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

/* The value of "name=" in adcs-basic/expected.txt (static buffer). */
static inline const char *expected_fact(const char *name)
{
    static char value[256];
    ssync_buf b = test_read("adcs-basic/expected.txt");
    size_t n = strlen(name);
    const char *line = (const char *)b.data;
    value[0] = '\0';
    while (line && *line) {
        if (strncmp(line, name, n) == 0 && line[n] == '=') {
            const char *v = line + n + 1;
            size_t l = strcspn(v, "\r\n");
            if (l >= sizeof value)
                l = sizeof value - 1;
            memcpy(value, v, l);
            value[l] = '\0';
            break;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    ssync_buf_free(&b);
    if (!value[0])
        fail_msg("expected.txt has no %s", name);
    return value;
}

/* SHA-256 of "Modulus=<UPPERHEX>\n", the line `openssl rsa -modulus` prints. */
static inline void modulus_sha256(EVP_PKEY *key, char out[65])
{
    BIGNUM *n = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
    char *hex = BN_bn2hex(n);
    char line[2200];
    int len = snprintf(line, sizeof line, "Modulus=%s\n", hex);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)line, (size_t)len, md);
    ssync_hex_lower(md, sizeof md, out);
    OPENSSL_free(hex);
    BN_free(n);
}

static inline void cert_sha1(X509 *cert, char out[41])
{
    unsigned char md[20];
    unsigned int n = 0;
    assert_int_equal(X509_digest(cert, EVP_sha1(), md, &n), 1);
    ssync_hex_lower(md, n, out);
}

static inline void assert_is_user_key(EVP_PKEY *key)
{
    char h[65];
    modulus_sha256(key, h);
    assert_string_equal(h, expected_fact("user_modulus_sha256"));
}

static inline void assert_is_user_cert(X509 *cert)
{
    char h[41];
    cert_sha1(cert, h);
    assert_string_equal(h, expected_fact("thumbprint"));
}

/* Fails the test with the library's message when rc is not SSYNC_OK. */
#define assert_ok(rc, e)                                                                           \
    do {                                                                                           \
        ssync_code rc_ = (rc);                                                                     \
        if (rc_ != SSYNC_OK)                                                                       \
            fail_msg("%s: %s", ssync_code_name(rc_), (e).msg);                                     \
    } while (0)

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (!strstr((hay), (needle)))                                                              \
            fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));                           \
    } while (0)

#endif
