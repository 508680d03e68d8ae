/* Streaming any table's rows (edb/inspect.h): the cursor holds one leaf page and follows the
 * leaf chain; each row's selected columns are decoded by their catalog type (integers, reals,
 * dates, text in its code page, binary), separated long values are read from the table's
 * long-value tree, compressed values inflated, multi-valued columns split into their values
 * (ESE source, dev/ese/src/inc/tagfld.hxx: an array of 2-byte offsets, bit 15 marks a separated
 * value; with the "two values" flag, one length byte). Memory: one page and the current row. */
#include "edb/edb.h"
#include "edb/inspect_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_TWO_VALUES 0x10 /* TAGFLD_HEADER fTwoValues */

struct ssync_edb_cursor {
    ssync_edb_inspect *db;
    const ssync_edb_itable *t;
    size_t *cols, ncols;
    ssync_edb_field *fields;
    unsigned char *buf;
    ssync_edb_page pg;
    int started, done;
    uint32_t tag;
    size_t row;    /* rows returned */
    int row_error; /* the last -1 was one row's value: the next call goes on */
    const unsigned char *rec;
    size_t rec_len;
};

static uint64_t rd_le(const unsigned char *p, size_t n)
{
    uint64_t u = 0;
    for (size_t k = n < 8 ? n : 8; k > 0; k--)
        u = (u << 8) | p[k - 1];
    return u;
}

static void fields_reset(ssync_edb_cursor *c)
{
    for (size_t i = 0; i < c->ncols; i++) {
        ssync_edb_field *f = &c->fields[i];
        for (size_t k = 0; k < f->ncells; k++)
            free(f->cells[k].data);
        free(f->cells);
        f->cells = NULL;
        f->ncells = 0;
        f->multi = 0;
    }
}

ssync_code ssync_edb_cursor_open(ssync_edb_inspect *db, size_t table, const size_t *cols,
                                 size_t ncols, ssync_edb_cursor **out, ssync_error *err)
{
    if (!db || !out || table >= db->ntables)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_cursor_open");
    *out = NULL;
    const ssync_edb_itable *t = &db->tables[table];
    size_t n = cols ? ncols : t->ncols;
    ssync_edb_cursor *c = calloc(1, sizeof *c);
    if (!c)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    c->db = db;
    c->t = t;
    c->ncols = n;
    c->cols = calloc(n ? n : 1, sizeof *c->cols);
    c->fields = calloc(n ? n : 1, sizeof *c->fields);
    c->buf = malloc(db->pages.page_size);
    if (!c->cols || !c->fields || !c->buf) {
        ssync_edb_cursor_close(c);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        c->cols[i] = cols ? cols[i] : i;
        if (c->cols[i] >= t->ncols) {
            ssync_edb_cursor_close(c);
            return ssync_fail(err, SSYNC_ERR_ARG, "table %s: no column %zu", t->name,
                              cols ? cols[i] : i);
        }
        c->fields[i].col = &t->cols[c->cols[i]];
    }
    *out = c;
    return SSYNC_OK;
}

void ssync_edb_cursor_close(ssync_edb_cursor *c)
{
    if (!c)
        return;
    if (c->fields)
        fields_reset(c);
    free(c->fields);
    free(c->cols);
    free(c->buf);
    free(c);
}

int ssync_edb_cursor_row_error(const ssync_edb_cursor *c)
{
    return c ? c->row_error : 0;
}

size_t ssync_edb_cursor_row(const ssync_edb_cursor *c)
{
    return c ? c->row : 0;
}

