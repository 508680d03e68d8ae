/* libmicrohttpd glue: one thread per connection, body accumulation (bounded), conversion between
 * libmicrohttpd and emu_req/emu_resp, the standard Graph headers (request-id and
 * client-request-id as in Graph docs: JSON batching; the others as observed on real responses). */
#include "emu.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_JSON                                                                                 \
    "application/"                                                                                 \
    "json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

typedef struct conn_state {
    unsigned char *body;
    size_t len, cap;
    int too_large;
    int answered; /* a response was queued on the first call */
} conn_state;

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    emu_kvlist *l = cls;
    (void)emu_kv_add(l, key, value ? value : "");
    return MHD_YES;
}

static int peer_is_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    }
    return 0;
}

static void req_init(emu_req *req, struct MHD_Connection *conn, const char *url, const char *method)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->path = strdup(url ? url : "/");
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_kv, &req->headers);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_kv, &req->query);
    emu_guid(req->request_id);
    const char *crid = emu_kv_get_ci(&req->headers, "client-request-id");
    if (crid && *crid)
        snprintf(req->client_request_id, sizeof(req->client_request_id), "%s", crid);
    else
        emu_guid(req->client_request_id);
    req->peer_loopback = peer_is_loopback(conn);
}

static void req_free(emu_req *req)
{
    free(req->path);
    emu_kv_free(&req->query);
    emu_kv_free(&req->headers);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, const emu_req *req,
                                 const emu_resp *resp)
{
    char *text = NULL;
    size_t len = 0;
    if (resp->json) {
        text = json_dumps(resp->json, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text)
            return MHD_NO;
        len = strlen(text);
    }
    struct MHD_Response *r =
        text ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (resp->json)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : GRAPH_JSON);
    MHD_add_response_header(r, "request-id", req->request_id);
    MHD_add_response_header(r, "client-request-id", req->client_request_id);
    MHD_add_response_header(
        r, "x-ms-ags-diagnostic",
        "{\"ServerInfo\":{\"DataCenter\":\"Local\",\"Slice\":\"E\","
        "\"Ring\":\"emu\",\"ScaleUnit\":\"000\",\"RoleInstance\":\"intune-emu\"}}");
    MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
    for (size_t i = 0; i < resp->headers.n; i++)
        MHD_add_response_header(r, resp->headers.items[i].key, resp->headers.items[i].value);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    emu_ctx *ctx = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof(*st));
        if (!st)
            return MHD_NO;
        *con_cls = st;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > EMU_MAX_BODY) {
            /* answer at once; libmicrohttpd then closes the connection without reading the
             * body */
            emu_req req;
            emu_resp resp = {0};
            req_init(&req, conn, url, method);
            emu_graph_error(&req, &resp, 413, "RequestEntityTooLarge",
                            "The request body is larger than %u bytes.", EMU_MAX_BODY);
            emu_stats_count(ctx, method, "too-large", 413);
            st->answered = 1;
            enum MHD_Result rc = send_resp(conn, &req, &resp);
            emu_resp_free(&resp);
            req_free(&req);
            return rc;
        }
        return MHD_YES;
    }
    if (st->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!st->too_large && st->len + n > EMU_MAX_BODY) {
            st->too_large = 1;
            free(st->body);
            st->body = NULL;
            st->len = st->cap = 0;
        }
        if (!st->too_large) {
            if (st->len + n + 1 > st->cap) {
                size_t cap = st->cap ? st->cap : 4096;
                while (cap < st->len + n + 1)
                    cap *= 2;
                unsigned char *b = realloc(st->body, cap);
                if (!b)
                    return MHD_NO;
                st->body = b;
                st->cap = cap;
            }
            memcpy(st->body + st->len, upload_data, n);
            st->len += n;
            st->body[st->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    emu_req req;
    emu_resp resp = {0};
    req_init(&req, conn, url, method);
    req.body = st->body ? st->body : (const unsigned char *)"";
    req.body_len = st->len;
    req.body_too_large = st->too_large;
    if (!req.path) {
        req_free(&req);
        return MHD_NO;
    }
    emu_dispatch(ctx, &req, &resp);
    enum MHD_Result rc;
    if (resp.drop) {
        rc = MHD_NO; /* libmicrohttpd closes the connection without a response */
        if (!ctx->quiet)
            fprintf(stderr, "intune-emu: %s %s -> (connection dropped)\n", method, url);
    } else {
        rc = send_resp(conn, &req, &resp);
        if (!ctx->quiet)
            fprintf(stderr, "intune-emu: %s %s -> %d\n", method, url, resp.status);
    }
    emu_resp_free(&resp);
    req_free(&req);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    conn_state *st = *con_cls;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

int emu_http_bind(const char *host, unsigned *port, ssync_error *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)*port);
        sl = sizeof(*sin);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)*port);
        sl = sizeof(*sin6);
    } else {
        ssync_fail(err, SSYNC_ERR_ARG, "cannot parse listen address %s", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 128) != 0) {
        ssync_fail(err, SSYNC_ERR_HTTP, "cannot listen on %s:%u: %s", host, *port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        *port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
    return fd;
}

struct MHD_Daemon *emu_http_start(emu_ctx *ctx, int fd, const char *cert_pem, const char *key_pem,
                                  ssync_error *err)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS |
                     (ctx->quiet ? 0 : MHD_USE_ERROR_LOG);
    if (strchr(ctx->host, ':'))
        flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, ctx, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
        MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_END);
    if (!d)
        ssync_fail(err, SSYNC_ERR_HTTP,
                   "cannot start the HTTPS server (bad TLS certificate or key?)");
    return d;
}

void emu_http_stop(struct MHD_Daemon *d)
{
    if (d)
        MHD_stop_daemon(d);
}
