/* Connecting to Intune from the configuration: credentials from files or the environment, the
 * Graph client, and its log lines on stderr. */
#ifndef SSYNC_CLI_GRAPH_H
#define SSYNC_CLI_GRAPH_H

#include "cli_log.h"
#include "sync/config.h"
#include "graph/graph.h"

/* Creates the Graph client from cfg's [intune] section. Reports errors itself (one line);
 * returns NULL on failure. */
ssync_graph *cli_graph_open(const ssync_config *cfg, struct cli_log *log);
/* The client's log lines go to log (see cli_log.h): it must outlive the client (keep it in the
 * command's frame). */

/* One line describing a Graph failure for the operator: status, Graph code, message and the
 * ids Microsoft support asks for. */
void cli_report_graph(const char *cmd, const char *item, const ssync_error *e,
                      const ssync_graph_failure *f);
/* The same line through the logger. */
void cli_log_graph(const struct cli_log *log, const char *item, const ssync_error *e,
                   const ssync_graph_failure *f);

#endif
