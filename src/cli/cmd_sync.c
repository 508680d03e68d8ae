/* smimesync sync: carry out the plan (cli_plan.c builds it): create the missing records, delete
 * the revoked ones, with an intent in the journal before the writes and the outcomes after. */
#include "cli.h"
#include "cli_graph.h"
#include "cli_plan.h"
#include "cli_util.h"

#include "config.h"
#include "connector.h"
#include "exporter.h"
#include "journal.h"
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sync_op {
    size_t item;    /* index in the plan */
    int64_t op_id;  /* journal */
    json_t *record; /* CREATE body */
};

struct sync_ctx {
    const char *cmd;
    char **errors; /* per plan item: NULL done, else the error (malloc'd) */
    size_t done, failed;
};

static void on_done(void *ctx, ssync_graph_op *op)
{
    struct sync_ctx *sc = ctx;
    struct sync_op *so = op->user_data;
    if (op->result == SSYNC_OK) {
        sc->done++;
    } else {
        char line[1024];
        ssync_graph_failure_format(&op->detail, line, sizeof line);
        size_t len = strlen(op->err.msg) + strlen(line) + 4;
        char *msg = malloc(len);
        if (msg)
            snprintf(msg, len, "%s%s%s", op->err.msg, line[0] ? "; " : "", line);
        sc->errors[so->item] = msg ? msg : strdup("failed");
        sc->failed++;
    }
}

static char *dup_error(const ssync_error *e)
{
    return strdup(e->msg[0] ? e->msg : "failed");
}

/* Items with a write that did not run get an error, so the report counts them as failed. */
static void mark_unrun(const ssync_plan *p, char **errors, const char *why)
{
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        if (it->code == SSYNC_OK && !errors[i] &&
            (it->action == SSYNC_ACT_UPLOAD || it->action == SSYNC_ACT_REMOVE))
            errors[i] = strdup(why);
    }
}

