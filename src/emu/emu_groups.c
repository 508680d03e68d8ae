/* /groups (Graph docs: List group transitive members; a group-based run reads them once instead of
 * one user lookup per certificate): the directory's groups from --groups, GET /groups/{id}, and GET
 * /groups/{id}/transitiveMembers[/microsoft.graph.user] with $select, $top, $count and nextLink
 * paging. Nested groups are walked breadth-first with a visited mark per group, so a cycle ends
 * instead of looping. */
#include "emu.h"
#include "common/uuid.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- loading ---- */

static emu_group *group_find(const emu_ctx *ctx, const char *id)
{
    for (size_t i = 0; i < ctx->ngroups; i++)
        if (strcasecmp(ctx->groups[i].id, id) == 0)
            return &ctx->groups[i];
    return NULL;
}

static int push(size_t **v, size_t *n, size_t *cap, size_t x)
{
    /* a member listed twice is kept twice here; the transitive walk lists it once */
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        size_t *bigger = realloc(*v, ncap * sizeof *bigger);
        if (!bigger)
            return -1;
        *v = bigger;
        *cap = ncap;
    }
    (*v)[(*n)++] = x;
    return 0;
}

/* Adds the group if new; returns its index or -1 (memory). */
static long group_add(emu_ctx *ctx, size_t *cap, const char *id)
{
    emu_group *g = group_find(ctx, id);
    if (g)
        return (long)(g - ctx->groups);
    if (ctx->ngroups == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        emu_group *bigger = realloc(ctx->groups, ncap * sizeof *bigger);
        if (!bigger)
            return -1;
        ctx->groups = bigger;
        *cap = ncap;
    }
    g = &ctx->groups[ctx->ngroups];
    memset(g, 0, sizeof *g);
    snprintf(g->id, sizeof g->id, "%s", id);
    emu_lower(g->id);
    return (long)ctx->ngroups++;
}

typedef struct row {
    size_t line;
    char *group, *member; /* point into the file text */
} row;

/* Two passes: every groupId first (so a member may name a group defined further down), then
 * the members. */
int emu_groups_load(emu_ctx *ctx, const char *path, ssync_error *err)
{
    ssync_buf b;
    if (ssync_read_file(path, (size_t)64 << 20, &b, err) != SSYNC_OK)
        return -1;
    row *rows = NULL;
    size_t nrows = 0, caprows = 0, capgroups = 0, lineno = 0;
    int rc = -1, ig = -1, im = -1;
    char *save = NULL;
    for (char *line = strtok_r((char *)b.data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (lineno == 1 && strncmp(line, "\xef\xbb\xbf", 3) == 0)
            line += 3; /* UTF-8 BOM */
        if (!*line)
            continue;
        char *f[8];
        int nf = ssync_csv_split(line, f, 8);
        if (ig < 0) {
            for (int i = 0; i < nf; i++) {
                if (strcasecmp(f[i], "groupId") == 0)
                    ig = i;
                else if (strcasecmp(f[i], "member") == 0)
                    im = i;
            }
            if (ig < 0 || im < 0) {
                ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: the header must name groupId,member",
                           path, lineno);
                goto out;
            }
            continue;
        }
        if (nf <= ig || nf <= im || !*f[ig] || !*f[im]) {
            ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: malformed line (groupId,member)", path,
                       lineno);
            goto out;
        }
        if (!ssync_uuid_valid(f[ig])) {
            ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: groupId '%.60s' is not a GUID", path, lineno,
                       f[ig]);
            goto out;
        }
        if (nrows == caprows) {
            caprows = caprows ? caprows * 2 : 64;
            row *bigger = realloc(rows, caprows * sizeof *bigger);
            if (!bigger)
                goto nomem;
            rows = bigger;
        }
        rows[nrows++] = (row){lineno, f[ig], f[im]};
        if (group_add(ctx, &capgroups, f[ig]) < 0)
            goto nomem;
    }
    if (ig < 0) {
        ssync_fail(err, SSYNC_ERR_CONFIG, "%s: empty groups file", path);
        goto out;
    }
    for (size_t r = 0; r < nrows; r++) {
        emu_group *g = group_find(ctx, rows[r].group);
        const char *m = rows[r].member;
        emu_group *sub = ssync_uuid_valid(m) ? group_find(ctx, m) : NULL;
        if (sub) {
            if (push(&g->groups, &g->ngroups, &g->capgroups, (size_t)(sub - ctx->groups)))
                goto nomem;
            continue;
        }
        size_t u = 0;
        while (u < ctx->nusers && strcasecmp(ctx->users[u].upn, m) != 0 &&
               strcasecmp(ctx->users[u].id, m) != 0)
            u++;
        if (u == ctx->nusers) {
            ssync_fail(err, SSYNC_ERR_CONFIG,
                       "%s:%zu: member '%.100s' is neither a user of --users nor a group", path,
                       rows[r].line, m);
            goto out;
        }
        if (push(&g->users, &g->nusers, &g->capusers, u))
            goto nomem;
    }
    rc = 0;
    goto out;
