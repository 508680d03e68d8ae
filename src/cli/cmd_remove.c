/* smimesync remove: delete userPfxCertificates from Intune (all of a user's, or those of given
 * thumbprints), each verified gone, with an intent in the journal before the deletes and the
 * outcomes after, as sync does. */
#include "cli.h"
#include "cli_lock.h"
#include "cli_log.h"
#include "cli_options.h"
#include "cli_sources.h"
#include "cli_util.h"

#include "sync/config.h"
#include "sync/connect.h"
#include "sync/trail.h"
#include "graph/graph.h"
#include "journal/journal.h"
#include "journal/lock.h"
#include "pki/crl.h"
#include "pki/trust.h"
#include "source/source.h"
#include "common/uuid.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CMD = "remove";

struct remove_opts {
    const char *config, *user;   /* these four: from the shared options (struct cli_opts) */
    struct cli_list thumbprints; /* normalized in place into tp[] */
    char tp[CLI_MAX_LIST][41];
    int dry_run, json, verbose;
    struct cli_log log; /* set once the configuration is loaded */
    ssync_audit *audit; /* [audit] path, open; NULL: none */
};

/* One record to delete. */
struct target {
    const ssync_pfx_entry *e;
    char user_id[33]; /* from the record id "{userIdWithoutDashes}-{thumbprint}" */
    char *in_source;  /* the blob that still carries it (sync would upload it again) */
    int64_t op_id;
};

/* "AB:CD..." or "abcd..." into 40 lowercase hex digits; 0 when it is not a SHA-1. */
static int normalize_thumbprint(const char *in, char out[41])
{
    size_t n = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ':' || *p == ' ')
            continue;
        if (!isxdigit((unsigned char)*p) || n == 40)
            return 0;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
    return n == 40;
}

enum { OPT_THUMBPRINT = CLI_OPT_OWN, OPT_DRY_RUN };

static const struct cli_option options[] = {
    CLI_USE(CLI_OPT_CONFIG, NULL),
    CLI_USE(CLI_OPT_USER, "the user whose records go (with --thumbprint: only that user's)"),
    CLI_OWN(OPT_THUMBPRINT, "thumbprint", "T", 't',
            "the certificate's SHA-1 thumbprint (40 hex digits; colons and\n"
            "case are ignored); may be repeated"),
    CLI_OWN(OPT_DRY_RUN, "dry-run", NULL, 'n', "show what would be removed, remove nothing"),
    CLI_USE(CLI_OPT_JSON, NULL),
    CLI_USE(CLI_OPT_VERBOSE, "also print the Graph client's info messages"),
    CLI_USE(CLI_OPT_NO_WAIT, NULL),
};

