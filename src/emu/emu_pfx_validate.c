/* userPfxCertificates: what Graph accepts in a record (the properties, the required ones, the
 * enumerations intendedPurpose and paddingScheme) and, with --strict, what the connector and the
 * device would refuse later (Graph docs: userPFXCertificate resource type). */
#include "emu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const emu_pfx_props[] = {"id",
                                     "thumbprint",
                                     "intendedPurpose",
                                     "userPrincipalName",
                                     "startDateTime",
                                     "expirationDateTime",
                                     "providerName",
                                     "keyName",
                                     "paddingScheme",
                                     "encryptedPfxBlob",
                                     "encryptedPfxPassword",
                                     "createdDateTime",
                                     "lastModifiedDateTime",
                                     NULL};

const char *const emu_pfx_required[] = {"thumbprint",
                                        "intendedPurpose",
                                        "userPrincipalName",
                                        "startDateTime",
                                        "expirationDateTime",
                                        "providerName",
                                        "keyName",
                                        "paddingScheme",
                                        "encryptedPfxBlob",
                                        "encryptedPfxPassword",
                                        NULL};

const char *emu_pfx_canonical_prop(const char *name)
{
    for (size_t i = 0; emu_pfx_props[i]; i++)
        if (strcasecmp(emu_pfx_props[i], name) == 0)
            return emu_pfx_props[i];
    return NULL;
}

static int match_enum(const char *v, const char *const *names, const char **canon)
{
    for (size_t i = 0; names[i]; i++) {
        if (strcasecmp(v, names[i]) == 0) {
            *canon = names[i];
            return 1;
        }
    }
    return 0;
}

/* Validates the fields present in `in` and writes normalized values into `out`. With patch,
 * fields are optional. 0, or -1 with resp filled. */
int emu_pfx_validate(emu_ctx *ctx, const emu_req *req, emu_resp *resp, json_t *in, json_t *out,
                     int patch)
{
    const char *key;
    json_t *val;
    json_object_foreach(in, key, val)
    {
        if (strcmp(key, "@odata.type") == 0) {
            const char *t = json_string_value(val);
            if (!t ||
                (strcmp(t, EMU_PFX_ODATA_TYPE) != 0 && strcmp(t, EMU_PFX_ODATA_TYPE + 1) != 0)) {
                emu_graph_error(req, resp, 400, "BadRequest",
                                "A type named '%.80s' could not be resolved by the model.",
                                t ? t : "(not a string)");
                return -1;
            }
            continue;
        }
        const char *c = NULL;
        for (size_t i = 0; emu_pfx_props[i]; i++)
            if (strcmp(emu_pfx_props[i], key) == 0)
                c = emu_pfx_props[i];
        if (!c) {
            /* OData's wording; properties are case-sensitive in request bodies */
            emu_graph_error(req, resp, 400, "BadRequest",
                            "The property '%.80s' does not exist on type "
                            "'microsoft.graph.userPFXCertificate'. Make sure to only use property "
                            "names that are defined by the type or mark the type as open type.",
                            key);
            return -1;
        }
        if (!json_is_string(val) && !json_is_null(val)) {
            emu_graph_error(req, resp, 400, "BadRequest",
                            "Cannot convert the value of property '%s' to the expected type: a "
                            "JSON string is required.",
                            key);
            return -1;
        }
    }
    if (!patch) {
        for (size_t i = 0; emu_pfx_required[i]; i++) {
            const char *v = json_string_value(json_object_get(in, emu_pfx_required[i]));
            if (!v || !*v) {
                emu_intune_error(req, resp, 400, "BadRequest",
                                 "Required property '%s' is missing or empty.",
                                 emu_pfx_required[i]);
                return -1;
            }
        }
    }
    const char *v;
    if ((v = json_string_value(json_object_get(in, "thumbprint")))) {
        size_t n = strlen(v);
        int ok = n == 40;
        for (size_t i = 0; ok && i < n; i++)
            ok = isxdigit((unsigned char)v[i]);
        if (!ok) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "thumbprint '%.80s' is not 40 hexadecimal digits (the SHA-1 of the "
                             "DER certificate).",
                             v);
            return -1;
        }
        char low[41];
        snprintf(low, sizeof(low), "%s", v);
        emu_lower(low);
        json_object_set_new(out, "thumbprint", json_string(low));
    }
    if ((v = json_string_value(json_object_get(in, "intendedPurpose")))) {
        static const char *const ok[] = {"unassigned", "smimeEncryption", "smimeSigning", NULL};
        static const char *const unsupported[] = {"vpn", "wifi", NULL};
        const char *c;
        if (match_enum(v, unsupported, &c)) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "intendedPurpose '%s' is not supported for imported PFX "
                             "certificates; use unassigned, smimeEncryption or smimeSigning.",
                             v);
            return -1;
        }
        if (!match_enum(v, ok, &c)) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "intendedPurpose '%.60s' is not a valid userPfxIntendedPurpose "
                             "(unassigned, smimeEncryption, smimeSigning).",
                             v);
            return -1;
        }
        json_object_set_new(out, "intendedPurpose", json_string(c));
    }
    if ((v = json_string_value(json_object_get(in, "paddingScheme")))) {
        static const char *const ok[] = {"oaepSha256", "oaepSha384", "oaepSha512", NULL};
        static const char *const gone[] = {"none", "pkcs1", "oaepSha1", NULL};
        const char *c;
        if (match_enum(v, gone, &c)) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "paddingScheme '%s' is no longer supported; use oaepSha256, "
                             "oaepSha384 or oaepSha512.",
                             c);
            return -1;
        }
        if (!match_enum(v, ok, &c)) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "paddingScheme '%.60s' is not a valid userPfxPaddingScheme.", v);
            return -1;
        }
        json_object_set_new(out, "paddingScheme", json_string(c));
    }
    static const char *const dates[] = {"startDateTime", "expirationDateTime"};
    for (int i = 0; i < 2; i++) {
        if ((v = json_string_value(json_object_get(in, dates[i])))) {
            time_t t;
            if (emu_parse_datetime(v, &t) != 0) {
                emu_intune_error(req, resp, 400, "BadRequest",
                                 "%s '%.60s' is not an ISO 8601 date and time with offset "
                                 "(e.g. 2025-01-31T12:00:00Z).",
                                 dates[i], v);
                return -1;
            }
            char norm[32];
            emu_fmt_datetime(t, norm);
            json_object_set_new(out, dates[i], json_string(norm));
        }
    }
    static const char *const b64[] = {"encryptedPfxBlob", "encryptedPfxPassword"};
    for (int i = 0; i < 2; i++) {
        if ((v = json_string_value(json_object_get(in, b64[i])))) {
            ssync_buf d;
            if (emu_b64_decode_strict(v, &d) != 0 || d.len == 0) {
                emu_intune_error(req, resp, 400, "BadRequest",
                                 "%s is not valid standard base64 (with padding, no line "
                                 "breaks).",
                                 b64[i]);
                return -1;
            }
            ssync_buf_free(&d);
            json_object_set_new(out, b64[i], json_string(v));
        }
    }
    static const char *const names[] = {"providerName", "keyName"};
    for (int i = 0; i < 2; i++) {
        if ((v = json_string_value(json_object_get(in, names[i])))) {
            if (!*v) {
                emu_intune_error(req, resp, 400, "BadRequest", "%s is empty.", names[i]);
                return -1;
            }
            json_object_set_new(out, names[i], json_string(v));
        }
    }
    if ((v = json_string_value(json_object_get(in, "userPrincipalName")))) {
        if (!emu_user_by_upn(ctx, v)) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "userPrincipalName '%.200s' is not a user of this tenant.", v);
            return -1;
        }
        json_object_set_new(out, "userPrincipalName", json_string(v));
    }
    return 0;
}

