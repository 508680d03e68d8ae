/* The users behind a plan's certificates, the user filters, and the Intune listing
 * (ssync_plan_resolve, see plan.h). */
#include "sync/plan.h"

#include "sync/filter.h"
#include "sync/user_rules.h"
#include "sync/usermap.h"
#include "common/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* What resolution keeps of one directory lookup. ssync_user_lookup also carries a whole Graph
 * failure record (about 1.5 KB): a plan of 100,000 certificates keeps only this, and asks
 * Graph LOOKUP_CHUNK keys at a time. */
typedef struct user_answer {
    const char *key; /* borrowed from the plan */
    ssync_code result;
    char id[40];
    char *upn, *mail; /* mail may be NULL; upn may be key and mail upn (the same text, one copy) */
    ssync_user_key matched_by;
    char *error; /* why the lookup failed (no verdict on the user); NULL when it did not */
} user_answer;

#define LOOKUP_CHUNK 1000

/* Distinct lookup keys (case-insensitive), sorted, each with its answer. */
typedef struct lookups {
    user_answer *lk;
    size_t n;
} lookups;

static int key_cmp(const void *pa, const void *pb)
{
    return strcasecmp(*(const char *const *)pa, *(const char *const *)pb);
}

static int lookup_cmp(const void *key, const void *elem)
{
    return strcasecmp(key, ((const user_answer *)elem)->key);
}

