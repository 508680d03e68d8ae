/* smimesync recover: one recovery blob -> a PKCS#12 file and its password file. */
#include "cli.h"
#include "cli_options.h"
#include "cli_util.h"

#include "audit/audit.h"
#include "sync/trail.h"

#include "pki/certinfo.h"
#include "pki/keyfile.h"
#include "pfx/pfx.h"
#include "recover/recover.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const CMD = "recover";

enum { OPT_OUT = CLI_OPT_OWN, OPT_OUT_PASS, OPT_CERT, OPT_JSON, OPT_FORCE };

static const struct cli_option options[] = {
    CLI_USE(CLI_OPT_KRA, "KRA key: PKCS#12 (.p12/.pfx) or PEM key (+ certificate);\n"
                         "repeat for several KRAs"),
    CLI_USE(CLI_OPT_KRA_PASS_FILE, NULL),
    CLI_USE(CLI_OPT_KRA_CERT, NULL),
    CLI_OWN(OPT_OUT, "out", "FILE", 0, "the PKCS#12 to write (mode 0600, written atomically)"),
    CLI_OWN(OPT_OUT_PASS, "out-pass-file", "FILE", 0,
            "where to write its password (0600, no newline)"),
    CLI_OWN(OPT_FORCE, "force", NULL, 0,
            "replace an existing --out or --out-pass-file (never one of\nthe inputs)"),
    CLI_USE(CLI_OPT_PFX_PROFILE, "compat (default: 3DES + SHA-1 MAC, imports on every\n"
                                 "platform) or modern (AES-256 + SHA-256 MAC)"),
    CLI_USE(CLI_OPT_INCLUDE_CHAIN, NULL),
    CLI_OWN(OPT_CERT, "cert", "FILE", 0,
            "the user certificate (PEM or DER) for a bare RawArchivedKey"),
    CLI_OWN(OPT_JSON, "json", NULL, 0, "print the certificate facts as one JSON object"),
    CLI_USE(CLI_OPT_AUDIT, NULL),
};

/* recover's own options */
struct recover_args {
    const char *out, *out_pass, *cert_path;
    int json, force;
};

static int on_option(void *ctx, struct cli_opts *o, int id, const char *arg)
{
    struct recover_args *a = ctx;
    (void)o;
    if (id == OPT_OUT)
        a->out = arg;
    else if (id == OPT_OUT_PASS)
        a->out_pass = arg;
    else if (id == OPT_CERT)
        a->cert_path = arg;
    else if (id == OPT_FORCE)
        a->force = 1;
    else
        a->json = 1;
    return CLI_EXIT_OK;
}

