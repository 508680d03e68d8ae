/* The pfx source's manifest (see pfx_manifest.h): a CSV naming PKCS#12 files and their password
 * files, parsed once per run. */
#include "source/pfx_manifest.h"

#include "common/fileio.h"
#include "common/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MANIFEST_MAX (64u * 1024u * 1024u)
#define MAX_FIELDS 16

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* field resolved against dir ("" = the current directory); malloc'd */
static char *resolve(const char *dir, const char *field)
{
    if (field[0] == '/' || !*dir)
        return strdup(field);
    size_t n = strlen(dir) + strlen(field) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, field);
    return s;
}

static void entry_free(ssync_pfx_manifest_entry *e)
{
    free(e->file);
    free(e->password_file);
    free(e->upn);
}

void ssync_pfx_manifest_free(ssync_pfx_manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++)
        entry_free(&m->v[i]);
    free(m->v);
    free(m->by_file);
    free(m->path);
    memset(m, 0, sizeof *m);
}

static int upn_ok(const char *s)
{
    const char *at = strchr(s, '@');
    return at && at != s && at[1] && !strchr(at + 1, '@') && !strpbrk(s, " \t\"") &&
           strlen(s) <= 256;
}

static int by_file_cmp(const void *a, const void *b)
{
    const ssync_pfx_manifest_entry *const *x = a, *const *y = b;
    return strcmp((*x)->file, (*y)->file);
}

/* Builds m->by_file (sorting pointers, since qsort has no context argument in C11) and refuses a
 * file listed twice (naming both lines). */
static ssync_code index_files(ssync_pfx_manifest *m, ssync_error *err)
{
    ssync_pfx_manifest_entry **ptr = malloc((m->n ? m->n : 1) * sizeof *ptr);
    m->by_file = malloc((m->n ? m->n : 1) * sizeof *m->by_file);
    if (!ptr || !m->by_file) {
        free(ptr);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "manifest");
    }
    for (size_t i = 0; i < m->n; i++)
        ptr[i] = &m->v[i];
    qsort(ptr, m->n, sizeof *ptr, by_file_cmp);
    ssync_code rc = SSYNC_OK;
    for (size_t i = 0; i < m->n; i++) {
        m->by_file[i] = (size_t)(ptr[i] - m->v);
        if (i > 0 && strcmp(ptr[i]->file, ptr[i - 1]->file) == 0 && rc == SSYNC_OK) {
            const ssync_pfx_manifest_entry *a = ptr[i - 1], *b = ptr[i];
            if (a->line > b->line) {
                a = ptr[i];
                b = ptr[i - 1];
            }
            rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: %s is already listed on line %zu",
                            m->path, b->line, ssync_basename(b->file), a->line);
        }
    }
    free(ptr);
    return rc;
}

