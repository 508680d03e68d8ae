/* The Graph client: one libcurl multi handle, a FIFO of jobs (one HTTP request each, retried in
 * place when that is safe), and small state machines for create / delete / lookups on top. */
#include "graph/graph.h"

#include "graph/http.h"
#include "graph/throttle.h"
#include "common/clock.h"
#include "common/uuid.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct job job;
typedef void (*job_done_fn)(ssync_graph *g, job *j);

struct job {
    job *next;
    /* the request */
    char method[8];
    char *url;
    char *body;
    size_t body_len;
    size_t resp_max;
    int is_write;
    unsigned cost; /* request tokens ($batch: one per inner request) */
    /* state */
    unsigned attempts;
    double not_before;
    int auth_retried;
    unsigned token_gen;
    int active;
    unsigned long long write_ticket; /* the write's grant in the limiter, settled at the end */
    ssync_http_xfer x;
    /* outcome */
    ssync_code rc;
    ssync_error err;
    ssync_graph_failure detail;
    int ambiguous;      /* a write failed after it may have been applied */
    double retry_delay; /* a Retry-After or backoff the owner should respect */
    int keep;           /* the owner frees the job */
    job_done_fn done;
    void *owner;
    size_t tag;
};

struct ssync_graph {
    char *authority, *graph, *version, *tenant, *client_id, *client_secret, *ca_file;
    char *base;      /* {graph}/{version} */
    char *token_url; /* {authority}/{tenant}/oauth2/v2.0/token */
    X509 *cert;
    EVP_PKEY *key;
    ssync_assertion_alg alg;
    char user_agent[64];
    ssync_http_opts http;
    unsigned max_in_flight, max_attempts;
    double backoff_base, backoff_cap, retry_after_cap;
    size_t max_pages;
    ssync_log_fn log;
    void *log_ctx;

    CURLM *multi;
    ssync_throttle thr;
    ssync_token token;
    double token_refresh_at;
    unsigned token_gen;
    job *head, *tail;
    unsigned active;
    int running;
    volatile sig_atomic_t cancelled;
    ssync_code fatal;
    ssync_error fatal_err;
    ssync_graph_failure fatal_detail;
    ssync_graph_failure last;
    ssync_graph_stats stats;
    uint64_t rng;
    void (*feed_fn)(ssync_graph *g, void *ctx); /* tops up the queue (ssync_graph_run) */
    void *feed_ctx;
};

/* ---------------------------------------------------------------- small helpers */

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static double rand01(ssync_graph *g)
{
    /* xorshift64*: jitter only, seeded from the CSPRNG per handle */
    uint64_t x = g->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->rng = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void glog(ssync_graph *g, ssync_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void glog(ssync_graph *g, ssync_log_level lvl, const char *fmt, ...)
{
    if (!g->log)
        return;
    char buf[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g->log(g->log_ctx, lvl, buf);
}

static char *trimmed_dup(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *concat(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* characters allowed in a tenant or client id placed into a URL path */
static int id_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
            return 0;
    return 1;
}

static int https_url_ok(const char *u)
{
    return u && strncasecmp(u, "https://", 8) == 0 && strlen(u) > 8 && strlen(u) < 512 &&
           !strpbrk(u, " \t\r\n?#");
}

/* ---------------------------------------------------------------- handle */

ssync_code ssync_graph_new(const ssync_graph_config *cfg, ssync_graph **out, ssync_error *err)
{
    if (!cfg || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "graph: no config");
    *out = NULL;
    const char *authority = cfg->authority_url ? cfg->authority_url : SSYNC_DEFAULT_AUTHORITY;
    const char *graph = cfg->graph_url ? cfg->graph_url : SSYNC_DEFAULT_GRAPH;
    const char *version = cfg->api_version ? cfg->api_version : "beta";
    if (!https_url_ok(authority))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "authority URL must be an https URL");
    if (!https_url_ok(graph))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "Graph URL must be an https URL");
    if (!id_ok(version))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "bad Graph API version");
    if (!id_ok(cfg->tenant_id))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "tenant id missing or not a GUID/domain");
    if (!id_ok(cfg->client_id))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "client id missing or invalid");
    int has_secret = cfg->client_secret && *cfg->client_secret;
    int has_cert = cfg->client_cert || cfg->client_key;
    if (has_secret == has_cert)
        return ssync_fail(err, SSYNC_ERR_CONFIG,
                          "give either a client secret or a client certificate and key");
    if (has_cert) {
        if (!cfg->client_cert || !cfg->client_key)
            return ssync_fail(err, SSYNC_ERR_CONFIG, "client certificate and key go together");
        if (EVP_PKEY_get_base_id(cfg->client_key) != EVP_PKEY_RSA)
            return ssync_fail(err, SSYNC_ERR_CONFIG, "client key must be RSA (RS256/PS256)");
        if (X509_check_private_key(cfg->client_cert, cfg->client_key) != 1)
            return ssync_fail_ssl(err, SSYNC_ERR_CONFIG,
                                  "client key does not match the client certificate");
    }
    if (cfg->assertion_alg != SSYNC_ASSERTION_RS256 && cfg->assertion_alg != SSYNC_ASSERTION_PS256)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "unknown assertion algorithm");

    ssync_graph *g = calloc(1, sizeof *g);
    if (!g)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "graph client");
    g->authority = trimmed_dup(authority);
    g->graph = trimmed_dup(graph);
    g->version = strdup(version);
    g->tenant = strdup(cfg->tenant_id);
    g->client_id = strdup(cfg->client_id);
    g->client_secret = has_secret ? strdup(cfg->client_secret) : NULL;
    g->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    if (g->graph && g->version)
        g->base = concat(g->graph, "/", g->version);
    if (g->authority && g->tenant) {
        char *t = concat(g->authority, "/", g->tenant);
        g->token_url = t ? concat(t, "/oauth2/v2.0/token", "") : NULL;
        free(t);
    }
    g->multi = curl_multi_init();
    if (!g->authority || !g->graph || !g->version || !g->tenant || !g->client_id ||
        (has_secret && !g->client_secret) || (cfg->ca_file && !g->ca_file) || !g->base ||
        !g->token_url || !g->multi) {
        ssync_graph_free(g);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "graph client");
    }
    if (has_cert) {
        X509_up_ref(cfg->client_cert);
        EVP_PKEY_up_ref(cfg->client_key);
        g->cert = cfg->client_cert;
        g->key = cfg->client_key;
    }
    g->alg = cfg->assertion_alg;
    snprintf(g->user_agent, sizeof g->user_agent, "smimesync/%s", SSYNC_VERSION);
    g->http.ca_file = g->ca_file;
    g->http.connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    g->http.timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 60000;
    g->http.user_agent = g->user_agent;
    g->max_in_flight = cfg->max_in_flight ? cfg->max_in_flight : 8;
    if (g->max_in_flight > 256)
        g->max_in_flight = 256;
    g->max_attempts = cfg->max_attempts ? cfg->max_attempts : 6;
    g->backoff_base = cfg->backoff_base_s > 0 ? cfg->backoff_base_s : 1.0;
    g->backoff_cap = cfg->backoff_cap_s > 0 ? cfg->backoff_cap_s : 60.0;
    g->retry_after_cap = cfg->retry_after_cap_s > 0 ? cfg->retry_after_cap_s : 300.0;
    g->max_pages = cfg->max_pages ? cfg->max_pages : 100000;
    g->log = cfg->log;
    g->log_ctx = cfg->log_ctx;
    if (RAND_bytes((unsigned char *)&g->rng, sizeof g->rng) != 1 || g->rng == 0)
        g->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(g->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)g->max_in_flight);
    ssync_code rc =
        ssync_throttle_init(&g->thr, cfg->write_limit ? cfg->write_limit : 100,
                            cfg->request_limit ? cfg->request_limit : 1000,
                            cfg->limit_window_s > 0 ? cfg->limit_window_s : 20.0, ssync_mono(), err);
    if (rc != SSYNC_OK) {
        ssync_graph_free(g);
        return rc;
    }
    *out = g;
    return SSYNC_OK;
}

