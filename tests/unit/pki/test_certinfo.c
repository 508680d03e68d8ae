#include "testutil.h"

#include "pki/certinfo.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* expected.txt line "key=value" -> value (static buffer) */
static const char *expected(const char *key)
{
    static char val[256];
    ssync_buf b = test_read("adcs-basic/expected.txt");
    size_t klen = strlen(key);
    const char *p = (const char *)b.data;
    val[0] = '\0';
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = n - klen - 1;
            if (vlen > 0 && p[klen + 1 + vlen - 1] == '\r')
                vlen--;
            memcpy(val, p + klen + 1, vlen < 255 ? vlen : 255);
            val[vlen < 255 ? vlen : 255] = '\0';
            break;
        }
        p = eol ? eol + 1 : NULL;
    }
    ssync_buf_free(&b);
    if (!val[0])
        fail_msg("expected.txt has no %s", key);
    return val;
}

/* A self-signed test certificate with extensions given as OpenSSL config strings
 * ({name, value} pairs, NULL-terminated); "DER:" and "ASN1:" values work for any OID. */
static X509 *make_cert(EVP_PKEY *key, const char *const exts[][2])
{
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"Test User", -1, -1,
                               0);
    X509_set_issuer_name(x, n);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notBefore(x), "20240229235959Z"), 1);
    assert_int_equal(ASN1_TIME_set_string(X509_getm_notAfter(x), "20500101000000Z"), 1);
    X509_set_pubkey(x, key);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    for (size_t i = 0; exts && exts[i][0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_nconf(NULL, &ctx, exts[i][0], exts[i][1]);
        if (!e)
            fail_msg("bad test extension %s=%s", exts[i][0], exts[i][1]);
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    return x;
}

static EVP_PKEY *ec_key(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(k);
    return k;
}

static void adcs_basic_facts(void **state)
{
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_certinfo ci;
    ssync_error e = {0};
    assert_int_equal(ssync_certinfo_get(cert, &ci, &e), SSYNC_OK);
    assert_string_equal(ci.thumbprint, expected("thumbprint"));
    assert_string_equal(ci.upn, expected("upn"));
    assert_int_equal(ci.n_emails, 1);
    assert_string_equal(ci.emails[0], expected("email"));
    assert_string_equal(ci.template_oid, expected("template_oid"));
    assert_int_equal(ci.template_major, atol(expected("template_major")));
    assert_int_equal(ci.template_minor, atol(expected("template_minor")));
    assert_null(ci.template_name);
    /* expected.txt: not_before=Nov 25 12:01:07 2026 GMT, not_after=Nov 24 12:01:07 2028 GMT */
    assert_string_equal(expected("not_before"), "Nov 25 12:01:07 2026 GMT");
    assert_string_equal(ci.not_before_iso, "2026-11-25T12:01:07Z");
    assert_string_equal(ci.not_after_iso, "2028-11-24T12:01:07Z");
    assert_int_equal((long long)ci.not_before, 1795608067LL);
    assert_int_equal((long long)ci.not_after, 1858680067LL);
    assert_string_equal(ci.serial, "2E29AAA3690D9087745552FD7924C75F0800E744");
    assert_string_equal(ci.subject, "CN=Alice Adams,OU=Users,DC=lab,DC=example");
    assert_string_equal(ci.issuer, "CN=Lab Vector Issuing CA,DC=lab,DC=example");
    assert_true(ci.has_key_usage);
    assert_int_equal(ci.key_usage, KU_KEY_ENCIPHERMENT);
    assert_int_equal(ci.n_eku, 1);
    assert_true(ssync_certinfo_has_eku(&ci, SSYNC_OID_EMAIL_PROTECTION));
    assert_false(ssync_certinfo_has_eku(&ci, "1.3.6.1.5.5.7.3.2"));
    assert_false(ssync_certinfo_has_eku(&ci, NULL));
    assert_false(ssync_certinfo_has_eku(NULL, SSYNC_OID_EMAIL_PROTECTION));
    assert_string_equal(ci.key_type, "RSA");
    assert_int_equal(ci.key_bits, atoi(expected("user_key_bits")));
    assert_string_equal(ssync_certinfo_user(&ci), expected("upn"));
    ssync_certinfo_clear(&ci);
    assert_null(ci.upn);
    ssync_certinfo_clear(&ci); /* twice is harmless */
    X509_free(cert);
}

static void times_do_not_depend_on_the_time_zone(void **state)
{
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    setenv("TZ", "America/St_Johns", 1);
    tzset();
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_certinfo ci;
    assert_int_equal(ssync_certinfo_get(cert, &ci, NULL), SSYNC_OK);
    assert_int_equal((long long)ci.not_before, 1795608067LL);
    assert_string_equal(ci.not_after_iso, "2028-11-24T12:01:07Z");
    ssync_certinfo_clear(&ci);
    X509_free(cert);
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    free(saved);
    tzset();
}

static void json_has_every_fact(void **state)
{
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_certinfo ci;
    assert_int_equal(ssync_certinfo_get(cert, &ci, NULL), SSYNC_OK);
    json_t *j = ssync_certinfo_to_json(&ci);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "thumbprint")), ci.thumbprint);
    assert_string_equal(json_string_value(json_object_get(j, "serialNumber")), ci.serial);
    assert_string_equal(json_string_value(json_object_get(j, "subject")), ci.subject);
    assert_string_equal(json_string_value(json_object_get(j, "issuer")), ci.issuer);
    assert_string_equal(json_string_value(json_object_get(j, "notBefore")), "2026-11-25T12:01:07Z");
    assert_string_equal(json_string_value(json_object_get(j, "notAfter")), "2028-11-24T12:01:07Z");
    json_t *ku = json_object_get(j, "keyUsage");
    assert_int_equal(json_array_size(ku), 1);
    assert_string_equal(json_string_value(json_array_get(ku, 0)), "keyEncipherment");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(j, "extendedKeyUsage"), 0)),
        SSYNC_OID_EMAIL_PROTECTION);
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "emails"), 0)),
                        "alice.adams@lab.example");
    assert_string_equal(json_string_value(json_object_get(j, "userPrincipalName")),
                        "alice.adams@lab.example");
    json_t *t = json_object_get(j, "template");
    assert_string_equal(json_string_value(json_object_get(t, "oid")), ci.template_oid);
    assert_int_equal(json_integer_value(json_object_get(t, "major")), 100);
    assert_int_equal(json_integer_value(json_object_get(t, "minor")), 1);
    assert_true(json_is_null(json_object_get(t, "name")));
    assert_string_equal(json_string_value(json_object_get(j, "keyType")), "RSA");
    assert_int_equal(json_integer_value(json_object_get(j, "keyBits")), 2048);
    assert_int_equal(json_object_size(j), 13);
    json_decref(j);
    assert_null(ssync_certinfo_to_json(NULL));
    ssync_certinfo_clear(&ci);
    X509_free(cert);
}

