/* The one-writer lock: a second taker gets SSYNC_ERR_BUSY at once (wait 0) or after its wait,
 * and hears who holds it; a release frees it; the file is 0600 and never a symlink. */
#include "testutil.h"

#include "journal/lock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct seen {
    int waits;
    pid_t holder;
};

static void waiting(void *ctx, pid_t holder)
{
    struct seen *s = ctx;
    s->waits++;
    s->holder = holder;
}

static void one_writer(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char db[4096], lockfile[4200];
    snprintf(db, sizeof db, "%s/state.db", dir);
    snprintf(lockfile, sizeof lockfile, "%s.lock", db);
    ssync_lock *a = NULL, *b = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_lock_take(db, NULL, &a, &e), SSYNC_OK);
    struct stat st;
    assert_int_equal(stat(lockfile, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    ssync_lock_wait now = {.seconds = 0};
    assert_int_equal(ssync_lock_take(db, &now, &b, &e), SSYNC_ERR_BUSY);
    assert_null(b);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld ", (long)getpid());
    assert_non_null(strstr(e.msg, pid));

    struct seen s = {0};
    ssync_lock_wait brief = {.seconds = 0.3, .waiting = waiting, .ctx = &s};
    assert_int_equal(ssync_lock_take(db, &brief, &b, &e), SSYNC_ERR_BUSY);
    assert_int_equal(s.waits, 1);
    assert_int_equal(s.holder, getpid());

    ssync_lock_release(a);
    assert_int_equal(ssync_lock_take(db, &now, &b, &e), SSYNC_OK);
    ssync_lock_release(b);
    test_rmtree(dir);
    free(dir);
}

static void never_through_a_symlink(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char db[4096], lockfile[4200], target[4200];
    snprintf(db, sizeof db, "%s/state.db", dir);
    snprintf(lockfile, sizeof lockfile, "%s.lock", db);
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    assert_int_equal(symlink(target, lockfile), 0);
    ssync_lock *l = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_lock_take(db, NULL, &l, &e), SSYNC_ERR_STATE);
    assert_null(l);
    assert_int_not_equal(access(target, F_OK), 0); /* nothing created through the link */
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_writer),
        cmocka_unit_test(never_through_a_symlink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
