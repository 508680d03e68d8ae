/* The user map and the list files of [source] (see usermap.h). */
#include "sync/usermap.h"

#include "common/fileio.h"
#include "common/text.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* A field without its optional double quotes (spreadsheets write them). */
static char *unquote(char *f)
{
    f = ssync_text_trim(f);
    size_t n = strlen(f);
    if (n >= 2 && f[0] == '"' && f[n - 1] == '"') {
        f[n - 1] = '\0';
        f = ssync_text_trim(f + 1);
    }
    return f;
}

/* A plausible address: one '@' with text on both sides, no blank, quote or comma. */
static int address_ok(const char *s)
{
    const char *at = strchr(s, '@');
    return at && at != s && at[1] && !strchr(at + 1, '@') && !strpbrk(s, " \t\",;<>");
}

static int by_identity(const void *pa, const void *pb)
{
    const ssync_usermap_entry *a = pa, *b = pb;
    int c = strcasecmp(a->identity, b->identity);
    return c ? c : (a->line > b->line) - (a->line < b->line);
}

static ssync_code add_entry(ssync_usermap *m, size_t *cap, const char *id, const char *upn,
                            size_t line, ssync_error *err)
{
    if (m->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        ssync_usermap_entry *v = realloc(m->v, ncap * sizeof *v);
        if (!v)
            return ssync_fail(err, SSYNC_ERR_NOMEM, "user map");
        m->v = v;
        *cap = ncap;
    }
    ssync_usermap_entry *e = &m->v[m->n];
    e->identity = strdup(id);
    e->upn = strdup(upn);
    e->line = line;
    m->n++;
    if (!e->identity || !e->upn)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user map");
    return SSYNC_OK;
}

static ssync_code parse(char *text, size_t len, const char *name, ssync_usermap *m,
                        ssync_error *err)
{
    size_t pos = 0, lineno = 0, cap = 0;
    int first = 1;
    char *line;
    while ((line = ssync_text_next_line(text, len, &pos, &lineno))) {
        char *comma = strchr(line, ',');
        if (!comma)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: expected \"certificate identity,userPrincipalName\"", name,
                              lineno);
        *comma = '\0';
        if (strchr(comma + 1, ','))
            return ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: more than two fields", name, lineno);
        char *id = unquote(line), *upn = unquote(comma + 1);
        int header = first && !strchr(id, '@') && !strchr(upn, '@');
        first = 0;
        if (header)
            continue;
        if (!address_ok(id))
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: '%.100s' is not an e-mail address or UPN", name, lineno, id);
        if (!address_ok(upn))
            return ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: '%.100s' is not a userPrincipalName",
                              name, lineno, upn);
        ssync_code rc = add_entry(m, &cap, id, upn, lineno, err);
        if (rc != SSYNC_OK)
            return rc;
    }
    if (m->n)
        qsort(m->v, m->n, sizeof *m->v, by_identity);
    for (size_t i = 1; i < m->n; i++)
        if (strcasecmp(m->v[i - 1].identity, m->v[i].identity) == 0 &&
            strcasecmp(m->v[i - 1].upn, m->v[i].upn) != 0)
            return ssync_fail(err, SSYNC_ERR_CONFIG,
                              "%s:%zu: '%.100s' is already mapped to another user on line %zu",
                              name, m->v[i].line, m->v[i].identity, m->v[i - 1].line);
    return SSYNC_OK;
}

ssync_code ssync_usermap_parse(const char *text, size_t len, const char *name, ssync_usermap *out,
                               ssync_error *err)
{
    if (!out || (!text && len))
        return ssync_fail(err, SSYNC_ERR_ARG, "user map");
    memset(out, 0, sizeof *out);
    char *copy = malloc(len + 1);
    if (!copy)
        return ssync_fail(err, SSYNC_ERR_NOMEM, "user map");
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    ssync_code rc = parse(copy, len, name ? name : "user map", out, err);
    free(copy);
    if (rc != SSYNC_OK)
        ssync_usermap_free(out);
    return rc;
}

ssync_code ssync_usermap_load(const char *path, ssync_usermap *out, ssync_error *err)
{
    if (!path || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "user map");
    memset(out, 0, sizeof *out);
    ssync_buf b = {0};
    ssync_code rc = ssync_read_file(path, SSYNC_MAX_INPUT_FILE, &b, err);
    if (rc != SSYNC_OK)
        return ssync_error_prefix(err, "[source] user_map: ");
    rc = ssync_usermap_parse((const char *)b.data, b.len, path, out, err);
    ssync_buf_free(&b);
    return rc;
}

const char *ssync_usermap_find(const ssync_usermap *m, const char *identity)
{
    if (!m || !identity || !m->n)
        return NULL;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcasecmp(m->v[mid].identity, identity);
        if (c == 0)
            return m->v[mid].upn;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void ssync_usermap_free(ssync_usermap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].identity);
        free(m->v[i].upn);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}
