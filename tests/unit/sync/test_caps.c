/* The change caps: [policy] max_removals / max_uploads parsed (number, percentage, off, bad
 * values), their defaults, and the check on a plan (which cap, by how much). */
#include "testutil.h"

#include "sync/caps.h"
#include "sync/config.h"

#include <stdlib.h>
#include <string.h>

static ssync_code parse(const char *policy, ssync_config *c, ssync_error *e)
{
    char text[256];
    snprintf(text, sizeof text, "[policy]\n%s\n", policy);
    return ssync_config_parse_string(text, "t.conf", c, e);
}

static void defaults_cap_removals_not_uploads(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(parse("", &c, &e), SSYNC_OK);
    /* 10 % of the managed records, never fewer than 10 */
    assert_int_equal(ssync_cap_allowed(&c.policy.max_removals, 0), 10);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_removals, 99), 10);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_removals, 1000), 100);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_uploads, 1000000), -1);
    ssync_config_free(&c);
}

static void parses_numbers_percentages_and_off(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(parse("max_removals = 25\nmax_uploads = 5%", &c, &e), SSYNC_OK);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_removals, 1000), 25);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_uploads, 1000), 50);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_uploads, 10), 0); /* no floor of its own */
    ssync_config_free(&c);
    assert_int_equal(parse("max_removals = off\nmax_uploads = 0", &c, &e), SSYNC_OK);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_removals, 1000), -1);
    assert_int_equal(ssync_cap_allowed(&c.policy.max_uploads, 1000), 0);
    ssync_config_free(&c);
}

static void bad_values_name_the_key(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "max_removals = -1", "max_removals = 101%", "max_removals = ten",
        "max_removals = %",  "max_uploads = 5 %",   "max_uploads = 12345678901234567890123"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssync_config c;
        ssync_error e = {0};
        assert_int_equal(parse(bad[i], &c, &e), SSYNC_ERR_CONFIG);
        assert_non_null(strstr(e.msg, "t.conf:2"));
        assert_non_null(strstr(e.msg, bad[i][4] == 'r' ? "max_removals" : "max_uploads"));
        ssync_config_free(&c);
    }
}

/* present items count as managed; removes and uploads as planned */
static void make_plan(ssync_plan *p, size_t keep, size_t removes, size_t uploads)
{
    p->count = keep + removes + uploads;
    p->items = calloc(p->count, sizeof *p->items);
    assert_non_null(p->items);
    for (size_t i = 0; i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        it->action = i < keep             ? SSYNC_ACT_KEEP
                     : i < keep + removes ? SSYNC_ACT_REMOVE
                                          : SSYNC_ACT_UPLOAD;
        it->present = it->action != SSYNC_ACT_UPLOAD;
    }
}

static void check_names_the_cap_and_the_excess(void **state)
{
    (void)state;
    ssync_config c;
    ssync_error e = {0};
    assert_int_equal(parse("", &c, &e), SSYNC_OK);
    ssync_plan p = {0};
    make_plan(&p, 160, 40, 500); /* 200 managed: 10 % is 20 */
    ssync_cap_check r, u;
    assert_int_equal(
        ssync_caps_check(&p, &c.policy.max_removals, &c.policy.max_uploads, &r, &u, &e),
        SSYNC_ERR_CAP);
    assert_int_equal(r.planned, 40);
    assert_int_equal(r.managed, 200);
    assert_int_equal(r.allowed, 20);
    assert_int_equal(u.planned, 500);
    assert_int_equal(u.allowed, -1);
    assert_non_null(strstr(e.msg, "[policy] max_removals: the plan removes 40 records, 20 more "
                                  "than the 20 allowed (10% of the 200 records smimesync "
                                  "manages in Intune, at least 10)"));
    /* at the cap: let through */
    p.items[160].action = SSYNC_ACT_KEEP;
    for (size_t i = 161; i < 180; i++)
        p.items[i].action = SSYNC_ACT_KEEP;
    assert_int_equal(
        ssync_caps_check(&p, &c.policy.max_removals, &c.policy.max_uploads, &r, NULL, &e),
        SSYNC_OK);
    assert_int_equal(r.planned, 20);
    /* a removal that cannot be carried out (no recovered item) does not count */
    p.items[0].action = SSYNC_ACT_REMOVE;
    p.items[0].code = SSYNC_ERR_KRA_NOT_HELD;
    assert_int_equal(
        ssync_caps_check(&p, &c.policy.max_removals, &c.policy.max_uploads, NULL, NULL, &e),
        SSYNC_OK);
    /* uploads, when capped */
    ssync_cap up = {.value = 499};
    assert_int_equal(ssync_caps_check(&p, &c.policy.max_removals, &up, NULL, &u, &e),
                     SSYNC_ERR_CAP);
    assert_non_null(
        strstr(e.msg, "[policy] max_uploads: the plan uploads 500 records, 1 more than the 499 "
                      "allowed"));
    assert_int_equal(ssync_caps_check(NULL, &up, &up, NULL, NULL, &e), SSYNC_ERR_ARG);
    free(p.items);
    ssync_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_cap_removals_not_uploads),
        cmocka_unit_test(parses_numbers_percentages_and_off),
        cmocka_unit_test(bad_values_name_the_key),
        cmocka_unit_test(check_names_the_cap_and_the_excess),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
