/* smimesync check, the Intune side of delivery (issue 16; the rules and their sources are in
 * docs/user-guide.md, "Why is the certificate not on the phone?"): per platform a PKCS imported
 * certificate profile whose intendedPurpose is ours, assigned, covering the users in scope
 * (exclusions honoured); a trusted root profile holding our root; Outlook's S/MIME switch; an
 * active, recent, supported certificate connector; the app certificate's expiry. A listing the
 * app may not read gives "not checked (grant PERMISSION)", never a failure. */
#include "cli_check.h"
#include "cli_metrics.h"

#include "graph/intune.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PERM_CONFIG "DeviceManagementConfiguration.Read.All"
#define PERM_APPS "DeviceManagementApps.Read.All"
#define OUR_PURPOSE "smimeEncryption" /* what smimesync uploads (record/record.c) */

/* The failure's HTTP status when it is a 403 (a permission is missing) or a 404 (the service
 * does not serve the resource: a Graph endpoint without Intune, or an emulator without a tenant
 * description); 0 otherwise. */
static int denied(ssync_graph *g)
{
    const ssync_graph_failure *f = ssync_graph_last_failure(g);
    return f && (f->http_status == 403 || f->http_status == 404) ? (int)f->http_status : 0;
}

static void unchecked(struct check_list *l, const char *name, const char *perm, int status)
{
    char hint[160];
    if (status == 404) {
        cli_check_add(l, CHECK_UNCHECKED, name, NULL,
                      "not checked (Graph does not serve the Intune resource here: HTTP 404)");
        return;
    }
    snprintf(hint, sizeof hint, "grant the application permission %s and admin consent", perm);
    cli_check_add(l, CHECK_UNCHECKED, name, hint, "not checked (grant %s)", perm);
}

/* ---- users in scope and who the assignments cover ---- */

typedef struct upn_set {
    char **v;
    size_t n;
} upn_set;

static int upn_in(const upn_set *s, const char *upn)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->v[i], upn) == 0)
            return 1;
    return 0;
}

static void upn_add(upn_set *s, const char *upn)
{
    if (upn_in(s, upn))
        return;
    char **v = realloc(s->v, (s->n + 1) * sizeof *v);
    if (!v)
        return;
    s->v = v;
    if ((s->v[s->n] = strdup(upn)))
        s->n++;
}

static void upn_free(upn_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* The users in scope: [source] group's members and the holders of records in Intune. */
static int scope_users(ssync_graph *g, const ssync_config *cfg, upn_set *out, char *why, size_t n)
{
    ssync_error e = {0};
    if (cfg->source.group) {
        ssync_group_members m = {0};
        if (ssync_graph_group_members(g, cfg->source.group, &m, &e) != SSYNC_OK) {
            snprintf(why, n, "[source] group: %s", e.msg);
            return -1;
        }
        for (size_t i = 0; i < m.count; i++)
            upn_add(out, m.upns[i]);
        ssync_group_members_free(&m);
    }
    ssync_pfx_list recs = {0};
    if (ssync_graph_list_pfx(g, &recs, &e) != SSYNC_OK) {
        snprintf(why, n, "userPfxCertificates: %s", e.msg);
        return -1;
    }
    for (size_t i = 0; i < recs.count; i++)
        if (recs.items[i].user_principal_name)
            upn_add(out, recs.items[i].user_principal_name);
    ssync_pfx_list_free(&recs);
    return 0;
}

/* Adds the members of group id to set (cached per group in memo: id -> members). */
static int group_into(ssync_graph *g, const char *id, upn_set *set)
{
    ssync_group_members m = {0};
    ssync_error e = {0};
    if (ssync_graph_group_members(g, id, &m, &e) != SSYNC_OK && e.code != SSYNC_ERR_NOT_FOUND)
        return -1;
    for (size_t i = 0; i < m.count; i++)
        upn_add(set, m.upns[i]);
    ssync_group_members_free(&m);
    return 0;
}

/* How many of scope the profiles (of one platform, our purpose) leave out; names the first ones. */
static void coverage(struct check_list *l, ssync_graph *g, const char *name,
                     const ssync_intune_profile *const *ps, size_t np, const upn_set *scope)
{
    upn_set in = {0}, out = {0};
    int all = 0, targets = 0;
    for (size_t i = 0; i < np; i++)
        for (size_t t = 0; t < ps[i]->ntargets; t++) {
            const ssync_intune_target *x = &ps[i]->targets[t];
            if (x->kind == SSYNC_TARGET_ALL_USERS)
                all = 1;
            if (x->kind == SSYNC_TARGET_GROUP || x->kind == SSYNC_TARGET_ALL_USERS)
                targets++;
            if ((x->kind == SSYNC_TARGET_GROUP && group_into(g, x->group_id, &in) != 0) ||
                (x->kind == SSYNC_TARGET_EXCLUDE && group_into(g, x->group_id, &out) != 0)) {
                cli_check_add(l, CHECK_WARN, name, NULL,
                              "assigned, but the members of group %s could not be read",
                              x->group_id);
                goto done;
            }
        }
    if (!targets) {
        cli_check_add(l, CHECK_FAIL, name,
                      "assign the profile to the groups of the users (Intune admin center, "
                      "Devices > Configuration > the profile > Assignments)",
                      "profile '%s' is not assigned to anyone: it delivers nothing", ps[0]->name);
        goto done;
    }
    size_t missing = 0;
    char names[240] = "";
    for (size_t i = 0; i < scope->n; i++) {
        const char *u = scope->v[i];
        if ((all || upn_in(&in, u)) && !upn_in(&out, u))
            continue;
        if (missing++ < 3)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                     missing > 1 ? ", " : "", u);
    }
    if (missing)
        cli_check_add(l, CHECK_WARN, name,
                      "add them to an assigned group, or take them out of the excluded group",
                      "%zu of %zu users in scope are not covered by any assignment (excluded "
                      "groups honoured): %s%s",
                      missing, scope->n, names, missing > 3 ? ", ..." : "");
    else if (scope->n)
        cli_check_add(l, CHECK_OK, name, NULL,
                      "all %zu users in scope are covered (excluded groups honoured)", scope->n);
    else
        cli_check_add(l, CHECK_OK, name, NULL,
                      "assigned (%d target%s); no users in scope to count yet", targets,
                      targets == 1 ? "" : "s");
done:
    upn_free(&in);
    upn_free(&out);
}

