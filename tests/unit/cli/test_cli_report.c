/* The CLI's report (src/cli/cli_report.c, compiled in here: the CLI is not a library): the
 * document built from a plan and a sync's results, its text and JSON renderings, file names. */
#include "testutil.h"

#include "../../../src/cli/cli_text.c"
#include "../../../src/cli/cli_report.c"
#include "../../../src/cli/cli_report_render.c"
#include "../../../src/cli/cli_report_html.c"

#include <sys/stat.h>

static ssync_plan_item *add(ssync_plan *p, char digit, const char *upn, ssync_plan_action a,
                            const char *reason)
{
    ssync_plan_item *it = ssync_plan_add(p);
    assert_non_null(it);
    memset(it->thumbprint, digit, 40);
    it->upn = strdup(upn);
    it->action = a;
    ssync_plan_note(&it->reason, "%s", reason);
    return it;
}

/* upload done, upload failed (with request id), remove cancelled, keep with a warning, skip
 * that cannot be recovered */
static void sample(ssync_plan *p, ssync_item_result res[5])
{
    add(p, 'a', "a@x", SSYNC_ACT_UPLOAD, "not in Intune");
    add(p, 'b', "b@x", SSYNC_ACT_UPLOAD, "not in Intune");
    add(p, 'c', "c@x", SSYNC_ACT_REMOVE, "certificate revoked");
    ssync_plan_item *k = add(p, 'd', "d@x", SSYNC_ACT_KEEP, "in Intune");
    ssync_plan_note(&k->warning, "no SAN e-mail equals the user's mail");
    ssync_plan_item *s = add(p, 'e', "e@x", SSYNC_ACT_SKIP, "cannot be recovered");
    s->code = SSYNC_ERR_KRA_NOT_HELD;
    ssync_plan_note(&s->error, "no held KRA key");
    memset(res, 0, 5 * sizeof *res);
    res[0].wrote = 1;
    strcpy(res[0].request_id, "11111111-0000-0000-0000-000000000001");
    res[1].error = "HTTP 400 BadRequest";
    res[1].code = SSYNC_ERR_GRAPH;
    strcpy(res[1].request_id, "22222222-0000-0000-0000-000000000002");
    res[2].error = "cancelled: not sent (interrupted)";
    res[2].cancelled = 1;
}

static const json_t *item(const json_t *doc, size_t i)
{
    return json_array_get(json_object_get(doc, "items"), i);
}

static void test_build_sync(void **state)
{
    (void)state;
    ssync_plan p = {0};
    ssync_item_result res[5];
    sample(&p, res);
    ssync_graph_stats st = {.requests = 9, .writes = 2, .retries = 1, .throttled = 1};
    struct cli_report_meta m = {.command = "sync",
                                .config_path = "/etc/s.conf",
                                .run_id = 7,
                                .started = 1800000000,
                                .ended = 1800000061,
                                .interrupted = 1,
                                .resumed = 3,
                                .stats = &st};
    cli_run_report *rep = cli_report_build(&m, &p, res);
    assert_non_null(rep);
    json_t *doc = cli_report_document(rep);
    assert_non_null(doc);
    /* the --json shape, plus the run's fields */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "counts"), "upload")),
                     1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "counts"), "keep")),
                     1);
    assert_int_equal(cli_report_failed(rep), 3);
    const json_t *oc = json_object_get(doc, "outcomes");
    assert_int_equal(json_integer_value(json_object_get(oc, "done")), 1);
    assert_int_equal(json_integer_value(json_object_get(oc, "skipped")), 1);
    assert_int_equal(json_integer_value(json_object_get(oc, "resumed")), 3);
    assert_int_equal(json_integer_value(json_object_get(oc, "cancelled")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "writes"), "planned")),
                     3);
    assert_true(json_is_true(json_object_get(doc, "interrupted")));
    assert_string_equal(json_string_value(json_object_get(doc, "started")), "2027-01-15T08:00:00Z");
    assert_string_equal(json_string_value(json_object_get(item(doc, 0), "outcome")), "done");
    assert_string_equal(json_string_value(json_object_get(item(doc, 1), "requestId")),
                        "22222222-0000-0000-0000-000000000002");
    assert_string_equal(json_string_value(json_object_get(item(doc, 1), "error")),
                        "HTTP 400 BadRequest");
    assert_string_equal(json_string_value(json_object_get(item(doc, 4), "error")),
                        "no held KRA key");
    /* failures carry the error table's stable name, for scripts */
    assert_string_equal(json_string_value(json_object_get(item(doc, 1), "code")),
                        "SSYNC_ERR_GRAPH");
    assert_string_equal(json_string_value(json_object_get(item(doc, 4), "code")),
                        "SSYNC_ERR_KRA_NOT_HELD");
    assert_null(json_object_get(item(doc, 0), "code"));
    assert_string_equal(json_string_value(json_object_get(item(doc, 3), "warning")),
                        "no SAN e-mail equals the user's mail");
    assert_int_equal(json_array_size(json_object_get(doc, "warnings")), 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "graph"), "throttled")), 1);

    char *text = cli_report_render(rep, "text");
    assert_non_null(text);
    assert_non_null(strstr(text, "run:         7\n"));
    assert_non_null(strstr(text, "counts:      1 upload, 0 remove, 1 keep, 0 skip, 3 failed\n"));
    assert_non_null(
        strstr(text, "outcomes:    1 done, 3 failed, 1 skipped, 3 resumed, 1 cancelled\n"));
    assert_non_null(strstr(text, "graph:       9 requests, 2 writes, 1 retries, 1 throttled\n"));
    assert_non_null(strstr(text, "  upload bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb b@x: HTTP 400 "
                                 "BadRequest (request-id 22222222-0000-0000-0000-000000000002)\n"));
    assert_non_null(strstr(text, "\nwarnings:\n  dddddddddddddddddddddddddddddddddddddddd d@x: no "
                                 "SAN e-mail"));
    assert_non_null(strstr(text, "       warning: no SAN e-mail"));
    free(text);
    /* written item by item, read back as one document: the same */
    char *js = cli_report_render(rep, "json");
    json_t *back = json_loads(js, 0, NULL);
    assert_true(json_equal(back, doc));
    json_decref(back);
    free(js);
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    cli_report_print(rep, 1, f); /* --json: one line */
    fclose(f);
    assert_non_null(strchr(line, '\n'));
    assert_true(strchr(line, '\n') == line + len - 1);
    back = json_loads(line, 0, NULL);
    assert_true(json_equal(back, doc));
    json_decref(back);
    free(line);
    assert_null(cli_report_render(rep, "pdf"));
    json_decref(doc);
    cli_report_free(rep);
    for (size_t i = 0; i < p.count; i++)
        free(p.items[i].upn), p.items[i].upn = NULL;
    ssync_plan_free(&p);
}

