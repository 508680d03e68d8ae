/* The ESE reader on real files written by Windows' own ESE (tests/data/ese-real, PROVENANCE.md):
 * row counts and cell values against fox-it/dissect.esedb's tests/test_esedb.py expected values
 * and esent.dll's own dump (esentoutput2.txt). Each form Windows writes: 4 and 8 KiB pages,
 * 32 KiB pages (large.edb), 16 KiB pages with 8-byte long-value ids and a header past byte 668
 * (qmgr, dirty as copied), 7-bit and LZXPRESS compressed values in the record, separated long
 * values compressed chunk by chunk, multi-valued columns, ASCII and Unicode text. */
#include "testutil.h"

#include "edb/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *tmp;

/* tests/data/ese-real/NAME.gz, unpacked into the temporary directory */
static const char *unpack(const char *name)
{
    static char out[4096];
    char cmd[8192];
    snprintf(out, sizeof out, "%s/%s", tmp, name);
    snprintf(cmd, sizeof cmd, "gzip -dc '%s/%s.gz' > '%s'", test_data_path("ese-real"), name, out);
    assert_int_equal(system(cmd), 0);
    return out;
}

typedef struct opened {
    ssync_edb_db *db;
    ssync_edb_table *t;
    size_t rows;
} opened;

static opened open_table(const char *file, const char *table, int dirty)
{
    opened o = {0};
    ssync_error err = {0};
    const char *names[] = {table};
    ssync_code rc = ssync_edb_open_tables(unpack(file), names, 1, dirty, &o.db, &err);
    if (rc != SSYNC_OK)
        fail_msg("%s: %s", file, err.msg);
    o.t = ssync_edb_table_at(o.db, 0);
    assert_int_equal(o.t->ops->count(o.t, &o.rows, &err), SSYNC_OK);
    return o;
}

static void load(opened *o, size_t row)
{
    ssync_error err = {0};
    if (o->t->ops->load(o->t, row, &err) != SSYNC_OK)
        fail_msg("row %zu: %s", row, err.msg);
}

/* the current row's value of column name (the test fails on an error) */
static ssync_edb_value get(opened *o, const char *name)
{
    ssync_error err = {0};
    ssync_edb_value v;
    int c = o->t->ops->column(o->t, name);
    if (c < 0)
        fail_msg("no column %s", name);
    if (o->t->ops->get(o->t, c, &v, &err) != SSYNC_OK)
        fail_msg("%s: %s", name, err.msg);
    return v;
}

static void want_int(opened *o, const char *name, long long want)
{
    ssync_edb_value v = get(o, name);
    assert_int_equal(v.kind, SSYNC_EDB_INT);
    assert_true(v.i == want);
}

static void want_text(opened *o, const char *name, const char *want)
{
    ssync_edb_value v = get(o, name);
    assert_int_equal(v.kind, SSYNC_EDB_TEXT);
    assert_string_equal(v.text, want);
    ssync_edb_value_clear(&v);
}

static void want_null(opened *o, const char *name)
{
    ssync_edb_value v = get(o, name);
    assert_int_equal(v.kind, SSYNC_EDB_NULL);
}

/* prefix followed by n times c */
static char *padded(const char *prefix, char c, size_t n)
{
    size_t p = strlen(prefix);
    char *s = malloc(p + n + 1);
    assert_non_null(s);
    memcpy(s, prefix, p);
    memset(s + p, c, n);
    s[p + n] = '\0';
    return s;
}

static void close_table(opened *o)
{
    ssync_edb_close(o->db);
}

static void basic_types(void **state)
{
    (void)state;
    opened o = open_table("basic.edb", "basic", 0);
    assert_int_equal(o.rows, 2);
    load(&o, 0);
    want_int(&o, "Id", 1);
    want_int(&o, "Bit", 0);
    want_int(&o, "UnsignedByte", 213);
    want_int(&o, "Short", -1337);
    want_int(&o, "Long", -13371337);
    want_int(&o, "Currency", 1337133713371337LL);
    want_int(&o, "UnsignedLong", 13371337);
    want_int(&o, "LongLong", -13371337);
    want_int(&o, "UnsignedShort", 1337);
    ssync_edb_value v = get(&o, "IEEEDouble");
    assert_int_equal(v.kind, SSYNC_EDB_REAL);
    assert_true(v.d == 13371337.13371337);
    v = get(&o, "IEEESingle");
    assert_true(v.d == 1.0);
    v = get(&o, "DateTime"); /* an OLE date: 1999-03-01 */
    assert_int_equal(v.kind, SSYNC_EDB_DATE);
    assert_int_equal(v.t, 920246400);
    v = get(&o, "GUID"); /* 3f360af1-6766-46dc-9af2-0dacf295c2a1, as stored */
    assert_int_equal(v.len, 16);
    assert_memory_equal(v.data, "\xf1\x0a\x36\x3f\x66\x67\xdc\x46\x9a\xf2\x0d\xac\xf2\x95\xc2\xa1",
                        16);
    ssync_edb_value_clear(&v);
    load(&o, 1);
    want_int(&o, "Bit", 1); /* stored 0xff */
    want_int(&o, "Currency", -1339133913391339LL);
    v = get(&o, "DateTime"); /* an OLE date before 1601: 1337-06-09 */
    assert_int_equal(v.kind, SSYNC_EDB_DATE);
    assert_true(v.t == -19961769600LL);
    close_table(&o);
}

