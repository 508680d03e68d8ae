/* The plan refuses a SAN UPN or e-mail that is not a well-formed local@domain (issue 18 #4):
 * ssync_address_valid and ssync_plan_item_check_names. */
#include "testutil.h"

#include "source/item.h"

#include <stdlib.h>
#include <string.h>

static void addresses(void **state)
{
    static const char *const good[] = {"alice@contoso.example", "o'brien@contoso.example",
                                       "a.b+tag@x-y.example", "A_B@EXAMPLE.COM", "x@localhost"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(ssync_address_valid(good[i]));
    static const char *const bad[] = {
        "",
        "alice",
        "@contoso.example",
        "alice@",
        "a@b@c.example",
        "a..b@c.example",
        ".a@c.example",
        "a.@c.example",
        "a@c..example",
        "a@-c.example",
        "a@c-.example",
        "a@c.example.",
        "a b@c.example",
        "a@c.example\nsmimesync sync: upload ceo@corp [done]",
        "a\x1b]52;c;SGVsbG8=\x07@c.example",
        "a@c.example\x1b",
        "\xe2\x80\xae"
        "a@c.example",
        "z\xc3\xab@c.example",
        "a\"b@c.example",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(ssync_address_valid(bad[i]));
    char big[80];
    memset(big, 'a', 65);
    strcpy(big + 65, "@c.example");
    assert_false(ssync_address_valid(big)); /* local part over 64 */
    assert_false(ssync_address_valid(NULL));
}

static void items_with_bad_names_fail(void **state)
{
    ssync_plan p = {0};
    assert_int_equal(ssync_plan_reserve(&p, 2), 0); /* the pointers stay valid */
    ssync_plan_item *it = ssync_plan_add(&p);
    assert_non_null(it);
    it->san_upn = strdup("alice@contoso.example");
    it->emails = calloc(2, sizeof *it->emails);
    it->emails[0] = strdup("alice@contoso.example");
    it->emails[1] = strdup("x\x1b]52;c;AA==\x07@contoso.example");
    it->n_emails = 2;
    assert_int_equal(ssync_plan_item_check_names(it), 1);
    assert_int_equal(it->code, SSYNC_ERR_CERT_BAD_NAME);
    assert_non_null(strstr(it->error, "SAN e-mail"));
    assert_non_null(strstr(it->error, "not a well-formed local@domain"));
    ssync_plan_item *ok = ssync_plan_add(&p);
    ok->san_upn = strdup("bob@contoso.example");
    assert_int_equal(ssync_plan_item_check_names(ok), 0);
    assert_int_equal(ok->code, SSYNC_OK);
    ssync_plan_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(addresses),
        cmocka_unit_test(items_with_bad_names_fail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
