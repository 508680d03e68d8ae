/* intune-emu: options, startup, the "listening" line, signal handling, --state on exit. */
#include "emu.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: intune-emu --listen 127.0.0.1:PORT --tls-cert FILE --tls-key FILE\n"
            "                  --tenant-id ID --client-id ID [--client-secret-file FILE]\n"
            "                  [--client-cert FILE] --connector-key FILE --users FILE\n"
            "                  [--groups FILE] [--tenant-config FILE]\n"
            "                  [--page-size N] [--write-limit N/SECONDS|off]\n"
            "                  [--request-limit N/SECONDS|off] [--fault SPEC]... [--state FILE]\n"
            "                  [--strict] [--token-lifetime SECONDS] [--roles R1,R2|none]\n"
            "                  [--max-runtime SECONDS] [--quiet]\n"
            "       intune-emu device-fetch --url https://127.0.0.1:PORT --ca-bundle FILE\n"
            "                  --user UPN --out DIR [--device-name NAME]\n"
            "See docs/emulator.md.\n");
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "intune-emu: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* "127.0.0.1:PORT", "[::1]:PORT", "localhost:PORT"; loopback only. */
static int parse_listen(const char *s, char *host, size_t hlen, unsigned *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= hlen)
            return -1;
        snprintf(host, hlen, "%.*s", (int)(end - s - 1), s + 1);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= hlen)
            return -1;
        snprintf(host, hlen, "%.*s", (int)(colon - s), s);
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || p > 65535)
        return -1;
    *port = (unsigned)p;
    if (strcasecmp(host, "localhost") == 0)
        snprintf(host, hlen, "127.0.0.1");
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127 ? 0 : -2;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) ? 0 : -2;
    return -2;
}

static int load_client_cert(emu_ctx *ctx, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    ctx->client_cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!ctx->client_cert)
        return -1;
    unsigned int n = 0;
    return X509_digest(ctx->client_cert, EVP_sha1(), ctx->client_x5t, &n) &&
                   X509_digest(ctx->client_cert, EVP_sha256(), ctx->client_x5t256, &n)
               ? 0
               : -1;
}

static int load_connector_key(emu_ctx *ctx, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    ctx->connector_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return ctx->connector_key && EVP_PKEY_get_base_id(ctx->connector_key) == EVP_PKEY_RSA &&
                   EVP_PKEY_get_bits(ctx->connector_key) >= 2048
               ? 0
               : -1;
}

static int parse_roles(emu_ctx *ctx, const char *text)
{
    for (size_t i = 0; i < ctx->nroles; i++)
        free(ctx->roles[i]);
    free(ctx->roles);
    ctx->roles = NULL;
    ctx->nroles = 0;
    if (strcasecmp(text, "none") == 0 || !*text)
        return 0;
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return -1;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char **r = realloc(ctx->roles, (ctx->nroles + 1) * sizeof(*r));
        if (!r) {
            free(copy);
            return -1;
        }
        ctx->roles = r;
        ctx->roles[ctx->nroles++] = strdup(t);
    }
    free(copy);
    return 0;
}

/* kid/x5t of the token signing key: base64url SHA-1 of the public key DER. */
static void token_kid(emu_ctx *ctx)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(ctx->token_key, &der);
    unsigned char md[20];
    if (n > 0) {
        SHA1(der, (size_t)n, md);
        char *k = ssync_base64url_encode(md, sizeof(md));
        if (k)
            snprintf(ctx->token_kid, sizeof(ctx->token_kid), "%s", k);
        free(k);
    }
    OPENSSL_free(der);
}