static void binary_and_compressed(void **state)
{
    (void)state;
    opened o = open_table("binary.edb", "binary", 0);
    assert_int_equal(o.rows, 1);
    load(&o, 0);
    want_null(&o, "NullableFixedBinary");
    const struct {
        const char *col, *prefix;
        size_t n;
    } want[] = {
        {"LongBinary", "test long binary data ", 1000},
        {"LongCompressedBinary", "test long compressed binary data ", 1000},
        {"MaxLongBinary", "test max long binary data ", 900},
        {"MaxLongCompressedBinary", "test max long compressed binary data ", 900},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *s = padded(want[i].prefix, 'a', want[i].n);
        ssync_edb_value v = get(&o, want[i].col);
        assert_int_equal(v.kind, SSYNC_EDB_BINARY);
        assert_int_equal(v.len, strlen(s));
        assert_memory_equal(v.data, s, v.len);
        ssync_edb_value_clear(&v);
        free(s);
    }
    close_table(&o);
}

static void text_ascii_unicode_compressed(void **state)
{
    (void)state;
    opened o = open_table("text.edb", "text", 0);
    assert_int_equal(o.rows, 1);
    load(&o, 0);
    want_text(&o, "ASCII", "Simple ASCII text");
    want_text(&o, "Unicode", "Simple Unicode text \xf0\x9f\xa6\x8a"); /* a surrogate pair */
    want_text(&o, "MaxASCII", "Max ASCII text that can't be that long");
    want_text(&o, "TaggedUnicode", "Tagged Unicode text \xf0\x9f\xa6\x8a");
    want_null(&o, "NullableTaggedASCII");
    want_text(&o, "LongTinyCompressedASCII", "Tiny c ASCII");
    want_text(&o, "LongTinyCompressedUnicode", "Tiny c \xf0\x9f\xa6\x8a");
    const struct {
        const char *col, *prefix;
        size_t n;
    } want[] = {
        {"LongASCII", "Long ASCII text ", 1024},
        {"LongCompressedASCII", "Long compressed ASCII text ", 1024},
        {"LongCompressedUnicode", "Long compressed Unicode text \xf0\x9f\xa6\x8a ", 1024},
        {"MaxLongCompressedASCII", "Max long compressed ASCII text that can be a bit longer ", 900},
        {"MaxLongCompressedUnicode",
         "Max long compressed Unicode text that can be a bit longer \xf0\x9f\xa6\x8a ", 900},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *s = padded(want[i].prefix, 'a', want[i].n);
        want_text(&o, want[i].col, s);
        free(s);
    }
    close_table(&o);
}

static void multi_values(void **state)
{
    (void)state;
    opened o = open_table("multi.edb", "multi", 0);
    assert_int_equal(o.rows, 2);
    load(&o, 0);
    ssync_edb_value v = get(&o, "Long");
    assert_int_equal(v.kind, SSYNC_EDB_MULTI);
    assert_int_equal(v.nitems, 3);
    assert_true(v.items[0].i == 0 && v.items[1].i == -2147483647 && v.items[2].i == 2147483647);
    ssync_edb_value_clear(&v);
    v = get(&o, "Bit");
    assert_int_equal(v.nitems, 2);
    assert_true(v.items[0].i == 0 && v.items[1].i == 1);
    ssync_edb_value_clear(&v);
    v = get(&o, "Unicode");
    assert_int_equal(v.nitems, 3);
    assert_string_equal(v.items[2].text,
                        "Some Unicode text that has multiple values, this is value "
                        "3 \xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a\xf0\x9f\xa6\x8a");
    ssync_edb_value_clear(&v);
    v = get(&o, "LongCompressedASCII"); /* separated instances */
    assert_int_equal(v.nitems, 3);
    char *s =
        padded("Some very long compressed ASCII text that has multiple values, this is value 2 ",
               'a', 1024);
    assert_string_equal(v.items[1].text, s);
    free(s);
    ssync_edb_value_clear(&v);
    load(&o, 1);
    want_null(&o, "Long");
    v = get(&o, "LongASCII"); /* two values */
    assert_int_equal(v.nitems, 2);
    assert_string_equal(v.items[0].text, "Tiny ASCII 1");
    assert_string_equal(v.items[1].text, "Tiny ASCII 2");
    ssync_edb_value_clear(&v);
    v = get(&o, "LongCompressedASCII"); /* the first instance compressed */
    assert_int_equal(v.nitems, 3);
    s = padded("", 'a', 41);
    assert_string_equal(v.items[0].text, s);
    free(s);
    s = padded("", 'c', 35);
    assert_string_equal(v.items[2].text, s);
    free(s);
    ssync_edb_value_clear(&v);
    close_table(&o);
}

