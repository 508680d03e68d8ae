/* userPfxCertificate entries, lists and pages, group member pages, sort and find, record ids. */
#include "graph/model.h"

#include "graph/failure.h"
#include "common/uuid.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ssync_pfx_entry_free(ssync_pfx_entry *e)
{
    if (!e)
        return;
    free(e->id);
    free(e->user_principal_name);
    free(e->thumbprint);
    free(e->intended_purpose);
    free(e->start_date_time);
    free(e->expiration_date_time);
    free(e->provider_name);
    free(e->key_name);
    free(e->padding_scheme);
    free(e->created_date_time);
    free(e->last_modified_date_time);
    memset(e, 0, sizeof *e);
}

void ssync_pfx_list_free(ssync_pfx_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        ssync_pfx_entry_free(&l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* strdup of a string member, sanitized against control characters; NULL if absent */
static int dup_member(json_t *obj, const char *key, char **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!json_is_string(v))
        return 1;
    size_t n = json_string_length(v);
    if (n > 4096)
        n = 4096;
    *out = malloc(n + 1);
    if (!*out)
        return 0;
    ssync_sanitize_line(*out, n + 1, json_string_value(v), n);
    return 1;
}

ssync_code ssync_pfx_entry_from_json(const void *objv, ssync_pfx_entry *out, ssync_error *err)
{
    json_t *obj = (json_t *)objv;
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output entry");
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj))
        return ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "userPfxCertificate is not an object");
    json_t *id = json_object_get(obj, "id");
    if (!json_is_string(id) || json_string_length(id) == 0)
        return ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "userPfxCertificate without an id");
    int ok = dup_member(obj, "id", &out->id) &&
             dup_member(obj, "userPrincipalName", &out->user_principal_name) &&
             dup_member(obj, "thumbprint", &out->thumbprint) &&
             dup_member(obj, "intendedPurpose", &out->intended_purpose) &&
             dup_member(obj, "startDateTime", &out->start_date_time) &&
             dup_member(obj, "expirationDateTime", &out->expiration_date_time) &&
             dup_member(obj, "providerName", &out->provider_name) &&
             dup_member(obj, "keyName", &out->key_name) &&
             dup_member(obj, "paddingScheme", &out->padding_scheme) &&
             dup_member(obj, "createdDateTime", &out->created_date_time) &&
             dup_member(obj, "lastModifiedDateTime", &out->last_modified_date_time);
    if (!ok) {
        ssync_pfx_entry_free(out);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "userPfxCertificate");
    }
    if (out->thumbprint) {
        size_t n = 0;
        for (char *p = out->thumbprint; *p; p++, n++)
            *p = (char)tolower((unsigned char)*p);
        out->thumbprint_valid = n == 40 && strspn(out->thumbprint, "0123456789abcdef") == 40;
    }
    return SSYNC_OK;
}

/* The envelope every collection page shares: the parsed root and its "value" array. */
static ssync_code page_load(const char *body, size_t len, json_t **root, json_t **value,
                            ssync_error *err)
{
    json_error_t je;
    *value = NULL;
    *root = body && len ? json_loadb(body, len, 0, &je) : NULL;
    if (!*root)
        return ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "listing page is not JSON%s%s",
                          body && len ? ": " : "", body && len ? je.text : "");
    *value = json_object_get(*root, "value");
    if (!json_is_array(*value))
        return ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "listing page has no \"value\" array");
    return SSYNC_OK;
}

static ssync_code page_next_link(json_t *root, char **next_link, ssync_error *err)
{
    json_t *nl = json_object_get(root, "@odata.nextLink");
    if (!nl || json_is_null(nl))
        return SSYNC_OK;
    if (!json_is_string(nl) || json_string_length(nl) == 0 ||
        strlen(json_string_value(nl)) != json_string_length(nl))
        return ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "@odata.nextLink is not a string");
    *next_link = strdup(json_string_value(nl));
    return *next_link ? SSYNC_OK : ssync_fail(err, SSYNC_ERR_NOMEM, "nextLink");
}

