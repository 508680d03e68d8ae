#include "testutil.h"

#include "connector/connector.h"
#include "common/encode.h"
#include "pfx/pfx.h"
#include "record/record.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    ssync_certinfo info;
    char password[SSYNC_PASSWORD_LEN + 1];
    ssync_buf pfx, ct;
    EVP_PKEY *user_key, *connector_priv;
    X509 *cert;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ssync_error e = {0};
    f->cert = test_load_cert("adcs-basic/user.pem");
    f->user_key = test_load_key("adcs-basic/user.key");
    f->connector_priv = test_load_key("adcs-basic/connector.key");
    EVP_PKEY *pub = NULL;
    if (ssync_certinfo_get(f->cert, &f->info, &e) != SSYNC_OK ||
        ssync_password_generate(f->password, SSYNC_PASSWORD_LEN, &e) != SSYNC_OK ||
        ssync_pfx_build(f->user_key, f->cert, NULL, f->password, &f->pfx, &e) != SSYNC_OK ||
        ssync_connector_load(test_data_path("adcs-basic/connector-public.rsa1blob"), &pub, &e) !=
            SSYNC_OK ||
        ssync_connector_encrypt(pub, SSYNC_PAD_DEFAULT, (const unsigned char *)f->password,
                                strlen(f->password), &f->ct, &e) != SSYNC_OK)
        fail_msg("fixture: %s", e.msg);
    EVP_PKEY_free(pub);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ssync_certinfo_clear(&f->info);
    ssync_buf_free(&f->pfx);
    ssync_buf_free(&f->ct);
    EVP_PKEY_free(f->user_key);
    EVP_PKEY_free(f->connector_priv);
    X509_free(f->cert);
    free(f);
    return 0;
}

static ssync_buf b64(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    assert_null(strpbrk(s, "\r\n -_"));
    ssync_buf out = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_base64_decode(s, strlen(s), &out, &e), SSYNC_OK);
    return out;
}

static void record_is_the_exact_graph_body(void **state)
{
    fixture *f = *state;
    json_t *r = NULL;
    ssync_error e = {0};
    ssync_record_opts o = {NULL, NULL, SSYNC_PAD_OAEP_SHA512};
    ssync_purpose p = ssync_purpose_from_cert(&f->info, SSYNC_PURPOSE_SMIME_ENCRYPTION);
    assert_int_equal(p, SSYNC_PURPOSE_SMIME_ENCRYPTION);
    assert_int_equal(
        ssync_record_build(&f->info, ssync_certinfo_user(&f->info), p, &f->pfx, &f->ct, &o, &r, &e),
        SSYNC_OK);
    static const char *const keys[] = {
        "thumbprint",         "intendedPurpose",      "userPrincipalName", "startDateTime",
        "expirationDateTime", "providerName",         "keyName",           "paddingScheme",
        "encryptedPfxBlob",   "encryptedPfxPassword",
    };
    assert_int_equal(json_object_size(r), 10);
    /* in this order, too (jansson keeps insertion order) */
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(r, key, v)
    {
        assert_string_equal(key, keys[i++]);
        assert_true(json_is_string(v));
    }
    assert_string_equal(json_string_value(json_object_get(r, "thumbprint")),
                        "a1570b56e8553d50c55073607fcf9c3ccc534111");
    assert_string_equal(json_string_value(json_object_get(r, "intendedPurpose")),
                        "smimeEncryption");
    assert_string_equal(json_string_value(json_object_get(r, "userPrincipalName")),
                        "alice.adams@lab.example");
    assert_string_equal(json_string_value(json_object_get(r, "startDateTime")),
                        "2026-11-25T12:01:07Z");
    assert_string_equal(json_string_value(json_object_get(r, "expirationDateTime")),
                        "2028-11-24T12:01:07Z");
    assert_string_equal(json_string_value(json_object_get(r, "providerName")),
                        "Microsoft Software Key Storage Provider");
    assert_string_equal(json_string_value(json_object_get(r, "keyName")), "PFXEncryptionKey");
    assert_string_equal(json_string_value(json_object_get(r, "paddingScheme")), "oaepSha512");

    /* the blob is the PKCS#12 unchanged; the password decrypts with the connector key and opens it
     */
    ssync_buf blob = b64(r, "encryptedPfxBlob");
    assert_int_equal(blob.len, f->pfx.len);
    assert_memory_equal(blob.data, f->pfx.data, blob.len);
    ssync_buf ct = b64(r, "encryptedPfxPassword");
    assert_int_equal(ct.len, 256);
    assert_int_equal(strlen(json_string_value(json_object_get(r, "encryptedPfxPassword"))), 344);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, f->connector_priv, NULL);
    unsigned char pw[257];
    size_t pwlen = sizeof pw - 1;
    assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA512", NULL), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA512", NULL), 1);
    assert_int_equal(EVP_PKEY_decrypt(ctx, pw, &pwlen, ct.data, ct.len), 1);
    EVP_PKEY_CTX_free(ctx);
    pw[pwlen] = '\0';
    assert_string_equal((char *)pw, f->password);
    const unsigned char *der = blob.data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &der, (long)blob.len);
    EVP_PKEY *k = NULL;
    X509 *c = NULL;
    assert_int_equal(PKCS12_parse(p12, (char *)pw, &k, &c, NULL), 1);
    assert_int_equal(EVP_PKEY_eq(k, f->user_key), 1);
    EVP_PKEY_free(k);
    X509_free(c);
    PKCS12_free(p12);
    ssync_buf_free(&blob);
    ssync_buf_free(&ct);

    /* serialised, the body has no line breaks inside the base64 values */
    char *text = json_dumps(r, JSON_COMPACT);
    assert_null(strchr(text, '\n'));
    free(text);
    json_decref(r);
}

