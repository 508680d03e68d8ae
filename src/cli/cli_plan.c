/* What plan, sync and status share: options, configuration, logger, journal, the desired and
 * actual state, the diff, and the report. */
#include "cli_plan.h"

#include "cli.h"
#include "cli_graph.h"
#include "cli_log.h"
#include "cli_progress.h"
#include "cli_report.h"
#include "cli_signal.h"
#include "cli_util.h"

#include "sync/config.h"
#include "journal/journal.h"

#include <curl/curl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_REQUEST_ID = 256,
    OPT_SERIAL,
    OPT_USER,
    OPT_REPORT,
    OPT_LOG_FORMAT,
    OPT_PROGRESS,
    OPT_NO_PROGRESS,
    OPT_REFRESH_USERS,
    OPT_WORKERS
};

static const char *default_summary(const char *cmd)
{
    if (strcmp(cmd, "sync") == 0)
        return "Bring Intune to the desired state: upload the archived keys of the source\n"
               "that are missing, remove the revoked ones (and those dropped by policy).\n"
               "Every write is recorded in the [state] journal before and after; a run that\n"
               "was interrupted is finished by the next one. Ctrl-C stops it cleanly.";
    return "Show what 'smimesync sync' would do: one line per certificate of the\n"
           "source with its action (upload, remove, keep, skip) and the reason.";
}

static void usage(const struct cli_plan_run *r, FILE *out)
{
    fprintf(out,
            "Usage: smimesync %s --config FILE [OPTIONS]\n"
            "%s\n\n"
            "Options:\n"
            "  --config FILE         the configuration file (see docs/configuration.md)\n",
            r->cmd, r->summary ? r->summary : default_summary(r->cmd));
    if (r->targeted)
        fprintf(out, "  --request-id N        only the certificate of this CA request id\n"
                     "  --serial HEX          only the certificate with this serial number\n"
                     "  --user UPN            only the certificates of this user\n"
                     "                        (several of them: every one must match; Intune\n"
                     "                        is then read per user, not listed whole)\n");
    fprintf(out,
            "  --json                print one JSON object (counts and items) instead of a table\n"
            "  --report FILE         also write the report to FILE: JSON for *.json, a\n"
            "                        self-contained HTML page for *.html, else text\n"
            "  --refresh-users       ask Entra ID again about every user (forget the cached\n"
            "                        lookups of [state] user_cache_hours)\n"
            "  --log-format FMT      text or json log lines on stderr (default: [log] format)\n"
            "  -v, --verbose         also print debug messages\n"
            "  -q, --quiet           print only errors on stderr, no progress bar\n"
            "  --progress            draw the progress bar on a terminal even with -q\n"
            "  --no-progress         never draw the progress bar\n"
            "  --workers N           sync: recovery threads, 1-256 (default: one per CPU)\n"
            "  -h, --help            show this help\n\n");
    cli_print_exit_codes(out);
}

static int valid_serial(const char *s)
{
    size_t digits = 0;
    for (; *s; s++) {
        if (*s == ':')
            continue;
        if (!strchr("0123456789abcdefABCDEF", *s))
            return 0;
        digits++;
    }
    return digits > 0;
}

