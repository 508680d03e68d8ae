/* The Graph client's handle: the config checked and copied, the multi handle and the limiter
 * created; cancel, the last failure and the counters. */
#include "graph/graph_int.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <strings.h>

static char *trimmed_dup(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* characters allowed in a tenant or client id placed into a URL path */
static int id_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
            return 0;
    return 1;
}

static int https_url_ok(const char *u)
{
    return u && strncasecmp(u, "https://", 8) == 0 && strlen(u) > 8 && strlen(u) < 512 &&
           !strpbrk(u, " \t\r\n?#");
}

/* ---------------------------------------------------------------- handle */

ssync_code ssync_graph_new(const ssync_graph_config *cfg, ssync_graph **out, ssync_error *err)
{
    if (!cfg || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "graph: no config");
    *out = NULL;
    const char *authority = cfg->authority_url ? cfg->authority_url : SSYNC_DEFAULT_AUTHORITY;
    const char *graph = cfg->graph_url ? cfg->graph_url : SSYNC_DEFAULT_GRAPH;
    const char *version = cfg->api_version ? cfg->api_version : "beta";
    if (!https_url_ok(authority))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "authority URL must be an https URL");
    if (!https_url_ok(graph))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "Graph URL must be an https URL");
    if (!id_ok(version))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "bad Graph API version");
    if (!id_ok(cfg->tenant_id))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "tenant id missing or not a GUID/domain");
    if (!id_ok(cfg->client_id))
        return ssync_fail(err, SSYNC_ERR_CONFIG, "client id missing or invalid");
    int has_secret = cfg->client_secret && *cfg->client_secret;
    int has_cert = cfg->client_cert || cfg->client_key;
    if (has_secret == has_cert)
        return ssync_fail(err, SSYNC_ERR_CONFIG,
                          "give either a client secret or a client certificate and key");
    if (has_cert) {
        if (!cfg->client_cert || !cfg->client_key)
            return ssync_fail(err, SSYNC_ERR_CONFIG, "client certificate and key go together");
        if (EVP_PKEY_get_base_id(cfg->client_key) != EVP_PKEY_RSA)
            return ssync_fail(err, SSYNC_ERR_CONFIG, "client key must be RSA (RS256/PS256)");
        if (X509_check_private_key(cfg->client_cert, cfg->client_key) != 1)
            return ssync_fail_ssl(err, SSYNC_ERR_CONFIG,
                                  "client key does not match the client certificate");
    }
    if (cfg->assertion_alg != SSYNC_ASSERTION_RS256 && cfg->assertion_alg != SSYNC_ASSERTION_PS256)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "unknown assertion algorithm");

    ssync_graph *g = calloc(1, sizeof *g);
    if (!g)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "graph client");
    g->authority = trimmed_dup(authority);
    g->graph = trimmed_dup(graph);
    g->version = strdup(version);
    g->tenant = strdup(cfg->tenant_id);
    g->client_id = strdup(cfg->client_id);
    g->client_secret = has_secret ? strdup(cfg->client_secret) : NULL;
    g->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    if (g->graph && g->version)
        g->base = concat(g->graph, "/", g->version);
    if (g->authority && g->tenant) {
        char *t = concat(g->authority, "/", g->tenant);
        g->token_url = t ? concat(t, "/oauth2/v2.0/token", "") : NULL;
        free(t);
    }
    g->multi = curl_multi_init();
    if (!g->authority || !g->graph || !g->version || !g->tenant || !g->client_id ||
        (has_secret && !g->client_secret) || (cfg->ca_file && !g->ca_file) || !g->base ||
        !g->token_url || !g->multi) {
        ssync_graph_free(g);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "graph client");
    }
    if (has_cert) {
        X509_up_ref(cfg->client_cert);
        EVP_PKEY_up_ref(cfg->client_key);
        g->cert = cfg->client_cert;
        g->key = cfg->client_key;
    }
    g->alg = cfg->assertion_alg;
    snprintf(g->user_agent, sizeof g->user_agent, "smimesync/%s", SSYNC_VERSION);
    g->http.ca_file = g->ca_file;
    g->http.connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    g->http.timeout_ms = cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms : 60000;
    g->http.user_agent = g->user_agent;
    g->max_in_flight = cfg->max_in_flight ? cfg->max_in_flight : 8;
    if (g->max_in_flight > 256)
        g->max_in_flight = 256;
    g->max_attempts = cfg->max_attempts ? cfg->max_attempts : 6;
    g->backoff_base = cfg->backoff_base_s > 0 ? cfg->backoff_base_s : 1.0;
    g->backoff_cap = cfg->backoff_cap_s > 0 ? cfg->backoff_cap_s : 60.0;
    g->retry_after_cap = cfg->retry_after_cap_s > 0 ? cfg->retry_after_cap_s : 300.0;
    g->max_pages = cfg->max_pages ? cfg->max_pages : 100000;
    g->log = cfg->log;
    g->log_ctx = cfg->log_ctx;
    if (RAND_bytes((unsigned char *)&g->rng, sizeof g->rng) != 1 || g->rng == 0)
        g->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    curl_multi_setopt(g->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(g->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)g->max_in_flight);
    ssync_code rc = ssync_throttle_init(&g->thr, cfg->write_limit ? cfg->write_limit : 100,
                                        cfg->request_limit ? cfg->request_limit : 1000,
                                        cfg->limit_window_s > 0 ? cfg->limit_window_s : 20.0,
                                        ssync_mono(), err);
    if (rc != SSYNC_OK) {
        ssync_graph_free(g);
        return rc;
    }
    *out = g;
    return SSYNC_OK;
}

void ssync_graph_free(ssync_graph *g)
{
    if (!g)
        return;
    graph_engine_clear(g);
    if (g->multi)
        curl_multi_cleanup(g->multi);
    ssync_throttle_free(&g->thr);
    ssync_token_clear(&g->token);
    ssync_secret_free(g->client_secret);
    X509_free(g->cert);
    EVP_PKEY_free(g->key);
    free(g->authority);
    free(g->graph);
    free(g->version);
    free(g->tenant);
    free(g->client_id);
    free(g->ca_file);
    free(g->base);
    free(g->token_url);
    OPENSSL_cleanse(g, sizeof *g);
    free(g);
}

void ssync_graph_cancel(ssync_graph *g)
{
    if (g)
        g->cancelled = 1;
}

const ssync_graph_failure *ssync_graph_last_failure(const ssync_graph *g)
{
    return g ? &g->last : NULL;
}

void ssync_graph_get_stats(const ssync_graph *g, ssync_graph_stats *out)
{
    if (g && out)
        *out = g->stats;
}
