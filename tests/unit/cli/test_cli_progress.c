/* The CLI's progress line and log lines (src/cli/cli_progress.c and cli_log.c, compiled in
 * here): the rate/ETA formatter, when a bar is drawn, and the text and JSON log formats. */
#include "testutil.h"

#include "../../../src/cli/cli_text.c"
#include "../../../src/cli/cli_journal.c"
#include "../../../src/cli/cli_log.c"
#include "../../../src/cli/cli_progress.c"

static void test_duration(void **state)
{
    (void)state;
    char b[24];
    cli_progress_duration(b, sizeof b, 0);
    assert_string_equal(b, "0:00");
    cli_progress_duration(b, sizeof b, 65.4);
    assert_string_equal(b, "1:05");
    cli_progress_duration(b, sizeof b, 3600 + 61);
    assert_string_equal(b, "1:01:01");
    cli_progress_duration(b, sizeof b, -1);
    assert_string_equal(b, "--:--");
    cli_progress_duration(b, sizeof b, 1e12);
    assert_string_equal(b, "--:--");
}

static void test_format(void **state)
{
    (void)state;
    char b[160];
    /* 10 of 40 in 4 s: 2.5/s, 30 left: 12 s */
    cli_progress_format(b, sizeof b, "write", 10, 40, 4.0);
    assert_string_equal(b, "write [######..................] 10/40 2.5/s ETA 0:12");
    /* fast: whole numbers */
    cli_progress_format(b, sizeof b, "recover", 500, 1000, 2.0);
    assert_string_equal(b, "recover [############............] 500/1000 250/s ETA 0:02");
    /* nothing done yet: rate 0, ETA unknown */
    cli_progress_format(b, sizeof b, "write", 0, 5, 0);
    assert_string_equal(b, "write [........................] 0/5 0.0/s ETA --:--");
    /* finished, and more done than total is clamped */
    cli_progress_format(b, sizeof b, "write", 7, 5, 1.0);
    assert_string_equal(b, "write [########################] 5/5 5.0/s ETA 0:00");
    cli_progress_format(b, sizeof b, "write", 0, 0, 1.0);
    assert_string_equal(b, "write [########################] 0/0 0.0/s ETA 0:00");
}

static void test_wanted(void **state)
{
    (void)state;
    assert_int_equal(cli_progress_wanted(-1, 0, 0, 1), 1);
    assert_int_equal(cli_progress_wanted(-1, 0, 0, 0), 0); /* pipe, log, systemd */
    assert_int_equal(cli_progress_wanted(1, 0, 0, 0), 0);  /* never without a terminal */
    assert_int_equal(cli_progress_wanted(-1, 1, 0, 1), 0); /* --quiet */
    assert_int_equal(cli_progress_wanted(-1, 0, 1, 1), 0); /* JSON logs */
    assert_int_equal(cli_progress_wanted(1, 1, 1, 1), 1);
    assert_int_equal(cli_progress_wanted(0, 0, 0, 1), 0);
}

static void test_drawing(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct cli_progress p;
    cli_progress_init(&p, 1, f);
    cli_progress_begin(&p, "write", 3);
    cli_progress_update(&p, 1); /* within 0.2 s of the first draw: not redrawn */
    cli_progress_end(&p);
    cli_progress_update(&p, 2); /* ended: nothing */
    fclose(f);
    assert_string_equal(buf,
                        "\rwrite [........................] 0/3 0.0/s ETA --:--\033[K\r\033[K");
    free(buf);
    /* disabled: never a byte */
    buf = NULL;
    f = open_memstream(&buf, &len);
    cli_progress_init(&p, 0, f);
    cli_progress_begin(&p, "write", 3);
    cli_progress_update(&p, 3);
    cli_progress_end(&p);
    fclose(f);
    assert_int_equal(len, 0);
    free(buf);
}

static void test_log_format(void **state)
{
    (void)state;
    char b[512];
    cli_log_format(b, sizeof b, 0, "sync", SSYNC_LOG_WARN, "slow", 0, 0);
    assert_string_equal(b, "smimesync sync: warning: slow\n");
    cli_log_format(b, sizeof b, 0, "sync", SSYNC_LOG_ERROR, "x.der: bad", 0, 0);
    assert_string_equal(b, "smimesync sync: x.der: bad\n");
    cli_log_format(b, sizeof b, 1, "plan", SSYNC_LOG_INFO, "say \"hi\"", 1800000000, 7);
    assert_string_equal(b, "{\"time\":\"2027-01-15T08:00:00.007Z\",\"level\":\"info\",\"command\":"
                           "\"plan\",\"message\":\"say \\\"hi\\\"\"}\n");
    /* not UTF-8: still one JSON line */
    cli_log_format(b, sizeof b, 1, "plan", SSYNC_LOG_ERROR, "\xff\xfe", 0, 0);
    json_t *o = json_loads(b, 0, NULL);
    assert_non_null(o);
    json_decref(o);
    assert_int_equal(cli_log_level(2, 0, 0), SSYNC_LOG_INFO);
    assert_int_equal(cli_log_level(1, 1, 0), SSYNC_LOG_DEBUG);
    assert_int_equal(cli_log_level(3, 1, 1), SSYNC_LOG_ERROR);

    /* a log line erases the bar first; levels above verbosity are dropped */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct cli_progress p;
    cli_progress_init(&p, 1, f);
    struct cli_log log = {.cmd = "sync", .verbosity = SSYNC_LOG_WARN, .out = f, .progress = &p};
    cli_progress_begin(&p, "w", 1);
    cli_log_msg(&log, SSYNC_LOG_INFO, "dropped");
    cli_log_msg(&log, SSYNC_LOG_WARN, "kept %d", 1);
    fclose(f);
    assert_non_null(strstr(buf, "\r\033[Ksmimesync sync: warning: kept 1\n"));
    assert_null(strstr(buf, "dropped"));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),   cmocka_unit_test(test_format),
        cmocka_unit_test(test_wanted),     cmocka_unit_test(test_drawing),
        cmocka_unit_test(test_log_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
