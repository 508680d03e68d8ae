/* smimesync check: the list of check results and the checks themselves, in two groups: the
 * local ones (configuration, KRA keys, connector key, source, CRLs, journal) and Intune's
 * (token, permissions). */
#ifndef SSYNC_CLI_CHECK_H
#define SSYNC_CLI_CHECK_H

#include "sync/config.h"
#include "recover/kra.h"

#include <openssl/asn1.h>
#include <stddef.h>

enum check_level { CHECK_OK, CHECK_WARN, CHECK_FAIL, CHECK_SKIP };

struct check_result {
    enum check_level level;
    char name[96];
    char message[640];
    char hint[240]; /* "" when none */
};

struct check_list {
    struct check_result *v;
    size_t n, cap;
    int json; /* table mode prints each result as it is added */
};

/* Adds a result (and prints it in table mode). hint may be NULL. */
void check_add(struct check_list *l, enum check_level level, const char *name, const char *hint,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void check_list_free(struct check_list *l);

/* "2026-05-13" from an ASN.1 time; "?" when it cannot be read. */
void check_date(const ASN1_TIME *t, char out[32]);

/* Local checks. kras (out) holds every KRA key that loaded, for the sample recovery. */
void check_kras(struct check_list *l, const ssync_config *cfg, ssync_kra_set **kras);
void check_connector(struct check_list *l, const ssync_config *cfg);
void check_source(struct check_list *l, const ssync_config *cfg, const ssync_kra_set *kras);
void check_crls(struct check_list *l, const ssync_config *cfg);
void check_state(struct check_list *l, const ssync_config *cfg);
/* Token and Graph permissions (the program has called curl_global_init). */
void check_intune(struct check_list *l, const ssync_config *cfg);

#endif
