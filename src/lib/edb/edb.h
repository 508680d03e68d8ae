/* The CA database (AD CS CertLog\<CA>.edb) as the CA logic sees it: tables of rows in RequestID
 * order with columns looked up by name, behind a small interface so the filters and the join
 * of Requests with Certificates run the same on the database file (edb/file.c) and on in-memory
 * rows (edb/mem.c, for tests). Rows are read one at a time: nothing loads a table. */
#ifndef SSYNC_EDB_H
#define SSYNC_EDB_H

#include "common/errors.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* AD CS dispositions (certsrv.h) */
#define SSYNC_EDB_DISP_ISSUED 20
#define SSYNC_EDB_DISP_REVOKED 21

typedef enum ssync_edb_kind {
    SSYNC_EDB_NULL,
    SSYNC_EDB_INT,    /* Long, Currency, 64-bit integers (a FILETIME may hide here) */
    SSYNC_EDB_DATE,   /* DateTime columns, already decoded */
    SSYNC_EDB_TEXT,   /* UTF-8 */
    SSYNC_EDB_BINARY, /* Binary, LongBinary, GUID (separated long values read and decompressed) */
    SSYNC_EDB_REAL,   /* IEEESingle, IEEEDouble */
    SSYNC_EDB_MULTI,  /* a multi-valued tagged column: items[0..nitems) */
} ssync_edb_kind;

typedef struct ssync_edb_value {
    ssync_edb_kind kind;
    long long i;
    time_t t;
    char *text;          /* owned */
    unsigned char *data; /* owned */
    size_t len;
    double d;
    struct ssync_edb_value *items; /* owned (SSYNC_EDB_MULTI) */
    size_t nitems;
} ssync_edb_value;

void ssync_edb_value_clear(ssync_edb_value *v);

typedef struct ssync_edb_table ssync_edb_table;

typedef struct ssync_edb_table_ops {
    ssync_code (*count)(ssync_edb_table *t, size_t *n, ssync_error *err);
    /* makes row i (0-based, in storage order) the current row */
    ssync_code (*load)(ssync_edb_table *t, size_t i, ssync_error *err);
    /* the column index of name, or -1 */
    int (*column)(ssync_edb_table *t, const char *name);
    /* 1 when the current row's column is NULL (cheap: long values are not read) */
    int (*is_null)(ssync_edb_table *t, int col);
    /* the current row's value; out is cleared first; errors name the column and row */
    ssync_code (*get)(ssync_edb_table *t, int col, ssync_edb_value *out, ssync_error *err);
} ssync_edb_table_ops;

/* Implementations put this first in their own struct. */
struct ssync_edb_table {
    const ssync_edb_table_ops *ops;
    const char *name;
    size_t loads; /* rows loaded so far (tests check that seeks read few rows) */
};

/* ---- the targeted query (edb/ca.c) ---- */

#define SSYNC_EDB_MAX_TEMPLATES 16

typedef struct ssync_edb_query {
    const char *templates[SSYNC_EDB_MAX_TEMPLATES]; /* $CertificateTemplate: OID or name */
    size_t n_templates;                             /* 0: any template */
    const char *requester; /* $RequesterName, case-insensitive ("LAB\alice"); NULL: any */
    long long request_id;  /* one request; 0: any */
    long long after_id;    /* incremental: only requests with a greater id; 0: all */
    int archived_only;     /* only requests that carry a RawArchivedKey */
} ssync_edb_query;

/* One issued (or revoked) certificate: a Requests row joined with its Certificates row. */
typedef struct ssync_edb_entry {
    long long request_id;
    int disposition;
    time_t revoked_when; /* 0 when not revoked */
    int revoked_reason;
    int has_archived_key;
    const char *requester, *template_name, *upn, *serial, *cert_hash; /* "" when NULL */
    time_t not_before, not_after;
    const unsigned char *cert; /* RawCertificate (DER) */
    size_t cert_len;
} ssync_edb_entry;

typedef struct ssync_edb_stats {
    size_t requests, certificates; /* rows read by the join */
    size_t probes;                 /* rows read by the seeks (binary search on RequestID) */
    long long max_request_id;      /* the highest RequestID read, 0 if none */
} ssync_edb_stats;

typedef ssync_code (*ssync_edb_entry_fn)(void *ctx, const ssync_edb_entry *e, ssync_error *err);

