/* Reports: one JSON document per run, rendered for the terminal and for files. */
#include "cli_report.h"

#include "fileio.h"

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

static const char *item_upn(const ssync_plan_item *it)
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
    set_str(o, "userPrincipalName", item_upn(it));
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

json_t *cli_report_build(const struct cli_report_meta *m, const ssync_plan *p,
                         const struct cli_item_result *results)
{
    size_t n_act[4] = {0}, failed = 0, done = 0, skipped = 0, cancelled = 0, writes = 0;
    json_t *items = json_array(), *warnings = json_array();
    for (size_t i = 0; items && warnings && i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        const struct cli_item_result *res = results ? &results[i] : NULL;
        const char *error = it->code != SSYNC_OK ? ssync_plan_item_error(it)
                            : res                ? res->error
                                                 : NULL;
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
        json_array_append_new(items, build_item(it, res, error));
        if (ssync_has_text(it->warning))
            json_array_append_new(warnings, json_pack("{s:s, s:s, s:s}", "thumbprint",
                                                      it->thumbprint, "userPrincipalName",
                                                      item_upn(it), "warning", it->warning));
    }
    json_t *doc = json_object();
    if (!doc || !items || !warnings) {
        json_decref(doc);
        json_decref(items);
        json_decref(warnings);
        return NULL;
    }
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

size_t cli_report_failed(const json_t *doc)
{
    return (size_t)num(doc, "counts", "failed");
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
static void item_lines(const json_t *doc, FILE *out)
{
    size_t i;
    const json_t *it;
    json_array_foreach(json_object_get(doc, "items"), i, it)
    {
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
}

static void render_text(const json_t *doc, FILE *out)
{
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
    size_t i;
    const json_t *it;
    int first = 1;
    json_array_foreach(json_object_get(doc, "items"), i, it)
    {
        if (!json_object_get(it, "error"))
            continue;
        if (first)
            fprintf(out, "\nfailed:\n");
        first = 0;
        fprintf(out, "  %s %s %s: %s", str(it, "action"), str(it, "thumbprint"),
                str(it, "userPrincipalName"), str(it, "error"));
        if (json_object_get(it, "requestId"))
            fprintf(out, " (request-id %s)", str(it, "requestId"));
        fputc('\n', out);
    }
    first = 1;
    json_array_foreach(json_object_get(doc, "warnings"), i, it)
    {
        if (first)
            fprintf(out, "\nwarnings:\n");
        first = 0;
        fprintf(out, "  %s %s: %s\n", str(it, "thumbprint"), str(it, "userPrincipalName"),
                str(it, "warning"));
    }
    fprintf(out, "\nitems:\n");
    item_lines(doc, out);
}

static void render_json(const json_t *doc, FILE *out)
{
    json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', out);
}

/* The renderers, by format name (HTML: cli_report_html.c). */
static const struct {
    const char *name;
    void (*render)(const json_t *doc, FILE *out);
} renderers[] = {
    {"text", render_text},
    {"json", render_json},
    {"html", cli_report_render_html},
};

char *cli_report_render(const json_t *doc, const char *format)
{
    for (size_t k = 0; k < sizeof renderers / sizeof renderers[0]; k++) {
        if (strcmp(renderers[k].name, format) != 0)
            continue;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        if (!f)
            return NULL;
        renderers[k].render(doc, f);
        if (fclose(f) != 0) {
            free(text);
            return NULL;
        }
        return text;
    }
    return NULL;
}

ssync_code cli_report_write(const json_t *doc, const char *path, ssync_error *err)
{
    char *text = cli_report_render(doc, cli_report_format_for(path));
    if (!text)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "report %s", path);
    ssync_code rc = ssync_write_file_atomic(path, text, strlen(text), 0640, err);
    free(text);
    return rc;
}

void cli_report_print(const json_t *doc, int json, FILE *out)
{
    if (json) {
        json_dumpf(doc, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fputc('\n', out);
    } else {
        item_lines(doc, out);
        totals(doc, out);
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
