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
    for (size_t i = 0; i < v->nitems; i++)
        ssync_edb_value_clear(&v->items[i]);
    free(v->items);
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
    if (ssync_edb_filetime_to_time(u, t) == 0)
        return 0;
    double d;
    memcpy(&d, &u, sizeof d);
    /* OLE dates reach back to 0100-01-01 (day -657434) */
    if (!isfinite(d) || d == 0.0 || d < -657434.0 || d >= 2958466.0)
        return -1;
    double secs = (d - EDB_OLE_UNIX) * 86400.0;
    *t = (time_t)(secs < 0 ? secs - 0.5 : secs + 0.5);
    return 0;
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

/* Windows-1252's 0x80..0x9f (the rest of the high half is Latin-1); 0 = unassigned */
static const uint16_t cp1252_high[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017d, 0,      0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

char *ssync_edb_cp1252_to_utf8(const unsigned char *p, size_t len)
{
    char *out = malloc(3 * len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len && p[i]; i++) {
        uint32_t c = p[i];
        if (c >= 0x80 && c < 0xa0)
            c = cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : 0xfffd;
        if (c < 0x80) {
            *o++ = (char)c;
        } else if (c < 0x800) {
            *o++ = (char)(0xc0 | c >> 6);
            *o++ = (char)(0x80 | (c & 0x3f));
        } else {
            *o++ = (char)(0xe0 | c >> 12);
            *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *o = '\0';
    return out;
}

static size_t fixed_size(uint32_t coltyp)
{
    switch (coltyp) {
    case SSYNC_COLTYP_BIT:
    case SSYNC_COLTYP_UNSIGNED_BYTE:
        return 1;
    case SSYNC_COLTYP_SHORT:
    case SSYNC_COLTYP_UNSIGNED_SHORT:
        return 2;
    case SSYNC_COLTYP_LONG:
    case SSYNC_COLTYP_UNSIGNED_LONG:
    case SSYNC_COLTYP_IEEE_SINGLE:
        return 4;
    case SSYNC_COLTYP_CURRENCY:
    case SSYNC_COLTYP_LONG_LONG:
    case SSYNC_COLTYP_IEEE_DOUBLE:
    case SSYNC_COLTYP_DATETIME:
        return 8;
    default:
        return 0;
    }
}

ssync_code ssync_edb_decode_value(uint32_t coltyp, uint32_t codepage, unsigned char *data,
                                  size_t len, ssync_edb_value *v, ssync_error *err)
{
    memset(v, 0, sizeof *v);
    size_t want = fixed_size(coltyp);
    if (want && len != want) {
        free(data);
        return ssync_fail(err, SSYNC_ERR_EDB,
                          "a value of %zu bytes in a column of type %u (%zu "
                          "expected)",
                          len, coltyp, want);
    }
    uint64_t u = 0;
    for (size_t k = want; k > 0; k--)
        u = (u << 8) | data[k - 1];
    ssync_code rc = SSYNC_OK;
    switch (coltyp) {
    case SSYNC_COLTYP_BIT:
        v->kind = SSYNC_EDB_INT;
        v->i = u != 0; /* ESE stores true as 0xff */
        break;
    case SSYNC_COLTYP_SHORT:
        v->kind = SSYNC_EDB_INT;
        v->i = (int16_t)(uint16_t)u;
        break;
    case SSYNC_COLTYP_LONG:
        v->kind = SSYNC_EDB_INT;
        v->i = (int32_t)(uint32_t)u;
        break;
    case SSYNC_COLTYP_UNSIGNED_BYTE:
    case SSYNC_COLTYP_UNSIGNED_SHORT:
    case SSYNC_COLTYP_UNSIGNED_LONG:
    case SSYNC_COLTYP_CURRENCY:
    case SSYNC_COLTYP_LONG_LONG:
        v->kind = SSYNC_EDB_INT;
        v->i = (long long)u;
        break;
    case SSYNC_COLTYP_IEEE_SINGLE: {
        uint32_t w = (uint32_t)u;
        float f;
        memcpy(&f, &w, sizeof f);
        v->kind = SSYNC_EDB_REAL;
        v->d = f;
        break;
    }
    case SSYNC_COLTYP_IEEE_DOUBLE:
        v->kind = SSYNC_EDB_REAL;
        memcpy(&v->d, &u, sizeof v->d);
        break;
    case SSYNC_COLTYP_DATETIME:
        if (ssync_edb_decode_datetime(data, &v->t) == 0)
            v->kind = SSYNC_EDB_DATE;
        /* else: zero or no plausible date: NULL */
        break;
    case SSYNC_COLTYP_TEXT:
    case SSYNC_COLTYP_LONG_TEXT:
        v->kind = SSYNC_EDB_TEXT;
        v->text = codepage == 1200 ? ssync_edb_utf16_to_utf8(data, len)
                                   : ssync_edb_cp1252_to_utf8(data, len);
        if (!v->text)
            rc = ssync_fail(err, SSYNC_ERR_NOMEM, NULL);
        break;
    default: /* binary, long binary, GUID and the rest: the bytes */
        v->kind = SSYNC_EDB_BINARY;
        v->data = data;
        v->len = len;
        return SSYNC_OK;
    }
    free(data);
    if (rc != SSYNC_OK)
        ssync_edb_value_clear(v);
    return rc;
}
