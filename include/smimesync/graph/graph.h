/* The Microsoft Graph client: Entra ID app-only tokens, Intune userPfxCertificate list / create /
 * delete, directory user lookups ($batch), with pacing, retries and verification.
 *
 * Everything lives in one handle (no global state). The program must call
 * curl_global_init(CURL_GLOBAL_DEFAULT) once before ssync_graph_new and curl_global_cleanup at
 * exit (libcurl's rule; the library never does it). A handle is not thread-safe: use one per
 * thread. The library never prints: messages go to the optional log callback and every failure
 * is returned as an ssync_error plus an ssync_graph_failure with Microsoft's request ids.
 * Sources: Graph docs (userPFXCertificate resource type and its methods, Throttling, JSON
 * batching, Paging, Use query parameters, Error responses), the identity platform docs (OAuth
 * 2.0 client credentials flow, certificate credentials) and Microsoft's PFXImport module
 * (microsoft/Intune-Resource-Access); docs/emulator.md lists what is only observed. */
#ifndef SSYNC_GRAPH_H
#define SSYNC_GRAPH_H

#include "graph/auth.h"
#include "common/errors.h"
#include "graph/failure.h"
#include "graph/model.h"
#include "graph/query.h"
#include "common/log.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

#define SSYNC_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define SSYNC_DEFAULT_GRAPH "https://graph.microsoft.com"
#define SSYNC_GRAPH_BATCH_MAX 20 /* per request (Graph docs: JSON batching) */

/* Zero means "default" for every number; NULL for every optional string. Strings are copied and
 * the certificate and key are referenced by ssync_graph_new, so the config may be discarded
 * afterwards. */
typedef struct ssync_graph_config {
    const char *authority_url; /* NULL: SSYNC_DEFAULT_AUTHORITY (sovereign clouds:
                                * Graph docs, National cloud deployments) */
    const char *graph_url;     /* NULL: SSYNC_DEFAULT_GRAPH; the token scope is "<this>/.default" */
    const char *api_version;   /* NULL: "beta" (userPfxCertificates exist only there) */
    const char *tenant_id;     /* GUID or domain name */
    const char *client_id;
    const char *client_secret; /* either a secret ... (copied; cleansed on free) */
    X509 *client_cert;         /* ... or the app certificate and its RSA key */
    EVP_PKEY *client_key;
    ssync_assertion_alg assertion_alg; /* RS256 + x5t (default) or PS256 + x5t#S256 */
    const char *ca_file;      /* NULL: the system trust store. Verification is always on. */
    unsigned write_limit;     /* writes per window; 0: 100 (Intune, per app: Graph
                               * throttling limits) */
    unsigned request_limit;   /* requests per window; 0: 1000 */
    double limit_window_s;    /* 0: 20 s; scale down for benchmarks (e.g. 100 per 2 s) */
    unsigned max_in_flight;   /* concurrent requests; 0: 8 */
    long connect_timeout_ms;  /* 0: 10 s */
    long request_timeout_ms;  /* per request; 0: 60 s */
    unsigned max_attempts;    /* sends per operation before giving up; 0: 6 */
    double backoff_base_s;    /* 0: 1 s (exponential backoff with full jitter) */
    double backoff_cap_s;     /* 0: 60 s */
    double retry_after_cap_s; /* longest Retry-After honoured; 0: 300 s */
    size_t max_pages;         /* listing guard; 0: 100000 pages */
    ssync_log_fn log;         /* optional */
    void *log_ctx;
} ssync_graph_config;

typedef struct ssync_graph ssync_graph;

/* Validates the config (URLs must be https; a secret or a matching certificate + RSA key) and
 * creates the client. No network traffic yet. */
ssync_code ssync_graph_new(const ssync_graph_config *cfg, ssync_graph **out, ssync_error *err);
void ssync_graph_free(ssync_graph *g);

/* Gets a token now (or reuses the cached one): checks the credentials early. */
ssync_code ssync_graph_authenticate(ssync_graph *g, ssync_error *err);
/* Asks a running ssync_graph_run / lookup / listing to stop at the next step (remaining
 * operations end with SSYNC_ERR_CANCELLED). Async-signal-safe. The handle stays cancelled:
 * later calls fail with SSYNC_ERR_CANCELLED too. */
void ssync_graph_cancel(ssync_graph *g);
/* The detail of the last failed call of this handle (zeroed by each successful call). */
const ssync_graph_failure *ssync_graph_last_failure(const ssync_graph *g);

#define SSYNC_GRAPH_STATUS_SLOTS 24
typedef struct ssync_graph_stats {
    unsigned long requests;       /* HTTP requests sent to Graph ($batch counts once) */
    unsigned long writes;         /* POST / DELETE sent */
    unsigned long retries;        /* requests sent again */
    unsigned long throttled;      /* 429 / 503 / 504 answers */
    unsigned long token_requests; /* token endpoint calls */
    unsigned long auth_refreshes; /* 401 from Graph answered by a new token */
    unsigned long ambiguous;      /* writes whose outcome had to be read back */
    unsigned long bytes_received;
    double paused_s; /* time the pipe spent paused by throttling */
    /* answers by method and HTTP status (0: no answer, a transport failure), for metrics; the
     * first SSYNC_GRAPH_STATUS_SLOTS distinct pairs, the rest in `other_answers` */
    struct ssync_graph_status_count {
        char method[8];
        long status;
        unsigned long count;
    } by_status[SSYNC_GRAPH_STATUS_SLOTS];
    size_t n_by_status;
    unsigned long other_answers;
} ssync_graph_stats;
void ssync_graph_get_stats(const ssync_graph *g, ssync_graph_stats *out);
/* Counts one answer of method with status in st->by_status (the engine calls it per answer). */
void ssync_graph_stats_count_answer(ssync_graph_stats *st, const char *method, long status);

