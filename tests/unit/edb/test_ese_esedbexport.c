/* The ESE reader against Debian's esedbexport (libesedb 20181229) on the real Windows-written
 * files of tests/data/ese-real, cell by cell where esedbexport reads correctly: integers, bits,
 * GUIDs, binary, text (in the record, 7-bit compressed included). Where they differ ours is
 * right and the test says so (docs/formats.md): libesedb prints NULL fixed columns as the '*'
 * filler ESE leaves there, decodes UTF-16 surrogate pairs wrongly (U+1F98A comes out as
 * U+1F58B), prints negative Currency values unsigned and IEEESingle values as 0, cannot look
 * separated long values up, reads 7-bit compressed ASCII long text as UTF-16, and refuses
 * Windows 11 headers (its checksum stops at byte 668). Skipped when esedbexport is not
 * installed (scripts/bootstrap installs libesedb-utils). */
#include "testutil.h"

#include "edb/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmp;

static int cell_ours(ssync_edb_table *t, size_t col, char *out, size_t size, int *skip)
{
    ssync_error err = {0};
    ssync_edb_value v;
    *skip = 0;
    if (t->ops->get(t, (int)col, &v, &err) != SSYNC_OK)
        fail_msg("%s: %s", ssync_edb_column_name(t, col), err.msg);
    out[0] = '\0';
    switch (v.kind) {
    case SSYNC_EDB_NULL:
        break;
    case SSYNC_EDB_INT:
        if (ssync_edb_column_type(t, col) == SSYNC_COLTYP_BIT)
            snprintf(out, size, "%s", v.i ? "true" : "false");
        else
            snprintf(out, size, "%lld", v.i);
        break;
    case SSYNC_EDB_TEXT:
        for (const unsigned char *p = (const unsigned char *)v.text; *p; p++)
            if (*p >= 0xf0) /* a character past U+FFFF: libesedb decodes it wrongly */
                *skip = 1;
        snprintf(out, size, "%s", v.text);
        break;
    case SSYNC_EDB_BINARY:
        for (size_t i = 0; i < v.len && 2 * i + 3 < size; i++)
            snprintf(out + 2 * i, 3, "%02x", v.data[i]);
        break;
    default:
        *skip = 1;
        break;
    }
    ssync_edb_value_clear(&v);
    return 0;
}

/* compares every comparable cell of table in file; returns the number compared */
static size_t compare(const char *file, const char *table)
{
    char db[4096], cmd[12288], exp[4096];
    snprintf(db, sizeof db, "%s/%s", tmp, file);
    snprintf(
        cmd, sizeof cmd,
        "gzip -dc '%s/%s.gz' > '%s' && cd '%s' && esedbexport -t '%s.%s' '%s' > /dev/null 2>&1",
        test_data_path("ese-real"), file, db, tmp, file, table, file);
    assert_int_equal(system(cmd), 0);
    ssync_edb_db *h = NULL;
    ssync_error err = {0};
    const char *names[] = {table};
    if (ssync_edb_open_tables(db, names, 1, 0, &h, &err) != SSYNC_OK)
        fail_msg("%s: %s", file, err.msg);
    ssync_edb_table *t = ssync_edb_table_at(h, 0);
    size_t rows = 0;
    assert_int_equal(t->ops->count(t, &rows, &err), SSYNC_OK);
    /* esedbexport names the export FILE.TABLE.export/TABLE.N */
    snprintf(cmd, sizeof cmd, "ls '%s/%s.%s.export/' | grep '^%s\\.[0-9]*$'", tmp, file, table,
             table);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    char base[256] = "";
    assert_non_null(fgets(base, sizeof base, ls));
    pclose(ls);
    base[strcspn(base, "\n")] = '\0';
    snprintf(exp, sizeof exp, "%s/%s.%s.export/%s", tmp, file, table, base);
    FILE *f = fopen(exp, "r");
    assert_non_null(f);
    size_t cap = 1 << 20, compared = 0, row = 0;
    char *line = malloc(cap), *ours = malloc(cap);
    assert_non_null(line);
    assert_non_null(ours);
    assert_non_null(fgets(line, (int)cap, f)); /* the column names */
    size_t ncols = ssync_edb_column_count(t);
    for (; fgets(line, (int)cap, f); row++) {
        assert_true(row < rows);
        assert_int_equal(t->ops->load(t, row, &err), SSYNC_OK);
        line[strcspn(line, "\n")] = '\0';
        char *cell = line;
        for (size_t c = 0; c < ncols; c++) {
            char *tab = strchr(cell, '\t');
            if (tab)
                *tab = '\0';
            uint32_t type = ssync_edb_column_type(t, c);
            int skip = 0;
            cell_ours(t, c, ours, cap, &skip);
            /* a NULL fixed column: ESE's filler '*' (0x2a), as text, hex or a number */
            static const char *const stars[] = {"42", "10794", "707406378", "3038287259199220266",
                                                "true"};
            int filler = !ours[0] && cell[0] &&
                         (strspn(cell, "*") == strlen(cell) || strspn(cell, "2a") == strlen(cell));
            for (size_t k = 0; k < sizeof stars / sizeof stars[0] && !ours[0]; k++)
                filler |= !strcmp(cell, stars[k]);
            int long_value = type == SSYNC_COLTYP_LONG_BINARY || type == SSYNC_COLTYP_LONG_TEXT;
            int unreliable = type == SSYNC_COLTYP_CURRENCY || type == SSYNC_COLTYP_IEEE_SINGLE ||
                             type == SSYNC_COLTYP_IEEE_DOUBLE || type == SSYNC_COLTYP_DATETIME;
            /* long values: libesedb cannot look separated ones up and reads 7-bit compressed
             * ASCII long text as UTF-16 (test_ese_real checks them against dissect) */
            if (!skip && !filler && !unreliable && !long_value) {
                if (strcmp(cell, ours) != 0)
                    fail_msg("%s %s row %zu column %s: esedbexport '%.60s', ours '%.60s'", file,
                             table, row, ssync_edb_column_name(t, c), cell, ours);
                compared++;
            }
            if (!tab)
                break;
            cell = tab + 1;
        }
    }
    assert_int_equal(row, rows);
    fclose(f);
    free(line);
    free(ours);
    ssync_edb_close(h);
    return compared;
}

static void real_files(void **state)
{
    (void)state;
    if (system("command -v esedbexport > /dev/null 2>&1") != 0)
        skip();
    size_t n = 0;
    n += compare("basic.edb", "basic");
    n += compare("binary.edb", "binary");
    n += compare("text.edb", "text");
    n += compare("default.edb", "default");
    n += compare("index.edb", "index");
    n += compare("decompress_test.edb", "test_table");
    n += compare("test.edb", "TestTable");
    n += compare("basic.edb", "MSysObjects"); /* the catalog itself */
    n += compare("test.edb", "MSysObjects");
    print_message("# %zu cells equal to esedbexport's\n", n);
    assert_true(n >= 3000); /* 3,899 when written */
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(real_files)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
