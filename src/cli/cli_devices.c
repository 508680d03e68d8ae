/* status --devices, the evaluation (cli_devices.h). Intune's rules as documented (memdocs
 * certificates-imported-pfx-configure.md): a certificate reaches a device through a PKCS imported
 * profile of the device's platform with the record's intendedPurpose, assigned to the user
 * (exclusions win); of several records of one (user, purpose) only the newest startDateTime. */
#include "cli_devices.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- a small set of user names per group ---- */

struct group_members {
    char id[40];
    ssync_group_members m;
    int ok;
};

struct groups {
    struct group_members *v;
    size_t n;
};

static int upn_cmp(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

static const struct group_members *group_get(ssync_graph *g, struct groups *gs, const char *id)
{
    for (size_t i = 0; i < gs->n; i++)
        if (strcasecmp(gs->v[i].id, id) == 0)
            return &gs->v[i];
    struct group_members *v = realloc(gs->v, (gs->n + 1) * sizeof *v);
    if (!v)
        return NULL;
    gs->v = v;
    struct group_members *x = &v[gs->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->id, sizeof x->id, "%s", id);
    ssync_error e = {0};
    x->ok = ssync_graph_group_members(g, id, &x->m, &e) == SSYNC_OK;
    if (x->m.count) /* sorted once: one binary search per question */
        qsort(x->m.upns, x->m.count, sizeof *x->m.upns, upn_cmp);
    return x;
}

static int member(const struct group_members *gm, const char *upn)
{
    return gm && gm->m.count &&
           bsearch(&upn, gm->m.upns, gm->m.count, sizeof *gm->m.upns, upn_cmp) != NULL;
}

/* 1 when p is assigned to upn, 0 when not, -1 when a group of its assignments could not be
 * read (GroupMember.Read.All missing, or the group is gone): then nothing can be said. */
static int assigned(ssync_graph *g, struct groups *gs, const ssync_intune_profile *p,
                    const char *upn)
{
    int in = 0, unknown = 0;
    for (size_t t = 0; t < p->ntargets; t++) {
        const ssync_intune_target *x = &p->targets[t];
        const struct group_members *gm = NULL;
        if (x->kind == SSYNC_TARGET_EXCLUDE || x->kind == SSYNC_TARGET_GROUP) {
            gm = group_get(g, gs, x->group_id);
            if (!gm || !gm->ok) {
                unknown = 1;
                continue;
            }
        }
        if (x->kind == SSYNC_TARGET_EXCLUDE && member(gm, upn))
            return 0;
        if (x->kind == SSYNC_TARGET_ALL_USERS || (x->kind == SSYNC_TARGET_GROUP && member(gm, upn)))
            in = 1;
    }
    return unknown ? -1 : in;
}

/* ---- rows ---- */

static struct dev_row *row_add(struct dev_report *rep)
{
    if (rep->n == rep->cap) {
        size_t cap = rep->cap ? rep->cap * 2 : 64;
        struct dev_row *v = realloc(rep->rows, cap * sizeof *v);
        if (!v)
            return NULL;
        rep->rows = v;
        rep->cap = cap;
    }
    struct dev_row *r = &rep->rows[rep->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static const char *failure_hint(long code)
{
    if (code == 2052)
        return "the connector could not re-encrypt the PKCS#12 password: every connector needs "
               "the PFX-password key (connector event 2052)";
    return "see the device's certificate status in the Intune admin center";
}

/* The record with the newest startDateTime among the user's (mine[0..n)) of e's purpose. */
static const ssync_pfx_entry *newest_of(const ssync_pfx_entry *mine, size_t n,
                                        const ssync_pfx_entry *e)
{
    const ssync_pfx_entry *best = e;
    time_t bt = ssync_graph_parse_time(e->start_date_time);
    for (size_t i = 0; i < n; i++) {
        const ssync_pfx_entry *o = &mine[i];
        if (!o->intended_purpose || !e->intended_purpose ||
            strcmp(o->intended_purpose, e->intended_purpose))
            continue;
        time_t t = ssync_graph_parse_time(o->start_date_time);
        if (t > bt) {
            bt = t;
            best = o;
        }
    }
    return best;
}

/* States sorted by (thumbprint, device name): one binary search per row. */
static int state_cmp(const void *a, const void *b)
{
    const ssync_intune_state *x = a, *y = b;
    int c = strcmp(x->thumbprint, y->thumbprint);
    return c ? c : strcasecmp(x->device, y->device);
}

static const ssync_intune_state *state_for(const ssync_intune_states *s, const char *thumb,
                                           const char *device)
{
    ssync_intune_state key;
    memset(&key, 0, sizeof key);
    snprintf(key.thumbprint, sizeof key.thumbprint, "%s", thumb);
    snprintf(key.device, sizeof key.device, "%s", device);
    return s->n ? bsearch(&key, s->v, s->n, sizeof *s->v, state_cmp) : NULL;
}

static int device_cmp(const void *a, const void *b)
{
    const ssync_intune_device *x = a, *y = b;
    int c = strcasecmp(x->upn, y->upn);
    return c ? c : strcasecmp(x->name, y->name);
}

/* One record on one device. */
static void judge(ssync_graph *g, struct groups *gs, const ssync_intune_profiles *ps,
                  const ssync_intune_states *states, const ssync_pfx_entry *mine, size_t nmine,
                  const ssync_pfx_entry *e, const ssync_intune_device *d, struct dev_row *r)
{
    const char *purpose = e->intended_purpose ? e->intended_purpose : "";
    size_t for_platform = 0, with_purpose = 0;
    const ssync_intune_profile *through = NULL;
    int unreadable = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const ssync_intune_profile *p = &ps->v[i];
        if (p->kind != SSYNC_PROFILE_PFX || p->platform != d->platform)
            continue;
        for_platform++;
        if (strcmp(p->purpose, purpose) != 0)
            continue;
        with_purpose++;
        int a = through ? 0 : assigned(g, gs, p, d->upn);
        if (a > 0)
            through = p;
        unreadable |= a < 0;
    }
    if (!for_platform || !with_purpose) {
        r->state = DEV_NO_PROFILE;
        snprintf(r->detail, sizeof r->detail,
                 for_platform ? "no PKCS imported profile for %s with intendedPurpose %s"
                              : "no PKCS imported profile for %s",
                 ssync_platform_name(d->platform), purpose);
        return;
    }
    if (!through && unreadable) {
        r->state = DEV_UNASSIGNED;
        snprintf(r->detail, sizeof r->detail,
                 "a group of the %s profile's assignments could not be read: grant "
                 "GroupMember.Read.All to know whether the user is covered",
                 ssync_platform_name(d->platform));
        return;
    }
    if (!through) {
        r->state = DEV_UNASSIGNED;
        snprintf(r->detail, sizeof r->detail,
                 "the user is outside every assignment of the %s profile(s) with %s",
                 ssync_platform_name(d->platform), purpose);
        return;
    }
    const ssync_pfx_entry *best = newest_of(mine, nmine, e);
    if (best != e) {
        r->state = DEV_HIDDEN;
        snprintf(r->detail, sizeof r->detail,
                 "hidden by the newer %.40s (same purpose; the newest startDateTime wins)",
                 best->thumbprint ? best->thumbprint : "?");
        return;
    }
    const ssync_intune_state *s = state_for(states, r->thumbprint, d->name);
    if (s && !strcmp(s->state, "installed")) {
        r->state = DEV_INSTALLED;
        snprintf(r->detail, sizeof r->detail, "through '%s'", through->name);
    } else if (s && (strstr(s->state, "ailed") || s->error_code)) {
        r->state = DEV_FAILED;
        r->error_code = s->error_code;
        snprintf(r->detail, sizeof r->detail, "%s, error %ld: %s", s->state, s->error_code,
                 failure_hint(s->error_code));
    } else {
        r->state = DEV_PENDING;
        time_t up = ssync_graph_parse_time(e->created_date_time);
        if (s)
            snprintf(r->detail, sizeof r->detail, "state %s", s->state);
        else if (up)
            snprintf(r->detail, sizeof r->detail, "uploaded %ld min ago, not yet on the device",
                     (long)(time(NULL) - up) / 60);
        else
            snprintf(r->detail, sizeof r->detail, "uploaded, not yet on the device");
    }
}

static int by_upn(const void *a, const void *b)
{
    const ssync_pfx_entry *x = a, *y = b;
    int c = strcasecmp(x->user_principal_name ? x->user_principal_name : "",
                       y->user_principal_name ? y->user_principal_name : "");
    return c ? c : strcmp(x->thumbprint ? x->thumbprint : "", y->thumbprint ? y->thumbprint : "");
}

int cli_devices_collect(ssync_graph *g, const char *user, struct dev_report *rep, char *why,
                        size_t whylen)
{
    memset(rep, 0, sizeof *rep);
    ssync_graph_stats before;
    ssync_graph_get_stats(g, &before);
    ssync_pfx_list recs = {0};
    ssync_intune_profiles ps = {0};
    ssync_intune_devices devs = {0};
    ssync_intune_states states = {0};
    struct groups gs = {0};
    ssync_error e = {0};
    int rc = -1;
    const char *what = "userPfxCertificates";
    if ((user ? ssync_graph_list_pfx_by_user(g, user, &recs, &e)
              : ssync_graph_list_pfx(g, &recs, &e)) != SSYNC_OK)
        goto fail;
    what = "deviceConfigurations ("
           "DeviceManagementConfiguration.Read.All"
           ")";
    if (ssync_intune_list_profiles(g, &ps, &e) != SSYNC_OK)
        goto fail;
    what = "managedDevices (DeviceManagementManagedDevices.Read.All)";
    if (ssync_intune_list_devices(g, &devs, &e) != SSYNC_OK)
        goto fail;
    what = "managedDeviceCertificateStates (DeviceManagementConfiguration.Read.All)";
    for (size_t i = 0; i < ps.n; i++)
        if (ps.v[i].kind == SSYNC_PROFILE_PFX &&
            ssync_intune_list_states(g, &ps.v[i], &states, &e) != SSYNC_OK)
            goto fail;
    qsort(recs.items, recs.count, sizeof *recs.items, by_upn);
    if (devs.n)
        qsort(devs.v, devs.n, sizeof *devs.v, device_cmp);
    if (states.n)
        qsort(states.v, states.n, sizeof *states.v, state_cmp);
    for (size_t i = 0; i < recs.count;) {
        const char *upn =
            recs.items[i].user_principal_name ? recs.items[i].user_principal_name : "";
        size_t end = i;
        while (end < recs.count && recs.items[end].user_principal_name &&
               !strcasecmp(recs.items[end].user_principal_name, upn))
            end++;
        if (end == i)
            end = i + 1;
        rep->users++;
        size_t ndev = 0, lo = 0, hi = devs.n;
        while (lo < hi) { /* the user's first device */
            size_t mid = (lo + hi) / 2;
            if (strcasecmp(devs.v[mid].upn, upn) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t d = lo; d < devs.n && !strcasecmp(devs.v[d].upn, upn); d++) {
            ndev++;
            rep->devices++;
            for (size_t k = i; k < end; k++) {
                struct dev_row *r = row_add(rep);
                if (!r)
                    goto nomem;
                snprintf(r->upn, sizeof r->upn, "%s", upn);
                snprintf(r->device, sizeof r->device, "%s", devs.v[d].name);
                snprintf(r->thumbprint, sizeof r->thumbprint, "%s",
                         recs.items[k].thumbprint ? recs.items[k].thumbprint : "");
                r->platform = devs.v[d].platform;
                judge(g, &gs, &ps, &states, &recs.items[i], end - i, &recs.items[k], &devs.v[d], r);
                rep->counts[r->state]++;
            }
        }
        if (!ndev) {
            rep->users_without_devices++;
            struct dev_row *r = row_add(rep);
            if (!r)
                goto nomem;
            snprintf(r->upn, sizeof r->upn, "%s", upn);
            r->state = DEV__COUNT; /* a marker row: no managed device */
        }
        i = end;
    }
    rc = 0;
    goto out;
nomem:
    snprintf(why, whylen, "out of memory");
    goto out;
fail : {
    const ssync_graph_failure *f = ssync_graph_last_failure(g);
    if (f && f->http_status == 403)
        snprintf(why, whylen, "the app may not read %s: grant the permission: %s", what, e.msg);
    else
        snprintf(why, whylen, "cannot read %s: %s", what, e.msg);
}
out:;
    ssync_graph_stats after;
    ssync_graph_get_stats(g, &after);
    rep->requests = after.requests - before.requests;
    for (size_t i = 0; i < gs.n; i++)
        ssync_group_members_free(&gs.v[i].m);
    free(gs.v);
    ssync_intune_states_free(&states);
    ssync_intune_devices_free(&devs);
    ssync_intune_profiles_free(&ps);
    ssync_pfx_list_free(&recs);
    return rc;
}

void cli_devices_free(struct dev_report *rep)
{
    free(rep->rows);
    memset(rep, 0, sizeof *rep);
}

int cli_devices_differ(const struct dev_report *rep)
{
    return rep->counts[DEV_FAILED] || rep->counts[DEV_PENDING] || rep->counts[DEV_UNASSIGNED] ||
           rep->counts[DEV_NO_PROFILE];
}