ssync_code ssync_pfx_page_parse(const char *body, size_t len, ssync_pfx_list *out, char **next_link,
                                ssync_error *err)
{
    if (!out || !next_link)
        return ssync_fail(err, SSYNC_ERR_ARG, "page parse: no output");
    *next_link = NULL;
    json_t *root, *value;
    ssync_code rc = page_load(body, len, &root, &value, err);
    if (rc != SSYNC_OK)
        goto done;
    size_t n = json_array_size(value);
    if (out->count + n > out->cap) {
        size_t ncap = out->cap ? out->cap : 128;
        while (ncap < out->count + n)
            ncap *= 2;
        ssync_pfx_entry *items = realloc(out->items, ncap * sizeof *items);
        if (!items) {
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "listing");
            goto done;
        }
        out->items = items;
        out->cap = ncap;
    }
    for (size_t i = 0; i < n; i++) {
        ssync_error e2;
        rc = ssync_pfx_entry_from_json(json_array_get(value, i), &out->items[out->count], &e2);
        if (rc != SSYNC_OK) {
            const char *t = ssync_strerror(e2.code);
            size_t tl = strlen(t);
            const char *d =
                strncmp(e2.msg, t, tl) == 0 && e2.msg[tl] == ':' ? e2.msg + tl + 2 : e2.msg;
            ssync_fail(err, rc, "listing entry %zu: %s", i, d);
            goto done;
        }
        out->count++;
    }
    rc = page_next_link(root, next_link, err);
done:
    json_decref(root);
    return rc;
}

ssync_code ssync_member_page_parse(const char *body, size_t len, char ***upns, size_t *count,
                                   size_t *cap, char **next_link, ssync_error *err)
{
    if (!upns || !count || !cap || !next_link)
        return ssync_fail(err, SSYNC_ERR_ARG, "page parse: no output");
    *next_link = NULL;
    json_t *root, *value;
    ssync_code rc = page_load(body, len, &root, &value, err);
    if (rc != SSYNC_OK)
        goto done;
    size_t n = json_array_size(value);
    if (*count + n > *cap) {
        size_t ncap = *cap ? *cap : 128;
        while (ncap < *count + n)
            ncap *= 2;
        char **bigger = realloc(*upns, ncap * sizeof *bigger);
        if (!bigger) {
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "members");
            goto done;
        }
        *upns = bigger;
        *cap = ncap;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(value, i);
        char *upn = NULL;
        if (!json_is_object(m) || !json_is_string(json_object_get(m, "userPrincipalName")) ||
            json_string_length(json_object_get(m, "userPrincipalName")) == 0) {
            rc =
                ssync_fail(err, SSYNC_ERR_GRAPH_RESPONSE, "member %zu has no userPrincipalName", i);
            goto done;
        }
        if (!dup_member(m, "userPrincipalName", &upn) || !upn) {
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "members");
            goto done;
        }
        (*upns)[(*count)++] = upn;
    }
    rc = page_next_link(root, next_link, err);
done:
    json_decref(root);
    if (rc != SSYNC_OK) {
        free(*next_link);
        *next_link = NULL;
    }
    return rc;
}

static int entry_cmp(const char *u1, const char *t1, const char *u2, const char *t2)
{
    int c = strcasecmp(u1 ? u1 : "", u2 ? u2 : "");
    return c ? c : strcasecmp(t1 ? t1 : "", t2 ? t2 : "");
}

static int qcmp(const void *a, const void *b)
{
    const ssync_pfx_entry *x = a, *y = b;
    return entry_cmp(x->user_principal_name, x->thumbprint, y->user_principal_name, y->thumbprint);
}

void ssync_pfx_list_sort(ssync_pfx_list *l)
{
    if (l && l->count > 1)
        qsort(l->items, l->count, sizeof *l->items, qcmp);
}

const ssync_pfx_entry *ssync_pfx_list_find(const ssync_pfx_list *l, const char *upn,
                                           const char *thumbprint)
{
    if (!l || !upn || !thumbprint)
        return NULL;
    size_t lo = 0, hi = l->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ssync_pfx_entry *e = &l->items[mid];
        int c = entry_cmp(upn, thumbprint, e->user_principal_name, e->thumbprint);
        if (c == 0)
            return e;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
ssync_code ssync_pfx_record_id(const char *user_id, const char *thumbprint, char out[80],
                               ssync_error *err)
{
    char u[33];
    if (!out)
        return ssync_fail(err, SSYNC_ERR_ARG, "no output");
    out[0] = '\0';
    if (!ssync_uuid_nodash(user_id, u))
        return ssync_fail(err, SSYNC_ERR_ARG, "user id '%.64s' is not a GUID",
                          user_id ? user_id : "");
    if (!thumbprint || strlen(thumbprint) != 40 ||
        strspn(thumbprint, "0123456789abcdefABCDEF") != 40)
        return ssync_fail(err, SSYNC_ERR_ARG, "thumbprint '%.64s' is not 40 hex digits",
                          thumbprint ? thumbprint : "");
    snprintf(out, 80, "%s-%s", u, thumbprint);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return SSYNC_OK;
}
