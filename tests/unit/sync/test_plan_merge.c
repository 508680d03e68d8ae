/* One plan over several sources: the same certificate (thumbprint) from two sources is counted
 * once (ssync_plan_merge_duplicates), and an item is exported only by the source that scanned it
 * (ssync_source_owns). */
#include "testutil.h"

#include "sync/plan.h"

#include <stdlib.h>
#include <string.h>

static ssync_plan_item *add(ssync_plan *p, const char *source, char tp_digit, ssync_code code)
{
    ssync_plan_item *it = ssync_plan_add(p);
    assert_non_null(it);
    it->source = source;
    if (tp_digit) {
        memset(it->thumbprint, tp_digit, 40);
        it->thumbprint[40] = '\0';
    }
    it->code = code;
    it->cert_upn = strdup("alice@example.com");
    return it;
}

static void same_thumbprint_from_two_sources_counted_once(void **state)
{
    (void)state;
    ssync_plan p = {0};
    add(&p, "ca1", 'a', SSYNC_OK);
    add(&p, "ca2", 'b', SSYNC_OK);
    add(&p, "ca2", 'a', SSYNC_OK)->revoked = 1; /* ca2's CRL revokes it: revoked */
    add(&p, "ca1", 0, SSYNC_ERR_KRA_NOT_HELD);  /* no thumbprint: never merged */
    add(&p, "ca2", 0, SSYNC_ERR_KRA_NOT_HELD);
    size_t dropped = 99;
    ssync_error e = {0};
    assert_int_equal(ssync_plan_merge_duplicates(&p, &dropped, &e), SSYNC_OK);
    assert_int_equal(dropped, 1);
    assert_int_equal(p.count, 4);
    assert_string_equal(p.items[0].source, "ca1"); /* the first source keeps it */
    assert_int_equal(p.items[0].thumbprint[0], 'a');
    assert_true(p.items[0].revoked);
    assert_int_equal(p.items[1].thumbprint[0], 'b');
    assert_int_equal(p.items[2].thumbprint[0], '\0');
    assert_int_equal(p.items[3].thumbprint[0], '\0');
    ssync_plan_free(&p);
}

static void a_recovered_copy_wins_over_a_failed_one(void **state)
{
    (void)state;
    ssync_plan p = {0};
    /* ca1 holds the certificate but its KRA cannot open the blob; ca2 can */
    add(&p, "ca1", 'c', SSYNC_ERR_KRA_NOT_HELD);
    add(&p, "ca2", 'c', SSYNC_OK);
    /* ca3 filters it out, ca4 takes it */
    add(&p, "ca3", 'd', SSYNC_OK)->filtered = 1;
    add(&p, "ca4", 'd', SSYNC_OK);
    size_t dropped = 0;
    assert_int_equal(ssync_plan_merge_duplicates(&p, &dropped, NULL), SSYNC_OK);
    assert_int_equal(dropped, 2);
    assert_int_equal(p.count, 2);
    assert_string_equal(p.items[0].source, "ca2");
    assert_int_equal(p.items[0].code, SSYNC_OK);
    assert_string_equal(p.items[1].source, "ca4");
    assert_false(p.items[1].filtered);
    ssync_plan_free(&p);
}

static void nothing_to_merge_and_bad_arguments(void **state)
{
    (void)state;
    ssync_plan p = {0};
    size_t dropped = 5;
    assert_int_equal(ssync_plan_merge_duplicates(&p, &dropped, NULL), SSYNC_OK);
    assert_int_equal(dropped, 0);
    add(&p, "ca1", 'a', SSYNC_OK);
    add(&p, "ca1", 'b', SSYNC_OK);
    assert_int_equal(ssync_plan_merge_duplicates(&p, NULL, NULL), SSYNC_OK);
    assert_int_equal(p.count, 2);
    ssync_plan_free(&p);
    ssync_error e = {0};
    assert_int_equal(ssync_plan_merge_duplicates(NULL, &dropped, &e), SSYNC_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_thumbprint_from_two_sources_counted_once),
        cmocka_unit_test(a_recovered_copy_wins_over_a_failed_one),
        cmocka_unit_test(nothing_to_merge_and_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
