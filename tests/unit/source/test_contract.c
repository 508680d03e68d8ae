/* The source contract, one table-driven suite over every source (source/source.h): on one lab
 * written at test time by smimesync-lab (recovery blobs, the same certificates as a pfx source
 * and as a CA database), each source opens, scans every certificate with its revocation,
 * exports an item back to the certificate it planned (from two threads at once: export is
 * thread-safe), finds what it can, checks with a sample recovery, and commits. */
#include "testutil.h"

#include "common/fileio.h"
#include "connector/connector.h"
#include "journal/journal.h"
#include "pki/crl.h"
#include "source/source.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a source must do on the lab, and what it may leave out. */
typedef struct contract {
    ssync_source_type type;
    const char *path;  /* in the lab */
    int findable;      /* find searches this source */
    int incremental;   /* commit keeps a marker that the next scan starts after */
    const char *count; /* check's summary names the count so */
} contract;

static const contract CONTRACTS[] = {
    {SSYNC_SOURCE_BLOBS, "blobs", 1, 0, "3 recovery blobs"},
    {SSYNC_SOURCE_EDB, "ca.edb", 0, 1, "3 requests"},
    {SSYNC_SOURCE_PFX, "pfx", 0, 0, "3 entries"},
};

#define N_CERTS 3

typedef struct lab {
    char *dir;
    char thumbprint[N_CERTS][41];
    int revoked[N_CERTS];
    ssync_kra_set *kras;
    X509_CRL *crl;
    EVP_PKEY *connector;
    ssync_trust *trust; /* the lab CA (ca.pem) */
} lab;

static const char *at(const lab *l, const char *rel)
{
    static char path[2][1024];
    static int slot;
    slot ^= 1;
    snprintf(path[slot], sizeof path[slot], "%s/%s", l->dir, rel);
    return path[slot];
}

static int lab_setup(void **state)
{
    const char *build = getenv("SSYNC_BUILD");
    if (!build) {
        *state = NULL;
        return 0; /* run by ctest, which names the build; the tests skip otherwise */
    }
    lab *l = calloc(1, sizeof *l);
    l->dir = test_tmpdir();
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s/smimesync-lab' --out '%s' --users %d --revoked 1 --renewals 0 --expired 0 "
             "--key-pool 2 --seed 7 --threads 1 --pfx-dir '%s/pfx' --edb '%s/ca.edb' >/dev/null",
             build, l->dir, N_CERTS, l->dir, l->dir);
    if (system(cmd) != 0) {
        test_rmtree(l->dir);
        free(l->dir);
        free(l);
        return -1;
    }
    /* the lab's own account of what it wrote */
    ssync_buf b = {0};
    ssync_error e = {0};
    if (ssync_read_file(at(l, "manifest.jsonl"), 1 << 20, &b, &e) != SSYNC_OK)
        return -1;
    size_t n = 0;
    for (char *line = (char *)b.data, *nl; line && *line && n < N_CERTS; line = nl, n++) {
        if ((nl = strchr(line, '\n')))
            *nl++ = '\0';
        json_t *o = json_loads(line, 0, NULL);
        snprintf(l->thumbprint[n], 41, "%s", json_string_value(json_object_get(o, "thumbprint")));
        l->revoked[n] = json_is_true(json_object_get(o, "revoked"));
        json_decref(o);
    }
    ssync_buf_free(&b);
    ssync_buf pass = {0};
    if (n != N_CERTS || ssync_read_secret_file(at(l, "kra.pass"), &pass, &e) != SSYNC_OK ||
        ssync_kra_set_new(&l->kras, &e) != SSYNC_OK ||
        ssync_kra_set_add_file(l->kras, at(l, "kra.p12"), (const char *)pass.data, NULL, &e) !=
            SSYNC_OK ||
        ssync_crl_load(at(l, "ca.crl"), &l->crl, &e) != SSYNC_OK ||
        ssync_trust_load((char *[]){(char *)at(l, "ca.pem")}, 1, &l->trust, &e) != SSYNC_OK ||
        ssync_connector_load(at(l, "connector-public.pem"), &l->connector, &e) != SSYNC_OK) {
        fprintf(stderr, "lab: %s\n", e.msg);
        return -1;
    }
    ssync_buf_free_secret(&pass);
    *state = l;
    return 0;
}

