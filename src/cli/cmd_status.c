/* smimesync status: compare the CA (the plan's desired state) with Intune, per user, without
 * writing anything. Like diff(1), the exit status says whether they differ (4) or not (0). */
#include "cli.h"
#include "cli_devices.h"
#include "cli_log.h"
#include "cli_options.h"
#include "cli_plan.h"
#include "cli_sources.h"
#include "cli_metrics.h"
#include "cli_text.h"
#include "cli_util.h"

#include "source/source.h"
#include "sync/config.h"
#include "sync/connect.h"
#include "sync/plan.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const CMD = "status";

/* The order is the report's: differences first. */
enum cat {
    CAT_MISSING,         /* desired, not in Intune: sync uploads it */
    CAT_EXTRA,           /* in Intune for the user, not a certificate of the source */
    CAT_REVOKED_PRESENT, /* revoked, still in Intune: sync removes it */
    CAT_DROPPED_PRESENT, /* dropped by the history policy, still in Intune: sync removes it */
    CAT_IN_STEP,         /* desired and in Intune */
    CAT_REVOKED_KEPT,    /* revoked, in Intune, kept because remove_revoked = false */
    CAT_SKIPPED,         /* neither desired nor present, unknown user, excluded by a filter */
    CAT_FAILED,          /* cannot be compared: not recoverable, user lookup failed */
    CAT__COUNT
};
static const char *const cat_json[CAT__COUNT] = {
    "missing", "extra",       "revokedPresent", "droppedPresent",
    "inStep",  "revokedKept", "skipped",        "failed",
};
static const char *const cat_text[CAT__COUNT] = {
    "missing", "extra",        "revoked present", "dropped present",
    "in step", "revoked kept", "skipped",         "failed",
};
#define CAT_DIFFERS(c) ((c) <= CAT_DROPPED_PRESENT)

struct row {
    const char *upn; /* "" when the item names no user */
    enum cat cat;
    const char *thumbprint; /* "" when unknown */
    const char *file;       /* source file, NULL for extras */
    const char *source;     /* the source's name, NULL for extras */
    const char *error;      /* CAT_FAILED only */
};

enum { OPT_DEVICES = CLI_OPT_OWN };

static const struct cli_option options[] = {
    CLI_USE(CLI_OPT_CONFIG, NULL),
    CLI_USE(CLI_OPT_USER, NULL),
    CLI_USE(CLI_OPT_JSON, "print one JSON object (counts and users) instead of a table"),
    CLI_USE(CLI_OPT_VERBOSE, "also print the Graph client's info messages"),
    CLI_OWN(OPT_DEVICES, "devices", NULL, 0,
            "per user and managed device, where each certificate in Intune\n"
            "stands: installed, failed (Intune's error code and a hint), pending,\n"
            "or not delivered by rule (hidden by a newer certificate of the same\n"
            "purpose, user outside every assignment, platform without a profile)"),
    CLI_USE(CLI_OPT_REPORT, "with --devices: also write the devices as a self-contained HTML\n"
                            "page to FILE"),
};

/* ctx: the command's int "--devices given" */
static int on_option(void *ctx, struct cli_opts *o, int id, const char *arg)
{
    (void)o;
    (void)arg;
    if (id == OPT_DEVICES)
        *(int *)ctx = 1;
    return CLI_EXIT_OK;
}

/* The plan holds only --user's certificates: the user is also the plan's target. */
static int target_user(void *ctx, struct cli_opts *o)
{
    if (o->report && !*(int *)ctx) {
        cli_err(CMD, "--report goes with --devices");
        return CLI_EXIT_USAGE;
    }
    return o->user ? cli_options_set(o, CLI_OPT_TARGET_USER, o->user) : CLI_EXIT_OK;
}

