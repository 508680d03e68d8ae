/* The sync engine's plan: desired state, users, actual state and the diff (see plan.h). */
#include "sync/plan.h"

#include "pki/certinfo.h"
#include "common/fileio.h"
#include "recover/recover.h"
#include "source/blobs_cache.h"
#include "sync/filter.h"
#include "source/edb.h"
#include "source/pfx.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdarg.h>
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

int ssync_plan_reserve(ssync_plan *p, size_t more)
{
    if (p->cap - p->count >= more)
        return 0;
    size_t ncap = p->count + more;
    ssync_plan_item *bigger = realloc(p->items, ncap * sizeof *bigger);
    if (!bigger)
        return -1;
    p->items = bigger;
    p->cap = ncap;
    return 0;
}

ssync_plan_item *ssync_plan_add(ssync_plan *p)
{
    /* grows by half: the array is the plan's largest allocation (one item per certificate) */
    if (p->count == p->cap && ssync_plan_reserve(p, p->cap ? p->cap / 2 + 1 : 64) != 0)
        return NULL;
    ssync_plan_item *it = &p->items[p->count++];
    memset(it, 0, sizeof *it);
    it->code = SSYNC_OK;
    return it;
}

/* Texts most items share: the decisions' reasons and the common EKU OIDs. An item points into
 * this table instead of holding a copy (a plan keeps one item per certificate);
 * ssync_plan_text_free leaves them alone. */
static const char SHARED_TEXT[][64] = {
    "cannot be recovered",
    "excluded by a [source] filter",
    "certificate names no user",
    "user not found in Entra ID",
    "certificate revoked",
    "certificate revoked; remove_revoked is off",
    "expired (include_expired is off)",
    "expired more than drop_expired_after_days ago",
    "in Intune",
    "not in Intune",
    "older than the newest keep_newest of the user",
    "the certificate's e-mails match several directory users",
    "1.3.6.1.5.5.7.3.4",      /* emailProtection */
    "1.3.6.1.5.5.7.3.2",      /* clientAuth */
    "1.3.6.1.4.1.311.10.3.4", /* Encrypting File System */
    "1.3.6.1.4.1.311.20.2.2", /* smart card logon */
    "2.5.29.37.0",            /* anyExtendedKeyUsage */
};

static int is_shared_text(const char *p)
{
    const char *lo = SHARED_TEXT[0], *hi = lo + sizeof SHARED_TEXT;
    return p >= lo && p < hi;
}

char *ssync_plan_text(const char *s)
{
    for (size_t i = 0; s && i < sizeof SHARED_TEXT / sizeof SHARED_TEXT[0]; i++)
        if (strcmp(SHARED_TEXT[i], s) == 0)
            return (char *)SHARED_TEXT[i];
    return s ? strdup(s) : NULL;
}

void ssync_plan_text_free(char *p)
{
    if (!is_shared_text(p))
        free(p);
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ssync_plan_text_free(v[i]);
    free(v);
}

/* An item's user strings in one order: the certificate user, SAN UPN, the SAN e-mails, then
 * the Entra UPN and mail. Equal strings share one allocation (ssync_plan_item_share): a plan
 * holds one item per certificate, and one address is usually all of these at once. */
#define USER_FIXED 2 /* cert_upn, san_upn; then n_emails e-mails; then upn, user_mail */

static size_t user_count(const ssync_plan_item *it)
{
    return USER_FIXED + it->n_emails + 2;
}

static char **user_slot(ssync_plan_item *it, size_t i)
{
    if (i == 0)
        return &it->cert_upn;
    if (i == 1)
        return &it->san_upn;
    if (i < USER_FIXED + it->n_emails)
        return &it->emails[i - USER_FIXED];
    return i == USER_FIXED + it->n_emails ? &it->upn : &it->user_mail;
}

/* Frees the strings of slots [from, to) that no other slot outside [from, to) holds, each
 * allocation once, and clears the slots. */
static void user_free(ssync_plan_item *it, size_t from, size_t to)
{
    size_t n = user_count(it);
    for (size_t i = from; i < to; i++) {
        char *p = *user_slot(it, i);
        int keep = 0;
        for (size_t k = 0; p && k < n && !keep; k++)
            keep = *user_slot(it, k) == p && (k < from || k >= to || k < i);
        if (p && !keep)
            free(p);
    }
    for (size_t i = from; i < to; i++)
        *user_slot(it, i) = NULL;
}

