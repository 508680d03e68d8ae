/* The failure record: Graph and Entra ID error bodies, the one-line format, sanitizing
 * (src/lib/graph/failure.c). */
#include "testutil.h"

#include "graph/failure.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char INTUNE_400[] =
    "{\"error\":{\"code\":\"BadRequest\",\"message\":\"{\\r\\n  \\\"_version\\\": 3,\\r\\n  "
    "\\\"Message\\\": \\\"An error has occurred - Operation ID (for customer support): "
    "00000000-0000-0000-0000-000000000000 - Activity ID: 1111\\\",\\r\\n  "
    "\\\"CustomApiErrorPhrase\\\": \\\"\\\",\\r\\n  \\\"RetryAfter\\\": null\\r\\n}\","
    "\"innerError\":{\"date\":\"2022-02-21T13:39:53\",\"request-id\":\"rid-1\","
    "\"client-request-id\":\"crid-1\"}}}";

static void graph_error_full_intune_wrapped(void **state)
{
    ssync_graph_failure f = {0};
    f.http_status = 400;
    snprintf(f.method, sizeof f.method, "POST");
    snprintf(f.target, sizeof f.target, "/beta/deviceManagement/userPfxCertificates");
    assert_int_equal(ssync_graph_error_parse(INTUNE_400, strlen(INTUNE_400), &f), 1);
    assert_string_equal(f.code, "BadRequest");
    assert_non_null(strstr(f.message, "An error has occurred - Operation ID"));
    assert_null(strstr(f.message, "_version")); /* the wrapper is gone */
    assert_string_equal(f.request_id, "rid-1");
    assert_string_equal(f.client_request_id, "crid-1");
    assert_string_equal(f.date, "2022-02-21T13:39:53");
    char line[512];
    ssync_graph_failure_format(&f, line, sizeof line);
    assert_non_null(strstr(line, "POST /beta/deviceManagement/userPfxCertificates: HTTP 400 "
                                 "BadRequest: An error has occurred"));
    assert_non_null(strstr(line, "request-id rid-1"));
    assert_non_null(strstr(line, "client-request-id crid-1"));
    assert_non_null(strstr(line, "date 2022-02-21T13:39:53)"));
    assert_null(strchr(line, '\r'));
    assert_null(strchr(line, '\n'));
}

static void graph_error_partial_and_headers_win(void **state)
{
    ssync_graph_failure f = {0};
    snprintf(f.request_id, sizeof f.request_id, "from-header");
    const char *b = "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"Please retry again "
                    "later.\",\"innerError\":{\"request-id\":\"from-body\"}}}";
    assert_int_equal(ssync_graph_error_parse(b, strlen(b), &f), 1);
    assert_string_equal(f.code, "TooManyRequests");
    assert_string_equal(f.message, "Please retry again later.");
    assert_string_equal(f.request_id, "from-header");
    assert_string_equal(f.date, "");
    /* no innerError, doc spelling "innererror", wrong types */
    ssync_graph_failure g = {0};
    const char *c = "{\"error\":{\"code\":42,\"message\":[1],\"innererror\":{\"date\":\"d\"}}}";
    assert_int_equal(ssync_graph_error_parse(c, strlen(c), &g), 1);
    assert_string_equal(g.code, "");
    assert_string_equal(g.message, "");
    assert_string_equal(g.date, "d");
}