static void v1_template_emails_and_no_upn(void **state)
{
    EVP_PKEY *k = ec_key();
    const char *const exts[][2] = {
        {"keyUsage", "critical, digitalSignature, keyEncipherment"},
        {"subjectAltName", "email:first@lab.example, DNS:host.example, email:second@lab.example"},
        /* v1 template name: a BMPString, here with a non-ASCII character */
        {SSYNC_OID_TEMPLATE_V1, "ASN1:FORMAT:UTF8,BMPSTRING:Benutzer-\xc3\x9c"},
        /* v2 template without the optional minor version: SEQUENCE { OID 1.2.3.4, INTEGER 5 } */
        {SSYNC_OID_TEMPLATE_V2, "DER:30:08:06:03:2A:03:04:02:01:05"},
        {NULL, NULL},
    };
    X509 *x = make_cert(k, exts);
    ssync_certinfo ci;
    ssync_error e = {0};
    assert_int_equal(ssync_certinfo_get(x, &ci, &e), SSYNC_OK);
    assert_string_equal(ci.template_name, "Benutzer-\xc3\x9c");
    assert_string_equal(ci.template_oid, "1.2.3.4");
    assert_int_equal(ci.template_major, 5);
    assert_int_equal(ci.template_minor, -1);
    assert_int_equal(ci.n_emails, 2);
    assert_string_equal(ci.emails[0], "first@lab.example");
    assert_string_equal(ci.emails[1], "second@lab.example");
    assert_null(ci.upn);
    assert_string_equal(ssync_certinfo_user(&ci), "first@lab.example");
    assert_int_equal(ci.key_usage, KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_int_equal(ci.n_eku, 0);
    assert_string_equal(ci.key_type, "EC");
    assert_int_equal(ci.key_bits, 256);
    assert_string_equal(ci.not_before_iso, "2024-02-29T23:59:59Z");
    assert_int_equal((long long)ci.not_before, 1709251199LL);
    assert_string_equal(ci.not_after_iso, "2050-01-01T00:00:00Z");
    assert_int_equal((long long)ci.not_after, 2524608000LL);
    json_t *j = ssync_certinfo_to_json(&ci);
    json_t *t = json_object_get(j, "template");
    assert_true(json_is_null(json_object_get(t, "minor")));
    assert_string_equal(json_string_value(json_object_get(t, "name")), "Benutzer-\xc3\x9c");
    assert_true(json_is_null(json_object_get(j, "userPrincipalName")));
    assert_int_equal(json_array_size(json_object_get(j, "keyUsage")), 2);
    json_decref(j);
    ssync_certinfo_clear(&ci);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void bare_certificate_names_no_user(void **state)
{
    EVP_PKEY *k = ec_key();
    X509 *x = make_cert(k, NULL);
    ssync_certinfo ci;
    assert_int_equal(ssync_certinfo_get(x, &ci, NULL), SSYNC_OK);
    assert_false(ci.has_key_usage);
    assert_null(ssync_certinfo_user(&ci));
    assert_null(ssync_certinfo_user(NULL));
    assert_null(ci.template_oid);
    assert_int_equal(ci.template_major, -1);
    assert_string_equal(ci.serial, "1234");
    assert_string_equal(ci.subject, "CN=Test User");
    json_t *j = ssync_certinfo_to_json(&ci);
    assert_true(json_is_null(json_object_get(j, "template")));
    assert_int_equal(json_array_size(json_object_get(j, "keyUsage")), 0);
    json_decref(j);
    ssync_certinfo_clear(&ci);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void expect_parse_error(const char *const exts[][2], const char *needle)
{
    EVP_PKEY *k = ec_key();
    X509 *x = make_cert(k, exts);
    ssync_certinfo ci;
    ssync_error e = {0};
    assert_int_equal(ssync_certinfo_get(x, &ci, &e), SSYNC_ERR_CERT_PARSE);
    if (!strstr(e.msg, needle))
        fail_msg("message '%s' lacks '%s'", e.msg, needle);
    /* the struct is left empty */
    assert_null(ci.serial);
    assert_null(ci.emails);
    assert_int_equal(ERR_peek_error(), 0);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void malformed_extensions_are_refused(void **state)
{
    /* template v2 without its OID */
    const char *const no_oid[][2] = {{SSYNC_OID_TEMPLATE_V2, "DER:30:03:02:01:05"}, {NULL, NULL}};
    expect_parse_error(no_oid, SSYNC_OID_TEMPLATE_V2);
    /* template v2 with trailing bytes after the SEQUENCE */
    const char *const trailing[][2] = {
        {SSYNC_OID_TEMPLATE_V2, "DER:30:08:06:03:2A:03:04:02:01:05:00"}, {NULL, NULL}};
    expect_parse_error(trailing, SSYNC_OID_TEMPLATE_V2);
    /* negative major version */
    const char *const negative[][2] = {{SSYNC_OID_TEMPLATE_V2, "DER:30:08:06:03:2A:03:04:02:01:FF"},
                                       {NULL, NULL}};
    expect_parse_error(negative, "version");
    /* template v1 that is not a string */
    const char *const v1_int[][2] = {{SSYNC_OID_TEMPLATE_V1, "ASN1:INTEGER:7"}, {NULL, NULL}};
    expect_parse_error(v1_int, SSYNC_OID_TEMPLATE_V1);
    /* the same template extension twice */
    const char *const twice[][2] = {{SSYNC_OID_TEMPLATE_V1, "ASN1:BMPSTRING:User"},
                                    {SSYNC_OID_TEMPLATE_V1, "ASN1:BMPSTRING:User"},
                                    {NULL, NULL}};
    expect_parse_error(twice, "more than once");
    /* a UPN that is not a UTF8String */
    const char *const upn_ia5[][2] = {
        {"subjectAltName", "otherName:1.3.6.1.4.1.311.20.2.3;IA5STRING:bob@lab.example"},
        {NULL, NULL}};
    expect_parse_error(upn_ia5, "UTF8String");
    /* keyUsage that does not decode */
    const char *const bad_ku[][2] = {{"keyUsage", "DER:04:00"}, {NULL, NULL}};
    expect_parse_error(bad_ku, "keyUsage");
    const char *const bad_san[][2] = {{"subjectAltName", "DER:02:01:00"}, {NULL, NULL}};
    expect_parse_error(bad_san, "subjectAltName");
    const char *const bad_eku[][2] = {{"extendedKeyUsage", "DER:05:00"}, {NULL, NULL}};
    expect_parse_error(bad_eku, "extendedKeyUsage");
}

static void upn_and_email_with_nul_are_refused(void **state)
{
    EVP_PKEY *k = ec_key();
    X509 *x = make_cert(k, NULL);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *mail = ASN1_IA5STRING_new();
    ASN1_STRING_set(mail, "ceo@lab.example\0.evil.example", 29);
    GENERAL_NAME_set0_value(gn, GEN_EMAIL, mail);
    sk_GENERAL_NAME_push(gens, gn);
    assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT), 1);
    GENERAL_NAMES_free(gens);
    ssync_certinfo ci;
    ssync_error e = {0};
    assert_int_equal(ssync_certinfo_get(x, &ci, &e), SSYNC_ERR_CERT_PARSE);
    assert_non_null(strstr(e.msg, "NUL"));
    X509_free(x);
    EVP_PKEY_free(k);
}

static void upn_is_read_from_any_position(void **state)
{
    EVP_PKEY *k = ec_key();
    const char *const exts[][2] = {
        {"subjectAltName", "email:m@lab.example, otherName:1.2.3.4;UTF8:not-a-upn, "
                           "otherName:" SSYNC_OID_UPN ";UTF8:bob@lab.example"},
        {NULL, NULL},
    };
    X509 *x = make_cert(k, exts);
    ssync_certinfo ci;
    assert_int_equal(ssync_certinfo_get(x, &ci, NULL), SSYNC_OK);
    assert_string_equal(ci.upn, "bob@lab.example");
    assert_string_equal(ssync_certinfo_user(&ci), "bob@lab.example");
    ssync_certinfo_clear(&ci);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void names_keep_utf8(void **state)
{
    EVP_PKEY *k = ec_key();
    X509 *x = make_cert(k, NULL);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Lab, Inc.", -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"J\xc3\xbcrgen", -1,
                               -1, 0);
    X509_set_subject_name(x, n);
    X509_NAME_free(n);
    ssync_certinfo ci;
    assert_int_equal(ssync_certinfo_get(x, &ci, NULL), SSYNC_OK);
    assert_string_equal(ci.subject, "CN=J\xc3\xbcrgen,O=Lab\\, Inc.");
    assert_string_equal(ci.issuer, "CN=Test User");
    json_t *j = ssync_certinfo_to_json(&ci);
    assert_non_null(j);
    json_decref(j);
    ssync_certinfo_clear(&ci);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void null_arguments(void **state)
{
    ssync_certinfo ci;
    ssync_error e = {0};
    assert_int_equal(ssync_certinfo_get(NULL, &ci, &e), SSYNC_ERR_ARG);
    assert_null(ci.serial);
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    assert_int_equal(ssync_certinfo_get(cert, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_certinfo_get(cert, &ci, NULL), SSYNC_OK); /* err may be NULL */
    ssync_certinfo_clear(&ci);
    ssync_certinfo_clear(NULL);
    X509_free(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adcs_basic_facts),
        cmocka_unit_test(times_do_not_depend_on_the_time_zone),
        cmocka_unit_test(json_has_every_fact),
        cmocka_unit_test(v1_template_emails_and_no_upn),
        cmocka_unit_test(bare_certificate_names_no_user),
        cmocka_unit_test(malformed_extensions_are_refused),
        cmocka_unit_test(upn_and_email_with_nul_are_refused),
        cmocka_unit_test(upn_is_read_from_any_position),
        cmocka_unit_test(names_keep_utf8),
        cmocka_unit_test(null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
