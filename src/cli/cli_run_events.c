/* A sync run's journal events (cli_run_events.h). */
#include "cli_run_events.h"

#include "cli_log.h"
#include "cli_plan.h"
#include "cli_run_metrics.h"

#include "pki/certinfo.h"
#include "pki/keyfile.h"
#include "sync/config.h"

#include <openssl/x509.h>
#include <time.h>

static int journal(const struct cli_plan_run *r)
{
    return r->log && r->log->journal;
}

void cli_run_events_started(const struct cli_plan_run *r)
{
    if (!journal(r))
        return;
    struct cli_event_fields f = {.event = CLI_EV_RUN_STARTED,
                                 .source = r->cfg ? r->cfg->source.path : NULL};
    cli_log_event(r->log, SSYNC_LOG_INFO, &f, "%s started: %zu certificates in the plan", r->cmd,
                  r->plan ? r->plan->count : 0);
}

void cli_run_events_items(const struct cli_plan_run *r, const ssync_item_result *results)
{
    if (!journal(r) || !r->plan || !results)
        return;
    for (size_t i = 0; i < r->plan->count; i++) {
        const ssync_plan_item *it = &r->plan->items[i];
        const ssync_item_result *res = &results[i];
        if (!res->wrote && !res->error)
            continue;
        int up = it->action == SSYNC_ACT_UPLOAD;
        struct cli_event_fields f = {.event = res->error ? CLI_EV_ITEM_FAILED
                                              : up       ? CLI_EV_ITEM_UPLOADED
                                                         : CLI_EV_ITEM_REMOVED,
                                     .user = it->upn ? it->upn : it->cert_upn,
                                     .thumbprint = it->thumbprint,
                                     .source = it->path,
                                     .request_id = res->request_id};
        if (res->error)
            cli_log_event(r->log, SSYNC_LOG_ERROR, &f, "%s of %s for %s failed: %s",
                          up ? "upload" : "removal", it->thumbprint, f.user ? f.user : "-",
                          res->error);
        else
            cli_log_event(r->log, SSYNC_LOG_INFO, &f, "%s %s for %s", up ? "uploaded" : "removed",
                          it->thumbprint, f.user ? f.user : "-");
    }
}

/* A warning event when cert expires within the window (or has expired). */
static void expiring(const struct cli_plan_run *r, enum cli_event ev, const char *what, X509 *cert)
{
    ssync_certinfo info = {0};
    ssync_error e = {0};
    if (!cert || ssync_certinfo_get(cert, &info, &e) != SSYNC_OK)
        return;
    double days = difftime(info.not_after, time(NULL)) / 86400.0;
    if (days < CLI_EXPIRY_WINDOW_DAYS) {
        struct cli_event_fields f = {.event = ev};
        cli_log_event(r->log, SSYNC_LOG_WARN, &f, "%s %s (serial %s) %s %s", what, info.subject,
                      info.serial, days < 0 ? "expired on" : "expires on", info.not_after_iso);
    }
    ssync_certinfo_clear(&info);
}

void cli_run_events_finished(const struct cli_plan_run *r, int rc)
{
    if (!journal(r))
        return;
    ssync_graph_stats gs = {0};
    if (r->graph)
        ssync_graph_get_stats(r->graph, &gs);
    if (gs.throttled) {
        struct cli_event_fields f = {.event = CLI_EV_THROTTLED};
        cli_log_event(r->log, SSYNC_LOG_WARN, &f,
                      "Graph throttled %lu requests (%lu retried, paused %.1f s)", gs.throttled,
                      gs.retries, gs.paused_s);
    }
    for (size_t i = 0; r->kras && i < ssync_kra_set_count(r->kras); i++) {
        X509 *cert = NULL;
        if (ssync_kra_set_get(r->kras, i, NULL, &cert))
            expiring(r, CLI_EV_KRA_EXPIRING, "KRA certificate", cert);
    }
    X509 *app = NULL;
    ssync_error e = {0};
    if (r->cfg && r->cfg->intune.client_certificate &&
        ssync_load_cert(r->cfg->intune.client_certificate, &app, &e) == SSYNC_OK)
        expiring(r, CLI_EV_CREDENTIAL_EXPIRING, "Graph client certificate", app);
    X509_free(app);
    struct cli_event_fields f = {.event = CLI_EV_RUN_FINISHED};
    cli_log_event(r->log, rc == 0 ? SSYNC_LOG_INFO : SSYNC_LOG_ERROR, &f,
                  "%s finished with exit status %d", r->cmd, rc);
}
