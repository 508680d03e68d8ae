/* OData quoting, URL escaping, the userPfxCertificates and /users filters, nextLink checks and
 * the set of links already followed. */
#include "graph/query.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    out =
        esc ? join3("$filter=", esc,
                    by == SSYNC_USER_BY_PROXY ? "&$select=id,userPrincipalName,mail,proxyAddresses"
                                              : "&$select=id,userPrincipalName,mail")
            : NULL;
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