/* keys[0..n) (borrowed strings) become the distinct lookups of l. */
static ssync_code lookups_init(lookups *l, const char **keys, size_t n, ssync_error *err)
{
    memset(l, 0, sizeof *l);
    if (!n)
        return SSYNC_OK;
    qsort(keys, n, sizeof *keys, key_cmp);
    if (!(l->lk = calloc(n, sizeof *l->lk)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user lookups");
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcasecmp(keys[i - 1], keys[i]) != 0)
            l->lk[l->n++].key = keys[i];
    return SSYNC_OK;
}

static const user_answer *lookups_find(const lookups *l, const char *key)
{
    return key && l->n ? bsearch(key, l->lk, l->n, sizeof *l->lk, lookup_cmp) : NULL;
}

static void lookups_free(lookups *l)
{
    for (size_t i = 0; i < l->n; i++) {
        user_answer *a = &l->lk[i];
        if (a->mail != a->upn)
            free(a->mail);
        if (a->upn != a->key)
            free(a->upn);
        free(l->lk[i].error);
    }
    free(l->lk);
    memset(l, 0, sizeof *l);
}

static const char *via_name(ssync_user_key k)
{
    return k == SSYNC_USER_BY_MAIL    ? "mail"
           : k == SSYNC_USER_BY_PROXY ? "proxyAddresses"
                                      : "userPrincipalName";
}

static ssync_user_key via_key(const char *s)
{
    return !strcmp(s, "mail")             ? SSYNC_USER_BY_MAIL
           : !strcmp(s, "proxyAddresses") ? SSYNC_USER_BY_PROXY
                                          : SSYNC_USER_BY_UPN;
}

/* Moves Graph's answer into the slim form (upn and mail change owner). */
static ssync_code keep_answer(user_answer *a, ssync_user_lookup *q, ssync_error *err)
{
    a->result = q->result;
    snprintf(a->id, sizeof a->id, "%s", q->id);
    a->upn = q->upn;
    a->mail = q->mail;
    q->upn = q->mail = NULL;
    /* most directory answers repeat what was asked: point at the key (the plan's string, alive
     * as long as the lookups) instead of keeping a second copy per certificate */
    int mail_is_upn = a->mail && a->upn && strcmp(a->mail, a->upn) == 0;
    if (mail_is_upn)
        free(a->mail);
    if (a->upn && strcmp(a->upn, a->key) == 0) {
        free(a->upn);
        a->upn = (char *)a->key;
    }
    if (mail_is_upn)
        a->mail = a->upn;
    a->matched_by = q->matched_by;
    if (q->result != SSYNC_OK && q->result != SSYNC_ERR_NOT_FOUND &&
        q->result != SSYNC_ERR_USER_AMBIGUOUS && !(a->error = strdup(q->err.msg)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user lookups");
    return SSYNC_OK;
}

/* Asks Graph (batched) about the keys of l listed in miss, LOOKUP_CHUNK at a time. */
static ssync_code ask_graph(ssync_graph *g, ssync_user_key by, lookups *l, const size_t *miss,
                            size_t nm, ssync_error *err)
{
    size_t cap = nm < LOOKUP_CHUNK ? nm : LOOKUP_CHUNK;
    ssync_user_lookup *ask = calloc(cap ? cap : 1, sizeof *ask);
    if (!ask)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user lookups");
    ssync_code rc = SSYNC_OK;
    for (size_t done = 0; rc == SSYNC_OK && done < nm; done += cap) {
        size_t n = nm - done < cap ? nm - done : cap;
        memset(ask, 0, n * sizeof *ask);
        for (size_t k = 0; k < n; k++)
            ask[k].key = l->lk[miss[done + k]].key;
        rc = ssync_graph_lookup_users(g, by, ask, n, err);
        for (size_t k = 0; rc == SSYNC_OK && k < n; k++)
            rc = keep_answer(&l->lk[miss[done + k]], &ask[k], err);
        ssync_user_lookup_clear(ask, n);
    }
    free(ask);
    return rc;
}

/* Answers l from the journal's cache where it can, asks Graph (batched calls) for the rest
 * and caches what Graph found. Only successful lookups are cached. */
static ssync_code lookup_cached(ssync_graph *g, ssync_journal *j, int hours, ssync_user_key by,
                                lookups *l, ssync_error *err)
{
    if (!l->n)
        return SSYNC_OK;
    const char *kind = by == SSYNC_USER_BY_UPN ? "upn" : "mail";
    double now = (double)time(NULL);
    int cache = j && hours > 0;
    size_t *miss = calloc(l->n, sizeof *miss);
    size_t nm = 0;
    ssync_code rc = miss ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_NOMEM, "user lookups");
    for (size_t i = 0; rc == SSYNC_OK && i < l->n; i++) {
        user_answer *it = &l->lk[i];
        ssync_cached_user c;
        int found = 0;
        char nodash[33];
        if (cache)
            rc = ssync_journal_user_get(j, kind, it->key, now - hours * 3600.0, &c, &found, err);
        /* a row that does not answer its own key (a UPN lookup giving another UPN, a mail
         * lookup another mail) was not written by us: asked afresh */
        if (rc == SSYNC_OK && found && ssync_uuid_nodash(c.id, nodash) &&
            (strcasecmp(c.upn, it->key) == 0 ||
             (by == SSYNC_USER_BY_MAIL && c.mail[0] && strcasecmp(c.mail, it->key) == 0))) {
            snprintf(it->id, sizeof it->id, "%s", c.id);
            it->upn = strdup(c.upn);
            it->mail = c.mail[0] ? strdup(c.mail) : NULL;
            it->matched_by = via_key(c.via);
            it->result = SSYNC_OK;
            if (!it->upn || (c.mail[0] && !it->mail))
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, "user lookups");
        } else if (rc == SSYNC_OK) {
            miss[nm++] = i;
        }
    }
    if (rc == SSYNC_OK && nm)
        rc = ask_graph(g, by, l, miss, nm, err);
    if (rc == SSYNC_OK) {
        int tx = cache && nm && ssync_journal_tx_begin(j, err) == SSYNC_OK;
        for (size_t k = 0; cache && rc == SSYNC_OK && k < nm; k++) {
            const user_answer *it = &l->lk[miss[k]];
            if (it->result != SSYNC_OK || !it->upn)
                continue; /* never "not found" (new users appear) nor errors */
            ssync_cached_user c;
            memset(&c, 0, sizeof c);
            snprintf(c.id, sizeof c.id, "%s", it->id);
            snprintf(c.upn, sizeof c.upn, "%s", it->upn);
            snprintf(c.mail, sizeof c.mail, "%s", it->mail ? it->mail : "");
            snprintf(c.via, sizeof c.via, "%s", via_name(it->matched_by));
            rc = ssync_journal_user_put(j, kind, it->key, &c, now, err);
        }
        if (tx && rc == SSYNC_OK)
            rc = ssync_journal_tx_commit(j, err);
        else if (tx)
            ssync_journal_tx_commit(j, NULL);
    }
    free(miss);
    return rc;
}

/* The user_map's UPN for the first identity of the certificate that has one. */
static const char *mapped_upn(const ssync_user_rules *rules, const ssync_plan_item *it)
{
    const ssync_usermap *map = ssync_user_rules_map(rules, it);
    const char *u = ssync_usermap_find(map, it->san_upn);
    for (size_t i = 0; !u && i < it->n_emails; i++)
        u = ssync_usermap_find(map, it->emails[i]);
    return u;
}

static int in_scope(const ssync_plan_item *it)
{
    return it->code == SSYNC_OK && !it->filtered && !it->user_found;
}

static ssync_code accept(ssync_plan_item *it, const user_answer *l, const char *via,
                         ssync_error *err)
{
    it->user_found = 1;
    it->resolved_by = via;
    snprintf(it->user_id, sizeof it->user_id, "%s", l->id);
    ssync_plan_text_free(it->reason);
    it->reason = NULL;
    if (!(it->upn = strdup(l->upn)) || (l->mail && !(it->user_mail = strdup(l->mail))))
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    ssync_plan_item_share(it);
    return SSYNC_OK;
}

/* The lookup itself failed: not a verdict on the user, the item fails. */
static void lookup_failed(ssync_plan_item *it, const user_answer *l)
{
    it->code = l->result;
    ssync_plan_note(&it->error, "user lookup: %.480s",
                    l->error ? l->error : ssync_strerror(l->result));
}

static int usable(const user_answer *l)
{
    return l && l->result == SSYNC_OK && l->upn;
}

static int verdict(const user_answer *l)
{
    return l && (l->result == SSYNC_ERR_NOT_FOUND || l->result == SSYNC_ERR_USER_AMBIGUOUS);
}

/* Resolutions that needed more than the SAN UPN (user_map, mail, proxyAddresses) are also
 * cached per certificate (kind "cert", key the thumbprint): else every run would ask again for
 * the SAN UPN that is not in the directory. A cached user_map resolution holds only while the
 * map still says the same. from_cache[i] marks the items answered here (never re-stamped, so
 * entries do expire). */
static const char *const cert_vias[] = {"user_map", "mail", "proxyAddresses"};

static const char *cert_via(const char *s)
{
    for (size_t i = 0; s && i < sizeof cert_vias / sizeof cert_vias[0]; i++)
        if (strcmp(s, cert_vias[i]) == 0)
            return cert_vias[i];
    return NULL;
}

/* A certificate whose user was not found (after every phase) is remembered as via "none" for
 * [state] user_negative_cache_minutes only: long enough that an immediate second run does not
 * ask the directory again, short enough that a user created meanwhile is soon seen (and
 * `--refresh-users` forgets the cache at once). The user_map must not name a user for it. */
static int negative_hit(const ssync_cached_user *c, double stored_ok, const ssync_user_rules *map,
                        const ssync_plan_item *it)
{
    return strcmp(c->via, "none") == 0 && stored_ok && !mapped_upn(map, it);
}

/* A mapping found by mail holds from the cache only while the user's mail or UPN is one of the
 * certificate's SAN e-mails (else, a proxyAddresses match or an edited row, Graph is asked). */
static int names_san_mail(const ssync_plan_item *it, const ssync_cached_user *c)
{
    for (size_t i = 0; i < it->n_emails; i++)
        if (strcasecmp(it->emails[i], c->upn) == 0 || strcasecmp(it->emails[i], c->mail) == 0)
            return 1;
    return 0;
}

static ssync_code from_cert_cache(ssync_journal *j, int hours, int negative_minutes,
                                  const ssync_user_rules *map, ssync_plan *p, char *from_cache,
                                  ssync_error *err)
{
    if (!j || hours <= 0)
        return SSYNC_OK;
    double now = (double)time(NULL);
    double since = now - hours * 3600.0;
    ssync_code rc = SSYNC_OK;
    for (size_t i = 0; rc == SSYNC_OK && i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        ssync_cached_user c;
        int found = 0;
        if (!in_scope(it) || !it->thumbprint[0])
            continue;
        if (negative_minutes > 0) {
            rc = ssync_journal_user_get(j, "cert", it->thumbprint, now - negative_minutes * 60.0,
                                        &c, &found, err);
            if (rc == SSYNC_OK && found && negative_hit(&c, 1, map, it)) {
                from_cache[i] = 2; /* known absent: no lookup this run */
                continue;
            }
        }
        found = 0;
        if (rc == SSYNC_OK)
            rc = ssync_journal_user_get(j, "cert", it->thumbprint, since, &c, &found, err);
        const char *via = found ? cert_via(c.via) : NULL;
        const char *m = via ? mapped_upn(map, it) : NULL;
        char nodash[33];
        if (rc != SSYNC_OK || !via || !ssync_uuid_nodash(c.id, nodash) ||
            (m ? strcmp(via, "user_map") != 0 || strcasecmp(c.upn, m) != 0
               : strcmp(via, "user_map") == 0 || !names_san_mail(it, &c)))
            continue; /* looked up afresh */
        user_answer l = {.upn = c.upn, .mail = c.mail[0] ? c.mail : NULL};
        snprintf(l.id, sizeof l.id, "%s", c.id);
        rc = accept(it, &l, via, err);
        from_cache[i] = 1;
    }
    return rc;
}

static ssync_code to_cert_cache(ssync_journal *j, int hours, int negative, const ssync_plan *p,
                                const char *from_cache, ssync_error *err)
{
    if (!j || hours <= 0)
        return SSYNC_OK;
    double now = (double)time(NULL);
    int tx = 0;
    ssync_code rc = SSYNC_OK;
    for (size_t i = 0; rc == SSYNC_OK && i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        /* not found: in scope, no user, no other verdict (ambiguous, user_map) in reason */
        int absent = negative && in_scope(it) && !ssync_has_text(it->reason) && it->thumbprint[0];
        if (from_cache[i] || (!absent && (!it->user_found || !cert_via(it->resolved_by))))
            continue;
        if (!tx)
            tx = ssync_journal_tx_begin(j, NULL) == SSYNC_OK ? 1 : -1;
        ssync_cached_user c;
        memset(&c, 0, sizeof c);
        if (absent) {
            snprintf(c.via, sizeof c.via, "none");
            rc = ssync_journal_user_put(j, "cert", it->thumbprint, &c, now, err);
            continue;
        }
        snprintf(c.id, sizeof c.id, "%s", it->user_id);
        snprintf(c.upn, sizeof c.upn, "%s", it->upn);
        snprintf(c.mail, sizeof c.mail, "%s", it->user_mail ? it->user_mail : "");
        snprintf(c.via, sizeof c.via, "%s", it->resolved_by);
        rc = ssync_journal_user_put(j, "cert", it->thumbprint, &c, now, err);
    }
    if (tx == 1 && rc == SSYNC_OK)
        rc = ssync_journal_tx_commit(j, err);
    else if (tx == 1)
        ssync_journal_tx_commit(j, NULL);
    return rc;
}

/* Phase 1: SAN UPNs and user_map UPNs, in one batched call. Items left for the mail phase get
 * pending[i] = 1. */
static ssync_code by_upn(ssync_graph *g, const ssync_config *cfg, ssync_journal *j,
                         const ssync_user_rules *map, ssync_plan *p, const char *known_absent,
                         char *pending, ssync_error *err)
{
    const char **keys = calloc(2 * p->count + 1, sizeof *keys);
    if (!keys)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        if (known_absent[i] == 2)
            continue;
        const char *m = in_scope(it) ? mapped_upn(map, it) : NULL;
        if (in_scope(it) && it->san_upn)
            keys[n++] = it->san_upn;
        if (m)
            keys[n++] = m;
    }
    lookups l;
    ssync_code rc = lookups_init(&l, keys, n, err);
    if (rc == SSYNC_OK)
        rc = lookup_cached(g, j, cfg->state.user_cache_hours, SSYNC_USER_BY_UPN, &l, err);
    for (size_t i = 0; rc == SSYNC_OK && i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        if (!in_scope(it) || known_absent[i] == 2)
            continue;
        const user_answer *la = lookups_find(&l, it->san_upn);
        const char *m = mapped_upn(map, it);
        const user_answer *lm = lookups_find(&l, m);
        if (usable(la)) {
            rc = accept(it, la, "certificate UPN", err);
        } else if (la && !verdict(la)) {
            lookup_failed(it, la);
        } else if (m && usable(lm)) {
            rc = accept(it, lm, "user_map", err);
        } else if (m && lm && !verdict(lm)) {
            lookup_failed(it, lm);
        } else if (m) {
            /* the administrator named the user: no guessing from the e-mails */
            ssync_plan_note(&it->reason, "user_map names %.100s: %s", m,
                            lm && lm->result == SSYNC_ERR_USER_AMBIGUOUS ? "several directory users"
                                                                         : "not in Entra ID");
        } else {
            pending[i] = it->n_emails > 0;
        }
    }
    lookups_free(&l);
    free(keys);
    return rc;
}

