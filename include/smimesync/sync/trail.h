/* The audit trail's lines for what a run does (audit/audit.h holds the trail itself): a Graph
 * write (create or delete, with its verification and request-id) and a KRA recovery. Shared by
 * the sync run, remove and upload, so that the three write the same fields. */
#ifndef SSYNC_TRAIL_H
#define SSYNC_TRAIL_H

#include "audit/audit.h"
#include "common/errors.h"
#include "graph/graph.h"
#include "recover/kra.h"

#include <stddef.h>

/* What the line names besides the operation; every member may be NULL. */
typedef struct ssync_trail_item {
    const char *user;       /* userPrincipalName */
    const char *thumbprint; /* for a create: the record's */
    const char *serial;
    const char *source; /* the blob, database or file the certificate came from */
} ssync_trail_item;

/* One line for a finished write: "create" (created, present: found by a read-back) or "delete"
 * (removed: verified gone by a GET answering 404; absent), or failed/unknown with the reason.
 * An operation never sent (cancelled before it) is no change and writes no line. */
ssync_code ssync_trail_write(ssync_audit *a, const ssync_trail_item *it, const ssync_graph_op *op,
                             ssync_error *err);
/* One line for a key recovered (error NULL) or not (the reason). kras: the serial of the KRA
 * that opened it (ssync_recovered_kra_serial), or for a failure those held (ssync_trail_kras). */
ssync_code ssync_trail_recover(ssync_audit *a, const ssync_trail_item *it, const char *kras,
                               const char *error, ssync_error *err);
/* The serials (hex) of the KRA certificates of set, comma-separated, into out. */
void ssync_trail_kras(const ssync_kra_set *set, char *out, size_t n);

#endif
