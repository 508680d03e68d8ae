/* The Graph client's engine: a FIFO of jobs (one HTTP request each, retried in place when that
 * is safe) on one libcurl multi handle, paced by the limiter; each answer is classified here. */
#include "graph/graph_int.h"

void graph_job_free(job *j)
{
    if (!j)
        return;
    ssync_http_cleanup(&j->x);
    free(j->url);
    free(j->body);
    free(j);
}

void graph_engine_clear(ssync_graph *g)
{
    for (job *j = g->head, *n; j; j = n) {
        n = j->next;
        graph_job_free(j);
    }
    g->head = g->tail = NULL;
}

/* ---------------------------------------------------------------- engine */

job *graph_job_new(const char *method, char *url, char *body, size_t resp_max, job_done_fn done,
                   void *owner)
{
    job *j = calloc(1, sizeof *j);
    if (!j) {
        free(url);
        free(body);
        return NULL;
    }
    snprintf(j->method, sizeof j->method, "%s", method);
    j->url = url;
    j->body = body;
    j->body_len = body ? strlen(body) : 0;
    j->resp_max = resp_max ? resp_max : SSYNC_HTTP_MAX_BODY;
    j->is_write = strcmp(method, "GET") != 0;
    j->cost = 1;
    j->done = done;
    j->owner = owner;
    return j;
}

void graph_enqueue(ssync_graph *g, job *j)
{
    j->next = NULL;
    if (g->tail)
        g->tail->next = j;
    else
        g->head = j;
    g->tail = j;
}

static void set_fatal(ssync_graph *g, ssync_code rc, const ssync_error *e,
                      const ssync_graph_failure *f)
{
    if (g->fatal != SSYNC_OK)
        return;
    g->fatal = rc;
    if (e)
        g->fatal_err = *e;
    else
        ssync_fail(&g->fatal_err, rc, NULL);
    if (f)
        g->fatal_detail = *f;
}

/* The job's final outcome: fill err from detail, hand it to the owner, free it. */
static void job_finish(ssync_graph *g, job *j, ssync_code rc, const char *extra)
{
    j->rc = rc;
    if (rc != SSYNC_OK) {
        char line[480];
        ssync_graph_failure_format(&j->detail, line, sizeof line);
        ssync_fail(&j->err, rc, "%s%s", line, extra ? extra : "");
        g->last = j->detail;
    } else {
        ssync_error_clear(&j->err);
    }
    if (j->done)
        j->done(g, j);
    if (!j->keep)
        graph_job_free(j);
}

/* A failure that stops the whole run: recorded as the run's fatal error first, so the owner
 * (and everything still queued) ends with it. */
static void job_finish_fatal(ssync_graph *g, job *j, ssync_code rc, const char *extra)
{
    ssync_error e;
    char line[480];
    ssync_graph_failure_format(&j->detail, line, sizeof line);
    ssync_fail(&e, rc, "%s%s", line, extra ? extra : "");
    set_fatal(g, rc, &e, &j->detail);
    job_finish(g, j, rc, extra);
}

/* A write whose effect is unknown (sent, then a transport failure or a 5xx/503/504): it ends
 * here and its owner reads the record back before anything is sent again. */
static void job_ambiguous(ssync_graph *g, job *j, ssync_code rc)
{
    j->ambiguous = 1;
    g->stats.ambiguous++;
    job_finish(g, j, rc, NULL);
}

static void job_retry(ssync_graph *g, job *j, double delay, ssync_code give_up_rc)
{
    if (j->attempts >= g->max_attempts) {
        char extra[64];
        snprintf(extra, sizeof extra, " (gave up after %u attempts)", j->attempts);
        job_finish(g, j, give_up_rc, extra);
        return;
    }
    ssync_http_cleanup(&j->x);
    j->not_before = ssync_mono() + delay;
    g->stats.retries++;
    graph_enqueue(g, j);
}

static double response_delay(ssync_graph *g, job *j, int *given)
{
    return retry_delay(g, j->x.retry_after, j->x.retry_after_ms, j->attempts ? j->attempts - 1 : 0,
                       given);
}

