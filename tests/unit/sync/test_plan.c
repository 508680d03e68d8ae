/* The sync engine's pure diff: desired items + the Intune listing + policy -> actions. */
#include "testutil.h"

#include "sync/connect.h"
#include "sync/plan.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400

/* The scan of a run: the source of cfg opened with kras, crls and journal, scanned, closed. */
static ssync_code scan(const ssync_config *cfg, const ssync_kra_set *kras, X509_CRL *const *crls,
                       size_t n_crls, const ssync_plan_target *t, ssync_journal *j, ssync_plan *out,
                       ssync_error *e)
{
    ssync_trust *trust = NULL; /* [source] ca */
    ssync_code rc = ssync_trust_load(cfg->source.ca.v, cfg->source.ca.n, &trust, e);
    ssync_source_env env = {kras, crls, n_crls, j, trust};
    ssync_source *src = NULL;
    if (rc == SSYNC_OK)
        rc = ssync_source_open(&cfg->source, &env, &src, e);
    if (rc == SSYNC_OK)
        rc = ssync_plan_scan(src, t, out, e);
    ssync_source_close(src);
    ssync_trust_free(trust);
    return rc;
}

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
    /* the oldest leaves only once the newest that replaces it is in Intune: not this run */
    assert_int_equal(p.items[0].action, SSYNC_ACT_KEEP);
    assert_string_equal(p.items[0].reason, "older; removed once the newer one is in Intune");
    assert_int_equal(p.items[1].action, SSYNC_ACT_UPLOAD);
    assert_int_equal(p.items[2].action, SSYNC_ACT_KEEP);
    assert_int_equal(p.items[3].action, SSYNC_ACT_SKIP);
    assert_int_equal(p.items[4].action, SSYNC_ACT_UPLOAD);
    pol.keep_newest = 1;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_KEEP);
    assert_int_equal(p.items[2].action, SSYNC_ACT_KEEP);
    /* the next run: the newest was uploaded, now the older ones go */
    listed(&l, "a@x.example", '2');
    ssync_pfx_list_sort(&l);
    pol.keep_newest = 2;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_REMOVE);
    assert_string_equal(p.items[0].reason, "older than the newest keep_newest of the user");
    assert_int_equal(p.items[1].action, SSYNC_ACT_KEEP);
    assert_int_equal(p.items[2].action, SSYNC_ACT_KEEP);
    pol.keep_newest = 1;
    ssync_plan_decide(&p, &l, &pol, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_REMOVE);
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

/* Filtered items are out of scope: skipped with the filter's reason and never removed, even when
 * present and revoked; they take no rank in keep_newest. */
static void filtered_items_are_left_alone(void **state)
{
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    ssync_plan_item *f1 = add(&p, "a@x.example", '1', NOW + DAY, 1, 1); /* revoked, present */
    f1->filtered = 1;
    ssync_plan_note(&f1->reason, "user on users_deny");
    ssync_plan_item *f2 = add(&p, "a@x.example", '2', NOW - 90 * DAY, 0, 1); /* expired, present */
    f2->filtered = 1;
    ssync_plan_note(&f2->reason, "template 1.2.3 not in [source] templates");
    ssync_plan_item *f3 = add(&p, "b@x.example", '3', NOW + DAY, 0, 0); /* filtered before lookup */
    f3->filtered = 1;
    ssync_plan_note(&f3->reason, "no EKU of [source] eku (1.3.6.1.5.5.7.3.4)");
    add(&p, "a@x.example", '4', NOW + 5 * DAY, 0, 1); /* the user's only candidate */
    listed(&l, "a@x.example", '1');
    listed(&l, "a@x.example", '2');
    ssync_pfx_list_sort(&l);
    ssync_plan_policy pol = DEFAULTS;
    pol.keep_newest = 1;
    pol.include_expired = 0;
    for (int round = 0; round < 2; round++) { /* deciding again keeps the reasons */
        ssync_plan_decide(&p, &l, &pol, NOW);
        assert_int_equal(p.items[0].action, SSYNC_ACT_SKIP);
        assert_string_equal(p.items[0].reason, "user on users_deny");
        assert_true(p.items[0].present);
        assert_int_equal(p.items[1].action, SSYNC_ACT_SKIP);
        assert_string_equal(p.items[1].reason, "template 1.2.3 not in [source] templates");
        assert_int_equal(p.items[2].action, SSYNC_ACT_SKIP);
        assert_string_equal(p.items[2].reason, "no EKU of [source] eku (1.3.6.1.5.5.7.3.4)");
        assert_int_equal(p.items[3].action, SSYNC_ACT_UPLOAD);
    }
    ssync_plan_counts c;
    ssync_plan_count(&p, &c);
    assert_int_equal(c.remove, 0);
    assert_int_equal(c.skip, 3);
    ssync_plan_free(&p);
    ssync_pfx_list_free(&l);
}

