/* The CA database through libesedb (Debian 20181229): header checks, tables behind the row
 * interface, columns by name, values by column type. Separated long values are read with
 * edb_pages.c (that libesedb cannot look them up) and compressed ones decompressed here. */
#include "edb_file.h"
#include "edb_pages.h"

#include <errno.h>
#include <libesedb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_SIZE 668
#define ESE_SIGNATURE 0x89abcdefu
#define VALUE_COMPRESSED 0x02
#define VALUE_LONG_VALUE 0x04
#define VALUE_MULTI 0x08

enum {
    COLTYP_BIT = 1,
    COLTYP_UNSIGNED_BYTE = 2,
    COLTYP_SHORT = 3,
    COLTYP_LONG = 4,
    COLTYP_CURRENCY = 5,
    COLTYP_DATETIME = 8,
    COLTYP_BINARY = 9,
    COLTYP_TEXT = 10,
    COLTYP_LONG_BINARY = 11,
    COLTYP_LONG_TEXT = 12,
    COLTYP_UNSIGNED_LONG = 14,
    COLTYP_LONG_LONG = 15,
    COLTYP_UNSIGNED_SHORT = 17,
};

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

ssync_code ssync_edb_read_header(const char *path, ssync_edb_header *h, ssync_error *err)
{
    memset(h, 0, sizeof *h);
    unsigned char b[HEADER_SIZE];
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path, strerror(errno));
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n < sizeof b || rd32(b + 4) != ESE_SIGNATURE)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: not an ESE database (no ESE file header)", path);
    uint32_t x = ESE_SIGNATURE;
    for (size_t i = 4; i < HEADER_SIZE; i += 4)
        x ^= rd32(b + i);
    if (x != rd32(b))
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: damaged ESE file header (checksum mismatch)",
                          path);
    h->format_version = rd32(b + 8);
    h->state = rd32(b + 52);
    h->format_revision = rd32(b + 232);
    h->page_size = rd32(b + 236);
    if (rd32(b + 12) != 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: an ESE streaming file, not a database", path);
    if (h->page_size > 16384)
        return ssync_fail(
            err, SSYNC_ERR_EDB,
            "%s: %u KiB pages (a Windows Server 2025 database) cannot be read by libesedb "
            "20181229; export recovery blobs with certutil -getkey and use [source] type = blobs",
            path, h->page_size / 1024);
    if (h->page_size != 4096 && h->page_size != 8192 && h->page_size != 16384)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: unsupported page size %u", path, h->page_size);
    if (h->state != SSYNC_EDB_STATE_CLEAN)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "%s: the database was not shut down cleanly (state %u): run esentutl /r "
                          "with its log files on the CA, or restore a backup (certutil "
                          "-restoreDB), then copy it again",
                          path, h->state);
    return SSYNC_OK;
}

struct ssync_edb_db;

typedef struct file_table {
    ssync_edb_table base; /* first: the interface */
    struct ssync_edb_db *db;
    libesedb_table_t *t;
    char name[32];
    int ncols;
    char **names;
    int *types;
    libesedb_record_t *rec;
    size_t cur;
    uint32_t lv_root;
    int lv_known;
} file_table;

struct ssync_edb_db {
    char *path;
    libesedb_file_t *f;
    ssync_edb_pages pages;
    file_table req, crt;
};

/* The last message of a libesedb error (the innermost reason), freed. */
static void esedb_reason(libesedb_error_t **e, char *buf, size_t size)
{
    buf[0] = '\0';
    if (e && *e && libesedb_error_sprint(*e, buf, size) < 0)
        snprintf(buf, size, "libesedb error");
    char *nl = strrchr(buf, '\n');
    while (nl && nl[1] == '\0') { /* drop trailing newlines, keep the last line */
        *nl = '\0';
        nl = strrchr(buf, '\n');
    }
    if (nl)
        memmove(buf, nl + 1, strlen(nl + 1) + 1);
    if (e && *e)
        libesedb_error_free(e);
}

static ssync_code esedb_fail(libesedb_error_t **e, ssync_error *err, const char *what, ...)
    __attribute__((format(printf, 3, 4)));

