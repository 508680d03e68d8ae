/* The writes of a sync (see run.h): intents before requests, outcomes after answers, records
 * built ahead by worker threads. Moved from the CLI's sync command behind hooks. */
#include "sync/run.h"

#include "common/fileio.h"
#include "common/log.h"
#include "common/pool.h"
#include "connector/connector.h"
#include "sync/resume.h"
#include "sync/trail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sync_op {
    size_t item;    /* index in the plan */
    int64_t op_id;  /* journal */
    json_t *record; /* CREATE body */
};

/* One run's state. */
struct sync_run {
    const ssync_sync_params *prm;
    ssync_plan *plan;
    ssync_item_result *results; /* one per plan item */
    ssync_sync_summary *sum;
    size_t finished;
    char kras[1024];       /* the held KRAs' serials, for a recovery line without its KRA */
    ssync_error audit_err; /* the first line the trail could not take */
};

/* A log line of the run (through the front end's hook). */
#define say(s, ...)                                                                                \
    ssync_logf((s)->prm->hooks ? (s)->prm->hooks->log : NULL,                                      \
               (s)->prm->hooks ? (s)->prm->hooks->log_ctx : NULL, __VA_ARGS__)

/* " (source NAME)" for an item of a named source, "" for [source]'s: a failure line names it */
static const char *source_note(const ssync_plan_item *it, char *buf, size_t n)
{
    if (!it->source || strcmp(it->source, SSYNC_SOURCE_DEFAULT_NAME) == 0)
        return "";
    snprintf(buf, n, " (source %s)", it->source);
    return buf;
}

static void progress(const struct sync_run *s)
{
    const ssync_run_hooks *h = s->prm->hooks;
    if (h && h->progress)
        h->progress(h->ctx, s->finished);
}

/* A write of the plan: an upload or a removal that can be carried out. */
static int is_write(const ssync_plan_item *it)
{
    return it->code == SSYNC_OK &&
           (it->action == SSYNC_ACT_UPLOAD || it->action == SSYNC_ACT_REMOVE);
}

static int signalled(struct sync_run *s)
{
    const ssync_run_hooks *h = s->prm->hooks;
    if (!s->sum->interrupted && h && h->cancelled && h->cancelled(h->ctx))
        s->sum->interrupted = 1;
    return s->sum->interrupted;
}

/* Writes that did not run get an error, so the report counts them as failed. */
static void mark_unrun(struct sync_run *s, const char *why, ssync_code code, int cancelled)
{
    const ssync_plan *p = s->plan;
    for (size_t i = 0; i < p->count; i++) {
        ssync_item_result *res = &s->results[i];
        if (is_write(&p->items[i]) && !res->error && !res->wrote) {
            res->error = strdup(why);
            res->code = code;
            res->cancelled = cancelled;
        }
    }
}

/* The op was stopped by a cancellation (or never started because of it). */
static int op_cancelled(struct sync_run *s, const ssync_graph_op *op)
{
    return s->sum->interrupted && op->result != SSYNC_OK &&
           (op->result == SSYNC_ERR_CANCELLED || op->sends == 0);
}

static ssync_trail_item trail_item(const ssync_plan_item *it)
{
    return (ssync_trail_item){.user = it->upn ? it->upn : it->cert_upn,
                              .thumbprint = it->thumbprint,
                              .serial = it->serial,
                              .source = it->path};
}

static void on_done(void *ctx, ssync_graph_op *op)
{
    struct sync_run *s = ctx;
    struct sync_op *so = op->user_data;
    ssync_item_result *res = &s->results[so->item];
    const ssync_trail_item ti = trail_item(&s->plan->items[so->item]);
    if (s->prm->audit && s->audit_err.code == SSYNC_OK)
        ssync_trail_write(s->prm->audit, &ti, op, &s->audit_err);
    snprintf(res->request_id, sizeof res->request_id, "%s", op->detail.request_id);
    s->finished++;
    signalled(s);
    if (op->result == SSYNC_OK) {
        res->wrote = 1;
        s->sum->done++;
    } else if (op_cancelled(s, op)) {
        res->cancelled = 1;
        res->code = SSYNC_ERR_CANCELLED;
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
        res->code = op->result;
        const ssync_plan_item *it = &s->plan->items[so->item];
        char note[64];
        say(s, SSYNC_LOG_ERROR, "%s %s for %s%s: %s",
            op->kind == SSYNC_OP_CREATE ? "upload" : "remove", it->thumbprint,
            it->upn ? it->upn : "-", source_note(it, note, sizeof note), res->error);
    }
    progress(s);
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
            say(s, SSYNC_LOG_ERROR, "journal: %s", e.msg);
    }
    if (tx && ssync_journal_tx_commit(j, &e) != SSYNC_OK)
        say(s, SSYNC_LOG_ERROR, "journal: %s", e.msg);
}

