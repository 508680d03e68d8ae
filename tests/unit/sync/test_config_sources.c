/* [source "NAME"] sections: several CA sources in one configuration (config.c, config_text.c). */
#include "testutil.h"

#include "sync/config.h"

#include <stdio.h>
#include <string.h>

static const char *const two = "[source \"issuing-ca-1\"]\n"
                               "type = edb\n"
                               "path = /srv/ca1/ca1.edb\n"
                               "ca = /srv/ca1/ca.cer\n"
                               "crl = /srv/ca1/ca.crl\n"
                               "kra_key = /srv/ca1/kra.p12\n"
                               "kra_password_file = /srv/ca1/kra.pass\n"
                               "templates = SMIMEEncryption\n"
                               "incremental = yes\n"
                               "[source \"issuing-ca-2\"]\n"
                               "type = blobs\n"
                               "path = /srv/ca2/blobs\n"
                               "ca = /srv/ca2/ca.cer\n"
                               "crl = /srv/ca2/a.crl, /srv/ca2/b.crl\n"
                               "users_deny = /srv/ca2/deny.txt\n"
                               "[kra]\n"
                               "key = /etc/smimesync/kra.p12\n";

static void named_sections_are_sources_in_file_order(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string(two, "t.conf", &c, &e), SSYNC_OK);
    assert_int_equal(ssync_config_source_count(&c), 2);
    const ssync_source_cfg *a = ssync_config_source_at(&c, 0), *b = ssync_config_source_at(&c, 1);
    assert_null(ssync_config_source_at(&c, 2));
    assert_string_equal(a->name, "issuing-ca-1");
    assert_int_equal(a->type, SSYNC_SOURCE_EDB);
    assert_string_equal(a->path, "/srv/ca1/ca1.edb");
    assert_int_equal(a->crl.n, 1);
    assert_int_equal(a->kra.key.n, 1);
    assert_string_equal(a->kra.key.v[0], "/srv/ca1/kra.p12");
    assert_int_equal(a->kra.password_file.n, 1);
    assert_int_equal(a->templates.n, 1);
    assert_true(a->incremental);
    assert_string_equal(b->name, "issuing-ca-2");
    assert_int_equal(b->type, SSYNC_SOURCE_BLOBS);
    assert_int_equal(b->crl.n, 2);
    assert_int_equal(b->kra.key.n, 0); /* takes [kra]'s */
    assert_string_equal(b->users_deny, "/srv/ca2/deny.txt");
    assert_int_equal(b->templates.n, 0); /* nothing leaks from the other section */
    assert_int_equal(c.kra.key.n, 1);
    ssync_config_free(&c);
}

static void single_source_is_named_default(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("[source]\npath = /b\n", "t.conf", &c, &e),
                     SSYNC_OK);
    assert_int_equal(ssync_config_source_count(&c), 1);
    assert_ptr_equal(ssync_config_source_at(&c, 0), &c.source);
    assert_string_equal(ssync_source_name(ssync_config_source_at(&c, 0)), "default");
    ssync_config_free(&c);
    /* no source section at all: the default [source] (check says its path is not set) */
    assert_int_equal(ssync_config_parse_string("[state]\npath = /s\n", "t.conf", &c, &e), SSYNC_OK);
    assert_int_equal(ssync_config_source_count(&c), 1);
    assert_null(ssync_config_source_at(&c, 0)->path);
    ssync_config_free(&c);
    /* [source] beside named ones: the first source, "default" */
    assert_int_equal(ssync_config_parse_string("[source \"b\"]\npath = /b\n[source]\npath = /a\n",
                                               "t.conf", &c, &e),
                     SSYNC_OK);
    assert_int_equal(ssync_config_source_count(&c), 2);
    assert_string_equal(ssync_config_source_at(&c, 0)->name, "default");
    assert_string_equal(ssync_config_source_at(&c, 0)->path, "/a");
    assert_string_equal(ssync_config_source_at(&c, 1)->name, "b");
    ssync_config_free(&c);
}

static void expect_error(const char *text, const char *needle)
{
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string(text, "bad.conf", &c, &e), SSYNC_ERR_CONFIG);
    if (!strstr(e.msg, needle))
        fail_msg("'%s' not in '%s'", needle, e.msg);
    ssync_config_free(&c);
}

static void duplicate_names_are_refused(void **state)
{
    (void)state;
    expect_error("[source \"a\"]\npath = /a\n[kra]\nkey = k\n[source \"a\"]\ntype = edb\n",
                 "bad.conf:5: [source \"a\"]: a source of that name is already defined");
    /* an empty repeated section too: inih would never say */
    expect_error("[source \"a\"]\n[source \"a\"]\npath = /a\n", "bad.conf:2:");
    expect_error("[source]\npath = /a\n[source \"default\"]\npath = /b\n",
                 "[source \"default\"] and [source] are the same source");
    /* the same key in two sections is fine, twice in one is not */
    expect_error("[source \"a\"]\npath = /a\npath = /b\n",
                 "bad.conf:3: key 'path' in [source \"a\"]: given twice");
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("[source \"a\"]\npath = /a\n[source \"b\"]\npath = "
                                               "/b\n",
                                               "ok.conf", &c, &e),
                     SSYNC_OK);
    ssync_config_free(&c);
}