static void job_free(job *j)
{
    if (!j)
        return;
    ssync_http_cleanup(&j->x);
    free(j->url);
    free(j->body);
    free(j);
}

void ssync_graph_free(ssync_graph *g)
{
    if (!g)
        return;
    for (job *j = g->head, *n; j; j = n) {
        n = j->next;
        job_free(j);
    }
    if (g->multi)
        curl_multi_cleanup(g->multi);
    ssync_throttle_free(&g->thr);
    ssync_token_clear(&g->token);
    ssync_secret_free(g->client_secret);
    X509_free(g->cert);
    EVP_PKEY_free(g->key);
    free(g->authority);
    free(g->graph);
    free(g->version);
    free(g->tenant);
    free(g->client_id);
    free(g->ca_file);
    free(g->base);
    free(g->token_url);
    OPENSSL_cleanse(g, sizeof *g);
    free(g);
}

void ssync_graph_cancel(ssync_graph *g)
{
    if (g)
        g->cancelled = 1;
}

const ssync_graph_failure *ssync_graph_last_failure(const ssync_graph *g)
{
    return g ? &g->last : NULL;
}

void ssync_graph_get_stats(const ssync_graph *g, ssync_graph_stats *out)
{
    if (g && out)
        *out = g->stats;
}

/* ---------------------------------------------------------------- token */

