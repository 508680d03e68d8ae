/* ESE pages as the CA database reader sees them: one page at a time, its tags, the B-tree
 * entries on it (keys with their common prefix), walks and descents of a tree, and separated
 * long values. This is the reader of the CA database: rows are streamed from the leaf pages, so
 * memory does not grow with the table (libesedb 20181229 indexes every leaf value it reads, and
 * cannot look separated long values up at all: docs/formats.md).
 *
 * Pages of 4, 8 and 16 KiB. 16 KiB pages of format revision 0x11 and later have the 80-byte
 * extended header and keep the tag flags in the value (libyal ESE format, "Page header").
 * Every offset is bounds-checked: a damaged page is an error naming the page, never a crash. */
#ifndef SSYNC_EDB_PAGES_H
#define SSYNC_EDB_PAGES_H

#include "common/errors.h"

#include <stddef.h>
#include <stdint.h>

/* page flags (page header offset 36) */
#define SSYNC_EDB_PAGE_ROOT 0x1u
#define SSYNC_EDB_PAGE_LEAF 0x2u
#define SSYNC_EDB_PAGE_PARENT 0x4u
#define SSYNC_EDB_PAGE_EMPTY 0x8u
#define SSYNC_EDB_PAGE_LONG_VALUE 0x80u

typedef struct ssync_edb_pages {
    int fd;
    uint32_t page_size;
    uint32_t header_size; /* 40, or 80 for the extended header */
    uint64_t npages;      /* pages after the two header copies */
    unsigned char *page;  /* one page of scratch (walks, long values) */
    size_t reads;         /* pages read, for tests */
} ssync_edb_pages;

/* One page read into a caller's buffer. */
typedef struct ssync_edb_page {
    const unsigned char *pg;
    uint32_t size, header, pgno, flags, prev, next, ntags;
} ssync_edb_page;

#define SSYNC_EDB_MAX_KEY 255
#define SSYNC_EDB_MAX_PAGE 32768

/* One B-tree entry: the whole key (common prefix from tag 0, then the local part) and data. */
typedef struct ssync_edb_node {
    unsigned char key[SSYNC_EDB_MAX_KEY];
    size_t klen;
    const unsigned char *data;
    size_t dlen;
} ssync_edb_node;

ssync_code ssync_edb_pages_open(const char *path, uint32_t page_size, uint32_t revision,
                                ssync_edb_pages *p, ssync_error *err);
void ssync_edb_pages_close(ssync_edb_pages *p);

/* Reads page pgno into buf (page_size bytes). */
ssync_code ssync_edb_page_read(ssync_edb_pages *p, uint32_t pgno, unsigned char *buf,
                               ssync_edb_page *v, ssync_error *err);
/* Entry i (>= 1) of a page: 1 when read, 0 for a deleted (defunct) entry, -1 when malformed. */
int ssync_edb_page_node(const ssync_edb_page *v, uint32_t i, ssync_edb_node *n);
/* The leftmost leaf page of the tree at root, read into buf. */
ssync_code ssync_edb_tree_first_leaf(ssync_edb_pages *p, uint32_t root, unsigned char *buf,
                                     ssync_edb_page *v, ssync_error *err);
/* Calls fn for every leaf entry of the tree at root in key order (through the branch pages);
 * fn returns 1 to stop. Uses the scratch page. */
ssync_code ssync_edb_tree_walk(ssync_edb_pages *p, uint32_t root,
                               int (*fn)(void *ctx, const ssync_edb_node *n), void *ctx,
                               ssync_error *err);

/* The separated long value lid (4-byte id) of the long-value tree at root; *out malloc'ed. Keys
 * (Microsoft's ESE source, dev/ese/src/ese/lv.cxx): the id big-endian holds the LVROOT (reference
 * count, size), the id and the byte offset big-endian hold each chunk. */
ssync_code ssync_edb_pages_lv_read(ssync_edb_pages *p, uint32_t root, uint32_t lid,
                                   unsigned char **out, size_t *len, ssync_error *err);
/* The same for a 4- or 8-byte id (lid_len; 8-byte ids, "LID64", appear with Windows 10 and keep
 * their top bit set): keys are the id big-endian (LVROOT), then the id and the 4-byte offset.
 * Each chunk may be compressed on its own (a first byte naming the scheme, ese_xpress.c): a chunk
 * shorter than the distance to the next key (or to the LVROOT's size) is inflated. */
ssync_code ssync_edb_pages_lv_read64(ssync_edb_pages *p, uint32_t root, uint64_t lid,
                                     size_t lid_len, unsigned char **out, size_t *len,
                                     ssync_error *err);

#endif
