#include "sync/config.h"

#include "common/fileio.h"

#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum {
    K_STR,      /* free text */
    K_ENV,      /* the name of an environment variable (that holds a secret) */
    K_PATH,     /* a file path; relative paths are relative to the config file's directory */
    K_PATHLIST, /* comma-separated paths */
    K_STRLIST,  /* comma-separated values */
    K_PATHS,    /* comma-separated paths into an ssync_kra_paths (the array is owned here) */
    K_PATH1,    /* one path into an ssync_kra_paths */
    K_BOOL,
    K_INT,   /* non-negative integer, or -1 where min allows */
    K_LIMIT, /* "N/SECONDS" or "off" */
    K_SOURCE,
    K_PADDING,
    K_PROFILE,
    K_PURPOSE,
    K_ASSERTION,
    K_LOGFORMAT,
    K_LOGLEVEL,
    K_URL,
} key_kind;

typedef struct {
    const char *section, *name;
    key_kind kind;
    size_t off;  /* of the field in ssync_config */
    size_t off2; /* K_LIMIT: the window field */
    long min, max;
} key_def;

#define F(field) offsetof(ssync_config, field)
static const key_def keys[] = {
    {"source", "type", K_SOURCE, F(source.type), 0, 0, 0},
    {"source", "path", K_PATH, F(source.path), 0, 0, 0},
    {"source", "ca", K_PATHLIST, F(source.ca), 0, 0, 0},
    {"source", "crl", K_PATHLIST, F(source.crl), 0, 0, 0},
    {"source", "templates", K_STRLIST, F(source.templates), 0, 0, 0},
    {"source", "eku", K_STRLIST, F(source.eku), 0, 0, 0},
    {"source", "users_allow", K_PATH, F(source.users_allow), 0, 0, 0},
    {"source", "users_deny", K_PATH, F(source.users_deny), 0, 0, 0},
    {"source", "group", K_STR, F(source.group), 0, 0, 0},
    {"source", "user_map", K_PATH, F(source.user_map), 0, 0, 0},
    {"source", "manifest", K_PATH, F(source.manifest), 0, 0, 0},
    {"source", "requester", K_STR, F(source.requester), 0, 0, 0},
    {"source", "incremental", K_BOOL, F(source.incremental), 0, 0, 0},
    {"kra", "key", K_PATHS, F(kra.key), 0, 0, 0},
    {"kra", "cert", K_PATHS, F(kra.cert), 0, 0, 0},
    {"kra", "password_file", K_PATH1, F(kra.password_file), 0, 0, 0},
    {"kra", "password_env", K_ENV, F(kra.password_env), 0, 0, 0},
    {"connector", "public_key", K_PATH, F(connector.public_key), 0, 0, 0},
    {"connector", "provider_name", K_STR, F(connector.provider_name), 0, 0, 0},
    {"connector", "key_name", K_STR, F(connector.key_name), 0, 0, 0},
    {"connector", "padding", K_PADDING, F(connector.padding), 0, 0, 0},
    {"pfx", "profile", K_PROFILE, F(pfx.profile), 0, 0, 0},
    {"pfx", "include_chain", K_BOOL, F(pfx.include_chain), 0, 0, 0},
    {"intune", "tenant_id", K_STR, F(intune.tenant_id), 0, 0, 0},
    {"intune", "client_id", K_STR, F(intune.client_id), 0, 0, 0},
    {"intune", "client_secret_file", K_PATH, F(intune.client_secret_file), 0, 0, 0},
    {"intune", "client_secret_env", K_ENV, F(intune.client_secret_env), 0, 0, 0},
    {"intune", "client_certificate", K_PATH, F(intune.client_certificate), 0, 0, 0},
    {"intune", "client_key", K_PATH, F(intune.client_key), 0, 0, 0},
    {"intune", "assertion", K_ASSERTION, F(intune.assertion_ps256), 0, 0, 0},
    {"intune", "authority", K_URL, F(intune.authority), 0, 0, 0},
    {"intune", "graph", K_URL, F(intune.graph), 0, 0, 0},
    {"intune", "ca_bundle", K_PATH, F(intune.ca_bundle), 0, 0, 0},
    {"intune", "write_limit", K_LIMIT, F(intune.write_limit), F(intune.write_window), 0, 0},
    {"intune", "request_limit", K_LIMIT, F(intune.request_limit), F(intune.request_window), 0, 0},
    {"intune", "max_in_flight", K_INT, F(intune.max_in_flight), 0, 1, 64},
    {"intune", "timeout", K_INT, F(intune.timeout), 0, 1, 3600},
    {"intune", "platforms", K_STRLIST, F(intune.platforms), 0, 0, 0},
    {"intune", "connector_min_version", K_STR, F(intune.connector_min_version), 0, 0, 0},
    {"intune", "connector_checkin_hours", K_INT, F(intune.connector_checkin_hours), 0, 1, 8760},
    {"intune", "expiry_warning_days", K_INT, F(intune.expiry_warning_days), 0, 0, 3650},
    {"policy", "remove_revoked", K_BOOL, F(policy.remove_revoked), 0, 0, 0},
    {"policy", "include_expired", K_BOOL, F(policy.include_expired), 0, 0, 0},
    {"policy", "keep_newest", K_INT, F(policy.keep_newest), 0, 0, 1000},
    {"policy", "drop_expired_after_days", K_INT, F(policy.drop_expired_after), 0, -1, 100000},
    {"policy", "both_purpose", K_PURPOSE, F(policy.both_purpose), 0, 0, 0},
    {"state", "path", K_PATH, F(state.path), 0, 0, 0},
    {"state", "user_cache_hours", K_INT, F(state.user_cache_hours), 0, 0, 8760},
    {"state", "user_negative_cache_minutes", K_INT, F(state.user_negative_cache_minutes), 0, 0,
     10080},
    {"state", "lock_wait", K_INT, F(state.lock_wait), 0, -1, 86400},
    {"log", "format", K_LOGFORMAT, F(log.json), 0, 0, 0},
    {"log", "level", K_LOGLEVEL, F(log.level), 0, 0, 0},
};
#undef F

