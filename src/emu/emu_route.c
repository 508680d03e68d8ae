/* The dispatcher: faults first, then the route (token endpoint, Graph, admin), then the
 * "commit" faults that replace a successful answer. */
#include "emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Route class for statistics and for choosing the error shape. */
typedef enum route_class { R_TOKEN, R_DISCOVERY, R_GRAPH, R_ADMIN, R_OTHER } route_class;

static const char *seg_end(const char *p)
{
    while (*p && *p != '/')
        p++;
    return p;
}

/* "/{tenant}/oauth2/v2.0/token": copies the tenant. */
static int is_token_path(const char *path, char *tenant, size_t len)
{
    if (path[0] != '/')
        return 0;
    const char *t = path + 1, *e = seg_end(t);
    if (e == t || strcasecmp(e, "/oauth2/v2.0/token") != 0)
        return 0;
    size_t n = (size_t)(e - t);
    if (n >= len)
        return 0;
    memcpy(tenant, t, n);
    tenant[n] = '\0';
    return 1;
}

static const char *stats_route(const char *path)
{
    if (strstr(path, "/oauth2/"))
        return "token";
    if (emu_strcasestr(path, "/userPfxCertificates"))
        return "userPfxCertificates";
    if (emu_strcasestr(path, "/managedDeviceCertificateStates"))
        return "managedDeviceCertificateStates";
    if (emu_strcasestr(path, "/deviceConfigurations"))
        return "deviceConfigurations";
    if (emu_strcasestr(path, "/deviceManagement/") || emu_strcasestr(path, "/deviceAppManagement/"))
        return "intune";
    if (emu_strcasestr(path, "/$batch"))
        return "$batch";
    if (emu_strcasestr(path, "/users"))
        return "users";
    if (emu_strcasestr(path, "/groups"))
        return "groups";
    if (strncmp(path, "/emu/device", 11) == 0)
        return "device";
    if (strncmp(path, "/emu/", 5) == 0)
        return "admin";
    return "other";
}

static void fault_answer(emu_ctx *ctx, emu_req *req, emu_resp *resp, route_class rc,
                         const emu_fault *f)
{
    (void)ctx;
    int status = f->kind == EMU_FAULT_500 ? 500 : f->kind == EMU_FAULT_504 ? 504 : 503;
    const char *retry = f->kind == EMU_FAULT_503_RETRY ? f->arg : NULL;
    if (rc == R_TOKEN || rc == R_DISCOVERY) {
        /* Entra's shape; temporarily_unavailable is the documented retryable error */
        emu_entra_error(req, resp, status, "temporarily_unavailable", 90033,
                        "A transient error has occurred. Please try again. (injected fault %s)",
                        f->spec);
    } else if (status == 500) {
        emu_graph_error(req, resp, 500, "InternalServerError",
                        "An internal server error occurred. (injected fault %s)", f->spec);
    } else if (status == 504) {
        emu_graph_error(req, resp, 504, "GatewayTimeout",
                        "The gateway did not receive a timely response. (injected fault %s)",
                        f->spec);
    } else {
        emu_graph_error(req, resp, 503, "ServiceUnavailable",
                        "The service is temporarily unavailable. (injected fault %s)", f->spec);
    }
    if (retry)
        emu_resp_header(resp, "Retry-After", retry);
}

