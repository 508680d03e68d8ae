#include "testutil.h"

#include "sync/findings.h"

#include <string.h>

#define DAY 86400
static const time_t NOW = 1800000000;

static ssync_plan_item item(const char *upn, time_t not_after, int revoked, const char *serial)
{
    ssync_plan_item it;
    memset(&it, 0, sizeof it);
    it.cert_upn = (char *)upn;
    it.not_after = not_after;
    it.revoked = (unsigned char)revoked;
    snprintf(it.serial, sizeof it.serial, "%s", serial);
    return it;
}

static void newest_expiring_without_successor(void **state)
{
    (void)state;
    ssync_plan_item v[] = {
        item("a@x", NOW + 10 * DAY, 0, "A1"),  /* a: expiring, no successor: listed */
        item("b@x", NOW + 10 * DAY, 0, "B1"),  /* b: a successor exists */
        item("B@x", NOW + 400 * DAY, 0, "B2"), /* (case-insensitive user) */
        item("c@x", NOW + 5 * DAY, 0, "C1"),   /* c: its successor is revoked: listed */
        item("c@x", NOW + 300 * DAY, 1, "C2"),
        item("d@x", NOW - 5 * DAY, 0, "D1"),  /* d: already expired: not listed */
        item("e@x", NOW + 31 * DAY, 0, "E1"), /* e: outside the window */
        item(NULL, NOW + 1 * DAY, 0, "N1"),   /* no user: not listed */
    };
    v[2].upn = "b@x"; /* resolved UPN wins over the certificate's */
    ssync_plan p = {.items = v, .count = sizeof v / sizeof v[0]};
    ssync_user_expiry_list l;
    ssync_error e = {0};
    assert_int_equal(ssync_findings_users_expiring(&p, NOW, 30, &l, &e), SSYNC_OK);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].user, "c@x"); /* sorted by notAfter */
    assert_string_equal(l.v[0].serial, "C1");
    assert_string_equal(l.v[1].user, "a@x");
    assert_int_equal(l.v[1].not_after, NOW + 10 * DAY);
    ssync_user_expiry_list_free(&l);
    /* a filtered successor does not count either */
    ssync_plan_item w[] = {item("f@x", NOW + 2 * DAY, 0, "F1"),
                           item("f@x", NOW + 90 * DAY, 0, "F2")};
    w[1].filtered = 1;
    ssync_plan q = {.items = w, .count = 2};
    assert_int_equal(ssync_findings_users_expiring(&q, NOW, 30, &l, &e), SSYNC_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].serial, "F1");
    ssync_user_expiry_list_free(&l);
}

static void bad_arguments(void **state)
{
    (void)state;
    ssync_user_expiry_list l;
    ssync_error e = {0};
    ssync_plan p = {0};
    assert_int_equal(ssync_findings_users_expiring(NULL, NOW, 30, &l, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_findings_users_expiring(&p, NOW, 30, NULL, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_findings_users_expiring(&p, NOW, -1, &l, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_findings_users_expiring(&p, NOW, 30, &l, &e), SSYNC_OK);
    assert_int_equal(l.n, 0);
    ssync_user_expiry_list_free(&l);
    ssync_user_expiry_list_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(newest_expiring_without_successor),
        cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
