/* The live Graph client against emulators with faults: 429, 5xx, giving up, dropped
 * connections, commit-then-fail, token expiry, deletes without effect. See graph_live.h. */
#include "graph_live.h"

/* ---------------------------------------------------------------- faults
 * Each runs against an emulator started with the faults named in test_graph_client.sh. */

static void create_n(live *l, size_t n, char thumbs[][41], ssync_graph_op *ops, json_t **recs)
{
    for (size_t i = 0; i < n; i++) {
        random_thumb(thumbs[i]);
        recs[i] = make_record(users[i % nusers].upn, thumbs[i]);
        memset(&ops[i], 0, sizeof ops[i]);
        ops[i].kind = SSYNC_OP_CREATE;
        ops[i].record = recs[i];
    }
    ssync_error e;
    assert_int_equal(ssync_graph_run(l->g, ops, n, NULL, NULL, &e), SSYNC_OK);
    for (size_t i = 0; i < n; i++)
        if (ops[i].result != SSYNC_OK)
            fail_msg("create %zu: %s", i, ops[i].err.msg);
}

static size_t count_all(live *l, char thumbs[][41], size_t n)
{
    ssync_pfx_list all = {0};
    ssync_error e;
    if (ssync_graph_list_pfx(l->g, &all, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    size_t c = count_in(&all, thumbs, n);
    ssync_pfx_list_free(&all);
    return c;
}

/* faults: POST 2nd = 429 (no Retry-After), POST 4th = 429-retry:1 */
static void fault_throttle_429(void **state)
{
    const char *url = scenario_or_skip("fault_throttle_429");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_in_flight = 1; /* deterministic order */
    live_new(&l);
    char thumbs[5][41];
    ssync_graph_op ops[5];
    json_t *recs[5];
    double t0 = (double)time(NULL);
    create_n(&l, 5, thumbs, ops, recs);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    fprintf(stderr, "  429: %lu throttled, %lu retries, paused %.2f s\n", st.throttled, st.retries,
            st.paused_s);
    assert_int_equal(st.throttled, 2);
    assert_true(st.paused_s >= 1.0);           /* Retry-After: 1 honoured */
    assert_true((double)time(NULL) - t0 >= 1); /* really waited */
    assert_int_equal(count_all(&l, thumbs, 5), 5);
    for (int i = 0; i < 5; i++)
        json_decref(recs[i]);
    live_free(&l);
}

/* faults: GET userPfxCertificates 1st = 500, 2nd = 503-retry:1, 3rd = 504 */
static void fault_server_errors(void **state)
{
    const char *url = scenario_or_skip("fault_server_errors");
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    ssync_pfx_list all = {0};
    ssync_error e;
    if (ssync_graph_list_pfx(l.g, &all, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.retries, 3);
    assert_int_equal(st.throttled, 2); /* 503 and 504 */
    ssync_pfx_list_free(&all);
    /* give up after max_attempts: the same faults every time */
    live_free(&l);
}

/* faults: every GET on userPfxCertificates answers 503 (3:1 onward) */
static void fault_gives_up(void **state)
{
    const char *url = scenario_or_skip("fault_gives_up");
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_attempts = 3;
    live_new(&l);
    ssync_pfx_list all = {0};
    ssync_error e;
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK); /* GETs 1-2 fine */
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK);
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_ERR_THROTTLED);
    fprintf(stderr, "  gave up: %s\n", e.msg);
    assert_non_null(strstr(e.msg, "HTTP 503"));
    assert_non_null(strstr(e.msg, "gave up after 3 attempts"));
    assert_non_null(strstr(e.msg, "client-request-id "));
    const ssync_graph_failure *f = ssync_graph_last_failure(l.g);
    assert_int_equal(f->http_status, 503);
    assert_string_equal(f->code, "ServiceUnavailable");
    assert_true(f->request_id[0] != '\0');
    ssync_pfx_list_free(&all);
    live_free(&l);
}

