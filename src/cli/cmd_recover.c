/* smimesync recover: one recovery blob -> a PKCS#12 file and its password file. */
#include "cli.h"
#include "cli_util.h"

#include "pki/certinfo.h"
#include "pki/keyfile.h"
#include "pfx/pfx.h"
#include "recover/recover.h"

#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const CMD = "recover";

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: smimesync recover --kra FILE [--kra-pass-file FILE] [--kra-cert FILE]\n"
            "                         --out OUT.p12 --out-pass-file FILE\n"
            "                         [--pfx-profile compat|modern] [--include-chain]\n"
            "                         [--cert FILE] [--json] BLOB\n"
            "Recover the archived private key in BLOB with a Key Recovery Agent key and write it\n"
            "with its certificate as a PKCS#12 protected by a fresh random password.\n\n"
            "BLOB is what 'certutil -getkey' writes (DER, base64, or base64 with a\n"
            "-----BEGIN CERTIFICATE----- header, LF or CRLF) or a bare RawArchivedKey (then\n"
            "give the certificate with --cert).\n\n"
            "Options:\n"
            "  --kra FILE            KRA key: PKCS#12 (.p12/.pfx) or PEM key (+ certificate);\n"
            "                        repeat for several KRAs\n"
            "  --kra-pass-file FILE  file holding the KRA password (one for all, or one per\n"
            "                        --kra); default: $SMIMESYNC_KRA_PASSWORD, else none\n"
            "  --kra-cert FILE       KRA certificate when a PEM --kra file holds only the key\n"
            "  --out FILE            the PKCS#12 to write (mode 0600, written atomically)\n"
            "  --out-pass-file FILE  where to write its password (0600, no newline)\n"
            "  --pfx-profile NAME    compat (default: 3DES + SHA-1 MAC, imports on every\n"
            "                        platform) or modern (AES-256 + SHA-256 MAC)\n"
            "  --include-chain       add the blob's CA certificates to the PKCS#12\n"
            "  --cert FILE           the user certificate (PEM or DER) for a bare RawArchivedKey\n"
            "  --json                print the certificate facts as one JSON object\n"
            "  -h, --help            show this help\n\n");
    cli_print_exit_codes(out);
}

int cmd_recover(int argc, char **argv)
{
    enum {
        O_KRA = 256,
        O_KRA_PASS,
        O_KRA_CERT,
        O_OUT,
        O_OUT_PASS,
        O_PROFILE,
        O_CHAIN,
        O_CERT,
        O_JSON
    };
    static const struct option opts[] = {
        {"kra", required_argument, NULL, O_KRA},
        {"kra-pass-file", required_argument, NULL, O_KRA_PASS},
        {"kra-cert", required_argument, NULL, O_KRA_CERT},
        {"out", required_argument, NULL, O_OUT},
        {"out-pass-file", required_argument, NULL, O_OUT_PASS},
        {"pfx-profile", required_argument, NULL, O_PROFILE},
        {"include-chain", no_argument, NULL, O_CHAIN},
        {"cert", required_argument, NULL, O_CERT},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli_list kras = {0}, pass = {0}, certs = {0};
    const char *out = NULL, *out_pass = NULL, *cert_path = NULL;
    int json = 0, chain = 0;
    ssync_pfx_profile profile = SSYNC_PFX_COMPAT;
    ssync_error e = {0};

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_KRA:
            if (!cli_list_add(&kras, optarg))
                goto too_many;
            break;
        case O_KRA_PASS:
            if (!cli_list_add(&pass, optarg))
                goto too_many;
            break;
        case O_KRA_CERT:
            if (!cli_list_add(&certs, optarg))
                goto too_many;
            break;
        case O_OUT:
            out = optarg;
            break;
        case O_OUT_PASS:
            out_pass = optarg;
            break;
        case O_PROFILE:
            if (ssync_pfx_profile_parse(optarg, &profile, &e) != SSYNC_OK) {
                cli_report(CMD, NULL, &e);
                return CLI_EXIT_USAGE;
            }
            break;
        case O_CHAIN:
            chain = 1;
            break;
        case O_CERT:
            cert_path = optarg;
            break;
        case O_JSON:
            json = 1;
            break;
        case 'h':
            usage(stdout);
            return CLI_EXIT_OK;
        default:
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        cli_err(CMD, optind >= argc ? "no recovery blob given" : "give exactly one recovery blob");
        return CLI_EXIT_USAGE;
    }
    if (!out || !out_pass) {
        cli_err(CMD, "--out and --out-pass-file are required");
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(out, out_pass)) {
        cli_err(CMD, "--out and --out-pass-file must be different files");
        return CLI_EXIT_USAGE;
    }
    const char *blob_path = argv[optind];

    int rc = CLI_EXIT_FAILURE;
    ssync_kra_set *set = cli_load_kras(CMD, &kras, &pass, &certs);
    X509 *hint = NULL;
    ssync_buf blob = {0}, pfx = {0};
    ssync_recovered rec = {0};
    ssync_certinfo info = {0};
    char password[SSYNC_PASSWORD_LEN + 1] = {0};
    if (!set)
        goto done;
    if (cert_path && ssync_load_cert(cert_path, &hint, &e) != SSYNC_OK) {
        cli_report(CMD, NULL, &e);
        goto done;
    }
    if (ssync_read_file(blob_path, SSYNC_MAX_INPUT_FILE, &blob, &e) != SSYNC_OK ||
        ssync_recover_blob(set, blob.data, blob.len, hint, &rec, &e) != SSYNC_OK ||
        ssync_certinfo_get(rec.cert, &info, &e) != SSYNC_OK ||
        ssync_password_generate(password, SSYNC_PASSWORD_LEN, &e) != SSYNC_OK) {
        cli_report(CMD, ssync_basename(blob_path), &e);
        goto done;
    }
    const char *user = ssync_certinfo_user(&info);
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
    return rc;
too_many:
    cli_err(CMD, "too many values for a repeated option (limit %d)", CLI_MAX_LIST);
    return CLI_EXIT_USAGE;
}
