/* The CA database read with our own page reader: header checks, the catalog, tables behind the
 * row interface with rows streamed from their leaf pages, columns by name, values by column
 * type, separated long values and compressed values. Memory: one page per table, the page
 * reader's scratch page, and an index of 16 bytes per leaf page (to load row i directly). */
#include "edb/ese_catalog.h"
#include "edb/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_SIZE 668
#define ESE_SIGNATURE 0x89abcdefu

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
            "%s: %u KiB pages (a Windows Server 2025 database) are not supported; export "
            "recovery blobs with certutil -getkey and use [source] type = blobs",
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

typedef struct leaf_ix {
    uint32_t pgno;
    size_t first; /* index of its first row */
} leaf_ix;

typedef struct file_table {
    ssync_edb_table base; /* first: the interface */
    struct ssync_edb_db *db;
    ssync_edb_tabledef def;
    leaf_ix *leaves;
    size_t nleaves, nrows;
    int counted;
    unsigned char *buf; /* the table's current leaf page */
    ssync_edb_page page;
    int have_page;
    const unsigned char *rec; /* the current row's record, inside buf */
    size_t rec_len, cur;
    uint32_t cur_tag; /* the current row's tag on the page */
    int have_row;
} file_table;

struct ssync_edb_db {
    char *path;
    ssync_edb_pages pages;
    file_table req, crt;
};

static int tag_flags_always(const file_table *t)
{
    return t->db->pages.header_size > 40;
}

/* The leaf index: the pages of the leaf level in key order (following their next links) and
 * the number of live rows on each. */
static ssync_code build_index(file_table *t, ssync_error *err)
{
    ssync_edb_pages *p = &t->db->pages;
    ssync_code rc = ssync_edb_tree_first_leaf(p, t->def.root, t->buf, &t->page, err);
    for (uint64_t visits = 0; rc == SSYNC_OK; visits++) {
        t->have_page = 1;
        if (visits >= p->npages)
            return ssync_fail(err, SSYNC_ERR_EDB, "table %s: its leaf pages loop", t->def.name);
        if (!(t->page.flags & (SSYNC_EDB_PAGE_LEAF | SSYNC_EDB_PAGE_EMPTY)))
            return ssync_fail(err, SSYNC_ERR_EDB, "table %s: page %u is not a leaf page",
                              t->def.name, t->page.pgno);
        if (t->nleaves % 256 == 0) {
            leaf_ix *l = realloc(t->leaves, (t->nleaves + 256) * sizeof *l);
            if (!l)
                return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
            t->leaves = l;
        }
        t->leaves[t->nleaves].pgno = t->page.pgno;
        t->leaves[t->nleaves++].first = t->nrows;
        for (uint32_t i = 1; i < t->page.ntags && !(t->page.flags & SSYNC_EDB_PAGE_EMPTY); i++) {
            ssync_edb_node n;
            int r = ssync_edb_page_node(&t->page, i, &n);
            if (r < 0)
                return ssync_fail(err, SSYNC_ERR_EDB, "table %s: page %u: malformed entry %u",
                                  t->def.name, t->page.pgno, i);
            t->nrows += (size_t)r;
        }
        if (!t->page.next)
            break;
        rc = ssync_edb_page_read(p, t->page.next, t->buf, &t->page, err);
    }
    if (rc != SSYNC_OK)
        return ssync_error_prefix(err, "table %s: ", t->def.name);
    t->counted = 1;
    return SSYNC_OK;
}

static ssync_code ft_count(ssync_edb_table *bt, size_t *n, ssync_error *err)
{
    file_table *t = (file_table *)bt;
    ssync_code rc = t->counted ? SSYNC_OK : build_index(t, err);
    *n = t->nrows;
    return rc;
}

static ssync_code ft_load(ssync_edb_table *bt, size_t i, ssync_error *err)
{
    file_table *t = (file_table *)bt;
    ssync_code rc = t->counted ? SSYNC_OK : build_index(t, err);
    if (rc != SSYNC_OK)
        return rc;
    if (i >= t->nrows)
        return ssync_fail(err, SSYNC_ERR_EDB, "table %s: no row %zu", t->def.name, i);
    size_t lo = 0, hi = t->nleaves; /* the last leaf whose first row is <= i */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->leaves[mid].first <= i)
            lo = mid;
        else
            hi = mid;
    }
    const leaf_ix *l = &t->leaves[lo];
    /* rows of one page are loaded in order: go on from the current row's tag */
    uint32_t tag = 1;
    size_t at = l->first;
    if (t->have_page && t->page.pgno == l->pgno) {
        if (t->have_row && t->cur <= i && t->cur >= l->first) {
            tag = t->cur_tag;
            at = t->cur;
        }
    } else {
        t->have_row = 0;
        if ((rc = ssync_edb_page_read(&t->db->pages, l->pgno, t->buf, &t->page, err)) != SSYNC_OK) {
            t->have_page = 0;
            return ssync_error_prefix(err, "table %s: ", t->def.name);
        }
        t->have_page = 1;
    }
    for (; tag < t->page.ntags; tag++) {
        ssync_edb_node n;
        int r = ssync_edb_page_node(&t->page, tag, &n);
        if (r < 0)
            break;
        if (r == 0)
            continue;
        if (at++ == i) {
            t->rec = n.data;
            t->rec_len = n.dlen;
            t->cur = i;
            t->cur_tag = tag;
            t->have_row = 1;
            bt->loads++;
            return SSYNC_OK;
        }
    }
    t->have_row = 0;
    return ssync_fail(err, SSYNC_ERR_EDB, "table %s: page %u changed or is malformed (row %zu)",
                      t->def.name, l->pgno, i);
}