static ssync_code esedb_fail(libesedb_error_t **e, ssync_error *err, const char *what, ...)
{
    char reason[400], msg[300];
    esedb_reason(e, reason, sizeof reason);
    va_list ap;
    va_start(ap, what);
    vsnprintf(msg, sizeof msg, what, ap);
    va_end(ap);
    return ssync_fail(err, SSYNC_ERR_EDB, "%s%s%s", msg, reason[0] ? ": " : "", reason);
}

static ssync_code ft_count(ssync_edb_table *bt, size_t *n, ssync_error *err)
{
    file_table *t = (file_table *)bt;
    libesedb_error_t *e = NULL;
    int k = 0;
    if (libesedb_table_get_number_of_records(t->t, &k, &e) != 1 || k < 0)
        return esedb_fail(&e, err, "table %s: cannot count the rows", t->name);
    *n = (size_t)k;
    return SSYNC_OK;
}

static ssync_code ft_load(ssync_edb_table *bt, size_t i, ssync_error *err)
{
    file_table *t = (file_table *)bt;
    libesedb_error_t *e = NULL;
    if (t->rec)
        libesedb_record_free(&t->rec, NULL);
    if (i > INT32_MAX || libesedb_table_get_record(t->t, (int)i, &t->rec, &e) != 1) {
        t->rec = NULL;
        return esedb_fail(&e, err, "table %s: cannot read row %zu", t->name, i);
    }
    t->cur = i;
    bt->loads++;
    return SSYNC_OK;
}

static int ft_column(ssync_edb_table *bt, const char *name)
{
    file_table *t = (file_table *)bt;
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}

static int ft_is_null(ssync_edb_table *bt, int col)
{
    file_table *t = (file_table *)bt;
    size_t size = 0;
    if (!t->rec || col < 0 || col >= t->ncols ||
        libesedb_record_get_value_data_size(t->rec, col, &size, NULL) != 1)
        return 1;
    return size == 0;
}

/* "column RawArchivedKey of Requests row 12 (RequestID 13)" for messages. */
static void where(file_table *t, int col, char *buf, size_t size)
{
    int idc = ft_column(&t->base, "RequestID");
    uint32_t id = 0;
    if (idc >= 0 && t->rec)
        libesedb_record_get_value_32bit(t->rec, idc, &id, NULL);
    snprintf(buf, size, "column %s of %s row %zu (RequestID %u)", t->names[col], t->name, t->cur,
             id);
}

/* A separated long value: the record holds its id; the tree is read with edb_pages.c. */
static ssync_code read_lv(file_table *t, int col, const unsigned char *ref, size_t reflen,
                          unsigned char **out, size_t *len, ssync_error *err)
{
    char at[200];
    if (reflen != 4) {
        where(t, col, at, sizeof at);
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "%s: %zu-byte long-value id (large long-value ids, Windows Server "
                          "2025) cannot be read by libesedb 20181229; export recovery blobs with "
                          "certutil -getkey and use [source] type = blobs",
                          at, reflen);
    }
    if (!t->lv_known) {
        libesedb_error_t *e = NULL;
        uint32_t objid = 0;
        if (libesedb_table_get_identifier(t->t, &objid, &e) != 1)
            return esedb_fail(&e, err, "table %s: no object id", t->name);
        ssync_code rc = ssync_edb_pages_lv_root(&t->db->pages, objid, &t->lv_root, err);
        if (rc != SSYNC_OK)
            return ssync_error_prefix(err, "%s: catalog: ", t->db->path);
        t->lv_known = 1;
    }
    where(t, col, at, sizeof at);
    if (!t->lv_root)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: table %s has no long-value tree", at, t->name);
    ssync_code rc = ssync_edb_pages_lv_read(&t->db->pages, t->lv_root, rd32(ref), out, len, err);
    return rc == SSYNC_OK ? rc : ssync_error_prefix(err, "%s: ", at);
}

