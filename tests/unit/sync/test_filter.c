/* Desired-state selection: [source] filters, targets and the mail-mismatch warning, as pure
 * functions of an item and in-memory lists. */
#include "testutil.h"

#include "pki/certinfo.h"
#include "sync/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEMPLATE_OID "1.3.6.1.4.1.311.21.8.1.2.3"

static char *eku_store[16];
static size_t eku_used;

/* An item with the given facts (borrowed strings: never freed with a plan). */
static ssync_plan_item item(const char *template_oid, const char *template_name, size_t n_eku,
                            const char *eku0)
{
    ssync_plan_item it;
    memset(&it, 0, sizeof it);
    it.template_oid = (char *)template_oid;
    it.template_name = (char *)template_name;
    assert_true(eku_used < 16);
    eku_store[eku_used] = (char *)eku0;
    it.eku = &eku_store[eku_used++];
    it.n_eku = n_eku;
    return it;
}

static void templates_by_oid_or_v1_name(void **state)
{
    (void)state;
    ssync_config cfg;
    ssync_config_defaults(&cfg);
    cfg.source.templates.v[0] = TEMPLATE_OID;
    cfg.source.templates.v[1] = "SmimeUser";
    cfg.source.templates.n = 2;
    ssync_cert_filter f;
    ssync_error e = {0};
    assert_int_equal(ssync_cert_filter_init(&cfg.source, &f, &e), SSYNC_OK);
    char why[160] = "";
    ssync_plan_item v2 = item(TEMPLATE_OID, NULL, 1, SSYNC_OID_EMAIL_PROTECTION);
    assert_true(ssync_cert_filter_check(&f, &v2, why, sizeof why));
    ssync_plan_item v1 = item(NULL, "smimeuser", 1, SSYNC_OID_EMAIL_PROTECTION);
    assert_true(ssync_cert_filter_check(&f, &v1, why, sizeof why));
    /* a name never matches a v2 OID, an OID never a v1 name */
    ssync_plan_item other = item("1.2.3", "Something", 1, SSYNC_OID_EMAIL_PROTECTION);
    assert_false(ssync_cert_filter_check(&f, &other, why, sizeof why));
    assert_string_equal(why, "template 1.2.3 not in [source] templates");
    ssync_plan_item name_as_oid = item(NULL, TEMPLATE_OID, 1, SSYNC_OID_EMAIL_PROTECTION);
    assert_false(ssync_cert_filter_check(&f, &name_as_oid, why, sizeof why));
    ssync_plan_item none = item(NULL, NULL, 1, SSYNC_OID_EMAIL_PROTECTION);
    assert_false(ssync_cert_filter_check(&f, &none, why, sizeof why));
    assert_string_equal(why, "no template extension; [source] templates is set");
    /* no templates configured: every template */
    cfg.source.templates.n = 0;
    assert_int_equal(ssync_cert_filter_init(&cfg.source, &f, &e), SSYNC_OK);
    assert_true(ssync_cert_filter_check(&f, &other, why, sizeof why));
    assert_true(ssync_cert_filter_check(&f, &none, why, sizeof why));
}

static void eku_default_names_and_any_purpose(void **state)
{
    (void)state;
    ssync_config cfg;
    ssync_config_defaults(&cfg);
    ssync_cert_filter f;
    ssync_error e = {0};
    char why[160] = "";
    assert_int_equal(ssync_cert_filter_init(&cfg.source, &f, &e), SSYNC_OK);
    ssync_plan_item smime = item(NULL, NULL, 1, SSYNC_OID_EMAIL_PROTECTION);
    ssync_plan_item client = item(NULL, NULL, 1, "1.3.6.1.5.5.7.3.2");
    ssync_plan_item any = item(NULL, NULL, 0, NULL);
    assert_true(ssync_cert_filter_check(&f, &smime, why, sizeof why));
    assert_false(ssync_cert_filter_check(&f, &client, why, sizeof why));
    assert_string_equal(why, "no EKU of [source] eku (1.3.6.1.5.5.7.3.4) in the certificate");
    /* no EKU extension: valid for any purpose */
    assert_true(ssync_cert_filter_check(&f, &any, why, sizeof why));

    cfg.source.eku.v[0] = "clientAuth";
    cfg.source.eku.v[1] = "1.3.6.1.4.1.311.10.3.4";
    cfg.source.eku.n = 2;
    assert_int_equal(ssync_cert_filter_init(&cfg.source, &f, &e), SSYNC_OK);
    assert_string_equal(f.eku[0], "1.3.6.1.5.5.7.3.2");
    assert_true(ssync_cert_filter_check(&f, &client, why, sizeof why));
    assert_false(ssync_cert_filter_check(&f, &smime, why, sizeof why));
    cfg.source.eku.v[1] = "no-such-purpose";
    assert_int_equal(ssync_cert_filter_init(&cfg.source, &f, &e), SSYNC_ERR_CONFIG);
    assert_non_null(strstr(e.msg, "[source] eku: 'no-such-purpose'"));
}