/* The next live record: 1, 0 at the end, -1 on error. */
static int next_record(ssync_edb_cursor *c, ssync_error *err)
{
    ssync_edb_pages *p = &c->db->pages;
    if (c->done)
        return 0;
    if (!c->started) {
        if (ssync_edb_tree_first_leaf(p, c->t->root, c->buf, &c->pg, err) != SSYNC_OK)
            return -1;
        c->started = 1;
        c->tag = 0;
    }
    for (uint64_t visits = 0;; visits++) {
        if (visits > p->npages) {
            ssync_fail(err, SSYNC_ERR_EDB, "its leaf pages loop");
            return -1;
        }
        if (!(c->pg.flags & (SSYNC_EDB_PAGE_LEAF | SSYNC_EDB_PAGE_EMPTY))) {
            ssync_fail(err, SSYNC_ERR_EDB, "page %u is not a leaf page", c->pg.pgno);
            return -1;
        }
        while (!(c->pg.flags & SSYNC_EDB_PAGE_EMPTY) && ++c->tag < c->pg.ntags) {
            ssync_edb_node n;
            int r = ssync_edb_page_node(&c->pg, c->tag, &n);
            if (r < 0) {
                ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed entry %u", c->pg.pgno, c->tag);
                return -1;
            }
            if (r == 1) {
                c->rec = n.data;
                c->rec_len = n.dlen;
                return 1;
            }
        }
        if (!c->pg.next) {
            c->done = 1;
            return 0;
        }
        if (ssync_edb_page_read(p, c->pg.next, c->buf, &c->pg, err) != SSYNC_OK)
            return -1;
        c->tag = 0;
    }
}

/* 8-bit text (ASCII, Windows-1252 read as Latin-1) to UTF-8, or UTF-16LE (code page 1200);
 * a trailing NUL dropped. */
static unsigned char *text_utf8(const unsigned char *p, size_t len, uint32_t codepage,
                                size_t *out_len)
{
    char *s = NULL;
    if (codepage == 1200 && len % 2) {
        /* a fixed Unicode column of odd size (255) keeps the low byte of its last unit */
        unsigned char *even = malloc(len + 1);
        if (even) {
            memcpy(even, p, len);
            even[len] = 0;
            s = ssync_edb_utf16_to_utf8(even, len + 1);
            free(even);
        }
    } else if (codepage == 1200) {
        s = ssync_edb_utf16_to_utf8(p, len);
    } else if ((s = malloc(2 * len + 1)) != NULL) {
        char *o = s;
        for (size_t i = 0; i < len && p[i]; i++) {
            if (p[i] < 0x80) {
                *o++ = (char)p[i];
            } else {
                *o++ = (char)(0xc0 | p[i] >> 6);
                *o++ = (char)(0x80 | (p[i] & 0x3f));
            }
        }
        *o = '\0';
    }
    if (s)
        *out_len = strlen(s);
    return (unsigned char *)s;
}

/* An OLE automation date (days since 1899-12-30) of any year from 100 to 9999: the CA reader's
 * decoding stops at 1601 (FILETIME's epoch), but a generic DateTime column may hold older dates
 * (dissect.esedb's basic.edb holds 1337-06-09). 0 and *t, or -1. */
static int ole_any(const unsigned char raw[8], time_t *t)
{
    double d;
    memcpy(&d, raw, sizeof d);
    if (!(d >= -657434.0 && d <= 2958466.0) || d == 0.0)
        return -1;
    double secs = (d - 25569.0) * 86400.0;
    *t = (time_t)(secs < 0 ? secs - 0.5 : secs + 0.5);
    return 0;
}

