/* smimesync: the command-line tool over the library. Only this layer prints. */
#include "cli.h"
#include "cli_options.h"
#include "cli_wipe.h"

#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static const struct cli_command commands[] = {
    {"recover", "recover one archived key into a PKCS#12 file", cmd_recover},
    {"export", "build Intune userPfxCertificate records from recovery blobs", cmd_export},
    {"upload", "create exported records in Intune through Microsoft Graph", cmd_upload},
    {"plan", "show what sync would upload, remove, keep or skip", cmd_plan},
    {"sync", "bring Intune to the desired state of the CA", cmd_sync},
    {"status", "compare Intune with the CA, per user (exit 4 when they differ)", cmd_status},
    {"remove", "delete a user's or a certificate's records from Intune", cmd_remove},
    {"check", "validate the configuration, keys, source and Intune access", cmd_check},
    {"watch", "sync each recovery blob as it arrives in the source directory", cmd_watch},
    {"edb", "inspect an ESE database: edb info FILE, edb dump FILE TABLE", cmd_edb},
    {"ca", "the CA's requests and KRA coverage: ca requests", cmd_ca},
    {"audit", "start, verify or show the audit trail of the changes made in Intune", cmd_audit},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: smimesync COMMAND [OPTIONS]...\n"
                 "Move archived S/MIME keys from an AD CS key archive into Microsoft Intune.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'smimesync COMMAND --help' for the options of a command.\n"
                 "Options:\n"
                 "  -h, --help     show this help\n"
                 "  -V, --version  show the version\n\n");
    cli_options_exit_codes(out);
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("smimesync %s\n", SSYNC_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "smimesync: unknown command '%s' (see 'smimesync --help')\n", argv[1]);
    return CLI_EXIT_USAGE;
}

/* A core file or a ptrace attach would expose the KRA key and every key recovered with it: the
 * process is made non-dumpable (no core, no /proc/PID/mem or ptrace for other processes of the
 * same user) and its core size limit is 0 (soft and hard), whoever started it (the systemd units
 * set LimitCORE=0; a hand-run export or recover had no such limit). Returns 0 on success. */
static int harden_process(void)
{
    int rc = 0;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        rc = -1;
    struct rlimit none = {0, 0};
    if (setrlimit(RLIMIT_CORE, &none) != 0)
        rc = -1;
    return rc;
}

int main(int argc, char **argv)
{
    /* before anything reads a key */
    if (harden_process() != 0)
        fprintf(stderr, "smimesync: warning: cannot disable core dumps of this process\n");
    /* first of all: what OpenSSL, libcurl and jansson free is cleared (cli_wipe.h); this is also
     * the program's one curl_global_init, before any command and any thread */
    if (!cli_wipe_install())
        fprintf(stderr, "smimesync: warning: cannot make the libraries clear the memory they "
                        "free\n");
    int rc = run(argc, argv);
    cli_wipe_end();
    return rc;
}