static void job_complete(ssync_graph *g, job *j, CURLcode cc)
{
    /* the service admitted the write before it answered: its window counts from here at the
     * latest (the first byte of the answer is no bound: it may precede the admission) */
    ssync_throttle_write_done(&g->thr, j->write_ticket, ssync_mono());
    j->write_ticket = 0;
    ssync_http_finish(&j->x, cc);
    g->stats.bytes_received += j->x.resp_len;
    ssync_graph_stats_count_answer(&g->stats, j->x.method, j->x.status);
    ssync_graph_failure_clear(&j->detail);
    ssync_answer a = ssync_http_answer(&j->x, &j->detail);
    j->ambiguous = 0;
    j->retry_delay = 0;
    double took = ssync_mono() - j->x.started;
    if (a == SSYNC_ANSWER_TRANSPORT_RETRY || a == SSYNC_ANSWER_TRANSPORT_FATAL ||
        a == SSYNC_ANSWER_TLS_FATAL) {
        if (j->x.overflow)
            snprintf(j->detail.message, sizeof j->detail.message,
                     "response body larger than %zu bytes", j->resp_max);
        glog(g, SSYNC_LOG_WARN, "%s %s: %s (client-request-id %s)", j->method, j->detail.target,
             j->detail.message, j->x.client_request_id);
        if (a == SSYNC_ANSWER_TLS_FATAL) { /* every request would fail alike */
            job_finish_fatal(g, j, SSYNC_ERR_TLS, NULL);
            return;
        }
        if (a == SSYNC_ANSWER_TRANSPORT_FATAL) {
            job_finish(g, j, j->x.overflow ? SSYNC_ERR_GRAPH_RESPONSE : SSYNC_ERR_HTTP, NULL);
            return;
        }
        if (!j->x.sent || !j->is_write) {
            double d = ssync_backoff(j->attempts - 1, g->backoff_base, g->backoff_cap, rand01(g));
            job_retry(g, j, d, cc == CURLE_SSL_CONNECT_ERROR ? SSYNC_ERR_TLS : SSYNC_ERR_HTTP);
            return;
        }
        job_ambiguous(g, j, SSYNC_ERR_HTTP);
        return;
    }
    long st = j->x.status;
    glog(g, SSYNC_LOG_DEBUG, "%s %s -> %ld (%.0f ms, client-request-id %s, request-id %s)",
         j->method, j->detail.target, st, took * 1000, j->x.client_request_id,
         j->x.request_id[0] ? j->x.request_id : "-");
    if (a == SSYNC_ANSWER_OK) {
        job_finish(g, j, SSYNC_OK, NULL);
        return;
    }
    if (ssync_http_is_json(j->x.content_type))
        ssync_graph_error_parse(j->x.resp, j->x.resp_len, &j->detail);
    if (!j->detail.code[0] && !j->detail.message[0] && j->x.resp_len)
        snprintf(j->detail.message, sizeof j->detail.message,
                 "error response is not Graph JSON (content-type %s)",
                 j->x.content_type[0] ? j->x.content_type : "none");
    if (a == SSYNC_ANSWER_UNAUTHORIZED) {
        if (!j->auth_retried) { /* refresh once and retry */
            j->auth_retried = 1;
            if (j->token_gen == g->token_gen) {
                ssync_token_clear(&g->token);
                g->stats.auth_refreshes++;
                glog(g, SSYNC_LOG_INFO, "Graph answered 401: getting a new token");
            }
            j->attempts--;
            job_retry(g, j, 0, SSYNC_ERR_AUTH);
            return;
        }
        job_finish_fatal(g, j, SSYNC_ERR_AUTH, " (Graph refused a fresh token)");
        return;
    }
    if (a == SSYNC_ANSWER_THROTTLED) {
        int given = 0;
        double d = response_delay(g, j, &given);
        g->stats.throttled++;
        /* a throttled answer pauses the whole pipe, not only this request */
        double before = g->thr.paused_until;
        double now = ssync_mono();
        ssync_throttle_pause(&g->thr, now, d);
        if (g->thr.paused_until > before)
            g->stats.paused_s += g->thr.paused_until - (before > now ? before : now);
        glog(g, SSYNC_LOG_WARN, "%s %s: HTTP %ld, pausing %.2f s%s (request-id %s)", j->method,
             j->detail.target, st, d, given ? " (Retry-After)" : "",
             j->x.request_id[0] ? j->x.request_id : "-");
        if (st == 429 || !j->is_write) {
            job_retry(g, j, d, SSYNC_ERR_THROTTLED);
        } else {
            j->retry_delay = d;
            job_ambiguous(g, j, SSYNC_ERR_GRAPH);
        }
        return;
    }
    if (a == SSYNC_ANSWER_SERVER_ERROR) {
        double d = ssync_backoff(j->attempts - 1, g->backoff_base, g->backoff_cap, rand01(g));
        if (!j->is_write) {
            job_retry(g, j, d, SSYNC_ERR_GRAPH);
        } else {
            j->retry_delay = d;
            job_ambiguous(g, j, SSYNC_ERR_GRAPH);
        }
        return;
    }
    if (a == SSYNC_ANSWER_NOT_FOUND) {
        job_finish(g, j, SSYNC_ERR_NOT_FOUND, NULL);
        return;
    }
    if (a == SSYNC_ANSWER_FORBIDDEN) { /* a missing permission fails every request alike */
        job_finish_fatal(g, j, SSYNC_ERR_GRAPH, " (missing application permission?)");
        return;
    }
    job_finish(g, j, SSYNC_ERR_GRAPH, NULL);
}