static ssync_code token_fetch(ssync_graph *g, ssync_error *err)
{
    ssync_graph_failure f;
    ssync_code rc = SSYNC_ERR_AUTH;
    unsigned tries = g->max_attempts < 4 ? g->max_attempts : 4;
    for (unsigned attempt = 0; attempt < tries; attempt++) {
        if (g->cancelled)
            return ssync_fail(err, SSYNC_ERR_CANCELLED, "while requesting a token");
        ssync_client_cred cred = {.client_id = g->client_id,
                                  .client_secret = g->client_secret,
                                  .cert = g->cert,
                                  .key = g->key,
                                  .alg = g->alg};
        char *form = NULL;
        rc = ssync_token_form(&cred, g->token_url, g->graph, time(NULL), &form, err);
        if (rc != SSYNC_OK)
            return rc;
        ssync_http_xfer x;
        rc = ssync_http_setup(&x, &g->http, "POST", g->token_url, NULL,
                              "application/x-www-form-urlencoded", form, strlen(form),
                              SSYNC_HTTP_MAX_BODY, err);
        ssync_secret_free(form);
        if (rc != SSYNC_OK)
            return rc;
        x.body_secret = 1;
        g->stats.token_requests++;
        ssync_http_finish(&x, curl_easy_perform(x.easy));
        ssync_graph_failure_clear(&f);
        ssync_http_describe(&x, &f);
        ssync_transport_class tc = ssync_http_classify(&x);
        int retry = 0;
        if (tc != SSYNC_TRANSPORT_OK) {
            ssync_sanitize_line(f.message, sizeof f.message,
                                x.errbuf[0] ? x.errbuf : curl_easy_strerror(x.result),
                                sizeof x.errbuf);
            if (tc == SSYNC_TRANSPORT_RETRY) {
                retry = 1;
                rc = SSYNC_ERR_HTTP;
            } else {
                rc = tc == SSYNC_TRANSPORT_TLS_FATAL ? SSYNC_ERR_TLS : SSYNC_ERR_HTTP;
            }
        } else if (x.status == 200) {
            ssync_token_clear(&g->token);
            rc = ssync_token_parse(x.resp, x.resp_len, &g->token, err);
            if (rc == SSYNC_OK) {
                g->token_refresh_at = ssync_mono() + ssync_token_refresh_after(g->token.expires_in);
                g->token_gen++;
                glog(g, SSYNC_LOG_INFO, "token acquired (expires in %.0f s, client-request-id %s)",
                     g->token.expires_in, x.client_request_id);
                ssync_graph_failure_clear(&g->last);
            } else {
                ssync_error_prefix(err, "%s: ", g->token_url);
            }
            ssync_http_cleanup(&x);
            return rc;
        } else {
            if (!ssync_entra_error_parse(x.resp, x.resp_len, &f) && x.resp_len)
                snprintf(f.message, sizeof f.message, "unexpected response (content-type %s)",
                         x.content_type[0] ? x.content_type : "none");
            /* 400/401 are configuration errors; retry only 5xx and temporarily_unavailable
             * (1.4). */
            retry = x.status >= 500 || strcmp(f.code, "temporarily_unavailable") == 0 ||
                    x.status == 429;
            rc = SSYNC_ERR_AUTH;
        }
        ssync_http_cleanup(&x);
        g->last = f;
        char line[480];
        ssync_graph_failure_format(&f, line, sizeof line);
        ssync_fail(err, rc, "%s", line);
        if (!retry || attempt + 1 >= tries)
            return rc;
        double d = ssync_backoff(attempt, g->backoff_base, g->backoff_cap, rand01(g));
        glog(g, SSYNC_LOG_WARN, "token request failed, retrying in %.1f s: %s", d, line);
        sleep_s(d);
    }
    return rc;
}

static ssync_code token_ensure(ssync_graph *g, ssync_error *err)
{
    if (g->token.access_token && ssync_mono() < g->token_refresh_at)
        return SSYNC_OK;
    return token_fetch(g, err);
}

ssync_code ssync_graph_authenticate(ssync_graph *g, ssync_error *err)
{
    if (!g)
        return ssync_fail(err, SSYNC_ERR_ARG, "no graph client");
    return token_ensure(g, err);
}

/* ---------------------------------------------------------------- engine */

static job *job_new(const char *method, char *url, char *body, size_t resp_max, job_done_fn done,
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

static void enqueue(ssync_graph *g, job *j)
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
        job_free(j);
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
    enqueue(g, j);
}

static double response_delay(ssync_graph *g, job *j, int *given)
{
    double ra = -1, ms = -1;
    int a = ssync_retry_after_parse(j->x.retry_after, time(NULL), g->retry_after_cap, &ra);
    int b = ssync_retry_after_ms_parse(j->x.retry_after_ms, g->retry_after_cap, &ms);
    *given = a || b;
    if (a || b)
        return ra > ms ? ra : ms;
    return ssync_backoff(j->attempts ? j->attempts - 1 : 0, g->backoff_base, g->backoff_cap,
                         rand01(g));
}

