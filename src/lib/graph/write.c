/* userPfxCertificate writes: a small state machine per create / delete operation (write, read
 * back after an ambiguous failure or a conflict, verify a delete), fed to the engine lazily. */
#include "graph/graph_int.h"

/* ---------------------------------------------------------------- create / delete */

enum { PH_WRITE, PH_VERIFY_AMBIG, PH_VERIFY_CONFLICT, PH_VERIFY_DELETED, PH_RECHECK };

typedef struct runctx {
    ssync_graph_op *ops;
    struct opstate *st;
    size_t n, next, queued_ops;
    ssync_graph_op_done done;
    void *ctx;
} runctx;

typedef struct opstate {
    ssync_graph_op *op;
    runctx *run;
    const char *upn; /* inside op->record */
    char thumb[41];
    char id[80];
    int phase;
    int finished;
    ssync_code saved_rc;
    ssync_error saved_err;
    ssync_graph_failure saved_detail;
    double saved_delay;
} opstate;

static void op_finish(ssync_graph *g, opstate *st, ssync_code rc, const ssync_error *e,
                      const ssync_graph_failure *detail)
{
    (void)g;
    if (st->finished)
        return;
    st->finished = 1;
    ssync_graph_op *op = st->op;
    op->result = rc;
    if (rc == SSYNC_OK || !e)
        ssync_fail(&op->err, rc, NULL);
    else
        op->err = *e;
    if (rc == SSYNC_OK)
        op->err.msg[0] = '\0';
    if (detail)
        op->detail = *detail;
    if (!op->id[0] && st->id[0])
        snprintf(op->id, sizeof op->id, "%s", st->id);
    st->run->queued_ops--;
    if (st->run->done)
        st->run->done(st->run->ctx, op);
}

static void create_post_done(ssync_graph *g, job *j);
static void create_verify_done(ssync_graph *g, job *j);
static void delete_done(ssync_graph *g, job *j);
static void delete_verify_done(ssync_graph *g, job *j);

static int submit(ssync_graph *g, opstate *st, const char *method, char *url, char *body,
                  size_t resp_max, job_done_fn done, double delay)
{
    job *j = url ? graph_job_new(method, url, body, resp_max, done, st) : NULL;
    if (!j) {
        if (!url)
            free(body);
        ssync_error e;
        ssync_fail(&e, SSYNC_ERR_NOMEM, "request");
        op_finish(g, st, e.code, &e, NULL);
        return 0;
    }
    if (j->is_write)
        j->attempts = st->op->sends; /* max_attempts bounds the operation's writes */
    j->not_before = delay > 0 ? ssync_mono() + delay : 0;
    graph_enqueue(g, j);
    return 1;
}

static void create_submit(ssync_graph *g, opstate *st, double delay)
{
    char *body = json_dumps(st->op->record, JSON_COMPACT);
    if (!body) {
        ssync_error e;
        ssync_fail(&e, SSYNC_ERR_RECORD, "cannot serialize the record");
        op_finish(g, st, e.code, &e, NULL);
        return;
    }
    st->phase = PH_WRITE;
    submit(g, st, "POST", graph_pfx_url(g, ""), body, 0, create_post_done, delay);
}

static void verify_by_filter(ssync_graph *g, opstate *st, int phase)
{
    char *q = ssync_pfx_filter_query(st->upn, st->thumb);
    char *u = graph_pfx_url(g, "?");
    char *url = q && u ? concat(u, q, "") : NULL;
    free(q);
    free(u);
    st->phase = phase;
    submit(g, st, "GET", url, NULL, SSYNC_HTTP_MAX_PAGE, create_verify_done, 0);
}

static void save(opstate *st, job *j)
{
    st->saved_rc = j->rc;
    st->saved_err = j->err;
    st->saved_detail = j->detail;
    st->saved_delay = j->retry_delay;
}

static int fatal_now(ssync_graph *g, opstate *st, job *j)
{
    if (g->fatal == SSYNC_OK)
        return 0;
    op_finish(g, st, j->rc != SSYNC_OK ? j->rc : g->fatal,
              j->rc != SSYNC_OK ? &j->err : &g->fatal_err, &j->detail);
    return 1;
}

