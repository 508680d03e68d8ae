/* The structured journal events of a sync run (cli_journal.h): started, one per write carried
 * out or failed, throttled, KRA and Graph credential expiring, finished. Only when the run logs
 * to the journal: in text and JSON the report and the existing lines say the same. */
#ifndef SSYNC_CLI_RUN_EVENTS_H
#define SSYNC_CLI_RUN_EVENTS_H

#include "sync/run.h"

struct cli_plan_run;

void cli_run_events_started(const struct cli_plan_run *r);
/* One event per write of the plan that ran (results: one per item). */
void cli_run_events_items(const struct cli_plan_run *r, const ssync_item_result *results);
/* Throttling, expiring KRA certificates and client certificate, then "finished" with rc. */
void cli_run_events_finished(const struct cli_plan_run *r, int rc);

#endif