static void job_complete(ssync_graph *g, job *j, CURLcode cc)
{
    /* the service admitted the write before it answered: its window counts from here at the
     * latest (the first byte of the answer is no bound: it may precede the admission) */
    ssync_throttle_write_done(&g->thr, j->write_ticket, ssync_mono());
    j->write_ticket = 0;
    ssync_http_finish(&j->x, cc);
    g->stats.bytes_received += j->x.resp_len;
    ssync_graph_failure_clear(&j->detail);
    ssync_http_describe(&j->x, &j->detail);
    j->ambiguous = 0;
    j->retry_delay = 0;
    double took = ssync_mono() - j->x.started;
    ssync_transport_class tc = ssync_http_classify(&j->x);
    if (tc != SSYNC_TRANSPORT_OK) {
        if (j->x.overflow)
            snprintf(j->detail.message, sizeof j->detail.message,
                     "response body larger than %zu bytes", j->resp_max);
        else
            ssync_sanitize_line(j->detail.message, sizeof j->detail.message,
                                j->x.errbuf[0] ? j->x.errbuf : curl_easy_strerror(cc),
                                sizeof j->x.errbuf);
        glog(g, SSYNC_LOG_WARN, "%s %s: %s (client-request-id %s)", j->method, j->detail.target,
             j->detail.message, j->x.client_request_id);
        if (tc == SSYNC_TRANSPORT_TLS_FATAL) { /* every request would fail alike */
            job_finish_fatal(g, j, SSYNC_ERR_TLS, NULL);
            return;
        }
        if (tc == SSYNC_TRANSPORT_FATAL) {
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
    if (st >= 200 && st < 300) {
        job_finish(g, j, SSYNC_OK, NULL);
        return;
    }
    if (ssync_http_is_json(j->x.content_type))
        ssync_graph_error_parse(j->x.resp, j->x.resp_len, &j->detail);
    if (!j->detail.code[0] && !j->detail.message[0] && j->x.resp_len)
        snprintf(j->detail.message, sizeof j->detail.message,
                 "error response is not Graph JSON (content-type %s)",
                 j->x.content_type[0] ? j->x.content_type : "none");
    if (st == 401) {
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
    if (st == 429 || st == 503 || st == 504) {
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
    if (st >= 500) {
        double d = ssync_backoff(j->attempts - 1, g->backoff_base, g->backoff_cap, rand01(g));
        if (!j->is_write) {
            job_retry(g, j, d, SSYNC_ERR_GRAPH);
        } else {
            j->retry_delay = d;
            job_ambiguous(g, j, SSYNC_ERR_GRAPH);
        }
        return;
    }
    if (st == 404) {
        job_finish(g, j, SSYNC_ERR_NOT_FOUND, NULL);
        return;
    }
    if (st == 403) { /* a missing permission fails every request alike */
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

/* Ends every queued job with the fatal error (running ones are ended by engine_run). */
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
static ssync_code engine_run(ssync_graph *g, ssync_error *err)
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
            if (token_ensure(g, &terr) != SSYNC_OK) {
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

/* Runs one job to its end; the caller owns it afterwards (job_free). */
static void keep_done(ssync_graph *g, job *j)
{
    (void)g;
    j->keep = 1;
}

static ssync_code run_begin(ssync_graph *g, ssync_error *err)
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

static ssync_code run_one(ssync_graph *g, job *j, ssync_error *err)
{
    j->done = keep_done;
    enqueue(g, j);
    ssync_code rc = engine_run(g, err);
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

static void run_end(ssync_graph *g)
{
    g->running = 0;
}

/* An error's detail without the table message in front ("malformed Graph response: x" -> "x"). */
static const char *detail_of(const ssync_error *e)
{
    const char *t = ssync_strerror(e->code);
    size_t n = strlen(t);
    if (strncmp(e->msg, t, n) == 0 && e->msg[n] == ':' && e->msg[n + 1] == ' ')
        return e->msg + n + 2;
    return e->msg;
}

/* A response-level failure of a request that otherwise succeeded (bad JSON, wrong content
 * type, hostile paging): the message carries the request's ids. */
static ssync_code fail_resp(ssync_graph *g, job *j, ssync_error *err, ssync_code rc,
                            const char *what)
{
    ssync_sanitize_line(j->detail.message, sizeof j->detail.message, what, strlen(what));
    char line[480];
    ssync_graph_failure_format(&j->detail, line, sizeof line);
    g->last = j->detail;
    return ssync_fail(err, rc, "%s", line);
}

static char *pfx_url(ssync_graph *g, const char *suffix)
{
    return concat(g->base, "/deviceManagement/userPfxCertificates", suffix);
}

/* Parses one listing page into the caller's collection and sets *next_link (or NULL). */
typedef ssync_code (*page_parse_fn)(const char *body, size_t len, void *out, char **next_link,
                                    ssync_error *err);

/* GETs url and every nextLink after it, handing each page to parse. Takes url. The guards
 * (page limit, loop, foreign host, content type) hold for every collection. */
static ssync_code list_pages_with(ssync_graph *g, char *url, page_parse_fn parse, void *out,
                                  ssync_error *err)
{
    ssync_linkset seen = {0};
    ssync_code rc = SSYNC_OK;
    size_t pages = 0;
    while (url) {
        if (g->cancelled) {
            rc = ssync_fail(err, SSYNC_ERR_CANCELLED, "listing stopped after %zu pages", pages);
            break;
        }
        if (++pages > g->max_pages) {
            rc = ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE,
                            "listing has more than %zu pages: giving up", g->max_pages);
            break;
        }
        int fresh = ssync_linkset_add(&seen, url);
        if (fresh <= 0) {
            rc = fresh < 0
                     ? ssync_fail(err, SSYNC_ERR_NOMEM, "listing")
                     : ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE,
                                  "@odata.nextLink loop: page %zu links to an earlier page", pages);
            break;
        }
        job *j = job_new("GET", url, NULL, SSYNC_HTTP_MAX_PAGE, NULL, NULL);
        url = NULL;
        if (!j) {
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "listing");
            break;
        }
        rc = run_one(g, j, err);
        if (rc == SSYNC_OK && !ssync_http_is_json(j->x.content_type)) {
            char what[200];
            snprintf(what, sizeof what, "listing page has content-type '%s', not JSON",
                     j->x.content_type);
            rc = fail_resp(g, j, err, SSYNC_ERR_GRAPH_RESPONSE, what);
        }
        if (rc == SSYNC_OK) {
            ssync_error perr;
            rc = parse(j->x.resp, j->x.resp_len, out, &url, &perr);
            if (rc != SSYNC_OK)
                fail_resp(g, j, err, rc, detail_of(&perr));
        }
        if (rc == SSYNC_OK && url && !ssync_nextlink_allowed(url, g->graph)) {
            free(url);
            url = NULL;
            rc = fail_resp(g, j, err, SSYNC_ERR_GRAPH_RESPONSE,
                           "@odata.nextLink points away from the configured Graph host");
        }
        job_free(j);
        if (rc != SSYNC_OK)
            break;
    }
    free(url);
    ssync_linkset_free(&seen);
    return rc;
}

static ssync_code pfx_page(const char *body, size_t len, void *out, char **next_link,
                           ssync_error *err)
{
    return ssync_pfx_page_parse(body, len, out, next_link, err);
}

static ssync_code list_pages(ssync_graph *g, char *url, ssync_pfx_list *out, ssync_error *err)
{
    return list_pages_with(g, url, pfx_page, out, err);
}

/* Keeps only the entries that match upn (and thumbprint): a filter the server ignored must not
 * make us believe a record exists. */
static void keep_matching(ssync_pfx_list *l, size_t from, const char *upn, const char *thumb)
{
    size_t o = from;
    for (size_t i = from; i < l->count; i++) {
        ssync_pfx_entry *e = &l->items[i];
        int ok = e->user_principal_name && strcasecmp(e->user_principal_name, upn) == 0 &&
                 (!thumb || (e->thumbprint && strcasecmp(e->thumbprint, thumb) == 0));
        if (ok)
            l->items[o++] = *e;
        else
            ssync_pfx_entry_free(e);
    }
    l->count = o;
}

ssync_code ssync_graph_list_pfx(ssync_graph *g, ssync_pfx_list *out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output list");
    ssync_code rc = run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    char *url = pfx_url(g, "");
    rc = url ? list_pages(g, url, out, err) : ssync_fail(err, SSYNC_ERR_NOMEM, "url");
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    run_end(g);
    return rc;
}

static ssync_code list_filtered(ssync_graph *g, const char *upn, const char *thumb,
                                ssync_pfx_list *out, ssync_error *err)
{
    if (!upn || !*upn || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "user principal name required");
    char *q = ssync_pfx_filter_query(upn, thumb);
    if (!q)
        return ssync_fail(err, SSYNC_ERR_ARG, "cannot build a filter for '%.100s'", upn);
    char *url = pfx_url(g, "?");
    char *full = url ? concat(url, q, "") : NULL;
    free(url);
    free(q);
    if (!full)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "url");
    size_t from = out->count;
    ssync_code rc = list_pages(g, full, out, err);
    if (rc == SSYNC_OK)
        keep_matching(out, from, upn, thumb);
    return rc;
}

ssync_code ssync_graph_list_pfx_by_user(ssync_graph *g, const char *upn, ssync_pfx_list *out,
                                        ssync_error *err)
{
    ssync_code rc = run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    rc = list_filtered(g, upn, NULL, out, err);
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    run_end(g);
    return rc;
}

ssync_code ssync_graph_find_pfx(ssync_graph *g, const char *upn, const char *thumbprint,
                                ssync_pfx_entry *out, ssync_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!thumbprint || !*thumbprint)
        return ssync_fail(err, SSYNC_ERR_ARG, "thumbprint required");
    ssync_code rc = run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    ssync_pfx_list l = {0};
    rc = list_filtered(g, upn, thumbprint, &l, err);
    if (rc == SSYNC_OK && l.count == 0)
        rc = ssync_fail(err, SSYNC_ERR_NOT_FOUND, "no userPfxCertificate for %.200s / %.64s", upn,
                        thumbprint);
    if (rc == SSYNC_OK && out) {
        *out = l.items[0];
        memset(&l.items[0], 0, sizeof l.items[0]);
    }
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    ssync_pfx_list_free(&l);
    run_end(g);
    return rc;
}

ssync_code ssync_pfx_record_id(const char *user_id, const char *thumbprint, char out[80],
                               ssync_error *err)
{
    char u[33];
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    out[0] = '\0';
    if (!ssync_uuid_nodash(user_id, u))
        return ssync_fail(err, SSYNC_ERR_ARG, "user id '%.64s' is not a GUID",
                          user_id ? user_id : "");
    if (!thumbprint || strlen(thumbprint) != 40 ||
        strspn(thumbprint, "0123456789abcdefABCDEF") != 40)
        return ssync_fail(err, SSYNC_ERR_ARG, "thumbprint '%.64s' is not 40 hex digits",
                          thumbprint ? thumbprint : "");
    snprintf(out, 80, "%s-%s", u, thumbprint);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return SSYNC_OK;
}

static int record_id_ok(const char *id)
{
    return id && *id && strlen(id) < 80 && strspn(id, "0123456789abcdefABCDEF-") == strlen(id);
}

static ssync_code parse_entity(ssync_graph *g, job *j, ssync_pfx_entry *out, ssync_error *err)
{
    if (!ssync_http_is_json(j->x.content_type))
        return fail_resp(g, j, err, SSYNC_ERR_GRAPH_RESPONSE, "response is not JSON");
    json_t *root = json_loadb(j->x.resp ? j->x.resp : "", j->x.resp_len, 0, NULL);
    ssync_error perr;
    ssync_code rc = ssync_pfx_entry_from_json(root, out, &perr);
    json_decref(root);
    if (rc != SSYNC_OK)
        return fail_resp(g, j, err, rc, detail_of(&perr));
    return SSYNC_OK;
}

ssync_code ssync_graph_get_pfx(ssync_graph *g, const char *id, ssync_pfx_entry *out,
                               ssync_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!record_id_ok(id))
        return ssync_fail(err, SSYNC_ERR_ARG, "bad userPfxCertificate id");
    ssync_code rc = run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    char *url = concat(g->base, "/deviceManagement/userPfxCertificates/", id);
    job *j = url ? job_new("GET", url, NULL, 0, NULL, NULL) : NULL;
    if (!j) {
        run_end(g);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "request");
    }
    rc = run_one(g, j, err);
    ssync_pfx_entry tmp;
    if (rc == SSYNC_OK) {
        rc = parse_entity(g, j, out ? out : &tmp, err);
        if (rc == SSYNC_OK && !out)
            ssync_pfx_entry_free(&tmp);
    }
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    job_free(j);
    run_end(g);
    return rc;
}

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
    job *j = url ? job_new(method, url, body, resp_max, done, st) : NULL;
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
    enqueue(g, j);
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
    submit(g, st, "POST", pfx_url(g, ""), body, 0, create_post_done, delay);
}

