/* intune-emu: a local stand-in for Entra ID's token endpoint, the Graph endpoints smimesync uses
 * (beta/deviceManagement/userPfxCertificates, users, $batch) and the Intune Certificate Connector
 * plus a device. Behaviour follows the Graph docs (userPFXCertificate and its methods, user,
 * Throttling, JSON batching, Paging, Error responses), the identity platform docs (client
 * credentials flow, certificate credentials, access token claims) and Microsoft's PFXImport
 * module; docs/emulator.md lists every difference from the real services.
 *
 * Shape: libmicrohttpd (thread per connection) hands each request to emu_http.c, which turns it
 * into an emu_req and lets emu_dispatch() fill an emu_resp. Handlers never touch libmicrohttpd,
 * so $batch can run inner requests through the same dispatcher. All shared state lives in one
 * emu_ctx (the handler closure) behind one mutex. */
#ifndef SSYNC_EMU_H
#define SSYNC_EMU_H

#include "common/clock.h"
#include "common/encode.h"
#include "common/errors.h"
#include "common/fileio.h"
#include "common/text.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define EMU_MAX_BODY (1024u * 1024u) /* larger request bodies get 413 */
#define EMU_MAX_BATCH 20             /* json-batching: "limited to 20 individual requests" */
#define EMU_DEFAULT_PAGE 100
#define EMU_DEFAULT_TOKEN_LIFETIME 3599
#define EMU_ASSERTION_SKEW 300 /* seconds of clock skew allowed on client assertions */
#define EMU_MAX_FAULTS 64

#define EMU_ROLE_RW "DeviceManagementConfiguration.ReadWrite.All"
#define EMU_ROLE_R "DeviceManagementConfiguration.Read.All"
#define EMU_ROLE_USERS "User.Read.All"
#define EMU_ROLE_GROUPS "GroupMember.Read.All"
#define EMU_GRAPH_RESOURCE "https://graph.microsoft.com"
#define EMU_GRAPH_APPID "00000003-0000-0000-c000-000000000000"
#define EMU_LOGIN_HOST "https://login.microsoftonline.com"

/* ---- small utilities (emu_util.c) ---- */

typedef struct emu_kv {
    char *key;
    char *value;
} emu_kv;

typedef struct emu_kvlist {
    emu_kv *items;
    size_t n, cap;
} emu_kvlist;

int emu_kv_add(emu_kvlist *l, const char *key, const char *value);
/* First value for key (exact match) or NULL. */
const char *emu_kv_get(const emu_kvlist *l, const char *key);
/* First value for key, ASCII case-insensitive (header names). */
const char *emu_kv_get_ci(const emu_kvlist *l, const char *key);
size_t emu_kv_count(const emu_kvlist *l, const char *key);
void emu_kv_free(emu_kvlist *l);
/* application/x-www-form-urlencoded (also a URL query): '&'-separated key=value, '+' is a space,
 * %XX decoded with libcurl. Returns 0, or -1 on a malformed escape / out of memory. */
int emu_form_parse(const char *s, size_t len, emu_kvlist *out);
/* Percent-decode (no '+' translation); malloc'd, NULL on failure. */
char *emu_url_decode(const char *s, size_t len);
/* Percent-encode everything but RFC 3986 unreserved characters; malloc'd. */
char *emu_url_encode(const char *s);

/* A random (v4) GUID, lowercase with dashes, into out[37]. */
void emu_guid(char out[37]);
/* 1 when s is a GUID with dashes (any case). */
/* Wall clock as seconds (fractional). */
double emu_now(void);
/* Formats: Graph innerError date "2022-04-24T12:48:07"; Entra "2016-01-09 02:02:12Z";
 * Edm.DateTimeOffset "2024-01-01T00:00:00Z" / with 7-digit fraction. */
void emu_fmt_inner_date(time_t t, char out[32]);
void emu_fmt_entra_time(time_t t, char out[32]);
void emu_fmt_datetime(time_t t, char out[32]);
void emu_fmt_datetime_frac(double t, char out[40]);
/* Parse an Edm.DateTimeOffset: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm).
 * Returns 0 and the UTC time, or -1. */
int emu_parse_datetime(const char *s, time_t *out);

