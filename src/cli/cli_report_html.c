/* The HTML rendering of a report: one self-contained page (inline style, no script, no external
 * asset) that a person can open from a mail or a share. Totals on top, then one block per user
 * with a row per certificate: action, reason, outcome, Graph request-id of a failure. */
#include "cli_report.h"
#include "cli_text.h"

#include <stdlib.h>
#include <string.h>

static const char *hstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long hnum(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    return (long long)json_integer_value(b ? json_object_get(v, b) : v);
}

/* Text into HTML: through the output filter (controls, bidi overrides: cli_text.h), then the
 * five characters that matter. */
void cli_html_esc(FILE *out, const char *text)
{
    int plain = cli_text_is_safe(text);
    char *safe = plain ? NULL : cli_text_safe_dup(text);
    const char *s = plain ? text : safe ? safe : "(out of memory)";
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
    free(safe);
}

static const char html_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em;margin:0 0 .3em}.meta{color:#555;margin-bottom:1em}"
    ".totals{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}"
    ".total{border:1px solid #ccc;border-radius:6px;padding:.4em .8em;min-width:5.5em}"
    ".total b{display:block;font-size:1.5em}.total.bad{border-color:#c00;color:#c00}"
    "table{border-collapse:collapse;width:100%;table-layout:fixed}"
    "th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top;"
    "overflow-wrap:anywhere}th:nth-child(1){width:16%}th:nth-child(2){width:23%}"
    "th:nth-child(3){width:6%}th:nth-child(4){width:13%}th:nth-child(5){width:19%}"
    "@page{size:A4 landscape;margin:1cm}@media "
    "print{body{font-size:10px;margin:0}}th{background:#f3f3f3}code{font-size:.9em}"
    "p.problem{color:#c00;font-weight:bold}tr.failed td.outcome{color:#c00}tr.done "
    "td.outcome{color:#070}"
    ".warn{color:#a60}td.request-id{white-space:nowrap;overflow-wrap:normal;font-family:monospace;"
    "font-size:.8em}"
    "tr.unchanged td.outcome{color:#555}";

static void html_total(FILE *out, const char *id, const char *label, long long n, int bad)
{
    fprintf(out, "<div class=\"total%s\" id=\"total-%s\"><b>%lld</b>%s</div>\n",
            bad && n ? " bad" : "", id, n, label);
}

static void html_totals(const json_t *doc, FILE *out)
{
    fputs("<section class=\"totals\">\n", out);
    html_total(out, "upload", "upload", hnum(doc, "counts", "upload"), 0);
    html_total(out, "remove", "remove", hnum(doc, "counts", "remove"), 0);
    html_total(out, "keep", "keep", hnum(doc, "counts", "keep"), 0);
    html_total(out, "skip", "skip", hnum(doc, "counts", "skip"), 0);
    html_total(out, "failed", "failed", hnum(doc, "counts", "failed"), 1);
    if (json_object_get(doc, "outcomes")) {
        html_total(out, "done", "writes done", hnum(doc, "outcomes", "done"), 0);
        html_total(out, "resumed", "resumed", hnum(doc, "outcomes", "resumed"), 0);
        html_total(out, "cancelled", "cancelled", hnum(doc, "outcomes", "cancelled"), 1);
    }
    fputs("</section>\n", out);
}

static void html_meta(const json_t *doc, FILE *out)
{
    fputs("<div class=\"meta\">", out);
    if (json_object_get(doc, "runId"))
        fprintf(out, "run %lld &middot; ", hnum(doc, "runId", NULL));
    fputs("config <code>", out);
    cli_html_esc(out, hstr(doc, "config"));
    fputs("</code> &middot; started ", out);
    cli_html_esc(out, hstr(doc, "started"));
    fputs(" &middot; ended ", out);
    cli_html_esc(out, hstr(doc, "ended"));
    if (json_is_true(json_object_get(doc, "interrupted")))
        fputs(" &middot; <b class=\"warn\">interrupted</b>", out);
    if (json_object_get(doc, "graph"))
        fprintf(out, " &middot; Graph: %lld requests, %lld writes, %lld retries, %lld throttled",
                hnum(doc, "graph", "requests"), hnum(doc, "graph", "writes"),
                hnum(doc, "graph", "retries"), hnum(doc, "graph", "throttled"));
    fputs("</div>\n", out);
}

/* failed; done (a write carried out); unchanged (nothing to write); planned (a plan's rows). */
static const char *html_outcome(const json_t *it)
{
    const char *action = hstr(it, "action");
    if (json_object_get(it, "error"))
        return "failed";
    if (!json_object_get(it, "outcome"))
        return "planned";
    if (strcmp(action, "upload") && strcmp(action, "remove"))
        return "unchanged";
    return hstr(it, "outcome");
}

/* The run's sources: one line each, a source left out with why. */
static void html_sources(const json_t *doc, FILE *out)
{
    const json_t *v = json_object_get(doc, "sources");
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *o = json_array_get(v, i);
        int failed = json_object_get(o, "error") != NULL;
        fprintf(out, "<p class=\"%s\">source ", failed ? "warn" : "source");
        cli_html_esc(out, hstr(o, "name"));
        fputs(" (", out);
        cli_html_esc(out, hstr(o, "type"));
        fputs(" ", out);
        cli_html_esc(out, hstr(o, "path"));
        fputs("): ", out);
        if (failed) {
            fputs("not read: ", out);
            cli_html_esc(out, hstr(o, "error"));
        } else {
            fprintf(out, "%lld items", (long long)json_integer_value(json_object_get(o, "items")));
        }
        fputs("</p>\n", out);
    }
}

