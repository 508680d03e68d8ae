/* Intune's delivery side as Graph beta lists it (graph/intune.h): profiles and assignments,
 * connectors, Outlook app configurations, managed devices, certificate states. Each listing is
 * one paged collection read through graph_list_pages_with (its guards hold). */
#include "graph/intune.h"

#include "graph/graph_int.h"
#include "common/encode.h"

#include <ctype.h>
#include <strings.h>

#define ODATA_PREFIX "#microsoft.graph."

/* ---- names ---- */

const char *ssync_platform_name(ssync_platform p)
{
    static const char *const names[] = {"ios", "macos", "windows", "android", "other"};
    return names[p <= SSYNC_PLATFORM_OTHER ? p : SSYNC_PLATFORM_OTHER];
}

ssync_platform ssync_platform_from_name(const char *name)
{
    for (int p = 0; p < SSYNC_PLATFORM_COUNT; p++)
        if (name && strcasecmp(name, ssync_platform_name((ssync_platform)p)) == 0)
            return (ssync_platform)p;
    return SSYNC_PLATFORM_OTHER;
}

ssync_platform ssync_platform_from_os(const char *os)
{
    if (!os)
        return SSYNC_PLATFORM_OTHER;
    if (!strcasecmp(os, "iOS") || !strcasecmp(os, "iPadOS"))
        return SSYNC_PLATFORM_IOS;
    if (!strcasecmp(os, "macOS"))
        return SSYNC_PLATFORM_MACOS;
    if (!strncasecmp(os, "Windows", 7))
        return SSYNC_PLATFORM_WINDOWS;
    if (!strncasecmp(os, "Android", 7))
        return SSYNC_PLATFORM_ANDROID;
    return SSYNC_PLATFORM_OTHER;
}

/* The profile types that carry our certificates and their roots (memdocs
 * certificates-imported-pfx-configure.md; Graph beta resource list). */
static const struct {
    const char *type;
    ssync_profile_kind kind;
    ssync_platform platform;
} profile_types[] = {
    {"iosImportedPFXCertificateProfile", SSYNC_PROFILE_PFX, SSYNC_PLATFORM_IOS},
    {"macOSImportedPFXCertificateProfile", SSYNC_PROFILE_PFX, SSYNC_PLATFORM_MACOS},
    {"windows10ImportedPFXCertificateProfile", SSYNC_PROFILE_PFX, SSYNC_PLATFORM_WINDOWS},
    {"androidDeviceOwnerImportedPFXCertificateProfile", SSYNC_PROFILE_PFX, SSYNC_PLATFORM_ANDROID},
    {"androidForWorkImportedPFXCertificateProfile", SSYNC_PROFILE_PFX, SSYNC_PLATFORM_ANDROID},
    {"androidImportedPFXCertificateProfile", SSYNC_PROFILE_PFX, SSYNC_PLATFORM_ANDROID},
    {"iosTrustedRootCertificate", SSYNC_PROFILE_ROOT, SSYNC_PLATFORM_IOS},
    {"macOSTrustedRootCertificate", SSYNC_PROFILE_ROOT, SSYNC_PLATFORM_MACOS},
    {"windows81TrustedRootCertificate", SSYNC_PROFILE_ROOT, SSYNC_PLATFORM_WINDOWS},
    {"androidForWorkTrustedRootCertificate", SSYNC_PROFILE_ROOT, SSYNC_PLATFORM_ANDROID},
    {"androidWorkProfileTrustedRootCertificate", SSYNC_PROFILE_ROOT, SSYNC_PLATFORM_ANDROID},
    {"androidDeviceOwnerTrustedRootCertificate", SSYNC_PROFILE_ROOT, SSYNC_PLATFORM_ANDROID},
    {"androidTrustedRootCertificate", SSYNC_PROFILE_ROOT, SSYNC_PLATFORM_ANDROID},
};