static int lab_teardown(void **state)
{
    lab *l = *state;
    if (!l)
        return 0;
    test_rmtree(l->dir);
    free(l->dir);
    ssync_kra_set_free(l->kras);
    ssync_trust_free(l->trust);
    X509_CRL_free(l->crl);
    EVP_PKEY_free(l->connector);
    free(l);
    return 0;
}

static int lab_index(const lab *l, const char *thumbprint)
{
    for (int i = 0; i < N_CERTS; i++)
        if (strcmp(l->thumbprint[i], thumbprint) == 0)
            return i;
    return -1;
}

typedef struct export_job {
    ssync_source *src;
    const ssync_exporter *ex;
    const ssync_plan_item *it;
    ssync_code rc;
    char thumbprint[41];
    char upn[128];
} export_job;

static void *export_one(void *arg)
{
    export_job *j = arg;
    ssync_export_result r;
    ssync_error e = {0};
    j->rc = ssync_source_export(j->src, j->ex, j->it, "someone@lab.example", &r, &e);
    if (j->rc == SSYNC_OK) {
        snprintf(j->thumbprint, sizeof j->thumbprint, "%s", r.info.thumbprint);
        snprintf(j->upn, sizeof j->upn, "%s",
                 json_string_value(json_object_get(r.record, "userPrincipalName")));
        ssync_export_result_clear(&r);
    }
    return NULL;
}

static void run_contract(lab *l, const contract *c)
{
    ssync_source_cfg cfg = {0};
    cfg.type = c->type;
    char path[1024];
    snprintf(path, sizeof path, "%s", at(l, c->path));
    cfg.path = path;
    cfg.incremental = c->incremental;
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_open(at(l, "state.db"), &j, &e), SSYNC_OK);
    ssync_source_env env = {l->kras, &l->crl, 1, j, l->trust};

    /* open: once per run */
    ssync_source *src = NULL;
    if (ssync_source_open(&cfg, &env, &src, &e) != SSYNC_OK)
        fail_msg("%s: open: %s", c->path, e.msg);
    assert_ptr_equal(ssync_source_config(src), &cfg);

    /* scan: one item per certificate, each known to the lab, revoked as the lab revoked it */
    ssync_plan p = {0};
    if (ssync_source_scan(src, NULL, &p, &e) != SSYNC_OK)
        fail_msg("%s: scan: %s", c->path, e.msg);
    assert_int_equal(p.count, N_CERTS);
    int seen[N_CERTS] = {0};
    const ssync_plan_item *good[2] = {NULL, NULL};
    size_t n_good = 0;
    for (size_t i = 0; i < p.count; i++) {
        const ssync_plan_item *it = &p.items[i];
        if (it->code != SSYNC_OK)
            fail_msg("%s: item %zu: %s", c->path, i, ssync_plan_item_error(it));
        int k = lab_index(l, it->thumbprint);
        assert_true(k >= 0);
        assert_false(seen[k]);
        seen[k] = 1;
        assert_int_equal(it->revoked, l->revoked[k]);
        assert_non_null(it->path);
        assert_non_null(it->cert_upn);
        if (!it->revoked && n_good < 2)
            good[n_good++] = it;
    }
    assert_int_equal(n_good, 2);

    /* export: back to the planned certificate, for the given user, on two workers at once */
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    ex.kras = l->kras;
    ex.connector = l->connector;
    export_job jobs[2];
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        jobs[t] = (export_job){.src = src, .ex = &ex, .it = good[t]};
        assert_int_equal(pthread_create(&th[t], NULL, export_one, &jobs[t]), 0);
    }
    for (int t = 0; t < 2; t++) {
        pthread_join(th[t], NULL);
        assert_int_equal(jobs[t].rc, SSYNC_OK);
        assert_string_equal(jobs[t].thumbprint, good[t]->thumbprint);
        assert_string_equal(jobs[t].upn, "someone@lab.example");
    }
    /* an item whose certificate changed since the plan is never exported as planned: the
     * source refuses it, or its record names the certificate it holds (the caller compares) */
    ssync_plan_item changed = *good[0];
    memset(changed.thumbprint, 'a', 40);
    ssync_export_result r;
    if (ssync_source_export(src, &ex, &changed, NULL, &r, &e) == SSYNC_OK) {
        assert_string_equal(r.info.thumbprint, good[0]->thumbprint);
        ssync_export_result_clear(&r);
    } else {
        assert_non_null(strstr(e.msg, "changed since the plan"));
    }

    /* find: a wanted certificate is found where it is, a revoked or unknown one is not */
    const char *tps[3] = {good[0]->thumbprint, "0000000000000000000000000000000000000000", NULL};
    for (int k = 0; k < N_CERTS; k++)
        if (l->revoked[k])
            tps[2] = l->thumbprint[k];
    char *where[3] = {(char *)"x", (char *)"x", (char *)"x"};
    int searched = ssync_source_find(src, tps, 3, 1, where);
    assert_int_equal(searched, c->findable);
    if (searched)
        assert_string_equal(where[0], good[0]->path);
    else
        assert_null(where[0]);
    assert_null(where[1]);
    assert_null(where[2]);
    free(where[0]);

    /* check: the count and one sample recovery */
    ssync_source_check_result res;
    if (ssync_source_check(src, &res, &e) != SSYNC_OK)
        fail_msg("%s: check: %s", c->path, e.msg);
    assert_int_equal(res.count, N_CERTS);
    if (!strstr(res.summary, c->count))
        fail_msg("'%s' not in '%s'", c->count, res.summary);
    if (res.sample != SSYNC_SAMPLE_OK)
        fail_msg("%s: sample: %s", c->path, res.sample_text);
    assert_non_null(strstr(res.sample_text, " the key of "));
    /* without a KRA key the sample of a source that needs one is not tried */
    ssync_source_env nokra = {NULL, NULL, 0, NULL, NULL};
    ssync_source *bare = NULL;
    assert_int_equal(ssync_source_open(&cfg, &nokra, &bare, &e), SSYNC_OK);
    assert_int_equal(ssync_source_check(bare, &res, &e), SSYNC_OK);
    assert_int_equal(res.sample,
                     c->type == SSYNC_SOURCE_PFX ? SSYNC_SAMPLE_OK : SSYNC_SAMPLE_SKIPPED);
    ssync_source_close(bare);

    /* commit: an incremental source starts after the committed items next time */
    assert_int_equal(ssync_source_commit(src, &p, &e), SSYNC_OK);
    ssync_plan again = {0};
    assert_int_equal(ssync_source_scan(src, NULL, &again, &e), SSYNC_OK);
    assert_int_equal(again.count, c->incremental ? 0 : N_CERTS);
    ssync_plan_free(&again);

    ssync_plan_free(&p);
    ssync_source_close(src);
    ssync_journal_close(j);
    remove(at(l, "state.db"));
}

