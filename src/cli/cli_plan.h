#ifndef SSYNC_CLI_PLAN_H
#define SSYNC_CLI_PLAN_H

/* Shared by plan and sync: options, configuration, desired and actual state, the diff, and
 * the report. */
struct ssync_config;
struct ssync_kra_set;
struct ssync_graph;
struct ssync_plan;
struct ssync_pfx_list;
struct cli_log;
struct cli_plan_run {
    const char *cmd; /* "plan" or "sync" */
    int json, verbose, curl_inited;
    struct ssync_config *cfg;
    struct ssync_kra_set *kras;
    struct ssync_graph *graph;
    struct ssync_plan *plan;
    struct ssync_pfx_list *listing;
    struct cli_log *log;
};
/* Parses the options and builds the plan. Returns CLI_EXIT_OK, -1 after --help, or an exit code
 * (reported). Call cli_plan_release in every case. */
int cli_plan_prepare(struct cli_plan_run *r, int argc, char **argv);
/* Prints the report (table or JSON) on stdout. op_errors: NULL for plan; for sync one entry per
 * plan item, NULL when done, else the error. Returns the number of failed items. */
int cli_plan_report(const struct cli_plan_run *r, const char *const *op_errors);
void cli_plan_release(struct cli_plan_run *r);

#endif
