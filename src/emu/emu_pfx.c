/* beta/deviceManagement/userPfxCertificates (reference graph-and-entra 3, intune-pfx-import 2):
 * list with $filter/$top/$select/$count and nextLink paging, create, get, update, delete in the
 * three key forms /{id}, ('{id}') and ({id}). */
#include "emu.h"

#include <ctype.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const PROPS[] = {"id",
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

static const char *const REQUIRED[] = {"thumbprint",
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

#define ODATA_TYPE "#microsoft.graph.userPFXCertificate"

static const char *canonical_prop(const char *name)
{
    for (size_t i = 0; PROPS[i]; i++)
        if (strcasecmp(PROPS[i], name) == 0)
            return PROPS[i];
    return NULL;
}

static int forbidden(const emu_req *req, emu_resp *resp, const emu_principal *who, int write)
{
    if (emu_principal_has_role(who, EMU_ROLE_RW) ||
        (!write && emu_principal_has_role(who, EMU_ROLE_R)))
        return 0;
    if (!json_object_get(who->claims, "roles"))
        emu_intune_error(req, resp, 403, "Forbidden",
                         "Application is not authorized to perform this operation as called in "
                         "app only context but does not have application permissions configured.");
    else
        emu_intune_error(req, resp, 403, "Forbidden",
                         "Application is not authorized to perform this operation. Application "
                         "must have one of the following scopes: %s",
                         write ? EMU_ROLE_RW : EMU_ROLE_R ", " EMU_ROLE_RW);
    return -1;
}

/* The record as GET shows it: blob and password blanked like the real service ("AA==" and "",
 * PFXImport README "Notes"). sel: NULL or a JSON array of selected property names. */
static json_t *public_view(json_t *rec, json_t *sel)
{
    json_t *out = json_object();
    json_object_set_new(out, "@odata.type", json_string(ODATA_TYPE));
    for (size_t i = 0; PROPS[i]; i++) {
        const char *p = PROPS[i];
        if (sel) {
            int want = 0;
            size_t k;
            json_t *v;
            json_array_foreach(sel, k, v)
            {
                if (strcmp(json_string_value(v), p) == 0)
                    want = 1;
            }
            if (!want)
                continue;
        }
        if (strcmp(p, "encryptedPfxBlob") == 0)
            json_object_set_new(out, p, json_string("AA=="));
        else if (strcmp(p, "encryptedPfxPassword") == 0)
            json_object_set_new(out, p, json_string(""));
        else if (json_object_get(rec, p))
            json_object_set_new(out, p, json_copy(json_object_get(rec, p)));
        else
            json_object_set_new(out, p, json_null());
    }
    return out;
}

/* Intune trims blanks around each name. */
static const emu_select_spec SELECT = {canonical_prop, "microsoft.graph.userPFXCertificate",
                                       "BadRequest", 1};

static int check_leaf(emu_filter *leaf, void *arg)
{
    char *msg = arg;
    const char *c = canonical_prop(leaf->prop);
    if (leaf->op != EMU_F_EQ) {
        snprintf(msg, 256, "only 'eq' comparisons joined by 'and' are supported");
        return -1;
    }
    if (!c || !(strcmp(c, "userPrincipalName") == 0 || strcmp(c, "thumbprint") == 0 ||
                strcmp(c, "id") == 0 || strcmp(c, "intendedPurpose") == 0 ||
                strcmp(c, "paddingScheme") == 0)) {
        snprintf(msg, 256, "filtering on '%.60s' is not supported", leaf->prop);
        return -1;
    }
    free(leaf->prop);
    leaf->prop = strdup(c);
    return leaf->prop ? 0 : -1;
}

static void list(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version)
{
    static const char *const allowed[] = {"$filter",    "$top",   "$select",
                                          "$skiptoken", "$count", NULL};
    if (emu_query_check(req, resp, version, allowed, 1) != 0)
        return;
    emu_filter *filter = NULL;
    json_t *sel = NULL;
    char selctx[512];
    const char *ftext = emu_query_opt(req, "$filter", version);
    if (ftext) {
        char msg[256];
        filter = emu_filter_parse(ftext, msg, sizeof(msg));
        if (filter && emu_filter_walk(filter, check_leaf, msg) != 0) {
            emu_filter_free(filter);
            filter = NULL;
        }
        if (!filter) {
            emu_intune_error(req, resp, 400, "BadRequest", "Invalid $filter '%.200s': %s", ftext,
                             msg);
            return;
        }
    }
    if (emu_parse_select(req, resp, emu_query_opt(req, "$select", version), &SELECT, &sel, selctx,
                         sizeof(selctx)) != 0) {
        emu_filter_free(filter);
        return;
    }
    unsigned page = ctx->page_size;
    const char *top = emu_query_opt(req, "$top", version);
    if (top) {
        char *end;
        unsigned long t = strtoul(top, &end, 10);
        if (!*top || *end || t < 1 || t > 999 || !isdigit((unsigned char)top[0])) {
            emu_graph_error(req, resp, 400, "BadRequest",
                            "Invalid value '%.40s' for $top: an integer from 1 to 999 is "
                            "expected.",
                            top);
            goto out;
        }
        if (t < page)
            page = (unsigned)t;
    }
    uint64_t after = 0;
    const char *skip = emu_query_opt(req, "$skiptoken", version);
    if (skip) {
        char *end;
        if (strncmp(skip, "emu1.", 5) != 0 || !isdigit((unsigned char)skip[5])) {
            emu_graph_error(req, resp, 400, "BadRequest", "The skip token is not valid.");
            goto out;
        }
        after = strtoull(skip + 5, &end, 10);
        if (*end) {
            emu_graph_error(req, resp, 400, "BadRequest", "The skip token is not valid.");
            goto out;
        }
    }
    const char *count = emu_query_opt(req, "$count", version);
    int want_count = count && strcasecmp(count, "true") == 0;
    if (count && !want_count && strcasecmp(count, "false") != 0) {
        emu_graph_error(req, resp, 400, "BadRequest", "Invalid value '%.40s' for $count.", count);
        goto out;
    }

    json_t *value = json_array();
    uint64_t seq = after, last = after;
    int more = 0;
    long total = 0;
    pthread_mutex_lock(&ctx->lock);
    json_t *rec;
    unsigned got = 0;
    while ((rec = emu_store_next(ctx->store, seq, &seq)) != NULL) {
        if (filter && !emu_filter_eval(filter, rec, 0))
            continue;
        if (got == page) {
            more = 1;
            break;
        }
        json_array_append_new(value, public_view(rec, sel));
        got++;
        last = seq;
    }
    if (want_count && !skip) {
        uint64_t s2 = 0;
        while ((rec = emu_store_next(ctx->store, s2, &s2)) != NULL)
            if (!filter || emu_filter_eval(filter, rec, 0))
                total++;
    }
    pthread_mutex_unlock(&ctx->lock);

    char context[1024];
    snprintf(context, sizeof(context), "%s/%s/$metadata#deviceManagement/userPfxCertificates%s%s%s",
             ctx->base_url, version, sel ? "(" : "", sel ? selctx : "", sel ? ")" : "");
    char token[40];
    snprintf(token, sizeof(token), "emu1.%" PRIu64, last);
    emu_respond_page(ctx, req, resp, context, want_count && !skip ? (long long)total : -1, value,
                     more ? token : NULL);
out:
    emu_filter_free(filter);
    json_decref(sel);
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
static int validate(emu_ctx *ctx, const emu_req *req, emu_resp *resp, json_t *in, json_t *out,
                    int patch)
{
    const char *key;
    json_t *val;
    json_object_foreach(in, key, val)
    {
        if (strcmp(key, "@odata.type") == 0) {
            const char *t = json_string_value(val);
            if (!t || (strcmp(t, ODATA_TYPE) != 0 && strcmp(t, ODATA_TYPE + 1) != 0)) {
                emu_graph_error(req, resp, 400, "BadRequest",
                                "A type named '%.80s' could not be resolved by the model.",
                                t ? t : "(not a string)");
                return -1;
            }
            continue;
        }
        const char *c = NULL;
        for (size_t i = 0; PROPS[i]; i++)
            if (strcmp(PROPS[i], key) == 0)
                c = PROPS[i];
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
        for (size_t i = 0; REQUIRED[i]; i++) {
            const char *v = json_string_value(json_object_get(in, REQUIRED[i]));
            if (!v || !*v) {
                emu_intune_error(req, resp, 400, "BadRequest",
                                 "Required property '%s' is missing or empty.", REQUIRED[i]);
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
static int strict_check(emu_ctx *ctx, const emu_req *req, emu_resp *resp, json_t *rec)
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

static void entity_response(emu_ctx *ctx, emu_req *req, emu_resp *resp, int status, json_t *rec,
                            json_t *sel, const char *selctx)
{
    char context[1024];
    snprintf(context, sizeof(context),
             "%s/beta/$metadata#deviceManagement/userPfxCertificates%s%s%s/$entity", ctx->base_url,
             sel ? "(" : "", sel ? selctx : "", sel ? ")" : "");
    json_t *view = public_view(rec, sel);
    json_t *body = json_pack("{s:s}", "@odata.context", context);
    json_object_update(body, view);
    json_decref(view);
    emu_resp_json(resp, status, body);
}

static void create(emu_ctx *ctx, emu_req *req, emu_resp *resp)
{
    json_t *in = emu_body_object(req, resp);
    if (!in)
        return;
    json_t *rec = json_object();
    if (validate(ctx, req, resp, in, rec, 0) != 0)
        goto out;
    const emu_user *u =
        emu_user_by_upn(ctx, json_string_value(json_object_get(rec, "userPrincipalName")));
    char id[128];
    size_t n = 0;
    for (const char *p = u->id; *p && n < 32; p++)
        if (*p != '-')
            id[n++] = (char)tolower((unsigned char)*p);
    snprintf(id + n, sizeof(id) - n, "-%s", json_string_value(json_object_get(rec, "thumbprint")));
    if (ctx->strict && strict_check(ctx, req, resp, rec) != 0)
        goto out;
    char now[40];
    emu_fmt_datetime_frac(emu_now(), now);
    json_t *full = json_pack("{s:s}", "id", id);
    for (size_t i = 0; REQUIRED[i]; i++)
        json_object_set(full, REQUIRED[i], json_object_get(rec, REQUIRED[i]));
    json_object_set_new(full, "createdDateTime", json_string(now));
    json_object_set_new(full, "lastModifiedDateTime", json_string(now));
    json_t *copy = json_deep_copy(full);
    pthread_mutex_lock(&ctx->lock);
    int rc = emu_store_put(ctx->store, id, full);
    pthread_mutex_unlock(&ctx->lock);
    if (rc == -1) {
        /* undocumented in the real service; 409 as the reference suggests (3.4, 6.5) */
        emu_intune_error(req, resp, 409, "Conflict",
                         "A userPfxCertificate with id '%s' already exists; PATCH it or DELETE it "
                         "first.",
                         id);
    } else if (rc != 0) {
        emu_graph_error(req, resp, 500, "InternalServerError", "Out of memory.");
    } else {
        entity_response(ctx, req, resp, 201, copy, NULL, NULL);
        char loc[512];
        snprintf(loc, sizeof(loc), "%s/beta/deviceManagement/userPfxCertificates('%s')",
                 ctx->base_url, id);
        emu_resp_header(resp, "Location", loc);
    }
    json_decref(copy);
out:
    json_decref(rec);
    json_decref(in);
}

static void update(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *id)
{
    json_t *in = emu_body_object(req, resp);
    if (!in)
        return;
    json_t *changes = json_object();
    if (validate(ctx, req, resp, in, changes, 1) != 0)
        goto out;
    pthread_mutex_lock(&ctx->lock);
    json_t *cur = emu_store_get(ctx->store, id);
    json_t *merged = cur ? json_deep_copy(cur) : NULL;
    pthread_mutex_unlock(&ctx->lock);
    if (!merged) {
        emu_intune_error(req, resp, 404, "ResourceNotFound",
                         "No userPfxCertificate with id '%.120s'.", id);
        goto out;
    }
    /* the key properties cannot change */
    static const char *const keys[] = {"thumbprint", "userPrincipalName"};
    for (int i = 0; i < 2; i++) {
        const char *nv = json_string_value(json_object_get(changes, keys[i]));
        if (nv && !emu_strcaseeq(nv, json_string_value(json_object_get(merged, keys[i])))) {
            emu_intune_error(req, resp, 400, "BadRequest",
                             "%s cannot be changed by PATCH (it is part of the id).", keys[i]);
            json_decref(merged);
            goto out;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(changes, k, v)
    {
        if (strcmp(k, "thumbprint") != 0 && strcmp(k, "userPrincipalName") != 0)
            json_object_set(merged, k, v);
    }
    if (ctx->strict && strict_check(ctx, req, resp, merged) != 0) {
        json_decref(merged);
        goto out;
    }
    char now[40];
    emu_fmt_datetime_frac(emu_now(), now);
    json_object_set_new(merged, "lastModifiedDateTime", json_string(now));
    json_t *copy = json_deep_copy(merged);
    pthread_mutex_lock(&ctx->lock);
    int rc = -1;
    if (emu_store_get(ctx->store, id)) {
        /* replace in place keeps the creation order: delete+put would move it to the end */
        json_t *live = emu_store_get(ctx->store, id);
        json_object_update(live, merged);
        rc = 0;
    }
    pthread_mutex_unlock(&ctx->lock);
    json_decref(merged);
    if (rc != 0)
        emu_intune_error(req, resp, 404, "ResourceNotFound",
                         "No userPfxCertificate with id '%.120s'.", id);
    else
        entity_response(ctx, req, resp, 200, copy, NULL, NULL);
    json_decref(copy);
out:
    json_decref(changes);
    json_decref(in);
}

/* rest after ".../userPfxCertificates": "", "/{id}", "('{id}')", "({id})". */
static int parse_key(const char *rest, char *key, size_t len)
{
    const char *s;
    size_t n;
    if (rest[0] == '/') {
        s = rest + 1;
        n = strlen(s);
        if (n && s[n - 1] == '/')
            n--; /* a trailing slash is harmless */
    } else if (rest[0] == '(' && rest[1] == '\'') {
        s = rest + 2;
        n = strlen(s);
        if (n < 2 || s[n - 1] != ')' || s[n - 2] != '\'')
            return -1;
        n -= 2;
    } else if (rest[0] == '(') {
        s = rest + 1;
        n = strlen(s);
        if (n < 1 || s[n - 1] != ')')
            return -1;
        n -= 1;
    } else {
        return -1;
    }
    if (n == 0 || n >= len || memchr(s, '/', n))
        return -1;
    memcpy(key, s, n);
    key[n] = '\0';
    emu_lower(key); /* ids are lowercase hex; keys match case-insensitively */
    return 0;
}

void emu_pfx_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                   const char *version, const char *rest)
{
    const char *m = req->method;
    int write = strcmp(m, "GET") != 0;
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        if (strcmp(m, "GET") != 0 && strcmp(m, "POST") != 0) {
            emu_graph_error(req, resp, 405, "MethodNotAllowed",
                            "The requested resource does not support http method '%s'.", m);
            emu_resp_header(resp, "Allow", "GET, POST");
            return;
        }
        if (forbidden(req, resp, who, write) != 0)
            return;
        if (write)
            create(ctx, req, resp);
        else
            list(ctx, req, resp, version);
        return;
    }
    char key[200];
    if (parse_key(rest, key, sizeof(key)) != 0) {
        emu_graph_error(req, resp, 404, "ResourceNotFound",
                        "Resource not found for the segment '%.100s'.", rest + 1);
        return;
    }
    if (strcmp(m, "GET") != 0 && strcmp(m, "PATCH") != 0 && strcmp(m, "DELETE") != 0) {
        emu_graph_error(req, resp, 405, "MethodNotAllowed",
                        "The requested resource does not support http method '%s'.", m);
        emu_resp_header(resp, "Allow", "GET, PATCH, DELETE");
        return;
    }
    if (forbidden(req, resp, who, write) != 0)
        return;
    if (strcmp(m, "PATCH") == 0) {
        update(ctx, req, resp, key);
        return;
    }
    if (strcmp(m, "DELETE") == 0) {
        pthread_mutex_lock(&ctx->lock);
        int rc = emu_store_delete(ctx->store, key);
        pthread_mutex_unlock(&ctx->lock);
        if (rc != 0)
            emu_intune_error(req, resp, 404, "ResourceNotFound",
                             "No userPfxCertificate with id '%.120s'.", key);
        else
            resp->status = 204;
        return;
    }
    static const char *const allowed[] = {"$select", NULL};
    if (emu_query_check(req, resp, version, allowed, 1) != 0)
        return;
    json_t *sel = NULL;
    char selctx[512];
    if (emu_parse_select(req, resp, emu_query_opt(req, "$select", version), &SELECT, &sel, selctx,
                         sizeof(selctx)) != 0)
        return;
    pthread_mutex_lock(&ctx->lock);
    json_t *rec = emu_store_get(ctx->store, key);
    json_t *copy = rec ? json_deep_copy(rec) : NULL;
    pthread_mutex_unlock(&ctx->lock);
    if (!copy)
        emu_intune_error(req, resp, 404, "ResourceNotFound",
                         "No userPfxCertificate with id '%.120s'.", key);
    else
        entity_response(ctx, req, resp, 200, copy, sel, selctx);
    json_decref(copy);
    json_decref(sel);
}
