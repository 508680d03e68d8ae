/* The [source] user_map CSV and the line reader shared with the user list files. */
#include "testutil.h"

#include "sync/usermap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ssync_code parse(const char *text, ssync_usermap *m, ssync_error *e)
{
    return ssync_usermap_parse(text, strlen(text), "map.csv", m, e);
}

static void header_comments_and_case(void **state)
{
    (void)state;
    ssync_usermap m;
    ssync_error e = {0};
    const char *text = "\xef\xbb\xbf"
                       "certificate identity,userPrincipalName\r\n"
                       "# renamed after the merger\r\n"
                       "\r\n"
                       "  Old.Name@Corp.example , new.name@corp.example \r\n"
                       "\"quoted@corp.example\",\"someone@corp.example\"\n"
                       "last@corp.example,last.user@corp.example";
    assert_int_equal(parse(text, &m, &e), SSYNC_OK);
    assert_int_equal(m.n, 3);
    assert_string_equal(ssync_usermap_find(&m, "old.name@corp.example"), "new.name@corp.example");
    assert_string_equal(ssync_usermap_find(&m, "OLD.NAME@CORP.EXAMPLE"), "new.name@corp.example");
    assert_string_equal(ssync_usermap_find(&m, "quoted@corp.example"), "someone@corp.example");
    assert_string_equal(ssync_usermap_find(&m, "last@corp.example"), "last.user@corp.example");
    assert_null(ssync_usermap_find(&m, "new.name@corp.example"));
    assert_null(ssync_usermap_find(&m, NULL));
    assert_null(ssync_usermap_find(NULL, "last@corp.example"));
    ssync_usermap_free(&m);
}

static void no_header_and_empty(void **state)
{
    (void)state;
    ssync_usermap m;
    ssync_error e = {0};
    assert_int_equal(parse("a@x.example,b@x.example\n", &m, &e), SSYNC_OK);
    assert_int_equal(m.n, 1);
    assert_string_equal(ssync_usermap_find(&m, "A@x.example"), "b@x.example");
    ssync_usermap_free(&m);
    assert_int_equal(parse("# nothing\n\n", &m, &e), SSYNC_OK);
    assert_int_equal(m.n, 0);
    assert_null(ssync_usermap_find(&m, "a@x.example"));
    ssync_usermap_free(&m);
    /* the same mapping twice is harmless */
    assert_int_equal(parse("a@x.example,b@x.example\nA@X.example,B@x.example\n", &m, &e), SSYNC_OK);
    ssync_usermap_free(&m);
}

static void bad_lines_name_file_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"a@x.example,b@x.example\njust-one-field\n", "map.csv:2: expected"},
        {"# c\na@x.example,b@x.example,c@x.example\n", "map.csv:2: more than two fields"},
        {"a@x.example,b@x.example\nnot an address,b@x.example\n", "map.csv:2: 'not an address'"},
        {"a@x.example,b@x.example\nc@x.example,nobody\n", "map.csv:2: 'nobody' is not a user"},
        {"a@x.example,b@x.example\n\nA@x.example,c@x.example\n",
         "map.csv:3: 'A@x.example' is already mapped to another user on line 1"},
        {"a@x.example,\n", "map.csv:1: '' is not a userPrincipalName"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ssync_usermap m;
        ssync_error e = {0};
        assert_int_equal(parse(cases[i].text, &m, &e), SSYNC_ERR_CONFIG);
        if (!strstr(e.msg, cases[i].want))
            fail_msg("case %zu: '%s' does not contain '%s'", i, e.msg, cases[i].want);
        assert_null(m.v);
    }
}

static void load_from_file(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/map.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("mail,upn\nx@y.example,z@y.example\nbroken line\n", f);
    fclose(f);
    ssync_usermap m;
    ssync_error e = {0};
    assert_int_equal(ssync_usermap_load(path, &m, &e), SSYNC_ERR_CONFIG);
    char want[700];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_non_null(strstr(e.msg, want));
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    assert_int_not_equal(ssync_usermap_load(path, &m, &e), SSYNC_OK);
    assert_non_null(strstr(e.msg, "[source] user_map"));
    test_rmtree(dir);
    free(dir);
    assert_int_equal(ssync_usermap_load(NULL, &m, &e), SSYNC_ERR_ARG);
}

static void line_reader(void **state)
{
    (void)state;
    char text[] = "  one \r\n#c\n\n\t two\nthree";
    size_t pos = 0, line = 0;
    char *l = ssync_text_next_line(text, strlen(text), &pos, &line);
    assert_string_equal(l, "one");
    assert_int_equal(line, 1);
    l = ssync_text_next_line(text, sizeof text - 1, &pos, &line);
    assert_string_equal(l, "two");
    assert_int_equal(line, 4);
    l = ssync_text_next_line(text, sizeof text - 1, &pos, &line);
    assert_string_equal(l, "three");
    assert_int_equal(line, 5);
    assert_null(ssync_text_next_line(text, sizeof text - 1, &pos, &line));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_comments_and_case),
        cmocka_unit_test(no_header_and_empty),
        cmocka_unit_test(bad_lines_name_file_and_line),
        cmocka_unit_test(load_from_file),
        cmocka_unit_test(line_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
