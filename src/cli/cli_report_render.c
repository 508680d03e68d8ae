/* The renderings of a report: the terminal table, JSON (compact or written item by item) and,
 * through cli_report_html.c, the HTML page; by format name, into a string or straight into an
 * atomically written file. */
#include "cli_report.h"
#include "cli_text.h"

#include "common/fileio.h"
#include "source/source.h"

#include <stdlib.h>
#include <string.h>

static json_int_t num(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    return json_integer_value(b ? json_object_get(v, b) : v);
}

/* Every text field of the table and the text report goes through the output filter
 * (cli_text.h): a SAN e-mail or a file name never writes a control to the terminal or forges a
 * line. A ring of buffers: one line uses at most five fields; a longer field is cut. */
static const char *str(const json_t *o, const char *key)
{
    static char ring[8][2048];
    static unsigned at;
    const char *s = json_string_value(json_object_get(o, key));
    if (!s || cli_text_is_safe(s))
        return s ? s : "";
    char *b = ring[at++ % 8];
    cli_text_safe(b, sizeof ring[0], s);
    return b;
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
    const char *outcome = json_object_get(it, "outcome") ? str(it, "outcome") : NULL;
    const char *error = json_object_get(it, "error") ? str(it, "error") : NULL;
    const char *tp = str(it, "thumbprint");
    fprintf(out, "%-6s %-40s %-36s %s", str(it, "action"), tp[0] ? tp : "-",
            str(it, "userPrincipalName"), str(it, "reason"));
    /* a run of several sources names each item's ([source] alone is "default": not shown) */
    if (strcmp(str(it, "source"), SSYNC_SOURCE_DEFAULT_NAME) != 0)
        fprintf(out, " (source %s)", str(it, "source"));
    if (outcome)
        fprintf(out, " [%s]", outcome);
    if (error && str(it, "file")[0]) /* which file to look at */
        fprintf(out, " (file \"%s\")", str(it, "file"));
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
    fprintf(l->out, "  %s %s %s", str(it, "action"), str(it, "thumbprint"),
            str(it, "userPrincipalName"));
    if (str(it, "file")[0])
        fprintf(l->out, " (file \"%s\")", str(it, "file"));
    fprintf(l->out, ": %s", str(it, "error"));
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

/* "source NAME (TYPE PATH): N items" per source; a source left out says why. */
static void sources_lines(const json_t *doc, FILE *out)
{
    const json_t *v = json_object_get(doc, "sources");
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *o = json_array_get(v, i);
        fprintf(out, "source:      %s (%s %s): ", str(o, "name"), str(o, "type"), str(o, "path"));
        if (json_object_get(o, "error"))
            fprintf(out, "not read: %s\n", str(o, "error"));
        else
            fprintf(out, "%lld items\n", (long long)num(o, "items", NULL));
    }
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
    sources_lines(doc, out);
    const json_t *problems = json_object_get(doc, "problems");
    if (json_array_size(problems)) {
        fprintf(out, "\nproblems:\n");
        size_t i;
        const json_t *p;
        json_array_foreach(problems, i, p)
            fprintf(out, "  %s %s: %s (%s)\n", str(p, "what"), str(p, "path"), str(p, "error"),
                    str(p, "effect"));
    }
    struct text_list l = {out, 1};
    cli_report_each_item(r, failed_line, &l);
    l.first = 1;
    cli_report_each_warning(r, warning_line, &l);
    fprintf(out, "\nitems:\n");
    cli_report_each_item(r, item_line, out);
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
    cli_report_each_warning(r, json_element, &l);
    fprintf(out, "]%s\"items\":%s[", sep, flags & JSON_COMPACT ? "" : " ");
    l.first = 1;
    cli_report_each_item(r, json_element, &l);
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
        cli_report_each_item(r, item_line, out);
        totals(r->head, out);
    }
    fflush(out);
}
