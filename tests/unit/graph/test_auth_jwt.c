/* Client assertion JWT, token form and token response (src/lib/auth.c), GUIDs (uuid.c). */
#include "testutil.h"

#include "common/encode.h"
#include "graph/auth.h"
#include "common/uuid.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rsa.h>
#include <string.h>

#define AUD                                                                                        \
    "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token"
#define CLIENT "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

typedef struct parts {
    json_t *header, *claims;
    ssync_buf sig;
    char *signing_input;
} parts;

static parts split(const char *jwt)
{
    parts p = {0};
    const char *d1 = strchr(jwt, '.');
    assert_non_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    assert_non_null(d2);
    assert_null(strchr(d2 + 1, '.'));
    assert_null(strchr(jwt, '=')); /* base64url without padding */
    assert_null(strchr(jwt, '+'));
    assert_null(strchr(jwt, '/'));
    ssync_buf h = {0}, c = {0};
    ssync_error e;
    assert_int_equal(ssync_base64url_decode(jwt, (size_t)(d1 - jwt), &h, &e), SSYNC_OK);
    assert_int_equal(ssync_base64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &c, &e), SSYNC_OK);
    assert_int_equal(ssync_base64url_decode(d2 + 1, strlen(d2 + 1), &p.sig, &e), SSYNC_OK);
    p.header = json_loadb((const char *)h.data, h.len, 0, NULL);
    p.claims = json_loadb((const char *)c.data, c.len, 0, NULL);
    assert_non_null(p.header);
    assert_non_null(p.claims);
    p.signing_input = strndup(jwt, (size_t)(d2 - jwt));
    ssync_buf_free(&h);
    ssync_buf_free(&c);
    return p;
}

static void parts_free(parts *p)
{
    json_decref(p->header);
    json_decref(p->claims);
    ssync_buf_free(&p->sig);
    free(p->signing_input);
}

