/* OData plumbing shared by the collections: query options, nextLink, JSON request bodies
 * (Graph docs: Paging, Use query parameters). */
#include "emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

const char *emu_query_opt(const emu_req *req, const char *name, const char *version)
{
    const char *v = emu_kv_get(&req->query, name);
    if (!v && name[0] == '$' && strcmp(version, "beta") == 0)
        v = emu_kv_get(&req->query, name + 1); /* beta: the '$' prefix is optional */
    return v;
}

int emu_query_check(const emu_req *req, emu_resp *resp, const char *version,
                    const char *const *allowed, int intune)
{
    for (size_t i = 0; i < req->query.n; i++) {
        const char *k = req->query.items[i].key;
        int dollar = k[0] == '$';
        int known = 0, is_option = dollar;
        for (size_t a = 0; allowed[a]; a++) {
            if (strcasecmp(k, allowed[a]) == 0 ||
                (!dollar && strcmp(version, "beta") == 0 && strcasecmp(k, allowed[a] + 1) == 0)) {
                known = 1;
                is_option = 1;
            }
        }
        if (!is_option)
            continue; /* plain parameters are ignored, as by Graph */
        if (!known) {
            if (intune)
                emu_intune_error(req, resp, 400, "BadRequest",
                                 "The query parameter '%.60s' is not supported.", k);
            else
                emu_graph_error(req, resp, 400, "BadRequest",
                                "The query parameter '%.60s' is not supported.", k);
            return -1;
        }
        /* each option at most once */
        size_t same = 0;
        for (size_t j = 0; j < req->query.n; j++)
            same += strcasecmp(req->query.items[j].key, k) == 0;
        if (same > 1) {
            emu_graph_error(req, resp, 400, "BadRequest",
                            "Query option '%.60s' was specified more than once, but it must be "
                            "specified at most once.",
                            k);
            return -1;
        }
    }
    return 0;
}

int emu_parse_select(const emu_req *req, emu_resp *resp, const char *text,
                     const emu_select_spec *spec, json_t **out, char *ctxsel, size_t ctxlen)
{
    *out = NULL;
    ctxsel[0] = '\0';
    if (!text)
        return 0;
    json_t *arr = json_array();
    char *copy = strdup(text);
    char *save = NULL;
    size_t used = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        if (spec->trim_trailing) {
            size_t l = strlen(t);
            while (l && t[l - 1] == ' ')
                t[--l] = '\0';
        }
        const char *c = spec->prop(t);
        if (!c) {
            emu_graph_error(req, resp, 400, spec->code,
                            "Could not find a property named '%.60s' on type '%s'.", t, spec->type);
            free(copy);
            json_decref(arr);
            return -1;
        }
        json_array_append_new(arr, json_string(c));
        used += (size_t)snprintf(ctxsel + used, used < ctxlen ? ctxlen - used : 0, "%s%s",
                                 used ? "," : "", c);
    }
    free(copy);
    *out = arr;
    return 0;
}

int emu_skiptoken_offset(const char *skip, size_t *start)
{
    char *end = NULL;
    if (strncmp(skip, "emu1.", 5) != 0 || !isdigit((unsigned char)skip[5]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(skip + 5, &end, 10);
    if (*end || errno)
        return -1;
    *start = (size_t)v;
    return 0;
}

char *emu_next_link(const emu_ctx *ctx, const emu_req *req, const char *skiptoken)
{
    size_t cap = strlen(ctx->base_url) + strlen(req->path) + 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    len = (size_t)snprintf(out, cap, "%s%s", ctx->base_url, req->path);
    char sep = '?';
    for (size_t i = 0; i <= req->query.n; i++) {
        const char *k, *v;
        char *ev;
        if (i < req->query.n) {
            k = req->query.items[i].key;
            v = req->query.items[i].value;
            if (strcasecmp(k, "$skiptoken") == 0 || strcasecmp(k, "skiptoken") == 0)
                continue;
        } else {
            k = "$skiptoken";
            v = skiptoken;
        }
        char *ek = emu_url_encode(k);
        ev = emu_url_encode(v);
        if (!ek || !ev) {
            free(ek);
            free(ev);
            free(out);
            return NULL;
        }
        /* keep '$' readable in option names, as Graph does */
        const char *kshow = k[0] == '$' && strcmp(ek + 3, k + 1) == 0 ? k : ek;
        size_t need = len + strlen(kshow) + strlen(ev) + 3;
        if (need >= cap) {
            cap = need * 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(ek);
                free(ev);
                free(out);
                return NULL;
            }
            out = n;
        }
        len += (size_t)snprintf(out + len, cap - len, "%c%s=%s", sep, kshow, ev);
        sep = '&';
        free(ek);
        free(ev);
    }
    return out;
}

void emu_respond_page(const emu_ctx *ctx, const emu_req *req, emu_resp *resp, const char *context,
                      long long count, json_t *value, const char *skiptoken)
{
    json_t *body = json_pack("{s:s}", "@odata.context", context);
    if (count >= 0)
        json_object_set_new(body, "@odata.count", json_integer((json_int_t)count));
    json_object_set_new(body, "value", value);
    if (skiptoken) {
        char *link = emu_next_link(ctx, req, skiptoken);
        if (link)
            json_object_set_new(body, "@odata.nextLink", json_string(link));
        free(link);
    }
    emu_resp_json(resp, 200, body);
}

int emu_require_json(const emu_req *req, emu_resp *resp)
{
    const char *ct = emu_kv_get_ci(&req->headers, "Content-Type");
    if (ct) {
        while (*ct == ' ')
            ct++;
        size_t n = strcspn(ct, "; ");
        if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
            return 0;
    }
    emu_graph_error(req, resp, 415, "UnsupportedMediaType",
                    "The content type '%.80s' is not supported; send application/json.",
                    ct ? ct : "(none)");
    return -1;
}

json_t *emu_body_object(const emu_req *req, emu_resp *resp)
{
    if (req->body_too_large) {
        emu_graph_error(req, resp, 413, "RequestEntityTooLarge",
                        "The request body is larger than %u bytes.", EMU_MAX_BODY);
        return NULL;
    }
    if (emu_require_json(req, resp) != 0)
        return NULL;
    json_error_t je;
    json_t *j = json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        /* Graph's wording for an unreadable payload */
        emu_graph_error(req, resp, 400, "BadRequest",
                        "Unable to read JSON request payload. Please ensure Content-Type header "
                        "is set and payload is of valid JSON format. (%s at line %d column %d)",
                        j ? "not a JSON object" : je.text, je.line, je.column);
        return NULL;
    }
    return j;
}