void ssync_plan_item_share(ssync_plan_item *it)
{
    size_t n = user_count(it);
    for (size_t i = 1; i < n; i++) {
        char **slot = user_slot(it, i);
        for (size_t k = 0; *slot && k < i; k++) {
            char *other = *user_slot(it, k);
            if (other && other != *slot && strcmp(other, *slot) == 0) {
                int held = 0; /* is the slot's own string held by another slot too? */
                for (size_t m = 0; m < n && !held; m++)
                    held = m != i && *user_slot(it, m) == *slot;
                if (!held)
                    free(*slot);
                *slot = other;
            }
        }
    }
}

/* The certificate facts set_cert fills (an item can be refilled). */
static void clear_cert(ssync_plan_item *it)
{
    user_free(it, 0, USER_FIXED + it->n_emails);
    free(it->emails);
    free_list(it->eku, it->n_eku);
    free(it->template_oid);
    free(it->template_name);
    it->template_oid = it->template_name = NULL;
    it->emails = it->eku = NULL;
    it->n_emails = it->n_eku = 0;
}

static void item_free(ssync_plan_item *it)
{
    size_t n = user_count(it);
    user_free(it, 0, n);
    clear_cert(it);
    free(it->error);
    ssync_plan_text_free(it->reason);
    free(it->warning);
    free(it->path);
}

ssync_code ssync_plan_item_set_user(ssync_plan_item *it, const char *upn)
{
    user_free(it, 0, USER_FIXED);
    if (!(it->cert_upn = strdup(upn)))
        return SSYNC_ERR_NOMEM;
    it->san_upn = it->cert_upn;
    ssync_plan_item_share(it);
    return SSYNC_OK;
}

void ssync_plan_note(char **field, const char *fmt, ...)
{
    ssync_plan_text_free(*field);
    *field = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s)
        return;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *field = s;
}

void ssync_plan_free(ssync_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++)
        item_free(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

void ssync_plan_keep_if(ssync_plan *p, int (*keep)(void *ctx, const ssync_plan_item *it), void *ctx)
{
    size_t k = 0;
    for (size_t i = 0; i < p->count; i++) {
        if (keep(ctx, &p->items[i])) {
            if (k != i)
                p->items[k] = p->items[i];
            k++;
        } else {
            item_free(&p->items[i]);
        }
    }
    p->count = k;
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

long long ssync_plan_request_id_from_name(const char *name)
{
    if (!name || !isdigit((unsigned char)name[0]))
        return 0;
    errno = 0;
    char *end = NULL;
    long long id = strtoll(name, &end, 10);
    if (errno || id <= 0 || (*end && *end != '.' && *end != '-'))
        return 0;
    return id;
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

/* Copies of src[0..n); texts: common values shared instead (ssync_plan_text, EKU OIDs). */
static ssync_code dup_list(char *const *src, size_t n, char ***dst, size_t *dn, int texts)
{
    *dst = NULL;
    *dn = 0;
    if (!n)
        return SSYNC_OK;
    if (!(*dst = calloc(n, sizeof **dst)))
        return SSYNC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++, (*dn)++)
        if (!((*dst)[i] = texts ? ssync_plan_text(src[i]) : strdup(src[i])))
            return SSYNC_ERR_NOMEM;
    return SSYNC_OK;
}

static int dup_opt(char **dst, const char *src)
{
    return !src || (*dst = strdup(src)) != NULL;
}

ssync_code ssync_plan_item_set_cert(ssync_plan_item *it, X509 *cert, X509_CRL *const *crls,
                                    size_t n_crls, ssync_error *err)
{
    if (!it || !cert)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_plan_item_set_cert");
    clear_cert(it);
    ssync_certinfo info = {0};
    ssync_code rc = ssync_certinfo_get(cert, &info, err);
    if (rc != SSYNC_OK)
        return rc;
    memcpy(it->thumbprint, info.thumbprint, sizeof it->thumbprint);
    snprintf(it->serial, sizeof it->serial, "%s", info.serial);
    it->not_after = info.not_after;
    it->revoked = is_revoked(cert, crls, n_crls);
    if (!dup_opt(&it->cert_upn, ssync_certinfo_user(&info)) ||
        !dup_opt(&it->san_upn, info.upn && *info.upn ? info.upn : NULL) ||
        !dup_opt(&it->template_oid, info.template_oid) ||
        !dup_opt(&it->template_name, info.template_name) ||
        dup_list(info.emails, info.n_emails, &it->emails, &it->n_emails, 0) != SSYNC_OK ||
        dup_list(info.eku, info.n_eku, &it->eku, &it->n_eku, 1) != SSYNC_OK) {
        clear_cert(it);
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificate facts");
    } else {
        ssync_plan_item_share(it);
    }
    ssync_certinfo_clear(&info);
    return rc;
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
            clear_cert(it);
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
        rc = ssync_cert_filter_init(cfg, &filter, err);
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
