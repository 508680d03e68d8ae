/* /users lookups (Graph docs: List users, Advanced query capabilities on Microsoft Entra ID
 * objects): the directory from --users (CSV), $filter on userPrincipalName,
 * mail, id (eq, in) and proxyAddresses/any(x:x eq '...'), all "default" filters that need no
 * ConsistencyLevel; $select, $top, paging; GET /users/{id or UPN}. */
#include "emu.h"
#include "common/uuid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- loading ---- */

static int col_index(char **hdr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(hdr[i], name) == 0)
            return i;
    return -1;
}

static int key_cmp(const void *pa, const void *pb)
{
    const struct emu_user_key *a = pa, *b = pb;
    int c = strcasecmp(a->key, b->key);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

static int key_find(const void *pk, const void *pe)
{
    return strcasecmp(pk, ((const struct emu_user_key *)pe)->key);
}

/* The sorted indices; a userPrincipalName given twice is an error (Entra ID keeps them unique). */
static int build_index(emu_ctx *ctx, ssync_error *err)
{
    size_t n = ctx->nusers;
    ctx->by_upn = calloc(n ? n : 1, sizeof *ctx->by_upn);
    ctx->by_mail = calloc(n ? n : 1, sizeof *ctx->by_mail);
    if (!ctx->by_upn || !ctx->by_mail) {
        ssync_fail(err, SSYNC_ERR_NOMEM, "users");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        ctx->by_upn[i] = (struct emu_user_key){ctx->users[i].upn, i};
        ctx->by_mail[i] = (struct emu_user_key){ctx->users[i].mail, i};
    }
    qsort(ctx->by_upn, n, sizeof *ctx->by_upn, key_cmp);
    qsort(ctx->by_mail, n, sizeof *ctx->by_mail, key_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcasecmp(ctx->by_upn[i - 1].key, ctx->by_upn[i].key) == 0) {
            ssync_fail(err, SSYNC_ERR_CONFIG, "duplicate userPrincipalName %s (user %zu)",
                       ctx->by_upn[i].key, ctx->by_upn[i].idx + 1);
            return -1;
        }
    return 0;
}

static const struct emu_user_key *index_first(const struct emu_user_key *idx, size_t n,
                                              const char *value, size_t *count)
{
    const struct emu_user_key *hit = n ? bsearch(value, idx, n, sizeof *idx, key_find) : NULL;
    *count = 0;
    if (!hit)
        return NULL;
    while (hit > idx && strcasecmp(hit[-1].key, value) == 0)
        hit--;
    while (hit + *count < idx + n && strcasecmp(hit[*count].key, value) == 0)
        (*count)++;
    return hit;
}

static int by_index(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return (a > b) - (a < b);
}

size_t *emu_users_matching(const emu_ctx *ctx, const char *prop, const char *value, size_t *n,
                           int *indexed)
{
    const struct emu_user_key *idx = !strcasecmp(prop, "userPrincipalName") ? ctx->by_upn
                                     : !strcasecmp(prop, "mail")            ? ctx->by_mail
                                                                            : NULL;
    *n = 0;
    *indexed = idx != NULL;
    if (!idx || !*value) /* an empty mail is "no mail": never indexed as a match */
        return NULL;
    size_t count;
    const struct emu_user_key *first = index_first(idx, ctx->nusers, value, &count);
    size_t *out = count ? malloc(count * sizeof *out) : NULL;
    if (!out)
        return NULL;
    for (size_t k = 0; k < count; k++)
        out[k] = first[k].idx;
    qsort(out, count, sizeof *out, by_index);
    *n = count;
    return out;
}

int emu_users_load(emu_ctx *ctx, const char *path, ssync_error *err)
{
    ssync_buf b;
    if (ssync_read_file(path, (size_t)256 << 20, &b, err) != SSYNC_OK)
        return -1;
    char *text = (char *)b.data, *save = NULL;
    char *hdr[32];
    int nh = -1, iu = -1, ii = -1, im = -1, idn = -1, ip = -1;
    size_t lineno = 0, cap = 0;
    int rc = -1;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (lineno == 1 && (unsigned char)line[0] == 0xef && (unsigned char)line[1] == 0xbb &&
            (unsigned char)line[2] == 0xbf)
            line += 3; /* UTF-8 BOM */
        if (len == 0)
            continue;
        if (nh < 0) {
            nh = ssync_csv_split(line, hdr, 32);
            if (nh < 0) {
                ssync_fail(err, SSYNC_ERR_CONFIG, "%s: bad header line", path);
                goto out;
            }
            iu = col_index(hdr, nh, "userPrincipalName");
            ii = col_index(hdr, nh, "id");
            im = col_index(hdr, nh, "mail");
            idn = col_index(hdr, nh, "displayName");
            ip = col_index(hdr, nh, "proxyAddresses");
            if (iu < 0 || ii < 0 || im < 0) {
                ssync_fail(err, SSYNC_ERR_CONFIG,
                           "%s: the header must name userPrincipalName,id,mail", path);
                goto out;
            }
            continue;
        }
        char *f[32];
        int nf = ssync_csv_split(line, f, 32);
        if (nf < 0 || nf <= iu || nf <= ii || nf <= im) {
            ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: malformed line", path, lineno);
            goto out;
        }
        if (!ssync_uuid_valid(f[ii]) || !*f[iu]) {
            ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: id must be a GUID with dashes", path,
                       lineno);
            goto out;
        }
        if (ctx->nusers == cap) {
            cap = cap ? cap * 2 : 64;
            emu_user *u = realloc(ctx->users, cap * sizeof(*u));
            if (!u) {
                ssync_fail(err, SSYNC_ERR_NOMEM, "users");
                goto out;
            }
            ctx->users = u;
        }
        emu_user *u = &ctx->users[ctx->nusers];
        memset(u, 0, sizeof(*u));
        snprintf(u->id, sizeof(u->id), "%s", f[ii]);
        emu_lower(u->id);
        u->upn = strdup(f[iu]);
        u->mail = strdup(f[im]);
        char dn[256];
        if (idn >= 0 && idn < nf && *f[idn])
            snprintf(dn, sizeof(dn), "%s", f[idn]);
        else
            snprintf(dn, sizeof(dn), "%.*s", (int)strcspn(f[iu], "@"), f[iu]);
        u->display_name = strdup(dn);
        json_t *proxy = json_array();
        if (*f[im]) { /* the primary address is "SMTP:" (Graph docs: user) */
            char addr[512];
            snprintf(addr, sizeof(addr), "SMTP:%s", f[im]);
            json_array_append_new(proxy, json_string(addr));
        }
        if (ip >= 0 && ip < nf && *f[ip]) {
            char *ps = NULL;
            for (char *a = strtok_r(f[ip], ";|", &ps); a; a = strtok_r(NULL, ";|", &ps)) {
                if (strncasecmp(a, "smtp:", 5) == 0 && strcasecmp(a + 5, f[im]) == 0)
                    continue;
                json_array_append_new(proxy, json_string(a));
            }
        }
        u->json =
            json_pack("{s:s, s:s, s:s, s:s?, s:o, s:b}", "id", u->id, "displayName",
                      u->display_name, "userPrincipalName", u->upn, "mail",
                      *u->mail ? u->mail : NULL, "proxyAddresses", proxy, "accountEnabled", 1);
        if (!u->upn || !u->mail || !u->display_name || !u->json) {
            ssync_fail(err, SSYNC_ERR_NOMEM, "users");
            goto out;
        }
        ctx->nusers++;
    }
    if (nh < 0) {
        ssync_fail(err, SSYNC_ERR_CONFIG, "%s: empty users file", path);
        goto out;
    }
    if (build_index(ctx, err) != 0) {
        ssync_error_prefix(err, "%s: ", path);
        goto out;
    }
    rc = 0;
