/* An offline AD CS database (CertLog\<CA>.edb) opened read-only by our page reader: its tables
 * behind the row interface of edb.h. The file header is checked first, so the known pitfalls
 * fail with what to do about them: a database not shut down cleanly, 32 KiB pages. */
#ifndef SSYNC_EDB_FILE_H
#define SSYNC_EDB_FILE_H

#include "edb/edb.h"

#include <stdint.h>

typedef struct ssync_edb_header {
    uint32_t format_version, format_revision, page_size, state;
} ssync_edb_header;

/* ESE database states (file header offset 52) */
#define SSYNC_EDB_STATE_CLEAN 3

/* Reads and checks the file header (signature, checksum, page size, clean shutdown). */
ssync_code ssync_edb_read_header(const char *path, ssync_edb_header *h, ssync_error *err);

typedef struct ssync_edb_db ssync_edb_db;

/* Opens the database and its Requests and Certificates tables. */
ssync_code ssync_edb_open(const char *path, ssync_edb_db **out, ssync_error *err);
ssync_edb_table *ssync_edb_requests(ssync_edb_db *db);
ssync_edb_table *ssync_edb_certificates(ssync_edb_db *db);
void ssync_edb_close(ssync_edb_db *db);

#endif
