/* The HTML report (src/cli/cli_report_html.c, compiled in with cli_report.c): chosen by the
 * file name, self-contained, totals on top, one block per user with a row per certificate,
 * the Graph request-id of every write (failed or done), and everything from the data escaped. */
#include "testutil.h"

#include "../../../src/cli/cli_text.c"
#include "../../../src/cli/cli_report.c"
#include "../../../src/cli/cli_report_render.c"
#include "../../../src/cli/cli_report_html.c"

static ssync_plan_item *add(ssync_plan *p, char digit, const char *upn, ssync_plan_action a)
{
    ssync_plan_item *it = ssync_plan_add(p);
    assert_non_null(it);
    memset(it->thumbprint, digit, 40);
    it->upn = strdup(upn);
    it->action = a;
    ssync_plan_note(&it->reason, "not in Intune");
    return it;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_html(void **state)
{
    (void)state;
    ssync_plan p = {0};
    ssync_plan_item *a = add(&p, 'a', "ann@x", SSYNC_ACT_UPLOAD);
    snprintf(a->serial, sizeof a->serial, "1A2B");
    a->not_after = 1800000000;
    a->request_id = 4711;
    add(&p, 'b', "<script>bob&co</script>@x", SSYNC_ACT_UPLOAD);
    add(&p, 'c', "ann@x", SSYNC_ACT_KEEP);
    ssync_item_result res[3] = {{0}};
    res[0].wrote = 1;
    strcpy(res[0].request_id, "11111111-0000-0000-0000-000000000001");
    res[1].error = "HTTP 400 BadRequest: \"bad\" <input>";
    strcpy(res[1].request_id, "22222222-0000-0000-0000-000000000002");
    struct cli_report_meta m = {.command = "sync", .config_path = "/etc/s.conf", .run_id = 9};
    cli_run_report *rep = cli_report_build(&m, &p, res);
    assert_non_null(rep);
    json_t *first = cli_report_item(rep, 0);
    assert_string_equal(json_string_value(json_object_get(first, "serial")), "1A2B");
    json_decref(first);

    assert_string_equal(cli_report_format_for("r.html"), "html");
    assert_string_equal(cli_report_format_for("R.HTM"), "html");
    char *html = cli_report_render(rep, "html");
    assert_non_null(html);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    /* self-contained: no script, no link, no external reference */
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "href="));
    assert_null(strstr(html, "http:"));
    assert_null(strstr(html, "https:"));
    /* totals on top, before the table */
    const char *tot = strstr(html, "id=\"total-failed\"><b>1</b>");
    assert_non_null(tot);
    assert_true(tot < strstr(html, "<table"));
    assert_non_null(strstr(html, "id=\"total-upload\"><b>1</b>"));
    assert_non_null(strstr(html, "id=\"total-done\"><b>1</b>"));
    /* one block per user: ann's two certificates share one user cell */
    assert_int_equal(count(html, "<tbody class=\"user\">"), 2);
    assert_non_null(strstr(html, "<td rowspan=\"2\" class=\"upn\">ann@x</td>"));
    assert_non_null(strstr(html, "serial <code>1A2B</code><br>expires 2027-01-15T08:00:00Z"));
    /* escaped data; the request-ids of the failure and of the success shown (issue 17) */
    assert_non_null(strstr(html, "&lt;script&gt;bob&amp;co&lt;/script&gt;@x"));
    assert_non_null(strstr(html, "HTTP 400 BadRequest: &quot;bad&quot; &lt;input&gt;"));
    assert_non_null(strstr(html, "22222222-0000-0000-0000-000000000002"));
    assert_non_null(
        strstr(html, "<td class=\"request-id\">11111111-0000-0000-0000-000000000001</td>"));
    /* users in first-seen order, each user's certificates in plan order */
    assert_true(strstr(html, "class=\"upn\">ann@x") < strstr(html, "class=\"upn\">&lt;script"));
    assert_true(strstr(html, "<code>aaaa") < strstr(html, "<code>cccc"));
    assert_true(strstr(html, "<code>cccc") < strstr(html, "<code>bbbb"));
    free(html);
    cli_report_free(rep);
    for (size_t i = 0; i < p.count; i++)
        free(p.items[i].upn), p.items[i].upn = NULL;
    ssync_plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
