/* Graph / Entra error parsing, filter escaping, paging helpers (src/lib/graph_parse.c). */
#include "testutil.h"

#include "graph/graph.h"
#include "graph/graph_parse.h"

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

static void odata_quote_and_escape(void **state)
{
    char *q = ssync_odata_quote("o'brien");
    assert_string_equal(q, "'o''brien'");
    free(q);
    q = ssync_odata_quote("''");
    assert_string_equal(q, "''''''");
    free(q);
    char *e = ssync_url_escape("a b+c#d&e=f/g?h%i'j~k-l.m_n");
    assert_string_equal(e, "a%20b%2Bc%23d%26e%3Df%2Fg%3Fh%25i%27j~k-l.m_n");
    free(e);
}

static void pfx_filter(void **state)
{
    char *q = ssync_pfx_filter_query("O'Brien+Test#EXT#&x@Contoso.COM", NULL);
    assert_string_equal(q, "$filter=tolower%28userPrincipalName%29%20eq%20%27o%27%27brien%2Btest"
                           "%23ext%23%26x%40contoso.com%27");
    free(q);
    q = ssync_pfx_filter_query("j\xc3\xbcrgen@example.com",
                               "ABCDEF0123456789ABCDEF0123456789ABCDEF01");
    assert_string_equal(q, "$filter=tolower%28userPrincipalName%29%20eq%20%27j%C3%BCrgen%40example."
                           "com%27%20and%20tolower%28thumbprint%29%20eq%20%27abcdef0123456789abcd"
                           "ef0123456789abcdef01%27");
    free(q);
    assert_null(ssync_pfx_filter_query("", NULL));
    assert_null(ssync_pfx_filter_query(NULL, NULL));
}

static void user_filters(void **state)
{
    char *q = ssync_user_filter_query(SSYNC_USER_BY_UPN, "a'b@x.com");
    assert_string_equal(q, "$filter=userPrincipalName%20eq%20%27a%27%27b%40x.com%27&$select=id,"
                           "userPrincipalName,mail");
    free(q);
    q = ssync_user_filter_query(SSYNC_USER_BY_MAIL, "A+B@x.com");
    assert_string_equal(q, "$filter=mail%20eq%20%27A%2BB%40x.com%27&$select=id,userPrincipalName,"
                           "mail");
    free(q);
    q = ssync_user_filter_query(SSYNC_USER_BY_PROXY, "a@x.com");
    assert_string_equal(q, "$filter=proxyAddresses%2Fany%28x%3Ax%20eq%20%27smtp%3Aa%40x.com%27%29"
                           "&$select=id,userPrincipalName,mail");
    free(q);
    assert_null(ssync_user_filter_query(SSYNC_USER_BY_UPN, ""));
    assert_null(ssync_user_filter_query((ssync_user_key)99, "a"));
}

static void nextlink_host_check(void **state)
{
    const char *base = "https://graph.microsoft.com";
    assert_true(ssync_nextlink_allowed(
        "https://graph.microsoft.com/beta/deviceManagement/userPfxCertificates?$skiptoken=abc",
        base));
    assert_true(ssync_nextlink_allowed("https://GRAPH.microsoft.com:443/beta/x", base));
    assert_false(ssync_nextlink_allowed("http://graph.microsoft.com/beta/x", base));
    assert_false(ssync_nextlink_allowed("https://evil.example/beta/x", base));
    assert_false(ssync_nextlink_allowed("https://graph.microsoft.com.evil.example/x", base));
    assert_false(ssync_nextlink_allowed("https://graph.microsoft.com@evil.example/x", base));
    assert_false(ssync_nextlink_allowed("https://graph.microsoft.com:8443/x", base));
    assert_false(ssync_nextlink_allowed("/beta/x", base));
    assert_false(ssync_nextlink_allowed("", base));
    assert_false(ssync_nextlink_allowed(NULL, base));
    assert_true(ssync_nextlink_allowed("https://127.0.0.1:4443/beta/x?$skiptoken=2",
                                       "https://127.0.0.1:4443"));
    assert_false(ssync_nextlink_allowed("https://127.0.0.1:4444/beta/x", "https://127.0.0.1:4443"));
}

