/* smimesync sync: carry out the plan (cli_plan.c builds it) through the library's write protocol
 * (sync/run.h: unfinished operations of killed runs settled, intents before writes, outcomes
 * after); this command lends it the log, the progress bar and Ctrl-C, then writes a report per
 * run and chooses the exit code. */
#include "cli.h"
#include "cli_log.h"
#include "cli_journal.h"
#include "cli_plan.h"
#include "cli_progress.h"
#include "cli_report.h"
#include "cli_run_events.h"
#include "cli_run_metrics.h"
#include "cli_signal.h"
#include "cli_sources.h"

#include "common/fileio.h"
#include "record/export.h"
#include "source/source.h"
#include "sync/caps.h"
#include "sync/config.h"
#include "sync/connect.h"
#include "sync/plan.h"
#include "sync/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One run's state, from the journal's run to the exit code. */
struct sync_run {
    struct cli_plan_run *r;
    struct cli_signal *sig;
    ssync_item_result *results; /* one per plan item */
    ssync_sync_summary sum;
};

static void progress_begin(void *ctx, size_t total)
{
    cli_progress_begin(((struct sync_run *)ctx)->r->progress, "write", total);
}

static void progress_update(void *ctx, size_t finished)
{
    cli_progress_update(((struct sync_run *)ctx)->r->progress, finished);
}

static void progress_end(void *ctx)
{
    cli_progress_end(((struct sync_run *)ctx)->r->progress);
}

static int cancelled(void *ctx)
{
    struct sync_run *s = ctx;
    return s->sig && cli_signal_received(s->sig);
}

/* The writes, through the library. CLI_EXIT_OK when they ran (see the results). */
static int run_sync(struct sync_run *s)
{
    struct cli_plan_run *r = s->r;
    ssync_exporter ex; /* the run loads the connector key */
    ssync_exporter_from_config(&ex, r->cfg, r->kras, NULL);
    /* each item is exported by the source that scanned it (with that source's KRA keys) */
    ssync_source *srcs[SSYNC_CFG_MAX_SOURCES + 1];
    size_t n_srcs = 0;
    for (size_t i = 0; i < r->n_sources; i++)
        if (r->sources[i].source)
            srcs[n_srcs++] = r->sources[i].source;
    const ssync_run_hooks hooks = {.log = cli_log_graph_fn,
                                   .log_ctx = r->log,
                                   .progress_begin = progress_begin,
                                   .progress = progress_update,
                                   .progress_end = progress_end,
                                   .cancelled = cancelled,
                                   .ctx = s};
    const ssync_sync_params prm = {
        .graph = r->graph,
        .journal = r->lock ? r->journal : NULL, /* no write without the one-writer lock */
        .source = r->source,
        .sources = srcs,
        .n_sources = n_srcs,
        .exporter = &ex,
        .connector_key = r->cfg->connector.public_key,
        .listing = cli_plan_target(r) ? NULL : r->listing,
        .workers = r->opt->workers,
        .max_in_flight =
            r->cfg->intune.max_in_flight > 0 ? (size_t)r->cfg->intune.max_in_flight : 0,
        .hooks = &hooks,
        .audit = r->audit};
    return ssync_sync_run(&prm, r->plan, s->results, &s->sum) == SSYNC_OK ? CLI_EXIT_OK
                                                                          : CLI_EXIT_FAILURE;
}

/* <dir of [state] path>/reports/sync-<run>-<time>.txt and .json */
static void write_run_reports(const struct sync_run *s, const cli_run_report *doc)
{
    const struct cli_plan_run *r = s->r;
    char dir[4096], path[4200];
    ssync_error e = {0};
    if (!s->sum.run_id || cli_report_dir(dir, sizeof dir, r->cfg->state.path) != 0)
        return;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "report directory %s: %s", dir, strerror(errno));
        return;
    }
    /* a directory others may write (or own) could swap a report for a link elsewhere */
    if (ssync_check_trusted_path(dir, "report directory", &e) != SSYNC_OK) {
        cli_log_error(r->log, NULL, &e);
        return;
    }
    static const char *const exts[] = {"txt", "json"};
    for (size_t k = 0; k < 2; k++) {
        if (cli_report_file_name(path, sizeof path, dir, r->cmd, (long long)s->sum.run_id,
                                 r->started, exts[k]) != 0)
            continue;
        if (cli_report_write(doc, path, &e) != SSYNC_OK)
            cli_log_error(r->log, "report", &e);
        else
            cli_log_msg(r->log, SSYNC_LOG_INFO, "report written to %s", path);
    }
}

static int exit_code(const ssync_sync_summary *sum, int fatal, size_t failed, size_t count)
{
    if (sum->interrupted)
        return sum->done > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
    if (failed == 0 && !fatal)
        return CLI_EXIT_OK;
    if (fatal)
        return sum->done > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
    return failed < count ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
}

/* 1 when every item of src was recovered and its write (if any) went through */
static int source_clean(const struct cli_plan_run *r, const struct sync_run *s,
                        const ssync_source *src)
{
    for (size_t i = 0; i < r->plan->count; i++)
        if (ssync_source_owns(src, &r->plan->items[i]) &&
            (r->plan->items[i].code != SSYNC_OK || s->results[i].error))
            return 0;
    return 1;
}

