/* Reports: one JSON document per run (the renderings: cli_report_render.c, cli_report_html.c). */
#include "cli_report.h"

#include "common/fileio.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void iso_time(char out[24], time_t t)
{
    struct tm tm;
    if (!t || !gmtime_r(&t, &tm) || !strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm))
        out[0] = '\0';
}

static void set_str(json_t *o, const char *key, const char *value)
{
    if (value)
        json_object_set_new(o, key, json_string(value));
}

static void set_int(json_t *o, const char *key, size_t value)
{
    json_object_set_new(o, key, json_integer((json_int_t)value));
}

const char *cli_report_upn(const ssync_plan_item *it)
{
    return it->upn ? it->upn : it->cert_upn ? it->cert_upn : "";
}

static json_t *build_item(const ssync_plan_item *it, const ssync_item_result *res,
                          const char *error)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_str(o, "thumbprint", it->thumbprint);
    set_str(o, "userPrincipalName", cli_report_upn(it));
    set_str(o, "action", ssync_plan_action_name(it->action));
    set_str(o, "reason", it->reason);
    set_str(o, "file", it->path ? it->path : "");
    set_str(o, "source", it->source ? it->source : SSYNC_SOURCE_DEFAULT_NAME);
    if (it->serial[0])
        set_str(o, "serial", it->serial);
    char t[24];
    iso_time(t, it->not_after);
    if (t[0])
        set_str(o, "notAfter", t);
    if (it->request_id > 0)
        json_object_set_new(o, "caRequestId", json_integer(it->request_id));
    if (res)
        set_str(o, "outcome", error ? "failed" : "done");
    set_str(o, "error", error);
    /* the stable name from the error table, for scripts ("SSYNC_ERR_KRA_NOT_HELD") */
    ssync_code code = it->code != SSYNC_OK ? it->code : res && res->error ? res->code : SSYNC_OK;
    if (error && code != SSYNC_OK)
        set_str(o, "code", ssync_code_name(code));
    if (res && res->request_id[0])
        set_str(o, "requestId", res->request_id);
    if (res && res->cancelled)
        json_object_set_new(o, "cancelled", json_true());
    if (ssync_has_text(it->warning))
        set_str(o, "warning", it->warning);
    return o;
}

static json_t *build_warning(const ssync_plan_item *it)
{
    return json_pack("{s:s, s:s, s:s}", "thumbprint", it->thumbprint, "userPrincipalName",
                     cli_report_upn(it), "warning", it->warning);
}

static const char *item_error(const ssync_plan_item *it, const ssync_item_result *res)
{
    return it->code != SSYNC_OK ? ssync_plan_item_error(it) : res ? res->error : NULL;
}

cli_run_report *cli_report_build(const struct cli_report_meta *m, const ssync_plan *p,
                                 const ssync_item_result *results)
{
    size_t n_act[4] = {0}, failed = 0, done = 0, skipped = 0, cancelled = 0, writes = 0;
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        const ssync_item_result *res = results ? &results[i] : NULL;
        const char *error = item_error(it, res);
        int is_write = it->action == SSYNC_ACT_UPLOAD || it->action == SSYNC_ACT_REMOVE;
        if (error)
            failed++;
        else if ((unsigned)it->action < 4)
            n_act[it->action]++;
        if (res && !error && !is_write)
            skipped++;
        if (res && res->wrote)
            done++;
        if (res && res->cancelled)
            cancelled++;
        if (it->code == SSYNC_OK && is_write)
            writes++;
    }
    cli_run_report *r = calloc(1, sizeof *r);
    json_t *doc = json_object();
    if (!r || !doc) {
        free(r);
        json_decref(doc);
        return NULL;
    }
    r->head = doc;
    r->plan = p;
    r->results = results;
    set_str(doc, "command", m->command);
    if (m->run_id)
        json_object_set_new(doc, "runId", json_integer(m->run_id));
    set_str(doc, "config", m->config_path);
    char t[24];
    iso_time(t, m->started);
    if (t[0])
        set_str(doc, "started", t);
    iso_time(t, m->ended);
    if (t[0])
        set_str(doc, "ended", t);
    json_t *counts = json_object();
    set_int(counts, "upload", n_act[SSYNC_ACT_UPLOAD]);
    set_int(counts, "remove", n_act[SSYNC_ACT_REMOVE]);
    set_int(counts, "keep", n_act[SSYNC_ACT_KEEP]);
    set_int(counts, "skip", n_act[SSYNC_ACT_SKIP]);
    set_int(counts, "failed", failed);
    json_object_set_new(doc, "counts", counts);
    if (results) {
        json_object_set_new(doc, "interrupted", json_boolean(m->interrupted));
        json_t *oc = json_object();
        set_int(oc, "done", done);
        set_int(oc, "failed", failed);
        set_int(oc, "skipped", skipped);
        set_int(oc, "resumed", m->resumed);
        set_int(oc, "cancelled", cancelled);
        json_object_set_new(doc, "outcomes", oc);
        json_object_set_new(
            doc, "writes",
            json_pack("{s:I, s:I}", "planned", (json_int_t)writes, "done", (json_int_t)done));
    }
    if (m->sources)
        json_object_set(doc, "sources", m->sources);
    if (m->stats)
        json_object_set_new(
            doc, "graph",
            json_pack("{s:I, s:I, s:I, s:I}", "requests", (json_int_t)m->stats->requests, "writes",
                      (json_int_t)m->stats->writes, "retries", (json_int_t)m->stats->retries,
                      "throttled", (json_int_t)m->stats->throttled));
    if (m->problems && json_array_size(m->problems))
        json_object_set_new(doc, "problems", json_deep_copy(m->problems));
    return r;
}

