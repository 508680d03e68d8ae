/* ESE page reading for separated long values (see edb_pages.h): page header, tags, B-tree
 * entries with optional common-key prefixes, descent by key. Every offset is bounds-checked:
 * a damaged page is an error naming the page, never a crash. */
#include "edb_pages.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_HEADER 40
#define CATALOG_PAGE 4
#define MAX_DEPTH 8
#define MAX_KEY 255
#define FLAG_ROOT 0x1u
#define FLAG_LEAF 0x2u
#define FLAG_EMPTY 0x8u
#define TAG_COMMON_KEY 0x4u
#define TAG_DEFUNCT 0x2u
#define CAT_LONG_VALUE 4

static uint32_t rd16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const unsigned char *p)
{
    return rd16(p) | rd16(p + 2) << 16;
}

ssync_code ssync_edb_pages_open(const char *path, uint32_t page_size, ssync_edb_pages *p,
                                ssync_error *err)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (page_size < 4096 || page_size > 16384)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: page size %u not supported", path, page_size);
    struct stat st;
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0 || fstat(p->fd, &st) != 0) {
        int e = errno;
        ssync_edb_pages_close(p);
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path, strerror(e));
    }
    p->page_size = page_size;
    p->npages = (uint64_t)st.st_size / page_size;
    p->npages = p->npages > 1 ? p->npages - 1 : 0;
    if (!(p->page = malloc(page_size))) {
        ssync_edb_pages_close(p);
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    }
    return SSYNC_OK;
}

void ssync_edb_pages_close(ssync_edb_pages *p)
{
    if (p->fd >= 0)
        close(p->fd);
    free(p->page);
    p->fd = -1;
    p->page = NULL;
}

typedef struct page_view {
    const unsigned char *pg;
    uint32_t size, flags, next, ntags, pgno;
} page_view;

static ssync_code read_page(ssync_edb_pages *p, uint32_t pgno, page_view *v, ssync_error *err)
{
    if (pgno == 0 || pgno >= p->npages)
        return ssync_fail(err, SSYNC_ERR_EDB, "page %u is outside the file", pgno);
    off_t off = (off_t)(pgno + 1) * p->page_size;
    size_t done = 0;
    while (done < p->page_size) {
        ssize_t n = pread(p->fd, p->page + done, p->page_size - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ssync_fail(err, SSYNC_ERR_FILE_READ, "page %u: %s", pgno,
                              n < 0 ? strerror(errno) : "short read");
        done += (size_t)n;
    }
    p->reads++;
    v->pg = p->page;
    v->size = p->page_size;
    v->pgno = pgno;
    v->next = rd32(p->page + 20);
    v->ntags = rd16(p->page + 34) & 0x0fff;
    v->flags = rd32(p->page + 36);
    if (4u * v->ntags > p->page_size - PAGE_HEADER)
        return ssync_fail(err, SSYNC_ERR_EDB, "page %u: %u tags do not fit", pgno, v->ntags);
    return SSYNC_OK;
}

/* Tag i of a page: its value and flags; -1 when out of bounds. */
static int tag(const page_view *v, uint32_t i, const unsigned char **val, size_t *len,
               uint32_t *flags)
{
    const unsigned char *t = v->pg + v->size - 4 * (i + 1);
    uint32_t size = rd16(t) & 0x1fff, off_raw = rd16(t + 2), off = off_raw & 0x1fff;
    if (PAGE_HEADER + (size_t)off + size > v->size - 4u * v->ntags)
        return -1;
    *val = v->pg + PAGE_HEADER + off;
    *len = size;
    *flags = off_raw >> 13;
    return 0;
}

typedef struct entry {
    unsigned char key[MAX_KEY];
    size_t klen;
    const unsigned char *data;
    size_t dlen;
} entry;

/* Entry i (>= 1) of a page: the key (common prefix from tag 0, then the local part) and data.
 * 1 when read, 0 for a deleted entry, -1 when malformed. */
static int get_entry(const page_view *v, uint32_t i, entry *e)
{
    const unsigned char *val, *t0;
    size_t len, t0len;
    uint32_t flags, f0;
    if (tag(v, i, &val, &len, &flags) || tag(v, 0, &t0, &t0len, &f0))
        return -1;
    if (flags & TAG_DEFUNCT)
        return 0;
    size_t o = 0, common = 0;
    if (flags & TAG_COMMON_KEY) {
        if (len < 2)
            return -1;
        common = rd16(val);
        o = 2;
    }
    if (len < o + 2)
        return -1;
    size_t local = rd16(val + o);
    o += 2;
    if (common > t0len || local > len - o || common + local > MAX_KEY)
        return -1;
    memcpy(e->key, t0, common);
    memcpy(e->key + common, val + o, local);
    e->klen = common + local;
    e->data = val + o + local;
    e->dlen = len - o - local;
    return 1;
}

static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* Descends from root to the leaf page that holds key (the first entry whose key is >= key). */
static ssync_code find_leaf(ssync_edb_pages *p, uint32_t root, const unsigned char *key,
                            size_t klen, page_view *v, ssync_error *err)
{
    uint32_t pgno = root;
    for (int depth = 0; depth < MAX_DEPTH; depth++) {
        ssync_code rc = read_page(p, pgno, v, err);
        if (rc != SSYNC_OK)
            return rc;
        if ((v->flags & FLAG_LEAF) || (v->flags & FLAG_EMPTY))
            return SSYNC_OK;
        uint32_t child = 0;
        for (uint32_t i = 1; i < v->ntags && !child; i++) {
            entry e;
            int r = get_entry(v, i, &e);
            if (r < 0 || (r > 0 && e.dlen < 4))
                return ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed branch entry %u", pgno,
                                  i);
            /* a branch key bounds its child from above; the last one is empty (no bound) */
            if (r > 0 && (e.klen == 0 || key_cmp(key, klen, e.key, e.klen) <= 0))
                child = rd32(e.data);
        }
        if (!child)
            return ssync_fail(err, SSYNC_ERR_EDB, "page %u: no child for the key", pgno);
        pgno = child;
    }
    return ssync_fail(err, SSYNC_ERR_EDB, "B-tree deeper than %d levels", MAX_DEPTH);
}