static void ctx_free(emu_ctx *ctx)
{
    free(ctx->tenant_id);
    free(ctx->client_id);
    ssync_buf_free_secret(&ctx->client_secret);
    X509_free(ctx->client_cert);
    EVP_PKEY_free(ctx->connector_key);
    EVP_PKEY_free(ctx->token_key);
    for (size_t i = 0; i < ctx->nroles; i++)
        free(ctx->roles[i]);
    free(ctx->roles);
    free(ctx->state_file);
    for (size_t i = 0; i < ctx->nusers; i++) {
        free(ctx->users[i].upn);
        free(ctx->users[i].mail);
        free(ctx->users[i].display_name);
        json_decref(ctx->users[i].json);
    }
    free(ctx->users);
    free(ctx->by_upn);
    free(ctx->by_mail);
    emu_groups_free(ctx);
    json_decref(ctx->tenant);
    json_decref(ctx->cert_states);
    emu_store_free(ctx->store);
    emu_window_free(&ctx->write_window);
    emu_window_free(&ctx->request_window);
    for (size_t i = 0; i < ctx->njtis; i++)
        free(ctx->jtis[i].jti);
    free(ctx->jtis);
    json_decref(ctx->stats.by_route);
    json_decref(ctx->stats.by_status);
    pthread_mutex_destroy(&ctx->lock);
}

