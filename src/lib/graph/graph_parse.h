/* Pure helpers of the Graph client: error bodies (Graph and Entra ID), the failure record that
 * every request leaves behind, OData filter building, userPfxCertificate pages, nextLink checks.
 * No I/O; unit-tested in tests/unit/test_graph_parse.c. */
#ifndef SSYNC_GRAPH_PARSE_H
#define SSYNC_GRAPH_PARSE_H

#include "common/errors.h"

#include <stddef.h>
#include <stdint.h>

/* What one request left behind: enough for an administrator to open a ticket with Microsoft
 * (graph-and-entra-behaviour.md 2.2: Intune messages are opaque, so request-id,
 * client-request-id and innerError.date are what support needs). Strings are "" when absent;
 * all are sanitized to printable one-line text. Filled for successes too (ids only). */
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
 * "client-request-id"}}} (2.1). Fields already set in f (from headers) are kept when the body
 * lacks them. An Intune message that is itself a JSON document has its "Message" extracted.
 * Returns 1 when the body held a Graph error object, 0 otherwise (f keeps what it had). */
int ssync_graph_error_parse(const char *body, size_t len, ssync_graph_failure *f);
/* The same from a parsed document (a json_t *), e.g. an inner $batch response body. */
int ssync_graph_error_from_json(const void *root, ssync_graph_failure *f);
/* Entra ID error body {"error","error_description","error_codes","timestamp","trace_id",
 * "correlation_id"} (1.4). Returns 1 when it held an `error` string. */
int ssync_entra_error_parse(const char *body, size_t len, ssync_graph_failure *f);
/* One line for ssync_error.msg: "POST /beta/...: HTTP 400 BadRequest: <message> (request-id ...,
 * client-request-id ..., date ...)". Never contains a secret (f never holds one). */
void ssync_graph_failure_format(const ssync_graph_failure *f, char *out, size_t n);

/* OData string literal: the value in single quotes, each ' doubled (2.6). malloc'd. */
char *ssync_odata_quote(const char *value);
/* Percent-encodes every byte except RFC 3986 unreserved characters. malloc'd. */
char *ssync_url_escape(const char *value);
/* The query of a userPfxCertificates lookup (no leading '?'):
 * "$filter=" + escaped "tolower(userPrincipalName) eq '<upn lowercased>'"
 * [+ " and tolower(thumbprint) eq '<thumbprint lowercased>'"]. Lowercasing is ASCII only.
 * thumbprint may be NULL. malloc'd, NULL on bad input or memory. */
char *ssync_pfx_filter_query(const char *upn, const char *thumbprint);

typedef enum ssync_user_key {
    SSYNC_USER_BY_UPN,   /* userPrincipalName eq '...' */
    SSYNC_USER_BY_MAIL,  /* mail eq '...' */
    SSYNC_USER_BY_PROXY, /* proxyAddresses/any(x:x eq 'smtp:...') */
} ssync_user_key;
/* "$filter=<escaped filter>&$select=id,userPrincipalName,mail" for a /users lookup
 * (4.1: all three filters work without advanced query parameters). malloc'd. */
char *ssync_user_filter_query(ssync_user_key by, const char *value);

/* 1 when link is an absolute https URL on the same scheme, host and port as base (the
 * configured Graph URL): a nextLink elsewhere would carry our token to another host. */
int ssync_nextlink_allowed(const char *link, const char *base);

/* Set of links already followed (nextLink loop guard). */
typedef struct ssync_linkset {
    uint64_t *slots;
    size_t cap, count;
} ssync_linkset;
/* Returns 1 when link was new (and is now in the set), 0 when already seen, -1 on memory. */
int ssync_linkset_add(ssync_linkset *s, const char *link);
void ssync_linkset_free(ssync_linkset *s);

/* One userPfxCertificate as Graph lists it (3.2). Strings are malloc'd, NULL when the property
 * was absent or not a string; GET never returns the blob or password (3.3), so they are not
 * kept. thumbprint is lowercased; thumbprint_valid says whether it is 40 lowercase hex digits
 * (malformed thumbprints exist in the wild and make records undeletable). */
typedef struct ssync_pfx_entry {
    char *id;
    char *user_principal_name;
    char *thumbprint;
    int thumbprint_valid;
    char *intended_purpose;
    char *start_date_time;
    char *expiration_date_time;
    char *provider_name;
    char *key_name;
    char *padding_scheme;
    char *created_date_time;
    char *last_modified_date_time;
} ssync_pfx_entry;

typedef struct ssync_pfx_list {
    ssync_pfx_entry *items;
    size_t count, cap;
} ssync_pfx_list;

void ssync_pfx_entry_free(ssync_pfx_entry *e);
void ssync_pfx_list_free(ssync_pfx_list *l);
/* Parses one entity object (as void * to keep jansson out of this header: a json_t *). Requires a
 * string `id`. */
ssync_code ssync_pfx_entry_from_json(const void *obj, ssync_pfx_entry *out, ssync_error *err);
/* Parses one collection page {"value":[...],"@odata.nextLink":"..."}: appends the entities to
 * out, sets *next_link (malloc'd) or NULL at the end. */
ssync_code ssync_pfx_page_parse(const char *body, size_t len, ssync_pfx_list *out, char **next_link,
                                ssync_error *err);
/* One page of a group's transitiveMembers/microsoft.graph.user listing
 * {"value":[{"id","userPrincipalName"},...],"@odata.nextLink":"..."}: appends each member's
 * userPrincipalName (malloc'd, sanitized) to upns/count/cap (grown with realloc), sets *next_link
 * (malloc'd) or NULL at the end. A member without a string userPrincipalName is an error. */
ssync_code ssync_member_page_parse(const char *body, size_t len, char ***upns, size_t *count,
                                   size_t *cap, char **next_link, ssync_error *err);

/* Sorts by (userPrincipalName case-insensitive, thumbprint): the sync engine's diff key. */
void ssync_pfx_list_sort(ssync_pfx_list *l);
/* In a sorted list: the entry for (upn, thumbprint) or NULL. */
const ssync_pfx_entry *ssync_pfx_list_find(const ssync_pfx_list *l, const char *upn,
                                           const char *thumbprint);

#endif
