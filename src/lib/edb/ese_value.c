/* Decoding of CA database values: dates in both encodings met in the wild, UTF-16 text. */
#include "edb/edb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* 1601-01-01 .. 9999-12-31 in seconds around the Unix epoch */
#define EDB_MIN_TIME (-11644473600LL)
#define EDB_MAX_TIME 253402300799LL
#define EDB_FILETIME_UNIX 116444736000000000ULL /* 1970-01-01 as a FILETIME */
#define EDB_OLE_UNIX 25569.0                    /* 1970-01-01 as an OLE date */

void ssync_edb_value_clear(ssync_edb_value *v)
{
    if (!v)
        return;
    free(v->text);
    free(v->data);
    memset(v, 0, sizeof *v);
}

int ssync_edb_filetime_to_time(uint64_t ft, time_t *t)
{
    if (ft == 0 || ft > (uint64_t)(EDB_MAX_TIME - EDB_MIN_TIME) * 10000000ULL)
        return -1;
    *t = (time_t)((long long)(ft / 10000000ULL) + EDB_MIN_TIME);
    return 0;
}

int ssync_edb_ole_to_time(double d, time_t *t)
{
    /* OLE dates: day 2 is 1900-01-01; -657434 is 0100-01-01. Accept 1601..9999. */
    if (!isfinite(d) || d == 0.0)
        return -1;
    double secs = (d - EDB_OLE_UNIX) * 86400.0;
    if (secs < (double)EDB_MIN_TIME || secs > (double)EDB_MAX_TIME)
        return -1;
    *t = (time_t)(secs < 0 ? secs - 0.5 : secs + 0.5);
    return 0;
}

int ssync_edb_decode_datetime(const unsigned char raw[8], time_t *t)
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | raw[i];
    if (u == 0)
        return -1;
    /* A date as a double has a large exponent (0x40e.. for today); the same bits read as a
     * FILETIME lie after the year 9999, and a FILETIME read as a double is a tiny number far
     * below any plausible OLE date. So at most one reading is a date. */
    double d;
    memcpy(&d, &u, sizeof d);
    if (isfinite(d) && (d >= 1.0 || d <= -1.0) && ssync_edb_ole_to_time(d, t) == 0)
        return 0;
    return ssync_edb_filetime_to_time(u, t);
}

char *ssync_edb_utf16_to_utf8(const unsigned char *p, size_t len)
{
    size_t n = len / 2;
    char *out = malloc(3 * n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
            uint32_t lo = (uint32_t)p[2 * i + 2] | (uint32_t)p[2 * i + 3] << 8;
            if (lo >= 0xdc00 && lo < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                i++;
            } else {
                c = 0xfffd;
            }
        } else if (c >= 0xd800 && c < 0xe000) {
            c = 0xfffd;
        }
        if (c == 0) /* a terminating NUL some writers include */
            break;
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xc0 | c >> 6);
            *o++ = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            *o++ = (char)(0xe0 | c >> 12);
            *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        } else {
            *o++ = (char)(0xf0 | c >> 18);
            *o++ = (char)(0x80 | ((c >> 12) & 0x3f));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *o = '\0';
    return out;
}
