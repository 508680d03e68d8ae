/* Shared pieces of the CLI: the exit codes (a contract with scripts and schedulers) and the
 * command table. */
#ifndef SSYNC_CLI_H
#define SSYNC_CLI_H

#include <stdio.h>

/* Exit codes. Do not reorder or change: scripts and schedulers depend on them (docs/exit-codes). */
enum cli_exit {
    CLI_EXIT_OK = 0,      /* everything succeeded */
    CLI_EXIT_FAILURE = 1, /* nothing succeeded, or a fatal error before any item */
    CLI_EXIT_USAGE = 2,   /* bad command line */
    CLI_EXIT_PARTIAL = 3, /* some items succeeded, some failed */
};

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int cmd_recover(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_sync(int argc, char **argv);

/* Shared by plan and sync (cmd_plan.c): options, configuration, desired and actual state, the
 * diff, and the report. */
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

void cli_print_exit_codes(FILE *out);

#endif