static void verify_by_filter(ssync_graph *g, opstate *st, int phase)
{
    char *q = ssync_pfx_filter_query(st->upn, st->thumb);
    char *u = pfx_url(g, "?");
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
        /* a duplicate is undocumented (3.4): "exists" only if a read finds it */
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
    keep_matching(&l, 0, st->upn, st->thumb);
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
    ssync_code rc = run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    runctx r = {.ops = ops, .n = n, .done = done, .ctx = ctx};
    r.st = calloc(n ? n : 1, sizeof *r.st);
    if (!r.st) {
        run_end(g);
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
    rc = engine_run(g, err);
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
    run_end(g);
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

/* ---------------------------------------------------------------- user lookups ($batch) */

typedef struct lookup_run {
    ssync_user_lookup *items;
    ssync_user_key by;
    unsigned *tries;
    /* the next round: item index + how to look it up */
    size_t *next_idx;
    ssync_user_key *next_kind;
    size_t next_n;
} lookup_run;

typedef struct batch {
    lookup_run *lr;
    size_t n;
    size_t idx[SSYNC_GRAPH_BATCH_MAX];
    ssync_user_key kind[SSYNC_GRAPH_BATCH_MAX];
    int answered[SSYNC_GRAPH_BATCH_MAX];
} batch;

static void lookup_again(lookup_run *lr, size_t idx, ssync_user_key kind)
{
    lr->next_idx[lr->next_n] = idx;
    lr->next_kind[lr->next_n] = kind;
    lr->next_n++;
}

static void item_fail(ssync_user_lookup *it, ssync_code rc, const ssync_graph_failure *f,
                      const char *what)
{
    it->result = rc;
    if (f)
        it->detail = *f;
    char line[400];
    ssync_graph_failure_format(&it->detail, line, sizeof line);
    ssync_fail(&it->err, rc, "%.100s: %s%s%s", it->key, what, line[0] ? ": " : "", line);
}

static const char *header_ci(json_t *headers, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v)
    {
        if (strcasecmp(k, name) == 0 && json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

static void set_str_dup(char **dst, json_t *v)
{
    free(*dst);
    *dst = NULL;
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n > 1024)
            n = 1024;
        *dst = malloc(n + 1);
        if (*dst)
            ssync_sanitize_line(*dst, n + 1, json_string_value(v), n);
    }
}

static void batch_item(ssync_graph *g, batch *b, size_t k, json_t *resp, const job *j)
{
    lookup_run *lr = b->lr;
    size_t idx = b->idx[k];
    ssync_user_lookup *it = &lr->items[idx];
    json_t *st = json_object_get(resp, "status");
    json_t *body = json_object_get(resp, "body");
    json_t *headers = json_object_get(resp, "headers");
    ssync_graph_failure f = j->detail; /* the outer request's ids */
    f.http_status = json_is_integer(st) ? (long)json_integer_value(st) : 0;
    snprintf(f.method, sizeof f.method, "GET");
    snprintf(f.target, sizeof f.target, "$batch /users (%s)",
             b->kind[k] == SSYNC_USER_BY_UPN    ? "userPrincipalName"
             : b->kind[k] == SSYNC_USER_BY_MAIL ? "mail"
                                                : "proxyAddresses");
    const char *rid = header_ci(headers, "request-id");
    if (rid)
        ssync_sanitize_line(f.request_id, sizeof f.request_id, rid, strlen(rid));
    if (!json_is_integer(st)) {
        item_fail(it, SSYNC_ERR_GRAPH_RESPONSE, &f, "batch response without a status");
        return;
    }
    long s = f.http_status;
    if (s == 429 || s == 503 || s == 504) { /* inner throttling while the batch is 200 (4.2) */
        double d = -1, ms = -1;
        int a = ssync_retry_after_parse(header_ci(headers, "Retry-After"), time(NULL),
                                        g->retry_after_cap, &d);
        int c = ssync_retry_after_ms_parse(header_ci(headers, "x-ms-retry-after-ms"),
                                           g->retry_after_cap, &ms);
        if (!a && !c)
            d = ssync_backoff(lr->tries[idx], g->backoff_base, g->backoff_cap, rand01(g));
        if (ms > d)
            d = ms;
        g->stats.throttled++;
        ssync_throttle_pause(&g->thr, ssync_mono(), d);
        if (++lr->tries[idx] >= g->max_attempts) {
            ssync_graph_error_from_json(body, &f);
            item_fail(it, SSYNC_ERR_THROTTLED, &f, "gave up");
        } else {
            lookup_again(lr, idx, b->kind[k]);
        }
        return;
    }
    if (s < 200 || s >= 300) {
        ssync_graph_error_from_json(body, &f);
        if (s >= 500 && ++lr->tries[idx] < g->max_attempts) {
            lookup_again(lr, idx, b->kind[k]);
            return;
        }
        item_fail(it, s == 404 ? SSYNC_ERR_NOT_FOUND : SSYNC_ERR_GRAPH, &f, "lookup failed");
        return;
    }
    json_t *value = json_object_get(body, "value");
    if (!json_is_array(value)) {
        item_fail(it, SSYNC_ERR_GRAPH_RESPONSE, &f, "users response has no \"value\" array");
        return;
    }
    size_t n = json_array_size(value);
    if (n == 0) {
        if (b->kind[k] == SSYNC_USER_BY_MAIL && lr->by == SSYNC_USER_BY_MAIL) {
            lookup_again(lr, idx, SSYNC_USER_BY_PROXY); /* mail first, then proxyAddresses */
            return;
        }
        it->detail = f;
        it->result = SSYNC_ERR_NOT_FOUND;
        ssync_fail(&it->err, SSYNC_ERR_NOT_FOUND, "no directory user with %s '%.200s'",
                   lr->by == SSYNC_USER_BY_UPN ? "userPrincipalName" : "mail address", it->key);
        return;
    }
    if (n > 1) {
        it->detail = f;
        it->result = SSYNC_ERR_USER_AMBIGUOUS;
        ssync_fail(&it->err, SSYNC_ERR_USER_AMBIGUOUS, "%zu directory users match '%.200s'", n,
                   it->key);
        return;
    }
    json_t *u = json_array_get(value, 0);
    json_t *id = json_object_get(u, "id");
    if (!json_is_string(id) || !ssync_uuid_nodash(json_string_value(id), it->id_nodash)) {
        item_fail(it, SSYNC_ERR_GRAPH_RESPONSE, &f, "user without a GUID id");
        return;
    }
    snprintf(it->id, sizeof it->id, "%s", json_string_value(id));
    set_str_dup(&it->upn, json_object_get(u, "userPrincipalName"));
    set_str_dup(&it->mail, json_object_get(u, "mail"));
    it->matched_by = b->kind[k];
    it->detail = f;
    it->result = SSYNC_OK;
    ssync_error_clear(&it->err);
}

static void batch_done(ssync_graph *g, job *j)
{
    batch *b = j->owner;
    lookup_run *lr = b->lr;
    if (j->rc != SSYNC_OK) {
        for (size_t k = 0; k < b->n; k++) {
            ssync_user_lookup *it = &lr->items[b->idx[k]];
            it->result = j->rc;
            it->detail = j->detail;
            it->err = j->err;
        }
        free(b);
        return;
    }
    json_t *root = ssync_http_is_json(j->x.content_type) && j->x.resp
                       ? json_loadb(j->x.resp, j->x.resp_len, 0, NULL)
                       : NULL;
    json_t *responses = json_object_get(root, "responses");
    const char *problem = !root                       ? "$batch response is not JSON"
                          : !json_is_array(responses) ? "$batch response has no \"responses\""
                                                      : NULL;
    size_t i;
    json_t *r;
    if (!problem) {
        json_array_foreach(responses, i, r)
        {
            /* correlate by id: the order may differ from the request (4.2) */
            json_t *id = json_object_get(r, "id");
            char *end = NULL;
            const char *ids = json_is_string(id) ? json_string_value(id) : "";
            unsigned long k = strtoul(ids, &end, 10);
            if (!*ids || *end || k < 1 || k > b->n || b->answered[k - 1])
                continue; /* unknown or duplicate id: ignored, the item stays unanswered */
            b->answered[k - 1] = 1;
            batch_item(g, b, k - 1, r, j);
        }
    }
    for (size_t k = 0; k < b->n; k++) {
        if (b->answered[k])
            continue;
        ssync_graph_failure f = j->detail;
        item_fail(&lr->items[b->idx[k]], SSYNC_ERR_GRAPH_RESPONSE, &f,
                  problem ? problem : "$batch response lacks this request");
    }
    json_decref(root);
    free(b);
}

static job *batch_job(ssync_graph *g, lookup_run *lr, const size_t *idx, const ssync_user_key *kind,
                      size_t n)
{
    batch *b = calloc(1, sizeof *b);
    json_t *reqs = json_array();
    json_t *root = json_pack("{s:o}", "requests", reqs);
    int ok = b && reqs && root;
    for (size_t k = 0; ok && k < n; k++) {
        b->idx[k] = idx[k];
        b->kind[k] = kind[k];
        char *q = ssync_user_filter_query(kind[k], lr->items[idx[k]].key);
        char *url = q ? concat("/users?", q, "") : NULL;
        char id[16];
        snprintf(id, sizeof id, "%zu", k + 1);
        ok = url && json_array_append_new(reqs, json_pack("{s:s, s:s, s:s}", "id", id, "method",
                                                          "GET", "url", url)) == 0;
        free(q);
        free(url);
    }
    char *body = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    char *url = body ? concat(g->base, "/$batch", "") : NULL;
    job *j = url ? job_new("POST", url, body, SSYNC_HTTP_MAX_PAGE, batch_done, b) : NULL;
    if (!j) {
        if (!url)
            free(body);
        free(b);
        return NULL;
    }
    b->lr = lr;
    b->n = n;
    j->is_write = 0; /* a $batch of GETs reads: paced as n requests, retried like a GET */
    j->cost = (unsigned)n;
    return j;
}

void ssync_user_lookup_clear(ssync_user_lookup *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].upn);
        free(items[i].mail);
        items[i].upn = items[i].mail = NULL;
    }
}