/* ---- listings (userPfxCertificates follow @odata.nextLink to the end) ---- */

/* Every userPfxCertificate of the tenant, appended to out (ssync_pfx_list_sort it for a diff). */
ssync_code ssync_graph_list_pfx(ssync_graph *g, ssync_pfx_list *out, ssync_error *err);
/* Those of one user ($filter=tolower(userPrincipalName) eq '...'). */
ssync_code ssync_graph_list_pfx_by_user(ssync_graph *g, const char *upn, ssync_pfx_list *out,
                                        ssync_error *err);
/* The record of (upn, thumbprint): SSYNC_OK and *out filled (out may be NULL), or
 * SSYNC_ERR_NOT_FOUND. */
ssync_code ssync_graph_find_pfx(ssync_graph *g, const char *upn, const char *thumbprint,
                                ssync_pfx_entry *out, ssync_error *err);
/* GET by id ("{userIdNoDashes}-{thumbprint}"): SSYNC_OK or SSYNC_ERR_NOT_FOUND. */
ssync_code ssync_graph_get_pfx(ssync_graph *g, const char *id, ssync_pfx_entry *out,
                               ssync_error *err);

/* ---- writes: many at once ---- */

typedef enum ssync_op_kind {
    SSYNC_OP_CREATE, /* POST the record; after an ambiguous failure read first (never re-POST
                        blindly); a record already present counts as success */
    SSYNC_OP_DELETE, /* DELETE by id, then GET to verify it is gone */
} ssync_op_kind;

typedef struct ssync_graph_op {
    /* in */
    ssync_op_kind kind;
    json_t *record;         /* CREATE: the POST body (ssync_record_build); borrowed. Its
                               userPrincipalName and thumbprint are used to read back. */
    const char *user_id;    /* DELETE: the user's object id (with or without dashes) */
    const char *thumbprint; /* DELETE */
    void *user_data;        /* for the caller */
    /* out */
    ssync_code result; /* SSYNC_OK, or why not (SSYNC_ERR_DELETE_NOT_EFFECTIVE, ...) */
    ssync_error err;
    ssync_graph_failure detail; /* the deciding request: status, Graph error, ids */
    char id[80];                /* the record id (created, found or deleted) */
    int already;    /* CREATE: the record was found present (after an ambiguous failure or a
                       conflict); DELETE: it was already absent */
    unsigned sends; /* write requests sent for this operation */
} ssync_graph_op;

/* Called once per operation as soon as its result is final (in completion order). */
typedef void (*ssync_graph_op_done)(void *ctx, ssync_graph_op *op);

/* Runs n operations concurrently (at most max_in_flight requests, writes paced by the
 * limiter) until each has a result. Returns SSYNC_OK when every operation ran (look at each
 * op->result), or the fatal error that stopped the run (authentication, TLS, cancel); then the
 * operations not finished carry that error too, and done was called for every one. */
ssync_code ssync_graph_run(ssync_graph *g, ssync_graph_op *ops, size_t n, ssync_graph_op_done done,
                           void *ctx, ssync_error *err);

/* Blocking single-operation helpers over ssync_graph_run. create fills out (may be NULL) with
 * the id. */
ssync_code ssync_graph_create_pfx(ssync_graph *g, json_t *record, char id_out[80],
                                  ssync_error *err);
ssync_code ssync_graph_delete_pfx(ssync_graph *g, const char *user_id, const char *thumbprint,
                                  ssync_error *err);

/* ---- directory users, up to 20 lookups per $batch request ---- */

typedef struct ssync_user_lookup {
    const char *key;    /* in: a UPN or a mail address */
    ssync_code result;  /* SSYNC_OK, SSYNC_ERR_NOT_FOUND, SSYNC_ERR_USER_AMBIGUOUS, ... */
    char id[40];        /* object id as Graph gives it (with dashes) */
    char id_nodash[33]; /* the userPfxCertificate id's user part */
    char *upn;          /* userPrincipalName (malloc'd) */
    char *mail;         /* mail (malloc'd, may be NULL) */
    ssync_user_key matched_by;
    ssync_error err;
    ssync_graph_failure detail;
} ssync_user_lookup;

/* by SSYNC_USER_BY_UPN: userPrincipalName eq; SSYNC_USER_BY_MAIL: mail eq, then for those not
 * found proxyAddresses/any(x:x eq 'smtp:...') (all default, non-advanced filters: Graph docs,
 * Advanced query capabilities on Microsoft Entra ID objects); SSYNC_USER_BY_PROXY:
 * proxyAddresses only.
 * Returns SSYNC_OK when every lookup ran (see items[i].result) or a fatal error. */
ssync_code ssync_graph_lookup_users(ssync_graph *g, ssync_user_key by, ssync_user_lookup *items,
                                    size_t n, ssync_error *err);
void ssync_user_lookup_clear(ssync_user_lookup *items, size_t n);

/* ---- groups ---- */

/* The users that are members of the group, directly or through nested groups:
 * GET /groups/{id}/transitiveMembers/microsoft.graph.user?$select=id,userPrincipalName
 * (paged, nextLink followed; needs GroupMember.Read.All). Each user is appended to out as an
 * ssync_pfx_entry-free pair: upns[i] (malloc'd, as Graph gives it). SSYNC_ERR_NOT_FOUND when
 * the group does not exist. */
typedef struct ssync_group_members {
    char **upns;
    size_t count, cap;
} ssync_group_members;
ssync_code ssync_graph_group_members(ssync_graph *g, const char *group_id, ssync_group_members *out,
                                     ssync_error *err);
void ssync_group_members_free(ssync_group_members *m);

#endif
