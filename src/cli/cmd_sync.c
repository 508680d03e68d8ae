/* smimesync sync: carry out the plan (cli_plan.c builds it): finish what interrupted runs left
 * (cli_resume.c), create the missing records, delete the revoked ones, with an intent in the
 * journal before the writes and the outcomes after; a report per run; Ctrl-C stops cleanly. */
#include "cli.h"
#include "cli_graph.h"
#include "cli_log.h"
#include "cli_plan.h"
#include "cli_progress.h"
#include "cli_report.h"
#include "cli_resume.h"
#include "cli_signal.h"

#include "sync/config.h"
#include "connector/connector.h"
#include "record/export.h"
#include "common/fileio.h"
#include "journal/journal.h"
#include "sync/plan.h"
#include "common/pool.h"
#include "source/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct sync_op {
    size_t item;    /* index in the plan */
    int64_t op_id;  /* journal */
    json_t *record; /* CREATE body */
};

/* One run's state, from the journal's run to the exit code. */
struct sync_run {
    struct cli_plan_run *r;
    struct cli_signal *sig;
    struct cli_item_result *results; /* one per plan item */
    int64_t run_id;
    size_t planned, done, finished, resumed;
    int interrupted;
};

static int is_write(const ssync_plan_item *it)
{
    return it->code == SSYNC_OK &&
           (it->action == SSYNC_ACT_UPLOAD || it->action == SSYNC_ACT_REMOVE);
}

static int signalled(struct sync_run *s)
{
    if (!s->interrupted && cli_signal_received(s->sig))
        s->interrupted = 1;
    return s->interrupted;
}

/* Writes that did not run get an error, so the report counts them as failed. */
static void mark_unrun(struct sync_run *s, const char *why, int cancelled)
{
    const ssync_plan *p = s->r->plan;
    for (size_t i = 0; i < p->count; i++) {
        struct cli_item_result *res = &s->results[i];
        if (is_write(&p->items[i]) && !res->error && !res->wrote) {
            res->error = strdup(why);
            res->cancelled = cancelled;
        }
    }
}

/* The op was stopped by Ctrl-C (or never started because of it). */
static int op_cancelled(struct sync_run *s, const ssync_graph_op *op)
{
    return s->interrupted && op->result != SSYNC_OK &&
           (op->result == SSYNC_ERR_CANCELLED || op->sends == 0);
}

static void on_done(void *ctx, ssync_graph_op *op)
{
    struct sync_run *s = ctx;
    struct sync_op *so = op->user_data;
    struct cli_item_result *res = &s->results[so->item];
    snprintf(res->request_id, sizeof res->request_id, "%s", op->detail.request_id);
    s->finished++;
    signalled(s);
    if (op->result == SSYNC_OK) {
        res->wrote = 1;
        s->done++;
    } else if (op_cancelled(s, op)) {
        res->cancelled = 1;
        res->error = strdup(op->sends ? "interrupted in flight: it may have taken effect; the "
                                        "next sync reads it back"
                                      : "cancelled: not sent (interrupted)");
    } else {
        char line[1024];
        ssync_graph_failure_format(&op->detail, line, sizeof line);
        if (strstr(op->err.msg, line)) /* the message already names the request */
            line[0] = '\0';
        size_t len = strlen(op->err.msg) + strlen(line) + 4;
        char *msg = malloc(len);
        if (msg)
            snprintf(msg, len, "%s%s%s", op->err.msg, line[0] ? "; " : "", line);
        res->error = msg ? msg : strdup("failed");
        cli_log_msg(s->r->log, SSYNC_LOG_ERROR, "%s %s for %s: %s",
                    op->kind == SSYNC_OP_CREATE ? "upload" : "remove",
                    s->r->plan->items[so->item].thumbprint,
                    s->r->plan->items[so->item].upn ? s->r->plan->items[so->item].upn : "-",
                    res->error);
    }
    cli_progress_update(s->r->progress, s->finished);
}

static ssync_code export_item(const ssync_exporter *ex, ssync_source *src,
                              const ssync_plan_item *it, ssync_export_result *res, ssync_error *e)
{
    return ssync_source_export(src, ex, it, it->upn, res, e);
}

