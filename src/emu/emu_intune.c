/* The Intune resources of --tenant-config, as Graph beta serves them (Graph docs:
 * deviceConfiguration and its imported-PFX / trusted-root types, deviceConfigurationAssignment,
 * managedDeviceCertificateState "List", ndesConnector, certificateConnectorDetails,
 * managedDevice, managedDeviceMobileAppConfiguration):
 *   /deviceManagement/deviceConfigurations[/{id}[/assignments |
 *       /microsoft.graph.{type}/managedDeviceCertificateStates]]
 *   /deviceManagement/ndesConnectors, /deviceManagement/certificateConnectorDetails
 *   /deviceManagement/managedDevices, /deviceAppManagement/mobileAppConfigurations
 * Each collection pages with $top and nextLink ($skiptoken) and takes $select; a token without
 * the documented permission gets Intune's 403. */
#include "emu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The documented application permissions of a resource family, least privileged first. */
static const char *const perm_config[] = {EMU_ROLE_R, EMU_ROLE_RW, NULL};
static const char *const perm_devices[] = {EMU_ROLE_DEVICES,
                                           "DeviceManagementManagedDevices.ReadWrite.All", NULL};
static const char *const perm_apps[] = {EMU_ROLE_APPS, "DeviceManagementApps.ReadWrite.All", NULL};

static int forbidden(const emu_req *req, emu_resp *resp, const emu_principal *who,
                     const char *const *perms)
{
    for (size_t i = 0; perms[i]; i++)
        if (emu_principal_has_role(who, perms[i]))
            return 0;
    emu_intune_error(req, resp, 403, "Forbidden",
                     "Application is not authorized to perform this operation. Application must "
                     "have one of the following scopes: %s, %s",
                     perms[0], perms[1]);
    return -1;
}

/* $select names: letters and digits only (Graph answers 400 for anything else). */
static const char *any_prop(const char *name)
{
    if (!*name)
        return NULL;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p))
            return NULL;
    return name;
}

static const emu_select_spec intune_select = {any_prop, "microsoft.graph.entity", "BadRequest", 1};

/* The object as served: emulator-only members (leading '_') and relationships dropped; with
 * $select only the selected members (and @odata.type, which tells derived types apart). */
static json_t *view(json_t *o, json_t *sel)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (k[0] == '_' || strcmp(k, "assignments") == 0)
            continue;
        int keep = !sel || strcmp(k, "@odata.type") == 0;
        size_t i;
        json_t *s;
        json_array_foreach(sel, i, s) keep |= strcmp(json_string_value(s), k) == 0;
        if (keep)
            json_object_set(out, k, v);
    }
    return out;
}

/* One page of items (a JSON array, borrowed) under $top / $skiptoken / $select. */
static void serve(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version,
                  const char *entity_set, json_t *items)
{
    static const char *const allowed[] = {"$select", "$top", "$skiptoken", NULL};
    if (emu_query_check(req, resp, version, allowed, 1) != 0)
        return;
    json_t *sel = NULL;
    char selctx[512];
    if (emu_parse_select(req, resp, emu_query_opt(req, "$select", version), &intune_select, &sel,
                         selctx, sizeof selctx) != 0)
        return;
    unsigned long page = ctx->page_size;
    const char *top = emu_query_opt(req, "$top", version);
    if (top) {
        char *end;
        unsigned long t = strtoul(top, &end, 10);
        if (!isdigit((unsigned char)top[0]) || *end || t < 1) {
            emu_intune_error(req, resp, 400, "BadRequest", "Invalid $top value '%.40s'.", top);
            json_decref(sel);
            return;
        }
        if (t < page)
            page = t;
    }
    size_t start = 0;
    const char *skip = emu_query_opt(req, "$skiptoken", version);
    if (skip) {
        if (emu_skiptoken_offset(skip, &start) != 0) {
            emu_intune_error(req, resp, 400, "BadRequest", "The skip token is not valid.");
            json_decref(sel);
            return;
        }
    }
    json_t *value = json_array();
    size_t n = json_array_size(items), i;
    for (i = start; i < n && json_array_size(value) < page; i++)
        json_array_append_new(value, view(json_array_get(items, i), sel));
    char context[1024], token[40];
    snprintf(context, sizeof context, "%s/%s/$metadata#%s%s%s%s", ctx->base_url, version,
             entity_set, sel ? "(" : "", sel ? selctx : "", sel ? ")" : "");
    snprintf(token, sizeof token, "emu1.%zu", i);
    emu_respond_page(ctx, req, resp, context, -1, value, i < n ? token : NULL);
    json_decref(sel);
}

static json_t *profile_by_id(emu_ctx *ctx, const char *id, size_t len)
{
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(ctx->tenant, "deviceConfigurations"), i, p)
    {
        const char *pid = json_string_value(json_object_get(p, "id"));
        if (strlen(pid) == len && strncasecmp(pid, id, len) == 0)
            return p;
    }
    return NULL;
}