static void create_post_done(ssync_graph *g, job *j)
{
    opstate *st = j->owner;
    st->op->sends = j->attempts;
    if (j->rc == SSYNC_OK) {
        ssync_pfx_entry e;
        ssync_error perr;
        json_t *root = ssync_http_is_json(j->x.content_type) && j->x.resp
                           ? json_loadb(j->x.resp, j->x.resp_len, 0, NULL)
                           : NULL;
        if (ssync_pfx_entry_from_json(root, &e, &perr) == SSYNC_OK) {
            snprintf(st->op->id, sizeof st->op->id, "%s", e.id);
            ssync_pfx_entry_free(&e);
        } else {
            glog(g, SSYNC_LOG_WARN, "POST answered %ld without a usable entity: %s",
                 j->detail.http_status, perr.msg);
        }
        json_decref(root);
        op_finish(g, st, SSYNC_OK, NULL, &j->detail);
        return;
    }
    if (fatal_now(g, st, j))
        return;
    long s = j->detail.http_status;
    if (j->ambiguous) {
        save(st, j);
        glog(g, SSYNC_LOG_WARN, "%s: outcome unknown, reading back before any new POST",
             j->err.msg);
        verify_by_filter(g, st, PH_VERIFY_AMBIG);
    } else if (s == 409 || s == 400) {
        /* Graph docs do not say what a duplicate POST answers: "exists" only if a read
         * finds it */
        save(st, j);
        verify_by_filter(g, st, PH_VERIFY_CONFLICT);
    } else {
        op_finish(g, st, j->rc, &j->err, &j->detail);
    }
}

/* Parses a filtered page and keeps the entries matching st: count found, first id. */
static size_t matches_in_page(opstate *st, job *j, char id[80], ssync_error *err)
{
    ssync_pfx_list l = {0};
    char *next = NULL;
    id[0] = '\0';
    if (!ssync_http_is_json(j->x.content_type)) {
        ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "read-back response is not JSON");
        return (size_t)-1;
    }
    if (ssync_pfx_page_parse(j->x.resp, j->x.resp_len, &l, &next, err) != SSYNC_OK)
        return (size_t)-1;
    free(next); /* a filtered lookup of one (user, thumbprint) fits on the first page */
    graph_keep_matching(&l, 0, st->upn, st->thumb);
    size_t n = l.count;
    if (n)
        snprintf(id, 80, "%s", l.items[0].id);
    ssync_pfx_list_free(&l);
    return n;
}

static void create_verify_done(ssync_graph *g, job *j)
{
    opstate *st = j->owner;
    if (j->rc != SSYNC_OK) {
        if (fatal_now(g, st, j))
            return;
        ssync_error_prefix(&j->err, "reading back after '%.150s': ", st->saved_err.msg);
        op_finish(g, st, j->rc, &j->err, &j->detail);
        return;
    }
    ssync_error perr;
    char id[80];
    size_t n = matches_in_page(st, j, id, &perr);
    if (n == (size_t)-1) {
        ssync_error_prefix(&perr, "reading back: ");
        op_finish(g, st, perr.code, &perr, &j->detail);
        return;
    }
    if (n > 0) {
        snprintf(st->op->id, sizeof st->op->id, "%s", id);
        st->op->already = 1;
        glog(g, SSYNC_LOG_INFO, "record %s is present (after: %s)", id, st->saved_err.msg);
        op_finish(g, st, SSYNC_OK, NULL, &st->saved_detail);
        return;
    }
    if (st->phase == PH_VERIFY_CONFLICT || st->op->sends >= g->max_attempts) {
        ssync_error e = st->saved_err;
        if (st->phase == PH_VERIFY_AMBIG)
            ssync_error_prefix(&e, "record absent after %u POSTs: ", st->op->sends);
        op_finish(g, st, st->saved_rc, &e, &st->saved_detail);
        return;
    }
    double d = ssync_backoff(st->op->sends, g->backoff_base, g->backoff_cap, rand01(g));
    if (st->saved_delay > d)
        d = st->saved_delay;
    glog(g, SSYNC_LOG_INFO, "record for %s / %s absent: POSTing again in %.1f s", st->upn,
         st->thumb, d);
    g->stats.retries++;
    create_submit(g, st, d);
}

