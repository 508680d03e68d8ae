/* The live Graph client: userPfxCertificate create, paged list, filters, find, get and delete.
 * See graph_live.h. */
#include "graph_live.h"

#include "common/uuid.h"

/* ---------------------------------------------------------------- records */

typedef struct done_log {
    size_t calls;
} done_log;

static void on_done(void *ctx, ssync_graph_op *op)
{
    ((done_log *)ctx)->calls++;
    if (op->result != SSYNC_OK)
        fprintf(stderr, "  op failed: %s\n", op->err.msg);
}

static void create_list_filter_delete(void **state)
{
    const char *url = basic_or_skip();
    load_users();
    live l;
    live_setup(&l, AUTH_SECRET, url);
    live_new(&l);
    enum { N = 24 };
    char thumbs[N][41];
    json_t *recs[N];
    ssync_graph_op ops[N];
    memset(ops, 0, sizeof ops);
    for (size_t i = 0; i < N; i++) {
        random_thumb(thumbs[i]);
        recs[i] = make_record(users[i % nusers].upn, thumbs[i]);
        ops[i].kind = SSYNC_OP_CREATE;
        ops[i].record = recs[i];
    }
    done_log dl = {0};
    ssync_error e;
    assert_int_equal(ssync_graph_run(l.g, ops, N, on_done, &dl, &e), SSYNC_OK);
    assert_int_equal(dl.calls, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(ops[i].result, SSYNC_OK);
        assert_int_equal(ops[i].already, 0);
        assert_int_equal(ops[i].sends, 1);
        assert_non_null(strstr(ops[i].id, thumbs[i]));
        assert_true(ssync_uuid_valid(ops[i].detail.client_request_id));
    }
    /* list all: several pages (the script runs the emulator with a small page size) */
    ssync_pfx_list all = {0};
    if (ssync_graph_list_pfx(l.g, &all, &e) != SSYNC_OK)
        fail_msg("list: %s", e.msg);
    assert_int_equal(count_in(&all, thumbs, N), N);
    ssync_graph_stats st;
    ssync_graph_get_stats(l.g, &st);
    fprintf(stderr, "  listed %zu records, %lu requests so far\n", all.count, st.requests);
    ssync_pfx_list_sort(&all);
    const ssync_pfx_entry *found = ssync_pfx_list_find(&all, users[3 % nusers].upn, thumbs[3]);
    assert_non_null(found);
    assert_string_equal(found->intended_purpose, "smimeEncryption");
    assert_string_equal(found->padding_scheme, "oaepSha512");
    assert_true(found->thumbprint_valid);
    ssync_pfx_list_free(&all);
    /* by user (case-insensitive) */
    char upper[128];
    snprintf(upper, sizeof upper, "%s", users[1].upn);
    for (char *p = upper; *p; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    ssync_pfx_list mine = {0};
    assert_int_equal(ssync_graph_list_pfx_by_user(l.g, upper, &mine, &e), SSYNC_OK);
    size_t expect = 0;
    for (size_t i = 0; i < N; i++)
        expect += i % nusers == 1;
    assert_int_equal(count_in(&mine, thumbs, N), expect);
    for (size_t i = 0; i < mine.count; i++)
        assert_true(strcasecmp(mine.items[i].user_principal_name, users[1].upn) == 0);
    ssync_pfx_list_free(&mine);
    /* by user + thumbprint */
    ssync_pfx_entry one;
    assert_int_equal(ssync_graph_find_pfx(l.g, users[2].upn, thumbs[2], &one, &e), SSYNC_OK);
    assert_string_equal(one.thumbprint, thumbs[2]);
    ssync_pfx_entry_free(&one);
    assert_int_equal(ssync_graph_find_pfx(l.g, users[2].upn, thumbs[3], NULL, &e),
                     SSYNC_ERR_NOT_FOUND);
    /* the same record again: 409, read back, counts as present */
    char id[80];
    assert_int_equal(ssync_graph_create_pfx(l.g, recs[0], id, &e), SSYNC_OK);
    assert_non_null(strstr(id, thumbs[0]));
    /* delete half, verified */
    ssync_graph_op del[N / 2];
    memset(del, 0, sizeof del);
    for (size_t i = 0; i < N / 2; i++) {
        del[i].kind = SSYNC_OP_DELETE;
        del[i].user_id = users[i % nusers].id;
        del[i].thumbprint = thumbs[i];
    }
    assert_int_equal(ssync_graph_run(l.g, del, N / 2, NULL, NULL, &e), SSYNC_OK);
    for (size_t i = 0; i < N / 2; i++) {
        if (del[i].result != SSYNC_OK)
            fail_msg("delete %zu: %s", i, del[i].err.msg);
        assert_int_equal(del[i].already, 0);
    }
    assert_int_equal(ssync_graph_find_pfx(l.g, users[0].upn, thumbs[0], NULL, &e),
                     SSYNC_ERR_NOT_FOUND);
    ssync_pfx_entry got;
    assert_int_equal(ssync_graph_get_pfx(l.g, del[0].id, &got, &e), SSYNC_ERR_NOT_FOUND);
    char keep_id[80];
    assert_int_equal(ssync_pfx_record_id(users[N / 2 % nusers].id, thumbs[N / 2], keep_id, &e),
                     SSYNC_OK);
    assert_int_equal(ssync_graph_get_pfx(l.g, keep_id, &got, &e), SSYNC_OK);
    assert_string_equal(got.id, keep_id);
    ssync_pfx_entry_free(&got);
    /* deleting again: already absent */
    assert_int_equal(ssync_graph_delete_pfx(l.g, users[0].id, thumbs[0], &e), SSYNC_OK);
    /* bad arguments finish at once */
    ssync_graph_op bad = {.kind = SSYNC_OP_DELETE, .user_id = "nope", .thumbprint = thumbs[0]};
    assert_int_equal(ssync_graph_run(l.g, &bad, 1, NULL, NULL, &e), SSYNC_OK);
    assert_int_equal(bad.result, SSYNC_ERR_ARG);
    /* the rest: clean up */
    for (size_t i = N / 2; i < N; i++)
        assert_int_equal(ssync_graph_delete_pfx(l.g, users[i % nusers].id, thumbs[i], &e),
                         SSYNC_OK);
    for (size_t i = 0; i < N; i++)
        json_decref(recs[i]);
    live_free(&l);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(create_list_filter_delete),
};

LIVE_MAIN(tests)
