/* smimesync export: recovery blobs -> one Graph userPfxCertificate POST body per certificate. */
#include "cli.h"
#include "cli_util.h"

#include "connector/connector.h"
#include "record/export.h"
#include "common/pool.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const CMD = "export";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: smimesync export --kra FILE [--kra-pass-file FILE] [--kra-cert FILE]\n"
            "                        --connector-key FILE --out-dir DIR\n"
            "                        [--pfx-profile compat|modern]\n"
            "                        [--padding oaepSha256|oaepSha384|oaepSha512]\n"
            "                        [--provider-name S] [--key-name S] [--include-chain]\n"
            "                        [--both-purpose smimeEncryption|smimeSigning|unassigned]\n"
            "                        [--workers N]\n"
            "                        BLOB|DIR...\n"
            "Build the Intune record (the exact Graph POST body of a userPfxCertificate) for each\n"
            "recovery blob: the key is recovered with the KRA key, packed with its certificate\n"
            "into a PKCS#12 under a fresh random password, and the password is encrypted to the\n"
            "Intune Certificate Connector's public key. Writes DIR/<thumbprint>.json (0600).\n"
            "A directory argument means every regular, non-hidden file in it. A bad item does\n"
            "not stop the others: each failure is one line on stderr.\n\n"
            "Options:\n"
            "  --kra FILE             KRA key: PKCS#12 or PEM; repeat for several KRAs\n"
            "  --kra-pass-file FILE   file holding the KRA password (one for all, or one per\n"
            "                         --kra); default: $SMIMESYNC_KRA_PASSWORD, else none\n"
            "  --kra-cert FILE        KRA certificate when a PEM --kra file holds only the key\n"
            "  --connector-key FILE   the connector's public key: PEM, certificate, or the RSA1\n"
            "                         blob that Export-IntunePublicKey writes\n"
            "  --out-dir DIR          where to write the records (created if missing)\n"
            "  --pfx-profile NAME     compat (default) or modern\n"
            "  --padding NAME         OAEP padding of the password (default oaepSha512)\n"
            "  --provider-name S      key storage provider of the connector key (default\n"
            "                         \"Microsoft Software Key Storage Provider\")\n"
            "  --key-name S           connector key name (default \"PFXEncryptionKey\")\n"
            "  --include-chain        add the blob's CA certificates to the PKCS#12\n"
            "  --both-purpose NAME    intendedPurpose when a certificate allows both\n"
            "                         keyEncipherment and digitalSignature (default\n"
            "                         smimeEncryption)\n"
            "  --workers N            recovery threads, 1-256 (default: one per CPU); the\n"
            "                         output stays in argument order\n"
            "  -h, --help             show this help\n\n");
    cli_print_exit_codes(out);
}

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

int cmd_export(int argc, char **argv)
{
    enum {
        O_KRA = 256,
        O_KRA_PASS,
        O_KRA_CERT,
        O_CONNECTOR,
        O_OUT_DIR,
        O_PROFILE,
        O_PADDING,
        O_PROVIDER,
        O_KEY_NAME,
        O_CHAIN,
        O_BOTH,
        O_WORKERS
    };
    static const struct option opts[] = {
        {"kra", required_argument, NULL, O_KRA},
        {"kra-pass-file", required_argument, NULL, O_KRA_PASS},
        {"kra-cert", required_argument, NULL, O_KRA_CERT},
        {"connector-key", required_argument, NULL, O_CONNECTOR},
        {"out-dir", required_argument, NULL, O_OUT_DIR},
        {"pfx-profile", required_argument, NULL, O_PROFILE},
        {"padding", required_argument, NULL, O_PADDING},
        {"provider-name", required_argument, NULL, O_PROVIDER},
        {"key-name", required_argument, NULL, O_KEY_NAME},
        {"include-chain", no_argument, NULL, O_CHAIN},
        {"both-purpose", required_argument, NULL, O_BOTH},
        {"workers", required_argument, NULL, O_WORKERS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_list kras = {0}, pass = {0}, certs = {0};
    const char *connector_path = NULL, *out_dir = NULL;
    unsigned workers = 0;
    ssync_exporter ex;
    ssync_exporter_init(&ex);
    ssync_error e = {0};

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        ssync_code pc = SSYNC_OK;
        switch (c) {
        case O_KRA:
        case O_KRA_PASS:
        case O_KRA_CERT: {
            struct cli_list *l = c == O_KRA ? &kras : c == O_KRA_PASS ? &pass : &certs;
            if (!cli_list_add(l, optarg)) {
                cli_err(CMD, "too many values for a repeated option (limit %d)", CLI_MAX_LIST);
                return CLI_EXIT_USAGE;
            }
            break;
        }
        case O_CONNECTOR:
            connector_path = optarg;
            break;
        case O_OUT_DIR:
            out_dir = optarg;
            break;
        case O_PROFILE:
            pc = ssync_pfx_profile_parse(optarg, &ex.profile, &e);
            break;
        case O_PADDING:
            pc = ssync_padding_parse(optarg, &ex.record.padding, &e);
            break;
        case O_PROVIDER:
            ex.record.provider_name = optarg;
            break;
        case O_KEY_NAME:
            ex.record.key_name = optarg;
            break;
        case O_CHAIN:
            ex.include_chain = 1;
            break;
        case O_BOTH:
            pc = ssync_purpose_parse(optarg, &ex.both_purpose, &e);
            break;
        case O_WORKERS: {
            char *end = NULL;
            long w = strtol(optarg, &end, 10);
            if (!*optarg || *end || w < 1 || w > 256) {
                cli_err(CMD, "--workers: expected a whole number from 1 to 256, got '%s'", optarg);
                return CLI_EXIT_USAGE;
            }
            workers = (unsigned)w;
            break;
        }
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
        if (pc != SSYNC_OK) {
            cli_report(CMD, NULL, &e);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_err(CMD, "no recovery blob or directory given");
        return CLI_EXIT_USAGE;
    }
    if (!connector_path || !out_dir) {
        cli_err(CMD, "--connector-key and --out-dir are required");
        return CLI_EXIT_USAGE;
    }
    if ((ex.record.provider_name && !*ex.record.provider_name) ||
        (ex.record.key_name && !*ex.record.key_name)) {
        cli_err(CMD, "--provider-name and --key-name must not be empty");
        return CLI_EXIT_USAGE;
    }

    int rc = CLI_EXIT_FAILURE;
    char **items = NULL;
    size_t n_items = 0, cap = 0, done = 0, failed = 0;
    EVP_PKEY *connector = NULL;
    ssync_kra_set *set = cli_load_kras(CMD, &kras, &pass, &certs);
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
    ex.kras = set;
    ex.connector = connector;
    for (int i = optind; i < argc; i++)
        if (!expand_argument(argv[i], &items, &n_items, &cap))
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
        if (s->rc != SSYNC_OK) {
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
    return rc;
}
