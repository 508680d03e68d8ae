/* The CA logic on in-memory rows: the join of Requests with Certificates, the filters
 * (archived key, template by OID or name, requester, request id), incremental runs that read
 * only new rows, both date encodings, and the errors for tables that are not AD CS-shaped. */
#include "testutil.h"

#include "edb/edb.h"
#include "edb/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const req_cols[] = {"RequestID",     "Disposition",    "RevokedWhen",
                                       "RevokedReason", "$RequesterName", "RawArchivedKey"};
static const char *const crt_cols[] = {"RequestID",     "NotBefore",        "NotAfter",
                                       "$SerialNumber", "$CertificateHash", "$CertificateTemplate",
                                       "$UPN",          "RawCertificate"};

#define OID "1.3.6.1.4.1.311.21.8.1.2.3"

static ssync_edb_value vint(long long i)
{
    ssync_edb_value v = {.kind = SSYNC_EDB_INT, .i = i};
    return v;
}

static ssync_edb_value vtext(const char *s)
{
    ssync_edb_value v = {.kind = SSYNC_EDB_TEXT, .text = (char *)s};
    return v;
}

static ssync_edb_value vbin(const char *s)
{
    ssync_edb_value v = {.kind = SSYNC_EDB_BINARY, .data = (unsigned char *)s, .len = strlen(s)};
    return v;
}

static ssync_edb_value vdate(time_t t)
{
    ssync_edb_value v = {.kind = SSYNC_EDB_DATE, .t = t};
    return v;
}

static const ssync_edb_value vnull = {.kind = SSYNC_EDB_NULL};

static void add_req(ssync_edb_table *t, long long id, int disp, int key, const char *who)
{
    ssync_edb_value v[6] = {vint(id),
                            vint(disp),
                            disp == 21 ? vdate(1000) : vnull,
                            vint(disp == 21 ? 1 : 0),
                            vtext(who),
                            key ? vbin("KEY") : vnull};
    assert_int_equal(ssync_edb_mem_add(t, v, NULL), SSYNC_OK);
}

/* not_after as a FILETIME integer (INT) to check that encoding too */
static void add_crt(ssync_edb_table *t, long long id, const char *tmpl, const char *upn)
{
    char serial[32];
    snprintf(serial, sizeof serial, "61%04llx", id);
    ssync_edb_value v[8] = {vint(id),
                            vdate(100),
                            vint((long long)(116444736000000000ULL + 2000ULL * 10000000ULL)),
                            vtext(serial),
                            vtext("45 a0"),
                            vtext(tmpl),
                            upn ? vtext(upn) : vnull,
                            vbin("CERT")};
    assert_int_equal(ssync_edb_mem_add(t, v, NULL), SSYNC_OK);
}

typedef struct seen {
    long long ids[64];
    size_t n;
    ssync_edb_entry first;
    char upn[64], tmpl[64], requester[64];
} seen;

static ssync_code collect(void *ctx, const ssync_edb_entry *e, ssync_error *err)
{
    (void)err;
    seen *s = ctx;
    if (!s->n) {
        s->first = *e;
        snprintf(s->upn, sizeof s->upn, "%s", e->upn);
        snprintf(s->tmpl, sizeof s->tmpl, "%s", e->template_name);
        snprintf(s->requester, sizeof s->requester, "%s", e->requester);
    }
    assert_true(s->n < 64);
    s->ids[s->n++] = e->request_id;
    return SSYNC_OK;
}

static ssync_code count(void *ctx, const ssync_edb_entry *e, ssync_error *err)
{
    (void)e;
    (void)err;
    (*(size_t *)ctx)++;
    return SSYNC_OK;
}

typedef struct fixture {
    ssync_edb_table *req, *crt;
} fixture;

/* requests 1..8: 1 issued with key, 2 denied, 3 issued without key, 4 revoked with key,
 * 5 issued with key but no certificate row, 6 issued with key (v1 template name),
 * 7 issued with key (another requester), 8 pending */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->req = ssync_edb_mem_new("Requests", req_cols, 6);
    f->crt = ssync_edb_mem_new("Certificates", crt_cols, 8);
    add_req(f->req, 1, 20, 1, "LAB\\alice");
    add_req(f->req, 2, 31, 0, "LAB\\bob");
    add_req(f->req, 3, 20, 0, "LAB\\WKS1$");
    add_req(f->req, 4, 21, 1, "LAB\\carol");
    add_req(f->req, 5, 20, 1, "LAB\\dave");
    add_req(f->req, 6, 20, 1, "LAB\\erin");
    add_req(f->req, 7, 20, 1, "OTHER\\frank");
    add_req(f->req, 8, 9, 1, "LAB\\gina");
    add_crt(f->crt, 1, OID, "alice@lab.example");
    add_crt(f->crt, 3, "Machine", NULL);
    add_crt(f->crt, 4, OID, "carol@lab.example");
    add_crt(f->crt, 6, "SMIMEUser", "erin@lab.example");
    add_crt(f->crt, 7, OID, "frank@lab.example");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ssync_edb_mem_free(f->req);
    ssync_edb_mem_free(f->crt);
    free(f);
    return 0;
}

static void run(fixture *f, const ssync_edb_query *q, seen *s, ssync_edb_stats *st)
{
    memset(s, 0, sizeof *s);
    ssync_error err = {0};
    assert_int_equal(ssync_edb_select(f->req, f->crt, q, collect, s, st, &err), SSYNC_OK);
}

