/* Helpers shared by the commands: messages, KRA loading, the values of a repeatable option. */
#ifndef SSYNC_CLI_UTIL_H
#define SSYNC_CLI_UTIL_H

#include "common/errors.h"
#include "recover/kra.h"

#include <stddef.h>

#define CLI_MAX_LIST 64

/* A repeatable option's values (cli_options.h fills them). */
struct cli_list {
    const char *v[CLI_MAX_LIST];
    size_t n;
};

/* "smimesync CMD: message" on stderr, one line. */
void cli_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "smimesync CMD: ITEM: <error message>" on stderr, one line. item may be NULL. */
void cli_report(const char *cmd, const char *item, const ssync_error *e);

/* Loads every --kra file. Passwords: --kra-pass-file values by position (a single one applies
 * to all), else the SMIMESYNC_KRA_PASSWORD environment variable, else none. certs: --kra-cert
 * values by position (optional). Reports errors itself; returns NULL on failure. */
ssync_kra_set *cli_load_kras(const char *cmd, const struct cli_list *kras,
                             const struct cli_list *pass_files, const struct cli_list *certs);

#endif