void emu_dispatch(emu_ctx *ctx, emu_req *req, emu_resp *resp)
{
    char tenant[256];
    const char *path = req->path;
    route_class rc = R_OTHER;
    if (strncmp(path, "/emu/", 5) == 0 && !req->in_batch)
        rc = R_ADMIN;
    else if (is_token_path(path, tenant, sizeof(tenant)))
        rc = R_TOKEN;
    else if (emu_discovery_path(path))
        rc = R_DISCOVERY;
    else if (strncasecmp(path, "/beta", 5) == 0 || strncasecmp(path, "/v1.0", 5) == 0)
        rc = R_GRAPH;

    /* faults never hit the admin endpoints (but do hit the device endpoint) */
    emu_fault f;
    int commit = -1;
    int admin_only = rc == R_ADMIN && strncmp(path, "/emu/device/", 12) != 0;
    if (!admin_only && emu_faults_match(ctx, req->method, path, &f)) {
        if (!ctx->quiet)
            fprintf(stderr, "intune-emu: fault %s fires on %s %s\n", f.spec, req->method, path);
        switch (f.kind) {
        case EMU_FAULT_DELAY:
            usleep((useconds_t)(strtoul(f.arg, NULL, 10) * 1000UL));
            break;
        case EMU_FAULT_DROP:
            resp->drop = 1;
            goto done;
        case EMU_FAULT_429:
            emu_throttle_error(req, resp, NULL);
            goto done;
        case EMU_FAULT_429_RETRY:
            emu_throttle_error(req, resp, f.arg);
            goto done;
        case EMU_FAULT_500:
        case EMU_FAULT_503:
        case EMU_FAULT_503_RETRY:
        case EMU_FAULT_504:
            fault_answer(ctx, req, resp, rc, &f);
            goto done;
        case EMU_FAULT_EXPIRE:
            if (rc == R_GRAPH) {
                emu_graph_error(req, resp, 401, "InvalidAuthenticationToken",
                                "Access token has expired or is not yet valid.");
                goto done;
            }
            break;
        case EMU_FAULT_COMMIT_500:
        case EMU_FAULT_COMMIT_DROP:
            commit = (int)f.kind;
            break;
        case EMU_FAULT_NOOP:
            /* Intune has been seen to answer a DELETE with 204 and keep the record */
            resp->status = 204;
            goto done;
        }
    }

    switch (rc) {
    case R_ADMIN:
        emu_admin_route(ctx, req, resp, path + 4);
        break;
    case R_TOKEN:
        emu_token_endpoint(ctx, req, resp, tenant);
        break;
    case R_DISCOVERY:
        emu_discovery_route(ctx, req, resp);
        break;
    case R_GRAPH: {
        const char *version = strncasecmp(path, "/beta", 5) == 0 ? "beta" : "v1.0";
        const char *rest = path + 5;
        if (*rest != '\0' && *rest != '/') {
            rc = R_OTHER;
            goto other;
        }
        emu_graph_route(ctx, req, resp, version, rest);
        break;
    }
    case R_OTHER:
    other : {
        /* a path without a known version: 404 "Invalid version: ..." (observed) */
        const char *s = path[0] == '/' ? path + 1 : path;
        const char *e = seg_end(s);
        emu_graph_error(req, resp, 404, "ResourceNotFound", "Invalid version: %.*s",
                        (int)(e - s > 100 ? 100 : e - s), s);
        break;
    }
    }

    if (commit >= 0 && resp->status >= 200 && resp->status < 300) {
        if (commit == EMU_FAULT_COMMIT_DROP) {
            emu_resp_reset(resp);
            resp->drop = 1;
        } else {
            emu_graph_error(req, resp, 500, "InternalServerError",
                            "An internal server error occurred. (injected fault %s; the "
                            "operation was committed)",
                            f.spec);
        }
    }
done:
    emu_stats_count(ctx, req->method, stats_route(path), resp->drop ? 0 : resp->status);
}

void emu_graph_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version,
                     const char *rest)
{
    emu_principal who = {{0}, NULL};
    if (emu_token_check(ctx, req, resp, &who) != 0)
        return;
    snprintf(req->auth_appid, sizeof(req->auth_appid), "%s", who.appid);

    if (strcasecmp(rest, "/$batch") == 0) {
        if (req->in_batch)
            emu_graph_error(req, resp, 400, "BadRequest", "A $batch request cannot be nested.");
        else
            emu_batch(ctx, req, resp, version);
        emu_principal_free(&who);
        return;
    }

    /* Intune's per-app limits (Graph docs: service-specific throttling limits): every request
     * counts against the request limit, POST/PUT/PATCH/DELETE also against the write limit */
    int is_write = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
    long retry = 0;
    pthread_mutex_lock(&ctx->lock);
    int admitted = emu_throttle_admit(ctx, is_write, &retry);
    if (!admitted)
        ctx->stats.throttled++;
    pthread_mutex_unlock(&ctx->lock);
    if (!admitted) {
        char ra[32];
        snprintf(ra, sizeof(ra), "%ld", retry);
        emu_throttle_error(req, resp, ra);
        emu_principal_free(&who);
        return;
    }

    static const char pfx[] = "/deviceManagement/userPfxCertificates";
    if (strncasecmp(rest, pfx, sizeof(pfx) - 1) == 0 &&
        (rest[sizeof(pfx) - 1] == '\0' || rest[sizeof(pfx) - 1] == '/' ||
         rest[sizeof(pfx) - 1] == '(')) {
        if (strcmp(version, "beta") != 0)
            /* the API exists on beta only (Graph docs: userPFXCertificate, beta) */
            emu_graph_error(req, resp, 400, "BadRequest",
                            "Resource not found for the segment 'userPfxCertificates'.");
        else
            emu_pfx_route(ctx, req, resp, &who, version, rest + sizeof(pfx) - 1);
    } else if (emu_intune_route(ctx, req, resp, &who, version, rest)) {
        /* the delivery model of --tenant-config */
    } else if (strncasecmp(rest, "/users", 6) == 0 &&
               (rest[6] == '\0' || rest[6] == '/' || rest[6] == '(')) {
        emu_users_route(ctx, req, resp, &who, version, rest + 6);
    } else if (strncasecmp(rest, "/groups", 7) == 0 && (rest[7] == '\0' || rest[7] == '/')) {
        emu_groups_route(ctx, req, resp, &who, version, rest + 7);
    } else {
        const char *s = rest[0] == '/' ? rest + 1 : rest;
        const char *e = seg_end(s);
        if (e == s)
            emu_graph_error(req, resp, 404, "ResourceNotFound",
                            "The service root has no resource here; use a resource path.");
        else
            emu_graph_error(req, resp, 404, "ResourceNotFound",
                            "Resource not found for the segment '%.*s'.",
                            (int)(e - s > 100 ? 100 : e - s), s);
    }
    emu_principal_free(&who);
}
