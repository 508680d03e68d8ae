/* The sync engine's plan: desired state, users, actual state and the diff (see plan.h). */
#include "sync/plan.h"

#include "sync/filter.h"

#include <openssl/err.h>
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

int ssync_plan_target_empty(const ssync_plan_target *t)
{
    return !t || (!t->request_id && !t->serial && !t->user);
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

ssync_code ssync_plan_scan(ssync_source *src, const ssync_plan_target *target, ssync_plan *out,
                           ssync_error *err)
{
    if (!src || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_plan_scan");
    ssync_cert_filter filter;
    ssync_code rc = ssync_target_check(target, err);
    if (rc == SSYNC_OK)
        rc = ssync_cert_filter_init(ssync_source_config(src), &filter, err);
    if (rc != SSYNC_OK)
        return rc;
    size_t first = out->count;
    rc = ssync_source_scan(src, target, out, err);
    if (rc != SSYNC_OK)
        return rc;
    if (!ssync_plan_target_empty(target) && (target->request_id || target->serial))
        ssync_plan_keep_if(out, keep_target, (void *)target);
    /* the certificate filters, whatever the source */
    char why[256];
    for (size_t i = first; i < out->count; i++) {
        ssync_plan_item *it = &out->items[i];
        /* a name that is not an address never reaches a lookup, a record or a terminal */
        if (it->code == SSYNC_OK && ssync_plan_item_check_names(it))
            continue;
        if (it->code == SSYNC_OK && !it->filtered &&
            !ssync_cert_filter_check(&filter, it, why, sizeof why)) {
            it->filtered = 1;
            ssync_plan_note(&it->reason, "%s", why);
        }
    }
    return SSYNC_OK;
}

/* The same certificate from two sources: sorted by thumbprint, the one to keep first. */
typedef struct dup_ref {
    const ssync_plan_item *it;
    size_t idx;
} dup_ref;

static int by_thumbprint_keeper_first(const void *pa, const void *pb)
{
    const dup_ref *a = pa, *b = pb;
    int c = strcmp(a->it->thumbprint, b->it->thumbprint);
    if (c)
        return c;
    if ((a->it->code == SSYNC_OK) != (b->it->code == SSYNC_OK)) /* recovered first */
        return a->it->code == SSYNC_OK ? -1 : 1;
    if (a->it->filtered != b->it->filtered) /* in scope first */
        return a->it->filtered ? 1 : -1;
    return a->idx < b->idx ? -1 : a->idx > b->idx; /* then the first source */
}

typedef struct drop_ctx {
    const ssync_plan *p;
    const unsigned char *drop;
} drop_ctx;

static int not_dropped(void *ctx, const ssync_plan_item *it)
{
    const drop_ctx *d = ctx;
    return !d->drop[(size_t)(it - d->p->items)];
}

ssync_code ssync_plan_merge_duplicates(ssync_plan *p, size_t *dropped, ssync_error *err)
{
    if (dropped)
        *dropped = 0;
    if (!p)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_plan_merge_duplicates");
    dup_ref *refs = calloc(p->count ? p->count : 1, sizeof *refs);
    unsigned char *drop = calloc(p->count ? p->count : 1, 1);
    if (!refs || !drop) {
        free(refs);
        free(drop);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    size_t n = 0, count = 0;
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].thumbprint[0])
            refs[n++] = (dup_ref){&p->items[i], i};
    qsort(refs, n, sizeof *refs, by_thumbprint_keeper_first);
    for (size_t r = 1, keep = 0; r < n; r++) {
        if (strcmp(refs[r].it->thumbprint, refs[keep].it->thumbprint) != 0) {
            keep = r;
            continue;
        }
        /* revoked on any source's CRL: revoked */
        p->items[refs[keep].idx].revoked |= refs[r].it->revoked;
        drop[refs[r].idx] = 1;
        count++;
    }
    drop_ctx d = {p, drop};
    if (count)
        ssync_plan_keep_if(p, not_dropped, &d);
    free(refs);
    free(drop);
    if (dropped)
        *dropped = count;
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

/* Appends text to the item's warning ("; " between warnings). */
static void add_warning(ssync_plan_item *it, const char *text)
{
    if (ssync_has_text(it->warning) && strstr(it->warning, text))
        return; /* decided again: said once */
    if (ssync_has_text(it->warning)) {
        char *old = strdup(it->warning);
        if (old)
            ssync_plan_note(&it->warning, "%s; %s", old, text);
        free(old);
    } else {
        ssync_plan_note(&it->warning, "%s", text);
    }
}

/* a starts later than b: notBefore, then the thumbprint (a total order) */
static int starts_later(const ssync_plan_item *a, const ssync_plan_item *b)
{
    if (a->not_before != b->not_before)
        return a->not_before > b->not_before;
    return strcmp(a->thumbprint, b->thumbprint) > 0;
}

static int by_user_then_latest_start(const void *pa, const void *pb)
{
    const user_ref *a = pa, *b = pb;
    int c = strcasecmp(a->key, b->key);
    if (c)
        return c;
    if (starts_later(a->it, b->it))
        return -1;
    if (starts_later(b->it, a->it))
        return 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* What devices will get (memdocs certificates-imported-pfx-configure.md: through a PKCS imported
 * profile "Intune selects the imported certificate that has the most recent certificate start
 * date and time"; startDateTime is the certificate's notBefore, record/record.c). Of a user's
 * certificates that will be in Intune, only the one with the latest notBefore reaches the
 * device's store through the profile: said once per user, on that certificate. A renewal (a later
 * notAfter) whose notBefore is earlier than that one's is never delivered through the profile:
 * a warning naming both. Every record smimesync writes carries one intendedPurpose
 * ([policy] both_purpose only decides certificates valid for both), so the user is the group. */
static void delivery_notes(ssync_plan *p)
{
    user_ref *refs = calloc(p->count ? p->count : 1, sizeof *refs);
    if (!refs)
        return;
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        if (it->code == SSYNC_OK && it->user_found && it->upn && it->not_before &&
            (it->action == SSYNC_ACT_UPLOAD || it->action == SSYNC_ACT_KEEP))
            refs[n++] = (user_ref){it->upn, it, i};
    }
    qsort(refs, n, sizeof *refs, by_user_then_latest_start);
    for (size_t first = 0, end; first < n; first = end) {
        for (end = first + 1; end < n && !strcasecmp(refs[end].key, refs[first].key); end++)
            ;
        if (end - first < 2)
            continue;
        ssync_plan_item *top = refs[first].it;
        char text[400];
        snprintf(text, sizeof text,
                 "%zu certificates of this user will be in Intune: through a PKCS imported "
                 "profile only this one (the latest notBefore) reaches the device's certificate "
                 "store; the older ones reach Outlook only",
                 end - first);
        add_warning(top, text);
        for (size_t r = first + 1; r < end; r++) {
            ssync_plan_item *it = refs[r].it;
            if (it->not_after <= top->not_after)
                continue;
            snprintf(text, sizeof text,
                     "back-dated renewal: %s expires after %s but its notBefore is earlier, so "
                     "Intune's newest-startDateTime rule never delivers it through a profile",
                     it->thumbprint, top->thumbprint);
            add_warning(it, text);
        }
    }
    free(refs);
}

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
        /* rank = how many of the user's candidates are strictly newer (equal ones share it).
         * No removal on grounds not yet proven: an older record leaves Intune only once every
         * certificate kept in its place is in Intune (recovered and created by an earlier run,
         * or there already); until then it is kept, and the run after the upload removes it. */
        size_t first = 0, rank = 0;
        int kept_present = 1;
        for (size_t r = 0; r < nrefs; r++) {
            ssync_plan_item *it = refs[r].it;
            if (r == 0 || strcasecmp(refs[r - 1].key, refs[r].key) != 0)
                first = r, rank = 0, kept_present = 1;
            else if (newer(refs[r - 1].it, it))
                rank = r - first;
            if (rank < (size_t)pol->keep_newest)
                kept_present &= it->present;
            else if (!it->present)
                set(it, SSYNC_ACT_SKIP, "older than the newest keep_newest of the user");
            else if (kept_present)
                set(it, SSYNC_ACT_REMOVE, "older than the newest keep_newest of the user");
            else
                set(it, SSYNC_ACT_KEEP, "older; removed once the newer one is in Intune");
        }
    }
    free(refs);
    free(decided);
    delivery_notes(p);
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
