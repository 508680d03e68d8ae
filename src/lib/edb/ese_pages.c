/* ESE pages (see ese_pages.h): page header, tags, B-tree entries with optional common-key
 * prefixes, descent, walks and separated long values. */
#include "edb/ese_pages.h"
#include "edb/edb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_HEADER 40
#define PAGE_HEADER_EXT 80
#define REVISION_EXTENDED 0x11
#define MAX_DEPTH 8
#define TAG_COMMON_KEY 0x4u
#define TAG_DEFUNCT 0x2u
#define MAX_LV (64u << 20)

static uint32_t rd16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const unsigned char *p)
{
    return rd16(p) | rd16(p + 2) << 16;
}

static int extended(const ssync_edb_page *v)
{
    return v->header == PAGE_HEADER_EXT;
}

ssync_code ssync_edb_pages_open(const char *path, uint32_t page_size, uint32_t revision,
                                ssync_edb_pages *p, ssync_error *err)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    if (page_size != 4096 && page_size != 8192 && page_size != 16384 && page_size != 32768)
        return ssync_fail(err, SSYNC_ERR_EDB, "%s: page size %u not supported", path, page_size);
    struct stat st;
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0 || fstat(p->fd, &st) != 0) {
        int e = errno;
        ssync_edb_pages_close(p);
        return ssync_fail(err, SSYNC_ERR_FILE_OPEN, "%s: %s", path, strerror(e));
    }
    p->page_size = page_size;
    p->header_size =
        page_size >= 16384 && revision >= REVISION_EXTENDED ? PAGE_HEADER_EXT : PAGE_HEADER;
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

ssync_code ssync_edb_page_read(ssync_edb_pages *p, uint32_t pgno, unsigned char *buf,
                               ssync_edb_page *v, ssync_error *err)
{
    /* page N sits at (N + 1) * page size, after the file header and its shadow copy */
    if (pgno == 0 || pgno >= p->npages)
        return ssync_fail(err, SSYNC_ERR_EDB, "page %u is outside the file", pgno);
    off_t off = (off_t)(pgno + 1) * p->page_size;
    size_t done = 0;
    while (done < p->page_size) {
        ssize_t n = pread(p->fd, buf + done, p->page_size - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return ssync_fail(err, SSYNC_ERR_FILE_READ, "page %u: %s", pgno,
                              n < 0 ? strerror(errno) : "short read");
        done += (size_t)n;
    }
    p->reads++;
    v->pg = buf;
    v->size = p->page_size;
    v->header = p->header_size;
    v->pgno = pgno;
    v->prev = rd32(buf + 16);
    v->next = rd32(buf + 20);
    v->ntags = rd16(buf + 34) & 0x0fff;
    v->flags = rd32(buf + 36);
    if (4u * v->ntags > p->page_size - v->header)
        return ssync_fail(err, SSYNC_ERR_EDB, "page %u: %u tags do not fit", pgno, v->ntags);
    return SSYNC_OK;
}

/* Tag i of a page: its value and flags; -1 when out of bounds. Small pages keep the flags in
 * the top 3 bits of the offset; extended pages in the top 3 bits of the value's first word. */
static int tag(const ssync_edb_page *v, uint32_t i, const unsigned char **val, size_t *len,
               uint32_t *flags)
{
    const unsigned char *t = v->pg + v->size - 4 * (i + 1);
    uint32_t mask = extended(v) ? 0x7fff : 0x1fff;
    uint32_t size = rd16(t) & mask, off_raw = rd16(t + 2), off = off_raw & mask;
    if (v->header + (size_t)off + size > v->size - 4u * v->ntags)
        return -1;
    *val = v->pg + v->header + off;
    *len = size;
    *flags = extended(v) ? (size >= 2 ? (*val)[1] >> 5 : 0) : off_raw >> 13;
    return 0;
}

/* The 16-bit word at p of a tag value whose flags were read from it (extended pages). */
static uint32_t first_word(const ssync_edb_page *v, const unsigned char *p)
{
    return rd16(p) & (extended(v) ? 0x1fffu : 0xffffu);
}

int ssync_edb_page_node(const ssync_edb_page *v, uint32_t i, ssync_edb_node *n)
{
    const unsigned char *val, *t0;
    size_t len, t0len;
    uint32_t flags, f0;
    if (i == 0 || i >= v->ntags || tag(v, i, &val, &len, &flags) || tag(v, 0, &t0, &t0len, &f0))
        return -1;
    if (flags & TAG_DEFUNCT)
        return 0;
    size_t o = 0, common = 0;
    if (flags & TAG_COMMON_KEY) {
        if (len < 2)
            return -1;
        common = first_word(v, val);
        o = 2;
    }
    if (len < o + 2)
        return -1;
    size_t local = o ? rd16(val + o) : first_word(v, val);
    o += 2;
    if (common > t0len || local > len - o || common + local > SSYNC_EDB_MAX_KEY)
        return -1;
    memcpy(n->key, t0, common);
    memcpy(n->key + common, val + o, local);
    n->klen = common + local;
    n->data = val + o + local;
    n->dlen = len - o - local;
    return 1;
}

static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* Descends from root to the leaf page that holds key (the first entry whose key is >= key);
 * klen 0 = the leftmost leaf. */
static ssync_code find_leaf(ssync_edb_pages *p, uint32_t root, const unsigned char *key,
                            size_t klen, unsigned char *buf, ssync_edb_page *v, ssync_error *err)
{
    uint32_t pgno = root;
    for (int depth = 0; depth < MAX_DEPTH; depth++) {
        ssync_code rc = ssync_edb_page_read(p, pgno, buf, v, err);
        if (rc != SSYNC_OK)
            return rc;
        if ((v->flags & SSYNC_EDB_PAGE_LEAF) || (v->flags & SSYNC_EDB_PAGE_EMPTY))
            return SSYNC_OK;
        uint32_t child = 0;
        for (uint32_t i = 1; i < v->ntags && !child; i++) {
            ssync_edb_node e;
            int r = ssync_edb_page_node(v, i, &e);
            if (r < 0 || (r > 0 && e.dlen < 4))
                return ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed branch entry %u", pgno,
                                  i);
            /* a branch key bounds its child from above; the last one is empty (no bound) */
            if (r > 0 && (klen == 0 || e.klen == 0 || key_cmp(key, klen, e.key, e.klen) <= 0))
                child = rd32(e.data);
        }
        if (!child)
            return ssync_fail(err, SSYNC_ERR_EDB, "page %u: no child for the key", pgno);
        pgno = child;
    }
    return ssync_fail(err, SSYNC_ERR_EDB, "B-tree deeper than %d levels", MAX_DEPTH);
}

