/* Pacing, Retry-After and backoff (src/lib/throttle.c) with a fake clock. */
#include "testutil.h"

#include "graph/throttle.h"

#include <math.h>
#include <stdlib.h>

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-6)

/* Takes n grants as fast as the bucket allows; records their times. */
static void drive(ssync_bucket *b, double *t, unsigned n, double *times)
{
    for (unsigned i = 0; i < n; i++) {
        double w = ssync_bucket_wait(b, *t, 1);
        *t += w;
        assert_true(ssync_bucket_wait(b, *t, 1) == 0);
        ssync_bucket_take(b, *t, 1);
        if (times)
            times[i] = *t;
    }
}

/* max grants inside any half-open window [x, x + w) */
static unsigned max_in_window(const double *times, unsigned n, double w)
{
    unsigned best = 0;
    for (unsigned i = 0, j = 0; i < n; i++) {
        while (times[i] - times[j] >= w - 1e-9)
            j++;
        if (i - j + 1 > best)
            best = i - j + 1;
    }
    return best;
}

static void burst_then_exact_pacing(void **state)
{
    ssync_bucket b;
    ssync_error e;
    assert_int_equal(ssync_bucket_init(&b, 100, 20.0, 0, 0.0, &e), SSYNC_OK);
    double t = 0, times[100];
    drive(&b, &t, 100, times);
    for (int i = 0; i < 10; i++) /* burst = limit / 10 */
        NEAR(times[i], 0.0);
    for (int i = 10; i < 100; i++) /* then one every 20/100 s */
        NEAR(times[i], (i - 9) * 0.2);
    NEAR(t, 18.0);
    ssync_bucket_free(&b);
}

static void never_more_than_limit_in_any_window(void **state)
{
    ssync_bucket b;
    ssync_error e;
    assert_int_equal(ssync_bucket_init(&b, 100, 20.0, 50, 0.0, &e), SSYNC_OK);
    double t = 0;
    double *times = malloc(1000 * sizeof *times);
    drive(&b, &t, 1000, times);
    assert_true(max_in_window(times, 1000, 20.0) <= 100);
    /* and the budget is used: 1000 grants take about 10 windows, not more */
    assert_true(t < 10 * 20.0 + 1e-6);
    assert_true(t > 9 * 20.0 - 1e-6);
    free(times);
    ssync_bucket_free(&b);
}

static void refill_is_capped_at_burst(void **state)
{
    ssync_bucket b;
    ssync_error e;
    assert_int_equal(ssync_bucket_init(&b, 100, 20.0, 5, 0.0, &e), SSYNC_OK);
    double t = 0;
    drive(&b, &t, 5, NULL);
    assert_true(ssync_bucket_wait(&b, 0.0, 1) > 0);
    NEAR(ssync_bucket_wait(&b, 0.0, 1), 0.2);
    t = 1000.0; /* long idle: only `burst` immediate grants */
    for (int i = 0; i < 5; i++) {
        assert_true(ssync_bucket_wait(&b, t, 1) == 0);
        ssync_bucket_take(&b, t, 1);
    }
    NEAR(ssync_bucket_wait(&b, t, 1), 0.2);
    ssync_bucket_free(&b);
}

static void time_scaling(void **state)
{
    ssync_bucket b;
    ssync_error e;
    assert_int_equal(ssync_bucket_init(&b, 100, 2.0, 0, 0.0, &e), SSYNC_OK);
    double t = 0, times[300];
    drive(&b, &t, 300, times);
    NEAR(times[10], 0.02);
    NEAR(times[99], 90 * 0.02);
    assert_true(max_in_window(times, 300, 2.0) <= 100);
    ssync_bucket_free(&b);
}

static void multi_token_costs(void **state)
{
    ssync_bucket b;
    ssync_error e;
    assert_int_equal(ssync_bucket_init(&b, 1000, 20.0, 0, 0.0, &e), SSYNC_OK); /* burst 100 */
    double t = 0;
    for (int i = 0; i < 5; i++) { /* five $batch of 20 fit the burst */
        assert_true(ssync_bucket_wait(&b, t, 20) == 0);
        ssync_bucket_take(&b, t, 20);
    }
    NEAR(ssync_bucket_wait(&b, t, 20), 20 / 50.0);   /* 50 tokens per second */
    assert_true(ssync_bucket_wait(&b, t, 5000) > 0); /* above the limit: clamped, still waits */
    ssync_bucket_free(&b);
}

