/* smimesync upload: POST records made by `export` to Intune. Together they split the work
 * between a host that holds the KRA key and no network, and one that talks to Graph. */
#include "cli.h"
#include "cli_lock.h"
#include "cli_log.h"
#include "cli_options.h"
#include "cli_util.h"

#include "common/fileio.h"
#include "journal/lock.h"
#include "sync/config.h"
#include "sync/connect.h"
#include "sync/trail.h"
#include "record/record.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const CMD = "upload";

static const struct cli_option options[] = {
    CLI_USE(CLI_OPT_CONFIG, "the configuration file ([intune] section: tenant, client id,\n"
                            "credentials, URLs, CA bundle, rate limits)"),
    CLI_USE(CLI_OPT_VERBOSE, "also print the client's info messages"),
    CLI_USE(CLI_OPT_NO_WAIT, NULL),
};

static const struct cli_spec spec = {
    .name = "upload",
    .synopsis = "--config FILE [--verbose] [--no-wait] RECORD.json|DIR...",
    .summary = "Create the userPfxCertificate records that 'smimesync export' wrote, in Intune.\n"
               "A directory argument means every *.json file in it. A record already in Intune\n"
               "counts as done and is not created twice, also after a timeout or a server error\n"
               "(the record is read back before any second attempt). With a [state] path it\n"
               "holds the one-writer state lock as sync does.",
    .options = CLI_SPEC_OPTIONS(options),
    .min_args = 1,
    .max_args = -1,
    .missing_args = "no record file or directory given",
};

struct item {
    char *path;
    json_t *record;
};

static int is_json_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

static int add_path(struct item **items, size_t *n, size_t *cap, const char *path)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct item *bigger = realloc(*items, ncap * sizeof *bigger);
        if (!bigger)
            return 0;
        *items = bigger;
        *cap = ncap;
    }
    (*items)[*n].path = strdup(path);
    (*items)[*n].record = NULL;
    return (*items)[(*n)++].path != NULL;
}

static int expand(const char *arg, struct item **items, size_t *n, size_t *cap)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        cli_err(CMD, "%s: %s", arg, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return add_path(items, n, cap, arg);
    struct dirent **names = NULL;
    int count = scandir(arg, &names, is_json_name, alphasort);
    if (count < 0) {
        cli_err(CMD, "%s: %s", arg, strerror(errno));
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < count; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", arg, names[i]->d_name);
        ok &= add_path(items, n, cap, path);
        free(names[i]);
    }
    free(names);
    return ok;
}

/* The record must look like export's output before it costs a request. */
static int check_record(const json_t *r, char *why, size_t n)
{
    static const char *const fields[] = {
        "thumbprint",         "intendedPurpose",     "userPrincipalName", "startDateTime",
        "expirationDateTime", "providerName",        "keyName",           "paddingScheme",
        "encryptedPfxBlob",   "encryptedPfxPassword"};
    if (!json_is_object(r))
        return snprintf(why, n, "not a JSON object"), 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = json_string_value(json_object_get(r, fields[i]));
        if (!v || !*v)
            return snprintf(why, n, "field %s is missing or empty", fields[i]), 0;
    }
    if (!ssync_thumbprint_valid(json_string_value(json_object_get(r, "thumbprint"))))
        return snprintf(why, n, "thumbprint is not 40 lowercase hex digits"), 0;
    return 1;
}

struct run_ctx {
    struct item *items;
    size_t done, failed;
    ssync_audit *audit;    /* [audit] path, open; NULL: none */
    ssync_error audit_err; /* the first line it could not take */
};

static void on_done(void *ctx, ssync_graph_op *op)
{
    struct run_ctx *rc = ctx;
    struct item *it = op->user_data;
    const char *upn = json_string_value(json_object_get(it->record, "userPrincipalName"));
    const ssync_trail_item ti = {.user = upn,
                                 .thumbprint =
                                     json_string_value(json_object_get(it->record, "thumbprint")),
                                 .source = it->path};
    if (rc->audit && rc->audit_err.code == SSYNC_OK)
        ssync_trail_write(rc->audit, &ti, op, &rc->audit_err);
    if (op->result == SSYNC_OK) {
        printf("%s %s %s %s\n", op->already ? "present" : "created", op->id, upn, it->path);
        rc->done++;
    } else {
        cli_report_graph(CMD, it->path, &op->err, &op->detail);
        rc->failed++;
    }
    fflush(stdout);
}

