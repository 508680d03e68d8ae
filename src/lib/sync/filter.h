/* Desired-state selection: the [source] filters (templates, eku, users_allow, users_deny, group)
 * and the target of a targeted run. Every decision here is a pure function of the item and the
 * lists, so it is unit-tested without files or network; only the loaders touch files. */
#ifndef SSYNC_SELECT_H
#define SSYNC_SELECT_H

#include "sync/config.h"
#include "common/errors.h"
#include "sync/plan.h"
#include "sync/usermap.h"

#include <stddef.h>

/* A set of UPNs compared case-insensitively (users_allow, users_deny, group members). */
typedef struct ssync_upn_set {
    char **v; /* sorted, case-insensitive */
    size_t n, cap;
} ssync_upn_set;

/* Adds a copy of upn; call ssync_upn_set_seal before ssync_upn_set_has. */
ssync_code ssync_upn_set_add(ssync_upn_set *s, const char *upn, ssync_error *err);
void ssync_upn_set_seal(ssync_upn_set *s);
int ssync_upn_set_has(const ssync_upn_set *s, const char *upn);
void ssync_upn_set_free(ssync_upn_set *s);
/* A list file: one UPN per line, '#' comments and blank lines ignored. what names the key in
 * messages ("users_deny"). */
ssync_code ssync_upn_set_load(const char *path, const char *what, ssync_upn_set *out,
                              ssync_error *err);

/* The certificate filters, from [source] templates and eku. */
typedef struct ssync_cert_filter {
    const ssync_cfg_list *templates;  /* empty: every template */
    char eku[SSYNC_CFG_MAX_LIST][96]; /* dotted OIDs; default emailProtection */
    size_t n_eku;
} ssync_cert_filter;

/* Checks the configured values: an eku entry is a dotted OID or a name OpenSSL knows
 * ("emailProtection"). */
ssync_code ssync_cert_filter_init(const ssync_source_cfg *src, ssync_cert_filter *f,
                                  ssync_error *err);
/* 1 when the certificate facts of it pass; else 0 and the reason naming the filter. A template
 * entry that is a dotted OID matches the v2 template extension's OID; any other entry matches
 * the v1 template name, case-insensitively. A certificate without an EKU extension is valid for
 * any purpose and passes the eku filter. */
int ssync_cert_filter_check(const ssync_cert_filter *f, const ssync_plan_item *it, char *reason,
                            size_t n);

/* The user filters, on the resolved UPN. */
typedef struct ssync_user_filter {
    int has_allow, has_deny, has_group;
    ssync_upn_set allow, deny, group;
    const char *group_id; /* for the reason */
} ssync_user_filter;

/* Loads users_allow and users_deny (the group is filled by the caller: has_group, group). */
ssync_code ssync_user_filter_load(const ssync_source_cfg *src, ssync_user_filter *f,
                                  ssync_error *err);
/* 1 when upn is in scope; else 0 and the reason. Deny wins over allow; then the group. */
int ssync_user_filter_check(const ssync_user_filter *f, const char *upn, char *reason, size_t n);
void ssync_user_filter_free(ssync_user_filter *f);

/* Serial numbers as the CA, certutil and OpenSSL print them compare equal: hex digits only,
 * uppercase, without ':' , blanks and leading zeros ("00:1a:2B" -> "1A2B"). 0 when s holds
 * anything else or out is too small. */
int ssync_serial_normalize(const char *s, char *out, size_t n);
/* Checks the target's values (decimal request id, hex serial). */
ssync_code ssync_target_check(const ssync_plan_target *t, ssync_error *err);
/* 1 when it matches the request id and serial of t (fields not set match everything). */
int ssync_target_match_cert(const ssync_plan_target *t, const ssync_plan_item *it);
/* 1 when t->user is not set, or the certificate itself names it (SAN UPN or one of its
 * e-mails), or a user_map line maps one of those to it (map may be NULL). Used before any
 * lookup, so a targeted run looks up only its own users. */
int ssync_target_names_user(const ssync_plan_target *t, const ssync_plan_item *it,
                            const ssync_usermap *map);

/* The warning for a resolved item whose certificate carries no SAN e-mail equal to the user's
 * mail in Entra ID (Outlook mobile matches the account's address against the certificate's and
 * ignores a certificate that differs). out is "" when there is nothing to say (also when the
 * user has no mail). */
void ssync_mail_mismatch_warning(const ssync_plan_item *it, char *out, size_t n);

#endif