/* The states recorded for one profile (a new array; the lock is held while copying). */
static json_t *states_of(emu_ctx *ctx, const char *profile_id)
{
    json_t *out = json_array(), *s;
    size_t i;
    pthread_mutex_lock(&ctx->lock);
    json_array_foreach(ctx->cert_states, i, s)
    {
        /* a state is never changed once recorded (a fetch replaces it): share it */
        if (emu_strcaseeq(json_string_value(json_object_get(s, "_profileId")), profile_id))
            json_array_append(out, s);
    }
    pthread_mutex_unlock(&ctx->lock);
    return out;
}

static void configurations(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version,
                           const char *rest)
{
    if (*rest == '\0') {
        serve(ctx, req, resp, version, "deviceManagement/deviceConfigurations",
              json_object_get(ctx->tenant, "deviceConfigurations"));
        return;
    }
    const char *s = rest + 1;
    size_t n = strcspn(s, "/");
    json_t *p = profile_by_id(ctx, s, n);
    if (!p) {
        emu_intune_error(req, resp, 404, "ResourceNotFound",
                         "Resource not found for the segment '%.*s'.", (int)(n > 60 ? 60 : n), s);
        return;
    }
    const char *tail = s + n;
    const char *type = json_string_value(json_object_get(p, "@odata.type")) + 1; /* no '#' */
    char states[256];
    snprintf(states, sizeof states, "/%s/managedDeviceCertificateStates", type);
    if (*tail == '\0') {
        char context[512];
        snprintf(context, sizeof context,
                 "%s/%s/$metadata#deviceManagement/deviceConfigurations/$entity", ctx->base_url,
                 version);
        json_t *o = view(p, NULL);
        json_object_set_new(o, "@odata.context", json_string(context));
        emu_resp_json(resp, 200, o);
    } else if (strcasecmp(tail, "/assignments") == 0) {
        serve(ctx, req, resp, version, "deviceManagement/deviceConfigurations('id')/assignments",
              json_object_get(p, "assignments"));
    } else if (strcasecmp(tail, states) == 0 && emu_profile_kind_of(p) == EMU_PROFILE_PFX) {
        json_t *all = states_of(ctx, json_string_value(json_object_get(p, "id")));
        serve(ctx, req, resp, version, "managedDeviceCertificateStates", all);
        json_decref(all);
    } else if (emu_strcasestr(tail, "/managedDeviceCertificateStates")) {
        /* the cast must name the profile's own type */
        emu_intune_error(req, resp, 400, "BadRequest",
                         "The type cast in '%.120s' does not match the profile's type %s.", tail,
                         type);
    } else {
        emu_intune_error(req, resp, 404, "ResourceNotFound",
                         "Resource not found for the segment '%.60s'.", tail + 1);
    }
}

int emu_intune_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                     const char *version, const char *rest)
{
    static const char dc[] = "/deviceManagement/deviceConfigurations";
    static const char *const plain[][2] = {
        {"/deviceManagement/ndesConnectors", "deviceManagement/ndesConnectors"},
        {"/deviceManagement/certificateConnectorDetails",
         "deviceManagement/certificateConnectorDetails"},
        {"/deviceManagement/managedDevices", "deviceManagement/managedDevices"},
        {"/deviceAppManagement/mobileAppConfigurations",
         "deviceAppManagement/mobileAppConfigurations"},
    };
    int is_dc = strncasecmp(rest, dc, sizeof dc - 1) == 0 &&
                (rest[sizeof dc - 1] == '\0' || rest[sizeof dc - 1] == '/');
    int which = -1;
    for (int i = 0; i < 4; i++)
        if (strcasecmp(rest, plain[i][0]) == 0)
            which = i;
    if (!is_dc && which < 0)
        return 0;
    if (!ctx->tenant) {
        emu_intune_error(req, resp, 404, "ResourceNotFound",
                         "The emulator has no tenant description (start it with "
                         "--tenant-config).");
        return 1;
    }
    if (strcmp(req->method, "GET") != 0) {
        emu_graph_error(req, resp, 405, "MethodNotAllowed",
                        "The requested resource does not support http method '%s'.", req->method);
        emu_resp_header(resp, "Allow", "GET");
        return 1;
    }
    if (strcmp(version, "beta") != 0) {
        /* the imported-PFX profile types and their certificate states are beta resources */
        emu_graph_error(req, resp, 400, "BadRequest",
                        "The emulator serves the Intune delivery resources on beta only.");
        return 1;
    }
    const char *const *perms = which == 2 ? perm_devices : which == 3 ? perm_apps : perm_config;
    if (forbidden(req, resp, who, perms) != 0)
        return 1;
    if (is_dc)
        configurations(ctx, req, resp, version, rest + sizeof dc - 1);
    else
        serve(ctx, req, resp, version, plain[which][1],
              json_object_get(ctx->tenant, plain[which][0] + (which == 3 ? 21 : 18)));
    return 1;
}
