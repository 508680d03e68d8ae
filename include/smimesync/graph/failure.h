/* What a Graph or Entra ID request left behind (status, error code and message, request ids),
 * parsed from the error bodies and formatted as one line. Pure; tested in
 * tests/unit/graph/test_failure.c. */
#ifndef SSYNC_GRAPH_FAILURE_H
#define SSYNC_GRAPH_FAILURE_H

#include "common/errors.h"

#include <stddef.h>

/* What one request left behind: enough for an administrator to open a ticket with Microsoft
 * (Intune's messages are opaque, so request-id, client-request-id and innerError.date are what
 * support needs; Graph docs: Microsoft Graph error responses and resource types). Strings are ""
 * when absent; all are sanitized to printable one-line text. Filled for successes too (ids only).
 * */
typedef struct ssync_graph_failure {
    long http_status;           /* 0 when no HTTP response arrived */
    int curl_code;              /* CURLcode of a transport failure, else 0 */
    char method[8];             /* "GET", "POST", ... */
    char target[160];           /* URL path of the request (no host, no query) */
    char code[64];              /* Graph error.code, or Entra `error` */
    char message[320];          /* Graph error.message (Intune's wrapped "Message"), Entra text */
    char request_id[64];        /* request-id header / innerError */
    char client_request_id[64]; /* the GUID we sent (echoed by Graph) */
    char date[40];              /* innerError.date, Entra timestamp, or the Date header */
    char aadsts[24];            /* Entra: "AADSTS7000215" */
    char trace_id[64];          /* Entra trace_id */
    char correlation_id[64];    /* Entra correlation_id */
} ssync_graph_failure;

void ssync_graph_failure_clear(ssync_graph_failure *f);
/* Copy src into dst (size n) as one printable line: control characters become spaces, runs of
 * blanks collapse, overlong text is cut with "...". */
void ssync_sanitize_line(char *dst, size_t n, const char *src, size_t srclen);

/* Graph error body {"error":{"code","message","innerError":{"date","request-id",
 * "client-request-id"}}} (Graph docs: Microsoft Graph error responses). Fields already set in f
 * (from headers) are kept when the body lacks them. An Intune message that is itself a JSON
 * document has its "Message" extracted. Returns 1 when the body held a Graph error object, 0
 * otherwise (f keeps what it had). */
int ssync_graph_error_parse(const char *body, size_t len, ssync_graph_failure *f);
/* The same from a parsed document (a json_t *), e.g. an inner $batch response body. */
int ssync_graph_error_from_json(const void *root, ssync_graph_failure *f);
/* Entra ID error body {"error","error_description","error_codes","timestamp","trace_id",
 * "correlation_id"} (identity platform docs: Microsoft Entra authentication and authorization
 * error codes). Returns 1 when it held an `error` string. */
int ssync_entra_error_parse(const char *body, size_t len, ssync_graph_failure *f);
/* One line for ssync_error.msg: "POST /beta/...: HTTP 400 BadRequest: <message> (request-id ...,
 * client-request-id ..., date ...)". Never contains a secret (f never holds one). */
void ssync_graph_failure_format(const ssync_graph_failure *f, char *out, size_t n);

#endif
