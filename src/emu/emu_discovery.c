/* The discovery documents Microsoft's authentication libraries read before they ask for a token
 * (OpenID Connect Discovery 1.0; identity platform docs: "OpenID Connect on the Microsoft identity
 * platform", "Microsoft identity platform and OAuth 2.0 client credentials flow"):
 *   GET /{tenant}/v2.0/.well-known/openid-configuration   the tenant's endpoints
 *   GET /{tenant}/discovery/v2.0/keys                      the token signing keys (JWKS, RFC 7517)
 *   GET /common/discovery/instance                         instance discovery (MSAL's first call
 *                                                          for an authority it does not know)
 * Endpoints name this emulator's address, so MSAL (python3-msal) signs in here as at Entra ID. */
#include "emu.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OIDC_PATH "/v2.0/.well-known/openid-configuration"
#define KEYS_PATH "/discovery/v2.0/keys"
#define INSTANCE_PATH "/common/discovery/instance"

/* The tenant segment of "/{tenant}SUFFIX" into tenant; 0 when path is not of that form. */
static int tenant_of(const char *path, const char *suffix, char *tenant, size_t len)
{
    if (path[0] != '/')
        return 0;
    const char *t = path + 1, *slash = strchr(t, '/');
    if (!slash || slash == t || strcasecmp(slash, suffix) != 0 || (size_t)(slash - t) >= len)
        return 0;
    memcpy(tenant, t, (size_t)(slash - t));
    tenant[slash - t] = '\0';
    return 1;
}

int emu_discovery_path(const char *path)
{
    char t[256];
    return strcasecmp(path, INSTANCE_PATH) == 0 || tenant_of(path, OIDC_PATH, t, sizeof t) ||
           tenant_of(path, KEYS_PATH, t, sizeof t);
}

/* Entra answers for the tenant's id and for the multi-tenant aliases; a GUID or name it does
 * not know is AADSTS90002. */
static int known_tenant(const emu_ctx *ctx, const char *tenant)
{
    return emu_strcaseeq(tenant, ctx->tenant_id) || emu_strcaseeq(tenant, "organizations") ||
           emu_strcaseeq(tenant, "common");
}

/* The issuer Entra names for a tenant: the tenant's own id, "{tenantid}" for the aliases. */
static void issuer_of(const emu_ctx *ctx, const char *tenant, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/v2.0", ctx->base_url,
             emu_strcaseeq(tenant, ctx->tenant_id) ? ctx->tenant_id : "{tenantid}");
}

static json_t *strings(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static void openid_configuration(emu_ctx *ctx, emu_resp *resp, const char *tenant)
{
    static const char *const auth_methods[] = {"client_secret_post", "private_key_jwt",
                                               "client_secret_basic", NULL};
    static const char *const response_types[] = {"code", "id_token", "code id_token",
                                                 "id_token token", NULL};
    static const char *const scopes[] = {"openid", "profile", "email", "offline_access", NULL};
    static const char *const algs[] = {"RS256", NULL};
    /* the tenant's own id (as configured) in the endpoints, else the alias as asked */
    const char *tid = emu_strcaseeq(tenant, ctx->tenant_id) ? ctx->tenant_id : tenant;
    char token[512], authorize[512], keys[512], logout[512], device[512], issuer[512];
    snprintf(token, sizeof token, "%s/%s/oauth2/v2.0/token", ctx->base_url, tid);
    snprintf(authorize, sizeof authorize, "%s/%s/oauth2/v2.0/authorize", ctx->base_url, tid);
    snprintf(device, sizeof device, "%s/%s/oauth2/v2.0/devicecode", ctx->base_url, tid);
    snprintf(logout, sizeof logout, "%s/%s/oauth2/v2.0/logout", ctx->base_url, tid);
    snprintf(keys, sizeof keys, "%s/%s" KEYS_PATH, ctx->base_url, tid);
    issuer_of(ctx, tenant, issuer, sizeof issuer);
    json_t *doc = json_object();
    json_object_set_new(doc, "token_endpoint", json_string(token));
    json_object_set_new(doc, "token_endpoint_auth_methods_supported", strings(auth_methods));
    json_object_set_new(doc, "jwks_uri", json_string(keys));
    json_object_set_new(doc, "response_modes_supported",
                        strings((const char *const[]){"query", "fragment", "form_post", NULL}));
    json_object_set_new(doc, "subject_types_supported",
                        strings((const char *const[]){"pairwise", NULL}));
    json_object_set_new(doc, "id_token_signing_alg_values_supported", strings(algs));
    json_object_set_new(doc, "response_types_supported", strings(response_types));
    json_object_set_new(doc, "scopes_supported", strings(scopes));
    json_object_set_new(doc, "issuer", json_string(issuer));
    json_object_set_new(doc, "request_uri_parameter_supported", json_false());
    json_object_set_new(doc, "authorization_endpoint", json_string(authorize));
    json_object_set_new(doc, "device_authorization_endpoint", json_string(device));
    json_object_set_new(doc, "http_logout_supported", json_true());
    json_object_set_new(doc, "frontchannel_logout_supported", json_true());
    json_object_set_new(doc, "end_session_endpoint", json_string(logout));
    json_object_set_new(doc, "tenant_region_scope", json_string("EU"));
    json_object_set_new(doc, "cloud_instance_name", json_string("microsoftonline.com"));
    json_object_set_new(doc, "cloud_graph_host_name", json_string("graph.windows.net"));
    json_object_set_new(doc, "msgraph_host", json_string("graph.microsoft.com"));
    emu_resp_json(resp, 200, doc);
    resp->content_type = "application/json; charset=utf-8";
}

/* base64url of a big-endian integer parameter of the key ("n", "e"); NULL on failure. */
static char *b64_param(EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(key, name, &bn))
        return NULL;
    int n = BN_num_bytes(bn);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    char *out = NULL;
    if (buf && BN_bn2bin(bn, buf) == n)
        out = ssync_base64url_encode(buf, (size_t)n);
    free(buf);
    BN_free(bn);
    return out;
}