/* Strict standard base64 (padding required, no whitespace); 0 or -1. */
int emu_b64_decode_strict(const char *s, ssync_buf *out);

int emu_strcaseeq(const char *a, const char *b);
/* Case-insensitive (ASCII) substring search. */
const char *emu_strcasestr(const char *hay, const char *needle);
void emu_lower(char *s);
char *emu_strdup_lower(const char *s);
/* Constant-time comparison of two byte strings (length leaks, content does not). */
int emu_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* ---- requests and responses (independent of libmicrohttpd) ---- */

typedef struct emu_req {
    const char *method;
    char *path;         /* decoded path, no query */
    emu_kvlist query;   /* decoded query arguments */
    emu_kvlist headers; /* request headers */
    const unsigned char *body;
    size_t body_len;
    int body_too_large; /* > EMU_MAX_BODY */
    char request_id[37];
    char client_request_id[128];
    int in_batch;        /* an inner request of $batch */
    int peer_loopback;   /* the peer address is a loopback address */
    char auth_appid[64]; /* set by successful Graph authentication */
} emu_req;

typedef struct emu_resp {
    int status;
    json_t *json;             /* body, or NULL for none */
    const char *content_type; /* NULL: the Graph JSON content type when json is set */
    emu_kvlist headers;       /* extra headers (Retry-After, Location, Allow, ...) */
    int drop;                 /* close the connection without any response */
} emu_resp;

void emu_resp_free(emu_resp *resp);
void emu_resp_reset(emu_resp *resp);
void emu_resp_json(emu_resp *resp, int status, json_t *body); /* steals body */
void emu_resp_header(emu_resp *resp, const char *name, const char *value);

/* Graph error shape: {"error":{"code","message","innerError":{"date","request-id",
 * "client-request-id"}}} (Graph docs: Microsoft Graph error responses). */
