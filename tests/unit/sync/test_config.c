#include "testutil.h"

#include "sync/config.h"

#include <stdlib.h>
#include <string.h>

static const char *const full = "; a complete configuration\n"
                                "[source]\n"
                                "type = blobs                  ; blobs | edb | pfx\n"
                                "path = /var/lib/smimesync/blobs\n"
                                "crl = /var/lib/smimesync/ca.crl, other.crl\n"
                                "templates = 1.3.6.1.4.1.311.21.8.1, SMIMEEncryption\n"
                                "[kra]\n"
                                "key = /etc/smimesync/kra.p12, kra2.p12\n"
                                "password_file = /etc/smimesync/kra.pass\n"
                                "[connector]\n"
                                "public_key = /etc/smimesync/connector.pem\n"
                                "provider_name = Microsoft Software Key Storage Provider\n"
                                "key_name = PFXEncryptionKey\n"
                                "padding = oaepSha384\n"
                                "[intune]\n"
                                "tenant_id = 11111111-2222-3333-4444-555555555555\n"
                                "client_id = 66666666-2222-3333-4444-555555555555\n"
                                "client_secret_file = secret\n"
                                "authority = https://login.microsoftonline.us/\n"
                                "graph = https://graph.microsoft.us\n"
                                "write_limit = 100/2.5\n"
                                "request_limit = off\n"
                                "[policy]\n"
                                "remove_revoked = no\n"
                                "keep_newest = 2\n"
                                "drop_expired_after_days = 365\n"
                                "[state]\n"
                                "path = /var/lib/smimesync/state.db\n";

static void parses_every_documented_key(void **state)
{
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string(full, "t.conf", &c, &e), SSYNC_OK);
    assert_int_equal(c.source.type, SSYNC_SOURCE_BLOBS);
    assert_string_equal(c.source.path, "/var/lib/smimesync/blobs");
    assert_int_equal(c.source.crl.n, 2);
    assert_string_equal(c.source.crl.v[1], "other.crl"); /* no file: relative stays relative */
    assert_int_equal(c.source.templates.n, 2);
    assert_string_equal(c.source.templates.v[1], "SMIMEEncryption");
    assert_int_equal(c.kra.key.n, 2);
    assert_string_equal(c.connector.provider_name, "Microsoft Software Key Storage Provider");
    assert_int_equal(c.connector.padding, SSYNC_PAD_OAEP_SHA384);
    assert_string_equal(c.intune.authority, "https://login.microsoftonline.us");
    assert_int_equal(c.intune.write_limit, 100);
    assert_true(c.intune.write_window > 2.49 && c.intune.write_window < 2.51);
    assert_int_equal(c.intune.request_limit, 0);
    assert_int_equal(c.policy.remove_revoked, 0);
    assert_int_equal(c.policy.keep_newest, 2);
    assert_int_equal(c.policy.drop_expired_after, 365);
    assert_string_equal(c.state.path, "/var/lib/smimesync/state.db");
    ssync_config_free(&c);
}

static void defaults_when_absent(void **state)
{
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("", "t.conf", &c, &e), SSYNC_OK);
    assert_int_equal(c.connector.padding, SSYNC_PAD_OAEP_SHA512);
    assert_int_equal(c.pfx.profile, SSYNC_PFX_COMPAT);
    assert_int_equal(c.intune.write_limit, 100);
    assert_int_equal(c.intune.request_limit, 1000);
    assert_int_equal(c.policy.remove_revoked, 1);
    assert_int_equal(c.policy.drop_expired_after, -1);
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

