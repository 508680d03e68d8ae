/* Directory lookups: users by UPN, mail or proxy address in $batch requests of up to 20, and
 * the user members of a group (transitiveMembers, paged). */
#include "graph/graph_int.h"

#include "common/uuid.h"

#include <strings.h>

/* ---------------------------------------------------------------- user lookups ($batch) */

typedef struct lookup_run {
    ssync_user_lookup *items;
    ssync_user_key by;
    unsigned *tries;
    /* the next round: item index + how to look it up */
    size_t *next_idx;
    ssync_user_key *next_kind;
    size_t next_n;
} lookup_run;

typedef struct batch {
    lookup_run *lr;
    size_t n;
    size_t idx[SSYNC_GRAPH_BATCH_MAX];
    ssync_user_key kind[SSYNC_GRAPH_BATCH_MAX];
    int answered[SSYNC_GRAPH_BATCH_MAX];
} batch;

static void lookup_again(lookup_run *lr, size_t idx, ssync_user_key kind)
{
    lr->next_idx[lr->next_n] = idx;
    lr->next_kind[lr->next_n] = kind;
    lr->next_n++;
}

static void item_fail(ssync_user_lookup *it, ssync_code rc, const ssync_graph_failure *f,
                      const char *what)
{
    it->result = rc;
    if (f)
        it->detail = *f;
    char line[400];
    ssync_graph_failure_format(&it->detail, line, sizeof line);
    ssync_fail(&it->err, rc, "%.100s: %s%s%s", it->key, what, line[0] ? ": " : "", line);
}

static const char *header_ci(json_t *headers, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v)
    {
        if (strcasecmp(k, name) == 0 && json_is_string(v))
            return json_string_value(v);
    }
    return NULL;
}

static void set_str_dup(char **dst, json_t *v)
{
    free(*dst);
    *dst = NULL;
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        if (n > 1024)
            n = 1024;
        *dst = malloc(n + 1);
        if (*dst)
            ssync_sanitize_line(*dst, n + 1, json_string_value(v), n);
    }
}

/* The user answers what was asked: the private key goes to this account, so a directory (or
 * anything between) that answers a lookup with another user is not believed. UPNs and SMTP
 * addresses compare without case (Entra ID treats them so). */
static int answers_key(json_t *u, ssync_user_key kind, const char *key)
{
    if (kind == SSYNC_USER_BY_UPN || kind == SSYNC_USER_BY_MAIL) {
        json_t *v = json_object_get(u, kind == SSYNC_USER_BY_UPN ? "userPrincipalName" : "mail");
        return json_is_string(v) && strcasecmp(json_string_value(v), key) == 0;
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(u, "proxyAddresses"), i, a)
    {
        const char *p = json_is_string(a) ? json_string_value(a) : "";
        if (strncasecmp(p, "smtp:", 5) == 0 && strcasecmp(p + 5, key) == 0)
            return 1;
    }
    return 0;
}

