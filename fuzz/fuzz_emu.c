/* Fuzz target: the emulator's request handling (routing, authentication, OData queries, JSON
 * bodies, $batch, the token endpoint) without the HTTP server. Input: a request in HTTP/1.1-like
 * text, "METHOD PATH[?QUERY]\n" then "Name: value" header lines, an empty line, the body. The
 * header value "@TOKEN@" is replaced by a valid access token minted at start, so authenticated
 * routes are reached. The record store is new for every input (each run is independent). */
#include "emu.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TENANT "11111111-2222-3333-4444-555555555555"
#define CLIENT "66666666-7777-8888-9999-000000000000"
#define SECRET "fuzz-client-secret"

static emu_ctx ctx;
static char bearer[4096];

static void run(const char *method, const char *path, const char *query, emu_kvlist *headers,
                const unsigned char *body, size_t body_len, emu_resp *resp)
{
    emu_req req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = strdup(path);
    if (query)
        emu_form_parse(query, strlen(query), &req.query);
    if (headers)
        req.headers = *headers;
    req.body = body;
    req.body_len = body_len;
    req.body_too_large = body_len > EMU_MAX_BODY;
    req.peer_loopback = 1;
    emu_guid(req.request_id);
    emu_guid(req.client_request_id);
    memset(resp, 0, sizeof(*resp));
    if (req.path)
        emu_dispatch(&ctx, &req, resp);
    free(req.path);
    emu_kv_free(&req.query);
    if (headers)
        memset(headers, 0, sizeof(*headers)); /* freed by the caller through req */
    emu_kv_free(&req.headers);
}

static void mint_token(void)
{
    static const char form[] = "grant_type=client_credentials&client_id=" CLIENT
                               "&client_secret=" SECRET "&scope=https%3A%2F%2F127.0.0.1%3A1%2F."
                               "default";
    emu_kvlist h = {0};
    emu_kv_add(&h, "Content-Type", "application/x-www-form-urlencoded");
    emu_resp resp;
    run("POST", "/" TENANT "/oauth2/v2.0/token", NULL, &h, (const unsigned char *)form,
        sizeof(form) - 1, &resp);
    const char *tok = json_string_value(json_object_get(resp.json, "access_token"));
    if (!tok) {
        fprintf(stderr, "fuzz_emu: cannot mint a token (HTTP %d)\n", resp.status);
        abort();
    }
    snprintf(bearer, sizeof(bearer), "Bearer %s", tok);
    emu_resp_free(&resp);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char users[] =
        "id,userPrincipalName,mail,displayName,proxyAddresses\n"
        "0a0a0a0a-1111-2222-3333-444444444444,alice@contoso.com,alice@contoso.com,Alice,\n"
        "0b0b0b0b-1111-2222-3333-444444444444,bob@contoso.com,bob.smith@contoso.com,Bob,"
        "smtp:bob.smith@contoso.com\n";
    char path[] = "/tmp/fuzz-emu-users-XXXXXX";
    int fd = mkstemp(path);
    ssync_error err = {0};
    if (fd < 0 || write(fd, users, sizeof(users) - 1) != (ssize_t)(sizeof(users) - 1))
        abort();
    close(fd);
    pthread_mutex_init(&ctx.lock, NULL);
    ctx.page_size = 3;
    ctx.token_lifetime = 3600;
    ctx.quiet = 1;
    snprintf(ctx.host, sizeof(ctx.host), "127.0.0.1");
    ctx.port = 1;
    snprintf(ctx.base_url, sizeof(ctx.base_url), "https://127.0.0.1:1");
    snprintf(ctx.token_kid, sizeof(ctx.token_kid), "fuzz");
    ctx.tenant_id = strdup(TENANT);
    ctx.client_id = strdup(CLIENT);
    ctx.client_secret.data = (unsigned char *)strdup(SECRET);
    ctx.client_secret.len = strlen(SECRET);
    ctx.stats.by_route = json_object();
    ctx.stats.by_status = json_object();
    ctx.roles = calloc(2, sizeof(char *));
    ctx.roles[0] = strdup(EMU_ROLE_RW);
    ctx.roles[1] = strdup(EMU_ROLE_USERS);
    ctx.nroles = 2;
    emu_limit off = {0, 0};
    ctx.connector_key = EVP_RSA_gen(2048);
    ctx.token_key = EVP_RSA_gen(2048);
    ctx.store = emu_store_new();
    if (!ctx.connector_key || !ctx.token_key || !ctx.store ||
        emu_users_load(&ctx, path, &err) != 0 || emu_window_init(&ctx.write_window, off) != 0 ||
        emu_window_init(&ctx.request_window, off) != 0) {
        fprintf(stderr, "fuzz_emu: cannot set up the emulator: %s\n", err.msg);
        abort();
    }
    unlink(path);
    mint_token();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    /* the request line */
    char *eol = strchr(text, '\n');
    char *rest = eol ? eol + 1 : text + len;
    if (eol)
        *eol = '\0';
    char *sp = strchr(text, ' ');
    if (!sp || sp == text) {
        free(text);
        return 0;
    }
    *sp = '\0';
    char *path = sp + 1, *query = strchr(path, '?');
    if (query)
        *query++ = '\0';
    /* headers up to an empty line; the rest is the body */
    emu_kvlist headers = {0};
    while (*rest && *rest != '\n') {
        char *end = strchr(rest, '\n');
        if (end)
            *end = '\0';
        char *colon = strchr(rest, ':');
        if (colon) {
            *colon = '\0';
            const char *v = colon + 1;
            while (*v == ' ')
                v++;
            emu_kv_add(&headers, rest, strcmp(v, "@TOKEN@") == 0 ? bearer : v);
        }
        rest = end ? end + 1 : rest + strlen(rest);
    }
    if (*rest == '\n')
        rest++;
    size_t body_len = len - (size_t)(rest - text);
    emu_store_free(ctx.store);
    ctx.store = emu_store_new();
    emu_resp resp;
    run(text, path, query, &headers, (const unsigned char *)rest, body_len, &resp);
    emu_resp_free(&resp);
    free(text);
    return 0;
}