static void pages_32k(void **state)
{
    (void)state;
    opened o = open_table("large.edb", "large", 0);
    assert_int_equal(ssync_edb_db_header(o.db)->page_size, 32768);
    assert_int_equal(o.rows, 16);
    assert_int_equal(ssync_edb_column_count(o.t), 64994);
    char name[32];
    for (size_t row = 0; row < 16; row++) {
        load(&o, row);
        want_int(&o, "Id", (long long)row + 1);
        unsigned i = (unsigned)row * 4096 + (row == 15 ? 3552 : 17); /* Column i is in row i/4096 */
        snprintf(name, sizeof name, "Column%u", i);
        want_int(&o, name, i);
    }
    close_table(&o);
}

/* esent.dll's own dump of decompress_test.edb: "Record          N" in every text column */
static void seven_bit_in_record(void **state)
{
    (void)state;
    opened o = open_table("decompress_test.edb", "test_table", 0);
    assert_int_equal(o.rows, 10);
    char want[32];
    for (size_t row = 0; row < 10; row++) {
        load(&o, row);
        snprintf(want, sizeof want, "Record          %zu", row);
        want_text(&o, "compressed_unicode", want);
        want_text(&o, "compressed_ascii", want);
        want_text(&o, "usual_text", want);
        ssync_edb_value v = get(&o, "compressed_binary");
        assert_int_equal(v.len, strlen(want));
        assert_memory_equal(v.data, want, v.len);
        ssync_edb_value_clear(&v);
    }
    close_table(&o);
}

static void lzxpress_long_values(void **state)
{
    (void)state;
    opened o = open_table("decompress_test2.edb", "test_table", 0);
    assert_int_equal(o.rows, 10);
    for (size_t row = 0; row < 10; row++) {
        load(&o, row);
        ssync_edb_value u = get(&o, "compressed_unicode"), a = get(&o, "compressed_ascii"),
                        t = get(&o, "usual_text");
        assert_string_equal(u.text, t.text);
        assert_string_equal(a.text, t.text);
        assert_true(strlen(t.text) > 2000 && !strncmp(t.text, "Record ", 7));
        ssync_edb_value_clear(&u);
        ssync_edb_value_clear(&a);
        ssync_edb_value_clear(&t);
    }
    close_table(&o);
    /* test.edb's LongText: chunks at 0, 4014, 8028 ... each compressed on its own */
    o = open_table("test.edb", "TestTable", 0);
    assert_int_equal(o.rows, 1);
    load(&o, 0);
    ssync_edb_value v = get(&o, "LongText");
    assert_int_equal(v.kind, SSYNC_EDB_TEXT);
    assert_int_equal(strlen(v.text), 4300); /* 8600 bytes: chunks at 0, 4014 and 8028 */
    assert_int_equal(
        strncmp(v.text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz1234567890ABC", 65),
        0);
    ssync_edb_value_clear(&v);
    close_table(&o);
}

static void lid64_and_windows11_header(void **state)
{
    (void)state;
    /* dirty as copied from a live system: refused for syncing, read for inspection */
    ssync_edb_db *db = NULL;
    ssync_error err = {0};
    const char *names[] = {"Jobs"};
    assert_int_equal(ssync_edb_open_tables(unpack("qmgr-win10.db"), names, 1, 0, &db, &err),
                     SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "not shut down cleanly (state 2)"));
    opened o = open_table("qmgr-win10.db", "Jobs", 1);
    assert_int_equal(ssync_edb_db_header(o.db)->page_size, 16384);
    assert_int_equal(ssync_edb_db_header(o.db)->format_revision, 0x6e);
    assert_int_equal(o.rows, 1);
    load(&o, 0);
    ssync_edb_value v = get(&o, "Blob"); /* an 8-byte long-value id */
    assert_int_equal(v.len, 2055);
    assert_memory_equal(v.data, "\xa1\x56\x09\xe1\x43\xaf\xc9\x42", 8);
    ssync_edb_value_clear(&v);
    close_table(&o);
    /* Windows 11: header fields past byte 668, its checksum over the whole page */
    o = open_table("qmgr-win11.db", "Files", 1);
    assert_int_equal(ssync_edb_db_header(o.db)->format_revision, 0xc8);
    assert_int_equal(ssync_edb_db_header(o.db)->from_shadow, 0);
    assert_int_equal(o.rows, 4);
    for (size_t row = 0; row < 4; row++) {
        load(&o, row);
        v = get(&o, "Blob");
        assert_true(v.len > 1000);
        ssync_edb_value_clear(&v);
    }
    close_table(&o);
}

