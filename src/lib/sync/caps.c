/* The change caps (see caps.h). */
#include "sync/caps.h"

#include <stdio.h>

long ssync_cap_allowed(const ssync_cap *cap, size_t managed)
{
    if (!cap || cap->value < 0)
        return -1;
    if (!cap->percent)
        return cap->value;
    long n = (long)((unsigned long long)managed * (unsigned)cap->value / 100); /* rounded down */
    return n < cap->floor ? cap->floor : n;
}

static void count(const ssync_plan *p, const ssync_cap *cap, ssync_plan_action a, const char *name,
                  ssync_cap_check *out)
{
    *out = (ssync_cap_check){.name = name};
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        out->managed += it->present;
        out->planned += it->code == SSYNC_OK && it->action == a;
    }
    out->allowed = ssync_cap_allowed(cap, out->managed);
}

/* "[policy] max_removals: the plan removes 40 records, 30 more than the 10 allowed (10% of the
 * 95 records smimesync manages in Intune, at least 10)" */
static ssync_code tripped(const ssync_cap_check *c, const ssync_cap *cap, const char *verb,
                          ssync_error *err)
{
    char how[160] = "", least[32] = "";
    if (cap->floor)
        snprintf(least, sizeof least, ", at least %d", cap->floor);
    if (cap->percent)
        snprintf(how, sizeof how, " (%d%% of the %zu records smimesync manages in Intune%s)",
                 cap->value, c->managed, least);
    return ssync_fail(err, SSYNC_ERR_CAP,
                      "[policy] %s: the plan %s %zu records, %zu more than the %ld allowed%s",
                      c->name, verb, c->planned, c->planned - (size_t)c->allowed, c->allowed, how);
}

ssync_code ssync_caps_check(const ssync_plan *p, const ssync_cap *max_removals,
                            const ssync_cap *max_uploads, ssync_cap_check *removals,
                            ssync_cap_check *uploads, ssync_error *err)
{
    if (!p || !max_removals || !max_uploads)
        return ssync_fail(err, SSYNC_ERR_ARG, "change caps: no plan or cap");
    ssync_cap_check r, u;
    count(p, max_removals, SSYNC_ACT_REMOVE, "max_removals", &r);
    count(p, max_uploads, SSYNC_ACT_UPLOAD, "max_uploads", &u);
    if (removals)
        *removals = r;
    if (uploads)
        *uploads = u;
    if (r.allowed >= 0 && r.planned > (size_t)r.allowed)
        return tripped(&r, max_removals, "removes", err);
    if (u.allowed >= 0 && u.planned > (size_t)u.allowed)
        return tripped(&u, max_uploads, "uploads", err);
    return SSYNC_OK;
}