int cmd_upload(int argc, char **argv)
{
    struct cli_opts o;
    int rc = cli_options_parse(&spec, argc, argv, &o, NULL);
    if (rc != CLI_EXIT_OK)
        return rc == -1 ? CLI_EXIT_OK : rc;

    ssync_config cfg;
    ssync_error e = {0};
    if (ssync_config_load(o.config, &cfg, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        ssync_config_free(&cfg);
        return CLI_EXIT_FAILURE;
    }
    struct item *items = NULL;
    size_t n = 0, cap = 0, bad = 0;
    for (int i = 0; i < o.argc; i++)
        if (!expand(o.argv[i], &items, &n, &cap))
            bad++;
    ssync_graph_op *ops = calloc(n ? n : 1, sizeof *ops);
    size_t nops = 0;
    for (size_t i = 0; ops && i < n; i++) {
        json_error_t je;
        char why[200];
        /* a record names the user who receives the key: one that others could have written
         * (or another user owns, or sits in such a directory) is refused */
        if (ssync_check_trusted_parent(items[i].path, "record directory", &e) != SSYNC_OK ||
            ssync_check_trusted_path(items[i].path, "record", &e) != SSYNC_OK) {
            cli_report(CMD, NULL, &e);
            bad++;
            continue;
        }
        items[i].record = json_load_file(items[i].path, JSON_REJECT_DUPLICATES, &je);
        if (!items[i].record) {
            cli_err(CMD, "%s: not a record: %s (line %d)", items[i].path, je.text, je.line);
            bad++;
        } else if (!check_record(items[i].record, why, sizeof why)) {
            cli_err(CMD, "%s: not a record: %s", items[i].path, why);
            bad++;
        } else {
            ops[nops].kind = SSYNC_OP_CREATE;
            ops[nops].record = items[i].record;
            ops[nops].user_data = &items[i];
            nops++;
        }
    }

    struct run_ctx run = {.items = items};
    struct cli_log log = {.cmd = CMD,
                          .verbosity = o.verbose ? SSYNC_LOG_INFO : SSYNC_LOG_WARN,
                          .journal = cli_log_use_journal(o.log_json, cfg.log.journal)};
    ssync_graph *g = NULL;
    ssync_lock *lock = NULL;
    int lrc = CLI_EXIT_OK;
    if (!ops) {
        cli_err(CMD, "out of memory");
    } else if (nops > 0 && (lrc = cli_lock_exit(cli_lock_take(&log, &cfg, o.no_wait, NULL,
                                                              &lock))) != CLI_EXIT_OK) {
        /* nothing sent: the records count as failed below */
    } else if (nops > 0 && cfg.audit.path &&
               ssync_audit_open(cfg.audit.path, cfg.intune.client_id, &run.audit, &e) != SSYNC_OK) {
        /* no create without its record */
        cli_log_msg(&log, SSYNC_LOG_ERROR, "[audit] path: %s: nothing is uploaded", e.msg);
    } else if (nops > 0 && ssync_graph_open(&cfg.intune, cfg.path, cli_log_graph_fn, &log, &g,
                                            &e) != SSYNC_OK) {
        cli_log_error(&log, NULL, &e);
    } else if (nops > 0) {
        if (ssync_graph_run(g, ops, nops, on_done, &run, &e) != SSYNC_OK)
            cli_report_graph(CMD, NULL, &e, ssync_graph_last_failure(g));
        if (run.audit && (run.audit_err.code != SSYNC_OK ||
                          ssync_audit_sync(run.audit, &run.audit_err) != SSYNC_OK))
            cli_log_msg(&log, SSYNC_LOG_ERROR, "[audit] path: %s", run.audit_err.msg);
    }
    size_t failed = run.failed + bad + (nops - run.done - run.failed);
    fprintf(stderr, "smimesync upload: %zu record(s) in Intune, %zu failed\n", run.done, failed);
    rc = lrc != CLI_EXIT_OK            ? lrc
         : failed == 0 && run.done > 0 ? CLI_EXIT_OK
         : run.done > 0                ? CLI_EXIT_PARTIAL
                                       : CLI_EXIT_FAILURE;
    ssync_graph_free(g);
    ssync_audit_close(run.audit);
    ssync_lock_release(lock);
    for (size_t i = 0; i < n; i++) {
        free(items[i].path);
        json_decref(items[i].record);
    }
    free(items);
    free(ops);
    ssync_config_free(&cfg);
    return rc;
}
