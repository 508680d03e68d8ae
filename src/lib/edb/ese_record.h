/* ESE records (a table's leaf data): where one column's value lies. Layout (libyal ESE format,
 * "Data definitions"; Microsoft's ESE source, dev/ese/src/inc/rec.hxx and tagfld.hxx): a 4-byte
 * header (last fixed column id, last variable column id, offset of the variable offsets), the fixed
 * values in id order and their NULL bitmap, the variable columns' end offsets (bit 15 = NULL) and
 * values, then the tagged columns: (id, offset) pairs, the value's flag byte first when the offset
 * has bit 0x4000 (or always on 16 KiB pages of revision 0x11 and later). */
#ifndef SSYNC_EDB_RECORD_H
#define SSYNC_EDB_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* tagged value flags (ESE TAGFLD_HEADER) */
#define SSYNC_EDB_TAG_LONG_COLUMN 0x01 /* a LongBinary/LongText column's value */
#define SSYNC_EDB_TAG_COMPRESSED 0x02
#define SSYNC_EDB_TAG_SEPARATED 0x04 /* the value is a long-value id */
#define SSYNC_EDB_TAG_MULTI 0x08
#define SSYNC_EDB_TAG_TWO_VALUES 0x10 /* with MULTI: exactly two values */

typedef struct ssync_edb_coldef {
    uint32_t id, type, size;
    char name[64];
    uint32_t codepage; /* text columns: 1200 = UTF-16LE, else a single-byte code page (1252) */
    uint32_t flags;    /* the catalog's column flags (JET_bitColumn*) */
} ssync_edb_coldef;

typedef struct ssync_edb_raw {
    const unsigned char *data;
    size_t len;
    unsigned flags; /* tagged value flags; 0 for fixed and variable columns */
} ssync_edb_raw;

/* Finds column id in the record rec. cols: the table's columns (the sizes of the fixed ones
 * place the fixed values). tag_flags_always: 16 KiB pages of revision >= 0x11.
 * 1 = value found, 0 = NULL or absent, -1 = malformed record. */
int ssync_edb_record_find(const unsigned char *rec, size_t len, const ssync_edb_coldef *cols,
                          size_t ncols, uint32_t id, int tag_flags_always, ssync_edb_raw *out);

#endif