out:
    ssync_buf_free(&b);
    return rc;
}

const emu_user *emu_user_by_upn(const emu_ctx *ctx, const char *upn)
{
    size_t count;
    const struct emu_user_key *k =
        upn && ctx->by_upn ? index_first(ctx->by_upn, ctx->nusers, upn, &count) : NULL;
    return k ? &ctx->users[k->idx] : NULL;
}

/* ---- endpoints ---- */

static const char *const USER_PROPS[] = {"id",         "displayName",    "userPrincipalName",
                                         "mail",       "proxyAddresses", "accountEnabled",
                                         "givenName",  "surname",        "jobTitle",
                                         "otherMails", "userType",       NULL};

static const char *user_prop(const char *name)
{
    for (size_t i = 0; USER_PROPS[i]; i++)
        if (strcasecmp(USER_PROPS[i], name) == 0)
            return USER_PROPS[i];
    return NULL;
}

json_t *emu_user_view(const emu_user *u, json_t *sel)
{
    if (!sel)
        return json_deep_copy(u->json);
    json_t *out = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(sel, i, v)
    {
        const char *p = json_string_value(v);
        json_t *have = json_object_get(u->json, p);
        if (have)
            json_object_set_new(out, p, json_deep_copy(have));
        else if (strcmp(p, "otherMails") == 0)
            json_object_set_new(out, p, json_array());
        else if (strcmp(p, "userType") == 0)
            json_object_set_new(out, p, json_string("Member"));
        else
            json_object_set_new(out, p, json_null());
    }
    return out;
}

