/* Small helpers: key/value lists, URL and form decoding (libcurl), GUIDs, clocks, date formats,
 * base64url. */
#include "emu.h"
#include "common/encode.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int emu_kv_add(emu_kvlist *l, const char *key, const char *value)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        emu_kv *items = realloc(l->items, cap * sizeof(*items));
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    char *k = strdup(key);
    char *v = strdup(value ? value : "");
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    l->items[l->n].key = k;
    l->items[l->n].value = v;
    l->n++;
    return 0;
}

const char *emu_kv_get(const emu_kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

const char *emu_kv_get_ci(const emu_kvlist *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcasecmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

size_t emu_kv_count(const emu_kvlist *l, const char *key)
{
    size_t c = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            c++;
    return c;
}

void emu_kv_free(emu_kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        if (l->items[i].value) {
            OPENSSL_cleanse(l->items[i].value, strlen(l->items[i].value));
            free(l->items[i].value);
        }
    }
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

char *emu_url_decode(const char *s, size_t len)
{
    /* reject malformed escapes: curl would pass "%zz" through unchanged */
    for (size_t i = 0; i < len; i++)
        if (s[i] == '%' && (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
                            !isxdigit((unsigned char)s[i + 2])))
            return NULL;
    int outlen = 0;
    char *tmp = curl_easy_unescape(NULL, s, (int)len, &outlen);
    if (!tmp)
        return NULL;
    char *out = malloc((size_t)outlen + 1);
    if (out) {
        memcpy(out, tmp, (size_t)outlen);
        out[outlen] = '\0';
        if (strlen(out) != (size_t)outlen) { /* embedded NUL */
            free(out);
            out = NULL;
        }
    }
    curl_free(tmp);
    return out;
}

char *emu_url_encode(const char *s)
{
    char *tmp = curl_easy_escape(NULL, s, (int)strlen(s));
    if (!tmp)
        return NULL;
    char *out = strdup(tmp);
    curl_free(tmp);
    return out;
}

static char *form_decode(const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = s[i] == '+' ? ' ' : s[i];
    copy[len] = '\0';
    char *out = emu_url_decode(copy, len);
    OPENSSL_cleanse(copy, len);
    free(copy);
    return out;
}

int emu_form_parse(const char *s, size_t len, emu_kvlist *out)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        if (end > i) {
            size_t eq = i;
            while (eq < end && s[eq] != '=')
                eq++;
            char *k = form_decode(s + i, eq - i);
            char *v = eq < end ? form_decode(s + eq + 1, end - eq - 1) : strdup("");
            int bad = !k || !v || emu_kv_add(out, k, v) != 0;
            free(k);
            if (v) {
                OPENSSL_cleanse(v, strlen(v));
                free(v);
            }
            if (bad)
                return -1;
        }
        i = end + 1;
    }
    return 0;
}

void emu_guid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        memset(b, 0x5a, sizeof(b)); /* unreachable in practice; ids only need to be unique-ish */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

double emu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { F_INNER, F_ENTRA, F_DT };

static void fmt_utc(time_t t, int form, char *out, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[128];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02d%c%02d:%02d:%02d%s", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, form == F_ENTRA ? ' ' : 'T', tm.tm_hour, tm.tm_min, tm.tm_sec,
             form == F_INNER ? "" : "Z");
    size_t n = strlen(buf);
    if (n >= len)
        n = len - 1;
    memcpy(out, buf, n);
    out[n] = '\0';
}

void emu_fmt_inner_date(time_t t, char out[32])
{
    fmt_utc(t, F_INNER, out, 32);
}

void emu_fmt_entra_time(time_t t, char out[32])
{
    fmt_utc(t, F_ENTRA, out, 32);
}

void emu_fmt_datetime(time_t t, char out[32])
{
    fmt_utc(t, F_DT, out, 32);
}

void emu_fmt_datetime_frac(double t, char out[40])
{
    time_t sec = (time_t)t;
    long frac = (long)((t - (double)sec) * 1e7);
    if (frac < 0)
        frac = 0;
    if (frac > 9999999)
        frac = 9999999;
    char base[32];
    fmt_utc(sec, F_INNER, base, sizeof(base));
    char buf[80];
    snprintf(buf, sizeof(buf), "%s.%07ldZ", base, frac);
    memcpy(out, buf, strlen(buf) < 39 ? strlen(buf) + 1 : 39);
    out[39] = '\0';
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int emu_parse_datetime(const char *s, time_t *out)
{
    int y, mo, d, h, mi, se;
    size_t len = strlen(s);
    if (len < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d > mdays[mo - 1])
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        const char *start = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == start || p - start > 7)
            return -1;
    }
    long offset = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        offset = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 14 || om > 59)
            return -1;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
    } else {
        return -1;
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    time_t t = timegm(&tm);
    *out = t - offset;
    return 0;
}

int emu_b64_decode_strict(const char *s, ssync_buf *out)
{
    out->data = NULL;
    out->len = 0;
    size_t n = strlen(s);
    if (n == 0 || n % 4)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(isalnum((unsigned char)c) || c == '+' || c == '/' || (c == '=' && i >= n - 2)))
            return -1;
        if (c == '=' && i == n - 2 && s[n - 1] != '=')
            return -1;
    }
    ssync_error err;
    return ssync_base64_decode(s, n, out, &err) == SSYNC_OK ? 0 : -1;
}

int emu_strcaseeq(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

const char *emu_strcasestr(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return n == 0 ? hay : NULL;
}

void emu_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

char *emu_strdup_lower(const char *s)
{
    char *d = strdup(s);
    if (d)
        emu_lower(d);
    return d;
}

int emu_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    return CRYPTO_memcmp(a, b, alen) == 0;
}