static void batch_item(ssync_graph *g, batch *b, size_t k, json_t *resp, const job *j)
{
    lookup_run *lr = b->lr;
    size_t idx = b->idx[k];
    ssync_user_lookup *it = &lr->items[idx];
    json_t *st = json_object_get(resp, "status");
    json_t *body = json_object_get(resp, "body");
    json_t *headers = json_object_get(resp, "headers");
    ssync_graph_failure f = j->detail; /* the outer request's ids */
    f.http_status = json_is_integer(st) ? (long)json_integer_value(st) : 0;
    snprintf(f.method, sizeof f.method, "GET");
    snprintf(f.target, sizeof f.target, "$batch /users (%s)",
             b->kind[k] == SSYNC_USER_BY_UPN    ? "userPrincipalName"
             : b->kind[k] == SSYNC_USER_BY_MAIL ? "mail"
                                                : "proxyAddresses");
    const char *rid = header_ci(headers, "request-id");
    if (rid)
        ssync_sanitize_line(f.request_id, sizeof f.request_id, rid, strlen(rid));
    if (!json_is_integer(st)) {
        item_fail(it, SSYNC_ERR_GRAPH_RESPONSE, &f, "batch response without a status");
        return;
    }
    long s = f.http_status;
    if (s == 429 || s == 503 || s == 504) { /* inner throttling, batch 200 (Graph JSON batching) */
        double d = retry_delay(g, header_ci(headers, "Retry-After"),
                               header_ci(headers, "x-ms-retry-after-ms"), lr->tries[idx], NULL);
        g->stats.throttled++;
        ssync_throttle_pause(&g->thr, ssync_mono(), d);
        if (++lr->tries[idx] >= g->max_attempts) {
            ssync_graph_error_from_json(body, &f);
            item_fail(it, SSYNC_ERR_THROTTLED, &f, "gave up");
        } else {
            lookup_again(lr, idx, b->kind[k]);
        }
        return;
    }
    if (s < 200 || s >= 300) {
        ssync_graph_error_from_json(body, &f);
        if (s >= 500 && ++lr->tries[idx] < g->max_attempts) {
            lookup_again(lr, idx, b->kind[k]);
            return;
        }
        item_fail(it, s == 404 ? SSYNC_ERR_NOT_FOUND : SSYNC_ERR_GRAPH, &f, "lookup failed");
        return;
    }
    json_t *value = json_object_get(body, "value");
    if (!json_is_array(value)) {
        item_fail(it, SSYNC_ERR_GRAPH_RESPONSE, &f, "users response has no \"value\" array");
        return;
    }
    size_t n = json_array_size(value);
    if (n == 0) {
        if (b->kind[k] == SSYNC_USER_BY_MAIL && lr->by == SSYNC_USER_BY_MAIL) {
            lookup_again(lr, idx, SSYNC_USER_BY_PROXY); /* mail first, then proxyAddresses */
            return;
        }
        it->detail = f;
        it->result = SSYNC_ERR_NOT_FOUND;
        ssync_fail(&it->err, SSYNC_ERR_NOT_FOUND, "no directory user with %s '%.200s'",
                   lr->by == SSYNC_USER_BY_UPN ? "userPrincipalName" : "mail address", it->key);
        return;
    }
    if (n > 1) {
        it->detail = f;
        it->result = SSYNC_ERR_USER_AMBIGUOUS;
        ssync_fail(&it->err, SSYNC_ERR_USER_AMBIGUOUS, "%zu directory users match '%.200s'", n,
                   it->key);
        return;
    }
    json_t *u = json_array_get(value, 0);
    json_t *id = json_object_get(u, "id");
    if (!json_is_string(id) || !ssync_uuid_nodash(json_string_value(id), it->id_nodash)) {
        item_fail(it, SSYNC_ERR_GRAPH_RESPONSE, &f, "user without a GUID id");
        return;
    }
    if (!answers_key(u, b->kind[k], it->key)) {
        item_fail(it, SSYNC_ERR_GRAPH_RESPONSE, &f,
                  b->kind[k] == SSYNC_USER_BY_UPN    ? "the answer is a user of another UPN"
                  : b->kind[k] == SSYNC_USER_BY_MAIL ? "the answer is a user of another mail"
                                                     : "the answer has no such proxy address");
        return;
    }
    snprintf(it->id, sizeof it->id, "%s", json_string_value(id));
    set_str_dup(&it->upn, json_object_get(u, "userPrincipalName"));
    set_str_dup(&it->mail, json_object_get(u, "mail"));
    it->matched_by = b->kind[k];
    it->detail = f;
    it->result = SSYNC_OK;
    ssync_error_clear(&it->err);
}

