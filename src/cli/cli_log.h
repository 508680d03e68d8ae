/* The CLI's one logger: every diagnostic line of a command goes through it, in text
 * ("smimesync CMD: warning: message"; errors keep the documented "smimesync CMD: message") or as
 * JSON lines ({"time","level","command","message"}) on stderr, or as native journal entries
 * under systemd (cli_journal.h). The Graph client's log callback
 * is an adapter over it. No global state: each command keeps its struct cli_log in its frame. */
#ifndef SSYNC_CLI_LOG_H
#define SSYNC_CLI_LOG_H

#include "cli_journal.h"

#include "common/errors.h"
#include "graph/graph.h"

#include <stdio.h>

struct cli_progress;

struct cli_log {
    const char *cmd;
    int verbosity;                 /* highest ssync_log_level printed */
    int json;                      /* JSON lines instead of text */
    int journal;                   /* native journal entries (cli_journal.h) instead of either */
    FILE *out;                     /* NULL: stderr */
    struct cli_progress *progress; /* erased before a line is printed (may be NULL) */
};

/* The level from [log] level, raised by --verbose (debug) or lowered by --quiet (errors only). */
int cli_log_level(int config_level, int verbose, int quiet);

void cli_log_msg(const struct cli_log *log, ssync_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A line that is an event (cli_journal.h): in the journal with its MESSAGE_ID and fields, else
 * printed as any line. */
void cli_log_event(const struct cli_log *log, ssync_log_level level,
                   const struct cli_event_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Whether a command logs to the journal: never when --log-format was given (opt_json >= 0) or
 * [log] format is text or json; always with [log] format = journal; otherwise when systemd
 * connected stderr to the journal. */
int cli_log_use_journal(int opt_json, int cfg_journal);
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