/* One value's bytes (owned by the cell) into a typed cell. */
static ssync_code typed(const ssync_edb_column *col, unsigned char *data, size_t len,
                        ssync_edb_cell *cell, ssync_error *err)
{
    memset(cell, 0, sizeof *cell);
    uint64_t u = rd_le(data, len);
    switch (col->type) {
    case SSYNC_EDB_COLTYP_BIT:
        cell->kind = SSYNC_EDB_CELL_INT;
        cell->i = u != 0;
        break;
    case SSYNC_EDB_COLTYP_SHORT:
        cell->kind = SSYNC_EDB_CELL_INT;
        cell->i = len == 2 ? (int16_t)(uint16_t)u : (long long)u;
        break;
    case SSYNC_EDB_COLTYP_LONG:
        cell->kind = SSYNC_EDB_CELL_INT;
        cell->i = len == 4 ? (int32_t)(uint32_t)u : (long long)u;
        break;
    case SSYNC_EDB_COLTYP_CURRENCY:
    case SSYNC_EDB_COLTYP_LONG_LONG:
        cell->kind = SSYNC_EDB_CELL_INT;
        cell->i = (long long)u;
        break;
    case SSYNC_EDB_COLTYP_UNSIGNED_BYTE:
    case SSYNC_EDB_COLTYP_UNSIGNED_SHORT:
    case SSYNC_EDB_COLTYP_UNSIGNED_LONG:
        cell->kind = SSYNC_EDB_CELL_UINT;
        cell->i = (long long)u;
        break;
    case SSYNC_EDB_COLTYP_IEEE_SINGLE:
    case SSYNC_EDB_COLTYP_IEEE_DOUBLE:
        cell->kind = SSYNC_EDB_CELL_REAL;
        if (len == 4) {
            float f;
            memcpy(&f, data, 4);
            cell->real = f;
        } else if (len == 8) {
            memcpy(&cell->real, data, 8);
        } else {
            cell->kind = SSYNC_EDB_CELL_BINARY;
        }
        break;
    case SSYNC_EDB_COLTYP_DATETIME:
        /* eight zero bytes: no date set (NULL); a value that is no date in either encoding
         * stays its bytes */
        if (len == 8 && u == 0)
            cell->kind = SSYNC_EDB_CELL_NULL;
        else if (len == 8 &&
                 (ssync_edb_decode_datetime(data, &cell->t) == 0 || ole_any(data, &cell->t) == 0))
            cell->kind = SSYNC_EDB_CELL_DATE;
        else
            cell->kind = SSYNC_EDB_CELL_BINARY;
        break;
    case SSYNC_EDB_COLTYP_TEXT:
    case SSYNC_EDB_COLTYP_LONG_TEXT: {
        size_t n = 0;
        unsigned char *s = text_utf8(data, len, col->codepage, &n);
        free(data);
        if (!s)
            return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
        cell->kind = SSYNC_EDB_CELL_TEXT;
        cell->data = s;
        cell->len = n;
        return SSYNC_OK;
    }
    default:
        cell->kind = SSYNC_EDB_CELL_BINARY;
        break;
    }
    if (cell->kind == SSYNC_EDB_CELL_BINARY) {
        cell->data = data;
        cell->len = len;
    } else {
        free(data);
    }
    return SSYNC_OK;
}

/* One stored value: its bytes (a separated long value read from the tree; inflated when the
 * flags say compressed) into a cell. */
static ssync_code value(ssync_edb_cursor *c, const ssync_edb_column *col, const unsigned char *p,
                        size_t len, int separated, int compressed, ssync_edb_cell *cell,
                        ssync_error *err)
{
    unsigned char *data = NULL;
    size_t size = 0;
    ssync_code rc = SSYNC_OK;
    if (separated) {
        if (len != 4 && len != 8) /* 8-byte ids: LID64, Windows 10 on */
            return ssync_fail(err, SSYNC_ERR_EDB, "a %zu-byte long-value id (4 or 8 expected)",
                              len);
        if (!c->t->lv_root)
            return ssync_fail(err, SSYNC_ERR_EDB,
                              "a long value, but the table has no "
                              "long-value tree");
        rc = ssync_edb_pages_lv_read64(&c->db->pages, c->t->lv_root, rd_le(p, len), len, &data,
                                       &size, err);
    } else if ((data = malloc(len ? len : 1)) == NULL) {
        rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    } else {
        if (len)
            memcpy(data, p, len);
        size = len;
    }
    if (rc == SSYNC_OK && compressed && size) {
        unsigned char *plain = NULL;
        size_t plen = 0;
        rc = ssync_edb_decompress(data, size, &plain, &plen, err);
        free(data);
        data = plain;
        size = plen;
    }
    if (rc != SSYNC_OK) {
        free(data);
        return rc;
    }
    return typed(col, data, size, cell, err);
}