static void join_and_archived(void **state)
{
    fixture *f = *state;
    ssync_edb_query q = {0};
    seen s;
    run(f, &q, &s, NULL);
    /* every issued or revoked request with a certificate row, denied/pending/no-row left out */
    assert_int_equal(s.n, 5);
    long long all[] = {1, 3, 4, 6, 7};
    assert_memory_equal(s.ids, all, sizeof all);
    q.archived_only = 1;
    run(f, &q, &s, NULL);
    long long archived[] = {1, 4, 6, 7};
    assert_int_equal(s.n, 4);
    assert_memory_equal(s.ids, archived, sizeof archived);
    assert_int_equal(s.first.disposition, 20);
    assert_true(s.first.has_archived_key);
    assert_string_equal(s.upn, "alice@lab.example");
    assert_string_equal(s.requester, "LAB\\alice");
    assert_int_equal((long long)s.first.not_before, 100);
    assert_int_equal((long long)s.first.not_after, 2000); /* from the FILETIME integer */
    assert_int_equal(s.first.revoked_when, 0);
}

static void revoked_facts(void **state)
{
    fixture *f = *state;
    ssync_edb_query q = {0};
    q.request_id = 4;
    seen s;
    run(f, &q, &s, NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.first.disposition, 21);
    assert_int_equal((long long)s.first.revoked_when, 1000);
    assert_int_equal(s.first.revoked_reason, 1);
}

static void filters(void **state)
{
    fixture *f = *state;
    ssync_edb_query q = {0};
    seen s;
    q.archived_only = 1;
    q.templates[q.n_templates++] = OID;
    run(f, &q, &s, NULL);
    long long by_oid[] = {1, 4, 7};
    assert_int_equal(s.n, 3);
    assert_memory_equal(s.ids, by_oid, sizeof by_oid);
    q.templates[0] = "smimeuser"; /* a v1 name, case-insensitive */
    run(f, &q, &s, NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ids[0], 6);
    q.n_templates = 0;
    q.requester = "other\\FRANK";
    run(f, &q, &s, NULL);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ids[0], 7);
    q.requester = NULL;
    q.request_id = 5; /* issued with a key but no certificate row: nothing */
    run(f, &q, &s, NULL);
    assert_int_equal(s.n, 0);
    q.request_id = 3; /* no archived key */
    run(f, &q, &s, NULL);
    assert_int_equal(s.n, 0);
}

static void incremental_reads_only_new_rows(void **state)
{
    (void)state;
    ssync_edb_table *req = ssync_edb_mem_new("Requests", req_cols, 6);
    ssync_edb_table *crt = ssync_edb_mem_new("Certificates", crt_cols, 8);
    for (long long id = 1; id <= 2000; id++) {
        add_req(req, id, 20, id % 2 == 0, "LAB\\u");
        add_crt(crt, id, OID, "u@lab.example");
    }
    ssync_edb_query q = {0};
    q.archived_only = 1;
    q.after_id = 1998; /* the journal saw up to 1998: only 1999 (no key) and 2000 are new */
    seen s;
    ssync_edb_stats st;
    memset(&s, 0, sizeof s);
    ssync_error err = {0};
    size_t before = req->loads + crt->loads;
    assert_int_equal(ssync_edb_select(req, crt, &q, collect, &s, &st, &err), SSYNC_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ids[0], 2000);
    assert_int_equal(st.requests, 2);
    assert_int_equal(st.max_request_id, 2000);
    /* the seeks are binary searches: about log2(2000) = 11 probes per table */
    assert_true(st.probes <= 30);
    assert_true(req->loads + crt->loads - before <= 40);
    /* one request by id: the same few reads */
    memset(&q, 0, sizeof q);
    q.request_id = 1000;
    memset(&s, 0, sizeof s);
    before = req->loads + crt->loads;
    assert_int_equal(ssync_edb_select(req, crt, &q, collect, &s, &st, &err), SSYNC_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.ids[0], 1000);
    assert_true(req->loads + crt->loads - before <= 40);
    /* a full run reads every request once and each certificate row at most once more */
    memset(&q, 0, sizeof q);
    q.archived_only = 1;
    size_t n = 0;
    assert_int_equal(ssync_edb_select(req, crt, &q, count, &n, &st, &err), SSYNC_OK);
    assert_int_equal(n, 1000);
    assert_int_equal(st.requests, 2000);
    assert_true(st.certificates <= 2000);
    ssync_edb_mem_free(req);
    ssync_edb_mem_free(crt);
}

static void bad_tables(void **state)
{
    fixture *f = *state;
    ssync_edb_query q = {0};
    seen s;
    ssync_error err = {0};
    /* Certificates without RawCertificate: a clear error */
    static const char *const few[] = {"RequestID"};
    ssync_edb_table *crt = ssync_edb_mem_new("Certificates", few, 1);
    assert_int_equal(ssync_edb_select(f->req, crt, &q, collect, &s, NULL, &err), SSYNC_ERR_EDB);
    assert_string_equal(err.msg, "cannot read the CA database: table Certificates has no column "
                                 "RawCertificate (not an AD CS database?)");
    ssync_edb_mem_free(crt);
    /* rows out of RequestID order are refused (the merge join relies on it) */
    ssync_edb_table *req = ssync_edb_mem_new("Requests", req_cols, 6);
    add_req(req, 5, 20, 1, "a");
    add_req(req, 3, 20, 1, "b");
    memset(&s, 0, sizeof s);
    assert_int_equal(ssync_edb_select(req, f->crt, &q, collect, &s, NULL, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "not in RequestID order"));
    ssync_edb_mem_free(req);
    assert_int_equal(ssync_edb_select(NULL, f->crt, &q, collect, &s, NULL, &err), SSYNC_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(join_and_archived, setup, teardown),
        cmocka_unit_test_setup_teardown(revoked_facts, setup, teardown),
        cmocka_unit_test_setup_teardown(filters, setup, teardown),
        cmocka_unit_test(incremental_reads_only_new_rows),
        cmocka_unit_test_setup_teardown(bad_tables, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