/* Why resolve could not name a user survives decide; the warning is resolve's, decide keeps it. */
static void resolve_reasons_and_warnings(void **state)
{
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    ssync_plan_item *amb = add(&p, "a@x.example", '1', NOW + DAY, 0, 0);
    ssync_plan_note(&amb->reason, "the certificate's e-mails match several directory users");
    add(&p, "b@x.example", '2', NOW + DAY, 0, 0);
    ssync_plan_item *w = add(&p, "c@x.example", '3', NOW + DAY, 0, 1);
    ssync_plan_note(&w->warning, "no SAN e-mail equals the user's mail c@y.example");
    ssync_plan_decide(&p, &l, &DEFAULTS, NOW);
    assert_int_equal(p.items[0].action, SSYNC_ACT_SKIP);
    assert_string_equal(p.items[0].reason,
                        "the certificate's e-mails match several directory users");
    assert_string_equal(p.items[1].reason, "user not found in Entra ID");
    assert_int_equal(p.items[2].action, SSYNC_ACT_UPLOAD);
    assert_string_equal(p.items[2].warning, "no SAN e-mail equals the user's mail c@y.example");
    ssync_plan_free(&p);
}

/* What devices get: a user's history is said once (on the latest notBefore); a renewal with a
 * later notAfter but an earlier notBefore is a warning naming both certificates; a user with one
 * certificate, and certificates that will not be in Intune, get nothing. */
static void delivery_notes(void **state)
{
    (void)state;
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    ssync_plan_item *old = add(&p, "a@x.example", '1', NOW + 100 * DAY, 0, 1);
    old->not_before = NOW - 700 * DAY;
    ssync_plan_item *cur = add(&p, "a@x.example", '2', NOW + 300 * DAY, 0, 1);
    cur->not_before = NOW - 60 * DAY;
    ssync_plan_item *back = add(&p, "a@x.example", '3', NOW + 400 * DAY, 0, 1);
    back->not_before = NOW - 90 * DAY; /* renews, but starts before cur */
    ssync_plan_item *gone = add(&p, "a@x.example", '4', NOW + 500 * DAY, 1, 1);
    gone->not_before = NOW - DAY; /* revoked and absent: skipped, not counted */
    ssync_plan_item *one = add(&p, "b@x.example", '5', NOW + DAY, 0, 1);
    one->not_before = NOW - DAY;
    ssync_plan_decide(&p, &l, &DEFAULTS, NOW);
    assert_non_null(cur->warning);
    assert_non_null(strstr(cur->warning, "3 certificates of this user will be in Intune"));
    assert_non_null(strstr(cur->warning, "only this one (the latest notBefore)"));
    assert_null(old->warning);
    assert_non_null(back->warning);
    assert_non_null(strstr(back->warning,
                           "back-dated renewal: 3333333333333333333333333333333333333333"
                           " expires after 2222222222222222222222222222222222222222"));
    assert_null(gone->warning);
    assert_null(one->warning);
    /* an earlier warning stays in front */
    ssync_plan_note(&cur->warning, "no SAN e-mail equals the user's mail");
    ssync_plan_decide(&p, &l, &DEFAULTS, NOW);
    assert_non_null(strstr(cur->warning, "no SAN e-mail equals the user's mail; 3 certificates"));
    ssync_plan_free(&p);
}

