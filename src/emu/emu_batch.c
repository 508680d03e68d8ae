/* JSON batching (Graph docs: JSON batching): POST /{version}/$batch with up to 20 requests, each
 * run through the normal dispatcher (so each is authenticated, throttled and fault-injected on its
 * own), in order; dependsOn on a failed request gives 424. */
#include "emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GRAPH_JSON                                                                                 \
    "application/"                                                                                 \
    "json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

static int bad(const emu_req *req, emu_resp *resp, const char *msg, const char *id)
{
    if (id)
        emu_graph_error(req, resp, 400, "BadRequest", "%s (request id '%.60s')", msg, id);
    else
        emu_graph_error(req, resp, 400, "BadRequest", "%s", msg);
    return -1;
}

static int validate(const emu_req *req, emu_resp *resp, json_t *requests)
{
    size_t n = json_array_size(requests);
    if (!json_is_array(requests) || n == 0)
        return bad(req, resp, "Invalid batch payload format: 'requests' must be a non-empty array.",
                   NULL);
    if (n > EMU_MAX_BATCH)
        return bad(req, resp, "Number of batch requests exceeds the limit of 20.", NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(requests, i);
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *method = json_string_value(json_object_get(r, "method"));
        const char *url = json_string_value(json_object_get(r, "url"));
        if (!json_is_object(r) || !id || !*id)
            return bad(req, resp, "Every batch request needs a non-empty string 'id'.", NULL);
        for (size_t j = 0; j < i; j++)
            if (strcmp(id, json_string_value(json_object_get(json_array_get(requests, j), "id"))) ==
                0)
                return bad(req, resp, "Batch request ids must be unique.", id);
        if (!method || !(strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ||
                         strcmp(method, "PATCH") == 0 || strcmp(method, "PUT") == 0 ||
                         strcmp(method, "DELETE") == 0))
            return bad(req, resp, "Invalid or missing 'method'.", id);
        if (!url || !*url || strncasecmp(url, "http:", 5) == 0 ||
            strncasecmp(url, "https:", 6) == 0)
            return bad(req, resp, "'url' must be relative to the version root, e.g. /users.", id);
        json_t *headers = json_object_get(r, "headers");
        if (headers && !json_is_object(headers))
            return bad(req, resp, "'headers' must be an object.", id);
        const char *hk;
        json_t *hv;
        int has_ct = 0;
        json_object_foreach(headers, hk, hv)
        {
            if (!json_is_string(hv))
                return bad(req, resp, "Header values must be strings.", id);
            if (strcasecmp(hk, "Content-Type") == 0)
                has_ct = 1;
        }
        if (json_object_get(r, "body") && !has_ct)
            return bad(req, resp,
                       "A Content-Type header is required in 'headers' when 'body' is present.",
                       id);
        json_t *deps = json_object_get(r, "dependsOn");
        if (deps) {
            size_t k;
            json_t *d;
            if (!json_is_array(deps))
                return bad(req, resp, "'dependsOn' must be an array of request ids.", id);
            json_array_foreach(deps, k, d)
            {
                int found = 0;
                for (size_t j = 0; j < i; j++)
                    if (json_is_string(d) &&
                        strcmp(json_string_value(d), json_string_value(json_object_get(
                                                         json_array_get(requests, j), "id"))) == 0)
                        found = 1;
                if (!found)
                    return bad(req, resp, "'dependsOn' names an unknown or later request.", id);
            }
        }
    }
    return 0;
}

static int dep_failed(json_t *deps, json_t *responses)
{
    size_t k, j;
    json_t *d, *r;
    json_array_foreach(deps, k, d)
    {
        json_array_foreach(responses, j, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "id")), json_string_value(d)) == 0) {
                json_int_t st = json_integer_value(json_object_get(r, "status"));
                if (st < 200 || st >= 300)
                    return 1;
            }
        }
    }
    return 0;
}

/* Runs one inner request; returns its response object, or NULL when it dropped the
 * connection. */