time_t ssync_graph_parse_time(const char *s)
{
    struct tm tm = {0};
    int n = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                     &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = s + n;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            ;
    long off = 0;
    int hh, mm;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2)
        off = (*p == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
    else if (*p != 'Z' && *p != '\0')
        return 0;
    time_t t = timegm(&tm);
    return t == (time_t)-1 ? 0 : t - off;
}

/* A string member, sanitized into dst ("" when absent). */
static void str_of(json_t *o, const char *key, char *dst, size_t n)
{
    const char *v = json_string_value(json_object_get(o, key));
    ssync_sanitize_line(dst, n, v ? v : "", v ? strlen(v) : 0);
}

/* ---- one collection, every page, as a JSON array ---- */

static ssync_code json_page(const char *body, size_t len, void *out, char **next_link,
                            ssync_error *err)
{
    json_error_t je;
    *next_link = NULL;
    json_t *root = body && len ? json_loadb(body, len, 0, &je) : NULL;
    json_t *value = json_object_get(root, "value");
    ssync_code rc = SSYNC_OK;
    if (!json_is_array(value)) {
        rc = ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "listing page has no \"value\" array");
    } else {
        json_array_extend(out, value);
        json_t *nl = json_object_get(root, "@odata.nextLink");
        if (json_is_string(nl) && json_string_length(nl) > 0) {
            *next_link = strdup(json_string_value(nl));
            if (!*next_link)
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, "nextLink");
        } else if (nl && !json_is_null(nl)) {
            rc = ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "@odata.nextLink is not a string");
        }
    }
    json_decref(root);
    return rc;
}

/* GET {base}{path} and every nextLink; *out is a new array. Inside graph_run_begin/end. */
static ssync_code list_json(ssync_graph *g, const char *path, json_t **out, ssync_error *err)
{
    *out = json_array();
    char *url = concat(g->base, path, "");
    if (!*out || !url) {
        free(url);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "listing");
    }
    return graph_list_pages_with(g, url, json_page, *out, err);
}

/* Runs fn inside one client run; clears the last failure on success. */
static ssync_code in_run(ssync_graph *g, ssync_error *err,
                         ssync_code (*fn)(ssync_graph *, void *, ssync_error *), void *arg)
{
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    rc = fn(g, arg, err);
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    graph_run_end(g);
    return rc;
}

/* ---- profiles ---- */

static int profile_from_json(json_t *o, ssync_intune_profile *p)
{
    const char *t = json_string_value(json_object_get(o, "@odata.type"));
    if (!t || strncmp(t, ODATA_PREFIX, sizeof ODATA_PREFIX - 1) != 0)
        return 0;
    t += sizeof ODATA_PREFIX - 1;
    for (size_t i = 0; i < sizeof profile_types / sizeof profile_types[0]; i++) {
        if (strcmp(t, profile_types[i].type) != 0)
            continue;
        memset(p, 0, sizeof *p);
        snprintf(p->type, sizeof p->type, "%s", t);
        p->kind = profile_types[i].kind;
        p->platform = profile_types[i].platform;
        str_of(o, "id", p->id, sizeof p->id);
        str_of(o, "displayName", p->name, sizeof p->name);
        str_of(o, "intendedPurpose", p->purpose, sizeof p->purpose);
        const char *root = json_string_value(json_object_get(o, "trustedRootCertificate"));
        ssync_buf der = {0};
        if (root && ssync_base64_decode(root, strlen(root), &der, NULL) == SSYNC_OK) {
            p->root_der = der.data;
            p->root_len = der.len;
        }
        /* the id goes into a URL path: GUID characters only */
        return p->id[0] && strspn(p->id, "0123456789abcdefABCDEF-") == strlen(p->id);
    }
    return 0;
}