static ssync_code add_cell(ssync_edb_field *f, size_t max, ssync_error *err)
{
    ssync_edb_cell *cells = realloc(f->cells, (max ? max : 1) * sizeof *cells);
    if (!cells)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    f->cells = cells;
    return SSYNC_OK;
}

/* A multi-valued column's values. */
static ssync_code multi(ssync_edb_cursor *c, ssync_edb_field *f, const ssync_edb_raw *r,
                        ssync_error *err)
{
    const unsigned char *p = r->data;
    size_t len = r->len;
    int compressed = (r->flags & SSYNC_EDB_TAG_COMPRESSED) != 0;
    f->multi = 1;
    if (r->flags & TAG_TWO_VALUES) {
        if (len < 1 || (size_t)p[0] + 1 > len)
            return ssync_fail(err, SSYNC_ERR_EDB, "a malformed two-valued value");
        if (add_cell(f, 2, err) != SSYNC_OK)
            return SSYNC_ERR_NOMEM;
        size_t first = p[0];
        ssync_code rc = value(c, f->col, p + 1, first, 0, 0, &f->cells[0], err);
        if (rc != SSYNC_OK)
            return rc;
        f->ncells = 1;
        rc = value(c, f->col, p + 1 + first, len - 1 - first, 0, 0, &f->cells[1], err);
        f->ncells += rc == SSYNC_OK;
        return rc;
    }
    if (len < 2)
        return ssync_fail(err, SSYNC_ERR_EDB, "a malformed multi-valued value");
    size_t n = (rd_le(p, 2) & 0x7fffu) / 2;
    if (n == 0 || 2 * n > len)
        return ssync_fail(err, SSYNC_ERR_EDB, "a malformed multi-valued value (%zu offsets)", n);
    if (add_cell(f, n, err) != SSYNC_OK)
        return SSYNC_ERR_NOMEM;
    for (size_t k = 0; k < n; k++) {
        uint32_t raw = (uint32_t)rd_le(p + 2 * k, 2);
        size_t start = raw & 0x7fffu;
        size_t end = k + 1 < n ? (rd_le(p + 2 * k + 2, 2) & 0x7fffu) : len;
        if (start < 2 * n || end < start || end > len)
            return ssync_fail(err, SSYNC_ERR_EDB,
                              "value %zu of a multi-valued value is out of "
                              "bounds",
                              k + 1);
        ssync_code rc = value(c, f->col, p + start, end - start, (raw & 0x8000u) != 0, compressed,
                              &f->cells[k], err);
        if (rc != SSYNC_OK)
            return ssync_error_prefix(err, "value %zu: ", k + 1);
        f->ncells++;
    }
    return SSYNC_OK;
}

static ssync_code decode_field(ssync_edb_cursor *c, size_t i, ssync_error *err)
{
    ssync_edb_field *f = &c->fields[i];
    const ssync_edb_column *col = f->col;
    ssync_edb_raw r;
    int k = ssync_edb_record_find(c->rec, c->rec_len, c->t->defs, c->t->ncols, col->id,
                                  ssync_edb_inspect_flags_always(c->db), &r);
    if (k < 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "a malformed record");
    if (k == 0) {
        /* a tagged column absent from the record has its default value (a fixed or variable
         * column's default is written into the record when it is inserted) */
        size_t ci = c->cols[i];
        if (col->id < 256 || !c->t->dflt[ci])
            return SSYNC_OK;
        r.data = c->t->dflt[ci];
        r.len = c->t->dflt_len[ci];
        r.flags = 0;
    }
    if (r.flags & (SSYNC_EDB_TAG_MULTI | TAG_TWO_VALUES))
        return multi(c, f, &r, err);
    if (add_cell(f, 1, err) != SSYNC_OK)
        return SSYNC_ERR_NOMEM;
    ssync_code rc = value(c, col, r.data, r.len, (r.flags & SSYNC_EDB_TAG_SEPARATED) != 0,
                          (r.flags & SSYNC_EDB_TAG_COMPRESSED) != 0, &f->cells[0], err);
    f->ncells = rc == SSYNC_OK;
    return rc;
}