void emu_graph_error(const emu_req *req, emu_resp *resp, int status, const char *code,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Intune's variant: message is a JSON document (string) with _version, Message, ... where
 * Message carries the reason and the Operation/Activity ids (as observed on real Intune errors;
 * see docs/emulator.md). */
void emu_intune_error(const emu_req *req, emu_resp *resp, int status, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* 429 in Graph's throttling shape (Graph docs: Throttling). retry_after NULL: no header. */
void emu_throttle_error(const emu_req *req, emu_resp *resp, const char *retry_after);
/* Entra's token endpoint error shape (identity platform docs: Microsoft Entra authentication and
 * authorization error codes). */
void emu_entra_error(const emu_req *req, emu_resp *resp, int status, const char *error, long aadsts,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* 400 invalid_tenant, AADSTS90002: the tenant in the path is not this emulator's. */
void emu_tenant_not_found(const emu_req *req, emu_resp *resp, const char *tenant);

/* ---- configuration and shared context ---- */

typedef struct emu_limit {
    unsigned n;    /* 0: off */
    double window; /* seconds */
} emu_limit;

typedef enum emu_fault_kind {
    EMU_FAULT_429,
    EMU_FAULT_429_RETRY,
    EMU_FAULT_500,
    EMU_FAULT_503,
    EMU_FAULT_503_RETRY,
    EMU_FAULT_504,
    EMU_FAULT_DROP,
    EMU_FAULT_DELAY,
    EMU_FAULT_COMMIT_500,
    EMU_FAULT_COMMIT_DROP,
    EMU_FAULT_EXPIRE,
    EMU_FAULT_NOOP, /* answer success (204) without doing anything: Intune's "204 but kept" */
} emu_fault_kind;

typedef struct emu_fault {
    char spec[160];
    char method[16]; /* "*" = any */
    char match[96];  /* substring of the path */
    unsigned long nth, every;
    emu_fault_kind kind;
    char arg[32]; /* Retry-After value or delay ms */
    unsigned long seen, fired;
} emu_fault;

/* A sliding-window log of admitted requests. */
typedef struct emu_window {
    emu_limit limit;
    double *stamps; /* ring of the last limit.n admissions (monotonic seconds) */
    size_t head, count;
} emu_window;

typedef struct emu_store emu_store; /* emu_store.c */

typedef struct emu_user {
    char id[37];
    char *upn;
    char *mail;
    char *display_name;
    json_t *json; /* the user object as Graph returns it (full view) */
} emu_user;

/* A directory group (--groups): direct members as indices into ctx->users and ctx->groups. */
typedef struct emu_group {
    char id[37];
    size_t *users, nusers, capusers;
    size_t *groups, ngroups, capgroups;
} emu_group;

typedef struct emu_jti {
    char *jti;
    time_t exp;
} emu_jti;

typedef struct emu_stats {
    json_t *by_route;  /* {"GET userPfxCertificates": n, ...} */
    json_t *by_status; /* {"200": n, ...} */
    unsigned long requests, throttled, faults_fired, dropped;
} emu_stats;

typedef struct emu_ctx {
    /* configuration */
    char host[64];
    unsigned port;
    char base_url[96]; /* https://127.0.0.1:PORT */
    char *tenant_id;
    char *client_id;
    ssync_buf client_secret; /* data NULL: no secret registered */
    X509 *client_cert;       /* NULL: no certificate registered */
    unsigned char client_x5t[20], client_x5t256[32];
    EVP_PKEY *connector_key;
    unsigned page_size;
    long token_lifetime;
    int strict;
    int quiet;
    char **roles;
    size_t nroles;
    char *state_file;
    /* users (read-only after start), with indices by userPrincipalName and by mail (sorted
     * case-insensitively): lookups stay cheap with 100,000 users */
    emu_user *users;
    size_t nusers;
    struct emu_user_key {
        const char *key;
        size_t idx;
    } * by_upn, *by_mail;
    /* groups (read-only after start) */
    emu_group *groups;
    size_t ngroups;
    /* --tenant-config (read-only after start; NULL without it): deviceConfigurations (with their
     * assignments), ndesConnectors, certificateConnectorDetails, mobileAppConfigurations,
     * managedDevices and the delivery switches (emu_tenant.c) */
    json_t *tenant;
    /* everything below is shared between connection threads: hold lock */
    pthread_mutex_t lock;
    EVP_PKEY *token_key; /* signs access tokens; persisted with --state */
    char token_kid[48];
    emu_store *store;
    emu_window write_window, request_window;
    emu_fault faults[EMU_MAX_FAULTS];
    size_t nfaults;
    emu_jti *jtis;
    size_t njtis, capjtis;
    emu_stats stats;
    json_t *cert_states; /* managedDeviceCertificateState objects recorded by device fetches,
                          * each with the emulator-only "_profileId" (emu_delivery.c) */
} emu_ctx;

/* ---- dispatch (emu_route.c) ---- */

/* Runs one request: faults, routing, auth, throttling, handler. Never fails: resp gets an answer
 * (or drop). Thread-safe. */
void emu_dispatch(emu_ctx *ctx, emu_req *req, emu_resp *resp);
/* Graph endpoints after the version segment: rest = path after "/beta" or "/v1.0". */
void emu_graph_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version,
                     const char *rest);

/* ---- HTTP server (emu_http.c) ---- */

struct MHD_Daemon;
/* Binds and listens on host:port (port 0: any free port, written back). Returns the socket. */
int emu_http_bind(const char *host, unsigned *port, ssync_error *err);
/* Serves HTTPS on the bound socket (libmicrohttpd owns it from then on). */
struct MHD_Daemon *emu_http_start(emu_ctx *ctx, int fd, const char *cert_pem, const char *key_pem,
                                  ssync_error *err);
void emu_http_stop(struct MHD_Daemon *d);

/* ---- token endpoint and access tokens (emu_token.c, emu_jwt.c) ---- */

void emu_token_endpoint(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *tenant);

/* The discovery documents (emu_discovery.c): OpenID configuration, signing keys, instance
 * discovery. emu_discovery_path: 1 when the path is one of them. */
int emu_discovery_path(const char *path);
void emu_discovery_route(emu_ctx *ctx, emu_req *req, emu_resp *resp);

typedef struct emu_principal {
    char appid[64];
    json_t *claims; /* owned */
} emu_principal;

/* Validates the request's bearer token. On failure fills resp with 401 and returns -1. */
int emu_token_check(emu_ctx *ctx, emu_req *req, emu_resp *resp, emu_principal *who);
int emu_principal_has_role(const emu_principal *who, const char *role);
void emu_principal_free(emu_principal *who);

/* JWT compact serialization. */
char *emu_jwt_sign(EVP_PKEY *key, const char *alg, json_t *header, json_t *claims);
typedef struct emu_jwt {
    json_t *header, *claims;
    char *signing_input; /* "b64(header).b64(payload)" */
    ssync_buf sig;
} emu_jwt;
/* Splits and decodes (no signature check). 0 or -1 (malformed). */
int emu_jwt_parse(const char *token, emu_jwt *out);
/* Verifies with alg RS256 (PKCS#1 v1.5) or PS256 (PSS, salt = digest length). 1 = valid. */
int emu_jwt_verify(const emu_jwt *jwt, EVP_PKEY *pub, const char *alg);
void emu_jwt_free(emu_jwt *jwt);

/* ---- OData $filter subset (emu_filter.c) ---- */

typedef enum emu_fop { EMU_F_EQ, EMU_F_IN, EMU_F_ANY_EQ, EMU_F_AND } emu_fop;

/* Indices (ascending) of the users whose userPrincipalName or mail equals value
 * (case-insensitive); prop is "userPrincipalName" or "mail". *n = 0 when none. NULL with
 * *n = 0 also for another property (the caller then scans). Free the result. */
size_t *emu_users_matching(const struct emu_ctx *ctx, const char *prop, const char *value,
                           size_t *n, int *indexed);

typedef struct emu_filter {
    emu_fop op;
    char *prop;  /* as written by the client */
    int tolower; /* tolower(prop) */
    char **values;
    size_t nvalues;
    struct emu_filter *left, *right;
} emu_filter;

/* Parses a decoded $filter value. On error returns NULL and a message in msg. */
emu_filter *emu_filter_parse(const char *text, char *msg, size_t msglen);
void emu_filter_free(emu_filter *f);
/* Calls fn on every leaf (EQ, IN, ANY_EQ); stops at the first non-zero return. */
int emu_filter_walk(emu_filter *f, int (*fn)(emu_filter *leaf, void *arg), void *arg);
/* Evaluates on a JSON object (leaf prop = member name). ci: compare case-insensitively. */
int emu_filter_eval(const emu_filter *f, json_t *obj, int ci);

/* ---- records (emu_store.c) ---- */

emu_store *emu_store_new(void);
void emu_store_free(emu_store *s);
/* All calls below need ctx->lock held. */
size_t emu_store_count(const emu_store *s);
json_t *emu_store_get(emu_store *s, const char *id);          /* borrowed */
int emu_store_put(emu_store *s, const char *id, json_t *rec); /* steals rec; -1 if id exists */
int emu_store_delete(emu_store *s, const char *id);           /* 0, or -1 unknown */
/* Iterate records with sequence > after, in creation order: returns the next record and its
 * sequence, or NULL. */
json_t *emu_store_next(emu_store *s, uint64_t after, uint64_t *seq);
int emu_state_load(emu_ctx *ctx, const char *path, ssync_error *err);
int emu_state_save(emu_ctx *ctx, const char *path, ssync_error *err);

/* ---- Graph resources ---- */

void emu_pfx_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                   const char *version, const char *rest);
void emu_users_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                     const char *version, const char *rest);
void emu_batch(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version);
int emu_users_load(emu_ctx *ctx, const char *path, ssync_error *err);
const emu_user *emu_user_by_upn(const emu_ctx *ctx, const char *upn);