static const struct cli_spec spec = {
    .name = "status",
    .synopsis = "--config FILE [--user UPN] [--json] [--verbose] [--devices [--report FILE]]",
    .summary =
        "Compare the CA's certificates (the desired state that sync works towards) with the\n"
        "userPfxCertificates in Intune, per user: missing (sync would upload), extra (in\n"
        "Intune, not from the source), revoked or dropped by policy but still present (sync\n"
        "would remove), and in step. Nothing is written.",
    .epilog = "Exit status 4 means Intune is not in step with the CA (missing, extra, revoked or\n"
              "dropped certificates present), or with --devices that a certificate is not where\n"
              "it should be (failed, pending, no profile or assignment); 0 means it is.",
    .options = CLI_SPEC_OPTIONS(options),
    .max_args = 0,
    .flags = CLI_SPEC_OPERANDS_FIRST,
    .check = target_user,
    .on_option = on_option,
};

static enum cat classify(const ssync_plan_item *it)
{
    if (it->code != SSYNC_OK)
        return CAT_FAILED;
    if (it->filtered || !it->cert_upn || !it->user_found)
        return CAT_SKIPPED;
    switch (it->action) {
    case SSYNC_ACT_UPLOAD:
        return CAT_MISSING;
    case SSYNC_ACT_KEEP:
        return it->revoked ? CAT_REVOKED_KEPT : CAT_IN_STEP;
    case SSYNC_ACT_REMOVE:
        return it->revoked ? CAT_REVOKED_PRESENT : CAT_DROPPED_PRESENT;
    case SSYNC_ACT_SKIP:
        break;
    }
    return CAT_SKIPPED;
}

static int row_cmp(const void *pa, const void *pb)
{
    const struct row *a = pa, *b = pb;
    int c = strcasecmp(a->upn, b->upn);
    if (c)
        return c;
    if (a->cat != b->cat)
        return a->cat < b->cat ? -1 : 1;
    return strcmp(a->thumbprint, b->thumbprint);
}

/* One row per plan item and per listing entry that no item of the source explains. */
static struct row *build_rows(const struct cli_plan_run *r, const char *user, size_t *n_out)
{
    const ssync_plan *p = r->plan;
    const ssync_pfx_list *l = r->listing;
    struct row *rows = calloc(p->count + l->count + 1, sizeof *rows);
    char *used = calloc(l->count + 1, 1);
    if (!rows || !used) {
        free(rows);
        free(used);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < p->count; i++) {
        const ssync_plan_item *it = &p->items[i];
        if (it->code == SSYNC_OK && it->user_found && it->upn) {
            const ssync_pfx_entry *e = ssync_pfx_list_find(l, it->upn, it->thumbprint);
            if (e)
                used[e - l->items] = 1;
        }
        const char *upn = it->upn ? it->upn : it->cert_upn ? it->cert_upn : "";
        if (user && strcasecmp(upn, user) != 0)
            continue;
        rows[n++] = (struct row){upn,
                                 classify(it),
                                 it->thumbprint,
                                 it->path,
                                 it->source ? it->source : SSYNC_SOURCE_DEFAULT_NAME,
                                 ssync_plan_item_error(it)};
    }
    for (size_t k = 0; k < l->count; k++) {
        const ssync_pfx_entry *e = &l->items[k];
        const char *upn = e->user_principal_name ? e->user_principal_name : "";
        if (used[k] || (user && strcasecmp(upn, user) != 0))
            continue;
        rows[n++] =
            (struct row){upn, CAT_EXTRA, e->thumbprint ? e->thumbprint : "", NULL, NULL, NULL};
    }
    free(used);
    qsort(rows, n, sizeof *rows, row_cmp);
    *n_out = n;
    return rows;
}

struct totals {
    size_t cat[CAT__COUNT];
    size_t users, differences;
};

static void count(const struct row *rows, size_t n, struct totals *t)
{
    for (size_t i = 0; i < n; i++) {
        t->cat[rows[i].cat]++;
        if (CAT_DIFFERS(rows[i].cat))
            t->differences++;
        if (rows[i].cat != CAT_FAILED && (i == 0 || strcasecmp(rows[i - 1].upn, rows[i].upn) != 0 ||
                                          rows[i - 1].cat == CAT_FAILED))
            t->users++;
    }
}