static void graph_error_garbage(void **state)
{
    ssync_graph_failure f = {0};
    const char *bad[] = {"<html>502 Bad Gateway</html>",
                         "{",
                         "[]",
                         "{\"error\":\"x\"}",
                         "{\"error\":null}",
                         "null",
                         "\"error\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ssync_graph_error_parse(bad[i], strlen(bad[i]), &f), 0);
    assert_int_equal(ssync_graph_error_parse(NULL, 0, &f), 0);
    assert_int_equal(ssync_graph_error_parse("{}", 0, &f), 0);
    assert_string_equal(f.code, "");
    char line[256];
    ssync_graph_failure_format(&f, line, sizeof line);
    assert_string_equal(line, "");
}

static void graph_error_huge_and_hostile(void **state)
{
    size_t n = 200000;
    char *msg = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        msg[i] = (i % 50 == 0) ? '\n' : 'A' + (char)(i % 26);
    msg[n] = '\0';
    json_t *j = json_pack("{s:{s:s,s:s,s:{s:s}}}", "error", "code", "X\r\nInjected: 1", "message",
                          msg, "innerError", "request-id", "\x1b[31mred");
    char *body = json_dumps(j, 0);
    ssync_graph_failure f = {0};
    assert_int_equal(ssync_graph_error_parse(body, strlen(body), &f), 1);
    assert_true(strlen(f.message) < sizeof f.message);
    assert_non_null(strstr(f.message, "..."));
    assert_string_equal(f.code, "X Injected: 1");
    assert_null(strchr(f.request_id, 0x1b));
    char line[512];
    ssync_graph_failure_format(&f, line, sizeof line);
    assert_true(strlen(line) < sizeof line);
    free(body);
    free(msg);
    json_decref(j);
}

static void entra_error(void **state)
{
    const char *b =
        "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client "
        "secret provided. Ensure the secret being sent in the request is the client secret "
        "value, not the client secret ID.\\r\\nTrace ID: t-1\\r\\nCorrelation ID: c-1\\r\\n"
        "Timestamp: 2024-01-01 10:00:00Z\",\"error_codes\":[7000215],\"timestamp\":\"2024-01-01 "
        "10:00:00Z\",\"trace_id\":\"t-1\",\"correlation_id\":\"c-1\",\"error_uri\":\"https://x\"}";
    ssync_graph_failure f = {0};
    f.http_status = 401;
    assert_int_equal(ssync_entra_error_parse(b, strlen(b), &f), 1);
    assert_string_equal(f.code, "invalid_client");
    assert_string_equal(f.aadsts, "AADSTS7000215");
    assert_true(strncmp(f.message, "Invalid client secret provided.", 31) == 0);
    assert_null(strstr(f.message, "Trace ID"));
    assert_string_equal(f.trace_id, "t-1");
    assert_string_equal(f.correlation_id, "c-1");
    assert_string_equal(f.date, "2024-01-01 10:00:00Z");
    char line[512];
    ssync_graph_failure_format(&f, line, sizeof line);
    assert_non_null(strstr(line, "HTTP 401 invalid_client AADSTS7000215: Invalid client secret"));
    assert_non_null(strstr(line, "trace-id t-1, correlation-id c-1"));
    /* without the AADSTS prefix: the code comes from error_codes */
    const char *c = "{\"error\":\"invalid_tenant\",\"error_description\":\"Tenant not found\","
                    "\"error_codes\":[90002]}";
    ssync_graph_failure g = {0};
    assert_int_equal(ssync_entra_error_parse(c, strlen(c), &g), 1);
    assert_string_equal(g.aadsts, "AADSTS90002");
    assert_string_equal(g.message, "Tenant not found");
    /* garbage */
    ssync_graph_failure h = {0};
    assert_int_equal(ssync_entra_error_parse("<html/>", 7, &h), 0);
    assert_int_equal(ssync_entra_error_parse("{\"error\":{\"code\":\"x\"}}", 22, &h), 0);
    assert_int_equal(ssync_entra_error_parse("{\"error\":\"x\",\"error_codes\":\"no\"}", 32, &h),
                     1);
    assert_string_equal(h.aadsts, "");
}

static void sanitize(void **state)
{
    char out[16];
    ssync_sanitize_line(out, sizeof out, "  a\r\n\tb  ", 9);
    assert_string_equal(out, "a b");
    ssync_sanitize_line(out, sizeof out, "0123456789abcdefghij", 20);
    assert_string_equal(out, "0123456789ab...");
    ssync_sanitize_line(out, sizeof out, NULL, 0);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(graph_error_full_intune_wrapped),
        cmocka_unit_test(graph_error_partial_and_headers_win),
        cmocka_unit_test(graph_error_garbage),
        cmocka_unit_test(graph_error_huge_and_hostile),
        cmocka_unit_test(entra_error),
        cmocka_unit_test(sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