/* The outcome the journal keeps for an op. */
static ssync_op_outcome outcome_of(struct sync_run *s, const ssync_graph_op *op, ssync_code run_rc)
{
    if (op->result == SSYNC_OK)
        return SSYNC_OUTCOME_DONE;
    /* sent, then abandoned (interrupted or a fatal error): it may have been applied */
    if (op->sends > 0 && (op_cancelled(s, op) || (run_rc != SSYNC_OK && op->result == run_rc)))
        return SSYNC_OUTCOME_AMBIGUOUS;
    return SSYNC_OUTCOME_FAILED;
}

static void record_outcomes(struct sync_run *s, ssync_journal *j, const ssync_graph_op *ops,
                            const struct sync_op *sops, size_t n, ssync_code run_rc)
{
    ssync_error e = {0};
    int tx = ssync_journal_tx_begin(j, &e) == SSYNC_OK;
    for (size_t k = 0; k < n; k++) {
        const ssync_graph_op *op = &ops[k];
        const char *error = op->result == SSYNC_OK           ? NULL
                            : s->results[sops[k].item].error ? s->results[sops[k].item].error
                                                             : op->err.msg;
        if (ssync_journal_outcome(j, sops[k].op_id, outcome_of(s, op, run_rc),
                                  (int)op->detail.http_status, op->detail.request_id, error,
                                  &e) != SSYNC_OK)
            cli_log_error(s->r->log, "journal", &e);
    }
    if (tx && ssync_journal_tx_commit(j, &e) != SSYNC_OK)
        cli_log_error(s->r->log, "journal", &e);
}

static void init_exporter(ssync_exporter *ex, const struct cli_plan_run *r, EVP_PKEY *connector)
{
    ssync_exporter_init(ex);
    ex->kras = r->kras;
    ex->connector = connector;
    ex->profile = r->cfg->pfx.profile;
    ex->include_chain = r->cfg->pfx.include_chain;
    ex->both_purpose = r->cfg->policy.both_purpose;
    ex->record.provider_name = r->cfg->connector.provider_name;
    ex->record.key_name = r->cfg->connector.key_name;
    ex->record.padding = r->cfg->connector.padding;
}

/* The pipeline: worker threads recover and build the records (reading -> KRA decryption ->
 * PKCS#12 -> password encryption) up to two chunks ahead, while this thread writes a chunk's
 * intents in one transaction (durable before any of its requests) and uploads it through the
 * Graph client's multi handle, then records the chunk's outcomes in one transaction. */
#define SYNC_CHUNK 256

struct prep_slot {
    json_t *record; /* CREATE body, or NULL */
    char *error;    /* why the record could not be built */
};

struct prep_job {
    struct sync_run *s;
    const ssync_exporter *ex;
    const size_t *widx; /* plan index of each write */
    struct prep_slot *slots;
    size_t window;
};

static void prepare_one(void *ctx, size_t k)
{
    struct prep_job *pj = ctx;
    struct prep_slot *slot = &pj->slots[k % pj->window];
    const ssync_plan_item *it = &pj->s->r->plan->items[pj->widx[k]];
    slot->record = NULL;
    slot->error = NULL;
    if (it->action != SSYNC_ACT_UPLOAD)
        return;
    ssync_error e = {0};
    ssync_export_result res = {0};
    if (export_item(pj->ex, pj->s->r->source, it, &res, &e) != SSYNC_OK) {
        slot->error = strdup(e.msg[0] ? e.msg : "failed");
    } else if (strcmp(res.info.thumbprint, it->thumbprint) != 0) {
        /* the plan read the certificate without the key: the recovery must agree */
        char msg[200];
        snprintf(msg, sizeof msg, "the recovered key belongs to certificate %s, not to %s",
                 res.info.thumbprint, it->thumbprint);
        slot->error = strdup(msg);
    } else {
        slot->record = res.record;
        res.record = NULL;
    }
    ssync_export_result_clear(&res);
}

/* Takes the next chunk from the pool into ops and writes its intents in one transaction.
 * Returns -1 after a journal failure (nothing of the chunk is sent then), else 0. */
