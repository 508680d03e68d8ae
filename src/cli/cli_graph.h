/* Kept only while src/cli/cmd_sync.c includes it: the Graph client is opened by sync/connect.h,
 * and the lines of Graph failures (cli_log_graph, cli_report_graph) are in cli_log.h. Delete this
 * file with that include. */
#ifndef SSYNC_CLI_GRAPH_H
#define SSYNC_CLI_GRAPH_H

#include "cli_log.h"

#endif
