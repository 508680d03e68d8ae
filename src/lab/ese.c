/* The lab's ESE writer: file header, records (fixed, variable, tagged columns; separated long
 * values) and the catalog (MSysObjects at page 4, its shadow at page 24). */
#include "ese.h"
#include "ese_tree.h"
#include "ese_xpress.h"
#include "lab.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ESE_HEADER_SIZE 668
#define ESE_FORMAT_VERSION 0x620
#define ESE_FORMAT_REVISION 0x14
#define ESE_CATALOG_PAGE 4
#define ESE_CATALOG_SHADOW_PAGE 24
#define ESE_FIRST_DATA_PAGE 25
#define ESE_LV_CHUNK 1024 /* small chunks, so archived keys span several segments */
#define ESE_MAX_RECORD 4000

/* tagged value flags (the byte before the value when offset bit 0x4000 is set), as ESE's
 * TAGFLD_HEADER: every value of a LongBinary/LongText column carries fLongValue; a value in the
 * long-value tree adds fSeparated (0x05 in real files); compression only ever marks a value kept
 * in the record (ESE asserts !(fSeparatedLV && fCompressedLV)) */
#define ESE_TAG_LONG_COLUMN 0x01
#define ESE_TAG_COMPRESSED 0x02
#define ESE_TAG_SEPARATED 0x04

/* catalog (MSysObjects) record types */
enum { CAT_TABLE = 1, CAT_COLUMN = 2, CAT_LONG_VALUE = 4 };

typedef struct ese_tbl {
    char *name;
    ese_column *cols;
    size_t ncols;
    uint32_t objid, lv_objid;
    ese_tree data, lvs;
    uint64_t next_lid;
    long long last_key;
    int have_key;
} ese_tbl;

struct ese_writer {
    ese_file f;
    ese_opts o;
    char *path;
    ese_tbl *t;
    size_t nt;
    int started;
};

uint32_t ese_header_checksum(const unsigned char *hdr, size_t size)
{
    uint32_t x = 0x89abcdefu;
    for (size_t i = 4; i + 3 < size; i += 4)
        x ^= (uint32_t)hdr[i] | (uint32_t)hdr[i + 1] << 8 | (uint32_t)hdr[i + 2] << 16 |
             (uint32_t)hdr[i + 3] << 24;
    return x;
}

ese_writer *ese_create(const char *path, const ese_opts *opts)
{
    ese_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        lab_err("out of memory");
        return NULL;
    }
    if (opts)
        w->o = *opts;
    if (!w->o.page_size)
        w->o.page_size = 8192;
    if (!w->o.state)
        w->o.state = 3;
    if (!w->o.lv_key_size)
        w->o.lv_key_size = 4;
    if (w->o.page_size != 4096 && w->o.page_size != 8192 && w->o.page_size != 16384 &&
        w->o.page_size != 32768) {
        free(w->path);
        free(w);
        lab_err("ESE page size %u: 4096, 8192, 16384 or 32768", opts->page_size);
        return NULL;
    }
    w->f.page_size = w->o.page_size;
    w->f.header = w->o.page_size >= 16384 ? ESE_PAGE_HEADER_EXT : ESE_PAGE_HEADER;
    w->f.next_pgno = ESE_FIRST_DATA_PAGE;
    w->f.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->f.fd < 0) {
        lab_err("%s: %s", path, strerror(errno));
        free(w->path);
        free(w);
        return NULL;
    }
    return w;
}

int ese_table(ese_writer *w, const char *name, const ese_column *cols, size_t ncols)
{
    if (w->started || !ncols || cols[0].id != 1 || cols[0].type != ESE_COLTYP_LONG) {
        lab_err("%s: tables come first and are keyed on a fixed Long column 1", name);
        return -1;
    }
    ese_tbl *t = realloc(w->t, (w->nt + 1) * sizeof *t);
    if (!t) {
        lab_err("out of memory");
        return -1;
    }
    w->t = t;
    t = &w->t[w->nt];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    t->cols = malloc(ncols * sizeof *cols);
    if (!t->name || !t->cols) {
        free(t->name);
        free(t->cols);
        lab_err("out of memory");
        return -1;
    }
    memcpy(t->cols, cols, ncols * sizeof *cols);
    t->ncols = ncols;
    /* object ids after the system tables' (MSysObjects 2, its shadow 3, ...) */
    t->objid = 16 + 2 * (uint32_t)w->nt;
    t->lv_objid = t->objid + 1;
    t->data.objid = t->objid;
    t->lvs.objid = t->lv_objid;
    t->lvs.flags = ESE_PAGE_LONG_VALUE;
    return (int)w->nt++;
}

