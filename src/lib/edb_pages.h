/* A small reader of ESE pages for what libesedb 20181229 gets wrong: separated long values.
 * That version builds the keys of B-tree entries from the wrong offset (it includes the key
 * size field), so its long-value lookups never match and esedbexport shows such columns empty.
 * The CA database reader therefore finds a table's long-value tree in the catalog and walks it
 * itself. Pages of 4, 8 and 16 KiB with the classic 40-byte header only. */
#ifndef SSYNC_EDB_PAGES_H
#define SSYNC_EDB_PAGES_H

#include "errors.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ssync_edb_pages {
    int fd;
    uint32_t page_size;
    uint64_t npages;     /* pages after the two header copies */
    unsigned char *page; /* one page of scratch */
    size_t reads;        /* pages read, for tests */
} ssync_edb_pages;

ssync_code ssync_edb_pages_open(const char *path, uint32_t page_size, ssync_edb_pages *p,
                                ssync_error *err);
void ssync_edb_pages_close(ssync_edb_pages *p);
/* The root page of the long-value tree of the table whose object id is table_objid (from
 * MSysObjects at page 4); 0 when the table has none. */
ssync_code ssync_edb_pages_lv_root(ssync_edb_pages *p, uint32_t table_objid, uint32_t *root,
                                   ssync_error *err);
/* The separated long value lid (4-byte id) of the tree at root; *out malloc'ed. */
ssync_code ssync_edb_pages_lv_read(ssync_edb_pages *p, uint32_t root, uint32_t lid,
                                   unsigned char **out, size_t *len, ssync_error *err);

#endif
