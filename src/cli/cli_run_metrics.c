/* A sync run's metrics, gathered (cli_run_metrics.h). */
#include "cli_run_metrics.h"

#include "cli.h"
#include "cli_log.h"
#include "cli_metrics.h"
#include "cli_plan.h"

#include "edb/inspect.h"
#include "pki/certinfo.h"
#include "pki/keyfile.h"
#include "sync/config.h"
#include "sync/findings.h"

#include <openssl/x509.h>
#include <sys/stat.h>
#include <time.h>

double cli_run_metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The client certificate's notAfter; 0 with a client secret (Entra ID alone knows its expiry)
 * or when it cannot be read (the run said why). */
static time_t credential_not_after(const ssync_config *cfg)
{
    X509 *cert = NULL;
    ssync_certinfo info = {0};
    ssync_error e = {0};
    time_t t = 0;
    if (cfg->intune.client_certificate &&
        ssync_load_cert(cfg->intune.client_certificate, &cert, &e) == SSYNC_OK &&
        ssync_certinfo_get(cert, &info, &e) == SSYNC_OK)
        t = info.not_after;
    ssync_certinfo_clear(&info);
    X509_free(cert);
    return t;
}

void cli_run_metrics_write(const struct cli_plan_run *r, const ssync_item_result *results,
                           double started, int rc)
{
    const ssync_config *cfg = r->cfg;
    /* a run that found another one writing did nothing: the one writing reports */
    if (!cfg || !cfg->metrics.textfile || rc == CLI_EXIT_BUSY)
        return;
    ssync_graph_stats gs = {0};
    if (r->graph)
        ssync_graph_get_stats(r->graph, &gs);
    struct cli_metrics m = {.started = started,
                            .ended = cli_run_metrics_now(),
                            .success = rc == CLI_EXIT_OK,
                            .plan = results ? r->plan : NULL,
                            .results = results,
                            .graph = r->graph ? &gs : NULL,
                            .kras = r->kras,
                            .credential_not_after = credential_not_after(cfg),
                            .ca_copy_clean = -1};
    struct stat st;
    if (cfg->source.type == SSYNC_SOURCE_EDB && cfg->source.path &&
        stat(cfg->source.path, &st) == 0) {
        m.ca_copy_modified = st.st_mtime;
        ssync_edb_info info;
        ssync_error he = {0}; /* an unreadable header: the source said why; no gauge */
        if (ssync_edb_info_read(cfg->source.path, &info, &he) == SSYNC_OK)
            m.ca_copy_clean = info.state == 3; /* JET_dbstateCleanShutdown */
    }
    ssync_user_expiry_list users = {0};
    ssync_error e = {0};
    if (results && r->plan &&
        ssync_findings_users_expiring(r->plan, time(NULL), CLI_EXPIRY_WINDOW_DAYS, &users, &e) ==
            SSYNC_OK) {
        m.users_expiring = users.n;
        m.users_expiring_known = 1;
    }
    ssync_user_expiry_list_free(&users);
    if (cli_metrics_write(&m, cfg->metrics.textfile, &e) != SSYNC_OK)
        cli_log_msg(r->log, SSYNC_LOG_WARN, "[metrics] textfile: %s (the run is not affected)",
                    e.msg);
}