static void signing_keys(emu_ctx *ctx, emu_resp *resp, const char *tenant)
{
    char issuer[512];
    issuer_of(ctx, tenant, issuer, sizeof issuer);
    char *n = b64_param(ctx->token_key, OSSL_PKEY_PARAM_RSA_N);
    char *e = b64_param(ctx->token_key, OSSL_PKEY_PARAM_RSA_E);
    if (!n || !e) {
        free(n);
        free(e);
        emu_resp_json(resp, 500, json_pack("{s:s}", "error", "server_error"));
        return;
    }
    json_t *key =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "RSA", "use", "sig", "kid",
                  ctx->token_kid, "x5t", ctx->token_kid, "n", n, "e", e, "issuer", issuer);
    free(n);
    free(e);
    emu_resp_json(resp, 200, json_pack("{s:[o]}", "keys", key));
    resp->content_type = "application/json; charset=utf-8";
}

/* Instance discovery: which tenant discovery document an authorization endpoint of this host
 * has; an endpoint of another host is an "invalid_instance" (as Entra answers for hosts it does
 * not know). */
static void instance(emu_ctx *ctx, const emu_req *req, emu_resp *resp)
{
    /* "https://HOST[:PORT]/TENANT/oauth2/v2.0/authorize": MSAL names the host without the port */
    const char *ep = emu_kv_get(&req->query, "authorization_endpoint");
    const char *h = ep && strncasecmp(ep, "https://", 8) == 0 ? ep + 8 : NULL;
    const char *t = h ? strchr(h, '/') : NULL;
    size_t hl = t ? (size_t)(t - h) : 0;
    const char *colon = t ? memchr(h, ':', hl) : NULL;
    if (colon)
        hl = (size_t)(colon - h);
    const char *slash = t ? strchr(++t, '/') : NULL;
    if (!slash || slash == t || (size_t)(slash - t) > 128 || hl != strlen(ctx->host) ||
        strncasecmp(h, ctx->host, hl) != 0) {
        emu_entra_error(req, resp, 400, "invalid_instance", 50049, "Unknown or invalid instance.");
        return;
    }
    char tenant_doc[512], host[300];
    snprintf(tenant_doc, sizeof tenant_doc, "%s/%.*s" OIDC_PATH, ctx->base_url, (int)(slash - t),
             t);
    snprintf(host, sizeof host, "%s", ctx->base_url + strlen("https://"));
    json_t *meta = json_pack("{s:s, s:s, s:[s]}", "preferred_network", host, "preferred_cache",
                             host, "aliases", host);
    json_t *doc = json_pack("{s:s, s:s, s:[o]}", "tenant_discovery_endpoint", tenant_doc,
                            "api-version", "1.1", "metadata", meta);
    emu_resp_json(resp, 200, doc);
    resp->content_type = "application/json; charset=utf-8";
}

void emu_discovery_route(emu_ctx *ctx, emu_req *req, emu_resp *resp)
{
    char tenant[256];
    if (strcasecmp(req->method, "GET") != 0) {
        emu_entra_error(req, resp, 405, "invalid_request", 900561,
                        "The endpoint only accepts GET requests. Received a %s request.",
                        req->method);
        return;
    }
    if (strcasecmp(req->path, INSTANCE_PATH) == 0) {
        instance(ctx, req, resp);
        return;
    }
    int oidc = tenant_of(req->path, OIDC_PATH, tenant, sizeof tenant);
    if (!oidc && !tenant_of(req->path, KEYS_PATH, tenant, sizeof tenant))
        return;
    if (!known_tenant(ctx, tenant)) {
        emu_tenant_not_found(req, resp, tenant);
        return;
    }
    if (oidc)
        openid_configuration(ctx, resp, tenant);
    else
        signing_keys(ctx, resp, tenant);
}
