/* An AD CS database's requests as an administrator reads them (`certutil -view`): each Requests
 * row joined with its Certificates row on RequestID (both tables are in RequestID order: a merge
 * join of two streaming cursors, so memory does not grow with the database). Every disposition
 * is listed (pending, denied, issued, revoked), not only what sync would take. */
#ifndef SSYNC_EDB_CA_REQUESTS_H
#define SSYNC_EDB_CA_REQUESTS_H

#include "common/errors.h"
#include "edb/inspect.h"

typedef struct ssync_ca_request {
    long long request_id;
    int disposition;           /* 9 pending, 20 issued, 21 revoked, 30 failed, 31 denied, ... */
    const char *requester;     /* $RequesterName; "" when NULL */
    const char *template_name; /* $CertificateTemplate of the certificate; "" when none */
    const char *serial;        /* $SerialNumber; "" when no certificate */
    const char *thumbprint;    /* $CertificateHash2 (or $CertificateHash), lowercase, no blanks */
    const char *upn;           /* $UPN of the certificate; "" when NULL */
    int has_certificate;       /* a Certificates row with this RequestID */
    time_t submitted, not_before, not_after, revoked_when; /* 0 when NULL */
    int revoked_reason;                                    /* when revoked */
    const unsigned char *archived_key; /* RawArchivedKey (a CMS EnvelopedData); NULL: none */
    size_t archived_key_len;
    /* non-NULL: the row could not be decoded (its message names the row and column); only
     * request_id is set (0 when it was unreadable too), the walk goes on with the next row */
    const ssync_error *error;
} ssync_ca_request;

typedef struct ssync_ca_request_filter {
    int archived_only;         /* only requests with a RawArchivedKey */
    const char *template_name; /* case-insensitive; NULL: any */
    const char *requester;     /* case-insensitive; NULL: any */
} ssync_ca_request_filter;

/* fn returns SSYNC_OK to go on; anything else stops the walk with that code. */
typedef ssync_code (*ssync_ca_request_fn)(void *ctx, const ssync_ca_request *r, ssync_error *err);

/* Calls fn for every request of db matching f, in RequestID order, and for every Requests or
 * Certificates row that cannot be decoded (r->error; the filters cannot be applied to it; a
 * request whose certificate row is unreadable is then listed without its certificate). Fails when
 * db has no Requests table (or no RequestID or Disposition column): "not an AD CS database", or
 * when a table cannot be read further. */
ssync_code ssync_ca_requests(ssync_edb_inspect *db, const ssync_ca_request_filter *f,
                             ssync_ca_request_fn fn, void *ctx, ssync_error *err);
/* "issued", "revoked", "denied", "pending", ... ("disposition N" buffer-free fallback: "other") */
const char *ssync_ca_disposition_name(int disposition);

#endif
