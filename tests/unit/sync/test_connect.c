/* sync/connect.h: the [kra] section's KRA set, the [intune] section's Graph client (its checks and
 * error lines, as check, sync, remove, upload and status show them), and the exporter of a run. */
#include "testutil.h"

#include "sync/connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ssync_intune_cfg good(void)
{
    ssync_config cfg;
    ssync_config_defaults(&cfg);
    ssync_intune_cfg in = cfg.intune;
    in.tenant_id = "contoso.onmicrosoft.com";
    in.client_id = "11111111-2222-3333-4444-555555555555";
    in.client_secret_env = "SSYNC_TEST_CONNECT_SECRET";
    return in;
}

/* ssync_graph_open fails with exactly line (code SSYNC_ERR_CONFIG unless want says otherwise). */
static void open_fails(const ssync_intune_cfg *in, const char *origin, ssync_code want,
                       const char *line)
{
    ssync_graph *g = (ssync_graph *)1;
    ssync_error e = {0};
    ssync_code rc = ssync_graph_open(in, origin, NULL, NULL, &g, &e);
    if (rc != want)
        fail_msg("got %s (%s), want %s", ssync_code_name(rc), e.msg, ssync_code_name(want));
    assert_null(g);
    assert_string_equal(e.msg, line);
}

static void intune_keys_are_checked(void **state)
{
    setenv("SSYNC_TEST_CONNECT_SECRET", "s3cret", 1);
    ssync_intune_cfg in = good();
    in.tenant_id = NULL;
    open_fails(&in, "/etc/smimesync.conf", SSYNC_ERR_CONFIG,
               "/etc/smimesync.conf: [intune] tenant_id is required");
    open_fails(&in, NULL, SSYNC_ERR_CONFIG, "config: [intune] tenant_id is required");
    in = good();
    in.client_id = NULL;
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG, "a.conf: [intune] client_id is required");
    const char *both = "a.conf: [intune] needs either client_secret_file (or client_secret_env) "
                       "or both client_certificate and client_key";
    in = good();
    in.client_secret_env = NULL; /* no credential */
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG, both);
    in = good();
    in.client_certificate = "app.pem"; /* two credentials */
    in.client_key = "app.key";
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG, both);
    in.client_secret_env = NULL;
    in.client_key = NULL; /* a certificate without its key */
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG, both);
}

static void intune_credentials_and_urls(void **state)
{
    ssync_intune_cfg in = good();
    unsetenv("SSYNC_TEST_CONNECT_SECRET");
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG,
               "the environment variable SSYNC_TEST_CONNECT_SECRET (client_secret_env) is not set");
    setenv("SSYNC_TEST_CONNECT_SECRET", "", 1);
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG,
               "the environment variable SSYNC_TEST_CONNECT_SECRET (client_secret_env) is not set");
    /* the secret itself given by mistake as the variable's name: never repeated */
    in.client_secret_env = "hunter2secretvalue";
    unsetenv("hunter2secretvalue");
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG,
               "the environment variable (name not shown: not in capitals, it might be the "
               "secret itself) (client_secret_env) is not set");
    in.client_secret_env = "SSYNC_TEST_CONNECT_SECRET";
    setenv("SSYNC_TEST_CONNECT_SECRET", "s3cret", 1);
    /* a bad URL or tenant: the client's own error, as it is */
    in.graph = "http://graph.example";
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG,
               "configuration error: Graph URL must be an https URL");
    in = good();
    in.tenant_id = "not a tenant";
    open_fails(&in, "a.conf", SSYNC_ERR_CONFIG,
               "configuration error: tenant id missing or not a GUID/domain");
    /* files that cannot be read: named, after what they are */
    in = good();
    in.client_secret_env = NULL;
    in.client_secret_file = "/nonexistent/secret";
    ssync_graph *g = NULL;
    ssync_error e = {0};
    assert_int_not_equal(ssync_graph_open(&in, "a.conf", NULL, NULL, &g, &e), SSYNC_OK);
    assert_null(g);
    assert_true(strncmp(e.msg, "client secret: ", 15) == 0);
    assert_non_null(strstr(e.msg, "/nonexistent/secret"));
    in.client_secret_file = NULL;
    in.client_certificate = "/nonexistent/app.pem";
    in.client_key = "/nonexistent/app.key";
    assert_int_not_equal(ssync_graph_open(&in, "a.conf", NULL, NULL, &g, &e), SSYNC_OK);
    assert_null(g);
    assert_true(strncmp(e.msg, "client certificate: ", 20) == 0);
    /* and a good section opens (nothing is sent yet) */
    in = good();
    assert_int_equal(ssync_graph_open(&in, "a.conf", NULL, NULL, &g, &e), SSYNC_OK);
    assert_non_null(g);
    ssync_graph_free(g);
}

