/* The helpers of cli_util.h: error lines before a logger exists, and loading the --kra keys. */
#include "cli_util.h"

#include "cli_log.h"
#include "common/fileio.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Errors before (or without) a configured logger: text lines at error level. */
void cli_err(const char *cmd, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct cli_log log = {.cmd = cmd, .verbosity = SSYNC_LOG_ERROR};
    cli_log_msg(&log, SSYNC_LOG_ERROR, "%s", msg);
}

void cli_report(const char *cmd, const char *item, const ssync_error *e)
{
    struct cli_log log = {.cmd = cmd, .verbosity = SSYNC_LOG_ERROR};
    cli_log_error(&log, item, e);
}

ssync_kra_set *cli_load_kras(const char *cmd, const struct cli_list *kras,
                             const struct cli_list *pass_files, const struct cli_list *certs)
{
    ssync_error e = {0};
    ssync_kra_set *set = NULL;
    if (kras->n == 0) {
        cli_err(cmd, "no KRA key given (--kra FILE)");
        return NULL;
    }
    if (pass_files->n > 1 && pass_files->n != kras->n) {
        cli_err(cmd,
                "give one --kra-pass-file for all KRA files or one per --kra (%zu given, "
                "%zu KRA files)",
                pass_files->n, kras->n);
        return NULL;
    }
    if (certs->n > kras->n) {
        cli_err(cmd, "more --kra-cert than --kra options");
        return NULL;
    }
    if (ssync_kra_set_new(&set, &e) != SSYNC_OK) {
        cli_report(cmd, NULL, &e);
        return NULL;
    }
    for (size_t i = 0; i < kras->n; i++) {
        ssync_buf pw = {0};
        const char *password = NULL;
        if (pass_files->n) {
            const char *pf = pass_files->v[pass_files->n == 1 ? 0 : i];
            if (ssync_read_secret_file(pf, &pw, &e) != SSYNC_OK) {
                cli_report(cmd, "KRA password file", &e);
                ssync_kra_set_free(set);
                return NULL;
            }
            password = (const char *)pw.data;
        } else {
            password = getenv("SMIMESYNC_KRA_PASSWORD");
        }
        ssync_code rc = ssync_kra_set_add_file(set, kras->v[i], password,
                                               i < certs->n ? certs->v[i] : NULL, &e);
        ssync_buf_free_secret(&pw);
        if (rc != SSYNC_OK) {
            cli_report(cmd, NULL, &e);
            ssync_kra_set_free(set);
            return NULL;
        }
    }
    return set;
}