/* Calls fn for every issued or revoked certificate matching q, in RequestID order. Both tables
 * must be in RequestID order (AD CS keys them so); a seek (request_id, after_id) finds its first
 * row by binary search, so a run for one new request reads a handful of rows. st may be NULL. */
ssync_code ssync_edb_select(ssync_edb_table *requests, ssync_edb_table *certificates,
                            const ssync_edb_query *q, ssync_edb_entry_fn fn, void *ctx,
                            ssync_edb_stats *st, ssync_error *err);

/* ---- value decoding (edb/ese_value.c) ---- */

/* JET column types (esent.h JET_coltyp*) */
enum {
    SSYNC_COLTYP_BIT = 1,
    SSYNC_COLTYP_UNSIGNED_BYTE = 2,
    SSYNC_COLTYP_SHORT = 3,
    SSYNC_COLTYP_LONG = 4,
    SSYNC_COLTYP_CURRENCY = 5,
    SSYNC_COLTYP_IEEE_SINGLE = 6,
    SSYNC_COLTYP_IEEE_DOUBLE = 7,
    SSYNC_COLTYP_DATETIME = 8,
    SSYNC_COLTYP_BINARY = 9,
    SSYNC_COLTYP_TEXT = 10,
    SSYNC_COLTYP_LONG_BINARY = 11,
    SSYNC_COLTYP_LONG_TEXT = 12,
    SSYNC_COLTYP_UNSIGNED_LONG = 14,
    SSYNC_COLTYP_LONG_LONG = 15,
    SSYNC_COLTYP_GUID = 16,
    SSYNC_COLTYP_UNSIGNED_SHORT = 17,
};

/* Decodes one stored (already decompressed) value of a column of type coltyp: integers and
 * bits (a bit is 0 or 1), reals, dates, text by code page (1200 = UTF-16LE; any other is read
 * as Windows-1252) and the rest as bytes. Takes data (malloc'ed) whatever the outcome; *out
 * is cleared first. Fails (SSYNC_ERR_EDB, saying what was found) on a size the type cannot
 * have. */
ssync_code ssync_edb_decode_value(uint32_t coltyp, uint32_t codepage, unsigned char *data,
                                  size_t len, ssync_edb_value *out, ssync_error *err);
/* Windows-1252 bytes to a new UTF-8 string; NULL on memory. */
char *ssync_edb_cp1252_to_utf8(const unsigned char *p, size_t len);

/* A DateTime column's 8 bytes: a FILETIME (100 ns since 1601, as AD CS stores its dates), or an
 * OLE automation date (double, days since 1899-12-30, as other applications do); told apart by
 * plausibility, FILETIME first (the two readings never both give a date: a double's bits read
 * as a FILETIME lie past the year 9999). Returns 0 and sets *t, or -1 when neither is a date
 * between 1601 (OLE: 0100) and 9999 (or the value is 0). */
int ssync_edb_decode_datetime(const unsigned char raw[8], time_t *t);
/* A FILETIME to time_t; -1 when out of range (0 = never). */
int ssync_edb_filetime_to_time(uint64_t ft, time_t *t);
/* An OLE automation date to time_t; -1 when out of range. */
int ssync_edb_ole_to_time(double d, time_t *t);
/* UTF-16LE to a new UTF-8 string (unpaired surrogates become U+FFFD); NULL on memory. */
char *ssync_edb_utf16_to_utf8(const unsigned char *p, size_t len);

/* ---- compressed values (edb/ese_xpress.c) ---- */

/* Decodes an ESE compressed value by its first byte: 0x18 = LZXPRESS (MS-XCA plain LZ77) with
 * the uncompressed size in the next two bytes; 0x08-0x0f 7-bit ASCII, 0x10-0x17 7-bit Unicode
 * (to UTF-16LE). Other schemes (XPRESS9, XPRESS10) fail with SSYNC_ERR_EDB naming the byte.
 * *out is malloc'ed. */
ssync_code ssync_edb_decompress(const unsigned char *in, size_t len, unsigned char **out,
                                size_t *out_len, ssync_error *err);
/* MS-XCA 2.4 plain LZ77 decompression into out (exactly out_len bytes expected). */
int ssync_lzxpress_decompress(const unsigned char *in, size_t len, unsigned char *out,
                              size_t out_len);

#endif
