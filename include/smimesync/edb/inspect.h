/* Inspecting any ESE database from Linux, as `esentutl /mh` and `certutil -view` do on Windows:
 * the file header (format, page size, state, times, log position), every table with its columns
 * and row count, and a cursor that streams any table's rows as typed cells (one leaf page in
 * memory, whatever the number of rows). A database not shut down cleanly is read as it is on
 * disk: info.state says so and the caller warns (syncing still refuses it: edb/file.c). */
#ifndef SSYNC_EDB_INSPECT_H
#define SSYNC_EDB_INSPECT_H

#include "common/errors.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* ESE database states (file header offset 52) */
#define SSYNC_EDB_INFO_STATE_JUST_CREATED 1
#define SSYNC_EDB_INFO_STATE_DIRTY 2
#define SSYNC_EDB_INFO_STATE_CLEAN 3

/* A log position (JET_LGPOS): generation, sector, byte offset in the sector. */
typedef struct ssync_edb_lgpos {
    uint32_t generation, sector, offset;
} ssync_edb_lgpos;

typedef struct ssync_edb_info {
    uint32_t format_version, format_revision;     /* e.g. 0x620, 0x14 */
    uint32_t creation_version, creation_revision; /* the format the file was created in */
    uint32_t page_size, state;
    uint64_t pages;                      /* database pages after the two header copies */
    time_t created, attached, detached;  /* 0 when not set */
    ssync_edb_lgpos consistent;          /* the log position the file is consistent with */
    uint32_t required_min, required_max; /* log generations a recovery needs (dirty) */
    int checksum_whole_page;             /* 1: the checksum covers the whole header page */
} ssync_edb_info;

/* Reads and checks the file header (signature, checksum over the whole header page as the ESE
 * source computes it); accepts every state. */
ssync_code ssync_edb_info_read(const char *path, ssync_edb_info *info, ssync_error *err);
/* "clean", "dirty", "just created", ... */
const char *ssync_edb_state_name(uint32_t state);
/* What to do about a state other than clean; NULL for clean. */
const char *ssync_edb_state_advice(uint32_t state);

/* Column types (JET_coltyp) */
enum {
    SSYNC_EDB_COLTYP_BIT = 1,
    SSYNC_EDB_COLTYP_UNSIGNED_BYTE = 2,
    SSYNC_EDB_COLTYP_SHORT = 3,
    SSYNC_EDB_COLTYP_LONG = 4,
    SSYNC_EDB_COLTYP_CURRENCY = 5,
    SSYNC_EDB_COLTYP_IEEE_SINGLE = 6,
    SSYNC_EDB_COLTYP_IEEE_DOUBLE = 7,
    SSYNC_EDB_COLTYP_DATETIME = 8,
    SSYNC_EDB_COLTYP_BINARY = 9,
    SSYNC_EDB_COLTYP_TEXT = 10,
    SSYNC_EDB_COLTYP_LONG_BINARY = 11,
    SSYNC_EDB_COLTYP_LONG_TEXT = 12,
    SSYNC_EDB_COLTYP_UNSIGNED_LONG = 14,
    SSYNC_EDB_COLTYP_LONG_LONG = 15,
    SSYNC_EDB_COLTYP_GUID = 16,
    SSYNC_EDB_COLTYP_UNSIGNED_SHORT = 17,
};
/* "Long", "LongBinary", ... ("Unknown" for others) */
const char *ssync_edb_coltyp_name(uint32_t type);

typedef struct ssync_edb_column {
    uint32_t id, type, size, codepage; /* codepage 1200: UTF-16LE text; else 8-bit */
    char name[64];
} ssync_edb_column;

typedef struct ssync_edb_inspect ssync_edb_inspect;

