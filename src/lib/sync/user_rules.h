/* The user rules of every source of a run ([source] or [source "NAME"]: user_map, users_allow,
 * users_deny, group), each applied to the items its source scanned. Private to sync/. */
#ifndef SSYNC_USER_RULES_H
#define SSYNC_USER_RULES_H

#include "graph/graph.h"
#include "sync/config.h"
#include "sync/filter.h"
#include "sync/usermap.h"

typedef struct ssync_user_rules {
    size_t n;
    const char *names[SSYNC_CFG_MAX_SOURCES + 1];
    const ssync_source_cfg *cfgs[SSYNC_CFG_MAX_SOURCES + 1];
    ssync_usermap maps[SSYNC_CFG_MAX_SOURCES + 1];
    ssync_user_filter filters[SSYNC_CFG_MAX_SOURCES + 1];
} ssync_user_rules;

/* Reads every source's user_map, users_allow and users_deny; an error names the source when the
 * configuration has several. */
ssync_code ssync_user_rules_load(const ssync_config *cfg, ssync_user_rules *r, ssync_error *err);
/* The user map of the item's source (the first source for an item that names none). */
const ssync_usermap *ssync_user_rules_map(const ssync_user_rules *r, const ssync_plan_item *it);
/* The user filter of the item's source. */
const ssync_user_filter *ssync_user_rules_filter(const ssync_user_rules *r,
                                                 const ssync_plan_item *it);
/* Each source's group members, fetched only when an item of that source needs them. */
ssync_code ssync_user_rules_load_groups(ssync_user_rules *r, ssync_graph *g, const ssync_plan *p,
                                        ssync_error *err);
void ssync_user_rules_free(ssync_user_rules *r);

#endif