static void options_override_the_defaults(void **state)
{
    fixture *f = *state;
    json_t *r = NULL;
    ssync_record_opts o = {"Contoso HSM KSP", "IntunePfx2025", SSYNC_PAD_OAEP_SHA256};
    assert_int_equal(ssync_record_build(&f->info, "Alice.Adams@LAB.example",
                                        SSYNC_PURPOSE_UNASSIGNED, &f->pfx, &f->ct, &o, &r, NULL),
                     SSYNC_OK);
    assert_string_equal(json_string_value(json_object_get(r, "providerName")), "Contoso HSM KSP");
    assert_string_equal(json_string_value(json_object_get(r, "keyName")), "IntunePfx2025");
    assert_string_equal(json_string_value(json_object_get(r, "paddingScheme")), "oaepSha256");
    assert_string_equal(json_string_value(json_object_get(r, "intendedPurpose")), "unassigned");
    assert_string_equal(json_string_value(json_object_get(r, "userPrincipalName")),
                        "Alice.Adams@LAB.example");
    json_decref(r);
    /* NULL opts: defaults, oaepSha512 */
    assert_int_equal(ssync_record_build(&f->info, "a@b", SSYNC_PURPOSE_SMIME_SIGNING, &f->pfx,
                                        &f->ct, NULL, &r, NULL),
                     SSYNC_OK);
    assert_string_equal(json_string_value(json_object_get(r, "paddingScheme")), "oaepSha512");
    assert_string_equal(json_string_value(json_object_get(r, "intendedPurpose")), "smimeSigning");
    json_decref(r);
}

static void expect_refused(fixture *f, const ssync_certinfo *info, const char *upn, ssync_purpose p,
                           const ssync_buf *pfx, const ssync_buf *ct, const ssync_record_opts *o,
                           ssync_code want, const char *needle)
{
    json_t *r = (json_t *)1;
    ssync_error e = {0};
    ssync_code rc = ssync_record_build(info, upn, p, pfx, ct, o, &r, &e);
    if (rc != want)
        fail_msg("got %s (%s), want %s", ssync_code_name(rc), e.msg, ssync_code_name(want));
    assert_null(r);
    if (needle && !strstr(e.msg, needle))
        fail_msg("message '%s' lacks '%s'", e.msg, needle);
}