static void linkset_detects_loops(void **state)
{
    ssync_linkset s = {0};
    char link[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(link, sizeof link, "https://g/beta/x?$skiptoken=%d", i);
        assert_int_equal(ssync_linkset_add(&s, link), 1);
    }
    assert_int_equal(ssync_linkset_add(&s, "https://g/beta/x?$skiptoken=17"), 0);
    assert_int_equal(ssync_linkset_add(&s, "https://g/beta/x?$skiptoken=4999"), 0);
    assert_int_equal(ssync_linkset_add(&s, "https://g/beta/x?$skiptoken=5000"), 1);
    assert_int_equal(s.count, 5001);
    ssync_linkset_free(&s);
    assert_int_equal(ssync_linkset_add(NULL, "x"), -1);
}

static const char PAGE[] =
    "{\"@odata.context\":\"https://g/beta/$metadata#deviceManagement/userPfxCertificates\","
    "\"value\":[{\"@odata.type\":\"#microsoft.graph.userPFXCertificate\",\"id\":\"5ffff976dffffe49"
    "affff8978fffff25-0ffff8962ffffdea9ffff8e83ffff1d83ffff6ae\",\"thumbprint\":\"0FFFF8962FFFFDEA9"
    "FFFF8E83FFFF1D83FFFF6AE\",\"intendedPurpose\":\"smimeEncryption\",\"userPrincipalName\":"
    "\"Bob@contoso.com\",\"startDateTime\":\"2024-01-01T00:00:00Z\",\"expirationDateTime\":"
    "\"2026-01-01T00:00:00Z\",\"providerName\":\"Microsoft Software Key Storage Provider\","
    "\"keyName\":\"PFXEncryptionKey\",\"paddingScheme\":\"oaepSha512\",\"encryptedPfxBlob\":\"AA=="
    "\","
    "\"encryptedPfxPassword\":\"\"},{\"id\":\"x-1\",\"thumbprint\":\"abc-enc\","
    "\"userPrincipalName\":"
    "\"alice@contoso.com\"}],\"@odata.nextLink\":\"https://g/beta/x?$skiptoken=2\"}";

static void page_parse_ok(void **state)
{
    ssync_pfx_list l = {0};
    char *next = NULL;
    ssync_error e;
    assert_int_equal(ssync_pfx_page_parse(PAGE, strlen(PAGE), &l, &next, &e), SSYNC_OK);
    assert_int_equal(l.count, 2);
    assert_string_equal(next, "https://g/beta/x?$skiptoken=2");
    free(next);
    ssync_pfx_entry *a = &l.items[0];
    assert_string_equal(a->thumbprint, "0ffff8962ffffdea9ffff8e83ffff1d83ffff6ae");
    assert_true(a->thumbprint_valid);
    assert_string_equal(a->intended_purpose, "smimeEncryption");
    assert_string_equal(a->padding_scheme, "oaepSha512");
    assert_string_equal(a->key_name, "PFXEncryptionKey");
    assert_null(a->created_date_time);
    assert_false(l.items[1].thumbprint_valid);
    assert_null(l.items[1].start_date_time);
    /* last page: no nextLink; entries appended */
    const char *p2 = "{\"value\":[{\"id\":\"y\",\"userPrincipalName\":\"Alice@contoso.com\","
                     "\"thumbprint\":\"00\"}],\"@odata.nextLink\":null}";
    assert_int_equal(ssync_pfx_page_parse(p2, strlen(p2), &l, &next, &e), SSYNC_OK);
    assert_null(next);
    assert_int_equal(l.count, 3);
    ssync_pfx_list_sort(&l);
    assert_string_equal(l.items[0].thumbprint, "00");
    const ssync_pfx_entry *f =
        ssync_pfx_list_find(&l, "BOB@CONTOSO.COM", "0ffff8962ffffdea9ffff8e83ffff1d83ffff6ae");
    assert_non_null(f);
    assert_string_equal(f->user_principal_name, "Bob@contoso.com");
    assert_null(ssync_pfx_list_find(&l, "bob@contoso.com", "00"));
    assert_non_null(ssync_pfx_list_find(&l, "alice@contoso.com", "ABC-ENC"));
    ssync_pfx_list_free(&l);
    /* empty page */
    assert_int_equal(ssync_pfx_page_parse("{\"value\":[]}", 12, &l, &next, &e), SSYNC_OK);
    assert_int_equal(l.count, 0);
    ssync_pfx_list_free(&l);
}

