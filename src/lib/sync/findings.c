/* Expiry findings over a plan (findings.h). Archived keys are encryption keys (AD CS archives
 * only keys whose certificate allows key encipherment), so every item is an encryption
 * certificate. */
#include "sync/findings.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *user_of(const ssync_plan_item *it)
{
    return it->upn ? it->upn : it->cert_upn;
}

/* usable: a certificate that could succeed the one that expires */
static int usable(const ssync_plan_item *it)
{
    return !it->revoked && !it->filtered && user_of(it) && it->not_after > 0;
}

static int by_not_after(const void *a, const void *b)
{
    const ssync_user_expiry *x = a, *y = b;
    return (x->not_after > y->not_after) - (x->not_after < y->not_after);
}

ssync_code ssync_findings_users_expiring(const ssync_plan *p, time_t now, int days,
                                         ssync_user_expiry_list *out, ssync_error *err)
{
    if (!p || !out || days < 0)
        return ssync_fail(err, SSYNC_ERR_ARG, "findings: bad arguments");
    memset(out, 0, sizeof *out);
    time_t until = now + (time_t)days * 86400;
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        if (!usable(it))
            continue;
        /* the newest usable certificate of this user: the first item of the user that no
         * other usable item of the user outlives (ties: the first) */
        int newest = 1;
        for (size_t k = 0; k < p->count && newest; k++) {
            const ssync_plan_item *o = &p->items[k];
            if (k == i || !usable(o) || strcasecmp(user_of(o), user_of(it)) != 0)
                continue;
            newest = o->not_after < it->not_after || (o->not_after == it->not_after && k > i);
        }
        if (!newest || it->not_after < now || it->not_after > until)
            continue;
        ssync_user_expiry *v = realloc(out->v, (out->n + 1) * sizeof *v);
        if (!v || !(v[out->n].user = strdup(user_of(it)))) {
            if (v)
                out->v = v;
            ssync_user_expiry_list_free(out);
            return ssync_fail(err, SSYNC_ERR_NOMEM, "findings: out of memory");
        }
        out->v = v;
        ssync_user_expiry *e = &v[out->n++];
        e->not_after = it->not_after;
        memcpy(e->serial, it->serial, sizeof e->serial);
        memcpy(e->thumbprint, it->thumbprint, sizeof e->thumbprint);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_not_after);
    return SSYNC_OK;
}

void ssync_user_expiry_list_free(ssync_user_expiry_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].user);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