static json_t *counts_json(const size_t *cat)
{
    json_t *o = json_object();
    for (int c = 0; o && c < CAT__COUNT; c++)
        json_object_set_new(o, cat_json[c], json_integer((json_int_t)cat[c]));
    return o;
}

static int print_json(const struct row *rows, size_t n, const struct totals *t, json_t *sources)
{
    json_t *users = json_array(), *failed = json_array();
    for (size_t i = 0; i < n;) {
        if (rows[i].cat == CAT_FAILED) {
            json_array_append_new(failed,
                                  json_pack("{s:s, s:s, s:s, s:s, s:s}", "userPrincipalName",
                                            rows[i].upn, "thumbprint", rows[i].thumbprint, "file",
                                            rows[i].file ? rows[i].file : "", "source",
                                            rows[i].source ? rows[i].source : "", "error",
                                            rows[i].error ? rows[i].error : ""));
            i++;
            continue;
        }
        size_t end = i, cat[CAT__COUNT] = {0};
        json_t *u = json_pack("{s:s}", "userPrincipalName", rows[i].upn);
        for (int c = 0; c <= CAT_DROPPED_PRESENT; c++)
            json_object_set_new(u, cat_json[c], json_array());
        json_t *by_source = json_object(); /* thumbprint -> the source that holds it */
        json_object_set_new(u, "sources", by_source);
        for (; end < n && rows[end].cat != CAT_FAILED && !strcasecmp(rows[end].upn, rows[i].upn);
             end++) {
            cat[rows[end].cat]++;
            if (CAT_DIFFERS(rows[end].cat))
                json_array_append_new(json_object_get(u, cat_json[rows[end].cat]),
                                      json_string(rows[end].thumbprint));
            if (rows[end].source && rows[end].thumbprint[0])
                json_object_set_new(by_source, rows[end].thumbprint, json_string(rows[end].source));
        }
        json_object_set_new(u, "counts", counts_json(cat));
        json_array_append_new(users, u);
        i = end;
    }
    json_t *counts = counts_json(t->cat);
    json_object_set_new(counts, "users", json_integer((json_int_t)t->users));
    json_object_set_new(counts, "differences", json_integer((json_int_t)t->differences));
    json_t *root = json_pack("{s:o, s:b, s:o, s:o}", "counts", counts, "inStep",
                             t->differences == 0, "users", users, "failed", failed);
    if (root && sources) /* named sources: each with its items, or why it was not read */
        json_object_set(root, "sources", sources);
    int ok = root && json_dumpf(root, stdout, JSON_COMPACT) == 0;
    json_decref(root);
    if (!ok) {
        cli_err(CMD, "cannot write the JSON report");
        return 0;
    }
    putchar('\n');
    return 1;
}

/* A run of several sources names each item's; [source] alone ("default") is not shown. */
static int shown_source(const char *name)
{
    return name && strcmp(name, SSYNC_SOURCE_DEFAULT_NAME) != 0;
}