static ssync_code job_start(ssync_graph *g, job *j, double now, ssync_error *err)
{
    ssync_code rc = ssync_http_setup(&j->x, &g->http, j->method, j->url, g->token.access_token,
                                     "application/json", j->body, j->body_len, j->resp_max, err);
    if (rc != SSYNC_OK)
        return rc;
    curl_easy_setopt(j->x.easy, CURLOPT_PRIVATE, j);
    if (curl_multi_add_handle(g->multi, j->x.easy) != CURLM_OK) {
        ssync_http_cleanup(&j->x);
        return ssync_fail(err, SSYNC_ERR_HTTP, "cannot add a transfer");
    }
    j->x.started = now;
    j->token_gen = g->token_gen;
    j->attempts++;
    j->active = 1;
    g->active++;
    g->stats.requests++;
    if (j->is_write)
        g->stats.writes++;
    j->write_ticket = ssync_throttle_take(&g->thr, now, j->is_write, j->cost);
    return SSYNC_OK;
}

/* Ends every queued job with the fatal error (running ones are ended by graph_engine_run). */
static void drain(ssync_graph *g)
{
    ssync_code rc = g->fatal != SSYNC_OK ? g->fatal : SSYNC_ERR_CANCELLED;
    const char *why = g->fatal != SSYNC_OK ? " (run stopped by an earlier fatal error)" : "";
    while (g->head) {
        job *j = g->head;
        g->head = j->next;
        if (!g->head)
            g->tail = NULL;
        if (g->fatal == SSYNC_OK)
            snprintf(j->detail.message, sizeof j->detail.message, "not sent: cancelled");
        else
            snprintf(j->detail.message, sizeof j->detail.message, "not sent: %s",
                     ssync_strerror(rc));
        job_finish(g, j, rc, why);
    }
}

