/* Connecting to Intune from the configuration: credentials from files or the environment, the
 * Graph client, and its log lines on stderr. */
#ifndef SSYNC_CLI_GRAPH_H
#define SSYNC_CLI_GRAPH_H

#include "config.h"
#include "graph.h"

/* Where the client's log lines go: stderr, prefixed with the command, up to a level. It must
 * outlive the client (keep it in the command's frame). */
struct cli_log {
    const char *cmd;
    int verbosity; /* highest ssync_log_level printed */
};

/* Creates the Graph client from cfg's [intune] section. Reports errors itself (one line);
 * returns NULL on failure. */
ssync_graph *cli_graph_open(const ssync_config *cfg, struct cli_log *log);

/* One line describing a Graph failure for the operator: status, Graph code, message and the
 * ids Microsoft support asks for. */
void cli_report_graph(const char *cmd, const char *item, const ssync_error *e,
                      const ssync_graph_failure *f);

#endif