static int verify(EVP_PKEY *pub, const parts *p, int pss)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pub, NULL) == 1;
    if (ok && pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1;
    ok =
        ok && EVP_DigestVerify(md, p->sig.data, p->sig.len, (const unsigned char *)p->signing_input,
                               strlen(p->signing_input)) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static char *expected_x5t(X509 *cert, const EVP_MD *md)
{
    unsigned char buf[64];
    unsigned int n = 0;
    assert_int_equal(X509_digest(cert, md, buf, &n), 1);
    return ssync_base64url_encode(buf, n);
}

static void check_claims(const parts *p, time_t now, const char *jti)
{
    assert_string_equal(json_string_value(json_object_get(p->claims, "aud")), AUD);
    assert_string_equal(json_string_value(json_object_get(p->claims, "iss")), CLIENT);
    assert_string_equal(json_string_value(json_object_get(p->claims, "sub")), CLIENT);
    const char *j = json_string_value(json_object_get(p->claims, "jti"));
    assert_non_null(j);
    if (jti)
        assert_string_equal(j, jti);
    else
        assert_true(ssync_uuid_valid(j));
    assert_int_equal(json_integer_value(json_object_get(p->claims, "nbf")), now);
    assert_int_equal(json_integer_value(json_object_get(p->claims, "iat")), now);
    assert_int_equal(json_integer_value(json_object_get(p->claims, "exp")), now + 300);
    assert_int_equal(json_object_size(p->claims), 7);
}

static void rs256_with_x5t(void **state)
{
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    time_t now = 1700000000;
    ssync_assertion_params ap = {.cert = cert,
                                 .key = key,
                                 .alg = SSYNC_ASSERTION_RS256,
                                 .audience = AUD,
                                 .client_id = CLIENT,
                                 .now = now};
    char *jwt = NULL;
    ssync_error e;
    assert_int_equal(ssync_jwt_assertion(&ap, &jwt, &e), SSYNC_OK);
    parts p = split(jwt);
    assert_string_equal(json_string_value(json_object_get(p.header, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(p.header, "typ")), "JWT");
    char *x5t = expected_x5t(cert, EVP_sha1());
    assert_int_equal(strlen(x5t), 27); /* 20 bytes */
    assert_string_equal(json_string_value(json_object_get(p.header, "x5t")), x5t);
    assert_null(json_object_get(p.header, "x5t#S256"));
    check_claims(&p, now, NULL);
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    assert_true(verify(pub, &p, 0));
    assert_false(verify(pub, &p, 1));
    /* tampering breaks it */
    p.signing_input[5] ^= 1;
    assert_false(verify(pub, &p, 0));
    /* fresh jti each time */
    char *jwt2 = NULL;
    assert_int_equal(ssync_jwt_assertion(&ap, &jwt2, &e), SSYNC_OK);
    parts q = split(jwt2);
    assert_string_not_equal(json_string_value(json_object_get(p.claims, "jti")),
                            json_string_value(json_object_get(q.claims, "jti")));
    parts_free(&p);
    parts_free(&q);
    free(x5t);
    free(jwt);
    free(jwt2);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void ps256_with_x5t_s256(void **state)
{
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    time_t now = 1700000123;
    ssync_assertion_params ap = {.cert = cert,
                                 .key = key,
                                 .alg = SSYNC_ASSERTION_PS256,
                                 .audience = AUD,
                                 .client_id = CLIENT,
                                 .jti = "fixed-jti",
                                 .now = now};
    char *jwt = NULL;
    ssync_error e;
    assert_int_equal(ssync_jwt_assertion(&ap, &jwt, &e), SSYNC_OK);
    parts p = split(jwt);
    assert_string_equal(json_string_value(json_object_get(p.header, "alg")), "PS256");
    char *x5t = expected_x5t(cert, EVP_sha256());
    assert_int_equal(strlen(x5t), 43); /* 32 bytes */
    assert_string_equal(json_string_value(json_object_get(p.header, "x5t#S256")), x5t);
    assert_null(json_object_get(p.header, "x5t"));
    check_claims(&p, now, "fixed-jti");
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    assert_true(verify(pub, &p, 1));
    assert_false(verify(pub, &p, 0));
    parts_free(&p);
    free(x5t);
    free(jwt);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void assertion_bad_args(void **state)
{
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    char *jwt = NULL;
    ssync_error e;
    ssync_assertion_params ap = {.cert = cert, .audience = AUD, .client_id = CLIENT};
    assert_int_equal(ssync_jwt_assertion(&ap, &jwt, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_jwt_assertion(NULL, &jwt, &e), SSYNC_ERR_ARG);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ap.key = ec;
    assert_int_equal(ssync_jwt_assertion(&ap, &jwt, &e), SSYNC_ERR_AUTH);
    assert_null(jwt);
    EVP_PKEY_free(ec);
    X509_free(cert);
    ssync_assertion_alg a;
    assert_int_equal(ssync_assertion_alg_parse("ps256", &a, &e), SSYNC_OK);
    assert_int_equal(a, SSYNC_ASSERTION_PS256);
    assert_int_equal(ssync_assertion_alg_parse("ES256", &a, &e), SSYNC_ERR_ARG);
}

static char *form_value(const char *form, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = form; p && *p;) {
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t len = strcspn(v, "&");
            int outlen = 0;
            char *d = curl_easy_unescape(NULL, v, (int)len, &outlen);
            char *r = strdup(d);
            curl_free(d);
            return r;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return NULL;
}

static void token_form_secret_and_cert(void **state)
{
    ssync_client_cred c = {.client_id = CLIENT, .client_secret = "s3cr&t=+ %/x"};
    char *form = NULL;
    ssync_error e;
    assert_int_equal(ssync_token_form(&c, AUD, "https://graph.microsoft.com/", 0, &form, &e),
                     SSYNC_OK);
    assert_non_null(strstr(form, "client_secret=s3cr%26t%3D%2B%20%25%2Fx"));
    char *v = form_value(form, "scope");
    assert_string_equal(v, "https://graph.microsoft.com/.default");
    free(v);
    v = form_value(form, "grant_type");
    assert_string_equal(v, "client_credentials");
    free(v);
    v = form_value(form, "client_id");
    assert_string_equal(v, CLIENT);
    free(v);
    ssync_secret_free(form);

    X509 *cert = test_load_cert("adcs-basic/user.pem");
    EVP_PKEY *key = test_load_key("adcs-basic/user.key");
    ssync_client_cred k = {.client_id = CLIENT, .cert = cert, .key = key};
    assert_int_equal(ssync_token_form(&k, AUD, "https://graph.microsoft.us", 1700000000, &form, &e),
                     SSYNC_OK);
    assert_null(strstr(form, "client_secret"));
    v = form_value(form, "client_assertion_type");
    assert_string_equal(v, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    free(v);
    v = form_value(form, "scope");
    assert_string_equal(v, "https://graph.microsoft.us/.default");
    free(v);
    v = form_value(form, "client_assertion");
    parts p = split(v);
    assert_string_equal(json_string_value(json_object_get(p.claims, "aud")), AUD);
    assert_true(verify(X509_get0_pubkey(cert), &p, 0));
    parts_free(&p);
    free(v);
    ssync_secret_free(form);
    /* both or neither */
    ssync_client_cred both = {.client_id = CLIENT, .client_secret = "x", .cert = cert, .key = key};
    assert_int_equal(ssync_token_form(&both, AUD, "https://g", 0, &form, &e), SSYNC_ERR_ARG);
    ssync_client_cred none = {.client_id = CLIENT};
    assert_int_equal(ssync_token_form(&none, AUD, "https://g", 0, &form, &e), SSYNC_ERR_ARG);
    X509_free(cert);
    EVP_PKEY_free(key);
}

static void token_parse(void **state)
{
    ssync_token t;
    ssync_error e;
    const char *ok = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,"
                     "\"access_token\":\"eyJ0eXAi.eyJhdWQi.sig-_\",\"extra\":{}}";
    assert_int_equal(ssync_token_parse(ok, strlen(ok), &t, &e), SSYNC_OK);
    assert_string_equal(t.access_token, "eyJ0eXAi.eyJhdWQi.sig-_");
    assert_true(t.expires_in == 3599);
    ssync_token_clear(&t);
    assert_null(t.access_token);
    const char *str = "{\"token_type\":\"bearer\",\"expires_in\":\"2\",\"access_token\":\"x\"}";
    assert_int_equal(ssync_token_parse(str, strlen(str), &t, &e), SSYNC_OK);
    assert_true(t.expires_in == 2);
    ssync_token_clear(&t);
    const char *bad[] = {
        "",
        "<html>",
        "{}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3599}",
        "{\"token_type\":\"MAC\",\"expires_in\":3599,\"access_token\":\"x\"}",
        "{\"expires_in\":3599,\"access_token\":\"x\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"a\\r\\nX-Evil: 1\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"a b\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":0,\"access_token\":\"x\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":1e12,\"access_token\":\"x\"}",
        "{\"token_type\":\"Bearer\",\"expires_in\":\"soon\",\"access_token\":\"x\"}",
        "{\"token_type\":\"Bearer\",\"access_token\":\"x\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ssync_token_parse(bad[i], strlen(bad[i]), &t, &e) != SSYNC_ERR_AUTH)
            fail_msg("accepted token response %zu", i);
        assert_null(t.access_token);
        assert_null(strstr(e.msg, "X-Evil"));
    }
}

static void token_refresh_margin(void **state)
{
    assert_true(ssync_token_refresh_after(3599) == 3299); /* 5 min margin */
    assert_true(ssync_token_refresh_after(600) == 540);   /* 10% of short lifetimes */
    assert_true(ssync_token_refresh_after(2) > 1.79 && ssync_token_refresh_after(2) < 1.81);
    assert_true(ssync_token_refresh_after(0) == 0);
}

static void base64url_and_uuid(void **state)
{
    const unsigned char d[] = {0xfb, 0xff, 0xfe, 0x00};
    char *s = ssync_base64url_encode(d, sizeof d);
    assert_string_equal(s, "-__-AA");
    ssync_buf b = {0};
    ssync_error e;
    assert_int_equal(ssync_base64url_decode(s, strlen(s), &b, &e), SSYNC_OK);
    assert_memory_equal(b.data, d, sizeof d);
    ssync_buf_free(&b);
    assert_int_equal(ssync_base64url_decode("+/", 2, &b, &e), SSYNC_ERR_BLOB_BASE64);
    free(s);
    char u[SSYNC_UUID_LEN + 1], v[SSYNC_UUID_LEN + 1];
    assert_int_equal(ssync_uuid4(u, &e), SSYNC_OK);
    assert_int_equal(ssync_uuid4(v, &e), SSYNC_OK);
    assert_true(ssync_uuid_valid(u));
    assert_string_not_equal(u, v);
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
    char nd[33];
    assert_true(ssync_uuid_nodash("10A1D484-CD1A-4162-A5A4-832370BAC356", nd));
    assert_string_equal(nd, "10a1d484cd1a4162a5a4832370bac356");
    assert_true(ssync_uuid_nodash("10a1d484cd1a4162a5a4832370bac356", nd));
    assert_false(ssync_uuid_nodash("10a1d484-cd1a-4162-a5a4-832370bac35", nd));
    assert_false(ssync_uuid_nodash("10a1d484cd1a4162a5a4832370bac35g", nd));
    assert_false(ssync_uuid_nodash("10a1d484-cd1a4162-a5a4-832370bac3-56", nd));
    assert_false(ssync_uuid_nodash(NULL, nd));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rs256_with_x5t),     cmocka_unit_test(ps256_with_x5t_s256),
        cmocka_unit_test(assertion_bad_args), cmocka_unit_test(token_form_secret_and_cert),
        cmocka_unit_test(token_parse),        cmocka_unit_test(token_refresh_margin),
        cmocka_unit_test(base64url_and_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