static void batch_done(ssync_graph *g, job *j)
{
    batch *b = j->owner;
    lookup_run *lr = b->lr;
    if (j->rc != SSYNC_OK) {
        for (size_t k = 0; k < b->n; k++) {
            ssync_user_lookup *it = &lr->items[b->idx[k]];
            it->result = j->rc;
            it->detail = j->detail;
            it->err = j->err;
        }
        free(b);
        return;
    }
    json_t *root = ssync_http_is_json(j->x.content_type) && j->x.resp
                       ? json_loadb(j->x.resp, j->x.resp_len, 0, NULL)
                       : NULL;
    json_t *responses = json_object_get(root, "responses");
    const char *problem = !root                       ? "$batch response is not JSON"
                          : !json_is_array(responses) ? "$batch response has no \"responses\""
                                                      : NULL;
    size_t i;
    json_t *r;
    if (!problem) {
        json_array_foreach(responses, i, r)
        {
            /* correlate by id: the order may differ from the request (Graph docs: JSON batching) */
            json_t *id = json_object_get(r, "id");
            char *end = NULL;
            const char *ids = json_is_string(id) ? json_string_value(id) : "";
            unsigned long k = strtoul(ids, &end, 10);
            if (!*ids || *end || k < 1 || k > b->n || b->answered[k - 1])
                continue; /* unknown or duplicate id: ignored, the item stays unanswered */
            b->answered[k - 1] = 1;
            batch_item(g, b, k - 1, r, j);
        }
    }
    for (size_t k = 0; k < b->n; k++) {
        if (b->answered[k])
            continue;
        ssync_graph_failure f = j->detail;
        item_fail(&lr->items[b->idx[k]], SSYNC_ERR_GRAPH_RESPONSE, &f,
                  problem ? problem : "$batch response lacks this request");
    }
    json_decref(root);
    free(b);
}

static job *batch_job(ssync_graph *g, lookup_run *lr, const size_t *idx, const ssync_user_key *kind,
                      size_t n)
{
    batch *b = calloc(1, sizeof *b);
    json_t *reqs = json_array();
    json_t *root = json_pack("{s:o}", "requests", reqs);
    int ok = b && reqs && root;
    for (size_t k = 0; ok && k < n; k++) {
        b->idx[k] = idx[k];
        b->kind[k] = kind[k];
        char *q = ssync_user_filter_query(kind[k], lr->items[idx[k]].key);
        char *url = q ? concat("/users?", q, "") : NULL;
        char id[24]; /* a size_t in decimal */
        snprintf(id, sizeof id, "%zu", k + 1);
        ok = url && json_array_append_new(reqs, json_pack("{s:s, s:s, s:s}", "id", id, "method",
                                                          "GET", "url", url)) == 0;
        free(q);
        free(url);
    }
    char *body = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    char *url = body ? concat(g->base, "/$batch", "") : NULL;
    job *j = url ? graph_job_new("POST", url, body, SSYNC_HTTP_MAX_PAGE, batch_done, b) : NULL;
    if (!j) {
        if (!url)
            free(body);
        free(b);
        return NULL;
    }
    b->lr = lr;
    b->n = n;
    j->is_write = 0; /* a $batch of GETs reads: paced as n requests, retried like a GET */
    j->cost = (unsigned)n;
    return j;
}

void ssync_user_lookup_clear(ssync_user_lookup *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].upn);
        free(items[i].mail);
        items[i].upn = items[i].mail = NULL;
    }
}

