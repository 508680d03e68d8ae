/* The sources of a plan, sync or status run: each [source] or [source "NAME"] section opened with
 * its own trust anchors, CRLs and KRA keys, and scanned into the one plan. In a run of several
 * sources a broken one (missing file, dirty database, no KRA key, no ca) is left out with one
 * error line and the others go on. */
#ifndef SSYNC_CLI_SOURCES_H
#define SSYNC_CLI_SOURCES_H

#include "common/errors.h"

#include <jansson.h>
#include <stddef.h>

struct cli_plan_run;
struct ssync_source;
struct ssync_source_cfg;
struct ssync_trust;
struct ssync_kra_set;
struct ssync_plan_target;
struct ssync_config;
struct ssync_error;

struct cli_source {
    const struct ssync_source_cfg *cfg;
    struct ssync_source *source;    /* NULL when it could not be opened or scanned */
    struct ssync_trust *trust;      /* its ca: outlives the source */
    struct ssync_kra_set *own_kras; /* its kra_key set; NULL when it takes [kra]'s */
    char *error;                    /* why it is not in this run; NULL when it is */
    size_t items;                   /* the items it put in the plan */
};

/* 1 when the configuration names its sources ([source "NAME"]): then a broken source is left out
 * instead of failing the run, and reports name the source of each item. */
int cli_sources_named(const struct cli_plan_run *r);
/* Opens and scans every source (for target: NULL, the whole source) into r->plan (r->sources,
 * r->n_sources), merges the same certificate from two sources into one item. CLI_EXIT_OK, or
 * CLI_EXIT_FAILURE when a source of a single-source configuration (or every source) fails (logged).
 */
int cli_sources_scan(struct cli_plan_run *r, const struct ssync_plan_target *target);
/* The report's "sources" (name, type, path, items, error) of a configuration of named sources;
 * NULL otherwise. A new reference. */
json_t *cli_sources_json(const struct cli_plan_run *r);
/* remove's search: where[i] becomes the file of the first source (in configuration order) that
 * still holds tps[i] (ssync_source_find; malloc'd), else NULL. 1 when every source was
 * searched. */
int cli_sources_search(const struct ssync_config *cfg, const char *const *tps, size_t n,
                       char **where);
/* Records a run-level failure in r->problems (what: "crl", ...; path: the file) for the report's
 * "problems". */
void cli_plan_problem(struct cli_plan_run *r, const char *what, const char *path,
                      const ssync_error *e, const char *effect);
void cli_sources_free(struct cli_plan_run *r);

#endif
