/* What the inspection files share (inspect.c: header and catalog; inspect_rows.c: the cursor):
 * the open database and its tables as read from the catalog. */
#ifndef SSYNC_EDB_INSPECT_INT_H
#define SSYNC_EDB_INSPECT_INT_H

#include "edb/ese_pages.h"
#include "edb/ese_record.h"
#include "edb/inspect.h"

typedef struct ssync_edb_itable {
    char name[64];
    uint32_t objid, root, lv_root;
    ssync_edb_column *cols; /* in id order */
    ssync_edb_coldef *defs; /* the same columns as the record reader wants them */
    unsigned char **dflt;   /* each column's default value (catalog DefaultValue), or NULL */
    size_t *dflt_len;
    size_t ncols;
} ssync_edb_itable;

struct ssync_edb_inspect {
    char *path;
    ssync_edb_info info;
    ssync_edb_pages pages;
    ssync_edb_itable *tables;
    size_t ntables;
};

/* 16 KiB+ pages of the extended format keep the tagged values' flags in the value */
int ssync_edb_inspect_flags_always(const ssync_edb_inspect *db);

#endif
