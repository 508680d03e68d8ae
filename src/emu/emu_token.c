/* Entra ID v2.0 token endpoint, client-credentials grant (Microsoft identity platform: "OAuth 2.0
 * client credentials flow", RFC 6749 4.4), and the resource side check of the access tokens it
 * issues. The client assertion is checked in emu_assertion.c. */
#include "emu.h"

#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

static void token_headers(emu_req *req, emu_resp *resp)
{
    resp->content_type = "application/json; charset=utf-8";
    emu_resp_header(resp, "Cache-Control", "no-store, no-cache");
    emu_resp_header(resp, "Pragma", "no-cache");
    emu_resp_header(resp, "x-ms-request-id", req->request_id);
}

/* "https://graph.microsoft.com/.default" -> resource; checks one resource with /.default. */
static int check_scope(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *scope,
                       char *resource, size_t rlen)
{
    char *copy = strdup(scope);
    if (!copy)
        return -1;
    int n = 0;
    char *save = NULL;
    resource[0] = '\0';
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        n++;
        size_t len = strlen(tok);
        static const char suffix[] = "/.default";
        if (len < sizeof(suffix) || strcmp(tok + len - (sizeof(suffix) - 1), suffix) != 0) {
            if (strncasecmp(tok, "https://", 8) == 0 || strncasecmp(tok, "api://", 6) == 0) {
                emu_entra_error(req, resp, 400, "invalid_scope", 1002012,
                                "The provided value for scope %s is not valid. Client credential "
                                "flows must have a scope value with /.default suffixed to the "
                                "resource identifier (application ID URI).",
                                tok);
            } else {
                emu_entra_error(req, resp, 400, "invalid_scope", 70011,
                                "The provided request must include a 'scope' input parameter. "
                                "The provided value for the input parameter 'scope' is not "
                                "valid. The scope %s is not valid.",
                                scope);
            }
            free(copy);
            return -1;
        }
        if (n == 1)
            snprintf(resource, rlen, "%.*s", (int)(len - (sizeof(suffix) - 1)), tok);
    }
    free(copy);
    if (n != 1) {
        emu_entra_error(req, resp, 400, "invalid_scope", 70011,
                        "The provided value for the input parameter 'scope' is not valid. The "
                        "scope %s is not valid. Client credential flows accept exactly one "
                        "resource with /.default.",
                        scope);
        return -1;
    }
    size_t rl = strlen(resource);
    if (rl > 0 && resource[rl - 1] == '/')
        resource[rl - 1] = '\0';
    if (emu_strcaseeq(resource, EMU_GRAPH_RESOURCE) || emu_strcaseeq(resource, EMU_GRAPH_APPID)) {
        snprintf(resource, rlen, "%s", EMU_GRAPH_RESOURCE);
        return 0;
    }
    if (emu_strcaseeq(resource, ctx->base_url)) {
        snprintf(resource, rlen, "%s", ctx->base_url);
        return 0;
    }
    emu_entra_error(req, resp, 400, "invalid_resource", 500011,
                    "The resource principal named %s was not found in the tenant named %s. This "
                    "can happen if the application has not been installed by the administrator "
                    "of the tenant or consented to by any user in the tenant. You might have "
                    "sent your authentication request to the wrong tenant.",
                    resource, ctx->tenant_id);
    return -1;
}

/* A GUID derived from a string (stable service principal object id). */
static void derived_guid(const char *s, char out[37])
{
    unsigned char h[32];
    SHA256((const unsigned char *)s, strlen(s), h);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0],
             h[1], h[2], h[3], h[4], h[5], (h[6] & 0x0f) | 0x40, h[7], (h[8] & 0x3f) | 0x80, h[9],
             h[10], h[11], h[12], h[13], h[14], h[15]);
}

