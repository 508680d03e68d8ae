/* The live Graph client: tokens (secret, RS256, PS256, a wrong secret), TLS refusals and the
 * config checks. See graph_live.h. */
#include "graph_live.h"

static void auth_ok(auth_mode mode)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, mode, url);
    live_new(&l);
    ssync_error e;
    if (ssync_graph_authenticate(l.g, &e) != SSYNC_OK)
        fail_msg("authenticate: %s", e.msg);
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_OK); /* cached */
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.token_requests, 1);
    /* and Graph accepts it */
    ssync_pfx_list list = {0};
    if (ssync_graph_list_pfx(l.g, &list, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    ssync_pfx_list_free(&list);
    live_free(&l);
}

static void token_with_secret(void **state)
{
    auth_ok(AUTH_SECRET);
}

static void token_with_cert_rs256(void **state)
{
    auth_ok(AUTH_RS256);
}

static void token_with_cert_ps256(void **state)
{
    auth_ok(AUTH_PS256);
}

static void wrong_secret_is_a_clear_aadsts_error(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.client_secret = "Wr0ng-Secret-Value~";
    live_new(&l);
    ssync_error e;
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_ERR_AUTH);
    fprintf(stderr, "  wrong secret: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "invalid_client"));
    assert_non_null(strstr(e.msg, "AADSTS7000215"));
    assert_non_null(strstr(e.msg, "HTTP 401"));
    assert_null(strstr(e.msg, "Wr0ng-Secret-Value"));
    assert_null(strstr(e.msg, l.secret));
    const ssync_graph_failure *f = ssync_graph_last_failure(l.g);
    assert_int_equal(f->http_status, 401);
    assert_string_equal(f->code, "invalid_client");
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.token_requests, 1); /* 401 is not retried */
    /* a run stops at once with the same error, every op carries it */
    json_t *rec = make_record(users[0].upn, "0000000000000000000000000000000000000000");
    ssync_graph_op ops[3] = {{.kind = SSYNC_OP_CREATE, .record = rec},
                             {.kind = SSYNC_OP_CREATE, .record = rec},
                             {.kind = SSYNC_OP_CREATE, .record = rec}};
    assert_int_equal(ssync_graph_run(l.g, ops, 3, NULL, NULL, &e), SSYNC_ERR_AUTH);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ops[i].result, SSYNC_ERR_AUTH);
    json_decref(rec);
    live_free(&l);
}

/* ---------------------------------------------------------------- TLS */

static void wrong_ca_is_refused(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.ca_file = lab_file("ca.pem"); /* the lab's issuing CA, not the TLS CA */
    live_new(&l);
    ssync_error e;
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_ERR_TLS);
    fprintf(stderr, "  wrong CA: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "TLS"));
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.token_requests, 1); /* not retried */
    live_free(&l);
}

static void wrong_host_name_is_refused(void **state)
{
    basic_or_skip();
    const char *url = env_or_skip("SSYNC_EMU_URL_BADNAME");
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    ssync_error e;
    assert_int_equal(ssync_graph_authenticate(l.g, &e), SSYNC_ERR_TLS);
    fprintf(stderr, "  wrong name: %s\n", e.msg);
    live_free(&l);
}

static void config_is_validated(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    ssync_graph *g = NULL;
    ssync_error e;
    ssync_graph_config c = l.cfg;
    c.graph_url = "http://127.0.0.1:1";
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    c = l.cfg;
    c.tenant_id = "a/b";
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    c = l.cfg;
    c.client_secret = NULL;
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    live k;
    live_setup(&k, AUTH_RS256, url);
    c = k.cfg;
    c.client_secret = "x"; /* both */
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    EVP_PKEY *other = EVP_RSA_gen(2048);
    c = k.cfg;
    c.client_key = other; /* does not match the certificate */
    assert_int_equal(ssync_graph_new(&c, &g, &e), SSYNC_ERR_CONFIG);
    EVP_PKEY_free(other);
    assert_null(g);
    live_free(&k);
    live_free(&l);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(token_with_secret),     cmocka_unit_test(token_with_cert_rs256),
    cmocka_unit_test(token_with_cert_ps256), cmocka_unit_test(wrong_secret_is_a_clear_aadsts_error),
    cmocka_unit_test(wrong_ca_is_refused),   cmocka_unit_test(wrong_host_name_is_refused),
    cmocka_unit_test(config_is_validated),
};

LIVE_MAIN(tests)