typedef struct {
    ssync_config *cfg;
    const char *name; /* for messages */
    char *dir;        /* directory of the config file, for relative paths */
    char problem[300];
    int seen[sizeof keys / sizeof keys[0]];
} parse_ctx;

void ssync_config_defaults(ssync_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->source.type = SSYNC_SOURCE_BLOBS;
    cfg->connector.padding = SSYNC_PAD_DEFAULT;
    cfg->pfx.profile = SSYNC_PFX_COMPAT;
    cfg->intune.write_limit = 100;
    cfg->intune.write_window = 20;
    cfg->intune.request_limit = 1000;
    cfg->intune.request_window = 20;
    cfg->intune.max_in_flight = 8;
    cfg->intune.timeout = 60;
    cfg->intune.connector_checkin_hours = 24;
    cfg->intune.expiry_warning_days = 30;
    cfg->policy.remove_revoked = 1;
    cfg->policy.include_expired = 1;
    cfg->policy.keep_newest = 0;
    cfg->policy.drop_expired_after = -1;
    cfg->policy.both_purpose = SSYNC_PURPOSE_SMIME_ENCRYPTION;
    cfg->log.level = 2;
    cfg->state.user_cache_hours = 24;
    cfg->state.user_negative_cache_minutes = 60;
    cfg->state.lock_wait = -1;
}

/* [A-Za-z_][A-Za-z0-9_]*, 1 to 64 characters */
static int env_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!(s[n] == '_' || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
              (n > 0 && s[n] >= '0' && s[n] <= '9')))
            return 0;
    return n > 0 && n <= 64;
}

const char *ssync_env_name_shown(const char *name)
{
    if (!name || !env_name_ok(name))
        return "(name not shown)";
    for (const char *p = name; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            return "(name not shown: not in capitals, it might be the secret itself)";
    return name;
}

static char *trimmed_dup(const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char *out = malloc(len + 1);
    if (out) {
        memcpy(out, s, len);
        out[len] = '\0';
    }
    return out;
}

static char *resolve_path(const parse_ctx *ctx, const char *value)
{
    if (value[0] == '/' || !ctx->dir || strncmp(value, "pkcs11:", 7) == 0) /* token URI */
        return strdup(value);
    size_t len = strlen(ctx->dir) + strlen(value) + 2;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/%s", ctx->dir, value);
    return out;
}

static int parse_long(const char *v, long min, long max, long *out)
{
    char *end;
    if (!*v)
        return 0;
    long n = strtol(v, &end, 10);
    if (*end || n < min || n > max)
        return 0;
    *out = n;
    return 1;
}

static int set_list(parse_ctx *ctx, ssync_cfg_list *list, const char *value, int paths)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->v[i]);
    list->n = 0;
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char *item = trimmed_dup(p, len);
        if (!item)
            return snprintf(ctx->problem, sizeof ctx->problem, "out of memory"), 0;
        if (!*item) {
            free(item);
            snprintf(ctx->problem, sizeof ctx->problem, "empty item in a comma-separated list");
            return 0;
        }
        if (list->n == SSYNC_CFG_MAX_LIST) {
            free(item);
            snprintf(ctx->problem, sizeof ctx->problem, "more than %d items", SSYNC_CFG_MAX_LIST);
            return 0;
        }
        if (paths) {
            char *resolved = resolve_path(ctx, item);
            free(item);
            if (!resolved)
                return snprintf(ctx->problem, sizeof ctx->problem, "out of memory"), 0;
            item = resolved;
        }
        list->v[list->n++] = item;
        p = comma ? comma + 1 : p + len;
    }
    if (list->n == 0)
        return snprintf(ctx->problem, sizeof ctx->problem, "empty list"), 0;
    return 1;
}