/* Leading blanks are skipped but trailing ones are kept, so 'id ' is an unknown property. */
const emu_select_spec emu_user_select = {user_prop, "Microsoft.DirectoryServices.User",
                                         "Request_BadRequest", 0};

static int check_leaf(emu_filter *leaf, void *arg)
{
    char *msg = arg;
    const char *c = user_prop(leaf->prop);
    int ok = 0;
    if (c && !leaf->tolower) {
        if (strcmp(c, "proxyAddresses") == 0)
            ok = leaf->op == EMU_F_ANY_EQ;
        else if (strcmp(c, "userPrincipalName") == 0 || strcmp(c, "mail") == 0 ||
                 strcmp(c, "id") == 0)
            ok = leaf->op == EMU_F_EQ || leaf->op == EMU_F_IN;
    }
    if (!ok) {
        snprintf(msg, 256,
                 "Unsupported or invalid query filter clause specified for property '%.60s' of "
                 "resource 'User'.",
                 leaf->prop);
        return -1;
    }
    free(leaf->prop);
    leaf->prop = strdup(c);
    return leaf->prop ? 0 : -1;
}

static void list(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version)
{
    static const char *const allowed[] = {"$filter", "$top",    "$select",  "$skiptoken",
                                          "$count",  "$search", "$orderby", NULL};
    if (emu_query_check(req, resp, version, allowed, 0) != 0)
        return;
    const char *consistency = emu_kv_get_ci(&req->headers, "ConsistencyLevel");
    int eventual = consistency && strcasecmp(consistency, "eventual") == 0;
    const char *count = emu_query_opt(req, "$count", version);
    int want_count = count && strcasecmp(count, "true") == 0;
    /* advanced queries need ConsistencyLevel: eventual (Graph docs: Advanced query
     * capabilities on Microsoft Entra ID objects) */
    if (want_count && !eventual) {
        emu_graph_error(req, resp, 400, "Request_BadRequest", "$count is not currently supported.");
        return;
    }
    if (emu_query_opt(req, "$search", version) || emu_query_opt(req, "$orderby", version)) {
        emu_graph_error(req, resp, 400, "Request_UnsupportedQuery",
                        "The emulator does not implement $search or $orderby on users.");
        return;
    }
    emu_filter *filter = NULL;
    json_t *sel = NULL;
    char selctx[512];
    const char *ftext = emu_query_opt(req, "$filter", version);
    if (ftext) {
        char msg[256];
        filter = emu_filter_parse(ftext, msg, sizeof(msg));
        if (!filter) {
            emu_graph_error(req, resp, 400, "BadRequest", "Invalid filter clause: %s", msg);
            return;
        }
        if (emu_filter_walk(filter, check_leaf, msg) != 0) {
            emu_filter_free(filter);
            emu_graph_error(req, resp, 400, "Request_UnsupportedQuery", "%s", msg);
            return;
        }
    }
    if (emu_parse_select(req, resp, emu_query_opt(req, "$select", version), &emu_user_select, &sel,
                         selctx, sizeof(selctx)) != 0) {
        emu_filter_free(filter);
        return;
    }
    unsigned long page = 100; /* "default and maximum page sizes are 100 and 999" */
    const char *top = emu_query_opt(req, "$top", version);
    if (top) {
        char *end;
        page = strtoul(top, &end, 10);
        if (!*top || *end || page < 1 || page > 999 || !isdigit((unsigned char)top[0])) {
            emu_graph_error(req, resp, 400, "Request_BadRequest",
                            "Invalid page size specified: '%.40s'. Must be between 1 and 999 "
                            "inclusive.",
                            top);
            goto out;
        }
    }
    size_t start = 0;
    const char *skip = emu_query_opt(req, "$skiptoken", version);
    if (skip) {
        if (emu_skiptoken_offset(skip, &start) != 0) {
            emu_graph_error(req, resp, 400, "Request_BadRequest", "The skip token is not valid.");
            goto out;
        }
    }
    json_t *value = json_array();
    size_t i = start, got = 0, total = 0;
    int more = 0;
    /* "prop eq 'v'" on userPrincipalName or mail: only the indexed candidates are evaluated */
    size_t *cand = NULL, ncand = 0, c = 0;
    int indexed = 0;
    if (filter && filter->op == EMU_F_EQ && filter->nvalues == 1 && !filter->tolower)
        cand = emu_users_matching(ctx, filter->prop, filter->values[0], &ncand, &indexed);
    while (c < ncand && cand[c] < start)
        c++;
    for (;;) {
        if (indexed) {
            if (c == ncand)
                break;
            i = cand[c++];
        } else if (i >= ctx->nusers) {
            break;
        }
        if (!filter || emu_filter_eval(filter, ctx->users[i].json, 1)) {
            if (got == page) {
                more = 1;
                break;
            }
            json_array_append_new(value, emu_user_view(&ctx->users[i], sel));
            got++;
        }
        if (!indexed)
            i++;
    }
    if (indexed && !more)
        i = ctx->nusers;
    for (size_t k = 0; want_count && k < (indexed ? ncand : ctx->nusers); k++)
        total += !filter || emu_filter_eval(filter, ctx->users[indexed ? cand[k] : k].json, 1);
    free(cand);
    char context[1024];
    snprintf(context, sizeof(context), "%s/%s/$metadata#users%s%s%s", ctx->base_url, version,
             sel ? "(" : "", sel ? selctx : "", sel ? ")" : "");
    char token[40];
    snprintf(token, sizeof(token), "emu1.%zu", i);
    emu_respond_page(ctx, req, resp, context, want_count && !skip ? (long long)total : -1, value,
                     more ? token : NULL);
out:
    emu_filter_free(filter);
    json_decref(sel);
}

