/* The edb source: the CA database itself ([source] type = edb, path = a copy of
 * CertLog\<CA>.edb). Items are the issued and revoked requests that carry an archived key,
 * joined with their certificates (the targeted query of edb/ca.c on the database of
 * edb/file.c), each row's archived key recovered like a recovery blob's; the key is read again
 * by request id at upload time. A table carries a cursor, so exports on several workers at once
 * cannot share a handle: the source keeps the handles its exports opened and lends each export
 * an idle one (or opens another), so a run opens one handle per worker, not one per item. */
#include "source/source_int.h"

#include "edb/edb.h"
#include "edb/file.h"
#include "recover/recover.h"

/* The journal meta key of the last request id an incremental run has taken in. */
#define EDB_META_LAST_ID "edb.last_request_id"

#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ssync_code open_db(const ssync_source_cfg *cfg, ssync_edb_db **db, ssync_error *err)
{
    if (!cfg->path)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "[source] path is required (the .edb file)");
    return ssync_edb_open(cfg->path, db, err);
}

/* The idle database handles of the exports (at most one per worker that ran at once). */
typedef struct edb_handles {
    pthread_mutex_t lock;
    ssync_edb_db **idle;
    size_t n, cap;
} edb_handles;

static ssync_code edb_open(ssync_source *src, ssync_error *err)
{
    edb_handles *h = calloc(1, sizeof *h);
    if (!h)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "edb source");
    pthread_mutex_init(&h->lock, NULL);
    src->impl = h;
    return SSYNC_OK;
}

static void edb_source_close(ssync_source *src)
{
    edb_handles *h = src->impl;
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        ssync_edb_close(h->idle[i]);
    free(h->idle);
    pthread_mutex_destroy(&h->lock);
    free(h);
    src->impl = NULL;
}

/* An idle handle of an earlier export, or a new one. */
static ssync_code take_db(ssync_source *src, ssync_edb_db **db, ssync_error *err)
{
    edb_handles *h = src->impl;
    *db = NULL;
    pthread_mutex_lock(&h->lock);
    if (h->n > 0)
        *db = h->idle[--h->n];
    pthread_mutex_unlock(&h->lock);
    return *db ? SSYNC_OK : open_db(src->cfg, db, err);
}

/* Back to the idle handles (closed when it cannot be kept). */
static void give_db(ssync_source *src, ssync_edb_db *db)
{
    edb_handles *h = src->impl;
    pthread_mutex_lock(&h->lock);
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4;
        ssync_edb_db **v = realloc(h->idle, cap * sizeof *v);
        if (v) {
            h->idle = v;
            h->cap = cap;
        }
    }
    if (h->n < h->cap) {
        h->idle[h->n++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&h->lock);
    ssync_edb_close(db);
}

static void query_from_config(const ssync_source_cfg *cfg, ssync_edb_query *q)
{
    memset(q, 0, sizeof *q);
    q->archived_only = 1;
    q->requester = cfg->requester;
    for (size_t i = 0; i < cfg->templates.n && i < SSYNC_EDB_MAX_TEMPLATES; i++)
        q->templates[q->n_templates++] = cfg->templates.v[i];
}

/* The last request id an incremental run took in, from the run's journal. */
/* The journal key of a source's marker: "default" ([source]) keeps the key of the
 * single-source versions, a named source has its own. */
static const char *marker_key(const ssync_source_cfg *cfg, char *buf, size_t size)
{
    const char *name = ssync_source_name(cfg);
    if (strcmp(name, SSYNC_SOURCE_DEFAULT_NAME) == 0)
        return EDB_META_LAST_ID;
    snprintf(buf, size, "%s.%s", EDB_META_LAST_ID, name);
    return buf;
}

static ssync_code last_id(const ssync_source_cfg *cfg, ssync_journal *j, long long *id,
                          ssync_error *err)
{
    char key[128];
    *id = 0;
    if (!j)
        return ssync_fail(err, SSYNC_ERR_CONFIG,
                          "[source] incremental needs [state] path (the journal keeps the last "
                          "request id)");
    char *v = NULL;
    ssync_code rc = ssync_journal_meta_get(j, marker_key(cfg, key, sizeof key), &v, err);
    if (rc == SSYNC_OK && v)
        *id = strtoll(v, NULL, 10);
    free(v);
    return rc;
}

/* The RawArchivedKey of the Requests row current during the callback. */
static ssync_code read_key(ssync_edb_table *req, ssync_edb_value *key, ssync_error *err)
{
    int col = req->ops->column(req, "RawArchivedKey");
    if (col < 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "table Requests has no column RawArchivedKey");
    return req->ops->get(req, col, key, err);
}

