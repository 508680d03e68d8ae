/* --tenant-config FILE: the Intune side of the tenant as JSON (docs/emulator.md, "Tenant
 * description"): deviceConfigurations (PKCS imported and trusted certificate profiles, each with
 * its assignments), ndesConnectors, certificateConnectorDetails, mobileAppConfigurations,
 * managedDevices, and the switch outlookAllEncryptionCertificates. Types and shapes follow the
 * Graph beta docs (iosImportedPFXCertificateProfile, deviceConfigurationAssignment,
 * ndesConnector, certificateConnectorDetails, managedDevice); bad input is refused with one
 * line naming the item. */
#include "emu.h"
#include "common/uuid.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct profile_type {
    const char *type; /* without "#microsoft.graph." */
    emu_profile_kind kind;
    const char *os; /* managedDevice operatingSystem */
} profile_type;

/* memdocs certificates-imported-pfx-configure.md and the Graph beta resource list: there is no
 * androidWorkProfileImportedPFXCertificateProfile */
static const profile_type types[] = {
    {"iosImportedPFXCertificateProfile", EMU_PROFILE_PFX, "iOS"},
    {"macOSImportedPFXCertificateProfile", EMU_PROFILE_PFX, "macOS"},
    {"windows10ImportedPFXCertificateProfile", EMU_PROFILE_PFX, "Windows"},
    {"androidDeviceOwnerImportedPFXCertificateProfile", EMU_PROFILE_PFX, "Android"},
    {"androidForWorkImportedPFXCertificateProfile", EMU_PROFILE_PFX, "Android"},
    {"androidImportedPFXCertificateProfile", EMU_PROFILE_PFX, "Android"},
    {"iosTrustedRootCertificate", EMU_PROFILE_ROOT, "iOS"},
    {"macOSTrustedRootCertificate", EMU_PROFILE_ROOT, "macOS"},
    {"windows81TrustedRootCertificate", EMU_PROFILE_ROOT, "Windows"},
    {"androidForWorkTrustedRootCertificate", EMU_PROFILE_ROOT, "Android"},
    {"androidWorkProfileTrustedRootCertificate", EMU_PROFILE_ROOT, "Android"},
    {"androidDeviceOwnerTrustedRootCertificate", EMU_PROFILE_ROOT, "Android"},
    {"androidTrustedRootCertificate", EMU_PROFILE_ROOT, "Android"},
};

static const profile_type *type_of(const json_t *profile)
{
    const char *t = json_string_value(json_object_get(profile, "@odata.type"));
    static const char prefix[] = "#microsoft.graph.";
    if (!t || strncmp(t, prefix, sizeof prefix - 1) != 0)
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t + sizeof prefix - 1, types[i].type) == 0)
            return &types[i];
    return NULL;
}

emu_profile_kind emu_profile_kind_of(const json_t *profile)
{
    const profile_type *t = type_of(profile);
    return t ? t->kind : EMU_PROFILE_OTHER;
}

const char *emu_profile_os(const json_t *profile)
{
    const profile_type *t = type_of(profile);
    return t ? t->os : NULL;
}

int emu_profile_assigned(const emu_ctx *ctx, const json_t *profile, size_t u)
{
    json_t *a;
    size_t i;
    int in = 0;
    json_array_foreach(json_object_get(profile, "assignments"), i, a)
    {
        json_t *target = json_object_get(a, "target");
        const char *t = json_string_value(json_object_get(target, "@odata.type"));
        const char *gid = json_string_value(json_object_get(target, "groupId"));
        if (!t)
            continue;
        /* an exclusion wins over any inclusion (memdocs: Include and exclude app assignments /
         * "Exclude groups from a policy assignment") */
        if (strcmp(t, "#microsoft.graph.exclusionGroupAssignmentTarget") == 0 &&
            emu_group_has_user(ctx, gid, u))
            return 0;
        if (strcmp(t, "#microsoft.graph.allLicensedUsersAssignmentTarget") == 0 ||
            strcmp(t, "#microsoft.graph.allDevicesAssignmentTarget") == 0)
            in = 1;
        else if (strcmp(t, "#microsoft.graph.groupAssignmentTarget") == 0 &&
                 emu_group_has_user(ctx, gid, u))
            in = 1;
    }
    return in;
}

