/* One HTTPS request on a libcurl easy handle, set up the one way the Graph client allows: TLS
 * verification always on (there is no switch to turn it off), https only, HTTP/2 when offered,
 * bounded response bodies, our client-request-id on every request. The caller drives the handle
 * (graph/engine.c adds it to its multi handle). Requires curl_global_init by the program. */
#ifndef SSYNC_HTTP_H
#define SSYNC_HTTP_H

#include "common/errors.h"
#include "graph/failure.h"

#include <curl/curl.h>
#include <stddef.h>

#define SSYNC_HTTP_MAX_BODY (1u * 1024u * 1024u)  /* ordinary responses */
#define SSYNC_HTTP_MAX_PAGE (64u * 1024u * 1024u) /* listing pages, $batch responses */

typedef struct ssync_http_opts {
    const char *ca_file;     /* NULL: the system trust store */
    long connect_timeout_ms; /* 0: curl's default */
    long timeout_ms;         /* whole request; 0: none */
    const char *user_agent;
} ssync_http_opts;

typedef struct ssync_http_xfer {
    CURL *easy;
    struct curl_slist *headers; /* may hold the bearer token: cleansed on cleanup */
    char *body;                 /* request body (owned) */
    size_t body_len;
    size_t body_off;    /* bytes of body handed to libcurl */
    int rewind_refused; /* libcurl wanted to send the body again: refused (see http.c) */
    int body_secret;    /* cleanse the body on cleanup (token requests) */
    char method[8];
    char *url;
    /* response */
    char *resp;
    size_t resp_len, resp_alloc, resp_max;
    int overflow;
    long status;
    CURLcode result;
    int sent; /* the request may have reached the server (ambiguous on failure) */
    char errbuf[CURL_ERROR_SIZE];
    char client_request_id[40]; /* the GUID we sent */
    char content_type[128];
    char request_id[64];
    char echoed_client_request_id[64];
    char retry_after[64];
    char retry_after_ms[32];
    char date[64];
    double started; /* caller's clock */
} ssync_http_xfer;

/* Prepares x for method ("GET", "POST", "DELETE") on url. bearer (may be NULL) becomes the
 * Authorization header; body (may be NULL) is copied, sent as content_type. */
ssync_code ssync_http_setup(ssync_http_xfer *x, const ssync_http_opts *o, const char *method,
                            const char *url, const char *bearer, const char *content_type,
                            const char *body, size_t body_len, size_t resp_max, ssync_error *err);
/* After the transfer ended with rc: collects status, headers of interest, whether sent. */
void ssync_http_finish(ssync_http_xfer *x, CURLcode rc);
/* Frees everything, cleansing the headers (token) and a secret body. x can be set up again. */
void ssync_http_cleanup(ssync_http_xfer *x);

/* 1 when the content type is JSON (application/json, with or without parameters). */
int ssync_http_is_json(const char *content_type);

/* Transport failure classes. */
typedef enum ssync_transport_class {
    SSYNC_TRANSPORT_OK,
    SSYNC_TRANSPORT_TLS_FATAL, /* certificate or host name refused, CA file unusable */
    SSYNC_TRANSPORT_RETRY,     /* connection failed, reset, timed out: try again */
    SSYNC_TRANSPORT_FATAL,     /* body too large, bad URL, out of memory */
} ssync_transport_class;
ssync_transport_class ssync_http_classify(const ssync_http_xfer *x);

/* Fills f's transport/HTTP fields from x: method, target (path), status, curl code, ids, date. */
void ssync_http_describe(const ssync_http_xfer *x, ssync_graph_failure *f);

/* What an ended request's answer means, whoever sent it (the engine's jobs, the token request):
 * the transport class when no answer came, else the class of the HTTP status. What to do about
 * it (retry, pause, refresh the token, give up) is the caller's policy. */
typedef enum ssync_answer {
    SSYNC_ANSWER_OK,              /* 2xx */
    SSYNC_ANSWER_TRANSPORT_RETRY, /* no answer; trying again may help (SSYNC_TRANSPORT_RETRY) */
    SSYNC_ANSWER_TRANSPORT_FATAL, /* no answer; trying again cannot help (SSYNC_TRANSPORT_FATAL) */
    SSYNC_ANSWER_TLS_FATAL,       /* no answer; TLS refused (SSYNC_TRANSPORT_TLS_FATAL) */
    SSYNC_ANSWER_UNAUTHORIZED,    /* 401 */
    SSYNC_ANSWER_THROTTLED,       /* 429, 503, 504: Retry-After may say how long to wait */
    SSYNC_ANSWER_SERVER_ERROR,    /* any other 5xx */
    SSYNC_ANSWER_NOT_FOUND,       /* 404 */
    SSYNC_ANSWER_FORBIDDEN,       /* 403 */
    SSYNC_ANSWER_REFUSED,         /* any other status */
} ssync_answer;
/* After ssync_http_finish: classifies the answer and fills f (cleared by the caller) with
 * ssync_http_describe, plus, when no answer came, the transport error as its message. */
ssync_answer ssync_http_answer(const ssync_http_xfer *x, ssync_graph_failure *f);

#endif