static void bad_names_are_refused_with_their_line(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[source \"a b\"]\n",    "[source \"\"]\n",     "[source a]\n",
        "[source \"x/../y\"]\n", "[source \"a\"x\"]\n", "[source \"caf\xc3\xa9\"]\n",
        "[source \"a\";x]\n",    "[source \"a]\n",      "[source \"$(id)\"]\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[200];
        snprintf(text, sizeof text, "[state]\npath = /s\n%spath = /p\n", bad[i]);
        expect_error(text, "bad.conf:3:");
        expect_error(text, "not a source name");
    }
    /* the header is shown in printable ASCII only */
    expect_error("[source \"a\x1b[2Jb\"]\npath = /p\n", "[source \"a?[2Jb\"]: not a source name");
    /* comments are not headers; CRLF line ends are */
    ssync_config c0;
    ssync_error e0 = {0};
    assert_int_equal(
        ssync_config_parse_string("; [source \"a b\"]\r\n[source \"a\"]\r\npath = /p\r\n",
                                  "ok.conf", &c0, &e0),
        SSYNC_OK);
    assert_string_equal(ssync_config_source_at(&c0, 0)->name, "a");
    ssync_config_free(&c0);
    char longname[120];
    snprintf(longname, sizeof longname, "[source \"%033d\"]\npath = /p\n", 0);
    expect_error(longname, "not a source name");
    snprintf(longname, sizeof longname, "[source \"%032d\"]\npath = /p\n", 0);
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string(longname, "ok.conf", &c, &e), SSYNC_OK);
    ssync_config_free(&c);
    assert_int_equal(
        ssync_config_parse_string("[source \"CA_2.west-eu\"]\npath = /p\n", "ok.conf", &c, &e),
        SSYNC_OK);
    assert_string_equal(ssync_config_source_at(&c, 0)->name, "CA_2.west-eu");
    ssync_config_free(&c);
}

static void unknown_keys_in_a_named_section(void **state)
{
    (void)state;
    expect_error("[source \"a\"]\ntype = edb\nfrobnicate = 1\n",
                 "bad.conf:3: unknown key 'frobnicate' in [source \"a\"]");
    expect_error("[source \"a\"]\ntype = ldap\n", "key 'type' in [source \"a\"]: 'ldap' is not");
    /* [kra] keys belong to [kra]: in a source they are spelled kra_key, ... */
    expect_error("[source \"a\"]\nkey = k.p12\n", "unknown key 'key' in [source \"a\"]");
    expect_error("[source \"a\"]\nkra_key = a.p12\nkra_cert = a.pem, b.pem\n",
                 "source \"a\": kra_cert lists more certs than kra_key keys");
}

static void per_source_password_env_is_never_repeated(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("[source \"a\"]\nkra_password_env = pa$$s3cr3t\n",
                                               "bad.conf", &c, &e),
                     SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "not the name of an environment variable"));
    assert_null(strstr(e.msg, "s3cr3t"));
    ssync_config_free(&c);
    assert_int_equal(ssync_config_parse_string("[source \"a\"]\nkra_password_env = CA1_KRA_PASS\n",
                                               "ok.conf", &c, &e),
                     SSYNC_OK);
    assert_string_equal(ssync_config_source_at(&c, 0)->kra.password_env, "CA1_KRA_PASS");
    ssync_config_free(&c);
}

static void at_most_sixteen_named_sources(void **state)
{
    (void)state;
    char text[2000] = "";
    size_t len = 0;
    for (int i = 0; i < SSYNC_CFG_MAX_SOURCES; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "[source \"ca%d\"]\npath = /p%d\n",
                                i, i);
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string(text, "ok.conf", &c, &e), SSYNC_OK);
    assert_int_equal(ssync_config_source_count(&c), SSYNC_CFG_MAX_SOURCES);
    assert_string_equal(ssync_config_source_at(&c, 15)->path, "/p15");
    ssync_config_free(&c);
    snprintf(text + len, sizeof text - len, "[source \"one-more\"]\npath = /x\n");
    expect_error(text, "more than 16 [source \"NAME\"] sections");
}

static void relative_paths_of_a_named_section(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/s.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[source \"a\"]\npath = ca1.edb\nkra_key = kra1.p12\n", f);
    fclose(f);
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_load(path, &c, &e), SSYNC_OK);
    char want[700];
    snprintf(want, sizeof want, "%s/ca1.edb", dir);
    assert_string_equal(ssync_config_source_at(&c, 0)->path, want);
    snprintf(want, sizeof want, "%s/kra1.p12", dir);
    assert_string_equal(ssync_config_source_at(&c, 0)->kra.key.v[0], want);
    ssync_config_free(&c);
    /* the header check runs on files too */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[source \"a\"]\npath = x\n[source \"a\"]\n", f);
    fclose(f);
    assert_int_equal(ssync_config_load(path, &c, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, ":3: [source \"a\"]: a source of that name"));
    ssync_config_free(&c);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(named_sections_are_sources_in_file_order),
        cmocka_unit_test(single_source_is_named_default),
        cmocka_unit_test(duplicate_names_are_refused),
        cmocka_unit_test(bad_names_are_refused_with_their_line),
        cmocka_unit_test(unknown_keys_in_a_named_section),
        cmocka_unit_test(per_source_password_env_is_never_repeated),
        cmocka_unit_test(at_most_sixteen_named_sources),
        cmocka_unit_test(relative_paths_of_a_named_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