static void delete_submit(ssync_graph *g, opstate *st, double delay)
{
    st->phase = PH_WRITE;
    submit(g, st, "DELETE", concat(g->base, "/deviceManagement/userPfxCertificates/", st->id), NULL,
           0, delete_done, delay);
}

static void delete_verify(ssync_graph *g, opstate *st, int phase, double delay)
{
    st->phase = phase;
    submit(g, st, "GET", concat(g->base, "/deviceManagement/userPfxCertificates/", st->id), NULL, 0,
           delete_verify_done, delay);
}

static void delete_done(ssync_graph *g, job *j)
{
    opstate *st = j->owner;
    st->op->sends = j->attempts;
    if (j->rc == SSYNC_OK) {
        save(st, j);
        delete_verify(g, st, PH_VERIFY_DELETED, 0);
    } else if (j->rc == SSYNC_ERR_NOT_FOUND) {
        st->op->already = 1;
        op_finish(g, st, SSYNC_OK, NULL, &j->detail);
    } else if (fatal_now(g, st, j)) {
        return;
    } else if (j->ambiguous) {
        save(st, j);
        delete_verify(g, st, PH_VERIFY_AMBIG, 0);
    } else {
        op_finish(g, st, j->rc, &j->err, &j->detail);
    }
}

static void delete_verify_done(ssync_graph *g, job *j)
{
    opstate *st = j->owner;
    if (j->rc == SSYNC_ERR_NOT_FOUND) {
        if (st->phase == PH_VERIFY_AMBIG)
            st->op->already = 0;
        op_finish(g, st, SSYNC_OK, NULL, &st->saved_detail);
        return;
    }
    if (j->rc != SSYNC_OK) {
        if (fatal_now(g, st, j))
            return;
        ssync_error_prefix(&j->err, "verifying the delete of %s: ", st->id);
        op_finish(g, st, j->rc, &j->err, &j->detail);
        return;
    }
    /* still there */
    if (st->phase == PH_VERIFY_DELETED) {
        /* look once more after a moment before calling it ineffective */
        delete_verify(g, st, PH_RECHECK, g->backoff_base);
        return;
    }
    if (st->phase == PH_RECHECK) {
        char line[400];
        ssync_graph_failure_format(&st->saved_detail, line, sizeof line);
        ssync_error e;
        ssync_fail(&e, SSYNC_ERR_DELETE_NOT_EFFECTIVE, "%s: %s is still returned by GET", line,
                   st->id);
        op_finish(g, st, e.code, &e, &st->saved_detail);
        return;
    }
    if (st->op->sends >= g->max_attempts) {
        op_finish(g, st, st->saved_rc, &st->saved_err, &st->saved_detail);
        return;
    }
    double d = ssync_backoff(st->op->sends, g->backoff_base, g->backoff_cap, rand01(g));
    if (st->saved_delay > d)
        d = st->saved_delay;
    g->stats.retries++;
    delete_submit(g, st, d);
}

/* Validates op and starts it; returns 0 when it finished at once (bad arguments). */
static void op_start(ssync_graph *g, opstate *st)
{
    ssync_graph_op *op = st->op;
    ssync_error e;
    if (op->kind == SSYNC_OP_CREATE) {
        json_t *u = json_object_get(op->record, "userPrincipalName");
        json_t *t = json_object_get(op->record, "thumbprint");
        if (!json_is_object(op->record) || !json_is_string(u) || json_string_length(u) == 0 ||
            !json_is_string(t) || json_string_length(t) != 40 ||
            strspn(json_string_value(t), "0123456789abcdef") != 40) {
            ssync_fail(&e, SSYNC_ERR_ARG,
                       "create: the record needs a userPrincipalName and a "
                       "lowercase 40-hex thumbprint");
            op_finish(g, st, e.code, &e, NULL);
            return;
        }
        st->upn = json_string_value(u);
        snprintf(st->thumb, sizeof st->thumb, "%s", json_string_value(t));
        create_submit(g, st, 0);
    } else if (op->kind == SSYNC_OP_DELETE) {
        if (ssync_pfx_record_id(op->user_id, op->thumbprint, st->id, &e) != SSYNC_OK) {
            ssync_error_prefix(&e, "delete: ");
            op_finish(g, st, e.code, &e, NULL);
            return;
        }
        snprintf(op->id, sizeof op->id, "%s", st->id);
        delete_submit(g, st, 0);
    } else {
        ssync_fail(&e, SSYNC_ERR_ARG, "unknown operation kind %d", (int)op->kind);
        op_finish(g, st, e.code, &e, NULL);
    }
}