/* Phase 2: the SAN e-mails of the items still without a user (mail, then proxyAddresses). */
static ssync_code by_mail(ssync_graph *g, const ssync_config *cfg, ssync_journal *j, ssync_plan *p,
                          const char *pending, ssync_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++)
        if (pending[i])
            n += p->items[i].n_emails;
    if (!n)
        return SSYNC_OK;
    const char **keys = calloc(n, sizeof *keys);
    if (!keys)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    n = 0;
    for (size_t i = 0; i < p->count; i++)
        for (size_t k = 0; pending[i] && k < p->items[i].n_emails; k++)
            keys[n++] = p->items[i].emails[k];
    lookups l;
    ssync_code rc = lookups_init(&l, keys, n, err);
    if (rc == SSYNC_OK)
        rc = lookup_cached(g, j, cfg->state.user_cache_hours, SSYNC_USER_BY_MAIL, &l, err);
    for (size_t i = 0; rc == SSYNC_OK && i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        if (!pending[i])
            continue;
        const user_answer *found = NULL, *failed = NULL;
        int ambiguous = 0;
        for (size_t k = 0; k < it->n_emails; k++) {
            const user_answer *lk = lookups_find(&l, it->emails[k]);
            if (usable(lk)) {
                ambiguous |= found && strcasecmp(found->id, lk->id) != 0;
                found = lk;
            } else if (lk && lk->result == SSYNC_ERR_USER_AMBIGUOUS) {
                ambiguous = 1;
            } else if (lk && !verdict(lk)) {
                failed = lk;
            }
        }
        if (ambiguous)
            ssync_plan_note(&it->reason, "the certificate's e-mails match several directory users");
        else if (found)
            rc = accept(it, found, via_name(found->matched_by), err);
        else if (failed)
            lookup_failed(it, failed);
    }
    lookups_free(&l);
    free(keys);
    return rc;
}

