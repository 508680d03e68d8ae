/* Desired-state selection: [source] filters and targets (see filter.h). */
#include "sync/filter.h"

#include "pki/certinfo.h"
#include "common/fileio.h"
#include "sync/usermap.h"

#include <ctype.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ci_cmp(const void *pa, const void *pb)
{
    return strcasecmp(*(char *const *)pa, *(char *const *)pb);
}

ssync_code ssync_upn_set_add(ssync_upn_set *s, const char *upn, ssync_error *err)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 32;
        char **v = realloc(s->v, ncap * sizeof *v);
        if (!v)
            return ssync_fail(err, SSYNC_ERR_NOMEM, "user list");
        s->v = v;
        s->cap = ncap;
    }
    if (!(s->v[s->n] = strdup(upn)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user list");
    s->n++;
    return SSYNC_OK;
}

void ssync_upn_set_seal(ssync_upn_set *s)
{
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, ci_cmp);
}

int ssync_upn_set_has(const ssync_upn_set *s, const char *upn)
{
    if (!s || !upn || !s->n)
        return 0;
    return bsearch(&upn, s->v, s->n, sizeof *s->v, ci_cmp) != NULL;
}

void ssync_upn_set_free(ssync_upn_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

ssync_code ssync_upn_set_load(const char *path, const char *what, ssync_upn_set *out,
                              ssync_error *err)
{
    memset(out, 0, sizeof *out);
    ssync_buf b = {0};
    ssync_code rc = ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &b, err);
    if (rc != SSYNC_OK)
        return ssync_error_prefix(err, "[source] %s: ", what);
    size_t pos = 0, lineno = 0;
    char *line;
    while (rc == SSYNC_OK && (line = ssync_text_next_line((char *)b.data, b.len, &pos, &lineno))) {
        const char *at = strchr(line, '@');
        if (!at || at == line || !at[1] || strpbrk(line, " \t,;\""))
            rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: '%.100s' is not a userPrincipalName",
                            path, lineno, line);
        else
            rc = ssync_upn_set_add(out, line, err);
    }
    ssync_buf_free(&b);
    if (rc != SSYNC_OK)
        ssync_upn_set_free(out);
    else
        ssync_upn_set_seal(out);
    return rc;
}

/* ---- certificate filters ---- */

static int dotted_oid(const char *s)
{
    int dots = 0;
    if (!isdigit((unsigned char)*s))
        return 0;
    for (; *s; s++) {
        if (*s == '.') {
            if (!isdigit((unsigned char)s[1]))
                return 0;
            dots++;
        } else if (!isdigit((unsigned char)*s)) {
            return 0;
        }
    }
    return dots > 0;
}

ssync_code ssync_cert_filter_init(const ssync_source_cfg *src, ssync_cert_filter *f,
                                  ssync_error *err)
{
    memset(f, 0, sizeof *f);
    f->templates = &src->templates;
    if (src->eku.n == 0) {
        snprintf(f->eku[0], sizeof f->eku[0], "%s", SSYNC_OID_EMAIL_PROTECTION);
        f->n_eku = 1;
        return SSYNC_OK;
    }
    for (size_t i = 0; i < src->eku.n; i++) {
        const char *v = src->eku.v[i];
        /* names ("emailProtection") are turned into their OID; numbers are kept as written */
        ASN1_OBJECT *o = dotted_oid(v) ? NULL : OBJ_txt2obj(v, 0);
        if (!dotted_oid(v) && !o) {
            ERR_clear_error();
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "[source] eku: '%.100s' is neither a dotted OID nor a known name", v);
        }
        if (o) {
            OBJ_obj2txt(f->eku[i], sizeof f->eku[i], o, 1);
            ASN1_OBJECT_free(o);
        } else {
            snprintf(f->eku[i], sizeof f->eku[i], "%s", v);
        }
    }
    f->n_eku = src->eku.n;
    return SSYNC_OK;
}

