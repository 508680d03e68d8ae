#ifndef SSYNC_CLI_PLAN_H
#define SSYNC_CLI_PLAN_H

/* Shared by plan, sync and status: options, configuration, logger, journal, the desired and
 * actual state, the diff, and the report. */
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
struct cli_log;
struct cli_progress;
struct cli_signal;
struct cli_item_result;

struct cli_plan_run {
    /* set by the caller before cli_plan_prepare */
    const char *cmd;            /* "plan", "sync", "status", ... */
    const char *summary;        /* the --help description; NULL: plan's or sync's */
    int targeted;               /* accept --request-id, --serial and --user */
    struct cli_signal *signals; /* optional: the Graph client is attached to it */
    /* options */
    int json, verbose, quiet;
    int refresh_users; /* --refresh-users: forget the user-lookup cache first */
    unsigned workers;  /* --workers N (sync's recovery threads); 0: one per CPU */
    int progress_flag; /* -1 auto, 0 --no-progress, 1 --progress */
    int log_json;      /* -1: [log] format */
    const char *config_path;
    const char *report_path; /* --report FILE (text, or JSON for *.json) */
    ssync_plan_target target;
    /* built by cli_plan_prepare */
    time_t started;
    int curl_inited;
    struct ssync_config *cfg;
    struct ssync_kra_set *kras;
    struct ssync_graph *graph;
    ssync_plan *plan;
    struct ssync_pfx_list *listing;
    struct cli_log *log;
    struct cli_progress *progress;
    struct ssync_journal *journal; /* NULL without [state] path or when it cannot be opened */
    struct ssync_source *source;   /* open from the scan to the release */
    int journal_failed;            /* [state] path set but the journal cannot be opened */
};

/* Parses the options and builds the plan. Returns CLI_EXIT_OK, -1 after --help, or an exit code
 * (reported). Call cli_plan_release in every case. */
int cli_plan_prepare(struct cli_plan_run *r, int argc, char **argv);
/* The target of a targeted run, NULL for the whole source. */
const ssync_plan_target *cli_plan_target(const struct cli_plan_run *r);
/* Builds the report document (results: NULL for a plan; see cli_report.h), prints it on
 * stdout (table, or JSON with --json), logs each item warning, and writes --report FILE.
 * Returns the report (the caller frees it with cli_report_free), NULL on memory. */
cli_run_report *cli_plan_report(const struct cli_plan_run *r, const struct cli_item_result *results,
                                long long run_id, int interrupted, size_t resumed);
void cli_plan_release(struct cli_plan_run *r);

#endif