void cli_report_free(cli_run_report *r)
{
    if (r) {
        json_decref(r->head);
        free(r);
    }
}

size_t cli_report_count(const cli_run_report *r)
{
    return r->plan->count;
}

json_t *cli_report_item(const cli_run_report *r, size_t i)
{
    const ssync_plan_item *it = &r->plan->items[i];
    const ssync_item_result *res = r->results ? &r->results[i] : NULL;
    return build_item(it, res, item_error(it, res));
}

void cli_report_each_warning(const cli_run_report *r, void (*fn)(const json_t *w, void *ctx),
                             void *ctx)
{
    for (size_t i = 0; i < r->plan->count; i++) {
        if (!ssync_has_text(r->plan->items[i].warning))
            continue;
        json_t *w = build_warning(&r->plan->items[i]);
        if (w)
            fn(w, ctx);
        json_decref(w);
    }
}

void cli_report_each_item(const cli_run_report *r, void (*fn)(const json_t *it, void *ctx),
                          void *ctx)
{
    for (size_t i = 0; i < r->plan->count; i++) {
        json_t *o = cli_report_item(r, i);
        if (o)
            fn(o, ctx);
        json_decref(o);
    }
}

static void append_to(const json_t *o, void *ctx)
{
    json_array_append((json_t *)ctx, (json_t *)o);
}

json_t *cli_report_document(const cli_run_report *r)
{
    json_t *doc = json_deep_copy(r->head), *warnings = json_array(), *items = json_array();
    if (!doc || !warnings || !items) {
        json_decref(doc);
        json_decref(warnings);
        json_decref(items);
        return NULL;
    }
    cli_report_each_warning(r, append_to, warnings);
    cli_report_each_item(r, append_to, items);
    json_object_set_new(doc, "warnings", warnings);
    json_object_set_new(doc, "items", items);
    return doc;
}

size_t cli_report_failed(const cli_run_report *r)
{
    return (size_t)json_integer_value(
        json_object_get(json_object_get(r->head, "counts"), "failed"));
}

const char *cli_report_format_for(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    if (n >= 5 && strcasecmp(path + n - 5, ".json") == 0)
        return "json";
    if ((n >= 5 && strcasecmp(path + n - 5, ".html") == 0) ||
        (n >= 4 && strcasecmp(path + n - 4, ".htm") == 0))
        return "html";
    return "text";
}

int cli_report_dir(char *out, size_t size, const char *state_path)
{
    const char *slash = strrchr(state_path, '/');
    int n = slash ? snprintf(out, size, "%.*s/reports", (int)(slash - state_path), state_path)
                  : snprintf(out, size, "reports");
    if (slash == state_path) /* "/state.db" */
        n = snprintf(out, size, "/reports");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int cli_report_file_name(char *out, size_t size, const char *dir, const char *command,
                         long long run_id, time_t when, const char *ext)
{
    struct tm tm;
    char stamp[20];
    if (!gmtime_r(&when, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm))
        return -1;
    int n = snprintf(out, size, "%s/%s-%lld-%s.%s", dir, command, run_id, stamp, ext);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}