static void kra_section(void **state)
{
    ssync_config cfg;
    ssync_error e = {0};
    assert_int_equal(ssync_config_parse_string("[kra]\npassword_env = X\n", "a.conf", &cfg, &e),
                     SSYNC_OK);
    ssync_kra_set *set = (ssync_kra_set *)1;
    assert_int_equal(ssync_kra_set_open(&cfg.kra, NULL, NULL, &set, &e), SSYNC_ERR_CONFIG);
    assert_null(set);
    assert_string_equal(e.msg, "configuration error: [kra] key is required");
    ssync_config_free(&cfg);
    char text[2048];
    snprintf(text, sizeof text, "[kra]\nkey = %s\npassword_file = /nonexistent/kra.pass\n",
             test_data_path("adcs-basic/kra.p12"));
    assert_int_equal(ssync_config_parse_string(text, "a.conf", &cfg, &e), SSYNC_OK);
    assert_int_not_equal(ssync_kra_set_open(&cfg.kra, NULL, NULL, &set, &e), SSYNC_OK);
    assert_null(set);
    assert_true(strncmp(e.msg, "[kra] password_file: ", 21) == 0);
    ssync_config_free(&cfg);
    snprintf(text, sizeof text, "[kra]\nkey = %s\npassword_env = SSYNC_TEST_CONNECT_KRA\n",
             test_data_path("adcs-basic/kra.p12"));
    assert_int_equal(ssync_config_parse_string(text, "a.conf", &cfg, &e), SSYNC_OK);
    setenv("SSYNC_TEST_CONNECT_KRA", "kra-Pa55word!", 1);
    assert_int_equal(ssync_kra_set_open(&cfg.kra, NULL, NULL, &set, &e), SSYNC_OK);
    assert_int_equal(ssync_kra_set_count(set), 1);
    ssync_kra_set_free(set);
    ssync_config_free(&cfg);
}

static void exporter_of_the_configuration(void **state)
{
    ssync_config cfg;
    ssync_error e = {0};
    const char *text = "[pfx]\nprofile = modern\ninclude_chain = yes\n"
                       "[policy]\nboth_purpose = smimeSigning\n"
                       "[connector]\nprovider_name = P\nkey_name = K\npadding = oaepSha256\n";
    assert_int_equal(ssync_config_parse_string(text, "a.conf", &cfg, &e), SSYNC_OK);
    ssync_exporter ex;
    const ssync_kra_set *kras = (const ssync_kra_set *)&cfg;
    EVP_PKEY *connector = (EVP_PKEY *)&e;
    ssync_exporter_from_config(&ex, &cfg, kras, connector);
    assert_ptr_equal(ex.kras, kras);
    assert_ptr_equal(ex.connector, connector);
    assert_int_equal(ex.profile, SSYNC_PFX_MODERN);
    assert_int_equal(ex.include_chain, 1);
    assert_int_equal(ex.both_purpose, SSYNC_PURPOSE_SMIME_SIGNING);
    assert_string_equal(ex.record.provider_name, "P");
    assert_string_equal(ex.record.key_name, "K");
    assert_int_equal(ex.record.padding, SSYNC_PAD_OAEP_SHA256);
    ssync_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intune_keys_are_checked),
        cmocka_unit_test(intune_credentials_and_urls),
        cmocka_unit_test(kra_section),
        cmocka_unit_test(exporter_of_the_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
