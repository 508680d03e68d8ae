/* A minimal ESE (JET Blue) database writer for the lab: just enough of the format that
 * libesedb and esedbexport read back an AD CS-shaped CA database (format 0x620 revision 0x14,
 * 8 KiB pages, the catalog, user tables with fixed, variable and tagged columns, and separated
 * long values in a long-value tree per table). Rows are streamed to disk: only one page per
 * B-tree level is held in memory, so a 100,000-request database costs no more memory than a
 * small one. No indexes, space trees, key compression or ECC checksums (libesedb needs none).
 * The layout follows the libyal ESE format documentation (libyal/libesedb) and Microsoft's ESE
 * source (microsoft/Extensible-Storage-Engine: dev/ese/src/inc/cpage.hxx, dev/ese/src/ese/lv.cxx),
 * checked against libesedb 20181229's reader. */
#ifndef SSYNC_LAB_ESE_H
#define SSYNC_LAB_ESE_H

#include <stddef.h>
#include <stdint.h>

/* JET column types used here */
enum {
    ESE_COLTYP_LONG = 4,        /* int32 */
    ESE_COLTYP_DATETIME = 8,    /* OLE automation date (double), or a FILETIME in the wild */
    ESE_COLTYP_BINARY = 9,      /* up to 255 bytes */
    ESE_COLTYP_TEXT = 10,       /* up to 255 bytes, UTF-16LE with codepage 1200 */
    ESE_COLTYP_LONGBINARY = 11, /* tagged, inline or a separated long value */
    ESE_COLTYP_LONGTEXT = 12,
    ESE_COLTYP_INT64 = 15,
};

/* Column ids: 1..127 fixed, 128..255 variable, 256.. tagged. Within a table the ids of each
 * class must be contiguous from its first id, and columns are given in id order. */
typedef struct ese_column {
    const char *name;
    uint32_t id;
    uint32_t type;
    uint32_t size; /* fixed columns: bytes (4 or 8); others: the declared maximum */
} ese_column;

/* One value of a row; data NULL = the column is NULL. Tagged columns only: separate = 1 stores
 * the value in the long-value tree (the record keeps its id); compressed = 1 marks the stored
 * bytes as compressed (the caller passes them already compressed). */
typedef struct ese_value {
    const void *data;
    size_t len;
    int separate;
    int compressed;
} ese_value;

typedef struct ese_opts {
    uint32_t page_size;   /* 4096, 8192 (default when 0), 16384 or 32768 */
    uint32_t state;       /* file header state: 3 clean shutdown (default when 0), 2 dirty */
    unsigned lv_key_size; /* 4 (default when 0), or 8 (large long-value ids, Windows 10 on) */
    int lv_compress;      /* separated long values LZXPRESS-compressed chunk by chunk, as ESE
                             does for compressed columns (a chunk only when it gets smaller) */
    int header_ext;       /* header fields past byte 668 (as Windows 11 writes): the checksum
                             covers the whole header page */
} ese_opts;

typedef struct ese_writer ese_writer;

/* Creates path (replaced if it exists). NULL on failure (reported with lab_err). */
ese_writer *ese_create(const char *path, const ese_opts *opts);
/* Declares a table; returns its handle (>= 0) or -1. All tables come before the first row. */
int ese_table(ese_writer *w, const char *name, const ese_column *cols, size_t ncols);
/* Appends a row: vals[i] is the value of cols[i]. The key is the first column (a fixed Long,
 * e.g. RequestID), which must increase from row to row. Returns 0 or -1. */
int ese_insert(ese_writer *w, int table, const ese_value *vals);
/* Writes the catalog and the headers and closes the file; frees w. Returns 0 or -1. */
int ese_close(ese_writer *w);
/* Frees w after a failure (the file is left incomplete). */
void ese_abort(ese_writer *w);

/* The XOR-32 checksum of the file header page (seed 0x89abcdef over bytes 4..size-1; ESE source,
 * checksumu.cxx). */
uint32_t ese_header_checksum(const unsigned char *hdr, size_t size);

#endif