/* Calls fn for every leaf entry of the tree at root in key order; fn returns 1 to stop. */
static ssync_code walk(ssync_edb_pages *p, uint32_t pgno, int depth,
                       int (*fn)(void *ctx, const entry *e), void *ctx, int *stop, ssync_error *err)
{
    if (depth >= MAX_DEPTH)
        return ssync_fail(err, SSYNC_ERR_EDB, "B-tree deeper than %d levels", MAX_DEPTH);
    page_view v;
    ssync_code rc = read_page(p, pgno, &v, err);
    if (rc != SSYNC_OK || (v.flags & FLAG_EMPTY))
        return rc;
    int leaf = (v.flags & FLAG_LEAF) != 0;
    uint32_t n = v.ntags;
    /* a branch page is re-read after each child (the scratch page is shared) */
    for (uint32_t i = 1; i < n && !*stop; i++) {
        if (i > 1 && !leaf && (rc = read_page(p, pgno, &v, err)) != SSYNC_OK)
            return rc;
        entry e;
        int r = get_entry(&v, i, &e);
        if (r < 0)
            return ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed entry %u", pgno, i);
        if (r == 0)
            continue;
        if (leaf) {
            *stop = fn(ctx, &e);
        } else if (e.dlen < 4) {
            return ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed branch entry %u", pgno, i);
        } else if ((rc = walk(p, rd32(e.data), depth + 1, fn, ctx, stop, err)) != SSYNC_OK) {
            return rc;
        }
    }
    return SSYNC_OK;
}

typedef struct lv_find {
    uint32_t objid, root;
} lv_find;

static int catalog_entry(void *ctx, const entry *e)
{
    lv_find *f = ctx;
    /* MSysObjects record: header (4), ObjidTable (4), Type (2), Id (4), PgnoFDP (4) */
    if (e->dlen < 18 || e->data[0] < 4)
        return 0;
    if (rd32(e->data + 4) == f->objid && rd16(e->data + 8) == CAT_LONG_VALUE) {
        f->root = rd32(e->data + 14);
        return 1;
    }
    return 0;
}

ssync_code ssync_edb_pages_lv_root(ssync_edb_pages *p, uint32_t table_objid, uint32_t *root,
                                   ssync_error *err)
{
    lv_find f = {table_objid, 0};
    int stop = 0;
    ssync_code rc = walk(p, CATALOG_PAGE, 0, catalog_entry, &f, &stop, err);
    *root = f.root;
    return rc;
}

ssync_code ssync_edb_pages_lv_read(ssync_edb_pages *p, uint32_t root, uint32_t lid,
                                   unsigned char **out, size_t *len, ssync_error *err)
{
    *out = NULL;
    *len = 0;
    /* keys: the id big-endian (the LVROOT node: reference count, size), then the id and the
     * byte offset of each chunk */
    unsigned char want[4] = {(unsigned char)(lid >> 24), (unsigned char)(lid >> 16),
                             (unsigned char)(lid >> 8), (unsigned char)lid};
    page_view v;
    ssync_code rc = find_leaf(p, root, want, sizeof want, &v, err);
    if (rc != SSYNC_OK)
        return rc;
    unsigned char *buf = NULL;
    size_t total = 0, have = 0;
    int found_root = 0;
    for (uint32_t pages = 0; pages < p->npages; pages++) {
        for (uint32_t i = 1; i < v.ntags; i++) {
            entry e;
            int r = get_entry(&v, i, &e);
            if (r < 0) {
                free(buf);
                return ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed entry %u", v.pgno, i);
            }
            if (r == 0 || e.klen < 4 || key_cmp(e.key, 4, want, 4) < 0)
                continue;
            if (memcmp(e.key, want, 4) != 0)
                goto end; /* past this long value */
            if (e.klen == 4) {
                if (e.dlen < 8 || found_root) {
                    free(buf);
                    return ssync_fail(err, SSYNC_ERR_EDB, "long value %u: malformed root", lid);
                }
                found_root = 1;
                total = rd32(e.data + 4);
                if (total > (64u << 20) || !(buf = malloc(total ? total : 1)))
                    return ssync_fail(err, SSYNC_ERR_EDB, "long value %u: %zu bytes", lid, total);
                continue;
            }
            size_t off = e.klen == 8 ? ((size_t)e.key[4] << 24 | (size_t)e.key[5] << 16 |
                                        (size_t)e.key[6] << 8 | e.key[7])
                                     : SIZE_MAX;
            if (!found_root || off != have || e.dlen > total - have) {
                free(buf);
                return ssync_fail(err, SSYNC_ERR_EDB, "long value %u: chunk at %zu out of order",
                                  lid, off);
            }
            memcpy(buf + have, e.data, e.dlen);
            have += e.dlen;
        }
        if (!v.next || (found_root && have == total))
            break;
        if ((rc = read_page(p, v.next, &v, err)) != SSYNC_OK) {
            free(buf);
            return rc;
        }
    }
end:
    if (!found_root || have != total) {
        free(buf);
        return ssync_fail(err, SSYNC_ERR_EDB, "long value %u %s", lid,
                          found_root ? "is incomplete" : "not found");
    }
    *out = buf;
    *len = total;
    return SSYNC_OK;
}
