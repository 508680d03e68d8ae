/* Inspection of any ESE database: the file header in every state (a dirty copy is accepted,
 * with its log generations), the checksum over the whole header page or the first 668 bytes,
 * damaged and foreign headers refused with one message; the catalog and a streaming cursor on
 * a real Windows-written file (ese_parser's test.edb: all column types, multi-valued tagged
 * columns, a tagged default value, a NULL fixed column); the argument checks. */
#include "testutil.h"

#include "edb/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One scratch directory for the whole run (removed at exit); test.edb.gz unpacked into it. */
static char scratch_dir[64];

static void remove_scratch(void)
{
    test_rmtree(scratch_dir);
}

static const char *scratch(void)
{
    if (!scratch_dir[0]) {
        char *d = test_tmpdir();
        snprintf(scratch_dir, sizeof scratch_dir, "%s", d);
        free(d);
        atexit(remove_scratch);
    }
    return scratch_dir;
}

static const char *real_test_edb(void)
{
    static char out[128];
    if (!out[0]) {
        snprintf(out, sizeof out, "%s/test.edb", scratch());
        char cmd[4096 + 256];
        snprintf(cmd, sizeof cmd, "gzip -dc '%s/test.edb.gz' > '%s'", test_data_path("ese-real"),
                 out);
        assert_int_equal(system(cmd), 0);
    }
    return out;
}

#define PAGE 4096

#define assert_ok(rc, e)                                                                           \
    do {                                                                                           \
        ssync_code rc_ = (rc);                                                                     \
        if (rc_ != SSYNC_OK)                                                                       \
            fail_msg("%s: %s", ssync_code_name(rc_), (e).msg);                                     \
    } while (0)

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t xor_of(const unsigned char *b, size_t n)
{
    uint32_t x = 0x89abcdefu;
    for (size_t i = 4; i < n; i += 4)
        x ^= (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
             (uint32_t)b[i + 3] << 24;
    return x;
}

/* A header page: state, a byte past 668 when beyond (so only the whole-page checksum holds),
 * the checksum over sum_len bytes; written twice (header and shadow) and 4 more pages. */
static const char *header_file(uint32_t state, int beyond, size_t sum_len)
{
    static char path[512];
    static int n;
    unsigned char b[PAGE] = {0};
    wr32(b + 4, 0x89abcdefu);
    wr32(b + 8, 0x620);
    wr32(b + 52, state);
    b[56] = 0x10; /* log position: offset 16, sector 2, generation 7 */
    b[58] = 2;
    wr32(b + 60, 7);
    const unsigned char created[8] = {5, 4, 3, 2, 1, 126, 0, 0}; /* 2026-01-02T03:04:05Z */
    memcpy(b + 28, created, 8);
    wr32(b + 232, 0x14);
    wr32(b + 236, PAGE);
    wr32(b + 296, 3);
    wr32(b + 300, 9);
    if (beyond)
        b[700] = 0x5a;
    wr32(b, xor_of(b, sum_len));
    snprintf(path, sizeof path, "%s/h%d.edb", scratch(), n++);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char zero[PAGE] = {0};
    fwrite(b, 1, PAGE, f);
    fwrite(b, 1, PAGE, f);
    for (int i = 0; i < 4; i++)
        fwrite(zero, 1, PAGE, f);
    fclose(f);
    return path;
}

static void header_fields(void **state)
{
    (void)state;
    ssync_edb_info in;
    ssync_error e = {0};
    assert_ok(ssync_edb_info_read(header_file(3, 0, PAGE), &in, &e), e);
    assert_int_equal(in.format_version, 0x620);
    assert_int_equal(in.format_revision, 0x14);
    assert_int_equal(in.page_size, PAGE);
    assert_int_equal(in.state, SSYNC_EDB_INFO_STATE_CLEAN);
    assert_int_equal(in.pages, 4);
    assert_int_equal(in.consistent.generation, 7);
    assert_int_equal(in.consistent.sector, 2);
    assert_int_equal(in.consistent.offset, 16);
    assert_int_equal((long long)in.created, 1767323045LL); /* 2026-01-02T03:04:05Z */
    assert_int_equal(in.attached, 0);
    assert_string_equal(ssync_edb_state_name(in.state), "clean");
    assert_null(ssync_edb_state_advice(in.state));
}

/* A dirty copy is read (inspection) and says what to do; its required logs are there. */
static void dirty_accepted(void **state)
{
    (void)state;
    ssync_edb_info in;
    ssync_error e = {0};
    assert_ok(ssync_edb_info_read(header_file(2, 0, PAGE), &in, &e), e);
    assert_int_equal(in.state, SSYNC_EDB_INFO_STATE_DIRTY);
    assert_string_equal(ssync_edb_state_name(in.state), "dirty");
    assert_non_null(strstr(ssync_edb_state_advice(in.state), "esentutl /r"));
    assert_int_equal(in.required_min, 3);
    assert_int_equal(in.required_max, 9);
}

/* Fields past byte 668 (Windows 11): the checksum covers the whole page and is accepted; a
 * checksum over the first 668 bytes holds only when nothing follows them (the same XOR). */
static void checksum_whole_page(void **state)
{
    (void)state;
    ssync_edb_info in;
    ssync_error e = {0};
    assert_ok(ssync_edb_info_read(header_file(3, 1, PAGE), &in, &e), e);
    assert_int_equal(in.checksum_whole_page, 1);
    assert_ok(ssync_edb_info_read(header_file(3, 0, 668), &in, &e), e);
    /* the 668-byte sum of a page with fields beyond is a damaged header */
    assert_int_equal(ssync_edb_info_read(header_file(3, 1, 668), &in, &e), SSYNC_ERR_EDB);
    assert_non_null(strstr(e.msg, "checksum mismatch"));
}

static void foreign_files(void **state)
{
    (void)state;
    ssync_edb_info in;
    ssync_error e = {0};
    char path[512];
    snprintf(path, sizeof path, "%s/junk.edb", scratch());
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 2000; i++)
        fputc('x', f);
    fclose(f);
    assert_int_equal(ssync_edb_info_read(path, &in, &e), SSYNC_ERR_EDB);
    assert_non_null(strstr(e.msg, "not an ESE database"));
    assert_non_null(strstr(e.msg, path));
    snprintf(path, sizeof path, "%s/missing.edb", scratch());
    assert_int_equal(ssync_edb_info_read(path, &in, &e), SSYNC_ERR_FILE_OPEN);
    assert_int_equal(ssync_edb_info_read(NULL, &in, &e), SSYNC_ERR_ARG);
}