static void invalid_inputs_are_refused(void **state)
{
    fixture *f = *state;
    const ssync_purpose enc = SSYNC_PURPOSE_SMIME_ENCRYPTION;
    ssync_record_opts o = {NULL, NULL, SSYNC_PAD_DEFAULT};
    json_t *r = NULL;
    assert_int_equal(ssync_record_build(NULL, "a@b", enc, &f->pfx, &f->ct, &o, &r, NULL),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_record_build(&f->info, "a@b", enc, NULL, &f->ct, &o, &r, NULL),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_record_build(&f->info, "a@b", enc, &f->pfx, NULL, &o, &r, NULL),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_record_build(&f->info, "a@b", enc, &f->pfx, &f->ct, &o, NULL, NULL),
                     SSYNC_ERR_ARG);

    expect_refused(f, &f->info, NULL, enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD,
                   "userPrincipalName");
    expect_refused(f, &f->info, "", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD,
                   "userPrincipalName");
    expect_refused(f, &f->info, "alice", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, "user@domain");
    expect_refused(f, &f->info, "@lab.example", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, NULL);
    expect_refused(f, &f->info, "alice@", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, NULL);
    expect_refused(f, &f->info, "al ice@lab.example", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD,
                   NULL);
    expect_refused(f, &f->info, "a@b@c", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, NULL);
    expect_refused(f, &f->info, "\xff\xfe@lab.example", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD,
                   "UTF-8");

    expect_refused(f, &f->info, "a@b", (ssync_purpose)4, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD,
                   "intendedPurpose");
    ssync_record_opts badpad = {NULL, NULL, (ssync_padding)7};
    expect_refused(f, &f->info, "a@b", enc, &f->pfx, &f->ct, &badpad, SSYNC_ERR_PADDING, NULL);
    ssync_record_opts empty = {"", NULL, SSYNC_PAD_DEFAULT};
    expect_refused(f, &f->info, "a@b", enc, &f->pfx, &f->ct, &empty, SSYNC_ERR_RECORD,
                   "providerName");

    ssync_buf none = {NULL, 0};
    expect_refused(f, &f->info, "a@b", enc, &none, &f->ct, &o, SSYNC_ERR_RECORD, "PKCS#12");
    /* the plaintext password in place of the ciphertext must never go out */
    ssync_buf plain = {(unsigned char *)f->password, strlen(f->password)};
    expect_refused(f, &f->info, "a@b", enc, &f->pfx, &plain, &o, SSYNC_ERR_RECORD, "ciphertext");
    expect_refused(f, &f->info, "a@b", enc, &f->pfx, &none, &o, SSYNC_ERR_RECORD, "ciphertext");

    ssync_certinfo bad = f->info;
    memcpy(bad.thumbprint, "A1570B56E8553D50C55073607FCF9C3CCC534111", 41);
    expect_refused(f, &bad, "a@b", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, "thumbprint");
    bad = f->info;
    bad.thumbprint[0] = '\0';
    expect_refused(f, &bad, "a@b", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, "thumbprint");
    bad = f->info;
    bad.not_after_iso[0] = '\0';
    expect_refused(f, &bad, "a@b", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, "validity");
    bad = f->info;
    memcpy(bad.not_before_iso, "2026-11-25 12:01:07Z", 21);
    expect_refused(f, &bad, "a@b", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, "validity");
    bad = f->info;
    bad.not_after = bad.not_before - 1;
    expect_refused(f, &bad, "a@b", enc, &f->pfx, &f->ct, &o, SSYNC_ERR_RECORD, "expires");
}

