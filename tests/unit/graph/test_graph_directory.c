/* The live Graph client: $batch user lookups and group members (paged transitiveMembers, 404).
 * See graph_live.h. */
#include "graph_live.h"

static void user_lookups_batched(void **state)
{
    const char *url = basic_or_skip();
    load_users();
    live l;
    live_setup(&l, AUTH_RS256, url);
    live_new(&l);
    size_t n = nusers + 2;
    ssync_user_lookup *it = calloc(n, sizeof *it);
    for (size_t i = 0; i < nusers; i++)
        it[i].key = users[i].upn;
    it[nusers].key = "nobody'o+x#y@lab.example";
    it[nusers + 1].key = "";
    ssync_error e;
    assert_int_equal(ssync_graph_lookup_users(l.g, SSYNC_USER_BY_UPN, it, n, &e), SSYNC_OK);
    for (size_t i = 0; i < nusers; i++) {
        if (it[i].result != SSYNC_OK)
            fail_msg("%s: %s", users[i].upn, it[i].err.msg);
        assert_true(strcasecmp(it[i].id, users[i].id) == 0);
        assert_int_equal(strlen(it[i].id_nodash), 32);
    }
    assert_int_equal(it[nusers].result, SSYNC_ERR_NOT_FOUND);
    assert_int_equal(it[nusers + 1].result, SSYNC_ERR_ARG);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    /* one $batch per 20 users, not one request per user */
    assert_int_equal(st.requests, (nusers + 1 + 19) / 20);
    ssync_user_lookup_clear(it, n);
    /* by mail (then proxyAddresses) */
    for (size_t i = 0; i < nusers; i++)
        it[i].key = users[i].mail;
    it[nusers].key = "not-a-mailbox@lab.example";
    assert_int_equal(ssync_graph_lookup_users(l.g, SSYNC_USER_BY_MAIL, it, nusers + 1, &e),
                     SSYNC_OK);
    for (size_t i = 0; i < nusers; i++) {
        if (!users[i].mail[0])
            continue;
        if (it[i].result != SSYNC_OK)
            fail_msg("%s: %s", users[i].mail, it[i].err.msg);
        assert_true(strcasecmp(it[i].id, users[i].id) == 0);
    }
    assert_int_equal(it[nusers].result, SSYNC_ERR_NOT_FOUND);
    ssync_user_lookup_clear(it, n);
    free(it);
    live_free(&l);
}

/* ---------------------------------------------------------------- groups */

static int cmp_str(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* The lab's answer key: the distinct UPNs marked inGroup in manifest.jsonl, sorted. */
static size_t expected_members(char ***out)
{
    ssync_buf b = {0};
    ssync_error e;
    if (ssync_read_file(lab_file("manifest.jsonl"), 64u << 20, &b, &e) != SSYNC_OK)
        fail_msg("%s", e.msg);
    char **v = calloc(MAX_USERS * 4, sizeof *v);
    size_t n = 0;
    for (char *line = strtok((char *)b.data, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(json_object_get(o, "inGroup")); /* the lab ran with --groups */
        const char *upn = json_string_value(json_object_get(o, "userPrincipalName"));
        int dup = 0;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcasecmp(v[i], upn) == 0;
        if (json_is_true(json_object_get(o, "inGroup")) && !dup)
            v[n++] = strdup(upn);
        json_decref(o);
    }
    ssync_buf_free(&b);
    qsort(v, n, sizeof *v, cmp_str);
    *out = v;
    return n;
}

static void group_members(void **state)
{
    const char *url = basic_or_skip();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    char *gid = slurp_line("group-id");
    char **want = NULL;
    size_t nwant = expected_members(&want);
    assert_true(nwant > 7); /* more than one page (the emulator runs with --page-size 7) */

    ssync_group_members m = {0};
    ssync_error e;
    ssync_graph_stats st0, st1;
    ssync_graph_get_stats(l.g, &st0);
    if (ssync_graph_group_members(l.g, gid, &m, &e) != SSYNC_OK)
        fail_msg("group members: %s", e.msg);
    ssync_graph_get_stats(l.g, &st1);
    assert_int_equal(m.count, nwant);
    qsort(m.upns, m.count, sizeof *m.upns, cmp_str);
    for (size_t i = 0; i < nwant; i++)
        assert_string_equal(m.upns[i], want[i]);
    /* nextLink followed: one GET per page of 7 */
    assert_int_equal(st1.requests - st0.requests, (nwant + 6) / 7);

    /* an unknown group: NOT_FOUND naming it, with Graph's detail; the list is untouched */
    const char *missing = "0badc0de-0000-4000-8000-000000000000";
    assert_int_equal(ssync_graph_group_members(l.g, missing, &m, &e), SSYNC_ERR_NOT_FOUND);
    if (!strstr(e.msg, "group 0badc0de-0000-4000-8000-000000000000 does not exist") ||
        !strstr(e.msg, "HTTP 404") || !strstr(e.msg, "request-id"))
        fail_msg("404 message: %s", e.msg);
    assert_int_equal(ssync_graph_last_failure(l.g)->http_status, 404);
    assert_int_equal(m.count, nwant);
    /* a malformed id never reaches the network */
    ssync_graph_get_stats(l.g, &st0);
    assert_int_equal(ssync_graph_group_members(l.g, "x/../../users", &m, &e), SSYNC_ERR_ARG);
    assert_non_null(strstr(e.msg, "not a GUID"));
    assert_int_equal(ssync_graph_group_members(l.g, NULL, &m, &e), SSYNC_ERR_ARG);
    ssync_graph_get_stats(l.g, &st1);
    assert_int_equal(st1.requests, st0.requests);
    ssync_group_members_free(&m);
    for (size_t i = 0; i < nwant; i++)
        free(want[i]);
    free(want);
    free(gid);
    live_free(&l);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(user_lookups_batched),
    cmocka_unit_test(group_members),
};

LIVE_MAIN(tests)