static void issue_token(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *resource,
                        int with_cert)
{
    time_t now = time(NULL);
    char iss[160], oid[37], uti[37];
    snprintf(iss, sizeof(iss), "https://sts.windows.net/%s/", ctx->tenant_id);
    derived_guid(ctx->client_id, oid);
    emu_guid(uti);
    /* Graph issues v1.0 app-only tokens (identity platform docs: Access token claims reference;
     * the claim set is that of observed Graph tokens) */
    json_t *claims =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "aud",
                  resource, "iss", iss, "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp",
                  (json_int_t)(now + ctx->token_lifetime), "app_displayname", "smimesync", "appid",
                  ctx->client_id, "appidacr", with_cert ? "2" : "1", "idp", iss, "idtyp", "app",
                  "oid", oid, "sub", oid, "tid", ctx->tenant_id, "uti", uti);
    if (ctx->nroles) { /* no roles: the claim is absent, not empty (observed) */
        json_t *roles = json_array();
        for (size_t i = 0; i < ctx->nroles; i++)
            json_array_append_new(roles, json_string(ctx->roles[i]));
        json_object_set_new(claims, "roles", roles);
    }
    json_object_set_new(claims, "ver", json_string("1.0"));
    json_t *header = json_pack("{s:s, s:s, s:s, s:s}", "typ", "JWT", "alg", "RS256", "x5t",
                               ctx->token_kid, "kid", ctx->token_kid);
    char *token = emu_jwt_sign(ctx->token_key, "RS256", header, claims);
    json_decref(header);
    json_decref(claims);
    if (!token) {
        emu_entra_error(req, resp, 500, "temporarily_unavailable", 90033,
                        "The emulator could not sign the access token.");
        return;
    }
    json_t *body = json_pack("{s:s, s:I, s:I, s:s}", "token_type", "Bearer", "expires_in",
                             (json_int_t)ctx->token_lifetime, "ext_expires_in",
                             (json_int_t)ctx->token_lifetime, "access_token", token);
    free(token);
    emu_resp_json(resp, 200, body);
    token_headers(req, resp);
}

/* client_secret_basic: "Authorization: Basic base64(urlenc(id):urlenc(secret))" (RFC 6749 2.3.1) */
static int basic_credentials(const emu_req *req, char **id, char **secret)
{
    const char *h = emu_kv_get_ci(&req->headers, "Authorization");
    *id = *secret = NULL;
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return 0;
    ssync_buf d;
    const char *b = h + 6;
    while (*b == ' ')
        b++;
    if (emu_b64_decode_strict(b, &d) != 0)
        return -1;
    /* ssync_base64_decode does not NUL-terminate: make a string of it */
    char *text = OPENSSL_secure_malloc(d.len + 1);
    int rc = -1;
    if (text) {
        memcpy(text, d.data, d.len);
        text[d.len] = '\0';
    }
    char *colon = text ? strchr(text, ':') : NULL;
    if (colon && strlen(text) == d.len) {
        *colon = '\0'; /* percent-decoded; '+' is kept (clients send secrets raw) */
        *id = emu_url_decode(text, strlen(text));
        *secret = emu_url_decode(colon + 1, strlen(colon + 1));
        rc = *id && *secret ? 1 : -1;
    }
    if (text)
        OPENSSL_secure_clear_free(text, d.len + 1);
    ssync_buf_free_secret(&d);
    return rc;
}