static void page_parse_hostile(void **state)
{
    const char *bad[] = {
        "",
        "not json",
        "[]",
        "{}",
        "{\"value\":{}}",
        "{\"value\":[1]}",
        "{\"value\":[{}]}",
        "{\"value\":[{\"id\":7}]}",
        "{\"value\":[{\"id\":\"\"}]}",
        "{\"value\":[],\"@odata.nextLink\":7}",
        "{\"value\":[],\"@odata.nextLink\":\"\"}",
        "{\"value\":[{\"id\":\"a\\u0000b\"}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssync_pfx_list l = {0};
        char *next = NULL;
        ssync_error e = {0};
        ssync_code rc = ssync_pfx_page_parse(bad[i], strlen(bad[i]), &l, &next, &e);
        if (rc != SSYNC_ERR_GRAPH_RESPONSE)
            fail_msg("case %zu accepted (%d)", i, rc);
        assert_null(next);
        assert_true(strlen(e.msg) > 0);
        ssync_pfx_list_free(&l);
    }
    /* deep nesting does not crash */
    size_t depth = 100000;
    char *deep = malloc(depth * 2 + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[depth * 2] = '\0';
    ssync_pfx_list l = {0};
    char *next = NULL;
    ssync_error e;
    assert_int_equal(ssync_pfx_page_parse(deep, depth * 2, &l, &next, &e),
                     SSYNC_ERR_GRAPH_RESPONSE);
    free(deep);
}

static void member_pages(void **state)
{
    (void)state;
    char **upns = NULL, *next = NULL;
    size_t count = 0, cap = 0;
    ssync_error e;
    const char *p1 =
        "{\"@odata.context\":\"x\",\"value\":[{\"id\":\"1\",\"userPrincipalName\":"
        "\"a@x.example\"},{\"id\":\"2\",\"userPrincipalName\":\"b\\u0007@x.example\"}],"
        "\"@odata.nextLink\":\"https://graph.example/v1.0/groups/g/next\"}";
    assert_int_equal(ssync_member_page_parse(p1, strlen(p1), &upns, &count, &cap, &next, &e),
                     SSYNC_OK);
    assert_int_equal(count, 2);
    assert_string_equal(upns[0], "a@x.example");
    assert_string_equal(upns[1], "b @x.example"); /* control characters never pass through */
    assert_string_equal(next, "https://graph.example/v1.0/groups/g/next");
    free(next);
    const char *p2 = "{\"value\":[{\"id\":\"3\",\"userPrincipalName\":\"c@x.example\"}]}";
    assert_int_equal(ssync_member_page_parse(p2, strlen(p2), &upns, &count, &cap, &next, &e),
                     SSYNC_OK);
    assert_int_equal(count, 3);
    assert_null(next);

    /* hostile pages fail and append nothing */
    static const char *const bad[] = {"",
                                      "[]",
                                      "{\"value\":{}}",
                                      "{\"value\":[1]}",
                                      "{\"value\":[{\"id\":\"4\"}]}",
                                      "{\"value\":[{\"userPrincipalName\":\"\"}]}",
                                      "{\"value\":[],\"@odata.nextLink\":5}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            ssync_member_page_parse(bad[i], strlen(bad[i]), &upns, &count, &cap, &next, &e),
            SSYNC_ERR_GRAPH_RESPONSE);
        assert_null(next);
        assert_int_equal(count, 3);
    }
    assert_int_equal(ssync_member_page_parse(p2, strlen(p2), NULL, &count, &cap, &next, &e),
                     SSYNC_ERR_ARG);
    ssync_group_members m = {upns, count, cap};
    ssync_group_members_free(&m);
    assert_null(m.upns);
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
        cmocka_unit_test(odata_quote_and_escape),
        cmocka_unit_test(pfx_filter),
        cmocka_unit_test(user_filters),
        cmocka_unit_test(nextlink_host_check),
        cmocka_unit_test(linkset_detects_loops),
        cmocka_unit_test(page_parse_ok),
        cmocka_unit_test(page_parse_hostile),
        cmocka_unit_test(member_pages),
        cmocka_unit_test(sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
