/* Connecting to Intune from the configuration (cli_graph.h): the Graph client and its log lines. */
#include "cli_graph.h"

#include "cli_util.h"
#include "common/fileio.h"
#include "pki/keyfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ssync_graph *cli_graph_open(const ssync_config *cfg, struct cli_log *log)
{
    ssync_error e = {0};
    const char *missing = !cfg->intune.tenant_id   ? "tenant_id"
                          : !cfg->intune.client_id ? "client_id"
                                                   : NULL;
    if (missing) {
        cli_log_msg(log, SSYNC_LOG_ERROR, "%s: [intune] %s is required",
                    cfg->path ? cfg->path : "config", missing);
        return NULL;
    }
    int by_cert = cfg->intune.client_certificate || cfg->intune.client_key;
    int by_secret = cfg->intune.client_secret_file || cfg->intune.client_secret_env;
    if (by_cert == by_secret ||
        (by_cert && !(cfg->intune.client_certificate && cfg->intune.client_key))) {
        cli_log_msg(log, SSYNC_LOG_ERROR,
                    "%s: [intune] needs either client_secret_file (or client_secret_env) or both "
                    "client_certificate and client_key",
                    cfg->path ? cfg->path : "config");
        return NULL;
    }
    ssync_graph_config gc = {
        .authority_url = cfg->intune.authority,
        .graph_url = cfg->intune.graph,
        .tenant_id = cfg->intune.tenant_id,
        .client_id = cfg->intune.client_id,
        .assertion_alg =
            cfg->intune.assertion_ps256 ? SSYNC_ASSERTION_PS256 : SSYNC_ASSERTION_RS256,
        .ca_file = cfg->intune.ca_bundle,
        .write_limit = cfg->intune.write_limit ? (unsigned)cfg->intune.write_limit : 1000000u,
        .request_limit = 10000000u,
        .limit_window_s = cfg->intune.write_window > 0 ? cfg->intune.write_window : 20,
        .max_in_flight = (unsigned)cfg->intune.max_in_flight,
        .request_timeout_ms = cfg->intune.timeout * 1000L,
        .log = cli_log_graph_fn,
        .log_ctx = log,
    };
    /* the client has one window for both limits: express the request limit in it */
    if (cfg->intune.request_limit && cfg->intune.request_window > 0)
        gc.request_limit =
            (unsigned)(cfg->intune.request_limit * gc.limit_window_s / cfg->intune.request_window);
    if (gc.request_limit == 0)
        gc.request_limit = 1;
    ssync_buf secret = {0};
    ssync_graph *g = NULL;
    if (by_secret) {
        if (cfg->intune.client_secret_file) {
            if (ssync_read_secret_file(cfg->intune.client_secret_file, &secret, &e) != SSYNC_OK) {
                cli_log_error(log, "client secret", &e);
                return NULL;
            }
            gc.client_secret = (const char *)secret.data;
        } else {
            gc.client_secret = getenv(cfg->intune.client_secret_env);
            if (!gc.client_secret || !*gc.client_secret) {
                cli_log_msg(log, SSYNC_LOG_ERROR,
                            "the environment variable %s (client_secret_env) is not set",
                            cfg->intune.client_secret_env);
                return NULL;
            }
        }
    } else {
        if (ssync_load_cert(cfg->intune.client_certificate, &gc.client_cert, &e) != SSYNC_OK ||
            ssync_load_private_key(cfg->intune.client_key, &gc.client_key, &e) != SSYNC_OK) {
            cli_log_error(log, "client certificate", &e);
            X509_free(gc.client_cert);
            return NULL;
        }
    }
    if (ssync_graph_new(&gc, &g, &e) != SSYNC_OK) {
        cli_log_error(log, NULL, &e);
        g = NULL;
    }
    ssync_buf_free_secret(&secret);
    X509_free(gc.client_cert);
    EVP_PKEY_free(gc.client_key);
    return g;
}

void cli_report_graph(const char *cmd, const char *item, const ssync_error *e,
                      const ssync_graph_failure *f)
{
    struct cli_log log = {.cmd = cmd, .verbosity = SSYNC_LOG_ERROR};
    cli_log_graph(&log, item, e, f);
}

void cli_log_graph(const struct cli_log *log, const char *item, const ssync_error *e,
                   const ssync_graph_failure *f)
{
    char detail[1024] = "";
    if (f && (f->http_status || f->request_id[0] || f->code[0]))
        ssync_graph_failure_format(f, detail, sizeof detail);
    if (detail[0] && !strstr(e->msg, detail))
        cli_log_msg(log, SSYNC_LOG_ERROR, "%s%s%s [%s]", item ? item : "", item ? ": " : "", e->msg,
                    detail);
    else
        cli_log_error(log, item, e);
}