/* --strict: what the connector and the device will do later, checked at upload time. */
int emu_pfx_strict_check(emu_ctx *ctx, const emu_req *req, emu_resp *resp, json_t *rec)
{
    char msg[256];
    ssync_buf pw;
    if (emu_connector_decrypt(ctx, json_string_value(json_object_get(rec, "encryptedPfxPassword")),
                              json_string_value(json_object_get(rec, "paddingScheme")), &pw, msg,
                              sizeof(msg)) != 0) {
        emu_intune_error(req, resp, 400, "BadRequest",
                         "(strict) the connector key cannot decrypt encryptedPfxPassword: %s", msg);
        return -1;
    }
    int rc = -1;
    for (size_t i = 0; i < pw.len; i++) {
        if (pw.data[i] < 0x20 || pw.data[i] > 0x7e) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "(strict) the decrypted PFX password is not printable ASCII (the "
                             "connector decodes it as ASCII).");
            goto out;
        }
    }
    ssync_buf blob;
    if (emu_b64_decode_strict(json_string_value(json_object_get(rec, "encryptedPfxBlob")), &blob) !=
        0)
        goto out;
    char thumb[41];
    if (emu_pfx_open(blob.data, blob.len, (const char *)pw.data, thumb, NULL, NULL, msg,
                     sizeof(msg)) != 0) {
        emu_intune_error(req, resp, 400, "BadRequest",
                         "(strict) the PKCS#12 does not open with the decrypted password: %s", msg);
    } else if (strcmp(thumb, json_string_value(json_object_get(rec, "thumbprint"))) != 0) {
        emu_intune_error(req, resp, 400, "BadRequest",
                         "(strict) thumbprint does not match the certificate in the PKCS#12 (%s).",
                         thumb);
    } else {
        rc = 0;
    }
    ssync_buf_free(&blob);
out:
    ssync_buf_free_secret(&pw);
    return rc;
}