static void request_id_from_file_name(void **state)
{
    assert_int_equal(ssync_plan_request_id_from_name("1234.rsp"), 1234);
    assert_int_equal(ssync_plan_request_id_from_name("1234-alice.der"), 1234);
    assert_int_equal(ssync_plan_request_id_from_name("1234"), 1234);
    assert_int_equal(ssync_plan_request_id_from_name("007.rsp"), 7);
    assert_int_equal(ssync_plan_request_id_from_name("12a.rsp"), 0);
    assert_int_equal(ssync_plan_request_id_from_name("u00001-g1.der"), 0);
    assert_int_equal(ssync_plan_request_id_from_name("-12.rsp"), 0);
    assert_int_equal(ssync_plan_request_id_from_name("0.rsp"), 0);
    assert_int_equal(ssync_plan_request_id_from_name("99999999999999999999999.rsp"), 0);
    assert_int_equal(ssync_plan_request_id_from_name(""), 0);
    assert_int_equal(ssync_plan_request_id_from_name(NULL), 0);
}

/* A CRL of the certificate's issuer listing serial (unsigned: only the lookup matters). */
static X509_CRL *crl_listing(X509 *cert, const ASN1_INTEGER *serial)
{
    X509_CRL *crl = X509_CRL_new();
    assert_non_null(crl);
    assert_true(X509_CRL_set_issuer_name(crl, X509_get_issuer_name(cert)));
    X509_REVOKED *r = X509_REVOKED_new();
    assert_true(X509_REVOKED_set_serialNumber(r, (ASN1_INTEGER *)serial));
    assert_true(X509_CRL_add0_revoked(crl, r));
    X509_CRL_sort(crl);
    return crl;
}

static void set_cert_facts(void **state)
{
    X509 *cert = test_load_cert("adcs-basic/user.pem");
    ssync_plan p = {0};
    ssync_plan_item *it = ssync_plan_add(&p);
    ssync_error e = {0};
    assert_int_equal(ssync_plan_item_set_cert(it, cert, NULL, 0, &e), SSYNC_OK);
    assert_string_equal(it->thumbprint, "a1570b56e8553d50c55073607fcf9c3ccc534111");
    assert_string_equal(it->serial, "2E29AAA3690D9087745552FD7924C75F0800E744");
    assert_string_equal(it->cert_upn, "alice.adams@lab.example");
    assert_string_equal(it->san_upn, "alice.adams@lab.example");
    assert_int_equal(it->n_emails, 1);
    assert_string_equal(it->emails[0], "alice.adams@lab.example");
    assert_int_equal(it->n_eku, 1);
    assert_string_equal(it->eku[0], "1.3.6.1.5.5.7.3.4");
    assert_string_equal(it->template_oid, "1.3.6.1.4.1.311.21.8.6301991.2938543.412570.1725121."
                                          "735828.231.4136173.9322655");
    assert_null(it->template_name);
    assert_true(it->not_after > 0);
    assert_true(it->not_before > 0 && it->not_before < it->not_after);
    assert_false(it->revoked);

    /* revoked: the issuer's CRL lists the serial; another serial or issuer does not count */
    X509_CRL *listed_crl = crl_listing(cert, X509_get0_serialNumber(cert));
    ASN1_INTEGER *other = ASN1_INTEGER_new();
    ASN1_INTEGER_set(other, 5);
    X509_CRL *other_crl = crl_listing(cert, other);
    X509_CRL *crls[2] = {other_crl, listed_crl};
    assert_int_equal(ssync_plan_item_set_cert(it, cert, crls, 1, &e), SSYNC_OK);
    assert_false(it->revoked);
    assert_int_equal(ssync_plan_item_set_cert(it, cert, crls, 2, &e), SSYNC_OK); /* refill */
    assert_true(it->revoked);
    assert_int_equal(it->n_emails, 1);
    /* one allocation for the one address (SAN UPN, certificate user, e-mail), the common EKU
     * OID shared by every item: a plan holds one item per certificate */
    assert_ptr_equal(it->san_upn, it->cert_upn);
    assert_ptr_equal(it->emails[0], it->cert_upn);
    ssync_plan_item *twin = ssync_plan_add(&p);
    it = &p.items[0];
    assert_int_equal(ssync_plan_item_set_cert(twin, cert, NULL, 0, &e), SSYNC_OK);
    assert_ptr_equal(twin->eku[0], it->eku[0]);
    assert_ptr_not_equal(twin->cert_upn, it->cert_upn);
    /* the Entra UPN and mail join the shared string; replacing the user keeps them valid */
    twin->upn = strdup("alice.adams@lab.example");
    twin->user_mail = strdup("alice.adams@lab.example");
    ssync_plan_item_share(twin);
    assert_ptr_equal(twin->upn, twin->cert_upn);
    assert_ptr_equal(twin->user_mail, twin->cert_upn);
    assert_int_equal(ssync_plan_item_set_user(twin, "other@lab.example"), SSYNC_OK);
    assert_string_equal(twin->upn, "alice.adams@lab.example");
    assert_string_equal(twin->emails[0], "alice.adams@lab.example");
    assert_ptr_equal(twin->san_upn, twin->cert_upn);
    assert_int_equal(ssync_plan_item_set_cert(twin, cert, NULL, 0, &e), SSYNC_OK); /* refill */
    assert_string_equal(twin->upn, "alice.adams@lab.example");
    assert_int_equal(ssync_plan_item_set_cert(it, NULL, NULL, 0, &e), SSYNC_ERR_ARG);
    ASN1_INTEGER_free(other);
    X509_CRL_free(listed_crl);
    X509_CRL_free(other_crl);
    X509_free(cert);
    ssync_plan_free(&p);
}