int ssync_edb_cursor_next(ssync_edb_cursor *c, const ssync_edb_field **fields, size_t *nfields,
                          ssync_error *err)
{
    if (!c)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_cursor_next"), -1;
    fields_reset(c);
    c->row_error = 0;
    int r = next_record(c, err);
    if (r < 0)
        ssync_error_prefix(err, "%s: table %s: ", c->db->path, c->t->name);
    if (r <= 0)
        return r;
    c->row++;
    if (fields)
        *fields = c->fields;
    if (nfields)
        *nfields = c->ncols;
    for (size_t i = 0; i < c->ncols; i++)
        if (decode_field(c, i, err) != SSYNC_OK) {
            ssync_error_prefix(err, "%s: table %s, row %zu, column %s: ", c->db->path, c->t->name,
                               c->row, c->fields[i].col->name);
            c->row_error = 1;
            return -1;
        }
    return 1;
}

/* ---- the CA at a glance ---- */

static int column_index(const ssync_edb_itable *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (!strcmp(t->cols[i].name, name))
            return (int)i;
    return -1;
}

ssync_code ssync_edb_inspect_ca(ssync_edb_inspect *db, ssync_edb_ca_summary *s, ssync_error *err)
{
    if (!db || !s)
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_inspect_ca");
    memset(s, 0, sizeof *s);
    int req = ssync_edb_inspect_find_table(db, "Requests");
    int crt = ssync_edb_inspect_find_table(db, "Certificates");
    if (req < 0 || crt < 0)
        return SSYNC_OK;
    const ssync_edb_itable *t = &db->tables[req];
    int id = column_index(t, "RequestID"), disp = column_index(t, "Disposition");
    int key = column_index(t, "RawArchivedKey");
    if (id < 0 || disp < 0)
        return SSYNC_OK;
    s->is_ca = 1;
    ssync_code rc = ssync_edb_inspect_count(db, (size_t)crt, &s->certificates, err);
    if (rc != SSYNC_OK)
        return rc;
    size_t cols[2] = {(size_t)id, (size_t)disp};
    ssync_edb_cursor *c;
    if ((rc = ssync_edb_cursor_open(db, (size_t)req, cols, 2, &c, err)) != SSYNC_OK)
        return rc;
    const ssync_edb_field *f;
    int r;
    while ((r = ssync_edb_cursor_next(c, &f, NULL, err)) == 1) {
        s->requests++;
        if (f[0].ncells && f[0].cells[0].i > s->max_request_id)
            s->max_request_id = f[0].cells[0].i;
        long long d = f[1].ncells ? f[1].cells[0].i : 0;
        s->issued += d == SSYNC_EDB_DISP_ISSUED;
        s->revoked += d == SSYNC_EDB_DISP_REVOKED;
        ssync_edb_raw raw; /* whether a key is archived: no need to read the long value */
        if (key >= 0 &&
            ssync_edb_record_find(c->rec, c->rec_len, t->defs, t->ncols, t->cols[key].id,
                                  ssync_edb_inspect_flags_always(db), &raw) > 0)
            s->archived_keys++;
    }
    ssync_edb_cursor_close(c);
    return r < 0 ? (err ? err->code : SSYNC_ERR_EDB) : SSYNC_OK;
}
