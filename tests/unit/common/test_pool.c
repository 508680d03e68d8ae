/* The ordered bounded worker pool: every item runs once, results come in order, workers never
 * run more than the window ahead of the consumer, and a stop leaves unclaimed items unrun. */
#include "testutil.h"

#include "common/pool.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    size_t window;
    size_t *slots;          /* i % window -> i * 3 */
    atomic_int ran;         /* items run */
    atomic_size_t consumed; /* items the consumer released */
    atomic_int over_window; /* an item ran more than window ahead */
};

static void square(void *vctx, size_t i)
{
    struct ctx *c = vctx;
    if (i >= atomic_load(&c->consumed) + c->window)
        atomic_store(&c->over_window, 1);
    c->slots[i % c->window] = i * 3;
    atomic_fetch_add(&c->ran, 1);
}

static void in_order_and_bounded(void **state)
{
    for (unsigned workers = 1; workers <= 4; workers++) {
        struct ctx c = {.window = 5};
        c.slots = calloc(c.window, sizeof *c.slots);
        ssync_pool *p = NULL;
        ssync_error e = {0};
        assert_int_equal(ssync_pool_start(workers, 1000, c.window, square, &c, NULL, &p, &e),
                         SSYNC_OK);
        assert_int_equal(ssync_pool_workers(p), workers);
        for (size_t i = 0; i < 1000; i++) {
            assert_int_equal(ssync_pool_wait(p, i), 1);
            assert_true(ssync_pool_ready(p, i));
            assert_int_equal(c.slots[i % c.window], i * 3);
            atomic_store(&c.consumed, i + 1);
            ssync_pool_release(p, i);
        }
        ssync_pool_free(p);
        assert_int_equal(atomic_load(&c.ran), 1000);
        assert_int_equal(atomic_load(&c.over_window), 0);
        free(c.slots);
    }
}

static void stop_leaves_the_rest(void **state)
{
    struct ctx c = {.window = 4};
    c.slots = calloc(c.window, sizeof *c.slots);
    ssync_pool *p = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_pool_start(2, 100, c.window, square, &c, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(ssync_pool_wait(p, 0), 1);
    ssync_pool_release(p, 0);
    ssync_pool_stop(p);
    /* at most the window was claimed: later items never run */
    assert_int_equal(ssync_pool_wait(p, 50), 0);
    ssync_pool_free(p);
    assert_true(atomic_load(&c.ran) <= 1 + (int)c.window);
    free(c.slots);
}

static void empty_and_bad(void **state)
{
    struct ctx c = {.window = 2};
    c.slots = calloc(c.window, sizeof *c.slots);
    ssync_pool *p = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_pool_start(0, 0, 0, square, &c, NULL, &p, &e), SSYNC_OK);
    assert_true(ssync_pool_workers(p) >= 1);
    assert_false(ssync_pool_ready(p, 0));
    ssync_pool_free(p);
    assert_int_equal(ssync_pool_start(1, 1, 1, NULL, &c, NULL, &p, &e), SSYNC_ERR_ARG);
    assert_null(p);
    assert_true(ssync_cpu_count() >= 1);
    ssync_pool_free(NULL);
    free(c.slots);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_and_bounded),
        cmocka_unit_test(stop_leaves_the_rest),
        cmocka_unit_test(empty_and_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
