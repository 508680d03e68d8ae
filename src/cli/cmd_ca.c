/* smimesync ca requests: the CA's requests as an administrator reads them (certutil -view), and
 * for each archived key its KRA recipients and whether a KRA key we hold opens it (KRA
 * coverage), with totals. The database is the [source] path of --config (type edb) or a FILE;
 * the KRA keys are --kra, else the configuration's [kra]. */
#include "cli.h"
#include "cli_options.h"
#include "cli_util.h"

#include "edb/ca_requests.h"
#include "recover/coverage.h"
#include "source/source.h"
#include "sync/config.h"
#include "sync/connect.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_CONFIG = CLI_OPT_OWN, OPT_ARCHIVED, OPT_TEMPLATE, OPT_REQUESTER, OPT_JSON };

static const struct cli_option options[] = {
    CLI_OWN(OPT_CONFIG, "config", "FILE", 'c',
            "read the database of its [source] (type edb) and the\nKRA keys of its [kra]"),
    CLI_USE(CLI_OPT_SOURCE, "with --config: the [source \"NAME\"] to read (needed\n"
                            "when several sources are of type edb)"),
    CLI_OWN(OPT_ARCHIVED, "archived", NULL, 0, "only requests with an archived key"),
    CLI_OWN(OPT_TEMPLATE, "template", "T", 0, "only certificates of this template (OID or name)"),
    CLI_OWN(OPT_REQUESTER, "requester", "R", 0,
            "only requests of this requester (DOMAIN\\user,\ncase-insensitive)"),
    CLI_USE(CLI_OPT_KRA, "KRA key to test coverage with (default: [kra] of\n--config); "
                         "repeat for several KRAs"),
    CLI_USE(CLI_OPT_KRA_PASS_FILE, NULL),
    CLI_USE(CLI_OPT_KRA_CERT, NULL),
    CLI_OWN(OPT_JSON, "json", NULL, 'j', "print one JSON object (requests, KRAs, totals)"),
};

struct ca_args {
    const char *config;
    ssync_ca_request_filter filter;
    int json;
};

static int on_option(void *ctx, struct cli_opts *o, int id, const char *arg)
{
    struct ca_args *a = ctx;
    (void)o;
    if (id == OPT_CONFIG)
        a->config = arg;
    else if (id == OPT_ARCHIVED)
        a->filter.archived_only = 1;
    else if (id == OPT_TEMPLATE)
        a->filter.template_name = arg;
    else if (id == OPT_REQUESTER)
        a->filter.requester = arg;
    else
        a->json = 1;
    return CLI_EXIT_OK;
}