static void errors_name_file_line_and_key(void **state)
{
    expect_error("[source]\ntype = blobs\nfrobnicate = 1\n",
                 "bad.conf:3: unknown key 'frobnicate' in [source]");
    expect_error("[sauce]\ntype = blobs\n", "bad.conf:2: unknown section [sauce]");
    expect_error("[source]\ntype = ldap\n",
                 "bad.conf:2: key 'type' in [source]: 'ldap' is not a source type");
    expect_error("[connector]\npadding = pkcs1\n", "bad.conf:2: key 'padding'");
    expect_error("[intune]\ngraph = http://graph.example\n", "https://");
    expect_error("[intune]\nwrite_limit = fast\n", "'fast' is not a rate");
    expect_error("[intune]\nwrite_limit = 100/0\n", "is not a rate");
    expect_error("[policy]\nkeep_newest = -3\n", "'-3' is not a whole number");
    expect_error("[policy]\nremove_revoked = maybe\n", "'maybe' is not a boolean");
    expect_error("[kra]\nkey = a.p12,,b.p12\n", "empty item");
    expect_error("[kra]\nkey = a.p12\nkey = b.p12\n",
                 "bad.conf:3: key 'key' in [kra]: given twice");
    expect_error("[state]\npath =\n", "empty value");
    expect_error("[source]\nthis line has no equals sign\n", "bad.conf:2:");
    /* the first error is the one reported */
    expect_error("[x]\na=1\n[y]\nb=2\n", "bad.conf:2:");
}

static void relative_paths_follow_the_config_file(void **state)
{
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/smimesync.conf", dir);
    const char *text = "[kra]\nkey = kra.p12\npassword_file = /abs/kra.pass\n";
    ssync_error e = {0};
    assert_int_equal(ssync_write_file_atomic(path, text, strlen(text), 0600, &e), SSYNC_OK);
    ssync_config c;
    assert_int_equal(ssync_config_load(path, &c, &e), SSYNC_OK);
    char want[700];
    snprintf(want, sizeof want, "%s/kra.p12", dir);
    assert_string_equal(c.kra.key.v[0], want);
    assert_int_equal(c.kra.password_file.n, 1);
    assert_string_equal(c.kra.password_file.v[0], "/abs/kra.pass");
    ssync_config_free(&c);
    assert_int_equal(ssync_config_load("/nonexistent/x.conf", &c, &e), SSYNC_ERR_FILE_OPEN);
    assert_non_null(strstr(e.msg, "/nonexistent/x.conf"));
    ssync_config_free(&c);
    test_rmtree(dir);
    free(dir);
}

/* inih splits a line longer than its buffer (200 bytes in Debian's build) and parses the tail
 * as one more line: refused with the file and line instead. */
static void long_lines_are_refused_not_split(void **state)
{
    char text[1024], comment[301];
    /* a 300-byte comment whose bytes 199 on read "keep_newest = 1" */
    memset(comment, ' ', 300);
    comment[0] = ';';
    memcpy(comment + 199, "keep_newest = 1", 15);
    comment[300] = '\0';
    snprintf(text, sizeof text, "[policy]\n%s\nremove_revoked = no\n", comment);
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string(text, "bad.conf", &c, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "bad.conf:2: the line is longer than 198 bytes"));
    assert_int_equal(c.policy.keep_newest, 0);
    ssync_config_free(&c);

    /* a long pkcs11: URI is never cut: refused whole */
    char uri[260];
    snprintf(uri, sizeof uri, "pkcs11:token=%0*d;object=kra;type=private", 200, 7);
    snprintf(text, sizeof text, "[kra]\nkey = %s\n", uri);
    assert_int_equal(ssync_config_parse_string(text, "bad.conf", &c, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "bad.conf:2: the line is longer"));
    ssync_config_free(&c);

    /* the longest line that fits is read whole, the value not cut */
    char value[200];
    memset(value, 'a', sizeof value);
    snprintf(value, sizeof value, "pkcs11:object=%0*d", 198 - 6 - 14, 5); /* "key = " + 192 */
    snprintf(text, sizeof text, "[kra]\nkey = %s\n", value);
    assert_int_equal(strlen(strchr(text, '\n') + 1), 198 + 1);
    assert_int_equal(ssync_config_parse_string(text, "ok.conf", &c, &e), SSYNC_OK);
    assert_int_equal(c.kra.key.n, 1);
    assert_string_equal(c.kra.key.v[0], value);
    ssync_config_free(&c);

    /* the same from a file, and a NUL byte that would end a value early */
    char *dir = test_tmpdir();
    char path[600];
    snprintf(path, sizeof path, "%s/smimesync.conf", dir);
    snprintf(text, sizeof text, "[policy]\n%s\n", comment);
    assert_int_equal(ssync_write_file_atomic(path, text, strlen(text), 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_config_load(path, &c, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "smimesync.conf:2: the line is longer"));
    assert_int_equal(c.policy.keep_newest, 0);
    ssync_config_free(&c);
    static const char nul[] = "[kra]\npassword_env = KRA\0_PASSWORD_OTHER\n";
    assert_int_equal(ssync_write_file_atomic(path, nul, sizeof nul - 1, 0600, &e), SSYNC_OK);
    assert_int_equal(ssync_config_load(path, &c, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "smimesync.conf:2: a NUL byte"));
    assert_null(c.kra.password_env);
    ssync_config_free(&c);
    test_rmtree(dir);
    free(dir);
}