/* The pipeline: worker threads recover and build the records (reading -> KRA decryption ->
 * PKCS#12 -> password encryption) up to two chunks ahead, while the caller's thread writes a
 * chunk's intents in one transaction (durable before any of its requests) and uploads it
 * through the Graph client's multi handle, then records the chunk's outcomes in one
 * transaction. */
#define SYNC_CHUNK 256

struct prep_slot {
    json_t *record;  /* CREATE body, or NULL */
    char *error;     /* why the record could not be built */
    ssync_code code; /* and its code */
    char kra[80];    /* the KRA that opened the key (for the audit trail); "" when none */
};

struct prep_job {
    struct sync_run *s;
    const ssync_exporter *ex;
    const size_t *widx; /* plan index of each write */
    struct prep_slot *slots;
    size_t window;
};

/* The source that scanned it: only that source exports it. */
static ssync_source *source_of(const ssync_sync_params *prm, const ssync_plan_item *it)
{
    for (size_t i = 0; i < prm->n_sources; i++)
        if (ssync_source_owns(prm->sources[i], it))
            return prm->sources[i];
    return prm->source;
}

static void prepare_one(void *ctx, size_t k)
{
    struct prep_job *pj = ctx;
    struct prep_slot *slot = &pj->slots[k % pj->window];
    const ssync_plan_item *it = &pj->s->plan->items[pj->widx[k]];
    slot->record = NULL;
    slot->error = NULL;
    slot->code = SSYNC_OK;
    slot->kra[0] = '\0';
    if (it->action != SSYNC_ACT_UPLOAD)
        return;
    ssync_error e = {0};
    ssync_export_result res = {0};
    if (ssync_source_export(source_of(pj->s->prm, it), pj->ex, it, it->upn, &res, &e) != SSYNC_OK) {
        slot->error = strdup(e.msg[0] ? e.msg : "failed");
        slot->code = e.code != SSYNC_OK ? e.code : SSYNC_ERR_INTERNAL;
    } else if (strcmp(res.info.thumbprint, it->thumbprint) != 0) {
        /* the plan read the certificate without the key: the recovery must agree */
        char msg[200];
        snprintf(msg, sizeof msg, "the recovered key belongs to certificate %s, not to %s",
                 res.info.thumbprint, it->thumbprint);
        slot->error = strdup(msg);
        slot->code = SSYNC_ERR_KEY_MISMATCH;
    } else {
        slot->record = res.record;
        res.record = NULL;
        memcpy(slot->kra, res.kra_serial, sizeof slot->kra);
    }
    ssync_export_result_clear(&res);
}

/* Takes the next chunk from the pool into ops and writes its intents in one transaction.
 * Returns -1 after a journal failure (nothing of the chunk is sent then), else 0. */