/* /groups (emu_groups.c): --groups FILE, CSV "groupId,member" where member is a UPN, a user id
 * or another group's id (nesting; cycles allowed). */
int emu_groups_load(emu_ctx *ctx, const char *path, ssync_error *err);
void emu_groups_free(emu_ctx *ctx);
void emu_groups_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                      const char *version, const char *rest);

/* 1 when user index u is a member of group id, directly or through nested groups. */
int emu_group_has_user(const emu_ctx *ctx, const char *group_id, size_t u);

/* ---- Intune's delivery model (emu_tenant.c loads, emu_intune.c serves, emu_delivery.c
 * decides) ---- */

#define EMU_ROLE_DEVICES "DeviceManagementManagedDevices.Read.All"
#define EMU_ROLE_APPS "DeviceManagementApps.Read.All"
#define EMU_ERR_RECRYPT                                                                            \
    2052 /* certificateErrorCode of a failed re-encryption (docs/emulator.md)                      \
          */

typedef enum emu_profile_kind {
    EMU_PROFILE_OTHER,
    EMU_PROFILE_PFX,
    EMU_PROFILE_ROOT
} emu_profile_kind;

/* --tenant-config FILE: one line error naming the item on bad input. */
int emu_tenant_load(emu_ctx *ctx, const char *path, ssync_error *err);
/* The kind of a deviceConfiguration by its @odata.type, and the managedDevice operatingSystem
 * its type serves ("iOS", "Android", "Windows", "macOS") or NULL. */
