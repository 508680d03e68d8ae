/* The audit trail ([audit] path): one JSON line per change made in Intune (a create, a delete and
 * its verification) and per KRA recovery, in an append-only file of mode 0600. The lines are
 * hash-chained: each carries "seq" (one more than the line before) and "prev", the SHA-256 (hex)
 * of the previous line's bytes, so that an edited, deleted or reordered line breaks the chain
 * where ssync_audit_verify says. A file starts with a "start" line (prev: 64 zeros) or, after a
 * rotation, a "rotate" line whose prev is the head (last hash) of the old file. Each line is one
 * write(2) (a killed run leaves whole lines); ssync_audit_sync makes them durable (fdatasync)
 * before the run reports success. Never a secret or key bytes: names, thumbprints, serials, ids
 * and outcomes only. */
#ifndef SSYNC_AUDIT_H
#define SSYNC_AUDIT_H

#include "common/errors.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SSYNC_AUDIT_HASH_HEX 64

typedef struct ssync_audit ssync_audit;

/* One line's fields; every member may be NULL (written as null), http_status 0 as null. */
typedef struct ssync_audit_event {
    const char *action;     /* "create", "delete", "recover" */
    const char *result;     /* "created", "present", "removed", "absent", "recovered", "failed" */
    const char *user;       /* userPrincipalName */
    const char *thumbprint; /* lowercase SHA-1 of the certificate */
    const char *serial;     /* the certificate's serial (hex) */
    const char *source;     /* where the certificate came from (source type and item) */
    const char *kra;        /* serial of the KRA that opened the key (a failed one: those held) */
    const char *request_id; /* Graph's request-id of the deciding request */
    const char *record_id;  /* the userPfxCertificate id */
    const char *error;      /* why it failed (one line, no secret) */
    long http_status;
    int verified; /* a delete confirmed by a GET answering 404, a create found by a read-back */
} ssync_audit_event;

/* Creates a new trail at path (O_EXCL, 0600) with its first line: "start", or "rotate" chained
 * to the head of the trail `continues` (verified first; NULL: a new chain). */
ssync_code ssync_audit_create(const char *path, const char *continues, ssync_error *err);

/* Opens the trail for appending. Refused (SSYNC_ERR_AUDIT, the message says why) when it is
 * missing, not a regular file of mode 0600 owned by this user, in a directory others may write,
 * not writable, truncated mid-line, or when its last line is not a trail line. app_id (may be
 * NULL) goes on every line; a fresh run id (a GUID) is made. */
ssync_code ssync_audit_open(const char *path, const char *app_id, ssync_audit **out,
                            ssync_error *err);
const char *ssync_audit_run_id(const ssync_audit *a);
/* Appends one line (one write). */
ssync_code ssync_audit_append(ssync_audit *a, const ssync_audit_event *ev, ssync_error *err);
/* Makes the lines appended so far durable (fdatasync). */
ssync_code ssync_audit_sync(ssync_audit *a, ssync_error *err);
void ssync_audit_close(ssync_audit *a);

/* What a verification found. */
typedef struct ssync_audit_check {
    size_t lines;                              /* lines read */
    size_t bad_line;                           /* 1-based line where the chain breaks; 0: none */
    uint64_t last_seq;                         /* seq of the last line */
    char head[SSYNC_AUDIT_HASH_HEX + 1];       /* SHA-256 of the last line */
    char first_prev[SSYNC_AUDIT_HASH_HEX + 1]; /* prev of the first line (its anchor) */
} ssync_audit_check;

/* Verifies the chain of one file. after (may be NULL): the check of the file before it in a
 * rotation; its head and seq must continue here. SSYNC_ERR_AUDIT when the chain breaks:
 * out->bad_line and err ("FILE:LINE: reason") say where and why. */
ssync_code ssync_audit_verify(const char *path, const ssync_audit_check *after,
                              ssync_audit_check *out, ssync_error *err);

/* Calls fn for each line of the trail, parsed (borrowed), with its 1-based number; fn returns
 * nonzero to stop. The chain is not verified here. */
typedef int (*ssync_audit_line_fn)(void *ctx, size_t line, const json_t *entry);
ssync_code ssync_audit_foreach(const char *path, ssync_audit_line_fn fn, void *ctx,
                               ssync_error *err);

#endif
