/* The blobs source: a folder of recovery blobs, one `certutil -getkey <RequestId>` output per
 * file. Scanning reads each blob's certificate without the KRA's private-key operation (and
 * keeps the facts in the journal's scan cache); exporting recovers the key from the file again.
 * The source keeps no state between calls. */
#include "source/source_int.h"
#include "pki/certinfo.h"

#include "common/fileio.h"
#include "pki/crl.h"
#include "pki/trust.h"
#include "recover/blob.h"
#include "recover/recover.h"
#include "source/blobs_cache.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_blob_name(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* What the scan shares between blobs: the CRLs and the optional cache in the journal. */
typedef struct scan_ctx {
    const ssync_source_env *env;
    const ssync_kra_set *kras;
    X509_CRL *const *crls;
    size_t n_crls;
    ssync_journal *journal; /* NULL: no cache */
    char *kra_id; /* the KRA set's and the anchors' identity: a cache entry is for one pair (a
                     certificate verified against other anchors is verified again) */
    ssync_cert_memo *memo; /* the CA certificates the blobs share, decoded once */
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
    /* lstat: a link or a FIFO is never cacheable; the read below refuses it and names it */
    int cacheable = c->journal && c->kra_id && lstat(it->path, &st) == 0 && S_ISREG(st.st_mode);
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
    ssync_code rc = ssync_read_untrusted_file(it->path, SSYNC_MAX_INPUT_FILE, &b, &e);
    if (rc == SSYNC_OK)
        rc = ssync_recover_peek_memo(c->kras, b.data, b.len, c->memo, &cert, &e);
    /* a blob the CA signed is the CA's word: a signature by anyone else fails the item */
    if (rc == SSYNC_OK)
        rc = ssync_blob_verify_signature(b.data, b.len, c->env->trust, &e);
    if (rc == SSYNC_OK && !cert) {
        rc = ssync_recover_blob(c->kras, b.data, b.len, NULL, &rec, &e);
        if (rc == SSYNC_OK && X509_up_ref(rec.cert))
            cert = rec.cert;
    }
    if (rc == SSYNC_OK)
        rc = cert ? ssync_source_set_cert(c->env, it, cert, &e)
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

static ssync_code scan_dir(const ssync_source_cfg *cfg, const scan_ctx *c,
                           const ssync_plan_target *target, ssync_plan *out, ssync_error *err)
{
    if (!cfg->path)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "[source] path is required");
    struct dirent **names = NULL;
    int count = scandir(cfg->path, &names, is_blob_name, alphasort);
    if (count < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "[source] path %s", cfg->path);
    long long want_id = target && target->request_id ? strtoll(target->request_id, NULL, 10) : 0;
    ssync_code rc = SSYNC_OK;
    if (!want_id && ssync_plan_reserve(out, (size_t)count) != 0)
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL); /* exactly one item per file */
    for (int i = 0; i < count; i++) {
        long long id = ssync_plan_request_id_from_name(names[i]->d_name);
        /* a request-id target needs no recovery of the other blobs */
        if (rc == SSYNC_OK && (!want_id || id == want_id)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", cfg->path, names[i]->d_name);
            ssync_plan_item *it = ssync_plan_add(out);
            if (!it || !(it->path = strdup(path))) {
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
            } else {
                it->request_id = id;
                scan_one(c, it);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* The scan cache's key: the KRA set and the trust anchors (facts cached under other anchors
 * were verified against them, not these). NULL: no cache. */
static char *cache_id(const ssync_source_env *env)
{
    if (!env->kras || !env->journal)
        return NULL;
    char *kra = ssync_scan_kra_id(env->kras), *ca = ssync_trust_id(env->trust), *id = NULL;
    size_t n = kra && ca ? strlen(kra) + strlen(ca) + 5 : 0;
    if (n && (id = malloc(n)))
        snprintf(id, n, "%s ca=%s", kra, ca);
    free(kra);
    free(ca);
    return id;
}

static ssync_code blobs_scan(ssync_source *s, const ssync_plan_target *t, ssync_plan *out,
                             ssync_error *err)
{
    const ssync_source_env *env = &s->env;
    ssync_cert_memo memo = {0};
    scan_ctx c = {env, env->kras, env->crls, env->n_crls, env->journal, cache_id(env), &memo};
    /* the cache entries of one scan go in one transaction */
    ssync_error te = {0};
    int tx = c.kra_id && ssync_journal_tx_begin(env->journal, &te) == SSYNC_OK;
    ssync_code rc = scan_dir(s->cfg, &c, t, out, err);
    if (tx)
        ssync_journal_tx_commit(env->journal, &te);
    free(c.kra_id);
    ssync_cert_memo_clear(&memo);
    return rc;
}

static ssync_code blobs_export(ssync_source *s, const ssync_exporter *ex, const ssync_plan_item *it,
                               const char *upn, ssync_export_result *out, ssync_error *err)
{
    (void)s;
    ssync_buf b = {0};
    ssync_code rc = ssync_read_untrusted_file(it->path, SSYNC_MAX_INPUT_FILE, &b, err);
    if (rc == SSYNC_OK)
        rc = ssync_export_blob(ex, b.data, b.len, upn, out, err);
    ssync_buf_free(&b);
    return rc;
}

/* Recovers one blob: proof that the KRA keys are the ones the CA archived to. */
static void sample(const ssync_kra_set *kras, const char *path, ssync_source_check_result *out)
{
    if (!kras || ssync_kra_set_count(kras) == 0) {
        out->sample = SSYNC_SAMPLE_SKIPPED;
        snprintf(out->sample_text, sizeof out->sample_text,
                 "not tested: no KRA key could be loaded");
        return;
    }
    ssync_buf b = {0};
    ssync_recovered rec = {0};
    ssync_error e = {0};
    ssync_code rc = ssync_read_untrusted_file(path, SSYNC_MAX_INPUT_FILE, &b, &e);
    if (rc == SSYNC_OK)
        rc = ssync_recover_blob(kras, b.data, b.len, NULL, &rec, &e);
    if (rc == SSYNC_OK)
        ssync_source_sample_ok(out, ssync_basename(path), "recovered", rec.cert, NULL);
    else
        ssync_source_sample_fail(out, ssync_basename(path), &e);
    ssync_recovered_clear(&rec);
    ssync_buf_free(&b);
}

static ssync_code blobs_check(ssync_source *s, ssync_source_check_result *out, ssync_error *err)
{
    const char *dir = s->cfg->path;
    if (!dir)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "[source] path is not set");
    struct dirent **names = NULL;
    int count = scandir(dir, &names, is_blob_name, alphasort);
    if (count < 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "[source] path %s: %s", dir, strerror(errno));
    /* only regular files count (and are sampled); the others are named: no scan reads them */
    char first[4096] = "", skipped[2048] = "";
    size_t n_skipped = 0, used = 0;
    int blobs = 0;
    for (int i = 0; i < count; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
            if (used < sizeof skipped) {
                int w =
                    snprintf(skipped + used, sizeof skipped - used, "%s'%s' (%s)",
                             n_skipped ? ", " : "", names[i]->d_name, ssync_file_kind(st.st_mode));
                used += w > 0 ? (size_t)w : 0;
            }
            n_skipped++;
        } else if (blobs++ == 0) {
            snprintf(first, sizeof first, "%s", path);
        }
        free(names[i]);
    }
    free(names);
    out->count = (size_t)blobs;
    char note[2200] = "";
    if (n_skipped)
        snprintf(note, sizeof note, "; skipped %zu entr%s that %s not regular files: %s%s",
                 n_skipped, n_skipped == 1 ? "y" : "ies", n_skipped == 1 ? "is" : "are", skipped,
                 used >= sizeof skipped ? "..." : "");
    if (blobs == 0) {
        out->empty_hint = "copy the certutil -getkey output into it";
        snprintf(out->summary, sizeof out->summary, "%s holds no recovery blobs%s", dir, note);
        return SSYNC_OK;
    }
    snprintf(out->summary, sizeof out->summary, "%s: %d recovery blob%s%s", dir, blobs,
             blobs == 1 ? "" : "s", note);
    sample(s->env.kras, first, out);
    return SSYNC_OK;
}