json_t *emu_tenant_device(const emu_ctx *ctx, const char *id)
{
    json_t *d;
    size_t i;
    json_array_foreach(json_object_get(ctx->tenant, "managedDevices"), i, d)
    {
        const char *did = json_string_value(json_object_get(d, "id"));
        if (did && id && strcasecmp(did, id) == 0)
            return d;
    }
    return NULL;
}

/* ---- loading ---- */

static int bad(ssync_error *err, const char *path, const char *what, size_t i, const char *why)
{
    ssync_fail(err, SSYNC_ERR_CONFIG, "%s: %s[%zu]: %s", path, what, i, why);
    return -1;
}

static int check_assignments(emu_ctx *ctx, const char *path, json_t *p, size_t pi, ssync_error *err)
{
    json_t *as = json_object_get(p, "assignments");
    if (!as) {
        json_object_set_new(p, "assignments", json_array());
        return 0;
    }
    if (!json_is_array(as))
        return bad(err, path, "deviceConfigurations", pi, "assignments must be an array");
    json_t *a;
    size_t i;
    json_array_foreach(as, i, a)
    {
        json_t *target = json_object_get(a, "target");
        const char *t = json_string_value(json_object_get(target, "@odata.type"));
        const char *gid = json_string_value(json_object_get(target, "groupId"));
        int group = t && (strcmp(t, "#microsoft.graph.groupAssignmentTarget") == 0 ||
                          strcmp(t, "#microsoft.graph.exclusionGroupAssignmentTarget") == 0);
        int all = t && (strcmp(t, "#microsoft.graph.allLicensedUsersAssignmentTarget") == 0 ||
                        strcmp(t, "#microsoft.graph.allDevicesAssignmentTarget") == 0);
        if (!group && !all)
            return bad(err, path, "deviceConfigurations", pi,
                       "an assignment's target.@odata.type must be groupAssignmentTarget, "
                       "exclusionGroupAssignmentTarget, allLicensedUsersAssignmentTarget or "
                       "allDevicesAssignmentTarget");
        if (group && (!gid || !ssync_uuid_valid(gid)))
            return bad(err, path, "deviceConfigurations", pi,
                       "a group assignment needs target.groupId (a GUID)");
        int known = 0;
        for (size_t g = 0; group && g < ctx->ngroups; g++)
            known |= strcasecmp(ctx->groups[g].id, gid) == 0;
        if (group && !known)
            return bad(err, path, "deviceConfigurations", pi,
                       "an assignment names a group that is not in --groups");
        if (!json_object_get(a, "id")) {
            char id[160];
            snprintf(id, sizeof id, "%s_%s", json_string_value(json_object_get(p, "id")),
                     group ? gid : "all");
            json_object_set_new(a, "id", json_string(id));
        }
        json_object_set_new(a, "@odata.type",
                            json_string("#microsoft.graph.deviceConfigurationAssignment"));
    }
    return 0;
}

static int check_profiles(emu_ctx *ctx, const char *path, json_t *arr, ssync_error *err)
{
    static const char *const purposes[] = {
        "unassigned", "smimeEncryption", "smimeSigning", "vpn", "wifi", NULL};
    json_t *p;
    size_t i;
    json_array_foreach(arr, i, p)
    {
        const char *id = json_string_value(json_object_get(p, "id"));
        if (!json_is_object(p) || !id || !ssync_uuid_valid(id))
            return bad(err, path, "deviceConfigurations", i, "needs an id (a GUID)");
        if (!json_is_string(json_object_get(p, "@odata.type")))
            return bad(err, path, "deviceConfigurations", i, "needs an @odata.type");
        emu_profile_kind k = emu_profile_kind_of(p);
        if (k == EMU_PROFILE_PFX) {
            const char *ip = json_string_value(json_object_get(p, "intendedPurpose"));
            int ok = 0;
            for (size_t j = 0; ip && purposes[j]; j++)
                ok |= strcmp(ip, purposes[j]) == 0;
            if (!ok)
                return bad(err, path, "deviceConfigurations", i,
                           "an imported PFX profile needs intendedPurpose (unassigned, "
                           "smimeEncryption, smimeSigning, vpn or wifi)");
        }
        if (k == EMU_PROFILE_ROOT && !json_is_string(json_object_get(p, "trustedRootCertificate")))
            return bad(err, path, "deviceConfigurations", i,
                       "a trusted root profile needs trustedRootCertificate (base64 DER)");
        if (!json_object_get(p, "displayName"))
            json_object_set_new(p, "displayName", json_string(id));
        if (check_assignments(ctx, path, p, i, err) != 0)
            return -1;
    }
    return 0;
}

