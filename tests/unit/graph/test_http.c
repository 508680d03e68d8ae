/* The class of an ended request's answer (src/lib/graph/http.c: ssync_http_answer), which the
 * engine and the token request share. */
#include "testutil.h"

#include "graph/http.h"

#include <string.h>

static ssync_answer answer_of(long status, CURLcode result, int overflow, ssync_graph_failure *f)
{
    ssync_http_xfer x;
    memset(&x, 0, sizeof x);
    snprintf(x.method, sizeof x.method, "GET");
    x.status = status;
    x.result = result;
    x.overflow = overflow;
    ssync_graph_failure_clear(f);
    return ssync_http_answer(&x, f);
}

static void statuses(void **state)
{
    (void)state;
    ssync_graph_failure f;
    const struct {
        long status;
        ssync_answer want;
    } cases[] = {
        {200, SSYNC_ANSWER_OK},           {201, SSYNC_ANSWER_OK},
        {204, SSYNC_ANSWER_OK},           {400, SSYNC_ANSWER_REFUSED},
        {401, SSYNC_ANSWER_UNAUTHORIZED}, {403, SSYNC_ANSWER_FORBIDDEN},
        {404, SSYNC_ANSWER_NOT_FOUND},    {409, SSYNC_ANSWER_REFUSED},
        {429, SSYNC_ANSWER_THROTTLED},    {500, SSYNC_ANSWER_SERVER_ERROR},
        {502, SSYNC_ANSWER_SERVER_ERROR}, {503, SSYNC_ANSWER_THROTTLED},
        {504, SSYNC_ANSWER_THROTTLED},    {300, SSYNC_ANSWER_REFUSED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (answer_of(cases[i].status, CURLE_OK, 0, &f) != cases[i].want)
            fail_msg("HTTP %ld misclassified", cases[i].status);
        assert_int_equal(f.http_status, cases[i].status);
        assert_string_equal(f.method, "GET");
        assert_string_equal(f.message, "");
    }
}

static void transport_failures(void **state)
{
    (void)state;
    ssync_graph_failure f;
    assert_int_equal(answer_of(0, CURLE_COULDNT_CONNECT, 0, &f), SSYNC_ANSWER_TRANSPORT_RETRY);
    assert_int_equal(f.curl_code, CURLE_COULDNT_CONNECT);
    assert_string_equal(f.message, curl_easy_strerror(CURLE_COULDNT_CONNECT));
    assert_int_equal(answer_of(0, CURLE_OPERATION_TIMEDOUT, 0, &f), SSYNC_ANSWER_TRANSPORT_RETRY);
    assert_int_equal(answer_of(0, CURLE_PEER_FAILED_VERIFICATION, 0, &f), SSYNC_ANSWER_TLS_FATAL);
    assert_int_equal(answer_of(0, CURLE_URL_MALFORMAT, 0, &f), SSYNC_ANSWER_TRANSPORT_FATAL);
    /* an oversized body is refused even when a status line arrived */
    assert_int_equal(answer_of(200, CURLE_WRITE_ERROR, 1, &f), SSYNC_ANSWER_TRANSPORT_FATAL);
    assert_int_equal(f.http_status, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(statuses),
        cmocka_unit_test(transport_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