static json_t *run_one(emu_ctx *ctx, const emu_req *outer, json_t *r, const char *version,
                       json_t *responses)
{
    const char *id = json_string_value(json_object_get(r, "id"));
    const char *url = json_string_value(json_object_get(r, "url"));
    emu_req in;
    emu_resp ir = {0};
    memset(&in, 0, sizeof(in));
    in.method = json_string_value(json_object_get(r, "method"));
    in.in_batch = 1;
    in.peer_loopback = outer->peer_loopback;
    emu_guid(in.request_id);
    const char *q = strchr(url, '?');
    size_t plen = q ? (size_t)(q - url) : strlen(url);
    char *dpath = emu_url_decode(url, plen);
    size_t need = strlen(version) + (dpath ? strlen(dpath) : 0) + 3;
    in.path = malloc(need);
    json_t *out = NULL;
    char *body = NULL;
    if (in.path && dpath) {
        snprintf(in.path, need, "/%s%s%s", version, dpath[0] == '/' ? "" : "/", dpath);
    } else { /* a bad %-escape: never route an unwritten path; answered 400 below */
        free(in.path);
        in.path = NULL;
    }
    free(dpath);
    const char *hk;
    json_t *hv;
    json_object_foreach(json_object_get(r, "headers"), hk, hv)
    {
        if (strcasecmp(hk, "Authorization") != 0)
            emu_kv_add(&in.headers, hk, json_string_value(hv));
    }
    const char *auth = emu_kv_get_ci(&outer->headers, "Authorization");
    if (auth)
        emu_kv_add(&in.headers, "Authorization", auth);
    const char *crid = emu_kv_get_ci(&in.headers, "client-request-id");
    if (crid)
        snprintf(in.client_request_id, sizeof(in.client_request_id), "%s", crid);
    else
        emu_guid(in.client_request_id);
    if (!in.path || (q && emu_form_parse(q + 1, strlen(q + 1), &in.query) != 0)) {
        emu_graph_error(&in, &ir, 400, "BadRequest", "The request URL is not valid.");
    } else if (json_object_get(r, "dependsOn") &&
               dep_failed(json_object_get(r, "dependsOn"), responses)) {
        emu_graph_error(&in, &ir, 424, "FailedDependency",
                        "The request could not run because a request it depends on failed.");
    } else {
        json_t *b = json_object_get(r, "body");
        if (b) {
            body = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
            in.body = (const unsigned char *)(body ? body : "");
            in.body_len = body ? strlen(body) : 0;
            in.body_too_large = in.body_len > EMU_MAX_BODY;
        } else {
            in.body = (const unsigned char *)"";
        }
        emu_dispatch(ctx, &in, &ir);
    }
    if (!ir.drop) {
        json_t *headers = json_object();
        if (ir.json)
            json_object_set_new(headers, "Content-Type",
                                json_string(ir.content_type ? ir.content_type : GRAPH_JSON));
        for (size_t i = 0; i < ir.headers.n; i++)
            json_object_set_new(headers, ir.headers.items[i].key,
                                json_string(ir.headers.items[i].value));
        out = json_pack("{s:s, s:i, s:o}", "id", id, "status", ir.status, "headers", headers);
        if (ir.json)
            json_object_set(out, "body", ir.json);
    }
    free(body);
    free(in.path);
    emu_kv_free(&in.query);
    emu_kv_free(&in.headers);
    emu_resp_free(&ir);
    return out;
}

void emu_batch(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *version)
{
    if (strcmp(req->method, "POST") != 0) {
        emu_graph_error(req, resp, 405, "MethodNotAllowed",
                        "The requested resource does not support http method '%s'.", req->method);
        emu_resp_header(resp, "Allow", "POST");
        return;
    }
    json_t *in = emu_body_object(req, resp);
    if (!in)
        return;
    json_t *requests = json_object_get(in, "requests");
    if (validate(req, resp, requests) != 0) {
        json_decref(in);
        return;
    }
    json_t *responses = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(requests, i, r)
    {
        json_t *one = run_one(ctx, req, r, version, responses);
        if (!one) { /* an injected drop on an inner request drops the whole batch */
            json_decref(responses);
            json_decref(in);
            emu_resp_reset(resp);
            resp->drop = 1;
            return;
        }
        json_array_append_new(responses, one);
    }
    json_decref(in);
    emu_resp_json(resp, 200, json_pack("{s:o}", "responses", responses));
}