static int check(void *ctx, struct cli_opts *o)
{
    const struct ca_args *a = ctx;
    if (!a->config == !o->argc) {
        cli_err(o->cmd, "give either --config FILE or the database FILE");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static const struct cli_spec spec = {
    .name = "ca requests",
    .synopsis = "(--config FILE | FILE) [--archived] [--template T] [--requester R] [--json]",
    .summary = "List an AD CS database's requests as an administrator reads them: request id,\n"
               "requester, template, disposition, serial, thumbprint, validity, revocation and\n"
               "whether a key is archived; for each archived key the KRAs it is encrypted to\n"
               "(issuer + serial) and whether a KRA key we hold opens it (KRA coverage), with\n"
               "totals. A KRA added to the CA later cannot open keys archived before it.\n"
               "A dirty database is read as it is on disk, with a warning.",
    .epilog = "Exit status 0 when the database was read (uncovered keys show in the totals);\n"
              "3 when some rows could not be decoded (one line each on stderr, the others\n"
              "listed); 1 when the database or the configuration cannot be read. A KRA key\n"
              "that cannot be loaded is reported and coverage is then shown as not tried.",
    CLI_SPEC_OPTIONS(options),
    .min_args = 0,
    .max_args = 1,
    .extra_args = "one database FILE at most",
    .on_option = on_option,
    .check = check,
};

#define MAX_KRAS 64

/* The KRAs seen across all archived keys, with how many keys each opens a door to. */
struct kra_seen {
    ssync_kra_recipient r;
    size_t blobs;
};

struct ca_run {
    const char *cmd;
    int json, have_kras;
    const ssync_kra_set *kras;
    size_t requests, issued, revoked, other, keys, opens, held_failed, not_covered, unreadable;
    size_t bad_rows; /* Requests rows that could not be decoded */
    struct kra_seen seen[MAX_KRAS];
    size_t nseen;
    int first;
};

static void day(time_t t, char out[32])
{
    struct tm tm;
    if (!t || !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "-");
}

static json_t *jtime(time_t t)
{
    char s[32];
    day(t, s);
    return t ? json_string(s) : json_null();
}

static void note_kra(struct ca_run *run, const ssync_kra_recipient *r)
{
    for (size_t i = 0; i < run->nseen; i++)
        if (!strcmp(run->seen[i].r.serial, r->serial) &&
            !strcmp(run->seen[i].r.issuer, r->issuer)) {
            run->seen[i].blobs++;
            return;
        }
    if (run->nseen < MAX_KRAS)
        run->seen[run->nseen++] = (struct kra_seen){*r, 1};
}

static const char *coverage_word(const struct ca_run *run, const ssync_kra_coverage *cv)
{
    if (cv->opens)
        return "opens";
    if (cv->held)
        return "held, does not open";
    return run->have_kras ? "not covered" : "not tried (no KRA key)";
}

static void print_text(const struct ca_run *run, const ssync_ca_request *q, int have_cov,
                       const ssync_kra_coverage *cv, const ssync_error *cov_err)
{
    char nb[32], na[32], rw[32], sub[32];
    day(q->not_before, nb);
    day(q->not_after, na);
    day(q->revoked_when, rw);
    day(q->submitted, sub);
    printf("Request %lld: %s (%d), requester %s, submitted %s\n", q->request_id,
           ssync_ca_disposition_name(q->disposition), q->disposition,
           *q->requester ? q->requester : "-", sub);
    if (q->has_certificate)
        printf("  certificate: template %s, serial %s, thumbprint %s, UPN %s, valid %s to %s\n",
               *q->template_name ? q->template_name : "-", *q->serial ? q->serial : "-",
               *q->thumbprint ? q->thumbprint : "-", *q->upn ? q->upn : "-", nb, na);
    if (q->disposition == 21)
        printf("  revoked: %s, reason %d\n", rw, q->revoked_reason);
    if (!q->archived_key) {
        printf("  archived key: none\n");
        return;
    }
    if (!have_cov) {
        printf("  archived key: unreadable: %s\n", cov_err->msg);
        return;
    }
    printf("  archived key: encrypted to %zu KRA%s; %s\n", cv->total, cv->total == 1 ? "" : "s",
           coverage_word(run, cv));
    for (size_t i = 0; i < cv->n; i++)
        printf("    KRA serial %s issued by %s%s\n", *cv->r[i].serial ? cv->r[i].serial : "-",
               cv->r[i].issuer, cv->r[i].held ? " (held)" : "");
    if (cv->held && !cv->opens)
        printf("    why: %s\n", cv->why.msg);
}

static json_t *request_json(const struct ca_run *run, const ssync_ca_request *q, int have_cov,
                            const ssync_kra_coverage *cv, const ssync_error *cov_err)
{
    json_t *o = json_pack(
        "{s:I, s:i, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o}", "request_id",
        (json_int_t)q->request_id, "disposition", q->disposition, "disposition_name",
        ssync_ca_disposition_name(q->disposition), "requester", q->requester, "template",
        q->template_name, "serial", *q->serial ? json_string(q->serial) : json_null(), "thumbprint",
        *q->thumbprint ? json_string(q->thumbprint) : json_null(), "upn", q->upn, "submitted_when",
        jtime(q->submitted), "not_before", jtime(q->not_before), "not_after", jtime(q->not_after));
    json_object_set_new(o, "revoked_when", jtime(q->revoked_when));
    json_object_set_new(o, "revoked_reason",
                        q->disposition == 21 ? json_integer(q->revoked_reason) : json_null());
    json_object_set_new(o, "archived_key", json_boolean(q->archived_key != NULL));
    if (q->archived_key && have_cov) {
        json_t *rs = json_array();
        for (size_t i = 0; i < cv->n; i++)
            json_array_append_new(rs, json_pack("{s:s, s:s, s:b}", "serial", cv->r[i].serial,
                                                "issuer", cv->r[i].issuer, "held", cv->r[i].held));
        json_object_set_new(o, "kra",
                            json_pack("{s:I, s:o, s:b, s:o, s:s}", "recipients",
                                      (json_int_t)cv->total, "recipient", rs, "held", cv->held,
                                      "opens",
                                      run->have_kras ? json_boolean(cv->opens) : json_null(),
                                      "coverage", coverage_word(run, cv)));
    } else if (q->archived_key) {
        json_object_set_new(o, "kra", json_pack("{s:s}", "error", cov_err->msg));
    }
    return o;
}

static ssync_code on_request(void *ctx, const ssync_ca_request *q, ssync_error *err)
{
    struct ca_run *run = ctx;
    (void)err;
    if (q->error) { /* one line; the others go on */
        fflush(stdout);
        char item[48];
        snprintf(item, sizeof item, "request %lld", q->request_id);
        cli_report(run->cmd, q->request_id > 0 ? item : NULL, q->error);
        run->bad_rows++;
        return SSYNC_OK;
    }
    run->requests++;
    run->issued += q->disposition == 20;
    run->revoked += q->disposition == 21;
    run->other += q->disposition != 20 && q->disposition != 21;
    ssync_kra_coverage cv;
    ssync_error cov_err = {0};
    int have_cov = 0;
    if (q->archived_key) {
        run->keys++;
        have_cov = ssync_kra_coverage_check(run->kras, q->archived_key, q->archived_key_len, &cv,
                                            &cov_err) == SSYNC_OK;
        if (!have_cov) {
            run->unreadable++;
        } else {
            run->opens += cv.opens;
            run->held_failed += cv.held && !cv.opens;
            run->not_covered += !cv.held && run->have_kras;
            for (size_t i = 0; i < cv.n; i++)
                note_kra(run, &cv.r[i]);
        }
    }
    if (!run->json) {
        print_text(run, q, have_cov, &cv, &cov_err);
        return SSYNC_OK;
    }
    json_t *o = request_json(run, q, have_cov, &cv, &cov_err);
    printf("%s", run->first ? "\n    " : ",\n    ");
    run->first = 0;
    json_dumpf(o, stdout, JSON_COMPACT);
    json_decref(o);
    return SSYNC_OK;
}

static void print_totals(const struct ca_run *run)
{
    if (run->json) {
        json_t *kras = json_array();
        for (size_t i = 0; i < run->nseen; i++)
            json_array_append_new(
                kras, json_pack("{s:s, s:s, s:b, s:I}", "serial", run->seen[i].r.serial, "issuer",
                                run->seen[i].r.issuer, "held", run->seen[i].r.held, "archived_keys",
                                (json_int_t)run->seen[i].blobs));
        json_t *t = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:I}", "requests",
            (json_int_t)run->requests, "issued", (json_int_t)run->issued, "revoked",
            (json_int_t)run->revoked, "other", (json_int_t)run->other, "archived_keys",
            (json_int_t)run->keys, "open_with_our_kras",
            run->have_kras ? json_integer((json_int_t)run->opens) : json_null(),
            "held_but_not_opened",
            run->have_kras ? json_integer((json_int_t)run->held_failed) : json_null(),
            "not_covered",
            run->have_kras ? json_integer((json_int_t)run->not_covered) : json_null(), "unreadable",
            (json_int_t)run->unreadable, "unreadable_rows", (json_int_t)run->bad_rows);
        char *ks = json_dumps(kras, JSON_COMPACT), *ts = json_dumps(t, JSON_COMPACT);
        printf("\n  ],\n  \"kras\": %s,\n  \"totals\": %s\n}\n", ks ? ks : "[]", ts ? ts : "{}");
        free(ks);
        free(ts);
        json_decref(kras);
        json_decref(t);
        return;
    }
    printf("\nTotals: %zu requests (%zu issued, %zu revoked, %zu other), %zu archived keys\n",
           run->requests, run->issued, run->revoked, run->other, run->keys);
    if (run->bad_rows)
        printf("Unreadable rows: %zu (one line each on stderr)\n", run->bad_rows);
    if (run->have_kras)
        printf("KRA coverage: %zu open with our KRA keys, %zu held but do not open, %zu not "
               "covered (encrypted only to KRAs we do not hold), %zu unreadable\n",
               run->opens, run->held_failed, run->not_covered, run->unreadable);
    else
        printf("KRA coverage: not tried (no KRA key given), %zu unreadable\n", run->unreadable);
    for (size_t i = 0; i < run->nseen; i++)
        printf("  KRA serial %s issued by %s: %zu archived key%s%s\n",
               *run->seen[i].r.serial ? run->seen[i].r.serial : "-", run->seen[i].r.issuer,
               run->seen[i].blobs, run->seen[i].blobs == 1 ? "" : "s",
               run->seen[i].r.held ? " (held)" : "");
}

