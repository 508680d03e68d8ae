/* The CLI's one logger: every diagnostic line of a command goes through it, in text
 * ("smimesync CMD: warning: message"; errors keep the documented "smimesync CMD: message") or as
 * JSON lines ({"time","level","command","message"}) on stderr. The Graph client's log callback
 * is an adapter over it. No global state: each command keeps its struct cli_log in its frame. */
#ifndef SSYNC_CLI_LOG_H
#define SSYNC_CLI_LOG_H

#include "common/errors.h"
#include "graph/graph.h"

#include <stdio.h>

struct cli_progress;

struct cli_log {
    const char *cmd;
    int verbosity;                 /* highest ssync_log_level printed */
    int json;                      /* JSON lines instead of text */
    FILE *out;                     /* NULL: stderr */
    struct cli_progress *progress; /* erased before a line is printed (may be NULL) */
};

/* The level from [log] level, raised by --verbose (debug) or lowered by --quiet (errors only). */
int cli_log_level(int config_level, int verbose, int quiet);

void cli_log_msg(const struct cli_log *log, ssync_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error line for item (may be NULL) from e. */
void cli_log_error(const struct cli_log *log, const char *item, const ssync_error *e);
/* The ssync_log_fn for the Graph client (ctx: a struct cli_log). */
void cli_log_graph_fn(void *ctx, ssync_log_level level, const char *msg);
/* One line describing a Graph failure for the operator: status, Graph code, message and the
 * ids Microsoft support asks for. */
void cli_log_graph(const struct cli_log *log, const char *item, const ssync_error *e,
                   const ssync_graph_failure *f);
/* The same line at error level, before (or without) a configured logger. */
void cli_report_graph(const char *cmd, const char *item, const ssync_error *e,
                      const ssync_graph_failure *f);

/* Formats one line (with its '\n') into buf; returns the length it needs, as snprintf. Pure:
 * the time is given (seconds and milliseconds, UTC). */
int cli_log_format(char *buf, size_t size, int json, const char *cmd, ssync_log_level level,
                   const char *msg, long long epoch_s, int ms);

#endif
