#include "graph/graph_parse.h"

#include <ctype.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void ssync_graph_failure_clear(ssync_graph_failure *f)
{
    if (f)
        memset(f, 0, sizeof *f);
}

void ssync_sanitize_line(char *dst, size_t n, const char *src, size_t srclen)
{
    if (!dst || n == 0)
        return;
    size_t o = 0;
    int blank = 1; /* drop leading blanks */
    for (size_t i = 0; src && i < srclen && src[i]; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c < 0x20 || c == 0x7f || c == ' ') {
            if (blank)
                continue;
            c = ' ';
            blank = 1;
        } else {
            blank = 0;
        }
        if (o + 1 >= n) {
            if (n > 4) {
                /* cut on a UTF-8 boundary, then mark the cut */
                o = n - 4;
                while (o > 0 && ((unsigned char)dst[o] & 0xc0) == 0x80)
                    o--;
                memcpy(dst + o, "...", 3);
                o += 3;
            }
            break;
        }
        dst[o++] = (char)c;
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o < n ? o : n - 1] = '\0';
}

static void set_str(char *dst, size_t n, json_t *v, int keep)
{
    if (!json_is_string(v))
        return;
    if (keep && dst[0])
        return;
    ssync_sanitize_line(dst, n, json_string_value(v), json_string_length(v));
}

int ssync_graph_error_from_json(const void *rootv, ssync_graph_failure *f)
{
    json_t *root = (json_t *)rootv;
    json_t *e = json_object_get(root, "error");
    if (!f || !json_is_object(e))
        return 0;
    set_str(f->code, sizeof f->code, json_object_get(e, "code"), 0);
    json_t *m = json_object_get(e, "message");
    if (json_is_string(m)) {
        /* Intune wraps a JSON document in `message` whose "Message" is the text (2.1). */
        json_t *inner = json_loadb(json_string_value(m), json_string_length(m), 0, NULL);
        json_t *im = json_object_get(inner, "Message");
        set_str(f->message, sizeof f->message, json_is_string(im) ? im : m, 0);
        json_decref(inner);
    }
    json_t *ie = json_object_get(e, "innerError");
    if (!json_is_object(ie))
        ie = json_object_get(e, "innererror"); /* the doc's spelling */
    if (json_is_object(ie)) {
        set_str(f->request_id, sizeof f->request_id, json_object_get(ie, "request-id"), 1);
        set_str(f->client_request_id, sizeof f->client_request_id,
                json_object_get(ie, "client-request-id"), 1);
        set_str(f->date, sizeof f->date, json_object_get(ie, "date"), 0);
    }
    return 1;
}

int ssync_graph_error_parse(const char *body, size_t len, ssync_graph_failure *f)
{
    if (!body || !f || len == 0)
        return 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    int r = ssync_graph_error_from_json(root, f);
    json_decref(root);
    return r;
}

int ssync_entra_error_parse(const char *body, size_t len, ssync_graph_failure *f)
{
    if (!body || !f || len == 0)
        return 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *e = json_object_get(root, "error");
    if (!json_is_string(e)) {
        json_decref(root);
        return 0;
    }
    set_str(f->code, sizeof f->code, e, 0);
    json_t *d = json_object_get(root, "error_description");
    if (json_is_string(d)) {
        /* "AADSTS7000215: text\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ..." (1.4):
         * keep the first line; the ids are reported from their own fields. */
        const char *s = json_string_value(d);
        size_t n = strcspn(s, "\r\n");
        if (strncmp(s, "AADSTS", 6) == 0) {
            size_t k = 6;
            while (k < n && isdigit((unsigned char)s[k]))
                k++;
            if (k > 6 && k - 0 < sizeof f->aadsts)
                ssync_sanitize_line(f->aadsts, sizeof f->aadsts, s, k);
            if (k < n && s[k] == ':') {
                k++;
                s += k;
                n -= k;
            }
        }
        ssync_sanitize_line(f->message, sizeof f->message, s, n);
    }
    if (!f->aadsts[0]) {
        json_t *codes = json_object_get(root, "error_codes");
        json_t *c0 = json_array_get(codes, 0);
        if (json_is_integer(c0))
            snprintf(f->aadsts, sizeof f->aadsts, "AADSTS%lld", (long long)json_integer_value(c0));
    }
    set_str(f->trace_id, sizeof f->trace_id, json_object_get(root, "trace_id"), 0);
    set_str(f->correlation_id, sizeof f->correlation_id, json_object_get(root, "correlation_id"),
            0);
    set_str(f->date, sizeof f->date, json_object_get(root, "timestamp"), 0);
    json_decref(root);
    return 1;
}