/* A required form parameter that is absent or empty: 1 + 400 AADSTS900144, else 0. */
static int missing_param(const emu_req *req, emu_resp *resp, const char *name, const char *value)
{
    if (value && *value)
        return 0;
    emu_entra_error(req, resp, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: '%s'.", name);
    return 1;
}

void emu_token_endpoint(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *tenant)
{
    emu_kvlist form = {0};
    char *basic_id = NULL, *basic_secret = NULL;
    if (strcmp(req->method, "POST") != 0) {
        emu_entra_error(req, resp, 400, "invalid_request", 900561,
                        "The endpoint only accepts POST, OPTIONS requests. Received a %s request.",
                        req->method);
        return;
    }
    if (!emu_strcaseeq(tenant, ctx->tenant_id)) {
        emu_tenant_not_found(req, resp, tenant);
        return;
    }
    if (req->body_too_large) {
        emu_entra_error(req, resp, 413, "invalid_request", 900144,
                        "The request body is too large.");
        return;
    }
    const char *ct = emu_kv_get_ci(&req->headers, "Content-Type");
    /* only a form body is read; anything else looks like a body without parameters */
    if (ct && strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
        emu_form_parse((const char *)req->body, req->body_len, &form) != 0) {
        emu_entra_error(req, resp, 400, "invalid_request", 900144,
                        "The request body must contain the following parameter: 'grant_type'. "
                        "(The form body is not valid application/x-www-form-urlencoded.)");
        goto done;
    }
    static const char *const once[] = {
        "grant_type",    "client_id",        "scope",
        "client_secret", "client_assertion", "client_assertion_type"};
    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
        if (emu_kv_count(&form, once[i]) > 1) {
            emu_entra_error(req, resp, 400, "invalid_request", 90015,
                            "Requested query string is too long or has a duplicated parameter "
                            "'%s'.",
                            once[i]);
            goto done;
        }
    }
    const char *grant = emu_kv_get(&form, "grant_type");
    if (missing_param(req, resp, "grant_type", grant))
        goto done;
    if (strcmp(grant, "client_credentials") != 0) {
        emu_entra_error(req, resp, 400, "unsupported_grant_type", 70003,
                        "The app requested an unsupported grant type '%.100s'.", grant);
        goto done;
    }
    int basic = basic_credentials(req, &basic_id, &basic_secret);
    if (basic < 0) {
        emu_entra_error(req, resp, 401, "invalid_client", 7000215,
                        "Invalid client secret provided. The Basic authorization header is "
                        "malformed.");
        goto done;
    }
    const char *client_id = emu_kv_get(&form, "client_id");
    if (basic_id) {
        if (client_id && strcmp(client_id, basic_id) != 0) {
            emu_entra_error(req, resp, 401, "invalid_client", 700021,
                            "The client_id in the Basic authorization header does not match the "
                            "'client_id' parameter.");
            goto done;
        }
        client_id = basic_id;
    }
    if (missing_param(req, resp, "client_id", client_id))
        goto done;
    if (!emu_strcaseeq(client_id, ctx->client_id)) {
        emu_entra_error(req, resp, 400, "unauthorized_client", 700016,
                        "Application with identifier '%.100s' was not found in the directory "
                        "'%s'. This can happen if the application has not been installed by the "
                        "administrator of the tenant or consented to by any user in the tenant. "
                        "You may have sent your authentication request to the wrong tenant.",
                        client_id, ctx->tenant_id);
        goto done;
    }
    const char *scope = emu_kv_get(&form, "scope");
    if (missing_param(req, resp, "scope", scope))
        goto done;
    char resource[256];
    if (check_scope(ctx, req, resp, scope, resource, sizeof(resource)) != 0)
        goto done;

    const char *secret = emu_kv_get(&form, "client_secret");
    const char *assertion = emu_kv_get(&form, "client_assertion");
    const char *atype = emu_kv_get(&form, "client_assertion_type");
    if (basic_secret) {
        if (secret) {
            emu_entra_error(req, resp, 400, "invalid_request", AADSTS_EMU_TWO_CREDENTIALS,
                            "The client secret was sent both in the Authorization header and in "
                            "the body; send one.");
            goto done;
        }
        secret = basic_secret;
    }
    if (secret && (assertion || atype)) {
        emu_entra_error(req, resp, 400, "invalid_request", AADSTS_EMU_TWO_CREDENTIALS,
                        "Both 'client_secret' and 'client_assertion' were sent; send exactly one "
                        "credential.");
        goto done;
    }
    if (!secret && !assertion) {
        emu_entra_error(req, resp, 401, "invalid_client", 7000216,
                        "'client_assertion', 'client_secret' or 'request' is required for the "
                        "'client_credentials' grant type.");
        goto done;
    }
    if (secret) {
        /* constant-time comparison; an app without a secret rejects every secret */
        int ok =
            ctx->client_secret.data &&
            emu_ct_equal(secret, strlen(secret), ctx->client_secret.data, ctx->client_secret.len);
        if (!ok) {
            emu_entra_error(req, resp, 401, "invalid_client", 7000215,
                            "Invalid client secret provided. Ensure the secret being sent in the "
                            "request is the client secret value, not the client secret ID, for a "
                            "secret added to app '%s'.",
                            ctx->client_id);
            goto done;
        }
        issue_token(ctx, req, resp, resource, 0);
        goto done;
    }
    if (!atype || strcmp(atype, ASSERTION_TYPE) != 0) {
        emu_entra_error(req, resp, 400, "invalid_request", AADSTS_EMU_ASSERTION_TYPE,
                        "'client_assertion_type' must be '%s' when 'client_assertion' is sent.",
                        ASSERTION_TYPE);
        goto done;
    }
    if (emu_check_assertion(ctx, req, resp, assertion, ctx->client_id, tenant) != 0)
        goto done;
    issue_token(ctx, req, resp, resource, 1);
done:
    emu_kv_free(&form);
    if (basic_secret) {
        OPENSSL_cleanse(basic_secret, strlen(basic_secret));
        free(basic_secret);
    }
    free(basic_id);
}

