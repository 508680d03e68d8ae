/* The sources of a run (see cli_sources.h). */
#include "cli_sources.h"

#include "cli.h"
#include "cli_log.h"
#include "cli_plan.h"
#include "cli_text.h"

#include "pki/crl.h"
#include "pki/trust.h"
#include "recover/kra.h"
#include "source/source.h"
#include "sync/config.h"
#include "sync/connect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_sources_named(const struct cli_plan_run *r)
{
    return r->cfg && r->cfg->n_named > 0;
}

void cli_plan_problem(struct cli_plan_run *r, const char *what, const char *path,
                      const ssync_error *e, const char *effect)
{
    if (!r->problems && !(r->problems = json_array()))
        return;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "what", what, "path", path ? path : "",
                          "code", ssync_code_name(e->code), "error", e->msg, "effect", effect);
    if (o)
        json_array_append_new(r->problems, o);
}

/* The source's CRLs: one that does not load fails the source; one its ca did not sign is
 * ignored (no removal is made on it) and fails the run (crl_failed). */
static ssync_code load_crls(struct cli_plan_run *r, struct cli_source *cs, X509_CRL **crls,
                            size_t *n, ssync_error *e)
{
    for (size_t i = 0; i < cs->cfg->crl.n; i++) {
        const char *path = cs->cfg->crl.v[i];
        if (ssync_crl_load(path, &crls[*n], e) != SSYNC_OK)
            return e->code;
        if (ssync_trust_verify_crl(cs->trust, crls[*n], e) != SSYNC_OK) {
            cli_plan_problem(r, "crl", path, e, "ignored: no removal is made on it");
            ssync_error_prefix(e, "%s: ", path);
            if (cli_sources_named(r))
                cli_log_msg(r->log, SSYNC_LOG_ERROR, "source \"%s\": %s (ignored)",
                            ssync_source_name(cs->cfg), e->msg);
            else
                cli_log_msg(r->log, SSYNC_LOG_ERROR, "%s (ignored)", e->msg);
            X509_CRL_free(crls[*n]);
            crls[*n] = NULL;
            r->crl_failed++;
            continue;
        }
        (*n)++;
    }
    return SSYNC_OK;
}

/* The KRA keys of the source: its own kra_key, else the [kra] section's. */
static ssync_code source_kras(struct cli_plan_run *r, struct cli_source *cs,
                              const ssync_kra_set **kras, ssync_error *e)
{
    const char *name = ssync_source_name(cs->cfg);
    *kras = r->kras;
    if (cs->cfg->kra.key.n > 0) {
        ssync_code rc =
            ssync_kra_set_load(&cs->cfg->kra, "kra_password_file", NULL, NULL, &cs->own_kras, e);
        if (rc != SSYNC_OK)
            return ssync_error_prefix(e, "kra_key: ");
        *kras = cs->own_kras;
    }
    if (!*kras && cs->cfg->type != SSYNC_SOURCE_PFX)
        return ssync_fail(e, SSYNC_ERR_CONFIG,
                          "no KRA key: set [kra] key, or kra_key in [source \"%s\"]", name);
    return SSYNC_OK;
}

struct before {
    const ssync_plan *p;
    size_t count;
};

static int added_before(void *ctx, const ssync_plan_item *it)
{
    const struct before *b = ctx;
    return (size_t)(it - b->p->items) < b->count;
}

/* *whole: the error is about the configuration (a single source's is shown after its path) */
static ssync_code scan_one(struct cli_plan_run *r, const ssync_plan_target *target,
                           struct cli_source *cs, int *whole, ssync_error *e)
{
    X509_CRL *crls[SSYNC_CFG_MAX_LIST] = {0};
    size_t n_crls = 0;
    const ssync_kra_set *kras = NULL;
    const ssync_cfg_list *ca = &cs->cfg->ca;
    ssync_code rc = ssync_trust_load(ca->v, ca->n, &cs->trust, e);
    if (rc == SSYNC_OK && (rc = load_crls(r, cs, crls, &n_crls, e)) != SSYNC_OK)
        *whole = 0; /* the message names the CRL file */
    if (rc == SSYNC_OK)
        rc = source_kras(r, cs, &kras, e);
    ssync_source_env env = {kras, crls, n_crls, r->journal, cs->trust};
    size_t before = r->plan->count;
    if (rc == SSYNC_OK)
        rc = ssync_source_open(cs->cfg, &env, &cs->source, e);
    if (rc == SSYNC_OK)
        rc = ssync_plan_scan(cs->source, target, r->plan, e);
    if (rc != SSYNC_OK) { /* a scan that stopped midway leaves none of its items */
        struct before b = {r->plan, before};
        ssync_plan_keep_if(r->plan, added_before, &b);
    }
    cs->items = r->plan->count - before;
    for (size_t i = 0; i < n_crls; i++)
        X509_CRL_free(crls[i]);
    return rc;
}

/* --source NAME: that source alone; CLI_EXIT_USAGE (said) when the configuration has none */
static int pick(struct cli_plan_run *r, const char *name, const ssync_source_cfg **one)
{
    for (size_t i = 0; i < ssync_config_source_count(r->cfg); i++)
        if (strcmp(ssync_source_name(ssync_config_source_at(r->cfg, i)), name) == 0)
            return *one = ssync_config_source_at(r->cfg, i), CLI_EXIT_OK;
    char names[600] = "";
    for (size_t i = 0, len = 0; i < ssync_config_source_count(r->cfg) && len < sizeof names; i++)
        len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                                ssync_source_name(ssync_config_source_at(r->cfg, i)));
    cli_log_msg(r->log, SSYNC_LOG_ERROR, "--source %s: %s has no such source (its sources: %s)",
                cli_text_is_safe(name) ? name : "(not shown)",
                r->cfg->path ? r->cfg->path : "the configuration", names);
    return CLI_EXIT_USAGE;
}

