/* ssync_kra_set_load: the one KRA loader of export, recover, sync and check (passwords from one
 * file for all keys, one per key, or the environment; certificates by position; the per-key
 * report that goes on after a failed key). */
#include "recovery_util.h"

#include "recover/kra.h"

#include <stdlib.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char *dir;

static int setup(void **state)
{
    dir = test_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    test_rmtree(dir);
    free(dir);
    return 0;
}

/* A password file (0600) in the test's directory; returns its path (static per name). */
static const char *pass_file(const char *name, const char *password)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", dir, name);
    ssync_error e = {0};
    assert_ok(ssync_write_file_atomic(path, password, strlen(password), 0600, &e), e);
    return path;
}

/* Data paths copied out of test_data_path's rotating buffer. */
static const char *data(const char *rel)
{
    static char paths[8][1024];
    static int next;
    char *path = paths[next++ % 8];
    snprintf(path, sizeof paths[0], "%s", test_data_path(rel));
    return path;
}

static void one_password_for_all(void **state)
{
    const char *keys[] = {data("recovery/kra1-legacy.p12"), data("recovery/kra2.p12")};
    const char *pass[] = {pass_file("all.pass", "legacy-Pa55")};
    ssync_kra_cfg cfg = {.key = {keys, N(keys)}, .password_file = {pass, N(pass)}};
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), e);
    assert_int_equal(ssync_kra_set_count(set), 2);
    ssync_kra_set_free(set);
}

static void one_password_per_key(void **state)
{
    const char *keys[] = {data("adcs-basic/kra.p12"), data("recovery/kra2.p12")};
    const char *pass[] = {pass_file("a.pass", "kra-Pa55word!"), pass_file("b.pass", "legacy-Pa55")};
    ssync_kra_cfg cfg = {.key = {keys, N(keys)}, .password_file = {pass, N(pass)}};
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), e);
    assert_int_equal(ssync_kra_set_count(set), 2);
    ssync_kra_set_free(set);
    /* two password files for three keys: refused before anything is opened */
    const char *three[] = {keys[0], keys[1], keys[1]};
    cfg.key = (ssync_kra_paths){three, N(three)};
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_CONFIG);
    assert_null(set);
    assert_contains(e.msg, "(2 given, 3 keys)");
    /* none at all */
    cfg.key = (ssync_kra_paths){NULL, 0};
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_CONFIG);
    assert_contains(e.msg, "no KRA key given");
}

static void password_from_the_environment(void **state)
{
    const char *keys[] = {data("adcs-basic/kra.p12")};
    ssync_kra_cfg cfg = {.key = {keys, 1}, .password_env = "SSYNC_TEST_KRA_LOAD_PW"};
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    setenv("SSYNC_TEST_KRA_LOAD_PW", "kra-Pa55word!", 1);
    assert_ok(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), e);
    assert_int_equal(ssync_kra_set_count(set), 1);
    ssync_kra_set_free(set);
    /* a password file wins over the variable */
    const char *pass[] = {pass_file("wrong.pass", "wrong")};
    cfg.password_file = (ssync_kra_paths){pass, 1};
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_KRA_PASSWORD);
    cfg.password_file = (ssync_kra_paths){NULL, 0};
    /* not set: the empty password */
    unsetenv("SSYNC_TEST_KRA_LOAD_PW");
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_KRA_PASSWORD);
    assert_null(set);
}

static void wrong_password(void **state)
{
    const char *keys[] = {data("adcs-basic/kra.p12")};
    const char *pass[] = {pass_file("bad.pass", "not-the-password")};
    ssync_kra_cfg cfg = {.key = {keys, 1}, .password_file = {pass, 1}};
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_KRA_PASSWORD);
    assert_null(set);
    assert_contains(e.msg, "kra.p12");
    /* a password file that cannot be read: its error carries the caller's label */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.pass", dir);
    const char *gone[] = {missing};
    cfg.password_file = (ssync_kra_paths){gone, 1};
    assert_int_not_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_OK);
    assert_null(set);
    assert_true(strncmp(e.msg, "KRA password file: ", 19) == 0);
    assert_contains(e.msg, "none.pass");
    assert_int_not_equal(ssync_kra_set_load(&cfg, "[kra] password_file", NULL, NULL, &set, &e),
                         SSYNC_OK);
    assert_true(strncmp(e.msg, "[kra] password_file: ", 21) == 0);
}