static int take_chunk(struct sync_run *s, ssync_journal *j, ssync_pool *pool, struct prep_job *pj,
                      size_t *k, size_t m, ssync_graph_op *ops, struct sync_op *sops, size_t *n_out)
{
    struct cli_plan_run *r = s->r;
    ssync_plan *p = r->plan;
    ssync_error e = {0};
    size_t n = 0;
    int tx = 0, failed = 0;
    /* at least as many records as may be in flight (when there are), so that the journal is
     * written in transactions of that size, not one per record the workers just finished */
    size_t least = r->cfg->intune.max_in_flight > 0 ? (size_t)r->cfg->intune.max_in_flight : 1;
    for (; *k < m && n < SYNC_CHUNK && !signalled(s); (*k)++) {
        /* then send what is ready rather than wait for a full chunk */
        if (n >= least && !ssync_pool_ready(pool, *k))
            break;
        if (!ssync_pool_wait(pool, *k))
            break;
        struct prep_slot *slot = &pj->slots[*k % pj->window];
        size_t i = pj->widx[*k];
        ssync_plan_item *it = &p->items[i];
        if (slot->error || failed) {
            if (slot->error) {
                s->results[i].error = slot->error;
                cli_log_msg(r->log, SSYNC_LOG_ERROR, "%s: %s",
                            it->path ? ssync_basename(it->path) : it->thumbprint, slot->error);
                s->finished++;
            }
            json_decref(slot->record);
            slot->error = NULL;
            slot->record = NULL;
            ssync_pool_release(pool, *k);
            continue;
        }
        ssync_graph_op *op = &ops[n];
        struct sync_op *so = &sops[n];
        memset(op, 0, sizeof *op);
        memset(so, 0, sizeof *so);
        so->item = i;
        op->user_data = so;
        if (it->action == SSYNC_ACT_UPLOAD) {
            so->record = slot->record;
            op->kind = SSYNC_OP_CREATE;
            op->record = so->record;
        } else {
            op->kind = SSYNC_OP_DELETE;
            op->user_id = it->user_id;
            op->thumbprint = it->thumbprint;
        }
        slot->record = NULL;
        ssync_pool_release(pool, *k);
        char record_id[80] = "";
        ssync_pfx_record_id(it->user_id, it->thumbprint, record_id, NULL);
        if (!tx)
            tx = ssync_journal_tx_begin(j, &e) == SSYNC_OK;
        if (ssync_journal_intent(
                j, s->run_id, it->action == SSYNC_ACT_UPLOAD ? SSYNC_OP_UPLOAD : SSYNC_OP_REMOVE,
                it->upn, it->thumbprint, record_id, NULL, &so->op_id, &e) != SSYNC_OK) {
            cli_log_error(r->log, "journal", &e);
            json_decref(so->record);
            so->record = NULL;
            failed = 1;
            continue;
        }
        n++;
    }
    /* ops built before a journal failure have intents but are not sent: they stay pending and
     * the next run settles them */
    if (tx && ssync_journal_tx_commit(j, &e) != SSYNC_OK) {
        cli_log_error(r->log, "journal", &e);
        failed = 1;
    }
    *n_out = n;
    return failed ? -1 : 0;
}

/* Sends one chunk and records its outcomes. Returns the fatal error of the run, if any. */
static ssync_code send_chunk(struct sync_run *s, ssync_journal *j, ssync_graph_op *ops,
                             struct sync_op *sops, size_t n)
{
    ssync_error e = {0};
    ssync_code run_rc = SSYNC_OK;
    if (!signalled(s)) {
        run_rc = ssync_graph_run(s->r->graph, ops, n, on_done, s, &e);
        if (run_rc != SSYNC_OK && !signalled(s))
            cli_log_graph(s->r->log, NULL, &e, ssync_graph_last_failure(s->r->graph));
    } else {
        for (size_t k = 0; k < n; k++) { /* interrupted before the write */
            ops[k].result = SSYNC_ERR_CANCELLED;
            on_done(s, &ops[k]);
        }
    }
    record_outcomes(s, j, ops, sops, n, run_rc);
    for (size_t k = 0; k < n; k++) {
        json_decref(sops[k].record);
        sops[k].record = NULL;
    }
    return run_rc;
}

