/* The Graph client's private header: the handle (struct ssync_graph), the job (one HTTP request
 * with its retry state and outcome), small helpers, and what the files of graph/ share.
 * Callers include graph/graph.h, never this. */
#ifndef SSYNC_GRAPH_INT_H
#define SSYNC_GRAPH_INT_H

#include "graph/graph.h"

#include "graph/http.h"
#include "graph/throttle.h"
#include "common/clock.h"

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static inline void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static inline double rand01(ssync_graph *g)
{
    /* xorshift64*: jitter only, seeded from the CSPRNG per handle */
    uint64_t x = g->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->rng = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* A log line of the client (through the handle's callback). */
#define glog(g, ...) ssync_logf((g)->log, (g)->log_ctx, __VA_ARGS__)

/* ssync_retry_delay with the handle's policy and jitter. */
static inline double retry_delay(ssync_graph *g, const char *retry_after,
                                 const char *retry_after_ms, unsigned attempt, int *given)
{
    ssync_retry_policy p = {g->backoff_base, g->backoff_cap, g->retry_after_cap};
    return ssync_retry_delay(&p, retry_after, retry_after_ms, time(NULL), attempt, rand01(g),
                             given);
}

static inline char *concat(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

/* ---------------------------------------------------------------- engine.c */

job *graph_job_new(const char *method, char *url, char *body, size_t resp_max, job_done_fn done,
                   void *owner);
void graph_job_free(job *j);
/* Frees the jobs still queued without running them (ssync_graph_free). */
void graph_engine_clear(ssync_graph *g);
void graph_enqueue(ssync_graph *g, job *j);
/* Runs the queue until it is empty. */
ssync_code graph_engine_run(ssync_graph *g, ssync_error *err);
ssync_code graph_run_begin(ssync_graph *g, ssync_error *err);
/* Runs one job to its end; the caller owns it afterwards (graph_job_free). */
ssync_code graph_run_one(ssync_graph *g, job *j, ssync_error *err);
void graph_run_end(ssync_graph *g);

/* ---------------------------------------------------------------- token.c */

ssync_code graph_token_ensure(ssync_graph *g, ssync_error *err);

/* ---------------------------------------------------------------- list.c */

/* Parses one listing page into the caller's collection and sets *next_link (or NULL). */
typedef ssync_code (*page_parse_fn)(const char *body, size_t len, void *out, char **next_link,
                                    ssync_error *err);

/* GETs url and every nextLink after it, handing each page to parse. Takes url. */
ssync_code graph_list_pages_with(ssync_graph *g, char *url, page_parse_fn parse, void *out,
                                 ssync_error *err);
/* Keeps only the entries that match upn (and thumbprint). */
void graph_keep_matching(ssync_pfx_list *l, size_t from, const char *upn, const char *thumb);
char *graph_pfx_url(ssync_graph *g, const char *suffix);

#endif
