/* userPfxCertificate listings: every page of a collection (nextLink followed, guarded), the
 * filtered lookups of one user or one (user, thumbprint), and GET by id. */
#include "graph/graph_int.h"

#include <strings.h>

/* An error's detail without the table message in front ("malformed Graph response: x" -> "x"). */
static const char *detail_of(const ssync_error *e)
{
    const char *t = ssync_strerror(e->code);
    size_t n = strlen(t);
    if (strncmp(e->msg, t, n) == 0 && e->msg[n] == ':' && e->msg[n + 1] == ' ')
        return e->msg + n + 2;
    return e->msg;
}

/* A response-level failure of a request that otherwise succeeded (bad JSON, wrong content
 * type, hostile paging): the message carries the request's ids. */
static ssync_code fail_resp(ssync_graph *g, job *j, ssync_error *err, ssync_code rc,
                            const char *what)
{
    ssync_sanitize_line(j->detail.message, sizeof j->detail.message, what, strlen(what));
    char line[480];
    ssync_graph_failure_format(&j->detail, line, sizeof line);
    g->last = j->detail;
    return ssync_fail(err, rc, "%s", line);
}

char *graph_pfx_url(ssync_graph *g, const char *suffix)
{
    return concat(g->base, "/deviceManagement/userPfxCertificates", suffix);
}

/* GETs url and every nextLink after it, handing each page to parse. Takes url. The guards
 * (page limit, loop, foreign host, content type) hold for every collection. */
ssync_code graph_list_pages_with(ssync_graph *g, char *url, page_parse_fn parse, void *out,
                                 ssync_error *err)
{
    ssync_linkset seen = {0};
    ssync_code rc = SSYNC_OK;
    size_t pages = 0;
    while (url) {
        if (g->cancelled) {
            rc = ssync_fail(err, SSYNC_ERR_CANCELLED, "listing stopped after %zu pages", pages);
            break;
        }
        if (++pages > g->max_pages) {
            rc = ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE,
                            "listing has more than %zu pages: giving up", g->max_pages);
            break;
        }
        int fresh = ssync_linkset_add(&seen, url);
        if (fresh <= 0) {
            rc = fresh < 0
                     ? ssync_fail(err, SSYNC_ERR_NOMEM, "listing")
                     : ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE,
                                  "@odata.nextLink loop: page %zu links to an earlier page", pages);
            break;
        }
        job *j = graph_job_new("GET", url, NULL, SSYNC_HTTP_MAX_PAGE, NULL, NULL);
        url = NULL;
        if (!j) {
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "listing");
            break;
        }
        rc = graph_run_one(g, j, err);
        if (rc == SSYNC_OK && !ssync_http_is_json(j->x.content_type)) {
            char what[200];
            snprintf(what, sizeof what, "listing page has content-type '%s', not JSON",
                     j->x.content_type);
            rc = fail_resp(g, j, err, SSYNC_ERR_GRAPH_RESPONSE, what);
        }
        if (rc == SSYNC_OK) {
            ssync_error perr;
            rc = parse(j->x.resp, j->x.resp_len, out, &url, &perr);
            if (rc != SSYNC_OK)
                fail_resp(g, j, err, rc, detail_of(&perr));
        }
        if (rc == SSYNC_OK && url && !ssync_nextlink_allowed(url, g->graph)) {
            free(url);
            url = NULL;
            rc = fail_resp(g, j, err, SSYNC_ERR_GRAPH_RESPONSE,
                           "@odata.nextLink points away from the configured Graph host");
        }
        graph_job_free(j);
        if (rc != SSYNC_OK)
            break;
    }
    free(url);
    ssync_linkset_free(&seen);
    return rc;
}

static ssync_code pfx_page(const char *body, size_t len, void *out, char **next_link,
                           ssync_error *err)
{
    return ssync_pfx_page_parse(body, len, out, next_link, err);
}

static ssync_code list_pages(ssync_graph *g, char *url, ssync_pfx_list *out, ssync_error *err)
{
    return graph_list_pages_with(g, url, pfx_page, out, err);
}

/* Keeps only the entries that match upn (and thumbprint): a filter the server ignored must not
 * make us believe a record exists. */
void graph_keep_matching(ssync_pfx_list *l, size_t from, const char *upn, const char *thumb)
{
    size_t o = from;
    for (size_t i = from; i < l->count; i++) {
        ssync_pfx_entry *e = &l->items[i];
        int ok = e->user_principal_name && strcasecmp(e->user_principal_name, upn) == 0 &&
                 (!thumb || (e->thumbprint && strcasecmp(e->thumbprint, thumb) == 0));
        if (ok)
            l->items[o++] = *e;
        else
            ssync_pfx_entry_free(e);
    }
    l->count = o;
}