static int take_chunk(struct sync_run *s, ssync_journal *j, ssync_pool *pool, struct prep_job *pj,
                      size_t *k, size_t m, ssync_graph_op *ops, struct sync_op *sops, size_t *n_out)
{
    ssync_plan *p = s->plan;
    ssync_error e = {0};
    size_t n = 0;
    int tx = 0, failed = 0;
    /* at least as many records as may be in flight (when there are), so that the journal is
     * written in transactions of that size, not one per record the workers just finished */
    size_t least = s->prm->max_in_flight > 0 ? s->prm->max_in_flight : 1;
    for (; *k < m && n < SYNC_CHUNK && !signalled(s); (*k)++) {
        /* then send what is ready rather than wait for a full chunk */
        if (n >= least && !ssync_pool_ready(pool, *k))
            break;
        if (!ssync_pool_wait(pool, *k))
            break;
        struct prep_slot *slot = &pj->slots[*k % pj->window];
        size_t i = pj->widx[*k];
        ssync_plan_item *it = &p->items[i];
        const ssync_trail_item ti = trail_item(it);
        if (s->prm->audit && s->audit_err.code == SSYNC_OK && it->action == SSYNC_ACT_UPLOAD)
            ssync_trail_recover(s->prm->audit, &ti, slot->kra[0] ? slot->kra : s->kras, slot->error,
                                &s->audit_err);
        if (slot->error || failed) {
            if (slot->error) {
                s->results[i].error = slot->error;
                s->results[i].code = slot->code;
                char note[64];
                say(s, SSYNC_LOG_ERROR, "%s%s: %s",
                    it->path ? ssync_basename(it->path) : it->thumbprint,
                    source_note(it, note, sizeof note), slot->error);
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
        if (ssync_journal_intent(j, s->sum->run_id,
                                 it->action == SSYNC_ACT_UPLOAD ? SSYNC_OP_UPLOAD : SSYNC_OP_REMOVE,
                                 it->upn, it->thumbprint, record_id, NULL, &so->op_id,
                                 &e) != SSYNC_OK) {
            say(s, SSYNC_LOG_ERROR, "journal: %s", e.msg);
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
        say(s, SSYNC_LOG_ERROR, "journal: %s", e.msg);
        failed = 1;
    }
    *n_out = n;
    return failed ? -1 : 0;
}

/* The trail's lines so far made durable; SSYNC_ERR_AUDIT (logged) when a line was not taken:
 * no further write is sent without its record. */
static ssync_code audit_durable(struct sync_run *s)
{
    if (!s->prm->audit)
        return SSYNC_OK;
    if (s->audit_err.code == SSYNC_OK)
        ssync_audit_sync(s->prm->audit, &s->audit_err);
    if (s->audit_err.code == SSYNC_OK)
        return SSYNC_OK;
    say(s, SSYNC_LOG_ERROR, "[audit] path: %s: no further write is sent", s->audit_err.msg);
    return SSYNC_ERR_AUDIT;
}

/* The run's fatal Graph error, with the failure's detail unless the message names it. */
static void say_graph(struct sync_run *s, const ssync_error *e)
{
    const ssync_graph_failure *f = ssync_graph_last_failure(s->prm->graph);
    char detail[1024] = "";
    if (f && (f->http_status || f->request_id[0] || f->code[0]))
        ssync_graph_failure_format(f, detail, sizeof detail);
    if (detail[0] && !strstr(e->msg, detail))
        say(s, SSYNC_LOG_ERROR, "%s [%s]", e->msg, detail);
    else
        say(s, SSYNC_LOG_ERROR, "%s", e->msg);
}

/* Sends one chunk and records its outcomes. Returns the fatal error of the run, if any. */
static ssync_code send_chunk(struct sync_run *s, ssync_journal *j, ssync_graph_op *ops,
                             struct sync_op *sops, size_t n)
{
    ssync_error e = {0};
    ssync_code run_rc = SSYNC_OK;
    if (!signalled(s)) {
        run_rc = ssync_graph_run(s->prm->graph, ops, n, on_done, s, &e);
        if (run_rc != SSYNC_OK && !signalled(s))
            say_graph(s, &e);
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

/* The writes. Returns SSYNC_OK when they ran (see the results), else what stopped them. */
static ssync_code run_writes(struct sync_run *s, ssync_journal *j)
{
    const ssync_sync_params *prm = s->prm;
    const ssync_run_hooks *h = prm->hooks;
    ssync_error e = {0};
    EVP_PKEY *connector = NULL;
    if (ssync_connector_load(prm->connector_key, &connector, &e) != SSYNC_OK) {
        say(s, SSYNC_LOG_ERROR, "[connector] public_key: %s", e.msg);
        mark_unrun(s, "not carried out: the connector key cannot be loaded", e.code, 0);
        return e.code;
    }
    ssync_exporter ex = *prm->exporter;
    ex.connector = connector;
    size_t m = 0;
    size_t *widx = calloc(s->sum->planned, sizeof *widx);
    for (size_t i = 0; widx && i < s->plan->count; i++)
        if (is_write(&s->plan->items[i]))
            widx[m++] = i;
    struct prep_job pj = {.s = s, .ex = &ex, .widx = widx, .window = 2 * SYNC_CHUNK};
    pj.slots = calloc(pj.window, sizeof *pj.slots);
    ssync_graph_op *ops = calloc(SYNC_CHUNK, sizeof *ops);
    struct sync_op *sops = calloc(SYNC_CHUNK, sizeof *sops);
    ssync_pool *pool = NULL;
    ssync_code rc = SSYNC_OK;
    if (!widx || !pj.slots || !ops || !sops) {
        say(s, SSYNC_LOG_ERROR, "out of memory");
        rc = SSYNC_ERR_NOMEM;
    } else if (ssync_pool_start(prm->workers, m, pj.window, prepare_one, &pj, NULL, &pool, &e) !=
               SSYNC_OK) {
        say(s, SSYNC_LOG_ERROR, "workers: %s", e.msg);
        rc = e.code;
    }
    ssync_code run_rc = SSYNC_OK;
    size_t k = 0;
    if (rc == SSYNC_OK && h && h->progress_begin)
        h->progress_begin(h->ctx, s->sum->planned);
    while (rc == SSYNC_OK && run_rc == SSYNC_OK && k < m && !signalled(s)) {
        size_t n = 0;
        if (take_chunk(s, j, pool, &pj, &k, m, ops, sops, &n) != 0)
            rc = SSYNC_ERR_STATE;
        else if (n > 0)
            run_rc = send_chunk(s, j, ops, sops, n);
        else
            progress(s);
        if (rc == SSYNC_OK && audit_durable(s) != SSYNC_OK)
            rc = SSYNC_ERR_AUDIT;
    }
    if (rc == SSYNC_OK && h && h->progress_end)
        h->progress_end(h->ctx);
    /* records built ahead and never sent */
    ssync_pool_free(pool);
    for (size_t w = 0; pj.slots && w < pj.window; w++) {
        json_decref(pj.slots[w].record);
        free(pj.slots[w].error);
    }
    if (signalled(s))
        mark_unrun(s, "cancelled: not carried out (interrupted)", SSYNC_ERR_CANCELLED, 1);
    else if (rc != SSYNC_OK || run_rc != SSYNC_OK)
        mark_unrun(s, "not carried out: the run stopped", rc != SSYNC_OK ? rc : run_rc, 0);
    free(pj.slots);
    free(widx);
    free(ops);
    free(sops);
    EVP_PKEY_free(connector);
    return rc;
}

ssync_code ssync_sync_run(const ssync_sync_params *prm, ssync_plan *p, ssync_item_result *results,
                          ssync_sync_summary *out)
{
    memset(out, 0, sizeof *out);
    struct sync_run s = {.prm = prm, .plan = p, .results = results, .sum = out};
    ssync_error e = {0};
    if (prm->audit)
        ssync_trail_kras(prm->exporter ? prm->exporter->kras : NULL, s.kras, sizeof s.kras);
    for (size_t i = 0; i < p->count; i++)
        out->planned += is_write(&p->items[i]);
    ssync_journal *j = prm->journal;
    if (!j || ssync_journal_run_begin(j, "sync", &out->run_id, &e) != SSYNC_OK) {
        if (j)
            say(&s, SSYNC_LOG_ERROR, "[state] path: %s", e.msg);
        mark_unrun(&s, "not carried out: the journal cannot be opened", SSYNC_ERR_STATE, 0);
        return SSYNC_ERR_STATE;
    }
    const ssync_run_hooks *h = prm->hooks;
    out->resumed =
        ssync_resume(j, prm->graph, prm->listing, h ? h->log : NULL, h ? h->log_ctx : NULL);
    ssync_code rc = out->planned ? run_writes(&s, j) : SSYNC_OK;
    char summary[256];
    snprintf(summary, sizeof summary,
             "{\"writes\":%zu,\"done\":%zu,\"failed\":%zu,\"resumed\":%zu,\"interrupted\":%s}",
             out->planned, out->done, out->planned - out->done, out->resumed,
             out->interrupted ? "true" : "false");
    if (ssync_journal_run_end(j, out->run_id, summary, &e) != SSYNC_OK)
        say(&s, SSYNC_LOG_ERROR, "journal: %s", e.msg);
    return rc;
}

void ssync_item_results_free(ssync_item_result *results, size_t n)
{
    for (size_t i = 0; results && i < n; i++)
        free(results[i].error);
    free(results);
}
