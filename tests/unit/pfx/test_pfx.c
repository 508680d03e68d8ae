#include "testutil.h"

#include "pfx/pfx.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD "Zq8!x#4^vJ0~pL2@rT6&nB9*eW1%kD3$"

static void password_is_printable_and_fresh(void **state)
{
    char a[SSYNC_PASSWORD_LEN + 1], b[SSYNC_PASSWORD_LEN + 1];
    ssync_error e = {0};
    assert_int_equal(ssync_password_generate(a, SSYNC_PASSWORD_LEN, &e), SSYNC_OK);
    assert_int_equal(ssync_password_generate(b, SSYNC_PASSWORD_LEN, &e), SSYNC_OK);
    assert_int_equal(strlen(a), SSYNC_PASSWORD_LEN);
    for (size_t i = 0; i < SSYNC_PASSWORD_LEN; i++)
        assert_true(a[i] >= 0x21 && a[i] <= 0x7e);
    assert_string_not_equal(a, b);
    char c[25];
    assert_int_equal(ssync_password_generate(c, 24, &e), SSYNC_OK);
    assert_int_equal(strlen(c), 24);
}

static void password_characters_are_unbiased(void **state)
{
    /* 94 characters * 2000 draws each: a biased mapping (byte % 94 without rejection) would give
     * the first 68 characters 3/256 and the rest 2/256, i.e. ~2400 versus ~1600 */
    enum { PER = 2000, N = 94 * PER };
    char *buf = malloc(N + 1);
    assert_non_null(buf);
    assert_int_equal(ssync_password_generate(buf, N, NULL), SSYNC_ERR_ARG); /* > 4096 */
    size_t count[256] = {0};
    for (size_t done = 0; done < N; done += 4000) {
        assert_int_equal(ssync_password_generate(buf, 4000, NULL), SSYNC_OK);
        for (size_t i = 0; i < 4000; i++)
            count[(unsigned char)buf[i]]++;
    }
    for (int ch = 0; ch < 256; ch++) {
        if (ch < 0x21 || ch > 0x7e)
            assert_int_equal(count[ch], 0);
        else if (count[ch] < PER - 300 || count[ch] > PER + 300)
            fail_msg("character 0x%02x drawn %zu times (expected about %d)", ch, count[ch], PER);
    }
    free(buf);
}

static void password_bad_arguments(void **state)
{
    char p[64];
    ssync_error e = {0};
    assert_int_equal(ssync_password_generate(NULL, 32, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_password_generate(p, 23, &e), SSYNC_ERR_ARG);
    assert_non_null(strstr(e.msg, "23"));
    assert_int_equal(ssync_password_generate(p, 0, &e), SSYNC_ERR_ARG);
}

static void profile_names(void **state)
{
    ssync_pfx_profile p = SSYNC_PFX_MODERN;
    ssync_error e = {0};
    assert_int_equal(ssync_pfx_profile_parse("compat", &p, &e), SSYNC_OK);
    assert_int_equal(p, SSYNC_PFX_COMPAT);
    assert_int_equal(ssync_pfx_profile_parse("modern", &p, &e), SSYNC_OK);
    assert_int_equal(p, SSYNC_PFX_MODERN);
    assert_string_equal(ssync_pfx_profile_name(SSYNC_PFX_COMPAT), "compat");
    assert_string_equal(ssync_pfx_profile_name(SSYNC_PFX_MODERN), "modern");
    assert_string_equal(ssync_pfx_profile_name((ssync_pfx_profile)9), "unknown");
    assert_int_equal(ssync_pfx_profile_parse("legacy", &p, &e), SSYNC_ERR_PFX_PROFILE);
    assert_non_null(strstr(e.msg, "legacy"));
    assert_int_equal(ssync_pfx_profile_parse("Compat", &p, &e), SSYNC_ERR_PFX_PROFILE);
    assert_int_equal(ssync_pfx_profile_parse("", &p, &e), SSYNC_ERR_PFX_PROFILE);
    assert_int_equal(ssync_pfx_profile_parse(NULL, &p, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_pfx_profile_parse("compat", NULL, &e), SSYNC_ERR_ARG);
}

/* What one PBE AlgorithmIdentifier says: the scheme, and for PBES2 its KDF, PRF and cipher. */
typedef struct pbe_facts {
    int scheme, kdf, prf, cipher;
    long iter;
    int salt_len;
} pbe_facts;

static pbe_facts inspect_pbe(const X509_ALGOR *alg)
{
    pbe_facts f = {0};
    const ASN1_OBJECT *obj;
    int ptype;
    const void *pval;
    X509_ALGOR_get0(&obj, &ptype, &pval, alg);
    f.scheme = OBJ_obj2nid(obj);
    assert_int_equal(ptype, V_ASN1_SEQUENCE);
    if (f.scheme == NID_pbes2) {
        PBE2PARAM *p2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
        assert_non_null(p2);
        f.kdf = OBJ_obj2nid(p2->keyfunc->algorithm);
        f.cipher = OBJ_obj2nid(p2->encryption->algorithm);
        PBKDF2PARAM *kdf =
            ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), p2->keyfunc->parameter);
        assert_non_null(kdf);
        assert_int_equal(kdf->salt->type, V_ASN1_OCTET_STRING);
        f.salt_len = ASN1_STRING_length(kdf->salt->value.octet_string);
        f.iter = ASN1_INTEGER_get(kdf->iter);
        /* an absent PRF means HMAC-SHA1 (RFC 8018), which must not happen here */
        f.prf = kdf->prf ? OBJ_obj2nid(kdf->prf->algorithm) : NID_hmacWithSHA1;
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(p2);
    } else {
        PBEPARAM *pp = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
        assert_non_null(pp);
        f.salt_len = ASN1_STRING_length(pp->salt);
        f.iter = ASN1_INTEGER_get(pp->iter);
        PBEPARAM_free(pp);
    }
    return f;
}