emu_profile_kind emu_profile_kind_of(const json_t *profile);
const char *emu_profile_os(const json_t *profile);
/* 1 when the profile's assignments include user index u (groups, all users; exclusions win). */
int emu_profile_assigned(const emu_ctx *ctx, const json_t *profile, size_t u);
/* The managedDevice of the tenant with this id, or NULL. */
json_t *emu_tenant_device(const emu_ctx *ctx, const char *id);
/* Graph routes of the model: rest after the version; returns 0 when it did not match. */
int emu_intune_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                     const char *version, const char *rest);
/* A device fetch under the delivery rules: the records (deep copies) that the rules give this
 * device of user u, each with "_profileId"; NULL + 4xx in resp when the device is unknown. */
json_t *emu_delivery_select(emu_ctx *ctx, emu_req *req, emu_resp *resp, size_t u,
                            const char *device_id, json_t **device_out);
/* Records the state of one delivered record on the device (replacing the device's earlier
 * state for that profile). error_code 0: installed. Takes the lock. */
void emu_delivery_record(emu_ctx *ctx, const json_t *device, const emu_user *user,
                         const json_t *rec, X509 *cert, long error_code);
/* /emu/devices/checkin: every managed device of the tenant checks in at once, without the
 * connector's crypto (benchmarks and the demo): the states are replaced by what the rules
 * deliver, each installed. Returns how many were delivered. */
size_t emu_delivery_all(emu_ctx *ctx);
/* Forgets the device's earlier states (before a fetch records the new ones). Takes the lock. */
void emu_delivery_forget(emu_ctx *ctx, const char *device_id);

/* The page offset of an "emu1.N" skip token (what emu_next_link hands out for an offset):
 * 0 and *start, or -1 when the token is not one of ours. */
int emu_skiptoken_offset(const char *skip, size_t *start);

/* Query options shared by collections: returns 0, or -1 with resp filled (400). On beta the
 * '$' prefix is optional (Graph docs: Use query parameters). */
const char *emu_query_opt(const emu_req *req, const char *name, const char *version);
/* Checks that every $-option is one of allowed (NULL-terminated); -1 + 400 otherwise. */
int emu_query_check(const emu_req *req, emu_resp *resp, const char *version,
                    const char *const *allowed, int intune);
/* @odata.nextLink: base + path + every original query option except $skiptoken + new token. */
char *emu_next_link(const emu_ctx *ctx, const emu_req *req, const char *skiptoken);
/* Answers 200 with one page of a collection: @odata.context, @odata.count when count >= 0,
 * value (the reference is taken) and, when skiptoken is not NULL, @odata.nextLink. */
void emu_respond_page(const emu_ctx *ctx, const emu_req *req, emu_resp *resp, const char *context,
                      long long count, json_t *value, const char *skiptoken);
/* What $select may name on one entity type. */
typedef struct emu_select_spec {
    const char *(*prop)(const char *name); /* canonical property name, or NULL if unknown */
    const char *type;                      /* entity type named in the 400 message */
    const char *code;                      /* error code of the 400 */
    int trim_trailing;                     /* also strip trailing blanks from each name */
} emu_select_spec;
/* $select=a,b -> *out = array of canonical names (NULL if text is NULL) and ctxsel = "a,b" for
 * @odata.context. -1 + 400 (Graph error shape) on an unknown property. */
