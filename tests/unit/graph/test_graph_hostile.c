/* The live Graph client against a hostile server: nextLink loops, off-host links, huge or
 * malformed bodies, wrong content types. See graph_live.h. */
#include "graph_live.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

/* ---------------------------------------------------------------- a hostile server
 * Answers like a broken or malicious Graph would: loops, off-host links, huge or malformed
 * bodies, wrong content types. The first path segment names the behaviour (it is the Graph URL's
 * path, e.g. https://127.0.0.1:PORT/loop). Test-only: it writes raw HTTP on purpose. */

typedef struct hostile {
    SSL_CTX *ctx;
    int lfd, port;
    pthread_t th;
    volatile int stop;
    unsigned long hits;
} hostile;

static void ssl_write_all(SSL *s, const char *d, size_t n)
{
    while (n > 0) {
        int w = SSL_write(s, d, (int)(n > 16384 ? 16384 : n));
        if (w <= 0)
            return;
        d += w;
        n -= (size_t)w;
    }
}

static void respond(SSL *s, int status, const char *ctype, const char *body, size_t len,
                    int with_length)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nConnection: close\r\n", status, ctype);
    if (with_length)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: %zu\r\n", len);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    ssl_write_all(s, head, (size_t)n);
    ssl_write_all(s, body, len);
}

static void hostile_answer(hostile *h, SSL *s, const char *path)
{
    char body[1024];
    const char *J = "application/json";
    if (strstr(path, "/oauth2/v2.0/token")) {
        const char *t = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"t\"}";
        respond(s, 200, J, t, strlen(t), 1);
    } else if (strncmp(path, "/loop/", 6) == 0) {
        snprintf(body, sizeof body,
                 "{\"value\":[],\"@odata.nextLink\":\"https://127.0.0.1:%d/loop/beta/next\"}",
                 h->port);
        respond(s, 200, J, body, strlen(body), 1);
    } else if (strncmp(path, "/many/", 6) == 0) {
        snprintf(body, sizeof body,
                 "{\"value\":[],\"@odata.nextLink\":\"https://127.0.0.1:%d/many/beta/p%lu\"}",
                 h->port, h->hits);
        respond(s, 200, J, body, strlen(body), 1);
    } else if (strncmp(path, "/offhost/", 9) == 0) {
        const char *b = "{\"value\":[],\"@odata.nextLink\":\"https://evil.example/beta/x\"}";
        respond(s, 200, J, b, strlen(b), 1);
    } else if (strncmp(path, "/huge/", 6) == 0 || strncmp(path, "/hugeclose/", 11) == 0) {
        size_t n = 2u * 1024u * 1024u;
        char *big = malloc(n);
        memset(big, ' ', n);
        big[0] = '{';
        respond(s, 200, J, big, n, path[5] == '/');
        free(big);
    } else if (strncmp(path, "/html/", 6) == 0) {
        const char *b = "<html><body>Sign in</body></html>";
        respond(s, 200, "text/html", b, strlen(b), 1);
    } else if (strncmp(path, "/garbage/", 9) == 0) {
        respond(s, 200, J, "{\"value\":[{\"id\":", 16, 1);
    } else if (strncmp(path, "/noid/", 6) == 0) {
        const char *b = "{\"value\":[{\"thumbprint\":\"00\"}]}";
        respond(s, 200, J, b, strlen(b), 1);
    } else if (strncmp(path, "/otheruser/", 11) == 0) {
        /* every lookup answered with the same other user (one $batch of one request) */
        const char *b =
            "{\"responses\":[{\"id\":\"1\",\"status\":200,\"headers\":{},"
            "\"body\":{\"value\":[{\"id\":\"11111111-2222-3333-4444-555555555555\","
            "\"userPrincipalName\":\"mallory@x.example\",\"mail\":\"mallory@x.example\","
            "\"proxyAddresses\":[\"SMTP:mallory@x.example\"]}]}}]}";
        respond(s, 200, J, b, strlen(b), 1);
    } else if (strncmp(path, "/sameuser/", 10) == 0) {
        /* the user asked for, in other case and with the address among proxyAddresses */
        const char *b =
            "{\"responses\":[{\"id\":\"1\",\"status\":200,\"headers\":{},"
            "\"body\":{\"value\":[{\"id\":\"11111111-2222-3333-4444-555555555555\","
            "\"userPrincipalName\":\"Alice@X.example\",\"mail\":\"ALICE@x.example\","
            "\"proxyAddresses\":[\"smtp:a.l@x.example\",\"SMTP:alice@x.example\"]}]}}]}";
        respond(s, 200, J, b, strlen(b), 1);
    } else if (strncmp(path, "/err500/", 8) == 0) {
        const char *b = "<html>upstream exploded</html>";
        respond(s, 500, "text/html", b, strlen(b), 1);
    } else {
        respond(s, 404, J, "{}", 2, 1);
    }
}

