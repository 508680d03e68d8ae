#include "testutil.h"

#include "common/encode.h"
#include "common/errors.h"

#include <string.h>

static void every_code_has_a_message_and_name(void **state)
{
    for (int c = 0; c < SSYNC_ERR__COUNT; c++) {
        assert_non_null(ssync_strerror((ssync_code)c));
        assert_true(strlen(ssync_strerror((ssync_code)c)) > 0);
        assert_true(strncmp(ssync_code_name((ssync_code)c), "SSYNC_", 6) == 0);
    }
    assert_string_equal(ssync_strerror(SSYNC_ERR__COUNT), "unknown error");
    assert_string_equal(ssync_code_name(SSYNC_ERR_KRA_NOT_HELD), "SSYNC_ERR_KRA_NOT_HELD");
}

static void fail_formats_message_and_prefix(void **state)
{
    ssync_error e = {0};
    assert_int_equal(ssync_fail(&e, SSYNC_ERR_FILE_OPEN, "%s: %s", "x.der", "No such file"),
                     SSYNC_ERR_FILE_OPEN);
    assert_string_equal(e.msg, "cannot open file: x.der: No such file");
    ssync_error_prefix(&e, "%s: ", "item 3");
    assert_string_equal(e.msg, "item 3: cannot open file: x.der: No such file");
    assert_int_equal(e.code, SSYNC_ERR_FILE_OPEN);
    assert_int_equal(ssync_fail(NULL, SSYNC_ERR_ARG, NULL), SSYNC_ERR_ARG);
    ssync_fail(&e, SSYNC_ERR_ARG, NULL);
    assert_string_equal(e.msg, "invalid argument");
}

static void base64_round_trip_and_rejects_garbage(void **state)
{
    const unsigned char data[] = {0x00, 0xff, 0x10, 0x80, 'a'};
    char *b64 = ssync_base64_encode(data, sizeof data);
    assert_string_equal(b64, "AP8QgGE=");
    ssync_buf out = {0};
    ssync_error e = {0};
    assert_int_equal(ssync_base64_decode("AP8Q\r\ngGE=", 10, &out, &e), SSYNC_OK);
    assert_int_equal(out.len, sizeof data);
    assert_memory_equal(out.data, data, sizeof data);
    ssync_buf_free(&out);
    free(b64);
    assert_int_equal(ssync_base64_decode("AP8?gGE=", 8, &out, &e), SSYNC_ERR_BLOB_BASE64);
    assert_int_equal(ssync_base64_decode("AP8", 3, &out, &e), SSYNC_ERR_BLOB_BASE64);
    assert_int_equal(ssync_base64_decode("", 0, &out, &e), SSYNC_ERR_BLOB_BASE64);
    char hex[11];
    ssync_hex_lower(data, sizeof data, hex);
    assert_string_equal(hex, "00ff108061");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_has_a_message_and_name),
        cmocka_unit_test(fail_formats_message_and_prefix),
        cmocka_unit_test(base64_round_trip_and_rejects_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
