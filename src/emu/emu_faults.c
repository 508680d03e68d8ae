/* Fault injection: --fault [METHOD:]PATHMATCH:N[:EVERY]=KIND (syntax in docs/emulator.md).
 * Every request whose method and path match is counted; the Nth (and with EVERY, every EVERY-th
 * after it) gets KIND. */
#include "emu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    emu_fault_kind kind;
    int arg; /* 1: takes ":ARG" */
} KINDS[] = {
    {"429", EMU_FAULT_429, 0},
    {"429-retry", EMU_FAULT_429_RETRY, 1},
    {"500", EMU_FAULT_500, 0},
    {"503", EMU_FAULT_503, 0},
    {"503-retry", EMU_FAULT_503_RETRY, 1},
    {"504", EMU_FAULT_504, 0},
    {"drop", EMU_FAULT_DROP, 0},
    {"delay", EMU_FAULT_DELAY, 1},
    {"commit-500", EMU_FAULT_COMMIT_500, 0},
    {"commit-drop", EMU_FAULT_COMMIT_DROP, 0},
    {"expire", EMU_FAULT_EXPIRE, 0},
    {"noop", EMU_FAULT_NOOP, 0},
};

const char *emu_fault_kind_name(emu_fault_kind k)
{
    for (size_t i = 0; i < sizeof(KINDS) / sizeof(KINDS[0]); i++)
        if (KINDS[i].kind == k)
            return KINDS[i].name;
    return "?";
}

static int parse_count(const char *s, unsigned long *out, int allow_zero)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || (!allow_zero && v == 0))
        return -1;
    *out = v;
    return 0;
}

int emu_fault_parse(const char *spec, emu_fault *out, char *msg, size_t msglen)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->spec, sizeof(out->spec), "%s", spec);
    const char *eq = strchr(spec, '=');
    if (!eq) {
        snprintf(msg, msglen, "'%s': expected [METHOD:]PATHMATCH:N[:EVERY]=KIND", spec);
        return -1;
    }
    char left[256];
    snprintf(left, sizeof(left), "%.*s", (int)(eq - spec), spec);
    char *f[5];
    int nf = 0;
    char *save = NULL;
    for (char *t = strtok_r(left, ":", &save); t && nf < 5; t = strtok_r(NULL, ":", &save))
        f[nf++] = t;
    const char *method = "*", *match, *n, *every = NULL;
    if (nf == 2) {
        match = f[0];
        n = f[1];
    } else if (nf == 3) {
        method = f[0];
        match = f[1];
        n = f[2];
    } else if (nf == 4) {
        method = f[0];
        match = f[1];
        n = f[2];
        every = f[3];
    } else {
        snprintf(msg, msglen, "'%s': expected [METHOD:]PATHMATCH:N[:EVERY]=KIND", spec);
        return -1;
    }
    if (strcasecmp(method, "any") == 0)
        method = "*";
    static const char *const methods[] = {"*", "GET", "POST", "PATCH", "PUT", "DELETE", NULL};
    int mok = 0;
    for (size_t i = 0; methods[i]; i++)
        mok |= strcasecmp(method, methods[i]) == 0;
    if (!mok) {
        snprintf(msg, msglen, "'%s': unknown method '%s'", spec, method);
        return -1;
    }
    snprintf(out->method, sizeof(out->method), "%s", method);
    for (char *p = out->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    snprintf(out->match, sizeof(out->match), "%s", strcmp(match, "*") == 0 ? "" : match);
    if (parse_count(n, &out->nth, 0) != 0 || (every && parse_count(every, &out->every, 1) != 0)) {
        snprintf(msg, msglen, "'%s': N must be a positive integer and EVERY a non-negative one",
                 spec);
        return -1;
    }
    const char *kind = eq + 1;
    for (size_t i = 0; i < sizeof(KINDS) / sizeof(KINDS[0]); i++) {
        size_t kl = strlen(KINDS[i].name);
        if (strncasecmp(kind, KINDS[i].name, kl) != 0)
            continue;
        const char *rest = kind + kl;
        if (!KINDS[i].arg && *rest == '\0') {
            out->kind = KINDS[i].kind;
            return 0;
        }
        if (KINDS[i].arg && *rest == ':' && rest[1]) {
            char *end;
            double v = strtod(rest + 1, &end);
            if (*end || !(v >= 0) || v > 3600000 ||
                (KINDS[i].kind == EMU_FAULT_DELAY && strchr(rest + 1, '.')))
                break;
            out->kind = KINDS[i].kind;
            snprintf(out->arg, sizeof(out->arg), "%s", rest + 1);
            return 0;
        }
    }
    snprintf(msg, msglen,
             "'%s': KIND must be 429, 429-retry:S, 500, 503, 503-retry:S, 504, drop, delay:MS, "
             "commit-500, commit-drop, expire or noop",
             spec);
    return -1;
}

int emu_faults_match(emu_ctx *ctx, const char *method, const char *path, emu_fault *out)
{
    int fired = 0;
    pthread_mutex_lock(&ctx->lock);
    for (size_t i = 0; i < ctx->nfaults; i++) {
        emu_fault *f = &ctx->faults[i];
        if (strcmp(f->method, "*") != 0 && strcasecmp(f->method, method) != 0)
            continue;
        if (f->match[0] && !emu_strcasestr(path, f->match))
            continue;
        f->seen++;
        int hit = f->seen == f->nth ||
                  (f->every > 0 && f->seen > f->nth && (f->seen - f->nth) % f->every == 0);
        if (hit && !fired) {
            f->fired++;
            ctx->stats.faults_fired++;
            *out = *f;
            fired = 1;
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    return fired;
}