/* The circuit breaker: a plan beyond a change cap writes nothing (the plan is shown). */
static int caps_hold(struct cli_plan_run *r)
{
    ssync_error e = {0};
    const ssync_cap *rm = &r->cfg->policy.max_removals, *up = &r->cfg->policy.max_uploads;
    if (ssync_caps_check(r->plan, rm, up, NULL, NULL, &e) == SSYNC_OK)
        return 1;
    if (r->opt->allow_large_change) {
        cli_log_msg(r->log, SSYNC_LOG_WARN, "%s: let through (--allow-large-change)", e.msg);
        return 1;
    }
    cli_run_report *doc = cli_plan_report(r, NULL, 0, 0, 0);
    cli_report_free(doc);
    cli_log_event(r->log, SSYNC_LOG_ERROR, &(struct cli_event_fields){.event = CLI_EV_CAP_TRIPPED},
                  "%s: nothing written (check the CRLs and the filters; --allow-large-change lets "
                  "one run through)",
                  e.msg);
    return 0;
}

static int sync_planned(struct cli_plan_run *r, struct cli_signal *sig, double started)
{
    if (!caps_hold(r)) {
        cli_run_metrics_write(r, NULL, started, CLI_EXIT_CAP);
        return CLI_EXIT_CAP;
    }
    size_t count = r->plan->count;
    struct sync_run s = {.r = r, .sig = sig};
    s.results = calloc(count ? count : 1, sizeof *s.results);
    if (!s.results) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    cli_run_events_started(r);
    /* a CRL ignored for its signature fails the run (its removals were not made), and so does
     * a source left out */
    int ran = run_sync(&s) == CLI_EXIT_OK;
    int fatal = !ran || r->crl_failed > 0 || r->sources_failed > 0;
    cli_run_events_items(r, s.results);
    if (!s.sum.interrupted && cancelled(&s))
        s.sum.interrupted = 1;
    cli_run_report *doc =
        cli_plan_report(r, s.results, (long long)s.sum.run_id, s.sum.interrupted, s.sum.resumed);
    size_t failed = doc ? cli_report_failed(doc) : count;
    if (doc)
        write_run_reports(&s, doc);
    cli_report_free(doc);
    if (s.sum.interrupted)
        cli_log_msg(r->log, SSYNC_LOG_ERROR,
                    "interrupted: %zu of %zu writes done; run sync again to finish", s.sum.done,
                    s.sum.planned);
    int rc = exit_code(&s.sum, fatal, failed, count);
    /* an incremental edb source starts after this run's requests next time: each source that
     * was read and whose items all went through (a broken source beside it does not hold it) */
    for (size_t i = 0;
         ran && !s.sum.interrupted && !r->crl_failed && r->journal && i < r->n_sources; i++) {
        ssync_error ce = {0};
        if (r->sources[i].source && source_clean(r, &s, r->sources[i].source) &&
            ssync_source_commit(r->sources[i].source, r->plan, &ce) != SSYNC_OK)
            cli_log_error(r->log, "journal", &ce);
    }
    cli_run_metrics_write(r, s.results, started, rc);
    ssync_item_results_free(s.results, count);
    return rc;
}

/* The sync command from parsed options; watch runs it once per arriving blob with its own signal
 * thread (outer: NULL starts one here). */
int cmd_sync_with(const struct cli_opts *o, struct cli_signal *outer)
{
    /* before any thread exists (libcurl, OpenSSL): they inherit the blocked signals */
    struct cli_signal own;
    struct cli_signal *sig = outer ? outer : cli_signal_start(&own) == 0 ? &own : NULL;
    struct cli_plan_run r = {.signals = sig, .writer = 1};
    double started = cli_run_metrics_now();
    int planned = 0;
    int rc = cli_plan_prepare(&r, o);
    if (rc == CLI_EXIT_OK && !r.cfg->state.path) {
        cli_log_msg(r.log, SSYNC_LOG_ERROR, "%s: [state] path is required for sync",
                    r.cfg->path ? r.cfg->path : "");
        rc = CLI_EXIT_FAILURE;
    } else if (rc == CLI_EXIT_OK) {
        rc = sync_planned(&r, sig, started); /* writes the metrics with its results */
        planned = 1;
    } else if (sig && cli_signal_received(sig)) {
        cli_log_msg(r.log, SSYNC_LOG_ERROR, "interrupted: no write done; run sync again to finish");
    }
    if (!planned) /* stopped before its writes: still a run */
        cli_run_metrics_write(&r, NULL, started, rc);
    cli_run_events_finished(&r, rc);
    /* the thread stops before the client it may cancel is freed */
    if (sig == &own) {
        cli_signal_stop(&own);
        r.signals = NULL;
    }
    cli_plan_release(&r);
    return rc;
}

int cmd_sync(int argc, char **argv)
{
    struct cli_opts o;
    int rc = cli_options_parse(&cli_sync_spec, argc, argv, &o, NULL);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;
    return cmd_sync_with(&o, NULL);
}
