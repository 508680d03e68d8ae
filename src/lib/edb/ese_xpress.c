/* Compressed ESE values (a value kept in the record with the compressed flag, or one chunk of a
 * separated long value), decompressed by the CA database reader: the first byte names the scheme;
 * 0x18 is LZXPRESS in its plain LZ77 form (MS-XCA section 2.3, decompression as in section 2.4),
 * 0x08-0x0f and 0x10-0x17 the 7-bit ASCII and Unicode packings. */
#include "edb/edb.h"

#include <stdlib.h>
#include <string.h>

/* the scheme: the first byte's top 5 bits (ESE source, compression.hxx COMPRESSION_SCHEME) */
enum {
    ESE_SCHEME_7BIT_ASCII = 1,
    ESE_SCHEME_7BIT_UNICODE = 2,
    ESE_SCHEME_XPRESS = 3, /* 0x18 */
    ESE_SCHEME_XPRESS9 = 5,
    ESE_SCHEME_XPRESS10 = 6,
};

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

/* The 7-bit schemes (Microsoft's ESE source, compression.cxx, ErrDecompress7Bit*): after the
 * scheme byte, 7-bit units packed least significant bit first; the scheme byte's low 3 bits + 1
 * are the bits used in the last byte. ASCII units are bytes, Unicode units UTF-16LE code units. */
static ssync_code sevenbit(const unsigned char *in, size_t len, int wide, unsigned char **out,
                           size_t *out_len, ssync_error *err)
{
    if (len < 2)
        return ssync_fail(err, SSYNC_ERR_EDB, "truncated 7-bit value");
    size_t bits = (len - 2) * 8 + (size_t)(in[0] & 7) + 1;
    if (bits % 7)
        return ssync_fail(err, SSYNC_ERR_EDB, "7-bit value of %zu bits (not a multiple of 7)",
                          bits);
    size_t n = bits / 7, size = wide ? 2 * n : n;
    unsigned char *p = malloc(size ? size : 1);
    if (!p)
        return ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
    uint32_t acc = 0;
    int have = 0;
    size_t ip = 1;
    for (size_t k = 0; k < n; k++) {
        while (have < 7) {
            acc |= (uint32_t)in[ip++] << have;
            have += 8;
        }
        unsigned char c = (unsigned char)(acc & 0x7f);
        acc >>= 7;
        have -= 7;
        if (wide) {
            p[2 * k] = c;
            p[2 * k + 1] = 0;
        } else {
            p[k] = c;
        }
    }
    *out = p;
    *out_len = size;
    return SSYNC_OK;
}

ssync_code ssync_edb_decompress(const unsigned char *in, size_t len, unsigned char **out,
                                size_t *out_len, ssync_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (!len)
        return ssync_fail(err, SSYNC_ERR_EDB, "compressed value is empty");
    switch (in[0] >> 3) {
    case ESE_SCHEME_7BIT_ASCII:
        return sevenbit(in, len, 0, out, out_len, err);
    case ESE_SCHEME_7BIT_UNICODE:
        return sevenbit(in, len, 1, out, out_len, err);
    case ESE_SCHEME_XPRESS:
        break;
    default:
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "compressed with scheme byte 0x%02x (%s; this reader knows 7-bit "
                          "ASCII, 7-bit Unicode and LZXPRESS)",
                          in[0],
                          (in[0] >> 3) == ESE_SCHEME_XPRESS9    ? "XPRESS9"
                          : (in[0] >> 3) == ESE_SCHEME_XPRESS10 ? "XPRESS10"
                                                                : "unknown scheme");
    }
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
