/* The source facade (see source.h): the table of sources by [source] type, and the calls that
 * dispatch to it. */
#include "source/source_int.h"

#include "pki/certinfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* indexed by ssync_source_type */
static const ssync_source_ops *const sources[] = {&ssync_source_blobs, &ssync_source_edb,
                                                  &ssync_source_pfx};

static const ssync_source_ops *ops_of(ssync_source_type type)
{
    size_t i = (size_t)type;
    return i < sizeof sources / sizeof sources[0] ? sources[i] : NULL;
}

const char *ssync_source_hint(ssync_source_type type)
{
    const ssync_source_ops *ops = ops_of(type);
    return ops ? ops->hint : NULL;
}

ssync_code ssync_source_open(const ssync_source_cfg *cfg, const ssync_source_env *env,
                             ssync_source **out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_source_open");
    *out = NULL;
    const ssync_source_ops *ops = cfg ? ops_of(cfg->type) : NULL;
    if (!ops)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_source_open: unknown source type");
    ssync_source *s = calloc(1, sizeof *s);
    size_t n = env ? env->n_crls : 0;
    if (!s || !(s->crls = calloc(n ? n : 1, sizeof *s->crls))) {
        free(s);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    s->ops = ops;
    s->cfg = cfg;
    if (env)
        s->env = *env;
    s->env.n_crls = 0; /* counts the references taken */
    size_t kept = 0;   /* the CRLs the anchors vouch for: no revocation on a forged one */
    for (size_t i = 0; i < n; i++) {
        if (!env->trust || ssync_trust_verify_crl(env->trust, env->crls[i], NULL) != SSYNC_OK)
            continue;
        kept++;
        if (X509_CRL_up_ref(env->crls[i]))
            s->crls[s->env.n_crls++] = env->crls[i];
    }
    ssync_code rc = s->env.n_crls == kept ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_INTERNAL, "CRL");
    s->env.crls = s->crls;
    if (rc == SSYNC_OK && ops->open)
        rc = ops->open(s, err);
    if (rc != SSYNC_OK) {
        ssync_source_close(s);
        return rc;
    }
    *out = s;
    return SSYNC_OK;
}

const ssync_source_cfg *ssync_source_config(const ssync_source *s)
{
    return s ? s->cfg : NULL;
}

ssync_code ssync_source_scan(ssync_source *s, const ssync_plan_target *t, ssync_plan *out,
                             ssync_error *err)
{
    if (!s || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_source_scan");
    if (ssync_trust_count(s->env.trust) == 0)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "%s", SSYNC_SOURCE_NO_CA);
    size_t first = out->count;
    ssync_code rc = s->ops->scan(s, t, out, err);
    for (size_t i = first; i < out->count; i++)
        out->items[i].source = ssync_source_name(s->cfg);
    return rc;
}

int ssync_source_owns(const ssync_source *s, const ssync_plan_item *it)
{
    return s && it && (!it->source || strcmp(it->source, ssync_source_name(s->cfg)) == 0);
}

ssync_code ssync_source_export(ssync_source *s, const ssync_exporter *ex, const ssync_plan_item *it,
                               const char *upn, ssync_export_result *out, ssync_error *err)
{
    if (!s || !ex || !it || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_source_export");
    /* the source's own KRA keys (a source of a run of several may have its own) */
    ssync_exporter own = *ex;
    if (s->env.kras)
        own.kras = s->env.kras;
    return s->ops->export(s, &own, it, upn, out, err);
}

ssync_code ssync_source_check(ssync_source *s, ssync_source_check_result *out, ssync_error *err)
{
    if (!s || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_source_check");
    memset(out, 0, sizeof *out);
    return s->ops->check(s, out, err);
}

int ssync_source_find(ssync_source *s, const char *const *thumbprints, size_t n,
                      int include_expired, char **where)
{
    for (size_t i = 0; where && i < n; i++)
        where[i] = NULL;
    if (!s || !s->ops->find || (n && (!thumbprints || !where)))
        return 0;
    return s->ops->find(s, thumbprints, n, include_expired, where);
}

ssync_code ssync_source_commit(ssync_source *s, const ssync_plan *p, ssync_error *err)
{
    if (!s || !p)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_source_commit");
    if (!s->ops->commit)
        return SSYNC_OK;
    /* the source sees its own items only (a run of several sources has one plan): a shallow
     * view, the items stay the plan's */
    ssync_plan own = {calloc(p->count ? p->count : 1, sizeof *own.items), 0, p->count};
    if (!own.items)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    for (size_t i = 0; i < p->count; i++)
        if (ssync_source_owns(s, &p->items[i]))
            own.items[own.count++] = p->items[i];
    ssync_code rc = s->ops->commit(s, &own, err);
    free(own.items);
    return rc;
}

void ssync_source_close(ssync_source *s)
{
    if (!s)
        return;
    if (s->ops->close)
        s->ops->close(s);
    for (size_t i = 0; i < s->env.n_crls; i++)
        X509_CRL_free(s->crls[i]);
    free(s->crls);
    free(s);
}