static int check(void *ctx, struct cli_opts *o)
{
    const struct recover_args *a = ctx;
    (void)o;
    if (!a->out || !a->out_pass) {
        cli_err(CMD, "--out and --out-pass-file are required");
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(a->out, a->out_pass)) {
        cli_err(CMD, "--out and --out-pass-file must be different files");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* Which file a path names, by device and inode: the file itself when it exists, else its
 * directory and its last component ("same" and "./same" are one file before either exists). */
struct file_id {
    int exists, known;
    dev_t dev;
    ino_t ino;
    const char *base;
};

static struct file_id file_id(const char *path)
{
    struct file_id id = {0};
    struct stat st;
    if (stat(path, &st) == 0) {
        id = (struct file_id){1, 1, st.st_dev, st.st_ino, NULL};
        return id;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (stat(dir, &st) == 0)
        id = (struct file_id){0, 1, st.st_dev, st.st_ino, slash ? slash + 1 : path};
    return id;
}

static int same_file(struct file_id a, struct file_id b)
{
    return a.known && b.known && a.exists == b.exists && a.dev == b.dev && a.ino == b.ino &&
           (a.exists || !strcmp(a.base, b.base));
}

/* The outputs are compared with each other and with every input by device and inode: recover
 * never writes over the KRA key, its password, a certificate or the blob it reads (not even with
 * --force), and an existing output is replaced only with --force. Reports; CLI_EXIT_OK or the
 * exit code. */
static int check_outputs(const struct recover_args *a, const struct cli_opts *o,
                         const char *blob_path)
{
    struct file_id out = file_id(a->out), pass = file_id(a->out_pass);
    if (same_file(out, pass)) {
        cli_err(CMD, "--out %s and --out-pass-file %s are the same file", a->out, a->out_pass);
        return CLI_EXIT_USAGE;
    }
    const struct {
        const char *opt, *path;
        struct file_id id;
    } outs[] = {{"--out", a->out, out}, {"--out-pass-file", a->out_pass, pass}};
    for (size_t i = 0; i < 2; i++) {
        if (!outs[i].id.exists)
            continue;
        const struct cli_list *lists[] = {&o->kra, &o->kra_pass, &o->kra_cert};
        const char *names[] = {"--kra", "--kra-pass-file", "--kra-cert"};
        for (size_t l = 0; l < 3; l++)
            for (size_t k = 0; k < lists[l]->n; k++)
                if (same_file(outs[i].id, file_id(lists[l]->v[k]))) {
                    cli_err(CMD, "%s %s is the input %s %s: refused (even with --force)",
                            outs[i].opt, outs[i].path, names[l], lists[l]->v[k]);
                    return CLI_EXIT_FAILURE;
                }
        const char *single[][2] = {{"--cert", a->cert_path}, {"the blob", blob_path}};
        for (size_t k = 0; k < 2; k++)
            if (single[k][1] && same_file(outs[i].id, file_id(single[k][1]))) {
                cli_err(CMD, "%s %s is the input %s %s: refused (even with --force)", outs[i].opt,
                        outs[i].path, single[k][0], single[k][1]);
                return CLI_EXIT_FAILURE;
            }
        if (!a->force) {
            cli_err(CMD, "%s %s exists: refused (give --force to replace it)", outs[i].opt,
                    outs[i].path);
            return CLI_EXIT_FAILURE;
        }
    }
    return CLI_EXIT_OK;
}

static const struct cli_spec spec = {
    .name = "recover",
    .synopsis = "--kra FILE [--kra-pass-file FILE] [--kra-cert FILE]\n"
                "                         --out OUT.p12 --out-pass-file FILE\n"
                "                         [--pfx-profile compat|modern] [--include-chain]\n"
                "                         [--cert FILE] [--json] [--force] BLOB",
    .summary =
        "Recover the archived private key in BLOB with a Key Recovery Agent key and write it\n"
        "with its certificate as a PKCS#12 protected by a fresh random password.\n\n"
        "BLOB is what 'certutil -getkey' writes (DER, base64, or base64 with a\n"
        "-----BEGIN CERTIFICATE----- header, LF or CRLF) or a bare RawArchivedKey (then\n"
        "give the certificate with --cert).\n\n"
        "An existing --out or --out-pass-file is refused unless --force is given; an output\n"
        "that is one of the inputs (the same file by device and inode) is always refused.",
    .options = CLI_SPEC_OPTIONS(options),
    .min_args = 1,
    .max_args = 1,
    .missing_args = "no recovery blob given",
    .extra_args = "give exactly one recovery blob",
    .flags = CLI_SPEC_OPERANDS_FIRST,
    .on_option = on_option,
    .check = check,
};

/* The recovery's line in the --audit trail, durable; 0 (reported) when the trail cannot take
 * it. rec NULL: the recovery failed (error), the line names the KRAs held. */
static int audit_recovery(ssync_audit *trail, const ssync_kra_set *set, const char *blob,
                          const ssync_recovered *rec, const ssync_certinfo *info, const char *error)
{
    if (!trail)
        return 1;
    char kras[1024];
    if (rec)
        ssync_recovered_kra_serial(rec, kras);
    else
        ssync_trail_kras(set, kras, sizeof kras);
    const ssync_trail_item ti = {.user = info ? ssync_certinfo_user(info) : NULL,
                                 .thumbprint = info ? info->thumbprint : NULL,
                                 .serial = info ? info->serial : NULL,
                                 .source = blob};
    ssync_error e = {0};
    if (ssync_trail_recover(trail, &ti, kras, error, &e) == SSYNC_OK &&
        ssync_audit_sync(trail, &e) == SSYNC_OK)
        return 1;
    cli_err(CMD, "--audit: %s", e.msg);
    return 0;
}

int cmd_recover(int argc, char **argv)
{
    struct recover_args a = {0};
    struct cli_opts opt;
    int prc = cli_options_parse(&spec, argc, argv, &opt, &a);
    if (prc != CLI_EXIT_OK)
        return prc == -1 ? CLI_EXIT_OK : prc;
    const char *out = a.out, *out_pass = a.out_pass, *cert_path = a.cert_path;
    const char *blob_path = opt.argv[0];
    ssync_pfx_profile profile = opt.pfx_profile;
    int json = a.json, chain = opt.include_chain;
    ssync_error e = {0};

    int rc = check_outputs(&a, &opt, blob_path);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = CLI_EXIT_FAILURE;
    ssync_kra_set *set = cli_load_kras(CMD, &opt.kra, &opt.kra_pass, &opt.kra_cert);
    X509 *hint = NULL;
    ssync_buf blob = {0}, pfx = {0};
    ssync_recovered rec = {0};
    ssync_certinfo info = {0};
    char password[SSYNC_PASSWORD_LEN + 1] = {0};
    ssync_audit *trail = NULL;
    if (!set)
        goto done;
    /* no recovery without its record */
    if (opt.audit && ssync_audit_open(opt.audit, NULL, &trail, &e) != SSYNC_OK) {
        cli_err(CMD, "--audit: %s: nothing recovered", e.msg);
        goto done;
    }
    if (cert_path && ssync_load_cert(cert_path, &hint, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        goto done;
    }
    if (ssync_read_file(blob_path, SSYNC_MAX_INPUT_FILE, &blob, &e) != SSYNC_OK ||
        ssync_recover_blob(set, blob.data, blob.len, hint, &rec, &e) != SSYNC_OK ||
        ssync_certinfo_get(rec.cert, &info, &e) != SSYNC_OK ||
        ssync_password_generate(password, SSYNC_PASSWORD_LEN, &e) != SSYNC_OK) {
        cli_report(CMD, ssync_basename(blob_path), &e);
        audit_recovery(trail, set, blob_path, NULL, NULL, e.msg);
        goto done;
    }
    const char *user = ssync_certinfo_user(&info);
    if (!audit_recovery(trail, set, blob_path, &rec, &info, NULL))
        goto done; /* the key is not handed out without its line in the trail */
    ssync_pfx_opts po = {
        .profile = profile, .friendly_name = user, .chain = chain ? rec.chain : NULL};
    if (ssync_pfx_build(rec.key, rec.cert, &po, password, &pfx, &e) != SSYNC_OK) {
        cli_report(CMD, ssync_basename(blob_path), &e);
        goto done;
    }
    /* both files or neither: the password first, then the PKCS#12; undo on failure */
    if (ssync_write_file_atomic(out_pass, password, SSYNC_PASSWORD_LEN, 0600, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        goto done;
    }
    if (ssync_write_file_atomic(out, pfx.data, pfx.len, 0600, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        unlink(out_pass);
        goto done;
    }
    if (json) {
        json_t *j = ssync_certinfo_to_json(&info);
        if (j) {
            json_object_set_new(j, "pfxProfile", json_string(ssync_pfx_profile_name(profile)));
            json_object_set_new(j, "pfxFile", json_string(out));
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
            json_decref(j);
        }
    } else {
        printf("recovered %s (%s) into %s\n", info.thumbprint, user ? user : "no user name", out);
    }
    rc = CLI_EXIT_OK;
done:
    OPENSSL_cleanse(password, sizeof password);
    ssync_buf_free(&pfx);
    ssync_buf_free(&blob);
    ssync_certinfo_clear(&info);
    ssync_recovered_clear(&rec);
    X509_free(hint);
    ssync_kra_set_free(set);
    ssync_audit_close(trail);
    return rc;
}
