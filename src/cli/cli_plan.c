/* What plan, sync and status share: options, configuration, logger, journal, the desired and
 * actual state, the diff, and the report. */
#include "cli_plan.h"

#include "cli.h"
#include "cli_log.h"
#include "cli_progress.h"
#include "cli_report.h"
#include "cli_signal.h"
#include "cli_sources.h"
#include "cli_util.h"

#include "sync/config.h"
#include "journal/lock.h"
#include "sync/connect.h"
#include "journal/journal.h"
#include "pki/trust.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* plan's options; sync takes them and --no-wait */
#define PLAN_OPTIONS                                                                               \
    CLI_USE(CLI_OPT_CONFIG, NULL), CLI_USE(CLI_OPT_REQUEST_ID, NULL),                              \
        CLI_USE(CLI_OPT_SERIAL, NULL), CLI_USE(CLI_OPT_TARGET_USER, NULL),                         \
        CLI_USE(CLI_OPT_SOURCE, NULL), CLI_USE(CLI_OPT_JSON, NULL), CLI_USE(CLI_OPT_REPORT, NULL), \
        CLI_USE(CLI_OPT_REFRESH_USERS, NULL), CLI_USE(CLI_OPT_LOG_FORMAT, NULL),                   \
        CLI_USE(CLI_OPT_VERBOSE, NULL),                                                            \
        CLI_USE(CLI_OPT_QUIET, "print only errors on stderr, no progress bar"),                    \
        CLI_USE(CLI_OPT_PROGRESS, NULL), CLI_USE(CLI_OPT_NO_PROGRESS, NULL),                       \
        CLI_USE(CLI_OPT_WORKERS, "sync: recovery threads, 1-256 (default: one per CPU)")

static const struct cli_option plan_options[] = {PLAN_OPTIONS};
static const struct cli_option sync_options[] = {PLAN_OPTIONS, CLI_USE(CLI_OPT_NO_WAIT, NULL)};

const struct cli_spec cli_plan_spec = {
    .name = "plan",
    .synopsis = "--config FILE [OPTIONS]",
    .summary = "Show what 'smimesync sync' would do: one line per certificate of the\n"
               "source with its action (upload, remove, keep, skip) and the reason.",
    .options = CLI_SPEC_OPTIONS(plan_options),
    .max_args = 0,
};

const struct cli_spec cli_sync_spec = {
    .name = "sync",
    .synopsis = "--config FILE [OPTIONS]",
    .summary = "Bring Intune to the desired state: upload the archived keys of the source\n"
               "that are missing, remove the revoked ones (and those dropped by policy).\n"
               "Every write is recorded in the [state] journal before and after; a run that\n"
               "was interrupted is finished by the next one. Ctrl-C stops it cleanly.",
    .options = CLI_SPEC_OPTIONS(sync_options),
    .max_args = 0,
};

const ssync_plan_target *cli_plan_target(const struct cli_plan_run *r)
{
    return ssync_plan_target_empty(&r->opt->target) ? NULL : &r->opt->target;
}

/* The journal is needed by sync (checked there) and optional for the others (user cache). */
static void open_journal(struct cli_plan_run *r)
{
    if (!r->cfg->state.path)
        return;
    ssync_error e = {0};
    if (ssync_journal_open(r->cfg->state.path, &r->journal, &e) == SSYNC_OK)
        return;
    r->journal = NULL;
    r->journal_failed = 1;
    int fatal = strcmp(r->cmd, "sync") == 0;
    cli_log_msg(r->log, fatal ? SSYNC_LOG_ERROR : SSYNC_LOG_WARN, "[state] path: %s%s", e.msg,
                fatal ? "" : " (going on without the journal)");
}

static void lock_waiting(void *ctx, pid_t holder)
{
    struct cli_plan_run *r = ctx;
    cli_log_msg(r->log, SSYNC_LOG_WARN,
                "another run (pid %ld) holds the state lock: waiting for it to end%s", (long)holder,
                r->cfg->state.lock_wait > 0 ? " ([state] lock_wait)" : "");
}

static int lock_cancelled(void *ctx)
{
    struct cli_plan_run *r = ctx;
    return r->signals && cli_signal_received(r->signals);
}

/* One writer: a writing run holds the lock beside the journal from before its plan to its end,
 * so two runs never plan and send the same writes. */
static int take_lock(struct cli_plan_run *r)
{
    if (!r->writer || !r->cfg->state.path)
        return CLI_EXIT_OK;
    ssync_error e = {0};
    ssync_lock_wait w = {.seconds = r->opt->no_wait ? 0 : r->cfg->state.lock_wait,
                         .waiting = lock_waiting,
                         .cancelled = lock_cancelled,
                         .ctx = r};
    ssync_code rc = ssync_lock_take(r->cfg->state.path, &w, &r->lock, &e);
    if (rc == SSYNC_OK)
        return CLI_EXIT_OK;
    /* a state directory that cannot hold the lock cannot hold the journal either: the run goes
     * on to report its plan, and makes no write (cmd_sync gives the run no journal) */
    if (rc == SSYNC_ERR_BUSY)
        cli_log_error(r->log, NULL, &e);
    else
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "[state] path: %s", e.msg);
    return rc == SSYNC_ERR_BUSY        ? CLI_EXIT_BUSY
           : rc == SSYNC_ERR_CANCELLED ? CLI_EXIT_FAILURE
                                       : CLI_EXIT_OK;
}

