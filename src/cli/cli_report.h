/* A plan's or a sync run's report. It is built once as a JSON document (what `--json` prints),
 * then rendered: the stdout table, the text file, the JSON file. A renderer is one entry of a
 * table keyed by the file name's extension, so an HTML report is one more function. */
#ifndef SSYNC_CLI_REPORT_H
#define SSYNC_CLI_REPORT_H

#include "errors.h"
#include "graph.h"
#include "plan.h"

#include <jansson.h>
#include <stdio.h>
#include <time.h>

/* What happened to one plan item in a sync (one entry per item; plans have none). */
struct cli_item_result {
    char *error;         /* NULL: done, or nothing to do (malloc'd) */
    char request_id[64]; /* Graph's request-id of the deciding request; "" when none */
    int wrote;           /* its write was carried out */
    int cancelled;       /* its write was not carried out: the run was interrupted */
};

struct cli_report_meta {
    const char *command;
    const char *config_path;
    long long run_id; /* journal run; 0: none */
    time_t started, ended;
    int interrupted;
    size_t resumed;                 /* journal operations of earlier runs settled */
    const ssync_graph_stats *stats; /* NULL: no Graph figures */
};

/* results: NULL for a plan (items carry no outcome). NULL on memory. */
json_t *cli_report_build(const struct cli_report_meta *m, const ssync_plan *p,
                         const struct cli_item_result *results);
/* counts.failed of a built document. */
size_t cli_report_failed(const json_t *doc);

/* "json" for a name ending in .json, "html" for .html or .htm (any case), else "text". */
const char *cli_report_format_for(const char *path);
/* The document in that format (malloc'd, NUL-terminated); NULL for an unknown format. */
char *cli_report_render(const json_t *doc, const char *format);
/* The self-contained HTML page (cli_report_html.c). */
void cli_report_render_html(const json_t *doc, FILE *out);
/* Renders by cli_report_format_for(path) and writes atomically with mode 0640. */
ssync_code cli_report_write(const json_t *doc, const char *path, ssync_error *err);
/* stdout: one compact JSON line, or the table (one line per item and a totals line). */
void cli_report_print(const json_t *doc, int json, FILE *out);

/* "<dir of state_path>/reports" into out; -1 when it does not fit. */
int cli_report_dir(char *out, size_t size, const char *state_path);
/* "<dir>/sync-<run>-<yyyymmddThhmmssZ>.<ext>" into out; -1 when it does not fit. */
int cli_report_file_name(char *out, size_t size, const char *dir, const char *command,
                         long long run_id, time_t when, const char *ext);

#endif