/* Runs the queue until it is empty. */
ssync_code graph_engine_run(ssync_graph *g, ssync_error *err)
{
    job **running = calloc(g->max_in_flight, sizeof *running);
    if (!running)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "engine");
    for (;;) {
        if (g->feed_fn && g->fatal == SSYNC_OK && !g->cancelled)
            g->feed_fn(g, g->feed_ctx);
        if (!g->head && !g->active)
            break;
        if (g->cancelled && g->fatal == SSYNC_OK)
            set_fatal(g, SSYNC_ERR_CANCELLED, NULL, NULL);
        if (g->fatal != SSYNC_OK) {
            for (unsigned i = 0; i < g->max_in_flight; i++) {
                job *j = running[i];
                if (!j)
                    continue;
                running[i] = NULL;
                curl_multi_remove_handle(g->multi, j->x.easy);
                j->active = 0;
                g->active--;
                ssync_throttle_write_done(&g->thr, j->write_ticket, ssync_mono());
                j->write_ticket = 0;
                ssync_http_describe(&j->x, &j->detail);
                snprintf(j->detail.message, sizeof j->detail.message, "abandoned: %s",
                         ssync_strerror(g->fatal));
                /* an abandoned write may have been applied */
                j->ambiguous = j->is_write;
                job_finish(g, j, g->fatal, NULL);
            }
            drain(g);
            continue;
        }
        double now = ssync_mono();
        double wake = now + 1.0;
        /* start what may start */
        job *prev = NULL;
        for (job *j = g->head; j && g->active < g->max_in_flight;) {
            job *next = j->next;
            if (j->not_before > now) {
                if (j->not_before < wake)
                    wake = j->not_before;
                prev = j;
                j = next;
                continue;
            }
            double w = ssync_throttle_wait(&g->thr, now, j->is_write, j->cost);
            if (w > 0) {
                if (now + w < wake)
                    wake = now + w;
                if (g->thr.paused_until > now)
                    break; /* paused: nothing goes */
                prev = j;
                j = next;
                continue;
            }
            ssync_error terr;
            if (graph_token_ensure(g, &terr) != SSYNC_OK) {
                set_fatal(g, terr.code, &terr, &g->last);
                break;
            }
            /* unlink and start */
            if (prev)
                prev->next = next;
            else
                g->head = next;
            if (g->tail == j)
                g->tail = prev;
            j->next = NULL;
            ssync_error serr;
            if (job_start(g, j, now, &serr) != SSYNC_OK) {
                j->err = serr;
                job_finish(g, j, serr.code, NULL);
            } else {
                for (unsigned i = 0; i < g->max_in_flight; i++)
                    if (!running[i]) {
                        running[i] = j;
                        break;
                    }
            }
            j = next;
        }
        if (g->fatal != SSYNC_OK)
            continue;
        int still = 0;
        curl_multi_perform(g->multi, &still);
        CURLMsg *m;
        int left, completed = 0;
        while ((m = curl_multi_info_read(g->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            CURLcode cc = m->data.result;
            curl_multi_remove_handle(g->multi, m->easy_handle);
            for (unsigned i = 0; i < g->max_in_flight; i++)
                if (running[i] == j)
                    running[i] = NULL;
            j->active = 0;
            g->active--;
            job_complete(g, j, cc);
            completed++;
        }
        if (!g->head && !g->active && !g->feed_fn)
            break;
        /* a completion may have made room for more work (the feed, a read-back, the end of
         * the run): look again at once instead of sleeping until the next timer (up to 1 s
         * with nothing in flight) */
        if (completed)
            continue;
        now = ssync_mono();
        int timeout_ms = (int)((wake - now) * 1000);
        if (timeout_ms < 0)
            timeout_ms = 0;
        if (timeout_ms > 1000)
            timeout_ms = 1000;
        if (g->active) {
            long cto = -1;
            curl_multi_timeout(g->multi, &cto);
            if (cto >= 0 && cto < timeout_ms)
                timeout_ms = (int)cto;
        }
        curl_multi_poll(g->multi, NULL, 0, timeout_ms, NULL);
    }
    free(running);
    return SSYNC_OK;
}

/* Runs one job to its end; the caller owns it afterwards (graph_job_free). */
static void keep_done(ssync_graph *g, job *j)
{
    (void)g;
    j->keep = 1;
}

ssync_code graph_run_begin(ssync_graph *g, ssync_error *err)
{
    if (!g)
        return ssync_fail(err, SSYNC_ERR_ARG, "no graph client");
    if (g->running)
        return ssync_fail(err, SSYNC_ERR_ARG, "graph client busy (not re-entrant)");
    g->running = 1;
    g->fatal = SSYNC_OK;
    ssync_error_clear(&g->fatal_err);
    ssync_graph_failure_clear(&g->fatal_detail);
    return SSYNC_OK;
}

ssync_code graph_run_one(ssync_graph *g, job *j, ssync_error *err)
{
    j->done = keep_done;
    graph_enqueue(g, j);
    ssync_code rc = graph_engine_run(g, err);
    if (rc != SSYNC_OK)
        return rc;
    if (g->fatal != SSYNC_OK && j->rc != SSYNC_OK) {
        if (err)
            *err = g->fatal_err;
        return g->fatal;
    }
    if (j->rc != SSYNC_OK && err)
        *err = j->err;
    return j->rc;
}

void graph_run_end(ssync_graph *g)
{
    g->running = 0;
}
