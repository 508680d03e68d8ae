#include "graph/http.h"

#include "common/uuid.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    ssync_http_xfer *x = userp;
    size_t n = size * nmemb;
    if (n > x->resp_max - x->resp_len) {
        x->overflow = 1;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (x->resp_len + n + 1 > x->resp_alloc) {
        size_t na = x->resp_alloc ? x->resp_alloc : 16384;
        while (na < x->resp_len + n + 1)
            na *= 2;
        char *nb = realloc(x->resp, na);
        if (!nb)
            return 0;
        x->resp = nb;
        x->resp_alloc = na;
    }
    memcpy(x->resp + x->resp_len, data, n);
    x->resp_len += n;
    x->resp[x->resp_len] = '\0';
    return n;
}

static size_t body_read(char *buf, size_t size, size_t nitems, void *userp)
{
    ssync_http_xfer *x = userp;
    size_t n = size * nitems, left = x->body_len - x->body_off;
    if (n > left)
        n = left;
    memcpy(buf, x->body + x->body_off, n);
    x->body_off += n;
    return n;
}

/* libcurl asks to rewind the body only to send the request again (its retry after a reused
 * connection died, or a resend it decided on its own): allowed while nothing was handed out,
 * refused otherwise, so that a write never leaves twice without the caller reading first. */
static int body_seek(void *userp, curl_off_t offset, int origin)
{
    ssync_http_xfer *x = userp;
    if (origin == SEEK_SET && offset == 0 && x->body_off == 0)
        return CURL_SEEKFUNC_OK;
    x->rewind_refused = 1;
    return CURL_SEEKFUNC_FAIL;
}

static int add_header(ssync_http_xfer *x, const char *h)
{
    struct curl_slist *n = curl_slist_append(x->headers, h);
    if (!n)
        return 0;
    x->headers = n;
    return 1;
}

ssync_code ssync_http_setup(ssync_http_xfer *x, const ssync_http_opts *o, const char *method,
                            const char *url, const char *bearer, const char *content_type,
                            const char *body, size_t body_len, size_t resp_max, ssync_error *err)
{
    if (!x || !o || !method || !url || strlen(method) >= sizeof x->method)
        return ssync_fail(err, SSYNC_ERR_ARG, "http: bad request");
    memset(x, 0, sizeof *x);
    if (strncasecmp(url, "https://", 8) != 0)
        return ssync_fail(err, SSYNC_ERR_ARG, "only https URLs are allowed");
    snprintf(x->method, sizeof x->method, "%s", method);
    x->resp_max = resp_max ? resp_max : SSYNC_HTTP_MAX_BODY;
    x->url = strdup(url);
    x->easy = curl_easy_init();
    if (!x->url || !x->easy) {
        ssync_http_cleanup(x);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "http request");
    }
    ssync_code rc = ssync_uuid4(x->client_request_id, err);
    if (rc != SSYNC_OK) {
        ssync_http_cleanup(x);
        return rc;
    }
    char h[128];
    int ok = add_header(x, "Accept: application/json") && add_header(x, "Expect:");
    snprintf(h, sizeof h, "client-request-id: %s", x->client_request_id);
    ok = ok && add_header(x, h) && add_header(x, "return-client-request-id: true");
    if (ok && bearer) {
        size_t n = strlen(bearer) + sizeof "Authorization: Bearer ";
        char *a = malloc(n);
        ok = a != NULL;
        if (a) {
            snprintf(a, n, "Authorization: Bearer %s", bearer);
            ok = add_header(x, a);
            OPENSSL_cleanse(a, n);
            free(a);
        }
    }
    if (ok && body) {
        snprintf(h, sizeof h, "Content-Type: %s", content_type ? content_type : "application/json");
        ok = add_header(x, h);
        x->body = malloc(body_len + 1);
        ok = ok && x->body;
        if (x->body) {
            memcpy(x->body, body, body_len);
            x->body[body_len] = '\0';
            x->body_len = body_len;
        }
    }
    if (!ok) {
        ssync_http_cleanup(x);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "http headers");
    }
    CURL *e = x->easy;
    CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(e, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_URL, x->url);
    SET(CURLOPT_PROTOCOLS_STR, "https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* Verification is always on; nothing in the library can switch it off. */
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (o->ca_file)
        SET(CURLOPT_CAINFO, o->ca_file);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    SET(CURLOPT_PIPEWAIT, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ACCEPT_ENCODING, "");
    SET(CURLOPT_HTTPHEADER, x->headers);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->resp_max);
    if (o->connect_timeout_ms > 0)
        SET(CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->timeout_ms > 0)
        SET(CURLOPT_TIMEOUT_MS, o->timeout_ms);
    if (o->user_agent)
        SET(CURLOPT_USERAGENT, o->user_agent);
    if (strcmp(method, "GET") != 0 && !x->body) {
        /* A write without a body (DELETE) gets a connection of its own: libcurl silently
         * resends a request whose reused connection died before any answer. */
        SET(CURLOPT_FRESH_CONNECT, 1L);
        SET(CURLOPT_FORBID_REUSE, 1L);
        SET(CURLOPT_CUSTOMREQUEST, x->method);
    } else if (strcmp(method, "GET") != 0) {
        /* A write with a body reuses connections (no TLS handshake per write) and can never be
         * sent twice by libcurl: the body comes from body_read, and a resend on a fresh
         * connection after a reused one died needs a rewind, which body_seek refuses. The
         * transfer then fails (CURLE_SEND_FAIL_REWIND) as an ambiguous write, and the caller
         * reads the record back before anything is sent again. */
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_READFUNCTION, body_read);
        SET(CURLOPT_READDATA, x);
        SET(CURLOPT_SEEKFUNCTION, body_seek);
        SET(CURLOPT_SEEKDATA, x);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, x->method);
    }