/* Opens the database read-only: header (any state) and catalog (every table). */
ssync_code ssync_edb_inspect_open(const char *path, ssync_edb_inspect **out, ssync_error *err);
void ssync_edb_inspect_close(ssync_edb_inspect *db);
const ssync_edb_info *ssync_edb_inspect_info(const ssync_edb_inspect *db);
size_t ssync_edb_inspect_ntables(const ssync_edb_inspect *db);
/* Table i's name, or NULL when out of range. */
const char *ssync_edb_inspect_table_name(const ssync_edb_inspect *db, size_t i);
/* The index of the table called name (exact), or -1. */
int ssync_edb_inspect_find_table(const ssync_edb_inspect *db, const char *name);
/* Table i's columns in id order (borrowed). */
const ssync_edb_column *ssync_edb_inspect_columns(const ssync_edb_inspect *db, size_t i,
                                                  size_t *ncols);
/* Counts table i's rows (a walk of its leaf pages, no record is decoded). */
ssync_code ssync_edb_inspect_count(ssync_edb_inspect *db, size_t i, size_t *rows, ssync_error *err);

/* ---- streaming rows ---- */

typedef enum ssync_edb_cell_kind {
    SSYNC_EDB_CELL_NULL,   /* a DateTime of eight zero bytes (no date set) */
    SSYNC_EDB_CELL_INT,    /* Bit, bytes, shorts, longs, Currency, long long */
    SSYNC_EDB_CELL_UINT,   /* UnsignedLong, and the unsigned others as well (i holds them) */
    SSYNC_EDB_CELL_REAL,   /* IEEESingle, IEEEDouble */
    SSYNC_EDB_CELL_DATE,   /* DateTime: t */
    SSYNC_EDB_CELL_TEXT,   /* UTF-8 in data, NUL-terminated */
    SSYNC_EDB_CELL_BINARY, /* Binary, LongBinary, GUID, and dates that decode to no date */
} ssync_edb_cell_kind;

typedef struct ssync_edb_cell {
    ssync_edb_cell_kind kind;
    long long i;
    double real;
    time_t t;
    unsigned char *data; /* owned by the cursor until the next row */
    size_t len;
} ssync_edb_cell;

/* One column of the current row: its values (one, or several for a multi-valued column). */
typedef struct ssync_edb_field {
    const ssync_edb_column *col;
    int multi;     /* 1: a multi-valued column's value (cells holds every value) */
    size_t ncells; /* 0 when NULL */
    ssync_edb_cell *cells;
} ssync_edb_field;

typedef struct ssync_edb_cursor ssync_edb_cursor;

/* A cursor over table i; cols: the column indexes (of ssync_edb_inspect_columns) to decode, in
 * output order; NULL for all. */
ssync_code ssync_edb_cursor_open(ssync_edb_inspect *db, size_t table, const size_t *cols,
                                 size_t ncols, ssync_edb_cursor **out, ssync_error *err);
/* Moves to the next row and decodes it: 1 = a row (fields valid until the next call), 0 = the
 * end, -1 = an error (err names the table, row and column). */
int ssync_edb_cursor_next(ssync_edb_cursor *c, const ssync_edb_field **fields, size_t *nfields,
                          ssync_error *err);
/* 1 when the last -1 was a value of one row that cannot be decoded (fields then hold the
 * columns decoded before it, the others empty): the next call goes on with the next row. 0 when
 * the table itself cannot be read further. */
int ssync_edb_cursor_row_error(const ssync_edb_cursor *c);
/* The number of rows read so far. */
size_t ssync_edb_cursor_row(const ssync_edb_cursor *c);
void ssync_edb_cursor_close(ssync_edb_cursor *c);

/* ---- an AD CS database at a glance ---- */

typedef struct ssync_edb_ca_summary {
    int is_ca; /* the database has Requests and Certificates tables */
    size_t requests, certificates, issued, revoked, archived_keys;
    long long max_request_id; /* 0 when none */
} ssync_edb_ca_summary;

/* Reads Requests (Disposition, RequestID, whether RawArchivedKey is set) and counts
 * Certificates; is_ca 0 and SSYNC_OK when the tables are not there. */
ssync_code ssync_edb_inspect_ca(ssync_edb_inspect *db, ssync_edb_ca_summary *s, ssync_error *err);

#endif
