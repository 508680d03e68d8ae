#include "testutil.h"

#include "journal/journal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int collect(void *ctx, const ssync_op *op)
{
    ssync_op *ops = ctx;
    for (int i = 0; i < 8; i++)
        if (ops[i].id == 0) {
            ops[i] = *op;
            break;
        }
    return 1;
}

/* A new journal dir/state.db (its path in path), open. */
static ssync_journal *open_fresh(const char *dir, char *path, size_t cap)
{
    snprintf(path, cap, "%s/state.db", dir);
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    return j;
}

static void intents_and_outcomes_survive_reopen(void **state)
{
    char *dir = test_tmpdir();
    char path[600];
    ssync_error e = {0};
    ssync_journal *j = open_fresh(dir, path, sizeof path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    int64_t run = 0, a = 0, b = 0, c = 0;
    assert_int_equal(ssync_journal_run_begin(j, "sync", &run, &e), SSYNC_OK);
    assert_int_equal(
        ssync_journal_intent(j, run, SSYNC_OP_UPLOAD, "a@x", "aa", "id-a", "crid-a", &a, &e),
        SSYNC_OK);
    assert_int_equal(ssync_journal_intent(j, run, SSYNC_OP_UPLOAD, "b@x", "bb", NULL, NULL, &b, &e),
                     SSYNC_OK);
    assert_int_equal(ssync_journal_intent(j, run, SSYNC_OP_REMOVE, "c@x", "cc", NULL, NULL, &c, &e),
                     SSYNC_OK);
    assert_int_equal(ssync_journal_tx_begin(j, &e), SSYNC_OK);
    assert_int_equal(ssync_journal_outcome(j, a, SSYNC_OUTCOME_DONE, 201, "req-a", NULL, &e),
                     SSYNC_OK);
    assert_int_equal(ssync_journal_outcome(j, c, SSYNC_OUTCOME_AMBIGUOUS, 500, "req-c", "5xx", &e),
                     SSYNC_OK);
    assert_int_equal(ssync_journal_tx_commit(j, &e), SSYNC_OK);
    assert_int_equal(ssync_journal_run_end(j, run, "{\"upload\":1}", &e), SSYNC_OK);
    assert_int_equal(ssync_journal_meta_set(j, "last_request_id", "41", &e), SSYNC_OK);
    assert_int_equal(ssync_journal_meta_set(j, "last_request_id", "42", &e), SSYNC_OK);
    ssync_journal_close(j);

    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    ssync_op ops[8];
    memset(ops, 0, sizeof ops);
    assert_int_equal(ssync_journal_unsettled(j, collect, ops, &e), SSYNC_OK);
    assert_int_equal(ops[0].id, b);
    assert_int_equal(ops[0].outcome, SSYNC_OUTCOME_PENDING);
    assert_string_equal(ops[0].upn, "b@x");
    assert_int_equal(ops[1].id, c);
    assert_int_equal(ops[1].outcome, SSYNC_OUTCOME_AMBIGUOUS);
    assert_int_equal(ops[1].action, SSYNC_OP_REMOVE);
    assert_string_equal(ops[1].request_id, "req-c");
    assert_int_equal(ops[2].id, 0);

    assert_int_equal(ssync_journal_settle(j, SSYNC_OP_UPLOAD, "b@x", "bb", SSYNC_OUTCOME_DONE,
                                          "found in Intune", &e),
                     SSYNC_OK);
    memset(ops, 0, sizeof ops);
    assert_int_equal(ssync_journal_unsettled(j, collect, ops, &e), SSYNC_OK);
    assert_int_equal(ops[0].id, c);
    assert_int_equal(ops[1].id, 0);

    char *v = NULL;
    assert_int_equal(ssync_journal_meta_get(j, "last_request_id", &v, &e), SSYNC_OK);
    assert_string_equal(v, "42");
    free(v);
    assert_int_equal(ssync_journal_meta_get(j, "nothing", &v, &e), SSYNC_OK);
    assert_null(v);
    ssync_journal_close(j);
    test_rmtree(dir);
    free(dir);
}

static void intent_is_durable_across_kill_9(void **state)
{
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/state.db", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        ssync_journal *j = NULL;
        ssync_error e = {0};
        int64_t run = 0, op = 0;
        if (ssync_journal_open(path, &j, &e) != SSYNC_OK ||
            ssync_journal_run_begin(j, "sync", &run, &e) != SSYNC_OK ||
            ssync_journal_intent(j, run, SSYNC_OP_UPLOAD, "k@x", "kk", NULL, NULL, &op, &e) !=
                SSYNC_OK)
            _exit(1);
        kill(getpid(), SIGKILL);
        _exit(2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    ssync_op ops[8];
    memset(ops, 0, sizeof ops);
    assert_int_equal(ssync_journal_unsettled(j, collect, ops, &e), SSYNC_OK);
    assert_string_equal(ops[0].upn, "k@x");
    assert_int_equal(ops[0].outcome, SSYNC_OUTCOME_PENDING);
    ssync_journal_close(j);
    test_rmtree(dir);
    free(dir);
}

static void bad_arguments_and_paths(void **state)
{
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_open(NULL, &j, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_journal_open("/nonexistent-dir/state.db", &j, &e), SSYNC_ERR_STATE);
    assert_non_null(strstr(e.msg, "/nonexistent-dir/state.db"));
    assert_null(j);
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/garbage.db", dir);
    assert_int_equal(
        ssync_write_file_atomic(path, "this is not a database at all, no no no", 39, 0600, &e),
        SSYNC_OK);
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_ERR_STATE);
    int64_t id;
    assert_int_equal(ssync_journal_intent(NULL, 1, SSYNC_OP_UPLOAD, "a", "b", NULL, NULL, &id, &e),
                     SSYNC_ERR_ARG);
    assert_int_equal(ssync_journal_tx_commit(NULL, &e), SSYNC_ERR_ARG);
    test_rmtree(dir);
    free(dir);
}

static void user_cache(void **state)
{
    char *dir = test_tmpdir();
    char path[600];
    ssync_error e = {0};
    ssync_journal *j = open_fresh(dir, path, sizeof path);
    ssync_cached_user u = {0}, got;
    snprintf(u.id, sizeof u.id, "11111111-2222-3333-4444-555555555555");
    snprintf(u.upn, sizeof u.upn, "Alice@X.example");
    snprintf(u.mail, sizeof u.mail, "alice@mail.x.example");
    snprintf(u.via, sizeof u.via, "proxyAddresses");
    int found = -1;
    assert_int_equal(ssync_journal_user_get(j, "upn", "alice@x.example", 0, &got, &found, &e),
                     SSYNC_OK);
    assert_int_equal(found, 0);
    assert_int_equal(ssync_journal_user_put(j, "mail", "Alice@Mail.X.example", &u, 1000.0, &e),
                     SSYNC_OK);
    ssync_journal_close(j);

    /* survives a reopen; keys compare in lowercase; kinds are apart */
    assert_int_equal(ssync_journal_open(path, &j, &e), SSYNC_OK);
    assert_int_equal(
        ssync_journal_user_get(j, "mail", "ALICE@mail.x.EXAMPLE", 900.0, &got, &found, &e),
        SSYNC_OK);
    assert_int_equal(found, 1);
    assert_string_equal(got.id, u.id);
    assert_string_equal(got.upn, "Alice@X.example");
    assert_string_equal(got.mail, "alice@mail.x.example");
    assert_string_equal(got.via, "proxyAddresses");
    assert_int_equal(
        ssync_journal_user_get(j, "upn", "alice@mail.x.example", 900.0, &got, &found, &e),
        SSYNC_OK);
    assert_int_equal(found, 0);
    /* too old for the window */
    assert_int_equal(
        ssync_journal_user_get(j, "mail", "alice@mail.x.example", 1000.5, &got, &found, &e),
        SSYNC_OK);
    assert_int_equal(found, 0);
    /* replaced by a newer lookup */
    snprintf(u.mail, sizeof u.mail, "%s", "");
    assert_int_equal(ssync_journal_user_put(j, "mail", "alice@mail.x.example", &u, 2000.0, &e),
                     SSYNC_OK);
    assert_int_equal(
        ssync_journal_user_get(j, "mail", "alice@mail.x.example", 1500.0, &got, &found, &e),
        SSYNC_OK);
    assert_int_equal(found, 1);
    assert_string_equal(got.mail, "");
    /* prune drops what is older than the window, keeps the rest */
    assert_int_equal(ssync_journal_user_put(j, "upn", "bob@x.example", &u, 100.0, &e), SSYNC_OK);
    assert_int_equal(ssync_journal_user_prune(j, 1500.0, &e), SSYNC_OK);
    assert_int_equal(ssync_journal_user_get(j, "upn", "bob@x.example", 0, &got, &found, &e),
                     SSYNC_OK);
    assert_int_equal(found, 0);
    assert_int_equal(ssync_journal_user_get(j, "mail", "alice@mail.x.example", 0, &got, &found, &e),
                     SSYNC_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ssync_journal_user_get(NULL, "upn", "x", 0, &got, &found, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_journal_user_put(j, "upn", NULL, &u, 0, &e), SSYNC_ERR_ARG);
    ssync_journal_close(j);
    test_rmtree(dir);
    free(dir);
}

/* Each statement is prepared once and reused: 200 lookups and 200 stores keep two prepared
 * statements (and every answer right). */
static void statements_are_reused(void **state)
{
    char *dir = test_tmpdir();
    char path[600];
    ssync_error e = {0};
    ssync_journal *j = open_fresh(dir, path, sizeof path);
    assert_int_equal(ssync_journal_prepared(j), 0);
    ssync_cached_user u = {0}, got;
    int found = 0;
    for (int i = 0; i < 200; i++) {
        char key[64];
        snprintf(key, sizeof key, "user%d@x.example", i);
        snprintf(u.upn, sizeof u.upn, "%s", key);
        snprintf(u.id, sizeof u.id, "id-%d", i);
        assert_int_equal(ssync_journal_user_put(j, "upn", key, &u, 1000.0, &e), SSYNC_OK);
        assert_int_equal(ssync_journal_user_get(j, "upn", key, 0, &got, &found, &e), SSYNC_OK);
        assert_int_equal(found, 1);
        assert_string_equal(got.id, u.id);
    }
    assert_int_equal(ssync_journal_prepared(j), 2);
    assert_int_equal(ssync_journal_user_get(j, "upn", "nobody@x.example", 0, &got, &found, &e),
                     SSYNC_OK);
    assert_int_equal(found, 0);
    assert_int_equal(ssync_journal_prepared(j), 2);
    assert_int_equal(ssync_journal_prepared(NULL), 0);
    ssync_journal_close(j);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intents_and_outcomes_survive_reopen),
        cmocka_unit_test(statements_are_reused),
        cmocka_unit_test(intent_is_durable_across_kill_9),
        cmocka_unit_test(bad_arguments_and_paths),
        cmocka_unit_test(user_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
