/* The pfx source (source_pfx.h): a CSV manifest naming PKCS#12 files and their password files.
 * Scanning opens every file once to learn its certificate and forgets the key; exporting opens
 * it again. A password file readable by group or others is refused (the item fails), as ssh
 * refuses such a private key file. */
#include "source/pfx.h"

#include "common/fileio.h"
#include "common/text.h"
#include "pki/p12read.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MANIFEST_MAX (64u * 1024u * 1024u)
#define MAX_FIELDS 16

/* ---------------------------------------------------------------- manifest */


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

ssync_code ssync_pfx_manifest_load(const ssync_config *cfg, ssync_pfx_manifest *out,
                                   ssync_error *err)
{
    if (!cfg || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_pfx_manifest_load");
    memset(out, 0, sizeof *out);
    char def[4096];
    const char *path = cfg->source.manifest;
    if (!path) {
        if (!cfg->source.path)
            return ssync_fail(err, SSYNC_ERR_CONFIG, "[source] type pfx needs path (or manifest)");
        snprintf(def, sizeof def, "%s/manifest.csv", cfg->source.path);
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

/* ---------------------------------------------------------------- opening one entry */

/* The password file's mode: refused when group or others may read or write it. */
static ssync_code check_password_file(const char *path, ssync_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "password file %s: %s", path, "cannot be read");
    if (st.st_mode & 077)
        return ssync_fail(err, SSYNC_ERR_FILE_PERMS,
                          "password file %s has mode %03o: readable by others (chmod 600)", path,
                          (unsigned)(st.st_mode & 0777));
    return SSYNC_OK;
}

/* Opens the entry's PKCS#12: key and the certificate it belongs to. */
static ssync_code open_entry(ssync_p12_reader *r, const ssync_pfx_manifest_entry *e, EVP_PKEY **key,
                             X509 **cert, ssync_error *err)
{
    *key = NULL;
    *cert = NULL;
    ssync_buf file = {0}, pass = {0};
    STACK_OF(X509) *others = NULL;
    PKCS12 *p12 = NULL;
    ssync_code rc = ssync_read_file(e->file, SSYNC_MAX_INPUT_FILE, &file, err);
    if (rc == SSYNC_OK)
        rc = check_password_file(e->password_file, err);
    if (rc == SSYNC_OK)
        rc = ssync_read_secret_file(e->password_file, &pass, err);
    if (rc != SSYNC_OK)
        goto done;
    const unsigned char *q = file.data;
    ERR_clear_error();
    p12 = file.len <= INT_MAX ? d2i_PKCS12(NULL, &q, (long)file.len) : NULL;
    if (!p12) {
        ERR_clear_error();
        rc = ssync_fail(err, SSYNC_ERR_PFX_OPEN, "%s: not a PKCS#12 file (DER)", e->file);
        goto done;
    }
    rc = ssync_p12_parse(r, p12, (const char *)pass.data, SSYNC_ERR_PFX_OPEN, SSYNC_ERR_PFX_OPEN,
                         key, cert, &others, err);
    if (rc != SSYNC_OK) {
        ssync_error_prefix(err, "%s: ", e->file);
    } else if (!*key) {
        rc = ssync_fail(err, SSYNC_ERR_PFX_OPEN, "%s: holds no private key", e->file);
    } else if (!*cert) {
        /* PKCS12_parse returns the certificate whose key matches; the rest are others */
        int n = others ? sk_X509_num(others) : 0;
        rc = n ? ssync_fail(err, SSYNC_ERR_KEY_MISMATCH,
                            "%s: the private key matches none of its %d certificate(s)", e->file, n)
               : ssync_fail(err, SSYNC_ERR_PFX_OPEN, "%s: holds no certificate", e->file);
    }
done:
    if (rc != SSYNC_OK) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
    }
    sk_X509_pop_free(others, X509_free);
    PKCS12_free(p12);
    ssync_buf_free_secret(&pass);
    ssync_buf_free(&file);
    ERR_clear_error();
    return rc;
}

/* ---------------------------------------------------------------- scan and export */

static ssync_code scan_entry(ssync_p12_reader *r, const ssync_pfx_manifest *m,
                             const ssync_pfx_manifest_entry *e, X509_CRL *const *crls,
                             size_t n_crls, ssync_plan_item *it)
{
    it->kind = SSYNC_ITEM_PFX;
    if (!(it->path = strdup(e->file)))
        return SSYNC_ERR_NOMEM;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    ssync_error ie = {0};
    ssync_code rc = open_entry(r, e, &key, &cert, &ie);
    EVP_PKEY_free(key); /* the plan keeps no key: export opens the file again */
    if (rc == SSYNC_OK)
        rc = ssync_plan_item_set_cert(it, cert, crls, n_crls, &ie);
    if (rc == SSYNC_OK && e->upn) {
        /* the manifest names the user: it replaces the certificate's own */
        if (ssync_plan_item_set_user(it, e->upn) != SSYNC_OK)
            rc = ssync_fail(&ie, SSYNC_ERR_NOMEM, NULL);
    }
    X509_free(cert);
    if (rc == SSYNC_ERR_NOMEM)
        return rc;
    if (rc != SSYNC_OK) {
        it->code = rc;
        ssync_error_prefix(&ie, "%s:%zu: ", m->path, e->line);
        ssync_plan_note(&it->error, "%s", ie.msg);
    }
    return SSYNC_OK; /* a failed entry is an item, not a failed scan */
}

ssync_code ssync_pfx_source_scan(const ssync_config *cfg, X509_CRL *const *crls, size_t n_crls,
                                 ssync_plan *out, ssync_error *err)
{
    if (!cfg || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_pfx_source_scan");
    ssync_pfx_manifest m;
    ssync_code rc = ssync_pfx_manifest_load(cfg, &m, err);
    if (rc != SSYNC_OK)
        return rc;
    ssync_p12_reader r = {0};
    for (size_t i = 0; rc == SSYNC_OK && i < m.n; i++) {
        ssync_plan_item *it = ssync_plan_add(out);
        rc = it ? scan_entry(&r, &m, &m.v[i], crls, n_crls, it) : SSYNC_ERR_NOMEM;
        if (rc != SSYNC_OK)
            ssync_fail(err, rc, "pfx source");
    }
    ssync_p12_reader_free(&r);
    ssync_pfx_manifest_free(&m);
    return rc;
}

ssync_code ssync_pfx_manifest_export(const ssync_exporter *ex, const ssync_pfx_manifest *m,
                                     const ssync_plan_item *it, const char *upn,
                                     ssync_export_result *out, ssync_error *err)
{
    if (!ex || !m || !it || !out || it->kind != SSYNC_ITEM_PFX || !it->path)
        return ssync_fail(err, SSYNC_ERR_ARG, "not a pfx item");
    memset(out, 0, sizeof *out);
    const ssync_pfx_manifest_entry *e = ssync_pfx_manifest_find(m, it->path);
    if (!e)
        return ssync_fail(err, SSYNC_ERR_NOT_FOUND, "%s is no longer listed in %s", it->path,
                          m->path);
    ssync_p12_reader r = {0};
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    ssync_code rc = open_entry(&r, e, &key, &cert, err);
    if (rc == SSYNC_OK)
        rc = ssync_export_key(ex, key, cert, NULL, upn ? upn : e->upn, out, err);
    /* the file must still hold the certificate that was planned */
    if (rc == SSYNC_OK && it->thumbprint[0] && strcmp(out->info.thumbprint, it->thumbprint)) {
        rc = ssync_fail(err, SSYNC_ERR_PFX_OPEN,
                        "%s changed since the plan (certificate %s, "
                        "planned %s)",
                        e->file, out->info.thumbprint, it->thumbprint);
        ssync_export_result_clear(out);
    }
    if (rc != SSYNC_OK && rc != SSYNC_ERR_NOMEM)
        ssync_error_prefix(err, "%s:%zu: ", m->path, e->line);
    EVP_PKEY_free(key);
    X509_free(cert);
    ssync_p12_reader_free(&r);
    return rc;
}

ssync_code ssync_pfx_source_export(const ssync_exporter *ex, const ssync_config *cfg,
                                   const ssync_plan_item *it, const char *upn,
                                   ssync_export_result *out, ssync_error *err)
{
    ssync_pfx_manifest m;
    ssync_code rc = ssync_pfx_manifest_load(cfg, &m, err);
    if (rc != SSYNC_OK)
        return rc;
    rc = ssync_pfx_manifest_export(ex, &m, it, upn, out, err);
    ssync_pfx_manifest_free(&m);
    return rc;
}
