/* The sync engine's pure diff: desired items + the Intune listing + policy -> actions. */
#include "testutil.h"

#include "plan.h"

#include <stdlib.h>
#include <string.h>

#define DAY 86400
static const time_t NOW = 1800000000;

static ssync_plan_item *add(ssync_plan *p, const char *upn, char tp_digit, time_t not_after,
                            int revoked, int found)
{
    ssync_plan_item *it = ssync_plan_add(p);
    assert_non_null(it);
    memset(it->thumbprint, tp_digit, 40);
    it->thumbprint[40] = '\0';
    it->cert_upn = strdup(upn);
    it->not_after = not_after;
    it->revoked = revoked;
    it->user_found = found;
    if (found) {
        it->upn = strdup(upn);
        strcpy(it->user_id, "11111111-2222-3333-4444-555555555555");
    }
    return it;
}

static void listed(ssync_pfx_list *l, const char *upn, char tp_digit)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = realloc(l->items, l->cap * sizeof *l->items);
        assert_non_null(l->items);
    }
    ssync_pfx_entry *e = &l->items[l->count++];
    memset(e, 0, sizeof *e);
    char tp[41];
    memset(tp, tp_digit, 40);
    tp[40] = '\0';
    e->id = strdup("x");
    e->user_principal_name = strdup(upn);
    e->thumbprint = strdup(tp);
    e->thumbprint_valid = 1;
}

static const ssync_plan_policy DEFAULTS = {
    .remove_revoked = 1, .include_expired = 1, .keep_newest = 0, .drop_expired_after = -1};

static void basic_actions(void **state)
{
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    add(&p, "a@x.example", '1', NOW + DAY, 0, 1); /* absent -> upload */
    add(&p, "a@x.example", '2', NOW + DAY, 0, 1); /* present (other case) -> keep */
    add(&p, "b@x.example", '3', NOW + DAY, 1, 1); /* revoked, present -> remove */
    add(&p, "b@x.example", '4', NOW + DAY, 1, 1); /* revoked, absent -> skip */
    add(&p, "c@x.example", '5', NOW + DAY, 0, 0); /* unknown user -> skip */
    add(&p, "a@x.example", '6', NOW - DAY, 0, 1); /* expired, kept by default -> upload */
    ssync_plan_item *bad = add(&p, "d@x.example", '7', NOW, 0, 1);
    bad->code = SSYNC_ERR_KRA_NOT_HELD; /* not recovered -> skip, counted failed */
    listed(&l, "A@X.example", '2');
    listed(&l, "b@x.example", '3');
    listed(&l, "z@x.example", '9'); /* not ours: never touched */
    ssync_pfx_list_sort(&l);
    ssync_plan_decide(&p, &l, &DEFAULTS, NOW);
    const ssync_plan_action want[] = {SSYNC_ACT_UPLOAD, SSYNC_ACT_KEEP, SSYNC_ACT_REMOVE,
                                      SSYNC_ACT_SKIP,   SSYNC_ACT_SKIP, SSYNC_ACT_UPLOAD,
                                      SSYNC_ACT_SKIP};
    for (size_t i = 0; i < p.count; i++)
        assert_int_equal(p.items[i].action, want[i]);
    assert_string_equal(p.items[4].reason, "user not found in Entra ID");
    assert_string_equal(p.items[2].reason, "certificate revoked");
    ssync_plan_counts c;
    ssync_plan_count(&p, &c);
    assert_int_equal(c.upload, 2);
    assert_int_equal(c.remove, 1);
    assert_int_equal(c.keep, 1);
    assert_int_equal(c.skip, 2);
    assert_int_equal(c.failed, 1);

    ssync_plan_policy off = DEFAULTS;
    off.remove_revoked = 0;
    ssync_plan_decide(&p, &l, &off, NOW);
    assert_int_equal(p.items[2].action, SSYNC_ACT_KEEP);
    ssync_plan_free(&p);
    ssync_pfx_list_free(&l);
}

static void expiry_policies(void **state)
{
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    add(&p, "a@x.example", '1', NOW - 2 * DAY, 0, 1);  /* expired 2 days, present */
    add(&p, "a@x.example", '2', NOW - 40 * DAY, 0, 1); /* expired 40 days, present */
    add(&p, "a@x.example", '3', NOW - 40 * DAY, 0, 1); /* expired 40 days, absent */
    add(&p, "a@x.example", '4', NOW + DAY, 0, 1);      /* valid, absent */
    listed(&l, "a@x.example", '1');
    listed(&l, "a@x.example", '2');
    ssync_pfx_list_sort(&l);

    ssync_plan_policy pol = DEFAULTS;
    pol.drop_expired_after = 30;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_KEEP);
    assert_int_equal(p.items[1].action, SSYNC_ACT_REMOVE);
    assert_int_equal(p.items[2].action, SSYNC_ACT_SKIP);
    assert_int_equal(p.items[3].action, SSYNC_ACT_UPLOAD);

    pol = DEFAULTS;
    pol.include_expired = 0;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_REMOVE);
    assert_int_equal(p.items[1].action, SSYNC_ACT_REMOVE);
    assert_int_equal(p.items[2].action, SSYNC_ACT_SKIP);
    assert_int_equal(p.items[3].action, SSYNC_ACT_UPLOAD);
    ssync_plan_free(&p);
    ssync_pfx_list_free(&l);
}

static void keep_newest(void **state)
{
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    add(&p, "a@x.example", '1', NOW - 100 * DAY, 0, 1); /* oldest, present */
    add(&p, "a@x.example", '2', NOW + 100 * DAY, 0, 1); /* newest, absent */
    add(&p, "A@x.example", '3', NOW + 10 * DAY, 0, 1);  /* second, present */
    add(&p, "a@x.example", '4', NOW + 200 * DAY, 1, 1); /* revoked: not a candidate */
    add(&p, "b@x.example", '5', NOW - 100 * DAY, 0, 1); /* another user's only one */
    listed(&l, "a@x.example", '1');
    listed(&l, "a@x.example", '3');
    ssync_pfx_list_sort(&l);
    ssync_plan_policy pol = DEFAULTS;
    pol.keep_newest = 2;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_REMOVE);
    assert_int_equal(p.items[1].action, SSYNC_ACT_UPLOAD);
    assert_int_equal(p.items[2].action, SSYNC_ACT_KEEP);
    assert_int_equal(p.items[3].action, SSYNC_ACT_SKIP);
    assert_int_equal(p.items[4].action, SSYNC_ACT_UPLOAD);
    pol.keep_newest = 1;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[2].action, SSYNC_ACT_REMOVE);
    ssync_plan_free(&p);
    ssync_pfx_list_free(&l);
}

/* the same certificate from two blob files: neither is newer, so they share a rank */
static void keep_newest_ties_share_a_rank(void **state)
{
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    add(&p, "c@x.example", '7', NOW + DAY, 0, 1);
    add(&p, "C@x.example", '7', NOW + DAY, 0, 1);
    add(&p, "c@x.example", '6', NOW - DAY, 0, 1);
    ssync_pfx_list_sort(&l);
    ssync_plan_policy pol = DEFAULTS;
    pol.keep_newest = 1;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_UPLOAD);
    assert_int_equal(p.items[1].action, SSYNC_ACT_UPLOAD);
    assert_int_equal(p.items[2].action, SSYNC_ACT_SKIP);
    ssync_plan_free(&p);
    ssync_pfx_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_actions),
        cmocka_unit_test(expiry_policies),
        cmocka_unit_test(keep_newest),
        cmocka_unit_test(keep_newest_ties_share_a_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