int cli_plan_prepare(struct cli_plan_run *r, const struct cli_opts *o)
{
    r->started = time(NULL);
    r->cmd = o->cmd;
    r->opt = o;
    int rc;
    r->cfg = calloc(1, sizeof *r->cfg);
    r->plan = calloc(1, sizeof *r->plan);
    r->listing = calloc(1, sizeof *r->listing);
    r->log = calloc(1, sizeof *r->log);
    r->progress = calloc(1, sizeof *r->progress);
    if (!r->cfg || !r->plan || !r->listing || !r->log || !r->progress) {
        cli_err(r->cmd, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    r->log->cmd = r->cmd;
    r->log->verbosity = cli_log_level(SSYNC_LOG_INFO, o->verbose, o->quiet);
    r->log->json = o->log_json == 1;

    ssync_error e = {0};
    if (ssync_config_load(o->config, r->cfg, &e) != SSYNC_OK) {
        cli_log_error(r->log, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    r->log->verbosity = cli_log_level(r->cfg->log.level, o->verbose, o->quiet);
    r->log->json = o->log_json >= 0 ? o->log_json : r->cfg->log.json;
    cli_progress_init(
        r->progress,
        cli_progress_wanted(o->progress, o->quiet, r->log->json, isatty(STDERR_FILENO)), stderr);
    r->log->progress = r->progress;
    if ((rc = take_lock(r)) != CLI_EXIT_OK)
        return rc;
    /* the library answers for source types it cannot read; sources may hold their own keys
     * (kra_key), then [kra] is optional */
    if ((r->cfg->kra.key.n > 0 || (!cli_sources_named(r) && r->cfg->source.kra.key.n == 0)) &&
        ssync_kra_set_open(&r->cfg->kra, NULL, NULL, &r->kras, &e) != SSYNC_OK) {
        cli_log_error(r->log, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    open_journal(r); /* before the scan: it keeps the scan cache */
    if ((rc = cli_sources_scan(r, cli_plan_target(r))) != CLI_EXIT_OK)
        return rc;
    if (r->journal && o->refresh_users &&
        ssync_journal_user_prune(r->journal, 1e300, &e) != SSYNC_OK)
        cli_log_msg(r->log, SSYNC_LOG_WARN, "[state] path: %s (user cache kept)", e.msg);
    if (ssync_graph_open(&r->cfg->intune, r->cfg->path, cli_log_graph_fn, r->log, &r->graph, &e) !=
        SSYNC_OK) {
        cli_log_error(r->log, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    if (r->signals)
        cli_signal_attach(r->signals, r->graph);
    if (ssync_plan_resolve(r->graph, r->cfg, cli_plan_target(r), r->journal, r->plan, r->listing,
                           &e) != SSYNC_OK) {
        cli_log_graph(r->log, NULL, &e, ssync_graph_last_failure(r->graph));
        return CLI_EXIT_FAILURE;
    }
    ssync_plan_policy pol;
    ssync_plan_policy_from_config(r->cfg, &pol);
    ssync_plan_decide(r->plan, r->listing, &pol, time(NULL));
    return CLI_EXIT_OK;
}

void cli_plan_release(struct cli_plan_run *r)
{
    if (r->signals)
        cli_signal_attach(r->signals, NULL);
    if (r->progress)
        cli_progress_end(r->progress);
    cli_sources_free(r);
    json_decref(r->problems);
    r->problems = NULL;
    ssync_graph_free(r->graph);
    r->graph = NULL;
    ssync_journal_close(r->journal);
    ssync_lock_release(r->lock); /* after the journal's last write */
    r->lock = NULL;
    ssync_kra_set_free(r->kras);
    if (r->plan)
        ssync_plan_free(r->plan);
    if (r->listing)
        ssync_pfx_list_free(r->listing);
    if (r->cfg)
        ssync_config_free(r->cfg);
    free(r->plan);
    free(r->listing);
    free(r->cfg);
    free(r->log);
    free(r->progress);
}

cli_run_report *cli_plan_report(const struct cli_plan_run *r, const ssync_item_result *results,
                                long long run_id, int interrupted, size_t resumed)
{
    ssync_graph_stats stats;
    ssync_graph_get_stats(r->graph, &stats);
    char abs[PATH_MAX];
    struct cli_report_meta m = {
        .command = r->cmd,
        .config_path = realpath(r->opt->config, abs) ? abs : r->opt->config,
        .run_id = run_id,
        .started = r->started,
        .ended = time(NULL),
        .interrupted = interrupted,
        .resumed = resumed,
        .stats = r->graph ? &stats : NULL,
        .sources = cli_sources_json(r),
        .problems = r->problems,
    };
    cli_run_report *doc = cli_report_build(&m, r->plan, results);
    json_decref(m.sources);
    if (!doc) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "out of memory building the report");
        return NULL;
    }
    for (size_t i = 0; i < r->plan->count; i++) {
        const ssync_plan_item *it = &r->plan->items[i];
        if (ssync_has_text(it->warning))
            cli_log_msg(r->log, SSYNC_LOG_WARN, "%s (%s): %s", it->thumbprint,
                        it->upn        ? it->upn
                        : it->cert_upn ? it->cert_upn
                                       : "-",
                        it->warning);
    }
    cli_report_print(doc, r->opt->json, stdout);
    ssync_error e = {0};
    if (r->opt->report && cli_report_write(doc, r->opt->report, &e) != SSYNC_OK)
        cli_log_error(r->log, "--report", &e);
    return doc;
}