/* One certificate row; the user cell is written by the caller on the user's first row. */
static void html_cert_row(const json_t *it, FILE *out)
{
    const char *tp = hstr(it, "thumbprint");
    fprintf(out, "<td><code>%s</code>", tp[0] ? tp : "-");
    if (hstr(it, "serial")[0]) {
        fputs("<br>serial <code>", out);
        cli_html_esc(out, hstr(it, "serial"));
        fputs("</code>", out);
    }
    if (hstr(it, "notAfter")[0]) {
        fputs("<br>expires ", out);
        cli_html_esc(out, hstr(it, "notAfter"));
    }
    fputs("<br>file ", out);
    cli_html_esc(out, hstr(it, "file"));
    fputs("<br>source ", out);
    cli_html_esc(out, hstr(it, "source"));
    fputs("</td><td class=\"action\">", out);
    cli_html_esc(out, hstr(it, "action"));
    fputs("</td><td>", out);
    cli_html_esc(out, hstr(it, "reason"));
    if (json_object_get(it, "warning")) {
        fputs("<br><span class=\"warn\">warning: ", out);
        cli_html_esc(out, hstr(it, "warning"));
        fputs("</span>", out);
    }
    fputs("</td><td class=\"outcome\">", out);
    fprintf(out, "<b>%s</b>", html_outcome(it)); /* a fixed word, nothing to escape */
    if (json_object_get(it, "error")) {
        fputs("<br>", out);
        cli_html_esc(out, hstr(it, "error"));
    }
    fputs("</td><td class=\"request-id\">", out);
    cli_html_esc(out, hstr(it, "requestId")); /* done writes too: what Graph support asks for */
    fputs("</td></tr>\n", out);
}

/* Item indices grouped by user, the users in first-seen order, each user's items in plan
 * order: one sort instead of comparing every pair (a report may hold 100,000 items). */
struct user_idx {
    const char *upn;
    size_t first; /* the user's first item */
    size_t idx;
};

static int by_upn_then_index(const void *pa, const void *pb)
{
    const struct user_idx *a = pa, *b = pb;
    int c = strcmp(a->upn, b->upn);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

static int by_first_then_index(const void *pa, const void *pb)
{
    const struct user_idx *a = pa, *b = pb;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

static void html_user_rows(const cli_run_report *r, FILE *out)
{
    size_t n = cli_report_count(r);
    fputs("<table id=\"users\"><thead><tr><th>user</th><th>certificate</th><th>action</th>"
          "<th>reason</th><th>outcome</th><th>Graph request-id</th></tr></thead>\n",
          out);
    struct user_idx *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        fputs("</table>\n", out);
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = (struct user_idx){cli_report_upn(&r->plan->items[i]), i, i};
    qsort(v, n, sizeof *v, by_upn_then_index);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(v[i].upn, v[i - 1].upn))
            v[i].first = v[i - 1].first;
    qsort(v, n, sizeof *v, by_first_then_index);
    for (size_t i = 0; i < n;) {
        size_t rows = 1;
        while (i + rows < n && v[i + rows].first == v[i].first)
            rows++;
        fputs("<tbody class=\"user\">\n", out);
        for (size_t k = i; k < i + rows; k++) {
            json_t *it = cli_report_item(r, v[k].idx);
            if (!it)
                continue;
            fprintf(out, "<tr class=\"%s\">", html_outcome(it));
            if (k == i) {
                fprintf(out, "<td rowspan=\"%zu\" class=\"upn\">", rows);
                cli_html_esc(out, v[i].upn[0] ? v[i].upn : "(no user)");
                fputs("</td>", out);
            }
            html_cert_row(it, out);
            json_decref(it);
        }
        fputs("</tbody>\n", out);
        i += rows;
    }
    free(v);
    fputs("</table>\n", out);
}

void cli_report_render_html(const cli_run_report *r, FILE *out)
{
    const json_t *doc = r->head;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>smimesync ",
          out);
    cli_html_esc(out, hstr(doc, "command"));
    fputs(" report</title>\n<style>", out);
    fputs(html_style, out);
    fputs("</style></head>\n<body>\n<h1>smimesync ", out);
    cli_html_esc(out, hstr(doc, "command"));
    fputs(" report</h1>\n", out);
    html_meta(doc, out);
    html_totals(doc, out);
    html_sources(doc, out);
    size_t k;
    const json_t *p;
    json_array_foreach(json_object_get(doc, "problems"), k, p)
    {
        fputs("<p class=\"problem\">", out);
        cli_html_esc(out, hstr(p, "what"));
        fputs(" ", out);
        cli_html_esc(out, hstr(p, "path"));
        fputs(": ", out);
        cli_html_esc(out, hstr(p, "error"));
        fputs(" (", out);
        cli_html_esc(out, hstr(p, "effect"));
        fputs(")</p>\n", out);
    }
    for (size_t i = 0; i < cli_report_count(r); i++) {
        const ssync_plan_item *it = &r->plan->items[i];
        if (!ssync_has_text(it->warning))
            continue;
        fputs("<p class=\"warn\">warning: ", out);
        cli_html_esc(out, cli_report_upn(it));
        fputs(" ", out);
        cli_html_esc(out, it->thumbprint);
        fputs(": ", out);
        cli_html_esc(out, it->warning);
        fputs("</p>\n", out);
    }
    html_user_rows(r, out);
    fputs("</body></html>\n", out);
}