/* The bytes of a text or binary column: inline, or a separated long value; decompressed. */
static ssync_code raw_bytes(file_table *t, int col, unsigned char **out, size_t *len,
                            ssync_error *err)
{
    *out = NULL;
    *len = 0;
    libesedb_error_t *e = NULL;
    size_t size = 0;
    uint8_t flags = 0;
    char at[200];
    if (libesedb_record_get_value_data_size(t->rec, col, &size, &e) != 1 ||
        libesedb_record_get_value_data_flags(t->rec, col, &flags, &e) != 1) {
        where(t, col, at, sizeof at);
        return esedb_fail(&e, err, "%s", at);
    }
    unsigned char *data = malloc(size ? size : 1);
    if (!data)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    if (size && libesedb_record_get_value_data(t->rec, col, data, size, &e) != 1) {
        free(data);
        where(t, col, at, sizeof at);
        return esedb_fail(&e, err, "%s", at);
    }
    if (flags & VALUE_MULTI) {
        free(data);
        where(t, col, at, sizeof at);
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: multi-valued, not expected here", at);
    }
    ssync_code rc = SSYNC_OK;
    if (flags & VALUE_LONG_VALUE) {
        unsigned char *lv = NULL;
        size_t lvlen = 0;
        rc = read_lv(t, col, data, size, &lv, &lvlen, err);
        free(data);
        data = lv;
        size = lvlen;
    }
    if (rc == SSYNC_OK && (flags & VALUE_COMPRESSED)) {
        unsigned char *plain = NULL;
        size_t plen = 0;
        rc = ssync_edb_decompress(data, size, &plain, &plen, err);
        if (rc != SSYNC_OK) {
            where(t, col, at, sizeof at);
            ssync_error_prefix(err, "%s: compressed value: ", at);
        }
        free(data);
        data = plain;
        size = plen;
    }
    if (rc != SSYNC_OK) {
        free(data);
        return rc;
    }
    *out = data;
    *len = size;
    return SSYNC_OK;
}

static ssync_code ft_get(ssync_edb_table *bt, int col, ssync_edb_value *v, ssync_error *err)
{
    file_table *t = (file_table *)bt;
    memset(v, 0, sizeof *v);
    if (!t->rec || col < 0 || col >= t->ncols)
        return ssync_fail(err, SSYNC_ERR_ARG, "no current row or column");
    if (ft_is_null(bt, col))
        return SSYNC_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    ssync_code rc = raw_bytes(t, col, &data, &len, err);
    if (rc != SSYNC_OK)
        return rc;
    char at[200];
    switch (t->types[col]) {
    case COLTYP_BIT:
    case COLTYP_UNSIGNED_BYTE:
    case COLTYP_SHORT:
    case COLTYP_UNSIGNED_SHORT:
    case COLTYP_LONG:
    case COLTYP_UNSIGNED_LONG:
    case COLTYP_CURRENCY:
    case COLTYP_LONG_LONG: {
        uint64_t u = 0;
        for (size_t k = len < 8 ? len : 8; k > 0; k--)
            u = (u << 8) | data[k - 1];
        v->kind = SSYNC_EDB_INT;
        if (t->types[col] == COLTYP_LONG && len == 4)
            v->i = (int32_t)(uint32_t)u;
        else if (t->types[col] == COLTYP_SHORT && len == 2)
            v->i = (int16_t)(uint16_t)u;
        else
            v->i = (long long)u;
        break;
    }
    case COLTYP_DATETIME:
        if (len != 8) {
            where(t, col, at, sizeof at);
            rc = ssync_fail(err, SSYNC_ERR_EDB, "%s: a date of %zu bytes", at, len);
        } else if (ssync_edb_decode_datetime(data, &v->t) == 0) {
            v->kind = SSYNC_EDB_DATE;
        } /* else: zero or no plausible date: NULL */
        break;
    case COLTYP_TEXT:
    case COLTYP_LONG_TEXT:
        /* AD CS text columns are UTF-16LE (codepage 1200) */
        v->kind = SSYNC_EDB_TEXT;
        if (!(v->text = ssync_edb_utf16_to_utf8(data, len)))
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
        break;
    default: /* binary, long binary, GUID and the rest: the bytes */
        v->kind = SSYNC_EDB_BINARY;
        v->data = data;
        v->len = len;
        data = NULL;
        break;
    }
    free(data);
    if (rc != SSYNC_OK)
        ssync_edb_value_clear(v);
    return rc;
}

