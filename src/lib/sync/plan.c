/* The sync engine's plan: desired state, users, actual state and the diff (see plan.h). */
#include "sync/plan.h"

#include "pki/certinfo.h"
#include "common/fileio.h"
#include "recover/recover.h"
#include "source/blobs_cache.h"
#include "sync/filter.h"
#include "source/edb.h"
#include "source/pfx.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *ssync_plan_action_name(ssync_plan_action a)
{
    switch (a) {
    case SSYNC_ACT_UPLOAD:
        return "upload";
    case SSYNC_ACT_REMOVE:
        return "remove";
    case SSYNC_ACT_KEEP:
        return "keep";
    case SSYNC_ACT_SKIP:
        return "skip";
    }
    return "?";
}

void ssync_plan_policy_from_config(const ssync_config *cfg, ssync_plan_policy *out)
{
    out->remove_revoked = cfg->policy.remove_revoked;
    out->include_expired = cfg->policy.include_expired;
    out->keep_newest = cfg->policy.keep_newest;
    out->drop_expired_after = cfg->policy.drop_expired_after;
}

ssync_code ssync_plan_load_kras(const ssync_config *cfg, ssync_kra_set **out, ssync_error *err)
{
    *out = NULL;
    if (cfg->kra.key.n == 0)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "[kra] key is required");
    ssync_buf pass = {0};
    const char *password = NULL;
    if (cfg->kra.password_file) {
        ssync_code rc = ssync_read_secret_file(cfg->kra.password_file, &pass, err);
        if (rc != SSYNC_OK)
            return ssync_error_prefix(err, "[kra] password_file: ");
        password = (const char *)pass.data;
    } else if (cfg->kra.password_env) {
        password = getenv(cfg->kra.password_env);
    }
    ssync_kra_set *set = NULL;
    ssync_code rc = ssync_kra_set_new(&set, err);
    for (size_t i = 0; rc == SSYNC_OK && i < cfg->kra.key.n; i++) {
        const char *cert = i < cfg->kra.cert.n ? cfg->kra.cert.v[i] : NULL;
        rc = ssync_kra_set_add_file(set, cfg->kra.key.v[i], password, cert, err);
    }
    ssync_buf_free_secret(&pass);
    if (rc != SSYNC_OK) {
        ssync_kra_set_free(set);
        return rc;
    }
    *out = set;
    return SSYNC_OK;
}

