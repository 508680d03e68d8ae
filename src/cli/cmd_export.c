/* smimesync export: recovery blobs -> one Graph userPfxCertificate POST body per certificate. */
#include "cli.h"
#include "cli_options.h"
#include "cli_util.h"

#include "audit/audit.h"
#include "sync/trail.h"

#include "connector/connector.h"
#include "record/export.h"
#include "common/fileio.h"
#include "common/pool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char *const CMD = "export";

static int name_is_visible(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Appends the files named by one argument (a file, or every regular non-hidden file of a
 * directory, sorted) to *items. Returns 0 when the argument itself cannot be read. */
static int expand_argument(const char *arg, char ***items, size_t *n, size_t *cap)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        cli_err(CMD, "%s: %s", arg, strerror(errno));
        return 0;
    }
    struct dirent **names = NULL;
    int count = 1;
    if (S_ISDIR(st.st_mode)) {
        count = scandir(arg, &names, name_is_visible, alphasort);
        if (count < 0) {
            cli_err(CMD, "%s: %s", arg, strerror(errno));
            return 0;
        }
    }
    for (int i = 0; i < count; i++) {
        char *path;
        if (names) {
            size_t len = strlen(arg) + strlen(names[i]->d_name) + 2;
            path = malloc(len);
            if (path)
                snprintf(path, len, "%s/%s", arg, names[i]->d_name);
            free(names[i]);
            if (path && (stat(path, &st) != 0 || !S_ISREG(st.st_mode))) {
                free(path);
                continue;
            }
        } else {
            path = strdup(arg);
        }
        if (!path)
            continue;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 64;
            char **bigger = realloc(*items, ncap * sizeof *bigger);
            if (!bigger) {
                free(path);
                continue;
            }
            *items = bigger;
            *cap = ncap;
        }
        (*items)[(*n)++] = path;
    }
    free(names);
    return 1;
}

/* One item's work on a worker thread: read, recover, build the record and its JSON text. */
struct export_slot {
    ssync_export_result r;
    ssync_error e;
    ssync_code rc;
    char *body; /* the record as written (holds no plaintext secret) */
};

struct export_job {
    const ssync_exporter *ex;
    char **items;
    struct export_slot *slots;
    size_t window;
};