static void print_table(const struct row *rows, size_t n, const struct totals *t)
{
    for (size_t i = 0; i < n;) {
        size_t end = i, cat[CAT__COUNT] = {0}, diff = 0;
        for (; end < n && rows[end].cat != CAT_FAILED && !strcasecmp(rows[end].upn, rows[i].upn);
             end++) {
            cat[rows[end].cat]++;
            diff += CAT_DIFFERS(rows[end].cat);
        }
        if (end == i) { /* a failed item: names chosen by others, through the output filter */
            char upn[512], file[1024], error[1024];
            cli_text_safe(upn, sizeof upn, rows[i].upn[0] ? rows[i].upn : "(unknown)");
            cli_text_safe(file, sizeof file, rows[i].file ? rows[i].file : "-");
            cli_text_safe(error, sizeof error, rows[i].error ? rows[i].error : "");
            if (shown_source(rows[i].source))
                fprintf(stdout, "%s: failed: source %s: %s: %s\n", upn, rows[i].source, file,
                        error);
            else
                fprintf(stdout, "%s: failed: %s: %s\n", upn, file, error);
            i++;
            continue;
        }
        if (diff) { /* users in step are only counted */
            char upn[512];
            cli_text_safe(upn, sizeof upn, rows[i].upn);
            printf("%s: %zu in step, %zu missing, %zu extra, %zu revoked present, %zu dropped "
                   "present\n",
                   upn, cat[CAT_IN_STEP], cat[CAT_MISSING], cat[CAT_EXTRA],
                   cat[CAT_REVOKED_PRESENT], cat[CAT_DROPPED_PRESENT]);
            for (size_t k = i; k < end; k++) {
                if (!CAT_DIFFERS(rows[k].cat))
                    continue;
                printf("  %-16s %s", cat_text[rows[k].cat], rows[k].thumbprint);
                if (shown_source(rows[k].source))
                    printf(" (source %s)", rows[k].source);
                putchar('\n');
            }
        }
        i = end;
    }
    printf("status: %zu users: %zu in step, %zu missing, %zu extra, %zu revoked present, %zu "
           "dropped present, %zu revoked kept, %zu skipped, %zu failed: %s\n",
           t->users, t->cat[CAT_IN_STEP], t->cat[CAT_MISSING], t->cat[CAT_EXTRA],
           t->cat[CAT_REVOKED_PRESENT], t->cat[CAT_DROPPED_PRESENT], t->cat[CAT_REVOKED_KEPT],
           t->cat[CAT_SKIPPED], t->cat[CAT_FAILED],
           t->differences ? "differences found" : "Intune is in step with the CA");
}

/* A targeted plan lists Intune only for users that have certificates in the source: a user
 * with none still has records to show (all extra). Returns 0 on failure (reported). */
static int list_user(struct cli_plan_run *r, const char *user)
{
    for (size_t k = 0; k < r->listing->count; k++) {
        const char *upn = r->listing->items[k].user_principal_name;
        if (upn && !strcasecmp(upn, user))
            return 1;
    }
    ssync_error e = {0};
    if (ssync_graph_list_pfx_by_user(r->graph, user, r->listing, &e) != SSYNC_OK) {
        cli_report_graph(CMD, user, &e, ssync_graph_last_failure(r->graph));
        return 0;
    }
    ssync_pfx_list_sort(r->listing);
    return 1;
}

/* Delivered (installed), failed and pending certificates per platform, for Prometheus. */
static void devices_metrics(const struct dev_report *rep, const char *textfile,
                            const struct cli_log *log)
{
    struct cli_metrics_platform p[SSYNC_PLATFORM_COUNT + 1];
    for (int k = 0; k <= SSYNC_PLATFORM_COUNT; k++)
        p[k] = (struct cli_metrics_platform){.platform = ssync_platform_name((ssync_platform)k)};
    for (size_t i = 0; i < rep->n; i++) {
        const struct dev_row *r = &rep->rows[i];
        if (!r->device[0])
            continue;
        struct cli_metrics_platform *x =
            &p[r->platform <= SSYNC_PLATFORM_COUNT ? r->platform : SSYNC_PLATFORM_OTHER];
        x->delivered += r->state == DEV_INSTALLED;
        x->failed += r->state == DEV_FAILED;
        x->pending += r->state == DEV_PENDING;
    }
    struct cli_metrics m = {
        .platforms = p, .n_platforms = SSYNC_PLATFORM_COUNT + 1, .ca_copy_clean = -1};
    ssync_error e = {0};
    if (cli_metrics_write_part(&m, textfile, "devices", &e) != SSYNC_OK)
        cli_log_msg(log, SSYNC_LOG_WARN, "[metrics] textfile: %s (status is not affected)", e.msg);
}