void emu_users_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                     const char *version, const char *rest)
{
    if (strcmp(req->method, "GET") != 0) {
        emu_graph_error(req, resp, 405, "MethodNotAllowed",
                        "The requested resource does not support http method '%s'.", req->method);
        emu_resp_header(resp, "Allow", "GET");
        return;
    }
    if (!emu_principal_has_role(who, EMU_ROLE_USERS) &&
        !emu_principal_has_role(who, "User.ReadWrite.All") &&
        !emu_principal_has_role(who, "Directory.Read.All") &&
        !emu_principal_has_role(who, "Directory.ReadWrite.All")) {
        emu_graph_error(req, resp, 403, "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.");
        return;
    }
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        list(ctx, req, resp, version);
        return;
    }
    char key[512];
    const char *s = rest;
    size_t n;
    if (s[0] == '/') {
        s++;
        n = strlen(s);
    } else if (s[0] == '(' && s[1] == '\'' && strlen(s) >= 4 &&
               strcmp(s + strlen(s) - 2, "')") == 0) {
        s += 2;
        n = strlen(s) - 2;
    } else {
        n = 0;
    }
    if (n == 0 || n >= sizeof(key) || memchr(s, '/', n)) {
        emu_graph_error(req, resp, 404, "ResourceNotFound",
                        "Resource not found for the segment '%.100s'.", rest + 1);
        return;
    }
    memcpy(key, s, n);
    key[n] = '\0';
    static const char *const allowed[] = {"$select", NULL};
    if (emu_query_check(req, resp, version, allowed, 0) != 0)
        return;
    json_t *sel = NULL;
    char selctx[512];
    if (emu_parse_select(req, resp, emu_query_opt(req, "$select", version), &emu_user_select, &sel,
                         selctx, sizeof(selctx)) != 0)
        return;
    const emu_user *u = emu_user_by_upn(ctx, key);
    for (size_t i = 0; i < ctx->nusers && !u; i++)
        if (strcasecmp(ctx->users[i].id, key) == 0)
            u = &ctx->users[i];
    if (!u) {
        emu_graph_error(req, resp, 404, "Request_ResourceNotFound",
                        "Resource '%.200s' does not exist or one of its queried "
                        "reference-property objects are not present.",
                        key);
    } else {
        char context[1024];
        snprintf(context, sizeof(context), "%s/%s/$metadata#users%s%s%s/$entity", ctx->base_url,
                 version, sel ? "(" : "", sel ? selctx : "", sel ? ")" : "");
        json_t *body = json_pack("{s:s}", "@odata.context", context);
        json_t *view = emu_user_view(u, sel);
        json_object_update(body, view);
        json_decref(view);
        emu_resp_json(resp, 200, body);
    }
    json_decref(sel);
}
