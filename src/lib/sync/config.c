#include "sync/config.h"

#include "common/fileio.h"
#include "sync/config_keys.h"
#include "sync/config_text.h"

#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N_KEYS SSYNC_CONFIG_N_KEYS

typedef struct {
    ssync_config *cfg;
    const char *name; /* for messages */
    char *dir;        /* directory of the config file, for relative paths */
    char problem[300];
    int seen[N_KEYS];
    int seen_named[SSYNC_CFG_MAX_SOURCES][N_KEYS]; /* per [source "NAME"] */
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
    /* a bad CRL or a wrong filter must not empty the tenant; the first sync into an empty one
     * uploads everything (and an upload is undone by a removal): uploads are not capped */
    cfg->policy.max_removals = (ssync_cap){.value = 10, .percent = 1, .floor = 10};
    cfg->policy.max_uploads = (ssync_cap){.value = -1};
    cfg->log.level = 2;
    cfg->log.journal = -1; /* the journal when systemd connected stderr to it */
    cfg->state.user_cache_hours = 24;
    cfg->state.user_negative_cache_minutes = 60;
    cfg->state.lock_wait = -1;
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

/* "credential:NAME": the file systemd's LoadCredential= (or LoadCredentialEncrypted=) put in
 * $CREDENTIALS_DIRECTORY for this service (systemd.exec(5), "Credentials"). NAME is one path
 * component, so a credential never reaches outside that directory. NULL with ctx->problem set. */
static char *credential_path(parse_ctx *ctx, const char *name)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
        strlen(name) > 255) {
        snprintf(ctx->problem, sizeof ctx->problem,
                 "credential:NAME needs a credential name (one path component, no '/')");
        return NULL;
    }
    if (!dir || dir[0] != '/') {
        snprintf(ctx->problem, sizeof ctx->problem,
                 "credential:%.64s: $CREDENTIALS_DIRECTORY is not set (run under systemd with "
                 "LoadCredential=%.64s:FILE)",
                 name, name);
        return NULL;
    }
    size_t len = strlen(dir) + strlen(name) + 2;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/%s", dir, name);
    return out;
}

static char *resolve_path(parse_ctx *ctx, const char *value)
{
    if (strncmp(value, SSYNC_CREDENTIAL_PREFIX, strlen(SSYNC_CREDENTIAL_PREFIX)) == 0)
        return credential_path(ctx, value + strlen(SSYNC_CREDENTIAL_PREFIX));
    if (value[0] == '/' || !ctx->dir || strncmp(value, "pkcs11:", 7) == 0) /* token URI */
        return strdup(value);
    size_t len = strlen(ctx->dir) + strlen(value) + 2;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s/%s", ctx->dir, value);
    return out;
}