/* Marks the thumbprints carried by one blob file: the certificates the blob carries are read
 * without decrypting anything (no KRA operation, no directory lookup). */
static void search_file(const ssync_source *s, const char *path, int include_expired,
                        const char *const *thumbprints, size_t n, char **files)
{
    ssync_buf b = {0};
    ssync_blob blob = {0};
    if (ssync_read_untrusted_file(path, SSYNC_MAX_INPUT_FILE, &b, NULL) != SSYNC_OK)
        return;
    /* only what a sync would take: a blob signed by the CA, a certificate that chains to
     * [source] ca (a forged blob naming a removed thumbprint is not "still in the source") */
    if (s->env.trust &&
        ssync_blob_verify_signature(b.data, b.len, s->env.trust, NULL) == SSYNC_OK &&
        ssync_blob_decode(b.data, b.len, &blob, NULL) == SSYNC_OK) {
        for (int c = 0; c < sk_X509_num(blob.certs); c++) {
            X509 *cert = sk_X509_value(blob.certs, c);
            if (ssync_trust_verify_cert(s->env.trust, cert, NULL) != SSYNC_OK)
                continue;
            char tp[41];
            ssync_cert_thumbprint(cert, tp);
            for (size_t i = 0; i < n; i++) {
                if (files[i] || strcmp(tp, thumbprints[i]) != 0)
                    continue;
                int expired = X509_cmp_time(X509_get0_notAfter(cert), NULL) < 0;
                if (!ssync_crl_revoked_cert(cert, s->env.crls, s->env.n_crls) &&
                    !(expired && !include_expired))
                    files[i] = strdup(path);
            }
        }
    }
    ssync_blob_clear(&blob);
    ssync_buf_free(&b);
}

static int blobs_find(ssync_source *s, const char *const *thumbprints, size_t n,
                      int include_expired, char **files)
{
    const char *dir = s->cfg->path;
    if (!dir)
        return 0;
    struct dirent **names = NULL;
    int count = scandir(dir, &names, is_blob_name, alphasort);
    for (int k = 0; k < count; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]->d_name);
        search_file(s, path, include_expired, thumbprints, n, files);
        free(names[k]);
    }
    free(names);
    return count >= 0;
}

const ssync_source_ops ssync_source_blobs = {
    .name = "blobs",
    .hint = "check [source] path and its permissions",
    .scan = blobs_scan,
    .export = blobs_export,
    .check = blobs_check,
    .find = blobs_find,
};
