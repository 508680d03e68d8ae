/* The plan's item container: one item per certificate of the source, the texts items share,
 * and the user strings an item holds. Every source fills items; the sync engine (sync/plan.h)
 * decides on them. */
#ifndef SSYNC_ITEM_H
#define SSYNC_ITEM_H

#include "common/errors.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

typedef enum ssync_plan_action {
    SSYNC_ACT_UPLOAD, /* desired and absent from Intune */
    SSYNC_ACT_REMOVE, /* present in Intune, revoked or dropped by policy */
    SSYNC_ACT_KEEP,   /* present in Intune and wanted there (or left by policy) */
    SSYNC_ACT_SKIP,   /* not desired and absent, unknown user, or not recoverable */
} ssync_plan_action;

/* One certificate of the source: a recovery blob, a PKCS#12 of the pfx source (its manifest
 * names the password file; the key is re-read at upload time, never kept in the plan), or a
 * request of the CA database (path = the .edb; the key is re-read by request_id). An item
 * belongs to the source that scanned it: only that source exports it. */
typedef struct ssync_plan_item {
    /* from the source */
    const char *source;   /* the name of the source that scanned it ([source "NAME"], "default"
                             for [source]): borrowed from the source's configuration */
    char *path;           /* the blob file (or PKCS#12 file) */
    long long request_id; /* CA request id when the source knows it (blob file name "<id>.*",
                             edb), else 0 */
    char *error;          /* recovery error (no secret); NULL when none */
    char *cert_upn;       /* the certificate's user (SAN UPN, else e-mail); NULL when none */
    char *san_upn;        /* the SAN UPN alone; NULL when none */
    char **emails;        /* the SAN e-mail addresses, in certificate order */
    size_t n_emails;
    char **eku; /* extended key usage OIDs; none: no EKU extension (valid for any purpose) */
    size_t n_eku;
    char *template_oid;  /* v2 template extension's OID, or NULL */
    char *template_name; /* v1 template name extension, or NULL */
    time_t not_after;
    time_t not_before; /* the record's startDateTime (0: unknown, from an older scan cache) */
    /* from Entra ID (ssync_plan_resolve) */
    char *upn;               /* userPrincipalName as Entra ID gives it */
    char *user_mail;         /* the user's mail in Entra ID; NULL when none */
    const char *resolved_by; /* how the user was found: "certificate UPN", "user_map", "mail",
                                "proxyAddresses" (static text); NULL when not found */
    /* the decision (ssync_plan_decide) */
    char *reason;    /* why the action; NULL when none yet */
    char *warning;   /* e.g. no SAN e-mail equals the user's mail (Outlook mobile refuses the
                        certificate); NULL when none */
    ssync_code code; /* SSYNC_OK, or why the blob could not be recovered (error) */
    ssync_plan_action action; /* the decision */
    unsigned char revoked;    /* serial listed on a CRL of the certificate's issuer */
    unsigned char filtered;   /* excluded by a [source] filter (template, eku, allow/deny,
                                 group): the item is reported as skip with the filter as reason
                                 and never removed */
    unsigned char user_found; /* the user is in Entra ID (upn, user_id set) */
    unsigned char present;    /* (user, thumbprint) is in the listing */
    /* fixed-size texts last, together: no padding between them (one item per certificate) */
    char thumbprint[41]; /* "" when not recovered */
    char user_id[40];    /* the user's object id (with dashes) */
    char serial[80];     /* uppercase hex, "" when not recovered */
} ssync_plan_item;

/* A targeted run (the CA's "certificate issued" event): only the items matching every set
 * field are planned, and Intune is read per user of those items instead of one listing of the
 * whole tenant. All fields NULL: the whole source. */
typedef struct ssync_plan_target {
    const char *request_id; /* decimal CA request id */
    const char *serial;     /* hex, case-insensitive, colons and leading zeros ignored */
    const char *user;       /* UPN (as resolved), case-insensitive */
} ssync_plan_target;

typedef struct ssync_plan {
    ssync_plan_item *items;
    size_t count, cap;
} ssync_plan;

/* Fills an item's certificate facts (thumbprint, serial, not_after, revoked, cert_upn and what
 * the filters need) from its certificate: shared by every source. */
ssync_code ssync_plan_item_set_cert(ssync_plan_item *it, X509 *cert, X509_CRL *const *crls,
                                    size_t n_crls, ssync_error *err);

/* Frees the certificate facts ssync_plan_item_set_cert fills (the item can be filled again). */
void ssync_plan_item_clear_cert(ssync_plan_item *it);

/* The CA request id in a blob file name: "<digits>" followed by '.', '-' or the end
 * ("1234.rsp", "1234-alice.der", "1234"), as `certutil -getkey <RequestId> <RequestId>.rsp`
 * names them; 0 otherwise. */
long long ssync_plan_request_id_from_name(const char *file_name);

/* Keeps the items for which keep returns 1, in order; frees the others. */
void ssync_plan_keep_if(ssync_plan *p, int (*keep)(void *ctx, const ssync_plan_item *it),
                        void *ctx);

/* Sets *field (an item's error, reason or warning) to the formatted text, freeing what it
 * held. The texts live on the heap, not in the item: most items have none, and a plan holds
 * every certificate of the CA. On memory failure *field is set to NULL. */
void ssync_plan_note(char **field, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when s holds text (an item's error, reason or warning is set). */
static inline int ssync_has_text(const char *s)
{
    return s && s[0];
}

/* Why the item cannot be recovered (its error, else its code's message); NULL when it can. */
static inline const char *ssync_plan_item_error(const ssync_plan_item *it)
{
    return it->code == SSYNC_OK ? NULL : it->error ? it->error : ssync_strerror(it->code);
}

/* A copy of s, or for a text most items share (a decision's reason, a common EKU OID) a pointer
 * to the one shared copy; free with ssync_plan_text_free (item reasons and EKU OIDs). */
char *ssync_plan_text(const char *s);
void ssync_plan_text_free(char *p);

/* Lets the item's equal user strings (certificate user, SAN UPN, e-mails, Entra UPN and mail)
 * share one allocation; call after setting any of them. The item frees each once. */
void ssync_plan_item_share(ssync_plan_item *it);
/* Replaces the certificate's user (certificate user and SAN UPN) with upn. */
ssync_code ssync_plan_item_set_user(ssync_plan_item *it, const char *upn);

/* 1 when s is a well-formed address local@domain: one '@', a dot-atom local part (RFC 5322
 * atext, at most 64 characters) and a host name of letters, digits and hyphens (at most 253),
 * ASCII only (an X.509 rfc822Name is an IA5String; Entra ID UPNs are ASCII). */
int ssync_address_valid(const char *s);
/* Fails the item (SSYNC_ERR_CERT_BAD_NAME, a reason that names the field) when its SAN UPN or
 * one of its SAN e-mails is not a well-formed address; 1 when it did. */
int ssync_plan_item_check_names(ssync_plan_item *it);

/* Makes room for `more` items without growing again; -1 on memory. */
int ssync_plan_reserve(ssync_plan *p, size_t more);
/* Appends an empty item (zeroed, code SSYNC_OK); NULL on memory. */
ssync_plan_item *ssync_plan_add(ssync_plan *p);
void ssync_plan_free(ssync_plan *p);

#endif
