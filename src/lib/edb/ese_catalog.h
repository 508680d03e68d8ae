/* The catalog of an ESE database (MSysObjects, the B-tree rooted at page 4): for each wanted
 * table its object id, the root page of its data tree and of its long-value tree, and its
 * columns (id, type, size, name). Record types (libyal ESE format, "Catalog"): 1 table,
 * 2 column, 3 index, 4 long-value tree; fixed columns ObjidTable, Type, Id, ColtypOrPgnoFDP,
 * SpaceUsage, Flags, PagesOrLocale, and the variable column Name. */
#ifndef SSYNC_EDB_CATALOG_H
#define SSYNC_EDB_CATALOG_H

#include "edb/ese_pages.h"
#include "edb/ese_record.h"

#define SSYNC_EDB_CATALOG_PAGE 4
#define SSYNC_EDB_MAX_COLUMNS 65536 /* ESE allows 64993 tagged columns (dissect large.edb) */

typedef struct ssync_edb_tabledef {
    char name[64];    /* in: the table's name */
    int found;        /* out: the table is in the catalog */
    uint32_t objid;   /* the table's object id */
    uint32_t root;    /* root page of its records */
    uint32_t lv_root; /* root page of its long values; 0: none */
    ssync_edb_coldef *cols;
    size_t ncols;
} ssync_edb_tabledef;

/* Catalog record types and the Name column's id. */
enum { SSYNC_EDB_CAT_TABLE = 1, SSYNC_EDB_CAT_COLUMN = 2, SSYNC_EDB_CAT_LONG_VALUE = 4 };
#define SSYNC_EDB_CAT_NAME 128
/* MSysObjects' own fixed columns (ObjidTable ... PagesOrLocale), for ssync_edb_record_find. */
extern const ssync_edb_coldef ssync_edb_catalog_cols[];
extern const size_t ssync_edb_catalog_ncols;

/* Reads the catalog and fills tabs[i] for each table named there. */
ssync_code ssync_edb_catalog_read(ssync_edb_pages *p, ssync_edb_tabledef *tabs, size_t ntabs,
                                  ssync_error *err);
void ssync_edb_tabledef_free(ssync_edb_tabledef *t);

#endif