/* ---- resource side (identity platform docs: Access token claims reference) ---- */

static int unauthorized(const emu_req *req, emu_resp *resp, const char *msg)
{
    emu_graph_error(req, resp, 401, "InvalidAuthenticationToken", "%s", msg);
    emu_resp_header(
        resp, "WWW-Authenticate",
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/"
        "common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"");
    return -1;
}

int emu_token_check(emu_ctx *ctx, emu_req *req, emu_resp *resp, emu_principal *who)
{
    memset(who, 0, sizeof(*who));
    const char *h = emu_kv_get_ci(&req->headers, "Authorization");
    if (!h || strncasecmp(h, "Bearer", 6) != 0)
        return unauthorized(req, resp, "Access token is empty.");
    const char *tok = h + 6;
    while (*tok == ' ')
        tok++;
    if (!*tok)
        return unauthorized(req, resp, "Access token is empty.");
    emu_jwt jwt;
    if (emu_jwt_parse(tok, &jwt) != 0)
        return unauthorized(req, resp, "CompactToken parsing failed with error code: 80049217");
    int rc = -1;
    const char *alg = json_string_value(json_object_get(jwt.header, "alg"));
    if (!alg || strcmp(alg, "RS256") != 0 || !emu_jwt_verify(&jwt, ctx->token_key, "RS256")) {
        unauthorized(req, resp, "Access token validation failure. Invalid signature.");
        goto done;
    }
    json_t *c = jwt.claims;
    const char *aud = json_string_value(json_object_get(c, "aud"));
    if (!aud ||
        !(emu_strcaseeq(aud, EMU_GRAPH_RESOURCE) || emu_strcaseeq(aud, EMU_GRAPH_RESOURCE "/") ||
          emu_strcaseeq(aud, EMU_GRAPH_APPID) || emu_strcaseeq(aud, ctx->base_url))) {
        unauthorized(req, resp, "Access token validation failure. Invalid audience.");
        goto done;
    }
    const char *tid = json_string_value(json_object_get(c, "tid"));
    if (!tid || !emu_strcaseeq(tid, ctx->tenant_id)) {
        unauthorized(req, resp, "Access token validation failure. Invalid issuer.");
        goto done;
    }
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    double now = emu_now();
    /* no clock skew: --token-lifetime lets tests expire tokens on purpose */
    if (!json_is_integer(exp) || (double)json_integer_value(exp) <= now ||
        (json_is_integer(nbf) && (double)json_integer_value(nbf) > now + 1)) {
        unauthorized(req, resp, "Access token has expired or is not yet valid.");
        goto done;
    }
    const char *appid = json_string_value(json_object_get(c, "appid"));
    snprintf(who->appid, sizeof(who->appid), "%s", appid ? appid : "");
    who->claims = json_incref(c);
    rc = 0;
done:
    emu_jwt_free(&jwt);
    return rc;
}

int emu_principal_has_role(const emu_principal *who, const char *role)
{
    json_t *roles = json_object_get(who->claims, "roles");
    size_t i;
    json_t *v;
    json_array_foreach(roles, i, v)
    {
        if (emu_strcaseeq(json_string_value(v), role))
            return 1;
    }
    return 0;
}

void emu_principal_free(emu_principal *who)
{
    json_decref(who->claims);
    who->claims = NULL;
}