typedef struct keep_ctx {
    const ssync_plan_target *t;
    const ssync_user_rules *map;
} keep_ctx;

/* Before the lookups: the items whose certificate names the target user. */
static int names_target(void *ctx, const ssync_plan_item *it)
{
    const keep_ctx *k = ctx;
    return it->code == SSYNC_OK &&
           ssync_target_names_user(k->t, it, ssync_user_rules_map(k->map, it));
}

/* After them: not those that turned out to belong to someone else. */
static int resolved_to_target(void *ctx, const ssync_plan_item *it)
{
    const keep_ctx *k = ctx;
    return !it->user_found || strcasecmp(it->upn, k->t->user) == 0;
}

/* A targeted run reads only the listings of its users. */
static ssync_code list_per_user(ssync_graph *g, const ssync_plan *p, ssync_pfx_list *listing,
                                ssync_error *err)
{
    const char **upns = calloc(p->count + 1, sizeof *upns);
    if (!upns)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].user_found && !p->items[i].filtered)
            upns[n++] = p->items[i].upn;
    qsort(upns, n, sizeof *upns, key_cmp);
    ssync_code rc = SSYNC_OK;
    for (size_t i = 0; rc == SSYNC_OK && i < n; i++)
        if (i == 0 || strcasecmp(upns[i - 1], upns[i]) != 0)
            rc = ssync_graph_list_pfx_by_user(g, upns[i], listing, err);
    free(upns);
    return rc;
}