nomem:
    ssync_fail(err, SSYNC_ERR_NOMEM, "groups");
out:
    free(rows);
    ssync_buf_free(&b);
    return rc;
}

void emu_groups_free(emu_ctx *ctx)
{
    for (size_t i = 0; i < ctx->ngroups; i++) {
        free(ctx->groups[i].users);
        free(ctx->groups[i].groups);
    }
    free(ctx->groups);
    ctx->groups = NULL;
    ctx->ngroups = 0;
}

/* ---- transitive members ---- */

typedef struct member {
    int is_group;
    size_t idx;
} member;

/* Every user and nested group reachable from g (g itself excluded), breadth-first, each once.
 * Returns the count, or -1 on memory; *out is malloc'd. */
static long transitive(const emu_ctx *ctx, const emu_group *g, member **out)
{
    size_t cap = ctx->nusers + ctx->ngroups + 1, n = 0, head = 0;
    member *m = calloc(cap, sizeof *m);
    size_t *queue = calloc(ctx->ngroups + 1, sizeof *queue);
    unsigned char *seen_u = calloc(ctx->nusers + 1, 1), *seen_g = calloc(ctx->ngroups + 1, 1);
    if (!m || !queue || !seen_u || !seen_g) {
        free(m);
        free(queue);
        free(seen_u);
        free(seen_g);
        return -1;
    }
    size_t tail = 0, root = (size_t)(g - ctx->groups);
    queue[tail++] = root;
    seen_g[root] = 1;
    while (head < tail) {
        const emu_group *cur = &ctx->groups[queue[head++]];
        for (size_t i = 0; i < cur->nusers; i++)
            if (!seen_u[cur->users[i]]) {
                seen_u[cur->users[i]] = 1;
                m[n++] = (member){0, cur->users[i]};
            }
        for (size_t i = 0; i < cur->ngroups; i++)
            if (!seen_g[cur->groups[i]]) {
                seen_g[cur->groups[i]] = 1;
                queue[tail++] = cur->groups[i];
                m[n++] = (member){1, cur->groups[i]};
            }
    }
    free(queue);
    free(seen_u);
    free(seen_g);
    *out = m;
    return (long)n;
}

int emu_group_has_user(const emu_ctx *ctx, const char *group_id, size_t u)
{
    const emu_group *g = group_id ? group_find(ctx, group_id) : NULL;
    member *all = NULL;
    long n = g ? transitive(ctx, g, &all) : -1;
    int found = 0;
    for (long k = 0; k < n && !found; k++)
        found = !all[k].is_group && all[k].idx == u;
    free(all);
    return found;
}

static int allowed_to_read(const emu_principal *who)
{
    static const char *const roles[] = {"GroupMember.Read.All",
                                        "Group.Read.All",
                                        "Directory.Read.All",
                                        "GroupMember.ReadWrite.All",
                                        "Group.ReadWrite.All",
                                        "Directory.ReadWrite.All",
                                        NULL};
    for (size_t i = 0; roles[i]; i++)
        if (emu_principal_has_role(who, roles[i]))
            return 1;
    return 0;
}