#undef SET
    if (c != CURLE_OK) {
        ssync_http_cleanup(x);
        return ssync_fail(err,
                          c == CURLE_UNKNOWN_OPTION || c == CURLE_NOT_BUILT_IN
                              ? SSYNC_ERR_UNSUPPORTED
                              : SSYNC_ERR_HTTP,
                          "cannot set up the request: %s", curl_easy_strerror(c));
    }
    return SSYNC_OK;
}

static void header_copy(CURL *e, const char *name, char *dst, size_t n)
{
    struct curl_header *h = NULL;
    dst[0] = '\0';
    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK && h && h->value)
        ssync_sanitize_line(dst, n, h->value, strlen(h->value));
}

void ssync_http_finish(ssync_http_xfer *x, CURLcode rc)
{
    if (!x || !x->easy)
        return;
    x->result = rc;
    if (rc == CURLE_FILESIZE_EXCEEDED) /* Content-Length above the cap: refused up front */
        x->overflow = 1;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    curl_off_t pre = 0;
    curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
    /* Past "pretransfer" the request may have left; a response status says it arrived. */
    x->sent = pre > 0 || x->status > 0 || x->rewind_refused;
    if (x->rewind_refused && rc != CURLE_OK)
        snprintf(x->errbuf, sizeof x->errbuf, "%s",
                 "the connection closed after the request was sent; not resent blindly");
    header_copy(x->easy, "content-type", x->content_type, sizeof x->content_type);
    header_copy(x->easy, "request-id", x->request_id, sizeof x->request_id);
    if (!x->request_id[0])
        header_copy(x->easy, "x-ms-request-id", x->request_id, sizeof x->request_id);
    header_copy(x->easy, "client-request-id", x->echoed_client_request_id,
                sizeof x->echoed_client_request_id);
    header_copy(x->easy, "retry-after", x->retry_after, sizeof x->retry_after);
    header_copy(x->easy, "x-ms-retry-after-ms", x->retry_after_ms, sizeof x->retry_after_ms);
    header_copy(x->easy, "date", x->date, sizeof x->date);
}

void ssync_http_cleanup(ssync_http_xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    for (struct curl_slist *s = x->headers; s; s = s->next)
        if (s->data)
            OPENSSL_cleanse(s->data, strlen(s->data));
    curl_slist_free_all(x->headers);
    if (x->body && x->body_secret)
        OPENSSL_cleanse(x->body, x->body_len);
    free(x->body);
    if (x->resp && x->body_secret) /* a token response */
        OPENSSL_cleanse(x->resp, x->resp_len);
    free(x->resp);
    free(x->url);
    memset(x, 0, sizeof *x);
}

int ssync_http_is_json(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

ssync_transport_class ssync_http_classify(const ssync_http_xfer *x)
{
    if (x->overflow)
        return SSYNC_TRANSPORT_FATAL;
    switch (x->result) {
    case CURLE_OK:
        return SSYNC_TRANSPORT_OK;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return SSYNC_TRANSPORT_TLS_FATAL;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_BAD_CONTENT_ENCODING:
        return SSYNC_TRANSPORT_FATAL;
    default:
        return SSYNC_TRANSPORT_RETRY;
    }
}

void ssync_http_describe(const ssync_http_xfer *x, ssync_graph_failure *f)
{
    if (!x || !f)
        return;
    snprintf(f->method, sizeof f->method, "%s", x->method);
    f->target[0] = '\0';
    if (x->url) {
        /* path only: scheme://host[:port]/path?query -> /path */
        const char *p = strstr(x->url, "://");
        p = p ? strchr(p + 3, '/') : NULL;
        if (p)
            ssync_sanitize_line(f->target, sizeof f->target, p, strcspn(p, "?#"));
    }
    f->http_status = x->status;
    f->curl_code = x->result == CURLE_OK ? 0 : (int)x->result;
    const char *crid =
        x->echoed_client_request_id[0] ? x->echoed_client_request_id : x->client_request_id;
    ssync_sanitize_line(f->client_request_id, sizeof f->client_request_id, crid, strlen(crid));
    ssync_sanitize_line(f->request_id, sizeof f->request_id, x->request_id, strlen(x->request_id));
    if (x->date[0])
        ssync_sanitize_line(f->date, sizeof f->date, x->date, strlen(x->date));
}

ssync_answer ssync_http_answer(const ssync_http_xfer *x, ssync_graph_failure *f)
{
    ssync_http_describe(x, f);
    ssync_transport_class tc = ssync_http_classify(x);
    if (tc != SSYNC_TRANSPORT_OK) {
        ssync_sanitize_line(f->message, sizeof f->message,
                            x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result),
                            sizeof x->errbuf);
        return tc == SSYNC_TRANSPORT_TLS_FATAL ? SSYNC_ANSWER_TLS_FATAL
               : tc == SSYNC_TRANSPORT_RETRY   ? SSYNC_ANSWER_TRANSPORT_RETRY
                                               : SSYNC_ANSWER_TRANSPORT_FATAL;
    }
    long st = x->status;
    if (st >= 200 && st < 300)
        return SSYNC_ANSWER_OK;
    if (st == 401)
        return SSYNC_ANSWER_UNAUTHORIZED;
    if (st == 429 || st == 503 || st == 504)
        return SSYNC_ANSWER_THROTTLED;
    if (st >= 500)
        return SSYNC_ANSWER_SERVER_ERROR;
    if (st == 404)
        return SSYNC_ANSWER_NOT_FOUND;
    if (st == 403)
        return SSYNC_ANSWER_FORBIDDEN;
    return SSYNC_ANSWER_REFUSED;
}