ssync_code ssync_plan_resolve(ssync_graph *g, const ssync_config *cfg,
                              const ssync_plan_target *target, ssync_journal *journal,
                              ssync_plan *p, ssync_pfx_list *listing, ssync_error *err)
{
    if (!g || !cfg || !p || !listing)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_plan_resolve");
    ssync_user_rules map; /* each source's user_map and user filters */
    char *pending = NULL, *from_cache = NULL;
    ssync_code rc = ssync_target_check(target, err);
    if (rc == SSYNC_OK)
        rc = ssync_user_rules_load(cfg, &map, err);
    else
        memset(&map, 0, sizeof map);
    keep_ctx kc = {target, &map};
    if (rc == SSYNC_OK && target && target->user)
        ssync_plan_keep_if(p, names_target, &kc);
    if (rc == SSYNC_OK && journal && cfg->state.user_cache_hours > 0)
        rc = ssync_journal_user_prune(
            journal, (double)time(NULL) - cfg->state.user_cache_hours * 3600.0, err);
    if (rc == SSYNC_OK &&
        (!(pending = calloc(p->count + 1, 1)) || !(from_cache = calloc(p->count + 1, 1))))
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    int hours = cfg->state.user_cache_hours;
    if (rc == SSYNC_OK)
        rc = from_cert_cache(journal, hours, cfg->state.user_negative_cache_minutes, &map, p,
                             from_cache, err);
    if (rc == SSYNC_OK)
        rc = by_upn(g, cfg, journal, &map, p, from_cache, pending, err);
    if (rc == SSYNC_OK)
        rc = by_mail(g, cfg, journal, p, pending, err);
    if (rc == SSYNC_OK)
        rc = to_cert_cache(journal, hours, cfg->state.user_negative_cache_minutes > 0, p,
                           from_cache, err);
    if (rc == SSYNC_OK && target && target->user)
        ssync_plan_keep_if(p, resolved_to_target, &kc);
    if (rc == SSYNC_OK)
        rc = ssync_user_rules_load_groups(&map, g, p, err);
    for (size_t i = 0; rc == SSYNC_OK && i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        if (it->code != SSYNC_OK || !it->user_found || it->filtered)
            continue;
        char text[256];
        text[0] = '\0';
        if (!ssync_user_filter_check(ssync_user_rules_filter(&map, it), it->upn, text,
                                     sizeof text)) {
            it->filtered = 1;
            ssync_plan_note(&it->reason, "%s", text);
        } else {
            ssync_mail_mismatch_warning(it, text, sizeof text);
            if (text[0])
                ssync_plan_note(&it->warning, "%s", text);
        }
    }
    free(pending);
    free(from_cache);
    ssync_user_rules_free(&map);
    if (rc != SSYNC_OK)
        return rc;
    if (ssync_plan_target_empty(target))
        rc = ssync_graph_list_pfx(g, listing, err);
    else
        rc = list_per_user(g, p, listing, err);
    if (rc == SSYNC_OK)
        ssync_pfx_list_sort(listing);
    return rc;
}