static const ssync_edb_table_ops file_ops = {ft_count, ft_load, ft_column, ft_is_null, ft_get};

static void table_close(file_table *t)
{
    if (t->rec)
        libesedb_record_free(&t->rec, NULL);
    if (t->t)
        libesedb_table_free(&t->t, NULL);
    for (int i = 0; i < t->ncols && t->names; i++)
        free(t->names[i]);
    free(t->names);
    free(t->types);
    memset(t, 0, sizeof *t);
}

static ssync_code table_open(ssync_edb_db *db, const char *name, file_table *t, ssync_error *err)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->base.ops = &file_ops;
    t->base.name = t->name;
    t->db = db;
    libesedb_error_t *e = NULL;
    int r =
        libesedb_file_get_table_by_utf8_name(db->f, (const uint8_t *)name, strlen(name), &t->t, &e);
    if (r == 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: no table %s (not an AD CS database?)", db->path,
                          name);
    int n = 0;
    if (r != 1 || libesedb_table_get_number_of_columns(t->t, &n, 0, &e) != 1 || n < 0)
        return esedb_fail(&e, err, "%s: table %s", db->path, name);
    t->names = calloc((size_t)n + 1, sizeof *t->names);
    t->types = calloc((size_t)n + 1, sizeof *t->types);
    if (!t->names || !t->types)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    for (int i = 0; i < n; i++, t->ncols++) {
        libesedb_column_t *c = NULL;
        size_t size = 0;
        uint32_t type = 0;
        if (libesedb_table_get_column(t->t, i, &c, 0, &e) != 1 ||
            libesedb_column_get_type(c, &type, &e) != 1 ||
            libesedb_column_get_utf8_name_size(c, &size, &e) != 1 || !size ||
            !(t->names[i] = malloc(size)) ||
            libesedb_column_get_utf8_name(c, (uint8_t *)t->names[i], size, &e) != 1) {
            libesedb_column_free(&c, NULL);
            t->ncols++;
            return esedb_fail(&e, err, "%s: table %s: column %d", db->path, name, i);
        }
        t->types[i] = (int)type;
        libesedb_column_free(&c, NULL);
    }
    return SSYNC_OK;
}

ssync_code ssync_edb_open(const char *path, ssync_edb_db **out, ssync_error *err)
{
    if (!path || !out)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_open");
    *out = NULL;
    ssync_edb_header h;
    ssync_code rc = ssync_edb_read_header(path, &h, err);
    if (rc != SSYNC_OK)
        return rc;
    ssync_edb_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    db->pages.fd = -1;
    libesedb_error_t *e = NULL;
    if (libesedb_file_initialize(&db->f, &e) != 1 ||
        libesedb_file_open(db->f, path, LIBESEDB_OPEN_READ, &e) != 1) {
        rc = esedb_fail(&e, err, "%s: cannot open the database", path);
    } else if ((rc = ssync_edb_pages_open(path, h.page_size, &db->pages, err)) == SSYNC_OK &&
               (rc = table_open(db, "Requests", &db->req, err)) == SSYNC_OK) {
        rc = table_open(db, "Certificates", &db->crt, err);
    }
    if (rc != SSYNC_OK) {
        ssync_edb_close(db);
        return rc;
    }
    *out = db;
    return SSYNC_OK;
}

ssync_edb_table *ssync_edb_requests(ssync_edb_db *db)
{
    return db ? &db->req.base : NULL;
}

ssync_edb_table *ssync_edb_certificates(ssync_edb_db *db)
{
    return db ? &db->crt.base : NULL;
}

void ssync_edb_close(ssync_edb_db *db)
{
    if (!db)
        return;
    table_close(&db->req);
    table_close(&db->crt);
    if (db->f) {
        libesedb_file_close(db->f, NULL);
        libesedb_file_free(&db->f, NULL);
    }
    ssync_edb_pages_close(&db->pages);
    free(db->path);
    free(db);
}