ssync_code ssync_graph_lookup_users(ssync_graph *g, ssync_user_key by, ssync_user_lookup *items,
                                    size_t n, ssync_error *err)
{
    if (!items && n)
        return ssync_fail(err, SSYNC_ERR_ARG, "no lookups");
    if (by != SSYNC_USER_BY_UPN && by != SSYNC_USER_BY_MAIL && by != SSYNC_USER_BY_PROXY)
        return ssync_fail(err, SSYNC_ERR_ARG, "unknown lookup kind");
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    lookup_run lr = {.items = items, .by = by};
    size_t *idx = calloc(n ? n : 1, sizeof *idx);
    ssync_user_key *kind = calloc(n ? n : 1, sizeof *kind);
    lr.tries = calloc(n ? n : 1, sizeof *lr.tries);
    lr.next_idx = calloc(n ? n : 1, sizeof *lr.next_idx);
    lr.next_kind = calloc(n ? n : 1, sizeof *lr.next_kind);
    if (!idx || !kind || !lr.tries || !lr.next_idx || !lr.next_kind) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "lookups");
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        ssync_user_lookup *it = &items[i];
        it->upn = it->mail = NULL;
        it->id[0] = it->id_nodash[0] = '\0';
        ssync_graph_failure_clear(&it->detail);
        if (!it->key || !*it->key || strlen(it->key) > 1024) {
            it->result = ssync_fail(&it->err, SSYNC_ERR_ARG, "empty or overlong lookup key");
            continue;
        }
        it->result = ssync_fail(&it->err, SSYNC_ERR_INTERNAL, "not looked up");
        idx[m] = i;
        kind[m] = by;
        m++;
    }
    while (m > 0) {
        lr.next_n = 0;
        for (size_t s = 0; s < m; s += SSYNC_GRAPH_BATCH_MAX) {
            size_t k = m - s < SSYNC_GRAPH_BATCH_MAX ? m - s : SSYNC_GRAPH_BATCH_MAX;
            job *j = batch_job(g, &lr, idx + s, kind + s, k);
            if (!j) {
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, "batch");
                goto done;
            }
            graph_enqueue(g, j);
        }
        rc = graph_engine_run(g, err);
        if (rc != SSYNC_OK)
            goto done;
        if (g->fatal != SSYNC_OK) {
            rc = g->fatal;
            if (err)
                *err = g->fatal_err;
            goto done;
        }
        memcpy(idx, lr.next_idx, lr.next_n * sizeof *idx);
        memcpy(kind, lr.next_kind, lr.next_n * sizeof *kind);
        m = lr.next_n;
    }
    ssync_graph_failure_clear(&g->last);
done:
    free(idx);
    free(kind);
    free(lr.tries);
    free(lr.next_idx);
    free(lr.next_kind);
    graph_run_end(g);
    return rc;
}

/* ---------------------------------------------------------------- groups */

static ssync_code member_page(const char *body, size_t len, void *out, char **next_link,
                              ssync_error *err)
{
    ssync_group_members *m = out;
    return ssync_member_page_parse(body, len, &m->upns, &m->count, &m->cap, next_link, err);
}

ssync_code ssync_graph_group_members(ssync_graph *g, const char *group_id, ssync_group_members *out,
                                     ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output list");
    /* the id goes into the URL path: only a GUID may (and Graph knows groups by GUID only) */
    if (!group_id || !ssync_uuid_valid(group_id))
        return ssync_fail(err, SSYNC_ERR_ARG, "group id '%.64s' is not a GUID",
                          group_id ? group_id : "");
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    char path[128];
    snprintf(path, sizeof path, "/groups/%s/transitiveMembers/microsoft.graph.user", group_id);
    char *url = concat(g->base, path, "?$select=id,userPrincipalName&$top=999");
    size_t from = out->count;
    rc = url ? graph_list_pages_with(g, url, member_page, out, err)
             : ssync_fail(err, SSYNC_ERR_NOMEM, "url");
    if (rc == SSYNC_ERR_NOT_FOUND) {
        /* keep the request's detail (ids) but say which group is missing */
        char line[480];
        ssync_graph_failure_format(&g->last, line, sizeof line);
        ssync_fail(err, SSYNC_ERR_NOT_FOUND, "group %s does not exist: %s", group_id, line);
    }
    if (rc != SSYNC_OK) {
        /* all or nothing: a partial member list must not look like the whole group */
        for (size_t i = from; i < out->count; i++)
            free(out->upns[i]);
        out->count = from;
    } else {
        ssync_graph_failure_clear(&g->last);
    }
    graph_run_end(g);
    return rc;
}

void ssync_group_members_free(ssync_group_members *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        free(m->upns[i]);
    free(m->upns);
    memset(m, 0, sizeof *m);
}