static void cat(char *out, size_t n, size_t *o, const char *s)
{
    size_t len = strlen(s);
    if (*o + 1 >= n)
        return;
    if (len > n - 1 - *o)
        len = n - 1 - *o;
    memcpy(out + *o, s, len);
    *o += len;
    out[*o] = '\0';
}

void ssync_graph_failure_format(const ssync_graph_failure *f, char *out, size_t n)
{
    if (!out || n == 0)
        return;
    out[0] = '\0';
    if (!f)
        return;
    size_t o = 0;
    char num[48];
    if (f->method[0] || f->target[0]) {
        cat(out, n, &o, f->method);
        cat(out, n, &o, " ");
        cat(out, n, &o, f->target);
        cat(out, n, &o, ": ");
    }
    if (f->http_status) {
        snprintf(num, sizeof num, "HTTP %ld", f->http_status);
        cat(out, n, &o, num);
    } else if (f->curl_code) {
        snprintf(num, sizeof num, "transport error %d", f->curl_code);
        cat(out, n, &o, num);
    }
    if (f->code[0]) {
        cat(out, n, &o, " ");
        cat(out, n, &o, f->code);
    }
    if (f->aadsts[0]) {
        cat(out, n, &o, " ");
        cat(out, n, &o, f->aadsts);
    }
    if (f->message[0]) {
        char m[168];
        ssync_sanitize_line(m, sizeof m, f->message, strlen(f->message));
        cat(out, n, &o, ": ");
        cat(out, n, &o, m);
    }
    const char *sep = " (";
    const struct {
        const char *label, *v;
    } ids[] = {{"request-id ", f->request_id},
               {"client-request-id ", f->client_request_id},
               {"trace-id ", f->trace_id},
               {"correlation-id ", f->correlation_id},
               {"date ", f->date}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (!ids[i].v[0] || (i == 0 && strcmp(f->request_id, f->trace_id) == 0))
            continue; /* Entra's x-ms-request-id is its trace id: say it once */
        cat(out, n, &o, sep);
        cat(out, n, &o, ids[i].label);
        cat(out, n, &o, ids[i].v);
        sep = ", ";
    }
    if (sep[0] == ',')
        cat(out, n, &o, ")");
}