typedef struct pfx_facts {
    int mac_nid, mac_salt_len;
    long mac_iter;
    pbe_facts key, cert;
    int n_keybags, n_encdata;
} pfx_facts;

static pfx_facts inspect(const ssync_buf *der, const char *pass)
{
    pfx_facts f = {0};
    const unsigned char *p = der->data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)der->len);
    assert_non_null(p12);
    assert_ptr_equal(p, der->data + der->len);

    const ASN1_OCTET_STRING *mac = NULL, *salt = NULL;
    const X509_ALGOR *macalg = NULL;
    const ASN1_INTEGER *iter = NULL;
    PKCS12_get0_mac(&mac, &macalg, &salt, &iter, p12);
    assert_non_null(mac);
    const ASN1_OBJECT *obj;
    X509_ALGOR_get0(&obj, NULL, NULL, macalg);
    f.mac_nid = OBJ_obj2nid(obj);
    f.mac_salt_len = ASN1_STRING_length(salt);
    f.mac_iter = iter ? ASN1_INTEGER_get(iter) : 1;
    assert_int_equal(PKCS12_verify_mac(p12, pass, -1), 1);
    assert_int_equal(PKCS12_verify_mac(p12, "wrong password", -1), 0);
    ERR_clear_error();

    STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
    assert_non_null(safes);
    for (int i = 0; i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        int type = OBJ_obj2nid(p7->type);
        if (type == NID_pkcs7_encrypted) {
            /* the certificate bag(s) */
            f.cert = inspect_pbe(p7->d.encrypted->enc_data->algorithm);
            f.n_encdata++;
        } else {
            assert_int_equal(type, NID_pkcs7_data);
            STACK_OF(PKCS12_SAFEBAG) *bags = PKCS12_unpack_p7data(p7);
            assert_non_null(bags);
            for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
                const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, j);
                assert_int_equal(PKCS12_SAFEBAG_get_nid(bag), NID_pkcs8ShroudedKeyBag);
                const X509_ALGOR *alg = NULL;
                X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
                f.key = inspect_pbe(alg);
                f.n_keybags++;
            }
            sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        }
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    PKCS12_free(p12);
    return f;
}