/* faults: POST 1st = drop, GET userPfxCertificates 1st = drop */
static void fault_dropped_connections(void **state)
{
    const char *url = scenario_or_skip("fault_dropped_connections");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_in_flight = 1;
    live_new(&l);
    char thumbs[3][41];
    ssync_graph_op ops[3];
    json_t *recs[3];
    create_n(&l, 3, thumbs, ops, recs);
    assert_int_equal(ops[0].sends, 2); /* dropped, read back (dropped, again), absent, re-POST */
    assert_int_equal(ops[0].already, 0);
    assert_int_equal(count_all(&l, thumbs, 3), 3);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.ambiguous, 1);
    for (int i = 0; i < 3; i++)
        json_decref(recs[i]);
    live_free(&l);
}

/* faults: POST 1st = commit-500, POST 2nd = commit-drop, DELETE 1st = commit-500 */
static void fault_commit_then_fail(void **state)
{
    const char *url = scenario_or_skip("fault_commit_then_fail");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_in_flight = 1;
    live_new(&l);
    char thumbs[3][41];
    ssync_graph_op ops[3];
    json_t *recs[3];
    create_n(&l, 3, thumbs, ops, recs);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ops[i].sends, 1); /* never re-POSTed */
        assert_int_equal(ops[i].already, 1);
    }
    assert_int_equal(ops[2].already, 0);
    assert_int_equal(count_all(&l, thumbs, 3), 3); /* exactly one record each */
    ssync_error e;
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e), SSYNC_OK);
    assert_int_equal(count_all(&l, thumbs, 3), 2);
    for (int i = 0; i < 3; i++)
        json_decref(recs[i]);
    live_free(&l);
}

/* faults: DELETE 1st and 2nd = noop (204, record kept: what Intune has been seen to do) */
static void fault_delete_not_effective(void **state)
{
    const char *url = scenario_or_skip("fault_delete_not_effective");
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    char thumbs[1][41];
    ssync_graph_op ops[1];
    json_t *recs[1];
    create_n(&l, 1, thumbs, ops, recs);
    ssync_error e;
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e),
                     SSYNC_ERR_DELETE_NOT_EFFECTIVE);
    assert_non_null(strstr(e.msg, thumbs[0]));
    assert_int_equal(count_all(&l, thumbs, 1), 1); /* reported, not hidden */
    /* the fault is spent: a later delete works and is verified */
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e), SSYNC_OK);
    assert_int_equal(count_all(&l, thumbs, 1), 0);
    json_decref(recs[0]);
    live_free(&l);
}

/* emulator: --token-lifetime 2; faults: GET userPfxCertificates 2nd = expire (401) */
static void fault_token_expiry(void **state)
{
    const char *url = scenario_or_skip("fault_token_expiry");
    live l;
    live_setup(&l, AUTH_RS256, url);
    live_new(&l);
    ssync_pfx_list all = {0};
    ssync_error e;
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK);
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK); /* 401 -> refresh once */
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.auth_refreshes, 1);
    assert_int_equal(st.token_requests, 2);
    sleep(3); /* the token expired for real: renewed before use, no 401 */
    assert_int_equal(ssync_graph_list_pfx(l.g, &all, &e), SSYNC_OK);
    ssync_graph_get_stats(l.g, &st);
    assert_int_equal(st.auth_refreshes, 1);
    assert_int_equal(st.token_requests, 3);
    ssync_pfx_list_free(&all);
    live_free(&l);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(fault_throttle_429),
    cmocka_unit_test(fault_server_errors),
    cmocka_unit_test(fault_gives_up),
    cmocka_unit_test(fault_dropped_connections),
    cmocka_unit_test(fault_commit_then_fail),
    cmocka_unit_test(fault_token_expiry),
    cmocka_unit_test(fault_delete_not_effective),
};

LIVE_MAIN(tests)
