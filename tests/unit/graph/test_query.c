/* OData quoting, URL escaping, filters, nextLink checks and the link set
 * (src/lib/graph/query.c). */
#include "testutil.h"

#include "graph/query.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                           "&$select=id,userPrincipalName,mail,proxyAddresses");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_quote_and_escape), cmocka_unit_test(pfx_filter),
        cmocka_unit_test(user_filters),           cmocka_unit_test(nextlink_host_check),
        cmocka_unit_test(linkset_detects_loops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