/* Feeds operations to the queue a few at a time so that a run of 100000 does not hold 100000
 * serialized bodies. */
static void feed(ssync_graph *g, runctx *r)
{
    size_t want = (size_t)g->max_in_flight * 2;
    while (r->next < r->n && r->queued_ops < want && g->fatal == SSYNC_OK && !g->cancelled) {
        opstate *st = &r->st[r->next];
        st->op = &r->ops[r->next];
        st->run = r;
        r->next++;
        r->queued_ops++;
        op_start(g, st);
    }
}

static void feed_cb(ssync_graph *g, void *ctx)
{
    feed(g, ctx);
}

ssync_code ssync_graph_run(ssync_graph *g, ssync_graph_op *ops, size_t n, ssync_graph_op_done done,
                           void *ctx, ssync_error *err)
{
    if (!ops && n)
        return ssync_fail(err, SSYNC_ERR_ARG, "no operations");
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    runctx r = {.ops = ops, .n = n, .done = done, .ctx = ctx};
    r.st = calloc(n ? n : 1, sizeof *r.st);
    if (!r.st) {
        graph_run_end(g);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "operations");
    }
    for (size_t i = 0; i < n; i++) {
        ops[i].result = SSYNC_ERR_INTERNAL;
        ssync_error_clear(&ops[i].err);
        ssync_graph_failure_clear(&ops[i].detail);
        ops[i].id[0] = '\0';
        ops[i].already = 0;
        ops[i].sends = 0;
    }
    g->feed_fn = feed_cb;
    g->feed_ctx = &r;
    rc = graph_engine_run(g, err);
    g->feed_fn = NULL;
    g->feed_ctx = NULL;
    /* operations never started (fatal error or cancel) */
    ssync_code fatal = g->fatal != SSYNC_OK ? g->fatal : rc;
    for (; r.next < n; r.next++) {
        opstate *st = &r.st[r.next];
        st->op = &ops[r.next];
        st->run = &r;
        r.queued_ops++;
        ssync_error e = g->fatal_err;
        if (g->fatal == SSYNC_OK)
            ssync_fail(&e, fatal, "not started");
        op_finish(g, st, fatal != SSYNC_OK ? fatal : SSYNC_ERR_INTERNAL, &e, &g->fatal_detail);
    }
    if (g->fatal != SSYNC_OK) {
        rc = g->fatal;
        if (err)
            *err = g->fatal_err;
    }
    free(r.st);
    graph_run_end(g);
    return rc;
}

ssync_code ssync_graph_create_pfx(ssync_graph *g, json_t *record, char id_out[80], ssync_error *err)
{
    ssync_graph_op op = {.kind = SSYNC_OP_CREATE, .record = record};
    ssync_code rc = ssync_graph_run(g, &op, 1, NULL, NULL, err);
    if (rc != SSYNC_OK)
        return rc;
    if (id_out)
        snprintf(id_out, 80, "%s", op.id);
    if (op.result != SSYNC_OK && err)
        *err = op.err;
    return op.result;
}

ssync_code ssync_graph_delete_pfx(ssync_graph *g, const char *user_id, const char *thumbprint,
                                  ssync_error *err)
{
    ssync_graph_op op = {.kind = SSYNC_OP_DELETE, .user_id = user_id, .thumbprint = thumbprint};
    ssync_code rc = ssync_graph_run(g, &op, 1, NULL, NULL, err);
    if (rc != SSYNC_OK)
        return rc;
    if (op.result != SSYNC_OK && err)
        *err = op.err;
    return op.result;
}