/* --devices: Intune alone (no source scan, no user lookups): O(profiles + groups + pages)
 * requests. */
static int status_devices(const struct cli_opts *o)
{
    ssync_config cfg;
    ssync_error e = {0};
    if (ssync_config_load(o->config, &cfg, &e) != SSYNC_OK) {
        cli_err(CMD, "%s", e.msg);
        ssync_config_free(&cfg);
        return CLI_EXIT_FAILURE;
    }
    /* the client's info lines only with --verbose, as status without --devices */
    struct cli_log log = {.cmd = CMD,
                          .verbosity = o->verbose ? SSYNC_LOG_INFO : SSYNC_LOG_WARN,
                          .json = cfg.log.json};
    ssync_graph *g = NULL;
    int rc = CLI_EXIT_FAILURE;
    struct dev_report rep = {0};
    char why[1500];
    if (ssync_graph_open(&cfg.intune, cfg.path, cli_log_graph_fn, &log, &g, &e) != SSYNC_OK) {
        cli_err(CMD, "%s", e.msg);
    } else if (cli_devices_collect(g, o->user, &rep, why, sizeof why) != 0) {
        cli_err(CMD, "%s", why);
    } else {
        int printed =
            o->json ? cli_devices_print_json(&rep, stdout) : (cli_devices_print(&rep, stdout), 1);
        fflush(stdout);
        if (o->report && cli_devices_write_html(&rep, o->report, why, sizeof why) != 0) {
            cli_err(CMD, "%s", why);
            printed = 0;
        }
        rc = !printed                   ? CLI_EXIT_FAILURE
             : cli_devices_differ(&rep) ? CLI_EXIT_DIFFERENT
                                        : CLI_EXIT_OK;
        if (!o->user && cfg.metrics.textfile) /* the whole tenant: per-platform gauges */
            devices_metrics(&rep, cfg.metrics.textfile, &log);
    }
    cli_devices_free(&rep);
    ssync_graph_free(g);
    ssync_config_free(&cfg);
    return rc;
}

int cmd_status(int argc, char **argv)
{
    struct cli_opts o;
    int devices = 0;
    int rc = cli_options_parse(&spec, argc, argv, &o, &devices);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;
    if (devices)
        return status_devices(&o);
    /* the plan is built by the shared plumbing from the same options; with --user it holds
     * only that user's certificates and Intune is read for that user only */
    struct cli_plan_run r = {0};
    rc = cli_plan_prepare(&r, &o);
    if (rc == CLI_EXIT_OK && o.user && !list_user(&r, o.user))
        rc = CLI_EXIT_FAILURE;
    if (rc != CLI_EXIT_OK) {
        cli_plan_release(&r);
        return rc;
    }
    size_t n = 0;
    struct row *rows = build_rows(&r, o.user, &n);
    if (!rows) {
        cli_err(CMD, "out of memory");
        cli_plan_release(&r);
        return CLI_EXIT_FAILURE;
    }
    struct totals t = {0};
    count(rows, n, &t);
    int printed = 1;
    json_t *sources = cli_sources_json(&r);
    if (o.json)
        printed = print_json(rows, n, &t, sources);
    else
        print_table(rows, n, &t);
    json_decref(sources);
    fflush(stdout);
    /* differences are definite; failed items make the comparison partial */
    if (!printed)
        rc = CLI_EXIT_FAILURE;
    else if (t.differences)
        rc = CLI_EXIT_DIFFERENT;
    else if (t.cat[CAT_FAILED])
        rc = t.cat[CAT_FAILED] == n ? CLI_EXIT_FAILURE : CLI_EXIT_PARTIAL;
    else if (r.sources_failed) /* a source not read: its certificates were not compared */
        rc = CLI_EXIT_PARTIAL;
    else
        rc = CLI_EXIT_OK;
    free(rows);
    cli_plan_release(&r);
    return rc;
}