/* ---- the trusted root ---- */

typedef struct ders {
    unsigned char *v[64];
    int len[64];
    size_t n;
} ders;

static void load_ca(const ssync_config *cfg, ders *d)
{
    for (size_t i = 0; i < cfg->source.ca.n; i++) {
        FILE *f = fopen(cfg->source.ca.v[i], "r");
        X509 *x;
        while (f && d->n < 64 && (x = PEM_read_X509(f, NULL, NULL, NULL))) {
            d->v[d->n] = NULL;
            d->len[d->n] = i2d_X509(x, &d->v[d->n]);
            if (d->len[d->n] > 0)
                d->n++;
            X509_free(x);
        }
        if (f)
            fclose(f);
    }
}

static void root_line(struct check_list *l, const char *plat, const ssync_intune_profiles *all,
                      const ders *ca)
{
    char name[64], others[160] = "";
    snprintf(name, sizeof name, "intune trusted root %s", plat);
    size_t roots = 0;
    for (size_t i = 0; i < all->n; i++) {
        const ssync_intune_profile *p = &all->v[i];
        if (p->kind != SSYNC_PROFILE_ROOT || strcmp(ssync_platform_name(p->platform), plat))
            continue;
        roots++;
        for (size_t c = 0; c < ca->n; c++)
            if (p->root_der && p->root_len == (size_t)ca->len[c] &&
                memcmp(p->root_der, ca->v[c], p->root_len) == 0) {
                cli_check_add(l, CHECK_OK, name, NULL,
                              "profile '%s' holds a certificate of [source] ca", p->name);
                return;
            }
        snprintf(others + strlen(others), sizeof others - strlen(others), "%s'%s'",
                 others[0] ? ", " : "", p->name);
    }
    if (!roots)
        cli_check_add(l, CHECK_FAIL, name,
                      "create a trusted certificate profile for the platform with the CA's root "
                      "certificate and assign it like the PKCS profile",
                      "no trusted certificate profile for %s: devices will not trust the users' "
                      "certificates",
                      plat);
    else if (!ca->n)
        cli_check_add(l, CHECK_WARN, name, "set [source] ca to the CA's root certificate",
                      "%zu trusted root profile(s), but [source] ca gives nothing to compare with",
                      roots);
    else
        cli_check_add(l, CHECK_FAIL, name,
                      "put the root of the users' chain ([source] ca) into the trusted "
                      "certificate profile",
                      "trusted root profile(s) %s hold no certificate of [source] ca", others);
}

/* ---- profiles, per platform ---- */