static void contract_blobs(void **state)
{
    if (!*state)
        skip();
    run_contract(*state, &CONTRACTS[0]);
}

static void contract_edb(void **state)
{
    if (!*state)
        skip();
    run_contract(*state, &CONTRACTS[1]);
}

static void contract_pfx(void **state)
{
    if (!*state)
        skip();
    run_contract(*state, &CONTRACTS[2]);
}

/* The facade's own answers: an unknown type, and hints by type. */
static void facade(void **state)
{
    (void)state;
    ssync_source_cfg cfg = {0};
    cfg.type = (ssync_source_type)7;
    ssync_source *src = (ssync_source *)&cfg;
    ssync_error e = {0};
    assert_int_equal(ssync_source_open(&cfg, NULL, &src, &e), SSYNC_ERR_ARG);
    assert_null(src);
    assert_null(ssync_source_hint((ssync_source_type)7));
    assert_string_equal(ssync_source_hint(SSYNC_SOURCE_BLOBS),
                        "check [source] path and its permissions");
    assert_string_equal(ssync_source_hint(SSYNC_SOURCE_PFX), "check [source] manifest");
    assert_null(ssync_source_hint(SSYNC_SOURCE_EDB));
    char *where = (char *)"x";
    const char *tp = "00";
    assert_int_equal(ssync_source_find(NULL, &tp, 1, 1, &where), 0);
    assert_null(where);
    ssync_source_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(facade),
        cmocka_unit_test(contract_blobs),
        cmocka_unit_test(contract_edb),
        cmocka_unit_test(contract_pfx),
    };
    return cmocka_run_group_tests(tests, lab_setup, lab_teardown);
}
