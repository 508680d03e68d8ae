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
#include <sys/stat.h>

#define HEADER_SIZE 668
#define ESE_SIGNATURE 0x89abcdefu
#define ESE_FORMAT_VERSION 0x620
/* the newest format revision seen and read (Windows 11 24H2, Server 2025: 0x12c); newer ones
 * are refused rather than misread */
#define ESE_MAX_REVISION 0x12cu

static uint32_t rd16le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads header copy `copy` (0 primary, 1 shadow) into b (SSYNC_EDB_MAX_PAGE bytes): 1 when its
 * whole-page checksum holds, 0 when not, -1 on a read error, -2 when there is no ESE header
 * (too short, no signature, a page size ESE does not write). */
static int header_copy(FILE *f, int copy, unsigned char *b, uint32_t *page_size)
{
    if (fseeko(f, copy ? (off_t)*page_size : 0, SEEK_SET) != 0)
        return -1;
    size_t n = fread(b, 1, HEADER_SIZE, f);
    if (n < HEADER_SIZE)
        return ferror(f) ? -1 : -2;
    if (rd32(b + 4) != ESE_SIGNATURE)
        return -2;
    uint32_t ps = rd32(b + 236);
    if (ps != 4096 && ps != 8192 && ps != 16384 && ps != 32768)
        return -2;
    if (!copy)
        *page_size = ps;
    if (ps != *page_size)
        return 0;
    if (fread(b + HEADER_SIZE, 1, ps - HEADER_SIZE, f) != ps - HEADER_SIZE)
        return ferror(f) ? -1 : -2;
    /* an XOR of every DWORD of the page but the checksum, seeded with 0x89abcdef: newer ESE
     * (Windows 11) writes header fields past byte 668 */
    uint32_t x = ESE_SIGNATURE;
    for (size_t i = 4; i < ps; i += 4)
        x ^= rd32(b + i);
    return x == rd32(b);
}

ssync_code ssync_edb_read_header(const char *path, ssync_edb_header *h, ssync_error *err)
{
    return ssync_edb_read_header_ex(path, 0, h, err);
}

ssync_code ssync_edb_header_page(const char *path, unsigned char *b, int *from_shadow,
                                 ssync_error *err)
{
    *from_shadow = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: not an ESE database (a directory)", path);
    }
    uint32_t ps = 0;
    int ok = header_copy(f, 0, b, &ps);
    if (ok == 0) { /* the primary is damaged: its shadow copy, the second page */
        ok = header_copy(f, 1, b, &ps);
        *from_shadow = ok > 0;
        ok = ok < 0 && ok != -1 ? 0 : ok;
    }
    int rerr = ok == -1 ? errno : 0;
    fclose(f);
    if (ok == -1)
        return ssync_fail(err, SSYNC_ERR_FILE_READ, "%s: %s", path, strerror(rerr));
    if (ok == -2)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: not an ESE database (no ESE file header)", path);
    if (!ok)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "%s: damaged ESE file header (checksum mismatch in the header and its "
                          "shadow copy)",
                          path);
    if (rd32(b + 12) != 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: an ESE streaming file, not a database", path);
    return SSYNC_OK;
}

ssync_code ssync_edb_read_header_ex(const char *path, int allow_dirty, ssync_edb_header *h,
                                    ssync_error *err)
{
    memset(h, 0, sizeof *h);
    unsigned char *b = malloc(SSYNC_EDB_MAX_PAGE);
    if (!b)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    ssync_code rc = ssync_edb_header_page(path, b, &h->from_shadow, err);
    if (rc != SSYNC_OK) {
        free(b);
        return rc;
    }
    h->format_version = rd32(b + 8);
    h->state = rd32(b + 52);
    h->format_revision = rd32(b + 232);
    h->page_size = rd32(b + 236);
    free(b);
    if (h->format_version != ESE_FORMAT_VERSION)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "%s: ESE format version 0x%x is not supported (0x620 is: Windows 2000 "
                          "and later)",
                          path, h->format_version);
    if (h->format_revision > ESE_MAX_REVISION)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "%s: ESE format revision 0x%x is newer than this reader knows (0x%x)",
                          path, h->format_revision, ESE_MAX_REVISION);
    if (h->state != SSYNC_EDB_STATE_CLEAN && !allow_dirty)
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
    ssync_edb_header header;
    ssync_edb_pages pages;
    file_table *tabs; /* the tables opened; for a CA database Requests then Certificates */
    size_t ntabs;
    int single_values; /* the CA view: a multi-valued column is refused, not returned */
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

/* "ca.edb: column RawArchivedKey of Requests row 12 (RequestID 13)" for messages (the RequestID
 * only in tables that have one). */
static void where(file_table *t, int col, char *buf, size_t size)
{
    ssync_edb_raw r;
    int idc = ft_column(&t->base, "RequestID");
    if (idc >= 0 && raw_value(t, idc, &r) > 0 && r.len == 4)
        snprintf(buf, size, "%s: column %s of %s row %zu (RequestID %u)", t->db->path,
                 t->def.cols[col].name, t->def.name, t->cur, rd32(r.data));
    else
        snprintf(buf, size, "%s: column %s of %s row %zu", t->db->path, t->def.cols[col].name,
                 t->def.name, t->cur);
}