static int on_option(void *ctx, struct cli_opts *opt, int id, const char *arg)
{
    struct remove_opts *o = ctx;
    (void)opt;
    if (id == OPT_DRY_RUN) {
        o->dry_run = 1;
        return CLI_EXIT_OK;
    }
    if (!cli_list_add(&o->thumbprints, arg)) {
        cli_err(CMD, "at most %d --thumbprint options", CLI_MAX_LIST);
        return CLI_EXIT_USAGE;
    }
    if (!normalize_thumbprint(arg, o->tp[o->thumbprints.n - 1])) {
        cli_err(CMD, "--thumbprint '%s': not a SHA-1 thumbprint (40 hex digits)", arg);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int check(void *ctx, struct cli_opts *opt)
{
    const struct remove_opts *o = ctx;
    if (!opt->user && o->thumbprints.n == 0) {
        cli_err(CMD, "say what to remove: --user UPN and/or --thumbprint T");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static const struct cli_spec spec = {
    .name = "remove",
    .synopsis = "--config FILE (--user UPN | --thumbprint T [--user UPN])\n"
                "                        [--dry-run] [--json] [--verbose] [--no-wait]",
    .summary =
        "Delete userPfxCertificates from Intune and verify that they are gone: every record\n"
        "of a user, or the records of a certificate (SHA-1 thumbprint; repeatable). Each\n"
        "delete is recorded in the [state] journal before and after. A certificate that is\n"
        "still in the source is uploaded again by the next sync unless it is excluded.\n"
        "It holds the one-writer state lock as sync does (--dry-run does not wait for it).",
    .options = CLI_SPEC_OPTIONS(options),
    .max_args = 0,
    .flags = CLI_SPEC_OPERANDS_FIRST,
    .on_option = on_option,
    .check = check,
};

static int wanted(const struct remove_opts *o, const ssync_pfx_entry *e)
{
    if (o->thumbprints.n == 0)
        return 1;
    for (size_t i = 0; i < o->thumbprints.n; i++)
        if (e->thumbprint && !strcmp(e->thumbprint, o->tp[i]))
            return 1;
    return 0;
}

/* The user part of the record id, which the delete needs; "" when the id has another shape
 * (the delete then fails with the reason). */
static void user_id_of(const ssync_pfx_entry *e, char out[33])
{
    out[0] = '\0';
    const char *dash = e->id ? strchr(e->id, '-') : NULL;
    if (!dash || dash - e->id != 32)
        return;
    char u[33];
    memcpy(u, e->id, 32);
    u[32] = '\0';
    if (!ssync_uuid_nodash(u, out))
        out[0] = '\0';
}

/* Notes the thumbprints that matched nothing, so a typo is not silent. */
static void note_unmatched(const struct cli_log *log, const struct remove_opts *o,
                           const ssync_pfx_list *l)
{
    for (size_t i = 0; i < o->thumbprints.n; i++) {
        size_t k = 0;
        while (k < l->count &&
               !(l->items[k].thumbprint && !strcmp(l->items[k].thumbprint, o->tp[i])))
            k++;
        if (k == l->count)
            cli_log_msg(log, SSYNC_LOG_WARN, "no record with thumbprint %s%s%s in Intune", o->tp[i],
                        o->user ? " for " : "", o->user ? o->user : "");
    }
}

static void warn_source(const struct cli_log *log, const struct target *t, size_t n, int searched)
{
    size_t again = 0;
    for (size_t i = 0; i < n; i++) {
        if (!t[i].in_source)
            continue;
        again++;
        cli_log_msg(
            log, SSYNC_LOG_WARN,
            "%s (%s) is still in the source (%s): the next sync will upload it again unless "
            "it is excluded ([source] users_deny or a filter) or revoked",
            t[i].e->thumbprint ? t[i].e->thumbprint : "-",
            t[i].e->user_principal_name ? t[i].e->user_principal_name : "-", t[i].in_source);
    }
    if (!searched && n)
        cli_log_msg(log, SSYNC_LOG_WARN,
                    "the source was not searched: a removed certificate that is still in it is "
                    "uploaded again by the next sync unless it is excluded ([source] users_deny "
                    "or a filter) or revoked");
}

/* Journal intents, the deletes, the outcomes. Returns 0 when nothing could be started. */
/* The trail's line of each delete sent, made durable before the report. */
static void audit_deletes(const struct cli_log *log, ssync_audit *a, const struct target *t,
                          const ssync_graph_op *ops, size_t n)
{
    ssync_error e = {0};
    for (size_t i = 0; a && i < n && e.code == SSYNC_OK; i++) {
        const ssync_trail_item ti = {.user = t[i].e->user_principal_name,
                                     .thumbprint = t[i].e->thumbprint};
        ssync_trail_write(a, &ti, &ops[i], &e);
    }
    if (a && (e.code != SSYNC_OK || ssync_audit_sync(a, &e) != SSYNC_OK))
        cli_log_msg(log, SSYNC_LOG_ERROR, "[audit] path: %s", e.msg);
}

static int run_deletes(const struct cli_log *log, ssync_audit *audit, const ssync_config *cfg,
                       ssync_graph *g, struct target *t, ssync_graph_op *ops, size_t n)
{
    ssync_error e = {0};
    ssync_journal *j = NULL;
    int64_t run_id = 0;
    if (ssync_journal_open(cfg->state.path, &j, &e) != SSYNC_OK ||
        ssync_journal_run_begin(j, CMD, &run_id, &e) != SSYNC_OK) {
        cli_log_error(log, "[state] path", &e);
        ssync_journal_close(j);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        ops[i].kind = SSYNC_OP_DELETE;
        ops[i].user_id = t[i].user_id;
        ops[i].thumbprint = t[i].e->thumbprint ? t[i].e->thumbprint : "";
        const char *upn = t[i].e->user_principal_name ? t[i].e->user_principal_name : "";
        if (ssync_journal_intent(j, run_id, SSYNC_OP_REMOVE, upn, ops[i].thumbprint, t[i].e->id,
                                 NULL, &t[i].op_id, &e) != SSYNC_OK) {
            cli_log_error(log, "journal", &e); /* never write without an intent */
            ssync_journal_run_end(j, run_id, "{\"writes\":0}", NULL);
            ssync_journal_close(j);
            return 0;
        }
    }
    if (ssync_graph_run(g, ops, n, NULL, NULL, &e) != SSYNC_OK)
        cli_log_graph(log, NULL, &e, ssync_graph_last_failure(g));
    audit_deletes(log, audit, t, ops, n);
    size_t done = 0;
    int tx = ssync_journal_tx_begin(j, &e) == SSYNC_OK;
    for (size_t i = 0; i < n; i++) {
        const ssync_graph_op *op = &ops[i];
        done += op->result == SSYNC_OK;
        if (ssync_journal_outcome(
                j, t[i].op_id, op->result == SSYNC_OK ? SSYNC_OUTCOME_DONE : SSYNC_OUTCOME_FAILED,
                (int)op->detail.http_status, op->detail.request_id,
                op->result == SSYNC_OK ? NULL : op->err.msg, &e) != SSYNC_OK)
            cli_log_error(log, "journal", &e);
    }
    if (tx && ssync_journal_tx_commit(j, &e) != SSYNC_OK)
        cli_log_error(log, "journal", &e);
    char summary[160];
    snprintf(summary, sizeof summary, "{\"writes\":%zu,\"done\":%zu,\"failed\":%zu}", n, done,
             n - done);
    if (ssync_journal_run_end(j, run_id, summary, &e) != SSYNC_OK)
        cli_log_error(log, "journal", &e);
    ssync_journal_close(j);
    return 1;
}

static const char *outcome_of(const struct remove_opts *o, const ssync_graph_op *op)
{
    if (o->dry_run)
        return "wouldRemove";
    return op->result == SSYNC_OK ? "removed" : "failed";
}

static void report(const struct cli_log *log, const struct remove_opts *o, const struct target *t,
                   const ssync_graph_op *ops, size_t n, size_t removed, size_t failed)
{
    for (size_t i = 0; !o->dry_run && i < n; i++) {
        if (ops[i].result == SSYNC_OK)
            continue;
        char item[400];
        snprintf(item, sizeof item, "%s %s",
                 t[i].e->user_principal_name ? t[i].e->user_principal_name : "-",
                 t[i].e->thumbprint ? t[i].e->thumbprint : "-");
        cli_log_graph(log, item, &ops[i].err, &ops[i].detail);
    }
    if (o->json) {
        json_t *items = json_array();
        for (size_t i = 0; i < n; i++) {
            const ssync_pfx_entry *e = t[i].e;
            json_t *it =
                json_pack("{s:s, s:s, s:s, s:s}", "id", e->id ? e->id : "", "userPrincipalName",
                          e->user_principal_name ? e->user_principal_name : "", "thumbprint",
                          e->thumbprint ? e->thumbprint : "", "outcome", outcome_of(o, &ops[i]));
            if (!o->dry_run && ops[i].detail.request_id[0])
                json_object_set_new(it, "requestId", json_string(ops[i].detail.request_id));
            if (!o->dry_run && ops[i].result != SSYNC_OK)
                json_object_set_new(it, "error", json_string(ops[i].err.msg));
            if (!o->dry_run && ops[i].result == SSYNC_OK && ops[i].already)
                json_object_set_new(it, "alreadyAbsent", json_true());
            if (t[i].in_source)
                json_object_set_new(it, "stillInSource", json_string(t[i].in_source));
            json_array_append_new(items, it);
        }
        json_t *root =
            json_pack("{s:{s:I, s:I, s:I}, s:b, s:o}", "counts", "removed", (json_int_t)removed,
                      "failed", (json_int_t)failed, "wouldRemove", (json_int_t)(o->dry_run ? n : 0),
                      "dryRun", o->dry_run, "items", items);
        if (root && json_dumpf(root, stdout, JSON_COMPACT) == 0)
            putchar('\n');
        else
            cli_err(CMD, "cannot write the JSON report");
        json_decref(root);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%-12s %-40s %s\n",
                   o->dry_run                  ? "would remove"
                   : ops[i].result != SSYNC_OK ? "failed"
                   : ops[i].already            ? "absent"
                                               : "removed",
                   t[i].e->thumbprint ? t[i].e->thumbprint : "-",
                   t[i].e->user_principal_name ? t[i].e->user_principal_name : "-");
        if (o->dry_run)
            printf("remove: %zu would be removed (dry run, nothing written)\n", n);
        else
            printf("remove: %zu removed, %zu failed\n", removed, failed);
    }
    fflush(stdout);
}

static int remove_selected(const struct remove_opts *o, const ssync_config *cfg, ssync_graph *g,
                           const ssync_pfx_list *l)
{
    size_t n = 0;
    for (size_t k = 0; k < l->count; k++)
        n += wanted(o, &l->items[k]);
    if (o->thumbprints.n)
        note_unmatched(&o->log, o, l);
    if (n == 0) {
        if (o->json)
            printf("{\"counts\":{\"removed\":0,\"failed\":0,\"wouldRemove\":0},\"dryRun\":%s,"
                   "\"items\":[]}\n",
                   o->dry_run ? "true" : "false");
        else
            printf("remove: nothing to remove\n");
        return CLI_EXIT_OK;
    }
    struct target *t = calloc(n, sizeof *t);
    ssync_graph_op *ops = calloc(n, sizeof *ops);
    const char **tps = calloc(n, sizeof *tps);
    char **files = calloc(n, sizeof *files);
    if (!t || !ops || !tps || !files) {
        cli_err(CMD, "out of memory");
        free(t), free(ops), free(tps), free(files);
        return CLI_EXIT_FAILURE;
    }
    n = 0;
    for (size_t k = 0; k < l->count; k++) {
        if (!wanted(o, &l->items[k]))
            continue;
        t[n].e = &l->items[k];
        user_id_of(t[n].e, t[n].user_id);
        tps[n] = t[n].e->thumbprint ? t[n].e->thumbprint : "";
        n++;
    }
    /* whether a source still holds them (remove's warning): blobs are searched cheaply */
    int searched = cli_sources_search(cfg, tps, n, files);
    for (size_t i = 0; i < n; i++)
        t[i].in_source = files[i];
    int rc = CLI_EXIT_OK;
    size_t removed = 0, failed = 0;
    if (!o->dry_run) {
        if (!run_deletes(&o->log, o->audit, cfg, g, t, ops, n)) {
            rc = CLI_EXIT_FAILURE;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            removed += ops[i].result == SSYNC_OK;
            failed += ops[i].result != SSYNC_OK;
        }
    }
    report(&o->log, o, t, ops, n, removed, failed);
    for (size_t i = 0; i < n; i++)
        if (!o->dry_run && ops[i].result != SSYNC_OK) {
            free(t[i].in_source); /* still in Intune: no warning about a re-upload */
            t[i].in_source = NULL;
        }
    warn_source(&o->log, t, n, searched);
    rc = failed == 0 ? CLI_EXIT_OK : removed ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
out:
    for (size_t i = 0; i < n; i++)
        free(t[i].in_source);
    free(t), free(ops), free(tps), free(files);
    return rc;
}

int cmd_remove(int argc, char **argv)
{
    struct remove_opts o = {0};
    struct cli_opts opt;
    int rc = cli_options_parse(&spec, argc, argv, &opt, &o);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;
    o.config = opt.config;
    o.user = opt.user;
    o.json = opt.json;
    o.verbose = opt.verbose;
    ssync_config cfg;
    ssync_error e = {0};
    if (ssync_config_load(o.config, &cfg, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        ssync_config_free(&cfg);
        return CLI_EXIT_FAILURE;
    }
    if (!o.dry_run && !cfg.state.path) {
        cli_err(CMD, "%s: [state] path is required for remove (the journal of the deletes)",
                o.config);
        ssync_config_free(&cfg);
        return CLI_EXIT_FAILURE;
    }
    o.log = (struct cli_log){.cmd = CMD,
                             .verbosity = cli_log_level(cfg.log.level, o.verbose, 0),
                             .json = cfg.log.json,
                             .journal = cli_log_use_journal(opt.log_json, cfg.log.journal)};
    /* one writer: before the listing it decides on, as sync takes it before its plan */
    ssync_lock *lock = NULL;
    if (!o.dry_run && (rc = cli_lock_exit(cli_lock_take(&o.log, &cfg, opt.no_wait, NULL, &lock))) !=
                          CLI_EXIT_OK) {
        ssync_config_free(&cfg);
        return rc;
    }
    /* no delete without its record: a trail that cannot take lines stops the run here */
    if (!o.dry_run && cfg.audit.path &&
        ssync_audit_open(cfg.audit.path, cfg.intune.client_id, &o.audit, &e) != SSYNC_OK) {
        cli_log_msg(&o.log, SSYNC_LOG_ERROR, "[audit] path: %s: nothing is removed", e.msg);
        ssync_lock_release(lock);
        ssync_config_free(&cfg);
        return CLI_EXIT_FAILURE;
    }
    ssync_graph *g = NULL;
    if (ssync_graph_open(&cfg.intune, cfg.path, cli_log_graph_fn, &o.log, &g, &e) != SSYNC_OK)
        cli_log_error(&o.log, NULL, &e);
    ssync_pfx_list l = {0};
    rc = CLI_EXIT_FAILURE;
    if (g) {
        ssync_code lrc = o.user ? ssync_graph_list_pfx_by_user(g, o.user, &l, &e)
                                : ssync_graph_list_pfx(g, &l, &e);
        if (lrc != SSYNC_OK)
            cli_log_graph(&o.log, "listing", &e, ssync_graph_last_failure(g));
        else
            rc = remove_selected(&o, &cfg, g, &l);
    }
    ssync_pfx_list_free(&l);
    ssync_graph_free(g);
    ssync_audit_close(o.audit);
    ssync_lock_release(lock); /* after the journal's last write */
    ssync_config_free(&cfg);
    return rc;
}