ssync_code ssync_pfx_manifest_parse(const char *text, size_t len, const char *path,
                                    ssync_pfx_manifest *out, ssync_error *err)
{
    if (!out || !path || (!text && len))
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_pfx_manifest_parse");
    memset(out, 0, sizeof *out);
    char *copy = malloc(len + 1), *dir = strdup(path);
    out->path = strdup(path);
    if (!copy || !dir || !out->path) {
        free(copy);
        free(dir);
        ssync_pfx_manifest_free(out);
        return ssync_fail(err, SSYNC_ERR_NOMEM, "manifest");
    }
    if (len)
        memcpy(copy, text, len);
    copy[len] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[slash == dir ? 1 : 0] = '\0'; /* "/m.csv" -> "/" */
    else
        dir[0] = '\0';

    ssync_code rc = SSYNC_OK;
    int col_file = -1, col_pass = -1, col_upn = -1, ncols = 0;
    size_t lineno = 0;
    char *p = copy;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3; /* UTF-8 BOM, as Excel writes it */
    if (strlen(p) != (size_t)(copy + len - p)) {
        rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s: contains a NUL byte (not a text file)", path);
        goto done;
    }
    while (rc == SSYNC_OK && p && *p) {
        char *line = p, *nl = strchr(p, '\n');
        p = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue; /* blank lines and # comments */
        if (has_control(line)) {
            rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: control character in the line", path,
                            lineno);
            break;
        }
        char *f[MAX_FIELDS];
        int nf = ssync_csv_split(line, f, MAX_FIELDS);
        if (nf < 0) {
            rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: bad CSV quoting or too many fields",
                            path, lineno);
            break;
        }
        if (ncols == 0) { /* the header */
            for (int i = 0; i < nf; i++) {
                int *col = strcasecmp(f[i], "file") == 0                ? &col_file
                           : strcasecmp(f[i], "password_file") == 0     ? &col_pass
                           : strcasecmp(f[i], "userPrincipalName") == 0 ? &col_upn
                                                                        : NULL;
                if (!col) {
                    rc = ssync_fail(err, SSYNC_ERR_CONFIG,
                                    "%s:%zu: unknown column '%.60s' (file, password_file, "
                                    "userPrincipalName)",
                                    path, lineno, f[i]);
                    break;
                }
                if (*col >= 0) {
                    rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: column '%.60s' twice", path,
                                    lineno, f[i]);
                    break;
                }
                *col = i;
            }
            if (rc == SSYNC_OK && (col_file < 0 || col_pass < 0))
                rc =
                    ssync_fail(err, SSYNC_ERR_CONFIG,
                               "%s:%zu: the header must name file and password_file", path, lineno);
            ncols = nf;
            continue;
        }
        if (nf != ncols) {
            rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: %d fields, the header has %d", path,
                            lineno, nf, ncols);
            break;
        }
        const char *file = f[col_file], *pass = f[col_pass];
        const char *upn = col_upn >= 0 && *f[col_upn] ? f[col_upn] : NULL;
        if (!*file || !*pass) {
            rc = ssync_fail(err, SSYNC_ERR_CONFIG, "%s:%zu: %s is empty", path, lineno,
                            !*file ? "file" : "password_file");
            break;
        }
        if (upn && !upn_ok(upn)) {
            rc = ssync_fail(err, SSYNC_ERR_CONFIG,
                            "%s:%zu: userPrincipalName '%.100s' is not name@domain", path, lineno,
                            upn);
            break;
        }
        if (out->n == out->cap) {
            size_t ncap = out->cap ? out->cap * 2 : 32;
            ssync_pfx_manifest_entry *v = realloc(out->v, ncap * sizeof *v);
            if (!v) {
                rc = ssync_fail(err, SSYNC_ERR_NOMEM, "manifest");
                break;
            }
            out->v = v;
            out->cap = ncap;
        }
        ssync_pfx_manifest_entry *e = &out->v[out->n++];
        memset(e, 0, sizeof *e);
        e->line = lineno;
        e->file = resolve(dir, file);
        e->password_file = resolve(dir, pass);
        e->upn = upn ? strdup(upn) : NULL;
        if (!e->file || !e->password_file || (upn && !e->upn))
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, "manifest");
    }
    if (rc == SSYNC_OK && ncols == 0)
        rc = ssync_fail(err, SSYNC_ERR_CONFIG,
                        "%s: no header line (file,password_file,userPrincipalName)", path);
    if (rc == SSYNC_OK)
        rc = index_files(out, err);
done:
    free(copy);
    free(dir);
    if (rc != SSYNC_OK)
        ssync_pfx_manifest_free(out);
    return rc;
}

ssync_code ssync_pfx_manifest_load(const ssync_source_cfg *cfg, ssync_pfx_manifest *out,
                                   ssync_error *err)
{
    if (!cfg || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_pfx_manifest_load");
    memset(out, 0, sizeof *out);
    char def[4096];
    const char *path = cfg->manifest;
    if (!path) {
        if (!cfg->path)
            return ssync_fail(err, SSYNC_ERR_CONFIG, "[source] type pfx needs path (or manifest)");
        snprintf(def, sizeof def, "%s/manifest.csv", cfg->path);
        path = def;
    }
    ssync_buf b = {0};
    ssync_code rc = ssync_read_file(path, MANIFEST_MAX, &b, err);
    if (rc != SSYNC_OK)
        return ssync_error_prefix(err, "[source] manifest: ");
    rc = ssync_pfx_manifest_parse((const char *)b.data, b.len, path, out, err);
    ssync_buf_free(&b);
    return rc;
}

const ssync_pfx_manifest_entry *ssync_pfx_manifest_find(const ssync_pfx_manifest *m,
                                                        const char *file)
{
    if (!m || !file || !m->by_file)
        return NULL;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const ssync_pfx_manifest_entry *e = &m->v[m->by_file[mid]];
        int c = strcmp(file, e->file);
        if (c == 0)
            return e;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
