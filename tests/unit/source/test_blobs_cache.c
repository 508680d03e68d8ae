/* The plan's scan cache: a cached scan gives the same facts as a fresh one, an unchanged blob is
 * not read again, a changed blob or another KRA set is read again, and the revocation state is
 * computed against each run's CRLs, never cached. */
#include "testutil.h"

#include "sync/config.h"
#include "journal/journal.h"
#include "sync/connect.h"
#include "sync/plan.h"
#include "source/blobs_cache.h"

#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static void load_cfg(ssync_config *cfg, const char *dir, const char *kra, const char *pass)
{
    char text[4096];
    snprintf(
        text, sizeof text,
        "[source]\ntype = blobs\npath = %s/blobs\nca = %s\n[kra]\nkey = %s\npassword_file = %s\n",
        dir, test_data_path("adcs-basic/ca.pem"), test_data_path(kra), test_data_path(pass));
    ssync_error e = {0};
    if (ssync_config_parse_string(text, "test.conf", cfg, &e) != SSYNC_OK)
        fail_msg("%s", e.msg);
}

static void same_facts(const ssync_plan_item *a, const ssync_plan_item *b)
{
    assert_int_equal(a->code, b->code);
    assert_string_equal(a->thumbprint, b->thumbprint);
    assert_string_equal(a->serial, b->serial);
    assert_int_equal(a->not_after, b->not_after);
    assert_int_equal(a->revoked, b->revoked);
    assert_string_equal(a->cert_upn ? a->cert_upn : "-", b->cert_upn ? b->cert_upn : "-");
    assert_string_equal(a->san_upn ? a->san_upn : "-", b->san_upn ? b->san_upn : "-");
    assert_string_equal(a->template_oid ? a->template_oid : "-",
                        b->template_oid ? b->template_oid : "-");
    assert_int_equal(a->n_emails, b->n_emails);
    for (size_t i = 0; i < a->n_emails; i++)
        assert_string_equal(a->emails[i], b->emails[i]);
    assert_int_equal(a->n_eku, b->n_eku);
    for (size_t i = 0; i < a->n_eku; i++)
        assert_string_equal(a->eku[i], b->eku[i]);
}

/* A CRL of the vectors' CA revoking the user certificate. */
static X509_CRL *crl_revoking_user(void)
{
    X509 *ca = test_load_cert("adcs-basic/ca.pem"), *user = test_load_cert("adcs-basic/user.pem");
    EVP_PKEY *key = test_load_key("adcs-basic/ca.key");
    X509_CRL *crl = X509_CRL_new();
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, 1700000000);
    assert_true(crl && r && t && X509_CRL_set_version(crl, 1) &&
                X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
                X509_CRL_set1_lastUpdate(crl, t) &&
                X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(user)) &&
                X509_REVOKED_set_revocationDate(r, t) && X509_CRL_add0_revoked(crl, r) &&
                X509_CRL_sort(crl) && X509_CRL_sign(crl, key, EVP_sha256()) > 0);
    ASN1_TIME_free(t);
    EVP_PKEY_free(key);
    X509_free(user);
    X509_free(ca);
    return crl;
}

static void cached_scan(void **state)
{
    char *dir = test_tmpdir();
    char blobs[600], db[600], blob[700];
    snprintf(blobs, sizeof blobs, "%s/blobs", dir);
    snprintf(db, sizeof db, "%s/state.db", dir);
    snprintf(blob, sizeof blob, "%s/17.rsp", blobs);
    assert_int_equal(mkdir(blobs, 0700), 0);
    copy_file("adcs-basic/getkey.der", blobs, "17.rsp");
    copy_file("adcs-basic/getkey-base64.txt", blobs, "18.txt");
    copy_file("adcs-basic/user.pem", blobs, "19.rsp"); /* not a blob: never cached */
    ssync_config cfg;
    load_cfg(&cfg, dir, "adcs-basic/kra.p12", "adcs-basic/kra.pass");
    ssync_kra_set *kras = NULL;
    ssync_journal *j = NULL;
    ssync_error e = {0};
    assert_int_equal(ssync_kra_set_open(&cfg.kra, NULL, NULL, &kras, &e), SSYNC_OK);
    assert_int_equal(ssync_journal_open(db, &j, &e), SSYNC_OK);
    X509_CRL *crl = crl_revoking_user();

    ssync_plan fresh = {0}, first = {0}, again = {0};
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, NULL, &fresh, &e), SSYNC_OK);
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, j, &first, &e), SSYNC_OK);
    assert_int_equal(fresh.count, 3);
    assert_int_equal(first.count, 3);
    for (size_t i = 0; i < 3; i++)
        same_facts(&fresh.items[i], &first.items[i]);

    /* the blob's bytes change but not its size or time: the cache answers, the file is not
     * read (a fresh scan sees the damage) */
    struct stat st;
    assert_int_equal(stat(blob, &st), 0);
    FILE *f = fopen(blob, "r+b");
    assert_non_null(f);
    char *zeros = calloc(1, (size_t)st.st_size);
    assert_int_equal(fwrite(zeros, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    free(zeros);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(utimensat(AT_FDCWD, blob, times, 0), 0);
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, j, &again, &e), SSYNC_OK);
    for (size_t i = 0; i < 3; i++)
        same_facts(&fresh.items[i], &again.items[i]);
    ssync_plan_free(&again);
    /* revocation is computed against this run's CRLs */
    assert_int_equal(scan(&cfg, kras, &crl, 1, NULL, j, &again, &e), SSYNC_OK);
    assert_true(again.items[0].revoked);
    assert_true(again.items[1].revoked);
    ssync_plan_free(&again);
    /* a new modification time: read again, and the damage is reported */
    times[1].tv_sec += 10;
    assert_int_equal(utimensat(AT_FDCWD, blob, times, 0), 0);
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, j, &again, &e), SSYNC_OK);
    assert_int_not_equal(again.items[0].code, SSYNC_OK);
    assert_int_equal(again.items[1].code, SSYNC_OK);
    ssync_plan_free(&again);
    ssync_kra_set_free(kras);
    ssync_config_free(&cfg);

    /* another KRA set: the cache entries do not apply, the KRA is reported as not held */
    load_cfg(&cfg, dir, "recovery/kra2.p12", "recovery/p12.pass");
    assert_int_equal(ssync_kra_set_open(&cfg.kra, NULL, NULL, &kras, &e), SSYNC_OK);
    assert_int_equal(scan(&cfg, kras, NULL, 0, NULL, j, &again, &e), SSYNC_OK);
    assert_int_equal(again.items[1].code, SSYNC_ERR_KRA_NOT_HELD);
    ssync_plan_free(&again);
    ssync_kra_set_free(kras);
    ssync_config_free(&cfg);

    X509_CRL_free(crl);
    ssync_plan_free(&fresh);
    ssync_plan_free(&first);
    ssync_journal_close(j);
    test_rmtree(dir);
    free(dir);
}

static void bad_cached_text(void **state)
{
    const char *bad[] = {"", "{}", "[]", "{\"tp\":\"abc\",\"sn\":\"01\",\"na\":1,\"iss\":\"30\"}",
                         "{\"tp\":\"0123456789012345678901234567890123456789\",\"sn\":\"01\","
                         "\"na\":\"x\",\"iss\":\"30\",\"em\":[],\"eku\":[]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssync_plan p = {0};
        ssync_plan_item *it = ssync_plan_add(&p);
        assert_int_equal(ssync_scan_facts_decode(bad[i], it, NULL, 0), 0);
        ssync_plan_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cached_scan),
        cmocka_unit_test(bad_cached_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
