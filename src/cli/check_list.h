/* smimesync check: the list of check results ("ok", "WARN", "FAIL" or "SKIP", the reason and a
 * hint), which the checks (cli_check.h) fill and the command prints. */
#ifndef SSYNC_CHECK_LIST_H
#define SSYNC_CHECK_LIST_H

#include <openssl/asn1.h>
#include <stddef.h>

/* CHECK_UNCHECKED: the app lacks a read permission the check needs ("not checked (grant X)");
 * not a failure of the set-up itself. */
enum check_level { CHECK_OK, CHECK_WARN, CHECK_FAIL, CHECK_SKIP, CHECK_UNCHECKED };

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
void cli_check_add(struct check_list *l, enum check_level level, const char *name, const char *hint,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cli_check_list_free(struct check_list *l);

/* "2026-05-13" from an ASN.1 time; "?" when it cannot be read. */
void cli_check_date(const ASN1_TIME *t, char out[32]);

/* The level as the table shows it ("ok", "WARN", "FAIL", "SKIP", "N/C") and as the JSON names it
 * ("ok", "warning", "failed", "skipped", "not_checked"). */
const char *cli_check_level_text(enum check_level level);
const char *cli_check_level_json(enum check_level level);

#endif
