/* beta/deviceManagement/userPfxCertificates (Graph docs: userPFXCertificate, "Import PFX
 * certificates to Intune"):
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
    json_object_set_new(out, "@odata.type", json_string(EMU_PFX_ODATA_TYPE));
    for (size_t i = 0; emu_pfx_props[i]; i++) {
        const char *p = emu_pfx_props[i];
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
static const emu_select_spec SELECT = {emu_pfx_canonical_prop, "microsoft.graph.userPFXCertificate",
                                       "BadRequest", 1};

static int check_leaf(emu_filter *leaf, void *arg)
{
    char *msg = arg;
    const char *c = emu_pfx_canonical_prop(leaf->prop);
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
    if (emu_pfx_validate(ctx, req, resp, in, rec, 0) != 0)
        goto out;
    const emu_user *u =
        emu_user_by_upn(ctx, json_string_value(json_object_get(rec, "userPrincipalName")));
    char id[128];
    size_t n = 0;
    for (const char *p = u->id; *p && n < 32; p++)
        if (*p != '-')
            id[n++] = (char)tolower((unsigned char)*p);
    snprintf(id + n, sizeof(id) - n, "-%s", json_string_value(json_object_get(rec, "thumbprint")));
    if (ctx->strict && emu_pfx_strict_check(ctx, req, resp, rec) != 0)
        goto out;
    char now[40];
    emu_fmt_datetime_frac(emu_now(), now);
    json_t *full = json_pack("{s:s}", "id", id);
    for (size_t i = 0; emu_pfx_required[i]; i++)
        json_object_set(full, emu_pfx_required[i], json_object_get(rec, emu_pfx_required[i]));
    json_object_set_new(full, "createdDateTime", json_string(now));
    json_object_set_new(full, "lastModifiedDateTime", json_string(now));
    json_t *copy = json_deep_copy(full);
    pthread_mutex_lock(&ctx->lock);
    int rc = emu_store_put(ctx->store, id, full);
    pthread_mutex_unlock(&ctx->lock);
    if (rc == -1) {
        /* undocumented in the real service: 409 is the emulator's choice (docs/emulator.md) */
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
    if (emu_pfx_validate(ctx, req, resp, in, changes, 1) != 0)
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
    if (ctx->strict && emu_pfx_strict_check(ctx, req, resp, merged) != 0) {
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