static void targets_from_json(json_t *arr, ssync_intune_profile *p)
{
    p->targets = calloc(json_array_size(arr) + 1, sizeof *p->targets);
    if (!p->targets)
        return;
    json_t *a;
    size_t i;
    json_array_foreach(arr, i, a)
    {
        json_t *target = json_object_get(a, "target");
        const char *t = json_string_value(json_object_get(target, "@odata.type"));
        ssync_intune_target *x = &p->targets[p->ntargets++];
        x->kind = SSYNC_TARGET_OTHER;
        if (t && !strcmp(t, ODATA_PREFIX "groupAssignmentTarget"))
            x->kind = SSYNC_TARGET_GROUP;
        else if (t && !strcmp(t, ODATA_PREFIX "exclusionGroupAssignmentTarget"))
            x->kind = SSYNC_TARGET_EXCLUDE;
        else if (t && (!strcmp(t, ODATA_PREFIX "allLicensedUsersAssignmentTarget") ||
                       !strcmp(t, ODATA_PREFIX "allDevicesAssignmentTarget")))
            x->kind = SSYNC_TARGET_ALL_USERS;
        str_of(target, "groupId", x->group_id, sizeof x->group_id);
    }
}

static ssync_code profiles_run(ssync_graph *g, void *arg, ssync_error *err)
{
    ssync_intune_profiles *out = arg;
    json_t *all = NULL;
    ssync_code rc = list_json(g, "/deviceManagement/deviceConfigurations", &all, err);
    size_t n = json_array_size(all);
    if (rc == SSYNC_OK && n) {
        out->v = calloc(n, sizeof *out->v);
        if (!out->v)
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "profiles");
    }
    for (size_t i = 0; rc == SSYNC_OK && i < n; i++) {
        ssync_intune_profile *p = &out->v[out->n];
        if (!profile_from_json(json_array_get(all, i), p))
            continue;
        out->n++;
        char path[160];
        snprintf(path, sizeof path, "/deviceManagement/deviceConfigurations/%s/assignments", p->id);
        json_t *as = NULL;
        rc = list_json(g, path, &as, err);
        if (rc == SSYNC_OK)
            targets_from_json(as, p);
        json_decref(as);
    }
    json_decref(all);
    return rc;
}

ssync_code ssync_intune_list_profiles(ssync_graph *g, ssync_intune_profiles *out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    memset(out, 0, sizeof *out);
    ssync_code rc = in_run(g, err, profiles_run, out);
    if (rc != SSYNC_OK)
        ssync_intune_profiles_free(out);
    return rc;
}

void ssync_intune_profiles_free(ssync_intune_profiles *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].root_der);
        free(p->v[i].targets);
    }
    free(p->v);
    memset(p, 0, sizeof *p);
}

/* ---- connectors ---- */

static ssync_intune_connector *connector_for(ssync_intune_connectors *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (name[0] && strcasecmp(c->v[i].name, name) == 0)
            return &c->v[i];
    ssync_intune_connector *v = realloc(c->v, (c->n + 1) * sizeof *v);
    if (!v)
        return NULL;
    c->v = v;
    memset(&v[c->n], 0, sizeof v[c->n]);
    v[c->n].active = -1;
    snprintf(v[c->n].name, sizeof v[c->n].name, "%s", name);
    return &v[c->n++];
}

