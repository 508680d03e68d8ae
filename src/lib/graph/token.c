/* Entra ID app-only tokens for the Graph client: the client credentials grant (secret or signed
 * assertion) on the token endpoint, cached until shortly before it expires. */
#include "graph/graph_int.h"

/* ---------------------------------------------------------------- token */

static ssync_code token_fetch(ssync_graph *g, ssync_error *err)
{
    ssync_graph_failure f;
    ssync_code rc = SSYNC_ERR_AUTH;
    unsigned tries = g->max_attempts < 4 ? g->max_attempts : 4;
    for (unsigned attempt = 0; attempt < tries; attempt++) {
        if (g->cancelled)
            return ssync_fail(err, SSYNC_ERR_CANCELLED, "while requesting a token");
        ssync_client_cred cred = {.client_id = g->client_id,
                                  .client_secret = g->client_secret,
                                  .cert = g->cert,
                                  .key = g->key,
                                  .alg = g->alg};
        char *form = NULL;
        rc = ssync_token_form(&cred, g->token_url, g->graph, time(NULL), &form, err);
        if (rc != SSYNC_OK)
            return rc;
        ssync_http_xfer x;
        rc = ssync_http_setup(&x, &g->http, "POST", g->token_url, NULL,
                              "application/x-www-form-urlencoded", form, strlen(form),
                              SSYNC_HTTP_MAX_BODY, err);
        ssync_secret_free(form);
        if (rc != SSYNC_OK)
            return rc;
        x.body_secret = 1;
        g->stats.token_requests++;
        ssync_http_finish(&x, curl_easy_perform(x.easy));
        ssync_graph_failure_clear(&f);
        /* the engine's classification; the policy differs: no pause, no 401 refresh */
        ssync_answer a = ssync_http_answer(&x, &f);
        int retry = 0;
        if (a == SSYNC_ANSWER_TRANSPORT_RETRY || a == SSYNC_ANSWER_TRANSPORT_FATAL ||
            a == SSYNC_ANSWER_TLS_FATAL) {
            retry = a == SSYNC_ANSWER_TRANSPORT_RETRY;
            rc = a == SSYNC_ANSWER_TLS_FATAL ? SSYNC_ERR_TLS : SSYNC_ERR_HTTP;
        } else if (x.status == 200) {
            ssync_token_clear(&g->token);
            rc = ssync_token_parse(x.resp, x.resp_len, &g->token, err);
            if (rc == SSYNC_OK) {
                g->token_refresh_at = ssync_mono() + ssync_token_refresh_after(g->token.expires_in);
                g->token_gen++;
                glog(g, SSYNC_LOG_INFO, "token acquired (expires in %.0f s, client-request-id %s)",
                     g->token.expires_in, x.client_request_id);
                ssync_graph_failure_clear(&g->last);
            } else {
                ssync_error_prefix(err, "%s: ", g->token_url);
            }
            ssync_http_cleanup(&x);
            return rc;
        } else {
            if (!ssync_entra_error_parse(x.resp, x.resp_len, &f) && x.resp_len)
                snprintf(f.message, sizeof f.message, "unexpected response (content-type %s)",
                         x.content_type[0] ? x.content_type : "none");
            /* 400/401 are configuration errors; retry only 5xx and temporarily_unavailable
             * (the error values of the identity platform docs' "Microsoft Entra authentication
             * and authorization error codes"; RFC 6749 5.2). */
            retry = a == SSYNC_ANSWER_THROTTLED || a == SSYNC_ANSWER_SERVER_ERROR ||
                    strcmp(f.code, "temporarily_unavailable") == 0;
            rc = SSYNC_ERR_AUTH;
        }
        ssync_http_cleanup(&x);
        g->last = f;
        char line[480];
        ssync_graph_failure_format(&f, line, sizeof line);
        ssync_fail(err, rc, "%s", line);
        if (!retry || attempt + 1 >= tries)
            return rc;
        double d = ssync_backoff(attempt, g->backoff_base, g->backoff_cap, rand01(g));
        glog(g, SSYNC_LOG_WARN, "token request failed, retrying in %.1f s: %s", d, line);
        sleep_s(d);
    }
    return rc;
}

ssync_code graph_token_ensure(ssync_graph *g, ssync_error *err)
{
    if (g->token.access_token && ssync_mono() < g->token_refresh_at)
        return SSYNC_OK;
    return token_fetch(g, err);
}

ssync_code ssync_graph_authenticate(ssync_graph *g, ssync_error *err)
{
    if (!g)
        return ssync_fail(err, SSYNC_ERR_ARG, "no graph client");
    return graph_token_ensure(g, err);
}