/* ese_parser's test.edb: the catalog, one row of TestTable with every column type. */
static void real_file_rows(void **state)
{
    (void)state;
    ssync_edb_inspect *db = NULL;
    ssync_error e = {0};
    assert_ok(ssync_edb_inspect_open(real_test_edb(), &db, &e), e);
    int t = ssync_edb_inspect_find_table(db, "TestTable");
    assert_true(t >= 0);
    assert_true(ssync_edb_inspect_find_table(db, "MSysObjects") >= 0);
    assert_int_equal(ssync_edb_inspect_find_table(db, "Requests"), -1);
    size_t ncols = 0, rows = 0;
    const ssync_edb_column *cols = ssync_edb_inspect_columns(db, (size_t)t, &ncols);
    assert_int_equal(ncols, 18);
    assert_string_equal(cols[0].name, "AutoInc");
    assert_ok(ssync_edb_inspect_count(db, (size_t)t, &rows, &e), e);
    assert_int_equal(rows, 1);
    size_t pick[4];
    const char *want[4] = {"Long", "Short", "Text", "TextDefaultValue"};
    for (size_t k = 0; k < 4; k++)
        for (size_t i = 0; i < ncols; i++)
            if (!strcmp(cols[i].name, want[k]))
                pick[k] = i;
    ssync_edb_cursor *c = NULL;
    assert_ok(ssync_edb_cursor_open(db, (size_t)t, pick, 4, &c, &e), e);
    const ssync_edb_field *f;
    size_t nf;
    assert_int_equal(ssync_edb_cursor_next(c, &f, &nf, &e), 1);
    assert_int_equal(nf, 4);
    assert_int_equal(f[0].ncells, 1);
    assert_int_equal(f[0].cells[0].kind, SSYNC_EDB_CELL_INT);
    assert_int_equal(f[0].cells[0].i, -2147483648LL);
    assert_int_equal(f[1].ncells, 0); /* NULL fixed column (ESE fills it with '*') */
    assert_int_equal(f[2].multi, 1);  /* a multi-valued Text: two values */
    assert_int_equal(f[2].ncells, 2);
    assert_string_equal((const char *)f[2].cells[1].data, "Hello");
    assert_int_equal(f[3].ncells, 1); /* absent from the record: the catalog default */
    assert_string_equal((const char *)f[3].cells[0].data, "Default value.");
    assert_int_equal(ssync_edb_cursor_next(c, &f, &nf, &e), 0);
    assert_int_equal(ssync_edb_cursor_row(c), 1);
    ssync_edb_cursor_close(c);
    ssync_edb_ca_summary s;
    assert_ok(ssync_edb_inspect_ca(db, &s, &e), e);
    assert_int_equal(s.is_ca, 0);
    ssync_edb_inspect_close(db);
}

static void bad_arguments(void **state)
{
    (void)state;
    ssync_error e = {0};
    ssync_edb_inspect *db = NULL;
    assert_int_equal(ssync_edb_inspect_open(NULL, &db, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_edb_inspect_count(NULL, 0, NULL, &e), SSYNC_ERR_ARG);
    assert_null(ssync_edb_inspect_table_name(NULL, 0));
    assert_int_equal(ssync_edb_inspect_find_table(NULL, "x"), -1);
    assert_string_equal(ssync_edb_coltyp_name(11), "LongBinary");
    assert_string_equal(ssync_edb_coltyp_name(99), "Unknown");
    assert_ok(ssync_edb_inspect_open(real_test_edb(), &db, &e), e);
    ssync_edb_cursor *c = NULL;
    size_t bad = 999;
    assert_int_equal(ssync_edb_cursor_open(db, 0, &bad, 1, &c, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_edb_cursor_open(db, 9999, NULL, 0, &c, &e), SSYNC_ERR_ARG);
    assert_int_equal(ssync_edb_cursor_next(NULL, NULL, NULL, &e), -1);
    ssync_edb_inspect_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(header_fields),       cmocka_unit_test(dirty_accepted),
        cmocka_unit_test(checksum_whole_page), cmocka_unit_test(foreign_files),
        cmocka_unit_test(real_file_rows),      cmocka_unit_test(bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