static void put_be(unsigned char *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

/* Stores one separated long value: the LVROOT node (key = the id, big-endian; data = reference
 * count and size) and its chunks (key = id and byte offset, both big-endian). */
static int write_lv(ese_writer *w, ese_tbl *t, uint64_t lid, const unsigned char *data, size_t len)
{
    unsigned ks = w->o.lv_key_size;
    unsigned char key[16], root[8];
    put_be(key, lid, ks);
    ese_put32(root, 1);
    ese_put32(root + 4, (uint32_t)len);
    if (ese_tree_add(&w->f, &t->lvs, key, ks, root, sizeof root))
        return -1;
    for (size_t off = 0; off < len; off += ESE_LV_CHUNK) {
        put_be(key + ks, off, 4); /* the uncompressed offset, compressed or not */
        size_t n = len - off < ESE_LV_CHUNK ? len - off : ESE_LV_CHUNK;
        const unsigned char *chunk = data + off;
        unsigned char packed[ESE_LV_CHUNK];
        if (w->o.lv_compress) {
            /* scheme byte 0x18, the uncompressed size, the LZXPRESS bytes: kept when smaller */
            size_t c = lab_xpress_compress(chunk, n, packed + 3, sizeof packed - 3);
            if (c && c + 3 < n) {
                packed[0] = 0x18;
                ese_put16(packed + 1, (uint32_t)n);
                chunk = packed;
                n = c + 3;
            }
        }
        if (ese_tree_add(&w->f, &t->lvs, key, ks + 4, chunk, n))
            return -1;
    }
    return 0;
}

/* Encodes a record into rec (ESE_MAX_RECORD bytes): header (last fixed id, last variable id,
 * offset of the variable offsets), fixed values in id order, the fixed columns' null bitmap,
 * variable end offsets (bit 15 = NULL) and values, then the tagged columns: (id, offset) pairs
 * relative to the tagged area, offset bit 0x4000 = a flag byte precedes the value. */
static int encode(ese_writer *w, ese_tbl *t, const ese_column *cols, size_t ncols,
                  const ese_value *v, unsigned char *rec, size_t *rec_len)
{
    size_t o = 4, nfixed = 0, nvar = 0, ntag = 0;
    unsigned last_fixed = 0, last_var = 127;
    for (size_t i = 0; i < ncols; i++) {
        if (cols[i].id < 128) {
            unsigned char *p = rec + o;
            memset(p, 0, cols[i].size);
            if (v[i].data)
                memcpy(p, v[i].data, v[i].len < cols[i].size ? v[i].len : cols[i].size);
            o += cols[i].size;
            last_fixed = cols[i].id;
            nfixed++;
        } else if (cols[i].id < 256) {
            last_var = cols[i].id;
            nvar++;
        } else if (v[i].data) {
            ntag++;
        }
    }
    size_t bitmap = (nfixed + 7) / 8;
    memset(rec + o, 0, bitmap);
    for (size_t i = 0, k = 0; i < ncols; i++) {
        if (cols[i].id >= 128)
            continue;
        if (!v[i].data) /* a set bit: the fixed column is NULL */
            rec[o + k / 8] |= (unsigned char)(1u << (k % 8));
        k++;
    }
    o += bitmap;
    rec[0] = (unsigned char)last_fixed;
    rec[1] = (unsigned char)last_var;
    ese_put16(rec + 2, (uint32_t)o);
    size_t offs = o, data = o + 2 * nvar, end = 0;
    for (size_t i = 0; i < ncols; i++) {
        if (cols[i].id < 128 || cols[i].id >= 256)
            continue;
        if (v[i].data) {
            if (data + end + v[i].len > ESE_MAX_RECORD)
                goto too_big;
            memcpy(rec + data + end, v[i].data, v[i].len);
            end += v[i].len;
            ese_put16(rec + offs, (uint32_t)end);
        } else {
            ese_put16(rec + offs, (uint32_t)end | 0x8000u);
        }
        offs += 2;
    }
    size_t tag = data + end, tv = 4 * ntag, k = 0;
    for (size_t i = 0; i < ncols; i++) {
        if (cols[i].id < 256 || !v[i].data)
            continue;
        int long_col = cols[i].type == ESE_COLTYP_LONGBINARY || cols[i].type == ESE_COLTYP_LONGTEXT;
        unsigned flags = (long_col ? ESE_TAG_LONG_COLUMN : 0) |
                         (v[i].separate ? ESE_TAG_SEPARATED : 0) |
                         (v[i].compressed ? ESE_TAG_COMPRESSED : 0);
        size_t vlen = v[i].separate ? w->o.lv_key_size : v[i].len;
        if (tag + tv + 1 + vlen > ESE_MAX_RECORD)
            goto too_big;
        ese_put16(rec + tag + 4 * k, cols[i].id);
        /* small pages: offset bit 0x4000 says a flag byte precedes the value; 16 and 32 KiB
         * pages: every tagged value has its flag byte */
        int big = w->o.page_size >= 16384;
        ese_put16(rec + tag + 4 * k + 2, (uint32_t)tv | (flags && !big ? 0x4000u : 0));
        k++;
        if (flags || big)
            rec[tag + tv++] = (unsigned char)flags;
        if (v[i].separate) {
            uint64_t lid = ++t->next_lid;
            for (unsigned b = 0; b < w->o.lv_key_size; b++) /* the id, little-endian */
                rec[tag + tv + b] = (unsigned char)(lid >> (8 * b));
            if (write_lv(w, t, lid, v[i].data, v[i].len))
                return -1;
        } else {
            memcpy(rec + tag + tv, v[i].data, vlen);
        }
        tv += vlen;
    }
    *rec_len = tag + tv;
    return 0;
too_big:
    lab_err("%s: row too large for a page (use separated long values)", t ? t->name : "catalog");
    return -1;
}

int ese_insert(ese_writer *w, int table, const ese_value *vals)
{
    if (table < 0 || (size_t)table >= w->nt || !vals[0].data || vals[0].len != 4) {
        lab_err("ese_insert: bad table or key");
        return -1;
    }
    ese_tbl *t = &w->t[table];
    const unsigned char *kv = vals[0].data;
    int32_t id = (int32_t)((uint32_t)kv[0] | (uint32_t)kv[1] << 8 | (uint32_t)kv[2] << 16 |
                           (uint32_t)kv[3] << 24);
    if (t->have_key && id <= t->last_key) {
        lab_err("%s: keys must increase (%d after %lld)", t->name, id, t->last_key);
        return -1;
    }
    t->last_key = id;
    t->have_key = 1;
    w->started = 1;
    /* the normalized key of a signed Long: a 0x7f prefix, then big-endian with the sign
     * bit flipped, so that byte order is numeric order */
    unsigned char key[5] = {0x7f};
    ese_put32be(key + 1, (uint32_t)id ^ 0x80000000u);
    unsigned char rec[ESE_MAX_RECORD];
    size_t len = 0;
    if (encode(w, t, t->cols, t->ncols, vals, rec, &len))
        return -1;
    return ese_tree_add(&w->f, &t->data, key, sizeof key, rec, len);
}

/* ---- catalog ---- */

static const ese_column cat_cols[] = {
    {"ObjidTable", 1, ESE_COLTYP_LONG, 4},
    {"Type", 2, 3 /* Short */, 2},
    {"Id", 3, ESE_COLTYP_LONG, 4},
    {"ColtypOrPgnoFDP", 4, ESE_COLTYP_LONG, 4},
    {"SpaceUsage", 5, ESE_COLTYP_LONG, 4},
    {"Flags", 6, ESE_COLTYP_LONG, 4},
    {"PagesOrLocale", 7, ESE_COLTYP_LONG, 4},
    {"RootFlag", 8, 1 /* Bit */, 1},
    {"RecordOffset", 9, 3, 2},
    {"LCMapFlags", 10, ESE_COLTYP_LONG, 4},
    {"Name", 128, ESE_COLTYP_TEXT, 255},
};
#define CAT_NCOLS (sizeof cat_cols / sizeof cat_cols[0])

static int cat_add(ese_writer *w, ese_tree *cat, uint32_t objid, uint16_t type, uint32_t id,
                   uint32_t coltyp_or_pgno, uint32_t space, uint32_t flags, uint32_t pages,
                   const char *name)
{
    unsigned char f[CAT_NCOLS - 1][4];
    memset(f, 0, sizeof f);
    ese_put32(f[0], objid);
    ese_put16(f[1], type);
    ese_put32(f[2], id);
    ese_put32(f[3], coltyp_or_pgno);
    ese_put32(f[4], space);
    ese_put32(f[5], flags);
    ese_put32(f[6], pages);
    f[7][0] = type == CAT_TABLE;
    ese_value v[CAT_NCOLS];
    memset(v, 0, sizeof v);
    for (size_t i = 0; i + 1 < CAT_NCOLS; i++) {
        v[i].data = f[i];
        v[i].len = cat_cols[i].size;
    }
    v[CAT_NCOLS - 1].data = name; /* catalog names are single-byte text */
    v[CAT_NCOLS - 1].len = strlen(name);
    unsigned char rec[ESE_MAX_RECORD], key[10];
    size_t len = 0;
    if (encode(w, NULL, cat_cols, CAT_NCOLS, v, rec, &len))
        return -1;
    /* MSysObjects' primary key: (ObjidTable, Type, Id), so a table's record comes first, then
     * its columns in id order, then its long-value tree */
    ese_put32be(key, objid);
    key[4] = (unsigned char)(type >> 8);
    key[5] = (unsigned char)type;
    ese_put32be(key + 6, id);
    return ese_tree_add(&w->f, cat, key, sizeof key, rec, len);
}

static int write_catalog(ese_writer *w)
{
    ese_tree cat;
    memset(&cat, 0, sizeof cat);
    cat.objid = 2;
    cat.first_pgno = ESE_CATALOG_PAGE;
    int rc = -1;
    for (size_t i = 0; i < w->nt; i++) {
        ese_tbl *t = &w->t[i];
        if (cat_add(w, &cat, t->objid, CAT_TABLE, t->objid, t->data.root, 80, 0, 1, t->name))
            goto done;
        for (size_t c = 0; c < t->ncols; c++) {
            const ese_column *col = &t->cols[c];
            int text = col->type == ESE_COLTYP_TEXT || col->type == ESE_COLTYP_LONGTEXT;
            uint32_t flags = col->id < 128 ? 0x1 : col->id >= 256 ? 0x4 : 0;
            if (cat_add(w, &cat, t->objid, CAT_COLUMN, col->id, col->type, col->size, flags,
                        text ? 1200 : 0, col->name))
                goto done;
        }
        if (cat_add(w, &cat, t->objid, CAT_LONG_VALUE, t->lv_objid, t->lvs.root, 80, 0, 1, "LV"))
            goto done;
    }
    if (ese_tree_finish(&w->f, &cat))
        goto done;
    /* the shadow catalog (MSysObjectsShadow) at page 24: the same records */
    unsigned char *pg = cat.lv[0].page;
    ese_put32(pg + 24, 3);
    rc = ese_page_write(&w->f, pg, ESE_CATALOG_SHADOW_PAGE);
done:
    ese_tree_free(&cat);
    return rc;
}

static int write_header(ese_writer *w, uint32_t last_objid)
{
    unsigned char *h = calloc(1, w->o.page_size);
    if (!h) {
        lab_err("out of memory");
        return -1;
    }
    ese_put32(h + 4, 0x89abcdefu);
    ese_put32(h + 8, ESE_FORMAT_VERSION);
    ese_put32(h + 12, 0);           /* a database (not a streaming file) */
    ese_put64(h + 16, 1);           /* database time */
    ese_put32(h + 24, 0x6c616221u); /* database signature: a random number and a time */
    ese_put32(h + 52, w->o.state);
    ese_put32(h + 212, last_objid);
    ese_put32(h + 216, 10); /* created by "Windows 10.0.17763" */
    ese_put32(h + 224, 17763);
    ese_put32(h + 232, ESE_FORMAT_REVISION);
    ese_put32(h + 236, w->o.page_size);
    ese_put32(h + 340, ESE_FORMAT_VERSION);
    ese_put32(h + 344, ESE_FORMAT_REVISION);
    if (w->o.header_ext) /* fields past byte 668, as Windows 11's ESE writes at 0x2a0.. */
        memcpy(h + 0x2a0, "\x01\x02\x03\x04\x05\x06\x07", 7);
    ese_put32(h, ese_header_checksum(h, w->o.page_size));
    /* the header page and its shadow copy one page later: libesedb checks both */
    for (int copy = 0; copy < 2; copy++) {
        off_t off = copy ? (off_t)w->o.page_size : 0;
        if (pwrite(w->f.fd, h, w->o.page_size, off) != (ssize_t)w->o.page_size) {
            lab_err("%s: cannot write the header: %s", w->path, strerror(errno));
            free(h);
            return -1;
        }
    }
    free(h);
    return 0;
}

int ese_close(ese_writer *w)
{
    int rc = 0;
    uint32_t last_objid = 3;
    for (size_t i = 0; i < w->nt && !rc; i++) {
        rc = ese_tree_finish(&w->f, &w->t[i].data) || ese_tree_finish(&w->f, &w->t[i].lvs);
        last_objid = w->t[i].lv_objid;
    }
    if (!rc)
        rc = write_catalog(w) || write_header(w, last_objid);
    /* the file spans every page allocated (unwritten pages read as zeros) */
    if (!rc && ftruncate(w->f.fd, (off_t)(w->f.next_pgno + 1) * w->o.page_size) != 0) {
        lab_err("%s: %s", w->path, strerror(errno));
        rc = -1;
    }
    if (close(w->f.fd) != 0 && !rc) {
        lab_err("%s: %s", w->path, strerror(errno));
        rc = -1;
    }
    w->f.fd = -1;
    ese_abort(w);
    return rc ? -1 : 0;
}

void ese_abort(ese_writer *w)
{
    if (!w)
        return;
    if (w->f.fd >= 0)
        close(w->f.fd);
    for (size_t i = 0; i < w->nt; i++) {
        ese_tree_free(&w->t[i].data);
        ese_tree_free(&w->t[i].lvs);
        free(w->t[i].name);
        free(w->t[i].cols);
    }
    free(w->t);
    free(w->path);
    free(w);
}