/* An administrator who puts the secret itself in client_secret_env or password_env must not see
 * it repeated in an error (a terminal, a log, a ticket). */
static void env_keys_never_repeat_their_value(void **state)
{
    static const char *const bad[] = {"[intune]\nclient_secret_env = aB8Q~s3cr3t.Value-x\n",
                                      "[kra]\npassword_env = pa$$w0rd!s3cr3t\n",
                                      "[kra]\npassword_env = 9s3cr3t\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssync_config c;
        ssync_error e = {0};
        assert_int_equal(ssync_config_parse_string(bad[i], "bad.conf", &c, &e), SSYNC_ERR_CONFIG);
        assert_non_null(strstr(e.msg, "bad.conf:2:"));
        assert_non_null(strstr(e.msg, "not the name of an environment variable"));
        if (strstr(e.msg, "s3cr3t"))
            fail_msg("the value is in the message: %s", e.msg);
        ssync_config_free(&c);
    }
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("[intune]\nclient_secret_env = SSYNC_SECRET\n"
                                               "[kra]\npassword_env = hunter2pass\n",
                                               "ok.conf", &c, &e),
                     SSYNC_OK);
    assert_string_equal(ssync_env_name_shown(c.intune.client_secret_env), "SSYNC_SECRET");
    assert_null(strstr(ssync_env_name_shown(c.kra.password_env), "hunter2"));
    assert_null(strstr(ssync_env_name_shown("a b"), "a b"));
    ssync_config_free(&c);
}

/* credential:NAME is $CREDENTIALS_DIRECTORY/NAME (systemd's LoadCredential=), in any path key */
static void credential_paths_come_from_the_credentials_directory(void **state)
{
    (void)state;
    static const char *const text = "[intune]\nclient_secret_file = credential:graph-secret\n"
                                    "[kra]\nkey = credential:kra.p12\n"
                                    "password_file = credential:kra-pass\n";
    ssync_config c;
    ssync_error e = {0};
    setenv("CREDENTIALS_DIRECTORY", "/run/credentials/smimesync.service", 1);
    assert_int_equal(ssync_config_parse_string(text, "t.conf", &c, &e), SSYNC_OK);
    assert_string_equal(c.intune.client_secret_file,
                        "/run/credentials/smimesync.service/graph-secret");
    assert_string_equal(c.kra.key.v[0], "/run/credentials/smimesync.service/kra.p12");
    assert_string_equal(c.kra.password_file.v[0], "/run/credentials/smimesync.service/kra-pass");
    ssync_config_free(&c);
    /* a name that would leave the directory, or none */
    static const char *const bad[] = {"[kra]\npassword_file = credential:../etc/shadow\n",
                                      "[kra]\npassword_file = credential:..\n",
                                      "[kra]\npassword_file = credential:\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ssync_config_parse_string(bad[i], "bad.conf", &c, &e), SSYNC_ERR_CONFIG);
        assert_non_null(strstr(e.msg, "bad.conf:2:"));
        assert_non_null(strstr(e.msg, "credential name"));
        ssync_config_free(&c);
    }
    /* outside systemd: says what is missing */
    unsetenv("CREDENTIALS_DIRECTORY");
    assert_int_equal(ssync_config_parse_string(text, "t.conf", &c, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "t.conf:2:"));
    assert_non_null(strstr(e.msg, "$CREDENTIALS_DIRECTORY is not set"));
    ssync_config_free(&c);
}

