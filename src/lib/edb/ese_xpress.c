/* Compressed ESE values (a value kept in the record with the compressed flag), decompressed by
 * the CA database reader: ESE's method byte 0x18 is LZXPRESS in
 * its plain LZ77 form (MS-XCA section 2.3, decompression as in section 2.4). */
#include "edb/edb.h"

#include <stdlib.h>
#include <string.h>

#define ESE_COMPRESS_XPRESS 0x18

static uint32_t rd16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t rd32(const unsigned char *p)
{
    return rd16(p) | rd16(p + 2) << 16;
}

int ssync_lzxpress_decompress(const unsigned char *in, size_t len, unsigned char *out,
                              size_t out_len)
{
    size_t ip = 0, op = 0;
    uint32_t flags = 0;
    int nflags = 0;
    size_t half = SIZE_MAX; /* a length byte whose upper half is still unread */
    while (op < out_len) {
        if (nflags == 0) {
            if (len - ip < 4)
                return -1;
            flags = rd32(in + ip);
            ip += 4;
            nflags = 32;
        }
        nflags--;
        if (!(flags & (1u << nflags))) {
            if (ip >= len)
                return -1;
            out[op++] = in[ip++];
            continue;
        }
        if (len - ip < 2)
            return -1;
        uint32_t token = rd16(in + ip);
        ip += 2;
        size_t ml = token & 7, off = (token >> 3) + 1;
        if (ml == 7) {
            if (half == SIZE_MAX) {
                if (ip >= len)
                    return -1;
                ml = in[ip] & 15;
                half = ip++;
            } else {
                ml = in[half] >> 4;
                half = SIZE_MAX;
            }
            if (ml == 15) {
                if (ip >= len)
                    return -1;
                ml = in[ip++];
                if (ml == 255) {
                    if (len - ip < 2)
                        return -1;
                    ml = rd16(in + ip);
                    ip += 2;
                    if (ml == 0) {
                        if (len - ip < 4)
                            return -1;
                        ml = rd32(in + ip);
                        ip += 4;
                    }
                    if (ml < 15 + 7)
                        return -1;
                    ml -= 15 + 7;
                }
                ml += 15;
            }
            ml += 7;
        }
        ml += 3;
        if (off > op || ml > out_len - op)
            return -1;
        for (size_t k = 0; k < ml; k++, op++) /* overlapping copies repeat the pattern */
            out[op] = out[op - off];
    }
    return 0;
}

ssync_code ssync_edb_decompress(const unsigned char *in, size_t len, unsigned char **out,
                                size_t *out_len, ssync_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (!len)
        return ssync_fail(err, SSYNC_ERR_EDB, "compressed value is empty");
    if (in[0] != ESE_COMPRESS_XPRESS)
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "compressed with method 0x%02x (only LZXPRESS, 0x18, is supported)",
                          in[0]);
    if (len < 3)
        return ssync_fail(err, SSYNC_ERR_EDB, "truncated LZXPRESS value");
    size_t n = rd16(in + 1);
    unsigned char *p = malloc(n ? n : 1);
    if (!p)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    if (ssync_lzxpress_decompress(in + 3, len - 3, p, n) != 0) {
        free(p);
        return ssync_fail(err, SSYNC_ERR_EDB, "corrupt LZXPRESS data");
    }
    *out = p;
    *out_len = n;
    return SSYNC_OK;
}