/* The source of type edb the configuration names: --source NAME, else its only one. */
static int edb_source(const char *cmd, const char *config, const ssync_config *cfg,
                      const char *name, const ssync_source_cfg **out)
{
    size_t n = ssync_config_source_count(cfg), edb = 0;
    for (size_t i = 0; i < n; i++) {
        const ssync_source_cfg *s = ssync_config_source_at(cfg, i);
        if (name && strcmp(ssync_source_name(s), name) != 0)
            continue;
        if (s->type == SSYNC_SOURCE_EDB && s->path && !edb++)
            *out = s;
    }
    if (edb == 1)
        return CLI_EXIT_OK;
    if (name)
        cli_err(cmd, "%s: no source \"%s\" of type edb", config, name);
    else if (edb == 0)
        cli_err(cmd, "%s: no source of type edb: give the database FILE instead", config);
    else
        cli_err(cmd, "%s: %zu sources of type edb: name one with --source NAME", config, edb);
    return name ? CLI_EXIT_USAGE : CLI_EXIT_FAILURE;
}

/* The database path and the KRA set (NULL: none) from --config and the --kra options. */
static int inputs(const char *cmd, const struct ca_args *a, const struct cli_opts *o,
                  ssync_config *cfg, const char **path, ssync_kra_set **kras)
{
    ssync_error e = {0};
    const ssync_kra_cfg *kra_cfg = &cfg->kra;
    int rc;
    *kras = NULL;
    if (a->config) {
        if (ssync_config_load(a->config, cfg, &e) != SSYNC_OK) {
            cli_report(cmd, NULL, &e);
            return CLI_EXIT_FAILURE;
        }
        const ssync_source_cfg *src = NULL;
        if ((rc = edb_source(cmd, a->config, cfg, o->source, &src)) != CLI_EXIT_OK)
            return rc;
        *path = src->path;
        kra_cfg = src->kra.key.n ? &src->kra : &cfg->kra; /* its own keys, else [kra]'s */
    } else {
        *path = o->argv[0];
    }
    if (o->kra.n) {
        if (!(*kras = cli_load_kras(cmd, &o->kra, &o->kra_pass, &o->kra_cert)))
            cli_err(cmd, "warning: KRA coverage is not tried");
    } else if (a->config && ssync_kra_set_open(kra_cfg, NULL, NULL, kras, &e) != SSYNC_OK) {
        cli_report(cmd, "warning: KRA coverage is not tried", &e);
        *kras = NULL;
    }
    return CLI_EXIT_OK;
}