/* A separated long value: the record holds its id (4 or 8 bytes, little-endian); the bytes sit
 * in the table's long-value tree. */
static ssync_code read_lv(file_table *t, const char *at, const unsigned char *ref, size_t ref_len,
                          unsigned char **out, size_t *len, ssync_error *err)
{
    if (ref_len != 4 && ref_len != 8)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: a %zu-byte long-value id (4 or 8 expected)", at,
                          ref_len);
    if (!t->def.lv_root)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: table %s has no long-value tree", at,
                          t->def.name);
    uint64_t lid = 0;
    for (size_t k = ref_len; k > 0; k--)
        lid = lid << 8 | ref[k - 1];
    ssync_code rc =
        ssync_edb_pages_lv_read64(&t->db->pages, t->def.lv_root, lid, ref_len, out, len, err);
    return rc == SSYNC_OK ? rc : ssync_error_prefix(err, "%s: ", at);
}

/* The bytes of one stored value: inline or a separated long value; decompressed. */
static ssync_code instance_bytes(file_table *t, const char *at, const unsigned char *p, size_t n,
                                 int separated, int compressed, unsigned char **out, size_t *len,
                                 ssync_error *err)
{
    *out = NULL;
    *len = 0;
    if (separated)
        return read_lv(t, at, p, n, out, len, err);
    if (compressed) {
        ssync_code rc = ssync_edb_decompress(p, n, out, len, err);
        return rc == SSYNC_OK ? rc : ssync_error_prefix(err, "%s: compressed value: ", at);
    }
    if (!(*out = malloc(n ? n : 1)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    if (n)
        memcpy(*out, p, n);
    *len = n;
    return SSYNC_OK;
}

/* One value of a multi-valued tagged column (ESE source, tagfld.hxx MULTIVALUES / TWOVALUES):
 * two values as (length of the first, first, second); more as 2-byte offsets (the first says how
 * many; bit 15: the instance is a separated long value) then the values. ESE marks the whole
 * column compressed when its first instance is. */
static ssync_code multi_values(file_table *t, int col, const char *at, const ssync_edb_raw *r,
                               ssync_edb_value *v, ssync_error *err)
{
    const unsigned char *d = r->data;
    size_t n = r->len, count;
    size_t starts[2], ends[2];
    int two = (r->flags & SSYNC_EDB_TAG_TWO_VALUES) != 0;
    if (two) {
        if (n < 1 || d[0] > n - 1)
            return ssync_fail(err, SSYNC_ERR_EDB, "%s: malformed two-value column", at);
        count = 2;
        starts[0] = 1;
        ends[0] = starts[1] = 1 + (size_t)d[0];
        ends[1] = n;
    } else {
        count = n >= 2 ? (rd16le(d) & 0x7fffu) / 2 : 0;
        if (count == 0 || 2 * count > n)
            return ssync_fail(err, SSYNC_ERR_EDB, "%s: malformed multi-valued column", at);
    }
    if (!(v->items = calloc(count, sizeof *v->items)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    v->kind = SSYNC_EDB_MULTI;
    v->nitems = count;
    const ssync_edb_coldef *c = &t->def.cols[col];
    for (size_t i = 0; i < count; i++) {
        size_t from, to;
        int separated = 0;
        if (two) {
            from = starts[i];
            to = ends[i];
        } else {
            uint32_t o = rd16le(d + 2 * i);
            from = o & 0x7fffu;
            separated = (o & 0x8000u) != 0;
            to = i + 1 < count ? rd16le(d + 2 * i + 2) & 0x7fffu : n;
            if (from < 2 * count || to < from || to > n)
                return ssync_fail(err, SSYNC_ERR_EDB,
                                  "%s: value %zu of the multi-valued column lies outside it", at,
                                  i + 1);
        }
        unsigned char *bytes = NULL;
        size_t blen = 0;
        int compressed = i == 0 && (r->flags & SSYNC_EDB_TAG_COMPRESSED);
        ssync_code rc =
            instance_bytes(t, at, d + from, to - from, separated, compressed, &bytes, &blen, err);
        if (rc == SSYNC_OK)
            rc = ssync_edb_decode_value(c->type, c->codepage, bytes, blen, &v->items[i], err);
        if (rc != SSYNC_OK)
            return rc;
    }
    return SSYNC_OK;
}

static ssync_code ft_get(ssync_edb_table *bt, int col, ssync_edb_value *v, ssync_error *err)
{
    file_table *t = (file_table *)bt;
    memset(v, 0, sizeof *v);
    if (!t->have_row || col < 0 || (size_t)col >= t->def.ncols)
        return ssync_fail(err, SSYNC_ERR_ARG, "no current row or column");
    char at[300];
    ssync_edb_raw r;
    int k = raw_value(t, col, &r);
    if (k == 0)
        return SSYNC_OK;
    where(t, col, at, sizeof at);
    if (k < 0)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: malformed record", at);
    ssync_code rc;
    if ((r.flags & SSYNC_EDB_TAG_MULTI) && t->db->single_values) {
        /* AD CS stores one value per column: the CA logic reads kinds it expects */
        rc = ssync_fail(err, SSYNC_ERR_EDB,
                        "%s: multi-valued (flag byte 0x%02x), one value expected", at, r.flags);
    } else if (r.flags & SSYNC_EDB_TAG_MULTI) {
        rc = multi_values(t, col, at, &r, v, err);
    } else {
        unsigned char *data = NULL;
        size_t len = 0;
        rc = instance_bytes(t, at, r.data, r.len, (r.flags & SSYNC_EDB_TAG_SEPARATED) != 0,
                            (r.flags & SSYNC_EDB_TAG_COMPRESSED) != 0, &data, &len, err);
        if (rc == SSYNC_OK) {
            const ssync_edb_coldef *c = &t->def.cols[col];
            rc = ssync_edb_decode_value(c->type, c->codepage, data, len, v, err);
            if (rc == SSYNC_ERR_EDB)
                ssync_error_prefix(err, "%s: ", at);
        }
    }
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

ssync_code ssync_edb_open_tables(const char *path, const char *const *names, size_t n,
                                 int allow_dirty, ssync_edb_db **out, ssync_error *err)
{
    if (!path || !out || (n && !names))
        return ssync_fail(err, SSYNC_ERR_ARG, "ssync_edb_open_tables");
    *out = NULL;
    ssync_edb_header h;
    ssync_code rc = ssync_edb_read_header_ex(path, allow_dirty, &h, err);
    if (rc != SSYNC_OK)
        return rc;
    ssync_edb_db *db = calloc(1, sizeof *db);
    ssync_edb_tabledef *defs = calloc(n ? n : 1, sizeof *defs);
    if (!db || !defs || !(db->path = strdup(path)) ||
        !(db->tabs = calloc(n ? n : 1, sizeof *db->tabs))) {
        if (db)
            free(db->path);
        free(db);
        free(defs);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    db->header = h;
    db->pages.fd = -1;
    db->ntabs = n;
    for (size_t i = 0; i < n; i++)
        table_init(db, names[i], &db->tabs[i]);
    rc = ssync_edb_pages_open(path, h.page_size, h.format_revision, &db->pages, err);
    if (rc == SSYNC_OK) {
        for (size_t i = 0; i < n; i++)
            defs[i] = db->tabs[i].def;
        rc = ssync_edb_catalog_read(&db->pages, defs, n, err);
        for (size_t i = 0; i < n; i++)
            db->tabs[i].def = defs[i];
        if (rc != SSYNC_OK)
            ssync_error_prefix(err, "%s: ", path);
    }
    free(defs);
    for (size_t i = 0; i < n && rc == SSYNC_OK; i++) {
        file_table *t = &db->tabs[i];
        if (!t->def.found)
            rc = ssync_fail(err, SSYNC_ERR_EDB, "%s: no table %s", path, t->def.name);
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

ssync_code ssync_edb_open(const char *path, ssync_edb_db **out, ssync_error *err)
{
    static const char *const names[] = {"Requests", "Certificates"};
    ssync_code rc = ssync_edb_open_tables(path, names, 2, 0, out, err);
    if (rc == SSYNC_OK)
        (*out)->single_values = 1;
    size_t used = err ? strlen(err->msg) : 0;
    if (rc == SSYNC_ERR_EDB && err && strstr(err->msg, ": no table "))
        snprintf(err->msg + used, sizeof err->msg - used, " (not an AD CS database?)");
    return rc;
}

ssync_edb_table *ssync_edb_table_at(ssync_edb_db *db, size_t i)
{
    return db && i < db->ntabs ? &db->tabs[i].base : NULL;
}

size_t ssync_edb_column_count(ssync_edb_table *bt)
{
    return bt && bt->ops == &file_ops ? ((file_table *)bt)->def.ncols : 0;
}

const char *ssync_edb_column_name(ssync_edb_table *bt, size_t i)
{
    return i < ssync_edb_column_count(bt) ? ((file_table *)bt)->def.cols[i].name : NULL;
}

uint32_t ssync_edb_column_type(ssync_edb_table *bt, size_t i)
{
    return i < ssync_edb_column_count(bt) ? ((file_table *)bt)->def.cols[i].type : 0;
}

const ssync_edb_header *ssync_edb_db_header(const ssync_edb_db *db)
{
    return db ? &db->header : NULL;
}

ssync_edb_table *ssync_edb_requests(ssync_edb_db *db)
{
    return ssync_edb_table_at(db, 0);
}

ssync_edb_table *ssync_edb_certificates(ssync_edb_db *db)
{
    return ssync_edb_table_at(db, 1);
}

void ssync_edb_close(ssync_edb_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->ntabs; i++)
        table_close(&db->tabs[i]);
    free(db->tabs);
    ssync_edb_pages_close(&db->pages);
    free(db->path);
    free(db);
}
