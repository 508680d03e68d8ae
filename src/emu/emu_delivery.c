/* Which records reach a device, and what Intune then reports (docs/emulator.md, "Delivery
 * rules", each with its source):
 *  - only through a PKCS imported certificate profile of the device's platform that is assigned
 *    to the device's user (groups, all users; an exclusion group wins) [memdocs
 *    certificates-imported-pfx-configure.md, "Create a PKCS imported certificate profile"];
 *  - per profile, of the user's records with the profile's intendedPurpose only the one with the
 *    newest startDateTime [same page: "Intune selects the imported certificate that has the most
 *    recent certificate start date and time"];
 *  - unless the tenant sets outlookAllEncryptionCertificates: then every smimeEncryption record
 *    (the Outlook channel, OfficeDocs-Exchange smime-outlook-for-ios-and-android.md: "Delivers any
 *    encryption certificates");
 *  - nothing is processed while no connector is active (the connector re-encrypts the password
 *    to the device, memdocs "How it works");
 *  - each delivered record leaves a managedDeviceCertificateState under its profile: installed,
 *    or installFailed with certificateErrorCode EMU_ERR_RECRYPT when the connector cannot
 *    decrypt the password. */
#include "emu.h"

#include <openssl/bn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int connector_active(const emu_ctx *ctx)
{
    json_t *c;
    size_t i;
    json_t *ndes = json_object_get(ctx->tenant, "ndesConnectors");
    if (json_array_size(ndes) == 0)
        return 1; /* a tenant description without connectors does not model them */
    json_array_foreach(ndes, i, c)
    {
        const char *st = json_string_value(json_object_get(c, "state"));
        if (st && strcmp(st, "active") == 0)
            return 1;
    }
    return 0;
}

/* Adds to out (deep copies, "_profileId" set) the records p delivers from mine. */
static void deliver_through(const emu_ctx *ctx, json_t *p, json_t *mine, json_t *out)
{
    const char *purpose = json_string_value(json_object_get(p, "intendedPurpose"));
    int all = json_is_true(json_object_get(ctx->tenant, "outlookAllEncryptionCertificates")) &&
              purpose && strcmp(purpose, "smimeEncryption") == 0;
    json_t *best = NULL, *rec;
    size_t i;
    json_array_foreach(mine, i, rec)
    {
        const char *ip = json_string_value(json_object_get(rec, "intendedPurpose"));
        if (!ip || !purpose || strcmp(ip, purpose) != 0)
            continue;
        if (all) {
            json_t *c = json_deep_copy(rec);
            json_object_set(c, "_profileId", json_object_get(p, "id"));
            json_array_append_new(out, c);
            continue;
        }
        /* startDateTime is stored normalized (YYYY-MM-DDTHH:MM:SSZ): text order is time order;
         * on a tie the record created first stays */
        const char *s = json_string_value(json_object_get(rec, "startDateTime"));
        const char *b = best ? json_string_value(json_object_get(best, "startDateTime")) : NULL;
        if (!best || (s && (!b || strcmp(s, b) > 0)))
            best = rec;
    }
    if (best) {
        json_t *c = json_deep_copy(best);
        json_object_set(c, "_profileId", json_object_get(p, "id"));
        json_array_append_new(out, c);
    }
}

/* Adds to out what the profiles deliver to dev (of user u) from mine (the user's records). */
static void select_for(const emu_ctx *ctx, json_t *dev, size_t u, json_t *mine, json_t *out)
{
    const char *os = json_string_value(json_object_get(dev, "operatingSystem"));
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(ctx->tenant, "deviceConfigurations"), i, p)
    {
        const char *pos = emu_profile_os(p);
        if (emu_profile_kind_of(p) != EMU_PROFILE_PFX || !pos || !os || strcmp(pos, os) != 0 ||
            !emu_profile_assigned(ctx, p, u))
            continue;
        deliver_through(ctx, p, mine, out);
    }
}

json_t *emu_delivery_select(emu_ctx *ctx, emu_req *req, emu_resp *resp, size_t u,
                            const char *device_id, json_t **device_out)
{
    json_t *dev = emu_tenant_device(ctx, device_id);
    const char *owner = json_string_value(json_object_get(dev, "userPrincipalName"));
    if (!dev || !emu_strcaseeq(owner, ctx->users[u].upn)) {
        emu_graph_error(req, resp, 404, "ResourceNotFound",
                        "No managed device '%.60s' of %.200s in the tenant description.", device_id,
                        ctx->users[u].upn);
        return NULL;
    }
    *device_out = dev;
    json_t *out = json_array();
    if (!connector_active(ctx))
        return out;
    json_t *mine = json_array(), *rec;
    pthread_mutex_lock(&ctx->lock);
    uint64_t seq = 0;
    while ((rec = emu_store_next(ctx->store, seq, &seq)) != NULL)
        if (emu_strcaseeq(json_string_value(json_object_get(rec, "userPrincipalName")),
                          ctx->users[u].upn))
            json_array_append(mine, rec);
    pthread_mutex_unlock(&ctx->lock);
    select_for(ctx, dev, u, mine, out);
    json_decref(mine);
    return out;
}

