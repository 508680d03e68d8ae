/* The state journal (SQLite): every write to Intune is recorded as an intent before the request
 * and as an outcome after it, with the request ids, so a run killed at any point can be finished
 * by the next one without duplicates or losses. It never holds a secret: no key, no password, no
 * PKCS#12, no token. */
#ifndef SSYNC_JOURNAL_H
#define SSYNC_JOURNAL_H

#include "common/errors.h"

#include <stdint.h>

typedef struct ssync_journal ssync_journal;

typedef enum ssync_op_action { SSYNC_OP_UPLOAD, SSYNC_OP_REMOVE } ssync_op_action;
typedef enum ssync_op_outcome {
    SSYNC_OUTCOME_PENDING, /* intent written, no outcome yet (a crash in between) */
    SSYNC_OUTCOME_DONE,
    SSYNC_OUTCOME_FAILED,
    SSYNC_OUTCOME_AMBIGUOUS, /* the request may or may not have taken effect */
} ssync_op_outcome;

typedef struct ssync_op {
    int64_t id;
    int64_t run_id;
    ssync_op_action action;
    ssync_op_outcome outcome;
    char upn[256];
    char thumbprint[41];
    char record_id[128];
    char client_request_id[40];
    char request_id[64];
    int http_status;
    char error[512];
} ssync_op;

/* Opens (creating with mode 0600) the journal at path and brings its schema up to date. */
ssync_code ssync_journal_open(const char *path, ssync_journal **out, ssync_error *err);
void ssync_journal_close(ssync_journal *j);

ssync_code ssync_journal_run_begin(ssync_journal *j, const char *command, int64_t *run_id,
                                   ssync_error *err);
/* summary: a JSON text (counts) stored with the run. */
ssync_code ssync_journal_run_end(ssync_journal *j, int64_t run_id, const char *summary,
                                 ssync_error *err);

/* Durable before it returns: the intent survives a kill -9 right after. */
ssync_code ssync_journal_intent(ssync_journal *j, int64_t run_id, ssync_op_action action,
                                const char *upn, const char *thumbprint, const char *record_id,
                                const char *client_request_id, int64_t *op_id, ssync_error *err);
ssync_code ssync_journal_outcome(ssync_journal *j, int64_t op_id, ssync_op_outcome outcome,
                                 int http_status, const char *request_id, const char *error,
                                 ssync_error *err);

/* Calls fn for each operation still pending or ambiguous (oldest first). fn returns 0 to stop. */
ssync_code ssync_journal_unsettled(ssync_journal *j, int (*fn)(void *ctx, const ssync_op *op),
                                   void *ctx, ssync_error *err);
/* Marks every unsettled operation of (upn, thumbprint, action) as settled with outcome. */
ssync_code ssync_journal_settle(ssync_journal *j, ssync_op_action action, const char *upn,
                                const char *thumbprint, ssync_op_outcome outcome, const char *note,
                                ssync_error *err);

/* Group many writes in one transaction (outcomes of a batch). Intents are committed on their own.
 */
ssync_code ssync_journal_tx_begin(ssync_journal *j, ssync_error *err);
ssync_code ssync_journal_tx_commit(ssync_journal *j, ssync_error *err);

/* Small key/value store (e.g. the last CA request id seen). *value is malloc'd or NULL. */
ssync_code ssync_journal_meta_get(ssync_journal *j, const char *key, char **value,
                                  ssync_error *err);
ssync_code ssync_journal_meta_set(ssync_journal *j, const char *key, const char *value,
                                  ssync_error *err);

/* The user-lookup cache: successful directory lookups (never "not found", never an error, so a
 * new user is seen at once), reused for [state] user_cache_hours. kind says what key is
 * ("upn", "mail", "cert" for a certificate thumbprint); keys compare in ASCII lowercase. Times
 * are Unix seconds. */
typedef struct ssync_cached_user {
    char id[40];    /* object id as Graph gives it */
    char upn[256];  /* userPrincipalName */
    char mail[320]; /* "" when the user has none */
    char via[24];   /* the property that matched: "userPrincipalName", "mail", "proxyAddresses" */
} ssync_cached_user;

/* How many statements the journal holds prepared (each SQL text is prepared once and reused). */
int ssync_journal_prepared(ssync_journal *j);

/* *found = 1 and out filled when an entry for (kind, key) was stored at or after not_before. */
ssync_code ssync_journal_user_get(ssync_journal *j, const char *kind, const char *key,
                                  double not_before, ssync_cached_user *out, int *found,
                                  ssync_error *err);
/* Stores (replaces) the entry for (kind, key), stamped when. */
ssync_code ssync_journal_user_put(ssync_journal *j, const char *kind, const char *key,
                                  const ssync_cached_user *u, double when, ssync_error *err);
/* Deletes the entries stored before before (all of them with a huge value). */
ssync_code ssync_journal_user_prune(ssync_journal *j, double before, ssync_error *err);

/* The scan cache: a blob's certificate facts (a JSON text of public facts: no key, no secret)
 * keyed on its path, size and modification time and on the KRA set that was checked, so a
 * re-sync does not read unchanged blobs again. *facts is malloc'd, NULL when not cached. */
ssync_code ssync_journal_scan_get(ssync_journal *j, const char *path, long long size,
                                  long long mtime_ns, const char *kras, char **facts,
                                  ssync_error *err);
ssync_code ssync_journal_scan_put(ssync_journal *j, const char *path, long long size,
                                  long long mtime_ns, const char *kras, const char *facts,
                                  ssync_error *err);

const char *ssync_op_action_name(ssync_op_action a);
const char *ssync_op_outcome_name(ssync_op_outcome o);

#endif