static void check_profiles(struct check_list *l, const ssync_config *cfg, ssync_graph *g)
{
    const ssync_cfg_list *want = &cfg->intune.platforms;
    ssync_intune_profiles all = {0};
    ssync_error e = {0};
    size_t nplat = want->n ? want->n : SSYNC_PLATFORM_COUNT;
    if (ssync_intune_list_profiles(g, &all, &e) != SSYNC_OK) {
        int no = denied(g);
        for (size_t i = 0; i < nplat; i++) {
            const char *plat = want->n ? want->v[i] : ssync_platform_name((ssync_platform)i);
            char name[64];
            snprintf(name, sizeof name, "intune profile %s", plat);
            if (no)
                unchecked(l, name, PERM_CONFIG, no);
            else
                cli_check_add(l, CHECK_FAIL, name, NULL, "cannot list the profiles: %s", e.msg);
        }
        return;
    }
    upn_set scope = {0};
    char why[600] = "";
    int have_scope = scope_users(g, cfg, &scope, why, sizeof why) == 0;
    ders ca = {0};
    load_ca(cfg, &ca);
    for (size_t i = 0; i < nplat; i++) {
        const char *plat = want->n ? want->v[i] : ssync_platform_name((ssync_platform)i);
        char name[64], other[200] = "";
        snprintf(name, sizeof name, "intune profile %s", plat);
        const ssync_intune_profile *ours[16];
        size_t n = 0;
        for (size_t k = 0; k < all.n; k++) {
            const ssync_intune_profile *p = &all.v[k];
            if (p->kind != SSYNC_PROFILE_PFX || strcmp(ssync_platform_name(p->platform), plat))
                continue;
            if (strcmp(p->purpose, OUR_PURPOSE) == 0 && n < 16)
                ours[n++] = p;
            else
                snprintf(other + strlen(other), sizeof other - strlen(other), "%s'%s' (%s)",
                         other[0] ? ", " : "", p->name, p->purpose);
        }
        if (n) {
            cli_check_add(l, CHECK_OK, name, NULL, "PKCS imported profile '%s' (%s, %s)",
                          ours[0]->name, ours[0]->type, OUR_PURPOSE);
            char aname[64];
            snprintf(aname, sizeof aname, "intune assignment %s", plat);
            if (have_scope)
                coverage(l, g, aname, ours, n, &scope);
            else
                cli_check_add(l, CHECK_WARN, aname, NULL, "users in scope unknown: %s", why);
        } else if (other[0]) {
            cli_check_add(l, CHECK_FAIL, name,
                          "intendedPurpose cannot be changed after creation: create a new PKCS "
                          "imported certificate profile with S/MIME encryption and assign it",
                          "PKCS imported profile %s does not match our records' "
                          "intendedPurpose " OUR_PURPOSE ": it delivers none of them",
                          other);
        } else {
            cli_check_add(l, want->n ? CHECK_FAIL : CHECK_WARN, name,
                          "create a PKCS imported certificate profile for the platform "
                          "(intended purpose S/MIME encryption) and assign it, or leave the "
                          "platform out of [intune] platforms",
                          "no PKCS imported certificate profile: certificates never reach %s "
                          "devices",
                          plat);
        }
        root_line(l, plat, &all, &ca);
    }
    for (size_t c = 0; c < ca.n; c++)
        OPENSSL_free(ca.v[c]);
    upn_free(&scope);
    ssync_intune_profiles_free(&all);
}

/* ---- Outlook, connectors, app certificate ---- */

static void check_outlook(struct check_list *l, ssync_graph *g)
{
    static const char *const name = "intune outlook s/mime";
    size_t on = 0;
    ssync_error e = {0};
    if (ssync_intune_outlook_smime(g, &on, &e) != SSYNC_OK) {
        if (denied(g))
            unchecked(l, name, PERM_APPS, denied(g));
        else
            cli_check_add(l, CHECK_FAIL, name, NULL, "cannot list app configurations: %s", e.msg);
    } else if (!on) {
        cli_check_add(l, CHECK_WARN, name,
                      "set com.microsoft.outlook.Mail.SMIMEEnabled = true in an app "
                      "configuration policy for Outlook (iOS and Android)",
                      "no app configuration enables S/MIME in Outlook for iOS/Android");
    } else {
        cli_check_add(l, CHECK_OK, name, NULL,
                      "%zu app configuration(s) set com.microsoft.outlook.Mail.SMIMEEnabled", on);
    }
}

/* Dotted numeric comparison ("6.2406.0.1001"): <0, 0, >0; a missing part counts as 0. */
static int version_cmp(const char *a, const char *b)
{
    for (;;) {
        char *ea, *eb;
        unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        if (*ea != '.' && *eb != '.')
            return 0;
        a = *ea == '.' ? ea + 1 : ea;
        b = *eb == '.' ? eb + 1 : eb;
    }
}

/* Each connector's last check-in and whether its version is supported, for Prometheus (the file
 * beside [metrics] textfile; a failure to write it changes no check). */