static void test_build_plan(void **state)
{
    (void)state;
    ssync_plan p = {0};
    ssync_item_result res[5];
    sample(&p, res);
    struct cli_report_meta m = {.command = "plan"};
    cli_run_report *rep = cli_report_build(&m, &p, NULL);
    assert_non_null(rep);
    json_t *doc = cli_report_document(rep);
    /* a plan has no outcome, no run and no Graph figures */
    assert_null(json_object_get(doc, "outcomes"));
    assert_null(json_object_get(doc, "runId"));
    assert_null(json_object_get(doc, "graph"));
    assert_null(json_object_get(item(doc, 0), "outcome"));
    assert_int_equal(cli_report_failed(rep), 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cli_report_print(rep, 0, f);
    fclose(f);
    assert_non_null(strstr(buf, "plan: 2 upload, 1 remove, 1 keep, 0 skip, 1 failed\n"));
    assert_non_null(strstr(buf, "upload aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa a@x"));
    free(buf);
    json_decref(doc);
    cli_report_free(rep);
    for (size_t i = 0; i < p.count; i++)
        free(p.items[i].upn), p.items[i].upn = NULL;
    ssync_plan_free(&p);
}

static void test_names_and_write(void **state)
{
    (void)state;
    assert_string_equal(cli_report_format_for("r.json"), "json");
    assert_string_equal(cli_report_format_for("R.JSON"), "json");
    assert_string_equal(cli_report_format_for("r.txt"), "text");
    assert_string_equal(cli_report_format_for("json"), "text");
    char out[256];
    assert_int_equal(cli_report_dir(out, sizeof out, "/var/lib/smimesync/state.db"), 0);
    assert_string_equal(out, "/var/lib/smimesync/reports");
    assert_int_equal(cli_report_dir(out, sizeof out, "state.db"), 0);
    assert_string_equal(out, "reports");
    assert_int_equal(cli_report_dir(out, sizeof out, "/state.db"), 0);
    assert_string_equal(out, "/reports");
    assert_int_equal(cli_report_dir(out, 8, "/var/lib/smimesync/state.db"), -1);
    assert_int_equal(cli_report_file_name(out, sizeof out, "/r", "sync", 42, 1800000000, "txt"), 0);
    assert_string_equal(out, "/r/sync-42-20270115T080000Z.txt");

    char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/r.json", dir);
    ssync_plan empty = {0};
    struct cli_report_meta m = {.command = "sync"};
    cli_run_report *rep = cli_report_build(&m, &empty, NULL);
    json_t *doc = cli_report_document(rep);
    ssync_error e = {0};
    assert_int_equal(cli_report_write(rep, path, &e), SSYNC_OK);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    json_t *back = json_load_file(path, 0, NULL);
    assert_true(json_equal(back, doc));
    json_decref(back);
    snprintf(path, sizeof path, "%s/missing/r.txt", dir);
    assert_int_not_equal(cli_report_write(rep, path, &e), SSYNC_OK);
    json_decref(doc);
    cli_report_free(rep);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_sync),
        cmocka_unit_test(test_build_plan),
        cmocka_unit_test(test_names_and_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
