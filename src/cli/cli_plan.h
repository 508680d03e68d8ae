/* Shared by plan, sync and status: options, configuration, logger, journal, the desired and
 * actual state, the diff, and the report. */
#ifndef SSYNC_CLI_PLAN_H
#define SSYNC_CLI_PLAN_H

#include "cli_options.h"
#include "cli_report.h"
#include "sync/plan.h"

#include <jansson.h>
#include <time.h>

struct ssync_config;
struct ssync_kra_set;
struct ssync_graph;
struct ssync_pfx_list;
struct ssync_journal;
struct ssync_source;
struct ssync_lock;
struct ssync_trust;
struct cli_source;
struct cli_log;
struct cli_progress;
struct cli_signal;

/* The command lines of plan and sync (the same options, status takes fewer). */
extern const struct cli_spec cli_plan_spec;
extern const struct cli_spec cli_sync_spec;

struct cli_plan_run {
    /* set by the caller before cli_plan_prepare */
    struct cli_signal *signals; /* optional: the Graph client is attached to it */
    int writer;                 /* sync: hold the one-writer state lock for the whole run */
    /* set by cli_plan_prepare */
    const char *cmd;            /* "plan", "sync", "status": o->cmd */
    const struct cli_opts *opt; /* the parsed options (config, target, output, report, ...) */
    time_t started;
    struct ssync_config *cfg;
    struct ssync_kra_set *kras;
    struct ssync_graph *graph;
    ssync_plan *plan;
    struct ssync_pfx_list *listing;
    struct cli_log *log;
    struct cli_progress *progress;
    struct ssync_journal *journal; /* NULL without [state] path or when it cannot be opened */
    struct ssync_source *source;   /* the first source open (cli_sources.h), or NULL */
    struct cli_source *sources;    /* every source of the configuration (cli_sources.h) */
    size_t n_sources;
    size_t sources_failed;   /* sources left out of the run (broken) */
    struct ssync_lock *lock; /* the one-writer lock of a writer run */
    size_t crl_failed;       /* CRLs ignored: not signed by their issuer in [source] ca */
    json_t *problems;        /* run-level failures for the report ({what, path, error, effect}) */
    int journal_failed;      /* [state] path set but the journal cannot be opened */
};

/* Builds the plan from the parsed options (o outlives r). Returns CLI_EXIT_OK or an exit code
 * (reported). Call cli_plan_release in every case. */
int cli_plan_prepare(struct cli_plan_run *r, const struct cli_opts *o);
/* The target of a targeted run, NULL for the whole source. */
const ssync_plan_target *cli_plan_target(const struct cli_plan_run *r);
/* Builds the report document (results: NULL for a plan; see cli_report.h), prints it on
 * stdout (table, or JSON with --json), logs each item warning, and writes --report FILE.
 * Returns the report (the caller frees it with cli_report_free), NULL on memory. */
cli_run_report *cli_plan_report(const struct cli_plan_run *r, const ssync_item_result *results,
                                long long run_id, int interrupted, size_t resumed);
void cli_plan_release(struct cli_plan_run *r);

#endif
