/* Expiry and coverage findings a PKI team alerts on, computed from a run's data: users whose
 * newest certificate expires soon with no successor, and the blobs no held KRA can open. The
 * CLI shows them in `check --json` and in the Prometheus metrics; the library only counts. */
#ifndef SSYNC_FINDINGS_H
#define SSYNC_FINDINGS_H

#include "common/errors.h"
#include "source/item.h"

#include <stddef.h>
#include <time.h>

/* A user whose newest usable certificate (not revoked, not filtered) expires within the
 * window: no successor was issued yet, so mail encrypted to the user will soon fail. */
typedef struct ssync_user_expiry {
    char *user;          /* the Entra ID UPN when resolved, else the certificate's (malloc'd) */
    time_t not_after;    /* of the newest certificate */
    char serial[80];     /* its serial */
    char thumbprint[41]; /* "" when not recovered */
} ssync_user_expiry;

typedef struct ssync_user_expiry_list {
    ssync_user_expiry *v;
    size_t n;
} ssync_user_expiry_list;

/* The users of p whose newest certificate's notAfter lies in [now, now + days * 86400], sorted
 * by notAfter. Users with an already expired newest certificate are not listed (they have left,
 * or were renewed elsewhere). SSYNC_ERR_NOMEM on memory. */
ssync_code ssync_findings_users_expiring(const ssync_plan *p, time_t now, int days,
                                         ssync_user_expiry_list *out, ssync_error *err);
void ssync_user_expiry_list_free(ssync_user_expiry_list *l);

#endif