static void connector_metrics(const ssync_config *cfg, const ssync_intune_connectors *c,
                              const char *minv)
{
    if (!cfg->metrics.textfile || !c->n)
        return;
    struct cli_metrics_connector *mc = calloc(c->n, sizeof *mc);
    if (!mc)
        return;
    for (size_t i = 0; i < c->n; i++)
        mc[i] = (struct cli_metrics_connector){
            .name = c->v[i].name[0] ? c->v[i].name : "(unnamed)",
            .last_checkin = c->v[i].last_seen,
            .supported = c->v[i].version[0] ? version_cmp(c->v[i].version, minv) >= 0 : -1};
    struct cli_metrics m = {.connectors = mc, .n_connectors = c->n, .ca_copy_clean = -1};
    ssync_error e = {0};
    cli_metrics_write_part(&m, cfg->metrics.textfile, "check", &e);
    free(mc);
}

static void check_connectors(struct check_list *l, const ssync_config *cfg, ssync_graph *g)
{
    static const char *const name = "intune connector";
    const char *minv = cfg->intune.connector_min_version ? cfg->intune.connector_min_version
                                                         : SSYNC_CONNECTOR_MIN_VERSION;
    ssync_intune_connectors c = {0};
    ssync_error e = {0};
    if (ssync_intune_list_connectors(g, &c, &e) != SSYNC_OK) {
        if (denied(g))
            unchecked(l, name, PERM_CONFIG, denied(g));
        else
            cli_check_add(l, CHECK_FAIL, name, NULL, "cannot list the connectors: %s", e.msg);
        return;
    }
    if (!c.n) {
        cli_check_add(l, CHECK_FAIL, name,
                      "install the Certificate Connector for Microsoft Intune with the PFX "
                      "option and the PFX-password key",
                      "no certificate connector: imported certificates are never re-encrypted "
                      "for devices");
        return;
    }
    time_t now = time(NULL);
    long max_age = (long)cfg->intune.connector_checkin_hours * 3600L;
    size_t good = 0;
    for (size_t i = 0; i < c.n; i++) {
        const ssync_intune_connector *x = &c.v[i];
        char what[300] = "";
        if (x->active == 0)
            snprintf(what, sizeof what, "inactive");
        else if (!x->last_seen || now - x->last_seen > max_age)
            snprintf(what, sizeof what, "no check-in for more than %d h",
                     cfg->intune.connector_checkin_hours);
        else if (!x->version[0] || version_cmp(x->version, minv) < 0)
            snprintf(what, sizeof what,
                     "version %s is older than %s (versions are supported "
                     "for 6 months)",
                     x->version[0] ? x->version : "unknown", minv);
        char cname[160];
        snprintf(cname, sizeof cname, "%s %s", name, x->name[0] ? x->name : "(unnamed)");
        if (what[0])
            cli_check_add(l, CHECK_WARN, cname,
                          "every connector may process any import: start, update or remove it",
                          "%s", what);
        else {
            good++;
            cli_check_add(l, CHECK_OK, cname, NULL, "active, version %s, checked in %ld min ago",
                          x->version, (long)(now - x->last_seen) / 60);
        }
    }
    connector_metrics(cfg, &c, minv);
    if (!good)
        cli_check_add(l, CHECK_FAIL, name,
                      "start or update a connector (Intune admin center, Tenant administration "
                      "> Connectors and tokens > Certificate connectors)",
                      "no connector is active, recent and on version %s or later: nothing is "
                      "delivered",
                      minv);
    ssync_intune_connectors_free(&c);
}

static void check_app_cert(struct check_list *l, const ssync_config *cfg)
{
    static const char *const name = "app certificate";
    if (!cfg->intune.client_certificate)
        return; /* a client secret's expiry is not visible to the app itself */
    FILE *f = fopen(cfg->intune.client_certificate, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!x) {
        cli_check_add(l, CHECK_FAIL, name, NULL, "%s: not a PEM certificate",
                      cfg->intune.client_certificate);
        return;
    }
    char until[32];
    cli_check_date(X509_get0_notAfter(x), until);
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) && (days < 0 || secs < 0))
        cli_check_add(l, CHECK_FAIL, name,
                      "upload a new certificate to the app registration and set [intune] "
                      "client_certificate and client_key",
                      "the Graph credential EXPIRED on %s", until);
    else if (days < cfg->intune.expiry_warning_days)
        cli_check_add(l, CHECK_WARN, name,
                      "upload a new certificate to the app registration before it expires",
                      "the Graph credential expires in %d days (%s)", days, until);
    else
        cli_check_add(l, CHECK_OK, name, NULL, "the Graph credential is valid until %s", until);
    X509_free(x);
}

void check_delivery(struct check_list *l, const ssync_config *cfg, ssync_graph *g)
{
    check_app_cert(l, cfg);
    check_profiles(l, cfg, g);
    check_outlook(l, g);
    check_connectors(l, cfg, g);
}
