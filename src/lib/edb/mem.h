/* In-memory tables behind the CA database's row interface (edb.h): the CA logic's filters and
 * joins are tested on these without an ESE file. */
#ifndef SSYNC_EDB_MEM_H
#define SSYNC_EDB_MEM_H

#include "edb/edb.h"

/* A table with these columns (names copied). NULL on memory. */
ssync_edb_table *ssync_edb_mem_new(const char *name, const char *const *cols, size_t ncols);
/* Appends a row: vals[i] is column i (copied; kind NULL for NULL). */
ssync_code ssync_edb_mem_add(ssync_edb_table *t, const ssync_edb_value *vals, ssync_error *err);
void ssync_edb_mem_free(ssync_edb_table *t);

#endif