static int is_blob_name(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* What the scan shares between blobs: the CRLs and the optional cache in the journal. */
typedef struct scan_ctx {
    const ssync_kra_set *kras;
    X509_CRL *const *crls;
    size_t n_crls;
    ssync_journal *journal; /* NULL: no cache */
    char *kra_id;           /* the KRA set's identity: a cache entry is for one set */
    ssync_cert_memo *memo;  /* the CA certificates the blobs share, decoded once */
} scan_ctx;

/* The certificate facts of one blob without the KRA's private-key operation (the upload
 * recovers the key and fails the item if the blob does not decrypt); only a blob whose user
 * certificate cannot be told without its key is recovered here. An unchanged blob (path, size,
 * modification time) checked against the same KRA set is not read at all: its facts come
 * from the journal. */
static void scan_one(const scan_ctx *c, ssync_plan_item *it)
{
    ssync_error e = {0};
    struct stat st;
    long long mtime_ns = 0;
    int cacheable = c->journal && c->kra_id && stat(it->path, &st) == 0;
    if (cacheable) {
        mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        char *facts = NULL;
        if (ssync_journal_scan_get(c->journal, it->path, (long long)st.st_size, mtime_ns, c->kra_id,
                                   &facts, &e) == SSYNC_OK &&
            facts) {
            int ok = ssync_scan_facts_decode(facts, it, c->crls, c->n_crls);
            free(facts);
            if (ok)
                return;
            ssync_plan_item_clear_cert(it);
        }
    }
    ssync_buf b = {0};
    ssync_recovered rec = {0};
    X509 *cert = NULL;
    ssync_code rc = ssync_read_file(it->path, SSYNC_MAX_INPUT_FILE, &b, &e);
    if (rc == SSYNC_OK)
        rc = ssync_recover_peek_memo(c->kras, b.data, b.len, c->memo, &cert, &e);
    if (rc == SSYNC_OK && !cert) {
        rc = ssync_recover_blob(c->kras, b.data, b.len, NULL, &rec, &e);
        if (rc == SSYNC_OK && X509_up_ref(rec.cert))
            cert = rec.cert;
    }
    if (rc == SSYNC_OK)
        rc = cert ? ssync_plan_item_set_cert(it, cert, c->crls, c->n_crls, &e)
                  : ssync_fail(&e, SSYNC_ERR_NOMEM, "certificate");
    if (rc != SSYNC_OK) {
        it->code = rc;
        ssync_plan_note(&it->error, "%s", e.msg);
    } else if (cacheable) {
        /* failures are never cached: they are read (and reported) again */
        char *facts = ssync_scan_facts_encode(it, cert);
        if (facts)
            ssync_journal_scan_put(c->journal, it->path, (long long)st.st_size, mtime_ns, c->kra_id,
                                   facts, &e);
        free(facts);
    }
    X509_free(cert);
    ssync_recovered_clear(&rec);
    ssync_buf_free(&b);
}

int ssync_plan_target_empty(const ssync_plan_target *t)
{
    return !t || (!t->request_id && !t->serial && !t->user);
}

static ssync_code scan_blobs(const ssync_config *cfg, const scan_ctx *c,
                             const ssync_plan_target *target, ssync_plan *out, ssync_error *err)
{
    if (!cfg->source.path)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "[source] path is required");
    struct dirent **names = NULL;
    int count = scandir(cfg->source.path, &names, is_blob_name, alphasort);
    if (count < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "[source] path %s", cfg->source.path);
    long long want_id = target && target->request_id ? strtoll(target->request_id, NULL, 10) : 0;
    ssync_code rc = SSYNC_OK;
    if (!want_id && ssync_plan_reserve(out, (size_t)count) != 0)
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL); /* exactly one item per file */
    for (int i = 0; i < count; i++) {
        long long id = ssync_plan_request_id_from_name(names[i]->d_name);
        /* a request-id target needs no recovery of the other blobs */
        if (rc == SSYNC_OK && (!want_id || id == want_id)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", cfg->source.path, names[i]->d_name);
            ssync_plan_item *it = ssync_plan_add(out);
            if (!it || !(it->path = strdup(path))) {
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
            } else {
                it->kind = SSYNC_ITEM_BLOB;
                it->request_id = id;
                scan_one(c, it);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* A targeted run keeps the items of its request id and serial; a blob that cannot be recovered
 * stays when its file name carries the wanted request id, so its error is reported. */
static int keep_target(void *ctx, const ssync_plan_item *it)
{
    const ssync_plan_target *t = ctx;
    if (it->code != SSYNC_OK)
        return t->request_id && !t->serial && it->request_id > 0 &&
               it->request_id == strtoll(t->request_id, NULL, 10);
    return ssync_target_match_cert(t, it);
}

ssync_code ssync_plan_scan(const ssync_config *cfg, const ssync_kra_set *kras,
                           X509_CRL *const *crls, size_t n_crls, const ssync_plan_target *target,
                           ssync_plan *out, ssync_error *err)
{
    return ssync_plan_scan_cached(cfg, kras, crls, n_crls, target, NULL, out, err);
}

ssync_code ssync_plan_scan_cached(const ssync_config *cfg, const ssync_kra_set *kras,
                                  X509_CRL *const *crls, size_t n_crls,
                                  const ssync_plan_target *target, ssync_journal *journal,
                                  ssync_plan *out, ssync_error *err)
{
    if (!cfg || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_plan_scan");
    ssync_cert_filter filter;
    ssync_code rc = ssync_target_check(target, err);
    if (rc == SSYNC_OK)
        rc = ssync_cert_filter_init(&cfg->source, &filter, err);
    if (rc != SSYNC_OK)
        return rc;
    size_t first = out->count;
    switch (cfg->source.type) {
    case SSYNC_SOURCE_BLOBS: {
        ssync_cert_memo memo = {0};
        scan_ctx c = {kras, crls, n_crls, journal, kras && journal ? ssync_scan_kra_id(kras) : NULL,
                      &memo};
        /* the cache entries of one scan go in one transaction */
        ssync_error te = {0};
        int tx = c.kra_id && ssync_journal_tx_begin(journal, &te) == SSYNC_OK;
        rc = scan_blobs(cfg, &c, target, out, err);
        if (tx)
            ssync_journal_tx_commit(journal, &te);
        free(c.kra_id);
        ssync_cert_memo_clear(&memo);
        break;
    }
    case SSYNC_SOURCE_PFX:
        rc = ssync_pfx_source_scan(cfg, crls, n_crls, out, err);
        break;
    case SSYNC_SOURCE_EDB:
        rc = ssync_edb_source_scan(cfg, kras, crls, n_crls, target, out, NULL, err);
        break;
    }
    if (rc != SSYNC_OK)
        return rc;
    if (!ssync_plan_target_empty(target) && (target->request_id || target->serial))
        ssync_plan_keep_if(out, keep_target, (void *)target);
    /* the certificate filters, whatever the source */
    char why[256];
    for (size_t i = first; i < out->count; i++) {
        ssync_plan_item *it = &out->items[i];
        if (it->code == SSYNC_OK && !it->filtered &&
            !ssync_cert_filter_check(&filter, it, why, sizeof why)) {
            it->filtered = 1;
            ssync_plan_note(&it->reason, "%s", why);
        }
    }
    return SSYNC_OK;
}

/* a is newer than b: later notAfter, then (a total order) the larger thumbprint */
static int newer(const ssync_plan_item *a, const ssync_plan_item *b)
{
    if (a->not_after != b->not_after)
        return a->not_after > b->not_after;
    return strcmp(a->thumbprint, b->thumbprint) > 0;
}

/* Items grouped by user name (case-insensitive), newest first within a user: sorting replaces
 * the pairwise comparisons that made user grouping quadratic in the number of certificates. */
typedef struct user_ref {
    const char *key;
    ssync_plan_item *it;
    size_t idx;
} user_ref;

static int by_user_then_newest(const void *pa, const void *pb)
{
    const user_ref *a = pa, *b = pb;
    int c = strcasecmp(a->key, b->key);
    if (c)
        return c;
    if (newer(a->it, b->it))
        return -1;
    if (newer(b->it, a->it))
        return 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void set(ssync_plan_item *it, ssync_plan_action a, const char *reason)
{
    it->action = a;
    ssync_plan_text_free(it->reason);
    it->reason = ssync_plan_text(reason);
}

/* Candidates for keep_newest: recovered, known user, not revoked, not dropped by expiry. */

void ssync_plan_decide(ssync_plan *p, const ssync_pfx_list *listing, const ssync_plan_policy *pol,
                       time_t now)
{
    /* 0: undecided candidate; 1: decided */
    char *decided = calloc(p->count ? p->count : 1, 1);
    for (size_t i = 0; i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        it->present = 0;
        if (it->code != SSYNC_OK) {
            set(it, SSYNC_ACT_SKIP, "cannot be recovered");
        } else if (it->filtered) {
            /* out of scope: left alone in Intune, never removed; the reason names the filter */
            it->present =
                it->user_found && ssync_pfx_list_find(listing, it->upn, it->thumbprint) != NULL;
            it->action = SSYNC_ACT_SKIP;
            if (!ssync_has_text(it->reason))
                set(it, SSYNC_ACT_SKIP, "excluded by a [source] filter");
        } else if (!it->cert_upn && !it->user_found) {
            set(it, SSYNC_ACT_SKIP, "certificate names no user");
        } else if (!it->user_found) {
            /* resolve may have said why (ambiguous, user_map names an unknown user) */
            it->action = SSYNC_ACT_SKIP;
            if (!ssync_has_text(it->reason))
                set(it, SSYNC_ACT_SKIP, "user not found in Entra ID");
        } else {
            it->present = ssync_pfx_list_find(listing, it->upn, it->thumbprint) != NULL;
            int expired = it->not_after < now;
            const char *drop = NULL;
            if (it->revoked) {
                if (!it->present)
                    set(it, SSYNC_ACT_SKIP, "certificate revoked");
                else if (pol->remove_revoked)
                    set(it, SSYNC_ACT_REMOVE, "certificate revoked");
                else
                    set(it, SSYNC_ACT_KEEP, "certificate revoked; remove_revoked is off");
                if (decided)
                    decided[i] = 1;
                continue;
            }
            if (expired && !pol->include_expired)
                drop = "expired (include_expired is off)";
            else if (expired && pol->drop_expired_after >= 0 &&
                     now - it->not_after > (time_t)pol->drop_expired_after * 86400)
                drop = "expired more than drop_expired_after_days ago";
            if (drop) {
                set(it, it->present ? SSYNC_ACT_REMOVE : SSYNC_ACT_SKIP, drop);
                if (decided)
                    decided[i] = 1;
                continue;
            }
            set(it, it->present ? SSYNC_ACT_KEEP : SSYNC_ACT_UPLOAD,
                it->present ? "in Intune" : "not in Intune");
            continue;
        }
        if (decided)
            decided[i] = 1;
    }
    user_ref *refs =
        pol->keep_newest > 0 && decided ? calloc(p->count ? p->count : 1, sizeof *refs) : NULL;
    if (refs) {
        size_t nrefs = 0;
        for (size_t i = 0; i < p->count; i++)
            if (!decided[i])
                refs[nrefs++] = (user_ref){p->items[i].upn, &p->items[i], i};
        qsort(refs, nrefs, sizeof *refs, by_user_then_newest);
        /* rank = how many of the user's candidates are strictly newer (equal ones share it) */
        size_t first = 0, rank = 0;
        for (size_t r = 0; r < nrefs; r++) {
            if (r == 0 || strcasecmp(refs[r - 1].key, refs[r].key) != 0)
                first = r, rank = 0;
            else if (newer(refs[r - 1].it, refs[r].it))
                rank = r - first;
            if (rank >= (size_t)pol->keep_newest)
                set(refs[r].it, refs[r].it->present ? SSYNC_ACT_REMOVE : SSYNC_ACT_SKIP,
                    "older than the newest keep_newest of the user");
        }
    }
    free(refs);
    free(decided);
}

void ssync_plan_count(const ssync_plan *p, ssync_plan_counts *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        if (it->code != SSYNC_OK) {
            out->failed++;
            continue;
        }
        switch (it->action) {
        case SSYNC_ACT_UPLOAD:
            out->upload++;
            break;
        case SSYNC_ACT_REMOVE:
            out->remove++;
            break;
        case SSYNC_ACT_KEEP:
            out->keep++;
            break;
        case SSYNC_ACT_SKIP:
            out->skip++;
            break;
        }
    }
}
