/* The helpers of cli_util.h: error lines before a logger exists, and loading the --kra keys. */
#include "cli_util.h"

#include "cli_log.h"

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
    /* the loader checks these too: here they are worded with the options' names */
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
    ssync_kra_cfg cfg = {
        .key = {kras->v, kras->n},
        .cert = {certs->v, certs->n},
        .password_file = {pass_files->v, pass_files->n},
        .password_env = "SMIMESYNC_KRA_PASSWORD",
    };
    ssync_error e = {0};
    ssync_kra_set *set = NULL;
    if (ssync_kra_set_load(&cfg, "KRA password file", NULL, NULL, &set, &e) != SSYNC_OK)
        cli_report(cmd, NULL, &e);
    return set;
}