static int by_record_upn(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "userPrincipalName"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "userPrincipalName"));
    return strcasecmp(x ? x : "", y ? y : "");
}

size_t emu_delivery_all(emu_ctx *ctx)
{
    json_t *devices = json_object_get(ctx->tenant, "managedDevices");
    pthread_mutex_lock(&ctx->lock);
    size_t n = emu_store_count(ctx->store), k = 0;
    json_t **recs = calloc(n + 1, sizeof *recs), *rec;
    uint64_t seq = 0;
    while (recs && k < n && (rec = emu_store_next(ctx->store, seq, &seq)) != NULL)
        recs[k++] = json_incref(rec);
    json_decref(ctx->cert_states);
    ctx->cert_states = json_array();
    pthread_mutex_unlock(&ctx->lock);
    if (!recs)
        return 0;
    /* the records by user once, so that every device finds its user's in O(log n) */
    qsort(recs, k, sizeof *recs, by_record_upn);
    size_t delivered = 0;
    json_t *dev;
    size_t i;
    json_array_foreach(connector_active(ctx) ? devices : NULL, i, dev)
    {
        const emu_user *user =
            emu_user_by_upn(ctx, json_string_value(json_object_get(dev, "userPrincipalName")));
        if (!user)
            continue;
        json_t *probe = json_pack("{s:s}", "userPrincipalName", user->upn);
        size_t lo = 0, hi = k;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (by_record_upn(&recs[mid], &probe) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        json_t *mine = json_array(), *out = json_array();
        for (size_t r = lo; r < k && by_record_upn(&recs[r], &probe) == 0; r++)
            json_array_append(mine, recs[r]);
        json_decref(probe);
        select_for(ctx, dev, (size_t)(user - ctx->users), mine, out);
        json_t *o;
        size_t j;
        json_array_foreach(out, j, o)
        {
            emu_delivery_record(ctx, dev, user, o, NULL, 0);
            delivered++;
        }
        json_decref(mine);
        json_decref(out);
    }
    for (size_t r = 0; r < k; r++)
        json_decref(recs[r]);
    free(recs);
    return delivered;
}

/* The devicePlatformType of a managedDevice's operatingSystem. */
static const char *platform_of(const char *os)
{
    if (!os)
        return "unknown";
    if (strcmp(os, "iOS") == 0)
        return "iOS";
    if (strcmp(os, "macOS") == 0)
        return "macOS";
    if (strcmp(os, "Windows") == 0)
        return "windows10AndLater";
    if (strcmp(os, "Android") == 0)
        return "androidForWork";
    return "unknown";
}

void emu_delivery_forget(emu_ctx *ctx, const char *device_id)
{
    pthread_mutex_lock(&ctx->lock);
    size_t i = 0;
    while (i < json_array_size(ctx->cert_states)) {
        json_t *s = json_array_get(ctx->cert_states, i);
        if (emu_strcaseeq(json_string_value(json_object_get(s, "_deviceId")), device_id))
            json_array_remove(ctx->cert_states, i);
        else
            i++;
    }
    pthread_mutex_unlock(&ctx->lock);
}

void emu_delivery_record(emu_ctx *ctx, const json_t *device, const emu_user *user,
                         const json_t *rec, X509 *cert, long error_code)
{
    const char *did = json_string_value(json_object_get(device, "id"));
    const char *pid = json_string_value(json_object_get(rec, "_profileId"));
    const char *thumb = json_string_value(json_object_get(rec, "thumbprint"));
    char now[32], id[160], serial[130] = "";
    emu_fmt_datetime(time(NULL), now);
    snprintf(id, sizeof id, "%s_%s_%s", pid ? pid : "", did ? did : "", thumb ? thumb : "");
    if (cert) {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        if (hex)
            snprintf(serial, sizeof serial, "%s", hex);
        OPENSSL_free(hex);
        BN_free(bn);
    }
    json_t *s = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:O?, s:s, s:s, s:I, s:s?, s:s?}",
        "@odata.type", "#microsoft.graph.managedDeviceCertificateState", "id", id, "devicePlatform",
        platform_of(json_string_value(json_object_get(device, "operatingSystem"))),
        "certificateIssuanceState", error_code ? "installFailed" : "installed", "deviceDisplayName",
        json_string_value(json_object_get(device, "deviceName")), "userDisplayName",
        user->display_name, "certificateThumbprint", thumb, "certificateSerialNumber", serial,
        "certificateExpirationDateTime", json_object_get(rec, "expirationDateTime"),
        "lastCertificateStateChangeDateTime", now, "certificateLastIssuanceStateChangedDateTime",
        now, "certificateErrorCode", (json_int_t)error_code, "_profileId", pid, "_deviceId", did);
    if (!s)
        return;
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->cert_states)
        ctx->cert_states = json_array();
    json_array_append_new(ctx->cert_states, s);
    pthread_mutex_unlock(&ctx->lock);
}
