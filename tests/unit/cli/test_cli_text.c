/* The CLI's output filter (src/cli/cli_text.c): C0/C1 controls, DEL, bytes that are not UTF-8
 * and Unicode bidi overrides become visible escapes; everything else, UTF-8 included, is kept.
 * Then every sink: a log line (text and JSON), the text table, the HTML report. */
#include "testutil.h"
#include "../../../src/cli/cli_text.c"
#include "../../../src/cli/cli_journal.c"
#include "../../../src/cli/cli_log.c"
#include "../../../src/cli/cli_progress.c"

#include <jansson.h>
#include <string.h>

static void expect(const char *in, const char *want)
{
    char *got = cli_text_safe_dup(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(cli_text_is_safe(in), strcmp(in, want) == 0);
    free(got);
}

static void controls_and_bidi_become_escapes(void **state)
{
    expect("alice@contoso.example", "alice@contoso.example");
    expect("zoë@exämple.de 日本", "zoë@exämple.de 日本");             /* UTF-8 is kept */
    expect("a\x1b]52;c;SGVsbG8=\x07z", "a\\x1b]52;c;SGVsbG8=\\x07z"); /* OSC 52 */
    expect("x\nupload ceo@corp [done]", "x\\x0aupload ceo@corp [done]");
    expect("\r\t\x7f", "\\x0d\\x09\\x7f");
    expect("c1 \xc2\x9b"
           "31m",
           "c1 \\u009b31m"); /* CSI as a C1 code point */
    expect("raw \x9b"
           "2J",
           "raw \\x9b2J"); /* a lone byte that is not UTF-8 */
    expect("\xe2\x80\xae"
           "txt.exe",
           "\\u202etxt.exe"); /* RLO */
    expect("\xe2\x81\xa6"
           "a"
           "\xe2\x81\xa9",
           "\\u2066a\\u2069");
    expect("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "\\u202a\\u202b\\u202c\\u202d");
    expect("\xe2\x80\x8f", "\xe2\x80\x8f");    /* RLM: not an override, kept */
    expect("\xc0\xaf", "\\xc0\\xaf");          /* overlong */
    expect("\xed\xa0\x80", "\\xed\\xa0\\x80"); /* a surrogate */
    expect("\xe2\x80", "\\xe2\\x80");          /* cut short */
    expect("", "");
    char *n = cli_text_safe_dup(NULL);
    assert_string_equal(n, "");
    free(n);
}

static void truncation_never_cuts_an_escape(void **state)
{
    char out[8];
    size_t need = cli_text_safe(out, sizeof out, "abcde\x1b");
    assert_int_equal(need, 9);
    assert_string_equal(out, "abcde"); /* not "abcde\\x" */
    need = cli_text_safe(out, sizeof out, "ab");
    assert_int_equal(need, 2);
    assert_string_equal(out, "ab");
    assert_int_equal(cli_text_safe(NULL, 0, "\x1b"), 4);
}

static void log_lines_text_and_json(void **state)
{
    char buf[512];
    const char *msg =
        "blobs/x\x1b]0;pwned\x07.der: user a@b\nsmimesync sync: upload ceo@corp [done]";
    int n = cli_log_format(buf, sizeof buf, 0, "sync", SSYNC_LOG_WARN, msg, 0, 0);
    assert_true(n > 0);
    assert_null(strchr(buf, '\x1b'));
    assert_null(strchr(buf, '\x07'));
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1); /* one line */
    assert_non_null(strstr(buf, "x\\x1b]0;pwned\\x07.der"));
    /* JSON: not UTF-8 is escaped, the line kept */
    n = cli_log_format(buf, sizeof buf, 1, "sync", SSYNC_LOG_INFO, "bad \xff\xfe utf8", 0, 0);
    assert_true(n > 0);
    json_error_t je;
    json_t *o = json_loads(buf, 0, &je);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "message")), "bad \\xff\\xfe utf8");
    json_decref(o);
    n = cli_log_format(buf, sizeof buf, 1, "sync", SSYNC_LOG_INFO,
                       "\xe2\x80\xae"
                       "rev",
                       0, 0);
    assert_null(strstr(buf, "\xe2\x80\xae"));
    assert_non_null(strstr(buf, "\\\\u202erev")); /* the escape, as a JSON string */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(controls_and_bidi_become_escapes),
        cmocka_unit_test(truncation_never_cuts_an_escape),
        cmocka_unit_test(log_lines_text_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
