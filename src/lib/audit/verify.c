/* The audit trail's reader (see audit.h): the chain verified line by line, each line handed to a
 * caller (audit show). */
#include "audit/audit.h"

#include "audit_int.h"
#include "common/fileio.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRAIL_MAX ((size_t)1 << 31) /* rotate long before: a trail is read whole */

typedef int (*line_fn)(void *ctx, size_t no, const char *line, size_t len, int complete);

/* Splits the file into lines; the last one is incomplete when it has no "\n". */
static ssync_code each_line(const char *path, line_fn fn, void *ctx, ssync_error *err)
{
    ssync_buf b = {0};
    ssync_error re = {0};
    if (ssync_read_file(path, TRAIL_MAX, &b, &re) != SSYNC_OK && re.code != SSYNC_ERR_FILE_EMPTY)
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s", re.msg);
    const char *p = (const char *)b.data, *end = p + b.len;
    size_t no = 0;
    int stop = 0;
    while (p && p < end && !stop) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        stop = fn(ctx, ++no, p, len, nl != NULL);
        p += len + 1;
    }
    ssync_buf_free(&b);
    return SSYNC_OK;
}

struct verify {
    const char *path;
    const ssync_audit_check *after;
    ssync_audit_check *out;
    ssync_error *err;
    ssync_code rc;
};

static int broken(struct verify *v, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int broken(struct verify *v, size_t line, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    v->out->bad_line = line;
    v->rc = ssync_fail(v->err, SSYNC_ERR_AUDIT, "%s:%zu: chain broken: %s", v->path, line, why);
    return 1;
}

static int verify_line(void *ctx, size_t no, const char *line, size_t len, int complete)
{
    struct verify *v = ctx;
    ssync_audit_check *c = v->out;
    if (!complete)
        return broken(v, no, "the line has no end: the trail was truncated mid-line");
    json_t *o = json_loadb(line, len, 0, NULL);
    json_t *seq = json_object_get(o, "seq");
    const char *prev = json_string_value(json_object_get(o, "prev"));
    const char *action = json_string_value(json_object_get(o, "action"));
    int ok = json_is_integer(seq) && json_integer_value(seq) >= 1 && ssync_audit_hash_valid(prev) &&
             action;
    uint64_t s = ok ? (uint64_t)json_integer_value(seq) : 0;
    char copy[SSYNC_AUDIT_HASH_HEX + 1] = "";
    if (ok)
        snprintf(copy, sizeof copy, "%s", prev);
    int is_start = ok && !strcmp(action, "start");
    int first_kind = is_start || (ok && !strcmp(action, "rotate"));
    json_decref(o); /* action is gone with it */
    if (!ok)
        return broken(v, no, "not an audit trail line (JSON with seq, prev and action)");
    if (no == 1) {
        snprintf(c->first_prev, sizeof c->first_prev, "%s", copy);
        if (!first_kind)
            return broken(v, no,
                          "the first line is not a start or rotate line (lines before it were "
                          "deleted)");
        if (v->after && (strcmp(copy, v->after->head) || s != v->after->last_seq + 1))
            return broken(v, no,
                          "it does not continue the previous file (its prev or seq differ from "
                          "that file's last line)");
        if (!v->after && is_start && strcmp(copy, SSYNC_AUDIT_ZERO_HASH))
            return broken(v, no, "a start line with a prev");
    } else if (s != c->last_seq + 1) {
        return broken(v, no,
                      "seq %llu where %llu was expected: a line was deleted, inserted or moved",
                      (unsigned long long)s, (unsigned long long)(c->last_seq + 1));
    } else if (strcmp(copy, c->head) != 0) {
        /* the seq follows on, so the line before was edited in place */
        return broken(v, no - 1, "the line was changed (its hash is not the prev of line %zu)", no);
    }
    c->lines = no;
    c->last_seq = s;
    ssync_audit_hash(line, len, c->head);
    return 0;
}

ssync_code ssync_audit_verify(const char *path, const ssync_audit_check *after,
                              ssync_audit_check *out, ssync_error *err)
{
    if (!path || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "audit verify: no path");
    memset(out, 0, sizeof *out);
    struct verify v = {path, after, out, err, SSYNC_OK};
    ssync_code rc = each_line(path, verify_line, &v, err);
    if (rc != SSYNC_OK)
        return rc;
    if (v.rc == SSYNC_OK && out->lines == 0) {
        out->bad_line = 1;
        return ssync_fail(err, SSYNC_ERR_AUDIT, "%s: empty, not a trail", path);
    }
    return v.rc;
}

struct each {
    ssync_audit_line_fn fn;
    void *ctx;
    const char *path;
    ssync_error *err;
    ssync_code rc;
};

static int each_entry(void *ctx, size_t no, const char *line, size_t len, int complete)
{
    struct each *e = ctx;
    json_t *o = complete ? json_loadb(line, len, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        json_decref(o);
        e->rc = ssync_fail(e->err, SSYNC_ERR_AUDIT, "%s:%zu: %s", e->path, no,
                           complete ? "not a JSON object" : "the line has no end (truncated)");
        return 1;
    }
    int stop = e->fn(e->ctx, no, o);
    json_decref(o);
    return stop;
}

ssync_code ssync_audit_foreach(const char *path, ssync_audit_line_fn fn, void *ctx,
                               ssync_error *err)
{
    if (!path || !fn)
        return ssync_fail(err, SSYNC_ERR_ARG, "audit: no path or callback");
    struct each e = {fn, ctx, path, err, SSYNC_OK};
    ssync_code rc = each_line(path, each_entry, &e, err);
    return rc != SSYNC_OK ? rc : e.rc;
}
