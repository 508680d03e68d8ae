/* A source of a run of several ([source "NAME"]): the facade stamps each scanned item with the
 * source's name, a source owns only its items, commit keeps an edb marker per source and sees
 * only its own items, and export opens keys with the source's own KRA keys. */
#include "testutil.h"

#include "common/fileio.h"
#include "connector/connector.h"
#include "journal/journal.h"
#include "pki/crl.h"
#include "source/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lab {
    char *dir;
    ssync_kra_set *kras;
    ssync_trust *trust;
    EVP_PKEY *connector;
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
    *state = NULL;
    if (!build)
        return 0; /* run by ctest, which names the build; the tests skip otherwise */
    lab *l = calloc(1, sizeof *l);
    l->dir = test_tmpdir();
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s/smimesync-lab' --out '%s' --users 3 --revoked 0 --renewals 0 --expired 0 "
             "--key-pool 2 --seed 9 --threads 1 --edb '%s/ca.edb' >/dev/null",
             build, l->dir, l->dir);
    ssync_buf pass = {0};
    ssync_error e = {0};
    if (system(cmd) != 0 || ssync_read_secret_file(at(l, "kra.pass"), &pass, &e) != SSYNC_OK ||
        ssync_kra_set_new(&l->kras, &e) != SSYNC_OK ||
        ssync_kra_set_add_file(l->kras, at(l, "kra.p12"), (const char *)pass.data, NULL, &e) !=
            SSYNC_OK ||
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
    EVP_PKEY_free(l->connector);
    free(l);
    return 0;
}

static char *marker(ssync_journal *j, const char *key)
{
    char *v = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_meta_get(j, key, &v, &e), SSYNC_OK);
    return v;
}

static void items_name_their_source_and_markers_are_per_source(void **state)
{
    lab *l = *state;
    if (!l)
        skip();
    char path[1024];
    snprintf(path, sizeof path, "%s", at(l, "ca.edb"));
    ssync_source_cfg named = {
        .name = (char *)"ca1", .type = SSYNC_SOURCE_EDB, .path = path, .incremental = 1};
    ssync_source_cfg single = named;
    single.name = NULL; /* [source]: "default" */
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_journal_open(at(l, "state.db"), &j, &e), SSYNC_OK);
    ssync_source_env env = {l->kras, NULL, 0, j, l->trust};
    ssync_source *a = NULL, *d = NULL;
    assert_int_equal(ssync_source_open(&named, &env, &a, &e), SSYNC_OK);
    assert_int_equal(ssync_source_open(&single, &env, &d, &e), SSYNC_OK);

    ssync_plan p = {0};
    assert_int_equal(ssync_source_scan(a, NULL, &p, &e), SSYNC_OK);
    assert_int_equal(p.count, 3);
    long long max = 0;
    for (size_t i = 0; i < p.count; i++) {
        assert_string_equal(p.items[i].source, "ca1");
        assert_true(ssync_source_owns(a, &p.items[i]));
        assert_false(ssync_source_owns(d, &p.items[i]));
        if (p.items[i].request_id > max)
            max = p.items[i].request_id;
    }
    /* an item of another source with a higher request id: not this source's marker */
    ssync_plan_item *other = ssync_plan_add(&p);
    assert_non_null(other);
    other->source = "ca2";
    other->request_id = max + 1000;
    assert_false(ssync_source_owns(a, other));
    assert_int_equal(ssync_source_commit(a, &p, &e), SSYNC_OK);
    char want[32];
    snprintf(want, sizeof want, "%lld", max);
    char *v = marker(j, "edb.last_request_id.ca1");
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
    assert_null(marker(j, "edb.last_request_id")); /* the single [source]'s key, untouched */
    /* the next scan of ca1 starts after its marker; the default source still reads all */
    ssync_plan again = {0};
    assert_int_equal(ssync_source_scan(a, NULL, &again, &e), SSYNC_OK);
    assert_int_equal(again.count, 0);
    assert_int_equal(ssync_source_scan(d, NULL, &again, &e), SSYNC_OK);
    assert_int_equal(again.count, 3);
    assert_string_equal(again.items[0].source, "default");
    ssync_plan_free(&again);
    ssync_plan_free(&p);
    ssync_source_close(a);
    ssync_source_close(d);
    ssync_journal_close(j);
    remove(at(l, "state.db"));
}

static void export_uses_the_sources_own_kra_keys(void **state)
{
    lab *l = *state;
    if (!l)
        skip();
    char path[1024];
    snprintf(path, sizeof path, "%s", at(l, "ca.edb"));
    ssync_source_cfg cfg = {.name = (char *)"ca1", .type = SSYNC_SOURCE_EDB, .path = path};
    ssync_source_env env = {l->kras, NULL, 0, NULL, l->trust};
    ssync_source *src = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_source_open(&cfg, &env, &src, &e), SSYNC_OK);
    ssync_plan p = {0};
    assert_int_equal(ssync_source_scan(src, NULL, &p, &e), SSYNC_OK);
    assert_true(p.count > 0);
    /* the run's exporter has another CA's keys (here: an empty set) */
    ssync_kra_set *other = NULL;
    assert_int_equal(ssync_kra_set_new(&other, &e), SSYNC_OK);
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    ex.kras = other;
    ex.connector = l->connector;
    ssync_export_result r;
    if (ssync_source_export(src, &ex, &p.items[0], "someone@lab.example", &r, &e) != SSYNC_OK)
        fail_msg("export: %s", e.msg);
    assert_string_equal(r.info.thumbprint, p.items[0].thumbprint);
    ssync_export_result_clear(&r);
    /* a source opened without keys takes the exporter's: none that opens it */
    ssync_source_env bare = {NULL, NULL, 0, NULL, l->trust};
    ssync_source *nokeys = NULL;
    assert_int_equal(ssync_source_open(&cfg, &bare, &nokeys, &e), SSYNC_OK);
    assert_int_not_equal(ssync_source_export(nokeys, &ex, &p.items[0], NULL, &r, &e), SSYNC_OK);
    ssync_source_close(nokeys);
    ssync_kra_set_free(other);
    ssync_plan_free(&p);
    ssync_source_close(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(items_name_their_source_and_markers_are_per_source),
        cmocka_unit_test(export_uses_the_sources_own_kra_keys),
    };
    return cmocka_run_group_tests(tests, lab_setup, lab_teardown);
}