static void log_format_and_metrics_keys(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("[log]\nlevel = info\n", "t.conf", &c, &e),
                     SSYNC_OK);
    assert_int_equal(c.log.journal, -1); /* journal when systemd connected stderr to it */
    assert_null(c.metrics.textfile);
    ssync_config_free(&c);
    assert_int_equal(ssync_config_parse_string("[log]\nformat = journal\n[metrics]\n"
                                               "textfile = /var/lib/node/smimesync.prom\n",
                                               "t.conf", &c, &e),
                     SSYNC_OK);
    assert_int_equal(c.log.journal, 1);
    assert_int_equal(c.log.json, 0);
    assert_string_equal(c.metrics.textfile, "/var/lib/node/smimesync.prom");
    ssync_config_free(&c);
    assert_int_equal(ssync_config_parse_string("[log]\nformat = text\n", "t.conf", &c, &e),
                     SSYNC_OK);
    assert_int_equal(c.log.journal, 0);
    ssync_config_free(&c);
    assert_int_equal(ssync_config_parse_string("[log]\nformat = syslog\n", "t.conf", &c, &e),
                     SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "text, json, journal"));
    ssync_config_free(&c);
}

static void delivery_check_keys(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("[intune]\n", "d.conf", &c, &e), SSYNC_OK);
    assert_int_equal(c.intune.platforms.n, 0);
    assert_null(c.intune.connector_min_version);
    assert_int_equal(c.intune.connector_checkin_hours, 24);
    assert_int_equal(c.intune.expiry_warning_days, 30);
    ssync_config_free(&c);
    assert_int_equal(ssync_config_parse_string("[intune]\nplatforms = ios, android\n"
                                               "connector_min_version = 6.2501.0.1\n"
                                               "connector_checkin_hours = 48\n"
                                               "expiry_warning_days = 60\n",
                                               "d.conf", &c, &e),
                     SSYNC_OK);
    assert_int_equal(c.intune.platforms.n, 2);
    assert_string_equal(c.intune.platforms.v[1], "android");
    assert_string_equal(c.intune.connector_min_version, "6.2501.0.1");
    assert_int_equal(c.intune.connector_checkin_hours, 48);
    assert_int_equal(c.intune.expiry_warning_days, 60);
    ssync_config_free(&c);
    assert_int_equal(
        ssync_config_parse_string("[intune]\nplatforms = ios, symbian\n", "d.conf", &c, &e),
        SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "'symbian' is not ios, macos, windows or android"));
    ssync_config_free(&c);
    assert_int_equal(
        ssync_config_parse_string("[intune]\nconnector_checkin_hours = 0\n", "d.conf", &c, &e),
        SSYNC_ERR_CONFIG);
    ssync_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_every_documented_key),
        cmocka_unit_test(defaults_when_absent),
        cmocka_unit_test(errors_name_file_line_and_key),
        cmocka_unit_test(relative_paths_follow_the_config_file),
        cmocka_unit_test(long_lines_are_refused_not_split),
        cmocka_unit_test(env_keys_never_repeat_their_value),
        cmocka_unit_test(credential_paths_come_from_the_credentials_directory),
        cmocka_unit_test(log_format_and_metrics_keys),
        cmocka_unit_test(delivery_check_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
