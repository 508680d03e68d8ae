/* The sync engine's plan: desired state, users, actual state and the diff (see plan.h). */
#include "plan.h"

#include "certinfo.h"
#include "fileio.h"
#include "recover.h"

#include <dirent.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

ssync_plan_item *ssync_plan_add(ssync_plan *p)
{
    if (p->count == p->cap) {
        size_t ncap = p->cap ? p->cap * 2 : 64;
        ssync_plan_item *bigger = realloc(p->items, ncap * sizeof *bigger);
        if (!bigger)
            return NULL;
        p->items = bigger;
        p->cap = ncap;
    }
    ssync_plan_item *it = &p->items[p->count++];
    memset(it, 0, sizeof *it);
    it->code = SSYNC_OK;
    return it;
}

void ssync_plan_free(ssync_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++) {
        free(p->items[i].path);
        free(p->items[i].cert_upn);
        free(p->items[i].upn);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
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

ssync_code ssync_crl_load(const char *path, X509_CRL **out, ssync_error *err)
{
    *out = NULL;
    ssync_buf b = {0};
    ssync_code rc = ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &b, err);
    if (rc != SSYNC_OK)
        return rc;
    const unsigned char *p = b.data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)b.len);
    if (!crl) {
        BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
        if (bio)
            crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
        BIO_free(bio);
    }
    ssync_buf_free(&b);
    if (!crl)
        return ssync_fail_ssl(err, SSYNC_ERR_CERT_PARSE, "%s: not a CRL (DER or PEM)", path);
    ERR_clear_error();
    *out = crl;
    return SSYNC_OK;
}

static int is_revoked(X509 *cert, X509_CRL *const *crls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        X509_REVOKED *r = NULL;
        if (X509_NAME_cmp(X509_CRL_get_issuer(crls[i]), X509_get_issuer_name(cert)) == 0 &&
            X509_CRL_get0_by_serial(crls[i], &r, X509_get0_serialNumber(cert)) == 1)
            return 1;
    }
    return 0;
}

static int is_blob_name(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

static void scan_one(const ssync_kra_set *kras, X509_CRL *const *crls, size_t n_crls,
                     ssync_plan_item *it)
{
    ssync_error e = {0};
    ssync_buf b = {0};
    ssync_recovered rec = {0};
    ssync_certinfo info = {0};
    ssync_code rc = ssync_read_file(it->path, SSYNC_MAX_INPUT_FILE, &b, &e);
    if (rc == SSYNC_OK)
        rc = ssync_recover_blob(kras, b.data, b.len, NULL, &rec, &e);
    if (rc == SSYNC_OK)
        rc = ssync_certinfo_get(rec.cert, &info, &e);
    if (rc == SSYNC_OK) {
        memcpy(it->thumbprint, info.thumbprint, sizeof it->thumbprint);
        it->not_after = info.not_after;
        it->revoked = is_revoked(rec.cert, crls, n_crls);
        const char *user = ssync_certinfo_user(&info);
        if (user && !(it->cert_upn = strdup(user)))
            rc = ssync_fail(&e, SSYNC_ERR_NOMEM, NULL);
    }
    if (rc != SSYNC_OK) {
        it->code = rc;
        snprintf(it->error, sizeof it->error, "%s", e.msg);
    }
    ssync_certinfo_clear(&info);
    ssync_recovered_clear(&rec);
    ssync_buf_free(&b);
}

int ssync_plan_target_empty(const ssync_plan_target *t)
{
    return !t || (!t->request_id && !t->serial && !t->user);
}

ssync_code ssync_plan_scan(const ssync_config *cfg, const ssync_kra_set *kras,
                           X509_CRL *const *crls, size_t n_crls, const ssync_plan_target *target,
                           ssync_plan *out, ssync_error *err)
{
    (void)target; /* TODO: targeted runs */
    if (cfg->source.type != SSYNC_SOURCE_BLOBS)
        return ssync_fail(err, SSYNC_ERR_UNSUPPORTED,
                          "[source] type %s is not supported yet (only blobs)",
                          cfg->source.type == SSYNC_SOURCE_EDB ? "edb" : "pfx");
    if (!cfg->source.path)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "[source] path is required");
    struct dirent **names = NULL;
    int count = scandir(cfg->source.path, &names, is_blob_name, alphasort);
    if (count < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "[source] path %s", cfg->source.path);
    ssync_code rc = SSYNC_OK;
    for (int i = 0; i < count; i++) {
        if (rc == SSYNC_OK) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", cfg->source.path, names[i]->d_name);
            ssync_plan_item *it = ssync_plan_add(out);
            if (!it || !(it->path = strdup(path)))
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
            else
                scan_one(kras, crls, n_crls, it);
        }
        free(names[i]);
    }
    free(names);
    return rc;
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

ssync_code ssync_plan_resolve(ssync_graph *g, const ssync_config *cfg,
                              const ssync_plan_target *target, ssync_journal *journal,
                              ssync_plan *p, ssync_pfx_list *listing, ssync_error *err)
{
    (void)cfg;
    (void)target;
    (void)journal;
    /* distinct users (case-insensitive) */
    ssync_user_lookup *lk = calloc(p->count ? p->count : 1, sizeof *lk);
    size_t *which = calloc(p->count ? p->count : 1, sizeof *which);
    user_ref *refs = calloc(p->count ? p->count : 1, sizeof *refs);
    if (!lk || !which || !refs) {
        free(lk);
        free(which);
        free(refs);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    size_t nrefs = 0, n = 0;
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].code == SSYNC_OK && p->items[i].cert_upn)
            refs[nrefs++] = (user_ref){p->items[i].cert_upn, &p->items[i], i};
    qsort(refs, nrefs, sizeof *refs, by_user_then_newest);
    for (size_t r = 0; r < nrefs; r++) {
        if (r == 0 || strcasecmp(refs[r - 1].key, refs[r].key) != 0)
            lk[n++].key = refs[r].key;
        which[refs[r].idx] = n - 1;
    }
    free(refs);
    ssync_code rc = n ? ssync_graph_lookup_users(g, SSYNC_USER_BY_UPN, lk, n, err) : SSYNC_OK;
    for (size_t i = 0; rc == SSYNC_OK && i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        if (it->code != SSYNC_OK || !it->cert_upn)
            continue;
        const ssync_user_lookup *l = &lk[which[i]];
        if (l->result == SSYNC_OK && l->upn) {
            it->user_found = 1;
            snprintf(it->user_id, sizeof it->user_id, "%s", l->id);
            if (!(it->upn = strdup(l->upn)))
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
        } else if (l->result != SSYNC_ERR_NOT_FOUND) {
            /* the lookup itself failed for this user: not a verdict on the user */
            it->code = l->result;
            snprintf(it->error, sizeof it->error, "user lookup: %.480s", l->err.msg);
        }
    }
    ssync_user_lookup_clear(lk, n);
    free(lk);
    free(which);
    if (rc != SSYNC_OK)
        return rc;
    rc = ssync_graph_list_pfx(g, listing, err);
    if (rc == SSYNC_OK)
        ssync_pfx_list_sort(listing);
    return rc;
}

static void set(ssync_plan_item *it, ssync_plan_action a, const char *reason)
{
    it->action = a;
    snprintf(it->reason, sizeof it->reason, "%s", reason);
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
        } else if (!it->cert_upn) {
            set(it, SSYNC_ACT_SKIP, "certificate names no user");
        } else if (!it->user_found) {
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