static int ca_requests(int argc, char **argv)
{
    struct ca_args a = {0};
    struct cli_opts o;
    cli_options_init(&o, spec.name);
    int rc = cli_options_parse(&spec, argc, argv, &o, &a);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;
    ssync_config cfg;
    ssync_config_defaults(&cfg);
    const char *path = NULL;
    ssync_kra_set *kras = NULL;
    ssync_edb_inspect *db = NULL;
    ssync_error e = {0};
    rc = inputs(o.cmd, &a, &o, &cfg, &path, &kras);
    if (rc == CLI_EXIT_OK && ssync_edb_inspect_open(path, &db, &e) != SSYNC_OK) {
        cli_report(o.cmd, NULL, &e);
        rc = CLI_EXIT_FAILURE;
    }
    if (rc == CLI_EXIT_OK) {
        const ssync_edb_info *in = ssync_edb_inspect_info(db);
        if (in->state != SSYNC_EDB_INFO_STATE_CLEAN)
            cli_err(o.cmd, "warning: %s: %s database (state %u) read as it is on disk: %s", path,
                    ssync_edb_state_name(in->state), in->state, ssync_edb_state_advice(in->state));
        struct ca_run run = {.cmd = o.cmd,
                             .json = a.json,
                             .have_kras = kras && ssync_kra_set_count(kras) > 0,
                             .kras = kras,
                             .first = 1};
        if (a.json) {
            json_t *jp = json_string(path);
            char *ps = jp ? json_dumps(jp, JSON_ENCODE_ANY) : NULL;
            printf("{\n  \"database\": %s,\n  \"state\": \"%s\",\n  \"requests\": [",
                   ps ? ps : "null", ssync_edb_state_name(in->state));
            free(ps);
            json_decref(jp);
        }
        if (ssync_ca_requests(db, &a.filter, on_request, &run, &e) != SSYNC_OK) {
            fflush(stdout);
            cli_report(o.cmd, strstr(e.msg, path) ? NULL : path, &e);
            rc = CLI_EXIT_FAILURE;
        } else {
            print_totals(&run);
            if (run.bad_rows)
                rc = run.requests ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
        }
    }
    ssync_edb_inspect_close(db);
    ssync_kra_set_free(kras);
    ssync_config_free(&cfg);
    return rc;
}

int cmd_ca(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "requests"))
        return ca_requests(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        cli_options_usage(&spec, stdout);
        return CLI_EXIT_OK;
    }
    if (argc >= 2)
        fprintf(stderr, "smimesync ca: unknown subcommand '%s'\n", argv[1]);
    cli_options_usage(&spec, stderr);
    return CLI_EXIT_USAGE;
}
