/* The change caps, a circuit breaker: a plan that would remove (or upload) more records than
 * [policy] max_removals (max_uploads) allows writes nothing, so that a CRL revoking too much, a
 * wrong filter or a typo cannot empty the tenant. Checked on the decided plan, before any write. */
#ifndef SSYNC_CAPS_H
#define SSYNC_CAPS_H

#include "common/errors.h"
#include "source/item.h"
#include "sync/config.h"

#include <stddef.h>

/* What one cap allows for this plan. */
typedef struct ssync_cap_check {
    const char *name; /* "max_removals" or "max_uploads" */
    size_t planned;   /* writes of the kind in the plan */
    size_t managed;   /* records smimesync manages in Intune: the plan's items present there */
    long allowed;     /* -1: no cap */
} ssync_cap_check;

/* The writes of each kind in p (items that can be carried out) against the caps. Fills
 * removals and uploads (either may be NULL). Returns SSYNC_OK, or SSYNC_ERR_CAP when the plan
 * exceeds a cap: err names the cap, the planned and allowed counts and by how much (removals
 * first when both are exceeded). */
ssync_code ssync_caps_check(const ssync_plan *p, const ssync_cap *max_removals,
                            const ssync_cap *max_uploads, ssync_cap_check *removals,
                            ssync_cap_check *uploads, ssync_error *err);
/* The writes cap allows out of managed records (-1: no cap). */
long ssync_cap_allowed(const ssync_cap *cap, size_t managed);

#endif