/* The writes. Returns CLI_EXIT_OK when they ran (see the results), else CLI_EXIT_FAILURE. */
static int run_writes(struct sync_run *s, ssync_journal *j)
{
    struct cli_plan_run *r = s->r;
    ssync_error e = {0};
    EVP_PKEY *connector = NULL;
    if (ssync_connector_load(r->cfg->connector.public_key, &connector, &e) != SSYNC_OK) {
        cli_log_error(r->log, "[connector] public_key", &e);
        mark_unrun(s, "not carried out: the connector key cannot be loaded", 0);
        return CLI_EXIT_FAILURE;
    }
    ssync_exporter ex;
    init_exporter(&ex, r, connector);
    size_t m = 0;
    size_t *widx = calloc(s->planned, sizeof *widx);
    for (size_t i = 0; widx && i < r->plan->count; i++)
        if (is_write(&r->plan->items[i]))
            widx[m++] = i;
    struct prep_job pj = {.s = s, .ex = &ex, .widx = widx, .window = 2 * SYNC_CHUNK};
    pj.slots = calloc(pj.window, sizeof *pj.slots);
    ssync_graph_op *ops = calloc(SYNC_CHUNK, sizeof *ops);
    struct sync_op *sops = calloc(SYNC_CHUNK, sizeof *sops);
    ssync_pool *pool = NULL;
    int rc = CLI_EXIT_OK;
    if (!widx || !pj.slots || !ops || !sops) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "out of memory");
        rc = CLI_EXIT_FAILURE;
    } else if (ssync_pool_start(r->opt->workers, m, pj.window, prepare_one, &pj, NULL, &pool, &e) !=
               SSYNC_OK) {
        cli_log_error(r->log, "workers", &e);
        rc = CLI_EXIT_FAILURE;
    }
    ssync_code run_rc = SSYNC_OK;
    size_t k = 0;
    if (rc == CLI_EXIT_OK)
        cli_progress_begin(r->progress, "write", s->planned);
    while (rc == CLI_EXIT_OK && run_rc == SSYNC_OK && k < m && !signalled(s)) {
        size_t n = 0;
        if (take_chunk(s, j, pool, &pj, &k, m, ops, sops, &n) != 0)
            rc = CLI_EXIT_FAILURE;
        else if (n > 0)
            run_rc = send_chunk(s, j, ops, sops, n);
        else
            cli_progress_update(r->progress, s->finished);
    }
    if (rc == CLI_EXIT_OK)
        cli_progress_end(r->progress);
    /* records built ahead and never sent */
    ssync_pool_free(pool);
    for (size_t w = 0; pj.slots && w < pj.window; w++) {
        json_decref(pj.slots[w].record);
        free(pj.slots[w].error);
    }
    if (signalled(s))
        mark_unrun(s, "cancelled: not carried out (interrupted)", 1);
    else if (rc != CLI_EXIT_OK || run_rc != SSYNC_OK)
        mark_unrun(s, "not carried out: the run stopped", 0);
    free(pj.slots);
    free(widx);
    free(ops);
    free(sops);
    EVP_PKEY_free(connector);
    return rc;
}

static int run_sync(struct sync_run *s)
{
    struct cli_plan_run *r = s->r;
    ssync_error e = {0};
    for (size_t i = 0; i < r->plan->count; i++)
        s->planned += is_write(&r->plan->items[i]);
    ssync_journal *j = r->journal;
    if (!j || ssync_journal_run_begin(j, "sync", &s->run_id, &e) != SSYNC_OK) {
        if (j)
            cli_log_error(r->log, "[state] path", &e);
        mark_unrun(s, "not carried out: the journal cannot be opened", 0);
        return CLI_EXIT_FAILURE;
    }
    s->resumed = cli_resume(j, r->graph, cli_plan_target(r) ? NULL : r->listing, r->log);
    int rc = s->planned ? run_writes(s, j) : CLI_EXIT_OK;
    char summary[256];
    snprintf(summary, sizeof summary,
             "{\"writes\":%zu,\"done\":%zu,\"failed\":%zu,\"resumed\":%zu,\"interrupted\":%s}",
             s->planned, s->done, s->planned - s->done, s->resumed,
             s->interrupted ? "true" : "false");
    if (ssync_journal_run_end(j, s->run_id, summary, &e) != SSYNC_OK)
        cli_log_error(r->log, "journal", &e);
    return rc;
}