static ssync_upn_set set_of(const char *const *v, size_t n)
{
    ssync_upn_set s = {0};
    ssync_error e = {0};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ssync_upn_set_add(&s, v[i], &e), SSYNC_OK);
    ssync_upn_set_seal(&s);
    return s;
}

static void user_filters_deny_allow_group(void **state)
{
    (void)state;
    static const char *const allow[] = {"Alice@x.example", "bob@x.example", "carol@x.example"};
    static const char *const deny[] = {"BOB@x.example"};
    static const char *const members[] = {"alice@X.example", "bob@x.example", "dave@x.example"};
    ssync_user_filter f;
    memset(&f, 0, sizeof f);
    char why[160] = "";
    /* nothing configured: everyone */
    assert_true(ssync_user_filter_check(&f, "anyone@x.example", why, sizeof why));
    f.allow = set_of(allow, 3);
    f.deny = set_of(deny, 1);
    f.has_allow = f.has_deny = 1;
    assert_true(ssync_user_filter_check(&f, "alice@x.example", why, sizeof why));
    assert_false(ssync_user_filter_check(&f, "bob@X.EXAMPLE", why, sizeof why));
    assert_string_equal(why, "user on users_deny"); /* deny wins over allow */
    assert_false(ssync_user_filter_check(&f, "dave@x.example", why, sizeof why));
    assert_string_equal(why, "user not on users_allow");
    f.group = set_of(members, 3);
    f.has_group = 1;
    f.group_id = "g-1";
    assert_true(ssync_user_filter_check(&f, "ALICE@x.example", why, sizeof why));
    assert_false(ssync_user_filter_check(&f, "carol@x.example", why, sizeof why));
    assert_string_equal(why, "not a member of group g-1");
    /* a group alone */
    ssync_upn_set_free(&f.allow);
    f.has_allow = 0;
    assert_true(ssync_user_filter_check(&f, "dave@x.example", why, sizeof why));
    ssync_user_filter_free(&f);
    /* an empty group keeps no one */
    f.has_group = 1;
    f.group_id = "g-2";
    assert_false(ssync_user_filter_check(&f, "dave@x.example", why, sizeof why));
    ssync_user_filter_free(&f);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void list_files(void **state)
{
    (void)state;
    char *dir = test_tmpdir();
    char allow[600], deny[600];
    snprintf(allow, sizeof allow, "%s/allow.txt", dir);
    snprintf(deny, sizeof deny, "%s/deny.txt", dir);
    write_file(allow, "# pilot users\nAlice@x.example\n\n  bob@x.example  \r\n");
    write_file(deny, "carol@x.example\nnot a upn\n");
    ssync_config cfg;
    ssync_config_defaults(&cfg);
    cfg.source.users_allow = allow;
    ssync_user_filter f;
    ssync_error e = {0};
    assert_int_equal(ssync_user_filter_load(&cfg.source, &f, &e), SSYNC_OK);
    assert_int_equal(f.allow.n, 2);
    assert_false(f.has_deny);
    char why[160];
    assert_true(ssync_user_filter_check(&f, "alice@X.example", why, sizeof why));
    assert_true(ssync_user_filter_check(&f, "bob@x.example", why, sizeof why));
    assert_false(ssync_user_filter_check(&f, "carol@x.example", why, sizeof why));
    ssync_user_filter_free(&f);
    cfg.source.users_deny = deny;
    assert_int_equal(ssync_user_filter_load(&cfg.source, &f, &e), SSYNC_ERR_CONFIG);
    char want[700];
    snprintf(want, sizeof want, "%s:2: 'not a upn' is not a userPrincipalName", deny);
    assert_non_null(strstr(e.msg, want));
    cfg.source.users_deny = "/nonexistent/deny.txt";
    assert_int_not_equal(ssync_user_filter_load(&cfg.source, &f, &e), SSYNC_OK);
    assert_non_null(strstr(e.msg, "[source] users_deny"));
    test_rmtree(dir);
    free(dir);
}

static void serials(void **state)
{
    (void)state;
    char out[80];
    assert_true(ssync_serial_normalize("2e:29:aa:A3", out, sizeof out));
    assert_string_equal(out, "2E29AAA3");
    assert_true(ssync_serial_normalize("00 0a 01", out, sizeof out));
    assert_string_equal(out, "A01");
    assert_true(ssync_serial_normalize("00", out, sizeof out));
    assert_string_equal(out, "0");
    assert_false(ssync_serial_normalize("", out, sizeof out));
    assert_false(ssync_serial_normalize("12g4", out, sizeof out));
    assert_false(ssync_serial_normalize("-12", out, sizeof out));
    assert_false(ssync_serial_normalize("123456", out, 4));
}

static void targets(void **state)
{
    (void)state;
    ssync_error e = {0};
    ssync_plan_target t = {.request_id = "42"};
    assert_int_equal(ssync_target_check(&t, &e), SSYNC_OK);
    assert_int_equal(ssync_target_check(NULL, &e), SSYNC_OK);
    ssync_plan_target bad_id = {.request_id = "4x2"};
    assert_int_equal(ssync_target_check(&bad_id, &e), SSYNC_ERR_ARG);
    assert_non_null(strstr(e.msg, "'4x2'"));
    ssync_plan_target bad_serial = {.serial = "zz"};
    assert_int_equal(ssync_target_check(&bad_serial, &e), SSYNC_ERR_ARG);

    ssync_plan_item it;
    memset(&it, 0, sizeof it);
    it.request_id = 42;
    snprintf(it.serial, sizeof it.serial, "0A2E");
    assert_true(ssync_target_match_cert(&t, &it));
    assert_true(ssync_target_match_cert(NULL, &it));
    it.request_id = 0;
    assert_false(ssync_target_match_cert(&t, &it));
    ssync_plan_target by_serial = {.serial = "0a:2e"};
    assert_true(ssync_target_match_cert(&by_serial, &it));
    ssync_plan_target both = {.serial = "a2e", .request_id = "42"};
    assert_false(ssync_target_match_cert(&both, &it)); /* every field must match */
    it.request_id = 42;
    assert_true(ssync_target_match_cert(&both, &it));
    ssync_plan_target other = {.serial = "a2f"};
    assert_false(ssync_target_match_cert(&other, &it));
}

static void target_user_before_lookup(void **state)
{
    (void)state;
    static char *emails[] = {"Old.Alice@x.example", "alias@x.example"};
    ssync_plan_item it;
    memset(&it, 0, sizeof it);
    it.san_upn = "alice@x.example";
    it.cert_upn = "alice@x.example";
    it.emails = emails;
    it.n_emails = 2;
    ssync_plan_target t = {.user = "ALICE@x.example"};
    assert_true(ssync_target_names_user(&t, &it, NULL));
    t.user = "alias@X.example";
    assert_true(ssync_target_names_user(&t, &it, NULL));
    t.user = "new.alice@x.example";
    assert_false(ssync_target_names_user(&t, &it, NULL));
    ssync_usermap map;
    ssync_error e = {0};
    const char *csv = "old.alice@x.example,new.alice@x.example\n";
    assert_int_equal(ssync_usermap_parse(csv, strlen(csv), "m", &map, &e), SSYNC_OK);
    assert_true(ssync_target_names_user(&t, &it, &map));
    ssync_usermap_free(&map);
    ssync_plan_target none = {0};
    assert_true(ssync_target_names_user(&none, &it, NULL));
}

static void mail_mismatch(void **state)
{
    (void)state;
    static char *emails[] = {"a@old.example", "A@new.example"};
    ssync_plan_item it;
    memset(&it, 0, sizeof it);
    it.emails = emails;
    it.n_emails = 2;
    it.user_found = 1;
    char w[200] = "x";
    it.user_mail = "a@NEW.example";
    ssync_mail_mismatch_warning(&it, w, sizeof w);
    assert_string_equal(w, ""); /* any SAN e-mail, case-insensitive */
    it.user_mail = "a@other.example";
    ssync_mail_mismatch_warning(&it, w, sizeof w);
    assert_string_equal(w, "no SAN e-mail equals the user's mail a@other.example: Outlook "
                           "mobile will not use this certificate");
    it.n_emails = 0;
    ssync_mail_mismatch_warning(&it, w, sizeof w);
    assert_non_null(strstr(w, "the certificate has no SAN e-mail"));
    it.user_mail = NULL; /* a user without mail: nothing to compare */
    ssync_mail_mismatch_warning(&it, w, sizeof w);
    assert_string_equal(w, "");
    it.user_mail = "a@other.example";
    it.user_found = 0;
    ssync_mail_mismatch_warning(&it, w, sizeof w);
    assert_string_equal(w, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(templates_by_oid_or_v1_name),
        cmocka_unit_test(eku_default_names_and_any_purpose),
        cmocka_unit_test(user_filters_deny_allow_group),
        cmocka_unit_test(list_files),
        cmocka_unit_test(serials),
        cmocka_unit_test(targets),
        cmocka_unit_test(target_user_before_lookup),
        cmocka_unit_test(mail_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
