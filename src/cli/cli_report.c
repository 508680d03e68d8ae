/* Reports: one JSON document per run, rendered for the terminal and for files. */
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

static json_t *build_item(const ssync_plan_item *it, const struct cli_item_result *res,
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

static const char *item_error(const ssync_plan_item *it, const struct cli_item_result *res)
{
    return it->code != SSYNC_OK ? ssync_plan_item_error(it) : res ? res->error : NULL;
}

cli_run_report *cli_report_build(const struct cli_report_meta *m, const ssync_plan *p,
                                 const struct cli_item_result *results)
{
    size_t n_act[4] = {0}, failed = 0, done = 0, skipped = 0, cancelled = 0, writes = 0;
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        const struct cli_item_result *res = results ? &results[i] : NULL;
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
    if (m->stats)
        json_object_set_new(
            doc, "graph",
            json_pack("{s:I, s:I, s:I, s:I}", "requests", (json_int_t)m->stats->requests, "writes",
                      (json_int_t)m->stats->writes, "retries", (json_int_t)m->stats->retries,
                      "throttled", (json_int_t)m->stats->throttled));
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
    const struct cli_item_result *res = r->results ? &r->results[i] : NULL;
    return build_item(it, res, item_error(it, res));
}

/* Calls fn with each warning object (a new reference each, released after the call). */
static void each_warning(const cli_run_report *r, void (*fn)(const json_t *w, void *ctx), void *ctx)
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

/* Calls fn with each item object in plan order. */
static void each_item(const cli_run_report *r, void (*fn)(const json_t *it, void *ctx), void *ctx)
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
    each_warning(r, append_to, warnings);
    each_item(r, append_to, items);
    json_object_set_new(doc, "warnings", warnings);
    json_object_set_new(doc, "items", items);
    return doc;
}