/* <dir of [state] path>/reports/sync-<run>-<time>.txt and .json */
static void write_run_reports(const struct sync_run *s, const cli_run_report *doc)
{
    const struct cli_plan_run *r = s->r;
    char dir[4096], path[4200];
    ssync_error e = {0};
    if (!s->run_id || cli_report_dir(dir, sizeof dir, r->cfg->state.path) != 0)
        return;
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "report directory %s: %s", dir, strerror(errno));
        return;
    }
    static const char *const exts[] = {"txt", "json"};
    for (size_t k = 0; k < 2; k++) {
        if (cli_report_file_name(path, sizeof path, dir, r->cmd, (long long)s->run_id, r->started,
                                 exts[k]) != 0)
            continue;
        if (cli_report_write(doc, path, &e) != SSYNC_OK)
            cli_log_error(r->log, "report", &e);
        else
            cli_log_msg(r->log, SSYNC_LOG_INFO, "report written to %s", path);
    }
}

static int exit_code(const struct sync_run *s, int fatal, size_t failed, size_t count)
{
    if (s->interrupted)
        return s->done > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
    if (failed == 0 && !fatal)
        return CLI_EXIT_OK;
    if (fatal)
        return s->done > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
    return failed < count ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
}

static int sync_planned(struct cli_plan_run *r, struct cli_signal *sig)
{
    size_t count = r->plan->count;
    struct sync_run s = {.r = r, .sig = sig};
    s.results = calloc(count ? count : 1, sizeof *s.results);
    if (!s.results) {
        cli_log_msg(r->log, SSYNC_LOG_ERROR, "out of memory");
        return CLI_EXIT_FAILURE;
    }
    int fatal = run_sync(&s) != CLI_EXIT_OK;
    signalled(&s);
    cli_run_report *doc =
        cli_plan_report(r, s.results, (long long)s.run_id, s.interrupted, s.resumed);
    size_t failed = doc ? cli_report_failed(doc) : count;
    if (doc)
        write_run_reports(&s, doc);
    cli_report_free(doc);
    if (s.interrupted)
        cli_log_msg(r->log, SSYNC_LOG_ERROR,
                    "interrupted: %zu of %zu writes done; run sync again to finish", s.done,
                    s.planned);
    int rc = exit_code(&s, fatal, failed, count);
    /* an incremental edb source starts after this run's requests next time */
    ssync_error ce = {0};
    if (rc == CLI_EXIT_OK && r->journal && ssync_source_commit(r->source, r->plan, &ce) != SSYNC_OK)
        cli_log_error(r->log, "journal", &ce);
    for (size_t i = 0; i < count; i++)
        free(s.results[i].error);
    free(s.results);
    return rc;
}

/* The sync command from parsed options; watch runs it once per arriving blob with its own signal
 * thread (outer: NULL starts one here). */
int cmd_sync_with(const struct cli_opts *o, struct cli_signal *outer)
{
    /* before any thread exists (libcurl, OpenSSL): they inherit the blocked signals */
    struct cli_signal own;
    struct cli_signal *sig = outer ? outer : cli_signal_start(&own) == 0 ? &own : NULL;
    struct cli_plan_run r = {.signals = sig};
    int rc = cli_plan_prepare(&r, o);
    if (rc == CLI_EXIT_OK && !r.cfg->state.path) {
        cli_log_msg(r.log, SSYNC_LOG_ERROR, "%s: [state] path is required for sync",
                    r.cfg->path ? r.cfg->path : "");
        rc = CLI_EXIT_FAILURE;
    } else if (rc == CLI_EXIT_OK) {
        rc = sync_planned(&r, sig);
    } else if (sig && cli_signal_received(sig)) {
        cli_log_msg(r.log, SSYNC_LOG_ERROR, "interrupted: no write done; run sync again to finish");
    }
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
