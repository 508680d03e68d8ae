/* Test-only endpoints under /emu (no authentication, loopback peers only): GET /emu/records,
 * DELETE /emu/records, GET /emu/stats, POST /emu/device/fetch. */
#include "emu.h"

#include <stdio.h>
#include <string.h>

void emu_stats_count(emu_ctx *ctx, const char *method, const char *route, int status)
{
    char key[96], st[16];
    snprintf(key, sizeof(key), "%s %s", method, route);
    snprintf(st, sizeof(st), "%d", status);
    pthread_mutex_lock(&ctx->lock);
    emu_stats *s = &ctx->stats;
    s->requests++;
    if (status == 0)
        s->dropped++;
    json_t *v = json_object_get(s->by_route, key);
    json_object_set_new(s->by_route, key, json_integer(json_integer_value(v) + 1));
    if (status) {
        v = json_object_get(s->by_status, st);
        json_object_set_new(s->by_status, st, json_integer(json_integer_value(v) + 1));
    }
    pthread_mutex_unlock(&ctx->lock);
}

static void records(emu_ctx *ctx, emu_resp *resp)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&ctx->lock);
    uint64_t seq = 0;
    json_t *rec;
    while ((rec = emu_store_next(ctx->store, seq, &seq)) != NULL)
        json_array_append_new(arr, json_deep_copy(rec));
    size_t n = emu_store_count(ctx->store);
    pthread_mutex_unlock(&ctx->lock);
    emu_resp_json(resp, 200, json_pack("{s:I, s:o}", "count", (json_int_t)n, "records", arr));
}

static void clear(emu_ctx *ctx, emu_resp *resp)
{
    pthread_mutex_lock(&ctx->lock);
    size_t n = emu_store_count(ctx->store);
    emu_store *fresh = emu_store_new();
    if (fresh) {
        emu_store_free(ctx->store);
        ctx->store = fresh;
    }
    pthread_mutex_unlock(&ctx->lock);
    emu_resp_json(resp, 200, json_pack("{s:I}", "deleted", (json_int_t)(fresh ? n : 0)));
}

static void stats(emu_ctx *ctx, emu_resp *resp)
{
    pthread_mutex_lock(&ctx->lock);
    emu_stats *s = &ctx->stats;
    json_t *faults = json_array();
    for (size_t i = 0; i < ctx->nfaults; i++)
        json_array_append_new(faults, json_pack("{s:s, s:I, s:I}", "spec", ctx->faults[i].spec,
                                                "seen", (json_int_t)ctx->faults[i].seen, "fired",
                                                (json_int_t)ctx->faults[i].fired));
    json_int_t sent429 = json_integer_value(json_object_get(s->by_status, "429"));
    json_t *body = json_pack(
        "{s:I, s:O, s:O, s:I, s:I, s:I, s:I, s:o, s:I, s:{s:i, s:f}, s:{s:i, s:f}}", "requests",
        (json_int_t)s->requests, "byRoute", s->by_route, "byStatus", s->by_status, "throttled",
        (json_int_t)s->throttled, "sent429", sent429, "faultsFired", (json_int_t)s->faults_fired,
        "dropped", (json_int_t)s->dropped, "faults", faults, "records",
        (json_int_t)emu_store_count(ctx->store), "writeLimit", "n", (int)ctx->write_window.limit.n,
        "seconds", ctx->write_window.limit.window, "requestLimit", "n",
        (int)ctx->request_window.limit.n, "seconds", ctx->request_window.limit.window);
    /* byRoute/byStatus are copied while the lock is held: the response outlives it */
    json_t *copy = json_deep_copy(body);
    json_decref(body);
    pthread_mutex_unlock(&ctx->lock);
    emu_resp_json(resp, 200, copy);
}

void emu_admin_route(emu_ctx *ctx, emu_req *req, emu_resp *resp, const char *rest)
{
    if (!req->peer_loopback) {
        emu_graph_error(req, resp, 403, "Forbidden", "The /emu endpoints answer loopback only.");
        return;
    }
    const char *m = req->method;
    if (strcmp(rest, "/records") == 0) {
        if (strcmp(m, "GET") == 0)
            records(ctx, resp);
        else if (strcmp(m, "DELETE") == 0)
            clear(ctx, resp);
        else {
            emu_graph_error(req, resp, 405, "MethodNotAllowed",
                            "The requested resource does not support http method '%s'.", m);
            emu_resp_header(resp, "Allow", "GET, DELETE");
        }
    } else if (strcmp(rest, "/stats") == 0) {
        if (strcmp(m, "GET") == 0) {
            stats(ctx, resp);
        } else {
            emu_graph_error(req, resp, 405, "MethodNotAllowed",
                            "The requested resource does not support http method '%s'.", m);
            emu_resp_header(resp, "Allow", "GET");
        }
    } else if (strcmp(rest, "/devices/checkin") == 0) {
        if (strcmp(m, "POST") != 0) {
            emu_graph_error(req, resp, 405, "MethodNotAllowed",
                            "The requested resource does not support http method '%s'.", m);
            emu_resp_header(resp, "Allow", "POST");
        } else if (!ctx->tenant) {
            emu_graph_error(req, resp, 404, "ResourceNotFound",
                            "No tenant description (--tenant-config): no managed devices.");
        } else {
            size_t n = emu_delivery_all(ctx);
            emu_resp_json(resp, 200, json_pack("{s:I}", "delivered", (json_int_t)n));
        }
    } else if (strcmp(rest, "/device/fetch") == 0) {
        if (strcmp(m, "POST") == 0) {
            emu_device_endpoint(ctx, req, resp);
        } else {
            emu_graph_error(req, resp, 405, "MethodNotAllowed",
                            "The requested resource does not support http method '%s'.", m);
            emu_resp_header(resp, "Allow", "POST");
        }
    } else {
        emu_graph_error(req, resp, 404, "ResourceNotFound", "No emulator endpoint at /emu%.100s.",
                        rest);
    }
}
