/* The HTML rendering of a report: one self-contained page (inline style, no script, no external
 * asset) that a person can open from a mail or a share. Totals on top, then one block per user
 * with a row per certificate: action, reason, outcome, Graph request-id of a failure. */
#include "cli_report.h"

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

/* Text into HTML: the five characters that matter, nothing else changed. */
static void html_esc(FILE *out, const char *s)
{
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
    "tr.failed td.outcome{color:#c00}tr.done td.outcome{color:#070}"
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
    html_esc(out, hstr(doc, "config"));
    fputs("</code> &middot; started ", out);
    html_esc(out, hstr(doc, "started"));
    fputs(" &middot; ended ", out);
    html_esc(out, hstr(doc, "ended"));
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

/* One certificate row; the user cell is written by the caller on the user's first row. */
static void html_cert_row(const json_t *it, FILE *out)
{
    const char *tp = hstr(it, "thumbprint");
    fprintf(out, "<td><code>%s</code>", tp[0] ? tp : "-");
    if (hstr(it, "serial")[0]) {
        fputs("<br>serial <code>", out);
        html_esc(out, hstr(it, "serial"));
        fputs("</code>", out);
    }
    if (hstr(it, "notAfter")[0]) {
        fputs("<br>expires ", out);
        html_esc(out, hstr(it, "notAfter"));
    }
    fputs("<br>file ", out);
    html_esc(out, hstr(it, "file"));
    fputs("</td><td class=\"action\">", out);
    html_esc(out, hstr(it, "action"));
    fputs("</td><td>", out);
    html_esc(out, hstr(it, "reason"));
    if (json_object_get(it, "warning")) {
        fputs("<br><span class=\"warn\">warning: ", out);
        html_esc(out, hstr(it, "warning"));
        fputs("</span>", out);
    }
    fputs("</td><td class=\"outcome\">", out);
    fprintf(out, "<b>%s</b>", html_outcome(it)); /* a fixed word, nothing to escape */
    if (json_object_get(it, "error")) {
        fputs("<br>", out);
        html_esc(out, hstr(it, "error"));
    }
    fputs("</td><td class=\"request-id\">", out);
    html_esc(out, json_object_get(it, "error") ? hstr(it, "requestId") : "");
    fputs("</td></tr>\n", out);
}

/* The items grouped by user, in first-seen order (the document keeps the plan's order). */
static void html_user_rows(const json_t *doc, FILE *out)
{
    const json_t *items = json_object_get(doc, "items");
    size_t n = json_array_size(items);
    fputs("<table id=\"users\"><thead><tr><th>user</th><th>certificate</th><th>action</th>"
          "<th>reason</th><th>outcome</th><th>Graph request-id</th></tr></thead>\n",
          out);
    for (size_t i = 0; i < n; i++) {
        const char *upn = hstr(json_array_get(items, i), "userPrincipalName");
        int seen = 0, rows = 0;
        for (size_t k = 0; k < n && !seen; k++)
            seen = k < i && !strcmp(upn, hstr(json_array_get(items, k), "userPrincipalName"));
        if (seen)
            continue;
        for (size_t k = i; k < n; k++)
            rows += !strcmp(upn, hstr(json_array_get(items, k), "userPrincipalName"));
        fputs("<tbody class=\"user\">\n", out);
        int first = 1;
        for (size_t k = i; k < n; k++) {
            const json_t *it = json_array_get(items, k);
            if (strcmp(upn, hstr(it, "userPrincipalName")))
                continue;
            fprintf(out, "<tr class=\"%s\">", html_outcome(it));
            if (first) {
                fprintf(out, "<td rowspan=\"%d\" class=\"upn\">", rows);
                html_esc(out, upn[0] ? upn : "(no user)");
                fputs("</td>", out);
            }
            first = 0;
            html_cert_row(it, out);
        }
        fputs("</tbody>\n", out);
    }
    fputs("</table>\n", out);
}

void cli_report_render_html(const json_t *doc, FILE *out)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>smimesync ",
          out);
    html_esc(out, hstr(doc, "command"));
    fputs(" report</title>\n<style>", out);
    fputs(html_style, out);
    fputs("</style></head>\n<body>\n<h1>smimesync ", out);
    html_esc(out, hstr(doc, "command"));
    fputs(" report</h1>\n", out);
    html_meta(doc, out);
    html_totals(doc, out);
    size_t i;
    const json_t *w;
    json_array_foreach(json_object_get(doc, "warnings"), i, w)
    {
        fputs("<p class=\"warn\">warning: ", out);
        html_esc(out, hstr(w, "userPrincipalName"));
        fputs(" ", out);
        html_esc(out, hstr(w, "thumbprint"));
        fputs(": ", out);
        html_esc(out, hstr(w, "warning"));
        fputs("</p>\n", out);
    }
    html_user_rows(doc, out);
    fputs("</body></html>\n", out);
}