static int template_ok(const ssync_cfg_list *t, const ssync_plan_item *it)
{
    for (size_t i = 0; i < t->n; i++) {
        if (dotted_oid(t->v[i])) {
            if (it->template_oid && strcmp(it->template_oid, t->v[i]) == 0)
                return 1;
        } else if (it->template_name && strcasecmp(it->template_name, t->v[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

int ssync_cert_filter_check(const ssync_cert_filter *f, const ssync_plan_item *it, char *reason,
                            size_t n)
{
    if (f->templates && f->templates->n && !template_ok(f->templates, it)) {
        if (it->template_oid || it->template_name)
            snprintf(reason, n, "template %.80s not in [source] templates",
                     it->template_oid ? it->template_oid : it->template_name);
        else
            snprintf(reason, n, "no template extension; [source] templates is set");
        return 0;
    }
    if (it->n_eku == 0)
        return 1; /* no EKU extension: any purpose (RFC 5280 4.2.1.12) */
    for (size_t i = 0; i < f->n_eku; i++)
        for (size_t k = 0; k < it->n_eku; k++)
            if (strcmp(f->eku[i], it->eku[k]) == 0)
                return 1;
    snprintf(reason, n, "no EKU of [source] eku (%.60s%s) in the certificate", f->eku[0],
             f->n_eku > 1 ? ", ..." : "");
    return 0;
}

/* ---- user filters ---- */

ssync_code ssync_user_filter_load(const ssync_source_cfg *src, ssync_user_filter *f,
                                  ssync_error *err)
{
    memset(f, 0, sizeof *f);
    ssync_code rc = SSYNC_OK;
    if (src->users_allow) {
        rc = ssync_upn_set_load(src->users_allow, "users_allow", &f->allow, err);
        f->has_allow = rc == SSYNC_OK;
    }
    if (rc == SSYNC_OK && src->users_deny) {
        rc = ssync_upn_set_load(src->users_deny, "users_deny", &f->deny, err);
        f->has_deny = rc == SSYNC_OK;
    }
    f->group_id = src->group;
    if (rc != SSYNC_OK)
        ssync_user_filter_free(f);
    return rc;
}

int ssync_user_filter_check(const ssync_user_filter *f, const char *upn, char *reason, size_t n)
{
    if (f->has_deny && ssync_upn_set_has(&f->deny, upn)) {
        snprintf(reason, n, "user on users_deny");
        return 0;
    }
    if (f->has_allow && !ssync_upn_set_has(&f->allow, upn)) {
        snprintf(reason, n, "user not on users_allow");
        return 0;
    }
    if (f->has_group && !ssync_upn_set_has(&f->group, upn)) {
        snprintf(reason, n, "not a member of group %.80s", f->group_id ? f->group_id : "");
        return 0;
    }
    return 1;
}

void ssync_user_filter_free(ssync_user_filter *f)
{
    if (!f)
        return;
    ssync_upn_set_free(&f->allow);
    ssync_upn_set_free(&f->deny);
    ssync_upn_set_free(&f->group);
    memset(f, 0, sizeof *f);
}

/* ---- targets ---- */

int ssync_serial_normalize(const char *s, char *out, size_t n)
{
    size_t k = 0;
    int any = 0;
    for (; s && *s; s++) {
        if (*s == ':' || *s == ' ')
            continue;
        if (!isxdigit((unsigned char)*s))
            return 0;
        any = 1;
        if (k == 0 && *s == '0')
            continue;
        if (k + 1 >= n)
            return 0;
        out[k++] = (char)toupper((unsigned char)*s);
    }
    if (!any || n < 2)
        return 0;
    if (k == 0)
        out[k++] = '0'; /* the serial 0 */
    out[k] = '\0';
    return 1;
}

ssync_code ssync_target_check(const ssync_plan_target *t, ssync_error *err)
{
    if (!t)
        return SSYNC_OK;
    if (t->request_id) {
        const char *p = t->request_id;
        while (isdigit((unsigned char)*p))
            p++;
        if (!*t->request_id || *p || strlen(t->request_id) > 18)
            return ssync_fail(err, SSYNC_ERR_ARG, "request id '%.40s' is not a decimal number",
                              t->request_id);
    }
    char norm[80];
    if (t->serial && !ssync_serial_normalize(t->serial, norm, sizeof norm))
        return ssync_fail(err, SSYNC_ERR_ARG, "serial '%.80s' is not a hexadecimal number",
                          t->serial);
    if (t->user && !*t->user)
        return ssync_fail(err, SSYNC_ERR_ARG, "empty user");
    return SSYNC_OK;
}

int ssync_target_match_cert(const ssync_plan_target *t, const ssync_plan_item *it)
{
    if (!t)
        return 1;
    if (t->request_id &&
        (it->request_id <= 0 || it->request_id != strtoll(t->request_id, NULL, 10)))
        return 0;
    if (t->serial) {
        char want[80], have[80];
        if (!ssync_serial_normalize(t->serial, want, sizeof want) ||
            !ssync_serial_normalize(it->serial, have, sizeof have) || strcmp(want, have) != 0)
            return 0;
    }
    return 1;
}

static int names(const char *identity, const char *user, const ssync_usermap *map)
{
    if (!identity)
        return 0;
    if (strcasecmp(identity, user) == 0)
        return 1;
    const char *mapped = ssync_usermap_find(map, identity);
    return mapped && strcasecmp(mapped, user) == 0;
}

int ssync_target_names_user(const ssync_plan_target *t, const ssync_plan_item *it,
                            const ssync_usermap *map)
{
    if (!t || !t->user)
        return 1;
    if (names(it->san_upn, t->user, map) || names(it->cert_upn, t->user, map))
        return 1;
    for (size_t i = 0; i < it->n_emails; i++)
        if (names(it->emails[i], t->user, map))
            return 1;
    return 0;
}

void ssync_mail_mismatch_warning(const ssync_plan_item *it, char *out, size_t n)
{
    if (!n)
        return;
    out[0] = '\0';
    if (!it->user_found || !it->user_mail || !*it->user_mail)
        return;
    for (size_t i = 0; i < it->n_emails; i++)
        if (strcasecmp(it->emails[i], it->user_mail) == 0)
            return;
    snprintf(out, n, "%s the user's mail %.100s: Outlook mobile will not use this certificate",
             it->n_emails ? "no SAN e-mail equals" : "the certificate has no SAN e-mail, unlike",
             it->user_mail);
}
