/* The write protocol as a library call (sync/run.h), driven by a front end that is not the CLI:
 * without a journal nothing is written and every write says why; a run cancelled before its
 * first write sends nothing, leaves no intent behind and reports every write as cancelled, with
 * its log lines and progress through the hooks. (Writes against Intune, crashes and resumes are
 * the integration tests' part: test_sync_crash, test_sync_resume, test_sync_cancel.) */
#include "testutil.h"

#include "journal/journal.h"
#include "sync/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct front {
    int began, ended, lines, cancel;
    size_t total;
};

static void log_line(void *ctx, ssync_log_level level, const char *msg)
{
    (void)level;
    (void)msg;
    ((struct front *)ctx)->lines++;
}

static void begin(void *ctx, size_t total)
{
    ((struct front *)ctx)->began++;
    ((struct front *)ctx)->total = total;
}

static void end(void *ctx)
{
    ((struct front *)ctx)->ended++;
}

static int cancelled(void *ctx)
{
    return ((struct front *)ctx)->cancel;
}

/* n removals (they need no source to build a record), one keep */
static void plan_of(ssync_plan *p, size_t n)
{
    for (size_t i = 0; i <= n; i++) {
        ssync_plan_item *it = ssync_plan_add(p);
        assert_non_null(it);
        snprintf(it->thumbprint, sizeof it->thumbprint, "%040zx", i + 1);
        snprintf(it->user_id, sizeof it->user_id, "00000000-0000-0000-0000-%012zx", i + 1);
        it->action = i < n ? SSYNC_ACT_REMOVE : SSYNC_ACT_KEEP;
    }
}

static int count_op(void *ctx, const ssync_op *op)
{
    (void)op;
    (*(int *)ctx)++;
    return 1;
}

static void no_journal_no_write(void **state)
{
    (void)state;
    ssync_plan p = {0};
    plan_of(&p, 3);
    struct front f = {0};
    ssync_run_hooks h = {.log = log_line, .log_ctx = &f, .ctx = &f};
    ssync_sync_params prm = {.hooks = &h};
    ssync_item_result *res = calloc(p.count, sizeof *res);
    ssync_sync_summary sum;
    assert_int_equal(ssync_sync_run(&prm, &p, res, &sum), SSYNC_ERR_STATE);
    assert_int_equal(sum.planned, 3);
    assert_int_equal(sum.done, 0);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(res[i].error, "not carried out: the journal cannot be opened");
        assert_int_equal(res[i].code, SSYNC_ERR_STATE);
        assert_false(res[i].wrote);
    }
    assert_null(res[3].error); /* a keep is no write */
    ssync_item_results_free(res, p.count);
    ssync_plan_free(&p);
}

static void cancelled_before_the_first_write(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/state.db", dir);
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    ssync_plan p = {0};
    plan_of(&p, 5);
    struct front f = {.cancel = 1};
    ssync_run_hooks h = {.log = log_line,
                         .log_ctx = &f,
                         .progress_begin = begin,
                         .progress_end = end,
                         .cancelled = cancelled,
                         .ctx = &f};
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    ssync_pfx_list listing = {0}; /* the run's listing: nothing to settle, no Graph call */
    ssync_sync_params prm = {.journal = j,
                             .exporter = &ex,
                             .connector_key = test_data_path("adcs-basic/connector-public.pem"),
                             .listing = &listing,
                             .workers = 2,
                             .hooks = &h};
    ssync_item_result *res = calloc(p.count, sizeof *res);
    ssync_sync_summary sum;
    assert_int_equal(ssync_sync_run(&prm, &p, res, &sum), SSYNC_OK);
    assert_true(sum.run_id > 0);
    assert_true(sum.interrupted);
    assert_int_equal(sum.planned, 5);
    assert_int_equal(sum.done, 0);
    assert_int_equal(f.began, 1);
    assert_int_equal(f.total, 5);
    assert_int_equal(f.ended, 1);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(res[i].error, "cancelled: not carried out (interrupted)");
        assert_int_equal(res[i].code, SSYNC_ERR_CANCELLED);
        assert_true(res[i].cancelled);
    }
    int unsettled = 0; /* no intent was written, so nothing is left for the next run */
    assert_int_equal(ssync_journal_unsettled(j, count_op, &unsettled, &e), SSYNC_OK);
    assert_int_equal(unsettled, 0);
    ssync_item_results_free(res, p.count);
    ssync_plan_free(&p);
    ssync_journal_close(j);
    test_rmtree(dir);
    free(dir);
}

static void a_bad_connector_key_stops_before_any_write(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/state.db", dir);
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    ssync_plan p = {0};
    plan_of(&p, 2);
    struct front f = {0};
    ssync_run_hooks h = {.log = log_line, .log_ctx = &f, .ctx = &f};
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    ssync_pfx_list listing = {0};
    ssync_sync_params prm = {.journal = j,
                             .exporter = &ex,
                             .connector_key = test_data_path("adcs-basic/README.md"),
                             .listing = &listing,
                             .hooks = &h};
    ssync_item_result *res = calloc(p.count, sizeof *res);
    ssync_sync_summary sum;
    assert_int_not_equal(ssync_sync_run(&prm, &p, res, &sum), SSYNC_OK);
    assert_int_equal(f.lines, 1); /* "[connector] public_key: ..." */
    for (size_t i = 0; i < 2; i++)
        assert_string_equal(res[i].error, "not carried out: the connector key cannot be loaded");
    ssync_item_results_free(res, p.count);
    ssync_plan_free(&p);
    ssync_journal_close(j);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_journal_no_write),
        cmocka_unit_test(cancelled_before_the_first_write),
        cmocka_unit_test(a_bad_connector_key_stops_before_any_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
