/* ESE records and page entries as the CA database reader decodes them: fixed columns and their
 * NULL bitmap, variable columns and their NULL bit, tagged columns with and without the flag
 * byte (0x05 = a separated long value), B-tree entries with a common key prefix and deleted
 * entries, and damaged input that must fail cleanly. */
#include "testutil.h"

#include "edb/ese_pages.h"
#include "edb/ese_record.h"

#include <stdlib.h>
#include <string.h>

static const ssync_edb_coldef cols[] = {
    {1, 4, 4, "A", 0, 0},      {2, 4, 4, "B", 0, 0},        {128, 10, 255, "C", 0, 0},
    {129, 10, 255, "D", 0, 0}, {256, 11, 65536, "E", 0, 0}, {257, 11, 65536, "F", 0, 0},
};
#define NCOLS (sizeof cols / sizeof cols[0])

/* last fixed 2, last variable 129, variable offsets at 13; fixed A = 1, B NULL (bitmap bit 1);
 * C = "abc", D NULL; tagged: E with flag byte 0x05 and a 4-byte id, F = "xy" */
static const unsigned char rec[] = {
    2,    129,  13,   0,                            /* header */
    1,    0,    0,    0,    2,    0,    0,    0,    /* fixed A, B */
    0x02,                                           /* NULL bitmap: B */
    3,    0,    0x03, 0x80,                         /* variable ends: C = 3, D NULL */
    'a',  'b',  'c',                                /* C */
    0x00, 0x01, 0x08, 0x40, 0x01, 0x01, 0x0d, 0x00, /* tagged: (256, 8 | flags), (257, 13) */
    0x05, 7,    0,    0,    0,                      /* E: flags, long-value id 7 */
    'x',  'y',                                      /* F */
};

static void columns(void **state)
{
    (void)state;
    ssync_edb_raw r;
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 1, 0, &r), 1);
    assert_int_equal(r.len, 4);
    assert_int_equal(r.data[0], 1);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 2, 0, &r), 0);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 3, 0, &r), 0);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 128, 0, &r), 1);
    assert_int_equal(r.len, 3);
    assert_memory_equal(r.data, "abc", 3);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 129, 0, &r), 0);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 130, 0, &r), 0);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 256, 0, &r), 1);
    assert_int_equal(r.flags, SSYNC_EDB_TAG_LONG_COLUMN | SSYNC_EDB_TAG_SEPARATED);
    assert_int_equal(r.len, 4);
    assert_int_equal(r.data[0], 7);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 257, 0, &r), 1);
    assert_int_equal(r.flags, 0);
    assert_memory_equal(r.data, "xy", 2);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 258, 0, &r), 0);
    /* 16 KiB pages of revision 0x11+: every tagged value starts with its flag byte, and bit
     * 0x4000 of an offset is part of the offset */
    unsigned char big[sizeof rec];
    memcpy(big, rec, sizeof rec);
    big[23] = 0;
    assert_int_equal(ssync_edb_record_find(big, sizeof big, cols, NCOLS, 256, 1, &r), 1);
    assert_int_equal(r.flags, 0x05);
    assert_int_equal(ssync_edb_record_find(big, sizeof big, cols, NCOLS, 257, 1, &r), 1);
    assert_int_equal(r.flags, 'x');
    assert_int_equal(r.len, 1);
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols, NCOLS, 257, 1, &r), -1);
}

static void damaged(void **state)
{
    (void)state;
    unsigned char bad[sizeof rec];
    ssync_edb_raw r;
    /* variable offsets past the end */
    memcpy(bad, rec, sizeof rec);
    bad[2] = 200;
    assert_int_equal(ssync_edb_record_find(bad, sizeof bad, cols, NCOLS, 128, 0, &r), -1);
    /* a tagged offset past the end */
    memcpy(bad, rec, sizeof rec);
    bad[26] = 0x7f;
    assert_int_equal(ssync_edb_record_find(bad, sizeof bad, cols, NCOLS, 257, 0, &r), -1);
    /* no tagged entries but tagged bytes */
    memcpy(bad, rec, sizeof rec);
    bad[22] = 0;
    bad[23] = 0;
    assert_int_equal(ssync_edb_record_find(bad, sizeof bad, cols, NCOLS, 256, 0, &r), -1);
    /* cut inside the tagged values */
    assert_int_equal(ssync_edb_record_find(rec, 30, cols, NCOLS, 257, 0, &r), -1);
    /* a variable end before its start */
    memcpy(bad, rec, sizeof rec);
    bad[13] = 5;
    bad[15] = 2;
    bad[16] = 0;
    assert_int_equal(ssync_edb_record_find(bad, sizeof bad, cols, NCOLS, 129, 0, &r), -1);
    /* a fixed column the catalog does not describe */
    assert_int_equal(ssync_edb_record_find(rec, sizeof rec, cols + 1, NCOLS - 1, 2, 0, &r), -1);
    /* too short for a header */
    assert_int_equal(ssync_edb_record_find(rec, 3, cols, NCOLS, 1, 0, &r), -1);
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void page_nodes(void **state)
{
    (void)state;
    unsigned char *pg = calloc(1, 8192);
    assert_non_null(pg);
    ssync_edb_page v = {pg, 8192, 40, 5, 0x2, 0, 0, 3};
    /* tag 0: the common key "AB"; tag 1: common 2 + local "C", data "z"; tag 2: deleted */
    memcpy(pg + 40, "AB", 2);
    unsigned char *e = pg + 42;
    put16(e, 2);
    put16(e + 2, 1);
    e[4] = 'C';
    e[5] = 'z';
    put16(pg + 8192 - 4, 2);           /* tag 0: size 2 */
    put16(pg + 8192 - 2, 0);           /* offset 0 */
    put16(pg + 8192 - 8, 6);           /* tag 1: size 6 */
    put16(pg + 8192 - 6, 2 | 0x8000);  /* offset 2, flag 4 (common key) */
    put16(pg + 8192 - 12, 6);          /* tag 2: size 6 */
    put16(pg + 8192 - 10, 2 | 0x4000); /* flag 2 (defunct) */
    ssync_edb_node n;
    assert_int_equal(ssync_edb_page_node(&v, 1, &n), 1);
    assert_int_equal(n.klen, 3);
    assert_memory_equal(n.key, "ABC", 3);
    assert_int_equal(n.dlen, 1);
    assert_int_equal(n.data[0], 'z');
    assert_int_equal(ssync_edb_page_node(&v, 2, &n), 0);
    assert_int_equal(ssync_edb_page_node(&v, 3, &n), -1);
    assert_int_equal(ssync_edb_page_node(&v, 0, &n), -1);
    /* a local key longer than the value, and a tag past the page */
    put16(e + 2, 9);
    assert_int_equal(ssync_edb_page_node(&v, 1, &n), -1);
    put16(e + 2, 1);
    put16(pg + 8192 - 6, 8150 | 0x8000);
    assert_int_equal(ssync_edb_page_node(&v, 1, &n), -1);
    free(pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(columns),
        cmocka_unit_test(damaged),
        cmocka_unit_test(page_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