/* xor-checksums the header page at off again (seed 0x89abcdef over the page from byte 4) */
static void reseal(unsigned char *f, size_t off, size_t ps)
{
    uint32_t x = 0x89abcdefu;
    for (size_t i = 4; i < ps; i += 4)
        x ^= (uint32_t)f[off + i] | (uint32_t)f[off + i + 1] << 8 | (uint32_t)f[off + i + 2] << 16 |
             (uint32_t)f[off + i + 3] << 24;
    for (int k = 0; k < 4; k++)
        f[off + k] = (unsigned char)(x >> (8 * k));
}

static ssync_code header_of(const unsigned char *f, size_t len, ssync_edb_header *h,
                            ssync_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/hdr.edb", tmp);
    FILE *o = fopen(path, "wb");
    assert_non_null(o);
    assert_int_equal(fwrite(f, 1, len, o), len);
    fclose(o);
    return ssync_edb_read_header_ex(path, 1, h, err);
}

/* the header checks on a real file: a damaged primary falls back to the shadow copy; both
 * damaged, a format revision past 0x12c or another format version are refused, saying so */
static void header_checks(void **state)
{
    (void)state;
    const char *path = unpack("basic.edb");
    FILE *in = fopen(path, "rb");
    assert_non_null(in);
    size_t len = 2 * 4096;
    unsigned char *f = malloc(len), *g = malloc(len);
    assert_non_null(f);
    assert_non_null(g);
    assert_int_equal(fread(f, 1, len, in), len);
    fclose(in);
    ssync_edb_header h;
    ssync_error err = {0};
    assert_int_equal(header_of(f, len, &h, &err), SSYNC_OK);
    assert_int_equal(h.from_shadow, 0);
    memcpy(g, f, len);
    g[4000] ^= 1; /* past byte 668: only a whole-page checksum sees it */
    assert_int_equal(header_of(g, len, &h, &err), SSYNC_OK);
    assert_int_equal(h.from_shadow, 1);
    g[4096 + 4000] ^= 1;
    assert_int_equal(header_of(g, len, &h, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "damaged ESE file header (checksum mismatch in the header "
                                    "and its shadow copy)"));
    memcpy(g, f, len); /* a revision newer than the reader knows */
    g[232] = 0x2d;
    g[233] = 0x01;
    memcpy(g + 4096 + 232, g + 232, 2);
    reseal(g, 0, 4096);
    reseal(g, 4096, 4096);
    assert_int_equal(header_of(g, len, &h, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "format revision 0x12d is newer than this reader knows"));
    g[232] = 0x2c; /* 0x12c: read */
    memcpy(g + 4096 + 232, g + 232, 2);
    reseal(g, 0, 4096);
    reseal(g, 4096, 4096);
    assert_int_equal(header_of(g, len, &h, &err), SSYNC_OK);
    memcpy(g, f, len); /* another format version */
    g[8] = 0x21;
    reseal(g, 0, 4096);
    assert_int_equal(header_of(g, len, &h, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "format version 0x621 is not supported"));
    /* a directory (a blob directory given as the database): said so */
    assert_int_equal(ssync_edb_read_header_ex(tmp, 1, &h, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "not an ESE database (a directory)"));
    free(f);
    free(g);
}

static int setup(void **state)
{
    (void)state;
    tmp = test_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmtree(tmp);
    free(tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(basic_types),
        cmocka_unit_test(binary_and_compressed),
        cmocka_unit_test(text_ascii_unicode_compressed),
        cmocka_unit_test(multi_values),
        cmocka_unit_test(pages_32k),
        cmocka_unit_test(seven_bit_in_record),
        cmocka_unit_test(lzxpress_long_values),
        cmocka_unit_test(lid64_and_windows11_header),
        cmocka_unit_test(header_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