static int check_devices(emu_ctx *ctx, const char *path, json_t *arr, ssync_error *err)
{
    static const char *const os[] = {"iOS", "Android", "Windows", "macOS", NULL};
    json_t *d;
    size_t i;
    json_array_foreach(arr, i, d)
    {
        const char *id = json_string_value(json_object_get(d, "id"));
        const char *upn = json_string_value(json_object_get(d, "userPrincipalName"));
        const char *o = json_string_value(json_object_get(d, "operatingSystem"));
        if (!json_is_object(d) || !id || !ssync_uuid_valid(id))
            return bad(err, path, "managedDevices", i, "needs an id (a GUID)");
        const emu_user *u = upn ? emu_user_by_upn(ctx, upn) : NULL;
        if (!u)
            return bad(err, path, "managedDevices", i,
                       "userPrincipalName must name a user of --users");
        int ok = 0;
        for (size_t j = 0; o && os[j]; j++)
            ok |= strcmp(o, os[j]) == 0;
        if (!ok)
            return bad(err, path, "managedDevices", i,
                       "operatingSystem must be iOS, Android, Windows or macOS");
        json_object_set_new(d, "userId", json_string(u->id));
        if (!json_object_get(d, "deviceName"))
            json_object_set_new(d, "deviceName", json_string(id));
        json_object_set_new(d, "@odata.type", json_string("#microsoft.graph.managedDevice"));
    }
    return 0;
}

static int check_ids(const char *path, const char *what, json_t *arr, ssync_error *err)
{
    json_t *o;
    size_t i;
    json_array_foreach(arr, i, o)
    {
        if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")))
            return bad(err, path, what, i, "needs an id");
    }
    return 0;
}

int emu_tenant_load(emu_ctx *ctx, const char *path, ssync_error *err)
{
    json_error_t je;
    json_t *t = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!t || !json_is_object(t)) {
        ssync_fail(err, SSYNC_ERR_CONFIG, "%s: %s (line %d)", path,
                   t ? "not a JSON object" : je.text, je.line);
        json_decref(t);
        return -1;
    }
    static const char *const arrays[] = {
        "deviceConfigurations",    "ndesConnectors", "certificateConnectorDetails",
        "mobileAppConfigurations", "managedDevices", NULL};
    for (size_t i = 0; arrays[i]; i++) {
        json_t *a = json_object_get(t, arrays[i]);
        if (!a)
            json_object_set_new(t, arrays[i], json_array());
        else if (!json_is_array(a)) {
            ssync_fail(err, SSYNC_ERR_CONFIG, "%s: %s must be an array", path, arrays[i]);
            json_decref(t);
            return -1;
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach(t, key, v)
    {
        int known = strcmp(key, "outlookAllEncryptionCertificates") == 0;
        for (size_t i = 0; arrays[i]; i++)
            known |= strcmp(key, arrays[i]) == 0;
        if (!known) {
            ssync_fail(err, SSYNC_ERR_CONFIG, "%s: unknown member '%.60s'", path, key);
            json_decref(t);
            return -1;
        }
    }
    if (check_profiles(ctx, path, json_object_get(t, "deviceConfigurations"), err) != 0 ||
        check_devices(ctx, path, json_object_get(t, "managedDevices"), err) != 0 ||
        check_ids(path, "ndesConnectors", json_object_get(t, "ndesConnectors"), err) != 0 ||
        check_ids(path, "certificateConnectorDetails",
                  json_object_get(t, "certificateConnectorDetails"), err) != 0 ||
        check_ids(path, "mobileAppConfigurations", json_object_get(t, "mobileAppConfigurations"),
                  err) != 0) {
        json_decref(t);
        return -1;
    }
    ctx->tenant = t;
    return 0;
}
