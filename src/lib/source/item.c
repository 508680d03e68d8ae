/* The plan's item container (see item.h): items, the texts they share, their user strings. */
#include "source/item.h"

#include "pki/certinfo.h"
#include "pki/crl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ssync_plan_reserve(ssync_plan *p, size_t more)
{
    if (p->cap - p->count >= more)
        return 0;
    size_t ncap = p->count + more;
    ssync_plan_item *bigger = realloc(p->items, ncap * sizeof *bigger);
    if (!bigger)
        return -1;
    p->items = bigger;
    p->cap = ncap;
    return 0;
}

ssync_plan_item *ssync_plan_add(ssync_plan *p)
{
    /* grows by half: the array is the plan's largest allocation (one item per certificate) */
    if (p->count == p->cap && ssync_plan_reserve(p, p->cap ? p->cap / 2 + 1 : 64) != 0)
        return NULL;
    ssync_plan_item *it = &p->items[p->count++];
    memset(it, 0, sizeof *it);
    it->code = SSYNC_OK;
    return it;
}

/* Texts most items share: the decisions' reasons and the common EKU OIDs. An item points into
 * this table instead of holding a copy (a plan keeps one item per certificate);
 * ssync_plan_text_free leaves them alone. */
static const char SHARED_TEXT[][64] = {
    "cannot be recovered",
    "excluded by a [source] filter",
    "certificate names no user",
    "user not found in Entra ID",
    "certificate revoked",
    "certificate revoked; remove_revoked is off",
    "expired (include_expired is off)",
    "expired more than drop_expired_after_days ago",
    "in Intune",
    "not in Intune",
    "older than the newest keep_newest of the user",
    "older; removed once the newer one is in Intune",
    "the certificate's e-mails match several directory users",
    "1.3.6.1.5.5.7.3.4",      /* emailProtection */
    "1.3.6.1.5.5.7.3.2",      /* clientAuth */
    "1.3.6.1.4.1.311.10.3.4", /* Encrypting File System */
    "1.3.6.1.4.1.311.20.2.2", /* smart card logon */
    "2.5.29.37.0",            /* anyExtendedKeyUsage */
};

static int is_shared_text(const char *p)
{
    const char *lo = SHARED_TEXT[0], *hi = lo + sizeof SHARED_TEXT;
    return p >= lo && p < hi;
}

char *ssync_plan_text(const char *s)
{
    for (size_t i = 0; s && i < sizeof SHARED_TEXT / sizeof SHARED_TEXT[0]; i++)
        if (strcmp(SHARED_TEXT[i], s) == 0)
            return (char *)SHARED_TEXT[i];
    return s ? strdup(s) : NULL;
}

void ssync_plan_text_free(char *p)
{
    if (!is_shared_text(p))
        free(p);
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ssync_plan_text_free(v[i]);
    free(v);
}

/* An item's user strings in one order: the certificate user, SAN UPN, the SAN e-mails, then
 * the Entra UPN and mail. Equal strings share one allocation (ssync_plan_item_share): a plan
 * holds one item per certificate, and one address is usually all of these at once. */
#define USER_FIXED 2 /* cert_upn, san_upn; then n_emails e-mails; then upn, user_mail */

static size_t user_count(const ssync_plan_item *it)
{
    return USER_FIXED + it->n_emails + 2;
}

static char **user_slot(ssync_plan_item *it, size_t i)
{
    if (i == 0)
        return &it->cert_upn;
    if (i == 1)
        return &it->san_upn;
    if (i < USER_FIXED + it->n_emails)
        return &it->emails[i - USER_FIXED];
    return i == USER_FIXED + it->n_emails ? &it->upn : &it->user_mail;
}

/* Frees the strings of slots [from, to) that no other slot outside [from, to) holds, each
 * allocation once, and clears the slots. */
static void user_free(ssync_plan_item *it, size_t from, size_t to)
{
    size_t n = user_count(it);
    for (size_t i = from; i < to; i++) {
        char *p = *user_slot(it, i);
        int keep = 0;
        for (size_t k = 0; p && k < n && !keep; k++)
            keep = *user_slot(it, k) == p && (k < from || k >= to || k < i);
        if (p && !keep)
            free(p);
    }
    for (size_t i = from; i < to; i++)
        *user_slot(it, i) = NULL;
}

void ssync_plan_item_share(ssync_plan_item *it)
{
    size_t n = user_count(it);
    for (size_t i = 1; i < n; i++) {
        char **slot = user_slot(it, i);
        for (size_t k = 0; *slot && k < i; k++) {
            char *other = *user_slot(it, k);
            if (other && other != *slot && strcmp(other, *slot) == 0) {
                int held = 0; /* is the slot's own string held by another slot too? */
                for (size_t m = 0; m < n && !held; m++)
                    held = m != i && *user_slot(it, m) == *slot;
                if (!held)
                    free(*slot);
                *slot = other;
            }
        }
    }
}

/* The certificate facts set_cert fills (an item can be refilled). */
void ssync_plan_item_clear_cert(ssync_plan_item *it)
{
    user_free(it, 0, USER_FIXED + it->n_emails);
    free(it->emails);
    free_list(it->eku, it->n_eku);
    free(it->template_oid);
    free(it->template_name);
    it->template_oid = it->template_name = NULL;
    it->emails = it->eku = NULL;
    it->n_emails = it->n_eku = 0;
}

