/* The shared text helpers of libsmimesync_common: CSV fields (the pfx manifest, the emulator's
 * users and groups), lines of hand-edited files, base64url (JWTs) and the monotonic clock. */
#include "testutil.h"

#include "common/clock.h"
#include "common/encode.h"
#include "common/text.h"

#include <stdlib.h>
#include <string.h>

static int split(const char *in, char **f, int max, char *buf)
{
    strcpy(buf, in);
    return ssync_csv_split(buf, f, max);
}

static void csv_fields(void **state)
{
    char buf[256];
    char *f[4];
    assert_int_equal(split("a,b,c", f, 4, buf), 3);
    assert_string_equal(f[0], "a");
    assert_string_equal(f[2], "c");
    assert_int_equal(split("\"x,y\",\"say \"\"hi\"\"\",", f, 4, buf), 3);
    assert_string_equal(f[0], "x,y");
    assert_string_equal(f[1], "say \"hi\"");
    assert_string_equal(f[2], "");
    assert_int_equal(split("", f, 4, buf), 1);
    assert_string_equal(f[0], "");
}

static void csv_refused(void **state)
{
    char buf[256];
    char *f[2];
    assert_int_equal(split("a,b,c", f, 2, buf), -1);     /* too many fields */
    assert_int_equal(split("\"open,b", f, 2, buf), -1);  /* unterminated quote */
    assert_int_equal(split("\"a\"x,b", f, 2, buf), -1);  /* text after the closing quote */
    assert_int_equal(split("a\"b,c", f, 2, buf), -1);    /* quote inside an unquoted field */
    assert_int_equal(split("a,b\"c", f, 2, buf), -1);
}

static void lines(void **state)
{
    char text[] = "\xef\xbb\xbf  first \r\n\n# comment\n\t second\nthird";
    size_t pos = 0, lineno = 0;
    assert_string_equal(ssync_text_next_line(text, sizeof text - 1, &pos, &lineno), "first");
    assert_int_equal(lineno, 1);
    assert_string_equal(ssync_text_next_line(text, sizeof text - 1, &pos, &lineno), "second");
    assert_int_equal(lineno, 4);
    assert_string_equal(ssync_text_next_line(text, sizeof text - 1, &pos, &lineno), "third");
    assert_null(ssync_text_next_line(text, sizeof text - 1, &pos, &lineno));
    char t[] = " \t x y \r";
    assert_string_equal(ssync_text_trim(t), "x y");
}

static void base64url(void **state)
{
    const unsigned char in[] = {0xfb, 0xff, 0x3e, 0x00};
    char *s = ssync_base64url_encode(in, sizeof in);
    assert_string_equal(s, "-_8-AA");
    ssync_buf out = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_base64url_decode(s, strlen(s), &out, &e), SSYNC_OK);
    assert_int_equal(out.len, sizeof in);
    assert_memory_equal(out.data, in, sizeof in);
    ssync_buf_free(&out);
    assert_int_equal(ssync_base64url_decode("-_8-AA==", 8, &out, &e), SSYNC_OK);
    ssync_buf_free(&out);
    assert_int_not_equal(ssync_base64url_decode("+/8-AA", 6, &out, &e), SSYNC_OK); /* base64 */
    assert_int_not_equal(ssync_base64url_decode("-_=8-AA", 7, &out, &e), SSYNC_OK); /* inner = */
    assert_int_not_equal(ssync_base64url_decode("-_8-AA===", 9, &out, &e), SSYNC_OK);
    free(s);
}

static void clock_moves_forward(void **state)
{
    double a = ssync_mono();
    double b = ssync_mono();
    assert_true(a > 0 && b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_fields),     cmocka_unit_test(csv_refused),
        cmocka_unit_test(lines),          cmocka_unit_test(base64url),
        cmocka_unit_test(clock_moves_forward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