static void free_paths(ssync_kra_paths *paths)
{
    for (size_t i = 0; i < paths->n; i++)
        free((void *)paths->v[i]);
    free((void *)paths->v);
    paths->v = NULL;
    paths->n = 0;
}

/* A list (or one path) of the [kra] section: parsed as the other path lists, then kept as the
 * borrowed view ssync_kra_cfg takes. */
static int set_paths(parse_ctx *ctx, ssync_kra_paths *paths, const char *value, int one)
{
    ssync_cfg_list list = {0};
    if (one) {
        if (!*value)
            return snprintf(ctx->problem, sizeof ctx->problem, "empty value"), 0;
        if (!(list.v[0] = resolve_path(ctx, value)))
            return snprintf(ctx->problem, sizeof ctx->problem, "out of memory"), 0;
        list.n = 1;
    } else if (!set_list(ctx, &list, value, 1)) {
        for (size_t i = 0; i < list.n; i++)
            free(list.v[i]);
        return 0;
    }
    const char **v = malloc(list.n * sizeof *v);
    if (!v) {
        for (size_t i = 0; i < list.n; i++)
            free(list.v[i]);
        return snprintf(ctx->problem, sizeof ctx->problem, "out of memory"), 0;
    }
    for (size_t i = 0; i < list.n; i++)
        v[i] = list.v[i];
    free_paths(paths);
    paths->v = v;
    paths->n = list.n;
    return 1;
}