static void *hostile_main(void *arg)
{
    hostile *h = arg;
    while (!h->stop) {
        struct pollfd p = {.fd = h->lfd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        SSL *s = SSL_new(h->ctx);
        SSL_set_fd(s, fd);
        if (SSL_accept(s) == 1) {
            char req[65536];
            size_t n = 0;
            while (n < sizeof req - 1) {
                int r = SSL_read(s, req + n, (int)(sizeof req - 1 - n));
                if (r <= 0)
                    break;
                n += (size_t)r;
                req[n] = '\0';
                char *end = strstr(req, "\r\n\r\n");
                if (!end)
                    continue;
                char *cl = strstr(req, "\r\nContent-Length:");
                size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
                if (n >= (size_t)(end + 4 - req) + want)
                    break;
            }
            req[n] = '\0';
            char path[1024] = "";
            sscanf(req, "%*s %1023s", path);
            h->hits++;
            hostile_answer(h, s, path);
            SSL_shutdown(s);
        }
        SSL_free(s);
        close(fd);
    }
    return NULL;
}

static void hostile_start(hostile *h)
{
    memset(h, 0, sizeof *h);
    h->ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(h->ctx);
    assert_int_equal(SSL_CTX_use_certificate_chain_file(h->ctx, lab_file("tls/server.pem")), 1);
    assert_int_equal(
        SSL_CTX_use_PrivateKey_file(h->ctx, lab_file("tls/server.key"), SSL_FILETYPE_PEM), 1);
    h->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(h->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(h->lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(h->lfd, (struct sockaddr *)&a, &al);
    h->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&h->th, NULL, hostile_main, h), 0);
}

static void hostile_stop(hostile *h)
{
    h->stop = 1;
    pthread_join(h->th, NULL);
    close(h->lfd);
    SSL_CTX_free(h->ctx);
}

/* lists (or GETs by id) against one behaviour; returns the code, message in msg */
static ssync_code hostile_call(hostile *h, const char *behaviour, int by_id, char *msg, size_t n)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/%s", h->port, behaviour);
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_pages = 50;
    l.cfg.max_attempts = 2;
    live_new(&l);
    ssync_error e = {0};
    ssync_code rc;
    if (by_id) {
        ssync_pfx_entry out;
        rc = ssync_graph_get_pfx(l.g, "0123abcd-00ff", &out, &e);
        if (rc == SSYNC_OK)
            ssync_pfx_entry_free(&out);
    } else {
        ssync_pfx_list list = {0};
        rc = ssync_graph_list_pfx(l.g, &list, &e);
        ssync_pfx_list_free(&list);
    }
    snprintf(msg, n, "%s", e.msg);
    fprintf(stderr, "  %s: %s\n", behaviour, e.msg);
    live_free(&l);
    return rc;
}

static void hostile_responses(void **state)
{
    basic_or_skip();
    hostile h;
    hostile_start(&h);
    char m[600];
    assert_int_equal(hostile_call(&h, "loop", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "loop"));
    assert_int_equal(hostile_call(&h, "many", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "more than 50 pages"));
    assert_int_equal(hostile_call(&h, "offhost", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "away from the configured Graph host"));
    assert_int_equal(hostile_call(&h, "huge", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "larger than"));
    assert_int_equal(hostile_call(&h, "hugeclose", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "larger than"));
    assert_int_equal(hostile_call(&h, "html", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "text/html"));
    assert_int_equal(hostile_call(&h, "html", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_int_equal(hostile_call(&h, "garbage", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_int_equal(hostile_call(&h, "garbage", 1, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_int_equal(hostile_call(&h, "noid", 0, m, sizeof m), SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "without an id"));
    assert_int_equal(hostile_call(&h, "err500", 0, m, sizeof m), SSYNC_ERR_GRAPH);
    assert_non_null(strstr(m, "HTTP 500"));
    assert_non_null(strstr(m, "not Graph JSON"));
    assert_non_null(strstr(m, "gave up after 2 attempts"));
    hostile_stop(&h);
}

/* one lookup of key by kind against a behaviour; its result code */
static ssync_code hostile_lookup(hostile *h, const char *behaviour, ssync_user_key kind,
                                 const char *key, char *msg, size_t n)
{
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/%s", h->port, behaviour);
    live l;
    live_setup(&l, AUTH_SECRET, url);
    l.cfg.max_attempts = 2;
    live_new(&l);
    ssync_user_lookup it = {.key = key};
    ssync_error e = {0};
    assert_int_equal(ssync_graph_lookup_users(l.g, kind, &it, 1, &e), SSYNC_OK);
    ssync_code rc = it.result;
    snprintf(msg, n, "%s", it.err.msg);
    fprintf(stderr, "  %s %s: %s\n", behaviour, key, it.err.msg);
    ssync_user_lookup_clear(&it, 1);
    live_free(&l);
    return rc;
}

/* A directory answer is believed only for the user asked for: the key goes to that account. */
static void lookup_answers_checked(void **state)
{
    basic_or_skip();
    hostile h;
    hostile_start(&h);
    char m[600];
    assert_int_equal(
        hostile_lookup(&h, "otheruser", SSYNC_USER_BY_UPN, "alice@x.example", m, sizeof m),
        SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "alice@x.example"));
    assert_non_null(strstr(m, "another UPN"));
    assert_int_equal(
        hostile_lookup(&h, "otheruser", SSYNC_USER_BY_MAIL, "alice@x.example", m, sizeof m),
        SSYNC_ERR_GRAPH_RESPONSE);
    assert_non_null(strstr(m, "another mail"));
    assert_int_equal(
        hostile_lookup(&h, "sameuser", SSYNC_USER_BY_UPN, "alice@x.example", m, sizeof m),
        SSYNC_OK);
    assert_int_equal(
        hostile_lookup(&h, "sameuser", SSYNC_USER_BY_MAIL, "alice@x.example", m, sizeof m),
        SSYNC_OK);
    hostile_stop(&h);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(hostile_responses),
    cmocka_unit_test(lookup_answers_checked),
};

LIVE_MAIN(tests)
