/* Internals of the lab's ESE writer shared by its files: pages and streaming B-trees
 * (ese_tree.c), records and the catalog (ese.c). */
#ifndef SSYNC_LAB_ESE_TREE_H
#define SSYNC_LAB_ESE_TREE_H

#include "ese.h"

#include <stddef.h>
#include <stdint.h>

#define ESE_PAGE_HEADER 40     /* 4 and 8 KiB pages */
#define ESE_PAGE_HEADER_EXT 80 /* 16 and 32 KiB pages (format revision >= 0x11) */
#define ESE_ROOT_HEADER 16     /* tag 0 of a root page; reserved on every page (see ese_tree.c) */
#define ESE_MAX_LEVELS 8
#define ESE_MAX_KEY 64

/* page flags */
#define ESE_PAGE_ROOT 0x1u
#define ESE_PAGE_LEAF 0x2u
#define ESE_PAGE_PARENT 0x4u
#define ESE_PAGE_LONG_VALUE 0x80u

typedef struct ese_level {
    unsigned char *page;
    uint32_t pgno, prev;
    size_t used;    /* value bytes after the reserved tag 0 area */
    uint16_t ntags; /* including tag 0 */
    unsigned char last[ESE_MAX_KEY];
    size_t last_len;
    int open, flushed;
} ese_level;

typedef struct ese_tree {
    uint32_t objid;
    uint32_t flags;      /* extra page flags (ESE_PAGE_LONG_VALUE) */
    uint32_t first_pgno; /* 0: allocate; else the first page (the catalog: page 4) */
    uint32_t root;       /* set by ese_tree_finish */
    ese_level lv[ESE_MAX_LEVELS];
} ese_tree;

/* What the tree code needs from the writer. */
typedef struct ese_file {
    int fd;
    uint32_t page_size;
    uint32_t next_pgno;
    uint32_t header; /* the page header's size: ESE_PAGE_HEADER or ESE_PAGE_HEADER_EXT */
} ese_file;

/* Appends a leaf entry; keys must increase. Returns 0 or -1 (reported). */
int ese_tree_add(ese_file *f, ese_tree *t, const unsigned char *key, size_t klen,
                 const unsigned char *data, size_t dlen);
/* Writes the pages still held and sets t->root. */
int ese_tree_finish(ese_file *f, ese_tree *t);
void ese_tree_free(ese_tree *t);
/* Writes one page at its place in the file, with its checksum. */
int ese_page_write(ese_file *f, unsigned char *page, uint32_t pgno);
/* The largest entry (key + data) a page holds. */
size_t ese_tree_max_entry(const ese_file *f);

void ese_put16(unsigned char *p, uint32_t v);
void ese_put32(unsigned char *p, uint32_t v);
void ese_put64(unsigned char *p, uint64_t v);
void ese_put32be(unsigned char *p, uint32_t v);

#endif