static int set_value(parse_ctx *ctx, const key_def *k, const char *value)
{
    char *base = (char *)ctx->cfg;
    void *field = base + k->off;
    ssync_error e = {0};
    long n;
    switch (k->kind) {
    case K_ENV:
        /* the value is never repeated: it may be the secret itself, given by mistake */
        if (!env_name_ok(value))
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "not the name of an environment variable (letters, digits and _, "
                            "at most 64): name the variable that holds the secret, not the "
                            "secret (the value is not shown)"),
                   0;
        /* fall through */
    case K_STR:
    case K_URL:
    case K_PATH: {
        if (!*value)
            return snprintf(ctx->problem, sizeof ctx->problem, "empty value"), 0;
        if (k->kind == K_URL && strncmp(value, "https://", 8) != 0)
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "must be an https:// URL (TLS is always required)"),
                   0;
        char *copy = k->kind == K_PATH ? resolve_path(ctx, value) : strdup(value);
        if (!copy)
            return snprintf(ctx->problem, sizeof ctx->problem, "out of memory"), 0;
        if (k->kind == K_URL) {
            size_t len = strlen(copy);
            while (len > 8 && copy[len - 1] == '/')
                copy[--len] = '\0';
        }
        free(*(char **)field);
        *(char **)field = copy;
        return 1;
    }
    case K_PATHLIST:
    case K_STRLIST:
        return set_list(ctx, field, value, k->kind == K_PATHLIST);
    case K_PATHS:
    case K_PATH1:
        return set_paths(ctx, field, value, k->kind == K_PATH1);
    case K_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1") ||
            !strcasecmp(value, "on"))
            *(int *)field = 1;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0") ||
                 !strcasecmp(value, "off"))
            *(int *)field = 0;
        else
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", value),
                   0;
        return 1;
    case K_INT:
        if (!parse_long(value, k->min, k->max, &n))
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not a whole number from %ld to %ld", value, k->min, k->max),
                   0;
        *(int *)field = (int)n;
        return 1;
    case K_LIMIT: {
        double *window = (double *)(base + k->off2);
        if (!strcasecmp(value, "off") || !strcmp(value, "0")) {
            *(int *)field = 0;
            *window = 0;
            return 1;
        }
        char *end;
        long count = strtol(value, &end, 10);
        double secs = 0;
        if (end != value && *end == '/') {
            char *end2;
            secs = strtod(end + 1, &end2);
            if (*end2 || end2 == end + 1)
                secs = 0;
        }
        if (end == value || *end != '/' || count < 1 || count > 1000000 || !(secs > 0) ||
            secs > 86400)
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not a rate like 100/20 (requests per seconds) or off", value),
                   0;
        *(int *)field = (int)count;
        *window = secs;
        return 1;
    }
    case K_SOURCE:
        if (!strcmp(value, "blobs"))
            *(ssync_source_type *)field = SSYNC_SOURCE_BLOBS;
        else if (!strcmp(value, "edb"))
            *(ssync_source_type *)field = SSYNC_SOURCE_EDB;
        else if (!strcmp(value, "pfx"))
            *(ssync_source_type *)field = SSYNC_SOURCE_PFX;
        else
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not a source type (blobs, edb, pfx)", value),
                   0;
        return 1;
    case K_PADDING:
        if (ssync_padding_parse(value, field, &e) != SSYNC_OK)
            return snprintf(ctx->problem, sizeof ctx->problem, "%.280s", e.msg), 0;
        return 1;
    case K_PROFILE:
        if (ssync_pfx_profile_parse(value, field, &e) != SSYNC_OK)
            return snprintf(ctx->problem, sizeof ctx->problem, "%.280s", e.msg), 0;
        return 1;
    case K_PURPOSE:
        if (ssync_purpose_parse(value, field, &e) != SSYNC_OK)
            return snprintf(ctx->problem, sizeof ctx->problem, "%.280s", e.msg), 0;
        return 1;
    case K_ASSERTION:
        if (!strcasecmp(value, "rs256"))
            *(int *)field = 0;
        else if (!strcasecmp(value, "ps256"))
            *(int *)field = 1;
        else
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not an assertion algorithm (rs256, ps256)", value),
                   0;
        return 1;
    case K_LOGFORMAT:
        if (!strcmp(value, "text"))
            *(int *)field = 0;
        else if (!strcmp(value, "json"))
            *(int *)field = 1;
        else
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not a log format (text, json)", value),
                   0;
        return 1;
    case K_LOGLEVEL: {
        static const char *const levels[] = {"error", "warn", "info", "debug"};
        for (int i = 0; i < 4; i++)
            if (!strcmp(value, levels[i]))
                return *(int *)field = i, 1;
        return snprintf(ctx->problem, sizeof ctx->problem,
                        "'%s' is not a log level (error, warn, info, debug)", value),
               0;
    }
    }
    return 0;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *ctx = user;
    if (ctx->problem[0])
        return 1; /* keep the first problem; inih reports the first failing line */
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(keys[i].section, section) || strcmp(keys[i].name, name))
            continue;
        if (ctx->seen[i]) {
            snprintf(ctx->problem, sizeof ctx->problem, "key '%s' in [%s]: given twice", name,
                     section);
            return 0;
        }
        ctx->seen[i] = 1;
        char local[300];
        if (!set_value(ctx, &keys[i], value)) {
            snprintf(local, sizeof local, "%s", ctx->problem);
            snprintf(ctx->problem, sizeof ctx->problem, "key '%s' in [%s]: %.200s", name, section,
                     local);
            return 0;
        }
        return 1;
    }
    int known_section = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        known_section |= !strcmp(keys[i].section, section);
    if (!known_section)
        snprintf(ctx->problem, sizeof ctx->problem, "unknown section [%s] (key '%s')", section,
                 name);
    else
        snprintf(ctx->problem, sizeof ctx->problem, "unknown key '%s' in [%s]", name, section);
    return 0;
}

static ssync_code finish(parse_ctx *ctx, int rc, ssync_error *err)
{
    free(ctx->dir);
    if (rc == -1)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: cannot read the configuration file",
                          ctx->name);
    if (rc == -2)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "%s", ctx->name);
    if (rc > 0)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%d: %s", ctx->name, rc,
                          ctx->problem[0] ? ctx->problem : "not a key = value line");
    if (ctx->cfg->kra.cert.n > ctx->cfg->kra.key.n)
        return ssync_fail(err, SSYNC_ERR_CONFIG, "%s: [kra] lists more certs than keys", ctx->name);
    const ssync_cfg_list *pl = &ctx->cfg->intune.platforms;
    for (size_t i = 0; i < pl->n; i++)
        if (strcmp(pl->v[i], "ios") && strcmp(pl->v[i], "macos") && strcmp(pl->v[i], "windows") &&
            strcmp(pl->v[i], "android"))
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s: [intune] platforms: '%.40s' is not ios, macos, windows or "
                              "android",
                              ctx->name, pl->v[i]);
    return SSYNC_OK;
}

