/* The metrics of a sync run (cli_metrics.h) from what the run holds: plan, results, Graph
 * statistics, KRA keys, the client certificate and the source's CA database copy. */
#ifndef SSYNC_CLI_RUN_METRICS_H
#define SSYNC_CLI_RUN_METRICS_H

#include "sync/run.h"

struct cli_plan_run;

/* The expiry window of the "users without a successor" finding, in days. */
#define CLI_EXPIRY_WINDOW_DAYS 30

/* Writes [metrics] textfile, if set, for the run r that started at `started` (UNIX seconds) and
 * ends with exit code rc; results: one per plan item, NULL when the run stopped before its
 * writes (its plan is then left out). A failure is a warning: the run's outcome stands. A run
 * that found the state lock held (CLI_EXIT_BUSY) did nothing and writes nothing. */
void cli_run_metrics_write(const struct cli_plan_run *r, const ssync_item_result *results,
                           double started, int rc);
/* The UNIX time now, in seconds with a fraction. */
double cli_run_metrics_now(void);

#endif