static json_int_t num(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    return json_integer_value(b ? json_object_get(v, b) : v);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

size_t cli_report_failed(const cli_run_report *r)
{
    return (size_t)num(r->head, "counts", "failed");
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

static void totals(const json_t *doc, FILE *out)
{
    fprintf(out, "%s: %lld upload, %lld remove, %lld keep, %lld skip, %lld failed\n",
            str(doc, "command"), (long long)num(doc, "counts", "upload"),
            (long long)num(doc, "counts", "remove"), (long long)num(doc, "counts", "keep"),
            (long long)num(doc, "counts", "skip"), (long long)num(doc, "counts", "failed"));
}

/* One line per item: action, thumbprint, user, reason, [outcome]: error; a warning below. */
static void item_line(const json_t *it, void *ctx)
{
    FILE *out = ctx;
    const char *outcome = json_string_value(json_object_get(it, "outcome"));
    const char *error = json_string_value(json_object_get(it, "error"));
    const char *tp = str(it, "thumbprint");
    fprintf(out, "%-6s %-40s %-36s %s", str(it, "action"), tp[0] ? tp : "-",
            str(it, "userPrincipalName"), str(it, "reason"));
    if (outcome)
        fprintf(out, " [%s]", outcome);
    if (error)
        fprintf(out, ": %s", error);
    fputc('\n', out);
    if (json_object_get(it, "warning"))
        fprintf(out, "       warning: %s\n", str(it, "warning"));
}

struct text_list {
    FILE *out;
    int first;
};

static void failed_line(const json_t *it, void *ctx)
{
    struct text_list *l = ctx;
    if (!json_object_get(it, "error"))
        return;
    if (l->first)
        fprintf(l->out, "\nfailed:\n");
    l->first = 0;
    fprintf(l->out, "  %s %s %s: %s", str(it, "action"), str(it, "thumbprint"),
            str(it, "userPrincipalName"), str(it, "error"));
    if (json_object_get(it, "requestId"))
        fprintf(l->out, " (request-id %s)", str(it, "requestId"));
    fputc('\n', l->out);
}

static void warning_line(const json_t *w, void *ctx)
{
    struct text_list *l = ctx;
    if (l->first)
        fprintf(l->out, "\nwarnings:\n");
    l->first = 0;
    fprintf(l->out, "  %s %s: %s\n", str(w, "thumbprint"), str(w, "userPrincipalName"),
            str(w, "warning"));
}

static void render_text(const cli_run_report *r, FILE *out)
{
    const json_t *doc = r->head;
    fprintf(out, "smimesync %s report\n", str(doc, "command"));
    if (json_object_get(doc, "runId"))
        fprintf(out, "run:         %lld\n", (long long)num(doc, "runId", NULL));
    fprintf(out, "config:      %s\n", str(doc, "config"));
    fprintf(out, "started:     %s\n", str(doc, "started"));
    fprintf(out, "ended:       %s\n", str(doc, "ended"));
    if (json_object_get(doc, "interrupted"))
        fprintf(out, "interrupted: %s\n",
                json_is_true(json_object_get(doc, "interrupted")) ? "yes" : "no");
    fprintf(out, "counts:      %lld upload, %lld remove, %lld keep, %lld skip, %lld failed\n",
            (long long)num(doc, "counts", "upload"), (long long)num(doc, "counts", "remove"),
            (long long)num(doc, "counts", "keep"), (long long)num(doc, "counts", "skip"),
            (long long)num(doc, "counts", "failed"));
    if (json_object_get(doc, "outcomes"))
        fprintf(out,
                "outcomes:    %lld done, %lld failed, %lld skipped, %lld resumed, %lld "
                "cancelled\n",
                (long long)num(doc, "outcomes", "done"), (long long)num(doc, "outcomes", "failed"),
                (long long)num(doc, "outcomes", "skipped"),
                (long long)num(doc, "outcomes", "resumed"),
                (long long)num(doc, "outcomes", "cancelled"));
    if (json_object_get(doc, "writes"))
        fprintf(out, "writes:      %lld of %lld done\n", (long long)num(doc, "writes", "done"),
                (long long)num(doc, "writes", "planned"));
    if (json_object_get(doc, "graph"))
        fprintf(out, "graph:       %lld requests, %lld writes, %lld retries, %lld throttled\n",
                (long long)num(doc, "graph", "requests"), (long long)num(doc, "graph", "writes"),
                (long long)num(doc, "graph", "retries"), (long long)num(doc, "graph", "throttled"));
    struct text_list l = {out, 1};
    each_item(r, failed_line, &l);
    l.first = 1;
    each_warning(r, warning_line, &l);
    fprintf(out, "\nitems:\n");
    each_item(r, item_line, out);
}

struct json_list {
    FILE *out;
    size_t flags;
    int first;
};

static void json_element(const json_t *o, void *ctx)
{
    struct json_list *l = ctx;
    if (!l->first)
        fputs(l->flags & JSON_COMPACT ? "," : ",\n", l->out);
    l->first = 0;
    json_dumpf(o, l->out, l->flags);
}

/* The document as cli_report_document would give it, written one item at a time: the head's
 * members, then "warnings" and "items". */
static void dump_json(const cli_run_report *r, FILE *out, size_t flags)
{
    char *head = json_dumps(r->head, flags);
    if (!head)
        return;
    size_t n = strlen(head);
    while (n && head[n - 1] != '}') /* the head is an object: reopen it */
        n--;
    if (n)
        n--;
    while (n && (head[n - 1] == '\n' || head[n - 1] == ' '))
        n--;
    const char *sep = flags & JSON_COMPACT ? "," : ",\n";
    fwrite(head, 1, n, out);
    fprintf(out, "%s\"warnings\":%s[", json_object_size(r->head) ? sep : "",
            flags & JSON_COMPACT ? "" : " ");
    struct json_list l = {out, flags, 1};
    each_warning(r, json_element, &l);
    fprintf(out, "]%s\"items\":%s[", sep, flags & JSON_COMPACT ? "" : " ");
    l.first = 1;
    each_item(r, json_element, &l);
    fputs("]}\n", out);
    free(head);
}

static void render_json(const cli_run_report *r, FILE *out)
{
    dump_json(r, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

/* The renderers, by format name (HTML: cli_report_html.c). */
static const struct {
    const char *name;
    void (*render)(const cli_run_report *r, FILE *out);
} renderers[] = {
    {"text", render_text},
    {"json", render_json},
    {"html", cli_report_render_html},
};

static void (*renderer_for(const char *format))(const cli_run_report *, FILE *)
{
    for (size_t k = 0; k < sizeof renderers / sizeof renderers[0]; k++)
        if (strcmp(renderers[k].name, format) == 0)
            return renderers[k].render;
    return NULL;
}

char *cli_report_render(const cli_run_report *r, const char *format)
{
    void (*render)(const cli_run_report *, FILE *) = renderer_for(format);
    if (!render)
        return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    render(r, f);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

ssync_code cli_report_write(const cli_run_report *r, const char *path, ssync_error *err)
{
    void (*render)(const cli_run_report *, FILE *) = renderer_for(cli_report_format_for(path));
    ssync_atomic_file af;
    ssync_code rc = render ? ssync_atomic_open(path, 0640, &af, err)
                           : ssync_fail(err, SSYNC_ERR_ARG, "report %s", path);
    if (rc != SSYNC_OK)
        return rc;
    render(r, af.f);
    return ssync_atomic_commit(&af, err);
}

void cli_report_print(const cli_run_report *r, int json, FILE *out)
{
    if (json) {
        dump_json(r, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    } else {
        each_item(r, item_line, out);
        totals(r->head, out);
    }
    fflush(out);
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