static void export_one(void *ctx, size_t i)
{
    struct export_job *job = ctx;
    struct export_slot *s = &job->slots[i % job->window];
    ssync_buf blob = {0};
    memset(s, 0, sizeof *s);
    s->rc = ssync_read_file(job->items[i], SSYNC_MAX_INPUT_FILE, &blob, &s->e);
    if (s->rc == SSYNC_OK)
        s->rc = ssync_export_blob(job->ex, blob.data, blob.len, NULL, &s->r, &s->e);
    if (s->rc == SSYNC_OK &&
        !(s->body = json_dumps(s->r.record, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        s->rc = ssync_fail(&s->e, SSYNC_ERR_NOMEM, "record JSON");
    ssync_buf_free(&blob);
}

/* Records written but not yet reported: they become durable together (one file-system sync for
 * up to EXPORT_BATCH records instead of one fsync each) and are printed once they are. */
#define EXPORT_BATCH 64

struct pending {
    const char *item;
    char thumbprint[41];
    char *upn;
};

struct export_out {
    ssync_file_batch batch;
    struct pending p[EXPORT_BATCH];
    size_t n;
    json_t *seen; /* thumbprint -> file, to report duplicates */
    size_t done, failed;
};

/* Makes the pending records durable, then prints them; a failure names every record lost. */
static void flush_records(struct export_out *o)
{
    ssync_error e = {0};
    size_t placed = 0;
    ssync_code rc = ssync_file_batch_commit(&o->batch, &placed, &e);
    for (size_t k = 0; k < o->n; k++) {
        struct pending *p = &o->p[k];
        if (k < placed) {
            printf("%s %s %s\n", p->thumbprint, p->upn ? p->upn : "", p->item);
            o->done++;
        } else {
            cli_report(CMD, p->item, &e);
            json_object_del(o->seen, p->thumbprint);
            o->failed++;
        }
        free(p->upn);
    }
    if (rc != SSYNC_OK && placed == o->n) /* in place, but the directory sync failed */
        cli_report(CMD, NULL, &e);
    o->n = 0;
}

static void add_record(struct export_out *o, const char *item, const ssync_export_result *r,
                       char *body)
{
    char name[64];
    snprintf(name, sizeof name, "%s.json", r->info.thumbprint);
    size_t blen = strlen(body);
    body[blen] = '\n'; /* overwrite the NUL: the file ends with a newline */
    ssync_error e = {0};
    ssync_code rc = ssync_file_batch_add(&o->batch, name, body, blen + 1, 0600, &e);
    body[blen] = '\0';
    if (rc != SSYNC_OK) {
        cli_report(CMD, item, &e);
        o->failed++;
        return;
    }
    struct pending *p = &o->p[o->n++];
    p->item = item;
    snprintf(p->thumbprint, sizeof p->thumbprint, "%s", r->info.thumbprint);
    const char *upn = json_string_value(json_object_get(r->record, "userPrincipalName"));
    p->upn = upn ? strdup(upn) : NULL;
    json_object_set_new(o->seen, r->info.thumbprint, json_string(item));
    if (o->n == EXPORT_BATCH)
        flush_records(o);
}

enum {
    OPT_CONNECTOR = CLI_OPT_OWN,
    OPT_OUT_DIR,
    OPT_PADDING,
    OPT_PROVIDER,
    OPT_KEY_NAME,
    OPT_BOTH
};

static const struct cli_option options[] = {
    CLI_USE(CLI_OPT_KRA, NULL),
    CLI_USE(CLI_OPT_KRA_PASS_FILE, NULL),
    CLI_USE(CLI_OPT_KRA_CERT, NULL),
    CLI_OWN(OPT_CONNECTOR, "connector-key", "FILE", 0,
            "the connector's public key: PEM, certificate, or the RSA1\n"
            "blob that Export-IntunePublicKey writes"),
    CLI_OWN(OPT_OUT_DIR, "out-dir", "DIR", 0, "where to write the records (created if missing)"),
    CLI_USE(CLI_OPT_PFX_PROFILE, NULL),
    CLI_OWN(OPT_PADDING, "padding", "NAME", 0, "OAEP padding of the password (default oaepSha512)"),
    CLI_OWN(OPT_PROVIDER, "provider-name", "S", 0,
            "key storage provider of the connector key (default\n"
            "\"Microsoft Software Key Storage Provider\")"),
    CLI_OWN(OPT_KEY_NAME, "key-name", "S", 0, "connector key name (default \"PFXEncryptionKey\")"),
    CLI_USE(CLI_OPT_INCLUDE_CHAIN, NULL),
    CLI_USE(CLI_OPT_AUDIT, NULL),
    CLI_OWN(OPT_BOTH, "both-purpose", "NAME", 0,
            "intendedPurpose when a certificate allows both\n"
            "keyEncipherment and digitalSignature (default\n"
            "smimeEncryption)"),
    CLI_USE(CLI_OPT_WORKERS, "recovery threads, 1-256 (default: one per CPU); the\n"
                             "output stays in argument order"),
};

/* export's own options */
struct export_args {
    ssync_exporter *ex;
    const char *connector_path, *out_dir;
};

static int on_option(void *ctx, struct cli_opts *o, int id, const char *arg)
{
    struct export_args *a = ctx;
    ssync_error e = {0};
    ssync_code pc = SSYNC_OK;
    (void)o;
    switch (id) {
    case OPT_CONNECTOR:
        a->connector_path = arg;
        break;
    case OPT_OUT_DIR:
        a->out_dir = arg;
        break;
    case OPT_PADDING:
        pc = ssync_padding_parse(arg, &a->ex->record.padding, &e);
        break;
    case OPT_PROVIDER:
        a->ex->record.provider_name = arg;
        break;
    case OPT_KEY_NAME:
        a->ex->record.key_name = arg;
        break;
    case OPT_BOTH:
        pc = ssync_purpose_parse(arg, &a->ex->both_purpose, &e);
        break;
    }
    if (pc != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static int check(void *ctx, struct cli_opts *o)
{
    const struct export_args *a = ctx;
    (void)o;
    if (!a->connector_path || !a->out_dir) {
        cli_err(CMD, "--connector-key and --out-dir are required");
        return CLI_EXIT_USAGE;
    }
    if ((a->ex->record.provider_name && !*a->ex->record.provider_name) ||
        (a->ex->record.key_name && !*a->ex->record.key_name)) {
        cli_err(CMD, "--provider-name and --key-name must not be empty");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

static const struct cli_spec spec = {
    .name = "export",
    .synopsis = "--kra FILE [--kra-pass-file FILE] [--kra-cert FILE]\n"
                "                        --connector-key FILE --out-dir DIR\n"
                "                        [--pfx-profile compat|modern]\n"
                "                        [--padding oaepSha256|oaepSha384|oaepSha512]\n"
                "                        [--provider-name S] [--key-name S] [--include-chain]\n"
                "                        [--both-purpose smimeEncryption|smimeSigning|unassigned]\n"
                "                        [--workers N]\n"
                "                        BLOB|DIR...",
    .summary =
        "Build the Intune record (the exact Graph POST body of a userPfxCertificate) for each\n"
        "recovery blob: the key is recovered with the KRA key, packed with its certificate\n"
        "into a PKCS#12 under a fresh random password, and the password is encrypted to the\n"
        "Intune Certificate Connector's public key. Writes DIR/<thumbprint>.json (0600).\n"
        "A directory argument means every regular, non-hidden file in it. A bad item does\n"
        "not stop the others: each failure is one line on stderr.",
    .options = CLI_SPEC_OPTIONS(options),
    .min_args = 1,
    .max_args = -1,
    .missing_args = "no recovery blob or directory given",
    .flags = CLI_SPEC_OPERANDS_FIRST,
    .on_option = on_option,
    .check = check,
};

int cmd_export(int argc, char **argv)
{
    time_t started = time(NULL);
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    ssync_error e = {0};
    struct export_args a = {.ex = &ex};
    struct cli_opts opt;
    int prc = cli_options_parse(&spec, argc, argv, &opt, &a);
    if (prc != CLI_EXIT_OK)
        return prc == -1 ? CLI_EXIT_OK : prc;
    ex.profile = opt.pfx_profile;
    ex.include_chain = opt.include_chain;
    const char *connector_path = a.connector_path, *out_dir = a.out_dir;
    unsigned workers = opt.workers;

    int rc = CLI_EXIT_FAILURE;
    char **items = NULL;
    size_t n_items = 0, cap = 0, done = 0, failed = 0;
    EVP_PKEY *connector = NULL;
    ssync_audit *trail = NULL;
    ssync_error te = {0}; /* the first line the trail could not take */
    char kras[1024] = "";
    ssync_kra_set *set = cli_load_kras(CMD, &opt.kra, &opt.kra_pass, &opt.kra_cert);
    if (!set)
        goto out;
    if (ssync_connector_load(connector_path, &connector, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        goto out;
    }
    if (mkdir(out_dir, 0700) != 0 && errno != EEXIST) {
        cli_err(CMD, "%s: %s", out_dir, strerror(errno));
        goto out;
    }
    /* another user who may write (or owns) the directory could read, swap or link the records */
    if (ssync_check_trusted_path(out_dir, "--out-dir", &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        goto out;
    }
    /* what a killed export left: its hidden temporary files (only ours, older than this run) */
    int stale = ssync_clean_stale_temps(out_dir, started);
    if (stale > 0)
        fprintf(stderr,
                "smimesync export: removed %d temporary file%s a killed export left in %s\n", stale,
                stale == 1 ? "" : "s", out_dir);
    /* no recovery without its record */
    if (opt.audit && ssync_audit_open(opt.audit, NULL, &trail, &e) != SSYNC_OK) {
        cli_err(CMD, "--audit: %s: nothing exported", e.msg);
        goto out;
    }
    ssync_trail_kras(set, kras, sizeof kras);
    ex.kras = set;
    ex.connector = connector;
    for (int i = 0; i < opt.argc; i++)
        if (!expand_argument(opt.argv[i], &items, &n_items, &cap))
            failed++;
    struct export_out o = {.seen = json_object()};
    if (ssync_file_batch_init(&o.batch, out_dir, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        failed += n_items;
        n_items = 0;
    }
    struct export_job job = {.ex = &ex, .items = items, .window = 0};
    ssync_pool *pool = NULL;
    if (n_items > 0) {
        if (!workers)
            workers = ssync_cpu_count();
        job.window = 4 * (size_t)workers;
        job.slots = calloc(job.window, sizeof *job.slots);
        if (!job.slots || ssync_pool_start(workers, n_items, job.window, export_one, &job, NULL,
                                           &pool, &e) != SSYNC_OK) {
            cli_report(CMD, NULL, &e);
            failed += n_items;
            n_items = 0;
        }
    }
    /* the workers recover ahead; this thread writes and prints in argument order */
    for (size_t i = 0; i < n_items; i++) {
        const char *item = items[i];
        ssync_pool_wait(pool, i);
        struct export_slot *s = &job.slots[i % job.window];
        ssync_export_result *r = &s->r;
        if (trail && te.code == SSYNC_OK) {
            const ssync_trail_item ti = {
                .user = json_string_value(json_object_get(r->record, "userPrincipalName")),
                .thumbprint = s->rc == SSYNC_OK ? r->info.thumbprint : NULL,
                .serial = s->rc == SSYNC_OK ? r->info.serial : NULL,
                .source = item};
            ssync_trail_recover(trail, &ti, s->rc == SSYNC_OK ? r->kra_serial : kras,
                                s->rc == SSYNC_OK ? NULL : s->e.msg, &te);
        }
        if (trail && te.code != SSYNC_OK) {
            /* no record written without its recovery's line */
            cli_err(CMD, "%s: not written: --audit: %s", item, te.msg);
            failed++;
        } else if (s->rc != SSYNC_OK) {
            cli_report(CMD, item, &s->e);
            failed++;
        } else if (json_object_get(o.seen, r->info.thumbprint)) {
            cli_err(CMD, "%s: certificate %s was already exported from %s; skipped", item,
                    r->info.thumbprint,
                    json_string_value(json_object_get(o.seen, r->info.thumbprint)));
            failed++;
        } else {
            add_record(&o, item, r, s->body);
        }
        ssync_export_result_clear(r);
        free(s->body);
        s->body = NULL;
        ssync_pool_release(pool, i);
    }
    if (trail && te.code == SSYNC_OK && ssync_audit_sync(trail, &te) != SSYNC_OK)
        cli_err(CMD, "--audit: %s", te.msg);
    flush_records(&o);
    ssync_file_batch_free(&o.batch);
    ssync_pool_free(pool);
    free(job.slots);
    json_decref(o.seen);
    done += o.done;
    failed += o.failed;
    fflush(stdout);
    fprintf(stderr, "smimesync export: %zu record(s) written to %s, %zu failed\n", done, out_dir,
            failed);
    rc = failed == 0 && done > 0 ? CLI_EXIT_OK : done > 0 ? CLI_EXIT_PARTIAL : CLI_EXIT_FAILURE;
out:
    for (size_t i = 0; i < n_items; i++)
        free(items[i]);
    free(items);
    EVP_PKEY_free(connector);
    ssync_kra_set_free(set);
    ssync_audit_close(trail);
    return rc;
}