static void item_free(ssync_plan_item *it)
{
    size_t n = user_count(it);
    user_free(it, 0, n);
    ssync_plan_item_clear_cert(it);
    free(it->error);
    ssync_plan_text_free(it->reason);
    free(it->warning);
    free(it->path);
}

ssync_code ssync_plan_item_set_user(ssync_plan_item *it, const char *upn)
{
    user_free(it, 0, USER_FIXED);
    if (!(it->cert_upn = strdup(upn)))
        return SSYNC_ERR_NOMEM;
    it->san_upn = it->cert_upn;
    ssync_plan_item_share(it);
    return SSYNC_OK;
}

void ssync_plan_note(char **field, const char *fmt, ...)
{
    ssync_plan_text_free(*field);
    *field = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s)
        return;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *field = s;
}

void ssync_plan_free(ssync_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++)
        item_free(&p->items[i]);
    free(p->items);
    memset(p, 0, sizeof *p);
}

void ssync_plan_keep_if(ssync_plan *p, int (*keep)(void *ctx, const ssync_plan_item *it), void *ctx)
{
    size_t k = 0;
    for (size_t i = 0; i < p->count; i++) {
        if (keep(ctx, &p->items[i])) {
            if (k != i)
                p->items[k] = p->items[i];
            k++;
        } else {
            item_free(&p->items[i]);
        }
    }
    p->count = k;
}

long long ssync_plan_request_id_from_name(const char *name)
{
    if (!name || !isdigit((unsigned char)name[0]))
        return 0;
    errno = 0;
    char *end = NULL;
    long long id = strtoll(name, &end, 10);
    if (errno || id <= 0 || (*end && *end != '.' && *end != '-'))
        return 0;
    return id;
}

/* Copies of src[0..n); texts: common values shared instead (ssync_plan_text, EKU OIDs). */
static ssync_code dup_list(char *const *src, size_t n, char ***dst, size_t *dn, int texts)
{
    *dst = NULL;
    *dn = 0;
    if (!n)
        return SSYNC_OK;
    if (!(*dst = calloc(n, sizeof **dst)))
        return SSYNC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++, (*dn)++)
        if (!((*dst)[i] = texts ? ssync_plan_text(src[i]) : strdup(src[i])))
            return SSYNC_ERR_NOMEM;
    return SSYNC_OK;
}

static int dup_opt(char **dst, const char *src)
{
    return !src || (*dst = strdup(src)) != NULL;
}

ssync_code ssync_plan_item_set_cert(ssync_plan_item *it, X509 *cert, X509_CRL *const *crls,
                                    size_t n_crls, ssync_error *err)
{
    if (!it || !cert)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_plan_item_set_cert");
    ssync_plan_item_clear_cert(it);
    ssync_certinfo info = {0};
    ssync_code rc = ssync_certinfo_get(cert, &info, err);
    if (rc != SSYNC_OK)
        return rc;
    memcpy(it->thumbprint, info.thumbprint, sizeof it->thumbprint);
    snprintf(it->serial, sizeof it->serial, "%s", info.serial);
    it->not_after = info.not_after;
    it->not_before = info.not_before;
    it->revoked = ssync_crl_revoked_cert(cert, crls, n_crls);
    if (!dup_opt(&it->cert_upn, ssync_certinfo_user(&info)) ||
        !dup_opt(&it->san_upn, info.upn && *info.upn ? info.upn : NULL) ||
        !dup_opt(&it->template_oid, info.template_oid) ||
        !dup_opt(&it->template_name, info.template_name) ||
        dup_list(info.emails, info.n_emails, &it->emails, &it->n_emails, 0) != SSYNC_OK ||
        dup_list(info.eku, info.n_eku, &it->eku, &it->n_eku, 1) != SSYNC_OK) {
        ssync_plan_item_clear_cert(it);
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, "certificate facts");
    } else {
        ssync_plan_item_share(it);
    }
    ssync_certinfo_clear(&info);
    return rc;
}

static int atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

int ssync_address_valid(const char *s)
{
    const char *at = s ? strchr(s, '@') : NULL;
    if (!at || strchr(at + 1, '@') || at == s || at - s > 64 || strlen(at + 1) > 253)
        return 0;
    for (const char *p = s; p < at; p++) /* dot-atom: no leading, trailing or double dot */
        if (!(atext((unsigned char)*p) || (*p == '.' && p > s && p + 1 < at && p[1] != '.')))
            return 0;
    size_t label = 0;
    for (const char *p = at + 1;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || p[-1] == '-')
                return 0;
            if (!c)
                return 1;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c == '-' && label > 0)) {
            label++;
        } else {
            return 0;
        }
    }
}

int ssync_plan_item_check_names(ssync_plan_item *it)
{
    const char *bad = NULL, *what = "SAN UPN";
    if (it->san_upn && !ssync_address_valid(it->san_upn))
        bad = it->san_upn;
    for (size_t i = 0; !bad && i < it->n_emails; i++)
        if (!ssync_address_valid(it->emails[i])) {
            bad = it->emails[i];
            what = "SAN e-mail";
        }
    if (!bad)
        return 0;
    it->code = SSYNC_ERR_CERT_BAD_NAME;
    ssync_plan_note(&it->error, "%s %.100s is not a well-formed local@domain: refused", what, bad);
    return 1;
}