static void purpose_follows_key_usage(void **state)
{
    ssync_certinfo ci = {0};
    const ssync_purpose both = SSYNC_PURPOSE_SMIME_SIGNING;
    assert_int_equal(ssync_purpose_from_cert(&ci, both), SSYNC_PURPOSE_UNASSIGNED); /* no KU */
    ci.key_usage = KU_KEY_ENCIPHERMENT; /* bits without the extension do not count */
    assert_int_equal(ssync_purpose_from_cert(&ci, both), SSYNC_PURPOSE_UNASSIGNED);
    ci.has_key_usage = 1;
    assert_int_equal(ssync_purpose_from_cert(&ci, both), SSYNC_PURPOSE_SMIME_ENCRYPTION);
    ci.key_usage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION;
    assert_int_equal(ssync_purpose_from_cert(&ci, both), SSYNC_PURPOSE_SMIME_SIGNING);
    ci.key_usage = KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT;
    assert_int_equal(ssync_purpose_from_cert(&ci, SSYNC_PURPOSE_SMIME_SIGNING),
                     SSYNC_PURPOSE_SMIME_SIGNING);
    assert_int_equal(ssync_purpose_from_cert(&ci, SSYNC_PURPOSE_SMIME_ENCRYPTION),
                     SSYNC_PURPOSE_SMIME_ENCRYPTION);
    assert_int_equal(ssync_purpose_from_cert(&ci, SSYNC_PURPOSE_UNASSIGNED),
                     SSYNC_PURPOSE_UNASSIGNED);
    ci.key_usage = KU_KEY_AGREEMENT;
    assert_int_equal(ssync_purpose_from_cert(&ci, both), SSYNC_PURPOSE_UNASSIGNED);
    ci.key_usage = 0;
    assert_int_equal(ssync_purpose_from_cert(&ci, both), SSYNC_PURPOSE_UNASSIGNED);
    assert_int_equal(ssync_purpose_from_cert(NULL, both), SSYNC_PURPOSE_UNASSIGNED);
}

static void purpose_names(void **state)
{
    ssync_purpose p;
    ssync_error e = {0};
    const char *names[] = {"unassigned", "smimeEncryption", "smimeSigning"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ssync_purpose_parse(names[i], &p, &e), SSYNC_OK);
        assert_int_equal(p, i);
        assert_string_equal(ssync_purpose_name(p), names[i]);
    }
    assert_int_equal(ssync_purpose_parse("vpn", &p, &e), SSYNC_ERR_RECORD);
    assert_non_null(strstr(e.msg, "vpn"));
    assert_int_equal(ssync_purpose_parse("SmimeEncryption", &p, &e), SSYNC_ERR_RECORD);
    assert_int_equal(ssync_purpose_parse("", &p, &e), SSYNC_ERR_RECORD);
    assert_int_equal(ssync_purpose_parse(NULL, &p, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_purpose_parse("unassigned", NULL, &e), SSYNC_ERR_ARG);
    assert_null(ssync_purpose_name((ssync_purpose)3));
    assert_null(ssync_purpose_name((ssync_purpose)-1));
}

static void thumbprint_validity(void **state)
{
    assert_true(ssync_thumbprint_valid("a1570b56e8553d50c55073607fcf9c3ccc534111"));
    assert_true(ssync_thumbprint_valid("0000000000000000000000000000000000000000"));
    assert_false(ssync_thumbprint_valid("A1570B56E8553D50C55073607FCF9C3CCC534111"));
    assert_false(ssync_thumbprint_valid("a1570b56e8553d50c55073607fcf9c3ccc53411"));
    assert_false(ssync_thumbprint_valid("a1570b56e8553d50c55073607fcf9c3ccc5341111"));
    assert_false(ssync_thumbprint_valid("g1570b56e8553d50c55073607fcf9c3ccc534111"));
    assert_false(ssync_thumbprint_valid("a1:57:0b:56:e8:55:3d:50:c5:50:73:60:7f:cf"));
    assert_false(ssync_thumbprint_valid(""));
    assert_false(ssync_thumbprint_valid(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(record_is_the_exact_graph_body, setup, teardown),
        cmocka_unit_test_setup_teardown(options_override_the_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_inputs_are_refused, setup, teardown),
        cmocka_unit_test(purpose_follows_key_usage),
        cmocka_unit_test(purpose_names),
        cmocka_unit_test(thumbprint_validity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