static ssync_code connectors_run(ssync_graph *g, void *arg, ssync_error *err)
{
    ssync_intune_connectors *out = arg;
    json_t *ndes = NULL, *details = NULL, *o;
    size_t i;
    ssync_code rc = list_json(g, "/deviceManagement/ndesConnectors", &ndes, err);
    if (rc == SSYNC_OK)
        rc = list_json(g, "/deviceManagement/certificateConnectorDetails", &details, err);
    char name[128];
    json_array_foreach(rc == SSYNC_OK ? ndes : NULL, i, o)
    {
        str_of(o, "machineName", name, sizeof name);
        if (!name[0])
            str_of(o, "displayName", name, sizeof name);
        ssync_intune_connector *c = connector_for(out, name);
        if (!c)
            return ssync_fail(err, SSYNC_ERR_NOMEM, "connectors");
        const char *st = json_string_value(json_object_get(o, "state"));
        c->active = st ? strcmp(st, "active") == 0 : -1;
        str_of(o, "connectorVersion", c->version, sizeof c->version);
        c->last_seen =
            ssync_graph_parse_time(json_string_value(json_object_get(o, "lastConnectionDateTime")));
    }
    json_array_foreach(rc == SSYNC_OK ? details : NULL, i, o)
    {
        str_of(o, "machineName", name, sizeof name);
        if (!name[0])
            str_of(o, "connectorName", name, sizeof name);
        ssync_intune_connector *c = connector_for(out, name);
        if (!c)
            return ssync_fail(err, SSYNC_ERR_NOMEM, "connectors");
        if (!c->version[0])
            str_of(o, "connectorVersion", c->version, sizeof c->version);
        time_t t =
            ssync_graph_parse_time(json_string_value(json_object_get(o, "lastCheckinDateTime")));
        if (t > c->last_seen)
            c->last_seen = t;
    }
    json_decref(ndes);
    json_decref(details);
    return rc;
}

ssync_code ssync_intune_list_connectors(ssync_graph *g, ssync_intune_connectors *out,
                                        ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    memset(out, 0, sizeof *out);
    ssync_code rc = in_run(g, err, connectors_run, out);
    if (rc != SSYNC_OK)
        ssync_intune_connectors_free(out);
    return rc;
}

void ssync_intune_connectors_free(ssync_intune_connectors *c)
{
    if (!c)
        return;
    free(c->v);
    memset(c, 0, sizeof *c);
}

/* ---- Outlook's S/MIME switch ---- */

#define SMIME_KEY "com.microsoft.outlook.Mail.SMIMEEnabled"

static int truthy(json_t *v)
{
    const char *s = json_string_value(v);
    return json_is_true(v) || (s && strcasecmp(s, "true") == 0);
}

/* iOS: settings[].appConfigKey/appConfigKeyValue; Android: payloadJson, base64 of
 * {"kind":...,"managedProperty":[{"key","valueBool"}]} (Graph docs:
 * androidManagedStoreAppConfiguration). */
static int smime_enabled(json_t *cfg)
{
    json_t *s;
    size_t i;
    json_array_foreach(json_object_get(cfg, "settings"), i, s)
    {
        const char *k = json_string_value(json_object_get(s, "appConfigKey"));
        if (k && strcmp(k, SMIME_KEY) == 0 && truthy(json_object_get(s, "appConfigKeyValue")))
            return 1;
    }
    const char *payload = json_string_value(json_object_get(cfg, "payloadJson"));
    ssync_buf raw = {0};
    if (!payload || ssync_base64_decode(payload, strlen(payload), &raw, NULL) != SSYNC_OK)
        return 0;
    json_t *doc = json_loadb((const char *)raw.data, raw.len, 0, NULL);
    ssync_buf_free(&raw);
    int on = 0;
    json_array_foreach(json_object_get(doc, "managedProperty"), i, s)
    {
        const char *k = json_string_value(json_object_get(s, "key"));
        if (k && strcmp(k, SMIME_KEY) == 0 &&
            (truthy(json_object_get(s, "valueBool")) || truthy(json_object_get(s, "valueString"))))
            on = 1;
    }
    json_decref(doc);
    return on;
}

static ssync_code outlook_run(ssync_graph *g, void *arg, ssync_error *err)
{
    size_t *enabled = arg;
    json_t *all = NULL, *o;
    size_t i;
    ssync_code rc = list_json(g, "/deviceAppManagement/mobileAppConfigurations", &all, err);
    json_array_foreach(rc == SSYNC_OK ? all : NULL, i, o) *enabled += (size_t)smime_enabled(o);
    json_decref(all);
    return rc;
}

ssync_code ssync_intune_outlook_smime(ssync_graph *g, size_t *enabled, ssync_error *err)
{
    if (!enabled)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    *enabled = 0;
    return in_run(g, err, outlook_run, enabled);
}