/* inih reads a line into a buffer of INI_MAX_LINE bytes and parses what does not fit as one
 * more line: the tail of a long comment became a live setting, a long pkcs11: URI was cut. Every
 * line (comments too) must fit, and a NUL byte (which would end a value early) is refused. */
#define MAX_LINE (INI_MAX_LINE - 2) /* bytes before the '\n' */
#define MAX_CONFIG_FILE (1024u * 1024u)

static ssync_code check_lines(const char *name, const char *text, size_t len, ssync_error *err)
{
    size_t line = 1, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] == '\0')
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: a NUL byte in the line: refused (a value would end early)",
                              name, line);
        if (i < len && text[i] != '\n')
            continue;
        if (i - start > MAX_LINE)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: the line is longer than %d bytes: refused (shorten it; a "
                              "longer line would be split)",
                              name, line, MAX_LINE);
        line++;
        start = i + 1;
    }
    return SSYNC_OK;
}

ssync_code ssync_config_parse_string(const char *text, const char *name, ssync_config *cfg,
                                     ssync_error *err)
{
    if (!text || !cfg)
        return ssync_fail(err, SSYNC_ERR_ARG, "no configuration");
    ssync_config_defaults(cfg);
    parse_ctx ctx = {.cfg = cfg, .name = name ? name : "config"};
    if (check_lines(ctx.name, text, strlen(text), err) != SSYNC_OK)
        return SSYNC_ERR_CONFIG;
    return finish(&ctx, ini_parse_string(text, on_entry, &ctx), err);
}

ssync_code ssync_config_load(const char *path, ssync_config *cfg, ssync_error *err)
{
    if (!path || !cfg)
        return ssync_fail(err, SSYNC_ERR_ARG, "no configuration file");
    ssync_config_defaults(cfg);
    /* the configuration names the keys, the trust anchors and the journal: nobody else may
     * change it (a missing file is said by the parser) */
    ssync_code trc = ssync_check_trusted_path(path, "configuration", err);
    if (trc == SSYNC_ERR_FILE_PERMS)
        return trc;
    cfg->path = strdup(path);
    ssync_buf text = {0};
    ssync_error re = {0};
    if (ssync_read_file(path, MAX_CONFIG_FILE, &text, &re) != SSYNC_OK) {
        size_t plen = strlen(path); /* the reason without the path ssync_read_file put first */
        const char *why = strncmp(re.msg, path, plen) == 0 && re.msg[plen] == ':'
                              ? re.msg + plen + 1 + (re.msg[plen + 1] == ' ')
                              : re.msg;
        return ssync_fail(err, re.code == SSYNC_ERR_NOMEM ? SSYNC_ERR_NOMEM : SSYNC_ERR_FILE_OPEN,
                          "%s: cannot read the configuration file (%s)", path, why);
    }
    ssync_code rc = check_lines(path, (const char *)text.data, text.len, err);
    if (rc != SSYNC_OK) {
        ssync_buf_free(&text);
        return rc;
    }
    parse_ctx ctx = {.cfg = cfg, .name = path};
    const char *slash = strrchr(path, '/');
    ctx.dir = slash ? trimmed_dup(path, (size_t)(slash - path)) : strdup(".");
    if (ctx.dir && !ctx.dir[0]) {
        free(ctx.dir);
        ctx.dir = strdup("/");
    }
    rc = finish(&ctx, ini_parse_string((const char *)text.data, on_entry, &ctx), err);
    ssync_buf_free(&text);
    return rc;
}

void ssync_config_free(ssync_config *cfg)
{
    if (!cfg)
        return;
    char *base = (char *)cfg;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        void *field = base + keys[i].off;
        if (keys[i].kind == K_STR || keys[i].kind == K_ENV || keys[i].kind == K_PATH ||
            keys[i].kind == K_URL) {
            free(*(char **)field);
        } else if (keys[i].kind == K_PATHLIST || keys[i].kind == K_STRLIST) {
            ssync_cfg_list *l = field;
            for (size_t j = 0; j < l->n; j++)
                free(l->v[j]);
        } else if (keys[i].kind == K_PATHS || keys[i].kind == K_PATH1) {
            free_paths(field);
        }
    }
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}
