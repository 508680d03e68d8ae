/* What plan and sync share: options, configuration, the desired and actual state, the diff,
 * and the report. */
#include "cli_plan.h"

#include "cli.h"
#include "cli_graph.h"
#include "cli_util.h"

#include "config.h"
#include "plan.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(const char *cmd, FILE *out)
{
    fprintf(out,
            "Usage: smimesync %s --config FILE [--json] [--verbose]\n"
            "%s\n\n"
            "Options:\n"
            "  --config FILE   the configuration file (see docs/configuration.md)\n"
            "  --json          print one JSON object (counts and items) instead of a table\n"
            "  -v, --verbose   also print the Graph client's info messages\n"
            "  -h, --help      show this help\n\n",
            cmd,
            strcmp(cmd, "sync") == 0
                ? "Bring Intune to the desired state: upload the archived keys of the source\n"
                  "that are missing, remove the revoked ones (and those dropped by policy).\n"
                  "Every write is recorded in the [state] journal before and after."
                : "Show what 'smimesync sync' would do: one line per certificate of the\n"
                  "source with its action (upload, remove, keep, skip) and the reason.");
    cli_print_exit_codes(out);
}

int cli_plan_prepare(struct cli_plan_run *r, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "c:jvh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config_path = optarg;
            break;
        case 'j':
            r->json = 1;
            break;
        case 'v':
            r->verbose = 1;
            break;
        case 'h':
            usage(r->cmd, stdout);
            return -1;
        default:
            usage(r->cmd, stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!config_path) {
        cli_err(r->cmd, "--config is required");
        return CLI_EXIT_USAGE;
    }
    if (optind < argc) {
        cli_err(r->cmd, "unexpected argument '%s'", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    r->cfg = calloc(1, sizeof *r->cfg);
    r->plan = calloc(1, sizeof *r->plan);
    r->listing = calloc(1, sizeof *r->listing);
    r->log = calloc(1, sizeof *r->log);
    if (!r->cfg || !r->plan || !r->listing || !r->log) {
        cli_err(r->cmd, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    r->log->cmd = r->cmd;
    r->log->verbosity = r->verbose ? SSYNC_LOG_INFO : SSYNC_LOG_WARN;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    r->curl_inited = 1;

    ssync_error e = {0};
    if (ssync_config_load(config_path, r->cfg, &e) != SSYNC_OK) {
        cli_report(r->cmd, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    if (r->cfg->source.type != SSYNC_SOURCE_BLOBS) {
        cli_err(r->cmd, "%s: [source] type %s is not supported yet (only blobs)", config_path,
                r->cfg->source.type == SSYNC_SOURCE_EDB ? "edb" : "pfx");
        return CLI_EXIT_FAILURE;
    }
    if (ssync_plan_load_kras(r->cfg, &r->kras, &e) != SSYNC_OK) {
        cli_report(r->cmd, NULL, &e);
        return CLI_EXIT_FAILURE;
    }
    X509_CRL *crls[SSYNC_CFG_MAX_LIST] = {0};
    size_t n_crls = 0;
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < r->cfg->source.crl.n; i++) {
        if (ssync_crl_load(r->cfg->source.crl.v[i], &crls[n_crls], &e) != SSYNC_OK) {
            cli_report(r->cmd, NULL, &e);
            rc = CLI_EXIT_FAILURE;
            break;
        }
        n_crls++;
    }
    if (rc == CLI_EXIT_OK &&
        ssync_plan_scan(r->cfg, r->kras, crls, n_crls, NULL, r->plan, &e) != SSYNC_OK) {
        cli_report(r->cmd, NULL, &e);
        rc = CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < n_crls; i++)
        X509_CRL_free(crls[i]);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (!(r->graph = cli_graph_open(r->cfg, r->log)))
        return CLI_EXIT_FAILURE;
    if (ssync_plan_resolve(r->graph, r->cfg, NULL, NULL, r->plan, r->listing, &e) != SSYNC_OK) {
        cli_report_graph(r->cmd, NULL, &e, ssync_graph_last_failure(r->graph));
        return CLI_EXIT_FAILURE;
    }
    ssync_plan_policy pol;
    ssync_plan_policy_from_config(r->cfg, &pol);
    ssync_plan_decide(r->plan, r->listing, &pol, time(NULL));
    return CLI_EXIT_OK;
}

void cli_plan_release(struct cli_plan_run *r)
{
    ssync_graph_free(r->graph);
    if (r->curl_inited)
        curl_global_cleanup();
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
}

static const char *item_upn(const ssync_plan_item *it)
{
    return it->upn ? it->upn : it->cert_upn ? it->cert_upn : "";
}

static const char *item_error(const ssync_plan_item *it, const char *const *op_errors, size_t i)
{
    if (it->code != SSYNC_OK)
        return it->error;
    return op_errors ? op_errors[i] : NULL;
}

int cli_plan_report(const struct cli_plan_run *r, const char *const *op_errors)
{
    const ssync_plan *p = r->plan;
    ssync_plan_counts n = {0};
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        if (item_error(it, op_errors, i)) {
            n.failed++;
            continue;
        }
        switch (it->action) {
        case SSYNC_ACT_UPLOAD:
            n.upload++;
            break;
        case SSYNC_ACT_REMOVE:
            n.remove++;
            break;
        case SSYNC_ACT_KEEP:
            n.keep++;
            break;
        case SSYNC_ACT_SKIP:
            n.skip++;
            break;
        }
    }
    if (r->json) {
        json_t *items = json_array();
        for (size_t i = 0; i < p->count; i++) {
            const ssync_plan_item *it = &p->items[i];
            const char *error = item_error(it, op_errors, i);
            json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "thumbprint", it->thumbprint,
                                  "userPrincipalName", item_upn(it), "action",
                                  ssync_plan_action_name(it->action), "reason", it->reason, "file",
                                  it->path ? it->path : "");
            if (o && op_errors)
                json_object_set_new(o, "outcome", json_string(error ? "failed" : "done"));
            if (o && error)
                json_object_set_new(o, "error", json_string(error));
            json_array_append_new(items, o);
        }
        json_t *root = json_pack("{s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "counts", "upload",
                                 (json_int_t)n.upload, "remove", (json_int_t)n.remove, "keep",
                                 (json_int_t)n.keep, "skip", (json_int_t)n.skip, "failed",
                                 (json_int_t)n.failed, "items", items);
        if (!root || json_dumpf(root, stdout, JSON_COMPACT) != 0) {
            cli_err(r->cmd, "cannot write the JSON report");
            json_decref(root);
            return 0;
        }
        putchar('\n');
        json_decref(root);
    } else {
        for (size_t i = 0; i < p->count; i++) {
            const ssync_plan_item *it = &p->items[i];
            const char *error = item_error(it, op_errors, i);
            printf("%-6s %-40s %-36s %s%s%s%s\n", ssync_plan_action_name(it->action),
                   it->thumbprint[0] ? it->thumbprint : "-", item_upn(it), it->reason,
                   op_errors ? (error ? " [failed]" : " [done]") : "", error ? ": " : "",
                   error ? error : "");
        }
        printf("%s: %zu upload, %zu remove, %zu keep, %zu skip, %zu failed\n", r->cmd, n.upload,
               n.remove, n.keep, n.skip, n.failed);
    }
    fflush(stdout);
    return (int)n.failed;
}