/* Parses der back with PKCS12_parse and checks it holds key + cert (+ n_ca CA certificates). */
static void parse_back(const ssync_buf *der, const char *pass, EVP_PKEY *key, X509 *cert,
                       const char *friendly, int n_ca)
{
    const unsigned char *p = der->data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)der->len);
    assert_non_null(p12);
    EVP_PKEY *k = NULL;
    X509 *c = NULL;
    STACK_OF(X509) *ca = NULL;
    assert_int_equal(PKCS12_parse(p12, pass, &k, &c, &ca), 1);
    assert_int_equal(EVP_PKEY_eq(k, key), 1);
    assert_int_equal(X509_cmp(c, cert), 0);
    const unsigned char *alias = X509_alias_get0(c, NULL);
    if (friendly)
        assert_string_equal((const char *)alias, friendly);
    else
        assert_null(alias);
    assert_int_equal(ca ? sk_X509_num(ca) : 0, n_ca);
    EVP_PKEY_free(k);
    X509_free(c);
    sk_X509_pop_free(ca, X509_free);
    PKCS12_free(p12);
}

static void compat_profile_is_3des_with_sha1_mac(void **state)
{
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_pfx_opts o = {SSYNC_PFX_COMPAT, "Alice Adams S/MIME", NULL};
    ssync_buf der = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_pfx_build(key, cert, &o, PASSWORD, &der, &e), SSYNC_OK);
    assert_true(der.len > 1000);

    pfx_facts f = inspect(&der, PASSWORD);
    assert_int_equal(f.mac_nid, NID_sha1);
    assert_int_equal(f.mac_salt_len, 8);
    assert_int_equal(f.mac_iter, 2048);
    assert_int_equal(f.n_keybags, 1);
    assert_int_equal(f.n_encdata, 1);
    assert_int_equal(f.key.scheme, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
    assert_int_equal(f.key.salt_len, 8);
    assert_int_equal(f.key.iter, 2048);
    assert_int_equal(f.cert.scheme, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
    assert_int_equal(f.cert.salt_len, 8);
    assert_int_equal(f.cert.iter, 2048);

    parse_back(&der, PASSWORD, key, cert, "Alice Adams S/MIME", 0);
    /* only the default provider was needed */
    assert_int_equal(OSSL_PROVIDER_available(NULL, "legacy"), 0);
    ssync_buf_free(&der);

    /* NULL opts means compat, leaf only, no friendly name */
    assert_int_equal(ssync_pfx_build(key, cert, NULL, PASSWORD, &der, &e), SSYNC_OK);
    f = inspect(&der, PASSWORD);
    assert_int_equal(f.mac_nid, NID_sha1);
    assert_int_equal(f.key.scheme, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
    parse_back(&der, PASSWORD, key, cert, NULL, 0);
    ssync_buf_free(&der);
    EVP_PKEY_free(key);
    X509_free(cert);
}

static void modern_profile_is_pbes2_aes256_with_sha256_mac(void **state)
{
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_pfx_opts o = {SSYNC_PFX_MODERN, "alice", NULL};
    ssync_buf der = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_pfx_build(key, cert, &o, PASSWORD, &der, &e), SSYNC_OK);
    pfx_facts f = inspect(&der, PASSWORD);
    assert_int_equal(f.mac_nid, NID_sha256);
    assert_int_equal(f.mac_salt_len, 8);
    assert_int_equal(f.mac_iter, 2048);
    const pbe_facts *bags[] = {&f.key, &f.cert};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(bags[i]->scheme, NID_pbes2);
        assert_int_equal(bags[i]->kdf, NID_id_pbkdf2);
        assert_int_equal(bags[i]->prf, NID_hmacWithSHA256);
        assert_int_equal(bags[i]->cipher, NID_aes_256_cbc);
        assert_int_equal(bags[i]->salt_len, 8);
        assert_int_equal(bags[i]->iter, 2048);
    }
    parse_back(&der, PASSWORD, key, cert, "alice", 0);
    assert_int_equal(OSSL_PROVIDER_available(NULL, "legacy"), 0);
    ssync_buf_free(&der);
    EVP_PKEY_free(key);
    X509_free(cert);
}