ssync_code ssync_edb_tree_first_leaf(ssync_edb_pages *p, uint32_t root, unsigned char *buf,
                                     ssync_edb_page *v, ssync_error *err)
{
    return find_leaf(p, root, NULL, 0, buf, v, err);
}

typedef struct walk_state {
    int (*fn)(void *ctx, const ssync_edb_node *n);
    void *ctx;
    int stop;
    uint64_t visits; /* pages entered: a tree visits each page once, a loop would not end */
} walk_state;

static ssync_code walk(ssync_edb_pages *p, uint32_t pgno, int depth, walk_state *w,
                       ssync_error *err)
{
    if (depth >= MAX_DEPTH)
        return ssync_fail(err, SSYNC_ERR_EDB, "B-tree deeper than %d levels", MAX_DEPTH);
    if (++w->visits > p->npages)
        return ssync_fail(err, SSYNC_ERR_EDB, "page %u: the B-tree loops", pgno);
    ssync_edb_page v;
    ssync_code rc = ssync_edb_page_read(p, pgno, p->page, &v, err);
    if (rc != SSYNC_OK || (v.flags & SSYNC_EDB_PAGE_EMPTY))
        return rc;
    int leaf = (v.flags & SSYNC_EDB_PAGE_LEAF) != 0;
    uint32_t n = v.ntags;
    /* a branch page is re-read after each child (the scratch page is shared) */
    for (uint32_t i = 1; i < n && !w->stop; i++) {
        if (i > 1 && !leaf && (rc = ssync_edb_page_read(p, pgno, p->page, &v, err)) != SSYNC_OK)
            return rc;
        if (v.ntags != n)
            return ssync_fail(err, SSYNC_ERR_EDB, "page %u changed while read", pgno);
        ssync_edb_node e;
        int r = ssync_edb_page_node(&v, i, &e);
        if (r < 0)
            return ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed entry %u", pgno, i);
        if (r == 0)
            continue;
        if (leaf) {
            w->stop = w->fn(w->ctx, &e);
        } else if (e.dlen < 4) {
            return ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed branch entry %u", pgno, i);
        } else if ((rc = walk(p, rd32(e.data), depth + 1, w, err)) != SSYNC_OK) {
            return rc;
        }
    }
    return SSYNC_OK;
}

ssync_code ssync_edb_tree_walk(ssync_edb_pages *p, uint32_t root,
                               int (*fn)(void *ctx, const ssync_edb_node *n), void *ctx,
                               ssync_error *err)
{
    walk_state w = {fn, ctx, 0, 0};
    return walk(p, root, 0, &w, err);
}

/* A long value being assembled: chunk data is kept until the next key says how long the chunk
 * is uncompressed (the keys are uncompressed offsets), then copied or inflated into place. */
typedef struct lv_build {
    unsigned char *buf; /* total bytes */
    size_t total, have;
    unsigned char *pending; /* the last chunk as stored (at most a page) */
    size_t pending_len, pending_off;
    int has_pending;
} lv_build;

/* Settles the pending chunk, which covers [pending_off, end) uncompressed: stored as is when
 * its length says so, else compressed (ESE compresses chunk by chunk; nothing else says so). */
