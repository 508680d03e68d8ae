/* The user rules of every source of a run (see user_rules.h). */
#include "sync/user_rules.h"

#include <stdlib.h>
#include <string.h>

static size_t index_of(const ssync_user_rules *r, const ssync_plan_item *it)
{
    for (size_t i = 0; it->source && i < r->n; i++)
        if (strcmp(r->names[i], it->source) == 0)
            return i;
    return 0;
}

ssync_code ssync_user_rules_load(const ssync_config *cfg, ssync_user_rules *r, ssync_error *err)
{
    memset(r, 0, sizeof *r);
    size_t n = ssync_config_source_count(cfg);
    ssync_code rc = SSYNC_OK;
    for (size_t i = 0; rc == SSYNC_OK && i < n; i++) {
        const ssync_source_cfg *s = ssync_config_source_at(cfg, i);
        r->names[i] = ssync_source_name(s);
        r->cfgs[i] = s;
        r->n = i + 1;
        if (s->user_map)
            rc = ssync_usermap_load(s->user_map, &r->maps[i], err);
        if (rc == SSYNC_OK)
            rc = ssync_user_filter_load(s, &r->filters[i], err);
        if (rc != SSYNC_OK && n > 1)
            ssync_error_prefix(err, "source \"%s\": ", r->names[i]);
    }
    if (rc != SSYNC_OK)
        ssync_user_rules_free(r);
    return rc;
}

const ssync_usermap *ssync_user_rules_map(const ssync_user_rules *r, const ssync_plan_item *it)
{
    return r->n ? &r->maps[index_of(r, it)] : NULL;
}

const ssync_user_filter *ssync_user_rules_filter(const ssync_user_rules *r,
                                                 const ssync_plan_item *it)
{
    return r->n ? &r->filters[index_of(r, it)] : NULL;
}

/* The group's members become the source's user filter's group set. */
static ssync_code load_group(ssync_graph *g, const char *group, ssync_user_filter *uf,
                             ssync_error *err)
{
    ssync_group_members m = {0};
    ssync_code rc = ssync_graph_group_members(g, group, &m, err);
    if (rc != SSYNC_OK) {
        ssync_group_members_free(&m);
        return ssync_error_prefix(err, "[source] group %.80s: ", group);
    }
    for (size_t i = 0; rc == SSYNC_OK && i < m.count; i++)
        if (m.upns[i])
            rc = ssync_upn_set_add(&uf->group, m.upns[i], err);
    ssync_group_members_free(&m);
    ssync_upn_set_seal(&uf->group);
    uf->has_group = 1;
    return rc;
}

ssync_code ssync_user_rules_load_groups(ssync_user_rules *r, ssync_graph *g, const ssync_plan *p,
                                        ssync_error *err)
{
    for (size_t s = 0; s < r->n; s++) {
        const char *group = r->cfgs[s]->group;
        int needed = 0;
        for (size_t i = 0; group && !needed && i < p->count; i++)
            needed =
                p->items[i].user_found && !p->items[i].filtered && index_of(r, &p->items[i]) == s;
        if (!needed)
            continue;
        ssync_code rc = load_group(g, group, &r->filters[s], err);
        if (rc != SSYNC_OK)
            return r->n > 1 ? ssync_error_prefix(err, "source \"%s\": ", r->names[s]) : rc;
    }
    return SSYNC_OK;
}

void ssync_user_rules_free(ssync_user_rules *r)
{
    for (size_t i = 0; r && i < r->n; i++) {
        ssync_usermap_free(&r->maps[i]);
        ssync_user_filter_free(&r->filters[i]);
    }
    if (r)
        r->n = 0;
}