/* Returns CLI_EXIT_OK, -1 after --help, or CLI_EXIT_USAGE (reported). */
static int parse_options(struct cli_plan_run *r, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"request-id", required_argument, NULL, OPT_REQUEST_ID},
        {"serial", required_argument, NULL, OPT_SERIAL},
        {"user", required_argument, NULL, OPT_USER},
        {"report", required_argument, NULL, OPT_REPORT},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {"refresh-users", no_argument, NULL, OPT_REFRESH_USERS},
        {"workers", required_argument, NULL, OPT_WORKERS},
        {NULL, 0, NULL, 0},
    };
    r->progress_flag = -1;
    r->log_json = -1;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:jvqh", opts, NULL)) != -1) {
        int is_target = c == OPT_REQUEST_ID || c == OPT_SERIAL || c == OPT_USER;
        if (is_target && !r->targeted) {
            cli_err(r->cmd, "%s takes no --request-id, --serial or --user", r->cmd);
            return CLI_EXIT_USAGE;
        }
        switch (c) {
        case 'c':
            r->config_path = optarg;
            break;
        case 'j':
            r->json = 1;
            break;
        case 'v':
            r->verbose = 1;
            break;
        case 'q':
            r->quiet = 1;
            break;
        case 'h':
            usage(r, stdout);
            return -1;
        case OPT_REQUEST_ID:
            if (!*optarg || strspn(optarg, "0123456789") != strlen(optarg) || strlen(optarg) > 18) {
                cli_err(r->cmd, "--request-id '%s': not a decimal request id", optarg);
                return CLI_EXIT_USAGE;
            }
            r->target.request_id = optarg;
            break;
        case OPT_SERIAL:
            if (!valid_serial(optarg)) {
                cli_err(r->cmd, "--serial '%s': not a hexadecimal serial number", optarg);
                return CLI_EXIT_USAGE;
            }
            r->target.serial = optarg;
            break;
        case OPT_USER:
            if (!*optarg || strchr(optarg, '\'') || strchr(optarg, ' ')) {
                cli_err(r->cmd, "--user '%s': not a userPrincipalName", optarg);
                return CLI_EXIT_USAGE;
            }
            r->target.user = optarg;
            break;
        case OPT_REPORT:
            r->report_path = optarg;
            break;
        case OPT_WORKERS: {
            char *end = NULL;
            long w = strtol(optarg, &end, 10);
            if (!*optarg || *end || w < 1 || w > 256) {
                cli_err(r->cmd, "--workers: expected a whole number from 1 to 256, got '%s'",
                        optarg);
                return CLI_EXIT_USAGE;
            }
            r->workers = (unsigned)w;
            break;
        }
        case OPT_LOG_FORMAT:
            if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
                cli_err(r->cmd, "--log-format '%s': use text or json", optarg);
                return CLI_EXIT_USAGE;
            }
            r->log_json = strcmp(optarg, "json") == 0;
            break;
        case OPT_PROGRESS:
            r->progress_flag = 1;
            break;
        case OPT_NO_PROGRESS:
            r->progress_flag = 0;
            break;
        case OPT_REFRESH_USERS:
            r->refresh_users = 1;
            break;
        default:
            usage(r, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!r->config_path) {
        cli_err(r->cmd, "--config is required");
        return CLI_EXIT_USAGE;
    }
    if (optind < argc) {
        cli_err(r->cmd, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

const ssync_plan_target *cli_plan_target(const struct cli_plan_run *r)
{
    return ssync_plan_target_empty(&r->target) ? NULL : &r->target;
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

static int scan(struct cli_plan_run *r)
{
    ssync_error e = {0};
    X509_CRL *crls[SSYNC_CFG_MAX_LIST] = {0};
    size_t n_crls = 0;
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < r->cfg->source.crl.n; i++) {
        if (ssync_crl_load(r->cfg->source.crl.v[i], &crls[n_crls], &e) != SSYNC_OK) {
            cli_log_error(r->log, NULL, &e);
            rc = CLI_EXIT_FAILURE;
            break;
        }
        n_crls++;
    }
    ssync_source_env env = {r->kras, crls, n_crls, r->journal};
    if (rc == CLI_EXIT_OK &&
        (ssync_source_open(&r->cfg->source, &env, &r->source, &e) != SSYNC_OK ||
         ssync_plan_scan(r->source, cli_plan_target(r), r->plan, &e) != SSYNC_OK)) {
        cli_log_error(r->log, r->cfg->path, &e);
        rc = CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n_crls; i++)
        X509_CRL_free(crls[i]);
    return rc;
}

int cli_plan_prepare(struct cli_plan_run *r, int argc, char **argv)
{
    r->started = time(NULL);
    int rc = parse_options(r, argc, argv);
    if (rc != CLI_EXIT_OK)
        return rc;
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
    r->log->verbosity = cli_log_level(SSYNC_LOG_INFO, r->verbose, r->quiet);
    r->log->json = r->log_json == 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r->curl_inited = 1;

    ssync_error e = {0};
    if (ssync_config_load(r->config_path, r->cfg, &e) != SSYNC_OK) {
        cli_log_error(r->log, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    r->log->verbosity = cli_log_level(r->cfg->log.level, r->verbose, r->quiet);
    r->log->json = r->log_json >= 0 ? r->log_json : r->cfg->log.json;
    cli_progress_init(
        r->progress,
        cli_progress_wanted(r->progress_flag, r->quiet, r->log->json, isatty(STDERR_FILENO)),
        stderr);
    r->log->progress = r->progress;
    /* the library answers for source types it cannot read */
    if (ssync_plan_load_kras(r->cfg, &r->kras, &e) != SSYNC_OK) {
        cli_log_error(r->log, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    open_journal(r); /* before the scan: it keeps the scan cache */
    if ((rc = scan(r)) != CLI_EXIT_OK)
        return rc;
    if (r->journal && r->refresh_users &&
        ssync_journal_user_prune(r->journal, 1e300, &e) != SSYNC_OK)
        cli_log_msg(r->log, SSYNC_LOG_WARN, "[state] path: %s (user cache kept)", e.msg);
    if (!(r->graph = cli_graph_open(r->cfg, r->log)))
        return CLI_EXIT_FAILURE;
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
    ssync_source_close(r->source);
    r->source = NULL;
    ssync_graph_free(r->graph);
    r->graph = NULL;
    if (r->curl_inited)
        curl_global_cleanup();
    ssync_journal_close(r->journal);
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

cli_run_report *cli_plan_report(const struct cli_plan_run *r, const struct cli_item_result *results,
                                long long run_id, int interrupted, size_t resumed)
{
    ssync_graph_stats stats;
    ssync_graph_get_stats(r->graph, &stats);
    char abs[PATH_MAX];
    struct cli_report_meta m = {
        .command = r->cmd,
        .config_path = realpath(r->config_path, abs) ? abs : r->config_path,
        .run_id = run_id,
        .started = r->started,
        .ended = time(NULL),
        .interrupted = interrupted,
        .resumed = resumed,
        .stats = r->graph ? &stats : NULL,
    };
    cli_run_report *doc = cli_report_build(&m, r->plan, results);
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
    cli_report_print(doc, r->json, stdout);
    ssync_error e = {0};
    if (r->report_path && cli_report_write(doc, r->report_path, &e) != SSYNC_OK)
        cli_log_error(r->log, "--report", &e);
    return doc;
}
