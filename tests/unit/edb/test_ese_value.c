/* CA database values: both date encodings (OLE automation dates and FILETIMEs), UTF-16 text,
 * and LZXPRESS (MS-XCA plain LZ77) decompression of compressed values, including damaged
 * input that must fail cleanly. */
#include "testutil.h"

#include "edb/edb.h"

#include <stdlib.h>
#include <string.h>

static void le64(unsigned char out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(v >> (8 * i));
}

static void dates(void **state)
{
    (void)state;
    unsigned char raw[8];
    time_t t = 0;
    /* an OLE date as esedbexport prints it: (0x40e59f8f 0xc5e0e697) = 2021-03-29 11:49:47 */
    le64(raw, 0x40e59f8fc5e0e697ULL);
    assert_int_equal(ssync_edb_decode_datetime(raw, &t), 0);
    assert_int_equal((long long)t, 1617018587LL);
    /* the same column holding a FILETIME (as dissect reads CertLog dates) */
    le64(raw, 133444736000000000ULL);
    assert_int_equal(ssync_edb_decode_datetime(raw, &t), 0);
    assert_int_equal((long long)t, 1700000000LL);
    /* NULL (zero) and garbage are no date */
    le64(raw, 0);
    assert_int_equal(ssync_edb_decode_datetime(raw, &t), -1);
    le64(raw, 0x7ff8000000000001ULL); /* a NaN, and after year 9999 as a FILETIME */
    assert_int_equal(ssync_edb_decode_datetime(raw, &t), -1);
    assert_int_equal(ssync_edb_filetime_to_time(116444736000000000ULL, &t), 0);
    assert_int_equal((long long)t, 0);
    assert_int_equal(ssync_edb_ole_to_time(25569.5, &t), 0);
    assert_int_equal((long long)t, 43200);
    assert_int_equal(ssync_edb_ole_to_time(1e9, &t), -1);
}

static void utf16(void **state)
{
    (void)state;
    static const unsigned char s[] = {'L',  0, 'A',  0,    'B',  0,    '\\', 0,
                                      0xe4, 0, 0x3d, 0xd8, 0x00, 0xde, 0,    0};
    char *u = ssync_edb_utf16_to_utf8(s, sizeof s);
    assert_non_null(u);
    assert_string_equal(u, "LAB\\\xc3\xa4\xf0\x9f\x98\x80");
    free(u);
    static const unsigned char lone[] = {0x00, 0xd8, 'x', 0};
    u = ssync_edb_utf16_to_utf8(lone, sizeof lone);
    assert_string_equal(u, "\xef\xbf\xbdx");
    free(u);
}

/* "abc" then a match of 12 at offset 3: flags 0001 1111.., token (2 << 3 | 7), nibble 2 */
static const unsigned char xpress_abc[] = {0xff, 0xff, 0xff, 0x1f, 'a', 'b', 'c', 0x17, 0x00, 0x02};

static void lzxpress(void **state)
{
    (void)state;
    unsigned char out[300];
    assert_int_equal(ssync_lzxpress_decompress(xpress_abc, sizeof xpress_abc, out, 15), 0);
    assert_memory_equal(out, "abcabcabcabcabc", 15);
    /* 'a' then a match of 299 at offset 1: length 296 = 7 + nibble 15 + byte 255 + u16 296 */
    static const unsigned char run[] = {0xff, 0xff, 0xff, 0x7f, 'a', 0x07,
                                        0x00, 0x0f, 0xff, 0x28, 0x01};
    assert_int_equal(ssync_lzxpress_decompress(run, sizeof run, out, 300), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(out[i], 'a');
    /* damaged: a match before any output, truncated input, output longer than the data */
    static const unsigned char bad[] = {0xff, 0xff, 0xff, 0xff, 0x17, 0x00};
    assert_int_equal(ssync_lzxpress_decompress(bad, sizeof bad, out, 10), -1);
    assert_int_equal(ssync_lzxpress_decompress(xpress_abc, 6, out, 15), -1);
    assert_int_equal(ssync_lzxpress_decompress(xpress_abc, sizeof xpress_abc, out, 16), -1);
}

static void ese_compressed(void **state)
{
    (void)state;
    unsigned char v[3 + sizeof xpress_abc] = {0x18, 15, 0};
    memcpy(v + 3, xpress_abc, sizeof xpress_abc);
    unsigned char *out = NULL;
    size_t n = 0;
    ssync_error err = {0};
    assert_int_equal(ssync_edb_decompress(v, sizeof v, &out, &n, &err), SSYNC_OK);
    assert_int_equal(n, 15);
    assert_memory_equal(out, "abcabcabcabcabc", 15);
    free(out);
    /* XPRESS9 (0x28) or an unknown scheme: a clear error naming the byte */
    v[0] = 0x28;
    assert_int_equal(ssync_edb_decompress(v, sizeof v, &out, &n, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "scheme byte 0x28 (XPRESS9"));
    assert_null(out);
    v[0] = 0xf8;
    assert_int_equal(ssync_edb_decompress(v, sizeof v, &out, &n, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "0xf8 (unknown scheme"));
    /* 7-bit ASCII: "abc" in 21 bits, 5 used in the last byte (0x08 | 5 - 1) */
    const unsigned char a7[] = {0x0c, 0x61, 0xf1, 0x18};
    assert_int_equal(ssync_edb_decompress(a7, sizeof a7, &out, &n, &err), SSYNC_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "abc", 3);
    free(out);
    /* 7-bit Unicode: the same units widened to UTF-16LE */
    const unsigned char u7[] = {0x14, 0x61, 0xf1, 0x18};
    assert_int_equal(ssync_edb_decompress(u7, sizeof u7, &out, &n, &err), SSYNC_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(out, "a\0b\0c\0", 6);
    free(out);
    /* a bit count that is no multiple of 7, and a value too short: errors */
    const unsigned char bad7[] = {0x0d, 0x61, 0xf1, 0x18};
    assert_int_equal(ssync_edb_decompress(bad7, sizeof bad7, &out, &n, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "7-bit"));
    assert_int_equal(ssync_edb_decompress(a7, 1, &out, &n, &err), SSYNC_ERR_EDB);
    v[0] = 0x18;
    v[0] = 0x18;
    v[1] = 200; /* claims more than the data holds */
    assert_int_equal(ssync_edb_decompress(v, sizeof v, &out, &n, &err), SSYNC_ERR_EDB);
    assert_non_null(strstr(err.msg, "corrupt"));
    assert_int_equal(ssync_edb_decompress(v, 2, &out, &n, &err), SSYNC_ERR_EDB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dates),
        cmocka_unit_test(utf16),
        cmocka_unit_test(lzxpress),
        cmocka_unit_test(ese_compressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