int cli_sources_scan(struct cli_plan_run *r, const ssync_plan_target *target)
{
    const ssync_source_cfg *one = NULL;
    if (r->opt && r->opt->source && pick(r, r->opt->source, &one) != CLI_EXIT_OK)
        return CLI_EXIT_USAGE;
    size_t n = one ? 1 : ssync_config_source_count(r->cfg);
    r->sources = calloc(n ? n : 1, sizeof *r->sources);
    if (!r->sources) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    r->n_sources = n;
    int named = cli_sources_named(r);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        struct cli_source *cs = &r->sources[i];
        cs->cfg = one ? one : ssync_config_source_at(r->cfg, i);
        ssync_error e = {0};
        int whole = 1;
        if (scan_one(r, target, cs, &whole, &e) == SSYNC_OK) {
            ok++;
            if (!r->source)
                r->source = cs->source;
            continue;
        }
        if (!named) {
            cli_log_error(r->log, whole ? r->cfg->path : NULL, &e);
            return CLI_EXIT_FAILURE;
        }
        /* its items stay out of the plan: nothing of it is uploaded or removed this run */
        size_t len = strlen(e.msg) + 1;
        cs->error = malloc(len);
        if (cs->error)
            memcpy(cs->error, e.msg, len);
        ssync_source_close(cs->source);
        cs->source = NULL;
        r->sources_failed++;
        cli_plan_problem(r, "source", cs->cfg->path, &e,
                         "its certificates are left out of this run");
        cli_log_msg(r->log, SSYNC_LOG_ERROR,
                    "source \"%s\": %s (its certificates are left out of this run)",
                    ssync_source_name(cs->cfg), e.msg);
    }
    if (ok == 0 && n > 0) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "%s: no source could be read",
                    r->cfg->path ? r->cfg->path : "config");
        return CLI_EXIT_FAILURE;
    }
    size_t dropped = 0;
    ssync_error e = {0};
    if (ssync_plan_merge_duplicates(r->plan, &dropped, &e) != SSYNC_OK) {
        cli_log_error(r->log, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    if (dropped)
        cli_log_msg(r->log, SSYNC_LOG_INFO,
                    "%zu certificate%s found in more than one source: counted once", dropped,
                    dropped == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

static const char *type_name(ssync_source_type t)
{
    return t == SSYNC_SOURCE_EDB ? "edb" : t == SSYNC_SOURCE_PFX ? "pfx" : "blobs";
}

json_t *cli_sources_json(const struct cli_plan_run *r)
{
    if (!cli_sources_named(r))
        return NULL;
    json_t *v = json_array();
    for (size_t i = 0; v && i < r->n_sources; i++) {
        const struct cli_source *cs = &r->sources[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "name", ssync_source_name(cs->cfg), "type",
                              type_name(cs->cfg->type), "path", cs->cfg->path ? cs->cfg->path : "",
                              "items", (json_int_t)cs->items);
        if (o && cs->error)
            json_object_set_new(o, "error", json_string(cs->error));
        if (o)
            json_array_append_new(v, o);
    }
    return v;
}

/* One source's find: its CRLs once its ca vouches for them. */
static int search_one(const ssync_source_cfg *s, int include_expired, const char *const *tps,
                      size_t n, char **where)
{
    X509_CRL *crls[SSYNC_CFG_MAX_LIST] = {0};
    ssync_trust *trust = NULL;
    ssync_trust_load(s->ca.v, s->ca.n, &trust, NULL);
    ssync_source_env env = {.crls = crls, .n_crls = s->crl.n, .trust = trust};
    ssync_source *src = NULL;
    int searched = s->path && trust && /* without ca nothing in the source counts */
                   ssync_crl_load_all(s->crl.v, s->crl.n, crls, NULL) == SSYNC_OK &&
                   ssync_source_open(s, &env, &src, NULL) == SSYNC_OK &&
                   ssync_source_find(src, tps, n, include_expired, where);
    ssync_source_close(src);
    ssync_trust_free(trust);
    ssync_crl_free_all(crls, SSYNC_CFG_MAX_LIST);
    return searched;
}

int cli_sources_search(const ssync_config *cfg, const char *const *tps, size_t n, char **where)
{
    for (size_t i = 0; i < n; i++)
        where[i] = NULL;
    char **found = calloc(n ? n : 1, sizeof *found);
    if (!found)
        return 0;
    int all = 1;
    for (size_t k = 0; k < ssync_config_source_count(cfg); k++) {
        all &=
            search_one(ssync_config_source_at(cfg, k), cfg->policy.include_expired, tps, n, found);
        for (size_t i = 0; i < n; i++) {
            if (!where[i])
                where[i] = found[i];
            else
                free(found[i]);
            found[i] = NULL;
        }
    }
    free(found);
    return all;
}

void cli_sources_free(struct cli_plan_run *r)
{
    for (size_t i = 0; r->sources && i < r->n_sources; i++) {
        struct cli_source *cs = &r->sources[i];
        ssync_source_close(cs->source);
        ssync_trust_free(cs->trust);
        ssync_kra_set_free(cs->own_kras);
        free(cs->error);
    }
    free(r->sources);
    r->sources = NULL;
    r->n_sources = 0;
    r->source = NULL;
}