static ssync_code lv_settle(lv_build *b, size_t end, ssync_error *err)
{
    if (!b->has_pending)
        return SSYNC_OK;
    b->has_pending = 0;
    size_t want = end - b->pending_off;
    if (b->pending_len == want) {
        memcpy(b->buf + b->pending_off, b->pending, want);
    } else if (b->pending_len > want || b->pending_len == 0) {
        return ssync_fail(err, SSYNC_ERR_EDB, "chunk at %zu holds %zu bytes for %zu",
                          b->pending_off, b->pending_len, want);
    } else {
        unsigned char *plain = NULL;
        size_t plen = 0;
        ssync_code rc = ssync_edb_decompress(b->pending, b->pending_len, &plain, &plen, err);
        if (rc != SSYNC_OK)
            return ssync_error_prefix(err, "chunk at %zu: ", b->pending_off);
        if (plen != want) {
            free(plain);
            return ssync_fail(err, SSYNC_ERR_EDB,
                              "chunk at %zu inflates to %zu bytes, not %zu (compression byte "
                              "0x%02x)",
                              b->pending_off, plen, want, b->pending[0]);
        }
        memcpy(b->buf + b->pending_off, plain, want);
        free(plain);
    }
    b->have = end;
    return SSYNC_OK;
}

static size_t be_read(const unsigned char *p, size_t n)
{
    size_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

ssync_code ssync_edb_pages_lv_read64(ssync_edb_pages *p, uint32_t root, uint64_t lid,
                                     size_t lid_len, unsigned char **out, size_t *len,
                                     ssync_error *err)
{
    *out = NULL;
    *len = 0;
    if (lid_len != 4 && lid_len != 8)
        return ssync_fail(err, SSYNC_ERR_EDB, "a %zu-byte long-value id", lid_len);
    unsigned char want[8];
    for (size_t i = 0; i < lid_len; i++)
        want[i] = (unsigned char)(lid >> (8 * (lid_len - 1 - i)));
    unsigned long long shown = lid & (lid_len == 8 ? 0x7fffffffffffffffULL : 0xffffffffULL);
    ssync_edb_page v;
    ssync_code rc = find_leaf(p, root, want, lid_len, p->page, &v, err);
    if (rc != SSYNC_OK)
        return rc;
    lv_build b = {0};
    int found_root = 0, done = 0;
    if (!(b.pending = malloc(p->page_size)))
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    for (uint64_t pages = 0; pages < p->npages && !done && rc == SSYNC_OK; pages++) {
        for (uint32_t i = 1; i < v.ntags && !done && rc == SSYNC_OK; i++) {
            ssync_edb_node e;
            int r = ssync_edb_page_node(&v, i, &e);
            if (r < 0) {
                rc = ssync_fail(err, SSYNC_ERR_EDB, "page %u: malformed entry %u", v.pgno, i);
                break;
            }
            if (r == 0 || e.klen < lid_len || key_cmp(e.key, lid_len, want, lid_len) < 0)
                continue;
            if (memcmp(e.key, want, lid_len) != 0) {
                done = 1; /* past this long value */
                break;
            }
            if (e.klen == lid_len) {
                if (e.dlen < 8 || found_root) {
                    rc = ssync_fail(err, SSYNC_ERR_EDB, "long value %llu: malformed root", shown);
                    break;
                }
                found_root = 1;
                b.total = rd32(e.data + 4);
                if (b.total > MAX_LV || !(b.buf = malloc(b.total ? b.total : 1)))
                    rc = ssync_fail(err, SSYNC_ERR_EDB, "long value %llu: %zu bytes", shown,
                                    b.total);
                continue;
            }
            size_t off = e.klen == lid_len + 4 ? be_read(e.key + lid_len, 4) : SIZE_MAX;
            if (!found_root || off < b.have || off >= b.total ||
                (b.has_pending && off <= b.pending_off) || (!b.has_pending && off != b.have) ||
                e.dlen > p->page_size) {
                rc = ssync_fail(err, SSYNC_ERR_EDB, "long value %llu: chunk at %zu out of order",
                                shown, off);
                break;
            }
            if ((rc = lv_settle(&b, off, err)) != SSYNC_OK)
                break;
            memcpy(b.pending, e.data, e.dlen);
            b.pending_len = e.dlen;
            b.pending_off = off;
            b.has_pending = 1;
        }
        if (done || rc != SSYNC_OK || !v.next)
            break;
        rc = ssync_edb_page_read(p, v.next, p->page, &v, err);
    }
    if (rc == SSYNC_OK && found_root)
        rc = lv_settle(&b, b.total, err);
    if (rc == SSYNC_OK && (!found_root || b.have != b.total))
        rc = ssync_fail(err, SSYNC_ERR_EDB, "long value %llu %s", shown,
                        found_root ? "is incomplete" : "not found");
    else if (rc != SSYNC_OK && found_root)
        ssync_error_prefix(err, "long value %llu: ", shown);
    free(b.pending);
    if (rc != SSYNC_OK) {
        free(b.buf);
        return rc;
    }
    *out = b.buf;
    *len = b.total;
    return SSYNC_OK;
}

ssync_code ssync_edb_pages_lv_read(ssync_edb_pages *p, uint32_t root, uint32_t lid,
                                   unsigned char **out, size_t *len, ssync_error *err)
{
    return ssync_edb_pages_lv_read64(p, root, lid, 4, out, len, err);
}