static void bad_init(void **state)
{
    ssync_bucket b;
    ssync_error e;
    assert_int_equal(ssync_bucket_init(&b, 0, 20.0, 0, 0.0, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_bucket_init(&b, 10, 0.0, 0, 0.0, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_bucket_init(&b, 10, -1.0, 0, 0.0, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_bucket_init(NULL, 10, 1.0, 0, 0.0, &e), SSYNC_ERR_ARG);
}

static void pipe_pause_and_write_budget(void **state)
{
    ssync_throttle t;
    ssync_error e;
    assert_int_equal(ssync_throttle_init(&t, 100, 1000, 20.0, 0.0, &e), SSYNC_OK);
    assert_true(ssync_throttle_wait(&t, 0.0, 1, 1) == 0);
    ssync_throttle_pause(&t, 0.0, 3.0);
    NEAR(ssync_throttle_wait(&t, 0.0, 0, 1), 3.0); /* reads wait too */
    NEAR(ssync_throttle_wait(&t, 1.0, 1, 1), 2.0);
    ssync_throttle_pause(&t, 1.0, 1.0); /* never shortens */
    NEAR(ssync_throttle_wait(&t, 1.0, 0, 1), 2.0);
    ssync_throttle_pause(&t, 1.0, 5.0);
    NEAR(ssync_throttle_wait(&t, 1.0, 0, 1), 5.0);
    /* writes run out before reads: a whole window of writes goes at once (the sliding window
     * is what the service counts); each counts from its answer, so while one is unanswered the
     * next waits in short polls, and once answered the next waits a window from the answer */
    double now = 10.0;
    unsigned long long tickets[100];
    for (int i = 0; i < 100; i++) {
        assert_true(ssync_throttle_wait(&t, now, 1, 1) == 0);
        tickets[i] = ssync_throttle_take(&t, now, 1, 1);
        assert_true(tickets[i] > 0);
    }
    /* reads only wait for request tokens (100 used: 1000/20 s refills them in 2 s) */
    assert_true(ssync_throttle_wait(&t, now + 2.0, 0, 1) == 0);
    NEAR(ssync_throttle_wait(&t, now + 30.0, 1, 1), SSYNC_PENDING_POLL);
    for (int i = 0; i < 100; i++) /* answered 0.5 s after they were sent (slow handshakes) */
        ssync_throttle_write_done(&t, tickets[i], now + 0.5);
    NEAR(ssync_throttle_wait(&t, now, 1, 1), 20.5);
    NEAR(ssync_throttle_wait(&t, now + 20.0, 1, 1), 0.5);
    assert_true(ssync_throttle_wait(&t, now + 20.5, 1, 1) == 0);
    /* a read takes no write ticket; settling an unknown ticket changes nothing */
    assert_int_equal(ssync_throttle_take(&t, now + 20.5, 0, 1), 0);
    ssync_throttle_write_done(&t, 987654321, now);
    assert_true(ssync_throttle_wait(&t, now + 20.5, 1, 1) == 0);
    ssync_throttle_free(&t);
}

static void retry_after_seconds(void **state)
{
    double d = -1;
    assert_true(ssync_retry_after_parse("10", 0, 300, &d));
    NEAR(d, 10);
    assert_true(ssync_retry_after_parse("2.128", 0, 300, &d)); /* Graph's fractional form */
    NEAR(d, 2.128);
    assert_true(ssync_retry_after_parse(" 5 ", 0, 300, &d));
    NEAR(d, 5);
    assert_true(ssync_retry_after_parse("0", 0, 300, &d));
    NEAR(d, 0);
    assert_true(ssync_retry_after_parse("99999999999999999999999999", 0, 300, &d));
    NEAR(d, 300); /* huge: capped */
    assert_true(ssync_retry_after_parse("86400", 0, 120, &d));
    NEAR(d, 120);
}

static void retry_after_garbage(void **state)
{
    double d = 42;
    const char *bad[] = {
        "",    " ",  "abc", "-1", "1e5",   "0x10", "inf",
        "nan", "5s", "1 2", ".",  "12..3", "\x01", "Mon, 99 Foo 2015 99:99:99 GMT"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ssync_retry_after_parse(bad[i], 1445412450, 300, &d))
            fail_msg("accepted '%s'", bad[i]);
        NEAR(d, 42);
    }
    assert_false(ssync_retry_after_parse(NULL, 0, 300, &d));
    char big[300];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_false(ssync_retry_after_parse(big, 0, 300, &d)); /* overlong */
}

static void retry_after_http_date(void **state)
{
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    time_t now = 1445412480 - 30;
    double d = -1;
    assert_true(ssync_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now, 300, &d));
    NEAR(d, 30);
    assert_true(ssync_retry_after_parse("Wednesday, 21-Oct-15 07:28:00 GMT", now, 300, &d));
    NEAR(d, 30);
    assert_true(ssync_retry_after_parse("Wed Oct 21 07:28:00 2015", now, 300, &d));
    NEAR(d, 30);
    assert_true(ssync_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now + 100, 300, &d));
    NEAR(d, 0); /* in the past */
    assert_true(ssync_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now - 86400, 300, &d));
    NEAR(d, 300); /* far future: capped */
}

