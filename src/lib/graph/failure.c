/* The failure record of the Graph client: sanitizing, Graph and Entra ID error bodies, the
 * one-line format. */
#include "graph/failure.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

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
        /* Intune wraps a JSON document in `message` whose "Message" is the text (observed
         * on userPfxCertificates failures; Graph docs do not describe it). */
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
        /* "AADSTS7000215: text\r\nTrace ID: ...\r\nCorrelation ID: ...\r\nTimestamp: ..."
         * (identity platform docs: Microsoft Entra authentication and authorization error
         * codes): keep the first line; the ids are reported from their own fields. */
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