/* 0, after a failed resolve_path: its own problem, else memory */
static int path_problem(parse_ctx *ctx)
{
    if (!ctx->problem[0])
        snprintf(ctx->problem, sizeof ctx->problem, "out of memory");
    return 0;
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
                return path_problem(ctx);
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
            return path_problem(ctx);
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

/* field: where the key's value goes (a [source "NAME"] key goes to that section's struct) */
static int set_value(parse_ctx *ctx, const key_def *k, void *field, const char *value)
{
    char *base = (char *)ctx->cfg;
    ssync_error e = {0};
    long n;
    switch (k->kind) {
    case K_ENV:
        /* the value is never repeated: it may be the secret itself, given by mistake */
        if (!ssync_config_env_name_ok(value))
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
            return path_problem(ctx);
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
        if (!strcmp(value, "text") || !strcmp(value, "json") || !strcmp(value, "journal")) {
            *(int *)field = !strcmp(value, "json");
            ctx->cfg->log.journal = !strcmp(value, "journal");
        } else
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not a log format (text, json, journal)", value),
                   0;
        return 1;
    case K_CAP: {
        ssync_cap *cap = field;
        size_t len = strlen(value);
        int pct = len > 1 && value[len - 1] == '%';
        char num[24] = "";
        if (!strcasecmp(value, "off"))
            return *cap = (ssync_cap){.value = -1}, 1;
        if (len - pct < sizeof num)
            memcpy(num, value, len - pct);
        if (!parse_long(num, k->min, pct ? 100 : k->max, &n))
            return snprintf(ctx->problem, sizeof ctx->problem,
                            "'%s' is not a number of writes (0-%ld), a percentage (0%%-100%%) "
                            "or off",
                            value, k->max),
                   0;
        *cap = (ssync_cap){.value = (int)n, .percent = pct};
        return 1;
    }
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

/* The [source "NAME"] section's struct (added at its first key; the headers were checked by
 * check_sections), or NULL. */
static ssync_source_cfg *named_source(parse_ctx *ctx, const char *name, size_t *index)
{
    ssync_config *cfg = ctx->cfg;
    for (size_t i = 0; i < cfg->n_named; i++)
        if (strcmp(cfg->named[i].name, name) == 0)
            return *index = i, &cfg->named[i];
    if (cfg->n_named == SSYNC_CFG_MAX_SOURCES)
        return NULL;
    if (!cfg->named && !(cfg->named = calloc(SSYNC_CFG_MAX_SOURCES, sizeof *cfg->named)))
        return NULL;
    ssync_source_cfg *s = &cfg->named[cfg->n_named];
    if (!(s->name = strdup(name)))
        return NULL;
    s->type = SSYNC_SOURCE_BLOBS;
    *index = cfg->n_named++;
    return s;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *ctx = user;
    if (ctx->problem[0])
        return 1; /* keep the first problem; inih reports the first failing line */
    char source_name[80];
    section_kind kind = ssync_config_section_kind(section, source_name, sizeof source_name);
    char *base = (char *)ctx->cfg;
    int *seen = ctx->seen;
    const char *keys_section = section;
    if (kind == SEC_SOURCE)
        ctx->cfg->source_given = 1;
    if (kind == SEC_NAMED) {
        size_t j = 0;
        ssync_source_cfg *s = named_source(ctx, source_name, &j);
        if (!s)
            return snprintf(ctx->problem, sizeof ctx->problem, "[%s]: out of memory", section), 0;
        /* the section's keys are those of [source], at the same place in its own struct */
        base = (char *)s - offsetof(ssync_config, source);
        seen = ctx->seen_named[j];
        keys_section = "source";
    }
    for (size_t i = 0; i < N_KEYS; i++) {
        if (strcmp(ssync_config_keys[i].section, keys_section) ||
            strcmp(ssync_config_keys[i].name, name))
            continue;
        if (seen[i]) {
            snprintf(ctx->problem, sizeof ctx->problem, "key '%s' in [%s]: given twice", name,
                     section);
            return 0;
        }
        seen[i] = 1;
        char local[300];
        if (!set_value(ctx, &ssync_config_keys[i], base + ssync_config_keys[i].off, value)) {
            snprintf(local, sizeof local, "%s", ctx->problem);
            snprintf(ctx->problem, sizeof ctx->problem, "key '%s' in [%s]: %.200s", name, section,
                     local);
            return 0;
        }
        return 1;
    }
    int known_section = 0;
    for (size_t i = 0; i < N_KEYS; i++)
        known_section |= !strcmp(ssync_config_keys[i].section, keys_section);
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
    if (!ctx->cfg->source.name && !(ctx->cfg->source.name = strdup(SSYNC_SOURCE_DEFAULT_NAME)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
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
    for (size_t i = 0; i < ssync_config_source_count(ctx->cfg); i++) {
        const ssync_source_cfg *s = ssync_config_source_at(ctx->cfg, i);
        if (s->kra.cert.n > s->kra.key.n)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s: source \"%s\": kra_cert lists more certs than kra_key keys",
                              ctx->name, s->name);
    }
    return SSYNC_OK;
}

#define MAX_CONFIG_FILE (1024u * 1024u)

ssync_code ssync_config_parse_string(const char *text, const char *name, ssync_config *cfg,
                                     ssync_error *err)
{
    if (!text || !cfg)
        return ssync_fail(err, SSYNC_ERR_ARG, "no configuration");
    ssync_config_defaults(cfg);
    parse_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    ctx->cfg = cfg;
    ctx->name = name ? name : "config";
    ssync_code rc = ssync_config_check_lines(ctx->name, text, strlen(text), err);
    if (rc == SSYNC_OK)
        rc = ssync_config_check_sections(ctx->name, text, strlen(text), err);
    if (rc == SSYNC_OK)
        rc = finish(ctx, ini_parse_string(text, on_entry, ctx), err);
    free(ctx);
    return rc;
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
    ssync_code rc = ssync_config_check_lines(path, (const char *)text.data, text.len, err);
    if (rc == SSYNC_OK)
        rc = ssync_config_check_sections(path, (const char *)text.data, text.len, err);
    parse_ctx *ctx = rc == SSYNC_OK ? calloc(1, sizeof *ctx) : NULL;
    if (rc == SSYNC_OK && !ctx)
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    if (rc != SSYNC_OK) {
        ssync_buf_free(&text);
        return rc;
    }
    ctx->cfg = cfg;
    ctx->name = path;
    const char *slash = strrchr(path, '/');
    ctx->dir = slash ? trimmed_dup(path, (size_t)(slash - path)) : strdup(".");
    if (ctx->dir && !ctx->dir[0]) {
        free(ctx->dir);
        ctx->dir = strdup("/");
    }
    rc = finish(ctx, ini_parse_string((const char *)text.data, on_entry, ctx), err);
    free(ctx);
    ssync_buf_free(&text);
    return rc;
}

/* The values of the keys of one section (base: where its keys' offsets start). */
static void free_fields(char *base, const char *section)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        if (section && strcmp(ssync_config_keys[i].section, section) != 0)
            continue;
        void *field = base + ssync_config_keys[i].off;
        if (ssync_config_keys[i].kind == K_STR || ssync_config_keys[i].kind == K_ENV ||
            ssync_config_keys[i].kind == K_PATH || ssync_config_keys[i].kind == K_URL) {
            free(*(char **)field);
        } else if (ssync_config_keys[i].kind == K_PATHLIST ||
                   ssync_config_keys[i].kind == K_STRLIST) {
            ssync_cfg_list *l = field;
            for (size_t j = 0; j < l->n; j++)
                free(l->v[j]);
        } else if (ssync_config_keys[i].kind == K_PATHS || ssync_config_keys[i].kind == K_PATH1) {
            free_paths(field);
        }
    }
}

void ssync_config_free(ssync_config *cfg)
{
    if (!cfg)
        return;
    free_fields((char *)cfg, NULL);
    for (size_t i = 0; cfg->named && i < cfg->n_named; i++) {
        free_fields((char *)&cfg->named[i] - offsetof(ssync_config, source), "source");
        free(cfg->named[i].name);
    }
    free(cfg->named);
    free(cfg->source.name);
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}