static void certificate_by_position(void **state)
{
    const char *keys[] = {data("adcs-basic/kra1.key"), data("recovery/kra2.key")};
    const char *certs[] = {data("adcs-basic/kra1.pem"), data("recovery/kra2.pem")};
    ssync_kra_cfg cfg = {.key = {keys, 2}, .cert = {certs, 2}};
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), e);
    assert_int_equal(ssync_kra_set_count(set), 2);
    X509 *c = NULL;
    assert_int_equal(ssync_kra_set_get(set, 0, NULL, &c), 1);
    X509 *want = test_load_cert("adcs-basic/kra1.pem");
    assert_int_equal(X509_cmp(c, want), 0);
    X509_free(want);
    ssync_kra_set_free(set);
    /* fewer certificates than keys: the second key has none */
    cfg.cert.n = 1;
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_KRA_NO_CERT);
    assert_contains(e.msg, "kra2.key");
    /* swapped: each key gets the other's certificate */
    const char *swapped[] = {certs[1], certs[0]};
    cfg.cert = (ssync_kra_paths){swapped, 2};
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_KRA_NO_CERT);
    assert_contains(e.msg, "kra1.key");
    /* more certificates than keys */
    const char *three[] = {certs[0], certs[1], certs[1]};
    cfg.cert = (ssync_kra_paths){three, 3};
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, NULL, NULL, &set, &e), SSYNC_ERR_CONFIG);
    assert_null(set);
}

struct seen {
    int go_on;
    size_t n;
    ssync_kra_step step[8];
    size_t index[8];
    ssync_code code[8];
    int cert[8];
};

static int record(void *ctx, const ssync_kra_event *ev)
{
    struct seen *s = ctx;
    if (s->n < 8) {
        s->step[s->n] = ev->step;
        s->index[s->n] = ev->index;
        s->code[s->n] = ev->err ? ev->err->code : SSYNC_OK;
        s->cert[s->n] = ev->cert != NULL;
        s->n++;
    }
    return s->go_on;
}

static void each_key_goes_on_after_a_failed_one(void **state)
{
    const char *keys[] = {data("adcs-basic/kra1.key"), data("nonexistent/kra.p12"),
                          data("recovery/kra2.key")};
    const char *certs[] = {data("adcs-basic/kra1.pem"), data("adcs-basic/kra1.pem"),
                           data("recovery/kra2.pem")};
    ssync_kra_cfg cfg = {.key = {keys, 3}, .cert = {certs, 3}};
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    struct seen s = {.go_on = 1};
    assert_ok(ssync_kra_set_load(&cfg, NULL, record, &s, &set, &e), e);
    assert_int_equal(ssync_kra_set_count(set), 2); /* the failed key is left out */
    assert_int_equal(s.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(s.step[i], SSYNC_KRA_STEP_KEY);
        assert_int_equal(s.index[i], i);
    }
    assert_int_equal(s.code[0], SSYNC_OK);
    assert_true(s.cert[0]);
    assert_int_equal(s.code[1], SSYNC_ERR_FILE_OPEN);
    assert_false(s.cert[1]);
    assert_int_equal(s.code[2], SSYNC_OK);
    assert_true(s.cert[2]);
    ssync_kra_set_free(set);
    /* 0 from the callback stops at the failed key */
    s = (struct seen){.go_on = 0};
    assert_int_equal(ssync_kra_set_load(&cfg, NULL, record, &s, &set, &e), SSYNC_ERR_FILE_OPEN);
    assert_null(set);
    assert_int_equal(s.n, 2);
    /* a password file that cannot be read is a step too, and ends the load */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.pass", dir);
    const char *gone[] = {missing};
    cfg.password_file = (ssync_kra_paths){gone, 1};
    s = (struct seen){.go_on = 1};
    assert_int_not_equal(ssync_kra_set_load(&cfg, "[kra] password_file", record, &s, &set, &e),
                         SSYNC_OK);
    assert_null(set);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.step[0], SSYNC_KRA_STEP_PASSWORD_FILE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_password_for_all),
        cmocka_unit_test(one_password_per_key),
        cmocka_unit_test(password_from_the_environment),
        cmocka_unit_test(wrong_password),
        cmocka_unit_test(certificate_by_position),
        cmocka_unit_test(each_key_goes_on_after_a_failed_one),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