int emu_parse_select(const emu_req *req, emu_resp *resp, const char *text,
                     const emu_select_spec *spec, json_t **out, char *ctxsel, size_t ctxlen);
/* A user object as Graph returns it, limited to sel (NULL: the full view); $select rules. */
json_t *emu_user_view(const emu_user *u, json_t *sel);
extern const emu_select_spec emu_user_select;
/* Content-Type must be application/json (with optional parameters). -1 + 415 otherwise. */
int emu_require_json(const emu_req *req, emu_resp *resp);
/* Parses the JSON body into an object. -1 + 400 otherwise. */
json_t *emu_body_object(const emu_req *req, emu_resp *resp);

/* ---- throttling (emu_throttle.c) ---- */

int emu_limit_parse(const char *text, emu_limit *out);
int emu_window_init(emu_window *w, emu_limit limit);
void emu_window_free(emu_window *w);
/* Needs ctx->lock held. Admits the request (returns 1) or returns 0 and the integer seconds
 * until a slot frees (ceiling, >= 1) in *retry_after. */
int emu_throttle_admit(emu_ctx *ctx, int is_write, long *retry_after);

/* ---- faults (emu_faults.c) ---- */

int emu_fault_parse(const char *spec, emu_fault *out, char *msg, size_t msglen);
/* Counts the request against every matching fault; returns the fault that fires (copied into
 * *out) or 0 when none. Takes the lock. */
int emu_faults_match(emu_ctx *ctx, const char *method, const char *path, emu_fault *out);
const char *emu_fault_kind_name(emu_fault_kind k);

/* ---- connector and device (emu_connector.c, emu_device.c) ---- */

/* RSA-OAEP decryption of a base64 encryptedPfxPassword with the connector key and the named
 * padding scheme. 0, or -1 with a reason. */
int emu_connector_decrypt(emu_ctx *ctx, const char *b64, const char *padding, ssync_buf *out,
                          char *msg, size_t msglen);
/* Opens a PKCS#12 with password; checks the key matches the certificate; returns the lowercase
 * SHA-1 thumbprint of the certificate in thumb[41]. 0 or -1 with a reason. */
int emu_pfx_open(const unsigned char *der, size_t len, const char *password, char thumb[41],
                 EVP_PKEY **key_out, X509 **cert_out, char *msg, size_t msglen);
void emu_device_endpoint(emu_ctx *ctx, emu_req *req, emu_resp *resp);
int emu_device_fetch_main(int argc, char **argv);

/* ---- admin (emu_admin.c) ---- */

void emu_admin_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *rest);
void emu_stats_count(emu_ctx *ctx, const char *method, const char *route, int status);

/* userPfxCertificates (emu_pfx.c routes, emu_pfx_validate.c checks the body). */
#define EMU_PFX_ODATA_TYPE "#microsoft.graph.userPFXCertificate"
extern const char *const emu_pfx_props[];    /* the properties, canonical case, NULL-ended */
extern const char *const emu_pfx_required[]; /* those a create must carry */
/* The canonical spelling of a property name (case-insensitive), or NULL. */
const char *emu_pfx_canonical_prop(const char *name);
/* Validates the fields present in `in` and writes normalized values into `out`. With patch,
 * fields are optional. 0, or -1 with resp filled. */
int emu_pfx_validate(emu_ctx *ctx, const emu_req *req, emu_resp *resp, json_t *in, json_t *out,
                     int patch);
/* --strict: what the connector and the device will do later, checked at upload time. 0 or -1. */
int emu_pfx_strict_check(emu_ctx *ctx, const emu_req *req, emu_resp *resp, json_t *rec);

/* Entra ID: emu_token.c (the token endpoint) and emu_assertion.c (the certificate credential).
 * Emulator-specific AADSTS codes (Entra documents none for these cases; see docs/emulator.md). */
#define AADSTS_EMU_REPLAY 9999001L
#define AADSTS_EMU_TWO_CREDENTIALS 9999002L
#define AADSTS_EMU_ASSERTION_TYPE 9999003L
/* Returns 0 when the client assertion authenticates ctx->client_id, or -1 with resp filled. */
int emu_check_assertion(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *assertion,
                        const char *client_id, const char *tenant);

#endif
