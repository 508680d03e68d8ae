/* An offline AD CS database (CertLog\<CA>.edb) opened read-only by our page reader: its tables
 * behind the row interface of edb.h. The file header is checked first, so the known pitfalls
 * fail with what to do about them: a database not shut down cleanly, 32 KiB pages. */
#ifndef SSYNC_EDB_FILE_H
#define SSYNC_EDB_FILE_H

#include "edb/edb.h"

#include <stdint.h>

typedef struct ssync_edb_header {
    uint32_t format_version, format_revision, page_size, state;
    int from_shadow; /* 1: the primary header was damaged, its shadow copy was read */
} ssync_edb_header;

/* ESE database states (file header offset 52) */
#define SSYNC_EDB_STATE_CLEAN 3

/* Reads and checks the file header (signature, checksum, page size, clean shutdown). */
ssync_code ssync_edb_read_header(const char *path, ssync_edb_header *h, ssync_error *err);
/* The same; allow_dirty reads a database not shut down cleanly as it is on disk (inspection:
 * its newest transactions may be only in the log files; h->state says so). The checksum covers
 * the whole header page (Microsoft's ESE source, checksumu.cxx); a damaged header falls back to
 * its shadow copy (the second page). */
ssync_code ssync_edb_read_header_ex(const char *path, int allow_dirty, ssync_edb_header *h,
                                    ssync_error *err);

/* The checked header page of any ESE database, in any state, into b (SSYNC_EDB_MAX_PAGE bytes):
 * signature, page size, the checksum over the whole page (the shadow copy when the primary is
 * damaged: *from_shadow), not a streaming file. What both header readers start from. */
ssync_code ssync_edb_header_page(const char *path, unsigned char *b, int *from_shadow,
                                 ssync_error *err);

typedef struct ssync_edb_db ssync_edb_db;

/* Opens the database and its Requests and Certificates tables. */
ssync_code ssync_edb_open(const char *path, ssync_edb_db **out, ssync_error *err);
ssync_edb_table *ssync_edb_requests(ssync_edb_db *db);
ssync_edb_table *ssync_edb_certificates(ssync_edb_db *db);
void ssync_edb_close(ssync_edb_db *db);

/* Opens any ESE database and the n tables named (any table; a name not in the catalog fails
 * naming it). allow_dirty: as for ssync_edb_read_header_ex. */
ssync_code ssync_edb_open_tables(const char *path, const char *const *names, size_t n,
                                 int allow_dirty, ssync_edb_db **out, ssync_error *err);
/* Table i of ssync_edb_open_tables (NULL when out of range). */
ssync_edb_table *ssync_edb_table_at(ssync_edb_db *db, size_t i);
/* The columns of a table of this file, in catalog order: their number, and column i's name and
 * JET_coltyp (NULL / 0 when out of range). */
size_t ssync_edb_column_count(ssync_edb_table *t);
const char *ssync_edb_column_name(ssync_edb_table *t, size_t i);
uint32_t ssync_edb_column_type(ssync_edb_table *t, size_t i);
/* The header the database was opened with. */
const ssync_edb_header *ssync_edb_db_header(const ssync_edb_db *db);

#endif