static void chain_is_included_on_request(void **state)
{
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    STACK_OF(X509) *chain = sk_X509_new_null();
    sk_X509_push(chain, test_load_cert("adcs-basic/ca.pem"));
    /* friendly names are UTF-8 */
    ssync_pfx_opts o = {SSYNC_PFX_COMPAT, "J\xc3\xbcrgen M\xc3\xbcller", chain};
    ssync_buf der = {0};
    assert_int_equal(ssync_pfx_build(key, cert, &o, PASSWORD, &der, NULL), SSYNC_OK);
    parse_back(&der, PASSWORD, key, cert, "J\xc3\xbcrgen M\xc3\xbcller", 1);
    ssync_buf_free(&der);
    ssync_error e = {0};
    o.friendly_name = "bad \xff utf-8";
    assert_int_equal(ssync_pfx_build(key, cert, &o, PASSWORD, &der, &e), SSYNC_ERR_PFX_BUILD);
    assert_null(der.data);
    assert_int_equal(ERR_peek_error(), 0);
    sk_X509_pop_free(chain, X509_free);
    EVP_PKEY_free(key);
    X509_free(cert);
}

static void key_must_match_certificate(void **state)
{
    EVP_PKEY *other = test_load_key("adcs-basic/connector.key");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_buf der = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_pfx_build(other, cert, NULL, PASSWORD, &der, &e),
                     SSYNC_ERR_KEY_MISMATCH);
    assert_null(der.data);
    assert_int_equal(ssync_pfx_build(ec, cert, NULL, PASSWORD, &der, &e), SSYNC_ERR_KEY_MISMATCH);
    assert_int_equal(e.code, SSYNC_ERR_KEY_MISMATCH);
    assert_int_equal(ERR_peek_error(), 0);
    EVP_PKEY_free(other);
    EVP_PKEY_free(ec);
    X509_free(cert);
}

static void bad_arguments(void **state)
{
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_buf der = {(unsigned char *)"x", 1};
    ssync_error e = {0};
    assert_int_equal(ssync_pfx_build(NULL, cert, NULL, PASSWORD, &der, &e), SSYNC_ERR_ARG);
    assert_null(der.data); /* reset on entry */
    assert_int_equal(ssync_pfx_build(key, NULL, NULL, PASSWORD, &der, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_pfx_build(key, cert, NULL, NULL, &der, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_pfx_build(key, cert, NULL, PASSWORD, NULL, &e), SSYNC_ERR_ARG);
    /* passwords must be printable ASCII (the connector decodes them as ASCII) */
    assert_int_equal(ssync_pfx_build(key, cert, NULL, "", &der, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_pfx_build(key, cert, NULL, "p\xc3\xa4sswort-with-umlaut", &der, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_pfx_build(key, cert, NULL, "tab\there", &der, &e), SSYNC_ERR_ARG);
    ssync_pfx_opts o = {(ssync_pfx_profile)42, NULL, NULL};
    assert_int_equal(ssync_pfx_build(key, cert, &o, PASSWORD, &der, &e), SSYNC_ERR_PFX_PROFILE);
    assert_null(der.data);
    EVP_PKEY_free(key);
    X509_free(cert);
}

static void generated_password_round_trips(void **state)
{
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    char pw[SSYNC_PASSWORD_LEN + 1];
    assert_int_equal(ssync_password_generate(pw, SSYNC_PASSWORD_LEN, NULL), SSYNC_OK);
    ssync_buf der = {0};
    assert_int_equal(ssync_pfx_build(key, cert, NULL, pw, &der, NULL), SSYNC_OK);
    parse_back(&der, pw, key, cert, NULL, 0);
    ssync_buf_free(&der);
    EVP_PKEY_free(key);
    X509_free(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(password_is_printable_and_fresh),
        cmocka_unit_test(password_characters_are_unbiased),
        cmocka_unit_test(password_bad_arguments),
        cmocka_unit_test(profile_names),
        cmocka_unit_test(compat_profile_is_3des_with_sha1_mac),
        cmocka_unit_test(modern_profile_is_pbes2_aes256_with_sha256_mac),
        cmocka_unit_test(chain_is_included_on_request),
        cmocka_unit_test(key_must_match_certificate),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(generated_password_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
