/* KRA coverage of an archived key: the recipients of its envelope (issuer + serial), which of
 * them we hold, and whether the held key opens it; a KRA we do not hold, no KRA at all, a
 * same-serial KRA of another issuer, and input that is no envelope. */
#include "recovery_util.h"

#include "recover/coverage.h"

#include <string.h>

static ssync_kra_set *one_kra(const char *file, const char *pw)
{
    ssync_kra_set *set = NULL;
    ssync_error e = {0};
    assert_ok(ssync_kra_set_new(&set, &e), e);
    assert_ok(ssync_kra_set_add_file(set, test_data_path(file), pw, NULL, &e), e);
    return set;
}

static void coverage_of(const ssync_kra_set *set, const char *rel, ssync_kra_coverage *cv)
{
    ssync_buf f = test_read(rel);
    ssync_error e = {0};
    assert_ok(ssync_kra_coverage_check(set, f.data, f.len, cv, &e), e);
    ssync_buf_free(&f);
}

/* A blob to kra1 and kra2: two recipients; holding kra2 opens it and marks only kra2 held. */
static void two_recipients_one_held(void **state)
{
    (void)state;
    ssync_kra_set *set = one_kra("recovery/kra2.p12", "legacy-Pa55");
    ssync_kra_coverage cv;
    coverage_of(set, "recovery/getkey-2kra.der", &cv);
    assert_int_equal(cv.total, 2);
    assert_int_equal(cv.n, 2);
    assert_int_equal(cv.held, 1);
    assert_int_equal(cv.opens, 1);
    assert_int_equal(cv.r[0].held + cv.r[1].held, 1);
    for (size_t i = 0; i < 2; i++) {
        assert_true(strlen(cv.r[i].serial) > 0);
        assert_non_null(strstr(cv.r[i].issuer, "CN="));
    }
    ssync_kra_set_free(set);
}

/* Without a KRA key: the recipients are listed, nothing is tried. */
static void no_kra_lists_recipients(void **state)
{
    (void)state;
    ssync_kra_coverage cv;
    coverage_of(NULL, "recovery/getkey-2kra.der", &cv);
    assert_int_equal(cv.total, 2);
    assert_int_equal(cv.held, 0);
    assert_int_equal(cv.opens, 0);
}

/* A blob to kra3 only, with kra1 held: not covered, and the recipient's serial is kra3's. */
static void foreign_kra_not_covered(void **state)
{
    (void)state;
    ssync_kra_set *set = one_kra("adcs-basic/kra.p12", "kra-Pa55word!");
    ssync_kra_coverage cv;
    coverage_of(set, "recovery/getkey-foreign.der", &cv);
    assert_int_equal(cv.total, 1);
    assert_int_equal(cv.held, 0);
    assert_int_equal(cv.opens, 0);
    assert_string_equal(cv.r[0].serial, "0FEDCBA987654321");
    ssync_kra_set_free(set);
}

/* kra1's serial under another issuer is not kra1: issuer and serial together name a KRA. */
static void same_serial_other_issuer(void **state)
{
    (void)state;
    ssync_kra_set *set = one_kra("adcs-basic/kra.p12", "kra-Pa55word!");
    ssync_kra_coverage cv;
    coverage_of(set, "recovery/envelope-foreign-issuer.der", &cv);
    assert_int_equal(cv.held, 0);
    assert_int_equal(cv.opens, 0);
    ssync_kra_set_free(set);
}

/* The lab vectors' own blob opens with their KRA. */
static void held_kra_opens(void **state)
{
    (void)state;
    ssync_kra_set *set = one_kra("adcs-basic/kra.p12", "kra-Pa55word!");
    ssync_kra_coverage cv;
    coverage_of(set, "adcs-basic/rawarchivedkey.der", &cv);
    assert_int_equal(cv.total, 1);
    assert_int_equal(cv.held, 1);
    assert_int_equal(cv.opens, 1);
    assert_int_equal(cv.r[0].held, 1);
    ssync_kra_set_free(set);
}

static void not_an_envelope(void **state)
{
    (void)state;
    ssync_kra_coverage cv;
    ssync_error e = {0};
    const unsigned char junk[] = "this is not a CMS structure";
    assert_int_not_equal(ssync_kra_coverage_check(NULL, junk, sizeof junk, &cv, &e), SSYNC_OK);
    assert_true(strlen(e.msg) > 0);
    assert_int_equal(ssync_kra_coverage_check(NULL, NULL, 0, &cv, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_kra_coverage_check(NULL, junk, sizeof junk, NULL, &e), SSYNC_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_recipients_one_held), cmocka_unit_test(no_kra_lists_recipients),
        cmocka_unit_test(foreign_kra_not_covered), cmocka_unit_test(same_serial_other_issuer),
        cmocka_unit_test(held_kra_opens),          cmocka_unit_test(not_an_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