static void retry_after_ms(void **state)
{
    double d = -1;
    assert_true(ssync_retry_after_ms_parse("1500", 300, &d));
    NEAR(d, 1.5);
    assert_true(ssync_retry_after_ms_parse("999999999999", 300, &d));
    NEAR(d, 300);
    assert_false(ssync_retry_after_ms_parse("x", 300, &d));
    assert_false(ssync_retry_after_ms_parse(NULL, 300, &d));
}

static void backoff_bounds(void **state)
{
    NEAR(ssync_backoff(0, 1, 60, 1.0), 1);
    NEAR(ssync_backoff(3, 1, 60, 1.0), 8);
    NEAR(ssync_backoff(6, 1, 60, 1.0), 60);
    NEAR(ssync_backoff(1000000, 1, 60, 1.0), 60); /* no overflow */
    NEAR(ssync_backoff(2, 1, 60, 0.5), 2);
    NEAR(ssync_backoff(5, 1, 60, 0.0), 0);  /* full jitter reaches zero */
    NEAR(ssync_backoff(5, 1, 60, 7.0), 32); /* u clamped to 1 */
    NEAR(ssync_backoff(5, 1, 60, -1.0), 0);
    NEAR(ssync_backoff(5, 0, 60, 1.0), 0);
    for (unsigned a = 0; a < 64; a++)
        for (double u = 0; u <= 1.0; u += 0.125) {
            double d = ssync_backoff(a, 0.5, 30, u);
            assert_true(d >= 0 && d <= 30);
        }
}

/* One rule for the engine's throttled answers and the $batch items: the larger header wins, a
 * header that does not parse counts as absent, and only when neither parses do we back off. */
static void retry_delay_headers_or_backoff(void **state)
{
    ssync_retry_policy p = {.backoff_base = 1, .backoff_cap = 60, .retry_after_cap = 300};
    int given = -1;
    NEAR(ssync_retry_delay(&p, "10", "1500", 0, 0, 1.0, &given), 10);
    assert_int_equal(given, 1);
    NEAR(ssync_retry_delay(&p, "1", "2500", 0, 0, 1.0, &given), 2.5); /* the ms header is larger */
    assert_int_equal(given, 1);
    NEAR(ssync_retry_delay(&p, NULL, "1500", 0, 5, 1.0, &given), 1.5);
    assert_int_equal(given, 1);
    NEAR(ssync_retry_delay(&p, "soon", "2000", 0, 5, 1.0, &given), 2); /* garbage is absent */
    assert_int_equal(given, 1);
    NEAR(ssync_retry_delay(&p, "0", NULL, 0, 5, 1.0, &given), 0); /* "now" is honoured */
    assert_int_equal(given, 1);
    NEAR(ssync_retry_delay(&p, "99999", NULL, 0, 0, 1.0, &given), 300); /* capped */
    time_t now = 1445412480 - 30; /* Wed, 21 Oct 2015 07:28:00 GMT - 30 s */
    NEAR(ssync_retry_delay(&p, "Wed, 21 Oct 2015 07:28:00 GMT", NULL, now, 0, 1.0, &given), 30);
    assert_int_equal(given, 1);
    /* neither header: exponential backoff with full jitter for this attempt */
    NEAR(ssync_retry_delay(&p, "soon", "x", 0, 3, 1.0, &given), 8);
    assert_int_equal(given, 0);
    NEAR(ssync_retry_delay(&p, NULL, NULL, 0, 0, 0.5, &given), 0.5);
    assert_int_equal(given, 0);
    NEAR(ssync_retry_delay(&p, NULL, NULL, 0, 10, 1.0, NULL), 60);
    ssync_retry_policy small = {.backoff_base = 0.5, .backoff_cap = 4, .retry_after_cap = 3};
    NEAR(ssync_retry_delay(&small, "10", "20000", 0, 0, 1.0, NULL), 3); /* both capped */
    NEAR(ssync_retry_delay(&small, "", "", 0, 1, 1.0, NULL), 1);        /* empty headers: absent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_exact_pacing),
        cmocka_unit_test(never_more_than_limit_in_any_window),
        cmocka_unit_test(refill_is_capped_at_burst),
        cmocka_unit_test(time_scaling),
        cmocka_unit_test(multi_token_costs),
        cmocka_unit_test(bad_init),
        cmocka_unit_test(pipe_pause_and_write_budget),
        cmocka_unit_test(retry_after_seconds),
        cmocka_unit_test(retry_after_garbage),
        cmocka_unit_test(retry_after_http_date),
        cmocka_unit_test(retry_after_ms),
        cmocka_unit_test(backoff_bounds),
        cmocka_unit_test(retry_delay_headers_or_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