ssync_code ssync_graph_lookup_users(ssync_graph *g, ssync_user_key by, ssync_user_lookup *items,
                                    size_t n, ssync_error *err)
{
    if (!items && n)
        return ssync_fail(err, SSYNC_ERR_ARG, "no lookups");
    if (by != SSYNC_USER_BY_UPN && by != SSYNC_USER_BY_MAIL && by != SSYNC_USER_BY_PROXY)
        return ssync_fail(err, SSYNC_ERR_ARG, "unknown lookup kind");
    ssync_code rc = run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    lookup_run lr = {.items = items, .by = by};
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    ssync_user_key *kind = calloc(n ? n : 1, sizeof *kind);
    lr.tries = calloc(n ? n : 1, sizeof *lr.tries);
    lr.next_idx = calloc(n ? n : 1, sizeof *lr.next_idx);
    lr.next_kind = calloc(n ? n : 1, sizeof *lr.next_kind);
    if (!idx || !kind || !lr.tries || !lr.next_idx || !lr.next_kind) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "lookups");
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        ssync_user_lookup *it = &items[i];
        it->upn = it->mail = NULL;
        it->id[0] = it->id_nodash[0] = '\0';
        ssync_graph_failure_clear(&it->detail);
        if (!it->key || !*it->key || strlen(it->key) > 1024) {
            it->result = ssync_fail(&it->err, SSYNC_ERR_ARG, "empty or overlong lookup key");
            continue;
        }
        it->result = ssync_fail(&it->err, SSYNC_ERR_INTERNAL, "not looked up");
        idx[m] = i;
        kind[m] = by;
        m++;
    }
    while (m > 0) {
        lr.next_n = 0;
        for (size_t s = 0; s < m; s += SSYNC_GRAPH_BATCH_MAX) {
            size_t k = m - s < SSYNC_GRAPH_BATCH_MAX ? m - s : SSYNC_GRAPH_BATCH_MAX;
            job *j = batch_job(g, &lr, idx + s, kind + s, k);
            if (!j) {
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, "batch");
                goto done;
            }
            enqueue(g, j);
        }
        rc = engine_run(g, err);
        if (rc != SSYNC_OK)
            goto done;
        if (g->fatal != SSYNC_OK) {
            rc = g->fatal;
            if (err)
                *err = g->fatal_err;
            goto done;
        }
        memcpy(idx, lr.next_idx, lr.next_n * sizeof *idx);
        memcpy(kind, lr.next_kind, lr.next_n * sizeof *kind);
        m = lr.next_n;
    }
    ssync_graph_failure_clear(&g->last);