static int run_sync(struct cli_plan_run *r, char **errors, size_t *done)
{
    const char *cmd = r->cmd;
    ssync_plan *p = r->plan;
    ssync_config *cfg = r->cfg;
    ssync_error e = {0};
    size_t nwrites = 0;
    for (size_t i = 0; i < p->count; i++)
        if (p->items[i].code == SSYNC_OK &&
            (p->items[i].action == SSYNC_ACT_UPLOAD || p->items[i].action == SSYNC_ACT_REMOVE))
            nwrites++;
    if (nwrites == 0)
        return CLI_EXIT_OK;

    EVP_PKEY *connector = NULL;
    if (nwrites && ssync_connector_load(cfg->connector.public_key, &connector, &e) != SSYNC_OK) {
        cli_report(cmd, "[connector] public_key", &e);
        mark_unrun(p, errors, "not carried out: the connector key cannot be loaded");
        return CLI_EXIT_FAILURE;
    }
    ssync_journal *j = NULL;
    int64_t run_id = 0;
    if (ssync_journal_open(cfg->state.path, &j, &e) != SSYNC_OK ||
        ssync_journal_run_begin(j, "sync", &run_id, &e) != SSYNC_OK) {
        cli_report(cmd, "[state] path", &e);
        mark_unrun(p, errors, "not carried out: the journal cannot be opened");
        ssync_journal_close(j);
        EVP_PKEY_free(connector);
        return CLI_EXIT_FAILURE;
    }
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    ex.kras = r->kras;
    ex.connector = connector;
    ex.profile = cfg->pfx.profile;
    ex.include_chain = cfg->pfx.include_chain;
    ex.both_purpose = cfg->policy.both_purpose;
    ex.record.provider_name = cfg->connector.provider_name;
    ex.record.key_name = cfg->connector.key_name;
    ex.record.padding = cfg->connector.padding;

    ssync_graph_op *ops = calloc(nwrites, sizeof *ops);
    struct sync_op *sops = calloc(nwrites, sizeof *sops);
    int rc = CLI_EXIT_OK;
    size_t n = 0;
    if (!ops || !sops) {
        cli_err(cmd, "out of memory");
        rc = CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; rc == CLI_EXIT_OK && i < p->count; i++) {
        ssync_plan_item *it = &p->items[i];
        if (it->code != SSYNC_OK ||
            (it->action != SSYNC_ACT_UPLOAD && it->action != SSYNC_ACT_REMOVE))
            continue;
        ssync_graph_op *op = &ops[n];
        struct sync_op *so = &sops[n];
        so->item = i;
        op->user_data = so;
        if (it->action == SSYNC_ACT_UPLOAD) {
            ssync_buf b = {0};
            ssync_export_result res = {0};
            if (ssync_read_file(it->path, SSYNC_MAX_INPUT_FILE, &b, &e) != SSYNC_OK ||
                ssync_export_blob(&ex, b.data, b.len, it->upn, &res, &e) != SSYNC_OK) {
                errors[i] = dup_error(&e);
                ssync_buf_free(&b);
                continue;
            }
            ssync_buf_free(&b);
            so->record = res.record;
            res.record = NULL;
            ssync_export_result_clear(&res);
            op->kind = SSYNC_OP_CREATE;
            op->record = so->record;
        } else {
            op->kind = SSYNC_OP_DELETE;
            op->user_id = it->user_id;
            op->thumbprint = it->thumbprint;
        }
        char record_id[80] = "";
        ssync_pfx_record_id(it->user_id, it->thumbprint, record_id, NULL);
        if (ssync_journal_intent(
                j, run_id, it->action == SSYNC_ACT_UPLOAD ? SSYNC_OP_UPLOAD : SSYNC_OP_REMOVE,
                it->upn, it->thumbprint, record_id, NULL, &so->op_id, &e) != SSYNC_OK) {
            cli_report(cmd, "journal", &e);
            json_decref(so->record);
            so->record = NULL;
            rc = CLI_EXIT_FAILURE; /* never write without an intent */
            break;
        }
        n++;
    }

    struct sync_ctx sc = {.cmd = cmd, .errors = errors};
    if (rc == CLI_EXIT_OK && n > 0 &&
        ssync_graph_run(r->graph, ops, n, on_done, &sc, &e) != SSYNC_OK)
        cli_report_graph(cmd, NULL, &e, ssync_graph_last_failure(r->graph));

    /* outcomes of the batch, in one transaction */
    if (n > 0) {
        int tx = ssync_journal_tx_begin(j, &e) == SSYNC_OK;
        for (size_t k = 0; k < n; k++) {
            const ssync_graph_op *op = &ops[k];
            int ran = rc == CLI_EXIT_OK;
            ssync_op_outcome oc = !ran                     ? SSYNC_OUTCOME_PENDING
                                  : op->result == SSYNC_OK ? SSYNC_OUTCOME_DONE
                                                           : SSYNC_OUTCOME_FAILED;
            if (oc == SSYNC_OUTCOME_PENDING)
                continue;
            if (ssync_journal_outcome(j, sops[k].op_id, oc, (int)op->detail.http_status,
                                      op->detail.request_id,
                                      op->result == SSYNC_OK ? NULL : op->err.msg, &e) != SSYNC_OK)
                cli_report(cmd, "journal", &e);
        }
        if (tx && ssync_journal_tx_commit(j, &e) != SSYNC_OK)
            cli_report(cmd, "journal", &e);
    }
    char summary[200];
    snprintf(summary, sizeof summary, "{\"writes\":%zu,\"done\":%zu,\"failed\":%zu}", n, sc.done,
             sc.failed);
    if (ssync_journal_run_end(j, run_id, summary, &e) != SSYNC_OK)
        cli_report(cmd, "journal", &e);
    for (size_t k = 0; k < n; k++)
        json_decref(sops[k].record);
    /* items that never ran (fatal error before or during the run) */
    if (rc != CLI_EXIT_OK)
        mark_unrun(p, errors, "not carried out: the run stopped");
    *done = sc.done;
    free(ops);
    free(sops);
    ssync_journal_close(j);
    EVP_PKEY_free(connector);
    return rc;
}

int cmd_sync(int argc, char **argv)
{
    struct cli_plan_run r = {.cmd = "sync"};
    int rc = cli_plan_prepare(&r, argc, argv);
    if (rc == -1) {
        cli_plan_release(&r);
        return CLI_EXIT_OK;
    }
    if (rc == CLI_EXIT_OK && !r.cfg->state.path) {
        cli_err(r.cmd, "%s: [state] path is required for sync", r.cfg->path ? r.cfg->path : "");
        rc = CLI_EXIT_FAILURE;
    }
    if (rc != CLI_EXIT_OK) {
        cli_plan_release(&r);
        return rc;
    }
    size_t count = r.plan->count;
    char **errors = calloc(count ? count : 1, sizeof *errors);
    if (!errors) {
        cli_err(r.cmd, "out of memory");
        cli_plan_release(&r);
        return CLI_EXIT_FAILURE;
    }
    size_t done = 0;
    int fatal = run_sync(&r, errors, &done) != CLI_EXIT_OK;
    size_t failed = (size_t)cli_plan_report(&r, (const char *const *)errors);
    if (failed == 0 && !fatal)
        rc = CLI_EXIT_OK;
    else if (fatal)
        rc = done > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
    else
        rc = failed < count ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
    for (size_t i = 0; i < count; i++)
        free(errors[i]);
    free(errors);
    cli_plan_release(&r);
    return rc;
}