/* ---- devices and certificate states ---- */

static ssync_code devices_run(ssync_graph *g, void *arg, ssync_error *err)
{
    ssync_intune_devices *out = arg;
    json_t *all = NULL, *o;
    size_t i;
    ssync_code rc = list_json(g,
                              "/deviceManagement/managedDevices?$select=id,userPrincipalName,"
                              "deviceName,operatingSystem",
                              &all, err);
    size_t n = json_array_size(all);
    if (rc == SSYNC_OK && n && !(out->v = calloc(n, sizeof *out->v)))
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "devices");
    json_array_foreach(rc == SSYNC_OK ? all : NULL, i, o)
    {
        ssync_intune_device *d = &out->v[out->n++];
        str_of(o, "id", d->id, sizeof d->id);
        str_of(o, "userPrincipalName", d->upn, sizeof d->upn);
        str_of(o, "deviceName", d->name, sizeof d->name);
        d->platform =
            ssync_platform_from_os(json_string_value(json_object_get(o, "operatingSystem")));
    }
    out->cap = out->n;
    json_decref(all);
    return rc;
}

ssync_code ssync_intune_list_devices(ssync_graph *g, ssync_intune_devices *out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    memset(out, 0, sizeof *out);
    ssync_code rc = in_run(g, err, devices_run, out);
    if (rc != SSYNC_OK)
        ssync_intune_devices_free(out);
    return rc;
}

void ssync_intune_devices_free(ssync_intune_devices *d)
{
    if (!d)
        return;
    free(d->v);
    memset(d, 0, sizeof *d);
}

struct states_arg {
    const ssync_intune_profile *p;
    ssync_intune_states *out;
};

static ssync_code states_run(ssync_graph *g, void *arg, ssync_error *err)
{
    struct states_arg *a = arg;
    char path[400];
    snprintf(path, sizeof path,
             "/deviceManagement/deviceConfigurations/%s/microsoft.graph.%s/"
             "managedDeviceCertificateStates?$select=certificateThumbprint,deviceDisplayName,"
             "certificateIssuanceState,certificateErrorCode,lastCertificateStateChangeDateTime",
             a->p->id, a->p->type);
    json_t *all = NULL, *o;
    size_t i;
    ssync_code rc = list_json(g, path, &all, err);
    size_t n = json_array_size(all);
    if (rc == SSYNC_OK && a->out->n + n > a->out->cap) {
        ssync_intune_state *v = realloc(a->out->v, (a->out->n + n) * sizeof *v);
        if (!v)
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "states");
        else {
            a->out->v = v;
            a->out->cap = a->out->n + n;
        }
    }
    json_array_foreach(rc == SSYNC_OK ? all : NULL, i, o)
    {
        ssync_intune_state *s = &a->out->v[a->out->n++];
        memset(s, 0, sizeof *s);
        str_of(o, "certificateThumbprint", s->thumbprint, sizeof s->thumbprint);
        for (char *c = s->thumbprint; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        str_of(o, "deviceDisplayName", s->device, sizeof s->device);
        str_of(o, "certificateIssuanceState", s->state, sizeof s->state);
        s->error_code = (long)json_integer_value(json_object_get(o, "certificateErrorCode"));
        s->changed = ssync_graph_parse_time(
            json_string_value(json_object_get(o, "lastCertificateStateChangeDateTime")));
    }
    json_decref(all);
    return rc;
}

ssync_code ssync_intune_list_states(ssync_graph *g, const ssync_intune_profile *p,
                                    ssync_intune_states *out, ssync_error *err)
{
    if (!p || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no profile or output");
    struct states_arg a = {p, out};
    return in_run(g, err, states_run, &a);
}

void ssync_intune_states_free(ssync_intune_states *s)
{
    if (!s)
        return;
    free(s->v);
    memset(s, 0, sizeof *s);
}