char *ssync_odata_quote(const char *value)
{
    if (!value)
        return NULL;
    size_t q = 0, len = strlen(value);
    for (size_t i = 0; i < len; i++)
        q += value[i] == '\'';
    char *out = malloc(len + q + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    out[o++] = '\'';
    for (size_t i = 0; i < len; i++) {
        out[o++] = value[i];
        if (value[i] == '\'')
            out[o++] = '\'';
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

char *ssync_url_escape(const char *value)
{
    if (!value)
        return NULL;
    /* curl_easy_escape keeps only unreserved characters (ALPHA DIGIT - . _ ~) */
    char *c = curl_easy_escape(NULL, value, (int)strlen(value));
    if (!c)
        return NULL;
    char *out = strdup(c);
    curl_free(c);
    return out;
}

static char *lower_ascii(const char *s)
{
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    return d;
}

/* prefix + escape(filter) + suffix, malloc'd */
static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s%s", a, b, c);
    return out;
}

char *ssync_pfx_filter_query(const char *upn, const char *thumbprint)
{
    if (!upn || !*upn || strlen(upn) > 1024 || (thumbprint && strlen(thumbprint) > 128))
        return NULL;
    char *lu = lower_ascii(upn), *lt = thumbprint ? lower_ascii(thumbprint) : NULL;
    char *qu = lu ? ssync_odata_quote(lu) : NULL;
    char *qt = lt ? ssync_odata_quote(lt) : NULL;
    char *filter = NULL, *esc = NULL, *out = NULL;
    if (!qu || (thumbprint && !qt))
        goto done;
    filter = join3("tolower(userPrincipalName) eq ", qu, "");
    if (filter && qt) {
        char *f2 = join3(filter, " and tolower(thumbprint) eq ", qt);
        free(filter);
        filter = f2;
    }
    esc = filter ? ssync_url_escape(filter) : NULL;
    out = esc ? join3("$filter=", esc, "") : NULL;
done:
    free(lu);
    free(lt);
    free(qu);
    free(qt);
    free(filter);
    free(esc);
    return out;
}

char *ssync_user_filter_query(ssync_user_key by, const char *value)
{
    if (!value || !*value || strlen(value) > 1024)
        return NULL;
    char *q = NULL, *filter = NULL, *esc = NULL, *out = NULL;
    switch (by) {
    case SSYNC_USER_BY_UPN:
        q = ssync_odata_quote(value);
        filter = q ? join3("userPrincipalName eq ", q, "") : NULL;
        break;
    case SSYNC_USER_BY_MAIL:
        q = ssync_odata_quote(value);
        filter = q ? join3("mail eq ", q, "") : NULL;
        break;
    case SSYNC_USER_BY_PROXY: {
        char *v = join3("smtp:", value, "");
        q = v ? ssync_odata_quote(v) : NULL;
        free(v);
        filter = q ? join3("proxyAddresses/any(x:x eq ", q, ")") : NULL;
        break;
    }
    default:
        return NULL;
    }
    esc = filter ? ssync_url_escape(filter) : NULL;
    out = esc ? join3("$filter=", esc, "&$select=id,userPrincipalName,mail") : NULL;
    free(q);
    free(filter);
    free(esc);
    return out;
}

/* scheme, host (lowercased) and port of an absolute URL; 0 on failure */
static int url_origin(const char *url, char **scheme, char **host, char **port)
{
    CURLU *u = curl_url();
    int ok = 0;
    *scheme = *host = *port = NULL;
    if (!u)
        return 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        char *user = NULL;
        /* reject user-info: "https://graph.microsoft.com@evil/" style confusion */
        if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK && user)
            ok = 0;
        else
            ok = 1;
        curl_free(user);
    }
    curl_url_cleanup(u);
    return ok;
}

int ssync_nextlink_allowed(const char *link, const char *base)
{
    if (!link || !base || strncasecmp(link, "https://", 8) != 0 || strlen(link) > 8192)
        return 0;
    char *s1, *h1, *p1, *s2, *h2, *p2;
    int ok1 = url_origin(link, &s1, &h1, &p1);
    int ok2 = url_origin(base, &s2, &h2, &p2);
    int ok = ok1 && ok2 && strcasecmp(s1, "https") == 0 && strcasecmp(s1, s2) == 0 &&
             strcasecmp(h1, h2) == 0 && strcmp(p1, p2) == 0;
    curl_free(s1);
    curl_free(h1);
    curl_free(p1);
    curl_free(s2);
    curl_free(h2);
    curl_free(p2);
    return ok;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h ? h : 1; /* 0 marks an empty slot */
}

int ssync_linkset_add(ssync_linkset *s, const char *link)
{
    if (!s || !link)
        return -1;
    if ((s->count + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        uint64_t *n = calloc(ncap, sizeof *n);
        if (!n)
            return -1;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i])
                continue;
            size_t j = s->slots[i] % ncap;
            while (n[j])
                j = (j + 1) % ncap;
            n[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = n;
        s->cap = ncap;
    }
    uint64_t h = fnv1a(link);
    size_t j = h % s->cap;
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return 0;
        j = (j + 1) % s->cap;
    }
    s->slots[j] = h;
    s->count++;
    return 1;
}

void ssync_linkset_free(ssync_linkset *s)
{
    if (s) {
        free(s->slots);
        memset(s, 0, sizeof *s);
    }
}

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