/* Recovers the archived key of entry e with the row's certificate as the hint. */
static ssync_code recover_entry(ssync_edb_table *req, const ssync_kra_set *kras,
                                const ssync_edb_entry *e, ssync_recovered *rec, ssync_error *err)
{
    ssync_edb_value key = {0};
    const unsigned char *p = e->cert;
    X509 *cert = e->cert ? d2i_X509(NULL, &p, (long)e->cert_len) : NULL;
    ssync_code rc =
        cert ? read_key(req, &key, err)
             : ssync_fail(err, SSYNC_ERR_CERT_PARSE,
                          "request %lld: RawCertificate is not a certificate", e->request_id);
    if (rc == SSYNC_OK)
        rc = ssync_recover_blob(kras, key.data, key.len, cert, rec, err);
    if (rc != SSYNC_OK && cert)
        ssync_error_prefix(err, "request %lld: ", e->request_id);
    X509_free(cert);
    ssync_edb_value_clear(&key);
    return rc;
}

typedef struct scan_ctx {
    ssync_edb_table *req;
    const ssync_source_cfg *cfg;
    const ssync_kra_set *kras;
    const ssync_source_env *env;
    ssync_plan *out;
    time_t now;
} scan_ctx;

static ssync_code scan_entry(void *ctx, const ssync_edb_entry *e, ssync_error *err)
{
    scan_ctx *s = ctx;
    ssync_plan_item *it = ssync_plan_add(s->out);
    if (!it || !(it->path = strdup(s->cfg->path)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    it->request_id = e->request_id;
    ssync_error ie = {0};
    ssync_recovered rec = {0};
    ssync_code rc = recover_entry(s->req, s->kras, e, &rec, &ie);
    if (rc == SSYNC_OK)
        rc = ssync_source_set_cert(s->env, it, rec.cert, &ie);
    ssync_recovered_clear(&rec);
    if (rc == SSYNC_ERR_NOMEM)
        return ssync_fail(err, rc, NULL);
    if (rc != SSYNC_OK) {
        it->code = rc;
        ssync_plan_note(&it->error, "%s", ie.msg);
        return SSYNC_OK;
    }
    /* the database knows revocations even without a CRL (a delayed one counts when due) */
    if (e->disposition == SSYNC_EDB_DISP_REVOKED && (!e->revoked_when || e->revoked_when <= s->now))
        it->revoked = 1;
    return SSYNC_OK;
}

static ssync_code edb_scan(ssync_source *src, const ssync_plan_target *target, ssync_plan *out,
                           ssync_error *err)
{
    const ssync_source_cfg *cfg = src->cfg;
    ssync_edb_query q;
    query_from_config(cfg, &q);
    ssync_code rc = SSYNC_OK;
    if (target && target->request_id)
        q.request_id = strtoll(target->request_id, NULL, 10);
    else if (cfg->incremental)
        rc = last_id(cfg, src->env.journal, &q.after_id, err);
    ssync_edb_db *db = NULL;
    if (rc == SSYNC_OK)
        rc = open_db(cfg, &db, err);
    if (rc != SSYNC_OK)
        return rc;
    scan_ctx s = {ssync_edb_requests(db), cfg, src->env.kras, &src->env, out, time(NULL)};
    rc = ssync_edb_select(s.req, ssync_edb_certificates(db), &q, scan_entry, &s, NULL, err);
    ssync_edb_close(db);
    return rc;
}

typedef struct export_ctx {
    ssync_edb_table *req;
    const ssync_exporter *ex;
    const ssync_plan_item *it;
    const char *upn;
    ssync_export_result *out;
    int found;
} export_ctx;

static ssync_code export_entry(void *ctx, const ssync_edb_entry *e, ssync_error *err)
{
    export_ctx *x = ctx;
    x->found = 1;
    ssync_recovered rec = {0};
    ssync_code rc = recover_entry(x->req, x->ex->kras, e, &rec, err);
    if (rc == SSYNC_OK)
        rc = ssync_export_key(x->ex, rec.key, rec.cert, rec.chain, x->upn, x->out, err);
    if (rc == SSYNC_OK)
        ssync_recovered_kra_serial(&rec, x->out->kra_serial); /* for the audit trail */
    ssync_recovered_clear(&rec);
    if (rc == SSYNC_OK && x->it->thumbprint[0] &&
        strcmp(x->out->info.thumbprint, x->it->thumbprint)) {
        rc = ssync_fail(err, SSYNC_ERR_EDB,
                        "request %lld changed since the plan (certificate %s, planned %s)",
                        e->request_id, x->out->info.thumbprint, x->it->thumbprint);
        ssync_export_result_clear(x->out);
    }
    return rc;
}

/* A handle per worker: several workers may export at once. */
static ssync_code edb_export(ssync_source *src, const ssync_exporter *ex, const ssync_plan_item *it,
                             const char *upn, ssync_export_result *out, ssync_error *err)
{
    const ssync_source_cfg *cfg = src->cfg;
    if (it->request_id <= 0)
        return ssync_fail(err, SSYNC_ERR_ARG, "not an edb item");
    memset(out, 0, sizeof *out);
    ssync_edb_db *db = NULL;
    ssync_code rc = take_db(src, &db, err);
    if (rc != SSYNC_OK)
        return rc;
    ssync_edb_query q = {0};
    q.archived_only = 1;
    q.request_id = it->request_id;
    export_ctx x = {ssync_edb_requests(db), ex, it, upn, out, 0};
    rc = ssync_edb_select(x.req, ssync_edb_certificates(db), &q, export_entry, &x, NULL, err);
    if (rc == SSYNC_OK && !x.found)
        rc = ssync_fail(err, SSYNC_ERR_NOT_FOUND,
                        "%s: request %lld is no longer an issued request with an archived key",
                        cfg->path, it->request_id);
    give_db(src, db);
    return rc;
}

/* The first request with an archived key, recovered: proof that the KRA keys are the ones the
 * CA archived to. */
typedef struct sample_ctx {
    ssync_edb_table *req;
    const ssync_kra_set *kras;
    ssync_source_check_result *out;
} sample_ctx;

static ssync_code sample_entry(void *ctx, const ssync_edb_entry *e, ssync_error *err)
{
    (void)err;
    sample_ctx *c = ctx;
    char name[64];
    snprintf(name, sizeof name, "request %lld", e->request_id);
    ssync_edb_value key = {0};
    ssync_recovered rec = {0};
    ssync_error ie = {0};
    const unsigned char *p = e->cert;
    X509 *cert = e->cert ? d2i_X509(NULL, &p, (long)e->cert_len) : NULL;
    ssync_code rc =
        cert ? read_key(c->req, &key, &ie)
             : ssync_fail(&ie, SSYNC_ERR_CERT_PARSE, "RawCertificate is not a certificate");
    if (rc == SSYNC_OK)
        rc = ssync_recover_blob(c->kras, key.data, key.len, cert, &rec, &ie);
    if (rc == SSYNC_OK)
        ssync_source_sample_ok(c->out, name, "recovered", rec.cert, NULL);
    else
        ssync_source_sample_fail(c->out, name, &ie);
    ssync_recovered_clear(&rec);
    X509_free(cert);
    ssync_edb_value_clear(&key);
    return SSYNC_ERR_CANCELLED; /* one is enough: stops the query */
}

static ssync_code edb_check(ssync_source *src, ssync_source_check_result *out, ssync_error *err)
{
    const ssync_source_cfg *cfg = src->cfg;
    size_t requests = 0;
    ssync_edb_db *db = NULL;
    ssync_code rc = open_db(cfg, &db, err);
    if (rc == SSYNC_OK) {
        ssync_edb_table *req = ssync_edb_requests(db);
        rc = req->ops->count(req, &requests, err);
    }
    if (rc == SSYNC_OK) {
        out->count = requests;
        snprintf(out->summary, sizeof out->summary, "CA database %s: %zu requests", cfg->path,
                 requests);
    }
    if (rc == SSYNC_OK && requests) {
        out->sample = SSYNC_SAMPLE_SKIPPED;
        if (!src->env.kras || ssync_kra_set_count(src->env.kras) == 0) {
            snprintf(out->sample_text, sizeof out->sample_text,
                     "not tested: no KRA key could be loaded");
        } else {
            ssync_edb_query q = {0};
            q.archived_only = 1;
            sample_ctx c = {ssync_edb_requests(db), src->env.kras, out};
            ssync_error se = {0};
            snprintf(out->sample_text, sizeof out->sample_text,
                     "not tested: no issued request with an archived key");
            ssync_code qrc = ssync_edb_select(c.req, ssync_edb_certificates(db), &q, sample_entry,
                                              &c, NULL, &se);
            if (qrc != SSYNC_OK && out->sample == SSYNC_SAMPLE_SKIPPED)
                ssync_source_sample_fail(out, "CA database", &se);
        }
    }
    ssync_edb_close(db);
    return rc;
}

/* After a sync without failures: remembers the highest request id of the plan's items, so the
 * next incremental run starts after it. */
static ssync_code edb_commit(ssync_source *src, const ssync_plan *p, ssync_error *err)
{
    if (!src->cfg->incremental)
        return SSYNC_OK;
    ssync_journal *j = src->env.journal;
    if (!j)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_source_commit: no journal");
    long long max = 0;
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].request_id > max)
            max = p->items[i].request_id;
    char *old = NULL, key[128];
    const char *k = marker_key(src->cfg, key, sizeof key);
    ssync_code rc = ssync_journal_meta_get(j, k, &old, err);
    long long prev = old ? strtoll(old, NULL, 10) : 0;
    free(old);
    if (rc != SSYNC_OK || max <= prev)
        return rc;
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", max);
    return ssync_journal_meta_set(j, k, buf, err);
}

const ssync_source_ops ssync_source_edb = {
    .name = "edb",
    .open = edb_open,
    .scan = edb_scan,
    .export = edb_export,
    .check = edb_check,
    .commit = edb_commit,
    .close = edb_source_close,
};
