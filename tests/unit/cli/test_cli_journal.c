/* The journal's event ids and priorities (src/cli/cli_journal.c, compiled in here: the CLI is
 * not a library). The protocol itself is tested end to end by test_journal.sh. */
#include "testutil.h"

#include "../../../src/cli/cli_journal.c"

#include <fcntl.h>

static void message_ids_are_stable_distinct_128_bit(void **state)
{
    (void)state;
    assert_null(cli_event_message_id(CLI_EV_NONE));
    assert_null(cli_event_message_id(CLI_EV_COUNT));
    assert_string_equal(cli_event_message_id(CLI_EV_RUN_STARTED),
                        "33e8a7b812b64fb1ad26f3b801a2bb40");
    for (int a = CLI_EV_NONE + 1; a < CLI_EV_COUNT; a++) {
        const char *id = cli_event_message_id((enum cli_event)a);
        assert_non_null(id);
        assert_int_equal(strlen(id), 32);
        assert_int_equal(strspn(id, "0123456789abcdef"), 32);
        for (int b = a + 1; b < CLI_EV_COUNT; b++)
            assert_string_not_equal(id, cli_event_message_id((enum cli_event)b));
    }
}

static void priorities_are_syslog_levels(void **state)
{
    (void)state;
    assert_int_equal(cli_journal_priority(SSYNC_LOG_ERROR), 3);
    assert_int_equal(cli_journal_priority(SSYNC_LOG_WARN), 4);
    assert_int_equal(cli_journal_priority(SSYNC_LOG_INFO), 6);
    assert_int_equal(cli_journal_priority(SSYNC_LOG_DEBUG), 7);
}

/* $JOURNAL_STREAM counts only when it names stderr (device:inode, systemd.exec(5)) */
static void journal_stream_must_name_stderr(void **state)
{
    (void)state;
    char path[] = "/tmp/ssync-journal-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    char v[64];
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    unsetenv("JOURNAL_STREAM");
    int none = cli_journal_stderr_is_journal();
    setenv("JOURNAL_STREAM", v, 1);
    int match = cli_journal_stderr_is_journal();
    setenv("JOURNAL_STREAM", "1:1", 1);
    int other = cli_journal_stderr_is_journal();
    setenv("JOURNAL_STREAM", "garbage", 1);
    int garbage = cli_journal_stderr_is_journal();
    unsetenv("JOURNAL_STREAM");
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    unlink(path);
    assert_int_equal(none, 0);
    assert_int_equal(match, 1);
    assert_int_equal(other, 0);
    assert_int_equal(garbage, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(message_ids_are_stable_distinct_128_bit),
        cmocka_unit_test(priorities_are_syslog_levels),
        cmocka_unit_test(journal_stream_must_name_stderr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