static int ft_column(ssync_edb_table *bt, const char *name)
{
    file_table *t = (file_table *)bt;
    for (size_t i = 0; i < t->def.ncols; i++)
        if (!strcmp(t->def.cols[i].name, name))
            return (int)i;
    return -1;
}

/* The raw value of column col of the current row: 1 found, 0 NULL, -1 malformed. */
static int raw_value(file_table *t, int col, ssync_edb_raw *r)
{
    if (!t->have_row || col < 0 || (size_t)col >= t->def.ncols)
        return 0;
    return ssync_edb_record_find(t->rec, t->rec_len, t->def.cols, t->def.ncols, t->def.cols[col].id,
                                 tag_flags_always(t), r);
}

static int ft_is_null(ssync_edb_table *bt, int col)
{
    ssync_edb_raw r;
    return raw_value((file_table *)bt, col, &r) <= 0;
}

/* "column RawArchivedKey of Requests row 12 (RequestID 13)" for messages. */
static void where(file_table *t, int col, char *buf, size_t size)
{
    ssync_edb_raw r;
    int idc = ft_column(&t->base, "RequestID");
    uint32_t id = 0;
    if (idc >= 0 && raw_value(t, idc, &r) > 0 && r.len == 4)
        id = rd32(r.data);
    snprintf(buf, size, "column %s of %s row %zu (RequestID %u)", t->def.cols[col].name,
             t->def.name, t->cur, id);
}

/* A separated long value: the record holds its id (little-endian); the bytes sit in the
 * table's long-value tree. */
static ssync_code read_lv(file_table *t, int col, const ssync_edb_raw *ref, unsigned char **out,
                          size_t *len, ssync_error *err)
{
    char at[200];
    where(t, col, at, sizeof at);
    if (ref->len != 4)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "%s: %zu-byte long-value id (large long-value ids, Windows Server "
                          "2025) is not supported; export recovery blobs with certutil -getkey "
                          "and use [source] type = blobs",
                          at, ref->len);
    if (!t->def.lv_root)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: table %s has no long-value tree", at,
                          t->def.name);
    ssync_code rc =
        ssync_edb_pages_lv_read(&t->db->pages, t->def.lv_root, rd32(ref->data), out, len, err);
    return rc == SSYNC_OK ? rc : ssync_error_prefix(err, "%s: ", at);
}

/* The bytes of a column: inline, or a separated long value; decompressed. */
static ssync_code raw_bytes(file_table *t, int col, unsigned char **out, size_t *len,
                            ssync_error *err)
{
    *out = NULL;
    *len = 0;
    char at[200];
    ssync_edb_raw r;
    int k = raw_value(t, col, &r);
    if (k < 0) {
        where(t, col, at, sizeof at);
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: malformed record", at);
    }
    if (r.flags & SSYNC_EDB_TAG_MULTI) {
        where(t, col, at, sizeof at);
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: multi-valued, not expected here", at);
    }
    unsigned char *data = NULL;
    size_t size = 0;
    ssync_code rc = SSYNC_OK;
    if (r.flags & SSYNC_EDB_TAG_SEPARATED) {
        rc = read_lv(t, col, &r, &data, &size, err);
    } else {
        size = r.len;
        if ((data = malloc(size ? size : 1)) == NULL)
            return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
        if (size)
            memcpy(data, r.data, size);
    }
    if (rc == SSYNC_OK && (r.flags & SSYNC_EDB_TAG_COMPRESSED)) {
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
    if (!t->have_row || col < 0 || (size_t)col >= t->def.ncols)
        return ssync_fail(err, SSYNC_ERR_ARG, "no current row or column");
    if (ft_is_null(bt, col))
        return SSYNC_OK;
    unsigned char *data = NULL;
    size_t len = 0;
    ssync_code rc = raw_bytes(t, col, &data, &len, err);
    if (rc != SSYNC_OK)
        return rc;
    char at[200];
    uint32_t type = t->def.cols[col].type;
    switch (type) {
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
        if (type == COLTYP_LONG && len == 4)
            v->i = (int32_t)(uint32_t)u;
        else if (type == COLTYP_SHORT && len == 2)
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
    ssync_edb_tabledef_free(&t->def);
    free(t->leaves);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

static void table_init(ssync_edb_db *db, const char *name, file_table *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->def.name, sizeof t->def.name, "%s", name);
    t->base.ops = &file_ops;
    t->base.name = t->def.name;
    t->db = db;
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
    table_init(db, "Requests", &db->req);
    table_init(db, "Certificates", &db->crt);
    rc = ssync_edb_pages_open(path, h.page_size, h.format_revision, &db->pages, err);
    if (rc == SSYNC_OK) {
        ssync_edb_tabledef tabs[2] = {db->req.def, db->crt.def};
        rc = ssync_edb_catalog_read(&db->pages, tabs, 2, err);
        db->req.def = tabs[0];
        db->crt.def = tabs[1];
        if (rc != SSYNC_OK)
            ssync_error_prefix(err, "%s: ", path);
    }
    for (int i = 0; i < 2 && rc == SSYNC_OK; i++) {
        file_table *t = i ? &db->crt : &db->req;
        if (!t->def.found)
            rc = ssync_fail(err, SSYNC_ERR_EDB, "%s: no table %s (not an AD CS database?)", path,
                            t->def.name);
        else if (!(t->buf = malloc(db->pages.page_size)))
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
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
    ssync_edb_pages_close(&db->pages);
    free(db->path);
    free(db);
}
