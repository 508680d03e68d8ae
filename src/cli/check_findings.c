/* The findings of check (check_findings.h). */
#include "check_findings.h"

#include "cli_run_metrics.h"

#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/keyfile.h"
#include "source/source.h"
#include "sync/findings.h"
#include "sync/plan.h"

#include <openssl/x509.h>
#include <string.h>
#include <time.h>

static json_t *iso_time(time_t t)
{
    struct tm tm;
    char buf[32];
    if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

/* {"serial","subject","not_after","days_left","expiring"} of cert; NULL when unreadable */
static json_t *cert_expiry(X509 *cert, const char *what, FILE *text)
{
    ssync_certinfo info = {0};
    ssync_error e = {0};
    if (!cert || ssync_certinfo_get(cert, &info, &e) != SSYNC_OK)
        return NULL;
    long days = (long)(difftime(info.not_after, time(NULL)) / 86400.0);
    int soon = days < CLI_EXPIRY_WINDOW_DAYS;
    json_t *o = json_pack("{s:s, s:s, s:o, s:I, s:b}", "serial", info.serial, "subject",
                          info.subject, "not_after", iso_time(info.not_after), "days_left",
                          (json_int_t)days, "expiring", soon);
    if (soon && text)
        fprintf(text, "finding: %s %s (serial %s) %s %s\n", what, info.subject, info.serial,
                days < 0 ? "expired on" : "expires on", info.not_after_iso);
    ssync_certinfo_clear(&info);
    return o;
}

static json_t *kra_findings(const ssync_kra_set *kras, FILE *text)
{
    json_t *a = json_array();
    for (size_t i = 0; kras && i < ssync_kra_set_count(kras); i++) {
        X509 *cert = NULL;
        json_t *o = ssync_kra_set_get(kras, i, NULL, &cert)
                        ? cert_expiry(cert, "KRA certificate", text)
                        : NULL;
        if (o)
            json_array_append_new(a, o);
    }
    return a;
}

static json_t *credential_finding(const ssync_config *cfg, FILE *text)
{
    if (!cfg->intune.client_certificate)
        /* a client secret's expiry is known to Entra ID alone (the app registration) */
        return json_pack("{s:s, s:n}", "kind",
                         cfg->intune.client_secret_file || cfg->intune.client_secret_env ? "secret"
                                                                                         : "none",
                         "not_after");
    X509 *cert = NULL;
    ssync_error e = {0};
    json_t *o = NULL;
    if (ssync_load_cert(cfg->intune.client_certificate, &cert, &e) == SSYNC_OK)
        o = cert_expiry(cert, "Graph client certificate", text);
    X509_free(cert);
    if (!o)
        return json_pack("{s:s, s:n, s:s}", "kind", "certificate", "not_after", "error", e.msg);
    json_object_set_new(o, "kind", json_string("certificate"));
    return o;
}

/* The source scanned as sync scans it (revocation from the CRLs that verify), without Entra ID:
 * users are the certificates' own. */
static ssync_code scan(const ssync_config *cfg, const ssync_kra_set *kras, const ssync_trust *trust,
                       ssync_plan *plan, ssync_error *e)
{
    X509_CRL *crls[SSYNC_CFG_MAX_LIST] = {0};
    size_t n = 0;
    for (size_t i = 0; i < cfg->source.crl.n && n < SSYNC_CFG_MAX_LIST; i++) {
        ssync_error ce = {0};
        if (ssync_crl_load(cfg->source.crl.v[i], &crls[n], &ce) != SSYNC_OK)
            continue;
        if (trust && ssync_trust_verify_crl(trust, crls[n], &ce) == SSYNC_OK)
            n++;
        else
            X509_CRL_free(crls[n]), crls[n] = NULL;
    }
    ssync_source_env env = {kras, crls, n, NULL, trust};
    ssync_source *src = NULL;
    ssync_code rc = ssync_source_open(&cfg->source, &env, &src, e);
    if (rc == SSYNC_OK)
        rc = ssync_plan_scan(src, NULL, plan, e);
    ssync_source_close(src);
    for (size_t i = 0; i < n; i++)
        X509_CRL_free(crls[i]);
    return rc;
}

static json_t *coverage(const ssync_plan *plan, FILE *text)
{
    json_t *items = json_array();
    for (size_t i = 0; i < plan->count; i++) {
        const ssync_plan_item *it = &plan->items[i];
        if (it->code != SSYNC_ERR_KRA_NOT_HELD)
            continue;
        json_array_append_new(items, json_pack("{s:s, s:s}", "source", it->path ? it->path : "",
                                               "reason", it->error ? it->error : ""));
        if (text)
            fprintf(text, "finding: %s: %s\n", it->path ? it->path : "?",
                    it->error ? it->error : "no held KRA key opens it");
    }
    return json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(items), "items", items);
}

static json_t *users_expiring(const ssync_plan *plan, FILE *text)
{
    ssync_user_expiry_list l = {0};
    ssync_error e = {0};
    if (ssync_findings_users_expiring(plan, time(NULL), CLI_EXPIRY_WINDOW_DAYS, &l, &e) != SSYNC_OK)
        return json_pack("{s:s}", "error", e.msg);
    json_t *users = json_array();
    for (size_t i = 0; i < l.n; i++) {
        char until[32];
        struct tm tm;
        strftime(until, sizeof until, "%Y-%m-%d", gmtime_r(&l.v[i].not_after, &tm));
        json_array_append_new(users, json_pack("{s:s, s:o, s:s, s:s}", "user", l.v[i].user,
                                               "not_after", iso_time(l.v[i].not_after), "serial",
                                               l.v[i].serial, "thumbprint", l.v[i].thumbprint));
        if (text)
            fprintf(text,
                    "finding: %s: newest encryption certificate (serial %s) expires on %s, "
                    "no successor\n",
                    l.v[i].user, l.v[i].serial, until);
    }
    json_t *o = json_pack("{s:i, s:I, s:o}", "window_days", CLI_EXPIRY_WINDOW_DAYS, "count",
                          (json_int_t)l.n, "users", users);
    ssync_user_expiry_list_free(&l);
    return o;
}

json_t *check_findings(const ssync_config *cfg, const ssync_kra_set *kras, const ssync_trust *trust,
                       FILE *text)
{
    json_t *f = json_object();
    if (!f)
        return NULL;
    json_object_set_new(f, "kra_certificates", kra_findings(kras, text));
    json_object_set_new(f, "graph_credential", credential_finding(cfg, text));
    ssync_plan plan = {0};
    ssync_error e = {0};
    if (!cfg->source.path || scan(cfg, kras, trust, &plan, &e) != SSYNC_OK) {
        json_object_set_new(f, "source_error",
                            json_string(cfg->source.path ? e.msg : "[source] path is not set"));
    } else {
        json_object_set_new(f, "blobs_without_held_kra", coverage(&plan, text));
        json_object_set_new(f, "users_expiring", users_expiring(&plan, text));
    }
    ssync_plan_free(&plan);
    return f;
}