static int odd_only(void *ctx, const ssync_plan_item *it)
{
    (void)ctx;
    return it->not_after % 2 == 1;
}

/* Items decided alike point at one reason text; a reason written for one item is its own. */
static void reasons_are_shared_texts(void **state)
{
    ssync_plan p = {0};
    ssync_pfx_list l = {0};
    add(&p, "a@x.example", '1', NOW + DAY, 0, 1);
    add(&p, "b@x.example", '2', NOW + DAY, 0, 1);
    ssync_plan_decide(&p, &l, &DEFAULTS, NOW);
    assert_string_equal(p.items[0].reason, "not in Intune");
    assert_ptr_equal(p.items[0].reason, p.items[1].reason);
    ssync_plan_note(&p.items[1].reason, "user on users_deny");
    assert_string_equal(p.items[0].reason, "not in Intune");
    ssync_plan_decide(&p, &l, &DEFAULTS, NOW); /* decided again: the note is replaced */
    assert_ptr_equal(p.items[0].reason, p.items[1].reason);
    ssync_plan_free(&p);
}

static void keep_if_frees_the_others(void **state)
{
    ssync_plan p = {0};
    for (int i = 0; i < 5; i++)
        add(&p, "a@x.example", (char)('0' + i), i, 0, 1);
    ssync_plan_keep_if(&p, odd_only, NULL);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.items[0].not_after, 1);
    assert_int_equal(p.items[1].not_after, 3);
    ssync_plan_free(&p);
}

static void copy_file(const char *from_rel, const char *dir, const char *name)
{
    ssync_buf b = test_read(from_rel);
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    fclose(f);
    ssync_buf_free(&b);
}

static void load_cfg(ssync_config *cfg, const char *dir, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[source]\ntype = blobs\npath = %s/blobs\nca = %s\n%s\n[kra]\nkey = %s\n"
             "password_file = %s\n",
             dir, test_data_path("adcs-basic/ca.pem"), extra, test_data_path("adcs-basic/kra.p12"),
             test_data_path("adcs-basic/kra.pass"));
    ssync_error e = {0};
    if (ssync_config_parse_string(text, "test.conf", cfg, &e) != SSYNC_OK)
        fail_msg("%s", e.msg);
}