done:
    free(idx);
    free(kind);
    free(lr.tries);
    free(lr.next_idx);
    free(lr.next_kind);
    run_end(g);
    return rc;
}

/* ---------------------------------------------------------------- groups */

static ssync_code member_page(const char *body, size_t len, void *out, char **next_link,
                              ssync_error *err)
{
    ssync_group_members *m = out;
    return ssync_member_page_parse(body, len, &m->upns, &m->count, &m->cap, next_link, err);
}

ssync_code ssync_graph_group_members(ssync_graph *g, const char *group_id, ssync_group_members *out,
                                     ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output list");
    /* the id goes into the URL path: only a GUID may (and Graph knows groups by GUID only) */
    if (!group_id || !ssync_uuid_valid(group_id))
        return ssync_fail(err, SSYNC_ERR_ARG, "group id '%.64s' is not a GUID",
                          group_id ? group_id : "");
    ssync_code rc = run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    char path[128];
    snprintf(path, sizeof path, "/groups/%s/transitiveMembers/microsoft.graph.user", group_id);
    char *url = concat(g->base, path, "?$select=id,userPrincipalName&$top=999");
    size_t from = out->count;
    rc = url ? list_pages_with(g, url, member_page, out, err)
             : ssync_fail(err, SSYNC_ERR_NOMEM, "url");
    if (rc == SSYNC_ERR_NOT_FOUND) {
        /* keep the request's detail (ids) but say which group is missing */
        char line[480];
        ssync_graph_failure_format(&g->last, line, sizeof line);
        ssync_fail(err, SSYNC_ERR_NOT_FOUND, "group %s does not exist: %s", group_id, line);
    }
    if (rc != SSYNC_OK) {
        /* all or nothing: a partial member list must not look like the whole group */
        for (size_t i = from; i < out->count; i++)
            free(out->upns[i]);
        out->count = from;
    } else {
        ssync_graph_failure_clear(&g->last);
    }
    run_end(g);
    return rc;
}

void ssync_group_members_free(ssync_group_members *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        free(m->upns[i]);
    free(m->upns);
    memset(m, 0, sizeof *m);
}
