/* userPfxCertificate pages, group member pages, sort and find, record ids
 * (src/lib/graph/model.c). */
#include "testutil.h"

#include "graph/graph.h"
#include "graph/model.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void record_id(void **state)
{
    (void)state;
    char id[80];
    ssync_error e;
    const char *guid = "6B0E1C5A-1234-4A5B-8C9D-0123456789AB";
    const char *thumb = "ABCDEF0123456789ABCDEF0123456789ABCDEF01";
    assert_int_equal(ssync_pfx_record_id(guid, thumb, id, &e), SSYNC_OK);
    assert_string_equal(
        id, "6b0e1c5a12344a5b8c9d0123456789ab-abcdef0123456789abcdef0123456789abcdef01");
    assert_int_equal(ssync_pfx_record_id("not-a-guid", thumb, id, &e), SSYNC_ERR_ARG);
    assert_string_equal(id, "");
    assert_int_equal(ssync_pfx_record_id(guid, "abcdef", id, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_pfx_record_id(guid, thumb, NULL, &e), SSYNC_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_parse_ok),
        cmocka_unit_test(page_parse_hostile),
        cmocka_unit_test(member_pages),
        cmocka_unit_test(record_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