ssync_code ssync_graph_list_pfx(ssync_graph *g, ssync_pfx_list *out, ssync_error *err)
{
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output list");
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    char *url = graph_pfx_url(g, "");
    rc = url ? list_pages(g, url, out, err) : ssync_fail(err, SSYNC_ERR_NOMEM, "url");
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    graph_run_end(g);
    return rc;
}

static ssync_code list_filtered(ssync_graph *g, const char *upn, const char *thumb,
                                ssync_pfx_list *out, ssync_error *err)
{
    if (!upn || !*upn || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "user principal name required");
    char *q = ssync_pfx_filter_query(upn, thumb);
    if (!q)
        return ssync_fail(err, SSYNC_ERR_ARG, "cannot build a filter for '%.100s'", upn);
    char *url = graph_pfx_url(g, "?");
    char *full = url ? concat(url, q, "") : NULL;
    free(url);
    free(q);
    if (!full)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "url");
    size_t from = out->count;
    ssync_code rc = list_pages(g, full, out, err);
    if (rc == SSYNC_OK)
        graph_keep_matching(out, from, upn, thumb);
    return rc;
}

ssync_code ssync_graph_list_pfx_by_user(ssync_graph *g, const char *upn, ssync_pfx_list *out,
                                        ssync_error *err)
{
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    rc = list_filtered(g, upn, NULL, out, err);
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    graph_run_end(g);
    return rc;
}

ssync_code ssync_graph_find_pfx(ssync_graph *g, const char *upn, const char *thumbprint,
                                ssync_pfx_entry *out, ssync_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!thumbprint || !*thumbprint)
        return ssync_fail(err, SSYNC_ERR_ARG, "thumbprint required");
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    ssync_pfx_list l = {0};
    rc = list_filtered(g, upn, thumbprint, &l, err);
    if (rc == SSYNC_OK && l.count == 0)
        rc = ssync_fail(err, SSYNC_ERR_NOT_FOUND, "no userPfxCertificate for %.200s / %.64s", upn,
                        thumbprint);
    if (rc == SSYNC_OK && out) {
        *out = l.items[0];
        memset(&l.items[0], 0, sizeof l.items[0]);
    }
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    ssync_pfx_list_free(&l);
    graph_run_end(g);
    return rc;
}

static int record_id_ok(const char *id)
{
    return id && *id && strlen(id) < 80 && strspn(id, "0123456789abcdefABCDEF-") == strlen(id);
}

static ssync_code parse_entity(ssync_graph *g, job *j, ssync_pfx_entry *out, ssync_error *err)
{
    if (!ssync_http_is_json(j->x.content_type))
        return fail_resp(g, j, err, SSYNC_ERR_GRAPH_RESPONSE, "response is not JSON");
    json_t *root = json_loadb(j->x.resp ? j->x.resp : "", j->x.resp_len, 0, NULL);
    ssync_error perr;
    ssync_code rc = ssync_pfx_entry_from_json(root, out, &perr);
    json_decref(root);
    if (rc != SSYNC_OK)
        return fail_resp(g, j, err, rc, detail_of(&perr));
    return SSYNC_OK;
}

ssync_code ssync_graph_get_pfx(ssync_graph *g, const char *id, ssync_pfx_entry *out,
                               ssync_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!record_id_ok(id))
        return ssync_fail(err, SSYNC_ERR_ARG, "bad userPfxCertificate id");
    ssync_code rc = graph_run_begin(g, err);
    if (rc != SSYNC_OK)
        return rc;
    char *url = concat(g->base, "/deviceManagement/userPfxCertificates/", id);
    job *j = url ? graph_job_new("GET", url, NULL, 0, NULL, NULL) : NULL;
    if (!j) {
        graph_run_end(g);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "request");
    }
    rc = graph_run_one(g, j, err);
    ssync_pfx_entry tmp;
    if (rc == SSYNC_OK) {
        rc = parse_entity(g, j, out ? out : &tmp, err);
        if (rc == SSYNC_OK && !out)
            ssync_pfx_entry_free(&tmp);
    }
    if (rc == SSYNC_OK)
        ssync_graph_failure_clear(&g->last);
    graph_job_free(j);
    graph_run_end(g);
    return rc;
}
