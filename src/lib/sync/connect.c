/* Opening the sections of the configuration (connect.h): [kra], [intune] and the exporter's. */
#include "sync/connect.h"

#include "common/fileio.h"
#include "pki/keyfile.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

ssync_code ssync_kra_set_open(const ssync_kra_cfg *kra, ssync_kra_each_fn each, void *each_ctx,
                              ssync_kra_set **out, ssync_error *err)
{
    if (out)
        *out = NULL;
    if (kra && kra->key.n == 0)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "[kra] key is required");
    return ssync_kra_set_load(kra, "[kra] password_file", each, each_ctx, out, err);
}

/* An error whose message is the whole line, without the table's text before it. */
__attribute__((format(printf, 3, 4))) static ssync_code line(ssync_error *err, ssync_code code,
                                                             const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* The section's keys: who signs in, and with which credential. */
static ssync_code check_intune(const ssync_intune_cfg *in, const char *origin, int *by_secret,
                               ssync_error *err)
{
    const char *missing = !in->tenant_id ? "tenant_id" : !in->client_id ? "client_id" : NULL;
    if (missing)
        return line(err, SSYNC_ERR_CONFIG, "%s: [intune] %s is required", origin, missing);
    int by_cert = in->client_certificate || in->client_key;
    *by_secret = in->client_secret_file || in->client_secret_env;
    if (by_cert == *by_secret || (by_cert && !(in->client_certificate && in->client_key)))
        return line(err, SSYNC_ERR_CONFIG,
                    "%s: [intune] needs either client_secret_file (or client_secret_env) or both "
                    "client_certificate and client_key",
                    origin);
    return SSYNC_OK;
}

ssync_code ssync_graph_open(const ssync_intune_cfg *in, const char *origin, ssync_log_fn log,
                            void *log_ctx, ssync_graph **out, ssync_error *err)
{
    if (!in || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_graph_open");
    *out = NULL;
    int by_secret = 0;
    ssync_code rc = check_intune(in, origin ? origin : "config", &by_secret, err);
    if (rc != SSYNC_OK)
        return rc;
    /* the trust anchors of the TLS to Graph: nobody else may add one */
    if (in->ca_bundle && (rc = ssync_check_trusted_path(in->ca_bundle, "[intune] ca_bundle",
                                                        err)) == SSYNC_ERR_FILE_PERMS)
        return rc;
    ssync_graph_config gc = {
        .authority_url = in->authority,
        .graph_url = in->graph,
        .tenant_id = in->tenant_id,
        .client_id = in->client_id,
        .assertion_alg = in->assertion_ps256 ? SSYNC_ASSERTION_PS256 : SSYNC_ASSERTION_RS256,
        .ca_file = in->ca_bundle,
        .write_limit = in->write_limit ? (unsigned)in->write_limit : 1000000u,
        .request_limit = 10000000u,
        .limit_window_s = in->write_window > 0 ? in->write_window : 20,
        .max_in_flight = (unsigned)in->max_in_flight,
        .request_timeout_ms = in->timeout * 1000L,
        .log = log,
        .log_ctx = log_ctx,
    };
    /* the client has one window for both limits: express the request limit in it */
    if (in->request_limit && in->request_window > 0)
        gc.request_limit = (unsigned)(in->request_limit * gc.limit_window_s / in->request_window);
    if (gc.request_limit == 0)
        gc.request_limit = 1;
    ssync_buf secret = {0};
    if (by_secret && in->client_secret_file) {
        if ((rc = ssync_read_secret_file(in->client_secret_file, &secret, err)) != SSYNC_OK)
            return ssync_error_prefix(err, "client secret: ");
        gc.client_secret = (const char *)secret.data;
    } else if (by_secret) {
        gc.client_secret = getenv(in->client_secret_env);
        if (!gc.client_secret || !*gc.client_secret)
            return line(err, SSYNC_ERR_CONFIG,
                        "the environment variable %s (client_secret_env) is not set",
                        ssync_env_name_shown(in->client_secret_env));
    } else if ((rc = ssync_load_cert(in->client_certificate, &gc.client_cert, err)) != SSYNC_OK ||
               (rc = ssync_load_private_key(in->client_key, &gc.client_key, err)) != SSYNC_OK) {
        ssync_error_prefix(err, "client certificate: ");
    }
    if (rc == SSYNC_OK && (rc = ssync_graph_new(&gc, out, err)) != SSYNC_OK)
        *out = NULL;
    ssync_buf_free_secret(&secret);
    X509_free(gc.client_cert);
    EVP_PKEY_free(gc.client_key);
    return rc;
}

void ssync_exporter_from_config(ssync_exporter *ex, const ssync_config *cfg,
                                const ssync_kra_set *kras, EVP_PKEY *connector)
{
    ssync_exporter_init(ex);
    ex->kras = kras;
    ex->connector = connector;
    ex->profile = cfg->pfx.profile;
    ex->include_chain = cfg->pfx.include_chain;
    ex->both_purpose = cfg->policy.both_purpose;
    ex->record.provider_name = cfg->connector.provider_name;
    ex->record.key_name = cfg->connector.key_name;
    ex->record.padding = cfg->connector.padding;
}