static int serve(int argc, char **argv)
{
    enum {
        O_LISTEN = 256,
        O_CERT,
        O_KEY,
        O_TENANT,
        O_CLIENT,
        O_SECRET,
        O_CCERT,
        O_CONNECTOR,
        O_USERS,
        O_PAGE,
        O_WLIMIT,
        O_RLIMIT,
        O_FAULT,
        O_STATE,
        O_STRICT,
        O_RUNTIME,
        O_LIFETIME,
        O_ROLES,
        O_QUIET,
        O_GROUPS,
        O_TENANT_CONFIG,
        O_HELP,
        O_VERSION
    };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"tenant-id", required_argument, NULL, O_TENANT},
        {"client-id", required_argument, NULL, O_CLIENT},
        {"client-secret-file", required_argument, NULL, O_SECRET},
        {"client-cert", required_argument, NULL, O_CCERT},
        {"connector-key", required_argument, NULL, O_CONNECTOR},
        {"users", required_argument, NULL, O_USERS},
        {"groups", required_argument, NULL, O_GROUPS},
        {"tenant-config", required_argument, NULL, O_TENANT_CONFIG},
        {"page-size", required_argument, NULL, O_PAGE},
        {"write-limit", required_argument, NULL, O_WLIMIT},
        {"request-limit", required_argument, NULL, O_RLIMIT},
        {"fault", required_argument, NULL, O_FAULT},
        {"state", required_argument, NULL, O_STATE},
        {"strict", no_argument, NULL, O_STRICT},
        {"max-runtime", required_argument, NULL, O_RUNTIME},
        {"token-lifetime", required_argument, NULL, O_LIFETIME},
        {"roles", required_argument, NULL, O_ROLES},
        {"quiet", no_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, O_HELP},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0}};
    emu_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    pthread_mutex_init(&ctx.lock, NULL);
    ctx.page_size = EMU_DEFAULT_PAGE;
    ctx.token_lifetime = EMU_DEFAULT_TOKEN_LIFETIME;
    ctx.stats.by_route = json_object();
    ctx.stats.by_status = json_object();
    const char *listen = NULL, *tls_cert = NULL, *tls_key = NULL, *secret_file = NULL,
               *client_cert = NULL, *connector = NULL, *users = NULL, *groups = NULL,
               *tenant_config = NULL;
    int roles_given = 0;
    emu_limit wlimit = {100, 20}, rlimit = {1000, 20};
    double max_runtime = 3600;
    int rc = 2, c;
    ssync_error err;
    ssync_buf cert_pem = {0}, key_pem = {0};
    struct MHD_Daemon *d = NULL;
    parse_roles(&ctx, EMU_ROLE_RW "," EMU_ROLE_USERS);
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char msg[256];
        char *end;
        switch (c) {
        case O_LISTEN:
            listen = optarg;
            break;
        case O_CERT:
            tls_cert = optarg;
            break;
        case O_KEY:
            tls_key = optarg;
            break;
        case O_TENANT:
            free(ctx.tenant_id);
            ctx.tenant_id = strdup(optarg);
            break;
        case O_CLIENT:
            free(ctx.client_id);
            ctx.client_id = strdup(optarg);
            break;
        case O_SECRET:
            secret_file = optarg;
            break;
        case O_CCERT:
            client_cert = optarg;
            break;
        case O_CONNECTOR:
            connector = optarg;
            break;
        case O_USERS:
            users = optarg;
            break;
        case O_GROUPS:
            groups = optarg;
            break;
        case O_TENANT_CONFIG:
            tenant_config = optarg;
            break;
        case O_PAGE: {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > 999) {
                rc = die("--page-size: an integer from 1 to 999, not '%s'", optarg);
                goto out;
            }
            ctx.page_size = (unsigned)v;
            break;
        }
        case O_WLIMIT:
        case O_RLIMIT:
            if (emu_limit_parse(optarg, c == O_WLIMIT ? &wlimit : &rlimit) != 0) {
                rc = die("%s: expected N/SECONDS or off, not '%s'",
                         c == O_WLIMIT ? "--write-limit" : "--request-limit", optarg);
                goto out;
            }
            break;
        case O_FAULT:
            if (ctx.nfaults == EMU_MAX_FAULTS) {
                rc = die("too many --fault options");
                goto out;
            }
            if (emu_fault_parse(optarg, &ctx.faults[ctx.nfaults], msg, sizeof(msg)) != 0) {
                rc = die("--fault %s", msg);
                goto out;
            }
            ctx.nfaults++;
            break;
        case O_STATE:
            free(ctx.state_file);
            ctx.state_file = strdup(optarg);
            break;
        case O_STRICT:
            ctx.strict = 1;
            break;
        case O_RUNTIME:
            max_runtime = strtod(optarg, &end);
            if (*end || !(max_runtime > 0)) {
                rc = die("--max-runtime: positive seconds, not '%s'", optarg);
                goto out;
            }
            break;
        case O_LIFETIME:
            ctx.token_lifetime = strtol(optarg, &end, 10);
            if (*end || ctx.token_lifetime < 1 || ctx.token_lifetime > 86400) {
                rc = die("--token-lifetime: 1 to 86400 seconds, not '%s'", optarg);
                goto out;
            }
            break;
        case O_ROLES:
            roles_given = 1;
            parse_roles(&ctx, optarg);
            break;
        case O_QUIET:
            ctx.quiet = 1;
            break;
        case O_HELP:
            usage(stdout);
            rc = 0;
            goto out;
        case O_VERSION:
            printf("intune-emu %s\n", SSYNC_VERSION);
            rc = 0;
            goto out;
        default:
            usage(stderr);
            goto out;
        }
    }
    if (optind != argc || !listen || !tls_cert || !tls_key || !ctx.tenant_id || !ctx.client_id ||
        !connector || !users) {
        usage(stderr);
        goto out;
    }
    int lr = parse_listen(listen, ctx.host, sizeof(ctx.host), &ctx.port);
    if (lr == -2) {
        rc = die("--listen %s: only loopback addresses (127.0.0.0/8, ::1) are allowed", listen);
        goto out;
    }
    if (lr != 0) {
        rc = die("--listen %s: expected HOST:PORT", listen);
        goto out;
    }
    if (!secret_file && !client_cert)
        fprintf(stderr, "intune-emu: warning: neither --client-secret-file nor --client-cert: "
                        "every token request will fail\n");
    if (ssync_read_file(tls_cert, 1 << 20, &cert_pem, &err) != SSYNC_OK ||
        ssync_read_file(tls_key, 1 << 20, &key_pem, &err) != SSYNC_OK) {
        rc = die("%s", err.msg);
        goto out;
    }
    if (secret_file && ssync_read_secret_file(secret_file, &ctx.client_secret, &err) != SSYNC_OK) {
        rc = die("%s", err.msg);
        goto out;
    }
    if (client_cert && load_client_cert(&ctx, client_cert) != 0) {
        rc = die("--client-cert %s: not a PEM certificate", client_cert);
        goto out;
    }
    if (load_connector_key(&ctx, connector) != 0) {
        rc = die("--connector-key %s: not a PEM RSA private key of at least 2048 bits", connector);
        goto out;
    }
    if (emu_users_load(&ctx, users, &err) != 0) {
        rc = die("%s", err.msg);
        goto out;
    }
    if (groups && emu_groups_load(&ctx, groups, &err) != 0) {
        rc = die("%s", err.msg);
        goto out;
    }
    if (tenant_config && emu_tenant_load(&ctx, tenant_config, &err) != 0) {
        rc = die("%s", err.msg);
        goto out;
    }
    /* an app that reads groups has been granted GroupMember.Read.All, one that checks delivery
     * also reads managed devices and app configurations (unless --roles says) */
    if (tenant_config && !roles_given)
        parse_roles(&ctx, EMU_ROLE_RW "," EMU_ROLE_USERS "," EMU_ROLE_GROUPS "," EMU_ROLE_DEVICES
                                      "," EMU_ROLE_APPS);
    else if (groups && !roles_given)
        parse_roles(&ctx, EMU_ROLE_RW "," EMU_ROLE_USERS "," EMU_ROLE_GROUPS);
    ctx.store = emu_store_new();
    if (!ctx.store || emu_window_init(&ctx.write_window, wlimit) != 0 ||
        emu_window_init(&ctx.request_window, rlimit) != 0) {
        rc = die("out of memory");
        goto out;
    }
    if (ctx.state_file && emu_state_load(&ctx, ctx.state_file, &err) != 0) {
        rc = die("%s", err.msg);
        goto out;
    }
    if (!ctx.token_key && !(ctx.token_key = EVP_RSA_gen(2048))) {
        rc = die("cannot generate the token signing key");
        goto out;
    }
    token_kid(&ctx);

    /* SIGINT/SIGTERM are taken with sigtimedwait in this thread only */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    int fd = emu_http_bind(ctx.host, &ctx.port, &err);
    if (fd < 0) {
        rc = die("%s", err.msg);
        goto out;
    }
    /* the base URL (in scopes, audiences and nextLinks) is known before the first request */
    if (strchr(ctx.host, ':'))
        snprintf(ctx.base_url, sizeof(ctx.base_url), "https://[%s]:%u", ctx.host, ctx.port);
    else
        snprintf(ctx.base_url, sizeof(ctx.base_url), "https://%s:%u", ctx.host, ctx.port);
    d = emu_http_start(&ctx, fd, (const char *)cert_pem.data, (const char *)key_pem.data, &err);
    if (!d) {
        close(fd);
        rc = die("%s", err.msg);
        goto out;
    }
    printf("listening %s\n", ctx.base_url);
    fflush(stdout);
    if (!ctx.quiet)
        fprintf(stderr, "intune-emu: tenant %s, client %s, %zu users, %zu records%s\n",
                ctx.tenant_id, ctx.client_id, ctx.nusers, emu_store_count(ctx.store),
                ctx.strict ? ", strict" : "");

    double deadline = ssync_mono() + max_runtime;
    for (;;) {
        double left = deadline - ssync_mono();
        if (left <= 0) {
            fprintf(stderr, "intune-emu: --max-runtime reached, exiting\n");
            break;
        }
        struct timespec ts = {(time_t)(left > 1 ? 1 : left),
                              (long)((left > 1 ? 0 : left - (double)(time_t)left) * 1e9)};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            break;
    }
    emu_http_stop(d);
    d = NULL;
    rc = 0;
    if (ctx.state_file && emu_state_save(&ctx, ctx.state_file, &err) != 0) {
        fprintf(stderr, "intune-emu: cannot save state: %s\n", err.msg);
        rc = 1;
    }
out:
    emu_http_stop(d);
    ssync_buf_free(&cert_pem);
    ssync_buf_free_secret(&key_pem);
    ctx_free(&ctx);
    return rc;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    if (argc > 1 && strcmp(argv[1], "device-fetch") == 0)
        rc = emu_device_fetch_main(argc - 1, argv + 1);
    else
        rc = serve(argc, argv);
    curl_global_cleanup();
    return rc;
}
