/* The lab's ESE writer: pages and B-trees built bottom-up while rows stream in. Each level
 * holds one open page; a full page is written at once and its last key pushed to the level
 * above, so memory is one page per level whatever the table size. Tag 0 of every page has 16
 * bytes reserved because a page only learns at the end whether it is the root (which carries
 * the 16-byte root header there). */
#include "ese_tree.h"
#include "lab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ese_put16(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

void ese_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void ese_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void ese_put32be(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (24 - 8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int ese_page_write(ese_file *f, unsigned char *page, uint32_t pgno)
{
    /* old-format page checksum (page flag 0x2000 clear): XOR-32 of bytes 4.. seeded with
     * 0x89abcdef, the page number at offset 4 */
    ese_put32(page + 4, pgno);
    uint32_t x = 0x89abcdefu;
    for (size_t i = 4; i < f->page_size; i += 4)
        x ^= get32(page + i);
    ese_put32(page, x);
    off_t off = (off_t)(pgno + 1) * f->page_size;
    size_t done = 0;
    while (done < f->page_size) {
        ssize_t n = pwrite(f->fd, page + done, f->page_size - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            lab_err("cannot write database page %u: %s", pgno, strerror(errno));
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

size_t ese_tree_max_entry(const ese_file *f)
{
    /* header, reserved tag 0 area, tag 0 and the entry's tag, key size field */
    return f->page_size - f->header - ESE_ROOT_HEADER - 8 - 2;
}

static int level_open(ese_file *f, ese_tree *t, int L)
{
    ese_level *lv = &t->lv[L];
    if (!lv->page && !(lv->page = malloc(f->page_size))) {
        lab_err("out of memory");
        return -1;
    }
    memset(lv->page, 0, f->page_size);
    if (!lv->pgno) /* a leaf continuation got its number when the previous page was written */
        lv->pgno = (L == 0 && t->first_pgno && !lv->flushed) ? t->first_pgno : f->next_pgno++;
    lv->used = 0;
    lv->ntags = 1;
    lv->last_len = 0;
    lv->open = 1;
    return 0;
}

static size_t level_free(const ese_file *f, const ese_level *lv)
{
    size_t taken = f->header + ESE_ROOT_HEADER + lv->used + 4u * lv->ntags;
    return f->page_size > taken ? f->page_size - taken : 0;
}

static void set_tag(const ese_file *f, unsigned char *page, unsigned i, size_t size, size_t off)
{
    /* tags grow back from the page end, tag 0 last: size (13 bits), then offset (13 bits, the
     * 3 flag bits above it stay 0: no common key, not defunct); on 16 and 32 KiB pages both are
     * 15 bits and the flags (0 here) sit in the top bits of the value's first word */
    unsigned char *p = page + f->page_size - 4u * (i + 1);
    ese_put16(p, (uint32_t)size);
    ese_put16(p + 2, (uint32_t)off);
}

static int level_append(ese_file *f, ese_level *lv, const unsigned char *key, size_t klen,
                        const unsigned char *data, size_t dlen)
{
    unsigned char *p = lv->page + f->header + ESE_ROOT_HEADER + lv->used;
    ese_put16(p, (uint32_t)klen);
    memcpy(p + 2, key, klen);
    memcpy(p + 2 + klen, data, dlen);
    set_tag(f, lv->page, lv->ntags, 2 + klen + dlen, ESE_ROOT_HEADER + lv->used);
    lv->used += 2 + klen + dlen;
    lv->ntags++;
    memcpy(lv->last, key, klen);
    lv->last_len = klen;
    return 0;
}

static int level_add(ese_file *f, ese_tree *t, int L, const unsigned char *key, size_t klen,
                     const unsigned char *data, size_t dlen);

/* Writes level L's open page. final: no more entries will come to this level. */
static int level_flush(ese_file *f, ese_tree *t, int L, int final)
{
    ese_level *lv = &t->lv[L];
    int root = final && !lv->flushed && (L + 1 >= ESE_MAX_LEVELS || !t->lv[L + 1].open);
    unsigned char *pg = lv->page;
    uint32_t flags = t->flags | (L == 0 ? ESE_PAGE_LEAF : ESE_PAGE_PARENT);
    uint32_t next = 0;
    if (root) {
        flags |= ESE_PAGE_ROOT;
        unsigned char *rh = pg + f->header;
        ese_put32(rh, 1);      /* initial number of pages */
        ese_put32(rh + 4, 1);  /* parent FDP: the database root */
        ese_put32(rh + 8, 0);  /* extent space 0: no space tree to read */
        ese_put32(rh + 12, 0); /* space tree page */
        set_tag(f, pg, 0, ESE_ROOT_HEADER, 0);
    } else {
        set_tag(f, pg, 0, 0, 0);
        /* leaf pages are chained; libesedb refuses prev/next on branch pages */
        if (L == 0 && !final)
            next = f->next_pgno++;
    }
    ese_put64(pg + 8, 1); /* database time */
    ese_put32(pg + 16, L == 0 ? lv->prev : 0);
    ese_put32(pg + 20, next);
    ese_put32(pg + 24, t->objid);
    ese_put16(pg + 28, (uint32_t)level_free(f, lv));
    ese_put16(pg + 32, (uint32_t)(ESE_ROOT_HEADER + lv->used));
    ese_put16(pg + 34, lv->ntags);
    ese_put32(pg + 36, flags);
    uint32_t pgno = lv->pgno;
    if (ese_page_write(f, pg, pgno))
        return -1;
    lv->open = 0;
    lv->flushed = 1;
    lv->prev = pgno;
    lv->pgno = next;
    if (root) {
        t->root = pgno;
        return 0;
    }
    if (L + 1 >= ESE_MAX_LEVELS) {
        lab_err("database tree too deep");
        return -1;
    }
    /* the parent entry: the child's last key (an upper bound, as libesedb compares), empty for
     * the rightmost child (no upper bound) */
    unsigned char child[4];
    ese_put32(child, pgno);
    unsigned char key[ESE_MAX_KEY];
    size_t klen = final ? 0 : lv->last_len;
    memcpy(key, lv->last, klen);
    return level_add(f, t, L + 1, key, klen, child, sizeof child);
}

static int level_add(ese_file *f, ese_tree *t, int L, const unsigned char *key, size_t klen,
                     const unsigned char *data, size_t dlen)
{
    ese_level *lv = &t->lv[L];
    if (klen > ESE_MAX_KEY || 2 + klen + dlen > ese_tree_max_entry(f)) {
        lab_err("database entry of %zu bytes does not fit a page", 2 + klen + dlen);
        return -1;
    }
    if (!lv->open && level_open(f, t, L))
        return -1;
    if (level_free(f, lv) < 2 + klen + dlen + 4) {
        if (t->first_pgno && L == 0) {
            lab_err("catalog does not fit one page");
            return -1;
        }
        if (level_flush(f, t, L, 0) || level_open(f, t, L))
            return -1;
    }
    return level_append(f, lv, key, klen, data, dlen);
}

int ese_tree_add(ese_file *f, ese_tree *t, const unsigned char *key, size_t klen,
                 const unsigned char *data, size_t dlen)
{
    return level_add(f, t, 0, key, klen, data, dlen);
}

int ese_tree_finish(ese_file *f, ese_tree *t)
{
    if (!t->lv[0].open && !t->lv[0].flushed && level_open(f, t, 0)) /* an empty table */
        return -1;
    for (int L = 0; L < ESE_MAX_LEVELS && !t->root; L++) {
        if (!t->lv[L].open)
            continue;
        if (level_flush(f, t, L, 1))
            return -1;
    }
    if (!t->root) {
        lab_err("database tree has no root");
        return -1;
    }
    return 0;
}

void ese_tree_free(ese_tree *t)
{
    for (int L = 0; L < ESE_MAX_LEVELS; L++) {
        free(t->lv[L].page);
        t->lv[L].page = NULL;
    }
}