/* Targeted scans and the certificate filters, on real blobs. */
static void scan_targets_and_filters(void **state)
{
    char *dir = test_tmpdir();
    char blobs[600];
    snprintf(blobs, sizeof blobs, "%s/blobs", dir);
    assert_int_equal(mkdir(blobs, 0700), 0);
    copy_file("adcs-basic/getkey.der", blobs, "17.rsp");
    copy_file("adcs-basic/getkey.der", blobs, "18-alice.der");
    copy_file("adcs-basic/getkey-base64.txt", blobs, "alice.txt");
    copy_file("adcs-basic/user.pem", blobs, "19.rsp"); /* not a blob */

    ssync_config cfg;
    load_cfg(&cfg, dir, "");
    ssync_kra_set *kras = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_kra_set_open(&cfg.kra, NULL, NULL, &kras, &e), SSYNC_OK);

    ssync_plan p = {0};
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 4);
    assert_int_equal(p.items[0].request_id, 17);
    assert_string_equal(ssync_basename(p.items[0].path), "17.rsp");
    assert_int_equal(p.items[1].request_id, 18);
    assert_int_equal(p.items[2].request_id, 19);
    assert_int_not_equal(p.items[2].code, SSYNC_OK);
    assert_int_equal(p.items[3].request_id, 0);
    assert_false(p.items[0].filtered); /* emailProtection: in scope by default */
    ssync_plan_free(&p);

    ssync_plan_target by_id = {.request_id = "18"};
    assert_int_equal(scan(&cfg, kras, NULL, 0, &by_id, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 1);
    assert_string_equal(ssync_basename(p.items[0].path), "18-alice.der");
    ssync_plan_free(&p);
    ssync_plan_target failing = {.request_id = "19"}; /* kept so its error is reported */
    assert_int_equal(scan(&cfg, kras, NULL, 0, &failing, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 1);
    assert_int_not_equal(p.items[0].code, SSYNC_OK);
    ssync_plan_free(&p);
    ssync_plan_target by_serial = {
        .serial = "2e:29:aa:a3:69:0d:90:87:74:55:52:fd:79:24:c7:5f:08:00:e7:44"};
    assert_int_equal(scan(&cfg, kras, NULL, 0, &by_serial, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 3);
    ssync_plan_free(&p);
    ssync_plan_target both = {.serial = "2E29AAA3690D9087745552FD7924C75F0800E744",
                              .request_id = "17"};
    assert_int_equal(scan(&cfg, kras, NULL, 0, &both, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 1);
    ssync_plan_free(&p);
    ssync_plan_target nobody = {.serial = "1234"};
    assert_int_equal(scan(&cfg, kras, NULL, 0, &nobody, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 0);
    ssync_plan_target bad = {.serial = "xyz"};
    assert_int_equal(scan(&cfg, kras, NULL, 0, &bad, NULL, &p, &e), SSYNC_ERR_ARG);
    ssync_config_free(&cfg);

    /* a template filter that excludes everything; an EKU the certificates lack */
    load_cfg(&cfg, dir, "templates = 1.2.3, SmimeUser");
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, NULL, &p, &e), SSYNC_OK);
    assert_true(p.items[0].filtered);
    assert_string_equal(p.items[0].reason,
                        "template 1.3.6.1.4.1.311.21.8.6301991.2938543.412570.1725121.735828.231."
                        "4136173.9322655 not in [source] templates");
    assert_false(p.items[2].filtered); /* not recovered: nothing to filter on */
    ssync_plan_free(&p);
    ssync_config_free(&cfg);
    load_cfg(&cfg, dir, "eku = clientAuth");
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, NULL, &p, &e), SSYNC_OK);
    assert_true(p.items[1].filtered);
    assert_non_null(strstr(p.items[1].reason, "1.3.6.1.5.5.7.3.2"));
    ssync_plan_free(&p);
    ssync_config_free(&cfg);
    load_cfg(&cfg, dir, "eku = bogusPurpose");
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, NULL, &p, &e), SSYNC_ERR_CONFIG);
    assert_int_equal(p.count, 0);
    ssync_config_free(&cfg);

    ssync_kra_set_free(kras);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_actions),
        cmocka_unit_test(expiry_policies),
        cmocka_unit_test(keep_newest),
        cmocka_unit_test(keep_newest_ties_share_a_rank),
        cmocka_unit_test(filtered_items_are_left_alone),
        cmocka_unit_test(resolve_reasons_and_warnings),
        cmocka_unit_test(delivery_notes),
        cmocka_unit_test(request_id_from_file_name),
        cmocka_unit_test(set_cert_facts),
        cmocka_unit_test(keep_if_frees_the_others),
        cmocka_unit_test(reasons_are_shared_texts),
        cmocka_unit_test(scan_targets_and_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