static void members(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version,
                    const emu_group *g, int users_only)
{
    static const char *const allowed[] = {"$select", "$top", "$skiptoken", "$count", NULL};
    if (emu_query_check(req, resp, version, allowed, 0) != 0)
        return;
    const char *count = emu_query_opt(req, "$count", version);
    int want_count = count && strcasecmp(count, "true") == 0;
    const char *consistency = emu_kv_get_ci(&req->headers, "ConsistencyLevel");
    if (want_count && !(consistency && strcasecmp(consistency, "eventual") == 0)) {
        emu_graph_error(req, resp, 400, "Request_BadRequest", "$count is not currently supported.");
        return;
    }
    /* $select names user properties; on the uncast collection groups show id only */
    json_t *sel = NULL;
    char selctx[512];
    if (emu_parse_select(req, resp, emu_query_opt(req, "$select", version), &emu_user_select, &sel,
                         selctx, sizeof(selctx)) != 0)
        return;
    /* Graph's default page is 100 and $top may ask up to 999; --page-size caps both so that
     * tests can exercise paging on small groups */
    unsigned long page = 100;
    const char *top = emu_query_opt(req, "$top", version);
    if (top) {
        char *end;
        page = strtoul(top, &end, 10);
        if (!*top || *end || page < 1 || page > 999 || !isdigit((unsigned char)top[0])) {
            emu_graph_error(req, resp, 400, "Request_BadRequest",
                            "Invalid page size specified: '%.40s'. Must be between 1 and 999 "
                            "inclusive.",
                            top);
            json_decref(sel);
            return;
        }
    }
    if (page > ctx->page_size)
        page = ctx->page_size;
    size_t start = 0;
    const char *skip = emu_query_opt(req, "$skiptoken", version);
    if (skip) {
        if (emu_skiptoken_offset(skip, &start) != 0) {
            emu_graph_error(req, resp, 400, "Request_BadRequest", "The skip token is not valid.");
            json_decref(sel);
            return;
        }
    }
    member *all = NULL;
    long n = transitive(ctx, g, &all);
    if (n < 0) {
        emu_graph_error(req, resp, 500, "InternalServerError", "out of memory");
        json_decref(sel);
        return;
    }
    json_t *value = json_array();
    size_t i = start, got = 0, total = 0;
    int more = 0;
    for (long k = 0; k < n; k++)
        total += !users_only || !all[k].is_group;
    for (; i < (size_t)n; i++) {
        if (users_only && all[i].is_group)
            continue;
        if (got == page) {
            more = 1;
            break;
        }
        json_t *o;
        if (all[i].is_group) {
            o = json_pack("{s:s, s:s}", "@odata.type", "#microsoft.graph.group", "id",
                          ctx->groups[all[i].idx].id);
        } else {
            o = emu_user_view(&ctx->users[all[i].idx], sel);
            if (!users_only) /* the type tells users from groups in a mixed collection */
                json_object_set_new(o, "@odata.type", json_string("#microsoft.graph.user"));
        }
        json_array_append_new(value, o);
        got++;
    }
    free(all);
    char context[1024];
    if (users_only)
        snprintf(context, sizeof(context), "%s/%s/$metadata#users%s%s%s", ctx->base_url, version,
                 sel ? "(" : "", sel ? selctx : "", sel ? ")" : "");
    else
        snprintf(context, sizeof(context), "%s/%s/$metadata#directoryObjects", ctx->base_url,
                 version);
    char token[40];
    snprintf(token, sizeof(token), "emu1.%zu", i);
    emu_respond_page(ctx, req, resp, context, want_count && !skip ? (long long)total : -1, value,
                     more ? token : NULL);
    json_decref(sel);
}

void emu_groups_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const emu_principal *who,
                      const char *version, const char *rest)
{
    if (strcmp(req->method, "GET") != 0) {
        emu_graph_error(req, resp, 405, "MethodNotAllowed",
                        "The requested resource does not support http method '%s'.", req->method);
        emu_resp_header(resp, "Allow", "GET");
        return;
    }
    if (!allowed_to_read(who)) {
        emu_graph_error(req, resp, 403, "Authorization_RequestDenied",
                        "Insufficient privileges to complete the operation.");
        return;
    }
    /* rest: "/{id}" ["/transitiveMembers" ["/microsoft.graph.user"]] */
    const char *s = rest[0] == '/' ? rest + 1 : rest;
    size_t n = strcspn(s, "/");
    char id[128];
    if (n == 0 || n >= sizeof(id)) {
        emu_graph_error(req, resp, 400, "Request_BadRequest",
                        "The emulator lists no groups; address one by its id.");
        return;
    }
    memcpy(id, s, n);
    id[n] = '\0';
    const char *tail = s + n;
    if (!ssync_uuid_valid(id)) {
        emu_graph_error(req, resp, 400, "Request_BadRequest", "Invalid object identifier '%s'.",
                        id);
        return;
    }
    const emu_group *g = group_find(ctx, id);
    if (!g) {
        emu_graph_error(req, resp, 404, "Request_ResourceNotFound",
                        "Resource '%s' does not exist or one of its queried reference-property "
                        "objects are not present.",
                        id);
        return;
    }
    if (*tail == '\0') {
        char context[256];
        snprintf(context, sizeof(context), "%s/%s/$metadata#groups/$entity", ctx->base_url,
                 version);
        emu_resp_json(resp, 200,
                      json_pack("{s:s, s:s, s:s}", "@odata.context", context, "id", g->id,
                                "displayName", g->id));
        return;
    }
    if (strcasecmp(tail, "/transitiveMembers/microsoft.graph.user") == 0)
        members(ctx, req, resp, version, g, 1);
    else if (strcasecmp(tail, "/transitiveMembers") == 0)
        members(ctx, req, resp, version, g, 0);
    else
        emu_graph_error(req, resp, 404, "ResourceNotFound",
                        "Resource not found for the segment '%.100s'.", tail + 1);
}
