/* A plan's or a sync run's report: a JSON document (what `--json` prints), rendered as the
 * stdout table, the text file, the JSON file, item by item. A renderer is one entry of a
 * table keyed by the file name's extension, so an HTML report is one more function. */
#ifndef SSYNC_CLI_REPORT_H
#define SSYNC_CLI_REPORT_H

#include "common/errors.h"
#include "graph/graph.h"
#include "sync/plan.h"
#include "sync/run.h"

#include <jansson.h>
#include <stdio.h>
#include <time.h>

struct cli_report_meta {
    const char *command;
    const char *config_path;
    long long run_id; /* journal run; 0: none */
    time_t started, ended;
    int interrupted;
    size_t resumed;                 /* journal operations of earlier runs settled */
    const ssync_graph_stats *stats; /* NULL: no Graph figures */
    const json_t *problems;         /* run-level failures (an ignored CRL, ...); NULL: none */
    /* optional: the run's sources, an array of {"name", "type", "path", "items", "error"} (error
     * only for a source left out of the run); the report takes its own reference */
    json_t *sources;
};

/* A report: the document's head (command, run, times, counts, outcomes, Graph figures) and the
 * plan (and results) its items are made from one at a time when rendered, so that a report of
 * 100,000 certificates never holds 100,000 JSON objects. The plan and results must outlive it. */
typedef struct cli_run_report {
    json_t *head;
    const ssync_plan *plan;
    const ssync_item_result *results;
} cli_run_report;

/* results: NULL for a plan (items carry no outcome). NULL on memory. */
cli_run_report *cli_report_build(const struct cli_report_meta *m, const ssync_plan *p,
                                 const ssync_item_result *results);
void cli_report_free(cli_run_report *r);
/* counts.failed. */
size_t cli_report_failed(const cli_run_report *r);
size_t cli_report_count(const cli_run_report *r);
/* Item i as the document shows it (a new reference; NULL on memory). */
json_t *cli_report_item(const cli_run_report *r, size_t i);
/* The user an item is reported under: Entra's UPN, else the certificate's user, else "". */
const char *cli_report_upn(const ssync_plan_item *it);
/* Calls fn with each warning object, then (the other) with each item object in plan order (a new
 * reference each, released after the call). */
void cli_report_each_warning(const cli_run_report *r, void (*fn)(const json_t *w, void *ctx),
                             void *ctx);
void cli_report_each_item(const cli_run_report *r, void (*fn)(const json_t *it, void *ctx),
                          void *ctx);
/* The whole document (head, "warnings", "items"), what the JSON renderings write. */
json_t *cli_report_document(const cli_run_report *r);

/* "json" for a name ending in .json, "html" for .html or .htm (any case), else "text". */
const char *cli_report_format_for(const char *path);
/* cli_report_render.c: the report in that format (malloc'd, NUL-terminated); NULL for an unknown
 * format. */
char *cli_report_render(const cli_run_report *r, const char *format);
/* Text into HTML: through the output filter (cli_text.h), then the five characters that matter
 * (every HTML page the CLI writes uses it). */
void cli_html_esc(FILE *out, const char *text);
/* The self-contained HTML page (cli_report_html.c). */
void cli_report_render_html(const cli_run_report *r, FILE *out);
/* Renders by cli_report_format_for(path) straight into the file (written atomically, mode
 * 0640). */
ssync_code cli_report_write(const cli_run_report *r, const char *path, ssync_error *err);
/* stdout: one compact JSON line, or the table (one line per item and a totals line). */
void cli_report_print(const cli_run_report *r, int json, FILE *out);

/* "<dir of state_path>/reports" into out; -1 when it does not fit. */
int cli_report_dir(char *out, size_t size, const char *state_path);
/* "<dir>/sync-<run>-<yyyymmddThhmmssZ>.<ext>" into out; -1 when it does not fit. */
int cli_report_file_name(char *out, size_t size, const char *dir, const char *command,
                         long long run_id, time_t when, const char *ext);

#endif
